//! `husk network attach`: checks, then (under the store lock) the address
//! reservation, the bridge, the veth pair, the container side, the rules,
//! the /etc files; on failure, the container's part is undone with
//! detach's code (`super::release`).

use super::ipam::{Alloc, Lock, Store, Subnet};
use super::netlink::Netlink;
use super::nft::{self, Publish};
use super::{etc, prune, release, validate_bridge_name, veth_name, LazyNft, CONTAINER_IF};
use anyhow::{bail, Context, Result};
use serde::Serialize;
use std::fs::File;
use std::net::Ipv4Addr;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

/// Where the container's network namespace is.
#[derive(Debug, Clone)]
pub enum Netns {
    /// That of a process (the container's init: `/proc/PID/ns/net`).
    Pid(i32),
    /// An nsfs file, e.g. a bind mount under /run/netns.
    Path(PathBuf),
}

#[derive(Debug, Clone)]
pub struct AttachOpts {
    pub id: String,
    pub netns: Netns,
    /// The bundle, for the /etc files (None: no files written).
    pub bundle: Option<PathBuf>,
    pub bridge: String,
    pub subnet: Option<Subnet>,
    pub ip: Option<Ipv4Addr>,
    pub masquerade: bool,
    pub publish: Vec<Publish>,
    pub hostname: Option<String>,
    pub dns: Vec<Ipv4Addr>,
    pub nft: Option<PathBuf>,
    pub state_dir: PathBuf,
}

/// What attach did, printed as JSON.
#[derive(Debug, Serialize)]
pub struct Attached {
    pub id: String,
    pub bridge: String,
    pub ip: Ipv4Addr,
    pub prefix: u8,
    pub gateway: Ipv4Addr,
    pub veth: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub publish: Vec<String>,
}

/// A locally administered unicast MAC derived from the bridge name.
pub(super) fn bridge_mac(bridge: &str) -> [u8; 6] {
    use sha2::Digest;
    let d = sha2::Sha256::digest(bridge.as_bytes());
    [0x02, d[0], d[1], d[2], d[3], d[4]]
}

/// Opens the target namespace and makes sure it is not the host's.
fn open_netns(id: &str, ns: &Netns) -> Result<File> {
    let path = match ns {
        Netns::Pid(pid) if *pid <= 0 => {
            bail!("container {id} has no process (pid {pid}): attach needs a created container")
        }
        Netns::Pid(pid) => PathBuf::from(format!("/proc/{pid}/ns/net")),
        Netns::Path(p) => p.clone(),
    };
    let f = File::open(&path)
        .with_context(|| format!("open the network namespace {}", path.display()))?;
    let host = std::fs::metadata("/proc/self/ns/net").context("stat /proc/self/ns/net")?;
    let target = f
        .metadata()
        .with_context(|| format!("stat {}", path.display()))?;
    if (target.dev(), target.ino()) == (host.dev(), host.ino()) {
        bail!(
            "container {id} has no network namespace of its own ({} is the host's): \
             add {{\"type\": \"network\"}} to linux.namespaces",
            path.display()
        );
    }
    Ok(f)
}

pub fn attach(o: &AttachOpts) -> Result<Attached> {
    // Checks first: nothing is changed until all of them pass.
    validate_bridge_name(&o.bridge)?;
    crate::container::validate_id(&o.id)?;
    let netns = open_netns(&o.id, &o.netns)?;
    let mut nft = LazyNft {
        explicit: o.nft.as_deref(),
        nft: None,
    };
    if o.masquerade || !o.publish.is_empty() {
        nft.get()?;
    }
    let config = match &o.bundle {
        Some(b) => {
            let p = b.join("config.json");
            let text =
                std::fs::read_to_string(&p).with_context(|| format!("read {}", p.display()))?;
            Some(
                serde_json::from_str::<serde_json::Value>(&text)
                    .with_context(|| format!("parse {}", p.display()))?,
            )
        }
        None => None,
    };
    let hostname = o
        .hostname
        .clone()
        .or_else(|| {
            config
                .as_ref()
                .and_then(|c| c["hostname"].as_str())
                .map(String::from)
        })
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| o.id.chars().take(63).collect());

    let lock = Lock::acquire(&o.state_dir)?;
    let mut host = Netlink::open()?;
    let mut all = lock.load_all()?;
    for s in &mut all {
        prune(&lock, s, &mut host, &mut nft);
    }
    for p in &o.publish {
        for s in &all {
            let same = |q: &String| {
                Publish::parse(q).is_ok_and(|q| q.host == p.host && q.proto == p.proto)
            };
            if let Some((id, _)) = s
                .containers
                .iter()
                .find(|(_, a)| a.publish.iter().any(same))
            {
                bail!(
                    "host port {}/{} is already published by container {id} on bridge {}",
                    p.host,
                    p.proto,
                    s.bridge
                );
            }
        }
    }
    let mut store = match all.into_iter().find(|s| s.bridge == o.bridge) {
        Some(s) => {
            let net = s.subnet()?;
            if let Some(want) = o.subnet.filter(|n| *n != net) {
                bail!("bridge {} has subnet {net}, not {want}", o.bridge);
            }
            s
        }
        None => new_store(&lock, &mut host, o)?,
    };
    if let Some(a) = store.containers.get(&o.id) {
        bail!(
            "container {} is already attached to bridge {} ({})",
            o.id,
            o.bridge,
            a.ip
        );
    }
    let ip = store.allocate(o.ip)?;
    let net = store.subnet()?;
    let alloc = Alloc {
        ip,
        veth: veth_name(&o.bridge, &o.id),
        tag: nft::container_tag(&o.bridge, &o.id),
        masquerade: o.masquerade,
        publish: o.publish.iter().map(|p| p.to_string()).collect(),
    };
    store.containers.insert(o.id.clone(), alloc.clone());
    // The reservation records what may exist (the rules, the bridge's
    // rules) as if it did, for whoever cleans up after a crash.
    let had_localnet = store.localnet;
    store.localnet |= !o.publish.is_empty();
    lock.save(&store)?;

    let mut rules_added = false;
    let res = setup(
        o,
        &alloc,
        net,
        &netns,
        &mut host,
        &mut nft,
        &hostname,
        config.as_ref(),
        !had_localnet,
        &mut rules_added,
    )
    .and_then(|forward| {
        store.enabled_ip_forward |= forward;
        lock.save(&store)
    });
    if let Err(e) = res {
        // Undo with detach's code; the allocation says what may exist,
        // once corrected for the rules, which went in all or not at all.
        if !rules_added {
            store.localnet = had_localnet;
            if let Some(a) = store.containers.get_mut(&o.id) {
                a.masquerade = false;
                a.publish.clear();
            }
        }
        if let Err(e2) = release(&lock, &mut store, &o.id, &mut host, &mut nft) {
            return Err(e.context(format!("and the rollback failed too: {e2:#}")));
        }
        return Err(e);
    }
    Ok(Attached {
        id: o.id.clone(),
        bridge: o.bridge.clone(),
        ip,
        prefix: net.prefix,
        gateway: net.gateway(),
        veth: alloc.veth,
        publish: alloc.publish,
    })
}

/// The store of a bridge that has none yet: the bridge may exist already
/// (then it is adopted, and left in place at the end), else its subnet must
/// not overlap anything the host routes.
fn new_store(lock: &Lock, host: &mut Netlink, o: &AttachOpts) -> Result<Store> {
    if let Some(link) = host.link(&o.bridge)? {
        if link.kind.as_deref() != Some("bridge") {
            bail!(
                "{} exists and is not a bridge (kind {}): choose another --bridge",
                o.bridge,
                link.kind.as_deref().unwrap_or("none")
            );
        }
        let addrs: Vec<_> = host
            .addrs()?
            .into_iter()
            .filter(|a| a.index == link.index)
            .collect();
        let found = addrs.iter().find_map(|a| {
            let net = Subnet {
                addr: Ipv4Addr::from(u32::from(a.ip) & (u32::MAX << (32 - u32::from(a.prefix)))),
                prefix: a.prefix,
            };
            (a.ip == net.gateway() && o.subnet.is_none_or(|s| s == net)).then_some(net)
        });
        let Some(net) = found else {
            let have: Vec<String> = addrs
                .iter()
                .map(|a| format!("{}/{}", a.ip, a.prefix))
                .collect();
            bail!(
                "bridge {} exists but has no address that is the first of {}: it has [{}]",
                o.bridge,
                o.subnet
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| "its subnet".into()),
                have.join(", ")
            );
        };
        return Ok(Store::new(&o.bridge, net, false));
    }
    let others: Vec<Subnet> = lock
        .load_all()?
        .iter()
        .filter_map(|s| s.subnet().ok())
        .collect();
    let net = match o.subnet {
        Some(n) => {
            check_overlap(host, n, &others)?;
            n
        }
        // The default, 10.88.0.0/16, or the next free /16 up to 10.99.
        None => (88..=99)
            .map(|b| Subnet {
                addr: Ipv4Addr::new(10, b, 0, 0),
                prefix: 16,
            })
            .find(|n| check_overlap(host, *n, &others).is_ok())
            .context("no free default subnet (10.88.0.0/16 to 10.99.0.0/16 all overlap host routes): give --subnet")?,
    };
    Ok(Store::new(&o.bridge, net, true))
}

/// Fails if `net` overlaps a host route, a host address or another husk
/// bridge's subnet.
fn check_overlap(host: &mut Netlink, net: Subnet, others: &[Subnet]) -> Result<()> {
    let names = host.links()?;
    let name = |i: Option<u32>| {
        names
            .iter()
            .find(|l| Some(l.index) == i)
            .map(|l| l.name.clone())
            .unwrap_or_else(|| "?".into())
    };
    for r in host.routes()? {
        let rn = Subnet {
            addr: r.dst,
            prefix: r.prefix,
        };
        if r.prefix > 0 && net.overlaps(&rn) {
            bail!(
                "subnet {net} overlaps the host route {}/{} (dev {}): choose another with --subnet",
                r.dst,
                r.prefix,
                name(r.oif)
            );
        }
    }
    for a in host.addrs()? {
        if net.contains(a.ip) {
            bail!(
                "subnet {net} holds the host address {} (dev {}): choose another with --subnet",
                a.ip,
                name(Some(a.index))
            );
        }
    }
    if let Some(o) = others.iter().find(|o| o.overlaps(&net)) {
        bail!("subnet {net} overlaps {o}, the subnet of another husk bridge: choose another with --subnet");
    }
    Ok(())
}

/// The kernel side of attach. Returns whether it turned ip_forward on.
#[allow(clippy::too_many_arguments)]
fn setup(
    o: &AttachOpts,
    alloc: &Alloc,
    net: Subnet,
    netns: &File,
    host: &mut Netlink,
    nft: &mut LazyNft,
    hostname: &str,
    config: Option<&serde_json::Value>,
    add_bridge_rules: bool,
    rules_added: &mut bool,
) -> Result<bool> {
    if let (Some(bundle), Some(config)) = (&o.bundle, config) {
        etc::EtcFiles::new(hostname, alloc.ip, &o.dns).write(bundle, config)?;
    }
    let mut ns = Netlink::open_in(netns)?;
    if ns.link(CONTAINER_IF)?.is_some() {
        bail!(
            "the network namespace of container {} already has an {CONTAINER_IF}",
            o.id
        );
    }

    let bridge = match host.link(&o.bridge)? {
        Some(l) => l,
        None => {
            host.create_bridge(&o.bridge, bridge_mac(&o.bridge))?;
            let l = host
                .link(&o.bridge)?
                .with_context(|| format!("bridge {} vanished", o.bridge))?;
            host.add_addr(l.index, net.gateway(), net.prefix, net.broadcast())
                .with_context(|| {
                    format!(
                        "add {}/{} to bridge {}",
                        net.gateway(),
                        net.prefix,
                        o.bridge
                    )
                })?;
            l
        }
    };
    host.set_up(bridge.index)
        .with_context(|| format!("set bridge {} up", o.bridge))?;

    host.create_veth(&alloc.veth, bridge.index, CONTAINER_IF, netns)?;
    let v = host
        .link(&alloc.veth)?
        .with_context(|| format!("veth {} vanished", alloc.veth))?;
    host.set_up(v.index)
        .with_context(|| format!("set veth {} up", alloc.veth))?;

    let lo = ns.link("lo")?.context("the container has no lo")?;
    ns.set_up(lo.index).context("set lo up in the container")?;
    let eth = ns
        .link(CONTAINER_IF)?
        .with_context(|| format!("{CONTAINER_IF} is missing in the container"))?;
    ns.add_addr(eth.index, alloc.ip, net.prefix, net.broadcast())
        .with_context(|| {
            format!(
                "add {}/{} to {CONTAINER_IF} in the container",
                alloc.ip, net.prefix
            )
        })?;
    ns.set_up(eth.index)
        .with_context(|| format!("set {CONTAINER_IF} up in the container"))?;
    ns.add_default_route(net.gateway(), eth.index)
        .with_context(|| {
            format!(
                "add the default route via {} in the container",
                net.gateway()
            )
        })?;

    let mut rules = nft::container_rules(&alloc.tag, &o.bridge, alloc.ip, o.masquerade, &o.publish);
    if !o.publish.is_empty() && add_bridge_rules {
        rules.extend(nft::bridge_rules(&o.bridge));
    }
    if !rules.is_empty() {
        nft.get()?.add(&rules)?;
        *rules_added = true;
    }
    if !o.publish.is_empty() {
        // Lets the host's own 127.0.0.1:HOSTPORT be DNATed out through the
        // bridge; only now that the guard rule of nft::bridge_rules is in.
        let p = format!("/proc/sys/net/ipv4/conf/{}/route_localnet", o.bridge);
        std::fs::write(&p, "1").with_context(|| format!("write 1 to {p}"))?;
    }
    let mut forward = false;
    if o.masquerade || !o.publish.is_empty() {
        // Forwarding is needed for traffic between the bridge and other
        // interfaces. husk only ever turns it on, never off: other software
        // may rely on it by the time the last container leaves.
        let p = "/proc/sys/net/ipv4/ip_forward";
        let now = std::fs::read_to_string(p).with_context(|| format!("read {p}"))?;
        if now.trim() == "0" {
            std::fs::write(p, "1").with_context(|| format!("write 1 to {p}"))?;
            forward = true;
        }
    }
    Ok(forward)
}
