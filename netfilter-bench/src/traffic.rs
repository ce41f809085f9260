//! The traffic generator: UDP over loopback with a fixed number of datagrams in flight (a
//! closed loop), sent with `sendmmsg` and received back with `recvmmsg`. Call it on a thread
//! inside the sandbox: its sockets belong to the namespace of the calling thread.
//!
//! The datagrams can come from several flows: sockets bound to distinct loopback source
//! addresses (`127.0.0.1` to `127.0.0.254`), each `sendmmsg` call taking the next one in turn.
//! It is the addresses, not the ports, that differ because NFQUEUE's `--queue-balance` hashes
//! an IPv4 packet's source and destination addresses and protocol only (`hash_v4` in the
//! kernel's `include/net/netfilter/nf_queue.h`): flows that differ in their ports alone all
//! land on one queue. The hash's seed is random (drawn by the kernel at boot), so the driver
//! first finds out which addresses go to which queue and picks an even set
//! (`calibrate` in `main.rs`); consumers report how many packets each queue got.

use std::io;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use crate::measure::cpu_ns;

/// The most datagrams one `sendmmsg` or `recvmmsg` call handles.
const BURST: usize = 64;

/// The most flows [`generate`] can use: one source address each, `127.0.0.1` to
/// `127.0.0.254`.
pub const MAX_FLOWS: usize = 254;

/// The `n`-th loopback source address (`n` from 1 to [`MAX_FLOWS`]): `127.0.0.n`.
pub fn loopback(n: usize) -> Ipv4Addr {
    Ipv4Addr::new(127, 0, 0, u8::try_from(n).unwrap_or(u8::MAX))
}

/// What a generator run did.
#[derive(Debug, Clone, Copy)]
pub struct Generated {
    /// Datagrams sent.
    pub sent: u64,
    /// Datagrams received back.
    pub received: u64,
    /// From the first send to the last receive.
    pub wall: Duration,
    /// The generator thread's own CPU time (user + sys) in nanoseconds.
    pub cpu_ns: i64,
    /// Whether the run stopped because nothing came back within the timeout.
    pub stalled: bool,
    /// At window 1 (one datagram in flight, so each receive answers the last send): the
    /// round trips after the first 10 % (the warm-up).
    pub round_trips: Option<RoundTrips>,
}

/// Round trips of a window-1 run, from the `sendmmsg` to the `recvmmsg` that got it back.
#[derive(Debug, Clone, Copy)]
pub struct RoundTrips {
    /// The median, in µs.
    pub median_us: f64,
    /// The 99th percentile, in µs.
    pub p99_us: f64,
}

impl RoundTrips {
    /// The median and 99th percentile of `ns`, after its first 10 %.
    fn of(mut ns: Vec<u64>) -> Option<RoundTrips> {
        let warm = ns.len() / 10;
        let mut ns = ns.split_off(warm);
        if ns.is_empty() {
            return None;
        }
        ns.sort_unstable();
        let at = |q: f64| ns[((ns.len() - 1) as f64 * q).round() as usize] as f64 / 1e3;
        Some(RoundTrips {
            median_us: at(0.5),
            p99_us: at(0.99),
        })
    }
}

/// Sends `total` datagrams of `payload` bytes to `127.0.0.1:port` from one socket per address
/// of `sources` (see the [module docs](self)), never more than `window`
/// unanswered in total, and receives them on a socket bound to that port. With `rate`, sends at
/// most that many datagrams per second, in bursts of at most 8 (NFLOG does not hold packets, so
/// the window alone does not pace a log consumer).
///
/// # Errors
/// A socket call that fails (other than a receive timeout, reported as `stalled`);
/// [`io::ErrorKind::InvalidInput`] for no source, or more than [`MAX_FLOWS`].
pub fn generate(
    port: u16,
    total: u64,
    window: u64,
    payload: usize,
    rate: Option<u64>,
    sources: &[Ipv4Addr],
    timeout: Duration,
) -> io::Result<Generated> {
    if !(1..=MAX_FLOWS).contains(&sources.len()) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{} flows: between 1 and {MAX_FLOWS} are possible",
                sources.len()
            ),
        ));
    }
    let burst = if rate.is_some() { 8 } else { BURST as u64 };
    let to = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let receiver = UdpSocket::bind(to)?;
    receiver.set_read_timeout(Some(timeout))?;
    set_rcvbuf(&receiver, 4 << 20)?;
    let senders = sources
        .iter()
        .map(|&source| {
            let sender = UdpSocket::bind((source, 0))?;
            sender.connect(to)?;
            Ok(sender)
        })
        .collect::<io::Result<Vec<UdpSocket>>>()?;

    let mut data = vec![0u8; payload];
    for (i, byte) in data.iter_mut().enumerate() {
        *byte = i as u8;
    }
    let mut send_iov = libc::iovec {
        iov_base: data.as_mut_ptr().cast(),
        iov_len: data.len(),
    };
    // SAFETY: an all-zero mmsghdr is valid (null name and control, no iovecs).
    let mut send_msgs: Vec<libc::mmsghdr> =
        (0..BURST).map(|_| unsafe { std::mem::zeroed() }).collect();
    for msg in &mut send_msgs {
        msg.msg_hdr.msg_iov = &raw mut send_iov;
        msg.msg_hdr.msg_iovlen = 1;
    }
    let mut recv_bufs = vec![[0u8; 2048]; BURST];
    let mut recv_iovs: Vec<libc::iovec> = recv_bufs
        .iter_mut()
        .map(|buf| libc::iovec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: buf.len(),
        })
        .collect();
    // SAFETY: as above.
    let mut recv_msgs: Vec<libc::mmsghdr> =
        (0..BURST).map(|_| unsafe { std::mem::zeroed() }).collect();
    for (msg, iov) in recv_msgs.iter_mut().zip(recv_iovs.iter_mut()) {
        msg.msg_hdr.msg_iov = iov;
        msg.msg_hdr.msg_iovlen = 1;
    }

    // Window 1: each receive answers the last send, so the time between them is its round trip.
    let mut round_trips = (window == 1).then(|| Vec::with_capacity(total as usize));
    let mut sent_at = Instant::now();
    let cpu_start = cpu_ns(libc::RUSAGE_THREAD);
    let started = Instant::now();
    let (mut sent, mut received, mut stalled) = (0u64, 0u64, false);
    let mut flow = 0;
    while received < total {
        let mut room = (window - (sent - received)).min(total - sent).min(burst);
        if let Some(rate) = rate {
            let due = (started.elapsed().as_secs_f64() * rate as f64) as u64;
            room = room.min(due.saturating_sub(sent));
            if room == 0 && sent == received {
                std::thread::sleep(Duration::from_micros(50));
                continue;
            }
        }
        if room > 0 {
            sent_at = Instant::now();
            // SAFETY: the first `room` headers point at `send_iov`, which points at `data`;
            // all outlive the call.
            let n = unsafe {
                libc::sendmmsg(
                    senders[flow].as_raw_fd(),
                    send_msgs.as_mut_ptr(),
                    room as libc::c_uint,
                    0,
                )
            };
            if n < 0 {
                return Err(io::Error::last_os_error());
            }
            sent += n as u64;
            flow = (flow + 1) % senders.len();
        }
        let want = (sent - received).min(BURST as u64);
        // SAFETY: the first `want` headers point at their own iovec and 2048-byte buffer, all
        // alive for the call; the null timeout leaves blocking to SO_RCVTIMEO.
        let n = unsafe {
            libc::recvmmsg(
                receiver.as_raw_fd(),
                recv_msgs.as_mut_ptr(),
                want as libc::c_uint,
                libc::MSG_WAITFORONE,
                std::ptr::null_mut(),
            )
        };
        if n < 0 {
            let error = io::Error::last_os_error();
            if error.kind() == io::ErrorKind::WouldBlock {
                stalled = true;
                break;
            }
            if error.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(error);
        }
        if let Some(round_trips) = &mut round_trips {
            round_trips.push(sent_at.elapsed().as_nanos() as u64);
        }
        received += n as u64;
    }
    Ok(Generated {
        sent,
        received,
        wall: started.elapsed(),
        cpu_ns: cpu_ns(libc::RUSAGE_THREAD) - cpu_start,
        stalled,
        round_trips: round_trips.and_then(RoundTrips::of),
    })
}

/// Sets the receive buffer past `net.core.rmem_max` when permitted (`SO_RCVBUFFORCE`), else up
/// to it: a full buffer would drop datagrams and stall the closed loop.
fn set_rcvbuf(socket: &UdpSocket, bytes: libc::c_int) -> io::Result<()> {
    set_buffer(socket, libc::SO_RCVBUFFORCE, libc::SO_RCVBUF, bytes)
}

/// Sets a socket buffer to `bytes` with `force` (`SO_RCVBUFFORCE`, `SO_SNDBUFFORCE`: past the
/// sysctl maximum, when permitted), else with `plain` (capped by it).
pub(crate) fn set_buffer(
    socket: &UdpSocket,
    force: libc::c_int,
    plain: libc::c_int,
    bytes: libc::c_int,
) -> io::Result<()> {
    for option in [force, plain] {
        // SAFETY: the socket is open; `bytes` is a valid int for the call's duration.
        let rc = unsafe {
            libc::setsockopt(
                socket.as_raw_fd(),
                libc::SOL_SOCKET,
                option,
                (&raw const bytes).cast(),
                size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if rc == 0 {
            return Ok(());
        }
    }
    Err(io::Error::last_os_error())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_skip_the_warm_up_and_take_median_and_p99() {
        // 10 warm-up values far off, then 1..=100 µs.
        let mut ns: Vec<u64> = vec![1_000_000; 11];
        ns.extend((1..=100).map(|us| us * 1000));
        let rt = RoundTrips::of(ns).expect("values");
        assert_eq!((rt.median_us, rt.p99_us), (51.0, 99.0));
        assert!(RoundTrips::of(Vec::new()).is_none());
    }
}
