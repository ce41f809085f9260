//! Netlink control messages and the classification of every message in a datagram.

use core::mem::size_of;
use std::borrow::Cow;

use super::error::{Part, WireError};
use super::log::{LogConfig, LogPacket};
use super::netlink::{
    Emit, NLMSG_DONE, NLMSG_ERROR, NLMSG_HDRLEN, NLMSG_NOOP, NLMSG_OVERRUN, NfGenMsg, NlMsg,
    NlMsgHeader, NlMsgIter, Writer, align, counted, emitted,
};
use super::queue::{BatchVerdict, QueueConfig, QueuePacket, Verdict};

/// A netlink control message without an error code: `NLMSG_NOOP`, `NLMSG_DONE`,
/// `NLMSG_OVERRUN`, or another type below `NLMSG_MIN_TYPE`, with its payload kept raw.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct ControlMsg<'a> {
    /// `nlmsg_type`.
    pub msg_type: u16,
    /// `nlmsg_flags`.
    pub flags: u16,
    /// `nlmsg_seq`.
    pub seq: u32,
    /// `nlmsg_pid`.
    pub pid: u32,
    /// What follows the netlink header.
    pub payload: Cow<'a, [u8]>,
}

impl<'a> ControlMsg<'a> {
    /// An `NLMSG_NOOP` with no payload.
    #[must_use]
    pub fn noop() -> Self {
        ControlMsg {
            msg_type: NLMSG_NOOP,
            ..Default::default()
        }
    }

    /// An `NLMSG_DONE` with no payload.
    #[must_use]
    pub fn done() -> Self {
        ControlMsg {
            msg_type: NLMSG_DONE,
            ..Default::default()
        }
    }

    /// The `NLMSG_DONE` that `nfnetlink_log` appends to a datagram of more than one packet
    /// message: an `nfgenmsg` of family `AF_UNSPEC`, version 0, and the group number.
    #[must_use]
    pub fn log_batch_done(group: u16) -> Self {
        let nfgen = NfGenMsg {
            family: libc::AF_UNSPEC as u8,
            version: 0,
            res_id: group,
        };
        ControlMsg {
            msg_type: NLMSG_DONE,
            payload: Cow::Owned(nfgen.to_bytes().to_vec()),
            ..Default::default()
        }
    }

    /// The payload read as an `nfgenmsg`, when it is long enough for one.
    #[must_use]
    pub fn nfgen(&self) -> Option<NfGenMsg> {
        NfGenMsg::parse(&self.payload).ok()
    }

    fn from_msg(msg: &NlMsg<'a>) -> Self {
        let h = msg.header();
        ControlMsg {
            msg_type: h.msg_type,
            flags: h.flags,
            seq: h.seq,
            pid: h.pid,
            payload: Cow::Borrowed(msg.payload()),
        }
    }

    fn write(&self, w: &mut Writer<'_>) {
        w.message(self.msg_type, self.flags, self.seq, self.pid, |w| {
            w.bytes(&self.payload)
        });
    }
}

impl Emit for ControlMsg<'_> {
    fn buffer_len(&self) -> usize {
        counted(|w| self.write(w))
    }

    fn emit(&self, out: &mut Vec<u8>) -> Result<(), WireError> {
        emitted(out, |w| self.write(w))
    }
}

/// `NLM_F_CAPPED` (`linux/netlink.h`): in an `NLMSG_ERROR`'s flags, the error carries only the
/// header of the request it answers (acknowledgements), not the whole request.
pub const NLM_F_CAPPED: u16 = 0x100;

/// What one message of a datagram from the kernel means to a receive loop that serves
/// messages of one type (queued or logged packets): the one classification both the safe
/// layer's dispatch and the `netfilter` crate's receive path use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Incoming<'a> {
    /// A message of the type the loop serves.
    Packet(NlMsg<'a>),
    /// The kernel's error report about an earlier request (a verdict, a configuration
    /// message): the errno, positive.
    Error(i32),
    /// Nothing for the loop: an acknowledgement (`NLMSG_ERROR` with 0), `NLMSG_NOOP`, the
    /// `NLMSG_DONE` that ends an NFLOG batch, or any other type.
    Skip,
}

impl<'a> Incoming<'a> {
    /// Classifies `message` for a loop serving messages of type `packet_type`.
    ///
    /// # Errors
    /// As [`NlError::parse`], for an `NLMSG_ERROR` too short to hold its error code.
    pub fn classify(message: NlMsg<'a>, packet_type: u16) -> Result<Self, WireError> {
        match message.header().msg_type {
            t if t == packet_type => Ok(Incoming::Packet(message)),
            NLMSG_ERROR => match NlError::parse(&message)?.error {
                0 => Ok(Incoming::Skip),
                error => Ok(Incoming::Error(error.saturating_neg())),
            },
            _ => Ok(Incoming::Skip),
        }
    }
}

/// An `NLMSG_ERROR` message: an error code (0 for an acknowledgement) and the header of the
/// message it answers.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct NlError<'a> {
    /// `nlmsg_flags` (`NLM_F_CAPPED`, `NLM_F_ACK_TLVS`).
    pub flags: u16,
    /// `nlmsg_seq`.
    pub seq: u32,
    /// `nlmsg_pid`.
    pub pid: u32,
    /// `nlmsgerr.error`: 0 or a negative errno.
    pub error: i32,
    /// `nlmsgerr.msg`: the header of the message that caused it, when present.
    pub original: Option<NlMsgHeader>,
    /// What follows (the original payload, extended-ack attributes), raw.
    pub rest: Cow<'a, [u8]>,
}

impl<'a> NlError<'a> {
    /// Parses an `NLMSG_ERROR` message.
    ///
    /// # Errors
    /// [`WireError::UnexpectedMessage`] for another type, [`WireError::Truncated`] when the
    /// payload is shorter than the 4-byte error code.
    pub fn parse(msg: &NlMsg<'a>) -> Result<Self, WireError> {
        let h = msg.header();
        if h.msg_type != NLMSG_ERROR {
            return Err(WireError::UnexpectedMessage {
                found: h.msg_type,
                expected: NLMSG_ERROR,
            });
        }
        let p = msg.payload();
        let code = p.get(..size_of::<i32>()).ok_or(WireError::Truncated {
            part: Part::ErrorPayload,
            needed: size_of::<i32>(),
            got: p.len(),
        })?;
        let mut e = [0u8; 4];
        e.copy_from_slice(code);
        let after = p.get(4..).unwrap_or_default();
        let (original, rest) = match NlMsgHeader::parse(after) {
            Ok(hdr) => (Some(hdr), after.get(NLMSG_HDRLEN..).unwrap_or_default()),
            Err(_) => (None, after),
        };
        Ok(NlError {
            flags: h.flags,
            seq: h.seq,
            pid: h.pid,
            error: i32::from_ne_bytes(e),
            original,
            rest: Cow::Borrowed(rest),
        })
    }

    fn write(&self, w: &mut Writer<'_>) {
        w.message(NLMSG_ERROR, self.flags, self.seq, self.pid, |w| {
            w.bytes(&self.error.to_ne_bytes());
            if let Some(o) = &self.original {
                w.bytes(&o.to_bytes());
            }
            w.bytes(&self.rest);
        });
    }
}

impl Emit for NlError<'_> {
    fn buffer_len(&self) -> usize {
        counted(|w| self.write(w))
    }

    fn emit(&self, out: &mut Vec<u8>) -> Result<(), WireError> {
        emitted(out, |w| self.write(w))
    }
}

/// Any message of an NFQUEUE or NFLOG conversation, parsed by its `nlmsg_type`.
///
/// ```
/// use netfilter_safe::wire::{Message, Messages};
/// use netfilter_testkit::synth::{Datagram, QueuePacketBuilder};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let datagram = Datagram::new()
///     .push(QueuePacketBuilder::ipv4(0).packet_id(1).build())
///     .push(QueuePacketBuilder::ipv4(0).packet_id(2).mark(7).build())
///     .to_bytes()?;
/// let mut ids = Vec::new();
/// for message in Messages::new(&datagram) {
///     match message? {
///         Message::QueuePacket(packet) => ids.push((packet.packet_hdr.packet_id, packet.mark)),
///         other => panic!("unexpected {other:?}"),
///     }
/// }
/// assert_eq!(ids, [(1, None), (2, Some(7))]);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Message<'a> {
    /// `NFQNL_MSG_PACKET`, kernel to program.
    QueuePacket(QueuePacket<'a>),
    /// `NFQNL_MSG_VERDICT`, program to kernel.
    Verdict(Verdict<'a>),
    /// `NFQNL_MSG_VERDICT_BATCH`, program to kernel.
    BatchVerdict(BatchVerdict<'a>),
    /// `NFQNL_MSG_CONFIG`, program to kernel.
    QueueConfig(QueueConfig<'a>),
    /// `NFULNL_MSG_PACKET`, kernel to program.
    LogPacket(LogPacket<'a>),
    /// `NFULNL_MSG_CONFIG`, program to kernel.
    LogConfig(LogConfig<'a>),
    /// `NLMSG_ERROR`: an error or an acknowledgement.
    Error(NlError<'a>),
    /// `NLMSG_NOOP`.
    Noop(ControlMsg<'a>),
    /// `NLMSG_DONE` (after a batch of log messages).
    Done(ControlMsg<'a>),
    /// `NLMSG_OVERRUN`.
    Overrun(ControlMsg<'a>),
    /// Any other type (another subsystem, an unknown message), unparsed.
    Other(NlMsg<'a>),
}

impl<'a> Message<'a> {
    /// Parses one message by its type.
    ///
    /// # Errors
    /// Those of the typed parser for that type.
    pub fn parse(msg: &NlMsg<'a>) -> Result<Self, WireError> {
        Ok(match msg.header().msg_type {
            NLMSG_NOOP => Message::Noop(ControlMsg::from_msg(msg)),
            NLMSG_DONE => Message::Done(ControlMsg::from_msg(msg)),
            NLMSG_OVERRUN => Message::Overrun(ControlMsg::from_msg(msg)),
            NLMSG_ERROR => Message::Error(NlError::parse(msg)?),
            QueuePacket::MSG_TYPE => Message::QueuePacket(QueuePacket::parse(msg)?),
            Verdict::MSG_TYPE => Message::Verdict(Verdict::parse(msg)?),
            BatchVerdict::MSG_TYPE => Message::BatchVerdict(BatchVerdict::parse(msg)?),
            QueueConfig::MSG_TYPE => Message::QueueConfig(QueueConfig::parse(msg)?),
            LogPacket::MSG_TYPE => Message::LogPacket(LogPacket::parse(msg)?),
            LogConfig::MSG_TYPE => Message::LogConfig(LogConfig::parse(msg)?),
            _ => Message::Other(*msg),
        })
    }
}

/// Iterates over the parsed messages of a datagram.
///
/// A framing error (see [`NlMsgIter`]) is returned once and ends the iteration. An error
/// inside one message (a bad attribute) is returned for that message only, and the following
/// messages are still parsed: a malformed message never hides the packets after it.
///
/// ```
/// use netfilter_safe::wire::{Messages, WireError};
///
/// // A header that claims more bytes than the datagram holds: an error, then the walk ends.
/// let mut bad = 100u32.to_ne_bytes().to_vec();
/// bad.extend([0; 12]);
/// let mut walk = Messages::new(&bad);
/// assert!(matches!(walk.next(), Some(Err(WireError::BadLength { .. }))));
/// assert!(walk.next().is_none());
/// assert!(Messages::new(&[]).next().is_none());
/// ```
#[derive(Debug, Clone)]
pub struct Messages<'a> {
    inner: NlMsgIter<'a>,
}

impl<'a> Messages<'a> {
    /// Iterates over the messages of `datagram`.
    #[must_use]
    pub fn new(datagram: &'a [u8]) -> Self {
        Messages {
            inner: NlMsgIter::new(datagram),
        }
    }
}

impl<'a> Iterator for Messages<'a> {
    type Item = Result<Message<'a>, WireError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.inner
            .next()
            .map(|m| m.and_then(|m| Message::parse(&m)))
    }
}

impl core::iter::FusedIterator for Messages<'_> {}

/// Appends `msg` to the datagram in `out`, first padding `out` with zeros to the netlink
/// alignment, as consecutive messages are laid out (`NLMSG_ALIGN`).
///
/// # Errors
/// As [`Emit::emit`]; `out` is then left as it was (the padding too), so that what it holds
/// can still be sent.
pub fn push_message(out: &mut Vec<u8>, msg: &dyn Emit) -> Result<(), WireError> {
    let before = out.len();
    out.resize(align(before), 0);
    msg.emit(out).inspect_err(|_| out.truncate(before))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::RawAttr;

    /// A bare message: a netlink header of `msg_type` and `payload`.
    fn message(msg_type: u16, payload: &[u8]) -> Vec<u8> {
        let mut m = Vec::new();
        m.extend_from_slice(&((NLMSG_HDRLEN + payload.len()) as u32).to_ne_bytes());
        m.extend_from_slice(&msg_type.to_ne_bytes());
        m.extend_from_slice(&[0; 10]);
        m.extend_from_slice(payload);
        m
    }

    fn classify(bytes: &[u8], packet_type: u16) -> Result<Incoming<'_>, WireError> {
        Incoming::classify(NlMsg::new_checked(bytes).expect("framed"), packet_type)
    }

    #[test]
    fn into_owned_keeps_every_field_of_what_a_program_sends() {
        let extra = RawAttr {
            raw_type: 0x7f,
            value: Cow::Borrowed(b"new"),
        };
        let verdict = Verdict {
            mark: Some(1),
            priority: Some(2),
            payload: Some(Cow::Borrowed(b"\x45\x00")),
            unknown: vec![extra.clone()],
            ..Default::default()
        };
        let batch = BatchVerdict {
            mark: Some(4),
            unknown: vec![extra.clone()],
            ..Default::default()
        };
        let queue = QueueConfig {
            queue_maxlen: Some(5),
            flags: Some(6),
            unknown: vec![extra.clone()],
            ..Default::default()
        };
        let log = LogConfig {
            qthresh: Some(7),
            nlbufsiz: Some(8192),
            unknown: vec![extra],
            ..Default::default()
        };
        let messages: [&dyn Emit; 4] = [&verdict, &batch, &queue, &log];
        for message in messages {
            let bytes = message.to_bytes().expect("emitted");
            let parsed =
                Message::parse(&NlMsg::new_checked(&bytes).expect("framed")).expect("parsed");
            match parsed {
                Message::Verdict(v) => assert_eq!(v.clone().into_owned(), v),
                Message::BatchVerdict(v) => assert_eq!(v.clone().into_owned(), v),
                Message::QueueConfig(c) => assert_eq!(c.clone().into_owned(), c),
                Message::LogConfig(c) => assert_eq!(c.clone().into_owned(), c),
                other => panic!("unexpected {other:?}"),
            }
        }
    }

    #[test]
    fn classify_tells_packets_errors_and_the_rest_apart() {
        let packet = message(QueuePacket::MSG_TYPE, &[0; 4]);
        assert!(matches!(
            classify(&packet, QueuePacket::MSG_TYPE),
            Ok(Incoming::Packet(_))
        ));
        // The same type, served by a loop of another type: nothing for it.
        assert_eq!(classify(&packet, LogPacket::MSG_TYPE), Ok(Incoming::Skip));
        let ack = message(NLMSG_ERROR, &[0; 4]);
        assert_eq!(classify(&ack, QueuePacket::MSG_TYPE), Ok(Incoming::Skip));
        let nack = message(NLMSG_ERROR, &(-libc::ENOENT).to_ne_bytes());
        assert_eq!(
            classify(&nack, QueuePacket::MSG_TYPE),
            Ok(Incoming::Error(libc::ENOENT))
        );
        let done = message(NLMSG_DONE, &[0; 4]);
        assert_eq!(classify(&done, LogPacket::MSG_TYPE), Ok(Incoming::Skip));
        let short = message(NLMSG_ERROR, &[0; 2]);
        assert!(classify(&short, QueuePacket::MSG_TYPE).is_err());
    }

    #[test]
    fn a_message_that_cannot_be_emitted_leaves_the_buffer_as_it_was() {
        // One odd-length message waiting (so the next one would be padded), then a verdict
        // whose payload no attribute length can describe.
        let first = message(NLMSG_NOOP, &[1, 2, 3]);
        let mut out = first.clone();
        let too_long = Verdict {
            payload: Some(Cow::Owned(vec![0; 70_000])),
            ..Default::default()
        };
        let err = push_message(&mut out, &too_long).expect_err("too long");
        assert!(matches!(err, WireError::TooLong { .. }), "{err:?}");
        assert_eq!(out, first, "no padding, header or attribute left behind");
        assert!(too_long.emit(&mut out).is_err());
        assert_eq!(out, first);
        // What the buffer holds is still a datagram, and the next message lands after it.
        push_message(&mut out, &Verdict::default()).expect("emitted");
        assert_eq!(Messages::new(&out).count(), 2);
    }
}
