//! What queue and log handles share about their netlink socket.

/// The socket methods that [`QueueHandle`](crate::queue::QueueHandle) and
/// [`LogHandle`](crate::log::LogHandle) share, for a handle type with `fn open()` and
/// `fn fd(&self) -> RawFd`.
#[cfg(feature = "ffi")]
macro_rules! socket_methods {
    ($handle:ident) => {
        impl $handle {
            /// Opens a handle that uses `socket`, an existing `NETLINK_NETFILTER` socket, for
            /// example one created inside another network namespace and passed over a Unix
            /// socket (python-netfilterqueue's `sockfd`). The handle takes the socket over.
            ///
            /// # Errors
            /// [`Error::Call`] when `socket` is not a `NETLINK_NETFILTER` socket or cannot be
            /// adopted.
            pub fn open_with_socket(socket: std::os::fd::OwnedFd) -> Result<$handle> {
                let handle = Self::open()?;
                crate::socket::adopt(handle.fd(), socket)?;
                Ok(handle)
            }

            /// Receives one datagram into `buf` (a blocking `recv` unless the socket was made
            /// non-blocking), retrying on `EINTR`.
            ///
            /// # Errors
            /// [`Error::Overrun`] when the kernel dropped messages because the receive buffer
            /// was full (not fatal: call again); [`Error::Truncated`] when the datagram was
            /// larger than `buf` (size it for the copy range plus about 4 KiB of headers);
            /// an error for which [`Error::is_would_block`] holds when the socket is
            /// non-blocking and nothing is waiting.
            pub fn recv(&self, buf: &mut [u8]) -> Result<usize> {
                crate::socket::recv(self.fd(), buf)
            }

            /// Switches the socket between blocking and non-blocking receives.
            ///
            /// # Errors
            /// [`Error::Call`] when `fcntl` fails.
            pub fn set_nonblocking(&self, nonblocking: bool) -> Result<()> {
                crate::socket::set_nonblocking(self.fd(), nonblocking)
            }

            /// Sets the socket's receive buffer (`SO_RCVBUF`, or with `force`
            /// `SO_RCVBUFFORCE`, which needs `CAP_NET_ADMIN` and ignores
            /// `net.core.rmem_max`). Returns the size the kernel reports afterwards (twice the
            /// request: it counts its bookkeeping).
            ///
            /// # Errors
            /// [`Error::NotPermitted`] for `force` without the capability.
            pub fn set_recv_buffer_size(&self, bytes: u32, force: bool) -> Result<u32> {
                crate::socket::set_recv_buffer_size(self.fd(), bytes, force)
            }
        }

        impl std::os::fd::AsFd for $handle {
            fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
                // SAFETY: the descriptor stays open as long as the handle, which the borrow
                // ties to.
                unsafe { std::os::fd::BorrowedFd::borrow_raw(self.fd()) }
            }
        }

        impl std::os::fd::AsRawFd for $handle {
            fn as_raw_fd(&self) -> std::os::fd::RawFd {
                self.fd()
            }
        }
    };
}
#[cfg(feature = "ffi")]
pub(crate) use socket_methods;

use std::mem::MaybeUninit;
#[cfg(feature = "ffi")]
use std::os::fd::{AsFd, OwnedFd};
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};

use crate::error::{Error, Result};

/// Receives one datagram into `buf` with `flags` added to `MSG_TRUNC`, retrying on `EINTR`,
/// and returns its full length (larger than `buf.len()` when it was cut).
pub(crate) fn recv_raw(fd: RawFd, buf: &mut [u8], flags: libc::c_int) -> std::io::Result<usize> {
    // SAFETY: `u8` and `MaybeUninit<u8>` have the same layout, and `recv_one_raw` only has the
    // kernel write received bytes into it, never uninitialised ones.
    let buf = unsafe { &mut *(buf as *mut [u8] as *mut [MaybeUninit<u8>]) };
    recv_one_raw(fd, buf, flags)
}

/// The most datagrams [`recv_batch_raw`] takes in one call.
pub(crate) const MAX_BATCH: usize = 64;

/// Receives up to `lens.len()` datagrams (at most [`MAX_BATCH`], at most `buf.len() / slot`)
/// with one `recvmmsg` call and `flags` added to `MSG_TRUNC`, retrying on `EINTR`: datagram
/// `i` lands at `buf[i * slot..]` and `lens[i]` is its **full** length (larger than `slot`
/// when it was cut). Returns how many came. `slot` must not be 0.
///
/// On success the first `min(lens[i], slot)` bytes of each slot `i < n` have been written by
/// the kernel (so they are initialised); nothing else in `buf` is touched.
pub(crate) fn recv_batch_raw(
    fd: RawFd,
    buf: &mut [MaybeUninit<u8>],
    slot: usize,
    lens: &mut [usize],
    flags: libc::c_int,
) -> std::io::Result<usize> {
    if lens.len() >= 2 && buf.len() / 2 >= slot {
        return recv_many_raw(fd, buf, slot, lens, flags);
    }
    // One slot (or none): a plain recv, cheaper than recvmmsg's message headers.
    let (Some(first), Some(room)) = (lens.first_mut(), buf.get_mut(..slot)) else {
        return Ok(0);
    };
    *first = recv_one_raw(fd, room, flags & !libc::MSG_WAITFORONE)?;
    Ok(1)
}

/// [`recv_batch_raw`] for two slots or more: one `recvmmsg`. Its own function, never inlined,
/// so that a single-slot receive does not set up (and probe) the stack frame of 64 message
/// headers.
#[inline(never)]
fn recv_many_raw(
    fd: RawFd,
    buf: &mut [MaybeUninit<u8>],
    slot: usize,
    lens: &mut [usize],
    flags: libc::c_int,
) -> std::io::Result<usize> {
    let n = lens.len().min(MAX_BATCH).min(buf.len() / slot);
    let mut iovs = [const { MaybeUninit::<libc::iovec>::uninit() }; MAX_BATCH];
    let mut msgs = [const { MaybeUninit::<libc::mmsghdr>::uninit() }; MAX_BATCH];
    for ((chunk, iov), msg) in buf
        .chunks_exact_mut(slot)
        .zip(&mut iovs)
        .zip(&mut msgs)
        .take(n)
    {
        let iov = iov.write(libc::iovec {
            iov_base: chunk.as_mut_ptr().cast(),
            iov_len: slot,
        });
        // SAFETY: an all-zero mmsghdr is a valid value (no name, no control data).
        let mut header: libc::mmsghdr = unsafe { std::mem::zeroed() };
        header.msg_hdr.msg_iov = iov;
        header.msg_hdr.msg_iovlen = 1;
        msg.write(header);
    }
    loop {
        // SAFETY: the first `n` entries of `msgs` are initialised; each points at one iovec of
        // `iovs` (alive and unmoved for the call), which covers slot `i` of `buf`: `slot`
        // bytes, valid for writes, disjoint from every other slot. The kernel writes only
        // into those slots and into the entries' `msg_len` and `msg_flags`.
        let rc = unsafe {
            libc::recvmmsg(
                fd,
                msgs.as_mut_ptr().cast(),
                n as libc::c_uint,
                libc::MSG_TRUNC | flags,
                std::ptr::null_mut(),
            )
        };
        if rc >= 0 {
            let got = rc as usize;
            for (len, msg) in lens.iter_mut().zip(&msgs).take(got) {
                // SAFETY: entry `i < got ≤ n` was initialised above.
                *len = unsafe { msg.assume_init_ref() }.msg_len as usize;
            }
            return Ok(got);
        }
        let err = std::io::Error::last_os_error();
        if err.kind() != std::io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

/// [`recv_raw`] into memory that need not be initialised; on success the first
/// `min(n, buf.len())` bytes of `buf` have been written by the kernel.
fn recv_one_raw(
    fd: RawFd,
    buf: &mut [MaybeUninit<u8>],
    flags: libc::c_int,
) -> std::io::Result<usize> {
    loop {
        // SAFETY: `buf` is valid for writes of `buf.len()` bytes for the duration of the call;
        // the kernel writes at most that many.
        let n = unsafe {
            libc::recv(
                fd,
                buf.as_mut_ptr().cast(),
                buf.len(),
                libc::MSG_TRUNC | flags,
            )
        };
        if n >= 0 {
            return Ok(n as usize);
        }
        let err = std::io::Error::last_os_error();
        if err.kind() != std::io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

/// Receives one datagram into `buf`, retrying on `EINTR`.
///
/// `MSG_TRUNC` makes the kernel report a datagram's real length, so a buffer that was too small
/// is an error ([`Error::Truncated`]) instead of a silently cut message.
#[cfg(feature = "ffi")]
pub(crate) fn recv(fd: RawFd, buf: &mut [u8]) -> Result<usize> {
    match recv_raw(fd, buf, 0) {
        Ok(n) if n > buf.len() => Err(Error::Truncated {
            needed: n,
            got: buf.len(),
        }),
        Ok(n) => Ok(n),
        // Non-blocking and nothing waiting: not the conntrack "try again" of
        // `Error::from_errno`, just an empty socket.
        Err(err) if err.raw_os_error() == Some(libc::EAGAIN) => Err(Error::Call {
            call: "recv",
            source: err,
        }),
        Err(err) => Err(Error::from_errno("recv", err)),
    }
}

/// Waits at most `timeout` (forever with `None`) for `fd` to become readable, retrying on
/// `EINTR` with the time left.
pub(crate) fn wait_readable(
    fd: RawFd,
    timeout: Option<std::time::Duration>,
) -> std::io::Result<bool> {
    // A timeout too large to add (Duration::MAX) waits forever.
    let deadline = timeout.and_then(|t| std::time::Instant::now().checked_add(t));
    loop {
        let ms = match deadline {
            None => -1,
            Some(deadline) => {
                let left = deadline.saturating_duration_since(std::time::Instant::now());
                // Round up so that a sub-millisecond wait does not spin.
                i32::try_from(left.as_micros().div_ceil(1000)).unwrap_or(i32::MAX)
            }
        };
        let mut pfd = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: `pfd` is one valid pollfd for the duration of the call.
        let n = unsafe { libc::poll(&mut pfd, 1, ms) };
        if n >= 0 {
            return Ok(n > 0);
        }
        let err = std::io::Error::last_os_error();
        if err.kind() != std::io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

/// Sets an integer socket option.
pub(crate) fn set_int_option(
    fd: RawFd,
    level: libc::c_int,
    option: libc::c_int,
    value: libc::c_int,
    call: &'static str,
) -> Result<()> {
    // SAFETY: `value` is a c_int that lives across the call, and its size is passed.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            level,
            option,
            (&value as *const libc::c_int).cast(),
            size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc < 0 {
        Err(Error::last(call))
    } else {
        Ok(())
    }
}

/// Sets or clears `O_NONBLOCK` on `fd`.
pub(crate) fn set_nonblocking(fd: RawFd, nonblocking: bool) -> Result<()> {
    let flags = file_flags(fd)?;
    let flags = if nonblocking {
        flags | libc::O_NONBLOCK
    } else {
        flags & !libc::O_NONBLOCK
    };
    // SAFETY: F_SETFL with an integer argument on a descriptor the caller owns.
    if unsafe { libc::fcntl(fd, libc::F_SETFL, flags) } < 0 {
        return Err(Error::last("fcntl(F_SETFL)"));
    }
    Ok(())
}

/// Whether `O_NONBLOCK` is set on `fd`.
pub(crate) fn is_nonblocking(fd: RawFd) -> Result<bool> {
    Ok(file_flags(fd)? & libc::O_NONBLOCK != 0)
}

/// The file status flags of `fd` (`F_GETFL`).
fn file_flags(fd: RawFd) -> Result<libc::c_int> {
    // SAFETY: F_GETFL on a descriptor the caller owns; no pointers involved.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if flags < 0 {
        return Err(Error::last("fcntl(F_GETFL)"));
    }
    Ok(flags)
}

/// Sets `SO_RCVTIMEO`: a blocking receive fails with `EAGAIN` after `micros` microseconds
/// (0: waits forever).
pub(crate) fn set_recv_timeout(fd: RawFd, micros: u64) -> Result<()> {
    let tv = libc::timeval {
        tv_sec: libc::time_t::try_from(micros / 1_000_000).unwrap_or(libc::time_t::MAX),
        // Below 1 000 000: fits.
        tv_usec: (micros % 1_000_000) as libc::suseconds_t,
    };
    // SAFETY: `tv` is a timeval that lives across the call, and its size is passed.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            (&tv as *const libc::timeval).cast(),
            size_of::<libc::timeval>() as libc::socklen_t,
        )
    };
    if rc < 0 {
        return Err(Error::last("setsockopt(SO_RCVTIMEO)"));
    }
    Ok(())
}

/// Sets the socket's receive buffer size: `SO_RCVBUFFORCE` when `force` (needs
/// `CAP_NET_ADMIN`, ignores `net.core.rmem_max`), else `SO_RCVBUF` (capped by `rmem_max`).
/// Returns the size the kernel reports afterwards (it doubles the request for bookkeeping).
pub(crate) fn set_recv_buffer_size(fd: RawFd, bytes: u32, force: bool) -> Result<u32> {
    let (option, call) = if force {
        (libc::SO_RCVBUFFORCE, "setsockopt(SO_RCVBUFFORCE)")
    } else {
        (libc::SO_RCVBUF, "setsockopt(SO_RCVBUF)")
    };
    let value = libc::c_int::try_from(bytes).unwrap_or(libc::c_int::MAX);
    set_int_option(fd, libc::SOL_SOCKET, option, value, call)?;
    let mut actual: libc::c_int = 0;
    let mut len = size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `actual` and `len` are valid for writes and `len` holds `actual`'s size.
    let rc = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            (&mut actual as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    if rc < 0 {
        return Err(Error::last("getsockopt(SO_RCVBUF)"));
    }
    Ok(u32::try_from(actual).unwrap_or(0))
}

/// Runs `open` on a short-lived thread that has entered the network namespace `netns`, so that
/// the netlink socket it creates belongs to that namespace. The calling thread is untouched.
///
/// `open` returns the new C handle as an address (raw pointers are not `Send`), 0 for failure
/// with `errno` set.
pub(crate) fn open_in_netns(
    netns: BorrowedFd<'_>,
    call: &'static str,
    open: fn() -> usize,
) -> Result<usize> {
    crate::netns::run_in(netns, || match open() {
        0 => Err(Error::last(call)),
        handle => Ok(handle),
    })?
}

/// Makes `handle_fd` (a C handle's socket) refer to `socket` instead, as python-netfilterqueue's
/// `sockfd` does: `dup3` replaces the descriptor in place, so the C handle keeps working with
/// the adopted socket (created, for example, in another network namespace). `socket` itself is
/// closed; the handle owns the duplicate.
#[cfg(feature = "ffi")]
pub(crate) fn adopt(handle_fd: RawFd, socket: OwnedFd) -> Result<()> {
    check_netfilter_socket(socket.as_fd())?;
    let fd = socket.as_raw_fd();
    // SAFETY: both descriptors are open; dup3 atomically closes `handle_fd` and makes it a
    // duplicate of `fd`, which the C handle goes on using under the same number.
    if unsafe { libc::dup3(fd, handle_fd, libc::O_CLOEXEC) } < 0 {
        return Err(Error::last("dup3"));
    }
    Ok(())
}

/// Fails unless `socket` is a `NETLINK_NETFILTER` socket.
pub(crate) fn check_netfilter_socket(socket: BorrowedFd<'_>) -> Result<()> {
    let fd = socket.as_raw_fd();
    let int_option = |option| {
        let mut value: libc::c_int = 0;
        let mut len = size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: `value` and `len` are valid for writes and `len` holds `value`'s size.
        let rc = unsafe {
            libc::getsockopt(
                fd,
                libc::SOL_SOCKET,
                option,
                (&mut value as *mut libc::c_int).cast(),
                &mut len,
            )
        };
        if rc < 0 {
            Err(Error::last("getsockopt"))
        } else {
            Ok(value)
        }
    };
    let (domain, protocol) = (int_option(libc::SO_DOMAIN)?, int_option(libc::SO_PROTOCOL)?);
    if domain != libc::AF_NETLINK || protocol != libc::NETLINK_NETFILTER {
        return Err(Error::Call {
            call: "adopt socket",
            source: std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("not a NETLINK_NETFILTER socket (domain {domain}, protocol {protocol})"),
            ),
        });
    }
    Ok(())
}

/// The number of messages the kernel dropped because the socket's receive buffer was full
/// (`SO_MEMINFO`, `SK_MEMINFO_DROPS`).
pub(crate) fn drops(fd: RawFd) -> Result<u32> {
    /// `SK_MEMINFO_DROPS` in `<linux/sock_diag.h>`.
    const SK_MEMINFO_DROPS: usize = 8;
    let mut info = [0u32; 16];
    let mut len = size_of_val(&info) as libc::socklen_t;
    // SAFETY: `info` and `len` are valid for writes and `len` holds `info`'s size; the kernel
    // writes at most `len` bytes.
    let rc = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_MEMINFO,
            info.as_mut_ptr().cast(),
            &mut len,
        )
    };
    if rc < 0 {
        return Err(Error::last("getsockopt(SO_MEMINFO)"));
    }
    Ok(info[SK_MEMINFO_DROPS])
}
