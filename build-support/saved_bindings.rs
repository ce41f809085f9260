// The check shared by the `saved_bindings` tests of `netfilter-queue-sys` and
// `netfilter-log-sys`: the bindings saved in the crate (which the build script uses on docs.rs,
// where the C headers are not installed) must equal what the build script generates here.
//
// Each sys crate links it as `build/saved_bindings.rs`, beside `build/sys_build.rs`, and its
// `tests/saved_bindings.rs` includes it with `#[path]`. It has no dependencies, so the test can
// compile it (the build script's module needs the build-dependencies).

use std::env;
use std::fs;

/// The environment variable that makes the test write the fresh bindings over the saved file.
pub const BLESS: &str = "NETFILTER_SYS_BLESS";

/// The command that regenerates every saved file (it sets [`BLESS`] and runs this test).
pub const REGENERATE: &str = "scripts/dev bindings";

/// The first line of every saved file: how the test tells a saved copy from fresh output.
const FIRST_LINE: &str = "// Bindings saved for docs.rs";

/// One sys crate's saved bindings.
pub struct Saved {
    /// The crate, e.g. `netfilter-queue-sys`.
    pub krate: &'static str,
    /// What the saved bindings were generated against, for the header: the libraries with their
    /// versions, the uapi headers and the system (one line of at most 95 characters).
    pub generated_against: &'static str,
    /// The crate's version: its build metadata names the C library version (`0.1.0+1.0.5`),
    /// which `generated_against` must mention.
    pub crate_version: &'static str,
    /// The C library's pkg-config name, e.g. `libnetfilter_queue`.
    pub library: &'static str,
    /// Absolute path of the saved file.
    pub path: &'static str,
    /// What the build script wrote to `OUT_DIR/bindings.rs` for this build.
    pub fresh: &'static str,
}

impl Saved {
    /// The comment that opens the saved file; the rest of the file is the fresh output verbatim.
    pub fn header(&self) -> String {
        format!(
            "{FIRST_LINE}, which has no {library} headers: when DOCS_RS is set,\n\
             // build.rs copies this file to OUT_DIR/bindings.rs instead of running pkg-config \
             and bindgen.\n\
             //\n\
             // The rest is exactly what build.rs generates (bindgen's output plus the \
             supplemented kernel\n\
             // constants) for x86_64-unknown-linux-gnu, whose layouts its assertions check, \
             against\n\
             //   {generated_against}\n\
             //\n\
             // Do not edit: tests/saved_bindings.rs keeps it equal to fresh output. Regenerate \
             it with\n\
             // `{REGENERATE}`, or for this crate alone:\n\
             //   {BLESS}=1 cargo test -p {krate} --test saved_bindings\n\n",
            library = self.library,
            generated_against = self.generated_against,
            krate = self.krate,
        )
    }

    /// Fails unless the saved file is the header followed by the fresh output; with [`BLESS`]
    /// set, writes that over the saved file instead.
    pub fn check(&self) {
        if !cfg!(all(
            target_arch = "x86_64",
            target_os = "linux",
            target_env = "gnu"
        )) {
            // docs.rs builds x86_64-unknown-linux-gnu; bindings with another target's layout
            // assertions must not replace them.
            eprintln!(
                "SKIP: the saved bindings are for x86_64-unknown-linux-gnu, this is another target"
            );
            return;
        }
        if self.fresh.starts_with(FIRST_LINE) {
            eprintln!(
                "SKIP: built with DOCS_RS set, so OUT_DIR holds the saved copy, not fresh output"
            );
            return;
        }
        if let Some((_, c_version)) = self.crate_version.split_once('+') {
            let named = format!("{} {c_version}", self.library);
            assert!(
                self.generated_against.contains(&named),
                "the crate version {} says the bindings are generated against {named}, but the \
                 header says {:?}: update generated_against in tests/saved_bindings.rs",
                self.crate_version,
                self.generated_against,
            );
        }
        let expected = self.header() + self.fresh;
        if env::var_os(BLESS).is_some_and(|v| !v.is_empty() && v != "0") {
            if let Err(err) = fs::write(self.path, &expected) {
                panic!("{BLESS}: cannot write {}: {err}", self.path);
            }
            eprintln!("{BLESS}: wrote {}", self.path);
            return;
        }
        let saved = match fs::read_to_string(self.path) {
            Ok(saved) => saved,
            Err(err) => panic!(
                "cannot read the saved bindings {}: {err}\nregenerate them with `{REGENERATE}`",
                self.path
            ),
        };
        if saved != expected {
            panic!(
                "the saved bindings {} differ from what build.rs generates here; if the change \
                 is intended, regenerate them with `{REGENERATE}` and commit the result.\n{}",
                self.path,
                first_difference(&saved, &expected),
            );
        }
    }
}

/// Names the first line where `saved` and `expected` differ, with both versions of it.
fn first_difference(saved: &str, expected: &str) -> String {
    let mut saved_lines = saved.lines();
    let mut expected_lines = expected.lines();
    for number in 1.. {
        match (saved_lines.next(), expected_lines.next()) {
            (Some(s), Some(e)) if s == e => {}
            (None, None) => break,
            (s, e) => {
                // Quoted, so that a difference in whitespace shows.
                let show =
                    |line: Option<&str>| line.map_or("end of file".into(), |l| format!("{l:?}"));
                return format!(
                    "first difference at line {number}:\n  saved: {}\n  fresh: {}",
                    show(s),
                    show(e),
                );
            }
        }
    }
    // Same lines: the files differ only in line endings or the final newline.
    "the lines are equal; the files differ in line endings or the final newline".to_string()
}
