//! `husk bundle`: from an OCI image layout, an OCI archive or a `docker
//! save` archive to a runnable bundle (rootfs + config.json).
//!
//! ```text
//! reference.rs the IMAGE argument: a path, DIR:TAG, or skopeo's oci:,
//!             oci-archive: and docker-archive: references
//! source.rs   the image's files: a directory, or an archive read in place
//! select.rs   tag/platform → manifest → verified config and layer list
//! digest.rs   sha256 verified while streaming; JSON blobs
//! unpack.rs   one layer tar onto a directory (whiteouts removed or kept
//!             as overlay whiteouts)
//! fs.rs       openat2(RESOLVE_IN_ROOT) path resolution, removal, xattrs
//! store.rs    overlay mode: content-addressed layers, refs, gc
//! config.rs   config.json from the image config
//! ```
//!
//! Nothing is left half-made: a bundle is built in a temporary directory
//! next to the target and renamed into place at the end; an overlay
//! bundle, whose mount must be made at its final path, is removed again
//! (unmounted first) if a later step fails.

mod config;
mod digest;
mod fs;
#[doc(hidden)]
pub mod fuzzing;
mod progress;
mod reference;
mod select;
mod source;
mod store;
mod unpack;

pub use config::{BindMount, RunOptions};

use anyhow::{bail, Context, Result};
use digest::{drain, Digest, Verify};
use select::{Compression, Image, Layer};
use serde::{Deserialize, Serialize};
use source::Source;
use std::io::{BufRead, BufReader, Read};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use store::{remove_tree, Store};
use unpack::{Unpacker, Whiteouts};

/// The bundle file that marks a directory as made by `husk bundle`.
const MARKER: &str = "husk-bundle.json";

pub struct Options {
    /// A path or a reference (see reference.rs).
    pub image: PathBuf,
    pub bundle: PathBuf,
    pub tag: Option<String>,
    /// `os/arch[/variant]`; default: the host's.
    pub platform: Option<String>,
    /// Overlay mode, with this layer store; flat copy if None.
    pub layer_store: Option<PathBuf>,
    pub run: RunOptions,
}

#[derive(Serialize, Deserialize)]
struct Marker {
    /// "copy" or "overlay".
    mode: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    store: Option<PathBuf>,
    #[serde(default)]
    layers: Vec<Digest>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    reference: Option<String>,
}

/// Makes the bundle.
pub fn create(o: &Options) -> Result<()> {
    // Everything that can be checked without touching anything, first.
    let platform = match &o.platform {
        Some(p) => select::parse_platform(p)?,
        None => select::host_platform(),
    };
    let stat = |p: &Path| std::fs::metadata(p).ok().map(|m| m.is_dir());
    let image_ref = reference::parse(o.image.as_os_str(), o.tag.as_deref(), &stat)?;
    let bundle = absolute(&o.bundle)?;
    check_target(&bundle)?;
    // Modes and owners come from the image, not from husk's umask. This
    // process does nothing else, so the process-wide setting is fine.
    nix::sys::stat::umask(nix::sys::stat::Mode::empty());
    let interrupt = progress::Interrupt::install()?;

    let staging = Staging::new(&bundle)?;
    let src = Source::open(&image_ref.path, &staging.path)?;
    let image = select::select(&src, &image_ref.select, image_ref.format, &platform)?;
    match &o.layer_store {
        None => flat(&src, &image, &staging, &bundle, &o.run, &interrupt),
        Some(store) => overlay(&src, &image, staging, &bundle, store, &o.run, &interrupt),
    }
}

fn flat(
    src: &Source,
    image: &Image,
    staging: &Staging,
    bundle: &Path,
    run: &RunOptions,
    interrupt: &progress::Interrupt,
) -> Result<()> {
    let rootfs = staging.path.join("rootfs");
    mkdir(&rootfs, 0o755)?;
    let mut u = Unpacker::new(&rootfs, Whiteouts::Remove, interrupt)?;
    let progress = progress::Progress::new(image.layers.len());
    for (i, layer) in image.layers.iter().enumerate() {
        apply_layer(src, layer, i, image.layers.len(), &mut u, &progress)?;
    }
    drop(progress);
    let root = open_dir(&rootfs)?;
    let spec = config::generate(&image.config, root.as_fd(), run)?;
    write_json(&staging.path.join("config.json"), &spec)?;
    let marker = Marker {
        mode: "copy".into(),
        store: None,
        layers: Vec::new(),
        reference: image.reference.clone(),
    };
    write_json(&staging.path.join(MARKER), &marker)?;
    staging.commit(bundle)
}

fn overlay(
    src: &Source,
    image: &Image,
    staging: Staging,
    bundle: &Path,
    store_dir: &Path,
    run: &RunOptions,
    interrupt: &progress::Interrupt,
) -> Result<()> {
    let store = Store::open(store_dir, false)?;
    // A layer listed twice needs to be stacked once, at its topmost place.
    let mut layers: Vec<&Layer> = Vec::new();
    for l in image.layers.iter().rev() {
        if !layers.iter().any(|k| k.diff_id == l.diff_id) {
            layers.push(l);
        }
    }
    layers.reverse();
    let progress = progress::Progress::new(image.layers.len());
    for (i, layer) in image.layers.iter().enumerate() {
        if store.layer(&layer.diff_id).is_dir() {
            continue;
        }
        let tmp = store.temp_layer(&layer.diff_id)?;
        let r = Unpacker::new(&tmp, Whiteouts::Overlay, interrupt)
            .and_then(|mut u| apply_layer(src, layer, i, image.layers.len(), &mut u, &progress));
        match r {
            Ok(()) => store.commit(&tmp, &layer.diff_id)?,
            Err(e) => {
                let _ = remove_tree(&tmp);
                return Err(e);
            }
        }
    }
    drop(progress);
    for d in ["rootfs", "upper", "work"] {
        mkdir(&staging.path.join(d), 0o755)?;
    }
    let diff_ids: Vec<Digest> = layers.iter().map(|l| l.diff_id.clone()).collect();
    let marker = Marker {
        mode: "overlay".into(),
        store: Some(store.dir.clone()),
        layers: diff_ids.clone(),
        reference: image.reference.clone(),
    };
    write_json(&staging.path.join(MARKER), &marker)?;
    store.add_refs(bundle, &diff_ids)?;
    // The overlay is mounted at the bundle's final path (its options name
    // the upper and work directories), so from here on a failure removes
    // the bundle itself.
    if let Err(e) = staging.commit(bundle) {
        let _ = store.remove_refs(bundle);
        return Err(e);
    }
    let r = (|| {
        let lowers: Vec<PathBuf> = diff_ids.iter().rev().map(|d| store.layer(d)).collect();
        mount_overlay(bundle, &lowers, &store)?;
        let root = open_dir(&bundle.join("rootfs"))?;
        let spec = config::generate(&image.config, root.as_fd(), run)?;
        write_json(&bundle.join("config.json"), &spec)
    })();
    if let Err(e) = r {
        let _ = teardown(bundle, &store);
        return Err(e);
    }
    Ok(())
}

/// Reads, verifies, decompresses and applies layer `i` of `n`.
fn apply_layer(
    src: &Source,
    layer: &Layer,
    i: usize,
    n: usize,
    u: &mut Unpacker<'_>,
    progress: &progress::Progress,
) -> Result<()> {
    let name = match &layer.digest {
        Some(d) => format!("layer {}/{n} {d}", i + 1),
        None => format!("layer {}/{n} {}", i + 1, layer.file),
    };
    let (raw, size) = src.open_file(&layer.file).with_context(|| name.clone())?;
    progress.layer(i + 1, Some(layer.size.unwrap_or(size)));
    let raw = Verify::new(
        progress.reader(raw),
        name.clone(),
        layer.digest.clone(),
        Some(layer.size.unwrap_or(size)),
    );
    let raw_status = raw.status();
    let mut raw = BufReader::with_capacity(256 << 10, raw);
    let compression = match layer.compression {
        Compression::Detect => {
            let head = raw.fill_buf().with_context(|| format!("read {name}"))?;
            match head {
                [0x1f, 0x8b, ..] => Compression::Gzip,
                [0x28, 0xb5, 0x2f, 0xfd, ..] => Compression::Zstd,
                _ => Compression::None,
            }
        }
        c => c,
    };
    let tar: Box<dyn Read> = match compression {
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(raw)),
        Compression::Zstd => {
            Box::new(zstd::Decoder::with_buffer(raw).with_context(|| format!("read {name}"))?)
        }
        _ => Box::new(raw),
    };
    // The uncompressed stream must match the config's diff id; skip the
    // second hash when it is the same bytes with the same expected digest.
    let check_diff =
        compression != Compression::None || layer.digest.as_ref() != Some(&layer.diff_id);
    let want = check_diff.then(|| layer.diff_id.clone());
    let mut tar = Verify::new(
        tar,
        format!("{name} (uncompressed, diff id {})", layer.diff_id),
        want,
        None,
    );
    let diff_status = tar.status();
    let verdict = |e: anyhow::Error| -> anyhow::Error {
        // A digest mismatch explains whatever error it caused downstream
        // (a corrupt gzip stream fails before its end is hashed: then hash
        // the rest of the blob now).
        let interrupted = e.chain().any(|c| c.is::<progress::Interrupted>());
        let f = raw_status.borrow().failure.clone();
        let f = f
            .or_else(|| diff_status.borrow().failure.clone())
            .or_else(|| (!interrupted).then(|| recheck(src, layer, &name).err())?);
        match f {
            Some(msg) => anyhow::anyhow!(msg),
            None => e.context(name.clone()),
        }
    };
    u.apply(&mut tar).map_err(verdict)?;
    drain(&mut tar).map_err(|e| verdict(e.into()))?;
    // Decoders read their input to its end; this makes sure of it.
    if !raw_status.borrow().verified {
        bail!("{name}: the blob was not read to its end");
    }
    Ok(())
}

/// Hashes the whole stored blob of `layer` (when its digest is known);
/// the error says how it differs.
fn recheck(src: &Source, layer: &Layer, name: &str) -> std::result::Result<(), String> {
    let Some(want) = &layer.digest else {
        return Ok(());
    };
    let Ok((r, size)) = src.open_file(&layer.file) else {
        return Ok(());
    };
    let mut v = Verify::new(
        r,
        name.to_string(),
        Some(want.clone()),
        Some(layer.size.unwrap_or(size)),
    );
    drain(&mut v).map_err(|e| e.to_string())
}

/// Mounts the overlay of `lowers` (topmost first) on BUNDLE/rootfs.
fn mount_overlay(bundle: &Path, lowers: &[PathBuf], store: &Store) -> Result<()> {
    let check = |p: &Path| -> Result<String> {
        let s = p
            .to_str()
            .with_context(|| format!("{} is not UTF-8", p.display()))?;
        if s.contains([',', ':', '\\']) {
            bail!("{s}: overlay paths cannot contain ',', ':' or '\\'");
        }
        Ok(s.to_string())
    };
    let upper = check(&bundle.join("upper"))?;
    let work = check(&bundle.join("work"))?;
    let mut lower: Vec<String> = lowers.iter().map(|l| check(l)).collect::<Result<_>>()?;
    if lower.is_empty() {
        let empty = store.dir.join("empty");
        mkdir(&empty, 0o755).or_else(|e| if empty.is_dir() { Ok(()) } else { Err(e) })?;
        lower.push(check(&empty)?);
    }
    let mut data = format!(
        "lowerdir={},upperdir={upper},workdir={work}",
        lower.join(":")
    );
    // Mount options are limited to one page: with many layers, name them
    // relative to the store (the mount resolves them from our cwd).
    if data.len() > 4000 {
        let ldir = store.dir.join("layers/sha256");
        std::env::set_current_dir(&ldir).with_context(|| format!("chdir {}", ldir.display()))?;
        let rel: Vec<String> = lowers
            .iter()
            .map(|l| {
                l.file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        data = format!("lowerdir={},upperdir={upper},workdir={work}", rel.join(":"));
    }
    let target = bundle.join("rootfs");
    nix::mount::mount(
        Some("overlay"),
        &target,
        Some("overlay"),
        nix::mount::MsFlags::empty(),
        Some(data.as_str()),
    )
    .with_context(|| format!("mount overlay on {}", target.display()))
}

/// Unmounts and removes an overlay bundle and its refs.
fn teardown(bundle: &Path, store: &Store) -> Result<()> {
    let rootfs = bundle.join("rootfs");
    if is_mount_point(&rootfs)? {
        nix::mount::umount(&rootfs).with_context(|| {
            format!(
                "unmount {} (is a container still using it?)",
                rootfs.display()
            )
        })?;
    }
    store.remove_refs(bundle)?;
    remove_tree(bundle)
}

/// Unmounts (overlay mode) and removes a bundle made by `husk bundle`.
pub fn remove(bundle: &Path) -> Result<()> {
    let bundle = absolute(bundle)?;
    let mp = bundle.join(MARKER);
    let text = std::fs::read(&mp).with_context(|| {
        format!(
            "{} is not a bundle made by husk bundle (no {MARKER})",
            bundle.display()
        )
    })?;
    let marker: Marker =
        serde_json::from_slice(&text).with_context(|| format!("parse {}", mp.display()))?;
    match (marker.mode.as_str(), &marker.store) {
        ("overlay", Some(store)) => {
            let store = Store::open(store, false)?;
            teardown(&bundle, &store)
        }
        ("copy", _) => remove_tree(&bundle),
        (m, _) => bail!("{}: unknown bundle mode {m:?}", mp.display()),
    }
}

/// Removes the layers of `store_dir` that no bundle uses; returns them.
pub fn gc(store_dir: &Path) -> Result<Vec<String>> {
    if !store_dir.join("layers").is_dir() {
        bail!(
            "{} is not a layer store (no layers directory)",
            store_dir.display()
        );
    }
    let store = Store::open(store_dir, true)?;
    let removed = store.gc(|bundle| {
        std::fs::read(bundle.join(MARKER))
            .ok()
            .and_then(|t| serde_json::from_slice::<Marker>(&t).ok())
            .is_some_and(|m| m.store.as_deref() == Some(store.dir.as_path()))
    })?;
    Ok(removed.iter().map(|d| d.to_string()).collect())
}

/// The bundle path made absolute through its (existing) parent.
fn absolute(p: &Path) -> Result<PathBuf> {
    let name = p
        .file_name()
        .filter(|n| *n != "." && *n != "..")
        .with_context(|| format!("invalid bundle path {}", p.display()))?;
    let parent = match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let parent = parent
        .canonicalize()
        .with_context(|| format!("bundle directory {}: parent", p.display()))?;
    Ok(parent.join(name))
}

/// The target must not exist, or be an empty directory.
fn check_target(bundle: &Path) -> Result<()> {
    match std::fs::symlink_metadata(bundle) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("stat {}", bundle.display())),
        Ok(m) if m.is_dir() => {
            let mut rd =
                std::fs::read_dir(bundle).with_context(|| format!("read {}", bundle.display()))?;
            if rd.next().is_some() {
                bail!(
                    "bundle directory {} exists and is not empty",
                    bundle.display()
                );
            }
            if is_mount_point(bundle)? {
                bail!("bundle directory {} is a mount point", bundle.display());
            }
            Ok(())
        }
        Ok(_) => bail!("{} exists and is not a directory", bundle.display()),
    }
}

fn is_mount_point(p: &Path) -> Result<bool> {
    use std::os::unix::fs::MetadataExt;
    let Ok(m) = std::fs::symlink_metadata(p) else {
        return Ok(false);
    };
    let parent = p.parent().unwrap_or(Path::new("/"));
    let pm = std::fs::metadata(parent).with_context(|| format!("stat {}", parent.display()))?;
    // A bind mount of a directory of the same file system keeps st_dev:
    // mountinfo settles it.
    if m.dev() != pm.dev() {
        return Ok(true);
    }
    Ok(crate::linux::mountinfo::read()?
        .iter()
        .any(|m| m.mount_point == p))
}

/// The temporary directory a bundle is built in, next to its target;
/// removed on drop unless committed.
struct Staging {
    path: PathBuf,
    done: std::cell::Cell<bool>,
}

impl Staging {
    fn new(bundle: &Path) -> Result<Staging> {
        let name = bundle.file_name().unwrap_or_default().to_string_lossy();
        let path = bundle.with_file_name(format!(".{name}.husk-tmp-{}", std::process::id()));
        remove_tree(&path)?;
        mkdir(&path, 0o700)?;
        Ok(Staging {
            path,
            done: std::cell::Cell::new(false),
        })
    }

    fn commit(&self, bundle: &Path) -> Result<()> {
        std::fs::set_permissions(
            &self.path,
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .with_context(|| format!("chmod {}", self.path.display()))?;
        // Replaces an empty directory, fails on anything else.
        std::fs::rename(&self.path, bundle)
            .with_context(|| format!("rename {} to {}", self.path.display(), bundle.display()))?;
        self.done.set(true);
        Ok(())
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.done.get() {
            let _ = remove_tree(&self.path);
        }
    }
}

fn mkdir(p: &Path, mode: u32) -> Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .mode(mode)
        .create(p)
        .with_context(|| format!("create {}", p.display()))
}

fn open_dir(p: &Path) -> Result<std::os::fd::OwnedFd> {
    nix::fcntl::open(
        p,
        nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .with_context(|| format!("open {}", p.display()))
}

fn write_json<T: Serialize>(p: &Path, v: &T) -> Result<()> {
    let mut text = serde_json::to_vec_pretty(v)?;
    text.push(b'\n');
    write_atomic(p, &text)
}

/// Writes `p` through a temporary file and a rename.
fn write_atomic(p: &Path, data: &[u8]) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = p.with_extension(format!("tmp-{}", std::process::id()));
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o644)
        .open(&tmp)
        .and_then(|mut f| f.write_all(data))
        .with_context(|| format!("write {}", tmp.display()))?;
    std::fs::rename(&tmp, p).with_context(|| format!("rename {} to {}", tmp.display(), p.display()))
}
