//! Payload views and rewriting: parsing, truncation, lengths and checksums.
//!
//! Checksums are verified independently of the crate: TCP and UDP with `etherparse`'s own
//! calculation, the IPv4 header and ICMP with a small ones'-complement sum written here.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use etherparse::{NetSlice, SlicedPacket, TransportSlice};
use netfilter::payload::{
    Editor, Ip, IpVersion, MAX_PACKET_LEN, TcpFlags, Transport, fix_checksums, fix_lengths,
    replace_transport_payload,
};
use netfilter::{Error, SkbInfo};
use netfilter_testkit::synth::payload as synth;
use proptest::prelude::*;

const A4: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
const B4: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
const A6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
const B6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2);

// ---- independent checksum verification ------------------------------------------------

/// Ones'-complement sum of big-endian words, folded.
fn ones_sum(chunks: &[&[u8]]) -> u16 {
    let mut acc: u64 = 0;
    for chunk in chunks {
        for pair in chunk.chunks(2) {
            let hi = u64::from(pair[0]) << 8;
            let lo = pair.get(1).map_or(0, |b| u64::from(*b));
            acc += hi | lo;
        }
    }
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc as u16
}

/// Asserts every checksum of a complete packet verifies and its lengths match its size.
fn assert_valid(packet: &[u8]) {
    let sliced = SlicedPacket::from_ip(packet).expect("strictly parseable packet");
    match (&sliced.net, &sliced.transport) {
        (Some(NetSlice::Ipv4(ip)), transport) => {
            let header = ip.header().to_header();
            assert_eq!(header.total_len as usize, packet.len(), "IPv4 total length");
            assert_eq!(
                header.calc_header_checksum(),
                header.header_checksum,
                "IPv4 header checksum"
            );
            let ihl = usize::from(ip.header().ihl()) * 4;
            assert_eq!(ones_sum(&[&packet[..ihl]]), 0xffff);
            match transport {
                Some(TransportSlice::Udp(udp)) => {
                    let h = udp.to_header();
                    assert_eq!(usize::from(h.length), packet.len() - ihl, "UDP length");
                    let sum = h.calc_checksum_ipv4(&header, udp.payload()).expect("sum");
                    assert_eq!(sum, h.checksum, "UDP/IPv4 checksum");
                }
                Some(TransportSlice::Tcp(tcp)) => {
                    let h = tcp.to_header();
                    let sum = h.calc_checksum_ipv4(&header, tcp.payload()).expect("sum");
                    assert_eq!(sum, h.checksum, "TCP/IPv4 checksum");
                }
                Some(TransportSlice::Icmpv4(_)) => {
                    assert_eq!(ones_sum(&[&packet[ihl..]]), 0xffff, "ICMP checksum");
                }
                other => panic!("unexpected transport {other:?}"),
            }
        }
        (Some(NetSlice::Ipv6(ip)), transport) => {
            let header = ip.header().to_header();
            assert_eq!(
                usize::from(header.payload_length) + 40,
                packet.len(),
                "IPv6 payload length"
            );
            let offset = packet.len() - ip.payload().payload.len();
            match transport {
                Some(TransportSlice::Udp(udp)) => {
                    let h = udp.to_header();
                    assert_eq!(usize::from(h.length), packet.len() - offset, "UDP length");
                    let sum = h.calc_checksum_ipv6(&header, udp.payload()).expect("sum");
                    assert_eq!(sum, h.checksum, "UDP/IPv6 checksum");
                }
                Some(TransportSlice::Tcp(tcp)) => {
                    let h = tcp.to_header();
                    let sum = h.calc_checksum_ipv6(&header, tcp.payload()).expect("sum");
                    assert_eq!(sum, h.checksum, "TCP/IPv6 checksum");
                }
                Some(TransportSlice::Icmpv6(_)) => {
                    let len = (packet.len() - offset) as u32;
                    let pseudo = [
                        &packet[8..40],
                        &len.to_be_bytes()[..],
                        &[0, 0, 0, 58][..],
                        &packet[offset..],
                    ];
                    assert_eq!(ones_sum(&pseudo), 0xffff, "ICMPv6 checksum");
                }
                other => panic!("unexpected transport {other:?}"),
            }
        }
        other => panic!("not IP: {other:?}"),
    }
}

/// The folded sum over pseudo-header and TCP/UDP segment (0xffff when the checksum verifies).
fn transport_verify_sum(packet: &[u8]) -> u16 {
    let ip = Ip::parse(packet).expect("ip");
    let segment = &packet[ip.header_len()..];
    let len = segment.len() as u32;
    match ip.version() {
        IpVersion::V4 => ones_sum(&[
            &packet[12..20],
            &[0, ip.protocol()][..],
            &(len as u16).to_be_bytes()[..],
            segment,
        ]),
        IpVersion::V6 => ones_sum(&[
            &packet[8..40],
            &len.to_be_bytes()[..],
            &[0, 0, 0, ip.protocol()][..],
            segment,
        ]),
    }
}

// ---- packets ----------------------------------------------------------------------------

fn udp4(data: &[u8]) -> Vec<u8> {
    synth::ipv4_udp(A4, B4, 1000, 2000, data).expect("udp4")
}

fn udp6(data: &[u8]) -> Vec<u8> {
    synth::ipv6_udp(A6, B6, 1000, 2000, data).expect("udp6")
}

fn tcp4(data: &[u8]) -> Vec<u8> {
    synth::ipv4_tcp_data(A4, B4, 40000, 80, 7, 9, data).expect("tcp4")
}

fn tcp6(data: &[u8]) -> Vec<u8> {
    synth::ipv6_tcp_data(A6, B6, 40000, 80, 7, 9, data).expect("tcp6")
}

/// An IPv6 UDP packet with a destination options header (8 bytes of PadN) before UDP.
fn udp6_with_dest_opts(data: &[u8]) -> Vec<u8> {
    let plain = udp6(data);
    let mut out = plain[..40].to_vec();
    out[6] = 60; // next header: destination options
    let payload_len = u16::from_be_bytes([out[4], out[5]]) + 8;
    out[4..6].copy_from_slice(&payload_len.to_be_bytes());
    out.extend_from_slice(&[17, 0, 1, 4, 0, 0, 0, 0]); // next: UDP, 8 bytes, PadN(4)
    out.extend_from_slice(&plain[40..]);
    out
}

/// A later IPv6 fragment (offset 8 bytes) of a UDP datagram.
fn udp6_later_fragment() -> Vec<u8> {
    let plain = udp6(b"0123456789abcdef");
    let mut out = plain[..40].to_vec();
    out[6] = 44; // fragment header
    let data = &plain[48..];
    out[4..6].copy_from_slice(&((8 + data.len()) as u16).to_be_bytes());
    // next UDP, reserved, offset 1 (8 bytes) with M=0, identification.
    out.extend_from_slice(&[17, 0, 0, 8, 0, 0, 0, 42]);
    out.extend_from_slice(data);
    out
}

/// The checksum field's offset for TCP or UDP in `packet`.
fn checksum_field(packet: &[u8]) -> usize {
    let ip = Ip::parse(packet).expect("ip");
    ip.header_len() + if ip.protocol() == 6 { 16 } else { 6 }
}

/// What the kernel delivers with CSUMNOTREADY: the checksum field holds the folded
/// pseudo-header sum (`~csum_tcpudp_magic(saddr, daddr, len, proto, 0)`), not a checksum.
fn partial_checksum(packet: &[u8]) -> Vec<u8> {
    let mut out = packet.to_vec();
    let ip = Ip::parse(packet).expect("ip");
    let len = (packet.len() - ip.header_len()) as u32;
    let seed = match ip.version() {
        IpVersion::V4 => ones_sum(&[
            &packet[12..20],
            &[0, ip.protocol()][..],
            &(len as u16).to_be_bytes()[..],
        ]),
        IpVersion::V6 => ones_sum(&[
            &packet[8..40],
            &len.to_be_bytes()[..],
            &[0, 0, 0, ip.protocol()][..],
        ]),
    };
    let at = checksum_field(packet);
    out[at..at + 2].copy_from_slice(&seed.to_be_bytes());
    out
}

// ---- views ------------------------------------------------------------------------------

#[test]
fn ipv4_udp_view() {
    let packet = udp4(b"hello");
    let ip = Ip::parse(&packet).expect("parse");
    assert_eq!(ip.version(), IpVersion::V4);
    assert_eq!(ip.source(), IpAddr::V4(A4));
    assert_eq!(ip.destination(), IpAddr::V4(B4));
    assert_eq!(ip.protocol(), 17);
    assert_eq!(ip.header_len(), 20);
    assert_eq!(ip.total_len(), Some(33));
    assert_eq!(ip.captured_len(), 33);
    assert_eq!(ip.ttl(), synth::DEFAULT_TTL);
    assert!(!ip.is_truncated());
    assert!(!ip.is_fragment());
    assert_eq!(ip.ports(), Some((1000, 2000)));
    let Transport::Udp(udp) = ip.transport() else {
        panic!("not UDP: {:?}", ip.transport())
    };
    assert_eq!((udp.source_port(), udp.destination_port()), (1000, 2000));
    assert_eq!(udp.length(), 13);
    assert_eq!(udp.payload(), b"hello");
    assert_eq!(udp.payload_len(), 5);
    assert!(!udp.is_truncated());
    assert_ne!(udp.checksum(), 0);
}

#[test]
fn ipv6_udp_view() {
    let packet = udp6(b"hello6");
    let ip = Ip::parse(&packet).expect("parse");
    assert_eq!(ip.version(), IpVersion::V6);
    assert_eq!(ip.source(), IpAddr::V6(A6));
    assert_eq!(ip.destination(), IpAddr::V6(B6));
    assert_eq!((ip.protocol(), ip.header_len()), (17, 40));
    assert_eq!(ip.total_len(), Some(40 + 8 + 6));
    assert_eq!(ip.ttl(), synth::DEFAULT_TTL);
    let Transport::Udp(udp) = ip.transport() else {
        panic!("not UDP")
    };
    assert_eq!(udp.payload(), b"hello6");
}

#[test]
fn tcp_syn_views() {
    for packet in [
        synth::ipv4_tcp_syn(A4, B4, 1234, 443, 0xdead_beef).expect("syn4"),
        synth::ipv6_tcp_syn(A6, B6, 1234, 443, 0xdead_beef).expect("syn6"),
    ] {
        let ip = Ip::parse(&packet).expect("parse");
        assert_eq!(ip.protocol(), 6);
        let Transport::Tcp(tcp) = ip.transport() else {
            panic!("not TCP")
        };
        assert_eq!((tcp.source_port(), tcp.destination_port()), (1234, 443));
        assert_eq!(tcp.sequence(), 0xdead_beef);
        assert_eq!(tcp.flags(), TcpFlags::SYN);
        assert_eq!(tcp.window(), synth::TCP_WINDOW);
        assert_eq!(tcp.data_offset(), 5);
        assert_eq!(tcp.header_len(), 20);
        assert_eq!(tcp.options(), Some(&[][..]));
        assert!(tcp.payload().is_empty());
        assert_eq!(tcp.payload_len(), 0);
        assert!(!tcp.is_truncated());
    }
}

#[test]
fn tcp_data_views() {
    for packet in [tcp4(b"GET / HTTP/1.0\r\n"), tcp6(b"GET / HTTP/1.0\r\n")] {
        let ip = Ip::parse(&packet).expect("parse");
        let Transport::Tcp(tcp) = ip.transport() else {
            panic!("not TCP")
        };
        assert_eq!(tcp.sequence(), 7);
        assert_eq!(tcp.acknowledgement(), 9);
        assert_eq!(tcp.flags(), TcpFlags::PSH | TcpFlags::ACK);
        assert_eq!(tcp.payload(), b"GET / HTTP/1.0\r\n");
        assert_eq!(tcp.payload_len(), 16);
        assert_eq!(tcp.urgent_pointer(), 0);
        assert_ne!(tcp.checksum(), 0);
    }
}

#[test]
fn icmp_views() {
    let packet = synth::ipv4_icmp_echo(A4, B4, 0x1234, 7, b"ping").expect("icmp4");
    let ip = Ip::parse(&packet).expect("parse");
    let Transport::Icmp(icmp) = ip.transport() else {
        panic!("not ICMP")
    };
    assert_eq!((icmp.message_type(), icmp.code()), (8, 0));
    assert_eq!(icmp.rest_of_header(), Some([0x12, 0x34, 0, 7]));
    assert_eq!(icmp.payload(), b"ping");
    assert_eq!(ip.ports(), None);

    let packet = synth::ipv6_icmp_echo(A6, B6, 0x1234, 7, b"ping6").expect("icmp6");
    let ip = Ip::parse(&packet).expect("parse");
    assert_eq!(ip.protocol(), 58);
    let Transport::Icmpv6(icmp) = ip.transport() else {
        panic!("not ICMPv6")
    };
    assert_eq!((icmp.message_type(), icmp.code()), (128, 0));
    assert_eq!(icmp.payload(), b"ping6");
    assert!(!icmp.is_truncated());
}

#[test]
fn ipv6_extension_header_is_walked() {
    let packet = udp6_with_dest_opts(b"behind options");
    assert_valid(&packet);
    let ip = Ip::parse(&packet).expect("parse");
    assert_eq!(ip.protocol(), 17);
    assert_eq!(ip.header_len(), 48);
    assert_eq!(ip.ports(), Some((1000, 2000)));
    let Transport::Udp(udp) = ip.transport() else {
        panic!("not UDP: {:?}", ip.transport())
    };
    assert_eq!(udp.payload(), b"behind options");
}

#[test]
fn later_fragment_has_no_transport_header() {
    let packet = udp6_later_fragment();
    let ip = Ip::parse(&packet).expect("parse");
    assert!(ip.is_fragment());
    assert_eq!(ip.fragment_offset(), 8);
    assert_eq!(ip.ports(), None);
    assert!(matches!(
        ip.transport(),
        Transport::Fragment { protocol: 17, .. }
    ));
    let err = Editor::new(&packet, SkbInfo::empty()).expect_err("fragments are refused");
    assert!(matches!(err, Error::BadPacket { .. }), "{err}");
}

#[test]
fn not_ip_is_an_error() {
    for bytes in [&[][..], &[0x45][..], &[0x20; 40][..], &[0x46; 20][..]] {
        let err = Ip::parse(bytes).expect_err("not a packet");
        assert!(matches!(err, Error::BadPacket { .. }), "{err}");
    }
}

// ---- truncation -------------------------------------------------------------------------

fn all_packets() -> Vec<Vec<u8>> {
    vec![
        udp4(b"0123456789"),
        udp6(b"0123456789"),
        tcp4(b"some tcp data"),
        tcp6(b"some tcp data"),
        synth::ipv4_tcp_syn(A4, B4, 1, 2, 3).expect("syn4"),
        synth::ipv4_icmp_echo(A4, B4, 1, 2, b"ping").expect("icmp4"),
        synth::ipv6_icmp_echo(A6, B6, 1, 2, b"ping").expect("icmp6"),
        udp6_with_dest_opts(b"opts"),
        udp6_later_fragment(),
    ]
}

#[test]
fn truncated_at_every_length() {
    for full in all_packets() {
        let whole = Ip::parse(&full).expect("whole");
        let base = if whole.version() == IpVersion::V4 {
            20
        } else {
            40
        };
        for len in 0..=full.len() {
            let cut = &full[..len];
            let Ok(ip) = Ip::parse(cut) else {
                assert!(len < base, "{len} bytes of a {}-byte packet", full.len());
                continue;
            };
            assert_eq!(ip.is_truncated(), len < full.len(), "len {len}");
            assert_eq!(ip.source(), whole.source());
            assert_eq!(ip.destination(), whole.destination());
            assert_eq!(ip.ttl(), whole.ttl());
            assert_eq!(ip.total_len(), whole.total_len());
            let available = len.saturating_sub(whole.header_len());
            if whole.ports().is_some() && len >= whole.header_len() + 4 {
                assert_eq!(ip.ports(), whole.ports(), "ports at {len}");
            }
            match ip.transport() {
                Transport::Tcp(tcp) => {
                    assert!(available >= 20);
                    assert_eq!(tcp.is_truncated(), len < full.len());
                    assert!(tcp.payload().len() <= tcp.payload_len());
                }
                Transport::Udp(udp) => {
                    assert!(available >= 8);
                    assert_eq!(udp.is_truncated(), len < full.len());
                    assert_eq!(udp.payload_len(), usize::from(udp.length()) - 8);
                    assert!(udp.payload().len() <= udp.payload_len());
                }
                Transport::Icmp(icmp) | Transport::Icmpv6(icmp) => {
                    assert_eq!(icmp.is_truncated(), len < full.len());
                    assert_eq!(icmp.rest_of_header().is_some(), available >= 8);
                }
                Transport::Truncated { bytes, .. } => {
                    assert!(len < full.len(), "complete packet reported truncated");
                    assert_eq!(bytes.len(), len - ip.header_len());
                }
                Transport::Fragment { .. } => assert!(ip.is_fragment()),
                other => panic!("unexpected {other:?} at {len}"),
            }
            if len < full.len() {
                let err = Editor::new(cut, SkbInfo::empty()).expect_err("cut packet");
                assert!(matches!(err, Error::BadPacket { .. }));
                let mut copy = cut.to_vec();
                assert!(fix_checksums(&mut copy).is_err());
                assert_eq!(copy, cut, "a failed fix must not touch the bytes");
            }
        }
    }
}

#[test]
fn truncated_gso_packet_says_gso() {
    let full = tcp4(&[7u8; 3000]);
    let err = Editor::new(&full[..1500], SkbInfo::GSO | SkbInfo::CSUMNOTREADY)
        .expect_err("cut GSO packet");
    let text = err.to_string();
    assert!(text.contains("GSO") && text.contains("truncated"), "{text}");
}

// ---- rewriting --------------------------------------------------------------------------

/// Builds a packet around some transport data.
type Build = fn(&[u8]) -> Vec<u8>;

fn builders() -> Vec<(&'static str, Build)> {
    vec![
        ("udp4", udp4),
        ("udp6", udp6),
        ("tcp4", tcp4),
        ("tcp6", tcp6),
        ("udp6+opts", udp6_with_dest_opts),
    ]
}

#[test]
fn replacing_the_payload_keeps_checksums_valid() {
    for (name, build) in builders() {
        let packet = build(b"original payload");
        for new in [
            &b"ORIGINAL PAYLOAD"[..], // same length
            b"short",
            b"",
            b"a considerably longer replacement payload than before",
        ] {
            let out = replace_transport_payload(&packet, SkbInfo::empty(), new).expect(name);
            assert_valid(&out);
            let ip = Ip::parse(&out).expect("parse");
            let data = match ip.transport() {
                Transport::Tcp(tcp) => tcp.payload(),
                Transport::Udp(udp) => udp.payload(),
                other => panic!("{name}: {other:?}"),
            };
            assert_eq!(data, new, "{name}");
            assert_eq!(ip.source(), Ip::parse(&packet).expect("p").source());
        }
    }
}

#[test]
fn icmp_payload_replacement() {
    for packet in [
        synth::ipv4_icmp_echo(A4, B4, 1, 2, b"ping").expect("icmp4"),
        synth::ipv6_icmp_echo(A6, B6, 1, 2, b"ping").expect("icmp6"),
    ] {
        let out = replace_transport_payload(&packet, SkbInfo::empty(), b"pong pong").expect("r");
        assert_valid(&out);
        let ip = Ip::parse(&out).expect("parse");
        match ip.transport() {
            Transport::Icmp(icmp) | Transport::Icmpv6(icmp) => {
                assert_eq!(icmp.payload(), b"pong pong");
                assert_eq!(icmp.rest_of_header(), Some([0, 1, 0, 2]));
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn header_edits_in_place_then_finish() {
    let packet = tcp4(b"data");
    let mut editor = Editor::new(&packet, SkbInfo::empty()).expect("editor");
    // New destination address and port, same length.
    editor.splice(16..20, &[203, 0, 113, 9]).expect("address");
    editor.bytes_mut()[22..24].copy_from_slice(&8080u16.to_be_bytes());
    editor.bytes_mut()[8] = 5; // TTL
    let view = editor.view().expect("view");
    assert_eq!(view.ports(), Some((40000, 8080)));
    let out = editor.finish().expect("finish");
    assert_valid(&out);
    let ip = Ip::parse(&out).expect("parse");
    assert_eq!(ip.destination(), IpAddr::V4(Ipv4Addr::new(203, 0, 113, 9)));
    assert_eq!(ip.ttl(), 5);
}

#[test]
fn splice_inside_the_payload() {
    let packet = udp6(b"hello world");
    let mut editor = Editor::new(&packet, SkbInfo::empty()).expect("editor");
    let start = editor.payload_range().start;
    editor
        .splice(start + 6..start + 11, b"there, everyone")
        .expect("grow");
    assert_eq!(editor.transport_payload(), b"hello there, everyone");
    assert_eq!(
        editor.view().expect("view").total_len(),
        Some(editor.bytes().len())
    );
    editor.splice(start..start + 6, b"").expect("shrink");
    let out = editor.finish().expect("finish");
    assert_valid(&out);
    let Transport::Udp(udp) = Ip::parse(&out).expect("p").transport() else {
        panic!()
    };
    assert_eq!(udp.payload(), b"there, everyone");
}

#[test]
fn splice_errors() {
    let packet = tcp4(b"abc");
    let mut editor = Editor::new(&packet, SkbInfo::empty()).expect("editor");
    let len = editor.bytes().len();
    // A length change in the headers.
    let err = editor.splice(10..12, b"x").expect_err("header resize");
    assert!(matches!(err, Error::BadPacket { .. }), "{err}");
    // Out of range.
    let err = editor.splice(len..len + 1, b"x").expect_err("past the end");
    assert!(matches!(err, Error::OutOfRange { .. }), "{err}");
    #[allow(clippy::reversed_empty_ranges)]
    let err = editor.splice(5..4, b"").expect_err("reversed");
    assert!(matches!(err, Error::OutOfRange { .. }), "{err}");
    // Too long for a verdict.
    let huge = vec![0u8; MAX_PACKET_LEN];
    let err = editor.set_transport_payload(&huge).expect_err("too long");
    assert!(matches!(err, Error::OutOfRange { max, .. } if max == MAX_PACKET_LEN as u64));
    // The editor is unchanged by the failures.
    assert_eq!(editor.bytes(), &packet[..]);
    // Exactly the maximum fits.
    let room = MAX_PACKET_LEN - editor.payload_range().start;
    editor.set_transport_payload(&vec![1u8; room]).expect("max");
    let out = editor.finish().expect("finish");
    assert_eq!(out.len(), MAX_PACKET_LEN);
    assert_valid(&out);
}

#[test]
fn csumnotready_partial_checksum_is_completed() {
    for (name, build) in builders() {
        let good = build(b"offloaded");
        let delivered = partial_checksum(&good);
        assert_ne!(
            transport_verify_sum(&delivered),
            0xffff,
            "{name}: partial verifies?"
        );

        // Given back unchanged: the checksum must be completed (CHECKSUM_NONE afterwards).
        let editor = Editor::new(&delivered, SkbInfo::CSUMNOTREADY | SkbInfo::GSO).expect(name);
        assert!(!editor.original_checksum_was_wrong());
        let out = editor.finish().expect("finish");
        assert_eq!(
            out, good,
            "{name}: completed checksum differs from a fresh one"
        );

        // And with a new payload.
        let out = replace_transport_payload(&delivered, SkbInfo::CSUMNOTREADY, b"x").expect(name);
        assert_valid(&out);
    }
}

#[test]
fn without_csumnotready_a_wrong_checksum_stays_wrong() {
    for (name, build) in builders() {
        let mut packet = build(b"corrupted in transit");
        let at = checksum_field(&packet);
        packet[at] ^= 0x5a;
        let before = transport_verify_sum(&packet);
        assert_ne!(before, 0xffff);

        let editor = Editor::new(&packet, SkbInfo::CSUM_NOTVERIFIED).expect(name);
        assert!(editor.original_checksum_was_wrong());
        let mut editor = editor;
        editor.set_transport_payload(b"rewritten!").expect("set");
        let out = editor.finish().expect("finish");
        assert_eq!(
            transport_verify_sum(&out),
            before,
            "{name}: the error must be carried over"
        );
        // The IPv4 header checksum is still right, and fix_checksums repairs everything.
        let mut repaired = out.clone();
        fix_checksums(&mut repaired).expect("fix");
        assert_valid(&repaired);
    }
}

#[test]
fn ipv4_udp_without_checksum_gets_one() {
    let mut packet = udp4(b"no checksum");
    packet[26..28].copy_from_slice(&[0, 0]);
    let editor = Editor::new(&packet, SkbInfo::empty()).expect("editor");
    assert!(!editor.original_checksum_was_wrong());
    let out = editor.finish().expect("finish");
    assert_valid(&out);
}

#[test]
fn csumnotready_for_other_protocols_is_refused() {
    let packet = synth::ipv4_icmp_echo(A4, B4, 1, 2, b"ping").expect("icmp4");
    let err = Editor::new(&packet, SkbInfo::CSUMNOTREADY).expect_err("icmp offload");
    assert!(err.to_string().contains("CSUMNOTREADY"), "{err}");
}

#[test]
fn gso_packet_can_be_rewritten_whole() {
    // A TCP super-packet larger than an MTU, delivered whole with GSO and offload pending.
    let delivered = partial_checksum(&tcp4(&[b'a'; 4000]));
    let out = replace_transport_payload(
        &delivered,
        SkbInfo::GSO | SkbInfo::CSUMNOTREADY,
        &[b'b'; 6000],
    )
    .expect("rewrite");
    assert_eq!(out.len(), 20 + 20 + 6000);
    assert_valid(&out);
}

#[test]
fn trailing_bytes_are_refused() {
    let mut packet = udp4(b"abc");
    packet.extend_from_slice(&[0; 6]); // e.g. Ethernet padding
    assert!(Ip::parse(&packet).is_ok());
    assert!(Editor::new(&packet, SkbInfo::empty()).is_err());
}

#[test]
fn hand_edits_fixed_by_fix_lengths_and_fix_checksums() {
    for (name, build) in builders() {
        let mut packet = build(b"12345");
        packet.extend_from_slice(b"6789");
        packet[20] ^= 0xff; // break the IPv4 header checksum or an IPv6 address byte
        fix_lengths(&mut packet).expect(name);
        fix_checksums(&mut packet).expect(name);
        assert_valid(&packet);
    }
    // A fragment: only the IPv4 header checksum is fixed, no error.
    let mut frag = udp4(b"fragment data");
    frag[6] = 0x20; // MF
    fix_checksums(&mut frag).expect("fragment");
    assert_eq!(ones_sum(&[&frag[..20]]), 0xffff);
}

#[test]
fn fix_lengths_errors() {
    assert!(fix_lengths(&mut []).is_err());
    assert!(fix_lengths(&mut [0x45; 10]).is_err());
    assert!(fix_lengths(&mut [0x60; 30]).is_err());
    assert!(fix_lengths(&mut [0x10; 60]).is_err());
    let mut big = udp4(b"");
    big.resize(70_000, 0);
    assert!(matches!(
        fix_lengths(&mut big),
        Err(Error::OutOfRange { .. })
    ));
}

// ---- properties -------------------------------------------------------------------------

fn any_packet() -> impl Strategy<Value = Vec<u8>> {
    (0usize..5, proptest::collection::vec(any::<u8>(), 0..600)).prop_map(
        |(kind, data)| match kind {
            0 => udp4(&data),
            1 => udp6(&data),
            2 => tcp4(&data),
            3 => tcp6(&data),
            _ => udp6_with_dest_opts(&data),
        },
    )
}

proptest! {
    #[test]
    fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        if let Ok(ip) = Ip::parse(&bytes) {
            let _ = (ip.source(), ip.destination(), ip.ttl(), ip.traffic_class(), ip.ports());
            let _ = (ip.is_truncated(), ip.ip_payload(), ip.total_len());
            match ip.transport() {
                Transport::Tcp(t) => {
                    let _ = (t.flags(), t.options(), t.payload(), t.payload_len(), t.is_truncated());
                }
                Transport::Udp(u) => {
                    let _ = (u.payload(), u.payload_len(), u.is_truncated());
                }
                Transport::Icmp(i) | Transport::Icmpv6(i) => {
                    let _ = (i.rest_of_header(), i.payload(), i.is_truncated());
                }
                _ => {}
            }
        }
        let mut copy = bytes.clone();
        let _ = fix_lengths(&mut copy);
        let _ = fix_checksums(&mut copy);
        let _ = Editor::new(&bytes, SkbInfo::all()).and_then(Editor::finish);
    }

    #[test]
    fn rewrites_always_verify(
        packet in any_packet(),
        new in proptest::collection::vec(any::<u8>(), 0..1500),
        not_ready in any::<bool>(),
    ) {
        let (delivered, info) = if not_ready {
            (partial_checksum(&packet), SkbInfo::CSUMNOTREADY)
        } else {
            (packet.clone(), SkbInfo::empty())
        };
        let out = replace_transport_payload(&delivered, info, &new).expect("rewrite");
        assert_valid(&out);
        let ip = Ip::parse(&out).expect("parse");
        let data = match ip.transport() {
            Transport::Tcp(tcp) => tcp.payload(),
            Transport::Udp(udp) => udp.payload(),
            other => panic!("{other:?}"),
        };
        prop_assert_eq!(data, &new[..]);
    }

    #[test]
    fn truncation_is_reported(packet in any_packet(), cut in any::<prop::sample::Index>()) {
        let len = cut.index(packet.len() + 1);
        if let Ok(ip) = Ip::parse(&packet[..len]) {
            prop_assert_eq!(ip.is_truncated(), len < packet.len());
        }
    }
}

#[test]
fn one_line_summaries_of_every_kind_of_packet() {
    let v4 = |a| Ipv4Addr::new(10, 0, 0, a);
    let v6 = |a| Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, a);
    let line = |bytes: &[u8]| Ip::parse(bytes).expect("parses").to_string();
    let tcp = synth::ipv6_tcp_syn(v6(1), v6(2), 5000, 22, 7).expect("tcp");
    assert_eq!(line(&tcp), "TCP [fd00::1]:5000 -> [fd00::2]:22");
    let icmp = synth::ipv4_icmp_echo(v4(1), v4(2), 9, 1, b"ping").expect("icmp");
    assert_eq!(line(&icmp), "ICMP 10.0.0.1 -> 10.0.0.2 type 8 code 0");
    let icmp6 = synth::ipv6_icmp_echo(v6(1), v6(2), 9, 1, b"ping").expect("icmpv6");
    assert_eq!(
        line(&icmp6),
        "ICMPV6 [fd00::1] -> [fd00::2] type 128 code 0"
    );
    // Another protocol (GRE, 47): addresses only.
    let mut gre = synth::ipv4_udp(v4(1), v4(2), 1, 2, b"").expect("udp");
    gre[9] = 47;
    assert_eq!(line(&gre), "proto 47 10.0.0.1 -> 10.0.0.2");
    // Cut inside the UDP header: no ports to tell.
    let udp = synth::ipv4_udp(v4(1), v4(2), 1000, 53, b"q").expect("udp");
    assert_eq!(line(&udp[..22]), "UDP 10.0.0.1 -> 10.0.0.2");
}
