//! Volume through a queue and a log group at once, then every handle and held packet dropped in
//! both orders: the workload `scripts/memcheck` runs under valgrind. By default a short run
//! (`NETFILTER_VOLUME_PACKETS`, default 2 000) so that the ordinary test suite stays quick; the
//! memcheck script sets 100 000.

use std::net::UdpSocket;
use std::time::{Duration, Instant};

use netfilter::{CopyMode, LogGroup, Packet, Queue};
use netfilter_testkit::sandbox_or_skip;

mod common;
use common::{log_rule_without_prefix, queue_rule};

const PORT: u16 = 9450;
const BURST: usize = 32;

fn packets() -> usize {
    std::env::var("NETFILTER_VOLUME_PACKETS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(2_000)
}

#[test]
fn packets_through_a_queue_and_a_log_group_then_drops_in_every_order() {
    let sandbox = sandbox_or_skip!();
    // Log first (NFLOG goes on), then queue.
    log_rule_without_prefix(&sandbox, 50, PORT);
    queue_rule(&sandbox, 50, PORT);
    let total = packets();
    let (queued, logged, delivered) = sandbox.run(|| {
        let mut queue = Queue::builder(50)
            .copy(CopyMode::Packet, 256)
            .recv_buffer(1 << 20)
            .open()
            .expect("queue");
        let mut group = LogGroup::builder(50)
            .copy(CopyMode::Packet, 128)
            .timeout(Duration::from_millis(10))
            .qthresh(BURST as u32)
            .nlbufsiz(netfilter::LogBuilder::MAX_NLBUFSIZ)
            .recv_buffer(1 << 20)
            .open()
            .expect("group");
        let receiver = UdpSocket::bind(("127.0.0.1", PORT)).expect("receiver");
        receiver.set_nonblocking(true).expect("nonblocking");
        let sender = UdpSocket::bind("127.0.0.1:0").expect("sender");
        let mut buf = [0u8; 2048];
        let (mut queued, mut logged, mut delivered) = (0usize, 0usize, 0usize);
        let deadline = Instant::now() + Duration::from_secs(3600);
        while queued < total && Instant::now() < deadline {
            let burst = BURST.min(total - queued);
            for i in 0..burst {
                let n = u32::try_from(queued + i).unwrap_or(u32::MAX);
                sender
                    .send_to(&n.to_be_bytes(), ("127.0.0.1", PORT))
                    .expect("send");
            }
            for _ in 0..burst {
                let packet = queue
                    .recv_timeout(Duration::from_secs(10))
                    .expect("recv")
                    .unwrap_or_else(|| panic!("no queued packet after {queued}"));
                packet.accept().expect("accept");
                queued += 1;
            }
            while logged < queued {
                match group.recv_timeout(Duration::from_secs(10)) {
                    Ok(Some(p)) => {
                        assert!(p.has_payload());
                        logged += 1;
                    }
                    Ok(None) => panic!("log messages stopped at {logged}"),
                    Err(netfilter::Error::Overrun { .. }) => panic!("log overrun"),
                    Err(err) => panic!("log recv: {err}"),
                }
            }
            while receiver.recv(&mut buf).is_ok() {
                delivered += 1;
            }
        }
        let wait = Instant::now() + Duration::from_secs(5);
        while delivered < queued && Instant::now() < wait {
            match receiver.recv(&mut buf) {
                Ok(_) => delivered += 1,
                Err(_) => std::thread::sleep(Duration::from_millis(5)),
            }
        }

        // Held packets outlive their queue, then the reverse; a log packet outlives its group.
        for _ in 0..4 {
            sender.send_to(b"held", ("127.0.0.1", PORT)).expect("send");
        }
        let mut held: Vec<Packet> = (0..4)
            .map(|_| {
                queue
                    .recv_timeout(Duration::from_secs(10))
                    .expect("recv")
                    .expect("held packet")
            })
            .collect();
        let kept_log = group
            .recv_timeout(Duration::from_secs(10))
            .expect("recv")
            .expect("a log packet");
        let first = held.remove(0);
        drop(first); // packet before its queue: the default verdict
        let owned_copy = held[0].payload_bytes();
        drop(group); // group before its packet
        drop(queue); // queue before its packets
        let late = held.remove(0).accept();
        assert!(
            matches!(late, Err(netfilter::Error::QueueClosed { .. })),
            "{late:?}"
        );
        drop(held);
        drop(kept_log);
        drop(owned_copy);
        (queued, logged, delivered)
    });
    assert_eq!(queued, total);
    assert_eq!(logged, total);
    assert_eq!(delivered, total, "every accepted packet arrived");
}
