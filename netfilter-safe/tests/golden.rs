//! The captured kernel buffers of `shared/vectors`, fed through `handle_packet`: every getter
//! of the views gives exactly what the C libraries decoded when the vectors were captured.
//!
//! Binding a queue or log group needs `CAP_NET_ADMIN`, so this runs in a private namespace.
//! The packets do not exist in that kernel, so no verdict is given.

use std::cell::RefCell;
use std::time::UNIX_EPOCH;

use netfilter_safe::log::{LogData, LogHandle};
use netfilter_safe::queue::{QueueHandle, QueueMessage};
use netfilter_testkit::sandbox_or_skip;
use netfilter_testkit::vectors::{self, hex};
use serde_json::{Value, json};

fn timestamp(t: Option<std::time::SystemTime>) -> Value {
    t.map_or(Value::Null, |t| {
        let d = t.duration_since(UNIX_EPOCH).expect("after the epoch");
        json!([d.as_secs(), d.subsec_micros()])
    })
}

fn bytes(b: Option<&[u8]>) -> Value {
    b.map_or(Value::Null, |b| Value::String(hex(b)))
}

fn payload(p: Option<&[u8]>) -> (Value, Value) {
    match p {
        Some(p) => (json!(p.len()), Value::String(hex(p))),
        None => (json!(-1), Value::Null),
    }
}

/// A queue view as a row of the vectors' JSON (without `buffer` and `verdict_mark`).
fn queue_row(m: &QueueMessage<'_>) -> Value {
    let (payload_len, payload) = payload(m.payload());
    json!({
        "family": u8::from(m.family()), "res_id": m.queue(), "packet_id": m.id(),
        "hw_protocol": m.hw_protocol(), "hook": u8::from(m.hook()), "mark": m.mark(),
        "indev": m.indev().unwrap_or(0), "outdev": m.outdev().unwrap_or(0),
        "physindev": m.physindev().unwrap_or(0), "physoutdev": m.physoutdev().unwrap_or(0),
        "skbinfo": m.skbinfo().bits(), "timestamp": timestamp(m.timestamp()),
        "uid": m.uid(), "gid": m.gid(), "secctx": bytes(m.secctx()),
        "hw_addr": bytes(m.hw_addr()), "payload_len": payload_len, "payload": payload,
    })
}

/// A log view as a row of the vectors' JSON (without `buffer`).
fn log_row(p: &LogData<'_>) -> Value {
    let (payload_len, payload) = payload(p.payload());
    let hwhdr = if p.hwtype() == 0 { None } else { p.hw_header() };
    json!({
        "family": u8::from(p.family()), "res_id": p.group(),
        "hw_protocol": p.hw_protocol().unwrap_or(0), "hook": p.hook().map_or(0, u8::from),
        "hwtype": p.hwtype(), "hwhdr": bytes(hwhdr), "mark": p.mark(),
        "indev": p.indev().unwrap_or(0), "outdev": p.outdev().unwrap_or(0),
        "physindev": p.physindev().unwrap_or(0), "physoutdev": p.physoutdev().unwrap_or(0),
        "timestamp": timestamp(p.timestamp()), "uid": p.uid(), "gid": p.gid(),
        "seq": p.seq(), "seq_global": p.seq_global(), "hw_addr": bytes(p.hw_addr()),
        "prefix": p.prefix().map(|s| s.to_string_lossy().into_owned()),
        "payload_len": payload_len, "payload": payload,
    })
}

fn expected(rows: &[Value]) -> Vec<Value> {
    rows.iter()
        .map(|row| {
            let mut row = row.clone();
            let fields = row.as_object_mut().expect("a row is an object");
            fields.remove("buffer");
            fields.remove("verdict_mark");
            row
        })
        .collect()
}

#[test]
fn every_vector_decodes_as_the_c_libraries_did() {
    let Some(dir) = vectors::dir() else { return };
    let sandbox = sandbox_or_skip!();
    for set in vectors::SETS {
        let buffers = vectors::load(&dir, set).expect("load vectors");
        let group =
            u16::try_from(buffers[0].rows[0]["res_id"].as_u64().expect("res_id")).expect("u16");
        sandbox.run(|| {
            let seen = RefCell::new(Vec::new());
            if set.starts_with("q-") {
                let handle = QueueHandle::open().expect("open");
                let _queue = handle
                    .create_queue(group, |m| seen.borrow_mut().push(queue_row(m)))
                    .expect("create_queue");
                for buffer in &buffers {
                    let n = handle.handle_packet(&buffer.bytes).expect("dispatch");
                    assert_eq!(n, buffer.rows.len(), "{set}-{}", buffer.index);
                    assert_eq!(
                        seen.take(),
                        expected(&buffer.rows),
                        "{set}-{}",
                        buffer.index
                    );
                }
            } else {
                let handle = LogHandle::open().expect("open");
                let mut log = handle.bind_group(group).expect("bind_group");
                log.set_callback(|p| seen.borrow_mut().push(log_row(p)))
                    .expect("callback");
                for buffer in &buffers {
                    let n = handle.handle_packet(&buffer.bytes).expect("dispatch");
                    assert_eq!(n, buffer.rows.len(), "{set}-{}", buffer.index);
                    assert_eq!(
                        seen.take(),
                        expected(&buffer.rows),
                        "{set}-{}",
                        buffer.index
                    );
                }
            }
        });
    }
}

#[test]
fn the_raw_attributes_agree_with_the_c_getters() {
    // The beyond-C accessors parse the same messages: where both see a field, they agree, and
    // the truncated vector carries the CAP_LEN the C library has no getter for.
    let Some(dir) = vectors::dir() else { return };
    let sandbox = sandbox_or_skip!();
    let buffers = vectors::load(&dir, "q-ipv4-marked-truncated").expect("load vectors");
    let queue = u16::try_from(buffers[0].rows[0]["res_id"].as_u64().expect("res_id")).expect("u16");
    let seen = sandbox.run(|| {
        let seen = RefCell::new(Vec::new());
        let handle = QueueHandle::open().expect("open");
        let _queue = handle
            .create_queue(queue, |m| {
                let attrs = m.attributes().expect("parse");
                assert_eq!(attrs.mark, Some(m.mark()));
                assert_eq!(attrs.packet_hdr.packet_id, m.id());
                assert_eq!(attrs.payload.as_deref(), m.payload());
                seen.borrow_mut()
                    .push((m.payload().map(<[u8]>::len), m.cap_len().expect("parse")));
            })
            .expect("create_queue");
        for buffer in &buffers {
            handle.handle_packet(&buffer.bytes).expect("dispatch");
        }
        seen.take()
    });
    assert!(!seen.is_empty());
    for (len, cap_len) in seen {
        assert_eq!(len, Some(20), "cut to the copy range");
        assert!(
            cap_len.is_some_and(|c| c > 20),
            "CAP_LEN tells the real length: {cap_len:?}"
        );
    }
}
