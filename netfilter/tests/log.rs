//! The ergonomic log groups against the real kernel, each test in its own network namespace,
//! plus the parts only a fake kernel can show (what is sent, exact gaps, odd prefixes).

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::net::{IpAddr, UdpSocket};
use std::time::{Duration, Instant};

use netfilter::conntrack::{CtEntry, CtState, CtStatus};
use netfilter::safe::wire::Emit;
use netfilter::{CopyMode, Error, Family, Hook, LogFlags, LogGroup, LogPacket, Namespace};
use netfilter_testkit::fake::FakeKernel;
use netfilter_testkit::synth::LogPacketBuilder;
use netfilter_testkit::traffic::udp_send;
use netfilter_testkit::{procfs, sandbox_or_skip};

mod common;
use common::log::{next, open};
use common::{WAIT, local, log_rule, out_of_range, udp_data};

/// The effective uid of this process (the owner of `/proc/self`).
fn euid() -> u32 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").expect("/proc/self").uid()
}

#[test]
fn prefix_payload_and_metadata() {
    let sandbox = sandbox_or_skip!();
    log_rule(&sandbox, 31, 9401, "nf-test");
    let mut log = open(&sandbox, || LogGroup::builder(31));
    assert_eq!(log.groups(), [31]);
    udp_send(&sandbox, local(9401), b"logged").expect("send");
    let packet = next(&mut log);
    assert_eq!(packet.prefix(), Some("nf-test"));
    assert_eq!(packet.prefix_bytes(), Some(&b"nf-test"[..]));
    assert_eq!(
        (
            packet.group(),
            packet.family(),
            packet.hook(),
            packet.hw_protocol()
        ),
        (31, Family::Ipv4, Hook::LocalOut, 0x0800)
    );
    assert_eq!(
        (packet.outdev(), packet.indev()),
        (Some(1), None),
        "sent out of lo"
    );
    assert_eq!(packet.uid(), Some(euid()), "local traffic carries the uid");
    assert!(packet.gid().is_some());
    assert_eq!(udp_data(packet.payload()), b"logged");
    assert_eq!(
        packet.payload().len(),
        20 + 8 + 6,
        "the whole packet by default"
    );
    // Zero copy: prefix and payload are slices of the same received message, the payload
    // a few attributes after the prefix.
    let prefix_at = packet.prefix_bytes().expect("prefix").as_ptr() as usize;
    let payload_at = packet.payload().as_ptr() as usize;
    assert!(
        payload_at > prefix_at && payload_at - prefix_at < 256,
        "payload at {payload_at:#x}, prefix at {prefix_at:#x}: not one datagram"
    );
    assert_eq!(
        (packet.seq(), packet.seq_global(), packet.lost_before()),
        (None, None, None),
        "no sequence numbers without the flags"
    );
    // The packet is owned and Send: it outlives the group and crosses threads.
    drop(log);
    let len = std::thread::spawn(move || packet.payload().len())
        .join()
        .expect("thread");
    assert_eq!(len, 34);
}

#[test]
fn a_log_group_on_a_socket_made_in_another_namespace() {
    let sandbox = sandbox_or_skip!();
    log_rule(&sandbox, 34, 9434, "adopted");
    let socket: std::os::fd::OwnedFd = sandbox
        .run(netfilter::safe::transport::NetlinkSocket::open)
        .expect("a socket in the sandbox")
        .into();
    let mut log = LogGroup::builder(34)
        .qthresh(1)
        .socket(socket)
        .open()
        .expect("open");
    udp_send(&sandbox, local(9434), b"x").expect("send");
    assert_eq!(next(&mut log).prefix(), Some("adopted"));
    let rows = log.rows().expect("rows");
    assert_eq!(rows.iter().map(|r| r.group).collect::<Vec<_>>(), [34]);
}

#[test]
fn sequence_numbers_only_with_the_flags() {
    let sandbox = sandbox_or_skip!();
    log_rule(&sandbox, 32, 9402, "plain");
    log_rule(&sandbox, 33, 9403, "numbered");
    let mut plain = open(&sandbox, || LogGroup::builder(32));
    let mut numbered = open(&sandbox, || {
        LogGroup::builder(33).seq(true).seq_global(true)
    });
    for _ in 0..3 {
        udp_send(&sandbox, local(9402), b"p").expect("send");
        udp_send(&sandbox, local(9403), b"n").expect("send");
    }
    let plain: Vec<_> = (0..3)
        .map(|_| {
            let p = next(&mut plain);
            (p.seq(), p.seq_global(), p.lost_before())
        })
        .collect();
    assert_eq!(plain, [(None, None, None); 3]);
    let numbered: Vec<LogPacket> = (0..3).map(|_| next(&mut numbered)).collect();
    let local: Vec<_> = numbered.iter().map(|p| p.seq()).collect();
    assert_eq!(
        local,
        [Some(0), Some(1), Some(2)],
        "per-group numbers count from 0"
    );
    assert!(numbered.iter().all(|p| p.lost_before() == Some(0)));
    let global: Vec<u32> = numbered
        .iter()
        .map(|p| p.seq_global().expect("global"))
        .collect();
    assert!(
        global.windows(2).all(|w| w[1] == w[0] + 1),
        "global numbers increase by one: {global:?}"
    );
}

#[test]
fn qthresh_batches_several_packets_into_one_burst() {
    let sandbox = sandbox_or_skip!();
    log_rule(&sandbox, 34, 9404, "batch");
    let mut log = open(&sandbox, || {
        LogGroup::builder(34)
            .copy(CopyMode::Meta, 0)
            .qthresh(3)
            .timeout(Duration::from_secs(10))
    });
    udp_send(&sandbox, local(9404), b"a").expect("send");
    udp_send(&sandbox, local(9404), b"b").expect("send");
    assert!(
        log.recv_timeout(Duration::from_millis(300))
            .expect("recv")
            .is_none(),
        "two of three wait in the kernel's batch"
    );
    let row = procfs::log_row(&sandbox, 34).expect("procfs").expect("row");
    assert_eq!(row.qlen, 2);
    let start = Instant::now();
    udp_send(&sandbox, local(9404), b"c").expect("send");
    let first = next(&mut log);
    // The other two came in the same datagram: already received, no waiting.
    let rest: Vec<_> = (0..2)
        .map(|_| log.try_recv().expect("recv").expect("in the same batch"))
        .collect();
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "sent at the threshold"
    );
    assert!(!first.has_payload() && rest.iter().all(|p| !p.has_payload()));
    assert!(log.try_recv().expect("recv").is_none());
}

#[test]
fn timeout_as_duration_flushes_a_partial_batch() {
    let sandbox = sandbox_or_skip!();
    log_rule(&sandbox, 35, 9405, "flush");
    let mut log = open(&sandbox, || {
        LogGroup::builder(35)
            .qthresh(100)
            .timeout(Duration::from_millis(300))
    });
    let row = procfs::log_row(&sandbox, 35).expect("procfs").expect("row");
    assert_eq!(row.flush_timeout, 30, "in hundredths of a second");
    let start = Instant::now();
    udp_send(&sandbox, local(9405), b"a").expect("send");
    udp_send(&sandbox, local(9405), b"b").expect("send");
    let got: Vec<Vec<u8>> = (0..2).map(|_| udp_data(next(&mut log).payload())).collect();
    let waited = start.elapsed();
    assert_eq!(got, [b"a".to_vec(), b"b".to_vec()]);
    assert!(
        waited >= Duration::from_millis(250) && waited < Duration::from_secs(3),
        "sent by the timeout: {waited:?}"
    );
}

#[test]
fn copy_range_cuts_the_payload() {
    let sandbox = sandbox_or_skip!();
    log_rule(&sandbox, 36, 9406, "range");
    let mut cut = open(&sandbox, || {
        LogGroup::builder(36).copy(CopyMode::Packet, 16)
    });
    let row = procfs::log_row(&sandbox, 36).expect("procfs").expect("row");
    assert_eq!((row.copy_mode, row.copy_range), (2, 16));
    udp_send(&sandbox, local(9406), &[1u8; 100]).expect("send");
    let packet = next(&mut cut);
    assert_eq!(packet.payload().len(), 16);
    assert_eq!(packet.payload()[0] >> 4, 4, "from the IPv4 header on");
    drop(cut);
    let mut meta = open(&sandbox, || LogGroup::builder(36).copy(CopyMode::Meta, 0));
    udp_send(&sandbox, local(9406), &[1u8; 100]).expect("send");
    let packet = next(&mut meta);
    assert!(!packet.has_payload() && packet.payload().is_empty());
    assert_eq!(packet.prefix(), Some("range"), "metadata still comes");
}

#[test]
fn two_groups_on_one_socket() {
    let sandbox = sandbox_or_skip!();
    log_rule(&sandbox, 37, 9407, "first");
    log_rule(&sandbox, 38, 9408, "second");
    let mut log = open(&sandbox, || LogGroup::builder_groups(&[37, 38, 37]));
    assert_eq!(log.groups(), [37, 38], "duplicates are ignored");
    udp_send(&sandbox, local(9407), b"1").expect("send");
    udp_send(&sandbox, local(9408), b"2").expect("send");
    let seen: BTreeSet<(u16, String, Vec<u8>)> = (0..2)
        .map(|_| {
            let p = next(&mut log);
            let prefix = p.prefix().expect("prefix").to_owned();
            (p.group(), prefix, udp_data(p.payload()))
        })
        .collect();
    assert_eq!(
        seen,
        BTreeSet::from([
            (37, "first".to_owned(), b"1".to_vec()),
            (38, "second".to_owned(), b"2".to_vec()),
        ])
    );
    let rows: Vec<u16> = procfs::log_rows(&sandbox)
        .expect("procfs")
        .iter()
        .map(|r| r.group)
        .collect();
    assert!(rows.contains(&37) && rows.contains(&38), "{rows:?}");
    drop(log);
    assert!(
        procfs::log_rows(&sandbox).expect("procfs").is_empty(),
        "both unbound on drop"
    );
}

#[test]
fn a_group_served_from_another_namespace() {
    let sandbox = sandbox_or_skip!();
    let Some(path) = sandbox.path() else {
        eprintln!("SKIP a_group_served_from_another_namespace: no /run/netns path when rootless");
        return;
    };
    log_rule(&sandbox, 39, 9409, "elsewhere");
    // Opened from this thread, which stays in the test's own namespace.
    let mut log = LogGroup::builder(39)
        .namespace(Namespace::path(path))
        .open()
        .expect("open");
    assert!(
        procfs::log_row(&sandbox, 39).expect("procfs").is_some(),
        "bound in the sandbox"
    );
    udp_send(&sandbox, local(9409), b"there").expect("send");
    let packet = next(&mut log);
    assert_eq!(
        (packet.prefix(), udp_data(packet.payload())),
        (Some("elsewhere"), b"there".to_vec())
    );
}

#[test]
fn a_group_owned_by_another_socket_is_not_permitted() {
    let sandbox = sandbox_or_skip!();
    let _first = open(&sandbox, || LogGroup::builder(40));
    let err = sandbox
        .run(|| LogGroup::builder(40).open())
        .expect_err("taken by another socket");
    assert!(matches!(err, Error::NotPermitted { .. }), "{err}");
    assert!(err.to_string().contains("bind log group 40"), "{err}");
}

#[test]
fn out_of_range_nlbufsiz_and_timeout_are_refused_on_the_real_kernel() {
    let sandbox = sandbox_or_skip!();
    let err = sandbox
        .run(|| {
            LogGroup::builder(41)
                .nlbufsiz(netfilter::LogBuilder::min_nlbufsiz() - 1)
                .open()
        })
        .expect_err("below NLMSG_GOODSIZE");
    assert_eq!(out_of_range(&err), Some("nlbufsiz"), "{err}");
    let err = sandbox
        .run(|| {
            LogGroup::builder(41)
                .timeout(netfilter::LogBuilder::MAX_TIMEOUT + Duration::from_millis(10))
                .open()
        })
        .expect_err("past the 32-bit jiffies product");
    assert_eq!(
        out_of_range(&err),
        Some("timeout in hundredths of a second"),
        "{err}"
    );
    assert!(
        procfs::log_row(&sandbox, 41).expect("procfs").is_none(),
        "nothing was bound"
    );
    // The limits themselves are accepted.
    let _log = open(&sandbox, || {
        LogGroup::builder(41)
            .nlbufsiz(netfilter::LogBuilder::MAX_NLBUFSIZ)
            .timeout(netfilter::LogBuilder::MAX_TIMEOUT)
    });
    let row = procfs::log_row(&sandbox, 41).expect("procfs").expect("row");
    assert_eq!(row.flush_timeout, 4_294_967);
}

#[test]
fn an_overrun_is_reported_with_the_lost_count_and_survived() {
    let sandbox = sandbox_or_skip!();
    log_rule(&sandbox, 42, 9412, "burst");
    // One message per datagram, a tiny receive buffer (forced, as root), and a burst nobody
    // reads: the socket overflows.
    let mut log = open(&sandbox, || {
        LogGroup::builder(42).seq(true).qthresh(1).recv_buffer(4096)
    });
    let sender = sandbox
        .run(|| UdpSocket::bind("127.0.0.1:0"))
        .expect("sender");
    const BURST: u32 = 64;
    for _ in 0..BURST {
        sender.send_to(&[7u8; 1000], local(9412)).expect("send");
    }
    // The messages that fitted come out, numbered from 0 without gaps; the ENOBUFS notice
    // before them is not an event of its own (the gap will tell, with the count).
    let mut delivered = Vec::new();
    while let Some(packet) = log
        .recv_timeout(Duration::from_millis(300))
        .expect("no event before the count is known")
    {
        delivered.push(packet.seq().expect("seq"));
    }
    let fitted = delivered.len() as u32;
    assert!(fitted > 0 && fitted < BURST, "{fitted} of {BURST} fitted");
    assert_eq!(delivered, (0..fitted).collect::<Vec<_>>());
    assert!(
        log.socket_drops().expect("drops") > 0,
        "the socket counted its drops"
    );
    // The next message shows the gap: the one event, with its count, then the message.
    udp_send(&sandbox, local(9412), b"again").expect("send");
    let lost = BURST - fitted;
    match log.recv_timeout(WAIT) {
        Err(Error::Overrun { lost: Some(n) }) => assert_eq!(n, lost),
        other => panic!("expected the lost count, got {other:?}"),
    }
    let packet = next(&mut log);
    assert_eq!(
        (packet.seq(), packet.lost_before()),
        (Some(BURST), Some(lost))
    );
    assert_eq!(udp_data(packet.payload()), b"again");
}

/// Logs `protocol` to `port` on OUTPUT of `sandbox` in conntrack states `states` (the
/// conntrack match makes conntrack track the namespace's packets) to `group`, opened with
/// the conntrack flag and one message per datagram; `None` (with the reason printed) when
/// the kernel has no conntrack glue for NFLOG.
fn conntrack_log(
    sandbox: &netfilter_testkit::Sandbox,
    protocol: &str,
    port: u16,
    states: &str,
    group: u16,
) -> Option<LogGroup> {
    let (port, group_text) = (port.to_string(), group.to_string());
    sandbox
        .exec(&[
            "iptables",
            "-A",
            "OUTPUT",
            "-p",
            protocol,
            "--dport",
            &port,
            "-m",
            "conntrack",
            "--ctstate",
            states,
            "-j",
            "NFLOG",
            "--nflog-group",
            &group_text,
        ])
        .expect("rule");
    match sandbox.run(|| LogGroup::builder(group).qthresh(1).conntrack(true).open()) {
        Ok(log) => Some(log),
        Err(Error::Unsupported { .. }) => {
            eprintln!("SKIP: no conntrack glue for NFLOG in this kernel");
            None
        }
        Err(err) => panic!("open: {err}"),
    }
}

#[test]
fn a_tcp_connections_tracker_state_with_the_conntrack_flag() {
    use netfilter::conntrack::{TcpFlags, TcpState};
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};

    let sandbox = sandbox_or_skip!();
    let Some(mut log) = conntrack_log(&sandbox, "tcp", 9415, "NEW,ESTABLISHED", 45) else {
        return;
    };
    sandbox
        .run(|| -> std::io::Result<()> {
            let listener = TcpListener::bind("127.0.0.1:9415")?;
            let mut client = TcpStream::connect("127.0.0.1:9415")?;
            let (mut server, _) = listener.accept()?;
            client.write_all(b"data")?;
            let mut got = [0; 4];
            server.read_exact(&mut got)?;
            Ok(())
        })
        .expect("a connection");
    // The SYN opened the connection: SYN_SENT, with Linux's window scale and SACK options
    // seen in the original direction.
    let syn = next(&mut log);
    let ct = syn.conntrack().expect("a nest").expect("a valid nest");
    let tcp = ct.tcp().expect("CTA_PROTOINFO_TCP");
    assert_eq!(tcp.state, TcpState::SynSent, "{ct:?}");
    let flags = tcp
        .flags_orig
        .expect("flags of the original direction")
        .flags;
    assert!(
        flags.contains(TcpFlags::WINDOW_SCALE | TcpFlags::SACK_PERM),
        "{flags:?}"
    );
    assert!(tcp.wscale_orig.is_some());
    // The handshake's last ACK and the data travel on an established connection.
    let later: Vec<TcpState> = (0..2)
        .map(|_| {
            let packet = next(&mut log);
            let ct = packet.conntrack().expect("a nest").expect("a valid nest");
            ct.tcp().expect("CTA_PROTOINFO_TCP").state
        })
        .collect();
    assert_eq!(later, [TcpState::Established, TcpState::Established]);
}

#[test]
fn conntrack_entry_with_the_flag() {
    let sandbox = sandbox_or_skip!();
    let Some(mut log) = conntrack_log(&sandbox, "udp", 9413, "NEW", 43) else {
        return;
    };
    udp_send(&sandbox, local(9413), b"tracked").expect("send");
    let packet = next(&mut log);
    assert!(packet.ct().is_some_and(|ct| !ct.is_empty()), "{packet:?}");
    assert_eq!(packet.ct_info(), Some(CtState::New), "IP_CT_NEW");
    // The typed view of the kernel's nest: the datagram's own addresses and ports.
    let ct = packet.conntrack().expect("a nest").expect("a valid nest");
    let orig = ct.orig().expect("CTA_TUPLE_ORIG");
    let loopback = IpAddr::from([127, 0, 0, 1]);
    let payload = packet.payload();
    let ihl = usize::from(payload[0] & 0x0f) * 4;
    let sport = u16::from_be_bytes([payload[ihl], payload[ihl + 1]]);
    assert_eq!(
        (orig.src, orig.dst, orig.protocol),
        (loopback, loopback, 17),
        "{ct:?}"
    );
    assert_eq!((orig.src_port, orig.dst_port), (Some(sport), Some(9413)));
    let reply = ct.reply().expect("CTA_TUPLE_REPLY");
    assert_eq!(
        (reply.src, reply.dst, reply.src_port, reply.dst_port),
        (loopback, loopback, Some(9413), Some(sport))
    );
    // A new connection on OUTPUT is not confirmed yet, has seen no reply, and has an id.
    let status = ct.status().expect("CTA_STATUS");
    assert!(!status.contains(CtStatus::SEEN_REPLY), "{status:?}");
    assert!(ct.id().is_some(), "CTA_ID");
    // What the typed entry emits reads back the same.
    let entry = CtEntry::parse(&ct);
    let again = entry.to_bytes().expect("emit");
    assert_eq!(CtEntry::parse_bytes(&again).expect("parse"), entry);
    eprintln!("kernel CT nest: {:02x?}", ct.as_bytes());
}

// Over the fake kernel: no root, no namespace.

#[test]
fn fake_kernel_sees_the_configuration_and_the_unbind() {
    let (kernel, transport) = FakeKernel::new().expect("fake kernel");
    let log = LogGroup::builder(5)
        .group(6)
        .copy(CopyMode::Packet, 128)
        .qthresh(7)
        .timeout(Duration::from_millis(301))
        .nlbufsiz(65536)
        .flags(LogFlags::SEQ | LogFlags::SEQ_GLOBAL)
        .transport(transport)
        .open()
        .expect("open");
    for group in [5, 6] {
        let c = kernel.log_config(group).expect("bound");
        assert_eq!(
            (c.copy_mode, c.copy_range, c.qthresh, c.nlbufsiz, c.flags),
            (2, 128, 7, 65536, 3)
        );
        assert_eq!(c.timeout, 31, "301 ms rounds up to 31 hundredths");
    }
    drop(log);
    assert!(
        kernel.state(|s| s.bound_groups()).is_empty(),
        "unbound on drop"
    );
}

#[test]
fn fake_kernel_out_of_range_values_are_refused_before_sending() {
    let min = netfilter::LogBuilder::min_nlbufsiz();
    assert!(
        (3776..=7872).contains(&min),
        "NLMSG_GOODSIZE for 4 to 8 KiB pages"
    );
    let cases: Vec<(netfilter::LogBuilder, &str)> = vec![
        (LogGroup::builder(1).nlbufsiz(min - 1), "nlbufsiz"),
        (
            LogGroup::builder(1).nlbufsiz(netfilter::LogBuilder::MAX_NLBUFSIZ + 1),
            "nlbufsiz",
        ),
        (
            LogGroup::builder(1).timeout(Duration::from_secs(50_000)),
            "timeout in hundredths of a second",
        ),
        (
            LogGroup::builder(1).timeout(Duration::MAX),
            "timeout in hundredths of a second",
        ),
        (
            LogGroup::builder(1).copy(CopyMode::Packet, 70_000),
            "copy range",
        ),
        (LogGroup::builder_groups(&[]), "number of log groups"),
    ];
    for (builder, what) in cases {
        let (kernel, transport) = FakeKernel::new().expect("fake kernel");
        let err = builder.transport(transport).open().expect_err(what);
        assert_eq!(out_of_range(&err), Some(what), "{err}");
        assert!(kernel.sent().is_empty(), "{what}: nothing was sent");
    }
}

/// A log group of `group` with sequence numbers, over a fake kernel.
fn fake_seq_log(group: u16) -> (FakeKernel, LogGroup) {
    let (kernel, transport) = FakeKernel::new().expect("fake kernel");
    let log = LogGroup::builder(group)
        .seq(true)
        .transport(transport)
        .open()
        .expect("open");
    (kernel, log)
}

/// Group `group` over a fake kernel, with the builder's defaults.
fn fake_log(group: u16) -> (FakeKernel, LogGroup) {
    let (kernel, transport) = FakeKernel::new().expect("fake kernel");
    let log = LogGroup::builder(group)
        .transport(transport)
        .open()
        .expect("open");
    (kernel, log)
}

#[test]
fn without_sequence_numbers_an_overrun_is_the_enobufs_notice_once() {
    let (kernel, mut log) = fake_log(8);
    kernel.overrun();
    kernel
        .log_packet(LogPacketBuilder::ipv4(8).payload(b"after".to_vec()))
        .expect("log");
    assert_eq!(two_events(&mut log), ["overrun None", "seq None lost None"]);
}

/// What the next two receives of `log` give: a packet's number and loss, an overrun, or
/// nothing within [`WAIT`].
fn two_events(log: &mut LogGroup) -> Vec<String> {
    (0..2)
        .map(|_| match log.recv_timeout(WAIT) {
            Ok(Some(p)) => format!("seq {:?} lost {:?}", p.seq(), p.lost_before()),
            Ok(None) => "nothing".to_owned(),
            Err(Error::Overrun { lost }) => format!("overrun {lost:?}"),
            Err(err) => panic!("{err}"),
        })
        .collect()
}

#[test]
fn fake_kernel_batches_gaps_and_odd_prefixes() {
    let (kernel, mut log) = fake_seq_log(9);
    // A batch: three messages and NLMSG_DONE in one datagram.
    kernel
        .log_batch((0..3u8).map(|i| LogPacketBuilder::ipv4(9).payload(vec![i; 4])))
        .expect("batch");
    let batch: Vec<_> = (0..3)
        .map(|_| log.try_recv().expect("recv").expect("packet"))
        .collect();
    assert_eq!(
        batch.iter().map(|p| p.payload()[0]).collect::<Vec<_>>(),
        [0, 1, 2]
    );
    assert!(
        log.try_recv().expect("recv").is_none(),
        "NLMSG_DONE is no packet"
    );
    // An overrun notice, then a gap of two: one event with the count, then the packet.
    kernel.overrun();
    kernel
        .log_packet(LogPacketBuilder::ipv4(9).seq(5))
        .expect("log");
    let mut events = Vec::new();
    for item in log.incoming().take(2) {
        events.push(match item {
            Ok(p) => format!("seq {:?} lost {:?}", p.seq(), p.lost_before()),
            Err(Error::Overrun { lost }) => format!("overrun {lost:?}"),
            Err(err) => panic!("{err}"),
        });
    }
    assert_eq!(events, ["overrun Some(2)", "seq Some(5) lost Some(2)"]);
    // A prefix that is not UTF-8: lossy text, exact bytes.
    kernel
        .log_packet(
            LogPacketBuilder::ipv4(9).with(|p| p.prefix = Some(Cow::Owned(vec![b'a', 0xff]))),
        )
        .expect("log");
    let packet = log.recv().expect("recv");
    assert_eq!(packet.prefix(), Some("a\u{fffd}"));
    assert_eq!(packet.prefix_bytes(), Some(&[b'a', 0xff][..]));
    // run() skips overruns and gaps and stops on the closure's error.
    kernel.overrun();
    kernel
        .log_packet(LogPacketBuilder::ipv4(9).seq(9))
        .expect("log");
    kernel
        .log_packet(LogPacketBuilder::ipv4(9).seq(10))
        .expect("log");
    let mut seen = Vec::new();
    let end = log.run(|p| {
        seen.push(p.seq());
        if seen.len() == 2 {
            return Err(Error::BadPacket {
                reason: "enough".into(),
            });
        }
        Ok(())
    });
    assert!(matches!(end, Err(Error::BadPacket { .. })), "{end:?}");
    assert_eq!(seen, [Some(9), Some(10)]);
}

#[test]
fn recv_batch_lends_every_packet_of_a_kernel_batch() {
    let sandbox = sandbox_or_skip!();
    log_rule(&sandbox, 35, 9405, "lent");
    let mut log = open(&sandbox, || {
        LogGroup::builder(35)
            .seq(true)
            .qthresh(4)
            .timeout(Duration::from_secs(10))
    });
    for i in 0..4u8 {
        udp_send(&sandbox, local(9405), &[b'a' + i]).expect("send");
    }
    // One datagram of four messages: one call lends them all, in order, as views of it.
    let mut seen = Vec::new();
    let mut kept = None;
    let n = log
        .recv_batch(Some(WAIT), |packet| {
            assert_eq!(packet.prefix(), Some("lent"));
            assert_eq!((packet.group(), packet.hook()), (35, Hook::LocalOut));
            seen.push((
                packet.seq(),
                packet.lost_before(),
                udp_data(packet.payload()),
            ));
            if packet.seq() == Some(2) {
                kept = Some(packet.to_packet());
            }
        })
        .expect("recv_batch");
    assert_eq!(n, 4);
    let expected: Vec<_> = (0..4u8)
        .map(|i| (Some(u32::from(i)), Some(0), vec![b'a' + i]))
        .collect();
    assert_eq!(seen, expected);
    // A packet copied out of the callback keeps every attribute.
    let kept = kept.expect("kept");
    assert_eq!(
        (kept.seq(), kept.prefix(), udp_data(kept.payload())),
        (Some(2), Some("lent"), b"c".to_vec())
    );
    // Nothing is left: no wait with zero, 0 after the timeout.
    assert_eq!(
        log.recv_batch(Some(Duration::ZERO), |_| {}).expect("recv"),
        0
    );
    let start = Instant::now();
    let none = log.recv_batch(Some(Duration::from_millis(100)), |_| {});
    assert_eq!(none.expect("recv"), 0);
    assert!(start.elapsed() >= Duration::from_millis(100));
}

#[test]
fn the_default_batch_buffer_holds_a_whole_batch_of_small_packets() {
    let sandbox = sandbox_or_skip!();
    log_rule(&sandbox, 36, 9406, "whole");
    // How many messages the first datagram after 50 small packets (~164 bytes a message)
    // holds, and how many came in all, with the batch buffer `nlbufsiz` (None: ours).
    let first_datagram = |nlbufsiz: Option<u32>| {
        let mut log = open(&sandbox, || {
            let builder = LogGroup::builder(36)
                .qthresh(50)
                .timeout(Duration::from_secs(2));
            match nlbufsiz {
                Some(bytes) => builder.nlbufsiz(bytes),
                None => builder,
            }
        });
        for _ in 0..50 {
            udp_send(&sandbox, local(9406), &[7; 64]).expect("send");
        }
        let first = log.recv_batch(Some(WAIT), |_| {}).expect("recv_batch");
        let mut all = first;
        while all < 50 {
            match log.recv_batch(Some(WAIT), |_| {}).expect("recv_batch") {
                0 => break,
                n => all += n,
            }
        }
        (first, all)
    };
    assert_eq!(first_datagram(None), (50, 50), "one datagram at qthresh");
    // The kernel's default, a page, ends the batch early.
    let (first, all) = first_datagram(Some(netfilter::LogBuilder::min_nlbufsiz()));
    assert_eq!(all, 50, "the rest flushed by the timeout");
    assert!((2..50).contains(&first), "{first} in the first datagram");
    eprintln!("the kernel's page held {first} of 50 messages");
}

#[test]
fn settings_change_on_an_open_group() {
    let sandbox = sandbox_or_skip!();
    log_rule(&sandbox, 37, 9407, "change");
    let mut log = open(&sandbox, || LogGroup::builder(37).qthresh(1));
    let send = |data: &[u8]| udp_send(&sandbox, local(9407), data).expect("send");
    send(&[1; 100]);
    let whole = next(&mut log);
    assert_eq!(
        whole.payload().len(),
        128,
        "IP and UDP headers and the data"
    );
    assert_eq!(whole.seq(), None);
    // Headers only, numbered from 0.
    log.set_copy(CopyMode::Packet, 28).expect("set_copy");
    log.set_flags(LogFlags::SEQ).expect("set_flags");
    let row = procfs::log_row(&sandbox, 37).expect("procfs").expect("row");
    assert_eq!((row.copy_mode, row.copy_range), (2, 28));
    for seq in 0..2 {
        send(&[2; 100]);
        let cut = next(&mut log);
        assert_eq!(cut.payload().len(), 28);
        assert_eq!((cut.seq(), cut.lost_before()), (Some(seq), Some(0)));
    }
    // Batches of two, held up to 10 s: one message waits for the second.
    log.set_qthresh(2).expect("set_qthresh");
    log.set_timeout(Duration::from_secs(10))
        .expect("set_timeout");
    log.set_nlbufsiz(netfilter::LogBuilder::MAX_NLBUFSIZ)
        .expect("set_nlbufsiz");
    let row = procfs::log_row(&sandbox, 37).expect("procfs").expect("row");
    assert_eq!(row.flush_timeout, 1000);
    send(b"a");
    assert!(
        log.recv_timeout(Duration::from_millis(300))
            .expect("recv")
            .is_none(),
        "the first of two waits in the kernel's batch"
    );
    send(b"b");
    let lent = log.recv_batch(Some(WAIT), |_| {}).expect("recv_batch");
    assert_eq!(lent, 2, "both in one datagram");
    // Flags off: no numbers.
    log.set_flags(LogFlags::empty()).expect("set_flags");
    log.set_qthresh(1).expect("set_qthresh");
    send(b"c");
    assert_eq!(next(&mut log).seq(), None);
    // A value the kernel would ignore is refused before anything is sent.
    let err = log.set_nlbufsiz(1).unwrap_err();
    assert_eq!(out_of_range(&err), Some("nlbufsiz"), "{err}");
}

#[test]
fn fake_kernel_numbering_turned_on_later_resumes_where_it_stopped() {
    let (kernel, mut log) = fake_seq_log(3);
    kernel.log_packet(LogPacketBuilder::ipv4(3)).expect("log");
    assert_eq!(log.recv().expect("recv").seq(), Some(0));
    log.set_flags(LogFlags::empty()).expect("off");
    kernel.log_packet(LogPacketBuilder::ipv4(3)).expect("log");
    assert_eq!(log.recv().expect("recv").seq(), None);
    // On again: the kernel goes on from 1; a message lost there is a gap of one.
    log.set_flags(LogFlags::SEQ).expect("on");
    kernel
        .log_packet(LogPacketBuilder::ipv4(3).seq(2))
        .expect("log");
    match log.recv() {
        Err(Error::Overrun { lost: Some(1) }) => {}
        other => panic!("expected a gap of one, got {other:?}"),
    }
    let packet = log.recv().expect("recv");
    assert_eq!((packet.seq(), packet.lost_before()), (Some(2), Some(1)));
}

#[test]
fn fake_kernel_numbering_turned_on_counts_an_overrun_once_from_0() {
    let (kernel, mut log) = fake_log(4);
    log.set_flags(LogFlags::SEQ).expect("on");
    // Numbered from 0; the first three are lost to an overrun: one event, the gap with its
    // count, not also the kernel's notice.
    kernel.overrun();
    kernel
        .log_packet(LogPacketBuilder::ipv4(4).seq(3))
        .expect("log");
    assert_eq!(
        two_events(&mut log),
        ["overrun Some(3)", "seq Some(3) lost Some(3)"]
    );
}

#[test]
fn fake_kernel_recv_batch_reports_gaps_and_errors_in_their_turn() {
    use netfilter::safe::wire::{RawAttr, log_attr};
    use netfilter_testkit::synth::Datagram;

    let (kernel, mut log) = fake_seq_log(9);
    let mut seqs = Vec::new();
    // A batch of three (and NLMSG_DONE): one call.
    kernel
        .log_batch((0..3u8).map(|i| LogPacketBuilder::ipv4(9).payload(vec![i; 4])))
        .expect("batch");
    let n = log
        .recv_batch(Some(WAIT), |p| seqs.push(p.seq()))
        .expect("batch");
    assert_eq!((n, &seqs[..]), (3, &[Some(0), Some(1), Some(2)][..]));
    // The ENOBUFS notice, then a gap of two: one event with the count, then the packet that
    // revealed the gap, with the count.
    kernel.overrun();
    kernel
        .log_packet(LogPacketBuilder::ipv4(9).seq(5))
        .expect("log");
    let mut lent = Vec::new();
    let mut events = Vec::new();
    for _ in 0..2 {
        match log.recv_batch(Some(WAIT), |p| lent.push((p.seq(), p.lost_before()))) {
            Ok(n) => events.push(format!("{n} packet(s)")),
            Err(Error::Overrun { lost }) => events.push(format!("overrun {lost:?}")),
            Err(err) => panic!("{err}"),
        }
    }
    assert_eq!(events, ["overrun Some(2)", "1 packet(s)"]);
    assert_eq!(lent, [(Some(5), Some(2))]);
    // A malformed message between two good ones: the first is lent, the call returns the
    // error, the next call lends the third.
    let bad = LogPacketBuilder::ipv4(9).with(|p| {
        p.unknown.push(RawAttr {
            raw_type: log_attr::MARK,
            value: Cow::Borrowed(&[1, 2]),
        })
    });
    let datagram = Datagram::log_batch(
        9,
        [
            LogPacketBuilder::ipv4(9).payload(b"one".to_vec()).build(),
            bad.build(),
            LogPacketBuilder::ipv4(9).payload(b"three".to_vec()).build(),
        ],
    );
    kernel.send_datagram(&datagram).expect("send");
    let mut payloads = Vec::new();
    let first = log.recv_batch(Some(WAIT), |p| payloads.push(p.payload().to_vec()));
    assert!(matches!(first, Err(Error::Malformed(_))), "{first:?}");
    let second = log.recv_batch(Some(WAIT), |p| payloads.push(p.payload().to_vec()));
    assert_eq!(second.expect("the rest"), 1);
    assert_eq!(payloads, [b"one".to_vec(), b"three".to_vec()]);
    // A gap inside a batch: the packets before it, the gap, then the packet after it with the
    // count and the rest of the batch.
    kernel
        .log_batch([6, 9, 10].map(|seq| LogPacketBuilder::ipv4(9).seq(seq)))
        .expect("batch");
    let mut lent = Vec::new();
    let first = log.recv_batch(Some(WAIT), |p| lent.push((p.seq(), p.lost_before())));
    assert!(
        matches!(first, Err(Error::Overrun { lost: Some(2) })),
        "{first:?}"
    );
    let rest = log.recv_batch(Some(WAIT), |p| lent.push((p.seq(), p.lost_before())));
    assert_eq!(rest.expect("the rest"), 2);
    assert_eq!(
        lent,
        [(Some(6), Some(0)), (Some(9), Some(2)), (Some(10), Some(0))]
    );
}

#[test]
fn fake_kernel_recv_batch_survives_a_panicking_callback_and_mixes_with_recv() {
    let (kernel, mut log) = fake_seq_log(9);
    kernel
        .log_batch((0..4u8).map(|i| LogPacketBuilder::ipv4(9).payload(vec![i; 4])))
        .expect("batch");
    // The callback panics on the second packet: the panic reaches the caller and the
    // packets after it are not lost.
    let mut seen = Vec::new();
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        log.recv_batch(Some(WAIT), |p| {
            seen.push(p.payload()[0]);
            assert!(p.payload()[0] != 1, "the callback's own panic");
        })
    }));
    assert!(panicked.is_err(), "the panic is re-raised");
    assert_eq!(seen, [0, 1]);
    // `recv` takes the next one as an owned packet, `recv_batch` lends the last.
    assert_eq!(log.recv().expect("recv").payload()[0], 2);
    let n = log
        .recv_batch(Some(WAIT), |p| seen.push(p.payload()[0]))
        .expect("the rest");
    assert_eq!((n, &seen[..]), (1, &[0, 1, 3][..]));
    // Then a fresh datagram, received by `recv_batch` itself.
    kernel
        .log_packet(LogPacketBuilder::ipv4(9).payload(vec![4; 4]))
        .expect("log");
    let n = log
        .recv_batch(Some(WAIT), |p| seen.push(p.payload()[0]))
        .expect("one");
    assert_eq!((n, &seen[..]), (1, &[0, 1, 3, 4][..]));
}

#[test]
fn fake_kernel_suppressed_overruns_still_count_the_gap() {
    let (kernel, transport) = FakeKernel::new().expect("fake kernel");
    let mut log = LogGroup::builder(3)
        .seq(true)
        .report_overruns(false)
        .transport(transport)
        .open()
        .expect("open");
    kernel
        .log_packet(LogPacketBuilder::ipv4(3).seq(4))
        .expect("log");
    let packet = log.recv().expect("no overrun event");
    assert_eq!((packet.seq(), packet.lost_before()), (Some(4), Some(4)));
    // The same through `recv_batch`: the notice is no error, the gap is counted.
    kernel.overrun();
    kernel
        .log_packet(LogPacketBuilder::ipv4(3).seq(7))
        .expect("log");
    let mut lent = Vec::new();
    // The notice may end a call that hands nothing; the packet comes by the second.
    for _ in 0..2 {
        log.recv_batch(Some(WAIT), |p| lent.push((p.seq(), p.lost_before())))
            .expect("no overrun event");
    }
    assert_eq!(lent, [(Some(7), Some(2))]);
}

#[test]
fn fake_kernel_another_socket_owns_the_group() {
    let (kernel, transport) = FakeKernel::new().expect("fake kernel");
    kernel.bind_group_elsewhere(8);
    let err = LogGroup::builder(8)
        .transport(transport)
        .open()
        .expect_err("EPERM");
    assert!(matches!(err, Error::NotPermitted { .. }), "{err}");
}

#[test]
fn log_groups_move_between_threads_and_packets_are_shared() {
    fn send<T: Send>() {}
    fn sync<T: Sync>() {}
    send::<LogGroup>();
    send::<LogPacket>();
    sync::<LogPacket>();
}

#[test]
fn procfs_rows_and_interface_names_of_the_sockets_namespace() {
    let sandbox = sandbox_or_skip!();
    log_rule(&sandbox, 44, 9544, "rows");
    let mut log = open(&sandbox, || {
        LogGroup::builder(44)
            .copy(CopyMode::Packet, 128)
            .timeout(Duration::from_millis(200))
    });
    let rows = log.rows().expect("rows");
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (
            rows[0].group,
            rows[0].copy_mode,
            rows[0].copy_range,
            rows[0].flush_timeout
        ),
        (44, 2, 128, 20)
    );
    udp_send(&sandbox, local(9544), b"where").expect("send");
    let packet = next(&mut log);
    let out = packet.outdev().expect("an output device");
    assert_eq!(log.interface_name(out).as_deref(), Some("lo"));
    assert_eq!(log.interface_name(0xffff), None, "no such interface");
    // Cached, but an interface made since is found: a miss reads the table again.
    sandbox
        .exec(&[
            "ip", "link", "add", "cache0", "type", "veth", "peer", "name", "cache1",
        ])
        .expect("a veth pair inside the sandbox");
    // SAFETY: a NUL-terminated name; if_nametoindex reads it only.
    let index = sandbox.run(|| unsafe { libc::if_nametoindex(c"cache1".as_ptr()) });
    assert_ne!(index, 0);
    assert_eq!(log.interface_name(index).as_deref(), Some("cache1"));
    assert_eq!(log.interface_name(out).as_deref(), Some("lo"));
}

#[test]
fn a_datagram_the_program_received_itself_is_handed_out_and_its_rest_kept() {
    use netfilter::safe::wire::{RawAttr, log_attr};
    use netfilter_testkit::synth::Datagram;

    let (_kernel, mut log) = fake_seq_log(9);
    let good = |text: &'static [u8]| LogPacketBuilder::ipv4(9).payload(text.to_vec());
    let bad = LogPacketBuilder::ipv4(9).with(|p| {
        p.unknown.push(RawAttr {
            raw_type: log_attr::MARK,
            value: Cow::Borrowed(&[1, 2]),
        })
    });
    // Bytes the program got itself (here synthesized): one, a malformed one, three.
    let datagram = Datagram::log_batch(
        9,
        [good(b"one").build(), bad.build(), good(b"three").build()],
    )
    .to_bytes()
    .expect("bytes");
    let mut payloads = Vec::new();
    let err = log
        .handle_datagram(&datagram, |p| payloads.push(p.payload().to_vec()))
        .expect_err("the malformed message");
    assert!(matches!(err, Error::Malformed(_)), "{err}");
    // The rest was kept: it comes first on the next call, before the new datagram.
    let next = Datagram::log_batch(9, [good(b"four").build()])
        .to_bytes()
        .expect("bytes");
    let handed = log
        .handle_datagram(&next, |p| payloads.push(p.payload().to_vec()))
        .expect("the rest and the new one");
    assert_eq!(handed, 2);
    assert_eq!(
        payloads,
        [b"one".to_vec(), b"three".to_vec(), b"four".to_vec()]
    );
    assert!(log.try_recv().expect("nothing more").is_none());
}

#[test]
fn a_log_group_whose_program_receives_itself() {
    use std::os::fd::AsRawFd;
    let sandbox = sandbox_or_skip!();
    log_rule(&sandbox, 35, 9435, "own");
    let mut log = open(&sandbox, || LogGroup::builder(35).qthresh(1));
    udp_send(&sandbox, local(9435), b"x").expect("send");
    let mut buf = vec![0u8; log.datagram_size()];
    let fd = log.fd().as_raw_fd();
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one pollfd that outlives the call.
    assert_eq!(unsafe { libc::poll(&mut pfd, 1, 5000) }, 1, "readable");
    // SAFETY: `buf` is writable for its length.
    let n = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), 0) };
    let n = usize::try_from(n).expect("received");
    let mut prefixes = Vec::new();
    let handed = log
        .handle_datagram(&buf[..n], |p| prefixes.push(p.prefix().map(str::to_owned)))
        .expect("handled");
    assert_eq!((handed, prefixes), (1, vec![Some("own".to_owned())]));
}
