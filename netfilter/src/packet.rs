//! [`Packet`]: a queued packet, owned, with the verdict methods that consume it.

use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use netfilter_safe::queue::SkbInfo;
use netfilter_safe::wire::{self, Vlan};
use netfilter_safe::{Family, Hook};

use crate::error::{Error, Result};
use crate::queue::Shared;
use crate::verdicts::Decision;

pub use netfilter_safe::queue::Verdict as VerdictKind;

/// A verdict with everything it can carry: a kind ([`VerdictKind`]) and optionally a new mark,
/// a new `skb->priority` and a replacement payload.
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
            decision: Decision {
                kind,
                mark: None,
                priority: None,
                payload: None,
            },
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
    /// the checksums first ([`crate::payload`]).
    pub fn with_payload(mut self, payload: impl Into<Bytes>) -> Verdict {
        self.decision.payload = Some(payload.into());
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
/// A packet dropped without one gets its queue's default verdict (see
/// [`QueueBuilder::default_verdict`](crate::QueueBuilder::default_verdict)), so nothing is
/// stranded in the kernel.
pub struct Packet {
    shared: Arc<Shared>,
    meta: Meta,
    /// What a verdict will carry besides its kind (python-netfilterqueue's `set_mark`,
    /// `set_payload`).
    pending: Decision,
    decided: bool,
}

/// Everything the kernel told about the packet.
#[derive(Debug, Clone)]
struct Meta {
    id: u32,
    queue: u16,
    family: Family,
    hw_protocol: u16,
    hook: Hook,
    mark: u32,
    timestamp: Option<SystemTime>,
    indev: Option<u32>,
    outdev: Option<u32>,
    physindev: Option<u32>,
    physoutdev: Option<u32>,
    hw_addr: Option<wire::HwAddr>,
    payload: Option<Bytes>,
    cap_len: Option<u32>,
    skb_info: SkbInfo,
    uid: Option<u32>,
    gid: Option<u32>,
    secctx: Option<Bytes>,
    ct: Option<Bytes>,
    ct_info: Option<u32>,
    vlan: Option<Vlan>,
    l2hdr: Option<Bytes>,
    priority: Option<u32>,
    cgroup_classid: Option<u32>,
    unknown: Vec<(u16, Bytes)>,
}

impl Packet {
    /// Builds the packet from a parsed message whose bytes live in `datagram`.
    pub(crate) fn new(shared: Arc<Shared>, datagram: &Bytes, p: &wire::QueuePacket<'_>) -> Packet {
        let slice = |b: &[u8]| datagram.slice_ref(b);
        let cow = |c: &Option<std::borrow::Cow<'_, [u8]>>| c.as_deref().map(slice);
        let meta = Meta {
            id: p.packet_hdr.packet_id,
            queue: p.header.res_id,
            family: Family::from(p.header.family),
            hw_protocol: p.packet_hdr.hw_protocol,
            hook: Hook::from(p.packet_hdr.hook),
            mark: p.mark.unwrap_or(0),
            timestamp: p.timestamp.and_then(|t| {
                let since = std::time::Duration::new(t.sec, 0)
                    .checked_add(std::time::Duration::from_micros(t.usec))?;
                SystemTime::UNIX_EPOCH.checked_add(since)
            }),
            indev: p.indev,
            outdev: p.outdev,
            physindev: p.physindev,
            physoutdev: p.physoutdev,
            hw_addr: p.hw_addr,
            payload: cow(&p.payload),
            cap_len: p.cap_len,
            skb_info: SkbInfo::from_bits_retain(p.skb_info.unwrap_or(0)),
            uid: p.uid,
            gid: p.gid,
            secctx: cow(&p.secctx),
            ct: cow(&p.ct),
            ct_info: p.ct_info,
            vlan: p.vlan,
            l2hdr: cow(&p.l2hdr),
            priority: p.priority,
            cgroup_classid: p.cgroup_classid,
            unknown: p
                .unknown
                .iter()
                .map(|a| (a.kind(), slice(&a.value)))
                .collect(),
        };
        Packet {
            shared,
            meta,
            pending: Verdict::accept().decision,
            decided: false,
        }
    }

    /// The packet id, unique in its queue.
    pub fn id(&self) -> u32 {
        self.meta.id
    }

    /// The queue number.
    pub fn queue(&self) -> u16 {
        self.meta.queue
    }

    /// The protocol family of the rule that queued it.
    pub fn family(&self) -> Family {
        self.meta.family
    }

    /// The link-layer protocol (an ethertype: `0x0800` IPv4, `0x86dd` IPv6).
    pub fn hw_protocol(&self) -> u16 {
        self.meta.hw_protocol
    }

    /// The hook it was queued at.
    pub fn hook(&self) -> Hook {
        self.meta.hook
    }

    /// Its mark (`skb->mark`), 0 when unmarked.
    pub fn mark(&self) -> u32 {
        self.meta.mark
    }

    /// When it was received; `None` for locally generated packets.
    pub fn timestamp(&self) -> Option<SystemTime> {
        self.meta.timestamp
    }

    /// The input interface index.
    pub fn indev(&self) -> Option<u32> {
        self.meta.indev
    }

    /// The output interface index.
    pub fn outdev(&self) -> Option<u32> {
        self.meta.outdev
    }

    /// The physical input interface of a bridge port.
    pub fn physindev(&self) -> Option<u32> {
        self.meta.physindev
    }

    /// The physical output interface of a bridge port.
    pub fn physoutdev(&self) -> Option<u32> {
        self.meta.physoutdev
    }

    /// The source hardware address, at its real length.
    pub fn hw_addr(&self) -> Option<&[u8]> {
        self.meta.hw_addr.as_ref().map(wire::HwAddr::as_slice)
    }

    /// The packet from its network header on, up to the copy range; empty when the queue
    /// copies metadata only. A slice of the received datagram: no copy was made.
    pub fn payload(&self) -> &Bytes {
        static EMPTY: Bytes = Bytes::new();
        self.meta.payload.as_ref().unwrap_or(&EMPTY)
    }

    /// Whether the kernel sent a payload at all (not in metadata-only mode).
    pub fn has_payload(&self) -> bool {
        self.meta.payload.is_some()
    }

    /// The packet's real length when the copy range cut the payload (`NFQA_CAP_LEN`).
    pub fn cap_len(&self) -> Option<u32> {
        self.meta.cap_len
    }

    /// Whether the payload is cut short of the packet.
    pub fn is_truncated(&self) -> bool {
        self.meta
            .cap_len
            .is_some_and(|len| len as usize > self.payload().len())
    }

    /// What the kernel says about the buffer: GSO, checksum not ready or not verified.
    pub fn skb_info(&self) -> SkbInfo {
        self.meta.skb_info
    }

    /// The uid of the sending socket (with [`QueueFlags::UID_GID`](crate::QueueFlags)).
    pub fn uid(&self) -> Option<u32> {
        self.meta.uid
    }

    /// The gid of the sending socket (with [`QueueFlags::UID_GID`](crate::QueueFlags)).
    pub fn gid(&self) -> Option<u32> {
        self.meta.gid
    }

    /// The security context (with [`QueueFlags::SECCTX`](crate::QueueFlags)).
    pub fn secctx(&self) -> Option<&[u8]> {
        self.meta.secctx.as_deref()
    }

    /// The conntrack entry, raw `CTA_*` attributes (with
    /// [`QueueFlags::CONNTRACK`](crate::QueueFlags)).
    pub fn ct(&self) -> Option<&[u8]> {
        self.meta.ct.as_deref()
    }

    /// The conntrack state (`enum ip_conntrack_info`).
    pub fn ct_info(&self) -> Option<u32> {
        self.meta.ct_info
    }

    /// The VLAN tag of a tagged packet.
    pub fn vlan(&self) -> Option<Vlan> {
        self.meta.vlan
    }

    /// The link-layer header (bridge family).
    pub fn l2hdr(&self) -> Option<&[u8]> {
        self.meta.l2hdr.as_deref()
    }

    /// `skb->priority`, when not 0.
    pub fn priority(&self) -> Option<u32> {
        self.meta.priority
    }

    /// The net_cls class id of the sending socket, when not 0.
    pub fn cgroup_classid(&self) -> Option<u32> {
        self.meta.cgroup_classid
    }

    /// Attributes this crate does not know (a newer kernel's): type and value.
    pub fn unknown_attributes(&self) -> &[(u16, Bytes)] {
        &self.meta.unknown
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
    /// `set_payload`); fix its checksums first ([`crate::payload`]).
    pub fn set_payload(&mut self, payload: impl Into<Bytes>) {
        self.pending.payload = Some(payload.into());
    }

    /// Accepts the packet (with what `set_mark`/`set_payload` set).
    ///
    /// # Errors
    /// [`Error::QueueClosed`] when its queue was closed; [`Error::OutOfRange`] for a
    /// replacement payload over [`MAX_VERDICT_PAYLOAD`] bytes (nothing is sent, and the packet
    /// gets its queue's default verdict instead); an I/O error when the verdict could not be
    /// sent.
    pub fn accept(self) -> Result<()> {
        self.finish(VerdictKind::Accept)
    }

    /// Drops the packet.
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

    /// Gives `verdict`; its mark, priority and payload replace what the setters set.
    ///
    /// # Errors
    /// As for [`Packet::accept`].
    pub fn verdict(mut self, verdict: Verdict) -> Result<()> {
        let decision = verdict.decision;
        check(&decision)?;
        self.decided = true;
        self.shared.decide(self.meta.queue, self.meta.id, decision)
    }

    fn finish(mut self, kind: VerdictKind) -> Result<()> {
        let mut decision = std::mem::replace(&mut self.pending, Verdict::accept().decision);
        decision.kind = kind;
        check(&decision)?;
        self.decided = true;
        self.shared.decide(self.meta.queue, self.meta.id, decision)
    }
}

/// The largest replacement payload a verdict can carry: a netlink attribute's 16-bit length
/// minus its 4-byte header.
pub const MAX_VERDICT_PAYLOAD: usize = netfilter_safe::queue::MAX_VERDICT_PAYLOAD;

/// Refuses a verdict the kernel cannot take, before anything is sent.
fn check(decision: &Decision) -> Result<()> {
    match &decision.payload {
        Some(payload) if payload.len() > MAX_VERDICT_PAYLOAD => Err(Error::OutOfRange {
            what: "verdict payload length",
            value: payload.len() as u64,
            min: 0,
            max: MAX_VERDICT_PAYLOAD as u64,
        }),
        _ => Ok(()),
    }
}

impl Drop for Packet {
    fn drop(&mut self) {
        if !self.decided {
            let mut decision = std::mem::replace(&mut self.pending, Verdict::accept().decision);
            decision.kind = self.shared.default_verdict();
            // Nothing can be reported from drop; a closed queue needs no verdict.
            let _ = self.shared.decide(self.meta.queue, self.meta.id, decision);
        }
    }
}

impl fmt::Debug for Packet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Packet")
            .field("id", &self.meta.id)
            .field("queue", &self.meta.queue)
            .field("hook", &self.meta.hook)
            .field("mark", &self.meta.mark)
            .field("payload_len", &self.payload().len())
            .finish_non_exhaustive()
    }
}
