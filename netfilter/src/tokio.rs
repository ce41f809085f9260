//! The `tokio` feature: queues and log groups as async streams, on tokio's reactor
//! (`AsyncFd`).
//!
//! Only the non-blocking receive runs inside `AsyncFd::try_io`; parsing and handing packets
//! out happen after it, and verdicts are sent the same way as in blocking use. Log groups can
//! also lend their packets to a callback, as [`LogGroup::recv_batch`] does
//! ([`Async::recv_batch`]).
//!
//! ```no_run
//! use netfilter::{LogGroup, Queue};
//! use netfilter::tokio::{AsyncLogGroup, AsyncQueue};
//!
//! # async fn serve() -> Result<(), netfilter::Error> {
//! let mut queue = AsyncQueue::new(Queue::builder(0).open()?)?;
//! let mut log = AsyncLogGroup::new(LogGroup::builder(1).open()?)?;
//! loop {
//!     tokio::select! {
//!         packet = queue.recv() => packet?.accept()?,
//!         logged = log.recv() => println!("{:?}", logged?.prefix()),
//!     }
//! }
//! # }
//! ```

use std::os::fd::{AsRawFd, BorrowedFd, RawFd};
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use ::tokio::io::Interest;
use ::tokio::io::unix::AsyncFd;
use futures_core::Stream;

use crate::error::{Error, Result};
use crate::log::{LogFlags, LogGroup, LogPacket, LogPacketRef};
use crate::packet::Packet;
use crate::queue::Queue;
use netfilter_safe::{CopyMode, QueueFlags};

mod sealed {
    use std::os::fd::BorrowedFd;

    use crate::error::Result;

    /// What the adapter needs of a queue or log group.
    pub trait Sealed {
        type Item;
        fn next_ready(&mut self) -> Result<Option<Self::Item>>;
        fn receive_waiting(&mut self) -> Result<bool>;
        fn fd(&self) -> BorrowedFd<'_>;
    }
}

/// A [`Queue`] or a [`LogGroup`]: what [`Async`] can drive.
pub trait Source: sealed::Sealed {}

impl sealed::Sealed for Queue {
    type Item = Packet;
    fn next_ready(&mut self) -> Result<Option<Packet>> {
        Queue::next_ready(self)
    }
    fn receive_waiting(&mut self) -> Result<bool> {
        Queue::receive_waiting(self)
    }
    fn fd(&self) -> BorrowedFd<'_> {
        Queue::fd(self)
    }
}
impl Source for Queue {}

impl sealed::Sealed for LogGroup {
    type Item = LogPacket;
    fn next_ready(&mut self) -> Result<Option<LogPacket>> {
        LogGroup::next_ready(self)
    }
    fn receive_waiting(&mut self) -> Result<bool> {
        self.receive(Some(std::time::Duration::ZERO))
    }
    fn fd(&self) -> BorrowedFd<'_> {
        LogGroup::fd(self)
    }
}
impl Source for LogGroup {}

/// A [`Queue`] driven by tokio.
pub type AsyncQueue = Async<Queue>;
/// A [`LogGroup`] driven by tokio.
pub type AsyncLogGroup = Async<LogGroup>;

/// A queue or log group driven by tokio: `recv().await`, or a [`Stream`] of packets.
///
/// Must be created inside a tokio runtime with I/O enabled.
#[derive(Debug)]
pub struct Async<S: Source> {
    // Declared first: dropped (deregistered from the reactor) before the source closes the fd.
    fd: AsyncFd<RawFd>,
    inner: S,
}

impl<S: Source> Async<S> {
    /// Registers the socket of `inner` with the current tokio runtime.
    ///
    /// # Errors
    /// [`Error::Io`] when there is no runtime or registration fails.
    pub fn new(inner: S) -> Result<Async<S>> {
        let raw = sealed::Sealed::fd(&inner).as_raw_fd();
        // SAFETY: `raw` is the socket `inner` owns. `inner` is kept in the same struct and
        // declared after `fd`, so the descriptor stays open, and means the same socket, until
        // the registration is dropped; `as_raw_fd` of a `RawFd` always returns it.
        let fd =
            unsafe { AsyncFd::register_with_interest(raw, Interest::READABLE) }.map_err(|err| {
                Error::Io {
                    call: "AsyncFd::register",
                    source: err.into_parts().1,
                }
            })?;
        Ok(Async { fd, inner })
    }

    /// The queue or log group.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// Gives the queue or log group back, deregistered from the runtime.
    pub fn into_inner(self) -> S {
        self.inner
    }

    /// Receives the next packet.
    ///
    /// # Errors
    /// As for [`Queue::recv`] and [`LogGroup::recv`].
    pub async fn recv(&mut self) -> Result<S::Item> {
        std::future::poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// Polls for the next packet.
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Result<S::Item>> {
        loop {
            if let Some(item) = self.inner.next_ready()? {
                return Poll::Ready(Ok(item));
            }
            let Async { fd, inner } = self;
            let mut guard = ready!(fd.poll_read_ready(cx)).map_err(|source| Error::Io {
                call: "poll_read_ready",
                source,
            })?;
            let received = guard.try_io(|_| match inner.receive_waiting() {
                Ok(true) => Ok(Ok(())),
                Ok(false) => Err(std::io::ErrorKind::WouldBlock.into()),
                Err(err) => Ok(Err(err)),
            });
            match received {
                Ok(Ok(Ok(()))) => {}
                Ok(Ok(Err(err))) => return Poll::Ready(Err(err)),
                Ok(Err(source)) => {
                    return Poll::Ready(Err(Error::Io {
                        call: "recv",
                        source,
                    }));
                }
                // Nothing was waiting: readiness is cleared; poll again.
                Err(_would_block) => {}
            }
        }
    }
}

/// The settings of an open queue, changed through its adapter (which keeps the queue it
/// registered: no `get_mut` that could swap it for another). These are plain calls, not
/// futures: the kernel handles a configuration request, and queues its answer, inside the
/// `send` that carries it, so the answer is already waiting when they read it; packets that
/// came before it are kept for the next `recv`.
impl Async<Queue> {
    /// As [`Queue::set_copy`].
    ///
    /// # Errors
    /// As for [`Queue::set_copy`].
    pub fn set_copy(&mut self, mode: CopyMode, range: u32) -> Result<()> {
        self.inner.set_copy(mode, range)
    }

    /// As [`Queue::set_max_len`].
    ///
    /// # Errors
    /// As for [`Queue::set_max_len`].
    pub fn set_max_len(&mut self, packets: u32) -> Result<()> {
        self.inner.set_max_len(packets)
    }

    /// As [`Queue::set_flags`].
    ///
    /// # Errors
    /// As for [`Queue::set_flags`].
    pub fn set_flags(&mut self, flags: QueueFlags) -> Result<()> {
        self.inner.set_flags(flags)
    }
}

/// The settings of an open log group, changed through its adapter.
impl Async<LogGroup> {
    /// As [`LogGroup::set_copy`].
    ///
    /// # Errors
    /// As for [`LogGroup::set_copy`].
    pub fn set_copy(&mut self, mode: CopyMode, range: u32) -> Result<()> {
        self.inner.set_copy(mode, range)
    }

    /// As [`LogGroup::set_qthresh`].
    ///
    /// # Errors
    /// As for [`LogGroup::set_qthresh`].
    pub fn set_qthresh(&mut self, messages: u32) -> Result<()> {
        self.inner.set_qthresh(messages)
    }

    /// As [`LogGroup::set_timeout`].
    ///
    /// # Errors
    /// As for [`LogGroup::set_timeout`].
    pub fn set_timeout(&mut self, timeout: Duration) -> Result<()> {
        self.inner.set_timeout(timeout)
    }

    /// As [`LogGroup::set_nlbufsiz`].
    ///
    /// # Errors
    /// As for [`LogGroup::set_nlbufsiz`].
    pub fn set_nlbufsiz(&mut self, bytes: u32) -> Result<()> {
        self.inner.set_nlbufsiz(bytes)
    }

    /// As [`LogGroup::set_flags`].
    ///
    /// # Errors
    /// As for [`LogGroup::set_flags`].
    pub fn set_flags(&mut self, flags: LogFlags) -> Result<()> {
        self.inner.set_flags(flags)
    }
}

impl Async<LogGroup> {
    /// As [`LogGroup::recv_batch`], on tokio's reactor: hands what earlier calls left, else
    /// waits until a datagram is waiting and hands its packets to `f`, lent as
    /// [`LogPacketRef`]s (no copy). Returns how many `f` was given: 0 when the datagram held
    /// no packet.
    ///
    /// # Errors
    /// As for [`LogGroup::recv_batch`].
    ///
    /// ```no_run
    /// use netfilter::LogGroup;
    /// use netfilter::tokio::AsyncLogGroup;
    ///
    /// # async fn serve() -> Result<(), netfilter::Error> {
    /// let mut log = AsyncLogGroup::new(LogGroup::builder(1).open()?)?;
    /// let mut bytes = 0;
    /// loop {
    ///     log.recv_batch(|packet| bytes += packet.payload().len()).await?;
    /// }
    /// # }
    /// ```
    pub async fn recv_batch(&mut self, mut f: impl FnMut(&LogPacketRef<'_>)) -> Result<usize> {
        let kept = self.inner.hand_kept(&mut f)?;
        if kept > 0 {
            return Ok(kept);
        }
        loop {
            let Async { fd, inner } = &mut *self;
            let mut guard = fd.readable().await.map_err(|source| Error::Io {
                call: "poll_read_ready",
                source,
            })?;
            let lent = guard.try_io(|_| match inner.lend_waiting(&mut f) {
                Ok(Some(n)) => Ok(Ok(n)),
                Ok(None) => Err(std::io::ErrorKind::WouldBlock.into()),
                Err(err) => Ok(Err(err)),
            });
            match lent {
                Ok(Ok(result)) => return result,
                Ok(Err(source)) => {
                    return Err(Error::Io {
                        call: "recv",
                        source,
                    });
                }
                // Nothing was waiting: readiness is cleared; wait again.
                Err(_would_block) => {}
            }
        }
    }
}

impl<S: Source + Unpin> Stream for Async<S> {
    type Item = Result<S::Item>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_recv(cx).map(Some)
    }
}
