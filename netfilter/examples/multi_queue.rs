//! Several queues, one thread each: the receiving side of `--queue-balance`.
//!
//! ```sh
//! sudo iptables -I INPUT -p tcp --dport 8080 -j NFQUEUE --queue-balance 0:1
//! sudo cargo run -p netfilter --example multi_queue -- 0 1
//! ```
//!
//! The kernel spreads flows over the queues by hash; each queue gets its own socket and
//! thread, so they never contend. (One socket can also serve a range:
//! `Queue::builder_range(0..=1)`, with one receive loop.)

use std::thread;

use netfilter::Queue;

fn main() -> Result<(), netfilter::Error> {
    let nums: Vec<u16> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let nums = if nums.is_empty() { vec![0, 1] } else { nums };
    let workers: Vec<_> = nums
        .into_iter()
        .map(|num| {
            thread::spawn(move || -> Result<(), netfilter::Error> {
                let mut queue = Queue::builder(num).open()?;
                let mut seen = 0u64;
                queue.run(|packet| {
                    seen += 1;
                    if seen % 1000 == 0 {
                        println!("queue {num}: {seen} packets");
                    }
                    packet.accept()
                })
            })
        })
        .collect();
    for worker in workers {
        match worker.join() {
            Ok(result) => result?,
            Err(_) => eprintln!("a queue thread panicked"),
        }
    }
    Ok(())
}
