//! The `tokio` feature: queues as async streams, on tokio's reactor (`AsyncFd`).
//!
//! Only the non-blocking receive runs inside `AsyncFd::try_io`; parsing and handing packets
//! out happen after it, and verdicts are sent the same way as in blocking use.
//!
//! ```no_run
//! use netfilter::{Queue, tokio::AsyncQueue};
//!
//! # async fn serve() -> Result<(), netfilter::Error> {
//! let mut queue = AsyncQueue::new(Queue::builder(0).open()?)?;
//! while let Ok(packet) = queue.recv().await {
//!     packet.accept()?;
//! }
//! # Ok(())
//! # }
//! ```

use std::os::fd::{AsRawFd, RawFd};
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use ::tokio::io::Interest;
use ::tokio::io::unix::AsyncFd;
use futures_core::Stream;

use crate::error::{Error, Result};
use crate::packet::Packet;
use crate::queue::Queue;

/// A [`Queue`] driven by tokio: `recv().await`, or a [`Stream`] of packets.
///
/// Must be created inside a tokio runtime with I/O enabled.
#[derive(Debug)]
pub struct AsyncQueue {
    // Declared first: dropped (deregistered from the reactor) before the queue closes the fd.
    fd: AsyncFd<RawFd>,
    queue: Queue,
}

impl AsyncQueue {
    /// Registers `queue`'s socket with the current tokio runtime.
    ///
    /// # Errors
    /// [`Error::Io`] when there is no runtime or registration fails.
    pub fn new(queue: Queue) -> Result<AsyncQueue> {
        let raw = queue.fd().as_raw_fd();
        // SAFETY: `raw` is the queue's open socket. The queue is kept in the same struct and
        // declared after `fd`, so the descriptor stays open, and means the same socket, until
        // the registration is dropped; `as_raw_fd` of a `RawFd` always returns it.
        let fd =
            unsafe { AsyncFd::register_with_interest(raw, Interest::READABLE) }.map_err(|err| {
                Error::Io {
                    call: "AsyncFd::register",
                    source: err.into_parts().1,
                }
            })?;
        Ok(AsyncQueue { fd, queue })
    }

    /// The queue, for flushing or its numbers.
    pub fn get_ref(&self) -> &Queue {
        &self.queue
    }

    /// Gives the queue back, deregistered from the runtime.
    pub fn into_inner(self) -> Queue {
        self.queue
    }

    /// Receives the next packet.
    ///
    /// # Errors
    /// As for [`Queue::recv`].
    pub async fn recv(&mut self) -> Result<Packet> {
        std::future::poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// Polls for the next packet.
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Result<Packet>> {
        loop {
            if let Some(packet) = self.queue.next_ready()? {
                return Poll::Ready(Ok(packet));
            }
            let AsyncQueue { fd, queue } = self;
            let mut guard = ready!(fd.poll_read_ready(cx)).map_err(|source| Error::Io {
                call: "poll_read_ready",
                source,
            })?;
            let received = guard.try_io(|_| match queue.receive_waiting() {
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

impl Stream for AsyncQueue {
    type Item = Result<Packet>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Packet>>> {
        self.get_mut().poll_recv(cx).map(Some)
    }
}
