//! The one error type of the wire module.

use core::fmt;

/// Which part of a datagram a [`WireError`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Part {
    /// The 16-byte `struct nlmsghdr` that starts every netlink message.
    MessageHeader,
    /// A whole netlink message (its `nlmsg_len`).
    Message,
    /// The 4-byte `struct nfgenmsg` after the netlink header of an nfnetlink message.
    NfGenMsg,
    /// The 4-byte `struct nlattr` header of an attribute.
    AttributeHeader,
    /// A whole attribute (its `nla_len`).
    Attribute,
    /// The payload of an `NLMSG_ERROR` message (`int error` and the original header).
    ErrorPayload,
}

/// The attribute space an attribute type number belongs to: the same number means different
/// things in different spaces (`3` is `NFQA_MARK` but `NFULA_TIMESTAMP`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Space {
    /// `NFQA_*`: NFQUEUE packet and verdict messages.
    Queue,
    /// `NFQA_VLAN_*`: inside `NFQA_VLAN`.
    QueueVlan,
    /// `NFQA_CFG_*`: NFQUEUE configuration messages.
    QueueConfig,
    /// `NFULA_*`: NFLOG packet messages.
    Log,
    /// `NFULA_VLAN_*`: inside `NFULA_VLAN`.
    LogVlan,
    /// `NFULA_CFG_*`: NFLOG configuration messages.
    LogConfig,
    /// `CTA_*`: the members of a conntrack nest (`NFQA_CT`, `NFULA_CT`).
    Conntrack,
    /// `CTA_TUPLE_*`: inside `CTA_TUPLE_ORIG`, `_REPLY` and `_MASTER`.
    CtTuple,
    /// `CTA_IP_*`: inside `CTA_TUPLE_IP`.
    CtIp,
    /// `CTA_PROTO_*`: inside `CTA_TUPLE_PROTO`.
    CtProto,
    /// `CTA_COUNTERS_*`: inside `CTA_COUNTERS_ORIG` and `_REPLY`.
    CtCounters,
    /// `CTA_TIMESTAMP_*`: inside `CTA_TIMESTAMP`.
    CtTimestamp,
    /// `CTA_PROTOINFO_TCP_*`: inside `CTA_PROTOINFO_TCP` (itself inside `CTA_PROTOINFO`).
    CtTcp,
    /// `CTA_HELP_*`: inside `CTA_HELP`.
    CtHelp,
    /// `CTA_SECCTX_*`: inside `CTA_SECCTX`.
    CtSecctx,
}

/// A datagram, message or attribute that does not follow the nfnetlink wire layout, or a value
/// that cannot be written in it.
///
/// Every variant carries numbers, never text, so a caller can match on what went wrong.
///
/// ```
/// use netfilter_safe::wire::{QueuePacket, WireError};
///
/// // Parse errors are structured: what was cut, how much was needed and how much there was.
/// match QueuePacket::parse_bytes(&[0; 10]) {
///     Err(WireError::Truncated { needed, got, .. }) => assert_eq!((needed, got), (16, 10)),
///     other => panic!("unexpected {other:?}"),
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum WireError {
    /// The buffer ends before a fixed-size header is complete: `needed` bytes were required,
    /// `got` were left.
    Truncated {
        /// The header that is cut short.
        part: Part,
        /// Bytes the header needs.
        needed: usize,
        /// Bytes that were left in the buffer.
        got: usize,
    },
    /// A length field is smaller than its own header (`len < min`, zero-length attributes
    /// included) or runs past the end of the enclosing buffer (`len > available`).
    BadLength {
        /// The message or attribute whose length field is wrong.
        part: Part,
        /// The length the field claims.
        len: usize,
        /// The smallest valid length (the header size).
        min: usize,
        /// Bytes available from the start of the message or attribute to the end of the
        /// enclosing buffer.
        available: usize,
    },
    /// An attribute whose value has the wrong size for its type (a 3-byte `NFQA_MARK`), or the
    /// wrong content (an `NFULA_PREFIX` without its terminating NUL).
    BadAttribute {
        /// The attribute space `kind` belongs to.
        space: Space,
        /// The attribute type, flags masked off.
        kind: u16,
        /// The length of the value (`nla_len` minus the 4-byte header).
        len: usize,
    },
    /// An attribute that the message type requires is absent (`NFQA_PACKET_HDR` in a packet
    /// message, `NFQA_VERDICT_HDR` in a verdict).
    MissingAttribute {
        /// The attribute space `kind` belongs to.
        space: Space,
        /// The attribute type that is missing.
        kind: u16,
    },
    /// A message of another type than the parser handles was given to it.
    UnexpectedMessage {
        /// The `nlmsg_type` that was found.
        found: u16,
        /// The `nlmsg_type` the parser handles.
        expected: u16,
    },
    /// A value too long to be described by a netlink length field (an attribute value over
    /// 65531 bytes, a message over 4 GiB); only emitting returns this.
    TooLong {
        /// The message or attribute that does not fit.
        part: Part,
        /// Its length.
        len: usize,
        /// The largest length the field can describe.
        max: usize,
    },
}

impl fmt::Display for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Part::MessageHeader => "netlink message header",
            Part::Message => "netlink message",
            Part::NfGenMsg => "nfgenmsg header",
            Part::AttributeHeader => "attribute header",
            Part::Attribute => "attribute",
            Part::ErrorPayload => "NLMSG_ERROR payload",
        })
    }
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WireError::Truncated { part, needed, got } => {
                write!(f, "truncated {part}: needs {needed} bytes, {got} left")
            }
            WireError::BadLength {
                part,
                len,
                min,
                available,
            } => write!(
                f,
                "{part} length {len} is invalid (at least {min}, at most {available} available)"
            ),
            WireError::BadAttribute { space, kind, len } => {
                write!(
                    f,
                    "malformed {space:?} attribute {kind} with a {len}-byte value"
                )
            }
            WireError::MissingAttribute { space, kind } => {
                write!(f, "required {space:?} attribute {kind} is missing")
            }
            WireError::UnexpectedMessage { found, expected } => {
                write!(
                    f,
                    "unexpected message type {found:#06x} (expected {expected:#06x})"
                )
            }
            WireError::TooLong { part, len, max } => {
                write!(
                    f,
                    "{part} of {len} bytes is longer than the {max} bytes netlink can describe"
                )
            }
        }
    }
}

impl std::error::Error for WireError {}
