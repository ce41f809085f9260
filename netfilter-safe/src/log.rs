//! NFLOG: the safe layer over libnetfilter_log.
//!
//! A [`LogHandle`] owns the netlink socket; [`LogHandle::bind_group`] binds a log group and
//! returns a [`LogGroup`] that borrows the handle. The caller owns the receive loop: receive a
//! datagram (with [`LogHandle::recv`] or from any event loop watching [`LogHandle::fd`]) and
//! pass it to [`LogHandle::handle_packet`], which calls each group's callback with a
//! [`LogData`] view of every logged packet.
//!
//! ```no_run
//! use netfilter_safe::log::{LogFlags, LogHandle};
//! use netfilter_safe::CopyMode;
//!
//! # fn main() -> Result<(), netfilter_safe::Error> {
//! let handle = LogHandle::open()?;
//! let mut group = handle.bind_group(5)?;
//! group.set_mode(CopyMode::Packet, 0xffff)?;
//! group.set_flags(LogFlags::SEQ)?;
//! group.set_callback(|packet| {
//!     println!("{:?} {:?} {} bytes", packet.prefix(), packet.seq(), packet.payload().map_or(0, <[u8]>::len));
//! })?;
//! let mut buf = vec![0u8; 0x10000];
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
//! use netfilter_safe::log::{LogData, LogHandle};
//! let handle = LogHandle::open().unwrap();
//! let mut group = handle.bind_group(5).unwrap();
//! let mut kept: Vec<&[u8]> = Vec::new();
//! group.set_callback(|packet: &LogData<'_>| kept.push(packet.payload().unwrap())).unwrap();
//! ```
//!
//! and a group cannot outlive its handle:
//!
//! ```compile_fail
//! use netfilter_safe::log::LogHandle;
//! let group = {
//!     let handle = LogHandle::open().unwrap();
//!     handle.bind_group(5).unwrap()
//! };
//! ```

use std::cell::{Cell, OnceCell};
use std::ffi::{CStr, c_char, c_int, c_void};
use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::os::fd::{BorrowedFd, RawFd};
use std::ptr::NonNull;
use std::time::SystemTime;

use netfilter_log_sys as sys;

use crate::dispatch::Dispatch;
use crate::error::{Error, Result, check};
use crate::socket;
pub use crate::types::LogFlags;
use crate::types::{CopyMode, Family, Hook, system_time};
use crate::view::{bytes_left, nonzero};
use crate::wire::{self, RawAttr, Vlan, WireError};

/// A libnetfilter_log handle: one `NETLINK_NETFILTER` socket. Closed on drop.
///
/// `Send` but not `Sync`: the C handle may move to another thread, but its state (the socket's
/// sequence numbers, the group table, the dispatch state) must not be used from two threads at
/// once.
#[derive(Debug)]
pub struct LogHandle {
    raw: NonNull<sys::nflog_handle>,
    dispatch: Box<Dispatch>,
    _not_sync: PhantomData<Cell<()>>,
}

// SAFETY: libnetfilter_log keeps no thread-local state for a handle: everything lives in the
// heap block `raw` points to, which moves with the `LogHandle`. `Cell` keeps it `!Sync`.
unsafe impl Send for LogHandle {}

impl LogHandle {
    /// Opens a handle in the calling thread's network namespace (`nflog_open`).
    ///
    /// # Errors
    /// [`Error::Call`] when the socket cannot be created.
    pub fn open() -> Result<LogHandle> {
        // SAFETY: nflog_open has no preconditions.
        let raw = unsafe { sys::nflog_open() };
        NonNull::new(raw)
            .map(Self::wrap)
            .ok_or_else(|| Error::last("nflog_open"))
    }

    /// Opens a handle whose socket lives in another network namespace: `netns` is an open
    /// descriptor of it (`/run/netns/NAME`, `/proc/PID/ns/net`). The socket is created on a
    /// short-lived thread that enters the namespace; the calling thread is not moved.
    ///
    /// # Errors
    /// [`Error::NotPermitted`] without `CAP_SYS_ADMIN` over that namespace, [`Error::Call`]
    /// when `netns` is not a network namespace or the socket cannot be created.
    pub fn open_in_netns(netns: BorrowedFd<'_>) -> Result<LogHandle> {
        let addr = socket::open_in_netns(netns, "nflog_open", || {
            // SAFETY: nflog_open has no preconditions.
            unsafe { sys::nflog_open() as usize }
        })?;
        NonNull::new(addr as *mut sys::nflog_handle)
            .map(Self::wrap)
            .ok_or_else(|| Error::last("nflog_open"))
    }

    /// Takes ownership of a handle made by the C library.
    ///
    /// # Safety
    /// `raw` must come from `nflog_open` or `nflog_open_nfnl`, be closed by nobody else, and
    /// have no groups bound through the C API.
    pub unsafe fn from_raw_owned(raw: NonNull<sys::nflog_handle>) -> LogHandle {
        Self::wrap(raw)
    }

    fn wrap(raw: NonNull<sys::nflog_handle>) -> LogHandle {
        LogHandle {
            raw,
            dispatch: Box::default(),
            _not_sync: PhantomData,
        }
    }

    /// The C handle, for calls this layer does not wrap. It stays owned by `self`.
    pub fn as_raw(&self) -> *mut sys::nflog_handle {
        self.raw.as_ptr()
    }

    /// Makes this socket's subsystem the namespace's logger for `family`
    /// (`nflog_bind_pf`, `NFULNL_CFG_CMD_PF_BIND`).
    ///
    /// Note that this changes the **namespace-wide default logger** for that family (what
    /// `nf_log` uses for packets logged without a specific backend, e.g. by some conntrack
    /// helpers); it is not needed to receive packets of a group on current kernels.
    ///
    /// # Errors
    /// [`Error::NotPermitted`] without `CAP_NET_ADMIN`.
    pub fn bind_pf(&self, family: Family) -> Result<()> {
        // SAFETY: `raw` is a live handle.
        let rc = unsafe { sys::nflog_bind_pf(self.raw.as_ptr(), u8::from(family).into()) };
        check(rc, "nflog_bind_pf")
    }

    /// Undoes [`LogHandle::bind_pf`] (`nflog_unbind_pf`): the family's default logger is
    /// unset for the whole namespace.
    ///
    /// # Errors
    /// [`Error::NotPermitted`] without `CAP_NET_ADMIN`.
    pub fn unbind_pf(&self, family: Family) -> Result<()> {
        // SAFETY: `raw` is a live handle.
        let rc = unsafe { sys::nflog_unbind_pf(self.raw.as_ptr(), u8::from(family).into()) };
        check(rc, "nflog_unbind_pf")
    }

    /// Binds log group `group` (`nflog_bind_group`). The group is unbound when the returned
    /// [`LogGroup`] is dropped.
    ///
    /// # Errors
    /// [`Error::NotPermitted`] when another socket has bound the group or without
    /// `CAP_NET_ADMIN`, [`Error::Busy`] when this handle already has it.
    pub fn bind_group(&self, group: u16) -> Result<LogGroup<'_>> {
        // SAFETY: `raw` is a live handle.
        let raw = unsafe { sys::nflog_bind_group(self.raw.as_ptr(), group) };
        let raw = NonNull::new(raw).ok_or_else(|| Error::last("nflog_bind_group"))?;
        Ok(LogGroup {
            raw,
            handle: self,
            callback: None,
            group,
        })
    }

    /// The socket's descriptor (`nflog_fd`), for `poll`/`epoll` or an async reactor. It stays
    /// owned by the handle: never close it.
    pub fn fd(&self) -> RawFd {
        // SAFETY: `raw` is a live handle.
        unsafe { sys::nflog_fd(self.raw.as_ptr()) }
    }

    /// Dispatches a received datagram to the callbacks of this handle's groups, one message at
    /// a time (`nflog_handle_packet` per message). Returns the number of log messages
    /// dispatched.
    ///
    /// # Errors
    /// - [`Error::CallbackPanic`] when a callback panicked: the panic was caught at the C
    ///   boundary, every later message of the datagram was still dispatched, and the payload
    ///   is in the error (re-raise it with [`Error::resume_panic`]);
    /// - [`Error::Malformed`] when the datagram's netlink framing is broken (messages before
    ///   the break were dispatched), or when a packet message fails the strict check of
    ///   [`crate::wire`]: that message is not dispatched (the C library would read past its
    ///   short attributes), every other one is;
    /// - an errno variant for an `NLMSG_ERROR` from the kernel inside the datagram;
    /// - [`Error::Busy`] when called from inside one of this handle's callbacks.
    pub fn handle_packet(&self, datagram: &[u8]) -> Result<usize> {
        let raw = self.raw.as_ptr();
        self.dispatch.run(
            "nflog_handle_packet",
            datagram,
            wire::LogPacket::MSG_TYPE,
            |message| wire::LogPacket::parse_bytes(message).map(drop),
            |message| {
                // SAFETY: `raw` is live; `message` is one complete netlink message, and
                // libnfnetlink only reads the buffer (nfnl_handle_packet parses attributes
                // into its own table), so the `*mut` cast never leads to a write. The return
                // value is ignored: it is negative only for a group without a callback.
                unsafe {
                    sys::nflog_handle_packet(
                        raw,
                        message.as_ptr().cast_mut().cast::<c_char>(),
                        message.len() as c_int,
                    )
                };
            },
        )
    }
}

crate::socket::socket_methods!(LogHandle);

impl Drop for LogHandle {
    fn drop(&mut self) {
        // SAFETY: `raw` is live and closed exactly once; groups borrow the handle, so none is
        // left.
        unsafe { sys::nflog_close(self.raw.as_ptr()) };
    }
}

/// A boxed group callback and the dispatch state of its handle; its address is what the C
/// library gets as `data`.
struct Callback<'h> {
    f: Box<dyn FnMut(&LogData<'_>) + 'h>,
    dispatch: *const Dispatch,
}

/// A bound log group. Borrows its [`LogHandle`]; unbound on drop (`nflog_unbind_group`).
///
/// Neither `Send` nor `Sync`: it borrows a handle that is not `Sync`.
pub struct LogGroup<'h> {
    raw: NonNull<sys::nflog_g_handle>,
    handle: &'h LogHandle,
    callback: Option<Box<Callback<'h>>>,
    group: u16,
}

impl std::fmt::Debug for LogGroup<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogGroup")
            .field("group", &self.group)
            .field("has_callback", &self.callback.is_some())
            .finish()
    }
}

impl<'h> LogGroup<'h> {
    /// The group number.
    pub fn number(&self) -> u16 {
        self.group
    }

    /// The C group handle, for calls this layer does not wrap. It stays owned by `self`.
    pub fn as_raw(&self) -> *mut sys::nflog_g_handle {
        self.raw.as_ptr()
    }

    /// Sets what is copied of each packet and at most how many bytes (`nflog_set_mode`).
    ///
    /// # Errors
    /// An errno variant when the kernel refuses.
    pub fn set_mode(&self, mode: CopyMode, range: u32) -> Result<()> {
        // SAFETY: `raw` is a live group handle.
        let rc = unsafe { sys::nflog_set_mode(self.raw.as_ptr(), mode.raw(), range) };
        check(rc, "nflog_set_mode")
    }

    /// Sets how long the kernel may hold messages before sending a partial batch, in
    /// hundredths of a second (`nflog_set_timeout`).
    ///
    /// # Errors
    /// An errno variant when the kernel refuses.
    pub fn set_timeout(&self, hundredths: u32) -> Result<()> {
        // SAFETY: `raw` is a live group handle.
        let rc = unsafe { sys::nflog_set_timeout(self.raw.as_ptr(), hundredths) };
        check(rc, "nflog_set_timeout")
    }

    /// Sets how many messages the kernel batches into one datagram (`nflog_set_qthresh`).
    ///
    /// # Errors
    /// An errno variant when the kernel refuses.
    pub fn set_qthresh(&self, messages: u32) -> Result<()> {
        // SAFETY: `raw` is a live group handle.
        let rc = unsafe { sys::nflog_set_qthresh(self.raw.as_ptr(), messages) };
        check(rc, "nflog_set_qthresh")
    }

    /// Sets the size of the kernel's per-group buffer, in bytes (`nflog_set_nlbufsiz`). The
    /// kernel silently ignores values outside its limits; it also flushes when full.
    ///
    /// # Errors
    /// An errno variant when the kernel refuses.
    pub fn set_nlbufsiz(&self, bytes: u32) -> Result<()> {
        // SAFETY: `raw` is a live group handle.
        let rc = unsafe { sys::nflog_set_nlbufsiz(self.raw.as_ptr(), bytes) };
        check(rc, "nflog_set_nlbufsiz")
    }

    /// Sets the group's flags (`nflog_set_flags`), replacing the previous ones.
    ///
    /// # Errors
    /// [`Error::Unsupported`] for [`LogFlags::CONNTRACK`] on a kernel without conntrack glue.
    pub fn set_flags(&self, flags: LogFlags) -> Result<()> {
        // SAFETY: `raw` is a live group handle.
        let rc = unsafe { sys::nflog_set_flags(self.raw.as_ptr(), flags.bits()) };
        check(rc, "nflog_set_flags")
    }

    /// Sets the closure called for each packet logged to this group
    /// (`nflog_callback_register`), replacing any previous one.
    ///
    /// The closure gets a [`LogData`] view that is valid only during the call; use
    /// [`LogData::to_owned`] to keep a copy. A panic in it is caught and returned by
    /// [`LogHandle::handle_packet`].
    ///
    /// # Errors
    /// [`Error::Busy`] when called from inside a callback of the same handle.
    pub fn set_callback<F>(&mut self, f: F) -> Result<()>
    where
        F: FnMut(&LogData<'_>) + 'h,
    {
        if self.handle.dispatch.is_active() {
            return Err(Error::Busy {
                call: "LogGroup::set_callback",
            });
        }
        let mut callback = Box::new(Callback {
            f: Box::new(f),
            dispatch: &*self.handle.dispatch,
        });
        let data: *mut Callback<'h> = &mut *callback;
        // SAFETY: `raw` is live; `data` points into a box that `self` keeps (its address never
        // moves) until the callback is replaced or the group is unbound, after which the C
        // library no longer calls it.
        let rc = unsafe {
            sys::nflog_callback_register(self.raw.as_ptr(), Some(trampoline), data.cast())
        };
        check(rc, "nflog_callback_register")?;
        self.callback = Some(callback);
        Ok(())
    }

    /// Unbinds the group now, reporting a failure that drop would ignore.
    ///
    /// # Errors
    /// An errno variant when the kernel refuses.
    pub fn unbind(self) -> Result<()> {
        let mut this = ManuallyDrop::new(self);
        this.release()
    }

    fn release(&mut self) -> Result<()> {
        // SAFETY: `raw` is live and unbound exactly once (callers never use it again).
        let rc = unsafe { sys::nflog_unbind_group(self.raw.as_ptr()) };
        let callback = self.callback.take();
        if self.handle.dispatch.is_active() {
            // Dropped from inside a callback: the closure may be the one running, so it cannot
            // be freed now. Leaking it is safe; this is the only case where it happens.
            std::mem::forget(callback);
        }
        check(rc, "nflog_unbind_group")
    }
}

impl Drop for LogGroup<'_> {
    fn drop(&mut self) {
        let _ = self.release();
    }
}

unsafe extern "C" fn trampoline(
    _gh: *mut sys::nflog_g_handle,
    nfmsg: *mut sys::nfgenmsg,
    nfad: *mut sys::nflog_data,
    data: *mut c_void,
) -> c_int {
    // SAFETY: `data` is the `Callback` registered in `set_callback`, alive while registered;
    // the C library calls this only from `nflog_handle_packet`, on the handle's thread, so no
    // other reference to it exists during the call.
    let callback = unsafe { &mut *data.cast::<Callback<'_>>() };
    // SAFETY: the dispatch state is boxed in the handle, which outlives its groups.
    let dispatch = unsafe { &*callback.dispatch };
    let (Some(raw), Some(nfmsg)) = (NonNull::new(nfad), NonNull::new(nfmsg)) else {
        return 0;
    };
    // SAFETY: `nfmsg` points into the message being dispatched, valid during the callback.
    let nfmsg = unsafe { *nfmsg.as_ptr() };
    let view = LogData {
        raw,
        family: nfmsg.nfgen_family,
        group: u16::from_be(nfmsg.res_id),
        // SAFETY: called from a callback that `Dispatch::run` invoked.
        message: unsafe { dispatch.message() },
        parsed: OnceCell::new(),
        _callback: PhantomData,
    };
    let f = &mut callback.f;
    dispatch.guard(|| f(&view));
    0
}

/// A logged packet, as the callback sees it: a view into the received datagram, valid only
/// during the callback. [`LogData::to_owned`] copies it out.
pub struct LogData<'a> {
    raw: NonNull<sys::nflog_data>,
    family: u8,
    group: u16,
    message: &'a [u8],
    parsed: OnceCell<Result<wire::LogPacket<'a>, WireError>>,
    _callback: PhantomData<&'a mut ()>,
}

impl std::fmt::Debug for LogData<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogData")
            .field("family", &self.family())
            .field("group", &self.group)
            .field("prefix", &self.prefix())
            .field("payload_len", &self.payload().map(<[u8]>::len))
            .finish_non_exhaustive()
    }
}

impl<'a> LogData<'a> {
    fn raw(&self) -> *mut sys::nflog_data {
        self.raw.as_ptr()
    }

    /// The family of the message (`nfgen_family`): the protocol family of the rule that logged.
    pub fn family(&self) -> Family {
        Family::from(self.family)
    }

    /// The log group (`res_id`).
    pub fn group(&self) -> u16 {
        self.group
    }

    /// The whole netlink message this view decodes, for parsing what the C library does not.
    pub fn raw_message(&self) -> &'a [u8] {
        self.message
    }

    /// The link-layer protocol (an ethertype such as `0x0800`), from `NFULA_PACKET_HDR`
    /// (`nflog_get_msg_packet_hdr`).
    pub fn hw_protocol(&self) -> Option<u16> {
        // SAFETY: `raw` is valid during the callback; a non-null header points into it.
        let hdr = unsafe { sys::nflog_get_msg_packet_hdr(self.raw()).as_ref() }?;
        Some(u16::from_be(hdr.hw_protocol))
    }

    /// The hook the packet was logged at (`nflog_get_msg_packet_hdr`).
    pub fn hook(&self) -> Option<Hook> {
        // SAFETY: `raw` is valid during the callback; a non-null header points into it.
        let hdr = unsafe { sys::nflog_get_msg_packet_hdr(self.raw()).as_ref() }?;
        Some(Hook::from(hdr.hook))
    }

    /// The ARPHRD_* type of the device (`nflog_get_hwtype`, `NFULA_HWTYPE`); 0 when absent.
    pub fn hwtype(&self) -> u16 {
        // SAFETY: `raw` is valid during the callback.
        unsafe { sys::nflog_get_hwtype(self.raw()) }
    }

    /// The link-layer header (`nflog_get_msg_packet_hwhdr`, `NFULA_HWHEADER`) with its length
    /// (`NFULA_HWLEN`).
    pub fn hw_header(&self) -> Option<&'a [u8]> {
        // SAFETY: `raw` is valid during the callback.
        let (ptr, len) = unsafe {
            (
                sys::nflog_get_msg_packet_hwhdr(self.raw()),
                sys::nflog_get_msg_packet_hwhdrlen(self.raw()),
            )
        };
        if ptr.is_null() {
            return None;
        }
        let available = bytes_left(ptr.cast(), self.message);
        // SAFETY: `ptr` points at the NFULA_HWHEADER value inside the message, and at most the
        // bytes left in the message are read.
        Some(unsafe {
            std::slice::from_raw_parts(ptr.cast::<u8>(), usize::from(len).min(available))
        })
    }

    /// The source hardware address, with its real length (`nflog_get_packet_hw`).
    pub fn hw_addr(&self) -> Option<&'a [u8]> {
        // SAFETY: `raw` is valid during the callback; a non-null result points into it.
        let hw = unsafe { sys::nflog_get_packet_hw(self.raw()).as_ref() }?;
        let len = usize::from(u16::from_be(hw.hw_addrlen)).min(hw.hw_addr.len());
        // SAFETY: `hw` lives in the message, valid for `'a`.
        let hw: &'a sys::nfulnl_msg_packet_hw = unsafe { &*(hw as *const _) };
        Some(&hw.hw_addr[..len])
    }

    /// The packet's mark (`nflog_get_nfmark`); 0 when it has none.
    pub fn mark(&self) -> u32 {
        // SAFETY: `raw` is valid during the callback.
        unsafe { sys::nflog_get_nfmark(self.raw()) }
    }

    /// When the packet was received (`nflog_get_timestamp`); the kernel omits it for locally
    /// generated packets.
    pub fn timestamp(&self) -> Option<SystemTime> {
        let mut tv = sys::timeval::default();
        // SAFETY: `raw` is valid during the callback; `tv` is writable.
        if unsafe { sys::nflog_get_timestamp(self.raw(), &mut tv) } != 0 {
            return None;
        }
        system_time(tv.tv_sec, tv.tv_usec)
    }

    /// The input interface index (`nflog_get_indev`).
    pub fn indev(&self) -> Option<u32> {
        // SAFETY: `raw` is valid during the callback.
        nonzero(unsafe { sys::nflog_get_indev(self.raw()) })
    }

    /// The physical input interface of a bridge port (`nflog_get_physindev`).
    pub fn physindev(&self) -> Option<u32> {
        // SAFETY: `raw` is valid during the callback.
        nonzero(unsafe { sys::nflog_get_physindev(self.raw()) })
    }

    /// The output interface index (`nflog_get_outdev`).
    pub fn outdev(&self) -> Option<u32> {
        // SAFETY: `raw` is valid during the callback.
        nonzero(unsafe { sys::nflog_get_outdev(self.raw()) })
    }

    /// The physical output interface of a bridge port (`nflog_get_physoutdev`).
    pub fn physoutdev(&self) -> Option<u32> {
        // SAFETY: `raw` is valid during the callback.
        nonzero(unsafe { sys::nflog_get_physoutdev(self.raw()) })
    }

    /// The copied packet, from the network header on (`nflog_get_payload`); `None` in
    /// [`CopyMode::Meta`].
    pub fn payload(&self) -> Option<&'a [u8]> {
        let mut ptr: *mut c_char = std::ptr::null_mut();
        // SAFETY: `raw` is valid during the callback; `ptr` is writable.
        let len = unsafe { sys::nflog_get_payload(self.raw(), &mut ptr) };
        if len < 0 || ptr.is_null() {
            return None;
        }
        // SAFETY: the C library points `ptr` at `len` bytes of the NFULA_PAYLOAD value inside
        // the message, which lives for `'a`.
        Some(unsafe { std::slice::from_raw_parts(ptr.cast::<u8>(), len as usize) })
    }

    /// The rule's log prefix (`nflog_get_prefix`).
    pub fn prefix(&self) -> Option<&'a CStr> {
        // SAFETY: `raw` is valid during the callback.
        let ptr = unsafe { sys::nflog_get_prefix(self.raw()) };
        if ptr.is_null() {
            return None;
        }
        // SAFETY: the kernel NUL-terminates NFULA_PREFIX (the wire parser checks it too), and
        // the string lives in the message for `'a`.
        Some(unsafe { CStr::from_ptr(ptr) })
    }

    /// The uid of the socket that sent the packet, for local traffic (`nflog_get_uid`).
    pub fn uid(&self) -> Option<u32> {
        self.optional_u32(sys::nflog_get_uid)
    }

    /// The gid of the socket that sent the packet, for local traffic (`nflog_get_gid`).
    pub fn gid(&self) -> Option<u32> {
        self.optional_u32(sys::nflog_get_gid)
    }

    /// The group-local sequence number, with [`LogFlags::SEQ`] (`nflog_get_seq`).
    pub fn seq(&self) -> Option<u32> {
        self.optional_u32(sys::nflog_get_seq)
    }

    /// The namespace-wide sequence number, with [`LogFlags::SEQ_GLOBAL`]
    /// (`nflog_get_seq_global`).
    pub fn seq_global(&self) -> Option<u32> {
        self.optional_u32(sys::nflog_get_seq_global)
    }

    /// The conntrack id, with [`LogFlags::CONNTRACK`] (`nflog_get_ctid`).
    pub fn ctid(&self) -> Option<u32> {
        self.optional_u32(sys::nflog_get_ctid)
    }

    fn optional_u32(
        &self,
        get: unsafe extern "C" fn(*mut sys::nflog_data, *mut u32) -> c_int,
    ) -> Option<u32> {
        let mut value = 0;
        // SAFETY: `raw` is valid during the callback; `value` is writable. Every getter
        // passed here returns 0 on success and leaves `value` alone otherwise.
        (unsafe { get(self.raw(), &mut value) } == 0).then_some(value)
    }

    /// Every attribute of the message, parsed strictly by this crate (not by the C library):
    /// the ones libnetfilter_log drops included. Parsed on first use.
    ///
    /// # Errors
    /// [`Error::Malformed`] when an attribute has the wrong size or the framing is broken.
    pub fn attributes(&self) -> Result<&wire::LogPacket<'a>> {
        self.parsed
            .get_or_init(|| wire::LogPacket::parse_bytes(self.message))
            .as_ref()
            .map_err(|err| Error::Malformed(err.clone()))
    }

    /// The conntrack entry (`NFULA_CT`, a nest of `CTA_*` attributes), with
    /// [`LogFlags::CONNTRACK`].
    ///
    /// # Errors
    /// [`Error::Malformed`], see [`LogData::attributes`].
    pub fn ct(&self) -> Result<Option<&[u8]>> {
        Ok(self.attributes()?.ct.as_deref())
    }

    /// The conntrack state (`NFULA_CT_INFO`, `enum ip_conntrack_info`).
    ///
    /// # Errors
    /// [`Error::Malformed`], see [`LogData::attributes`].
    pub fn ct_info(&self) -> Result<Option<u32>> {
        Ok(self.attributes()?.ct_info)
    }

    /// The VLAN tag (`NFULA_VLAN`), for tagged packets.
    ///
    /// # Errors
    /// [`Error::Malformed`], see [`LogData::attributes`].
    pub fn vlan(&self) -> Result<Option<Vlan>> {
        Ok(self.attributes()?.vlan)
    }

    /// The link-layer header (`NFULA_L2HDR`), sent for the bridge family.
    ///
    /// # Errors
    /// [`Error::Malformed`], see [`LogData::attributes`].
    pub fn l2hdr(&self) -> Result<Option<&[u8]>> {
        Ok(self.attributes()?.l2hdr.as_deref())
    }

    /// Attributes this crate does not know (a newer kernel's), raw, in the order they came.
    ///
    /// # Errors
    /// [`Error::Malformed`], see [`LogData::attributes`].
    pub fn unknown_attributes(&self) -> Result<&[RawAttr<'a>]> {
        Ok(&self.attributes()?.unknown)
    }

    /// Renders the packet as XML (`nflog_snprintf_xml`) with the `NFLOG_XML_*` parts in
    /// `flags` (`u32::MAX` for all).
    ///
    /// # Errors
    /// [`Error::Call`] when the C library fails.
    pub fn to_xml(&self, flags: u32) -> Result<String> {
        crate::xml::render("nflog_snprintf_xml", |buf, len| {
            // SAFETY: `buf` is writable for `len` bytes; `raw` is valid during the callback.
            unsafe { sys::nflog_snprintf_xml(buf, len, self.raw(), flags as c_int) }
        })
    }

    /// Copies every field into an owned [`OwnedLogData`].
    pub fn to_owned(&self) -> OwnedLogData {
        OwnedLogData {
            family: self.family(),
            group: self.group,
            hw_protocol: self.hw_protocol(),
            hook: self.hook(),
            hwtype: self.hwtype(),
            hw_header: self.hw_header().map(<[u8]>::to_vec),
            hw_addr: self.hw_addr().map(<[u8]>::to_vec),
            mark: self.mark(),
            timestamp: self.timestamp(),
            indev: self.indev(),
            physindev: self.physindev(),
            outdev: self.outdev(),
            physoutdev: self.physoutdev(),
            payload: self.payload().map(<[u8]>::to_vec),
            prefix: self.prefix().map(CStr::to_bytes).map(<[u8]>::to_vec),
            uid: self.uid(),
            gid: self.gid(),
            seq: self.seq(),
            seq_global: self.seq_global(),
            ctid: self.ctid(),
            attributes: self.attributes().ok().map(|a| a.clone().into_owned()),
        }
    }
}

/// An owned copy of a [`LogData`]: every field, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct OwnedLogData {
    /// See [`LogData::family`].
    pub family: Family,
    /// See [`LogData::group`].
    pub group: u16,
    /// See [`LogData::hw_protocol`].
    pub hw_protocol: Option<u16>,
    /// See [`LogData::hook`].
    pub hook: Option<Hook>,
    /// See [`LogData::hwtype`].
    pub hwtype: u16,
    /// See [`LogData::hw_header`].
    pub hw_header: Option<Vec<u8>>,
    /// See [`LogData::hw_addr`].
    pub hw_addr: Option<Vec<u8>>,
    /// See [`LogData::mark`].
    pub mark: u32,
    /// See [`LogData::timestamp`].
    pub timestamp: Option<SystemTime>,
    /// See [`LogData::indev`].
    pub indev: Option<u32>,
    /// See [`LogData::physindev`].
    pub physindev: Option<u32>,
    /// See [`LogData::outdev`].
    pub outdev: Option<u32>,
    /// See [`LogData::physoutdev`].
    pub physoutdev: Option<u32>,
    /// See [`LogData::payload`].
    pub payload: Option<Vec<u8>>,
    /// See [`LogData::prefix`]: the bytes without the NUL.
    pub prefix: Option<Vec<u8>>,
    /// See [`LogData::uid`].
    pub uid: Option<u32>,
    /// See [`LogData::gid`].
    pub gid: Option<u32>,
    /// See [`LogData::seq`].
    pub seq: Option<u32>,
    /// See [`LogData::seq_global`].
    pub seq_global: Option<u32>,
    /// See [`LogData::ctid`].
    pub ctid: Option<u32>,
    /// See [`LogData::attributes`]; `None` when the message did not parse.
    pub attributes: Option<wire::LogPacket<'static>>,
}
