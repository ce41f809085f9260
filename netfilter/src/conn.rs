//! The connection to the kernel that queues and log groups share: a [`Transport`], the
//! request/acknowledge exchange of configuration messages, and where the socket comes from.

use std::collections::VecDeque;
use std::fmt;
use std::fs::File;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use netfilter_safe::transport::{NetlinkSocket, Transport};
use netfilter_safe::wire::{self, Emit, Incoming, NLMSG_ERROR, NlError, NlMsg, NlMsgIter};

use crate::error::{Error, Result};
use crate::slabs::Slabs;

/// How long a configuration request waits for the kernel's answer.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(5);

/// `NLM_F_REQUEST | NLM_F_ACK`.
pub(crate) const REQUEST_ACK: u16 = (libc::NLM_F_REQUEST | libc::NLM_F_ACK) as u16;

/// Where the netlink socket lives.
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

    /// The transport a queue or log group uses: `custom` when given (a fake kernel), else a
    /// netlink socket opened here with the receive buffer and overrun options applied.
    pub(crate) fn transport(
        &self,
        custom: Option<Box<dyn Transport>>,
        recv_buffer: Option<u32>,
        report_overruns: bool,
    ) -> Result<Box<dyn Transport>> {
        if let Some(custom) = custom {
            return Ok(custom);
        }
        let socket = self.open_socket()?;
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
        Ok(Box::new(socket))
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

/// The transport plus what the request/answer exchange needs.
pub(crate) struct Conn {
    transport: Box<dyn Transport>,
    seq: AtomicU32,
}

impl fmt::Debug for Conn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Conn")
            .field("transport", &self.transport)
            .finish_non_exhaustive()
    }
}

impl Conn {
    pub(crate) fn new(transport: Box<dyn Transport>) -> Conn {
        Conn {
            transport,
            seq: AtomicU32::new(1),
        }
    }

    pub(crate) fn transport(&self) -> &dyn Transport {
        &*self.transport
    }

    /// Sends `datagram`.
    pub(crate) fn send(&self, datagram: &[u8]) -> Result<()> {
        self.transport
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
            let datagram = match self.recv(slabs, Some(left)) {
                Ok(Some(datagram)) => datagram,
                Ok(None) => return Err(Error::NoAnswer { request: what() }),
                // The socket is non-blocking and another reader took the datagram.
                Err(err) if err.is_would_block() => continue,
                Err(err) => return Err(err),
            };
            if let Some(errno) = answer(&datagram, seq) {
                return match errno {
                    0 => Ok(()),
                    errno => Err(Error::kernel(
                        what(),
                        std::io::Error::from_raw_os_error(errno),
                    )),
                };
            }
            stash.push_back(datagram);
        }
    }

    /// Receives one datagram into `slabs`, waiting at most `timeout` (forever with `None`,
    /// not at all with zero); `None` when none came in time.
    pub(crate) fn recv(
        &self,
        slabs: &mut Slabs,
        timeout: Option<Duration>,
    ) -> Result<Option<Bytes>> {
        let buf = slabs.room();
        match self
            .transport
            .recv_timeout(buf, timeout)
            .map_err(|source| Error::io("recv", source))?
        {
            Some(n) => slabs.take(n).map(Some),
            None => Ok(None),
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
}

impl Inbox {
    /// An inbox for datagrams of up to `size` bytes.
    pub(crate) fn new(size: usize, report_overruns: bool) -> Inbox {
        Inbox {
            slabs: Slabs::new(size),
            datagrams: VecDeque::with_capacity(BURST),
            current: Bytes::new(),
            at: 0,
            report_overruns,
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

    /// Receives one datagram, waiting at most `timeout` for it (see [`Conn::recv`]), and with
    /// `burst` also those already waiting behind it, up to [`BURST`]. Returns whether anything
    /// came. An overrun is returned as [`Error::Overrun`] unless reporting is off.
    pub(crate) fn receive(
        &mut self,
        conn: &Conn,
        timeout: Option<Duration>,
        burst: bool,
    ) -> Result<bool> {
        let mut next = conn.recv(&mut self.slabs, timeout);
        let rounds = if burst { BURST } else { 1 };
        let mut received = false;
        for round in 1..=rounds {
            match next {
                Ok(Some(datagram)) => self.datagrams.push_back(datagram),
                Ok(None) => return Ok(received),
                Err(Error::Overrun { .. }) if !self.report_overruns => return Ok(true),
                Err(err) => return Err(err),
            }
            received = true;
            if round == rounds {
                break;
            }
            next = conn.recv(&mut self.slabs, Some(Duration::ZERO));
        }
        Ok(received)
    }

    /// The next message of type `packet_type` received, as a slice of its datagram; `None`
    /// when every received datagram is walked. The kernel's error reports (answers to `what`,
    /// e.g. verdicts) and malformed messages come back as errors in their turn; the walk goes
    /// on after them with the next call (a framing error ends its datagram). Control messages
    /// (`NLMSG_DONE` ending an NFLOG batch, acknowledgements) are skipped.
    pub(crate) fn next_message(&mut self, packet_type: u16, what: &str) -> Result<Option<Bytes>> {
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
            let rest = self.current.get(self.at..).unwrap_or_default();
            let message = match NlMsg::new_checked(rest) {
                Ok(message) => message,
                Err(err) => {
                    self.at = self.current.len();
                    return Err(Error::Malformed(err));
                }
            };
            let len = message.as_bytes().len();
            let start = self.at;
            self.at = start.saturating_add(wire::align(len));
            match Incoming::classify(message, packet_type) {
                Ok(Incoming::Packet(_)) => return Ok(Some(self.current.slice(start..start + len))),
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
    // A timeout too large to add (Duration::MAX) waits forever.
    let deadline = Instant::now().checked_add(timeout);
    loop {
        let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        let received = receive(source, left)?;
        if let Some(item) = next_ready(source)? {
            return Ok(Some(item));
        }
        // Nothing came in time, or what came held nothing and the time is up.
        if !received || left.is_some_and(|left| left.is_zero()) {
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

/// The name of interface `index` in network namespace `ns` (`if_indextoname`), `None` when
/// there is no such interface.
pub(crate) fn interface_name(ns: &OwnedFd, index: u32) -> Option<String> {
    in_namespace(ns.as_fd(), || {
        let mut name = [0 as libc::c_char; libc::IF_NAMESIZE];
        // SAFETY: `name` has room for IF_NAMESIZE bytes, as if_indextoname requires; on
        // success it holds a NUL-terminated name.
        let found = unsafe { libc::if_indextoname(index, name.as_mut_ptr()) };
        if found.is_null() {
            return None;
        }
        // SAFETY: if_indextoname succeeded, so `name` is NUL-terminated.
        let name = unsafe { std::ffi::CStr::from_ptr(name.as_ptr()) };
        Some(name.to_string_lossy().into_owned())
    })
    .ok()
    .flatten()
}
