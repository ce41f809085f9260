//! Typed NFQUEUE, NFLOG, MARK and counting rules, applied inside a sandbox with
//! iptables/ip6tables or nft.
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
//!
//! # Marks, counters and removal
//!
//! [`Rule::set_mark`] sets the packet mark (`-j MARK --set-mark`, nft `meta mark set`),
//! [`Rule::mark`] matches it (`-m mark --mark`, nft `meta mark`; [`Rule::not_mark`] the
//! opposite), and [`Rule::count`] only counts. [`Rule::install`] returns an
//! [`InstalledRule`], whose [`counters`](InstalledRule::counters) tell how many packets and
//! bytes the rule matched and which deletes the rule again when dropped (or on
//! [`InstalledRule::remove`]), so that one test can compare "with" and "without":
//!
//! ```no_run
//! # fn main() -> Result<(), netfilter_testkit::Error> {
//! use netfilter_testkit::Sandbox;
//! use netfilter_testkit::rules::{Hook, Protocol, Rule, Table};
//! use netfilter_testkit::traffic;
//!
//! let sandbox = Sandbox::new()?;
//! let to = ([127, 0, 0, 1], 9000).into();
//! // Mark UDP to port 9000 on the way out, count marked packets on the way in.
//! let marking = Rule::set_mark(0x2a)
//!     .table(Table::Mangle)
//!     .hook(Hook::Output)
//!     .protocol(Protocol::Udp)
//!     .dport(9000)
//!     .install(&sandbox)?;
//! let marked = Rule::count().mark(0x2a).install(&sandbox)?;
//! traffic::udp_send(&sandbox, to, b"one")?;
//! assert_eq!(marked.counters()?.packets, 1);
//! marking.remove()?; // without the MARK rule, nothing is marked any more
//! traffic::udp_send(&sandbox, to, b"two")?;
//! assert_eq!(marked.counters()?.packets, 1);
//! # Ok(())
//! # }
//! ```

use std::fmt;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU32, Ordering};

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
    /// `-j MARK --set-mark`.
    Mark { value: u32 },
    /// No target: the rule only counts.
    Count,
}

/// An NFQUEUE, NFLOG, MARK or counting rule, built step by step and installed with
/// [`Rule::apply`] (for the sandbox's life) or [`Rule::install`] (removed again on drop).
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
    /// `-m mark [!] --mark value/mask`.
    mark: Option<MarkMatch>,
    target: Target,
    backend: Backend,
    misuse: Option<&'static str>,
    /// The comment that names an installed rule (see [`Rule::install`]); with nft, a tagged
    /// rule also gets a `counter`.
    tag: Option<String>,
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
            mark: None,
            target,
            backend: Backend::Auto,
            misuse: None,
            tag: None,
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

    /// `-j MARK --set-mark <value>` (nft `meta mark set <value>`): give matching packets the
    /// mark `value`; the packet goes on to the next rule.
    pub fn set_mark(value: u32) -> Rule {
        Rule::new(Target::Mark { value })
    }

    /// A rule without a target: it only counts the packets it matches (read them with
    /// [`InstalledRule::counters`]); the packet goes on to the next rule.
    pub fn count() -> Rule {
        Rule::new(Target::Count)
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

    /// Match packets whose mark is `value` (`-m mark --mark <value>`, nft `meta mark <value>`).
    pub fn mark(self, value: u32) -> Rule {
        self.mark_masked(value, u32::MAX)
    }

    /// Match packets whose mark, ANDed with `mask`, is `value` (`-m mark --mark
    /// <value>/<mask>`, nft `meta mark and <mask> == <value>`).
    pub fn mark_masked(self, value: u32, mask: u32) -> Rule {
        self.mark_match(value, mask, false)
    }

    /// Match packets whose mark is *not* `value` (`-m mark ! --mark <value>`, nft
    /// `meta mark != <value>`): a queue rule that lets through what a verdict marked, so
    /// that a repeat verdict with that mark does not queue the packet again.
    ///
    /// ```
    /// use netfilter_testkit::rules::{Protocol, Rule};
    ///
    /// let rule = Rule::queue(0).protocol(Protocol::Udp).dport(9000).not_mark(0x5a);
    /// assert!(rule.iptables_argv()?.join(" ").contains("-m mark ! --mark 0x5a"));
    /// let rule = Rule::log(1).not_mark_masked(0x1, 0xff);
    /// assert!(rule.nft_script()?.contains("meta mark and 0xff != 0x1"));
    /// # Ok::<(), netfilter_testkit::Error>(())
    /// ```
    pub fn not_mark(self, value: u32) -> Rule {
        self.not_mark_masked(value, u32::MAX)
    }

    /// Match packets whose mark, ANDed with `mask`, is *not* `value` (`-m mark ! --mark
    /// <value>/<mask>`, nft `meta mark and <mask> != <value>`).
    pub fn not_mark_masked(self, value: u32, mask: u32) -> Rule {
        self.mark_match(value, mask, true)
    }

    fn mark_match(mut self, value: u32, mask: u32, negated: bool) -> Rule {
        self.mark = Some(MarkMatch {
            value,
            mask,
            negated,
        });
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
            _ => self.misuse = Some("bypass() applies to NFQUEUE rules only"),
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
            _ => self.misuse = Some("cpu_fanout() applies to NFQUEUE rules only"),
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
            _ => self.misuse = Some("prefix() applies to NFLOG rules only"),
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
            _ => self.misuse = Some("size() applies to NFLOG rules only"),
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
            _ => self.misuse = Some("threshold() applies to NFLOG rules only"),
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

    /// The features the rule needs with `backend` (iptables for [`Backend::Auto`]): its
    /// target's and its matches'.
    fn needs(&self, backend: Backend) -> Vec<Feature> {
        let v4 = self.family == Family::Ipv4;
        let pick = |iptables: Feature, ip6tables: Feature, nft: Feature| match backend {
            Backend::Nft => nft,
            Backend::Iptables | Backend::Auto if v4 => iptables,
            Backend::Iptables | Backend::Auto => ip6tables,
        };
        let mark = || {
            pick(
                Feature::IptablesMark,
                Feature::Ip6tablesMark,
                Feature::NftMark,
            )
        };
        let mut needs = Vec::new();
        match self.target {
            Target::Queue { .. } => needs.push(pick(
                Feature::IptablesNfqueue,
                Feature::Ip6tablesNfqueue,
                Feature::NftQueue,
            )),
            Target::Log { .. } => needs.push(pick(
                Feature::IptablesNflog,
                Feature::Ip6tablesNflog,
                Feature::NftLog,
            )),
            Target::Mark { .. } => needs.push(mark()),
            Target::Count => {}
        }
        if self.mark.is_some() && !needs.contains(&mark()) {
            needs.push(mark());
        }
        needs
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
        self.iptables_command("-A")
    }

    /// The iptables/ip6tables command line that appends (`-A`) or deletes (`-D`) the rule.
    fn iptables_command(&self, action: &str) -> Result<Vec<String>, Error> {
        self.validate()?;
        let mut argv: Vec<String> = [
            self.family.iptables(),
            "-w",
            "-t",
            self.table.name(),
            action,
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
        if let Some(MarkMatch {
            value,
            mask,
            negated,
        }) = self.mark
        {
            push(&["-m", "mark"]);
            if negated {
                push(&["!"]);
            }
            push(&["--mark", &mark_text(value, mask)]);
        }
        if let Some(tag) = &self.tag {
            push(&["-m", "comment", "--comment", tag]);
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
            Target::Mark { value } => push(&["-j", "MARK", "--set-mark", &format!("{value:#x}")]),
            Target::Count => {}
        }
        Ok(argv)
    }

    /// The `nft -f` script that installs the rule in table [`NFT_TABLE`], in a base chain
    /// named `<table>_<hook>` (both created if missing), chain [`Rule::nft_chain`].
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
        let chain = self.nft_chain();
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
        if let Some(MarkMatch {
            value,
            mask,
            negated,
        }) = self.mark
        {
            rule.push(match (mask, negated) {
                (u32::MAX, false) => format!("meta mark {value:#x}"),
                (u32::MAX, true) => format!("meta mark != {value:#x}"),
                (mask, false) => format!("meta mark and {mask:#x} == {value:#x}"),
                (mask, true) => format!("meta mark and {mask:#x} != {value:#x}"),
            });
        }
        if self.tag.is_some() {
            rule.push("counter".into());
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
            Target::Mark { value } => rule.push(format!("meta mark set {value:#x}")),
            Target::Count => {}
        }
        if let Some(tag) = &self.tag {
            rule.push(format!("comment \"{tag}\""));
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
        let require_all = |backend| -> Result<Backend, Error> {
            for feature in self.needs(backend) {
                probe::require(feature)?;
            }
            Ok(backend)
        };
        match self.backend {
            Backend::Auto => require_all(Backend::Iptables).or_else(|iptables_error| {
                require_all(Backend::Nft).map_err(|nft_error| {
                    Error::unsupported(
                        "the rule with iptables and with nft",
                        format!("{iptables_error}; {nft_error}"),
                    )
                })
            }),
            forced => require_all(forced),
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

    /// Installs the rule inside `sandbox` like [`Rule::apply`], and returns a handle that reads
    /// its counters and deletes it again when dropped (or on [`InstalledRule::remove`]).
    ///
    /// The rule carries a comment that names it (`-m comment --comment nftk-rule-<n>`, nft
    /// `comment`), so that it can be found among the chain's other rules; with nft it also
    /// gets a `counter` statement.
    ///
    /// # Errors
    ///
    /// As for [`Rule::apply`].
    pub fn install<'s>(&self, sandbox: &'s Sandbox) -> Result<InstalledRule<'s>, Error> {
        static NEXT_TAG: AtomicU32 = AtomicU32::new(0);
        let mut rule = self.clone();
        rule.tag = Some(format!(
            "nftk-rule-{}",
            NEXT_TAG.fetch_add(1, Ordering::Relaxed)
        ));
        let backend = rule.apply(sandbox)?;
        Ok(InstalledRule {
            sandbox,
            rule,
            backend,
            removed: false,
        })
    }

    /// The nft base chain the rule goes to: `<table>_<hook>` in table [`NFT_TABLE`].
    pub fn nft_chain(&self) -> String {
        format!("{}_{}", self.table.name(), self.hook.nft())
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

/// A mark match: the packet's mark ANDed with `mask` is `value`, or with `negated` is not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct MarkMatch {
    value: u32,
    mask: u32,
    negated: bool,
}

/// `value` or `value/mask` as iptables' mark match writes it.
fn mark_text(value: u32, mask: u32) -> String {
    if mask == u32::MAX {
        format!("{value:#x}")
    } else {
        format!("{value:#x}/{mask:#x}")
    }
}

/// A rule's packet and byte counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Counters {
    /// Packets the rule matched.
    pub packets: u64,
    /// Bytes of those packets (their layer 3 length).
    pub bytes: u64,
}

/// A rule installed by [`Rule::install`]: it reads the rule's counters, and deletes the rule
/// when dropped (errors are ignored there; [`InstalledRule::remove`] reports them).
#[derive(Debug)]
#[must_use = "dropping an InstalledRule removes the rule at once"]
pub struct InstalledRule<'s> {
    sandbox: &'s Sandbox,
    rule: Rule,
    backend: Backend,
    removed: bool,
}

impl InstalledRule<'_> {
    /// The backend that installed the rule ([`Backend::Iptables`] or [`Backend::Nft`]).
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The comment that names the rule in listings (`nftk-rule-<n>`).
    pub fn tag(&self) -> &str {
        self.rule.tag.as_deref().unwrap_or_default()
    }

    /// How many packets and bytes the rule has matched so far (iptables `-L -v -x`, nft
    /// `counter`).
    ///
    /// # Errors
    ///
    /// [`Error::Command`] when listing the chain fails; [`Error::Parse`] when the rule is not
    /// in the listing (someone flushed the chain) or its counters cannot be read.
    pub fn counters(&self) -> Result<Counters, Error> {
        match self.backend {
            Backend::Nft => {
                let rule = self.nft_rule()?;
                let counter = rule
                    .get("expr")
                    .and_then(|expr| expr.as_array())
                    .and_then(|expr| expr.iter().find_map(|e| e.get("counter")))
                    .and_then(|c| Some((c.get("packets")?.as_u64()?, c.get("bytes")?.as_u64()?)));
                match counter {
                    Some((packets, bytes)) => Ok(Counters { packets, bytes }),
                    None => Err(Error::Parse {
                        what: format!("the counter of nft rule {}", self.tag()),
                        input: rule.to_string(),
                    }),
                }
            }
            Backend::Iptables | Backend::Auto => {
                let rule = &self.rule;
                let listing = self.sandbox.exec(&[
                    rule.family.iptables(),
                    "-w",
                    "-t",
                    rule.table.name(),
                    "-L",
                    rule.hook.chain(),
                    "-v",
                    "-x",
                    "-n",
                ])?;
                parse_iptables_counters(&listing, self.tag())
            }
        }
    }

    /// Deletes the rule now.
    ///
    /// # Errors
    ///
    /// [`Error::Command`] when the tool refuses; [`Error::Parse`] when an nft rule is no longer
    /// in its chain.
    pub fn remove(mut self) -> Result<(), Error> {
        self.removed = true;
        self.delete()
    }

    fn delete(&self) -> Result<(), Error> {
        match self.backend {
            Backend::Nft => {
                let handle = self.nft_rule()?.get("handle").and_then(|h| h.as_u64());
                let Some(handle) = handle else {
                    return Err(Error::Parse {
                        what: format!("the handle of nft rule {}", self.tag()),
                        input: String::new(),
                    });
                };
                let handle = handle.to_string();
                let chain = self.rule.nft_chain();
                self.sandbox.exec(&[
                    "nft",
                    "delete",
                    "rule",
                    self.rule.family.nft(),
                    NFT_TABLE,
                    &chain,
                    "handle",
                    &handle,
                ])?;
            }
            Backend::Iptables | Backend::Auto => {
                let argv = self.rule.iptables_command("-D")?;
                let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
                self.sandbox.exec(&argv)?;
            }
        }
        Ok(())
    }

    /// The rule's object in `nft -j list chain`.
    fn nft_rule(&self) -> Result<serde_json::Value, Error> {
        let chain = self.rule.nft_chain();
        let listing = self.sandbox.exec(&[
            "nft",
            "-j",
            "list",
            "chain",
            self.rule.family.nft(),
            NFT_TABLE,
            &chain,
        ])?;
        find_nft_rule(&listing, self.tag())
    }
}

impl Drop for InstalledRule<'_> {
    fn drop(&mut self) {
        if !self.removed {
            // Nothing can be reported from Drop; the rule goes with its sandbox at the latest.
            let _ = self.delete();
        }
    }
}

/// The counters of the rule commented `/* tag */` in an `iptables -L -v -x -n` listing.
fn parse_iptables_counters(listing: &str, tag: &str) -> Result<Counters, Error> {
    let comment = format!("/* {tag} */");
    let parse_error = || Error::Parse {
        what: format!("the counters of iptables rule {tag}"),
        input: listing.to_owned(),
    };
    let line = listing
        .lines()
        .find(|line| line.contains(&comment))
        .ok_or_else(parse_error)?;
    let mut fields = line.split_whitespace().map(str::parse::<u64>);
    match (fields.next(), fields.next()) {
        (Some(Ok(packets)), Some(Ok(bytes))) => Ok(Counters { packets, bytes }),
        _ => Err(parse_error()),
    }
}

/// The rule commented `tag` in an `nft -j list chain` listing.
fn find_nft_rule(listing: &str, tag: &str) -> Result<serde_json::Value, Error> {
    let parse_error = || Error::Parse {
        what: format!("nft rule {tag} in the chain listing"),
        input: listing.to_owned(),
    };
    let json: serde_json::Value = serde_json::from_str(listing).map_err(|_| parse_error())?;
    json.get("nftables")
        .and_then(|items| items.as_array())
        .and_then(|items| {
            items
                .iter()
                .filter_map(|item| item.get("rule"))
                .find(|rule| rule.get("comment").and_then(|c| c.as_str()) == Some(tag))
        })
        .cloned()
        .ok_or_else(parse_error)
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
        assert!(invalid(Rule::set_mark(1).bypass()));
        assert!(invalid(Rule::count().prefix("x")));
        assert!(!invalid(
            Rule::queue(0).table(Table::Nat).hook(Hook::Postrouting)
        ));
    }

    #[test]
    fn mark_rules_to_both_backends() {
        let rule = Rule::set_mark(0x2a)
            .table(Table::Mangle)
            .hook(Hook::Prerouting)
            .protocol(Protocol::Udp)
            .dport(53)
            .mark_masked(0x1, 0xff);
        assert_eq!(
            rule.iptables_argv().unwrap().join(" "),
            "iptables -w -t mangle -A PREROUTING -p udp --dport 53 -m mark --mark 0x1/0xff \
             -j MARK --set-mark 0x2a"
        );
        assert!(rule.nft_script().unwrap().ends_with(
            "add rule ip nftk mangle_prerouting meta l4proto udp udp dport 53 \
             meta mark and 0xff == 0x1 meta mark set 0x2a\n"
        ));
        let count = Rule::count().family(Family::Ipv6).mark(7);
        assert_eq!(
            count.iptables_argv().unwrap().join(" "),
            "ip6tables -w -t filter -A INPUT -m mark --mark 0x7"
        );
        assert!(
            count
                .nft_script()
                .unwrap()
                .ends_with("add rule ip6 nftk filter_input meta mark 0x7\n")
        );
        assert_eq!(
            count.needs(Backend::Iptables),
            [Feature::Ip6tablesMark],
            "a mark match needs the mark feature"
        );
        assert_eq!(Rule::count().needs(Backend::Nft), []);
        assert_eq!(
            Rule::queue(1).mark(1).needs(Backend::Nft),
            [Feature::NftQueue, Feature::NftMark]
        );
    }

    #[test]
    fn tagged_rules_carry_a_comment_and_an_nft_counter() {
        let mut rule = Rule::queue(3).protocol(Protocol::Tcp);
        rule.tag = Some("nftk-rule-9".into());
        assert_eq!(
            rule.iptables_command("-D").unwrap().join(" "),
            "iptables -w -t filter -D INPUT -p tcp -m comment --comment nftk-rule-9 -j NFQUEUE \
             --queue-num 3"
        );
        assert!(rule.nft_script().unwrap().ends_with(
            "add rule ip nftk filter_input meta l4proto tcp counter queue num 3 \
             comment \"nftk-rule-9\"\n"
        ));
    }

    #[test]
    fn counters_are_parsed_from_listings() {
        let iptables = "Chain INPUT (policy ACCEPT 0 packets, 0 bytes)\n    pkts      bytes target     prot opt in     out     source               destination\n       3      252            17   --  *      *       0.0.0.0/0            0.0.0.0/0            udp dpt:9 /* nftk-rule-11 */\n       5      420 MARK       17   --  *      *       0.0.0.0/0            0.0.0.0/0            /* nftk-rule-1 */ MARK set 0x2a\n";
        assert_eq!(
            parse_iptables_counters(iptables, "nftk-rule-1").unwrap(),
            Counters {
                packets: 5,
                bytes: 420
            }
        );
        assert!(matches!(
            parse_iptables_counters(iptables, "nftk-rule-2"),
            Err(Error::Parse { .. })
        ));
        let nft = r#"{"nftables": [{"metainfo": {"version": "1.0.6"}}, {"chain": {"family": "ip", "table": "nftk", "name": "filter_input", "handle": 1}}, {"rule": {"family": "ip", "table": "nftk", "chain": "filter_input", "handle": 2, "comment": "nftk-rule-4", "expr": [{"match": {"op": "==", "left": {"meta": {"key": "mark"}}, "right": 42}}, {"counter": {"packets": 2, "bytes": 56}}]}}]}"#;
        let rule = find_nft_rule(nft, "nftk-rule-4").unwrap();
        assert_eq!(rule.get("handle").and_then(|h| h.as_u64()), Some(2));
        assert!(find_nft_rule(nft, "nftk-rule-40").is_err());
    }
}
