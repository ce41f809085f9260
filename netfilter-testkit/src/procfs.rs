//! Typed rows of `/proc/net/netfilter/nfnetlink_queue` and `/proc/net/netfilter/nfnetlink_log`.
//!
//! Both files are per network namespace. [`queue_rows`] and [`log_rows`] read them from a
//! thread inside a sandbox through `/proc/thread-self/net/…` (`/proc/self/net` would show the
//! namespace of the process's main thread). A row exists while a program has the queue or
//! group bound.
//!
//! Formats (Linux `net/netfilter/nfnetlink_queue.c` `seq_show`, `nfnetlink_log.c` `seq_show`):
//!
//! ```text
//! nfnetlink_queue: queue_num peer_portid queue_total copy_mode copy_range queue_dropped queue_user_dropped id_sequence 1
//! nfnetlink_log:   group_num peer_portid qlen copy_mode copy_range flushtimeout use
//! ```

use crate::{Error, Sandbox};

const QUEUE_FILE: &str = "/proc/thread-self/net/netfilter/nfnetlink_queue";
const LOG_FILE: &str = "/proc/thread-self/net/netfilter/nfnetlink_log";

/// One row of `/proc/net/netfilter/nfnetlink_queue`: a bound queue.
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

fn fields<'a>(what: &str, line: &'a str, count: usize) -> Result<Vec<&'a str>, Error> {
    let fields: Vec<&str> = line.split_whitespace().collect();
    if fields.len() != count {
        return Err(Error::Parse {
            what: format!("{what} row ({count} fields expected)"),
            input: line.to_owned(),
        });
    }
    Ok(fields)
}

fn number<T: std::str::FromStr>(what: &str, field: &str, line: &str) -> Result<T, Error> {
    field.parse().map_err(|_| Error::Parse {
        what: format!("{what} field {field:?}"),
        input: line.to_owned(),
    })
}

/// Parses the text of `nfnetlink_queue`.
///
/// # Errors
///
/// [`Error::Parse`] on a row that is not nine numbers ending in `1`.
pub fn parse_queue_rows(text: &str) -> Result<Vec<QueueRow>, Error> {
    const WHAT: &str = "nfnetlink_queue";
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let f = fields(WHAT, line, 9)?;
            if f[8] != "1" {
                return Err(Error::Parse {
                    what: format!("{WHAT} row (last field is always 1)"),
                    input: line.to_owned(),
                });
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
/// [`Error::Parse`] on a row that is not seven numbers.
pub fn parse_log_rows(text: &str) -> Result<Vec<LogRow>, Error> {
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

fn read_inside(sandbox: &Sandbox, path: &'static str) -> Result<String, Error> {
    sandbox
        .try_run(|| std::fs::read_to_string(path))?
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::PermissionDenied {
                Error::unsupported(
                    format!("reading {path}"),
                    "permission denied (the file belongs to the initial user namespace's root; rootless mode)",
                )
            } else if e.kind() == std::io::ErrorKind::NotFound {
                Error::unsupported(format!("reading {path}"), "the kernel has no such file")
            } else {
                Error::io(format!("read {path} in {}", sandbox.name()), e)
            }
        })
}

/// The bound queues of `sandbox`'s namespace.
///
/// # Errors
///
/// [`Error::Unsupported`] when the file is missing or unreadable (rootless mode),
/// [`Error::Parse`] on an unexpected format, [`Error::Io`] otherwise.
pub fn queue_rows(sandbox: &Sandbox) -> Result<Vec<QueueRow>, Error> {
    parse_queue_rows(&read_inside(sandbox, QUEUE_FILE)?)
}

/// The row of queue `number` in `sandbox`, if it is bound.
///
/// # Errors
///
/// As for [`queue_rows`].
pub fn queue_row(sandbox: &Sandbox, number: u16) -> Result<Option<QueueRow>, Error> {
    Ok(queue_rows(sandbox)?
        .into_iter()
        .find(|row| row.queue_number == number))
}

/// The bound log groups of `sandbox`'s namespace.
///
/// # Errors
///
/// As for [`queue_rows`].
pub fn log_rows(sandbox: &Sandbox) -> Result<Vec<LogRow>, Error> {
    parse_log_rows(&read_inside(sandbox, LOG_FILE)?)
}

/// The row of log group `group` in `sandbox`, if it is bound.
///
/// # Errors
///
/// As for [`queue_rows`].
pub fn log_row(sandbox: &Sandbox, group: u16) -> Result<Option<LogRow>, Error> {
    Ok(log_rows(sandbox)?
        .into_iter()
        .find(|row| row.group == group))
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
