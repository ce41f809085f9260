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
pub use netfilter_safe::procfs::{LogRow, QueueRow, parse_log_rows, parse_queue_rows};

use netfilter_safe::procfs::{LOG_FILE, QUEUE_FILE};

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
    parse_queue_rows(&read_inside(sandbox, QUEUE_FILE)?).map_err(Error::from)
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
    parse_log_rows(&read_inside(sandbox, LOG_FILE)?).map_err(Error::from)
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
