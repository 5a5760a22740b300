//! Namespaces: clone flags for the new ones, fds for the joined ones, and
//! the uid/gid maps the parent writes for a new user namespace.

use crate::spec::NsEntry;
use anyhow::{Context, Result};
use oci_spec::runtime::{LinuxIdMapping, LinuxNamespaceType};
use std::os::fd::OwnedFd;

/// The order in which joined namespaces are entered: user first (it grants
/// the rights for the rest), mount last (it changes what paths mean).
pub const JOIN_ORDER: [LinuxNamespaceType; 8] = [
    LinuxNamespaceType::User,
    LinuxNamespaceType::Ipc,
    LinuxNamespaceType::Uts,
    LinuxNamespaceType::Network,
    LinuxNamespaceType::Pid,
    LinuxNamespaceType::Time,
    LinuxNamespaceType::Cgroup,
    LinuxNamespaceType::Mount,
];

/// Open every namespace to join, in the order it is joined (before any
/// side effect, so a bad path fails early and names the field).
pub fn open_joins(nss: &[NsEntry]) -> Result<Vec<(LinuxNamespaceType, OwnedFd)>> {
    let mut out = Vec::new();
    for typ in JOIN_ORDER {
        if let Some(path) = nss
            .iter()
            .find(|n| n.typ == typ)
            .and_then(|n| n.path.as_ref())
        {
            let fd = std::fs::File::open(path).with_context(|| {
                format!("linux.namespaces: open {typ} namespace {}", path.display())
            })?;
            out.push((typ, OwnedFd::from(fd)));
        }
    }
    Ok(out)
}

pub fn flag(typ: LinuxNamespaceType) -> nix::sched::CloneFlags {
    nix::sched::CloneFlags::from_bits_retain(typ as libc::c_int)
}

fn map_text(maps: &[LinuxIdMapping]) -> String {
    maps.iter()
        .map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size()))
        .collect()
}

/// Write /proc/PID/{uid,gid}_map for the child's new user namespace.
pub fn write_id_maps(pid: i32, uid: &[LinuxIdMapping], gid: &[LinuxIdMapping]) -> Result<()> {
    if !uid.is_empty() {
        std::fs::write(format!("/proc/{pid}/uid_map"), map_text(uid))
            .context("write uid_map (linux.uidMappings)")?;
    }
    if !gid.is_empty() {
        std::fs::write(format!("/proc/{pid}/gid_map"), map_text(gid))
            .context("write gid_map (linux.gidMappings)")?;
    }
    Ok(())
}
