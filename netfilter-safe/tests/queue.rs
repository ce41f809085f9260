//! NFQUEUE through the safe layer against the real kernel, each test in its own namespace.

mod common;

use std::cell::RefCell;
use std::time::Duration;

use common::{drain, pump, send_udp, udp_data, udp_receiver};
use netfilter_safe::queue::{QueueFlags, QueueHandle, SkbInfo, Verdict};
use netfilter_safe::{CopyMode, Error, Family, Hook};
use netfilter_testkit::rules::{Hook as RuleHook, Protocol, Rule};
use netfilter_testkit::{procfs, sandbox_or_skip};

const WAIT: Duration = Duration::from_secs(5);

/// Queues UDP to `port` on OUTPUT into queue `num`.
fn queue_rule(sandbox: &netfilter_testkit::Sandbox, num: u16, port: u16) {
    Rule::queue(num)
        .hook(RuleHook::Output)
        .protocol(Protocol::Udp)
        .dport(port)
        .apply(sandbox)
        .expect("NFQUEUE rule");
}

#[test]
fn verdicts_accept_and_drop_by_content() {
    let sandbox = sandbox_or_skip!();
    queue_rule(&sandbox, 1, 9101);
    let (seen, delivered) = sandbox.run(|| {
        let seen = RefCell::new(Vec::new());
        let handle = QueueHandle::open().expect("open");
        let queue = handle
            .create_queue(1, |msg| {
                let payload = msg.payload().expect("payload");
                let verdict = if udp_data(payload) == b"drop me" {
                    Verdict::Drop
                } else {
                    Verdict::Accept
                };
                msg.set_verdict(verdict, None, None).expect("verdict");
                seen.borrow_mut()
                    .push((msg.queue(), msg.hook(), msg.family(), msg.hw_protocol()));
            })
            .expect("create_queue");
        queue.set_mode(CopyMode::Packet, 0xffff).expect("set_mode");
        let receiver = udp_receiver(9101);
        send_udp(9101, b"keep me");
        send_udp(9101, b"drop me");
        pump(
            &handle,
            WAIT,
            |d| {
                handle.handle_packet(d).expect("dispatch");
            },
            || seen.borrow().len() == 2,
        );
        let delivered = drain(&receiver);
        drop(queue);
        (seen.take(), delivered)
    });
    assert_eq!(seen, vec![(1, Hook::LocalOut, Family::Ipv4, 0x0800); 2]);
    assert_eq!(
        delivered,
        vec![b"keep me".to_vec()],
        "only the accepted datagram arrives"
    );
}

#[test]
fn later_verdicts_by_id_in_any_order_and_in_a_batch() {
    let sandbox = sandbox_or_skip!();
    queue_rule(&sandbox, 2, 9102);
    let delivered = sandbox.run(|| {
        let ids = RefCell::new(Vec::new());
        let handle = QueueHandle::open().expect("open");
        let queue = handle
            .create_queue(2, |msg| ids.borrow_mut().push(msg.to_owned().id))
            .expect("create_queue");
        queue.set_mode(CopyMode::Meta, 0).expect("set_mode");
        let receiver = udp_receiver(9102);
        for i in 0..5u8 {
            send_udp(9102, &[b'0' + i]);
        }
        pump(
            &handle,
            WAIT,
            |d| {
                handle.handle_packet(d).expect("dispatch");
            },
            || ids.borrow().len() == 5,
        );
        let ids = ids.take();
        assert_eq!(ids.len(), 5, "five packets wait for a verdict");
        // Nothing is delivered until the verdicts come.
        assert!(drain(&receiver).is_empty());
        // The last two, newest first, one at a time...
        queue
            .set_verdict(ids[4], Verdict::Accept, None, None)
            .expect("verdict 5");
        queue
            .set_verdict(ids[3], Verdict::Accept, None, None)
            .expect("verdict 4");
        let mut got = drain(&receiver);
        // ...then the first three with one batch verdict naming the highest.
        queue
            .set_verdict_batch(ids[2], Verdict::Accept, None)
            .expect("batch");
        got.extend(drain(&receiver));
        got
    });
    assert_eq!(
        delivered,
        [b"4", b"3", b"0", b"1", b"2"].map(|b| b.to_vec())
    );
}

#[test]
fn repeat_with_a_mark_that_a_rule_skips() {
    let sandbox = sandbox_or_skip!();
    // Marked packets return before reaching NFQUEUE: a REPEAT that sets the mark ends the loop.
    sandbox
        .exec(&[
            "iptables", "-A", "OUTPUT", "-m", "mark", "--mark", "0x99", "-j", "ACCEPT",
        ])
        .expect("mark rule");
    queue_rule(&sandbox, 3, 9103);
    let (marks, delivered) = sandbox.run(|| {
        let marks = RefCell::new(Vec::new());
        let handle = QueueHandle::open().expect("open");
        let queue = handle
            .create_queue(3, |msg| {
                marks.borrow_mut().push(msg.mark());
                msg.set_verdict(Verdict::Repeat, Some(0x99), None)
                    .expect("verdict");
            })
            .expect("create_queue");
        queue.set_mode(CopyMode::Meta, 0).expect("set_mode");
        let receiver = udp_receiver(9103);
        send_udp(9103, b"once");
        pump(
            &handle,
            Duration::from_secs(1),
            |d| {
                handle.handle_packet(d).expect("dispatch");
            },
            || false,
        );
        (marks.take(), drain(&receiver))
    });
    assert_eq!(
        marks,
        [0],
        "queued once, unmarked; the repeat skipped the queue"
    );
    assert_eq!(delivered, [b"once".to_vec()]);
}

#[test]
fn replacement_payload_arrives() {
    let sandbox = sandbox_or_skip!();
    queue_rule(&sandbox, 4, 9104);
    let delivered = sandbox.run(|| {
        let handle = QueueHandle::open().expect("open");
        let done = RefCell::new(false);
        let queue = handle
            .create_queue(4, |msg| {
                let mut packet = msg.payload().expect("payload").to_vec();
                let ihl = usize::from(packet[0] & 0x0f) * 4;
                packet[ihl + 8..].copy_from_slice(b"HELLO");
                // UDP over IPv4 may carry no checksum (0); the IP header is unchanged.
                packet[ihl + 6..ihl + 8].copy_from_slice(&[0, 0]);
                msg.set_verdict(Verdict::Accept, None, Some(&packet))
                    .expect("verdict");
                *done.borrow_mut() = true;
            })
            .expect("create_queue");
        queue.set_mode(CopyMode::Packet, 0xffff).expect("set_mode");
        let receiver = udp_receiver(9104);
        send_udp(9104, b"hello");
        pump(
            &handle,
            WAIT,
            |d| {
                handle.handle_packet(d).expect("dispatch");
            },
            || *done.borrow(),
        );
        drain(&receiver)
    });
    assert_eq!(delivered, [b"HELLO".to_vec()]);
}

#[test]
fn copy_range_truncates_and_cap_len_tells_the_length() {
    let sandbox = sandbox_or_skip!();
    queue_rule(&sandbox, 5, 9105);
    let seen = sandbox.run(|| {
        let seen = RefCell::new(Vec::new());
        let handle = QueueHandle::open().expect("open");
        let queue = handle
            .create_queue(5, |msg| {
                let len = msg.payload().map(<[u8]>::len);
                seen.borrow_mut().push((len, msg.cap_len().expect("parse")));
                msg.set_verdict(Verdict::Accept, None, None)
                    .expect("verdict");
            })
            .expect("create_queue");
        queue.set_mode(CopyMode::Packet, 20).expect("set_mode");
        send_udp(9105, &[7u8; 100]);
        pump(
            &handle,
            WAIT,
            |d| {
                handle.handle_packet(d).expect("dispatch");
            },
            || seen.borrow().len() == 1,
        );
        queue.set_mode(CopyMode::Meta, 0).expect("set_mode");
        send_udp(9105, &[7u8; 100]);
        pump(
            &handle,
            WAIT,
            |d| {
                handle.handle_packet(d).expect("dispatch");
            },
            || seen.borrow().len() == 2,
        );
        seen.take()
    });
    assert_eq!(
        seen,
        [(Some(20), Some(128)), (None, None)],
        "20 of 20+8+100 bytes; meta: none"
    );
}

#[test]
fn uid_and_gid_only_with_the_flag() {
    let sandbox = sandbox_or_skip!();
    queue_rule(&sandbox, 6, 9106);
    let seen = sandbox.run(|| {
        let seen = RefCell::new(Vec::new());
        let handle = QueueHandle::open().expect("open");
        let queue = handle
            .create_queue(6, |msg| {
                seen.borrow_mut().push((msg.uid(), msg.gid()));
                msg.set_verdict(Verdict::Accept, None, None)
                    .expect("verdict");
            })
            .expect("create_queue");
        queue.set_mode(CopyMode::Meta, 0).expect("set_mode");
        send_udp(9106, b"a");
        pump(
            &handle,
            WAIT,
            |d| {
                handle.handle_packet(d).expect("dispatch");
            },
            || seen.borrow().len() == 1,
        );
        queue
            .set_flags(QueueFlags::UID_GID, QueueFlags::UID_GID)
            .expect("set_flags");
        send_udp(9106, b"b");
        pump(
            &handle,
            WAIT,
            |d| {
                handle.handle_packet(d).expect("dispatch");
            },
            || seen.borrow().len() == 2,
        );
        // Clearing through the same mask turns it off again.
        queue
            .set_flags(QueueFlags::UID_GID, QueueFlags::empty())
            .expect("clear");
        send_udp(9106, b"c");
        pump(
            &handle,
            WAIT,
            |d| {
                handle.handle_packet(d).expect("dispatch");
            },
            || seen.borrow().len() == 3,
        );
        seen.take()
    });
    // SAFETY: no preconditions.
    let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
    assert_eq!(seen, [(None, None), (Some(uid), Some(gid)), (None, None)]);
}

#[test]
fn full_queue_drops_unless_fail_open() {
    let sandbox = sandbox_or_skip!();
    queue_rule(&sandbox, 7, 9107);
    let (dropped, delivered) = sandbox.run(|| {
        let handle = QueueHandle::open().expect("open");
        let queue = handle.create_queue(7, |_| {}).expect("create_queue");
        queue.set_mode(CopyMode::Meta, 0).expect("set_mode");
        queue.set_maxlen(1).expect("set_maxlen");
        let receiver = udp_receiver(9107);
        // No verdicts: the first waits, the next two find the queue full and are dropped.
        for _ in 0..3 {
            send_udp(9107, b"closed");
        }
        let closed = drain(&receiver);
        let row = procfs::queue_row(&sandbox, 7)
            .expect("procfs")
            .expect("row");
        queue
            .set_flags(QueueFlags::FAIL_OPEN, QueueFlags::FAIL_OPEN)
            .expect("fail-open");
        for _ in 0..2 {
            send_udp(9107, b"open");
        }
        let mut delivered = closed;
        delivered.extend(drain(&receiver));
        (row.queue_dropped, delivered)
    });
    assert_eq!(dropped, 2, "two packets found the queue full");
    assert_eq!(
        delivered,
        [b"open".to_vec(), b"open".to_vec()],
        "fail-open accepts the overflow"
    );
}

#[test]
fn a_panicking_callback_strands_no_packet_of_the_datagram() {
    let sandbox = sandbox_or_skip!();
    queue_rule(&sandbox, 8, 9108);
    let (result, calls, waiting, delivered) = sandbox.run(|| {
        let calls = RefCell::new(0);
        let handle = QueueHandle::open().expect("open");
        let queue = handle
            .create_queue(8, |msg| {
                *calls.borrow_mut() += 1;
                if udp_data(msg.payload().expect("payload")) == b"first" {
                    panic!("callback failed on the first packet");
                }
                msg.set_verdict(Verdict::Accept, None, None)
                    .expect("verdict");
            })
            .expect("create_queue");
        queue.set_mode(CopyMode::Packet, 0xffff).expect("set_mode");
        let receiver = udp_receiver(9108);
        send_udp(9108, b"first");
        send_udp(9108, b"second");
        send_udp(9108, b"third");
        // The kernel sends one packet a datagram; join three into one, as a batch would be
        // (each message padded to the 4-byte netlink alignment).
        let datagram = RefCell::new(Vec::new());
        pump(
            &handle,
            Duration::from_secs(1),
            |d| {
                let mut datagram = datagram.borrow_mut();
                datagram.extend_from_slice(d);
                let padded = datagram.len().next_multiple_of(4);
                datagram.resize(padded, 0);
            },
            || false,
        );
        let datagram = datagram.take();
        let result = handle.handle_packet(&datagram);
        let row = procfs::queue_row(&sandbox, 8)
            .expect("procfs")
            .expect("row");
        let first_id = row.id_sequence - 2;
        queue
            .set_verdict(first_id, Verdict::Accept, None, None)
            .expect("verdict for first");
        (result, calls.take(), row.queue_total, drain(&receiver))
    });
    match result {
        Err(err @ Error::CallbackPanic(_)) => {
            assert_eq!(
                err.panic_message().as_deref(),
                Some("callback failed on the first packet")
            )
        }
        other => panic!("expected CallbackPanic, got {other:?}"),
    }
    assert_eq!(
        calls, 3,
        "the packets after the panic were still dispatched"
    );
    assert_eq!(waiting, 1, "only the panicking packet waited");
    assert_eq!(delivered.len(), 3);
}

#[test]
fn another_socket_cannot_take_the_queue_and_the_same_handle_cannot_bind_twice() {
    let sandbox = sandbox_or_skip!();
    sandbox.run(|| {
        let first = QueueHandle::open().expect("open");
        let _queue = first.create_queue(9, |_| {}).expect("create_queue");
        let err = first
            .create_queue(9, |_| {})
            .expect_err("second bind on the same handle");
        assert!(matches!(err, Error::Busy { .. }), "{err}");
        let second = QueueHandle::open().expect("open");
        let err = second
            .create_queue(9, |_| {})
            .expect_err("bind taken by another socket");
        assert!(matches!(err, Error::NotPermitted { .. }), "{err}");
    });
}

#[test]
fn handle_opened_in_another_namespace_serves_its_queue() {
    let sandbox = sandbox_or_skip!();
    let Some(path) = sandbox.path() else {
        eprintln!("SKIP: the sandbox has no /run/netns path in rootless mode");
        return;
    };
    queue_rule(&sandbox, 10, 9110);
    // This thread stays in the test's own namespace; only the handle's socket is inside.
    let netns = std::fs::File::open(path).expect("open netns");
    let handle = QueueHandle::open_in_netns(std::os::fd::AsFd::as_fd(&netns)).expect("open");
    let seen = RefCell::new(0);
    let queue = handle
        .create_queue(10, |msg| {
            *seen.borrow_mut() += 1;
            msg.set_verdict(Verdict::Accept, None, None)
                .expect("verdict");
        })
        .expect("create_queue");
    queue.set_mode(CopyMode::Meta, 0).expect("set_mode");
    let receiver = sandbox.run(|| udp_receiver(9110));
    sandbox.run(|| send_udp(9110, b"across"));
    pump(
        &handle,
        WAIT,
        |d| {
            handle.handle_packet(d).expect("dispatch");
        },
        || *seen.borrow() == 1,
    );
    assert_eq!(*seen.borrow(), 1);
    assert_eq!(drain(&receiver), [b"across".to_vec()]);
}

#[test]
fn gso_delivers_packets_larger_than_the_mtu_only_with_the_flag() {
    use netfilter_testkit::TwoHosts;
    use netfilter_testkit::traffic::{TcpServer, tcp_send};

    let hosts = sandbox_or_skip!(TwoHosts::new());
    let port = 9111;
    Rule::queue(11)
        .hook(RuleHook::Output)
        .protocol(Protocol::Tcp)
        .dport(port)
        .apply(&hosts.client)
        .expect("rule");
    let server_addr = std::net::SocketAddr::from((TwoHosts::SERVER.ipv4, port));
    let server = TcpServer::bind(&hosts.server, server_addr).expect("server");
    // Sends 256 KiB client -> server over the 1500-byte-MTU veth while serving the queue, and
    // returns the largest queued packet with its skb info.
    let largest_packet = |flags: QueueFlags| {
        hosts.client.run(|| {
            let largest = RefCell::new((0usize, SkbInfo::empty()));
            let handle = QueueHandle::open().expect("open");
            let queue = handle
                .create_queue(11, |msg| {
                    let len = msg.payload().map_or(0, <[u8]>::len);
                    let mut largest = largest.borrow_mut();
                    if len > largest.0 {
                        *largest = (len, msg.skbinfo());
                    }
                    msg.set_verdict(Verdict::Accept, None, None)
                        .expect("verdict");
                })
                .expect("create_queue");
            queue.set_mode(CopyMode::Packet, 0xffff).expect("set_mode");
            queue.set_flags(QueueFlags::GSO, flags).expect("set_flags");
            let data = vec![0x5au8; 256 * 1024];
            let (sent, read) = std::thread::scope(|scope| {
                let reader = scope.spawn(|| server.accept_read(WAIT));
                let writer = scope.spawn(|| tcp_send(&hosts.client, server_addr, &data, WAIT));
                pump(
                    &handle,
                    WAIT,
                    |d| {
                        handle.handle_packet(d).expect("dispatch");
                    },
                    || writer.is_finished() && reader.is_finished(),
                );
                (writer.join(), reader.join())
            });
            sent.expect("writer thread").expect("tcp send");
            let (received, _) = read.expect("reader thread").expect("tcp receive");
            assert_eq!(received.len(), data.len(), "every byte arrived");
            largest.take()
        })
    };
    let (with_gso, info) = largest_packet(QueueFlags::GSO);
    assert!(
        with_gso > 1500,
        "a GSO packet larger than the 1500-byte MTU: {with_gso}"
    );
    assert!(info.contains(SkbInfo::GSO), "marked GSO: {info:?}");
    let (without, info) = largest_packet(QueueFlags::empty());
    assert!(
        without <= 1500,
        "segmented to the MTU without the flag: {without}"
    );
    assert!(!info.contains(SkbInfo::GSO), "{info:?}");
}

#[test]
fn handle_adopts_a_socket_made_in_another_namespace() {
    use std::os::fd::{FromRawFd, OwnedFd};

    let sandbox = sandbox_or_skip!();
    queue_rule(&sandbox, 12, 9112);
    let socket = sandbox.run(|| {
        // SAFETY: plain socket(2) call; the result is checked and owned right away.
        let fd = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                libc::NETLINK_NETFILTER,
            )
        };
        assert!(fd >= 0, "socket: {}", std::io::Error::last_os_error());
        // SAFETY: `fd` is a fresh descriptor nobody else owns.
        unsafe { OwnedFd::from_raw_fd(fd) }
    });
    // This thread stays in the test's own namespace; the adopted socket is inside the sandbox.
    let handle = QueueHandle::open_with_socket(socket).expect("adopt");
    let seen = RefCell::new(0);
    let queue = handle
        .create_queue(12, |msg| {
            *seen.borrow_mut() += 1;
            msg.set_verdict(Verdict::Accept, None, None)
                .expect("verdict");
        })
        .expect("create_queue");
    queue.set_mode(CopyMode::Meta, 0).expect("set_mode");
    let receiver = sandbox.run(|| udp_receiver(9112));
    sandbox.run(|| send_udp(9112, b"adopted"));
    pump(
        &handle,
        WAIT,
        |d| {
            handle.handle_packet(d).expect("dispatch");
        },
        || *seen.borrow() == 1,
    );
    assert_eq!(drain(&receiver), [b"adopted".to_vec()]);
    // A socket of another kind is refused.
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").expect("udp");
    let err = QueueHandle::open_with_socket(OwnedFd::from(udp)).expect_err("not netlink");
    assert!(err.to_string().contains("NETLINK_NETFILTER"), "{err}");
}

#[test]
fn queue_verdict_hands_the_packet_to_another_queue_or_bypasses_a_missing_one() {
    let sandbox = sandbox_or_skip!();
    queue_rule(&sandbox, 13, 9113);
    let (hops, delivered) = sandbox.run(|| {
        let hops = RefCell::new(Vec::new());
        let handle = QueueHandle::open().expect("open");
        let first = handle
            .create_queue(13, |msg| {
                hops.borrow_mut()
                    .push((13, udp_data(msg.payload().expect("payload")).to_vec()));
                let verdict = if udp_data(msg.payload().expect("payload")) == b"hop" {
                    Verdict::Queue {
                        num: 14,
                        bypass: false,
                    }
                } else {
                    // Nobody listens on 15: with bypass the packet is accepted instead.
                    Verdict::Queue {
                        num: 15,
                        bypass: true,
                    }
                };
                msg.set_verdict(verdict, None, None).expect("verdict");
            })
            .expect("queue 13");
        let second = handle
            .create_queue(14, |msg| {
                hops.borrow_mut()
                    .push((14, udp_data(msg.payload().expect("payload")).to_vec()));
                msg.set_verdict(Verdict::Stop, None, None).expect("verdict");
            })
            .expect("queue 14");
        first.set_mode(CopyMode::Packet, 0xffff).expect("set_mode");
        second.set_mode(CopyMode::Packet, 0xffff).expect("set_mode");
        let receiver = udp_receiver(9113);
        send_udp(9113, b"hop");
        send_udp(9113, b"skip");
        pump(
            &handle,
            WAIT,
            |d| {
                handle.handle_packet(d).expect("dispatch");
            },
            || hops.borrow().len() == 3,
        );
        let mut delivered = drain(&receiver);
        delivered.sort();
        (hops.take(), delivered)
    });
    assert_eq!(
        hops,
        [
            (13, b"hop".to_vec()),
            (13, b"skip".to_vec()),
            (14, b"hop".to_vec())
        ],
        "one queue hands to the other; both sockets share one handle"
    );
    assert_eq!(delivered, [b"hop".to_vec(), b"skip".to_vec()]);
}

#[test]
fn socket_options_names_and_xml() {
    use netfilter_safe::InterfaceTable;

    let sandbox = sandbox_or_skip!();
    queue_rule(&sandbox, 16, 9116);
    sandbox.run(|| {
        let handle = QueueHandle::open().expect("open");
        handle.bind_pf(Family::Ipv4).expect("bind_pf");
        // Forced sizes ignore net.core.rmem_max; the kernel reports double the request.
        assert_eq!(
            handle.set_recv_buffer_size(1 << 20, true).expect("force"),
            2 << 20
        );
        assert!(handle.set_recv_buffer_size(1 << 16, false).expect("plain") >= 1 << 16);
        handle.set_nonblocking(true).expect("nonblocking");
        let mut buf = vec![0u8; 0x10000];
        match handle.recv(&mut buf) {
            Err(Error::Call {
                call: "recv",
                source,
            }) => {
                assert_eq!(source.kind(), std::io::ErrorKind::WouldBlock)
            }
            other => panic!("expected EAGAIN, got {other:?}"),
        }
        handle.set_nonblocking(false).expect("blocking");

        let table = InterfaceTable::open().expect("interface table");
        assert_eq!(table.name(1).as_deref(), Some("lo"));
        let seen = RefCell::new(None);
        let queue = handle
            .create_queue(16, |msg| {
                let xml = msg.to_xml(u32::MAX).expect("xml");
                *seen.borrow_mut() = Some((msg.outdev_name(&table), msg.indev_name(&table), xml));
                msg.set_verdict(Verdict::Accept, None, None)
                    .expect("verdict");
            })
            .expect("create_queue");
        queue.set_mode(CopyMode::Packet, 0xffff).expect("set_mode");
        send_udp(9116, b"names");
        pump(
            &handle,
            WAIT,
            |d| {
                handle.handle_packet(d).expect("dispatch");
            },
            || seen.borrow().is_some(),
        );
        let (outdev, indev, xml) = seen.take().expect("a packet");
        assert_eq!((outdev.as_deref(), indev), (Some("lo"), None));
        assert!(xml.starts_with("<pkt>") && xml.contains("<hook>"), "{xml}");
        drop(queue);
        handle.unbind_pf(Family::Ipv4).expect("unbind_pf");
    });
}
