//! [`Sandbox`]: one private network namespace, and the sweep for ones a killed run left behind.
//!
//! # How a sandbox is made
//!
//! * **Root in the initial user namespace** (the usual CI case): the namespace is *named*,
//!   `nftk-<pid>-<n>`, created with `ip netns add` and so visible to `ip netns list` (handy for
//!   `ip netns exec nftk-… nft list ruleset` while a test is paused in a debugger). `Drop`
//!   unmounts and unlinks it, also while a test panics; a run killed with `SIGKILL` leaves it
//!   behind, and [`sweep_stale`] (also called once before the first named sandbox of a process)
//!   removes it once its owning PID is gone.
//! * **Root of a user namespace** (rootless mode, see [`crate::rootless`]): the namespace is
//!   *anonymous*: a thread `unshare(CLONE_NEWNET)`s and the sandbox keeps an fd to it. It has a name
//!   for messages only and vanishes with the process, so nothing can leak.
//!
//! In both cases the sandbox holds an fd to the namespace; threads enter it with `setns(2)`
//! and child processes enter it between `fork` and `exec`.

use std::ffi::{CString, OsStr};
use std::fs::{self, File};
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, Once};
use std::thread::{self, JoinHandle};

use crate::Error;

/// Every namespace the testkit names starts with this prefix, followed by `<pid>-<n>`.
pub const NAME_PREFIX: &str = "nftk-";

/// Where `ip netns` keeps named namespaces.
const NETNS_DIR: &str = "/run/netns";

static COUNTER: AtomicU32 = AtomicU32::new(0);
/// Serialises `ip netns add` within the process: its first call sets up the `/run/netns` mount,
/// and concurrent first calls could stack two mounts.
static NAMED_LOCK: Mutex<()> = Mutex::new(());
static SWEEP_ONCE: Once = Once::new();

/// One private network namespace with `lo` up, removed on drop (even while a test panics).
///
/// Sockets created by [`Sandbox::run`] or [`Sandbox::spawn`] closures belong to the namespace and
/// stay there when used later from other threads; [`Sandbox::command`] starts programs inside.
///
/// `Sandbox` is `Send` and `Sync`: it only holds an fd and a name, and entering the namespace
/// affects only the thread or child process that enters.
#[derive(Debug)]
pub struct Sandbox {
    name: String,
    ns: Arc<OwnedFd>,
    /// The bind mount under `/run/netns`, for named namespaces.
    mount: Option<PathBuf>,
}

impl Sandbox {
    /// Creates a namespace, brings `lo` up.
    ///
    /// # Errors
    ///
    /// [`Error::Privilege`] when the process is not root (neither real root nor root of a user
    /// namespace: see [`sandbox_or_skip!`](crate::sandbox_or_skip), which re-runs a test in a
    /// user namespace); [`Error::Unsupported`] when the `ip` tool is missing; [`Error::Io`] or
    /// [`Error::Command`] when creating the namespace fails otherwise.
    pub fn new() -> Result<Sandbox, Error> {
        // SAFETY: geteuid has no preconditions and cannot fail.
        if unsafe { libc::geteuid() } != 0 {
            return Err(Error::Privilege {
                needed: "root to create a network namespace (when not root, use \
                         sandbox_or_skip!, which re-runs the test in a new user namespace, or call \
                         rootless::enter_user_namespace() from a single-threaded program)"
                    .into(),
            });
        }
        let name = format!(
            "{NAME_PREFIX}{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let sandbox = if in_initial_user_namespace() {
            SWEEP_ONCE.call_once(|| {
                // Best effort: a failure to sweep must not stop this run.
                let _ = sweep_stale();
            });
            create_named(name)?
        } else {
            create_anonymous(name)?
        };
        sandbox.exec(&["ip", "link", "set", "dev", "lo", "up"])?;
        Ok(sandbox)
    }

    /// The namespace's name, `nftk-<pid>-<n>`. For a named namespace (root mode) it is also the
    /// `ip netns` name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The path of the namespace under `/run/netns`, when it is named (root mode); `None` in
    /// rootless mode.
    pub fn path(&self) -> Option<&Path> {
        self.mount.as_deref()
    }

    /// Runs `f` on a new thread that has entered the namespace and returns its result. Sockets
    /// `f` creates belong to the namespace.
    ///
    /// # Panics
    ///
    /// Re-raises a panic of `f`. Panics if the thread cannot be started or cannot enter the
    /// namespace (it never runs `f` outside it); [`Sandbox::try_run`] returns that as an error.
    pub fn run<T: Send, F: FnOnce() -> T + Send>(&self, f: F) -> T {
        match self.try_run(f) {
            Ok(value) => value,
            Err(error) => panic!("cannot run inside namespace {}: {error}", self.name),
        }
    }

    /// Like [`Sandbox::run`], but returns an error when the thread cannot be started or cannot
    /// enter the namespace.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] naming `setns` or the thread spawn.
    ///
    /// # Panics
    ///
    /// Re-raises a panic of `f`.
    pub fn try_run<T: Send, F: FnOnce() -> T + Send>(&self, f: F) -> Result<T, Error> {
        let ns = &self.ns;
        let name = &self.name;
        thread::scope(|scope| {
            let handle = thread::Builder::new()
                .name(name.clone())
                .spawn_scoped(scope, move || -> Result<T, Error> {
                    enter(ns, name)?;
                    Ok(f())
                })
                .map_err(|e| Error::io("spawn thread", e))?;
            match handle.join() {
                Ok(result) => result,
                Err(payload) => std::panic::resume_unwind(payload),
            }
        })
    }

    /// Starts a long-lived thread inside the namespace (a server, a queue reader, …).
    ///
    /// The thread keeps the namespace alive even after the sandbox is dropped.
    ///
    /// # Panics
    ///
    /// Panics if the thread cannot be started; the thread panics (seen through
    /// [`JoinHandle::join`]) if it cannot enter the namespace, without running `f`.
    pub fn spawn<T: Send + 'static, F: FnOnce() -> T + Send + 'static>(
        &self,
        f: F,
    ) -> JoinHandle<T> {
        let ns = Arc::clone(&self.ns);
        let name = self.name.clone();
        let spawned = thread::Builder::new().name(name.clone()).spawn(move || {
            if let Err(error) = enter(&ns, &name) {
                panic!("cannot enter namespace {name}: {error}");
            }
            drop(ns);
            f()
        });
        match spawned {
            Ok(handle) => handle,
            Err(error) => panic!("cannot spawn a thread for namespace {}: {error}", self.name),
        }
    }

    /// A [`Command`] for `program` that runs inside the namespace (it enters it between `fork`
    /// and `exec`). The command keeps the namespace alive while it exists.
    pub fn command(&self, program: &str) -> Command {
        let mut command = Command::new(program);
        let ns = Arc::clone(&self.ns);
        // SAFETY: the closure runs in the forked child before exec; it only calls setns(2), which
        // is async-signal-safe, and builds an io::Error from errno, which does not allocate. The
        // Arc keeps the fd open for as long as the Command (and so the closure) exists.
        unsafe {
            command.pre_exec(move || {
                if libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) != 0 {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            });
        }
        command
    }

    /// Runs `argv` inside the namespace and returns its standard output.
    ///
    /// # Errors
    ///
    /// [`Error::Command`] (with standard error) on a non-zero exit; [`Error::Unsupported`] when
    /// the program is not installed; [`Error::Io`] when it cannot be started; [`Error::Invalid`]
    /// for an empty `argv`.
    pub fn exec(&self, argv: &[&str]) -> Result<String, Error> {
        let (program, args) = argv.split_first().ok_or_else(|| Error::Invalid {
            reason: "exec needs a program name".into(),
        })?;
        let mut command = self.command(program);
        command.args(args);
        output_of(command, argv)
    }

    /// Like [`Sandbox::exec`], but feeds `stdin` to the program (e.g. `ip -batch -`,
    /// `nft -f -`).
    ///
    /// # Errors
    ///
    /// As for [`Sandbox::exec`].
    pub fn exec_with_input(&self, argv: &[&str], stdin: &str) -> Result<String, Error> {
        use std::io::Write;
        use std::process::Stdio;
        let (program, args) = argv.split_first().ok_or_else(|| Error::Invalid {
            reason: "exec needs a program name".into(),
        })?;
        let mut command = self.command(program);
        command
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().map_err(|e| spawn_error(program, e))?;
        if let Some(mut input) = child.stdin.take() {
            input
                .write_all(stdin.as_bytes())
                .map_err(|e| Error::io(format!("write stdin of {program}"), e))?;
        }
        let output = child
            .wait_with_output()
            .map_err(|e| Error::io(format!("wait for {program}"), e))?;
        check_output(output, argv)
    }

    /// Adds to `command` (which runs elsewhere, usually in another sandbox) a way to name this
    /// namespace: returns a path, `/proc/self/fd/<n>`, valid inside the child, for tools that
    /// take a namespace file (`ip link add … netns <path>`).
    pub(crate) fn pass_to(&self, command: &mut Command) -> String {
        let ns = Arc::clone(&self.ns);
        let fd = ns.as_raw_fd();
        // SAFETY: runs in the forked child before exec; fcntl(2) is async-signal-safe. Clearing
        // FD_CLOEXEC on the inherited copy of the fd lets the exec'd program open it through
        // /proc/self/fd; the Arc keeps the fd open as long as the Command exists.
        unsafe {
            command.pre_exec(move || {
                if libc::fcntl(ns.as_raw_fd(), libc::F_SETFD, 0) != 0 {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            });
        }
        format!("/proc/self/fd/{fd}")
    }
}

impl AsFd for Sandbox {
    /// The namespace file (`/proc/<pid>/ns/net` style), usable with `setns(2)`.
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.ns.as_fd()
    }
}

impl AsRawFd for Sandbox {
    fn as_raw_fd(&self) -> RawFd {
        self.ns.as_raw_fd()
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        if let Some(path) = self.mount.take() {
            // Nothing can be reported from Drop; a leftover is removed by sweep_stale.
            let _ = remove_named(&path);
        }
    }
}

/// Moves the calling thread into the namespace.
fn enter(ns: &OwnedFd, name: &str) -> Result<(), Error> {
    // SAFETY: `ns` is an open namespace fd owned by the caller; setns only changes the calling
    // thread's namespace.
    if unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        return Err(Error::last_os(format!("setns({name})")));
    }
    Ok(())
}

/// `true` when the process's user namespace is the initial one (uid map `0 0 4294967295`).
pub(crate) fn in_initial_user_namespace() -> bool {
    fs::read_to_string("/proc/self/uid_map")
        .map(|map| map.split_whitespace().collect::<Vec<_>>() == ["0", "0", "4294967295"])
        .unwrap_or(false)
}

fn create_named(name: String) -> Result<Sandbox, Error> {
    let path = Path::new(NETNS_DIR).join(&name);
    {
        let _guard = NAMED_LOCK
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut command = Command::new("ip");
        command.args(["netns", "add", &name]);
        output_of(command, &["ip", "netns", "add", &name]).map_err(privilege_if_denied)?;
    }
    match adopt(&path) {
        Ok(ns) => Ok(Sandbox {
            name,
            ns: Arc::new(ns),
            mount: Some(path),
        }),
        Err(error) => {
            let _ = remove_named(&path);
            Err(error)
        }
    }
}

/// Opens the namespace file at `path` for a sandbox.
fn adopt(path: &Path) -> Result<OwnedFd, Error> {
    let file = File::open(path).map_err(|e| Error::io(format!("open {}", path.display()), e))?;
    Ok(OwnedFd::from(file))
}

fn create_anonymous(name: String) -> Result<Sandbox, Error> {
    let made = thread::Builder::new()
        .name(name.clone())
        .spawn(|| -> Result<OwnedFd, Error> {
            // SAFETY: unshare only changes the namespaces of this short-lived thread.
            if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
                return Err(privilege_if_denied(Error::last_os("unshare(CLONE_NEWNET)")));
            }
            let file = File::open("/proc/thread-self/ns/net")
                .map_err(|e| Error::io("open /proc/thread-self/ns/net", e))?;
            Ok(OwnedFd::from(file))
        })
        .map_err(|e| Error::io("spawn thread", e))?
        .join();
    match made {
        Ok(fd) => Ok(Sandbox {
            name,
            ns: Arc::new(fd?),
            mount: None,
        }),
        Err(payload) => std::panic::resume_unwind(payload),
    }
}

/// Unmounts and unlinks a named namespace, as `ip netns del` does, without ever unmounting
/// anything but a namespace file at `path` itself.
///
/// A symlink is only unlinked, never followed; the unmount uses `UMOUNT_NOFOLLOW` as well, in
/// case the entry is swapped for a symlink in between. Only an entry that is a namespace file
/// (on `nsfs`) is unmounted: any other mount there is left alone, and unlinking the entry then
/// fails with `EBUSY`. A missing entry is not an error.
fn remove_named(path: &Path) -> Result<(), Error> {
    let metadata = match fs::symlink_metadata(path) {
        Ok(metadata) => metadata,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io(format!("lstat {}", path.display()), e)),
    };
    let c_path = CString::new(path.as_os_str().as_bytes()).map_err(|_| Error::Invalid {
        reason: format!("namespace path {} contains a NUL byte", path.display()),
    })?;
    if !metadata.file_type().is_symlink() && is_namespace_file(&c_path, path)? {
        // SAFETY: c_path is a valid NUL-terminated string. MNT_DETACH makes the unmount lazy so
        // threads still inside do not block it; UMOUNT_NOFOLLOW refuses to resolve a symlink
        // that replaced the entry since the lstat above.
        if unsafe { libc::umount2(c_path.as_ptr(), libc::MNT_DETACH | libc::UMOUNT_NOFOLLOW) } != 0
        {
            let error = io::Error::last_os_error();
            // EINVAL: not a mount point any more (already unmounted); still unlink.
            if error.raw_os_error() != Some(libc::EINVAL) {
                return Err(Error::io(format!("umount2({})", path.display()), error));
            }
        }
    }
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(format!("unlink {}", path.display()), e)),
    }
}

/// Whether the (non-symlink) entry at `c_path` is a namespace file, i.e. lives on `nsfs`, as a
/// bind-mounted `/proc/<pid>/ns/net` does. A half-made entry (the bind mount never happened) is
/// an ordinary file of the directory's file system.
fn is_namespace_file(c_path: &CString, path: &Path) -> Result<bool, Error> {
    let mut stat = std::mem::MaybeUninit::<libc::statfs>::uninit();
    // SAFETY: c_path is a valid NUL-terminated string and `stat` points to writable memory of
    // the right size; statfs fills it in completely when it returns 0.
    if unsafe { libc::statfs(c_path.as_ptr(), stat.as_mut_ptr()) } != 0 {
        let error = io::Error::last_os_error();
        if error.kind() == io::ErrorKind::NotFound {
            return Ok(false);
        }
        return Err(Error::io(format!("statfs({})", path.display()), error));
    }
    // SAFETY: statfs returned 0, so it initialised the struct.
    let stat = unsafe { stat.assume_init() };
    Ok(stat.f_type as u64 == libc::NSFS_MAGIC as u64)
}

/// The PID in a testkit namespace name `nftk-<pid>-<n>`, or `None` for any other name.
pub(crate) fn owner_pid(name: &str) -> Option<u32> {
    let rest = name.strip_prefix(NAME_PREFIX)?;
    let (pid, n) = rest.split_once('-')?;
    let numeric = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !numeric(pid) || !numeric(n) {
        return None;
    }
    pid.parse().ok()
}

/// Removes named namespaces that earlier, killed runs of the testkit left in `/run/netns`, and
/// returns their names, sorted.
///
/// Only names of the form `nftk-<pid>-<n>` whose `<pid>` no longer exists are touched; every
/// other namespace, and those of live processes (including other test binaries running now), is
/// left alone. PIDs are those of the caller's PID namespace. An entry is unmounted only when it
/// is a namespace file itself: a symlink is unlinked and never followed (so a planted
/// `nftk-<pid>-0 -> /some/mount` cannot make the sweep unmount `/some/mount`), and any other
/// kind of mount is left in place.
///
/// Every stale entry is tried, even after one fails.
///
/// # Errors
///
/// [`Error::Io`] when `/run/netns` cannot be read (a missing `/run/netns` is not an error);
/// [`Error::Sweep`] when some stale entries could not be removed (not root, for example): it
/// lists those removed and, for each one left, the error.
pub fn sweep_stale() -> Result<Vec<String>, Error> {
    sweep_dir(Path::new(NETNS_DIR))
}

/// [`sweep_stale`] on `dir` instead of `/run/netns` (tests plant entries in a temporary one).
fn sweep_dir(dir: &Path) -> Result<Vec<String>, Error> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(format!("read {}", dir.display()), e)),
    };
    let own = std::process::id();
    let mut removed = Vec::new();
    let mut failed = Vec::new();
    for entry in entries {
        let entry = match entry {
            Ok(entry) => entry,
            Err(e) => {
                // The listing ends after an error; report it with the entries that failed.
                failed.push((
                    dir.display().to_string(),
                    Error::io(format!("read {}", dir.display()), e),
                ));
                continue;
            }
        };
        let file_name = entry.file_name();
        let Some(name) = file_name.to_str() else {
            continue;
        };
        let Some(pid) = owner_pid(name) else {
            continue;
        };
        if pid == own || Path::new(&format!("/proc/{pid}")).exists() {
            continue;
        }
        match remove_named(&entry.path()) {
            Ok(()) => removed.push(name.to_owned()),
            Err(error) => failed.push((name.to_owned(), error)),
        }
    }
    removed.sort();
    if failed.is_empty() {
        Ok(removed)
    } else {
        failed.sort_by(|a, b| a.0.cmp(&b.0));
        Err(Error::Sweep { removed, failed })
    }
}

fn spawn_error(program: &str, error: io::Error) -> Error {
    if matches!(
        error.kind(),
        io::ErrorKind::NotFound | io::ErrorKind::PermissionDenied
    ) {
        Error::unsupported(
            format!("program `{program}`"),
            format!(
                "cannot be run from PATH ({error}); install it, e.g. Debian `iproute2`, \
                 `iptables`, `nftables`"
            ),
        )
    } else {
        Error::io(format!("spawn {program}"), error)
    }
}

/// Maps EPERM/EACCES (from a call or in a tool's stderr) to [`Error::Privilege`].
fn privilege_if_denied(error: Error) -> Error {
    let denied = match &error {
        Error::Io { source, .. } => matches!(
            source.raw_os_error(),
            Some(libc::EPERM) | Some(libc::EACCES)
        ),
        Error::Command { stderr, .. } => {
            stderr.contains("Operation not permitted") || stderr.contains("Permission denied")
        }
        _ => false,
    };
    if denied {
        Error::Privilege {
            needed: format!("CAP_SYS_ADMIN to create a network namespace ({error})"),
        }
    } else {
        error
    }
}

/// Runs `command` to completion; `argv` names it in errors.
pub(crate) fn output_of<S: AsRef<OsStr>>(
    mut command: Command,
    argv: &[S],
) -> Result<String, Error> {
    let program = argv
        .first()
        .map(|p| p.as_ref().to_string_lossy().into_owned())
        .unwrap_or_default();
    let output = command.output().map_err(|e| spawn_error(&program, e))?;
    check_output(output, argv)
}

fn check_output<S: AsRef<OsStr>>(output: Output, argv: &[S]) -> Result<String, Error> {
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(Error::Command {
            argv: argv
                .iter()
                .map(|a| a.as_ref().to_string_lossy().into_owned())
                .collect(),
            status: output.status.code(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_pid_accepts_only_testkit_names() {
        assert_eq!(owner_pid("nftk-1234-0"), Some(1234));
        assert_eq!(owner_pid("nftk-1-17"), Some(1));
        assert_eq!(owner_pid("nftk-1234"), None);
        assert_eq!(owner_pid("nftk-12a4-0"), None);
        assert_eq!(owner_pid("nftk--0"), None);
        assert_eq!(owner_pid("nftk-1-2-3"), None);
        assert_eq!(owner_pid("blue"), None);
        assert_eq!(owner_pid("xnftk-1-2"), None);
    }
}

#[cfg(test)]
mod mount_tests {
    //! Tests that mount things: each runs on a thread of its own that has entered a private mount
    //! namespace (propagation made private before anything is mounted), under a tmpfs of its
    //! own, so nothing of the host's mounts can be affected; the mounts vanish with the thread.

    use super::*;

    fn c(path: &Path) -> CString {
        CString::new(path.as_os_str().as_bytes()).unwrap()
    }

    fn mount(source: &Path, target: &Path, fstype: Option<&str>, flags: libc::c_ulong) {
        let fstype = fstype.map(|t| CString::new(t).unwrap());
        let (source, target) = (c(source), c(target));
        // SAFETY: every pointer is a valid NUL-terminated string or null; no data argument.
        let rc = unsafe {
            libc::mount(
                source.as_ptr(),
                target.as_ptr(),
                fstype.as_ref().map_or(std::ptr::null(), |t| t.as_ptr()),
                flags,
                std::ptr::null(),
            )
        };
        assert_eq!(
            rc,
            0,
            "mount {} failed: {}",
            target.to_string_lossy(),
            io::Error::last_os_error()
        );
    }

    /// Whether `path` is a mount point in the calling thread's mount namespace.
    pub(super) fn is_mount_point(path: &Path) -> bool {
        let info = fs::read_to_string("/proc/thread-self/mountinfo").unwrap();
        let wanted = path.to_str().unwrap();
        info.lines()
            .any(|line| line.split_whitespace().nth(4) == Some(wanted))
    }

    /// Runs `f` on a new thread inside a private mount namespace, with a fresh tmpfs mounted on
    /// an empty temporary directory that `f` receives. `None` (after printing `SKIP test:
    /// reason`) when the machine does not allow it.
    pub(super) fn in_private_mounts<T: Send>(
        test: &str,
        f: impl FnOnce(&Path) -> T + Send,
    ) -> Option<T> {
        // SAFETY: geteuid has no preconditions and cannot fail.
        if unsafe { libc::geteuid() } != 0 {
            eprintln!("SKIP {test}: needs root (mounts in a private mount namespace)");
            return None;
        }
        let root = std::env::temp_dir().join(format!(
            "nftk-mount-test-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        fs::create_dir(&root).unwrap();
        let outcome = thread::scope(|scope| {
            scope
                .spawn(|| {
                    // SAFETY: unshare only changes the namespaces of this thread (CLONE_NEWNS
                    // implies CLONE_FS: the thread gets its own root and cwd too).
                    if unsafe { libc::unshare(libc::CLONE_NEWNS) } != 0 {
                        return Err(io::Error::last_os_error());
                    }
                    // Private propagation first, so no later mount reaches the host's namespace.
                    mount(
                        Path::new("none"),
                        Path::new("/"),
                        None,
                        libc::MS_REC | libc::MS_PRIVATE,
                    );
                    mount(Path::new("none"), &root, Some("tmpfs"), 0);
                    Ok(f(&root))
                })
                .join()
        });
        let _ = fs::remove_dir(&root);
        match outcome {
            Ok(Ok(value)) => Some(value),
            Ok(Err(error)) => {
                eprintln!("SKIP {test}: cannot unshare the mount namespace: {error}");
                None
            }
            Err(payload) => std::panic::resume_unwind(payload),
        }
    }

    fn dead_pid() -> u32 {
        let mut child = Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        pid
    }

    #[test]
    fn sweep_never_unmounts_through_a_symlink_and_tries_every_entry() {
        let test = "sweep_never_unmounts_through_a_symlink_and_tries_every_entry";
        in_private_mounts(test, |root| {
            // An unrelated mount that a planted symlink points at.
            let other = root.join("other");
            fs::create_dir(&other).unwrap();
            mount(Path::new("none"), &other, Some("tmpfs"), 0);
            fs::write(other.join("marker"), "still here").unwrap();
            let dir = root.join("netns");
            fs::create_dir(&dir).unwrap();
            let dead = dead_pid();
            let own = std::process::id();
            let entry = |n: u32| dir.join(format!("{NAME_PREFIX}{dead}-{n}"));
            // 0: the planted symlink.
            std::os::unix::fs::symlink(&other, entry(0)).unwrap();
            // 1: a real stale namespace, bind-mounted as `ip netns add` does.
            fs::write(entry(1), "").unwrap();
            mount(
                Path::new("/proc/thread-self/ns/net"),
                &entry(1),
                None,
                libc::MS_BIND,
            );
            // 2: cannot be removed (a non-empty directory).
            fs::create_dir(entry(2)).unwrap();
            fs::write(entry(2).join("x"), "").unwrap();
            // 3: half-made (the bind mount never happened).
            fs::write(entry(3), "").unwrap();
            // Left alone: a live owner, a foreign name.
            let live = dir.join(format!("{NAME_PREFIX}{own}-0"));
            fs::write(&live, "").unwrap();
            let foreign = dir.join("blue");
            fs::write(&foreign, "").unwrap();

            let result = sweep_dir(&dir);

            assert!(
                is_mount_point(&other),
                "the mount behind the symlink was unmounted"
            );
            assert_eq!(
                fs::read_to_string(other.join("marker")).unwrap(),
                "still here"
            );
            assert!(
                !entry(0).exists() && fs::symlink_metadata(entry(0)).is_err(),
                "symlink not removed"
            );
            assert!(!is_mount_point(&entry(1)), "stale namespace still mounted");
            assert!(!entry(1).exists(), "stale namespace not removed");
            assert!(!entry(3).exists(), "the sweep stopped at the failing entry");
            assert!(entry(2).exists() && live.exists() && foreign.exists());
            let name = |n: u32| format!("{NAME_PREFIX}{dead}-{n}");
            match result {
                Err(Error::Sweep { removed, failed }) => {
                    assert_eq!(removed, [name(0), name(1), name(3)]);
                    assert_eq!(failed.len(), 1, "{failed:?}");
                    assert_eq!(failed[0].0, name(2));
                    assert!(
                        matches!(&failed[0].1, Error::Io { call, .. } if call.starts_with("unlink")),
                        "{failed:?}"
                    );
                }
                other => panic!("expected Error::Sweep, got {other:?}"),
            }
        });
    }
}
