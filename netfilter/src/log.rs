//! [`LogGroup`]: one socket serving one or more NFLOG log groups, its [`LogBuilder`], and the
//! owned [`LogPacket`]s it receives.
//!
//! ```no_run
//! use std::time::Duration;
//! use netfilter::{LogFlags, LogGroup};
//!
//! # fn main() -> Result<(), netfilter::Error> {
//! // iptables -A INPUT -p tcp --dport 22 -j NFLOG --nflog-group 5 --nflog-prefix ssh
//! let mut log = LogGroup::builder(5)
//!     .flags(LogFlags::SEQ)
//!     .qthresh(16)
//!     .timeout(Duration::from_millis(100))
//!     .open()?;
//! log.run(|packet| {
//!     println!(
//!         "{:?} {} bytes, {:?} lost before it",
//!         packet.prefix(),
//!         packet.payload().len(),
//!         packet.lost_before()
//!     );
//!     Ok(())
//! })
//! # }
//! ```
//!
//! # Owned or lent
//!
//! [`LogGroup::recv`] and its kin hand out owned [`LogPacket`]s, which share the received
//! datagram (a reference count, no copy) and may be kept or sent to another thread.
//! [`LogGroup::recv_batch`] lends each packet to a callback instead, as a [`LogPacketRef`]: a
//! view of its message in the received datagram, with the same accessors. Nothing is copied,
//! counted or moved per packet, which makes it as cheap per message as libnetfilter_log's own
//! callbacks; [`LogPacketRef::to_packet`] keeps one.
//!
//! ```no_run
//! use std::time::Duration;
//! use netfilter::LogGroup;
//!
//! # fn main() -> Result<(), netfilter::Error> {
//! let mut log = LogGroup::builder(5).open()?;
//! let mut bytes = 0;
//! loop {
//!     // One datagram (a batch of the kernel's) per call, then back to the caller's loop.
//!     log.recv_batch(Some(Duration::from_millis(100)), |packet| {
//!         bytes += packet.payload().len();
//!     })?;
//! #   break;
//! }
//! # Ok(())
//! # }
//! ```
//!
//! # Overruns and lost messages
//!
//! When the socket's receive buffer is full, the kernel drops what it cannot deliver and the
//! next receive fails with `ENOBUFS`. Each overrun is one typed, non-fatal event,
//! [`Error::Overrun`] ([`LogGroup::run`] skips it; every other receive returns it once and
//! goes on receiving on the next call), as for queues:
//!
//! - With [`LogFlags::SEQ`], `Error::Overrun { lost: Some(n) }`: the group's sequence numbers
//!   show that `n` messages are missing. It is returned just before the packet that revealed
//!   the gap (the first packet of that group received after the loss), which comes out on the
//!   next call and tells the same count in [`LogPacket::lost_before`]. The kernel's `ENOBUFS`
//!   notice itself is not returned: it comes *before* the datagrams still waiting in the
//!   buffer, when the count cannot be known yet. Summing the events gives the exact number of
//!   messages lost; a loss is reported once the group's next message arrives.
//! - Without it, `Error::Overrun { lost: None }`: the `ENOBUFS` notice, returned as soon as it
//!   is read ([`LogGroup::socket_drops`] counts the datagrams dropped).
//!
//! With [`LogBuilder::report_overruns`]`(false)` the socket stops receiving `ENOBUFS`
//! (`NETLINK_NO_ENOBUFS`) and no event is returned; [`LogPacket::lost_before`] still counts
//! the gaps.
//!
//! [`LogFlags::SEQ_GLOBAL`] alone does not count losses: the global numbers are shared by
//! every group of the network namespace that has the flag, so a gap in them is not a loss.
//!
//! # Testing without a kernel
//!
//! ```
//! use netfilter::{Error, LogFlags, LogGroup};
//! use netfilter_testkit::fake::FakeKernel;
//! use netfilter_testkit::synth::LogPacketBuilder;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let (kernel, transport) = FakeKernel::new()?;
//! let mut log = LogGroup::builder(7).flags(LogFlags::SEQ).transport(transport).open()?;
//! kernel.log_packet(LogPacketBuilder::ipv4(7).prefix("first").payload(b"abc".to_vec()))?;
//! let packet = log.recv()?;
//! assert_eq!(packet.prefix(), Some("first"));
//! assert_eq!((packet.seq(), packet.lost_before()), (Some(0), Some(0)));
//! // Messages 1 to 3 never arrive: the gap is reported before message 4.
//! kernel.log_packet(LogPacketBuilder::ipv4(7).seq(4))?;
//! assert!(matches!(log.recv(), Err(Error::Overrun { lost: Some(3) })));
//! assert_eq!(log.recv()?.lost_before(), Some(3));
//! # Ok(())
//! # }
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::panic::{self, AssertUnwindSafe};
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use netfilter_safe::transport::Transport;
use netfilter_safe::wire::uapi as sys;
use netfilter_safe::wire::{self, Conntrack, CtState, LogConfig, LogMode, NlMsg, Vlan};
use netfilter_safe::{CopyMode, Family, Hook};

use crate::conn::{self, Conn, Inbox, Namespace, Netns, Source, in_namespace, request_header};
use crate::error::{Error, Result};
use crate::packet::system_time;
use crate::queue::{MAX_COPY_RANGE, check_copy_range, clamp_copy_range};
use crate::stop::StopHandle;
use netfilter_safe::procfs::{self, LogRow};

pub use netfilter_safe::LogFlags;

/// Room for the headers and attributes around a copied payload in one message.
const MESSAGE_OVERHEAD: usize = 4096;

/// Room for the kernel's `skb_shared_info` and rounding when sizing the receive buffer.
const SKB_OVERHEAD: usize = 1024;

/// The kernel's `sizeof(struct skb_shared_info)` rounded to a cache line, at its smallest on
/// 64-bit kernels (`MAX_SKB_FRAGS` 17); larger configurations only lower `NLMSG_GOODSIZE`.
#[cfg(target_pointer_width = "64")]
const SKB_SHARED_INFO: u32 = 320;
/// On 32-bit kernels the size is not assumed: the bound stays conservative.
#[cfg(not(target_pointer_width = "64"))]
const SKB_SHARED_INFO: u32 = 0;

/// How a [`LogGroup`] is set up; made by [`LogGroup::builder`] or
/// [`LogGroup::builder_groups`].
///
/// Defaults: the whole packet is copied ([`CopyMode::Packet`], [`MAX_COPY_RANGE`]) — never
/// the kernel's `COPY_NONE`; the kernel's batching (`qthresh` 100 messages, timeout 1 s)
/// unless set, in a batch buffer of 16 KiB ([`LogBuilder::DEFAULT_NLBUFSIZ`], not the
/// kernel's one page: see [`nlbufsiz`](LogBuilder::nlbufsiz)); no flags; overruns are
/// reported.
///
/// Every value is checked by [`LogBuilder::open`] before anything is sent: the kernel
/// silently ignores an out-of-range `nlbufsiz` and clamps a copy range, so those are refused
/// with [`Error::OutOfRange`] instead.
///
/// Every setting reaches the kernel when the group is opened (here the testkit's fake kernel,
/// which keeps them as the kernel's `nfulnl_instance` does):
///
/// ```
/// use std::time::Duration;
/// use netfilter::{CopyMode, Error, LogGroup};
/// use netfilter_testkit::fake::FakeKernel;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let (kernel, transport) = FakeKernel::new()?;
/// let log = LogGroup::builder(2)
///     .copy(CopyMode::Packet, 128)
///     .qthresh(10)
///     .timeout(Duration::from_millis(250))
///     .seq(true)
///     .transport(transport)
///     .open()?;
/// assert_eq!(log.groups(), &[2]);
/// let settings = kernel.log_config(2).expect("group 2 is bound");
/// assert_eq!((settings.copy_range, settings.qthresh, settings.timeout), (128, 10, 25));
///
/// // A value the kernel would ignore is refused before anything is sent.
/// let err = LogGroup::builder(2).nlbufsiz(1).open().unwrap_err();
/// assert!(matches!(err, Error::OutOfRange { what: "nlbufsiz", value: 1, .. }));
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
#[must_use = "a builder does nothing until opened"]
pub struct LogBuilder {
    groups: Vec<u16>,
    copy_mode: CopyMode,
    copy_range: u32,
    qthresh: Option<u32>,
    timeout: Option<Duration>,
    nlbufsiz: Option<u32>,
    flags: LogFlags,
    recv_buffer: Option<u32>,
    report_overruns: bool,
    source: Source,
}

impl LogBuilder {
    /// The largest `nlbufsiz` the kernel takes: 128 KiB (`nfulnl_set_nlbufsiz` in
    /// `net/netfilter/nfnetlink_log.c`).
    pub const MAX_NLBUFSIZ: u32 = 131_072;

    /// The `nlbufsiz` a group asks for unless [set](LogBuilder::nlbufsiz): 16 KiB less the
    /// kernel's `skb_shared_info` (320 B on 64-bit kernels), so that the kernel's batch
    /// buffer is one allocation of four pages (order 2), which an allocation that cannot
    /// wait finds reliably. The kernel's own default, a page, ends a batch of small packets
    /// at about 23 messages, long before `qthresh`'s 100; this one holds about 90 of them
    /// (and 10 of 1400 B, against 2). Not larger: the socket's receive buffer counts each
    /// batch at its allocation, and at 16 KiB a batch of small packets takes no more of it
    /// per message than the page did, so a burst overruns the receive buffer no sooner.
    /// Not sent when [`qthresh`](LogBuilder::qthresh) is 1 (or 0): each message is then a
    /// batch of its own, which the kernel allocates to its size when it exceeds the buffer.
    ///
    /// ```
    /// use netfilter::{LogBuilder, LogGroup};
    /// use netfilter_testkit::fake::{FakeKernel, NLBUFSIZ_DEFAULT};
    ///
    /// let (kernel, transport) = FakeKernel::new()?;
    /// let _log = LogGroup::builder(1).transport(transport).open()?;
    /// assert_eq!(kernel.log_config(1).map(|s| s.nlbufsiz), Some(LogBuilder::DEFAULT_NLBUFSIZ));
    ///
    /// // With a batch of one message, the kernel's own default stays.
    /// let (kernel, transport) = FakeKernel::new()?;
    /// let _log = LogGroup::builder(1).qthresh(1).transport(transport).open()?;
    /// assert_eq!(kernel.log_config(1).map(|s| s.nlbufsiz), Some(NLBUFSIZ_DEFAULT));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub const DEFAULT_NLBUFSIZ: u32 = 16 * 1024 - 320;

    /// The longest flush timeout: 4 294 967 hundredths of a second (about 11 h 56 min). The
    /// kernel takes the timeout in hundredths in a `u32`, then computes `timeout * HZ / 100`
    /// in 32-bit arithmetic, which wraps above `u32::MAX / 1000` with `HZ` 1000.
    pub const MAX_TIMEOUT: Duration = Duration::from_millis(MAX_TIMEOUT_HUNDREDTHS as u64 * 10);

    fn new(groups: Vec<u16>) -> LogBuilder {
        LogBuilder {
            groups,
            copy_mode: CopyMode::Packet,
            copy_range: MAX_COPY_RANGE,
            qthresh: None,
            timeout: None,
            nlbufsiz: None,
            flags: LogFlags::empty(),
            recv_buffer: None,
            report_overruns: true,
            source: Source::default(),
        }
    }

    /// The smallest `nlbufsiz` the kernel takes: `NLMSG_GOODSIZE`, the size of a page (at
    /// most 8 KiB) minus the kernel's `skb_shared_info` — 3776 on x86-64 with 4 KiB pages.
    /// Below it `nfulnl_set_nlbufsiz` ignores the value. Computed from this system's page
    /// size; on 64-bit kernels built with a larger `MAX_SKB_FRAGS` the kernel's bound is a
    /// little lower, so this one is never too permissive.
    ///
    /// ```
    /// use netfilter::{Error, LogBuilder, LogGroup};
    ///
    /// let min = LogBuilder::min_nlbufsiz();
    /// // NLMSG_GOODSIZE: a page (4 or 8 KiB) less the kernel's skb_shared_info.
    /// assert!((3776..=8192).contains(&min));
    /// assert!(min < LogBuilder::MAX_NLBUFSIZ);
    /// // One byte less is refused before anything is sent.
    /// let err = LogGroup::builder(1).nlbufsiz(min - 1).open().unwrap_err();
    /// assert!(matches!(err, Error::OutOfRange { what: "nlbufsiz", .. }));
    /// ```
    pub fn min_nlbufsiz() -> u32 {
        static MIN: OnceLock<u32> = OnceLock::new();
        *MIN.get_or_init(|| {
            // SAFETY: sysconf has no preconditions and only reads system configuration.
            let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
            let page = u32::try_from(page).unwrap_or(4096).clamp(4096, 8192);
            page - SKB_SHARED_INFO
        })
    }

    /// Also serve log group `group` on this socket (one receive loop for all of them). A
    /// group already listed is not added twice.
    ///
    /// ```
    /// use netfilter::LogGroup;
    /// use netfilter_testkit::fake::FakeKernel;
    ///
    /// let (kernel, transport) = FakeKernel::new()?;
    /// let log = LogGroup::builder(1).group(2).group(1).transport(transport).open()?;
    /// assert_eq!(log.groups(), &[1, 2]); // 1 is not added twice
    /// assert_eq!(kernel.state(|s| s.bound_groups()), vec![1, 2]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn group(mut self, group: u16) -> LogBuilder {
        if !self.groups.contains(&group) {
            self.groups.push(group);
        }
        self
    }

    /// What is copied of each packet, and at most how many bytes: up to 0xffff, where 0 and
    /// everything over [`MAX_COPY_RANGE`] mean [`MAX_COPY_RANGE`] (the whole packet), as the
    /// kernel takes them. A rule's own size (`--nflog-size`, nft `snaplen`) may cut further. [`CopyMode::Meta`]
    /// and [`CopyMode::None`] both send metadata without payload for log groups.
    ///
    /// ```
    /// use netfilter::{CopyMode, Error, LogGroup};
    /// use netfilter_testkit::fake::FakeKernel;
    /// use netfilter_testkit::synth::LogPacketBuilder;
    ///
    /// // The first 8 bytes of each packet.
    /// let (kernel, transport) = FakeKernel::new()?;
    /// let mut log = LogGroup::builder(1).copy(CopyMode::Packet, 8).transport(transport).open()?;
    /// kernel.log_packet(LogPacketBuilder::ipv4(1).payload(vec![0x45; 60]))?;
    /// assert_eq!(log.recv()?.payload(), &[0x45; 8]);
    ///
    /// // Metadata only: no payload at all.
    /// let (kernel, transport) = FakeKernel::new()?;
    /// let mut log = LogGroup::builder(1).copy(CopyMode::Meta, 0).transport(transport).open()?;
    /// kernel.log_packet(LogPacketBuilder::ipv4(1).mark(3).payload(vec![0x45; 60]))?;
    /// let packet = log.recv()?;
    /// assert!(!packet.has_payload());
    /// assert_eq!(packet.mark(), 3);
    ///
    /// // More than the kernel can copy is refused.
    /// let err = LogGroup::builder(1).copy(CopyMode::Packet, 70_000).open().unwrap_err();
    /// assert!(matches!(err, Error::OutOfRange { what: "copy range", .. }));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn copy(mut self, mode: CopyMode, range: u32) -> LogBuilder {
        self.copy_mode = mode;
        self.copy_range = clamp_copy_range(range);
        self
    }

    /// How many messages the kernel gathers into one datagram before sending it (the
    /// kernel's default: 100). A rule's own threshold (`--nflog-threshold`, nft
    /// `queue-threshold`) lowers it; a full `nlbufsiz` buffer or the
    /// [timeout](LogBuilder::timeout) sends a batch earlier.
    ///
    /// ```
    /// use netfilter::LogGroup;
    /// use netfilter_testkit::fake::FakeKernel;
    ///
    /// let (kernel, transport) = FakeKernel::new()?;
    /// let _log = LogGroup::builder(1).qthresh(32).transport(transport).open()?;
    /// assert_eq!(kernel.log_config(1).map(|s| s.qthresh), Some(32));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn qthresh(mut self, messages: u32) -> LogBuilder {
        self.qthresh = Some(messages);
        self
    }

    /// How long the kernel holds a partial batch before sending it (the kernel's default:
    /// 1 s). The kernel counts in hundredths of a second: a duration that is not a whole
    /// number of hundredths is rounded *up* (1 ms becomes 10 ms, so that a short timeout
    /// never becomes 0). At most [`LogBuilder::MAX_TIMEOUT`].
    ///
    /// ```
    /// use std::time::Duration;
    /// use netfilter::{Error, LogBuilder, LogGroup};
    /// use netfilter_testkit::fake::FakeKernel;
    ///
    /// let (kernel, transport) = FakeKernel::new()?;
    /// let _log = LogGroup::builder(1)
    ///     .timeout(Duration::from_millis(1)) // rounded up to one hundredth
    ///     .transport(transport)
    ///     .open()?;
    /// assert_eq!(kernel.log_config(1).map(|s| s.timeout), Some(1));
    ///
    /// let too_long = LogBuilder::MAX_TIMEOUT + Duration::from_millis(10);
    /// let err = LogGroup::builder(1).timeout(too_long).open().unwrap_err();
    /// assert!(matches!(err, Error::OutOfRange { .. }));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> LogBuilder {
        self.timeout = Some(timeout);
        self
    }

    /// The size in bytes of the buffer the kernel gathers a batch in (`nlbufsiz`), from
    /// [`LogBuilder::min_nlbufsiz`] to [`LogBuilder::MAX_NLBUFSIZ`]. A batch ends when the
    /// next message does not fit, so the buffer decides how many messages share a datagram,
    /// a wake-up and a receive: the kernel's default, [`min_nlbufsiz`](LogBuilder::min_nlbufsiz)
    /// (a page), holds about 23 messages of small packets and two of 1400 B. Unless set, a
    /// group asks for [`DEFAULT_NLBUFSIZ`](LogBuilder::DEFAULT_NLBUFSIZ), which holds about
    /// 90 and 10, for a fraction of the CPU per message (`BENCHMARKS.md`); with
    /// [`qthresh`](LogBuilder::qthresh) 1 it leaves the kernel's default. A buffer larger
    /// still batches more, but the socket's receive buffer counts a batch at its whole
    /// allocation: raise [`recv_buffer`](LogBuilder::recv_buffer) with it, or bursts
    /// overrun it sooner. A larger buffer is also one larger allocation the kernel makes
    /// without waiting (`GFP_ATOMIC`): when it fails, the kernel falls back to a buffer of
    /// one message. A rule's own threshold (`--nflog-threshold 1`) makes every message a batch
    /// of its own in a buffer of this size, trimmed when sent: give such a group
    /// [`min_nlbufsiz`](LogBuilder::min_nlbufsiz).
    ///
    /// ```
    /// use netfilter::LogGroup;
    /// use netfilter_testkit::fake::FakeKernel;
    ///
    /// let (kernel, transport) = FakeKernel::new()?;
    /// let _log = LogGroup::builder(1).nlbufsiz(64 * 1024).transport(transport).open()?;
    /// assert_eq!(kernel.log_config(1).map(|s| s.nlbufsiz), Some(65_536));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn nlbufsiz(mut self, bytes: u32) -> LogBuilder {
        self.nlbufsiz = Some(bytes);
        self
    }

    /// The group flags (replacing those set so far): [`LogFlags::SEQ`],
    /// [`LogFlags::SEQ_GLOBAL`], [`LogFlags::CONNTRACK`].
    ///
    /// ```
    /// use netfilter::{LogFlags, LogGroup};
    /// use netfilter_testkit::fake::FakeKernel;
    ///
    /// let (kernel, transport) = FakeKernel::new()?;
    /// let flags = LogFlags::SEQ | LogFlags::SEQ_GLOBAL;
    /// let _log = LogGroup::builder(1).flags(flags).transport(transport).open()?;
    /// assert_eq!(kernel.log_config(1).map(|s| s.flags), Some(flags.bits()));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn flags(mut self, flags: LogFlags) -> LogBuilder {
        self.flags = flags;
        self
    }

    /// Number each group's messages ([`LogPacket::seq`]); also what lets the loss of
    /// messages be counted ([`LogPacket::lost_before`]).
    ///
    /// ```
    /// use netfilter::LogGroup;
    /// use netfilter_testkit::fake::FakeKernel;
    /// use netfilter_testkit::synth::LogPacketBuilder;
    ///
    /// let (kernel, transport) = FakeKernel::new()?;
    /// let mut log = LogGroup::builder(1).seq(true).transport(transport).open()?;
    /// kernel.log_packet(LogPacketBuilder::ipv4(1))?;
    /// kernel.log_packet(LogPacketBuilder::ipv4(1))?;
    /// assert_eq!(log.recv()?.seq(), Some(0));
    /// assert_eq!(log.recv()?.seq(), Some(1));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn seq(self, on: bool) -> LogBuilder {
        self.flag(LogFlags::SEQ, on)
    }

    /// Number messages across every group of the namespace that has this flag
    /// ([`LogPacket::seq_global`]).
    ///
    /// ```
    /// use netfilter::LogGroup;
    /// use netfilter_testkit::fake::FakeKernel;
    /// use netfilter_testkit::synth::LogPacketBuilder;
    ///
    /// let (kernel, transport) = FakeKernel::new()?;
    /// let mut log = LogGroup::builder_groups(&[1, 2]).seq_global(true).transport(transport).open()?;
    /// kernel.log_packet(LogPacketBuilder::ipv4(1))?;
    /// kernel.log_packet(LogPacketBuilder::ipv4(2))?;
    /// let (first, second) = (log.recv()?, log.recv()?);
    /// assert_eq!((first.group(), first.seq_global()), (1, Some(1)));
    /// assert_eq!((second.group(), second.seq_global()), (2, Some(2))); // shared by both groups
    /// assert_eq!(second.seq(), None); // no per-group numbers without `seq`
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn seq_global(self, on: bool) -> LogBuilder {
        self.flag(LogFlags::SEQ_GLOBAL, on)
    }

    /// Attach the packet's conntrack entry ([`LogPacket::ct`], [`LogPacket::ct_info`]);
    /// needs `nf_conntrack_netlink` in the kernel.
    ///
    /// ```
    /// use netfilter::{Error, LogFlags, LogGroup};
    /// use netfilter_testkit::fake::FakeKernel;
    ///
    /// // A kernel without nf_conntrack_netlink refuses the flag.
    /// let (kernel, transport) = FakeKernel::new()?;
    /// kernel.unsupported_log_flags(LogFlags::CONNTRACK.bits());
    /// let err = LogGroup::builder(1).conntrack(true).transport(transport).open().unwrap_err();
    /// assert!(matches!(err, Error::Unsupported { .. }));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn conntrack(self, on: bool) -> LogBuilder {
        self.flag(LogFlags::CONNTRACK, on)
    }

    fn flag(mut self, flag: LogFlags, on: bool) -> LogBuilder {
        self.flags.set(flag, on);
        self
    }

    /// The socket's receive buffer in bytes: forced past `net.core.rmem_max` when the process
    /// has `CAP_NET_ADMIN`, else capped by it.
    ///
    /// ```no_run
    /// use netfilter::LogGroup;
    ///
    /// // Room for bursts of full-size packets; needs CAP_NET_ADMIN to pass net.core.rmem_max.
    /// let mut log = LogGroup::builder(1).recv_buffer(8 << 20).open()?;
    /// let packet = log.recv()?;
    /// # let _ = packet;
    /// # Ok::<(), netfilter::Error>(())
    /// ```
    pub fn recv_buffer(mut self, bytes: u32) -> LogBuilder {
        self.recv_buffer = Some(bytes);
        self
    }

    /// Whether overruns are returned as [`Error::Overrun`] (the default) or suppressed
    /// (`NETLINK_NO_ENOBUFS`, and no gap events); see the [module docs](crate::log)
    /// on lost messages.
    ///
    /// ```
    /// use netfilter::LogGroup;
    /// use netfilter_testkit::fake::FakeKernel;
    /// use netfilter_testkit::synth::LogPacketBuilder;
    ///
    /// let (kernel, transport) = FakeKernel::new()?;
    /// let mut log = LogGroup::builder(1)
    ///     .seq(true)
    ///     .report_overruns(false)
    ///     .transport(transport)
    ///     .open()?;
    /// kernel.log_packet(LogPacketBuilder::ipv4(1).seq(5))?; // 0 to 4 were lost
    /// // No `Error::Overrun` first: the packet comes at once and still tells the loss.
    /// assert_eq!(log.recv()?.lost_before(), Some(5));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn report_overruns(mut self, report: bool) -> LogBuilder {
        self.report_overruns = report;
        self
    }

    /// Open the socket in another network namespace: the groups, rules and traffic are
    /// those of that namespace.
    ///
    /// ```no_run
    /// use netfilter::{LogGroup, Namespace};
    ///
    /// // The namespace `ip netns add blue` made; its rules log to group 1.
    /// let mut log = LogGroup::builder(1).namespace(Namespace::path("/run/netns/blue")).open()?;
    /// let packet = log.recv()?;
    /// println!("{:?} in blue", packet.prefix());
    /// # Ok::<(), netfilter::Error>(())
    /// ```
    pub fn namespace(mut self, namespace: Namespace) -> LogBuilder {
        self.source = Source::Namespace(namespace);
        self
    }

    /// Use this open `NETLINK_NETFILTER` socket instead of opening one
    /// (python-netfilterqueue's `NetfilterQueue(sockfd=…)`): typically made in another
    /// network namespace, by a helper that entered it or passed it over a Unix socket, so that
    /// this process serves that namespace without entering it. Replaces
    /// [`LogBuilder::namespace`] and [`LogBuilder::transport`]; the socket options
    /// ([`recv_buffer`](LogBuilder::recv_buffer), overrun reporting) are applied to it. The
    /// socket's namespace, for the procfs rows and interface names, is asked of the kernel
    /// (`SIOCGSKNS`, which needs `CAP_NET_ADMIN` over it); when it does not tell, rows are
    /// empty and interface names `None`.
    ///
    /// ```no_run
    /// use std::os::fd::OwnedFd;
    /// use netfilter::{LogGroup, safe::transport::NetlinkSocket};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// // A socket opened in another namespace (here by this process, for the example).
    /// let ns = std::fs::File::open("/run/netns/blue")?;
    /// let socket: OwnedFd = NetlinkSocket::open_in_netns(std::os::fd::AsFd::as_fd(&ns))?.into();
    /// let group = LogGroup::builder(1).socket(socket).open()?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn socket(mut self, socket: OwnedFd) -> LogBuilder {
        self.source = Source::Socket(socket);
        self
    }

    /// Use `transport` instead of a netlink socket: the testkit's fake kernel, for tests
    /// without privileges. Replaces [`LogBuilder::namespace`] and [`LogBuilder::socket`]; the socket
    /// options do not apply.
    ///
    /// ```
    /// use netfilter::LogGroup;
    /// use netfilter_testkit::fake::FakeKernel;
    /// use netfilter_testkit::synth::LogPacketBuilder;
    ///
    /// let (kernel, transport) = FakeKernel::new()?;
    /// let mut log = LogGroup::builder(1).transport(transport).open()?;
    /// assert!(kernel.log_config(1).is_some()); // bound through the fake
    /// kernel.log_packet(LogPacketBuilder::ipv4(1).prefix("drop").payload(b"ip".to_vec()))?;
    /// let packet = log.recv()?;
    /// assert_eq!((packet.prefix(), packet.payload()), (Some("drop"), &b"ip"[..]));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn transport(mut self, transport: impl Transport + 'static) -> LogBuilder {
        self.source = Source::Transport(Box::new(transport));
        self
    }

    /// Checks every value; returns the timeout in hundredths of a second.
    fn check(&self) -> Result<Option<u32>> {
        if self.groups.is_empty() {
            return Err(Error::OutOfRange {
                what: "number of log groups",
                value: 0,
                min: 1,
                max: u64::from(u16::MAX) + 1,
            });
        }
        check_copy_range(self.copy_range)?;
        self.nlbufsiz.map(check_nlbufsiz).transpose()?;
        self.timeout.map(hundredths).transpose()
    }

    /// The `nlbufsiz` to send: the one set, else [`LogBuilder::DEFAULT_NLBUFSIZ`] unless each
    /// message is a batch of its own (`qthresh` 1 or 0); `None` leaves the kernel's.
    fn batch_buffer(&self) -> Option<u32> {
        let batches = self.qthresh.is_none_or(|messages| messages > 1);
        self.nlbufsiz
            .or(batches.then_some(LogBuilder::DEFAULT_NLBUFSIZ))
    }

    /// The largest datagram the kernel can send with these settings: a batch buffer is
    /// `max(nlbufsiz, one message)` bytes.
    fn datagram_size(&self) -> usize {
        let batch = self.batch_buffer().unwrap_or_else(LogBuilder::min_nlbufsiz);
        datagram_room(batch as usize).max(message_room(self.copy_mode, self.copy_range))
    }

    /// Opens the socket, binds every group and configures it.
    ///
    /// # Errors
    /// [`Error::OutOfRange`] for no group, a copy range over 0xffff, an
    /// `nlbufsiz` outside [`min_nlbufsiz`](LogBuilder::min_nlbufsiz)`..=`[`MAX_NLBUFSIZ`](LogBuilder::MAX_NLBUFSIZ)
    /// or a timeout over [`MAX_TIMEOUT`](LogBuilder::MAX_TIMEOUT) (nothing is sent);
    /// [`Error::NotPermitted`] when another socket owns a group or the process lacks
    /// `CAP_NET_ADMIN`; [`Error::Unsupported`] for [`LogFlags::CONNTRACK`] without the
    /// kernel's conntrack glue.
    ///
    /// ```
    /// use netfilter::{Error, LogGroup};
    /// use netfilter_testkit::fake::FakeKernel;
    ///
    /// let (kernel, transport) = FakeKernel::new()?;
    /// kernel.bind_group_elsewhere(1); // another program logs group 1
    /// let err = LogGroup::builder(1).transport(transport).open().unwrap_err();
    /// assert!(matches!(err, Error::NotPermitted { .. }));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn open(self) -> Result<LogGroup> {
        let timeout = self.check()?;
        let size = self.datagram_size();
        let nlbufsiz = self.batch_buffer();
        let (transport, netns) = self.source.open(self.recv_buffer, self.report_overruns)?;
        let mut log = LogGroup {
            netns,
            conn: Conn::new(transport),
            groups: Vec::with_capacity(self.groups.len()),
            inbox: Inbox::new(size, self.report_overruns),
            seqs: SeqTracker::new(self.report_overruns, self.flags.contains(LogFlags::SEQ)),
        };
        let mode = LogMode {
            copy_range: self.copy_range,
            copy_mode: self.copy_mode.raw(),
        };
        for group in self.groups {
            log.configure(group, |c| c.cmd = Some(sys::NFULNL_CFG_CMD_BIND as u8))?;
            log.groups.push(group);
            log.configure(group, |c| {
                c.mode = Some(mode);
                c.qthresh = self.qthresh;
                c.timeout = timeout;
                c.nlbufsiz = nlbufsiz;
            })?;
            if !self.flags.is_empty() {
                log.set_group_flags(group, self.flags)?;
            }
            if self.flags.contains(LogFlags::SEQ) {
                // A group's numbers start at 0 when the flag is set on a new instance.
                log.seqs.expect(group, 0);
            }
        }
        Ok(log)
    }
}

/// What the kernel's error reports among log messages answer.
const ANSWERS: &str = "configure a log group";

/// The largest timeout in hundredths of a second; see [`LogBuilder::MAX_TIMEOUT`].
const MAX_TIMEOUT_HUNDREDTHS: u32 = u32::MAX / 1000;

/// Refuses an `nlbufsiz` the kernel would ignore.
fn check_nlbufsiz(bytes: u32) -> Result<()> {
    let (min, max) = (LogBuilder::min_nlbufsiz(), LogBuilder::MAX_NLBUFSIZ);
    if (min..=max).contains(&bytes) {
        return Ok(());
    }
    Err(Error::OutOfRange {
        what: "nlbufsiz",
        value: bytes.into(),
        min: min.into(),
        max: max.into(),
    })
}

/// The receive room for a datagram of up to `bytes` bytes of the kernel's buffer, which the
/// allocator may round up to a power of two.
fn datagram_room(bytes: usize) -> usize {
    (bytes + SKB_OVERHEAD).next_power_of_two()
}

/// The receive room for one message of a packet copied with `mode` and `range`.
fn message_room(mode: CopyMode, range: u32) -> usize {
    let copy = match mode {
        CopyMode::Packet => range as usize,
        _ => 0,
    };
    datagram_room(copy + MESSAGE_OVERHEAD)
}

/// `timeout` in hundredths of a second, rounded up.
fn hundredths(timeout: Duration) -> Result<u32> {
    let n = timeout.as_nanos().div_ceil(10_000_000);
    match u32::try_from(n) {
        Ok(n) if n <= MAX_TIMEOUT_HUNDREDTHS => Ok(n),
        _ => Err(Error::OutOfRange {
            what: "timeout in hundredths of a second",
            value: u64::try_from(n).unwrap_or(u64::MAX),
            min: 0,
            max: MAX_TIMEOUT_HUNDREDTHS.into(),
        }),
    }
}

/// The sequence number each group's next message should carry, and how gaps are reported.
#[derive(Debug)]
struct SeqTracker {
    next: BTreeMap<u16, u32>,
    /// Whether a gap is reported (as [`Error::Overrun`]) before the message that revealed it.
    report: bool,
    /// Whether the groups' messages are numbered ([`LogFlags::SEQ`]), so that every loss
    /// shows as a gap.
    numbered: bool,
    /// The gap just reported: the message that revealed it comes next (again), with this
    /// count, and is not reported a second time.
    reported: Option<u32>,
}

impl SeqTracker {
    fn new(report: bool, numbered: bool) -> SeqTracker {
        SeqTracker {
            next: BTreeMap::new(),
            report,
            numbered,
            reported: None,
        }
    }

    /// Whether each overrun is reported as the gap it leaves, with its count: then the
    /// kernel's `ENOBUFS` notice, which comes before the count is known, is not reported too.
    fn counts_overruns(&self) -> bool {
        self.report && self.numbered
    }

    /// `received`, with the `ENOBUFS` notice taken for "something came" (the datagrams that
    /// were waiting come next) when the gap will report the overrun.
    fn received(&self, received: Result<bool>) -> Result<bool> {
        match received {
            Err(Error::Overrun { lost: None }) if self.counts_overruns() => Ok(true),
            other => other,
        }
    }

    fn expect(&mut self, group: u16, seq: u32) {
        self.next.insert(group, seq);
    }

    /// Numbering turned on or off for `groups` on an open socket: a group's kernel counter
    /// goes on from where it stopped (0 for a group never numbered, whose messages so far had
    /// no number to track).
    fn set_numbered(&mut self, groups: &[u16], numbered: bool) {
        if numbered && !self.numbered {
            for &group in groups {
                self.next.entry(group).or_insert(0);
            }
        }
        self.numbered = numbered;
    }

    /// How many messages of `group` were lost before the one numbered `seq` (`None` without
    /// a number); `Err(lost)` when that gap is to be reported first, the message to be handed
    /// out by the next call.
    fn lost_before(
        &mut self,
        group: u16,
        seq: Option<u32>,
    ) -> std::result::Result<Option<u32>, u32> {
        let Some(seq) = seq else {
            return Ok(None);
        };
        if let Some(lost) = self.reported.take() {
            return Ok(Some(lost));
        }
        match self.observe(group, seq) {
            lost if lost > 0 && self.report => {
                self.reported = Some(lost);
                Err(lost)
            }
            lost => Ok(Some(lost)),
        }
    }

    /// Records message `seq` of `group`; returns how many messages before it are missing.
    fn observe(&mut self, group: u16, seq: u32) -> u32 {
        let lost = match self.next.get(&group) {
            // A jump backwards (a number below the expected one) resynchronises.
            Some(&next) => match seq.wrapping_sub(next) {
                gap if gap < 1 << 31 => gap,
                _ => 0,
            },
            None => 0,
        };
        self.next.insert(group, seq.wrapping_add(1));
        lost
    }
}

/// How [`lend`] stopped before the end of a datagram.
enum Cut {
    /// A gap to report first, a malformed message or the kernel's error report.
    Error(Error),
    /// The callback panicked.
    Panic(Box<dyn std::any::Any + Send>),
}

/// Hands the packets of `datagram` to `f`, each made where `f` reads it; how many, and where
/// the rest starts when the walk was cut short (the message that revealed a gap is the
/// rest's first; after an error or a panic, the message after it).
fn lend(
    datagram: &[u8],
    seqs: &mut SeqTracker,
    f: &mut impl FnMut(&LogPacketRef<'_>),
) -> (usize, Option<(usize, Cut)>) {
    let (mut at, mut handed) = (0, 0);
    loop {
        let range = match conn::next_in(datagram, &mut at, wire::LogPacket::MSG_TYPE, ANSWERS) {
            Ok(Some(range)) => range,
            Ok(None) => return (handed, None),
            Err(err) => return (handed, Some((at, Cut::Error(err)))),
        };
        let start = range.start;
        let mut packet = LogPacket::unlocated(&datagram[range]);
        match packet.admit(seqs) {
            Ok(Ok(())) => {}
            Ok(Err(gap)) => return (handed, Some((start, Cut::Error(gap)))),
            Err(err) => return (handed, Some((at, Cut::Error(err)))),
        }
        if let Err(panic) = panic::catch_unwind(AssertUnwindSafe(|| f(&packet))) {
            return (handed, Some((at, Cut::Panic(panic))));
        }
        handed += 1;
    }
}

/// One netlink socket serving one or more NFLOG groups; packets come out owned
/// ([`LogPacket`]). Unbinds its groups when dropped.
///
/// Not `Clone` (it owns the socket); `Send`, so a receive loop may move to its own thread.
/// See the [module docs](crate::log) for how overruns and lost messages are reported.
///
/// ```no_run
/// use netfilter::LogGroup;
///
/// # fn main() -> Result<(), netfilter::Error> {
/// // nft add rule inet filter input log group 1 prefix "in"; ... log group 2 prefix "out"
/// let mut log = LogGroup::builder_groups(&[1, 2]).open()?;
/// for packet in log.incoming() {
///     let packet = match packet {
///         Ok(packet) => packet,
///         Err(netfilter::Error::Overrun { lost }) => {
///             eprintln!("overrun, lost: {lost:?}");
///             continue;
///         }
///         Err(err) => return Err(err),
///     };
///     println!("group {} {:?}", packet.group(), packet.prefix());
/// }
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct LogGroup {
    /// The socket's network namespace, for procfs and interface names (`None` over a custom
    /// transport).
    netns: Option<Netns>,
    conn: Conn,
    groups: Vec<u16>,
    inbox: Inbox,
    seqs: SeqTracker,
}

impl LogGroup {
    /// Starts setting up a socket that serves log group `group` (`--nflog-group`, nft
    /// `log group`).
    ///
    /// ```
    /// use netfilter::LogGroup;
    /// use netfilter_testkit::fake::FakeKernel;
    ///
    /// let (kernel, transport) = FakeKernel::new()?;
    /// let log = LogGroup::builder(3).transport(transport).open()?;
    /// assert_eq!(log.groups(), &[3]);
    /// assert_eq!(kernel.state(|s| s.bound_groups()), vec![3]);
    /// drop(log); // unbinds
    /// assert_eq!(kernel.state(|s| s.bound_groups()), Vec::<u16>::new());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn builder(group: u16) -> LogBuilder {
        LogBuilder::new(vec![group])
    }

    /// Starts setting up a socket that serves every group in `groups` (duplicates are
    /// ignored); see also [`LogBuilder::group`].
    ///
    /// ```
    /// use netfilter::LogGroup;
    /// use netfilter_testkit::fake::FakeKernel;
    /// use netfilter_testkit::synth::LogPacketBuilder;
    ///
    /// let (kernel, transport) = FakeKernel::new()?;
    /// let mut log = LogGroup::builder_groups(&[1, 2, 1]).transport(transport).open()?;
    /// assert_eq!(log.groups(), &[1, 2]);
    /// kernel.log_packet(LogPacketBuilder::ipv4(2).prefix("out"))?;
    /// kernel.log_packet(LogPacketBuilder::ipv4(1).prefix("in"))?;
    /// assert_eq!(log.recv()?.group(), 2);
    /// assert_eq!(log.recv()?.group(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn builder_groups(groups: &[u16]) -> LogBuilder {
        groups
            .iter()
            .fold(LogBuilder::new(Vec::new()), |b, &g| b.group(g))
    }

    /// The groups this socket serves.
    ///
    /// ```
    /// # use netfilter::LogGroup;
    /// # use netfilter_testkit::fake::FakeKernel;
    /// # use netfilter_testkit::synth::LogPacketBuilder;
    /// # let (kernel, transport) = FakeKernel::new()?;
    /// # let mut log = LogGroup::builder(1).transport(transport).open()?;
    /// assert_eq!(log.groups(), &[1]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn groups(&self) -> &[u16] {
        &self.groups
    }

    /// Receives the next packet, blocking until one comes.
    ///
    /// # Errors
    /// [`Error::Overrun`] when the kernel dropped messages for lack of buffer (not fatal: call
    /// again; see the [module docs](crate::log)); [`Error::Malformed`] for a message that
    /// could not be parsed (skipped); [`Error::Stopped`] after [`StopHandle::stop`]; an I/O
    /// error.
    ///
    /// ```
    /// # use netfilter::LogGroup;
    /// # use netfilter_testkit::fake::FakeKernel;
    /// # use netfilter_testkit::synth::LogPacketBuilder;
    /// # let (kernel, transport) = FakeKernel::new()?;
    /// # let mut log = LogGroup::builder(1).transport(transport).open()?;
    /// kernel.log_packet(LogPacketBuilder::ipv4(1).prefix("ssh").payload(vec![0x45; 40]))?;
    /// let packet = log.recv()?; // blocks until a packet comes
    /// assert_eq!(packet.prefix(), Some("ssh"));
    /// assert_eq!(packet.payload().len(), 40);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn recv(&mut self) -> Result<LogPacket> {
        loop {
            if let Some(packet) = self.next_ready()? {
                return Ok(packet);
            }
            self.receive(None)?;
        }
    }

    /// Receives the next packet if one is waiting, without blocking.
    ///
    /// # Errors
    /// As for [`LogGroup::recv`].
    ///
    /// ```
    /// # use netfilter::LogGroup;
    /// # use netfilter_testkit::fake::FakeKernel;
    /// # use netfilter_testkit::synth::LogPacketBuilder;
    /// # let (kernel, transport) = FakeKernel::new()?;
    /// # let mut log = LogGroup::builder(1).transport(transport).open()?;
    /// assert!(log.try_recv()?.is_none()); // nothing waiting: no blocking
    /// kernel.log_packet(LogPacketBuilder::ipv4(1).mark(9))?;
    /// assert_eq!(log.try_recv()?.map(|p| p.mark()), Some(9));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn try_recv(&mut self) -> Result<Option<LogPacket>> {
        self.recv_timeout(Duration::ZERO)
    }

    /// Receives the next packet, waiting at most `timeout`.
    ///
    /// # Errors
    /// As for [`LogGroup::recv`].
    ///
    /// ```
    /// use std::time::Duration;
    /// # use netfilter::LogGroup;
    /// # use netfilter_testkit::fake::FakeKernel;
    /// # use netfilter_testkit::synth::LogPacketBuilder;
    /// # let (kernel, transport) = FakeKernel::new()?;
    /// # let mut log = LogGroup::builder(1).transport(transport).open()?;
    /// assert!(log.recv_timeout(Duration::from_millis(10))?.is_none());
    /// kernel.log_packet(LogPacketBuilder::ipv4(1))?;
    /// assert!(log.recv_timeout(Duration::from_secs(5))?.is_some());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn recv_timeout(&mut self, timeout: Duration) -> Result<Option<LogPacket>> {
        conn::recv_timeout(self, timeout, LogGroup::receive, LogGroup::next_ready)
    }

    /// Hands every packet received to `f`, lent as a [`LogPacketRef`]: a view of its message
    /// in the received datagram, as C's callbacks get (nothing is copied, counted or
    /// allocated per packet; [`LogPacketRef::to_packet`] keeps one). The fastest way to
    /// read a log group, and one that leaves the loop to the caller.
    ///
    /// Hands out first what earlier calls left (the rest of a datagram an error cut short, or
    /// datagrams [`LogGroup::recv`] and friends received); when nothing is left, receives
    /// one datagram (a batch of the kernel's, see [`LogBuilder::qthresh`]), waiting at most
    /// `timeout` for it (forever with `None`, not at all with zero), and hands out its
    /// packets where they landed: one `recv` per datagram, as a C program makes, and no
    /// copy. Returns how many packets `f` was given: 0 when nothing came in time (or what
    /// came held no packet).
    ///
    /// # Errors
    /// As for [`LogGroup::recv`]. An error ends the call where it happened: the packets
    /// before it were handed out, those after it are handed out by the next call; after a
    /// reported gap ([`Error::Overrun`] with `Some`), the packet that revealed it comes first.
    ///
    /// # Panics
    /// When `f` panics, the panic is passed on to the caller, and the packets after the one
    /// `f` was given are kept for the next call.
    ///
    /// ```
    /// use std::time::Duration;
    /// use netfilter::LogGroup;
    /// use netfilter_testkit::fake::FakeKernel;
    /// use netfilter_testkit::synth::LogPacketBuilder;
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let (kernel, transport) = FakeKernel::new()?;
    /// let mut log = LogGroup::builder(4).transport(transport).open()?;
    /// kernel.log_batch((1..=3u8).map(|i| LogPacketBuilder::ipv4(4).payload(vec![i; 20])))?;
    /// let mut bytes = 0;
    /// let n = log.recv_batch(Some(Duration::from_secs(1)), |packet| {
    ///     bytes += packet.payload().len();
    /// })?;
    /// assert_eq!((n, bytes), (3, 60));
    /// // Nothing more is waiting.
    /// assert_eq!(log.recv_batch(Some(Duration::ZERO), |_| {})?, 0);
    /// # Ok(())
    /// # }
    /// ```
    pub fn recv_batch(
        &mut self,
        timeout: Option<Duration>,
        mut f: impl FnMut(&LogPacketRef<'_>),
    ) -> Result<usize> {
        let handed = self.hand_kept(&mut f)?;
        if handed > 0 {
            return Ok(handed);
        }
        loop {
            match self.inbox.receive_lent(&self.conn, timeout) {
                Ok(true) => return self.hand_lent(&mut f),
                Ok(false) => return Ok(0),
                // The datagrams that were waiting come next; the gap reports the overrun.
                Err(Error::Overrun { lost: None }) if self.seqs.counts_overruns() => {}
                Err(err) => return Err(err),
            }
        }
    }

    /// Receives one datagram if one is waiting and hands its packets to `f`, lent: `None`
    /// when none was waiting (for the tokio adapter, after [`LogGroup::hand_kept`] handed
    /// nothing).
    #[cfg(feature = "tokio")]
    pub(crate) fn lend_waiting(
        &mut self,
        f: &mut impl FnMut(&LogPacketRef<'_>),
    ) -> Result<Option<usize>> {
        let received = self.inbox.receive_lent(&self.conn, Some(Duration::ZERO));
        if !self.seqs.received(received)? {
            return Ok(None);
        }
        self.hand_lent(f).map(Some)
    }

    /// Hands to `f` what earlier calls left in the inbox (after an error, or received by
    /// another method), each packet made where `f` reads it.
    pub(crate) fn hand_kept(&mut self, f: &mut impl FnMut(&LogPacketRef<'_>)) -> Result<usize> {
        let mut handed = 0;
        while !self.inbox.is_empty() {
            let Some(range) = self
                .inbox
                .next_message(wire::LogPacket::MSG_TYPE, ANSWERS)?
            else {
                break;
            };
            let start = range.start;
            let mut packet = LogPacket::unlocated(&self.inbox.datagram()[range]);
            if let Err(gap) = packet.admit(&mut self.seqs)? {
                self.inbox.rewind(start);
                return Err(gap);
            }
            f(&packet);
            handed += 1;
        }
        Ok(handed)
    }

    /// Hands the packets of the datagram [`Inbox::receive_lent`] received to `f`, each made
    /// where `f` reads it (no copy at all). When an error (or `f`'s panic) cuts the walk
    /// short, the rest of the datagram is kept for the next call.
    fn hand_lent(&mut self, f: &mut impl FnMut(&LogPacketRef<'_>)) -> Result<usize> {
        let (handed, cut) = lend(self.inbox.lent(), &mut self.seqs, f);
        match cut {
            None => Ok(handed),
            Some((rest, Cut::Error(err))) => {
                self.inbox.keep_lent(rest);
                Err(err)
            }
            Some((rest, Cut::Panic(panic))) => {
                self.inbox.keep_lent(rest);
                panic::resume_unwind(panic)
            }
        }
    }

    /// Hands the packets of `datagram`, which the program received from [`LogGroup::fd`]
    /// itself, to `f`, lent as by [`LogGroup::recv_batch`] (no copy): libnetfilter_log's
    /// `nflog_handle_packet`, for a program that owns its receive loop. Packets an earlier
    /// call left (after an error) come first. Receive with a buffer of at least
    /// [`LogGroup::datagram_size`] bytes; a truncated datagram is malformed.
    ///
    /// ```
    /// use netfilter::LogGroup;
    /// use netfilter_testkit::fake::FakeKernel;
    /// use netfilter_testkit::synth::LogPacketBuilder;
    /// use std::os::fd::AsRawFd;
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let (kernel, transport) = FakeKernel::new()?;
    /// let mut log = LogGroup::builder(2).transport(transport).open()?;
    /// kernel.log_packet(LogPacketBuilder::ipv4(2).prefix("mine"))?;
    /// // The program's own receive.
    /// let mut buf = vec![0u8; log.datagram_size()];
    /// // SAFETY: `buf` is writable for its length.
    /// let n = unsafe { libc::recv(log.fd().as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
    /// assert!(n > 0);
    /// let mut prefixes = Vec::new();
    /// log.handle_datagram(&buf[..n as usize], |p| prefixes.push(p.prefix().map(str::to_owned)))?;
    /// assert_eq!(prefixes, [Some("mine".to_owned())]);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// As for [`LogGroup::recv_batch`]: a gap ([`Error::Overrun`]), a malformed message or
    /// the kernel's error report; the rest of the datagram is kept for the next call (of this
    /// or any receive). A panic of `f` is resumed after the rest is kept.
    pub fn handle_datagram(
        &mut self,
        datagram: &[u8],
        mut f: impl FnMut(&LogPacketRef<'_>),
    ) -> Result<usize> {
        let kept = match self.hand_kept(&mut f) {
            Ok(kept) => kept,
            Err(err) => {
                // Behind what was kept: it comes in its turn.
                self.inbox.push(Bytes::copy_from_slice(datagram));
                return Err(err);
            }
        };
        let (handed, cut) = lend(datagram, &mut self.seqs, &mut f);
        match cut {
            None => Ok(kept + handed),
            Some((rest, Cut::Error(err))) => {
                self.inbox.keep(&datagram[rest..]);
                Err(err)
            }
            Some((rest, Cut::Panic(panic))) => {
                self.inbox.keep(&datagram[rest..]);
                panic::resume_unwind(panic)
            }
        }
    }

    /// The largest datagram the kernel sends this group with its settings: the buffer a
    /// program that receives itself ([`LogGroup::handle_datagram`]) needs.
    pub fn datagram_size(&self) -> usize {
        self.inbox.slot()
    }

    /// A blocking iterator over the packets; it never ends by itself.
    ///
    /// ```
    /// # use netfilter::LogGroup;
    /// # use netfilter_testkit::fake::FakeKernel;
    /// # use netfilter_testkit::synth::LogPacketBuilder;
    /// # let (kernel, transport) = FakeKernel::new()?;
    /// # let mut log = LogGroup::builder(1).transport(transport).open()?;
    /// for mark in 1..=3 {
    ///     kernel.log_packet(LogPacketBuilder::ipv4(1).mark(mark))?;
    /// }
    /// let marks: Vec<u32> = log.incoming().take(3).map(|p| p.map(|p| p.mark())).collect::<Result<_, _>>()?;
    /// assert_eq!(marks, [1, 2, 3]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn incoming(&mut self) -> LogIncoming<'_> {
        LogIncoming { log: self }
    }

    /// Hands every packet to `f` until [`LogGroup::stop_handle`]'s handle stops it (then
    /// `Ok(())`). Overruns and malformed messages are skipped (see
    /// [`LogPacket::lost_before`] for what was lost); any other error, including one `f`
    /// returns, ends the loop.
    ///
    /// # Errors
    /// The error that ended the loop.
    ///
    /// ```
    /// use netfilter::Error;
    /// # use netfilter::LogGroup;
    /// # use netfilter_testkit::fake::FakeKernel;
    /// # use netfilter_testkit::synth::LogPacketBuilder;
    /// # let (kernel, transport) = FakeKernel::new()?;
    /// # let mut log = LogGroup::builder(1).transport(transport).open()?;
    /// kernel.log_packet(LogPacketBuilder::ipv4(1).prefix("a"))?;
    /// kernel.log_packet(LogPacketBuilder::ipv4(1).prefix("stop"))?;
    /// let mut seen = Vec::new();
    /// // The loop runs until `f` returns an error; here one made up to stop it.
    /// let end = log.run(|packet| {
    ///     seen.push(packet.prefix().unwrap_or_default().to_owned());
    ///     match packet.prefix() {
    ///         Some("stop") => Err(Error::BadPacket { reason: "told to stop".into() }),
    ///         _ => Ok(()),
    ///     }
    /// });
    /// assert!(matches!(end, Err(Error::BadPacket { .. })));
    /// assert_eq!(seen, ["a", "stop"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn run(&mut self, mut f: impl FnMut(LogPacket) -> Result<()>) -> Result<()> {
        loop {
            match self.recv() {
                Ok(packet) => f(packet)?,
                Err(Error::Overrun { .. } | Error::Malformed(_)) => continue,
                Err(Error::Stopped) => return Ok(()),
                Err(err) => return Err(err),
            }
        }
    }

    /// Datagrams the socket dropped because its receive buffer was full (`SO_MEMINFO`
    /// drops), 0 over a custom transport that does not count them.
    ///
    /// # Errors
    /// [`Error::Safe`] when the count cannot be read.
    ///
    /// ```
    /// # use netfilter::LogGroup;
    /// # use netfilter_testkit::fake::FakeKernel;
    /// # use netfilter_testkit::synth::LogPacketBuilder;
    /// # let (kernel, transport) = FakeKernel::new()?;
    /// # let mut log = LogGroup::builder(1).transport(transport).open()?;
    /// // The fake counts no drops; a netlink socket reports its SO_MEMINFO count.
    /// assert_eq!(log.socket_drops()?, 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn socket_drops(&self) -> Result<u32> {
        Ok(self.conn.transport().drops()?)
    }

    /// The kernel's procfs row of each group this socket serves
    /// (`/proc/net/netfilter/nfnetlink_log`: messages batched in the kernel, copy mode and
    /// range, flush timeout); empty over a custom transport.
    ///
    /// # Errors
    /// [`Error::Safe`] when the table of the socket's namespace cannot be read.
    ///
    /// ```no_run
    /// use netfilter::LogGroup;
    ///
    /// let log = LogGroup::builder(5).open()?;
    /// for row in log.rows()? {
    ///     println!("group {}: {} messages batched in the kernel", row.group, row.qlen);
    /// }
    /// # Ok::<(), netfilter::Error>(())
    /// ```
    pub fn rows(&self) -> Result<Vec<LogRow>> {
        let Some(ns) = &self.netns else {
            return Ok(Vec::new());
        };
        let rows = in_namespace(ns.fd(), procfs::log_rows)??;
        Ok(rows
            .into_iter()
            .filter(|row| self.groups.contains(&row.group))
            .collect())
    }

    /// The name of interface `index` (as [`LogPacket::indev`] and friends give it) in the
    /// socket's network namespace; `None` when there is no such interface, or over a custom
    /// transport. Names are cached per socket: an index not in the cache reads the
    /// namespace's whole table again (`if_nameindex`), so new interfaces are found; an
    /// interface renamed after it was cached keeps its old name here.
    ///
    /// ```
    /// # use netfilter::LogGroup;
    /// # use netfilter_testkit::fake::FakeKernel;
    /// # use netfilter_testkit::synth::LogPacketBuilder;
    /// # let (kernel, transport) = FakeKernel::new()?;
    /// # let mut log = LogGroup::builder(1).transport(transport).open()?;
    /// kernel.log_packet(LogPacketBuilder::ipv4(1).indev(1))?;
    /// let packet = log.recv()?;
    /// assert_eq!(packet.indev(), Some(1));
    /// // A real socket names the interface (`lo` is 1 in every namespace); the fake has none.
    /// assert_eq!(packet.indev().and_then(|i| log.interface_name(i)), None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn interface_name(&self, index: u32) -> Option<String> {
        self.netns.as_ref()?.interface_name(index)
    }

    /// A handle that stops this group's blocking receives from another thread or a signal
    /// handler; see [`StopHandle`]. Every call returns a handle to the same stop.
    ///
    /// # Errors
    /// An I/O error when the eventfd cannot be made (the first call only).
    pub fn stop_handle(&self) -> Result<StopHandle> {
        self.conn.stop_handle()
    }

    /// Changes what is copied of each logged packet, on every group of this socket, for the
    /// messages logged from now on (libnetfilter_log's `nflog_set_mode` on a bound group);
    /// the range as for [`LogBuilder::copy`]. Messages already in the kernel's batch or the
    /// socket keep the old copy.
    ///
    /// ```
    /// use netfilter::{CopyMode, Error, LogGroup};
    /// use netfilter_testkit::fake::FakeKernel;
    ///
    /// let (kernel, transport) = FakeKernel::new()?;
    /// let mut log = LogGroup::builder(1).transport(transport).open()?;
    /// log.set_copy(CopyMode::Packet, 64)?; // headers only, from now on
    /// assert_eq!(kernel.log_config(1).map(|s| s.copy_range), Some(64));
    /// let err = log.set_copy(CopyMode::Packet, 70_000).unwrap_err();
    /// assert!(matches!(err, Error::OutOfRange { what: "copy range", .. }));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::OutOfRange`] for a range over 0xffff (nothing is sent); the kernel's refusal.
    pub fn set_copy(&mut self, mode: CopyMode, range: u32) -> Result<()> {
        let range = clamp_copy_range(range);
        check_copy_range(range)?;
        self.inbox.reserve(message_room(mode, range));
        let mode = LogMode {
            copy_range: range,
            copy_mode: mode.raw(),
        };
        self.configure_all(|c| c.mode = Some(mode))
    }

    /// Changes how many messages the kernel gathers into one datagram, on every group of
    /// this socket (as [`LogBuilder::qthresh`]; the batch buffer stays as it is).
    ///
    /// # Errors
    /// The kernel's refusal.
    pub fn set_qthresh(&mut self, messages: u32) -> Result<()> {
        self.configure_all(|c| c.qthresh = Some(messages))
    }

    /// Changes how long the kernel holds a partial batch, on every group of this socket (as
    /// [`LogBuilder::timeout`], rounded up to hundredths of a second).
    ///
    /// ```
    /// use std::time::Duration;
    /// use netfilter::LogGroup;
    /// use netfilter_testkit::fake::FakeKernel;
    ///
    /// let (kernel, transport) = FakeKernel::new()?;
    /// let mut log = LogGroup::builder_groups(&[1, 2]).transport(transport).open()?;
    /// log.set_qthresh(10)?;
    /// log.set_timeout(Duration::from_millis(50))?;
    /// for group in [1, 2] {
    ///     let settings = kernel.log_config(group).expect("bound");
    ///     assert_eq!((settings.qthresh, settings.timeout), (10, 5));
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::OutOfRange`] over [`LogBuilder::MAX_TIMEOUT`] (nothing is sent); the
    /// kernel's refusal.
    pub fn set_timeout(&mut self, timeout: Duration) -> Result<()> {
        let timeout = hundredths(timeout)?;
        self.configure_all(|c| c.timeout = Some(timeout))
    }

    /// Changes the kernel's batch buffer, on every group of this socket (as
    /// [`LogBuilder::nlbufsiz`]), for the batches begun from now on.
    ///
    /// ```
    /// use netfilter::{Error, LogBuilder, LogGroup};
    /// use netfilter_testkit::fake::FakeKernel;
    ///
    /// let (kernel, transport) = FakeKernel::new()?;
    /// let mut log = LogGroup::builder(1).transport(transport).open()?;
    /// log.set_nlbufsiz(LogBuilder::MAX_NLBUFSIZ)?;
    /// assert_eq!(kernel.log_config(1).map(|s| s.nlbufsiz), Some(LogBuilder::MAX_NLBUFSIZ));
    /// assert!(log.datagram_size() >= LogBuilder::MAX_NLBUFSIZ as usize);
    /// let err = log.set_nlbufsiz(1).unwrap_err();
    /// assert!(matches!(err, Error::OutOfRange { what: "nlbufsiz", .. }));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::OutOfRange`] outside [`LogBuilder::min_nlbufsiz`]`..=`[`LogBuilder::MAX_NLBUFSIZ`]
    /// (nothing is sent); the kernel's refusal.
    pub fn set_nlbufsiz(&mut self, bytes: u32) -> Result<()> {
        check_nlbufsiz(bytes)?;
        self.inbox.reserve(datagram_room(bytes as usize));
        self.configure_all(|c| c.nlbufsiz = Some(bytes))
    }

    /// Sets the flags to `flags` (every flag not in it is turned off), on every group of
    /// this socket, for the messages logged from now on (libnetfilter_log's
    /// `nflog_set_flags`). The builder's methods ([`LogBuilder::seq`], ...) set the same
    /// flags at `open`.
    ///
    /// With [`LogFlags::SEQ`] turned on, a group's messages are numbered from where its
    /// numbering stopped (from 0 for a group never numbered), and gaps are reported as with
    /// the builder's [`seq`](LogBuilder::seq). Messages logged before the change and still
    /// waiting keep their old numbering; an overrun among them may be reported both as the
    /// kernel's notice and as the gap it leaves.
    ///
    /// ```
    /// use netfilter::{LogFlags, LogGroup};
    /// use netfilter_testkit::fake::FakeKernel;
    /// use netfilter_testkit::synth::LogPacketBuilder;
    ///
    /// let (kernel, transport) = FakeKernel::new()?;
    /// let mut log = LogGroup::builder(1).transport(transport).open()?;
    /// log.set_flags(LogFlags::SEQ)?;
    /// assert_eq!(kernel.log_config(1).map(|s| s.flags), Some(LogFlags::SEQ.bits()));
    /// kernel.log_packet(LogPacketBuilder::ipv4(1))?;
    /// let packet = log.recv()?;
    /// assert_eq!((packet.seq(), packet.lost_before()), (Some(0), Some(0)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Unsupported`] for [`LogFlags::CONNTRACK`] without the kernel's conntrack
    /// glue; the kernel's refusal.
    pub fn set_flags(&mut self, flags: LogFlags) -> Result<()> {
        for group in self.groups.clone() {
            self.set_group_flags(group, flags)?;
        }
        self.seqs
            .set_numbered(&self.groups, flags.contains(LogFlags::SEQ));
        Ok(())
    }

    /// The socket's descriptor, for event loops: readable when [`LogGroup::try_recv`] has
    /// something.
    ///
    /// ```
    /// use std::os::fd::AsRawFd;
    /// # use netfilter::LogGroup;
    /// # use netfilter_testkit::fake::FakeKernel;
    /// # use netfilter_testkit::synth::LogPacketBuilder;
    /// # let (kernel, transport) = FakeKernel::new()?;
    /// # let mut log = LogGroup::builder(1).transport(transport).open()?;
    /// let readable = |log: &LogGroup| {
    ///     let mut pfd = libc::pollfd { fd: log.fd().as_raw_fd(), events: libc::POLLIN, revents: 0 };
    ///     // SAFETY: one valid pollfd, no timeout.
    ///     unsafe { libc::poll(&mut pfd, 1, 0) == 1 }
    /// };
    /// assert!(!readable(&log));
    /// kernel.log_packet(LogPacketBuilder::ipv4(1))?;
    /// assert!(readable(&log));
    /// assert!(log.try_recv()?.is_some());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.conn.transport().fd()
    }

    /// The next packet already received, if any; a gap in the sequence numbers before it is
    /// first reported as [`Error::Overrun`] (when reporting is on), and the packet is the
    /// next one again.
    pub(crate) fn next_ready(&mut self) -> Result<Option<LogPacket>> {
        let Some(range) = self
            .inbox
            .next_message(wire::LogPacket::MSG_TYPE, ANSWERS)?
        else {
            return Ok(None);
        };
        let start = range.start;
        let mut packet = LogPacket::unlocated(self.inbox.datagram().slice(range));
        if let Err(gap) = packet.admit(&mut self.seqs)? {
            self.inbox.rewind(start);
            return Err(gap);
        }
        Ok(Some(packet))
    }

    /// Receives what is waiting, waiting at most `timeout` for the first datagram (forever
    /// with `None`); `Ok(false)` when none came. One receive call (`recvmmsg`), which takes
    /// the datagrams already waiting behind the first but never waits for more: with no
    /// verdicts to gather, draining the socket would only cost a failing receive.
    pub(crate) fn receive(&mut self, timeout: Option<Duration>) -> Result<bool> {
        let received = self.inbox.receive(&self.conn, timeout, false);
        self.seqs.received(received)
    }

    /// Sends one configuration request per group, each set by `set`.
    fn configure_all(&mut self, set: impl Fn(&mut LogConfig<'static>)) -> Result<()> {
        for group in self.groups.clone() {
            self.configure(group, &set)?;
        }
        Ok(())
    }

    fn set_group_flags(&mut self, group: u16, flags: LogFlags) -> Result<()> {
        match self.configure(group, |c| c.flags = Some(flags.bits())) {
            // The kernel loaded nf_conntrack_netlink for the conntrack flag: ask again.
            Err(Error::Kernel { source, .. }) if source.raw_os_error() == Some(libc::EAGAIN) => {
                self.configure(group, |c| c.flags = Some(flags.bits()))
            }
            other => other,
        }
    }

    /// Sends one configuration request for `group` and waits for the answer.
    fn configure(&mut self, group: u16, set: impl FnOnce(&mut LogConfig<'static>)) -> Result<()> {
        let seq = self.conn.next_seq();
        let mut config = LogConfig::default();
        config.header = request_header(seq, group);
        set(&mut config);
        let what = describe(&config);
        self.inbox.request(&self.conn, || what, &config, seq)
    }
}

/// A readable description of a configuration request, for errors.
fn describe(config: &LogConfig<'_>) -> String {
    let group = config.header.res_id;
    match config.cmd {
        Some(cmd) if cmd == sys::NFULNL_CFG_CMD_BIND as u8 => {
            return format!("bind log group {group}");
        }
        Some(cmd) if cmd == sys::NFULNL_CFG_CMD_UNBIND as u8 => {
            return format!("unbind log group {group}");
        }
        Some(cmd) => return format!("run command {cmd} on log group {group}"),
        None => {}
    }
    if let Some(flags) = config.flags {
        return format!(
            "set flags {:?} on log group {group}",
            LogFlags::from_bits_retain(flags)
        );
    }
    let mut parts = Vec::new();
    if let Some(mode) = config.mode {
        parts.push(format!(
            "copy mode {} range {}",
            mode.copy_mode, mode.copy_range
        ));
    }
    if let Some(q) = config.qthresh {
        parts.push(format!("qthresh {q}"));
    }
    if let Some(t) = config.timeout {
        parts.push(format!("timeout {t}/100 s"));
    }
    if let Some(n) = config.nlbufsiz {
        parts.push(format!("nlbufsiz {n}"));
    }
    format!("set {} on log group {group}", parts.join(", "))
}

impl Drop for LogGroup {
    fn drop(&mut self) {
        // Closing the socket would destroy the instances too (NETLINK_URELEASE); unbinding
        // says so explicitly, and shows over a custom transport.
        for group in std::mem::take(&mut self.groups) {
            let _ = self.configure(group, |c| c.cmd = Some(sys::NFULNL_CFG_CMD_UNBIND as u8));
        }
    }
}

impl AsFd for LogGroup {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd()
    }
}

/// The blocking iterator of [`LogGroup::incoming`]; it never ends by itself.
///
/// ```
/// use netfilter::LogGroup;
/// use netfilter_testkit::fake::FakeKernel;
/// use netfilter_testkit::synth::LogPacketBuilder;
///
/// let (kernel, transport) = FakeKernel::new()?;
/// let mut log = LogGroup::builder(1).transport(transport).open()?;
/// kernel.log_packet(LogPacketBuilder::ipv4(1).prefix("in"))?;
/// kernel.log_packet(LogPacketBuilder::ipv4(1).prefix("out"))?;
/// let mut incoming = log.incoming(); // blocks for each packet; never ends by itself
/// assert_eq!(incoming.next().transpose()?.and_then(|p| p.prefix().map(str::to_owned)), Some("in".into()));
/// assert_eq!(incoming.next().transpose()?.map(|p| p.group()), Some(1));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct LogIncoming<'a> {
    log: &'a mut LogGroup,
}

impl Iterator for LogIncoming<'_> {
    type Item = Result<LogPacket>;

    fn next(&mut self) -> Option<Result<LogPacket>> {
        Some(self.log.recv())
    }
}

/// A logged packet: every attribute the kernel sent, read in place from its message `M`.
///
/// `LogPacket` (`M` = [`Bytes`]) is owned and `Send`, as [`LogGroup::recv`] hands it out: it
/// holds its message as a slice of the received datagram (no copy is made; the datagram stays
/// allocated while a packet or a [`LogPacket::payload_bytes`] of it is alive). A
/// [`LogPacketRef`] (`M` = `&[u8]`), as [`LogGroup::recv_batch`] lends it, borrows the
/// message instead. Both keep where each attribute lies ([`wire::LogAttrs`]): each accessor
/// decodes its attribute when called.
#[derive(Clone)]
pub struct LogPacket<M = Bytes> {
    message: M,
    attrs: wire::LogAttrs,
    /// The prefix as text when it is not valid UTF-8 (lossy), made by the first
    /// [`LogPacket::prefix`] that needs it; a valid prefix is read in place.
    prefix_lossy: OnceLock<Box<str>>,
    lost_before: Option<u32>,
}

/// A logged packet lent to [`LogGroup::recv_batch`]'s callback: a view of its message in the
/// received datagram, with every accessor of [`LogPacket`]; nothing is copied, counted or
/// allocated to make it. [`LogPacketRef::to_packet`] copies it out to keep it.
pub type LogPacketRef<'a> = LogPacket<&'a [u8]>;

/// One line: group, prefix (quoted, when there is one), family, hook, the packet's protocol
/// and addresses (see [`Ip`](crate::payload::Ip)'s `Display`), the bytes copied and the mark
/// when set: `group 1 "in": IPV4 LOCAL_IN TCP 10.0.0.1:5000 -> 10.0.0.2:22, 60 bytes`.
///
/// ```
/// use netfilter::LogGroup;
/// use netfilter_testkit::fake::FakeKernel;
/// use netfilter_testkit::synth::{LogPacketBuilder, payload};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let (kernel, transport) = FakeKernel::new()?;
/// let mut log = LogGroup::builder(1).transport(transport).open()?;
/// let udp = payload::ipv4_udp([10, 0, 0, 1].into(), [10, 0, 0, 2].into(), 4000, 53, b"q")?;
/// kernel.log_packet(LogPacketBuilder::ipv4(1).prefix("dns").payload(udp))?;
/// assert_eq!(
///     log.recv()?.to_string(),
///     "group 1 \"dns\": IPV4 PRE_ROUTING UDP 10.0.0.1:4000 -> 10.0.0.2:53, 29 bytes"
/// );
/// # Ok(())
/// # }
/// ```
impl<M: AsRef<[u8]>> fmt::Display for LogPacket<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "group {}", self.group())?;
        if let Some(prefix) = self.prefix() {
            write!(f, " {prefix:?}")?;
        }
        write!(f, ": {} {} ", self.family(), self.hook())?;
        let payload = self.payload();
        crate::payload::write_summary(f, payload, self.has_payload(), payload.len())?;
        match self.mark() {
            0 => Ok(()),
            mark => write!(f, ", mark {mark:#x}"),
        }
    }
}

impl<M: AsRef<[u8]>> fmt::Debug for LogPacket<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LogPacket")
            .field("group", &self.group())
            .field("family", &self.family())
            .field("hook", &self.hook())
            .field("prefix", &self.prefix())
            .field("mark", &self.mark())
            .field("seq", &self.seq())
            .field("lost_before", &self.lost_before)
            .field("payload_len", &self.payload().len())
            .finish_non_exhaustive()
    }
}

impl<M: AsRef<[u8]>> LogPacket<M> {
    /// The packet of message `message` (framed), to [`admit`](LogPacket::admit).
    #[inline]
    fn unlocated(message: M) -> LogPacket<M> {
        LogPacket {
            message,
            attrs: wire::LogAttrs::EMPTY,
            prefix_lossy: OnceLock::new(),
            lost_before: None,
        }
    }

    /// Checks the message, locates its attributes (in place) and counts its sequence number
    /// in `seqs`. `Ok(Err(overrun))` when it reveals a gap to report first: the caller
    /// returns that error and hands the packet out next time.
    #[inline]
    fn admit(&mut self, seqs: &mut SeqTracker) -> Result<Result<()>> {
        let msg = NlMsg::new_checked(self.message.as_ref())?;
        self.attrs.relocate(&msg)?;
        match seqs.lost_before(self.group(), self.seq()) {
            Ok(lost) => {
                self.lost_before = lost;
                Ok(Ok(()))
            }
            Err(lost) => Ok(Err(Error::Overrun { lost: Some(lost) })),
        }
    }

    /// The message's bytes.
    #[inline]
    fn msg(&self) -> &[u8] {
        self.message.as_ref()
    }

    /// The log group it was logged to.
    ///
    /// ```
    /// # use netfilter::LogGroup;
    /// # use netfilter_testkit::fake::FakeKernel;
    /// # use netfilter_testkit::synth::LogPacketBuilder;
    /// # let (kernel, transport) = FakeKernel::new()?;
    /// # let mut log = LogGroup::builder(1).transport(transport).open()?;
    /// kernel.log_packet(LogPacketBuilder::ipv4(1))?;
    /// assert_eq!(log.recv()?.group(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn group(&self) -> u16 {
        self.attrs.header(self.msg()).res_id
    }

    /// The protocol family of the rule that logged it.
    ///
    /// ```
    /// use netfilter::Family;
    /// # use netfilter::LogGroup;
    /// # use netfilter_testkit::fake::FakeKernel;
    /// # use netfilter_testkit::synth::LogPacketBuilder;
    /// # let (kernel, transport) = FakeKernel::new()?;
    /// # let mut log = LogGroup::builder(1).transport(transport).open()?;
    /// kernel.log_packet(LogPacketBuilder::ipv6(1))?;
    /// assert_eq!(log.recv()?.family(), Family::Ipv6);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn family(&self) -> Family {
        Family::from(self.attrs.header(self.msg()).family)
    }

    /// The link-layer protocol (an ethertype: `0x0800` IPv4, `0x86dd` IPv6).
    ///
    /// ```
    /// # use netfilter::LogGroup;
    /// # use netfilter_testkit::fake::FakeKernel;
    /// # use netfilter_testkit::synth::LogPacketBuilder;
    /// # let (kernel, transport) = FakeKernel::new()?;
    /// # let mut log = LogGroup::builder(1).transport(transport).open()?;
    /// kernel.log_packet(LogPacketBuilder::ipv6(1))?;
    /// assert_eq!(log.recv()?.hw_protocol(), 0x86dd); // ETH_P_IPV6
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn hw_protocol(&self) -> u16 {
        self.attrs.packet_hdr(self.msg()).hw_protocol
    }

    /// The hook it was logged at.
    ///
    /// ```
    /// use netfilter::Hook;
    /// # use netfilter::LogGroup;
    /// # use netfilter_testkit::fake::FakeKernel;
    /// # use netfilter_testkit::synth::LogPacketBuilder;
    /// # let (kernel, transport) = FakeKernel::new()?;
    /// # let mut log = LogGroup::builder(1).transport(transport).open()?;
    /// kernel.log_packet(LogPacketBuilder::ipv4(1).hook(1))?; // NF_INET_LOCAL_IN
    /// assert_eq!(log.recv()?.hook(), Hook::LocalIn);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn hook(&self) -> Hook {
        Hook::from(self.attrs.packet_hdr(self.msg()).hook)
    }

    /// Its mark (`skb->mark`), 0 when unmarked.
    ///
    /// ```
    /// # use netfilter::LogGroup;
    /// # use netfilter_testkit::fake::FakeKernel;
    /// # use netfilter_testkit::synth::LogPacketBuilder;
    /// # let (kernel, transport) = FakeKernel::new()?;
    /// # let mut log = LogGroup::builder(1).transport(transport).open()?;
    /// kernel.log_packet(LogPacketBuilder::ipv4(1).mark(0x2a))?;
    /// kernel.log_packet(LogPacketBuilder::ipv4(1))?;
    /// assert_eq!(log.recv()?.mark(), 0x2a);
    /// assert_eq!(log.recv()?.mark(), 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn mark(&self) -> u32 {
        self.attrs.mark(self.msg()).unwrap_or(0)
    }

    /// When it was received; the kernel sends it for hooks up to FORWARD.
    ///
    /// ```
    /// use std::time::{Duration, UNIX_EPOCH};
    /// # use netfilter::LogGroup;
    /// # use netfilter_testkit::fake::FakeKernel;
    /// # use netfilter_testkit::synth::LogPacketBuilder;
    /// # let (kernel, transport) = FakeKernel::new()?;
    /// # let mut log = LogGroup::builder(1).transport(transport).open()?;
    /// kernel.log_packet(LogPacketBuilder::ipv4(1).timestamp(1_700_000_000, 250_000))?;
    /// let when = log.recv()?.timestamp().expect("a timestamp");
    /// assert_eq!(when, UNIX_EPOCH + Duration::new(1_700_000_000, 250_000_000));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn timestamp(&self) -> Option<SystemTime> {
        system_time(self.attrs.timestamp(self.msg())?)
    }

    /// The input interface index.
    ///
    /// ```
    /// # use netfilter::LogGroup;
    /// # use netfilter_testkit::fake::FakeKernel;
    /// # use netfilter_testkit::synth::LogPacketBuilder;
    /// # let (kernel, transport) = FakeKernel::new()?;
    /// # let mut log = LogGroup::builder(1).transport(transport).open()?;
    /// kernel.log_packet(LogPacketBuilder::ipv4(1).indev(2))?;
    /// let packet = log.recv()?;
    /// assert_eq!((packet.indev(), packet.outdev()), (Some(2), None));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn indev(&self) -> Option<u32> {
        self.attrs.indev(self.msg())
    }

    /// The output interface index.
    ///
    /// ```
    /// # use netfilter::LogGroup;
    /// # use netfilter_testkit::fake::FakeKernel;
    /// # use netfilter_testkit::synth::LogPacketBuilder;
    /// # let (kernel, transport) = FakeKernel::new()?;
    /// # let mut log = LogGroup::builder(1).transport(transport).open()?;
    /// kernel.log_packet(LogPacketBuilder::ipv4(1).outdev(3))?;
    /// let packet = log.recv()?;
    /// assert_eq!((packet.indev(), packet.outdev()), (None, Some(3)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn outdev(&self) -> Option<u32> {
        self.attrs.outdev(self.msg())
    }

    /// The physical input interface of a bridge port.
    ///
    /// ```
    /// # use netfilter::LogGroup;
    /// # use netfilter_testkit::fake::FakeKernel;
    /// # use netfilter_testkit::synth::LogPacketBuilder;
    /// # let (kernel, transport) = FakeKernel::new()?;
    /// # let mut log = LogGroup::builder(1).transport(transport).open()?;
    /// // A bridge: br0 (index 4) received it on its port eth1 (index 5).
    /// kernel.log_packet(LogPacketBuilder::ipv4(1).indev(4).physindev(5))?;
    /// let packet = log.recv()?;
    /// assert_eq!((packet.indev(), packet.physindev()), (Some(4), Some(5)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn physindev(&self) -> Option<u32> {
        self.attrs.physindev(self.msg())
    }

    /// The physical output interface of a bridge port.
    ///
    /// ```
    /// # use netfilter::LogGroup;
    /// # use netfilter_testkit::fake::FakeKernel;
    /// # use netfilter_testkit::synth::LogPacketBuilder;
    /// # let (kernel, transport) = FakeKernel::new()?;
    /// # let mut log = LogGroup::builder(1).transport(transport).open()?;
    /// kernel.log_packet(LogPacketBuilder::ipv4(1).outdev(4).physoutdev(6))?;
    /// assert_eq!(log.recv()?.physoutdev(), Some(6));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn physoutdev(&self) -> Option<u32> {
        self.attrs.physoutdev(self.msg())
    }

    /// The source hardware address, at its real length (received packets).
    ///
    /// ```
    /// # use netfilter::LogGroup;
    /// # use netfilter_testkit::fake::FakeKernel;
    /// # use netfilter_testkit::synth::LogPacketBuilder;
    /// # let (kernel, transport) = FakeKernel::new()?;
    /// # let mut log = LogGroup::builder(1).transport(transport).open()?;
    /// let mac = [0x02, 0, 0, 0, 0, 0x01];
    /// kernel.log_packet(LogPacketBuilder::ipv4(1).hw_addr(&mac))?;
    /// assert_eq!(log.recv()?.hw_addr(), Some(&mac[..]));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn hw_addr(&self) -> Option<&[u8]> {
        self.attrs.hw_addr_bytes(self.msg())
    }

    /// The input device's type (`ARPHRD_*`: 1 Ethernet, 772 loopback).
    ///
    /// ```
    /// # use netfilter::LogGroup;
    /// # use netfilter_testkit::fake::FakeKernel;
    /// # use netfilter_testkit::synth::LogPacketBuilder;
    /// # let (kernel, transport) = FakeKernel::new()?;
    /// # let mut log = LogGroup::builder(1).transport(transport).open()?;
    /// kernel.log_packet(LogPacketBuilder::ipv4(1).hw_header(1, vec![0; 14]))?; // ARPHRD_ETHER
    /// assert_eq!(log.recv()?.hw_type(), Some(1));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn hw_type(&self) -> Option<u16> {
        self.attrs.hw_type(self.msg())
    }

    /// The link-layer header as received (`NFULA_HWHEADER`).
    ///
    /// ```
    /// # use netfilter::LogGroup;
    /// # use netfilter_testkit::fake::FakeKernel;
    /// # use netfilter_testkit::synth::LogPacketBuilder;
    /// # let (kernel, transport) = FakeKernel::new()?;
    /// # let mut log = LogGroup::builder(1).transport(transport).open()?;
    /// let mut ethernet = vec![0xff; 6]; // destination
    /// ethernet.extend([0x02, 0, 0, 0, 0, 0x01]); // source
    /// ethernet.extend(0x0800u16.to_be_bytes()); // IPv4
    /// kernel.log_packet(LogPacketBuilder::ipv4(1).hw_header(1, ethernet.clone()))?;
    /// let packet = log.recv()?;
    /// assert_eq!(packet.hw_header(), Some(&ethernet[..]));
    /// assert_eq!(packet.hw_len(), Some(14));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn hw_header(&self) -> Option<&[u8]> {
        self.attrs.hw_header(self.msg())
    }

    /// The input device's link-layer header length (`NFULA_HWLEN`).
    ///
    /// ```
    /// # use netfilter::LogGroup;
    /// # use netfilter_testkit::fake::FakeKernel;
    /// # use netfilter_testkit::synth::LogPacketBuilder;
    /// # let (kernel, transport) = FakeKernel::new()?;
    /// # let mut log = LogGroup::builder(1).transport(transport).open()?;
    /// kernel.log_packet(LogPacketBuilder::ipv4(1).hw_header(1, vec![0; 14]))?;
    /// kernel.log_packet(LogPacketBuilder::ipv4(1))?; // locally generated: no input device
    /// assert_eq!(log.recv()?.hw_len(), Some(14));
    /// assert_eq!(log.recv()?.hw_len(), None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn hw_len(&self) -> Option<u16> {
        self.attrs.hw_len(self.msg())
    }

    /// The packet from its network header on, up to the copy range; empty in metadata-only
    /// mode. It lies in the received datagram: no copy was made.
    ///
    /// ```
    /// # use netfilter::LogGroup;
    /// # use netfilter_testkit::fake::FakeKernel;
    /// # use netfilter_testkit::synth::LogPacketBuilder;
    /// # let (kernel, transport) = FakeKernel::new()?;
    /// # let mut log = LogGroup::builder(1).transport(transport).open()?;
    /// let ip = netfilter_testkit::synth::payload::ipv4_udp(
    ///     [10, 0, 0, 1].into(), [10, 0, 0, 2].into(), 4000, 53, b"query")?;
    /// kernel.log_packet(LogPacketBuilder::ipv4(1).payload(ip.clone()))?;
    /// let packet = log.recv()?;
    /// assert_eq!(packet.payload(), &ip[..]);
    /// let parsed = netfilter::payload::Ip::parse(packet.payload())?;
    /// assert_eq!(parsed.ports(), Some((4000, 53)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn payload(&self) -> &[u8] {
        self.attrs.payload(self.msg()).unwrap_or_default()
    }

    /// Whether the kernel sent a payload at all (not in metadata-only mode).
    ///
    /// ```
    /// # use netfilter::LogGroup;
    /// # use netfilter_testkit::fake::FakeKernel;
    /// # use netfilter_testkit::synth::LogPacketBuilder;
    /// # let (kernel, transport) = FakeKernel::new()?;
    /// # let mut log = LogGroup::builder(1).transport(transport).open()?;
    /// kernel.log_packet(LogPacketBuilder::ipv4(1).payload(Vec::new()))?; // an empty payload
    /// kernel.log_packet(LogPacketBuilder::ipv4(1))?; // none at all
    /// let (empty, none) = (log.recv()?, log.recv()?);
    /// assert!(empty.has_payload() && empty.payload().is_empty());
    /// assert!(!none.has_payload() && none.payload().is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn has_payload(&self) -> bool {
        self.attrs.payload(self.msg()).is_some()
    }

    /// The rule's prefix (`--nflog-prefix`, nft `log prefix`) as text. Lossy: a prefix
    /// that is not valid UTF-8 has its invalid sequences replaced by U+FFFD; see
    /// [`LogPacket::prefix_bytes`] for the exact bytes.
    ///
    /// ```
    /// # use netfilter::LogGroup;
    /// # use netfilter_testkit::fake::FakeKernel;
    /// # use netfilter_testkit::synth::LogPacketBuilder;
    /// # let (kernel, transport) = FakeKernel::new()?;
    /// # let mut log = LogGroup::builder(1).transport(transport).open()?;
    /// kernel.log_packet(LogPacketBuilder::ipv4(1).prefix("ssh "))?;
    /// kernel.log_packet(LogPacketBuilder::ipv4(1))?;
    /// assert_eq!(log.recv()?.prefix(), Some("ssh "));
    /// assert_eq!(log.recv()?.prefix(), None); // the rule set none
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn prefix(&self) -> Option<&str> {
        let bytes = self.prefix_bytes()?;
        match std::str::from_utf8(bytes) {
            Ok(text) => Some(text),
            Err(_) => Some(
                self.prefix_lossy
                    .get_or_init(|| String::from_utf8_lossy(bytes).into()),
            ),
        }
    }

    /// The prefix's exact bytes, without the terminating NUL.
    ///
    /// ```
    /// # use netfilter::LogGroup;
    /// # use netfilter_testkit::fake::FakeKernel;
    /// # use netfilter_testkit::synth::LogPacketBuilder;
    /// # let (kernel, transport) = FakeKernel::new()?;
    /// # let mut log = LogGroup::builder(1).transport(transport).open()?;
    /// // A prefix that is not UTF-8 (rules may set any bytes).
    /// let odd = LogPacketBuilder::ipv4(1).with(|m| m.prefix = Some(b"caf\xe9"[..].into()));
    /// kernel.log_packet(odd)?;
    /// let packet = log.recv()?;
    /// assert_eq!(packet.prefix_bytes(), Some(&b"caf\xe9"[..]));
    /// assert_eq!(packet.prefix(), Some("caf\u{fffd}"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn prefix_bytes(&self) -> Option<&[u8]> {
        self.attrs.prefix(self.msg())
    }

    /// The uid owning the sending socket (local traffic).
    ///
    /// ```
    /// # use netfilter::LogGroup;
    /// # use netfilter_testkit::fake::FakeKernel;
    /// # use netfilter_testkit::synth::LogPacketBuilder;
    /// # let (kernel, transport) = FakeKernel::new()?;
    /// # let mut log = LogGroup::builder(1).transport(transport).open()?;
    /// kernel.log_packet(LogPacketBuilder::ipv4(1).uid_gid(1000, 100))?;
    /// let packet = log.recv()?;
    /// assert_eq!((packet.uid(), packet.gid()), (Some(1000), Some(100)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn uid(&self) -> Option<u32> {
        self.attrs.uid(self.msg())
    }

    /// The gid owning the sending socket (local traffic).
    ///
    /// ```
    /// # use netfilter::LogGroup;
    /// # use netfilter_testkit::fake::FakeKernel;
    /// # use netfilter_testkit::synth::LogPacketBuilder;
    /// # let (kernel, transport) = FakeKernel::new()?;
    /// # let mut log = LogGroup::builder(1).transport(transport).open()?;
    /// kernel.log_packet(LogPacketBuilder::ipv4(1))?; // forwarded traffic: no local socket
    /// let packet = log.recv()?;
    /// assert_eq!((packet.uid(), packet.gid()), (None, None));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn gid(&self) -> Option<u32> {
        self.attrs.gid(self.msg())
    }

    /// The group's sequence number, from 0 (with [`LogFlags::SEQ`]).
    ///
    /// ```
    /// use netfilter::{LogFlags, LogGroup};
    /// use netfilter_testkit::fake::FakeKernel;
    /// use netfilter_testkit::synth::LogPacketBuilder;
    ///
    /// let (kernel, transport) = FakeKernel::new()?;
    /// let mut log = LogGroup::builder(1).flags(LogFlags::SEQ).transport(transport).open()?;
    /// kernel.log_batch((0..3).map(|_| LogPacketBuilder::ipv4(1)))?;
    /// let seqs: Vec<_> = (0..3).map(|_| log.recv().map(|p| p.seq())).collect::<Result<_, _>>()?;
    /// assert_eq!(seqs, [Some(0), Some(1), Some(2)]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn seq(&self) -> Option<u32> {
        self.attrs.seq(self.msg())
    }

    /// The namespace-wide sequence number, from 1 (with [`LogFlags::SEQ_GLOBAL`]).
    ///
    /// ```
    /// use netfilter::{LogFlags, LogGroup};
    /// use netfilter_testkit::fake::FakeKernel;
    /// use netfilter_testkit::synth::LogPacketBuilder;
    ///
    /// let (kernel, transport) = FakeKernel::new()?;
    /// let mut log = LogGroup::builder(1).flags(LogFlags::SEQ_GLOBAL).transport(transport).open()?;
    /// kernel.log_packet(LogPacketBuilder::ipv4(1))?;
    /// assert_eq!(log.recv()?.seq_global(), Some(1)); // from 1
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn seq_global(&self) -> Option<u32> {
        self.attrs.seq_global(self.msg())
    }

    /// With [`LogFlags::SEQ`], how many messages of this group were lost between the
    /// previous one this socket received and this one (`Some(0)`: none); `None` without
    /// the flag. Counts losses also when overruns are not reported.
    ///
    /// ```
    /// use netfilter::{Error, LogGroup};
    /// use netfilter_testkit::fake::FakeKernel;
    /// use netfilter_testkit::synth::LogPacketBuilder;
    ///
    /// let (kernel, transport) = FakeKernel::new()?;
    /// let mut log = LogGroup::builder(1).seq(true).transport(transport).open()?;
    /// kernel.log_packet(LogPacketBuilder::ipv4(1))?; // seq 0
    /// kernel.log_packet(LogPacketBuilder::ipv4(1).seq(3))?; // 1 and 2 lost
    /// assert_eq!(log.recv()?.lost_before(), Some(0));
    /// assert!(matches!(log.recv(), Err(Error::Overrun { lost: Some(2) })));
    /// assert_eq!(log.recv()?.lost_before(), Some(2));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn lost_before(&self) -> Option<u32> {
        self.lost_before
    }

    /// The conntrack entry, raw `CTA_*` attributes (with [`LogFlags::CONNTRACK`]);
    /// [`LogPacket::conntrack`] decodes them.
    ///
    /// ```
    /// # use netfilter::LogGroup;
    /// # use netfilter_testkit::fake::FakeKernel;
    /// # use netfilter_testkit::synth::LogPacketBuilder;
    /// # let (kernel, transport) = FakeKernel::new()?;
    /// # let mut log = LogGroup::builder(1).transport(transport).open()?;
    /// // Without the conntrack flag the kernel sends no entry.
    /// kernel.log_packet(LogPacketBuilder::ipv4(1).ct(vec![8, 0, 8, 0, 0, 0, 0, 1], 2u32))?;
    /// let packet = log.recv()?;
    /// assert_eq!((packet.ct(), packet.ct_info()), (None, None));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn ct(&self) -> Option<&[u8]> {
        self.attrs.ct(self.msg())
    }

    /// The packet's connection (with [`LogFlags::CONNTRACK`], for a packet conntrack
    /// tracks), read from the message when asked for (no copy); `None` without a conntrack
    /// entry. As [`Packet::conntrack`](crate::Packet::conntrack).
    ///
    /// ```
    /// use std::net::{Ipv6Addr, SocketAddr};
    /// use netfilter::LogGroup;
    /// use netfilter::conntrack::{Counters, CtState};
    /// use netfilter_testkit::fake::FakeKernel;
    /// use netfilter_testkit::synth::{CtBuilder, LogPacketBuilder};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let (kernel, transport) = FakeKernel::new()?;
    /// let mut log = LogGroup::builder(4).conntrack(true).transport(transport).open()?;
    /// let from: SocketAddr = (Ipv6Addr::LOCALHOST, 5000).into();
    /// let to: SocketAddr = (Ipv6Addr::LOCALHOST, 443).into();
    /// let counts = Counters { packets: 3, bytes: 180 };
    /// let nest = CtBuilder::tcp(from, to).id(99).counters(counts, Counters::default()).to_bytes()?;
    /// kernel.log_packet(LogPacketBuilder::ipv6(4).ct(nest, CtState::EstablishedReply))?;
    ///
    /// let packet = log.recv()?;
    /// let ct = packet.conntrack().expect("tracked")?;
    /// assert_eq!((ct.id(), ct.counters_orig()), (Some(99), Some(counts)));
    /// assert_eq!(packet.ct_info().map(|s| s.to_string()).as_deref(), Some("ESTABLISHED_REPLY"));
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// `Some(Err(`[`Error::Malformed`]`))` for a nest that does not follow the `CTA_*`
    /// layout.
    pub fn conntrack(&self) -> Option<Result<Conntrack<'_>>> {
        self.attrs
            .conntrack(self.msg())
            .map(|ct| ct.map_err(Error::from))
    }

    /// The state of the packet's connection (`NFULA_CT_INFO`, `enum ip_conntrack_info`, with
    /// [`LogFlags::CONNTRACK`]); unknown values are kept ([`CtState::Other`]).
    pub fn ct_info(&self) -> Option<CtState> {
        self.attrs.ct_state(self.msg())
    }

    /// The VLAN tag (bridge and netdev families).
    ///
    /// ```
    /// use netfilter_testkit::synth::NFPROTO_BRIDGE;
    /// # use netfilter::LogGroup;
    /// # use netfilter_testkit::fake::FakeKernel;
    /// # use netfilter_testkit::synth::LogPacketBuilder;
    /// # let (kernel, transport) = FakeKernel::new()?;
    /// # let mut log = LogGroup::builder(1).transport(transport).open()?;
    /// kernel.log_packet(LogPacketBuilder::new(NFPROTO_BRIDGE, 1).vlan(0x8100, 42))?;
    /// let vlan = log.recv()?.vlan().expect("a VLAN tag");
    /// assert_eq!((vlan.proto, vlan.tci), (0x8100, 42));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn vlan(&self) -> Option<Vlan> {
        self.attrs.vlan(self.msg())
    }

    /// The link-layer header (bridge and netdev families).
    ///
    /// ```
    /// use netfilter_testkit::synth::NFPROTO_BRIDGE;
    /// # use netfilter::LogGroup;
    /// # use netfilter_testkit::fake::FakeKernel;
    /// # use netfilter_testkit::synth::LogPacketBuilder;
    /// # let (kernel, transport) = FakeKernel::new()?;
    /// # let mut log = LogGroup::builder(1).transport(transport).open()?;
    /// let ethernet = [0xffu8; 14];
    /// kernel.log_packet(LogPacketBuilder::new(NFPROTO_BRIDGE, 1).l2hdr(ethernet.to_vec()))?;
    /// assert_eq!(log.recv()?.l2hdr(), Some(&ethernet[..]));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn l2hdr(&self) -> Option<&[u8]> {
        self.attrs.l2hdr(self.msg())
    }

    /// Attributes this crate does not know (a newer kernel's): type (flag bits masked off)
    /// and value, in the order they came.
    ///
    /// ```
    /// # use netfilter::LogGroup;
    /// # use netfilter_testkit::fake::FakeKernel;
    /// # use netfilter_testkit::synth::LogPacketBuilder;
    /// # let (kernel, transport) = FakeKernel::new()?;
    /// # let mut log = LogGroup::builder(1).transport(transport).open()?;
    /// // An attribute type a newer kernel might send.
    /// kernel.log_packet(LogPacketBuilder::ipv4(1).unknown(200, vec![1, 2, 3, 4]))?;
    /// let packet = log.recv()?;
    /// let unknown: Vec<_> = packet.unknown_attributes().collect();
    /// assert_eq!(unknown, [(200, &[1, 2, 3, 4][..])]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn unknown_attributes(&self) -> impl Iterator<Item = (u16, &[u8])> {
        self.attrs
            .unknown(self.msg())
            .map(|a| (a.kind(), a.value()))
    }
}

impl LogPacket {
    /// The payload as [`Bytes`] that share the received datagram (no copy), to keep or pass
    /// on after the packet is gone.
    ///
    /// ```
    /// # use netfilter::LogGroup;
    /// # use netfilter_testkit::fake::FakeKernel;
    /// # use netfilter_testkit::synth::LogPacketBuilder;
    /// # let (kernel, transport) = FakeKernel::new()?;
    /// # let mut log = LogGroup::builder(1).transport(transport).open()?;
    /// kernel.log_packet(LogPacketBuilder::ipv4(1).payload(b"abcdef".to_vec()))?;
    /// let packet = log.recv()?;
    /// let kept = packet.payload_bytes(); // shares the datagram: no copy
    /// drop(packet);
    /// assert_eq!(&kept[..], b"abcdef");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn payload_bytes(&self) -> Bytes {
        self.message.slice_ref(self.payload())
    }
}

impl LogPacketRef<'_> {
    /// An owned [`LogPacket`] of this view, to keep after the callback: its message is
    /// copied (one allocation).
    ///
    /// ```
    /// use std::time::Duration;
    /// # use netfilter::LogGroup;
    /// # use netfilter_testkit::fake::FakeKernel;
    /// # use netfilter_testkit::synth::LogPacketBuilder;
    /// # let (kernel, transport) = FakeKernel::new()?;
    /// # let mut log = LogGroup::builder(1).transport(transport).open()?;
    /// kernel.log_batch((1..=2u32).map(|m| LogPacketBuilder::ipv4(1).mark(m)))?;
    /// let mut kept = Vec::new();
    /// log.recv_batch(Some(Duration::from_secs(1)), |packet| {
    ///     if packet.mark() == 2 {
    ///         kept.push(packet.to_packet()); // a copy that outlives the callback
    ///     }
    /// })?;
    /// assert_eq!(kept.len(), 1);
    /// assert_eq!(kept[0].mark(), 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn to_packet(&self) -> LogPacket {
        LogPacket {
            message: Bytes::copy_from_slice(self.message),
            attrs: self.attrs,
            prefix_lossy: self.prefix_lossy.clone(),
            lost_before: self.lost_before,
        }
    }
}
