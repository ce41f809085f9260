//! Netlink attributes: `struct nlattr`, iteration, and typed value readers.

use std::borrow::Cow;

use super::error::{Part, Space, WireError};
use super::netlink::{ALIGNTO, NFGENMSG_LEN, NLMSG_HDRLEN, NlMsg, Writer, align, ne_u16};

/// Where an nfnetlink message's attributes start: after the netlink header and the nfgenmsg.
pub(crate) const ATTRS_START: usize = NLMSG_HDRLEN + NFGENMSG_LEN;

/// Size of `struct nlattr` (`NLA_HDRLEN`).
pub const NLA_HDRLEN: usize = core::mem::size_of::<super::uapi::nlattr>();

/// The largest attribute value a 16-bit `nla_len` can describe.
pub const NLA_MAX_VALUE: usize = u16::MAX as usize - NLA_HDRLEN;

/// Flag bit in `nla_type`: the value is a list of attributes (`NLA_F_NESTED`).
pub const NLA_F_NESTED: u16 = libc::NLA_F_NESTED as u16;
/// Flag bit in `nla_type`: the value is in network byte order (`NLA_F_NET_BYTEORDER`).
pub const NLA_F_NET_BYTEORDER: u16 = libc::NLA_F_NET_BYTEORDER as u16;
/// Mask of the type bits in `nla_type` (`NLA_TYPE_MASK`).
pub const NLA_TYPE_MASK: u16 = libc::NLA_TYPE_MASK as u16;

/// A checked view of one attribute: its header was read and its length fits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attr<'a> {
    raw_type: u16,
    value: &'a [u8],
}

impl<'a> Attr<'a> {
    /// The attribute type with the flag bits masked off.
    #[must_use]
    pub fn kind(&self) -> u16 {
        self.raw_type & NLA_TYPE_MASK
    }

    /// `nla_type` as on the wire, flag bits included.
    #[must_use]
    pub fn raw_type(&self) -> u16 {
        self.raw_type
    }

    /// Whether `NLA_F_NESTED` is set.
    #[must_use]
    pub fn is_nested(&self) -> bool {
        self.raw_type & NLA_F_NESTED != 0
    }

    /// Whether `NLA_F_NET_BYTEORDER` is set.
    #[must_use]
    pub fn is_net_byteorder(&self) -> bool {
        self.raw_type & NLA_F_NET_BYTEORDER != 0
    }

    /// The value: `nla_len - 4` bytes, padding excluded.
    #[must_use]
    pub fn value(&self) -> &'a [u8] {
        self.value
    }

    /// The attributes nested in this one's value.
    #[must_use]
    pub fn nested(&self) -> AttrIter<'a> {
        AttrIter::new(self.value)
    }

    /// An owned-or-borrowed raw copy, for attributes a parser keeps as they are.
    #[must_use]
    pub fn to_raw(&self) -> RawAttr<'a> {
        RawAttr {
            raw_type: self.raw_type,
            value: Cow::Borrowed(self.value),
        }
    }

    /// The attribute at the start of `buf`, and how far the next one is: its length aligned,
    /// which may pass the end of `buf` (an unpadded last attribute).
    ///
    /// A header cut short is [`WireError::Truncated`]; an `nla_len` below 4 (zero included)
    /// or past the end of `buf` is [`WireError::BadLength`].
    #[inline]
    fn first(buf: &'a [u8]) -> Result<(Self, usize), WireError> {
        let Some(&[l0, l1, t0, t1]) = buf.first_chunk::<NLA_HDRLEN>() else {
            return Err(WireError::Truncated {
                part: Part::AttributeHeader,
                needed: NLA_HDRLEN,
                got: buf.len(),
            });
        };
        let len = usize::from(u16::from_ne_bytes([l0, l1]));
        // `get` is `None` for a length below the header's (start past end) or past the end.
        let Some(value) = buf.get(NLA_HDRLEN..len) else {
            return Err(WireError::BadLength {
                part: Part::Attribute,
                len,
                min: NLA_HDRLEN,
                available: buf.len(),
            });
        };
        let attr = Attr {
            raw_type: u16::from_ne_bytes([t0, t1]),
            value,
        };
        Ok((attr, align(len)))
    }
}

/// Iterates over the attributes in a buffer (the rest of a message after its fixed headers, or
/// the value of a nested attribute).
///
/// An attribute may end the buffer without its padding. A header cut short, an `nla_len` below
/// 4 (zero included) or past the end is returned once as an error and ends the iteration.
#[derive(Debug, Clone)]
pub struct AttrIter<'a> {
    rest: &'a [u8],
    failed: bool,
}

impl<'a> AttrIter<'a> {
    /// Iterates over the attributes in `buf`.
    #[must_use]
    pub fn new(buf: &'a [u8]) -> Self {
        AttrIter {
            rest: buf,
            failed: false,
        }
    }
}

impl<'a> Iterator for AttrIter<'a> {
    type Item = Result<Attr<'a>, WireError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.rest.is_empty() {
            return None;
        }
        match Attr::first(self.rest) {
            Ok((attr, step)) => {
                self.rest = self.rest.get(step..).unwrap_or_default();
                Some(Ok(attr))
            }
            Err(err) => {
                self.failed = true;
                Some(Err(err))
            }
        }
    }
}

impl core::iter::FusedIterator for AttrIter<'_> {}

/// The longest message whose attributes [`AttrTable`] locates.
pub(crate) const MAX_LOCATED: usize = (u16::MAX as usize - 1) * ALIGNTO;

/// Where the attributes of one message are, found once so that each can be read later
/// without walking the message again (what `nfnl_parse_attr` does for the C libraries): per
/// attribute type below `N`, the offset of the attribute in the message. A type that comes
/// twice is the last one. Small and `Copy`: it travels beside the message's bytes, and every
/// read takes those bytes again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AttrTable<const N: usize> {
    /// Per type: 1 + the attribute's offset in the message in 4-byte units (attributes are
    /// aligned to 4); 0 when absent.
    at: [u16; N],
    /// Whether attributes of types at or beyond `N` came too.
    beyond: bool,
}

/// What [`AttrTable::fill`] checks of each attribute type's value (most checks are a length),
/// for types below [`Checks::TYPES`]: 5 bits per type packed into one constant, so that a
/// check is a shift of an immediate. A table in memory instead (or a `match`'s jump table)
/// is a cache miss after each wake-up of a receive loop, measured on the NFLOG path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Checks(u128);

impl Checks {
    /// Attribute types a `Checks` covers.
    pub(crate) const TYPES: usize = 25;
    /// Bits per type.
    const BITS: usize = 5;
    /// The code of the message type's own check (a string's terminating NUL, a nest's
    /// members); other codes are an exact length, 0 none.
    const CUSTOM: u32 = 31;

    /// Nothing checked: values of any length.
    pub(crate) const NONE: Checks = Checks(0);

    /// Also: a value of `kind` has exactly `len` bytes (1 to 30), else
    /// [`WireError::BadAttribute`].
    pub(crate) const fn len(self, kind: u16, len: usize) -> Checks {
        assert!(len >= 1 && len < Self::CUSTOM as usize);
        self.with(kind, len as u128)
    }

    /// Also: a value of `kind` is checked by the message type's own function.
    pub(crate) const fn custom(self, kind: u16) -> Checks {
        self.with(kind, Self::CUSTOM as u128)
    }

    const fn with(self, kind: u16, code: u128) -> Checks {
        assert!((kind as usize) < Self::TYPES);
        let shift = kind as usize * Self::BITS;
        Checks(self.0 & !(31 << shift) | code << shift)
    }

    /// The code of `kind` (below [`Checks::TYPES`]).
    #[inline]
    fn of(self, kind: usize) -> u32 {
        ((self.0 >> (kind * Self::BITS)) & 31) as u32
    }
}

impl<const N: usize> AttrTable<N> {
    /// A table that locates nothing.
    pub(crate) const EMPTY: Self = AttrTable {
        at: [0; N],
        beyond: false,
    };

    /// Locates, in place, the attributes of `msg` (a whole message) that start at `start`,
    /// checking each of a type below `N` as `checks` says (errors in `space`; `custom` for
    /// the types it gives to it); the first framing or check error is returned (the table is
    /// then incomplete). Types from `N` on are not checked; `N` is at most
    /// [`Checks::TYPES`].
    ///
    /// In place because a table is written one 16-bit slot at a time: a copy made right after
    /// (a table returned by value and moved into its packet) reads those slots with wide loads
    /// that wait for the narrow stores to retire, a stall per message measured on the receive
    /// path.
    #[inline]
    pub(crate) fn fill(
        &mut self,
        msg: &[u8],
        start: usize,
        space: Space,
        checks: Checks,
        mut custom: impl FnMut(&Attr<'_>) -> Result<(), WireError>,
    ) -> Result<(), WireError> {
        const { assert!(N <= Checks::TYPES) };
        *self = Self::EMPTY;
        // As `AttrIter`, over `msg` itself: each attribute's offset is at hand.
        let mut at = start;
        while at < msg.len() {
            let (a, step) = Attr::first(msg.get(at..).unwrap_or_default())?;
            let kind = usize::from(a.kind());
            match self.at.get_mut(kind) {
                Some(slot) => {
                    match checks.of(kind) {
                        0 => {}
                        Checks::CUSTOM => custom(&a)?,
                        len if a.value.len() == len as usize => {}
                        _ => {
                            return Err(WireError::BadAttribute {
                                space,
                                kind: a.kind(),
                                len: a.value.len(),
                            });
                        }
                    }
                    *slot = Self::encode(at, msg.len())?;
                }
                None => self.beyond = true,
            }
            // `step` is at most 65536: no overflow.
            at += step;
        }
        Ok(())
    }

    /// An attribute's offset as stored: 1 + `at` / 4, which fits 16 bits in messages up to
    /// [`MAX_LOCATED`] bytes (the kernel's are below 70 KiB).
    fn encode(at: usize, msg_len: usize) -> Result<u16, WireError> {
        u16::try_from(at / ALIGNTO + 1).map_err(|_| WireError::BadLength {
            part: Part::Message,
            len: msg_len,
            min: NLMSG_HDRLEN,
            available: MAX_LOCATED,
        })
    }

    /// [`AttrTable::fill`] for a packet message of type `msg_type` (its attributes after the
    /// `nfgenmsg`), which must carry an attribute of type `required` (in `space`).
    ///
    /// # Errors
    /// [`WireError::UnexpectedMessage`], [`WireError::Truncated`] for a missing `nfgenmsg`,
    /// [`AttrTable::fill`]'s errors, then [`WireError::MissingAttribute`].
    #[inline]
    pub(crate) fn fill_packet(
        &mut self,
        msg: &NlMsg<'_>,
        msg_type: u16,
        space: Space,
        required: u16,
        checks: Checks,
        custom: impl FnMut(&Attr<'_>) -> Result<(), WireError>,
    ) -> Result<(), WireError> {
        msg.expect_type(msg_type)?;
        msg.nfnetlink()?;
        self.fill(msg.as_bytes(), ATTRS_START, space, checks, custom)?;
        if self.has(required) {
            Ok(())
        } else {
            Err(WireError::MissingAttribute {
                space,
                kind: required,
            })
        }
    }

    /// Whether an attribute of type `kind` (below `N`) was located.
    #[inline]
    pub(crate) fn has(&self, kind: u16) -> bool {
        self.at.get(usize::from(kind)).is_some_and(|&at| at != 0)
    }

    /// The attribute of type `kind` in `msg`, the message the table was made from.
    #[inline]
    pub(crate) fn get<'a>(&self, msg: &'a [u8], kind: u16) -> Option<Attr<'a>> {
        let at = usize::from(self.at.get(usize::from(kind))?.checked_sub(1)?) * ALIGNTO;
        let header = msg.get(at..at.checked_add(NLA_HDRLEN)?)?;
        let len = usize::from(ne_u16(header, 0));
        Some(Attr {
            raw_type: ne_u16(header, 2),
            value: msg.get(at + NLA_HDRLEN..at.checked_add(len)?)?,
        })
    }

    /// The attributes of `msg` whose type is not below `N` or not `known`, in order.
    pub(crate) fn others<'a>(
        &self,
        msg: &'a [u8],
        start: usize,
        known: fn(u16) -> bool,
    ) -> impl Iterator<Item = Attr<'a>> + use<'a, N> {
        let any = self.beyond
            || self
                .at
                .iter()
                .enumerate()
                .any(|(k, &at)| at != 0 && !known(k as u16));
        let attrs = if any {
            msg.get(start..).unwrap_or_default()
        } else {
            &[]
        };
        AttrIter::new(attrs)
            .map_while(Result::ok)
            .filter(move |a| usize::from(a.kind()) >= N || !known(a.kind()))
    }
}

/// The readers that [`LogAttrs`](super::LogAttrs) and [`QueueAttrs`](super::QueueAttrs)
/// share, for the attributes both packet messages carry. Expanded inside each `impl`, it
/// reads that module's attribute constants (`MARK`, `PAYLOAD`, ...), its space `S` and a
/// `table` field; `$name` is the constants' C prefix for the docs (`NFQA_`, `NFULA_`).
macro_rules! shared_readers {
    ($name:literal, $vlan_space:expr) => {
        #[inline]
        fn value<'m>(&self, msg: &'m [u8], kind: u16) -> Option<&'m [u8]> {
            self.table.get(msg, kind).map(|a| a.value())
        }

        #[inline]
        fn u32(&self, msg: &[u8], kind: u16) -> Option<u32> {
            be32(S, &self.table.get(msg, kind)?).ok()
        }

        #[doc = concat!("`", $name, "MARK`.")]
        #[inline]
        #[must_use]
        pub fn mark(&self, msg: &[u8]) -> Option<u32> {
            self.u32(msg, MARK)
        }

        #[doc = concat!("`", $name, "TIMESTAMP`.")]
        #[inline]
        #[must_use]
        pub fn timestamp(&self, msg: &[u8]) -> Option<Timestamp> {
            parse_ts(S, &self.table.get(msg, TIMESTAMP)?).ok()
        }

        #[doc = concat!("`", $name, "IFINDEX_INDEV`.")]
        #[inline]
        #[must_use]
        pub fn indev(&self, msg: &[u8]) -> Option<u32> {
            self.u32(msg, IFINDEX_INDEV)
        }

        #[doc = concat!("`", $name, "IFINDEX_OUTDEV`.")]
        #[inline]
        #[must_use]
        pub fn outdev(&self, msg: &[u8]) -> Option<u32> {
            self.u32(msg, IFINDEX_OUTDEV)
        }

        #[doc = concat!("`", $name, "IFINDEX_PHYSINDEV`.")]
        #[inline]
        #[must_use]
        pub fn physindev(&self, msg: &[u8]) -> Option<u32> {
            self.u32(msg, IFINDEX_PHYSINDEV)
        }

        #[doc = concat!("`", $name, "IFINDEX_PHYSOUTDEV`.")]
        #[inline]
        #[must_use]
        pub fn physoutdev(&self, msg: &[u8]) -> Option<u32> {
            self.u32(msg, IFINDEX_PHYSOUTDEV)
        }

        #[doc = concat!("`", $name, "HWADDR`.")]
        #[inline]
        #[must_use]
        pub fn hw_addr(&self, msg: &[u8]) -> Option<HwAddr> {
            parse_hw(S, &self.table.get(msg, HWADDR)?).ok()
        }

        #[doc = concat!("`", $name, "HWADDR`'s address bytes (`hw_addrlen` of them), as they lie in `msg`.")]
        #[inline]
        #[must_use]
        pub fn hw_addr_bytes<'m>(&self, msg: &'m [u8]) -> Option<&'m [u8]> {
            hw_addr_slice(&self.table.get(msg, HWADDR)?)
        }

        #[doc = concat!("`", $name, "PAYLOAD`.")]
        #[inline]
        #[must_use]
        pub fn payload<'m>(&self, msg: &'m [u8]) -> Option<&'m [u8]> {
            self.value(msg, PAYLOAD)
        }

        #[doc = concat!("`", $name, "UID`.")]
        #[inline]
        #[must_use]
        pub fn uid(&self, msg: &[u8]) -> Option<u32> {
            self.u32(msg, UID)
        }

        #[doc = concat!("`", $name, "GID`.")]
        #[inline]
        #[must_use]
        pub fn gid(&self, msg: &[u8]) -> Option<u32> {
            self.u32(msg, GID)
        }

        #[doc = concat!("`", $name, "CT`, raw.")]
        #[inline]
        #[must_use]
        pub fn ct<'m>(&self, msg: &'m [u8]) -> Option<&'m [u8]> {
            self.value(msg, CT)
        }

        #[doc = concat!("`", $name, "CT_INFO`.")]
        #[inline]
        #[must_use]
        pub fn ct_info(&self, msg: &[u8]) -> Option<u32> {
            self.u32(msg, CT_INFO)
        }

        #[doc = concat!("`", $name, "CT` as a checked view of the connection; `Err` for a nest that does not follow the `CTA_*` layout (see [`Conntrack::new_checked`]).")]
        #[inline]
        #[must_use]
        pub fn conntrack<'m>(&self, msg: &'m [u8]) -> Option<Result<Conntrack<'m>, WireError>> {
            self.ct(msg).map(Conntrack::new_checked)
        }

        #[doc = concat!("`", $name, "CT_INFO` as a state.")]
        #[inline]
        #[must_use]
        pub fn ct_state(&self, msg: &[u8]) -> Option<CtState> {
            self.ct_info(msg).map(CtState::from)
        }

        #[doc = concat!("`", $name, "VLAN`.")]
        #[inline]
        #[must_use]
        pub fn vlan(&self, msg: &[u8]) -> Option<Vlan> {
            let a = self.table.get(msg, VLAN)?;
            Vlan::parse(&a, $vlan_space, VLAN_PROTO, VLAN_TCI).ok()
        }

        #[doc = concat!("`", $name, "L2HDR`.")]
        #[inline]
        #[must_use]
        pub fn l2hdr<'m>(&self, msg: &'m [u8]) -> Option<&'m [u8]> {
            self.value(msg, L2HDR)
        }

        /// The attributes none of the readers reads (a newer kernel's), in order.
        pub fn unknown<'m>(&self, msg: &'m [u8]) -> impl Iterator<Item = Attr<'m>> + use<'m> {
            self.table.others(msg, ATTRS_START, known_attr)
        }
    };
}
pub(crate) use shared_readers;

/// An attribute kept as it came: the raw `nla_type` (flags included, so it is re-emitted
/// exactly) and the value. Parsers keep attributes they do not know this way, so attributes of
/// newer kernels stay reachable.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RawAttr<'a> {
    /// `nla_type` as on the wire, flags included.
    pub raw_type: u16,
    /// The value, padding excluded.
    pub value: Cow<'a, [u8]>,
}

impl RawAttr<'_> {
    /// The attribute type with the flag bits masked off.
    #[must_use]
    pub fn kind(&self) -> u16 {
        self.raw_type & NLA_TYPE_MASK
    }

    /// A copy that owns its value.
    #[must_use]
    pub fn into_owned(self) -> RawAttr<'static> {
        RawAttr {
            raw_type: self.raw_type,
            value: Cow::Owned(self.value.into_owned()),
        }
    }

    pub(crate) fn write(&self, w: &mut Writer<'_>) {
        w.attr(self.raw_type, &self.value);
    }
}

/// `VLAN` nest contents (`NFQA_VLAN` / `NFULA_VLAN`): the tag of a packet whose VLAN header
/// was taken out by the driver.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Vlan {
    /// `*_VLAN_PROTO`: the tag protocol (0x8100 or 0x88a8), host order here.
    pub proto: u16,
    /// `*_VLAN_TCI`: priority, DEI and VLAN id, host order here.
    pub tci: u16,
}

impl Vlan {
    /// Parses the members of a VLAN nest. Unknown members are ignored; both known ones are
    /// required, as the kernel requires them in verdicts.
    pub(crate) fn parse(
        attr: &Attr<'_>,
        space: Space,
        proto_kind: u16,
        tci_kind: u16,
    ) -> Result<Self, WireError> {
        let mut proto = None;
        let mut tci = None;
        for a in attr.nested() {
            let a = a?;
            if a.kind() == proto_kind {
                proto = Some(be16(space, &a)?);
            } else if a.kind() == tci_kind {
                tci = Some(be16(space, &a)?);
            }
        }
        match (proto, tci) {
            (Some(proto), Some(tci)) => Ok(Vlan { proto, tci }),
            (None, _) => Err(WireError::MissingAttribute {
                space,
                kind: proto_kind,
            }),
            (_, None) => Err(WireError::MissingAttribute {
                space,
                kind: tci_kind,
            }),
        }
    }

    /// Writes the nest as the kernel does: `NLA_F_NESTED`, TCI first, then PROTO.
    pub(crate) fn write(&self, w: &mut Writer<'_>, outer: u16, proto_kind: u16, tci_kind: u16) {
        w.nest(outer | NLA_F_NESTED, |w| {
            w.attr_u16(tci_kind, self.tci);
            w.attr_u16(proto_kind, self.proto);
        });
    }
}

/// `struct nfqnl_msg_packet_timestamp` / `nfulnl_msg_packet_timestamp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Timestamp {
    /// Seconds since the epoch.
    pub sec: u64,
    /// Microseconds.
    pub usec: u64,
}

/// `struct nfqnl_msg_packet_hw` / `nfulnl_msg_packet_hw`: a hardware (link-layer source)
/// address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct HwAddr {
    /// `hw_addrlen`: how many bytes of `addr` are the address.
    pub len: u16,
    /// `hw_addr`: the address, zero-filled after `len` bytes.
    pub addr: [u8; 8],
}

impl HwAddr {
    /// An address from its bytes (at most 8; more are cut).
    #[must_use]
    pub fn new(bytes: &[u8]) -> Self {
        let mut addr = [0u8; 8];
        let n = bytes.len().min(8);
        if let (Some(d), Some(s)) = (addr.get_mut(..n), bytes.get(..n)) {
            d.copy_from_slice(s);
        }
        HwAddr {
            len: n as u16,
            addr,
        }
    }

    /// The address: the first `len` bytes (at most 8).
    #[must_use]
    pub fn as_slice(&self) -> &[u8] {
        let n = usize::from(self.len).min(self.addr.len());
        self.addr.get(..n).unwrap_or_default()
    }
}

pub(crate) fn exact<'a, const N: usize>(
    space: Space,
    a: &Attr<'a>,
) -> Result<&'a [u8; N], WireError> {
    <&[u8; N]>::try_from(a.value()).map_err(|_| WireError::BadAttribute {
        space,
        kind: a.kind(),
        len: a.value().len(),
    })
}

pub(crate) fn be32(space: Space, a: &Attr<'_>) -> Result<u32, WireError> {
    exact::<4>(space, a).map(|b| u32::from_be_bytes(*b))
}

pub(crate) fn be16(space: Space, a: &Attr<'_>) -> Result<u16, WireError> {
    exact::<2>(space, a).map(|b| u16::from_be_bytes(*b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iterates_padded_and_unpadded_attributes() {
        // [len 5, type 1 | NESTED, 1 byte, 3 pad] [len 6, type 2, 2 bytes, no padding at the end]
        let mut b = vec![5, 0, 1, 0x80, 0xaa, 0, 0, 0];
        b[0..2].copy_from_slice(&5u16.to_ne_bytes());
        b[2..4].copy_from_slice(&(1u16 | NLA_F_NESTED).to_ne_bytes());
        b.extend_from_slice(&6u16.to_ne_bytes());
        b.extend_from_slice(&2u16.to_ne_bytes());
        b.extend_from_slice(&[0xbb, 0xcc]);
        let attrs: Vec<_> = AttrIter::new(&b).collect::<Result<_, _>>().expect("valid");
        assert_eq!(attrs.len(), 2);
        assert_eq!(
            (attrs[0].kind(), attrs[0].is_nested(), attrs[0].value()),
            (1, true, &[0xaa][..])
        );
        assert_eq!(
            (attrs[1].kind(), attrs[1].is_nested(), attrs[1].value()),
            (2, false, &[0xbb, 0xcc][..])
        );
    }

    #[test]
    fn zero_length_attribute_is_an_error_and_ends_iteration() {
        let b = [0u8, 0, 1, 0, 9, 9, 9, 9];
        let mut it = AttrIter::new(&b);
        assert_eq!(
            it.next(),
            Some(Err(WireError::BadLength {
                part: Part::Attribute,
                len: 0,
                min: 4,
                available: 8
            }))
        );
        assert_eq!(it.next(), None);
    }

    #[test]
    fn hwaddr_slice_is_bounded() {
        let hw = HwAddr {
            len: 200,
            addr: [1; 8],
        };
        assert_eq!(hw.as_slice().len(), 8);
        assert_eq!(HwAddr::new(&[1, 2, 3]).as_slice(), &[1, 2, 3]);
    }
}
