//! The queue over the testkit's fake kernel: no root, no namespace. This is also how users
//! unit-test their verdict logic.

use std::time::Duration;

use netfilter::{Error, Packet, Queue, QueueFlags, Verdict, VerdictKind};
use netfilter_testkit::fake::{FakeKernel, SettledBy};
use netfilter_testkit::synth::QueuePacketBuilder;
use netfilter_testkit::synth::payload;

mod common;
use common::WAIT;

fn udp(text: &[u8]) -> Vec<u8> {
    let (src, dst) = ([10, 0, 0, 1].into(), [10, 0, 0, 2].into());
    payload::ipv4_udp(src, dst, 1000, 53, text).expect("a datagram")
}

fn open(
    queue: u16,
    builder: impl FnOnce(netfilter::QueueBuilder) -> netfilter::QueueBuilder,
) -> (FakeKernel, Queue) {
    let (kernel, transport) = FakeKernel::new().expect("fake kernel");
    let queue = builder(Queue::builder(queue).transport(transport))
        .open()
        .expect("open");
    (kernel, queue)
}

#[test]
fn open_binds_and_configures_with_the_defaults() {
    let (kernel, _queue) = open(3, |b| b);
    let config = kernel.config(3).expect("queue 3 is bound");
    assert_eq!(
        (config.copy_mode, config.copy_range),
        (2, 65531),
        "whole packets"
    );
    assert_eq!(QueueFlags::from_bits_retain(config.flags), QueueFlags::GSO);
    assert_eq!(config.maxlen, netfilter_testkit::fake::QUEUE_MAXLEN_DEFAULT);
}

#[test]
fn builder_options_reach_the_kernel() {
    let (kernel, _queue) = open(4, |b| {
        b.copy(netfilter::CopyMode::Meta, 0)
            .max_len(7)
            .fail_open(true)
            .gso(false)
            .uid_gid(true)
    });
    let config = kernel.config(4).expect("bound");
    assert_eq!((config.copy_mode, config.maxlen), (1, 7));
    assert_eq!(
        QueueFlags::from_bits_retain(config.flags),
        QueueFlags::FAIL_OPEN | QueueFlags::UID_GID
    );
}

#[test]
fn kernel_refusals_are_typed() {
    let (kernel, transport) = FakeKernel::new().expect("fake");
    kernel.bind_elsewhere(5);
    let err = Queue::builder(5)
        .transport(transport)
        .open()
        .expect_err("taken");
    assert!(
        matches!(err, Error::NotPermitted { ref request } if request == "bind queue 5"),
        "{err}"
    );

    let (kernel, transport) = FakeKernel::new().expect("fake");
    kernel.unsupported_queue_flags(QueueFlags::CONNTRACK.bits());
    let err = Queue::builder(6)
        .conntrack(true)
        .transport(transport)
        .open()
        .expect_err("no glue");
    assert!(matches!(err, Error::Unsupported { .. }), "{err}");
}

#[test]
fn packets_come_out_with_their_metadata_and_verdicts_settle() {
    let (kernel, mut queue) = open(1, |b| b);
    let id = kernel
        .queue_packet(
            QueuePacketBuilder::ipv4(1)
                .hook(1)
                .mark(0x2a)
                .indev(2)
                .payload(udp(b"hi")),
        )
        .expect("queued");
    let mut packet = queue.recv_timeout(WAIT).expect("recv").expect("a packet");
    assert_eq!(
        (packet.id(), packet.queue(), packet.mark(), packet.indev()),
        (id, 1, 0x2a, Some(2))
    );
    assert_eq!(packet.payload(), udp(b"hi").as_slice());
    packet.set_mark(0x99);
    packet.accept().expect("accept");
    let settled = kernel.wait_verdict(1, id, WAIT).expect("settled");
    assert_eq!((settled.verdict, settled.mark), (1, Some(0x99)));
}

#[test]
fn verdicts_of_a_burst_travel_as_batches() {
    let (kernel, mut queue) = open(2, |b| b);
    let ids = kernel
        .queue_packets((0..5).map(|i| QueuePacketBuilder::ipv4(2).payload(udp(&[i]))))
        .expect("queued");
    let before = kernel.datagrams();
    for _ in 0..5 {
        queue
            .recv_timeout(WAIT)
            .expect("recv")
            .expect("a packet")
            .accept()
            .expect("accept");
    }
    kernel
        .wait_for(|s| s.outstanding(2).is_empty(), WAIT)
        .expect("all settled");
    // The five verdicts of one receive travel as one batch verdict, sent when the last packet
    // handed out is decided.
    assert_eq!(kernel.datagrams() - before, 1, "one send for five verdicts");
    for id in &ids {
        let settled = kernel.verdict(2, *id).expect("settled");
        assert!(
            matches!(settled.by, SettledBy::Batch { max_id } if max_id == ids[4]),
            "{settled:?}"
        );
    }
}

#[test]
fn verdicts_held_back_go_when_the_loop_asks_again() {
    let (kernel, mut queue) = open(3, |b| b);
    let ids = kernel
        .queue_packets((0..3).map(|i| QueuePacketBuilder::ipv4(3).payload(udp(&[i]))))
        .expect("queued");
    let mut packets: Vec<_> = (0..3)
        .map(|_| queue.recv_timeout(WAIT).expect("recv").expect("a packet"))
        .collect();
    let last = packets.pop().expect("three");
    let before = kernel.datagrams();
    for packet in packets {
        packet.accept().expect("accept");
    }
    // The last packet handed out is undecided: the two verdicts are held back (the fake
    // kernel settles a verdict inside the send, so nothing sent means nothing settled).
    assert_eq!(kernel.datagrams(), before, "held back");
    assert_eq!(kernel.outstanding(3), ids);
    // Asking for a packet with none ready sends them, before any waiting.
    assert!(queue.try_recv().expect("try_recv").is_none());
    assert_eq!(kernel.outstanding(3), [ids[2]]);
    assert!(matches!(
        kernel.verdict(3, ids[1]).expect("settled").by,
        SettledBy::Batch { max_id } if max_id == ids[1]
    ));
    // Now nothing is being handed out: the last verdict goes at once.
    last.accept().expect("accept");
    assert!(kernel.outstanding(3).is_empty());
    assert_eq!(kernel.datagrams(), before + 2);
}

#[test]
fn without_batching_each_verdict_is_its_own_message() {
    let (kernel, mut queue) = open(2, |b| b.batching(false));
    let ids = kernel
        .queue_packets((0..3).map(|i| QueuePacketBuilder::ipv4(2).payload(udp(&[i]))))
        .expect("queued");
    let before = kernel.datagrams();
    for _ in 0..3 {
        queue
            .recv_timeout(WAIT)
            .expect("recv")
            .expect("a packet")
            .accept()
            .expect("accept");
    }
    kernel
        .wait_for(|s| s.outstanding(2).is_empty(), WAIT)
        .expect("settled");
    assert_eq!(kernel.datagrams() - before, 3);
    for id in ids {
        assert_eq!(
            kernel.verdict(2, id).expect("settled").by,
            SettledBy::Verdict
        );
    }
}

#[test]
fn a_held_packet_stops_the_batch_but_nothing_waits() {
    let (kernel, mut queue) = open(7, |b| b);
    let ids = kernel
        .queue_packets((0..4).map(|i| QueuePacketBuilder::ipv4(7).payload(udp(&[i]))))
        .expect("queued");
    let mut packets: Vec<_> = (0..4)
        .map(|_| queue.recv_timeout(WAIT).expect("recv").expect("a packet"))
        .collect();
    let held = packets.remove(1);
    for packet in packets {
        packet.verdict(Verdict::drop()).expect("drop");
    }
    // The held packet waits; the others are settled now, none by a batch covering it.
    kernel
        .wait_for(|s| s.outstanding(7) == [ids[1]], WAIT)
        .expect("three settled");
    assert!(kernel.verdict(7, ids[1]).is_none());
    // A verdict from another thread while the queue sits idle goes out at once.
    std::thread::spawn(move || held.accept().expect("accept"))
        .join()
        .expect("thread");
    assert_eq!(
        kernel
            .wait_verdict(7, ids[1], WAIT)
            .expect("settled")
            .verdict,
        1
    );
}

#[test]
fn a_dropped_packet_fails_closed_plain_and_counted() {
    let (kernel, mut queue) = open(8, |b| b);
    let id = kernel
        .queue_packet(QueuePacketBuilder::ipv4(8).payload(udp(b"x")))
        .expect("queued");
    let mut packet = queue.recv_timeout(WAIT).expect("recv").expect("a packet");
    // What the program meant to change does not ride along on a verdict it never gave.
    packet.set_mark(7);
    packet.set_payload(udp(b"changed")).expect("fits");
    drop(packet);
    let settled = kernel.wait_verdict(8, id, WAIT).expect("settled");
    assert_eq!(
        (settled.verdict, settled.mark, settled.payload),
        (0, None, None),
        "a plain NF_DROP"
    );
    let stats = queue.stats().expect("stats");
    assert_eq!(stats.default_verdicts, 1);

    // A packet with a verdict is not counted; a chosen default is used.
    let (kernel, mut queue) = open(9, |b| b.default_verdict(VerdictKind::Accept));
    for _ in 0..2 {
        kernel
            .queue_packet(QueuePacketBuilder::ipv4(9).payload(udp(b"x")))
            .expect("queued");
    }
    let first = queue.recv_timeout(WAIT).expect("recv").expect("a packet");
    first.drop().expect("an explicit verdict");
    let second = queue.recv_timeout(WAIT).expect("recv").expect("a packet");
    let id = second.id();
    drop(second);
    assert_eq!(
        kernel.wait_verdict(9, id, WAIT).expect("settled").verdict,
        1
    );
    assert_eq!(queue.stats().expect("stats").default_verdicts, 1);
}

#[test]
fn an_overrun_is_reported_and_receiving_goes_on() {
    let (kernel, mut queue) = open(9, |b| b);
    kernel.overrun();
    let id = kernel
        .queue_packet(QueuePacketBuilder::ipv4(9).payload(udp(b"after")))
        .expect("queued");
    match queue.recv_timeout(WAIT) {
        Err(Error::Overrun { lost: None }) => {}
        other => panic!("expected an overrun, got {other:?}"),
    }
    let packet = queue
        .recv_timeout(WAIT)
        .expect("recv")
        .expect("the packet after it");
    assert_eq!(packet.id(), id);
}

#[test]
fn kernel_errors_for_verdicts_come_back_typed() {
    let (kernel, mut queue) = open(10, |b| b);
    let id = kernel
        .queue_packet(QueuePacketBuilder::ipv4(10).payload(udp(b"x")))
        .expect("queued");
    let packet = queue.recv_timeout(WAIT).expect("recv").expect("a packet");
    // The kernel forgets the packet (as when the queue is flushed elsewhere).
    kernel.fail_next(libc::ENOENT);
    packet.accept().expect("sent");
    match queue.recv_timeout(WAIT) {
        Err(Error::Kernel { source, .. }) => assert_eq!(source.raw_os_error(), Some(libc::ENOENT)),
        other => panic!("expected ENOENT for packet {id}, got {other:?}"),
    }
}

#[test]
fn packets_and_queues_move_between_threads() {
    fn send<T: Send>() {}
    fn sync<T: Sync>() {}
    send::<netfilter::Packet>();
    sync::<netfilter::Packet>();
    send::<Queue>();
    send::<netfilter::LogGroup>();
    send::<netfilter::LogPacket>();
}

#[test]
fn every_verdict_kind_carries_mark_priority_and_payload() {
    let (kernel, mut queue) = open(11, |b| b.batching(false));
    let cases = [
        (Verdict::accept().with_mark(1), 1u32),
        (Verdict::drop().with_priority(5), 0),
        (Verdict::repeat().with_mark(2).with_priority(6), 4),
        (Verdict::stop(), 5),
        (Verdict::queue(12, true), (12 << 16) | 0x8000 | 3),
        (
            Verdict::accept().with_payload(udp(b"new")).expect("fits"),
            1,
        ),
    ];
    for (verdict, raw) in cases {
        let id = kernel
            .queue_packet(QueuePacketBuilder::ipv4(11).payload(udp(b"x")))
            .expect("queued");
        let packet = queue.recv_timeout(WAIT).expect("recv").expect("a packet");
        packet.verdict(verdict.clone()).expect("verdict");
        let settled = kernel.wait_verdict(11, id, WAIT).expect("settled");
        assert_eq!(settled.verdict, raw, "{verdict:?}");
        assert_eq!(
            (settled.mark, settled.priority),
            (verdict.mark(), verdict.priority())
        );
        assert_eq!(
            settled.payload.as_deref(),
            verdict.payload().map(|p| p.as_ref())
        );
    }
}

#[test]
fn more_waiting_datagrams_than_one_burst_are_all_handed_out() {
    // Regression: the datagram received after the 64th of a burst was dropped, and the next
    // batch verdict accepted its packet unseen.
    let (kernel, mut queue) = open(13, |b| b.batching(false));
    let ids: Vec<u32> = (0..150)
        .map(|_| {
            kernel
                .queue_packet(QueuePacketBuilder::ipv4(13).payload(udp(b"x")))
                .expect("queued")
        })
        .collect();
    let mut seen = Vec::new();
    while let Some(packet) = queue
        .recv_timeout(Duration::from_millis(200))
        .expect("recv")
    {
        seen.push(packet.id());
        packet.accept().expect("accept");
    }
    assert_eq!(seen, ids, "every packet, in order");
    assert!(kernel.outstanding(13).is_empty());
}

/// A transport that holds the unbind request of a closing queue until the test lets it go, so
/// that a verdict can be given exactly while the queue is being dropped.
#[derive(Debug)]
struct HoldUnbind {
    inner: netfilter_testkit::fake::FakeTransport,
    seen: std::sync::mpsc::SyncSender<()>,
    release: std::sync::Mutex<std::sync::mpsc::Receiver<()>>,
}

impl HoldUnbind {
    fn is_unbind(datagram: &[u8]) -> bool {
        use netfilter_safe::wire::{Message, Messages};
        Messages::new(datagram).any(|m| {
            matches!(m, Ok(Message::QueueConfig(c))
                if c.cmd.is_some_and(|cmd| u32::from(cmd.command)
                    == netfilter_safe::wire::uapi::NFQNL_CFG_CMD_UNBIND))
        })
    }
}

impl netfilter_safe::transport::Transport for HoldUnbind {
    fn send(&self, datagram: &[u8]) -> std::io::Result<()> {
        if HoldUnbind::is_unbind(datagram) {
            self.seen.send(()).expect("the test waits");
            let release = self.release.lock().expect("lock");
            release.recv().expect("the test releases");
        }
        self.inner.send(datagram)
    }
    fn recv(&self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.inner.recv(buf)
    }
    fn try_recv(&self, buf: &mut [u8]) -> std::io::Result<Option<usize>> {
        self.inner.try_recv(buf)
    }
    fn recv_timeout(
        &self,
        buf: &mut [u8],
        timeout: Option<Duration>,
    ) -> std::io::Result<Option<usize>> {
        self.inner.recv_timeout(buf, timeout)
    }
    fn wait_readable(&self, timeout: Option<Duration>) -> std::io::Result<bool> {
        self.inner.wait_readable(timeout)
    }
    fn set_nonblocking(&self, nonblocking: bool) -> std::io::Result<()> {
        self.inner.set_nonblocking(nonblocking)
    }
    fn fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.inner.fd()
    }
}

#[test]
fn verdicts_once_the_queue_is_being_dropped_are_refused_and_earlier_ones_flushed() {
    // Issue 15: `closed` was set only after the unbind round trip, so a verdict given while
    // the drop waited for the kernel went to a queue about to vanish and returned Ok.
    let (kernel, transport) = FakeKernel::new().expect("fake kernel");
    let (seen_tx, seen) = std::sync::mpsc::sync_channel(1);
    let (release, release_rx) = std::sync::mpsc::sync_channel(1);
    let transport = HoldUnbind {
        inner: transport,
        seen: seen_tx,
        release: std::sync::Mutex::new(release_rx),
    };
    let mut queue = Queue::builder(6).transport(transport).open().expect("open");
    let ids: Vec<u32> = (0..3)
        .map(|_| {
            kernel
                .queue_packet(QueuePacketBuilder::ipv4(6).payload(udp(b"x")))
                .expect("queued")
        })
        .collect();
    let mut packets: Vec<Packet> = (0..3)
        .map(|_| queue.recv_timeout(WAIT).expect("recv").expect("a packet"))
        .collect();
    let late = packets.pop().expect("the third");
    let held = packets.pop().expect("the second");
    // Decided before the drop, but held back to travel with the others (the last packet
    // handed out is undecided): the drop must send it.
    packets.pop().expect("the first").accept().expect("verdict");
    assert_eq!(kernel.verdict(6, ids[0]), None, "held back so far");

    let dropping = std::thread::spawn(move || drop(queue));
    seen.recv_timeout(WAIT).expect("the drop sends its unbind");
    let err = late.accept().expect_err("the queue is closing");
    assert!(
        matches!(err, Error::QueueClosed { queue: 6, id } if id == ids[2]),
        "{err}"
    );
    release.send(()).expect("release");
    dropping.join().expect("the drop finished");
    let err = held.drop().expect_err("closed");
    assert!(matches!(err, Error::QueueClosed { .. }), "{err}");

    let first = kernel.verdict(6, ids[0]).map(|v| v.by);
    assert!(
        matches!(first, Some(SettledBy::Verdict | SettledBy::Batch { .. })),
        "the verdict given before the drop reached the kernel first: {first:?}"
    );
    for id in &ids[1..] {
        assert_eq!(
            kernel.verdict(6, *id).map(|v| v.by),
            Some(SettledBy::Flush),
            "packet {id} was dropped with its queue, not settled by a late verdict"
        );
    }
}

#[test]
fn a_packet_prints_on_one_line_whatever_its_payload() {
    let (kernel, mut queue) = open(12, |b| b);
    let cases: [(QueuePacketBuilder, &str); 3] = [
        (
            QueuePacketBuilder::ipv4(12).payload(udp(b"hi")),
            "queue 12 packet 1: IPV4 PRE_ROUTING UDP 10.0.0.1:1000 -> 10.0.0.2:53, 30 bytes",
        ),
        (
            QueuePacketBuilder::ipv4(12).payload(vec![0xff; 5]).mark(3),
            "queue 12 packet 2: IPV4 PRE_ROUTING 5 bytes, mark 0x3",
        ),
        (
            QueuePacketBuilder::ipv4(12),
            "queue 12 packet 3: IPV4 PRE_ROUTING no payload",
        ),
    ];
    for (packet, line) in cases {
        kernel.queue_packet(packet).expect("queued");
        let packet = queue.recv_timeout(WAIT).expect("recv").expect("a packet");
        assert_eq!(packet.to_string(), line);
        assert_eq!(packet.hook().to_string(), "PRE_ROUTING");
        packet.accept().expect("accept");
    }
}
