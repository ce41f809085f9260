//! [`StopHandle`]: ends a blocked receive of a queue or a log group from another thread or a
//! signal handler.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// Stops the blocking receives of one [`Queue`](crate::Queue) or
/// [`LogGroup`](crate::LogGroup): made by [`Queue::stop_handle`](crate::Queue::stop_handle) or
/// [`LogGroup::stop_handle`](crate::LogGroup::stop_handle). Cheap to clone, `Send` and `Sync`.
///
/// [`StopHandle::stop`] makes the receive that blocks now, and every later one that would
/// wait, return at once: `run` returns `Ok(())`; `recv`, `recv_timeout` and `recv_batch`
/// (with a timeout that is not zero) and the `incoming` iterators return [`Error::Stopped`].
/// `try_recv` never waits, so it is not affected, and neither are the `tokio` adapters (they
/// wait in tokio's reactor: cancel the task or select on a shutdown signal there). Nothing is lost: verdicts given before are sent (a receive sends them
/// before it waits), packets already received stay with the queue for the next receive, and
/// held packets still take their verdicts. The stop lasts until [`StopHandle::reset`].
///
/// `stop` is one `write(2)` to an eventfd, so it is async-signal-safe: keep a handle where a
/// signal handler can reach it (a `static` `OnceLock`) and call it there.
///
/// ```
/// use netfilter::{Queue, Error};
/// use netfilter_testkit::fake::FakeKernel;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let (_kernel, transport) = FakeKernel::new()?;
/// let mut queue = Queue::builder(0).transport(transport).open()?;
/// let stop = queue.stop_handle()?;
/// let stopper = std::thread::spawn(move || {
///     std::thread::sleep(std::time::Duration::from_millis(50));
///     stop.stop();
/// });
/// // Blocks until the other thread asks it to stop.
/// queue.run(|packet| packet.accept())?;
/// stopper.join().unwrap();
/// assert!(matches!(queue.recv(), Err(Error::Stopped)));
/// # Ok(())
/// # }
/// ```
///
/// Without a stop handle, receives block in the receive call itself; with one, they wait in
/// `poll(2)` on the socket and the handle's eventfd, then receive without blocking.
#[derive(Debug, Clone)]
pub struct StopHandle {
    event: Arc<OwnedFd>,
}

impl StopHandle {
    pub(crate) fn new() -> Result<StopHandle> {
        // SAFETY: eventfd takes no pointers; a non-negative result is a new descriptor.
        let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        if fd < 0 {
            return Err(Error::Io {
                call: "eventfd",
                source: std::io::Error::last_os_error(),
            });
        }
        // SAFETY: `fd` is a fresh descriptor that nothing else owns.
        let event = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(StopHandle {
            event: Arc::new(event),
        })
    }

    /// Stops the blocked receive, and every later one until [`StopHandle::reset`].
    /// Async-signal-safe: it makes one `write(2)` and nothing else.
    pub fn stop(&self) {
        let one = 1u64;
        // SAFETY: writes the 8 bytes of `one`, which outlives the call, to the eventfd this
        // handle owns. A full counter (EAGAIN) is stopped already; nothing to report.
        unsafe {
            libc::write(
                self.event.as_raw_fd(),
                (&raw const one).cast::<libc::c_void>(),
                size_of::<u64>(),
            );
        }
    }

    /// Whether [`StopHandle::stop`] was called since the last [`StopHandle::reset`].
    pub fn is_stopped(&self) -> bool {
        matches!(poll_one(self.event.as_raw_fd()), Ok(true))
    }

    /// Lets receives block again.
    pub fn reset(&self) {
        let mut count = 0u64;
        // SAFETY: reads at most 8 bytes into `count`, which outlives the call, from the
        // non-blocking eventfd this handle owns; EAGAIN means it was not stopped.
        unsafe {
            libc::read(
                self.event.as_raw_fd(),
                (&raw mut count).cast::<libc::c_void>(),
                size_of::<u64>(),
            );
        }
    }

    /// Waits until `socket` is readable (`Ok(true)`), `timeout` is up (`Ok(false)`; forever
    /// with `None`) or the handle is stopped ([`Error::Stopped`]). Signals (`EINTR`) do not
    /// end the wait: a handler that wants it to end calls [`StopHandle::stop`].
    pub(crate) fn wait(&self, socket: RawFd, timeout: Option<Duration>) -> Result<bool> {
        // A timeout too large to add (Duration::MAX) waits forever.
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        loop {
            let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            let mut fds = [
                libc::pollfd {
                    fd: self.event.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                },
                libc::pollfd {
                    fd: socket,
                    events: libc::POLLIN,
                    revents: 0,
                },
            ];
            // SAFETY: `fds` is an array of two initialised pollfd structs that outlives the
            // call, and its length is passed with it.
            let n = unsafe { libc::poll(fds.as_mut_ptr(), 2, poll_ms(left)) };
            if n < 0 {
                let err = std::io::Error::last_os_error();
                if err.raw_os_error() == Some(libc::EINTR) {
                    continue;
                }
                return Err(Error::Io {
                    call: "poll",
                    source: err,
                });
            }
            if fds[0].revents != 0 {
                return Err(Error::Stopped);
            }
            if fds[1].revents != 0 {
                return Ok(true);
            }
            // Nothing ready: time is up once the deadline has passed (poll may wake a little
            // early or late; without a deadline it does not return empty-handed).
            if deadline.is_none_or(|d| Instant::now() >= d) {
                return Ok(false);
            }
        }
    }
}

/// Whether `fd` is readable now.
fn poll_one(fd: RawFd) -> std::io::Result<bool> {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one initialised pollfd that outlives the call.
    let n = unsafe { libc::poll(&raw mut pfd, 1, 0) };
    match n {
        n if n < 0 => Err(std::io::Error::last_os_error()),
        n => Ok(n > 0),
    }
}

/// `timeout` as poll(2)'s milliseconds: rounded up (a wait never ends early), -1 for none,
/// capped at `i32::MAX`.
fn poll_ms(timeout: Option<Duration>) -> libc::c_int {
    match timeout {
        None => -1,
        Some(t) => {
            let ms = t.as_nanos().div_ceil(1_000_000);
            ms.min(libc::c_int::MAX as u128) as libc::c_int
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_is_latched_until_reset() {
        let stop = StopHandle::new().expect("eventfd");
        assert!(!stop.is_stopped());
        let clone = stop.clone();
        clone.stop();
        clone.stop();
        assert!(stop.is_stopped(), "seen through every clone");
        stop.reset();
        assert!(!stop.is_stopped());
    }

    #[test]
    fn poll_timeouts_round_up_and_cap() {
        assert_eq!(poll_ms(None), -1);
        assert_eq!(poll_ms(Some(Duration::ZERO)), 0);
        assert_eq!(poll_ms(Some(Duration::from_micros(1))), 1);
        assert_eq!(poll_ms(Some(Duration::from_millis(7))), 7);
        assert_eq!(poll_ms(Some(Duration::MAX)), libc::c_int::MAX);
    }
}
