//! NFLOG (`nfnetlink_log`) messages: the packet the kernel sends and the configuration
//! message a program sends.

use core::mem::{offset_of, size_of};
use std::borrow::Cow;

use super::uapi as sys;

use super::attr::shared_readers;
use super::attr::{
    ATTRS_START, Attr, AttrIter, AttrTable, Checks, HwAddr, NLA_F_NESTED, RawAttr, Timestamp, Vlan,
    be16, be32, exact,
};
use super::ct::{Conntrack, CtState};
use super::error::{Space, WireError};
use super::netlink::{
    Emit, NfHeader, NlMsg, Writer, be_u16, be_u32, byte, counted, emitted, nfnl_msg_type, put_at,
};
use super::queue::{
    HW_LEN, TS_LEN, hw_addr_slice, hw_bytes, parse_hw, parse_ts, ts_bytes, write_ifindexes,
};

const S: Space = Space::Log;

/// `NFULA_*` attribute types (from [`uapi`](super::uapi)).
#[allow(missing_docs)]
pub mod attr {
    use super::super::uapi as sys;
    pub const PACKET_HDR: u16 = sys::NFULA_PACKET_HDR as u16;
    pub const MARK: u16 = sys::NFULA_MARK as u16;
    pub const TIMESTAMP: u16 = sys::NFULA_TIMESTAMP as u16;
    pub const IFINDEX_INDEV: u16 = sys::NFULA_IFINDEX_INDEV as u16;
    pub const IFINDEX_OUTDEV: u16 = sys::NFULA_IFINDEX_OUTDEV as u16;
    pub const IFINDEX_PHYSINDEV: u16 = sys::NFULA_IFINDEX_PHYSINDEV as u16;
    pub const IFINDEX_PHYSOUTDEV: u16 = sys::NFULA_IFINDEX_PHYSOUTDEV as u16;
    pub const HWADDR: u16 = sys::NFULA_HWADDR as u16;
    pub const PAYLOAD: u16 = sys::NFULA_PAYLOAD as u16;
    pub const PREFIX: u16 = sys::NFULA_PREFIX as u16;
    pub const UID: u16 = sys::NFULA_UID as u16;
    pub const SEQ: u16 = sys::NFULA_SEQ as u16;
    pub const SEQ_GLOBAL: u16 = sys::NFULA_SEQ_GLOBAL as u16;
    pub const GID: u16 = sys::NFULA_GID as u16;
    pub const HWTYPE: u16 = sys::NFULA_HWTYPE as u16;
    pub const HWHEADER: u16 = sys::NFULA_HWHEADER as u16;
    pub const HWLEN: u16 = sys::NFULA_HWLEN as u16;
    pub const CT: u16 = sys::NFULA_CT as u16;
    pub const CT_INFO: u16 = sys::NFULA_CT_INFO as u16;
    pub const VLAN: u16 = sys::NFULA_VLAN as u16;
    pub const L2HDR: u16 = sys::NFULA_L2HDR as u16;
    pub const VLAN_PROTO: u16 = sys::NFULA_VLAN_PROTO as u16;
    pub const VLAN_TCI: u16 = sys::NFULA_VLAN_TCI as u16;
    pub const CFG_CMD: u16 = sys::NFULA_CFG_CMD as u16;
    pub const CFG_MODE: u16 = sys::NFULA_CFG_MODE as u16;
    pub const CFG_NLBUFSIZ: u16 = sys::NFULA_CFG_NLBUFSIZ as u16;
    pub const CFG_TIMEOUT: u16 = sys::NFULA_CFG_TIMEOUT as u16;
    pub const CFG_QTHRESH: u16 = sys::NFULA_CFG_QTHRESH as u16;
    pub const CFG_FLAGS: u16 = sys::NFULA_CFG_FLAGS as u16;
}
use attr::*;

const PKT_HDR_LEN: usize = size_of::<sys::nfulnl_msg_packet_hdr>();
const CMD_LEN: usize = size_of::<sys::nfulnl_msg_config_cmd>();
const MODE_LEN: usize = size_of::<sys::nfulnl_msg_config_mode>();

fn owned(c: Option<Cow<'_, [u8]>>) -> Option<Cow<'static, [u8]>> {
    c.map(|c| Cow::Owned(c.into_owned()))
}

/// `struct nfulnl_msg_packet_hdr`: link-layer protocol and hook.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct LogPacketHdr {
    /// `hw_protocol`: the ethertype, host order here.
    pub hw_protocol: u16,
    /// `hook`: the netfilter hook.
    pub hook: u8,
}

/// An NFLOG packet message (`NFULNL_MSG_PACKET`), every attribute the kernel sends.
///
/// [`Emit`] writes the attributes in the order `__build_packet_message` does; the payload is
/// last and padded with zeros (its padding counts in `nlmsg_len`, unlike NFQUEUE's).
/// `prefix` holds the prefix without the NUL that terminates it on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct LogPacket<'a> {
    /// Header fields (`res_id` is the group number).
    pub header: NfHeader,
    /// `NFULA_PACKET_HDR` (required).
    pub packet_hdr: LogPacketHdr,
    /// `NFULA_MARK` (omitted by the kernel when 0).
    pub mark: Option<u32>,
    /// `NFULA_TIMESTAMP` (sent for hooks up to FORWARD).
    pub timestamp: Option<Timestamp>,
    /// `NFULA_IFINDEX_INDEV`.
    pub indev: Option<u32>,
    /// `NFULA_IFINDEX_OUTDEV`.
    pub outdev: Option<u32>,
    /// `NFULA_IFINDEX_PHYSINDEV`.
    pub physindev: Option<u32>,
    /// `NFULA_IFINDEX_PHYSOUTDEV`.
    pub physoutdev: Option<u32>,
    /// `NFULA_HWADDR`.
    pub hw_addr: Option<HwAddr>,
    /// `NFULA_PAYLOAD`.
    pub payload: Option<Cow<'a, [u8]>>,
    /// `NFULA_PREFIX`, without its terminating NUL.
    pub prefix: Option<Cow<'a, [u8]>>,
    /// `NFULA_UID`.
    pub uid: Option<u32>,
    /// `NFULA_GID`.
    pub gid: Option<u32>,
    /// `NFULA_SEQ`: the per-group sequence number (flag `NFULNL_CFG_F_SEQ`).
    pub seq: Option<u32>,
    /// `NFULA_SEQ_GLOBAL`: the per-namespace sequence number (flag `NFULNL_CFG_F_SEQ_GLOBAL`).
    pub seq_global: Option<u32>,
    /// `NFULA_HWTYPE`: the device type (`ARPHRD_*`).
    pub hw_type: Option<u16>,
    /// `NFULA_HWHEADER`: the link-layer header.
    pub hw_header: Option<Cow<'a, [u8]>>,
    /// `NFULA_HWLEN`: the device's hard header length.
    pub hw_len: Option<u16>,
    /// `NFULA_CT`: the conntrack nest, raw.
    pub ct: Option<Cow<'a, [u8]>>,
    /// `NFULA_CT_INFO`.
    pub ct_info: Option<u32>,
    /// `NFULA_VLAN` (bridge and netdev families).
    pub vlan: Option<Vlan>,
    /// `NFULA_L2HDR` (bridge and netdev families).
    pub l2hdr: Option<Cow<'a, [u8]>>,
    /// Attributes not listed above, in order.
    pub unknown: Vec<RawAttr<'a>>,
}

impl<'a> LogPacket<'a> {
    /// `nlmsg_type` of a log packet message.
    pub const MSG_TYPE: u16 = nfnl_msg_type(sys::NFNL_SUBSYS_ULOG, sys::NFULNL_MSG_PACKET);

    /// Parses an NFLOG packet message.
    ///
    /// # Errors
    /// As [`LogAttrs::locate`].
    pub fn parse(msg: &NlMsg<'a>) -> Result<Self, WireError> {
        let attrs = LogAttrs::locate(msg)?;
        let m = msg.as_bytes();
        let cow = |b: Option<&'a [u8]>| b.map(Cow::Borrowed);
        Ok(LogPacket {
            header: attrs.header(m),
            packet_hdr: attrs.packet_hdr(m),
            mark: attrs.mark(m),
            timestamp: attrs.timestamp(m),
            indev: attrs.indev(m),
            outdev: attrs.outdev(m),
            physindev: attrs.physindev(m),
            physoutdev: attrs.physoutdev(m),
            hw_addr: attrs.hw_addr(m),
            payload: cow(attrs.payload(m)),
            prefix: cow(attrs.prefix(m)),
            uid: attrs.uid(m),
            gid: attrs.gid(m),
            seq: attrs.seq(m),
            seq_global: attrs.seq_global(m),
            hw_type: attrs.hw_type(m),
            hw_header: cow(attrs.hw_header(m)),
            hw_len: attrs.hw_len(m),
            ct: cow(attrs.ct(m)),
            ct_info: attrs.ct_info(m),
            vlan: attrs.vlan(m),
            l2hdr: cow(attrs.l2hdr(m)),
            unknown: attrs.unknown(m).map(|a| a.to_raw()).collect(),
        })
    }

    /// Parses a buffer whose first message is a log packet.
    ///
    /// # Errors
    /// As [`NlMsg::new_checked`] and [`parse`](Self::parse).
    pub fn parse_bytes(buf: &'a [u8]) -> Result<Self, WireError> {
        Self::parse(&NlMsg::new_checked(buf)?)
    }

    /// A copy that owns all its data.
    #[must_use]
    pub fn into_owned(self) -> LogPacket<'static> {
        LogPacket {
            payload: owned(self.payload),
            prefix: owned(self.prefix),
            hw_header: owned(self.hw_header),
            ct: owned(self.ct),
            l2hdr: owned(self.l2hdr),
            unknown: self.unknown.into_iter().map(RawAttr::into_owned).collect(),
            header: self.header,
            packet_hdr: self.packet_hdr,
            mark: self.mark,
            timestamp: self.timestamp,
            indev: self.indev,
            outdev: self.outdev,
            physindev: self.physindev,
            physoutdev: self.physoutdev,
            hw_addr: self.hw_addr,
            uid: self.uid,
            gid: self.gid,
            seq: self.seq,
            seq_global: self.seq_global,
            hw_type: self.hw_type,
            hw_len: self.hw_len,
            ct_info: self.ct_info,
            vlan: self.vlan,
        }
    }

    fn write(&self, w: &mut Writer<'_>) {
        w.nf_message(Self::MSG_TYPE, &self.header, |w| {
            let mut hdr = [0u8; PKT_HDR_LEN];
            put_at(
                &mut hdr,
                offset_of!(sys::nfulnl_msg_packet_hdr, hw_protocol),
                &self.packet_hdr.hw_protocol.to_be_bytes(),
            );
            put_at(
                &mut hdr,
                offset_of!(sys::nfulnl_msg_packet_hdr, hook),
                &[self.packet_hdr.hook],
            );
            w.attr(PACKET_HDR, &hdr);
            if let Some(prefix) = self.prefix.as_deref() {
                // nla_put(skb, NFULA_PREFIX, strlen(prefix) + 1, prefix): the NUL is counted.
                w.attr_parts(PREFIX, &[prefix, &[0]]);
            }
            let fam = self.header.family;
            write_ifindexes(
                w,
                fam,
                (self.indev, IFINDEX_INDEV),
                (self.physindev, IFINDEX_PHYSINDEV),
            );
            write_ifindexes(
                w,
                fam,
                (self.outdev, IFINDEX_OUTDEV),
                (self.physoutdev, IFINDEX_PHYSOUTDEV),
            );
            if let Some(v) = self.mark {
                w.attr_u32(MARK, v);
            }
            if let Some(hw) = &self.hw_addr {
                w.attr(HWADDR, &hw_bytes(hw));
            }
            if let Some(v) = self.hw_type {
                w.attr_u16(HWTYPE, v);
            }
            if let Some(v) = self.hw_len {
                w.attr_u16(HWLEN, v);
            }
            if let Some(v) = self.hw_header.as_deref() {
                w.attr(HWHEADER, v);
            }
            if let Some(ts) = &self.timestamp {
                w.attr(TIMESTAMP, &ts_bytes(ts));
            }
            if let Some(v) = self.uid {
                w.attr_u32(UID, v);
            }
            if let Some(v) = self.gid {
                w.attr_u32(GID, v);
            }
            if let Some(v) = self.seq {
                w.attr_u32(SEQ, v);
            }
            if let Some(v) = self.seq_global {
                w.attr_u32(SEQ_GLOBAL, v);
            }
            if let Some(v) = self.ct.as_deref() {
                w.nest(CT | NLA_F_NESTED, |w| w.bytes(v));
            }
            if let Some(v) = self.ct_info {
                w.attr_u32(CT_INFO, v);
            }
            if let Some(v) = &self.vlan {
                v.write(w, VLAN, VLAN_PROTO, VLAN_TCI);
            }
            if let Some(v) = self.l2hdr.as_deref() {
                w.attr(L2HDR, v);
            }
            for a in &self.unknown {
                a.write(w);
            }
            if let Some(v) = self.payload.as_deref() {
                w.attr(PAYLOAD, v);
            }
        });
    }
}

impl Emit for LogPacket<'_> {
    fn buffer_len(&self) -> usize {
        counted(|w| self.write(w))
    }

    fn emit(&self, out: &mut Vec<u8>) -> Result<(), WireError> {
        emitted(out, |w| self.write(w))
    }
}

/// `struct nfulnl_msg_config_mode`: copy mode and range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct LogMode {
    /// `copy_range`, host order here.
    pub copy_range: u32,
    /// `copy_mode`: `NFULNL_COPY_NONE` (0), `_META` (1), `_PACKET` (2).
    pub copy_mode: u8,
}

/// Attribute types [`LogAttrs`] locates: every `NFULA_*` of a packet message it reads.
const LOG_TYPES: usize = L2HDR as usize + 1;

/// An NFLOG packet message located, not copied: its header, and where each attribute is, every
/// one checked as [`LogPacket::parse`] checks it (that parse is built on this). The readers
/// take the message's bytes ([`NlMsg::as_bytes`]) again and decode one attribute each; given
/// other bytes they return nonsense or `None`, never panic.
///
/// This is what a receive loop keeps per message (`netfilter`'s `LogPacket` keeps it beside
/// the datagram): small, `Copy`, made in one walk over the attributes.
///
/// ```
/// use netfilter_safe::wire::{LogAttrs, LogPacket, NlMsg};
///
/// # fn main() -> Result<(), netfilter_safe::wire::WireError> {
/// let mut packet = LogPacket::default();
/// packet.header.res_id = 3;
/// packet.mark = Some(7);
/// packet.prefix = Some(b"in".as_slice().into());
/// let bytes = netfilter_safe::wire::Emit::to_bytes(&packet)?;
/// let msg = NlMsg::new_checked(&bytes)?;
/// let attrs = LogAttrs::locate(&msg)?;
/// assert_eq!(attrs.header(&bytes).res_id, 3);
/// assert_eq!(attrs.mark(&bytes), Some(7));
/// assert_eq!(attrs.prefix(&bytes), Some(b"in".as_slice()));
/// assert_eq!(attrs.payload(&bytes), None);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogAttrs {
    table: AttrTable<LOG_TYPES>,
}

impl LogAttrs {
    /// Checks an NFLOG packet message and locates its attributes.
    ///
    /// # Errors
    /// [`WireError::UnexpectedMessage`] for another message type; [`WireError::Truncated`] /
    /// [`WireError::BadLength`] for broken framing; [`WireError::BadAttribute`] for a value of
    /// the wrong size or a prefix without its NUL; [`WireError::MissingAttribute`] without
    /// `NFULA_PACKET_HDR` or with an incomplete VLAN nest.
    #[inline]
    pub fn locate(msg: &NlMsg<'_>) -> Result<LogAttrs, WireError> {
        let mut attrs = LogAttrs::EMPTY;
        attrs.relocate(msg)?;
        Ok(attrs)
    }

    /// A table that locates nothing: every reader returns `None` (or zeros), whatever the
    /// bytes; [`LogAttrs::relocate`] fills it.
    pub const EMPTY: LogAttrs = LogAttrs {
        table: AttrTable::EMPTY,
    };

    /// As [`LogAttrs::locate`], into `self`, which afterwards locates `msg`'s attributes (or,
    /// after an error, nothing). What a receive loop calls on the table of the packet it
    /// hands out, made in place: a table returned by value and moved costs a store-forwarding
    /// stall per message.
    ///
    /// # Errors
    /// As [`LogAttrs::locate`].
    #[inline]
    pub fn relocate(&mut self, msg: &NlMsg<'_>) -> Result<(), WireError> {
        let located =
            self.table
                .fill_packet(msg, LogPacket::MSG_TYPE, S, PACKET_HDR, CHECKS, check_attr);
        if located.is_err() {
            *self = LogAttrs::EMPTY;
        }
        located
    }

    /// Header fields (`res_id` is the group number).
    #[inline]
    #[must_use]
    pub fn header(&self, msg: &[u8]) -> NfHeader {
        NfHeader::read(msg)
    }

    /// `NFULA_PACKET_HDR` (checked and always there in a located message; zeros in
    /// [`LogAttrs::EMPTY`]).
    #[inline]
    #[must_use]
    pub fn packet_hdr(&self, msg: &[u8]) -> LogPacketHdr {
        let Some(hdr) = self.table.get(msg, PACKET_HDR) else {
            return LogPacketHdr::default();
        };
        let b = hdr.value();
        LogPacketHdr {
            hw_protocol: be_u16(b, offset_of!(sys::nfulnl_msg_packet_hdr, hw_protocol)),
            hook: byte(b, offset_of!(sys::nfulnl_msg_packet_hdr, hook)),
        }
    }

    shared_readers!("NFULA_", Space::LogVlan);

    #[inline]
    fn u16(&self, msg: &[u8], kind: u16) -> Option<u16> {
        be16(S, &self.table.get(msg, kind)?).ok()
    }

    /// `NFULA_PREFIX`, without its terminating NUL.
    #[inline]
    #[must_use]
    pub fn prefix<'m>(&self, msg: &'m [u8]) -> Option<&'m [u8]> {
        prefix_text(&self.table.get(msg, PREFIX)?).ok()
    }

    /// `NFULA_SEQ`.
    #[inline]
    #[must_use]
    pub fn seq(&self, msg: &[u8]) -> Option<u32> {
        self.u32(msg, SEQ)
    }

    /// `NFULA_SEQ_GLOBAL`.
    #[inline]
    #[must_use]
    pub fn seq_global(&self, msg: &[u8]) -> Option<u32> {
        self.u32(msg, SEQ_GLOBAL)
    }

    /// `NFULA_HWTYPE`.
    #[inline]
    #[must_use]
    pub fn hw_type(&self, msg: &[u8]) -> Option<u16> {
        self.u16(msg, HWTYPE)
    }

    /// `NFULA_HWHEADER`.
    #[inline]
    #[must_use]
    pub fn hw_header<'m>(&self, msg: &'m [u8]) -> Option<&'m [u8]> {
        self.value(msg, HWHEADER)
    }

    /// `NFULA_HWLEN`.
    #[inline]
    #[must_use]
    pub fn hw_len(&self, msg: &[u8]) -> Option<u16> {
        self.u16(msg, HWLEN)
    }
}

/// Whether [`LogAttrs`] has a reader for attribute type `kind`.
fn known_attr(kind: u16) -> bool {
    matches!(
        kind,
        PACKET_HDR
            | MARK
            | TIMESTAMP
            | IFINDEX_INDEV
            | IFINDEX_OUTDEV
            | IFINDEX_PHYSINDEV
            | IFINDEX_PHYSOUTDEV
            | HWADDR
            | PAYLOAD
            | PREFIX
            | UID
            | GID
            | SEQ
            | SEQ_GLOBAL
            | HWTYPE
            | HWHEADER
            | HWLEN
            | CT
            | CT_INFO
            | VLAN
            | L2HDR
    )
}

/// How [`LogAttrs::locate`] checks each attribute type (`CT`, `PAYLOAD` and the headers: any
/// length).
const CHECKS: Checks = Checks::NONE
    .len(PACKET_HDR, PKT_HDR_LEN)
    .len(TIMESTAMP, TS_LEN)
    .len(HWADDR, HW_LEN)
    .len(HWTYPE, 2)
    .len(HWLEN, 2)
    .len(MARK, 4)
    .len(IFINDEX_INDEV, 4)
    .len(IFINDEX_OUTDEV, 4)
    .len(IFINDEX_PHYSINDEV, 4)
    .len(IFINDEX_PHYSOUTDEV, 4)
    .len(UID, 4)
    .len(GID, 4)
    .len(SEQ, 4)
    .len(SEQ_GLOBAL, 4)
    .len(CT_INFO, 4)
    .custom(PREFIX)
    .custom(VLAN);

/// The attributes [`CHECKS`] leaves to their own check.
fn check_attr(a: &Attr<'_>) -> Result<(), WireError> {
    match a.kind() {
        PREFIX => prefix_text(a).map(drop),
        VLAN => Vlan::parse(a, Space::LogVlan, VLAN_PROTO, VLAN_TCI).map(drop),
        _ => Ok(()),
    }
}

/// A prefix's text: the value without the NUL that must end it.
fn prefix_text<'m>(a: &Attr<'m>) -> Result<&'m [u8], WireError> {
    match a.value().split_last() {
        Some((0, text)) => Ok(text),
        _ => Err(WireError::BadAttribute {
            space: S,
            kind: PREFIX,
            len: a.value().len(),
        }),
    }
}

/// A log configuration message (`NFULNL_MSG_CONFIG`), as a program sends it.
///
/// [`Emit`] writes `CMD`, `MODE`, `NLBUFSIZ`, `TIMEOUT`, `QTHRESH`, `FLAGS`, then the
/// unknown attributes.
///
/// ```
/// use netfilter_safe::wire::{Emit, LogConfig};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let mut config = LogConfig::default();
/// config.header.res_id = 5; // group 5
/// config.qthresh = Some(20);
/// config.timeout = Some(50); // hundredths of a second
/// let bytes = config.to_bytes()?;
/// let parsed = LogConfig::parse_bytes(&bytes)?;
/// assert_eq!((parsed.qthresh, parsed.timeout), (Some(20), Some(50)));
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct LogConfig<'a> {
    /// Header fields (`res_id` is the group number; `family` the protocol family for the PF
    /// commands).
    pub header: NfHeader,
    /// `NFULA_CFG_CMD`: `NFULNL_CFG_CMD_BIND` (1), `_UNBIND` (2), `_PF_BIND` (3),
    /// `_PF_UNBIND` (4).
    pub cmd: Option<u8>,
    /// `NFULA_CFG_MODE`.
    pub mode: Option<LogMode>,
    /// `NFULA_CFG_NLBUFSIZ`: the batch buffer size in bytes.
    pub nlbufsiz: Option<u32>,
    /// `NFULA_CFG_TIMEOUT`: flush timeout in 1/100 s.
    pub timeout: Option<u32>,
    /// `NFULA_CFG_QTHRESH`: messages per batch.
    pub qthresh: Option<u32>,
    /// `NFULA_CFG_FLAGS`: `NFULNL_CFG_F_*` (a 16-bit attribute).
    pub flags: Option<u16>,
    /// Other attributes, in order.
    pub unknown: Vec<RawAttr<'a>>,
}

impl<'a> LogConfig<'a> {
    /// A copy that owns all its data. Every field is listed (no `..`), so a new one cannot
    /// be forgotten here.
    #[must_use]
    pub fn into_owned(self) -> LogConfig<'static> {
        LogConfig {
            header: self.header,
            cmd: self.cmd,
            mode: self.mode,
            nlbufsiz: self.nlbufsiz,
            timeout: self.timeout,
            qthresh: self.qthresh,
            flags: self.flags,
            unknown: self.unknown.into_iter().map(RawAttr::into_owned).collect(),
        }
    }

    /// `nlmsg_type` of a log configuration message.
    pub const MSG_TYPE: u16 = nfnl_msg_type(sys::NFNL_SUBSYS_ULOG, sys::NFULNL_MSG_CONFIG);

    /// Parses a log configuration message.
    ///
    /// # Errors
    /// As [`LogPacket::parse`] (no attribute is required).
    pub fn parse(msg: &NlMsg<'a>) -> Result<Self, WireError> {
        const C: Space = Space::LogConfig;
        msg.expect_type(Self::MSG_TYPE)?;
        let (nfgen, attrs) = msg.nfnetlink()?;
        let mut c = LogConfig {
            header: NfHeader::from_parts(&msg.header(), &nfgen),
            ..Default::default()
        };
        for a in AttrIter::new(attrs) {
            let a = a?;
            match a.kind() {
                CFG_CMD => {
                    let b = exact::<CMD_LEN>(C, &a)?;
                    c.cmd = Some(byte(b, offset_of!(sys::nfulnl_msg_config_cmd, command)));
                }
                CFG_MODE => {
                    let b = exact::<MODE_LEN>(C, &a)?;
                    c.mode = Some(LogMode {
                        copy_range: be_u32(b, offset_of!(sys::nfulnl_msg_config_mode, copy_range)),
                        copy_mode: byte(b, offset_of!(sys::nfulnl_msg_config_mode, copy_mode)),
                    });
                }
                CFG_NLBUFSIZ => c.nlbufsiz = Some(be32(C, &a)?),
                CFG_TIMEOUT => c.timeout = Some(be32(C, &a)?),
                CFG_QTHRESH => c.qthresh = Some(be32(C, &a)?),
                CFG_FLAGS => c.flags = Some(be16(C, &a)?),
                _ => c.unknown.push(a.to_raw()),
            }
        }
        Ok(c)
    }

    /// Parses a buffer that holds one log configuration message.
    ///
    /// # Errors
    /// As [`parse`](Self::parse).
    pub fn parse_bytes(buf: &'a [u8]) -> Result<Self, WireError> {
        Self::parse(&NlMsg::new_checked(buf)?)
    }

    fn write(&self, w: &mut Writer<'_>) {
        w.nf_message(Self::MSG_TYPE, &self.header, |w| {
            if let Some(cmd) = self.cmd {
                let mut b = [0u8; CMD_LEN];
                put_at(
                    &mut b,
                    offset_of!(sys::nfulnl_msg_config_cmd, command),
                    &[cmd],
                );
                w.attr(CFG_CMD, &b);
            }
            if let Some(m) = &self.mode {
                let mut b = [0u8; MODE_LEN];
                put_at(
                    &mut b,
                    offset_of!(sys::nfulnl_msg_config_mode, copy_range),
                    &m.copy_range.to_be_bytes(),
                );
                put_at(
                    &mut b,
                    offset_of!(sys::nfulnl_msg_config_mode, copy_mode),
                    &[m.copy_mode],
                );
                w.attr(CFG_MODE, &b);
            }
            if let Some(v) = self.nlbufsiz {
                w.attr_u32(CFG_NLBUFSIZ, v);
            }
            if let Some(v) = self.timeout {
                w.attr_u32(CFG_TIMEOUT, v);
            }
            if let Some(v) = self.qthresh {
                w.attr_u32(CFG_QTHRESH, v);
            }
            if let Some(v) = self.flags {
                w.attr_u16(CFG_FLAGS, v);
            }
            for a in &self.unknown {
                a.write(w);
            }
        });
    }
}

impl Emit for LogConfig<'_> {
    fn buffer_len(&self) -> usize {
        counted(|w| self.write(w))
    }

    fn emit(&self, out: &mut Vec<u8>) -> Result<(), WireError> {
        emitted(out, |w| self.write(w))
    }
}
