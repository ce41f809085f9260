//! python-netfilterqueue's classic, ported: print every queued packet and accept it.
//!
//! ```sh
//! sudo iptables -I INPUT -p udp --dport 5000 -j NFQUEUE --queue-num 1
//! sudo cargo run -p netfilter --example print_and_accept -- 1 [count]
//! ```
//!
//! The Python original:
//!
//! ```python
//! from netfilterqueue import NetfilterQueue
//! def print_and_accept(pkt):
//!     print(pkt)
//!     pkt.accept()
//! nfqueue = NetfilterQueue()
//! nfqueue.bind(1, print_and_accept)
//! nfqueue.run()
//! ```

use netfilter::Queue;
use netfilter::payload::Ip;

fn main() -> Result<(), netfilter::Error> {
    let mut args = std::env::args().skip(1);
    let num = args.next().and_then(|a| a.parse().ok()).unwrap_or(1);
    // Stop after `count` packets (the demo uses it); run forever without.
    let mut left: Option<u64> = args.next().and_then(|a| a.parse().ok());

    let mut queue = Queue::builder(num).open()?;
    eprintln!("print_and_accept: serving queue {num}");
    for packet in queue.incoming() {
        let packet = packet?;
        let what = match Ip::parse(packet.payload()) {
            Ok(ip) => match ip.ports() {
                Some((sport, dport)) => format!(
                    "{}:{sport} -> {}:{dport} proto {}",
                    ip.source(),
                    ip.destination(),
                    ip.protocol()
                ),
                None => format!(
                    "{} -> {} proto {}",
                    ip.source(),
                    ip.destination(),
                    ip.protocol()
                ),
            },
            Err(_) => format!("{} bytes", packet.payload().len()),
        };
        println!("packet {} on {:?}: {what}", packet.id(), packet.hook());
        packet.accept()?;
        if let Some(n) = left.as_mut() {
            *n -= 1;
            if *n == 0 {
                break;
            }
        }
    }
    Ok(())
}
