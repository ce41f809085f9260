//! Malformed and unusual datagrams for robustness tests, each labelled and paired with what a
//! correct parser reports for it, message by message.
//!
//! [`observe`] runs [`netfilter_safe::wire::Messages`] over a datagram and returns the same
//! kind of list, so a test is `assert_eq!(observe(&case.bytes), case.expect)`. A parser built
//! on something else can map its own results to [`Outcome`] the same way.

use netfilter_safe::wire::{
    ControlMsg, Emit, LogPacket, Message, Messages, NFNL_SUBSYS_CTNETLINK, NLA_F_NESTED,
    NLA_F_NET_BYTEORDER, NLMSG_OVERRUN, NfGenMsg, NlError, NlMsgHeader, Part, QueuePacket, Space,
    WireError, log_attr, nfnl_msg_type, queue_attr,
};

use super::packet::{
    Datagram, LogPacketBuilder, NFPROTO_BRIDGE, NFPROTO_IPV4, NFPROTO_NETDEV, NFPROTO_UNSPEC,
    QueuePacketBuilder,
};

/// What a parser reports for one message of a datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// A valid NFQUEUE packet message.
    QueuePacket,
    /// A valid NFLOG packet message.
    LogPacket,
    /// A valid verdict.
    Verdict,
    /// A valid batch verdict.
    BatchVerdict,
    /// A valid queue configuration message.
    QueueConfig,
    /// A valid log configuration message.
    LogConfig,
    /// `NLMSG_ERROR` with this error code (0: an acknowledgement).
    Error(i32),
    /// `NLMSG_NOOP`.
    Noop,
    /// `NLMSG_DONE`.
    Done,
    /// `NLMSG_OVERRUN`.
    Overrun,
    /// A message of another type, passed over.
    Other(u16),
    /// This exact error. After a framing error nothing more is reported; after an error inside
    /// one message, the next messages are.
    Failed(WireError),
}

/// A labelled malformed or unusual datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Case {
    /// Short unique label.
    pub name: &'static str,
    /// What is wrong or unusual with it.
    pub description: &'static str,
    /// The datagram.
    pub bytes: Vec<u8>,
    /// What a correct parser reports, message by message.
    pub expect: Vec<Outcome>,
}

/// What [`netfilter_safe::wire::Messages`] reports for `datagram`.
#[must_use]
pub fn observe(datagram: &[u8]) -> Vec<Outcome> {
    Messages::new(datagram)
        .map(|m| match m {
            Ok(Message::QueuePacket(_)) => Outcome::QueuePacket,
            Ok(Message::LogPacket(_)) => Outcome::LogPacket,
            Ok(Message::Verdict(_)) => Outcome::Verdict,
            Ok(Message::BatchVerdict(_)) => Outcome::BatchVerdict,
            Ok(Message::QueueConfig(_)) => Outcome::QueueConfig,
            Ok(Message::LogConfig(_)) => Outcome::LogConfig,
            Ok(Message::Error(e)) => Outcome::Error(e.error),
            Ok(Message::Noop(_)) => Outcome::Noop,
            Ok(Message::Done(_)) => Outcome::Done,
            Ok(Message::Overrun(_)) => Outcome::Overrun,
            Ok(Message::Other(m)) => Outcome::Other(m.header().msg_type),
            Ok(_) => Outcome::Other(0),
            Err(e) => Outcome::Failed(e),
        })
        .collect()
}

/// A valid IPv4 queue packet: packet header, input device, 20-byte payload; 64 bytes.
#[must_use]
pub fn valid_queue_packet() -> Vec<u8> {
    QueuePacketBuilder::ipv4(0)
        .packet_id(1)
        .hook(1)
        .indev(2)
        .payload(vec![0x45; 20])
        .to_bytes()
        .unwrap_or_default()
}

/// A valid IPv4 log packet: header, prefix, input device, timestamp, 20-byte payload.
#[must_use]
pub fn valid_log_packet() -> Vec<u8> {
    log_builder().to_bytes().unwrap_or_default()
}

fn log_builder() -> LogPacketBuilder {
    LogPacketBuilder::ipv4(1)
        .hook(1)
        .prefix("bad:")
        .indev(2)
        .timestamp(1, 2)
        .payload(vec![0x45; 20])
}

fn bytes(e: &dyn Emit) -> Vec<u8> {
    e.to_bytes().unwrap_or_default()
}

/// An attribute with the given `nla_len` (right or wrong), value, and padding.
fn raw_attr(nla_len: u16, raw_type: u16, value: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(4 + value.len() + 3);
    v.extend_from_slice(&nla_len.to_ne_bytes());
    v.extend_from_slice(&raw_type.to_ne_bytes());
    v.extend_from_slice(value);
    v.resize(netfilter_safe::wire::align(v.len()), 0);
    v
}

fn attr(raw_type: u16, value: &[u8]) -> Vec<u8> {
    raw_attr(
        u16::try_from(value.len() + 4).unwrap_or(u16::MAX),
        raw_type,
        value,
    )
}

/// An nfnetlink message of `msg_type` around raw attribute bytes.
fn nf_msg(msg_type: u16, family: u8, res_id: u16, attrs: &[u8]) -> Vec<u8> {
    let len = 16 + 4 + attrs.len();
    let hdr = NlMsgHeader {
        len: u32::try_from(len).unwrap_or(u32::MAX),
        msg_type,
        flags: 0,
        seq: 0,
        pid: 0,
    };
    let mut v = hdr.to_bytes().to_vec();
    v.extend_from_slice(
        &NfGenMsg {
            family,
            version: 0,
            res_id,
        }
        .to_bytes(),
    );
    v.extend_from_slice(attrs);
    v
}

fn set_nlmsg_len(buf: &mut [u8], len: u32) {
    if let Some(s) = buf.get_mut(..4) {
        s.copy_from_slice(&len.to_ne_bytes());
    }
}

/// The 12-byte `NFQA_PACKET_HDR` attribute of a valid packet (id 1, IPv4, hook 1).
fn queue_pkt_hdr() -> Vec<u8> {
    valid_queue_packet()
        .get(20..32)
        .map(<[u8]>::to_vec)
        .unwrap_or_default()
}

/// The `NFULA_PACKET_HDR` attribute of a valid log packet.
fn log_pkt_hdr() -> Vec<u8> {
    valid_log_packet()
        .get(20..28)
        .map(<[u8]>::to_vec)
        .unwrap_or_default()
}

fn queue_with(extra: &[u8]) -> Vec<u8> {
    let mut attrs = queue_pkt_hdr();
    attrs.extend_from_slice(extra);
    nf_msg(QueuePacket::MSG_TYPE, NFPROTO_IPV4, 0, &attrs)
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    let mut v = Vec::new();
    for p in parts {
        v.resize(netfilter_safe::wire::align(v.len()), 0);
        v.extend_from_slice(p);
    }
    v
}

/// Every case.
#[must_use]
pub fn cases() -> Vec<Case> {
    use Outcome::{Done, Error, Failed, LogPacket as LogP, Noop, QueuePacket as QueueP};
    let q = valid_queue_packet();
    let ql = q.len();
    let l = valid_log_packet();
    let mut out = Vec::new();
    let mut add = |name, description, bytes, expect| {
        out.push(Case {
            name,
            description,
            bytes,
            expect,
        })
    };

    add(
        "empty-datagram",
        "a zero-length datagram: no message at all",
        Vec::new(),
        vec![],
    );
    add(
        "truncated-netlink-header",
        "a datagram of 10 bytes, shorter than a netlink header",
        q.get(..10).map(<[u8]>::to_vec).unwrap_or_default(),
        vec![Failed(WireError::Truncated {
            part: Part::MessageHeader,
            needed: 16,
            got: 10,
        })],
    );
    let mut b = q.clone();
    set_nlmsg_len(&mut b, 8);
    add(
        "nlmsg-len-below-header",
        "nlmsg_len 8, smaller than the netlink header itself",
        b,
        vec![Failed(WireError::BadLength {
            part: Part::Message,
            len: 8,
            min: 16,
            available: ql,
        })],
    );
    let mut b = q.clone();
    set_nlmsg_len(&mut b, u32::try_from(ql + 100).unwrap_or(u32::MAX));
    add(
        "nlmsg-len-past-end",
        "nlmsg_len 100 bytes past the end of the datagram",
        b,
        vec![Failed(WireError::BadLength {
            part: Part::Message,
            len: ql + 100,
            min: 16,
            available: ql,
        })],
    );
    add(
        "datagram-cut-mid-message",
        "a valid packet message cut after 40 bytes (as by a too-small receive buffer)",
        q.get(..40).map(<[u8]>::to_vec).unwrap_or_default(),
        vec![Failed(WireError::BadLength {
            part: Part::Message,
            len: ql,
            min: 16,
            available: 40,
        })],
    );
    let mut b = NlMsgHeader {
        len: 18,
        msg_type: QueuePacket::MSG_TYPE,
        ..Default::default()
    }
    .to_bytes()
    .to_vec();
    b.extend_from_slice(&[2, 0]);
    add(
        "truncated-nfgenmsg",
        "a packet message with 2 bytes after the netlink header, too few for nfgenmsg",
        b,
        vec![Failed(WireError::Truncated {
            part: Part::NfGenMsg,
            needed: 4,
            got: 2,
        })],
    );
    add(
        "truncated-attribute-header",
        "2 stray bytes after the last attribute, too few for an attribute header",
        queue_with(&[1, 2]),
        vec![Failed(WireError::Truncated {
            part: Part::AttributeHeader,
            needed: 4,
            got: 2,
        })],
    );
    let hdr_value = queue_pkt_hdr()
        .get(4..11)
        .map(<[u8]>::to_vec)
        .unwrap_or_default();
    add(
        "attribute-past-end",
        "NFQA_PACKET_HDR claims nla_len 200 in a 12-byte attribute area",
        nf_msg(
            QueuePacket::MSG_TYPE,
            NFPROTO_IPV4,
            0,
            &raw_attr(200, queue_attr::PACKET_HDR, &hdr_value),
        ),
        vec![Failed(WireError::BadLength {
            part: Part::Attribute,
            len: 200,
            min: 4,
            available: 12,
        })],
    );
    add(
        "zero-length-attribute",
        "an attribute with nla_len 0 (would loop forever if trusted)",
        queue_with(&raw_attr(0, queue_attr::MARK, &[0; 4])),
        vec![Failed(WireError::BadLength {
            part: Part::Attribute,
            len: 0,
            min: 4,
            available: 8,
        })],
    );
    add(
        "attribute-length-below-header",
        "an attribute with nla_len 3, shorter than its header",
        queue_with(&raw_attr(3, queue_attr::MARK, &[0; 4])),
        vec![Failed(WireError::BadLength {
            part: Part::Attribute,
            len: 3,
            min: 4,
            available: 8,
        })],
    );
    add(
        "oversize-mark",
        "NFQA_MARK with an 8-byte value (a u32 is 4)",
        queue_with(&attr(queue_attr::MARK, &[0; 8])),
        vec![Failed(WireError::BadAttribute {
            space: Space::Queue,
            kind: queue_attr::MARK,
            len: 8,
        })],
    );
    add(
        "short-mark",
        "NFQA_MARK with a 2-byte value",
        queue_with(&attr(queue_attr::MARK, &[0; 2])),
        vec![Failed(WireError::BadAttribute {
            space: Space::Queue,
            kind: queue_attr::MARK,
            len: 2,
        })],
    );
    add(
        "empty-timestamp",
        "NFQA_TIMESTAMP with an empty value",
        queue_with(&attr(queue_attr::TIMESTAMP, &[])),
        vec![Failed(WireError::BadAttribute {
            space: Space::Queue,
            kind: queue_attr::TIMESTAMP,
            len: 0,
        })],
    );
    add(
        "short-packet-header",
        "NFQA_PACKET_HDR with 4 bytes instead of 7",
        nf_msg(
            QueuePacket::MSG_TYPE,
            NFPROTO_IPV4,
            0,
            &attr(queue_attr::PACKET_HDR, &[0, 0, 0, 1]),
        ),
        vec![Failed(WireError::BadAttribute {
            space: Space::Queue,
            kind: queue_attr::PACKET_HDR,
            len: 4,
        })],
    );
    add(
        "missing-packet-header",
        "a packet message without NFQA_PACKET_HDR (no packet id to give a verdict on)",
        nf_msg(
            QueuePacket::MSG_TYPE,
            NFPROTO_IPV4,
            0,
            &attr(queue_attr::IFINDEX_INDEV, &2u32.to_be_bytes()),
        ),
        vec![Failed(WireError::MissingAttribute {
            space: Space::Queue,
            kind: queue_attr::PACKET_HDR,
        })],
    );
    add(
        "unknown-queue-attribute",
        "an attribute type this version does not know (a newer kernel's): kept raw, not an error",
        queue_with(&attr(0x3ff, &[1, 2, 3, 4, 5])),
        vec![QueueP],
    );
    let mut lb = log_pkt_hdr();
    lb.extend_from_slice(&attr(0x3ff | NLA_F_NESTED, &attr(1, &[9; 4])));
    add(
        "unknown-log-attribute",
        "an unknown nested attribute in a log packet: kept raw, not an error",
        nf_msg(LogPacket::MSG_TYPE, NFPROTO_IPV4, 1, &lb),
        vec![LogP],
    );
    add(
        "flags-on-known-attribute",
        "NFQA_MARK with NLA_F_NET_BYTEORDER set: the flag is masked off the type",
        queue_with(&attr(
            queue_attr::MARK | NLA_F_NET_BYTEORDER,
            &7u32.to_be_bytes(),
        )),
        vec![QueueP],
    );
    let mut lb = log_pkt_hdr();
    lb.extend_from_slice(&attr(log_attr::PREFIX, b"abc"));
    add(
        "log-prefix-without-nul",
        "NFULA_PREFIX whose value does not end in the NUL the kernel always sends",
        nf_msg(LogPacket::MSG_TYPE, NFPROTO_IPV4, 1, &lb),
        vec![Failed(WireError::BadAttribute {
            space: Space::Log,
            kind: log_attr::PREFIX,
            len: 3,
        })],
    );
    add(
        "vlan-missing-tci",
        "NFQA_VLAN nest with only NFQA_VLAN_PROTO",
        queue_with(&attr(
            queue_attr::VLAN | NLA_F_NESTED,
            &attr(queue_attr::VLAN_PROTO, &0x8100u16.to_be_bytes()),
        )),
        vec![Failed(WireError::MissingAttribute {
            space: Space::QueueVlan,
            kind: queue_attr::VLAN_TCI,
        })],
    );
    add(
        "vlan-zero-length-member",
        "NFQA_VLAN nest whose member has nla_len 0",
        queue_with(&attr(
            queue_attr::VLAN | NLA_F_NESTED,
            &raw_attr(0, queue_attr::VLAN_TCI, &[]),
        )),
        vec![Failed(WireError::BadLength {
            part: Part::Attribute,
            len: 0,
            min: 4,
            available: 4,
        })],
    );
    add(
        "family-bridge",
        "a queue packet of the bridge family (physical port before bridge): parsed, family reported as is",
        QueuePacketBuilder::new(NFPROTO_BRIDGE, 0)
            .hw_protocol(0x0800)
            .indev(4)
            .physindev(3)
            .payload(vec![0x45; 20])
            .to_bytes()
            .unwrap_or_default(),
        vec![QueueP],
    );
    add(
        "family-netdev",
        "a log packet of the netdev family with a VLAN tag and L2 header: parsed, family reported as is",
        LogPacketBuilder::new(NFPROTO_NETDEV, 1)
            .hw_protocol(0x0800)
            .indev(2)
            .vlan(0x8100, 5)
            .l2hdr(vec![0xaa; 14])
            .payload(vec![0x45; 20])
            .to_bytes()
            .unwrap_or_default(),
        vec![LogP],
    );
    add(
        "family-unspec",
        "a queue packet with family AF_UNSPEC, which the kernel never sends for a packet: parsed, family reported as is for the caller to judge",
        QueuePacketBuilder::new(NFPROTO_UNSPEC, 0)
            .payload(vec![0x45; 20])
            .to_bytes()
            .unwrap_or_default(),
        vec![QueueP],
    );
    let err = bytes(&NlError {
        error: -libc::EPERM,
        original: NlMsgHeader::parse(&q).ok(),
        ..Default::default()
    });
    add(
        "control-interleaved",
        "NLMSG_NOOP, NLMSG_ERROR and NLMSG_DONE between packet messages",
        cat(&[
            &q,
            &bytes(&ControlMsg::noop()),
            &l,
            &err,
            &q,
            &bytes(&ControlMsg::done()),
        ]),
        vec![QueueP, Noop, LogP, Error(-libc::EPERM), QueueP, Done],
    );
    add(
        "ack",
        "an acknowledgement: NLMSG_ERROR with error 0",
        bytes(&NlError {
            error: 0,
            original: NlMsgHeader::parse(&q).ok(),
            ..Default::default()
        }),
        vec![Error(0)],
    );
    let short_err = cat(&[
        &NlMsgHeader {
            len: 18,
            msg_type: netfilter_safe::wire::NLMSG_ERROR,
            ..Default::default()
        }
        .to_bytes(),
        &[0, 0],
    ]);
    add(
        "truncated-error-then-packet",
        "NLMSG_ERROR with a 2-byte payload, then a valid packet that must still be seen",
        cat(&[&short_err, &q]),
        vec![
            Failed(WireError::Truncated {
                part: Part::ErrorPayload,
                needed: 4,
                got: 2,
            }),
            QueueP,
        ],
    );
    add(
        "bad-message-then-good",
        "a packet message with a malformed mark, then a valid one that must not be stranded",
        cat(&[&queue_with(&attr(queue_attr::MARK, &[0; 2])), &q]),
        vec![
            Failed(WireError::BadAttribute {
                space: Space::Queue,
                kind: queue_attr::MARK,
                len: 2,
            }),
            QueueP,
        ],
    );
    let ct_type = nfnl_msg_type(NFNL_SUBSYS_CTNETLINK, 0);
    add(
        "unknown-message-type",
        "a ctnetlink message in the datagram: passed over as another type",
        nf_msg(ct_type, NFPROTO_IPV4, 0, &[]),
        vec![Outcome::Other(ct_type)],
    );
    add(
        "trailing-garbage",
        "a valid packet followed by 3 stray bytes",
        cat(&[&q, &[1, 2, 3]]),
        vec![
            QueueP,
            Failed(WireError::Truncated {
                part: Part::MessageHeader,
                needed: 16,
                got: 3,
            }),
        ],
    );
    add(
        "overrun",
        "NLMSG_OVERRUN",
        bytes(&ControlMsg {
            msg_type: NLMSG_OVERRUN,
            ..Default::default()
        }),
        vec![Outcome::Overrun],
    );
    let batch = Datagram::log_batch(1, [log_builder().build(), log_builder().seq(1).build()])
        .to_bytes()
        .unwrap_or_default();
    add(
        "log-batch-with-done",
        "two log messages and the NLMSG_DONE nfnetlink_log appends to a batch",
        batch,
        vec![LogP, LogP, Done],
    );
    let mut unpadded = q.clone();
    unpadded.truncate(ql - 1);
    set_nlmsg_len(&mut unpadded, u32::try_from(ql - 1).unwrap_or(0));
    if let Some(len) = unpadded.get_mut(40..42) {
        len.copy_from_slice(&23u16.to_ne_bytes());
    }
    add(
        "unpadded-last-payload",
        "a 19-byte payload ending the datagram without padding, as NFQUEUE sends it",
        unpadded,
        vec![QueueP],
    );
    out
}
