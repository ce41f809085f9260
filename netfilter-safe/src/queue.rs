//! NFQUEUE: the safe layer over libnetfilter_queue.
//!
//! A [`QueueHandle`] owns the netlink socket; [`QueueHandle::create_queue`] binds a queue
//! number with a callback and returns a [`Queue`] that borrows the handle. The caller owns the
//! receive loop: receive a datagram (with [`QueueHandle::recv`] or from any event loop watching
//! [`QueueHandle::fd`]) and pass it to [`QueueHandle::handle_packet`], which calls the queue's
//! callback with a [`QueueMessage`] view of every queued packet. Each packet waits in the kernel
//! until it gets a verdict: inside the callback ([`QueueMessage::set_verdict`]) or later, by
//! id, from the queue ([`Queue::set_verdict`]).
//!
//! ```no_run
//! use netfilter_safe::queue::{QueueHandle, Verdict};
//! use netfilter_safe::CopyMode;
//!
//! # fn main() -> Result<(), netfilter_safe::Error> {
//! let handle = QueueHandle::open()?;
//! let queue = handle.create_queue(0, |msg| {
//!     println!("packet {} of {} bytes", msg.id(), msg.payload().map_or(0, <[u8]>::len));
//!     let verdict = if msg.mark() == 0xbad { Verdict::Drop } else { Verdict::Accept };
//!     let _ = msg.set_verdict(verdict, None, None);
//! })?;
//! queue.set_mode(CopyMode::Packet, 0xffff)?;
//! let mut buf = vec![0u8; 0x10000 + 4096];
//! loop {
//!     let n = handle.recv(&mut buf)?;
//!     handle.handle_packet(&buf[..n])?;
//! }
//! # }
//! ```
//!
//! Views cannot escape the callback:
//!
//! ```compile_fail
//! use netfilter_safe::queue::QueueHandle;
//! let handle = QueueHandle::open().unwrap();
//! let mut kept = Vec::new();
//! let queue = handle.create_queue(0, |msg| kept.push(msg.payload())).unwrap();
//! ```
//!
//! and a queue cannot outlive its handle:
//!
//! ```compile_fail
//! use netfilter_safe::queue::QueueHandle;
//! let queue = {
//!     let handle = QueueHandle::open().unwrap();
//!     handle.create_queue(0, |_| {}).unwrap()
//! };
//! ```

use std::cell::{Cell, OnceCell};
use std::ffi::{c_char, c_int, c_void};
use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::os::fd::{BorrowedFd, RawFd};
use std::ptr::NonNull;
use std::time::SystemTime;

use netfilter_queue_sys as sys;

use crate::dispatch::Dispatch;
use crate::error::{Error, Result, check};
use crate::iftable::InterfaceTable;
use crate::socket;
use crate::types::{CopyMode, Family, Hook, system_time};
pub use crate::types::{MAX_VERDICT_PAYLOAD, QueueFlags, SkbInfo, Verdict};
use crate::view::nonzero;
use crate::wire::{self, RawAttr, Vlan, WireError};

/// A libnetfilter_queue handle: one `NETLINK_NETFILTER` socket. Closed on drop.
///
/// `Send` but not `Sync`: the C handle may move to another thread, but its state (sequence
/// numbers, queue table, dispatch state) must not be used from two threads at once.
#[derive(Debug)]
pub struct QueueHandle {
    raw: NonNull<sys::nfq_handle>,
    dispatch: Box<Dispatch>,
    _not_sync: PhantomData<Cell<()>>,
}

// SAFETY: libnetfilter_queue keeps no thread-local state for a handle: everything lives in the
// heap block `raw` points to, which moves with the `QueueHandle`. `Cell` keeps it `!Sync`.
unsafe impl Send for QueueHandle {}

impl QueueHandle {
    /// Opens a handle in the calling thread's network namespace (`nfq_open`).
    ///
    /// # Errors
    /// [`Error::Call`] when the socket cannot be created.
    pub fn open() -> Result<QueueHandle> {
        // SAFETY: nfq_open has no preconditions.
        let raw = unsafe { sys::nfq_open() };
        NonNull::new(raw)
            .map(Self::wrap)
            .ok_or_else(|| Error::last("nfq_open"))
    }

    /// Opens a handle whose socket lives in another network namespace: `netns` is an open
    /// descriptor of it (`/run/netns/NAME`, `/proc/PID/ns/net`). The socket is created on a
    /// short-lived thread that enters the namespace; the calling thread is not moved.
    ///
    /// # Errors
    /// [`Error::NotPermitted`] without `CAP_SYS_ADMIN` over that namespace, [`Error::Call`]
    /// when `netns` is not a network namespace or the socket cannot be created.
    pub fn open_in_netns(netns: BorrowedFd<'_>) -> Result<QueueHandle> {
        let addr = socket::open_in_netns(netns, "nfq_open", || {
            // SAFETY: nfq_open has no preconditions.
            unsafe { sys::nfq_open() as usize }
        })?;
        NonNull::new(addr as *mut sys::nfq_handle)
            .map(Self::wrap)
            .ok_or_else(|| Error::last("nfq_open"))
    }

    /// Takes ownership of a handle made by the C library.
    ///
    /// # Safety
    /// `raw` must come from `nfq_open` or `nfq_open_nfnl`, be closed by nobody else, and have
    /// no queues created through the C API.
    pub unsafe fn from_raw_owned(raw: NonNull<sys::nfq_handle>) -> QueueHandle {
        Self::wrap(raw)
    }

    fn wrap(raw: NonNull<sys::nfq_handle>) -> QueueHandle {
        QueueHandle {
            raw,
            dispatch: Box::default(),
            _not_sync: PhantomData,
        }
    }

    /// The C handle, for calls this layer does not wrap. It stays owned by `self`.
    pub fn as_raw(&self) -> *mut sys::nfq_handle {
        self.raw.as_ptr()
    }

    /// Binds the queue subsystem to `family` (`nfq_bind_pf`). Needed only on kernels before
    /// 3.8, where it makes nfnetlink_queue the namespace's queue handler for that family;
    /// newer kernels accept and ignore it.
    ///
    /// # Errors
    /// [`Error::NotPermitted`] without `CAP_NET_ADMIN`.
    pub fn bind_pf(&self, family: Family) -> Result<()> {
        // SAFETY: `raw` is a live handle.
        let rc = unsafe { sys::nfq_bind_pf(self.raw.as_ptr(), u8::from(family).into()) };
        check(rc, "nfq_bind_pf")
    }

    /// Undoes [`QueueHandle::bind_pf`] (`nfq_unbind_pf`). On kernels before 3.8 this unbinds
    /// the family's queue handler for the whole namespace, other programs' queues included.
    ///
    /// # Errors
    /// [`Error::NotPermitted`] without `CAP_NET_ADMIN`.
    pub fn unbind_pf(&self, family: Family) -> Result<()> {
        // SAFETY: `raw` is a live handle.
        let rc = unsafe { sys::nfq_unbind_pf(self.raw.as_ptr(), u8::from(family).into()) };
        check(rc, "nfq_unbind_pf")
    }

    /// Binds queue `num` with the closure called for each of its packets
    /// (`nfq_create_queue`). The queue is destroyed when the returned [`Queue`] is dropped;
    /// the kernel then drops the packets still waiting for a verdict.
    ///
    /// The closure gets a [`QueueMessage`] view that is valid only during the call; use
    /// [`QueueMessage::to_owned`] to keep a copy and [`Queue::set_verdict`] to give the verdict
    /// later. A panic in it is caught and returned by [`QueueHandle::handle_packet`].
    ///
    /// The kernel's default copy mode for a new queue is [`CopyMode::None`], under which
    /// nothing is delivered: call [`Queue::set_mode`] next.
    ///
    /// # Errors
    /// [`Error::NotPermitted`] when another socket has bound the queue or without
    /// `CAP_NET_ADMIN`, [`Error::Busy`] when this handle already has it.
    pub fn create_queue<'h, F>(&'h self, num: u16, f: F) -> Result<Queue<'h>>
    where
        F: FnMut(&QueueMessage<'_>) + 'h,
    {
        let mut callback = Box::new(Callback {
            f: Box::new(f),
            dispatch: &*self.dispatch,
        });
        let data: *mut Callback<'h> = &mut *callback;
        // SAFETY: `raw` is live; `data` points into a box that the returned `Queue` keeps (its
        // address never moves) until the queue is destroyed, after which the C library no
        // longer calls it.
        let raw =
            unsafe { sys::nfq_create_queue(self.raw.as_ptr(), num, Some(trampoline), data.cast()) };
        let raw = NonNull::new(raw).ok_or_else(|| match Error::last("nfq_create_queue") {
            Error::Call { source, .. } if source.raw_os_error() == Some(0) => Error::Busy {
                call: "nfq_create_queue",
            },
            other => other,
        })?;
        Ok(Queue {
            raw,
            handle: self,
            callback: ManuallyDrop::new(callback),
            num,
        })
    }

    /// The socket's descriptor (`nfq_fd`), for `poll`/`epoll` or an async reactor. It stays
    /// owned by the handle: never close it.
    pub fn fd(&self) -> RawFd {
        // SAFETY: `raw` is a live handle.
        unsafe { sys::nfq_fd(self.raw.as_ptr()) }
    }

    /// Dispatches a received datagram to the callbacks of this handle's queues, one message at
    /// a time (`nfq_handle_packet` per message). Returns the number of packet messages
    /// dispatched.
    ///
    /// # Errors
    /// - [`Error::CallbackPanic`] when a callback panicked: the panic was caught at the C
    ///   boundary, every later packet of the datagram was still dispatched (so none is left
    ///   without a chance of a verdict), and the payload is in the error (re-raise it with
    ///   [`Error::resume_panic`]);
    /// - [`Error::Malformed`] when the datagram's netlink framing is broken (messages before
    ///   the break were dispatched), or when a packet message fails the strict check of
    ///   [`crate::wire`]: that message is not dispatched (the C library would read past its
    ///   short attributes), every other one is;
    /// - an errno variant for an `NLMSG_ERROR` from the kernel inside the datagram (e.g. the
    ///   answer to a verdict for an id that does not exist);
    /// - [`Error::Busy`] when called from inside one of this handle's callbacks.
    pub fn handle_packet(&self, datagram: &[u8]) -> Result<usize> {
        let raw = self.raw.as_ptr();
        self.dispatch.run(
            "nfq_handle_packet",
            datagram,
            wire::QueuePacket::MSG_TYPE,
            |message| wire::QueuePacket::parse_bytes(message).map(drop),
            |message| {
                // SAFETY: `raw` is live; `message` is one complete netlink message, and
                // libnfnetlink only reads the buffer (nfnl_handle_packet parses attributes
                // into its own table), so the `*mut` cast never leads to a write. The return
                // value is ignored: it is negative only for a queue this handle does not have.
                unsafe {
                    sys::nfq_handle_packet(
                        raw,
                        message.as_ptr().cast_mut().cast::<c_char>(),
                        message.len() as c_int,
                    )
                };
            },
        )
    }
}

crate::socket::socket_methods!(QueueHandle);

impl Drop for QueueHandle {
    fn drop(&mut self) {
        // SAFETY: `raw` is live and closed exactly once; queues borrow the handle, so none is
        // left.
        unsafe { sys::nfq_close(self.raw.as_ptr()) };
    }
}

/// A boxed queue callback and the dispatch state of its handle; its address is what the C
/// library gets as `data`.
struct Callback<'h> {
    f: Box<dyn FnMut(&QueueMessage<'_>) + 'h>,
    dispatch: *const Dispatch,
}

/// A bound queue. Borrows its [`QueueHandle`]; destroyed on drop (`nfq_destroy_queue`).
///
/// Neither `Send` nor `Sync`: it borrows a handle that is not `Sync`.
pub struct Queue<'h> {
    raw: NonNull<sys::nfq_q_handle>,
    handle: &'h QueueHandle,
    callback: ManuallyDrop<Box<Callback<'h>>>,
    num: u16,
}

impl std::fmt::Debug for Queue<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Queue")
            .field("num", &self.num)
            .finish_non_exhaustive()
    }
}

impl Queue<'_> {
    /// The queue number.
    pub fn number(&self) -> u16 {
        self.num
    }

    /// The C queue handle, for calls this layer does not wrap. It stays owned by `self`.
    pub fn as_raw(&self) -> *mut sys::nfq_q_handle {
        self.raw.as_ptr()
    }

    /// Sets what is copied of each packet and at most how many bytes (`nfq_set_mode`). With
    /// [`CopyMode::Packet`] a range smaller than the packet truncates the payload; the message
    /// then carries the original length (`NFQA_CAP_LEN`).
    ///
    /// # Errors
    /// An errno variant when the kernel refuses.
    pub fn set_mode(&self, mode: CopyMode, range: u32) -> Result<()> {
        // SAFETY: `raw` is a live queue handle.
        let rc = unsafe { sys::nfq_set_mode(self.raw.as_ptr(), mode.raw(), range) };
        check(rc, "nfq_set_mode")
    }

    /// Sets how many packets may wait in the kernel for a verdict (`nfq_set_queue_maxlen`);
    /// beyond that they are dropped (or accepted with [`QueueFlags::FAIL_OPEN`]).
    ///
    /// # Errors
    /// An errno variant when the kernel refuses.
    pub fn set_maxlen(&self, packets: u32) -> Result<()> {
        // SAFETY: `raw` is a live queue handle.
        let rc = unsafe { sys::nfq_set_queue_maxlen(self.raw.as_ptr(), packets) };
        check(rc, "nfq_set_queue_maxlen")
    }

    /// Sets the flags in `mask` to their value in `flags` (`nfq_set_queue_flags`); flags
    /// outside `mask` keep their value. `set_flags(QueueFlags::GSO, QueueFlags::GSO)` sets GSO,
    /// `set_flags(QueueFlags::GSO, QueueFlags::empty())` clears it.
    ///
    /// # Errors
    /// [`Error::Unsupported`] when the kernel lacks a flag (e.g. [`QueueFlags::CONNTRACK`]
    /// without the conntrack glue).
    pub fn set_flags(&self, mask: QueueFlags, flags: QueueFlags) -> Result<()> {
        // SAFETY: `raw` is a live queue handle.
        let rc = unsafe { sys::nfq_set_queue_flags(self.raw.as_ptr(), mask.bits(), flags.bits()) };
        check(rc, "nfq_set_queue_flags")
    }

    /// Gives packet `id` its verdict, optionally with a new mark and a replacement payload
    /// (`nfq_set_verdict`, or `nfq_set_verdict2` with a mark). Usable inside the callback and
    /// at any later time, in any order.
    ///
    /// # Errors
    /// [`Error::OutOfRange`] for a payload over [`MAX_VERDICT_PAYLOAD`] bytes (nothing is
    /// sent); an errno variant when the message cannot be sent. The kernel's answer to an unknown id
    /// (`ENOENT`) arrives later, as an `NLMSG_ERROR` in a received datagram.
    pub fn set_verdict(
        &self,
        id: u32,
        verdict: Verdict,
        mark: Option<u32>,
        payload: Option<&[u8]>,
    ) -> Result<()> {
        verdict_on(self.raw.as_ptr(), id, verdict, mark, payload)
    }

    /// Gives every packet with an id up to and including `id` the same verdict, in one message
    /// (`nfq_set_verdict_batch`, or `nfq_set_verdict_batch2` with a mark).
    ///
    /// # Errors
    /// An errno variant when the message cannot be sent.
    pub fn set_verdict_batch(&self, id: u32, verdict: Verdict, mark: Option<u32>) -> Result<()> {
        let raw = self.raw.as_ptr();
        // SAFETY: `raw` is a live queue handle.
        let rc = unsafe {
            match mark {
                Some(mark) => sys::nfq_set_verdict_batch2(raw, id, verdict.raw(), mark),
                None => sys::nfq_set_verdict_batch(raw, id, verdict.raw()),
            }
        };
        check(rc, "nfq_set_verdict_batch")
    }

    /// Destroys the queue now, reporting a failure that drop would ignore.
    ///
    /// # Errors
    /// An errno variant when the kernel refuses.
    pub fn destroy(self) -> Result<()> {
        let mut this = ManuallyDrop::new(self);
        this.release()
    }

    fn release(&mut self) -> Result<()> {
        // SAFETY: `raw` is live and destroyed exactly once (callers never use it again).
        let rc = unsafe { sys::nfq_destroy_queue(self.raw.as_ptr()) };
        if !self.handle.dispatch.is_active() {
            // SAFETY: the callback is dropped exactly once, here, and the C library no longer
            // calls it. From inside a callback it may be the one running, so it is leaked
            // instead: safe, and the only case where it happens.
            unsafe { ManuallyDrop::drop(&mut self.callback) };
        }
        check(rc, "nfq_destroy_queue")
    }
}

impl Drop for Queue<'_> {
    fn drop(&mut self) {
        let _ = self.release();
    }
}

fn verdict_on(
    qh: *mut sys::nfq_q_handle,
    id: u32,
    verdict: Verdict,
    mark: Option<u32>,
    payload: Option<&[u8]>,
) -> Result<()> {
    let (len, data) = match payload {
        Some(bytes) if bytes.len() > MAX_VERDICT_PAYLOAD => {
            return Err(Error::OutOfRange {
                what: "verdict payload length",
                value: bytes.len() as u64,
                max: MAX_VERDICT_PAYLOAD as u64,
            });
        }
        Some(bytes) => (bytes.len() as u32, bytes.as_ptr()),
        None => (0, std::ptr::null()),
    };
    // libnetfilter_queue sends the payload with an iovec of NFA_ALIGN(len) bytes: it reads up
    // to 3 bytes past the end. Give it a copy padded to the alignment when `len` is not
    // aligned (found by valgrind).
    let padded: Vec<u8>;
    let data = match payload {
        Some(bytes) if bytes.len() % 4 != 0 => {
            padded = {
                let mut copy = Vec::with_capacity(bytes.len().next_multiple_of(4));
                copy.extend_from_slice(bytes);
                copy.resize(bytes.len().next_multiple_of(4), 0);
                copy
            };
            padded.as_ptr()
        }
        _ => data,
    };
    // SAFETY: `qh` is a live queue handle (the caller's borrow or the running callback keeps
    // it alive); `data` is valid for `len` bytes rounded up to a multiple of 4 (the caller's
    // aligned slice, or `padded`, alive until after the call), which is what the C library
    // reads and copies into the message.
    let rc = unsafe {
        match mark {
            Some(mark) => sys::nfq_set_verdict2(qh, id, verdict.raw(), mark, len, data),
            None => sys::nfq_set_verdict(qh, id, verdict.raw(), len, data),
        }
    };
    check(rc, "nfq_set_verdict")
}

unsafe extern "C" fn trampoline(
    qh: *mut sys::nfq_q_handle,
    nfmsg: *mut sys::nfgenmsg,
    nfad: *mut sys::nfq_data,
    data: *mut c_void,
) -> c_int {
    // SAFETY: `data` is the `Callback` registered in `create_queue`, alive while the queue
    // exists; the C library calls this only from `nfq_handle_packet`, on the handle's thread,
    // so no other reference to it exists during the call.
    let callback = unsafe { &mut *data.cast::<Callback<'_>>() };
    // SAFETY: the dispatch state is boxed in the handle, which outlives its queues.
    let dispatch = unsafe { &*callback.dispatch };
    let (Some(raw), Some(nfmsg)) = (NonNull::new(nfad), NonNull::new(nfmsg)) else {
        return 0;
    };
    // SAFETY: `raw` is valid during the callback; a non-null header points into the message.
    let Some(hdr) = (unsafe { sys::nfq_get_msg_packet_hdr(raw.as_ptr()).as_ref() }) else {
        // Without NFQA_PACKET_HDR there is no packet id, so no verdict is possible; the
        // kernel always sends it.
        return 0;
    };
    // SAFETY: `nfmsg` points into the message being dispatched, valid during the callback.
    let nfmsg = unsafe { *nfmsg.as_ptr() };
    let view = QueueMessage {
        raw,
        qh,
        id: u32::from_be(hdr.packet_id),
        hw_protocol: u16::from_be(hdr.hw_protocol),
        hook: hdr.hook,
        family: nfmsg.nfgen_family,
        queue: u16::from_be(nfmsg.res_id),
        // SAFETY: called from a callback that `Dispatch::run` invoked.
        message: unsafe { dispatch.message() },
        parsed: OnceCell::new(),
        _callback: PhantomData,
    };
    let f = &mut callback.f;
    dispatch.guard(|| f(&view));
    0
}

/// A queued packet, as the callback sees it: a view into the received datagram, valid only
/// during the callback. [`QueueMessage::to_owned`] copies it out.
pub struct QueueMessage<'a> {
    raw: NonNull<sys::nfq_data>,
    qh: *mut sys::nfq_q_handle,
    id: u32,
    hw_protocol: u16,
    hook: u8,
    family: u8,
    queue: u16,
    message: &'a [u8],
    parsed: OnceCell<Result<wire::QueuePacket<'a>, WireError>>,
    _callback: PhantomData<&'a mut ()>,
}

impl std::fmt::Debug for QueueMessage<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueueMessage")
            .field("id", &self.id)
            .field("queue", &self.queue)
            .field("hook", &self.hook())
            .field("payload_len", &self.payload().map(<[u8]>::len))
            .finish_non_exhaustive()
    }
}

impl<'a> QueueMessage<'a> {
    fn raw(&self) -> *mut sys::nfq_data {
        self.raw.as_ptr()
    }

    /// The packet id, which its verdict names.
    pub fn id(&self) -> u32 {
        self.id
    }

    /// The link-layer protocol (an ethertype such as `0x0800`).
    pub fn hw_protocol(&self) -> u16 {
        self.hw_protocol
    }

    /// The hook the packet was queued at.
    pub fn hook(&self) -> Hook {
        Hook::from(self.hook)
    }

    /// The family of the message (`nfgen_family`).
    pub fn family(&self) -> Family {
        Family::from(self.family)
    }

    /// The queue number (`res_id`).
    pub fn queue(&self) -> u16 {
        self.queue
    }

    /// The whole netlink message this view decodes, for parsing what the C library does not.
    pub fn raw_message(&self) -> &'a [u8] {
        self.message
    }

    /// The packet's mark (`nfq_get_nfmark`); 0 when it has none.
    pub fn mark(&self) -> u32 {
        // SAFETY: `raw` is valid during the callback.
        unsafe { sys::nfq_get_nfmark(self.raw()) }
    }

    /// When the packet was received (`nfq_get_timestamp`); absent for locally generated
    /// packets.
    pub fn timestamp(&self) -> Option<SystemTime> {
        let mut tv = sys::timeval::default();
        // SAFETY: `raw` is valid during the callback; `tv` is writable.
        if unsafe { sys::nfq_get_timestamp(self.raw(), &mut tv) } != 0 {
            return None;
        }
        system_time(tv.tv_sec, tv.tv_usec)
    }

    /// The input interface index (`nfq_get_indev`).
    pub fn indev(&self) -> Option<u32> {
        // SAFETY: `raw` is valid during the callback.
        nonzero(unsafe { sys::nfq_get_indev(self.raw()) })
    }

    /// The physical input interface of a bridge port (`nfq_get_physindev`).
    pub fn physindev(&self) -> Option<u32> {
        // SAFETY: `raw` is valid during the callback.
        nonzero(unsafe { sys::nfq_get_physindev(self.raw()) })
    }

    /// The output interface index (`nfq_get_outdev`).
    pub fn outdev(&self) -> Option<u32> {
        // SAFETY: `raw` is valid during the callback.
        nonzero(unsafe { sys::nfq_get_outdev(self.raw()) })
    }

    /// The physical output interface of a bridge port (`nfq_get_physoutdev`).
    pub fn physoutdev(&self) -> Option<u32> {
        // SAFETY: `raw` is valid during the callback.
        nonzero(unsafe { sys::nfq_get_physoutdev(self.raw()) })
    }

    /// The input interface's name, looked up in `table` (`nfq_get_indev_name`).
    pub fn indev_name(&self, table: &InterfaceTable) -> Option<String> {
        // Without the index the C getter writes "*"; `None` says so plainly.
        self.indev()?;
        table.lookup(|nlif, name| {
            // SAFETY: `nlif` is live, `raw` valid during the callback, `name` IFNAMSIZ bytes.
            unsafe { sys::nfq_get_indev_name(nlif, self.raw(), name) }
        })
    }

    /// The physical input interface's name (`nfq_get_physindev_name`).
    pub fn physindev_name(&self, table: &InterfaceTable) -> Option<String> {
        // Without the index the C getter writes "*"; `None` says so plainly.
        self.physindev()?;
        table.lookup(|nlif, name| {
            // SAFETY: `nlif` is live, `raw` valid during the callback, `name` IFNAMSIZ bytes.
            unsafe { sys::nfq_get_physindev_name(nlif, self.raw(), name) }
        })
    }

    /// The output interface's name (`nfq_get_outdev_name`).
    pub fn outdev_name(&self, table: &InterfaceTable) -> Option<String> {
        // Without the index the C getter writes "*"; `None` says so plainly.
        self.outdev()?;
        table.lookup(|nlif, name| {
            // SAFETY: `nlif` is live, `raw` valid during the callback, `name` IFNAMSIZ bytes.
            unsafe { sys::nfq_get_outdev_name(nlif, self.raw(), name) }
        })
    }

    /// The physical output interface's name (`nfq_get_physoutdev_name`).
    pub fn physoutdev_name(&self, table: &InterfaceTable) -> Option<String> {
        // Without the index the C getter writes "*"; `None` says so plainly.
        self.physoutdev()?;
        table.lookup(|nlif, name| {
            // SAFETY: `nlif` is live, `raw` valid during the callback, `name` IFNAMSIZ bytes.
            unsafe { sys::nfq_get_physoutdev_name(nlif, self.raw(), name) }
        })
    }

    /// The source hardware address, with its real length (`nfq_get_packet_hw`).
    pub fn hw_addr(&self) -> Option<&'a [u8]> {
        // SAFETY: `raw` is valid during the callback; a non-null result points into the
        // message, which lives for `'a`.
        let hw: &'a sys::nfqnl_msg_packet_hw =
            unsafe { sys::nfq_get_packet_hw(self.raw()).as_ref() }?;
        let len = usize::from(u16::from_be(hw.hw_addrlen)).min(hw.hw_addr.len());
        Some(&hw.hw_addr[..len])
    }

    /// The copied packet, from the network header on (`nfq_get_payload`); `None` in
    /// [`CopyMode::Meta`].
    pub fn payload(&self) -> Option<&'a [u8]> {
        let mut ptr: *mut u8 = std::ptr::null_mut();
        // SAFETY: `raw` is valid during the callback; `ptr` is writable.
        let len = unsafe { sys::nfq_get_payload(self.raw(), &mut ptr) };
        if len < 0 || ptr.is_null() {
            return None;
        }
        // SAFETY: the C library points `ptr` at `len` bytes of the NFQA_PAYLOAD value inside
        // the message, which lives for `'a`.
        Some(unsafe { std::slice::from_raw_parts(ptr, len as usize) })
    }

    /// What the kernel says about the packet buffer (`nfq_get_skbinfo`).
    pub fn skbinfo(&self) -> SkbInfo {
        // SAFETY: `raw` is valid during the callback.
        SkbInfo::from_bits_retain(unsafe { sys::nfq_get_skbinfo(self.raw()) })
    }

    /// The uid of the sending socket, with [`QueueFlags::UID_GID`] (`nfq_get_uid`).
    pub fn uid(&self) -> Option<u32> {
        let mut uid = 0;
        // SAFETY: `raw` is valid during the callback; `uid` is writable. Returns 1 when set.
        (unsafe { sys::nfq_get_uid(self.raw(), &mut uid) } > 0).then_some(uid)
    }

    /// The gid of the sending socket, with [`QueueFlags::UID_GID`] (`nfq_get_gid`).
    pub fn gid(&self) -> Option<u32> {
        let mut gid = 0;
        // SAFETY: `raw` is valid during the callback; `gid` is writable. Returns 1 when set.
        (unsafe { sys::nfq_get_gid(self.raw(), &mut gid) } > 0).then_some(gid)
    }

    /// The security context, with [`QueueFlags::SECCTX`] (`nfq_get_secctx`), as the kernel
    /// sent it (usually NUL-terminated text).
    pub fn secctx(&self) -> Option<&'a [u8]> {
        let mut ptr: *mut u8 = std::ptr::null_mut();
        // SAFETY: `raw` is valid during the callback; `ptr` is writable.
        let len = unsafe { sys::nfq_get_secctx(self.raw(), &mut ptr) };
        if len <= 0 || ptr.is_null() {
            return None;
        }
        // SAFETY: `ptr` points at `len` bytes of NFQA_SECCTX inside the message (`'a`).
        Some(unsafe { std::slice::from_raw_parts(ptr, len as usize) })
    }

    /// Every attribute of the message, parsed strictly by this crate (not by the C library):
    /// the ones libnetfilter_queue drops or has no getter for included. Parsed on first use.
    ///
    /// # Errors
    /// [`Error::Malformed`] when an attribute has the wrong size or the framing is broken.
    pub fn attributes(&self) -> Result<&wire::QueuePacket<'a>> {
        self.parsed
            .get_or_init(|| wire::QueuePacket::parse_bytes(self.message))
            .as_ref()
            .map_err(|err| Error::Malformed(err.clone()))
    }

    /// The packet's length before the copy range cut it (`NFQA_CAP_LEN`); present only when
    /// the payload was truncated.
    ///
    /// # Errors
    /// [`Error::Malformed`], see [`QueueMessage::attributes`].
    pub fn cap_len(&self) -> Result<Option<u32>> {
        Ok(self.attributes()?.cap_len)
    }

    /// The conntrack entry (`NFQA_CT`, a nest of `CTA_*` attributes), with
    /// [`QueueFlags::CONNTRACK`].
    ///
    /// # Errors
    /// [`Error::Malformed`], see [`QueueMessage::attributes`].
    pub fn ct(&self) -> Result<Option<&[u8]>> {
        Ok(self.attributes()?.ct.as_deref())
    }

    /// The conntrack state (`NFQA_CT_INFO`, `enum ip_conntrack_info`).
    ///
    /// # Errors
    /// [`Error::Malformed`], see [`QueueMessage::attributes`].
    pub fn ct_info(&self) -> Result<Option<u32>> {
        Ok(self.attributes()?.ct_info)
    }

    /// The VLAN tag (`NFQA_VLAN`), for tagged packets.
    ///
    /// # Errors
    /// [`Error::Malformed`], see [`QueueMessage::attributes`].
    pub fn vlan(&self) -> Result<Option<Vlan>> {
        Ok(self.attributes()?.vlan)
    }

    /// The link-layer header (`NFQA_L2HDR`), sent for the bridge family.
    ///
    /// # Errors
    /// [`Error::Malformed`], see [`QueueMessage::attributes`].
    pub fn l2hdr(&self) -> Result<Option<&[u8]>> {
        Ok(self.attributes()?.l2hdr.as_deref())
    }

    /// `skb->priority` (`NFQA_PRIORITY`, Linux 5.19+; omitted when 0).
    ///
    /// # Errors
    /// [`Error::Malformed`], see [`QueueMessage::attributes`].
    pub fn priority(&self) -> Result<Option<u32>> {
        Ok(self.attributes()?.priority)
    }

    /// The net_cls class id of the sending socket (`NFQA_CGROUP_CLASSID`, Linux 6.4+).
    ///
    /// # Errors
    /// [`Error::Malformed`], see [`QueueMessage::attributes`].
    pub fn cgroup_classid(&self) -> Result<Option<u32>> {
        Ok(self.attributes()?.cgroup_classid)
    }

    /// Attributes this crate does not know (a newer kernel's), raw, in the order they came.
    ///
    /// # Errors
    /// [`Error::Malformed`], see [`QueueMessage::attributes`].
    pub fn unknown_attributes(&self) -> Result<&[RawAttr<'a>]> {
        Ok(&self.attributes()?.unknown)
    }

    /// Gives this packet its verdict now; see [`Queue::set_verdict`].
    ///
    /// # Errors
    /// An errno variant when the message cannot be sent.
    pub fn set_verdict(
        &self,
        verdict: Verdict,
        mark: Option<u32>,
        payload: Option<&[u8]>,
    ) -> Result<()> {
        verdict_on(self.qh, self.id, verdict, mark, payload)
    }

    /// Renders the packet as XML (`nfq_snprintf_xml`) with the `NFQ_XML_*` parts in `flags`
    /// (`u32::MAX` for all).
    ///
    /// # Errors
    /// [`Error::Call`] when the C library fails.
    pub fn to_xml(&self, flags: u32) -> Result<String> {
        crate::xml::render("nfq_snprintf_xml", |buf, len| {
            // SAFETY: `buf` is writable for `len` bytes; `raw` is valid during the callback.
            unsafe { sys::nfq_snprintf_xml(buf, len, self.raw(), flags as c_int) }
        })
    }

    /// Copies every field into an owned [`OwnedQueueMessage`].
    pub fn to_owned(&self) -> OwnedQueueMessage {
        OwnedQueueMessage {
            id: self.id,
            queue: self.queue,
            family: self.family(),
            hw_protocol: self.hw_protocol,
            hook: self.hook(),
            mark: self.mark(),
            timestamp: self.timestamp(),
            indev: self.indev(),
            physindev: self.physindev(),
            outdev: self.outdev(),
            physoutdev: self.physoutdev(),
            hw_addr: self.hw_addr().map(<[u8]>::to_vec),
            payload: self.payload().map(<[u8]>::to_vec),
            skbinfo: self.skbinfo(),
            uid: self.uid(),
            gid: self.gid(),
            secctx: self.secctx().map(<[u8]>::to_vec),
            attributes: self.attributes().ok().map(|a| a.clone().into_owned()),
        }
    }
}

/// An owned copy of a [`QueueMessage`]: every field, decoded. Give its verdict with
/// [`Queue::set_verdict`] and its `id`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct OwnedQueueMessage {
    /// See [`QueueMessage::id`].
    pub id: u32,
    /// See [`QueueMessage::queue`].
    pub queue: u16,
    /// See [`QueueMessage::family`].
    pub family: Family,
    /// See [`QueueMessage::hw_protocol`].
    pub hw_protocol: u16,
    /// See [`QueueMessage::hook`].
    pub hook: Hook,
    /// See [`QueueMessage::mark`].
    pub mark: u32,
    /// See [`QueueMessage::timestamp`].
    pub timestamp: Option<SystemTime>,
    /// See [`QueueMessage::indev`].
    pub indev: Option<u32>,
    /// See [`QueueMessage::physindev`].
    pub physindev: Option<u32>,
    /// See [`QueueMessage::outdev`].
    pub outdev: Option<u32>,
    /// See [`QueueMessage::physoutdev`].
    pub physoutdev: Option<u32>,
    /// See [`QueueMessage::hw_addr`].
    pub hw_addr: Option<Vec<u8>>,
    /// See [`QueueMessage::payload`].
    pub payload: Option<Vec<u8>>,
    /// See [`QueueMessage::skbinfo`].
    pub skbinfo: SkbInfo,
    /// See [`QueueMessage::uid`].
    pub uid: Option<u32>,
    /// See [`QueueMessage::gid`].
    pub gid: Option<u32>,
    /// See [`QueueMessage::secctx`].
    pub secctx: Option<Vec<u8>>,
    /// See [`QueueMessage::attributes`]; `None` when the message did not parse.
    pub attributes: Option<wire::QueuePacket<'static>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_encode_as_the_kernel_expects() {
        assert_eq!(Verdict::Drop.raw(), 0);
        assert_eq!(Verdict::Accept.raw(), 1);
        assert_eq!(Verdict::Repeat.raw(), 4);
        assert_eq!(Verdict::Stop.raw(), 5);
        assert_eq!(
            Verdict::Queue {
                num: 7,
                bypass: false
            }
            .raw(),
            0x0007_0003
        );
        assert_eq!(
            Verdict::Queue {
                num: 0xffff,
                bypass: true
            }
            .raw(),
            0xffff_8003
        );
    }
}
