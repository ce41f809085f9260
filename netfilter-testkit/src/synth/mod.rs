//! Kernel-exact synthesis of NFQUEUE and NFLOG netlink messages; no privileges needed.
//!
//! Everything here is built on [`netfilter_safe::wire`], the workspace's one definition of the
//! wire layout, so what these builders write is what the safe layer parses.
//!
//! - [`QueuePacketBuilder`] and [`LogPacketBuilder`]: packet messages with every attribute
//!   the kernel can send, laid out in the kernel's order; [`Datagram`] puts several in one
//!   buffer ([`Datagram::log_batch`] appends the `NLMSG_DONE` of a log batch).
//! - [`CtBuilder`]: conntrack nests (tuples, status, mark, counters, ...) for their `ct`
//!   setters.
//! - [`payload`]: IPv4/IPv6 packets with UDP, TCP (SYN, data), ICMP echo and correct
//!   checksums, to use as payloads.
//! - [`sent`]: decoders for what a program sends (queue config, verdict, batch verdict, log
//!   config).
//! - [`malformed`]: labelled malformed datagrams, each with what a correct parser reports.
//!
//! # Example
//! ```
//! use std::net::Ipv4Addr;
//! use netfilter_testkit::synth::{QueuePacketBuilder, payload};
//! use netfilter_safe::wire::QueuePacket;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let ip = payload::ipv4_udp(Ipv4Addr::new(198, 18, 0, 1), Ipv4Addr::new(198, 18, 0, 2), 4000, 9000, b"hi")?;
//! let bytes = QueuePacketBuilder::ipv4(3).packet_id(1).hook(1).indev(2).mark(0x2a).payload(ip).to_bytes()?;
//! let parsed = QueuePacket::parse_bytes(&bytes)?;
//! assert_eq!(parsed.mark, Some(0x2a));
//! # Ok(())
//! # }
//! ```

mod ct;
pub mod malformed;
mod packet;
pub mod payload;
pub mod sent;

pub use ct::CtBuilder;
pub use packet::{
    Datagram, ETH_P_IP, ETH_P_IPV6, LogPacketBuilder, NFPROTO_BRIDGE, NFPROTO_IPV4, NFPROTO_IPV6,
    NFPROTO_NETDEV, NFPROTO_UNSPEC, QueuePacketBuilder,
};
