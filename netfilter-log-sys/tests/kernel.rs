//! The raw API against the real kernel, inside a private network namespace: a UDP datagram sent
//! on loopback is copied to log group 5 by `iptables -j NFLOG`, and the callback sees it.

use std::ffi::{CStr, c_void};
use std::net::UdpSocket;
use std::time::{Duration, Instant};

use netfilter_log_sys as sys;
use netfilter_testkit::sandbox_or_skip;

const GROUP: u16 = 5;
const PORT: u16 = 9005;

/// What the callback saw, filled in through the `data` pointer.
#[derive(Default)]
struct Seen {
    payloads: Vec<Vec<u8>>,
    prefixes: Vec<String>,
}

unsafe extern "C" fn on_log(
    _gh: *mut sys::nflog_g_handle,
    _nfmsg: *mut sys::nfgenmsg,
    nfad: *mut sys::nflog_data,
    data: *mut c_void,
) -> i32 {
    // SAFETY: `data` is the `&mut Seen` registered with nflog_callback_register, alive for the
    // whole dispatch, and only this callback touches it while nflog_handle_packet runs.
    let seen = unsafe { &mut *data.cast::<Seen>() };
    let mut payload: *mut std::ffi::c_char = std::ptr::null_mut();
    // SAFETY: `nfad` is valid; on success `payload` points at `len` bytes inside the message.
    let len = unsafe { sys::nflog_get_payload(nfad, &mut payload) };
    if len >= 0 {
        // SAFETY: see above; the bytes are copied before the callback returns.
        let bytes = unsafe { std::slice::from_raw_parts(payload.cast::<u8>(), len as usize) };
        seen.payloads.push(bytes.to_vec());
    }
    // SAFETY: `nfad` is valid; a non-null prefix is a NUL-terminated string inside the message.
    let prefix = unsafe { sys::nflog_get_prefix(nfad) };
    if !prefix.is_null() {
        // SAFETY: as above.
        let text = unsafe { CStr::from_ptr(prefix) };
        seen.prefixes.push(text.to_string_lossy().into_owned());
    }
    0
}

#[test]
fn udp_datagram_is_logged_with_prefix() {
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
            "9005",
            "-j",
            "NFLOG",
            "--nflog-group",
            "5",
            "--nflog-prefix",
            "raw-test",
        ])
        .expect("add the NFLOG rule");

    let seen = sandbox.run(|| {
        let mut seen = Box::new(Seen::default());
        // SAFETY: no preconditions.
        let h = unsafe { sys::nflog_open() };
        assert!(
            !h.is_null(),
            "nflog_open: {}",
            std::io::Error::last_os_error()
        );
        // SAFETY: `h` is live.
        let gh = unsafe { sys::nflog_bind_group(h, GROUP) };
        assert!(
            !gh.is_null(),
            "nflog_bind_group: {}",
            std::io::Error::last_os_error()
        );
        // SAFETY: `gh` is live; the callback data (boxed, never moved) outlives the group,
        // which is unbound below before `seen` is read.
        unsafe {
            assert!(sys::nflog_set_mode(gh, sys::NFULNL_COPY_PACKET as u8, 0xffff) >= 0);
            sys::nflog_callback_register(gh, Some(on_log), (&mut *seen as *mut Seen).cast());
        }

        let sender = UdpSocket::bind("127.0.0.1:0").expect("bind sender");
        sender
            .send_to(b"hello nflog", ("127.0.0.1", PORT))
            .expect("send");

        // SAFETY: `h` is live.
        let fd = unsafe { sys::nflog_fd(h) };
        let mut buf = vec![0u8; 0x10000];
        let deadline = Instant::now() + Duration::from_secs(5);
        while seen.payloads.is_empty() && Instant::now() < deadline {
            let mut pfd = libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd for the duration of the call.
            if unsafe { libc::poll(&mut pfd, 1, 200) } != 1 {
                continue;
            }
            // SAFETY: `buf` is writable for its full length.
            let n = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), 0) };
            assert!(n > 0, "recv: {}", std::io::Error::last_os_error());
            // SAFETY: the first `n` bytes of `buf` are one datagram from the kernel.
            unsafe { sys::nflog_handle_packet(h, buf.as_mut_ptr().cast(), n as i32) };
        }
        // SAFETY: `gh` and `h` are live and each is released exactly once, group first.
        unsafe {
            sys::nflog_unbind_group(gh);
            sys::nflog_close(h);
        }
        *seen
    });

    assert_eq!(seen.payloads.len(), 1, "the callback saw one packet");
    let packet = &seen.payloads[0];
    assert_eq!(packet[0] >> 4, 4, "an IPv4 packet");
    assert!(
        packet.ends_with(b"hello nflog"),
        "the datagram's payload: {packet:02x?}"
    );
    assert_eq!(seen.prefixes, ["raw-test"]);
}
