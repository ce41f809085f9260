//! The crate's one error type.

use std::fmt;
use std::io;
use std::time::Duration;

/// Everything that can go wrong in the testkit.
///
/// [`Error::Unsupported`] and [`Error::Privilege`] describe the machine, not the code under test:
/// [`Error::skip_reason`] turns them into the reason a test prints when it skips (see
/// [`sandbox_or_skip!`](crate::sandbox_or_skip) and [`require!`](crate::require)).
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// An external program (`ip`, `iptables`, `nft`, …) exited unsuccessfully.
    Command {
        /// The program and its arguments.
        argv: Vec<String>,
        /// The exit code, or `None` when a signal ended it.
        status: Option<i32>,
        /// What it wrote to standard error.
        stderr: String,
    },
    /// A system call or file operation failed.
    Io {
        /// The failing call and its argument, e.g. `"setns(/run/netns/nftk-1-0)"`.
        call: String,
        /// The error the operating system returned.
        source: io::Error,
    },
    /// The kernel or the machine lacks a feature or tool.
    Unsupported {
        /// The missing feature, e.g. `"nft queue statement"`.
        what: String,
        /// Why it is missing, as far as the probe could tell.
        reason: String,
    },
    /// The process lacks a privilege.
    Privilege {
        /// What is needed, e.g. `"root or unprivileged user namespaces"`.
        needed: String,
    },
    /// A bounded wait ran out.
    Timeout {
        /// What was awaited.
        what: String,
        /// How long the wait lasted.
        after: Duration,
    },
    /// A kernel file or message did not have the expected format.
    Parse {
        /// What was being parsed.
        what: String,
        /// The offending input.
        input: String,
    },
    /// A caller asked for something that cannot be built, e.g. a rule for a chain its table lacks.
    Invalid {
        /// What is wrong.
        reason: String,
    },
    /// A namespace meant to be private is not, or cannot be shown to be: it is the host's (the
    /// caller's own or PID 1's), or its file is a symlink. A sandbox in it would put a test's
    /// rules and interfaces on the host, so it is refused; this is a failure, never a skip.
    NotPrivate {
        /// The namespace file, e.g. `"/run/netns/nftk-1-0"`.
        path: String,
        /// Why it is refused.
        reason: String,
    },
    /// [`sweep_stale`](crate::sweep_stale) could not remove some stale namespaces (it still
    /// tried every one).
    Sweep {
        /// The names it removed, sorted.
        removed: Vec<String>,
        /// Each name it could not remove, sorted, with the error.
        failed: Vec<(String, Error)>,
    },
    /// The `netfilter-safe` layer failed: opening a socket or handle, binding, receiving or
    /// dispatching (with the `ffi` feature, in `serve`).
    Netfilter(netfilter_safe::Error),
}

impl Error {
    /// `Some(reason)` when the error means "this machine cannot run the test" (a missing feature,
    /// tool or privilege) rather than a failure; tests print the reason and skip.
    pub fn skip_reason(&self) -> Option<String> {
        match self {
            Error::Unsupported { what, reason } => Some(format!("{what} unsupported: {reason}")),
            Error::Privilege { needed } => Some(format!("needs {needed}")),
            _ => None,
        }
    }

    /// Whether [`Error::skip_reason`] is `Some`.
    pub fn is_skip(&self) -> bool {
        self.skip_reason().is_some()
    }

    pub(crate) fn io(call: impl Into<String>, source: io::Error) -> Error {
        Error::Io {
            call: call.into(),
            source,
        }
    }

    /// The error of the last failed system call (`errno`), named by `call`.
    pub(crate) fn last_os(call: impl Into<String>) -> Error {
        Error::io(call, io::Error::last_os_error())
    }

    pub(crate) fn unsupported(what: impl Into<String>, reason: impl Into<String>) -> Error {
        Error::Unsupported {
            what: what.into(),
            reason: reason.into(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Command {
                argv,
                status,
                stderr,
            } => {
                write!(f, "`{}` ", argv.join(" "))?;
                match status {
                    Some(code) => write!(f, "exited with status {code}")?,
                    None => write!(f, "was killed by a signal")?,
                }
                let stderr = stderr.trim();
                if !stderr.is_empty() {
                    write!(f, ": {stderr}")?;
                }
                Ok(())
            }
            Error::Io { call, source } => write!(f, "{call} failed: {source}"),
            Error::Unsupported { what, reason } => write!(f, "{what} unsupported: {reason}"),
            Error::Privilege { needed } => write!(f, "insufficient privilege: needs {needed}"),
            Error::Timeout { what, after } => {
                write!(f, "timed out after {after:?} waiting for {what}")
            }
            Error::Parse { what, input } => write!(f, "cannot parse {what}: {input:?}"),
            Error::Invalid { reason } => write!(f, "invalid request: {reason}"),
            Error::NotPrivate { path, reason } => {
                write!(f, "namespace {path} is not private, refused: {reason}")
            }
            Error::Sweep { removed, failed } => {
                write!(
                    f,
                    "sweep of stale namespaces removed {} and could not remove {}",
                    removed.len(),
                    failed.len()
                )?;
                for (i, (name, error)) in failed.iter().enumerate() {
                    write!(f, "{} {name}: {error}", if i == 0 { ":" } else { ";" })?;
                }
                Ok(())
            }
            Error::Netfilter(source) => write!(f, "netfilter-safe: {source}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            Error::Netfilter(source) => Some(source),
            Error::Sweep { failed, .. } => failed
                .first()
                .map(|(_, error)| error as &(dyn std::error::Error + 'static)),
            _ => None,
        }
    }
}

impl From<netfilter_safe::Error> for Error {
    fn from(source: netfilter_safe::Error) -> Error {
        Error::Netfilter(source)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skip_reasons_only_for_machine_limits() {
        assert!(Error::unsupported("nft queue", "no nft_queue").is_skip());
        assert!(
            Error::Privilege {
                needed: "root".into()
            }
            .is_skip()
        );
        let failed = Error::Command {
            argv: vec!["ip".into(), "link".into()],
            status: Some(2),
            stderr: "boom\n".into(),
        };
        assert!(!failed.is_skip());
        assert_eq!(failed.to_string(), "`ip link` exited with status 2: boom");
        let sweep = Error::Sweep {
            removed: vec!["nftk-1-0".into()],
            failed: vec![
                ("nftk-1-1".into(), Error::Invalid { reason: "a".into() }),
                ("nftk-1-2".into(), Error::Invalid { reason: "b".into() }),
            ],
        };
        assert!(!sweep.is_skip());
        assert_eq!(
            sweep.to_string(),
            "sweep of stale namespaces removed 1 and could not remove 2: nftk-1-1: invalid \
             request: a; nftk-1-2: invalid request: b"
        );
    }
}
