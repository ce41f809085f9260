//! Signals during blocking receives: `EINTR` is retried, and a SIGTERM handler ends a blocked
//! `run` through a `StopHandle`. Their own test binary, because the signal handlers they
//! install are process-wide.

use std::os::unix::thread::JoinHandleExt;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use netfilter::{LogGroup, Queue, StopHandle};
use netfilter_testkit::sandbox_or_skip;
use netfilter_testkit::traffic::udp_send;

mod common;
use common::queue::open;
use common::{local, log_rule, queue_rule};

static HANDLED: AtomicUsize = AtomicUsize::new(0);

extern "C" fn count(_: libc::c_int) {
    HANDLED.fetch_add(1, Ordering::SeqCst);
}

/// Installs `count` for SIGUSR1 without `SA_RESTART`, so that a blocked `recv`/`poll` fails
/// with `EINTR` instead of being restarted by the kernel.
fn install_handler() {
    // SAFETY: a zeroed sigaction is valid (empty mask, no flags); `count` is an
    // async-signal-safe handler with the right signature, and it lives for the whole program.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = count as extern "C" fn(libc::c_int) as libc::sighandler_t;
        action.sa_flags = 0;
        libc::sigemptyset(&mut action.sa_mask);
        assert_eq!(
            libc::sigaction(libc::SIGUSR1, &action, std::ptr::null_mut()),
            0
        );
    }
}

#[test]
fn eintr_during_recv_is_retried() {
    let sandbox = sandbox_or_skip!();
    queue_rule(&sandbox, 25, 9425);
    let dst = local(9425);
    let mut queue = open(&sandbox, || Queue::builder(25));
    install_handler();

    let (done_tx, done_rx) = mpsc::channel();
    let receiver = std::thread::spawn(move || {
        let got = queue.recv().map(|p| {
            let payload = p.payload().to_vec();
            p.accept().map(|()| payload)
        });
        let _ = done_tx.send(());
        got
    });
    let thread = receiver.as_pthread_t();
    for _ in 0..5 {
        std::thread::sleep(Duration::from_millis(60));
        // SAFETY: `thread` is a live thread of this process (it cannot have finished: nothing
        // was queued yet), and SIGUSR1 has a handler.
        let rc = unsafe { libc::pthread_kill(thread, libc::SIGUSR1) };
        assert_eq!(rc, 0);
    }
    std::thread::sleep(Duration::from_millis(60));
    assert!(
        done_rx.try_recv().is_err(),
        "recv is still waiting after the signals"
    );
    assert!(
        HANDLED.load(Ordering::SeqCst) >= 5,
        "the signals were delivered"
    );

    udp_send(&sandbox, dst, b"after the signals").expect("send");
    done_rx
        .recv_timeout(Duration::from_secs(5))
        .expect("recv returned once the packet came");
    let payload = receiver
        .join()
        .expect("no panic")
        .expect("recv retried through EINTR")
        .expect("accept");
    assert!(payload.ends_with(b"after the signals"));
}

/// The handles the SIGTERM handler stops: set before it is installed.
static ON_SIGTERM: [OnceLock<StopHandle>; 2] = [OnceLock::new(), OnceLock::new()];

/// When the handler ran.
static SIGTERM_AT: OnceLock<Instant> = OnceLock::new();

extern "C" fn stop_all(_: libc::c_int) {
    // Async-signal-safe: OnceLock::get is an atomic load, StopHandle::stop one write(2).
    for stop in ON_SIGTERM.iter().filter_map(OnceLock::get) {
        stop.stop();
    }
}

#[test]
fn a_sigterm_handler_stops_a_blocked_queue_run_and_log_run() {
    let sandbox = sandbox_or_skip!();
    queue_rule(&sandbox, 32, 9432);
    log_rule(&sandbox, 33, 9433, "term");
    let mut queue = open(&sandbox, || Queue::builder(32));
    let mut log = common::log::open(&sandbox, || LogGroup::builder(33).qthresh(1));
    ON_SIGTERM[0]
        .set(queue.stop_handle().expect("stop handle"))
        .expect("set once");
    ON_SIGTERM[1]
        .set(log.stop_handle().expect("stop handle"))
        .expect("set once");
    // SAFETY: a zeroed sigaction is valid (empty mask); `stop_all` is async-signal-safe, has
    // the right signature and lives for the whole program; the handles it uses are set.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = stop_all as extern "C" fn(libc::c_int) as libc::sighandler_t;
        action.sa_flags = libc::SA_RESTART;
        libc::sigemptyset(&mut action.sa_mask);
        assert_eq!(
            libc::sigaction(libc::SIGTERM, &action, std::ptr::null_mut()),
            0
        );
    }

    let logger = std::thread::spawn(move || {
        let mut logged = 0;
        let result = log.run(|_| {
            logged += 1;
            Ok(())
        });
        result.map(|()| (logged, Instant::now()))
    });
    let killer = std::thread::spawn(|| {
        std::thread::sleep(Duration::from_millis(400));
        let _ = SIGTERM_AT.set(Instant::now());
        // SAFETY: kill(2) on this process, which has a handler for SIGTERM.
        assert_eq!(unsafe { libc::kill(libc::getpid(), libc::SIGTERM) }, 0);
    });
    udp_send(&sandbox, local(9432), b"queued").expect("send");
    udp_send(&sandbox, local(9433), b"logged").expect("send");
    let mut queued = 0;
    queue
        .run(|packet| {
            queued += 1;
            packet.accept()
        })
        .expect("a stopped run is Ok");
    let queue_done = Instant::now();
    killer.join().expect("killer");
    let (logged, log_done) = logger
        .join()
        .expect("no panic")
        .expect("a stopped run is Ok");
    let sent = *SIGTERM_AT.get().expect("signalled");
    for (what, done) in [("queue", queue_done), ("log", log_done)] {
        let after = done.saturating_duration_since(sent);
        assert!(
            after < Duration::from_millis(100),
            "the {what} run ended {after:?} after SIGTERM"
        );
    }
    assert_eq!((queued, logged), (1, 1), "both handled their packet first");
}
