//! The `tokio` feature against the real kernel (packets as an async stream), and over the
//! fake kernel (settings changed through the adapters).
#![cfg(feature = "tokio")]

use std::time::Duration;

use netfilter::Queue;
use netfilter::tokio::AsyncQueue;
use netfilter_testkit::sandbox_or_skip;
use netfilter_testkit::traffic::{UdpReceiver, udp_send};

mod common;
use common::{local, log_rule, queue_rule};

/// A current-thread runtime with I/O and timers.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
        .expect("runtime")
}

#[test]
fn packets_arrive_through_the_reactor_and_verdicts_go_back() {
    let sandbox = sandbox_or_skip!();
    queue_rule(&sandbox, 21, 9321);
    let queue = common::queue::open(&sandbox, || Queue::builder(21));
    let to = local(9321);
    let receiver = UdpReceiver::bind(&sandbox, to).expect("receiver");
    let runtime = runtime();
    let seen = runtime.block_on(async {
        let mut queue = AsyncQueue::new(queue).expect("register");
        // Nothing is waiting: the stream is pending, not erroring.
        let idle = tokio::time::timeout(Duration::from_millis(200), queue.recv()).await;
        assert!(idle.is_err(), "no packet yet");
        for text in [&b"one"[..], b"two", b"three"] {
            udp_send(&sandbox, to, text).expect("send");
        }
        let mut seen = Vec::new();
        for _ in 0..3 {
            let packet = tokio::time::timeout(Duration::from_secs(5), queue.recv())
                .await
                .expect("a packet within 5 s")
                .expect("recv");
            seen.push(packet.payload().len());
            packet.accept().expect("accept");
        }
        seen
    });
    assert_eq!(seen, [31, 31, 33], "IPv4 + UDP headers + the text");
    let mut got: Vec<Vec<u8>> = (0..3)
        .map(|_| receiver.recv(Duration::from_secs(5)).expect("delivered").0)
        .collect();
    got.sort();
    assert_eq!(got, [b"one".to_vec(), b"three".to_vec(), b"two".to_vec()]);
}

#[test]
fn log_groups_stream_too() {
    use netfilter::LogGroup;
    use netfilter::tokio::AsyncLogGroup;

    let sandbox = sandbox_or_skip!();
    log_rule(&sandbox, 22, 9322, "async");
    let log = common::log::open(&sandbox, || LogGroup::builder(22).qthresh(1));
    let to = local(9322);
    let runtime = runtime();
    let prefixes = runtime.block_on(async {
        let mut log = AsyncLogGroup::new(log).expect("register");
        for _ in 0..2 {
            udp_send(&sandbox, to, b"logged").expect("send");
        }
        let mut prefixes = Vec::new();
        for _ in 0..2 {
            let packet = tokio::time::timeout(Duration::from_secs(5), log.recv())
                .await
                .expect("a message within 5 s")
                .expect("recv");
            prefixes.push(packet.prefix().map(str::to_owned));
        }
        prefixes
    });
    assert_eq!(
        prefixes,
        [Some("async".to_owned()), Some("async".to_owned())]
    );
}

#[test]
fn log_groups_lend_a_kernel_batch_through_the_reactor() {
    use netfilter::LogGroup;
    use netfilter::tokio::AsyncLogGroup;

    let sandbox = sandbox_or_skip!();
    log_rule(&sandbox, 23, 9323, "lent");
    let log = common::log::open(&sandbox, || {
        LogGroup::builder(23)
            .qthresh(3)
            .timeout(Duration::from_secs(10))
    });
    let to = local(9323);
    let runtime = runtime();
    let (n, texts, idle) = runtime.block_on(async {
        let mut log = AsyncLogGroup::new(log).expect("register");
        // Nothing is waiting: the call is pending, not erroring or handing out nothing.
        let idle = tokio::time::timeout(Duration::from_millis(200), log.recv_batch(|_| {})).await;
        for text in [&b"a"[..], b"bb", b"ccc"] {
            udp_send(&sandbox, to, text).expect("send");
        }
        // qthresh 3: the three come in one datagram, lent in one call.
        let mut texts = Vec::new();
        let n = tokio::time::timeout(
            Duration::from_secs(5),
            log.recv_batch(|packet| {
                assert_eq!(packet.prefix(), Some("lent"));
                texts.push(packet.payload().len());
            }),
        )
        .await
        .expect("a batch within 5 s")
        .expect("recv_batch");
        (n, texts, idle.is_err())
    });
    assert!(idle, "no message yet: pending");
    assert_eq!(n, 3);
    assert_eq!(texts, [29, 30, 31], "IPv4 + UDP headers + the text");
}

// Over the fake kernel: no root, no namespace.

#[test]
fn settings_change_through_the_adapters_and_packets_still_arrive() {
    use netfilter::tokio::AsyncLogGroup;
    use netfilter::{CopyMode, LogFlags, LogGroup, QueueFlags};
    use netfilter_testkit::fake::FakeKernel;
    use netfilter_testkit::synth::{LogPacketBuilder, QueuePacketBuilder};

    let runtime = runtime();
    runtime.block_on(async {
        let (kernel, transport) = FakeKernel::new().expect("fake kernel");
        let queue = Queue::builder(3).transport(transport).open().expect("open");
        let mut queue = AsyncQueue::new(queue).expect("register");
        queue.set_copy(CopyMode::Packet, 40).expect("set_copy");
        queue.set_max_len(64).expect("set_max_len");
        queue.set_flags(QueueFlags::FAIL_OPEN).expect("set_flags");
        let c = kernel.config(3).expect("bound");
        assert_eq!((c.copy_range, c.maxlen), (40, 64));
        assert_eq!(QueueFlags::from_bits_retain(c.flags), QueueFlags::FAIL_OPEN);
        let id = kernel
            .queue_packet(QueuePacketBuilder::ipv4(3).payload(vec![0x45; 20]))
            .expect("queue");
        let packet = tokio::time::timeout(Duration::from_secs(5), queue.recv())
            .await
            .expect("a packet within 5 s")
            .expect("recv");
        assert_eq!(packet.id(), id);
        packet.accept().expect("accept");

        let (kernel, transport) = FakeKernel::new().expect("fake kernel");
        let log = LogGroup::builder(4)
            .transport(transport)
            .open()
            .expect("open");
        let mut log = AsyncLogGroup::new(log).expect("register");
        log.set_copy(CopyMode::Packet, 8).expect("set_copy");
        log.set_qthresh(5).expect("set_qthresh");
        log.set_timeout(Duration::from_millis(20))
            .expect("set_timeout");
        log.set_nlbufsiz(65536).expect("set_nlbufsiz");
        log.set_flags(LogFlags::SEQ).expect("set_flags");
        let s = kernel.log_config(4).expect("bound");
        assert_eq!(
            (s.copy_range, s.qthresh, s.timeout, s.nlbufsiz, s.flags),
            (8, 5, 2, 65536, LogFlags::SEQ.bits())
        );
        kernel
            .log_packet(LogPacketBuilder::ipv4(4).payload(vec![0x45; 20]))
            .expect("log");
        let packet = tokio::time::timeout(Duration::from_secs(5), log.recv())
            .await
            .expect("a message within 5 s")
            .expect("recv");
        assert_eq!((packet.payload().len(), packet.seq()), (8, Some(0)));
    });
}
