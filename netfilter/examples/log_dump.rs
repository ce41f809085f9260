//! The libnetfilter_log wrapper's log dump, ported: for each logged packet print the source
//! MAC, IPv4/IPv6 source and destination, and TCP/UDP ports.
//!
//! ```sh
//! sudo iptables -I INPUT -j NFLOG --nflog-group 1 --nflog-prefix in
//! sudo cargo run -p netfilter --example log_dump -- 1 [count]
//! ```

use netfilter::LogGroup;
use netfilter::payload::Ip;

fn mac(bytes: &[u8]) -> String {
    let parts: Vec<String> = bytes.iter().map(|b| format!("{b:02x}")).collect();
    parts.join(":")
}

fn main() -> Result<(), netfilter::Error> {
    let mut args = std::env::args().skip(1);
    let group = args.next().and_then(|a| a.parse().ok()).unwrap_or(1);
    // Stop after `count` packets (the demo uses it); run forever without.
    let mut left: Option<u64> = args.next().and_then(|a| a.parse().ok());

    let mut log = LogGroup::builder(group).open()?;
    eprintln!("log_dump: listening on group {group}");
    for packet in log.incoming() {
        let packet = match packet {
            Ok(packet) => packet,
            // The kernel dropped messages for lack of buffer: say so and go on.
            Err(netfilter::Error::Overrun { lost }) => {
                eprintln!("overrun: {lost:?} messages lost");
                continue;
            }
            Err(err) => return Err(err),
        };
        let from = packet.hw_addr().map_or_else(|| "-".to_string(), mac);
        let addresses = match Ip::parse(packet.payload()) {
            Ok(ip) => match ip.ports() {
                Some((sport, dport)) => {
                    format!("{}:{sport} -> {}:{dport}", ip.source(), ip.destination())
                }
                None => format!("{} -> {}", ip.source(), ip.destination()),
            },
            Err(_) => format!("{} bytes", packet.payload().len()),
        };
        println!(
            "[{}] {:?} mac {from} {addresses}",
            packet.prefix().unwrap_or(""),
            packet.hook()
        );
        if let Some(n) = left.as_mut() {
            *n -= 1;
            if *n == 0 {
                break;
            }
        }
    }
    Ok(())
}
