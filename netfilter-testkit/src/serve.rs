//! Serving a `netfilter-safe` handle from a test, with bounded waits.
//!
//! A test that binds a queue or log group with [`netfilter_safe`] owns the receive loop: each
//! datagram must be received and handed to the handle's `handle_packet`, which calls the
//! callbacks. These functions run that loop until a condition holds ([`until`]), for a fixed
//! time ([`during`]), or until a callback has left a message in an inbox ([`next`]). A panic in
//! a callback (a failed assertion) is re-raised on the calling thread, so it fails the test.
//!
//! Open the handle inside the sandbox whose queues it serves: its socket belongs to the
//! namespace it was created in, and can then be used from any thread. The handles are `Send`,
//! so `sandbox.run(QueueHandle::open)` returns one to the test's thread, where queues, groups
//! and callbacks borrowing local state are made and served.
//!
//! ```no_run
//! use std::cell::RefCell;
//! use std::collections::VecDeque;
//!
//! use netfilter_safe::CopyMode;
//! use netfilter_safe::log::LogHandle;
//! use netfilter_testkit::traffic::DEFAULT_TIMEOUT;
//! use netfilter_testkit::{Sandbox, serve};
//!
//! # fn main() -> Result<(), netfilter_testkit::Error> {
//! let sandbox = Sandbox::new()?;
//! let handle = sandbox.run(LogHandle::open)?;
//! let inbox = RefCell::new(VecDeque::new());
//! let mut group = handle.bind_group(1)?;
//! group.set_mode(CopyMode::Packet, 0xffff)?;
//! group.set_callback(|packet| inbox.borrow_mut().push_back(packet.to_owned()))?;
//! // ... a rule logs to group 1, traffic matches it ...
//! let logged = serve::next(&handle, &inbox, DEFAULT_TIMEOUT)?;
//! assert_eq!(logged.prefix.as_deref(), Some(&b"my-prefix"[..]));
//! # Ok(())
//! # }
//! ```

use std::cell::RefCell;
use std::collections::VecDeque;
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use netfilter_safe::log::LogHandle;
use netfilter_safe::queue::QueueHandle;

use crate::Error;
use crate::traffic::poll_readable;

/// Enough for the largest datagram the kernel sends (a 65531-byte copy range plus headers).
const BUFFER_LEN: usize = 0x20000;

/// How often [`until`] re-checks its condition while no datagram arrives, for conditions that
/// other threads change.
const RECHECK: Duration = Duration::from_millis(10);

/// A `netfilter-safe` handle that receives datagrams and dispatches them to its callbacks.
/// Implemented for [`QueueHandle`] and [`LogHandle`].
pub trait Dispatch: AsFd {
    /// Receives one datagram into `buf` (`QueueHandle::recv`, `LogHandle::recv`).
    ///
    /// # Errors
    ///
    /// The handle's receive errors.
    fn recv(&self, buf: &mut [u8]) -> netfilter_safe::Result<usize>;

    /// Dispatches one datagram to the callbacks and returns how many messages it held
    /// (`QueueHandle::handle_packet`, `LogHandle::handle_packet`).
    ///
    /// # Errors
    ///
    /// The handle's dispatch errors, [`netfilter_safe::Error::CallbackPanic`] among them.
    fn handle_packet(&self, datagram: &[u8]) -> netfilter_safe::Result<usize>;
}

impl Dispatch for QueueHandle {
    fn recv(&self, buf: &mut [u8]) -> netfilter_safe::Result<usize> {
        QueueHandle::recv(self, buf)
    }

    fn handle_packet(&self, datagram: &[u8]) -> netfilter_safe::Result<usize> {
        QueueHandle::handle_packet(self, datagram)
    }
}

impl Dispatch for LogHandle {
    fn recv(&self, buf: &mut [u8]) -> netfilter_safe::Result<usize> {
        LogHandle::recv(self, buf)
    }

    fn handle_packet(&self, datagram: &[u8]) -> netfilter_safe::Result<usize> {
        LogHandle::handle_packet(self, datagram)
    }
}

/// Waits up to `wait` for one datagram and dispatches it; `Ok(0)` when none came.
fn dispatch_one<H: Dispatch + ?Sized>(
    handle: &H,
    buf: &mut [u8],
    wait: Duration,
) -> Result<usize, Error> {
    let readable = poll_readable(handle.as_fd(), wait)
        .map_err(|error| Error::io("poll(NETLINK_NETFILTER socket)", error))?;
    if !readable {
        return Ok(0);
    }
    // Readable, and the handle is not `Sync`: no other reader can take the datagram, so this
    // does not block.
    let len = handle.recv(buf)?;
    handle
        .handle_packet(&buf[..len])
        .map_err(|error| Error::Netfilter(error.resume_panic()))
}

/// Receives and dispatches datagrams until `done()` returns `true` and returns how many
/// messages were dispatched. `done()` is checked first, after every datagram, and every 10 ms
/// while none arrives, so it may also watch other threads (`|| writer.is_finished()`).
///
/// # Errors
///
/// [`Error::Timeout`] when `done()` is still `false` after `timeout`; [`Error::Netfilter`]
/// when receiving or dispatching fails (an overrun, a kernel error answer in the datagram);
/// [`Error::Io`] when `poll` fails.
///
/// # Panics
///
/// Re-raises the panic of a callback (the rest of its datagram was still dispatched).
pub fn until<H: Dispatch + ?Sized>(
    handle: &H,
    timeout: Duration,
    mut done: impl FnMut() -> bool,
) -> Result<usize, Error> {
    let deadline = Instant::now() + timeout;
    let mut buf = vec![0u8; BUFFER_LEN];
    let mut dispatched = 0;
    loop {
        if done() {
            return Ok(dispatched);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(Error::Timeout {
                what: "netfilter messages that satisfy the test's condition".into(),
                after: timeout,
            });
        }
        dispatched += dispatch_one(handle, &mut buf, left.min(RECHECK))?;
    }
}

/// Receives and dispatches every datagram that arrives during `duration` and returns how many
/// messages were dispatched: `Ok(0)` shows that nothing came.
///
/// # Errors
///
/// As [`until`], without the timeout.
///
/// # Panics
///
/// Re-raises the panic of a callback.
pub fn during<H: Dispatch + ?Sized>(handle: &H, duration: Duration) -> Result<usize, Error> {
    let deadline = Instant::now() + duration;
    let mut buf = vec![0u8; BUFFER_LEN];
    let mut dispatched = 0;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(dispatched);
        }
        dispatched += dispatch_one(handle, &mut buf, left)?;
    }
}

/// Serves `handle` until a callback has put something into `inbox`, then takes the oldest
/// entry: "receive one packet" for callbacks that push owned copies
/// (`|msg| inbox.borrow_mut().push_back(msg.to_owned())`).
///
/// # Errors
///
/// As [`until`]: [`Error::Timeout`] when `inbox` stays empty for `timeout`.
///
/// # Panics
///
/// Re-raises the panic of a callback; panics if `inbox` is borrowed elsewhere.
pub fn next<H: Dispatch + ?Sized, T>(
    handle: &H,
    inbox: &RefCell<VecDeque<T>>,
    timeout: Duration,
) -> Result<T, Error> {
    until(handle, timeout, || !inbox.borrow().is_empty())?;
    inbox
        .borrow_mut()
        .pop_front()
        .ok_or_else(|| Error::Timeout {
            what: "a message in the inbox".into(),
            after: timeout,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    // Opening a handle needs no privileges; binding a queue would.
    #[test]
    fn waits_are_bounded_and_conditions_checked_first() {
        let Ok(handle) = QueueHandle::open() else {
            eprintln!("SKIP waits_are_bounded_and_conditions_checked_first: nfq_open failed");
            return;
        };
        let started = Instant::now();
        assert_eq!(until(&handle, Duration::from_secs(5), || true).unwrap(), 0);
        let timeout = until(&handle, Duration::from_millis(30), || false).unwrap_err();
        assert!(matches!(timeout, Error::Timeout { .. }), "{timeout}");
        assert_eq!(during(&handle, Duration::from_millis(30)).unwrap(), 0);
        let inbox = RefCell::new(VecDeque::<u32>::new());
        let empty = next(&handle, &inbox, Duration::from_millis(30)).unwrap_err();
        assert!(matches!(empty, Error::Timeout { .. }), "{empty}");
        inbox.borrow_mut().push_back(7);
        assert_eq!(next(&handle, &inbox, Duration::ZERO).unwrap(), 7);
        assert!(started.elapsed() < Duration::from_secs(2));
    }

    #[test]
    fn conditions_of_other_threads_end_the_wait() {
        let Ok(handle) = LogHandle::open() else {
            eprintln!("SKIP conditions_of_other_threads_end_the_wait: nflog_open failed");
            return;
        };
        let started = Instant::now();
        std::thread::scope(|scope| {
            let worker = scope.spawn(|| std::thread::sleep(Duration::from_millis(50)));
            until(&handle, Duration::from_secs(5), || worker.is_finished()).unwrap();
        });
        assert!(started.elapsed() < Duration::from_secs(1));
    }
}
