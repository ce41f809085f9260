//! The datagram channel to the kernel, behind a trait, for code that speaks the wire protocol
//! itself ([`crate::wire`]) instead of through the C libraries.
//!
//! [`NetlinkSocket`] is the real thing: a `NETLINK_NETFILTER` socket, opened in this thread's
//! network namespace, in another one, or adopted from a descriptor. The testkit's fake kernel
//! implements [`Transport`] too, so that code built on it can be tested without privileges.

use std::fmt;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

use crate::error::{Error, Result};
use crate::socket;

/// A datagram channel that carries nfnetlink messages to and from the kernel.
///
/// Every method takes `&self` and may be called from several threads at once: sending while
/// another thread receives is the normal case (verdicts from workers, a receive loop).
pub trait Transport: Send + Sync + fmt::Debug {
    /// Sends one datagram (one or more netlink messages) to the kernel.
    ///
    /// # Errors
    /// The errno of the failed send.
    fn send(&self, datagram: &[u8]) -> io::Result<()>;

    /// Receives one datagram into `buf` and returns its **full** length, which is larger than
    /// `buf.len()` when the datagram did not fit (the rest is lost). Blocks unless the
    /// transport is non-blocking.
    ///
    /// # Errors
    /// The errno of the failed receive (`ENOBUFS` after an overrun, `EAGAIN` when non-blocking
    /// and nothing is waiting).
    fn recv(&self, buf: &mut [u8]) -> io::Result<usize>;

    /// Receives one datagram if one is waiting, without blocking: `Ok(None)` when none is.
    /// The length is the full length, as for [`Transport::recv`].
    ///
    /// The provided version waits zero time and receives; transports override it with a
    /// single non-blocking call.
    ///
    /// # Errors
    /// As for [`Transport::recv`].
    fn try_recv(&self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        if self.wait_readable(Some(Duration::ZERO))? {
            self.recv(buf).map(Some)
        } else {
            Ok(None)
        }
    }

    /// Waits at most `timeout` (forever with `None`) for a datagram to be waiting; returns
    /// whether one is.
    ///
    /// # Errors
    /// The errno of the failed wait.
    fn wait_readable(&self, timeout: Option<Duration>) -> io::Result<bool>;

    /// Makes [`Transport::recv`] return `EAGAIN` instead of blocking, or blocking again.
    ///
    /// # Errors
    /// The errno of the failed change.
    fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()>;

    /// The descriptor that becomes readable when a datagram is waiting, for event loops.
    fn fd(&self) -> BorrowedFd<'_>;

    /// How many datagrams were dropped because the receive buffer was full (`SO_MEMINFO`'s
    /// drop counter of [`Transport::fd`]).
    ///
    /// # Errors
    /// [`Error::Call`] when the counter cannot be read.
    fn drops(&self) -> Result<u32> {
        socket::drops(self.fd().as_raw_fd())
    }
}

/// A `NETLINK_NETFILTER` socket. Closed on drop.
#[derive(Debug)]
pub struct NetlinkSocket {
    fd: OwnedFd,
}

impl NetlinkSocket {
    /// Opens a socket in the calling thread's network namespace, bound to a port id the
    /// kernel picks.
    ///
    /// # Errors
    /// [`Error::Call`] when the socket cannot be created or bound.
    pub fn open() -> Result<NetlinkSocket> {
        let addr = new_socket()?;
        Ok(NetlinkSocket {
            // SAFETY: `new_socket` returns a fresh descriptor that nothing else owns.
            fd: unsafe { OwnedFd::from_raw_fd(addr) },
        })
    }

    /// Opens a socket in another network namespace: `netns` is an open descriptor of it
    /// (`/run/netns/NAME`, `/proc/PID/ns/net`). The socket is made on a short-lived thread
    /// that enters the namespace; the calling thread is not moved.
    ///
    /// # Errors
    /// [`Error::NotPermitted`] without `CAP_SYS_ADMIN` over that namespace, [`Error::Call`]
    /// when `netns` is not a network namespace.
    pub fn open_in_netns(netns: BorrowedFd<'_>) -> Result<NetlinkSocket> {
        let fd = socket::open_in_netns(netns, "socket(NETLINK_NETFILTER)", || {
            new_socket().map_or(0, |fd| fd as usize)
        })?;
        Ok(NetlinkSocket {
            // SAFETY: the thread returned a fresh descriptor that nothing else owns.
            fd: unsafe { OwnedFd::from_raw_fd(fd as RawFd) },
        })
    }

    /// Takes over an existing socket, which must be a `NETLINK_NETFILTER` socket (made, for
    /// example, in another namespace and passed over a Unix socket).
    ///
    /// # Errors
    /// [`Error::Call`] when `fd` is not a `NETLINK_NETFILTER` socket.
    pub fn from_fd(fd: OwnedFd) -> Result<NetlinkSocket> {
        socket::check_netfilter_socket(fd.as_fd())?;
        Ok(NetlinkSocket { fd })
    }

    /// Sets the receive buffer; see [`crate::queue::QueueHandle::set_recv_buffer_size`].
    ///
    /// # Errors
    /// [`Error::NotPermitted`] for `force` without `CAP_NET_ADMIN`.
    pub fn set_recv_buffer_size(&self, bytes: u32, force: bool) -> Result<u32> {
        socket::set_recv_buffer_size(self.fd.as_raw_fd(), bytes, force)
    }

    /// With `true`, the kernel stops reporting `ENOBUFS` overruns on this socket
    /// (`NETLINK_NO_ENOBUFS`); messages are still lost when the buffer is full.
    ///
    /// # Errors
    /// [`Error::Call`] when the option cannot be set.
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

    fn wait_readable(&self, timeout: Option<Duration>) -> io::Result<bool> {
        socket::wait_readable(self.fd.as_raw_fd(), timeout)
    }

    fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        socket::set_nonblocking(self.fd.as_raw_fd(), nonblocking).map_err(|err| match err {
            Error::Call { source, .. } => source,
            other => io::Error::other(other.to_string()),
        })
    }

    fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
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
