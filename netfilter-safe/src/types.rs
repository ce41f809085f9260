//! Kernel enums shared by queues and log groups.

use std::time::{Duration, SystemTime};

use netfilter_queue_sys as qsys;

/// The netfilter hook a packet was seen at (`NF_INET_*`).
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
            qsys::NF_INET_PRE_ROUTING => Hook::PreRouting,
            qsys::NF_INET_LOCAL_IN => Hook::LocalIn,
            qsys::NF_INET_FORWARD => Hook::Forward,
            qsys::NF_INET_LOCAL_OUT => Hook::LocalOut,
            qsys::NF_INET_POST_ROUTING => Hook::PostRouting,
            _ => Hook::Other(raw),
        }
    }
}

impl From<Hook> for u8 {
    fn from(hook: Hook) -> u8 {
        match hook {
            Hook::PreRouting => qsys::NF_INET_PRE_ROUTING as u8,
            Hook::LocalIn => qsys::NF_INET_LOCAL_IN as u8,
            Hook::Forward => qsys::NF_INET_FORWARD as u8,
            Hook::LocalOut => qsys::NF_INET_LOCAL_OUT as u8,
            Hook::PostRouting => qsys::NF_INET_POST_ROUTING as u8,
            Hook::Other(raw) => raw,
        }
    }
}

/// A protocol family (`NFPROTO_*`): the `nfgen_family` of a message, and what
/// `bind_pf`/`unbind_pf` take.
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
            qsys::NFPROTO_UNSPEC => Family::Unspec,
            qsys::NFPROTO_INET => Family::Inet,
            qsys::NFPROTO_IPV4 => Family::Ipv4,
            qsys::NFPROTO_ARP => Family::Arp,
            qsys::NFPROTO_NETDEV => Family::Netdev,
            qsys::NFPROTO_BRIDGE => Family::Bridge,
            qsys::NFPROTO_IPV6 => Family::Ipv6,
            _ => Family::Other(raw),
        }
    }
}

impl From<Family> for u8 {
    fn from(family: Family) -> u8 {
        let raw = match family {
            Family::Unspec => qsys::NFPROTO_UNSPEC,
            Family::Inet => qsys::NFPROTO_INET,
            Family::Ipv4 => qsys::NFPROTO_IPV4,
            Family::Arp => qsys::NFPROTO_ARP,
            Family::Netdev => qsys::NFPROTO_NETDEV,
            Family::Bridge => qsys::NFPROTO_BRIDGE,
            Family::Ipv6 => qsys::NFPROTO_IPV6,
            Family::Other(raw) => return raw,
        };
        raw as u8
    }
}

/// How much of each packet the kernel copies to userspace (`NFQNL_COPY_*`, `NFULNL_COPY_*`:
/// the same values for queues and log groups).
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
    pub fn raw(self) -> u8 {
        (match self {
            CopyMode::None => qsys::NFQNL_COPY_NONE,
            CopyMode::Meta => qsys::NFQNL_COPY_META,
            CopyMode::Packet => qsys::NFQNL_COPY_PACKET,
        }) as u8
    }
}

/// A kernel timestamp (`struct timeval` as the C libraries return it) as a [`SystemTime`].
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
        use netfilter_log_sys as lsys;
        assert_eq!(u32::from(CopyMode::None.raw()), lsys::NFULNL_COPY_NONE);
        assert_eq!(u32::from(CopyMode::Meta.raw()), lsys::NFULNL_COPY_META);
        assert_eq!(u32::from(CopyMode::Packet.raw()), lsys::NFULNL_COPY_PACKET);
    }

    #[test]
    fn timestamps_convert() {
        let t = system_time(1_795_369_345, 852_923).unwrap();
        let d = t.duration_since(SystemTime::UNIX_EPOCH).unwrap();
        assert_eq!((d.as_secs(), d.subsec_micros()), (1_795_369_345, 852_923));
        assert_eq!(system_time(-1, 0), None);
    }
}
