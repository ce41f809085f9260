//! Verdicts on their way to the kernel: coalescing into batch verdicts, several messages a send.
//!
//! The kernel's batch verdict (`NFQNL_MSG_VERDICT_BATCH`) settles *every* packet of a queue
//! with an id up to the one it names. So a batch may only be sent for a run of packets when
//! every packet before the end of the run has been decided the same way. The book below keeps,
//! per queue, the packets handed out in id order; decisions fill them in; a flush sends the
//! decided packets at the front as batch verdicts (one per run of equal verdicts) and every other
//! decided packet as a verdict of its own, all in one datagram.

use std::borrow::Cow;
use std::collections::VecDeque;

use bytes::Bytes;
use netfilter_safe::Verdict as Kind;
use netfilter_safe::wire::{self, BatchVerdict, ConnLabels, CtEntry, Emit, VerdictHdr};

use crate::error::Result;

/// What a verdict says, beyond its kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Decision {
    pub(crate) kind: Kind,
    pub(crate) mark: Option<u32>,
    pub(crate) priority: Option<u32>,
    pub(crate) payload: Option<Bytes>,
    /// The new conntrack mark (`NFQA_CT { CTA_MARK }`).
    pub(crate) conn_mark: Option<u32>,
    /// The new conntrack labels and which of them change (`NFQA_CT { CTA_LABELS,
    /// CTA_LABELS_MASK }`).
    pub(crate) conn_labels: Option<(ConnLabels, ConnLabels)>,
}

impl Decision {
    /// A decision of `kind` that changes nothing else.
    pub(crate) const fn plain(kind: Kind) -> Decision {
        Decision {
            kind,
            mark: None,
            priority: None,
            payload: None,
            conn_mark: None,
            conn_labels: None,
        }
    }

    /// Whether a batch verdict can carry it: no replacement payload, and no conntrack change
    /// (`nfqnl_recv_verdict_batch` reads neither `NFQA_PAYLOAD` nor `NFQA_CT`).
    fn batchable(&self) -> bool {
        self.payload.is_none() && !self.changes_conntrack()
    }

    /// Whether it carries an `NFQA_CT` nest.
    fn changes_conntrack(&self) -> bool {
        self.conn_mark.is_some() || self.conn_labels.is_some()
    }

    /// Writes the `NFQA_CT` nest of the conntrack changes into `nest` (cleared first; its
    /// capacity is kept from verdict to verdict).
    fn write_ct(&self, nest: &mut Vec<u8>) -> Result<()> {
        nest.clear();
        let mut ct = CtEntry::default();
        ct.mark = self.conn_mark;
        if let Some((labels, mask)) = self.conn_labels {
            ct.labels = Some(labels);
            ct.labels_mask = Some(mask);
        }
        ct.emit(nest)?;
        Ok(())
    }
}

/// One handed-out packet.
#[derive(Debug)]
enum Slot {
    Waiting(u32),
    Decided(u32, Decision),
    /// Sent individually while an earlier packet was still waiting.
    Sent(u32),
}

impl Slot {
    fn id(&self) -> u32 {
        match self {
            Slot::Waiting(id) | Slot::Decided(id, _) | Slot::Sent(id) => *id,
        }
    }
}

/// The packets of one queue that the kernel holds for us, in id order.
#[derive(Debug)]
struct Book {
    queue: u16,
    slots: VecDeque<Slot>,
    /// The last id handed out, to see gaps.
    last_id: Option<u32>,
}

/// Where the receive loop is in handing out what it received, which decides whether a verdict
/// is held back to travel with others.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dispatch {
    /// Nothing is being handed out: a verdict is sent at once.
    Idle,
    /// More received packets are ready to be handed out: verdicts are held back.
    Handing,
    /// The last ready packet, this one of this queue, is out: verdicts are held back until it
    /// is decided (then all go in one send) or the loop asks for the next packet.
    LastOut { queue: u16, id: u32 },
}

/// Every queue's book plus the datagram being built.
#[derive(Debug)]
pub(crate) struct Verdicts {
    books: Vec<Book>,
    /// Verdict messages not sent yet.
    out: Vec<u8>,
    /// Where the `NFQA_CT` nest of a verdict is written before it goes into `out`.
    ct_nest: Vec<u8>,
    /// Decisions not yet turned into messages.
    undecided_changes: bool,
    batching: bool,
    dispatch: Dispatch,
    /// Ids skipped between consecutive packets of a queue.
    id_gaps: u64,
}

/// Flush on its own once this many bytes of verdict messages are waiting.
pub(crate) const FLUSH_BYTES: usize = 32 * 1024;

impl Verdicts {
    pub(crate) fn new(queues: &[u16], batching: bool) -> Verdicts {
        Verdicts {
            books: queues
                .iter()
                .map(|&queue| Book {
                    queue,
                    slots: VecDeque::with_capacity(256),
                    last_id: None,
                })
                .collect(),
            out: Vec::with_capacity(FLUSH_BYTES),
            ct_nest: Vec::new(),
            undecided_changes: false,
            batching,
            dispatch: Dispatch::Idle,
            id_gaps: 0,
        }
    }

    /// Records that the receive loop handed out packet `id` of `queue`, the last one it has
    /// ready when `last`.
    pub(crate) fn hand_out(&mut self, queue: u16, id: u32, last: bool) {
        self.handed_out(queue, id);
        self.dispatch = match last {
            true => Dispatch::LastOut { queue, id },
            false => Dispatch::Handing,
        };
    }

    /// Records that the receive loop has nothing ready: verdicts from now on go at once.
    pub(crate) fn end_dispatch(&mut self) {
        self.dispatch = Dispatch::Idle;
    }

    fn book(&mut self, queue: u16) -> Option<&mut Book> {
        self.books.iter_mut().find(|b| b.queue == queue)
    }

    /// Records that packet `id` of `queue` was handed out and awaits a decision.
    fn handed_out(&mut self, queue: u16, id: u32) {
        let batching = self.batching;
        let Some(book) = self.book(queue) else {
            return;
        };
        let skipped = book
            .last_id
            .map_or(0, |last| id.wrapping_sub(last).wrapping_sub(1));
        book.last_id = Some(id);
        if batching {
            book.slots.push_back(Slot::Waiting(id));
        }
        // A backwards step (a rebound queue starts again at 1) is not a gap.
        if skipped < u32::MAX / 2 {
            self.id_gaps += u64::from(skipped);
        }
    }

    /// Ids the kernel gave out that were not handed out: those skipped between consecutive
    /// packets of a queue, plus, for each `(queue, last id the kernel gave)` of `last_ids`,
    /// those after the last packet handed out (every id when none was).
    pub(crate) fn id_gaps(&self, last_ids: impl IntoIterator<Item = (u16, u32)>) -> u64 {
        let trailing: u64 = last_ids
            .into_iter()
            .filter_map(|(queue, last)| {
                let book = self.books.iter().find(|b| b.queue == queue)?;
                let after = last.wrapping_sub(book.last_id.unwrap_or(0));
                // The kernel's id behind ours: a packet given out since it was read.
                (after < u32::MAX / 2).then_some(u64::from(after))
            })
            .sum();
        self.id_gaps + trailing
    }

    /// Records a decision; returns whether to flush now: when verdicts are not batched, when
    /// nothing is being handed out, when this decides the last packet handed out, or when the
    /// pending bytes are worth a send.
    pub(crate) fn decide(&mut self, queue: u16, id: u32, decision: Decision) -> Result<bool> {
        self.record(queue, id, decision)?;
        if self.dispatch == (Dispatch::LastOut { queue, id }) {
            self.dispatch = Dispatch::Idle;
        }
        Ok(!self.batching || self.dispatch == Dispatch::Idle || self.out.len() >= FLUSH_BYTES)
    }

    /// Files a decision in its queue's book, or as a message of its own when it cannot wait.
    fn record(&mut self, queue: u16, id: u32, decision: Decision) -> Result<()> {
        let batching = self.batching;
        let slot = self.book(queue).and_then(|book| {
            let front = book.slots.front()?.id();
            // Ids grow in the order packets are handed out (modulo 2^32), mostly one by one:
            // try the slot the id would have without gaps before searching.
            let guess = id.wrapping_sub(front) as usize;
            let at = match book.slots.get(guess) {
                Some(slot) if slot.id() == id => guess,
                _ => book
                    .slots
                    .binary_search_by_key(&id.wrapping_sub(front), |s| s.id().wrapping_sub(front))
                    .ok()?,
            };
            book.slots.get_mut(at)
        });
        match slot {
            Some(slot @ Slot::Waiting(_)) if batching && decision.batchable() => {
                *slot = Slot::Decided(id, decision);
                self.undecided_changes = true;
            }
            Some(slot) => {
                *slot = Slot::Sent(id);
                self.undecided_changes = true;
                push_verdict(&mut self.out, &mut self.ct_nest, queue, id, &decision)?;
            }
            None => push_verdict(&mut self.out, &mut self.ct_nest, queue, id, &decision)?,
        }
        Ok(())
    }

    /// Turns the decisions into messages and returns the datagram to send (empty when there is
    /// nothing to send). Call [`Verdicts::sent`] once it is on its way.
    pub(crate) fn take_datagram(&mut self) -> Result<&[u8]> {
        if self.undecided_changes {
            self.undecided_changes = false;
            for i in 0..self.books.len() {
                self.drain_book(i)?;
            }
        }
        Ok(&self.out)
    }

    /// Clears the datagram after it was sent.
    pub(crate) fn sent(&mut self) {
        self.out.clear();
    }

    fn drain_book(&mut self, i: usize) -> Result<()> {
        let Verdicts {
            books,
            out,
            ct_nest,
            ..
        } = self;
        let book = &mut books[i];
        let queue = book.queue;
        // Runs of equal decisions at the front: one batch verdict each.
        loop {
            match book.slots.front() {
                Some(Slot::Sent(_)) => {
                    book.slots.pop_front();
                }
                Some(Slot::Decided(_, first)) => {
                    let first = first.clone();
                    let mut last = None;
                    while let Some(Slot::Decided(id, d)) = book.slots.front() {
                        if *d != first {
                            break;
                        }
                        last = Some(*id);
                        book.slots.pop_front();
                        // Sent slots inside the run are already settled; skip them.
                        while let Some(Slot::Sent(_)) = book.slots.front() {
                            book.slots.pop_front();
                        }
                    }
                    if let Some(last) = last {
                        push_batch(out, queue, last, &first)?;
                    }
                }
                _ => break,
            }
        }
        // Decided packets behind a waiting one: a verdict each, now.
        for slot in book.slots.iter_mut() {
            if let Slot::Decided(id, decision) = slot {
                let id = *id;
                push_verdict(out, ct_nest, queue, id, decision)?;
                *slot = Slot::Sent(id);
            }
        }
        Ok(())
    }
}

fn header(queue: u16) -> wire::NfHeader {
    wire::NfHeader {
        flags: libc::NLM_F_REQUEST as u16,
        seq: 0,
        pid: 0,
        family: libc::AF_UNSPEC as u8,
        version: 0,
        res_id: queue,
    }
}

/// Appends the verdict `d` on packet `id` of `queue` to `out`; its `NFQA_CT` nest, if any, is
/// written in `ct_nest` first.
fn push_verdict(
    out: &mut Vec<u8>,
    ct_nest: &mut Vec<u8>,
    queue: u16,
    id: u32,
    d: &Decision,
) -> Result<()> {
    let mut msg = wire::Verdict::default();
    msg.header = header(queue);
    msg.verdict_hdr = VerdictHdr {
        verdict: d.kind.raw(),
        id,
    };
    msg.mark = d.mark;
    msg.priority = d.priority;
    msg.payload = d.payload.as_deref().map(Cow::Borrowed);
    if d.changes_conntrack() {
        d.write_ct(ct_nest)?;
        msg.ct = Some(Cow::Borrowed(ct_nest));
    }
    wire::push_message(out, &msg)?;
    Ok(())
}

fn push_batch(out: &mut Vec<u8>, queue: u16, id: u32, d: &Decision) -> Result<()> {
    let mut msg = BatchVerdict::default();
    msg.header = header(queue);
    msg.verdict_hdr = VerdictHdr {
        verdict: d.kind.raw(),
        id,
    };
    msg.mark = d.mark;
    msg.priority = d.priority;
    wire::push_message(out, &msg)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use netfilter_safe::wire::{Message, Messages};

    fn accept() -> Decision {
        Decision::plain(Kind::Accept)
    }

    /// (batch?, id, verdict, mark) of every message in `datagram`.
    fn decode(datagram: &[u8]) -> Vec<(bool, u32, u32, Option<u32>)> {
        Messages::new(datagram)
            .map(|m| match m.expect("valid") {
                Message::Verdict(v) => (false, v.verdict_hdr.id, v.verdict_hdr.verdict, v.mark),
                Message::BatchVerdict(v) => (true, v.verdict_hdr.id, v.verdict_hdr.verdict, v.mark),
                other => panic!("unexpected {other:?}"),
            })
            .collect()
    }

    #[test]
    fn consecutive_equal_verdicts_become_one_batch() {
        let mut v = Verdicts::new(&[0], true);
        for id in 1..=4 {
            v.handed_out(0, id);
        }
        for id in 1..=4 {
            v.decide(0, id, accept()).unwrap();
        }
        assert_eq!(decode(v.take_datagram().unwrap()), [(true, 4, 1, None)]);
    }

    #[test]
    fn a_waiting_packet_stops_the_batch_and_later_ones_go_alone() {
        let mut v = Verdicts::new(&[0], true);
        for id in 1..=5 {
            v.handed_out(0, id);
        }
        v.decide(0, 1, accept()).unwrap();
        v.decide(0, 2, accept()).unwrap();
        // 3 is held by the program; 4 and 5 are decided.
        v.decide(0, 4, accept()).unwrap();
        let dropped = Decision {
            kind: Kind::Drop,
            ..accept()
        };
        v.decide(0, 5, dropped.clone()).unwrap();
        assert_eq!(
            decode(v.take_datagram().unwrap()),
            [(true, 2, 1, None), (false, 4, 1, None), (false, 5, 0, None)]
        );
        v.sent();
        // When 3 is decided, nothing after it is sent twice.
        v.decide(0, 3, accept()).unwrap();
        assert_eq!(decode(v.take_datagram().unwrap()), [(true, 3, 1, None)]);
    }

    #[test]
    fn runs_of_different_verdicts_and_marks_split() {
        let mut v = Verdicts::new(&[7], true);
        for id in 10..=13 {
            v.handed_out(7, id);
        }
        let marked = Decision {
            mark: Some(9),
            ..accept()
        };
        v.decide(7, 10, accept()).unwrap();
        v.decide(7, 11, accept()).unwrap();
        v.decide(7, 12, marked.clone()).unwrap();
        v.decide(7, 13, marked).unwrap();
        assert_eq!(
            decode(v.take_datagram().unwrap()),
            [(true, 11, 1, None), (true, 13, 1, Some(9))]
        );
    }

    #[test]
    fn payload_verdicts_and_unbatched_queues_go_alone() {
        let mut v = Verdicts::new(&[0], true);
        v.handed_out(0, 1);
        let with_payload = Decision {
            payload: Some(Bytes::from_static(b"x")),
            ..accept()
        };
        v.decide(0, 1, with_payload).unwrap();
        assert_eq!(decode(v.take_datagram().unwrap()), [(false, 1, 1, None)]);
        v.sent();

        let mut off = Verdicts::new(&[0], false);
        off.handed_out(0, 1);
        off.handed_out(0, 2);
        off.decide(0, 2, accept()).unwrap();
        off.decide(0, 1, accept()).unwrap();
        assert_eq!(
            decode(off.take_datagram().unwrap()),
            [(false, 2, 1, None), (false, 1, 1, None)]
        );
    }

    #[test]
    fn conntrack_changes_are_never_batched() {
        let mut v = Verdicts::new(&[0], true);
        for id in 1..=4 {
            v.handed_out(0, id);
        }
        let conn_marked = Decision {
            conn_mark: Some(0x77),
            ..accept()
        };
        let labelled = Decision {
            conn_labels: Some((ConnLabels::EMPTY.with(1), ConnLabels::EMPTY.with(1))),
            ..accept()
        };
        v.decide(0, 1, accept()).unwrap();
        v.decide(0, 2, conn_marked.clone()).unwrap();
        v.decide(0, 3, conn_marked).unwrap();
        v.decide(0, 4, labelled).unwrap();
        let datagram = v.take_datagram().unwrap().to_vec();
        assert_eq!(
            decode(&datagram),
            [
                (false, 2, 1, None),
                (false, 3, 1, None),
                (false, 4, 1, None),
                (true, 1, 1, None)
            ]
        );
        let cts: Vec<_> = Messages::new(&datagram)
            .filter_map(|m| match m.expect("valid") {
                Message::Verdict(v) => {
                    let ct = v.conntrack().expect("a valid nest").expect("a nest");
                    Some((ct.mark(), ct.labels(), ct.labels_mask()))
                }
                _ => None,
            })
            .collect();
        let one = Some(ConnLabels::EMPTY.with(1));
        assert_eq!(
            cts,
            [
                (Some(0x77), None, None),
                (Some(0x77), None, None),
                (None, one, one)
            ]
        );
    }

    #[test]
    fn id_gaps_count_ids_lost_between_and_after_packets() {
        let mut v = Verdicts::new(&[0, 1], true);
        for id in [1, 2, 5, 6] {
            v.handed_out(0, id);
        }
        assert_eq!(v.id_gaps([]), 2, "3 and 4");
        // The kernel gave out up to 9 on queue 0 (7 to 8 lost at the end), 4 on queue 1
        // (nothing handed out there), and a queue this socket does not serve is ignored.
        assert_eq!(v.id_gaps([(0, 9), (1, 4), (2, 100)]), 2 + 3 + 4);
        // Read before the last packet handed out: nothing trails, nothing is negative.
        assert_eq!(v.id_gaps([(0, 5)]), 2);
    }

    #[test]
    fn ids_wrap_around() {
        let mut v = Verdicts::new(&[0], true);
        for id in [u32::MAX - 1, u32::MAX, 0, 1] {
            v.handed_out(0, id);
        }
        for id in [u32::MAX - 1, u32::MAX] {
            v.decide(0, id, accept()).unwrap();
        }
        assert_eq!(
            decode(v.take_datagram().unwrap()),
            [(true, u32::MAX, 1, None)]
        );
    }
}
