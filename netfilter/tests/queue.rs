//! The ergonomic queue against the real kernel, each test in its own network namespace.

use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

use netfilter::conntrack::{CtState, CtStatus};
use netfilter::{Error, Family, Hook, Namespace, Packet, Queue, Verdict, VerdictKind};
use netfilter_testkit::rules::{Family as RuleFamily, Hook as RuleHook, Protocol, Rule};
use netfilter_testkit::traffic::{UdpReceiver, udp_send};
use netfilter_testkit::{Routed, TwoHosts, procfs, sandbox_or_skip};

mod common;
use common::queue::{next, open};
use common::{WAIT, local, queue_row, queue_rule, udp_data};

#[test]
fn accept_and_drop_by_content_with_metadata() {
    let sandbox = sandbox_or_skip!();
    queue_rule(&sandbox, 1, 9301);
    let mut queue = open(&sandbox, || Queue::builder(1));
    let receiver = UdpReceiver::bind(&sandbox, local(9301)).expect("receiver");
    udp_send(&sandbox, local(9301), b"keep").expect("send");
    udp_send(&sandbox, local(9301), b"drop").expect("send");
    for _ in 0..2 {
        let packet = next(&mut queue);
        assert_eq!(
            (
                packet.queue(),
                packet.hook(),
                packet.family(),
                packet.hw_protocol()
            ),
            (1, Hook::LocalOut, Family::Ipv4, 0x0800)
        );
        assert_eq!(packet.outdev(), Some(1), "sent out of lo");
        if udp_data(packet.payload()) == b"drop" {
            packet.drop().expect("drop");
        } else {
            packet.accept().expect("accept");
        }
    }
    assert_eq!(receiver.recv(WAIT).expect("delivered").0, b"keep");
    assert!(
        receiver.recv(Duration::from_millis(300)).is_err(),
        "the dropped one never arrives"
    );
}

#[test]
fn verdicts_from_another_thread_in_reverse_order() {
    let sandbox = sandbox_or_skip!();
    queue_rule(&sandbox, 2, 9302);
    let mut queue = open(&sandbox, || Queue::builder(2));
    let receiver = UdpReceiver::bind(&sandbox, local(9302)).expect("receiver");
    for i in 0..4u8 {
        udp_send(&sandbox, local(9302), &[b'a' + i]).expect("send");
    }
    let held: Vec<Packet> = (0..4).map(|_| next(&mut queue)).collect();
    assert!(
        receiver.recv(Duration::from_millis(200)).is_err(),
        "all four are held"
    );
    // The loop blocks in recv (nothing else comes) while a worker gives the verdicts,
    // newest first: each must reach the kernel without waiting for more traffic.
    let worker = std::thread::spawn(move || {
        for packet in held.into_iter().rev() {
            packet.accept().expect("accept");
        }
    });
    assert!(
        queue
            .recv_timeout(Duration::from_millis(500))
            .expect("recv")
            .is_none()
    );
    worker.join().expect("worker");
    let mut got: Vec<Vec<u8>> = (0..4)
        .map(|_| receiver.recv(WAIT).expect("delivered").0)
        .collect();
    got.sort();
    assert_eq!(got, [b"a", b"b", b"c", b"d"].map(|b| b.to_vec()));
}

#[test]
fn mark_is_read_and_set_and_repeat_stops_on_it() {
    let sandbox = sandbox_or_skip!();
    // Marked packets return before the queue: a repeat that sets the mark ends the loop.
    sandbox
        .exec(&[
            "iptables", "-A", "OUTPUT", "-m", "mark", "--mark", "0x77", "-j", "ACCEPT",
        ])
        .expect("mark rule");
    sandbox
        .exec(&[
            "iptables",
            "-t",
            "mangle",
            "-A",
            "OUTPUT",
            "-p",
            "udp",
            "--dport",
            "9303",
            "-j",
            "MARK",
            "--set-mark",
            "0x5",
        ])
        .expect("mangle rule");
    queue_rule(&sandbox, 3, 9303);
    let mut queue = open(&sandbox, || Queue::builder(3));
    let receiver = UdpReceiver::bind(&sandbox, local(9303)).expect("receiver");
    udp_send(&sandbox, local(9303), b"marked").expect("send");
    let mut packet = next(&mut queue);
    assert_eq!(packet.mark(), 5, "the mangle table's mark");
    packet.set_mark(0x77);
    packet.repeat().expect("repeat");
    assert_eq!(receiver.recv(WAIT).expect("delivered").0, b"marked");
    assert!(
        queue
            .recv_timeout(Duration::from_millis(300))
            .expect("recv")
            .is_none(),
        "queued once"
    );
}

#[test]
fn a_rewritten_payload_arrives_rewritten() {
    let sandbox = sandbox_or_skip!();
    queue_rule(&sandbox, 4, 9304);
    let mut queue = open(&sandbox, || Queue::builder(4));
    let receiver = UdpReceiver::bind(&sandbox, local(9304)).expect("receiver");
    udp_send(&sandbox, local(9304), b"hello").expect("send");
    let mut packet = next(&mut queue);
    // A longer payload: lengths and checksums are fixed by the payload helpers.
    let rewritten = netfilter::payload::replace_transport_payload(
        packet.payload(),
        packet.skb_info(),
        b"HELLO, WORLD",
    )
    .expect("rewrite");
    packet.set_payload(rewritten).expect("fits");
    packet.accept().expect("verdict");
    assert_eq!(receiver.recv(WAIT).expect("delivered").0, b"HELLO, WORLD");
}

#[test]
fn an_oversize_replacement_is_refused_and_the_packet_still_takes_a_verdict() {
    let sandbox = sandbox_or_skip!();
    queue_rule(&sandbox, 17, 9317);
    let mut queue = open(&sandbox, || Queue::builder(17));
    let receiver = UdpReceiver::bind(&sandbox, local(9317)).expect("receiver");
    udp_send(&sandbox, local(9317), b"big").expect("send");
    let mut packet = next(&mut queue);
    let too_big = vec![0u8; netfilter::MAX_VERDICT_PAYLOAD + 1];
    let err = packet.set_payload(too_big).expect_err("refused");
    assert!(
        matches!(
            err,
            Error::OutOfRange {
                what: "verdict payload length",
                ..
            }
        ),
        "{err}"
    );
    // Nothing of it rides along: the packet is accepted as it came, and the kernel took a
    // well-formed verdict (a malformed one would leave the packet queued).
    packet.accept().expect("verdict");
    assert_eq!(receiver.recv(WAIT).expect("delivered").0, b"big");
}

#[test]
fn queue_to_another_queue_on_the_same_socket() {
    let sandbox = sandbox_or_skip!();
    queue_rule(&sandbox, 5, 9305);
    let mut queue = open(&sandbox, || Queue::builder_range(5..=6));
    assert_eq!(queue.numbers(), [5, 6]);
    let receiver = UdpReceiver::bind(&sandbox, local(9305)).expect("receiver");
    udp_send(&sandbox, local(9305), b"hop").expect("send");
    let first = next(&mut queue);
    assert_eq!(first.queue(), 5);
    first.queue_to(6, false).expect("to 6");
    let second = next(&mut queue);
    assert_eq!(
        (second.queue(), udp_data(second.payload())),
        (6, b"hop".to_vec())
    );
    second.accept().expect("accept");
    assert_eq!(receiver.recv(WAIT).expect("delivered").0, b"hop");
}

#[test]
fn dropping_a_packet_gives_the_default_verdict() {
    let sandbox = sandbox_or_skip!();
    queue_rule(&sandbox, 7, 9307);
    queue_rule(&sandbox, 8, 9308);
    let mut accepting = open(&sandbox, || {
        Queue::builder(7).default_verdict(VerdictKind::Accept)
    });
    // The default: fail closed.
    let mut dropping = open(&sandbox, || Queue::builder(8));
    let accepted = UdpReceiver::bind(&sandbox, local(9307)).expect("receiver");
    let dropped = UdpReceiver::bind(&sandbox, local(9308)).expect("receiver");
    udp_send(&sandbox, local(9307), b"a").expect("send");
    udp_send(&sandbox, local(9308), b"b").expect("send");
    drop(next(&mut accepting));
    drop(next(&mut dropping));
    assert_eq!(accepted.recv(WAIT).expect("accepted by default").0, b"a");
    assert!(
        dropped.recv(Duration::from_millis(300)).is_err(),
        "dropped by default"
    );
    for (queue, num) in [(&accepting, 7), (&dropping, 8)] {
        queue.flush().expect("flush");
        let row = queue_row(&sandbox, num);
        assert_eq!(row.queue_total, 0, "nothing stranded in queue {num}");
        assert_eq!(queue.stats().expect("stats").default_verdicts, 1);
    }
}

#[test]
fn a_verdict_after_the_queue_is_closed_is_a_typed_error() {
    let sandbox = sandbox_or_skip!();
    queue_rule(&sandbox, 9, 9309);
    let mut queue = open(&sandbox, || Queue::builder(9));
    udp_send(&sandbox, local(9309), b"late").expect("send");
    let packet = next(&mut queue);
    let id = packet.id();
    drop(queue);
    assert!(
        procfs::queue_row(&sandbox, 9).expect("procfs").is_none(),
        "unbound"
    );
    match packet.accept() {
        Err(Error::QueueClosed {
            queue: 9,
            id: closed,
        }) => assert_eq!(closed, id),
        other => panic!("expected QueueClosed, got {other:?}"),
    }
}

#[test]
fn fail_open_accepts_when_the_queue_is_full() {
    let sandbox = sandbox_or_skip!();
    queue_rule(&sandbox, 10, 9310);
    let _queue = open(&sandbox, || Queue::builder(10).max_len(1).fail_open(true));
    let receiver = UdpReceiver::bind(&sandbox, local(9310)).expect("receiver");
    for _ in 0..3 {
        udp_send(&sandbox, local(9310), b"over").expect("send");
    }
    // The first waits for a verdict; the two that find the queue full are accepted.
    for _ in 0..2 {
        assert_eq!(receiver.recv(WAIT).expect("accepted while full").0, b"over");
    }
    let row = queue_row(&sandbox, 10);
    assert_eq!((row.queue_total, row.queue_dropped), (1, 0));
}

#[test]
fn copy_range_cuts_and_cap_len_tells() {
    let sandbox = sandbox_or_skip!();
    queue_rule(&sandbox, 11, 9311);
    let mut queue = open(&sandbox, || {
        Queue::builder(11).copy(netfilter::CopyMode::Packet, 40)
    });
    udp_send(&sandbox, local(9311), &[9u8; 200]).expect("send");
    let packet = next(&mut queue);
    assert_eq!(packet.payload().len(), 40);
    assert_eq!(packet.cap_len(), Some(228));
    assert!(packet.is_truncated());
    packet.accept().expect("accept");
    let err = sandbox
        .run(|| {
            Queue::builder(12)
                .copy(netfilter::CopyMode::Packet, 70_000)
                .open()
        })
        .expect_err("too large a range");
    assert!(
        matches!(
            err,
            Error::OutOfRange {
                what: "copy range",
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn copy_ranges_of_0_and_0xffff_copy_whole_packets() {
    let sandbox = sandbox_or_skip!();
    for (num, range) in [(21u16, 0u32), (22, 0xffff)] {
        let port = 9300 + num;
        queue_rule(&sandbox, num, port);
        let mut queue = open(&sandbox, || {
            Queue::builder(num).copy(netfilter::CopyMode::Packet, range)
        });
        assert_eq!(
            queue_row(&sandbox, num).copy_range,
            netfilter::MAX_COPY_RANGE
        );
        udp_send(&sandbox, local(port), &[5u8; 6000]).expect("send");
        let packet = next(&mut queue);
        assert_eq!(packet.payload().len(), 6028, "range {range}: all of it");
        assert!(!packet.is_truncated());
        packet.accept().expect("accept");
    }
}

#[test]
fn copy_mode_flags_and_length_change_on_an_open_queue() {
    let sandbox = sandbox_or_skip!();
    queue_rule(&sandbox, 25, 9325);
    let mut queue = open(&sandbox, || {
        Queue::builder(25).copy(netfilter::CopyMode::Packet, 40)
    });
    udp_send(&sandbox, local(9325), &[1u8; 6000]).expect("send");
    let packet = next(&mut queue);
    assert_eq!(packet.payload().len(), 40);
    packet.accept().expect("accept");
    // Wider: the receive buffer grows with it, and whole packets come.
    queue
        .set_copy(netfilter::CopyMode::Packet, 0xffff)
        .expect("set copy");
    assert_eq!(
        queue_row(&sandbox, 25).copy_range,
        netfilter::MAX_COPY_RANGE
    );
    udp_send(&sandbox, local(9325), &[2u8; 6000]).expect("send");
    let packet = next(&mut queue);
    assert_eq!(packet.payload().len(), 6028);
    packet.accept().expect("accept");
    // Metadata only.
    queue.set_copy(netfilter::CopyMode::Meta, 0).expect("meta");
    udp_send(&sandbox, local(9325), b"meta").expect("send");
    let packet = next(&mut queue);
    assert!(!packet.has_payload());
    packet.accept().expect("accept");
    // A queue of one packet, failing open: the second packet passes while the first waits.
    queue.set_max_len(1).expect("max len");
    queue
        .set_flags(netfilter::QueueFlags::GSO | netfilter::QueueFlags::FAIL_OPEN)
        .expect("flags");
    let receiver = UdpReceiver::bind(&sandbox, local(9325)).expect("receiver");
    udp_send(&sandbox, local(9325), b"held").expect("send");
    udp_send(&sandbox, local(9325), b"passes").expect("send");
    assert_eq!(receiver.recv(WAIT).expect("failed open").0, b"passes");
    next(&mut queue).accept().expect("accept");
    assert_eq!(receiver.recv(WAIT).expect("delivered").0, b"held");
    // A flag this kernel may lack is a typed error, not a broken queue.
    match queue.set_flags(netfilter::QueueFlags::CONNTRACK) {
        Ok(()) | Err(Error::Unsupported { .. }) => {}
        Err(err) => panic!("{err}"),
    }
}

#[test]
fn ipv6_and_hardware_addresses_on_input() {
    let hosts = sandbox_or_skip!(TwoHosts::new());
    Rule::queue(13)
        .family(RuleFamily::Ipv6)
        .hook(RuleHook::Input)
        .protocol(Protocol::Udp)
        .dport(9313)
        .apply(&hosts.server)
        .expect("rule");
    let mut queue = open(&hosts.server, || Queue::builder(13));
    let to = SocketAddr::from((TwoHosts::SERVER.ipv6, 9313));
    let receiver = UdpReceiver::bind(&hosts.server, to).expect("receiver");
    udp_send(&hosts.client, to, b"six").expect("send");
    let packet = next(&mut queue);
    assert_eq!(
        (packet.family(), packet.hook()),
        (Family::Ipv6, Hook::LocalIn)
    );
    assert_eq!(packet.hw_protocol(), 0x86dd);
    assert_eq!(
        packet.hw_addr(),
        Some(&TwoHosts::CLIENT.mac[..]),
        "the sender's MAC"
    );
    assert!(packet.indev().is_some() && packet.outdev().is_none());
    assert_eq!(packet.payload()[0] >> 4, 6);
    packet.accept().expect("accept");
    assert_eq!(receiver.recv(WAIT).expect("delivered").0, b"six");
}

#[test]
fn forwarded_packets_carry_both_devices() {
    let net = sandbox_or_skip!(Routed::new());
    Rule::queue(14)
        .hook(RuleHook::Forward)
        .protocol(Protocol::Udp)
        .dport(9314)
        .apply(&net.router)
        .expect("rule");
    let mut queue = open(&net.router, || Queue::builder(14));
    let to = SocketAddr::from((Routed::SERVER.ipv4, 9314));
    let receiver = UdpReceiver::bind(&net.server, to).expect("receiver");
    udp_send(&net.client, to, b"via").expect("send");
    let packet = next(&mut queue);
    assert_eq!(packet.hook(), Hook::Forward);
    assert!(packet.indev().is_some() && packet.outdev().is_some());
    assert_ne!(packet.indev(), packet.outdev());
    let names = [packet.indev(), packet.outdev()].map(|i| queue.interface_name(i.expect("index")));
    assert_eq!(
        names,
        [Some("veth0".into()), Some("veth1".into())],
        "the router's two sides"
    );
    assert_eq!(packet.hw_addr(), Some(&Routed::CLIENT.mac[..]));
    packet.accept().expect("accept");
    assert_eq!(receiver.recv(WAIT).expect("delivered").0, b"via");
}

#[test]
fn a_queue_served_from_another_namespace() {
    let sandbox = sandbox_or_skip!();
    let Some(path) = sandbox.path() else {
        eprintln!("SKIP a_queue_served_from_another_namespace: no /run/netns path when rootless");
        return;
    };
    queue_rule(&sandbox, 15, 9315);
    // Opened from this thread, which stays in the test's own namespace.
    let mut queue = Queue::builder(15)
        .namespace(Namespace::path(path))
        .open()
        .expect("open");
    let receiver = UdpReceiver::bind(&sandbox, local(9315)).expect("receiver");
    udp_send(&sandbox, local(9315), b"elsewhere").expect("send");
    next(&mut queue).accept().expect("accept");
    assert_eq!(receiver.recv(WAIT).expect("delivered").0, b"elsewhere");
}

#[test]
fn a_queue_on_a_socket_made_in_another_namespace() {
    let sandbox = sandbox_or_skip!();
    queue_rule(&sandbox, 23, 9323);
    // python-netfilterqueue's sockfd=: the socket comes from the sandbox, the queue lives
    // here, in the test's own namespace.
    let socket: std::os::fd::OwnedFd = sandbox
        .run(netfilter::safe::transport::NetlinkSocket::open)
        .expect("a socket in the sandbox")
        .into();
    let mut queue = Queue::builder(23)
        .socket(socket)
        .recv_buffer(1 << 20)
        .open()
        .expect("open");
    let receiver = UdpReceiver::bind(&sandbox, local(9323)).expect("receiver");
    udp_send(&sandbox, local(9323), b"adopted").expect("send");
    next(&mut queue).accept().expect("accept");
    assert_eq!(receiver.recv(WAIT).expect("delivered").0, b"adopted");
    // Its procfs rows are those of the socket's namespace, not this one's.
    let rows = queue.stats().expect("stats").rows;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].queue_number, 23);

    // A descriptor that is not a netfilter netlink socket is refused.
    let not_netlink = std::fs::File::open("/dev/null").expect("/dev/null");
    let err = Queue::builder(24)
        .socket(not_netlink.into())
        .open()
        .expect_err("not a socket");
    assert!(matches!(err, Error::Safe(_)), "{err}");
}

#[test]
fn batching_coalesces_and_can_be_switched_off() {
    let sandbox = sandbox_or_skip!();
    queue_rule(&sandbox, 16, 9316);
    for batching in [true, false] {
        let mut queue = open(&sandbox, || Queue::builder(16).batching(batching));
        let receiver = UdpReceiver::bind(&sandbox, local(9316)).expect("receiver");
        let socket = sandbox
            .run(|| UdpSocket::bind("127.0.0.1:0"))
            .expect("sender");
        for i in 0..20u8 {
            socket.send_to(&[i], local(9316)).expect("send");
        }
        let mut seen = 0;
        while seen < 20 {
            next(&mut queue).accept().expect("accept");
            seen += 1;
        }
        queue.flush().expect("flush");
        for _ in 0..20 {
            receiver.recv(WAIT).expect("delivered");
        }
        let row = queue_row(&sandbox, 16);
        assert_eq!(row.queue_total, 0, "batching {batching}: all settled");
    }
}

#[test]
fn stats_show_the_kernel_counters() {
    let sandbox = sandbox_or_skip!();
    queue_rule(&sandbox, 18, 9318);
    let mut queue = open(&sandbox, || Queue::builder(18).max_len(1));
    for _ in 0..3 {
        udp_send(&sandbox, local(9318), b"full").expect("send");
    }
    // The first waits; the other two find the queue full and are dropped.
    let first = next(&mut queue);
    let stats = queue.stats().expect("stats");
    let row = stats.rows.first().expect("queue 18's row");
    assert_eq!(
        (row.queue_number, row.queue_total, row.queue_dropped),
        (18, 1, 2)
    );
    assert_eq!(
        row.id_sequence,
        first.id(),
        "packets dropped for a full queue take no id"
    );
    assert_eq!((stats.socket_drops, stats.id_gaps), (0, 0));
    first.accept().expect("accept");
    assert_eq!(queue.stats().expect("stats").rows[0].queue_total, 0);
}

#[test]
fn an_overrun_is_reported_counted_and_survived() {
    let sandbox = sandbox_or_skip!();
    queue_rule(&sandbox, 19, 9319);
    // A tiny receive buffer (forced, as root) and a burst nobody reads: the socket overflows.
    let mut queue = open(&sandbox, || Queue::builder(19).recv_buffer(4096));
    let sender = sandbox
        .run(|| UdpSocket::bind("127.0.0.1:0"))
        .expect("sender");
    for _ in 0..64 {
        sender.send_to(&[7u8; 1000], local(9319)).expect("send");
    }
    match queue.recv_timeout(WAIT) {
        Err(Error::Overrun { lost: None }) => {}
        other => panic!("expected an overrun first, got {other:?}"),
    }
    // The loop goes on: the packets that fitted come out and are accepted.
    let mut delivered = 0;
    while let Some(packet) = queue
        .recv_timeout(Duration::from_millis(300))
        .expect("recv")
    {
        packet.accept().expect("accept");
        delivered += 1;
    }
    // After the overrun, new packets flow as usual; the first shows the ids the lost took.
    udp_send(&sandbox, local(9319), b"again").expect("send");
    next(&mut queue).accept().expect("accept");
    let stats = queue.stats().expect("stats");
    let row = stats.rows[0];
    assert!(
        delivered > 0 && row.queue_user_dropped > 0,
        "{delivered} delivered, {row:?}"
    );
    assert_eq!(
        u64::from(row.queue_user_dropped),
        stats.id_gaps,
        "each lost packet left a gap"
    );
    assert!(stats.socket_drops > 0, "the socket counted its drops");
}

#[test]
fn packets_lost_at_the_end_of_a_run_count_as_id_gaps() {
    // Issue 15: gaps were counted only when a later packet arrived, so the packets an
    // overrun lost after the last one received were missing from `id_gaps`.
    let sandbox = sandbox_or_skip!();
    queue_rule(&sandbox, 29, 9329);
    let mut queue = open(&sandbox, || Queue::builder(29).recv_buffer(4096));
    let sender = sandbox
        .run(|| UdpSocket::bind("127.0.0.1:0"))
        .expect("sender");
    for _ in 0..64 {
        sender.send_to(&[7u8; 1000], local(9329)).expect("send");
    }
    // Receive what fitted, and nothing after: every loss is behind the last packet.
    let mut received = 0u64;
    loop {
        match queue.recv_timeout(Duration::from_millis(300)) {
            Ok(Some(packet)) => {
                packet.accept().expect("accept");
                received += 1;
            }
            Ok(None) => break,
            Err(Error::Overrun { .. }) => continue,
            Err(err) => panic!("{err}"),
        }
    }
    let stats = queue.stats().expect("stats");
    let row = stats.rows[0];
    assert!(row.queue_user_dropped > 0, "the burst overflowed: {row:?}");
    assert_eq!(
        (received + stats.id_gaps, stats.id_gaps),
        (
            u64::from(row.id_sequence),
            u64::from(row.queue_user_dropped)
        ),
        "every id the kernel gave out was received or is a gap"
    );
}

#[test]
fn gso_packets_arrive_whole_and_cap_len_tells_when_cut() {
    use netfilter_testkit::traffic::{TcpServer, tcp_send};

    let hosts = sandbox_or_skip!(TwoHosts::new());
    Rule::queue(20)
        .hook(RuleHook::Output)
        .protocol(Protocol::Tcp)
        .dport(9320)
        .apply(&hosts.client)
        .expect("rule");
    let to = SocketAddr::from((TwoHosts::SERVER.ipv4, 9320));
    let server = TcpServer::bind(&hosts.server, to).expect("server");
    // GSO is on by default; the copy range cuts packets above 4000 bytes.
    let mut queue = open(&hosts.client, || {
        Queue::builder(20).copy(netfilter::CopyMode::Packet, 4000)
    });
    let data = vec![0x42u8; 256 * 1024];
    let (largest, cut) = std::thread::scope(|scope| {
        let reader = scope.spawn(|| server.accept_read(WAIT));
        let writer = scope.spawn(|| tcp_send(&hosts.client, to, &data, WAIT));
        let (mut largest, mut cut) = (0u32, None);
        while !(writer.is_finished() && reader.is_finished()) {
            let Some(packet) = queue
                .recv_timeout(Duration::from_millis(100))
                .expect("recv")
            else {
                continue;
            };
            let len = packet.cap_len().unwrap_or(packet.payload().len() as u32);
            if len > largest {
                largest = len;
                cut = Some((packet.payload().len(), packet.skb_info()));
            }
            packet.accept().expect("accept");
        }
        writer.join().expect("writer").expect("send");
        assert_eq!(
            reader.join().expect("reader").expect("read").0.len(),
            data.len()
        );
        (largest, cut)
    });
    assert!(
        largest > 1500,
        "a packet larger than the 1500-byte MTU: {largest}"
    );
    let (copied, info) = cut.expect("the largest packet");
    assert_eq!(
        copied, 4000,
        "cut to the copy range, with CAP_LEN telling the length"
    );
    assert!(info.contains(netfilter::SkbInfo::GSO), "{info:?}");
}

#[test]
fn a_queue_whose_program_receives_itself() {
    use std::os::fd::AsRawFd;
    let sandbox = sandbox_or_skip!();
    queue_rule(&sandbox, 26, 9326);
    let mut queue = open(&sandbox, || Queue::builder(26));
    let receiver = UdpReceiver::bind(&sandbox, local(9326)).expect("receiver");
    for text in [b"one", b"two"] {
        udp_send(&sandbox, local(9326), text).expect("send");
    }
    let fd = queue.fd().as_raw_fd();
    let mut handed = 0;
    while handed < 2 {
        let mut pfd = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one pollfd that outlives the call.
        assert_eq!(unsafe { libc::poll(&mut pfd, 1, 5000) }, 1, "readable");
        let mut buf = vec![0u8; queue.datagram_size()];
        // SAFETY: `buf` is writable for its length.
        let n = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), 0) };
        buf.truncate(usize::try_from(n).expect("received"));
        handed += queue
            .handle_datagram(buf, |packet| packet.accept())
            .expect("handled");
    }
    // The verdicts were sent by the calls themselves.
    let mut got: Vec<Vec<u8>> = (0..2)
        .map(|_| receiver.recv(WAIT).expect("delivered").0)
        .collect();
    got.sort();
    assert_eq!(got, [b"one".to_vec(), b"two".to_vec()]);
}

#[test]
fn conntrack_entries_and_conn_marks_with_the_flag() {
    let sandbox = sandbox_or_skip!();
    queue_rule(&sandbox, 24, 9424);
    let opened = sandbox.run(|| Queue::builder(24).conntrack(true).open());
    let mut queue = match opened {
        Ok(queue) => queue,
        Err(Error::Unsupported { .. }) => {
            eprintln!(
                "SKIP conntrack_entries_and_conn_marks_with_the_flag: the kernel refused \
                 NFQA_CFG_F_CONNTRACK (no conntrack glue for queues: \
                 CONFIG_NETFILTER_NETLINK_GLUE_CT)"
            );
            return;
        }
        Err(err) => panic!("open: {err}"),
    };
    let socket = sandbox
        .run(|| UdpSocket::bind("127.0.0.1:0"))
        .expect("socket");
    let sport = socket.local_addr().expect("address").port();
    socket.send_to(b"first", local(9424)).expect("send");
    let first = next(&mut queue);
    assert_eq!(first.ct_info(), Some(CtState::New));
    let ct = first.conntrack().expect("a nest").expect("a valid nest");
    let orig = ct.orig().expect("CTA_TUPLE_ORIG");
    let loopback = std::net::IpAddr::from([127, 0, 0, 1]);
    assert_eq!(
        (
            orig.src,
            orig.dst,
            orig.protocol,
            orig.src_port,
            orig.dst_port
        ),
        (loopback, loopback, 17, Some(sport), Some(9424)),
        "{ct:?}"
    );
    assert_eq!(ct.mark(), None, "no conntrack mark yet");
    first
        .verdict(Verdict::accept().with_conn_mark(0x77))
        .expect("verdict");
    // The second datagram of the flow carries the mark the first verdict gave it.
    socket.send_to(b"second", local(9424)).expect("send");
    let second = next(&mut queue);
    let ct = second.conntrack().expect("a nest").expect("a valid nest");
    assert_eq!(ct.mark(), Some(0x77), "{ct:?}");
    assert!(
        ct.status().is_some_and(|s| s.contains(CtStatus::CONFIRMED)),
        "{ct:?}"
    );
    second.accept().expect("accept");
}
