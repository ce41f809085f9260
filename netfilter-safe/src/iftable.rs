//! Interface names for the `*_name` getters: libnfnetlink's interface table (`nlif_*`).

use std::ffi::{CStr, c_char, c_int};
use std::os::fd::RawFd;
use std::ptr::NonNull;

use netfilter_queue_sys as sys;

use crate::error::{Error, Result, check};

/// A table of the network namespace's interfaces, kept by libnfnetlink from rtnetlink
/// (`nlif_open` + `nlif_query`). Closed on drop.
///
/// The table is filled when opened; interfaces created later appear after
/// [`InterfaceTable::refresh`], or after [`InterfaceTable::catch`] when [`InterfaceTable::fd`]
/// is readable (it carries rtnetlink link notifications).
///
/// `Send` but not `Sync`, like the handles.
#[derive(Debug)]
pub struct InterfaceTable {
    raw: NonNull<sys::nlif_handle>,
    _not_sync: std::marker::PhantomData<std::cell::Cell<()>>,
}

// SAFETY: the table lives in the heap block `raw` points to and has no thread affinity.
unsafe impl Send for InterfaceTable {}

impl InterfaceTable {
    /// Opens the table in the calling thread's network namespace and fills it.
    ///
    /// # Errors
    /// [`Error::Call`] when the rtnetlink socket cannot be opened or queried.
    pub fn open() -> Result<InterfaceTable> {
        // SAFETY: nlif_open has no preconditions.
        let raw =
            NonNull::new(unsafe { sys::nlif_open() }).ok_or_else(|| Error::last("nlif_open"))?;
        let table = InterfaceTable {
            raw,
            _not_sync: std::marker::PhantomData,
        };
        table.refresh()?;
        Ok(table)
    }

    /// Re-reads every interface (`nlif_query`).
    ///
    /// # Errors
    /// [`Error::Call`] when the query fails.
    pub fn refresh(&self) -> Result<()> {
        // SAFETY: `raw` is live.
        check(unsafe { sys::nlif_query(self.raw.as_ptr()) }, "nlif_query")
    }

    /// The rtnetlink socket that carries link notifications (`nlif_fd`).
    pub fn fd(&self) -> RawFd {
        // SAFETY: `raw` is live.
        unsafe { sys::nlif_fd(self.raw.as_ptr()) }
    }

    /// Applies waiting link notifications (`nlif_catch`); call when [`InterfaceTable::fd`] is
    /// readable.
    ///
    /// # Errors
    /// [`Error::Call`] when receiving fails.
    pub fn catch(&self) -> Result<()> {
        // SAFETY: `raw` is live.
        check(unsafe { sys::nlif_catch(self.raw.as_ptr()) }, "nlif_catch")
    }

    /// The name of interface `index` (`nlif_index2name`); `None` for an unknown index or 0.
    pub fn name(&self, index: u32) -> Option<String> {
        if index == 0 {
            return None;
        }
        self.lookup(|nlif, name| {
            // SAFETY: `nlif` is live and `name` has room for IFNAMSIZ bytes.
            unsafe { sys::nlif_index2name(nlif, index, name) }
        })
    }

    /// Runs a C getter that writes an interface name into an `IFNAMSIZ` buffer and returns a
    /// negative value when it has none.
    pub(crate) fn lookup(
        &self,
        get: impl FnOnce(*mut sys::nlif_handle, *mut c_char) -> c_int,
    ) -> Option<String> {
        let mut name = [0 as c_char; libc::IFNAMSIZ];
        if get(self.raw.as_ptr(), name.as_mut_ptr()) < 0 {
            return None;
        }
        name[libc::IFNAMSIZ - 1] = 0;
        // SAFETY: `name` is NUL-terminated (its last byte was just set to 0).
        let text = unsafe { CStr::from_ptr(name.as_ptr()) };
        (!text.is_empty()).then(|| text.to_string_lossy().into_owned())
    }
}

impl Drop for InterfaceTable {
    fn drop(&mut self) {
        // SAFETY: `raw` is live and closed exactly once.
        unsafe { sys::nlif_close(self.raw.as_ptr()) };
    }
}
