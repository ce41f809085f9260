//! Golden tests over every captured kernel buffer in `shared/vectors`: synthesizing each
//! message from its JSON row reproduces the kernel's bytes exactly, and decoding each buffer
//! yields the JSON row, all columns.
//!
//! Fields the JSON rows do not carry, and where they come from:
//! - `nlmsg_flags`, `nlmsg_seq`, `nlmsg_pid` and `nfgenmsg.version`: taken from the captured
//!   bytes (the kernel's `nfnl_msg_put(skb, 0, 0, type, 0, pf, NFNETLINK_V0, ..)` makes them
//!   all 0, which the test also checks).
//! - NFQUEUE `NFQA_CAP_LEN` (presence and value): taken from the captured bytes; the C library
//!   has no getter for it, so the rows lack it.
//! - NFQUEUE `NFQA_SKB_INFO`: the row's `skbinfo` is 0 both when the attribute is absent and
//!   when it is 0; the kernel never sends it as 0 (`nfqnl_put_packet_info`), so 0 means absent.
//! - `hw_addr` length: the row's hex is the address at its real length (`hw_addrlen`); the
//!   other bytes of the 8-byte field are zero on the wire (the kernel memsets it).
//! - NFLOG `NFULA_HWLEN`: the length of the row's `hwhdr` (the capture printed
//!   `nflog_get_msg_packet_hwhdrlen` bytes, which is that attribute); `hwtype` 0 means
//!   `NFULA_HWTYPE`, `HWLEN` and `HWHEADER` are absent.
//! - NFLOG `NLMSG_DONE` after a buffer of several messages: not a row; synthesized from the
//!   group number (`Datagram::log_batch`).
//! - Queue rows' `verdict_mark` is not in the received bytes at all (it is what the capturing
//!   program set in its verdict): it is checked by building and decoding that verdict.

use netfilter_safe::wire::{
    Emit, HwAddr, LogPacket, Message, Messages, NfHeader, NlMsgIter, QueuePacket, Verdict,
    VerdictHdr,
};
use netfilter_testkit::synth::sent::decode_verdict;
use netfilter_testkit::synth::{Datagram, LogPacketBuilder, QueuePacketBuilder};
use netfilter_testkit::vectors::{self, hex};
use rstest::rstest;
use serde_json::{Value, json};

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

fn u32_of(v: &Value) -> u32 {
    u32::try_from(v.as_u64().expect("number")).expect("u32")
}

fn opt_u32(v: &Value) -> Option<u32> {
    v.as_u64().map(|n| u32::try_from(n).expect("u32"))
}

fn opt_hex(v: &Value) -> Option<Vec<u8>> {
    v.as_str().map(unhex)
}

fn ts_json(ts: Option<netfilter_safe::wire::Timestamp>) -> Value {
    ts.map_or(Value::Null, |t| json!([t.sec, t.usec]))
}

fn hw_json(hw: Option<HwAddr>) -> Value {
    hw.map_or(Value::Null, |h| json!(hex(h.as_slice())))
}

fn payload_json(p: Option<&[u8]>) -> (Value, Value) {
    match p {
        Some(p) => (json!(p.len()), json!(hex(p))),
        None => (json!(-1), Value::Null),
    }
}

/// A decoded queue packet as the capture program printed it (the C library's getters: 0 for
/// an absent number).
fn queue_row(p: &QueuePacket<'_>) -> Value {
    let (payload_len, payload) = payload_json(p.payload.as_deref());
    json!({
        "family": p.header.family, "res_id": p.header.res_id,
        "packet_id": p.packet_hdr.packet_id, "hw_protocol": p.packet_hdr.hw_protocol,
        "hook": p.packet_hdr.hook, "mark": p.mark.unwrap_or(0),
        "indev": p.indev.unwrap_or(0), "outdev": p.outdev.unwrap_or(0),
        "physindev": p.physindev.unwrap_or(0), "physoutdev": p.physoutdev.unwrap_or(0),
        "skbinfo": p.skb_info.unwrap_or(0), "timestamp": ts_json(p.timestamp),
        "uid": p.uid, "gid": p.gid, "secctx": p.secctx.as_deref().map(hex),
        "hw_addr": hw_json(p.hw_addr), "payload_len": payload_len, "payload": payload,
    })
}

fn log_row(p: &LogPacket<'_>) -> Value {
    let (payload_len, payload) = payload_json(p.payload.as_deref());
    json!({
        "family": p.header.family, "res_id": p.header.res_id,
        "hw_protocol": p.packet_hdr.hw_protocol, "hook": p.packet_hdr.hook,
        "hwtype": p.hw_type.unwrap_or(0),
        "hwhdr": p.hw_header.as_deref().filter(|h| !h.is_empty()).map(hex),
        "mark": p.mark.unwrap_or(0),
        "indev": p.indev.unwrap_or(0), "outdev": p.outdev.unwrap_or(0),
        "physindev": p.physindev.unwrap_or(0), "physoutdev": p.physoutdev.unwrap_or(0),
        "timestamp": ts_json(p.timestamp), "uid": p.uid, "gid": p.gid,
        "seq": p.seq, "seq_global": p.seq_global, "hw_addr": hw_json(p.hw_addr),
        "prefix": p.prefix.as_deref().map(|b| String::from_utf8(b.to_vec()).expect("utf8 prefix")),
        "payload_len": payload_len, "payload": payload,
    })
}

fn without(row: &Value, keys: &[&str]) -> Value {
    let mut r = row.clone();
    if let Some(o) = r.as_object_mut() {
        for k in keys {
            o.remove(*k);
        }
    }
    r
}

/// The header fields the rows lack, from the captured message (and checked to be the
/// kernel's zeros).
fn captured_header(raw: &[u8], row: &Value) -> NfHeader {
    let msg = NlMsgIter::new(raw)
        .next()
        .expect("a message")
        .expect("framing");
    let (nfgen, _) = msg.nfnetlink().expect("nfgenmsg");
    let h = NfHeader::from_parts(&msg.header(), &nfgen);
    assert_eq!(
        (h.flags, h.seq, h.pid, h.version),
        (0, 0, 0, 0),
        "kernel-sent header fields"
    );
    assert_eq!(u32::from(h.family), u32_of(&row["family"]));
    h
}

fn queue_from_row(row: &Value, captured: &[u8]) -> QueuePacket<'static> {
    let header = captured_header(captured, row);
    // NFQA_CAP_LEN: not in the row; from the captured bytes.
    let cap_len = QueuePacket::parse_bytes(captured)
        .expect("captured")
        .cap_len;
    let mut b = QueuePacketBuilder::new(header.family, header.res_id)
        .header(header)
        .packet_id(u32_of(&row["packet_id"]))
        .hw_protocol(u16::try_from(u32_of(&row["hw_protocol"])).expect("u16"))
        .hook(u8::try_from(u32_of(&row["hook"])).expect("u8"))
        .mark(u32_of(&row["mark"]))
        .indev(u32_of(&row["indev"]))
        .outdev(u32_of(&row["outdev"]))
        .physindev(u32_of(&row["physindev"]))
        .physoutdev(u32_of(&row["physoutdev"]))
        .skb_info(u32_of(&row["skbinfo"]));
    if let Some(ts) = row["timestamp"].as_array() {
        b = b.timestamp(ts[0].as_u64().expect("sec"), ts[1].as_u64().expect("usec"));
    }
    if let (Some(uid), Some(gid)) = (opt_u32(&row["uid"]), opt_u32(&row["gid"])) {
        b = b.uid_gid(uid, gid);
    }
    if let Some(ctx) = opt_hex(&row["secctx"]) {
        b = b.secctx(ctx);
    }
    if let Some(hw) = opt_hex(&row["hw_addr"]) {
        b = b.hw_addr(&hw);
    }
    if let Some(p) = opt_hex(&row["payload"]) {
        b = b.payload(p);
    }
    if let Some(c) = cap_len {
        b = b.cap_len(c);
    }
    b.build()
}

fn log_from_row(row: &Value, captured: &[u8]) -> LogPacket<'static> {
    let header = captured_header(captured, row);
    let mut b = LogPacketBuilder::new(header.family, header.res_id)
        .header(header)
        .hw_protocol(u16::try_from(u32_of(&row["hw_protocol"])).expect("u16"))
        .hook(u8::try_from(u32_of(&row["hook"])).expect("u8"))
        .mark(u32_of(&row["mark"]))
        .indev(u32_of(&row["indev"]))
        .outdev(u32_of(&row["outdev"]))
        .physindev(u32_of(&row["physindev"]))
        .physoutdev(u32_of(&row["physoutdev"]));
    if let Some(prefix) = row["prefix"].as_str() {
        b = b.prefix(prefix);
    }
    if let Some(hw) = opt_hex(&row["hw_addr"]) {
        b = b.hw_addr(&hw);
    }
    let hwtype = u16::try_from(u32_of(&row["hwtype"])).expect("u16");
    if hwtype != 0 {
        b = b.hw_header(hwtype, opt_hex(&row["hwhdr"]).unwrap_or_default());
    }
    if let Some(ts) = row["timestamp"].as_array() {
        b = b.timestamp(ts[0].as_u64().expect("sec"), ts[1].as_u64().expect("usec"));
    }
    if let (Some(uid), Some(gid)) = (opt_u32(&row["uid"]), opt_u32(&row["gid"])) {
        b = b.uid_gid(uid, gid);
    }
    if let Some(s) = opt_u32(&row["seq"]) {
        b = b.seq(s);
    }
    if let Some(s) = opt_u32(&row["seq_global"]) {
        b = b.seq_global(s);
    }
    if let Some(p) = opt_hex(&row["payload"]) {
        b = b.payload(p);
    }
    b.build()
}

/// The captured bytes of each message of a buffer (for the header fields rows lack).
fn message_slices(buf: &[u8]) -> Vec<&[u8]> {
    NlMsgIter::new(buf)
        .map(|m| m.expect("framing").as_bytes())
        .collect()
}

/// One case per entry of `vectors::SETS` (which `all_vector_files_are_covered` checks).
#[rstest]
#[case::q_ipv4_udp_input("q-ipv4-udp-input")]
#[case::q_ipv6_udp_input("q-ipv6-udp-input")]
#[case::q_ipv4_tcp_output_uidgid("q-ipv4-tcp-output-uidgid")]
#[case::q_ipv4_marked_truncated("q-ipv4-marked-truncated")]
#[case::q_ipv4_udp_copy_meta("q-ipv4-udp-copy-meta")]
#[case::q_ipv4_tcp_gso("q-ipv4-tcp-gso")]
#[case::l_ipv4_udp_input_batch("l-ipv4-udp-input-batch")]
#[case::l_ipv6_udp_output_truncated("l-ipv6-udp-output-truncated")]
#[case::l_nft_ipv4_udp_input("l-nft-ipv4-udp-input")]
#[case::l_ipv4_udp_copy_meta("l-ipv4-udp-copy-meta")]
fn golden(#[case] set: &str) {
    let Some(dir) = vectors::dir() else { return };
    let is_queue = set.starts_with("q-");
    let bufs = vectors::load(&dir, set).expect("load vectors");
    assert!(!bufs.is_empty(), "{set}: no rows");
    for vectors::Buffer {
        index: k,
        bytes: bin,
        rows,
    } in &bufs
    {
        let ctx = format!("{set}-{k}");

        // Decode: every packet message yields its row, all columns.
        let decoded: Vec<Message<'_>> = Messages::new(bin)
            .collect::<Result<_, _>>()
            .unwrap_or_else(|e| panic!("{ctx}: {e}"));
        let packets: Vec<&Message<'_>> = decoded
            .iter()
            .filter(|m| !matches!(m, Message::Done(_)))
            .collect();
        assert_eq!(packets.len(), rows.len(), "{ctx}: message count");
        for (m, row) in packets.iter().zip(rows) {
            match (m, is_queue) {
                (Message::QueuePacket(p), true) => {
                    assert_eq!(
                        queue_row(p),
                        without(row, &["buffer", "verdict_mark"]),
                        "{ctx}"
                    );
                    // verdict_mark: the verdict the capture sent, built and decoded back.
                    let mut v = Verdict::default();
                    v.header.res_id = p.header.res_id;
                    v.verdict_hdr = VerdictHdr {
                        verdict: libc::NF_ACCEPT as u32,
                        id: p.packet_hdr.packet_id,
                    };
                    let vm = u32_of(&row["verdict_mark"]);
                    v.mark = (vm != 0).then_some(vm);
                    let bytes = v.to_bytes().expect("verdict");
                    assert_eq!(
                        decode_verdict(&bytes).expect("decode").mark.unwrap_or(0),
                        vm
                    );
                }
                (Message::LogPacket(p), false) => {
                    assert_eq!(log_row(p), without(row, &["buffer"]), "{ctx}")
                }
                (other, _) => panic!("{ctx}: unexpected {other:?}"),
            }
        }
        let dones = decoded.len() - packets.len();
        assert_eq!(
            dones,
            usize::from(!is_queue && rows.len() > 1),
            "{ctx}: NLMSG_DONE only after a log batch"
        );

        // Synthesize: the rows give back the kernel's bytes exactly.
        let slices = message_slices(bin);
        let synth = if is_queue {
            assert_eq!(
                rows.len(),
                1,
                "{ctx}: NFQUEUE sends one message per datagram"
            );
            queue_from_row(&rows[0], slices[0])
                .to_bytes()
                .expect("emit")
        } else {
            let group = u16::try_from(u32_of(&rows[0]["res_id"])).expect("group");
            let msgs = rows
                .iter()
                .zip(&slices)
                .map(|(r, raw)| log_from_row(r, raw));
            Datagram::log_batch(group, msgs).to_bytes().expect("emit")
        };
        if synth != *bin {
            let at = synth
                .iter()
                .zip(bin.iter())
                .position(|(a, b)| a != b)
                .unwrap_or(synth.len().min(bin.len()));
            panic!(
                "{ctx}: synthesized {} bytes differ from captured {} at offset {at}\n synth: {}\n  kern: {}",
                synth.len(),
                bin.len(),
                hex(&synth[at.saturating_sub(8)..(at + 24).min(synth.len())]),
                hex(&bin[at.saturating_sub(8)..(at + 24).min(bin.len())]),
            );
        }

        // And parse -> emit is the identity on kernel bytes.
        let mut again = Vec::new();
        for m in &decoded {
            let e: &dyn Emit = match m {
                Message::QueuePacket(p) => p,
                Message::LogPacket(p) => p,
                Message::Done(d) => d,
                other => panic!("{ctx}: unexpected {other:?}"),
            };
            netfilter_safe::wire::push_message(&mut again, e).expect("emit");
        }
        assert_eq!(again, *bin, "{ctx}: re-emitted bytes");
    }
}

#[test]
fn all_vector_files_are_covered() {
    let Some(dir) = vectors::dir() else { return };
    for entry in std::fs::read_dir(&dir).expect("read dir") {
        let name = entry
            .expect("entry")
            .file_name()
            .into_string()
            .expect("utf8 name");
        if let Some(set) = name.strip_suffix(".jsonl") {
            assert!(
                vectors::SETS.contains(&set),
                "vector set {set} has no golden case"
            );
        }
        if let Some(stem) = name.strip_suffix(".bin") {
            let set = stem.rsplit_once('-').map(|(s, _)| s).unwrap_or(stem);
            assert!(
                vectors::SETS.contains(&set),
                "buffer {name} belongs to no golden case"
            );
            let k: u64 = stem
                .rsplit_once('-')
                .and_then(|(_, k)| k.parse().ok())
                .expect("buffer index");
            let buffers = vectors::load(&dir, set).expect("load vectors");
            assert!(
                buffers.iter().any(|b| b.index == k),
                "buffer {name} has no JSON row"
            );
        }
    }
}
