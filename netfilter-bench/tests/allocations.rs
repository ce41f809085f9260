//! Heap allocations per packet in steady state through the `netfilter` queue and log group
//! over the fake kernel (issue 6: the target is zero). Its own test binary: it installs a
//! counting global allocator.
//!
//! Only allocations made on the test's thread while counting is on are counted, and not those
//! the fake kernel makes for itself: it stands in for the kernel, so the transport handed to
//! the library ([`Uncounted`]) switches counting off while the fake works (it decodes and
//! records every verdict inside `Transport::send`, on this thread). The packets are synthesized
//! and fed with counting off; receiving them, reading them, giving verdicts and flushing are
//! counted.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::hint::black_box;

use std::io;
use std::net::UdpSocket;
use std::os::fd::BorrowedFd;
use std::time::Duration;

use netfilter::{LogGroup, Queue};
use netfilter_safe::transport::Transport;
use netfilter_testkit::fake::{FakeKernel, FakeTransport};
use netfilter_testkit::rules::{Hook, Protocol, Rule};
use netfilter_testkit::sandbox_or_skip;
use netfilter_testkit::synth::{LogPacketBuilder, QueuePacketBuilder, payload};

struct Counting;

/// Distinct allocation sizes remembered (to tell where allocations come from).
const SLOTS: usize = 16;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static COUNT: Cell<u64> = const { Cell::new(0) };
    /// (size, how many) of the counted allocations, first `SLOTS` distinct sizes.
    static SIZES: [Cell<(usize, u64)>; SLOTS] = const { [const { Cell::new((0, 0)) }; SLOTS] };
}

fn note(size: usize) {
    // `try_with`: allocations during thread teardown, after the locals are gone, are not ours.
    let _ = COUNTING.try_with(|on| {
        if on.get() {
            let _ = COUNT.try_with(|n| n.set(n.get() + 1));
            let _ = SIZES.try_with(|slots| {
                if let Some(slot) = slots.iter().find(|s| s.get().0 == size || s.get().1 == 0) {
                    slot.set((size, slot.get().1 + 1));
                }
            });
        }
    });
}

// SAFETY: every call is forwarded unchanged to the system allocator; the counting touches only
// const-initialised thread-locals without destructors, which never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: the caller upholds `alloc`'s contract, which is forwarded.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        // SAFETY: the caller upholds `realloc`'s contract, which is forwarded.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller upholds `dealloc`'s contract, which is forwarded.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Runs `f` with counting off (the fake kernel's own work).
fn uncounted<T>(f: impl FnOnce() -> T) -> T {
    let was = COUNTING.with(|on| on.replace(false));
    let value = f();
    COUNTING.with(|on| on.set(was));
    value
}

/// The fake kernel's transport, its own allocations not counted.
#[derive(Debug)]
struct Uncounted(FakeTransport);

impl Transport for Uncounted {
    fn send(&self, datagram: &[u8]) -> io::Result<()> {
        uncounted(|| self.0.send(datagram))
    }

    fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        uncounted(|| self.0.recv(buf))
    }

    fn try_recv(&self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        uncounted(|| self.0.try_recv(buf))
    }

    fn wait_readable(&self, timeout: Option<Duration>) -> io::Result<bool> {
        uncounted(|| self.0.wait_readable(timeout))
    }

    fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        uncounted(|| self.0.set_nonblocking(nonblocking))
    }

    fn fd(&self) -> BorrowedFd<'_> {
        self.0.fd()
    }

    fn drops(&self) -> netfilter_safe::Result<u32> {
        uncounted(|| self.0.drops())
    }
}

/// Counts the allocations `f` makes on this thread.
fn counted<T>(f: impl FnOnce() -> T) -> (T, u64) {
    COUNT.with(|n| n.set(0));
    COUNTING.with(|on| on.set(true));
    let value = f();
    COUNTING.with(|on| on.set(false));
    (value, COUNT.with(Cell::get))
}

/// Prints the sizes of the allocations counted since the last reset, then resets them.
fn print_sizes() {
    SIZES.with(|slots| {
        for (size, n) in slots.iter().map(Cell::get).filter(|s| s.1 > 0) {
            eprintln!("  {n:>6} allocations of {size} bytes");
        }
        slots.iter().for_each(|s| s.set((0, 0)));
    });
}

fn reset_sizes() {
    SIZES.with(|slots| slots.iter().for_each(|s| s.set((0, 0))));
}

/// Batches of this many packets are fed, then received and settled.
const BATCH: u64 = 32;
/// Batches counted after the warm-up.
const BATCHES: u64 = 400;
/// Batches of warm-up: buffers and queues reach their size, and the receive path fills its
/// first slab and starts its second (after that it reuses them).
const WARM_UP: u64 = 100;

#[test]
fn queue_steady_state_allocates_nothing_per_packet() {
    let (kernel, transport) = FakeKernel::new().expect("a fake kernel");
    let mut queue = Queue::builder(0)
        .transport(Uncounted(transport))
        .open()
        .expect("a queue over the fake kernel");
    let text = [0x5a_u8; 64];
    let datagram = payload::ipv4_udp([10, 0, 0, 1].into(), [10, 0, 0, 2].into(), 4000, 53, &text)
        .expect("a UDP datagram");
    let packet = QueuePacketBuilder::ipv4(0)
        .hook(3)
        .outdev(1)
        .payload(datagram);

    let (mut recv_side, mut verdict_side) = (0u64, 0u64);
    for round in 0..WARM_UP + BATCHES {
        for _ in 0..BATCH {
            kernel.queue_packet(packet.clone()).expect("fed");
        }
        if round == WARM_UP {
            reset_sizes();
        }
        let (mut r, mut v) = (0, 0);
        for _ in 0..BATCH {
            let (received, n) = counted(|| queue.recv());
            let received = received.expect("a packet");
            r += n;
            let (_, n) = counted(|| black_box((received.payload().len(), received.mark())));
            r += n;
            let (accepted, n) = counted(|| received.accept());
            accepted.expect("accepted");
            v += n;
        }
        let (flushed, n) = counted(|| queue.flush());
        flushed.expect("flushed");
        v += n;
        if round >= WARM_UP {
            recv_side += r;
            verdict_side += v;
        }
    }
    let packets = BATCH * BATCHES;
    eprintln!(
        "queue: {:.4} allocations per packet in recv, {:.4} in verdicts and flush",
        recv_side as f64 / packets as f64,
        verdict_side as f64 / packets as f64
    );
    print_sizes();
    assert!(
        kernel.outstanding(0).is_empty(),
        "every packet got its verdict"
    );
    assert_eq!(
        (recv_side, verdict_side),
        (0, 0),
        "allocations in steady state (recv, verdicts) over {packets} packets"
    );
}

/// Feeds a log group over the fake kernel [`BATCH`] messages per round, half the rounds one
/// message per datagram (qthresh 1) and half as the kernel batches, and lets `receive` take
/// each round's messages, returning the allocations it counted; asserts that the rounds
/// after the warm-up counted none (`what` names the way of receiving).
fn assert_log_allocates_nothing(what: &str, mut receive: impl FnMut(&mut LogGroup) -> u64) {
    let (kernel, transport) = FakeKernel::new().expect("a fake kernel");
    let mut log = LogGroup::builder(3)
        .transport(Uncounted(transport))
        .open()
        .expect("a log group over the fake kernel");
    let text = [0x5a_u8; 64];
    let datagram = payload::ipv4_udp([10, 0, 0, 1].into(), [10, 0, 0, 2].into(), 4000, 53, &text)
        .expect("a UDP datagram");
    let packet = LogPacketBuilder::ipv4(3).prefix("bench").payload(datagram);

    let mut total = 0u64;
    for round in 0..WARM_UP + BATCHES {
        if round % 2 == 0 {
            for _ in 0..BATCH {
                kernel.log_packet(packet.clone()).expect("fed");
            }
        } else {
            kernel
                .log_batch((0..BATCH).map(|_| packet.clone()))
                .expect("fed");
        }
        if round == WARM_UP {
            reset_sizes();
        }
        let n_round = receive(&mut log);
        if round >= WARM_UP {
            total += n_round;
        }
    }
    let messages = BATCH * BATCHES;
    eprintln!(
        "{what}: {:.4} allocations per message",
        total as f64 / messages as f64
    );
    print_sizes();
    assert_eq!(
        total, 0,
        "{what}: allocations in steady state over {messages} messages"
    );
}

#[test]
fn log_steady_state_allocates_nothing_per_message() {
    assert_log_allocates_nothing("log", |log| {
        let mut n_round = 0;
        for _ in 0..BATCH {
            let (received, n) = counted(|| log.recv());
            let received = received.expect("a message");
            n_round += n;
            let (_, n) = counted(|| {
                black_box((
                    received.payload().len(),
                    received.prefix().map(str::len),
                    received.lost_before(),
                ))
            });
            n_round += n;
            let (_, n) = counted(|| drop(received));
            n_round += n;
        }
        n_round
    });
}

#[test]
fn log_recv_batch_allocates_nothing_per_message() {
    assert_log_allocates_nothing("log recv_batch", |log| {
        let (mut handed, mut n_round) = (0, 0);
        while handed < BATCH {
            let (lent, n) = counted(|| {
                log.recv_batch(Some(Duration::from_secs(5)), |packet| {
                    black_box((
                        packet.payload().len(),
                        packet.prefix().map(str::len),
                        packet.lost_before(),
                    ));
                })
            });
            handed += lent.expect("messages") as u64;
            n_round += n;
        }
        n_round
    });
}

/// Packets sent to each handle over the real kernel, and how many of them are warm-up.
const REAL_PACKETS: u64 = 4000;
const REAL_WARM_UP: u64 = 1000;

/// Packets sent to each handle before any is received, as warm-up: more than one receive
/// takes (`BURST`, 64 datagrams), and few enough for the sending socket's buffer, which
/// holds a queued packet until its verdict (beyond it, the send would wait for one).
const BACKLOG: u64 = 128;

/// Sends `count` UDP datagrams from `socket` to `127.0.0.1:port`, in bursts of 32 a
/// millisecond apart (the queue never fills; a log group's buffer never overflows).
fn send_bursts(socket: &UdpSocket, port: u16, count: u64) {
    for i in 0..count {
        socket
            .send_to(&[0x5a; 64], ("127.0.0.1", port))
            .expect("sent");
        if i % 32 == 31 {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

/// The same targets over the real kernel, in a sandbox: there the netlink socket receives
/// whole batches (`recvmmsg`) straight into the receive slabs, a path the fake kernel's
/// transport does not take. Queue packets, then log messages (the kernel batching them).
#[test]
fn over_the_real_kernel_receiving_allocates_nothing() {
    let sandbox = sandbox_or_skip!();
    let udp = |rule: Rule, port| rule.hook(Hook::Output).protocol(Protocol::Udp).dport(port);
    udp(Rule::queue(5), 9105)
        .apply(&sandbox)
        .expect("queue rule");
    udp(Rule::log(6), 9106).apply(&sandbox).expect("log rule");
    let mut queue = sandbox.run(|| Queue::builder(5).open()).expect("queue");
    let mut log = sandbox
        .run(|| {
            LogGroup::builder(6)
                .qthresh(16)
                .timeout(Duration::from_millis(10))
                .open()
        })
        .expect("log group");
    let socket = sandbox
        .run(|| UdpSocket::bind("127.0.0.1:0"))
        .expect("a UDP socket in the sandbox");
    let wait = Duration::from_secs(5);

    // Warm-up: a backlog larger than one receive takes, so that the receive path has made
    // every slab a burst can need (their number is bounded by the burst, not by the run).
    send_bursts(&socket, 9105, BACKLOG);
    send_bursts(&socket, 9106, BACKLOG);
    for _ in 0..BACKLOG {
        let packet = queue
            .recv_timeout(wait)
            .expect("recv")
            .expect("a packet in time");
        packet.accept().expect("accepted");
        log.recv_timeout(wait)
            .expect("recv")
            .expect("a message in time");
    }
    let (mut queue_total, mut log_total) = (0u64, 0u64);
    std::thread::scope(|scope| {
        scope.spawn(|| send_bursts(&socket, 9105, REAL_PACKETS));
        for i in 0..REAL_PACKETS {
            let (received, mut n) = counted(|| queue.recv_timeout(wait));
            let packet = received.expect("recv").expect("a packet in time");
            let (accepted, m) = counted(|| {
                black_box(packet.payload().len());
                packet.accept()
            });
            accepted.expect("accepted");
            n += m;
            if i >= REAL_WARM_UP {
                queue_total += n;
            }
        }
    });
    queue.flush().expect("flushed");
    std::thread::scope(|scope| {
        scope.spawn(|| send_bursts(&socket, 9106, REAL_PACKETS));
        for i in 0..REAL_PACKETS {
            let (received, n) = counted(|| {
                let message = log.recv_timeout(wait);
                black_box(message.map(|m| m.map(|m| m.payload().len())))
            });
            received.expect("recv").expect("a message in time");
            if i >= REAL_WARM_UP {
                log_total += n;
            }
        }
    });
    // The same with the log group's callback receive.
    let mut batch_total = 0u64;
    std::thread::scope(|scope| {
        scope.spawn(|| send_bursts(&socket, 9106, REAL_PACKETS));
        let mut handed = 0;
        while handed < REAL_PACKETS {
            let (lent, n) = counted(|| {
                log.recv_batch(Some(wait), |packet| {
                    black_box(packet.payload().len());
                })
            });
            let lent = lent.expect("recv") as u64;
            assert!(lent > 0, "messages in time");
            if handed >= REAL_WARM_UP {
                batch_total += n;
            }
            handed += lent;
        }
    });
    let measured = REAL_PACKETS - REAL_WARM_UP;
    eprintln!(
        "real kernel: {queue_total} allocations over {measured} queued packets, {log_total} over {measured} log messages, {batch_total} over about as many lent by recv_batch"
    );
    print_sizes();
    assert_eq!(
        (queue_total, log_total, batch_total),
        (0, 0, 0),
        "allocations in steady state (queue, log, log recv_batch)"
    );
}
