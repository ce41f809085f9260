//! [`CtBuilder`]: conntrack nests (`NFQA_CT`, `NFULA_CT`) as the kernel's glue writes them.

use std::borrow::Cow;
use std::net::{IpAddr, SocketAddr};

use netfilter_safe::wire::{
    ConnLabels, Counters, CtEntry, CtName, CtStatus, CtTimestamp, Emit, Icmp, ProtoInfo, RawAttr,
    TcpInfo, Tuple, WireError,
};

/// `IPPROTO_TCP`.
const TCP: u8 = libc::IPPROTO_TCP as u8;
/// `IPPROTO_UDP`.
const UDP: u8 = libc::IPPROTO_UDP as u8;
/// `IPPROTO_ICMP`.
const ICMP: u8 = libc::IPPROTO_ICMP as u8;
/// `IPPROTO_ICMPV6`.
const ICMPV6: u8 = libc::IPPROTO_ICMPV6 as u8;

/// Builds a conntrack nest, the bytes to give [`QueuePacketBuilder::ct`] or
/// [`LogPacketBuilder::ct`]: a thin layer over [`CtEntry`], which owns the layout (what
/// this writes is what [`Conntrack`](netfilter_safe::wire::Conntrack) reads).
///
/// A new builder has what the kernel always sends: both tuples (the reply the original
/// reversed, as without NAT), `CTA_ID` 1, `CTA_STATUS` 0 and `CTA_USE` 1; the setters add
/// the rest, [`with`](Self::with) changes any field (or removes one) exactly.
///
/// ```
/// use std::net::{Ipv4Addr, SocketAddr};
/// use netfilter_safe::wire::{Conntrack, CtStatus};
/// use netfilter_testkit::synth::CtBuilder;
///
/// # fn main() -> Result<(), netfilter_safe::wire::WireError> {
/// let a: SocketAddr = (Ipv4Addr::new(10, 0, 0, 1), 1234).into();
/// let b: SocketAddr = (Ipv4Addr::new(10, 0, 0, 2), 80).into();
/// let nest = CtBuilder::tcp(a, b).status(CtStatus::CONFIRMED).mark(5).timeout(120).to_bytes()?;
/// let ct = Conntrack::new_checked(&nest)?;
/// assert_eq!(ct.orig().map(|t| (t.src, t.src_port)), Some((a.ip(), Some(1234))));
/// assert_eq!((ct.mark(), ct.timeout(), ct.id()), (Some(5), Some(120), Some(1)));
/// # Ok(())
/// # }
/// ```
///
/// [`QueuePacketBuilder::ct`]: super::QueuePacketBuilder::ct
/// [`LogPacketBuilder::ct`]: super::LogPacketBuilder::ct
#[derive(Debug, Clone)]
pub struct CtBuilder {
    entry: CtEntry<'static>,
}

impl CtBuilder {
    /// The connection whose original direction is `orig`.
    #[must_use]
    pub fn new(orig: Tuple) -> Self {
        let mut entry = CtEntry::default();
        entry.orig = Some(orig);
        entry.reply = Some(orig.reversed());
        entry.id = Some(1);
        entry.status = Some(CtStatus::empty());
        entry.use_count = Some(1);
        CtBuilder { entry }
    }

    /// A TCP connection from `src` to `dst`.
    #[must_use]
    pub fn tcp(src: SocketAddr, dst: SocketAddr) -> Self {
        Self::new(Tuple::new(src.ip(), dst.ip(), TCP).with_ports(src.port(), dst.port()))
    }

    /// A UDP flow from `src` to `dst`.
    #[must_use]
    pub fn udp(src: SocketAddr, dst: SocketAddr) -> Self {
        Self::new(Tuple::new(src.ip(), dst.ip(), UDP).with_ports(src.port(), dst.port()))
    }

    /// An ICMP (IPv4 addresses) or ICMPv6 (IPv6) echo from `src` to `dst` with identifier
    /// `id`; the reply tuple has the echo reply's type, as the kernel inverts it.
    #[must_use]
    pub fn icmp_echo(src: IpAddr, dst: IpAddr, id: u16) -> Self {
        let (protocol, request, reply) = match src {
            IpAddr::V4(_) => (ICMP, 8, 0),
            IpAddr::V6(_) => (ICMPV6, 128, 129),
        };
        let icmp = |icmp_type| Icmp {
            id,
            icmp_type,
            code: 0,
        };
        let orig = Tuple::new(src, dst, protocol).with_icmp(icmp(request));
        Self::new(orig).reply(orig.reversed().with_icmp(icmp(reply)))
    }

    /// Changes any field directly (exact control: `None` removes a member).
    #[must_use]
    pub fn with(mut self, f: impl FnOnce(&mut CtEntry<'static>)) -> Self {
        f(&mut self.entry);
        self
    }

    /// `CTA_TUPLE_REPLY` (NAT: the reply comes from elsewhere).
    #[must_use]
    pub fn reply(mut self, reply: Tuple) -> Self {
        self.entry.reply = Some(reply);
        self
    }

    /// `CTA_TUPLE_MASTER`: the connection that expected this one.
    #[must_use]
    pub fn master(mut self, master: Tuple) -> Self {
        self.entry.master = Some(master);
        self
    }

    /// `CTA_STATUS`.
    #[must_use]
    pub fn status(mut self, status: CtStatus) -> Self {
        self.entry.status = Some(status);
        self
    }

    /// `CTA_TIMEOUT`, seconds.
    #[must_use]
    pub fn timeout(mut self, secs: u32) -> Self {
        self.entry.timeout = Some(secs);
        self
    }

    /// `CTA_MARK` (the kernel sends it when not 0; this sends it as given).
    #[must_use]
    pub fn mark(mut self, mark: u32) -> Self {
        self.entry.mark = Some(mark);
        self
    }

    /// `CTA_ID`.
    #[must_use]
    pub fn id(mut self, id: u32) -> Self {
        self.entry.id = Some(id);
        self
    }

    /// `CTA_ZONE`.
    #[must_use]
    pub fn zone(mut self, zone: u16) -> Self {
        self.entry.zone = Some(zone);
        self
    }

    /// `CTA_USE`.
    #[must_use]
    pub fn use_count(mut self, count: u32) -> Self {
        self.entry.use_count = Some(count);
        self
    }

    /// `CTA_SECMARK`.
    #[must_use]
    pub fn secmark(mut self, secmark: u32) -> Self {
        self.entry.secmark = Some(secmark);
        self
    }

    /// `CTA_LABELS`.
    #[must_use]
    pub fn labels(mut self, labels: ConnLabels) -> Self {
        self.entry.labels = Some(labels);
        self
    }

    /// `CTA_COUNTERS_ORIG` and `CTA_COUNTERS_REPLY`.
    #[must_use]
    pub fn counters(mut self, orig: Counters, reply: Counters) -> Self {
        self.entry.counters_orig = Some(orig);
        self.entry.counters_reply = Some(reply);
        self
    }

    /// `CTA_TIMESTAMP`: start and, for a connection that is gone, stop (nanoseconds since
    /// the epoch).
    #[must_use]
    pub fn timestamp(mut self, start: u64, stop: Option<u64>) -> Self {
        self.entry.timestamp = Some(CtTimestamp { start, stop });
        self
    }

    /// `CTA_PROTOINFO` with the TCP tracker's `info`.
    ///
    /// ```
    /// use netfilter_safe::wire::{Conntrack, TcpInfo, TcpState};
    /// use netfilter_testkit::synth::CtBuilder;
    ///
    /// let nest = CtBuilder::tcp("198.18.0.1:4000".parse()?, "198.18.0.2:80".parse()?)
    ///     .tcp_info(TcpInfo::new(TcpState::Established))
    ///     .to_bytes()?;
    /// let ct = Conntrack::new_checked(&nest)?;
    /// assert_eq!(ct.tcp().map(|t| t.state), Some(TcpState::Established));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn tcp_info(mut self, info: TcpInfo) -> Self {
        self.entry.protoinfo = Some(ProtoInfo::tcp(info));
        self
    }

    /// `CTA_HELP` with the helper's `name` (`ftp`).
    #[must_use]
    pub fn helper(mut self, name: &str) -> Self {
        self.entry.helper = Some(CtName::new(name));
        self
    }

    /// `CTA_SECCTX` with the security context `name`.
    #[must_use]
    pub fn secctx(mut self, name: &str) -> Self {
        self.entry.secctx = Some(CtName::new(name));
        self
    }

    /// A member this crate has no setter for (`CTA_NAT_SRC`, a newer kernel's), written
    /// after the others with its raw `nla_type` (add `NLA_F_NESTED` for a nest).
    #[must_use]
    pub fn unknown(mut self, raw_type: u16, value: impl Into<Vec<u8>>) -> Self {
        self.entry.unknown.push(RawAttr {
            raw_type,
            value: Cow::Owned(value.into()),
        });
        self
    }

    /// The entry as built.
    #[must_use]
    pub fn build(self) -> CtEntry<'static> {
        self.entry
    }

    /// The nest's bytes (the value of `NFQA_CT` / `NFULA_CT`).
    ///
    /// # Errors
    /// [`WireError::TooLong`] for unknown members past what a netlink length describes.
    pub fn to_bytes(&self) -> Result<Vec<u8>, WireError> {
        self.entry.to_bytes()
    }
}
