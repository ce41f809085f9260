//! Rootless mode: running sandbox tests as an unprivileged user inside a user namespace.
//!
//! # Design
//!
//! A process can only join or create a user namespace while it is single-threaded
//! (`unshare(CLONE_NEWUSER)` and `setns` into a user namespace fail with `EINVAL` otherwise), and
//! a thread of a process outside the user namespace cannot `setns` into a network namespace that
//! the user namespace owns (it lacks `CAP_SYS_ADMIN` in its own, initial, user namespace). The
//! `cargo test` harness is multithreaded, so a sandbox cannot simply be made rootless in place.
//!
//! Instead, [`sandbox_or_skip!`](crate::sandbox_or_skip) **re-executes the current test** when
//! the process is not root: it starts the test binary again with
//! `<test name> --exact --nocapture --test-threads=1 --include-ignored`, and in the forked
//! child, which is single-threaded until it `exec`s, calls `unshare(CLONE_NEWUSER |
//! CLONE_NEWNET)` and maps uid and gid 0 to the caller's (as `unshare -Urn` does). The re-run
//! test is root of its user namespace and creates anonymous sandboxes there. The outer test passes
//! when the inner one passes, prints its output, and fails with that output otherwise.
//!
//! Limits:
//! * the test name comes from the harness thread's name, so this works with the default libtest
//!   harness (not with `harness = false` binaries, which can call [`enter_user_namespace`] from
//!   `main` while still single-threaded);
//! * everything before the macro in the test body runs twice (once outside, once inside);
//! * `/proc/net/netfilter/nfnetlink_{queue,log}` (mode 0440) belong to the initial user
//!   namespace's root; read through `/proc/thread-self/net` from a sandbox thread they are
//!   readable on Linux 6.18, but where they are not, [`procfs`](crate::procfs) returns
//!   [`Error::Unsupported`] and [`Feature::Procfs`](crate::probe::Feature::Procfs) is missing;
//! * when user namespaces are disabled (`user.max_user_namespaces = 0`, AppArmor's
//!   `kernel.apparmor_restrict_unprivileged_userns`, seccomp in a container), the test skips with
//!   the `errno` as its reason;
//! * set `NETFILTER_TESTKIT_NO_ROOTLESS=1` to skip instead of re-executing.
//!
//! # Code that must run once
//!
//! Code *after* the macro runs once: in the re-executed test (the outer run returns at the
//! macro), or, as root, in the only run. Put a child process, a fixture or anything else that
//! must not be made twice there; it is made inside the user namespace, next to the sandbox.
//! Code that must run *outside* the user namespace, once, goes before the macro behind
//! [`is_rerun`]:
//!
//! ```no_run
//! use netfilter_testkit::{rootless, sandbox_or_skip};
//!
//! #[test]
//! fn with_a_helper() {
//!     if !rootless::is_rerun() {
//!         // Once, in the test's first process (as the invoking user): e.g. check a tool
//!         // or write a fixture file that the re-executed test reads.
//!     }
//!     let sandbox = sandbox_or_skip!();
//!     // Once: inside the user namespace (rootless), or the only run (root). A child process
//!     // started here enters the sandbox with `sandbox.command(..)`.
//!     let helper = sandbox.command("sleep").arg("1").spawn().unwrap();
//!     # drop(helper);
//! }
//! ```

use std::env;
use std::ffi::CString;
use std::fs;
use std::io;
use std::os::unix::process::CommandExt;
use std::process::Command;

use crate::Error;

/// Set in the environment of a test re-executed inside a user namespace.
pub const CHILD_ENV: &str = "NETFILTER_TESTKIT_ROOTLESS_CHILD";
/// When set (to anything), non-root tests skip instead of re-executing in a user namespace.
pub const DISABLE_ENV: &str = "NETFILTER_TESTKIT_NO_ROOTLESS";

/// Whether this process is a test re-executed in a user namespace by
/// [`sandbox_or_skip!`](crate::sandbox_or_skip) (see
/// [Code that must run once](self#code-that-must-run-once)).
pub fn is_rerun() -> bool {
    env::var_os(CHILD_ENV).is_some()
}

/// What a test should do before building a sandbox; the result of [`test_entry`], used by
/// [`sandbox_or_skip!`](crate::sandbox_or_skip).
#[derive(Debug)]
#[doc(hidden)]
pub enum TestEntry {
    /// The process is root (really, or of a user namespace): go on.
    Proceed,
    /// Print this reason and skip.
    Skip(String),
    /// The test ran and passed in a user namespace; this is its output.
    RanInChild(String),
    /// The test failed in a user namespace; this is its output.
    ChildFailed(String),
}

/// Decides how the current test gets its sandbox (see the [module docs](self)).
#[doc(hidden)]
pub fn test_entry() -> TestEntry {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } == 0 {
        return TestEntry::Proceed;
    }
    if is_rerun() {
        return TestEntry::Skip("not root even inside the user namespace (uid map failed)".into());
    }
    if env::var_os(DISABLE_ENV).is_some() {
        return TestEntry::Skip(format!("needs root ({DISABLE_ENV} disables rootless mode)"));
    }
    let Some(test) = thread_test_name() else {
        return TestEntry::Skip(
            "needs root: not root, and the test's name is unknown (not under the libtest \
             harness), so it cannot be re-run in a user namespace"
                .into(),
        );
    };
    match rerun_in_user_namespace(&test) {
        Ok(run) if run.passed => TestEntry::RanInChild(run.output),
        Ok(run) => TestEntry::ChildFailed(run.output),
        Err(error) => TestEntry::Skip(format!(
            "needs root or unprivileged user namespaces: {}",
            error.skip_reason().unwrap_or_else(|| error.to_string())
        )),
    }
}

/// The name of the running test: the harness names each test's thread after it.
fn thread_test_name() -> Option<String> {
    thread_name().filter(|name| name != "main")
}

fn thread_name() -> Option<String> {
    std::thread::current().name().map(str::to_owned)
}

/// The running test's name for messages (`"<unknown test>"` outside the harness).
#[doc(hidden)]
pub fn current_test_name() -> String {
    thread_name().unwrap_or_else(|| "<unknown test>".into())
}

/// The outcome of [`rerun_in_user_namespace`].
#[derive(Debug, Clone)]
pub struct RootlessRun {
    /// Whether the harness reported exactly this one test as passed.
    pub passed: bool,
    /// The child's standard output followed by its standard error.
    pub output: String,
}

/// Runs test `test` of the current test binary again, alone, as root of a new user namespace
/// (with a new, empty network namespace), and waits for it.
///
/// # Errors
///
/// [`Error::Io`] naming the spawn when the child cannot be started — typically because
/// unprivileged user namespaces are disabled (`EPERM`, `ENOSPC`, `EACCES`).
pub fn rerun_in_user_namespace(test: &str) -> Result<RootlessRun, Error> {
    let exe = env::current_exe().map_err(|e| Error::io("current_exe", e))?;
    let mut command = Command::new(&exe);
    command
        .args([
            test,
            "--exact",
            "--nocapture",
            "--test-threads=1",
            "--include-ignored",
        ])
        .env(CHILD_ENV, "1");
    in_new_user_namespace(&mut command)?;
    let output = command.output().map_err(|e| {
        let kind = e.raw_os_error();
        let error = Error::io(
            format!("start {} in a new user namespace", exe.display()),
            e,
        );
        match kind {
            Some(libc::EPERM) | Some(libc::EACCES) | Some(libc::ENOSPC) | Some(libc::EINVAL) => {
                Error::Privilege {
                    needed: format!("unprivileged user namespaces ({error})"),
                }
            }
            _ => error,
        }
    })?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let passed = output.status.success() && stdout.contains("test result: ok. 1 passed");
    let mut text = format!("--- {test} in a user namespace ---\n{stdout}{stderr}");
    if output.status.success() && !passed {
        text.push_str("(the re-executed binary did not run this test)\n");
    }
    Ok(RootlessRun {
        passed,
        output: text,
    })
}

/// Makes `command` start in a new user namespace, where it is uid 0 and gid 0 (mapped to the
/// caller's effective ids), and a new network namespace — what `unshare -Urn` does.
///
/// # Errors
///
/// [`Error::Invalid`] only if a path could not be made into a C string (never in practice);
/// failures of `unshare` surface when the command is spawned.
pub fn in_new_user_namespace(command: &mut Command) -> Result<(), Error> {
    let maps = IdMaps::for_self()?;
    // SAFETY: runs in the forked child, single-threaded, before exec. It only calls unshare(2),
    // open(2), write(2) and close(2), all async-signal-safe, on data prepared before the fork,
    // and builds io::Error values from errno, which does not allocate.
    unsafe {
        command.pre_exec(move || maps.apply());
    }
    Ok(())
}

/// Moves the whole calling process into a new user namespace (as uid 0) and network
/// namespace, for programs that are still single-threaded (a `harness = false` test's `main`).
///
/// # Errors
///
/// [`Error::Invalid`] when the process has more than one thread (the kernel would refuse with
/// `EINVAL`); [`Error::Io`] or [`Error::Privilege`] when the kernel refuses.
pub fn enter_user_namespace() -> Result<(), Error> {
    let status = fs::read_to_string("/proc/self/status")
        .map_err(|e| Error::io("read /proc/self/status", e))?;
    let threads = status
        .lines()
        .find_map(|line| line.strip_prefix("Threads:"))
        .map(str::trim);
    if threads != Some("1") {
        return Err(Error::Invalid {
            reason: format!(
                "enter_user_namespace needs a single-threaded process (threads: {})",
                threads.unwrap_or("unknown")
            ),
        });
    }
    IdMaps::for_self()?
        .apply()
        .map_err(|e| match e.raw_os_error() {
            Some(libc::EPERM) | Some(libc::EACCES) | Some(libc::ENOSPC) => Error::Privilege {
                needed: format!("unprivileged user namespaces (unshare: {e})"),
            },
            _ => Error::io("unshare(CLONE_NEWUSER | CLONE_NEWNET)", e),
        })
}

/// The uid/gid map files' paths and contents, prepared before a fork.
struct IdMaps {
    setgroups: CString,
    uid_map_path: CString,
    gid_map_path: CString,
    uid_map: Vec<u8>,
    gid_map: Vec<u8>,
}

impl IdMaps {
    fn for_self() -> Result<IdMaps, Error> {
        // SAFETY: geteuid and getegid have no preconditions and cannot fail.
        let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
        let c = |s: &str| {
            CString::new(s).map_err(|_| Error::Invalid {
                reason: format!("path {s} contains a NUL byte"),
            })
        };
        Ok(IdMaps {
            setgroups: c("/proc/self/setgroups")?,
            uid_map_path: c("/proc/self/uid_map")?,
            gid_map_path: c("/proc/self/gid_map")?,
            uid_map: format!("0 {uid} 1").into_bytes(),
            gid_map: format!("0 {gid} 1").into_bytes(),
        })
    }

    /// Unshares and writes the maps. Async-signal-safe: no allocation.
    fn apply(&self) -> io::Result<()> {
        // SAFETY: unshare only changes the calling process's namespaces; callers guarantee it is
        // single-threaded, otherwise the kernel returns EINVAL.
        if unsafe { libc::unshare(libc::CLONE_NEWUSER | libc::CLONE_NEWNET) } != 0 {
            return Err(io::Error::last_os_error());
        }
        // Unprivileged gid maps need setgroups denied first; kernels before 3.19 lack the file.
        match write_file(&self.setgroups, b"deny") {
            Err(e) if e.raw_os_error() != Some(libc::ENOENT) => return Err(e),
            _ => {}
        }
        write_file(&self.uid_map_path, &self.uid_map)?;
        write_file(&self.gid_map_path, &self.gid_map)
    }
}

/// Writes `data` to the file at `path` with raw system calls (usable between fork and exec).
fn write_file(path: &CString, data: &[u8]) -> io::Result<()> {
    // SAFETY: path is a valid NUL-terminated string.
    let fd = unsafe { libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd is open for writing; data is a valid buffer of data.len() bytes.
    let written = unsafe { libc::write(fd, data.as_ptr().cast(), data.len()) };
    let error = io::Error::last_os_error();
    // SAFETY: fd was opened above and is closed exactly once.
    unsafe { libc::close(fd) };
    if written < 0 || written as usize != data.len() {
        return Err(error);
    }
    Ok(())
}
