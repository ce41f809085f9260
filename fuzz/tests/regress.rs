//! Runs every fuzz target's body on stable, as a plain test, over its starting inputs (the
//! captured vectors and the testkit's malformed cases, as `seed` writes them) and over every
//! input saved in `regressions/<target>/` (crashes found by fuzzing, kept after the fix).
//! This is what CI runs where nightly or cargo-fuzz is missing; see FUZZING.md.

use std::fs;
use std::path::Path;

use netfilter_fuzz::TARGETS;
use netfilter_testkit::synth::malformed;

fn starting_inputs() -> Vec<(String, Vec<u8>)> {
    let mut inputs = Vec::new();
    let vectors = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/vectors");
    if let Ok(dir) = fs::read_dir(&vectors) {
        for entry in dir.flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "bin") {
                inputs.push((path.display().to_string(), fs::read(&path).expect("read")));
            }
        }
    }
    for case in malformed::cases() {
        inputs.push((format!("malformed {}", case.name), case.bytes));
    }
    inputs.push(("valid queue".into(), malformed::valid_queue_packet()));
    inputs.push(("valid log".into(), malformed::valid_log_packet()));
    inputs
}

/// The saved crash inputs of `target`, and with `NETFILTER_FUZZ_CORPUS=DIR` every input of
/// `DIR/<target>/` too (e.g. `corpus` after a fuzzing run, for `scripts/memcheck fuzz`).
fn saved(target: &str) -> Vec<(String, Vec<u8>)> {
    let mut dirs = vec![
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("regressions")
            .join(target),
    ];
    if let Some(corpus) = std::env::var_os("NETFILTER_FUZZ_CORPUS") {
        dirs.push(Path::new(&corpus).join(target));
    }
    let mut inputs = Vec::new();
    for dir in dirs {
        if let Ok(dir) = fs::read_dir(dir) {
            for entry in dir.flatten() {
                let path = entry.path();
                inputs.push((path.display().to_string(), fs::read(&path).expect("read")));
            }
        }
    }
    inputs
}

#[test]
fn every_target_survives_its_starting_and_saved_inputs() {
    let inputs = starting_inputs();
    assert!(inputs.len() > 10, "the malformed cases at least");
    let verbose = std::env::var_os("NETFILTER_FUZZ_VERBOSE").is_some();
    for &(target, run) in TARGETS {
        // The fuzzing version keeps its handles for the whole process (leaked on purpose).
        let run = if target == "safe_dispatch" {
            netfilter_fuzz::safe_dispatch_fresh
        } else {
            run
        };
        let mut n = 0;
        for (name, bytes) in inputs.iter().chain(&saved(target)) {
            if verbose {
                eprintln!("{target}: {name}");
            }
            run(bytes);
            // Every prefix too: truncation is the commonest malformation.
            for cut in [0, 1, 4, 16, 20, 36] {
                if cut < bytes.len() {
                    run(&bytes[..cut]);
                }
            }
            n += 1;
        }
        eprintln!("{target}: {n} inputs");
    }
}
