//! Samples, medians and the Markdown table.

use crate::traffic::Generated;

/// NFQUEUE or NFLOG.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An NFQUEUE consumer.
    Queue,
    /// An NFLOG consumer.
    Log,
}

/// One run of one consumer.
#[derive(Debug, Clone)]
pub struct Sample {
    name: &'static str,
    kind: Kind,
    qthresh: u32,
    payload: usize,
    count: u64,
    measured: u64,
    cpu_ns: i64,
    wall_ns: i64,
    overruns: u64,
    /// The socket's drop counter when the consumer reports it (the Rust log consumer).
    drops: Option<i64>,
    generated: Generated,
}

type Outcome<T> = Result<T, Box<dyn std::error::Error>>;

impl Sample {
    /// Parses a consumer's `result count=… measured=… cpu_ns=… wall_ns=… overruns=…` line.
    pub fn parse(
        name: &'static str,
        kind: Kind,
        qthresh: u32,
        payload: usize,
        line: &str,
        generated: Generated,
    ) -> Outcome<Sample> {
        let field = |key: &str| -> Outcome<i64> {
            let value = line
                .split_whitespace()
                .find_map(|word| word.strip_prefix(key)?.strip_prefix('='))
                .ok_or_else(|| format!("no {key} in {line:?}"))?;
            Ok(value.parse()?)
        };
        Ok(Sample {
            name,
            kind,
            qthresh,
            payload,
            count: field("count")? as u64,
            measured: field("measured")? as u64,
            cpu_ns: field("cpu_ns")?,
            wall_ns: field("wall_ns")?,
            overruns: field("overruns")? as u64,
            drops: field("drops").ok(),
            generated,
        })
    }

    /// Messages per second over the measured part.
    pub fn pps(&self) -> f64 {
        self.measured as f64 / (self.wall_ns.max(1) as f64 / 1e9)
    }

    /// Consumer CPU µs per message over the measured part.
    pub fn cpu_us(&self) -> f64 {
        self.cpu_ns as f64 / 1e3 / self.measured.max(1) as f64
    }

    /// Percentage of the sent packets the consumer saw.
    pub fn delivered_pct(&self) -> f64 {
        100.0 * self.count as f64 / self.generated.sent.max(1) as f64
    }

    /// The socket's drop counter, when the consumer reported it.
    pub fn drops(&self) -> Option<i64> {
        self.drops
    }

    /// Generator CPU as a percentage of its wall time.
    fn generator_pct(&self) -> f64 {
        100.0 * self.generated.cpu_ns as f64 / self.generated.wall.as_nanos().max(1) as f64
    }

    fn key(&self) -> (Kind, usize, &'static str, u32) {
        (self.kind, self.payload, self.name, self.qthresh)
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

struct Row {
    name: &'static str,
    payload: usize,
    qthresh: u32,
    runs: usize,
    pps: f64,
    cpu_us: f64,
    gen_pct: f64,
    min_delivered: f64,
    overruns: u64,
}

fn rows(samples: &[Sample], kind: Kind) -> Vec<Row> {
    let mut keys: Vec<_> = Vec::new();
    for s in samples.iter().filter(|s| s.kind == kind) {
        if !keys.contains(&s.key()) {
            keys.push(s.key());
        }
    }
    keys.iter()
        .map(|key| {
            let runs: Vec<&Sample> = samples.iter().filter(|s| s.key() == *key).collect();
            Row {
                name: key.2,
                payload: key.1,
                qthresh: key.3,
                runs: runs.len(),
                pps: median(runs.iter().map(|s| s.pps()).collect()),
                cpu_us: median(runs.iter().map(|s| s.cpu_us()).collect()),
                gen_pct: median(runs.iter().map(|s| s.generator_pct()).collect()),
                min_delivered: runs
                    .iter()
                    .map(|s| s.delivered_pct())
                    .fold(f64::INFINITY, f64::min),
                overruns: runs.iter().map(|s| s.overruns).sum(),
            }
        })
        .collect()
}

/// Prints the machine, the method's parameters and both tables (Markdown) to stdout.
pub fn print(samples: &[Sample], rounds: usize, packets: u64, window: u64, log_rate: u64) {
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")?
                .split(':')
                .nth(1)
                .map(str::trim)
                .map(String::from)
        })
        .unwrap_or_default();
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    println!("Linux {}, {cpu}, {cores} cores", kernel.trim());
    println!(
        "{rounds} alternating rounds, {packets} packets per run (first 10 % warm-up), window {window}, NFLOG paced at {log_rate} pkt/s; medians\n"
    );

    println!("### NFQUEUE (accept every packet)\n");
    println!(
        "| payload | consumer | runs | seen (worst run) | packets/s | CPU µs/pkt | CPU vs C plain | pkt/s vs C batch | generator CPU |"
    );
    println!("|---:|---|---:|---:|---:|---:|---:|---:|---:|");
    let queue = rows(samples, Kind::Queue);
    for row in &queue {
        let base = |prefix: &str| {
            queue
                .iter()
                .find(|r| r.payload == row.payload && r.name.starts_with(prefix))
        };
        let cpu_ratio = base("C plain").map_or(f64::NAN, |b| row.cpu_us / b.cpu_us);
        let pps_ratio = base("C batch").map_or(f64::NAN, |b| row.pps / b.pps);
        println!(
            "| {} B | {} | {} | {:.2} % | {:.0} | {:.2} | {:.2}× | {:.2}× | {:.0} % |",
            row.payload,
            row.name,
            row.runs,
            row.min_delivered,
            row.pps,
            row.cpu_us,
            cpu_ratio,
            pps_ratio,
            row.gen_pct
        );
    }

    println!("\n### NFLOG (every packet logged)\n");
    println!(
        "| payload | consumer | qthresh | runs | delivered (worst run) | overruns | msgs/s | CPU µs/msg | CPU vs C |"
    );
    println!("|---:|---|---|---:|---:|---:|---:|---:|---:|");
    let log = rows(samples, Kind::Log);
    for row in &log {
        let base = log.iter().find(|r| {
            r.payload == row.payload && r.qthresh == row.qthresh && r.name.starts_with('C')
        });
        let cpu_ratio = base.map_or(f64::NAN, |b| row.cpu_us / b.cpu_us);
        let qthresh = if row.qthresh == 0 {
            "kernel default".to_string()
        } else {
            row.qthresh.to_string()
        };
        println!(
            "| {} B | {} | {qthresh} | {} | {:.2} % | {} | {:.0} | {:.2} | {:.2}× |",
            row.payload,
            row.name,
            row.runs,
            row.min_delivered,
            row.overruns,
            row.pps,
            row.cpu_us,
            cpu_ratio
        );
    }
}
