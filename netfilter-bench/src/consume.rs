//! The Rust consumers, each run as its own process (`netfilter-bench consume <kind> …`) so that
//! its CPU time is its own: the driver starts it inside the sandbox, waits for `ready`, runs
//! the traffic and reads the `result` line, in the same format as the C programs print.

use std::cell::Cell;
use std::hint::black_box;
use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, mpsc};
use std::time::{Duration, Instant};

use netfilter::{LogGroup, Queue};
use netfilter_safe::CopyMode;
use netfilter_safe::log::LogHandle;
use netfilter_safe::queue::{QueueHandle, Verdict};

use crate::measure::Snap;

/// What every consumer is told: which queue or group, how many messages, how many of them are
/// warm-up (not measured).
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    /// Queue number or log group.
    pub num: u16,
    /// Stop after this many messages.
    pub count: u64,
    /// Measure from this message on.
    pub warm: u64,
    /// NFLOG only: `qthresh`, 0 for the kernel's default.
    pub qthresh: u32,
    /// Give up when nothing arrives for this long (every kind but `queue-safe`; for
    /// `queue-threads`, per thread).
    pub idle: Duration,
    /// `queue-threads` only: how many threads, thread `i` serving queue `num + i`.
    pub threads: u16,
}

type Outcome = Result<(), Box<dyn std::error::Error>>;

/// Runs consumer `kind` with `plan`; prints `ready`, then the `result` line.
pub fn run(kind: &str, plan: Plan) -> Outcome {
    match kind {
        "queue-default" => queue(plan, true),
        "queue-nobatch" => queue(plan, false),
        "queue-safe" => queue_safe(plan),
        "queue-threads" => queue_threads(plan),
        "log-default" => log(plan),
        "log-batch" => log_batch(plan),
        "log-safe" => log_safe(plan),
        other => Err(format!("unknown consumer kind {other:?}").into()),
    }
}

fn ready() -> io::Result<()> {
    let mut out = io::stdout().lock();
    writeln!(out, "ready")?;
    out.flush()
}

/// The `netfilter` crate's queue, with its default settings or with batching off.
fn queue(plan: Plan, batching: bool) -> Outcome {
    let mut queue = Queue::builder(plan.num).batching(batching).open()?;
    ready()?;
    let mut start = Snap::now();
    let (mut count, mut overruns) = (0u64, 0u64);
    while count < plan.count {
        // Gives up after `idle` without a packet: a packet the queue never hands out must show
        // as missing in the result, not hang the run.
        let packet = match queue.recv_timeout(plan.idle) {
            Ok(Some(packet)) => packet,
            Ok(None) => break,
            Err(netfilter::Error::Overrun { .. }) => {
                overruns += 1;
                continue;
            }
            Err(error) => return Err(error.into()),
        };
        black_box(packet.payload().len());
        packet.accept()?;
        count += 1;
        if count == plan.warm {
            start = Snap::now();
        }
    }
    queue.flush()?;
    let end = Snap::now();
    Snap::print_result(count, plan.warm, &start, &end, overruns, "");
    Ok(())
}

/// How many packets a `queue-threads` thread counts on its own before adding them to the
/// shared total: one shared atomic written per packet by every thread would bounce its cache
/// line between the cores, a cost between queues that the benchmark, not the library, adds.
const PUBLISH: u64 = 16;

/// How long a `queue-threads` thread waits in one `recv_timeout` before it looks whether the
/// run is over (at most the plan's `idle`).
const POLL: Duration = Duration::from_millis(20);

/// What the threads of `queue-threads` share.
#[derive(Debug)]
struct Shared {
    /// Packets counted by all threads (each adds its own every [`PUBLISH`] packets, and when
    /// its queue is idle).
    total: AtomicU64,
    /// Set when `total` reaches the plan's count, or a thread failed: every thread stops.
    done: AtomicBool,
    /// The total when it first reached the warm-up count, and the snapshot taken then.
    start: Mutex<Option<(u64, Snap)>>,
}

impl Shared {
    /// Adds `n` packets to the total; takes the warm-up snapshot when the total crosses
    /// `plan.warm` and ends the run when it reaches `plan.count`.
    fn publish(&self, n: u64, plan: &Plan) {
        if n == 0 {
            return;
        }
        let before = self.total.fetch_add(n, Ordering::Relaxed);
        let after = before + n;
        if before < plan.warm && after >= plan.warm {
            let snap = Snap::now();
            let mut start = self.start.lock().unwrap_or_else(|e| e.into_inner());
            start.get_or_insert((after, snap));
        }
        if after >= plan.count {
            self.done.store(true, Ordering::Relaxed);
        }
    }
}

/// What one `queue-threads` thread did.
#[derive(Debug, Default)]
struct Tally {
    packets: u64,
    overruns: u64,
    /// When its last packet came.
    last: Option<Instant>,
}

/// `plan.threads` threads in one process, each with its own `netfilter` [`Queue`] (defaults)
/// for queue `plan.num + i`, accepting every packet: how several queues scale. The driver
/// runs it with one thread on a `--queue-num` rule and with two on a `--queue-balance` rule.
///
/// It prints `ready` once every thread has bound its queue. Each thread counts its packets
/// and adds them to a shared total every [`PUBLISH`] packets (and when its queue falls idle);
/// the run ends when the total reaches `plan.count`, or for a thread whose queue has been
/// idle for `plan.idle` (then its packets are missing from the result). CPU is the whole
/// process's (all threads, `RUSAGE_SELF`) from the moment the total crossed the warm-up count
/// to the end; wall time from then to the last packet of any thread. The warm-up point is
/// exact to within `PUBLISH - 1` packets per other thread; the packets measured are counted
/// from the total at that point, not from `plan.warm`. The result line ends with
/// `split=A/B/…`, the packets each queue got, in queue order.
fn queue_threads(plan: Plan) -> Outcome {
    let threads = plan.threads.max(1);
    let last_num = plan
        .num
        .checked_add(threads - 1)
        .ok_or("queue numbers past 65535")?;
    let shared = Shared {
        total: AtomicU64::new(0),
        done: AtomicBool::new(false),
        start: Mutex::new(None),
    };
    let poll = POLL.min(plan.idle);
    let (bound_tx, bound_rx) = mpsc::channel::<Result<(), String>>();
    let tallies = std::thread::scope(|scope| -> Result<Vec<Tally>, Box<dyn std::error::Error>> {
        let workers: Vec<_> = (plan.num..=last_num)
            .map(|num| {
                let (shared, bound_tx) = (&shared, bound_tx.clone());
                scope.spawn(move || -> netfilter::Result<Tally> {
                    let opened = Queue::builder(num).open();
                    let _ = bound_tx.send(
                        opened
                            .as_ref()
                            .map(|_| ())
                            .map_err(|e| format!("queue {num}: {e}")),
                    );
                    // One message per thread: the receiving loop ends once every thread has
                    // sent its own (or died), not when the threads end.
                    drop(bound_tx);
                    let queue = opened?;
                    let result = serve(queue, &plan, shared, poll);
                    if result.is_err() {
                        shared.done.store(true, Ordering::Relaxed);
                    }
                    result
                })
            })
            .collect();
        drop(bound_tx);
        let mut failure = None;
        for bound in bound_rx.iter() {
            if let Err(error) = bound {
                failure.get_or_insert(error);
                shared.done.store(true, Ordering::Relaxed);
            }
        }
        if failure.is_none() {
            if let Err(error) = ready() {
                failure = Some(error.to_string());
                shared.done.store(true, Ordering::Relaxed);
            }
        }
        let mut tallies = Vec::new();
        for worker in workers {
            match worker.join() {
                Ok(Ok(tally)) => tallies.push(tally),
                Ok(Err(error)) => {
                    failure.get_or_insert(error.to_string());
                }
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        match failure {
            Some(error) => Err(error.into()),
            None => Ok(tallies),
        }
    })?;
    let end_cpu = Snap::now();
    let count = shared.total.load(Ordering::Relaxed);
    let (warm, start) = shared
        .start
        .into_inner()
        .unwrap_or_else(|e| e.into_inner())
        .unwrap_or((count, end_cpu));
    let last = tallies.iter().filter_map(|t| t.last).max();
    let end = Snap {
        cpu_ns: end_cpu.cpu_ns,
        wall: last.map_or(start.wall, |last| last.max(start.wall)),
    };
    let overruns = tallies.iter().map(|t| t.overruns).sum();
    let split: Vec<String> = tallies.iter().map(|t| t.packets.to_string()).collect();
    Snap::print_result(
        count,
        warm,
        &start,
        &end,
        overruns,
        &format!(" split={}", split.join("/")),
    );
    Ok(())
}

/// One `queue-threads` thread: accepts every packet of `queue` until the run is over or the
/// queue has been idle for `plan.idle`.
fn serve(
    mut queue: Queue,
    plan: &Plan,
    shared: &Shared,
    poll: Duration,
) -> netfilter::Result<Tally> {
    let mut tally = Tally::default();
    let (mut unpublished, mut idle) = (0u64, Duration::ZERO);
    while !shared.done.load(Ordering::Relaxed) {
        match queue.recv_timeout(poll) {
            Ok(Some(packet)) => {
                black_box(packet.payload().len());
                packet.accept()?;
                tally.packets += 1;
                tally.last = Some(Instant::now());
                idle = Duration::ZERO;
                unpublished += 1;
                if unpublished == PUBLISH {
                    shared.publish(unpublished, plan);
                    unpublished = 0;
                }
            }
            Ok(None) => {
                // Idle: what this thread counted joins the total, which may end the run.
                shared.publish(unpublished, plan);
                unpublished = 0;
                idle += poll;
                if idle >= plan.idle {
                    break;
                }
            }
            Err(netfilter::Error::Overrun { .. }) => tally.overruns += 1,
            Err(error) => return Err(error),
        }
    }
    shared.publish(unpublished, plan);
    queue.flush()?;
    Ok(tally)
}

/// The safe layer: one `recv`, one `handle_packet`, one verdict per packet (from inside the
/// callback), as the classic C program does.
fn queue_safe(plan: Plan) -> Outcome {
    let handle = QueueHandle::open()?;
    let count = Cell::new(0u64);
    let start = Cell::new(Snap::now());
    let queue = handle.create_queue(plan.num, |message| {
        black_box(message.payload().map(<[u8]>::len));
        // A failed verdict leaves the packet queued: the generator then stalls and reports it.
        let _ = message.set_verdict(Verdict::Accept, None, None);
        count.set(count.get() + 1);
        if count.get() == plan.warm {
            start.set(Snap::now());
        }
    })?;
    queue.set_mode(CopyMode::Packet, 0xffff)?;
    ready()?;
    let mut buf = vec![0u8; 0x10000 + 4096];
    let mut overruns = 0u64;
    while count.get() < plan.count {
        match handle.recv(&mut buf) {
            Ok(n) => {
                handle.handle_packet(&buf[..n])?;
            }
            Err(netfilter_safe::Error::Overrun) => overruns += 1,
            Err(error) => return Err(error.into()),
        }
    }
    let end = Snap::now();
    Snap::print_result(count.get(), plan.warm, &start.get(), &end, overruns, "");
    drop(queue);
    Ok(())
}

/// The `netfilter` crate's log group, with the kernel's batching or with `qthresh`.
fn log(plan: Plan) -> Outcome {
    let mut log = open_log(&plan)?;
    let mut start = Snap::now();
    let (mut count, mut overruns) = (0u64, 0u64);
    while count < plan.count {
        // Gives up after `idle` without a message, as the C program does with SO_RCVTIMEO.
        let packet = match log.recv_timeout(plan.idle) {
            Ok(Some(packet)) => packet,
            Ok(None) => break,
            Err(netfilter::Error::Overrun { .. }) => {
                overruns += 1;
                continue;
            }
            Err(error) => return Err(error.into()),
        };
        black_box(packet.payload().len());
        count += 1;
        if count == plan.warm {
            start = Snap::now();
        }
    }
    end_log(&log, &plan, start, count, overruns);
    Ok(())
}

/// The `netfilter` crate's log group read with `recv_batch`: each packet lent to a callback as
/// a view of the received datagram, as C's callbacks get it.
fn log_batch(plan: Plan) -> Outcome {
    let mut log = open_log(&plan)?;
    let mut start = Snap::now();
    let (mut count, mut overruns) = (0u64, 0u64);
    while count < plan.count {
        // Gives up after `idle` without a message, as the C program does with SO_RCVTIMEO.
        let handed = log.recv_batch(Some(plan.idle), |packet| {
            black_box(packet.payload().len());
            count += 1;
            if count == plan.warm {
                start = Snap::now();
            }
        });
        match handed {
            Ok(0) => break,
            Ok(_) => {}
            Err(netfilter::Error::Overrun { .. }) => overruns += 1,
            Err(error) => return Err(error.into()),
        }
    }
    end_log(&log, &plan, start, count, overruns);
    Ok(())
}

/// The `netfilter` log group of `plan`, opened, with the consumer reported ready.
fn open_log(plan: &Plan) -> Result<LogGroup, Box<dyn std::error::Error>> {
    // A 4 MiB receive buffer, as the C program sets: a logger's burst must not overflow it.
    let mut builder = LogGroup::builder(plan.num).recv_buffer(4 << 20);
    if plan.qthresh > 0 {
        builder = builder.qthresh(plan.qthresh);
    }
    let log = builder.open()?;
    ready()?;
    Ok(log)
}

/// Prints the result of a `netfilter` log group's run that counted `count` messages, the
/// measurement started at `start` (or now, when the warm-up was never over).
fn end_log(log: &LogGroup, plan: &Plan, mut start: Snap, count: u64, overruns: u64) {
    if count < plan.warm {
        start = Snap::now();
    }
    let last = end_of_log_run(&start, count < plan.count, plan.idle);
    // The socket's own drop counter (SO_MEMINFO), in case messages went missing silently.
    let drops = log.socket_drops().map_or(-1, i64::from);
    Snap::print_result(
        count,
        plan.warm,
        &start,
        &last,
        overruns,
        &format!(" drops={drops}"),
    );
}

/// The safe layer's log group: one `recv`, one `handle_packet` per datagram, as the C program
/// does (C's dispatch under the safe layer's strict check), with the same receive buffer and
/// idle timeout (`SO_RCVTIMEO`).
fn log_safe(plan: Plan) -> Outcome {
    let handle = LogHandle::open()?;
    let count = Cell::new(0u64);
    let start = Cell::new(Snap::now());
    let mut group = handle.bind_group(plan.num)?;
    group.set_mode(CopyMode::Packet, 0xffff)?;
    if plan.qthresh > 0 {
        group.set_qthresh(plan.qthresh)?;
    }
    group.set_callback(|message| {
        black_box(message.payload().map(<[u8]>::len));
        count.set(count.get() + 1);
        if count.get() == plan.warm {
            start.set(Snap::now());
        }
    })?;
    if let Err(netfilter_safe::Error::NotPermitted { .. }) =
        handle.set_recv_buffer_size(4 << 20, true)
    {
        handle.set_recv_buffer_size(4 << 20, false)?;
    }
    let tv = libc::timeval {
        tv_sec: plan.idle.as_secs() as libc::time_t,
        tv_usec: plan.idle.subsec_micros() as libc::suseconds_t,
    };
    // SAFETY: `tv` is a timeval that lives across the call and its size is passed; the
    // descriptor is the handle's, open for the handle's lifetime.
    let rc = unsafe {
        libc::setsockopt(
            handle.fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            (&tv as *const libc::timeval).cast(),
            size_of::<libc::timeval>() as libc::socklen_t,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error().into());
    }
    ready()?;
    let mut buf = vec![0u8; 0x30000];
    let mut overruns = 0u64;
    while count.get() < plan.count {
        match handle.recv(&mut buf) {
            Ok(n) => {
                handle.handle_packet(&buf[..n])?;
            }
            Err(netfilter_safe::Error::Overrun) => overruns += 1,
            Err(netfilter_safe::Error::Call { source, .. })
                if source.kind() == io::ErrorKind::WouldBlock =>
            {
                break;
            }
            Err(error) => return Err(error.into()),
        }
    }
    if count.get() < plan.warm {
        start.set(Snap::now());
    }
    let last = end_of_log_run(&start.get(), count.get() < plan.count, plan.idle);
    Snap::print_result(count.get(), plan.warm, &start.get(), &last, overruns, "");
    drop(group);
    Ok(())
}

/// The end snapshot of a log consumer's run that began at `start`: CPU up to now (an idle wait
/// costs none); wall time up to the last message, so when the loop ended by waiting `idle` for
/// messages that never came (`idled`), that wait is taken off. As the C program does.
fn end_of_log_run(start: &Snap, idled: bool, idle: Duration) -> Snap {
    let mut last = Snap::now();
    if idled {
        last.wall = last
            .wall
            .checked_sub(idle)
            .filter(|&wall| wall > start.wall)
            .unwrap_or(last.wall);
    }
    last
}
