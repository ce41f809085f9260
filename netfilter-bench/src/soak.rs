//! `netfilter-bench soak`: a long run through a real queue and a real log group that checks
//! every packet's fate (issue 15).
//!
//! ```text
//! cargo run --release -p netfilter-bench -- soak [--packets N] [--workers N] [--window N]
//!     [--max-len N] [--hold-ms N] [--default-verdict accept|drop] [--log-packets N]
//!     [--log-rate PKT_PER_S] [--copy-range BYTES] [--recv-buffer BYTES]
//!     [--log-recv-buffer BYTES] [--seconds-limit S] [--seed N] [--rss-bound-mib N]
//!     [--queue-only | --log-only]
//! ```
//!
//! Everything happens in one private network namespace (netfilter-testkit's `Sandbox`,
//! removed on exit), over loopback. Each datagram's UDP payload starts with its sequence
//! number (8 bytes, little endian), followed by filler bytes derived from it; its length
//! (16 to 143 bytes) and what happens to it are drawn from a hash of the sequence number and
//! the seed (printed first; `--seed` replays a run's choices), so the checker knows what each
//! datagram should have become.
//!
//! **Queue phase.** Rule, inside the namespace: `iptables -A OUTPUT -p udp --dport 9100 -m
//! mark ! --mark 0x5a -j NFQUEUE --queue-num 0`. A sender thread sends `--packets` datagrams
//! to a UDP socket of the namespace, never more than `--window` unsettled (sent, and not yet
//! delivered, dropped by a verdict or counted lost by the kernel's procfs counters). The
//! receive loop (one `Queue`, with its default verdict set explicitly) hands each packet to
//! one of `--workers` threads through a channel; the workers give verdicts in a shuffled
//! order, per packet one of: accept; drop; repeat with mark `0x5a` (the rule skips marked
//! packets, so the packet goes on); no verdict at all (the `Packet` is dropped and the
//! queue's default verdict applies); and, for a fifth of the packets, any of these after
//! holding the packet for 1 to `--hold-ms` milliseconds. A receiver thread reads what
//! arrives at the UDP socket. Checks at the end:
//!
//! - no verdict failed, no send failed, the traffic never stalled;
//! - the queue's procfs row shows 0 packets waiting once every verdict is given;
//! - the kernel's last id equals packets received plus [`Queue::stats`]'s `id_gaps`, and the
//!   gaps equal the ids the kernel failed to deliver (`queue_user_dropped`);
//! - every datagram sent got an id or was refused by a full queue (`queue_dropped`);
//! - the queue saw no datagram twice and nothing it did not send;
//! - every datagram whose verdict lets it pass (accept, repeat, the default verdict when it
//!   is accept) arrived exactly once and intact, and no dropped or lost one arrived;
//! - the resident set size stayed flat: the last sample is at most `--rss-bound-mib` (16)
//!   above the sample taken after the first tenth of the traffic.
//!
//! **Log phase.** Rule: NFLOG group 1 for UDP port 9101, a `LogGroup` with sequence numbers
//! ([`LogBuilder::seq`](netfilter::LogBuilder::seq)), a 10 ms flush timeout. The sender sends
//! `--log-packets` datagrams as fast as it can (or at `--log-rate`), so the receive buffer may
//! overflow; then, once the receiver is idle, single closing datagrams until one arrives, so
//! that its sequence number reveals losses at the end. Checks: no message twice; each
//! message's sequence number equals the datagram's own (the kernel numbered them in sending
//! order); received plus the losses reported (`Error::Overrun { lost: Some(n) }`) equals sent;
//! the losses each packet reports (`lost_before`) add up to the same; the closing datagram
//! arrived; the resident set size stayed flat.
//!
//! The defaults lose nothing (the window is below the queue's length, the buffers are big).
//! To drive the loss accounting, make the kernel lose packets: `--window 4096 --max-len 256`
//! (a full queue refuses packets), `--recv-buffer 65536` (the queue's socket overflows: ids
//! the program never sees), `--log-recv-buffer 65536` (log messages lost). `--copy-range`
//! sets the queue's copy range (default: the library's, the whole packet).
//!
//! `--seconds-limit` stops each phase's sending early (the checks still cover what was sent).
//! Any failed check makes the command exit with status 1, after printing all the checks.

use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread;
use std::time::{Duration, Instant};

use netfilter::payload::{Ip, Transport};
use netfilter::{CopyMode, Error, LogGroup, Packet, Queue, Verdict, VerdictKind};
use netfilter_testkit::Sandbox;
use netfilter_testkit::rules::{Hook, Protocol, Rule};

use crate::Outcome;

/// What the phases' threads return: their errors cross threads.
type ThreadResult<T = ()> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// The queue the soak's NFQUEUE rule feeds.
const QUEUE: u16 = 0;
/// The soak's log group.
const GROUP: u16 = 1;
/// The UDP port whose datagrams are queued.
const QUEUE_PORT: u16 = 9100;
/// The UDP port whose datagrams are logged.
const LOG_PORT: u16 = 9101;
/// The mark a repeat verdict sets; the NFQUEUE rule skips packets that carry it.
const MARK: u32 = 0x5a;
/// How long nothing may move before the run counts as stalled.
const STALL: Duration = Duration::from_secs(5);
/// How often the resident set size is sampled.
const RSS_EVERY: Duration = Duration::from_millis(500);
/// How many packets a worker takes from its channel at most before giving their verdicts.
const BATCH: usize = 16;
/// How long a socket read waits before its thread looks whether it should stop.
const POLL: Duration = Duration::from_millis(20);
/// Socket buffers of the sender and the receivers: held packets count against the sender's.
const SOCKET_BUFFER: libc::c_int = 8 << 20;
/// Failing sequence numbers listed per check.
const EXAMPLES: usize = 8;

/// The command line.
#[derive(Debug, Clone, Copy)]
struct Options {
    packets: u64,
    workers: usize,
    window: u64,
    max_len: u32,
    hold_ms: u64,
    default_verdict: VerdictKind,
    log_packets: u64,
    log_rate: Option<u64>,
    copy_range: u32,
    recv_buffer: u32,
    log_recv_buffer: Option<u32>,
    seconds_limit: Option<Duration>,
    seed: u64,
    rss_bound_mib: u64,
    queue: bool,
    log: bool,
}

/// `soak --help`.
const USAGE: &str = "usage: netfilter-bench soak [--packets N] [--workers N] [--window N] \
[--max-len N] [--hold-ms N] [--default-verdict accept|drop] [--log-packets N] \
[--log-rate PKT_PER_S] [--copy-range BYTES] [--recv-buffer BYTES] [--log-recv-buffer BYTES] \
[--seconds-limit S] [--seed N] [--rss-bound-mib N] \
[--queue-only | --log-only]\n\n\
Pushes --packets datagrams (default 2000000) through NFQUEUE queue 0 in a private namespace, \
--workers threads (default 4) giving random verdicts (accept, drop, repeat with mark, the \
default verdict, some held for up to --hold-ms ms), then --log-packets (default: --packets) \
through NFLOG group 1 with sequence numbers, and checks that every packet got the fate its \
verdict implies and that memory stayed flat. Exit status 1 when a check fails.";

impl Options {
    /// The options of `args` (after `soak`); `None` when `--help` printed the usage.
    fn parse(args: &[String]) -> Result<Option<Options>, Box<dyn std::error::Error>> {
        let mut options = Options {
            packets: 2_000_000,
            workers: 4,
            window: 512,
            max_len: 1024,
            hold_ms: 20,
            default_verdict: VerdictKind::Accept,
            log_packets: 0,
            log_rate: None,
            copy_range: netfilter::MAX_COPY_RANGE,
            recv_buffer: SOCKET_BUFFER as u32,
            log_recv_buffer: None,
            seconds_limit: None,
            seed: clock_seed(),
            rss_bound_mib: 16,
            queue: true,
            log: true,
        };
        let mut log_packets = None;
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            let mut value = || it.next().ok_or_else(|| format!("{arg} needs a value"));
            match arg.as_str() {
                "--packets" => options.packets = value()?.parse()?,
                "--workers" => options.workers = value()?.parse()?,
                "--window" => options.window = value()?.parse()?,
                "--max-len" => options.max_len = value()?.parse()?,
                "--hold-ms" => options.hold_ms = value()?.parse()?,
                "--default-verdict" => {
                    options.default_verdict = match value()?.as_str() {
                        "accept" => VerdictKind::Accept,
                        "drop" => VerdictKind::Drop,
                        other => {
                            return Err(
                                format!("--default-verdict {other:?}: accept or drop").into()
                            );
                        }
                    }
                }
                "--log-packets" => log_packets = Some(value()?.parse()?),
                "--log-rate" => options.log_rate = Some(value()?.parse()?),
                "--copy-range" => options.copy_range = value()?.parse()?,
                "--recv-buffer" => options.recv_buffer = value()?.parse()?,
                "--log-recv-buffer" => options.log_recv_buffer = Some(value()?.parse()?),
                "--seconds-limit" => {
                    options.seconds_limit = Some(Duration::from_secs_f64(value()?.parse()?))
                }
                "--seed" => options.seed = value()?.parse()?,
                "--rss-bound-mib" => options.rss_bound_mib = value()?.parse()?,
                "--queue-only" => options.log = false,
                "--log-only" => options.queue = false,
                "-h" | "--help" => {
                    println!("{USAGE}");
                    return Ok(None);
                }
                other => {
                    return Err(format!("soak: unknown argument {other:?} (try --help)").into());
                }
            }
        }
        options.log_packets = log_packets.unwrap_or(options.packets);
        // Ids are 32 bits: stay well below their wrap, which the checks do not model.
        let most = u64::from(u32::MAX / 2);
        if !(10..=most).contains(&options.packets) || !(10..=most).contains(&options.log_packets) {
            return Err(format!("--packets and --log-packets: between 10 and {most}").into());
        }
        if options.workers == 0 || options.window == 0 || options.hold_ms == 0 {
            return Err("--workers, --window and --hold-ms must be at least 1".into());
        }
        if options.log_rate == Some(0) {
            return Err("--log-rate must be at least 1".into());
        }
        Ok(Some(options))
    }
}

/// A seed from the clock, for runs without `--seed`.
fn clock_seed() -> u64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    splitmix(now.as_nanos() as u64 ^ u64::from(std::process::id()))
}

/// The `soak` subcommand: both phases (or the one chosen), then the summary.
pub fn main(args: &[String]) -> Outcome {
    let Some(options) = Options::parse(args)? else {
        return Ok(());
    };
    let sandbox = Sandbox::new()?;
    println!(
        "soak: seed {} (replay with --seed {}), namespace {}",
        options.seed,
        options.seed,
        sandbox.name()
    );
    let mut checks = Checks::default();
    if options.queue {
        queue_phase(&sandbox, &options, &mut checks)?;
    }
    if options.log {
        log_phase(&sandbox, &options, &mut checks)?;
    }
    checks.finish()
}

/// What happens to one queued datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Accept,
    Drop,
    /// `NF_REPEAT` with [`MARK`]: the rule skips it the second time, so it passes.
    Repeat,
    /// No verdict: the `Packet` is dropped and the queue's default verdict applies.
    Default,
}

impl Kind {
    /// Every kind, in the summary's order.
    const ALL: [Kind; 4] = [Kind::Accept, Kind::Drop, Kind::Repeat, Kind::Default];

    /// Its name in the summary and in errors.
    fn name(self) -> &'static str {
        match self {
            Kind::Accept => "accept",
            Kind::Drop => "drop",
            Kind::Repeat => "repeat+mark",
            Kind::Default => "default",
        }
    }
}

/// A datagram's verdict and how long it is held first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Action {
    kind: Kind,
    hold: Option<Duration>,
}

/// The per-datagram choices, all drawn from a hash of the seed and the sequence number.
#[derive(Debug, Clone, Copy)]
struct Plan {
    seed: u64,
    workers: usize,
    hold_ms: u64,
    /// Whether the queue's default verdict lets a packet pass.
    default_passes: bool,
}

/// SplitMix64's finaliser: a well-mixed 64-bit hash.
fn splitmix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Plan {
    /// The hash every choice about datagram `seq` is drawn from.
    fn hash(&self, seq: u64) -> u64 {
        splitmix(self.seed ^ splitmix(seq))
    }

    /// 40 % accept, 20 % each drop, repeat and default; a fifth of each held first.
    fn action(&self, seq: u64) -> Action {
        let h = self.hash(seq);
        let kind = match h % 5 {
            0 | 1 => Kind::Accept,
            2 => Kind::Drop,
            3 => Kind::Repeat,
            _ => Kind::Default,
        };
        let hold = ((h >> 8) % 5 == 0).then(|| Duration::from_millis(1 + (h >> 16) % self.hold_ms));
        Action { kind, hold }
    }

    /// Whether a datagram with this verdict should reach its destination.
    fn passes(&self, kind: Kind) -> bool {
        match kind {
            Kind::Accept | Kind::Repeat => true,
            Kind::Drop => false,
            Kind::Default => self.default_passes,
        }
    }

    /// The worker that gives the verdict.
    fn worker(&self, seq: u64) -> usize {
        ((self.hash(seq) >> 32) % self.workers as u64) as usize
    }

    /// Where a datagram goes in its worker's batch: a shuffled order.
    fn order(&self, seq: u64) -> u64 {
        splitmix(self.hash(seq))
    }

    /// The datagram's length: 16 to 143 bytes.
    fn len(&self, seq: u64) -> usize {
        16 + ((self.hash(seq) >> 40) % 128) as usize
    }

    /// Byte `i` of a datagram whose hash is `h` (from byte 8 on).
    fn filler(h: u64, i: usize) -> u8 {
        (h >> ((i % 8) * 8)) as u8 ^ i as u8
    }

    /// Writes datagram `seq` into `buf`.
    fn encode(&self, seq: u64, buf: &mut Vec<u8>) {
        let h = self.hash(seq);
        buf.clear();
        buf.extend_from_slice(&seq.to_le_bytes());
        buf.extend((8..self.len(seq)).map(|i| Plan::filler(h, i)));
    }

    /// The sequence number of an intact datagram (the length and filler it should have).
    fn decode(&self, data: &[u8]) -> Option<u64> {
        let seq = u64::from_le_bytes(data.get(..8)?.try_into().ok()?);
        let h = self.hash(seq);
        let intact = data.len() == self.len(seq)
            && data[8..]
                .iter()
                .enumerate()
                .all(|(i, &b)| b == Plan::filler(h, i + 8));
        intact.then_some(seq)
    }

    /// The sequence number in a queued or logged packet (an IPv4 packet from its header on).
    fn decode_ip(&self, packet: &[u8]) -> Option<u64> {
        match Ip::parse(packet).ok()?.transport() {
            Transport::Udp(udp) => self.decode(udp.payload()),
            _ => None,
        }
    }
}

/// A vector of per-datagram counters whose pages are all touched up front, so that filling
/// it in does not show as memory growth.
fn counters(n: u64) -> Vec<u8> {
    let mut v = vec![0u8; n as usize];
    // An opaque value: the stores cannot be elided, every page is made resident now.
    v.fill(std::hint::black_box(0));
    v
}

/// The checks, printed as they are made; [`Checks::finish`] fails when one failed.
#[derive(Debug, Default)]
struct Checks {
    failed: Vec<String>,
}

impl Checks {
    /// Prints and records one check.
    fn check(&mut self, ok: bool, what: impl fmt::Display) {
        println!("  [{}] {what}", if ok { " ok " } else { "FAIL" });
        if !ok {
            self.failed.push(what.to_string());
        }
    }

    /// `Ok` when every check passed, else an error listing the failed ones.
    fn finish(self) -> Outcome {
        if self.failed.is_empty() {
            println!("soak: all checks passed");
            return Ok(());
        }
        Err(format!(
            "soak FAILED, {} check(s):\n  {}",
            self.failed.len(),
            self.failed.join("\n  ")
        )
        .into())
    }
}

/// Up to [`EXAMPLES`] sequence numbers, for a failed check's message.
#[derive(Debug, Default)]
struct Examples {
    count: u64,
    first: Vec<u64>,
}

impl Examples {
    /// Counts `seq`, and keeps it while there are few.
    fn push(&mut self, seq: u64) {
        self.count += 1;
        if self.first.len() < EXAMPLES {
            self.first.push(seq);
        }
    }
}

impl fmt::Display for Examples {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.count == 0 {
            return write!(f, "none");
        }
        write!(f, "{} (seq {:?}", self.count, self.first)?;
        if self.count > self.first.len() as u64 {
            write!(f, " …")?;
        }
        write!(f, ")")
    }
}

/// Errors the threads ran into: counted, the first few kept.
#[derive(Debug, Default)]
struct Errors {
    inner: Mutex<(u64, Vec<String>)>,
}

impl Errors {
    /// Counts `error`, and keeps it while there are few.
    fn push(&self, error: impl fmt::Display) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.0 += 1;
        if inner.1.len() < EXAMPLES {
            inner.1.push(error.to_string());
        }
    }

    /// The count and the errors kept.
    fn take(&self) -> (u64, Vec<String>) {
        std::mem::take(&mut *self.inner.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// This process's resident set size in KiB (`VmRSS` of `/proc/self/status`).
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
            line.split_whitespace().nth(1)?.parse().ok()
        })
        .unwrap_or(0)
}

/// Resident set size samples of one phase: periodic ones, the one taken when a tenth of the
/// traffic was sent (the baseline) and the last one.
#[derive(Debug, Default)]
struct Rss {
    samples: Mutex<Vec<(Duration, u64)>>,
    warm: Mutex<Option<u64>>,
}

impl Rss {
    /// Takes a sample now (times from `started`) and returns it, in KiB.
    fn sample(&self, started: Instant) -> u64 {
        let kib = rss_kib();
        let mut samples = self.samples.lock().unwrap_or_else(|e| e.into_inner());
        samples.push((started.elapsed(), kib));
        kib
    }

    /// Takes the baseline sample, at the end of the warm-up.
    fn warm_up(&self, started: Instant) {
        let kib = self.sample(started);
        *self.warm.lock().unwrap_or_else(|e| e.into_inner()) = Some(kib);
    }

    /// Samples every [`RSS_EVERY`] until `stop`.
    fn run(&self, started: Instant, stop: &AtomicBool) {
        while !stop.load(Ordering::Relaxed) {
            self.sample(started);
            let until = Instant::now() + RSS_EVERY;
            while !stop.load(Ordering::Relaxed) && Instant::now() < until {
                thread::sleep(POLL);
            }
        }
    }

    /// Takes the last sample, prints the samples (at most about 16, evenly spread) and
    /// checks the last against the baseline.
    fn report(&self, started: Instant, bound_mib: u64, checks: &mut Checks, phase: &str) {
        let last = self.sample(started);
        let samples = self.samples.lock().unwrap_or_else(|e| e.into_inner());
        let step = samples.len().div_ceil(16).max(1);
        let shown: Vec<String> = samples
            .iter()
            .enumerate()
            .filter(|(i, _)| i % step == 0 || *i == samples.len() - 1)
            .map(|(_, (t, kib))| format!("{:.1}s:{:.1}", t.as_secs_f64(), *kib as f64 / 1024.0))
            .collect();
        println!("  RSS MiB (time:size): {}", shown.join(" "));
        let max = samples.iter().map(|s| s.1).max().unwrap_or(0);
        match *self.warm.lock().unwrap_or_else(|e| e.into_inner()) {
            Some(warm) => checks.check(
                last <= warm + bound_mib * 1024,
                format_args!(
                    "{phase}: RSS flat: {:.1} MiB after warm-up, {:.1} MiB at the end, {:.1} MiB \
                     at most (bound: +{bound_mib} MiB)",
                    warm as f64 / 1024.0,
                    last as f64 / 1024.0,
                    max as f64 / 1024.0
                ),
            ),
            None => checks.check(
                false,
                format_args!("{phase}: RSS flat: no sample after the warm-up"),
            ),
        }
    }
}

/// Binds a UDP socket on the calling thread (inside the namespace) with big buffers.
fn udp_socket(addr: SocketAddr) -> io::Result<UdpSocket> {
    let socket = UdpSocket::bind(addr)?;
    for (force, plain) in [
        (libc::SO_RCVBUFFORCE, libc::SO_RCVBUF),
        (libc::SO_SNDBUFFORCE, libc::SO_SNDBUF),
    ] {
        crate::traffic::set_buffer(&socket, force, plain, SOCKET_BUFFER)?;
    }
    socket.set_read_timeout(Some(POLL))?;
    Ok(socket)
}

/// Whether a socket read ended for lack of data (its timeout), not by failing.
fn is_timeout(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
    )
}

/// What the queue phase's threads share.
#[derive(Debug, Default)]
struct Progress {
    /// Datagrams that arrived at the receiving socket.
    delivered: AtomicU64,
    /// Packets that got a dropping verdict (drop, or the default one when it drops).
    dropped: AtomicU64,
    /// Packets the kernel counts as lost (`queue_dropped` + `queue_user_dropped`).
    lost: AtomicU64,
    /// Sends that failed.
    send_failed: AtomicU64,
    /// The sender has finished.
    sent_all: AtomicBool,
    /// Every thread stops (the receive loop failed).
    abort: AtomicBool,
}

impl Progress {
    /// Datagrams whose fate is known (for the sender's window).
    fn settled(&self) -> u64 {
        self.delivered.load(Ordering::Relaxed)
            + self.dropped.load(Ordering::Relaxed)
            + self.lost.load(Ordering::Relaxed)
            + self.send_failed.load(Ordering::Relaxed)
    }
}

/// How the sender ended.
#[derive(Debug, Clone, Copy, Default)]
struct Sent {
    /// Datagrams sent (a failed send counts too).
    sent: u64,
    /// Nothing settled for [`STALL`] with the window full.
    stalled: bool,
    /// `--seconds-limit` stopped it early.
    cut: bool,
    /// From the first send to the last.
    wall: Duration,
}

/// The queue phase's sender: `total` datagrams, at most `window` unsettled.
fn send_queued(
    socket: &UdpSocket,
    plan: &Plan,
    options: &Options,
    progress: &Progress,
    rss: &Rss,
    started: Instant,
) -> Sent {
    let to = SocketAddr::from((Ipv4Addr::LOCALHOST, QUEUE_PORT));
    let deadline = options.seconds_limit.map(|limit| started + limit);
    let mut buf = Vec::with_capacity(256);
    let mut out = Sent::default();
    let (mut last_settled, mut moved) = (0, Instant::now());
    for seq in 0..options.packets {
        if deadline.is_some_and(|d| Instant::now() > d) {
            out.cut = true;
            break;
        }
        loop {
            let settled = progress.settled();
            if seq - settled.min(seq) < options.window || progress.abort.load(Ordering::Relaxed) {
                break;
            }
            if settled != last_settled {
                (last_settled, moved) = (settled, Instant::now());
            } else if moved.elapsed() > STALL {
                out.stalled = true;
                break;
            }
            thread::sleep(Duration::from_micros(50));
        }
        if out.stalled || progress.abort.load(Ordering::Relaxed) {
            break;
        }
        plan.encode(seq, &mut buf);
        if socket.send_to(&buf, to).is_err() {
            progress.send_failed.fetch_add(1, Ordering::Relaxed);
        }
        out.sent = seq + 1;
        if out.sent == options.packets / 10 {
            rss.warm_up(started);
        }
    }
    out.wall = started.elapsed();
    progress.sent_all.store(true, Ordering::Relaxed);
    out
}

/// What the receiving socket saw.
#[derive(Debug, Default)]
struct Delivered {
    /// Arrivals per sequence number.
    counts: Vec<u8>,
    /// Datagrams that were not intact ones of ours.
    foreign: u64,
}

/// Reads the destination socket until `stop`, counting each datagram's arrivals.
fn receive_delivered(
    socket: &UdpSocket,
    plan: &Plan,
    total: u64,
    progress: &Progress,
    stop: &AtomicBool,
) -> Delivered {
    let mut out = Delivered {
        counts: counters(total),
        foreign: 0,
    };
    let mut buf = [0u8; 2048];
    while !stop.load(Ordering::Relaxed) {
        match socket.recv(&mut buf) {
            Ok(n) => match plan.decode(&buf[..n]).filter(|&seq| seq < total) {
                Some(seq) => {
                    let count = &mut out.counts[seq as usize];
                    *count = count.saturating_add(1);
                    progress.delivered.fetch_add(1, Ordering::Relaxed);
                }
                None => out.foreign += 1,
            },
            Err(error) if is_timeout(&error) => {}
            Err(_) => out.foreign += 1,
        }
    }
    out
}

/// A worker: takes packets from its channel in batches and gives their verdicts in a
/// shuffled order, holding some first; ends when the channel closes and nothing is held.
fn work(rx: Receiver<(u64, Packet)>, plan: &Plan, progress: &Progress, errors: &Errors) -> usize {
    let mut held: VecDeque<(Instant, u64, Packet)> = VecDeque::new();
    let mut batch: Vec<(u64, Packet)> = Vec::with_capacity(BATCH);
    let mut most_held = 0;
    let mut open = true;
    while open || !held.is_empty() {
        let now = Instant::now();
        let wait = held
            .iter()
            .map(|h| h.0.saturating_duration_since(now))
            .min()
            .unwrap_or(POLL)
            .min(POLL);
        if open {
            match rx.recv_timeout(wait) {
                Ok(item) => {
                    batch.push(item);
                    while batch.len() < BATCH {
                        match rx.try_recv() {
                            Ok(item) => batch.push(item),
                            Err(_) => break,
                        }
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => open = false,
            }
        } else {
            thread::sleep(wait);
        }
        let now = Instant::now();
        batch.sort_by_key(|(seq, _)| plan.order(*seq));
        for (seq, packet) in batch.drain(..) {
            let action = plan.action(seq);
            match action.hold {
                Some(hold) => held.push_back((now + hold, seq, packet)),
                None => decide(seq, packet, action.kind, plan, progress, errors),
            }
        }
        most_held = most_held.max(held.len());
        let mut i = 0;
        while i < held.len() {
            if held[i].0 <= now {
                if let Some((_, seq, packet)) = held.remove(i) {
                    decide(seq, packet, plan.action(seq).kind, plan, progress, errors);
                }
            } else {
                i += 1;
            }
        }
    }
    most_held
}

/// Gives packet `seq` the verdict `kind` says; counts the ones that drop it.
fn decide(seq: u64, packet: Packet, kind: Kind, plan: &Plan, progress: &Progress, errors: &Errors) {
    if !plan.passes(kind) {
        progress.dropped.fetch_add(1, Ordering::Relaxed);
    }
    let result = match kind {
        Kind::Accept => packet.accept(),
        Kind::Drop => packet.drop(),
        Kind::Repeat => packet.verdict(Verdict::repeat().with_mark(MARK)),
        Kind::Default => {
            // No verdict: dropping the packet sends the queue's default one.
            std::mem::drop(packet);
            Ok(())
        }
    };
    if let Err(error) = result {
        errors.push(format_args!(
            "verdict {} for seq {seq}: {error}",
            kind.name()
        ));
    }
}

/// What the receive loop saw.
#[derive(Debug, Default)]
struct Received {
    /// Packets handed out by the queue.
    packets: u64,
    /// Times each sequence number was queued.
    seen: Vec<u8>,
    /// Packets that were not intact datagrams of ours (accepted).
    foreign: u64,
    /// `Error::Overrun` events.
    overruns: u64,
    /// Malformed messages skipped.
    malformed: u64,
    /// Whether the end condition was met (else the tail deadline passed).
    settled: bool,
}

/// Whether every id the kernel gave out was received or counted lost by the kernel, and
/// the procfs counters of losses (`queue_dropped` + `queue_user_dropped`).
fn kernel_view(queue: &Queue, received: u64) -> netfilter::Result<(bool, u64)> {
    let stats = queue.stats()?;
    Ok(match stats.rows.first() {
        Some(row) => (
            u64::from(row.id_sequence) == received + u64::from(row.queue_user_dropped),
            u64::from(row.queue_dropped) + u64::from(row.queue_user_dropped),
        ),
        None => (false, 0),
    })
}

/// The receive loop: hands every packet to its worker, until the sender is done and every
/// id the kernel gave out is received or lost.
fn receive_queued(
    queue: &mut Queue,
    plan: &Plan,
    total: u64,
    workers: Vec<Sender<(u64, Packet)>>,
    progress: &Progress,
    errors: &Errors,
) -> netfilter::Result<Received> {
    let mut out = Received {
        seen: counters(total),
        ..Received::default()
    };
    let mut polled = Instant::now();
    let mut tail: Option<Instant> = None;
    loop {
        match queue.recv_timeout(Duration::from_millis(5)) {
            Ok(Some(packet)) => {
                out.packets += 1;
                let Some(seq) = plan.decode_ip(packet.payload()).filter(|&seq| seq < total) else {
                    out.foreign += 1;
                    packet.accept()?;
                    continue;
                };
                let seen = &mut out.seen[seq as usize];
                *seen = seen.saturating_add(1);
                if *seen > 1 {
                    // Queued again (the mark was not honoured?): let it go, once.
                    packet.accept()?;
                    continue;
                }
                if let Err(mpsc::SendError((seq, packet))) =
                    workers[plan.worker(seq)].send((seq, packet))
                {
                    errors.push(format_args!(
                        "worker {} is gone (seq {seq})",
                        plan.worker(seq)
                    ));
                    packet.accept()?;
                }
            }
            Ok(None) => {
                if progress.sent_all.load(Ordering::Relaxed) {
                    let (done, lost) = kernel_view(queue, out.packets)?;
                    progress.lost.store(lost, Ordering::Relaxed);
                    if done {
                        out.settled = true;
                        break;
                    }
                    let since = *tail.get_or_insert_with(Instant::now);
                    if since.elapsed() > STALL {
                        break;
                    }
                }
            }
            Err(Error::Overrun { .. }) => out.overruns += 1,
            Err(Error::Malformed(_)) => out.malformed += 1,
            Err(error) => return Err(error),
        }
        if polled.elapsed() > Duration::from_millis(20) {
            polled = Instant::now();
            let (_, lost) = kernel_view(queue, out.packets)?;
            progress.lost.store(lost, Ordering::Relaxed);
        }
    }
    Ok(out)
}

/// The queue phase: rules, threads, traffic, then the checks and the summary.
fn queue_phase(sandbox: &Sandbox, options: &Options, checks: &mut Checks) -> Outcome {
    // Marked packets (a repeat verdict's) pass the rule: they are not queued again.
    Rule::queue(QUEUE)
        .hook(Hook::Output)
        .protocol(Protocol::Udp)
        .dport(QUEUE_PORT)
        .not_mark(MARK)
        .apply(sandbox)?;
    let plan = Plan {
        seed: options.seed,
        workers: options.workers,
        hold_ms: options.hold_ms,
        default_passes: options.default_verdict == VerdictKind::Accept,
    };
    println!(
        "queue phase: {} packets, {} workers, window {}, queue max length {}, holds up to {} ms, \
         default verdict {:?}, copy range {}, receive buffer {}",
        options.packets,
        options.workers,
        options.window,
        options.max_len,
        options.hold_ms,
        options.default_verdict,
        options.copy_range,
        options.recv_buffer
    );
    // The rule goes with the namespace: nothing to undo.
    sandbox
        .run(|| run_queue(&plan, options, checks))
        .map_err(|e| -> Box<dyn std::error::Error> { e })
}

/// The queue phase's threads, on the sandbox's thread (its sockets belong to the namespace).
fn run_queue(plan: &Plan, options: &Options, checks: &mut Checks) -> ThreadResult {
    let total = options.packets;
    let destination = udp_socket(SocketAddr::from((Ipv4Addr::LOCALHOST, QUEUE_PORT)))?;
    let sender = udp_socket(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))?;
    let mut queue = Queue::builder(QUEUE)
        .default_verdict(options.default_verdict)
        .max_len(options.max_len)
        .copy(CopyMode::Packet, options.copy_range)
        .recv_buffer(options.recv_buffer)
        .open()?;
    let progress = Progress::default();
    let errors = Errors::default();
    let rss = Rss::default();
    let stop_receiver = AtomicBool::new(false);
    let stop_rss = AtomicBool::new(false);
    let started = Instant::now();
    rss.sample(started);

    let (received, sent, delivered, most_held, stats, pending_after) =
        thread::scope(|scope| -> ThreadResult<_> {
            let sampler = scope.spawn(|| rss.run(started, &stop_rss));
            let receiver = scope
                .spawn(|| receive_delivered(&destination, plan, total, &progress, &stop_receiver));
            let (txs, workers): (Vec<_>, Vec<_>) = (0..options.workers)
                .map(|_| {
                    let (tx, rx) = mpsc::channel();
                    let (progress, errors) = (&progress, &errors);
                    (tx, scope.spawn(move || work(rx, plan, progress, errors)))
                })
                .unzip();
            let sending =
                scope.spawn(|| send_queued(&sender, plan, options, &progress, &rss, started));

            // No early return from here until every thread is told to stop: the scope would
            // wait for them forever.
            let received = receive_queued(&mut queue, plan, total, txs, &progress, &errors);
            if received.is_err() {
                progress.abort.store(true, Ordering::Relaxed);
            }
            // The channels closed with the loop: the workers give their last verdicts.
            let most_held = workers
                .into_iter()
                .map(|worker| {
                    worker.join().unwrap_or_else(|_| {
                        errors.push("a worker panicked");
                        0
                    })
                })
                .max()
                .unwrap_or(0);
            let sent = sending.join().unwrap_or_default();
            let flushed = queue.flush();
            // Every verdict is given: nothing may wait in the queue any more.
            let pending_after = wait_pending(&queue);
            if let Ok(received) = &received {
                wait_delivered(plan, received, sent.sent, &progress);
            }
            stop_receiver.store(true, Ordering::Relaxed);
            let delivered = receiver.join().unwrap_or_default();
            let stats = queue.stats();
            stop_rss.store(true, Ordering::Relaxed);
            let _ = sampler.join();
            flushed?;
            Ok((received?, sent, delivered, most_held, stats?, pending_after))
        })?;
    let wall = started.elapsed();

    let [id_sequence, queue_total, queue_dropped, user_dropped] = stats
        .rows
        .first()
        .map(|r| {
            [
                r.id_sequence,
                r.queue_total,
                r.queue_dropped,
                r.queue_user_dropped,
            ]
            .map(u64::from)
        })
        .unwrap_or_default();
    let mut lost = Examples::default();
    let mut dup_queued = Examples::default();
    let mut missing = Examples::default();
    let mut twice = Examples::default();
    let mut dropped_arrived = Examples::default();
    let mut lost_arrived = Examples::default();
    let mut mix = [0u64; 4];
    let mut held = 0u64;
    for seq in 0..sent.sent {
        let (seen, count) = (received.seen[seq as usize], delivered.counts[seq as usize]);
        if seen == 0 {
            lost.push(seq);
            if count > 0 {
                lost_arrived.push(seq);
            }
            continue;
        }
        if seen > 1 {
            dup_queued.push(seq);
        }
        let action = plan.action(seq);
        mix[Kind::ALL
            .iter()
            .position(|&k| k == action.kind)
            .unwrap_or(0)] += 1;
        held += u64::from(action.hold.is_some());
        match (plan.passes(action.kind), count) {
            (true, 0) => missing.push(seq),
            (true, 1) | (false, 0) => {}
            (true, _) => twice.push(seq),
            (false, _) => dropped_arrived.push(seq),
        }
    }
    let never_sent = delivered.counts[sent.sent as usize..]
        .iter()
        .filter(|&&c| c > 0)
        .count();
    let (error_count, error_examples) = errors.take();

    println!(
        "queue phase: {} sent in {:.2} s ({:.0} pkt/s), {} received by the queue, {} lost, \
         {} overruns, {} malformed, most held by one worker {}",
        sent.sent,
        sent.wall.as_secs_f64(),
        sent.sent as f64 / sent.wall.as_secs_f64().max(1e-9),
        received.packets,
        lost.count,
        received.overruns,
        received.malformed,
        most_held
    );
    println!(
        "  verdict mix of the queued: {} ({} of them held first); total {:.1} s",
        Kind::ALL
            .iter()
            .zip(mix)
            .map(|(k, n)| format!("{} {n}", k.name()))
            .collect::<Vec<_>>()
            .join(", "),
        held,
        wall.as_secs_f64()
    );
    println!(
        "  procfs: id_sequence {}, queue_total {}, queue_dropped {}, queue_user_dropped {}; \
         stats: id_gaps {}, socket_drops {}",
        id_sequence, queue_total, queue_dropped, user_dropped, stats.id_gaps, stats.socket_drops
    );
    if sent.cut {
        println!(
            "  (--seconds-limit stopped the sender after {} of {total})",
            sent.sent
        );
    }
    rss.report(started, options.rss_bound_mib, checks, "queue");
    checks.check(
        error_count == 0,
        format_args!("queue: no verdict failed: {error_count} failed {error_examples:?}"),
    );
    let send_failed = progress.send_failed.load(Ordering::Relaxed);
    checks.check(
        send_failed == 0,
        format_args!("queue: no send failed: {send_failed}"),
    );
    checks.check(
        !sent.stalled && received.settled,
        format_args!(
            "queue: traffic never stalled (window moved, every id received or counted lost): \
             stalled {}, settled {}",
            sent.stalled, received.settled
        ),
    );
    checks.check(
        stats.rows.len() == 1 && pending_after == Some(0) && queue_total == 0,
        format_args!(
            "queue: procfs shows 0 packets waiting after every verdict: {pending_after:?}"
        ),
    );
    checks.check(
        id_sequence == received.packets + stats.id_gaps,
        format_args!(
            "queue: kernel's last id {} == received {} + id_gaps {}",
            id_sequence, received.packets, stats.id_gaps
        ),
    );
    checks.check(
        stats.id_gaps == user_dropped,
        format_args!(
            "queue: id_gaps {} == ids the kernel could not deliver (queue_user_dropped {})",
            stats.id_gaps, user_dropped
        ),
    );
    checks.check(
        sent.sent == id_sequence + queue_dropped,
        format_args!(
            "queue: sent {} == ids given {} + refused by a full queue {}",
            sent.sent, id_sequence, queue_dropped
        ),
    );
    checks.check(
        lost.count == stats.id_gaps + queue_dropped,
        format_args!(
            "queue: datagrams never queued {} == id_gaps + queue_dropped",
            lost.count
        ),
    );
    checks.check(
        dup_queued.count == 0 && received.foreign == 0,
        format_args!(
            "queue: each datagram queued at most once: queued twice {dup_queued}, foreign {}",
            received.foreign
        ),
    );
    checks.check(
        missing.count == 0 && twice.count == 0,
        format_args!(
            "queue: every passing datagram delivered exactly once: missing {missing}, \
             more than once {twice}"
        ),
    );
    checks.check(
        dropped_arrived.count == 0 && lost_arrived.count == 0 && never_sent == 0,
        format_args!(
            "queue: no dropped or lost datagram delivered: dropped {dropped_arrived}, lost \
             {lost_arrived}, never sent {never_sent}"
        ),
    );
    checks.check(
        delivered.foreign == 0,
        format_args!(
            "queue: every delivered datagram intact: {} were not",
            delivered.foreign
        ),
    );
    Ok(())
}

/// Waits until the datagrams that should arrive have arrived, or until arrivals stop for a
/// second.
fn wait_delivered(plan: &Plan, received: &Received, sent: u64, progress: &Progress) {
    let expected = (0..sent)
        .filter(|&seq| received.seen[seq as usize] > 0 && plan.passes(plan.action(seq).kind))
        .count() as u64;
    let (mut last, mut moved) = (u64::MAX, Instant::now());
    while moved.elapsed() < Duration::from_secs(1) {
        let now = progress.delivered.load(Ordering::Relaxed);
        if now >= expected && now == last {
            return;
        }
        if now != last {
            (last, moved) = (now, Instant::now());
        }
        thread::sleep(POLL);
    }
}

/// The queue's procfs `queue_total` once it reaches 0 (waiting up to a second for the
/// kernel to apply the last verdicts), else the last value read; `None` without a row.
fn wait_pending(queue: &Queue) -> Option<u32> {
    let deadline = Instant::now() + Duration::from_secs(1);
    loop {
        let pending = queue.stats().ok()?.rows.first()?.queue_total;
        if pending == 0 || Instant::now() > deadline {
            return Some(pending);
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// What the log phase's receiver saw.
#[derive(Debug, Default)]
struct Logged {
    /// Messages per sequence number.
    counts: Vec<u8>,
    received: u64,
    /// Sum of `Error::Overrun { lost: Some(n) }`.
    reported_lost: u64,
    /// `Error::Overrun { lost: None }` events (the kernel's ENOBUFS notices).
    enobufs: u64,
    /// Sum of `LogPacket::lost_before`.
    lost_before: u64,
    /// Messages whose sequence number is not the datagram's own.
    seq_mismatch: Examples,
    /// Messages that were not intact datagrams of ours.
    foreign: u64,
    malformed: u64,
}

/// The log group's receive loop: until `stop`, publishing the highest datagram seen + 1.
fn receive_logged(
    log: &mut LogGroup,
    plan: &Plan,
    room: u64,
    highest: &AtomicU64,
    stop: &AtomicBool,
) -> netfilter::Result<Logged> {
    let mut out = Logged {
        counts: counters(room),
        ..Logged::default()
    };
    while !stop.load(Ordering::Relaxed) {
        match log.recv_timeout(POLL) {
            Ok(Some(packet)) => {
                out.received += 1;
                out.lost_before += u64::from(packet.lost_before().unwrap_or(0));
                let Some(seq) = plan.decode_ip(packet.payload()).filter(|&s| s < room) else {
                    out.foreign += 1;
                    continue;
                };
                if packet.seq().map(u64::from) != Some(seq) {
                    out.seq_mismatch.push(seq);
                }
                let count = &mut out.counts[seq as usize];
                *count = count.saturating_add(1);
                highest.fetch_max(seq + 1, Ordering::Relaxed);
            }
            Ok(None) => {}
            Err(Error::Overrun { lost: Some(n) }) => out.reported_lost += u64::from(n),
            Err(Error::Overrun { lost: None }) => out.enobufs += 1,
            Err(Error::Malformed(_)) => out.malformed += 1,
            Err(error) => return Err(error),
        }
    }
    Ok(out)
}

/// How many closing datagrams the log sender tries before giving up.
const CLOSING_TRIES: u64 = 20;

/// The log phase's sender: the datagrams, then closing ones until one is seen; returns how
/// many were sent, whether a closing one arrived, whether the limit cut it, and the time
/// the main part took.
fn send_logged(
    socket: &UdpSocket,
    plan: &Plan,
    options: &Options,
    highest: &AtomicU64,
    rss: &Rss,
    started: Instant,
) -> (u64, bool, bool, Duration) {
    let to = SocketAddr::from((Ipv4Addr::LOCALHOST, LOG_PORT));
    let deadline = options.seconds_limit.map(|limit| started + limit);
    let mut buf = Vec::with_capacity(256);
    let (mut sent, mut cut) = (0u64, false);
    while sent < options.log_packets {
        if deadline.is_some_and(|d| Instant::now() > d) {
            cut = true;
            break;
        }
        if let Some(rate) = options.log_rate {
            let due = (started.elapsed().as_secs_f64() * rate as f64) as u64;
            if due <= sent {
                thread::sleep(Duration::from_micros(20));
                continue;
            }
        }
        plan.encode(sent, &mut buf);
        // A failed send is a datagram never logged: it is counted as sent and missing.
        let _ = socket.send_to(&buf, to);
        sent += 1;
        if sent == options.log_packets / 10 {
            rss.warm_up(started);
        }
    }
    let wall = started.elapsed();
    // Let the receiver drain what is waiting: until the highest seen stops moving.
    let (mut last, mut moved) = (highest.load(Ordering::Relaxed), Instant::now());
    while moved.elapsed() < Duration::from_millis(200) {
        thread::sleep(Duration::from_millis(10));
        let now = highest.load(Ordering::Relaxed);
        if now != last {
            (last, moved) = (now, Instant::now());
        }
    }
    // A closing datagram reveals, through its sequence number, losses at the very end.
    for _ in 0..CLOSING_TRIES {
        plan.encode(sent, &mut buf);
        let _ = socket.send_to(&buf, to);
        sent += 1;
        let wait = Instant::now();
        while wait.elapsed() < Duration::from_millis(500) {
            if highest.load(Ordering::Relaxed) >= sent {
                return (sent, true, cut, wall);
            }
            thread::sleep(Duration::from_millis(2));
        }
    }
    (sent, false, cut, wall)
}

/// The log phase: rule, receiver, traffic, checks and summary.
fn log_phase(sandbox: &Sandbox, options: &Options, checks: &mut Checks) -> Outcome {
    Rule::log(GROUP)
        .hook(Hook::Output)
        .protocol(Protocol::Udp)
        .dport(LOG_PORT)
        .apply(sandbox)?;
    println!(
        "log phase: {} packets{}, group {GROUP} with sequence numbers",
        options.log_packets,
        options
            .log_rate
            .map(|r| format!(" at {r} pkt/s"))
            .unwrap_or_else(|| " unpaced".into())
    );
    // Only the datagrams' layout is used here (no verdicts, no workers).
    let plan = Plan {
        seed: options.seed ^ 0x006c_6f67,
        workers: 1,
        hold_ms: 1,
        default_passes: true,
    };
    sandbox
        .run(|| run_log(&plan, options, checks))
        .map_err(|e| -> Box<dyn std::error::Error> { e })
}

/// The log phase's threads, on the sandbox's thread.
fn run_log(plan: &Plan, options: &Options, checks: &mut Checks) -> ThreadResult {
    let room = options.log_packets + CLOSING_TRIES;
    // Datagrams go to a bound socket that nobody reads (no ICMP errors; extra ones dropped).
    let _sink = UdpSocket::bind((Ipv4Addr::LOCALHOST, LOG_PORT))?;
    let sender = udp_socket(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))?;
    let mut log = LogGroup::builder(GROUP)
        .seq(true)
        .timeout(Duration::from_millis(10));
    if let Some(bytes) = options.log_recv_buffer {
        log = log.recv_buffer(bytes);
    }
    let mut log = log.open()?;
    let highest = AtomicU64::new(0);
    let stop = AtomicBool::new(false);
    let stop_rss = AtomicBool::new(false);
    let rss = Rss::default();
    let started = Instant::now();
    rss.sample(started);
    let (logged, (sent, closed, cut, wall)) = thread::scope(|scope| {
        let sampler = scope.spawn(|| rss.run(started, &stop_rss));
        let receiver = scope.spawn(|| receive_logged(&mut log, plan, room, &highest, &stop));
        let result = send_logged(&sender, plan, options, &highest, &rss, started);
        stop.store(true, Ordering::Relaxed);
        let logged = receiver.join();
        stop_rss.store(true, Ordering::Relaxed);
        let _ = sampler.join();
        (logged, result)
    });
    let logged = match logged {
        Ok(logged) => logged?,
        Err(panic) => std::panic::resume_unwind(panic),
    };
    let mut twice = Examples::default();
    let mut missing = 0u64;
    for seq in 0..sent {
        match logged.counts[seq as usize] {
            0 => missing += 1,
            1 => {}
            _ => twice.push(seq),
        }
    }
    println!(
        "log phase: {} sent in {:.2} s ({:.0} pkt/s), {} received, {} reported lost, {} ENOBUFS \
         notices, {} malformed; total {:.1} s",
        sent,
        wall.as_secs_f64(),
        sent as f64 / wall.as_secs_f64().max(1e-9),
        logged.received,
        logged.reported_lost,
        logged.enobufs,
        logged.malformed,
        started.elapsed().as_secs_f64()
    );
    if cut {
        println!(
            "  (--seconds-limit stopped the sender after {} of {})",
            sent, options.log_packets
        );
    }
    rss.report(started, options.rss_bound_mib, checks, "log");
    checks.check(
        closed,
        format_args!("log: a closing datagram arrived (losses at the end are counted too)"),
    );
    checks.check(
        twice.count == 0 && logged.foreign == 0,
        format_args!(
            "log: no message received twice: {twice}, foreign {}",
            logged.foreign
        ),
    );
    checks.check(
        logged.seq_mismatch.count == 0,
        format_args!(
            "log: each message's sequence number is its datagram's: mismatches {}",
            logged.seq_mismatch
        ),
    );
    checks.check(
        logged.received + logged.reported_lost == sent,
        format_args!(
            "log: received {} + reported lost {} == sent {sent}",
            logged.received, logged.reported_lost
        ),
    );
    checks.check(
        logged.lost_before == logged.reported_lost && missing == logged.reported_lost,
        format_args!(
            "log: lost_before adds up to the reported losses and the missing datagrams: {} / {} \
             / {missing}",
            logged.lost_before, logged.reported_lost
        ),
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(default_passes: bool) -> Plan {
        Plan {
            seed: 42,
            workers: 3,
            hold_ms: 20,
            default_passes,
        }
    }

    #[test]
    fn datagrams_decode_to_their_seq_and_damage_is_seen() {
        let plan = plan(true);
        let mut buf = Vec::new();
        for seq in [0, 1, 77, 1 << 40] {
            plan.encode(seq, &mut buf);
            assert!((16..144).contains(&buf.len()));
            assert_eq!(plan.decode(&buf), Some(seq));
            let last = buf.len() - 1;
            buf[last] ^= 1;
            assert_eq!(plan.decode(&buf), None, "a changed byte");
            buf[last] ^= 1;
            buf.pop();
            assert_eq!(plan.decode(&buf), None, "a shorter datagram");
        }
        assert_eq!(plan.decode(&[1, 2, 3]), None);
    }

    #[test]
    fn the_plan_mixes_every_verdict_and_expects_what_the_default_does() {
        let plan = plan(false);
        let mut kinds = [0u32; 4];
        let mut held = 0;
        for seq in 0..10_000 {
            let action = plan.action(seq);
            assert_eq!(action, plan.action(seq), "deterministic");
            kinds[Kind::ALL.iter().position(|&k| k == action.kind).unwrap()] += 1;
            if let Some(hold) = action.hold {
                assert!((1..=20).contains(&hold.as_millis()));
                held += 1;
            }
            assert!(plan.worker(seq) < 3);
        }
        // 40 / 20 / 20 / 20 %, a fifth held: within a few percent.
        assert!((3_700..4_300).contains(&kinds[0]), "{kinds:?}");
        assert!(
            kinds[1..].iter().all(|n| (1_800..2_200).contains(n)),
            "{kinds:?}"
        );
        assert!((1_800..2_200).contains(&held), "{held}");
        assert!(!plan.passes(Kind::Default) && plan.passes(Kind::Repeat));
        assert!(
            Plan {
                default_passes: true,
                ..plan
            }
            .passes(Kind::Default)
        );
    }
}
