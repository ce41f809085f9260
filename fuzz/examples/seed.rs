//! Writes the starting corpora: every `*.bin` of `../shared/vectors` (captured kernel
//! datagrams) and every `synth::malformed::cases()` datagram, into `corpus/<target>/` of each
//! target, plus a few IP packets with editing parameters for the `payload` target.
//!
//! Usage: `cargo run --example seed -- [VECTORS_DIR] [CORPUS_DIR]` (defaults `../../shared/vectors` from `fuzz/`,
//! and `corpus`).

use std::error::Error;
use std::fs;
use std::path::PathBuf;

use netfilter_fuzz::TARGETS;
use netfilter_testkit::synth::{malformed, payload};

fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args_os().skip(1);
    let vectors = args
        .next()
        .map_or_else(|| PathBuf::from("../../shared/vectors"), PathBuf::from);
    let corpus = args
        .next()
        .map_or_else(|| PathBuf::from("corpus"), PathBuf::from);

    let mut seeds: Vec<(String, Vec<u8>)> = Vec::new();
    match fs::read_dir(&vectors) {
        Ok(dir) => {
            let mut paths: Vec<PathBuf> = dir
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e == "bin"))
                .collect();
            paths.sort();
            for path in paths {
                let name = path.file_stem().unwrap_or_default().to_string_lossy();
                seeds.push((format!("vector-{name}"), fs::read(&path)?));
            }
        }
        Err(e) => eprintln!("seed: no vectors at {} ({e})", vectors.display()),
    }
    for case in malformed::cases() {
        seeds.push((format!("malformed-{}", case.name), case.bytes));
    }
    seeds.push(("valid-queue".into(), malformed::valid_queue_packet()));
    seeds.push(("valid-log".into(), malformed::valid_log_packet()));

    // IP packets for `payload`: the last 7 bytes are the editing parameters (skb flags,
    // splice start and length, new data length).
    let (a, b) = ([10, 0, 0, 1].into(), [10, 0, 0, 2].into());
    let (a6, b6) = ("fd00::1".parse()?, "fd00::2".parse()?);
    let params = [0u8, 28, 0, 4, 0, 16, 0];
    let packets = [
        ("ipv4-udp", payload::ipv4_udp(a, b, 1000, 53, b"hello")?),
        ("ipv6-udp", payload::ipv6_udp(a6, b6, 1000, 53, b"hello")?),
        ("ipv4-syn", payload::ipv4_tcp_syn(a, b, 1000, 80, 1)?),
        ("ipv6-syn", payload::ipv6_tcp_syn(a6, b6, 1000, 80, 1)?),
    ];
    let mut ip_seeds = Vec::new();
    for (name, mut bytes) in packets {
        bytes.extend_from_slice(&params);
        ip_seeds.push((format!("ip-{name}"), bytes));
    }

    let mut written = 0;
    for (target, _) in TARGETS {
        let dir = corpus.join(target);
        fs::create_dir_all(&dir)?;
        let extra = if *target == "payload" {
            &ip_seeds[..]
        } else {
            &[]
        };
        for (name, bytes) in seeds.iter().chain(extra) {
            fs::write(dir.join(name), bytes)?;
            written += 1;
        }
    }
    println!(
        "seed: {written} files, {} seeds per target, into {}",
        seeds.len(),
        corpus.display()
    );
    Ok(())
}
