//! Multi-namespace topologies: [`TwoHosts`] (client and server on one veth link), [`Routed`]
//! (client – router – server) and [`Bridged`] (left – bridge – right, one subnet), and
//! [`veth`] to join namespaces of one's own.
//!
//! Interfaces are created directly inside the namespaces (`ip link add … netns …` run inside one
//! of them), never in the host's namespace, and vanish with their namespaces. Addresses come
//! from the benchmarking range `198.18.0.0/15` (RFC 2544) and the IPv6 documentation range
//! `2001:db8::/32` (RFC 3849); IPv6 addresses are added `nodad`, and each host has permanent
//! neighbour entries for its peers, so no ARP or neighbour discovery traffic reaches the rules
//! under test.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::{Error, Sandbox};

/// A MAC address.
pub type Mac = [u8; 6];

/// The name of the veth interface in [`TwoHosts`] namespaces and the client/server side of
/// [`Routed`].
pub const IFACE: &str = "veth0";

/// One end of a link: the interface, its MAC and addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Endpoint {
    /// The interface name inside its namespace.
    pub iface: &'static str,
    /// The interface's MAC address.
    pub mac: Mac,
    /// The IPv4 address (prefix length 24).
    pub ipv4: Ipv4Addr,
    /// The IPv6 address (prefix length 64).
    pub ipv6: Ipv6Addr,
}

impl Endpoint {
    /// The address of the given family.
    pub fn addr(&self, family: crate::rules::Family) -> IpAddr {
        match family {
            crate::rules::Family::Ipv4 => IpAddr::V4(self.ipv4),
            crate::rules::Family::Ipv6 => IpAddr::V6(self.ipv6),
        }
    }
}

/// Formats a MAC as `02:00:00:00:00:01`.
pub fn mac_to_string(mac: Mac) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Client and server namespaces joined by one veth pair.
///
/// | | interface | MAC | IPv4 | IPv6 |
/// |---|---|---|---|---|
/// | client | `veth0` | `02:00:00:00:00:01` | `198.18.0.1/24` | `2001:db8::1/64` |
/// | server | `veth0` | `02:00:00:00:00:02` | `198.18.0.2/24` | `2001:db8::2/64` |
#[derive(Debug)]
pub struct TwoHosts {
    /// The client namespace.
    pub client: Sandbox,
    /// The server namespace.
    pub server: Sandbox,
}

impl TwoHosts {
    /// The client's end of the link.
    pub const CLIENT: Endpoint = Endpoint {
        iface: IFACE,
        mac: [0x02, 0, 0, 0, 0, 0x01],
        ipv4: Ipv4Addr::new(198, 18, 0, 1),
        ipv6: Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1),
    };
    /// The server's end of the link.
    pub const SERVER: Endpoint = Endpoint {
        iface: IFACE,
        mac: [0x02, 0, 0, 0, 0, 0x02],
        ipv4: Ipv4Addr::new(198, 18, 0, 2),
        ipv6: Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2),
    };

    /// Creates both namespaces and the link, with addresses, routes and neighbours set.
    ///
    /// # Errors
    ///
    /// As for [`Sandbox::new`], and [`Error::Command`] when `ip` refuses a step.
    pub fn new() -> Result<TwoHosts, Error> {
        let client = Sandbox::new()?;
        let server = Sandbox::new()?;
        link(&client, &Self::CLIENT, &server, &Self::SERVER)?;
        Ok(TwoHosts { client, server })
    }
}

/// Three namespaces, client – router – server, for the FORWARD, PREROUTING and POSTROUTING
/// hooks. The router forwards IPv4 and IPv6; client and server route everything through it.
///
/// | | interface | MAC | IPv4 | IPv6 |
/// |---|---|---|---|---|
/// | client | `veth0` | `02:00:00:00:01:02` | `198.18.1.2/24` | `2001:db8:1::2/64` |
/// | router, client side | `veth0` | `02:00:00:00:01:01` | `198.18.1.1/24` | `2001:db8:1::1/64` |
/// | router, server side | `veth1` | `02:00:00:00:02:01` | `198.18.2.1/24` | `2001:db8:2::1/64` |
/// | server | `veth0` | `02:00:00:00:02:02` | `198.18.2.2/24` | `2001:db8:2::2/64` |
#[derive(Debug)]
pub struct Routed {
    /// The client namespace.
    pub client: Sandbox,
    /// The router namespace.
    pub router: Sandbox,
    /// The server namespace.
    pub server: Sandbox,
}

impl Routed {
    /// The client's interface.
    pub const CLIENT: Endpoint = Endpoint {
        iface: IFACE,
        mac: [0x02, 0, 0, 0, 0x01, 0x02],
        ipv4: Ipv4Addr::new(198, 18, 1, 2),
        ipv6: Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 2),
    };
    /// The router's interface towards the client.
    pub const ROUTER_CLIENT_SIDE: Endpoint = Endpoint {
        iface: "veth0",
        mac: [0x02, 0, 0, 0, 0x01, 0x01],
        ipv4: Ipv4Addr::new(198, 18, 1, 1),
        ipv6: Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 1),
    };
    /// The router's interface towards the server.
    pub const ROUTER_SERVER_SIDE: Endpoint = Endpoint {
        iface: "veth1",
        mac: [0x02, 0, 0, 0, 0x02, 0x01],
        ipv4: Ipv4Addr::new(198, 18, 2, 1),
        ipv6: Ipv6Addr::new(0x2001, 0xdb8, 2, 0, 0, 0, 0, 1),
    };
    /// The server's interface.
    pub const SERVER: Endpoint = Endpoint {
        iface: IFACE,
        mac: [0x02, 0, 0, 0, 0x02, 0x02],
        ipv4: Ipv4Addr::new(198, 18, 2, 2),
        ipv6: Ipv6Addr::new(0x2001, 0xdb8, 2, 0, 0, 0, 0, 2),
    };

    /// Creates the three namespaces, both links, forwarding in the router and default routes in
    /// client and server.
    ///
    /// # Errors
    ///
    /// As for [`Sandbox::new`], and [`Error::Command`] or [`Error::Io`] when a step fails.
    pub fn new() -> Result<Routed, Error> {
        let client = Sandbox::new()?;
        let router = Sandbox::new()?;
        let server = Sandbox::new()?;
        link(&client, &Self::CLIENT, &router, &Self::ROUTER_CLIENT_SIDE)?;
        link(&router, &Self::ROUTER_SERVER_SIDE, &server, &Self::SERVER)?;
        set_sysctl(&router, "net/ipv4/ip_forward", "1")?;
        set_sysctl(&router, "net/ipv6/conf/all/forwarding", "1")?;
        for (host, gateway) in [
            (&client, &Self::ROUTER_CLIENT_SIDE),
            (&server, &Self::ROUTER_SERVER_SIDE),
        ] {
            host.exec(&[
                "ip",
                "-4",
                "route",
                "add",
                "default",
                "via",
                &gateway.ipv4.to_string(),
            ])?;
            host.exec(&[
                "ip",
                "-6",
                "route",
                "add",
                "default",
                "via",
                &gateway.ipv6.to_string(),
            ])?;
        }
        Ok(Routed {
            client,
            router,
            server,
        })
    }
}

/// Three namespaces, left – bridge – right: the bridge namespace has a Linux bridge, `br0`,
/// whose two ports, `veth0` and `veth1`, lead to `left` and `right`, which share one subnet.
/// For `physindev`/`physoutdev` and the bridge path through the iptables hooks.
///
/// Where the kernel has `br_netfilter` ([`Feature::BrNetfilter`](crate::probe::Feature)), it
/// is switched on inside the bridge namespace (`net.bridge.bridge-nf-call-iptables` and
/// `-ip6tables` = 1): bridged packets then traverse the bridge namespace's PREROUTING, FORWARD
/// and POSTROUTING chains, and queued or logged ones carry their bridge ports as physical
/// devices. Tests that need it `require!(Feature::BrNetfilter)`; elsewhere the bridge still
/// forwards, past the iptables hooks.
///
/// | | interface | MAC | IPv4 | IPv6 |
/// |---|---|---|---|---|
/// | left | `veth0` | `02:00:00:00:03:01` | `198.18.3.1/24` | `2001:db8:3::1/64` |
/// | bridge, left port | `veth0` (in `br0`) | `02:00:00:00:03:11` | – | – |
/// | bridge, right port | `veth1` (in `br0`) | `02:00:00:00:03:12` | – | – |
/// | right | `veth0` | `02:00:00:00:03:02` | `198.18.3.2/24` | `2001:db8:3::2/64` |
///
/// ```no_run
/// # fn main() -> Result<(), netfilter_testkit::Error> {
/// use netfilter_testkit::Bridged;
/// use netfilter_testkit::rules::{Hook, Protocol, Rule};
///
/// let net = Bridged::new()?;
/// // Bridged datagrams, seen by the bridge namespace's FORWARD chain (with br_netfilter).
/// let forwarded = Rule::count()
///     .hook(Hook::Forward)
///     .protocol(Protocol::Udp)
///     .install(&net.bridge)?;
/// let to = (Bridged::RIGHT.ipv4, 7000).into();
/// netfilter_testkit::traffic::udp_send(&net.left, to, b"over the bridge")?;
/// assert_eq!(forwarded.counters()?.packets, 1);
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct Bridged {
    /// The left host.
    pub left: Sandbox,
    /// The namespace with the bridge.
    pub bridge: Sandbox,
    /// The right host.
    pub right: Sandbox,
}

impl Bridged {
    /// The bridge's name in the bridge namespace.
    pub const BRIDGE: &'static str = "br0";
    /// The bridge port that leads to the left host.
    pub const LEFT_PORT: &'static str = "veth0";
    /// The bridge port that leads to the right host.
    pub const RIGHT_PORT: &'static str = "veth1";
    /// The left host's interface.
    pub const LEFT: Endpoint = Endpoint {
        iface: IFACE,
        mac: [0x02, 0, 0, 0, 0x03, 0x01],
        ipv4: Ipv4Addr::new(198, 18, 3, 1),
        ipv6: Ipv6Addr::new(0x2001, 0xdb8, 3, 0, 0, 0, 0, 1),
    };
    /// The right host's interface.
    pub const RIGHT: Endpoint = Endpoint {
        iface: IFACE,
        mac: [0x02, 0, 0, 0, 0x03, 0x02],
        ipv4: Ipv4Addr::new(198, 18, 3, 2),
        ipv6: Ipv6Addr::new(0x2001, 0xdb8, 3, 0, 0, 0, 0, 2),
    };
    const LEFT_PORT_MAC: Mac = [0x02, 0, 0, 0, 0x03, 0x11];
    const RIGHT_PORT_MAC: Mac = [0x02, 0, 0, 0, 0x03, 0x12];

    /// Creates the three namespaces, the bridge and its ports, and switches `br_netfilter` on
    /// in the bridge namespace where the kernel has it.
    ///
    /// # Errors
    ///
    /// As for [`Sandbox::new`], and [`Error::Command`] or [`Error::Io`] when a step fails
    /// (the kernel has no bridge support, say).
    pub fn new() -> Result<Bridged, Error> {
        let left = Sandbox::new()?;
        let bridge = Sandbox::new()?;
        let right = Sandbox::new()?;
        veth(
            &left,
            Self::LEFT.iface,
            Self::LEFT.mac,
            &bridge,
            Self::LEFT_PORT,
            Self::LEFT_PORT_MAC,
        )?;
        veth(
            &right,
            Self::RIGHT.iface,
            Self::RIGHT.mac,
            &bridge,
            Self::RIGHT_PORT,
            Self::RIGHT_PORT_MAC,
        )?;
        let batch = format!(
            "link add name {br} type bridge\n\
             link set dev {l} master {br}\n\
             link set dev {r} master {br}\n\
             link set dev {l} up\n\
             link set dev {r} up\n\
             link set dev {br} up\n",
            br = Self::BRIDGE,
            l = Self::LEFT_PORT,
            r = Self::RIGHT_PORT,
        );
        bridge.exec_with_input(&["ip", "-batch", "-"], &batch)?;
        configure(&left, &Self::LEFT, &Self::RIGHT)?;
        configure(&right, &Self::RIGHT, &Self::LEFT)?;
        if crate::probe::supports(crate::probe::Feature::BrNetfilter) {
            for family in ["iptables", "ip6tables"] {
                set_sysctl(&bridge, &format!("net/bridge/bridge-nf-call-{family}"), "1")?;
            }
        }
        Ok(Bridged {
            left,
            bridge,
            right,
        })
    }
}

/// Writes a sysctl under `/proc/sys/` inside `sandbox` (net sysctls are per namespace and
/// resolved by the writing thread).
///
/// # Errors
///
/// [`Error::Io`] naming the file.
pub fn set_sysctl(sandbox: &Sandbox, key: &str, value: &str) -> Result<(), Error> {
    let path = format!("/proc/sys/{}", key.trim_start_matches('/'));
    sandbox
        .try_run(|| std::fs::write(&path, value))?
        .map_err(|e| Error::io(format!("write {path} in {}", sandbox.name()), e))
}

/// Creates a veth pair between two sandboxes: `a_iface` (with MAC `a_mac`) inside `a`, its
/// peer `b_iface` (with MAC `b_mac`) directly inside `b`. The pair is made by `ip link add …
/// netns` run inside `a`, so no interface ever exists in the host's namespace, even for a
/// moment. Both ends are left down and without addresses.
///
/// ```no_run
/// # fn main() -> Result<(), netfilter_testkit::Error> {
/// use netfilter_testkit::Sandbox;
/// use netfilter_testkit::topology::veth;
///
/// let (a, b) = (Sandbox::new()?, Sandbox::new()?);
/// veth(&a, "up0", [0x02, 0, 0, 0, 0x0a, 1], &b, "down0", [0x02, 0, 0, 0, 0x0a, 2])?;
/// a.exec(&["ip", "link", "set", "dev", "up0", "up"])?;
/// b.exec(&["ip", "link", "set", "dev", "down0", "up"])?;
/// # Ok(())
/// # }
/// ```
///
/// # Errors
///
/// [`Error::Command`] when `ip` refuses (a name already taken, say).
pub fn veth(
    a: &Sandbox,
    a_iface: &str,
    a_mac: Mac,
    b: &Sandbox,
    b_iface: &str,
    b_mac: Mac,
) -> Result<(), Error> {
    let mut command = a.command("ip");
    let b_path = b.pass_to(&mut command);
    let a_mac = mac_to_string(a_mac);
    let b_mac = mac_to_string(b_mac);
    let argv = [
        "ip", "link", "add", "name", a_iface, "address", &a_mac, "type", "veth", "peer", "name",
        b_iface, "address", &b_mac, "netns", &b_path,
    ];
    command.args(&argv[1..]);
    crate::sandbox::output_of(command, &argv)?;
    Ok(())
}

/// Joins `a` and `b` with a [`veth`] pair, then sets addresses, brings both ends up and adds
/// permanent neighbours.
fn link(a: &Sandbox, a_end: &Endpoint, b: &Sandbox, b_end: &Endpoint) -> Result<(), Error> {
    veth(a, a_end.iface, a_end.mac, b, b_end.iface, b_end.mac)?;
    configure(a, a_end, b_end)?;
    configure(b, b_end, a_end)
}

fn configure(host: &Sandbox, end: &Endpoint, peer: &Endpoint) -> Result<(), Error> {
    let batch = format!(
        "addr add {v4}/24 dev {dev}\n\
         addr add {v6}/64 dev {dev} nodad\n\
         link set dev {dev} up\n\
         neigh replace {pv4} lladdr {pmac} dev {dev} nud permanent\n\
         neigh replace {pv6} lladdr {pmac} dev {dev} nud permanent\n",
        v4 = end.ipv4,
        v6 = end.ipv6,
        dev = end.iface,
        pv4 = peer.ipv4,
        pv6 = peer.ipv6,
        pmac = mac_to_string(peer.mac),
    );
    host.exec_with_input(&["ip", "-batch", "-"], &batch)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macs_format_with_colons() {
        assert_eq!(mac_to_string(TwoHosts::CLIENT.mac), "02:00:00:00:00:01");
        assert_eq!(
            mac_to_string(Routed::ROUTER_SERVER_SIDE.mac),
            "02:00:00:00:02:01"
        );
    }
}
