//! [`Packet`]: a queued packet, owned, with the verdict methods that consume it.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use netfilter_safe::SkbInfo;
use netfilter_safe::wire::{self, ConnLabels, Conntrack, CtState, Vlan};
use netfilter_safe::{Family, Hook};

use crate::error::{Error, Result};
use crate::queue::Shared;
use crate::verdicts::Decision;

pub use netfilter_safe::Verdict as VerdictKind;

/// A verdict with everything it can carry: a kind ([`VerdictKind`]) and optionally a new mark,
/// a new `skb->priority`, a replacement payload, and a new conntrack mark or labels for the
/// packet's connection.
///
/// ```
/// use netfilter::Verdict;
/// let v = Verdict::accept().with_mark(0x10).with_priority(6);
/// assert_eq!(v.mark(), Some(0x10));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    decision: Decision,
}

impl Verdict {
    /// A verdict of `kind` that changes nothing else.
    pub fn new(kind: VerdictKind) -> Verdict {
        Verdict {
            decision: Decision::plain(kind),
        }
    }

    /// `NF_ACCEPT`: the packet continues through the ruleset.
    pub fn accept() -> Verdict {
        Verdict::new(VerdictKind::Accept)
    }

    /// `NF_DROP`: the packet is discarded.
    pub fn drop() -> Verdict {
        Verdict::new(VerdictKind::Drop)
    }

    /// `NF_REPEAT`: the hook runs again from its first rule (set a mark that your rule skips).
    pub fn repeat() -> Verdict {
        Verdict::new(VerdictKind::Repeat)
    }

    /// `NF_STOP`: accepted without running the rest of this hook's rules.
    pub fn stop() -> Verdict {
        Verdict::new(VerdictKind::Stop)
    }

    /// `NF_QUEUE` to queue `num`; with `bypass`, accepted when nobody listens there.
    pub fn queue(num: u16, bypass: bool) -> Verdict {
        Verdict::new(VerdictKind::Queue { num, bypass })
    }

    /// Also sets the packet's mark (`skb->mark`).
    pub fn with_mark(mut self, mark: u32) -> Verdict {
        self.decision.mark = Some(mark);
        self
    }

    /// Also sets `skb->priority` (`NFQA_PRIORITY`; Linux 5.19 and later).
    pub fn with_priority(mut self, priority: u32) -> Verdict {
        self.decision.priority = Some(priority);
        self
    }

    /// Also replaces the packet, from its network header on. The kernel takes it as is: fix
    /// the lengths and checksums first ([`crate::payload`]). See
    /// [`Packet::set_payload`] for what the kernel does with a payload that is not a valid IP
    /// packet.
    ///
    /// ```
    /// use netfilter::{Error, Verdict, MAX_VERDICT_PAYLOAD};
    ///
    /// let v = Verdict::accept().with_payload(vec![0x45; 40])?.with_mark(1);
    /// assert_eq!(v.payload().map(|p| p.len()), Some(40));
    /// let too_big = Verdict::accept().with_payload(vec![0; MAX_VERDICT_PAYLOAD + 1]);
    /// assert!(matches!(too_big, Err(Error::OutOfRange { .. })));
    /// # Ok::<(), Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::OutOfRange`] for a payload over [`MAX_VERDICT_PAYLOAD`] bytes, which no
    /// netlink attribute can carry.
    pub fn with_payload(mut self, payload: impl Into<Bytes>) -> Result<Verdict> {
        self.decision.payload = Some(checked_payload(payload.into())?);
        Ok(self)
    }

    /// Also sets the mark of the packet's connection (`ct mark`, `CONNMARK`; go-nfqueue's
    /// `SetVerdictWithConnMark`), sent as `NFQA_CT { CTA_MARK }`. Rules see it on the
    /// connection's later packets (`-m connmark --mark`, nft `ct mark`), and
    /// [`Packet::conntrack`] reads it back on them.
    ///
    /// The kernel applies it when `nf_conntrack_netlink` is loaded and the packet has a
    /// connection, and ignores it otherwise. Only a verdict of its own carries it (the
    /// kernel's batch verdict has no `NFQA_CT`), so such a verdict is never coalesced into
    /// a batch.
    ///
    /// ```
    /// use netfilter::{Queue, Verdict};
    /// use netfilter_testkit::fake::FakeKernel;
    /// use netfilter_testkit::synth::QueuePacketBuilder;
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let (kernel, transport) = FakeKernel::new()?;
    /// let mut queue = Queue::builder(0).transport(transport).open()?;
    /// let id = kernel.queue_packet(QueuePacketBuilder::ipv4(0).payload(vec![0x45; 20]))?;
    /// queue.recv()?.verdict(Verdict::accept().with_conn_mark(0x10))?;
    /// let settled = kernel.verdict(0, id).expect("settled");
    /// assert_eq!((settled.ct_mark, settled.is_batch()), (Some(0x10), false));
    /// # Ok(())
    /// # }
    /// ```
    pub fn with_conn_mark(mut self, mark: u32) -> Verdict {
        self.decision.conn_mark = Some(mark);
        self
    }

    /// Also changes the labels of the packet's connection (`-m connlabel`, nft `ct label`):
    /// the labels set in `mask` take their value from `labels`, the others stay. Sent as
    /// `NFQA_CT { CTA_LABELS, CTA_LABELS_MASK }`; as [`Verdict::with_conn_mark`], only in a
    /// verdict of its own. The kernel refuses to add labels to a connection created without
    /// room for them (no `connlabel` rule or `ct label` expression loaded), silently.
    pub fn with_conn_labels(mut self, labels: ConnLabels, mask: ConnLabels) -> Verdict {
        self.decision.conn_labels = Some((labels, mask));
        self
    }

    /// The kind.
    pub fn kind(&self) -> VerdictKind {
        self.decision.kind
    }

    /// The new mark, if any.
    pub fn mark(&self) -> Option<u32> {
        self.decision.mark
    }

    /// The new priority, if any.
    pub fn priority(&self) -> Option<u32> {
        self.decision.priority
    }

    /// The replacement payload, if any.
    pub fn payload(&self) -> Option<&Bytes> {
        self.decision.payload.as_ref()
    }

    /// The new conntrack mark, if any.
    pub fn conn_mark(&self) -> Option<u32> {
        self.decision.conn_mark
    }

    /// The new conntrack labels and their mask, if any.
    pub fn conn_labels(&self) -> Option<(ConnLabels, ConnLabels)> {
        self.decision.conn_labels
    }
}

/// A packet the kernel holds until it gets a verdict. Owned and `Send`: keep it, move it to
/// another thread, give the verdict later and in any order.
///
/// Every verdict method consumes the packet, so a second verdict cannot be written:
///
/// ```compile_fail
/// fn twice(packet: netfilter::Packet) -> netfilter::Result<()> {
///     packet.accept()?;
///     packet.drop()
/// }
/// ```
///
/// A packet that goes out of scope without one (`std::mem::drop(packet)`, an early return, a
/// panic) gets its queue's default verdict, [`VerdictKind::Drop`] unless
/// [`QueueBuilder::default_verdict`](crate::QueueBuilder::default_verdict) chose another: a
/// forgotten verdict fails closed, as the kernel does with the packets of a program that goes
/// away, and nothing is stranded in the kernel. The default verdict carries no mark,
/// priority or payload set on the packet; [`QueueStats::default_verdicts`](crate::QueueStats)
/// counts it.
///
/// # Holding packets
/// The kernel keeps each packet it queued until its verdict, and a held packet still counts
/// against the buffers it was charged to: a locally generated packet against its sending
/// socket's send buffer. A program that both sends traffic that is queued and holds those
/// packets (a test, a proxy) blocks in `send` once its send buffer is full of held packets
/// (with the default `net.core.wmem_default`, after a few hundred small datagrams). Give
/// verdicts as you go, or send from another thread than the one that decides. The queue's
/// length ([`QueueBuilder::max_len`](crate::QueueBuilder::max_len), 1024 by default) bounds
/// how many packets the kernel holds at all; past it they are dropped (or accepted with
/// [`QueueBuilder::fail_open`](crate::QueueBuilder::fail_open)).
pub struct Packet {
    shared: Arc<Shared>,
    /// The message, a slice of the received datagram (no copy).
    message: Bytes,
    /// Where each attribute lies in `message`; accessors decode on call.
    attrs: wire::QueueAttrs,
    /// What a verdict will carry besides its kind (python-netfilterqueue's `set_mark`,
    /// `set_payload`).
    pending: Decision,
    decided: bool,
}

/// A kernel timestamp as a time, `None` when it does not fit one.
pub(crate) fn system_time(t: wire::Timestamp) -> Option<SystemTime> {
    let since = Duration::new(t.sec, 0).checked_add(Duration::from_micros(t.usec))?;
    SystemTime::UNIX_EPOCH.checked_add(since)
}

impl Packet {
    /// The packet of message `message` (a slice of the received datagram), located as
    /// `attrs`.
    pub(crate) fn new(shared: Arc<Shared>, message: Bytes, attrs: wire::QueueAttrs) -> Packet {
        Packet {
            shared,
            message,
            attrs,
            pending: Decision::plain(VerdictKind::Accept),
            decided: false,
        }
    }

    /// The packet id, unique in its queue.
    pub fn id(&self) -> u32 {
        self.attrs.packet_hdr(&self.message).packet_id
    }

    /// The queue number.
    pub fn queue(&self) -> u16 {
        self.attrs.header(&self.message).res_id
    }

    /// The protocol family of the rule that queued it.
    pub fn family(&self) -> Family {
        Family::from(self.attrs.header(&self.message).family)
    }

    /// The link-layer protocol (an ethertype: `0x0800` IPv4, `0x86dd` IPv6).
    pub fn hw_protocol(&self) -> u16 {
        self.attrs.packet_hdr(&self.message).hw_protocol
    }

    /// The hook it was queued at.
    pub fn hook(&self) -> Hook {
        Hook::from(self.attrs.packet_hdr(&self.message).hook)
    }

    /// Its mark (`skb->mark`), 0 when unmarked.
    pub fn mark(&self) -> u32 {
        self.attrs.mark(&self.message).unwrap_or(0)
    }

    /// When it was received; `None` for locally generated packets.
    pub fn timestamp(&self) -> Option<SystemTime> {
        system_time(self.attrs.timestamp(&self.message)?)
    }

    /// The input interface index.
    pub fn indev(&self) -> Option<u32> {
        self.attrs.indev(&self.message)
    }

    /// The output interface index.
    pub fn outdev(&self) -> Option<u32> {
        self.attrs.outdev(&self.message)
    }

    /// The physical input interface of a bridge port.
    pub fn physindev(&self) -> Option<u32> {
        self.attrs.physindev(&self.message)
    }

    /// The physical output interface of a bridge port.
    pub fn physoutdev(&self) -> Option<u32> {
        self.attrs.physoutdev(&self.message)
    }

    /// The source hardware address, at its real length.
    pub fn hw_addr(&self) -> Option<&[u8]> {
        self.attrs.hw_addr_bytes(&self.message)
    }

    /// The packet from its network header on, up to the copy range; empty when the queue
    /// copies metadata only. It lies in the received datagram: no copy was made.
    pub fn payload(&self) -> &[u8] {
        self.attrs.payload(&self.message).unwrap_or_default()
    }

    /// The payload as [`Bytes`] that share the received datagram (no copy), to keep or pass
    /// on (e.g. edited into [`Verdict::with_payload`]) after the packet is gone.
    pub fn payload_bytes(&self) -> Bytes {
        self.message.slice_ref(self.payload())
    }

    /// Whether the kernel sent a payload at all (not in metadata-only mode).
    pub fn has_payload(&self) -> bool {
        self.attrs.payload(&self.message).is_some()
    }

    /// The packet's real length when the copy range cut the payload (`NFQA_CAP_LEN`).
    pub fn cap_len(&self) -> Option<u32> {
        self.attrs.cap_len(&self.message)
    }

    /// Whether the payload is cut short of the packet.
    pub fn is_truncated(&self) -> bool {
        self.cap_len()
            .is_some_and(|len| len as usize > self.payload().len())
    }

    /// What the kernel says about the buffer: GSO, checksum not ready or not verified.
    pub fn skb_info(&self) -> SkbInfo {
        SkbInfo::from_bits_retain(self.attrs.skb_info(&self.message).unwrap_or(0))
    }

    /// The uid of the sending socket (with [`QueueFlags::UID_GID`](crate::QueueFlags)).
    pub fn uid(&self) -> Option<u32> {
        self.attrs.uid(&self.message)
    }

    /// The gid of the sending socket (with [`QueueFlags::UID_GID`](crate::QueueFlags)).
    pub fn gid(&self) -> Option<u32> {
        self.attrs.gid(&self.message)
    }

    /// The security context (with [`QueueFlags::SECCTX`](crate::QueueFlags)).
    pub fn secctx(&self) -> Option<&[u8]> {
        self.attrs.secctx(&self.message)
    }

    /// The conntrack entry, raw `CTA_*` attributes (with
    /// [`QueueFlags::CONNTRACK`](crate::QueueFlags)); [`Packet::conntrack`] decodes them.
    pub fn ct(&self) -> Option<&[u8]> {
        self.attrs.ct(&self.message)
    }

    /// The packet's connection (with [`QueueFlags::CONNTRACK`](crate::QueueFlags), for a
    /// packet conntrack tracks): tuples, status, mark, id, zone, timeout, labels, counters
    /// and timestamp, each read from the message when asked for (no copy). `None` without
    /// a conntrack entry.
    ///
    /// ```
    /// use std::net::{Ipv4Addr, SocketAddr};
    /// use netfilter::Queue;
    /// use netfilter::conntrack::{CtState, CtStatus};
    /// use netfilter_testkit::fake::FakeKernel;
    /// use netfilter_testkit::synth::{CtBuilder, QueuePacketBuilder};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let (kernel, transport) = FakeKernel::new()?;
    /// let mut queue = Queue::builder(0).conntrack(true).transport(transport).open()?;
    /// let client: SocketAddr = (Ipv4Addr::new(198, 18, 0, 1), 40000).into();
    /// let server: SocketAddr = (Ipv4Addr::new(198, 18, 0, 2), 53).into();
    /// let nest = CtBuilder::udp(client, server).mark(7).status(CtStatus::CONFIRMED).to_bytes()?;
    /// kernel.queue_packet(QueuePacketBuilder::ipv4(0).ct(nest, CtState::New))?;
    ///
    /// let packet = queue.recv()?;
    /// let ct = packet.conntrack().expect("tracked")?;
    /// let orig = ct.orig().expect("original tuple");
    /// assert_eq!((orig.src, orig.dst_port, orig.protocol), (client.ip(), Some(53), 17));
    /// assert_eq!(ct.reply().map(|t| t.src_port), Some(Some(53)));
    /// assert_eq!((ct.mark(), packet.ct_info()), (Some(7), Some(CtState::New)));
    /// packet.accept()?;
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// `Some(Err(`[`Error::Malformed`]`))` for a nest that does not follow the `CTA_*`
    /// layout (see [`Conntrack::new_checked`]); the packet still takes any verdict.
    pub fn conntrack(&self) -> Option<Result<Conntrack<'_>>> {
        self.attrs
            .conntrack(&self.message)
            .map(|ct| ct.map_err(Error::from))
    }

    /// The state of the packet's connection (`NFQA_CT_INFO`, `enum ip_conntrack_info`):
    /// new, established, related, their reply forms, untracked; values this crate does not
    /// know are kept ([`CtState::Other`]; `u32::from` gives the raw number).
    pub fn ct_info(&self) -> Option<CtState> {
        self.attrs.ct_state(&self.message)
    }

    /// The VLAN tag of a tagged packet.
    pub fn vlan(&self) -> Option<Vlan> {
        self.attrs.vlan(&self.message)
    }

    /// The link-layer header (bridge family).
    pub fn l2hdr(&self) -> Option<&[u8]> {
        self.attrs.l2hdr(&self.message)
    }

    /// `skb->priority`, when not 0.
    pub fn priority(&self) -> Option<u32> {
        self.attrs.priority(&self.message)
    }

    /// The net_cls class id of the sending socket, when not 0.
    pub fn cgroup_classid(&self) -> Option<u32> {
        self.attrs.cgroup_classid(&self.message)
    }

    /// Attributes this crate does not know (a newer kernel's): type (flag bits masked off)
    /// and value, in the order they came.
    pub fn unknown_attributes(&self) -> impl Iterator<Item = (u16, &[u8])> {
        self.attrs
            .unknown(&self.message)
            .map(|a| (a.kind(), a.value()))
    }

    /// Sets the mark the verdict will give the packet (python-netfilterqueue's `set_mark`).
    pub fn set_mark(&mut self, mark: u32) {
        self.pending.mark = Some(mark);
    }

    /// Sets the `skb->priority` the verdict will give the packet.
    pub fn set_priority(&mut self, priority: u32) {
        self.pending.priority = Some(priority);
    }

    /// Sets the payload the verdict will replace the packet with (python-netfilterqueue's
    /// `set_payload`), from the network header on; fix its lengths and checksums first
    /// ([`crate::payload`]).
    ///
    /// **The kernel does not check the replacement.** It swaps it in and sends the packet on;
    /// a payload that is not a valid IP packet (shorter than an IP header, a wrong length or
    /// checksum field) is dropped silently further on, while the verdict itself reports
    /// success. Build replacements with [`crate::payload`], which keeps them valid.
    ///
    /// In a network namespace owned by an unprivileged user namespace (a rootless test
    /// sandbox), the kernel loses verdicts that carry a payload: the packet never comes out.
    /// netfilter-testkit probes for this (`Feature::PayloadVerdict`), so tests that rewrite
    /// payloads can skip there.
    ///
    /// # Errors
    /// [`Error::OutOfRange`] for a payload over [`MAX_VERDICT_PAYLOAD`] bytes; the packet is
    /// left as it was and still takes any verdict.
    pub fn set_payload(&mut self, payload: impl Into<Bytes>) -> Result<()> {
        self.pending.payload = Some(checked_payload(payload.into())?);
        Ok(())
    }

    /// Sets the mark the verdict will give the packet's connection (go-nfqueue's
    /// `SetVerdictWithConnMark`); see [`Verdict::with_conn_mark`]. The verdict goes on its
    /// own, never in a batch.
    ///
    /// ```
    /// use netfilter::Queue;
    /// use netfilter_testkit::fake::FakeKernel;
    /// use netfilter_testkit::synth::QueuePacketBuilder;
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let (kernel, transport) = FakeKernel::new()?;
    /// let mut queue = Queue::builder(0).transport(transport).open()?;
    /// let id = kernel.queue_packet(QueuePacketBuilder::ipv4(0).payload(vec![0x45; 20]))?;
    /// let mut packet = queue.recv()?;
    /// packet.set_conn_mark(0x2a);
    /// assert_eq!(packet.pending_conn_mark(), Some(0x2a));
    /// packet.accept()?;
    /// assert_eq!(kernel.verdict(0, id).and_then(|v| v.ct_mark), Some(0x2a));
    /// # Ok(())
    /// # }
    /// ```
    pub fn set_conn_mark(&mut self, mark: u32) {
        self.pending.conn_mark = Some(mark);
    }

    /// Sets the labels the verdict will change on the packet's connection (those in `mask`
    /// take their value from `labels`); see [`Verdict::with_conn_labels`].
    pub fn set_conn_labels(&mut self, labels: ConnLabels, mask: ConnLabels) {
        self.pending.conn_labels = Some((labels, mask));
    }

    /// The conntrack mark [`Packet::set_conn_mark`] set for the verdict, if any.
    pub fn pending_conn_mark(&self) -> Option<u32> {
        self.pending.conn_mark
    }

    /// The conntrack labels and mask [`Packet::set_conn_labels`] set for the verdict, if any.
    pub fn pending_conn_labels(&self) -> Option<(ConnLabels, ConnLabels)> {
        self.pending.conn_labels
    }

    /// The mark [`Packet::set_mark`] set for the verdict, if any ([`Packet::mark`] stays the
    /// mark the packet came with).
    pub fn pending_mark(&self) -> Option<u32> {
        self.pending.mark
    }

    /// The priority [`Packet::set_priority`] set for the verdict, if any.
    pub fn pending_priority(&self) -> Option<u32> {
        self.pending.priority
    }

    /// The payload [`Packet::set_payload`] set for the verdict, if any ([`Packet::payload`]
    /// stays the packet as it came). python-netfilterqueue's `get_payload()` after
    /// `set_payload` is `packet.pending_payload().map_or(packet.payload(), |p| p)`.
    ///
    /// ```
    /// use netfilter::Queue;
    /// use netfilter_testkit::fake::FakeKernel;
    /// use netfilter_testkit::synth::QueuePacketBuilder;
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let (kernel, transport) = FakeKernel::new()?;
    /// let mut queue = Queue::builder(0).transport(transport).open()?;
    /// kernel.queue_packet(QueuePacketBuilder::ipv4(0).mark(3).payload(vec![0x45; 20]))?;
    /// let mut packet = queue.recv()?;
    /// assert_eq!((packet.pending_payload(), packet.pending_mark()), (None, None));
    /// packet.set_payload(vec![0x45; 24])?;
    /// packet.set_mark(7);
    /// assert_eq!(packet.pending_payload().map(|p| p.len()), Some(24));
    /// assert_eq!((packet.mark(), packet.pending_mark()), (3, Some(7)));
    /// assert_eq!(packet.payload().len(), 20);
    /// packet.accept()?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn pending_payload(&self) -> Option<&[u8]> {
        self.pending.payload.as_deref()
    }

    /// Accepts the packet (with what `set_mark`, `set_payload`, `set_conn_mark`, ... set).
    ///
    /// # Errors
    /// [`Error::QueueClosed`] when its queue was closed (the kernel dropped the packet then);
    /// an I/O error when the verdict could not be sent.
    pub fn accept(self) -> Result<()> {
        self.finish(VerdictKind::Accept)
    }

    /// Drops the packet (`NF_DROP`). `std::mem::drop(packet)`, or letting it go out of
    /// scope, drops it too, unless the queue's default verdict was changed
    /// ([`QueueBuilder::default_verdict`](crate::QueueBuilder::default_verdict)); this method
    /// says so explicitly and reports errors.
    ///
    /// # Errors
    /// As for [`Packet::accept`].
    pub fn drop(self) -> Result<()> {
        self.finish(VerdictKind::Drop)
    }

    /// Sends the packet through its hook again (`NF_REPEAT`); set a mark that your rule skips.
    ///
    /// # Errors
    /// As for [`Packet::accept`].
    pub fn repeat(self) -> Result<()> {
        self.finish(VerdictKind::Repeat)
    }

    /// Accepts the packet without running the rest of this hook's rules (`NF_STOP`).
    ///
    /// # Errors
    /// As for [`Packet::accept`].
    pub fn stop(self) -> Result<()> {
        self.finish(VerdictKind::Stop)
    }

    /// Hands the packet to queue `num`; with `bypass`, accepts it when nobody listens there.
    ///
    /// # Errors
    /// As for [`Packet::accept`].
    pub fn queue_to(self, num: u16, bypass: bool) -> Result<()> {
        self.finish(VerdictKind::Queue { num, bypass })
    }

    /// Gives `verdict`; its mark, priority, payload and conntrack changes replace what the
    /// setters set.
    ///
    /// # Errors
    /// As for [`Packet::accept`].
    pub fn verdict(mut self, verdict: Verdict) -> Result<()> {
        self.decided = true;
        self.shared
            .decide(self.queue(), self.id(), verdict.decision)
    }

    fn finish(mut self, kind: VerdictKind) -> Result<()> {
        let mut decision = std::mem::replace(&mut self.pending, Decision::plain(kind));
        decision.kind = kind;
        self.decided = true;
        self.shared.decide(self.queue(), self.id(), decision)
    }
}

/// The largest replacement payload a verdict can carry: a netlink attribute's 16-bit length
/// minus its 4-byte header.
pub const MAX_VERDICT_PAYLOAD: usize = netfilter_safe::MAX_VERDICT_PAYLOAD;

/// `payload`, when a verdict can carry it: every decision holds a payload that fits, so no
/// verdict (the default one a dropped packet sends included) can fail to be written.
fn checked_payload(payload: Bytes) -> Result<Bytes> {
    match payload.len() {
        len if len > MAX_VERDICT_PAYLOAD => Err(Error::OutOfRange {
            what: "verdict payload length",
            value: len as u64,
            min: 0,
            max: MAX_VERDICT_PAYLOAD as u64,
        }),
        _ => Ok(payload),
    }
}

impl Drop for Packet {
    fn drop(&mut self) {
        if !self.decided {
            // Nothing can be reported from drop; a closed queue needs no verdict.
            let _ = self.shared.decide_default(self.queue(), self.id());
        }
    }
}

/// One line, as python-netfilterqueue's `print(pkt)` gives: queue, id, family, hook, the
/// packet's protocol and addresses (see [`Ip`](crate::payload::Ip)'s `Display`), its length
/// and its mark when set: `queue 0 packet 17: IPV4 LOCAL_OUT UDP 127.0.0.1:40000 ->
/// 127.0.0.1:53, 33 bytes, mark 0x10`.
///
/// ```
/// use netfilter::Queue;
/// use netfilter_testkit::fake::FakeKernel;
/// use netfilter_testkit::synth::{QueuePacketBuilder, payload};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let (kernel, transport) = FakeKernel::new()?;
/// let mut queue = Queue::builder(0).transport(transport).open()?;
/// let udp = payload::ipv4_udp([10, 0, 0, 1].into(), [10, 0, 0, 2].into(), 4000, 53, b"q")?;
/// kernel.queue_packet(QueuePacketBuilder::ipv4(0).mark(0x10).payload(udp))?;
/// let packet = queue.recv()?;
/// assert_eq!(
///     packet.to_string(),
///     "queue 0 packet 1: IPV4 PRE_ROUTING UDP 10.0.0.1:4000 -> 10.0.0.2:53, 29 bytes, mark 0x10"
/// );
/// packet.accept()?;
/// # Ok(())
/// # }
/// ```
impl fmt::Display for Packet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "queue {} packet {}: {} {} ",
            self.queue(),
            self.id(),
            self.family(),
            self.hook()
        )?;
        let len = self
            .cap_len()
            .map_or(self.payload().len(), |len| len as usize);
        crate::payload::write_summary(f, self.payload(), self.has_payload(), len)?;
        match self.mark() {
            0 => Ok(()),
            mark => write!(f, ", mark {mark:#x}"),
        }
    }
}

impl fmt::Debug for Packet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Packet")
            .field("id", &self.id())
            .field("queue", &self.queue())
            .field("hook", &self.hook())
            .field("mark", &self.mark())
            .field("payload_len", &self.payload().len())
            .finish_non_exhaustive()
    }
}
