//! The golden vectors: raw buffers the kernel sent for NFQUEUE and NFLOG, with what the C
//! libraries decoded from each (`shared/vectors` beside the workspace; see its README).
//!
//! ```no_run
//! use netfilter_testkit::vectors;
//!
//! let Some(dir) = vectors::dir() else { return };
//! for buffer in vectors::load(&dir, "q-ipv4-udp-input").unwrap() {
//!     println!("{} bytes, {} messages", buffer.bytes.len(), buffer.rows.len());
//! }
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::Error;

/// Every vector set captured so far, queue sets first.
pub const SETS: &[&str] = &[
    "q-ipv4-udp-input",
    "q-ipv6-udp-input",
    "q-ipv4-tcp-output-uidgid",
    "q-ipv4-marked-truncated",
    "q-ipv4-udp-copy-meta",
    "q-ipv4-tcp-gso",
    "l-ipv4-udp-input-batch",
    "l-ipv6-udp-output-truncated",
    "l-nft-ipv4-udp-input",
    "l-ipv4-udp-copy-meta",
];

/// One captured `recv()` buffer and the JSON rows of its messages, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Buffer {
    /// The buffer index `K` of `NAME-K.bin`.
    pub index: u64,
    /// The bytes exactly as received.
    pub bytes: Vec<u8>,
    /// One row per netlink message, as the C library decoded it.
    pub rows: Vec<Value>,
}

/// The vectors directory: `NETFILTER_VECTORS`, else `shared/vectors` beside the workspace.
/// `None` (after printing why to standard error) when it is not there.
pub fn dir() -> Option<PathBuf> {
    let dir = match std::env::var_os("NETFILTER_VECTORS") {
        Some(d) => PathBuf::from(d),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/vectors"),
    };
    if dir.join("README.md").is_file() {
        Some(dir)
    } else {
        eprintln!(
            "no golden vectors at {} (set NETFILTER_VECTORS)",
            dir.display()
        );
        None
    }
}

/// The buffers of vector set `set`, in order.
///
/// # Errors
/// [`Error::Io`] when a file cannot be read, [`Error::Parse`] when a row is not JSON or lacks
/// its `buffer` index.
pub fn load(dir: &Path, set: &str) -> Result<Vec<Buffer>, Error> {
    let jsonl = dir.join(format!("{set}.jsonl"));
    let text = std::fs::read_to_string(&jsonl)
        .map_err(|e| Error::io(format!("read {}", jsonl.display()), e))?;
    let mut buffers: BTreeMap<u64, Vec<Value>> = BTreeMap::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let row: Value = serde_json::from_str(line).map_err(|e| Error::Parse {
            what: format!("{}", jsonl.display()),
            input: e.to_string(),
        })?;
        let index = row["buffer"].as_u64().ok_or_else(|| Error::Parse {
            what: format!("{}", jsonl.display()),
            input: "a row without a buffer index".into(),
        })?;
        buffers.entry(index).or_default().push(row);
    }
    buffers
        .into_iter()
        .map(|(index, rows)| {
            let bin = dir.join(format!("{set}-{index}.bin"));
            let bytes =
                std::fs::read(&bin).map_err(|e| Error::io(format!("read {}", bin.display()), e))?;
            Ok(Buffer { index, bytes, rows })
        })
        .collect()
}

/// Lower-case hex, as the rows write byte strings.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
