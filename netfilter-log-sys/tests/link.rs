//! Link smoke tests: the library is found, linked, and callable without privileges.

use core::mem::size_of;
use netfilter_log_sys as sys;

#[test]
fn open_and_close_need_no_privileges() {
    // SAFETY: nflog_open has no preconditions.
    let h = unsafe { sys::nflog_open() };
    assert!(!h.is_null(), "nflog_open failed");
    // SAFETY: `h` is a live handle from nflog_open.
    assert!(unsafe { sys::nflog_fd(h) } >= 0);
    // SAFETY: `h` came from nflog_open and is closed exactly once.
    assert_eq!(unsafe { sys::nflog_close(h) }, 0);
}

#[test]
fn every_api_family_links() {
    // Taking each function's address makes the linker resolve it: a symbol missing from the
    // installed library fails this test's build instead of a user's. nflog_get_ctid is the one
    // the header does not declare.
    let symbols: &[*const ()] = &[
        sys::nflog_open_nfnl as *const (),
        sys::nflog_get_ctid as *const (),
        sys::nflog_get_seq_global as *const (),
        sys::nflog_get_msg_packet_hwhdr as *const (),
        sys::nflog_snprintf_xml as *const (),
        sys::nflog_nlmsg_put_header as *const (),
        sys::nflog_attr_put_cfg_mode as *const (),
        sys::nflog_nlmsg_parse as *const (),
        sys::nflog_nlmsg_snprintf as *const (),
    ];
    assert!(symbols.iter().all(|s| !s.is_null()));
}

#[test]
fn mnl_message_api_builds_a_config_message() {
    // nflog_nlmsg_put_header + nflog_attr_put_cfg_mode write a NFULNL_MSG_CONFIG message; check
    // the bytes against the kernel's layout.
    let mut buf = [0u8; 256];
    // SAFETY: `buf` is large enough for a netlink header, nfgenmsg and one attribute (libmnl
    // writes at most MNL_SOCKET_BUFFER_SIZE only when asked to; here 40 bytes).
    let nlh = unsafe {
        sys::nflog_nlmsg_put_header(
            buf.as_mut_ptr().cast(),
            sys::NFULNL_MSG_CONFIG as u8,
            libc::AF_INET as u8,
            7,
        )
    };
    assert!(!nlh.is_null());
    // SAFETY: `nlh` points into `buf` with room left for the attribute.
    let rc = unsafe { sys::nflog_attr_put_cfg_mode(nlh, sys::NFULNL_COPY_PACKET as u8, 0xffff) };
    assert_eq!(rc, 0);
    // SAFETY: `nlh` is a valid header inside `buf`.
    let len = unsafe { (*nlh).nlmsg_len } as usize;
    assert_eq!(
        len,
        16 + 4 + 4 + 6 + 2,
        "header, nfgenmsg, attr header, mode, padding"
    );
    let type_ = u16::from_ne_bytes([buf[4], buf[5]]);
    assert_eq!(
        type_,
        ((sys::NFNL_SUBSYS_ULOG as u16) << 8) | sys::NFULNL_MSG_CONFIG as u16
    );
    assert_eq!(buf[16], libc::AF_INET as u8, "nfgen_family");
    assert_eq!(
        u16::from_be_bytes([buf[18], buf[19]]),
        7,
        "res_id is the group"
    );
    assert_eq!(
        u16::from_ne_bytes([buf[22], buf[23]]),
        sys::NFULA_CFG_MODE as u16
    );
    assert_eq!(
        &buf[24..30],
        &[0, 0, 0xff, 0xff, 2, 0],
        "copy_range BE, copy_mode, pad"
    );
}

#[test]
fn kernel_struct_layouts() {
    assert_eq!(size_of::<sys::nfulnl_msg_packet_hdr>(), 4);
    assert_eq!(size_of::<sys::nfulnl_msg_packet_hw>(), 12);
    assert_eq!(size_of::<sys::nfulnl_msg_packet_timestamp>(), 16);
    assert_eq!(size_of::<sys::nfulnl_msg_config_cmd>(), 1);
    assert_eq!(size_of::<sys::nfulnl_msg_config_mode>(), 6);
    assert_eq!(size_of::<sys::nfgenmsg>(), 4);
}

#[test]
fn constants_are_the_kernels() {
    // The kernel's values, not those of libnetfilter_log's stale header copy (which stops at
    // NFULA_CT_INFO).
    assert_eq!(sys::NFULA_CT, 18);
    assert_eq!(sys::NFULA_CT_INFO, 19);
    assert_eq!(sys::NFULA_VLAN, 20);
    assert_eq!(sys::NFULA_L2HDR, 21);
    assert_eq!(sys::NFULA_VLAN_TCI, 2);
    // NFULA_VLAN_MAX is not bound (the kernel's macro is wrong); the real maximum:
    assert_eq!(sys::__NFULA_VLAN_MAX - 1, sys::NFULA_VLAN_TCI);
    assert_eq!(sys::NFULNL_CFG_F_SEQ_GLOBAL, 2);
    assert_eq!(sys::NFULNL_CFG_F_CONNTRACK, 4);
    assert_eq!(sys::NFULNL_COPY_PACKET, 2);
    assert_eq!(sys::NFNL_SUBSYS_ULOG, 4);
}
