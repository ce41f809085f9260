//! Inputs found by fuzzing (`fuzz/`, see FUZZING.md) that broke `netfilter::payload`, kept as
//! regression tests. Its own test binary: the failure they pin is an abort (an `unsafe`
//! precondition check), which would take every other test of the binary down with it.

use netfilter::payload::Ip;

/// An IPv6 header whose next header is Hop-by-Hop (0), then an 8-byte Hop-by-Hop header whose
/// next header is Hop-by-Hop again, and nothing after it.
fn ipv6_hop_by_hop_twice(payload_length: u16) -> Vec<u8> {
    let mut packet = vec![0x60, 0, 0, 0];
    packet.extend_from_slice(&payload_length.to_be_bytes());
    packet.extend_from_slice(&[0, 64]); // next header: Hop-by-Hop; hop limit
    packet.extend_from_slice(&[0; 32]); // addresses
    packet.extend_from_slice(&[0; 8]); // Hop-by-Hop: next header Hop-by-Hop, length 0
    packet
}

/// Found by the `safe_dispatch` target (a queued packet's payload). etherparse 0.21's lax
/// parser stops at the second Hop-by-Hop header (not at the start: a content error), but the
/// iterator over the extensions it returns still goes on to that header and calls
/// `Ipv6RawExtHeaderSlice::from_slice_unchecked` on the empty rest: an out-of-bounds read
/// (caught as an abort with debug assertions: "unsafe precondition(s) violated:
/// slice::get_unchecked requires that the index is within the slice"). `Ip::parse` walks that
/// iterator looking for a fragment header; it must not when the walk stopped (fixed in 71c4bb4).
#[test]
fn ipv6_hop_by_hop_after_hop_by_hop_is_malformed_not_out_of_bounds() {
    for payload_length in [0, 8] {
        let packet = ipv6_hop_by_hop_twice(payload_length);
        if let Ok(ip) = Ip::parse(&packet) {
            assert!(!ip.is_fragment());
            assert_eq!(ip.captured_len(), packet.len());
        }
    }
}
