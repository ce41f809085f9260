//! The connection to the kernel that queues and log groups share: a [`Transport`], the
//! request/acknowledge exchange of configuration messages, and where the socket comes from.

use std::collections::VecDeque;
use std::fs::File;
use std::ops::Range;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use netfilter_safe::transport::{NetlinkSocket, Transport};
use netfilter_safe::wire::{self, Emit, Incoming, NLMSG_ERROR, NlError, NlMsg, NlMsgIter};

use crate::error::{Error, Result};
use crate::slabs::{LINE, Slabs, to_line};
use crate::stop::StopHandle;

/// How long a configuration request waits for the kernel's answer.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(5);

/// `NLM_F_REQUEST | NLM_F_ACK`.
pub(crate) const REQUEST_ACK: u16 = (libc::NLM_F_REQUEST | libc::NLM_F_ACK) as u16;

/// Where the netlink socket lives.
///
/// ```no_run
/// use std::fs::File;
/// use netfilter::{LogGroup, Namespace, Queue};
///
/// // By path, as `ip netns add blue` made it, or by an open descriptor (of another process's
/// // namespace, here PID 1234): the sockets serve the rules and traffic of that namespace.
/// let mut queue = Queue::builder(0).namespace(Namespace::path("/run/netns/blue")).open()?;
/// let fd = File::open("/proc/1234/ns/net")?.into();
/// let log = LogGroup::builder(1).namespace(Namespace::Fd(fd)).open()?;
/// queue.recv()?.accept()?;
/// # drop(log);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Default)]
#[non_exhaustive]
pub enum Namespace {
    /// The calling thread's network namespace.
    #[default]
    Current,
    /// The network namespace of this open descriptor (`/run/netns/NAME`,
    /// `/proc/PID/ns/net`).
    Fd(OwnedFd),
    /// The network namespace at this path (`/run/netns/NAME`, `/proc/PID/ns/net`).
    Path(PathBuf),
}

impl Namespace {
    /// A namespace by path: `/run/netns/NAME` (as `ip netns add` makes) or
    /// `/proc/PID/ns/net`.
    pub fn path(path: impl AsRef<Path>) -> Namespace {
        Namespace::Path(path.as_ref().to_path_buf())
    }

    /// An open descriptor of the namespace (for the current one, the calling thread's).
    pub(crate) fn fd(&self) -> Result<OwnedFd> {
        let dup = |fd: &OwnedFd| fd.try_clone();
        let opened = match self {
            Namespace::Current => File::open("/proc/thread-self/ns/net").map(OwnedFd::from),
            Namespace::Fd(fd) => dup(fd),
            Namespace::Path(path) => File::open(path).map(OwnedFd::from),
        };
        opened.map_err(|source| Error::Io {
            call: "open network namespace",
            source,
        })
    }

    /// Opens a netlink socket there.
    fn open_socket(&self) -> Result<NetlinkSocket> {
        let socket = match self {
            Namespace::Current => NetlinkSocket::open(),
            Namespace::Fd(fd) => NetlinkSocket::open_in_netns(fd.as_fd()),
            Namespace::Path(path) => {
                let file = File::open(path).map_err(|source| Error::Io {
                    call: "open network namespace",
                    source,
                })?;
                NetlinkSocket::open_in_netns(file.as_fd())
            }
        };
        Ok(socket?)
    }
}

/// Where a queue's or log group's connection comes from, as its builder was told: the last of
/// `namespace`, `socket` and `transport` called.
#[derive(Debug)]
pub(crate) enum Source {
    /// A netlink socket opened in this namespace.
    Namespace(Namespace),
    /// This netlink socket, adopted.
    Socket(OwnedFd),
    /// A custom transport (the testkit's fake kernel).
    Transport(Box<dyn Transport>),
}

impl Default for Source {
    fn default() -> Source {
        Source::Namespace(Namespace::Current)
    }
}

impl Source {
    /// The link, with the receive buffer and overrun options applied to a netlink socket, and
    /// the socket's network namespace (for procfs rows and interface names; `None` over a
    /// custom transport, or for an adopted socket whose namespace the kernel does not tell).
    pub(crate) fn open(
        self,
        recv_buffer: Option<u32>,
        report_overruns: bool,
    ) -> Result<(Link, Option<Netns>)> {
        let (socket, netns) = match self {
            Source::Transport(custom) => return Ok((Link::Custom(custom), None)),
            Source::Namespace(namespace) => {
                let netns = namespace.fd()?;
                (namespace.open_socket()?, Some(netns))
            }
            Source::Socket(fd) => {
                let socket = NetlinkSocket::from_fd(fd)?;
                let netns = socket_netns(socket.fd());
                (socket, netns)
            }
        };
        if let Some(bytes) = recv_buffer {
            // Forced past net.core.rmem_max when permitted, else capped by it.
            if let Err(netfilter_safe::Error::NotPermitted { .. }) =
                socket.set_recv_buffer_size(bytes, true)
            {
                socket.set_recv_buffer_size(bytes, false)?;
            }
        }
        if !report_overruns {
            socket.set_no_enobufs(true)?;
        }
        Ok((Link::Socket(socket), netns.map(Netns::new)))
    }
}

/// `SIOCGSKNS` (`linux/sockios.h`): a descriptor of a socket's network namespace.
const SIOCGSKNS: libc::c_ulong = 0x894C;

/// The network namespace of `socket` (`SIOCGSKNS`, Linux 4.9+; needs `CAP_NET_ADMIN` over
/// it), `None` when the kernel does not tell.
fn socket_netns(socket: BorrowedFd<'_>) -> Option<OwnedFd> {
    use std::os::fd::{AsRawFd, FromRawFd};
    // SAFETY: SIOCGSKNS takes no argument and returns a new descriptor or -1.
    let fd = unsafe { libc::ioctl(socket.as_raw_fd(), SIOCGSKNS) };
    // SAFETY: a non-negative result is a fresh descriptor that nothing else owns.
    (fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd) })
}

/// What a connection talks through: a netlink socket, received from in batches straight into
/// the slabs' uninitialised memory (`recvmmsg`), or a custom [`Transport`], received from one
/// datagram at a time into initialised memory.
#[derive(Debug)]
pub(crate) enum Link {
    Socket(NetlinkSocket),
    Custom(Box<dyn Transport>),
}

/// The transport plus what the request/answer exchange needs, and the stop handle of its
/// receives once one was asked for.
#[derive(Debug)]
pub(crate) struct Conn {
    link: Link,
    seq: AtomicU32,
    stop: OnceLock<StopHandle>,
}

impl Conn {
    pub(crate) fn new(link: Link) -> Conn {
        Conn {
            link,
            seq: AtomicU32::new(1),
            stop: OnceLock::new(),
        }
    }

    /// The stop handle of this connection's receives, made at the first call.
    pub(crate) fn stop_handle(&self) -> Result<StopHandle> {
        if let Some(stop) = self.stop.get() {
            return Ok(stop.clone());
        }
        // Two first calls at once: one handle wins, the other's eventfd is closed.
        let made = StopHandle::new()?;
        Ok(self.stop.get_or_init(|| made).clone())
    }

    /// Before a receive that may block for `timeout`: when a stop handle exists, waits for the
    /// socket or the stop instead, and returns the timeout the receive then takes (zero: it
    /// must not block), or `None` when the time ran out first. Without a stop handle, or for a
    /// receive that does not wait, returns `timeout` as it is.
    ///
    /// # Errors
    /// [`Error::Stopped`] when the handle is stopped; a `poll` error.
    fn wait_unless_stopped(&self, timeout: Option<Duration>) -> Result<Option<Option<Duration>>> {
        match self.stop.get() {
            Some(stop) if timeout != Some(Duration::ZERO) => {
                let fd = std::os::fd::AsRawFd::as_raw_fd(&self.transport().fd());
                Ok(stop.wait(fd, timeout)?.then_some(Some(Duration::ZERO)))
            }
            _ => Ok(Some(timeout)),
        }
    }

    pub(crate) fn transport(&self) -> &dyn Transport {
        match &self.link {
            Link::Socket(socket) => socket,
            Link::Custom(custom) => &**custom,
        }
    }

    /// Sends `datagram`.
    pub(crate) fn send(&self, datagram: &[u8]) -> Result<()> {
        self.transport()
            .send(datagram)
            .map_err(|source| Error::io("send", source))
    }

    /// A fresh sequence number for a request.
    pub(crate) fn next_seq(&self) -> u32 {
        self.seq.fetch_add(1, Ordering::Relaxed)
    }

    /// Sends `message` (built with `REQUEST_ACK` and `seq`) and waits for the kernel's answer,
    /// receiving into `slabs`. Datagrams that arrive meanwhile (packets) are appended to
    /// `stash` for the receive path.
    pub(crate) fn request(
        &self,
        what: impl FnOnce() -> String,
        message: &dyn Emit,
        seq: u32,
        slabs: &mut Slabs,
        stash: &mut VecDeque<Bytes>,
    ) -> Result<()> {
        let bytes = message.to_bytes()?;
        self.send(&bytes)?;
        let deadline = Instant::now() + ANSWER_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.receive(slabs, Some(left), 1, stash) {
                Ok((0, _)) => return Err(Error::NoAnswer { request: what() }),
                Ok(_) => {}
                // The socket is non-blocking and another reader took the datagram.
                Err(err) if err.is_would_block() => continue,
                Err(err) => return Err(err),
            }
            // The datagram just received: the answer, or packets kept for the receive path.
            if let Some(errno) = stash.back().and_then(|datagram| answer(datagram, seq)) {
                stash.pop_back();
                return match errno {
                    0 => Ok(()),
                    errno => Err(Error::kernel(
                        what(),
                        std::io::Error::from_raw_os_error(errno),
                    )),
                };
            }
        }
    }

    /// Receives what is waiting, at most `max` datagrams (at least one), waiting at most
    /// `timeout` for the first (forever with `None`, not at all with zero), into `slabs`, and
    /// appends them to `out`. Returns how many came and whether more may be waiting (every
    /// slot offered was filled). A netlink socket takes them in one `recvmmsg`; a custom
    /// transport gives one datagram per call.
    pub(crate) fn receive(
        &self,
        slabs: &mut Slabs,
        timeout: Option<Duration>,
        max: usize,
        out: &mut VecDeque<Bytes>,
    ) -> Result<(usize, bool)> {
        match &self.link {
            Link::Socket(socket) => {
                let slot = slabs.slot();
                let max = max.clamp(1, BURST);
                let room = slabs.room_uninit(max);
                // One datagram (the usual case of a log group): nothing to size or zero.
                let mut one = [0];
                let mut many;
                let lens = match max {
                    1 => &mut one[..],
                    _ => {
                        many = [0; BURST];
                        &mut many[..room.len() / slot]
                    }
                };
                let offered = lens.len();
                let n = socket
                    .recv_batch(room, slot, lens, timeout)
                    .map_err(|source| Error::io("recv", source))?;
                let mut result = Ok((n, n == offered));
                for (i, &len) in lens[..n].iter().enumerate() {
                    // SAFETY: `recv_batch` returned `n`: the kernel wrote the first
                    // `min(len, slot)` bytes of each slot `i < n` of the room, and the
                    // datagrams are cut in order, each but the last with its whole slot.
                    match unsafe { slabs.take_received(len, i + 1 < n) } {
                        Ok(datagram) => out.push_back(datagram),
                        Err(err) => result = Err(err),
                    }
                }
                result
            }
            Link::Custom(custom) => {
                let buf = slabs.room();
                match custom
                    .recv_timeout(buf, timeout)
                    .map_err(|source| Error::io("recv", source))?
                {
                    Some(n) => {
                        out.push_back(slabs.take(n)?);
                        Ok((1, true))
                    }
                    None => Ok((0, false)),
                }
            }
        }
    }
}

/// At most this many datagrams are received per wake-up.
pub(crate) const BURST: usize = 64;

/// The receive side of a connection: the buffer datagrams land in, the datagrams received
/// (or put aside while a request waited for its answer) and not yet walked, and the walk
/// through the current one. Messages are taken one at a time, when the program asks for the
/// next packet: nothing is parsed ahead or copied into a queue of packets.
#[derive(Debug)]
pub(crate) struct Inbox {
    slabs: Slabs,
    datagrams: VecDeque<Bytes>,
    /// The datagram being walked, and where its next message starts.
    current: Bytes,
    at: usize,
    report_overruns: bool,
    /// Whether a receive offers room for many datagrams (`recvmmsg`) or for one (a plain
    /// `recv`). A wide receive pays an attempt at a datagram that is not there when only one
    /// was waiting (the usual case for a log group that keeps up, and for a queue whose
    /// traffic comes a packet at a time, where that attempt lengthens every round trip),
    /// which costs more than the syscalls it saves; so receives stay wide while they take
    /// several datagrams, and a narrow one turns wide when it finds its room filled
    /// [`PROBE`] times in a row (the program may be falling behind).
    wide: bool,
    /// Narrow receives in a row that took a datagram.
    narrow_full: u8,
    /// The buffer of [`Inbox::receive_lent`] (empty until its first use; [`LINE`] bytes
    /// longer than a slot, which starts at `lent_at`, on a cache line), and the length of the
    /// datagram in it.
    lent: Vec<u8>,
    lent_at: usize,
    lent_len: usize,
}

/// After this many narrow receives in a row that each took a datagram, the next one is wide.
const PROBE: u8 = 8;

impl Inbox {
    /// An inbox for datagrams of up to `size` bytes.
    pub(crate) fn new(size: usize, report_overruns: bool) -> Inbox {
        Inbox {
            slabs: Slabs::new(size),
            datagrams: VecDeque::with_capacity(BURST),
            current: Bytes::new(),
            at: 0,
            report_overruns,
            wide: false,
            narrow_full: 0,
            lent: Vec::new(),
            lent_at: 0,
            lent_len: 0,
        }
    }

    /// The largest datagram it takes whole.
    pub(crate) fn slot(&self) -> usize {
        self.slabs.slot()
    }

    /// Makes room for datagrams of up to `size` bytes from now on (those received are kept).
    pub(crate) fn reserve(&mut self, size: usize) {
        if size > self.slabs.slot() {
            self.slabs = Slabs::new(size);
        }
    }

    /// Sends a request and waits for its answer; see [`Conn::request`].
    pub(crate) fn request(
        &mut self,
        conn: &Conn,
        what: impl FnOnce() -> String,
        message: &dyn Emit,
        seq: u32,
    ) -> Result<()> {
        conn.request(what, message, seq, &mut self.slabs, &mut self.datagrams)
    }

    /// Receives what is waiting, waiting at most `timeout` for the first datagram (see
    /// [`Conn::receive`]). The first call takes one datagram or, when the program seems to
    /// fall behind, as many as are waiting (see `wide`); with `burst`, a wide receive is
    /// repeated while every slot was filled, up to [`BURST`] datagrams, so that the verdicts
    /// of everything waiting can travel together. Returns whether anything came. An overrun
    /// is returned as [`Error::Overrun`] unless reporting is off.
    pub(crate) fn receive(
        &mut self,
        conn: &Conn,
        timeout: Option<Duration>,
        burst: bool,
    ) -> Result<bool> {
        let Some(timeout) = conn.wait_unless_stopped(timeout)? else {
            return Ok(false);
        };
        let (mut received, mut wait) = (0, timeout);
        let wide = self.wide;
        let max = if wide { BURST } else { 1 };
        loop {
            match conn.receive(&mut self.slabs, wait, max - received, &mut self.datagrams) {
                Ok((n, more)) => {
                    received += n;
                    if !(burst && wide && more && received < BURST) {
                        // A narrow receive is one call; a wide one is judged by all it took
                        // (a custom transport gives one datagram per call).
                        self.adapt(received, more);
                        return Ok(received > 0);
                    }
                }
                Err(Error::Overrun { .. }) if !self.report_overruns => return Ok(true),
                Err(err) => return Err(err),
            }
            wait = Some(Duration::ZERO);
        }
    }

    /// Chooses the width of the next receive without `burst` after one that took `n`
    /// datagrams and filled its room (`full`); see `wide`.
    fn adapt(&mut self, n: usize, full: bool) {
        if self.wide {
            self.wide = n > 1;
        } else if full {
            self.narrow_full += 1;
            if self.narrow_full >= PROBE {
                (self.wide, self.narrow_full) = (true, 0);
            }
        } else {
            self.narrow_full = 0;
        }
    }

    /// The next message of type `packet_type` received: where it lies in
    /// [`Inbox::datagram`] (framed, its attributes not yet checked); `None` when every
    /// received datagram is walked. The kernel's error reports (answers to `what`, e.g.
    /// verdicts) and malformed messages come back as errors in their turn; the walk goes on
    /// after them with the next call (a framing error ends its datagram). Control messages
    /// (`NLMSG_DONE` ending an NFLOG batch, acknowledgements) are skipped.
    #[inline(always)]
    pub(crate) fn next_message(
        &mut self,
        packet_type: u16,
        what: &str,
    ) -> Result<Option<Range<usize>>> {
        loop {
            if self.at >= self.current.len() {
                match self.datagrams.pop_front() {
                    Some(datagram) => (self.current, self.at) = (datagram, 0),
                    None => {
                        // Drop the last datagram: its slab can be taken back sooner.
                        self.current = Bytes::new();
                        self.at = 0;
                        return Ok(None);
                    }
                }
            }
            if let Some(range) = next_in(&self.current, &mut self.at, packet_type, what)? {
                return Ok(Some(range));
            }
        }
    }

    /// The datagram [`Inbox::next_message`] walks: its ranges are in it.
    pub(crate) fn datagram(&self) -> &Bytes {
        &self.current
    }

    /// Makes the message that starts at `start` of [`Inbox::datagram`] (one
    /// [`Inbox::next_message`] just returned) the next one again.
    pub(crate) fn rewind(&mut self, start: usize) {
        self.at = start;
    }

    /// Whether everything received was walked: [`Inbox::next_message`] has nothing more.
    pub(crate) fn is_empty(&self) -> bool {
        self.at >= self.current.len() && self.datagrams.is_empty()
    }

    /// Receives one datagram into a buffer of the inbox's own, for a caller that walks it at
    /// once ([`Inbox::lent`], [`next_in`]) instead of queueing it: the shortest path from the
    /// kernel to a callback, with no slab or queue per datagram. Only when the inbox
    /// [`is_empty`](Inbox::is_empty). Waits at most `timeout` (forever with `None`, not at
    /// all with zero); returns whether a datagram came (an unreported overrun counts as an
    /// empty one, as in [`Inbox::receive`]: more may be waiting behind it).
    ///
    /// # Errors
    /// As [`Inbox::receive`]; a datagram larger than the inbox's size is an error.
    pub(crate) fn receive_lent(&mut self, conn: &Conn, timeout: Option<Duration>) -> Result<bool> {
        debug_assert!(self.is_empty(), "datagrams are walked in order");
        let Some(timeout) = conn.wait_unless_stopped(timeout)? else {
            return Ok(false);
        };
        let size = self.slabs.slot();
        if self.lent.len() != size + LINE {
            self.lent = vec![0; size + LINE];
            self.lent_at = to_line(self.lent.as_ptr());
        }
        self.lent_len = 0;
        let received = conn
            .transport()
            .recv_timeout(&mut self.lent[self.lent_at..][..size], timeout)
            .map_err(|source| Error::io("recv", source));
        match received {
            Ok(Some(n)) if n > size => Err(self.slabs.too_long(n)),
            Ok(Some(n)) => {
                self.lent_len = n;
                Ok(true)
            }
            Ok(None) => Ok(false),
            Err(Error::Overrun { .. }) if !self.report_overruns => Ok(true),
            Err(err) => Err(err),
        }
    }

    /// The datagram [`Inbox::receive_lent`] received.
    pub(crate) fn lent(&self) -> &[u8] {
        &self.lent[self.lent_at..][..self.lent_len]
    }

    /// Keeps what a caller left of [`Inbox::lent`], from `from` on, for
    /// [`Inbox::next_message`] (a copy: only after an error cut the walk short).
    pub(crate) fn keep_lent(&mut self, from: usize) {
        let rest = self.lent().get(from..).unwrap_or_default().to_vec();
        self.keep(&rest);
        self.lent_len = 0;
    }

    /// Keeps `rest`, what a walk over a datagram left when an error cut it short, for
    /// [`Inbox::next_message`] (a copy). Only when the inbox [`is_empty`](Inbox::is_empty).
    pub(crate) fn keep(&mut self, rest: &[u8]) {
        debug_assert!(self.is_empty(), "datagrams are walked in order");
        if !rest.is_empty() {
            self.current = Bytes::copy_from_slice(rest);
            self.at = 0;
        }
    }

    /// Adds a datagram the program received itself, after those waiting.
    pub(crate) fn push(&mut self, datagram: Bytes) {
        self.datagrams.push_back(datagram);
    }

    /// Whether a message of type `packet_type` is still to come from what was received (or
    /// another datagram, which almost always holds one).
    pub(crate) fn has_more(&self, packet_type: u16) -> bool {
        !self.datagrams.is_empty()
            || NlMsgIter::new(self.current.get(self.at..).unwrap_or_default())
                .map_while(std::result::Result::ok)
                .any(|m| m.header().msg_type == packet_type)
    }
}

/// The next message of type `packet_type` in `datagram` from `at` on, as
/// [`Inbox::next_message`] finds it; `at` moves past it (to the end after a framing error).
#[inline(always)]
pub(crate) fn next_in(
    datagram: &[u8],
    at: &mut usize,
    packet_type: u16,
    what: &str,
) -> Result<Option<Range<usize>>> {
    while let Some(rest) = datagram.get(*at..).filter(|rest| !rest.is_empty()) {
        let message = match NlMsg::new_checked(rest) {
            Ok(message) => message,
            Err(err) => {
                *at = datagram.len();
                return Err(Error::Malformed(err));
            }
        };
        let len = message.as_bytes().len();
        let start = *at;
        *at = start.saturating_add(wire::align(len));
        match Incoming::classify(message, packet_type) {
            Ok(Incoming::Packet(_)) => return Ok(Some(start..start + len)),
            Ok(Incoming::Error(errno)) => {
                return Err(Error::kernel(
                    what.to_owned(),
                    std::io::Error::from_raw_os_error(errno),
                ));
            }
            Ok(Incoming::Skip) => {}
            Err(err) => return Err(Error::Malformed(err)),
        }
    }
    Ok(None)
}

/// What a queue or log group's `recv_timeout` does: the next ready item of `source`, else
/// receiving (at most until `timeout` is up) until one is ready; `None` when the time is up.
pub(crate) fn recv_timeout<S, T>(
    source: &mut S,
    timeout: Duration,
    receive: fn(&mut S, Option<Duration>) -> Result<bool>,
    next_ready: fn(&mut S) -> Result<Option<T>>,
) -> Result<Option<T>> {
    if let Some(item) = next_ready(source)? {
        return Ok(Some(item));
    }
    if timeout.is_zero() {
        receive(source, Some(Duration::ZERO))?;
        return next_ready(source);
    }
    // The first wait is the whole timeout: the clock is read once per call, not per
    // receive. A timeout too large to add (Duration::MAX) waits forever.
    let deadline = Instant::now().checked_add(timeout);
    let mut left = deadline.map(|_| timeout);
    loop {
        if !receive(source, left)? {
            return Ok(None);
        }
        if let Some(item) = next_ready(source)? {
            return Ok(Some(item));
        }
        // What came held no packet: wait for what is left of the time.
        left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        if left.is_some_and(|left| left.is_zero()) {
            return Ok(None);
        }
    }
}

/// The errno of the kernel's answer to request `seq` in `datagram` (0 for success), or `None`
/// when the datagram holds no answer to it.
fn answer(datagram: &[u8], seq: u32) -> Option<i32> {
    NlMsgIter::new(datagram)
        .map_while(std::result::Result::ok)
        .filter(|m| m.header().msg_type == NLMSG_ERROR && m.header().seq == seq)
        .find_map(|m| NlError::parse(&m).ok())
        .map(|e| e.error.saturating_neg())
}

/// A netlink/nfnetlink header for a request to `res_id`.
pub(crate) fn request_header(seq: u32, res_id: u16) -> wire::NfHeader {
    wire::NfHeader {
        flags: REQUEST_ACK,
        seq,
        pid: 0,
        family: libc::AF_UNSPEC as u8,
        version: 0,
        res_id,
    }
}

/// Runs `f` in network namespace `ns`: on this thread when it is already there, else on a
/// thread that enters it.
pub(crate) fn in_namespace<T: Send>(ns: BorrowedFd<'_>, f: impl FnOnce() -> T + Send) -> Result<T> {
    use std::os::unix::fs::MetadataExt;
    let here = std::fs::metadata("/proc/thread-self/ns/net").map(|m| m.ino());
    let owned = ns.try_clone_to_owned().map_err(|source| Error::Io {
        call: "dup",
        source,
    })?;
    let there = std::fs::File::from(owned).metadata().map(|m| m.ino());
    match (here, there) {
        (Ok(a), Ok(b)) if a == b => Ok(f()),
        _ => Ok(netfilter_safe::netns::run_in(ns, f)?),
    }
}

/// A socket's network namespace: its descriptor, for procfs rows, and the names of its
/// interfaces by index, cached.
#[derive(Debug)]
pub(crate) struct Netns {
    fd: OwnedFd,
    /// Index and name of every interface, as last read; read again on a miss.
    names: std::sync::Mutex<Vec<(u32, String)>>,
}

impl Netns {
    pub(crate) fn new(fd: OwnedFd) -> Netns {
        Netns {
            fd,
            names: std::sync::Mutex::new(Vec::new()),
        }
    }

    pub(crate) fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// The name of interface `index` there: from the cache, else from the table read again
    /// (`if_nameindex`, in the namespace); `None` when there is no such interface.
    pub(crate) fn interface_name(&self, index: u32) -> Option<String> {
        let mut names = self
            .names
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let find = |names: &[(u32, String)]| {
            names
                .iter()
                .find(|(i, _)| *i == index)
                .map(|(_, name)| name.clone())
        };
        if let Some(name) = find(&names) {
            return Some(name);
        }
        *names = in_namespace(self.fd(), interface_table).ok()?.ok()?;
        find(&names)
    }
}

/// Every interface of this thread's network namespace: index and name (`if_nameindex`).
fn interface_table() -> std::io::Result<Vec<(u32, String)>> {
    // SAFETY: if_nameindex takes no arguments; it returns NULL or an array it allocated.
    let table = unsafe { libc::if_nameindex() };
    if table.is_null() {
        return Err(std::io::Error::last_os_error());
    }
    let mut names = Vec::new();
    let mut at = table;
    // SAFETY: the array ends with an entry whose index is 0 and name NULL; every entry
    // before it has a NUL-terminated name. It is freed once, after the last read.
    unsafe {
        while (*at).if_index != 0 && !(*at).if_name.is_null() {
            let name = std::ffi::CStr::from_ptr((*at).if_name);
            names.push(((*at).if_index, name.to_string_lossy().into_owned()));
            at = at.add(1);
        }
        libc::if_freenameindex(table);
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;
    use netfilter_testkit::fake::FakeKernel;

    #[test]
    fn the_lent_datagram_starts_on_a_cache_line() {
        let datagram: Vec<u8> = (0..=99).collect();
        let (kernel, transport) = FakeKernel::new().expect("a fake kernel");
        let conn = Conn::new(Link::Custom(Box::new(transport)));
        let mut inbox = Inbox::new(100, true);
        for _ in 0..2 {
            kernel.send(&datagram).expect("sent");
            let wait = Some(Duration::from_secs(5));
            assert!(inbox.receive_lent(&conn, wait).expect("received"));
            assert_eq!(inbox.lent(), &datagram[..]);
            assert_eq!(inbox.lent().as_ptr() as usize % LINE, 0);
        }
    }

    #[test]
    fn a_burst_drains_only_from_a_wide_receive() {
        let (kernel, transport) = FakeKernel::new().expect("a fake kernel");
        let conn = Conn::new(Link::Custom(Box::new(transport)));
        let mut inbox = Inbox::new(100, true);
        for i in 0..4u8 {
            kernel.send(&[i; 20]).expect("sent");
        }
        let wait = Some(Duration::from_secs(5));
        // Narrow (a packet at a time so far): one datagram, no attempt at the next.
        assert!(inbox.receive(&conn, wait, true).expect("received"));
        assert_eq!(inbox.datagrams.len(), 1);
        // Wide: every datagram waiting, in one burst, and wide it stays, for it took several.
        inbox.wide = true;
        assert!(inbox.receive(&conn, wait, true).expect("received"));
        assert_eq!(inbox.datagrams.len(), 4);
        let firsts: Vec<u8> = inbox.datagrams.iter().map(|d| d[0]).collect();
        assert_eq!(firsts, [0, 1, 2, 3]);
        assert!(inbox.wide);
        // A wide burst that found one datagram: narrow again.
        kernel.send(&[4; 20]).expect("sent");
        assert!(inbox.receive(&conn, wait, true).expect("received"));
        assert_eq!(inbox.datagrams.len(), 5);
        assert!(!inbox.wide);
    }

    #[test]
    fn receives_turn_wide_when_the_program_falls_behind_and_narrow_when_it_keeps_up() {
        let mut inbox = Inbox::new(64, true);
        // Narrow receives that each took their datagram: wide after PROBE of them in a row,
        // and a receive that found nothing starts the count again.
        for _ in 0..PROBE - 1 {
            inbox.adapt(1, true);
        }
        inbox.adapt(0, false);
        for _ in 0..PROBE - 1 {
            inbox.adapt(1, true);
            assert!(!inbox.wide);
        }
        inbox.adapt(1, true);
        assert!(inbox.wide);
        // Wide while several datagrams wait, narrow again when only one did.
        inbox.adapt(5, false);
        assert!(inbox.wide);
        inbox.adapt(1, false);
        assert!(!inbox.wide);
    }
}
