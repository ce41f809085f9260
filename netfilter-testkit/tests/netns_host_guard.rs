//! The host's namespace is never touched: snapshot the host's ruleset, links, addresses and
//! namespace list, run a full sandbox workout (every topology, rules of each kind with each
//! backend, traffic of each kind), drop everything and compare.
//!
//! This is the only test in its binary, so no other test of this process creates namespaces
//! while it runs; testkit namespaces of other live processes (concurrent test binaries) are
//! left out of the snapshot by `HostSnapshot::capture`.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Duration;

use netfilter_safe::CopyMode;
use netfilter_safe::log::LogHandle;
use netfilter_safe::queue::{QueueHandle, Verdict};
use netfilter_testkit::guard::HostSnapshot;
use netfilter_testkit::probe::{self, Feature};
use netfilter_testkit::rules::{Backend, Family, Hook, Protocol, Rule, Table};
use netfilter_testkit::traffic::{self, DEFAULT_TIMEOUT, TcpServer, UdpReceiver};
use netfilter_testkit::{Routed, Sandbox, TwoHosts, procfs, serve};

fn workout() {
    // One namespace on loopback.
    let single = Sandbox::new().unwrap();
    let to: SocketAddr = ([127, 0, 0, 1], 4000).into();
    let receiver = UdpReceiver::bind(&single, to).unwrap();
    traffic::udp_send(&single, to, b"lo").unwrap();
    assert_eq!(receiver.recv(DEFAULT_TIMEOUT).unwrap().0, b"lo");

    // Two hosts, every rule kind in both families, every backend that works.
    let hosts = TwoHosts::new().unwrap();
    for family in [Family::Ipv4, Family::Ipv6] {
        let server_ip = TwoHosts::SERVER.addr(family);
        // Every queued packet is accepted at once and counted.
        let queue_handle = hosts.server.run(QueueHandle::open).unwrap();
        let accepted = Cell::new(0);
        let queue = queue_handle
            .create_queue(1, |msg| {
                msg.set_verdict(Verdict::Accept, None, None).unwrap();
                accepted.set(accepted.get() + 1);
            })
            .unwrap();
        queue.set_mode(CopyMode::Packet, 256).unwrap();
        let log_handle = hosts.server.run(LogHandle::open).unwrap();
        let logged = RefCell::new(VecDeque::new());
        let mut log = log_handle.bind_group(2).unwrap();
        log.set_mode(CopyMode::Packet, 256).unwrap();
        log.set_callback(|p| logged.borrow_mut().push_back(p.to_owned()))
            .unwrap();
        Rule::queue(1)
            .family(family)
            .protocol(Protocol::Tcp)
            .dport(4100)
            .bypass()
            .apply(&hosts.server)
            .unwrap();
        for backend in [Backend::Iptables, Backend::Nft] {
            let rule = Rule::log(2)
                .family(family)
                .table(Table::Mangle)
                .hook(Hook::Prerouting)
                .protocol(Protocol::Tcp)
                .dport(4100)
                .prefix("guard")
                .backend(backend);
            match rule.apply(&hosts.server) {
                Ok(_) => {}
                Err(error) if error.is_skip() => eprintln!("part skipped: {error}"),
                Err(error) => panic!("{error}"),
            }
        }
        let server = TcpServer::bind(&hosts.server, (server_ip, 4100).into()).unwrap();
        let addr = server.local_addr();
        std::thread::scope(|s| {
            let client = &hosts.client;
            let sent =
                s.spawn(move || traffic::tcp_send(client, addr, b"guarded", DEFAULT_TIMEOUT));
            // Every packet of the connection goes through queue 1.
            let reader = s.spawn(|| server.accept_read(DEFAULT_TIMEOUT));
            serve::until(&queue_handle, Duration::from_secs(5), || {
                sent.is_finished() && reader.is_finished()
            })
            .unwrap();
            sent.join().unwrap().unwrap();
            assert_eq!(reader.join().unwrap().unwrap().0, b"guarded");
            let accepted = accepted.get();
            assert!(accepted >= 3, "SYN, data and FIN were queued: {accepted}");
        });
        assert_eq!(
            serve::next(&log_handle, &logged, DEFAULT_TIMEOUT)
                .unwrap()
                .prefix
                .as_deref(),
            Some(&b"guard"[..])
        );
        if probe::supports(Feature::Procfs) {
            assert!(procfs::queue_row(&hosts.server, 1).unwrap().is_some());
            assert!(procfs::log_row(&hosts.server, 2).unwrap().is_some());
        }
        traffic::ping(&hosts.client, server_ip, DEFAULT_TIMEOUT).unwrap();
        drop((log, queue));
    }

    // Routed: NFQUEUE in FORWARD, NFLOG in POSTROUTING, both families.
    let net = Routed::new().unwrap();
    for family in [Family::Ipv4, Family::Ipv6] {
        let queue_handle = net.router.run(QueueHandle::open).unwrap();
        let queued = RefCell::new(VecDeque::new());
        let queue = queue_handle
            .create_queue(3, |msg| queued.borrow_mut().push_back(msg.id()))
            .unwrap();
        queue.set_mode(CopyMode::Packet, 256).unwrap();
        let log_handle = net.router.run(LogHandle::open).unwrap();
        let logged = RefCell::new(VecDeque::new());
        let mut log = log_handle.bind_group(4).unwrap();
        log.set_mode(CopyMode::Packet, 256).unwrap();
        log.set_callback(|p| logged.borrow_mut().push_back(p.to_owned()))
            .unwrap();
        Rule::queue_balance(3, 3)
            .family(family)
            .hook(Hook::Forward)
            .protocol(Protocol::Udp)
            .apply(&net.router)
            .unwrap();
        Rule::log(4)
            .family(family)
            .table(Table::Mangle)
            .hook(Hook::Postrouting)
            .protocol(Protocol::Udp)
            .threshold(1)
            .apply(&net.router)
            .unwrap();
        let to: SocketAddr = (Routed::SERVER.addr(family), 4200).into();
        let receiver = UdpReceiver::bind(&net.server, to).unwrap();
        traffic::udp_send(&net.client, to, b"routed").unwrap();
        let id = serve::next(&queue_handle, &queued, DEFAULT_TIMEOUT).unwrap();
        queue.set_verdict(id, Verdict::Accept, None, None).unwrap();
        assert_eq!(receiver.recv(DEFAULT_TIMEOUT).unwrap().0, b"routed");
        let packet = serve::next(&log_handle, &logged, DEFAULT_TIMEOUT).unwrap();
        assert!(packet.payload.unwrap().ends_with(b"routed"));
        drop((log, queue));
    }
}

#[test]
fn full_workout_leaves_the_host_unchanged() {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!(
            "SKIP full_workout_leaves_the_host_unchanged: needs root (reading the host's \
             ruleset needs CAP_NET_ADMIN in the host namespace)"
        );
        return;
    }
    let before = HostSnapshot::capture().unwrap();
    let outcome = std::panic::catch_unwind(workout);
    let after = HostSnapshot::capture().unwrap();
    let diff = before.diff(&after);
    assert!(diff.is_empty(), "the host changed:\n{}", diff.join("\n"));
    assert!(
        after.testkit_namespaces().is_empty()
            || before.testkit_namespaces() == after.testkit_namespaces()
    );
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}
