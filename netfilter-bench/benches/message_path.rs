//! `cargo bench -p netfilter-bench`: ns per message to parse and dispatch synthesized NFQUEUE
//! and NFLOG datagrams (netfilter-testkit's `synth` builders) at each layer.
//!
//! - `wire`: `netfilter_safe::wire::{QueuePacket, LogPacket}::parse_bytes`;
//! - `netfilter Queue (fake kernel)`: `recv` + `accept` through the `netfilter` queue over
//!   `netfilter_testkit::fake`, whose own handling of each verdict (decode, record) is included;
//! - `netfilter-safe handle_packet` and `C nfq_handle_packet`: the C library's dispatch over
//!   the same bytes, the first through the safe layer (strict wire check, panic guard), the
//!   second called directly. Both need a bound queue, so a socket bound in a private network
//!   namespace: as root only (otherwise they print SKIP). No packet is ever queued there; the
//!   callbacks give no verdict.
//!
//! A plain harness (no criterion): each case runs for about 0.3 s after a warm-up and prints
//! the best of 5 batches.

use std::hint::black_box;
use std::os::raw::{c_char, c_int, c_void};
use std::time::{Duration, Instant};

use netfilter::Queue;
use netfilter_queue_sys as sys;
use netfilter_safe::CopyMode;
use netfilter_safe::queue::QueueHandle;
use netfilter_safe::wire;
use netfilter_testkit::Sandbox;
use netfilter_testkit::fake::FakeKernel;
use netfilter_testkit::synth::{LogPacketBuilder, QueuePacketBuilder, payload};

const PAYLOADS: [usize; 2] = [64, 1400];

/// Runs `f(n)` (which handles `n` messages) in batches; prints the best ns per message.
fn bench(name: &str, size: usize, mut f: impl FnMut(u64)) {
    f(1000);
    let mut n = 1000u64;
    loop {
        let t = Instant::now();
        f(n);
        if t.elapsed() > Duration::from_millis(60) {
            break;
        }
        n *= 2;
    }
    let best = (0..5)
        .map(|_| {
            let t = Instant::now();
            f(n);
            t.elapsed().as_nanos() as f64 / n as f64
        })
        .fold(f64::INFINITY, f64::min);
    println!("{name:<44} {size:>5} B {best:>10.1} ns/msg");
}

fn udp(size: usize) -> Vec<u8> {
    let text = vec![0x5a; size];
    payload::ipv4_udp([10, 0, 0, 1].into(), [10, 0, 0, 2].into(), 4000, 53, &text)
        .expect("a valid UDP datagram")
}

fn queue_datagram(queue: u16, size: usize) -> Vec<u8> {
    QueuePacketBuilder::ipv4(queue)
        .packet_id(7)
        .hook(3)
        .outdev(1)
        .payload(udp(size))
        .to_bytes()
        .expect("a queue message")
}

fn log_datagram(size: usize) -> Vec<u8> {
    LogPacketBuilder::ipv4(1)
        .hook(3)
        .prefix("bench")
        .payload(udp(size))
        .to_bytes()
        .expect("a log message")
}

/// The `netfilter` queue over the fake kernel: packets are fed 32 at a time (not timed), then
/// received and accepted (timed, with the fake's handling of the verdicts).
fn queue_over_fake(size: usize) {
    let (kernel, transport) = FakeKernel::new().expect("a fake kernel");
    let mut queue = Queue::builder(0)
        .transport(transport)
        .open()
        .expect("queue over the fake kernel");
    let packet = QueuePacketBuilder::ipv4(0)
        .outdev(1)
        .hook(3)
        .payload(udp(size));
    let mut run = |n: u64| -> Duration {
        let mut timed = Duration::ZERO;
        let mut left = n;
        while left > 0 {
            let k = left.min(32);
            for _ in 0..k {
                kernel.queue_packet(packet.clone()).expect("fed");
            }
            let t = Instant::now();
            for _ in 0..k {
                let p = queue.recv().expect("a packet");
                black_box(p.payload().len());
                p.accept().expect("accepted");
            }
            queue.flush().expect("flushed");
            timed += t.elapsed();
            left -= k;
        }
        timed
    };
    run(20_000);
    let total = 100_000u64;
    let timed = run(total);
    println!(
        "{:<44} {size:>5} B {:>10.1} ns/msg",
        "netfilter Queue recv+accept (fake kernel)",
        timed.as_nanos() as f64 / total as f64
    );
}

unsafe extern "C" fn count_packet(
    _qh: *mut sys::nfq_q_handle,
    _msg: *mut sys::nfgenmsg,
    nfa: *mut sys::nfq_data,
    data: *mut c_void,
) -> c_int {
    let mut payload: *mut u8 = std::ptr::null_mut();
    // SAFETY: the C library calls this with a valid `nfa` for the duration of the call, and
    // `data` is the `u64` counter the bench registered, alive until the queue is destroyed.
    unsafe {
        black_box(sys::nfq_get_payload(nfa, &mut payload));
        *data.cast::<u64>() += 1;
    }
    0
}

/// The C library's dispatch, directly and through the safe layer, over the same datagram.
fn c_and_safe(size: usize) {
    let sandbox = match Sandbox::new() {
        Ok(sandbox) => sandbox,
        Err(error) => {
            println!("SKIP C nfq_handle_packet / netfilter-safe handle_packet: {error}");
            return;
        }
    };
    sandbox.run(|| {
        let handle = QueueHandle::open().expect("nfq_open");
        let queue = handle.create_queue(0, |m| {
            black_box(m.payload());
        });
        let queue = queue.expect("queue 0 bound");
        queue.set_mode(CopyMode::Packet, 0xffff).expect("mode");
        let datagram = queue_datagram(0, size);
        bench("netfilter-safe handle_packet", size, |n| {
            for _ in 0..n {
                handle
                    .handle_packet(black_box(&datagram))
                    .expect("dispatched");
            }
        });
        drop(queue);
        drop(handle);

        // SAFETY: nfq_open has no preconditions; the handle is closed below.
        let h = unsafe { sys::nfq_open() };
        assert!(!h.is_null(), "nfq_open failed");
        let mut counter = 0u64;
        // SAFETY: `h` is live; `counter` outlives the queue, destroyed before it goes.
        let qh =
            unsafe { sys::nfq_create_queue(h, 1, Some(count_packet), (&raw mut counter).cast()) };
        assert!(!qh.is_null(), "nfq_create_queue failed");
        let mut datagram = queue_datagram(1, size);
        bench("C nfq_handle_packet", size, |n| {
            for _ in 0..n {
                // SAFETY: `h` is live and `datagram` is one complete netlink message of the
                // length given; the library only reads it.
                unsafe {
                    sys::nfq_handle_packet(
                        h,
                        datagram.as_mut_ptr().cast::<c_char>(),
                        datagram.len() as c_int,
                    )
                };
            }
        });
        assert!(counter > 0, "the C callback never ran");
        // SAFETY: `qh` and `h` are live and not used afterwards.
        unsafe {
            sys::nfq_destroy_queue(qh);
            sys::nfq_close(h);
        }
    });
}

fn main() {
    // `cargo test --benches` runs this with `--bench` absent: keep that instant.
    if !std::env::args().any(|a| a == "--bench") {
        println!("message_path: run with `cargo bench -p netfilter-bench`");
        return;
    }
    for size in PAYLOADS {
        let q = queue_datagram(0, size);
        bench("wire QueuePacket::parse_bytes", size, |n| {
            for _ in 0..n {
                black_box(wire::QueuePacket::parse_bytes(black_box(&q)).expect("parsed"));
            }
        });
        let l = log_datagram(size);
        bench("wire LogPacket::parse_bytes", size, |n| {
            for _ in 0..n {
                black_box(wire::LogPacket::parse_bytes(black_box(&l)).expect("parsed"));
            }
        });
        queue_over_fake(size);
        c_and_safe(size);
    }
}
