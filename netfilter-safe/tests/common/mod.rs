//! Helpers shared by the real-kernel tests of this crate.
#![allow(dead_code)]

use std::net::UdpSocket;
use std::os::fd::{AsRawFd, RawFd};
use std::time::{Duration, Instant};

/// Receives datagrams from `fd` and hands each to `handle` until `done()` or `timeout`.
/// Returns the number of datagrams handled.
pub fn pump(
    fd: &impl AsRawFd,
    timeout: Duration,
    mut handle: impl FnMut(&[u8]),
    done: impl Fn() -> bool,
) -> usize {
    let fd: RawFd = fd.as_raw_fd();
    let mut buf = vec![0u8; 0x20000];
    let deadline = Instant::now() + timeout;
    let mut count = 0;
    while !done() && Instant::now() < deadline {
        if !readable(fd, Duration::from_millis(50)) {
            continue;
        }
        // SAFETY: `buf` is writable for its whole length.
        let n = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), libc::MSG_DONTWAIT) };
        if n > 0 {
            handle(&buf[..n as usize]);
            count += 1;
        }
    }
    count
}

/// Whether `fd` becomes readable within `timeout`.
pub fn readable(fd: RawFd, timeout: Duration) -> bool {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd for the duration of the call.
    unsafe { libc::poll(&mut pfd, 1, timeout.as_millis() as i32) == 1 }
}

/// Sends `payload` as one UDP datagram to 127.0.0.1:`port` (call inside the namespace).
pub fn send_udp(port: u16, payload: &[u8]) {
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind sender");
    socket.send_to(payload, ("127.0.0.1", port)).expect("send");
}

/// A UDP receiver on 127.0.0.1:`port` with a short read timeout (call inside the namespace).
pub fn udp_receiver(port: u16) -> UdpSocket {
    let socket = UdpSocket::bind(("127.0.0.1", port)).expect("bind receiver");
    socket
        .set_read_timeout(Some(Duration::from_millis(500)))
        .expect("timeout");
    socket
}

/// Every datagram the receiver gets until it stays quiet for its read timeout.
pub fn drain(socket: &UdpSocket) -> Vec<Vec<u8>> {
    let mut got = Vec::new();
    let mut buf = [0u8; 2048];
    while let Ok(n) = socket.recv(&mut buf) {
        got.push(buf[..n].to_vec());
    }
    got
}

/// The UDP payload of an IPv4 packet.
pub fn udp_data(packet: &[u8]) -> &[u8] {
    let ihl = usize::from(packet[0] & 0x0f) * 4;
    &packet[ihl + 8..]
}
