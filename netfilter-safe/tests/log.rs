//! NFLOG through the safe layer against the real kernel, each test in its own namespace.

mod common;

use std::cell::RefCell;
use std::time::{Duration, Instant};

use common::{pump, send_udp, udp_data};
use netfilter_safe::log::{LogFlags, LogHandle};
use netfilter_safe::{CopyMode, Error, Family, Hook};
use netfilter_testkit::rules::{Hook as RuleHook, Protocol, Rule};
use netfilter_testkit::{procfs, sandbox_or_skip};

const WAIT: Duration = Duration::from_secs(5);

/// Logs UDP to `port` on OUTPUT to `group` with `prefix`.
fn log_rule(sandbox: &netfilter_testkit::Sandbox, group: u16, port: u16, prefix: &str) {
    Rule::log(group)
        .hook(RuleHook::Output)
        .protocol(Protocol::Udp)
        .dport(port)
        .prefix(prefix)
        .apply(sandbox)
        .expect("NFLOG rule");
}

#[test]
fn logged_packet_carries_prefix_payload_and_metadata() {
    let sandbox = sandbox_or_skip!();
    log_rule(&sandbox, 21, 9201, "safe-test");
    let packets = sandbox.run(|| {
        let seen = RefCell::new(Vec::new());
        let handle = LogHandle::open().expect("open");
        let mut group = handle.bind_group(21).expect("bind_group");
        group.set_mode(CopyMode::Packet, 0xffff).expect("set_mode");
        group
            .set_callback(|packet| {
                assert!(packet.to_xml(u32::MAX).expect("xml").contains("safe-test"));
                seen.borrow_mut().push(packet.to_owned());
            })
            .expect("set_callback");
        send_udp(9201, b"logged");
        pump(
            &handle,
            WAIT,
            |d| {
                handle.handle_packet(d).expect("dispatch");
            },
            || !seen.borrow().is_empty(),
        );
        drop(group);
        seen.take()
    });
    assert_eq!(packets.len(), 1);
    let p = &packets[0];
    assert_eq!(p.prefix.as_deref(), Some(&b"safe-test"[..]));
    assert_eq!(
        (p.family, p.group, p.hook),
        (Family::Ipv4, 21, Some(Hook::LocalOut))
    );
    assert_eq!(p.hw_protocol, Some(0x0800));
    assert_eq!(udp_data(p.payload.as_deref().expect("payload")), b"logged");
    assert!(
        p.outdev.is_some() && p.indev.is_none(),
        "sent out of lo: {p:?}"
    );
    // SAFETY: geteuid has no preconditions.
    let uid = unsafe { libc::geteuid() };
    assert_eq!(p.uid, Some(uid), "local traffic carries the uid");
    assert_eq!(
        (p.seq, p.seq_global),
        (None, None),
        "no sequence numbers without the flags"
    );
    assert!(p.attributes.is_some(), "the raw message parses");
}

#[test]
fn sequence_numbers_only_with_the_flags() {
    let sandbox = sandbox_or_skip!();
    log_rule(&sandbox, 22, 9202, "seq");
    let seqs = sandbox.run(|| {
        let seen = RefCell::new(Vec::new());
        let handle = LogHandle::open().expect("open");
        let mut group = handle.bind_group(22).expect("bind_group");
        group.set_mode(CopyMode::Meta, 0).expect("set_mode");
        group
            .set_flags(LogFlags::SEQ | LogFlags::SEQ_GLOBAL)
            .expect("set_flags");
        group
            .set_callback(|packet| seen.borrow_mut().push((packet.seq(), packet.seq_global())))
            .expect("set_callback");
        for _ in 0..3 {
            send_udp(9202, b"x");
        }
        pump(
            &handle,
            WAIT,
            |d| {
                handle.handle_packet(d).expect("dispatch");
            },
            || seen.borrow().len() == 3,
        );
        drop(group);
        seen.take()
    });
    let local: Vec<_> = seqs.iter().map(|s| s.0).collect();
    assert_eq!(
        local,
        [Some(0), Some(1), Some(2)],
        "per-group numbers count from 0"
    );
    let global: Vec<u32> = seqs.iter().map(|s| s.1.expect("global seq")).collect();
    assert!(
        global.windows(2).all(|w| w[1] == w[0] + 1),
        "global numbers increase: {global:?}"
    );
}

#[test]
fn qthresh_batches_messages_into_one_datagram() {
    let sandbox = sandbox_or_skip!();
    log_rule(&sandbox, 23, 9203, "batch");
    let (per_datagram, panicked) = sandbox.run(|| {
        let calls = RefCell::new(0);
        let handle = LogHandle::open().expect("open");
        let mut group = handle.bind_group(23).expect("bind_group");
        group.set_mode(CopyMode::Meta, 0).expect("set_mode");
        group.set_qthresh(3).expect("set_qthresh");
        group.set_timeout(1000).expect("set_timeout");
        group
            .set_callback(|_| {
                *calls.borrow_mut() += 1;
                if *calls.borrow() == 1 {
                    panic!("first of the batch");
                }
            })
            .expect("set_callback");
        for _ in 0..3 {
            send_udp(9203, b"x");
        }
        let mut results = Vec::new();
        pump(
            &handle,
            WAIT,
            |d| results.push(handle.handle_packet(d)),
            || *calls.borrow() >= 3,
        );
        drop(group);
        (results, *calls.borrow())
    });
    assert_eq!(per_datagram.len(), 1, "three messages came in one datagram");
    match &per_datagram[0] {
        Err(err @ Error::CallbackPanic(_)) => {
            assert_eq!(err.panic_message().as_deref(), Some("first of the batch"))
        }
        other => panic!("expected the caught panic, got {other:?}"),
    }
    assert_eq!(
        panicked, 3,
        "the two messages after the panic were dispatched too"
    );
}

#[test]
fn timeout_flushes_a_partial_batch() {
    let sandbox = sandbox_or_skip!();
    log_rule(&sandbox, 24, 9204, "flush");
    let (dispatched, waited, qlen) = sandbox.run(|| {
        let handle = LogHandle::open().expect("open");
        let mut group = handle.bind_group(24).expect("bind_group");
        group.set_mode(CopyMode::Meta, 0).expect("set_mode");
        group.set_qthresh(100).expect("set_qthresh");
        group.set_timeout(30).expect("set_timeout 0.3 s");
        group.set_callback(|_| {}).expect("set_callback");
        let start = Instant::now();
        send_udp(9204, b"a");
        send_udp(9204, b"b");
        let qlen = procfs::log_row(&sandbox, 24)
            .expect("procfs")
            .expect("row")
            .qlen;
        let dispatched = RefCell::new(Vec::new());
        pump(
            &handle,
            WAIT,
            |d| {
                dispatched
                    .borrow_mut()
                    .push(handle.handle_packet(d).expect("dispatch"))
            },
            || !dispatched.borrow().is_empty(),
        );
        (dispatched.take(), start.elapsed(), qlen)
    });
    assert_eq!(qlen, 2, "both wait in the kernel's batch");
    assert_eq!(dispatched, [2], "one datagram with both messages");
    assert!(
        waited >= Duration::from_millis(250),
        "sent by the timeout: {waited:?}"
    );
}

#[test]
fn copy_range_truncates_the_payload() {
    let sandbox = sandbox_or_skip!();
    log_rule(&sandbox, 25, 9205, "range");
    let lens = sandbox.run(|| {
        let lens = RefCell::new(Vec::new());
        let handle = LogHandle::open().expect("open");
        let mut group = handle.bind_group(25).expect("bind_group");
        group.set_mode(CopyMode::Packet, 16).expect("set_mode");
        group
            .set_callback(|p| lens.borrow_mut().push(p.payload().map(<[u8]>::len)))
            .expect("set_callback");
        send_udp(9205, &[1u8; 100]);
        pump(
            &handle,
            WAIT,
            |d| {
                handle.handle_packet(d).expect("dispatch");
            },
            || !lens.borrow().is_empty(),
        );
        group.set_mode(CopyMode::Meta, 0).expect("set_mode");
        send_udp(9205, &[1u8; 100]);
        pump(
            &handle,
            WAIT,
            |d| {
                handle.handle_packet(d).expect("dispatch");
            },
            || lens.borrow().len() == 2,
        );
        drop(group);
        lens.take()
    });
    assert_eq!(lens, [Some(16), None]);
}

#[test]
fn a_group_bound_twice_or_elsewhere_is_refused() {
    let sandbox = sandbox_or_skip!();
    sandbox.run(|| {
        let first = LogHandle::open().expect("open");
        let _group = first.bind_group(26).expect("bind_group");
        let err = first.bind_group(26).expect_err("bound twice by one handle");
        assert!(matches!(err, Error::Busy { .. }), "{err}");
        let second = LogHandle::open().expect("open");
        let err = second.bind_group(26).expect_err("taken by another socket");
        assert!(matches!(err, Error::NotPermitted { .. }), "{err}");
    });
}

#[test]
fn group_and_socket_options() {
    let sandbox = sandbox_or_skip!();
    log_rule(&sandbox, 28, 9208, "opts");
    let Some(path) = sandbox.path() else {
        eprintln!("SKIP: the sandbox has no /run/netns path in rootless mode");
        return;
    };
    // Opened from this thread, which stays in the test's own namespace.
    let netns = std::fs::File::open(path).expect("open netns");
    let seen: RefCell<Vec<netfilter_safe::log::OwnedLogData>> = RefCell::new(Vec::new());
    let handle = LogHandle::open_in_netns(std::os::fd::AsFd::as_fd(&netns)).expect("open");
    handle.bind_pf(Family::Ipv4).expect("bind_pf");
    assert_eq!(
        handle.set_recv_buffer_size(1 << 20, true).expect("force"),
        2 << 20
    );
    let mut group = handle.bind_group(28).expect("bind_group");
    group.set_nlbufsiz(1 << 16).expect("set_nlbufsiz");
    group.set_mode(CopyMode::Packet, 64).expect("set_mode");
    group.set_timeout(5).expect("set_timeout");
    let row = procfs::log_row(&sandbox, 28).expect("procfs").expect("row");
    assert_eq!(
        (row.copy_mode, row.copy_range, row.flush_timeout),
        (2, 64, 5)
    );
    group
        .set_callback(|p| seen.borrow_mut().push(p.to_owned()))
        .expect("callback");
    sandbox.run(|| send_udp(9208, b"options"));
    pump(
        &handle,
        WAIT,
        |d| {
            handle.handle_packet(d).expect("dispatch");
        },
        || !seen.borrow().is_empty(),
    );
    assert_eq!(seen.take().len(), 1);
    group.unbind().expect("unbind");
    handle.unbind_pf(Family::Ipv4).expect("unbind_pf");
}

#[test]
fn conntrack_id_with_the_flag() {
    let sandbox = sandbox_or_skip!();
    sandbox
        .exec(&[
            "iptables",
            "-A",
            "OUTPUT",
            "-p",
            "udp",
            "--dport",
            "9209",
            "-m",
            "conntrack",
            "--ctstate",
            "NEW",
            "-j",
            "NFLOG",
            "--nflog-group",
            "29",
        ])
        .expect("rule");
    let seen = sandbox.run(|| {
        let seen = RefCell::new(Vec::new());
        let handle = LogHandle::open().expect("open");
        let mut group = handle.bind_group(29).expect("bind_group");
        group.set_mode(CopyMode::Meta, 0).expect("set_mode");
        match group.set_flags(LogFlags::CONNTRACK) {
            Ok(()) => {}
            Err(Error::Unsupported { .. }) => return None,
            Err(err) => panic!("set_flags: {err}"),
        }
        group
            .set_callback(|p| {
                let ct = p.ct().expect("parse").map(<[u8]>::to_vec);
                seen.borrow_mut()
                    .push((p.ctid(), ct, p.ct_info().expect("parse")));
            })
            .expect("callback");
        send_udp(9209, b"tracked");
        pump(
            &handle,
            WAIT,
            |d| {
                handle.handle_packet(d).expect("dispatch");
            },
            || !seen.borrow().is_empty(),
        );
        drop(group);
        Some(seen.take())
    });
    let Some(seen) = seen else {
        eprintln!("SKIP conntrack_id_with_the_flag: the kernel has no conntrack glue for NFLOG");
        return;
    };
    assert_eq!(seen.len(), 1);
    let (ctid, ct, ct_info) = &seen[0];
    assert!(ctid.is_some(), "the conntrack id: {seen:?}");
    assert!(
        ct.as_ref().is_some_and(|ct| !ct.is_empty()),
        "the NFULA_CT nest"
    );
    assert_eq!(*ct_info, Some(2), "IP_CT_NEW");
}
