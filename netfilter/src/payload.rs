//! Views over a packet payload, and rewriting it with the checksums fixed.
//!
//! NFQUEUE and NFLOG deliver a packet from its network header on: an IPv4 or IPv6 header,
//! extension headers, then the transport header and data. The copy range may cut it short
//! (the queue's `cap_len` then tells the full length).
//!
//! - [`Ip::parse`] gives a borrowed view: version, addresses, protocol, lengths, TTL, and the
//!   [`Transport`]: [`Tcp`], [`Udp`], [`Icmp`] (ICMP and ICMPv6). A cut packet still gives
//!   every field that is present, and says what is missing ([`Ip::is_truncated`],
//!   [`Transport::Truncated`], [`Tcp::is_truncated`], ...). Parsing never panics.
//! - [`Editor`] rewrites a queued packet for a verdict with a replacement payload: replace the
//!   transport payload or any bytes, then [`Editor::finish`] sets the length fields and every
//!   checksum. [`fix_lengths`] and [`fix_checksums`] do the same for bytes edited by hand.
//!
//! # What the kernel does with a replacement payload
//! From `net/netfilter/nfnetlink_queue.c` (`nfqnl_recv_verdict`, `nfqnl_mangle`,
//! `nfqnl_build_packet_message`, `nfqnl_put_packet_info`; read in a current 6.x tree):
//!
//! - The bytes replace the packet from its network header on, and the kernel sets
//!   `ip_summed = CHECKSUM_NONE`: it trusts every checksum in the bytes as final and computes
//!   none of them. **The replacement must carry a correct IPv4 header checksum and a correct,
//!   complete transport checksum.** [`Editor::finish`] and [`fix_checksums`] write them.
//! - [`SkbInfo::CSUMNOTREADY`] (`CHECKSUM_PARTIAL`: checksum offload pending; only seen when
//!   the queue has the GSO flag, since without it the kernel completes the checksum before
//!   copying) means the TCP/UDP checksum field holds only the pseudo-header sum, not a
//!   checksum. It must not be verified, nor updated incrementally: after a verdict with a
//!   payload nothing would complete it. **Rule implemented:** with `CSUMNOTREADY` the transport
//!   checksum is computed from scratch. Without it, the delivered checksum is complete (though
//!   perhaps unverified, [`SkbInfo::CSUM_NOTVERIFIED`]): the [`Editor`] keeps its error, if any,
//!   as an incremental update would (RFC 1624), so that rewriting a corrupted packet never
//!   turns it into a valid one that the kernel would otherwise have dropped. A packet whose
//!   pending offload is for a protocol other than TCP or UDP (SCTP's CRC32c, say) is refused.
//!   The IPv4 header checksum is always computed from scratch (the kernel verified it on
//!   input and fills it in software on output).
//! - A replacement longer than `0xffff` bytes, or shorter than the headers in front of the
//!   transport header, is refused by the kernel, **which then drops the packet** (the verdict
//!   becomes `NF_DROP`). A netlink attribute cannot carry more than [`MAX_PACKET_LEN`] bytes
//!   anyway; the [`Editor`] refuses both cases before anything is sent.
//! - The replacement becomes the whole packet: a packet cut by the copy range would lose its
//!   tail. The [`Editor`] refuses cut packets.
//!
//! # GSO packets
//! With the queue's GSO flag, packets larger than the MTU arrive whole, with
//! [`SkbInfo::GSO`] (and usually `CSUMNOTREADY`). Replacing their payload is allowed, and the
//! [`Editor`] treats them like any other packet; what follows comes from the kernel source.
//! `nfqnl_mangle` keeps the packet's GSO metadata (segment size and type) and sets
//! `CHECKSUM_NONE`. A GSO packet that is not `CHECKSUM_PARTIAL` is segmented in software on
//! output (`netif_needs_gso`); for TCP, `tcp4_gso_segment`/`tcp6_gso_segment` set the
//! pseudo-header up again and every segment gets its own lengths and checksum, cut at the
//! original segment size. For UDP GSO the handling of a `CHECKSUM_NONE` super-packet has
//! changed between kernel versions: test on the kernels you target. Delivered locally instead,
//! the super-packet's full checksum is verified. So:
//!
//! - the bytes given back must carry full, correct checksums over the whole super-packet
//!   (the [`Editor`] writes them);
//! - a GSO packet larger than the copy range, or than [`MAX_PACKET_LEN`] (a "BIG TCP" packet
//!   over 64 KiB), arrives cut and cannot be rewritten: [`Editor::new`] fails and says so;
//! - changing a TCP segment's length shifts the sequence numbers the peers see; the kernel
//!   adjusts later segments only when the verdict carries conntrack data
//!   (`nfnl_ct->seq_adjust`).
//!
//! # Limits
//! - An IPv6 routing header with segments left changes the destination the pseudo-header
//!   uses; this module uses the IPv6 header's destination (right at the final hop).
//! - With encapsulation (VXLAN, GRE, ...) and `CSUMNOTREADY`, the pending checksum may be an
//!   inner one, which this module does not see.
//! - NFLOG sends no skb info: a locally generated packet logged before the device computed
//!   its checksum carries only the pseudo-header sum, and nothing says so.
//! - Fragments: the transport checksum covers the whole datagram, so only the IPv4 header
//!   checksum of a fragment can be fixed, and the [`Editor`] refuses fragments.
//!
//! # Example
//! ```
//! use netfilter::SkbInfo;
//! use netfilter::payload::{Editor, Ip, Transport};
//!
//! # fn main() -> netfilter::Result<()> {
//! # let mut packet = Vec::new();
//! # etherparse::PacketBuilder::ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
//! #     .udp(5000, 53)
//! #     .write(&mut packet, b"hello")
//! #     .expect("built");
//! // `packet` is the payload of a queued packet, `info` its skb info.
//! let info = SkbInfo::empty();
//! let ip = Ip::parse(&packet)?;
//! if let Transport::Udp(udp) = ip.transport() {
//!     assert_eq!(udp.destination_port(), 53);
//!     assert_eq!(udp.payload(), b"hello");
//! }
//!
//! let mut editor = Editor::new(&packet, info)?;
//! editor.set_transport_payload(b"goodbye, world")?;
//! let replacement = editor.finish()?; // lengths and checksums fixed: give it to the verdict
//!
//! let ip = Ip::parse(&replacement)?;
//! assert_eq!(ip.total_len(), Some(20 + 8 + 14));
//! # Ok(())
//! # }
//! ```
//!
//! The transport views are written by hand over the bytes rather than taken from `etherparse`:
//! its transport slices refuse a header that is cut, where a cut packet must still give the
//! fields it has (ports from the first four bytes, say). The IP layer, with its extension
//! header walk, is `etherparse`'s lax parser.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::ops::Range;

use etherparse::{Ipv6ExtensionSlice, LaxIpSlice, err::ipv6_exts::HeaderSliceError};
use netfilter_safe::SkbInfo;

use crate::{Error, Result};

/// The longest packet a verdict can carry: a netlink attribute's length is 16 bits and
/// includes its 4-byte header (the kernel's `NFQNL_MAX_COPY_RANGE`).
pub const MAX_PACKET_LEN: usize = crate::MAX_VERDICT_PAYLOAD;

const PROTO_ICMP: u8 = 1;
const PROTO_TCP: u8 = 6;
const PROTO_UDP: u8 = 17;
const PROTO_DCCP: u8 = 33;
const PROTO_ICMPV6: u8 = 58;
const PROTO_SCTP: u8 = 132;
const PROTO_UDPLITE: u8 = 136;

const IPV6_HEADER_LEN: usize = 40;
const TCP_MIN_HEADER: usize = 20;
const UDP_HEADER: usize = 8;
const ICMP_HEADER: usize = 8;

fn bad(reason: impl Into<String>) -> Error {
    Error::BadPacket {
        reason: reason.into(),
    }
}

fn be16(bytes: &[u8], at: usize) -> u16 {
    match bytes.get(at..at + 2) {
        Some(&[a, b]) => u16::from_be_bytes([a, b]),
        _ => 0,
    }
}

fn be32(bytes: &[u8], at: usize) -> u32 {
    match bytes.get(at..at + 4) {
        Some(&[a, b, c, d]) => u32::from_be_bytes([a, b, c, d]),
        _ => 0,
    }
}

fn put16(bytes: &mut [u8], at: usize, value: u16) -> Result<()> {
    match bytes.get_mut(at..at + 2) {
        Some(field) => {
            field.copy_from_slice(&value.to_be_bytes());
            Ok(())
        }
        None => Err(bad(format!(
            "no room for a 16-bit field at offset {at} in {} bytes",
            bytes.len()
        ))),
    }
}

/// The IP version of a packet.
///
/// ```
/// use netfilter::payload::{Ip, IpVersion};
/// use netfilter_testkit::synth::payload;
///
/// let v6 = payload::ipv6_udp("2001:db8::1".parse()?, "2001:db8::2".parse()?, 1, 2, b"")?;
/// assert_eq!(Ip::parse(&v6)?.version(), IpVersion::V6);
/// assert!(Ip::parse(&[0x70; 40]).is_err()); // version 7
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IpVersion {
    /// IPv4.
    V4,
    /// IPv6.
    V6,
}

/// How the walk of the headers in front of the transport header ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HeaderWalk {
    Complete,
    /// An IPv6 extension header (or IPv4 authentication header) is cut by the copy range.
    Cut,
    /// An extension header is malformed.
    Malformed,
}

/// A borrowed view of an IPv4 or IPv6 packet, as NFQUEUE and NFLOG deliver it.
///
/// Built by [`Ip::parse`]; every getter is cheap and never panics.
///
/// ```
/// use std::net::Ipv4Addr;
/// use netfilter::payload::{Ip, IpVersion};
/// use netfilter_testkit::synth::payload;
///
/// let packet = payload::ipv4_udp([192, 0, 2, 1].into(), [192, 0, 2, 2].into(), 5353, 53, b"query")?;
/// let ip = Ip::parse(&packet)?;
/// assert_eq!(ip.version(), IpVersion::V4);
/// assert_eq!(ip.destination(), Ipv4Addr::new(192, 0, 2, 2));
/// assert_eq!((ip.protocol(), ip.ports()), (17, Some((5353, 53))));
/// // Cut by a copy range of 24 bytes: what is there is still read.
/// let cut = Ip::parse(&packet[..24])?;
/// assert!(cut.is_truncated());
/// assert_eq!(cut.ports(), Some((5353, 53)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Ip<'a> {
    bytes: &'a [u8],
    version: IpVersion,
    /// Length of the IPv4 header with options, or of the fixed IPv6 header.
    base_header_len: usize,
    /// Offset of the transport header: base header plus the extension headers walked.
    header_len: usize,
    protocol: u8,
    total_len: Option<usize>,
    fragment_offset: u16,
    more_fragments: bool,
    walk: HeaderWalk,
}

impl<'a> Ip<'a> {
    /// Parses the packet at the start of `bytes` (the network header).
    ///
    /// IPv6 extension headers (hop-by-hop, routing, fragment, destination options,
    /// authentication, ...) are walked to find the transport protocol. The bytes may be cut
    /// short anywhere after the IP header: the view then says what is missing.
    ///
    /// # Errors
    /// [`Error::BadPacket`] when `bytes` does not start with a whole IPv4 header (with its
    /// options) or IPv6 header, or the version is neither 4 nor 6.
    ///
    /// ```
    /// use netfilter::Error;
    /// use netfilter::payload::Ip;
    /// use netfilter_testkit::synth::payload;
    ///
    /// let packet = payload::ipv4_udp([192, 0, 2, 1].into(), [192, 0, 2, 2].into(), 1, 2, b"x")?;
    /// assert_eq!(Ip::parse(&packet)?.total_len(), Some(29));
    /// // Less than a whole IPv4 header is refused.
    /// assert!(matches!(Ip::parse(&packet[..12]), Err(Error::BadPacket { .. })));
    /// assert!(Ip::parse(&[]).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn parse(bytes: &'a [u8]) -> Result<Ip<'a>> {
        let (slice, stop) = LaxIpSlice::from_slice(bytes)
            .map_err(|err| bad(format!("{} bytes: {err}", bytes.len())))?;
        let walk = match stop {
            None => HeaderWalk::Complete,
            Some((HeaderSliceError::Len(_), _)) => HeaderWalk::Cut,
            Some((HeaderSliceError::Content(_), _)) => HeaderWalk::Malformed,
        };
        let ip = match &slice {
            LaxIpSlice::Ipv4(v4) => {
                let header = v4.header();
                let base = header.slice().len();
                let auth = v4.extensions().auth.map_or(0, |auth| auth.slice().len());
                let total = usize::from(header.total_len());
                Ip {
                    bytes,
                    version: IpVersion::V4,
                    base_header_len: base,
                    header_len: base + auth,
                    protocol: v4.payload().ip_number.0,
                    // A total length smaller than the header is a lie (TSO "BIG TCP"
                    // super-packets carry 0): the length is then unknown.
                    total_len: (total >= base).then_some(total),
                    fragment_offset: header.fragments_offset().byte_offset(),
                    more_fragments: header.more_fragments(),
                    walk,
                }
            }
            LaxIpSlice::Ipv6(v6) => {
                let header = v6.header();
                let payload_len = usize::from(header.payload_length());
                // etherparse's extension iterator reads past a walk that stopped on a malformed
                // or cut header (found by fuzzing: an out-of-bounds read), so it is only used on
                // a complete walk; a packet cut inside its extensions is not seen as a fragment.
                let extensions = (walk == HeaderWalk::Complete).then(|| v6.extensions().clone());
                let (fragment_offset, more_fragments) = extensions
                    .into_iter()
                    .flatten()
                    .find_map(|ext| match ext {
                        Ipv6ExtensionSlice::Fragment(frag) => {
                            Some((frag.fragment_offset().byte_offset(), frag.more_fragments()))
                        }
                        _ => None,
                    })
                    .unwrap_or((0, false));
                Ip {
                    bytes,
                    version: IpVersion::V6,
                    base_header_len: IPV6_HEADER_LEN,
                    header_len: IPV6_HEADER_LEN + v6.extensions().slice().len(),
                    protocol: v6.payload().ip_number.0,
                    // Payload length 0 with data behind: a jumbogram or a BIG TCP GSO packet,
                    // whose length the header does not give.
                    total_len: (payload_len != 0 || bytes.len() == IPV6_HEADER_LEN)
                        .then_some(IPV6_HEADER_LEN + payload_len),
                    fragment_offset,
                    more_fragments,
                    walk,
                }
            }
        };
        Ok(ip)
    }

    /// The bytes the view was parsed from.
    ///
    /// ```
    /// # use netfilter::payload::{Ip, Transport};
    /// # use netfilter_testkit::synth::payload;
    /// # let packet = payload::ipv4_udp([192, 0, 2, 1].into(), [192, 0, 2, 2].into(), 5353, 53, b"query")?;
    /// # let ip = Ip::parse(&packet)?;
    /// # let Transport::Udp(udp) = ip.transport() else { unreachable!() };
    /// assert_eq!(ip.bytes(), &packet[..]);
    /// assert_eq!(ip.bytes().len(), ip.captured_len());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// IPv4 or IPv6.
    ///
    /// ```
    /// use netfilter::payload::IpVersion;
    /// # use netfilter::payload::{Ip, Transport};
    /// # use netfilter_testkit::synth::payload;
    /// # let packet = payload::ipv4_udp([192, 0, 2, 1].into(), [192, 0, 2, 2].into(), 5353, 53, b"query")?;
    /// # let ip = Ip::parse(&packet)?;
    /// # let Transport::Udp(udp) = ip.transport() else { unreachable!() };
    /// assert_eq!(ip.version(), IpVersion::V4);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn version(&self) -> IpVersion {
        self.version
    }

    /// The source address.
    ///
    /// ```
    /// use std::net::IpAddr;
    /// use netfilter::payload::Ip;
    /// use netfilter_testkit::synth::payload;
    ///
    /// let packet = payload::ipv6_udp("2001:db8::1".parse()?, "2001:db8::2".parse()?, 1, 2, b"")?;
    /// let ip = Ip::parse(&packet)?;
    /// assert_eq!(ip.source(), "2001:db8::1".parse::<IpAddr>()?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn source(&self) -> IpAddr {
        self.address(true)
    }

    /// The destination address (for IPv6, the one in the IPv6 header: with a routing header
    /// this is the next hop, not the final destination).
    ///
    /// ```
    /// use std::net::{IpAddr, Ipv4Addr};
    /// # use netfilter::payload::{Ip, Transport};
    /// # use netfilter_testkit::synth::payload;
    /// # let packet = payload::ipv4_udp([192, 0, 2, 1].into(), [192, 0, 2, 2].into(), 5353, 53, b"query")?;
    /// # let ip = Ip::parse(&packet)?;
    /// # let Transport::Udp(udp) = ip.transport() else { unreachable!() };
    /// assert_eq!(ip.destination(), IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn destination(&self) -> IpAddr {
        self.address(false)
    }

    fn address(&self, source: bool) -> IpAddr {
        match self.version {
            IpVersion::V4 => {
                let at = if source { 12 } else { 16 };
                let mut octets = [0u8; 4];
                if let Some(src) = self.bytes.get(at..at + 4) {
                    octets.copy_from_slice(src);
                }
                IpAddr::V4(Ipv4Addr::from(octets))
            }
            IpVersion::V6 => {
                let at = if source { 8 } else { 24 };
                let mut octets = [0u8; 16];
                if let Some(src) = self.bytes.get(at..at + 16) {
                    octets.copy_from_slice(src);
                }
                IpAddr::V6(Ipv6Addr::from(octets))
            }
        }
    }

    /// The transport protocol number (`6` TCP, `17` UDP, `1` ICMP, `58` ICMPv6, ...): the
    /// IPv4 protocol field, or for IPv6 the next header after the extension headers.
    ///
    /// When an extension header is cut or malformed, this is that extension header's number
    /// and [`transport`](Self::transport) is [`Transport::Truncated`] or
    /// [`Transport::Malformed`].
    ///
    /// ```
    /// # use netfilter::payload::{Ip, TcpFlags, Transport};
    /// # use netfilter_testkit::synth::payload;
    /// # let packet = payload::ipv4_tcp_data([192, 0, 2, 1].into(), [192, 0, 2, 2].into(), 40000, 80, 1000, 2000, b"GET /")?;
    /// # let ip = Ip::parse(&packet)?;
    /// # let Transport::Tcp(tcp) = ip.transport() else { unreachable!() };
    /// assert_eq!(ip.protocol(), 6); // TCP
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn protocol(&self) -> u8 {
        self.protocol
    }

    /// The length of the headers in front of the transport header: the IPv4 header with its
    /// options (and an authentication header), or the IPv6 header with its extension headers.
    ///
    /// ```
    /// # use netfilter::payload::{Ip, Transport};
    /// # use netfilter_testkit::synth::payload;
    /// # let packet = payload::ipv4_udp([192, 0, 2, 1].into(), [192, 0, 2, 2].into(), 5353, 53, b"query")?;
    /// # let ip = Ip::parse(&packet)?;
    /// # let Transport::Udp(udp) = ip.transport() else { unreachable!() };
    /// assert_eq!(ip.header_len(), 20); // no IPv4 options
    /// assert_eq!(&ip.bytes()[ip.header_len()..][..2], &5353u16.to_be_bytes()); // the UDP header
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn header_len(&self) -> usize {
        self.header_len
    }

    /// The packet's length according to its IP header (IPv4 total length; IPv6 40 plus the
    /// payload length), or `None` when the header does not say (an IPv6 jumbogram, or a GSO
    /// super-packet over 64 KiB whose length field is 0).
    ///
    /// ```
    /// # use netfilter::payload::{Ip, Transport};
    /// # use netfilter_testkit::synth::payload;
    /// # let packet = payload::ipv4_udp([192, 0, 2, 1].into(), [192, 0, 2, 2].into(), 5353, 53, b"query")?;
    /// # let ip = Ip::parse(&packet)?;
    /// # let Transport::Udp(udp) = ip.transport() else { unreachable!() };
    /// assert_eq!(ip.total_len(), Some(20 + 8 + 5));
    /// // The header's word holds even when the copy range cut the bytes.
    /// assert_eq!(Ip::parse(&packet[..20])?.total_len(), Some(33));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn total_len(&self) -> Option<usize> {
        self.total_len
    }

    /// The number of bytes delivered (the copy range may have cut the packet).
    ///
    /// ```
    /// # use netfilter::payload::{Ip, Transport};
    /// # use netfilter_testkit::synth::payload;
    /// # let packet = payload::ipv4_udp([192, 0, 2, 1].into(), [192, 0, 2, 2].into(), 5353, 53, b"query")?;
    /// # let ip = Ip::parse(&packet)?;
    /// # let Transport::Udp(udp) = ip.transport() else { unreachable!() };
    /// let cut = Ip::parse(&packet[..30])?;
    /// assert_eq!((cut.captured_len(), cut.total_len()), (30, Some(33)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn captured_len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether the delivered bytes are fewer than the IP header says the packet holds, or an
    /// extension header is cut.
    ///
    /// This trusts the IP header's length field; the queue's `cap_len` (`NFQA_CAP_LEN`) is the
    /// kernel's own word on truncation, and the only one for packets whose
    /// [`total_len`](Self::total_len) is `None`.
    ///
    /// ```
    /// # use netfilter::payload::{Ip, Transport};
    /// # use netfilter_testkit::synth::payload;
    /// # let packet = payload::ipv4_udp([192, 0, 2, 1].into(), [192, 0, 2, 2].into(), 5353, 53, b"query")?;
    /// # let ip = Ip::parse(&packet)?;
    /// # let Transport::Udp(udp) = ip.transport() else { unreachable!() };
    /// assert!(!ip.is_truncated());
    /// assert!(Ip::parse(&packet[..32])?.is_truncated());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_truncated(&self) -> bool {
        self.walk == HeaderWalk::Cut || self.total_len.is_some_and(|len| self.bytes.len() < len)
    }

    /// The IPv4 TTL or IPv6 hop limit.
    ///
    /// ```
    /// # use netfilter::payload::{Ip, Transport};
    /// # use netfilter_testkit::synth::payload;
    /// # let packet = payload::ipv4_udp([192, 0, 2, 1].into(), [192, 0, 2, 2].into(), 5353, 53, b"query")?;
    /// # let ip = Ip::parse(&packet)?;
    /// # let Transport::Udp(udp) = ip.transport() else { unreachable!() };
    /// assert_eq!(ip.ttl(), payload::DEFAULT_TTL);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn ttl(&self) -> u8 {
        match self.version {
            IpVersion::V4 => self.bytes.get(8).copied().unwrap_or(0),
            IpVersion::V6 => self.bytes.get(7).copied().unwrap_or(0),
        }
    }

    /// The IPv4 type of service or IPv6 traffic class byte (DSCP and ECN).
    ///
    /// ```
    /// # use netfilter::payload::{Ip, Transport};
    /// # use netfilter_testkit::synth::payload;
    /// # let packet = payload::ipv4_udp([192, 0, 2, 1].into(), [192, 0, 2, 2].into(), 5353, 53, b"query")?;
    /// # let ip = Ip::parse(&packet)?;
    /// # let Transport::Udp(udp) = ip.transport() else { unreachable!() };
    /// assert_eq!(ip.traffic_class(), 0);
    /// let mut marked = packet.clone();
    /// marked[1] = 0xb8; // DSCP EF (46), not ECN-capable
    /// assert_eq!(Ip::parse(&marked)?.traffic_class() >> 2, 46);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn traffic_class(&self) -> u8 {
        match self.version {
            IpVersion::V4 => self.bytes.get(1).copied().unwrap_or(0),
            IpVersion::V6 => {
                let word = be16(self.bytes, 0);
                // Version (4 bits), then the traffic class (8 bits).
                ((word >> 4) & 0xff) as u8
            }
        }
    }

    /// Whether the packet is a fragment (first or later) of a larger datagram.
    ///
    /// ```
    /// # use netfilter::payload::{Ip, Transport};
    /// # use netfilter_testkit::synth::payload;
    /// # let packet = payload::ipv4_udp([192, 0, 2, 1].into(), [192, 0, 2, 2].into(), 5353, 53, b"query")?;
    /// # let ip = Ip::parse(&packet)?;
    /// # let Transport::Udp(udp) = ip.transport() else { unreachable!() };
    /// assert!(!ip.is_fragment());
    /// let mut first = packet.clone();
    /// first[6] |= 0x20; // more fragments follow
    /// assert!(Ip::parse(&first)?.is_fragment());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_fragment(&self) -> bool {
        self.fragment_offset != 0 || self.more_fragments
    }

    /// The fragment's offset in bytes in its datagram (0 when not a fragment, or the first).
    ///
    /// ```
    /// # use netfilter::payload::{Ip, Transport};
    /// # use netfilter_testkit::synth::payload;
    /// # let packet = payload::ipv4_udp([192, 0, 2, 1].into(), [192, 0, 2, 2].into(), 5353, 53, b"query")?;
    /// # let ip = Ip::parse(&packet)?;
    /// # let Transport::Udp(udp) = ip.transport() else { unreachable!() };
    /// let mut later = packet.clone();
    /// later[6..8].copy_from_slice(&3u16.to_be_bytes()); // offset 3 units of 8 bytes
    /// let later = Ip::parse(&later)?;
    /// assert_eq!(later.fragment_offset(), 24);
    /// assert!(matches!(later.transport(), Transport::Fragment { protocol: 17, .. }));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn fragment_offset(&self) -> u16 {
        self.fragment_offset
    }

    /// The bytes after the headers that [`header_len`](Self::header_len) counts, up to the
    /// packet's length (or what was delivered).
    ///
    /// ```
    /// # use netfilter::payload::{Ip, Transport};
    /// # use netfilter_testkit::synth::payload;
    /// # let packet = payload::ipv4_udp([192, 0, 2, 1].into(), [192, 0, 2, 2].into(), 5353, 53, b"query")?;
    /// # let ip = Ip::parse(&packet)?;
    /// # let Transport::Udp(udp) = ip.transport() else { unreachable!() };
    /// assert_eq!(ip.ip_payload().len(), 8 + 5); // UDP header and data
    /// assert!(ip.ip_payload().ends_with(b"query"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn ip_payload(&self) -> &'a [u8] {
        let end = self
            .total_len
            .map_or(self.bytes.len(), |len| len.min(self.bytes.len()));
        self.bytes.get(self.header_len..end).unwrap_or(&[])
    }

    /// The transport segment's length according to the IP header, when known.
    fn segment_len(&self) -> usize {
        self.total_len.map_or(self.ip_payload().len(), |len| {
            len.saturating_sub(self.header_len)
        })
    }

    /// The transport layer.
    ///
    /// ```
    /// # use netfilter::payload::{Ip, Transport};
    /// # use netfilter_testkit::synth::payload;
    /// # let packet = payload::ipv4_udp([192, 0, 2, 1].into(), [192, 0, 2, 2].into(), 5353, 53, b"query")?;
    /// # let ip = Ip::parse(&packet)?;
    /// # let Transport::Udp(udp) = ip.transport() else { unreachable!() };
    /// match ip.transport() {
    ///     Transport::Udp(udp) => assert_eq!(udp.payload(), b"query"),
    ///     other => panic!("not UDP: {other:?}"),
    /// }
    /// // The copy range cut the UDP header.
    /// assert!(matches!(Ip::parse(&packet[..24])?.transport(), Transport::Truncated { protocol: 17, .. }));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn transport(&self) -> Transport<'a> {
        let bytes = self.ip_payload();
        let protocol = self.protocol;
        match self.walk {
            HeaderWalk::Cut => return Transport::Truncated { protocol, bytes },
            HeaderWalk::Malformed => return Transport::Malformed { protocol, bytes },
            HeaderWalk::Complete => {}
        }
        if self.fragment_offset != 0 {
            return Transport::Fragment { protocol, bytes };
        }
        let segment_len = self.segment_len();
        match (protocol, self.version) {
            (PROTO_TCP, _) => {
                if bytes.len() < TCP_MIN_HEADER {
                    return Transport::Truncated { protocol, bytes };
                }
                let tcp = Tcp { bytes, segment_len };
                if tcp.header_len() < TCP_MIN_HEADER {
                    return Transport::Malformed { protocol, bytes };
                }
                Transport::Tcp(tcp)
            }
            (PROTO_UDP, _) => {
                if bytes.len() < UDP_HEADER {
                    return Transport::Truncated { protocol, bytes };
                }
                Transport::Udp(Udp { bytes, segment_len })
            }
            (PROTO_ICMP, IpVersion::V4) | (PROTO_ICMPV6, IpVersion::V6) => {
                if bytes.len() < 4 {
                    return Transport::Truncated { protocol, bytes };
                }
                let icmp = Icmp { bytes, segment_len };
                if protocol == PROTO_ICMP {
                    Transport::Icmp(icmp)
                } else {
                    Transport::Icmpv6(icmp)
                }
            }
            _ => Transport::Other { protocol, bytes },
        }
    }

    /// The source and destination ports, for TCP, UDP, UDP-Lite, SCTP and DCCP, whenever
    /// their first four bytes were delivered (even if the rest of the header is cut).
    ///
    /// ```
    /// # use netfilter::payload::{Ip, TcpFlags, Transport};
    /// # use netfilter_testkit::synth::payload;
    /// # let packet = payload::ipv4_tcp_data([192, 0, 2, 1].into(), [192, 0, 2, 2].into(), 40000, 80, 1000, 2000, b"GET /")?;
    /// # let ip = Ip::parse(&packet)?;
    /// # let Transport::Tcp(tcp) = ip.transport() else { unreachable!() };
    /// assert_eq!(ip.ports(), Some((40000, 80)));
    /// let icmp = payload::ipv4_icmp_echo([192, 0, 2, 1].into(), [192, 0, 2, 2].into(), 1, 1, b"")?;
    /// assert_eq!(Ip::parse(&icmp)?.ports(), None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn ports(&self) -> Option<(u16, u16)> {
        if self.walk != HeaderWalk::Complete || self.fragment_offset != 0 {
            return None;
        }
        match self.protocol {
            PROTO_TCP | PROTO_UDP | PROTO_UDPLITE | PROTO_SCTP | PROTO_DCCP => {
                let bytes = self.ip_payload();
                (bytes.len() >= 4).then(|| (be16(bytes, 0), be16(bytes, 2)))
            }
            _ => None,
        }
    }
}

/// One line: the protocol and the addresses, with ports for TCP, UDP, UDP-Lite, SCTP and DCCP
/// and type/code for ICMP (`UDP 10.0.0.1:4000 -> 10.0.0.2:53`,
/// `ICMPV6 [fe80::1] -> [ff02::1] type 135 code 0`, `proto 47 10.0.0.1 -> 10.0.0.2`).
///
/// ```
/// use netfilter::payload::Ip;
/// use netfilter_testkit::synth::payload::ipv4_udp;
///
/// let datagram = ipv4_udp([10, 0, 0, 1].into(), [10, 0, 0, 2].into(), 4000, 53, b"q").unwrap();
/// assert_eq!(Ip::parse(&datagram).unwrap().to_string(), "UDP 10.0.0.1:4000 -> 10.0.0.2:53");
/// ```
impl std::fmt::Display for Ip<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.protocol {
            PROTO_ICMP => f.write_str("ICMP")?,
            PROTO_TCP => f.write_str("TCP")?,
            PROTO_UDP => f.write_str("UDP")?,
            PROTO_DCCP => f.write_str("DCCP")?,
            PROTO_ICMPV6 => f.write_str("ICMPV6")?,
            PROTO_SCTP => f.write_str("SCTP")?,
            PROTO_UDPLITE => f.write_str("UDPLITE")?,
            other => write!(f, "proto {other}")?,
        }
        let host = |addr: IpAddr| match addr {
            IpAddr::V4(v4) => v4.to_string(),
            IpAddr::V6(v6) => format!("[{v6}]"),
        };
        let (src, dst) = (host(self.source()), host(self.destination()));
        match (self.ports(), self.transport()) {
            (Some((sport, dport)), _) => write!(f, " {src}:{sport} -> {dst}:{dport}"),
            (None, Transport::Icmp(icmp) | Transport::Icmpv6(icmp)) => write!(
                f,
                " {src} -> {dst} type {} code {}",
                icmp.message_type(),
                icmp.code()
            ),
            (None, _) => write!(f, " {src} -> {dst}"),
        }
    }
}

/// Writes what `Display` of a queued or logged packet says about its content: the
/// [`Ip`] line and `len` bytes (the packet's real length); `N bytes` alone when the payload
/// is not an IP packet (or is cut inside its header), `no payload` when none was copied.
pub(crate) fn write_summary(
    f: &mut std::fmt::Formatter<'_>,
    payload: &[u8],
    copied: bool,
    len: usize,
) -> std::fmt::Result {
    if !copied {
        return f.write_str("no payload");
    }
    match Ip::parse(payload) {
        Ok(ip) => write!(f, "{ip}, {len} bytes"),
        Err(_) => write!(f, "{len} bytes"),
    }
}

/// The transport layer of an [`Ip`] view.
///
/// ```
/// use netfilter::payload::{Ip, Transport};
/// use netfilter_testkit::synth::payload;
///
/// fn describe(packet: &[u8]) -> String {
///     let Ok(ip) = Ip::parse(packet) else { return "not IP".into() };
///     match ip.transport() {
///         Transport::Tcp(tcp) => format!("tcp to {}", tcp.destination_port()),
///         Transport::Udp(udp) => format!("udp to {}", udp.destination_port()),
///         Transport::Icmp(icmp) | Transport::Icmpv6(icmp) => format!("icmp {}", icmp.message_type()),
///         Transport::Truncated { protocol, .. } => format!("protocol {protocol}, cut"),
///         _ => "other".into(),
///     }
/// }
/// let (a, b) = ([192, 0, 2, 1].into(), [192, 0, 2, 2].into());
/// assert_eq!(describe(&payload::ipv4_tcp_syn(a, b, 1, 443, 0)?), "tcp to 443");
/// assert_eq!(describe(&payload::ipv4_udp(a, b, 1, 53, b"")?), "udp to 53");
/// assert_eq!(describe(&payload::ipv4_icmp_echo(a, b, 1, 1, b"")?), "icmp 8");
/// assert_eq!(describe(&payload::ipv4_tcp_syn(a, b, 1, 443, 0)?[..30]), "protocol 6, cut");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum Transport<'a> {
    /// A TCP segment whose fixed 20-byte header was delivered.
    Tcp(Tcp<'a>),
    /// A UDP datagram whose 8-byte header was delivered.
    Udp(Udp<'a>),
    /// An ICMP (IPv4) message whose first 4 bytes were delivered.
    Icmp(Icmp<'a>),
    /// An ICMPv6 message whose first 4 bytes were delivered.
    Icmpv6(Icmp<'a>),
    /// The transport header (or an extension header in front of it) is cut by the copy
    /// range; `bytes` is what was delivered of it. [`Ip::ports`] may still give the ports.
    Truncated {
        /// The protocol whose header is cut (an extension header's number if that is cut).
        protocol: u8,
        /// The bytes delivered from that header on.
        bytes: &'a [u8],
    },
    /// A later fragment of a fragmented datagram: no transport header.
    Fragment {
        /// The datagram's transport protocol.
        protocol: u8,
        /// The fragment's data.
        bytes: &'a [u8],
    },
    /// A malformed header (an extension header, or a TCP data offset under 5).
    Malformed {
        /// The protocol of the malformed header.
        protocol: u8,
        /// The bytes from that header on.
        bytes: &'a [u8],
    },
    /// Another protocol (ESP, GRE, SCTP, ...), not decoded.
    Other {
        /// The protocol number.
        protocol: u8,
        /// The bytes from its header on.
        bytes: &'a [u8],
    },
}

bitflags::bitflags! {
    /// The flags of a TCP header.
    ///
    /// ```
    /// # use netfilter::payload::{Ip, TcpFlags, Transport};
    /// # use netfilter_testkit::synth::payload;
    /// # let packet = payload::ipv4_tcp_data([192, 0, 2, 1].into(), [192, 0, 2, 2].into(), 40000, 80, 1000, 2000, b"GET /")?;
    /// # let ip = Ip::parse(&packet)?;
    /// # let Transport::Tcp(tcp) = ip.transport() else { unreachable!() };
    /// assert_eq!(tcp.flags(), TcpFlags::PSH | TcpFlags::ACK);
    /// let syn = payload::ipv4_tcp_syn([192, 0, 2, 1].into(), [192, 0, 2, 2].into(), 1, 2, 0)?;
    /// let Transport::Tcp(syn) = Ip::parse(&syn)?.transport() else { unreachable!() };
    /// assert!(syn.flags().contains(TcpFlags::SYN) && !syn.flags().contains(TcpFlags::ACK));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct TcpFlags: u16 {
        /// No more data from the sender.
        const FIN = 0x001;
        /// Synchronise sequence numbers.
        const SYN = 0x002;
        /// Reset the connection.
        const RST = 0x004;
        /// Push.
        const PSH = 0x008;
        /// The acknowledgement number is significant.
        const ACK = 0x010;
        /// The urgent pointer is significant.
        const URG = 0x020;
        /// ECN echo.
        const ECE = 0x040;
        /// Congestion window reduced.
        const CWR = 0x080;
        /// Accurate ECN (RFC 9768; formerly the NS bit).
        const AE = 0x100;
    }
}

/// A TCP segment; at least its fixed 20-byte header was delivered.
///
/// ```
/// use netfilter::payload::{Ip, TcpFlags, Transport};
/// use netfilter_testkit::synth::payload;
///
/// let packet = payload::ipv4_tcp_data([192, 0, 2, 1].into(), [192, 0, 2, 2].into(), 40000, 80, 1000, 2000, b"GET /")?;
/// let Transport::Tcp(tcp) = Ip::parse(&packet)?.transport() else { panic!("not TCP") };
/// assert_eq!((tcp.source_port(), tcp.destination_port()), (40000, 80));
/// assert_eq!((tcp.sequence(), tcp.acknowledgement()), (1000, 2000));
/// assert!(tcp.flags().contains(TcpFlags::ACK));
/// assert_eq!(tcp.payload(), b"GET /");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Tcp<'a> {
    bytes: &'a [u8],
    segment_len: usize,
}

impl<'a> Tcp<'a> {
    /// The source port.
    ///
    /// ```
    /// # use netfilter::payload::{Ip, TcpFlags, Transport};
    /// # use netfilter_testkit::synth::payload;
    /// # let packet = payload::ipv4_tcp_data([192, 0, 2, 1].into(), [192, 0, 2, 2].into(), 40000, 80, 1000, 2000, b"GET /")?;
    /// # let ip = Ip::parse(&packet)?;
    /// # let Transport::Tcp(tcp) = ip.transport() else { unreachable!() };
    /// assert_eq!(tcp.source_port(), 40000);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn source_port(&self) -> u16 {
        be16(self.bytes, 0)
    }

    /// The destination port.
    ///
    /// ```
    /// # use netfilter::payload::{Ip, TcpFlags, Transport};
    /// # use netfilter_testkit::synth::payload;
    /// # let packet = payload::ipv4_tcp_data([192, 0, 2, 1].into(), [192, 0, 2, 2].into(), 40000, 80, 1000, 2000, b"GET /")?;
    /// # let ip = Ip::parse(&packet)?;
    /// # let Transport::Tcp(tcp) = ip.transport() else { unreachable!() };
    /// assert_eq!(tcp.destination_port(), 80);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn destination_port(&self) -> u16 {
        be16(self.bytes, 2)
    }

    /// The sequence number.
    ///
    /// ```
    /// # use netfilter::payload::{Ip, TcpFlags, Transport};
    /// # use netfilter_testkit::synth::payload;
    /// # let packet = payload::ipv4_tcp_data([192, 0, 2, 1].into(), [192, 0, 2, 2].into(), 40000, 80, 1000, 2000, b"GET /")?;
    /// # let ip = Ip::parse(&packet)?;
    /// # let Transport::Tcp(tcp) = ip.transport() else { unreachable!() };
    /// assert_eq!(tcp.sequence(), 1000);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn sequence(&self) -> u32 {
        be32(self.bytes, 4)
    }

    /// The acknowledgement number (significant with [`TcpFlags::ACK`]).
    ///
    /// ```
    /// # use netfilter::payload::{Ip, TcpFlags, Transport};
    /// # use netfilter_testkit::synth::payload;
    /// # let packet = payload::ipv4_tcp_data([192, 0, 2, 1].into(), [192, 0, 2, 2].into(), 40000, 80, 1000, 2000, b"GET /")?;
    /// # let ip = Ip::parse(&packet)?;
    /// # let Transport::Tcp(tcp) = ip.transport() else { unreachable!() };
    /// assert!(tcp.flags().contains(TcpFlags::ACK));
    /// assert_eq!(tcp.acknowledgement(), 2000);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn acknowledgement(&self) -> u32 {
        be32(self.bytes, 8)
    }

    /// The data offset field: the header's length in 32-bit words.
    ///
    /// ```
    /// # use netfilter::payload::{Ip, TcpFlags, Transport};
    /// # use netfilter_testkit::synth::payload;
    /// # let packet = payload::ipv4_tcp_data([192, 0, 2, 1].into(), [192, 0, 2, 2].into(), 40000, 80, 1000, 2000, b"GET /")?;
    /// # let ip = Ip::parse(&packet)?;
    /// # let Transport::Tcp(tcp) = ip.transport() else { unreachable!() };
    /// assert_eq!(tcp.data_offset(), 5); // 5 words: no options
    /// assert_eq!(usize::from(tcp.data_offset()) * 4, tcp.header_len());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn data_offset(&self) -> u8 {
        self.bytes.get(12).map_or(0, |byte| byte >> 4)
    }

    /// The header's length in bytes, options included.
    ///
    /// ```
    /// # use netfilter::payload::{Ip, TcpFlags, Transport};
    /// # use netfilter_testkit::synth::payload;
    /// # let packet = payload::ipv4_tcp_data([192, 0, 2, 1].into(), [192, 0, 2, 2].into(), 40000, 80, 1000, 2000, b"GET /")?;
    /// # let ip = Ip::parse(&packet)?;
    /// # let Transport::Tcp(tcp) = ip.transport() else { unreachable!() };
    /// assert_eq!(tcp.header_len(), 20);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn header_len(&self) -> usize {
        usize::from(self.data_offset()) * 4
    }

    /// The flags.
    ///
    /// ```
    /// # use netfilter::payload::{Ip, TcpFlags, Transport};
    /// # use netfilter_testkit::synth::payload;
    /// # let packet = payload::ipv4_tcp_data([192, 0, 2, 1].into(), [192, 0, 2, 2].into(), 40000, 80, 1000, 2000, b"GET /")?;
    /// # let ip = Ip::parse(&packet)?;
    /// # let Transport::Tcp(tcp) = ip.transport() else { unreachable!() };
    /// assert_eq!(tcp.flags(), TcpFlags::PSH | TcpFlags::ACK);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn flags(&self) -> TcpFlags {
        TcpFlags::from_bits_retain(be16(self.bytes, 12) & 0x1ff)
    }

    /// The receive window (unscaled).
    ///
    /// ```
    /// # use netfilter::payload::{Ip, TcpFlags, Transport};
    /// # use netfilter_testkit::synth::payload;
    /// # let packet = payload::ipv4_tcp_data([192, 0, 2, 1].into(), [192, 0, 2, 2].into(), 40000, 80, 1000, 2000, b"GET /")?;
    /// # let ip = Ip::parse(&packet)?;
    /// # let Transport::Tcp(tcp) = ip.transport() else { unreachable!() };
    /// assert_eq!(tcp.window(), payload::TCP_WINDOW);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn window(&self) -> u16 {
        be16(self.bytes, 14)
    }

    /// The checksum field as delivered (with [`SkbInfo::CSUMNOTREADY`], only the
    /// pseudo-header sum).
    ///
    /// ```
    /// # use netfilter::payload::{Ip, TcpFlags, Transport};
    /// # use netfilter_testkit::synth::payload;
    /// # let packet = payload::ipv4_tcp_data([192, 0, 2, 1].into(), [192, 0, 2, 2].into(), 40000, 80, 1000, 2000, b"GET /")?;
    /// # let ip = Ip::parse(&packet)?;
    /// # let Transport::Tcp(tcp) = ip.transport() else { unreachable!() };
    /// // A complete checksum: fixing the checksums from scratch leaves it as it is.
    /// let mut fixed = packet.clone();
    /// netfilter::payload::fix_checksums(&mut fixed)?;
    /// assert_eq!(fixed, packet);
    /// assert_ne!(tcp.checksum(), 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn checksum(&self) -> u16 {
        be16(self.bytes, 16)
    }

    /// The urgent pointer.
    ///
    /// ```
    /// # use netfilter::payload::{Ip, TcpFlags, Transport};
    /// # use netfilter_testkit::synth::payload;
    /// # let packet = payload::ipv4_tcp_data([192, 0, 2, 1].into(), [192, 0, 2, 2].into(), 40000, 80, 1000, 2000, b"GET /")?;
    /// # let ip = Ip::parse(&packet)?;
    /// # let Transport::Tcp(tcp) = ip.transport() else { unreachable!() };
    /// assert!(!tcp.flags().contains(TcpFlags::URG));
    /// assert_eq!(tcp.urgent_pointer(), 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn urgent_pointer(&self) -> u16 {
        be16(self.bytes, 18)
    }

    /// The options, or `None` when the copy range cut them.
    ///
    /// ```
    /// # use netfilter::payload::{Ip, TcpFlags, Transport};
    /// # use netfilter_testkit::synth::payload;
    /// # let packet = payload::ipv4_tcp_data([192, 0, 2, 1].into(), [192, 0, 2, 2].into(), 40000, 80, 1000, 2000, b"GET /")?;
    /// # let ip = Ip::parse(&packet)?;
    /// # let Transport::Tcp(tcp) = ip.transport() else { unreachable!() };
    /// assert_eq!(tcp.options(), Some(&[][..])); // none, and none cut
    /// let mut with_mss = Vec::new();
    /// etherparse::PacketBuilder::ipv4([192, 0, 2, 1], [192, 0, 2, 2], 64)
    ///     .tcp(1, 2, 0, 1024)
    ///     .syn()
    ///     .options_raw(&[2, 4, 0x05, 0xb4])? // MSS 1460
    ///     .write(&mut with_mss, &[])?;
    /// let Transport::Tcp(syn) = Ip::parse(&with_mss)?.transport() else { unreachable!() };
    /// assert_eq!((syn.header_len(), syn.options()), (24, Some(&[2, 4, 0x05, 0xb4][..])));
    /// let Transport::Tcp(cut) = Ip::parse(&with_mss[..42])?.transport() else { unreachable!() };
    /// assert_eq!(cut.options(), None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn options(&self) -> Option<&'a [u8]> {
        self.bytes.get(TCP_MIN_HEADER..self.header_len())
    }

    /// The data bytes delivered (empty when the header itself is cut).
    ///
    /// ```
    /// # use netfilter::payload::{Ip, TcpFlags, Transport};
    /// # use netfilter_testkit::synth::payload;
    /// # let packet = payload::ipv4_tcp_data([192, 0, 2, 1].into(), [192, 0, 2, 2].into(), 40000, 80, 1000, 2000, b"GET /")?;
    /// # let ip = Ip::parse(&packet)?;
    /// # let Transport::Tcp(tcp) = ip.transport() else { unreachable!() };
    /// assert_eq!(tcp.payload(), b"GET /");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn payload(&self) -> &'a [u8] {
        self.bytes.get(self.header_len()..).unwrap_or(&[])
    }

    /// The data's length according to the IP header (may exceed `payload().len()` when the
    /// packet is cut).
    ///
    /// ```
    /// # use netfilter::payload::{Ip, TcpFlags, Transport};
    /// # use netfilter_testkit::synth::payload;
    /// # let packet = payload::ipv4_tcp_data([192, 0, 2, 1].into(), [192, 0, 2, 2].into(), 40000, 80, 1000, 2000, b"GET /")?;
    /// # let ip = Ip::parse(&packet)?;
    /// # let Transport::Tcp(tcp) = ip.transport() else { unreachable!() };
    /// let Transport::Tcp(cut) = Ip::parse(&packet[..42])?.transport() else { unreachable!() };
    /// assert_eq!((cut.payload(), cut.payload_len()), (&b"GE"[..], 5));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn payload_len(&self) -> usize {
        self.segment_len.saturating_sub(self.header_len())
    }

    /// Whether the copy range cut the segment (header options or data).
    ///
    /// ```
    /// # use netfilter::payload::{Ip, TcpFlags, Transport};
    /// # use netfilter_testkit::synth::payload;
    /// # let packet = payload::ipv4_tcp_data([192, 0, 2, 1].into(), [192, 0, 2, 2].into(), 40000, 80, 1000, 2000, b"GET /")?;
    /// # let ip = Ip::parse(&packet)?;
    /// # let Transport::Tcp(tcp) = ip.transport() else { unreachable!() };
    /// assert!(!tcp.is_truncated());
    /// let Transport::Tcp(cut) = Ip::parse(&packet[..42])?.transport() else { unreachable!() };
    /// assert!(cut.is_truncated());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_truncated(&self) -> bool {
        self.bytes.len() < self.segment_len || self.bytes.len() < self.header_len()
    }
}

/// A UDP datagram; at least its 8-byte header was delivered.
///
/// ```
/// use netfilter::payload::{Ip, Transport};
/// use netfilter_testkit::synth::payload;
///
/// let packet = payload::ipv6_udp("2001:db8::1".parse()?, "2001:db8::2".parse()?, 5353, 53, b"query")?;
/// let Transport::Udp(udp) = Ip::parse(&packet)?.transport() else { panic!("not UDP") };
/// assert_eq!((udp.source_port(), udp.destination_port()), (5353, 53));
/// assert_eq!((udp.length(), udp.payload()), (13, &b"query"[..]));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Udp<'a> {
    bytes: &'a [u8],
    segment_len: usize,
}

impl<'a> Udp<'a> {
    /// The source port.
    ///
    /// ```
    /// # use netfilter::payload::{Ip, Transport};
    /// # use netfilter_testkit::synth::payload;
    /// # let packet = payload::ipv4_udp([192, 0, 2, 1].into(), [192, 0, 2, 2].into(), 5353, 53, b"query")?;
    /// # let ip = Ip::parse(&packet)?;
    /// # let Transport::Udp(udp) = ip.transport() else { unreachable!() };
    /// assert_eq!(udp.source_port(), 5353);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn source_port(&self) -> u16 {
        be16(self.bytes, 0)
    }

    /// The destination port.
    ///
    /// ```
    /// # use netfilter::payload::{Ip, Transport};
    /// # use netfilter_testkit::synth::payload;
    /// # let packet = payload::ipv4_udp([192, 0, 2, 1].into(), [192, 0, 2, 2].into(), 5353, 53, b"query")?;
    /// # let ip = Ip::parse(&packet)?;
    /// # let Transport::Udp(udp) = ip.transport() else { unreachable!() };
    /// assert_eq!(udp.destination_port(), 53);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn destination_port(&self) -> u16 {
        be16(self.bytes, 2)
    }

    /// The length field: header and data, in bytes.
    ///
    /// ```
    /// # use netfilter::payload::{Ip, Transport};
    /// # use netfilter_testkit::synth::payload;
    /// # let packet = payload::ipv4_udp([192, 0, 2, 1].into(), [192, 0, 2, 2].into(), 5353, 53, b"query")?;
    /// # let ip = Ip::parse(&packet)?;
    /// # let Transport::Udp(udp) = ip.transport() else { unreachable!() };
    /// assert_eq!(udp.length(), 8 + 5);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn length(&self) -> u16 {
        be16(self.bytes, 4)
    }

    /// The checksum field as delivered (0: none, IPv4 only; with
    /// [`SkbInfo::CSUMNOTREADY`], only the pseudo-header sum).
    ///
    /// ```
    /// # use netfilter::payload::{Ip, Transport};
    /// # use netfilter_testkit::synth::payload;
    /// # let packet = payload::ipv4_udp([192, 0, 2, 1].into(), [192, 0, 2, 2].into(), 5353, 53, b"query")?;
    /// # let ip = Ip::parse(&packet)?;
    /// # let Transport::Udp(udp) = ip.transport() else { unreachable!() };
    /// assert_ne!(udp.checksum(), 0); // computed (0 would mean none, IPv4 only)
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn checksum(&self) -> u16 {
        be16(self.bytes, 6)
    }

    /// The data's length: the length field's, or, when that field is not credible (under 8 or
    /// beyond the IP packet, as in GSO super-packets), what the IP header leaves for it.
    ///
    /// ```
    /// # use netfilter::payload::{Ip, Transport};
    /// # use netfilter_testkit::synth::payload;
    /// # let packet = payload::ipv4_udp([192, 0, 2, 1].into(), [192, 0, 2, 2].into(), 5353, 53, b"query")?;
    /// # let ip = Ip::parse(&packet)?;
    /// # let Transport::Udp(udp) = ip.transport() else { unreachable!() };
    /// let Transport::Udp(cut) = Ip::parse(&packet[..30])?.transport() else { unreachable!() };
    /// assert_eq!((cut.payload(), cut.payload_len()), (&b"qu"[..], 5));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn payload_len(&self) -> usize {
        let field = usize::from(self.length());
        if (UDP_HEADER..=self.segment_len).contains(&field) {
            field - UDP_HEADER
        } else {
            self.segment_len.saturating_sub(UDP_HEADER)
        }
    }

    /// The data bytes delivered.
    ///
    /// ```
    /// # use netfilter::payload::{Ip, Transport};
    /// # use netfilter_testkit::synth::payload;
    /// # let packet = payload::ipv4_udp([192, 0, 2, 1].into(), [192, 0, 2, 2].into(), 5353, 53, b"query")?;
    /// # let ip = Ip::parse(&packet)?;
    /// # let Transport::Udp(udp) = ip.transport() else { unreachable!() };
    /// assert_eq!(udp.payload(), b"query");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn payload(&self) -> &'a [u8] {
        let end = (UDP_HEADER + self.payload_len()).min(self.bytes.len());
        self.bytes.get(UDP_HEADER..end).unwrap_or(&[])
    }

    /// Whether the copy range cut the datagram.
    ///
    /// ```
    /// # use netfilter::payload::{Ip, Transport};
    /// # use netfilter_testkit::synth::payload;
    /// # let packet = payload::ipv4_udp([192, 0, 2, 1].into(), [192, 0, 2, 2].into(), 5353, 53, b"query")?;
    /// # let ip = Ip::parse(&packet)?;
    /// # let Transport::Udp(udp) = ip.transport() else { unreachable!() };
    /// assert!(!udp.is_truncated());
    /// let Transport::Udp(cut) = Ip::parse(&packet[..30])?.transport() else { unreachable!() };
    /// assert!(cut.is_truncated());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_truncated(&self) -> bool {
        self.bytes.len() < UDP_HEADER + self.payload_len()
    }
}

/// An ICMP or ICMPv6 message; at least its type, code and checksum were delivered.
///
/// ```
/// use netfilter::payload::{Ip, Transport};
/// use netfilter_testkit::synth::payload;
///
/// let packet = payload::ipv6_icmp_echo("2001:db8::1".parse()?, "2001:db8::2".parse()?, 7, 1, b"ping")?;
/// let Transport::Icmpv6(icmp) = Ip::parse(&packet)?.transport() else { panic!("not ICMPv6") };
/// assert_eq!((icmp.message_type(), icmp.code()), (128, 0)); // echo request
/// assert_eq!(icmp.payload(), b"ping");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Icmp<'a> {
    bytes: &'a [u8],
    segment_len: usize,
}

impl<'a> Icmp<'a> {
    /// The message type (8 echo request, 0 echo reply, 3 destination unreachable, ...; for
    /// ICMPv6 128 echo request, 129 echo reply, 1 destination unreachable, ...).
    ///
    /// ```
    /// # use netfilter::payload::{Ip, Transport};
    /// # use netfilter_testkit::synth::payload;
    /// # let packet = payload::ipv4_icmp_echo([192, 0, 2, 1].into(), [192, 0, 2, 2].into(), 7, 1, b"ping")?;
    /// # let ip = Ip::parse(&packet)?;
    /// # let Transport::Icmp(icmp) = ip.transport() else { unreachable!() };
    /// assert_eq!(icmp.message_type(), 8); // echo request
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn message_type(&self) -> u8 {
        self.bytes.first().copied().unwrap_or(0)
    }

    /// The code.
    ///
    /// ```
    /// # use netfilter::payload::{Ip, Transport};
    /// # use netfilter_testkit::synth::payload;
    /// # let packet = payload::ipv4_icmp_echo([192, 0, 2, 1].into(), [192, 0, 2, 2].into(), 7, 1, b"ping")?;
    /// # let ip = Ip::parse(&packet)?;
    /// # let Transport::Icmp(icmp) = ip.transport() else { unreachable!() };
    /// assert_eq!(icmp.code(), 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn code(&self) -> u8 {
        self.bytes.get(1).copied().unwrap_or(0)
    }

    /// The checksum field.
    ///
    /// ```
    /// # use netfilter::payload::{Ip, Transport};
    /// # use netfilter_testkit::synth::payload;
    /// # let packet = payload::ipv4_icmp_echo([192, 0, 2, 1].into(), [192, 0, 2, 2].into(), 7, 1, b"ping")?;
    /// # let ip = Ip::parse(&packet)?;
    /// # let Transport::Icmp(icmp) = ip.transport() else { unreachable!() };
    /// let mut fixed = packet.clone();
    /// netfilter::payload::fix_checksums(&mut fixed)?;
    /// assert_eq!(fixed, packet); // the checksum verifies
    /// assert_ne!(icmp.checksum(), 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn checksum(&self) -> u16 {
        be16(self.bytes, 2)
    }

    /// The four bytes after the checksum (identifier and sequence number of an echo, the
    /// MTU of a "packet too big", ...), or `None` when cut.
    ///
    /// ```
    /// # use netfilter::payload::{Ip, Transport};
    /// # use netfilter_testkit::synth::payload;
    /// # let packet = payload::ipv4_icmp_echo([192, 0, 2, 1].into(), [192, 0, 2, 2].into(), 7, 1, b"ping")?;
    /// # let ip = Ip::parse(&packet)?;
    /// # let Transport::Icmp(icmp) = ip.transport() else { unreachable!() };
    /// let [id, seq] = [0, 2].map(|i| u16::from_be_bytes(icmp.rest_of_header().unwrap()[i..i + 2].try_into().unwrap()));
    /// assert_eq!((id, seq), (7, 1));
    /// let Transport::Icmp(cut) = Ip::parse(&packet[..25])?.transport() else { unreachable!() };
    /// assert_eq!(cut.rest_of_header(), None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn rest_of_header(&self) -> Option<[u8; 4]> {
        match self.bytes.get(4..8) {
            Some(&[a, b, c, d]) => Some([a, b, c, d]),
            _ => None,
        }
    }

    /// The data after the 8-byte header that was delivered (for errors, the start of the
    /// offending packet; for echoes, the echoed data).
    ///
    /// ```
    /// # use netfilter::payload::{Ip, Transport};
    /// # use netfilter_testkit::synth::payload;
    /// # let packet = payload::ipv4_icmp_echo([192, 0, 2, 1].into(), [192, 0, 2, 2].into(), 7, 1, b"ping")?;
    /// # let ip = Ip::parse(&packet)?;
    /// # let Transport::Icmp(icmp) = ip.transport() else { unreachable!() };
    /// assert_eq!(icmp.payload(), b"ping"); // the echoed data
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn payload(&self) -> &'a [u8] {
        self.bytes.get(ICMP_HEADER..).unwrap_or(&[])
    }

    /// Whether the copy range cut the message.
    ///
    /// ```
    /// # use netfilter::payload::{Ip, Transport};
    /// # use netfilter_testkit::synth::payload;
    /// # let packet = payload::ipv4_icmp_echo([192, 0, 2, 1].into(), [192, 0, 2, 2].into(), 7, 1, b"ping")?;
    /// # let ip = Ip::parse(&packet)?;
    /// # let Transport::Icmp(icmp) = ip.transport() else { unreachable!() };
    /// assert!(!icmp.is_truncated());
    /// let Transport::Icmp(cut) = Ip::parse(&packet[..30])?.transport() else { unreachable!() };
    /// assert!(cut.is_truncated());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_truncated(&self) -> bool {
        self.bytes.len() < self.segment_len
    }
}

/// Where a packet's checksums are, worked out from a complete packet.
#[derive(Debug, Clone, Copy)]
struct Layout {
    version: IpVersion,
    base_header_len: usize,
    transport: usize,
    protocol: u8,
    fragment: bool,
    /// Offset of the transport checksum field within the segment, for the protocols
    /// this module computes.
    checksum_at: Option<usize>,
}

impl Layout {
    /// Requires a complete packet: exactly as long as its IP header says.
    fn of(bytes: &[u8]) -> Result<Layout> {
        let ip = Ip::parse(bytes)?;
        match ip.walk {
            HeaderWalk::Complete => {}
            HeaderWalk::Cut => return Err(bad("an extension header is cut")),
            HeaderWalk::Malformed => return Err(bad("an extension header is malformed")),
        }
        match ip.total_len {
            None => {
                return Err(bad(
                    "the IP header does not give the packet's length (jumbogram or GSO \
                     super-packet over 64 KiB)",
                ));
            }
            Some(len) if len > bytes.len() => {
                return Err(bad(format!(
                    "truncated: {} of {len} bytes delivered (copy range or GSO packet larger \
                     than the copy range)",
                    bytes.len()
                )));
            }
            Some(len) if len < bytes.len() => {
                return Err(bad(format!(
                    "{} bytes after the end of the IP packet ({len} bytes)",
                    bytes.len() - len
                )));
            }
            Some(_) => {}
        }
        let segment = bytes.len().saturating_sub(ip.header_len);
        let checksum_at = match (ip.protocol, ip.version) {
            (PROTO_TCP, _) if segment >= TCP_MIN_HEADER => Some(16),
            (PROTO_UDP, _) if segment >= UDP_HEADER => Some(6),
            (PROTO_ICMP, IpVersion::V4) | (PROTO_ICMPV6, IpVersion::V6) if segment >= 4 => Some(2),
            (PROTO_TCP | PROTO_UDP, _) => {
                return Err(bad(format!(
                    "a {segment}-byte segment is too short for its transport header"
                )));
            }
            _ => None,
        };
        Ok(Layout {
            version: ip.version,
            base_header_len: ip.base_header_len,
            transport: ip.header_len,
            protocol: ip.protocol,
            fragment: ip.is_fragment(),
            checksum_at,
        })
    }

    /// The ones'-complement sum (unfolded) of the transport pseudo-header, or 0 for ICMPv4,
    /// which has none.
    fn pseudo_header_sum(&self, bytes: &[u8]) -> u64 {
        let segment_len = bytes.len().saturating_sub(self.transport) as u64;
        match self.version {
            IpVersion::V4 if self.protocol == PROTO_ICMP => 0,
            IpVersion::V4 => {
                let addresses = bytes.get(12..20).unwrap_or(&[]);
                sum_words(0, addresses) + u64::from(self.protocol) + segment_len
            }
            IpVersion::V6 => {
                let addresses = bytes.get(8..40).unwrap_or(&[]);
                sum_words(0, addresses)
                    + (segment_len >> 16)
                    + (segment_len & 0xffff)
                    + u64::from(self.protocol)
            }
        }
    }

    /// The folded sum over pseudo-header and segment, checksum field included: 0xffff when
    /// the checksum verifies.
    fn verify_sum(&self, bytes: &[u8]) -> u16 {
        let segment = bytes.get(self.transport..).unwrap_or(&[]);
        fold(sum_words(self.pseudo_header_sum(bytes), segment))
    }

    /// Writes the IPv4 header checksum (IPv4 only).
    fn write_ip_checksum(&self, bytes: &mut [u8]) -> Result<()> {
        if self.version != IpVersion::V4 {
            return Ok(());
        }
        put16(bytes, 10, 0)?;
        let header = bytes.get(..self.base_header_len).unwrap_or(&[]);
        let sum = !fold(sum_words(0, header));
        put16(bytes, 10, sum)
    }

    /// Writes the transport checksum, complete; `carried` is the verification sum of the
    /// original packet when its checksum was wrong, kept so the result is just as wrong.
    fn write_transport_checksum(&self, bytes: &mut [u8], carried: Option<u16>) -> Result<()> {
        let Some(at) = self.checksum_at else {
            return Ok(());
        };
        if self.fragment {
            return Ok(());
        }
        let field = self.transport + at;
        put16(bytes, field, 0)?;
        let mut sum = !fold(sum_words(
            self.pseudo_header_sum(bytes),
            bytes.get(self.transport..).unwrap_or(&[]),
        ));
        if let Some(carried) = carried {
            // Keep the original error: the verification sum stays what it was.
            sum = fold(u64::from(sum) + u64::from(carried));
        }
        if sum == 0 && self.protocol == PROTO_UDP {
            // RFC 768: a computed 0 is sent as all ones (0 means "no checksum").
            sum = 0xffff;
        }
        put16(bytes, field, sum)
    }
}

/// Adds the big-endian 16-bit words of `data` to `acc` (an odd last byte is padded with 0).
fn sum_words(mut acc: u64, data: &[u8]) -> u64 {
    let mut words = data.chunks_exact(2);
    for word in &mut words {
        if let &[hi, lo] = word {
            acc += u64::from(u16::from_be_bytes([hi, lo]));
        }
    }
    if let &[last] = words.remainder() {
        acc += u64::from(last) << 8;
    }
    acc
}

/// Folds a sum to 16 bits with end-around carry.
fn fold(mut acc: u64) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc as u16
}

/// Sets the length fields from the buffer's length: IPv4 total length, IPv6 payload length,
/// and the UDP length (when the packet is not a fragment).
///
/// Use it after changing a packet's size by hand, before [`fix_checksums`].
///
/// # Errors
/// [`Error::BadPacket`] when `packet` does not start with an IPv4 or IPv6 header;
/// [`Error::OutOfRange`] when it is longer than a length field can say (65535 bytes for IPv4,
/// 40 + 65535 for IPv6).
///
/// # Example
/// ```
/// # fn main() -> netfilter::Result<()> {
/// # let mut packet = Vec::new();
/// # etherparse::PacketBuilder::ipv6([0xfe; 16], [0xfd; 16], 64)
/// #     .udp(1, 2)
/// #     .write(&mut packet, b"abc")
/// #     .expect("built");
/// packet.extend_from_slice(b"def"); // three more bytes of UDP data
/// netfilter::payload::fix_lengths(&mut packet)?;
/// netfilter::payload::fix_checksums(&mut packet)?;
/// assert_eq!(packet[44..46], [0, 14]); // the UDP length
/// # Ok(())
/// # }
/// ```
pub fn fix_lengths(packet: &mut [u8]) -> Result<()> {
    let len = packet.len();
    match packet.first().map(|byte| byte >> 4) {
        Some(4) => {
            let value = u16::try_from(len).map_err(|_| Error::OutOfRange {
                what: "IPv4 packet length",
                value: len as u64,
                min: 20,
                max: 0xffff,
            })?;
            if len < 20 {
                return Err(bad(format!("{len} bytes cannot hold an IPv4 header")));
            }
            put16(packet, 2, value)?;
        }
        Some(6) => {
            let payload = len
                .checked_sub(IPV6_HEADER_LEN)
                .ok_or_else(|| bad(format!("{len} bytes cannot hold an IPv6 header")))?;
            let value = u16::try_from(payload).map_err(|_| Error::OutOfRange {
                what: "IPv6 payload length",
                value: payload as u64,
                min: 0,
                max: 0xffff,
            })?;
            put16(packet, 4, value)?;
        }
        Some(version) => return Err(bad(format!("IP version {version}, not 4 or 6"))),
        None => return Err(bad("empty packet")),
    }
    let ip = Ip::parse(packet)?;
    if ip.protocol == PROTO_UDP && ip.walk == HeaderWalk::Complete && !ip.is_fragment() {
        let udp_len = len.saturating_sub(ip.header_len);
        if udp_len >= UDP_HEADER {
            // Fits: the whole packet's length did.
            let value = u16::try_from(udp_len).unwrap_or(u16::MAX);
            put16(packet, ip.header_len + 4, value)?;
        }
    }
    Ok(())
}

/// Recomputes every checksum of a complete packet from scratch: the IPv4 header checksum and
/// the TCP, UDP, ICMP or ICMPv6 checksum (with the IPv4 or IPv6 pseudo-header). Other
/// transport protocols are left alone.
///
/// Use it after editing bytes by hand (after [`fix_lengths`] if the size changed), or to turn
/// a `CSUMNOTREADY` packet's partial checksum into a complete one. Unlike [`Editor`], it does
/// not keep a wrong original checksum wrong: afterwards every checksum verifies.
///
/// For a fragment only the IPv4 header checksum is fixed: the transport checksum covers the
/// whole datagram.
///
/// # Errors
/// [`Error::BadPacket`] when the packet is not a whole IPv4 or IPv6 packet whose length
/// fields match `packet.len()` (cut by the copy range, trailing bytes, a transport header too
/// short).
///
/// ```
/// use netfilter::payload::{Ip, fix_checksums};
/// use netfilter_testkit::synth::payload;
///
/// let mut packet = payload::ipv4_udp([192, 0, 2, 1].into(), [192, 0, 2, 2].into(), 1, 53, b"query")?;
/// let good = packet.clone();
/// packet[8] = 1; // TTL 1: the IPv4 header checksum is now wrong
/// fix_checksums(&mut packet)?;
/// assert_ne!(packet[10..12], good[10..12]);
/// assert_eq!(Ip::parse(&packet)?.ttl(), 1);
/// packet[8] = 64;
/// fix_checksums(&mut packet)?;
/// assert_eq!(packet, good);
/// // A cut packet cannot be fixed.
/// assert!(fix_checksums(&mut packet[..30]).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn fix_checksums(packet: &mut [u8]) -> Result<()> {
    let layout = Layout::of(packet)?;
    layout.write_ip_checksum(packet)?;
    layout.write_transport_checksum(packet, None)
}

/// Rewrites a queued packet for a verdict with a replacement payload.
///
/// Built from the delivered bytes and the packet's [`SkbInfo`], it holds an owned copy to
/// edit; [`finish`](Self::finish) sets the lengths and the checksums by the rules in the
/// [module documentation](self): complete checksums always (the kernel computes none after
/// a verdict with a payload), a `CSUMNOTREADY` partial checksum replaced by a full one, and
/// a wrong original checksum kept wrong.
///
/// Lengths are updated at once by each edit, so [`view`](Self::view) can be used in between.
///
/// # Example
/// ```
/// use netfilter::SkbInfo;
/// use netfilter::payload::{Editor, Ip, Transport};
///
/// # fn main() -> netfilter::Result<()> {
/// # let mut packet = Vec::new();
/// # etherparse::PacketBuilder::ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
/// #     .tcp(40000, 80, 1, 64240)
/// #     .psh()
/// #     .ack(1)
/// #     .write(&mut packet, b"GET /old HTTP/1.0\r\n\r\n")
/// #     .expect("built");
/// let mut editor = Editor::new(&packet, SkbInfo::empty())?;
/// let at = editor.payload_range().start + 5; // "old" in the TCP data
/// editor.splice(at..at + 3, b"brand-new")?;
/// let replacement = editor.finish()?;
///
/// let ip = Ip::parse(&replacement)?;
/// let Transport::Tcp(tcp) = ip.transport() else { unreachable!() };
/// assert_eq!(tcp.payload(), b"GET /brand-new HTTP/1.0\r\n\r\n");
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Editor {
    bytes: Vec<u8>,
    info: SkbInfo,
    payload_start: usize,
    protocol: u8,
    /// The original packet's verification sum when its transport checksum was wrong.
    carried: Option<u16>,
}

impl Editor {
    /// Copies a delivered packet to edit it. `info` is the packet's skb info
    /// ([`SkbInfo::empty()`] for NFLOG packets or when the kernel sent none).
    ///
    /// # Errors
    /// [`Error::BadPacket`] when the packet cannot be rewritten safely: not a whole IPv4 or
    /// IPv6 packet (cut by the copy range: the replacement would drop the tail; trailing
    /// bytes; unknown length), a fragment, a malformed header, or a pending checksum offload
    /// (`CSUMNOTREADY`) for a protocol other than TCP and UDP.
    ///
    /// ```
    /// # use netfilter::SkbInfo;
    /// # use netfilter::payload::{Editor, Ip, Transport};
    /// # use netfilter_testkit::synth::payload;
    /// # let packet = payload::ipv4_udp([192, 0, 2, 1].into(), [192, 0, 2, 2].into(), 5353, 53, b"query")?;
    /// let editor = Editor::new(&packet, SkbInfo::empty())?;
    /// assert_eq!(editor.bytes(), &packet[..]);
    /// // A packet cut by the copy range would lose its tail: refused.
    /// assert!(matches!(Editor::new(&packet[..30], SkbInfo::empty()), Err(netfilter::Error::BadPacket { .. })));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(packet: &[u8], info: SkbInfo) -> Result<Editor> {
        let layout = Layout::of(packet).map_err(|err| match err {
            Error::BadPacket { reason } if info.contains(SkbInfo::GSO) => {
                bad(format!("GSO packet cannot be rewritten: {reason}"))
            }
            Error::BadPacket { reason } => bad(format!("cannot be rewritten: {reason}")),
            other => other,
        })?;
        if layout.fragment {
            return Err(bad(
                "cannot rewrite a fragment: its transport checksum covers the whole datagram",
            ));
        }
        let not_ready = info.contains(SkbInfo::CSUMNOTREADY);
        if not_ready && !matches!(layout.protocol, PROTO_TCP | PROTO_UDP) {
            return Err(bad(format!(
                "checksum offload pending (CSUMNOTREADY) for protocol {}, which this module \
                 cannot complete",
                layout.protocol
            )));
        }
        let ip = Ip::parse(packet)?;
        let payload_start = match ip.transport() {
            Transport::Tcp(tcp) => layout.transport + tcp.header_len(),
            Transport::Udp(_) => layout.transport + UDP_HEADER,
            Transport::Icmp(icmp) | Transport::Icmpv6(icmp) => {
                layout.transport + ICMP_HEADER.min(icmp.bytes.len())
            }
            Transport::Malformed { protocol, .. } => {
                return Err(bad(format!("malformed header of protocol {protocol}")));
            }
            _ => layout.transport,
        };
        if payload_start > packet.len() {
            return Err(bad("the transport header is longer than the packet"));
        }
        let carried = match layout.checksum_at {
            Some(at) if !not_ready => {
                let field = be16(packet, layout.transport + at);
                let no_checksum =
                    layout.protocol == PROTO_UDP && layout.version == IpVersion::V4 && field == 0;
                let sum = layout.verify_sum(packet);
                (!no_checksum && sum != 0xffff).then_some(sum)
            }
            _ => None,
        };
        Ok(Editor {
            bytes: packet.to_vec(),
            info,
            payload_start,
            protocol: layout.protocol,
            carried,
        })
    }

    /// The skb info given to [`new`](Self::new).
    ///
    /// ```
    /// # use netfilter::SkbInfo;
    /// # use netfilter::payload::{Editor, Ip, Transport};
    /// # use netfilter_testkit::synth::payload;
    /// # let packet = payload::ipv4_udp([192, 0, 2, 1].into(), [192, 0, 2, 2].into(), 5353, 53, b"query")?;
    /// let editor = Editor::new(&packet, SkbInfo::CSUMNOTREADY)?;
    /// assert_eq!(editor.info(), SkbInfo::CSUMNOTREADY);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn info(&self) -> SkbInfo {
        self.info
    }

    /// Whether the original transport checksum was wrong (and will stay wrong). Always
    /// `false` with `CSUMNOTREADY`, where the delivered field is not a checksum.
    ///
    /// ```
    /// # use netfilter::SkbInfo;
    /// # use netfilter::payload::{Editor, Ip, Transport};
    /// # use netfilter_testkit::synth::payload;
    /// # let packet = payload::ipv4_udp([192, 0, 2, 1].into(), [192, 0, 2, 2].into(), 5353, 53, b"query")?;
    /// assert!(!Editor::new(&packet, SkbInfo::empty())?.original_checksum_was_wrong());
    /// let mut corrupt = packet.clone();
    /// corrupt[26] ^= 0xff; // the UDP checksum
    /// let editor = Editor::new(&corrupt, SkbInfo::empty())?;
    /// assert!(editor.original_checksum_was_wrong());
    /// // The rewrite stays wrong, so the kernel drops it as it would have dropped the original.
    /// let rewritten = editor.finish()?;
    /// let mut verified = rewritten.clone();
    /// netfilter::payload::fix_checksums(&mut verified)?;
    /// assert_ne!(verified, rewritten);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn original_checksum_was_wrong(&self) -> bool {
        self.carried.is_some()
    }

    /// The packet as edited so far (lengths updated, checksums not yet).
    ///
    /// ```
    /// # use netfilter::SkbInfo;
    /// # use netfilter::payload::{Editor, Ip, Transport};
    /// # use netfilter_testkit::synth::payload;
    /// # let packet = payload::ipv4_udp([192, 0, 2, 1].into(), [192, 0, 2, 2].into(), 5353, 53, b"query")?;
    /// let mut editor = Editor::new(&packet, SkbInfo::empty())?;
    /// editor.set_transport_payload(b"q")?;
    /// assert_eq!(editor.bytes().len(), 20 + 8 + 1);
    /// assert_eq!(&editor.bytes()[2..4], &29u16.to_be_bytes()); // total length already updated
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The packet's bytes, to edit in place (headers too: addresses, ports, TTL...). The
    /// length cannot change through this; use [`splice`](Self::splice) for that.
    ///
    /// ```
    /// # use netfilter::SkbInfo;
    /// # use netfilter::payload::{Editor, Ip, Transport};
    /// # use netfilter_testkit::synth::payload;
    /// # let packet = payload::ipv4_udp([192, 0, 2, 1].into(), [192, 0, 2, 2].into(), 5353, 53, b"query")?;
    /// let mut editor = Editor::new(&packet, SkbInfo::empty())?;
    /// editor.bytes_mut()[16..20].copy_from_slice(&[198, 51, 100, 7]); // a new destination
    /// let rewritten = editor.finish()?;
    /// assert_eq!(Ip::parse(&rewritten)?.destination(), std::net::Ipv4Addr::new(198, 51, 100, 7));
    /// let mut verified = rewritten.clone();
    /// netfilter::payload::fix_checksums(&mut verified)?;
    /// assert_eq!(verified, rewritten); // both checksums cover the new address
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn bytes_mut(&mut self) -> &mut [u8] {
        &mut self.bytes
    }

    /// A view of the packet as edited so far.
    ///
    /// # Errors
    /// [`Error::BadPacket`] if edits through [`bytes_mut`](Self::bytes_mut) broke the IP
    /// header.
    ///
    /// ```
    /// # use netfilter::SkbInfo;
    /// # use netfilter::payload::{Editor, Ip, Transport};
    /// # use netfilter_testkit::synth::payload;
    /// # let packet = payload::ipv4_udp([192, 0, 2, 1].into(), [192, 0, 2, 2].into(), 5353, 53, b"query")?;
    /// let mut editor = Editor::new(&packet, SkbInfo::empty())?;
    /// editor.set_transport_payload(b"a longer query")?;
    /// let view = editor.view()?;
    /// assert_eq!(view.total_len(), Some(20 + 8 + 14));
    /// let Transport::Udp(udp) = view.transport() else { unreachable!() };
    /// assert_eq!(udp.length(), 8 + 14);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn view(&self) -> Result<Ip<'_>> {
        Ip::parse(&self.bytes)
    }

    /// Where the transport payload lies in [`bytes`](Self::bytes): after the TCP header with
    /// its options, the UDP header, or the 8-byte ICMP header; for other protocols, after the
    /// IP headers.
    ///
    /// ```
    /// # use netfilter::SkbInfo;
    /// # use netfilter::payload::{Editor, Ip, Transport};
    /// # use netfilter_testkit::synth::payload;
    /// # let packet = payload::ipv4_udp([192, 0, 2, 1].into(), [192, 0, 2, 2].into(), 5353, 53, b"query")?;
    /// let editor = Editor::new(&packet, SkbInfo::empty())?;
    /// assert_eq!(editor.payload_range(), 28..33); // after the IPv4 and UDP headers
    /// assert_eq!(&editor.bytes()[editor.payload_range()], b"query");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn payload_range(&self) -> Range<usize> {
        self.payload_start..self.bytes.len()
    }

    /// The transport payload as edited so far.
    ///
    /// ```
    /// # use netfilter::SkbInfo;
    /// # use netfilter::payload::{Editor, Ip, Transport};
    /// # use netfilter_testkit::synth::payload;
    /// # let packet = payload::ipv4_udp([192, 0, 2, 1].into(), [192, 0, 2, 2].into(), 5353, 53, b"query")?;
    /// let mut editor = Editor::new(&packet, SkbInfo::empty())?;
    /// assert_eq!(editor.transport_payload(), b"query");
    /// editor.set_transport_payload(b"answer")?;
    /// assert_eq!(editor.transport_payload(), b"answer");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn transport_payload(&self) -> &[u8] {
        self.bytes.get(self.payload_start..).unwrap_or(&[])
    }

    /// Replaces the transport payload with `data`, of any length.
    ///
    /// # Errors
    /// [`Error::OutOfRange`] when the packet would exceed [`MAX_PACKET_LEN`].
    ///
    /// ```
    /// # use netfilter::SkbInfo;
    /// # use netfilter::payload::{Editor, Ip, Transport};
    /// # use netfilter_testkit::synth::payload;
    /// # let packet = payload::ipv4_udp([192, 0, 2, 1].into(), [192, 0, 2, 2].into(), 5353, 53, b"query")?;
    /// let mut editor = Editor::new(&packet, SkbInfo::empty())?;
    /// editor.set_transport_payload(b"")?;
    /// let emptied = editor.finish()?;
    /// let Transport::Udp(udp) = Ip::parse(&emptied)?.transport() else { unreachable!() };
    /// assert_eq!((udp.length(), udp.payload()), (8, &b""[..]));
    /// // More than a verdict can carry is refused.
    /// let mut editor = Editor::new(&packet, SkbInfo::empty())?;
    /// let huge = vec![0; netfilter::payload::MAX_PACKET_LEN];
    /// assert!(matches!(editor.set_transport_payload(&huge), Err(netfilter::Error::OutOfRange { .. })));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set_transport_payload(&mut self, data: &[u8]) -> Result<()> {
        self.splice(self.payload_range(), data)
    }

    /// Replaces the bytes in `range` (offsets in the packet) with `data`.
    ///
    /// Bytes of the same length can be replaced anywhere; a replacement that changes the
    /// length must lie within the transport payload ([`payload_range`](Self::payload_range)),
    /// so that no header is cut. The length fields are updated at once.
    ///
    /// # Errors
    /// [`Error::OutOfRange`] when `range` is not within the packet or the packet would
    /// exceed [`MAX_PACKET_LEN`]; [`Error::BadPacket`] when a length-changing replacement
    /// starts before the transport payload.
    ///
    /// ```
    /// # use netfilter::SkbInfo;
    /// # use netfilter::payload::{Editor, Ip, Transport};
    /// # use netfilter_testkit::synth::payload;
    /// # let packet = payload::ipv4_udp([192, 0, 2, 1].into(), [192, 0, 2, 2].into(), 5353, 53, b"query")?;
    /// let mut editor = Editor::new(&packet, SkbInfo::empty())?;
    /// let start = editor.payload_range().start;
    /// editor.splice(start..start + 1, b"Q")?; // same length: anywhere
    /// editor.splice(start + 5..start + 5, b"?")?; // longer: inside the payload only
    /// assert_eq!(editor.transport_payload(), b"Query?");
    /// // Growing a header is refused: it would shift the fields after it.
    /// assert!(matches!(editor.splice(0..1, b"ab"), Err(netfilter::Error::BadPacket { .. })));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn splice(&mut self, range: Range<usize>, data: &[u8]) -> Result<()> {
        let len = self.bytes.len();
        if range.end > len {
            return Err(Error::OutOfRange {
                what: "end of the range to replace",
                value: range.end as u64,
                min: range.start as u64,
                max: len as u64,
            });
        }
        if range.start > range.end {
            return Err(Error::OutOfRange {
                what: "start of the range to replace",
                value: range.start as u64,
                min: 0,
                max: range.end as u64,
            });
        }
        let removed = range.end - range.start;
        if data.len() == removed {
            if let Some(target) = self.bytes.get_mut(range) {
                target.copy_from_slice(data);
            }
            return Ok(());
        }
        if range.start < self.payload_start {
            return Err(bad(format!(
                "a replacement that changes the length must lie within the transport payload \
                 (from offset {}), not start at {}",
                self.payload_start, range.start
            )));
        }
        let new_len = len - removed + data.len();
        if new_len > MAX_PACKET_LEN {
            return Err(Error::OutOfRange {
                what: "length of the rewritten packet",
                value: new_len as u64,
                min: self.payload_start as u64,
                max: MAX_PACKET_LEN as u64,
            });
        }
        self.bytes.splice(range, data.iter().copied());
        fix_lengths(&mut self.bytes)
    }

    /// Sets the length fields and every checksum, and returns the packet to give to a
    /// verdict.
    ///
    /// # Errors
    /// [`Error::BadPacket`] if edits through [`bytes_mut`](Self::bytes_mut) broke the
    /// headers.
    ///
    /// ```
    /// # use netfilter::SkbInfo;
    /// # use netfilter::payload::{Editor, Ip, Transport};
    /// # use netfilter_testkit::synth::payload;
    /// # let packet = payload::ipv4_udp([192, 0, 2, 1].into(), [192, 0, 2, 2].into(), 5353, 53, b"query")?;
    /// let mut editor = Editor::new(&packet, SkbInfo::empty())?;
    /// editor.set_transport_payload(b"reply")?;
    /// let replacement = editor.finish()?;
    /// // Lengths and checksums are final: recomputing them changes nothing.
    /// let mut check = replacement.clone();
    /// netfilter::payload::fix_lengths(&mut check)?;
    /// netfilter::payload::fix_checksums(&mut check)?;
    /// assert_eq!(check, replacement);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn finish(mut self) -> Result<Vec<u8>> {
        fix_lengths(&mut self.bytes)?;
        let layout = Layout::of(&self.bytes)?;
        // The original error is carried only while the protocol is the one it belongs to.
        let carried = self.carried.filter(|_| layout.protocol == self.protocol);
        layout.write_ip_checksum(&mut self.bytes)?;
        layout.write_transport_checksum(&mut self.bytes, carried)?;
        Ok(self.bytes)
    }
}

/// Replaces the transport payload of a delivered packet and returns the packet to give to a
/// verdict, lengths and checksums fixed: [`Editor::new`], [`Editor::set_transport_payload`],
/// [`Editor::finish`] in one call.
///
/// # Errors
/// As those three.
///
/// # Example
/// ```
/// use netfilter::SkbInfo;
/// use netfilter::payload::{Ip, Transport, replace_transport_payload};
///
/// # fn main() -> netfilter::Result<()> {
/// # let mut packet = Vec::new();
/// # etherparse::PacketBuilder::ipv6([0xfd; 16], [0xfe; 16], 64)
/// #     .udp(5000, 5001)
/// #     .write(&mut packet, b"ping")
/// #     .expect("built");
/// let replacement = replace_transport_payload(&packet, SkbInfo::empty(), b"pong!")?;
/// let ip = Ip::parse(&replacement)?;
/// let Transport::Udp(udp) = ip.transport() else { unreachable!() };
/// assert_eq!((udp.length(), udp.payload()), (13, &b"pong!"[..]));
/// # Ok(())
/// # }
/// ```
pub fn replace_transport_payload(packet: &[u8], info: SkbInfo, data: &[u8]) -> Result<Vec<u8>> {
    let mut editor = Editor::new(packet, info)?;
    editor.set_transport_payload(data)?;
    editor.finish()
}
