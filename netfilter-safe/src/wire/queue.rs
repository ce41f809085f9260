//! NFQUEUE (`nfnetlink_queue`) messages: the packet the kernel sends, and the configuration,
//! verdict and batch-verdict messages a program sends.

use core::mem::{offset_of, size_of};
use std::borrow::Cow;

use super::uapi as sys;

use super::attr::shared_readers;
use super::attr::{
    ATTRS_START, Attr, AttrIter, AttrTable, Checks, HwAddr, NLA_F_NESTED, RawAttr, Timestamp, Vlan,
    be32, exact,
};
use super::ct::{Conntrack, CtState};
use super::error::{Space, WireError};
use super::netlink::{
    Emit, NfHeader, NlMsg, Writer, be_u16, be_u32, be_u64, byte, counted, emitted, nfnl_msg_type,
    put_at,
};

const S: Space = Space::Queue;

/// `NFQA_*` attribute types (from [`uapi`](super::uapi)).
#[allow(missing_docs)]
pub mod attr {
    use super::super::uapi as sys;
    pub const PACKET_HDR: u16 = sys::NFQA_PACKET_HDR as u16;
    pub const VERDICT_HDR: u16 = sys::NFQA_VERDICT_HDR as u16;
    pub const MARK: u16 = sys::NFQA_MARK as u16;
    pub const TIMESTAMP: u16 = sys::NFQA_TIMESTAMP as u16;
    pub const IFINDEX_INDEV: u16 = sys::NFQA_IFINDEX_INDEV as u16;
    pub const IFINDEX_OUTDEV: u16 = sys::NFQA_IFINDEX_OUTDEV as u16;
    pub const IFINDEX_PHYSINDEV: u16 = sys::NFQA_IFINDEX_PHYSINDEV as u16;
    pub const IFINDEX_PHYSOUTDEV: u16 = sys::NFQA_IFINDEX_PHYSOUTDEV as u16;
    pub const HWADDR: u16 = sys::NFQA_HWADDR as u16;
    pub const PAYLOAD: u16 = sys::NFQA_PAYLOAD as u16;
    pub const CT: u16 = sys::NFQA_CT as u16;
    pub const CT_INFO: u16 = sys::NFQA_CT_INFO as u16;
    pub const CAP_LEN: u16 = sys::NFQA_CAP_LEN as u16;
    pub const SKB_INFO: u16 = sys::NFQA_SKB_INFO as u16;
    pub const EXP: u16 = sys::NFQA_EXP as u16;
    pub const UID: u16 = sys::NFQA_UID as u16;
    pub const GID: u16 = sys::NFQA_GID as u16;
    pub const SECCTX: u16 = sys::NFQA_SECCTX as u16;
    pub const VLAN: u16 = sys::NFQA_VLAN as u16;
    pub const L2HDR: u16 = sys::NFQA_L2HDR as u16;
    pub const PRIORITY: u16 = sys::NFQA_PRIORITY as u16;
    pub const CGROUP_CLASSID: u16 = sys::NFQA_CGROUP_CLASSID as u16;
    pub const VLAN_PROTO: u16 = sys::NFQA_VLAN_PROTO as u16;
    pub const VLAN_TCI: u16 = sys::NFQA_VLAN_TCI as u16;
    pub const CFG_CMD: u16 = sys::NFQA_CFG_CMD as u16;
    pub const CFG_PARAMS: u16 = sys::NFQA_CFG_PARAMS as u16;
    pub const CFG_QUEUE_MAXLEN: u16 = sys::NFQA_CFG_QUEUE_MAXLEN as u16;
    pub const CFG_MASK: u16 = sys::NFQA_CFG_MASK as u16;
    pub const CFG_FLAGS: u16 = sys::NFQA_CFG_FLAGS as u16;
}
use attr::*;

/// `NFPROTO_BRIDGE`: in this family the kernel puts the physical interface before the bridge.
const NFPROTO_BRIDGE: u8 = libc::NFPROTO_BRIDGE as u8;

fn opt_bytes<'a>(o: &'a Option<Cow<'_, [u8]>>) -> Option<&'a [u8]> {
    o.as_deref()
}

/// `struct nfqnl_msg_packet_hdr`: the packet id, link-layer protocol and hook.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct QueuePacketHdr {
    /// `packet_id`: the id a verdict names, host order here.
    pub packet_id: u32,
    /// `hw_protocol`: the ethertype (0x0800 IPv4, 0x86dd IPv6), host order here.
    pub hw_protocol: u16,
    /// `hook`: the netfilter hook (`NF_INET_*`).
    pub hook: u8,
}

const PKT_HDR_LEN: usize = size_of::<sys::nfqnl_msg_packet_hdr>();
pub(crate) const HW_LEN: usize = size_of::<sys::nfqnl_msg_packet_hw>();
pub(crate) const TS_LEN: usize = size_of::<sys::nfqnl_msg_packet_timestamp>();
const VERDICT_HDR_LEN: usize = size_of::<sys::nfqnl_msg_verdict_hdr>();
const CMD_LEN: usize = size_of::<sys::nfqnl_msg_config_cmd>();
const PARAMS_LEN: usize = size_of::<sys::nfqnl_msg_config_params>();

impl QueuePacketHdr {
    fn parse(a: &Attr<'_>) -> Result<Self, WireError> {
        let b = exact::<PKT_HDR_LEN>(S, a)?;
        Ok(QueuePacketHdr {
            packet_id: be_u32(b, offset_of!(sys::nfqnl_msg_packet_hdr, packet_id)),
            hw_protocol: be_u16(b, offset_of!(sys::nfqnl_msg_packet_hdr, hw_protocol)),
            hook: byte(b, offset_of!(sys::nfqnl_msg_packet_hdr, hook)),
        })
    }

    fn to_bytes(self) -> [u8; PKT_HDR_LEN] {
        let mut b = [0u8; PKT_HDR_LEN];
        put_at(
            &mut b,
            offset_of!(sys::nfqnl_msg_packet_hdr, packet_id),
            &self.packet_id.to_be_bytes(),
        );
        put_at(
            &mut b,
            offset_of!(sys::nfqnl_msg_packet_hdr, hw_protocol),
            &self.hw_protocol.to_be_bytes(),
        );
        put_at(
            &mut b,
            offset_of!(sys::nfqnl_msg_packet_hdr, hook),
            &[self.hook],
        );
        b
    }
}

pub(crate) fn parse_hw(space: Space, a: &Attr<'_>) -> Result<HwAddr, WireError> {
    // nfqnl_msg_packet_hw and nfulnl_msg_packet_hw have the same layout.
    let b = exact::<HW_LEN>(space, a)?;
    let mut addr = [0u8; 8];
    let at = offset_of!(sys::nfqnl_msg_packet_hw, hw_addr);
    if let Some(s) = b.get(at..at + 8) {
        addr.copy_from_slice(s);
    }
    Ok(HwAddr {
        len: be_u16(b, offset_of!(sys::nfqnl_msg_packet_hw, hw_addrlen)),
        addr,
    })
}

/// The address bytes of a checked `NFQA_HWADDR` / `NFULA_HWADDR`: `hw_addrlen` of them (at
/// most 8), as they lie in the message.
pub(crate) fn hw_addr_slice<'m>(a: &Attr<'m>) -> Option<&'m [u8]> {
    let len = usize::from(parse_hw(S, a).ok()?.len).min(8);
    let at = offset_of!(sys::nfqnl_msg_packet_hw, hw_addr);
    a.value().get(at..at + len)
}

pub(crate) fn hw_bytes(hw: &HwAddr) -> [u8; HW_LEN] {
    let mut b = [0u8; HW_LEN];
    put_at(
        &mut b,
        offset_of!(sys::nfqnl_msg_packet_hw, hw_addrlen),
        &hw.len.to_be_bytes(),
    );
    put_at(
        &mut b,
        offset_of!(sys::nfqnl_msg_packet_hw, hw_addr),
        &hw.addr,
    );
    b
}

pub(crate) fn parse_ts(space: Space, a: &Attr<'_>) -> Result<Timestamp, WireError> {
    let b = exact::<TS_LEN>(space, a)?;
    Ok(Timestamp {
        sec: be_u64(b, offset_of!(sys::nfqnl_msg_packet_timestamp, sec)),
        usec: be_u64(b, offset_of!(sys::nfqnl_msg_packet_timestamp, usec)),
    })
}

pub(crate) fn ts_bytes(ts: &Timestamp) -> [u8; TS_LEN] {
    let mut b = [0u8; TS_LEN];
    put_at(
        &mut b,
        offset_of!(sys::nfqnl_msg_packet_timestamp, sec),
        &ts.sec.to_be_bytes(),
    );
    put_at(
        &mut b,
        offset_of!(sys::nfqnl_msg_packet_timestamp, usec),
        &ts.usec.to_be_bytes(),
    );
    b
}

/// Writes the interface indexes in the kernel's order: for the bridge family the physical
/// port comes before the bridge, for every other family after it.
pub(crate) fn write_ifindexes(
    w: &mut Writer<'_>,
    family: u8,
    (dev, dev_kind): (Option<u32>, u16),
    (phys, phys_kind): (Option<u32>, u16),
) {
    let dev = dev.map(|v| (dev_kind, v));
    let phys = phys.map(|v| (phys_kind, v));
    let order = if family == NFPROTO_BRIDGE {
        [phys, dev]
    } else {
        [dev, phys]
    };
    for (kind, v) in order.into_iter().flatten() {
        w.attr_u32(kind, v);
    }
}

/// Attribute types [`QueueAttrs`] locates: every `NFQA_*` of a packet message it reads.
const QUEUE_TYPES: usize = 1 + if PRIORITY > CGROUP_CLASSID {
    PRIORITY as usize
} else {
    CGROUP_CLASSID as usize
};

/// An NFQUEUE packet message located, not copied: its header, and where each attribute is,
/// every one checked as [`QueuePacket::parse`] checks it (that parse is built on this). The
/// readers take the message's bytes ([`NlMsg::as_bytes`]) again and decode one attribute
/// each; given other bytes they return nonsense or `None`, never panic.
///
/// This is what a receive loop keeps per packet (`netfilter`'s `Packet` keeps it beside the
/// datagram): small, `Copy`, made in one walk over the attributes.
///
/// ```
/// use netfilter_safe::wire::{Emit, NlMsg, QueueAttrs, QueuePacket};
///
/// # fn main() -> Result<(), netfilter_safe::wire::WireError> {
/// let mut packet = QueuePacket::default();
/// packet.header.res_id = 7;
/// packet.packet_hdr.packet_id = 42;
/// packet.payload = Some(b"\x45\x00".as_slice().into());
/// let bytes = packet.to_bytes()?;
/// let attrs = QueueAttrs::locate(&NlMsg::new_checked(&bytes)?)?;
/// assert_eq!((attrs.header(&bytes).res_id, attrs.packet_hdr(&bytes).packet_id), (7, 42));
/// assert_eq!(attrs.payload(&bytes), Some(b"\x45\x00".as_slice()));
/// assert_eq!(attrs.mark(&bytes), None);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueAttrs {
    table: AttrTable<QUEUE_TYPES>,
}

impl QueueAttrs {
    /// Checks an NFQUEUE packet message and locates its attributes.
    ///
    /// # Errors
    /// [`WireError::UnexpectedMessage`] for another message type; [`WireError::Truncated`] /
    /// [`WireError::BadLength`] for broken framing; [`WireError::BadAttribute`] for a value of
    /// the wrong size; [`WireError::MissingAttribute`] without `NFQA_PACKET_HDR` or with an
    /// incomplete VLAN nest.
    #[inline]
    pub fn locate(msg: &NlMsg<'_>) -> Result<QueueAttrs, WireError> {
        let mut attrs = QueueAttrs::EMPTY;
        attrs.relocate(msg)?;
        Ok(attrs)
    }

    /// A table that locates nothing: every reader returns `None` (or zeros), whatever the
    /// bytes; [`QueueAttrs::relocate`] fills it.
    pub const EMPTY: QueueAttrs = QueueAttrs {
        table: AttrTable::EMPTY,
    };

    /// As [`QueueAttrs::locate`], into `self`, which afterwards locates `msg`'s attributes
    /// (or, after an error, nothing): a table made in place, where a table returned by value
    /// and moved costs a store-forwarding stall per message (see [`LogAttrs::relocate`]).
    ///
    /// # Errors
    /// As [`QueueAttrs::locate`].
    ///
    /// [`LogAttrs::relocate`]: super::LogAttrs::relocate
    #[inline]
    pub fn relocate(&mut self, msg: &NlMsg<'_>) -> Result<(), WireError> {
        let located = self.table.fill_packet(
            msg,
            QueuePacket::MSG_TYPE,
            S,
            PACKET_HDR,
            CHECKS,
            check_attr,
        );
        if located.is_err() {
            *self = QueueAttrs::EMPTY;
        }
        located
    }

    /// Netlink and nfgenmsg header fields (`res_id` is the queue number), read from the
    /// message's bytes.
    #[inline]
    #[must_use]
    pub fn header(&self, msg: &[u8]) -> NfHeader {
        NfHeader::read(msg)
    }

    /// `NFQA_PACKET_HDR` (checked and always there in a located message; zeros in
    /// [`QueueAttrs::EMPTY`]).
    #[inline]
    #[must_use]
    pub fn packet_hdr(&self, msg: &[u8]) -> QueuePacketHdr {
        self.table
            .get(msg, PACKET_HDR)
            .and_then(|hdr| QueuePacketHdr::parse(&hdr).ok())
            .unwrap_or_default()
    }

    shared_readers!("NFQA_", Space::QueueVlan);

    /// `NFQA_CAP_LEN`.
    #[inline]
    #[must_use]
    pub fn cap_len(&self, msg: &[u8]) -> Option<u32> {
        self.u32(msg, CAP_LEN)
    }

    /// `NFQA_SKB_INFO`.
    #[inline]
    #[must_use]
    pub fn skb_info(&self, msg: &[u8]) -> Option<u32> {
        self.u32(msg, SKB_INFO)
    }

    /// `NFQA_SECCTX`.
    #[inline]
    #[must_use]
    pub fn secctx<'m>(&self, msg: &'m [u8]) -> Option<&'m [u8]> {
        self.value(msg, SECCTX)
    }

    /// `NFQA_PRIORITY`.
    #[inline]
    #[must_use]
    pub fn priority(&self, msg: &[u8]) -> Option<u32> {
        self.u32(msg, PRIORITY)
    }

    /// `NFQA_CGROUP_CLASSID`.
    #[inline]
    #[must_use]
    pub fn cgroup_classid(&self, msg: &[u8]) -> Option<u32> {
        self.u32(msg, CGROUP_CLASSID)
    }
}

/// Whether [`QueueAttrs`] has a reader for attribute type `kind`.
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
            | CT
            | CT_INFO
            | CAP_LEN
            | SKB_INFO
            | UID
            | GID
            | SECCTX
            | VLAN
            | L2HDR
            | PRIORITY
            | CGROUP_CLASSID
    )
}

/// How [`QueueAttrs::locate`] checks each attribute type (`CT`, `PAYLOAD`, `EXP`, the
/// headers, `SECCTX`: any length).
const CHECKS: Checks = Checks::NONE
    .len(PACKET_HDR, PKT_HDR_LEN)
    .len(TIMESTAMP, TS_LEN)
    .len(HWADDR, HW_LEN)
    .len(MARK, 4)
    .len(IFINDEX_INDEV, 4)
    .len(IFINDEX_OUTDEV, 4)
    .len(IFINDEX_PHYSINDEV, 4)
    .len(IFINDEX_PHYSOUTDEV, 4)
    .len(CT_INFO, 4)
    .len(CAP_LEN, 4)
    .len(SKB_INFO, 4)
    .len(UID, 4)
    .len(GID, 4)
    .len(PRIORITY, 4)
    .len(CGROUP_CLASSID, 4)
    .custom(VLAN);

/// The attribute [`CHECKS`] leaves to its own check: the VLAN nest.
#[inline]
fn check_attr(a: &Attr<'_>) -> Result<(), WireError> {
    Vlan::parse(a, Space::QueueVlan, VLAN_PROTO, VLAN_TCI).map(drop)
}

/// An NFQUEUE packet message (`NFQNL_MSG_PACKET`), every attribute the kernel sends.
///
/// Parsing borrows the datagram; building may own the data (`Cow`). Absent attributes are
/// `None`. [`Emit`] writes the attributes in the order `nfqnl_build_packet_message` does, with
/// `NFQA_PAYLOAD` last and unpadded, so that a message parsed from kernel bytes is emitted
/// back byte for byte. Attributes this type does not know are kept in `unknown` and emitted
/// just before the payload.
///
/// ```
/// use netfilter_safe::wire::{Emit, QueuePacket};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let mut packet = QueuePacket::default();
/// packet.header.res_id = 2; // queue 2
/// packet.packet_hdr.packet_id = 9;
/// packet.indev = Some(3);
/// packet.payload = Some(b"\x45\0\0\x14"[..].into());
/// let bytes = packet.to_bytes()?;
/// let parsed = QueuePacket::parse_bytes(&bytes)?;
/// assert_eq!(parsed, packet);
/// assert_eq!((parsed.header.res_id, parsed.indev), (2, Some(3)));
/// // A message cut short is an error, never a panic.
/// assert!(QueuePacket::parse_bytes(&bytes[..bytes.len() - 1]).is_err());
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct QueuePacket<'a> {
    /// Netlink and nfgenmsg header fields (`res_id` is the queue number).
    pub header: NfHeader,
    /// `NFQA_PACKET_HDR` (required).
    pub packet_hdr: QueuePacketHdr,
    /// `NFQA_MARK` (the kernel omits it when the mark is 0).
    pub mark: Option<u32>,
    /// `NFQA_TIMESTAMP`.
    pub timestamp: Option<Timestamp>,
    /// `NFQA_IFINDEX_INDEV`.
    pub indev: Option<u32>,
    /// `NFQA_IFINDEX_OUTDEV`.
    pub outdev: Option<u32>,
    /// `NFQA_IFINDEX_PHYSINDEV`.
    pub physindev: Option<u32>,
    /// `NFQA_IFINDEX_PHYSOUTDEV`.
    pub physoutdev: Option<u32>,
    /// `NFQA_HWADDR`.
    pub hw_addr: Option<HwAddr>,
    /// `NFQA_PAYLOAD`: the packet from its network header, up to the copy range.
    pub payload: Option<Cow<'a, [u8]>>,
    /// `NFQA_CT`: the conntrack nest, kept as raw nested attributes (`CTA_*`).
    pub ct: Option<Cow<'a, [u8]>>,
    /// `NFQA_CT_INFO`: `enum ip_conntrack_info`.
    pub ct_info: Option<u32>,
    /// `NFQA_CAP_LEN`: the packet's length when the payload was cut by the copy range.
    pub cap_len: Option<u32>,
    /// `NFQA_SKB_INFO`: `NFQA_SKB_*` flags (never sent when 0).
    pub skb_info: Option<u32>,
    /// `NFQA_UID`.
    pub uid: Option<u32>,
    /// `NFQA_GID`.
    pub gid: Option<u32>,
    /// `NFQA_SECCTX`: the security context, as the kernel gives it.
    pub secctx: Option<Cow<'a, [u8]>>,
    /// `NFQA_VLAN`.
    pub vlan: Option<Vlan>,
    /// `NFQA_L2HDR`: the link-layer header (bridge family).
    pub l2hdr: Option<Cow<'a, [u8]>>,
    /// `NFQA_PRIORITY`: `skb->priority` (omitted when 0).
    pub priority: Option<u32>,
    /// `NFQA_CGROUP_CLASSID`: the net_cls class id of the sending socket (omitted when 0).
    pub cgroup_classid: Option<u32>,
    /// Attributes not listed above, in the order they came.
    pub unknown: Vec<RawAttr<'a>>,
}

impl<'a> QueuePacket<'a> {
    /// `nlmsg_type` of a packet message.
    pub const MSG_TYPE: u16 = nfnl_msg_type(sys::NFNL_SUBSYS_QUEUE, sys::NFQNL_MSG_PACKET);

    /// Parses an NFQUEUE packet message.
    ///
    /// # Errors
    /// As [`QueueAttrs::locate`].
    pub fn parse(msg: &NlMsg<'a>) -> Result<Self, WireError> {
        let attrs = QueueAttrs::locate(msg)?;
        let m = msg.as_bytes();
        let cow = |b: Option<&'a [u8]>| b.map(Cow::Borrowed);
        Ok(QueuePacket {
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
            ct: cow(attrs.ct(m)),
            ct_info: attrs.ct_info(m),
            cap_len: attrs.cap_len(m),
            skb_info: attrs.skb_info(m),
            uid: attrs.uid(m),
            gid: attrs.gid(m),
            secctx: cow(attrs.secctx(m)),
            vlan: attrs.vlan(m),
            l2hdr: cow(attrs.l2hdr(m)),
            priority: attrs.priority(m),
            cgroup_classid: attrs.cgroup_classid(m),
            unknown: attrs.unknown(m).map(|a| a.to_raw()).collect(),
        })
    }

    /// Parses a buffer that holds one packet message.
    ///
    /// # Errors
    /// As [`NlMsg::new_checked`] and [`parse`](Self::parse).
    pub fn parse_bytes(buf: &'a [u8]) -> Result<Self, WireError> {
        Self::parse(&NlMsg::new_checked(buf)?)
    }

    /// A copy that owns all its data.
    #[must_use]
    pub fn into_owned(self) -> QueuePacket<'static> {
        QueuePacket {
            payload: self.payload.map(|c| Cow::Owned(c.into_owned())),
            ct: self.ct.map(|c| Cow::Owned(c.into_owned())),
            secctx: self.secctx.map(|c| Cow::Owned(c.into_owned())),
            l2hdr: self.l2hdr.map(|c| Cow::Owned(c.into_owned())),
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
            ct_info: self.ct_info,
            cap_len: self.cap_len,
            skb_info: self.skb_info,
            uid: self.uid,
            gid: self.gid,
            vlan: self.vlan,
            priority: self.priority,
            cgroup_classid: self.cgroup_classid,
        }
    }

    fn write(&self, w: &mut Writer<'_>) {
        w.nf_message(Self::MSG_TYPE, &self.header, |w| {
            w.attr(PACKET_HDR, &self.packet_hdr.to_bytes());
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
            if let Some(v) = self.priority {
                w.attr_u32(PRIORITY, v);
            }
            if let Some(hw) = &self.hw_addr {
                w.attr(HWADDR, &hw_bytes(hw));
            }
            if let Some(v) = &self.vlan {
                v.write(w, VLAN, VLAN_PROTO, VLAN_TCI);
            }
            if let Some(v) = opt_bytes(&self.l2hdr) {
                w.attr(L2HDR, v);
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
            if let Some(v) = self.cgroup_classid {
                w.attr_u32(CGROUP_CLASSID, v);
            }
            if let Some(v) = opt_bytes(&self.secctx) {
                w.attr(SECCTX, v);
            }
            if let Some(v) = opt_bytes(&self.ct) {
                w.nest(CT | NLA_F_NESTED, |w| w.bytes(v));
            }
            if let Some(v) = self.ct_info {
                w.attr_u32(CT_INFO, v);
            }
            if let Some(v) = self.cap_len {
                w.attr_u32(CAP_LEN, v);
            }
            if let Some(v) = self.skb_info {
                w.attr_u32(SKB_INFO, v);
            }
            for a in &self.unknown {
                a.write(w);
            }
            if let Some(v) = opt_bytes(&self.payload) {
                // The kernel sets nla_len to 4 + data_len and copies no padding after it.
                w.attr_unpadded(PAYLOAD, v);
            }
        });
    }
}

impl Emit for QueuePacket<'_> {
    fn buffer_len(&self) -> usize {
        counted(|w| self.write(w))
    }

    fn emit(&self, out: &mut Vec<u8>) -> Result<(), WireError> {
        emitted(out, |w| self.write(w))
    }
}

/// `struct nfqnl_msg_verdict_hdr`: the verdict and the packet id it applies to (for a batch,
/// the highest id).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct VerdictHdr {
    /// `verdict`: `NF_DROP`, `NF_ACCEPT`, `NF_REPEAT`, `NF_STOP`, or `NF_QUEUE` with the target
    /// queue in the high 16 bits; host order here.
    pub verdict: u32,
    /// `id`: the packet id, host order here.
    pub id: u32,
}

impl VerdictHdr {
    fn parse(a: &Attr<'_>) -> Result<Self, WireError> {
        let b = exact::<VERDICT_HDR_LEN>(S, a)?;
        Ok(VerdictHdr {
            verdict: be_u32(b, offset_of!(sys::nfqnl_msg_verdict_hdr, verdict)),
            id: be_u32(b, offset_of!(sys::nfqnl_msg_verdict_hdr, id)),
        })
    }

    fn to_bytes(self) -> [u8; VERDICT_HDR_LEN] {
        let mut b = [0u8; VERDICT_HDR_LEN];
        put_at(
            &mut b,
            offset_of!(sys::nfqnl_msg_verdict_hdr, verdict),
            &self.verdict.to_be_bytes(),
        );
        put_at(
            &mut b,
            offset_of!(sys::nfqnl_msg_verdict_hdr, id),
            &self.id.to_be_bytes(),
        );
        b
    }
}

/// A verdict on one queued packet (`NFQNL_MSG_VERDICT`), as a program sends it.
///
/// [`Emit`] writes `NFQA_VERDICT_HDR`, `MARK`, `PRIORITY`, `CT`, `VLAN`, `L2HDR`, the unknown
/// attributes, then `PAYLOAD` (padded); the kernel reads them in any order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Verdict<'a> {
    /// Header fields (`res_id` is the queue number).
    pub header: NfHeader,
    /// `NFQA_VERDICT_HDR` (required).
    pub verdict_hdr: VerdictHdr,
    /// `NFQA_MARK`: the new packet mark.
    pub mark: Option<u32>,
    /// `NFQA_PRIORITY`: the new `skb->priority` (Linux 6.8+).
    pub priority: Option<u32>,
    /// `NFQA_PAYLOAD`: a replacement packet.
    pub payload: Option<Cow<'a, [u8]>>,
    /// `NFQA_CT`: conntrack changes as a raw nest (`CTA_MARK`, `CTA_LABELS`, ...).
    pub ct: Option<Cow<'a, [u8]>>,
    /// `NFQA_VLAN` (bridge family).
    pub vlan: Option<Vlan>,
    /// `NFQA_L2HDR`: a replacement link-layer header (bridge family).
    pub l2hdr: Option<Cow<'a, [u8]>>,
    /// Other attributes (`NFQA_EXP`, newer ones), in order.
    pub unknown: Vec<RawAttr<'a>>,
}

impl<'a> Verdict<'a> {
    /// A copy that owns all its data. Every field is listed (no `..`), so a new one cannot
    /// be forgotten here.
    #[must_use]
    pub fn into_owned(self) -> Verdict<'static> {
        Verdict {
            header: self.header,
            verdict_hdr: self.verdict_hdr,
            mark: self.mark,
            priority: self.priority,
            payload: self.payload.map(|c| Cow::Owned(c.into_owned())),
            ct: self.ct.map(|c| Cow::Owned(c.into_owned())),
            vlan: self.vlan,
            l2hdr: self.l2hdr.map(|c| Cow::Owned(c.into_owned())),
            unknown: self.unknown.into_iter().map(RawAttr::into_owned).collect(),
        }
    }

    /// `nlmsg_type` of a verdict.
    pub const MSG_TYPE: u16 = nfnl_msg_type(sys::NFNL_SUBSYS_QUEUE, sys::NFQNL_MSG_VERDICT);

    /// Parses a verdict message.
    ///
    /// # Errors
    /// As [`QueuePacket::parse`]; `NFQA_VERDICT_HDR` is required.
    pub fn parse(msg: &NlMsg<'a>) -> Result<Self, WireError> {
        msg.expect_type(Self::MSG_TYPE)?;
        let (nfgen, attrs) = msg.nfnetlink()?;
        let mut v = Verdict {
            header: NfHeader::from_parts(&msg.header(), &nfgen),
            ..Default::default()
        };
        let mut hdr = None;
        for a in AttrIter::new(attrs) {
            let a = a?;
            match a.kind() {
                VERDICT_HDR => hdr = Some(VerdictHdr::parse(&a)?),
                MARK => v.mark = Some(be32(S, &a)?),
                PRIORITY => v.priority = Some(be32(S, &a)?),
                PAYLOAD => v.payload = Some(Cow::Borrowed(a.value())),
                CT => v.ct = Some(Cow::Borrowed(a.value())),
                VLAN => v.vlan = Some(Vlan::parse(&a, Space::QueueVlan, VLAN_PROTO, VLAN_TCI)?),
                L2HDR => v.l2hdr = Some(Cow::Borrowed(a.value())),
                _ => v.unknown.push(a.to_raw()),
            }
        }
        v.verdict_hdr = hdr.ok_or(WireError::MissingAttribute {
            space: S,
            kind: VERDICT_HDR,
        })?;
        Ok(v)
    }

    /// Parses a buffer that holds one verdict message.
    ///
    /// # Errors
    /// As [`parse`](Self::parse).
    pub fn parse_bytes(buf: &'a [u8]) -> Result<Self, WireError> {
        Self::parse(&NlMsg::new_checked(buf)?)
    }

    /// The `NFQA_CT` nest as a checked view, if the verdict has one: the conntrack changes
    /// it asks for ([`Conntrack::mark`], [`Conntrack::labels`], ...).
    ///
    /// # Errors
    /// As [`Conntrack::new_checked`].
    pub fn conntrack(&self) -> Result<Option<Conntrack<'_>>, WireError> {
        opt_bytes(&self.ct).map(Conntrack::new_checked).transpose()
    }

    /// The mark set inside the `NFQA_CT` nest (`CTA_MARK`), if any.
    ///
    /// # Errors
    /// As [`Verdict::conntrack`].
    pub fn ct_mark(&self) -> Result<Option<u32>, WireError> {
        Ok(self.conntrack()?.and_then(|ct| ct.mark()))
    }

    fn write(&self, w: &mut Writer<'_>) {
        w.nf_message(Self::MSG_TYPE, &self.header, |w| {
            w.attr(VERDICT_HDR, &self.verdict_hdr.to_bytes());
            if let Some(v) = self.mark {
                w.attr_u32(MARK, v);
            }
            if let Some(v) = self.priority {
                w.attr_u32(PRIORITY, v);
            }
            if let Some(v) = opt_bytes(&self.ct) {
                w.nest(CT | NLA_F_NESTED, |w| w.bytes(v));
            }
            if let Some(v) = &self.vlan {
                v.write(w, VLAN, VLAN_PROTO, VLAN_TCI);
            }
            if let Some(v) = opt_bytes(&self.l2hdr) {
                w.attr(L2HDR, v);
            }
            for a in &self.unknown {
                a.write(w);
            }
            if let Some(v) = opt_bytes(&self.payload) {
                w.attr(PAYLOAD, v);
            }
        });
    }
}

impl Emit for Verdict<'_> {
    fn buffer_len(&self) -> usize {
        counted(|w| self.write(w))
    }

    fn emit(&self, out: &mut Vec<u8>) -> Result<(), WireError> {
        emitted(out, |w| self.write(w))
    }
}

/// A verdict on every queued packet up to an id (`NFQNL_MSG_VERDICT_BATCH`).
///
/// ```
/// use netfilter_safe::Verdict as Kind;
/// use netfilter_safe::wire::{BatchVerdict, Emit};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// // Accept every packet of queue 1 up to id 100, and mark them.
/// let mut batch = BatchVerdict::default();
/// batch.header.res_id = 1;
/// batch.verdict_hdr.id = 100;
/// batch.verdict_hdr.verdict = Kind::Accept.raw();
/// batch.mark = Some(0x10);
/// let bytes = batch.to_bytes()?;
/// assert_eq!(BatchVerdict::parse_bytes(&bytes)?, batch);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct BatchVerdict<'a> {
    /// Header fields (`res_id` is the queue number).
    pub header: NfHeader,
    /// `NFQA_VERDICT_HDR`: the verdict and the highest packet id it applies to.
    pub verdict_hdr: VerdictHdr,
    /// `NFQA_MARK`: the mark set on every packet of the batch.
    pub mark: Option<u32>,
    /// `NFQA_PRIORITY`: the priority set on every packet of the batch.
    pub priority: Option<u32>,
    /// Other attributes, in order.
    pub unknown: Vec<RawAttr<'a>>,
}

impl<'a> BatchVerdict<'a> {
    /// A copy that owns all its data. Every field is listed (no `..`), so a new one cannot
    /// be forgotten here.
    #[must_use]
    pub fn into_owned(self) -> BatchVerdict<'static> {
        BatchVerdict {
            header: self.header,
            verdict_hdr: self.verdict_hdr,
            mark: self.mark,
            priority: self.priority,
            unknown: self.unknown.into_iter().map(RawAttr::into_owned).collect(),
        }
    }

    /// `nlmsg_type` of a batch verdict.
    pub const MSG_TYPE: u16 = nfnl_msg_type(sys::NFNL_SUBSYS_QUEUE, sys::NFQNL_MSG_VERDICT_BATCH);

    /// Parses a batch verdict.
    ///
    /// # Errors
    /// As [`Verdict::parse`].
    pub fn parse(msg: &NlMsg<'a>) -> Result<Self, WireError> {
        msg.expect_type(Self::MSG_TYPE)?;
        let (nfgen, attrs) = msg.nfnetlink()?;
        let mut v = BatchVerdict {
            header: NfHeader::from_parts(&msg.header(), &nfgen),
            ..Default::default()
        };
        let mut hdr = None;
        for a in AttrIter::new(attrs) {
            let a = a?;
            match a.kind() {
                VERDICT_HDR => hdr = Some(VerdictHdr::parse(&a)?),
                MARK => v.mark = Some(be32(S, &a)?),
                PRIORITY => v.priority = Some(be32(S, &a)?),
                _ => v.unknown.push(a.to_raw()),
            }
        }
        v.verdict_hdr = hdr.ok_or(WireError::MissingAttribute {
            space: S,
            kind: VERDICT_HDR,
        })?;
        Ok(v)
    }

    /// Parses a buffer that holds one batch verdict.
    ///
    /// # Errors
    /// As [`parse`](Self::parse).
    pub fn parse_bytes(buf: &'a [u8]) -> Result<Self, WireError> {
        Self::parse(&NlMsg::new_checked(buf)?)
    }

    fn write(&self, w: &mut Writer<'_>) {
        w.nf_message(Self::MSG_TYPE, &self.header, |w| {
            w.attr(VERDICT_HDR, &self.verdict_hdr.to_bytes());
            if let Some(v) = self.mark {
                w.attr_u32(MARK, v);
            }
            if let Some(v) = self.priority {
                w.attr_u32(PRIORITY, v);
            }
            for a in &self.unknown {
                a.write(w);
            }
        });
    }
}

impl Emit for BatchVerdict<'_> {
    fn buffer_len(&self) -> usize {
        counted(|w| self.write(w))
    }

    fn emit(&self, out: &mut Vec<u8>) -> Result<(), WireError> {
        emitted(out, |w| self.write(w))
    }
}

/// `struct nfqnl_msg_config_cmd`: a queue command and its protocol family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct QueueCmd {
    /// `command`: `NFQNL_CFG_CMD_BIND` (1), `_UNBIND` (2), `_PF_BIND` (3), `_PF_UNBIND` (4).
    pub command: u8,
    /// `pf`: the protocol family, host order here (only meaningful for the PF commands).
    pub pf: u16,
}

/// `struct nfqnl_msg_config_params`: the copy mode and range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct QueueParams {
    /// `copy_range`: how many payload bytes to copy, host order here.
    pub copy_range: u32,
    /// `copy_mode`: `NFQNL_COPY_NONE` (0), `_META` (1), `_PACKET` (2).
    pub copy_mode: u8,
}

/// A queue configuration message (`NFQNL_MSG_CONFIG`), as a program sends it.
///
/// [`Emit`] writes `CMD`, `PARAMS`, `QUEUE_MAXLEN`, `MASK`, `FLAGS`, then the unknown
/// attributes (libnetfilter_queue sends `FLAGS` before `MASK`; the kernel reads any order).
///
/// ```
/// use netfilter_safe::wire::{Emit, QueueCmd, QueueConfig, QueueParams};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// // Bind queue 4 and ask for the first 128 bytes of each packet.
/// let mut config = QueueConfig::default();
/// config.header.res_id = 4;
/// config.cmd = Some(QueueCmd { command: 1, pf: 0 }); // NFQNL_CFG_CMD_BIND
/// config.params = Some(QueueParams { copy_mode: 2, copy_range: 128 }); // NFQNL_COPY_PACKET
/// let bytes = config.to_bytes()?;
/// assert_eq!(bytes.len(), config.buffer_len());
/// let decoded = netfilter_testkit::synth::sent::decode_queue_config(&bytes)?;
/// assert_eq!(decoded.params.map(|p| p.copy_range), Some(128));
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct QueueConfig<'a> {
    /// Header fields (`res_id` is the queue number).
    pub header: NfHeader,
    /// `NFQA_CFG_CMD`.
    pub cmd: Option<QueueCmd>,
    /// `NFQA_CFG_PARAMS`.
    pub params: Option<QueueParams>,
    /// `NFQA_CFG_QUEUE_MAXLEN`.
    pub queue_maxlen: Option<u32>,
    /// `NFQA_CFG_MASK`: which `NFQA_CFG_F_*` flags `flags` changes.
    pub mask: Option<u32>,
    /// `NFQA_CFG_FLAGS`: `NFQA_CFG_F_*`.
    pub flags: Option<u32>,
    /// Other attributes, in order.
    pub unknown: Vec<RawAttr<'a>>,
}

impl<'a> QueueConfig<'a> {
    /// A copy that owns all its data. Every field is listed (no `..`), so a new one cannot
    /// be forgotten here.
    #[must_use]
    pub fn into_owned(self) -> QueueConfig<'static> {
        QueueConfig {
            header: self.header,
            cmd: self.cmd,
            params: self.params,
            queue_maxlen: self.queue_maxlen,
            mask: self.mask,
            flags: self.flags,
            unknown: self.unknown.into_iter().map(RawAttr::into_owned).collect(),
        }
    }

    /// `nlmsg_type` of a queue configuration message.
    pub const MSG_TYPE: u16 = nfnl_msg_type(sys::NFNL_SUBSYS_QUEUE, sys::NFQNL_MSG_CONFIG);

    /// Parses a queue configuration message.
    ///
    /// # Errors
    /// As [`QueuePacket::parse`] (no attribute is required).
    pub fn parse(msg: &NlMsg<'a>) -> Result<Self, WireError> {
        const C: Space = Space::QueueConfig;
        msg.expect_type(Self::MSG_TYPE)?;
        let (nfgen, attrs) = msg.nfnetlink()?;
        let mut c = QueueConfig {
            header: NfHeader::from_parts(&msg.header(), &nfgen),
            ..Default::default()
        };
        for a in AttrIter::new(attrs) {
            let a = a?;
            match a.kind() {
                CFG_CMD => {
                    let b = exact::<CMD_LEN>(C, &a)?;
                    c.cmd = Some(QueueCmd {
                        command: byte(b, offset_of!(sys::nfqnl_msg_config_cmd, command)),
                        pf: be_u16(b, offset_of!(sys::nfqnl_msg_config_cmd, pf)),
                    });
                }
                CFG_PARAMS => {
                    let b = exact::<PARAMS_LEN>(C, &a)?;
                    c.params = Some(QueueParams {
                        copy_range: be_u32(b, offset_of!(sys::nfqnl_msg_config_params, copy_range)),
                        copy_mode: byte(b, offset_of!(sys::nfqnl_msg_config_params, copy_mode)),
                    });
                }
                CFG_QUEUE_MAXLEN => c.queue_maxlen = Some(be32(C, &a)?),
                CFG_MASK => c.mask = Some(be32(C, &a)?),
                CFG_FLAGS => c.flags = Some(be32(C, &a)?),
                _ => c.unknown.push(a.to_raw()),
            }
        }
        Ok(c)
    }

    /// Parses a buffer that holds one queue configuration message.
    ///
    /// # Errors
    /// As [`parse`](Self::parse).
    pub fn parse_bytes(buf: &'a [u8]) -> Result<Self, WireError> {
        Self::parse(&NlMsg::new_checked(buf)?)
    }

    fn write(&self, w: &mut Writer<'_>) {
        w.nf_message(Self::MSG_TYPE, &self.header, |w| {
            if let Some(cmd) = &self.cmd {
                let mut b = [0u8; CMD_LEN];
                put_at(
                    &mut b,
                    offset_of!(sys::nfqnl_msg_config_cmd, command),
                    &[cmd.command],
                );
                put_at(
                    &mut b,
                    offset_of!(sys::nfqnl_msg_config_cmd, pf),
                    &cmd.pf.to_be_bytes(),
                );
                w.attr(CFG_CMD, &b);
            }
            if let Some(p) = &self.params {
                let mut b = [0u8; PARAMS_LEN];
                put_at(
                    &mut b,
                    offset_of!(sys::nfqnl_msg_config_params, copy_range),
                    &p.copy_range.to_be_bytes(),
                );
                put_at(
                    &mut b,
                    offset_of!(sys::nfqnl_msg_config_params, copy_mode),
                    &[p.copy_mode],
                );
                w.attr(CFG_PARAMS, &b);
            }
            if let Some(v) = self.queue_maxlen {
                w.attr_u32(CFG_QUEUE_MAXLEN, v);
            }
            if let Some(v) = self.mask {
                w.attr_u32(CFG_MASK, v);
            }
            if let Some(v) = self.flags {
                w.attr_u32(CFG_FLAGS, v);
            }
            for a in &self.unknown {
                a.write(w);
            }
        });
    }
}

impl Emit for QueueConfig<'_> {
    fn buffer_len(&self) -> usize {
        counted(|w| self.write(w))
    }

    fn emit(&self, out: &mut Vec<u8>) -> Result<(), WireError> {
        emitted(out, |w| self.write(w))
    }
}
