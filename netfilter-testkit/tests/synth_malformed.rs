//! Every malformed-input case gives exactly the outcome it is labelled with, never a panic.

use netfilter_safe::wire::{Message, Messages, NlMsgIter};
use netfilter_testkit::synth::malformed::{Case, Outcome, cases, observe};
use rstest::rstest;

const NAMES: &[&str] = &[
    "empty-datagram",
    "truncated-netlink-header",
    "nlmsg-len-below-header",
    "nlmsg-len-past-end",
    "datagram-cut-mid-message",
    "truncated-nfgenmsg",
    "truncated-attribute-header",
    "attribute-past-end",
    "zero-length-attribute",
    "attribute-length-below-header",
    "oversize-mark",
    "short-mark",
    "empty-timestamp",
    "short-packet-header",
    "missing-packet-header",
    "unknown-queue-attribute",
    "unknown-log-attribute",
    "flags-on-known-attribute",
    "log-prefix-without-nul",
    "vlan-missing-tci",
    "vlan-zero-length-member",
    "family-bridge",
    "family-netdev",
    "family-unspec",
    "control-interleaved",
    "ack",
    "truncated-error-then-packet",
    "bad-message-then-good",
    "unknown-message-type",
    "trailing-garbage",
    "overrun",
    "log-batch-with-done",
    "unpadded-last-payload",
];

fn case(name: &str) -> Case {
    cases()
        .into_iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no case {name}"))
}

#[rstest]
fn malformed_case_gives_its_outcome(
    #[values(
        "empty-datagram",
        "truncated-netlink-header",
        "nlmsg-len-below-header",
        "nlmsg-len-past-end",
        "datagram-cut-mid-message",
        "truncated-nfgenmsg",
        "truncated-attribute-header",
        "attribute-past-end",
        "zero-length-attribute",
        "attribute-length-below-header",
        "oversize-mark",
        "short-mark",
        "empty-timestamp",
        "short-packet-header",
        "missing-packet-header",
        "unknown-queue-attribute",
        "unknown-log-attribute",
        "flags-on-known-attribute",
        "log-prefix-without-nul",
        "vlan-missing-tci",
        "vlan-zero-length-member",
        "family-bridge",
        "family-netdev",
        "family-unspec",
        "control-interleaved",
        "ack",
        "truncated-error-then-packet",
        "bad-message-then-good",
        "unknown-message-type",
        "trailing-garbage",
        "overrun",
        "log-batch-with-done",
        "unpadded-last-payload"
    )]
    name: &str,
) {
    let c = case(name);
    assert_eq!(observe(&c.bytes), c.expect, "{}: {}", c.name, c.description);
}

#[test]
fn every_case_is_listed_once() {
    let all = cases();
    let mut names: Vec<&str> = all.iter().map(|c| c.name).collect();
    names.sort_unstable();
    let before = names.len();
    names.dedup();
    assert_eq!(before, names.len(), "duplicate case names");
    let mut listed = NAMES.to_vec();
    listed.sort_unstable();
    assert_eq!(names, listed);
}

/// Every prefix of every case (a datagram cut anywhere) and every single-byte corruption is
/// handled without a panic, and a framing error always ends the report.
#[test]
fn cut_and_corrupted_cases_never_panic() {
    for c in cases() {
        for cut in 0..=c.bytes.len() {
            let out = observe(&c.bytes[..cut]);
            if let Some(i) = out.iter().position(|o| {
                matches!(o, Outcome::Failed(e) if matches!(e, netfilter_safe::wire::WireError::Truncated { part: netfilter_safe::wire::Part::MessageHeader, .. } | netfilter_safe::wire::WireError::BadLength { part: netfilter_safe::wire::Part::Message, .. }))
            }) {
                assert_eq!(i + 1, out.len(), "{}: framing error must end the report", c.name);
            }
        }
        for i in 0..c.bytes.len() {
            let mut b = c.bytes.clone();
            b[i] ^= 0xff;
            let _ = observe(&b);
            for m in NlMsgIter::new(&b).flatten() {
                let _ = Message::parse(&m);
            }
        }
    }
}

#[test]
fn messages_after_a_bad_message_are_still_parsed() {
    let c = case("bad-message-then-good");
    let results: Vec<_> = Messages::new(&c.bytes).collect();
    assert!(results[0].is_err());
    assert!(matches!(results[1], Ok(Message::QueuePacket(_))));
}
