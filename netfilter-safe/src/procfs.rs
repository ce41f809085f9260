//! The kernel's per-namespace tables of bound queues and log groups:
//! `/proc/net/netfilter/nfnetlink_queue` and `/proc/net/netfilter/nfnetlink_log`, as typed rows.
//!
//! Both files belong to a network namespace. [`queue_rows`] and [`log_rows`] read the calling
//! thread's through `/proc/thread-self/net/…` (`/proc/self/net` would show the namespace of
//! the process's main thread). A row exists while a program has the queue or group bound.
//!
//! Formats (Linux `net/netfilter/nfnetlink_queue.c` `seq_show`, `nfnetlink_log.c` `seq_show`):
//!
//! ```text
//! nfnetlink_queue: queue_num peer_portid queue_total copy_mode copy_range queue_dropped queue_user_dropped id_sequence 1
//! nfnetlink_log:   group_num peer_portid qlen copy_mode copy_range flushtimeout use
//! ```

use std::io;

use crate::error::{Error, Result};

/// The queue table of the calling thread's network namespace.
pub const QUEUE_FILE: &str = "/proc/thread-self/net/netfilter/nfnetlink_queue";
/// The log-group table of the calling thread's network namespace.
pub const LOG_FILE: &str = "/proc/thread-self/net/netfilter/nfnetlink_log";

fn bad(what: String, line: &str) -> Error {
    Error::Call {
        call: "parse procfs",
        source: io::Error::new(io::ErrorKind::InvalidData, format!("{what}: {line:?}")),
    }
}

fn read(path: &'static str) -> Result<String> {
    std::fs::read_to_string(path).map_err(|source| Error::Call { call: path, source })
}

/// The bound queues of the calling thread's network namespace.
///
/// # Errors
/// [`Error::Call`] when the file cannot be read (no `nfnetlink_queue` in the kernel, or a
/// user namespace that may not read it) or has an unexpected format.
///
/// ```no_run
/// for row in netfilter_safe::procfs::queue_rows()? {
///     println!("queue {}: {} waiting, {} dropped", row.queue_number, row.queue_total, row.queue_dropped);
/// }
/// # Ok::<(), netfilter_safe::Error>(())
/// ```
pub fn queue_rows() -> Result<Vec<QueueRow>> {
    parse_queue_rows(&read(QUEUE_FILE)?)
}

/// The bound log groups of the calling thread's network namespace.
///
/// # Errors
/// As for [`queue_rows`].
///
/// ```no_run
/// for row in netfilter_safe::procfs::log_rows()? {
///     println!("group {}: {} batched, port {}", row.group, row.qlen, row.peer_portid);
/// }
/// # Ok::<(), netfilter_safe::Error>(())
/// ```
pub fn log_rows() -> Result<Vec<LogRow>> {
    parse_log_rows(&read(LOG_FILE)?)
}

/// One row of `/proc/net/netfilter/nfnetlink_queue`: a bound queue.
///
/// ```
/// use netfilter_safe::procfs::parse_queue_rows;
///
/// let row = &parse_queue_rows("    3 2147483649     1 2 65531     0     0       42  1\n")?[0];
/// assert_eq!((row.queue_number, row.queue_total, row.id_sequence), (3, 1, 42));
/// # Ok::<(), netfilter_safe::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct QueueRow {
    /// The queue number.
    pub queue_number: u16,
    /// The netlink port id of the bound socket.
    pub peer_portid: u32,
    /// Packets waiting for a verdict.
    pub queue_total: u32,
    /// The copy mode (0 none, 1 meta, 2 packet).
    pub copy_mode: u8,
    /// The copy range in bytes.
    pub copy_range: u32,
    /// Packets dropped because the queue was full.
    pub queue_dropped: u32,
    /// Packets dropped because the netlink socket could not take them (`ENOBUFS` in the
    /// program).
    pub queue_user_dropped: u32,
    /// The last packet id handed out.
    pub id_sequence: u32,
}

/// One row of `/proc/net/netfilter/nfnetlink_log`: a bound log group.
///
/// ```
/// use netfilter_safe::procfs::parse_log_rows;
///
/// let row = &parse_log_rows("    5 2147483649     0 2 65531    100  1\n")?[0];
/// assert_eq!((row.group, row.copy_mode, row.flush_timeout), (5, 2, 100));
/// # Ok::<(), netfilter_safe::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LogRow {
    /// The group number.
    pub group: u16,
    /// The netlink port id of the bound socket.
    pub peer_portid: u32,
    /// Packets batched in the kernel, not yet sent.
    pub qlen: u32,
    /// The copy mode (0 none, 1 meta, 2 packet).
    pub copy_mode: u8,
    /// The copy range in bytes.
    pub copy_range: u32,
    /// The flush timeout, in hundredths of a second.
    pub flush_timeout: u32,
    /// The instance's reference count.
    pub use_count: u32,
}

fn fields<'a>(what: &str, line: &'a str, count: usize) -> Result<Vec<&'a str>> {
    let fields: Vec<&str> = line.split_whitespace().collect();
    if fields.len() != count {
        return Err(bad(format!("{what} row ({count} fields expected)"), line));
    }
    Ok(fields)
}

fn number<T: std::str::FromStr>(what: &str, field: &str, line: &str) -> Result<T> {
    field
        .parse()
        .map_err(|_| bad(format!("{what} field {field:?}"), line))
}

/// Parses the text of `nfnetlink_queue`.
///
/// # Errors
///
/// [`Error::Call`] (`InvalidData`) on a row that is not nine numbers ending in `1`.
///
/// ```
/// use netfilter_safe::procfs::parse_queue_rows;
///
/// let text = "    0  1234     0 2 65531     0     0        7  1\n    1  1234     2 2 65531     5     0       90  1\n";
/// let rows = parse_queue_rows(text)?;
/// assert_eq!(rows.iter().map(|r| r.queue_number).collect::<Vec<_>>(), [0, 1]);
/// assert_eq!((rows[1].queue_total, rows[1].queue_dropped, rows[1].peer_portid), (2, 5, 1234));
/// assert!(parse_queue_rows("not a row\n").is_err());
/// # Ok::<(), netfilter_safe::Error>(())
/// ```
pub fn parse_queue_rows(text: &str) -> Result<Vec<QueueRow>> {
    const WHAT: &str = "nfnetlink_queue";
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let f = fields(WHAT, line, 9)?;
            if f[8] != "1" {
                return Err(bad(format!("{WHAT} row (last field is always 1)"), line));
            }
            Ok(QueueRow {
                queue_number: number(WHAT, f[0], line)?,
                peer_portid: number(WHAT, f[1], line)?,
                queue_total: number(WHAT, f[2], line)?,
                copy_mode: number(WHAT, f[3], line)?,
                copy_range: number(WHAT, f[4], line)?,
                queue_dropped: number(WHAT, f[5], line)?,
                queue_user_dropped: number(WHAT, f[6], line)?,
                id_sequence: number(WHAT, f[7], line)?,
            })
        })
        .collect()
}

/// Parses the text of `nfnetlink_log`.
///
/// # Errors
///
/// [`Error::Call`] (`InvalidData`) on a row that is not seven numbers.
///
/// ```
/// use netfilter_safe::procfs::parse_log_rows;
///
/// let rows = parse_log_rows("    1  4321     3 1     0    100  1\n")?;
/// assert_eq!((rows[0].group, rows[0].peer_portid, rows[0].qlen, rows[0].copy_mode), (1, 4321, 3, 1));
/// assert!(parse_log_rows("1 2 3\n").is_err());
/// assert!(parse_log_rows("")?.is_empty());
/// # Ok::<(), netfilter_safe::Error>(())
/// ```
pub fn parse_log_rows(text: &str) -> Result<Vec<LogRow>> {
    const WHAT: &str = "nfnetlink_log";
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let f = fields(WHAT, line, 7)?;
            Ok(LogRow {
                group: number(WHAT, f[0], line)?,
                peer_portid: number(WHAT, f[1], line)?,
                qlen: number(WHAT, f[2], line)?,
                copy_mode: number(WHAT, f[3], line)?,
                copy_range: number(WHAT, f[4], line)?,
                flush_timeout: number(WHAT, f[5], line)?,
                use_count: number(WHAT, f[6], line)?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_rows_parse() {
        let text = "    7 123456     1 2 65535     0     3        9  1\n";
        assert_eq!(
            parse_queue_rows(text).unwrap(),
            vec![QueueRow {
                queue_number: 7,
                peer_portid: 123456,
                queue_total: 1,
                copy_mode: 2,
                copy_range: 65535,
                queue_dropped: 0,
                queue_user_dropped: 3,
                id_sequence: 9,
            }]
        );
        assert!(parse_queue_rows("").unwrap().is_empty());
        assert!(parse_queue_rows("1 2 3").is_err());
        assert!(parse_queue_rows("1 2 3 4 5 6 7 8 2").is_err());
        assert!(parse_queue_rows("1 2 3 4 5 6 7 x 1").is_err());
    }

    #[test]
    fn log_rows_parse() {
        let text = "    5 987654     0 2 65535    100  1\n   6      0     0 1     0    100  1\n";
        let rows = parse_log_rows(text).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(
            rows[0],
            LogRow {
                group: 5,
                peer_portid: 987654,
                qlen: 0,
                copy_mode: 2,
                copy_range: 65535,
                flush_timeout: 100,
                use_count: 1,
            }
        );
        assert!(parse_log_rows("5 1 0 2").is_err());
    }
}
