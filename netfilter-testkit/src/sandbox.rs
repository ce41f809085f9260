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
//!
//! # What makes sure a sandbox is private
//!
//! * The namespace file is opened with `O_NOFOLLOW`: a symlink planted at
//!   `/run/netns/nftk-…` (say, to `/proc/self/ns/net`) is refused.
//! * A namespace that is the caller's own (`/proc/self/ns/net`) or, when readable, that of PID 1
//!   (`/proc/1/ns/net`), compared by device and inode, is refused with [`Error::NotPrivate`],
//!   for named and anonymous sandboxes alike: rules a test adds can never land on the host.
//! * `ip`, `iptables`, `nft` and every other program the testkit runs by name are resolved once
//!   to an absolute path, trusted system directories first ([`tool_path`]), so a stray `ip`
//!   earlier on `PATH` is not the one run.

use std::ffi::{CString, OsStr};
use std::fs::{self, File};
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
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

/// The directories [`tool_path`] searches first, in this order, for the programs the testkit
/// runs.
pub const TRUSTED_TOOL_DIRS: [&str; 4] = ["/usr/sbin", "/sbin", "/usr/bin", "/bin"];

/// [`tool_path`]'s cache: each name resolved once, found or not.
static TOOLS: Mutex<Vec<(String, Option<PathBuf>)>> = Mutex::new(Vec::new());

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
///
/// A complete NFQUEUE test in one namespace, over `lo` (it needs root; tests get their
/// sandbox through [`sandbox_or_skip!`](crate::sandbox_or_skip)):
///
/// ```no_run
/// use std::net::SocketAddr;
/// use netfilter::Queue;
/// use netfilter_testkit::Sandbox;
/// use netfilter_testkit::rules::{Protocol, Rule};
/// use netfilter_testkit::traffic::{self, DEFAULT_TIMEOUT, UdpReceiver};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let sandbox = Sandbox::new()?; // a fresh namespace, `lo` up; removed on drop
/// assert!(sandbox.exec(&["ip", "-o", "link", "show", "lo"])?.contains("UP"));
/// let addr: SocketAddr = "127.0.0.1:9000".parse()?;
/// Rule::queue(0).protocol(Protocol::Udp).dport(9000).apply(&sandbox)?;
/// // The queue's socket is made inside the sandbox and stays there.
/// let mut queue = sandbox.run(|| Queue::builder(0).open())?;
/// let receiver = UdpReceiver::bind(&sandbox, addr)?;
/// traffic::udp_send(&sandbox, addr, b"hello")?;
/// let packet = queue.recv_timeout(DEFAULT_TIMEOUT)?.expect("the datagram was queued");
/// assert!(packet.payload().ends_with(b"hello"));
/// packet.accept()?;
/// assert_eq!(receiver.recv(DEFAULT_TIMEOUT)?.0, b"hello"); // delivered after the verdict
/// # Ok(())
/// # }
/// ```
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
    /// user namespace); [`Error::Unsupported`] when the `ip` tool is missing;
    /// [`Error::NotPrivate`] when the namespace made is the host's (a hostile `ip`, say) or its
    /// file is a symlink; [`Error::Io`] or [`Error::Command`] when creating the namespace fails
    /// otherwise.
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
    ///
    /// A bare program name is resolved with [`tool_path`] (trusted system directories first),
    /// not by searching the child's `PATH`; a name containing `/` is used as given.
    pub fn command(&self, program: &str) -> Command {
        let mut command = tool_command(program);
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
                .map_err(|e| Error::io(format!("write stdin of {}", shown(program)), e))?;
        }
        let output = child
            .wait_with_output()
            .map_err(|e| Error::io(format!("wait for {}", shown(program)), e))?;
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
        let mut command = tool_command("ip");
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

/// Opens the namespace file at `path` for a sandbox, refusing a symlink (`O_NOFOLLOW`) and a
/// namespace that is not private (see [`ensure_private`]).
fn adopt(path: &Path) -> Result<OwnedFd, Error> {
    let file = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| {
            if e.raw_os_error() == Some(libc::ELOOP) {
                Error::NotPrivate {
                    path: path.display().to_string(),
                    reason: "it is a symbolic link, which could lead to any namespace, the \
                             host's included"
                        .into(),
                }
            } else {
                Error::io(format!("open {}", path.display()), e)
            }
        })?;
    ensure_private(&file, &path.display().to_string())?;
    Ok(OwnedFd::from(file))
}

/// Refuses the namespace open as `file` (named `what` in errors) when it is the caller's own
/// network namespace (`/proc/self/ns/net`) or, when that is readable, PID 1's
/// (`/proc/1/ns/net`): namespaces are the same when their device and inode numbers are.
fn ensure_private(file: &File, what: &str) -> Result<(), Error> {
    let ns = file
        .metadata()
        .map_err(|e| Error::io(format!("fstat {what}"), e))?;
    let id = (ns.dev(), ns.ino());
    let own =
        fs::metadata("/proc/self/ns/net").map_err(|e| Error::io("stat /proc/self/ns/net", e))?;
    if id == (own.dev(), own.ino()) {
        return Err(Error::NotPrivate {
            path: what.to_owned(),
            reason: "it is this process's own network namespace (/proc/self/ns/net)".into(),
        });
    }
    // Not readable without privilege over PID 1 (rootless mode): nothing to compare then.
    if let Ok(init) = fs::metadata("/proc/1/ns/net")
        && id == (init.dev(), init.ino())
    {
        return Err(Error::NotPrivate {
            path: what.to_owned(),
            reason: "it is PID 1's network namespace (/proc/1/ns/net)".into(),
        });
    }
    Ok(())
}

fn create_anonymous(name: String) -> Result<Sandbox, Error> {
    let made = thread::Builder::new()
        .name(name.clone())
        .spawn(|| -> Result<OwnedFd, Error> {
            // SAFETY: unshare only changes the namespaces of this short-lived thread.
            if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
                return Err(privilege_if_denied(Error::last_os("unshare(CLONE_NEWNET)")));
            }
            // A magic link into nsfs: O_NOFOLLOW cannot be used here; the check below can.
            let file = File::open("/proc/thread-self/ns/net")
                .map_err(|e| Error::io("open /proc/thread-self/ns/net", e))?;
            ensure_private(
                &file,
                "/proc/thread-self/ns/net after unshare(CLONE_NEWNET)",
            )?;
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

/// The absolute path of the program the testkit runs for `name` (`ip`, `iptables`, `nft`, …).
///
/// The first executable regular file called `name` in [`TRUSTED_TOOL_DIRS`] (`/usr/sbin`,
/// `/sbin`, `/usr/bin`, `/bin`), else in the absolute entries of `PATH` in order (relative and
/// empty entries, which name the working directory, are skipped). Each name is resolved once,
/// at its first use, and cached for the life of the process, so every command of a run uses
/// the same binary; errors about a program name the path used. A `name` that contains `/` is
/// returned as given.
///
/// [`Sandbox::command`], [`Sandbox::exec`] and everything built on them run programs through
/// this function.
///
/// # Errors
///
/// [`Error::Unsupported`] when no directory has the program.
pub fn tool_path(name: &str) -> Result<PathBuf, Error> {
    if name.contains('/') {
        return Ok(PathBuf::from(name));
    }
    let mut cache = TOOLS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let found = match cache.iter().find(|(known, _)| known == name) {
        Some((_, found)) => found.clone(),
        None => {
            let trusted = TRUSTED_TOOL_DIRS.map(Path::new);
            let found = resolve_tool(name, &trusted, std::env::var_os("PATH").as_deref());
            cache.push((name.to_owned(), found.clone()));
            found
        }
    };
    found.ok_or_else(|| {
        Error::unsupported(
            format!("program `{name}`"),
            format!(
                "not found in {} or the absolute entries of PATH; install it, e.g. Debian \
                 `iproute2`, `iptables`, `nftables`",
                TRUSTED_TOOL_DIRS.join(", ")
            ),
        )
    })
}

/// The first executable regular file `name` in `trusted`, then in the absolute entries of
/// `path_var` (a `PATH` value).
fn resolve_tool(name: &str, trusted: &[&Path], path_var: Option<&OsStr>) -> Option<PathBuf> {
    let from_path = path_var
        .map(|value| std::env::split_paths(value).collect::<Vec<_>>())
        .unwrap_or_default();
    trusted
        .iter()
        .map(|dir| dir.to_path_buf())
        .chain(from_path.into_iter().filter(|dir| dir.is_absolute()))
        .map(|dir| dir.join(name))
        .find(|candidate| {
            fs::metadata(candidate)
                .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
                .unwrap_or(false)
        })
}

/// A [`Command`] for `program`, resolved by [`tool_path`]. A program found nowhere gets the
/// path it would have in the first trusted directory, which fails to spawn with `ENOENT`
/// (reported as [`tool_path`]'s error), rather than a bare name the child's `PATH` could
/// resolve.
pub(crate) fn tool_command(program: &str) -> Command {
    match tool_path(program) {
        Ok(path) => Command::new(path),
        Err(_) => Command::new(Path::new(TRUSTED_TOOL_DIRS[0]).join(program)),
    }
}

/// The program as errors name it: its resolved path when there is one.
fn shown(program: &str) -> String {
    tool_path(program)
        .map(|path| path.display().to_string())
        .unwrap_or_else(|_| program.to_owned())
}

fn spawn_error(program: &str, error: io::Error) -> Error {
    let resolved = tool_path(program);
    match resolved {
        Err(not_found) if error.kind() == io::ErrorKind::NotFound => not_found,
        _ if matches!(
            error.kind(),
            io::ErrorKind::NotFound | io::ErrorKind::PermissionDenied
        ) =>
        {
            Error::unsupported(
                format!("program `{program}` ({})", shown(program)),
                format!(
                    "cannot be run ({error}); install it, e.g. Debian `iproute2`, `iptables`, \
                     `nftables`"
                ),
            )
        }
        _ => Error::io(format!("spawn {}", shown(program)), error),
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
            // The program as the resolved path that ran, so the error says which binary failed.
            argv: argv
                .iter()
                .enumerate()
                .map(|(i, a)| {
                    let a = a.as_ref().to_string_lossy();
                    if i == 0 { shown(&a) } else { a.into_owned() }
                })
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

    /// A fresh, empty temporary directory, removed (with its contents) on drop.
    pub(super) struct TempDir(pub(super) PathBuf);

    impl TempDir {
        pub(super) fn new(what: &str) -> TempDir {
            let path = std::env::temp_dir().join(format!(
                "nftk-{what}-{}-{}",
                std::process::id(),
                COUNTER.fetch_add(1, Ordering::Relaxed)
            ));
            fs::create_dir(&path).unwrap();
            TempDir(path)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn adopt_refuses_a_symlink_to_the_host_namespace() {
        // What a hostile `ip netns add` could leave in /run/netns.
        let dir = TempDir::new("adopt-symlink");
        let planted = dir.0.join("nftk-1-0");
        std::os::unix::fs::symlink("/proc/self/ns/net", &planted).unwrap();
        match adopt(&planted) {
            Err(Error::NotPrivate { path, reason }) => {
                assert_eq!(path, planted.display().to_string());
                assert!(reason.contains("symbolic link"), "{reason}");
            }
            other => panic!("adopted {planted:?}: {other:?}"),
        }
    }

    #[test]
    fn the_callers_own_namespace_is_not_private() {
        let own = File::open("/proc/self/ns/net").unwrap();
        let error = ensure_private(&own, "/proc/self/ns/net").unwrap_err();
        assert!(matches!(error, Error::NotPrivate { .. }), "{error:?}");
        assert!(!error.is_skip());
        assert!(
            error.to_string().contains("own network namespace"),
            "{error}"
        );
    }

    #[test]
    fn tools_come_from_trusted_dirs_before_path() {
        use std::os::unix::fs::PermissionsExt;
        let trusted = TempDir::new("tools-trusted");
        let planted = TempDir::new("tools-planted");
        let plant = |dir: &Path, name: &str| {
            let file = dir.join(name);
            fs::write(&file, "#!/bin/sh\n").unwrap();
            fs::set_permissions(&file, fs::Permissions::from_mode(0o755)).unwrap();
            file
        };
        let real_ip = plant(&trusted.0, "ip");
        plant(&planted.0, "ip");
        let only_on_path = plant(&planted.0, "only-on-path");
        // Not executable: skipped.
        fs::write(trusted.0.join("only-on-path"), "").unwrap();
        let path_var = std::env::join_paths([&planted.0, Path::new("relative")]).unwrap();
        let dirs = [trusted.0.as_path()];
        assert_eq!(
            resolve_tool("ip", &dirs, Some(&path_var)),
            Some(real_ip),
            "the planted ip on PATH must not win"
        );
        assert_eq!(
            resolve_tool("only-on-path", &dirs, Some(&path_var)),
            Some(only_on_path)
        );
        // A relative PATH entry (the working directory) is never searched.
        let cwd_only = std::env::join_paths(["relative", ""]).unwrap();
        assert_eq!(resolve_tool("sh", &[], Some(&cwd_only)), None);
        assert_eq!(resolve_tool("nftk-no-such-tool", &dirs, None), None);
    }

    #[test]
    fn tool_path_is_absolute_and_cached() {
        match tool_path("sh") {
            Ok(path) => {
                assert!(path.is_absolute(), "{path:?}");
                assert_eq!(tool_path("sh").unwrap(), path);
            }
            Err(error) => eprintln!("SKIP tool_path_is_absolute_and_cached: {error}"),
        }
        assert_eq!(tool_path("./x").unwrap(), Path::new("./x"));
        let missing = tool_path("nftk-no-such-tool").unwrap_err();
        assert!(missing.is_skip(), "{missing}");
        assert!(missing.to_string().contains("/usr/sbin"), "{missing}");
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

    #[test]
    fn adopt_refuses_a_bind_mount_of_the_host_namespace() {
        let test = "adopt_refuses_a_bind_mount_of_the_host_namespace";
        in_private_mounts(test, |root| {
            let planted = root.join("nftk-1-0");
            fs::write(&planted, "").unwrap();
            mount(
                Path::new("/proc/self/ns/net"),
                &planted,
                None,
                libc::MS_BIND,
            );
            match adopt(&planted) {
                Err(Error::NotPrivate { reason, .. }) => {
                    assert!(reason.contains("own network namespace"), "{reason}")
                }
                other => panic!("adopted {planted:?}: {other:?}"),
            }
        });
    }

    #[test]
    fn adopt_accepts_a_private_namespace() {
        let test = "adopt_accepts_a_private_namespace";
        in_private_mounts(test, |root| {
            let file = root.join("nftk-1-0");
            fs::write(&file, "").unwrap();
            // A thread (sharing this thread's mount namespace) makes a network namespace and
            // bind-mounts it, as `ip netns add` does.
            thread::scope(|scope| {
                scope
                    .spawn(|| {
                        // SAFETY: unshare only changes the namespaces of this short-lived thread.
                        let rc = unsafe { libc::unshare(libc::CLONE_NEWNET) };
                        assert_eq!(rc, 0, "unshare: {}", io::Error::last_os_error());
                        mount(
                            Path::new("/proc/thread-self/ns/net"),
                            &file,
                            None,
                            libc::MS_BIND,
                        );
                    })
                    .join()
                    .unwrap()
            });
            let ns = adopt(&file).unwrap();
            let host = fs::metadata("/proc/self/ns/net").unwrap();
            let adopted = File::from(ns).metadata().unwrap();
            use std::os::unix::fs::MetadataExt;
            assert_ne!(
                (adopted.dev(), adopted.ino()),
                (host.dev(), host.ino()),
                "not the host's namespace"
            );
        });
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
