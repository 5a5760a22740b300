//! maskedPaths and readonlyPaths, applied after pivot_root. Paths are
//! resolved inside the new root (`..` and symlinks included, kernel-style:
//! `/sys/../proc/kcore` is `/proc/kcore`) and mounted through their fd, so
//! a symlink cannot redirect the mount.

use super::resolve;
use super::sys;
use anyhow::{Context, Result};
use nix::fcntl::OFlag;
use nix::mount::{mount, MsFlags};
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

const NONE: Option<&str> = None;

fn open_root() -> Result<OwnedFd> {
    let fd = nix::fcntl::open(
        "/",
        nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )?;
    Ok(fd)
}

/// Flags of the mount that holds `path` that a bind remount must keep: in a
/// user namespace the kernel refuses to clear them ("locked" flags).
pub fn locked_flags(path: &str) -> MsFlags {
    use nix::sys::statvfs::{statvfs, FsFlags};
    let Ok(st) = statvfs(path) else {
        return MsFlags::empty();
    };
    let f = st.flags();
    let mut out = MsFlags::empty();
    for (a, b) in [
        (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
        (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
        (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
        (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
        (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
        (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
    ] {
        if f.contains(a) {
            out |= b;
        }
    }
    out
}

/// Hide each path: /dev/null over a file, an empty read-only tmpfs over a
/// directory. Missing paths are skipped.
pub fn mask(paths: &[String]) -> Result<()> {
    let root = open_root()?;
    for p in paths {
        let fd = match resolve::open(root.as_fd(), Path::new(p), OFlag::O_PATH) {
            Ok(fd) => fd,
            Err(nix::errno::Errno::ENOENT) => continue,
            Err(e) => return Err(e).with_context(|| format!("maskedPaths: open {p}")),
        };
        let target = sys::fd_path(&fd);
        let is_dir = nix::sys::stat::fstat(&fd)
            .map(|s| s.st_mode & libc::S_IFMT == libc::S_IFDIR)
            .unwrap_or(false);
        let r = if is_dir {
            mount(
                Some("tmpfs"),
                target.as_str(),
                Some("tmpfs"),
                MsFlags::MS_RDONLY,
                Some("size=0"),
            )
        } else {
            mount(
                Some("/dev/null"),
                target.as_str(),
                NONE,
                MsFlags::MS_BIND,
                NONE,
            )
        };
        r.with_context(|| format!("maskedPaths: mask {p}"))?;
    }
    Ok(())
}

/// Make each path a read-only bind mount of itself. Missing paths are skipped.
pub fn readonly(paths: &[String]) -> Result<()> {
    let root = open_root()?;
    for p in paths {
        let fd = match resolve::open(root.as_fd(), Path::new(p), OFlag::O_PATH) {
            Ok(fd) => fd,
            Err(nix::errno::Errno::ENOENT) => continue,
            Err(e) => return Err(e).with_context(|| format!("readonlyPaths: open {p}")),
        };
        let target = sys::fd_path(&fd);
        mount(
            Some(target.as_str()),
            target.as_str(),
            NONE,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            NONE,
        )
        .with_context(|| format!("readonlyPaths: bind {p}"))?;
        drop(fd);
        let fd = resolve::open(root.as_fd(), Path::new(p), OFlag::O_PATH)
            .with_context(|| format!("readonlyPaths: reopen {p}"))?;
        let target = sys::fd_path(&fd);
        let f = MsFlags::MS_BIND
            | MsFlags::MS_REMOUNT
            | MsFlags::MS_RDONLY
            | MsFlags::MS_REC
            | locked_flags(&target);
        mount(NONE, target.as_str(), NONE, f, NONE)
            .with_context(|| format!("readonlyPaths: remount {p} read-only"))?;
    }
    Ok(())
}
