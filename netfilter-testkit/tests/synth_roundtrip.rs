//! proptest round trips: synthesize -> decode -> equal, for both packet kinds and every kind
//! of message a program sends; plus payload builders and datagram layout.

use std::borrow::Cow;
use std::net::{Ipv4Addr, Ipv6Addr};

use netfilter_safe::wire::{
    BatchVerdict, ConnLabels, Conntrack, Counters, CtEntry, CtState, CtStatus, CtTimestamp, Emit,
    HwAddr, Icmp, LogConfig, LogMode, LogPacket, Message, Messages, NLA_F_NESTED, NfHeader, NlMsg,
    QueueAttrs, QueueCmd, QueueConfig, QueuePacket, QueueParams, RawAttr, Timestamp, Tuple,
    Verdict, VerdictHdr, Vlan, WireError,
};
use netfilter_testkit::synth::sent::{
    decode_batch_verdict, decode_log_config, decode_queue_config, decode_sent, decode_verdict,
};
use netfilter_testkit::synth::{
    CtBuilder, Datagram, LogPacketBuilder, QueuePacketBuilder, payload,
};
use proptest::collection::vec;
use proptest::option::of;
use proptest::prelude::*;

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    vec(any::<u8>(), 0..max)
}

fn cow(max: usize) -> impl Strategy<Value = Option<Cow<'static, [u8]>>> {
    of(bytes(max).prop_map(Cow::Owned))
}

fn header() -> impl Strategy<Value = NfHeader> {
    (
        any::<u16>(),
        any::<u32>(),
        any::<u32>(),
        any::<u8>(),
        any::<u8>(),
        any::<u16>(),
    )
        .prop_map(|(flags, seq, pid, family, version, res_id)| NfHeader {
            flags,
            seq,
            pid,
            family,
            version,
            res_id,
        })
}

fn ts() -> impl Strategy<Value = Option<Timestamp>> {
    of((any::<u64>(), any::<u64>()).prop_map(|(sec, usec)| Timestamp { sec, usec }))
}

fn hw() -> impl Strategy<Value = Option<HwAddr>> {
    of((any::<u16>(), any::<[u8; 8]>()).prop_map(|(len, addr)| HwAddr { len, addr }))
}

fn vlan() -> impl Strategy<Value = Option<Vlan>> {
    of((any::<u16>(), any::<u16>()).prop_map(|(proto, tci)| Vlan { proto, tci }))
}

/// Unknown attributes: types above every known one (flags allowed), so they stay unknown.
fn unknown(first_unknown: u16) -> impl Strategy<Value = Vec<RawAttr<'static>>> {
    vec(
        (
            first_unknown..0x3fff,
            prop_oneof![Just(0u16), Just(NLA_F_NESTED)],
            bytes(24),
        )
            .prop_map(|(t, f, v)| RawAttr {
                raw_type: t | f,
                value: Cow::Owned(v),
            }),
        0..3,
    )
}

fn queue_packet() -> impl Strategy<Value = QueuePacket<'static>> {
    let a = (
        header(),
        any::<(u32, u16, u8)>(),
        of(any::<u32>()),
        ts(),
        of(any::<u32>()),
        of(any::<u32>()),
        of(any::<u32>()),
        of(any::<u32>()),
    );
    let b = (
        hw(),
        cow(300),
        cow(40),
        of(any::<u32>()),
        of(any::<u32>()),
        of(any::<u32>()),
        of(any::<u32>()),
        of(any::<u32>()),
    );
    let c = (
        cow(40),
        vlan(),
        cow(30),
        of(any::<u32>()),
        of(any::<u32>()),
        unknown(23),
    );
    (a, b, c).prop_map(
        |(
            (h, (id, proto, hook), mark, ts, i, o, pi, po),
            (hw, pl, ct, cti, cap, skb, uid, gid),
            (sec, vl, l2, pr, cg, unk),
        )| {
            QueuePacketBuilder::new(h.family, h.res_id)
                .with(|p| {
                    p.header = h;
                    p.packet_hdr.packet_id = id;
                    p.packet_hdr.hw_protocol = proto;
                    p.packet_hdr.hook = hook;
                    p.mark = mark;
                    p.timestamp = ts;
                    p.indev = i;
                    p.outdev = o;
                    p.physindev = pi;
                    p.physoutdev = po;
                    p.hw_addr = hw;
                    p.payload = pl;
                    p.ct = ct;
                    p.ct_info = cti;
                    p.cap_len = cap;
                    p.skb_info = skb;
                    p.uid = uid;
                    p.gid = gid;
                    p.secctx = sec;
                    p.vlan = vl;
                    p.l2hdr = l2;
                    p.priority = pr;
                    p.cgroup_classid = cg;
                    p.unknown = unk;
                })
                .build()
        },
    )
}

fn log_packet() -> impl Strategy<Value = LogPacket<'static>> {
    let a = (
        header(),
        any::<(u16, u8)>(),
        of(any::<u32>()),
        ts(),
        of(any::<u32>()),
        of(any::<u32>()),
        of(any::<u32>()),
        of(any::<u32>()),
    );
    let b = (
        hw(),
        cow(300),
        cow(64),
        of(any::<u32>()),
        of(any::<u32>()),
        of(any::<u32>()),
        of(any::<u32>()),
        of(any::<u16>()),
    );
    let c = (
        cow(20),
        of(any::<u16>()),
        cow(40),
        of(any::<u32>()),
        vlan(),
        cow(30),
        unknown(22),
    );
    (a, b, c).prop_map(
        |(
            (h, (proto, hook), mark, ts, i, o, pi, po),
            (hw, pl, prefix, uid, gid, seq, sg, ht),
            (hh, hl, ct, cti, vl, l2, unk),
        )| {
            LogPacketBuilder::new(h.family, h.res_id)
                .with(|p| {
                    p.header = h;
                    p.packet_hdr.hw_protocol = proto;
                    p.packet_hdr.hook = hook;
                    p.mark = mark;
                    p.timestamp = ts;
                    p.indev = i;
                    p.outdev = o;
                    p.physindev = pi;
                    p.physoutdev = po;
                    p.hw_addr = hw;
                    p.payload = pl;
                    p.prefix = prefix;
                    p.uid = uid;
                    p.gid = gid;
                    p.seq = seq;
                    p.seq_global = sg;
                    p.hw_type = ht;
                    p.hw_header = hh;
                    p.hw_len = hl;
                    p.ct = ct;
                    p.ct_info = cti;
                    p.vlan = vl;
                    p.l2hdr = l2;
                    p.unknown = unk;
                })
                .build()
        },
    )
}

proptest! {
    #[test]
    fn queue_packet_round_trip(p in queue_packet()) {
        let b = p.to_bytes().expect("emit");
        prop_assert_eq!(b.len(), p.buffer_len());
        let back = QueuePacket::parse_bytes(&b).expect("parse");
        prop_assert_eq!(&back, &p);
        prop_assert_eq!(back.to_bytes().expect("emit"), b);
    }

    #[test]
    fn log_packet_round_trip(p in log_packet()) {
        let b = p.to_bytes().expect("emit");
        prop_assert_eq!(b.len(), p.buffer_len());
        prop_assert_eq!(b.len() % 4, 0);
        let back = LogPacket::parse_bytes(&b).expect("parse");
        prop_assert_eq!(&back, &p);
    }

    #[test]
    fn log_batch_round_trip(ps in vec(log_packet(), 1..5), group in any::<u16>()) {
        let d = Datagram::log_batch(group, ps.clone()).to_bytes().expect("emit");
        let ms: Vec<Message<'_>> = Messages::new(&d).collect::<Result<_, _>>().expect("parse");
        prop_assert_eq!(ms.len(), ps.len() + usize::from(ps.len() > 1));
        for (m, p) in ms.iter().zip(&ps) {
            prop_assert!(matches!(m, Message::LogPacket(l) if l == p));
        }
        if ps.len() > 1 {
            prop_assert!(matches!(ms.last(), Some(Message::Done(d)) if d.nfgen().map(|n| n.res_id) == Some(group)));
        }
    }

    #[test]
    fn queue_datagram_of_several_unpadded_messages(ps in vec(queue_packet(), 1..4)) {
        let mut d = Datagram::new();
        for p in &ps {
            d = d.push(p.clone());
        }
        let b = d.to_bytes().expect("emit");
        let back: Vec<Message<'_>> = Messages::new(&b).collect::<Result<_, _>>().expect("parse");
        prop_assert_eq!(back.len(), ps.len());
        for (m, p) in back.iter().zip(&ps) {
            prop_assert!(matches!(m, Message::QueuePacket(q) if q == p));
        }
    }

    #[test]
    fn queue_config_round_trip(
        h in header(),
        cmd in of(any::<(u8, u16)>()),
        params in of(any::<(u32, u8)>()),
        maxlen in of(any::<u32>()),
        mask in of(any::<u32>()),
        flags in of(any::<u32>()),
        unk in unknown(6),
    ) {
        let mut c = QueueConfig::default();
        c.header = h;
        c.cmd = cmd.map(|(command, pf)| QueueCmd { command, pf });
        c.params = params.map(|(copy_range, copy_mode)| QueueParams { copy_range, copy_mode });
        c.queue_maxlen = maxlen;
        c.mask = mask;
        c.flags = flags;
        c.unknown = unk;
        let b = c.to_bytes().expect("emit");
        prop_assert_eq!(b.len(), c.buffer_len());
        prop_assert_eq!(decode_queue_config(&b).expect("decode"), c);
    }

    #[test]
    fn verdict_round_trip(
        h in header(),
        vh in any::<(u32, u32)>(),
        mark in of(any::<u32>()),
        priority in of(any::<u32>()),
        pl in cow(300),
        ct_mark in of(any::<u32>()),
        vl in vlan(),
        l2 in cow(20),
    ) {
        let mut v = Verdict::default();
        v.header = h;
        v.verdict_hdr = VerdictHdr { verdict: vh.0, id: vh.1 };
        v.mark = mark;
        v.priority = priority;
        v.payload = pl;
        // CTA_MARK inside the CT nest, as a program sets the conntrack mark.
        v.ct = ct_mark.map(|m| {
            let mut nest = CtEntry::default();
            nest.mark = Some(m);
            Cow::Owned(nest.to_bytes().expect("emit"))
        });
        v.vlan = vl;
        v.l2hdr = l2;
        let b = v.to_bytes().expect("emit");
        let back = decode_verdict(&b).expect("decode");
        prop_assert_eq!(back.ct_mark().expect("ct"), ct_mark);
        prop_assert_eq!(back, v);
    }

    #[test]
    fn batch_verdict_round_trip(h in header(), vh in any::<(u32, u32)>(), mark in of(any::<u32>()), priority in of(any::<u32>())) {
        let mut v = BatchVerdict::default();
        v.header = h;
        v.verdict_hdr = VerdictHdr { verdict: vh.0, id: vh.1 };
        v.mark = mark;
        v.priority = priority;
        let b = v.to_bytes().expect("emit");
        prop_assert_eq!(decode_batch_verdict(&b).expect("decode"), v);
    }

    #[test]
    fn log_config_round_trip(
        h in header(),
        cmd in of(any::<u8>()),
        mode in of(any::<(u32, u8)>()),
        nlbufsiz in of(any::<u32>()),
        timeout in of(any::<u32>()),
        qthresh in of(any::<u32>()),
        flags in of(any::<u16>()),
    ) {
        let mut c = LogConfig::default();
        c.header = h;
        c.cmd = cmd;
        c.mode = mode.map(|(copy_range, copy_mode)| LogMode { copy_range, copy_mode });
        c.nlbufsiz = nlbufsiz;
        c.timeout = timeout;
        c.qthresh = qthresh;
        c.flags = flags;
        let b = c.to_bytes().expect("emit");
        prop_assert_eq!(decode_log_config(&b).expect("decode"), c);
    }

    #[test]
    fn arbitrary_bytes_never_panic(b in bytes(512)) {
        for m in Messages::new(&b) {
            let _ = m;
        }
    }
}

#[test]
fn decoders_reject_other_message_types() {
    let cfg = QueueConfig::default().to_bytes().expect("emit");
    assert!(matches!(
        decode_verdict(&cfg),
        Err(WireError::UnexpectedMessage { .. })
    ));
    assert!(matches!(
        decode_log_config(&cfg),
        Err(WireError::UnexpectedMessage { .. })
    ));
    assert!(matches!(
        decode_verdict(&[]),
        Err(WireError::Truncated { .. })
    ));
    let both = [
        cfg.clone(),
        BatchVerdict::default().to_bytes().expect("emit"),
    ]
    .concat();
    assert_eq!(decode_sent(&both).expect("decode").len(), 2);
}

#[test]
fn oversize_payload_is_a_typed_emit_error() {
    let p = QueuePacketBuilder::ipv4(0).payload(vec![0; 65532]).build();
    assert!(matches!(
        p.to_bytes(),
        Err(WireError::TooLong { len: 65536, .. })
    ));
    let p = QueuePacketBuilder::ipv4(0).payload(vec![0; 65531]).build();
    assert_eq!(p.to_bytes().expect("largest payload").len(), p.buffer_len());
}

#[test]
fn builder_follows_kernel_omissions_and_copy_range() {
    let ip = payload::ipv4_udp(
        Ipv4Addr::new(198, 18, 0, 1),
        Ipv4Addr::new(198, 18, 0, 2),
        1,
        2,
        &[0x41; 200],
    )
    .expect("udp");
    let p = QueuePacketBuilder::ipv4(5)
        .mark(0)
        .priority(0)
        .indev(0)
        .skb_info(0)
        .payload(ip.clone())
        .copy_range(20)
        .build();
    assert_eq!(
        (p.mark, p.priority, p.indev, p.skb_info),
        (None, None, None, None)
    );
    assert_eq!(p.payload.as_deref().map(<[u8]>::len), Some(20));
    assert_eq!(p.cap_len, Some(u32::try_from(ip.len()).expect("len")));
    let whole = QueuePacketBuilder::ipv4(5)
        .payload(ip.clone())
        .copy_range(65531)
        .build();
    assert_eq!(whole.cap_len, None);
}

#[test]
fn payload_builders_make_parsable_packets() {
    let (a4, b4) = (Ipv4Addr::new(198, 18, 0, 1), Ipv4Addr::new(198, 18, 0, 2));
    let (a6, b6) = (
        "2001:db8::1".parse::<Ipv6Addr>().expect("v6"),
        "2001:db8::2".parse::<Ipv6Addr>().expect("v6"),
    );
    let all = [
        payload::ipv4_udp(a4, b4, 1, 2, b"x").expect("p"),
        payload::ipv6_udp(a6, b6, 1, 2, b"x").expect("p"),
        payload::ipv4_tcp_syn(a4, b4, 1, 2, 3).expect("p"),
        payload::ipv6_tcp_syn(a6, b6, 1, 2, 3).expect("p"),
        payload::ipv4_tcp_data(a4, b4, 1, 2, 3, 4, b"x").expect("p"),
        payload::ipv6_tcp_data(a6, b6, 1, 2, 3, 4, b"x").expect("p"),
        payload::ipv4_icmp_echo(a4, b4, 1, 2, b"x").expect("p"),
        payload::ipv6_icmp_echo(a6, b6, 1, 2, b"x").expect("p"),
    ];
    for ip in all {
        let msg = QueuePacketBuilder::ipv4(0)
            .payload(ip.clone())
            .to_bytes()
            .expect("emit");
        let back = QueuePacket::parse_bytes(&msg).expect("parse");
        assert_eq!(back.payload.as_deref(), Some(ip.as_slice()));
        assert!(etherparse::SlicedPacket::from_ip(&ip).is_ok());
    }
    assert!(payload::ipv4_udp(a4, b4, 1, 2, &vec![0; 70_000]).is_err());
}

fn ip() -> impl Strategy<Value = std::net::IpAddr> {
    prop_oneof![
        any::<[u8; 4]>().prop_map(|a| Ipv4Addr::from(a).into()),
        any::<[u8; 16]>().prop_map(|a| Ipv6Addr::from(a).into()),
    ]
}

fn tuple() -> impl Strategy<Value = Tuple> {
    (
        ip(),
        ip(),
        any::<u8>(),
        of(any::<(u16, u16)>()),
        of(any::<(u16, u8, u8)>()),
        of(any::<u16>()),
    )
        .prop_map(|(src, dst, protocol, ports, icmp, zone)| {
            let mut t = Tuple::new(src, dst, protocol);
            if let Some((s, d)) = ports {
                t = t.with_ports(s, d);
            }
            if let Some((id, icmp_type, code)) = icmp {
                t = t.with_icmp(Icmp {
                    id,
                    icmp_type,
                    code,
                });
            }
            if let Some(z) = zone {
                t = t.with_zone(z);
            }
            t
        })
}

fn counters() -> impl Strategy<Value = Option<Counters>> {
    of(any::<(u64, u64)>().prop_map(|(packets, bytes)| Counters { packets, bytes }))
}

fn labels() -> impl Strategy<Value = Option<ConnLabels>> {
    of(any::<[u8; 16]>().prop_map(ConnLabels::from_bytes))
}

fn ct_entry() -> impl Strategy<Value = CtEntry<'static>> {
    (
        (of(tuple()), of(tuple()), of(tuple())),
        (
            of(any::<u32>()),
            of(any::<u32>()),
            of(any::<u32>()),
            of(any::<u32>()),
        ),
        (counters(), counters()),
        (
            of(any::<u32>()),
            of(any::<u32>()),
            of(any::<u16>()),
            of(any::<u32>()),
        ),
        of((any::<u64>(), of(any::<u64>()))),
        (labels(), labels()),
        vec((30u16..100, bytes(12)), 0..3),
    )
        .prop_map(
            |(
                (orig, reply, master),
                (status, timeout, mark, mark_mask),
                (counters_orig, counters_reply),
                (use_count, id, zone, secmark),
                timestamp,
                (labels, labels_mask),
                unknown,
            )| {
                let mut e = CtEntry::default();
                e.orig = orig;
                e.reply = reply;
                e.master = master;
                e.status = status.map(CtStatus::from_bits_retain);
                e.timeout = timeout;
                e.mark = mark;
                e.mark_mask = mark_mask;
                e.counters_orig = counters_orig;
                e.counters_reply = counters_reply;
                e.use_count = use_count;
                e.id = id;
                e.zone = zone;
                e.secmark = secmark;
                e.timestamp = timestamp.map(|(start, stop)| CtTimestamp { start, stop });
                e.labels = labels;
                e.labels_mask = labels_mask;
                e.unknown = unknown
                    .into_iter()
                    .map(|(raw_type, value)| RawAttr {
                        raw_type,
                        value: Cow::Owned(value),
                    })
                    .collect();
                e
            },
        )
}

proptest! {
    /// Every conntrack nest the wire layer emits reads back the same through the checked
    /// view, inside a synthesized queue packet and a log packet.
    #[test]
    fn conntrack_nests_round_trip(entry in ct_entry(), info in any::<u32>()) {
        let nest = entry.to_bytes().expect("emit");
        prop_assert_eq!(nest.len(), entry.buffer_len());
        prop_assert_eq!(&CtEntry::parse_bytes(&nest).expect("parse"), &entry);

        let q = QueuePacketBuilder::ipv4(1).ct(nest.clone(), info).to_bytes().expect("emit");
        let msg = NlMsg::new_checked(&q).expect("framed");
        let attrs = QueueAttrs::locate(&msg).expect("located");
        let ct = attrs.conntrack(&q).expect("a nest").expect("valid");
        prop_assert_eq!(&CtEntry::parse(&ct), &entry);
        prop_assert_eq!(attrs.ct_state(&q).map(u32::from), Some(info));

        let l = LogPacketBuilder::ipv6(2).ct(nest, CtState::from(info)).to_bytes().expect("emit");
        let back = LogPacket::parse_bytes(&l).expect("parse");
        let ct = CtEntry::parse_bytes(back.ct.as_deref().expect("a nest")).expect("valid");
        prop_assert_eq!(&ct, &entry);
        prop_assert_eq!(back.ct_info, Some(info));
    }
}

#[test]
fn ct_builder_writes_what_the_kernel_always_sends() {
    let a = (Ipv4Addr::new(10, 0, 0, 1), 1000).into();
    let b = (Ipv4Addr::new(10, 0, 0, 2), 53).into();
    let entry = CtBuilder::udp(a, b).build();
    let orig = entry.orig.expect("orig");
    assert_eq!(entry.reply, Some(orig.reversed()));
    assert_eq!(
        (entry.id, entry.status, entry.use_count),
        (Some(1), Some(CtStatus::empty()), Some(1))
    );
    let nest = CtBuilder::udp(a, b)
        .with(|e| e.id = None)
        .to_bytes()
        .expect("emit");
    assert_eq!(Conntrack::new_checked(&nest).expect("valid").id(), None);
}
