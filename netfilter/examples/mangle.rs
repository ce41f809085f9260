//! Payload mangling with checksum fix-up: rewrite the text of UDP datagrams on their way.
//!
//! ```sh
//! sudo iptables -I OUTPUT -p udp --dport 5000 -j NFQUEUE --queue-num 4
//! sudo cargo run -p netfilter --example mangle -- 4
//! echo 'hello' > /dev/udp/127.0.0.1/5000   # arrives as 'HELLO'
//! ```
//!
//! The replacement may be longer or shorter: the IP and UDP lengths and checksums are fixed
//! by [`netfilter::payload::replace_transport_payload`], which also knows the kernel's
//! offloaded-checksum case (`CSUMNOTREADY`).

use netfilter::Queue;
use netfilter::payload::{Ip, Transport, replace_transport_payload};

fn main() -> Result<(), netfilter::Error> {
    let num = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(4);
    let mut queue = Queue::builder(num).open()?;
    queue.run(|mut packet| {
        let text = match Ip::parse(packet.payload()).map(|ip| ip.transport()) {
            Ok(Transport::Udp(udp)) => udp.payload().to_ascii_uppercase(),
            // Not UDP, or cut short: let it through unchanged.
            _ => return packet.accept(),
        };
        let rewritten = replace_transport_payload(packet.payload(), packet.skb_info(), &text)
            .and_then(|rewritten| packet.set_payload(rewritten));
        if let Err(err) = rewritten {
            eprintln!("packet {} left as it was: {err}", packet.id());
        }
        packet.accept()
    })
}
