//! Finds libnetfilter_log with pkg-config and generates the bindings with bindgen; on docs.rs
//! (`DOCS_RS` set) uses the bindings saved in `saved/bindings.rs` instead.

#[path = "build/sys_build.rs"]
mod sys_build;

use sys_build::{Library, Supplement};

const LIBRARY: Library = Library {
    pkg_config_name: "libnetfilter_log",
    min_version: "1.0.2",
    debian: "libnetfilter-log-dev libnfnetlink-dev libmnl-dev",
    fedora: "libnetfilter_log-devel libnfnetlink-devel libmnl-devel",
    arch: "libnetfilter_log libnfnetlink libmnl",
    alpine: "libnetfilter_log-dev libnfnetlink-dev libmnl-dev",
    saved_bindings: "saved/bindings.rs",
};

/// Attributes the running kernel may send that an installed uapi header may not know.
const SUPPLEMENTS: &[Supplement] = &[
    Supplement {
        name: "NFULA_CT",
        ty: "nfulnl_attr_type",
        value: 18,
        since: "4.2",
    },
    Supplement {
        name: "NFULA_CT_INFO",
        ty: "nfulnl_attr_type",
        value: 19,
        since: "4.2",
    },
    Supplement {
        name: "NFULA_VLAN",
        ty: "nfulnl_attr_type",
        value: 20,
        since: "4.8",
    },
    Supplement {
        name: "NFULA_L2HDR",
        ty: "nfulnl_attr_type",
        value: 21,
        since: "4.8",
    },
    Supplement {
        name: "NFULA_VLAN_UNSPEC",
        ty: "nfulnl_vlan_attr",
        value: 0,
        since: "4.8",
    },
    Supplement {
        name: "NFULA_VLAN_PROTO",
        ty: "nfulnl_vlan_attr",
        value: 1,
        since: "4.8",
    },
    Supplement {
        name: "NFULA_VLAN_TCI",
        ty: "nfulnl_vlan_attr",
        value: 2,
        since: "4.8",
    },
    Supplement {
        name: "NFULNL_CFG_F_CONNTRACK",
        ty: "u32",
        value: 4,
        since: "4.2",
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
        // The classic nflog_* API, the libmnl-based nflog_nlmsg_* / nflog_attr_put_* API, and
        // the undeclared-but-exported nflog_get_ctid (declared in wrapper.h).
        .allowlist_function("nflog_.*")
        .allowlist_var(
            "NF_INET_.*|NFPROTO_.*|nflog_errno|NFLOG_.*|NFULA_.*|NFULNL_.*|NFNL_.*|NFNETLINK_V0",
        )
        .allowlist_type("nf_inet_hooks|nfulnl_.*|nfgenmsg|nflog_output_type")
        .allowlist_item("NFULA_.*|NFULNL_.*|NFLOG_XML_.*")
        // The kernel defines NFULA_VLAN_MAX as __NFULA_VLAN_MAX + 1, which is wrong (it should
        // be - 1, as NFQA_VLAN_MAX is): nothing may be sized from it, so it is not bound.
        .blocklist_item("NFULA_VLAN_MAX")
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
