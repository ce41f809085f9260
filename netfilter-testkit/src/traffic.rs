//! Traffic between namespaces (or on a sandbox's loopback): UDP, TCP and ICMP/ICMPv6 echo over
//! IPv4 and IPv6, every wait bounded by a timeout that ends in [`Error::Timeout`].
//!
//! Sockets are created inside the given sandbox (and so belong to its namespace); receiving
//! then happens on the calling thread.
//!
//! ```no_run
//! # fn main() -> Result<(), netfilter_testkit::Error> {
//! use netfilter_testkit::TwoHosts;
//! use netfilter_testkit::traffic::{self, DEFAULT_TIMEOUT, UdpReceiver};
//! use std::net::SocketAddr;
//!
//! let hosts = TwoHosts::new()?;
//! let server: SocketAddr = (TwoHosts::SERVER.ipv6, 5000).into();
//! let receiver = UdpReceiver::bind(&hosts.server, server)?;
//! traffic::udp_send(&hosts.client, server, b"hello")?;
//! let (payload, from) = receiver.recv(DEFAULT_TIMEOUT)?;
//! assert_eq!((payload.as_slice(), from.ip()), (&b"hello"[..], TwoHosts::CLIENT.ipv6.into()));
//! traffic::ping(&hosts.client, TwoHosts::SERVER.ipv4.into(), DEFAULT_TIMEOUT)?;
//! # Ok(())
//! # }
//! ```

use std::io::{self, Read, Write};
use std::mem;
use std::net::{
    IpAddr, Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, TcpListener, TcpStream, UdpSocket,
};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

use crate::{Error, Sandbox};

/// A reasonable bound for waits in tests on an idle machine.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);

/// Waits up to `timeout` for `fd` to become readable; `Ok(false)` when it did not.
pub(crate) fn poll_readable(fd: BorrowedFd<'_>, timeout: Duration) -> io::Result<bool> {
    let mut pollfd = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    let millis = timeout.as_millis().clamp(1, i32::MAX as u128) as libc::c_int;
    // SAFETY: pollfd is a valid array of one element for the duration of the call.
    let ready = unsafe { libc::poll(&mut pollfd, 1, millis) };
    match ready {
        n if n < 0 => {
            let error = io::Error::last_os_error();
            if error.kind() == io::ErrorKind::Interrupted {
                Ok(false)
            } else {
                Err(error)
            }
        }
        0 => Ok(false),
        _ => Ok(true),
    }
}

fn unspecified(addr: &SocketAddr) -> SocketAddr {
    match addr {
        SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    }
}

fn timeout(what: impl Into<String>, after: Duration) -> Error {
    Error::Timeout {
        what: what.into(),
        after,
    }
}

/// A UDP socket bound inside a sandbox.
#[derive(Debug)]
pub struct UdpReceiver {
    socket: UdpSocket,
    addr: SocketAddr,
}

impl UdpReceiver {
    /// Binds `addr` inside `sandbox` (port 0 picks a free port, see [`UdpReceiver::local_addr`]).
    ///
    /// # Errors
    ///
    /// [`Error::Io`] naming the bind.
    pub fn bind(sandbox: &Sandbox, addr: SocketAddr) -> Result<UdpReceiver, Error> {
        let socket = sandbox
            .try_run(|| UdpSocket::bind(addr))?
            .map_err(|e| Error::io(format!("bind udp {addr} in {}", sandbox.name()), e))?;
        let addr = socket
            .local_addr()
            .map_err(|e| Error::io("getsockname", e))?;
        Ok(UdpReceiver { socket, addr })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The socket, for anything else.
    pub fn socket(&self) -> &UdpSocket {
        &self.socket
    }

    /// Waits up to `timeout` for one datagram.
    ///
    /// # Errors
    ///
    /// [`Error::Timeout`] when none arrives; [`Error::Io`] otherwise.
    pub fn recv(&self, timeout_after: Duration) -> Result<(Vec<u8>, SocketAddr), Error> {
        let deadline = Instant::now() + timeout_after;
        let mut buf = vec![0u8; 65536];
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(timeout(
                    format!("udp datagram on {}", self.addr),
                    timeout_after,
                ));
            }
            if !poll_readable(self.socket.as_fd(), left)
                .map_err(|e| Error::io(format!("poll udp {}", self.addr), e))?
            {
                continue;
            }
            self.socket
                .set_nonblocking(true)
                .map_err(|e| Error::io("set_nonblocking", e))?;
            match self.socket.recv_from(&mut buf) {
                Ok((len, from)) => return Ok((buf[..len].to_vec(), from)),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => return Err(Error::io(format!("recv udp {}", self.addr), e)),
            }
        }
    }
}

/// Sends one UDP datagram from `sandbox` (from an ephemeral port) to `to`.
///
/// # Errors
///
/// [`Error::Io`] naming the failing call (e.g. `ENETUNREACH` without a route, `EPERM` when an
/// OUTPUT rule drops it).
pub fn udp_send(sandbox: &Sandbox, to: SocketAddr, payload: &[u8]) -> Result<(), Error> {
    udp_send_from(sandbox, unspecified(&to), to, payload)
}

/// Sends one UDP datagram from `from` (inside `sandbox`) to `to`.
///
/// # Errors
///
/// As for [`udp_send`].
pub fn udp_send_from(
    sandbox: &Sandbox,
    from: SocketAddr,
    to: SocketAddr,
    payload: &[u8],
) -> Result<(), Error> {
    sandbox
        .try_run(|| UdpSocket::bind(from).and_then(|socket| socket.send_to(payload, to)))?
        .map(|_| ())
        .map_err(|e| Error::io(format!("send udp {from} -> {to} in {}", sandbox.name()), e))
}

/// A TCP listener inside a sandbox.
#[derive(Debug)]
pub struct TcpServer {
    listener: TcpListener,
    addr: SocketAddr,
}

impl TcpServer {
    /// Listens on `addr` inside `sandbox` (port 0 picks a free port).
    ///
    /// # Errors
    ///
    /// [`Error::Io`] naming the bind.
    pub fn bind(sandbox: &Sandbox, addr: SocketAddr) -> Result<TcpServer, Error> {
        let listener = sandbox
            .try_run(|| TcpListener::bind(addr))?
            .map_err(|e| Error::io(format!("listen tcp {addr} in {}", sandbox.name()), e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| Error::io("getsockname", e))?;
        Ok(TcpServer { listener, addr })
    }

    /// The listening address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Accepts one connection and reads until the peer closes it, all within `timeout`.
    ///
    /// # Errors
    ///
    /// [`Error::Timeout`] when no connection comes or the peer does not finish in time.
    pub fn accept_read(&self, timeout_after: Duration) -> Result<(Vec<u8>, SocketAddr), Error> {
        let deadline = Instant::now() + timeout_after;
        let (mut stream, peer) = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(timeout(
                    format!("tcp connection on {}", self.addr),
                    timeout_after,
                ));
            }
            if !poll_readable(self.listener.as_fd(), left)
                .map_err(|e| Error::io(format!("poll tcp {}", self.addr), e))?
            {
                continue;
            }
            self.listener
                .set_nonblocking(true)
                .map_err(|e| Error::io("set_nonblocking", e))?;
            match self.listener.accept() {
                Ok(accepted) => break accepted,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => return Err(Error::io(format!("accept tcp {}", self.addr), e)),
            }
        };
        stream
            .set_nonblocking(false)
            .map_err(|e| Error::io("set_nonblocking", e))?;
        let mut data = Vec::new();
        let mut buf = [0u8; 16384];
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(timeout(
                    format!("end of tcp stream from {peer}"),
                    timeout_after,
                ));
            }
            stream
                .set_read_timeout(Some(left))
                .map_err(|e| Error::io("set_read_timeout", e))?;
            match stream.read(&mut buf) {
                Ok(0) => return Ok((data, peer)),
                Ok(n) => data.extend_from_slice(&buf[..n]),
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    return Err(timeout(
                        format!("end of tcp stream from {peer}"),
                        timeout_after,
                    ));
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Error::io(format!("read tcp from {peer}"), e)),
            }
        }
    }
}

/// Connects from `sandbox` to `to`, sends `payload` and closes the connection, within
/// `timeout`.
///
/// # Errors
///
/// [`Error::Timeout`] when the connection is not established in time (the SYN was dropped or
/// is waiting in a queue); [`Error::Io`] when it is refused or writing fails.
pub fn tcp_send(
    sandbox: &Sandbox,
    to: SocketAddr,
    payload: &[u8],
    timeout_after: Duration,
) -> Result<(), Error> {
    let stream = sandbox
        .try_run(|| TcpStream::connect_timeout(&to, timeout_after))?
        .map_err(|e| {
            if matches!(
                e.kind(),
                io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
            ) {
                timeout(format!("tcp connection to {to}"), timeout_after)
            } else {
                Error::io(format!("connect tcp {to} from {}", sandbox.name()), e)
            }
        })?;
    let mut stream = stream;
    stream
        .set_write_timeout(Some(timeout_after))
        .map_err(|e| Error::io("set_write_timeout", e))?;
    stream
        .write_all(payload)
        .and_then(|()| stream.shutdown(Shutdown::Write))
        .map_err(|e| Error::io(format!("send tcp to {to}"), e))
}

static PING_SEQUENCE: AtomicU16 = AtomicU16::new(1);

/// The raw `sockaddr` for `addr`.
fn sockaddr(addr: SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: sockaddr_storage is plain data; all-zero is a valid value.
    let mut storage: libc::sockaddr_storage = unsafe { mem::zeroed() };
    let len = match addr {
        SocketAddr::V4(v4) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: v4.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes(v4.ip().octets()),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: sockaddr_storage is larger than and suitably aligned for sockaddr_in.
            unsafe {
                (&mut storage as *mut libc::sockaddr_storage)
                    .cast::<libc::sockaddr_in>()
                    .write(sin)
            };
            mem::size_of::<libc::sockaddr_in>()
        }
        SocketAddr::V6(v6) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: v6.port().to_be(),
                sin6_flowinfo: 0,
                sin6_addr: libc::in6_addr {
                    s6_addr: v6.ip().octets(),
                },
                sin6_scope_id: v6.scope_id(),
            };
            // SAFETY: sockaddr_storage is larger than and suitably aligned for sockaddr_in6.
            unsafe {
                (&mut storage as *mut libc::sockaddr_storage)
                    .cast::<libc::sockaddr_in6>()
                    .write(sin6)
            };
            mem::size_of::<libc::sockaddr_in6>()
        }
    };
    (storage, len as libc::socklen_t)
}

/// Sends one ICMP (IPv4) or ICMPv6 echo request from `sandbox` to `to` and waits up to
/// `timeout` for the reply; returns the round-trip time.
///
/// Uses an unprivileged ICMP ("ping") socket, no `ping` binary: it first sets the sandbox's
/// `net.ipv4.ping_group_range` to the caller's group (which governs both families).
///
/// # Errors
///
/// [`Error::Timeout`] when no reply comes; [`Error::Io`] when sending fails.
pub fn ping(sandbox: &Sandbox, to: IpAddr, timeout_after: Duration) -> Result<Duration, Error> {
    // SAFETY: getegid has no preconditions and cannot fail.
    let gid = unsafe { libc::getegid() };
    crate::topology::set_sysctl(
        sandbox,
        "net/ipv4/ping_group_range",
        &format!("{gid} {gid}"),
    )?;
    let (domain, protocol, request, reply) = match to {
        IpAddr::V4(_) => (libc::AF_INET, libc::IPPROTO_ICMP, 8u8, 0u8),
        IpAddr::V6(_) => (libc::AF_INET6, libc::IPPROTO_ICMPV6, 128u8, 129u8),
    };
    let socket = sandbox.try_run(|| {
        // SAFETY: plain socket(2) call; the result is checked below.
        let fd = unsafe { libc::socket(domain, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, protocol) };
        if fd < 0 {
            return Err(Error::last_os(format!("socket(ping, {to})")));
        }
        // SAFETY: fd was just returned by socket(2) and is owned by nothing else.
        Ok(unsafe { OwnedFd::from_raw_fd(fd) })
    })??;
    let sequence = PING_SEQUENCE.fetch_add(1, Ordering::Relaxed);
    let mut message = vec![request, 0, 0, 0, 0, 0];
    message.extend_from_slice(&sequence.to_be_bytes());
    message.extend_from_slice(b"netfilter-testkit ping");
    let (addr, addr_len) = sockaddr(SocketAddr::new(to, 0));
    let started = Instant::now();
    // SAFETY: message is a valid buffer; addr is a valid sockaddr of addr_len bytes.
    let sent = unsafe {
        libc::sendto(
            socket.as_raw_fd(),
            message.as_ptr().cast(),
            message.len(),
            0,
            (&addr as *const libc::sockaddr_storage).cast(),
            addr_len,
        )
    };
    if sent < 0 {
        return Err(Error::last_os(format!("send echo request to {to}")));
    }
    let deadline = started + timeout_after;
    let mut buf = [0u8; 2048];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(timeout(format!("echo reply from {to}"), timeout_after));
        }
        if !poll_readable(socket.as_fd(), left).map_err(|e| Error::io("poll ping socket", e))? {
            continue;
        }
        // SAFETY: buf is a valid writable buffer of buf.len() bytes.
        let len = unsafe {
            libc::recv(
                socket.as_raw_fd(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                libc::MSG_DONTWAIT,
            )
        };
        if len < 0 {
            let error = io::Error::last_os_error();
            if matches!(
                error.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
            ) {
                continue;
            }
            return Err(Error::io(format!("receive echo reply from {to}"), error));
        }
        let reply_packet = &buf[..len as usize];
        if reply_packet.len() >= 8
            && reply_packet[0] == reply
            && reply_packet[6..8] == sequence.to_be_bytes()
        {
            return Ok(started.elapsed());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sockaddr_layouts() {
        let (storage, len) = sockaddr("192.0.2.7:53".parse().unwrap());
        assert_eq!(len as usize, mem::size_of::<libc::sockaddr_in>());
        assert_eq!(storage.ss_family, libc::AF_INET as libc::sa_family_t);
        let (storage, len) = sockaddr("[2001:db8::1]:53".parse().unwrap());
        assert_eq!(len as usize, mem::size_of::<libc::sockaddr_in6>());
        assert_eq!(storage.ss_family, libc::AF_INET6 as libc::sa_family_t);
    }
}
