//! The bindings saved for docs.rs (`saved/bindings.rs`) equal what build.rs generates here.
//!
//! With `NETFILTER_SYS_BLESS=1` it writes the fresh output over the saved file instead: that is
//! how `scripts/dev bindings` regenerates it.

#[path = "../build/saved_bindings.rs"]
mod saved_bindings;

#[test]
fn saved_bindings_equal_fresh_output() {
    saved_bindings::Saved {
        krate: env!("CARGO_PKG_NAME"),
        generated_against: "libnetfilter_queue 1.0.5, libnfnetlink 1.0.2, Linux 6.1 uapi headers \
                            (Debian 12 bookworm)",
        crate_version: env!("CARGO_PKG_VERSION"),
        library: "libnetfilter_queue",
        path: concat!(env!("CARGO_MANIFEST_DIR"), "/saved/bindings.rs"),
        fresh: include_str!(concat!(env!("OUT_DIR"), "/bindings.rs")),
    }
    .check();
}
