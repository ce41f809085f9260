//! The timestamping switch, in its own binary: it changes a machine-wide setting while it
//! lives.

use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

use netfilter::Queue;
use netfilter_testkit::probe::Feature;
use netfilter_testkit::rules::{Protocol, Rule};
use netfilter_testkit::traffic::{self, DEFAULT_TIMEOUT, Timestamping, UdpReceiver};
use netfilter_testkit::{TwoHosts, require, sandbox_or_skip};

#[test]
fn queued_packets_are_stamped_while_the_switch_is_on() {
    let hosts = sandbox_or_skip!(TwoHosts::new());
    require!(Feature::IptablesNfqueue);
    let port = 7600;
    let to: SocketAddr = (TwoHosts::SERVER.ipv4, port).into();
    Rule::queue(60)
        .protocol(Protocol::Udp)
        .dport(port)
        .apply(&hosts.server)
        .unwrap();
    let mut queue = hosts.server.run(|| Queue::builder(60).open()).unwrap();
    let receiver = UdpReceiver::bind(&hosts.server, to).unwrap();
    let stamps = Timestamping::enable(&hosts.server).unwrap();
    for n in 0..3u8 {
        let sent = SystemTime::now();
        traffic::udp_send(&hosts.client, to, &[n]).unwrap();
        let packet = queue
            .recv_timeout(DEFAULT_TIMEOUT)
            .unwrap()
            .expect("queued");
        let stamp = packet.timestamp().expect("stamped while the switch is on");
        let skew = stamp
            .duration_since(sent)
            .unwrap_or_else(|early| early.duration());
        assert!(
            skew < Duration::from_secs(2),
            "stamp {stamp:?}, sent {sent:?}"
        );
        packet.accept().unwrap();
        assert_eq!(receiver.recv(DEFAULT_TIMEOUT).unwrap().0, [n]);
    }
    drop(stamps);
}
