//! IP packets to put in payloads: IPv4 and IPv6 with UDP, TCP (SYN, data) and ICMP echo,
//! with correct checksums (built by `etherparse`).

use std::net::{Ipv4Addr, Ipv6Addr};

use etherparse::PacketBuilder;

/// The hop limit / TTL of built packets (Linux's default).
pub const DEFAULT_TTL: u8 = 64;

macro_rules! finish {
    ($step:expr, $data:expr) => {{
        let data: &[u8] = $data;
        let step = $step;
        let mut out = Vec::with_capacity(step.size(data.len()));
        step.write(&mut out, data)
            .map(|()| out)
            .map_err(|_| crate::Error::Invalid {
                reason: format!("{} bytes of data do not fit in one IP packet", data.len()),
            })
    }};
}

/// An IPv4 UDP datagram.
///
/// # Errors
/// [`Error::Invalid`](crate::Error::Invalid) when `data` does not fit in one packet.
pub fn ipv4_udp(
    src: Ipv4Addr,
    dst: Ipv4Addr,
    sport: u16,
    dport: u16,
    data: &[u8],
) -> Result<Vec<u8>, crate::Error> {
    finish!(
        PacketBuilder::ipv4(src.octets(), dst.octets(), DEFAULT_TTL).udp(sport, dport),
        data
    )
}

/// An IPv6 UDP datagram.
///
/// # Errors
/// [`Error::Invalid`](crate::Error::Invalid) when `data` does not fit in one packet.
pub fn ipv6_udp(
    src: Ipv6Addr,
    dst: Ipv6Addr,
    sport: u16,
    dport: u16,
    data: &[u8],
) -> Result<Vec<u8>, crate::Error> {
    finish!(
        PacketBuilder::ipv6(src.octets(), dst.octets(), DEFAULT_TTL).udp(sport, dport),
        data
    )
}

/// The TCP window size of built segments.
pub const TCP_WINDOW: u16 = 64240;

/// An IPv4 TCP SYN with sequence number `seq`.
///
/// # Errors
/// Never in practice (no data); kept for symmetry.
pub fn ipv4_tcp_syn(
    src: Ipv4Addr,
    dst: Ipv4Addr,
    sport: u16,
    dport: u16,
    seq: u32,
) -> Result<Vec<u8>, crate::Error> {
    finish!(
        PacketBuilder::ipv4(src.octets(), dst.octets(), DEFAULT_TTL)
            .tcp(sport, dport, seq, TCP_WINDOW)
            .syn(),
        &[]
    )
}

/// An IPv6 TCP SYN with sequence number `seq`.
///
/// # Errors
/// Never in practice (no data); kept for symmetry.
pub fn ipv6_tcp_syn(
    src: Ipv6Addr,
    dst: Ipv6Addr,
    sport: u16,
    dport: u16,
    seq: u32,
) -> Result<Vec<u8>, crate::Error> {
    finish!(
        PacketBuilder::ipv6(src.octets(), dst.octets(), DEFAULT_TTL)
            .tcp(sport, dport, seq, TCP_WINDOW)
            .syn(),
        &[]
    )
}

/// An IPv4 TCP data segment (PSH, ACK) carrying `data`.
///
/// # Errors
/// [`Error::Invalid`](crate::Error::Invalid) when `data` does not fit in one packet.
#[allow(clippy::too_many_arguments)]
pub fn ipv4_tcp_data(
    src: Ipv4Addr,
    dst: Ipv4Addr,
    sport: u16,
    dport: u16,
    seq: u32,
    ack: u32,
    data: &[u8],
) -> Result<Vec<u8>, crate::Error> {
    finish!(
        PacketBuilder::ipv4(src.octets(), dst.octets(), DEFAULT_TTL)
            .tcp(sport, dport, seq, TCP_WINDOW)
            .psh()
            .ack(ack),
        data
    )
}

/// An IPv6 TCP data segment (PSH, ACK) carrying `data`.
///
/// # Errors
/// [`Error::Invalid`](crate::Error::Invalid) when `data` does not fit in one packet.
#[allow(clippy::too_many_arguments)]
pub fn ipv6_tcp_data(
    src: Ipv6Addr,
    dst: Ipv6Addr,
    sport: u16,
    dport: u16,
    seq: u32,
    ack: u32,
    data: &[u8],
) -> Result<Vec<u8>, crate::Error> {
    finish!(
        PacketBuilder::ipv6(src.octets(), dst.octets(), DEFAULT_TTL)
            .tcp(sport, dport, seq, TCP_WINDOW)
            .psh()
            .ack(ack),
        data
    )
}

/// An IPv4 ICMP echo request.
///
/// # Errors
/// [`Error::Invalid`](crate::Error::Invalid) when `data` does not fit in one packet.
pub fn ipv4_icmp_echo(
    src: Ipv4Addr,
    dst: Ipv4Addr,
    id: u16,
    seq: u16,
    data: &[u8],
) -> Result<Vec<u8>, crate::Error> {
    finish!(
        PacketBuilder::ipv4(src.octets(), dst.octets(), DEFAULT_TTL).icmpv4_echo_request(id, seq),
        data
    )
}

/// An ICMPv6 echo request.
///
/// # Errors
/// [`Error::Invalid`](crate::Error::Invalid) when `data` does not fit in one packet.
pub fn ipv6_icmp_echo(
    src: Ipv6Addr,
    dst: Ipv6Addr,
    id: u16,
    seq: u16,
    data: &[u8],
) -> Result<Vec<u8>, crate::Error> {
    finish!(
        PacketBuilder::ipv6(src.octets(), dst.octets(), DEFAULT_TTL).icmpv6_echo_request(id, seq),
        data
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::{NetSlice, SlicedPacket, TransportSlice};

    const A4: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
    const B4: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
    const A6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
    const B6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2);

    #[test]
    fn checksums_verify() {
        let udp4 = ipv4_udp(A4, B4, 1000, 2000, b"hello").expect("udp4");
        let s = SlicedPacket::from_ip(&udp4).expect("parse");
        let (Some(NetSlice::Ipv4(ip)), Some(TransportSlice::Udp(udp))) = (&s.net, &s.transport)
        else {
            panic!("not ipv4/udp")
        };
        assert_eq!(
            ip.header().to_header().calc_header_checksum(),
            ip.header().header_checksum()
        );
        let h = udp.to_header();
        assert_eq!(
            h.calc_checksum_ipv4(&ip.header().to_header(), udp.payload())
                .expect("sum"),
            h.checksum
        );

        let udp6 = ipv6_udp(A6, B6, 1000, 2000, b"hello").expect("udp6");
        let s = SlicedPacket::from_ip(&udp6).expect("parse");
        let (Some(NetSlice::Ipv6(ip)), Some(TransportSlice::Udp(udp))) = (&s.net, &s.transport)
        else {
            panic!("not ipv6/udp")
        };
        let h = udp.to_header();
        assert_eq!(
            h.calc_checksum_ipv6(&ip.header().to_header(), udp.payload())
                .expect("sum"),
            h.checksum
        );

        for p in [
            ipv4_tcp_syn(A4, B4, 1, 2, 7).expect("syn4"),
            ipv6_tcp_syn(A6, B6, 1, 2, 7).expect("syn6"),
            ipv4_tcp_data(A4, B4, 1, 2, 7, 9, b"data").expect("data4"),
            ipv6_tcp_data(A6, B6, 1, 2, 7, 9, b"data").expect("data6"),
            ipv4_icmp_echo(A4, B4, 1, 2, b"ping").expect("icmp4"),
            ipv6_icmp_echo(A6, B6, 1, 2, b"ping").expect("icmp6"),
        ] {
            let s = SlicedPacket::from_ip(&p).expect("parse");
            assert!(s.transport.is_some());
        }
    }
}
