//! A queue as an async stream on tokio (feature `tokio`).
//!
//! ```sh
//! sudo iptables -I INPUT -p udp --dport 5000 -j NFQUEUE --queue-num 2
//! sudo cargo run -p netfilter --features tokio --example async_queue -- 2
//! ```
//!
//! Each packet's verdict is given by a spawned task after an `await`: packets are owned, so
//! they can wait while the stream goes on.

use std::time::Duration;

use netfilter::Queue;
use netfilter::tokio::AsyncQueue;

fn main() -> Result<(), netfilter::Error> {
    let num = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(2);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|source| netfilter::Error::Io {
            call: "tokio runtime",
            source,
        })?;
    runtime.block_on(async move {
        let mut queue = AsyncQueue::new(Queue::builder(num).open()?)?;
        loop {
            let packet = queue.recv().await?;
            tokio::spawn(async move {
                // Some asynchronous decision, e.g. a lookup.
                tokio::time::sleep(Duration::from_millis(10)).await;
                if let Err(err) = packet.accept() {
                    eprintln!("verdict: {err}");
                }
            });
        }
    })
}
