//! Netlink framing: `struct nlmsghdr`, `struct nfgenmsg`, message iteration, and the writer
//! that every emitter in this module goes through.

use core::mem::{offset_of, size_of};

use super::uapi::{self, nfgenmsg, nlmsghdr};

use super::error::{Part, WireError};

/// Netlink messages and attributes are aligned to this many bytes (`NLMSG_ALIGNTO`,
/// `NLA_ALIGNTO`).
pub const ALIGNTO: usize = 4;

/// Size of `struct nlmsghdr` (`NLMSG_HDRLEN`).
pub const NLMSG_HDRLEN: usize = size_of::<nlmsghdr>();

/// Size of `struct nfgenmsg`.
pub const NFGENMSG_LEN: usize = size_of::<nfgenmsg>();

/// `nlmsg_type` of a message that carries nothing (`NLMSG_NOOP`).
pub const NLMSG_NOOP: u16 = libc::NLMSG_NOOP as u16;
/// `nlmsg_type` of an error or acknowledgement (`NLMSG_ERROR`).
pub const NLMSG_ERROR: u16 = libc::NLMSG_ERROR as u16;
/// `nlmsg_type` that ends a multi-message dump or batch (`NLMSG_DONE`).
pub const NLMSG_DONE: u16 = libc::NLMSG_DONE as u16;
/// `nlmsg_type` telling that data was lost (`NLMSG_OVERRUN`).
pub const NLMSG_OVERRUN: u16 = libc::NLMSG_OVERRUN as u16;
/// Types below this are netlink control messages (`NLMSG_MIN_TYPE`).
pub const NLMSG_MIN_TYPE: u16 = libc::NLMSG_MIN_TYPE as u16;

/// nfnetlink subsystem of conntrack (`NFNL_SUBSYS_CTNETLINK`), for `nfnl_msg_type`.
pub const NFNL_SUBSYS_CTNETLINK: u32 = uapi::NFNL_SUBSYS_CTNETLINK;
/// nfnetlink subsystem of NFQUEUE (`NFNL_SUBSYS_QUEUE`).
pub const NFNL_SUBSYS_QUEUE: u32 = uapi::NFNL_SUBSYS_QUEUE;
/// nfnetlink subsystem of NFLOG (`NFNL_SUBSYS_ULOG`).
pub const NFNL_SUBSYS_ULOG: u32 = uapi::NFNL_SUBSYS_ULOG;

/// Rounds `len` up to the netlink alignment (`NLMSG_ALIGN`, `NLA_ALIGN`).
///
/// Saturates instead of overflowing for lengths within 3 of `usize::MAX`.
#[must_use]
pub const fn align(len: usize) -> usize {
    match len.checked_add(ALIGNTO - 1) {
        Some(v) => v & !(ALIGNTO - 1),
        None => usize::MAX & !(ALIGNTO - 1),
    }
}

/// The `nlmsg_type` of an nfnetlink message: subsystem in the high byte, message in the low one
/// (`NFNL_SUBSYS_*` and, e.g., `NFQNL_MSG_*`).
#[must_use]
pub const fn nfnl_msg_type(subsys: u32, msg: u32) -> u16 {
    (((subsys & 0xff) << 8) | (msg & 0xff)) as u16
}

/// The fields of a `struct nlmsghdr`, in host byte order as on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct NlMsgHeader {
    /// `nlmsg_len`: the length of the message, header included, without trailing padding.
    pub len: u32,
    /// `nlmsg_type`.
    pub msg_type: u16,
    /// `nlmsg_flags` (`NLM_F_*`).
    pub flags: u16,
    /// `nlmsg_seq`.
    pub seq: u32,
    /// `nlmsg_pid`: the port id of the sender (0 for the kernel).
    pub pid: u32,
}

impl NlMsgHeader {
    /// Reads a header from the first [`NLMSG_HDRLEN`] bytes of `buf`.
    ///
    /// # Errors
    /// [`WireError::Truncated`] when `buf` is shorter than a header.
    pub fn parse(buf: &[u8]) -> Result<Self, WireError> {
        let truncated = || WireError::Truncated {
            part: Part::MessageHeader,
            needed: NLMSG_HDRLEN,
            got: buf.len(),
        };
        let hdr = buf.get(..NLMSG_HDRLEN).ok_or_else(truncated)?;
        Ok(NlMsgHeader::read(hdr))
    }

    /// The fields at the start of `b`, zeros where it is too short.
    #[inline]
    fn read(b: &[u8]) -> Self {
        NlMsgHeader {
            len: ne_u32(b, offset_of!(nlmsghdr, nlmsg_len)),
            msg_type: ne_u16(b, offset_of!(nlmsghdr, nlmsg_type)),
            flags: ne_u16(b, offset_of!(nlmsghdr, nlmsg_flags)),
            seq: ne_u32(b, offset_of!(nlmsghdr, nlmsg_seq)),
            pid: ne_u32(b, offset_of!(nlmsghdr, nlmsg_pid)),
        }
    }

    /// The header as its 16 wire bytes.
    #[must_use]
    pub fn to_bytes(&self) -> [u8; NLMSG_HDRLEN] {
        let mut b = [0u8; NLMSG_HDRLEN];
        put(
            &mut b,
            offset_of!(nlmsghdr, nlmsg_len),
            &self.len.to_ne_bytes(),
        );
        put(
            &mut b,
            offset_of!(nlmsghdr, nlmsg_type),
            &self.msg_type.to_ne_bytes(),
        );
        put(
            &mut b,
            offset_of!(nlmsghdr, nlmsg_flags),
            &self.flags.to_ne_bytes(),
        );
        put(
            &mut b,
            offset_of!(nlmsghdr, nlmsg_seq),
            &self.seq.to_ne_bytes(),
        );
        put(
            &mut b,
            offset_of!(nlmsghdr, nlmsg_pid),
            &self.pid.to_ne_bytes(),
        );
        b
    }

    /// The nfnetlink subsystem (`NFNL_SUBSYS_*`): the high byte of the type.
    #[must_use]
    pub fn subsys(&self) -> u8 {
        (self.msg_type >> 8) as u8
    }

    /// The message within the subsystem (`NFQNL_MSG_*`, `NFULNL_MSG_*`): the low byte.
    #[must_use]
    pub fn subsys_msg(&self) -> u8 {
        (self.msg_type & 0xff) as u8
    }

    /// Whether this is a netlink control message (`NLMSG_NOOP`, `_ERROR`, `_DONE`,
    /// `_OVERRUN`, or another type below `NLMSG_MIN_TYPE`).
    #[must_use]
    pub fn is_control(&self) -> bool {
        self.msg_type < NLMSG_MIN_TYPE
    }
}

/// A checked view of one netlink message inside a datagram: `nlmsg_len` is at least a header
/// and fits in the buffer. Just the message's bytes (two words): the header is read when asked
/// for, so that a view moves in registers.
///
/// ```
/// use netfilter_safe::wire::{NlMsg, WireError};
/// use netfilter_testkit::synth::LogPacketBuilder;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let bytes = LogPacketBuilder::ipv4(3).to_bytes()?;
/// let msg = NlMsg::new_checked(&bytes)?;
/// assert_eq!(msg.header().len as usize, bytes.len());
/// let (nfgen, _attrs) = msg.nfnetlink()?;
/// assert_eq!(nfgen.res_id, 3); // the group, in host order
/// // Fewer bytes than a netlink header: refused by the checked view.
/// assert!(matches!(NlMsg::new_checked(&bytes[..8]), Err(WireError::Truncated { needed: 16, got: 8, .. })));
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NlMsg<'a> {
    bytes: &'a [u8],
}

impl<'a> NlMsg<'a> {
    /// Checks the message at the start of `buf` and returns a view of it (without the padding
    /// that may follow it).
    ///
    /// # Errors
    /// [`WireError::Truncated`] when `buf` is shorter than a netlink header;
    /// [`WireError::BadLength`] when `nlmsg_len` is below 16 or past the end of `buf`.
    #[inline]
    pub fn new_checked(buf: &'a [u8]) -> Result<Self, WireError> {
        let Some(head) = buf.first_chunk::<NLMSG_HDRLEN>() else {
            return Err(WireError::Truncated {
                part: Part::MessageHeader,
                needed: NLMSG_HDRLEN,
                got: buf.len(),
            });
        };
        let len = ne_u32(head, offset_of!(nlmsghdr, nlmsg_len)) as usize;
        let bytes = buf
            .get(..len)
            .filter(|_| len >= NLMSG_HDRLEN)
            .ok_or(WireError::BadLength {
                part: Part::Message,
                len,
                min: NLMSG_HDRLEN,
                available: buf.len(),
            })?;
        Ok(NlMsg { bytes })
    }

    /// The netlink header.
    #[inline]
    #[must_use]
    pub fn header(&self) -> NlMsgHeader {
        NlMsgHeader::read(self.bytes)
    }

    /// `Ok` when the message's type is `expected`.
    ///
    /// # Errors
    /// [`WireError::UnexpectedMessage`] for another type.
    #[inline]
    pub fn expect_type(&self, expected: u16) -> Result<(), WireError> {
        let found = self.header().msg_type;
        if found == expected {
            Ok(())
        } else {
            Err(WireError::UnexpectedMessage { found, expected })
        }
    }

    /// The whole message, header included, `nlmsg_len` bytes.
    #[inline]
    #[must_use]
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// What follows the netlink header.
    #[must_use]
    pub fn payload(&self) -> &'a [u8] {
        self.bytes.get(NLMSG_HDRLEN..).unwrap_or_default()
    }

    /// Splits an nfnetlink message into its `nfgenmsg` and the attribute bytes after it.
    ///
    /// # Errors
    /// [`WireError::Truncated`] when the message is too short for an `nfgenmsg`.
    pub fn nfnetlink(&self) -> Result<(NfGenMsg, &'a [u8]), WireError> {
        let payload = self.payload();
        let nfgen = NfGenMsg::parse(payload)?;
        Ok((nfgen, payload.get(NFGENMSG_LEN..).unwrap_or_default()))
    }
}

/// Iterates over the netlink messages of one datagram.
///
/// Each message starts at the aligned end of the previous one (`NLMSG_NEXT`); the last may end
/// without padding. A framing error (a truncated header, a length below 16 or past the end) is
/// returned once and ends the iteration, since nothing after it can be located.
#[derive(Debug, Clone)]
pub struct NlMsgIter<'a> {
    rest: &'a [u8],
    failed: bool,
}

impl<'a> NlMsgIter<'a> {
    /// Iterates over the messages in `datagram`.
    #[must_use]
    pub fn new(datagram: &'a [u8]) -> Self {
        NlMsgIter {
            rest: datagram,
            failed: false,
        }
    }
}

impl<'a> Iterator for NlMsgIter<'a> {
    type Item = Result<NlMsg<'a>, WireError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.rest.is_empty() {
            return None;
        }
        match NlMsg::new_checked(self.rest) {
            Ok(msg) => {
                let step = align(msg.bytes.len()).min(self.rest.len());
                self.rest = self.rest.get(step..).unwrap_or_default();
                Some(Ok(msg))
            }
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

impl core::iter::FusedIterator for NlMsgIter<'_> {}

/// `struct nfgenmsg`: the header that follows `nlmsghdr` in every nfnetlink message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct NfGenMsg {
    /// `nfgen_family`: the protocol family (`NFPROTO_*`: 2 IPv4, 10 IPv6, 7 bridge, 5 netdev,
    /// 0 unspecified).
    pub family: u8,
    /// `version` (`NFNETLINK_V0`).
    pub version: u8,
    /// `res_id`, in host order here (big-endian on the wire): the queue or group number.
    pub res_id: u16,
}

impl NfGenMsg {
    /// Reads an `nfgenmsg` from the start of `buf`.
    ///
    /// # Errors
    /// [`WireError::Truncated`] when `buf` is shorter than 4 bytes.
    pub fn parse(buf: &[u8]) -> Result<Self, WireError> {
        let b = buf.get(..NFGENMSG_LEN).ok_or(WireError::Truncated {
            part: Part::NfGenMsg,
            needed: NFGENMSG_LEN,
            got: buf.len(),
        })?;
        Ok(NfGenMsg {
            family: byte(b, offset_of!(nfgenmsg, nfgen_family)),
            version: byte(b, offset_of!(nfgenmsg, version)),
            res_id: be_u16(b, offset_of!(nfgenmsg, res_id)),
        })
    }

    /// The 4 wire bytes.
    #[must_use]
    pub fn to_bytes(&self) -> [u8; NFGENMSG_LEN] {
        let mut b = [0u8; NFGENMSG_LEN];
        put(&mut b, offset_of!(nfgenmsg, nfgen_family), &[self.family]);
        put(&mut b, offset_of!(nfgenmsg, version), &[self.version]);
        put(
            &mut b,
            offset_of!(nfgenmsg, res_id),
            &self.res_id.to_be_bytes(),
        );
        b
    }
}

/// Everything in the two headers of an nfnetlink message except what the message type fixes
/// (`nlmsg_type`) or the emitter computes (`nlmsg_len`).
///
/// The default (all zero) is what the kernel puts in the packet messages it sends, apart from
/// `family` and `res_id`: `nfnl_msg_put(skb, 0, 0, type, 0, pf, NFNETLINK_V0, htons(num))`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct NfHeader {
    /// `nlmsg_flags`.
    pub flags: u16,
    /// `nlmsg_seq`.
    pub seq: u32,
    /// `nlmsg_pid`.
    pub pid: u32,
    /// `nfgenmsg.nfgen_family`.
    pub family: u8,
    /// `nfgenmsg.version`.
    pub version: u8,
    /// `nfgenmsg.res_id`: queue or group number.
    pub res_id: u16,
}

impl NfHeader {
    /// Combines a parsed netlink header and `nfgenmsg`.
    #[must_use]
    pub fn from_parts(nl: &NlMsgHeader, nfgen: &NfGenMsg) -> Self {
        NfHeader {
            flags: nl.flags,
            seq: nl.seq,
            pid: nl.pid,
            family: nfgen.family,
            version: nfgen.version,
            res_id: nfgen.res_id,
        }
    }

    /// The fields of the message `msg` (its bytes, headers first), zeros where it is too
    /// short.
    #[inline]
    #[must_use]
    pub fn read(msg: &[u8]) -> Self {
        let nfgen = NfGenMsg::parse(msg.get(NLMSG_HDRLEN..).unwrap_or_default());
        NfHeader::from_parts(&NlMsgHeader::read(msg), &nfgen.unwrap_or_default())
    }

    /// The `nfgenmsg` part.
    #[must_use]
    pub fn nfgen(&self) -> NfGenMsg {
        NfGenMsg {
            family: self.family,
            version: self.version,
            res_id: self.res_id,
        }
    }
}

/// The emitting half of a wire type: how many bytes it takes and how to write them.
///
/// Parser and emitter of each type share one layout definition: `buffer_len` runs the same
/// code as `emit`, only counting.
pub trait Emit {
    /// The exact number of bytes [`emit`](Emit::emit) appends.
    fn buffer_len(&self) -> usize;

    /// Appends the wire bytes to `out`.
    ///
    /// # Errors
    /// [`WireError::TooLong`] when a value cannot be described by a netlink length field; `out`
    /// is then left as it was.
    fn emit(&self, out: &mut Vec<u8>) -> Result<(), WireError>;

    /// The wire bytes in a new vector.
    ///
    /// # Errors
    /// As [`emit`](Emit::emit).
    fn to_bytes(&self) -> Result<Vec<u8>, WireError> {
        let mut v = Vec::with_capacity(self.buffer_len());
        self.emit(&mut v)?;
        Ok(v)
    }
}

/// Writes or only counts wire bytes; the one code path behind every `buffer_len` and `emit`.
#[derive(Debug)]
pub(crate) struct Writer<'v> {
    out: Option<&'v mut Vec<u8>>,
    base: usize,
    len: usize,
    error: Option<WireError>,
}

impl<'v> Writer<'v> {
    pub(crate) fn counting() -> Writer<'static> {
        Writer {
            out: None,
            base: 0,
            len: 0,
            error: None,
        }
    }

    pub(crate) fn appending(out: &'v mut Vec<u8>) -> Self {
        let base = out.len();
        Writer {
            out: Some(out),
            base,
            len: 0,
            error: None,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn finish(self) -> Result<usize, WireError> {
        match self.error {
            Some(e) => Err(e),
            None => Ok(self.len),
        }
    }

    fn fail(&mut self, e: WireError) {
        if self.error.is_none() {
            self.error = Some(e);
        }
    }

    pub(crate) fn bytes(&mut self, b: &[u8]) {
        if let Some(out) = self.out.as_deref_mut() {
            out.extend_from_slice(b);
        }
        self.len += b.len();
    }

    pub(crate) fn zeros(&mut self, n: usize) {
        if let Some(out) = self.out.as_deref_mut() {
            out.resize(out.len() + n, 0);
        }
        self.len += n;
    }

    /// Pads with zeros to the next 4-byte boundary (relative to the writer's start, which is
    /// always the start of an aligned message).
    pub(crate) fn pad(&mut self) {
        let n = align(self.len) - self.len;
        self.zeros(n);
    }

    fn patch(&mut self, at: usize, b: &[u8]) {
        let start = self.base + at;
        if let Some(slot) = self
            .out
            .as_deref_mut()
            .and_then(|o| o.get_mut(start..start + b.len()))
        {
            slot.copy_from_slice(b);
        }
    }

    /// An attribute with its value and zero padding.
    pub(crate) fn attr(&mut self, raw_type: u16, value: &[u8]) {
        self.attr_unpadded(raw_type, value);
        self.pad();
    }

    /// An attribute without the trailing padding (the kernel's `NFQA_PAYLOAD`).
    pub(crate) fn attr_unpadded(&mut self, raw_type: u16, value: &[u8]) {
        self.attr_parts_unpadded(raw_type, &[value]);
    }

    /// An attribute whose value is the concatenation of `parts`, padded.
    pub(crate) fn attr_parts(&mut self, raw_type: u16, parts: &[&[u8]]) {
        self.attr_parts_unpadded(raw_type, parts);
        self.pad();
    }

    fn attr_parts_unpadded(&mut self, raw_type: u16, parts: &[&[u8]]) {
        let len = parts.iter().map(|p| p.len()).sum::<usize>() + 4;
        let nla_len = match u16::try_from(len) {
            Ok(l) => l,
            Err(_) => {
                self.fail(WireError::TooLong {
                    part: Part::Attribute,
                    len,
                    max: u16::MAX.into(),
                });
                0
            }
        };
        self.bytes(&nla_len.to_ne_bytes());
        self.bytes(&raw_type.to_ne_bytes());
        for p in parts {
            self.bytes(p);
        }
    }

    pub(crate) fn attr_u32(&mut self, raw_type: u16, v: u32) {
        self.attr(raw_type, &v.to_be_bytes());
    }

    pub(crate) fn attr_u16(&mut self, raw_type: u16, v: u16) {
        self.attr(raw_type, &v.to_be_bytes());
    }

    /// A nested attribute whose members `f` writes.
    pub(crate) fn nest(&mut self, raw_type: u16, f: impl FnOnce(&mut Self)) {
        let start = self.len;
        self.bytes(&0u16.to_ne_bytes());
        self.bytes(&raw_type.to_ne_bytes());
        f(self);
        let len = self.len - start;
        match u16::try_from(len) {
            Ok(l) => self.patch(start, &l.to_ne_bytes()),
            Err(_) => self.fail(WireError::TooLong {
                part: Part::Attribute,
                len,
                max: u16::MAX.into(),
            }),
        }
        self.pad();
    }

    /// A whole netlink message: header (length computed), `payload` writes the rest.
    pub(crate) fn message(
        &mut self,
        msg_type: u16,
        flags: u16,
        seq: u32,
        pid: u32,
        payload: impl FnOnce(&mut Self),
    ) {
        let start = self.len;
        let hdr = NlMsgHeader {
            len: 0,
            msg_type,
            flags,
            seq,
            pid,
        };
        self.bytes(&hdr.to_bytes());
        payload(self);
        let len = self.len - start;
        match u32::try_from(len) {
            Ok(l) => self.patch(start + offset_of!(nlmsghdr, nlmsg_len), &l.to_ne_bytes()),
            Err(_) => self.fail(WireError::TooLong {
                part: Part::Message,
                len,
                max: u32::MAX as usize,
            }),
        }
    }

    /// An nfnetlink message: netlink header, `nfgenmsg`, then `attrs`.
    pub(crate) fn nf_message(
        &mut self,
        msg_type: u16,
        h: &NfHeader,
        attrs: impl FnOnce(&mut Self),
    ) {
        self.message(msg_type, h.flags, h.seq, h.pid, |w| {
            w.bytes(&h.nfgen().to_bytes());
            attrs(w);
        });
    }
}

/// Runs `write` once counting, for `buffer_len`.
pub(crate) fn counted(write: impl FnOnce(&mut Writer<'_>)) -> usize {
    let mut w = Writer::counting();
    write(&mut w);
    w.len()
}

/// Runs `write` once appending to `out`, for `emit`; on error `out` is cut back to what it
/// held before, so no partial message is left for a later send.
pub(crate) fn emitted(
    out: &mut Vec<u8>,
    write: impl FnOnce(&mut Writer<'_>),
) -> Result<(), WireError> {
    let before = out.len();
    let mut w = Writer::appending(out);
    write(&mut w);
    let result = w.finish().map(|_| ());
    if result.is_err() {
        out.truncate(before);
    }
    result
}

fn put(buf: &mut [u8], at: usize, b: &[u8]) {
    if let Some(slot) = buf.get_mut(at..at + b.len()) {
        slot.copy_from_slice(b);
    }
}

pub(crate) fn byte(b: &[u8], at: usize) -> u8 {
    b.get(at).copied().unwrap_or(0)
}

fn array<const N: usize>(b: &[u8], at: usize) -> [u8; N] {
    let mut a = [0u8; N];
    if let Some(s) = b.get(at..at + N) {
        a.copy_from_slice(s);
    }
    a
}

pub(crate) fn ne_u16(b: &[u8], at: usize) -> u16 {
    u16::from_ne_bytes(array(b, at))
}

pub(crate) fn ne_u32(b: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes(array(b, at))
}

pub(crate) fn be_u16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes(array(b, at))
}

pub(crate) fn be_u32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(array(b, at))
}

pub(crate) fn be_u64(b: &[u8], at: usize) -> u64 {
    u64::from_be_bytes(array(b, at))
}

pub(crate) fn put_at(buf: &mut [u8], at: usize, b: &[u8]) {
    put(buf, at, b);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn align_rounds_up_and_saturates() {
        assert_eq!((align(0), align(1), align(4), align(5)), (0, 4, 4, 8));
        assert_eq!(align(usize::MAX) % ALIGNTO, 0);
    }

    #[test]
    fn header_round_trip_and_type_split() {
        let h = NlMsgHeader {
            len: 20,
            msg_type: nfnl_msg_type(NFNL_SUBSYS_QUEUE, 2),
            flags: 5,
            seq: 6,
            pid: 7,
        };
        let b = h.to_bytes();
        assert_eq!(NlMsgHeader::parse(&b), Ok(h));
        assert_eq!((h.subsys(), h.subsys_msg(), h.is_control()), (3, 2, false));
    }

    #[test]
    fn message_iteration_reports_framing_errors_once() {
        let mut b = NlMsgHeader {
            len: 16,
            msg_type: NLMSG_NOOP,
            ..Default::default()
        }
        .to_bytes()
        .to_vec();
        b.extend_from_slice(&[1, 2]);
        let got: Vec<_> = NlMsgIter::new(&b).collect();
        assert_eq!(got.len(), 2);
        assert!(got[0].is_ok());
        assert_eq!(
            got[1],
            Err(WireError::Truncated {
                part: Part::MessageHeader,
                needed: 16,
                got: 2
            })
        );
    }

    #[test]
    fn nfgenmsg_res_id_is_big_endian() {
        let n = NfGenMsg {
            family: 2,
            version: 0,
            res_id: 0x0102,
        };
        assert_eq!(n.to_bytes(), [2, 0, 1, 2]);
        assert_eq!(NfGenMsg::parse(&[2, 0, 1, 2]), Ok(n));
    }

    #[test]
    fn writer_counts_what_it_writes() {
        let mut out = vec![0xee];
        let mut w = Writer::appending(&mut out);
        w.nest(1, |w| w.attr_u16(2, 7));
        assert_eq!(w.finish(), Ok(12));
        assert_eq!(out.len(), 13);
        let mut c = Writer::counting();
        c.nest(1, |w| w.attr_u16(2, 7));
        assert_eq!(c.len(), 12);
    }
}
