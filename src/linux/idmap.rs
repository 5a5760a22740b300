//! Idmapped bind mounts: a mount's `uidMappings`/`gidMappings`, or the
//! `idmap` / `ridmap` options (which default to the container's own maps).
//!
//! Setting MOUNT_ATTR_IDMAP needs privileges over the filesystem that a
//! process inside the container's user namespace does not have, so the
//! parent (still on the host) makes each idmapped mount as a detached tree
//! before the clone; the child inherits the fd and moves it into place.

use super::clone::{clone, Forked};
use super::mountopts;
use super::sys;
use crate::spec::Bundle;
use anyhow::{bail, Context, Result};
use oci_spec::runtime::LinuxIdMapping;
use std::os::fd::{AsFd, OwnedFd};

/// The uid and gid maps of one idmapped mount.
#[derive(Debug, Clone, Default)]
pub struct IdMaps {
    pub uid: Vec<LinuxIdMapping>,
    pub gid: Vec<LinuxIdMapping>,
}

/// For each entry of `mounts`, the maps to apply (or None). Errors name the
/// mount; checked before any side effect.
pub fn plan(b: &Bundle) -> Result<Vec<Option<(IdMaps, bool)>>> {
    let mounts = b.spec.mounts().as_deref().unwrap_or(&[]);
    let linux = b.spec.linux().as_ref();
    let mut out = Vec::with_capacity(mounts.len());
    for (i, m) in mounts.iter().enumerate() {
        let opts = mountopts::parse(m.options().as_deref().unwrap_or(&[]))
            .with_context(|| format!("mounts[{i}] ({})", m.destination().display()))?;
        let own = b.mount_idmaps.get(i).cloned().flatten();
        if own.is_none() && !opts.idmap {
            out.push(None);
            continue;
        }
        if !opts.is_bind() && m.typ().as_deref() != Some("bind") {
            bail!(
                "mounts[{i}] ({}): idmapped mounts are only supported for bind mounts",
                m.destination().display()
            );
        }
        let maps = match own {
            Some(m) => m,
            None => IdMaps {
                uid: linux
                    .and_then(|l| l.uid_mappings().clone())
                    .unwrap_or_default(),
                gid: linux
                    .and_then(|l| l.gid_mappings().clone())
                    .unwrap_or_default(),
            },
        };
        if maps.uid.is_empty() || maps.gid.is_empty() {
            bail!(
                "mounts[{i}] ({}): idmap needs uidMappings and gidMappings on the mount or in linux",
                m.destination().display()
            );
        }
        let recursive =
            opts.ridmap || (!opts.idmap && opts.flags.contains(nix::mount::MsFlags::MS_REC));
        out.push(Some((maps, recursive)));
    }
    Ok(out)
}

/// Make the detached idmapped trees, one per planned mount.
pub fn prepare(b: &Bundle, plan: &[Option<(IdMaps, bool)>]) -> Result<Vec<Option<OwnedFd>>> {
    let mounts = b.spec.mounts().as_deref().unwrap_or(&[]);
    let mut out = Vec::with_capacity(plan.len());
    for (i, p) in plan.iter().enumerate() {
        let Some((maps, recursive)) = p else {
            out.push(None);
            continue;
        };
        let m = &mounts[i];
        let what = || format!("mounts[{i}] ({})", m.destination().display());
        let source = m
            .source()
            .as_ref()
            .with_context(|| format!("{}: bind mount without source", what()))?;
        let opts = mountopts::parse(m.options().as_deref().unwrap_or(&[]))?;
        let rbind = opts.flags.contains(nix::mount::MsFlags::MS_REC);
        let userns = userns_with(maps).with_context(what)?;
        let tree = sys::open_tree_clone(source, rbind)
            .with_context(|| format!("{}: open_tree {}", what(), source.display()))?;
        sys::mount_setattr(tree.as_fd(), *recursive, sys::MOUNT_ATTR_IDMAP, 0, Some(userns.as_fd()))
            .with_context(|| format!("{}: mount_setattr MOUNT_ATTR_IDMAP (does the filesystem of {} support idmapped mounts?)", what(), source.display()))?;
        out.push(Some(tree));
    }
    Ok(out)
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
