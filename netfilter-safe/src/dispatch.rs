//! Dispatching a received datagram to callbacks, one netlink message at a time.
//!
//! libnfnetlink walks a datagram itself and stops at the first callback that returns a negative
//! value: every later message of that datagram would never reach a callback, and for NFQUEUE
//! those packets would wait in the kernel without a verdict. So the datagram is split here, in
//! Rust, and each packet message is handed to the C library on its own. A callback that panics
//! is caught at the C boundary, the rest of the datagram is still dispatched, and the first
//! panic is returned as [`Error::CallbackPanic`] once the C calls are over.

use std::any::Any;
use std::cell::Cell;
use std::panic::{self, AssertUnwindSafe};

use crate::error::{Error, PanicPayload, Result};
use crate::wire::{Incoming, NlMsgIter, WireError};

/// Per-handle dispatch state; boxed by the handle so its address never moves.
#[derive(Default)]
pub(crate) struct Dispatch {
    /// The netlink message being dispatched (start, length), for the raw-attribute accessors.
    message: Cell<(usize, usize)>,
    /// The first panic caught during the current dispatch.
    panic: Cell<Option<PanicSlot>>,
    /// Whether a dispatch is running (callbacks are on the stack).
    active: Cell<bool>,
}

/// A caught panic's payload, waiting in the `Cell` until the dispatch ends.
struct PanicSlot(Box<dyn Any + Send>);

impl std::fmt::Debug for Dispatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dispatch")
            .field("active", &self.active.get())
            .finish_non_exhaustive()
    }
}

/// Clears the dispatch flags even if something below unwinds.
struct ActiveGuard<'d>(&'d Dispatch);

impl Drop for ActiveGuard<'_> {
    fn drop(&mut self) {
        self.0.active.set(false);
        self.0.message.set((0, 0));
    }
}

impl Dispatch {
    /// Whether callbacks of this handle are running now.
    pub(crate) fn is_active(&self) -> bool {
        self.active.get()
    }

    /// The message being dispatched.
    ///
    /// # Safety
    /// Only valid while a dispatch is running, from a callback it invoked: the slice borrows the
    /// datagram passed to [`Dispatch::run`], which outlives the callback.
    pub(crate) unsafe fn message<'a>(&self) -> &'a [u8] {
        let (ptr, len) = self.message.get();
        if ptr == 0 {
            return &[];
        }
        // SAFETY: `run` stored the address and length of a message inside its `datagram`
        // argument, which stays borrowed until `run` returns; the caller is a callback invoked
        // by `run` (see the function's contract).
        unsafe { std::slice::from_raw_parts(ptr as *const u8, len) }
    }

    /// Runs `f` (the user callback) catching a panic; the first one is kept for `run`.
    pub(crate) fn guard(&self, f: impl FnOnce()) {
        if let Err(payload) = panic::catch_unwind(AssertUnwindSafe(f)) {
            let first = self.panic.take();
            self.panic.set(Some(first.unwrap_or(PanicSlot(payload))));
        }
    }

    /// Splits `datagram` into netlink messages and calls `deliver` with each packet message
    /// (`nlmsg_type == packet_type`) that `validate` accepts. Returns how many were delivered.
    ///
    /// `validate` is the wire layer's strict parser: the C libraries read attributes at the
    /// sizes they expect without checking them, so a message with a short attribute must never
    /// reach them. A rejected message becomes [`Error::Malformed`] after the rest of the
    /// datagram has been dispatched.
    ///
    /// `NLMSG_NOOP`, `NLMSG_DONE` and other control messages are skipped; an `NLMSG_ERROR` carrying an errno becomes an
    /// error after the rest of the datagram has been dispatched, as does a callback panic. A
    /// malformed message stops the walk (its length cannot be trusted to find the next one).
    pub(crate) fn run(
        &self,
        call: &'static str,
        datagram: &[u8],
        packet_type: u16,
        validate: impl Fn(&[u8]) -> Result<(), WireError>,
        mut deliver: impl FnMut(&[u8]),
    ) -> Result<usize> {
        if self.active.get() {
            return Err(Error::Busy { call });
        }
        self.active.set(true);
        let _guard = ActiveGuard(self);
        let mut delivered = 0;
        let mut failure = None;
        for message in NlMsgIter::new(datagram) {
            let message = match message {
                Ok(message) => message,
                Err(err) => {
                    failure.get_or_insert(Error::Malformed(err));
                    break;
                }
            };
            match Incoming::classify(message, packet_type) {
                Ok(Incoming::Packet(message)) => {
                    let bytes = message.as_bytes();
                    if let Err(err) = validate(bytes) {
                        failure.get_or_insert(Error::Malformed(err));
                        continue;
                    }
                    self.message.set((bytes.as_ptr() as usize, bytes.len()));
                    deliver(bytes);
                    delivered += 1;
                }
                Ok(Incoming::Error(errno)) => {
                    let errno = std::io::Error::from_raw_os_error(errno);
                    failure.get_or_insert(Error::from_errno("kernel", errno));
                }
                Ok(Incoming::Skip) => {}
                Err(err) => {
                    failure.get_or_insert(Error::Malformed(err));
                }
            }
        }
        if let Some(PanicSlot(payload)) = self.panic.take() {
            return Err(Error::CallbackPanic(PanicPayload::new(payload)));
        }
        match failure {
            Some(err) => Err(err),
            None => Ok(delivered),
        }
    }
}
