//! [`Queue`]: one socket serving one or more NFQUEUE queues, and its [`QueueBuilder`].

use std::ops::RangeInclusive;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use netfilter_safe::CopyMode;
use netfilter_safe::QueueFlags;
use netfilter_safe::procfs::{self, QueueRow};
use netfilter_safe::transport::Transport;
use netfilter_safe::wire::uapi as sys;
use netfilter_safe::wire::{self, NlMsg, QueueCmd, QueueConfig, QueueParams};

use crate::conn::{self, Conn, Inbox, Namespace, in_namespace, interface_name, request_header};
use crate::error::{Error, Result};
use crate::packet::{Packet, VerdictKind};
use crate::verdicts::{Decision, Verdicts};

/// The largest copy range the kernel honours (`NFQNL_MAX_COPY_RANGE`: 0xffff minus the
/// attribute header).
pub const MAX_COPY_RANGE: u32 = 0xffff - 4;

/// Room for the headers and attributes around a copied payload in one message.
const MESSAGE_OVERHEAD: usize = 4096;

/// How a [`Queue`] is set up; made by [`Queue::builder`] or [`Queue::builder_range`].
///
/// Defaults: the whole packet is copied ([`CopyMode::Packet`], [`MAX_COPY_RANGE`]) — never
/// the kernel's deliver-nothing `COPY_NONE`; the GSO flag is on (large packets arrive whole);
/// verdicts are batched; a packet dropped without a verdict is accepted; overruns are
/// reported.
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
/// // A copy range the kernel would clamp is refused before anything is sent.
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
    namespace: Namespace,
    transport: Option<Box<dyn Transport>>,
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
            default_verdict: VerdictKind::Accept,
            namespace: Namespace::Current,
            transport: None,
        }
    }

    /// What is copied of each packet, and at most how many bytes (up to
    /// [`MAX_COPY_RANGE`]). A range smaller than a packet cuts its payload; the packet then
    /// tells its real length ([`Packet::cap_len`]).
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
        self.copy_range = range;
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

    /// The verdict a packet gets when it is dropped without one (default: accept).
    ///
    /// ```
    /// use netfilter::VerdictKind;
    /// # use netfilter::Queue;
    /// # use netfilter_testkit::fake::FakeKernel;
    /// # use netfilter_testkit::synth::QueuePacketBuilder;
    /// # let (kernel, transport) = FakeKernel::new()?;
    /// let mut queue = Queue::builder(0).default_verdict(VerdictKind::Drop).transport(transport).open()?;
    /// let id = kernel.queue_packet(QueuePacketBuilder::ipv4(0))?;
    /// drop(queue.recv()?); // no verdict given
    /// queue.flush()?;
    /// assert_eq!(kernel.verdict(0, id).map(|v| v.verdict), Some(0)); // NF_DROP
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn default_verdict(mut self, kind: VerdictKind) -> QueueBuilder {
        self.default_verdict = kind;
        self
    }

    /// Open the socket in another network namespace.
    pub fn namespace(mut self, namespace: Namespace) -> QueueBuilder {
        self.namespace = namespace;
        self
    }

    /// Use `transport` instead of a netlink socket: the testkit's fake kernel, for tests
    /// without privileges. Overrides [`QueueBuilder::namespace`] and the socket options.
    pub fn transport(mut self, transport: impl Transport + 'static) -> QueueBuilder {
        self.transport = Some(Box::new(transport));
        self
    }

    /// Opens the socket, binds every queue and configures it.
    ///
    /// # Errors
    /// [`Error::OutOfRange`] for a copy range over [`MAX_COPY_RANGE`] or an empty queue range
    /// (nothing is sent); [`Error::NotPermitted`] when another socket owns a queue or the
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
        if self.copy_range > MAX_COPY_RANGE {
            return Err(Error::OutOfRange {
                what: "copy range",
                value: self.copy_range.into(),
                min: 0,
                max: MAX_COPY_RANGE.into(),
            });
        }
        if self.queues.is_empty() {
            return Err(Error::OutOfRange {
                what: "queue range end",
                value: (*self.queues.end()).into(),
                min: (*self.queues.start()).into(),
                max: u16::MAX.into(),
            });
        }
        let netns = match self.transport {
            Some(_) => None,
            None => Some(self.namespace.fd()?),
        };
        let transport =
            self.namespace
                .transport(self.transport, self.recv_buffer, self.report_overruns)?;
        let numbers: Vec<u16> = self.queues.clone().collect();
        let copy_range = match self.copy_mode {
            CopyMode::Packet => self.copy_range as usize,
            _ => 0,
        };
        let mut queue = Queue {
            shared: Arc::new(Shared {
                conn: Conn::new(transport),
                verdicts: Mutex::new(Verdicts::new(&numbers, self.batching)),
                default_verdict: self.default_verdict,
                closed: AtomicBool::new(false),
            }),
            numbers,
            inbox: Inbox::new(copy_range + MESSAGE_OVERHEAD, self.report_overruns),
            batching: self.batching,
            netns,
        };
        for num in self.queues {
            queue.bind(num)?;
            queue.configure(num, |c| {
                c.params = Some(QueueParams {
                    copy_range: self.copy_range,
                    copy_mode: self.copy_mode.raw(),
                })
            })?;
            if let Some(maxlen) = self.maxlen {
                queue.configure(num, |c| c.queue_maxlen = Some(maxlen))?;
            }
            let all = QueueFlags::all().bits();
            queue.configure(num, |c| {
                c.mask = Some(all);
                c.flags = Some(self.flags.bits());
            })?;
        }
        Ok(queue)
    }
}

/// What a queue shares with its packets: the connection and the verdicts on their way.
#[derive(Debug)]
pub(crate) struct Shared {
    conn: Conn,
    verdicts: Mutex<Verdicts>,
    default_verdict: VerdictKind,
    /// Set when the [`Queue`] is dropped: the kernel has dropped the packets it held.
    closed: AtomicBool,
}

impl Shared {
    pub(crate) fn default_verdict(&self) -> VerdictKind {
        self.default_verdict
    }

    fn verdicts(&self) -> MutexGuard<'_, Verdicts> {
        self.verdicts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Records a verdict and sends it now unless the receive loop will.
    pub(crate) fn decide(&self, queue: u16, id: u32, decision: Decision) -> Result<()> {
        if self.closed.load(Ordering::SeqCst) {
            return Err(Error::QueueClosed { queue, id });
        }
        let mut verdicts = self.verdicts();
        if verdicts.decide(queue, id, decision)? {
            self.flush_locked(&mut verdicts)?;
        }
        Ok(())
    }

    fn flush(&self) -> Result<()> {
        let mut verdicts = self.verdicts();
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
    netns: Option<OwnedFd>,
    /// Whether verdicts are batched (then a receive takes every datagram waiting).
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
    /// errno error the kernel sent back (e.g. for a verdict on an unknown id); an I/O error.
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

    /// Hands every packet to `f`, forever. Overruns and malformed messages are skipped (they
    /// are not the packets' fault); any other error, including one `f` returns, ends the loop.
    ///
    /// # Errors
    /// The error that ended the loop.
    pub fn run(&mut self, mut f: impl FnMut(Packet) -> Result<()>) -> Result<()> {
        loop {
            match self.recv() {
                Ok(packet) => f(packet)?,
                Err(Error::Overrun { .. } | Error::Malformed(_)) => continue,
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
            Some(ns) => in_namespace(ns.as_fd(), procfs::queue_rows)??
                .into_iter()
                .filter(|row| self.numbers.contains(&row.queue_number))
                .collect(),
            None => Vec::new(),
        };
        let socket_drops = self.shared.conn.transport().drops()?;
        let id_gaps = self.shared.verdicts().id_gaps();
        Ok(QueueStats {
            rows,
            socket_drops,
            id_gaps,
        })
    }

    /// The name of interface `index` (as [`Packet::indev`] and friends give it) in the
    /// socket's network namespace; `None` when there is no such interface (any more), or over
    /// a custom transport.
    pub fn interface_name(&self, index: u32) -> Option<String> {
        interface_name(self.netns.as_ref()?, index)
    }

    /// Sends the verdicts given so far now, instead of before the next blocking receive.
    ///
    /// # Errors
    /// An I/O error when sending fails.
    pub fn flush(&self) -> Result<()> {
        self.shared.flush()
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
    /// receive call (`recvmmsg`, which also takes the datagrams waiting behind the first),
    /// and with batching more calls while each one filled all its room, so that the verdicts
    /// of everything waiting can travel together; whether anything came.
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
    /// Packet ids skipped between consecutive packets of a queue: packets the kernel dropped
    /// before they reached this socket.
    pub id_gaps: u64,
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
        // Packets still out keep the socket alive; their verdicts would find nothing now.
        let _ = self.shared.flush();
        for num in self.numbers.clone() {
            let _ = self.configure(num, |c| {
                c.cmd = Some(QueueCmd {
                    command: sys::NFQNL_CFG_CMD_UNBIND as u8,
                    pf: 0,
                })
            });
        }
        self.shared.closed.store(true, Ordering::SeqCst);
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
