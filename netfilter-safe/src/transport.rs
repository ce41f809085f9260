//! The datagram channel to the kernel, behind a trait, for code that speaks the wire protocol
//! itself ([`crate::wire`]) instead of through the C libraries.
//!
//! [`NetlinkSocket`] is the real thing: a `NETLINK_NETFILTER` socket, opened in this thread's
//! network namespace, in another one, or adopted from a descriptor. The testkit's fake kernel
//! implements [`Transport`] too, so that code built on it can be tested without privileges.

use std::fmt;
use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::socket;

/// A datagram channel that carries nfnetlink messages to and from the kernel.
///
/// Every method takes `&self` and may be called from several threads at once: sending while
/// another thread receives is the normal case (verdicts from workers, a receive loop).
///
/// A program's end of a kernel conversation; here the testkit's fake kernel, whose answers
/// are those of `nfnetlink`:
///
/// ```
/// use netfilter_safe::transport::Transport;
/// use netfilter_safe::wire::{Emit, LogConfig, Message, Messages};
/// use netfilter_testkit::fake::FakeKernel;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// /// Binds log group `group` and returns the kernel's answer (0 or -errno).
/// fn bind(transport: &dyn Transport, group: u16) -> Result<i32, Box<dyn std::error::Error>> {
///     let mut request = LogConfig::default();
///     request.header.res_id = group;
///     request.header.flags = (libc::NLM_F_REQUEST | libc::NLM_F_ACK) as u16;
///     request.cmd = Some(1); // NFULNL_CFG_CMD_BIND
///     transport.send(&request.to_bytes()?)?;
///     let mut buf = vec![0; 4096];
///     let n = transport.recv(&mut buf)?;
///     match Messages::new(&buf[..n]).next() {
///         Some(Ok(Message::Error(answer))) => Ok(answer.error),
///         other => Err(format!("unexpected {other:?}").into()),
///     }
/// }
///
/// let (kernel, transport) = FakeKernel::new()?;
/// assert_eq!(bind(&transport, 5)?, 0);
/// assert_eq!(bind(&transport, 5)?, -libc::EBUSY); // bound already
/// assert_eq!(kernel.log_config(5).map(|c| c.copy_mode), Some(2));
/// # Ok(())
/// # }
/// ```
pub trait Transport: Send + Sync + fmt::Debug {
    /// Sends one datagram (one or more netlink messages) to the kernel.
    ///
    /// # Errors
    /// The errno of the failed send.
    ///
    /// ```
    /// use netfilter_safe::transport::Transport;
    /// use netfilter_testkit::fake::FakeKernel;
    ///
    /// let (kernel, transport) = FakeKernel::new()?;
    /// transport.send(&[0; 16])?; // one netlink header, no request flag: skipped
    /// assert_eq!(kernel.datagrams(), 1);
    /// drop(kernel);
    /// assert!(transport.send(&[0; 16]).is_err()); // EPIPE: nobody at the other end
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn send(&self, datagram: &[u8]) -> io::Result<()>;

    /// Receives one datagram into `buf` and returns its **full** length, which is larger than
    /// `buf.len()` when the datagram did not fit (the rest is lost). Blocks unless the
    /// transport is non-blocking.
    ///
    /// # Errors
    /// The errno of the failed receive (`ENOBUFS` after an overrun, `EAGAIN` when non-blocking
    /// and nothing is waiting).
    ///
    /// ```
    /// # use netfilter_safe::transport::Transport;
    /// # use netfilter_testkit::fake::FakeKernel;
    /// # use netfilter_testkit::synth::LogPacketBuilder;
    /// # let (kernel, transport) = FakeKernel::new()?;
    /// # let mut buf = vec![0u8; 0x10000];
    /// let message = LogPacketBuilder::ipv4(1).payload(vec![0; 100]).to_bytes()?;
    /// kernel.send(&message)?;
    /// // Too small a buffer: the full length comes back, as with MSG_TRUNC.
    /// let mut small = [0u8; 16];
    /// assert_eq!(transport.recv(&mut small)?, message.len());
    /// kernel.send(&message)?;
    /// let n = transport.recv(&mut buf)?;
    /// assert_eq!(&buf[..n], &message[..]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn recv(&self, buf: &mut [u8]) -> io::Result<usize>;

    /// Receives one datagram if one is waiting, without blocking: `Ok(None)` when none is.
    /// The length is the full length, as for [`Transport::recv`].
    ///
    /// The provided version waits zero time and receives; transports override it with a
    /// single non-blocking call.
    ///
    /// # Errors
    /// As for [`Transport::recv`].
    ///
    /// ```
    /// # use netfilter_safe::transport::Transport;
    /// # use netfilter_testkit::fake::FakeKernel;
    /// # use netfilter_testkit::synth::LogPacketBuilder;
    /// # let (kernel, transport) = FakeKernel::new()?;
    /// # let mut buf = vec![0u8; 0x10000];
    /// assert_eq!(transport.try_recv(&mut buf)?, None);
    /// let message = LogPacketBuilder::ipv4(1).to_bytes()?;
    /// kernel.send(&message)?;
    /// assert_eq!(transport.try_recv(&mut buf)?, Some(message.len()));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn try_recv(&self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        if self.wait_readable(Some(Duration::ZERO))? {
            self.recv(buf).map(Some)
        } else {
            Ok(None)
        }
    }

    /// Receives one datagram, waiting at most `timeout` for it (forever with `None`; not at
    /// all with zero): `Ok(None)` when none came in time. The length is the full length, as
    /// for [`Transport::recv`].
    ///
    /// The provided version waits with [`Transport::wait_readable`], then receives with
    /// [`Transport::try_recv`]; [`NetlinkSocket`] does it in one call.
    ///
    /// # Errors
    /// As for [`Transport::recv`].
    ///
    /// ```
    /// use std::time::Duration;
    /// # use netfilter_safe::transport::Transport;
    /// # use netfilter_testkit::fake::FakeKernel;
    /// # use netfilter_testkit::synth::LogPacketBuilder;
    /// # let (kernel, transport) = FakeKernel::new()?;
    /// # let mut buf = vec![0u8; 0x10000];
    /// assert_eq!(transport.recv_timeout(&mut buf, Some(Duration::from_millis(5)))?, None);
    /// kernel.send(&LogPacketBuilder::ipv4(1).to_bytes()?)?;
    /// assert!(transport.recv_timeout(&mut buf, Some(Duration::from_secs(5)))?.is_some());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn recv_timeout(&self, buf: &mut [u8], timeout: Option<Duration>) -> io::Result<Option<usize>> {
        wait_then_recv(self, buf, timeout)
    }

    /// Waits at most `timeout` (forever with `None`) for a datagram to be waiting; returns
    /// whether one is.
    ///
    /// # Errors
    /// The errno of the failed wait.
    ///
    /// ```
    /// use std::time::Duration;
    /// # use netfilter_safe::transport::Transport;
    /// # use netfilter_testkit::fake::FakeKernel;
    /// # use netfilter_testkit::synth::LogPacketBuilder;
    /// # let (kernel, transport) = FakeKernel::new()?;
    /// # let mut buf = vec![0u8; 0x10000];
    /// assert!(!transport.wait_readable(Some(Duration::ZERO))?);
    /// kernel.send(&LogPacketBuilder::ipv4(1).to_bytes()?)?;
    /// assert!(transport.wait_readable(Some(Duration::from_secs(5)))?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn wait_readable(&self, timeout: Option<Duration>) -> io::Result<bool>;

    /// Makes [`Transport::recv`] return `EAGAIN` instead of blocking, or blocking again.
    ///
    /// # Errors
    /// The errno of the failed change.
    ///
    /// ```
    /// # use netfilter_safe::transport::Transport;
    /// # use netfilter_testkit::fake::FakeKernel;
    /// # use netfilter_testkit::synth::LogPacketBuilder;
    /// # let (kernel, transport) = FakeKernel::new()?;
    /// # let mut buf = vec![0u8; 0x10000];
    /// transport.set_nonblocking(true)?;
    /// let err = transport.recv(&mut buf).unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::WouldBlock);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()>;

    /// The descriptor that becomes readable when a datagram is waiting, for event loops.
    ///
    /// ```
    /// use std::os::fd::AsRawFd;
    /// # use netfilter_safe::transport::Transport;
    /// # use netfilter_testkit::fake::FakeKernel;
    /// # use netfilter_testkit::synth::LogPacketBuilder;
    /// # let (kernel, transport) = FakeKernel::new()?;
    /// # let mut buf = vec![0u8; 0x10000];
    /// kernel.send(&LogPacketBuilder::ipv4(1).to_bytes()?)?;
    /// let mut pfd = libc::pollfd { fd: transport.fd().as_raw_fd(), events: libc::POLLIN, revents: 0 };
    /// // SAFETY: one valid pollfd, no timeout.
    /// assert_eq!(unsafe { libc::poll(&mut pfd, 1, 0) }, 1); // readable: a datagram waits
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn fd(&self) -> BorrowedFd<'_>;

    /// How many datagrams were dropped because the receive buffer was full (`SO_MEMINFO`'s
    /// drop counter of [`Transport::fd`]).
    ///
    /// # Errors
    /// [`Error::Call`] when the counter cannot be read.
    ///
    /// ```
    /// use netfilter_safe::transport::{NetlinkSocket, Transport};
    ///
    /// let socket = NetlinkSocket::open()?;
    /// assert_eq!(socket.drops()?, 0); // nothing received, nothing dropped
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn drops(&self) -> Result<u32> {
        socket::drops(self.fd().as_raw_fd())
    }
}

/// [`Transport::recv_timeout`] for any transport: wait, then receive without blocking, until
/// a datagram is taken or the time is up.
fn wait_then_recv<T: Transport + ?Sized>(
    transport: &T,
    buf: &mut [u8],
    timeout: Option<Duration>,
) -> io::Result<Option<usize>> {
    // A timeout too large to add (Duration::MAX) waits forever.
    let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
    loop {
        let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        if !transport.wait_readable(left)? {
            return Ok(None);
        }
        // Another reader may have taken it: wait again, unless the time is up.
        if let Some(n) = transport.try_recv(buf)? {
            return Ok(Some(n));
        }
        if left.is_some_and(|left| left.is_zero()) {
            return Ok(None);
        }
    }
}

/// `SO_RCVTIMEO` not known (never set by us).
const TIMEOUT_UNKNOWN: u64 = u64::MAX;

/// A `NETLINK_NETFILTER` socket. Closed on drop.
///
/// ```
/// use std::time::Duration;
/// use netfilter_safe::transport::{NetlinkSocket, Transport};
///
/// // Opening needs no privilege; binding a queue or log group needs CAP_NET_ADMIN.
/// let socket = NetlinkSocket::open()?;
/// assert_ne!(socket.port_id()?, 0);
/// let mut buf = vec![0; 4096];
/// assert_eq!(socket.recv_timeout(&mut buf, Some(Duration::from_millis(1)))?, None);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct NetlinkSocket {
    fd: OwnedFd,
    /// The receive timeout last set with `SO_RCVTIMEO`, in microseconds (0: none), so that a
    /// loop receiving with the same timeout sets it once.
    recv_timeout_us: AtomicU64,
    /// Whether `O_NONBLOCK` is set (a blocking receive with a timeout would not wait).
    nonblocking: AtomicBool,
}

impl NetlinkSocket {
    /// Opens a socket in the calling thread's network namespace, bound to a port id the
    /// kernel picks.
    ///
    /// # Errors
    /// [`Error::Call`] when the socket cannot be created or bound.
    ///
    /// ```
    /// use netfilter_safe::transport::NetlinkSocket;
    ///
    /// let (a, b) = (NetlinkSocket::open()?, NetlinkSocket::open()?);
    /// assert_ne!(a.port_id()?, b.port_id()?); // each bound to its own port id
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn open() -> Result<NetlinkSocket> {
        let addr = new_socket()?;
        // SAFETY: `new_socket` returns a fresh descriptor that nothing else owns.
        Ok(NetlinkSocket::new(
            unsafe { OwnedFd::from_raw_fd(addr) },
            false,
        ))
    }

    /// Opens a socket in another network namespace: `netns` is an open descriptor of it
    /// (`/run/netns/NAME`, `/proc/PID/ns/net`). The socket is made on a short-lived thread
    /// that enters the namespace; the calling thread is not moved.
    ///
    /// # Errors
    /// [`Error::NotPermitted`] without `CAP_SYS_ADMIN` over that namespace, [`Error::Call`]
    /// when `netns` is not a network namespace.
    ///
    /// ```no_run
    /// use std::fs::File;
    /// use std::os::fd::AsFd;
    /// use netfilter_safe::transport::NetlinkSocket;
    ///
    /// let blue = File::open("/run/netns/blue")?; // made by `ip netns add blue`
    /// let socket = NetlinkSocket::open_in_netns(blue.as_fd())?;
    /// println!("port {} in blue", socket.port_id()?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn open_in_netns(netns: BorrowedFd<'_>) -> Result<NetlinkSocket> {
        let fd = socket::open_in_netns(netns, "socket(NETLINK_NETFILTER)", || {
            new_socket().map_or(0, |fd| fd as usize)
        })?;
        // SAFETY: the thread returned a fresh descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd as RawFd) };
        Ok(NetlinkSocket::new(fd, false))
    }

    /// Takes over an existing socket, which must be a `NETLINK_NETFILTER` socket (made, for
    /// example, in another namespace and passed over a Unix socket).
    ///
    /// # Errors
    /// [`Error::Call`] when `fd` is not a `NETLINK_NETFILTER` socket.
    ///
    /// ```
    /// use std::os::fd::{FromRawFd, OwnedFd};
    /// use netfilter_safe::transport::NetlinkSocket;
    ///
    /// // SAFETY: socket(2) returns a new descriptor that nothing else owns.
    /// let raw = unsafe { libc::socket(libc::AF_NETLINK, libc::SOCK_RAW | libc::SOCK_CLOEXEC, libc::NETLINK_NETFILTER) };
    /// assert!(raw >= 0);
    /// // SAFETY: `raw` is open and owned by nobody else.
    /// let socket = NetlinkSocket::from_fd(unsafe { OwnedFd::from_raw_fd(raw) })?;
    /// # let _ = socket;
    /// // Any other socket is refused.
    /// let udp = OwnedFd::from(std::net::UdpSocket::bind("127.0.0.1:0")?);
    /// assert!(NetlinkSocket::from_fd(udp).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_fd(fd: OwnedFd) -> Result<NetlinkSocket> {
        socket::check_netfilter_socket(fd.as_fd())?;
        let nonblocking = socket::is_nonblocking(fd.as_raw_fd())?;
        Ok(NetlinkSocket::new(fd, nonblocking))
    }

    fn new(fd: OwnedFd, nonblocking: bool) -> NetlinkSocket {
        NetlinkSocket {
            fd,
            recv_timeout_us: AtomicU64::new(TIMEOUT_UNKNOWN),
            nonblocking: AtomicBool::new(nonblocking),
        }
    }

    /// Receives what is waiting with one `recvmmsg` call: waits at most `timeout` for the
    /// first datagram (forever with `None`, not at all with zero), then takes those already
    /// waiting behind it, up to `lens.len()` datagrams, at most 64 and at most
    /// `buf.len() / slot`. Datagram `i` lands at `buf[i * slot..]` and `lens[i]` is its
    /// **full** length, larger than `slot` when it did not fit (the rest is lost). Returns how
    /// many came: 0 when none did in time.
    ///
    /// `buf` need not be initialised: after `Ok(n)`, the first `min(lens[i], slot)` bytes of
    /// each slot `i < n` are (the kernel wrote them), and nothing else in `buf` was touched.
    /// An error that comes after the first datagram (an overrun) is kept by the kernel and
    /// returned by the next receive.
    ///
    /// ```no_run
    /// use std::mem::MaybeUninit;
    /// use netfilter_safe::transport::NetlinkSocket;
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let socket = NetlinkSocket::open()?;
    /// const SLOT: usize = 0x10000 + 4096;
    /// let mut buf = vec![MaybeUninit::<u8>::uninit(); 8 * SLOT];
    /// let mut lens = [0; 8];
    /// let n = socket.recv_batch(&mut buf, SLOT, &mut lens, None)?;
    /// println!("{n} datagrams of {:?} bytes", &lens[..n]);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// As for [`Transport::recv`]; `InvalidInput` when `slot` is 0, `buf` shorter than
    /// `slot` or `lens` empty.
    pub fn recv_batch(
        &self,
        buf: &mut [MaybeUninit<u8>],
        slot: usize,
        lens: &mut [usize],
        timeout: Option<Duration>,
    ) -> io::Result<usize> {
        if slot == 0 || buf.len() < slot || lens.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "recv_batch: no room for a datagram",
            ));
        }
        let fd = self.fd.as_raw_fd();
        let flags = if timeout.is_some_and(|t| t.is_zero()) {
            libc::MSG_DONTWAIT
        } else if self.nonblocking.load(Ordering::Relaxed) {
            // A non-blocking socket does not wait in recvmmsg: poll first, as
            // `wait_then_recv` does.
            let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
            loop {
                let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
                if !socket::wait_readable(fd, left)? {
                    return Ok(0);
                }
                // Another reader may have taken it: wait again, unless the time is up.
                match self.recv_batch(buf, slot, lens, Some(Duration::ZERO))? {
                    0 if !left.is_some_and(|left| left.is_zero()) => {}
                    n => return Ok(n),
                }
            }
        } else {
            self.set_recv_timeout(timeout)?;
            libc::MSG_WAITFORONE
        };
        match socket::recv_batch_raw(fd, buf, slot, lens, flags) {
            Ok(n) => Ok(n),
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => Ok(0),
            Err(err) => Err(err),
        }
    }

    /// Makes a blocking receive wait at most `timeout` (forever with `None`): sets
    /// `SO_RCVTIMEO` when it differs from the last value set.
    fn set_recv_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        // Whole microseconds, rounded up: SO_RCVTIMEO of 0 means no timeout at all.
        let micros = timeout.map_or(0, |t| {
            u64::try_from(t.as_micros().max(1))
                .map_or(TIMEOUT_UNKNOWN - 1, |us| us.min(TIMEOUT_UNKNOWN - 1))
        });
        if self.recv_timeout_us.load(Ordering::Relaxed) != micros {
            socket::set_recv_timeout(self.fd.as_raw_fd(), micros).map_err(into_io)?;
            self.recv_timeout_us.store(micros, Ordering::Relaxed);
        }
        Ok(())
    }

    /// Sets the socket's receive buffer (`SO_RCVBUF`, or with `force` `SO_RCVBUFFORCE`, which
    /// needs `CAP_NET_ADMIN` and ignores `net.core.rmem_max`). Returns the size the kernel
    /// reports afterwards (twice the request: it counts its bookkeeping).
    ///
    /// # Errors
    /// [`Error::NotPermitted`] for `force` without `CAP_NET_ADMIN`.
    ///
    /// ```
    /// use netfilter_safe::transport::NetlinkSocket;
    ///
    /// let socket = NetlinkSocket::open()?;
    /// // Without `force`, capped by net.core.rmem_max; the kernel reports twice what it keeps.
    /// let size = socket.set_recv_buffer_size(64 * 1024, false)?;
    /// assert!(size >= 2 * 4096);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set_recv_buffer_size(&self, bytes: u32, force: bool) -> Result<u32> {
        socket::set_recv_buffer_size(self.fd.as_raw_fd(), bytes, force)
    }

    /// With `true`, the kernel stops reporting `ENOBUFS` overruns on this socket
    /// (`NETLINK_NO_ENOBUFS`); messages are still lost when the buffer is full.
    ///
    /// # Errors
    /// [`Error::Call`] when the option cannot be set.
    ///
    /// ```
    /// use netfilter_safe::transport::NetlinkSocket;
    ///
    /// let socket = NetlinkSocket::open()?;
    /// socket.set_no_enobufs(true)?; // overruns are no longer reported (messages still lost)
    /// socket.set_no_enobufs(false)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set_no_enobufs(&self, suppress: bool) -> Result<()> {
        socket::set_int_option(
            self.fd.as_raw_fd(),
            libc::SOL_NETLINK,
            libc::NETLINK_NO_ENOBUFS,
            i32::from(suppress),
            "setsockopt(NETLINK_NO_ENOBUFS)",
        )
    }

    /// The port id the kernel gave the socket (`nl_pid`), as procfs rows show it.
    ///
    /// # Errors
    /// [`Error::Call`] when `getsockname` fails.
    ///
    /// ```
    /// use netfilter_safe::transport::NetlinkSocket;
    ///
    /// let socket = NetlinkSocket::open()?;
    /// // The kernel picks the port id; procfs rows name the socket by it (`peer_portid`).
    /// assert_ne!(socket.port_id()?, 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn port_id(&self) -> Result<u32> {
        // SAFETY: an all-zero sockaddr_nl is a valid value.
        let mut addr: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        let mut len = size_of::<libc::sockaddr_nl>() as libc::socklen_t;
        // SAFETY: `addr` and `len` are valid for writes and `len` holds `addr`'s size.
        let rc = unsafe {
            libc::getsockname(
                self.fd.as_raw_fd(),
                (&mut addr as *mut libc::sockaddr_nl).cast(),
                &mut len,
            )
        };
        if rc < 0 {
            return Err(Error::last("getsockname"));
        }
        Ok(addr.nl_pid)
    }
}

/// Creates and binds a `NETLINK_NETFILTER` socket; returns its descriptor.
fn new_socket() -> Result<RawFd> {
    // SAFETY: plain socket(2); the result is checked.
    let fd = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            libc::NETLINK_NETFILTER,
        )
    };
    if fd < 0 {
        return Err(Error::last("socket(NETLINK_NETFILTER)"));
    }
    // SAFETY: an all-zero sockaddr_nl is valid; nl_pid 0 asks the kernel to pick the port id.
    let mut addr: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
    addr.nl_family = libc::AF_NETLINK as libc::sa_family_t;
    // SAFETY: `addr` is a valid sockaddr_nl of the size passed.
    let rc = unsafe {
        libc::bind(
            fd,
            (&addr as *const libc::sockaddr_nl).cast(),
            size_of::<libc::sockaddr_nl>() as libc::socklen_t,
        )
    };
    if rc < 0 {
        let err = Error::last("bind(NETLINK_NETFILTER)");
        // SAFETY: `fd` is ours and closed once.
        unsafe { libc::close(fd) };
        return Err(err);
    }
    Ok(fd)
}

impl Transport for NetlinkSocket {
    fn send(&self, datagram: &[u8]) -> io::Result<()> {
        // SAFETY: an all-zero sockaddr_nl is valid: family set below, nl_pid 0 is the kernel.
        let mut kernel: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        kernel.nl_family = libc::AF_NETLINK as libc::sa_family_t;
        loop {
            // SAFETY: `datagram` is valid for reads of its length; `kernel` is a valid
            // address of the size passed.
            let rc = unsafe {
                libc::sendto(
                    self.fd.as_raw_fd(),
                    datagram.as_ptr().cast(),
                    datagram.len(),
                    0,
                    (&kernel as *const libc::sockaddr_nl).cast(),
                    size_of::<libc::sockaddr_nl>() as libc::socklen_t,
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

    fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        socket::recv_raw(self.fd.as_raw_fd(), buf, 0)
    }

    fn try_recv(&self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        match socket::recv_raw(self.fd.as_raw_fd(), buf, libc::MSG_DONTWAIT) {
            Ok(n) => Ok(Some(n)),
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => Ok(None),
            Err(err) => Err(err),
        }
    }

    /// One blocking `recv` under `SO_RCVTIMEO` (set only when the timeout changes), instead
    /// of `poll` and `recv`. A signal restarts the wait with the whole timeout. On a
    /// non-blocking socket it waits with `poll`.
    fn recv_timeout(&self, buf: &mut [u8], timeout: Option<Duration>) -> io::Result<Option<usize>> {
        if timeout.is_some_and(|t| t.is_zero()) {
            return self.try_recv(buf);
        }
        if self.nonblocking.load(Ordering::Relaxed) {
            return wait_then_recv(self, buf, timeout);
        }
        self.set_recv_timeout(timeout)?;
        match socket::recv_raw(self.fd.as_raw_fd(), buf, 0) {
            Ok(n) => Ok(Some(n)),
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => Ok(None),
            Err(err) => Err(err),
        }
    }

    fn wait_readable(&self, timeout: Option<Duration>) -> io::Result<bool> {
        socket::wait_readable(self.fd.as_raw_fd(), timeout)
    }

    fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        socket::set_nonblocking(self.fd.as_raw_fd(), nonblocking).map_err(into_io)?;
        self.nonblocking.store(nonblocking, Ordering::Relaxed);
        Ok(())
    }

    fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// The OS error inside a failed socket call.
fn into_io(err: Error) -> io::Error {
    match err {
        Error::Call { source, .. } => source,
        other => io::Error::other(other.to_string()),
    }
}

impl AsFd for NetlinkSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl AsRawFd for NetlinkSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

/// The socket's descriptor, to hand to another owner (e.g. `netfilter`'s builders' `socket`,
/// or a Unix socket to another process); [`NetlinkSocket::from_fd`] takes it back.
impl From<NetlinkSocket> for OwnedFd {
    fn from(socket: NetlinkSocket) -> OwnedFd {
        socket.fd
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    /// Runs `f` on a thread and fails (instead of hanging) if it takes longer than 10 s.
    fn within_10s<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || tx.send(f()));
        rx.recv_timeout(Duration::from_secs(10))
            .expect("finished within 10 s")
    }

    /// A request the kernel answers with an error (no such nfnetlink subsystem), asking for
    /// that answer.
    fn bad_request() -> Vec<u8> {
        let mut msg = vec![0u8; 20];
        msg[0..4].copy_from_slice(&20u32.to_ne_bytes());
        // Subsystem 0xff, message 0xff.
        msg[4..6].copy_from_slice(&0xffffu16.to_ne_bytes());
        let flags = (libc::NLM_F_REQUEST | libc::NLM_F_ACK) as u16;
        msg[6..8].copy_from_slice(&flags.to_ne_bytes());
        msg
    }

    #[test]
    fn recv_timeout_waits_about_the_time_then_gives_none() {
        let socket = NetlinkSocket::open().expect("socket");
        let mut buf = [0u8; 256];
        for nonblocking in [false, true] {
            socket.set_nonblocking(nonblocking).expect("mode");
            let start = Instant::now();
            let got = socket
                .recv_timeout(&mut buf, Some(Duration::from_millis(60)))
                .expect("recv");
            assert_eq!(got, None, "nonblocking {nonblocking}");
            assert!(
                start.elapsed() >= Duration::from_millis(50),
                "nonblocking {nonblocking}: waited only {:?}",
                start.elapsed()
            );
        }
    }

    #[test]
    fn recv_timeout_below_a_microsecond_does_not_wait_forever() {
        // SO_RCVTIMEO of zero would mean "no timeout": the timeout must be rounded up.
        let got = within_10s(|| {
            let socket = NetlinkSocket::open().expect("socket");
            let mut buf = [0u8; 256];
            socket.recv_timeout(&mut buf, Some(Duration::from_nanos(1)))
        });
        assert_eq!(got.expect("recv"), None);
    }

    #[test]
    fn recv_timeout_takes_what_arrives_and_forever_means_forever() {
        let (first, second) = within_10s(|| {
            let socket = NetlinkSocket::open().expect("socket");
            let mut buf = [0u8; 256];
            socket.send(&bad_request()).expect("send");
            let first = socket.recv_timeout(&mut buf, Some(Duration::from_secs(5)));
            // The cached timeout switches back to none: this waits until the answer is there.
            socket.send(&bad_request()).expect("send");
            let second = socket.recv_timeout(&mut buf, None);
            (first, second)
        });
        // The error answer: a netlink header and an nlmsgerr (error code and the request).
        assert!(first.expect("recv").is_some_and(|n| n >= 36));
        assert!(second.expect("recv").is_some_and(|n| n >= 36));
    }

    /// `bad_request` with sequence number `seq`.
    fn bad_request_seq(seq: u32) -> Vec<u8> {
        let mut msg = bad_request();
        msg[8..12].copy_from_slice(&seq.to_ne_bytes());
        msg
    }

    /// The sequence number of the request an error answer in `datagram` quotes.
    fn answered_seq(datagram: &[u8]) -> u32 {
        // nlmsghdr (16), error code (4), then the request's own nlmsghdr: seq at 8.
        u32::from_ne_bytes(datagram[28..32].try_into().expect("4 bytes"))
    }

    /// The first `len` bytes of slot `i`, which `recv_batch` reported written.
    fn slot_bytes(buf: &[MaybeUninit<u8>], slot: usize, i: usize, len: usize) -> Vec<u8> {
        buf[i * slot..i * slot + len]
            .iter()
            // SAFETY: `recv_batch` wrote these bytes (its documented postcondition).
            .map(|b| unsafe { b.assume_init() })
            .collect()
    }

    #[test]
    fn recv_batch_takes_every_waiting_datagram_in_one_call_in_order() {
        const SLOT: usize = 256;
        let socket = NetlinkSocket::open().expect("socket");
        let mut buf = vec![MaybeUninit::uninit(); 4 * SLOT];
        let mut lens = [0; 4];
        for seq in 1..=3 {
            socket.send(&bad_request_seq(seq)).expect("send");
        }
        // The kernel answers while sending: three datagrams wait.
        let n = socket
            .recv_batch(&mut buf, SLOT, &mut lens, None)
            .expect("recv_batch");
        assert_eq!(n, 3);
        for (i, &len) in lens[..n].iter().enumerate() {
            assert!((36..=SLOT).contains(&len), "datagram {i}: {len} bytes");
            let datagram = slot_bytes(&buf, SLOT, i, len);
            assert_eq!(answered_seq(&datagram), i as u32 + 1, "in order");
        }
        // Nothing left: no wait with zero, a wait of about the timeout otherwise, in both
        // modes.
        let zero = Some(Duration::ZERO);
        assert_eq!(
            socket.recv_batch(&mut buf, SLOT, &mut lens, zero).ok(),
            Some(0)
        );
        for nonblocking in [false, true] {
            socket.set_nonblocking(nonblocking).expect("mode");
            let start = Instant::now();
            let timeout = Some(Duration::from_millis(60));
            let n = socket.recv_batch(&mut buf, SLOT, &mut lens, timeout);
            assert_eq!(n.ok(), Some(0), "nonblocking {nonblocking}");
            assert!(start.elapsed() >= Duration::from_millis(50));
        }
    }

    #[test]
    fn recv_batch_takes_no_more_than_its_slots_and_reports_cut_datagrams() {
        let socket = NetlinkSocket::open().expect("socket");
        let mut buf = vec![MaybeUninit::uninit(); 2 * 256];
        let mut lens = [0; 4];
        for seq in 1..=3 {
            socket.send(&bad_request_seq(seq)).expect("send");
        }
        // Two slots in `buf`: two datagrams, then the third.
        assert_eq!(
            socket.recv_batch(&mut buf, 256, &mut lens, None).ok(),
            Some(2)
        );
        assert_eq!(
            socket.recv_batch(&mut buf, 256, &mut lens[..1], None).ok(),
            Some(1)
        );
        assert_eq!(answered_seq(&slot_bytes(&buf, 256, 0, lens[0])), 3);
        // A slot too small: the full length is reported, larger than the slot.
        socket.send(&bad_request_seq(4)).expect("send");
        assert_eq!(
            socket.recv_batch(&mut buf, 20, &mut lens, None).ok(),
            Some(1)
        );
        assert!(lens[0] > 20, "full length {}", lens[0]);
        // No room at all is refused.
        let err = socket.recv_batch(&mut buf[..10], 20, &mut lens, None);
        assert_eq!(err.map_err(|e| e.kind()), Err(io::ErrorKind::InvalidInput));
        let err = socket.recv_batch(&mut buf, 0, &mut lens, None);
        assert_eq!(err.map_err(|e| e.kind()), Err(io::ErrorKind::InvalidInput));
    }

    #[test]
    fn adopted_nonblocking_sockets_still_wait() {
        let socket = NetlinkSocket::open().expect("socket");
        socket.set_nonblocking(true).expect("nonblocking");
        let adopted = NetlinkSocket::from_fd(socket.fd).expect("adopt");
        let mut buf = [0u8; 256];
        let start = Instant::now();
        let got = adopted
            .recv_timeout(&mut buf, Some(Duration::from_millis(60)))
            .expect("recv");
        assert_eq!(got, None);
        assert!(start.elapsed() >= Duration::from_millis(50));
    }
}
