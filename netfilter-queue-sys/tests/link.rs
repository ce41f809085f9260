//! Link smoke tests: the library is found, linked, and callable without privileges.

use core::mem::size_of;
use netfilter_queue_sys as sys;

#[test]
fn open_and_close_need_no_privileges() {
    // SAFETY: nfq_open has no preconditions.
    let h = unsafe { sys::nfq_open() };
    assert!(!h.is_null(), "nfq_open failed");
    // SAFETY: `h` is a live handle from nfq_open.
    let fd = unsafe { sys::nfq_fd(h) };
    assert!(fd >= 0);
    // SAFETY: `h` is live; nfq_nfnlh returns the handle's own nfnl handle.
    let nfnl = unsafe { sys::nfq_nfnlh(h) };
    // SAFETY: `nfnl` belongs to `h`, which is still open.
    assert_eq!(unsafe { sys::nfnl_fd(nfnl) }, fd);
    // SAFETY: `h` came from nfq_open and is closed exactly once.
    assert_eq!(unsafe { sys::nfq_close(h) }, 0);
}

#[test]
fn every_api_family_links() {
    // Taking each function's address makes the linker resolve it: a symbol missing from the
    // installed library fails this test's build instead of a user's.
    let symbols: &[*const ()] = &[
        sys::nfq_open_nfnl as *const (),
        sys::nfq_set_verdict2 as *const (),
        sys::nfq_set_verdict_batch2 as *const (),
        sys::nfq_get_physoutdev_name as *const (),
        sys::nfq_snprintf_xml as *const (),
        sys::nfq_nlmsg_put as *const (),
        sys::nfq_nlmsg_verdict_put_pkt as *const (),
        sys::nfq_nlmsg_parse as *const (),
        sys::pktb_alloc as *const (),
        sys::pktb_mangled as *const (),
        sys::nfq_ip_mangle as *const (),
        sys::nfq_ip6_set_transport_header as *const (),
        sys::nfq_tcp_compute_checksum_ipv6 as *const (),
        sys::nfq_udp_mangle_ipv4 as *const (),
        sys::nlif_open as *const (),
        sys::nlif_index2name as *const (),
        sys::nfnl_rcvbufsiz as *const (),
    ];
    assert!(symbols.iter().all(|s| !s.is_null()));
}

#[test]
fn packet_buffer_helpers_work() {
    // A 28-byte IPv4/UDP header with a wrong checksum; pktb + nfq_ip_set_checksum fix it.
    let mut pkt: [u8; 28] = [
        0x45, 0, 0, 28, 0, 0, 0x40, 0, 64, 17, 0xde, 0xad, 127, 0, 0, 1, 127, 0, 0, 1, 0x30, 0x39,
        0x23, 0x28, 0, 8, 0, 0,
    ];
    // SAFETY: pktb_alloc copies `len` bytes from `data`, which is a live array of that length.
    let pb = unsafe { sys::pktb_alloc(libc::AF_INET, pkt.as_mut_ptr().cast(), pkt.len(), 0) };
    assert!(!pb.is_null());
    // SAFETY: `pb` is a live packet buffer holding an IPv4 header.
    let iph = unsafe { sys::nfq_ip_get_hdr(pb) };
    assert!(!iph.is_null());
    // SAFETY: `iph` points into `pb`'s data, which is alive until pktb_free.
    unsafe { sys::nfq_ip_set_checksum(iph) };
    // SAFETY: as above; pktb_len reads the buffer's length.
    let (data, len) = unsafe { (sys::pktb_data(pb), sys::pktb_len(pb)) };
    assert_eq!(len, 28);
    // SAFETY: `data` is valid for `len` bytes until pktb_free below.
    let out = unsafe { core::slice::from_raw_parts(data, len as usize) }.to_vec();
    // SAFETY: `pb` came from pktb_alloc and is freed once.
    unsafe { sys::pktb_free(pb) };
    // The IPv4 header checksum of the result must verify: ones' complement sum is 0xffff.
    let sum: u32 = out[..20]
        .chunks(2)
        .map(|w| u32::from(u16::from_be_bytes([w[0], w[1]])))
        .sum();
    let folded = (sum & 0xffff) + (sum >> 16);
    assert_eq!(folded, 0xffff, "checksum not fixed: {:02x?}", &out[10..12]);
}

#[test]
fn kernel_struct_layouts() {
    // Sizes of the uapi structs as the kernel lays them out (packed where the header says so).
    assert_eq!(size_of::<sys::nfqnl_msg_packet_hdr>(), 7);
    assert_eq!(size_of::<sys::nfqnl_msg_packet_hw>(), 12);
    assert_eq!(size_of::<sys::nfqnl_msg_packet_timestamp>(), 16);
    assert_eq!(size_of::<sys::nfqnl_msg_verdict_hdr>(), 8);
    assert_eq!(size_of::<sys::nfqnl_msg_config_cmd>(), 4);
    assert_eq!(size_of::<sys::nfqnl_msg_config_params>(), 5);
    assert_eq!(size_of::<sys::nfgenmsg>(), 4);
}

#[test]
fn constants_are_the_kernels() {
    // The kernel's values, not those of libnetfilter_queue's stale header copy (which stops at
    // NFQA_SECCTX and lacks the VLAN nest).
    assert_eq!(sys::NFQA_SECCTX, 18);
    assert_eq!(sys::NFQA_VLAN, 19);
    assert_eq!(sys::NFQA_L2HDR, 20);
    assert_eq!(sys::NFQA_PRIORITY, 21);
    assert_eq!(sys::NFQA_CGROUP_CLASSID, 22);
    assert_eq!(sys::NFQA_VLAN_TCI, 2);
    assert_eq!(sys::NFQNL_MSG_VERDICT_BATCH, 3);
    assert_eq!(sys::NFQA_CFG_F_SECCTX, 1 << 4);
    assert_eq!(sys::NFQA_SKB_CSUM_NOTVERIFIED, 1 << 2);
    assert_eq!(sys::NFQNL_COPY_PACKET, 2);
    assert_eq!(sys::NFNL_SUBSYS_QUEUE, 3);
}
