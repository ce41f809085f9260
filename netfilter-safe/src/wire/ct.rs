//! The conntrack nest: what `NFQA_CT` / `NFULA_CT` carry with the conntrack flag
//! (`ctnetlink_glue_build`), what a verdict's `NFQA_CT` changes (`ctnetlink_glue_parse`), and
//! the state of `NFQA_CT_INFO` / `NFULA_CT_INFO`.
//!
//! [`Conntrack`] is the checked, zero-copy view of a nest's bytes (its members located in one
//! walk, each decoded when read); [`CtEntry`] is the typed nest that parses from a view and
//! emits ([`Emit`]) through the same layout. Every `CTA_*` integer is big-endian; nests may
//! carry `NLA_F_NESTED`, masked off as everywhere in [`wire`](super).

use core::fmt;
use std::borrow::Cow;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::attr::{Attr, AttrTable, Checks, NLA_F_NESTED, RawAttr, be16, be32, exact};
use super::error::{Space, WireError};
use super::netlink::{Emit, Writer, counted, emitted};
use super::uapi as sys;

/// `CTA_*` attribute types of the conntrack nest and of the nests inside it (from
/// [`uapi`](super::uapi), the `CTA_` prefix dropped: `TUPLE_ORIG` is `CTA_TUPLE_ORIG`,
/// `IP_V4_SRC` is `CTA_IP_V4_SRC`).
#[allow(missing_docs)]
pub mod attr {
    use super::super::uapi as sys;
    // enum ctattr_type
    pub const TUPLE_ORIG: u16 = sys::CTA_TUPLE_ORIG as u16;
    pub const TUPLE_REPLY: u16 = sys::CTA_TUPLE_REPLY as u16;
    pub const STATUS: u16 = sys::CTA_STATUS as u16;
    pub const PROTOINFO: u16 = sys::CTA_PROTOINFO as u16;
    pub const HELP: u16 = sys::CTA_HELP as u16;
    pub const NAT_SRC: u16 = sys::CTA_NAT_SRC as u16;
    pub const TIMEOUT: u16 = sys::CTA_TIMEOUT as u16;
    pub const MARK: u16 = sys::CTA_MARK as u16;
    pub const COUNTERS_ORIG: u16 = sys::CTA_COUNTERS_ORIG as u16;
    pub const COUNTERS_REPLY: u16 = sys::CTA_COUNTERS_REPLY as u16;
    pub const USE: u16 = sys::CTA_USE as u16;
    pub const ID: u16 = sys::CTA_ID as u16;
    pub const NAT_DST: u16 = sys::CTA_NAT_DST as u16;
    pub const TUPLE_MASTER: u16 = sys::CTA_TUPLE_MASTER as u16;
    pub const SEQ_ADJ_ORIG: u16 = sys::CTA_SEQ_ADJ_ORIG as u16;
    pub const SEQ_ADJ_REPLY: u16 = sys::CTA_SEQ_ADJ_REPLY as u16;
    pub const SECMARK: u16 = sys::CTA_SECMARK as u16;
    pub const ZONE: u16 = sys::CTA_ZONE as u16;
    pub const SECCTX: u16 = sys::CTA_SECCTX as u16;
    pub const TIMESTAMP: u16 = sys::CTA_TIMESTAMP as u16;
    pub const MARK_MASK: u16 = sys::CTA_MARK_MASK as u16;
    pub const LABELS: u16 = sys::CTA_LABELS as u16;
    pub const LABELS_MASK: u16 = sys::CTA_LABELS_MASK as u16;
    pub const SYNPROXY: u16 = sys::CTA_SYNPROXY as u16;
    // enum ctattr_tuple
    pub const TUPLE_IP: u16 = sys::CTA_TUPLE_IP as u16;
    pub const TUPLE_PROTO: u16 = sys::CTA_TUPLE_PROTO as u16;
    pub const TUPLE_ZONE: u16 = sys::CTA_TUPLE_ZONE as u16;
    // enum ctattr_ip
    pub const IP_V4_SRC: u16 = sys::CTA_IP_V4_SRC as u16;
    pub const IP_V4_DST: u16 = sys::CTA_IP_V4_DST as u16;
    pub const IP_V6_SRC: u16 = sys::CTA_IP_V6_SRC as u16;
    pub const IP_V6_DST: u16 = sys::CTA_IP_V6_DST as u16;
    // enum ctattr_l4proto
    pub const PROTO_NUM: u16 = sys::CTA_PROTO_NUM as u16;
    pub const PROTO_SRC_PORT: u16 = sys::CTA_PROTO_SRC_PORT as u16;
    pub const PROTO_DST_PORT: u16 = sys::CTA_PROTO_DST_PORT as u16;
    pub const PROTO_ICMP_ID: u16 = sys::CTA_PROTO_ICMP_ID as u16;
    pub const PROTO_ICMP_TYPE: u16 = sys::CTA_PROTO_ICMP_TYPE as u16;
    pub const PROTO_ICMP_CODE: u16 = sys::CTA_PROTO_ICMP_CODE as u16;
    pub const PROTO_ICMPV6_ID: u16 = sys::CTA_PROTO_ICMPV6_ID as u16;
    pub const PROTO_ICMPV6_TYPE: u16 = sys::CTA_PROTO_ICMPV6_TYPE as u16;
    pub const PROTO_ICMPV6_CODE: u16 = sys::CTA_PROTO_ICMPV6_CODE as u16;
    // enum ctattr_counters
    pub const COUNTERS_PACKETS: u16 = sys::CTA_COUNTERS_PACKETS as u16;
    pub const COUNTERS_BYTES: u16 = sys::CTA_COUNTERS_BYTES as u16;
    pub const COUNTERS32_PACKETS: u16 = sys::CTA_COUNTERS32_PACKETS as u16;
    pub const COUNTERS32_BYTES: u16 = sys::CTA_COUNTERS32_BYTES as u16;
    // enum ctattr_tstamp
    pub const TIMESTAMP_START: u16 = sys::CTA_TIMESTAMP_START as u16;
    pub const TIMESTAMP_STOP: u16 = sys::CTA_TIMESTAMP_STOP as u16;
    // enum ctattr_protoinfo
    pub const PROTOINFO_TCP: u16 = sys::CTA_PROTOINFO_TCP as u16;
    pub const PROTOINFO_DCCP: u16 = sys::CTA_PROTOINFO_DCCP as u16;
    pub const PROTOINFO_SCTP: u16 = sys::CTA_PROTOINFO_SCTP as u16;
    // enum ctattr_protoinfo_tcp
    pub const PROTOINFO_TCP_STATE: u16 = sys::CTA_PROTOINFO_TCP_STATE as u16;
    pub const PROTOINFO_TCP_WSCALE_ORIGINAL: u16 = sys::CTA_PROTOINFO_TCP_WSCALE_ORIGINAL as u16;
    pub const PROTOINFO_TCP_WSCALE_REPLY: u16 = sys::CTA_PROTOINFO_TCP_WSCALE_REPLY as u16;
    pub const PROTOINFO_TCP_FLAGS_ORIGINAL: u16 = sys::CTA_PROTOINFO_TCP_FLAGS_ORIGINAL as u16;
    pub const PROTOINFO_TCP_FLAGS_REPLY: u16 = sys::CTA_PROTOINFO_TCP_FLAGS_REPLY as u16;
    // enum ctattr_help
    pub const HELP_NAME: u16 = sys::CTA_HELP_NAME as u16;
    pub const HELP_INFO: u16 = sys::CTA_HELP_INFO as u16;
    // enum ctattr_secctx
    pub const SECCTX_NAME: u16 = sys::CTA_SECCTX_NAME as u16;
}
use attr::*;

const S: Space = Space::Conntrack;

/// `IPPROTO_ICMPV6`: its tuples carry `CTA_PROTO_ICMPV6_*` instead of `CTA_PROTO_ICMP_*`.
const IPPROTO_ICMPV6: u8 = libc::IPPROTO_ICMPV6 as u8;

/// The state of a packet's connection (`enum ip_conntrack_info`), from `NFQA_CT_INFO` /
/// `NFULA_CT_INFO`. [`fmt::Display`] prints the kernel's name (`ESTABLISHED`,
/// `RELATED_REPLY`).
///
/// ```
/// use netfilter_safe::wire::CtState;
/// assert_eq!(CtState::from(3), CtState::EstablishedReply);
/// assert_eq!(CtState::EstablishedReply.to_string(), "ESTABLISHED_REPLY");
/// assert!(CtState::RelatedReply.is_reply());
/// assert_eq!(u32::from(CtState::from(42)), 42);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CtState {
    /// `IP_CT_ESTABLISHED`: part of a connection that has seen packets both ways.
    Established,
    /// `IP_CT_RELATED`: starts a connection related to another one (an expectation, an ICMP
    /// error about a known connection).
    Related,
    /// `IP_CT_NEW`: starts a new connection, or belongs to one that has not seen a reply.
    New,
    /// `IP_CT_ESTABLISHED_REPLY`: established, in the reply direction.
    EstablishedReply,
    /// `IP_CT_RELATED_REPLY`: related, in the reply direction.
    RelatedReply,
    /// `IP_CT_UNTRACKED`: conntrack skips the packet (`NOTRACK`).
    Untracked,
    /// Any other value, kept.
    Other(u32),
}

impl CtState {
    /// Whether the packet travels in the reply direction of its connection.
    #[must_use]
    pub fn is_reply(self) -> bool {
        matches!(self, CtState::EstablishedReply | CtState::RelatedReply)
    }

    /// The kernel's name of the state (`IP_CT_` dropped), `None` for [`CtState::Other`].
    #[must_use]
    pub fn name(self) -> Option<&'static str> {
        Some(match self {
            CtState::Established => "ESTABLISHED",
            CtState::Related => "RELATED",
            CtState::New => "NEW",
            CtState::EstablishedReply => "ESTABLISHED_REPLY",
            CtState::RelatedReply => "RELATED_REPLY",
            CtState::Untracked => "UNTRACKED",
            CtState::Other(_) => return None,
        })
    }
}

impl From<u32> for CtState {
    fn from(raw: u32) -> Self {
        match raw {
            sys::IP_CT_ESTABLISHED => CtState::Established,
            sys::IP_CT_RELATED => CtState::Related,
            sys::IP_CT_NEW => CtState::New,
            sys::IP_CT_ESTABLISHED_REPLY => CtState::EstablishedReply,
            sys::IP_CT_RELATED_REPLY => CtState::RelatedReply,
            sys::IP_CT_UNTRACKED => CtState::Untracked,
            other => CtState::Other(other),
        }
    }
}

impl From<CtState> for u32 {
    fn from(state: CtState) -> u32 {
        match state {
            CtState::Established => sys::IP_CT_ESTABLISHED,
            CtState::Related => sys::IP_CT_RELATED,
            CtState::New => sys::IP_CT_NEW,
            CtState::EstablishedReply => sys::IP_CT_ESTABLISHED_REPLY,
            CtState::RelatedReply => sys::IP_CT_RELATED_REPLY,
            CtState::Untracked => sys::IP_CT_UNTRACKED,
            CtState::Other(raw) => raw,
        }
    }
}

impl fmt::Display for CtState {
    /// The kernel's name, or the number for a value this crate does not know.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.name(), self) {
            (Some(name), _) => f.write_str(name),
            (None, state) => write!(f, "{}", u32::from(*state)),
        }
    }
}

bitflags::bitflags! {
    /// A connection's status bits (`CTA_STATUS`, `enum ip_conntrack_status`). Bits this
    /// crate does not name are kept ([`CtStatus::from_bits_retain`]).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct CtStatus: u32 {
        /// `IPS_EXPECTED`: an expected connection (a helper's, such as FTP data).
        const EXPECTED = sys::IPS_EXPECTED;
        /// `IPS_SEEN_REPLY`: packets were seen both ways.
        const SEEN_REPLY = sys::IPS_SEEN_REPLY;
        /// `IPS_ASSURED`: never dropped early when the table is full.
        const ASSURED = sys::IPS_ASSURED;
        /// `IPS_CONFIRMED`: the first packet left the box; the entry is in the table.
        const CONFIRMED = sys::IPS_CONFIRMED;
        /// `IPS_SRC_NAT`: source NAT applies.
        const SRC_NAT = sys::IPS_SRC_NAT;
        /// `IPS_DST_NAT`: destination NAT applies.
        const DST_NAT = sys::IPS_DST_NAT;
        /// `IPS_SEQ_ADJUST`: TCP sequence numbers are adjusted (a helper changed sizes).
        const SEQ_ADJUST = sys::IPS_SEQ_ADJUST;
        /// `IPS_SRC_NAT_DONE`: source NAT was set up.
        const SRC_NAT_DONE = sys::IPS_SRC_NAT_DONE;
        /// `IPS_DST_NAT_DONE`: destination NAT was set up.
        const DST_NAT_DONE = sys::IPS_DST_NAT_DONE;
        /// `IPS_DYING`: the entry is being removed.
        const DYING = sys::IPS_DYING;
        /// `IPS_FIXED_TIMEOUT`: the timeout does not change with traffic.
        const FIXED_TIMEOUT = sys::IPS_FIXED_TIMEOUT;
        /// `IPS_TEMPLATE`: a template (`-j CT`), not a connection.
        const TEMPLATE = sys::IPS_TEMPLATE;
        /// `IPS_UNTRACKED`: the untracked placeholder entry.
        const UNTRACKED = sys::IPS_UNTRACKED;
        /// `IPS_HELPER`: a helper was assigned explicitly.
        const HELPER = sys::IPS_HELPER;
        /// `IPS_OFFLOAD`: handled by the flowtable fast path.
        const OFFLOAD = sys::IPS_OFFLOAD;
        /// `IPS_HW_OFFLOAD`: offloaded to hardware.
        const HW_OFFLOAD = sys::IPS_HW_OFFLOAD;
    }
}

/// The ICMP or ICMPv6 part of a tuple (`CTA_PROTO_ICMP_*` / `CTA_PROTO_ICMPV6_*`): the echo
/// id, and type and code of the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Icmp {
    /// `CTA_PROTO_ICMP_ID`: the echo identifier, host order here.
    pub id: u16,
    /// `CTA_PROTO_ICMP_TYPE`.
    pub icmp_type: u8,
    /// `CTA_PROTO_ICMP_CODE`.
    pub code: u8,
}

/// One direction of a connection (`CTA_TUPLE_ORIG`, `_REPLY`, `_MASTER`): addresses from
/// `CTA_TUPLE_IP`, the layer-4 protocol and its ports or ICMP fields from `CTA_TUPLE_PROTO`,
/// and a zone of this direction (`CTA_TUPLE_ZONE`).
///
/// ```
/// use std::net::Ipv4Addr;
/// use netfilter_safe::wire::Tuple;
///
/// let t = Tuple::new(Ipv4Addr::new(198, 18, 0, 1).into(), Ipv4Addr::new(198, 18, 0, 2).into(), 17)
///     .with_ports(4000, 53);
/// assert_eq!((t.src_port, t.dst_port), (Some(4000), Some(53)));
/// assert_eq!(t.reversed().src, t.dst);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Tuple {
    /// `CTA_IP_V4_SRC` / `CTA_IP_V6_SRC`.
    pub src: IpAddr,
    /// `CTA_IP_V4_DST` / `CTA_IP_V6_DST`.
    pub dst: IpAddr,
    /// `CTA_PROTO_NUM`: the IP protocol number (6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6).
    pub protocol: u8,
    /// `CTA_PROTO_SRC_PORT` (TCP, UDP, SCTP, DCCP; GRE keys), host order here.
    pub src_port: Option<u16>,
    /// `CTA_PROTO_DST_PORT`, host order here.
    pub dst_port: Option<u16>,
    /// The ICMP or ICMPv6 fields.
    pub icmp: Option<Icmp>,
    /// `CTA_TUPLE_ZONE`: a zone that applies to this direction only.
    pub zone: Option<u16>,
}

impl Tuple {
    /// A tuple of `protocol` from `src` to `dst`, without ports, ICMP fields or zone.
    #[must_use]
    pub fn new(src: IpAddr, dst: IpAddr, protocol: u8) -> Tuple {
        Tuple {
            src,
            dst,
            protocol,
            src_port: None,
            dst_port: None,
            icmp: None,
            zone: None,
        }
    }

    /// With source and destination ports.
    #[must_use]
    pub fn with_ports(mut self, src: u16, dst: u16) -> Tuple {
        self.src_port = Some(src);
        self.dst_port = Some(dst);
        self
    }

    /// With ICMP (or, for protocol 58, ICMPv6) fields.
    #[must_use]
    pub fn with_icmp(mut self, icmp: Icmp) -> Tuple {
        self.icmp = Some(icmp);
        self
    }

    /// With a zone of this direction.
    #[must_use]
    pub fn with_zone(mut self, zone: u16) -> Tuple {
        self.zone = Some(zone);
        self
    }

    /// The other direction: addresses and ports swapped (ICMP fields and zone kept as they
    /// are; the kernel also turns an echo request's type into the reply's).
    #[must_use]
    pub fn reversed(self) -> Tuple {
        Tuple {
            src: self.dst,
            dst: self.src,
            src_port: self.dst_port,
            dst_port: self.src_port,
            ..self
        }
    }

    /// Parses a tuple nest.
    fn parse(a: &Attr<'_>) -> Result<Tuple, WireError> {
        let mut ip = None;
        let mut proto = None;
        let mut zone = None;
        for m in a.nested() {
            let m = m?;
            match m.kind() {
                TUPLE_IP => ip = Some(parse_ip(&m)?),
                TUPLE_PROTO => proto = Some(parse_proto(&m)?),
                TUPLE_ZONE => zone = Some(be16(Space::CtTuple, &m)?),
                _ => {}
            }
        }
        let missing = |kind| WireError::MissingAttribute {
            space: Space::CtTuple,
            kind,
        };
        let (src, dst) = ip.ok_or(missing(TUPLE_IP))?;
        let (protocol, src_port, dst_port, icmp) = proto.ok_or(missing(TUPLE_PROTO))?;
        Ok(Tuple {
            src,
            dst,
            protocol,
            src_port,
            dst_port,
            icmp,
            zone,
        })
    }

    /// Writes the tuple nest as `ctnetlink_dump_tuples` does.
    fn write(&self, w: &mut Writer<'_>, outer: u16) {
        w.nest(outer | NLA_F_NESTED, |w| {
            w.nest(TUPLE_IP | NLA_F_NESTED, |w| {
                write_ip(w, (IP_V4_SRC, IP_V6_SRC), self.src);
                write_ip(w, (IP_V4_DST, IP_V6_DST), self.dst);
            });
            w.nest(TUPLE_PROTO | NLA_F_NESTED, |w| {
                w.attr(PROTO_NUM, &[self.protocol]);
                if let Some(p) = self.src_port {
                    w.attr_u16(PROTO_SRC_PORT, p);
                }
                if let Some(p) = self.dst_port {
                    w.attr_u16(PROTO_DST_PORT, p);
                }
                if let Some(icmp) = &self.icmp {
                    let [id, ty, code] = match self.protocol {
                        IPPROTO_ICMPV6 => [PROTO_ICMPV6_ID, PROTO_ICMPV6_TYPE, PROTO_ICMPV6_CODE],
                        _ => [PROTO_ICMP_ID, PROTO_ICMP_TYPE, PROTO_ICMP_CODE],
                    };
                    w.attr_u16(id, icmp.id);
                    w.attr(ty, &[icmp.icmp_type]);
                    w.attr(code, &[icmp.code]);
                }
            });
            if let Some(z) = self.zone {
                w.attr_u16(TUPLE_ZONE, z);
            }
        });
    }
}

fn write_ip(w: &mut Writer<'_>, (v4, v6): (u16, u16), addr: IpAddr) {
    match addr {
        IpAddr::V4(a) => w.attr(v4, &a.octets()),
        IpAddr::V6(a) => w.attr(v6, &a.octets()),
    }
}

/// `CTA_TUPLE_IP`: source and destination, both required.
fn parse_ip(a: &Attr<'_>) -> Result<(IpAddr, IpAddr), WireError> {
    const C: Space = Space::CtIp;
    let (mut src, mut dst) = (None, None);
    for m in a.nested() {
        let m = m?;
        match m.kind() {
            IP_V4_SRC => src = Some(Ipv4Addr::from(*exact::<4>(C, &m)?).into()),
            IP_V4_DST => dst = Some(Ipv4Addr::from(*exact::<4>(C, &m)?).into()),
            IP_V6_SRC => src = Some(Ipv6Addr::from(*exact::<16>(C, &m)?).into()),
            IP_V6_DST => dst = Some(Ipv6Addr::from(*exact::<16>(C, &m)?).into()),
            _ => {}
        }
    }
    let missing = |kind| WireError::MissingAttribute { space: C, kind };
    Ok((
        src.ok_or(missing(IP_V4_SRC))?,
        dst.ok_or(missing(IP_V4_DST))?,
    ))
}

type Proto = (u8, Option<u16>, Option<u16>, Option<Icmp>);

/// `CTA_TUPLE_PROTO`: the protocol number (required), ports, ICMP fields (all three or none).
fn parse_proto(a: &Attr<'_>) -> Result<Proto, WireError> {
    const C: Space = Space::CtProto;
    let (mut num, mut sport, mut dport) = (None, None, None);
    let (mut id, mut ty, mut code) = (None, None, None);
    for m in a.nested() {
        let m = m?;
        match m.kind() {
            PROTO_NUM => num = Some(exact::<1>(C, &m)?[0]),
            PROTO_SRC_PORT => sport = Some(be16(C, &m)?),
            PROTO_DST_PORT => dport = Some(be16(C, &m)?),
            PROTO_ICMP_ID | PROTO_ICMPV6_ID => id = Some(be16(C, &m)?),
            PROTO_ICMP_TYPE | PROTO_ICMPV6_TYPE => ty = Some(exact::<1>(C, &m)?[0]),
            PROTO_ICMP_CODE | PROTO_ICMPV6_CODE => code = Some(exact::<1>(C, &m)?[0]),
            _ => {}
        }
    }
    let missing = |kind| WireError::MissingAttribute { space: C, kind };
    let num = num.ok_or(missing(PROTO_NUM))?;
    let icmp = match (id, ty, code) {
        (None, None, None) => None,
        (Some(id), Some(icmp_type), Some(code)) => Some(Icmp {
            id,
            icmp_type,
            code,
        }),
        (None, _, _) => return Err(missing(PROTO_ICMP_ID)),
        (_, None, _) => return Err(missing(PROTO_ICMP_TYPE)),
        (_, _, None) => return Err(missing(PROTO_ICMP_CODE)),
    };
    Ok((num, sport, dport, icmp))
}

/// Packet and byte counts of one direction (`CTA_COUNTERS_ORIG` / `_REPLY`, with
/// `nf_conntrack_acct`): the 64-bit members, or the old 32-bit ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Counters {
    /// `CTA_COUNTERS_PACKETS` (or `CTA_COUNTERS32_PACKETS`).
    pub packets: u64,
    /// `CTA_COUNTERS_BYTES` (or `CTA_COUNTERS32_BYTES`).
    pub bytes: u64,
}

impl Counters {
    fn parse(a: &Attr<'_>) -> Result<Counters, WireError> {
        const C: Space = Space::CtCounters;
        let (mut packets, mut bytes) = (None, None);
        for m in a.nested() {
            let m = m?;
            match m.kind() {
                COUNTERS_PACKETS => packets = Some(be64(C, &m)?),
                COUNTERS_BYTES => bytes = Some(be64(C, &m)?),
                COUNTERS32_PACKETS => packets = Some(be32(C, &m)?.into()),
                COUNTERS32_BYTES => bytes = Some(be32(C, &m)?.into()),
                _ => {}
            }
        }
        let missing = |kind| WireError::MissingAttribute { space: C, kind };
        Ok(Counters {
            packets: packets.ok_or(missing(COUNTERS_PACKETS))?,
            bytes: bytes.ok_or(missing(COUNTERS_BYTES))?,
        })
    }

    /// Writes the 64-bit form, as `ctnetlink_dump_counters` does.
    fn write(&self, w: &mut Writer<'_>, outer: u16) {
        w.nest(outer | NLA_F_NESTED, |w| {
            w.attr(COUNTERS_PACKETS, &self.packets.to_be_bytes());
            w.attr(COUNTERS_BYTES, &self.bytes.to_be_bytes());
        });
    }
}

/// When the connection started and stopped (`CTA_TIMESTAMP`, with `nf_conntrack_timestamp`):
/// nanoseconds since the Unix epoch (`CLOCK_REALTIME`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct CtTimestamp {
    /// `CTA_TIMESTAMP_START`.
    pub start: u64,
    /// `CTA_TIMESTAMP_STOP`: only once the connection is gone.
    pub stop: Option<u64>,
}

impl CtTimestamp {
    fn parse(a: &Attr<'_>) -> Result<CtTimestamp, WireError> {
        const C: Space = Space::CtTimestamp;
        let (mut start, mut stop) = (None, None);
        for m in a.nested() {
            let m = m?;
            match m.kind() {
                TIMESTAMP_START => start = Some(be64(C, &m)?),
                TIMESTAMP_STOP => stop = Some(be64(C, &m)?),
                _ => {}
            }
        }
        Ok(CtTimestamp {
            start: start.ok_or(WireError::MissingAttribute {
                space: C,
                kind: TIMESTAMP_START,
            })?,
            stop,
        })
    }

    fn write(&self, w: &mut Writer<'_>) {
        w.nest(TIMESTAMP | NLA_F_NESTED, |w| {
            w.attr(TIMESTAMP_START, &self.start.to_be_bytes());
            if let Some(stop) = self.stop {
                w.attr(TIMESTAMP_STOP, &stop.to_be_bytes());
            }
        });
    }
}

/// The TCP tracker's state of a connection (`enum tcp_conntrack`, in
/// `CTA_PROTOINFO_TCP_STATE`). [`fmt::Display`] prints the kernel's name (`ESTABLISHED`,
/// `TIME_WAIT`), as `conntrack -L` does.
///
/// ```
/// use netfilter_safe::wire::TcpState;
/// assert_eq!(TcpState::from(3), TcpState::Established);
/// assert_eq!(TcpState::TimeWait.to_string(), "TIME_WAIT");
/// assert_eq!(u8::from(TcpState::from(42)), 42);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TcpState {
    /// `TCP_CONNTRACK_NONE`.
    None,
    /// `TCP_CONNTRACK_SYN_SENT`: a SYN went out, no answer yet.
    SynSent,
    /// `TCP_CONNTRACK_SYN_RECV`: the SYN was answered.
    SynRecv,
    /// `TCP_CONNTRACK_ESTABLISHED`.
    Established,
    /// `TCP_CONNTRACK_FIN_WAIT`: one side sent a FIN.
    FinWait,
    /// `TCP_CONNTRACK_CLOSE_WAIT`: the FIN was acknowledged.
    CloseWait,
    /// `TCP_CONNTRACK_LAST_ACK`: both sides sent a FIN.
    LastAck,
    /// `TCP_CONNTRACK_TIME_WAIT`.
    TimeWait,
    /// `TCP_CONNTRACK_CLOSE`: closed, or reset.
    Close,
    /// `TCP_CONNTRACK_SYN_SENT2` (`LISTEN` in the header): a simultaneous open.
    SynSent2,
    /// Any other value, kept.
    Other(u8),
}

impl TcpState {
    /// The kernel's name of the state (`TCP_CONNTRACK_` dropped), `None` for
    /// [`TcpState::Other`].
    #[must_use]
    pub fn name(self) -> Option<&'static str> {
        Some(match self {
            TcpState::None => "NONE",
            TcpState::SynSent => "SYN_SENT",
            TcpState::SynRecv => "SYN_RECV",
            TcpState::Established => "ESTABLISHED",
            TcpState::FinWait => "FIN_WAIT",
            TcpState::CloseWait => "CLOSE_WAIT",
            TcpState::LastAck => "LAST_ACK",
            TcpState::TimeWait => "TIME_WAIT",
            TcpState::Close => "CLOSE",
            TcpState::SynSent2 => "SYN_SENT2",
            TcpState::Other(_) => return None,
        })
    }
}

impl From<u8> for TcpState {
    fn from(raw: u8) -> Self {
        match u32::from(raw) {
            sys::TCP_CONNTRACK_NONE => TcpState::None,
            sys::TCP_CONNTRACK_SYN_SENT => TcpState::SynSent,
            sys::TCP_CONNTRACK_SYN_RECV => TcpState::SynRecv,
            sys::TCP_CONNTRACK_ESTABLISHED => TcpState::Established,
            sys::TCP_CONNTRACK_FIN_WAIT => TcpState::FinWait,
            sys::TCP_CONNTRACK_CLOSE_WAIT => TcpState::CloseWait,
            sys::TCP_CONNTRACK_LAST_ACK => TcpState::LastAck,
            sys::TCP_CONNTRACK_TIME_WAIT => TcpState::TimeWait,
            sys::TCP_CONNTRACK_CLOSE => TcpState::Close,
            sys::TCP_CONNTRACK_SYN_SENT2 => TcpState::SynSent2,
            _ => TcpState::Other(raw),
        }
    }
}

impl From<TcpState> for u8 {
    fn from(state: TcpState) -> u8 {
        let raw = match state {
            TcpState::None => sys::TCP_CONNTRACK_NONE,
            TcpState::SynSent => sys::TCP_CONNTRACK_SYN_SENT,
            TcpState::SynRecv => sys::TCP_CONNTRACK_SYN_RECV,
            TcpState::Established => sys::TCP_CONNTRACK_ESTABLISHED,
            TcpState::FinWait => sys::TCP_CONNTRACK_FIN_WAIT,
            TcpState::CloseWait => sys::TCP_CONNTRACK_CLOSE_WAIT,
            TcpState::LastAck => sys::TCP_CONNTRACK_LAST_ACK,
            TcpState::TimeWait => sys::TCP_CONNTRACK_TIME_WAIT,
            TcpState::Close => sys::TCP_CONNTRACK_CLOSE,
            TcpState::SynSent2 => sys::TCP_CONNTRACK_SYN_SENT2,
            TcpState::Other(raw) => return raw,
        };
        // Every state above is below 10.
        raw as u8
    }
}

impl fmt::Display for TcpState {
    /// The kernel's name, or the number for a value this crate does not know.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.name(), self) {
            (Some(name), _) => f.write_str(name),
            (None, state) => write!(f, "{}", u8::from(*state)),
        }
    }
}

bitflags::bitflags! {
    /// What the TCP tracker knows of one direction (`IP_CT_TCP_FLAG_*`). Bits this crate
    /// does not name are kept ([`TcpFlags::from_bits_retain`]).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct TcpFlags: u8 {
        /// `IP_CT_TCP_FLAG_WINDOW_SCALE`: the side sent a window scale option.
        const WINDOW_SCALE = sys::IP_CT_TCP_FLAG_WINDOW_SCALE as u8;
        /// `IP_CT_TCP_FLAG_SACK_PERM`: the side permits selective acknowledgements.
        const SACK_PERM = sys::IP_CT_TCP_FLAG_SACK_PERM as u8;
        /// `IP_CT_TCP_FLAG_CLOSE_INIT`: the side closed first.
        const CLOSE_INIT = sys::IP_CT_TCP_FLAG_CLOSE_INIT as u8;
        /// `IP_CT_TCP_FLAG_BE_LIBERAL`: window checks are skipped.
        const BE_LIBERAL = sys::IP_CT_TCP_FLAG_BE_LIBERAL as u8;
        /// `IP_CT_TCP_FLAG_DATA_UNACKNOWLEDGED`: data awaits an acknowledgement.
        const DATA_UNACKNOWLEDGED = sys::IP_CT_TCP_FLAG_DATA_UNACKNOWLEDGED as u8;
        /// `IP_CT_TCP_FLAG_MAXACK_SET`: the highest acknowledgement is known.
        const MAXACK_SET = sys::IP_CT_TCP_FLAG_MAXACK_SET as u8;
        /// `IP_CT_EXP_CHALLENGE_ACK`: an RFC 5961 challenge ACK is expected.
        const CHALLENGE_ACK = sys::IP_CT_EXP_CHALLENGE_ACK as u8;
        /// `IP_CT_TCP_SIMULTANEOUS_OPEN`: the connection began with a simultaneous open.
        const SIMULTANEOUS_OPEN = sys::IP_CT_TCP_SIMULTANEOUS_OPEN as u8;
    }
}

/// One direction's `struct nf_ct_tcp_flags`: the flags, and which of them a change sets
/// (the kernel sends a mask of 0; a request that changes the flags sets it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TcpFlagSet {
    /// `flags`.
    pub flags: TcpFlags,
    /// `mask`.
    pub mask: TcpFlags,
}

impl TcpFlagSet {
    fn parse(a: &Attr<'_>) -> Result<TcpFlagSet, WireError> {
        let [flags, mask] = *exact::<2>(Space::CtTcp, a)?;
        Ok(TcpFlagSet {
            flags: TcpFlags::from_bits_retain(flags),
            mask: TcpFlags::from_bits_retain(mask),
        })
    }
}

/// The TCP tracker's view of a connection (`CTA_PROTOINFO_TCP`): its state, and for each
/// direction the window scale and [`TcpFlags`] it announced.
///
/// ```
/// use netfilter_safe::wire::{Conntrack, CtEntry, Emit, ProtoInfo, TcpInfo, TcpState};
///
/// # fn main() -> Result<(), netfilter_safe::wire::WireError> {
/// let mut entry = CtEntry::default();
/// entry.protoinfo = Some(ProtoInfo::tcp(TcpInfo::new(TcpState::Established)));
/// let nest = entry.to_bytes()?;
/// let ct = Conntrack::new_checked(&nest)?;
/// assert_eq!(ct.tcp().map(|t| t.state), Some(TcpState::Established));
/// assert_eq!(CtEntry::parse(&ct), entry);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct TcpInfo {
    /// `CTA_PROTOINFO_TCP_STATE`.
    pub state: TcpState,
    /// `CTA_PROTOINFO_TCP_WSCALE_ORIGINAL`: the original direction's window scale.
    pub wscale_orig: Option<u8>,
    /// `CTA_PROTOINFO_TCP_WSCALE_REPLY`.
    pub wscale_reply: Option<u8>,
    /// `CTA_PROTOINFO_TCP_FLAGS_ORIGINAL`.
    pub flags_orig: Option<TcpFlagSet>,
    /// `CTA_PROTOINFO_TCP_FLAGS_REPLY`.
    pub flags_reply: Option<TcpFlagSet>,
}

impl TcpInfo {
    /// `state`, nothing else.
    #[must_use]
    pub fn new(state: TcpState) -> TcpInfo {
        TcpInfo {
            state,
            wscale_orig: None,
            wscale_reply: None,
            flags_orig: None,
            flags_reply: None,
        }
    }

    fn parse(a: &Attr<'_>) -> Result<TcpInfo, WireError> {
        const C: Space = Space::CtTcp;
        let byte = |m: &Attr<'_>| exact::<1>(C, m).map(|b| b[0]);
        let mut info = TcpInfo::new(TcpState::None);
        let mut state = None;
        for m in a.nested() {
            let m = m?;
            match m.kind() {
                PROTOINFO_TCP_STATE => state = Some(TcpState::from(byte(&m)?)),
                PROTOINFO_TCP_WSCALE_ORIGINAL => info.wscale_orig = Some(byte(&m)?),
                PROTOINFO_TCP_WSCALE_REPLY => info.wscale_reply = Some(byte(&m)?),
                PROTOINFO_TCP_FLAGS_ORIGINAL => info.flags_orig = Some(TcpFlagSet::parse(&m)?),
                PROTOINFO_TCP_FLAGS_REPLY => info.flags_reply = Some(TcpFlagSet::parse(&m)?),
                _ => {}
            }
        }
        info.state = state.ok_or(WireError::MissingAttribute {
            space: C,
            kind: PROTOINFO_TCP_STATE,
        })?;
        Ok(info)
    }

    /// Writes the members in the kernel's order (`tcp_to_nlattr`).
    fn write(&self, w: &mut Writer<'_>) {
        w.nest(PROTOINFO_TCP | NLA_F_NESTED, |w| {
            w.attr(PROTOINFO_TCP_STATE, &[u8::from(self.state)]);
            if let Some(v) = self.wscale_orig {
                w.attr(PROTOINFO_TCP_WSCALE_ORIGINAL, &[v]);
            }
            if let Some(v) = self.wscale_reply {
                w.attr(PROTOINFO_TCP_WSCALE_REPLY, &[v]);
            }
            for (kind, set) in [
                (PROTOINFO_TCP_FLAGS_ORIGINAL, self.flags_orig),
                (PROTOINFO_TCP_FLAGS_REPLY, self.flags_reply),
            ] {
                if let Some(set) = set {
                    w.attr(kind, &[set.flags.bits(), set.mask.bits()]);
                }
            }
        });
    }
}

/// What a connection's protocol tracker reports (`CTA_PROTOINFO`): the TCP tracker's
/// [`TcpInfo`], typed; another tracker's members (`CTA_PROTOINFO_DCCP`, `_SCTP`, a newer
/// kernel's) kept as they came. UDP and ICMP connections have none.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ProtoInfo<'a> {
    /// `CTA_PROTOINFO_TCP`.
    pub tcp: Option<TcpInfo>,
    /// The other members, in order.
    pub other: Vec<RawAttr<'a>>,
}

impl<'a> ProtoInfo<'a> {
    /// The TCP tracker's `info`, nothing else.
    #[must_use]
    pub fn tcp(info: TcpInfo) -> ProtoInfo<'a> {
        ProtoInfo {
            tcp: Some(info),
            other: Vec::new(),
        }
    }

    fn parse(a: &Attr<'a>) -> Result<ProtoInfo<'a>, WireError> {
        let mut info = ProtoInfo::default();
        for m in a.nested() {
            let m = m?;
            match m.kind() {
                PROTOINFO_TCP => info.tcp = Some(TcpInfo::parse(&m)?),
                _ => info.other.push(m.to_raw()),
            }
        }
        Ok(info)
    }

    /// A copy that owns all its data.
    #[must_use]
    pub fn into_owned(self) -> ProtoInfo<'static> {
        ProtoInfo {
            tcp: self.tcp,
            other: self.other.into_iter().map(RawAttr::into_owned).collect(),
        }
    }

    fn write(&self, w: &mut Writer<'_>) {
        w.nest(PROTOINFO | NLA_F_NESTED, |w| {
            if let Some(tcp) = &self.tcp {
                tcp.write(w);
            }
            for a in &self.other {
                a.write(w);
            }
        });
    }
}

/// A nest that names something: `CTA_HELP` (the connection's helper, `ftp`) or
/// `CTA_SECCTX` (its security context, `system_u:object_r:ssh_port_t:s0`). The name is kept
/// as bytes, without the kernel's terminating NUL; other members (a helper's
/// `CTA_HELP_INFO`, a newer kernel's) are kept as they came.
///
/// ```
/// use netfilter_safe::wire::{Conntrack, CtEntry, CtName, Emit};
///
/// # fn main() -> Result<(), netfilter_safe::wire::WireError> {
/// let mut entry = CtEntry::default();
/// entry.helper = Some(CtName::new("ftp"));
/// let nest = entry.to_bytes()?;
/// let ct = Conntrack::new_checked(&nest)?;
/// assert_eq!(ct.helper_name(), Some("ftp"));
/// assert_eq!(CtEntry::parse(&ct), entry);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct CtName<'a> {
    /// `CTA_HELP_NAME` / `CTA_SECCTX_NAME`, without its terminating NUL.
    pub name: Cow<'a, [u8]>,
    /// The other members, in order.
    pub other: Vec<RawAttr<'a>>,
}

impl<'a> CtName<'a> {
    /// `name`, nothing else.
    #[must_use]
    pub fn new(name: &str) -> CtName<'static> {
        CtName {
            name: Cow::Owned(name.as_bytes().to_vec()),
            other: Vec::new(),
        }
    }

    /// The name as text, `None` when it is not UTF-8.
    #[must_use]
    pub fn as_str(&self) -> Option<&str> {
        core::str::from_utf8(&self.name).ok()
    }

    /// Reads the nest `a` of `space`, whose name member is `name_kind`.
    fn parse(a: &Attr<'a>, space: Space, name_kind: u16) -> Result<CtName<'a>, WireError> {
        let mut name = None;
        let mut other = Vec::new();
        for m in a.nested() {
            let m = m?;
            if m.kind() == name_kind {
                name = Some(Cow::Borrowed(without_nul(m.value())));
            } else {
                other.push(m.to_raw());
            }
        }
        let name = name.ok_or(WireError::MissingAttribute {
            space,
            kind: name_kind,
        })?;
        Ok(CtName { name, other })
    }

    /// A copy that owns all its data.
    #[must_use]
    pub fn into_owned(self) -> CtName<'static> {
        CtName {
            name: Cow::Owned(self.name.into_owned()),
            other: self.other.into_iter().map(RawAttr::into_owned).collect(),
        }
    }

    /// Writes the nest `outer`: the name as the kernel's `nla_put_string` does (with its
    /// NUL), then the other members.
    fn write(&self, w: &mut Writer<'_>, outer: u16, name_kind: u16) {
        w.nest(outer | NLA_F_NESTED, |w| {
            let mut name = self.name.to_vec();
            name.push(0);
            w.attr(name_kind, &name);
            for a in &self.other {
                a.write(w);
            }
        });
    }
}

/// `value` without the one terminating NUL a kernel string carries.
fn without_nul(value: &[u8]) -> &[u8] {
    value.strip_suffix(&[0]).unwrap_or(value)
}

fn be64(space: Space, a: &Attr<'_>) -> Result<u64, WireError> {
    exact::<8>(space, a).map(|b| u64::from_be_bytes(*b))
}

/// Bytes of a label bitmap ([`uapi::NF_CT_LABELS_MAX_SIZE`](super::uapi::NF_CT_LABELS_MAX_SIZE)).
const LABELS_LEN: usize = sys::NF_CT_LABELS_MAX_SIZE;

/// A connection's labels (`CTA_LABELS`, `-m connlabel`, nft `ct label`): a bitmap of 128
/// labels, as the kernel keeps it (an array of `unsigned long` in host order, which is what
/// the bytes are on the wire too).
///
/// ```
/// use netfilter_safe::wire::ConnLabels;
/// let labels = ConnLabels::EMPTY.with(3).with(100);
/// assert!(labels.contains(3) && labels.contains(100) && !labels.contains(4));
/// assert_eq!(labels.iter().collect::<Vec<_>>(), [3, 100]);
/// assert_eq!(ConnLabels::from_bytes(*labels.as_bytes()), labels);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ConnLabels([u8; LABELS_LEN]);

impl ConnLabels {
    /// No label set.
    pub const EMPTY: ConnLabels = ConnLabels([0; LABELS_LEN]);
    /// How many labels there are (bits 0 to 127).
    pub const BITS: u8 = (LABELS_LEN * 8) as u8;

    /// The bitmap from its wire bytes.
    #[must_use]
    pub fn from_bytes(bytes: [u8; LABELS_LEN]) -> ConnLabels {
        ConnLabels(bytes)
    }

    /// The wire bytes.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8; LABELS_LEN] {
        &self.0
    }

    /// Where label `bit` is: a byte index and a mask, in the kernel's `unsigned long` words.
    fn position(bit: u8) -> (usize, u8) {
        const WORD: usize = core::mem::size_of::<usize>();
        let bit = usize::from(bit);
        let (word, in_word) = (bit / (WORD * 8), bit % (WORD * 8));
        let byte = if cfg!(target_endian = "little") {
            in_word / 8
        } else {
            WORD - 1 - in_word / 8
        };
        (word * WORD + byte, 1 << (in_word % 8))
    }

    /// Whether label `bit` is set (`false` from 128 on).
    #[must_use]
    pub fn contains(&self, bit: u8) -> bool {
        let (at, mask) = Self::position(bit);
        self.0.get(at).is_some_and(|b| b & mask != 0)
    }

    /// With label `bit` set (labels from 128 on do not exist and change nothing).
    #[must_use]
    pub fn with(mut self, bit: u8) -> ConnLabels {
        let (at, mask) = Self::position(bit);
        if let Some(b) = self.0.get_mut(at) {
            *b |= mask;
        }
        self
    }

    /// Whether no label is set.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0 == [0; LABELS_LEN]
    }

    /// The labels that are set, in increasing order.
    pub fn iter(&self) -> impl Iterator<Item = u8> + '_ {
        (0..Self::BITS).filter(|&bit| self.contains(bit))
    }
}

/// Members of the nest [`Conntrack`] locates (types from here on are only in `unknown`).
const CT_TYPES: usize = LABELS_MASK as usize + 1;

/// How [`Conntrack::new_checked`] checks each member: scalars by length, the nests by their
/// own parsers.
const CHECKS: Checks = Checks::NONE
    .len(STATUS, 4)
    .len(TIMEOUT, 4)
    .len(MARK, 4)
    .len(USE, 4)
    .len(ID, 4)
    .len(SECMARK, 4)
    .len(ZONE, 2)
    .len(MARK_MASK, 4)
    .len(LABELS, LABELS_LEN)
    .len(LABELS_MASK, LABELS_LEN)
    .custom(TUPLE_ORIG)
    .custom(TUPLE_REPLY)
    .custom(TUPLE_MASTER)
    .custom(COUNTERS_ORIG)
    .custom(COUNTERS_REPLY)
    .custom(TIMESTAMP)
    .custom(PROTOINFO)
    .custom(HELP)
    .custom(SECCTX);

/// The members [`CHECKS`] leaves to their parsers.
fn check_member(a: &Attr<'_>) -> Result<(), WireError> {
    match a.kind() {
        COUNTERS_ORIG | COUNTERS_REPLY => Counters::parse(a).map(drop),
        TIMESTAMP => CtTimestamp::parse(a).map(drop),
        PROTOINFO => ProtoInfo::parse(a).map(drop),
        HELP => CtName::parse(a, Space::CtHelp, HELP_NAME).map(drop),
        SECCTX => CtName::parse(a, Space::CtSecctx, SECCTX_NAME).map(drop),
        _ => Tuple::parse(a).map(drop),
    }
}

/// Whether [`Conntrack`] has a reader for member type `kind`.
fn known_member(kind: u16) -> bool {
    matches!(
        kind,
        TUPLE_ORIG
            | TUPLE_REPLY
            | STATUS
            | PROTOINFO
            | HELP
            | SECCTX
            | TIMEOUT
            | MARK
            | COUNTERS_ORIG
            | COUNTERS_REPLY
            | USE
            | ID
            | TUPLE_MASTER
            | SECMARK
            | ZONE
            | TIMESTAMP
            | MARK_MASK
            | LABELS
            | LABELS_MASK
    )
}

/// A checked, zero-copy view of a conntrack nest (the value of `NFQA_CT` / `NFULA_CT`, or of
/// a verdict's `NFQA_CT`): its members located in one walk, each checked (scalars by size,
/// tuples, counters, timestamp, protocol info, helper and security context member by
/// member), each decoded when read. Members the readers do not read (`CTA_NAT_*`,
/// `CTA_SEQ_ADJ_*`, `CTA_SYNPROXY`, a newer kernel's) are in [`Conntrack::unknown`].
///
/// ```
/// use std::net::Ipv4Addr;
/// use netfilter_safe::wire::{Conntrack, CtEntry, CtStatus, Emit, Tuple};
///
/// # fn main() -> Result<(), netfilter_safe::wire::WireError> {
/// let orig = Tuple::new(Ipv4Addr::new(198, 18, 0, 1).into(), Ipv4Addr::new(198, 18, 0, 2).into(), 17)
///     .with_ports(4000, 53);
/// let mut entry = CtEntry::default();
/// entry.orig = Some(orig);
/// entry.reply = Some(orig.reversed());
/// entry.status = Some(CtStatus::CONFIRMED | CtStatus::SEEN_REPLY);
/// entry.mark = Some(0x2a);
/// let nest = entry.to_bytes()?;
///
/// let ct = Conntrack::new_checked(&nest)?;
/// assert_eq!(ct.orig().map(|t| t.dst_port), Some(Some(53)));
/// assert_eq!(ct.reply().map(|t| t.src), Some(Ipv4Addr::new(198, 18, 0, 2).into()));
/// assert!(ct.status().is_some_and(|s| s.contains(CtStatus::SEEN_REPLY)));
/// assert_eq!((ct.mark(), ct.id()), (Some(0x2a), None));
/// assert_eq!(CtEntry::parse(&ct), entry);
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Conntrack<'a> {
    nest: &'a [u8],
    table: AttrTable<CT_TYPES>,
}

impl<'a> Conntrack<'a> {
    /// Checks the members of the nest `nest` (the attribute's value) and locates them.
    ///
    /// # Errors
    /// [`WireError::Truncated`] / [`WireError::BadLength`] for broken framing, here or in a
    /// nest inside; [`WireError::BadAttribute`] for a value of the wrong size (in
    /// [`Space::Conntrack`], [`Space::CtTuple`], [`Space::CtIp`], [`Space::CtProto`],
    /// [`Space::CtCounters`] or [`Space::CtTimestamp`]); [`WireError::MissingAttribute`] for
    /// a tuple without addresses or protocol number, ICMP fields without all three, counters
    /// without both counts, a timestamp without its start.
    pub fn new_checked(nest: &'a [u8]) -> Result<Conntrack<'a>, WireError> {
        let mut table = AttrTable::EMPTY;
        table.fill(nest, 0, S, CHECKS, check_member)?;
        Ok(Conntrack { nest, table })
    }

    /// The nest's bytes, as given.
    #[must_use]
    pub fn as_bytes(&self) -> &'a [u8] {
        self.nest
    }

    fn get(&self, kind: u16) -> Option<Attr<'a>> {
        self.table.get(self.nest, kind)
    }

    fn u32(&self, kind: u16) -> Option<u32> {
        be32(S, &self.get(kind)?).ok()
    }

    fn tuple(&self, kind: u16) -> Option<Tuple> {
        Tuple::parse(&self.get(kind)?).ok()
    }

    fn labels_of(&self, kind: u16) -> Option<ConnLabels> {
        exact::<LABELS_LEN>(S, &self.get(kind)?)
            .ok()
            .map(|b| ConnLabels(*b))
    }

    /// `CTA_TUPLE_ORIG`: the original direction (as the first packet went).
    #[must_use]
    pub fn orig(&self) -> Option<Tuple> {
        self.tuple(TUPLE_ORIG)
    }

    /// `CTA_TUPLE_REPLY`: the reply direction (after NAT, where the replies come from).
    #[must_use]
    pub fn reply(&self) -> Option<Tuple> {
        self.tuple(TUPLE_REPLY)
    }

    /// `CTA_TUPLE_MASTER`: the original direction of the connection this one is expected by
    /// (FTP data: the control connection).
    #[must_use]
    pub fn master(&self) -> Option<Tuple> {
        self.tuple(TUPLE_MASTER)
    }

    /// `CTA_STATUS`.
    #[must_use]
    pub fn status(&self) -> Option<CtStatus> {
        self.u32(STATUS).map(CtStatus::from_bits_retain)
    }

    /// `CTA_TIMEOUT`: seconds until the entry expires without traffic.
    #[must_use]
    pub fn timeout(&self) -> Option<u32> {
        self.u32(TIMEOUT)
    }

    /// `CTA_PROTOINFO`: what the connection's protocol tracker reports (TCP, DCCP, SCTP).
    #[must_use]
    pub fn protoinfo(&self) -> Option<ProtoInfo<'a>> {
        ProtoInfo::parse(&self.get(PROTOINFO)?).ok()
    }

    /// `CTA_PROTOINFO_TCP`: the TCP tracker's state, window scales and flags.
    #[must_use]
    pub fn tcp(&self) -> Option<TcpInfo> {
        self.protoinfo()?.tcp
    }

    /// `CTA_HELP`: the connection's helper (`ftp`, `sip`), with a helper's own members.
    #[must_use]
    pub fn helper(&self) -> Option<CtName<'a>> {
        CtName::parse(&self.get(HELP)?, Space::CtHelp, HELP_NAME).ok()
    }

    /// The helper's name (`CTA_HELP_NAME`), `None` without a helper or when it is not UTF-8.
    #[must_use]
    pub fn helper_name(&self) -> Option<&'a str> {
        self.name_of(HELP, HELP_NAME)
    }

    /// `CTA_SECCTX`: the connection's security context (with `CONFIG_NF_CONNTRACK_SECMARK`
    /// and a secmark set, e.g. by `CONNSECMARK`).
    #[must_use]
    pub fn secctx(&self) -> Option<CtName<'a>> {
        CtName::parse(&self.get(SECCTX)?, Space::CtSecctx, SECCTX_NAME).ok()
    }

    /// The security context as text (`CTA_SECCTX_NAME`), `None` without one or when it is
    /// not UTF-8.
    #[must_use]
    pub fn secctx_name(&self) -> Option<&'a str> {
        self.name_of(SECCTX, SECCTX_NAME)
    }

    /// The name member `name_kind` of the nest `kind` (checked by `new_checked`), as text.
    fn name_of(&self, kind: u16, name_kind: u16) -> Option<&'a str> {
        let name = self
            .get(kind)?
            .nested()
            .find_map(|m| m.ok().filter(|m| m.kind() == name_kind))?;
        core::str::from_utf8(without_nul(name.value())).ok()
    }

    /// `CTA_MARK`: the connection mark (`ct mark`, `CONNMARK`).
    #[must_use]
    pub fn mark(&self) -> Option<u32> {
        self.u32(MARK)
    }

    /// `CTA_MARK_MASK`: which bits of [`Conntrack::mark`] a verdict changes.
    #[must_use]
    pub fn mark_mask(&self) -> Option<u32> {
        self.u32(MARK_MASK)
    }

    /// `CTA_COUNTERS_ORIG`: the original direction's counts.
    #[must_use]
    pub fn counters_orig(&self) -> Option<Counters> {
        Counters::parse(&self.get(COUNTERS_ORIG)?).ok()
    }

    /// `CTA_COUNTERS_REPLY`: the reply direction's counts.
    #[must_use]
    pub fn counters_reply(&self) -> Option<Counters> {
        Counters::parse(&self.get(COUNTERS_REPLY)?).ok()
    }

    /// `CTA_USE`: the entry's reference count.
    #[must_use]
    pub fn use_count(&self) -> Option<u32> {
        self.u32(USE)
    }

    /// `CTA_ID`: the entry's id (as `conntrack -L -o id` shows it).
    #[must_use]
    pub fn id(&self) -> Option<u32> {
        self.u32(ID)
    }

    /// `CTA_ZONE`: the conntrack zone (sent when not 0).
    #[must_use]
    pub fn zone(&self) -> Option<u16> {
        be16(S, &self.get(ZONE)?).ok()
    }

    /// `CTA_SECMARK` (obsolete: kernels send `CTA_SECCTX`, found in
    /// [`Conntrack::unknown`]).
    #[must_use]
    pub fn secmark(&self) -> Option<u32> {
        self.u32(SECMARK)
    }

    /// `CTA_TIMESTAMP`.
    #[must_use]
    pub fn timestamp(&self) -> Option<CtTimestamp> {
        CtTimestamp::parse(&self.get(TIMESTAMP)?).ok()
    }

    /// `CTA_LABELS` (sent when a label is set).
    #[must_use]
    pub fn labels(&self) -> Option<ConnLabels> {
        self.labels_of(LABELS)
    }

    /// `CTA_LABELS_MASK`: which labels a verdict changes.
    #[must_use]
    pub fn labels_mask(&self) -> Option<ConnLabels> {
        self.labels_of(LABELS_MASK)
    }

    /// The members none of the readers reads, in order (type with flags masked off by
    /// [`Attr::kind`], value by [`Attr::value`]).
    pub fn unknown(&self) -> impl Iterator<Item = Attr<'a>> + use<'a> {
        self.table.others(self.nest, 0, known_member)
    }
}

impl fmt::Debug for Conntrack<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Conntrack")
            .field("orig", &self.orig())
            .field("reply", &self.reply())
            .field("status", &self.status())
            .field("mark", &self.mark())
            .field("id", &self.id())
            .field("zone", &self.zone())
            .field("timeout", &self.timeout())
            .field("tcp", &self.tcp())
            .finish_non_exhaustive()
    }
}

/// A conntrack nest as values: what [`Conntrack`] reads, built or changed field by field, and
/// emitted ([`Emit`] writes the nest's members, the value of an `NFQA_CT` / `NFULA_CT`).
///
/// Emission follows the kernel's `ctnetlink_glue_build` for the members it sends (tuples,
/// zone, id, status, timeout, protocol info, counters, timestamp, use, helper, security
/// context, master, mark, labels), then the
/// verdict-only masks and the `unknown` members. A verdict's `NFQA_CT` carries only what it
/// changes, e.g. `mark` (with `mark_mask`) or `labels` with `labels_mask`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct CtEntry<'a> {
    /// `CTA_TUPLE_ORIG`.
    pub orig: Option<Tuple>,
    /// `CTA_TUPLE_REPLY`.
    pub reply: Option<Tuple>,
    /// `CTA_TUPLE_MASTER`.
    pub master: Option<Tuple>,
    /// `CTA_STATUS`.
    pub status: Option<CtStatus>,
    /// `CTA_TIMEOUT`, seconds.
    pub timeout: Option<u32>,
    /// `CTA_PROTOINFO`.
    pub protoinfo: Option<ProtoInfo<'a>>,
    /// `CTA_HELP`.
    pub helper: Option<CtName<'a>>,
    /// `CTA_SECCTX`.
    pub secctx: Option<CtName<'a>>,
    /// `CTA_MARK`.
    pub mark: Option<u32>,
    /// `CTA_MARK_MASK`.
    pub mark_mask: Option<u32>,
    /// `CTA_COUNTERS_ORIG`.
    pub counters_orig: Option<Counters>,
    /// `CTA_COUNTERS_REPLY`.
    pub counters_reply: Option<Counters>,
    /// `CTA_USE`.
    pub use_count: Option<u32>,
    /// `CTA_ID`.
    pub id: Option<u32>,
    /// `CTA_ZONE`.
    pub zone: Option<u16>,
    /// `CTA_SECMARK`.
    pub secmark: Option<u32>,
    /// `CTA_TIMESTAMP`.
    pub timestamp: Option<CtTimestamp>,
    /// `CTA_LABELS`.
    pub labels: Option<ConnLabels>,
    /// `CTA_LABELS_MASK`.
    pub labels_mask: Option<ConnLabels>,
    /// Other members, in order.
    pub unknown: Vec<RawAttr<'a>>,
}

impl<'a> CtEntry<'a> {
    /// Every member of a checked nest. Every field is listed (no `..`), so a new one cannot
    /// be forgotten here.
    #[must_use]
    pub fn parse(ct: &Conntrack<'a>) -> CtEntry<'a> {
        CtEntry {
            orig: ct.orig(),
            reply: ct.reply(),
            master: ct.master(),
            status: ct.status(),
            timeout: ct.timeout(),
            protoinfo: ct.protoinfo(),
            helper: ct.helper(),
            secctx: ct.secctx(),
            mark: ct.mark(),
            mark_mask: ct.mark_mask(),
            counters_orig: ct.counters_orig(),
            counters_reply: ct.counters_reply(),
            use_count: ct.use_count(),
            id: ct.id(),
            zone: ct.zone(),
            secmark: ct.secmark(),
            timestamp: ct.timestamp(),
            labels: ct.labels(),
            labels_mask: ct.labels_mask(),
            unknown: ct.unknown().map(|a| a.to_raw()).collect(),
        }
    }

    /// Checks and parses the nest `nest`.
    ///
    /// # Errors
    /// As [`Conntrack::new_checked`].
    pub fn parse_bytes(nest: &'a [u8]) -> Result<CtEntry<'a>, WireError> {
        Conntrack::new_checked(nest).map(|ct| CtEntry::parse(&ct))
    }

    /// A copy that owns all its data.
    #[must_use]
    pub fn into_owned(self) -> CtEntry<'static> {
        CtEntry {
            unknown: self.unknown.into_iter().map(RawAttr::into_owned).collect(),
            protoinfo: self.protoinfo.map(ProtoInfo::into_owned),
            helper: self.helper.map(CtName::into_owned),
            secctx: self.secctx.map(CtName::into_owned),
            orig: self.orig,
            reply: self.reply,
            master: self.master,
            status: self.status,
            timeout: self.timeout,
            mark: self.mark,
            mark_mask: self.mark_mask,
            counters_orig: self.counters_orig,
            counters_reply: self.counters_reply,
            use_count: self.use_count,
            id: self.id,
            zone: self.zone,
            secmark: self.secmark,
            timestamp: self.timestamp,
            labels: self.labels,
            labels_mask: self.labels_mask,
        }
    }

    fn write(&self, w: &mut Writer<'_>) {
        if let Some(t) = &self.orig {
            t.write(w, TUPLE_ORIG);
        }
        if let Some(t) = &self.reply {
            t.write(w, TUPLE_REPLY);
        }
        if let Some(v) = self.zone {
            w.attr_u16(ZONE, v);
        }
        if let Some(v) = self.id {
            w.attr_u32(ID, v);
        }
        if let Some(v) = self.status {
            w.attr_u32(STATUS, v.bits());
        }
        if let Some(v) = self.timeout {
            w.attr_u32(TIMEOUT, v);
        }
        if let Some(p) = &self.protoinfo {
            p.write(w);
        }
        if let Some(c) = &self.counters_orig {
            c.write(w, COUNTERS_ORIG);
        }
        if let Some(c) = &self.counters_reply {
            c.write(w, COUNTERS_REPLY);
        }
        if let Some(t) = &self.timestamp {
            t.write(w);
        }
        if let Some(v) = self.use_count {
            w.attr_u32(USE, v);
        }
        if let Some(h) = &self.helper {
            h.write(w, HELP, HELP_NAME);
        }
        if let Some(c) = &self.secctx {
            c.write(w, SECCTX, SECCTX_NAME);
        }
        if let Some(t) = &self.master {
            t.write(w, TUPLE_MASTER);
        }
        if let Some(v) = self.secmark {
            w.attr_u32(SECMARK, v);
        }
        if let Some(v) = self.mark {
            w.attr_u32(MARK, v);
        }
        if let Some(v) = self.mark_mask {
            w.attr_u32(MARK_MASK, v);
        }
        if let Some(v) = &self.labels {
            w.attr(LABELS, v.as_bytes());
        }
        if let Some(v) = &self.labels_mask {
            w.attr(LABELS_MASK, v.as_bytes());
        }
        for a in &self.unknown {
            a.write(w);
        }
    }
}

impl Emit for CtEntry<'_> {
    fn buffer_len(&self) -> usize {
        counted(|w| self.write(w))
    }

    fn emit(&self, out: &mut Vec<u8>) -> Result<(), WireError> {
        emitted(out, |w| self.write(w))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::netlink::Writer;
    use std::borrow::Cow;

    fn v4(a: [u8; 4]) -> IpAddr {
        Ipv4Addr::from(a).into()
    }

    fn full() -> CtEntry<'static> {
        let orig = Tuple::new(v4([198, 18, 0, 1]), v4([198, 18, 0, 2]), 6).with_ports(40000, 80);
        CtEntry {
            orig: Some(orig),
            reply: Some(orig.reversed().with_zone(3)),
            master: Some(
                Tuple::new(
                    "2001:db8::1".parse().unwrap(),
                    "2001:db8::2".parse().unwrap(),
                    58,
                )
                .with_icmp(Icmp {
                    id: 7,
                    icmp_type: 128,
                    code: 0,
                }),
            ),
            status: Some(CtStatus::CONFIRMED | CtStatus::from_bits_retain(1 << 20)),
            timeout: Some(120),
            protoinfo: Some(ProtoInfo {
                tcp: Some(TcpInfo {
                    state: TcpState::Established,
                    wscale_orig: Some(7),
                    wscale_reply: Some(9),
                    flags_orig: Some(TcpFlagSet {
                        flags: TcpFlags::WINDOW_SCALE | TcpFlags::SACK_PERM,
                        mask: TcpFlags::empty(),
                    }),
                    flags_reply: Some(TcpFlagSet {
                        flags: TcpFlags::from_bits_retain(0xff),
                        mask: TcpFlags::CLOSE_INIT,
                    }),
                }),
                // An SCTP member, kept as it came: CTA_PROTOINFO_SCTP_STATE (u8) 3.
                other: vec![RawAttr {
                    raw_type: PROTOINFO_SCTP | NLA_F_NESTED,
                    value: Cow::Borrowed(&[5, 0, 1, 0, 3, 0, 0, 0]),
                }],
            }),
            mark: Some(0xdead_beef),
            mark_mask: Some(0xffff),
            counters_orig: Some(Counters {
                packets: 1 << 40,
                bytes: 3,
            }),
            counters_reply: Some(Counters {
                packets: 4,
                bytes: 5,
            }),
            use_count: Some(1),
            id: Some(0x1234_5678),
            zone: Some(9),
            secmark: Some(11),
            timestamp: Some(CtTimestamp {
                start: 1_700_000_000_000_000_000,
                stop: Some(1_700_000_001_000_000_000),
            }),
            labels: Some(ConnLabels::EMPTY.with(0).with(127)),
            labels_mask: Some(ConnLabels::from_bytes([0xff; LABELS_LEN])),
            helper: Some(CtName {
                name: Cow::Borrowed(b"ftp"),
                other: vec![RawAttr {
                    raw_type: HELP_INFO,
                    value: Cow::Borrowed(&[1, 2, 3]),
                }],
            }),
            secctx: Some(CtName::new("system_u:object_r:ssh_port_t:s0")),
            // CTA_SEQ_ADJ_ORIG { CTA_SEQADJ_CORRECTION_POS (u32) 9 }.
            unknown: vec![RawAttr {
                raw_type: SEQ_ADJ_ORIG | NLA_F_NESTED,
                value: Cow::Borrowed(&[8, 0, 1, 0, 0, 0, 0, 9]),
            }],
        }
    }

    #[test]
    fn every_member_round_trips() {
        let entry = full();
        let nest = entry.to_bytes().expect("emit");
        assert_eq!(nest.len(), entry.buffer_len());
        let ct = Conntrack::new_checked(&nest).expect("checked");
        assert_eq!(CtEntry::parse(&ct), entry);
        let unknown: Vec<_> = ct.unknown().map(|a| a.kind()).collect();
        assert_eq!(unknown, [SEQ_ADJ_ORIG]);
        assert_eq!(ct.helper_name(), Some("ftp"));
        assert_eq!(ct.secctx_name(), Some("system_u:object_r:ssh_port_t:s0"));
        assert!(format!("{ct:?}").starts_with("Conntrack { orig: Some(Tuple"));
    }

    /// A `CTA_PROTOINFO` as the kernel's `tcp_to_nlattr` writes it, written here member by
    /// member (not through [`TcpInfo`]'s own writer).
    fn kernel_tcp_protoinfo(members: impl FnOnce(&mut Writer<'_>)) -> Vec<u8> {
        let mut nest = Vec::new();
        let mut w = Writer::appending(&mut nest);
        w.nest(PROTOINFO | NLA_F_NESTED, |w| {
            w.nest(PROTOINFO_TCP | NLA_F_NESTED, members);
        });
        w.finish().expect("written");
        nest
    }

    #[test]
    fn the_tcp_trackers_members_read_back() {
        let nest = kernel_tcp_protoinfo(|w| {
            w.attr(PROTOINFO_TCP_STATE, &[sys::TCP_CONNTRACK_TIME_WAIT as u8]);
            w.attr(PROTOINFO_TCP_WSCALE_ORIGINAL, &[7]);
            w.attr(PROTOINFO_TCP_WSCALE_REPLY, &[0]);
            w.attr(PROTOINFO_TCP_FLAGS_ORIGINAL, &[0x23, 0]);
            w.attr(PROTOINFO_TCP_FLAGS_REPLY, &[0x04, 0]);
        });
        let ct = Conntrack::new_checked(&nest).expect("checked");
        let tcp = ct.tcp().expect("TCP info");
        assert_eq!(tcp.state, TcpState::TimeWait);
        assert_eq!((tcp.wscale_orig, tcp.wscale_reply), (Some(7), Some(0)));
        let orig = tcp.flags_orig.expect("flags").flags;
        assert_eq!(
            orig,
            TcpFlags::WINDOW_SCALE | TcpFlags::SACK_PERM | TcpFlags::MAXACK_SET
        );
        assert_eq!(tcp.flags_reply.map(|f| f.flags), Some(TcpFlags::CLOSE_INIT));
        assert_eq!(ct.unknown().count(), 0);
        // What the typed entry writes is what was read.
        assert_eq!(CtEntry::parse(&ct).to_bytes().expect("emit"), nest);
    }

    #[test]
    fn a_tcp_member_without_its_state_or_of_the_wrong_size_is_refused() {
        let no_state = kernel_tcp_protoinfo(|w| w.attr(PROTOINFO_TCP_WSCALE_ORIGINAL, &[7]));
        assert_eq!(
            Conntrack::new_checked(&no_state).map(drop),
            Err(WireError::MissingAttribute {
                space: Space::CtTcp,
                kind: PROTOINFO_TCP_STATE
            })
        );
        let wide_state = kernel_tcp_protoinfo(|w| w.attr(PROTOINFO_TCP_STATE, &[3, 0]));
        assert!(matches!(
            Conntrack::new_checked(&wide_state),
            Err(WireError::BadAttribute {
                space: Space::CtTcp,
                ..
            })
        ));
        let short_flags = kernel_tcp_protoinfo(|w| {
            w.attr(PROTOINFO_TCP_STATE, &[3]);
            w.attr(PROTOINFO_TCP_FLAGS_REPLY, &[1]);
        });
        assert!(Conntrack::new_checked(&short_flags).is_err());
    }

    #[test]
    fn names_read_as_the_kernel_writes_them_and_without_one_are_refused() {
        let mut nest = Vec::new();
        let mut w = Writer::appending(&mut nest);
        w.nest(HELP | NLA_F_NESTED, |w| w.attr(HELP_NAME, b"sip\0"));
        w.nest(SECCTX | NLA_F_NESTED, |w| {
            w.attr(SECCTX_NAME, &[0xff, 0xfe, 0])
        });
        w.finish().expect("written");
        let ct = Conntrack::new_checked(&nest).expect("checked");
        assert_eq!(ct.helper_name(), Some("sip"));
        assert_eq!(
            ct.helper().map(|h| h.name.into_owned()),
            Some(b"sip".to_vec())
        );
        // Not UTF-8: no text, the bytes kept.
        assert_eq!(ct.secctx_name(), None);
        let secctx = ct.secctx().expect("CTA_SECCTX");
        assert_eq!(
            (&secctx.name[..], secctx.as_str()),
            (&[0xff, 0xfe][..], None)
        );
        assert_eq!(CtEntry::parse(&ct).to_bytes().expect("emit"), nest);

        let mut nameless = Vec::new();
        let mut w = Writer::appending(&mut nameless);
        w.nest(HELP | NLA_F_NESTED, |w| w.attr(HELP_INFO, &[1]));
        w.finish().expect("written");
        assert_eq!(
            Conntrack::new_checked(&nameless).map(drop),
            Err(WireError::MissingAttribute {
                space: Space::CtHelp,
                kind: HELP_NAME
            })
        );
    }

    #[test]
    fn tcp_states_convert_both_ways() {
        for raw in 0..=u8::MAX {
            let state = TcpState::from(raw);
            assert_eq!(u8::from(state), raw);
            assert_eq!(state.name().is_some(), raw <= 9, "{raw}");
        }
        assert_eq!(TcpState::SynSent2.to_string(), "SYN_SENT2");
        assert_eq!(TcpState::Other(12).to_string(), "12");
    }

    #[test]
    fn thirty_two_bit_counters_and_flagless_nests_parse() {
        let mut nest = Vec::new();
        let mut w = Writer::appending(&mut nest);
        w.nest(COUNTERS_REPLY, |w| {
            w.attr_u32(COUNTERS32_PACKETS, 7);
            w.attr_u32(COUNTERS32_BYTES, 700);
        });
        w.finish().expect("written");
        let ct = Conntrack::new_checked(&nest).expect("checked");
        assert_eq!(
            ct.counters_reply(),
            Some(Counters {
                packets: 7,
                bytes: 700
            })
        );
    }

    #[test]
    fn malformed_members_are_errors() {
        let cases: Vec<(Vec<u8>, WireError)> = {
            let nest = |f: &dyn Fn(&mut Writer<'_>)| {
                let mut v = Vec::new();
                let mut w = Writer::appending(&mut v);
                f(&mut w);
                v
            };
            vec![
                (
                    nest(&|w| w.attr(MARK, &[1, 2, 3])),
                    WireError::BadAttribute {
                        space: Space::Conntrack,
                        kind: MARK,
                        len: 3,
                    },
                ),
                (
                    nest(&|w| {
                        w.nest(TUPLE_ORIG, |w| {
                            w.nest(TUPLE_IP, |w| w.attr(IP_V4_SRC, &[1]))
                        })
                    }),
                    WireError::BadAttribute {
                        space: Space::CtIp,
                        kind: IP_V4_SRC,
                        len: 1,
                    },
                ),
                (
                    nest(&|w| {
                        w.nest(TUPLE_REPLY, |w| {
                            w.nest(TUPLE_IP, |w| {
                                w.attr(IP_V4_SRC, &[1; 4]);
                                w.attr(IP_V4_DST, &[2; 4]);
                            })
                        })
                    }),
                    WireError::MissingAttribute {
                        space: Space::CtTuple,
                        kind: TUPLE_PROTO,
                    },
                ),
                (
                    nest(&|w| w.nest(TIMESTAMP, |w| w.attr(TIMESTAMP_STOP, &[0; 8]))),
                    WireError::MissingAttribute {
                        space: Space::CtTimestamp,
                        kind: TIMESTAMP_START,
                    },
                ),
                (
                    nest(&|w| w.attr(LABELS, &[0; 8])),
                    WireError::BadAttribute {
                        space: Space::Conntrack,
                        kind: LABELS,
                        len: 8,
                    },
                ),
            ]
        };
        for (bytes, expected) in cases {
            assert_eq!(Conntrack::new_checked(&bytes), Err(expected));
        }
    }

    #[test]
    fn every_truncation_is_an_error_or_a_shorter_nest_never_a_panic() {
        let nest = full().to_bytes().expect("emit");
        for cut in 0..nest.len() {
            if let Ok(ct) = Conntrack::new_checked(&nest[..cut]) {
                // Cut at a member boundary: what is left reads back.
                let _ = CtEntry::parse(&ct);
            }
        }
    }

    #[test]
    fn states_convert_both_ways_and_print_kernel_names() {
        for raw in 0..10u32 {
            assert_eq!(u32::from(CtState::from(raw)), raw);
        }
        assert_eq!(CtState::from(7), CtState::Untracked);
        assert_eq!(CtState::from(2).to_string(), "NEW");
        assert_eq!(CtState::from(5).to_string(), "5");
    }

    #[test]
    fn labels_follow_the_kernels_words() {
        let l = ConnLabels::EMPTY.with(0).with(9).with(200);
        let word = usize::from_ne_bytes(l.as_bytes()[..size_of::<usize>()].try_into().unwrap());
        assert_eq!(word, 1 | 1 << 9);
        assert_eq!(l.iter().collect::<Vec<_>>(), [0, 9]);
        assert!(ConnLabels::EMPTY.is_empty() && !l.is_empty());
    }
}
