//! The connection of a queued or logged packet, and the verdicts that change it.
//!
//! With the conntrack flag ([`QueueBuilder::conntrack`](crate::QueueBuilder::conntrack),
//! [`LogBuilder::conntrack`](crate::LogBuilder::conntrack)) the kernel attaches the packet's
//! conntrack entry: [`Packet::conntrack`](crate::Packet::conntrack) and
//! [`LogPacket::conntrack`](crate::LogPacket::conntrack) give a [`Conntrack`] view of it
//! (original and reply [`Tuple`]s, [`CtStatus`], mark, id, zone, timeout, [`ConnLabels`],
//! [`Counters`], [`CtTimestamp`], the TCP tracker's [`TcpInfo`], the helper's and the
//! security context's [`CtName`]; each read from the received message when asked for), and
//! `ct_info()` its [`CtState`]. [`Verdict::with_conn_mark`](crate::Verdict::with_conn_mark)
//! and [`Packet::set_conn_mark`](crate::Packet::set_conn_mark) (and the `labels` forms)
//! change the connection with the verdict.
//!
//! These are the types of [`netfilter_safe::wire`], the layer that owns the wire layout,
//! re-exported here.
//!
//! ```
//! use netfilter::conntrack::{CtState, CtStatus};
//! assert_eq!(CtState::from(1).to_string(), "RELATED");
//! let status = CtStatus::from_bits_retain(0b1110);
//! assert!(status.contains(CtStatus::SEEN_REPLY | CtStatus::ASSURED | CtStatus::CONFIRMED));
//! ```

pub use netfilter_safe::wire::{
    ConnLabels, Conntrack, Counters, CtEntry, CtName, CtState, CtStatus, CtTimestamp, Icmp,
    ProtoInfo, TcpFlagSet, TcpFlags, TcpInfo, TcpState, Tuple,
};
