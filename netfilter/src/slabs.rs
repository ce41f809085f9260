//! Receive buffers: the slabs received datagrams are cut from, reused in place so that
//! steady-state receiving neither allocates nor zeroes.

use std::mem::MaybeUninit;

use bytes::{Buf, Bytes, BytesMut};

use crate::conn::BURST;
use crate::error::{Error, Result};

/// Receive buffers are carved from slabs of this many maximum-size datagrams (slots), which
/// is also the most one `recvmmsg` can take. A datagram received alone, or last, takes only
/// the bytes it needs; one followed by another of the same receive keeps its whole slot, but
/// the bytes of a slot the kernel does not write are never touched (no memory behind them).
const SLAB_DATAGRAMS: usize = 16;

/// A cache line: where receive buffers start. The kernel copies a datagram to user space with
/// `rep movsb`, which is slower into a destination off a line.
pub(crate) const LINE: usize = 64;

/// How many bytes past `ptr` the next cache line starts (0 when `ptr` is on one); at most
/// [`LINE`], so a buffer [`LINE`] bytes longer than needed always has room past it.
pub(crate) fn to_line(ptr: *const u8) -> usize {
    // `align_offset` may give up (usize::MAX): then off a line, but in bounds.
    ptr.align_offset(LINE).min(LINE)
}

/// Used-up slabs kept for reuse: enough for a whole burst of maximum-size datagrams, so that
/// a burst never allocates once the program keeps up.
const SPARE_SLABS: usize = BURST / SLAB_DATAGRAMS + 1;

/// One slab: a buffer datagrams are cut from, and how much of it is known to be initialised.
#[derive(Debug)]
struct Slab {
    /// The free rest of the slab (its front is where the next datagram lands).
    buf: BytesMut,
    /// The address of the slab's first byte: the first cache line of its allocation.
    base: usize,
    /// How far `base` lies past the allocation's start.
    pad: usize,
    /// The allocation's capacity: the slab's and a cache line's.
    total: usize,
    /// How many bytes from `base` have been written (zeroed or received into) at least once,
    /// for receiving into initialised memory ([`Slabs::room`]; not kept by
    /// [`Slabs::room_uninit`], and a `Slabs` is only ever filled one of the two ways).
    initialised: usize,
}

impl Slab {
    /// A slab of at least `capacity` bytes from its start, which lies on a cache line: the
    /// kernel copies a datagram to user space with `rep movsb`, slower into a destination
    /// off a line, and a large allocation starts 16 bytes past one.
    fn new(capacity: usize) -> Slab {
        let total = capacity + LINE;
        let buf = BytesMut::with_capacity(total);
        let pad = to_line(buf.as_ptr());
        let mut slab = Slab {
            base: buf.as_ptr() as usize + pad,
            pad,
            total,
            buf,
            initialised: 0,
        };
        slab.skip_pad();
        slab
    }

    /// Moves the empty front from the allocation's start to `base`.
    fn skip_pad(&mut self) {
        debug_assert!(self.buf.is_empty());
        self.buf.resize(self.pad, 0);
        self.buf.advance(self.pad);
    }

    /// Takes the whole slab back for the next datagram, at its start, when no datagram cut
    /// from it is alive any more; `false` (nothing changed) otherwise.
    fn rewind(&mut self) -> bool {
        self.note_initialised();
        self.buf.clear();
        // With every other handle gone this moves the front back to the allocation's start
        // (a shared buffer is taken back only whole, and only there is all of it free),
        // else it changes nothing.
        let reclaimed =
            self.buf.try_reclaim(self.total) && self.buf.as_ptr() as usize + self.pad == self.base;
        if reclaimed {
            self.skip_pad();
        }
        reclaimed
    }

    /// Records how far the bytes of `buf` reach into the slab.
    fn note_initialised(&mut self) {
        let end = self.buf.as_ptr() as usize + self.buf.len() - self.base;
        self.initialised = self.initialised.max(end);
    }

    /// Makes `buf` `size` initialised bytes long (its capacity is at least `size`), zeroing
    /// only bytes never written before.
    fn fill(&mut self, size: usize) {
        if self.buf.capacity() < size {
            // Not reached (the caller makes room first), but growing `buf` would move it to
            // another allocation, where `base` and `initialised` say nothing: start afresh.
            *self = Slab::new(size);
        }
        let known = (self.base + self.initialised)
            .saturating_sub(self.buf.as_ptr() as usize)
            .min(size);
        if self.buf.len() < known {
            // SAFETY: `known` ≤ `size` ≤ the capacity, and the bytes from the front up to
            // `known` lie below `base + initialised`: every one of them was written before
            // (zeroed by `resize` or received into) in this allocation, which `buf` still
            // owns; bytes written once stay initialised, and any `u8` value is valid.
            unsafe { self.buf.set_len(known) };
        }
        self.buf.resize(size, 0);
        self.note_initialised();
    }
}

/// Where received datagrams land: the slab being filled and used-up slabs whose datagrams may
/// still be alive (as packets). When every datagram cut from the current slab is gone (the
/// program handled its packets before receiving again, the usual loop), the next one lands at
/// the slab's start again, in memory still in the cache, as with one fixed buffer; otherwise
/// datagrams are cut further along, and a used-up slab is taken back once its datagrams are
/// gone. Steady-state receiving allocates nothing and zeroes nothing.
#[derive(Debug)]
pub(crate) struct Slabs {
    current: Slab,
    spares: Vec<Slab>,
    /// The largest datagram expected.
    size: usize,
}

impl Slabs {
    /// Slabs for datagrams of up to `size` bytes.
    pub(crate) fn new(size: usize) -> Slabs {
        Slabs {
            current: Slab::new(size * SLAB_DATAGRAMS),
            spares: Vec::with_capacity(SPARE_SLABS),
            size,
        }
    }

    /// The size of a slot: the largest datagram expected.
    pub(crate) fn slot(&self) -> usize {
        self.size
    }

    /// Makes room for at least one datagram at the front of the current slab: the current
    /// slab from its start when it is free again, else the rest of it, else a spare slab that
    /// is free again, else a new one.
    fn make_room(&mut self) {
        let (size, capacity) = (self.size, self.size * SLAB_DATAGRAMS);
        if !self.current.rewind() && self.current.buf.capacity() < size {
            let free = self.spares.iter_mut().position(|s| s.rewind());
            let next = match free {
                Some(i) => self.spares.swap_remove(i),
                None => Slab::new(capacity),
            };
            let used = std::mem::replace(&mut self.current, next);
            // Past the limit, a used slab is freed when its last datagram goes.
            if self.spares.len() < SPARE_SLABS {
                self.spares.push(used);
            }
        }
    }

    /// `size` initialised bytes to receive one datagram into (see [`Slabs::make_room`]),
    /// zeroed where never written before; then [`Slabs::take`].
    pub(crate) fn room(&mut self) -> &mut BytesMut {
        self.make_room();
        self.current.fill(self.size);
        &mut self.current.buf
    }

    /// Uninitialised room for up to `max` datagrams (at least one), as whole slots of
    /// [`Slabs::slot`] bytes, to be written by the kernel; then [`Slabs::take_received`]
    /// for each datagram, in order.
    pub(crate) fn room_uninit(&mut self, max: usize) -> &mut [MaybeUninit<u8>] {
        self.make_room();
        let size = self.size;
        let room = self.current.buf.spare_capacity_mut();
        let slots = match max {
            0 | 1 => 1,
            _ => (room.len() / size).clamp(1, max),
        };
        &mut room[..slots * size]
    }

    /// Cuts the next datagram received into the room [`Slabs::room_uninit`] gave: its first
    /// `len` bytes (`len` is the datagram's full length). With `more` (the next datagram of
    /// the same receive is in the next slot) the whole slot goes with it; else only its
    /// bytes, and the rest stays for the next receive. A datagram longer than a slot is an
    /// error (it was cut; its slot is passed over).
    ///
    /// # Safety
    /// The first `min(len, slot)` bytes at the front of the room (the slot after those of the
    /// datagrams already cut from this room) have been written since `room_uninit`, and
    /// every datagram cut from this room before was cut with `more`.
    pub(crate) unsafe fn take_received(&mut self, len: usize, more: bool) -> Result<Bytes> {
        let keep = if more { self.size } else { len.min(self.size) };
        // `room_uninit` left at least one slot of capacity at the front, and each datagram
        // cut with `more` took exactly one slot of those it offered.
        let rest = self.current.buf.split_off(keep);
        let mut datagram = std::mem::replace(&mut self.current.buf, rest);
        if len > self.size {
            return Err(self.too_long(len));
        }
        // SAFETY: `datagram` starts at the slot's front and has `keep ≥ len` bytes of
        // capacity; the caller promises its first `len` bytes were written (`len` ≤ the slot
        // here), so they are initialised.
        unsafe { datagram.set_len(len) };
        Ok(datagram.freeze())
    }

    /// Splits the `n` received bytes off the front of the current slab; the rest stays for
    /// the next datagram.
    pub(crate) fn take(&mut self, n: usize) -> Result<Bytes> {
        if n > self.size {
            return Err(self.too_long(n));
        }
        Ok(self.current.buf.split_to(n).freeze())
    }

    /// The error for an `n`-byte datagram that did not fit.
    pub(crate) fn too_long(&self, n: usize) -> Error {
        Error::Io {
            call: "recv",
            source: std::io::Error::other(format!(
                "a {n}-byte datagram did not fit the {}-byte receive buffer",
                self.size
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Receives `text` as the next datagram, as a transport would.
    fn receive(slabs: &mut Slabs, text: &[u8]) -> Bytes {
        let size = slabs.size;
        let room = slabs.room();
        assert_eq!(room.len(), size, "a whole datagram's room");
        room[..text.len()].copy_from_slice(text);
        slabs.take(text.len()).expect("fits")
    }

    #[test]
    fn live_datagrams_keep_their_bytes_and_free_slabs_are_reused_from_the_start() {
        let mut slabs = Slabs::new(64);
        let first = receive(&mut slabs, b"first");
        let start = first.as_ptr();
        // Held datagrams: each lands after the last, across slabs, none overwritten.
        let held: Vec<Bytes> = (0..40u8).map(|i| receive(&mut slabs, &[i; 50])).collect();
        assert_eq!(&first[..], b"first");
        for (i, d) in held.iter().enumerate() {
            assert_eq!(&d[..], &[i as u8; 50][..]);
        }
        drop((first, held));
        // Everything is gone: the next datagram lands at a free slab's start, and the one
        // after it at the same place again once it is dropped.
        let again = receive(&mut slabs, b"again");
        let at = again.as_ptr();
        drop(again);
        let next = receive(&mut slabs, b"next");
        assert_eq!(next.as_ptr(), at, "the same bytes, still in the cache");
        drop(next);
        assert!(slabs.spares.len() <= SPARE_SLABS);
        // Held datagrams fill the current slab; the next slab is a free spare (the first one
        // among them), not a new allocation.
        let held: Vec<Bytes> = (0..2 * SLAB_DATAGRAMS)
            .map(|_| receive(&mut slabs, &[7; 60]))
            .collect();
        assert!(at == start || held.iter().any(|d| d.as_ptr() == start));
    }

    #[test]
    fn datagrams_land_on_a_cache_line_at_a_slab_start() {
        let mut slabs = Slabs::new(100);
        for _ in 0..3 {
            let room = slabs.room_uninit(1);
            assert_eq!(room.as_ptr() as usize % LINE, 0);
            room[0].write(1);
            // SAFETY: its one byte was written just above.
            drop(unsafe { slabs.take_received(1, false) }.expect("fits"));
        }
        // The initialised path too, from a fresh slab and again once it was taken back.
        let mut slabs = Slabs::new(100);
        for _ in 0..2 {
            assert_eq!(receive(&mut slabs, b"x").as_ptr() as usize % LINE, 0);
        }
    }

    #[test]
    fn room_is_zeroed_once_then_holds_what_was_received() {
        let mut slabs = Slabs::new(16);
        let room = slabs.room();
        assert!(room.iter().all(|&b| b == 0), "fresh memory is zeroed");
        room[..4].copy_from_slice(b"abcd");
        drop(slabs.take(4).expect("fits"));
        // Reused from the start: initialised (the old bytes), never uninitialised memory.
        let room = slabs.room();
        assert_eq!(&room[..4], b"abcd");
        assert_eq!(room.len(), 16);
    }

    /// Writes `text` at the front of slot `i` of `room`, as the kernel would.
    fn write_slot(room: &mut [MaybeUninit<u8>], slot: usize, i: usize, text: &[u8]) {
        for (dst, &b) in room[i * slot..].iter_mut().zip(text) {
            dst.write(b);
        }
    }

    #[test]
    fn batches_land_in_slots_and_only_written_bytes_are_handed_out() {
        let mut slabs = Slabs::new(64);
        let room = slabs.room_uninit(3);
        assert_eq!(room.len(), 3 * 64, "three whole slots");
        let base = room.as_ptr() as usize;
        write_slot(room, 64, 0, b"first");
        write_slot(room, 64, 1, b"second!");
        // SAFETY: the bytes taken were written just above, in slot order.
        let first = unsafe { slabs.take_received(5, true) }.expect("fits");
        // SAFETY: as above.
        let second = unsafe { slabs.take_received(7, false) }.expect("fits");
        assert_eq!((&first[..], &second[..]), (&b"first"[..], &b"second!"[..]));
        assert_eq!(first.as_ptr() as usize, base);
        assert_eq!(second.as_ptr() as usize, base + 64, "the next slot");
        // The last datagram keeps only its bytes: the next receive lands right after it
        // while the datagrams are alive, and at the slab's start once they are gone.
        let next = slabs.room_uninit(SLAB_DATAGRAMS + 5);
        assert_eq!(next.as_ptr() as usize, base + 64 + 7);
        // Whole slots only: what is left of the slab's 16, or one more in the cache line
        // of slack its start on a line leaves at its end.
        assert_eq!(next.len() % 64, 0, "whole slots");
        assert!((SLAB_DATAGRAMS - 2..SLAB_DATAGRAMS).contains(&(next.len() / 64)));
        drop((first, second));
        assert_eq!(slabs.room_uninit(1).as_ptr() as usize, base);
        assert_eq!(slabs.room_uninit(1).len(), 64);
    }

    #[test]
    fn a_cut_datagram_in_a_batch_is_an_error_and_the_next_one_is_kept() {
        let mut slabs = Slabs::new(16);
        let room = slabs.room_uninit(2);
        write_slot(room, 16, 0, &[1; 16]);
        write_slot(room, 16, 1, b"ok");
        // SAFETY: the slot's 16 bytes were written (the datagram was 40 long, cut at 16).
        let cut = unsafe { slabs.take_received(40, true) };
        assert!(matches!(cut, Err(Error::Io { call: "recv", .. })));
        // SAFETY: written above, next in slot order.
        let kept = unsafe { slabs.take_received(2, false) }.expect("fits");
        assert_eq!(&kept[..], b"ok");
    }

    #[test]
    fn a_datagram_longer_than_the_room_is_an_error() {
        let mut slabs = Slabs::new(8);
        slabs.room();
        assert!(matches!(slabs.take(9), Err(Error::Io { call: "recv", .. })));
    }
}
