//! The host's interface addresses: the LAN endpoint announced to a P2P peer, the IPv6 address of
//! wire.md 7.6, and the ICE host candidates of a tgcalls call.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// One address the OS lists, with whether its interface is up.
struct IfAddr {
    ip: IpAddr,
    up: bool,
}

/// Every IPv4 and IPv6 address of the host's interfaces, in the order the OS lists them.
fn all_addrs() -> Vec<IfAddr> {
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs writes a list head we free below with freeifaddrs.
    if unsafe { libc::getifaddrs(&mut head) } != 0 {
        return Vec::new();
    }
    let mut found = Vec::new();
    let mut cur = head;
    while !cur.is_null() {
        // SAFETY: `cur` is a node of the list returned by getifaddrs, valid until freeifaddrs.
        let ifa = unsafe { &*cur };
        if !ifa.ifa_addr.is_null() {
            // SAFETY: ifa_addr is non-null and points to a sockaddr of the family it names.
            let family = i32::from(unsafe { (*ifa.ifa_addr).sa_family });
            let ip = if family == libc::AF_INET {
                // SAFETY: AF_INET addresses are sockaddr_in.
                let sin = unsafe { &*(ifa.ifa_addr as *const libc::sockaddr_in) };
                Some(IpAddr::from(Ipv4Addr::from(u32::from_be(
                    sin.sin_addr.s_addr,
                ))))
            } else if family == libc::AF_INET6 {
                // SAFETY: AF_INET6 addresses are sockaddr_in6.
                let sin6 = unsafe { &*(ifa.ifa_addr as *const libc::sockaddr_in6) };
                Some(IpAddr::from(Ipv6Addr::from(sin6.sin6_addr.s6_addr)))
            } else {
                None
            };
            if let Some(ip) = ip {
                let up = ifa.ifa_flags & (libc::IFF_UP as u32) != 0;
                found.push(IfAddr { ip, up });
            }
        }
        cur = ifa.ifa_next;
    }
    // SAFETY: `head` came from getifaddrs and is freed once.
    unsafe { libc::freeifaddrs(head) };
    found
}

/// The IPv4 address 2.4.4 announces as its LAN address: the last non-loopback, non-link-local
/// IPv4 address the OS lists, if any.
pub fn lan_ipv4() -> Option<Ipv4Addr> {
    all_addrs().into_iter().rev().find_map(|a| match a.ip {
        IpAddr::V4(v4) if !v4.is_loopback() && !v4.is_link_local() && !v4.is_unspecified() => {
            Some(v4)
        }
        _ => None,
    })
}

/// The host's first IPv6 address that 2.4.4 would use (not loopback; first octet's high nibble
/// not `F`, so no link-local, ULA or multicast), if any.
pub fn global_ipv6() -> Option<Ipv6Addr> {
    all_addrs().into_iter().find_map(|a| match a.ip {
        IpAddr::V6(v6) if !v6.is_loopback() && crate::session::is_usable_ipv6(&v6) => Some(v6),
        _ => None,
    })
}

/// Every up, non-loopback, non-link-local address of the host's interfaces (IPv4 and IPv6), for
/// the ICE host candidates of a tgcalls call.
pub fn interface_addrs() -> Vec<IpAddr> {
    let mut found: Vec<IpAddr> = Vec::new();
    for a in all_addrs() {
        let link_local = match a.ip {
            IpAddr::V4(v4) => v4.is_link_local(),
            IpAddr::V6(v6) => (v6.segments()[0] & 0xffc0) == 0xfe80,
        };
        if a.up
            && !a.ip.is_loopback()
            && !a.ip.is_unspecified()
            && !link_local
            && !found.contains(&a.ip)
        {
            found.push(a.ip);
        }
    }
    found
}
