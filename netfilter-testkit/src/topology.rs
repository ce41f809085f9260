//! Multi-namespace topologies: [`TwoHosts`] (client and server on one veth link) and [`Routed`]
//! (client – router – server).
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

/// Joins `a` and `b` with a veth pair created inside `a` whose peer is created directly in `b`,
/// then sets addresses, brings both ends up and adds permanent neighbours.
fn link(a: &Sandbox, a_end: &Endpoint, b: &Sandbox, b_end: &Endpoint) -> Result<(), Error> {
    let mut command = a.command("ip");
    let b_path = b.pass_to(&mut command);
    let a_mac = mac_to_string(a_end.mac);
    let b_mac = mac_to_string(b_end.mac);
    let argv = [
        "ip",
        "link",
        "add",
        "name",
        a_end.iface,
        "address",
        &a_mac,
        "type",
        "veth",
        "peer",
        "name",
        b_end.iface,
        "address",
        &b_mac,
        "netns",
        &b_path,
    ];
    command.args(&argv[1..]);
    crate::sandbox::output_of(command, &argv)?;
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
