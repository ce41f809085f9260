//! CPU and wall-clock snapshots, and the `result` line every consumer prints.

use std::io::Write;
use std::time::Instant;

/// A process's CPU time (user + sys, `getrusage(RUSAGE_SELF)`) and a monotonic instant.
#[derive(Debug, Clone, Copy)]
pub struct Snap {
    /// User + system CPU time in nanoseconds.
    pub cpu_ns: i64,
    /// When the snapshot was taken.
    pub wall: Instant,
}

impl Snap {
    /// A snapshot of this process.
    pub fn now() -> Snap {
        Snap {
            cpu_ns: cpu_ns(libc::RUSAGE_SELF),
            wall: Instant::now(),
        }
    }

    /// Prints `result count=… measured=… cpu_ns=… wall_ns=… overruns=…` (the C programs'
    /// format) for the messages after the warm-up, between `start` and `end`, then `extra`.
    pub fn print_result(
        count: u64,
        warm: u64,
        start: &Snap,
        end: &Snap,
        overruns: u64,
        extra: &str,
    ) {
        let measured = count.saturating_sub(warm);
        let cpu = end.cpu_ns - start.cpu_ns;
        let wall = end.wall.saturating_duration_since(start.wall).as_nanos();
        let mut out = std::io::stdout().lock();
        // Nothing to do when stdout is gone: the driver then reports the missing line.
        let _ = writeln!(
            out,
            "result count={count} measured={measured} cpu_ns={cpu} wall_ns={wall} overruns={overruns}{extra}"
        );
        let _ = out.flush();
    }
}

/// User + system CPU time of `who` (`RUSAGE_SELF`, `RUSAGE_THREAD`) in nanoseconds.
pub fn cpu_ns(who: libc::c_int) -> i64 {
    // SAFETY: an all-zero rusage is a valid value of this plain C struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `usage` is valid for writes; getrusage only fails for an invalid `who`, and then
    // leaves it zeroed.
    unsafe { libc::getrusage(who, &mut usage) };
    let tv = |t: libc::timeval| t.tv_sec * 1_000_000_000 + t.tv_usec * 1000;
    tv(usage.ru_utime) + tv(usage.ru_stime)
}
