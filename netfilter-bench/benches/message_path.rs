//! `cargo bench -p netfilter-bench`: ns per message to parse and dispatch synthesized NFQUEUE
//! and NFLOG datagrams (netfilter-testkit's `synth` builders) at each layer.
//!
//! - `wire`: `netfilter_safe::wire::{QueuePacket, LogPacket}::parse_bytes`;
//! - `netfilter Queue (fake kernel)`: `recv` + `accept` through the `netfilter` queue over
//!   `netfilter_testkit::fake`, whose own handling of each verdict (decode, record) is included;
//! - `netfilter Queue/LogGroup (replay)`: the same over [`Replay`], a transport that costs
//!   nearly nothing (it copies one prepared datagram into the receive buffer, numbering its
//!   packet, and drops what is sent): the `netfilter` layer's own cost per message, with every
//!   receive finding 64 datagrams waiting (so verdicts batch as under load);
//! - `netfilter-safe handle_packet` and `C nfq_handle_packet` / `nflog_handle_packet`: the C
//!   library's dispatch over the same bytes, the first through the safe layer (strict wire
//!   check, panic guard), the second called directly. Both need a bound queue or group, so a
//!   socket bound in a private network namespace: as root only (otherwise they print SKIP).
//!   No packet is ever queued there; the callbacks give no verdict.
//!
//! - `netfilter Queue::interface_name`: the name of an interface index, from the queue's
//!   namespace and from another one (as root; SKIP otherwise).
//!
//! Log messages are measured in a datagram of [`LOG_BATCH`] messages, as the kernel batches
//! them by default; the time is per message.
//!
//! A plain harness (no criterion): each case runs for about 0.3 s after a warm-up and prints
//! the best of 5 batches.

use std::collections::VecDeque;
use std::fs::File;
use std::hint::black_box;
use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::raw::{c_char, c_int, c_void};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use netfilter::{LogGroup, Queue};
use netfilter_log_sys as log_sys;
use netfilter_queue_sys as sys;
use netfilter_safe::CopyMode;
use netfilter_safe::log::LogHandle;
use netfilter_safe::queue::QueueHandle;
use netfilter_safe::transport::Transport;
use netfilter_safe::wire::{self, NlMsgIter};
use netfilter_testkit::Sandbox;
use netfilter_testkit::fake::FakeKernel;
use netfilter_testkit::synth::{Datagram, LogPacketBuilder, QueuePacketBuilder, payload};

const PAYLOADS: [usize; 2] = [64, 1400];

/// Only the cases whose name contains this (`cargo bench -p netfilter-bench -- replay`).
static FILTER: OnceLock<Option<String>> = OnceLock::new();

fn wanted(name: &str) -> bool {
    FILTER
        .get()
        .and_then(Option::as_deref)
        .is_none_or(|f| name.contains(f))
}

/// Runs `f(n)` (which handles `n` messages) in batches; prints the best ns per message.
fn bench(name: &str, size: usize, mut f: impl FnMut(u64)) {
    if !wanted(name) {
        return;
    }
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
    println!("{name:<50} {size:>5} B {best:>10.1} ns/msg");
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

fn log_message(group: u16, size: usize) -> LogPacketBuilder {
    LogPacketBuilder::ipv4(group)
        .hook(3)
        .prefix("bench")
        .payload(udp(size))
}

fn log_datagram(size: usize) -> Vec<u8> {
    log_message(1, size).to_bytes().expect("a log message")
}

/// Log messages per datagram in the batched log benches.
const LOG_BATCH: usize = 16;

/// A datagram as `nfnetlink_log` flushes a batch: [`LOG_BATCH`] messages and `NLMSG_DONE`.
fn log_batch(group: u16, size: usize) -> Vec<u8> {
    Datagram::log_batch(
        group,
        (0..LOG_BATCH).map(|_| log_message(group, size).build()),
    )
    .to_bytes()
    .expect("a log batch")
}

/// A transport that stands in for a kernel at almost no cost: every receive gets a copy of one
/// prepared datagram (its queued packet numbered afresh), configuration requests get their
/// acknowledgement, and verdicts vanish. Measures the `netfilter` layer alone.
#[derive(Debug)]
struct Replay {
    datagram: Mutex<Vec<u8>>,
    /// Where the packet id (big-endian) sits in `datagram`, for queue packets.
    id_at: Option<usize>,
    acks: Mutex<VecDeque<Vec<u8>>>,
    /// Something to hand out as the descriptor.
    null: File,
}

impl Replay {
    fn new(datagram: Vec<u8>, id_at: Option<usize>) -> Replay {
        Replay {
            datagram: Mutex::new(datagram),
            id_at,
            acks: Mutex::new(VecDeque::new()),
            null: File::open("/dev/null").expect("/dev/null"),
        }
    }

    /// Replays queue packet `datagram` (one message, attributes as the kernel orders them:
    /// the packet header first).
    fn queue(datagram: Vec<u8>) -> Replay {
        // nlmsghdr (16) + nfgenmsg (4) + the NFQA_PACKET_HDR attribute's header (4).
        assert_eq!(
            u16::from_ne_bytes([datagram[22], datagram[23]]),
            sys::NFQA_PACKET_HDR as u16,
            "the packet header comes first"
        );
        Replay::new(datagram, Some(24))
    }
}

impl Transport for Replay {
    fn send(&self, datagram: &[u8]) -> io::Result<()> {
        for message in NlMsgIter::new(datagram).map_while(Result::ok) {
            let h = message.header();
            if h.flags & libc::NLM_F_ACK as u16 == 0 {
                continue;
            }
            // NLMSG_ERROR with error 0 and the request's header.
            let mut ack = Vec::with_capacity(36);
            ack.extend_from_slice(&36u32.to_ne_bytes());
            ack.extend_from_slice(&(libc::NLMSG_ERROR as u16).to_ne_bytes());
            ack.extend_from_slice(&0u16.to_ne_bytes());
            ack.extend_from_slice(&h.seq.to_ne_bytes());
            ack.extend_from_slice(&0u32.to_ne_bytes());
            ack.extend_from_slice(&0i32.to_ne_bytes());
            ack.extend_from_slice(&message.as_bytes()[..16]);
            self.acks.lock().expect("acks").push_back(ack);
        }
        Ok(())
    }

    fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(ack) = self.acks.lock().expect("acks").pop_front() {
            buf[..ack.len()].copy_from_slice(&ack);
            return Ok(ack.len());
        }
        let mut datagram = self.datagram.lock().expect("datagram");
        if let Some(at) = self.id_at {
            let id: [u8; 4] = datagram[at..at + 4].try_into().expect("4 bytes");
            let next = u32::from_be_bytes(id).wrapping_add(1);
            datagram[at..at + 4].copy_from_slice(&next.to_be_bytes());
        }
        buf[..datagram.len()].copy_from_slice(&datagram);
        Ok(datagram.len())
    }

    fn try_recv(&self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        self.recv(buf).map(Some)
    }

    fn recv_timeout(&self, buf: &mut [u8], _: Option<Duration>) -> io::Result<Option<usize>> {
        self.recv(buf).map(Some)
    }

    fn wait_readable(&self, _: Option<Duration>) -> io::Result<bool> {
        Ok(true)
    }

    fn set_nonblocking(&self, _: bool) -> io::Result<()> {
        Ok(())
    }

    fn fd(&self) -> BorrowedFd<'_> {
        self.null.as_fd()
    }

    fn drops(&self) -> netfilter_safe::Result<u32> {
        Ok(0)
    }
}

/// The `netfilter` queue and log group over [`Replay`].
fn over_replay(size: usize) {
    let mut queue = Queue::builder(0)
        .transport(Replay::queue(queue_datagram(0, size)))
        .open()
        .expect("queue over the replay");
    bench("netfilter Queue recv+accept (replay)", size, |n| {
        for _ in 0..n {
            let p = queue.recv().expect("a packet");
            black_box(p.payload().len());
            p.accept().expect("accepted");
        }
    });
    let mut unbatched = Queue::builder(0)
        .batching(false)
        .transport(Replay::queue(queue_datagram(0, size)))
        .open()
        .expect("unbatched queue over the replay");
    bench(
        "netfilter Queue recv+accept, batching off (replay)",
        size,
        |n| {
            for _ in 0..n {
                let p = unbatched.recv().expect("a packet");
                black_box(p.payload().len());
                p.accept().expect("accepted");
            }
        },
    );
    let mut log = LogGroup::builder(1)
        .transport(Replay::new(log_batch(1, size), None))
        .open()
        .expect("log group over the replay");
    bench("netfilter LogGroup recv (replay)", size, |n| {
        for _ in 0..n {
            let p = log.recv().expect("a message");
            black_box(p.payload().len());
        }
    });
    bench("netfilter LogGroup recv_batch (replay)", size, |n| {
        let mut handed = 0;
        while handed < n {
            handed += log
                .recv_batch(None, |p| {
                    black_box(p.payload().len());
                })
                .expect("messages") as u64;
        }
    });
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
        "{:<50} {size:>5} B {:>10.1} ns/msg",
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

unsafe extern "C" fn count_log(
    _gh: *mut log_sys::nflog_g_handle,
    _msg: *mut log_sys::nfgenmsg,
    nfa: *mut log_sys::nflog_data,
    data: *mut c_void,
) -> c_int {
    let mut payload: *mut c_char = std::ptr::null_mut();
    // SAFETY: the C library calls this with a valid `nfa` for the duration of the call, and
    // `data` is the `u64` counter the bench registered, alive until the group is unbound.
    unsafe {
        black_box(log_sys::nflog_get_payload(nfa, &mut payload));
        *data.cast::<u64>() += 1;
    }
    0
}

/// libnetfilter_log's dispatch of a batch datagram, directly and through the safe layer.
fn c_and_safe_log(size: usize) {
    let sandbox = match Sandbox::new() {
        Ok(sandbox) => sandbox,
        Err(error) => {
            println!("SKIP C nflog_handle_packet / netfilter-safe handle_packet: {error}");
            return;
        }
    };
    sandbox.run(|| {
        let handle = LogHandle::open().expect("nflog_open");
        let mut group = handle.bind_group(1).expect("group 1 bound");
        group
            .set_callback(|m| {
                black_box(m.payload());
            })
            .expect("callback");
        let datagram = log_batch(1, size);
        bench_per_message("netfilter-safe log handle_packet", size, |n| {
            for _ in 0..n {
                handle
                    .handle_packet(black_box(&datagram))
                    .expect("dispatched");
            }
        });
        drop(group);
        drop(handle);

        // SAFETY: nflog_open has no preconditions; the handle is closed below.
        let h = unsafe { log_sys::nflog_open() };
        assert!(!h.is_null(), "nflog_open failed");
        let mut counter = 0u64;
        // SAFETY: `h` is live; the group handle is unbound before `h` is closed.
        let gh = unsafe { log_sys::nflog_bind_group(h, 2) };
        assert!(!gh.is_null(), "nflog_bind_group failed");
        // SAFETY: `gh` is live; `counter` outlives it (unbound below, before it goes).
        unsafe { log_sys::nflog_callback_register(gh, Some(count_log), (&raw mut counter).cast()) };
        let mut datagram = log_batch(2, size);
        bench_per_message("C nflog_handle_packet", size, |n| {
            for _ in 0..n {
                // SAFETY: `h` is live and `datagram` is a complete batch of the length given;
                // the library only reads it.
                unsafe {
                    log_sys::nflog_handle_packet(
                        h,
                        datagram.as_mut_ptr().cast::<c_char>(),
                        datagram.len() as c_int,
                    )
                };
            }
        });
        assert!(counter > 0, "the C callback never ran");
        // SAFETY: `gh` and `h` are live and not used afterwards.
        unsafe {
            log_sys::nflog_unbind_group(gh);
            log_sys::nflog_close(h);
        }
    });
}

/// [`bench`] for a closure that handles `n` batch datagrams of [`LOG_BATCH`] messages each.
fn bench_per_message(name: &str, size: usize, mut f: impl FnMut(u64)) {
    bench(name, size, |n| f(n.div_ceil(LOG_BATCH as u64)));
}

fn main() {
    // `cargo test --benches` runs this with `--bench` absent: keep that instant.
    if !std::env::args().any(|a| a == "--bench") {
        println!("message_path: run with `cargo bench -p netfilter-bench`");
        return;
    }
    let filter = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    FILTER.set(filter).expect("set once");
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
        if wanted("netfilter Queue recv+accept (fake kernel)") {
            queue_over_fake(size);
        }
        over_replay(size);
        if wanted("handle_packet") {
            c_and_safe(size);
            c_and_safe_log(size);
        }
    }
    if wanted("interface_name") {
        interface_names();
    }
}

/// `Queue::interface_name` of `lo`, asked from the queue's own namespace and from another
/// one (the socket lives in a private namespace; this thread stays in its own).
fn interface_names() {
    let sandbox = match Sandbox::new() {
        Ok(sandbox) => sandbox,
        Err(error) => {
            println!("SKIP netfilter Queue::interface_name: {error}");
            return;
        }
    };
    let path = sandbox.path().expect("a named namespace as root");
    let queue = Queue::builder(0)
        .namespace(netfilter::Namespace::path(path))
        .open()
        .expect("queue 0 bound");
    bench("netfilter Queue::interface_name (other netns)", 0, |n| {
        for _ in 0..n {
            black_box(queue.interface_name(black_box(1)).expect("lo"));
        }
    });
    sandbox.run(|| {
        bench("netfilter Queue::interface_name (same netns)", 0, |n| {
            for _ in 0..n {
                black_box(queue.interface_name(black_box(1)).expect("lo"));
            }
        });
    });
}
