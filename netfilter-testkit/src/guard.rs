//! A snapshot of the host's network state, to prove a test run left it untouched.
//!
//! [`HostSnapshot::capture`] records, in the caller's namespace, the nftables ruleset
//! (`nft list ruleset`), the links (`ip -o link show`), the addresses (`ip -o addr show`, with
//! the ever-changing address lifetimes removed) and the named namespaces (`ip netns list`).
//! [`HostSnapshot::diff`] lists what changed. Call it from the host's namespace, i.e. from a test
//! thread, never from inside a sandbox.

use crate::Error;
use crate::sandbox::{NAME_PREFIX, output_of, owner_pid};

/// The host's ruleset, links, addresses and namespaces at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostSnapshot {
    /// `nft list ruleset`, one entry per line.
    pub ruleset: Vec<String>,
    /// `ip -o link show`.
    pub links: Vec<String>,
    /// `ip -o addr show`, without `valid_lft`/`preferred_lft`.
    pub addresses: Vec<String>,
    /// `ip netns list` names, without testkit namespaces of other live processes (concurrent
    /// test binaries): those of this process, of dead processes, and all others stay.
    pub namespaces: Vec<String>,
}

fn run(argv: &[&str]) -> Result<String, Error> {
    let mut command = crate::sandbox::tool_command(argv[0]);
    command.args(&argv[1..]);
    output_of(command, argv)
}

fn lines(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim_end)
        .filter(|line| !line.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Drops `valid_lft X preferred_lft Y` (they count down) from an `ip -o addr` line.
fn without_lifetimes(line: &str) -> String {
    let mut out = Vec::new();
    let mut words = line.split_whitespace();
    while let Some(word) = words.next() {
        if word == "valid_lft" || word == "preferred_lft" {
            words.next();
        } else {
            out.push(word);
        }
    }
    out.join(" ")
}

impl HostSnapshot {
    /// Records the state of the caller's namespace.
    ///
    /// # Errors
    ///
    /// [`Error::Command`] or [`Error::Unsupported`] when `nft` or `ip` fails or is missing
    /// (`nft list ruleset` needs `CAP_NET_ADMIN`).
    pub fn capture() -> Result<HostSnapshot, Error> {
        let own = std::process::id();
        let namespaces = lines(&run(&["ip", "netns", "list"])?)
            .into_iter()
            .filter_map(|line| line.split_whitespace().next().map(str::to_owned))
            .filter(|name| match owner_pid(name) {
                Some(pid) if pid != own => !std::path::Path::new(&format!("/proc/{pid}")).exists(),
                _ => true,
            })
            .collect();
        Ok(HostSnapshot {
            ruleset: lines(&run(&["nft", "list", "ruleset"])?),
            links: lines(&run(&["ip", "-o", "link", "show"])?),
            addresses: lines(&run(&["ip", "-o", "addr", "show"])?)
                .iter()
                .map(|line| without_lifetimes(line))
                .collect(),
            namespaces,
        })
    }

    /// What differs from `later`, as `"<section>: - line"` / `"<section>: + line"` entries;
    /// empty when nothing changed.
    pub fn diff(&self, later: &HostSnapshot) -> Vec<String> {
        let mut out = Vec::new();
        let sections = [
            ("ruleset", &self.ruleset, &later.ruleset),
            ("links", &self.links, &later.links),
            ("addresses", &self.addresses, &later.addresses),
            ("namespaces", &self.namespaces, &later.namespaces),
        ];
        for (name, before, after) in sections {
            out.extend(
                before
                    .iter()
                    .filter(|line| !after.contains(line))
                    .map(|line| format!("{name}: - {line}")),
            );
            out.extend(
                after
                    .iter()
                    .filter(|line| !before.contains(line))
                    .map(|line| format!("{name}: + {line}")),
            );
        }
        out
    }

    /// Testkit namespaces (`nftk-…`) in the snapshot.
    pub fn testkit_namespaces(&self) -> Vec<&str> {
        self.namespaces
            .iter()
            .map(String::as_str)
            .filter(|name| name.starts_with(NAME_PREFIX))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetimes_are_dropped() {
        assert_eq!(
            without_lifetimes(
                "2: eth0    inet6 fe80::1/64 scope link \\       valid_lft forever preferred_lft 3600sec"
            ),
            "2: eth0 inet6 fe80::1/64 scope link \\"
        );
    }

    #[test]
    fn diff_names_added_and_removed_lines() {
        let before = HostSnapshot {
            ruleset: vec![],
            links: vec!["1: lo".into()],
            addresses: vec![],
            namespaces: vec!["nftk-1-0".into()],
        };
        let mut after = before.clone();
        after.links.push("9: veth0".into());
        after.namespaces.clear();
        assert_eq!(
            before.diff(&after),
            vec!["links: + 9: veth0", "namespaces: - nftk-1-0"]
        );
        assert!(before.diff(&before).is_empty());
        assert_eq!(before.testkit_namespaces(), vec!["nftk-1-0"]);
    }
}
