//! The raw API against the real kernel, inside a private network namespace: a UDP datagram sent
//! on loopback is queued by `iptables -j NFQUEUE`, seen by the callback, accepted, and delivered.

use std::ffi::c_void;
use std::net::UdpSocket;
use std::time::{Duration, Instant};

use netfilter_queue_sys as sys;
use netfilter_testkit::sandbox_or_skip;

const QUEUE: u16 = 7;
const PORT: u16 = 9007;

/// What the callback saw, filled in through the `data` pointer.
#[derive(Default)]
struct Seen {
    payloads: Vec<Vec<u8>>,
    verdict_rc: Vec<i32>,
}

unsafe extern "C" fn on_packet(
    qh: *mut sys::nfq_q_handle,
    _nfmsg: *mut sys::nfgenmsg,
    nfad: *mut sys::nfq_data,
    data: *mut c_void,
) -> i32 {
    // SAFETY: `data` is the `&mut Seen` registered with nfq_create_queue, alive for the whole
    // dispatch, and only this callback touches it while nfq_handle_packet runs.
    let seen = unsafe { &mut *data.cast::<Seen>() };
    // SAFETY: `nfad` is valid for the duration of the callback.
    let hdr = unsafe { sys::nfq_get_msg_packet_hdr(nfad) };
    if hdr.is_null() {
        return 0;
    }
    // SAFETY: a non-null header points at the message's NFQA_PACKET_HDR payload.
    let id = u32::from_be(unsafe { (*hdr).packet_id });
    let mut payload: *mut u8 = std::ptr::null_mut();
    // SAFETY: `nfad` is valid; on success `payload` points at `len` bytes inside the message.
    let len = unsafe { sys::nfq_get_payload(nfad, &mut payload) };
    if len >= 0 {
        // SAFETY: see above; the bytes are copied before the callback returns.
        let bytes = unsafe { std::slice::from_raw_parts(payload, len as usize) };
        seen.payloads.push(bytes.to_vec());
    }
    // SAFETY: `qh` is the queue this packet came from; no replacement payload is given.
    let rc = unsafe { sys::nfq_set_verdict(qh, id, sys::NF_ACCEPT, 0, std::ptr::null()) };
    seen.verdict_rc.push(rc);
    0
}

/// Waits until `fd` is readable, at most `timeout`.
fn readable(fd: i32, timeout: Duration) -> bool {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: `pfd` is one valid pollfd for the duration of the call.
    let n = unsafe { libc::poll(&mut pfd, 1, timeout.as_millis() as i32) };
    n == 1
}

#[test]
fn udp_datagram_is_queued_seen_and_accepted() {
    let sandbox = sandbox_or_skip!();
    sandbox
        .exec(&[
            "iptables",
            "-A",
            "OUTPUT",
            "-o",
            "lo",
            "-p",
            "udp",
            "--dport",
            "9007",
            "-j",
            "NFQUEUE",
            "--queue-num",
            "7",
        ])
        .expect("add the NFQUEUE rule");

    let (seen, delivered) = sandbox.run(|| {
        let mut seen = Box::new(Seen::default());
        // SAFETY: no preconditions.
        let h = unsafe { sys::nfq_open() };
        assert!(
            !h.is_null(),
            "nfq_open: {}",
            std::io::Error::last_os_error()
        );
        // SAFETY: `h` is live; the callback and its data (boxed, never moved) outlive the
        // queue, which is destroyed below before `seen` is read.
        let qh = unsafe {
            sys::nfq_create_queue(h, QUEUE, Some(on_packet), (&mut *seen as *mut Seen).cast())
        };
        assert!(
            !qh.is_null(),
            "nfq_create_queue: {}",
            std::io::Error::last_os_error()
        );
        // SAFETY: `qh` is live.
        let rc = unsafe { sys::nfq_set_mode(qh, sys::NFQNL_COPY_PACKET as u8, 0xffff) };
        assert!(rc >= 0, "nfq_set_mode: {}", std::io::Error::last_os_error());

        let receiver = UdpSocket::bind(("127.0.0.1", PORT)).expect("bind receiver");
        receiver
            .set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        let sender = UdpSocket::bind("127.0.0.1:0").expect("bind sender");
        sender
            .send_to(b"hello nfqueue", ("127.0.0.1", PORT))
            .expect("send");

        // SAFETY: `h` is live.
        let fd = unsafe { sys::nfq_fd(h) };
        let mut buf = vec![0u8; 0x10000];
        let deadline = Instant::now() + Duration::from_secs(5);
        while seen.payloads.is_empty() && Instant::now() < deadline {
            if !readable(fd, Duration::from_millis(200)) {
                continue;
            }
            // SAFETY: `buf` is writable for its full length.
            let n = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), 0) };
            assert!(n > 0, "recv: {}", std::io::Error::last_os_error());
            // SAFETY: the first `n` bytes of `buf` are one datagram from the kernel.
            unsafe { sys::nfq_handle_packet(h, buf.as_mut_ptr().cast(), n as i32) };
        }

        let mut got = [0u8; 64];
        let delivered = receiver.recv(&mut got).map(|n| got[..n].to_vec()).ok();
        // SAFETY: `qh` and `h` are live and each is released exactly once, queue first.
        unsafe {
            sys::nfq_destroy_queue(qh);
            sys::nfq_close(h);
        }
        (*seen, delivered)
    });

    assert_eq!(seen.payloads.len(), 1, "the callback saw one packet");
    let packet = &seen.payloads[0];
    assert_eq!(packet[0] >> 4, 4, "an IPv4 packet");
    assert!(
        packet.ends_with(b"hello nfqueue"),
        "the datagram's payload: {packet:02x?}"
    );
    assert!(
        seen.verdict_rc.iter().all(|&rc| rc > 0),
        "verdict sent: {:?}",
        seen.verdict_rc
    );
    assert_eq!(
        delivered.as_deref(),
        Some(&b"hello nfqueue"[..]),
        "accepted datagram arrived"
    );
}
