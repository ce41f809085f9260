//! Kernel enums and flags of queues and log groups, shared by every layer.

use std::fmt;
#[cfg(feature = "ffi")]
use std::time::{Duration, SystemTime};

use crate::wire::uapi as sys;

/// The netfilter hook a packet was seen at (`NF_INET_*`).
///
/// ```
/// use netfilter_safe::Hook;
///
/// assert_eq!(Hook::from(1), Hook::LocalIn); // NF_INET_LOCAL_IN
/// assert_eq!(u8::from(Hook::PostRouting), 4);
/// // Values outside NF_INET_* survive the round trip.
/// assert_eq!(Hook::from(7), Hook::Other(7));
/// assert_eq!(u8::from(Hook::Other(7)), 7);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Hook {
    /// `NF_INET_PRE_ROUTING`.
    PreRouting,
    /// `NF_INET_LOCAL_IN` (iptables `INPUT`).
    LocalIn,
    /// `NF_INET_FORWARD`.
    Forward,
    /// `NF_INET_LOCAL_OUT` (iptables `OUTPUT`).
    LocalOut,
    /// `NF_INET_POST_ROUTING`.
    PostRouting,
    /// Any other value (e.g. `NF_NETDEV_INGRESS` on the netdev family).
    Other(u8),
}

impl From<u8> for Hook {
    fn from(raw: u8) -> Self {
        match u32::from(raw) {
            sys::NF_INET_PRE_ROUTING => Hook::PreRouting,
            sys::NF_INET_LOCAL_IN => Hook::LocalIn,
            sys::NF_INET_FORWARD => Hook::Forward,
            sys::NF_INET_LOCAL_OUT => Hook::LocalOut,
            sys::NF_INET_POST_ROUTING => Hook::PostRouting,
            _ => Hook::Other(raw),
        }
    }
}

/// The kernel's name without its prefix: `PRE_ROUTING`, `LOCAL_IN`, `FORWARD`, `LOCAL_OUT`,
/// `POST_ROUTING` (`NF_INET_*`); `hook N` for any other value.
///
/// ```
/// use netfilter_safe::Hook;
/// assert_eq!(Hook::LocalOut.to_string(), "LOCAL_OUT");
/// assert_eq!(Hook::from(7).to_string(), "hook 7");
/// ```
impl fmt::Display for Hook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Hook::PreRouting => f.write_str("PRE_ROUTING"),
            Hook::LocalIn => f.write_str("LOCAL_IN"),
            Hook::Forward => f.write_str("FORWARD"),
            Hook::LocalOut => f.write_str("LOCAL_OUT"),
            Hook::PostRouting => f.write_str("POST_ROUTING"),
            Hook::Other(raw) => write!(f, "hook {raw}"),
        }
    }
}

impl From<Hook> for u8 {
    fn from(hook: Hook) -> u8 {
        match hook {
            Hook::PreRouting => sys::NF_INET_PRE_ROUTING as u8,
            Hook::LocalIn => sys::NF_INET_LOCAL_IN as u8,
            Hook::Forward => sys::NF_INET_FORWARD as u8,
            Hook::LocalOut => sys::NF_INET_LOCAL_OUT as u8,
            Hook::PostRouting => sys::NF_INET_POST_ROUTING as u8,
            Hook::Other(raw) => raw,
        }
    }
}

/// A protocol family (`NFPROTO_*`): the `nfgen_family` of a message, and what
/// `bind_pf`/`unbind_pf` take.
///
/// ```
/// use netfilter_safe::Family;
///
/// assert_eq!(Family::from(2), Family::Ipv4); // NFPROTO_IPV4
/// assert_eq!(Family::from(10), Family::Ipv6);
/// assert_eq!(u8::from(Family::Bridge), 7);
/// assert_eq!(Family::from(42), Family::Other(42));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Family {
    /// `NFPROTO_UNSPEC`.
    Unspec,
    /// `NFPROTO_INET` (nftables' inet family).
    Inet,
    /// `NFPROTO_IPV4` (`AF_INET`).
    Ipv4,
    /// `NFPROTO_ARP`.
    Arp,
    /// `NFPROTO_NETDEV`.
    Netdev,
    /// `NFPROTO_BRIDGE`.
    Bridge,
    /// `NFPROTO_IPV6` (`AF_INET6`).
    Ipv6,
    /// Any other value.
    Other(u8),
}

impl From<u8> for Family {
    fn from(raw: u8) -> Self {
        match u32::from(raw) {
            sys::NFPROTO_UNSPEC => Family::Unspec,
            sys::NFPROTO_INET => Family::Inet,
            sys::NFPROTO_IPV4 => Family::Ipv4,
            sys::NFPROTO_ARP => Family::Arp,
            sys::NFPROTO_NETDEV => Family::Netdev,
            sys::NFPROTO_BRIDGE => Family::Bridge,
            sys::NFPROTO_IPV6 => Family::Ipv6,
            _ => Family::Other(raw),
        }
    }
}

/// The kernel's name without its prefix (`NFPROTO_*`): `UNSPEC`, `INET`, `IPV4`, `ARP`,
/// `NETDEV`, `BRIDGE`, `IPV6`; `family N` for any other value.
///
/// ```
/// use netfilter_safe::Family;
/// assert_eq!(Family::Ipv6.to_string(), "IPV6");
/// ```
impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Family::Unspec => f.write_str("UNSPEC"),
            Family::Inet => f.write_str("INET"),
            Family::Ipv4 => f.write_str("IPV4"),
            Family::Arp => f.write_str("ARP"),
            Family::Netdev => f.write_str("NETDEV"),
            Family::Bridge => f.write_str("BRIDGE"),
            Family::Ipv6 => f.write_str("IPV6"),
            Family::Other(raw) => write!(f, "family {raw}"),
        }
    }
}

impl From<Family> for u8 {
    fn from(family: Family) -> u8 {
        let raw = match family {
            Family::Unspec => sys::NFPROTO_UNSPEC,
            Family::Inet => sys::NFPROTO_INET,
            Family::Ipv4 => sys::NFPROTO_IPV4,
            Family::Arp => sys::NFPROTO_ARP,
            Family::Netdev => sys::NFPROTO_NETDEV,
            Family::Bridge => sys::NFPROTO_BRIDGE,
            Family::Ipv6 => sys::NFPROTO_IPV6,
            Family::Other(raw) => return raw,
        };
        raw as u8
    }
}

/// How much of each packet the kernel copies to userspace (`NFQNL_COPY_*`, `NFULNL_COPY_*`:
/// the same values for queues and log groups).
///
/// ```
/// use netfilter_safe::CopyMode;
///
/// assert_eq!([CopyMode::None, CopyMode::Meta, CopyMode::Packet].map(CopyMode::raw), [0, 1, 2]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CopyMode {
    /// Nothing is sent. For a queue this is the kernel's default, under which packets are
    /// never delivered: set another mode after binding.
    None,
    /// Metadata only, no payload.
    Meta,
    /// Metadata and the first `range` bytes of the packet.
    Packet,
}

impl CopyMode {
    /// The value the kernel uses (`NFQNL_COPY_*`, `NFULNL_COPY_*`).
    ///
    /// ```
    /// use netfilter_safe::CopyMode;
    ///
    /// assert_eq!(CopyMode::Packet.raw(), 2); // NFQNL_COPY_PACKET, NFULNL_COPY_PACKET
    /// ```
    pub fn raw(self) -> u8 {
        (match self {
            CopyMode::None => sys::NFQNL_COPY_NONE,
            CopyMode::Meta => sys::NFQNL_COPY_META,
            CopyMode::Packet => sys::NFQNL_COPY_PACKET,
        }) as u8
    }
}

bitflags::bitflags! {
    /// Queue flags (`NFQA_CFG_F_*`), set and cleared with `Queue::set_flags` of [`queue`](crate::queue) (feature `ffi`) or the `netfilter` crate's queue builder.
    ///
    /// ```
    /// use netfilter_safe::QueueFlags;
    ///
    /// let flags = QueueFlags::GSO | QueueFlags::FAIL_OPEN;
    /// assert_eq!(flags.bits(), 0x5); // NFQA_CFG_F_FAIL_OPEN | NFQA_CFG_F_GSO
    /// // Bits a newer kernel defines are kept, not dropped.
    /// assert_eq!(QueueFlags::from_bits_retain(0x40).bits(), 0x40);
    /// ```
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct QueueFlags: u32 {
        /// Accept packets instead of dropping them when the queue is full.
        const FAIL_OPEN = sys::NFQA_CFG_F_FAIL_OPEN;
        /// Attach the packet's conntrack entry (`NFQA_CT`); needs the kernel's conntrack glue
        /// for queues (`CONFIG_NETFILTER_NETLINK_GLUE_CT`).
        const CONNTRACK = sys::NFQA_CFG_F_CONNTRACK;
        /// Deliver GSO packets whole, without segmenting them (payloads may exceed the MTU).
        const GSO = sys::NFQA_CFG_F_GSO;
        /// Attach the uid and gid of the socket that sent the packet, for local traffic.
        const UID_GID = sys::NFQA_CFG_F_UID_GID;
        /// Attach the packet's security context (`NFQA_SECCTX`).
        const SECCTX = sys::NFQA_CFG_F_SECCTX;
    }
}

bitflags::bitflags! {
    /// What the kernel says about the packet's buffer (`NFQA_SKB_INFO`).
    ///
    /// ```
    /// use netfilter_safe::SkbInfo;
    ///
    /// let info = SkbInfo::from_bits_retain(0x3); // as NFQA_SKB_INFO carries it
    /// assert!(info.contains(SkbInfo::CSUMNOTREADY | SkbInfo::GSO));
    /// assert!(!info.contains(SkbInfo::CSUM_NOTVERIFIED));
    /// ```
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct SkbInfo: u32 {
        /// The checksums are not filled in yet (offloaded); they are correct on the wire.
        const CSUMNOTREADY = sys::NFQA_SKB_CSUMNOTREADY;
        /// A GSO packet, larger than the device MTU (only with [`QueueFlags::GSO`]).
        const GSO = sys::NFQA_SKB_GSO;
        /// The checksum was not verified (e.g. the device does not verify in hardware).
        const CSUM_NOTVERIFIED = sys::NFQA_SKB_CSUM_NOTVERIFIED;
    }
}

/// A verdict on a queued packet. `NF_STOLEN` cannot be expressed: from userspace it would leak
/// the packet in the kernel.
///
/// ```
/// use netfilter_safe::Verdict;
///
/// assert_eq!(Verdict::Drop.raw(), 0);
/// assert_eq!(Verdict::Accept.raw(), 1);
/// // NF_QUEUE (3), the target queue in the high 16 bits, and the bypass flag (0x8000).
/// assert_eq!(Verdict::Queue { num: 2, bypass: true }.raw(), 0x0002_8003);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Verdict {
    /// `NF_DROP`: discard the packet.
    Drop,
    /// `NF_ACCEPT`: let it continue through the ruleset.
    Accept,
    /// `NF_REPEAT`: run the hook again from its start (set a mark that your rule skips, or the
    /// packet comes straight back).
    Repeat,
    /// `NF_STOP`: accept it without running the rest of this hook's rules.
    Stop,
    /// `NF_QUEUE`: hand it to another queue.
    Queue {
        /// The target queue number.
        num: u16,
        /// Accept instead of dropping when no program listens on `num`.
        bypass: bool,
    },
}

/// The kernel's name without its prefix (`NF_*`): `DROP`, `ACCEPT`, `REPEAT`, `STOP`, and
/// `QUEUE N` (`QUEUE N bypass` with the bypass flag).
///
/// ```
/// use netfilter_safe::Verdict;
/// assert_eq!(Verdict::Accept.to_string(), "ACCEPT");
/// assert_eq!(Verdict::Queue { num: 3, bypass: true }.to_string(), "QUEUE 3 bypass");
/// ```
impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::Drop => f.write_str("DROP"),
            Verdict::Accept => f.write_str("ACCEPT"),
            Verdict::Repeat => f.write_str("REPEAT"),
            Verdict::Stop => f.write_str("STOP"),
            Verdict::Queue { num, bypass: false } => write!(f, "QUEUE {num}"),
            Verdict::Queue { num, bypass: true } => write!(f, "QUEUE {num} bypass"),
        }
    }
}

impl Verdict {
    /// The verdict as the kernel encodes it.
    ///
    /// ```
    /// use netfilter_safe::Verdict;
    ///
    /// assert_eq!(Verdict::Stop.raw(), 5); // NF_STOP
    /// assert_eq!(Verdict::Queue { num: 1, bypass: false }.raw(), 0x0001_0003);
    /// ```
    pub fn raw(self) -> u32 {
        match self {
            Verdict::Drop => sys::NF_DROP,
            Verdict::Accept => sys::NF_ACCEPT,
            Verdict::Repeat => sys::NF_REPEAT,
            Verdict::Stop => sys::NF_STOP,
            Verdict::Queue { num, bypass } => {
                let bypass = if bypass {
                    sys::NF_VERDICT_FLAG_QUEUE_BYPASS
                } else {
                    0
                };
                (u32::from(num) << sys::NF_VERDICT_QBITS) | sys::NF_QUEUE | bypass
            }
        }
    }
}

/// The largest replacement payload a verdict can carry: a netlink attribute's 16-bit length
/// minus its 4-byte header.
pub const MAX_VERDICT_PAYLOAD: usize = u16::MAX as usize - 4;

bitflags::bitflags! {
    /// Log group flags (`NFULNL_CFG_F_*`), set with `LogGroup::set_flags` of [`log`](crate::log) (feature `ffi`) or the `netfilter` crate's log builder.
    ///
    /// ```
    /// use netfilter_safe::LogFlags;
    ///
    /// assert_eq!((LogFlags::SEQ | LogFlags::CONNTRACK).bits(), 0x5); // NFULNL_CFG_F_*
    /// assert!(LogFlags::empty().is_empty());
    /// ```
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct LogFlags: u16 {
        /// Number the group's messages (`NFULA_SEQ`, per group).
        const SEQ = sys::NFULNL_CFG_F_SEQ as u16;
        /// Number the messages across all groups of the namespace (`NFULA_SEQ_GLOBAL`).
        const SEQ_GLOBAL = sys::NFULNL_CFG_F_SEQ_GLOBAL as u16;
        /// Attach the packet's conntrack entry (`NFULA_CT`, `NFULA_CT_INFO`); needs
        /// `nf_conntrack_netlink` in the kernel.
        const CONNTRACK = sys::NFULNL_CFG_F_CONNTRACK as u16;
    }
}

/// A kernel timestamp (`struct timeval` as the C libraries return it) as a [`SystemTime`].
#[cfg(feature = "ffi")]
pub(crate) fn system_time(sec: i64, usec: i64) -> Option<SystemTime> {
    let since_epoch = Duration::new(u64::try_from(sec).ok()?, 0)
        .checked_add(Duration::from_micros(u64::try_from(usec).ok()?))?;
    SystemTime::UNIX_EPOCH.checked_add(since_epoch)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hooks_and_families_round_trip() {
        for raw in 0..=255u8 {
            assert_eq!(u8::from(Hook::from(raw)), raw);
            assert_eq!(u8::from(Family::from(raw)), raw);
        }
        assert_eq!(Hook::from(1), Hook::LocalIn);
        assert_eq!(Hook::from(3), Hook::LocalOut);
        assert_eq!(Family::from(2), Family::Ipv4);
        assert_eq!(Family::from(10), Family::Ipv6);
        assert_eq!(Family::from(7), Family::Bridge);
    }

    #[test]
    fn copy_modes_match_both_subsystems() {
        use crate::wire::uapi as lsys;
        assert_eq!(u32::from(CopyMode::None.raw()), lsys::NFULNL_COPY_NONE);
        assert_eq!(u32::from(CopyMode::Meta.raw()), lsys::NFULNL_COPY_META);
        assert_eq!(u32::from(CopyMode::Packet.raw()), lsys::NFULNL_COPY_PACKET);
    }

    #[cfg(feature = "ffi")]
    #[test]
    fn timestamps_convert() {
        let t = system_time(1_795_369_345, 852_923).unwrap();
        let d = t.duration_since(SystemTime::UNIX_EPOCH).unwrap();
        assert_eq!((d.as_secs(), d.subsec_micros()), (1_795_369_345, 852_923));
        assert_eq!(system_time(-1, 0), None);
    }
}
