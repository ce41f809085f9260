//! The Rust consumers, each run as its own process (`netfilter-bench consume <kind> …`) so that
//! its CPU time is its own: the driver starts it inside the sandbox, waits for `ready`, runs
//! the traffic and reads the `result` line, in the same format as the C programs print.

use std::cell::Cell;
use std::hint::black_box;
use std::io::{self, Write};
use std::time::Duration;

use netfilter::{LogGroup, Queue};
use netfilter_safe::CopyMode;
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
    /// NFLOG only: give up when nothing arrives for this long.
    pub idle: Duration,
}

type Outcome = Result<(), Box<dyn std::error::Error>>;

/// Runs consumer `kind` with `plan`; prints `ready`, then the `result` line.
pub fn run(kind: &str, plan: Plan) -> Outcome {
    match kind {
        "queue-default" => queue(plan, true),
        "queue-nobatch" => queue(plan, false),
        "queue-safe" => queue_safe(plan),
        "log-default" => log(plan),
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
    // A 4 MiB receive buffer, as the C program sets: a logger's burst must not overflow it.
    let mut builder = LogGroup::builder(plan.num).recv_buffer(4 << 20);
    if plan.qthresh > 0 {
        builder = builder.qthresh(plan.qthresh);
    }
    let mut log = builder.open()?;
    ready()?;
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
    if count < plan.warm {
        start = Snap::now();
    }
    // CPU up to the end (the idle wait costs none); wall time up to the last message: when
    // the loop ended by waiting `idle` for nothing, that wait is taken off.
    let mut last = Snap::now();
    if count < plan.count {
        last.wall = last
            .wall
            .checked_sub(plan.idle)
            .filter(|&wall| wall > start.wall)
            .unwrap_or(last.wall);
    }
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
    Ok(())
}
