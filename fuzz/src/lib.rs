//! The bodies of the fuzz targets, one function per target, so that the same code runs under
//! libFuzzer (`fuzz_targets/*.rs`, nightly + cargo-fuzz) and as a plain regression test over
//! the seed corpus and the saved crash inputs on stable (`tests/regress.rs`).
//!
//! Every function takes arbitrary bytes and must neither panic nor touch memory it does not
//! own, whatever they are. Where a property is cheap to state it is asserted too: a message
//! that parses re-emits to bytes that parse to the same message.

use std::cell::RefCell;
use std::ops::Range;
use std::time::Duration;

use netfilter::payload::{self, Editor, Ip, Transport as L4};
use netfilter::{LogGroup, Queue, SkbInfo};
use netfilter_safe::wire::{
    AttrIter, BatchVerdict, CtEntry, Emit, LogConfig, LogPacket, Message, Messages, NfGenMsg, NlError,
    NlMsg, NlMsgHeader, NlMsgIter, QueueConfig, QueuePacket, Verdict,
};
use netfilter_testkit::fake::FakeKernel;
use netfilter_testkit::synth::{malformed, sent};

/// A target's body.
pub type Target = fn(&[u8]);

/// The targets by name, for the seeding program and the regression test.
pub const TARGETS: &[(&str, Target)] = &[
    ("wire_messages", wire_messages),
    ("wire_typed", wire_typed),
    ("safe_dispatch", safe_dispatch),
    ("queue_fake", queue_fake),
    ("log_fake", log_fake),
    ("payload", payload),
    ("sent_decoders", sent_decoders),
    ("fake_requests", fake_requests),
];

/// Re-emits a parsed message and checks that the bytes parse back to an equal message
/// (`same` parses them and compares).
fn roundtrip<T: Emit + std::fmt::Debug>(value: &T, same: impl FnOnce(&[u8]) -> bool) {
    let Ok(bytes) = value.to_bytes() else {
        return;
    };
    assert_eq!(
        bytes.len(),
        value.buffer_len(),
        "buffer_len and emit disagree"
    );
    assert!(
        same(&bytes),
        "a parsed message did not survive emit + parse: {value:?} emitted as {bytes:02x?}"
    );
}

/// Walks attributes, nested ones included, to a bounded depth.
fn walk_attrs(buf: &[u8], depth: u32) {
    for attr in AttrIter::new(buf) {
        let Ok(attr) = attr else { break };
        let _ = (attr.kind(), attr.raw_type(), attr.is_net_byteorder());
        let _ = attr.to_raw().into_owned();
        if attr.is_nested() && depth < 4 {
            walk_attrs(attr.value(), depth + 1);
        }
    }
}

/// `netfilter_safe::wire` over a whole datagram: framing ([`NlMsgIter`]), classification
/// ([`Messages`]), the nfnetlink header and attributes of each message, and the emit + parse
/// round trip of every message that parses.
pub fn wire_messages(data: &[u8]) {
    for msg in NlMsgIter::new(data) {
        let Ok(msg) = msg else { break };
        let _ = (msg.header().subsys(), msg.header().subsys_msg());
        let _ = msg.header().is_control();
        if let Ok((nfgen, attrs)) = msg.nfnetlink() {
            let _ = nfgen.to_bytes();
            walk_attrs(attrs, 0);
        }
    }
    for message in Messages::new(data) {
        let Ok(message) = message else { continue };
        match &message {
            Message::QueuePacket(p) => {
                roundtrip(p, |b| QueuePacket::parse_bytes(b).is_ok_and(|x| x == *p));
                let _ = p.clone().into_owned();
            }
            Message::LogPacket(p) => {
                roundtrip(p, |b| LogPacket::parse_bytes(b).is_ok_and(|x| x == *p));
                let _ = p.clone().into_owned();
            }
            Message::Verdict(v) => {
                roundtrip(v, |b| Verdict::parse_bytes(b).is_ok_and(|x| x == *v));
                let _ = v.ct_mark();
            }
            Message::BatchVerdict(v) => {
                roundtrip(v, |b| BatchVerdict::parse_bytes(b).is_ok_and(|x| x == *v))
            }
            Message::QueueConfig(c) => {
                roundtrip(c, |b| QueueConfig::parse_bytes(b).is_ok_and(|x| x == *c))
            }
            Message::LogConfig(c) => {
                roundtrip(c, |b| LogConfig::parse_bytes(b).is_ok_and(|x| x == *c))
            }
            Message::Error(e) => roundtrip(e, |b| {
                NlMsg::new_checked(b)
                    .and_then(|m| NlError::parse(&m))
                    .is_ok_and(|x| x == *e)
            }),
            Message::Noop(c) | Message::Done(c) | Message::Overrun(c) => {
                let _ = c.nfgen();
                let _ = c.to_bytes();
            }
            _ => {}
        }
    }
}

/// Every typed parser of `netfilter_safe::wire` on the same bytes, whatever their type says
/// (a parser must refuse another message's type, not misread it).
pub fn wire_typed(data: &[u8]) {
    let _ = NlMsgHeader::parse(data).map(|h| h.to_bytes());
    let _ = NfGenMsg::parse(data);
    if let Ok(p) = QueuePacket::parse_bytes(data) {
        roundtrip(&p, |b| QueuePacket::parse_bytes(b).is_ok_and(|x| x == p));
    }
    if let Ok(p) = LogPacket::parse_bytes(data) {
        roundtrip(&p, |b| LogPacket::parse_bytes(b).is_ok_and(|x| x == p));
    }
    if let Ok(v) = Verdict::parse_bytes(data) {
        let _ = v.ct_mark();
        roundtrip(&v, |b| Verdict::parse_bytes(b).is_ok_and(|x| x == v));
    }
    if let Ok(ct) = CtEntry::parse_bytes(data) {
        roundtrip(&ct, |b| CtEntry::parse_bytes(b).is_ok_and(|x| x == ct));
    }
    if let Ok(v) = BatchVerdict::parse_bytes(data) {
        roundtrip(&v, |b| BatchVerdict::parse_bytes(b).is_ok_and(|x| x == v));
    }
    if let Ok(c) = QueueConfig::parse_bytes(data) {
        roundtrip(&c, |b| QueueConfig::parse_bytes(b).is_ok_and(|x| x == c));
    }
    if let Ok(c) = LogConfig::parse_bytes(data) {
        roundtrip(&c, |b| LogConfig::parse_bytes(b).is_ok_and(|x| x == c));
    }
    if let Ok(msg) = NlMsg::new_checked(data) {
        let _ = NlError::parse(&msg);
        let _ = Message::parse(&msg);
    }
    walk_attrs(data, 0);
}

/// The queue and log numbers the safe-layer target binds (those of the seed vectors).
const NUMBERS: Range<u16> = 0..12;

/// The safe layer's handles, opened once per thread.
struct SafeHandles {
    queue: &'static netfilter_safe::queue::QueueHandle,
    log: &'static netfilter_safe::log::LogHandle,
}

thread_local! {
    static SAFE: RefCell<Option<Option<SafeHandles>>> = const { RefCell::new(None) };
}

thread_local! {
    static PRIVATE: bool = {
        // SAFETY: unshare(2) with CLONE_NEWNET only moves this thread into a new, empty
        // network namespace; it takes no pointers.
        unsafe { libc::unshare(libc::CLONE_NEWNET) == 0 }
    };
}

/// Whether this thread is in a private network namespace of its own (made on first use), where
/// binding queues and groups touches nothing else. Needs `CAP_SYS_ADMIN`.
fn private_netns() -> bool {
    PRIVATE.with(|p| *p)
}

/// Opens the handles, leaked so that they live as long as the fuzzing process; in a private
/// network namespace of this thread, queues and groups [`NUMBERS`] are bound so that packet
/// messages reach the callbacks. Without the privilege for that, the handles stay without
/// queues: the datagram splitting and the strict per-message check still run, the C library
/// then finds no queue.
fn open_safe() -> Option<SafeHandles> {
    let private = private_netns();
    let queue: &'static _ = Box::leak(Box::new(netfilter_safe::queue::QueueHandle::open().ok()?));
    let log: &'static _ = Box::leak(Box::new(netfilter_safe::log::LogHandle::open().ok()?));
    if private {
        for n in NUMBERS {
            if let Ok(q) = queue.create_queue(n, touch_queue_message) {
                std::mem::forget(q);
            }
            if let Ok(mut g) = log.bind_group(n) {
                if g.set_callback(touch_log_data).is_ok() {
                    std::mem::forget(g);
                }
            }
        }
    }
    Some(SafeHandles { queue, log })
}

/// As [`safe_dispatch`], with handles, queues and groups opened for this input and closed
/// after it: slower, but it leaks nothing (for the regression test under valgrind).
pub fn safe_dispatch_fresh(data: &[u8]) {
    let private = private_netns();
    let (Ok(queue), Ok(log)) = (
        netfilter_safe::queue::QueueHandle::open(),
        netfilter_safe::log::LogHandle::open(),
    ) else {
        return;
    };
    let mut queues = Vec::new();
    let mut groups = Vec::new();
    if private {
        for n in NUMBERS {
            queues.extend(queue.create_queue(n, touch_queue_message).ok());
            if let Ok(mut g) = log.bind_group(n) {
                if g.set_callback(touch_log_data).is_ok() {
                    groups.push(g);
                }
            }
        }
    }
    let _ = queue.handle_packet(data);
    let _ = log.handle_packet(data);
    drop((queues, groups));
}

fn touch_queue_message(m: &netfilter_safe::queue::QueueMessage<'_>) {
    let _ = (
        m.id(),
        m.hw_protocol(),
        m.hook(),
        m.family(),
        m.queue(),
        m.mark(),
    );
    let _ = (
        m.timestamp(),
        m.indev(),
        m.outdev(),
        m.physindev(),
        m.physoutdev(),
    );
    let _ = (
        m.hw_addr(),
        m.payload(),
        m.skbinfo(),
        m.uid(),
        m.gid(),
        m.secctx(),
    );
    let _ = (m.raw_message().len(), m.attributes().is_ok(), m.cap_len());
    let _ = (m.ct(), m.ct_info(), m.vlan(), m.l2hdr());
    if let Some(p) = m.payload() {
        payload(p);
    }
}

fn touch_log_data(d: &netfilter_safe::log::LogData<'_>) {
    let _ = (d.raw_message().len(), d.hw_protocol(), d.hook(), d.hwtype());
    let _ = (
        d.hw_header(),
        d.hw_addr(),
        d.mark(),
        d.timestamp(),
        d.indev(),
    );
    let _ = (
        d.outdev(),
        d.physindev(),
        d.physoutdev(),
        d.payload(),
        d.prefix(),
    );
    let _ = (d.uid(), d.gid(), d.seq(), d.seq_global(), d.ctid());
    let _ = (
        d.attributes().is_ok(),
        d.ct(),
        d.ct_info(),
        d.vlan(),
        d.l2hdr(),
    );
    let _ = d.unknown_attributes().map(<[_]>::len);
    let _ = d.to_owned();
}

/// The safe layer's dispatch of a received datagram: splitting into messages, the strict check
/// of each packet message, and `nfq_handle_packet` / `nflog_handle_packet` with the callbacks'
/// accessors, for a queue handle and a log handle.
pub fn safe_dispatch(data: &[u8]) {
    SAFE.with(|cell| {
        let mut cell = cell.borrow_mut();
        let handles = cell.get_or_insert_with(open_safe);
        if let Some(h) = handles {
            let _ = h.queue.handle_packet(data);
            let _ = h.log.handle_packet(data);
        }
    });
}

/// How many receives the high-level targets try per input (every message of one datagram is
/// delivered by then).
const RECEIVES: usize = 64;

/// The high-level [`Queue`] over the fake kernel, which sends the input as one datagram: packet
/// construction, the packet accessors and the payload views, and a verdict for each packet.
pub fn queue_fake(data: &[u8]) {
    if data.is_empty() {
        return;
    }
    let Ok((kernel, transport)) = FakeKernel::new() else {
        return;
    };
    let Ok(mut queue) = Queue::builder_range(3..=11)
        .transport(transport)
        .batching(data[0] & 1 == 1)
        .open()
    else {
        return;
    };
    if kernel.send(data).is_err() {
        return;
    }
    for _ in 0..RECEIVES {
        match queue.recv_timeout(Duration::ZERO) {
            Ok(Some(mut packet)) => {
                let _ = (packet.id(), packet.queue(), packet.family(), packet.hook());
                let _ = (packet.hw_protocol(), packet.mark(), packet.timestamp());
                let _ = (packet.indev(), packet.outdev(), packet.physindev());
                let _ = (packet.physoutdev(), packet.hw_addr(), packet.has_payload());
                let _ = (packet.cap_len(), packet.is_truncated(), packet.skb_info());
                let _ = (packet.uid(), packet.gid(), packet.secctx(), packet.ct());
                let _ = (packet.ct_info(), packet.vlan(), packet.l2hdr());
                if let Some(Ok(ct)) = packet.conntrack() {
                    let _ = CtEntry::parse(&ct);
                }
                let _ = (packet.priority(), packet.cgroup_classid());
                let _ = packet.unknown_attributes().count();
                let bytes = packet.payload_bytes();
                payload(&bytes);
                packet.set_mark(1);
                let _ = packet.accept();
            }
            Ok(None) => break,
            Err(_) => {}
        }
    }
    drop(queue);
}

/// The high-level [`LogGroup`] over the fake kernel, which sends the input as one datagram.
pub fn log_fake(data: &[u8]) {
    if data.is_empty() {
        return;
    }
    let Ok((kernel, transport)) = FakeKernel::new() else {
        return;
    };
    let groups: Vec<u16> = (3..=11).collect();
    let Ok(mut group) = LogGroup::builder_groups(&groups)
        .transport(transport)
        .open()
    else {
        return;
    };
    if kernel.send(data).is_err() {
        return;
    }
    for _ in 0..RECEIVES {
        match group.recv_timeout(Duration::ZERO) {
            Ok(Some(p)) => {
                let _ = (p.group(), p.family(), p.hw_protocol(), p.hook(), p.mark());
                let _ = (p.timestamp(), p.indev(), p.outdev(), p.physindev());
                let _ = (p.physoutdev(), p.hw_addr(), p.hw_type(), p.hw_header());
                let _ = (p.hw_len(), p.has_payload(), p.prefix(), p.prefix_bytes());
                let _ = (p.uid(), p.gid(), p.seq(), p.seq_global(), p.lost_before());
                let _ = (p.ct(), p.ct_info(), p.vlan(), p.l2hdr());
                if let Some(Ok(ct)) = p.conntrack() {
                    let _ = CtEntry::parse(&ct);
                }
                let _ = p.unknown_attributes().count();
                payload(p.payload());
            }
            Ok(None) => break,
            Err(_) => {}
        }
    }
}

/// `netfilter::payload`: the IP/TCP/UDP/ICMP views, the length and checksum fixers, and the
/// [`Editor`] (a splice range, new transport data and the skb flags come from the input's
/// last bytes).
pub fn payload(data: &[u8]) {
    if let Ok(ip) = Ip::parse(data) {
        let _ = (
            ip.bytes().len(),
            ip.version(),
            ip.source(),
            ip.destination(),
        );
        let _ = (
            ip.protocol(),
            ip.header_len(),
            ip.total_len(),
            ip.captured_len(),
        );
        let _ = (
            ip.is_truncated(),
            ip.ttl(),
            ip.traffic_class(),
            ip.is_fragment(),
        );
        let _ = (ip.fragment_offset(), ip.ip_payload().len(), ip.ports());
        match ip.transport() {
            L4::Tcp(t) => {
                let _ = (t.source_port(), t.destination_port(), t.sequence());
                let _ = (
                    t.acknowledgement(),
                    t.data_offset(),
                    t.header_len(),
                    t.flags(),
                );
                let _ = (t.window(), t.checksum(), t.urgent_pointer(), t.options());
                let _ = (t.payload().len(), t.payload_len(), t.is_truncated());
            }
            L4::Udp(u) => {
                let _ = (u.source_port(), u.destination_port(), u.length());
                let _ = (
                    u.checksum(),
                    u.payload_len(),
                    u.payload().len(),
                    u.is_truncated(),
                );
            }
            L4::Icmp(i) => {
                let _ = (i.message_type(), i.code(), i.checksum(), i.rest_of_header());
                let _ = (i.payload().len(), i.is_truncated());
            }
            _ => {}
        }
    }
    let mut copy = data.to_vec();
    let _ = payload::fix_lengths(&mut copy);
    let _ = payload::fix_checksums(&mut copy);

    // The editing parameters come from the last 7 bytes, when there are that many.
    let (packet, params) = if data.len() >= 7 {
        data.split_at(data.len() - 7)
    } else {
        (data, &[0u8; 7][..])
    };
    let info = SkbInfo::from_bits_retain(u32::from(params[0] & 0x07));
    let start = usize::from(u16::from_le_bytes([params[1], params[2]]));
    let len = usize::from(u16::from_le_bytes([params[3], params[4]]));
    let new_len = usize::from(u16::from_le_bytes([params[5], params[6]])) % 2048;
    let new_data = vec![0x5a; new_len];
    let _ = payload::replace_transport_payload(packet, info, &new_data);
    if let Ok(mut editor) = Editor::new(packet, info) {
        let _ = (editor.info(), editor.original_checksum_was_wrong());
        let _ = (
            editor.bytes().len(),
            editor.view().is_ok(),
            editor.payload_range(),
        );
        let _ = editor.transport_payload().len();
        if let Some(b) = editor.bytes_mut().first_mut() {
            *b ^= 0;
        }
        let _ = editor.splice(start..start.saturating_add(len), &new_data);
        let _ = editor.set_transport_payload(&new_data[..new_len / 2]);
        let _ = editor.finish();
    }
}

/// The testkit's decoders of what a program sent (`synth::sent`) and its classifier of
/// datagrams (`synth::malformed::observe`).
pub fn sent_decoders(data: &[u8]) {
    let _ = sent::decode_queue_config(data);
    let _ = sent::decode_verdict(data);
    let _ = sent::decode_batch_verdict(data);
    let _ = sent::decode_log_config(data);
    let _ = sent::decode_sent(data);
    let _ = malformed::observe(data);
}

/// The fake kernel's handling of what a program sends (its decoders of configurations and
/// verdicts, and its emulation of the kernel's answers): the input is one datagram sent
/// through the transport, after queue 3 was bound and a packet queued on it.
pub fn fake_requests(data: &[u8]) {
    use netfilter_safe::transport::Transport as _;
    use netfilter_safe::wire::{QueueCmd, QueueParams};
    let Ok((kernel, transport)) = FakeKernel::new() else {
        return;
    };
    let mut bind = QueueConfig::default();
    bind.header.res_id = 3;
    bind.header.flags = libc::NLM_F_REQUEST as u16;
    bind.cmd = Some(QueueCmd { command: 1, pf: 0 }); // NFQNL_CFG_CMD_BIND
    bind.params = Some(QueueParams {
        copy_mode: 2,
        copy_range: 0xffff,
    });
    let Ok(bytes) = bind.to_bytes() else { return };
    if transport.send(&bytes).is_err() {
        return;
    }
    let _ = kernel.queue_packet(
        netfilter_testkit::synth::QueuePacketBuilder::ipv4(3).payload(vec![0x45; 20]),
    );
    let _ = transport.send(data);
    let _ = (kernel.sent(), kernel.datagrams(), kernel.outstanding(3));
    let _ = (kernel.config(3), kernel.log_config(3), kernel.verdict(3, 1));
    let mut buf = vec![0u8; 0x20000];
    let _ = transport.set_nonblocking(true);
    while transport.recv(&mut buf).is_ok_and(|n| n > 0) {}
}
