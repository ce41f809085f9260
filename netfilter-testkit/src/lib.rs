//! Test kit for programs that use NFQUEUE and NFLOG: kernel-exact netlink messages without
//! privileges ([`synth`]), and the real kernel inside private network namespaces.
//!
//! # Real-kernel tests in private namespaces
//!
//! A [`Sandbox`] is a fresh network namespace with `lo` up, removed on drop even while a test
//! panics. [`TwoHosts`], [`Routed`] and [`Bridged`] join several with veth links (fixed MACs,
//! addresses from `198.18.0.0/15` and `2001:db8::/32`). [`rules::Rule`] installs NFQUEUE,
//! NFLOG, MARK and counting rules inside with iptables or nft (removable, with counters),
//! [`traffic`] sends UDP (also in bulk and as a chosen uid), TCP and ICMP echo with bounded
//! waits, [`procfs`] reads a namespace's `nfnetlink_queue`/`nfnetlink_log` rows, and [`probe`]
//! tells what this kernel supports. Nothing touches the host's namespace ([`guard`] checks that).
//!
//! Tests get their sandbox through [`sandbox_or_skip!`], which prints `SKIP <test>: <reason>`
//! and returns when the machine cannot make one, and re-runs the test as root of a user
//! namespace when it is not run as root ([`rootless`]); [`require!`] skips when a kernel
//! feature is missing. The program under test opens its queue or log group inside the
//! sandbox (`sandbox.run(|| Queue::builder(0).open())`: the socket stays in that namespace when
//! the value moves back to the test's thread). A complete NFQUEUE test with the `netfilter`
//! crate's [`Queue`](https://docs.rs/netfilter/latest/netfilter/struct.Queue.html) (it needs
//! root or user namespaces, hence `no_run`):
//!
//! ```no_run
//! use netfilter::Queue;
//! use netfilter_testkit::rules::{Protocol, Rule};
//! use netfilter_testkit::traffic::{self, DEFAULT_TIMEOUT, UdpReceiver};
//! use netfilter_testkit::{TwoHosts, procfs, sandbox_or_skip};
//!
//! #[test]
//! fn server_queues_dns() {
//!     let hosts = sandbox_or_skip!(TwoHosts::new());
//!     Rule::queue(0).protocol(Protocol::Udp).dport(53).apply(&hosts.server).unwrap();
//!     let mut queue = hosts.server.run(|| Queue::builder(0).open()).unwrap();
//!     let dns = (TwoHosts::SERVER.ipv4, 53).into();
//!     let server = UdpReceiver::bind(&hosts.server, dns).unwrap();
//!     traffic::udp_send(&hosts.client, dns, b"query").unwrap();
//!     let packet = queue.recv_timeout(DEFAULT_TIMEOUT).unwrap().expect("a queued packet");
//!     assert!(packet.payload().ends_with(b"query"));
//!     let row = procfs::queue_row(&hosts.server, 0).unwrap().unwrap();
//!     assert_eq!(row.queue_total, 1); // the packet waits for our verdict
//!     packet.accept().unwrap();
//!     assert_eq!(server.recv(DEFAULT_TIMEOUT).unwrap().0, b"query");
//! }
//! ```
//!
//! With the `ffi` feature, `serve` runs the receive loop of `netfilter-safe`'s C-backed
//! handles with bounded waits, for tests of programs written against that layer.
//!
//! Namespaces are named `nftk-<pid>-<n>` (root mode, visible in `ip netns list`);
//! [`sweep_stale`] removes those a killed run left behind.
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]
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
#[cfg(feature = "ffi")]
#[cfg_attr(docsrs, doc(cfg(feature = "ffi")))]
pub mod serve;
pub mod topology;
pub mod traffic;
pub mod vectors;

pub use error::Error;
pub use fake::{FakeKernel, FakeTransport};
pub use sandbox::{Sandbox, sweep_stale};
pub use topology::{Bridged, Routed, TwoHosts};
