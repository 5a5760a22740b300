//! cgroup manager for v1 (including this host's hybrid layout) and v2.
//!
//! The interface is small, as crun's: `apply(pid)`, `set(resources)`,
//! `freeze`, `pids`, `destroy`. Paths are plain cgroupfs writes: no D-Bus,
//! no threads.

pub mod v1;
pub mod v2;

use anyhow::{bail, Context, Result};
use oci_spec::runtime::LinuxResources;
use std::path::{Path, PathBuf};

pub const ROOT: &str = "/sys/fs/cgroup";
const CGROUP_SUPER_MAGIC: i64 = 0x27e0eb;
const CGROUP2_SUPER_MAGIC: i64 = 0x63677270;
/// Parent of relative and default cgroup paths (never the caller's cgroup).
pub const DEFAULT_PARENT: &str = "/husk";

#[derive(Debug, Clone)]
pub enum Layout {
    /// v1 (or hybrid): each hierarchy's mount point with its controllers,
    /// plus the cgroup2 mount of a hybrid host.
    V1 {
        hierarchies: Vec<(Vec<String>, PathBuf)>,
        unified: Option<PathBuf>,
    },
    V2 {
        mount: PathBuf,
    },
}

fn fs_magic(p: &Path) -> Option<i64> {
    nix::sys::statfs::statfs(p)
        .ok()
        .map(|s| s.filesystem_type().0 as i64)
}

impl Layout {
    pub fn detect() -> Result<Layout> {
        let root = Path::new(ROOT);
        match fs_magic(root) {
            Some(CGROUP2_SUPER_MAGIC) => {
                return Ok(Layout::V2 {
                    mount: root.to_path_buf(),
                })
            }
            None => bail!("cgroups: {ROOT} is not mounted"),
            _ => {}
        }
        let mut hierarchies = Vec::new();
        let mut unified = None;
        let entries = std::fs::read_dir(root).with_context(|| format!("read {ROOT}"))?;
        for e in entries.flatten() {
            if e.file_type().map(|t| t.is_symlink()).unwrap_or(true) {
                continue;
            }
            let path = e.path();
            match fs_magic(&path) {
                Some(CGROUP_SUPER_MAGIC) => {
                    let name = e.file_name().to_string_lossy().into_owned();
                    let ctrls = name
                        .split(',')
                        .map(|c| {
                            if c == "systemd" {
                                "name=systemd".to_string()
                            } else {
                                c.to_string()
                            }
                        })
                        .collect();
                    hierarchies.push((ctrls, path));
                }
                Some(CGROUP2_SUPER_MAGIC) => unified = Some(path),
                _ => {}
            }
        }
        hierarchies.sort_by(|a, b| a.1.cmp(&b.1));
        Ok(Layout::V1 {
            hierarchies,
            unified,
        })
    }

    pub fn is_v2(&self) -> bool {
        matches!(self, Layout::V2 { .. })
    }

    /// Mount point of the v1 hierarchy holding `controller`.
    pub fn v1_mount(&self, controller: &str) -> Option<&Path> {
        match self {
            Layout::V1 { hierarchies, .. } => hierarchies
                .iter()
                .find(|(c, _)| c.iter().any(|x| x == controller))
                .map(|(_, p)| p.as_path()),
            Layout::V2 { .. } => None,
        }
    }
}

/// Turn `linux.cgroupsPath` into a cgroupfs path relative to each
/// hierarchy's mount point (always starting with '/').
pub fn resolve_path(cgroups_path: Option<&Path>, id: &str, systemd: bool) -> Result<String> {
    let raw = cgroups_path
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default();
    if systemd {
        // slice:prefix:name → <slice hierarchy>/<prefix>-<name>.scope, the
        // path systemd would give the unit. There is no systemd here to ask,
        // so husk writes the same place through cgroupfs.
        let parts: Vec<&str> = if raw.is_empty() {
            vec!["", "husk", id]
        } else {
            raw.split(':').collect()
        };
        if parts.len() != 3 {
            bail!(
                "linux.cgroupsPath: expected slice:prefix:name with --systemd-cgroup, got {raw:?}"
            );
        }
        let slice = if parts[0].is_empty() {
            "system.slice"
        } else {
            parts[0]
        };
        let mut path = expand_slice(slice)?;
        let unit = if parts[2].ends_with(".slice") {
            parts[2].to_string()
        } else if parts[1].is_empty() {
            format!("{}.scope", parts[2])
        } else {
            format!("{}-{}.scope", parts[1], parts[2])
        };
        path.push('/');
        path.push_str(&unit);
        return Ok(path);
    }
    let path = if raw.is_empty() {
        format!("{DEFAULT_PARENT}/{id}")
    } else if raw.starts_with('/') {
        raw
    } else {
        format!("{DEFAULT_PARENT}/{raw}")
    };
    // Normalise and refuse escapes: the path is joined under each mount.
    let mut out = String::new();
    for comp in path.split('/').filter(|c| !c.is_empty() && *c != ".") {
        if comp == ".." {
            bail!("linux.cgroupsPath: {path:?} must not contain '..'");
        }
        out.push('/');
        out.push_str(comp);
    }
    if out.is_empty() {
        bail!("linux.cgroupsPath: {path:?} names the root cgroup");
    }
    Ok(out)
}

/// systemd's slice naming: a-b.slice lives at /a.slice/a-b.slice.
fn expand_slice(slice: &str) -> Result<String> {
    let name = slice
        .strip_suffix(".slice")
        .with_context(|| format!("linux.cgroupsPath: invalid slice {slice:?}"))?;
    if name == "-" || name.is_empty() {
        return Ok(String::new());
    }
    if name.contains('/') || name.starts_with('-') || name.ends_with('-') || name.contains("--") {
        bail!("linux.cgroupsPath: invalid slice {slice:?}");
    }
    let mut out = String::new();
    let mut prefix = String::new();
    for part in name.split('-') {
        if !prefix.is_empty() {
            prefix.push('-');
        }
        prefix.push_str(part);
        out.push('/');
        out.push_str(&prefix);
        out.push_str(".slice");
    }
    Ok(out)
}

/// Devices every container may use whatever `linux.resources.devices`
/// says, appended after the spec's rules as runc does: mknod of anything
/// (creating a node is harmless without access), the standard character
/// devices, ptys and tun.
pub fn default_device_rules() -> Vec<oci_spec::runtime::LinuxDeviceCgroup> {
    use oci_spec::runtime::{LinuxDeviceCgroupBuilder, LinuxDeviceType};
    let rule = |typ: LinuxDeviceType, major: Option<i64>, minor: Option<i64>, access: &str| {
        let mut b = LinuxDeviceCgroupBuilder::default()
            .allow(true)
            .typ(typ)
            .access(access);
        if let Some(m) = major {
            b = b.major(m);
        }
        if let Some(m) = minor {
            b = b.minor(m);
        }
        b.build().expect("all fields set")
    };
    use LinuxDeviceType::{B, C};
    vec![
        rule(C, None, None, "m"),
        rule(B, None, None, "m"),
        rule(C, Some(1), Some(3), "rwm"),
        rule(C, Some(1), Some(8), "rwm"),
        rule(C, Some(1), Some(7), "rwm"),
        rule(C, Some(5), Some(0), "rwm"),
        rule(C, Some(1), Some(5), "rwm"),
        rule(C, Some(1), Some(9), "rwm"),
        rule(C, Some(136), None, "rwm"),
        rule(C, Some(5), Some(2), "rwm"),
        rule(C, Some(10), Some(200), "rwm"),
    ]
}

pub struct Cgroup {
    pub path: String,
    layout: Option<Layout>,
}

impl Cgroup {
    pub fn new(path: &str) -> Cgroup {
        Cgroup {
            path: path.to_string(),
            layout: None,
        }
    }

    pub fn layout(&mut self) -> Result<&Layout> {
        if self.layout.is_none() {
            self.layout = Some(Layout::detect()?);
        }
        Ok(self.layout.as_ref().expect("set above"))
    }

    /// Every directory of this cgroup, one per hierarchy.
    pub fn dirs(&mut self) -> Result<Vec<PathBuf>> {
        let rel = self.path.trim_start_matches('/').to_string();
        Ok(match self.layout()? {
            Layout::V2 { mount } => vec![mount.join(&rel)],
            Layout::V1 {
                hierarchies,
                unified,
            } => {
                let mut v: Vec<PathBuf> = hierarchies.iter().map(|(_, m)| m.join(&rel)).collect();
                if let Some(u) = unified {
                    v.push(u.join(&rel));
                }
                v
            }
        })
    }

    /// Create the cgroup in every hierarchy and move `pid` into it.
    pub fn apply(&mut self, pid: i32) -> Result<()> {
        if self.path.is_empty() {
            return Ok(());
        }
        let rel = self.path.clone();
        match self.layout()?.clone() {
            Layout::V2 { mount } => v2::create(&mount, &rel)?,
            Layout::V1 {
                hierarchies,
                unified,
            } => {
                for (ctrls, mount) in &hierarchies {
                    v1::create(ctrls, mount, &rel)?;
                }
                if let Some(u) = unified {
                    let dir = u.join(rel.trim_start_matches('/'));
                    std::fs::create_dir_all(&dir)
                        .with_context(|| format!("create cgroup {}", dir.display()))?;
                }
            }
        }
        let pid = pid.to_string();
        for dir in self.dirs()? {
            let f = dir.join("cgroup.procs");
            std::fs::write(&f, &pid)
                .with_context(|| format!("add pid {pid} to {}", f.display()))?;
        }
        Ok(())
    }

    /// Write the container's resource limits.
    pub fn set(&mut self, res: &LinuxResources) -> Result<()> {
        let rel = self.path.clone();
        match self.layout()?.clone() {
            Layout::V2 { mount } => v2::set(&mount.join(rel.trim_start_matches('/')), res),
            layout @ Layout::V1 { .. } => v1::set(&layout, &rel, res),
        }
    }

    pub fn is_frozen(&self) -> bool {
        if self.path.is_empty() {
            return false;
        }
        let rel = self.path.trim_start_matches('/');
        let v1 = Path::new(ROOT)
            .join("freezer")
            .join(rel)
            .join("freezer.state");
        match std::fs::read_to_string(&v1) {
            Ok(s) => s.trim() != "THAWED",
            Err(_) => std::fs::read_to_string(Path::new(ROOT).join(rel).join("cgroup.freeze"))
                .map(|s| s.trim() == "1")
                .unwrap_or(false),
        }
    }

    /// Freeze (pause) or thaw (resume) every process of the cgroup, and wait
    /// until the kernel says it is done.
    pub fn freeze(&mut self, frozen: bool) -> Result<()> {
        let rel = self.path.trim_start_matches('/').to_string();
        match self.layout()?.clone() {
            Layout::V2 { mount } => v2::freeze(&mount.join(&rel), frozen),
            layout @ Layout::V1 { .. } => {
                let m = layout
                    .v1_mount("freezer")
                    .context("cgroups: the freezer controller is not mounted")?;
                v1::freeze(&m.join(&rel), frozen)
            }
        }
    }

    /// Pids of every process in the cgroup.
    pub fn pids(&mut self) -> Result<Vec<i32>> {
        let rel = self.path.trim_start_matches('/').to_string();
        let dir = match self.layout()? {
            Layout::V2 { mount } => mount.join(&rel),
            l @ Layout::V1 { .. } => l
                .v1_mount("pids")
                .or_else(|| l.v1_mount("freezer"))
                .or_else(|| l.v1_mount("memory"))
                .context("cgroups: no v1 hierarchy to list pids from")?
                .join(&rel),
        };
        let f = dir.join("cgroup.procs");
        let s = std::fs::read_to_string(&f).with_context(|| format!("read {}", f.display()))?;
        Ok(s.lines().filter_map(|l| l.trim().parse().ok()).collect())
    }

    /// Remove the cgroup from every hierarchy. Processes must be gone; a
    /// directory that is still busy is retried for a short while.
    pub fn destroy(&mut self) -> Result<()> {
        if self.path.is_empty() {
            return Ok(());
        }
        let mut dirs = self.dirs()?;
        // Children first (e.g. sub-cgroups made by `exec --cgroup`).
        dirs.sort();
        let mut last_err = None;
        for dir in dirs {
            if let Err(e) = remove_tree(&dir) {
                last_err = Some(e);
            }
        }
        match last_err {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// rmdir a cgroup directory and any sub-cgroups, retrying while the kernel
/// still counts exiting tasks in it.
fn remove_tree(dir: &Path) -> Result<()> {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                remove_tree(&e.path())?;
            }
        }
    }
    let mut delay = std::time::Duration::from_micros(200);
    for _ in 0..40 {
        match std::fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                std::thread::sleep(delay);
                delay = (delay * 2).min(std::time::Duration::from_millis(50));
            }
            Err(e) => return Err(e).with_context(|| format!("remove cgroup {}", dir.display())),
        }
    }
    bail!("remove cgroup {}: still busy", dir.display())
}

#[cfg(test)]
mod tests {
    use super::resolve_path;
    use std::path::Path;
    #[test]
    fn paths() {
        assert_eq!(resolve_path(None, "c1", false).unwrap(), "/husk/c1");
        assert_eq!(
            resolve_path(Some(Path::new("/a/b")), "c1", false).unwrap(),
            "/a/b"
        );
        assert_eq!(
            resolve_path(Some(Path::new("x")), "c1", false).unwrap(),
            "/husk/x"
        );
        assert!(resolve_path(Some(Path::new("/a/../..")), "c1", false).is_err());
        assert_eq!(
            resolve_path(Some(Path::new("machine-a.slice:docker:abc")), "c1", true).unwrap(),
            "/machine.slice/machine-a.slice/docker-abc.scope"
        );
        assert_eq!(
            resolve_path(None, "c1", true).unwrap(),
            "/system.slice/husk-c1.scope"
        );
    }
}
