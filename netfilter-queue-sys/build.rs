//! Finds libnetfilter_queue with pkg-config and generates the bindings with bindgen; on docs.rs
//! (`DOCS_RS` set) uses the bindings saved in `saved/bindings.rs` instead.

#[path = "build/sys_build.rs"]
mod sys_build;

use sys_build::{Library, Supplement};

const LIBRARY: Library = Library {
    pkg_config_name: "libnetfilter_queue",
    min_version: "1.0.5",
    debian: "libnetfilter-queue-dev libnfnetlink-dev libmnl-dev",
    fedora: "libnetfilter_queue-devel libnfnetlink-devel libmnl-devel",
    arch: "libnetfilter_queue libnfnetlink libmnl",
    alpine: "libnetfilter_queue-dev libnfnetlink-dev libmnl-dev",
    saved_bindings: "saved/bindings.rs",
};

/// Attributes the running kernel may send that an installed uapi header may not know.
const SUPPLEMENTS: &[Supplement] = &[
    Supplement {
        name: "NFQA_VLAN_UNSPEC",
        ty: "nfqnl_vlan_attr",
        value: 0,
        since: "4.7",
    },
    Supplement {
        name: "NFQA_VLAN_PROTO",
        ty: "nfqnl_vlan_attr",
        value: 1,
        since: "4.7",
    },
    Supplement {
        name: "NFQA_VLAN_TCI",
        ty: "nfqnl_vlan_attr",
        value: 2,
        since: "4.7",
    },
    Supplement {
        name: "NFQA_VLAN",
        ty: "nfqnl_attr_type",
        value: 19,
        since: "4.7",
    },
    Supplement {
        name: "NFQA_L2HDR",
        ty: "nfqnl_attr_type",
        value: 20,
        since: "4.7",
    },
    Supplement {
        name: "NFQA_PRIORITY",
        ty: "nfqnl_attr_type",
        value: 21,
        since: "5.19",
    },
    Supplement {
        name: "NFQA_CGROUP_CLASSID",
        ty: "nfqnl_attr_type",
        value: 22,
        since: "6.4",
    },
    Supplement {
        name: "NFQA_CFG_F_SECCTX",
        ty: "u32",
        value: 1 << 4,
        since: "4.1",
    },
    Supplement {
        name: "NFQA_SKB_CSUM_NOTVERIFIED",
        ty: "u32",
        value: 1 << 2,
        since: "3.19",
    },
];

fn main() {
    println!("cargo:rerun-if-changed=wrapper.h");
    println!("cargo:rerun-if-changed=build/sys_build.rs");
    if sys_build::use_saved_bindings_on_docs_rs(&LIBRARY) {
        return;
    }
    let includes = sys_build::probe(&LIBRARY);
    sys_build::require_libclang(&LIBRARY);

    let mut builder = bindgen::Builder::default()
        .header("wrapper.h")
        .rust_target(bindgen::RustTarget::stable(85, 0).unwrap_or_default())
        .use_core()
        .ctypes_prefix("::core::ffi")
        .default_enum_style(bindgen::EnumVariation::Consts)
        .prepend_enum_name(false)
        .derive_default(true)
        .derive_debug(true)
        .generate_comments(true)
        // The libraries' functions: the classic API, the libmnl-based nfq_nlmsg_* API, pktb_*
        // and the nfq_ip/ip6/tcp/udp helpers, and the libnfnetlink calls its API hands out
        // (nfnl_* for nfq_open_nfnl / nfq_nfnlh, nlif_* for the interface-name getters).
        .allowlist_function("nfq_.*|pktb_.*|nfnl_.*|nlif_.*")
        .allowlist_var("NF_(DROP|ACCEPT|STOLEN|QUEUE|REPEAT|STOP|MAX_VERDICT)|NF_VERDICT_.*|NF_INET_.*|NFPROTO_.*|nfq_errno|NFQ_.*|NFQA_.*|NFQNL_.*|NFNL_.*|NFNETLINK_V0|NFNLGRP_.*")
        .allowlist_type("nf_inet_hooks|nfqnl_.*|nfgenmsg|nfnetlink_groups")
        .allowlist_item("NFQA_.*|NFQNL_.*|NFQ_XML_.*")
        .parse_callbacks(Box::new(bindgen::CargoCallbacks::new()));
    for dir in &includes {
        builder = builder.clang_arg(format!("-I{}", dir.display()));
    }
    let bindings = match builder.generate() {
        Ok(b) => b.to_string(),
        Err(err) => sys_build::fail(&format!("bindgen failed on wrapper.h: {err}")),
    };
    sys_build::write_bindings(&sys_build::supplement(bindings, SUPPLEMENTS));
}
