//! Serving a queue that lives in another network namespace, from this one.
//!
//! ```sh
//! sudo ip netns add blue
//! sudo ip netns exec blue iptables -I OUTPUT -p udp --dport 5000 -j NFQUEUE --queue-num 3
//! sudo cargo run -p netfilter --example netns -- /run/netns/blue 3
//! sudo ip netns exec blue sh -c 'echo hi > /dev/udp/127.0.0.1/5000'
//! ```
//!
//! Only the socket is created inside the namespace (on a short-lived thread); the program
//! stays where it is.

use netfilter::{Namespace, Queue};

fn main() -> Result<(), netfilter::Error> {
    let mut args = std::env::args().skip(1);
    let path = args.next().unwrap_or_else(|| "/run/netns/blue".into());
    let num = args.next().and_then(|a| a.parse().ok()).unwrap_or(3);
    let mut queue = Queue::builder(num)
        .namespace(Namespace::path(&path))
        .open()?;
    eprintln!("serving queue {num} of {path}");
    queue.run(|packet| {
        println!(
            "packet {} ({} bytes) from {path}",
            packet.id(),
            packet.payload().len()
        );
        packet.accept()
    })
}
