//! What real firewall tests reach for, on the real kernel: marks set and matched, rule
//! counters, rules removed again, a queue verdict's new mark seen by a mark rule, a packet
//! sent as a chosen uid, payload verdicts (skipped where the kernel loses them) and bulk
//! traffic. Uses the `netfilter` crate's `Queue`, so it runs without the `ffi` feature.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use netfilter::Queue;
use netfilter_testkit::probe::{self, Feature};
use netfilter_testkit::rules::{Backend, Family, Hook, Protocol, Rule, Table};
use netfilter_testkit::traffic::{self, Credentials, DEFAULT_TIMEOUT, UdpReceiver};
use netfilter_testkit::{Error, Sandbox, TwoHosts, require, rootless, sandbox_or_skip};

/// How long to wait for a packet that must NOT arrive.
const ABSENCE: Duration = Duration::from_millis(400);

fn lo(family: Family, port: u16) -> SocketAddr {
    match family {
        Family::Ipv4 => (Ipv4Addr::LOCALHOST, port).into(),
        Family::Ipv6 => (Ipv6Addr::LOCALHOST, port).into(),
    }
}

/// A UDP datagram's length at layer 3 (what rule counters count): IP and UDP headers too.
fn l3_len(family: Family, payload: &[u8]) -> u64 {
    let headers = match family {
        Family::Ipv4 => 20 + 8,
        Family::Ipv6 => 40 + 8,
    };
    headers + payload.len() as u64
}

/// Whether every feature is there; prints why this backend's part is skipped when not.
fn backend_ready(backend: Backend, features: &[Feature]) -> bool {
    for &feature in features {
        if let Err(error) = probe::require(feature) {
            eprintln!("SKIP part {backend}: {}", error.skip_reason().unwrap());
            return false;
        }
    }
    true
}

#[test]
fn marks_are_set_and_matched_with_every_backend() {
    let sandbox = sandbox_or_skip!();
    for (backend, family, feature, port) in [
        (Backend::Iptables, Family::Ipv4, Feature::IptablesMark, 7400),
        (
            Backend::Iptables,
            Family::Ipv6,
            Feature::Ip6tablesMark,
            7401,
        ),
        (Backend::Nft, Family::Ipv4, Feature::NftMark, 7402),
    ] {
        if !backend_ready(backend, &[feature]) {
            continue;
        }
        let marking = Rule::set_mark(0x2a)
            .family(family)
            .table(Table::Mangle)
            .hook(Hook::Output)
            .protocol(Protocol::Udp)
            .dport(port)
            .backend(backend)
            .install(&sandbox)
            .unwrap();
        assert_eq!(marking.backend(), backend);
        let exact = Rule::count()
            .family(family)
            .protocol(Protocol::Udp)
            .dport(port)
            .mark(0x2a)
            .backend(backend)
            .install(&sandbox)
            .unwrap();
        let low_bits = Rule::count()
            .family(family)
            .protocol(Protocol::Udp)
            .dport(port)
            .mark_masked(0xa, 0xf)
            .backend(backend)
            .install(&sandbox)
            .unwrap();
        let other = Rule::count()
            .family(family)
            .protocol(Protocol::Udp)
            .dport(port)
            .mark(0x2b)
            .backend(backend)
            .install(&sandbox)
            .unwrap();
        let count_not = |rule: Rule| {
            rule.family(family)
                .protocol(Protocol::Udp)
                .dport(port)
                .backend(backend)
                .install(&sandbox)
                .unwrap()
        };
        let not_marked = count_not(Rule::count().not_mark(0x2a));
        let not_other = count_not(Rule::count().not_mark(0x2b));
        let not_low_bits = count_not(Rule::count().not_mark_masked(0xa, 0xf));
        let receiver = UdpReceiver::bind(&sandbox, lo(family, port)).unwrap();
        traffic::udp_send(&sandbox, lo(family, port), b"marked").unwrap();
        assert_eq!(receiver.recv(DEFAULT_TIMEOUT).unwrap().0, b"marked");
        let one = netfilter_testkit::rules::Counters {
            packets: 1,
            bytes: l3_len(family, b"marked"),
        };
        assert_eq!(exact.counters().unwrap(), one, "{backend} {family:?}");
        assert_eq!(low_bits.counters().unwrap(), one, "0x2a & 0xf == 0xa");
        assert_eq!(other.counters().unwrap().packets, 0);
        // The negated matches: only the one for another mark counts the marked packet.
        assert_eq!(
            not_marked.counters().unwrap().packets,
            0,
            "{backend} {family:?}"
        );
        assert_eq!(not_other.counters().unwrap(), one, "0x2a != 0x2b");
        assert_eq!(not_low_bits.counters().unwrap().packets, 0);
        // Without the MARK rule the mark rules see nothing, and the negated ones everything.
        marking.remove().unwrap();
        traffic::udp_send(&sandbox, lo(family, port), b"plain").unwrap();
        assert_eq!(receiver.recv(DEFAULT_TIMEOUT).unwrap().0, b"plain");
        assert_eq!(exact.counters().unwrap(), one);
        assert_eq!(not_marked.counters().unwrap().packets, 1);
        assert_eq!(not_low_bits.counters().unwrap().packets, 1);
        assert_eq!(not_other.counters().unwrap().packets, 2);
    }
}

#[test]
fn counters_count_packets_and_bytes_with_every_backend() {
    let sandbox = sandbox_or_skip!();
    for (backend, family, port) in [
        (Backend::Iptables, Family::Ipv4, 7410),
        (Backend::Iptables, Family::Ipv6, 7411),
        (Backend::Nft, Family::Ipv4, 7412),
        (Backend::Nft, Family::Ipv6, 7413),
    ] {
        let counting = Rule::count()
            .family(family)
            .protocol(Protocol::Udp)
            .dport(port)
            .backend(backend)
            .install(&sandbox);
        let counting = match counting {
            Ok(rule) => rule,
            Err(error) if error.is_skip() => {
                eprintln!("SKIP part {backend}: {}", error.skip_reason().unwrap());
                continue;
            }
            Err(error) => panic!("{error}"),
        };
        assert!(counting.tag().starts_with("nftk-rule-"));
        assert_eq!(counting.counters().unwrap().packets, 0);
        let receiver = UdpReceiver::bind(&sandbox, lo(family, port)).unwrap();
        for payload in [&b"a"[..], b"bb", b"ccc"] {
            traffic::udp_send(&sandbox, lo(family, port), payload).unwrap();
            receiver.recv(DEFAULT_TIMEOUT).unwrap();
        }
        // Another port is not counted.
        traffic::udp_send(&sandbox, lo(family, port + 100), b"elsewhere").unwrap();
        let counters = counting.counters().unwrap();
        assert_eq!(counters.packets, 3, "{backend} {family:?}");
        assert_eq!(
            counters.bytes,
            l3_len(family, b"a") + l3_len(family, b"bb") + l3_len(family, b"ccc")
        );
    }
}

#[test]
fn installed_rules_go_away_on_drop_and_on_remove() {
    let sandbox = sandbox_or_skip!();
    require!(Feature::IptablesNfqueue);
    let port = 7420;
    let receiver = UdpReceiver::bind(&sandbox, lo(Family::Ipv4, port)).unwrap();
    {
        // With the rule: queued to a queue nobody reads, so dropped.
        let queued = Rule::queue(20)
            .hook(Hook::Output)
            .protocol(Protocol::Udp)
            .dport(port)
            .install(&sandbox)
            .unwrap();
        let listing = sandbox.exec(&["iptables", "-S", "OUTPUT"]).unwrap();
        assert!(listing.contains(queued.tag()), "{listing}");
        traffic::udp_send(&sandbox, lo(Family::Ipv4, port), b"with").unwrap();
        assert!(matches!(receiver.recv(ABSENCE), Err(Error::Timeout { .. })));
    }
    // Without it (dropped at the end of the block).
    let listing = sandbox.exec(&["iptables", "-S", "OUTPUT"]).unwrap();
    assert!(!listing.contains("nftk-rule-"), "{listing}");
    traffic::udp_send(&sandbox, lo(Family::Ipv4, port), b"without").unwrap();
    assert_eq!(receiver.recv(DEFAULT_TIMEOUT).unwrap().0, b"without");

    // nft rules, removed explicitly; the chain stays.
    if backend_ready(Backend::Nft, &[Feature::NftLog]) {
        let logged = Rule::log(21)
            .hook(Hook::Output)
            .backend(Backend::Nft)
            .install(&sandbox)
            .unwrap();
        let tag = logged.tag().to_owned();
        let chain = Rule::log(21).hook(Hook::Output).nft_chain();
        let list = || sandbox.exec(&["nft", "list", "chain", "ip", "nftk", &chain]);
        assert!(list().unwrap().contains(&tag));
        logged.remove().unwrap();
        assert!(!list().unwrap().contains(&tag));
    }
}

#[test]
fn queue_verdict_sets_a_mark_that_a_mark_rule_counts() {
    let hosts = sandbox_or_skip!(TwoHosts::new());
    require!(Feature::IptablesNfqueue, Feature::IptablesMark);
    let port = 7430;
    let to: SocketAddr = (TwoHosts::SERVER.ipv4, port).into();
    // Queue at PREROUTING; count what arrives at INPUT with the verdict's mark.
    let queueing = Rule::queue(30)
        .table(Table::Mangle)
        .hook(Hook::Prerouting)
        .protocol(Protocol::Udp)
        .dport(port)
        .install(&hosts.server)
        .unwrap();
    let marked = Rule::count()
        .protocol(Protocol::Udp)
        .dport(port)
        .mark(0x2a)
        .install(&hosts.server)
        .unwrap();
    let mut queue = hosts.server.run(|| Queue::builder(30).open()).unwrap();
    let receiver = UdpReceiver::bind(&hosts.server, to).unwrap();

    traffic::udp_send(&hosts.client, to, b"remark me").unwrap();
    let mut packet = queue
        .recv_timeout(DEFAULT_TIMEOUT)
        .unwrap()
        .expect("queued");
    assert_eq!(packet.mark(), 0);
    packet.set_mark(0x2a);
    packet.accept().unwrap();
    assert_eq!(receiver.recv(DEFAULT_TIMEOUT).unwrap().0, b"remark me");
    assert_eq!(marked.counters().unwrap().packets, 1);

    // Accepted without a new mark: not counted.
    traffic::udp_send(&hosts.client, to, b"leave me").unwrap();
    let packet = queue
        .recv_timeout(DEFAULT_TIMEOUT)
        .unwrap()
        .expect("queued");
    packet.accept().unwrap();
    assert_eq!(receiver.recv(DEFAULT_TIMEOUT).unwrap().0, b"leave me");
    assert_eq!(marked.counters().unwrap().packets, 1);

    // Without the queue rule the datagram passes straight through.
    assert!(queueing.counters().unwrap().packets >= 2);
    queueing.remove().unwrap();
    traffic::udp_send(&hosts.client, to, b"direct").unwrap();
    assert_eq!(receiver.recv(DEFAULT_TIMEOUT).unwrap().0, b"direct");
    assert!(queue.recv_timeout(ABSENCE).unwrap().is_none());
}

#[test]
fn queued_packet_carries_the_chosen_uid_and_gid() {
    let sandbox = sandbox_or_skip!();
    require!(Feature::IptablesNfqueue);
    let port = 7440;
    Rule::queue(40)
        .hook(Hook::Output)
        .protocol(Protocol::Udp)
        .dport(port)
        .bypass()
        .apply(&sandbox)
        .unwrap();
    let mut queue = sandbox
        .run(|| Queue::builder(40).uid_gid(true).open())
        .unwrap();
    let receiver = UdpReceiver::bind(&sandbox, lo(Family::Ipv4, port)).unwrap();
    let chosen = Credentials {
        uid: 4242,
        gid: 4343,
    };
    match traffic::udp_send_as(&sandbox, chosen, lo(Family::Ipv4, port), b"owned") {
        Ok(()) => {}
        Err(error) if error.is_skip() => {
            eprintln!(
                "SKIP queued_packet_carries_the_chosen_uid_and_gid: {}",
                error.skip_reason().unwrap()
            );
            return;
        }
        Err(error) => panic!("{error}"),
    }
    let packet = queue
        .recv_timeout(DEFAULT_TIMEOUT)
        .unwrap()
        .expect("queued");
    let seen = chosen.in_initial_namespace().unwrap();
    assert_eq!(
        (packet.uid(), packet.gid()),
        (Some(seen.uid), Some(seen.gid))
    );
    packet.accept().unwrap();
    assert_eq!(receiver.recv(DEFAULT_TIMEOUT).unwrap().0, b"owned");
    // The test's own sends are not the chosen user's.
    traffic::udp_send(&sandbox, lo(Family::Ipv4, port), b"mine").unwrap();
    let packet = queue
        .recv_timeout(DEFAULT_TIMEOUT)
        .unwrap()
        .expect("queued");
    assert_ne!(packet.uid(), Some(seen.uid));
    packet.accept().unwrap();
}

#[test]
fn payload_verdicts_rewrite_packets_where_the_kernel_keeps_them() {
    let sandbox = sandbox_or_skip!();
    require!(Feature::IptablesNfqueue);
    let probed = probe::require(Feature::PayloadVerdict);
    if rootless::is_rerun() {
        eprintln!("payload verdicts in a user namespace's network namespace: {probed:?}");
    } else if Sandbox::new().unwrap().path().is_some() {
        // Root of the initial user namespace: the quirk does not apply.
        probed.as_ref().unwrap();
    }
    require!(Feature::PayloadVerdict);
    let port = 7450;
    Rule::queue(50)
        .hook(Hook::Output)
        .protocol(Protocol::Udp)
        .dport(port)
        .apply(&sandbox)
        .unwrap();
    let mut queue = sandbox.run(|| Queue::builder(50).open()).unwrap();
    let receiver = UdpReceiver::bind(&sandbox, lo(Family::Ipv4, port)).unwrap();
    traffic::udp_send(&sandbox, lo(Family::Ipv4, port), b"before").unwrap();
    let mut packet = queue
        .recv_timeout(DEFAULT_TIMEOUT)
        .unwrap()
        .expect("queued");
    let mut rewritten = packet.payload().to_vec();
    let udp = usize::from(rewritten[0] & 0x0f) * 4;
    rewritten[udp + 8..].copy_from_slice(b"after!");
    rewritten[udp + 6..udp + 8].fill(0); // no UDP checksum (IPv4)
    packet.set_payload(rewritten).expect("fits");
    packet.accept().unwrap();
    assert_eq!(receiver.recv(DEFAULT_TIMEOUT).unwrap().0, b"after!");
}

#[test]
fn bulk_datagrams_arrive_and_are_counted() {
    let hosts = sandbox_or_skip!(TwoHosts::new());
    const COUNT: u32 = 5000;
    let port = 7460;
    let to: SocketAddr = (TwoHosts::SERVER.ipv4, port).into();
    let counting = Rule::count()
        .protocol(Protocol::Udp)
        .dport(port)
        .install(&hosts.server)
        .unwrap();
    let receiver = UdpReceiver::bind(&hosts.server, to).unwrap();
    receiver.set_recv_buffer_size(16 << 20).unwrap();
    let started = std::time::Instant::now();
    let report = std::thread::scope(|s| {
        let received = s.spawn(|| receiver.recv_bulk(COUNT as usize, Duration::from_secs(20)));
        traffic::udp_send_bulk(&hosts.client, to, COUNT, 200, Duration::from_secs(20)).unwrap();
        received.join().unwrap().unwrap()
    });
    eprintln!("{COUNT} datagrams in {:?}", started.elapsed());
    assert!(report.missing(COUNT).is_empty(), "lost datagrams");
    assert_eq!(report.sequences.len(), COUNT as usize);
    assert_eq!(report.bytes, u64::from(COUNT) * 200);
    assert!(report.in_order(), "one veth link keeps the order");
    let counters = counting.counters().unwrap();
    assert_eq!(counters.packets, u64::from(COUNT));
    assert_eq!(counters.bytes, u64::from(COUNT) * (20 + 8 + 200));
    // Bounded: a receiver with nothing to receive returns a short report in time.
    let idle = receiver.recv_bulk(10, ABSENCE).unwrap();
    assert!(idle.sequences.is_empty());
    let refused = traffic::udp_send_bulk(&hosts.client, to, 1, 2, DEFAULT_TIMEOUT);
    assert!(matches!(refused, Err(Error::Invalid { .. })), "{refused:?}");
}
