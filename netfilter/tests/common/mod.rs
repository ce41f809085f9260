//! Helpers shared by the integration tests of `netfilter`: each test binary declares
//! `mod common;` and uses what it needs.
//!
//! Rules match UDP to one port on OUTPUT of a [`Sandbox`], and handles are opened inside the
//! sandbox's namespace, so nothing here touches the host's namespace. Skipping (no root, no
//! namespace) stays with `netfilter_testkit::sandbox_or_skip!` in each test.
//!
//! The queue and the log group each have an `open` and a `next`, in [`queue`] and [`log`]: a
//! test file imports the pair for the handle it tests.

// Every test binary compiles its own copy of this module and uses only part of it: without this,
// each binary would warn about (and `-D warnings` would fail on) the helpers it does not use.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use netfilter::Error;
use netfilter_testkit::rules::{Hook, Protocol, Rule};
use netfilter_testkit::{Sandbox, procfs};

/// How long a test waits for something that should come.
pub const WAIT: Duration = Duration::from_secs(5);

/// `127.0.0.1:port`.
pub fn local(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// `rule` narrowed to UDP to `port` on OUTPUT.
fn udp_output(rule: Rule, port: u16) -> Rule {
    rule.hook(Hook::Output).protocol(Protocol::Udp).dport(port)
}

/// Queues UDP to `port` on OUTPUT of `sandbox` into queue `num`.
pub fn queue_rule(sandbox: &Sandbox, num: u16, port: u16) {
    udp_output(Rule::queue(num), port)
        .apply(sandbox)
        .expect("NFQUEUE rule");
}

/// Logs UDP to `port` on OUTPUT of `sandbox` to `group` with `prefix`.
pub fn log_rule(sandbox: &Sandbox, group: u16, port: u16, prefix: &str) {
    udp_output(Rule::log(group), port)
        .prefix(prefix)
        .apply(sandbox)
        .expect("NFLOG rule");
}

/// Logs UDP to `port` on OUTPUT of `sandbox` to `group`, with no prefix.
pub fn log_rule_without_prefix(sandbox: &Sandbox, group: u16, port: u16) {
    udp_output(Rule::log(group), port)
        .apply(sandbox)
        .expect("NFLOG rule");
}

/// The procfs row of queue `num` in `sandbox`, which must be bound.
pub fn queue_row(sandbox: &Sandbox, num: u16) -> procfs::QueueRow {
    procfs::queue_row(sandbox, num)
        .expect("procfs")
        .expect("the queue's row")
}

/// The UDP payload of the IPv4 packet `payload` (a queued or logged packet's payload).
pub fn udp_data(payload: &[u8]) -> Vec<u8> {
    let ihl = usize::from(payload[0] & 0x0f) * 4;
    payload[ihl + 8..].to_vec()
}

/// What an [`Error::OutOfRange`] says is out of range; `None` for any other error.
pub fn out_of_range(err: &Error) -> Option<&'static str> {
    match err {
        Error::OutOfRange { what, .. } => Some(what),
        _ => None,
    }
}

/// Queues opened in a sandbox and the packets they receive.
pub mod queue {
    use netfilter::{Packet, Queue, QueueBuilder};
    use netfilter_testkit::Sandbox;

    use super::WAIT;

    /// Opens a queue inside `sandbox` (the socket stays there when the queue moves out).
    pub fn open(sandbox: &Sandbox, builder: impl FnOnce() -> QueueBuilder + Send) -> Queue {
        sandbox.run(|| builder().open()).expect("open queue")
    }

    /// The next packet of `queue`, which must come within [`WAIT`].
    pub fn next(queue: &mut Queue) -> Packet {
        queue
            .recv_timeout(WAIT)
            .expect("recv")
            .expect("a packet within the wait")
    }
}

/// Log groups opened in a sandbox and the packets they receive.
pub mod log {
    use netfilter::{LogBuilder, LogGroup, LogPacket};
    use netfilter_testkit::Sandbox;

    use super::WAIT;

    /// Opens log groups inside `sandbox` (the socket stays there when the value moves out).
    pub fn open(sandbox: &Sandbox, builder: impl FnOnce() -> LogBuilder + Send) -> LogGroup {
        sandbox.run(|| builder().open()).expect("open log group")
    }

    /// The next packet of `log`, which must come within [`WAIT`].
    pub fn next(log: &mut LogGroup) -> LogPacket {
        log.recv_timeout(WAIT)
            .expect("recv")
            .expect("a packet within the wait")
    }
}
