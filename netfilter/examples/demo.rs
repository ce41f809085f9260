//! The demo: NFQUEUE and NFLOG end to end through the raw layer, inside a private network
//! namespace that is created for the run and removed afterwards (nothing on the host changes).
//!
//! Run it with `./scripts/dev demo` (it needs root, or unprivileged user namespaces).
//!
//! Inside the namespace two iptables rules send UDP traffic to userspace:
//! `-p udp --dport 9100 -j NFQUEUE --queue-num 0` and
//! `-p udp --dport 9200 -j NFLOG --nflog-group 1 --nflog-prefix demo`.
//! Part 1 binds queue 0 and log group 1 through the raw C layer, sends a few datagrams to each
//! port, prints every packet that arrives, accepts the queued ones and shows that they reached
//! their socket. Part 2 runs the ports of the two Python designs (the `print_and_accept` and
//! `log_dump` examples, built on the `netfilter` crate) inside the same namespace on live
//! traffic, and prints what they print.

use std::ffi::{CStr, c_char, c_void};
use std::net::{Ipv4Addr, UdpSocket};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use netfilter::sys::{log, queue};
use netfilter_testkit::Sandbox;

const QUEUE_PORT: u16 = 9100;
const LOG_PORT: u16 = 9200;
const MESSAGES: usize = 3;

fn main() -> ExitCode {
    let sandbox = match Sandbox::new() {
        Ok(sandbox) => sandbox,
        Err(err) => {
            eprintln!("demo: cannot create a private network namespace: {err}");
            return ExitCode::FAILURE;
        }
    };
    println!("created network namespace {}", sandbox.name());
    let rules: [&[&str]; 2] = [
        &[
            "iptables",
            "-A",
            "OUTPUT",
            "-p",
            "udp",
            "--dport",
            "9100",
            "-j",
            "NFQUEUE",
            "--queue-num",
            "0",
        ],
        &[
            "iptables",
            "-A",
            "OUTPUT",
            "-p",
            "udp",
            "--dport",
            "9200",
            "-j",
            "NFLOG",
            "--nflog-group",
            "1",
            "--nflog-prefix",
            "demo",
        ],
    ];
    for rule in rules {
        if let Err(err) = sandbox.exec(rule) {
            eprintln!("demo: {err}");
            return ExitCode::FAILURE;
        }
        println!("  rule: {}", rule.join(" "));
    }
    println!("\n-- part 1: the raw layer (netfilter::sys)");
    if let Err(err) = sandbox.run(run_inside) {
        eprintln!("demo: {err}");
        return ExitCode::FAILURE;
    }
    println!("\n-- part 2: the Python seeds, ported (examples print_and_accept and log_dump)");
    if let Err(err) = seeds(&sandbox) {
        eprintln!("demo: {err}");
        return ExitCode::FAILURE;
    }
    println!("\ndone; namespace {} is removed on exit", sandbox.name());
    ExitCode::SUCCESS
}

/// Runs the two seed ports as child processes inside the namespace, sends them traffic, and
/// prints their output.
fn seeds(sandbox: &Sandbox) -> Result<(), String> {
    let dir = std::env::current_exe()
        .map_err(|e| e.to_string())?
        .parent()
        .map(std::path::Path::to_path_buf)
        .ok_or("no examples directory")?;
    let count = MESSAGES.to_string();
    let mut children = Vec::new();
    for (example, number) in [("print_and_accept", "0"), ("log_dump", "1")] {
        let path = dir.join(example);
        let child = sandbox
            .command(&path.to_string_lossy())
            .args([number, count.as_str()])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .map_err(|e| format!("start {} (build it with --examples): {e}", path.display()))?;
        children.push((example, child));
    }
    // Wait until both have bound their queue and group.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let bound = sandbox.run(|| {
            let queue = netfilter::safe::procfs::queue_rows().map(|rows| !rows.is_empty());
            let log = netfilter::safe::procfs::log_rows().map(|rows| !rows.is_empty());
            matches!((queue, log), (Ok(true), Ok(true)))
        });
        if bound {
            break;
        }
        if Instant::now() > deadline {
            return Err("the examples did not bind in 5 s".into());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    sandbox.run(|| -> Result<(), String> {
        let receiver = UdpSocket::bind(("127.0.0.1", QUEUE_PORT)).map_err(|e| e.to_string())?;
        let sender = UdpSocket::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
        for i in 0..MESSAGES {
            let text = format!("seed message {i}");
            for port in [QUEUE_PORT, LOG_PORT] {
                sender
                    .send_to(text.as_bytes(), ("127.0.0.1", port))
                    .map_err(|e| e.to_string())?;
            }
        }
        receiver
            .set_read_timeout(Some(Duration::from_secs(5)))
            .map_err(|e| e.to_string())?;
        let mut got = [0u8; 128];
        for _ in 0..MESSAGES {
            let n = receiver
                .recv(&mut got)
                .map_err(|e| format!("accepted datagram: {e}"))?;
            println!(
                "  delivered after print_and_accept: {:?}",
                String::from_utf8_lossy(&got[..n])
            );
        }
        Ok(())
    })?;
    for (example, child) in children {
        let output = child.wait_with_output().map_err(|e| e.to_string())?;
        for line in String::from_utf8_lossy(&output.stdout).lines() {
            println!("  {example}: {line}");
        }
        if !output.status.success() {
            return Err(format!("{example} failed: {}", output.status));
        }
    }
    Ok(())
}

/// Counts what the callbacks saw.
#[derive(Default)]
struct Counts {
    queued: usize,
    logged: usize,
}

fn run_inside() -> Result<(), String> {
    let mut counts = Box::new(Counts::default());
    let counts_ptr: *mut c_void = (&mut *counts as *mut Counts).cast();

    // SAFETY: no preconditions; checked for NULL below.
    let qh = unsafe { queue::nfq_open() };
    // SAFETY: no preconditions; checked for NULL below.
    let lh = unsafe { log::nflog_open() };
    if qh.is_null() || lh.is_null() {
        return Err(format!("open: {}", std::io::Error::last_os_error()));
    }
    // SAFETY: `qh` is live; `counts` is boxed (its address never moves) and outlives the queue,
    // which is destroyed at the end of this function.
    let q = unsafe { queue::nfq_create_queue(qh, 0, Some(on_queued), counts_ptr) };
    // SAFETY: `lh` is live.
    let g = unsafe { log::nflog_bind_group(lh, 1) };
    if q.is_null() || g.is_null() {
        return Err(format!(
            "bind queue 0 / log group 1: {}",
            std::io::Error::last_os_error()
        ));
    }
    // SAFETY: `q` and `g` are live; `counts` outlives the group as it does the queue.
    unsafe {
        queue::nfq_set_mode(q, queue::NFQNL_COPY_PACKET as u8, 0xffff);
        log::nflog_set_mode(g, log::NFULNL_COPY_PACKET as u8, 0xffff);
        log::nflog_callback_register(g, Some(on_logged), counts_ptr);
    }
    println!("bound NFQUEUE 0 and NFLOG group 1");

    let receiver = UdpSocket::bind(("127.0.0.1", QUEUE_PORT)).map_err(|e| e.to_string())?;
    receiver.set_nonblocking(true).map_err(|e| e.to_string())?;
    let sender = UdpSocket::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    for i in 0..MESSAGES {
        let text = format!("queued message {i}");
        sender
            .send_to(text.as_bytes(), ("127.0.0.1", QUEUE_PORT))
            .map_err(|e| e.to_string())?;
        let text = format!("logged message {i}");
        sender
            .send_to(text.as_bytes(), ("127.0.0.1", LOG_PORT))
            .map_err(|e| e.to_string())?;
    }

    // SAFETY: both handles are live.
    let fds = unsafe { [queue::nfq_fd(qh), log::nflog_fd(lh)] };
    let mut buf = vec![0u8; 0x10000];
    let mut delivered = 0;
    let deadline = Instant::now() + Duration::from_secs(5);
    while (counts.queued < MESSAGES || counts.logged < MESSAGES || delivered < MESSAGES)
        && Instant::now() < deadline
    {
        let mut pfds = fds.map(|fd| libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        });
        // SAFETY: `pfds` is an array of two valid pollfds.
        unsafe { libc::poll(pfds.as_mut_ptr(), 2, 100) };
        for (i, pfd) in pfds.iter().enumerate() {
            if pfd.revents & libc::POLLIN == 0 {
                continue;
            }
            // SAFETY: `buf` is writable for its whole length.
            let n = unsafe { libc::recv(pfd.fd, buf.as_mut_ptr().cast(), buf.len(), 0) };
            if n <= 0 {
                return Err(format!("recv: {}", std::io::Error::last_os_error()));
            }
            // SAFETY: the first `n` bytes of `buf` are one datagram from the kernel; the
            // callbacks run inside these calls.
            unsafe {
                if i == 0 {
                    queue::nfq_handle_packet(qh, buf.as_mut_ptr().cast(), n as i32);
                } else {
                    log::nflog_handle_packet(lh, buf.as_mut_ptr().cast(), n as i32);
                }
            }
        }
        let mut got = [0u8; 128];
        while let Ok(n) = receiver.recv(&mut got) {
            delivered += 1;
            println!(
                "  delivered after ACCEPT: {:?}",
                String::from_utf8_lossy(&got[..n])
            );
        }
    }
    // SAFETY: each handle is live and released once, children first.
    unsafe {
        queue::nfq_destroy_queue(q);
        log::nflog_unbind_group(g);
        queue::nfq_close(qh);
        log::nflog_close(lh);
    }
    println!(
        "queued {} / logged {} / delivered {} of {MESSAGES} each",
        counts.queued, counts.logged, delivered
    );
    if counts.queued == MESSAGES && counts.logged == MESSAGES && delivered == MESSAGES {
        Ok(())
    } else {
        Err("not every packet arrived".into())
    }
}

/// One line about an IPv4/UDP packet: addresses, ports, and the datagram's text.
fn describe(packet: &[u8]) -> String {
    if packet.len() < 28 || packet[0] >> 4 != 4 {
        return format!("{} bytes (not IPv4/UDP)", packet.len());
    }
    let ihl = usize::from(packet[0] & 0x0f) * 4;
    let src = Ipv4Addr::new(packet[12], packet[13], packet[14], packet[15]);
    let dst = Ipv4Addr::new(packet[16], packet[17], packet[18], packet[19]);
    let sport = u16::from_be_bytes([packet[ihl], packet[ihl + 1]]);
    let dport = u16::from_be_bytes([packet[ihl + 2], packet[ihl + 3]]);
    let data = packet.get(ihl + 8..).unwrap_or_default();
    format!(
        "{src}:{sport} -> {dst}:{dport} {:?}",
        String::from_utf8_lossy(data)
    )
}

unsafe extern "C" fn on_queued(
    qh: *mut queue::nfq_q_handle,
    _msg: *mut queue::nfgenmsg,
    nfad: *mut queue::nfq_data,
    data: *mut c_void,
) -> i32 {
    // SAFETY: `data` is the boxed `Counts` registered with the queue, alive during dispatch.
    let counts = unsafe { &mut *data.cast::<Counts>() };
    // SAFETY: `nfad` is valid for the duration of the callback.
    let hdr = unsafe { queue::nfq_get_msg_packet_hdr(nfad) };
    if hdr.is_null() {
        return 0;
    }
    // SAFETY: a non-null header points into the message.
    let (id, hook) = unsafe { (u32::from_be((*hdr).packet_id), (*hdr).hook) };
    let mut payload: *mut u8 = std::ptr::null_mut();
    // SAFETY: `nfad` is valid; on success `payload` points at `len` bytes of the message.
    let len = unsafe { queue::nfq_get_payload(nfad, &mut payload) };
    let packet = if len > 0 {
        // SAFETY: as above; used only within the callback.
        unsafe { std::slice::from_raw_parts(payload, len as usize) }
    } else {
        &[]
    };
    // SAFETY: `nfad` is valid.
    let mark = unsafe { queue::nfq_get_nfmark(nfad) };
    println!(
        "NFQUEUE id {id} hook {hook} mark {mark}: {}",
        describe(packet)
    );
    counts.queued += 1;
    // SAFETY: `qh` is the packet's queue; no new payload.
    unsafe { queue::nfq_set_verdict(qh, id, queue::NF_ACCEPT, 0, std::ptr::null()) };
    0
}

unsafe extern "C" fn on_logged(
    _gh: *mut log::nflog_g_handle,
    _msg: *mut log::nfgenmsg,
    nfad: *mut log::nflog_data,
    data: *mut c_void,
) -> i32 {
    // SAFETY: `data` is the boxed `Counts` registered with the group, alive during dispatch.
    let counts = unsafe { &mut *data.cast::<Counts>() };
    // SAFETY: `nfad` is valid; a non-null prefix is NUL-terminated inside the message.
    let prefix = unsafe { log::nflog_get_prefix(nfad) };
    let prefix = if prefix.is_null() {
        String::new()
    } else {
        // SAFETY: as above.
        unsafe { CStr::from_ptr(prefix) }
            .to_string_lossy()
            .into_owned()
    };
    let mut payload: *mut c_char = std::ptr::null_mut();
    // SAFETY: `nfad` is valid; on success `payload` points at `len` bytes of the message.
    let len = unsafe { log::nflog_get_payload(nfad, &mut payload) };
    let packet = if len > 0 {
        // SAFETY: as above; used only within the callback.
        unsafe { std::slice::from_raw_parts(payload.cast::<u8>(), len as usize) }
    } else {
        &[]
    };
    println!("NFLOG  group 1 prefix {prefix:?}: {}", describe(packet));
    counts.logged += 1;
    0
}
