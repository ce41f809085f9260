//! Heap allocations per packet in steady state through the `netfilter` queue over the fake
//! kernel (issue 6: the target is zero). Its own test binary: it installs a counting global
//! allocator.
//!
//! Only allocations made on the test's thread while counting is on are counted: the packets
//! are synthesized and fed to the fake kernel with counting off, then received and accepted
//! with it on. The fake kernel handles each verdict inside `Transport::send`, on this thread,
//! so its own work (decoding the verdict with `wire`, recording it) is in the count too; the
//! count is split below into the `recv` side and the verdict side to tell them apart.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::hint::black_box;

use netfilter::Queue;
use netfilter_testkit::fake::FakeKernel;
use netfilter_testkit::synth::{QueuePacketBuilder, payload};

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

/// Counts the allocations `f` makes on this thread.
fn counted<T>(f: impl FnOnce() -> T) -> (T, u64) {
    COUNT.with(|n| n.set(0));
    COUNTING.with(|on| on.set(true));
    let value = f();
    COUNTING.with(|on| on.set(false));
    (value, COUNT.with(Cell::get))
}

#[test]
fn steady_state_allocations_per_packet() {
    const BATCH: u64 = 32;
    const BATCHES: u64 = 200;

    let (kernel, transport) = FakeKernel::new().expect("a fake kernel");
    let mut queue = Queue::builder(0)
        .transport(transport)
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
    for round in 0..BATCHES + 20 {
        for _ in 0..BATCH {
            kernel.queue_packet(packet.clone()).expect("fed");
        }
        let (mut r, mut v) = (0, 0);
        for _ in 0..BATCH {
            let (received, n) = counted(|| queue.recv());
            let received = received.expect("a packet");
            r += n;
            black_box(received.payload().len());
            let (accepted, n) = counted(|| received.accept());
            accepted.expect("accepted");
            v += n;
        }
        let (flushed, n) = counted(|| queue.flush());
        flushed.expect("flushed");
        v += n;
        // The first 20 batches warm up (buffers, the fake's records reaching their size).
        if round == 20 {
            SIZES.with(|slots| slots.iter().for_each(|s| s.set((0, 0))));
        }
        if round >= 20 {
            recv_side += r;
            verdict_side += v;
        }
    }
    let packets = BATCH * BATCHES;
    let per_packet = (recv_side + verdict_side) as f64 / packets as f64;
    eprintln!(
        "allocations per packet: {per_packet:.2} ({:.2} in recv, {:.2} in verdicts and flush, \
         the fake kernel's own handling included)",
        recv_side as f64 / packets as f64,
        verdict_side as f64 / packets as f64
    );
    SIZES.with(|slots| {
        for (size, n) in slots.iter().map(Cell::get).filter(|s| s.1 > 0) {
            eprintln!("  {n:>6} allocations of {size} bytes");
        }
    });
    assert_eq!(
        kernel.outstanding(0).len(),
        0,
        "every packet got its verdict"
    );
    // Target (issue 6): 0 allocations per packet. NOT met: measured 0.16 in `recv` (the
    // receive buffer is now carved from slabs; what remains is bytes' shared header when a
    // slab is first split, and a vector regrown from empty once per 32-packet batch) and 0.06
    // on the verdict side (before the slab change: 2.16 and 0.06); see BENCHMARKS.md. These
    // bounds pin what was measured so that a regression fails; lower them (to 0) as the
    // allocations are removed.
    let recv_per_packet = recv_side as f64 / packets as f64;
    assert!(
        recv_per_packet <= RECV_BOUND,
        "{recv_per_packet:.2} allocations per packet in recv (measured bound {RECV_BOUND}, target 0)"
    );
    assert!(
        per_packet <= TOTAL_BOUND,
        "{per_packet:.2} allocations per packet (measured bound {TOTAL_BOUND}, target 0)"
    );
}

/// Allocations per packet in `Queue::recv`, as measured (target 0).
const RECV_BOUND: f64 = 0.2;
/// Allocations per packet in `recv`, `accept` and `flush` together, as measured (target 0).
const TOTAL_BOUND: f64 = 0.25;
