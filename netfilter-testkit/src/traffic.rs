//! Traffic between namespaces (or on a sandbox's loopback): UDP, TCP and ICMP/ICMPv6 echo over
//! IPv4 and IPv6, every wait bounded by a timeout that ends in [`Error::Timeout`].
//!
//! Sockets are created inside the given sandbox (and so belong to its namespace); receiving
//! then happens on the calling thread.
//!
//! For load tests, [`udp_send_bulk`] and [`UdpReceiver::recv_bulk`] move thousands of
//! numbered datagrams with `sendmmsg`/`recvmmsg`; [`udp_send_as`] sends as a chosen uid and
//! gid (for queues with the UID_GID flag); [`Timestamping`] keeps the kernel's receive
//! timestamps on, so that queued and logged packets carry one.
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
    poll_for(fd, libc::POLLIN, timeout)
}

/// Waits up to `timeout` for one of `events` on `fd`; `Ok(false)` when none came.
fn poll_for(fd: BorrowedFd<'_>, events: libc::c_short, timeout: Duration) -> io::Result<bool> {
    let mut pollfd = libc::pollfd {
        fd: fd.as_raw_fd(),
        events,
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

impl UdpReceiver {
    /// Sets the socket's receive buffer to `bytes` (`SO_RCVBUFFORCE`, past
    /// `net.core.rmem_max`, where the process has `CAP_NET_ADMIN` in the namespace; else
    /// `SO_RCVBUF`, capped by it), so that a burst of datagrams is not dropped before
    /// [`UdpReceiver::recv_bulk`] reads it.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] naming `setsockopt`.
    pub fn set_recv_buffer_size(&self, bytes: u32) -> Result<(), Error> {
        let value = libc::c_int::try_from(bytes).unwrap_or(libc::c_int::MAX);
        let fd = self.socket.as_fd();
        set_int_option(fd, libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, value)
            .or_else(|_| set_int_option(fd, libc::SOL_SOCKET, libc::SO_RCVBUF, value))
            .map_err(|e| {
                Error::io(
                    format!("setsockopt(SO_RCVBUF, {bytes}) on {}", self.addr),
                    e,
                )
            })
    }

    /// Receives datagrams with `recvmmsg` until `count` have come or `timeout` has passed, and
    /// reports what came: it returns early only with `count` datagrams, and a short report
    /// (not an error) when time ran out, so that a load test can measure loss. Each datagram's
    /// first 4 bytes are read as its sequence number, as [`udp_send_bulk`] writes it; shorter
    /// datagrams are not counted.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when polling or receiving fails.
    pub fn recv_bulk(&self, count: usize, timeout_after: Duration) -> Result<BulkReport, Error> {
        const SLOTS: usize = 32;
        const SLOT_LEN: usize = 1 << 16; // any UDP datagram fits: nothing is cut
        let deadline = Instant::now() + timeout_after;
        let mut buf = vec![0u8; SLOTS * SLOT_LEN];
        let mut iovecs: Vec<libc::iovec> = buf
            .chunks_exact_mut(SLOT_LEN)
            .map(|slot| libc::iovec {
                iov_base: slot.as_mut_ptr().cast(),
                iov_len: slot.len(),
            })
            .collect();
        // SAFETY: mmsghdr is plain data; all-zero is a valid value (null name and control).
        let mut headers: Vec<libc::mmsghdr> =
            (0..SLOTS).map(|_| unsafe { mem::zeroed() }).collect();
        for (header, iovec) in headers.iter_mut().zip(iovecs.iter_mut()) {
            header.msg_hdr.msg_iov = iovec;
            header.msg_hdr.msg_iovlen = 1;
        }
        let mut report = BulkReport::default();
        while report.sequences.len() < count {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            if !poll_readable(self.socket.as_fd(), left)
                .map_err(|e| Error::io(format!("poll udp {}", self.addr), e))?
            {
                continue;
            }
            let wanted = (count - report.sequences.len()).min(SLOTS);
            // SAFETY: `headers` holds `wanted` (at most SLOTS) valid mmsghdrs, each with one
            // iovec into `buf`, which outlives the call; no name, control or timeout.
            let received = unsafe {
                libc::recvmmsg(
                    self.socket.as_raw_fd(),
                    headers.as_mut_ptr(),
                    wanted as libc::c_uint,
                    libc::MSG_DONTWAIT,
                    std::ptr::null_mut(),
                )
            };
            if received < 0 {
                let error = io::Error::last_os_error();
                if matches!(
                    error.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                ) {
                    continue;
                }
                return Err(Error::io(format!("recvmmsg on udp {}", self.addr), error));
            }
            for (header, slot) in headers
                .iter()
                .zip(buf.chunks_exact(SLOT_LEN))
                .take(received as usize)
            {
                let len = header.msg_len as usize;
                if let Some(sequence) = slot[..len].first_chunk::<4>() {
                    report.sequences.push(u32::from_be_bytes(*sequence));
                    report.bytes += len as u64;
                }
            }
        }
        Ok(report)
    }
}

/// What [`UdpReceiver::recv_bulk`] received.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BulkReport {
    /// The sequence numbers of the datagrams, in the order they arrived.
    pub sequences: Vec<u32>,
    /// The datagrams' total size, in bytes.
    pub bytes: u64,
}

impl BulkReport {
    /// The sequence numbers below `sent` that did not arrive, in order.
    pub fn missing(&self, sent: u32) -> Vec<u32> {
        let mut seen = vec![false; sent as usize];
        for &sequence in &self.sequences {
            if let Some(slot) = seen.get_mut(sequence as usize) {
                *slot = true;
            }
        }
        (0..sent).filter(|&n| !seen[n as usize]).collect()
    }

    /// Whether the datagrams arrived in increasing sequence order.
    pub fn in_order(&self) -> bool {
        self.sequences.windows(2).all(|pair| pair[0] < pair[1])
    }
}

/// Sends `count` UDP datagrams of `size` bytes from `sandbox` (from one ephemeral port) to
/// `to` with `sendmmsg`, 64 per call, all within `timeout`. Datagram `n` starts with `n` as a
/// 4-byte big-endian sequence number (what [`UdpReceiver::recv_bulk`] reads); the rest is
/// filler.
///
/// ```no_run
/// # fn main() -> Result<(), netfilter_testkit::Error> {
/// use netfilter_testkit::Sandbox;
/// use netfilter_testkit::traffic::{self, UdpReceiver};
/// use std::time::Duration;
///
/// let sandbox = Sandbox::new()?;
/// let receiver = UdpReceiver::bind(&sandbox, ([127, 0, 0, 1], 0).into())?;
/// receiver.set_recv_buffer_size(8 << 20)?;
/// let to = receiver.local_addr();
/// std::thread::scope(|s| -> Result<(), netfilter_testkit::Error> {
///     let received = s.spawn(|| receiver.recv_bulk(5000, Duration::from_secs(10)));
///     traffic::udp_send_bulk(&sandbox, to, 5000, 100, Duration::from_secs(10))?;
///     let report = received.join().unwrap()?;
///     assert!(report.missing(5000).is_empty());
///     Ok(())
/// })?;
/// # Ok(())
/// # }
/// ```
///
/// # Errors
///
/// [`Error::Invalid`] for a `size` under 4 or over 65507 bytes; [`Error::Timeout`] when the
/// datagrams could not all be sent in time (a queue holds them back and the socket's send
/// buffer is full, say); [`Error::Io`] when sending fails (`EPERM` when an OUTPUT rule drops
/// them).
pub fn udp_send_bulk(
    sandbox: &Sandbox,
    to: SocketAddr,
    count: u32,
    size: usize,
    timeout_after: Duration,
) -> Result<(), Error> {
    const BATCH: usize = 64;
    if !(4..=65507).contains(&size) {
        return Err(Error::Invalid {
            reason: format!("bulk datagrams of {size} bytes: the size must be 4 to 65507"),
        });
    }
    let deadline = Instant::now() + timeout_after;
    let socket = sandbox
        .try_run(|| UdpSocket::bind(unspecified(&to)))?
        .and_then(|socket| socket.set_nonblocking(true).map(|()| socket))
        .map_err(|e| Error::io(format!("bind udp for {to} in {}", sandbox.name()), e))?;
    let (mut addr, addr_len) = sockaddr(to);
    let mut buf = vec![0xa5u8; BATCH * size];
    let mut sent = 0u32;
    while sent < count {
        let batch = ((count - sent) as usize).min(BATCH);
        for (n, slot) in buf.chunks_exact_mut(size).take(batch).enumerate() {
            slot[..4].copy_from_slice(&(sent + n as u32).to_be_bytes());
        }
        let mut iovecs: Vec<libc::iovec> = buf
            .chunks_exact_mut(size)
            .take(batch)
            .map(|slot| libc::iovec {
                iov_base: slot.as_mut_ptr().cast(),
                iov_len: slot.len(),
            })
            .collect();
        let mut headers: Vec<libc::mmsghdr> = iovecs
            .iter_mut()
            .map(|iovec| {
                // SAFETY: mmsghdr is plain data; all-zero is a valid value.
                let mut header: libc::mmsghdr = unsafe { mem::zeroed() };
                header.msg_hdr.msg_name = (&mut addr as *mut libc::sockaddr_storage).cast();
                header.msg_hdr.msg_namelen = addr_len;
                header.msg_hdr.msg_iov = iovec;
                header.msg_hdr.msg_iovlen = 1;
                header
            })
            .collect();
        // SAFETY: `headers` holds `batch` valid mmsghdrs whose name points to `addr` and whose
        // iovec points into `buf`; all of them outlive the call.
        let done = unsafe {
            libc::sendmmsg(
                socket.as_raw_fd(),
                headers.as_mut_ptr(),
                batch as libc::c_uint,
                0,
            )
        };
        if done > 0 {
            sent += done as u32;
            continue;
        }
        let error = io::Error::last_os_error();
        let full = matches!(
            error.kind(),
            io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
        ) || error.raw_os_error() == Some(libc::ENOBUFS);
        if !full {
            return Err(Error::io(
                format!("sendmmsg to {to} from {}", sandbox.name()),
                error,
            ));
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(timeout(
                format!("sending {count} datagrams to {to} ({sent} sent)"),
                timeout_after,
            ));
        }
        poll_for(
            socket.as_fd(),
            libc::POLLOUT,
            left.min(Duration::from_millis(10)),
        )
        .map_err(|e| Error::io(format!("poll udp to {to}"), e))?;
    }
    Ok(())
}

/// Sets an `int` socket option.
fn set_int_option(
    fd: BorrowedFd<'_>,
    level: libc::c_int,
    name: libc::c_int,
    value: libc::c_int,
) -> io::Result<()> {
    // SAFETY: `value` is a valid c_int for the duration of the call, and its size is passed.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (&value as *const libc::c_int).cast(),
            mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// A user and group id to send as ([`udp_send_as`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Credentials {
    /// The user id (as the sending process's user namespace numbers it).
    pub uid: u32,
    /// The group id.
    pub gid: u32,
}

impl Credentials {
    /// The same ids as the initial user namespace numbers them, which is how the kernel
    /// reports a packet's owner (`NFQA_UID`/`NFQA_GID`, `NFULA_UID`/`NFULA_GID`). As root of
    /// the initial namespace they are unchanged; in rootless mode uid 0 is the caller's uid.
    ///
    /// # Errors
    ///
    /// [`Error::Unsupported`] when this process's user namespace does not map them;
    /// [`Error::Io`] when `/proc/self/uid_map` or `gid_map` cannot be read.
    pub fn in_initial_namespace(self) -> Result<Credentials, Error> {
        let map = |file: &str, id: u32| -> Result<u32, Error> {
            let path = format!("/proc/self/{file}");
            let text =
                std::fs::read_to_string(&path).map_err(|e| Error::io(format!("read {path}"), e))?;
            map_id(&text, id).ok_or_else(|| {
                Error::unsupported(
                    format!("id {id} outside this user namespace"),
                    format!("{path} does not map it: {}", text.trim()),
                )
            })
        };
        Ok(Credentials {
            uid: map("uid_map", self.uid)?,
            gid: map("gid_map", self.gid)?,
        })
    }
}

/// `id` through a `/proc/<pid>/uid_map` text (`inside outside count` lines).
fn map_id(map: &str, id: u32) -> Option<u32> {
    map.lines().find_map(|line| {
        let mut fields = line.split_whitespace().map(str::parse::<u64>);
        let (Some(Ok(inside)), Some(Ok(outside)), Some(Ok(count))) =
            (fields.next(), fields.next(), fields.next())
        else {
            return None;
        };
        let id = u64::from(id);
        (inside..inside + count)
            .contains(&id)
            .then(|| u32::try_from(outside + (id - inside)).ok())
            .flatten()
    })
}

/// Sends one UDP datagram from `sandbox` to `to` from a socket that belongs to `credentials`
/// (for a queue's UID_GID flag: the queued packet's [`uid`] and [`gid`] are theirs, as the
/// initial user namespace numbers them, see [`Credentials::in_initial_namespace`]).
///
/// Only the short-lived thread that makes the socket changes its ids (with the raw
/// `setresgid`/`setresuid` system calls, which, unlike libc's wrappers, change only the
/// calling thread); supplementary groups are left as they are.
///
/// [`uid`]: https://docs.rs/netfilter/latest/netfilter/struct.Packet.html#method.uid
/// [`gid`]: https://docs.rs/netfilter/latest/netfilter/struct.Packet.html#method.gid
///
/// ```no_run
/// # fn main() -> Result<(), netfilter_testkit::Error> {
/// use netfilter_testkit::Sandbox;
/// use netfilter_testkit::traffic::{self, Credentials};
///
/// let sandbox = Sandbox::new()?;
/// let nobody = Credentials { uid: 65534, gid: 65534 };
/// traffic::udp_send_as(&sandbox, nobody, ([127, 0, 0, 1], 9000).into(), b"from nobody")?;
/// # Ok(())
/// # }
/// ```
///
/// # Errors
///
/// [`Error::Unsupported`] when the user namespace does not map the ids (rootless mode maps
/// only uid and gid 0); [`Error::Privilege`] without `CAP_SETUID`/`CAP_SETGID`;
/// [`Error::Io`] when sending fails.
pub fn udp_send_as(
    sandbox: &Sandbox,
    credentials: Credentials,
    to: SocketAddr,
    payload: &[u8],
) -> Result<(), Error> {
    let Credentials { uid, gid } = credentials;
    sandbox.try_run(|| -> Result<(), Error> {
        for (call, number, id) in [
            ("setresgid", libc::SYS_setresgid, gid),
            ("setresuid", libc::SYS_setresuid, uid),
        ] {
            // SAFETY: the raw system call changes the real, effective and saved ids of the
            // calling thread only: this short-lived thread, which exits after the send.
            if unsafe { libc::syscall(number, id, id, id) } != 0 {
                let error = io::Error::last_os_error();
                return Err(match error.raw_os_error() {
                    Some(libc::EINVAL) => Error::unsupported(
                        format!("sending as uid {uid}, gid {gid}"),
                        format!(
                            "{call}({id}) failed: the id is not mapped in this user namespace \
                             (rootless mode maps only uid and gid 0; run as root)"
                        ),
                    ),
                    Some(libc::EPERM) => Error::Privilege {
                        needed: format!("CAP_SETUID and CAP_SETGID to send as uid {uid}"),
                    },
                    _ => Error::io(format!("{call}({id})"), error),
                });
            }
        }
        UdpSocket::bind(unspecified(&to))
            .and_then(|socket| socket.send_to(payload, to))
            .map(|_| ())
            .map_err(|e| {
                Error::io(
                    format!("send udp to {to} as uid {uid} in {}", sandbox.name()),
                    e,
                )
            })
    })?
}

/// Keeps the kernel's software receive timestamps switched on while it lives.
///
/// The kernel stamps received packets (and so gives queued and logged packets their
/// `NFQA_TIMESTAMP`/`NFULA_TIMESTAMP`) only while some socket on the machine asks for receive
/// timestamps; without one, whether a test's packet carries a timestamp depends on what else
/// runs. This guard holds such a socket, so that packets received while it lives (at
/// PREROUTING, INPUT, FORWARD) are stamped; locally generated packets at OUTPUT carry no
/// timestamp either way. The switch is machine-wide (a static key), so the guard affects
/// the whole machine, as `tcpdump` does; the socket itself lives inside the sandbox.
///
/// The socket asks with `SO_TIMESTAMPING` (software receive stamps), not `SO_TIMESTAMPNS`:
/// both turn the switch on, but a `SO_TIMESTAMPNS` socket stamps its own packets late when
/// the switch is off, and so cannot tell when the switch (which the kernel flips from a work
/// queue, a moment after the request) has taken effect. [`Timestamping::enable`] returns only
/// once a datagram to itself came stamped.
///
/// ```no_run
/// # fn main() -> Result<(), netfilter_testkit::Error> {
/// use netfilter_testkit::TwoHosts;
/// use netfilter_testkit::traffic::Timestamping;
///
/// let hosts = TwoHosts::new()?;
/// let _stamps = Timestamping::enable(&hosts.server)?;
/// // Packets the server receives from now on carry a timestamp.
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct Timestamping {
    _socket: UdpSocket,
}

impl Timestamping {
    /// Turns receive timestamps on, and waits (up to [`DEFAULT_TIMEOUT`]) until the kernel
    /// stamps a datagram the guard's socket sends itself on `sandbox`'s loopback.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] naming the failing call; [`Error::Timeout`] when no stamped datagram
    /// came.
    pub fn enable(sandbox: &Sandbox) -> Result<Timestamping, Error> {
        let socket = sandbox
            .try_run(|| UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)))?
            .map_err(|e| Error::io(format!("bind udp 127.0.0.1:0 in {}", sandbox.name()), e))?;
        let flags = libc::SOF_TIMESTAMPING_RX_SOFTWARE | libc::SOF_TIMESTAMPING_SOFTWARE;
        set_int_option(
            socket.as_fd(),
            libc::SOL_SOCKET,
            libc::SO_TIMESTAMPING,
            flags as libc::c_int,
        )
        .map_err(|e| Error::io("setsockopt(SO_TIMESTAMPING)", e))?;
        let own = socket
            .local_addr()
            .map_err(|e| Error::io("getsockname", e))?;
        let deadline = Instant::now() + DEFAULT_TIMEOUT;
        while Instant::now() < deadline {
            socket
                .send_to(b"stamp?", own)
                .map_err(|e| Error::io(format!("send udp to {own}"), e))?;
            if !poll_readable(socket.as_fd(), DEFAULT_TIMEOUT)
                .map_err(|e| Error::io(format!("poll udp {own}"), e))?
            {
                continue;
            }
            if received_stamped(&socket)? {
                return Ok(Timestamping { _socket: socket });
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        Err(timeout("the kernel's receive timestamps", DEFAULT_TIMEOUT))
    }
}

/// Receives one datagram on `socket` and tells whether it carried a software receive
/// timestamp (`SCM_TIMESTAMPING` with a non-zero first `timespec`).
fn received_stamped(socket: &UdpSocket) -> Result<bool, Error> {
    let mut data = [0u8; 64];
    // u64 elements: aligned for cmsghdr.
    let mut control = [0u64; 64];
    let mut iovec = libc::iovec {
        iov_base: data.as_mut_ptr().cast(),
        iov_len: data.len(),
    };
    // SAFETY: msghdr is plain data; all-zero is a valid value.
    let mut message: libc::msghdr = unsafe { mem::zeroed() };
    message.msg_iov = &mut iovec;
    message.msg_iovlen = 1;
    message.msg_control = control.as_mut_ptr().cast();
    message.msg_controllen = mem::size_of_val(&control);
    // SAFETY: message points to valid data and control buffers that outlive the call.
    if unsafe { libc::recvmsg(socket.as_raw_fd(), &mut message, libc::MSG_DONTWAIT) } < 0 {
        let error = io::Error::last_os_error();
        if error.kind() == io::ErrorKind::WouldBlock {
            return Ok(false);
        }
        return Err(Error::io("recvmsg for a timestamp", error));
    }
    // SAFETY: recvmsg filled `message`, whose control buffer is still alive; CMSG_FIRSTHDR
    // and CMSG_NXTHDR stay within msg_controllen.
    let mut cmsg = unsafe { libc::CMSG_FIRSTHDR(&message) };
    while !cmsg.is_null() {
        // SAFETY: cmsg is non-null and points to a complete header inside the control buffer.
        let header = unsafe { &*cmsg };
        if header.cmsg_level == libc::SOL_SOCKET && header.cmsg_type == libc::SO_TIMESTAMPING {
            // SAFETY: an SCM_TIMESTAMPING message carries three timespecs; the first is the
            // software stamp. read_unaligned copes with any alignment of the data.
            let stamp = unsafe {
                libc::CMSG_DATA(cmsg)
                    .cast::<libc::timespec>()
                    .read_unaligned()
            };
            return Ok(stamp.tv_sec != 0 || stamp.tv_nsec != 0);
        }
        // SAFETY: as for CMSG_FIRSTHDR.
        cmsg = unsafe { libc::CMSG_NXTHDR(&message, cmsg) };
    }
    Ok(false)
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
    fn ids_map_through_uid_map() {
        let map = "         0       1000          1\n         1     100000      65536\n";
        assert_eq!(map_id(map, 0), Some(1000));
        assert_eq!(map_id(map, 1), Some(100000));
        assert_eq!(map_id(map, 65536), Some(165535));
        assert_eq!(map_id(map, 65537), None);
        assert_eq!(map_id("0 0 4294967295", 4242), Some(4242));
    }

    #[test]
    fn bulk_reports_missing_and_order() {
        let report = BulkReport {
            sequences: vec![0, 1, 3, 2, 9],
            bytes: 50,
        };
        assert_eq!(report.missing(5), [4]);
        assert!(!report.in_order());
        let ordered = BulkReport {
            sequences: vec![0, 2],
            bytes: 8,
        };
        assert!(ordered.in_order());
        assert_eq!(ordered.missing(3), [1]);
    }

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
