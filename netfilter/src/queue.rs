//! [`Queue`]: one socket serving one or more NFQUEUE queues, and its [`QueueBuilder`].

use std::ops::RangeInclusive;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use netfilter_safe::CopyMode;
use netfilter_safe::QueueFlags;
use netfilter_safe::procfs::{self, QueueRow};
use netfilter_safe::transport::Transport;
use netfilter_safe::wire::uapi as sys;
use netfilter_safe::wire::{self, NlMsg, QueueCmd, QueueConfig, QueueParams};

use crate::conn::{self, Conn, Inbox, Namespace, Netns, Source, in_namespace, request_header};
use crate::error::{Error, Result};
use crate::packet::{Packet, VerdictKind};
use crate::stop::StopHandle;
use crate::verdicts::{Decision, Verdicts};

/// The largest copy range the kernel honours (`NFQNL_MAX_COPY_RANGE`, `NFULNL_COPY_RANGE_MAX`:
/// 0xffff minus the attribute header). Ranges up to 0xffff are accepted and clamped to it, as
/// the kernel clamps them.
pub const MAX_COPY_RANGE: u32 = 0xffff - 4;

/// The copy range a builder keeps for `range`: 0 (the kernel's "everything" with
/// [`CopyMode::Packet`]) and 65532 to 0xffff become [`MAX_COPY_RANGE`], as the kernel makes
/// them; a larger value stays, to be refused when the builder opens.
pub(crate) fn clamp_copy_range(range: u32) -> u32 {
    match range {
        0 => MAX_COPY_RANGE,
        r if r <= 0xffff => r.min(MAX_COPY_RANGE),
        r => r,
    }
}

/// [`Error::OutOfRange`] for a copy range over 0xffff (a kept one, see [`clamp_copy_range`]).
pub(crate) fn check_copy_range(range: u32) -> Result<()> {
    if range > MAX_COPY_RANGE {
        return Err(Error::OutOfRange {
            what: "copy range",
            value: range.into(),
            min: 0,
            max: 0xffff,
        });
    }
    Ok(())
}

/// Room for the headers and attributes around a copied payload in one message.
const MESSAGE_OVERHEAD: usize = 4096;

/// How a [`Queue`] is set up; made by [`Queue::builder`] or [`Queue::builder_range`].
///
/// Defaults: the whole packet is copied ([`CopyMode::Packet`], [`MAX_COPY_RANGE`]) — never
/// the kernel's deliver-nothing `COPY_NONE`; the GSO flag is on (large packets arrive whole);
/// verdicts are batched; a packet dropped without a verdict is **dropped** (fail closed, as
/// the kernel does with the packets of a program that goes away); overruns are reported.
///
/// ```
/// use netfilter::{CopyMode, Error, Queue, QueueFlags};
/// use netfilter_testkit::fake::FakeKernel;
///
/// let (kernel, transport) = FakeKernel::new()?;
/// let queue = Queue::builder(3)
///     .copy(CopyMode::Packet, 256)
///     .max_len(4096)
///     .fail_open(true)
///     .transport(transport)
///     .open()?;
/// assert_eq!(queue.numbers(), &[3]);
/// let settings = kernel.config(3).expect("queue 3 is bound");
/// assert_eq!((settings.copy_range, settings.maxlen), (256, 4096));
/// let flags = QueueFlags::from_bits_retain(settings.flags);
/// assert!(flags.contains(QueueFlags::FAIL_OPEN | QueueFlags::GSO)); // GSO is on by default
///
/// // A copy range over 0xffff is refused before anything is sent.
/// let err = Queue::builder(3).copy(CopyMode::Packet, 70_000).open().unwrap_err();
/// assert!(matches!(err, Error::OutOfRange { what: "copy range", .. }));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
#[must_use = "a builder does nothing until opened"]
pub struct QueueBuilder {
    queues: RangeInclusive<u16>,
    copy_mode: CopyMode,
    copy_range: u32,
    maxlen: Option<u32>,
    flags: QueueFlags,
    recv_buffer: Option<u32>,
    report_overruns: bool,
    batching: bool,
    default_verdict: VerdictKind,
    source: Source,
}

impl QueueBuilder {
    fn new(queues: RangeInclusive<u16>) -> QueueBuilder {
        QueueBuilder {
            queues,
            copy_mode: CopyMode::Packet,
            copy_range: MAX_COPY_RANGE,
            maxlen: None,
            flags: QueueFlags::GSO,
            recv_buffer: None,
            report_overruns: true,
            batching: true,
            default_verdict: VerdictKind::Drop,
            source: Source::default(),
        }
    }

    /// What is copied of each packet, and at most how many bytes: up to 0xffff, where 0 and
    /// everything over [`MAX_COPY_RANGE`] mean [`MAX_COPY_RANGE`] (the whole packet), as the
    /// kernel takes them; python-netfilterqueue's default `range=65535` works as is. A range
    /// smaller than a packet cuts its payload; the packet then tells its real length
    /// ([`Packet::cap_len`]). The range matters only with [`CopyMode::Packet`].
    ///
    /// ```
    /// use netfilter::CopyMode;
    /// # use netfilter::Queue;
    /// # use netfilter_testkit::fake::FakeKernel;
    /// # use netfilter_testkit::synth::QueuePacketBuilder;
    /// # let (kernel, transport) = FakeKernel::new()?;
    /// let mut queue = Queue::builder(0).copy(CopyMode::Packet, 20).transport(transport).open()?;
    /// kernel.queue_packet(QueuePacketBuilder::ipv4(0).payload(vec![0x45; 100]))?;
    /// let packet = queue.recv()?;
    /// assert_eq!(packet.payload().len(), 20);
    /// assert!(packet.is_truncated());
    /// assert_eq!(packet.cap_len(), Some(100)); // the real length
    /// packet.accept()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn copy(mut self, mode: CopyMode, range: u32) -> QueueBuilder {
        self.copy_mode = mode;
        self.copy_range = clamp_copy_range(range);
        self
    }

    /// How many packets may wait for a verdict in the kernel (the kernel's default: 1024).
    ///
    /// ```
    /// # use netfilter::Queue;
    /// # use netfilter_testkit::fake::FakeKernel;
    /// # use netfilter_testkit::synth::QueuePacketBuilder;
    /// # let (kernel, transport) = FakeKernel::new()?;
    /// let _queue = Queue::builder(0).max_len(10_000).transport(transport).open()?;
    /// assert_eq!(kernel.config(0).map(|s| s.maxlen), Some(10_000));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn max_len(mut self, packets: u32) -> QueueBuilder {
        self.maxlen = Some(packets);
        self
    }

    /// Accept packets instead of dropping them when the queue is full.
    ///
    /// ```
    /// use netfilter::QueueFlags;
    /// # use netfilter::Queue;
    /// # use netfilter_testkit::fake::FakeKernel;
    /// # use netfilter_testkit::synth::QueuePacketBuilder;
    /// # let (kernel, transport) = FakeKernel::new()?;
    /// let _queue = Queue::builder(0).fail_open(true).transport(transport).open()?;
    /// let flags = kernel.config(0).map(|s| QueueFlags::from_bits_retain(s.flags)).unwrap();
    /// assert!(flags.contains(QueueFlags::FAIL_OPEN));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn fail_open(self, on: bool) -> QueueBuilder {
        self.flag(QueueFlags::FAIL_OPEN, on)
    }

    /// Deliver GSO packets whole (on by default): payloads may exceed the MTU, and no time is
    /// spent segmenting in the kernel.
    ///
    /// ```
    /// use netfilter::QueueFlags;
    /// # use netfilter::Queue;
    /// # use netfilter_testkit::fake::FakeKernel;
    /// # use netfilter_testkit::synth::QueuePacketBuilder;
    /// # let (kernel, transport) = FakeKernel::new()?;
    /// let _queue = Queue::builder(0).gso(false).transport(transport).open()?;
    /// let flags = kernel.config(0).map(|s| QueueFlags::from_bits_retain(s.flags)).unwrap();
    /// assert!(!flags.contains(QueueFlags::GSO));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn gso(self, on: bool) -> QueueBuilder {
        self.flag(QueueFlags::GSO, on)
    }

    /// Attach the sending socket's uid and gid to local packets.
    ///
    /// ```
    /// # use netfilter::Queue;
    /// # use netfilter_testkit::fake::FakeKernel;
    /// # use netfilter_testkit::synth::QueuePacketBuilder;
    /// # let (kernel, transport) = FakeKernel::new()?;
    /// let mut queue = Queue::builder(0).uid_gid(true).transport(transport).open()?;
    /// kernel.queue_packet(QueuePacketBuilder::ipv4(0).uid_gid(1000, 100))?;
    /// let packet = queue.recv()?;
    /// assert_eq!((packet.uid(), packet.gid()), (Some(1000), Some(100)));
    /// packet.accept()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn uid_gid(self, on: bool) -> QueueBuilder {
        self.flag(QueueFlags::UID_GID, on)
    }

    /// Attach the packet's security context.
    pub fn secctx(self, on: bool) -> QueueBuilder {
        self.flag(QueueFlags::SECCTX, on)
    }

    /// Attach the packet's conntrack entry (needs the kernel's conntrack glue for queues).
    ///
    /// ```
    /// use netfilter::{Error, QueueFlags};
    /// # use netfilter::Queue;
    /// # use netfilter_testkit::fake::FakeKernel;
    /// # use netfilter_testkit::synth::QueuePacketBuilder;
    /// # let (kernel, transport) = FakeKernel::new()?;
    /// // A kernel without the conntrack glue for queues refuses the flag.
    /// kernel.unsupported_queue_flags(QueueFlags::CONNTRACK.bits());
    /// let err = Queue::builder(0).conntrack(true).transport(transport).open().unwrap_err();
    /// assert!(matches!(err, Error::Unsupported { .. }));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn conntrack(self, on: bool) -> QueueBuilder {
        self.flag(QueueFlags::CONNTRACK, on)
    }

    fn flag(mut self, flag: QueueFlags, on: bool) -> QueueBuilder {
        self.flags.set(flag, on);
        self
    }

    /// The socket's receive buffer in bytes: forced past `net.core.rmem_max` when the process
    /// has `CAP_NET_ADMIN`, else capped by it.
    pub fn recv_buffer(mut self, bytes: u32) -> QueueBuilder {
        self.recv_buffer = Some(bytes);
        self
    }

    /// Whether a receive-buffer overrun (`ENOBUFS`) is returned as
    /// [`Error::Overrun`] (the default) or suppressed (`NETLINK_NO_ENOBUFS`).
    pub fn report_overruns(mut self, report: bool) -> QueueBuilder {
        self.report_overruns = report;
        self
    }

    /// Whether verdicts are coalesced (the default): consecutive equal verdicts become one
    /// batch verdict and several verdicts travel in one send. Off, each verdict is sent on
    /// its own at once.
    ///
    /// ```
    /// # use netfilter::Queue;
    /// # use netfilter_testkit::fake::FakeKernel;
    /// # use netfilter_testkit::synth::QueuePacketBuilder;
    /// # let (kernel, transport) = FakeKernel::new()?;
    /// let mut queue = Queue::builder(0).batching(false).transport(transport).open()?;
    /// let id = kernel.queue_packet(QueuePacketBuilder::ipv4(0))?;
    /// queue.recv()?.accept()?;
    /// // Sent at once, without a flush, as a single verdict.
    /// let settled = kernel.verdict(0, id).expect("settled");
    /// assert!(!settled.is_batch());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn batching(mut self, on: bool) -> QueueBuilder {
        self.batching = on;
        self
    }

    /// The verdict a packet gets when it goes out of scope without one (default:
    /// [`VerdictKind::Drop`], fail closed). The default verdict is plain: a mark, priority or
    /// payload set on the packet does not ride along. [`QueueStats::default_verdicts`]
    /// counts the packets that got it.
    ///
    /// A firewall that must fail open instead (a monitor that should never cost traffic):
    ///
    /// ```
    /// use netfilter::{Queue, VerdictKind};
    /// use netfilter_testkit::fake::FakeKernel;
    /// use netfilter_testkit::synth::QueuePacketBuilder;
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let (kernel, transport) = FakeKernel::new()?;
    /// let mut queue = Queue::builder(0)
    ///     .default_verdict(VerdictKind::Accept)
    ///     .transport(transport)
    ///     .open()?;
    /// let id = kernel.queue_packet(QueuePacketBuilder::ipv4(0).payload(vec![0x45; 20]))?;
    /// let packet = queue.recv()?;
    /// drop(packet); // no verdict given
    /// let settled = kernel.wait_verdict(0, id, std::time::Duration::from_secs(5))?;
    /// assert_eq!(settled.verdict, 1); // NF_ACCEPT
    /// assert_eq!(queue.stats()?.default_verdicts, 1);
    /// # Ok(())
    /// # }
    /// ```
    pub fn default_verdict(mut self, kind: VerdictKind) -> QueueBuilder {
        self.default_verdict = kind;
        self
    }

    /// Open the socket in another network namespace.
    pub fn namespace(mut self, namespace: Namespace) -> QueueBuilder {
        self.source = Source::Namespace(namespace);
        self
    }

    /// Use this open `NETLINK_NETFILTER` socket instead of opening one
    /// (python-netfilterqueue's `NetfilterQueue(sockfd=…)`): typically made in another
    /// network namespace, by a helper that entered it or passed it over a Unix socket, so that
    /// this process serves that namespace without entering it. Replaces
    /// [`QueueBuilder::namespace`] and [`QueueBuilder::transport`]; the socket options
    /// ([`recv_buffer`](QueueBuilder::recv_buffer), overrun reporting) are applied to it. The
    /// socket's namespace, for the procfs rows and interface names, is asked of the kernel
    /// (`SIOCGSKNS`, which needs `CAP_NET_ADMIN` over it); when it does not tell, rows are
    /// empty and interface names `None`.
    ///
    /// ```no_run
    /// use std::os::fd::OwnedFd;
    /// use netfilter::{Queue, safe::transport::NetlinkSocket};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// // A socket opened in another namespace (here by this process, for the example).
    /// let ns = std::fs::File::open("/run/netns/blue")?;
    /// let socket: OwnedFd = NetlinkSocket::open_in_netns(std::os::fd::AsFd::as_fd(&ns))?.into();
    /// let group = Queue::builder(1).socket(socket).open()?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn socket(mut self, socket: OwnedFd) -> QueueBuilder {
        self.source = Source::Socket(socket);
        self
    }

    /// Use `transport` instead of a netlink socket: the testkit's fake kernel, for tests
    /// without privileges. Replaces [`QueueBuilder::namespace`] and [`QueueBuilder::socket`]; the socket
    /// options do not apply.
    pub fn transport(mut self, transport: impl Transport + 'static) -> QueueBuilder {
        self.source = Source::Transport(Box::new(transport));
        self
    }

    /// Opens the socket, binds every queue and configures it.
    ///
    /// # Errors
    /// [`Error::OutOfRange`] for a copy range over 0xffff or an empty queue range (nothing is
    /// sent); [`Error::NotPermitted`] when another socket owns a queue or the
    /// process lacks `CAP_NET_ADMIN`; [`Error::Unsupported`] for a flag the kernel lacks.
    ///
    /// ```
    /// use netfilter::{Error, Queue};
    /// use netfilter_testkit::fake::FakeKernel;
    ///
    /// let (kernel, transport) = FakeKernel::new()?;
    /// kernel.bind_elsewhere(0); // another program serves queue 0
    /// let err = Queue::builder(0).transport(transport).open().unwrap_err();
    /// assert!(matches!(err, Error::NotPermitted { .. }));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn open(self) -> Result<Queue> {
        check_copy_range(self.copy_range)?;
        if self.queues.is_empty() {
            return Err(Error::OutOfRange {
                what: "queue range end",
                value: (*self.queues.end()).into(),
                min: (*self.queues.start()).into(),
                max: u16::MAX.into(),
            });
        }
        let (transport, netns) = self.source.open(self.recv_buffer, self.report_overruns)?;
        let numbers: Vec<u16> = self.queues.clone().collect();
        let mut queue = Queue {
            shared: Arc::new(Shared {
                conn: Conn::new(transport),
                verdicts: Mutex::new(Verdicts::new(&numbers, self.batching)),
                default_verdict: self.default_verdict,
                default_verdicts: AtomicU64::new(0),
                closed: AtomicBool::new(false),
            }),
            numbers,
            inbox: Inbox::new(MESSAGE_OVERHEAD, self.report_overruns),
            batching: self.batching,
            netns,
        };
        for num in self.queues {
            queue.bind(num)?;
        }
        queue.set_copy(self.copy_mode, self.copy_range)?;
        if let Some(maxlen) = self.maxlen {
            queue.set_max_len(maxlen)?;
        }
        queue.set_flags(self.flags)?;
        Ok(queue)
    }
}

/// What a queue shares with its packets: the connection and the verdicts on their way.
#[derive(Debug)]
pub(crate) struct Shared {
    conn: Conn,
    verdicts: Mutex<Verdicts>,
    default_verdict: VerdictKind,
    /// Packets that got the default verdict.
    default_verdicts: AtomicU64,
    /// Set, under the verdicts lock, when the [`Queue`] starts to drop: from then on the
    /// kernel drops the packets it held, and no verdict is sent.
    closed: AtomicBool,
}

impl Shared {
    /// Gives packet `id` of `queue`, dropped without a verdict, the default one.
    pub(crate) fn decide_default(&self, queue: u16, id: u32) -> Result<()> {
        self.decide(queue, id, Decision::plain(self.default_verdict))?;
        self.default_verdicts.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    fn verdicts(&self) -> MutexGuard<'_, Verdicts> {
        self.verdicts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Records a verdict and sends it now unless the receive loop will.
    ///
    /// # Errors
    /// [`Error::QueueClosed`] once the queue has started to close: checked under the lock
    /// [`Shared::close`] takes, so a verdict is either flushed before the unbind or refused.
    pub(crate) fn decide(&self, queue: u16, id: u32, decision: Decision) -> Result<()> {
        let mut verdicts = self.verdicts();
        if self.closed.load(Ordering::SeqCst) {
            return Err(Error::QueueClosed { queue, id });
        }
        if verdicts.decide(queue, id, decision)? {
            self.flush_locked(&mut verdicts)?;
        }
        Ok(())
    }

    fn flush(&self) -> Result<()> {
        let mut verdicts = self.verdicts();
        self.flush_locked(&mut verdicts)
    }

    /// Sends the verdicts given so far and refuses every later one, in one step.
    fn close(&self) -> Result<()> {
        let mut verdicts = self.verdicts();
        self.closed.store(true, Ordering::SeqCst);
        self.flush_locked(&mut verdicts)
    }

    fn flush_locked(&self, verdicts: &mut Verdicts) -> Result<()> {
        let datagram = verdicts.take_datagram()?;
        if datagram.is_empty() {
            return Ok(());
        }
        let result = self.conn.send(datagram);
        verdicts.sent();
        result
    }
}

/// One netlink socket serving one or more queues. Packets come out owned ([`Packet`]) and take
/// their verdict when and where the program likes.
///
/// ```no_run
/// use netfilter::Queue;
///
/// # fn main() -> Result<(), netfilter::Error> {
/// // iptables -I INPUT -p udp --dport 53 -j NFQUEUE --queue-num 0
/// let mut queue = Queue::builder(0).open()?;
/// queue.run(|packet| {
///     println!("{} bytes from hook {:?}", packet.payload().len(), packet.hook());
///     packet.accept()
/// })
/// # }
/// ```
#[derive(Debug)]
pub struct Queue {
    shared: Arc<Shared>,
    numbers: Vec<u16>,
    inbox: Inbox,
    /// The socket's network namespace, for its procfs rows (`None` over a custom transport).
    netns: Option<Netns>,
    /// Whether verdicts are batched (then a wide receive takes every datagram waiting).
    batching: bool,
}

impl Queue {
    /// Starts setting up a socket that serves queue `num`.
    pub fn builder(num: u16) -> QueueBuilder {
        QueueBuilder::new(num..=num)
    }

    /// Starts setting up a socket that serves every queue in `nums`, as for
    /// `--queue-balance first:last` (one socket, one receive loop for all of them).
    pub fn builder_range(nums: RangeInclusive<u16>) -> QueueBuilder {
        QueueBuilder::new(nums)
    }

    /// The queue numbers this socket serves.
    pub fn numbers(&self) -> &[u16] {
        &self.numbers
    }

    /// Receives the next packet, blocking until one comes. Verdicts given since the last
    /// receive are sent before blocking.
    ///
    /// # Errors
    /// [`Error::Overrun`] when the kernel dropped packets for lack of buffer (not fatal: call
    /// again); [`Error::Malformed`] for a message that could not be parsed (skipped); an
    /// errno error the kernel sent back (e.g. for a verdict on an unknown id);
    /// [`Error::Stopped`] after [`StopHandle::stop`]; an I/O error.
    pub fn recv(&mut self) -> Result<Packet> {
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
    /// As for [`Queue::recv`].
    pub fn try_recv(&mut self) -> Result<Option<Packet>> {
        self.recv_timeout(Duration::ZERO)
    }

    /// Receives the next packet, waiting at most `timeout`.
    ///
    /// # Errors
    /// As for [`Queue::recv`].
    pub fn recv_timeout(&mut self, timeout: Duration) -> Result<Option<Packet>> {
        conn::recv_timeout(self, timeout, Queue::receive, Queue::next_ready)
    }

    /// A blocking iterator over the packets; it never ends by itself.
    pub fn incoming(&mut self) -> Incoming<'_> {
        Incoming { queue: self }
    }

    /// Hands every packet to `f` until [`Queue::stop_handle`]'s handle stops it (then
    /// `Ok(())`). Overruns and malformed messages are skipped (they are not the packets'
    /// fault); any other error, including one `f` returns, ends the loop.
    ///
    /// # Errors
    /// The error that ended the loop.
    pub fn run(&mut self, mut f: impl FnMut(Packet) -> Result<()>) -> Result<()> {
        loop {
            match self.recv() {
                Ok(packet) => f(packet)?,
                Err(Error::Overrun { .. } | Error::Malformed(_)) => continue,
                Err(Error::Stopped) => return Ok(()),
                Err(err) => return Err(err),
            }
        }
    }

    /// The counters of this socket and its queues: the kernel's procfs row of each queue
    /// (waiting packets, drops because the queue was full or the socket could not take them,
    /// last id), the socket's drop count, and gaps seen in packet ids.
    ///
    /// # Errors
    /// [`Error::Safe`] when the procfs table of the socket's namespace cannot be read.
    pub fn stats(&self) -> Result<QueueStats> {
        let rows = match &self.netns {
            Some(ns) => in_namespace(ns.fd(), procfs::queue_rows)??
                .into_iter()
                .filter(|row| self.numbers.contains(&row.queue_number))
                .collect(),
            None => Vec::new(),
        };
        let socket_drops = self.shared.conn.transport().drops()?;
        let last_ids = rows.iter().map(|row| (row.queue_number, row.id_sequence));
        let id_gaps = self.shared.verdicts().id_gaps(last_ids);
        Ok(QueueStats {
            rows,
            socket_drops,
            id_gaps,
            default_verdicts: self.shared.default_verdicts.load(Ordering::Relaxed),
        })
    }

    /// The name of interface `index` (as [`Packet::indev`] and friends give it) in the
    /// socket's network namespace; `None` when there is no such interface, or over a custom
    /// transport. Names are cached per socket: an index not in the cache reads the
    /// namespace's whole table again (`if_nameindex`), so new interfaces are found; an
    /// interface renamed after it was cached keeps its old name here.
    pub fn interface_name(&self, index: u32) -> Option<String> {
        self.netns.as_ref()?.interface_name(index)
    }

    /// Sends the verdicts given so far now, instead of before the next blocking receive.
    ///
    /// # Errors
    /// An I/O error when sending fails.
    pub fn flush(&self) -> Result<()> {
        self.shared.flush()
    }

    /// A handle that stops this queue's blocking receives from another thread or a signal
    /// handler; see [`StopHandle`]. Every call returns a handle to the same stop.
    ///
    /// # Errors
    /// An I/O error when the eventfd cannot be made (the first call only).
    pub fn stop_handle(&self) -> Result<StopHandle> {
        self.shared.conn.stop_handle()
    }

    /// Changes what is copied of each packet, on every queue of this socket, for the packets
    /// queued from now on (libnetfilter_queue's `nfq_set_mode` on an open queue); the range
    /// as for [`QueueBuilder::copy`].
    ///
    /// ```
    /// use netfilter::{CopyMode, Queue};
    /// use netfilter_testkit::fake::FakeKernel;
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let (kernel, transport) = FakeKernel::new()?;
    /// let mut queue = Queue::builder(4).transport(transport).open()?;
    /// queue.set_copy(CopyMode::Packet, 128)?; // headers only, from now on
    /// assert_eq!(kernel.config(4).map(|c| (c.copy_mode, c.copy_range)), Some((2, 128)));
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`Error::OutOfRange`] for a range over 0xffff (nothing is sent); the kernel's refusal.
    pub fn set_copy(&mut self, mode: CopyMode, range: u32) -> Result<()> {
        let range = clamp_copy_range(range);
        check_copy_range(range)?;
        let copied = match mode {
            CopyMode::Packet => range as usize,
            _ => 0,
        };
        self.inbox.reserve(copied + MESSAGE_OVERHEAD);
        for num in self.numbers.clone() {
            self.configure(num, |c| {
                c.params = Some(QueueParams {
                    copy_range: range,
                    copy_mode: mode.raw(),
                })
            })?;
        }
        Ok(())
    }

    /// Changes how many packets may wait for a verdict, on every queue of this socket (as
    /// [`QueueBuilder::max_len`]).
    ///
    /// # Errors
    /// The kernel's refusal.
    pub fn set_max_len(&mut self, packets: u32) -> Result<()> {
        for num in self.numbers.clone() {
            self.configure(num, |c| c.queue_maxlen = Some(packets))?;
        }
        Ok(())
    }

    /// Sets the queue flags to `flags` (every flag not in it is turned off), on every queue
    /// of this socket, for the packets queued from now on (libnetfilter_queue's
    /// `nfq_set_queue_flags`). The builder's methods ([`QueueBuilder::fail_open`],
    /// [`QueueBuilder::gso`], ...) set the same flags at `open`.
    ///
    /// ```
    /// use netfilter::{Queue, QueueFlags};
    /// use netfilter_testkit::fake::FakeKernel;
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let (kernel, transport) = FakeKernel::new()?;
    /// let mut queue = Queue::builder(5).transport(transport).open()?;
    /// queue.set_flags(QueueFlags::GSO | QueueFlags::FAIL_OPEN)?;
    /// let flags = kernel.config(5).map(|c| QueueFlags::from_bits_retain(c.flags));
    /// assert_eq!(flags, Some(QueueFlags::GSO | QueueFlags::FAIL_OPEN));
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`Error::Unsupported`] for a flag the kernel lacks (e.g. [`QueueFlags::CONNTRACK`]
    /// without its conntrack glue); the kernel's refusal.
    pub fn set_flags(&mut self, flags: QueueFlags) -> Result<()> {
        let all = QueueFlags::all().bits();
        for num in self.numbers.clone() {
            self.configure(num, |c| {
                c.mask = Some(all);
                c.flags = Some(flags.bits());
            })?;
        }
        Ok(())
    }

    /// Hands the packets of `datagram`, which the program received from [`Queue::fd`]
    /// itself, to `f`, owned, as [`Queue::run`] does, then sends the verdicts given: for a
    /// program that owns its receive loop (libnetfilter_queue's `nfq_handle_packet`).
    /// Packets received earlier and not handed out yet come first. Receive with a buffer of
    /// at least [`Queue::datagram_size`] bytes; a truncated datagram is malformed. A `Vec`
    /// or [`Bytes`](bytes::Bytes) is taken without a copy.
    ///
    /// ```
    /// use netfilter::Queue;
    /// use netfilter_testkit::fake::FakeKernel;
    /// use netfilter_testkit::synth::QueuePacketBuilder;
    /// use std::os::fd::AsRawFd;
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let (kernel, transport) = FakeKernel::new()?;
    /// let mut queue = Queue::builder(1).transport(transport).open()?;
    /// let id = kernel.queue_packet(QueuePacketBuilder::ipv4(1).payload(vec![0x45; 20]))?;
    /// // The program's own receive.
    /// let mut buf = vec![0u8; queue.datagram_size()];
    /// // SAFETY: `buf` is writable for its length.
    /// let n = unsafe { libc::recv(queue.fd().as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
    /// buf.truncate(n.try_into()?);
    /// let handed = queue.handle_datagram(buf, |packet| packet.accept())?;
    /// assert_eq!(handed, 1);
    /// assert_eq!(kernel.verdict(1, id).map(|v| v.verdict), Some(1)); // sent already
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// As for [`Queue::recv`], or the error `f` returned; what was not handed out stays for
    /// the next call (of this or any receive).
    pub fn handle_datagram(
        &mut self,
        datagram: impl Into<bytes::Bytes>,
        mut f: impl FnMut(Packet) -> Result<()>,
    ) -> Result<usize> {
        self.inbox.push(datagram.into());
        let mut handed = 0;
        while let Some(packet) = self.next_ready()? {
            handed += 1;
            f(packet)?;
        }
        Ok(handed)
    }

    /// The largest datagram the kernel sends this socket with its copy range: the buffer a
    /// program that receives itself ([`Queue::handle_datagram`]) needs.
    pub fn datagram_size(&self) -> usize {
        self.inbox.slot()
    }

    /// The socket's descriptor, for event loops: readable when [`Queue::try_recv`] has
    /// something. Call [`Queue::flush`] (or receive) before waiting on it.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.shared.conn.transport().fd()
    }

    /// The next received packet, if one is ready. While packets are handed out, verdicts are
    /// held back to travel together: until the last one handed out is decided, or until this
    /// is called with nothing ready, which sends them (before the loop waits for more).
    pub(crate) fn next_ready(&mut self) -> Result<Option<Packet>> {
        let Some(range) = self
            .inbox
            .next_message(wire::QueuePacket::MSG_TYPE, "take a verdict")?
        else {
            let mut verdicts = self.shared.verdicts();
            verdicts.end_dispatch();
            self.shared.flush_locked(&mut verdicts)?;
            return Ok(None);
        };
        let message = self.inbox.datagram().slice(range);
        let attrs = wire::QueueAttrs::locate(&NlMsg::new_checked(&message)?)?;
        let last = !self.inbox.has_more(wire::QueuePacket::MSG_TYPE);
        self.shared.verdicts().hand_out(
            attrs.header(&message).res_id,
            attrs.packet_hdr(&message).packet_id,
            last,
        );
        // Made last, where it is returned: fewer copies of it.
        Ok(Some(Packet::new(Arc::clone(&self.shared), message, attrs)))
    }

    /// Receives what the kernel has waiting, without blocking; whether anything came.
    #[cfg(feature = "tokio")]
    pub(crate) fn receive_waiting(&mut self) -> Result<bool> {
        self.receive(Some(Duration::ZERO))
    }

    /// Receives what is waiting, waiting at most `timeout` for the first datagram: one
    /// datagram while packets come one at a time, else a `recvmmsg` that also takes those
    /// waiting behind the first, and with batching more calls while each one filled all its
    /// room, so that the verdicts of everything waiting can travel together (see
    /// [`Inbox::receive`]); whether anything came.
    fn receive(&mut self, timeout: Option<Duration>) -> Result<bool> {
        self.inbox
            .receive(&self.shared.conn, timeout, self.batching)
    }

    fn bind(&mut self, num: u16) -> Result<()> {
        self.configure(num, |c| {
            c.cmd = Some(QueueCmd {
                command: sys::NFQNL_CFG_CMD_BIND as u8,
                pf: 0,
            })
        })
        .map_err(|err| match err {
            Error::Kernel { source, .. } if source.raw_os_error() == Some(libc::EBUSY) => {
                Error::Kernel {
                    request: format!("bind queue {num}"),
                    source,
                }
            }
            other => other,
        })
    }

    /// Sends one configuration request for queue `num` and waits for the answer.
    fn configure(&mut self, num: u16, set: impl FnOnce(&mut QueueConfig<'static>)) -> Result<()> {
        let seq = self.shared.conn.next_seq();
        let mut config = QueueConfig::default();
        config.header = request_header(seq, num);
        set(&mut config);
        let what = describe(&config);
        self.inbox.request(&self.shared.conn, || what, &config, seq)
    }
}

/// Counters of a [`Queue`]; see [`Queue::stats`].
///
/// ```
/// # use netfilter::Queue;
/// # use netfilter_testkit::fake::FakeKernel;
/// # use netfilter_testkit::synth::QueuePacketBuilder;
/// # let (kernel, transport) = FakeKernel::new()?;
/// let mut queue = Queue::builder(0).transport(transport).open()?;
/// // Sent as is, with the ids they carry: 2 to 4 never came.
/// kernel.send(&QueuePacketBuilder::ipv4(0).packet_id(1).to_bytes()?)?;
/// kernel.send(&QueuePacketBuilder::ipv4(0).packet_id(5).to_bytes()?)?;
/// queue.recv()?.accept()?;
/// queue.recv()?.accept()?;
/// let stats = queue.stats()?;
/// assert_eq!(stats.id_gaps, 3);
/// assert!(stats.rows.is_empty()); // no procfs rows over a custom transport
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct QueueStats {
    /// The kernel's row for each queue of the socket (`/proc/net/netfilter/nfnetlink_queue`):
    /// `queue_total` packets wait for a verdict, `queue_dropped` were dropped because the
    /// queue was full, `queue_user_dropped` because the socket could not take them,
    /// `id_sequence` is the last id given. Empty over a custom transport.
    pub rows: Vec<QueueRow>,
    /// Datagrams the socket dropped because its receive buffer was full.
    pub socket_drops: u32,
    /// Packet ids the kernel gave out that this socket has not received: packets it dropped
    /// before they reached the program (queue full, receive buffer full), counted between
    /// the packets received and, from the rows' `id_sequence`, after the last one. Packets
    /// still waiting in the receive buffer count until they are received; read it after
    /// receiving what is waiting for the exact loss. Without rows (a custom transport), only
    /// the ids skipped between packets.
    pub id_gaps: u64,
    /// Packets that went out of scope without a verdict and got the default one
    /// ([`QueueBuilder::default_verdict`]): in a correct program, 0.
    pub default_verdicts: u64,
}

/// A readable description of a configuration request, for errors.
fn describe(config: &QueueConfig<'_>) -> String {
    let num = config.header.res_id;
    if let Some(cmd) = config.cmd {
        if cmd.command == sys::NFQNL_CFG_CMD_BIND as u8 {
            return format!("bind queue {num}");
        }
        return format!("run command {} on queue {num}", cmd.command);
    }
    if let Some(params) = config.params {
        return format!(
            "set copy mode {} range {} on queue {num}",
            params.copy_mode, params.copy_range
        );
    }
    if let Some(maxlen) = config.queue_maxlen {
        return format!("set max length {maxlen} on queue {num}");
    }
    if let Some(flags) = config.flags {
        return format!(
            "set flags {:?} on queue {num}",
            QueueFlags::from_bits_retain(flags)
        );
    }
    format!("configure queue {num}")
}

impl Drop for Queue {
    fn drop(&mut self) {
        // Verdicts given so far go out; packets still out keep the socket alive, but their
        // verdicts are refused from here on: the unbind makes the kernel drop them.
        let _ = self.shared.close();
        for num in self.numbers.clone() {
            let _ = self.configure(num, |c| {
                c.cmd = Some(QueueCmd {
                    command: sys::NFQNL_CFG_CMD_UNBIND as u8,
                    pf: 0,
                })
            });
        }
    }
}

impl AsFd for Queue {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd()
    }
}

/// The blocking iterator of [`Queue::incoming`].
///
/// ```
/// # use netfilter::Queue;
/// # use netfilter_testkit::fake::FakeKernel;
/// # use netfilter_testkit::synth::QueuePacketBuilder;
/// # let (kernel, transport) = FakeKernel::new()?;
/// let mut queue = Queue::builder(0).transport(transport).open()?;
/// let ids = [kernel.queue_packet(QueuePacketBuilder::ipv4(0))?, kernel.queue_packet(QueuePacketBuilder::ipv4(0))?];
/// for packet in queue.incoming().take(2) {
///     packet?.accept()?;
/// }
/// queue.flush()?;
/// assert!(ids.iter().all(|&id| kernel.verdict(0, id).is_some()));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Incoming<'q> {
    queue: &'q mut Queue,
}

impl Iterator for Incoming<'_> {
    type Item = Result<Packet>;

    fn next(&mut self) -> Option<Result<Packet>> {
        Some(self.queue.recv())
    }
}
