//! Fuzz entry points for `husk bundle`'s input handling (see
//! `crate::fuzzing`): image archives (tar indexing, index.json,
//! manifest.json, manifests, image configs, platform and tag choice) and
//! layer tars (entries, whiteouts, links, `..`, metadata).
//!
//! Unpacking runs as root and writes files, so [`sandbox`] first moves the
//! calling thread into a private mount namespace in which every host mount
//! is read-only and a fresh tmpfs (nodev, nosuid) on /tmp/husk-fuzz is the
//! only writable place. A bug that escapes the layer's root then fails with
//! EROFS instead of writing to the host, and an escape inside the scratch
//! tmpfs is caught by the check after each layer. The directories the
//! fuzzer itself writes (corpus, artifacts; found on its command line) are
//! bound back in writable.

use super::progress::Interrupt;
use super::reference::{Format, Select};
use super::select::{host_platform, parse_platform, select};
use super::source::Source;
use super::unpack::{Unpacker, Whiteouts};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

const SCRATCH: &str = "/tmp/husk-fuzz";

/// Enter the sandbox (once per thread that calls it; the fuzz targets and
/// the replay test each use one thread). Panics if it cannot be made:
/// fuzzing the unpacker without it could write anywhere.
pub fn sandbox() {
    thread_local!(static DONE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) });
    if DONE.with(|d| d.get()) {
        return;
    }
    use nix::mount::{mount, MsFlags};
    // Where libFuzzer writes (new corpus units, crash artifacts): these
    // stay writable.
    let keep = fuzzer_output_dirs();
    std::fs::create_dir_all(SCRATCH).expect("fuzz sandbox: scratch directory");
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS)
        .expect("fuzz sandbox: unshare(CLONE_NEWNS) (run as root)");
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .expect("fuzz sandbox: make / private");
    // A mount of their own, which the read-only pass below skips.
    for p in &keep {
        mount(
            Some(p.as_path()),
            p.as_path(),
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .unwrap_or_else(|e| panic!("fuzz sandbox: bind {}: {e}", p.display()));
    }
    let mounts = crate::linux::mountinfo::read().expect("read mountinfo");
    for m in &mounts {
        let mp = &m.mount_point;
        if keep.contains(mp) {
            continue;
        }
        let r = mount(
            None::<&str>,
            mp.as_path(),
            None::<&str>,
            MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY,
            None::<&str>,
        );
        if mp == Path::new("/") {
            r.expect("fuzz sandbox: remount / read-only");
        }
    }
    mount(
        Some("tmpfs"),
        SCRATCH,
        Some("tmpfs"),
        MsFlags::MS_NODEV | MsFlags::MS_NOSUID,
        Some("size=256m"),
    )
    .expect("fuzz sandbox: tmpfs on the scratch directory");
    DONE.with(|d| d.set(true));
}

/// The directories a libFuzzer run writes to, from its command line: the
/// corpus directories and the directory of `-artifact_prefix` or
/// `-exact_artifact_path`.
fn fuzzer_output_dirs() -> Vec<PathBuf> {
    let mut out = Vec::new();
    for a in std::env::args_os().skip(1) {
        let Some(a) = a.to_str() else { continue };
        let p = if let Some(v) = a.strip_prefix("-artifact_prefix=") {
            if v.ends_with('/') {
                PathBuf::from(v)
            } else {
                Path::new(v)
                    .parent()
                    .map(Path::to_path_buf)
                    .unwrap_or_default()
            }
        } else if let Some(v) = a.strip_prefix("-exact_artifact_path=") {
            Path::new(v)
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_default()
        } else if a.starts_with('-') {
            continue;
        } else {
            PathBuf::from(a)
        };
        if let Ok(p) = std::fs::canonicalize(if p.as_os_str().is_empty() {
            Path::new(".")
        } else {
            &p
        }) {
            if p.is_dir() && p != Path::new("/") && !out.contains(&p) {
                out.push(p);
            }
        }
    }
    out
}

fn interrupt() -> &'static Interrupt {
    static I: OnceLock<Interrupt> = OnceLock::new();
    I.get_or_init(|| Interrupt::install().expect("signalfd"))
}

/// An image archive (docker save, OCI archive, gzip/zstd compressed or
/// not): open it and choose an image the way `husk bundle` does.
pub fn image_archive(data: &[u8]) {
    sandbox();
    let dir = Path::new(SCRATCH).join(format!("img-{:?}", std::thread::current().id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("scratch")).expect("scratch");
    let archive = dir.join("image.tar");
    std::fs::write(&archive, data).expect("write the archive");
    if let Ok(src) = Source::open(&archive, &dir.join("scratch")) {
        let arm = parse_platform("linux/arm64/v8").unwrap();
        let _ = select(&src, &Select::Only, Format::Any, &host_platform());
        let _ = select(&src, &Select::Tag("latest".into()), Format::Any, &arm);
        let _ = select(
            &src,
            &Select::RefName("latest".into()),
            Format::OciArchive,
            &arm,
        );
        let _ = select(&src, &Select::Index(1), Format::DockerArchive, &arm);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A layer tar, applied to an empty root both ways (flat and overlay).
/// Panics if anything appears outside the root.
pub fn tar_layer(data: &[u8]) {
    sandbox();
    for whiteouts in [Whiteouts::Remove, Whiteouts::Overlay] {
        let base = Path::new(SCRATCH).join(format!("layer-{:?}", std::thread::current().id()));
        let _ = std::fs::remove_dir_all(&base);
        let root = base.join("root");
        let outside = base.join("outside");
        std::fs::create_dir_all(&root).expect("layer root");
        std::fs::create_dir_all(&outside).expect("outside");
        std::fs::write(outside.join("canary"), b"canary").expect("canary");
        if let Ok(mut u) = Unpacker::new(&root, whiteouts, interrupt()) {
            let _ = u.apply(data);
        }
        let names = |d: &Path| -> Vec<PathBuf> {
            let mut v: Vec<PathBuf> = std::fs::read_dir(d)
                .map(|rd| rd.flatten().map(|e| e.path()).collect())
                .unwrap_or_default();
            v.sort();
            v
        };
        assert_eq!(
            names(&base),
            vec![outside.clone(), root.clone()],
            "a layer entry escaped its root"
        );
        assert_eq!(
            names(&outside),
            vec![outside.join("canary")],
            "a layer entry escaped its root"
        );
        assert_eq!(
            std::fs::read(outside.join("canary")).ok().as_deref(),
            Some(&b"canary"[..]),
            "a layer entry escaped its root"
        );
        let _ = std::fs::remove_dir_all(&base);
    }
}
