//! Every malformed or unusual datagram of the testkit through `handle_packet`: typed errors,
//! no panic, no undefined behaviour, and every well-formed packet message still dispatched.
//!
//! Binding a queue or log group needs `CAP_NET_ADMIN`, so this runs in a private namespace.

use std::cell::Cell;

use netfilter_safe::Error;
use netfilter_safe::log::LogHandle;
use netfilter_safe::queue::QueueHandle;
use netfilter_safe::wire::{Part, WireError};
use netfilter_testkit::sandbox_or_skip;
use netfilter_testkit::synth::malformed::{self, Outcome};

#[test]
fn malformed_datagrams_give_typed_errors_and_strand_no_packet() {
    let sandbox = sandbox_or_skip!();
    sandbox.run(|| {
        let queued = Cell::new(0);
        let logged = Cell::new(0);
        let queues = QueueHandle::open().expect("open");
        // The testkit's queue packets use queue 0, its log packets group 1.
        let _queue = queues
            .create_queue(0, |_| queued.set(queued.get() + 1))
            .expect("queue");
        let logs = LogHandle::open().expect("open");
        let mut group = logs.bind_group(1).expect("group");
        group
            .set_callback(|_| logged.set(logged.get() + 1))
            .expect("callback");

        for case in malformed::cases() {
            let want = |kind: Outcome| case.expect.iter().filter(|o| **o == kind).count();
            let broken = case.expect.iter().any(|o| matches!(o, Outcome::Failed(_)));
            // A framing error concerns every handle; an error inside one message only the
            // handle whose message it is (the other skips it).
            let framing = case.expect.iter().any(|o| {
                matches!(
                    o,
                    Outcome::Failed(
                        WireError::Truncated {
                            part: Part::MessageHeader,
                            ..
                        } | WireError::BadLength {
                            part: Part::Message,
                            ..
                        }
                    )
                )
            });
            let kernel_error = case
                .expect
                .iter()
                .any(|o| matches!(o, Outcome::Error(e) if *e != 0));

            queued.set(0);
            let result = queues.handle_packet(&case.bytes);
            assert_eq!(
                queued.get(),
                want(Outcome::QueuePacket),
                "{}: queue packets",
                case.name
            );
            check(
                case.name,
                result,
                want(Outcome::QueuePacket),
                (framing, broken),
                kernel_error,
            );

            logged.set(0);
            let result = logs.handle_packet(&case.bytes);
            assert_eq!(
                logged.get(),
                want(Outcome::LogPacket),
                "{}: log packets",
                case.name
            );
            check(
                case.name,
                result,
                want(Outcome::LogPacket),
                (framing, broken),
                kernel_error,
            );
        }
    });
}

/// A datagram with a broken part or a kernel error reports it as a typed error; a clean one
/// reports how many packets it dispatched.
fn check(
    name: &str,
    result: Result<usize, Error>,
    packets: usize,
    (framing, broken): (bool, bool),
    nack: bool,
) {
    match result {
        Ok(n) => {
            assert!(!framing && !nack, "{name}: a problem went unreported");
            assert_eq!(n, packets, "{name}");
        }
        Err(Error::Malformed(_)) => assert!(broken, "{name}: reported malformed"),
        Err(Error::Call { call: "kernel", .. } | Error::NotPermitted { call: "kernel" }) => {
            assert!(nack, "{name}: a kernel error that is not in the datagram")
        }
        Err(other) => panic!("{name}: unexpected {other:?}"),
    }
}
