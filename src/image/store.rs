//! The content-addressed layer store of overlay bundles.
//!
//! ```text
//! <store>/layers/sha256/<diff id>/     one unpacked layer, overlay whiteouts
//! <store>/layers/sha256/.tmp-*         a layer being unpacked or removed
//! <store>/bundles/<hash of path>.json  {"bundle": PATH, "layers": [...]}
//! <store>/lock                         flock: shared to add, exclusive to gc
//! ```
//!
//! A layer is unpacked into a temporary directory and renamed into place
//! only once its digests are verified, so a layer directory is always
//! complete. Layers are keyed by diff id (the digest of the uncompressed
//! tar), so one layer stored with two compressions is unpacked once. A
//! bundle's refs file names the layers it uses; `gc` removes the layers no
//! live bundle names. Bundles and gc exclude each other through the lock.

use super::digest::Digest;
use super::fs;
use anyhow::{Context, Result};
use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};
use sha2::Digest as _;
use std::fs::File;
use std::os::fd::AsFd;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

pub struct Store {
    pub dir: PathBuf,
    _lock: Flock<File>,
}

#[derive(Serialize, Deserialize)]
struct Refs {
    bundle: PathBuf,
    layers: Vec<Digest>,
}

impl Store {
    /// Opens (creating it if needed) the store at `dir`, locked shared, or
    /// exclusive for gc.
    pub fn open(dir: &Path, exclusive: bool) -> Result<Store> {
        // Private: nobody but root has anything to do in the store (the
        // overlay's lower layers are looked up with the mounter's rights).
        for sub in ["layers/sha256", "bundles"] {
            let p = dir.join(sub);
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&p)
                .with_context(|| format!("create {}", p.display()))?;
        }
        let dir = dir
            .canonicalize()
            .with_context(|| format!("layer store {}", dir.display()))?;
        let lp = dir.join("lock");
        let f = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&lp)
            .with_context(|| format!("open {}", lp.display()))?;
        let arg = if exclusive {
            FlockArg::LockExclusive
        } else {
            FlockArg::LockShared
        };
        let lock = Flock::lock(f, arg)
            .map_err(|(_, e)| e)
            .with_context(|| format!("lock {}", lp.display()))?;
        Ok(Store { dir, _lock: lock })
    }

    fn layers_dir(&self) -> PathBuf {
        self.dir.join("layers/sha256")
    }

    pub fn layer(&self, diff_id: &Digest) -> PathBuf {
        self.layers_dir().join(diff_id.hex())
    }

    /// A fresh directory to unpack `diff_id` into.
    pub fn temp_layer(&self, diff_id: &Digest) -> Result<PathBuf> {
        let p = self
            .layers_dir()
            .join(format!(".tmp-{}-{}", diff_id.hex(), std::process::id()));
        remove_tree(&p)?;
        std::fs::DirBuilder::new()
            .mode(0o755)
            .create(&p)
            .with_context(|| format!("create {}", p.display()))?;
        Ok(p)
    }

    /// Moves a verified layer into place. Another process may have stored
    /// the same layer meanwhile: then ours is dropped.
    pub fn commit(&self, tmp: &Path, diff_id: &Digest) -> Result<()> {
        let dst = self.layer(diff_id);
        match std::fs::rename(tmp, &dst) {
            Ok(()) => Ok(()),
            Err(_) if dst.is_dir() => remove_tree(tmp),
            Err(e) => {
                Err(e).with_context(|| format!("rename {} to {}", tmp.display(), dst.display()))
            }
        }
    }

    fn refs_path(&self, bundle: &Path) -> PathBuf {
        let h = sha2::Sha256::digest(bundle.as_os_str().as_encoded_bytes());
        let hex: String = h.iter().take(16).map(|b| format!("{b:02x}")).collect();
        self.dir.join("bundles").join(format!("{hex}.json"))
    }

    /// Records that `bundle` uses `layers`.
    pub fn add_refs(&self, bundle: &Path, layers: &[Digest]) -> Result<()> {
        let p = self.refs_path(bundle);
        let refs = Refs {
            bundle: bundle.to_path_buf(),
            layers: layers.to_vec(),
        };
        super::write_atomic(&p, &serde_json::to_vec_pretty(&refs)?)
    }

    pub fn remove_refs(&self, bundle: &Path) -> Result<()> {
        let p = self.refs_path(bundle);
        match std::fs::remove_file(&p) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(e).with_context(|| format!("remove {}", p.display()))
            }
            _ => Ok(()),
        }
    }

    /// Removes the layers that no live bundle uses, and the refs of bundles
    /// that are gone; returns the layers removed. `live` tells whether a
    /// bundle still uses this store.
    pub fn gc(&self, live: impl Fn(&Path) -> bool) -> Result<Vec<Digest>> {
        let mut used = std::collections::HashSet::new();
        let bdir = self.dir.join("bundles");
        for e in std::fs::read_dir(&bdir).with_context(|| format!("read {}", bdir.display()))? {
            let p = e?.path();
            let refs: Option<Refs> = std::fs::read(&p)
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok());
            match refs {
                Some(r) if live(&r.bundle) => used.extend(r.layers),
                _ => std::fs::remove_file(&p).with_context(|| format!("remove {}", p.display()))?,
            }
        }
        let mut removed = Vec::new();
        let ldir = self.layers_dir();
        for e in std::fs::read_dir(&ldir).with_context(|| format!("read {}", ldir.display()))? {
            let name = e?.file_name().to_string_lossy().into_owned();
            if let Some(d) = Digest::from_hex(&name) {
                if !used.contains(&d) {
                    // Renamed first: a half-removed layer never looks complete.
                    let tmp = ldir.join(format!(".tmp-gc-{name}-{}", std::process::id()));
                    std::fs::rename(ldir.join(&name), &tmp)
                        .with_context(|| format!("move away layer {d}"))?;
                    remove_tree(&tmp)?;
                    removed.push(d);
                }
            } else if name.starts_with(".tmp-") {
                // Left by a process that died (the lock is exclusive: no
                // live one is unpacking).
                remove_tree(&ldir.join(&name))?;
            }
        }
        removed.sort();
        Ok(removed)
    }
}

/// Removes the tree at `p` (absent is fine) without crossing into another
/// file system.
pub fn remove_tree(p: &Path) -> Result<()> {
    let (Some(parent), Some(name)) = (p.parent(), p.file_name()) else {
        anyhow::bail!("refusing to remove {}", p.display());
    };
    let dir = match File::open(parent) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("open {}", parent.display())),
    };
    let dev = match std::fs::symlink_metadata(p) {
        Ok(m) => std::os::unix::fs::MetadataExt::dev(&m),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("stat {}", p.display())),
    };
    fs::remove_at(dir.as_fd(), name, Some(dev)).with_context(|| format!("remove {}", p.display()))
}
