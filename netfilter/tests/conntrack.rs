//! Conntrack over the testkit's fake kernel: nests the testkit synthesizes, read back
//! through `Packet::conntrack` / `LogPacket::conntrack` field by field; malformed nests; and
//! verdicts that change the connection, which go alone with `NFQA_CT`. No root, no namespace,
//! no conntrack glue needed.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use netfilter::conntrack::{
    ConnLabels, Counters, CtState, CtStatus, CtTimestamp, Icmp, TcpFlagSet, TcpFlags, TcpInfo,
    TcpState, Tuple,
};
use netfilter::safe::wire::{NLA_F_NESTED, Space, WireError, ct_attr};
use netfilter::{Error, LogGroup, Queue, Verdict};
use netfilter_testkit::fake::{FakeKernel, SettledBy};
use netfilter_testkit::synth::{CtBuilder, LogPacketBuilder, QueuePacketBuilder};

mod common;
use common::WAIT;

fn open(queue: u16, batching: bool) -> (FakeKernel, Queue) {
    let (kernel, transport) = FakeKernel::new().expect("fake kernel");
    let queue = Queue::builder(queue)
        .conntrack(true)
        .batching(batching)
        .transport(transport)
        .open()
        .expect("open");
    (kernel, queue)
}

fn client() -> SocketAddr {
    (Ipv4Addr::new(198, 18, 0, 1), 40000).into()
}

fn server() -> SocketAddr {
    (Ipv4Addr::new(198, 18, 0, 2), 443).into()
}

/// A connection with every member the view reads, behind NAT (the reply comes from
/// elsewhere), expected by an ICMPv6 one, with an unknown member.
fn everything() -> CtBuilder {
    let nat = Tuple::new(Ipv4Addr::new(203, 0, 113, 9).into(), client().ip(), 6)
        .with_ports(8443, 40000)
        .with_zone(4);
    let master = Tuple::new(
        Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1).into(),
        Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2).into(),
        58,
    )
    .with_icmp(Icmp {
        id: 0x1234,
        icmp_type: 128,
        code: 0,
    });
    CtBuilder::tcp(client(), server())
        .reply(nat)
        .master(master)
        .status(
            CtStatus::CONFIRMED
                | CtStatus::SEEN_REPLY
                | CtStatus::ASSURED
                | CtStatus::DST_NAT
                | CtStatus::from_bits_retain(1 << 30),
        )
        .timeout(431_999)
        .mark(0xfeed_f00d)
        .id(0x8765_4321)
        .zone(7)
        .use_count(2)
        .secmark(0x55)
        .labels(ConnLabels::EMPTY.with(1).with(64).with(127))
        .counters(
            Counters {
                packets: 10,
                bytes: 1 << 33,
            },
            Counters {
                packets: 9,
                bytes: 4096,
            },
        )
        .timestamp(1_700_000_000_123_456_789, None)
        .tcp_info(tcp_info())
        .helper("ftp")
        // CTA_SEQ_ADJ_ORIG { CTA_SEQADJ_CORRECTION_POS 9 }
        .unknown(
            ct_attr::SEQ_ADJ_ORIG | NLA_F_NESTED,
            [8, 0, 1, 0, 0, 0, 0, 9],
        )
}

/// The TCP tracker's members `everything` carries.
fn tcp_info() -> TcpInfo {
    let mut info = TcpInfo::new(TcpState::Established);
    info.wscale_orig = Some(7);
    info.flags_orig = Some(TcpFlagSet {
        flags: TcpFlags::WINDOW_SCALE | TcpFlags::SACK_PERM,
        mask: TcpFlags::empty(),
    });
    info
}

#[test]
fn every_field_of_a_queued_packets_connection_reads_back() {
    let (kernel, mut queue) = open(1, true);
    let nest = everything().to_bytes().expect("nest");
    let id = kernel
        .queue_packet(QueuePacketBuilder::ipv4(1).ct(nest.clone(), CtState::EstablishedReply))
        .expect("queued");
    let packet = queue.recv_timeout(WAIT).expect("recv").expect("a packet");
    assert_eq!(packet.ct(), Some(nest.as_slice()), "raw, as sent");
    assert_eq!(packet.ct_info(), Some(CtState::EstablishedReply));
    let ct = packet.conntrack().expect("tracked").expect("valid");

    let orig = ct.orig().expect("orig");
    assert_eq!(
        (orig.src, orig.dst, orig.protocol),
        (client().ip(), server().ip(), 6)
    );
    assert_eq!((orig.src_port, orig.dst_port), (Some(40000), Some(443)));
    assert_eq!((orig.icmp, orig.zone), (None, None));
    let reply = ct.reply().expect("reply");
    assert_eq!(
        (
            reply.src,
            reply.dst,
            reply.src_port,
            reply.dst_port,
            reply.zone
        ),
        (
            IpAddr::from([203, 0, 113, 9]),
            client().ip(),
            Some(8443),
            Some(40000),
            Some(4)
        )
    );
    let master = ct.master().expect("master");
    assert_eq!(master.protocol, 58);
    assert!(master.src.is_ipv6() && master.dst.is_ipv6());
    assert_eq!(
        master.icmp,
        Some(Icmp {
            id: 0x1234,
            icmp_type: 128,
            code: 0
        })
    );
    assert_eq!((master.src_port, master.dst_port), (None, None));

    let status = ct.status().expect("status");
    assert!(status.contains(CtStatus::CONFIRMED | CtStatus::SEEN_REPLY | CtStatus::DST_NAT));
    assert!(!status.contains(CtStatus::SRC_NAT));
    assert_eq!(status.bits() & (1 << 30), 1 << 30, "unknown bits kept");
    assert_eq!(ct.timeout(), Some(431_999));
    assert_eq!(ct.mark(), Some(0xfeed_f00d));
    assert_eq!(ct.mark_mask(), None);
    assert_eq!(ct.id(), Some(0x8765_4321));
    assert_eq!(ct.zone(), Some(7));
    assert_eq!(ct.use_count(), Some(2));
    assert_eq!(ct.secmark(), Some(0x55));
    let labels = ct.labels().expect("labels");
    assert_eq!(labels.iter().collect::<Vec<_>>(), [1, 64, 127]);
    assert_eq!(ct.labels_mask(), None);
    assert_eq!(
        (ct.counters_orig(), ct.counters_reply()),
        (
            Some(Counters {
                packets: 10,
                bytes: 1 << 33
            }),
            Some(Counters {
                packets: 9,
                bytes: 4096
            })
        )
    );
    assert_eq!(
        ct.timestamp(),
        Some(CtTimestamp {
            start: 1_700_000_000_123_456_789,
            stop: None
        })
    );
    assert_eq!(ct.tcp(), Some(tcp_info()));
    assert_eq!(ct.helper_name(), Some("ftp"));
    let unknown: Vec<_> = ct.unknown().map(|a| (a.kind(), a.value())).collect();
    assert_eq!(
        unknown,
        [(ct_attr::SEQ_ADJ_ORIG, &[8, 0, 1, 0, 0, 0, 0, 9][..])]
    );
    assert_eq!(ct.as_bytes(), nest.as_slice());
    assert_eq!(
        netfilter::conntrack::CtEntry::parse(&ct),
        everything().build(),
        "the typed entry is what was built"
    );

    packet.accept().expect("accept");
    assert!(kernel.verdict(1, id).is_some());
}

#[test]
fn a_logged_packets_connection_reads_back() {
    let (kernel, transport) = FakeKernel::new().expect("fake kernel");
    let mut log = LogGroup::builder(6)
        .conntrack(true)
        .transport(transport)
        .open()
        .expect("open");
    let v6 = |last| IpAddr::from(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, last));
    let nest = CtBuilder::icmp_echo(v6(1), v6(2), 77)
        .timestamp(5, Some(6))
        .to_bytes()
        .expect("nest");
    kernel
        .log_packet(LogPacketBuilder::ipv6(6).ct(nest, CtState::Related))
        .expect("logged");
    let packet = log.recv_timeout(WAIT).expect("recv").expect("a packet");
    assert_eq!(packet.ct_info(), Some(CtState::Related));
    assert_eq!(
        packet.ct_info().map(|s| s.to_string()).as_deref(),
        Some("RELATED")
    );
    let ct = packet.conntrack().expect("tracked").expect("valid");
    let (orig, reply) = (ct.orig().expect("orig"), ct.reply().expect("reply"));
    assert_eq!((orig.src, orig.dst, orig.protocol), (v6(1), v6(2), 58));
    assert_eq!(orig.icmp.map(|i| (i.id, i.icmp_type)), Some((77, 128)));
    assert_eq!(
        (reply.src, reply.icmp.map(|i| i.icmp_type)),
        (v6(2), Some(129))
    );
    assert_eq!(
        ct.timestamp(),
        Some(CtTimestamp {
            start: 5,
            stop: Some(6)
        })
    );
    assert_eq!(
        (ct.mark(), ct.labels(), ct.counters_orig()),
        (None, None, None)
    );
}

#[test]
fn unknown_states_are_kept() {
    let (kernel, mut queue) = open(2, true);
    let nest = CtBuilder::udp(client(), server()).to_bytes().expect("nest");
    kernel
        .queue_packet(QueuePacketBuilder::ipv4(2).ct(nest, 9u32))
        .expect("queued");
    let packet = queue.recv_timeout(WAIT).expect("recv").expect("a packet");
    assert_eq!(packet.ct_info(), Some(CtState::Other(9)));
    assert_eq!(packet.ct_info().map(u32::from), Some(9));
    assert_eq!(
        packet.ct_info().map(|s| s.to_string()).as_deref(),
        Some("9")
    );
}

#[test]
fn packets_without_a_connection_have_none() {
    let (kernel, mut queue) = open(3, true);
    kernel
        .queue_packet(QueuePacketBuilder::ipv4(3).payload(vec![0x45; 20]))
        .expect("queued");
    let packet = queue.recv_timeout(WAIT).expect("recv").expect("a packet");
    assert!(packet.conntrack().is_none());
    assert_eq!(packet.ct_info(), None);
}

#[test]
fn malformed_nests_are_errors_and_the_packet_still_takes_its_verdict() {
    let good = CtBuilder::udp(client(), server())
        .mark(1)
        .to_bytes()
        .expect("nest");
    let mut cases: Vec<(&str, Vec<u8>)> = vec![
        // CTA_MARK with 3 bytes.
        ("short mark", vec![7, 0, 8, 0, 1, 2, 3, 0]),
        // An nla_len past the end.
        ("length past the end", vec![200, 0, 1, 0x80, 0, 0, 0, 0]),
        // An nla_len below the header.
        ("zero length", vec![0, 0, 3, 0]),
        // A header cut short.
        ("cut header", vec![8, 0]),
    ];
    // Every cut of a valid nest that ends inside a member.
    for cut in (1..good.len()).filter(|c| c % 4 != 0) {
        cases.push(("truncated", good[..cut].to_vec()));
    }
    let (kernel, mut queue) = open(4, true);
    for (what, nest) in &cases {
        let id = kernel
            .queue_packet(QueuePacketBuilder::ipv4(4).ct(nest.clone(), CtState::New))
            .expect("queued");
        let packet = queue.recv_timeout(WAIT).expect("recv").expect("a packet");
        assert!(
            matches!(packet.conntrack(), Some(Err(Error::Malformed(_)))),
            "{what}: {:?}",
            packet.conntrack()
        );
        assert_eq!(packet.ct_info(), Some(CtState::New));
        packet.accept().expect("accept");
        kernel
            .wait_for(|s| s.verdict(4, id).is_some(), WAIT)
            .expect("settled");
    }
}

#[test]
fn malformed_tuples_say_what_is_wrong() {
    // CTA_TUPLE_ORIG { CTA_TUPLE_IP { CTA_IP_V4_SRC with 2 bytes } }
    let nest = [
        16, 0, 1, 0x80, // TUPLE_ORIG, nested
        12, 0, 1, 0x80, // TUPLE_IP, nested
        6, 0, 1, 0, 10, 0, 0, 0, // IP_V4_SRC, 2 bytes and padding
    ];
    let (kernel, mut queue) = open(5, true);
    kernel
        .queue_packet(QueuePacketBuilder::ipv4(5).ct(nest.to_vec(), CtState::New))
        .expect("queued");
    let packet = queue.recv_timeout(WAIT).expect("recv").expect("a packet");
    match packet.conntrack() {
        Some(Err(Error::Malformed(err))) => assert_eq!(
            err,
            WireError::BadAttribute {
                space: Space::CtIp,
                kind: ct_attr::IP_V4_SRC,
                len: 2
            }
        ),
        other => panic!("expected a malformed nest, got {other:?}"),
    }
}

#[test]
fn a_verdict_with_a_conn_mark_goes_alone_with_nfqa_ct() {
    let (kernel, mut queue) = open(8, true);
    let ids = kernel
        .queue_packets((0..5).map(|_| QueuePacketBuilder::ipv4(8).payload(vec![0x45; 20])))
        .expect("queued");
    let packets: Vec<_> = (0..5)
        .map(|_| queue.recv_timeout(WAIT).expect("recv").expect("a packet"))
        .collect();
    for (i, mut packet) in packets.into_iter().enumerate() {
        match i {
            1 => {
                packet.set_conn_mark(0x42);
                assert_eq!(packet.pending_conn_mark(), Some(0x42));
                packet.accept().expect("accept");
            }
            3 => packet
                .verdict(Verdict::accept().with_mark(3).with_conn_mark(0x43))
                .expect("verdict"),
            _ => packet.accept().expect("accept"),
        }
    }
    kernel
        .wait_for(|s| s.outstanding(8).is_empty(), WAIT)
        .expect("all settled");
    for (i, id) in ids.iter().enumerate() {
        let settled = kernel.verdict(8, *id).expect("settled");
        match i {
            1 => {
                assert_eq!(
                    (settled.ct_mark, settled.by),
                    (Some(0x42), SettledBy::Verdict)
                );
                assert_eq!(settled.mark, None);
            }
            3 => {
                assert_eq!(
                    (settled.ct_mark, settled.by),
                    (Some(0x43), SettledBy::Verdict)
                );
                assert_eq!(settled.mark, Some(3));
            }
            _ => {
                assert_eq!(settled.ct_mark, None);
                assert!(settled.is_batch(), "the others still batch: {settled:?}");
            }
        }
    }
}

#[test]
fn a_verdict_with_conn_labels_carries_labels_and_mask() {
    let (kernel, mut queue) = open(9, true);
    let ids = kernel
        .queue_packets((0..2).map(|_| QueuePacketBuilder::ipv4(9).payload(vec![0x45; 20])))
        .expect("queued");
    let labels = ConnLabels::EMPTY.with(5);
    let mask = ConnLabels::EMPTY.with(5).with(6);
    let verdict = Verdict::accept().with_conn_labels(labels, mask);
    assert_eq!(verdict.conn_labels(), Some((labels, mask)));
    assert_eq!(verdict.conn_mark(), None);
    let first = queue.recv_timeout(WAIT).expect("recv").expect("a packet");
    let mut second = queue.recv_timeout(WAIT).expect("recv").expect("a packet");
    first.verdict(verdict).expect("verdict");
    second.set_conn_labels(labels, mask);
    assert_eq!(second.pending_conn_labels(), Some((labels, mask)));
    second.drop().expect("drop");
    for id in ids {
        let settled = kernel.verdict(9, id).expect("settled");
        assert_eq!(
            (settled.ct_labels, settled.ct_labels_mask, settled.ct_mark),
            (Some(labels), Some(mask), None)
        );
        assert_eq!(settled.by, SettledBy::Verdict);
    }
}

#[test]
fn the_default_verdict_changes_no_connection() {
    let (kernel, mut queue) = open(10, true);
    let id = kernel
        .queue_packet(QueuePacketBuilder::ipv4(10).payload(vec![0x45; 20]))
        .expect("queued");
    let mut packet = queue.recv_timeout(WAIT).expect("recv").expect("a packet");
    packet.set_conn_mark(1);
    drop(packet);
    let settled = kernel.verdict(10, id).expect("settled");
    assert_eq!(settled.ct_mark, None, "{settled:?}");
}
