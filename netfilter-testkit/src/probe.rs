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
use netfilter_safe::wire::{Emit, Message, Messages, QueueCmd, QueueConfig, uapi};

use crate::rules::{Backend, Family, Hook, Protocol, Rule};
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
}

impl Feature {
    /// Every feature, in declaration order.
    pub const ALL: [Feature; 8] = [
        Feature::IptablesNfqueue,
        Feature::Ip6tablesNfqueue,
        Feature::IptablesNflog,
        Feature::Ip6tablesNflog,
        Feature::NftQueue,
        Feature::NftLog,
        Feature::QueueConntrack,
        Feature::Procfs,
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
    configure_queue(&socket, 1, |c| c.cmd = Some(bind))
        .map_err(|errno| Error::io("bind queue 0 for the conntrack probe", errno))?;
    let flag = uapi::NFQA_CFG_F_CONNTRACK;
    match configure_queue(&socket, 2, |c| {
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

/// Sends one acknowledged configuration request for queue 0 and returns the kernel's answer.
fn configure_queue(
    socket: &NetlinkSocket,
    seq: u32,
    set: impl FnOnce(&mut QueueConfig<'static>),
) -> Result<(), io::Error> {
    let mut config = QueueConfig::default();
    config.header.flags = (libc::NLM_F_REQUEST | libc::NLM_F_ACK) as u16;
    config.header.seq = seq;
    set(&mut config);
    let bytes = config
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
