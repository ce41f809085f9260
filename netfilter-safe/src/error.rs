//! The crate's one error type.

use std::any::Any;
use std::fmt;
use std::io;
use std::sync::Mutex;

use crate::wire;

/// What can go wrong in this crate.
///
/// Every failing C call is named, with the `errno` it left. The errno values that mean something
/// specific for NFQUEUE and NFLOG have variants of their own, so a program can react to them
/// without decoding `io::Error`s: see [`Error::from_errno`].
///
/// ```
/// use std::io;
/// use netfilter_safe::Error;
///
/// // Each errno the kernel answers with gets its own variant.
/// let refused = Error::from_errno("bind", io::Error::from_raw_os_error(libc::EPERM));
/// assert!(matches!(refused, Error::NotPermitted { call: "bind" }));
/// assert!(matches!(Error::from_errno("recv", io::Error::from_raw_os_error(libc::ENOBUFS)), Error::Overrun));
/// assert!(refused.to_string().contains("bind"));
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// A C call or system call failed; `call` names it (e.g. `"nfq_create_queue"`).
    Call {
        /// The failing call.
        call: &'static str,
        /// The error it reported.
        source: io::Error,
    },
    /// The socket's receive buffer overflowed (`ENOBUFS`): the kernel dropped messages. Not
    /// fatal: the socket stays usable. For queues the dropped packets were verdicted by the
    /// kernel (dropped, or accepted with fail-open); for log groups they are lost.
    Overrun,
    /// `EPERM`: another socket already owns this queue or log group, or the caller lacks
    /// `CAP_NET_ADMIN` in the network namespace of the socket.
    NotPermitted {
        /// The failing call.
        call: &'static str,
    },
    /// `EBUSY` (from the kernel) or `EEXIST` (from the C library's own check): this handle has
    /// already bound this queue or log group.
    Busy {
        /// The failing call.
        call: &'static str,
    },
    /// The running kernel lacks a feature the call needs (`EOPNOTSUPP`, or `EAGAIN` from the
    /// conntrack glue, which means its module could not be loaded right now: try again).
    Unsupported {
        /// The failing call.
        call: &'static str,
        /// The errno that said so.
        source: io::Error,
    },
    /// A message from the kernel could not be parsed.
    Malformed(wire::WireError),
    /// A datagram did not fit the buffer it was received into (`MSG_TRUNC`): the rest was
    /// discarded by the kernel. Receive into a buffer of at least `needed` bytes.
    Truncated {
        /// The datagram's real length.
        needed: usize,
        /// The buffer's length.
        got: usize,
    },
    /// An argument is outside what the kernel accepts; nothing was sent.
    OutOfRange {
        /// What was out of range.
        what: &'static str,
        /// The value given.
        value: u64,
        /// The largest accepted value.
        max: u64,
    },
    /// A user callback panicked. The panic was caught at the C boundary, the rest of the
    /// datagram was still dispatched, and the payload is here: re-raise it with
    /// [`Error::resume_panic`] or inspect it with [`Error::panic_message`].
    CallbackPanic(PanicPayload),
}

/// A caught panic's payload (`Box<dyn Any + Send>`), kept so that it can be re-raised.
///
/// Wrapped in a `Mutex` only so that [`Error`] is `Sync` and fits `anyhow`-style error types.
pub struct PanicPayload(Mutex<Option<Box<dyn Any + Send>>>);

impl PanicPayload {
    #[cfg(any(test, feature = "ffi"))]
    pub(crate) fn new(payload: Box<dyn Any + Send>) -> Self {
        PanicPayload(Mutex::new(Some(payload)))
    }

    /// Takes the payload out (`None` once taken).
    pub fn take(&self) -> Option<Box<dyn Any + Send>> {
        match self.0.lock() {
            Ok(mut slot) => slot.take(),
            Err(poisoned) => poisoned.into_inner().take(),
        }
    }

    /// The panic message, when the payload is a string (as `panic!` makes it).
    pub fn message(&self) -> Option<String> {
        let slot = match self.0.lock() {
            Ok(slot) => slot,
            Err(poisoned) => poisoned.into_inner(),
        };
        let payload = slot.as_ref()?;
        payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
    }
}

impl fmt::Debug for PanicPayload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("PanicPayload")
            .field(&self.message())
            .finish()
    }
}

impl Error {
    /// Maps the `errno` a failing `call` left to the matching variant.
    ///
    /// ```
    /// use std::io;
    /// use netfilter_safe::Error;
    ///
    /// let busy = Error::from_errno("bind", io::Error::from_raw_os_error(libc::EBUSY));
    /// assert!(matches!(busy, Error::Busy { call: "bind" }));
    /// let other = Error::from_errno("send", io::Error::from_raw_os_error(libc::EBADF));
    /// assert!(matches!(other, Error::Call { call: "send", .. }));
    /// ```
    pub fn from_errno(call: &'static str, source: io::Error) -> Error {
        match source.raw_os_error() {
            Some(libc::ENOBUFS) => Error::Overrun,
            Some(libc::EPERM) => Error::NotPermitted { call },
            Some(libc::EBUSY) | Some(libc::EEXIST) => Error::Busy { call },
            Some(libc::EOPNOTSUPP) | Some(libc::EAGAIN) => Error::Unsupported { call, source },
            _ => Error::Call { call, source },
        }
    }

    /// [`Error::from_errno`] with the calling thread's current `errno`.
    pub(crate) fn last(call: &'static str) -> Error {
        Error::from_errno(call, io::Error::last_os_error())
    }

    /// Whether this is a non-blocking receive that found nothing waiting (`EAGAIN`).
    ///
    /// ```
    /// use std::io;
    /// use netfilter_safe::Error;
    ///
    /// // What a non-blocking receive returns when nothing is waiting.
    /// let nothing = Error::Call { call: "recv", source: io::ErrorKind::WouldBlock.into() };
    /// assert!(nothing.is_would_block());
    /// // An `EAGAIN` answer to a request means a missing kernel feature, not "try again".
    /// let request = Error::from_errno("bind", io::Error::from_raw_os_error(libc::EAGAIN));
    /// assert!(matches!(request, Error::Unsupported { .. }) && !request.is_would_block());
    /// ```
    pub fn is_would_block(&self) -> bool {
        matches!(self, Error::Call { source, .. } if source.kind() == io::ErrorKind::WouldBlock)
    }

    /// For [`Error::CallbackPanic`]: the panic message, when it was a string.
    pub fn panic_message(&self) -> Option<String> {
        match self {
            Error::CallbackPanic(payload) => payload.message(),
            _ => None,
        }
    }

    /// For [`Error::CallbackPanic`]: re-raises the callback's panic on this thread, as if the
    /// callback had panicked here. Any other error is returned unchanged.
    pub fn resume_panic(self) -> Error {
        if let Error::CallbackPanic(payload) = &self {
            if let Some(payload) = payload.take() {
                std::panic::resume_unwind(payload);
            }
        }
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Call { call, source } => write!(f, "{call} failed: {source}"),
            Error::Overrun => f.write_str(
                "the netlink socket's receive buffer overflowed (ENOBUFS): the kernel dropped \
                 messages; enlarge the buffer or receive faster",
            ),
            Error::NotPermitted { call } => write!(
                f,
                "{call}: not permitted (EPERM): another socket owns this queue or log group, or \
                 the process lacks CAP_NET_ADMIN in the socket's network namespace"
            ),
            Error::Busy { call } => write!(
                f,
                "{call}: busy (EBUSY): this handle has already bound this queue or log group"
            ),
            Error::Unsupported { call, source } => write!(
                f,
                "{call}: the running kernel does not support this ({source})"
            ),
            Error::Malformed(err) => write!(f, "malformed message from the kernel: {err}"),
            Error::Truncated { needed, got } => write!(
                f,
                "a {needed}-byte datagram was cut to the {got}-byte receive buffer"
            ),
            Error::OutOfRange { what, value, max } => {
                write!(f, "{what} {value} is out of range (at most {max})")
            }
            Error::CallbackPanic(payload) => match payload.message() {
                Some(msg) => write!(f, "a callback panicked: {msg}"),
                None => f.write_str("a callback panicked"),
            },
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Call { source, .. } | Error::Unsupported { source, .. } => Some(source),
            Error::Malformed(err) => Some(err),
            _ => None,
        }
    }
}

impl From<wire::WireError> for Error {
    fn from(err: wire::WireError) -> Self {
        Error::Malformed(err)
    }
}

/// Maps a C return code (negative on failure, with `errno` set) to a result.
#[cfg(feature = "ffi")]
pub(crate) fn check(rc: std::ffi::c_int, call: &'static str) -> Result<()> {
    if rc < 0 {
        Err(Error::last(call))
    } else {
        Ok(())
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errno_maps_to_variants() {
        let e = |n| Error::from_errno("x", io::Error::from_raw_os_error(n));
        assert!(matches!(e(libc::ENOBUFS), Error::Overrun));
        assert!(matches!(e(libc::EPERM), Error::NotPermitted { call: "x" }));
        assert!(matches!(e(libc::EBUSY), Error::Busy { call: "x" }));
        assert!(matches!(e(libc::EEXIST), Error::Busy { call: "x" }));
        assert!(matches!(e(libc::EOPNOTSUPP), Error::Unsupported { .. }));
        assert!(matches!(e(libc::EAGAIN), Error::Unsupported { .. }));
        assert!(matches!(e(libc::EINVAL), Error::Call { call: "x", .. }));
    }

    #[test]
    fn panic_payload_is_kept_and_reraised() {
        let caught = std::panic::catch_unwind(|| panic!("boom {}", 7)).unwrap_err();
        let err = Error::CallbackPanic(PanicPayload::new(caught));
        assert_eq!(err.panic_message().as_deref(), Some("boom 7"));
        assert_eq!(err.to_string(), "a callback panicked: boom 7");
        let again = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| err.resume_panic()));
        let payload = again.expect_err("resume_panic re-raises");
        // The same payload comes back: the message survives the round trip.
        let text = PanicPayload::new(payload).message();
        assert_eq!(text.as_deref(), Some("boom 7"));
    }

    #[test]
    fn error_is_send_and_sync() {
        fn check<T: Send + Sync + 'static>() {}
        check::<Error>();
    }
}
