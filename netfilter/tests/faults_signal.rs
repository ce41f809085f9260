//! A signal during a blocking receive (`EINTR`) is retried: its own test binary, because the
//! signal handler it installs is process-wide.

use std::os::unix::thread::JoinHandleExt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use netfilter::Queue;
use netfilter_testkit::sandbox_or_skip;
use netfilter_testkit::traffic::udp_send;

mod common;
use common::queue::open;
use common::{local, queue_rule};

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
