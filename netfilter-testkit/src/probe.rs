//! Kernel and tool feature probes, run once per process in a throwaway namespace and cached.
//!
//! Tests call [`require!`](crate::require) (or [`require`]) and skip with the probe's reason
//! when a feature is missing. In rootless mode the probes run inside the user namespace, where
//! they describe what the test itself can do.

use std::fmt;
use std::sync::OnceLock;

use std::io;
use std::time::Duration;

use netfilter_safe::transport::{NetlinkSocket, Transport};
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};

use netfilter_safe::wire::{
    Emit, Message, Messages, QueueCmd, QueueConfig, QueueParams, Verdict, VerdictHdr, uapi,
};

use crate::rules::{Backend, Family, Hook, Protocol, Rule, Table};
use crate::{Error, Sandbox};

/// A feature a test may need.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Feature {
    /// `iptables -j NFQUEUE` (the `xt_NFQUEUE` target).
    IptablesNfqueue,
    /// `ip6tables -j NFQUEUE`.
    Ip6tablesNfqueue,
    /// `iptables -j NFLOG` (the `xt_NFLOG` target).
    IptablesNflog,
    /// `ip6tables -j NFLOG`.
    Ip6tablesNflog,
    /// nft's `queue` statement (`nft_queue`).
    NftQueue,
    /// nft's `log group N` statement (`nft_log` with nfnetlink_log).
    NftLog,
    /// Conntrack information on queued packets (`NFQA_CFG_F_CONNTRACK`; needs the kernel's
    /// nfnetlink conntrack glue).
    QueueConntrack,
    /// Reading `/proc/net/netfilter/nfnetlink_{queue,log}` inside a sandbox.
    Procfs,
    /// `iptables -j MARK` and `-m mark` (`xt_MARK`, `xt_mark`).
    IptablesMark,
    /// `ip6tables -j MARK` and `-m mark`.
    Ip6tablesMark,
    /// nft's `meta mark set` and `meta mark` match.
    NftMark,
    /// Bridged packets through the iptables hooks (`br_netfilter`, switched per namespace by
    /// `net.bridge.bridge-nf-call-iptables`), for [`Bridged`](crate::topology::Bridged) tests
    /// of `physindev`/`physoutdev`.
    BrNetfilter,
    /// Queue verdicts that carry a payload (`NFQA_PAYLOAD`) take effect. In a network
    /// namespace owned by an unprivileged user namespace (rootless mode) the kernel loses
    /// them: the packet never comes out. Tests that rewrite payloads require this.
    PayloadVerdict,
}

impl Feature {
    /// Every feature, in declaration order.
    pub const ALL: [Feature; 13] = [
        Feature::IptablesNfqueue,
        Feature::Ip6tablesNfqueue,
        Feature::IptablesNflog,
        Feature::Ip6tablesNflog,
        Feature::NftQueue,
        Feature::NftLog,
        Feature::QueueConntrack,
        Feature::Procfs,
        Feature::IptablesMark,
        Feature::Ip6tablesMark,
        Feature::NftMark,
        Feature::BrNetfilter,
        Feature::PayloadVerdict,
    ];

    /// A short human description.
    pub fn describe(self) -> &'static str {
        match self {
            Feature::IptablesNfqueue => "iptables NFQUEUE target",
            Feature::Ip6tablesNfqueue => "ip6tables NFQUEUE target",
            Feature::IptablesNflog => "iptables NFLOG target",
            Feature::Ip6tablesNflog => "ip6tables NFLOG target",
            Feature::NftQueue => "nft queue statement",
            Feature::NftLog => "nft log group statement",
            Feature::QueueConntrack => "conntrack glue for queues (NFQA_CFG_F_CONNTRACK)",
            Feature::Procfs => "reading /proc/net/netfilter/nfnetlink_*",
            Feature::IptablesMark => "iptables MARK target and mark match",
            Feature::Ip6tablesMark => "ip6tables MARK target and mark match",
            Feature::NftMark => "nft meta mark statement and match",
            Feature::BrNetfilter => "br_netfilter (bridge-nf-call-iptables)",
            Feature::PayloadVerdict => "queue verdicts that carry a payload",
        }
    }

    fn index(self) -> usize {
        Feature::ALL
            .iter()
            .position(|&f| f == self)
            .unwrap_or_default()
    }
}

impl fmt::Display for Feature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe())
    }
}

/// The cached probe results: for each feature, `Ok` or the reason it is missing.
#[derive(Debug, Clone)]
pub struct Probes {
    results: Vec<Result<(), String>>,
}

impl Probes {
    /// Whether `feature` is available.
    pub fn supports(&self, feature: Feature) -> bool {
        self.result(feature).is_ok()
    }

    /// `Ok` or the reason `feature` is missing.
    pub fn result(&self, feature: Feature) -> Result<(), &str> {
        match self.results.get(feature.index()) {
            Some(Ok(())) => Ok(()),
            Some(Err(reason)) => Err(reason),
            None => Err("not probed"),
        }
    }

    fn run() -> Probes {
        let sandbox = match Sandbox::new() {
            Ok(sandbox) => sandbox,
            Err(error) => {
                let reason = format!("no namespace to probe in: {error}");
                return Probes {
                    results: Feature::ALL.iter().map(|_| Err(reason.clone())).collect(),
                };
            }
        };
        let results = Feature::ALL
            .iter()
            .map(|&feature| {
                probe_one(&sandbox, feature).map_err(|error| match error {
                    Error::Unsupported { reason, .. } => reason,
                    Error::Command { argv, stderr, .. } => format!(
                        "`{}` failed: {}",
                        argv.join(" "),
                        stderr.lines().next().unwrap_or("").trim()
                    ),
                    other => other.to_string(),
                })
            })
            .collect();
        Probes { results }
    }
}

fn probe_one(sandbox: &Sandbox, feature: Feature) -> Result<(), Error> {
    let queue = |family| {
        Rule::queue(0)
            .family(family)
            .hook(Hook::Output)
            .protocol(Protocol::Udp)
            .dport(9)
            .bypass()
    };
    let log = |family| {
        Rule::log(0)
            .family(family)
            .hook(Hook::Output)
            .protocol(Protocol::Udp)
            .dport(9)
            .prefix("probe")
    };
    let mark = |family| {
        Rule::set_mark(1)
            .family(family)
            .table(Table::Mangle)
            .hook(Hook::Output)
            .protocol(Protocol::Udp)
            .dport(9)
            .mark(2)
    };
    let apply = |rule: Rule, backend| rule.apply_with(sandbox, backend);
    match feature {
        Feature::IptablesNfqueue => apply(queue(Family::Ipv4), Backend::Iptables),
        Feature::Ip6tablesNfqueue => apply(queue(Family::Ipv6), Backend::Iptables),
        Feature::IptablesNflog => apply(log(Family::Ipv4), Backend::Iptables),
        Feature::Ip6tablesNflog => apply(log(Family::Ipv6), Backend::Iptables),
        Feature::NftQueue => {
            apply(queue(Family::Ipv4), Backend::Nft).map_err(|error| match error {
                Error::Command { ref stderr, .. }
                    if stderr.contains("No such file or directory") =>
                {
                    Error::unsupported(
                        Feature::NftQueue.describe(),
                        format!(
                            "the kernel has no nft queue expression (CONFIG_NFT_QUEUE); use \
                         iptables -j NFQUEUE instead (nft: {})",
                            stderr.lines().next().unwrap_or("").trim()
                        ),
                    )
                }
                other => other,
            })
        }
        Feature::NftLog => apply(log(Family::Ipv4), Backend::Nft),
        Feature::QueueConntrack => sandbox.try_run(queue_conntrack)?,
        Feature::Procfs => crate::procfs::queue_rows(sandbox).map(|_| ()),
        Feature::IptablesMark => apply(mark(Family::Ipv4), Backend::Iptables),
        Feature::Ip6tablesMark => apply(mark(Family::Ipv6), Backend::Iptables),
        Feature::NftMark => apply(mark(Family::Ipv4), Backend::Nft),
        Feature::BrNetfilter => br_netfilter(sandbox),
        Feature::PayloadVerdict => payload_verdict(sandbox),
    }
}

/// The per-namespace switch of `br_netfilter`.
const BRIDGE_NF_CALL_IPTABLES: &str = "net/bridge/bridge-nf-call-iptables";

fn br_netfilter(sandbox: &Sandbox) -> Result<(), Error> {
    let path = format!("/proc/sys/{BRIDGE_NF_CALL_IPTABLES}");
    match sandbox.try_run(|| std::fs::metadata(&path))? {
        Ok(_) => Ok(()),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Err(Error::unsupported(
            Feature::BrNetfilter.describe(),
            format!(
                "no {path} in a network namespace: the kernel lacks br_netfilter \
                 (CONFIG_BRIDGE_NETFILTER), the module is not loaded (modprobe br_netfilter), \
                 or the kernel is older than 5.3 and has no per-namespace switch"
            ),
        )),
        Err(error) => Err(Error::io(format!("stat {path}"), error)),
    }
}

/// Queues one datagram on loopback (`iptables -j NFQUEUE`, queue 1, UDP port 10), gives it a
/// verdict that carries its own payload unchanged, and checks that it comes out. Speaks the
/// netlink protocol directly, like [`queue_conntrack`].
fn payload_verdict(sandbox: &Sandbox) -> Result<(), Error> {
    const QUEUE: u16 = 1;
    const PORT: u16 = 10;
    Rule::queue(QUEUE)
        .hook(Hook::Output)
        .protocol(Protocol::Udp)
        .dport(PORT)
        .apply_with(sandbox, Backend::Iptables)
        .map_err(|error| {
            Error::unsupported(
                Feature::PayloadVerdict.describe(),
                format!("cannot be probed without iptables NFQUEUE ({error})"),
            )
        })?;
    sandbox.try_run(|| -> Result<(), Error> {
        let socket = NetlinkSocket::open()?;
        let bind = QueueCmd {
            command: uapi::NFQNL_CFG_CMD_BIND as u8,
            pf: 0,
        };
        let queue_error = |e| Error::io("bind queue 1 for the payload verdict probe", e);
        configure_queue(&socket, QUEUE, 1, |c| c.cmd = Some(bind)).map_err(queue_error)?;
        configure_queue(&socket, QUEUE, 2, |c| {
            c.params = Some(QueueParams {
                copy_range: 0xffff,
                copy_mode: uapi::NFQNL_COPY_PACKET as u8,
            })
        })
        .map_err(queue_error)?;
        let to: SocketAddr = (Ipv4Addr::LOCALHOST, PORT).into();
        let receiver = UdpSocket::bind(to).map_err(|e| Error::io("bind udp 127.0.0.1:10", e))?;
        UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))
            .and_then(|sender| sender.send_to(b"payload verdict probe", to))
            .map_err(|e| Error::io("send udp to 127.0.0.1:10", e))?;
        let (id, payload) = next_queued(&socket)?;
        let mut verdict = Verdict::default();
        verdict.header.flags = (libc::NLM_F_REQUEST | libc::NLM_F_ACK) as u16;
        verdict.header.seq = 3;
        verdict.header.res_id = QUEUE;
        verdict.verdict_hdr = VerdictHdr {
            verdict: uapi::NF_ACCEPT,
            id,
        };
        verdict.payload = Some(payload.into());
        send_acknowledged(&socket, &verdict, 3)
            .map_err(|e| Error::io("send a verdict with a payload", e))?;
        receiver
            .set_read_timeout(Some(Duration::from_millis(500)))
            .map_err(|e| Error::io("set_read_timeout", e))?;
        let mut buf = [0u8; 64];
        match receiver.recv(&mut buf) {
            Ok(_) => Ok(()),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                Err(Error::unsupported(
                    Feature::PayloadVerdict.describe(),
                    "the kernel accepted a verdict with a payload but the packet never came \
                     out: verdicts that carry a payload are lost here (a network namespace \
                     owned by an unprivileged user namespace loses them; run as root)",
                ))
            }
            Err(e) => Err(Error::io("receive the probe datagram", e)),
        }
    })?
}

/// The id and payload of the next packet queued on `socket`.
fn next_queued(socket: &NetlinkSocket) -> Result<(u32, Vec<u8>), Error> {
    let mut buf = vec![0u8; 0x20000];
    loop {
        let Some(len) = socket
            .recv_timeout(&mut buf, Some(Duration::from_secs(2)))
            .map_err(|e| Error::io("receive a queued packet", e))?
        else {
            return Err(Error::Timeout {
                what: "the payload verdict probe's queued packet".into(),
                after: Duration::from_secs(2),
            });
        };
        for message in Messages::new(&buf[..len.min(buf.len())]) {
            if let Ok(Message::QueuePacket(packet)) = message {
                let payload = packet.payload.unwrap_or_default().into_owned();
                return Ok((packet.packet_hdr.packet_id, payload));
            }
        }
    }
}

/// Binds a queue and asks for conntrack information on it (`NFQA_CFG_F_CONNTRACK`), speaking
/// the netlink protocol directly (no C library). Call inside the throwaway namespace: the
/// queue is unbound again when the socket closes.
fn queue_conntrack() -> Result<(), Error> {
    let socket = NetlinkSocket::open()?;
    let bind = QueueCmd {
        command: uapi::NFQNL_CFG_CMD_BIND as u8,
        pf: 0,
    };
    configure_queue(&socket, 0, 1, |c| c.cmd = Some(bind))
        .map_err(|errno| Error::io("bind queue 0 for the conntrack probe", errno))?;
    let flag = uapi::NFQA_CFG_F_CONNTRACK;
    match configure_queue(&socket, 0, 2, |c| {
        c.mask = Some(flag);
        c.flags = Some(flag);
    }) {
        Ok(()) => Ok(()),
        Err(source) => Err(Error::unsupported(
            Feature::QueueConntrack.describe(),
            format!(
                "the kernel refuses NFQA_CFG_F_CONNTRACK ({source}): \
                 CONFIG_NETFILTER_NETLINK_GLUE_CT or nf_conntrack_netlink is missing"
            ),
        )),
    }
}

/// Sends one acknowledged configuration request for `queue` and returns the kernel's answer.
fn configure_queue(
    socket: &NetlinkSocket,
    queue: u16,
    seq: u32,
    set: impl FnOnce(&mut QueueConfig<'static>),
) -> Result<(), io::Error> {
    let mut config = QueueConfig::default();
    config.header.flags = (libc::NLM_F_REQUEST | libc::NLM_F_ACK) as u16;
    config.header.seq = seq;
    config.header.res_id = queue;
    set(&mut config);
    send_acknowledged(socket, &config, seq)
}

/// Sends `message` (which asks for an acknowledgement with sequence number `seq`) and returns
/// the kernel's answer.
fn send_acknowledged(socket: &NetlinkSocket, message: &impl Emit, seq: u32) -> io::Result<()> {
    let bytes = message
        .to_bytes()
        .map_err(|err| io::Error::new(io::ErrorKind::InvalidInput, err.to_string()))?;
    socket.send(&bytes)?;
    let mut buf = vec![0u8; 8192];
    loop {
        let Some(len) = socket.recv_timeout(&mut buf, Some(Duration::from_secs(5)))? else {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "no answer from the kernel",
            ));
        };
        for message in Messages::new(&buf[..len.min(buf.len())]) {
            if let Ok(Message::Error(ack)) = message {
                if ack.seq == seq {
                    return match ack.error {
                        0 => Ok(()),
                        errno => Err(io::Error::from_raw_os_error(-errno)),
                    };
                }
            }
        }
    }
}

static PROBES: OnceLock<Probes> = OnceLock::new();

/// The probe results, computed on first use (in a throwaway [`Sandbox`]) and cached for the
/// process.
pub fn probes() -> &'static Probes {
    PROBES.get_or_init(Probes::run)
}

/// Whether `feature` is available (see [`probes`]).
pub fn supports(feature: Feature) -> bool {
    probes().supports(feature)
}

/// `Ok` when `feature` is available.
///
/// # Errors
///
/// [`Error::Unsupported`] naming the feature, with the probe's reason.
pub fn require(feature: Feature) -> Result<(), Error> {
    probes()
        .result(feature)
        .map_err(|reason| Error::unsupported(feature.describe(), reason))
}
