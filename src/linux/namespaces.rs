//! Namespaces: clone flags for the new ones, fds for the joined ones, and
//! the uid/gid maps the parent writes for a new user namespace.

use anyhow::{bail, Context, Result};
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

/// A namespace of the config: created new, or joined through `path`.
#[derive(Debug, Clone)]
pub struct NsEntry {
    pub typ: LinuxNamespaceType,
    pub path: Option<std::path::PathBuf>,
}

impl NsEntry {
    pub fn clone_flag(&self) -> libc::c_int {
        self.typ as libc::c_int
    }
}

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
///
/// As runc: a map is written directly when the kernel allows it (root, or
/// an unprivileged user mapping only its own id); on EPERM, by the setuid
/// helper `newuidmap`/`newgidmap` (package uidmap), which maps the ranges
/// /etc/subuid and /etc/subgid grant the user. An unprivileged user that
/// maps only its own gid first writes `deny` to /proc/PID/setgroups, which
/// the kernel requires (the helper decides that itself otherwise).
pub fn write_id_maps(pid: i32, uid: &[LinuxIdMapping], gid: &[LinuxIdMapping]) -> Result<()> {
    let unprivileged = !nix::unistd::geteuid().is_root();
    if !uid.is_empty() {
        write_map(pid, IdKind::Uid, uid, unprivileged)?;
    }
    if !gid.is_empty() {
        let egid = nix::unistd::getegid().as_raw();
        if unprivileged && only_own_id(gid, egid) {
            std::fs::write(format!("/proc/{pid}/setgroups"), "deny")
                .with_context(|| format!("write deny to /proc/{pid}/setgroups (linux.gidMappings: an unprivileged user's own gid)"))?;
        }
        write_map(pid, IdKind::Gid, gid, unprivileged)?;
    }
    Ok(())
}

#[derive(Clone, Copy)]
enum IdKind {
    Uid,
    Gid,
}

impl IdKind {
    fn file(self) -> &'static str {
        match self {
            IdKind::Uid => "uid_map",
            IdKind::Gid => "gid_map",
        }
    }
    fn field(self) -> &'static str {
        match self {
            IdKind::Uid => "linux.uidMappings",
            IdKind::Gid => "linux.gidMappings",
        }
    }
    fn helper(self) -> &'static str {
        match self {
            IdKind::Uid => "newuidmap",
            IdKind::Gid => "newgidmap",
        }
    }
    fn own(self) -> u32 {
        match self {
            IdKind::Uid => nix::unistd::geteuid().as_raw(),
            IdKind::Gid => nix::unistd::getegid().as_raw(),
        }
    }
    fn name(self) -> &'static str {
        match self {
            IdKind::Uid => "uid",
            IdKind::Gid => "gid",
        }
    }
}

/// One range of size 1 mapping `id` (the only map an unprivileged process
/// may write itself).
fn only_own_id(maps: &[LinuxIdMapping], id: u32) -> bool {
    matches!(maps, [m] if m.size() == 1 && m.host_id() == id)
}

fn write_map(pid: i32, kind: IdKind, maps: &[LinuxIdMapping], unprivileged: bool) -> Result<()> {
    let path = format!("/proc/{pid}/{}", kind.file());
    let err = match std::fs::write(&path, map_text(maps)) {
        Ok(()) => return Ok(()),
        Err(e) => e,
    };
    if err.raw_os_error() != Some(libc::EPERM) {
        return Err(err).with_context(|| format!("write {} ({})", kind.file(), kind.field()));
    }
    let Some(helper) = super::rootless::find_helper(kind.helper()) else {
        if unprivileged {
            bail!(
                "write {} ({}): {err}: without {} (package uidmap, not found) an unprivileged user can map only its own {} {} as one id",
                kind.file(),
                kind.field(),
                kind.helper(),
                kind.name(),
                kind.own()
            );
        }
        return Err(err).with_context(|| format!("write {} ({})", kind.file(), kind.field()));
    };
    let mut args = vec![pid.to_string()];
    for m in maps {
        args.extend([
            m.container_id().to_string(),
            m.host_id().to_string(),
            m.size().to_string(),
        ]);
    }
    let out = std::process::Command::new(&helper)
        .args(&args)
        .stdin(std::process::Stdio::null())
        .output()
        .with_context(|| {
            format!(
                "{} ({}): run {}",
                kind.file(),
                kind.field(),
                helper.display()
            )
        })?;
    if !out.status.success() {
        let msg = String::from_utf8_lossy(&out.stderr)
            .trim()
            .replace('\n', "; ");
        bail!(
            "{} {} ({}): {}: {msg} (the ids must be granted to the user in /etc/sub{})",
            helper.display(),
            args.join(" "),
            kind.field(),
            out.status,
            kind.name()
        );
    }
    Ok(())
}
