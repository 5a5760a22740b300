//! A small synchronous rtnetlink client: the links, addresses and routes the
//! bridge helper needs, as hand-built messages on a NETLINK_ROUTE socket
//! (no `ip` subprocess, no async runtime, no unsafe: nix wraps the socket).
//!
//! A netlink socket belongs to the network namespace of the thread that
//! created it, so [`Netlink::open_in`] enters the container's namespace only
//! for the `socket(2)` call and comes straight back; every request on that
//! socket then acts inside the container.

use anyhow::{bail, Context, Result};
use nix::sched::{setns, CloneFlags};
use nix::sys::socket::{
    bind, recv, sendto, socket, AddressFamily, MsgFlags, NetlinkAddr, SockFlag, SockProtocol,
    SockType,
};
use std::fs::File;
use std::net::Ipv4Addr;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

// From linux/netlink.h and linux/rtnetlink.h (typed once here, rather than
// cast from libc's mix of c_int and u16 at every use).
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_MULTI: u16 = 0x2;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_DUMP: u16 = 0x300;
const NLM_F_EXCL: u16 = 0x200;
const NLM_F_CREATE: u16 = 0x400;
const RTM_NEWLINK: u16 = 16;
const RTM_DELLINK: u16 = 17;
const RTM_GETLINK: u16 = 18;
const RTM_NEWADDR: u16 = 20;
const RTM_GETADDR: u16 = 22;
const RTM_NEWROUTE: u16 = 24;
const RTM_GETROUTE: u16 = 26;
const IFLA_ADDRESS: u16 = 1;
const IFLA_IFNAME: u16 = 3;
const IFLA_MASTER: u16 = 10;
const IFLA_LINKINFO: u16 = 18;
const IFLA_NET_NS_FD: u16 = 28;
const IFLA_INFO_KIND: u16 = 1;
const IFLA_INFO_DATA: u16 = 2;
const VETH_INFO_PEER: u16 = 1;
const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const IFA_BROADCAST: u16 = 4;
const RTA_DST: u16 = 1;
const RTA_OIF: u16 = 4;
const RTA_GATEWAY: u16 = 5;
const RTA_TABLE: u16 = 15;
const RT_TABLE_MAIN: u8 = 254;
const RT_TABLE_LOCAL: u8 = 255;
const RTPROT_BOOT: u8 = 3;
const RTN_UNICAST: u8 = 1;
const IFF_UP: u32 = 0x1;
const AF_INET: u8 = libc::AF_INET as u8;

/// What the kernel says about one link.
#[derive(Debug, Clone)]
pub struct Link {
    pub index: u32,
    pub name: String,
    /// `IFLA_INFO_KIND`: "bridge", "veth", ... (None for physical devices).
    pub kind: Option<String>,
}

/// One IPv4 route of the main (or another non-local) table.
#[derive(Debug, Clone)]
pub struct Route {
    pub dst: Ipv4Addr,
    pub prefix: u8,
    pub oif: Option<u32>,
}

/// One IPv4 address of a link.
#[derive(Debug, Clone)]
pub struct Addr {
    pub index: u32,
    pub ip: Ipv4Addr,
    pub prefix: u8,
}

/// A NETLINK_ROUTE socket bound to one network namespace.
pub struct Netlink {
    fd: OwnedFd,
    seq: u32,
}

impl Netlink {
    /// A socket in the caller's network namespace.
    pub fn open() -> Result<Netlink> {
        let fd = socket(
            AddressFamily::Netlink,
            SockType::Raw,
            SockFlag::SOCK_CLOEXEC,
            SockProtocol::NetlinkRoute,
        )
        .context("create a NETLINK_ROUTE socket")?;
        bind(fd.as_raw_fd(), &NetlinkAddr::new(0, 0)).context("bind the netlink socket")?;
        Ok(Netlink { fd, seq: 1 })
    }

    /// A socket in the network namespace `netns` (an open nsfs file).
    pub fn open_in(netns: &File) -> Result<Netlink> {
        let home =
            File::open("/proc/thread-self/ns/net").context("open /proc/thread-self/ns/net")?;
        setns(netns.as_fd(), CloneFlags::CLONE_NEWNET)
            .context("enter the container's network namespace")?;
        let sock = Netlink::open();
        // Go back before anything else: the rest of husk (nft, files) must
        // act on the host.
        setns(home.as_fd(), CloneFlags::CLONE_NEWNET)
            .context("return to the host network namespace")?;
        sock
    }

    fn send(&mut self, kind: u16, flags: u16, body: &[u8]) -> Result<u32> {
        self.seq = self.seq.wrapping_add(1);
        let len = 16 + body.len();
        let mut m = Vec::with_capacity(len);
        m.extend_from_slice(&(len as u32).to_ne_bytes());
        m.extend_from_slice(&kind.to_ne_bytes());
        m.extend_from_slice(&(flags | NLM_F_REQUEST).to_ne_bytes());
        m.extend_from_slice(&self.seq.to_ne_bytes());
        m.extend_from_slice(&0u32.to_ne_bytes());
        m.extend_from_slice(body);
        sendto(
            self.fd.as_raw_fd(),
            &m,
            &NetlinkAddr::new(0, 0),
            MsgFlags::empty(),
        )
        .context("send a netlink request")?;
        Ok(self.seq)
    }

    /// Reads replies to request `seq` and hands each message (type, body)
    /// to `f` until the kernel's ack (or NLMSG_DONE for a dump).
    fn replies(&mut self, seq: u32, mut f: impl FnMut(u16, &[u8])) -> Result<()> {
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = recv(self.fd.as_raw_fd(), &mut buf, MsgFlags::empty())
                .context("receive a netlink reply")?;
            let mut b = &buf[..n];
            while b.len() >= 16 {
                let len = u32::from_ne_bytes(b[0..4].try_into().unwrap()) as usize;
                let kind = u16::from_ne_bytes(b[4..6].try_into().unwrap());
                let flags = u16::from_ne_bytes(b[6..8].try_into().unwrap());
                let mseq = u32::from_ne_bytes(b[8..12].try_into().unwrap());
                if len < 16 || len > b.len() {
                    bail!("malformed netlink message");
                }
                let body = &b[16..len];
                b = &b[align(len).min(b.len())..];
                if mseq != seq {
                    continue;
                }
                match kind {
                    NLMSG_ERROR => {
                        let err = body
                            .get(0..4)
                            .map(|e| i32::from_ne_bytes(e.try_into().unwrap()))
                            .unwrap_or(-libc::EPROTO);
                        if err == 0 {
                            return Ok(());
                        }
                        return Err(std::io::Error::from_raw_os_error(-err).into());
                    }
                    NLMSG_DONE => return Ok(()),
                    _ => {
                        f(kind, body);
                        if flags & NLM_F_MULTI == 0 {
                            // A single reply (a GET by name) is followed by
                            // no ack unless one was asked for.
                            return Ok(());
                        }
                    }
                }
            }
        }
    }

    /// A request that changes something: waits for the kernel's ack.
    fn request(&mut self, kind: u16, flags: u16, body: &[u8]) -> Result<()> {
        let seq = self.send(kind, flags | NLM_F_ACK, body)?;
        self.replies(seq, |_, _| {})
    }

    fn dump(&mut self, kind: u16, body: &[u8]) -> Result<Vec<Vec<u8>>> {
        let seq = self.send(kind, NLM_F_DUMP, body)?;
        let mut out = Vec::new();
        self.replies(seq, |_, b| out.push(b.to_vec()))?;
        Ok(out)
    }

    /// The link called `name`, if it exists.
    pub fn link(&mut self, name: &str) -> Result<Option<Link>> {
        let mut m = ifinfomsg(0, 0, 0);
        attr_str(&mut m, IFLA_IFNAME, name);
        let seq = self.send(RTM_GETLINK, 0, &m)?;
        let mut found = None;
        match self.replies(seq, |_, b| found = parse_link(b)) {
            Ok(()) => Ok(found),
            Err(e) if is_errno(&e, libc::ENODEV) => Ok(None),
            Err(e) => Err(e).with_context(|| format!("look up link {name}")),
        }
    }

    /// Every link of the namespace.
    pub fn links(&mut self) -> Result<Vec<Link>> {
        let msgs = self
            .dump(RTM_GETLINK, &ifinfomsg(0, 0, 0))
            .context("list links")?;
        Ok(msgs.iter().filter_map(|b| parse_link(b)).collect())
    }

    /// Creates bridge `name` with MAC address `mac` (a fixed address: a
    /// bridge otherwise takes the lowest MAC of its ports, and changes it
    /// as containers come and go, which upsets the containers' ARP caches).
    pub fn create_bridge(&mut self, name: &str, mac: [u8; 6]) -> Result<()> {
        let mut m = ifinfomsg(0, 0, 0);
        attr_str(&mut m, IFLA_IFNAME, name);
        attr(&mut m, IFLA_ADDRESS, &mac);
        nest(&mut m, IFLA_LINKINFO, |m| {
            attr_str(m, IFLA_INFO_KIND, "bridge")
        });
        self.request(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, &m)
            .with_context(|| format!("create bridge {name}"))
    }

    /// Creates a veth pair: `host` here, enslaved to bridge `master`, and
    /// its peer `peer` directly in the namespace `peer_ns`, so the
    /// container end never appears on the host under a temporary name.
    pub fn create_veth(
        &mut self,
        host: &str,
        master: u32,
        peer: &str,
        peer_ns: &File,
    ) -> Result<()> {
        let mut m = ifinfomsg(0, 0, 0);
        attr_str(&mut m, IFLA_IFNAME, host);
        attr(&mut m, IFLA_MASTER, &master.to_ne_bytes());
        nest(&mut m, IFLA_LINKINFO, |m| {
            attr_str(m, IFLA_INFO_KIND, "veth");
            nest(m, IFLA_INFO_DATA, |m| {
                nest(m, VETH_INFO_PEER, |m| {
                    m.extend_from_slice(&ifinfomsg(0, 0, 0));
                    attr_str(m, IFLA_IFNAME, peer);
                    attr(m, IFLA_NET_NS_FD, &peer_ns.as_raw_fd().to_ne_bytes());
                })
            })
        });
        self.request(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, &m)
            .with_context(|| format!("create veth pair {host} / {peer} (container end)"))
    }

    /// Sets link `index` up.
    pub fn set_up(&mut self, index: u32) -> Result<()> {
        let m = ifinfomsg(index, IFF_UP, IFF_UP);
        self.request(RTM_NEWLINK, 0, &m)
    }

    /// Deletes link `name`; Ok(false) if there was none.
    pub fn delete_link(&mut self, name: &str) -> Result<bool> {
        let mut m = ifinfomsg(0, 0, 0);
        attr_str(&mut m, IFLA_IFNAME, name);
        match self.request(RTM_DELLINK, 0, &m) {
            Ok(()) => Ok(true),
            Err(e) if is_errno(&e, libc::ENODEV) => Ok(false),
            Err(e) => Err(e).with_context(|| format!("delete link {name}")),
        }
    }

    /// Adds `ip/prefix` to link `index`.
    pub fn add_addr(&mut self, index: u32, ip: Ipv4Addr, prefix: u8, brd: Ipv4Addr) -> Result<()> {
        let mut m = vec![AF_INET, prefix, 0, 0];
        m.extend_from_slice(&index.to_ne_bytes());
        attr(&mut m, IFA_LOCAL, &ip.octets());
        attr(&mut m, IFA_ADDRESS, &ip.octets());
        attr(&mut m, IFA_BROADCAST, &brd.octets());
        self.request(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, &m)
    }

    /// The IPv4 addresses of every link.
    pub fn addrs(&mut self) -> Result<Vec<Addr>> {
        let msgs = self
            .dump(RTM_GETADDR, &[AF_INET, 0, 0, 0, 0, 0, 0, 0])
            .context("list addresses")?;
        let mut out = Vec::new();
        for b in msgs {
            if b.len() < 8 || b[0] != AF_INET {
                continue;
            }
            let index = u32::from_ne_bytes(b[4..8].try_into().unwrap());
            let ip = attrs(&b[8..])
                .find(|(t, _)| *t == IFA_LOCAL)
                .or_else(|| attrs(&b[8..]).find(|(t, _)| *t == IFA_ADDRESS))
                .and_then(|(_, v)| ipv4(v));
            if let Some(ip) = ip {
                out.push(Addr {
                    index,
                    ip,
                    prefix: b[1],
                });
            }
        }
        Ok(out)
    }

    /// Adds the default route via `gw` on link `oif`.
    pub fn add_default_route(&mut self, gw: Ipv4Addr, oif: u32) -> Result<()> {
        // rtmsg: family, dst_len, src_len, tos, table, protocol, scope, type, flags
        let mut m = vec![AF_INET, 0, 0, 0, RT_TABLE_MAIN, RTPROT_BOOT, 0, RTN_UNICAST];
        m.extend_from_slice(&0u32.to_ne_bytes());
        attr(&mut m, RTA_GATEWAY, &gw.octets());
        attr(&mut m, RTA_OIF, &oif.to_ne_bytes());
        self.request(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, &m)
    }

    /// IPv4 unicast routes of every table but `local` (whose entries are
    /// this host's own addresses, checked separately).
    pub fn routes(&mut self) -> Result<Vec<Route>> {
        let mut q = vec![AF_INET, 0, 0, 0, 0, 0, 0, 0];
        q.extend_from_slice(&0u32.to_ne_bytes());
        let msgs = self.dump(RTM_GETROUTE, &q).context("list routes")?;
        let mut out = Vec::new();
        for b in msgs {
            if b.len() < 12 || b[0] != AF_INET || b[7] != RTN_UNICAST {
                continue;
            }
            let mut table = u32::from(b[4]);
            let mut dst = Ipv4Addr::UNSPECIFIED;
            let mut oif = None;
            for (t, v) in attrs(&b[12..]) {
                match t {
                    RTA_TABLE if v.len() == 4 => table = u32::from_ne_bytes(v.try_into().unwrap()),
                    RTA_DST => dst = ipv4(v).unwrap_or(dst),
                    RTA_OIF if v.len() == 4 => {
                        oif = Some(u32::from_ne_bytes(v.try_into().unwrap()))
                    }
                    _ => {}
                }
            }
            if table != u32::from(RT_TABLE_LOCAL) {
                out.push(Route {
                    dst,
                    prefix: b[1],
                    oif,
                });
            }
        }
        Ok(out)
    }
}

/// Whether `e` is (or wraps) the OS error `errno`.
pub fn is_errno(e: &anyhow::Error, errno: i32) -> bool {
    e.chain()
        .filter_map(|c| c.downcast_ref::<std::io::Error>())
        .any(|io| io.raw_os_error() == Some(errno))
}

fn align(n: usize) -> usize {
    (n + 3) & !3
}

/// struct ifinfomsg: family, pad, type, index, flags, change.
fn ifinfomsg(index: u32, flags: u32, change: u32) -> Vec<u8> {
    let mut m = vec![0u8; 4];
    m.extend_from_slice(&index.to_ne_bytes());
    m.extend_from_slice(&flags.to_ne_bytes());
    m.extend_from_slice(&change.to_ne_bytes());
    m
}

fn attr(m: &mut Vec<u8>, kind: u16, val: &[u8]) {
    let len = 4 + val.len();
    m.extend_from_slice(&(len as u16).to_ne_bytes());
    m.extend_from_slice(&kind.to_ne_bytes());
    m.extend_from_slice(val);
    m.resize(align(m.len()), 0);
}

fn attr_str(m: &mut Vec<u8>, kind: u16, s: &str) {
    let mut v = s.as_bytes().to_vec();
    v.push(0);
    attr(m, kind, &v);
}

/// A nested attribute whose payload `f` appends; its length is patched in
/// afterwards.
fn nest(m: &mut Vec<u8>, kind: u16, f: impl FnOnce(&mut Vec<u8>)) {
    let start = m.len();
    m.extend_from_slice(&[0, 0]);
    m.extend_from_slice(&kind.to_ne_bytes());
    f(m);
    let len = (m.len() - start) as u16;
    m[start..start + 2].copy_from_slice(&len.to_ne_bytes());
    m.resize(align(m.len()), 0);
}

/// The (type, payload) pairs of a run of rtattrs.
fn attrs(mut b: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    std::iter::from_fn(move || {
        if b.len() < 4 {
            return None;
        }
        let len = u16::from_ne_bytes([b[0], b[1]]) as usize;
        let kind = u16::from_ne_bytes([b[2], b[3]]) & 0x3fff;
        if len < 4 || len > b.len() {
            return None;
        }
        let val = &b[4..len];
        b = &b[align(len).min(b.len())..];
        Some((kind, val))
    })
}

fn ipv4(v: &[u8]) -> Option<Ipv4Addr> {
    let o: [u8; 4] = v.try_into().ok()?;
    Some(Ipv4Addr::from(o))
}

fn cstr(v: &[u8]) -> String {
    let end = v.iter().position(|&c| c == 0).unwrap_or(v.len());
    String::from_utf8_lossy(&v[..end]).into_owned()
}

fn parse_link(b: &[u8]) -> Option<Link> {
    if b.len() < 16 {
        return None;
    }
    let index = u32::from_ne_bytes(b[4..8].try_into().ok()?);
    let mut link = Link {
        index,
        name: String::new(),
        kind: None,
    };
    for (t, v) in attrs(&b[16..]) {
        match t {
            IFLA_IFNAME => link.name = cstr(v),
            IFLA_LINKINFO => {
                link.kind = attrs(v)
                    .find(|(t, _)| *t == IFLA_INFO_KIND)
                    .map(|(_, k)| cstr(k));
            }
            _ => {}
        }
    }
    Some(link)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_round_trip() {
        let mut m = Vec::new();
        attr_str(&mut m, IFLA_IFNAME, "br0");
        nest(&mut m, IFLA_LINKINFO, |m| {
            attr_str(m, IFLA_INFO_KIND, "veth")
        });
        let got: Vec<(u16, Vec<u8>)> = attrs(&m).map(|(t, v)| (t, v.to_vec())).collect();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0], (IFLA_IFNAME, b"br0\0".to_vec()));
        assert_eq!(got[1].0, IFLA_LINKINFO);
        let inner: Vec<_> = attrs(&got[1].1).collect();
        assert_eq!(inner, vec![(IFLA_INFO_KIND, &b"veth\0"[..])]);
        assert_eq!(m.len() % 4, 0);
    }

    #[test]
    fn attribute_bytes_are_padded_and_length_prefixed() {
        let mut m = Vec::new();
        attr(&mut m, IFLA_MASTER, &7u32.to_ne_bytes());
        assert_eq!(m.len(), 8);
        assert_eq!(u16::from_ne_bytes([m[0], m[1]]), 8);
        assert_eq!(u16::from_ne_bytes([m[2], m[3]]), IFLA_MASTER);
        // "eth0\0" is 5 bytes: length 9, padded to 12.
        let mut m = Vec::new();
        attr_str(&mut m, IFLA_IFNAME, "eth0");
        assert_eq!(m.len(), 12);
        assert_eq!(u16::from_ne_bytes([m[0], m[1]]), 9);
        assert_eq!(&m[4..9], b"eth0\0");
        assert_eq!(&m[9..], [0, 0, 0]);
        assert_eq!(
            (0..9).map(align).collect::<Vec<_>>(),
            [0, 4, 4, 4, 4, 8, 8, 8, 8]
        );
    }

    #[test]
    fn nested_length_covers_the_payload() {
        let mut m = vec![0xaa]; // something before: the nest starts at 1
        m.resize(4, 0);
        nest(&mut m, IFLA_LINKINFO, |m| {
            attr_str(m, IFLA_INFO_KIND, "veth");
            nest(m, IFLA_INFO_DATA, |m| {
                nest(m, VETH_INFO_PEER, |m| attr_str(m, IFLA_IFNAME, "p"))
            });
        });
        let len = u16::from_ne_bytes([m[4], m[5]]) as usize;
        assert_eq!(len, m.len() - 4);
        let (t, v) = attrs(&m[4..]).next().unwrap();
        assert_eq!(t, IFLA_LINKINFO);
        let kinds: Vec<u16> = attrs(v).map(|(t, _)| t).collect();
        assert_eq!(kinds, [IFLA_INFO_KIND, IFLA_INFO_DATA]);
    }

    #[test]
    fn attrs_stops_at_truncated_or_bogus_lengths_and_masks_flags() {
        // Length larger than the buffer.
        assert_eq!(attrs(&[20, 0, 1, 0, 1, 2]).count(), 0);
        // Length below the header size.
        assert_eq!(attrs(&[2, 0, 1, 0]).count(), 0);
        assert_eq!(attrs(&[1, 2]).count(), 0);
        // NLA_F_NESTED (0x8000) is not part of the type.
        let b = [4u16.to_ne_bytes(), (0x8000 | IFLA_LINKINFO).to_ne_bytes()].concat();
        assert_eq!(attrs(&b).next().unwrap().0, IFLA_LINKINFO);
        // An unpadded last attribute is still read.
        let mut b = Vec::new();
        b.extend_from_slice(&5u16.to_ne_bytes());
        b.extend_from_slice(&IFLA_IFNAME.to_ne_bytes());
        b.push(b'x');
        assert_eq!(attrs(&b).collect::<Vec<_>>(), [(IFLA_IFNAME, &b"x"[..])]);
    }

    #[test]
    fn ifinfomsg_and_link_parsing() {
        let mut m = ifinfomsg(42, IFF_UP, IFF_UP);
        assert_eq!(m.len(), 16);
        attr_str(&mut m, IFLA_IFNAME, "husk0");
        nest(&mut m, IFLA_LINKINFO, |m| {
            attr_str(m, IFLA_INFO_KIND, "bridge")
        });
        let l = parse_link(&m).unwrap();
        assert_eq!(
            (l.index, l.name.as_str(), l.kind.as_deref()),
            (42, "husk0", Some("bridge"))
        );
        assert!(parse_link(&m[..15]).is_none());
        assert_eq!(ipv4(&[10, 88, 0, 1]), Some(Ipv4Addr::new(10, 88, 0, 1)));
        assert_eq!(ipv4(&[10, 88, 0]), None);
        assert_eq!(cstr(b"abc\0def"), "abc");
        assert_eq!(cstr(b"nul-less"), "nul-less");
    }

    #[test]
    fn dumps_of_the_hosts_links_routes_and_addresses() {
        // Reading needs no privilege: the loopback device is always there.
        let mut nl = Netlink::open().unwrap();
        let lo = nl.link("lo").unwrap().expect("lo");
        assert_eq!(lo.index, 1);
        assert!(nl.links().unwrap().iter().any(|l| l.name == "lo"));
        assert!(nl.link("no-such-link0").unwrap().is_none());
        let addrs = nl.addrs().unwrap();
        assert!(
            addrs
                .iter()
                .any(|a| a.index == 1 && a.ip == Ipv4Addr::LOCALHOST && a.prefix == 8),
            "{addrs:?}"
        );
        nl.routes().unwrap();
    }

    #[test]
    fn is_errno_looks_through_the_context_chain() {
        let e = anyhow::Error::from(std::io::Error::from_raw_os_error(libc::EEXIST))
            .context("add link");
        assert!(is_errno(&e, libc::EEXIST));
        assert!(!is_errno(&e, libc::ENOENT));
    }
}
