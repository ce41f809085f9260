//! Stopping a blocked receive of a queue or a log group from another thread
//! ([`netfilter::StopHandle`]); the signal-handler case is in `faults_signal.rs`.

use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use netfilter::{Error, LogGroup, Queue, StopHandle};
use netfilter_testkit::fake::{FakeKernel, SettledBy};
use netfilter_testkit::sandbox_or_skip;
use netfilter_testkit::synth::QueuePacketBuilder;
use netfilter_testkit::traffic::{UdpReceiver, udp_send};

mod common;
use common::{WAIT, local, log_rule, queue_rule};

/// How soon after the stop a blocked receive must have returned.
const PROMPT: Duration = Duration::from_millis(100);

/// Stops `stop` from another thread after `after`; the instant it did.
fn stop_later(stop: StopHandle, after: Duration) -> thread::JoinHandle<Instant> {
    thread::spawn(move || {
        thread::sleep(after);
        stop.stop();
        Instant::now()
    })
}

#[test]
fn a_blocked_queue_run_stops_from_another_thread_and_the_queue_works_on() {
    let sandbox = sandbox_or_skip!();
    queue_rule(&sandbox, 30, 9430);
    let mut queue = common::queue::open(&sandbox, || Queue::builder(30));
    let receiver = UdpReceiver::bind(&sandbox, local(9430)).expect("receiver");
    let stop = queue.stop_handle().expect("stop handle");

    // One packet is held across the stop; one is accepted inside the loop.
    udp_send(&sandbox, local(9430), b"held").expect("send");
    let held = common::queue::next(&mut queue);
    udp_send(&sandbox, local(9430), b"in the loop").expect("send");
    let stopper = stop_later(stop.clone(), Duration::from_millis(300));
    let mut seen = 0;
    queue
        .run(|packet| {
            seen += 1;
            packet.accept()
        })
        .expect("a stopped run is Ok");
    let stopped_at = stopper.join().expect("stopper");
    assert!(
        stopped_at.elapsed() < PROMPT,
        "run returned {:?} after the stop",
        stopped_at.elapsed()
    );
    assert_eq!(seen, 1);
    // The verdict given in the loop was sent; the held packet still takes one.
    assert_eq!(receiver.recv(WAIT).expect("delivered").0, b"in the loop");
    held.accept()
        .expect("a held packet still takes its verdict");
    assert_eq!(receiver.recv(WAIT).expect("delivered").0, b"held");

    // Stopped until reset: receives that would wait return at once, typed.
    assert!(matches!(queue.recv(), Err(Error::Stopped)));
    stop.reset();
    udp_send(&sandbox, local(9430), b"after").expect("send");
    let packet = common::queue::next(&mut queue);
    packet.accept().expect("accept");
    assert_eq!(receiver.recv(WAIT).expect("delivered").0, b"after");
}

#[test]
fn a_blocked_log_run_and_recv_batch_stop_from_another_thread() {
    let sandbox = sandbox_or_skip!();
    log_rule(&sandbox, 31, 9431, "stop");
    let mut log = common::log::open(&sandbox, || LogGroup::builder(31).qthresh(1));
    let stop = log.stop_handle().expect("stop handle");
    udp_send(&sandbox, local(9431), b"logged").expect("send");

    let stopper = stop_later(stop.clone(), Duration::from_millis(300));
    let mut prefixes = Vec::new();
    log.run(|packet| {
        prefixes.push(packet.prefix().map(str::to_owned));
        Ok(())
    })
    .expect("a stopped run is Ok");
    let stopped_at = stopper.join().expect("stopper");
    assert!(stopped_at.elapsed() < PROMPT, "{:?}", stopped_at.elapsed());
    assert_eq!(prefixes, [Some("stop".to_owned())]);

    stop.reset();
    let stopper = stop_later(stop, Duration::from_millis(200));
    let err = log
        .recv_batch(None, |_| panic!("nothing was logged"))
        .expect_err("stopped");
    assert!(matches!(err, Error::Stopped), "{err}");
    let stopped_at = stopper.join().expect("stopper");
    assert!(stopped_at.elapsed() < PROMPT, "{:?}", stopped_at.elapsed());
}

#[test]
fn a_stop_ends_timed_waits_but_not_try_recv_and_keeps_received_packets() {
    let (kernel, transport) = FakeKernel::new().expect("fake kernel");
    let mut queue = Queue::builder(3).transport(transport).open().expect("open");
    let stop = queue.stop_handle().expect("stop handle");
    let first = kernel
        .queue_packet(QueuePacketBuilder::ipv4(3).payload(vec![0x45; 20]))
        .expect("queued");
    let packet = queue.recv_timeout(WAIT).expect("recv").expect("a packet");
    assert_eq!(packet.id(), first);
    packet.accept().expect("accept");

    stop.stop();
    assert!(stop.is_stopped());
    let started = Instant::now();
    assert!(matches!(
        queue.recv_timeout(Duration::from_secs(30)),
        Err(Error::Stopped)
    ));
    assert!(started.elapsed() < PROMPT);
    // The verdict given before the stop went out before the receive waited.
    let settled = kernel.verdict(3, first).map(|v| v.by);
    assert!(
        matches!(settled, Some(SettledBy::Verdict | SettledBy::Batch { .. })),
        "{settled:?}"
    );
    // try_recv does not wait, so a stop does not concern it.
    assert!(queue.try_recv().expect("try_recv").is_none());
    let second = kernel
        .queue_packet(QueuePacketBuilder::ipv4(3).payload(vec![0x45; 20]))
        .expect("queued");
    let packet = queue.try_recv().expect("try_recv").expect("the packet");
    assert_eq!(packet.id(), second);
    drop(packet);

    // Every handle of a queue is the same stop.
    let again = queue.stop_handle().expect("stop handle");
    again.reset();
    assert!(!stop.is_stopped());
    let (tx, rx) = mpsc::channel();
    let waiter = thread::spawn(move || {
        let got = queue.recv_timeout(Duration::from_millis(200));
        tx.send(()).expect("send");
        got.map(|p| p.is_none())
    });
    rx.recv_timeout(WAIT).expect("the wait ended");
    assert!(waiter.join().expect("no panic").expect("recv"), "timed out");
}
