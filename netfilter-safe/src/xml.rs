//! XML rendering through the C libraries' `snprintf_xml` functions.

use std::ffi::{c_char, c_int};

use crate::error::{Error, Result};

/// Calls `write(buf, len)` (an `snprintf`-like C function that returns the length it needed)
/// with a buffer that grows until the whole text fits.
pub(crate) fn render(
    call: &'static str,
    mut write: impl FnMut(*mut c_char, usize) -> c_int,
) -> Result<String> {
    let mut buf = vec![0u8; 1024];
    loop {
        let needed = write(buf.as_mut_ptr().cast(), buf.len());
        let needed = usize::try_from(needed).map_err(|_| Error::last(call))?;
        if needed < buf.len() {
            buf.truncate(needed);
            return Ok(String::from_utf8_lossy(&buf).into_owned());
        }
        buf.resize(needed + 1, 0);
    }
}
