//! Address management: subnets, and the per-bridge allocation store
//! `/run/husk-network/<bridge>.json`.
//!
//! Every change happens under one exclusive flock(2) on the directory
//! itself, held for the whole attach or detach: two husk processes never
//! hand out one address, and the nft table (shared by all bridges) is never
//! changed by two at once. The lock is on the directory rather than on the
//! store file because the store is replaced by rename(2) (a crash mid-write
//! leaves the old or the new file, never a torn one), and a lock on a
//! replaced inode would no longer exclude anyone. /run is a tmpfs, so the
//! store goes away with the bridges on reboot.

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

/// Where the stores live.
pub const STATE_DIR: &str = "/run/husk-network";

/// An IPv4 network `addr/prefix`, prefix 8..=30.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subnet {
    pub addr: Ipv4Addr,
    pub prefix: u8,
}

impl Subnet {
    pub fn parse(s: &str) -> Result<Subnet> {
        let (a, p) = s
            .split_once('/')
            .with_context(|| format!("subnet {s:?}: expected ADDRESS/PREFIX, e.g. 10.88.0.0/16"))?;
        let addr: Ipv4Addr = a
            .parse()
            .with_context(|| format!("subnet {s:?}: bad IPv4 address {a:?}"))?;
        let prefix: u8 = p
            .parse()
            .with_context(|| format!("subnet {s:?}: bad prefix length {p:?}"))?;
        if !(8..=30).contains(&prefix) {
            bail!(
                "subnet {s:?}: prefix length must be 8 to 30 (room for a gateway and a container)"
            );
        }
        let net = Subnet { addr, prefix };
        if net.network() != addr {
            bail!(
                "subnet {s:?}: {addr} is not the network address of a /{prefix} (did you mean {}/{prefix}?)",
                net.network()
            );
        }
        Ok(net)
    }

    pub fn mask(&self) -> u32 {
        u32::MAX << (32 - u32::from(self.prefix))
    }

    pub fn network(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.addr) & self.mask())
    }

    pub fn broadcast(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.network()) | !self.mask())
    }

    /// The first address, given to the bridge.
    pub fn gateway(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.network()) + 1)
    }

    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & self.mask() == u32::from(self.network())
    }

    /// Whether the two networks share an address.
    pub fn overlaps(&self, other: &Subnet) -> bool {
        let m = self.mask() & other.mask();
        u32::from(self.addr) & m == u32::from(other.addr) & m
    }

    /// Whether `ip` may be given to a container: in the subnet, and neither
    /// the network, broadcast nor gateway address.
    pub fn is_host(&self, ip: Ipv4Addr) -> bool {
        self.contains(ip) && ip != self.network() && ip != self.broadcast() && ip != self.gateway()
    }
}

impl std::fmt::Display for Subnet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// One container attached to a bridge.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Alloc {
    pub ip: Ipv4Addr,
    /// Host end of the veth pair.
    pub veth: String,
    /// The comment on this container's nft rules.
    pub tag: String,
    #[serde(default)]
    pub masquerade: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub publish: Vec<String>,
}

/// The allocation store of one bridge.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Store {
    pub bridge: String,
    pub subnet: String,
    pub gateway: Ipv4Addr,
    /// Whether husk created the bridge (and so deletes it with the last
    /// container); false for a bridge that was there before.
    pub created_bridge: bool,
    /// Whether the bridge-wide rules for published ports are in place
    /// (localhost masquerade, the 127.0.0.0/8 guard) and route_localnet set.
    #[serde(default)]
    pub localnet: bool,
    /// Whether husk turned net.ipv4.ip_forward on (it never turns it off).
    #[serde(default)]
    pub enabled_ip_forward: bool,
    /// The last address handed out: the next search starts after it, so a
    /// released address is not reused at once (stale ARP entries elsewhere).
    #[serde(default)]
    pub last: Option<Ipv4Addr>,
    #[serde(default)]
    pub containers: BTreeMap<String, Alloc>,
}

impl Store {
    pub fn new(bridge: &str, subnet: Subnet, created_bridge: bool) -> Store {
        Store {
            bridge: bridge.to_string(),
            subnet: subnet.to_string(),
            gateway: subnet.gateway(),
            created_bridge,
            localnet: false,
            enabled_ip_forward: false,
            last: None,
            containers: BTreeMap::new(),
        }
    }

    pub fn subnet(&self) -> Result<Subnet> {
        Subnet::parse(&self.subnet).with_context(|| format!("store of bridge {}", self.bridge))
    }

    /// Picks a free address: `want` if given (and free), else the next free
    /// one after the last handed out, wrapping around.
    pub fn allocate(&mut self, want: Option<Ipv4Addr>) -> Result<Ipv4Addr> {
        let net = self.subnet()?;
        let taken = |ip: Ipv4Addr| self.containers.values().any(|a| a.ip == ip);
        if let Some(ip) = want {
            if !net.is_host(ip) {
                bail!(
                    "address {ip} is not a usable host address of {net} (the gateway is {})",
                    net.gateway()
                );
            }
            if let Some((id, _)) = self.containers.iter().find(|(_, a)| a.ip == ip) {
                bail!(
                    "address {ip} is already taken by container {id} on bridge {}",
                    self.bridge
                );
            }
            self.last = Some(ip);
            return Ok(ip);
        }
        let first = u32::from(net.gateway()) + 1;
        let end = u32::from(net.broadcast()); // exclusive
        let count = end - first;
        let start = match self.last {
            Some(l) if net.contains(l) && u32::from(l) >= first && u32::from(l) < end => {
                u32::from(l) + 1 - first
            }
            _ => 0,
        };
        for i in 0..count {
            let ip = Ipv4Addr::from(first + (start + i) % count);
            if !taken(ip) {
                self.last = Some(ip);
                return Ok(ip);
            }
        }
        bail!(
            "subnet {net} of bridge {} is exhausted: all {count} container addresses are taken",
            self.bridge
        )
    }
}

/// The exclusive lock on the state directory, released on drop.
pub struct Lock {
    _fd: OwnedFd,
    pub dir: PathBuf,
}

impl Lock {
    pub fn acquire(dir: &Path) -> Result<Lock> {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
        let fd: OwnedFd = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
            .open(dir)
            .with_context(|| format!("open {}", dir.display()))?
            .into();
        #[allow(deprecated)]
        nix::fcntl::flock(fd.as_raw_fd(), nix::fcntl::FlockArg::LockExclusive)
            .with_context(|| format!("lock {}", dir.display()))?;
        Ok(Lock {
            _fd: fd,
            dir: dir.to_path_buf(),
        })
    }

    pub fn path(&self, bridge: &str) -> PathBuf {
        self.dir.join(format!("{bridge}.json"))
    }

    /// The store of `bridge`, if there is one.
    pub fn load(&self, bridge: &str) -> Result<Option<Store>> {
        let p = self.path(bridge);
        match std::fs::read(&p) {
            Ok(data) => serde_json::from_slice(&data)
                .map(Some)
                .with_context(|| format!("parse {}", p.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("read {}", p.display())),
        }
    }

    /// Every store, by bridge name.
    pub fn load_all(&self) -> Result<Vec<Store>> {
        let mut names = Vec::new();
        let rd =
            std::fs::read_dir(&self.dir).with_context(|| format!("read {}", self.dir.display()))?;
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if let Some(b) = name.strip_suffix(".json") {
                if !b.starts_with('.') {
                    names.push(b.to_string());
                }
            }
        }
        names.sort();
        let mut out = Vec::new();
        for b in names {
            if let Some(s) = self.load(&b)? {
                out.push(s);
            }
        }
        Ok(out)
    }

    pub fn save(&self, store: &Store) -> Result<()> {
        let data = serde_json::to_vec_pretty(store).context("serialize the network store")?;
        crate::container::state::write_atomic(&self.path(&store.bridge), &data, 0o644)
    }

    pub fn remove(&self, bridge: &str) -> Result<()> {
        let p = self.path(bridge);
        match std::fs::remove_file(&p) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(e).with_context(|| format!("remove {}", p.display()))
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    #[test]
    fn subnets() {
        let n = Subnet::parse("10.88.0.0/16").unwrap();
        assert_eq!(n.gateway(), ip("10.88.0.1"));
        assert_eq!(n.broadcast(), ip("10.88.255.255"));
        assert!(n.overlaps(&Subnet::parse("10.88.4.0/24").unwrap()));
        assert!(n.overlaps(&Subnet::parse("10.0.0.0/8").unwrap()));
        assert!(!n.overlaps(&Subnet::parse("10.89.0.0/16").unwrap()));
        assert!(Subnet::parse("10.88.0.1/16")
            .unwrap_err()
            .to_string()
            .contains("10.88.0.0/16"));
        assert!(Subnet::parse("10.88.0.0/31").is_err());
        assert!(Subnet::parse("10.88.0.0").is_err());
        assert!(Subnet::parse("10.88.0.300/24").is_err());
    }

    #[test]
    fn allocation_skips_taken_and_wraps() {
        let mut s = Store::new("b", Subnet::parse("10.1.0.0/29").unwrap(), true);
        let mut got = Vec::new();
        for i in 0..5 {
            let a = s.allocate(None).unwrap();
            s.containers.insert(
                format!("c{i}"),
                Alloc {
                    ip: a,
                    veth: String::new(),
                    tag: String::new(),
                    masquerade: false,
                    publish: vec![],
                },
            );
            got.push(a.to_string());
        }
        assert_eq!(
            got,
            ["10.1.0.2", "10.1.0.3", "10.1.0.4", "10.1.0.5", "10.1.0.6"]
        );
        assert!(s
            .allocate(None)
            .unwrap_err()
            .to_string()
            .contains("exhausted"));
        s.containers.remove("c1");
        assert_eq!(s.allocate(None).unwrap(), ip("10.1.0.3"));
        assert!(s.allocate(Some(ip("10.1.0.1"))).is_err());
        assert!(s.allocate(Some(ip("10.1.0.2"))).is_err());
    }

    #[test]
    fn released_address_is_not_reused_first() {
        let mut s = Store::new("b", Subnet::parse("10.1.0.0/24").unwrap(), true);
        let a = s.allocate(None).unwrap();
        assert_eq!(a, ip("10.1.0.2"));
        // Released (never inserted): the next one is still .3.
        assert_eq!(s.allocate(None).unwrap(), ip("10.1.0.3"));
    }

    #[test]
    fn subnet_arithmetic() {
        let n = Subnet::parse("192.168.4.0/22").unwrap();
        assert_eq!(n.mask(), 0xffff_fc00);
        assert_eq!(n.network(), ip("192.168.4.0"));
        assert_eq!(n.broadcast(), ip("192.168.7.255"));
        assert!(n.contains(ip("192.168.7.1")));
        assert!(!n.contains(ip("192.168.8.1")));
        assert!(n.is_host(ip("192.168.4.2")));
        for not_host in ["192.168.4.0", "192.168.4.1", "192.168.7.255", "10.0.0.1"] {
            assert!(!n.is_host(ip(not_host)), "{not_host}");
        }
        assert_eq!(n.to_string(), "192.168.4.0/22");
        let e = Subnet::parse("10.0.0.0/7").unwrap_err().to_string();
        assert!(e.contains("prefix length must be 8 to 30"), "{e}");
        assert!(Subnet::parse("10.0.0.0/x")
            .unwrap_err()
            .to_string()
            .contains("bad prefix length"));
        assert!(Subnet::parse("a.b.c.d/8")
            .unwrap_err()
            .to_string()
            .contains("bad IPv4 address"));
    }

    #[test]
    fn smallest_subnet_has_one_container_address() {
        let mut s = Store::new("b", Subnet::parse("10.9.0.0/30").unwrap(), false);
        assert_eq!(s.gateway, ip("10.9.0.1"));
        assert_eq!(s.allocate(None).unwrap(), ip("10.9.0.2"));
        s.containers.insert("a".into(), alloc("10.9.0.2"));
        let e = s.allocate(None).unwrap_err().to_string();
        assert!(e.contains("all 1 container addresses are taken"), "{e}");
    }

    fn alloc(a: &str) -> Alloc {
        Alloc {
            ip: ip(a),
            veth: "hk0".into(),
            tag: "t".into(),
            masquerade: false,
            publish: vec![],
        }
    }

    #[test]
    fn requested_addresses() {
        let mut s = Store::new("b", Subnet::parse("10.1.0.0/24").unwrap(), true);
        assert_eq!(
            s.allocate(Some(ip("10.1.0.200"))).unwrap(),
            ip("10.1.0.200")
        );
        // The search goes on after the last one handed out.
        assert_eq!(s.allocate(None).unwrap(), ip("10.1.0.201"));
        s.containers.insert("web".into(), alloc("10.1.0.7"));
        let e = s.allocate(Some(ip("10.1.0.7"))).unwrap_err().to_string();
        assert!(
            e.contains("already taken by container web on bridge b"),
            "{e}"
        );
        for bad in ["10.1.0.0", "10.1.0.1", "10.1.0.255", "10.2.0.5"] {
            let e = s.allocate(Some(ip(bad))).unwrap_err().to_string();
            assert!(
                e.contains("not a usable host address of 10.1.0.0/24"),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn allocation_wraps_after_the_last_address() {
        let mut s = Store::new("b", Subnet::parse("10.1.0.0/29").unwrap(), true);
        s.last = Some(ip("10.1.0.6"));
        assert_eq!(s.allocate(None).unwrap(), ip("10.1.0.2"));
        // A `last` outside the subnet (edited store) starts from the beginning.
        s.last = Some(ip("192.0.2.1"));
        assert_eq!(s.allocate(None).unwrap(), ip("10.1.0.2"));
        // A broken subnet in the store names the bridge.
        s.subnet = "garbage".into();
        assert!(s
            .allocate(None)
            .unwrap_err()
            .to_string()
            .contains("store of bridge b"));
    }

    #[test]
    fn store_save_load_list_and_remove_under_the_lock() {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("net");
        let lock = Lock::acquire(&dir).unwrap();
        assert!(lock.load("husk0").unwrap().is_none());
        let mut s = Store::new("husk0", Subnet::parse("10.88.0.0/16").unwrap(), true);
        let a = s.allocate(None).unwrap();
        s.containers.insert(
            "c1".into(),
            Alloc {
                publish: vec!["8080:80/tcp".into()],
                ..alloc(&a.to_string())
            },
        );
        lock.save(&s).unwrap();
        lock.save(&Store::new(
            "aaa",
            Subnet::parse("10.89.0.0/16").unwrap(),
            false,
        ))
        .unwrap();
        // Temp files and other names are not stores.
        std::fs::write(dir.join(".x.json"), "junk").unwrap();
        std::fs::write(dir.join("notes.txt"), "junk").unwrap();
        let back = lock.load("husk0").unwrap().unwrap();
        assert_eq!(back.containers["c1"].ip, ip("10.88.0.2"));
        assert_eq!(back.last, Some(ip("10.88.0.2")));
        assert_eq!(back.containers["c1"].publish, ["8080:80/tcp"]);
        let all: Vec<String> = lock
            .load_all()
            .unwrap()
            .into_iter()
            .map(|s| s.bridge)
            .collect();
        assert_eq!(all, ["aaa", "husk0"]);
        lock.remove("aaa").unwrap();
        lock.remove("aaa").unwrap(); // already gone: fine
        assert_eq!(lock.load_all().unwrap().len(), 1);
        std::fs::write(lock.path("bad"), "{").unwrap();
        let e = lock.load("bad").unwrap_err().to_string();
        assert!(e.starts_with("parse ") && e.ends_with("bad.json"), "{e}");
    }

    #[test]
    fn an_older_store_without_the_newer_fields_loads() {
        let old = r#"{"bridge":"husk0","subnet":"10.88.0.0/16","gateway":"10.88.0.1",
            "created_bridge":true,"containers":{"c":{"ip":"10.88.0.9","veth":"hk1","tag":"t"}}}"#;
        let s: Store = serde_json::from_str(old).unwrap();
        assert!(!s.localnet && !s.enabled_ip_forward && s.last.is_none());
        assert!(!s.containers["c"].masquerade && s.containers["c"].publish.is_empty());
        // An empty publish list is not written.
        let v = serde_json::to_value(&s.containers["c"]).unwrap();
        assert!(v.get("publish").is_none());
    }

    #[test]
    fn the_lock_excludes_another_holder() {
        let t = tempfile::tempdir().unwrap();
        let lock = Lock::acquire(t.path()).unwrap();
        let dir = t.path().to_path_buf();
        let (tx, rx) = std::sync::mpsc::channel();
        let h = std::thread::spawn(move || {
            let _second = Lock::acquire(&dir).unwrap();
            tx.send(()).unwrap();
        });
        // flock locks belong to the open file: the second open waits.
        assert!(rx
            .recv_timeout(std::time::Duration::from_millis(200))
            .is_err());
        drop(lock);
        rx.recv_timeout(std::time::Duration::from_secs(5)).unwrap();
        h.join().unwrap();
    }
}
