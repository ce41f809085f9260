//! Real-kernel throughput of netfilter-rs against the C libraries (issue 6).
//!
//! ```text
//! cargo run --release -p netfilter-bench -- [--quick] [--rounds N] [--packets N] [--window N]
//!     [--log-rate PKT_PER_S] [--flows N] [--queue-only | --scaling-only | --log-only]
//!     [--wrap 'strace -c -f -o FILE']
//! ```
//!
//! As root, it makes one private network namespace (netfilter-testkit's `Sandbox`), installs
//! inside it, all in OUTPUT: an NFQUEUE rule (UDP port 9000, queue 0), an NFLOG rule (UDP port
//! 9001, group 1) and a balancing NFQUEUE rule (UDP port 9002, `--queue-balance 10:11`), builds
//! the C baselines from `netfilter-bench/c/*.c` with `cc`, and then, in alternating rounds, for
//! 64- and 1400-byte payloads, runs each consumer as its own process inside the namespace while
//! a closed-loop generator (sendmmsg/recvmmsg, a fixed window of datagrams in flight) sends UDP
//! over loopback. Each consumer measures its own CPU time (`getrusage`, user + sys) and wall
//! time after a warm-up; the tables show medians over the rounds. Nothing is done in the host's
//! namespace; the namespace is removed on exit.
//!
//! Three tables: NFQUEUE (the C programs and the Rust consumers on queue 0), NFLOG, and one vs
//! two queues (the `queue-threads` consumer with one thread on queue 0, then with two threads
//! on queues 10 and 11; the generator sends from `--flows` source addresses, 8 by default,
//! picked at the start so that the balancing rule sends half of them to each queue, see
//! [`calibrate`] and [`SCALING_CONSUMERS`]). `--queue-only`,
//! `--scaling-only` and `--log-only` run one table only.
//!
//! The NFQUEUE table's baselines: C plain (`nfq_set_verdict` per packet), C batch
//! (`nfq_set_verdict_batch` after draining) and C libmnl (`recvmmsg` of up to 64 datagrams, one
//! batch verdict per receive: the best hand-written C consumer). With `--window 1` (one
//! datagram in flight: latency-bound) a round-trip table follows, the generator's median and
//! 99th-percentile send-to-receive time per consumer.
//!
//! `netfilter-bench consume <kind> …` is the Rust consumers' entry point (used by the driver).
//!
//! `netfilter-bench soak […]` is the reliability soak (issue 15; `RELIABILITY.md`): millions
//! of datagrams through a real queue with worker threads giving random verdicts, and through
//! a log group with sequence numbers, checking every packet's fate and that memory stays
//! flat. See the [`soak`] module for its options and checks.

mod consume;
mod measure;
mod report;
mod soak;
mod traffic;

use std::io::{BufRead, BufReader};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use netfilter_testkit::Sandbox;
use netfilter_testkit::rules::{Hook, Protocol, Rule};

use crate::report::{Kind, Sample};

const QUEUE: u16 = 0;
const GROUP: u16 = 1;
const QUEUE_PORT: u16 = 9000;
const LOG_PORT: u16 = 9001;
/// The first of the two queues the balancing rule spreads flows over.
const BALANCE_FIRST: u16 = 10;
/// The balancing rule's UDP port.
const BALANCE_PORT: u16 = 9002;
/// Flows (source addresses) the generator uses for the scaling table unless `--flows` says.
const SCALING_FLOWS: usize = 8;
const PAYLOADS: [usize; 2] = [64, 1400];
const STALL: Duration = Duration::from_secs(3);
const LOG_IDLE: Duration = Duration::from_millis(1500);

type Outcome<T = ()> = Result<T, Box<dyn std::error::Error>>;

#[derive(Debug, Clone, Copy)]
struct Options {
    rounds: usize,
    packets: u64,
    window: u64,
    log_rate: u64,
    /// Flows (source addresses) of the scaling table's generator.
    flows: usize,
    /// A command line the consumers run under (`strace -c -f -o FILE`, `perf record …`).
    wrap: Option<&'static str>,
}

/// One consumer of a table: how to start it and where its traffic goes.
#[derive(Debug, Clone, Copy)]
struct Consumer {
    name: &'static str,
    kind: Kind,
    /// A C program (built into the work directory) or a `consume` kind of this binary.
    program: Program,
    /// NFLOG qthresh (0: the kernel's default batching).
    qthresh: u32,
    /// NFLOG, C program only: the `nflog_set_nlbufsiz` it makes (0: the kernel's page).
    nlbufsiz: u32,
    /// The (first) queue number or the log group.
    num: u16,
    /// The UDP port the generator sends to: the port of the rule that feeds `num`.
    port: u16,
    /// Threads of a `queue-threads` consumer, one per queue (1 for the others).
    threads: u16,
}

#[derive(Debug, Clone, Copy)]
enum Program {
    C(&'static str),
    Rust(&'static str),
}

const QUEUE_CONSUMERS: [Consumer; 6] = [
    Consumer::queue(
        "C plain (nfq_set_verdict per packet)",
        Program::C("nfq_plain"),
    ),
    Consumer::queue("C batch (nfq_set_verdict_batch)", Program::C("nfq_batch")),
    Consumer::queue("C libmnl (recvmmsg, batch verdict)", Program::C("nfq_mnl")),
    Consumer::queue("netfilter Queue, defaults", Program::Rust("queue-default")),
    Consumer::queue(
        "netfilter Queue, batching off",
        Program::Rust("queue-nobatch"),
    ),
    Consumer::queue(
        "netfilter-safe, verdict per packet",
        Program::Rust("queue-safe"),
    ),
];

const LOG_CONSUMERS: [Consumer; 9] = [
    Consumer::log(report::LOG_BASELINE, Program::C("nflog_plain"), 0),
    // C given the batch buffer `LogGroup` asks for unless told: what of `LogGroup`'s gain
    // with the kernel's batching is that default, not its code.
    Consumer {
        nlbufsiz: netfilter::LogBuilder::DEFAULT_NLBUFSIZ,
        ..Consumer::log(
            "C libnetfilter_log, nlbufsiz as LogGroup's",
            Program::C("nflog_plain"),
            0,
        )
    },
    Consumer::log("netfilter LogGroup", Program::Rust("log-default"), 0),
    Consumer::log(
        "netfilter LogGroup, recv_batch",
        Program::Rust("log-batch"),
        0,
    ),
    Consumer::log(
        "netfilter-safe, handle_packet",
        Program::Rust("log-safe"),
        0,
    ),
    Consumer::log(report::LOG_BASELINE, Program::C("nflog_plain"), 1),
    Consumer::log("netfilter LogGroup", Program::Rust("log-default"), 1),
    Consumer::log(
        "netfilter LogGroup, recv_batch",
        Program::Rust("log-batch"),
        1,
    ),
    Consumer::log(
        "netfilter-safe, handle_packet",
        Program::Rust("log-safe"),
        1,
    ),
];

/// The scaling table: the same `queue-threads` consumer (a `netfilter` Queue with its
/// defaults per thread, one thread per queue) and the same generator (the same `--flows`
/// source addresses, the same window), once with one queue and once with two.
///
/// The one-queue case runs on the main table's `--queue-num 0` rule (port 9000), not on
/// queue 10 of the balancing rule: with one thread on a `--queue-balance 10:11` rule, the
/// flows hashed to queue 11 would find no listener and be dropped (or, with `--queue-bypass`,
/// accepted without being queued), so the two cases would not queue the same packets. With
/// its own rule every packet of the one-queue case goes through the single queue. What the
/// two rules do differently happens in the sending thread (the balancing rule hashes each
/// packet's addresses; its packets also pass the two rules installed before it without
/// matching), so it shows in the generator's CPU, not in the consumer's.
const SCALING_CONSUMERS: [Consumer; 2] = [
    Consumer::scaling("1 queue, 1 thread", QUEUE, QUEUE_PORT, 1),
    Consumer::scaling("2 queues, 2 threads", BALANCE_FIRST, BALANCE_PORT, 2),
];

impl Consumer {
    const fn queue(name: &'static str, program: Program) -> Consumer {
        Consumer {
            name,
            kind: Kind::Queue,
            program,
            qthresh: 0,
            nlbufsiz: 0,
            num: QUEUE,
            port: QUEUE_PORT,
            threads: 1,
        }
    }

    const fn log(name: &'static str, program: Program, qthresh: u32) -> Consumer {
        Consumer {
            name,
            kind: Kind::Log,
            program,
            qthresh,
            nlbufsiz: 0,
            num: GROUP,
            port: LOG_PORT,
            threads: 1,
        }
    }

    /// `queue-threads` with `threads` threads on queues `num..num + threads`, fed by `port`.
    const fn scaling(name: &'static str, num: u16, port: u16, threads: u16) -> Consumer {
        Consumer {
            name,
            kind: Kind::Scaling,
            program: Program::Rust("queue-threads"),
            qthresh: 0,
            nlbufsiz: 0,
            num,
            port,
            threads,
        }
    }

    fn command(
        &self,
        sandbox: &Sandbox,
        work: &Path,
        plan: &consume::Plan,
        wrap: Option<&str>,
    ) -> Outcome<Command> {
        let num = plan.num.to_string();
        let count = plan.count.to_string();
        let warm = plan.warm.to_string();
        let qthresh = plan.qthresh.to_string();
        let idle = plan.idle.as_millis().to_string();
        let threads = plan.threads.to_string();
        let mut argv: Vec<String> = wrap
            .map(|w| w.split_whitespace().map(String::from).collect())
            .unwrap_or_default();
        match self.program {
            Program::C(name) => {
                let path = work.join(name);
                argv.push(path.to_str().ok_or("work dir not UTF-8")?.into());
                argv.extend([num, count, warm]);
                if self.kind == Kind::Log {
                    argv.extend([qthresh, idle, self.nlbufsiz.to_string()]);
                }
            }
            Program::Rust(kind) => {
                let exe = std::env::current_exe()?;
                argv.push(exe.to_str().ok_or("exe path not UTF-8")?.into());
                argv.extend([
                    "consume".into(),
                    kind.into(),
                    num,
                    count,
                    warm,
                    qthresh,
                    idle,
                    threads,
                ]);
            }
        }
        let mut command = sandbox.command(&argv[0]);
        command.args(&argv[1..]);
        command.stdin(Stdio::null()).stdout(Stdio::piped());
        Ok(command)
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let outcome = match args.first().map(String::as_str) {
        Some("consume") => consume_main(&args[1..]),
        Some("soak") => soak::main(&args[1..]),
        _ => driver_main(&args),
    };
    if let Err(error) = outcome {
        eprintln!("netfilter-bench: {error}");
        std::process::exit(1);
    }
}

fn consume_main(args: &[String]) -> Outcome {
    let [kind, num, count, warm, qthresh, idle, threads] = args else {
        return Err(
            "usage: consume <kind> <num> <count> <warm> <qthresh> <idle_ms> <threads>".into(),
        );
    };
    let plan = consume::Plan {
        num: num.parse()?,
        count: count.parse()?,
        warm: warm.parse()?,
        qthresh: qthresh.parse()?,
        idle: Duration::from_millis(idle.parse()?),
        threads: threads.parse()?,
    };
    consume::run(kind, plan)
}

fn driver_main(args: &[String]) -> Outcome {
    let mut options = Options {
        rounds: 5,
        packets: 100_000,
        window: 64,
        log_rate: 30_000,
        flows: SCALING_FLOWS,
        wrap: None,
    };
    let mut only: Option<Kind> = None;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--quick" => {
                options.rounds = 2;
                options.packets = 20_000;
            }
            "--rounds" => options.rounds = value()?.parse()?,
            "--packets" => options.packets = value()?.parse()?,
            "--window" => options.window = value()?.parse()?,
            "--log-rate" => options.log_rate = value()?.parse()?,
            "--flows" => options.flows = value()?.parse()?,
            "--wrap" => options.wrap = Some(value()?.clone().leak()),
            "--queue-only" => only = Some(Kind::Queue),
            "--scaling-only" => only = Some(Kind::Scaling),
            "--log-only" => only = Some(Kind::Log),
            "-h" | "--help" => {
                println!(
                    "usage: netfilter-bench [--quick] [--rounds N] [--packets N] [--window N] \
                     [--log-rate PKT_PER_S] [--flows N] [--queue-only | --scaling-only | --log-only] \
                     [--wrap 'strace -c -f -o FILE']\n\n\
                     Tables: NFQUEUE (queue 0), one vs two queues (queue 0, then queues 10 and 11 \
                     behind --queue-balance; the generator sends from --flows source addresses, \
                     default {SCALING_FLOWS}, half of them hashed to each queue), NFLOG. --queue-only, --scaling-only and --log-only \
                     run one table only."
                );
                return Ok(());
            }
            other => return Err(format!("unknown argument {other:?} (try --help)").into()),
        }
    }
    if options.window == 0 || options.packets < 10 {
        return Err("--window must be at least 1 and --packets at least 10".into());
    }
    if !(1..=traffic::MAX_FLOWS).contains(&options.flows) {
        return Err(format!("--flows must be between 1 and {}", traffic::MAX_FLOWS).into());
    }

    let work = std::env::temp_dir().join(format!("netfilter-bench-{}", std::process::id()));
    std::fs::create_dir_all(&work)?;
    let result = build_c(&work).and_then(|()| bench(&work, options, only));
    let _ = std::fs::remove_dir_all(&work);
    result
}

/// Builds the C baselines from the repository's sources into `work`.
fn build_c(work: &Path) -> Outcome {
    let sources = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("c");
    for (name, libs) in [
        ("nfq_plain", &["-lnetfilter_queue"][..]),
        ("nfq_batch", &["-lnetfilter_queue"]),
        ("nfq_mnl", &["-lnetfilter_queue", "-lmnl"]),
        ("nflog_plain", &["-lnetfilter_log"]),
    ] {
        let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
        let status = Command::new(&cc)
            .args(["-O2", "-Wall", "-o"])
            .arg(work.join(name))
            .arg(sources.join(format!("{name}.c")))
            .args(libs)
            .status()
            .map_err(|e| format!("cannot run {cc}: {e}"))?;
        if !status.success() {
            return Err(format!("{cc} failed to build {name}.c ({status})").into());
        }
    }
    Ok(())
}

fn bench(work: &Path, options: Options, only: Option<Kind>) -> Outcome {
    let sandbox = Sandbox::new()?;
    Rule::queue(QUEUE)
        .hook(Hook::Output)
        .protocol(Protocol::Udp)
        .dport(QUEUE_PORT)
        .apply(&sandbox)?;
    Rule::log(GROUP)
        .hook(Hook::Output)
        .protocol(Protocol::Udp)
        .dport(LOG_PORT)
        .apply(&sandbox)?;
    // No --queue-bypass: the consumer has bound both queues before the traffic starts.
    Rule::queue_balance(BALANCE_FIRST, BALANCE_FIRST + 1)
        .hook(Hook::Output)
        .protocol(Protocol::Udp)
        .dport(BALANCE_PORT)
        .apply(&sandbox)?;
    eprintln!(
        "namespace {}: {} rounds, {} packets per run ({} warm-up), window {}, NFLOG at {} pkt/s, \
         {} flows for the scaling table",
        sandbox.name(),
        options.rounds,
        options.packets,
        options.packets / 10,
        options.window,
        options.log_rate,
        options.flows
    );

    let scaling_sources = if only.is_none_or(|k| k == Kind::Scaling) {
        calibrate(&sandbox, options.flows)?
    } else {
        Vec::new()
    };

    let mut samples: Vec<Sample> = Vec::new();
    for round in 0..options.rounds {
        for &payload in &PAYLOADS {
            for (set, wanted) in [
                (&QUEUE_CONSUMERS[..], Kind::Queue),
                (&SCALING_CONSUMERS[..], Kind::Scaling),
                (&LOG_CONSUMERS[..], Kind::Log),
            ] {
                if only.is_some_and(|k| k != wanted) {
                    continue;
                }
                // Alternate: rotate the order every round so no consumer always runs first.
                for i in 0..set.len() {
                    let consumer = &set[(i + round) % set.len()];
                    match run_one(&sandbox, work, consumer, payload, options, &scaling_sources) {
                        Ok(sample) => {
                            eprintln!(
                                "round {round} {payload:>4} B {:<40} q{} {:>9.0} pkt/s {:>6.2} µs/pkt {:>6.2}% delivered{}{}",
                                consumer.name,
                                consumer.qthresh,
                                sample.pps(),
                                sample.cpu_us(),
                                sample.delivered_pct(),
                                sample
                                    .drops()
                                    .map(|d| format!(", socket drops {d}"))
                                    .unwrap_or_default(),
                                sample
                                    .split()
                                    .map(|split| format!(", packets per queue {split:?}"))
                                    .unwrap_or_default()
                            );
                            samples.push(sample.in_round(round));
                        }
                        Err(error) => {
                            eprintln!(
                                "round {round} {payload} B {}: FAILED: {error}",
                                consumer.name
                            )
                        }
                    }
                }
            }
        }
    }
    report::print(
        &samples,
        options.rounds,
        options.packets,
        options.window,
        options.log_rate,
        options.flows,
    );
    Ok(())
}

/// `flows` loopback source addresses that the balancing rule spreads evenly over its two
/// queues: the kernel hashes addresses with a seed drawn at boot, so this asks it. Both queues
/// are bound (by this process, inside the sandbox), one datagram is sent from each candidate
/// address in turn, and the queue that receives it tells where that address goes; the packet
/// is accepted. Candidates are taken until each queue has its half (the first queue the odd
/// one out); the result alternates the queues. With fewer than 2 flows: `127.0.0.1`.
fn calibrate(sandbox: &Sandbox, flows: usize) -> Outcome<Vec<Ipv4Addr>> {
    if flows < 2 {
        return Ok((1..=flows).map(traffic::loopback).collect());
    }
    let mut queues = [BALANCE_FIRST, BALANCE_FIRST + 1]
        .map(|num| sandbox.run(|| netfilter::Queue::builder(num).open()));
    let wanted = [flows.div_ceil(2), flows / 2];
    let mut found: [Vec<Ipv4Addr>; 2] = [Vec::new(), Vec::new()];
    for host in 1..=traffic::MAX_FLOWS {
        if found.iter().zip(wanted).all(|(f, w)| f.len() >= w) {
            break;
        }
        let source = traffic::loopback(host);
        sandbox.run(|| -> std::io::Result<usize> {
            let socket = std::net::UdpSocket::bind((source, 0))?;
            socket.send_to(b"calibrate", (Ipv4Addr::LOCALHOST, BALANCE_PORT))
        })?;
        let deadline = std::time::Instant::now() + STALL;
        let which = 'wait: loop {
            for (i, queue) in queues.iter_mut().enumerate() {
                let queue = queue.as_mut().map_err(|e| format!("calibration: {e}"))?;
                if let Some(packet) = queue.recv_timeout(Duration::from_millis(5))? {
                    packet.accept()?;
                    break 'wait i;
                }
            }
            if std::time::Instant::now() > deadline {
                return Err(
                    format!("calibration: the datagram from {source} was not queued").into(),
                );
            }
        };
        if found[which].len() < wanted[which] {
            found[which].push(source);
        }
    }
    if found.iter().zip(wanted).any(|(f, w)| f.len() < w) {
        return Err(format!(
            "calibration: {} addresses did not give {} per queue",
            traffic::MAX_FLOWS,
            flows / 2
        )
        .into());
    }
    let [first, second] = found;
    let mut sources = Vec::with_capacity(flows);
    for (i, &address) in first.iter().enumerate() {
        sources.push(address);
        sources.extend(second.get(i));
    }
    eprintln!(
        "scaling flows (queue {BALANCE_FIRST} / {}): {first:?} / {second:?}",
        BALANCE_FIRST + 1
    );
    Ok(sources)
}

/// Starts `consumer`, waits until it is bound, runs the generator, and reads its result.
fn run_one(
    sandbox: &Sandbox,
    work: &Path,
    consumer: &Consumer,
    payload: usize,
    options: Options,
    scaling_sources: &[Ipv4Addr],
) -> Outcome<Sample> {
    let plan = consume::Plan {
        num: consumer.num,
        count: options.packets,
        warm: options.packets / 10,
        qthresh: consumer.qthresh,
        idle: LOG_IDLE,
        threads: consumer.threads,
    };
    let mut child = KillOnDrop(
        consumer
            .command(sandbox, work, &plan, options.wrap)?
            .spawn()?,
    );
    let stdout = child.0.stdout.take().ok_or("no stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    match lines.next() {
        Some(Ok(line)) if line == "ready" => {}
        other => return Err(format!("consumer did not start: {other:?}").into()),
    }
    let generated = sandbox.run(|| {
        let rate = (consumer.kind == Kind::Log).then_some(options.log_rate);
        let sources = if consumer.kind == Kind::Scaling {
            scaling_sources
        } else {
            &[Ipv4Addr::LOCALHOST][..]
        };
        traffic::generate(
            consumer.port,
            options.packets,
            options.window,
            payload,
            rate,
            sources,
            STALL,
        )
    })?;
    if generated.stalled && consumer.kind != Kind::Log {
        return Err(format!(
            "traffic stalled after {} of {} packets",
            generated.received, options.packets
        )
        .into());
    }
    // The consumer ends by itself (target count, or `LOG_IDLE` without a message); give it a
    // deadline all the same, then kill it by its PID.
    let deadline = std::time::Instant::now() + LOG_IDLE + STALL;
    let status = loop {
        if let Some(status) = child.0.try_wait()? {
            break status;
        }
        if std::time::Instant::now() > deadline {
            return Err("the consumer did not finish; killed".into());
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let line = match lines.next() {
        Some(Ok(line)) => line,
        other => return Err(format!("no result from the consumer: {other:?}").into()),
    };
    if !status.success() {
        return Err(format!("consumer exited with {status}").into());
    }
    Sample::parse(
        consumer.name,
        consumer.kind,
        consumer.qthresh,
        payload,
        &line,
        generated,
    )
}

/// Kills (by its PID, through `Child::kill`) a consumer that is still running when a run
/// fails, and reaps it.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}
