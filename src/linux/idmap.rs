//! Idmapped bind mounts: a mount's `uidMappings`/`gidMappings`, or the
//! `idmap` / `ridmap` options (which default to the container's own maps).
//!
//! Setting MOUNT_ATTR_IDMAP needs privileges over the filesystem that a
//! process inside the container's user namespace does not have, so the
//! parent (still on the host) makes each idmapped mount as a detached tree
//! before the clone; the child inherits the fd and moves it into place.
//! Which mounts are idmapped, and with which maps, the plan decided
//! (`spec::plan::IdmapPlan`).

use super::clone::{clone, Forked};
use super::sys;
use anyhow::{Context, Result};
use oci_spec::runtime::LinuxIdMapping;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

/// The uid and gid maps of one idmapped mount.
#[derive(Debug, Clone, Default)]
pub struct IdMaps {
    pub uid: Vec<LinuxIdMapping>,
    pub gid: Vec<LinuxIdMapping>,
}

/// A detached copy of the mount tree at `source` (recursive with `rbind`),
/// idmapped with `maps` (on every mount of the copy with `recursive`).
pub fn idmapped_tree(
    source: &Path,
    rbind: bool,
    maps: &IdMaps,
    recursive: bool,
) -> Result<OwnedFd> {
    let userns = userns_with(maps)?;
    let tree = sys::open_tree_clone(source, rbind)
        .with_context(|| format!("open_tree {}", source.display()))?;
    sys::mount_setattr(
        tree.as_fd(),
        recursive,
        sys::MOUNT_ATTR_IDMAP,
        0,
        Some(userns.as_fd()),
    )
    .with_context(|| {
        format!(
            "mount_setattr MOUNT_ATTR_IDMAP (does the filesystem of {} support idmapped mounts?)",
            source.display()
        )
    })?;
    Ok(tree)
}

/// A user namespace with these maps: a short-lived child unshares one, we
/// write its maps, keep an fd to it, and kill the child.
fn userns_with(maps: &IdMaps) -> Result<OwnedFd> {
    let child = match clone(libc::CLONE_NEWUSER)? {
        Forked::Child => loop {
            // Wait to be killed; never return into the caller's code.
            nix::unistd::pause();
        },
        Forked::Parent(pid) => pid,
    };
    let pid = nix::unistd::Pid::from_raw(child);
    let result = (|| -> Result<OwnedFd> {
        super::namespaces::write_id_maps(child, &maps.uid, &maps.gid)?;
        let f = std::fs::File::open(format!("/proc/{child}/ns/user"))
            .context("open the mapping user namespace")?;
        Ok(OwnedFd::from(f))
    })();
    let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
    let _ = nix::sys::wait::waitpid(pid, None);
    result
}

/// In the child: put the prepared tree at `target` (a /proc/self/fd path).
pub fn attach(tree: &OwnedFd, target: &str) -> Result<()> {
    sys::move_mount_to(tree.as_fd(), std::path::Path::new(target))
        .context("move_mount of the idmapped tree")
}
