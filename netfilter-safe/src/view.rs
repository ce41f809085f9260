//! Small helpers shared by the callback views of queues and log groups.

/// `None` for the C libraries' "absent" value 0 (interface indexes start at 1).
pub(crate) fn nonzero(value: u32) -> Option<u32> {
    (value != 0).then_some(value)
}

/// How many bytes of `message` there are from `ptr` to its end (0 when `ptr` is outside it).
pub(crate) fn bytes_left(ptr: *const u8, message: &[u8]) -> usize {
    let start = message.as_ptr() as usize;
    let end = start + message.len();
    let at = ptr as usize;
    if (start..=end).contains(&at) {
        end - at
    } else {
        0
    }
}
