//! A fake kernel: an in-process stand-in for the kernel side of a `NETLINK_NETFILTER` socket,
//! so that code built on [`Transport`] can be tested without root or a namespace.
//!
//! [`FakeKernel::new`] returns the fake and a [`FakeTransport`], the program's end. The
//! transport is one end of a `socketpair(AF_UNIX, SOCK_SEQPACKET)`, so its descriptor works
//! with `poll`, epoll and tokio's `AsyncFd`, and [`Transport::recv`] returns a datagram's full
//! length as `MSG_TRUNC` does on netlink.
//!
//! What the program sends is handled inside [`Transport::send`], before it returns, as the
//! kernel handles a netlink request inside `sendmsg` (`netlink_unicast_kernel`): once `send`
//! is back, the binding, the settled verdict and the acknowledgement in the receive buffer are
//! all there. The fake emulates `nfnetlink`, `nfnetlink_queue` and `nfnetlink_log`:
//!
//! - every message is recorded in arrival order, decoded with [`netfilter_safe::wire`]
//!   ([`FakeKernel::sent`], [`SentMessage`]), with the number of datagrams
//!   ([`FakeKernel::datagrams`]);
//! - as `netlink_rcv_skb` does, a request that fails is answered with an `NLMSG_ERROR`
//!   carrying `-errno` and the whole request, with or without `NLM_F_ACK`; a request with
//!   `NLM_F_ACK` that succeeds is answered with an acknowledgement (error 0, the request's
//!   header only, `NLM_F_CAPPED`); messages without `NLM_F_REQUEST`, control messages and
//!   messages shorter than an `nfgenmsg` are skipped (acknowledged when asked);
//! - queue and group instances as `nfqnl_recv_config` and `nfulnl_recv_config` keep them:
//!   bind (`EBUSY` when bound already, `EPERM` when another socket holds the number, see
//!   [`FakeKernel::bind_elsewhere`]), unbind (`ENODEV` when not bound), copy mode and range
//!   (with the kernel's clamping), queue length, `nlbufsiz` (out-of-range values silently
//!   ignored), timeout, qthresh, flags (a queue's flags need a mask, `EINVAL` without; flags
//!   past `NFQA_CFG_F_MAX` and those made unsupported with
//!   [`FakeKernel::unsupported_queue_flags`] fail with `EOPNOTSUPP`), `PF_BIND`/`PF_UNBIND`
//!   accepted and ignored;
//! - packet ids: [`FakeKernel::queue_packet`] numbers a queue's packets as the kernel does
//!   (`++id_sequence` from 1 per instance), shapes the message by the queue's configuration
//!   (copy mode and range with `NFQA_CAP_LEN`; uid/gid, security context and conntrack only
//!   with their flags) and keeps the id outstanding;
//! - verdicts as `nfqnl_recv_verdict` and `nfqnl_recv_verdict_batch` resolve them: `ENODEV`
//!   for an unbound queue, `EPERM` for another socket's, `EINVAL` for an invalid verdict
//!   (`NF_STOLEN`, above `NF_STOP`), `ENOENT` for an id that is not outstanding; a verdict
//!   settles its id, a batch verdict settles outstanding ids in queue order up to the first
//!   one after its id (`ENOENT` when that is none); an `NF_QUEUE` verdict moves the packet to
//!   the target queue when the program holds it ([`SettledVerdict::requeued`]);
//! - unbinding a queue, or dropping the transport (the kernel's `NETLINK_URELEASE`), drops its
//!   outstanding packets ([`SettledBy::Flush`]) and frees its number;
//! - a datagram the program's receive buffer cannot take is dropped and reported as an
//!   overrun, and [`FakeKernel::overrun`] injects one: the next [`Transport::recv`] fails with
//!   `ENOBUFS` once, and the descriptor becomes readable, as after `netlink_overrun`;
//! - [`FakeKernel::drop_net_admin`]: every datagram fails with `EPERM`, as without
//!   `CAP_NET_ADMIN`; [`FakeKernel::fail_next`] fails the next request with any errno.
//!
//! Dropping the fake shuts its end down: the transport then reads what was queued, then
//! `ENOTCONN`, and its sends fail with `EPIPE`.
//!
//! # Example
//! Push a queue packet, read it through the transport, answer with a verdict built with
//! [`netfilter_safe::wire`], and see it settled:
//!
//! ```
//! use netfilter_safe::transport::Transport;
//! use netfilter_safe::wire::{Emit, Message, Messages, QueueCmd, QueueConfig, QueueParams, Verdict};
//! use netfilter_testkit::fake::FakeKernel;
//! use netfilter_testkit::synth::QueuePacketBuilder;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let (kernel, transport) = FakeKernel::new()?;
//! let mut buf = vec![0u8; 0x10000];
//!
//! // The program binds queue 3, asks for whole packets, and wants an acknowledgement.
//! let mut bind = QueueConfig::default();
//! bind.header.res_id = 3;
//! bind.header.flags = (libc::NLM_F_REQUEST | libc::NLM_F_ACK) as u16;
//! bind.header.seq = 1;
//! bind.cmd = Some(QueueCmd { command: 1, pf: 0 }); // NFQNL_CFG_CMD_BIND
//! bind.params = Some(QueueParams { copy_mode: 2, copy_range: 0xffff }); // NFQNL_COPY_PACKET
//! transport.send(&bind.to_bytes()?)?;
//! let n = transport.recv(&mut buf)?;
//! let Some(Ok(Message::Error(ack))) = Messages::new(&buf[..n]).next() else { panic!() };
//! assert_eq!((ack.error, ack.seq), (0, 1));
//! assert_eq!(kernel.config(3).map(|c| c.copy_range), Some(65531)); // clamped
//!
//! // The kernel queues a packet; the program reads it.
//! let id = kernel.queue_packet(QueuePacketBuilder::ipv4(3).payload(b"\x45\0\0\x14".to_vec()))?;
//! let n = transport.recv(&mut buf)?;
//! let Some(Ok(Message::QueuePacket(packet))) = Messages::new(&buf[..n]).next() else { panic!() };
//! assert_eq!(packet.packet_hdr.packet_id, id);
//! assert_eq!(kernel.outstanding(3), [id]);
//!
//! // The program accepts it with a new mark.
//! let mut verdict = Verdict::default();
//! verdict.header.res_id = 3;
//! verdict.header.flags = libc::NLM_F_REQUEST as u16;
//! verdict.verdict_hdr.verdict = libc::NF_ACCEPT as u32;
//! verdict.verdict_hdr.id = id;
//! verdict.mark = Some(7);
//! transport.send(&verdict.to_bytes()?)?;
//! let settled = kernel.verdict(3, id).expect("settled when send returns");
//! assert_eq!((settled.verdict, settled.mark), (libc::NF_ACCEPT as u32, Some(7)));
//! assert!(kernel.outstanding(3).is_empty());
//! # Ok(())
//! # }
//! ```

use std::borrow::Cow;
use std::collections::{BTreeMap, VecDeque};
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use netfilter_safe::transport::Transport;
use netfilter_safe::wire::uapi;
use netfilter_safe::wire::{
    BatchVerdict, ConnLabels, Emit, LogConfig, LogPacket, Message, NFGENMSG_LEN, NLMSG_MIN_TYPE,
    NlError, NlMsg, NlMsgHeader, QueueConfig, QueuePacket, Verdict, WireError, align,
};

use crate::Error;
use crate::synth::{Datagram, LogPacketBuilder, QueuePacketBuilder};

/// `NLM_F_CAPPED`, re-exported from the wire layer, where it is defined.
pub use netfilter_safe::wire::NLM_F_CAPPED;

/// `ENOTSUPP` (524): the kernel-internal errno `nfnetlink` returns for an unknown command and
/// for packet messages sent to the kernel; programs see it as is.
pub const ENOTSUPP: i32 = 524;

/// `NFQNL_MAX_COPY_RANGE` and `NFULNL_COPY_RANGE_MAX`: `0xffff - NLA_HDRLEN`.
pub const MAX_COPY_RANGE: u32 = 0xffff - 4;

/// `NFQNL_QMAX_DEFAULT`: a new queue's length limit.
pub const QUEUE_MAXLEN_DEFAULT: u32 = 1024;

/// `NFULNL_NLBUFSIZ_DEFAULT` (`NLMSG_GOODSIZE` on x86-64 with 4 KiB pages): a new group's
/// buffer size, and the smallest the kernel accepts.
pub const NLBUFSIZ_DEFAULT: u32 = 3776;

/// The largest `nlbufsiz` the kernel accepts (131072).
pub const NLBUFSIZ_MAX: u32 = 131_072;

/// `NFULNL_TIMEOUT_DEFAULT`: a new group's flush timeout, in 1/100 s.
pub const LOG_TIMEOUT_DEFAULT: u32 = 100;

/// `NFULNL_QTHRESH_DEFAULT`: a new group's batch size.
pub const LOG_QTHRESH_DEFAULT: u32 = 100;

const NLM_F_REQUEST: u16 = libc::NLM_F_REQUEST as u16;
const NLM_F_ACK: u16 = libc::NLM_F_ACK as u16;
const NF_DROP: u32 = libc::NF_DROP as u32;
const NF_STOLEN: u32 = libc::NF_STOLEN as u32;
const NF_QUEUE: u32 = libc::NF_QUEUE as u32;
const NF_STOP: u32 = libc::NF_STOP as u32;

const QCMD_BIND: u8 = uapi::NFQNL_CFG_CMD_BIND as u8;
const QCMD_UNBIND: u8 = uapi::NFQNL_CFG_CMD_UNBIND as u8;
const QCMD_PF_BIND: u8 = uapi::NFQNL_CFG_CMD_PF_BIND as u8;
const QCMD_PF_UNBIND: u8 = uapi::NFQNL_CFG_CMD_PF_UNBIND as u8;
const QCOPY_NONE: u8 = uapi::NFQNL_COPY_NONE as u8;
const QCOPY_META: u8 = uapi::NFQNL_COPY_META as u8;
const QCOPY_PACKET: u8 = uapi::NFQNL_COPY_PACKET as u8;
const QF_FAIL_OPEN: u32 = uapi::NFQA_CFG_F_FAIL_OPEN;
const QF_CONNTRACK: u32 = uapi::NFQA_CFG_F_CONNTRACK;
const QF_UID_GID: u32 = uapi::NFQA_CFG_F_UID_GID;
const QF_SECCTX: u32 = uapi::NFQA_CFG_F_SECCTX;
const QF_MAX: u32 = uapi::NFQA_CFG_F_MAX;

const LCMD_BIND: u8 = uapi::NFULNL_CFG_CMD_BIND as u8;
const LCMD_UNBIND: u8 = uapi::NFULNL_CFG_CMD_UNBIND as u8;
const LCMD_PF_BIND: u8 = uapi::NFULNL_CFG_CMD_PF_BIND as u8;
const LCMD_PF_UNBIND: u8 = uapi::NFULNL_CFG_CMD_PF_UNBIND as u8;
const LCOPY_NONE: u8 = uapi::NFULNL_COPY_NONE as u8;
const LCOPY_META: u8 = uapi::NFULNL_COPY_META as u8;
const LCOPY_PACKET: u8 = uapi::NFULNL_COPY_PACKET as u8;
const LF_SEQ: u16 = uapi::NFULNL_CFG_F_SEQ as u16;
const LF_SEQ_GLOBAL: u16 = uapi::NFULNL_CFG_F_SEQ_GLOBAL as u16;
const LF_CONNTRACK: u16 = uapi::NFULNL_CFG_F_CONNTRACK as u16;

/// Port ids handed to fakes; the kernel's automatic ones are negative as an `i32` too.
static NEXT_PORT_ID: AtomicU32 = AtomicU32::new(0x8000_1000);

/// How a queued packet left its queue.
///
/// ```
/// use netfilter_testkit::fake::SettledBy;
/// # use netfilter::Queue;
/// # use netfilter_testkit::fake::FakeKernel;
/// # use netfilter_testkit::synth::QueuePacketBuilder;
/// # let (kernel, transport) = FakeKernel::new()?;
/// # let mut queue = Queue::builder(0).transport(transport).open()?;
/// let id = kernel.queue_packet(QueuePacketBuilder::ipv4(0))?;
/// let _held = queue.recv()?; // never given a verdict
/// drop(queue); // the program closes its socket: the kernel drops what waits
/// assert_eq!(kernel.verdict(0, id).map(|v| (v.verdict, v.by)), Some((0, SettledBy::Flush)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SettledBy {
    /// An `NFQNL_MSG_VERDICT` naming its id.
    Verdict,
    /// An `NFQNL_MSG_VERDICT_BATCH` whose id is `max_id`.
    Batch {
        /// The id in the batch verdict's header.
        max_id: u32,
    },
    /// Its queue went away (unbind, or the program's socket closed): the kernel drops the
    /// packets still waiting (`nfqnl_flush` with `NF_DROP`).
    Flush,
}

/// The verdict the fake applied to one queued packet.
///
/// ```
/// use netfilter_testkit::fake::SettledBy;
/// # use netfilter::Queue;
/// # use netfilter_testkit::fake::FakeKernel;
/// # use netfilter_testkit::synth::QueuePacketBuilder;
/// # let (kernel, transport) = FakeKernel::new()?;
/// // Unbatched: each verdict is an NFQNL_MSG_VERDICT of its own.
/// let mut queue = Queue::builder(0).batching(false).transport(transport).open()?;
/// let id = kernel.queue_packet(QueuePacketBuilder::ipv4(0))?;
/// let mut packet = queue.recv()?;
/// packet.set_mark(0x10);
/// packet.accept()?;
/// queue.flush()?;
/// let settled = kernel.verdict(0, id).expect("settled");
/// assert_eq!((settled.verdict, settled.mark), (1, Some(0x10))); // NF_ACCEPT with a new mark
/// assert_eq!((settled.payload, settled.by), (None, SettledBy::Verdict));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SettledVerdict {
    /// The verdict word: `NF_*` in the low byte, an `NF_QUEUE` target in the high 16 bits.
    pub verdict: u32,
    /// `NFQA_MARK`: the new packet mark.
    pub mark: Option<u32>,
    /// `NFQA_PRIORITY`: the new `skb->priority`.
    pub priority: Option<u32>,
    /// `NFQA_PAYLOAD`: the replacement packet (single verdicts only).
    pub payload: Option<Vec<u8>>,
    /// `CTA_MARK` inside `NFQA_CT`: the new conntrack mark (single verdicts only).
    pub ct_mark: Option<u32>,
    /// `CTA_LABELS` inside `NFQA_CT`: the new conntrack labels (single verdicts only).
    pub ct_labels: Option<ConnLabels>,
    /// `CTA_LABELS_MASK` inside `NFQA_CT`: which labels change.
    pub ct_labels_mask: Option<ConnLabels>,
    /// Which message settled it.
    pub by: SettledBy,
    /// For an `NF_QUEUE` verdict whose target queue the program holds (and that queues, see
    /// [`FakeKernel::queue_packet`]): that queue and the packet's new id there, the packet
    /// carrying the verdict's mark and payload. `None` otherwise: the kernel then accepts the
    /// packet when the verdict has `NF_VERDICT_FLAG_QUEUE_BYPASS` and drops it without.
    pub requeued: Option<(u16, u32)>,
}

impl SettledVerdict {
    /// Whether a batch verdict settled it.
    ///
    /// ```
    /// # use netfilter::Queue;
    /// # use netfilter_testkit::fake::FakeKernel;
    /// # use netfilter_testkit::synth::QueuePacketBuilder;
    /// # let (kernel, transport) = FakeKernel::new()?;
    /// # let mut queue = Queue::builder(0).transport(transport).open()?;
    /// // Two packets of one receive, equal verdicts: they travel as one batch verdict.
    /// let ids = kernel.queue_packets([QueuePacketBuilder::ipv4(0), QueuePacketBuilder::ipv4(0)])?;
    /// let (first, second) = (queue.recv()?, queue.recv()?);
    /// first.accept()?;
    /// second.accept()?;
    /// queue.flush()?;
    /// assert!(ids.iter().all(|&id| kernel.verdict(0, id).is_some_and(|v| v.is_batch())));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn is_batch(&self) -> bool {
        matches!(self.by, SettledBy::Batch { .. })
    }
}

/// A queue instance's configuration as the kernel keeps it (`struct nfqnl_instance`).
///
/// ```
/// use netfilter::CopyMode;
/// use netfilter_testkit::fake::FakeKernel;
///
/// let (kernel, transport) = FakeKernel::new()?;
/// let _queue = netfilter::Queue::builder(2).copy(CopyMode::Meta, 0).max_len(64).transport(transport).open()?;
/// let settings = kernel.config(2).expect("bound");
/// assert_eq!((settings.copy_mode, settings.copy_range, settings.maxlen), (1, 0, 64)); // NFQNL_COPY_META
/// assert_eq!(kernel.config(3), None); // never bound
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct QueueSettings {
    /// `copy_mode`: `NFQNL_COPY_NONE` (0, the kernel's default, which drops every packet),
    /// `_META` (1), `_PACKET` (2).
    pub copy_mode: u8,
    /// `copy_range`: 0 for NONE and META; for PACKET the requested range, 0 or above
    /// 65531 becoming 65531.
    pub copy_range: u32,
    /// `queue_maxlen`: packets that may wait for a verdict (default 1024).
    pub maxlen: u32,
    /// `flags`: `NFQA_CFG_F_*`.
    pub flags: u32,
}

impl Default for QueueSettings {
    fn default() -> Self {
        QueueSettings {
            copy_mode: QCOPY_NONE,
            copy_range: MAX_COPY_RANGE,
            maxlen: QUEUE_MAXLEN_DEFAULT,
            flags: 0,
        }
    }
}

/// A log group instance's configuration as the kernel keeps it (`struct nfulnl_instance`).
///
/// ```
/// use netfilter_testkit::fake::{FakeKernel, LogSettings, NLBUFSIZ_DEFAULT};
///
/// let (kernel, transport) = FakeKernel::new()?;
/// let _log = netfilter::LogGroup::builder(4).qthresh(1).transport(transport).open()?;
/// let settings = kernel.log_config(4).expect("bound");
/// assert_eq!(settings.qthresh, 1);
/// assert_eq!(settings.nlbufsiz, NLBUFSIZ_DEFAULT); // not set: the kernel's default
/// assert_eq!(settings.copy_range, LogSettings::default().copy_range);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct LogSettings {
    /// `copy_mode`: `NFULNL_COPY_*` (default PACKET).
    pub copy_mode: u8,
    /// `copy_range` (default 65531; 0 for NONE and META).
    pub copy_range: u32,
    /// `nlbufsiz` in bytes.
    pub nlbufsiz: u32,
    /// `flushtimeout` in 1/100 s.
    pub timeout: u32,
    /// `qthreshold`: messages per batch.
    pub qthresh: u32,
    /// `flags`: `NFULNL_CFG_F_*`.
    pub flags: u16,
}

impl Default for LogSettings {
    fn default() -> Self {
        LogSettings {
            copy_mode: LCOPY_PACKET,
            copy_range: MAX_COPY_RANGE,
            nlbufsiz: NLBUFSIZ_DEFAULT,
            timeout: LOG_TIMEOUT_DEFAULT,
            qthresh: LOG_QTHRESH_DEFAULT,
            flags: 0,
        }
    }
}

/// A message the program sent, decoded.
///
/// ```
/// use netfilter_testkit::fake::Sent;
/// # use netfilter::Queue;
/// # use netfilter_testkit::fake::FakeKernel;
/// # use netfilter_testkit::synth::QueuePacketBuilder;
/// # let (kernel, transport) = FakeKernel::new()?;
/// // Unbatched: each verdict is an NFQNL_MSG_VERDICT of its own.
/// let mut queue = Queue::builder(0).batching(false).transport(transport).open()?;
/// let id = kernel.queue_packet(QueuePacketBuilder::ipv4(0))?;
/// queue.recv()?.drop()?;
/// queue.flush()?;
/// let sent = kernel.sent();
/// assert!(matches!(sent[0].message, Sent::QueueConfig(_))); // the bind
/// match &sent.last().expect("a message").message {
///     Sent::Verdict(v) => assert_eq!((v.verdict_hdr.id, v.verdict_hdr.verdict), (id, 0)),
///     other => panic!("not a verdict: {other:?}"),
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Sent {
    /// `NFQNL_MSG_CONFIG`.
    QueueConfig(QueueConfig<'static>),
    /// `NFQNL_MSG_VERDICT`.
    Verdict(Box<Verdict<'static>>),
    /// `NFQNL_MSG_VERDICT_BATCH`.
    BatchVerdict(BatchVerdict<'static>),
    /// `NFULNL_MSG_CONFIG`.
    LogConfig(LogConfig<'static>),
    /// Any other type; the bytes are in [`SentMessage::bytes`].
    Other,
    /// A message of a known type that does not parse, or bytes that do not frame as a netlink
    /// message (the kernel stops reading the datagram there).
    Malformed(WireError),
}

/// One message the program sent, in arrival order.
///
/// ```
/// use netfilter_testkit::fake::{FakeKernel, Sent};
///
/// let (kernel, transport) = FakeKernel::new()?;
/// let _queue = netfilter::Queue::builder(0).transport(transport).open()?;
/// let bind = &kernel.sent()[0];
/// assert_eq!(bind.datagram, 0); // the program's first send
/// assert_eq!(bind.reply, Some(0)); // acknowledged
/// assert_eq!(bind.header.len as usize, bind.bytes.len());
/// let Sent::QueueConfig(config) = &bind.message else { panic!("not a config") };
/// assert_eq!(config.cmd.map(|c| c.command), Some(1)); // NFQNL_CFG_CMD_BIND
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SentMessage {
    /// The index of the datagram it came in (0 for the program's first `send`).
    pub datagram: usize,
    /// Its netlink header (flags, seq, pid); all zero when the bytes did not frame.
    pub header: NlMsgHeader,
    /// Its bytes (`nlmsg_len` of them, or the rest of the datagram when it did not frame).
    pub bytes: Vec<u8>,
    /// The decoded message.
    pub message: Sent,
    /// The error code of the `NLMSG_ERROR` the fake answered with (0 for an
    /// acknowledgement), or `None` when it sent none.
    pub reply: Option<i32>,
}

/// Who holds a queue or group number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Owner {
    /// The program under test.
    Program,
    /// Another socket ([`FakeKernel::bind_elsewhere`]).
    Elsewhere,
}

#[derive(Debug, Clone)]
struct Waiting {
    id: u32,
    packet: QueuePacket<'static>,
}

#[derive(Debug, Clone)]
struct QueueInstance {
    owner: Owner,
    settings: QueueSettings,
    id_sequence: u32,
    waiting: VecDeque<Waiting>,
    dropped: u64,
}

impl QueueInstance {
    fn new(owner: Owner) -> Self {
        QueueInstance {
            owner,
            settings: QueueSettings::default(),
            id_sequence: 0,
            waiting: VecDeque::new(),
            dropped: 0,
        }
    }
}

#[derive(Debug, Clone)]
struct LogInstance {
    owner: Owner,
    settings: LogSettings,
    seq: u32,
}

/// Everything the fake kernel knows, for [`FakeKernel::state`] and [`FakeKernel::wait_for`].
///
/// ```
/// # use netfilter::Queue;
/// # use netfilter_testkit::fake::FakeKernel;
/// # use netfilter_testkit::synth::QueuePacketBuilder;
/// # let (kernel, transport) = FakeKernel::new()?;
/// # let mut queue = Queue::builder(0).transport(transport).open()?;
/// let id = kernel.queue_packet(QueuePacketBuilder::ipv4(0))?;
/// // One look under one lock: every answer is from the same moment.
/// let (bound, waiting, closed) = kernel.state(|s| (s.bound_queues(), s.outstanding(0), s.is_closed()));
/// assert_eq!((bound, waiting, closed), (vec![0], vec![id], false));
/// # drop(queue);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct KernelState {
    port_id: u32,
    queues: BTreeMap<u16, QueueInstance>,
    groups: BTreeMap<u16, LogInstance>,
    settled: Vec<(u16, u32, SettledVerdict)>,
    sent: Vec<SentMessage>,
    datagrams: usize,
    overruns: u64,
    global_seq: u32,
    unsupported_queue_flags: u32,
    unsupported_log_flags: u16,
    fail_next: VecDeque<i32>,
    net_admin: bool,
    closed: bool,
}

impl KernelState {
    /// The port id the fake gave the program's socket (`nlmsg_pid` of the errors it sends).
    ///
    /// ```
    /// # use netfilter::Queue;
    /// # use netfilter_testkit::fake::FakeKernel;
    /// # use netfilter_testkit::synth::QueuePacketBuilder;
    /// # let (kernel, transport) = FakeKernel::new()?;
    /// # let mut queue = Queue::builder(0).transport(transport).open()?;
    /// // The port id errors and acknowledgements carry (negative as an i32, like the kernel's).
    /// assert_eq!(kernel.state(|s| s.port_id()), kernel.port_id());
    /// assert!((kernel.port_id() as i32) < 0);
    /// # drop(queue);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn port_id(&self) -> u32 {
        self.port_id
    }

    /// The configuration of queue `queue` when the program has it bound.
    ///
    /// ```
    /// # use netfilter::Queue;
    /// # use netfilter_testkit::fake::FakeKernel;
    /// # use netfilter_testkit::synth::QueuePacketBuilder;
    /// # let (kernel, transport) = FakeKernel::new()?;
    /// # let mut queue = Queue::builder(0).transport(transport).open()?;
    /// assert!(kernel.state(|s| s.queue(0)).is_some());
    /// drop(queue); // unbinds
    /// assert!(kernel.state(|s| s.queue(0)).is_none());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn queue(&self, queue: u16) -> Option<QueueSettings> {
        self.queues
            .get(&queue)
            .filter(|q| q.owner == Owner::Program)
            .map(|q| q.settings)
    }

    /// The configuration of log group `group` when the program has it bound.
    ///
    /// ```
    /// # use netfilter::LogGroup;
    /// # use netfilter_testkit::fake::FakeKernel;
    /// # use netfilter_testkit::synth::LogPacketBuilder;
    /// # let (kernel, transport) = FakeKernel::new()?;
    /// # let mut log = LogGroup::builder(1).transport(transport).open()?;
    /// assert_eq!(kernel.state(|s| s.group(1)), kernel.log_config(1));
    /// assert!(kernel.state(|s| s.group(2)).is_none());
    /// # drop(log);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn group(&self, group: u16) -> Option<LogSettings> {
        self.groups
            .get(&group)
            .filter(|g| g.owner == Owner::Program)
            .map(|g| g.settings)
    }

    /// The queues the program has bound.
    ///
    /// ```
    /// use netfilter::Queue;
    /// use netfilter_testkit::fake::FakeKernel;
    ///
    /// let (kernel, transport) = FakeKernel::new()?;
    /// let queue = Queue::builder_range(4..=6).transport(transport).open()?;
    /// assert_eq!(kernel.state(|s| s.bound_queues()), vec![4, 5, 6]);
    /// assert_eq!(queue.numbers(), &[4, 5, 6]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn bound_queues(&self) -> Vec<u16> {
        let mine = self
            .queues
            .iter()
            .filter(|(_, q)| q.owner == Owner::Program);
        mine.map(|(n, _)| *n).collect()
    }

    /// The log groups the program has bound.
    ///
    /// ```
    /// use netfilter::LogGroup;
    /// use netfilter_testkit::fake::FakeKernel;
    ///
    /// let (kernel, transport) = FakeKernel::new()?;
    /// let _log = LogGroup::builder_groups(&[9, 3]).transport(transport).open()?;
    /// assert_eq!(kernel.state(|s| s.bound_groups()), vec![3, 9]); // in number order
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn bound_groups(&self) -> Vec<u16> {
        let mine = self
            .groups
            .iter()
            .filter(|(_, g)| g.owner == Owner::Program);
        mine.map(|(n, _)| *n).collect()
    }

    /// The ids of queue `queue` that wait for a verdict, in queue order.
    ///
    /// ```
    /// # use netfilter::Queue;
    /// # use netfilter_testkit::fake::FakeKernel;
    /// # use netfilter_testkit::synth::QueuePacketBuilder;
    /// # let (kernel, transport) = FakeKernel::new()?;
    /// # let mut queue = Queue::builder(0).transport(transport).open()?;
    /// let a = kernel.queue_packet(QueuePacketBuilder::ipv4(0))?;
    /// let b = kernel.queue_packet(QueuePacketBuilder::ipv4(0))?;
    /// assert_eq!(kernel.state(|s| s.outstanding(0)), vec![a, b]);
    /// queue.recv()?.accept()?;
    /// queue.flush()?;
    /// assert_eq!(kernel.state(|s| s.outstanding(0)), vec![b]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn outstanding(&self, queue: u16) -> Vec<u32> {
        self.queues
            .get(&queue)
            .map(|q| q.waiting.iter().map(|w| w.id).collect())
            .unwrap_or_default()
    }

    /// Packets of queue `queue` the kernel dropped instead of queueing (copy mode NONE, queue
    /// full, receive buffer full), as procfs's `queue_dropped` and `user_dropped` count them.
    ///
    /// ```
    /// use netfilter::Queue;
    /// use netfilter_testkit::fake::FakeKernel;
    /// use netfilter_testkit::synth::QueuePacketBuilder;
    ///
    /// let (kernel, transport) = FakeKernel::new()?;
    /// let _queue = Queue::builder(0).max_len(1).transport(transport).open()?;
    /// kernel.queue_packet(QueuePacketBuilder::ipv4(0))?;
    /// // The queue is full: the kernel drops the next packet instead of queueing it.
    /// assert!(kernel.queue_packet(QueuePacketBuilder::ipv4(0)).is_err());
    /// assert_eq!(kernel.state(|s| s.dropped(0)), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn dropped(&self, queue: u16) -> u64 {
        self.queues.get(&queue).map_or(0, |q| q.dropped)
    }

    /// The verdict applied to packet `id` of queue `queue` (the latest, if the id was used
    /// twice).
    ///
    /// ```
    /// # use netfilter::Queue;
    /// # use netfilter_testkit::fake::FakeKernel;
    /// # use netfilter_testkit::synth::QueuePacketBuilder;
    /// # let (kernel, transport) = FakeKernel::new()?;
    /// # let mut queue = Queue::builder(0).transport(transport).open()?;
    /// let id = kernel.queue_packet(QueuePacketBuilder::ipv4(0))?;
    /// assert!(kernel.state(|s| s.verdict(0, id).is_none()));
    /// queue.recv()?.repeat()?;
    /// queue.flush()?;
    /// assert_eq!(kernel.state(|s| s.verdict(0, id).map(|v| v.verdict)), Some(4)); // NF_REPEAT
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn verdict(&self, queue: u16, id: u32) -> Option<&SettledVerdict> {
        self.settled
            .iter()
            .rev()
            .find(|(q, i, _)| *q == queue && *i == id)
            .map(|(_, _, v)| v)
    }

    /// Every settled packet in order: queue, id, verdict.
    ///
    /// ```
    /// # use netfilter::Queue;
    /// # use netfilter_testkit::fake::FakeKernel;
    /// # use netfilter_testkit::synth::QueuePacketBuilder;
    /// # let (kernel, transport) = FakeKernel::new()?;
    /// # let mut queue = Queue::builder(0).transport(transport).open()?;
    /// let a = kernel.queue_packet(QueuePacketBuilder::ipv4(0))?;
    /// queue.recv()?.drop()?;
    /// queue.flush()?;
    /// let b = kernel.queue_packet(QueuePacketBuilder::ipv4(0))?;
    /// queue.recv()?.accept()?;
    /// queue.flush()?;
    /// let order: Vec<(u16, u32, u32)> = kernel.state(|s| s.settled().iter().map(|(q, id, v)| (*q, *id, v.verdict)).collect());
    /// assert_eq!(order, [(0, a, 0), (0, b, 1)]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn settled(&self) -> &[(u16, u32, SettledVerdict)] {
        &self.settled
    }

    /// Every message the program sent, in order.
    ///
    /// ```
    /// # use netfilter::Queue;
    /// # use netfilter_testkit::fake::FakeKernel;
    /// # use netfilter_testkit::synth::QueuePacketBuilder;
    /// # let (kernel, transport) = FakeKernel::new()?;
    /// # let mut queue = Queue::builder(0).transport(transport).open()?;
    /// let before = kernel.state(|s| s.sent().len());
    /// queue.flush()?; // nothing held back: nothing sent
    /// assert_eq!(kernel.state(|s| s.sent().len()), before);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn sent(&self) -> &[SentMessage] {
        &self.sent
    }

    /// How many datagrams (`send` calls) the program made.
    ///
    /// ```
    /// # use netfilter::Queue;
    /// # use netfilter_testkit::fake::FakeKernel;
    /// # use netfilter_testkit::synth::QueuePacketBuilder;
    /// # let (kernel, transport) = FakeKernel::new()?;
    /// # let mut queue = Queue::builder(0).transport(transport).open()?;
    /// let id = kernel.queue_packet(QueuePacketBuilder::ipv4(0))?;
    /// let before = kernel.state(|s| s.datagrams());
    /// queue.recv()?.accept()?;
    /// queue.flush()?;
    /// assert_eq!(kernel.state(|s| s.datagrams()), before + 1); // one send for the verdict
    /// # let _ = id;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn datagrams(&self) -> usize {
        self.datagrams
    }

    /// How many overruns happened: datagrams dropped because the program's receive buffer was
    /// full, plus those injected with [`FakeKernel::overrun`].
    ///
    /// ```
    /// use netfilter::Error;
    /// # use netfilter::LogGroup;
    /// # use netfilter_testkit::fake::FakeKernel;
    /// # use netfilter_testkit::synth::LogPacketBuilder;
    /// # let (kernel, transport) = FakeKernel::new()?;
    /// # let mut log = LogGroup::builder(1).transport(transport).open()?;
    /// kernel.overrun();
    /// assert_eq!(kernel.state(|s| s.overruns()), 1);
    /// assert!(matches!(log.recv(), Err(Error::Overrun { .. })));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn overruns(&self) -> u64 {
        self.overruns
    }

    /// Whether the program's transport was dropped (its socket closed).
    ///
    /// ```
    /// # use netfilter::LogGroup;
    /// # use netfilter_testkit::fake::FakeKernel;
    /// # use netfilter_testkit::synth::LogPacketBuilder;
    /// # let (kernel, transport) = FakeKernel::new()?;
    /// # let mut log = LogGroup::builder(1).transport(transport).open()?;
    /// assert!(!kernel.state(|s| s.is_closed()));
    /// drop(log);
    /// assert!(kernel.state(|s| s.is_closed()));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    fn settle(&mut self, queue: u16, id: u32, v: SettledVerdict) {
        self.settled.push((queue, id, v));
    }

    /// Destroys a queue instance the way `instance_destroy` does: waiting packets dropped.
    fn destroy_queue(&mut self, queue: u16) {
        if let Some(inst) = self.queues.remove(&queue) {
            for w in inst.waiting {
                self.settle(queue, w.id, settled(NF_DROP, SettledBy::Flush));
            }
        }
    }
}

fn settled(verdict: u32, by: SettledBy) -> SettledVerdict {
    SettledVerdict {
        verdict,
        mark: None,
        priority: None,
        payload: None,
        ct_mark: None,
        ct_labels: None,
        ct_labels_mask: None,
        by,
        requeued: None,
    }
}

/// What both ends share: the kernel's socket end, its state, and the overrun signal.
#[derive(Debug)]
struct Shared {
    /// The kernel's end of the socket pair; the fake writes to the program through it.
    kernel_fd: OwnedFd,
    state: Mutex<KernelState>,
    changed: Condvar,
    /// An overrun the next `recv` reports.
    overrun: AtomicBool,
    /// Empty datagrams queued only to make the descriptor readable after an overrun.
    markers: AtomicUsize,
    /// The fake was dropped.
    gone: AtomicBool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, KernelState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sends one datagram to the program without blocking; a full receive buffer drops it
    /// and flags an overrun, as `netlink_unicast` does.
    fn deliver(&self, state: &mut KernelState, datagram: &[u8]) -> io::Result<()> {
        match send_raw(self.kernel_fd.as_raw_fd(), datagram) {
            Ok(()) => Ok(()),
            Err(err) => {
                if matches!(err.raw_os_error(), Some(libc::EAGAIN | libc::ENOBUFS)) {
                    state.overruns += 1;
                    self.flag_overrun();
                }
                Err(err)
            }
        }
    }

    fn flag_overrun(&self) {
        self.overrun.store(true, Ordering::SeqCst);
        // Count the marker before it can be read, and take the count back if it is not sent
        // (a full buffer is readable anyway).
        self.markers.fetch_add(1, Ordering::SeqCst);
        if send_raw(self.kernel_fd.as_raw_fd(), &[]).is_err() {
            self.take_marker();
        }
    }

    fn take_marker(&self) -> bool {
        self.markers
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |m| m.checked_sub(1))
            .is_ok()
    }

    /// Handles a datagram the program sent, as `nfnetlink_rcv` and `netlink_rcv_skb` do.
    fn receive(&self, datagram: &[u8]) {
        let mut state = self.lock();
        let index = state.datagrams;
        state.datagrams += 1;
        let mut replies = Vec::new();
        let mut at = 0;
        let mut first = true;
        while at < datagram.len() {
            let rest = datagram.get(at..).unwrap_or_default();
            let msg = match NlMsg::new_checked(rest) {
                Ok(msg) => msg,
                Err(error) => {
                    // netlink_rcv_skb stops at a message that does not frame, silently.
                    state.sent.push(SentMessage {
                        datagram: index,
                        header: NlMsgHeader::default(),
                        bytes: rest.to_vec(),
                        message: Sent::Malformed(error),
                        reply: None,
                    });
                    break;
                }
            };
            let header = msg.header();
            let message = decode(&msg);
            let result = if !state.net_admin {
                // nfnetlink_rcv: without CAP_NET_ADMIN the first message is answered with
                // EPERM and the datagram goes no further.
                first.then_some(-libc::EPERM)
            } else {
                let code = process(&mut state, self, &msg, &message);
                (code != 0 || header.flags & NLM_F_ACK != 0).then_some(code)
            };
            if let Some(code) = result {
                replies.push(error_reply(state.port_id, &msg, code));
            }
            state.sent.push(SentMessage {
                datagram: index,
                header,
                bytes: msg.as_bytes().to_vec(),
                message,
                reply: result,
            });
            if !state.net_admin {
                break;
            }
            first = false;
            at += align(msg.as_bytes().len());
        }
        for reply in replies {
            // A reply that does not fit is lost and reported as an overrun, as in the kernel.
            let _ = self.deliver(&mut state, &reply);
        }
        drop(state);
        self.changed.notify_all();
    }
}

/// The `NLMSG_ERROR` `netlink_ack` builds: error 0 carries the request's header only
/// (`NLM_F_CAPPED`), an error the whole request, padded.
fn error_reply(port_id: u32, msg: &NlMsg<'_>, code: i32) -> Vec<u8> {
    let rest = if code == 0 {
        Vec::new()
    } else {
        let mut rest = msg.payload().to_vec();
        rest.resize(align(rest.len()), 0);
        rest
    };
    let err = NlError {
        flags: if code == 0 { NLM_F_CAPPED } else { 0 },
        seq: msg.header().seq,
        pid: port_id,
        error: code,
        original: Some(msg.header()),
        rest: Cow::Owned(rest),
    };
    // An NlError with a header and a payload shorter than the request cannot be too long.
    err.to_bytes().unwrap_or_default()
}

fn decode(msg: &NlMsg<'_>) -> Sent {
    match Message::parse(msg) {
        Ok(Message::QueueConfig(c)) => Sent::QueueConfig(c.into_owned()),
        Ok(Message::Verdict(v)) => Sent::Verdict(Box::new(v.into_owned())),
        Ok(Message::BatchVerdict(v)) => Sent::BatchVerdict(v.into_owned()),
        Ok(Message::LogConfig(c)) => Sent::LogConfig(c.into_owned()),
        Ok(_) => Sent::Other,
        Err(e) => Sent::Malformed(e),
    }
}

/// One message through `netlink_rcv_skb` and `nfnetlink_rcv_msg`: 0 or a negative errno.
fn process(state: &mut KernelState, shared: &Shared, msg: &NlMsg<'_>, message: &Sent) -> i32 {
    let header = msg.header();
    // Only requests are handled; control messages are skipped; nfnetlink ignores messages
    // too short for an nfgenmsg.
    if header.flags & NLM_F_REQUEST == 0
        || header.msg_type < NLMSG_MIN_TYPE
        || msg.payload().len() < NFGENMSG_LEN
    {
        return 0;
    }
    if let Some(errno) = state.fail_next.pop_front() {
        return -errno;
    }
    match message {
        Sent::QueueConfig(c) => queue_config(state, c),
        Sent::Verdict(v) => verdict(state, shared, v),
        Sent::BatchVerdict(v) => batch_verdict(state, v),
        Sent::LogConfig(c) => log_config(state, c),
        Sent::Malformed(_) => -libc::EINVAL,
        // nfqnl_recv_unsupp, nfulnl_recv_unsupp.
        Sent::Other
            if header.msg_type == QueuePacket::MSG_TYPE
                || header.msg_type == LogPacket::MSG_TYPE =>
        {
            -ENOTSUPP
        }
        // No such subsystem or message: nfnetlink_rcv_msg returns EINVAL.
        Sent::Other => -libc::EINVAL,
    }
}

/// `nfqnl_recv_config`.
fn queue_config(state: &mut KernelState, c: &QueueConfig<'_>) -> i32 {
    let num = c.header.res_id;
    if let Some(cmd) = c.cmd {
        if cmd.command == QCMD_PF_BIND || cmd.command == QCMD_PF_UNBIND {
            return 0;
        }
    }
    let (mut flags, mut mask) = (0, 0);
    if let Some(f) = c.flags {
        let Some(m) = c.mask else {
            return -libc::EINVAL;
        };
        (flags, mask) = (f, m);
        if flags >= QF_MAX || flags & mask & state.unsupported_queue_flags != 0 {
            return -libc::EOPNOTSUPP;
        }
    }
    let existing = state.queues.get(&num).map(|q| q.owner);
    if existing == Some(Owner::Elsewhere) {
        return -libc::EPERM;
    }
    if let Some(cmd) = c.cmd {
        match cmd.command {
            QCMD_BIND if existing.is_some() => return -libc::EBUSY,
            QCMD_BIND => {
                state.queues.insert(num, QueueInstance::new(Owner::Program));
            }
            QCMD_UNBIND if existing.is_none() => return -libc::ENODEV,
            QCMD_UNBIND => {
                state.destroy_queue(num);
                return 0;
            }
            _ => return -ENOTSUPP,
        }
    }
    let Some(inst) = state.queues.get_mut(&num) else {
        return -libc::ENODEV;
    };
    if let Some(p) = c.params {
        // nfqnl_set_mode; an unknown mode is ignored (its EINVAL is not returned).
        match p.copy_mode {
            QCOPY_NONE | QCOPY_META => {
                inst.settings.copy_mode = p.copy_mode;
                inst.settings.copy_range = 0;
            }
            QCOPY_PACKET => {
                inst.settings.copy_mode = p.copy_mode;
                inst.settings.copy_range = if p.copy_range == 0 || p.copy_range > MAX_COPY_RANGE {
                    MAX_COPY_RANGE
                } else {
                    p.copy_range
                };
            }
            _ => {}
        }
    }
    if let Some(maxlen) = c.queue_maxlen {
        inst.settings.maxlen = maxlen;
    }
    if c.flags.is_some() {
        inst.settings.flags = (inst.settings.flags & !mask) | (flags & mask);
    }
    0
}

/// `verdict_instance_lookup` and `verdicthdr_get`.
fn verdict_checks(state: &KernelState, queue: u16, verdict: u32) -> Result<(), i32> {
    match state.queues.get(&queue).map(|q| q.owner) {
        None => return Err(-libc::ENODEV),
        Some(Owner::Elsewhere) => return Err(-libc::EPERM),
        Some(Owner::Program) => {}
    }
    let code = verdict & 0xff;
    if code > NF_STOP || code == NF_STOLEN {
        return Err(-libc::EINVAL);
    }
    Ok(())
}

/// `nfqnl_recv_verdict`.
fn verdict(state: &mut KernelState, shared: &Shared, v: &Verdict<'_>) -> i32 {
    let queue = v.header.res_id;
    let word = v.verdict_hdr.verdict;
    if let Err(code) = verdict_checks(state, queue, word) {
        return code;
    }
    let Some(inst) = state.queues.get_mut(&queue) else {
        return -libc::ENODEV;
    };
    let id = v.verdict_hdr.id;
    let Some(pos) = inst.waiting.iter().position(|w| w.id == id) else {
        return -libc::ENOENT;
    };
    let Some(entry) = inst.waiting.remove(pos) else {
        return -libc::ENOENT;
    };
    let mut s = settled(word, SettledBy::Verdict);
    s.mark = v.mark;
    s.priority = v.priority;
    s.payload = v.payload.as_deref().map(<[u8]>::to_vec);
    // A nest that does not parse changes nothing (`ctnetlink_glue_parse` fails first).
    if let Ok(Some(ct)) = v.conntrack() {
        s.ct_mark = ct.mark();
        s.ct_labels = ct.labels();
        s.ct_labels_mask = ct.labels_mask();
    }
    if word & 0xff == NF_QUEUE {
        let mut packet = entry.packet;
        if let Some(p) = &s.payload {
            packet.payload = Some(Cow::Owned(p.clone()));
            packet.cap_len = None;
        }
        if let Some(m) = s.mark {
            packet.mark = (m != 0).then_some(m);
        }
        let target = (word >> 16) as u16;
        packet.header.res_id = target;
        // Without a listener the kernel accepts (NF_VERDICT_FLAG_QUEUE_BYPASS) or drops it.
        s.requeued = enqueue(state, shared, packet).ok().map(|id| (target, id));
    }
    state.settle(queue, id, s);
    0
}

/// `nfq_id_after`: whether `id` comes after `max`, modulo 2^32.
fn id_after(id: u32, max: u32) -> bool {
    (max.wrapping_sub(id) as i32) < 0
}

/// `nfqnl_recv_verdict_batch`.
fn batch_verdict(state: &mut KernelState, v: &BatchVerdict<'_>) -> i32 {
    let queue = v.header.res_id;
    let word = v.verdict_hdr.verdict;
    if let Err(code) = verdict_checks(state, queue, word) {
        return code;
    }
    let Some(inst) = state.queues.get_mut(&queue) else {
        return -libc::ENODEV;
    };
    let max_id = v.verdict_hdr.id;
    let mut batch = Vec::new();
    while let Some(front) = inst.waiting.front() {
        if id_after(front.id, max_id) {
            break;
        }
        if let Some(w) = inst.waiting.pop_front() {
            batch.push(w.id);
        }
    }
    if batch.is_empty() {
        return -libc::ENOENT;
    }
    for id in batch {
        let mut s = settled(word, SettledBy::Batch { max_id });
        s.mark = v.mark;
        s.priority = v.priority;
        state.settle(queue, id, s);
    }
    0
}

/// `nfulnl_recv_config`.
fn log_config(state: &mut KernelState, c: &LogConfig<'_>) -> i32 {
    let num = c.header.res_id;
    if let Some(cmd) = c.cmd {
        if cmd == LCMD_PF_BIND || cmd == LCMD_PF_UNBIND {
            return 0;
        }
    }
    let existing = state.groups.get(&num).map(|g| g.owner);
    if existing == Some(Owner::Elsewhere) {
        return -libc::EPERM;
    }
    if let Some(flags) = c.flags {
        if flags & state.unsupported_log_flags != 0 {
            return -libc::EOPNOTSUPP;
        }
    }
    if let Some(cmd) = c.cmd {
        match cmd {
            LCMD_BIND if existing.is_some() => return -libc::EBUSY,
            LCMD_BIND => {
                let inst = LogInstance {
                    owner: Owner::Program,
                    settings: LogSettings::default(),
                    seq: 0,
                };
                state.groups.insert(num, inst);
            }
            LCMD_UNBIND if existing.is_none() => return -libc::ENODEV,
            LCMD_UNBIND => {
                state.groups.remove(&num);
                return 0;
            }
            _ => return -ENOTSUPP,
        }
    }
    let Some(inst) = state.groups.get_mut(&num) else {
        return -libc::ENODEV;
    };
    if let Some(m) = c.mode {
        // nfulnl_set_mode; an unknown mode is ignored.
        match m.copy_mode {
            LCOPY_NONE | LCOPY_META => {
                inst.settings.copy_mode = m.copy_mode;
                inst.settings.copy_range = 0;
            }
            LCOPY_PACKET => {
                inst.settings.copy_mode = m.copy_mode;
                let range = if m.copy_range == 0 {
                    MAX_COPY_RANGE
                } else {
                    m.copy_range
                };
                inst.settings.copy_range = range.min(MAX_COPY_RANGE);
            }
            _ => {}
        }
    }
    if let Some(t) = c.timeout {
        inst.settings.timeout = t;
    }
    if let Some(size) = c.nlbufsiz {
        // nfulnl_set_nlbufsiz: EINVAL below the default, ERANGE above 128 KiB; both ignored.
        if (NLBUFSIZ_DEFAULT..=NLBUFSIZ_MAX).contains(&size) {
            inst.settings.nlbufsiz = size;
        }
    }
    if let Some(q) = c.qthresh {
        inst.settings.qthresh = q;
    }
    if let Some(flags) = c.flags {
        inst.settings.flags = flags;
    }
    0
}

fn invalid(reason: String) -> Error {
    Error::Invalid { reason }
}

/// Queues `packet` on its queue as `__nfqnl_enqueue_packet` and `nfqnl_build_packet_message`
/// would, sends it to the program and returns its id.
fn enqueue(
    state: &mut KernelState,
    shared: &Shared,
    mut packet: QueuePacket<'static>,
) -> Result<u32, Error> {
    let num = packet.header.res_id;
    let Some(inst) = state
        .queues
        .get_mut(&num)
        .filter(|q| q.owner == Owner::Program)
    else {
        return Err(invalid(format!(
            "queue {num} is not bound by the program: the kernel would not queue the packet"
        )));
    };
    let s = inst.settings;
    if s.copy_mode == QCOPY_NONE {
        inst.dropped += 1;
        return Err(invalid(format!(
            "queue {num} is in copy mode NONE: the kernel drops every packet"
        )));
    }
    if inst.waiting.len() >= s.maxlen as usize {
        inst.dropped += 1;
        let outcome = if s.flags & QF_FAIL_OPEN != 0 {
            "accepts it (fail-open)"
        } else {
            "drops it"
        };
        return Err(invalid(format!(
            "queue {num} is full ({} packets): the kernel {outcome}",
            s.maxlen
        )));
    }
    inst.id_sequence = inst.id_sequence.wrapping_add(1);
    let id = inst.id_sequence;
    packet.packet_hdr.packet_id = id;
    shape_queue_packet(&mut packet, &s);
    let bytes = packet.to_bytes().map_err(|e| invalid(e.to_string()))?;
    inst.waiting.push_back(Waiting { id, packet });
    if let Err(err) = shared.deliver(state, &bytes) {
        if let Some(inst) = state.queues.get_mut(&num) {
            inst.waiting.retain(|w| w.id != id);
            inst.dropped += 1;
        }
        return Err(Error::io("send(fake kernel → program)", err));
    }
    Ok(id)
}

/// What the queue's configuration lets through: the payload by copy mode and range (with
/// `NFQA_CAP_LEN` when cut), uid/gid, security context and conntrack only with their flags.
fn shape_queue_packet(packet: &mut QueuePacket<'static>, s: &QueueSettings) {
    if s.copy_mode == QCOPY_META {
        packet.payload = None;
        packet.cap_len = None;
    } else if let Some(p) = packet.payload.take() {
        let full = packet.cap_len.map_or(p.len(), |c| c as usize).max(p.len());
        let mut v = p.into_owned();
        v.truncate(s.copy_range as usize);
        packet.cap_len = if full > v.len() {
            u32::try_from(full).ok()
        } else {
            None
        };
        packet.payload = Some(Cow::Owned(v));
    }
    if s.flags & QF_UID_GID == 0 {
        packet.uid = None;
        packet.gid = None;
    }
    if s.flags & QF_SECCTX == 0 {
        packet.secctx = None;
    }
    if s.flags & QF_CONNTRACK == 0 {
        packet.ct = None;
        packet.ct_info = None;
    }
}

/// Prepares a log packet as `nfulnl_log_packet` would for its group: payload by copy mode and
/// range, sequence numbers by flags, conntrack only with its flag.
fn shape_log_packet(state: &mut KernelState, packet: &mut LogPacket<'static>) -> Result<(), Error> {
    let num = packet.header.res_id;
    let Some(inst) = state
        .groups
        .get_mut(&num)
        .filter(|g| g.owner == Owner::Program)
    else {
        return Err(invalid(format!(
            "log group {num} is not bound by the program: the kernel would not log to it"
        )));
    };
    let s = inst.settings;
    if s.copy_mode == LCOPY_PACKET {
        if let Some(p) = packet.payload.take() {
            let mut v = p.into_owned();
            v.truncate(s.copy_range as usize);
            packet.payload = Some(Cow::Owned(v));
        }
    } else {
        packet.payload = None;
    }
    if s.flags & LF_SEQ != 0 {
        match packet.seq {
            Some(seq) => inst.seq = seq.wrapping_add(1),
            None => {
                packet.seq = Some(inst.seq);
                inst.seq = inst.seq.wrapping_add(1);
            }
        }
    }
    if s.flags & LF_CONNTRACK == 0 {
        packet.ct = None;
        packet.ct_info = None;
    }
    if s.flags & LF_SEQ_GLOBAL != 0 {
        match packet.seq_global {
            Some(seq) => state.global_seq = seq,
            None => {
                state.global_seq = state.global_seq.wrapping_add(1);
                packet.seq_global = Some(state.global_seq);
            }
        }
    }
    Ok(())
}

/// The kernel side of a fake `NETLINK_NETFILTER` socket; see the [module](self) docs.
///
/// All methods take `&self`; the fake is `Send` and `Sync`, so a test may push packets from
/// one thread while the program runs in another.
///
/// ```
/// use netfilter::Queue;
/// use netfilter_testkit::fake::FakeKernel;
/// use netfilter_testkit::synth::QueuePacketBuilder;
///
/// let (kernel, transport) = FakeKernel::new()?;
/// let mut queue = Queue::builder(0).transport(transport).open()?;
/// // Push packets from another thread while the program runs here.
/// let pusher = std::thread::scope(|s| {
///     s.spawn(|| kernel.queue_packet(QueuePacketBuilder::ipv4(0))).join()
/// }).expect("pushed")?;
/// queue.recv()?.accept()?;
/// queue.flush()?;
/// assert_eq!(kernel.verdict(0, pusher).map(|v| v.verdict), Some(1));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct FakeKernel {
    shared: Arc<Shared>,
}

/// The program's end of a [`FakeKernel`]: a [`Transport`] over one end of a socket pair.
///
/// Dropping it is the program closing its socket: the fake unbinds its queues and groups
/// (dropping the packets still waiting), as the kernel does on `NETLINK_URELEASE`.
///
/// ```
/// use netfilter_safe::transport::Transport;
/// use netfilter_testkit::fake::FakeKernel;
///
/// let (kernel, transport) = FakeKernel::new()?;
/// kernel.send(&netfilter_testkit::synth::QueuePacketBuilder::ipv4(0).to_bytes()?)?;
/// let mut buf = vec![0; 0x10000];
/// let n = transport.recv(&mut buf)?; // what the kernel sent, whole
/// assert_eq!(netfilter_safe::wire::QueuePacket::parse_bytes(&buf[..n])?.header.res_id, 0);
/// drop(kernel);
/// assert!(transport.recv(&mut buf).is_err()); // ENOTCONN: the kernel side is gone
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct FakeTransport {
    shared: Arc<Shared>,
    fd: OwnedFd,
    nonblocking: AtomicBool,
    /// Serialises receiving, so that a marker is never mistaken for a datagram.
    recv_lock: Mutex<()>,
}

impl FakeKernel {
    /// A fake kernel and the transport the program under test uses.
    ///
    /// # Errors
    /// [`Error::Io`] when the socket pair cannot be made.
    ///
    /// ```
    /// use netfilter_testkit::fake::FakeKernel;
    ///
    /// let (kernel, transport) = FakeKernel::new()?;
    /// assert!(kernel.state(|s| s.bound_queues().is_empty()));
    /// let queue = netfilter::Queue::builder(1).transport(transport).open()?;
    /// assert_eq!(kernel.state(|s| s.bound_queues()), vec![1]);
    /// # drop(queue);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new() -> Result<(FakeKernel, FakeTransport), Error> {
        let mut fds: [RawFd; 2] = [-1; 2];
        // SAFETY: `fds` is valid for writes of two descriptors; the result is checked.
        let rc = unsafe {
            libc::socketpair(
                libc::AF_UNIX,
                libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC,
                0,
                fds.as_mut_ptr(),
            )
        };
        if rc < 0 {
            return Err(Error::last_os("socketpair(AF_UNIX, SOCK_SEQPACKET)"));
        }
        // SAFETY: socketpair succeeded: both descriptors are fresh and owned by nobody else.
        let (program, kernel) =
            unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        let state = KernelState {
            port_id: NEXT_PORT_ID.fetch_add(1, Ordering::Relaxed),
            queues: BTreeMap::new(),
            groups: BTreeMap::new(),
            settled: Vec::new(),
            sent: Vec::new(),
            datagrams: 0,
            overruns: 0,
            global_seq: 0,
            unsupported_queue_flags: 0,
            unsupported_log_flags: 0,
            fail_next: VecDeque::new(),
            net_admin: true,
            closed: false,
        };
        let shared = Arc::new(Shared {
            kernel_fd: kernel,
            state: Mutex::new(state),
            changed: Condvar::new(),
            overrun: AtomicBool::new(false),
            markers: AtomicUsize::new(0),
            gone: AtomicBool::new(false),
        });
        let transport = FakeTransport {
            shared: Arc::clone(&shared),
            fd: program,
            nonblocking: AtomicBool::new(false),
            recv_lock: Mutex::new(()),
        };
        Ok((FakeKernel { shared }, transport))
    }

    fn update<R>(&self, f: impl FnOnce(&mut KernelState) -> R) -> R {
        let r = f(&mut self.shared.lock());
        self.shared.changed.notify_all();
        r
    }

    /// Runs `f` on the current state, under the fake's lock.
    ///
    /// ```
    /// # use netfilter::Queue;
    /// # use netfilter_testkit::fake::FakeKernel;
    /// # use netfilter_testkit::synth::QueuePacketBuilder;
    /// # let (kernel, transport) = FakeKernel::new()?;
    /// # let mut queue = Queue::builder(0).transport(transport).open()?;
    /// kernel.queue_packet(QueuePacketBuilder::ipv4(0))?;
    /// let (waiting, verdicts) = kernel.state(|s| (s.outstanding(0).len(), s.settled().len()));
    /// assert_eq!((waiting, verdicts), (1, 0));
    /// # drop(queue);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn state<R>(&self, f: impl FnOnce(&KernelState) -> R) -> R {
        f(&self.shared.lock())
    }

    /// The port id the fake gave the program's socket.
    ///
    /// ```
    /// use netfilter_testkit::fake::FakeKernel;
    ///
    /// let (a, _ta) = FakeKernel::new()?;
    /// let (b, _tb) = FakeKernel::new()?;
    /// assert_ne!(a.port_id(), b.port_id()); // each fake socket has its own
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn port_id(&self) -> u32 {
        self.state(KernelState::port_id)
    }

    /// Makes queue `queue` held by another socket: the program's configuration messages and
    /// verdicts on it fail with `EPERM`.
    ///
    /// ```
    /// use netfilter::{Error, Queue};
    /// use netfilter_testkit::fake::FakeKernel;
    ///
    /// let (kernel, transport) = FakeKernel::new()?;
    /// kernel.bind_elsewhere(7);
    /// let err = Queue::builder(7).transport(transport).open().unwrap_err();
    /// assert!(matches!(err, Error::NotPermitted { .. }));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn bind_elsewhere(&self, queue: u16) {
        self.update(|s| {
            s.destroy_queue(queue);
            s.queues.insert(queue, QueueInstance::new(Owner::Elsewhere));
        });
    }

    /// Makes log group `group` held by another socket (`EPERM` for the program).
    ///
    /// ```
    /// use netfilter::{Error, LogGroup};
    /// use netfilter_testkit::fake::FakeKernel;
    ///
    /// let (kernel, transport) = FakeKernel::new()?;
    /// kernel.bind_group_elsewhere(3);
    /// let err = LogGroup::builder_groups(&[2, 3]).transport(transport).open().unwrap_err();
    /// assert!(matches!(err, Error::NotPermitted { .. }));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn bind_group_elsewhere(&self, group: u16) {
        self.update(|s| {
            let inst = LogInstance {
                owner: Owner::Elsewhere,
                settings: LogSettings::default(),
                seq: 0,
            };
            s.groups.insert(group, inst);
        });
    }

    /// Makes the queue flags in `flags` (`NFQA_CFG_F_*`) unsupported: a configuration that
    /// sets one fails with `EOPNOTSUPP`, as `NFQA_CFG_F_CONNTRACK` does without
    /// `nf_conntrack_netlink` and `NFQA_CFG_F_SECCTX` without `CONFIG_NETWORK_SECMARK`.
    ///
    /// ```
    /// use netfilter::{Error, Queue, QueueFlags};
    /// use netfilter_testkit::fake::FakeKernel;
    ///
    /// // An old kernel without NFQA_CFG_F_SECCTX.
    /// let (kernel, transport) = FakeKernel::new()?;
    /// kernel.unsupported_queue_flags(QueueFlags::SECCTX.bits());
    /// let err = Queue::builder(0).secctx(true).transport(transport).open().unwrap_err();
    /// assert!(matches!(err, Error::Unsupported { .. }));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn unsupported_queue_flags(&self, flags: u32) {
        self.update(|s| s.unsupported_queue_flags = flags);
    }

    /// Makes the log flags in `flags` (`NFULNL_CFG_F_*`) unsupported (`EOPNOTSUPP`), as
    /// `NFULNL_CFG_F_CONNTRACK` is without `nf_conntrack_netlink`.
    ///
    /// ```
    /// use netfilter::{Error, LogFlags, LogGroup};
    /// use netfilter_testkit::fake::FakeKernel;
    ///
    /// let (kernel, transport) = FakeKernel::new()?;
    /// kernel.unsupported_log_flags(LogFlags::CONNTRACK.bits());
    /// let err = LogGroup::builder(1).flags(LogFlags::CONNTRACK).transport(transport).open().unwrap_err();
    /// assert!(matches!(err, Error::Unsupported { .. }));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn unsupported_log_flags(&self, flags: u16) {
        self.update(|s| s.unsupported_log_flags = flags);
    }

    /// Fails the program's next request with `errno` (answered with `-errno`, nothing
    /// applied). Calls queue up: each fails one request.
    ///
    /// ```
    /// use netfilter::{Error, Queue};
    /// use netfilter_testkit::fake::FakeKernel;
    ///
    /// let (kernel, transport) = FakeKernel::new()?;
    /// kernel.fail_next(libc::ENOMEM);
    /// match Queue::builder(0).transport(transport).open() {
    ///     Err(Error::Kernel { source, .. }) => assert_eq!(source.raw_os_error(), Some(libc::ENOMEM)),
    ///     other => panic!("expected ENOMEM, got {other:?}"),
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn fail_next(&self, errno: i32) {
        self.update(|s| s.fail_next.push_back(errno));
    }

    /// From now on the program lacks `CAP_NET_ADMIN`: the first message of each datagram is
    /// answered with `EPERM` and nothing is applied.
    ///
    /// ```
    /// use netfilter::{Error, LogGroup};
    /// use netfilter_testkit::fake::FakeKernel;
    ///
    /// let (kernel, transport) = FakeKernel::new()?;
    /// kernel.drop_net_admin();
    /// let err = LogGroup::builder(1).transport(transport).open().unwrap_err();
    /// assert!(matches!(err, Error::NotPermitted { .. }));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn drop_net_admin(&self) {
        self.update(|s| s.net_admin = false);
    }

    /// Sends `datagram` to the program as is. The queue packet messages in it are kept
    /// outstanding on their queues with the ids they carry (no checks: the test is in
    /// control).
    ///
    /// # Errors
    /// [`Error::Invalid`] for an empty datagram (netlink never sends one); [`Error::Io`] when
    /// it cannot be sent: `EAGAIN` when the program's receive buffer is full (the datagram is
    /// dropped and an overrun flagged, as in the kernel), `ECONNREFUSED` once the transport is
    /// dropped.
    ///
    /// ```
    /// # use netfilter::Queue;
    /// # use netfilter_testkit::fake::FakeKernel;
    /// # use netfilter_testkit::synth::QueuePacketBuilder;
    /// # let (kernel, transport) = FakeKernel::new()?;
    /// # let mut queue = Queue::builder(0).transport(transport).open()?;
    /// // Exact bytes, ids as given: here a packet id the fake would not pick.
    /// kernel.send(&QueuePacketBuilder::ipv4(0).packet_id(1000).to_bytes()?)?;
    /// let packet = queue.recv()?;
    /// assert_eq!(packet.id(), 1000);
    /// packet.accept()?;
    /// queue.flush()?;
    /// assert!(kernel.verdict(0, 1000).is_some());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn send(&self, datagram: &[u8]) -> Result<(), Error> {
        if datagram.is_empty() {
            return Err(invalid("an empty datagram".to_owned()));
        }
        let mut state = self.shared.lock();
        let packets: Vec<QueuePacket<'static>> = netfilter_safe::wire::Messages::new(datagram)
            .filter_map(|m| match m {
                Ok(Message::QueuePacket(p)) => Some(p.into_owned()),
                _ => None,
            })
            .collect();
        let result = self.shared.deliver(&mut state, datagram);
        if result.is_ok() {
            for packet in packets {
                let num = packet.header.res_id;
                let id = packet.packet_hdr.packet_id;
                if let Some(inst) = state.queues.get_mut(&num) {
                    if id_after(id, inst.id_sequence) {
                        inst.id_sequence = id;
                    }
                    inst.waiting.push_back(Waiting { id, packet });
                }
            }
        }
        drop(state);
        self.shared.changed.notify_all();
        result.map_err(|e| Error::io("send(fake kernel → program)", e))
    }

    /// Sends a datagram of several messages ([`Datagram`]); as [`send`](Self::send).
    ///
    /// # Errors
    /// As [`send`](Self::send), and [`Error::Invalid`] when a message cannot be emitted.
    ///
    /// ```
    /// use std::time::Duration;
    /// use netfilter_testkit::synth::Datagram;
    /// # use netfilter::LogGroup;
    /// # use netfilter_testkit::fake::FakeKernel;
    /// # use netfilter_testkit::synth::LogPacketBuilder;
    /// # let (kernel, transport) = FakeKernel::new()?;
    /// # let mut log = LogGroup::builder(1).transport(transport).open()?;
    /// let batch = Datagram::log_batch(1, (0..3).map(|_| LogPacketBuilder::ipv4(1).build()));
    /// assert_eq!(batch.len(), 4); // three packets and the NLMSG_DONE
    /// kernel.send_datagram(&batch)?;
    /// assert_eq!(log.recv_batch(Some(Duration::from_secs(1)), |_| {})?, 3);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn send_datagram(&self, datagram: &Datagram) -> Result<(), Error> {
        let bytes = datagram.to_bytes().map_err(|e| invalid(e.to_string()))?;
        self.send(&bytes)
    }

    /// Queues a packet as the kernel would on the builder's queue: gives it the queue's next
    /// packet id (whatever the builder set), shapes it by the queue's configuration (copy
    /// mode and range, with `NFQA_CAP_LEN` when cut; uid/gid, security context and conntrack
    /// only with their flags), sends it, keeps it outstanding, and returns its id.
    ///
    /// # Errors
    /// [`Error::Invalid`] when the kernel would not queue it: the program has not bound the
    /// queue, the queue is in copy mode NONE, or it is full (counted in
    /// [`KernelState::dropped`]); [`Error::Io`] when the program's receive buffer is full
    /// (dropped, overrun flagged).
    ///
    /// ```
    /// # use netfilter::Queue;
    /// # use netfilter_testkit::fake::FakeKernel;
    /// # use netfilter_testkit::synth::QueuePacketBuilder;
    /// # let (kernel, transport) = FakeKernel::new()?;
    /// # let mut queue = Queue::builder(0).transport(transport).open()?;
    /// let first = kernel.queue_packet(QueuePacketBuilder::ipv4(0).mark(5))?;
    /// let second = kernel.queue_packet(QueuePacketBuilder::ipv4(0))?;
    /// assert_eq!((first, second), (1, 2)); // numbered as the kernel does
    /// let packet = queue.recv()?;
    /// assert_eq!((packet.id(), packet.mark()), (1, 5));
    /// // A queue nobody bound queues nothing.
    /// assert!(kernel.queue_packet(QueuePacketBuilder::ipv4(9)).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn queue_packet(&self, builder: QueuePacketBuilder) -> Result<u32, Error> {
        let r = enqueue(&mut self.shared.lock(), &self.shared, builder.build());
        self.shared.changed.notify_all();
        r
    }

    /// Queues several packets in one datagram (the kernel sends one per datagram; this is for
    /// testing a program's parsing), each as [`queue_packet`](Self::queue_packet) would;
    /// returns their ids.
    ///
    /// # Errors
    /// As [`queue_packet`](Self::queue_packet); nothing is queued then.
    ///
    /// ```
    /// # use netfilter::Queue;
    /// # use netfilter_testkit::fake::FakeKernel;
    /// # use netfilter_testkit::synth::QueuePacketBuilder;
    /// # let (kernel, transport) = FakeKernel::new()?;
    /// # let mut queue = Queue::builder(0).transport(transport).open()?;
    /// let ids = kernel.queue_packets((0..3).map(|_| QueuePacketBuilder::ipv4(0)))?;
    /// assert_eq!(ids, [1, 2, 3]);
    /// for &id in &ids {
    ///     assert_eq!(queue.recv()?.id(), id);
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn queue_packets(
        &self,
        builders: impl IntoIterator<Item = QueuePacketBuilder>,
    ) -> Result<Vec<u32>, Error> {
        let mut state = self.shared.lock();
        let mut staged: Vec<(u16, u32, QueuePacket<'static>)> = Vec::new();
        let mut ids: BTreeMap<u16, u32> = BTreeMap::new();
        for b in builders {
            let mut packet = b.build();
            let num = packet.header.res_id;
            let Some(inst) = state
                .queues
                .get(&num)
                .filter(|q| q.owner == Owner::Program && q.settings.copy_mode != QCOPY_NONE)
            else {
                return Err(invalid(format!(
                    "queue {num} is not bound by the program in a copy mode that queues"
                )));
            };
            let waiting = inst.waiting.len() + staged.iter().filter(|s| s.0 == num).count();
            if waiting >= inst.settings.maxlen as usize {
                return Err(invalid(format!("queue {num} is full")));
            }
            let next = ids.entry(num).or_insert(inst.id_sequence);
            *next = next.wrapping_add(1);
            packet.packet_hdr.packet_id = *next;
            shape_queue_packet(&mut packet, &inst.settings);
            staged.push((num, *next, packet));
        }
        let mut datagram = Datagram::new();
        for (_, _, p) in &staged {
            datagram = datagram.push(p.clone());
        }
        let bytes = datagram.to_bytes().map_err(|e| invalid(e.to_string()))?;
        self.shared
            .deliver(&mut state, &bytes)
            .map_err(|e| Error::io("send(fake kernel → program)", e))?;
        let mut out = Vec::with_capacity(staged.len());
        for (num, id, packet) in staged {
            if let Some(inst) = state.queues.get_mut(&num) {
                inst.id_sequence = id;
                inst.waiting.push_back(Waiting { id, packet });
            }
            out.push(id);
        }
        drop(state);
        self.shared.changed.notify_all();
        Ok(out)
    }

    /// Logs a packet to the builder's group as the kernel would: payload by the group's copy
    /// mode and range, `NFULA_SEQ` / `NFULA_SEQ_GLOBAL` numbered when their flags are on
    /// (unless the builder set them), conntrack only with its flag; one message per datagram,
    /// as when `qthresh` is 1.
    ///
    /// # Errors
    /// [`Error::Invalid`] when the program has not bound the group; [`Error::Io`] when its
    /// receive buffer is full (dropped, overrun flagged).
    ///
    /// ```
    /// # use netfilter::LogGroup;
    /// # use netfilter_testkit::fake::FakeKernel;
    /// # use netfilter_testkit::synth::LogPacketBuilder;
    /// # let (kernel, transport) = FakeKernel::new()?;
    /// # let mut log = LogGroup::builder(1).transport(transport).open()?;
    /// kernel.log_packet(LogPacketBuilder::ipv4(1).prefix("in").payload(vec![0x45; 20]))?;
    /// let packet = log.recv()?;
    /// assert_eq!((packet.prefix(), packet.payload().len()), (Some("in"), 20));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn log_packet(&self, builder: LogPacketBuilder) -> Result<(), Error> {
        self.log_batch([builder])
    }

    /// Logs several packets in one datagram, as the kernel flushes a batch: the messages,
    /// then, when there is more than one, an `NLMSG_DONE` with the group number. All go to
    /// the first builder's group.
    ///
    /// # Errors
    /// As [`log_packet`](Self::log_packet); [`Error::Invalid`] for no builder.
    ///
    /// ```
    /// use std::time::Duration;
    /// # use netfilter::LogGroup;
    /// # use netfilter_testkit::fake::FakeKernel;
    /// # use netfilter_testkit::synth::LogPacketBuilder;
    /// # let (kernel, transport) = FakeKernel::new()?;
    /// # let mut log = LogGroup::builder(1).transport(transport).open()?;
    /// kernel.log_batch((1..=5u32).map(|m| LogPacketBuilder::ipv4(1).mark(m)))?;
    /// let mut marks = Vec::new();
    /// log.recv_batch(Some(Duration::from_secs(1)), |p| marks.push(p.mark()))?; // one datagram
    /// assert_eq!(marks, [1, 2, 3, 4, 5]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn log_batch(
        &self,
        builders: impl IntoIterator<Item = LogPacketBuilder>,
    ) -> Result<(), Error> {
        let mut state = self.shared.lock();
        let mut packets = Vec::new();
        let mut group = None;
        for b in builders {
            let mut packet = b.build();
            let g = *group.get_or_insert(packet.header.res_id);
            packet.header.res_id = g;
            shape_log_packet(&mut state, &mut packet)?;
            packets.push(packet);
        }
        let Some(group) = group else {
            return Err(invalid("a log batch without packets".to_owned()));
        };
        let bytes = Datagram::log_batch(group, packets)
            .to_bytes()
            .map_err(|e| invalid(e.to_string()))?;
        let r = self.shared.deliver(&mut state, &bytes);
        drop(state);
        self.shared.changed.notify_all();
        r.map_err(|e| Error::io("send(fake kernel → program)", e))
    }

    /// Injects an overrun: the transport's next `recv` fails with `ENOBUFS` once (before any
    /// datagram still waiting, as `sock_error` comes first), and its descriptor becomes
    /// readable.
    ///
    /// ```
    /// use netfilter::Error;
    /// # use netfilter::Queue;
    /// # use netfilter_testkit::fake::FakeKernel;
    /// # use netfilter_testkit::synth::QueuePacketBuilder;
    /// # let (kernel, transport) = FakeKernel::new()?;
    /// # let mut queue = Queue::builder(0).transport(transport).open()?;
    /// kernel.overrun();
    /// assert!(matches!(queue.recv(), Err(Error::Overrun { lost: None })));
    /// assert!(queue.try_recv()?.is_none()); // reported once
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn overrun(&self) {
        self.update(|s| s.overruns += 1);
        self.shared.flag_overrun();
    }

    /// Every message the program sent so far, decoded, in order.
    ///
    /// ```
    /// use netfilter_testkit::fake::Sent;
    /// # use netfilter::LogGroup;
    /// # use netfilter_testkit::fake::FakeKernel;
    /// # use netfilter_testkit::synth::LogPacketBuilder;
    /// # let (kernel, transport) = FakeKernel::new()?;
    /// # let mut log = LogGroup::builder(1).transport(transport).open()?;
    /// // Opening the group bound it, then configured it: every request acknowledged.
    /// let sent = kernel.sent();
    /// assert!(sent.len() >= 2);
    /// assert!(sent.iter().all(|m| matches!(m.message, Sent::LogConfig(_)) && m.reply == Some(0)));
    /// # drop(log);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn sent(&self) -> Vec<SentMessage> {
        self.state(|s| s.sent.clone())
    }

    /// How many datagrams the program sent.
    ///
    /// ```
    /// # use netfilter::Queue;
    /// # use netfilter_testkit::fake::FakeKernel;
    /// # use netfilter_testkit::synth::QueuePacketBuilder;
    /// # let (kernel, transport) = FakeKernel::new()?;
    /// # let mut queue = Queue::builder(0).transport(transport).open()?;
    /// let ids = kernel.queue_packets((0..4).map(|_| QueuePacketBuilder::ipv4(0)))?;
    /// let before = kernel.datagrams();
    /// for _ in &ids {
    ///     queue.recv()?.accept()?;
    /// }
    /// queue.flush()?;
    /// assert_eq!(kernel.datagrams(), before + 1); // four verdicts in one send
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn datagrams(&self) -> usize {
        self.state(KernelState::datagrams)
    }

    /// The verdict applied to packet `id` of queue `queue`, if it was settled.
    ///
    /// ```
    /// # use netfilter::Queue;
    /// # use netfilter_testkit::fake::FakeKernel;
    /// # use netfilter_testkit::synth::QueuePacketBuilder;
    /// # let (kernel, transport) = FakeKernel::new()?;
    /// # let mut queue = Queue::builder(0).transport(transport).open()?;
    /// let id = kernel.queue_packet(QueuePacketBuilder::ipv4(0))?;
    /// queue.recv()?.queue_to(3, true)?; // to queue 3, accepted if nobody listens there
    /// queue.flush()?;
    /// let settled = kernel.verdict(0, id).expect("settled");
    /// assert_eq!(settled.verdict & 0xff, 3); // NF_QUEUE
    /// assert_eq!(settled.verdict >> 16, 3); // the target queue
    /// assert_eq!(settled.requeued, None); // the program does not hold queue 3
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn verdict(&self, queue: u16, id: u32) -> Option<SettledVerdict> {
        self.state(|s| s.verdict(queue, id).cloned())
    }

    /// The ids of queue `queue` that wait for a verdict, in queue order.
    ///
    /// ```
    /// # use netfilter::Queue;
    /// # use netfilter_testkit::fake::FakeKernel;
    /// # use netfilter_testkit::synth::QueuePacketBuilder;
    /// # let (kernel, transport) = FakeKernel::new()?;
    /// # let mut queue = Queue::builder(0).transport(transport).open()?;
    /// let id = kernel.queue_packet(QueuePacketBuilder::ipv4(0))?;
    /// assert_eq!(kernel.outstanding(0), [id]);
    /// queue.recv()?.accept()?;
    /// queue.flush()?;
    /// assert!(kernel.outstanding(0).is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn outstanding(&self, queue: u16) -> Vec<u32> {
        self.state(|s| s.outstanding(queue))
    }

    /// Queue `queue`'s configuration, when the program has it bound.
    ///
    /// ```
    /// # use netfilter::Queue;
    /// # use netfilter_testkit::fake::FakeKernel;
    /// # use netfilter_testkit::synth::QueuePacketBuilder;
    /// # let (kernel, transport) = FakeKernel::new()?;
    /// # let mut queue = Queue::builder(0).transport(transport).open()?;
    /// let settings = kernel.config(0).expect("bound");
    /// assert_eq!(settings.copy_mode, 2); // NFQNL_COPY_PACKET: the builder never leaves COPY_NONE
    /// # drop(queue);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn config(&self, queue: u16) -> Option<QueueSettings> {
        self.state(|s| s.queue(queue))
    }

    /// Log group `group`'s configuration, when the program has it bound.
    ///
    /// ```
    /// # use netfilter::LogGroup;
    /// # use netfilter_testkit::fake::FakeKernel;
    /// # use netfilter_testkit::synth::LogPacketBuilder;
    /// # let (kernel, transport) = FakeKernel::new()?;
    /// # let mut log = LogGroup::builder(1).transport(transport).open()?;
    /// assert_eq!(kernel.log_config(1).map(|s| s.copy_mode), Some(2)); // NFULNL_COPY_PACKET
    /// assert_eq!(kernel.log_config(2), None);
    /// # drop(log);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn log_config(&self, group: u16) -> Option<LogSettings> {
        self.state(|s| s.group(group))
    }

    /// Waits until `predicate` holds, at most `timeout`; it is checked now and after every
    /// change (a datagram from the program, a packet pushed, the transport dropped).
    ///
    /// # Errors
    /// [`Error::Timeout`] when it still does not hold after `timeout`.
    ///
    /// ```
    /// use std::time::Duration;
    /// # use netfilter::Queue;
    /// # use netfilter_testkit::fake::FakeKernel;
    /// # use netfilter_testkit::synth::QueuePacketBuilder;
    /// # let (kernel, transport) = FakeKernel::new()?;
    /// # let mut queue = Queue::builder(0).transport(transport).open()?;
    /// let id = kernel.queue_packet(QueuePacketBuilder::ipv4(0))?;
    /// std::thread::scope(|s| {
    ///     s.spawn(move || -> netfilter::Result<()> {
    ///         queue.recv()?.accept()?;
    ///         queue.flush()
    ///     });
    ///     kernel.wait_for(|state| state.verdict(0, id).is_some(), Duration::from_secs(5))
    /// })?;
    /// // A condition that never holds times out.
    /// assert!(kernel.wait_for(|state| state.overruns() > 0, Duration::from_millis(10)).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn wait_for(
        &self,
        mut predicate: impl FnMut(&KernelState) -> bool,
        timeout: Duration,
    ) -> Result<(), Error> {
        let deadline = Instant::now() + timeout;
        let mut state = self.shared.lock();
        loop {
            if predicate(&state) {
                return Ok(());
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(Error::Timeout {
                    what: "a fake kernel condition".to_owned(),
                    after: timeout,
                });
            }
            state = self
                .shared
                .changed
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// Waits at most `timeout` for packet `id` of queue `queue` to be settled.
    ///
    /// # Errors
    /// [`Error::Timeout`] when it is not.
    ///
    /// ```
    /// use std::time::Duration;
    /// # use netfilter::Queue;
    /// # use netfilter_testkit::fake::FakeKernel;
    /// # use netfilter_testkit::synth::QueuePacketBuilder;
    /// # let (kernel, transport) = FakeKernel::new()?;
    /// # let mut queue = Queue::builder(0).transport(transport).open()?;
    /// let id = kernel.queue_packet(QueuePacketBuilder::ipv4(0))?;
    /// let worker = std::thread::spawn(move || -> netfilter::Result<()> {
    ///     queue.recv()?.drop()?; // the verdict comes from another thread
    ///     queue.flush()
    /// });
    /// let settled = kernel.wait_verdict(0, id, Duration::from_secs(5))?;
    /// assert_eq!(settled.verdict, 0); // NF_DROP
    /// worker.join().expect("no panic")?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn wait_verdict(
        &self,
        queue: u16,
        id: u32,
        timeout: Duration,
    ) -> Result<SettledVerdict, Error> {
        let mut found = None;
        self.wait_for(
            |s| {
                found = s.verdict(queue, id).cloned();
                found.is_some()
            },
            timeout,
        )
        .map_err(|_| Error::Timeout {
            what: format!("a verdict on packet {id} of queue {queue}"),
            after: timeout,
        })?;
        found.ok_or_else(|| invalid("verdict vanished".to_owned()))
    }
}

impl Drop for FakeKernel {
    fn drop(&mut self) {
        self.shared.gone.store(true, Ordering::SeqCst);
        // SAFETY: plain shutdown(2) on a descriptor `shared` owns; the program then reads
        // what is queued, then end of file.
        unsafe { libc::shutdown(self.shared.kernel_fd.as_raw_fd(), libc::SHUT_RDWR) };
        self.shared.changed.notify_all();
    }
}

/// `send(MSG_DONTWAIT | MSG_NOSIGNAL)`, retrying on `EINTR`.
fn send_raw(fd: RawFd, datagram: &[u8]) -> io::Result<()> {
    loop {
        // SAFETY: `datagram` is valid for reads of its length during the call.
        let rc = unsafe {
            libc::send(
                fd,
                datagram.as_ptr().cast(),
                datagram.len(),
                libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
            )
        };
        if rc >= 0 {
            return Ok(());
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

/// `recv(flags | MSG_DONTWAIT | MSG_TRUNC)`, retrying on `EINTR`: the datagram's full length.
fn recv_raw(fd: RawFd, buf: &mut [u8], flags: libc::c_int) -> io::Result<usize> {
    loop {
        // SAFETY: `buf` is valid for writes of `buf.len()` bytes during the call.
        let n = unsafe {
            libc::recv(
                fd,
                buf.as_mut_ptr().cast(),
                buf.len(),
                flags | libc::MSG_DONTWAIT | libc::MSG_TRUNC,
            )
        };
        if n >= 0 {
            return Ok(n as usize);
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

/// Waits for `fd` to be readable, at most until `deadline` (forever with `None`).
fn poll_in(fd: RawFd, deadline: Option<Instant>) -> io::Result<bool> {
    loop {
        let ms = match deadline {
            None => -1,
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                i32::try_from(left.as_micros().div_ceil(1000)).unwrap_or(i32::MAX)
            }
        };
        let mut pfd = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: `pfd` is one valid pollfd during the call.
        let n = unsafe { libc::poll(&mut pfd, 1, ms) };
        if n >= 0 {
            return Ok(n > 0);
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

fn errno(code: i32) -> io::Error {
    io::Error::from_raw_os_error(code)
}

impl FakeTransport {
    fn lock_recv(&self) -> MutexGuard<'_, ()> {
        self.recv_lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// One non-blocking attempt: `Ok(None)` when nothing is waiting.
    fn try_recv(&self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        let _guard = self.lock_recv();
        loop {
            if self.shared.overrun.swap(false, Ordering::SeqCst) {
                return Err(errno(libc::ENOBUFS));
            }
            match recv_raw(self.fd.as_raw_fd(), buf, 0) {
                Ok(0) if self.shared.take_marker() => continue,
                // End of file: the fake was dropped.
                Ok(0) => return Err(errno(libc::ENOTCONN)),
                Ok(n) => return Ok(Some(n)),
                Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => return Ok(None),
                Err(e) => return Err(e),
            }
        }
    }
}

impl Transport for FakeTransport {
    fn send(&self, datagram: &[u8]) -> io::Result<()> {
        if self.shared.gone.load(Ordering::SeqCst) {
            return Err(errno(libc::EPIPE));
        }
        self.shared.receive(datagram);
        Ok(())
    }

    fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if let Some(n) = self.try_recv(buf)? {
                return Ok(n);
            }
            if self.nonblocking.load(Ordering::SeqCst) {
                return Err(errno(libc::EAGAIN));
            }
            poll_in(self.fd.as_raw_fd(), None)?;
        }
    }

    fn wait_readable(&self, timeout: Option<Duration>) -> io::Result<bool> {
        // A timeout too large to add (Duration::MAX) waits forever.
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        loop {
            if self.shared.overrun.load(Ordering::SeqCst) {
                return Ok(true);
            }
            if !poll_in(self.fd.as_raw_fd(), deadline)? {
                return Ok(false);
            }
            let _guard = self.lock_recv();
            if self.shared.overrun.load(Ordering::SeqCst) {
                return Ok(true);
            }
            // A marker left after its overrun was reported is not a datagram: drop it and
            // wait on (markers are queued before end of file, so a count means a marker).
            match recv_raw(self.fd.as_raw_fd(), &mut [], libc::MSG_PEEK) {
                Ok(0) if self.shared.markers.load(Ordering::SeqCst) > 0 => {
                    recv_raw(self.fd.as_raw_fd(), &mut [], 0)?;
                    self.shared.take_marker();
                }
                Ok(_) => return Ok(true),
                Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => {}
                Err(e) => return Err(e),
            }
        }
    }

    fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        let fd = self.fd.as_raw_fd();
        // SAFETY: fcntl(F_GETFL) on a descriptor we own.
        let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
        if flags < 0 {
            return Err(io::Error::last_os_error());
        }
        let flags = if nonblocking {
            flags | libc::O_NONBLOCK
        } else {
            flags & !libc::O_NONBLOCK
        };
        // SAFETY: fcntl(F_SETFL) on a descriptor we own.
        if unsafe { libc::fcntl(fd, libc::F_SETFL, flags) } < 0 {
            return Err(io::Error::last_os_error());
        }
        self.nonblocking.store(nonblocking, Ordering::SeqCst);
        Ok(())
    }

    fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl AsFd for FakeTransport {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl Drop for FakeTransport {
    fn drop(&mut self) {
        // NETLINK_URELEASE: the kernel destroys the instances the socket held.
        let mut state = self.shared.lock();
        let queues = state.bound_queues();
        for q in queues {
            state.destroy_queue(q);
        }
        state.groups.retain(|_, g| g.owner != Owner::Program);
        state.closed = true;
        drop(state);
        self.shared.changed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_after_wraps() {
        assert!(id_after(2, 1));
        assert!(!id_after(1, 1));
        assert!(!id_after(u32::MAX, 1)); // 0xffffffff comes before 1 after a wrap
        assert!(id_after(1, u32::MAX));
    }

    #[test]
    fn queue_packet_shaping_follows_copy_range() {
        let mut p = QueuePacketBuilder::ipv4(0)
            .payload(vec![1u8; 100])
            .uid_gid(1, 2)
            .build();
        let s = QueueSettings {
            copy_mode: QCOPY_PACKET,
            copy_range: 10,
            maxlen: 1,
            flags: 0,
        };
        shape_queue_packet(&mut p, &s);
        assert_eq!(p.payload.as_deref().map(<[u8]>::len), Some(10));
        assert_eq!(p.cap_len, Some(100));
        assert_eq!(p.uid, None);
    }
}
