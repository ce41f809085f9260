//! Running code in another network namespace without moving the calling thread.

use std::os::fd::{AsRawFd, BorrowedFd};

use crate::error::{Error, Result};

/// Runs `f` on a short-lived thread that has entered the network namespace `netns` (an open
/// `/run/netns/NAME` or `/proc/PID/ns/net`), and returns what it returns. Sockets `f` creates
/// belong to that namespace and stay there; the calling thread is not moved.
///
/// # Errors
/// [`Error::NotPermitted`] without `CAP_SYS_ADMIN` over the namespace, [`Error::Call`] when
/// `netns` is not a network namespace.
///
/// # Panics
/// Re-raises a panic of `f`.
pub fn run_in<T: Send>(netns: BorrowedFd<'_>, f: impl FnOnce() -> T + Send) -> Result<T> {
    let fd = netns.as_raw_fd();
    let ran = std::thread::scope(|scope| {
        scope
            .spawn(move || {
                // SAFETY: setns only reads the descriptor, which `netns` keeps open for the
                // scope; it changes the namespace of this thread alone, which ends right after.
                if unsafe { libc::setns(fd, libc::CLONE_NEWNET) } < 0 {
                    return Err(Error::last("setns(CLONE_NEWNET)"));
                }
                Ok(f())
            })
            .join()
    });
    match ran {
        Ok(result) => result,
        Err(payload) => std::panic::resume_unwind(payload),
    }
}
