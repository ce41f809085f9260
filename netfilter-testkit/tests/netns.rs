//! Real-kernel tests of the namespace half of the testkit. Each test builds its own private
//! namespaces; as root they are named `nftk-<pid>-<n>`, otherwise each test re-runs itself in a
//! user namespace (see `netfilter_testkit::rootless`), or skips with a printed reason.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use netfilter_safe::log::LogHandle;
use netfilter_safe::queue::{QueueFlags, QueueHandle, Verdict};
use netfilter_safe::{CopyMode, Hook as NfHook};
use netfilter_testkit::probe::{self, Feature};
use netfilter_testkit::rules::{Backend, Family, Hook, Protocol, Rule, Table};
use netfilter_testkit::traffic::{self, DEFAULT_TIMEOUT, TcpServer, UdpReceiver};
use netfilter_testkit::{
    Error, Routed, Sandbox, TwoHosts, procfs, require, sandbox_or_skip, serve,
};

/// How long to wait for a packet that must NOT arrive.
const ABSENCE: Duration = Duration::from_millis(400);

fn lo(family: Family, port: u16) -> SocketAddr {
    match family {
        Family::Ipv4 => (Ipv4Addr::LOCALHOST, port).into(),
        Family::Ipv6 => (Ipv6Addr::LOCALHOST, port).into(),
    }
}

fn netns_id(sandbox: &Sandbox) -> std::path::PathBuf {
    sandbox.run(|| std::fs::read_link("/proc/thread-self/ns/net").unwrap())
}

#[test]
fn sandbox_is_a_separate_namespace_with_lo_up() {
    let sandbox = sandbox_or_skip!();
    assert!(sandbox.name().starts_with("nftk-"), "{}", sandbox.name());
    let host = std::fs::read_link("/proc/thread-self/ns/net").unwrap();
    assert_ne!(netns_id(&sandbox), host);
    let links = sandbox.exec(&["ip", "-o", "link", "show"]).unwrap();
    assert_eq!(links.lines().count(), 1, "only lo inside: {links}");
    assert!(links.contains("lo: <LOOPBACK,UP,LOWER_UP>"), "{links}");
    // The command's process and run()'s thread are in the same namespace.
    let from_command = sandbox.exec(&["readlink", "/proc/self/ns/net"]).unwrap();
    assert_eq!(from_command.trim(), netns_id(&sandbox).to_str().unwrap());
}

#[test]
fn two_sandboxes_are_isolated_from_each_other() {
    let a = sandbox_or_skip!();
    let b = Sandbox::new().unwrap();
    assert_ne!(a.name(), b.name());
    assert_ne!(netns_id(&a), netns_id(&b));
    let receiver = UdpReceiver::bind(&a, lo(Family::Ipv4, 7000)).unwrap();
    // Same address and port in b: a different loopback, so the bind succeeds and b's datagram
    // does not reach a.
    let other = UdpReceiver::bind(&b, lo(Family::Ipv4, 7000)).unwrap();
    traffic::udp_send(&b, lo(Family::Ipv4, 7000), b"to b").unwrap();
    assert_eq!(other.recv(DEFAULT_TIMEOUT).unwrap().0, b"to b");
    assert!(matches!(receiver.recv(ABSENCE), Err(Error::Timeout { .. })));
}

#[test]
fn sandbox_is_removed_on_drop_even_while_panicking() {
    let probe = sandbox_or_skip!();
    let named = probe.path().is_some();
    drop(probe);
    let (tx, rx) = std::sync::mpsc::channel();
    let result = std::panic::catch_unwind(move || {
        let sandbox = Sandbox::new().unwrap();
        tx.send((
            sandbox.name().to_owned(),
            sandbox.path().map(|p| p.to_owned()),
        ))
        .unwrap();
        panic!("test body fails");
    });
    assert!(result.is_err());
    let (name, path) = rx.recv().unwrap();
    if named {
        let path = path.unwrap();
        assert!(!path.exists(), "{} left behind", path.display());
        let list = std::process::Command::new("ip")
            .args(["netns", "list"])
            .output()
            .unwrap();
        assert!(!String::from_utf8_lossy(&list.stdout).contains(&name));
    } else {
        // Anonymous namespaces (rootless mode) have no file to leave behind.
        assert!(path.is_none());
    }
}

#[test]
fn run_returns_values_and_propagates_panics() {
    let sandbox = sandbox_or_skip!();
    let borrowed = String::from("borrowed from the caller");
    assert_eq!(sandbox.run(|| borrowed.len()), borrowed.len());
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        sandbox.run(|| panic!("inside"));
    }));
    let payload = panicked.unwrap_err();
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"inside"));
    // A long-lived thread inside.
    let inside = sandbox.spawn(|| std::fs::read_link("/proc/thread-self/ns/net").unwrap());
    assert_eq!(inside.join().unwrap(), netns_id(&sandbox));
}

#[test]
fn exec_reports_failures_with_stderr() {
    let sandbox = sandbox_or_skip!();
    match sandbox.exec(&["ip", "link", "set", "dev", "nosuchdev", "up"]) {
        Err(Error::Command {
            argv,
            status,
            stderr,
        }) => {
            // Errors name the binary that ran.
            assert_eq!(
                std::path::Path::new(&argv[0]),
                netfilter_testkit::sandbox::tool_path("ip").unwrap()
            );
            assert!(argv[0].ends_with("/ip"), "{argv:?}");
            assert_ne!(status, Some(0));
            assert!(!stderr.trim().is_empty());
        }
        other => panic!("expected a command error, got {other:?}"),
    }
    let missing = sandbox
        .exec(&["netfilter-testkit-no-such-program"])
        .unwrap_err();
    assert!(missing.is_skip(), "{missing}");
    let output = sandbox
        .command("sh")
        .args(["-c", "echo out; ip -o addr show dev lo | wc -l"])
        .output()
        .unwrap();
    assert!(output.status.success());
    assert_eq!(String::from_utf8_lossy(&output.stdout), "out\n2\n");
}

#[test]
fn command_runs_the_trusted_ip_not_one_planted_on_path() {
    let sandbox = sandbox_or_skip!();
    use std::os::unix::fs::PermissionsExt;
    let planted = std::env::temp_dir().join(format!("nftk-planted-ip-{}", std::process::id()));
    std::fs::create_dir_all(&planted).unwrap();
    let ip = planted.join("ip");
    std::fs::write(&ip, "#!/bin/sh\necho planted\n").unwrap();
    std::fs::set_permissions(&ip, std::fs::Permissions::from_mode(0o755)).unwrap();
    // The planted directory comes first in the PATH the child would search.
    let path = format!(
        "{}:{}",
        planted.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let output = sandbox
        .command("ip")
        .env("PATH", path)
        .arg("-V")
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&planted);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(!stdout.contains("planted"), "the planted ip ran");
    assert!(stdout.contains("iproute2"), "{stdout}");
    let resolved = netfilter_testkit::sandbox::tool_path("ip").unwrap();
    assert!(
        netfilter_testkit::sandbox::TRUSTED_TOOL_DIRS
            .iter()
            .any(|dir| resolved.starts_with(dir)),
        "{resolved:?}"
    );
}

#[test]
fn sweep_removes_only_dead_testkit_namespaces() {
    let sandbox = sandbox_or_skip!();
    let Some(_) = sandbox.path() else {
        eprintln!(
            "SKIP sweep_removes_only_dead_testkit_namespaces: rootless sandboxes are anonymous; \
             nothing to sweep"
        );
        return;
    };
    // A PID that no longer exists: a child we started and reaped.
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let dead = child.id();
    child.wait().unwrap();
    let own = std::process::id();
    let stale = format!("nftk-{dead}-0");
    let live = format!("nftk-{own}-4242");
    let foreign = format!("nftkx-{dead}-0");
    for name in [&stale, &live, &foreign] {
        let status = std::process::Command::new("ip")
            .args(["netns", "add", name])
            .status()
            .unwrap();
        assert!(status.success());
    }
    let removed = netfilter_testkit::sweep_stale();
    let exists = |name: &str| std::path::Path::new("/run/netns").join(name).exists();
    let (stale_gone, live_kept, foreign_kept) = (!exists(&stale), exists(&live), exists(&foreign));
    for name in [&stale, &live, &foreign] {
        if exists(name) {
            let _ = std::process::Command::new("ip")
                .args(["netns", "del", name])
                .status();
        }
    }
    assert!(removed.unwrap().contains(&stale));
    assert!(stale_gone && live_kept && foreign_kept);
    assert!(sandbox.path().unwrap().exists(), "our own sandbox survives");
}

#[test]
fn two_hosts_exchange_udp_tcp_and_echo_over_both_families() {
    let hosts = sandbox_or_skip!(TwoHosts::new());
    let link = hosts
        .client
        .exec(&["ip", "-o", "link", "show", "veth0"])
        .unwrap();
    assert!(link.contains("link/ether 02:00:00:00:00:01"), "{link}");
    let link = hosts
        .server
        .exec(&["ip", "-o", "link", "show", "veth0"])
        .unwrap();
    assert!(link.contains("link/ether 02:00:00:00:00:02"), "{link}");
    for family in [Family::Ipv4, Family::Ipv6] {
        let server_ip = TwoHosts::SERVER.addr(family);
        let client_ip = TwoHosts::CLIENT.addr(family);
        let receiver = UdpReceiver::bind(&hosts.server, (server_ip, 5000).into()).unwrap();
        traffic::udp_send(&hosts.client, (server_ip, 5000).into(), b"udp").unwrap();
        let (data, from) = receiver.recv(DEFAULT_TIMEOUT).unwrap();
        assert_eq!((data.as_slice(), from.ip()), (&b"udp"[..], client_ip));

        let server = TcpServer::bind(&hosts.server, (server_ip, 0).into()).unwrap();
        let to = server.local_addr();
        let sender = {
            let client = &hosts.client;
            std::thread::scope(|s| {
                let sent = s.spawn(|| traffic::tcp_send(client, to, b"tcp data", DEFAULT_TIMEOUT));
                let received = server.accept_read(DEFAULT_TIMEOUT);
                (sent.join().unwrap(), received)
            })
        };
        sender.0.unwrap();
        let (data, from) = sender.1.unwrap();
        assert_eq!((data.as_slice(), from.ip()), (&b"tcp data"[..], client_ip));

        traffic::ping(&hosts.client, server_ip, DEFAULT_TIMEOUT).unwrap();
        traffic::ping(&hosts.server, client_ip, DEFAULT_TIMEOUT).unwrap();
    }
}

#[test]
fn waits_are_bounded() {
    let hosts = sandbox_or_skip!(TwoHosts::new());
    let started = std::time::Instant::now();
    let receiver = UdpReceiver::bind(&hosts.server, (TwoHosts::SERVER.ipv4, 0).into()).unwrap();
    assert!(matches!(receiver.recv(ABSENCE), Err(Error::Timeout { .. })));
    // Nobody listens: TCP is refused at once, an echo to an absent address times out.
    let refused = traffic::tcp_send(
        &hosts.client,
        (TwoHosts::SERVER.ipv4, 1).into(),
        b"x",
        DEFAULT_TIMEOUT,
    );
    assert!(matches!(refused, Err(Error::Io { .. })), "{refused:?}");
    let absent = traffic::ping(&hosts.client, Ipv4Addr::new(198, 18, 0, 99).into(), ABSENCE);
    assert!(matches!(absent, Err(Error::Timeout { .. })), "{absent:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn routed_topology_forwards_and_hooks_see_it() {
    let net = sandbox_or_skip!(Routed::new());
    require!(Feature::IptablesNflog, Feature::Ip6tablesNflog);
    for family in [Family::Ipv4, Family::Ipv6] {
        let server_ip = Routed::SERVER.addr(family);
        traffic::ping(&net.client, server_ip, DEFAULT_TIMEOUT).unwrap();

        // Log the forwarded datagram at PREROUTING, FORWARD and POSTROUTING in the router, one
        // group (and inbox) per hook.
        let handle = net.router.run(LogHandle::open).unwrap();
        let hooks = [
            (Table::Raw, Hook::Prerouting),
            (Table::Filter, Hook::Forward),
            (Table::Mangle, Hook::Postrouting),
        ];
        let inboxes: [RefCell<VecDeque<_>>; 3] = Default::default();
        let mut groups = Vec::new();
        for (n, ((table, hook), inbox)) in hooks.into_iter().zip(&inboxes).enumerate() {
            let number = 20 + n as u16 + if family == Family::Ipv6 { 10 } else { 0 };
            let mut group = handle.bind_group(number).unwrap();
            group.set_mode(CopyMode::Packet, 0xffff).unwrap();
            group
                .set_callback(|logged| inbox.borrow_mut().push_back(logged.to_owned()))
                .unwrap();
            Rule::log(number)
                .family(family)
                .table(table)
                .hook(hook)
                .protocol(Protocol::Udp)
                .dport(6000)
                .prefix(hook_name(hook))
                .apply(&net.router)
                .unwrap();
            groups.push(group);
        }
        let receiver = UdpReceiver::bind(&net.server, (server_ip, 6000).into()).unwrap();
        traffic::udp_send(&net.client, (server_ip, 6000).into(), b"routed").unwrap();
        let (data, from) = receiver.recv(DEFAULT_TIMEOUT).unwrap();
        assert_eq!(data, b"routed");
        assert_eq!(from.ip(), Routed::CLIENT.addr(family));
        for ((_, hook), inbox) in hooks.into_iter().zip(&inboxes) {
            let logged = serve::next(&handle, inbox, DEFAULT_TIMEOUT).unwrap();
            let expected = match hook {
                Hook::Prerouting => NfHook::PreRouting,
                Hook::Forward => NfHook::Forward,
                _ => NfHook::PostRouting,
            };
            assert_eq!(logged.hook, Some(expected));
            assert_eq!(logged.prefix.as_deref(), Some(hook_name(hook).as_bytes()));
            assert_eq!(
                logged.hw_protocol,
                Some(if family == Family::Ipv4 {
                    0x0800
                } else {
                    0x86dd
                })
            );
            assert!(logged.payload.unwrap().ends_with(b"routed"));
        }
        drop(groups);
    }
}

fn hook_name(hook: Hook) -> &'static str {
    match hook {
        Hook::Prerouting => "pre",
        Hook::Input => "in",
        Hook::Forward => "fwd",
        Hook::Output => "out",
        Hook::Postrouting => "post",
    }
}

#[test]
fn nfqueue_without_listener_drops_unless_bypass() {
    let sandbox = sandbox_or_skip!();
    require!(Feature::IptablesNfqueue, Feature::Ip6tablesNfqueue);
    for family in [Family::Ipv4, Family::Ipv6] {
        Rule::queue(3)
            .family(family)
            .protocol(Protocol::Udp)
            .dport(7001)
            .apply(&sandbox)
            .unwrap();
        Rule::queue(4)
            .family(family)
            .protocol(Protocol::Udp)
            .dport(7002)
            .bypass()
            .apply(&sandbox)
            .unwrap();
        let dropped = UdpReceiver::bind(&sandbox, lo(family, 7001)).unwrap();
        let bypassed = UdpReceiver::bind(&sandbox, lo(family, 7002)).unwrap();
        traffic::udp_send(&sandbox, lo(family, 7001), b"dropped").unwrap();
        traffic::udp_send(&sandbox, lo(family, 7002), b"bypassed").unwrap();
        assert_eq!(bypassed.recv(DEFAULT_TIMEOUT).unwrap().0, b"bypassed");
        assert!(matches!(dropped.recv(ABSENCE), Err(Error::Timeout { .. })));
    }
}

#[test]
fn bound_queue_shows_in_procfs_and_receives_the_packet() {
    let hosts = sandbox_or_skip!(TwoHosts::new());
    require!(Feature::IptablesNfqueue, Feature::Procfs);
    assert_eq!(procfs::queue_row(&hosts.server, 7).unwrap(), None);
    let handle = hosts.server.run(QueueHandle::open).unwrap();
    let inbox = RefCell::new(VecDeque::new());
    let queue = handle
        .create_queue(7, |msg| inbox.borrow_mut().push_back(msg.to_owned()))
        .unwrap();
    queue.set_mode(CopyMode::Packet, 4096).unwrap();
    let row = procfs::queue_row(&hosts.server, 7)
        .unwrap()
        .expect("row for bound queue");
    assert_eq!(
        (row.copy_mode, row.copy_range, row.queue_total),
        (2, 4096, 0)
    );
    assert_ne!(row.peer_portid, 0);
    // The file is per namespace: the client has no queue 7.
    assert_eq!(procfs::queue_row(&hosts.client, 7).unwrap(), None);

    Rule::queue(7)
        .protocol(Protocol::Udp)
        .dport(5353)
        .destination(TwoHosts::SERVER.ipv4.into())
        .apply(&hosts.server)
        .unwrap();
    let to: SocketAddr = (TwoHosts::SERVER.ipv4, 5353).into();
    let receiver = UdpReceiver::bind(&hosts.server, to).unwrap();
    traffic::udp_send(&hosts.client, to, b"queued").unwrap();
    let packet = serve::next(&handle, &inbox, DEFAULT_TIMEOUT).unwrap();
    assert_eq!(
        (packet.hw_protocol, packet.hook, packet.queue),
        (0x0800, NfHook::LocalIn, 7)
    );
    assert!(packet.payload.unwrap().ends_with(b"queued"));
    let waiting = procfs::queue_row(&hosts.server, 7).unwrap().unwrap();
    assert_eq!(waiting.queue_total, 1, "the packet waits for a verdict");
    assert_eq!(waiting.id_sequence, packet.id);
    // Held in the queue, so not delivered yet.
    assert!(matches!(receiver.recv(ABSENCE), Err(Error::Timeout { .. })));
    queue
        .set_verdict(packet.id, Verdict::Accept, None, None)
        .unwrap();
    assert_eq!(receiver.recv(DEFAULT_TIMEOUT).unwrap().0, b"queued");
    assert_eq!(
        procfs::queue_row(&hosts.server, 7)
            .unwrap()
            .unwrap()
            .queue_total,
        0
    );

    // A dropped verdict really drops.
    traffic::udp_send(&hosts.client, to, b"second").unwrap();
    let packet = serve::next(&handle, &inbox, DEFAULT_TIMEOUT).unwrap();
    queue
        .set_verdict(packet.id, Verdict::Drop, None, None)
        .unwrap();
    assert!(matches!(receiver.recv(ABSENCE), Err(Error::Timeout { .. })));
    drop(queue);
    assert_eq!(
        procfs::queue_row(&hosts.server, 7).unwrap(),
        None,
        "destroying the queue unbinds"
    );

    // The kernel caps the copy range at 0xffff minus an attribute header.
    let wide = handle.create_queue(8, |_| {}).unwrap();
    wide.set_mode(CopyMode::Packet, 0xffff).unwrap();
    let row = procfs::queue_row(&hosts.server, 8).unwrap().unwrap();
    assert_eq!(row.copy_range, 65531);
}

#[test]
fn probes_report() {
    let _sandbox = sandbox_or_skip!();
    for feature in Feature::ALL {
        match probe::probes().result(feature) {
            Ok(()) => eprintln!("probe {feature}: yes"),
            Err(reason) => eprintln!("probe {feature}: no ({reason})"),
        }
    }
    // The targets every supported kernel has, through iptables-nft or legacy.
    assert!(probe::supports(Feature::IptablesNflog) || probe::supports(Feature::NftLog));
}

#[test]
fn queue_balance_and_cpu_fanout_spread_over_the_range() {
    let sandbox = sandbox_or_skip!();
    require!(Feature::IptablesNfqueue);
    let handle = sandbox.run(QueueHandle::open).unwrap();
    let arrived = RefCell::new(VecDeque::new());
    let queues: Vec<_> = (10..=11)
        .map(|n| {
            let queue = handle
                .create_queue(n, |msg| {
                    msg.set_verdict(Verdict::Accept, None, None).unwrap();
                    arrived.borrow_mut().push_back(msg.queue());
                })
                .unwrap();
            queue.set_mode(CopyMode::Meta, 0).unwrap();
            queue
        })
        .collect();
    Rule::queue_balance(10, 11)
        .hook(Hook::Output)
        .protocol(Protocol::Udp)
        .dport(7100)
        .apply(&sandbox)
        .unwrap();
    Rule::queue_balance(10, 11)
        .hook(Hook::Output)
        .protocol(Protocol::Udp)
        .dport(7101)
        .cpu_fanout()
        .apply(&sandbox)
        .unwrap();
    let listing = sandbox.exec(&["iptables", "-S", "OUTPUT"]).unwrap();
    assert!(listing.contains("--queue-balance 10:11"), "{listing}");
    assert!(listing.contains("--queue-cpu-fanout"), "{listing}");
    let mut seen = [0usize; 2];
    for port in [7100u16, 7101] {
        for source_port in 40000..40008 {
            traffic::udp_send_from(
                &sandbox,
                lo(Family::Ipv4, source_port),
                lo(Family::Ipv4, port),
                b"x",
            )
            .unwrap();
            let queue = serve::next(&handle, &arrived, DEFAULT_TIMEOUT)
                .expect("the packet landed on queue 10 or 11");
            assert!((10..=11).contains(&queue), "queue {queue}");
            seen[usize::from(queue - 10)] += 1;
        }
    }
    assert_eq!(seen[0] + seen[1], 16);
    assert!(arrived.borrow().is_empty(), "each packet was queued once");
    drop(queues);
}

#[test]
fn nflog_rules_deliver_prefix_and_honour_size_with_every_backend() {
    let sandbox = sandbox_or_skip!();
    for (backend, feature, group) in [
        (Backend::Iptables, Feature::IptablesNflog, 40u16),
        (Backend::Nft, Feature::NftLog, 41),
    ] {
        if let Err(error) = probe::require(feature) {
            eprintln!("SKIP part {backend}: {}", error.skip_reason().unwrap());
            continue;
        }
        let handle = sandbox.run(LogHandle::open).unwrap();
        let inbox = RefCell::new(VecDeque::new());
        let mut bound = handle.bind_group(group).unwrap();
        bound.set_mode(CopyMode::Packet, 4096).unwrap();
        bound
            .set_callback(|logged| inbox.borrow_mut().push_back(logged.to_owned()))
            .unwrap();
        let port = 7200 + group;
        let used = Rule::log(group)
            .hook(Hook::Output)
            .protocol(Protocol::Udp)
            .dport(port)
            .prefix("tk")
            .size(28)
            .threshold(1)
            .backend(backend)
            .apply(&sandbox)
            .unwrap();
        assert_eq!(used, backend);
        traffic::udp_send(&sandbox, lo(Family::Ipv4, port), &[0xaa; 100]).unwrap();
        let logged = serve::next(&handle, &inbox, DEFAULT_TIMEOUT).unwrap();
        assert_eq!(logged.prefix.as_deref(), Some(&b"tk"[..]));
        assert_eq!(
            logged.payload.map(|p| p.len()),
            Some(28),
            "snaplen/--nflog-size cuts the copy"
        );
        if probe::supports(Feature::Procfs) {
            let row = procfs::log_row(&sandbox, group).unwrap().unwrap();
            assert_eq!((row.copy_mode, row.copy_range), (2, 4096));
        }
    }
}

#[test]
fn nflog_threshold_batches_packets() {
    let sandbox = sandbox_or_skip!();
    require!(Feature::Ip6tablesNflog);
    let handle = sandbox.run(LogHandle::open).unwrap();
    let inbox = RefCell::new(VecDeque::new());
    let mut group = handle.bind_group(50).unwrap();
    group.set_mode(CopyMode::Packet, 0xffff).unwrap();
    group
        .set_callback(|logged| inbox.borrow_mut().push_back(logged.to_owned()))
        .unwrap();
    Rule::log(50)
        .family(Family::Ipv6)
        .hook(Hook::Input)
        .protocol(Protocol::Udp)
        .dport(7300)
        .threshold(3)
        .apply(&sandbox)
        .unwrap();
    traffic::udp_send(&sandbox, lo(Family::Ipv6, 7300), b"1").unwrap();
    traffic::udp_send(&sandbox, lo(Family::Ipv6, 7300), b"2").unwrap();
    // Two packets wait in the kernel for the third (the default flush timeout is 1 s).
    assert_eq!(
        serve::during(&handle, Duration::from_millis(300)).unwrap(),
        0
    );
    assert!(inbox.borrow().is_empty());
    traffic::udp_send(&sandbox, lo(Family::Ipv6, 7300), b"3").unwrap();
    for expected in [b"1", b"2", b"3"] {
        let logged = serve::next(&handle, &inbox, Duration::from_millis(300)).unwrap();
        assert_eq!(logged.hook, Some(NfHook::LocalIn));
        assert!(logged.payload.unwrap().ends_with(expected));
    }
}

#[test]
fn nft_queue_backend_matches_the_probe() {
    let sandbox = sandbox_or_skip!();
    let applied = Rule::queue(1)
        .backend(Backend::Nft)
        .bypass()
        .apply(&sandbox);
    if probe::supports(Feature::NftQueue) {
        applied.unwrap();
        let ruleset = sandbox.exec(&["nft", "list", "ruleset"]).unwrap();
        assert!(ruleset.contains("queue"), "{ruleset}");
    } else {
        let error = applied.unwrap_err();
        assert!(error.is_skip(), "{error}");
        eprintln!("nft queue: {error}");
        // Auto falls back to iptables for NFQUEUE.
        if probe::supports(Feature::IptablesNfqueue) {
            assert_eq!(Rule::queue(1).apply(&sandbox).unwrap(), Backend::Iptables);
        }
    }
}

#[test]
fn queue_conntrack_probe_is_consistent() {
    let _sandbox = sandbox_or_skip!();
    let probed = probe::require(Feature::QueueConntrack);
    // The same question asked directly through the safe layer, in another namespace.
    let direct = _sandbox.run(|| {
        let handle = QueueHandle::open()?;
        let queue = handle.create_queue(0, |_| {})?;
        queue.set_flags(QueueFlags::CONNTRACK, QueueFlags::CONNTRACK)
    });
    assert_eq!(probed.is_ok(), direct.is_ok(), "{probed:?} vs {direct:?}");
    if let Err(error) = direct {
        assert!(
            matches!(error, netfilter_safe::Error::Unsupported { .. }),
            "only a missing glue fails the flag: {error}"
        );
        let probed = probed.unwrap_err();
        assert!(
            probed.is_skip(),
            "a missing glue is a skip, not a failure: {probed}"
        );
    }
}

#[test]
fn require_macro_skips_missing_features() {
    let _sandbox = sandbox_or_skip!();
    require!(Feature::NftQueue);
    // Reached only where the kernel has nft_queue.
    assert!(probe::supports(Feature::NftQueue));
}

#[test]
fn rules_for_ipv6_hit_icmpv6_echo() {
    let hosts = sandbox_or_skip!(TwoHosts::new());
    require!(Feature::Ip6tablesNfqueue);
    // Without a listener and without bypass, echo requests to the server vanish.
    Rule::queue(9)
        .family(Family::Ipv6)
        .protocol(Protocol::Icmp)
        .source(IpAddr::V6(TwoHosts::CLIENT.ipv6))
        .apply(&hosts.server)
        .unwrap();
    let lost = traffic::ping(&hosts.client, TwoHosts::SERVER.ipv6.into(), ABSENCE);
    assert!(matches!(lost, Err(Error::Timeout { .. })), "{lost:?}");
    // IPv4 is unaffected.
    traffic::ping(&hosts.client, TwoHosts::SERVER.ipv4.into(), DEFAULT_TIMEOUT).unwrap();
}
