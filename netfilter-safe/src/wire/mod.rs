//! The nfnetlink wire layout of NFQUEUE and NFLOG: the one definition in the workspace.
//!
//! Everything the kernel sends on a `NETLINK_NETFILTER` socket for `nfnetlink_queue` and
//! `nfnetlink_log`, and everything a program sends back, as checked views that parse and
//! typed messages that parse *and* emit through one layout definition (in the style of
//! rust-netlink's `netlink-packet-core`: `new_checked`, [`Emit::buffer_len`], [`Emit::emit`]).
//!
//! - Framing: [`NlMsgIter`] walks the messages of a datagram ([`NlMsg::new_checked`] checks
//!   one), [`NfGenMsg`] is the nfnetlink header, [`AttrIter`] walks attributes (flag bits
//!   masked off the type, padding skipped, an unpadded last attribute accepted).
//! - Typed messages: [`QueuePacket`] and [`LogPacket`] (kernel to program, every attribute,
//!   unknown ones kept as [`RawAttr`]), [`QueueConfig`], [`Verdict`], [`BatchVerdict`] and
//!   [`LogConfig`] (program to kernel), [`NlError`] and [`ControlMsg`] (netlink control
//!   messages), and [`Message`] / [`Messages`] to classify a whole datagram.
//! - Conntrack: [`Conntrack`] is a checked view of the `NFQA_CT` / `NFULA_CT` nest (tuples,
//!   status, mark, counters, ...), [`CtEntry`] the typed nest that parses and emits (a
//!   verdict's `NFQA_CT`), [`CtState`] the state of `NFQA_CT_INFO` / `NFULA_CT_INFO`.
//! - Emission reproduces the kernel's bytes: attribute order of `nfqnl_build_packet_message`
//!   and `__build_packet_message`, zero padding, NFQUEUE's unpadded payload, the nfgenmsg
//!   `NLMSG_DONE` after a batch of log messages ([`ControlMsg::log_batch_done`]).
//! - Errors are one structured enum, [`WireError`]; nothing here panics on any input, and
//!   there is no `unsafe`.
//!
//! Attribute numbers and struct layouts come from [`uapi`], the kernel's uapi headers written
//! out in Rust (sizes with `size_of`, field positions with `offset_of!`; checked against the
//! sys crates' bindgen output when the `ffi` feature is on), netlink constants from `libc`.
//! Nothing here needs the C libraries. Multi-byte values are in host order in these types; the conversions to and from the
//! wire's big-endian (attribute values, `res_id`) and host order (netlink headers) happen
//! inside.
//!
//! # Example
//! ```
//! use netfilter_safe::wire::{Emit, Message, Messages, QueuePacket, WireError};
//!
//! # fn main() -> Result<(), WireError> {
//! let mut packet = QueuePacket::default();
//! packet.header.family = 2; // NFPROTO_IPV4
//! packet.header.res_id = 7; // queue number
//! packet.packet_hdr.packet_id = 1;
//! packet.packet_hdr.hw_protocol = 0x0800;
//! packet.mark = Some(0x2a);
//! packet.payload = Some(b"\x45\x00".as_slice().into());
//! let bytes = packet.to_bytes()?;
//! assert_eq!(bytes.len(), packet.buffer_len());
//!
//! for message in Messages::new(&bytes) {
//!     match message? {
//!         Message::QueuePacket(p) => assert_eq!(p, packet),
//!         other => panic!("unexpected {other:?}"),
//!     }
//! }
//! # Ok(())
//! # }
//! ```

mod attr;
mod ct;
mod error;
mod log;
mod message;
mod netlink;
mod queue;
pub mod uapi;

pub use attr::{
    Attr, AttrIter, HwAddr, NLA_F_NESTED, NLA_F_NET_BYTEORDER, NLA_HDRLEN, NLA_MAX_VALUE,
    NLA_TYPE_MASK, RawAttr, Timestamp, Vlan,
};
pub use ct::{
    ConnLabels, Conntrack, Counters, CtEntry, CtName, CtState, CtStatus, CtTimestamp, Icmp,
    ProtoInfo, TcpFlagSet, TcpFlags, TcpInfo, TcpState, Tuple, attr as ct_attr,
};
pub use error::{Part, Space, WireError};
pub use log::{LogAttrs, LogConfig, LogMode, LogPacket, LogPacketHdr, attr as log_attr};
pub use message::{ControlMsg, Incoming, Message, Messages, NLM_F_CAPPED, NlError, push_message};
pub use netlink::{
    ALIGNTO, Emit, NFGENMSG_LEN, NFNL_SUBSYS_CTNETLINK, NFNL_SUBSYS_QUEUE, NFNL_SUBSYS_ULOG,
    NLMSG_DONE, NLMSG_ERROR, NLMSG_HDRLEN, NLMSG_MIN_TYPE, NLMSG_NOOP, NLMSG_OVERRUN, NfGenMsg,
    NfHeader, NlMsg, NlMsgHeader, NlMsgIter, align, nfnl_msg_type,
};
pub use queue::{
    BatchVerdict, QueueAttrs, QueueCmd, QueueConfig, QueuePacket, QueuePacketHdr, QueueParams,
    Verdict, VerdictHdr, attr as queue_attr,
};
