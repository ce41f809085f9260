//! Rootless mode, for real: `rootless_workout` builds topologies, rules and traffic through
//! `sandbox_or_skip!`. Run as an unprivileged user, it re-executes itself in a new user
//! namespace. `rootless_workout_as_nobody` (root only) proves that path by running the first
//! test as `nobody` with `setpriv`.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::process::Command;

use netfilter_safe::CopyMode;
use netfilter_safe::log::LogHandle;
use netfilter_safe::queue::{QueueHandle, Verdict};
use netfilter_testkit::probe::Feature;
use netfilter_testkit::rules::{Family, Protocol, Rule};
use netfilter_testkit::traffic::{self, DEFAULT_TIMEOUT, UdpReceiver};
use netfilter_testkit::{TwoHosts, require, sandbox_or_skip, serve};

const MARK: &str = "ROOTLESS-WORKOUT-RAN";

fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

#[test]
fn rootless_workout() {
    let hosts = sandbox_or_skip!(TwoHosts::new());
    require!(Feature::IptablesNfqueue, Feature::IptablesNflog);
    let uid_map = std::fs::read_to_string("/proc/self/uid_map").unwrap();
    for family in [Family::Ipv4, Family::Ipv6] {
        let to: SocketAddr = (TwoHosts::SERVER.addr(family), 9000).into();
        let receiver = UdpReceiver::bind(&hosts.server, to).unwrap();
        let log_handle = hosts.server.run(LogHandle::open).unwrap();
        let logged = RefCell::new(VecDeque::new());
        let mut log = log_handle.bind_group(1).unwrap();
        log.set_mode(CopyMode::Packet, 512).unwrap();
        log.set_callback(|p| logged.borrow_mut().push_back(p.to_owned()))
            .unwrap();
        let queue_handle = hosts.server.run(QueueHandle::open).unwrap();
        let queued = RefCell::new(VecDeque::new());
        let queue = queue_handle
            .create_queue(2, |msg| queued.borrow_mut().push_back(msg.id()))
            .unwrap();
        queue.set_mode(CopyMode::Packet, 512).unwrap();
        Rule::log(1)
            .family(family)
            .protocol(Protocol::Udp)
            .dport(9000)
            .prefix("rootless")
            .apply(&hosts.server)
            .unwrap();
        Rule::queue(2)
            .family(family)
            .protocol(Protocol::Udp)
            .dport(9000)
            .apply(&hosts.server)
            .unwrap();
        traffic::udp_send(&hosts.client, to, b"hi").unwrap();
        assert_eq!(
            serve::next(&log_handle, &logged, DEFAULT_TIMEOUT)
                .unwrap()
                .prefix
                .as_deref(),
            Some(&b"rootless"[..])
        );
        let id = serve::next(&queue_handle, &queued, DEFAULT_TIMEOUT).unwrap();
        queue.set_verdict(id, Verdict::Accept, None, None).unwrap();
        assert_eq!(receiver.recv(DEFAULT_TIMEOUT).unwrap().0, b"hi");
        traffic::ping(
            &hosts.client,
            TwoHosts::SERVER.addr(family),
            DEFAULT_TIMEOUT,
        )
        .unwrap();
        drop((log, queue));
    }
    eprintln!(
        "{MARK} rerun={} euid={} uid_map={} sandbox={}",
        netfilter_testkit::rootless::is_rerun(),
        euid(),
        uid_map.split_whitespace().collect::<Vec<_>>().join(" "),
        hosts.client.name()
    );
}

#[test]
fn rootless_workout_as_nobody() {
    if euid() != 0 {
        eprintln!(
            "SKIP rootless_workout_as_nobody: drops from root to nobody; as non-root, \
             rootless_workout is itself the rootless test"
        );
        return;
    }
    if netfilter_testkit::rootless::is_rerun() {
        return; // already inside a user namespace
    }
    let exe = std::env::current_exe().unwrap();
    let output = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(&exe)
        .args([
            "rootless_workout",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .current_dir("/")
        .env("HOME", "/")
        .env_remove(netfilter_testkit::rootless::DISABLE_ENV)
        .output();
    let output = match output {
        Ok(output) => output,
        Err(error) => {
            eprintln!("SKIP rootless_workout_as_nobody: cannot run setpriv: {error}");
            return;
        }
    };
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    if !text.contains(MARK) && text.contains("SKIP rootless_workout") {
        eprintln!("SKIP rootless_workout_as_nobody: the machine refuses rootless mode:\n{text}");
        return;
    }
    assert!(output.status.success(), "{text}");
    assert!(text.contains("in a user namespace"), "{text}");
    // Inside: uid 0 mapped to nobody, in an anonymous sandbox.
    assert!(
        text.contains(&format!("{MARK} rerun=true euid=0 uid_map=0 65534 1")),
        "{text}"
    );
}
