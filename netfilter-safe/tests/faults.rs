//! Faults of the safe layer against the real kernel: a callback that panics in the middle of a
//! datagram (`queue.rs` covers a panic on its first packet) or on a log message.

mod common;

use std::cell::RefCell;
use std::time::Duration;

use common::{drain, pump, send_udp, udp_data, udp_receiver};
use netfilter_safe::log::LogHandle;
use netfilter_safe::queue::{QueueHandle, Verdict};
use netfilter_safe::{CopyMode, Error};
use netfilter_testkit::rules::{Hook as RuleHook, Protocol, Rule};
use netfilter_testkit::{procfs, sandbox_or_skip};

/// Collects what arrives on `fd` for `wait` into one datagram, each message padded to the
/// netlink alignment, as the kernel batches them.
fn joined(fd: &impl std::os::fd::AsRawFd, wait: Duration, messages: usize) -> Vec<u8> {
    let datagram = RefCell::new(Vec::new());
    let count = RefCell::new(0);
    pump(
        fd,
        wait,
        |d| {
            let mut datagram = datagram.borrow_mut();
            datagram.extend_from_slice(d);
            let padded = datagram.len().next_multiple_of(4);
            datagram.resize(padded, 0);
            *count.borrow_mut() += 1;
        },
        || *count.borrow() >= messages,
    );
    datagram.take()
}

#[test]
fn a_panic_in_the_middle_of_a_datagram_strands_no_later_packet() {
    let sandbox = sandbox_or_skip!();
    Rule::queue(30)
        .hook(RuleHook::Output)
        .protocol(Protocol::Udp)
        .dport(9130)
        .apply(&sandbox)
        .expect("NFQUEUE rule");
    let (result, seen, waiting_after, waiting_end, delivered) = sandbox.run(|| {
        let seen = RefCell::new(Vec::new());
        let handle = QueueHandle::open().expect("open");
        let queue = handle
            .create_queue(30, |msg| {
                let data = udp_data(msg.payload().expect("payload")).to_vec();
                seen.borrow_mut().push((msg.id(), data.clone()));
                if data == b"two" {
                    panic!("callback failed in the middle");
                }
                msg.set_verdict(Verdict::Accept, None, None)
                    .expect("verdict");
            })
            .expect("create_queue");
        queue.set_mode(CopyMode::Packet, 0xffff).expect("set_mode");
        let receiver = udp_receiver(9130);
        for text in [&b"one"[..], b"two", b"three", b"four"] {
            send_udp(9130, text);
        }
        let datagram = joined(&handle, Duration::from_secs(2), 4);
        let result = handle.handle_packet(&datagram);
        let waiting_after = procfs::queue_row(&sandbox, 30)
            .expect("procfs")
            .expect("row")
            .queue_total;
        let panicked = seen
            .borrow()
            .iter()
            .find(|(_, d)| d == b"two")
            .map(|(id, _)| *id)
            .expect("two was seen");
        queue
            .set_verdict(panicked, Verdict::Accept, None, None)
            .expect("the late verdict for the panicking packet");
        let waiting_end = procfs::queue_row(&sandbox, 30)
            .expect("procfs")
            .expect("row")
            .queue_total;
        let mut delivered = drain(&receiver);
        delivered.sort();
        (result, seen.take(), waiting_after, waiting_end, delivered)
    });
    match result {
        Err(err @ Error::CallbackPanic(_)) => assert_eq!(
            err.panic_message().as_deref(),
            Some("callback failed in the middle")
        ),
        other => panic!("expected CallbackPanic, got {other:?}"),
    }
    let order: Vec<&[u8]> = seen.iter().map(|(_, d)| d.as_slice()).collect();
    assert_eq!(
        order,
        [&b"one"[..], b"two", b"three", b"four"],
        "every packet after the panic was dispatched, in order"
    );
    assert_eq!(waiting_after, 1, "only the panicking packet waited");
    assert_eq!(waiting_end, 0, "nothing left waiting");
    assert_eq!(delivered, [&b"four"[..], b"one", b"three", b"two"]);
}

#[test]
fn a_panic_on_a_log_message_still_dispatches_the_rest() {
    let sandbox = sandbox_or_skip!();
    Rule::log(31)
        .hook(RuleHook::Output)
        .protocol(Protocol::Udp)
        .dport(9131)
        .apply(&sandbox)
        .expect("NFLOG rule");
    let (result, seen) = sandbox.run(|| {
        let seen = RefCell::new(Vec::new());
        let handle = LogHandle::open().expect("open");
        let mut group = handle.bind_group(31).expect("bind_group");
        group.set_mode(CopyMode::Packet, 0xffff).expect("set_mode");
        group
            .set_callback(|data| {
                let text = udp_data(data.payload().expect("payload")).to_vec();
                seen.borrow_mut().push(text.clone());
                if text == b"two" {
                    panic!("log callback failed");
                }
            })
            .expect("callback");
        let _receiver = udp_receiver(9131);
        for text in [&b"one"[..], b"two", b"three"] {
            send_udp(9131, text);
        }
        let datagram = joined(&handle, Duration::from_millis(2500), 3);
        let result = handle.handle_packet(&datagram);
        drop(group);
        (result, seen.take())
    });
    assert!(matches!(result, Err(Error::CallbackPanic(_))), "{result:?}");
    assert_eq!(seen, [&b"one"[..], b"two", b"three"]);
}

/// A buffer whose last byte is the last one before an inaccessible page, so that reading past
/// its end faults (in the kernel's copy from user memory: `EFAULT`).
struct Guarded {
    base: *mut libc::c_void,
    len: usize,
    page: usize,
}

impl Guarded {
    fn new(bytes: &[u8]) -> Guarded {
        // SAFETY: sysconf has no memory effects.
        let page = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).expect("page");
        assert!(bytes.len() <= page);
        // SAFETY: an anonymous private mapping of two fresh pages; no existing memory is
        // touched.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                2 * page,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        assert_ne!(base, libc::MAP_FAILED);
        // SAFETY: the second page belongs to the mapping just made.
        let rc =
            unsafe { libc::mprotect(base.cast::<u8>().add(page).cast(), page, libc::PROT_NONE) };
        assert_eq!(rc, 0);
        // SAFETY: the destination lies inside the first, writable page, and ends at its end.
        unsafe {
            std::ptr::copy_nonoverlapping(
                bytes.as_ptr(),
                base.cast::<u8>().add(page - bytes.len()),
                bytes.len(),
            );
        }
        Guarded {
            base,
            len: bytes.len(),
            page,
        }
    }

    fn as_slice(&self) -> &[u8] {
        // SAFETY: the last `len` bytes of the first page, written in `new`, mapped until drop.
        unsafe {
            std::slice::from_raw_parts(
                self.base
                    .cast::<u8>()
                    .add(self.page - self.len)
                    .cast_const(),
                self.len,
            )
        }
    }
}

impl Drop for Guarded {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `new`, unmapped once; no slice of it outlives `self`.
        unsafe { libc::munmap(self.base, 2 * self.page) };
    }
}

/// Found by valgrind (scripts/memcheck): `nfq_set_verdict` sends the payload with an iovec of
/// `NFA_ALIGN(len)` bytes, so for a length that is not a multiple of 4 the kernel reads up to 3
/// bytes past the caller's buffer. With the buffer against a guard page that read faults and
/// the verdict fails with `EFAULT`; the safe layer must pass the C library an aligned copy.
#[test]
fn an_unaligned_replacement_payload_is_not_read_past_its_end() {
    let sandbox = sandbox_or_skip!();
    Rule::queue(32)
        .hook(RuleHook::Output)
        .protocol(Protocol::Udp)
        .dport(9132)
        .apply(&sandbox)
        .expect("NFQUEUE rule");
    let (result, delivered) = sandbox.run(|| {
        let held = RefCell::new(None);
        let handle = QueueHandle::open().expect("open");
        let queue = handle
            .create_queue(32, |msg| {
                let packet = msg.payload().expect("payload").to_vec();
                *held.borrow_mut() = Some((msg.id(), packet));
            })
            .expect("create_queue");
        queue.set_mode(CopyMode::Packet, 0xffff).expect("set_mode");
        let receiver = udp_receiver(9132);
        send_udp(9132, b"hello");
        pump(
            &handle,
            Duration::from_secs(5),
            |d| {
                handle.handle_packet(d).expect("dispatch");
            },
            || held.borrow().is_some(),
        );
        let (id, mut packet) = held.take().expect("the packet");
        assert_eq!(packet.len() % 4, 1, "20 + 8 + 5 bytes: unaligned");
        let ihl = usize::from(packet[0] & 0x0f) * 4;
        packet[ihl + 8..].copy_from_slice(b"HELLO");
        packet[ihl + 6..ihl + 8].copy_from_slice(&[0, 0]);
        let guarded = Guarded::new(&packet);
        let result = queue.set_verdict(id, Verdict::Accept, None, Some(guarded.as_slice()));
        (result, drain(&receiver))
    });
    result.expect("the verdict with the replacement is sent");
    assert_eq!(delivered, [b"HELLO".to_vec()]);
}
