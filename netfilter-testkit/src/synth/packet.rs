//! Builders for the packet messages the kernel sends, and datagrams laid out as it lays them.

use std::borrow::Cow;

use netfilter_safe::wire::{
    ControlMsg, Emit, HwAddr, LogPacket, NfHeader, QueuePacket, RawAttr, Timestamp, Vlan,
    WireError, push_message,
};

/// `NFPROTO_IPV4`.
pub const NFPROTO_IPV4: u8 = libc::NFPROTO_IPV4 as u8;
/// `NFPROTO_IPV6`.
pub const NFPROTO_IPV6: u8 = libc::NFPROTO_IPV6 as u8;
/// `NFPROTO_BRIDGE`.
pub const NFPROTO_BRIDGE: u8 = libc::NFPROTO_BRIDGE as u8;
/// `NFPROTO_NETDEV`.
pub const NFPROTO_NETDEV: u8 = libc::NFPROTO_NETDEV as u8;
/// `NFPROTO_UNSPEC`.
pub const NFPROTO_UNSPEC: u8 = libc::NFPROTO_UNSPEC as u8;

/// Ethertype of IPv4.
pub const ETH_P_IP: u16 = libc::ETH_P_IP as u16;
/// Ethertype of IPv6.
pub const ETH_P_IPV6: u16 = libc::ETH_P_IPV6 as u16;

fn nonzero(v: u32) -> Option<u32> {
    (v != 0).then_some(v)
}

fn family_protocol(family: u8) -> u16 {
    match family {
        NFPROTO_IPV4 => ETH_P_IP,
        NFPROTO_IPV6 => ETH_P_IPV6,
        _ => 0,
    }
}

/// Builds an NFQUEUE packet message as `nfqnl_build_packet_message` would.
///
/// Setters follow the kernel where it omits attributes: a mark, priority, class id, skb info
/// or interface index of 0 is not sent. [`copy_range`](Self::copy_range) cuts the payload and
/// adds `NFQA_CAP_LEN` as the kernel does. Set any field exactly (even a zero) with
/// [`with`](Self::with).
///
/// ```
/// use netfilter_safe::wire::QueuePacket;
/// use netfilter_testkit::synth::QueuePacketBuilder;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let bytes = QueuePacketBuilder::ipv4(1).packet_id(7).payload(vec![0x45; 100]).copy_range(40).to_bytes()?;
/// let parsed = QueuePacket::parse_bytes(&bytes)?;
/// assert_eq!(parsed.packet_hdr.packet_id, 7);
/// assert_eq!(parsed.payload.as_deref().map(<[u8]>::len), Some(40)); // cut as the kernel cuts
/// assert_eq!(parsed.cap_len, Some(100)); // and the original length is sent with it
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Default)]
pub struct QueuePacketBuilder {
    msg: QueuePacket<'static>,
}

impl QueuePacketBuilder {
    /// A packet on queue `queue` in protocol family `family` (`NFPROTO_*`); `hw_protocol` is
    /// set from the family (IPv4, IPv6), packet id 1, hook 0 (PREROUTING).
    #[must_use]
    pub fn new(family: u8, queue: u16) -> Self {
        let mut msg = QueuePacket::default();
        msg.header.family = family;
        msg.header.res_id = queue;
        msg.packet_hdr.packet_id = 1;
        msg.packet_hdr.hw_protocol = family_protocol(family);
        QueuePacketBuilder { msg }
    }

    /// An IPv4 packet on `queue`.
    #[must_use]
    pub fn ipv4(queue: u16) -> Self {
        Self::new(NFPROTO_IPV4, queue)
    }

    /// An IPv6 packet on `queue`.
    #[must_use]
    pub fn ipv6(queue: u16) -> Self {
        Self::new(NFPROTO_IPV6, queue)
    }

    /// Changes any field directly (exact control, including zeros the kernel would omit).
    #[must_use]
    pub fn with(mut self, f: impl FnOnce(&mut QueuePacket<'static>)) -> Self {
        f(&mut self.msg);
        self
    }

    /// Netlink and nfgenmsg fields other than family and queue (`flags`, `seq`, `pid`,
    /// `version`); the kernel sends zeros.
    #[must_use]
    pub fn header(mut self, header: NfHeader) -> Self {
        self.msg.header = header;
        self
    }

    /// The packet id.
    #[must_use]
    pub fn packet_id(mut self, id: u32) -> Self {
        self.msg.packet_hdr.packet_id = id;
        self
    }

    /// The link-layer protocol (ethertype).
    #[must_use]
    pub fn hw_protocol(mut self, p: u16) -> Self {
        self.msg.packet_hdr.hw_protocol = p;
        self
    }

    /// The netfilter hook (`NF_INET_*`).
    #[must_use]
    pub fn hook(mut self, hook: u8) -> Self {
        self.msg.packet_hdr.hook = hook;
        self
    }

    /// The packet mark (not sent when 0).
    #[must_use]
    pub fn mark(mut self, mark: u32) -> Self {
        self.msg.mark = nonzero(mark);
        self
    }

    /// The receive timestamp.
    #[must_use]
    pub fn timestamp(mut self, sec: u64, usec: u64) -> Self {
        self.msg.timestamp = Some(Timestamp { sec, usec });
        self
    }

    /// Input interface index (not sent when 0).
    #[must_use]
    pub fn indev(mut self, i: u32) -> Self {
        self.msg.indev = nonzero(i);
        self
    }

    /// Output interface index (not sent when 0).
    #[must_use]
    pub fn outdev(mut self, i: u32) -> Self {
        self.msg.outdev = nonzero(i);
        self
    }

    /// Physical input interface index, for bridged packets (not sent when 0).
    #[must_use]
    pub fn physindev(mut self, i: u32) -> Self {
        self.msg.physindev = nonzero(i);
        self
    }

    /// Physical output interface index (not sent when 0).
    #[must_use]
    pub fn physoutdev(mut self, i: u32) -> Self {
        self.msg.physoutdev = nonzero(i);
        self
    }

    /// The source hardware address (at most 8 bytes).
    #[must_use]
    pub fn hw_addr(mut self, addr: &[u8]) -> Self {
        self.msg.hw_addr = Some(HwAddr::new(addr));
        self
    }

    /// The whole packet as payload (no `NFQA_CAP_LEN`).
    #[must_use]
    pub fn payload(mut self, p: impl Into<Vec<u8>>) -> Self {
        self.msg.payload = Some(Cow::Owned(p.into()));
        self
    }

    /// Applies a `COPY_PACKET` copy range to the payload set before: cuts it to `range` bytes
    /// and, when it was longer, sends its full length as `NFQA_CAP_LEN`.
    #[must_use]
    pub fn copy_range(mut self, range: usize) -> Self {
        if let Some(p) = self.msg.payload.take() {
            let full = p.len();
            let mut v = p.into_owned();
            if full > range {
                v.truncate(range);
                self.msg.cap_len = u32::try_from(full).ok();
            }
            self.msg.payload = Some(Cow::Owned(v));
        }
        self
    }

    /// `NFQA_CAP_LEN` directly.
    #[must_use]
    pub fn cap_len(mut self, len: u32) -> Self {
        self.msg.cap_len = Some(len);
        self
    }

    /// The conntrack nest (`CTA_*` attributes, e.g. [`CtBuilder::to_bytes`]) and the
    /// conntrack info (a [`CtState`](netfilter_safe::wire::CtState) or its raw number).
    ///
    /// [`CtBuilder::to_bytes`]: super::CtBuilder::to_bytes
    #[must_use]
    pub fn ct(mut self, nest: impl Into<Vec<u8>>, info: impl Into<u32>) -> Self {
        self.msg.ct = Some(Cow::Owned(nest.into()));
        self.msg.ct_info = Some(info.into());
        self
    }

    /// `NFQA_SKB_INFO` flags (not sent when 0).
    #[must_use]
    pub fn skb_info(mut self, flags: u32) -> Self {
        self.msg.skb_info = nonzero(flags);
        self
    }

    /// Owner uid and gid of the sending socket.
    #[must_use]
    pub fn uid_gid(mut self, uid: u32, gid: u32) -> Self {
        self.msg.uid = Some(uid);
        self.msg.gid = Some(gid);
        self
    }

    /// Security context.
    #[must_use]
    pub fn secctx(mut self, ctx: impl Into<Vec<u8>>) -> Self {
        self.msg.secctx = Some(Cow::Owned(ctx.into()));
        self
    }

    /// VLAN tag (bridge family).
    #[must_use]
    pub fn vlan(mut self, proto: u16, tci: u16) -> Self {
        self.msg.vlan = Some(Vlan { proto, tci });
        self
    }

    /// Link-layer header (bridge family).
    #[must_use]
    pub fn l2hdr(mut self, h: impl Into<Vec<u8>>) -> Self {
        self.msg.l2hdr = Some(Cow::Owned(h.into()));
        self
    }

    /// `skb->priority` (not sent when 0).
    #[must_use]
    pub fn priority(mut self, p: u32) -> Self {
        self.msg.priority = nonzero(p);
        self
    }

    /// net_cls class id of the socket (not sent when 0).
    #[must_use]
    pub fn cgroup_classid(mut self, id: u32) -> Self {
        self.msg.cgroup_classid = nonzero(id);
        self
    }

    /// An attribute this version does not know, sent before the payload.
    #[must_use]
    pub fn unknown(mut self, raw_type: u16, value: impl Into<Vec<u8>>) -> Self {
        self.msg.unknown.push(RawAttr {
            raw_type,
            value: Cow::Owned(value.into()),
        });
        self
    }

    /// The message.
    #[must_use]
    pub fn build(self) -> QueuePacket<'static> {
        self.msg
    }

    /// The message's wire bytes (one datagram: NFQUEUE sends one message per datagram).
    ///
    /// # Errors
    /// [`WireError::TooLong`] for a payload over 65531 bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>, WireError> {
        self.msg.to_bytes()
    }
}

/// Builds an NFLOG packet message as `__build_packet_message` would.
///
/// As for [`QueuePacketBuilder`], zero marks and interface indexes are not sent.
///
/// ```
/// use netfilter_safe::wire::LogPacket;
/// use netfilter_testkit::synth::LogPacketBuilder;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let bytes = LogPacketBuilder::ipv6(2).prefix("in").mark(3).seq(10).to_bytes()?;
/// let parsed = LogPacket::parse_bytes(&bytes)?;
/// assert_eq!(parsed.prefix.as_deref(), Some(&b"in"[..]));
/// assert_eq!((parsed.header.res_id, parsed.mark, parsed.seq), (2, Some(3), Some(10)));
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Default)]
pub struct LogPacketBuilder {
    msg: LogPacket<'static>,
}

impl LogPacketBuilder {
    /// A packet logged to group `group` in family `family`; `hw_protocol` from the family.
    #[must_use]
    pub fn new(family: u8, group: u16) -> Self {
        let mut msg = LogPacket::default();
        msg.header.family = family;
        msg.header.res_id = group;
        msg.packet_hdr.hw_protocol = family_protocol(family);
        LogPacketBuilder { msg }
    }

    /// An IPv4 packet logged to `group`.
    #[must_use]
    pub fn ipv4(group: u16) -> Self {
        Self::new(NFPROTO_IPV4, group)
    }

    /// An IPv6 packet logged to `group`.
    #[must_use]
    pub fn ipv6(group: u16) -> Self {
        Self::new(NFPROTO_IPV6, group)
    }

    /// Changes any field directly.
    #[must_use]
    pub fn with(mut self, f: impl FnOnce(&mut LogPacket<'static>)) -> Self {
        f(&mut self.msg);
        self
    }

    /// Netlink and nfgenmsg fields.
    #[must_use]
    pub fn header(mut self, header: NfHeader) -> Self {
        self.msg.header = header;
        self
    }

    /// Link-layer protocol.
    #[must_use]
    pub fn hw_protocol(mut self, p: u16) -> Self {
        self.msg.packet_hdr.hw_protocol = p;
        self
    }

    /// Netfilter hook.
    #[must_use]
    pub fn hook(mut self, hook: u8) -> Self {
        self.msg.packet_hdr.hook = hook;
        self
    }

    /// The log prefix (sent NUL-terminated).
    #[must_use]
    pub fn prefix(mut self, prefix: &str) -> Self {
        self.msg.prefix = Some(Cow::Owned(prefix.as_bytes().to_vec()));
        self
    }

    /// Packet mark (not sent when 0).
    #[must_use]
    pub fn mark(mut self, mark: u32) -> Self {
        self.msg.mark = nonzero(mark);
        self
    }

    /// Timestamp.
    #[must_use]
    pub fn timestamp(mut self, sec: u64, usec: u64) -> Self {
        self.msg.timestamp = Some(Timestamp { sec, usec });
        self
    }

    /// Input interface (not sent when 0).
    #[must_use]
    pub fn indev(mut self, i: u32) -> Self {
        self.msg.indev = nonzero(i);
        self
    }

    /// Output interface (not sent when 0).
    #[must_use]
    pub fn outdev(mut self, i: u32) -> Self {
        self.msg.outdev = nonzero(i);
        self
    }

    /// Physical input interface (not sent when 0).
    #[must_use]
    pub fn physindev(mut self, i: u32) -> Self {
        self.msg.physindev = nonzero(i);
        self
    }

    /// Physical output interface (not sent when 0).
    #[must_use]
    pub fn physoutdev(mut self, i: u32) -> Self {
        self.msg.physoutdev = nonzero(i);
        self
    }

    /// Source hardware address.
    #[must_use]
    pub fn hw_addr(mut self, addr: &[u8]) -> Self {
        self.msg.hw_addr = Some(HwAddr::new(addr));
        self
    }

    /// Device type, and the link-layer header whose length is sent as `NFULA_HWLEN`, as the
    /// kernel sends them for a packet with an input device and a MAC header.
    #[must_use]
    pub fn hw_header(mut self, hw_type: u16, header: impl Into<Vec<u8>>) -> Self {
        let header = header.into();
        self.msg.hw_type = Some(hw_type);
        self.msg.hw_len = u16::try_from(header.len()).ok();
        self.msg.hw_header = Some(Cow::Owned(header));
        self
    }

    /// Payload (the whole packet).
    #[must_use]
    pub fn payload(mut self, p: impl Into<Vec<u8>>) -> Self {
        self.msg.payload = Some(Cow::Owned(p.into()));
        self
    }

    /// Cuts the payload to the copy range (NFLOG sends no original length).
    #[must_use]
    pub fn copy_range(mut self, range: usize) -> Self {
        if let Some(p) = self.msg.payload.take() {
            let mut v = p.into_owned();
            v.truncate(range);
            self.msg.payload = Some(Cow::Owned(v));
        }
        self
    }

    /// Socket owner uid and gid.
    #[must_use]
    pub fn uid_gid(mut self, uid: u32, gid: u32) -> Self {
        self.msg.uid = Some(uid);
        self.msg.gid = Some(gid);
        self
    }

    /// Per-group sequence number.
    #[must_use]
    pub fn seq(mut self, seq: u32) -> Self {
        self.msg.seq = Some(seq);
        self
    }

    /// Global sequence number.
    #[must_use]
    pub fn seq_global(mut self, seq: u32) -> Self {
        self.msg.seq_global = Some(seq);
        self
    }

    /// The conntrack nest (`CTA_*` attributes, e.g. [`CtBuilder::to_bytes`]) and the
    /// conntrack info (a [`CtState`](netfilter_safe::wire::CtState) or its raw number).
    ///
    /// [`CtBuilder::to_bytes`]: super::CtBuilder::to_bytes
    #[must_use]
    pub fn ct(mut self, nest: impl Into<Vec<u8>>, info: impl Into<u32>) -> Self {
        self.msg.ct = Some(Cow::Owned(nest.into()));
        self.msg.ct_info = Some(info.into());
        self
    }

    /// VLAN tag (bridge, netdev).
    #[must_use]
    pub fn vlan(mut self, proto: u16, tci: u16) -> Self {
        self.msg.vlan = Some(Vlan { proto, tci });
        self
    }

    /// Link-layer header (bridge, netdev).
    #[must_use]
    pub fn l2hdr(mut self, h: impl Into<Vec<u8>>) -> Self {
        self.msg.l2hdr = Some(Cow::Owned(h.into()));
        self
    }

    /// An attribute this version does not know, sent before the payload.
    #[must_use]
    pub fn unknown(mut self, raw_type: u16, value: impl Into<Vec<u8>>) -> Self {
        self.msg.unknown.push(RawAttr {
            raw_type,
            value: Cow::Owned(value.into()),
        });
        self
    }

    /// The message.
    #[must_use]
    pub fn build(self) -> LogPacket<'static> {
        self.msg
    }

    /// The wire bytes of this message alone (a datagram of one log message has no
    /// `NLMSG_DONE`).
    ///
    /// # Errors
    /// [`WireError::TooLong`] for a payload over 65531 bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>, WireError> {
        self.msg.to_bytes()
    }
}

/// A datagram of several messages, each at the aligned end of the one before.
///
/// ```
/// use netfilter_safe::wire::{Message, Messages};
/// use netfilter_testkit::synth::{Datagram, LogPacketBuilder};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let batch = Datagram::log_batch(1, [LogPacketBuilder::ipv4(1).build(), LogPacketBuilder::ipv4(1).build()]);
/// let bytes = batch.to_bytes()?;
/// let kinds: Vec<bool> = Messages::new(&bytes)
///     .map(|m| m.map(|m| matches!(m, Message::LogPacket(_))))
///     .collect::<Result<_, _>>()?;
/// assert_eq!(kinds, [true, true, false]); // two packets, then NLMSG_DONE
/// # Ok(())
/// # }
/// ```
#[derive(Default)]
pub struct Datagram {
    messages: Vec<Box<dyn Emit>>,
}

impl core::fmt::Debug for Datagram {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Datagram")
            .field("messages", &self.messages.len())
            .finish()
    }
}

impl Datagram {
    /// An empty datagram.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a message (a packet, a control message, anything that emits).
    #[must_use]
    pub fn push(mut self, msg: impl Emit + 'static) -> Self {
        self.messages.push(Box::new(msg));
        self
    }

    /// The datagram `nfnetlink_log` sends when it flushes `packets` of group `group`: the
    /// messages, then, when there is more than one, an `NLMSG_DONE` carrying an nfgenmsg with
    /// the group number.
    #[must_use]
    pub fn log_batch(group: u16, packets: impl IntoIterator<Item = LogPacket<'static>>) -> Self {
        let mut d = Datagram::new();
        for p in packets {
            d = d.push(p);
        }
        if d.messages.len() > 1 {
            d = d.push(ControlMsg::log_batch_done(group));
        }
        d
    }

    /// Number of messages.
    #[must_use]
    pub fn len(&self) -> usize {
        self.messages.len()
    }

    /// Whether there is no message.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.messages.is_empty()
    }

    /// The datagram's bytes.
    ///
    /// # Errors
    /// As [`Emit::emit`].
    pub fn to_bytes(&self) -> Result<Vec<u8>, WireError> {
        let mut out = Vec::new();
        for m in &self.messages {
            push_message(&mut out, m.as_ref())?;
        }
        Ok(out)
    }
}
