//! Typed NFQUEUE and NFLOG rules, applied inside a sandbox with iptables/ip6tables or nft.
//!
//! ```no_run
//! # fn main() -> Result<(), netfilter_testkit::Error> {
//! use netfilter_testkit::Sandbox;
//! use netfilter_testkit::rules::{Family, Hook, Protocol, Rule};
//!
//! let sandbox = Sandbox::new()?;
//! // iptables -t filter -A INPUT -p udp --dport 9000 -j NFQUEUE --queue-balance 0:3 --queue-bypass
//! Rule::queue_balance(0, 3)
//!     .hook(Hook::Input)
//!     .protocol(Protocol::Udp)
//!     .dport(9000)
//!     .bypass()
//!     .apply(&sandbox)?;
//! // ip6tables -t mangle -A OUTPUT -p ipv6-icmp -j NFLOG --nflog-group 5 --nflog-prefix ping
//! Rule::log(5)
//!     .family(Family::Ipv6)
//!     .table(netfilter_testkit::rules::Table::Mangle)
//!     .hook(Hook::Output)
//!     .protocol(Protocol::Icmp)
//!     .prefix("ping")
//!     .apply(&sandbox)?;
//! # Ok(())
//! # }
//! ```
//!
//! The backend is chosen per rule ([`Backend::Auto`]): iptables/ip6tables when the kernel and
//! tools support the target there, otherwise nft. NFQUEUE prefers iptables because many kernels
//! (this project's CI among them) lack nft's `queue` statement (`nft_queue`) while `xt_NFQUEUE`
//! works through iptables-nft. [`Rule::backend`] forces one.

use std::fmt;
use std::net::IpAddr;

use crate::probe::{self, Feature};
use crate::{Error, Sandbox};

/// The address family a rule applies to.
///
/// ```
/// use netfilter_testkit::rules::{Family, Rule};
///
/// let rule = Rule::queue(0).family(Family::Ipv6).destination("2001:db8::1".parse().unwrap());
/// assert_eq!(rule.iptables_argv()?[0], "ip6tables");
/// assert!(rule.nft_script()?.contains("ip6 daddr 2001:db8::1"));
/// # Ok::<(), netfilter_testkit::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    /// IPv4: `iptables`, nft family `ip`.
    Ipv4,
    /// IPv6: `ip6tables`, nft family `ip6`.
    Ipv6,
}

impl Family {
    /// The iptables program for the family.
    ///
    /// ```
    /// use netfilter_testkit::rules::Family;
    ///
    /// assert_eq!((Family::Ipv4.iptables(), Family::Ipv6.iptables()), ("iptables", "ip6tables"));
    /// ```
    pub fn iptables(self) -> &'static str {
        match self {
            Family::Ipv4 => "iptables",
            Family::Ipv6 => "ip6tables",
        }
    }

    /// The nft family keyword.
    ///
    /// ```
    /// use netfilter_testkit::rules::Family;
    ///
    /// assert_eq!((Family::Ipv4.nft(), Family::Ipv6.nft()), ("ip", "ip6"));
    /// ```
    pub fn nft(self) -> &'static str {
        match self {
            Family::Ipv4 => "ip",
            Family::Ipv6 => "ip6",
        }
    }

    fn of(addr: IpAddr) -> Family {
        match addr {
            IpAddr::V4(_) => Family::Ipv4,
            IpAddr::V6(_) => Family::Ipv6,
        }
    }
}

/// The table (iptables) or the chain type and priority (nft) of a rule.
///
/// ```
/// use netfilter_testkit::rules::{Hook, Rule, Table};
///
/// let rule = Rule::log(1).table(Table::Raw).hook(Hook::Prerouting);
/// assert_eq!(rule.iptables_argv()?[3], "raw");
/// assert!(rule.nft_script()?.contains("type filter hook prerouting priority -300;"));
/// // The raw table has no INPUT chain: refused before any tool runs.
/// assert!(Rule::log(1).table(Table::Raw).hook(Hook::Input).iptables_argv().is_err());
/// # Ok::<(), netfilter_testkit::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Table {
    /// `filter`: INPUT, FORWARD, OUTPUT; nft priority 0.
    Filter,
    /// `mangle`: every hook; nft priority -150.
    Mangle,
    /// `raw`: PREROUTING, OUTPUT; nft priority -300.
    Raw,
    /// `nat`: PREROUTING, INPUT, OUTPUT, POSTROUTING; nft `type nat`. Sees only the first
    /// packet of a connection, and nothing at all on kernels whose NAT hooks are missing
    /// (rules install but never match there).
    Nat,
    /// `security`: INPUT, FORWARD, OUTPUT; nft priority 50.
    Security,
}

impl Table {
    /// The iptables table name.
    ///
    /// ```
    /// use netfilter_testkit::rules::Table;
    ///
    /// assert_eq!(Table::Mangle.name(), "mangle");
    /// assert_eq!(Table::Security.name(), "security");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            Table::Filter => "filter",
            Table::Mangle => "mangle",
            Table::Raw => "raw",
            Table::Nat => "nat",
            Table::Security => "security",
        }
    }

    /// Whether the table has a chain at `hook`.
    ///
    /// ```
    /// use netfilter_testkit::rules::{Hook, Table};
    ///
    /// assert!(Table::Mangle.has(Hook::Forward)); // mangle has every chain
    /// assert!(!Table::Filter.has(Hook::Prerouting));
    /// assert!(!Table::Nat.has(Hook::Forward));
    /// ```
    pub fn has(self, hook: Hook) -> bool {
        use Hook::*;
        match self {
            Table::Filter | Table::Security => matches!(hook, Input | Forward | Output),
            Table::Mangle => true,
            Table::Raw => matches!(hook, Prerouting | Output),
            Table::Nat => !matches!(hook, Forward),
        }
    }

    fn nft_priority(self, hook: Hook) -> i32 {
        match self {
            Table::Raw => -300,
            Table::Mangle => -150,
            Table::Nat if matches!(hook, Hook::Prerouting | Hook::Output) => -100,
            Table::Nat => 100,
            Table::Filter => 0,
            Table::Security => 50,
        }
    }

    fn nft_type(self, hook: Hook) -> &'static str {
        match (self, hook) {
            (Table::Nat, _) => "nat",
            (Table::Mangle, Hook::Output) => "route",
            _ => "filter",
        }
    }
}

/// A netfilter hook (iptables built-in chain).
///
/// ```
/// use netfilter_testkit::rules::{Hook, Rule};
///
/// let rule = Rule::queue(2).hook(Hook::Forward);
/// assert_eq!(&rule.iptables_argv()?[4..6], ["-A", "FORWARD"]);
/// assert!(rule.nft_script()?.contains("filter_forward"));
/// # Ok::<(), netfilter_testkit::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Hook {
    /// PREROUTING: every incoming packet, before routing.
    Prerouting,
    /// INPUT: packets for this host.
    Input,
    /// FORWARD: packets routed through this host.
    Forward,
    /// OUTPUT: locally generated packets.
    Output,
    /// POSTROUTING: every outgoing packet, after routing.
    Postrouting,
}

impl Hook {
    /// The iptables chain name (`INPUT`, …).
    ///
    /// ```
    /// use netfilter_testkit::rules::Hook;
    ///
    /// assert_eq!(Hook::Postrouting.chain(), "POSTROUTING");
    /// ```
    pub fn chain(self) -> &'static str {
        match self {
            Hook::Prerouting => "PREROUTING",
            Hook::Input => "INPUT",
            Hook::Forward => "FORWARD",
            Hook::Output => "OUTPUT",
            Hook::Postrouting => "POSTROUTING",
        }
    }

    /// The nft hook keyword (`input`, …).
    ///
    /// ```
    /// use netfilter_testkit::rules::Hook;
    ///
    /// assert_eq!(Hook::Output.nft(), "output");
    /// ```
    pub fn nft(self) -> &'static str {
        match self {
            Hook::Prerouting => "prerouting",
            Hook::Input => "input",
            Hook::Forward => "forward",
            Hook::Output => "output",
            Hook::Postrouting => "postrouting",
        }
    }
}

/// A transport protocol to match.
///
/// ```
/// use netfilter_testkit::rules::{Family, Protocol, Rule};
///
/// // `Icmp` names ICMPv6 in IPv6 rules.
/// let v6 = Rule::log(1).family(Family::Ipv6).protocol(Protocol::Icmp);
/// assert!(v6.iptables_argv()?.join(" ").contains("-p ipv6-icmp"));
/// assert!(v6.nft_script()?.contains("meta l4proto ipv6-icmp"));
/// # Ok::<(), netfilter_testkit::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
    /// ICMP for IPv4 rules, ICMPv6 for IPv6 rules.
    Icmp,
}

impl Protocol {
    fn iptables(self, family: Family) -> &'static str {
        match (self, family) {
            (Protocol::Tcp, _) => "tcp",
            (Protocol::Udp, _) => "udp",
            (Protocol::Icmp, Family::Ipv4) => "icmp",
            (Protocol::Icmp, Family::Ipv6) => "ipv6-icmp",
        }
    }

    fn nft(self, family: Family) -> &'static str {
        match (self, family) {
            (Protocol::Tcp, _) => "tcp",
            (Protocol::Udp, _) => "udp",
            (Protocol::Icmp, Family::Ipv4) => "icmp",
            (Protocol::Icmp, Family::Ipv6) => "ipv6-icmp",
        }
    }
}

/// Which tool installs a rule.
///
/// ```
/// use netfilter_testkit::rules::{Backend, Rule};
///
/// assert_eq!(Backend::default(), Backend::Auto);
/// assert_eq!(Backend::Nft.to_string(), "nft");
/// // The same rule for each tool.
/// let rule = Rule::queue(0).backend(Backend::Nft);
/// assert!(rule.nft_script()?.contains("queue num 0"));
/// assert!(rule.iptables_argv()?.join(" ").ends_with("-j NFQUEUE --queue-num 0"));
/// # Ok::<(), netfilter_testkit::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Backend {
    /// iptables/ip6tables where the target works there, else nft (see the [module docs](self)).
    #[default]
    Auto,
    /// `iptables`/`ip6tables` (with the nft or legacy backend, whichever is installed).
    Iptables,
    /// `nft`, in a table named `nftk`.
    Nft,
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Backend::Auto => "auto",
            Backend::Iptables => "iptables",
            Backend::Nft => "nft",
        })
    }
}

/// The nft table the testkit puts its rules in.
pub const NFT_TABLE: &str = "nftk";

#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    Queue {
        first: u16,
        last: u16,
        bypass: bool,
        cpu_fanout: bool,
    },
    Log {
        group: u16,
        prefix: Option<String>,
        size: Option<u32>,
        threshold: Option<u16>,
    },
}

/// An NFQUEUE or NFLOG rule, built step by step and installed with [`Rule::apply`].
///
/// Defaults: IPv4, table `filter`, hook INPUT, no match, [`Backend::Auto`].
///
/// ```
/// use netfilter_testkit::rules::{Protocol, Rule};
///
/// let rule = Rule::queue(3).protocol(Protocol::Udp).dport(53).bypass();
/// assert_eq!(
///     rule.iptables_argv()?.join(" "),
///     "iptables -w -t filter -A INPUT -p udp --dport 53 -j NFQUEUE --queue-num 3 --queue-bypass"
/// );
/// assert!(rule.nft_script()?.ends_with("meta l4proto udp udp dport 53 queue flags bypass num 3\n"));
/// # Ok::<(), netfilter_testkit::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use = "a rule does nothing until applied"]
pub struct Rule {
    family: Family,
    table: Table,
    hook: Hook,
    protocol: Option<Protocol>,
    sport: Option<u16>,
    dport: Option<u16>,
    source: Option<IpAddr>,
    destination: Option<IpAddr>,
    target: Target,
    backend: Backend,
    misuse: Option<&'static str>,
}

impl Rule {
    fn new(target: Target) -> Rule {
        Rule {
            family: Family::Ipv4,
            table: Table::Filter,
            hook: Hook::Input,
            protocol: None,
            sport: None,
            dport: None,
            source: None,
            destination: None,
            target,
            backend: Backend::Auto,
            misuse: None,
        }
    }

    /// `-j NFQUEUE --queue-num <num>`: queue matching packets to queue `num`.
    ///
    /// ```
    /// use netfilter_testkit::rules::Rule;
    ///
    /// assert!(Rule::queue(7).iptables_argv()?.join(" ").ends_with("-j NFQUEUE --queue-num 7"));
    /// # Ok::<(), netfilter_testkit::Error>(())
    /// ```
    pub fn queue(num: u16) -> Rule {
        Rule::new(Target::Queue {
            first: num,
            last: num,
            bypass: false,
            cpu_fanout: false,
        })
    }

    /// `-j NFQUEUE --queue-balance <first>:<last>`: spread packets over queues `first..=last`
    /// by flow hash.
    ///
    /// ```
    /// use netfilter_testkit::rules::Rule;
    ///
    /// assert!(Rule::queue_balance(0, 3).iptables_argv()?.join(" ").ends_with("--queue-balance 0:3"));
    /// assert!(Rule::queue_balance(0, 3).nft_script()?.contains("queue num 0-3"));
    /// assert!(Rule::queue_balance(3, 0).iptables_argv().is_err()); // an empty range
    /// # Ok::<(), netfilter_testkit::Error>(())
    /// ```
    pub fn queue_balance(first: u16, last: u16) -> Rule {
        Rule::new(Target::Queue {
            first,
            last,
            bypass: false,
            cpu_fanout: false,
        })
    }

    /// `-j NFLOG --nflog-group <group>`: copy matching packets to log group `group`.
    ///
    /// ```
    /// use netfilter_testkit::rules::Rule;
    ///
    /// assert!(Rule::log(5).iptables_argv()?.join(" ").ends_with("-j NFLOG --nflog-group 5"));
    /// assert!(Rule::log(5).nft_script()?.contains("log group 5"));
    /// # Ok::<(), netfilter_testkit::Error>(())
    /// ```
    pub fn log(group: u16) -> Rule {
        Rule::new(Target::Log {
            group,
            prefix: None,
            size: None,
            threshold: None,
        })
    }

    /// The address family (default IPv4).
    ///
    /// ```
    /// use netfilter_testkit::rules::{Family, Rule};
    ///
    /// let rule = Rule::log(1).family(Family::Ipv6);
    /// assert_eq!(rule.rule_family(), Family::Ipv6);
    /// assert!(rule.nft_script()?.starts_with("add table ip6 nftk\n"));
    /// # Ok::<(), netfilter_testkit::Error>(())
    /// ```
    pub fn family(mut self, family: Family) -> Rule {
        self.family = family;
        self
    }

    /// The table (default `filter`).
    ///
    /// ```
    /// use netfilter_testkit::rules::{Rule, Table};
    ///
    /// assert_eq!(Rule::queue(0).table(Table::Mangle).iptables_argv()?[2..4], ["-t", "mangle"]);
    /// # Ok::<(), netfilter_testkit::Error>(())
    /// ```
    pub fn table(mut self, table: Table) -> Rule {
        self.table = table;
        self
    }

    /// The hook (default INPUT).
    ///
    /// ```
    /// use netfilter_testkit::rules::{Hook, Rule};
    ///
    /// assert_eq!(Rule::log(0).hook(Hook::Output).iptables_argv()?[5], "OUTPUT");
    /// # Ok::<(), netfilter_testkit::Error>(())
    /// ```
    pub fn hook(mut self, hook: Hook) -> Rule {
        self.hook = hook;
        self
    }

    /// Match a transport protocol.
    ///
    /// ```
    /// use netfilter_testkit::rules::{Protocol, Rule};
    ///
    /// assert!(Rule::queue(0).protocol(Protocol::Tcp).iptables_argv()?.join(" ").contains("-p tcp"));
    /// # Ok::<(), netfilter_testkit::Error>(())
    /// ```
    pub fn protocol(mut self, protocol: Protocol) -> Rule {
        self.protocol = Some(protocol);
        self
    }

    /// Match a source port (needs [`Protocol::Tcp`] or [`Protocol::Udp`]).
    ///
    /// ```
    /// use netfilter_testkit::rules::{Protocol, Rule};
    ///
    /// let rule = Rule::queue(0).protocol(Protocol::Tcp).sport(22);
    /// assert!(rule.iptables_argv()?.join(" ").contains("-p tcp --sport 22"));
    /// assert!(rule.nft_script()?.contains("tcp sport 22"));
    /// // A port means nothing without TCP or UDP.
    /// assert!(Rule::queue(0).sport(22).iptables_argv().is_err());
    /// # Ok::<(), netfilter_testkit::Error>(())
    /// ```
    pub fn sport(mut self, port: u16) -> Rule {
        self.sport = Some(port);
        self
    }

    /// Match a destination port (needs [`Protocol::Tcp`] or [`Protocol::Udp`]).
    ///
    /// ```
    /// use netfilter_testkit::rules::{Protocol, Rule};
    ///
    /// let rule = Rule::log(1).protocol(Protocol::Udp).dport(514);
    /// assert!(rule.iptables_argv()?.join(" ").contains("--dport 514"));
    /// assert!(rule.nft_script()?.contains("udp dport 514"));
    /// # Ok::<(), netfilter_testkit::Error>(())
    /// ```
    pub fn dport(mut self, port: u16) -> Rule {
        self.dport = Some(port);
        self
    }

    /// Match a source address; its family must match the rule's.
    ///
    /// ```
    /// use netfilter_testkit::rules::Rule;
    ///
    /// let rule = Rule::queue(0).source("198.18.0.1".parse().unwrap());
    /// assert!(rule.iptables_argv()?.join(" ").contains("-s 198.18.0.1"));
    /// // An IPv6 address in an IPv4 rule is refused.
    /// assert!(Rule::queue(0).source("2001:db8::1".parse().unwrap()).iptables_argv().is_err());
    /// # Ok::<(), netfilter_testkit::Error>(())
    /// ```
    pub fn source(mut self, addr: IpAddr) -> Rule {
        self.source = Some(addr);
        self
    }

    /// Match a destination address; its family must match the rule's.
    ///
    /// ```
    /// use netfilter_testkit::rules::Rule;
    ///
    /// let rule = Rule::log(1).destination("198.18.0.2".parse().unwrap());
    /// assert!(rule.iptables_argv()?.join(" ").contains("-d 198.18.0.2"));
    /// assert!(rule.nft_script()?.contains("ip daddr 198.18.0.2"));
    /// # Ok::<(), netfilter_testkit::Error>(())
    /// ```
    pub fn destination(mut self, addr: IpAddr) -> Rule {
        self.destination = Some(addr);
        self
    }

    /// NFQUEUE `--queue-bypass`: accept packets when no program listens on the queue instead
    /// of dropping them.
    ///
    /// ```
    /// use netfilter_testkit::rules::Rule;
    ///
    /// assert!(Rule::queue(0).bypass().iptables_argv()?.join(" ").ends_with("--queue-bypass"));
    /// assert!(Rule::log(0).bypass().iptables_argv().is_err()); // NFQUEUE only
    /// # Ok::<(), netfilter_testkit::Error>(())
    /// ```
    pub fn bypass(mut self) -> Rule {
        match &mut self.target {
            Target::Queue { bypass, .. } => *bypass = true,
            Target::Log { .. } => self.misuse = Some("bypass() applies to NFQUEUE rules only"),
        }
        self
    }

    /// NFQUEUE `--queue-cpu-fanout`: with a balance range, pick the queue by CPU.
    ///
    /// ```
    /// use netfilter_testkit::rules::Rule;
    ///
    /// let rule = Rule::queue_balance(0, 1).cpu_fanout().bypass();
    /// assert!(rule.iptables_argv()?.join(" ").ends_with("--queue-balance 0:1 --queue-bypass --queue-cpu-fanout"));
    /// assert!(rule.nft_script()?.contains("queue flags bypass,fanout num 0-1"));
    /// # Ok::<(), netfilter_testkit::Error>(())
    /// ```
    pub fn cpu_fanout(mut self) -> Rule {
        match &mut self.target {
            Target::Queue { cpu_fanout, .. } => *cpu_fanout = true,
            Target::Log { .. } => self.misuse = Some("cpu_fanout() applies to NFQUEUE rules only"),
        }
        self
    }

    /// NFLOG `--nflog-prefix` (at most 63 bytes, no quotes, backslashes or control characters).
    ///
    /// ```
    /// use netfilter_testkit::rules::Rule;
    ///
    /// assert!(Rule::log(1).prefix("ssh").nft_script()?.contains("log group 1 prefix \"ssh\""));
    /// assert!(Rule::log(1).prefix("say \"hi\"").iptables_argv().is_err()); // quotes refused
    /// assert!(Rule::queue(1).prefix("ssh").iptables_argv().is_err()); // NFLOG only
    /// # Ok::<(), netfilter_testkit::Error>(())
    /// ```
    pub fn prefix(mut self, text: &str) -> Rule {
        match &mut self.target {
            Target::Log { prefix, .. } => *prefix = Some(text.to_owned()),
            Target::Queue { .. } => self.misuse = Some("prefix() applies to NFLOG rules only"),
        }
        self
    }

    /// NFLOG `--nflog-size` (nft `snaplen`): copy at most `bytes` of each packet.
    ///
    /// ```
    /// use netfilter_testkit::rules::Rule;
    ///
    /// let rule = Rule::log(1).size(128);
    /// assert!(rule.iptables_argv()?.join(" ").ends_with("--nflog-size 128"));
    /// assert!(rule.nft_script()?.contains("snaplen 128"));
    /// # Ok::<(), netfilter_testkit::Error>(())
    /// ```
    pub fn size(mut self, bytes: u32) -> Rule {
        match &mut self.target {
            Target::Log { size, .. } => *size = Some(bytes),
            Target::Queue { .. } => self.misuse = Some("size() applies to NFLOG rules only"),
        }
        self
    }

    /// NFLOG `--nflog-threshold` (nft `queue-threshold`): batch this many packets in the kernel
    /// before sending them.
    ///
    /// ```
    /// use netfilter_testkit::rules::Rule;
    ///
    /// let rule = Rule::log(1).threshold(10);
    /// assert!(rule.iptables_argv()?.join(" ").ends_with("--nflog-threshold 10"));
    /// assert!(rule.nft_script()?.contains("queue-threshold 10"));
    /// # Ok::<(), netfilter_testkit::Error>(())
    /// ```
    pub fn threshold(mut self, packets: u16) -> Rule {
        match &mut self.target {
            Target::Log { threshold, .. } => *threshold = Some(packets),
            Target::Queue { .. } => self.misuse = Some("threshold() applies to NFLOG rules only"),
        }
        self
    }

    /// Forces a backend (default [`Backend::Auto`]).
    ///
    /// ```
    /// use netfilter_testkit::rules::{Backend, Rule};
    ///
    /// // Forced: `resolve_backend` then only probes nft (and `apply` uses it or fails).
    /// let rule = Rule::log(1).backend(Backend::Nft);
    /// match rule.resolve_backend() {
    ///     Ok(backend) => assert_eq!(backend, Backend::Nft),
    ///     Err(err) => assert!(matches!(err, netfilter_testkit::Error::Unsupported { .. })),
    /// }
    /// ```
    pub fn backend(mut self, backend: Backend) -> Rule {
        self.backend = backend;
        self
    }

    /// The rule's family.
    ///
    /// ```
    /// use netfilter_testkit::rules::{Family, Rule};
    ///
    /// assert_eq!(Rule::queue(0).rule_family(), Family::Ipv4); // the default
    /// ```
    pub fn rule_family(&self) -> Family {
        self.family
    }

    fn is_queue(&self) -> bool {
        matches!(self.target, Target::Queue { .. })
    }

    fn validate(&self) -> Result<(), Error> {
        let invalid = |reason: String| Err(Error::Invalid { reason });
        if let Some(misuse) = self.misuse {
            return invalid(misuse.into());
        }
        if !self.table.has(self.hook) {
            return invalid(format!(
                "table {} has no {} chain",
                self.table.name(),
                self.hook.chain()
            ));
        }
        if (self.sport.is_some() || self.dport.is_some())
            && !matches!(self.protocol, Some(Protocol::Tcp) | Some(Protocol::Udp))
        {
            return invalid("a port match needs Protocol::Tcp or Protocol::Udp".into());
        }
        for addr in [self.source, self.destination].into_iter().flatten() {
            if Family::of(addr) != self.family {
                return invalid(format!("address {addr} does not match the rule's family"));
            }
        }
        match &self.target {
            Target::Queue { first, last, .. } if first > last => {
                invalid(format!("queue balance range {first}:{last} is empty"))
            }
            Target::Log {
                prefix: Some(prefix),
                ..
            } if prefix.len() > 63
                || prefix
                    .chars()
                    .any(|c| c == '"' || c == '\\' || c.is_control()) =>
            {
                invalid(format!(
                    "log prefix {prefix:?} is longer than 63 bytes or has quotes, backslashes \
                     or control characters"
                ))
            }
            _ => Ok(()),
        }
    }

    /// The iptables/ip6tables command line that installs the rule (appended to the chain).
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] for an impossible rule (see [`Rule::apply`]).
    ///
    /// ```
    /// use netfilter_testkit::rules::{Hook, Protocol, Rule, Table};
    ///
    /// let argv = Rule::log(2).table(Table::Mangle).hook(Hook::Output).protocol(Protocol::Icmp).prefix("ping").iptables_argv()?;
    /// assert_eq!(argv, [
    ///     "iptables", "-w", "-t", "mangle", "-A", "OUTPUT", "-p", "icmp",
    ///     "-j", "NFLOG", "--nflog-group", "2", "--nflog-prefix", "ping",
    /// ]);
    /// # Ok::<(), netfilter_testkit::Error>(())
    /// ```
    pub fn iptables_argv(&self) -> Result<Vec<String>, Error> {
        self.validate()?;
        let mut argv: Vec<String> = [
            self.family.iptables(),
            "-w",
            "-t",
            self.table.name(),
            "-A",
            self.hook.chain(),
        ]
        .map(String::from)
        .into();
        let mut push = |items: &[&str]| argv.extend(items.iter().map(|s| s.to_string()));
        if let Some(protocol) = self.protocol {
            push(&["-p", protocol.iptables(self.family)]);
        }
        if let Some(addr) = self.source {
            push(&["-s", &addr.to_string()]);
        }
        if let Some(addr) = self.destination {
            push(&["-d", &addr.to_string()]);
        }
        if let Some(port) = self.sport {
            push(&["--sport", &port.to_string()]);
        }
        if let Some(port) = self.dport {
            push(&["--dport", &port.to_string()]);
        }
        match &self.target {
            Target::Queue {
                first,
                last,
                bypass,
                cpu_fanout,
            } => {
                push(&["-j", "NFQUEUE"]);
                if first == last {
                    push(&["--queue-num", &first.to_string()]);
                } else {
                    push(&["--queue-balance", &format!("{first}:{last}")]);
                }
                if *bypass {
                    push(&["--queue-bypass"]);
                }
                if *cpu_fanout {
                    push(&["--queue-cpu-fanout"]);
                }
            }
            Target::Log {
                group,
                prefix,
                size,
                threshold,
            } => {
                push(&["-j", "NFLOG", "--nflog-group", &group.to_string()]);
                if let Some(prefix) = prefix {
                    push(&["--nflog-prefix", prefix]);
                }
                if let Some(size) = size {
                    push(&["--nflog-size", &size.to_string()]);
                }
                if let Some(threshold) = threshold {
                    push(&["--nflog-threshold", &threshold.to_string()]);
                }
            }
        }
        Ok(argv)
    }

    /// The `nft -f` script that installs the rule in table [`NFT_TABLE`], in a base chain
    /// named `<table>_<hook>` (both created if missing).
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] for an impossible rule (see [`Rule::apply`]).
    ///
    /// ```
    /// use netfilter_testkit::rules::{Protocol, Rule};
    ///
    /// let script = Rule::queue(1).protocol(Protocol::Tcp).dport(80).nft_script()?;
    /// assert_eq!(script, "\
    /// add table ip nftk
    /// add chain ip nftk filter_input { type filter hook input priority 0; policy accept; }
    /// add rule ip nftk filter_input meta l4proto tcp tcp dport 80 queue num 1
    /// ");
    /// # Ok::<(), netfilter_testkit::Error>(())
    /// ```
    pub fn nft_script(&self) -> Result<String, Error> {
        self.validate()?;
        let family = self.family.nft();
        let chain = format!("{}_{}", self.table.name(), self.hook.nft());
        let mut rule = Vec::<String>::new();
        if let Some(protocol) = self.protocol {
            rule.push(format!("meta l4proto {}", protocol.nft(self.family)));
        }
        if let Some(addr) = self.source {
            rule.push(format!("{family} saddr {addr}"));
        }
        if let Some(addr) = self.destination {
            rule.push(format!("{family} daddr {addr}"));
        }
        if let Some(protocol) = self.protocol {
            let name = protocol.nft(self.family);
            if let Some(port) = self.sport {
                rule.push(format!("{name} sport {port}"));
            }
            if let Some(port) = self.dport {
                rule.push(format!("{name} dport {port}"));
            }
        }
        match &self.target {
            Target::Queue {
                first,
                last,
                bypass,
                cpu_fanout,
            } => {
                let mut flags = Vec::new();
                if *bypass {
                    flags.push("bypass");
                }
                if *cpu_fanout {
                    flags.push("fanout");
                }
                let mut statement = String::from("queue");
                if !flags.is_empty() {
                    statement.push_str(&format!(" flags {}", flags.join(",")));
                }
                if first == last {
                    statement.push_str(&format!(" num {first}"));
                } else {
                    statement.push_str(&format!(" num {first}-{last}"));
                }
                rule.push(statement);
            }
            Target::Log {
                group,
                prefix,
                size,
                threshold,
            } => {
                let mut statement = format!("log group {group}");
                if let Some(prefix) = prefix {
                    statement.push_str(&format!(" prefix \"{prefix}\""));
                }
                if let Some(size) = size {
                    statement.push_str(&format!(" snaplen {size}"));
                }
                if let Some(threshold) = threshold {
                    statement.push_str(&format!(" queue-threshold {threshold}"));
                }
                rule.push(statement);
            }
        }
        Ok(format!(
            "add table {family} {NFT_TABLE}\n\
             add chain {family} {NFT_TABLE} {chain} {{ type {ty} hook {hook} priority {prio}; policy accept; }}\n\
             add rule {family} {NFT_TABLE} {chain} {rule}\n",
            ty = self.table.nft_type(self.hook),
            hook = self.hook.nft(),
            prio = self.table.nft_priority(self.hook),
            rule = rule.join(" "),
        ))
    }

    /// The backend [`Rule::apply`] would use, after probing (see [`probe`]).
    ///
    /// # Errors
    ///
    /// [`Error::Unsupported`] when neither backend (or not the forced one) supports the target.
    ///
    /// ```no_run
    /// use netfilter_testkit::rules::{Backend, Rule};
    ///
    /// // On a kernel with xt_NFQUEUE and iptables installed, NFQUEUE goes through iptables.
    /// assert_eq!(Rule::queue(0).resolve_backend()?, Backend::Iptables);
    /// # Ok::<(), netfilter_testkit::Error>(())
    /// ```
    pub fn resolve_backend(&self) -> Result<Backend, Error> {
        let (iptables, nft) = match (self.is_queue(), self.family) {
            (true, Family::Ipv4) => (Feature::IptablesNfqueue, Feature::NftQueue),
            (true, Family::Ipv6) => (Feature::Ip6tablesNfqueue, Feature::NftQueue),
            (false, Family::Ipv4) => (Feature::IptablesNflog, Feature::NftLog),
            (false, Family::Ipv6) => (Feature::Ip6tablesNflog, Feature::NftLog),
        };
        match self.backend {
            Backend::Iptables => probe::require(iptables).map(|()| Backend::Iptables),
            Backend::Nft => probe::require(nft).map(|()| Backend::Nft),
            Backend::Auto => match probe::require(iptables) {
                Ok(()) => Ok(Backend::Iptables),
                Err(iptables_error) => probe::require(nft).map(|()| Backend::Nft).map_err(|_| {
                    Error::unsupported(
                        format!("{} and {}", iptables.describe(), nft.describe()),
                        iptables_error.to_string(),
                    )
                }),
            },
        }
    }

    /// Installs the rule inside `sandbox` and returns the backend used.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] for an impossible rule: a chain the table lacks, a port without
    /// TCP/UDP, an address of the other family, an empty balance range, a bad log prefix, or a
    /// NFQUEUE option on a NFLOG rule (and vice versa). [`Error::Unsupported`] when the chosen
    /// backend cannot express it on this machine. [`Error::Command`] when the tool refuses.
    ///
    /// ```no_run
    /// use netfilter_testkit::Sandbox;
    /// use netfilter_testkit::rules::{Protocol, Rule};
    ///
    /// let sandbox = Sandbox::new()?; // needs root (or see `sandbox_or_skip!`)
    /// let backend = Rule::queue(0).protocol(Protocol::Udp).dport(53).apply(&sandbox)?;
    /// println!("installed with {backend}");
    /// # Ok::<(), netfilter_testkit::Error>(())
    /// ```
    pub fn apply(&self, sandbox: &Sandbox) -> Result<Backend, Error> {
        self.validate()?;
        let backend = self.resolve_backend()?;
        self.apply_with(sandbox, backend)?;
        Ok(backend)
    }

    /// Installs the rule with `backend` without probing ([`Backend::Auto`] means iptables).
    pub(crate) fn apply_with(&self, sandbox: &Sandbox, backend: Backend) -> Result<(), Error> {
        match backend {
            Backend::Nft => {
                sandbox.exec_with_input(&["nft", "-f", "-"], &self.nft_script()?)?;
            }
            Backend::Iptables | Backend::Auto => {
                let argv = self.iptables_argv()?;
                let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
                sandbox.exec(&argv)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv6Addr;

    #[test]
    fn queue_rule_to_iptables() {
        let rule = Rule::queue_balance(2, 5)
            .table(Table::Mangle)
            .hook(Hook::Prerouting)
            .protocol(Protocol::Udp)
            .dport(53)
            .bypass()
            .cpu_fanout();
        assert_eq!(
            rule.iptables_argv().unwrap().join(" "),
            "iptables -w -t mangle -A PREROUTING -p udp --dport 53 -j NFQUEUE \
             --queue-balance 2:5 --queue-bypass --queue-cpu-fanout"
        );
        assert_eq!(
            rule.nft_script().unwrap().lines().last().unwrap(),
            "add rule ip nftk mangle_prerouting meta l4proto udp udp dport 53 \
             queue flags bypass,fanout num 2-5"
        );
    }

    #[test]
    fn log_rule_to_both_backends() {
        let rule = Rule::log(7)
            .family(Family::Ipv6)
            .hook(Hook::Output)
            .protocol(Protocol::Icmp)
            .destination(IpAddr::V6(Ipv6Addr::LOCALHOST))
            .prefix("hello world")
            .size(96)
            .threshold(4);
        assert_eq!(
            rule.iptables_argv().unwrap().join(" "),
            "ip6tables -w -t filter -A OUTPUT -p ipv6-icmp -d ::1 -j NFLOG --nflog-group 7 \
             --nflog-prefix hello world --nflog-size 96 --nflog-threshold 4"
        );
        let script = rule.nft_script().unwrap();
        assert!(script.contains(
            "add chain ip6 nftk filter_output { type filter hook output priority 0; policy accept; }"
        ));
        assert!(script.ends_with(
            "add rule ip6 nftk filter_output meta l4proto ipv6-icmp ip6 daddr ::1 \
             log group 7 prefix \"hello world\" snaplen 96 queue-threshold 4\n"
        ));
    }

    #[test]
    fn impossible_rules_are_refused() {
        let invalid = |rule: Rule| matches!(rule.iptables_argv(), Err(Error::Invalid { .. }));
        assert!(invalid(Rule::queue(0).table(Table::Raw).hook(Hook::Input)));
        assert!(invalid(Rule::queue(0).dport(80)));
        assert!(invalid(Rule::queue(0).protocol(Protocol::Icmp).dport(80)));
        assert!(invalid(
            Rule::queue(0).source(IpAddr::V6(Ipv6Addr::LOCALHOST))
        ));
        assert!(invalid(Rule::queue_balance(3, 1)));
        assert!(invalid(Rule::log(1).bypass()));
        assert!(invalid(Rule::queue(1).prefix("x")));
        assert!(invalid(Rule::log(1).prefix("a\"b")));
        assert!(!invalid(
            Rule::queue(0).table(Table::Nat).hook(Hook::Postrouting)
        ));
    }
}
