//! `husk network`: a bridge network for containers, Docker's default network
//! in small: a Linux bridge with the first address of its subnet, one veth
//! pair per container (the container end, `eth0`, created directly in the
//! container's network namespace), an address from the subnet, a default
//! route via the bridge, optional masquerade and published ports (nftables),
//! and /etc/hosts, /etc/hostname, /etc/resolv.conf for the bundle.
//!
//! Attach runs as an OCI `createRuntime` hook (the init exists, its
//! namespaces are made, the process has not started) and detach as a
//! `poststop` hook, or both by hand.
//!
//! Order of attach, and why: everything that can be checked is checked
//! before the first side effect (names, subnet, ports, the namespace, the
//! nft binary). Then, under the store lock, the address is reserved and
//! saved first, so a crash at any later point leaves an allocation that
//! names everything the attach may have made (its veth, its rule comment):
//! a failed step, or a later attach that finds the veth gone, tears that
//! down with the same code as detach.
//!
//! Files: `attach.rs` (the attach recipe), `ipam.rs` (subnets, the store
//! and its lock), `netlink.rs` (links, addresses, routes), `nft.rs` (NAT
//! rules), `etc.rs` (/etc files); here: detach, rm, ls and what they share.

mod attach;
pub mod etc;
pub mod ipam;
pub mod netlink;
pub mod nft;

pub use attach::{attach, AttachOpts, Attached, Netns};

use anyhow::{bail, Context, Result};
use ipam::{Lock, Store};
use netlink::Netlink;
use nft::Nft;
use std::path::Path;

/// The name of the container end of the veth pair.
pub const CONTAINER_IF: &str = "eth0";

/// Interface names: at most 15 bytes (IFNAMSIZ - 1), and a conservative
/// character set (the kernel only forbids `/`, `:` and white space).
pub fn validate_bridge_name(name: &str) -> Result<()> {
    if name.is_empty() || name.len() > 15 {
        bail!(
            "bridge name {name:?} must be 1 to 15 characters long (it is {})",
            name.len()
        );
    }
    if name == "."
        || name == ".."
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
    {
        bail!("bridge name {name:?}: use only letters, digits, '_', '.' and '-'");
    }
    Ok(())
}

/// 16 hex digits of the sha256 of `s`.
pub fn short_hash(s: &str) -> String {
    use sha2::Digest;
    let d = sha2::Sha256::digest(s.as_bytes());
    d[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// The host end of a container's veth pair: `hk` + 10 hex digits of the
/// hash of bridge and id; fixed, so that detach and crash recovery find it.
fn veth_name(bridge: &str, id: &str) -> String {
    format!("hk{}", &short_hash(&format!("{bridge}\0{id}"))[..10])
}

/// The nft binary, looked up on first use.
struct LazyNft<'a> {
    explicit: Option<&'a Path>,
    nft: Option<Nft>,
}

impl LazyNft<'_> {
    fn get(&mut self) -> Result<&Nft> {
        if self.nft.is_none() {
            self.nft = Some(Nft::find(self.explicit)?);
        }
        Ok(self.nft.as_ref().expect("set above"))
    }
}

/// Undoes one container's attach: its veth (the container end goes with
/// it), its rules, its allocation; with the last container, the bridge's
/// rules, the bridge itself if husk made it, and the store.
fn release(
    lock: &Lock,
    store: &mut Store,
    id: &str,
    host: &mut Netlink,
    nft: &mut LazyNft,
) -> Result<()> {
    let Some(a) = store.containers.get(id).cloned() else {
        return Ok(());
    };
    host.delete_link(&a.veth)
        .with_context(|| format!("delete veth {} of container {id}", a.veth))?;
    if a.masquerade || !a.publish.is_empty() {
        nft.get()?
            .delete(|c| c == a.tag)
            .with_context(|| format!("delete the nftables rules of container {id}"))?;
    }
    store.containers.remove(id);
    if !store.containers.is_empty() {
        return lock.save(store);
    }
    teardown_bridge(lock, store, host, nft)
}

/// What goes with a bridge's last container: the bridge's rules, the
/// bridge itself if husk made it, and the store.
fn teardown_bridge(
    lock: &Lock,
    store: &mut Store,
    host: &mut Netlink,
    nft: &mut LazyNft,
) -> Result<()> {
    if store.localnet {
        let tag = nft::bridge_tag(&store.bridge);
        let prefix = format!("{tag} ");
        nft.get()?
            .delete(|c| c == tag || c.starts_with(&prefix))
            .with_context(|| format!("delete the nftables rules of bridge {}", store.bridge))?;
        store.localnet = false;
    }
    if store.created_bridge {
        host.delete_link(&store.bridge)
            .with_context(|| format!("delete bridge {}", store.bridge))?;
    }
    lock.remove(&store.bridge)
}

/// Releases the allocations whose veth is gone: their container died (its
/// namespace, and the veth pair with it, went away) without a detach, or an
/// attach crashed half-way. Best effort: what cannot be undone now stays.
fn prune(lock: &Lock, store: &mut Store, host: &mut Netlink, nft: &mut LazyNft) {
    let ids: Vec<String> = store.containers.keys().cloned().collect();
    for id in ids {
        let veth = &store.containers[&id].veth;
        if matches!(host.link(veth), Ok(None)) {
            if let Err(e) = release(lock, store, &id, host, nft) {
                crate::logging::warn(&format!("release stale allocation of {id}: {e:#}"));
            }
        }
    }
}

/// Detaches container `id` from `bridge`, or from whichever bridge it is
/// on. Returns the bridges it was detached from (none if it was on none).
pub fn detach(
    state_dir: &Path,
    id: &str,
    bridge: Option<&str>,
    nft_bin: Option<&Path>,
) -> Result<Vec<String>> {
    if let Some(b) = bridge {
        validate_bridge_name(b)?;
    }
    let lock = Lock::acquire(state_dir)?;
    let mut host = Netlink::open()?;
    let mut nft = LazyNft {
        explicit: nft_bin,
        nft: None,
    };
    let mut done = Vec::new();
    for mut s in lock.load_all()? {
        if bridge.is_some_and(|b| b != s.bridge) || !s.containers.contains_key(id) {
            continue;
        }
        release(&lock, &mut s, id, &mut host, &mut nft)?;
        done.push(s.bridge);
    }
    Ok(done)
}

/// Removes bridge network `bridge`: with `force`, detaches its containers
/// first; without, refuses while it has any.
pub fn remove(state_dir: &Path, bridge: &str, force: bool, nft_bin: Option<&Path>) -> Result<()> {
    validate_bridge_name(bridge)?;
    let lock = Lock::acquire(state_dir)?;
    let mut store = lock.load(bridge)?.with_context(|| {
        format!(
            "no husk network with bridge {bridge} (no {})",
            lock.path(bridge).display()
        )
    })?;
    if !store.containers.is_empty() && !force {
        let ids: Vec<&str> = store.containers.keys().map(String::as_str).collect();
        bail!(
            "bridge {bridge} still has containers ({}): detach them, or use rm --force",
            ids.join(", ")
        );
    }
    let mut host = Netlink::open()?;
    let mut nft = LazyNft {
        explicit: nft_bin,
        nft: None,
    };
    if store.containers.is_empty() {
        return teardown_bridge(&lock, &mut store, &mut host, &mut nft);
    }
    let ids: Vec<String> = store.containers.keys().cloned().collect();
    for id in ids {
        release(&lock, &mut store, &id, &mut host, &mut nft)?;
    }
    Ok(())
}

/// Every bridge network's store.
pub fn list(state_dir: &Path) -> Result<Vec<Store>> {
    if !state_dir.exists() {
        return Ok(Vec::new());
    }
    Lock::acquire(state_dir)?.load_all()
}

/// The fields of the OCI state a hook receives on stdin that matter here.
#[derive(serde::Deserialize)]
pub struct HookState {
    pub id: String,
    #[serde(default)]
    pub pid: i32,
    #[serde(default)]
    pub bundle: std::path::PathBuf,
}

impl HookState {
    pub fn read() -> Result<HookState> {
        use std::io::{IsTerminal, Read};
        let mut stdin = std::io::stdin();
        if stdin.is_terminal() {
            bail!("no container id given, and stdin is a terminal: give an id, or the OCI state JSON on stdin");
        }
        let mut text = String::new();
        stdin
            .read_to_string(&mut text)
            .context("read the container state from stdin")?;
        serde_json::from_str(&text)
            .with_context(|| format!("parse the container state from stdin: {:?}", text.trim()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bridge_names() {
        assert!(validate_bridge_name("husk0").is_ok());
        assert!(validate_bridge_name("a-15-chars-long").is_ok());
        let e = validate_bridge_name("sixteen-chars-xx")
            .unwrap_err()
            .to_string();
        assert!(e.contains("1 to 15"), "{e}");
        assert!(validate_bridge_name("").is_err());
        assert!(validate_bridge_name("br/0").is_err());
        assert!(validate_bridge_name("br 0").is_err());
    }

    #[test]
    fn veth_names_fit() {
        let v = veth_name("husk0", &"x".repeat(1024));
        assert_eq!(v.len(), 12);
        assert_ne!(veth_name("a", "b"), veth_name("a", "c"));
        assert_eq!(attach::bridge_mac("x")[0] & 0x03, 0x02);
    }

    #[test]
    fn bridge_name_charset() {
        for ok in ["br_0", "a.b", "x-y", "0"] {
            assert!(validate_bridge_name(ok).is_ok(), "{ok}");
        }
        for bad in [".", "..", "br:0", "brü", "br\t", "a,b"] {
            let e = validate_bridge_name(bad).unwrap_err().to_string();
            assert!(e.contains("use only letters"), "{bad}: {e}");
        }
        // 15 bytes, not characters: a multibyte name over the limit.
        assert!(validate_bridge_name(&"é".repeat(8))
            .unwrap_err()
            .to_string()
            .contains("it is 16"));
    }

    #[test]
    fn short_hash_is_sha256_prefix() {
        // sha256("abc") = ba7816bf8f01cfea...
        assert_eq!(short_hash("abc"), "ba7816bf8f01cfea");
        assert_eq!(short_hash("").len(), 16);
        // The veth name separates bridge and id, so "a"+"bc" != "ab"+"c".
        assert_ne!(veth_name("a", "bc"), veth_name("ab", "c"));
        assert!(veth_name("husk0", "c").starts_with("hk"));
    }
}
