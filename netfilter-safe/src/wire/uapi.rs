//! The kernel's uapi definitions that the wire layout is made of, written out in Rust.
//!
//! Constants and struct layouts of `<linux/netfilter/nfnetlink.h>`,
//! `<linux/netfilter/nfnetlink_queue.h>`, `<linux/netfilter/nfnetlink_log.h>`,
//! `<linux/netfilter/nfnetlink_conntrack.h>`, `<linux/netfilter/nf_conntrack_common.h>`,
//! `<linux/netfilter/nf_conntrack_tcp.h>`,
//! `<linux/netfilter.h>` and `<linux/netlink.h>`, under the headers' own names and with the
//! types bindgen gives them (`u32` for enumerators and `#define`s), so that code written
//! against `netfilter-queue-sys` / `netfilter-log-sys` reads the same here. They are kernel
//! ABI: values never change once a kernel has shipped them.
//!
//! They live here, and not only in the sys crates, so that the wire protocol (and everything
//! built on it: the `netfilter` crate's queues and log groups, the testkit's synthesis and fake
//! kernel) builds without the C libraries, their headers or libclang. With the `ffi` feature,
//! this crate's tests check every item against the sys crates' bindgen output of the
//! installed headers. The conntrack constants (`CTA_*`, `IPS_*`, `IP_CT_*`, `TCP_CONNTRACK_*`)
//! are the exception:
//! the sys crates do not bind the conntrack headers (libnetfilter_queue and libnetfilter_log
//! hand the `NFQA_CT` / `NFULA_CT` nest over raw), so nothing checks them but the stable
//! kernel ABI and this crate's own tests.
//!
//! The structs are here for their layout only (`size_of`, `offset_of!`): the wire module reads
//! and writes their fields at those offsets, in the byte order the kernel uses.
#![allow(non_camel_case_types, missing_docs)]

// <linux/netfilter.h>: verdicts, hooks and protocol families.
pub const NF_DROP: u32 = 0;
pub const NF_ACCEPT: u32 = 1;
pub const NF_STOLEN: u32 = 2;
pub const NF_QUEUE: u32 = 3;
pub const NF_REPEAT: u32 = 4;
pub const NF_STOP: u32 = 5;
/// The queue number of an `NF_QUEUE` verdict sits above these bits.
pub const NF_VERDICT_QBITS: u32 = 16;
/// With `NF_QUEUE`: accept when no program listens on the target queue.
pub const NF_VERDICT_FLAG_QUEUE_BYPASS: u32 = 0x0000_8000;

pub const NF_INET_PRE_ROUTING: u32 = 0;
pub const NF_INET_LOCAL_IN: u32 = 1;
pub const NF_INET_FORWARD: u32 = 2;
pub const NF_INET_LOCAL_OUT: u32 = 3;
pub const NF_INET_POST_ROUTING: u32 = 4;

pub const NFPROTO_UNSPEC: u32 = 0;
pub const NFPROTO_INET: u32 = 1;
pub const NFPROTO_IPV4: u32 = 2;
pub const NFPROTO_ARP: u32 = 3;
pub const NFPROTO_NETDEV: u32 = 5;
pub const NFPROTO_BRIDGE: u32 = 7;
pub const NFPROTO_IPV6: u32 = 10;

// <linux/netfilter/nfnetlink.h>
pub const NFNETLINK_V0: u32 = 0;
pub const NFNL_SUBSYS_CTNETLINK: u32 = 1;
pub const NFNL_SUBSYS_QUEUE: u32 = 3;
pub const NFNL_SUBSYS_ULOG: u32 = 4;

/// `struct nlmsghdr` (`<linux/netlink.h>`), host byte order.
///
/// ```
/// use netfilter_safe::wire::{NLMSG_HDRLEN, uapi::nlmsghdr};
///
/// assert_eq!(size_of::<nlmsghdr>(), NLMSG_HDRLEN); // 16 bytes, as on the wire
/// ```
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct nlmsghdr {
    pub nlmsg_len: u32,
    pub nlmsg_type: u16,
    pub nlmsg_flags: u16,
    pub nlmsg_seq: u32,
    pub nlmsg_pid: u32,
}

/// `struct nlattr` (`<linux/netlink.h>`), host byte order.
///
/// ```
/// use netfilter_safe::wire::{NLA_HDRLEN, uapi::nlattr};
///
/// assert_eq!(size_of::<nlattr>(), NLA_HDRLEN); // 4 bytes: length and type
/// ```
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct nlattr {
    pub nla_len: u16,
    pub nla_type: u16,
}

/// `struct nfgenmsg`; `res_id` is big-endian.
///
/// ```
/// use netfilter_safe::wire::{NFGENMSG_LEN, uapi::nfgenmsg};
///
/// assert_eq!(size_of::<nfgenmsg>(), NFGENMSG_LEN);
/// let header = nfgenmsg { nfgen_family: 2, version: 0, res_id: 3u16.to_be() }; // queue 3
/// assert_eq!(u16::from_be(header.res_id), 3);
/// ```
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct nfgenmsg {
    pub nfgen_family: u8,
    pub version: u8,
    pub res_id: u16,
}

// <linux/netfilter/nfnetlink_queue.h>
pub const NFQNL_MSG_PACKET: u32 = 0;
pub const NFQNL_MSG_VERDICT: u32 = 1;
pub const NFQNL_MSG_CONFIG: u32 = 2;
pub const NFQNL_MSG_VERDICT_BATCH: u32 = 3;

pub const NFQA_UNSPEC: u32 = 0;
pub const NFQA_PACKET_HDR: u32 = 1;
pub const NFQA_VERDICT_HDR: u32 = 2;
pub const NFQA_MARK: u32 = 3;
pub const NFQA_TIMESTAMP: u32 = 4;
pub const NFQA_IFINDEX_INDEV: u32 = 5;
pub const NFQA_IFINDEX_OUTDEV: u32 = 6;
pub const NFQA_IFINDEX_PHYSINDEV: u32 = 7;
pub const NFQA_IFINDEX_PHYSOUTDEV: u32 = 8;
pub const NFQA_HWADDR: u32 = 9;
pub const NFQA_PAYLOAD: u32 = 10;
pub const NFQA_CT: u32 = 11;
pub const NFQA_CT_INFO: u32 = 12;
pub const NFQA_CAP_LEN: u32 = 13;
pub const NFQA_SKB_INFO: u32 = 14;
pub const NFQA_EXP: u32 = 15;
pub const NFQA_UID: u32 = 16;
pub const NFQA_GID: u32 = 17;
pub const NFQA_SECCTX: u32 = 18;
/// Since Linux 4.7.
pub const NFQA_VLAN: u32 = 19;
/// Since Linux 4.7.
pub const NFQA_L2HDR: u32 = 20;
/// Since Linux 5.19.
pub const NFQA_PRIORITY: u32 = 21;
/// Since Linux 6.4.
pub const NFQA_CGROUP_CLASSID: u32 = 22;

pub const NFQA_VLAN_UNSPEC: u32 = 0;
pub const NFQA_VLAN_PROTO: u32 = 1;
pub const NFQA_VLAN_TCI: u32 = 2;

pub const NFQNL_CFG_CMD_NONE: u32 = 0;
pub const NFQNL_CFG_CMD_BIND: u32 = 1;
pub const NFQNL_CFG_CMD_UNBIND: u32 = 2;
pub const NFQNL_CFG_CMD_PF_BIND: u32 = 3;
pub const NFQNL_CFG_CMD_PF_UNBIND: u32 = 4;

pub const NFQNL_COPY_NONE: u32 = 0;
pub const NFQNL_COPY_META: u32 = 1;
pub const NFQNL_COPY_PACKET: u32 = 2;

pub const NFQA_CFG_UNSPEC: u32 = 0;
pub const NFQA_CFG_CMD: u32 = 1;
pub const NFQA_CFG_PARAMS: u32 = 2;
pub const NFQA_CFG_QUEUE_MAXLEN: u32 = 3;
pub const NFQA_CFG_MASK: u32 = 4;
pub const NFQA_CFG_FLAGS: u32 = 5;

pub const NFQA_CFG_F_FAIL_OPEN: u32 = 1 << 0;
pub const NFQA_CFG_F_CONNTRACK: u32 = 1 << 1;
pub const NFQA_CFG_F_GSO: u32 = 1 << 2;
pub const NFQA_CFG_F_UID_GID: u32 = 1 << 3;
/// Since Linux 4.1.
pub const NFQA_CFG_F_SECCTX: u32 = 1 << 4;
pub const NFQA_CFG_F_MAX: u32 = 1 << 5;

pub const NFQA_SKB_CSUMNOTREADY: u32 = 1 << 0;
pub const NFQA_SKB_GSO: u32 = 1 << 1;
/// Since Linux 3.19.
pub const NFQA_SKB_CSUM_NOTVERIFIED: u32 = 1 << 2;

/// `struct nfqnl_msg_packet_hdr` (packed); `packet_id` and `hw_protocol` big-endian.
///
/// ```
/// use netfilter_safe::wire::uapi::nfqnl_msg_packet_hdr;
///
/// // packet_id (big-endian), hw_protocol (big-endian), hook: 7 bytes, packed.
/// assert_eq!(size_of::<nfqnl_msg_packet_hdr>(), 7);
/// ```
#[repr(C, packed)]
#[derive(Debug, Clone, Copy, Default)]
pub struct nfqnl_msg_packet_hdr {
    pub packet_id: u32,
    pub hw_protocol: u16,
    pub hook: u8,
}

/// `struct nfqnl_msg_packet_hw`; `hw_addrlen` big-endian.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct nfqnl_msg_packet_hw {
    pub hw_addrlen: u16,
    pub _pad: u16,
    pub hw_addr: [u8; 8],
}

/// `struct nfqnl_msg_packet_timestamp`: big-endian seconds and microseconds.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct nfqnl_msg_packet_timestamp {
    pub sec: u64,
    pub usec: u64,
}

/// `struct nfqnl_msg_verdict_hdr`: big-endian verdict and packet id.
///
/// ```
/// use netfilter_safe::wire::uapi::nfqnl_msg_verdict_hdr;
///
/// assert_eq!(size_of::<nfqnl_msg_verdict_hdr>(), 8); // verdict, then id, both big-endian
/// ```
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct nfqnl_msg_verdict_hdr {
    pub verdict: u32,
    pub id: u32,
}

/// `struct nfqnl_msg_config_cmd`; `pf` big-endian.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct nfqnl_msg_config_cmd {
    pub command: u8,
    pub _pad: u8,
    pub pf: u16,
}

/// `struct nfqnl_msg_config_params` (packed); `copy_range` big-endian.
#[repr(C, packed)]
#[derive(Debug, Clone, Copy, Default)]
pub struct nfqnl_msg_config_params {
    pub copy_range: u32,
    pub copy_mode: u8,
}

// <linux/netfilter/nfnetlink_log.h>
pub const NFULNL_MSG_PACKET: u32 = 0;
pub const NFULNL_MSG_CONFIG: u32 = 1;

pub const NFULA_UNSPEC: u32 = 0;
pub const NFULA_PACKET_HDR: u32 = 1;
pub const NFULA_MARK: u32 = 2;
pub const NFULA_TIMESTAMP: u32 = 3;
pub const NFULA_IFINDEX_INDEV: u32 = 4;
pub const NFULA_IFINDEX_OUTDEV: u32 = 5;
pub const NFULA_IFINDEX_PHYSINDEV: u32 = 6;
pub const NFULA_IFINDEX_PHYSOUTDEV: u32 = 7;
pub const NFULA_HWADDR: u32 = 8;
pub const NFULA_PAYLOAD: u32 = 9;
pub const NFULA_PREFIX: u32 = 10;
pub const NFULA_UID: u32 = 11;
pub const NFULA_SEQ: u32 = 12;
pub const NFULA_SEQ_GLOBAL: u32 = 13;
pub const NFULA_GID: u32 = 14;
pub const NFULA_HWTYPE: u32 = 15;
pub const NFULA_HWHEADER: u32 = 16;
pub const NFULA_HWLEN: u32 = 17;
pub const NFULA_CT: u32 = 18;
pub const NFULA_CT_INFO: u32 = 19;
/// Since Linux 4.7.
pub const NFULA_VLAN: u32 = 20;
/// Since Linux 4.7.
pub const NFULA_L2HDR: u32 = 21;

pub const NFULA_VLAN_UNSPEC: u32 = 0;
pub const NFULA_VLAN_PROTO: u32 = 1;
pub const NFULA_VLAN_TCI: u32 = 2;

pub const NFULNL_CFG_CMD_NONE: u32 = 0;
pub const NFULNL_CFG_CMD_BIND: u32 = 1;
pub const NFULNL_CFG_CMD_UNBIND: u32 = 2;
pub const NFULNL_CFG_CMD_PF_BIND: u32 = 3;
pub const NFULNL_CFG_CMD_PF_UNBIND: u32 = 4;

pub const NFULNL_COPY_NONE: u32 = 0;
pub const NFULNL_COPY_META: u32 = 1;
pub const NFULNL_COPY_PACKET: u32 = 2;

pub const NFULA_CFG_UNSPEC: u32 = 0;
pub const NFULA_CFG_CMD: u32 = 1;
pub const NFULA_CFG_MODE: u32 = 2;
pub const NFULA_CFG_NLBUFSIZ: u32 = 3;
pub const NFULA_CFG_TIMEOUT: u32 = 4;
pub const NFULA_CFG_QTHRESH: u32 = 5;
pub const NFULA_CFG_FLAGS: u32 = 6;

pub const NFULNL_CFG_F_SEQ: u32 = 0x0001;
pub const NFULNL_CFG_F_SEQ_GLOBAL: u32 = 0x0002;
pub const NFULNL_CFG_F_CONNTRACK: u32 = 0x0004;

/// `struct nfulnl_msg_packet_hdr`; `hw_protocol` big-endian.
///
/// ```
/// use netfilter_safe::wire::uapi::nfulnl_msg_packet_hdr;
///
/// assert_eq!(size_of::<nfulnl_msg_packet_hdr>(), 4); // hw_protocol, hook, a pad byte
/// ```
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct nfulnl_msg_packet_hdr {
    pub hw_protocol: u16,
    pub hook: u8,
    pub _pad: u8,
}

/// `struct nfulnl_msg_config_cmd`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct nfulnl_msg_config_cmd {
    pub command: u8,
}

/// `struct nfulnl_msg_config_mode` (packed); `copy_range` big-endian.
#[repr(C, packed)]
#[derive(Debug, Clone, Copy, Default)]
pub struct nfulnl_msg_config_mode {
    pub copy_range: u32,
    pub copy_mode: u8,
    pub _pad: u8,
}

// <linux/netfilter/nf_conntrack_common.h>: `enum ip_conntrack_info` (NFQA_CT_INFO,
// NFULA_CT_INFO).
pub const IP_CT_ESTABLISHED: u32 = 0;
pub const IP_CT_RELATED: u32 = 1;
pub const IP_CT_NEW: u32 = 2;
/// Added to a state for packets in the reply direction.
pub const IP_CT_IS_REPLY: u32 = 3;
pub const IP_CT_ESTABLISHED_REPLY: u32 = IP_CT_ESTABLISHED + IP_CT_IS_REPLY;
pub const IP_CT_RELATED_REPLY: u32 = IP_CT_RELATED + IP_CT_IS_REPLY;
/// Not in the uapi header: the kernel's `<net/netfilter/nf_conntrack.h>` defines it, and
/// the glue sends it for packets that skip conntrack (`-j NOTRACK`, `notrack`).
pub const IP_CT_UNTRACKED: u32 = 7;

// `enum ip_conntrack_status` (CTA_STATUS).
pub const IPS_EXPECTED: u32 = 1 << 0;
pub const IPS_SEEN_REPLY: u32 = 1 << 1;
pub const IPS_ASSURED: u32 = 1 << 2;
pub const IPS_CONFIRMED: u32 = 1 << 3;
pub const IPS_SRC_NAT: u32 = 1 << 4;
pub const IPS_DST_NAT: u32 = 1 << 5;
pub const IPS_SEQ_ADJUST: u32 = 1 << 6;
pub const IPS_SRC_NAT_DONE: u32 = 1 << 7;
pub const IPS_DST_NAT_DONE: u32 = 1 << 8;
pub const IPS_DYING: u32 = 1 << 9;
pub const IPS_FIXED_TIMEOUT: u32 = 1 << 10;
pub const IPS_TEMPLATE: u32 = 1 << 11;
pub const IPS_UNTRACKED: u32 = 1 << 12;
pub const IPS_HELPER: u32 = 1 << 13;
pub const IPS_OFFLOAD: u32 = 1 << 14;
pub const IPS_HW_OFFLOAD: u32 = 1 << 15;

// <linux/netfilter/nfnetlink_conntrack.h>: `enum ctattr_type`, the members of NFQA_CT and
// NFULA_CT. Every integer is big-endian.
pub const CTA_UNSPEC: u32 = 0;
pub const CTA_TUPLE_ORIG: u32 = 1;
pub const CTA_TUPLE_REPLY: u32 = 2;
pub const CTA_STATUS: u32 = 3;
pub const CTA_PROTOINFO: u32 = 4;
pub const CTA_HELP: u32 = 5;
pub const CTA_NAT_SRC: u32 = 6;
pub const CTA_TIMEOUT: u32 = 7;
pub const CTA_MARK: u32 = 8;
pub const CTA_COUNTERS_ORIG: u32 = 9;
pub const CTA_COUNTERS_REPLY: u32 = 10;
pub const CTA_USE: u32 = 11;
pub const CTA_ID: u32 = 12;
pub const CTA_NAT_DST: u32 = 13;
pub const CTA_TUPLE_MASTER: u32 = 14;
pub const CTA_SEQ_ADJ_ORIG: u32 = 15;
pub const CTA_SEQ_ADJ_REPLY: u32 = 16;
/// Obsolete: the kernel no longer sends it (`CTA_SECCTX` replaced it).
pub const CTA_SECMARK: u32 = 17;
pub const CTA_ZONE: u32 = 18;
pub const CTA_SECCTX: u32 = 19;
pub const CTA_TIMESTAMP: u32 = 20;
pub const CTA_MARK_MASK: u32 = 21;
pub const CTA_LABELS: u32 = 22;
pub const CTA_LABELS_MASK: u32 = 23;
pub const CTA_SYNPROXY: u32 = 24;
pub const CTA_FILTER: u32 = 25;
pub const CTA_STATUS_MASK: u32 = 26;

// `enum ctattr_tuple`: the members of CTA_TUPLE_ORIG, _REPLY and _MASTER.
pub const CTA_TUPLE_UNSPEC: u32 = 0;
pub const CTA_TUPLE_IP: u32 = 1;
pub const CTA_TUPLE_PROTO: u32 = 2;
pub const CTA_TUPLE_ZONE: u32 = 3;

// `enum ctattr_ip`: the members of CTA_TUPLE_IP.
pub const CTA_IP_UNSPEC: u32 = 0;
pub const CTA_IP_V4_SRC: u32 = 1;
pub const CTA_IP_V4_DST: u32 = 2;
pub const CTA_IP_V6_SRC: u32 = 3;
pub const CTA_IP_V6_DST: u32 = 4;

// `enum ctattr_l4proto`: the members of CTA_TUPLE_PROTO.
pub const CTA_PROTO_UNSPEC: u32 = 0;
pub const CTA_PROTO_NUM: u32 = 1;
pub const CTA_PROTO_SRC_PORT: u32 = 2;
pub const CTA_PROTO_DST_PORT: u32 = 3;
pub const CTA_PROTO_ICMP_ID: u32 = 4;
pub const CTA_PROTO_ICMP_TYPE: u32 = 5;
pub const CTA_PROTO_ICMP_CODE: u32 = 6;
pub const CTA_PROTO_ICMPV6_ID: u32 = 7;
pub const CTA_PROTO_ICMPV6_TYPE: u32 = 8;
pub const CTA_PROTO_ICMPV6_CODE: u32 = 9;

// `enum ctattr_counters`: the members of CTA_COUNTERS_ORIG and _REPLY.
pub const CTA_COUNTERS_UNSPEC: u32 = 0;
pub const CTA_COUNTERS_PACKETS: u32 = 1;
pub const CTA_COUNTERS_BYTES: u32 = 2;
/// The old 32-bit form, which kernels no longer send.
pub const CTA_COUNTERS32_PACKETS: u32 = 3;
/// The old 32-bit form, which kernels no longer send.
pub const CTA_COUNTERS32_BYTES: u32 = 4;
pub const CTA_COUNTERS_PAD: u32 = 5;

// `enum ctattr_tstamp`: the members of CTA_TIMESTAMP.
pub const CTA_TIMESTAMP_UNSPEC: u32 = 0;
pub const CTA_TIMESTAMP_START: u32 = 1;
pub const CTA_TIMESTAMP_STOP: u32 = 2;
pub const CTA_TIMESTAMP_PAD: u32 = 3;

// `enum ctattr_protoinfo`: the members of CTA_PROTOINFO, one per tracked protocol.
pub const CTA_PROTOINFO_UNSPEC: u32 = 0;
pub const CTA_PROTOINFO_TCP: u32 = 1;
pub const CTA_PROTOINFO_DCCP: u32 = 2;
pub const CTA_PROTOINFO_SCTP: u32 = 3;

// `enum ctattr_protoinfo_tcp`: the members of CTA_PROTOINFO_TCP.
pub const CTA_PROTOINFO_TCP_UNSPEC: u32 = 0;
/// `u8`: `enum tcp_conntrack`.
pub const CTA_PROTOINFO_TCP_STATE: u32 = 1;
/// `u8`.
pub const CTA_PROTOINFO_TCP_WSCALE_ORIGINAL: u32 = 2;
/// `u8`.
pub const CTA_PROTOINFO_TCP_WSCALE_REPLY: u32 = 3;
/// `struct nf_ct_tcp_flags` (`u8` flags, `u8` mask).
pub const CTA_PROTOINFO_TCP_FLAGS_ORIGINAL: u32 = 4;
/// `struct nf_ct_tcp_flags`.
pub const CTA_PROTOINFO_TCP_FLAGS_REPLY: u32 = 5;

// `enum ctattr_help`: the members of CTA_HELP.
pub const CTA_HELP_UNSPEC: u32 = 0;
/// NUL-terminated string: the helper's name (`ftp`, `sip`).
pub const CTA_HELP_NAME: u32 = 1;
/// The helper's own data.
pub const CTA_HELP_INFO: u32 = 2;

// `enum ctattr_secctx`: the members of CTA_SECCTX.
pub const CTA_SECCTX_UNSPEC: u32 = 0;
/// NUL-terminated string: the security context (`system_u:object_r:..`).
pub const CTA_SECCTX_NAME: u32 = 1;

// <linux/netfilter/nf_conntrack_tcp.h>: `enum tcp_conntrack`, the TCP tracker's states.
pub const TCP_CONNTRACK_NONE: u32 = 0;
pub const TCP_CONNTRACK_SYN_SENT: u32 = 1;
pub const TCP_CONNTRACK_SYN_RECV: u32 = 2;
pub const TCP_CONNTRACK_ESTABLISHED: u32 = 3;
pub const TCP_CONNTRACK_FIN_WAIT: u32 = 4;
pub const TCP_CONNTRACK_CLOSE_WAIT: u32 = 5;
pub const TCP_CONNTRACK_LAST_ACK: u32 = 6;
pub const TCP_CONNTRACK_TIME_WAIT: u32 = 7;
pub const TCP_CONNTRACK_CLOSE: u32 = 8;
/// `TCP_CONNTRACK_LISTEN` in the header (obsolete there), which names it `SYN_SENT2`: a
/// simultaneous open.
pub const TCP_CONNTRACK_SYN_SENT2: u32 = 9;

// `IP_CT_TCP_FLAG_*`: the flags of `struct nf_ct_tcp_flags`.
pub const IP_CT_TCP_FLAG_WINDOW_SCALE: u32 = 0x01;
pub const IP_CT_TCP_FLAG_SACK_PERM: u32 = 0x02;
pub const IP_CT_TCP_FLAG_CLOSE_INIT: u32 = 0x04;
pub const IP_CT_TCP_FLAG_BE_LIBERAL: u32 = 0x08;
pub const IP_CT_TCP_FLAG_DATA_UNACKNOWLEDGED: u32 = 0x10;
pub const IP_CT_TCP_FLAG_MAXACK_SET: u32 = 0x20;
pub const IP_CT_EXP_CHALLENGE_ACK: u32 = 0x40;
pub const IP_CT_TCP_SIMULTANEOUS_OPEN: u32 = 0x80;

/// Bytes of a connection's label bitmap (`NF_CT_LABELS_MAX_SIZE`, 128 labels, from
/// `XT_CONNLABEL_MAXBIT` of `<linux/netfilter/xt_connlabel.h>`): the size of `CTA_LABELS`.
pub const NF_CT_LABELS_MAX_SIZE: usize = 16;

/// Every item above against the sys crates' bindgen output of the installed headers.
#[cfg(all(test, feature = "ffi"))]
mod tests {
    use core::mem::{offset_of, size_of};

    use netfilter_log_sys as lsys;
    use netfilter_queue_sys as qsys;

    macro_rules! same_consts {
        ($sys:ident: $($name:ident),* $(,)?) => {
            $(assert_eq!(super::$name as u64, $sys::$name as u64, stringify!($name));)*
        };
    }

    macro_rules! same_layout {
        ($sys:ident::$ty:ident { $($field:ident),* }) => {
            assert_eq!(size_of::<super::$ty>(), size_of::<$sys::$ty>(), stringify!($ty));
            $(assert_eq!(
                offset_of!(super::$ty, $field),
                offset_of!($sys::$ty, $field),
                concat!(stringify!($ty), ".", stringify!($field)),
            );)*
        };
    }

    #[test]
    fn constants_equal_the_installed_headers() {
        same_consts!(qsys: NF_DROP, NF_ACCEPT, NF_STOLEN, NF_QUEUE, NF_REPEAT, NF_STOP,
            NF_VERDICT_QBITS, NF_VERDICT_FLAG_QUEUE_BYPASS);
        same_consts!(qsys: NF_INET_PRE_ROUTING, NF_INET_LOCAL_IN, NF_INET_FORWARD,
            NF_INET_LOCAL_OUT, NF_INET_POST_ROUTING);
        same_consts!(qsys: NFPROTO_UNSPEC, NFPROTO_INET, NFPROTO_IPV4, NFPROTO_ARP,
            NFPROTO_NETDEV, NFPROTO_BRIDGE, NFPROTO_IPV6);
        same_consts!(qsys: NFNETLINK_V0, NFNL_SUBSYS_CTNETLINK, NFNL_SUBSYS_QUEUE,
            NFNL_SUBSYS_ULOG);
        same_consts!(qsys: NFQNL_MSG_PACKET, NFQNL_MSG_VERDICT, NFQNL_MSG_CONFIG,
            NFQNL_MSG_VERDICT_BATCH);
        same_consts!(qsys: NFQA_UNSPEC, NFQA_PACKET_HDR, NFQA_VERDICT_HDR, NFQA_MARK,
            NFQA_TIMESTAMP, NFQA_IFINDEX_INDEV, NFQA_IFINDEX_OUTDEV, NFQA_IFINDEX_PHYSINDEV,
            NFQA_IFINDEX_PHYSOUTDEV, NFQA_HWADDR, NFQA_PAYLOAD, NFQA_CT, NFQA_CT_INFO,
            NFQA_CAP_LEN, NFQA_SKB_INFO, NFQA_EXP, NFQA_UID, NFQA_GID, NFQA_SECCTX, NFQA_VLAN,
            NFQA_L2HDR, NFQA_PRIORITY, NFQA_CGROUP_CLASSID);
        same_consts!(qsys: NFQA_VLAN_UNSPEC, NFQA_VLAN_PROTO, NFQA_VLAN_TCI);
        same_consts!(qsys: NFQNL_CFG_CMD_NONE, NFQNL_CFG_CMD_BIND, NFQNL_CFG_CMD_UNBIND,
            NFQNL_CFG_CMD_PF_BIND, NFQNL_CFG_CMD_PF_UNBIND);
        same_consts!(qsys: NFQNL_COPY_NONE, NFQNL_COPY_META, NFQNL_COPY_PACKET);
        same_consts!(qsys: NFQA_CFG_UNSPEC, NFQA_CFG_CMD, NFQA_CFG_PARAMS,
            NFQA_CFG_QUEUE_MAXLEN, NFQA_CFG_MASK, NFQA_CFG_FLAGS);
        same_consts!(qsys: NFQA_CFG_F_FAIL_OPEN, NFQA_CFG_F_CONNTRACK, NFQA_CFG_F_GSO,
            NFQA_CFG_F_UID_GID, NFQA_CFG_F_SECCTX, NFQA_CFG_F_MAX);
        same_consts!(qsys: NFQA_SKB_CSUMNOTREADY, NFQA_SKB_GSO, NFQA_SKB_CSUM_NOTVERIFIED);

        same_consts!(lsys: NFNL_SUBSYS_ULOG, NFULNL_MSG_PACKET, NFULNL_MSG_CONFIG);
        same_consts!(lsys: NFULA_UNSPEC, NFULA_PACKET_HDR, NFULA_MARK, NFULA_TIMESTAMP,
            NFULA_IFINDEX_INDEV, NFULA_IFINDEX_OUTDEV, NFULA_IFINDEX_PHYSINDEV,
            NFULA_IFINDEX_PHYSOUTDEV, NFULA_HWADDR, NFULA_PAYLOAD, NFULA_PREFIX, NFULA_UID,
            NFULA_SEQ, NFULA_SEQ_GLOBAL, NFULA_GID, NFULA_HWTYPE, NFULA_HWHEADER, NFULA_HWLEN,
            NFULA_CT, NFULA_CT_INFO, NFULA_VLAN, NFULA_L2HDR);
        same_consts!(lsys: NFULA_VLAN_UNSPEC, NFULA_VLAN_PROTO, NFULA_VLAN_TCI);
        same_consts!(lsys: NFULNL_CFG_CMD_NONE, NFULNL_CFG_CMD_BIND, NFULNL_CFG_CMD_UNBIND,
            NFULNL_CFG_CMD_PF_BIND, NFULNL_CFG_CMD_PF_UNBIND);
        same_consts!(lsys: NFULNL_COPY_NONE, NFULNL_COPY_META, NFULNL_COPY_PACKET);
        same_consts!(lsys: NFULA_CFG_UNSPEC, NFULA_CFG_CMD, NFULA_CFG_MODE,
            NFULA_CFG_NLBUFSIZ, NFULA_CFG_TIMEOUT, NFULA_CFG_QTHRESH, NFULA_CFG_FLAGS);
        same_consts!(lsys: NFULNL_CFG_F_SEQ, NFULNL_CFG_F_SEQ_GLOBAL, NFULNL_CFG_F_CONNTRACK);
    }

    #[test]
    fn layouts_equal_the_installed_headers() {
        same_layout!(qsys::nlmsghdr {
            nlmsg_len,
            nlmsg_type,
            nlmsg_flags,
            nlmsg_seq,
            nlmsg_pid
        });
        same_layout!(qsys::nlattr { nla_len, nla_type });
        same_layout!(qsys::nfgenmsg {
            nfgen_family,
            version,
            res_id
        });
        same_layout!(qsys::nfqnl_msg_packet_hdr {
            packet_id,
            hw_protocol,
            hook
        });
        same_layout!(qsys::nfqnl_msg_packet_hw {
            hw_addrlen,
            _pad,
            hw_addr
        });
        same_layout!(qsys::nfqnl_msg_packet_timestamp { sec, usec });
        same_layout!(qsys::nfqnl_msg_verdict_hdr { verdict, id });
        same_layout!(qsys::nfqnl_msg_config_cmd { command, _pad, pf });
        same_layout!(qsys::nfqnl_msg_config_params {
            copy_range,
            copy_mode
        });
        same_layout!(lsys::nfulnl_msg_packet_hdr {
            hw_protocol,
            hook,
            _pad
        });
        same_layout!(lsys::nfulnl_msg_config_cmd { command });
        same_layout!(lsys::nfulnl_msg_config_mode {
            copy_range,
            copy_mode,
            _pad
        });
    }
}
