//! The crate's one error type.

use std::fmt;
use std::io;

use netfilter_safe::wire::WireError;

/// What can go wrong in this crate.
///
/// Errors are matched by kind; the non-fatal ones say so:
///
/// ```
/// use netfilter::{Error, LogGroup};
/// use netfilter_testkit::fake::FakeKernel;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let (kernel, transport) = FakeKernel::new()?;
/// let mut log = LogGroup::builder(1).transport(transport).open()?;
/// kernel.overrun(); // the socket's receive buffer overflowed
/// match log.recv() {
///     Err(Error::Overrun { lost }) => assert_eq!(lost, None), // not fatal: receive again
///     other => panic!("expected an overrun, got {other:?}"),
/// }
/// assert!(log.try_recv()?.is_none()); // the socket goes on working
///
/// // Configuration errors name the request the kernel refused.
/// let (kernel, transport) = FakeKernel::new()?;
/// kernel.bind_group_elsewhere(2);
/// let err = LogGroup::builder(2).transport(transport).open().unwrap_err();
/// assert!(matches!(&err, Error::NotPermitted { request } if request.contains('2')));
/// assert!(err.to_string().contains("EPERM"));
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// A system call on the netlink socket failed; `call` names it.
    Io {
        /// The failing call (`"recv"`, `"send"`, ...).
        call: &'static str,
        /// Its errno.
        source: io::Error,
    },
    /// The kernel refused a configuration request.
    Kernel {
        /// What was asked (`"bind queue 3"`, `"set copy mode"`, ...).
        request: String,
        /// The errno it answered.
        source: io::Error,
    },
    /// `EPERM` from the kernel: another socket owns this queue or log group, or the process
    /// lacks `CAP_NET_ADMIN` in the socket's network namespace.
    NotPermitted {
        /// What was asked.
        request: String,
    },
    /// The running kernel lacks a feature a request needs (`EOPNOTSUPP`): for example the
    /// conntrack glue for queues.
    Unsupported {
        /// What was asked.
        request: String,
    },
    /// The kernel did not answer a configuration request in time.
    NoAnswer {
        /// What was asked.
        request: String,
    },
    /// The socket's receive buffer overflowed (`ENOBUFS`): the kernel dropped messages. Not
    /// fatal; receiving goes on. `lost` is how many log messages were lost when the sequence
    /// numbers tell (log groups with the sequence flags), `None` otherwise.
    Overrun {
        /// Messages known to be lost.
        lost: Option<u32>,
    },
    /// A message from the kernel could not be parsed; it was skipped.
    Malformed(WireError),
    /// A value is outside what the kernel accepts; nothing was sent.
    OutOfRange {
        /// What was out of range.
        what: &'static str,
        /// The value given.
        value: u64,
        /// The smallest accepted value.
        min: u64,
        /// The largest accepted value.
        max: u64,
    },
    /// A verdict for a packet whose queue has been closed: the kernel has already dropped it.
    QueueClosed {
        /// The packet's queue.
        queue: u16,
        /// The packet's id.
        id: u32,
    },
    /// A receive was stopped by a [`StopHandle`](crate::StopHandle) (`run` returns `Ok(())`
    /// instead). Not a failure: the queue or log group works on; packets held still take
    /// verdicts.
    Stopped,
    /// A packet payload is not the IP packet it was expected to be.
    BadPacket {
        /// What is wrong.
        reason: String,
    },
    /// An error of the safe layer below.
    Safe(netfilter_safe::Error),
}

impl Error {
    /// Maps the errno of a refused configuration `request`.
    pub(crate) fn kernel(request: String, source: io::Error) -> Error {
        match source.raw_os_error() {
            Some(libc::EPERM) => Error::NotPermitted { request },
            Some(libc::EOPNOTSUPP) => Error::Unsupported { request },
            _ => Error::Kernel { request, source },
        }
    }

    /// Maps the errno of a failed system call.
    pub(crate) fn io(call: &'static str, source: io::Error) -> Error {
        match source.raw_os_error() {
            Some(libc::ENOBUFS) => Error::Overrun { lost: None },
            _ => Error::Io { call, source },
        }
    }

    /// Whether this is a non-blocking receive that found nothing waiting.
    ///
    /// ```
    /// use std::io;
    /// use netfilter::Error;
    ///
    /// let err = Error::Io { call: "recv", source: io::ErrorKind::WouldBlock.into() };
    /// assert!(err.is_would_block());
    /// assert!(!Error::Overrun { lost: None }.is_would_block());
    /// ```
    pub fn is_would_block(&self) -> bool {
        matches!(self, Error::Io { source, .. } if source.kind() == io::ErrorKind::WouldBlock)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io { call, source } => write!(f, "{call} failed: {source}"),
            Error::Kernel { request, source } => {
                write!(f, "the kernel refused to {request}: {source}")
            }
            Error::NotPermitted { request } => write!(
                f,
                "the kernel refused to {request} (EPERM): another socket owns it, or the \
                 process lacks CAP_NET_ADMIN in the socket's network namespace"
            ),
            Error::Unsupported { request } => write!(
                f,
                "the kernel refused to {request} (EOPNOTSUPP): the running kernel lacks the \
                 feature"
            ),
            Error::NoAnswer { request } => {
                write!(f, "the kernel did not answer the request to {request}")
            }
            Error::Overrun { lost: Some(lost) } => write!(
                f,
                "receive buffer overrun (ENOBUFS): {lost} messages were lost"
            ),
            Error::Overrun { lost: None } => f.write_str(
                "receive buffer overrun (ENOBUFS): the kernel dropped messages; enlarge the \
                 buffer or receive faster",
            ),
            Error::Malformed(err) => write!(f, "malformed message from the kernel: {err}"),
            Error::OutOfRange {
                what,
                value,
                min,
                max,
            } => {
                write!(f, "{what} {value} is out of range ({min} to {max})")
            }
            Error::QueueClosed { queue, id } => write!(
                f,
                "verdict for packet {id} of queue {queue}, which is closed: the kernel dropped \
                 the packet when the queue was unbound"
            ),
            Error::Stopped => f.write_str("the receive was stopped by its stop handle"),
            Error::BadPacket { reason } => write!(f, "not a valid IP packet: {reason}"),
            Error::Safe(err) => err.fmt(f),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } | Error::Kernel { source, .. } => Some(source),
            Error::Malformed(err) => Some(err),
            Error::Safe(err) => Some(err),
            _ => None,
        }
    }
}

impl From<WireError> for Error {
    fn from(err: WireError) -> Self {
        Error::Malformed(err)
    }
}

impl From<netfilter_safe::Error> for Error {
    fn from(err: netfilter_safe::Error) -> Self {
        Error::Safe(err)
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
