//! Test kit for programs that use NFQUEUE and NFLOG: kernel-exact netlink messages without
//! privileges ([`synth`]), and the real kernel inside private network namespaces.
//!
//! # Real-kernel tests in private namespaces
//!
//! A [`Sandbox`] is a fresh network namespace with `lo` up, removed on drop even while a test
//! panics. [`TwoHosts`] and [`Routed`] join several with veth links (fixed MACs, addresses from
//! `198.18.0.0/15` and `2001:db8::/32`). [`rules::Rule`] installs NFQUEUE/NFLOG rules inside
//! with iptables or nft, [`traffic`] sends UDP, TCP and ICMP echo with bounded waits,
//! [`procfs`] reads a namespace's `nfnetlink_queue`/`nfnetlink_log` rows, and [`probe`] tells
//! what this kernel supports. Nothing touches the host's namespace ([`guard`] checks that).
//!
//! Tests get their sandbox through [`sandbox_or_skip!`], which prints `SKIP <test>: <reason>`
//! and returns when the machine cannot make one, and re-runs the test as root of a user
//! namespace when it is not run as root ([`rootless`]); [`require!`] skips when a kernel
//! feature is missing. The program under test binds its queue with [`netfilter_safe`] on a
//! handle opened inside the sandbox (its socket stays in that namespace; the handle is `Send`,
//! so the test's thread can serve it), and [`serve`] runs its receive loop with bounded
//! waits. A complete NFQUEUE test (it needs root or user namespaces, hence `no_run`):
//!
//! ```no_run
//! use std::cell::RefCell;
//! use std::collections::VecDeque;
//!
//! use netfilter_safe::CopyMode;
//! use netfilter_safe::queue::{QueueHandle, Verdict};
//! use netfilter_testkit::rules::{Protocol, Rule};
//! use netfilter_testkit::traffic::{self, DEFAULT_TIMEOUT, UdpReceiver};
//! use netfilter_testkit::{TwoHosts, procfs, sandbox_or_skip, serve};
//!
//! #[test]
//! fn server_queues_dns() {
//!     let hosts = sandbox_or_skip!(TwoHosts::new());
//!     Rule::queue(0).protocol(Protocol::Udp).dport(53).apply(&hosts.server).unwrap();
//!     let handle = hosts.server.run(QueueHandle::open).unwrap();
//!     let inbox = RefCell::new(VecDeque::new());
//!     let queue = handle.create_queue(0, |msg| inbox.borrow_mut().push_back(msg.id())).unwrap();
//!     queue.set_mode(CopyMode::Packet, 0xffff).unwrap();
//!     let dns = (TwoHosts::SERVER.ipv4, 53).into();
//!     let server = UdpReceiver::bind(&hosts.server, dns).unwrap();
//!     traffic::udp_send(&hosts.client, dns, b"query").unwrap();
//!     let id = serve::next(&handle, &inbox, DEFAULT_TIMEOUT).unwrap();
//!     let row = procfs::queue_row(&hosts.server, 0).unwrap().unwrap();
//!     assert_eq!(row.queue_total, 1); // the packet waits for our verdict
//!     queue.set_verdict(id, Verdict::Accept, None, None).unwrap();
//!     assert_eq!(server.recv(DEFAULT_TIMEOUT).unwrap().0, b"query");
//! }
//! ```
//!
//! Namespaces are named `nftk-<pid>-<n>` (root mode, visible in `ip netns list`);
//! [`sweep_stale`] removes those a killed run left behind.
#![deny(missing_docs)]
pub mod synth;

pub mod error;
pub mod fake;
pub mod guard;
mod macros;
pub mod probe;
pub mod procfs;
pub mod rootless;
pub mod rules;
pub mod sandbox;
pub mod serve;
pub mod topology;
pub mod traffic;
pub mod vectors;

pub use error::Error;
pub use fake::{FakeKernel, FakeTransport};
pub use sandbox::{Sandbox, sweep_stale};
pub use topology::{Routed, TwoHosts};
