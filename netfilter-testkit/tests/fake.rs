//! The fake kernel: configuration, acks and errors, verdict bookkeeping, overruns and the
//! transport's descriptor, all without privileges.

use std::os::fd::AsRawFd;
use std::thread;
use std::time::Duration;

use netfilter_safe::transport::Transport;
use netfilter_safe::wire::{
    BatchVerdict, Emit, LogConfig, LogMode, Message, Messages, NlMsgHeader, QueueCmd, QueueConfig,
    QueueParams, Verdict,
};
use netfilter_testkit::Error;
use netfilter_testkit::fake::{
    FakeKernel, FakeTransport, NLM_F_CAPPED, Sent, SettledBy, SettledVerdict,
};
use netfilter_testkit::synth::{LogPacketBuilder, QueuePacketBuilder};

const REQ: u16 = libc::NLM_F_REQUEST as u16;
const ACK: u16 = libc::NLM_F_ACK as u16;
const ACCEPT: u32 = libc::NF_ACCEPT as u32;
const DROP: u32 = libc::NF_DROP as u32;
const CONNTRACK: u32 = 2; // NFQA_CFG_F_CONNTRACK
const GSO: u32 = 4; // NFQA_CFG_F_GSO
const WAIT: Duration = Duration::from_secs(5);

/// An error or ack the fake sent: code, seq, flags, pid, original header, bytes after it.
#[derive(Debug)]
struct Reply {
    error: i32,
    seq: u32,
    flags: u16,
    pid: u32,
    original: Option<NlMsgHeader>,
    rest: usize,
}

fn recv_reply(t: &FakeTransport) -> Reply {
    let mut buf = vec![0u8; 0x10000];
    assert!(t.wait_readable(Some(WAIT)).unwrap(), "no reply");
    let n = t.recv(&mut buf).unwrap();
    let msgs: Vec<_> = Messages::new(&buf[..n]).collect();
    assert_eq!(msgs.len(), 1, "one reply per datagram");
    match msgs.into_iter().next() {
        Some(Ok(Message::Error(e))) => Reply {
            error: e.error,
            seq: e.seq,
            flags: e.flags,
            pid: e.pid,
            original: e.original,
            rest: e.rest.len(),
        },
        other => panic!("expected NLMSG_ERROR, got {other:?}"),
    }
}

fn nothing_waiting(t: &FakeTransport) {
    assert!(!t.wait_readable(Some(Duration::ZERO)).unwrap());
}

fn queue_cfg(
    queue: u16,
    flags: u16,
    seq: u32,
    f: impl FnOnce(&mut QueueConfig<'static>),
) -> Vec<u8> {
    let mut c = QueueConfig::default();
    c.header.res_id = queue;
    c.header.flags = flags;
    c.header.seq = seq;
    f(&mut c);
    c.to_bytes().unwrap()
}

fn bind_cmd(c: &mut QueueConfig<'_>) {
    c.cmd = Some(QueueCmd { command: 1, pf: 0 });
}

/// Binds `queue` in packet mode, checks the ack, and leaves nothing to read.
fn bind_queue(t: &FakeTransport, queue: u16) {
    t.send(&queue_cfg(queue, REQ | ACK, 100, |c| {
        bind_cmd(c);
        c.params = Some(QueueParams {
            copy_mode: 2,
            copy_range: 0xffff,
        });
    }))
    .unwrap();
    assert_eq!(recv_reply(t).error, 0);
}

fn verdict_msg(queue: u16, id: u32, verdict: u32, flags: u16, seq: u32) -> Verdict<'static> {
    let mut v = Verdict::default();
    v.header.res_id = queue;
    v.header.flags = flags;
    v.header.seq = seq;
    v.verdict_hdr.verdict = verdict;
    v.verdict_hdr.id = id;
    v
}

fn batch_msg(queue: u16, id: u32, verdict: u32) -> Vec<u8> {
    let mut v = BatchVerdict::default();
    v.header.res_id = queue;
    v.header.flags = REQ;
    v.verdict_hdr.verdict = verdict;
    v.verdict_hdr.id = id;
    v.mark = Some(9);
    v.to_bytes().unwrap()
}

/// Reads one queue packet and returns its id and payload length.
fn recv_packet(t: &FakeTransport) -> (u16, u32, Option<usize>, Option<u32>) {
    let mut buf = vec![0u8; 0x20000];
    assert!(t.wait_readable(Some(WAIT)).unwrap());
    let n = t.recv(&mut buf).unwrap();
    match Messages::new(&buf[..n]).next() {
        Some(Ok(Message::QueuePacket(p))) => (
            p.header.res_id,
            p.packet_hdr.packet_id,
            p.payload.as_deref().map(<[u8]>::len),
            p.cap_len,
        ),
        other => panic!("expected a queue packet, got {other:?}"),
    }
}

fn packet(queue: u16, len: usize) -> QueuePacketBuilder {
    QueuePacketBuilder::ipv4(queue).payload(vec![0x45; len])
}

#[test]
fn config_is_acked_and_kept() {
    let (kernel, t) = FakeKernel::new().unwrap();
    let bind = queue_cfg(0, REQ | ACK, 5, |c| {
        bind_cmd(c);
        c.params = Some(QueueParams {
            copy_mode: 2,
            copy_range: 0,
        });
    });
    t.send(&bind).unwrap();
    let ack = recv_reply(&t);
    assert_eq!((ack.error, ack.seq, ack.flags), (0, 5, NLM_F_CAPPED));
    assert_eq!(ack.pid, kernel.port_id());
    assert_eq!(ack.original, Some(NlMsgHeader::parse(&bind).unwrap()));
    assert_eq!(ack.rest, 0, "an ack carries the request's header only");
    let c = kernel.config(0).unwrap();
    assert_eq!(
        (c.copy_mode, c.copy_range, c.maxlen, c.flags),
        (2, 65531, 1024, 0)
    );

    t.send(&queue_cfg(0, REQ | ACK, 6, |c| {
        c.queue_maxlen = Some(10);
        c.flags = Some(GSO);
        c.mask = Some(GSO);
    }))
    .unwrap();
    assert_eq!(recv_reply(&t).error, 0);
    let c = kernel.config(0).unwrap();
    assert_eq!((c.maxlen, c.flags), (10, GSO));

    // A second bind: EBUSY, with the whole request echoed.
    t.send(&bind).unwrap();
    let busy = recv_reply(&t);
    assert_eq!((busy.error, busy.flags), (-libc::EBUSY, 0));
    assert_eq!(busy.rest, bind.len() - 16);

    // Success without NLM_F_ACK: no answer.
    t.send(&queue_cfg(0, REQ, 7, |c| c.queue_maxlen = Some(20)))
        .unwrap();
    nothing_waiting(&t);
    assert_eq!(kernel.config(0).unwrap().maxlen, 20);

    // Unbind, then configuring the number fails with ENODEV even without an ack request.
    t.send(&queue_cfg(0, REQ | ACK, 8, |c| {
        c.cmd = Some(QueueCmd { command: 2, pf: 0 })
    }))
    .unwrap();
    assert_eq!(recv_reply(&t).error, 0);
    assert_eq!(kernel.config(0), None);
    t.send(&queue_cfg(0, REQ, 9, |c| c.queue_maxlen = Some(1)))
        .unwrap();
    assert_eq!(recv_reply(&t).error, -libc::ENODEV);

    let sent = kernel.sent();
    assert_eq!(kernel.datagrams(), 6);
    assert_eq!(sent.len(), 6);
    let replies: Vec<_> = sent.iter().map(|m| m.reply).collect();
    assert_eq!(
        replies,
        [
            Some(0),
            Some(0),
            Some(-libc::EBUSY),
            None,
            Some(0),
            Some(-libc::ENODEV)
        ]
    );
    match &sent[1].message {
        Sent::QueueConfig(c) => {
            assert_eq!(c.queue_maxlen, Some(10));
            assert_eq!(c.header.seq, 6);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(sent[1].header.seq, 6);
}

#[test]
fn queue_bound_elsewhere_is_eperm() {
    let (kernel, t) = FakeKernel::new().unwrap();
    kernel.bind_elsewhere(1);
    // Without NLM_F_ACK: the kernel answers errors anyway.
    t.send(&queue_cfg(1, REQ, 3, bind_cmd)).unwrap();
    let r = recv_reply(&t);
    assert_eq!((r.error, r.seq), (-libc::EPERM, 3));
    assert_eq!(kernel.config(1), None);
    assert!(kernel.state(|s| s.bound_queues().is_empty()));
    // Verdicts on it too.
    t.send(&verdict_msg(1, 1, ACCEPT, REQ, 4).to_bytes().unwrap())
        .unwrap();
    assert_eq!(recv_reply(&t).error, -libc::EPERM);

    kernel.bind_group_elsewhere(2);
    let mut c = LogConfig::default();
    c.header.res_id = 2;
    c.header.flags = REQ | ACK;
    c.cmd = Some(1);
    t.send(&c.to_bytes().unwrap()).unwrap();
    assert_eq!(recv_reply(&t).error, -libc::EPERM);
    assert_eq!(kernel.log_config(2), None);
}

#[test]
fn unsupported_flag_is_eopnotsupp() {
    let (kernel, t) = FakeKernel::new().unwrap();
    kernel.unsupported_queue_flags(CONNTRACK);
    bind_queue(&t, 0);
    let set = |flags: u32, mask: Option<u32>| {
        queue_cfg(0, REQ | ACK, 1, |c| {
            c.flags = Some(flags);
            c.mask = mask;
        })
    };
    t.send(&set(CONNTRACK | GSO, Some(CONNTRACK | GSO)))
        .unwrap();
    assert_eq!(recv_reply(&t).error, -libc::EOPNOTSUPP);
    assert_eq!(kernel.config(0).unwrap().flags, 0, "nothing applied");
    // Masked off, the unsupported flag is not asked for.
    t.send(&set(CONNTRACK | GSO, Some(GSO))).unwrap();
    assert_eq!(recv_reply(&t).error, 0);
    assert_eq!(kernel.config(0).unwrap().flags, GSO);
    // Flags need a mask; flags past NFQA_CFG_F_MAX are unsupported.
    t.send(&set(GSO, None)).unwrap();
    assert_eq!(recv_reply(&t).error, -libc::EINVAL);
    t.send(&set(1 << 5, Some(1 << 5))).unwrap();
    assert_eq!(recv_reply(&t).error, -libc::EOPNOTSUPP);

    // NFLOG's conntrack flag.
    kernel.unsupported_log_flags(4);
    let mut c = LogConfig::default();
    c.header.res_id = 1;
    c.header.flags = REQ | ACK;
    c.cmd = Some(1);
    c.flags = Some(4);
    t.send(&c.to_bytes().unwrap()).unwrap();
    assert_eq!(recv_reply(&t).error, -libc::EOPNOTSUPP);
    assert_eq!(kernel.log_config(1), None, "the bind in it was not applied");
}

#[test]
fn verdict_settles_its_id_only() {
    let (kernel, t) = FakeKernel::new().unwrap();
    bind_queue(&t, 0);
    let ids: Vec<u32> = (0..3)
        .map(|_| kernel.queue_packet(packet(0, 40)).unwrap())
        .collect();
    assert_eq!(ids, [1, 2, 3], "ids count from 1 per queue");
    for id in &ids {
        assert_eq!(recv_packet(&t).1, *id);
    }
    let mut v = verdict_msg(0, 2, ACCEPT, REQ, 11);
    v.mark = Some(0x2a);
    v.priority = Some(3);
    v.payload = Some(b"new".to_vec().into());
    t.send(&v.to_bytes().unwrap()).unwrap();
    // Settled by the time send returns; nothing answered without NLM_F_ACK.
    let s: SettledVerdict = kernel.verdict(0, 2).unwrap();
    assert_eq!(s.verdict, ACCEPT);
    assert_eq!((s.mark, s.priority), (Some(0x2a), Some(3)));
    assert_eq!(s.payload.as_deref(), Some(&b"new"[..]));
    assert_eq!(s.by, SettledBy::Verdict);
    assert!(!s.is_batch());
    assert_eq!(kernel.outstanding(0), [1, 3]);
    assert_eq!(kernel.verdict(0, 1), None);
    nothing_waiting(&t);
    assert!(matches!(&kernel.sent()[1].message, Sent::Verdict(v) if v.verdict_hdr.id == 2));
}

#[test]
fn batch_verdict_settles_ids_up_to_its_id() {
    let (kernel, t) = FakeKernel::new().unwrap();
    bind_queue(&t, 0);
    let ids = kernel.queue_packets((0..4).map(|_| packet(0, 20))).unwrap();
    assert_eq!(ids, [1, 2, 3, 4]);
    let mut buf = vec![0u8; 4096];
    let n = t.recv(&mut buf).unwrap();
    assert_eq!(Messages::new(&buf[..n]).count(), 4, "one datagram");

    t.send(&verdict_msg(0, 2, DROP, REQ, 1).to_bytes().unwrap())
        .unwrap();
    t.send(&batch_msg(0, 3, ACCEPT)).unwrap();
    assert_eq!(kernel.outstanding(0), [4]);
    for id in [1, 3] {
        let s = kernel.verdict(0, id).unwrap();
        assert_eq!((s.verdict, s.mark), (ACCEPT, Some(9)));
        assert_eq!(s.by, SettledBy::Batch { max_id: 3 });
    }
    assert_eq!(kernel.verdict(0, 2).unwrap().verdict, DROP);
    assert_eq!(kernel.verdict(0, 4), None, "4 is after the batch's id");
    nothing_waiting(&t);
    // Nothing left at or below 3: ENOENT.
    t.send(&batch_msg(0, 3, ACCEPT)).unwrap();
    assert_eq!(recv_reply(&t).error, -libc::ENOENT);
    assert_eq!(kernel.outstanding(0), [4]);
}

#[test]
fn unknown_id_is_enoent_without_ack() {
    let (kernel, t) = FakeKernel::new().unwrap();
    bind_queue(&t, 0);
    let id = kernel.queue_packet(packet(0, 20)).unwrap();
    recv_packet(&t);
    let bad = verdict_msg(0, id + 98, ACCEPT, REQ, 42).to_bytes().unwrap();
    t.send(&bad).unwrap();
    let r = recv_reply(&t);
    assert_eq!((r.error, r.seq), (-libc::ENOENT, 42));
    assert_eq!(r.rest, bad.len() - 16, "the whole verdict is echoed");
    // Twice the same id: the second is unknown.
    let good = verdict_msg(0, id, ACCEPT, REQ | ACK, 43)
        .to_bytes()
        .unwrap();
    t.send(&good).unwrap();
    assert_eq!(recv_reply(&t).error, 0);
    t.send(&good).unwrap();
    assert_eq!(recv_reply(&t).error, -libc::ENOENT);
    // An unbound queue: ENODEV; NF_STOLEN: EINVAL.
    t.send(&verdict_msg(5, 1, ACCEPT, REQ, 44).to_bytes().unwrap())
        .unwrap();
    assert_eq!(recv_reply(&t).error, -libc::ENODEV);
    let id = kernel.queue_packet(packet(0, 20)).unwrap();
    recv_packet(&t);
    t.send(&verdict_msg(0, id, 2, REQ, 45).to_bytes().unwrap())
        .unwrap();
    assert_eq!(recv_reply(&t).error, -libc::EINVAL);
    assert_eq!(kernel.outstanding(0), [id]);
    let replies: Vec<_> = kernel.sent().iter().map(|m| m.reply).collect();
    assert_eq!(
        replies,
        [
            Some(0),
            Some(-libc::ENOENT),
            Some(0),
            Some(-libc::ENOENT),
            Some(-libc::ENODEV),
            Some(-libc::EINVAL)
        ]
    );
}

#[test]
fn overrun_fails_next_recv_once() {
    let (kernel, t) = FakeKernel::new().unwrap();
    bind_queue(&t, 0);
    let id = kernel.queue_packet(packet(0, 20)).unwrap();
    kernel.overrun();
    assert!(t.wait_readable(Some(Duration::ZERO)).unwrap());
    let mut buf = vec![0u8; 4096];
    let err = t.recv(&mut buf).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::ENOBUFS));
    // Then the packet that was waiting, then nothing (the wake-up marker is not a datagram).
    assert_eq!(recv_packet(&t).1, id);
    t.set_nonblocking(true).unwrap();
    let err = t.recv(&mut buf).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EAGAIN));
    nothing_waiting(&t);
    assert_eq!(kernel.state(|s| s.overruns()), 1);

    // An overrun with nothing queued wakes a waiting reader.
    let waiter = thread::spawn(move || {
        let ready = t.wait_readable(Some(WAIT)).unwrap();
        let mut buf = vec![0u8; 64];
        (ready, t.recv(&mut buf).map_err(|e| e.raw_os_error()))
    });
    thread::sleep(Duration::from_millis(50));
    kernel.overrun();
    assert_eq!(waiter.join().unwrap(), (true, Err(Some(libc::ENOBUFS))));
}

#[test]
fn fd_is_readable_when_a_datagram_waits() {
    let (kernel, t) = FakeKernel::new().unwrap();
    let poll = |ms| {
        let mut pfd = libc::pollfd {
            fd: t.fd().as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd for the call.
        let n = unsafe { libc::poll(&mut pfd, 1, ms) };
        assert!(n >= 0);
        n == 1 && pfd.revents & libc::POLLIN != 0
    };
    assert!(!poll(0));
    bind_queue(&t, 0);
    assert!(!poll(0));
    kernel.queue_packet(packet(0, 20)).unwrap();
    assert!(poll(1000));
    recv_packet(&t);
    assert!(!poll(0));
    kernel.overrun();
    assert!(poll(1000));
}

#[test]
fn recv_returns_the_full_length() {
    let (kernel, t) = FakeKernel::new().unwrap();
    bind_queue(&t, 0);
    kernel.queue_packet(packet(0, 300)).unwrap();
    let mut small = [0u8; 16];
    let n = t.recv(&mut small).unwrap();
    assert!(n > 300, "full length {n}, not the 16 bytes that fit");
    assert_eq!(
        &small[4..6],
        &0x0300u16.to_ne_bytes(),
        "NFQNL_MSG_PACKET type"
    );
    nothing_waiting(&t); // the rest is lost, as with MSG_TRUNC on netlink
}

#[test]
fn copy_mode_and_flags_shape_queued_packets() {
    let (kernel, t) = FakeKernel::new().unwrap();
    t.send(&queue_cfg(0, REQ, 1, bind_cmd)).unwrap();
    let err = kernel.queue_packet(packet(0, 20)).unwrap_err();
    assert!(matches!(err, Error::Invalid { .. }), "{err}");
    assert_eq!(kernel.state(|s| s.dropped(0)), 1, "COPY_NONE drops");
    t.send(&queue_cfg(0, REQ, 2, |c| {
        c.params = Some(QueueParams {
            copy_mode: 2,
            copy_range: 64,
        });
        c.queue_maxlen = Some(2);
    }))
    .unwrap();
    let id = kernel
        .queue_packet(packet(0, 100).uid_gid(1000, 1000))
        .unwrap();
    let (_, got, len, cap) = recv_packet(&t);
    assert_eq!((got, len, cap), (id, Some(64), Some(100)));
    kernel.queue_packet(packet(0, 10)).unwrap();
    assert!(kernel.queue_packet(packet(0, 10)).is_err(), "maxlen 2");
    assert_eq!(kernel.outstanding(0).len(), 2);
}

#[test]
fn nf_queue_verdict_moves_the_packet() {
    let (kernel, t) = FakeKernel::new().unwrap();
    bind_queue(&t, 0);
    bind_queue(&t, 1);
    let id = kernel.queue_packet(packet(0, 20)).unwrap();
    recv_packet(&t);
    let word = (1 << 16) | libc::NF_QUEUE as u32;
    t.send(&verdict_msg(0, id, word, REQ, 1).to_bytes().unwrap())
        .unwrap();
    let s = kernel.verdict(0, id).unwrap();
    assert_eq!(s.requeued, Some((1, 1)));
    assert_eq!(recv_packet(&t).0, 1);
    assert_eq!(kernel.outstanding(1), [1]);
}

#[test]
fn log_groups_configure_and_number_packets() {
    let (kernel, t) = FakeKernel::new().unwrap();
    let mut c = LogConfig::default();
    c.header.res_id = 7;
    c.header.flags = REQ | ACK;
    c.cmd = Some(1);
    c.mode = Some(LogMode {
        copy_mode: 2,
        copy_range: 8,
    });
    c.nlbufsiz = Some(1 << 20); // out of range: silently ignored, as by the kernel
    c.qthresh = Some(1);
    c.flags = Some(1); // NFULNL_CFG_F_SEQ
    t.send(&c.to_bytes().unwrap()).unwrap();
    assert_eq!(recv_reply(&t).error, 0);
    let s = kernel.log_config(7).unwrap();
    assert_eq!(
        (s.copy_range, s.nlbufsiz, s.qthresh, s.flags),
        (8, 3776, 1, 1)
    );

    kernel
        .log_packet(LogPacketBuilder::ipv4(7).prefix("a").payload(vec![1; 20]))
        .unwrap();
    kernel
        .log_batch([LogPacketBuilder::ipv4(7), LogPacketBuilder::ipv4(7)])
        .unwrap();
    let mut buf = vec![0u8; 4096];
    let n = t.recv(&mut buf).unwrap();
    match Messages::new(&buf[..n]).next() {
        Some(Ok(Message::LogPacket(p))) => {
            assert_eq!(p.seq, Some(0));
            assert_eq!(p.payload.as_deref().map(<[u8]>::len), Some(8));
        }
        other => panic!("{other:?}"),
    }
    let n = t.recv(&mut buf).unwrap();
    let kinds: Vec<_> = Messages::new(&buf[..n])
        .map(|m| match m.unwrap() {
            Message::LogPacket(p) => p.seq.map(i64::from).unwrap_or(-1),
            Message::Done(_) => -2,
            _ => -3,
        })
        .collect();
    assert_eq!(kinds, [1, 2, -2]);
    assert!(kernel.log_packet(LogPacketBuilder::ipv4(8)).is_err());
}

#[test]
fn program_runs_in_another_thread() {
    let (kernel, t) = FakeKernel::new().unwrap();
    let program = thread::spawn(move || {
        bind_queue(&t, 0);
        let (_, id, _, _) = recv_packet(&t);
        t.send(&verdict_msg(0, id, ACCEPT, REQ, 1).to_bytes().unwrap())
            .unwrap();
        t
    });
    kernel.wait_for(|s| s.queue(0).is_some(), WAIT).unwrap();
    let id = kernel.queue_packet(packet(0, 20)).unwrap();
    assert_eq!(kernel.wait_verdict(0, id, WAIT).unwrap().verdict, ACCEPT);
    let err = kernel
        .wait_for(|s| s.datagrams() > 10, Duration::from_millis(20))
        .unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err}");
    drop(program.join().unwrap());
}

#[test]
fn dropping_the_transport_unbinds_and_flushes() {
    let (kernel, t) = FakeKernel::new().unwrap();
    bind_queue(&t, 0);
    let id = kernel.queue_packet(packet(0, 20)).unwrap();
    drop(t);
    assert!(kernel.state(|s| s.is_closed()));
    assert_eq!(kernel.config(0), None);
    let s = kernel.verdict(0, id).unwrap();
    assert_eq!((s.verdict, s.by), (DROP, SettledBy::Flush));
    assert!(kernel.send(&[1, 2, 3]).is_err());
}

#[test]
fn dropping_the_fake_ends_the_transport() {
    let (kernel, t) = FakeKernel::new().unwrap();
    bind_queue(&t, 0);
    kernel.queue_packet(packet(0, 20)).unwrap();
    drop(kernel);
    // What was queued is still read, then end of file; sends fail.
    recv_packet(&t);
    let mut buf = [0u8; 64];
    assert_eq!(
        t.recv(&mut buf).unwrap_err().raw_os_error(),
        Some(libc::ENOTCONN)
    );
    let bind = queue_cfg(1, REQ, 1, bind_cmd);
    assert_eq!(t.send(&bind).unwrap_err().raw_os_error(), Some(libc::EPIPE));
}

#[test]
fn without_net_admin_everything_is_eperm() {
    let (kernel, t) = FakeKernel::new().unwrap();
    kernel.drop_net_admin();
    t.send(&queue_cfg(0, REQ, 1, bind_cmd)).unwrap();
    assert_eq!(recv_reply(&t).error, -libc::EPERM);
    assert_eq!(kernel.config(0), None);
}

#[test]
fn fail_next_fails_one_request() {
    let (kernel, t) = FakeKernel::new().unwrap();
    kernel.fail_next(libc::ENOMEM);
    t.send(&queue_cfg(0, REQ | ACK, 1, bind_cmd)).unwrap();
    assert_eq!(recv_reply(&t).error, -libc::ENOMEM);
    assert_eq!(kernel.config(0), None);
    t.send(&queue_cfg(0, REQ | ACK, 2, bind_cmd)).unwrap();
    assert_eq!(recv_reply(&t).error, 0);
    // Messages without NLM_F_REQUEST are not handled, only acknowledged.
    t.send(&queue_cfg(0, ACK, 3, bind_cmd)).unwrap();
    assert_eq!(recv_reply(&t).error, 0);
}
