//! The bridge topology and the veth helper on the real kernel: a bridged packet's physical
//! devices, seen on a queued and on a logged packet through the `netfilter` crate.

use std::net::SocketAddr;

use netfilter::{LogGroup, Queue};
use netfilter_testkit::probe::Feature;
use netfilter_testkit::rules::{Hook, Protocol, Rule};
use netfilter_testkit::topology::veth;
use netfilter_testkit::traffic::{self, DEFAULT_TIMEOUT, UdpReceiver};
use netfilter_testkit::{Bridged, Sandbox, require, sandbox_or_skip};

#[test]
fn bridge_forwards_between_its_ports() {
    let net = sandbox_or_skip!(Bridged::new());
    let links = net
        .bridge
        .exec(&["ip", "-o", "link", "show", "master", "br0"])
        .unwrap();
    assert!(
        links.contains("veth0@") && links.contains("veth1@"),
        "{links}"
    );
    for family in [
        netfilter_testkit::rules::Family::Ipv4,
        netfilter_testkit::rules::Family::Ipv6,
    ] {
        traffic::ping(&net.left, Bridged::RIGHT.addr(family), DEFAULT_TIMEOUT).unwrap();
        traffic::ping(&net.right, Bridged::LEFT.addr(family), DEFAULT_TIMEOUT).unwrap();
    }
}

#[test]
fn bridged_packet_shows_its_physical_ports_when_queued_and_logged() {
    let net = sandbox_or_skip!(Bridged::new());
    require!(
        Feature::BrNetfilter,
        Feature::IptablesNfqueue,
        Feature::IptablesNflog
    );
    let port = 7500;
    let to: SocketAddr = (Bridged::RIGHT.ipv4, port).into();
    // NFLOG goes on to the next rule; NFQUEUE holds the packet for our verdict.
    let logging = Rule::log(1)
        .hook(Hook::Forward)
        .protocol(Protocol::Udp)
        .dport(port)
        .install(&net.bridge)
        .unwrap();
    let queueing = Rule::queue(2)
        .hook(Hook::Forward)
        .protocol(Protocol::Udp)
        .dport(port)
        .install(&net.bridge)
        .unwrap();
    let mut log = net.bridge.run(|| LogGroup::builder(1).open()).unwrap();
    let mut queue = net.bridge.run(|| Queue::builder(2).open()).unwrap();
    let receiver = UdpReceiver::bind(&net.right, to).unwrap();
    traffic::udp_send(&net.left, to, b"bridged").unwrap();

    let packet = queue
        .recv_timeout(DEFAULT_TIMEOUT)
        .unwrap()
        .expect("queued");
    let name = |index: Option<u32>| index.and_then(|i| queue.interface_name(i));
    assert_eq!(packet.hook(), netfilter::Hook::Forward);
    assert_eq!(
        name(packet.physindev()).as_deref(),
        Some(Bridged::LEFT_PORT)
    );
    assert_eq!(
        name(packet.physoutdev()).as_deref(),
        Some(Bridged::RIGHT_PORT)
    );
    assert_eq!(name(packet.indev()).as_deref(), Some(Bridged::BRIDGE));
    assert_eq!(name(packet.outdev()).as_deref(), Some(Bridged::BRIDGE));
    packet.accept().unwrap();
    assert_eq!(receiver.recv(DEFAULT_TIMEOUT).unwrap().0, b"bridged");

    let logged = log.recv_timeout(DEFAULT_TIMEOUT).unwrap().expect("logged");
    let log_name = |index: Option<u32>| index.and_then(|i| log.interface_name(i));
    assert_eq!(
        log_name(logged.physindev()).as_deref(),
        Some(Bridged::LEFT_PORT)
    );
    assert_eq!(
        log_name(logged.physoutdev()).as_deref(),
        Some(Bridged::RIGHT_PORT)
    );
    assert!(logged.payload().ends_with(b"bridged"));
    assert_eq!(logging.counters().unwrap().packets, 1);
    assert_eq!(queueing.counters().unwrap().packets, 1);
}

#[test]
fn veth_joins_two_sandboxes_of_ones_own() {
    let a = sandbox_or_skip!();
    let b = Sandbox::new().unwrap();
    veth(
        &a,
        "up0",
        [0x02, 0, 0, 0, 0x0a, 1],
        &b,
        "down0",
        [0x02, 0, 0, 0, 0x0a, 2],
    )
    .unwrap();
    let shown = a.exec(&["ip", "-o", "link", "show", "up0"]).unwrap();
    assert!(shown.contains("link/ether 02:00:00:00:0a:01"), "{shown}");
    let shown = b.exec(&["ip", "-o", "link", "show", "down0"]).unwrap();
    assert!(shown.contains("link/ether 02:00:00:00:0a:02"), "{shown}");
    for (sandbox, dev, addr) in [
        (&a, "up0", "198.18.10.1/24"),
        (&b, "down0", "198.18.10.2/24"),
    ] {
        sandbox
            .exec(&["ip", "addr", "add", addr, "dev", dev])
            .unwrap();
        sandbox
            .exec(&["ip", "link", "set", "dev", dev, "up"])
            .unwrap();
    }
    let to: SocketAddr = ([198, 18, 10, 2], 7510).into();
    let receiver = UdpReceiver::bind(&b, to).unwrap();
    traffic::udp_send(&a, to, b"over my own link").unwrap();
    assert_eq!(
        receiver.recv(DEFAULT_TIMEOUT).unwrap().0,
        b"over my own link"
    );
    // A name that is taken is refused, and nothing is left in the host's namespace.
    let again = veth(
        &a,
        "up0",
        [0x02, 0, 0, 0, 0x0a, 3],
        &b,
        "down1",
        [0x02, 0, 0, 0, 0x0a, 4],
    );
    assert!(
        matches!(again, Err(netfilter_testkit::Error::Command { .. })),
        "{again:?}"
    );
}
