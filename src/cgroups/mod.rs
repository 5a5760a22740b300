//! cgroup manager for v1 (including this host's hybrid layout) and v2.
//!
//! The interface is small, as crun's: `apply(pid)`, `set(resources)`,
//! `update`, `freeze`, `pids`, `stats`, `destroy`. Paths are plain cgroupfs
//! writes: no D-Bus, no threads.
//!
//! Files: `v1.rs`/`v2.rs` write the resources, `devices.rs` + `ebpf.rs`
//! the device rules (v2: an eBPF program), `stats.rs` + `collect.rs` the
//! statistics of `events`, `notify.rs` the OOM events, `sys.rs` the raw
//! syscalls (bpf, eventfd).

mod collect;
pub mod devices;
mod ebpf;
pub mod notify;
pub mod stats;
mod sys;
pub mod v1;
pub mod v2;

use anyhow::{bail, Context, Result};
use oci_spec::runtime::{LinuxBlockIo, LinuxMemory, LinuxRdma, LinuxResources};
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

// The statfs type is i64 on x86_64 but narrower elsewhere.
#[allow(clippy::unnecessary_cast)]
fn fs_magic(p: &Path) -> Option<i64> {
    nix::sys::statfs::statfs(p)
        .ok()
        .map(|s| s.filesystem_type().0 as i64)
}

impl Layout {
    /// The host's layout, detected once per process (a `list` of 100
    /// containers would otherwise statfs every hierarchy 100 times). The
    /// child after clone inherits the cached copy.
    pub fn detect() -> Result<Layout> {
        static CACHE: std::sync::OnceLock<Layout> = std::sync::OnceLock::new();
        if let Some(l) = CACHE.get() {
            return Ok(l.clone());
        }
        let l = Self::detect_uncached()?;
        Ok(CACHE.get_or_init(|| l).clone())
    }

    fn detect_uncached() -> Result<Layout> {
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

/// The cgroup of a rootless container without `linux.cgroupsPath`, as
/// runc's: on cgroup v2, `<id>` beside the caller's own cgroup, in its
/// parent (where a delegated subtree usually is; the caller's own cgroup
/// has processes, so no controller could be enabled below it); with
/// --systemd-cgroup, `user.slice`
/// instead of `system.slice`. On v1, husk's usual `/husk/<id>`: the
/// caller's own v1 cgroups are never used (nor, without delegation,
/// writable), and one that cannot be made is skipped.
pub fn rootless_default_path(id: &str, systemd: bool) -> Result<String> {
    if systemd {
        return resolve_path(Some(Path::new(&format!("user.slice:husk:{id}"))), id, true);
    }
    if let Layout::V2 { .. } = Layout::detect()? {
        let text =
            std::fs::read_to_string("/proc/self/cgroup").context("read /proc/self/cgroup")?;
        if let Some(own) = text.lines().find_map(|l| l.strip_prefix("0::")) {
            let own = own.trim_end_matches(" (deleted)").trim_end_matches('/');
            let parent = own.rsplit_once('/').map(|(p, _)| p).unwrap_or("");
            return resolve_path(Some(Path::new(&format!("{parent}/{id}"))), id, false);
        }
    }
    resolve_path(None, id, false)
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
    /// Rootless (`--rootless`, or auto): the container may have no cgroup
    /// in some hierarchies (or none at all), where it had no permission to
    /// make one. Those hierarchies are left out of the layout, and device
    /// rules are best effort, as in runc.
    rootless: bool,
    /// Rootless, and the path is husk's choice (no `linux.cgroupsPath`):
    /// `apply` skips a hierarchy it may not write instead of failing.
    may_skip: bool,
    /// Rootless: the cgroup directories the container does not have.
    missing: Vec<PathBuf>,
}

/// EPERM, EACCES or EROFS anywhere in the chain: runc's ignorable errors
/// for a rootless container's cgroup.
fn is_permission_error(e: &anyhow::Error) -> bool {
    e.chain()
        .filter_map(|c| c.downcast_ref::<std::io::Error>())
        .any(|io| {
            matches!(
                io.raw_os_error(),
                Some(libc::EPERM | libc::EACCES | libc::EROFS)
            )
        })
}

impl Cgroup {
    pub fn new(path: &str) -> Cgroup {
        Cgroup {
            path: path.to_string(),
            layout: None,
            rootless: false,
            may_skip: false,
            missing: Vec::new(),
        }
    }

    /// The cgroup of an existing container, from what its state recorded
    /// (`container::state::State::cgroup`).
    pub fn recorded(path: &str, rootless: bool) -> Cgroup {
        let mut cg = Cgroup::new(path);
        cg.rootless = rootless;
        cg
    }

    /// For `create`: rootless or not, and whether the path was chosen by
    /// husk (then a cgroup it may not make is skipped when rootless).
    pub fn for_create(path: &str, rootless: bool, path_given: bool) -> Cgroup {
        let mut cg = Cgroup::new(path);
        cg.rootless = rootless;
        cg.may_skip = rootless && !path_given;
        cg
    }

    pub fn layout(&mut self) -> Result<&Layout> {
        if self.layout.is_none() {
            let full = Layout::detect()?;
            let l = if self.rootless {
                self.narrow(full)
            } else {
                full
            };
            self.layout = Some(l);
        }
        Ok(self.layout.as_ref().expect("set above"))
    }

    /// Whether this container's cgroup exists in `dir` and can be used by
    /// us (rootless: a directory of another user's is not ours).
    fn usable(dir: &Path) -> bool {
        dir.is_dir()
            && nix::unistd::access(&dir.join("cgroup.procs"), nix::unistd::AccessFlags::W_OK)
                .is_ok()
    }

    /// Rootless: the layout without the hierarchies where the container
    /// has no cgroup; they go to `missing`.
    fn narrow(&mut self, full: Layout) -> Layout {
        let rel = self.rel();
        self.missing.clear();
        match full {
            Layout::V2 { mount } => {
                let dir = mount.join(&rel);
                if !Self::usable(&dir) {
                    self.missing.push(dir);
                }
                Layout::V2 { mount }
            }
            Layout::V1 {
                hierarchies,
                unified,
            } => {
                let mut keep = Vec::new();
                for (ctrls, m) in hierarchies {
                    let dir = m.join(&rel);
                    if Self::usable(&dir) {
                        keep.push((ctrls, m));
                    } else {
                        self.missing.push(dir);
                    }
                }
                let unified = unified.filter(|u| {
                    let dir = u.join(&rel);
                    Self::usable(&dir) || {
                        self.missing.push(dir);
                        false
                    }
                });
                Layout::V1 {
                    hierarchies: keep,
                    unified,
                }
            }
        }
    }

    /// Rootless: the container has no cgroup at all (on v2: no cgroup).
    pub fn has_none(&mut self) -> Result<bool> {
        if !self.rootless || self.path.is_empty() {
            return Ok(false);
        }
        Ok(match self.layout()? {
            Layout::V2 { .. } => !self.missing.is_empty(),
            Layout::V1 {
                hierarchies,
                unified,
            } => hierarchies.is_empty() && unified.is_none(),
        })
    }

    /// The error of a command that needs the cgroup a rootless container
    /// does not have.
    fn no_cgroup(&self, what: &str) -> anyhow::Error {
        let dir = self
            .missing
            .first()
            .map(|d| d.display().to_string())
            .unwrap_or_else(|| self.path.clone());
        anyhow::anyhow!(
            "{what}: the container has no cgroup (rootless, without permission to create {dir}: delegate a cgroup v2 subtree to the user)"
        )
    }

    fn rel(&self) -> String {
        self.path.trim_start_matches('/').to_string()
    }

    /// Every directory of this cgroup, one per hierarchy.
    pub fn dirs(&mut self) -> Result<Vec<PathBuf>> {
        let rel = self.rel();
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

    /// The directory of one v1 controller, or the v2 directory.
    pub fn dir_of(&mut self, controller: &str) -> Result<Option<PathBuf>> {
        let rel = self.rel();
        Ok(match self.layout()? {
            Layout::V2 { mount } => Some(mount.join(&rel)),
            l @ Layout::V1 { .. } => l.v1_mount(controller).map(|m| m.join(&rel)),
        })
    }

    /// Create the cgroup in every hierarchy and move `pid` into it.
    /// Rootless with a path husk chose, a hierarchy where that is not
    /// permitted is skipped (runc's rootless cgroup manager): limits that
    /// need it fail later, in `set`.
    pub fn apply(&mut self, pid: i32) -> Result<()> {
        if self.path.is_empty() {
            return Ok(());
        }
        let rel = self.path.clone();
        let pid = pid.to_string();
        let join = |dir: &Path| -> Result<()> {
            let f = dir.join("cgroup.procs");
            std::fs::write(&f, &pid).with_context(|| format!("add pid {pid} to {}", f.display()))
        };
        let mut steps: Vec<(PathBuf, Result<()>)> = Vec::new();
        match Layout::detect()? {
            Layout::V2 { mount } => {
                let dir = mount.join(rel.trim_start_matches('/'));
                let r = v2::create(&mount, &rel).and_then(|_| join(&dir));
                steps.push((dir, r));
            }
            Layout::V1 {
                hierarchies,
                unified,
            } => {
                for (ctrls, mount) in &hierarchies {
                    let dir = mount.join(rel.trim_start_matches('/'));
                    let r = v1::create(ctrls, mount, &rel).and_then(|_| join(&dir));
                    steps.push((dir, r));
                }
                if let Some(u) = unified {
                    let dir = u.join(rel.trim_start_matches('/'));
                    let r = std::fs::create_dir_all(&dir)
                        .with_context(|| format!("create cgroup {}", dir.display()))
                        .and_then(|_| join(&dir));
                    steps.push((dir, r));
                }
            }
        }
        for (dir, r) in steps {
            match r {
                Ok(()) => {}
                Err(e) if self.may_skip && is_permission_error(&e) => {
                    crate::logging::debug(&format!("rootless: no cgroup {}: {e:#}", dir.display()));
                    // A directory made before the denied write is not ours
                    // to keep (an empty one is removed, a busy one stays).
                    let _ = std::fs::remove_dir(&dir);
                }
                Err(e) => {
                    if self.rootless && is_permission_error(&e) {
                        return Err(e.context(
                            "rootless: no permission for linux.cgroupsPath (a cgroup v2 subtree delegated to the user is needed)",
                        ));
                    }
                    return Err(e);
                }
            }
        }
        // Narrowed again from what exists now.
        self.layout = None;
        Ok(())
    }

    /// Write the container's resource limits (create): every resource,
    /// devices included. Everything is checked before the first write.
    pub fn set(&mut self, res: &LinuxResources) -> Result<()> {
        self.set_inner(res, false)
    }

    /// Change the limits of a running container (`husk update`): as `set`,
    /// but the device rules are left alone, as runc's update does. Values
    /// that are 0 or absent leave their file as it is.
    pub fn update(&mut self, res: &LinuxResources) -> Result<()> {
        self.set_inner(res, true)
    }

    fn set_inner(&mut self, res: &LinuxResources, skip_devices: bool) -> Result<()> {
        if self.path.is_empty() {
            return Ok(());
        }
        let rel = self.path.clone();
        let rootless = self.rootless;
        if self.has_none()? {
            // runc: "rootless needs no limits + no cgrouppath when no
            // permission is granted for cgroups". Device rules are best
            // effort when rootless.
            if needs_controllers(res) {
                return Err(self.no_cgroup("linux.resources: cannot set cgroup limits"));
            }
            return Ok(());
        }
        match self.layout()?.clone() {
            Layout::V2 { mount } => v2::set(
                &mount.join(rel.trim_start_matches('/')),
                res,
                skip_devices,
                rootless,
            ),
            layout @ Layout::V1 { .. } => {
                let missing = rootless.then_some(self.missing.as_slice());
                v1::set(&layout, &rel, res, skip_devices, missing)
            }
        }
    }

    /// Whether the container's cgroup is frozen (paused).
    pub fn is_frozen(&self) -> bool {
        if self.path.is_empty() {
            return false;
        }
        if self.rootless {
            // Only the hierarchies the container has a cgroup in.
            let mut me = Cgroup::new(&self.path);
            me.rootless = true;
            return match me.has_none() {
                Ok(false) => match me.layout().cloned() {
                    Ok(Layout::V2 { mount }) => v2::is_frozen(&mount.join(me.rel())),
                    Ok(l @ Layout::V1 { .. }) => l
                        .v1_mount("freezer")
                        .and_then(|m| v1::is_frozen(&m.join(me.rel()))),
                    Err(_) => None,
                }
                .unwrap_or(false),
                _ => false,
            };
        }
        let rel = self.rel();
        let root = Path::new(ROOT);
        let layout = match &self.layout {
            Some(l) => l.clone(),
            None => match Layout::detect() {
                Ok(l) => l,
                Err(_) => return false,
            },
        };
        match layout {
            Layout::V2 { mount } => v2::is_frozen(&mount.join(&rel)),
            l @ Layout::V1 { .. } => l
                .v1_mount("freezer")
                .and_then(|m| v1::is_frozen(&m.join(&rel)))
                .or_else(|| v2::is_frozen(&root.join("unified").join(&rel))),
        }
        .unwrap_or(false)
    }

    /// Before `create`: the frozen directory, if the cgroup exists frozen,
    /// is being frozen, or would be created under a frozen ancestor. A
    /// process moved in there could never run, and `create` would wait for
    /// it forever. runc refuses such a cgroup ("unexpectedly frozen"); so
    /// does husk, naming it, and thaws nothing it did not freeze itself.
    /// Checked: the v1 freezer hierarchy and the cgroup2 one (v2, or the
    /// unified mount of a hybrid host: its freezer works there too).
    pub fn frozen_before_create(&mut self) -> Result<Option<PathBuf>> {
        if self.path.is_empty() {
            return Ok(None);
        }
        let rel = self.rel();
        let (freezer, unified) = match self.layout()? {
            Layout::V2 { mount } => (None, Some(mount.clone())),
            l @ Layout::V1 { unified, .. } => (
                l.v1_mount("freezer").map(Path::to_path_buf),
                unified.clone(),
            ),
        };
        if let Some(m) = freezer {
            if let Some(d) = nearest_existing(&m, &rel) {
                let st = std::fs::read_to_string(d.join("freezer.state")).unwrap_or_default();
                if matches!(st.trim(), "FROZEN" | "FREEZING") {
                    return Ok(Some(d));
                }
            }
        }
        if let Some(m) = unified {
            if let Some(d) = nearest_existing(&m, &rel) {
                let ev = std::fs::read_to_string(d.join("cgroup.events")).unwrap_or_default();
                let freeze = std::fs::read_to_string(d.join("cgroup.freeze")).unwrap_or_default();
                if ev.lines().any(|l| l == "frozen 1") || freeze.trim() == "1" {
                    return Ok(Some(d));
                }
            }
        }
        Ok(None)
    }

    /// Freeze (pause) or thaw (resume) every process of the cgroup, and wait
    /// until the kernel says it is done.
    pub fn freeze(&mut self, frozen: bool) -> Result<()> {
        let rel = self.rel();
        let what = if frozen { "pause" } else { "resume" };
        if self.has_none()? {
            return Err(self.no_cgroup(what));
        }
        match self.layout()?.clone() {
            Layout::V2 { mount } => v2::freeze(&mount.join(&rel), frozen),
            layout @ Layout::V1 { .. } => {
                if self.rootless && layout.v1_mount("freezer").is_none() {
                    let f = Layout::detect()?;
                    if let Some(m) = f.v1_mount("freezer") {
                        self.missing = vec![m.join(&rel)];
                        return Err(self.no_cgroup(what));
                    }
                }
                let m = layout.v1_mount("freezer").context(
                    "cgroups: cannot toggle the freezer: the freezer controller is not mounted",
                )?;
                v1::freeze(&m.join(&rel), frozen)
            }
        }
    }

    /// Pids of every process in the cgroup and its sub-cgroups (runc's
    /// GetAllPids: `exec --cgroup` may have put some below).
    pub fn pids(&mut self) -> Result<Vec<i32>> {
        if self.has_none()? {
            return Err(self.no_cgroup("list the container's processes"));
        }
        let dir = match self.layout()? {
            Layout::V2 { .. } => self.dir_of("")?,
            Layout::V1 { .. } => ["pids", "devices", "freezer", "memory", "cpu"]
                .iter()
                .find_map(|c| self.dir_of(c).ok().flatten()),
        }
        .context("cgroups: no hierarchy to list the container's processes from")?;
        let mut pids = Vec::new();
        collect_pids(&dir, &mut pids)?;
        Ok(pids)
    }

    /// Resource statistics (`husk events`).
    pub fn stats(&mut self) -> Result<stats::Stats> {
        if self.has_none()? {
            return Err(self.no_cgroup("statistics"));
        }
        let rel = self.rel();
        match self.layout()?.clone() {
            Layout::V2 { mount } => collect::v2(&mount.join(&rel)),
            layout @ Layout::V1 { .. } => collect::v1(&layout, &rel),
        }
    }

    /// A watcher of the cgroup's OOM events (`husk events`).
    pub fn oom_watcher(&mut self) -> Result<notify::OomWatcher> {
        if self.has_none()? {
            return Err(self.no_cgroup("events"));
        }
        let rel = self.rel();
        match self.layout()?.clone() {
            Layout::V2 { mount } => notify::OomWatcher::v2(&mount.join(&rel)),
            layout @ Layout::V1 { .. } => {
                let m = layout.v1_mount("memory").context(
                    "cgroups: cannot watch for OOM events: the memory controller is not mounted",
                )?;
                notify::OomWatcher::v1(&m.join(&rel))
            }
        }
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
        // Stop at the first failure: the others would repeat it, and the
        // caller keeps the state so that a later delete finishes the job.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
        for dir in dirs {
            remove_tree(&dir, deadline)?;
        }
        Ok(())
    }
}

/// `mount/rel` if it exists, else its nearest existing ancestor below the
/// mount point (the root cgroup cannot be frozen); None if none exists.
fn nearest_existing(mount: &Path, rel: &str) -> Option<PathBuf> {
    let mut d = mount.join(rel);
    while d != mount {
        if d.is_dir() {
            return Some(d);
        }
        if !d.pop() || !d.starts_with(mount) {
            return None;
        }
    }
    None
}

fn collect_pids(dir: &Path, out: &mut Vec<i32>) -> Result<()> {
    let f = dir.join("cgroup.procs");
    let s = std::fs::read_to_string(&f).with_context(|| format!("read {}", f.display()))?;
    out.extend(s.lines().filter_map(|l| l.trim().parse::<i32>().ok()));
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                // A sub-cgroup removed meanwhile is not an error.
                let _ = collect_pids(&e.path(), out);
            }
        }
    }
    Ok(())
}

/// rmdir a cgroup directory and any sub-cgroups. The kernel may count
/// tasks that just exited for a moment, so EBUSY with no process left is
/// retried until `deadline`; a process still in the cgroup (one husk did not
/// start, moved in from outside) fails at once, naming it.
fn remove_tree(dir: &Path, deadline: std::time::Instant) -> Result<()> {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                remove_tree(&e.path(), deadline)?;
            }
        }
    }
    let mut delay = std::time::Duration::from_micros(200);
    let mut grace = 0;
    loop {
        match std::fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                let mut pids = Vec::new();
                let _ = collect_pids(dir, &mut pids);
                // A few tries for processes killed a moment ago.
                if !pids.is_empty() {
                    grace += 1;
                    if grace > 20 {
                        bail!(
                            "remove cgroup {}: still in use by process(es) {pids:?}",
                            dir.display()
                        );
                    }
                }
                if std::time::Instant::now() >= deadline {
                    bail!("remove cgroup {}: still busy", dir.display());
                }
                std::thread::sleep(delay);
                delay = (delay * 2).min(std::time::Duration::from_millis(20));
            }
            Err(e) => return Err(e).with_context(|| format!("remove cgroup {}", dir.display())),
        }
    }
}

// ---------------------------------------------------------------------------
// Helpers shared by v1 and v2

/// Write one cgroup file; the error names the value and the path.
pub(crate) fn write(dir: &Path, file: &str, value: &str) -> Result<()> {
    let p = dir.join(file);
    std::fs::write(&p, value).with_context(|| format!("write {value:?} to {}", p.display()))
}

pub(crate) fn read_string(dir: &Path, file: &str) -> Result<String> {
    let p = dir.join(file);
    std::fs::read_to_string(&p).with_context(|| format!("read {}", p.display()))
}

/// Whether `res` asks for a limit of any controller (devices aside):
/// runc's needAnyControllers.
pub(crate) fn needs_controllers(res: &LinuxResources) -> bool {
    let mut r = res.clone();
    r.set_devices(None);
    let empty = serde_json::to_value(LinuxResources::default()).unwrap_or_default();
    let v = serde_json::to_value(&r).unwrap_or_default();
    fn trivial(v: &serde_json::Value) -> bool {
        match v {
            serde_json::Value::Null => true,
            serde_json::Value::Bool(b) => !b,
            serde_json::Value::Number(n) => n.as_i64() == Some(0) || n.as_u64() == Some(0),
            serde_json::Value::String(s) => s.is_empty(),
            serde_json::Value::Array(a) => a.is_empty(),
            serde_json::Value::Object(o) => o.values().all(trivial),
        }
    }
    v != empty && !trivial(&v)
}

/// swappiness is 0..=100; u64::MAX is the spec's -1, "leave it".
fn check_swappiness(m: &LinuxMemory) -> Result<()> {
    match m.swappiness() {
        Some(s) if s > 100 && s != u64::MAX => bail!(
            "linux.resources.memory.swappiness: invalid memory swappiness value: {s} (valid range is 0-100)"
        ),
        _ => Ok(()),
    }
}

/// Every hugepageLimits size must be one the kernel has.
fn check_hugepages(res: &LinuxResources) -> Result<()> {
    let Some(limits) = res.hugepage_limits() else {
        return Ok(());
    };
    let sizes = stats::hugepage_sizes();
    for h in limits {
        if !sizes.iter().any(|s| s == h.page_size()) {
            bail!(
                "linux.resources.hugepageLimits: page size {:?} is not supported by the kernel (it has: {})",
                h.page_size(),
                sizes.join(", ")
            );
        }
        if h.limit() < 0 {
            bail!(
                "linux.resources.hugepageLimits[{}]: invalid limit {}",
                h.page_size(),
                h.limit()
            );
        }
    }
    Ok(())
}

/// memory.checkBeforeUpdate: refuse a limit at or below the current usage
/// instead of letting the kernel reclaim or OOM-kill (runc 1.2).
fn check_before_update(m: &LinuxMemory, usage: impl FnOnce() -> Option<u64>) -> Result<()> {
    if m.check_before_update() != Some(true) {
        return Ok(());
    }
    let limit = m.limit().unwrap_or(0);
    let swap = m.swap().unwrap_or(0);
    if limit <= 0 && swap <= 0 {
        return Ok(());
    }
    // Best effort, as runc: no usage to compare with, nothing to refuse.
    let Some(usage) = usage() else {
        return Ok(());
    };
    if swap > 0 && swap as u64 <= usage {
        bail!("linux.resources.memory.checkBeforeUpdate: rejecting memory+swap limit {swap} <= usage {usage}");
    }
    if limit > 0 && limit as u64 <= usage {
        bail!("linux.resources.memory.checkBeforeUpdate: rejecting memory limit {limit} <= usage {usage}");
    }
    Ok(())
}

fn blkio_is_set(b: &LinuxBlockIo) -> bool {
    let some = |v: &Option<Vec<_>>| v.as_ref().is_some_and(|v: &Vec<_>| !v.is_empty());
    b.weight().unwrap_or(0) != 0
        || b.leaf_weight().unwrap_or(0) != 0
        || b.weight_device().as_ref().is_some_and(|v| !v.is_empty())
        || some(b.throttle_read_bps_device())
        || some(b.throttle_write_bps_device())
        || some(b.throttle_read_iops_device())
        || some(b.throttle_write_iops_device())
}

/// An rdma.max line: "DEVICE hca_handle=N hca_object=M".
fn rdma_line(dev: &str, lim: &LinuxRdma) -> String {
    let mut s = dev.to_string();
    if let Some(h) = lim.hca_handles() {
        s.push_str(&format!(" hca_handle={h}"));
    }
    if let Some(o) = lim.hca_objects() {
        s.push_str(&format!(" hca_object={o}"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
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

    fn sd(p: &str) -> Result<String> {
        resolve_path(Some(Path::new(p)), "id", true)
    }

    fn fs(p: &str) -> Result<String> {
        resolve_path(Some(Path::new(p)), "id", false)
    }

    #[test]
    fn cgroupfs_paths_are_normalised() {
        assert_eq!(fs("/a//b/./c/").unwrap(), "/a/b/c");
        assert_eq!(fs("./x/y").unwrap(), "/husk/x/y");
        assert_eq!(
            resolve_path(Some(Path::new("")), "c9", false).unwrap(),
            "/husk/c9"
        );
        // runc's usual absolute paths pass through.
        assert_eq!(
            fs("/kubepods/burstable/pod1/ctr").unwrap(),
            "/kubepods/burstable/pod1/ctr"
        );
    }

    #[test]
    fn cgroupfs_escapes_and_root_are_refused() {
        for p in ["/..", "../x", "/a/../b", "x/.."] {
            let e = fs(p).unwrap_err().to_string();
            assert!(e.contains("must not contain '..'"), "{p}: {e}");
        }
        for p in ["/", "//", "/./"] {
            let e = fs(p).unwrap_err().to_string();
            assert!(e.contains("names the root cgroup"), "{p}: {e}");
        }
    }

    #[test]
    fn systemd_slice_prefix_name() {
        assert_eq!(
            sd("system.slice:docker:abc").unwrap(),
            "/system.slice/docker-abc.scope"
        );
        assert_eq!(
            sd("kubepods-besteffort-pod1.slice:cri-containerd:x").unwrap(),
            "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1.slice/cri-containerd-x.scope"
        );
        // An empty slice is system.slice; an empty prefix drops the dash.
        assert_eq!(sd(":crio:abc").unwrap(), "/system.slice/crio-abc.scope");
        assert_eq!(sd("user.slice::abc").unwrap(), "/user.slice/abc.scope");
        // The root slice "-.slice" is the root of the hierarchy.
        assert_eq!(sd("-.slice:p:n").unwrap(), "/p-n.scope");
        // A name that is a slice is used as a slice, not a scope.
        assert_eq!(
            sd("system.slice:p:my.slice").unwrap(),
            "/system.slice/my.slice"
        );
    }

    #[test]
    fn systemd_bad_paths() {
        for p in ["a:b", "a:b:c:d", "/abs/path"] {
            let e = sd(p).unwrap_err().to_string();
            assert!(e.contains("expected slice:prefix:name"), "{p}: {e}");
        }
        for p in [
            "system:p:n",
            "-a.slice:p:n",
            "a-.slice:p:n",
            "a--b.slice:p:n",
            "a/b.slice:p:n",
        ] {
            let e = sd(p).unwrap_err().to_string();
            assert!(e.contains("invalid slice"), "{p}: {e}");
        }
    }

    #[test]
    fn expand_slice_nests_each_dash() {
        assert_eq!(
            expand_slice("a-b-c.slice").unwrap(),
            "/a.slice/a-b.slice/a-b-c.slice"
        );
        assert_eq!(expand_slice("machine.slice").unwrap(), "/machine.slice");
        assert_eq!(expand_slice("-.slice").unwrap(), "");
        assert!(expand_slice("machine").is_err());
    }

    #[test]
    fn layout_finds_the_hierarchy_of_a_controller() {
        let l = Layout::V1 {
            hierarchies: vec![
                (
                    vec!["cpu".into(), "cpuacct".into()],
                    PathBuf::from("/x/cpu,cpuacct"),
                ),
                (vec!["name=systemd".into()], PathBuf::from("/x/systemd")),
            ],
            unified: Some(PathBuf::from("/x/unified")),
        };
        assert_eq!(l.v1_mount("cpuacct"), Some(Path::new("/x/cpu,cpuacct")));
        assert_eq!(l.v1_mount("name=systemd"), Some(Path::new("/x/systemd")));
        assert_eq!(l.v1_mount("memory"), None);
        assert!(!l.is_v2());
        let v2 = Layout::V2 {
            mount: PathBuf::from("/x"),
        };
        assert!(v2.is_v2());
        assert_eq!(v2.v1_mount("cpu"), None);
    }

    fn res(v: serde_json::Value) -> LinuxResources {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn needs_controllers_ignores_devices_and_zero_values() {
        assert!(!needs_controllers(&res(json!({}))));
        assert!(!needs_controllers(&res(
            json!({"devices": [{"allow": false, "access": "rwm"}]})
        )));
        // Zeros and empty strings mean "not set", as runc's check.
        assert!(!needs_controllers(&res(
            json!({"memory": {"limit": 0}, "cpu": {"cpus": ""}})
        )));
        assert!(needs_controllers(&res(json!({"pids": {"limit": 10}}))));
        assert!(needs_controllers(&res(
            json!({"memory": {"disableOOMKiller": true}})
        )));
        assert!(needs_controllers(&res(
            json!({"unified": {"memory.high": "1"}})
        )));
    }

    #[test]
    fn swappiness_range() {
        let m =
            |v: u64| -> LinuxMemory { serde_json::from_value(json!({"swappiness": v})).unwrap() };
        assert!(check_swappiness(&m(0)).is_ok());
        assert!(check_swappiness(&m(100)).is_ok());
        assert!(check_swappiness(&m(u64::MAX)).is_ok(), "-1: leave it");
        let e = check_swappiness(&m(200)).unwrap_err().to_string();
        assert!(e.contains("(valid range is 0-100)"), "{e}");
    }

    #[test]
    fn check_before_update_compares_with_the_usage() {
        let m = |v: serde_json::Value| -> LinuxMemory { serde_json::from_value(v).unwrap() };
        let on = |limit: i64, swap: i64| {
            m(json!({"limit": limit, "swap": swap, "checkBeforeUpdate": true}))
        };
        // Off: nothing checked, usage not even read.
        let off = m(json!({"limit": 10}));
        assert!(check_before_update(&off, || panic!("read")).is_ok());
        assert!(check_before_update(&on(200, 0), || Some(100)).is_ok());
        let e = check_before_update(&on(100, 0), || Some(100))
            .unwrap_err()
            .to_string();
        assert!(e.contains("rejecting memory limit 100 <= usage 100"), "{e}");
        let e = check_before_update(&on(500, 150), || Some(200))
            .unwrap_err()
            .to_string();
        assert!(e.contains("memory+swap limit 150 <= usage 200"), "{e}");
        // No usage known: best effort, accepted.
        assert!(check_before_update(&on(1, 0), || None).is_ok());
        // Unlimited values are never refused.
        assert!(check_before_update(&on(-1, -1), || Some(u64::MAX)).is_ok());
    }

    #[test]
    fn blkio_is_set_and_rdma_line() {
        let b = |v: serde_json::Value| -> LinuxBlockIo { serde_json::from_value(v).unwrap() };
        assert!(!blkio_is_set(&b(json!({}))));
        assert!(!blkio_is_set(&b(
            json!({"weight": 0, "throttleReadBpsDevice": []})
        )));
        assert!(blkio_is_set(&b(json!({"leafWeight": 10}))));
        assert!(blkio_is_set(&b(json!({"throttleWriteIOPSDevice": [
            {"major": 8, "minor": 0, "rate": 1}]}))));
        let r = |v: serde_json::Value| -> LinuxRdma { serde_json::from_value(v).unwrap() };
        assert_eq!(rdma_line("d", &r(json!({}))), "d");
        assert_eq!(
            rdma_line("d", &r(json!({"hcaObjects": 7}))),
            "d hca_object=7"
        );
        assert_eq!(
            rdma_line("mlx5_0", &r(json!({"hcaHandles": 1, "hcaObjects": 2}))),
            "mlx5_0 hca_handle=1 hca_object=2"
        );
    }

    #[test]
    fn default_device_rules_are_runcs() {
        let lines: Vec<String> = default_device_rules()
            .iter()
            .enumerate()
            .map(|(i, d)| devices::parse_rule(i, d).unwrap().v1_line())
            .collect();
        assert_eq!(
            lines,
            [
                "c *:* m",
                "b *:* m",
                "c 1:3 rwm",
                "c 1:8 rwm",
                "c 1:7 rwm",
                "c 5:0 rwm",
                "c 1:5 rwm",
                "c 1:9 rwm",
                "c 136:* rwm",
                "c 5:2 rwm",
                "c 10:200 rwm",
            ]
        );
    }

    #[test]
    fn nearest_existing_stops_below_the_mount() {
        let t = tempfile::tempdir().unwrap();
        let m = t.path();
        std::fs::create_dir_all(m.join("a/b")).unwrap();
        assert_eq!(nearest_existing(m, "a/b"), Some(m.join("a/b")));
        assert_eq!(nearest_existing(m, "a/b/c/d"), Some(m.join("a/b")));
        // Nothing but the root: None (the root cgroup is never frozen).
        assert_eq!(nearest_existing(m, "x/y"), None);
    }

    #[test]
    fn collect_pids_walks_sub_cgroups() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path();
        std::fs::write(d.join("cgroup.procs"), "12\n13\n").unwrap();
        std::fs::create_dir_all(d.join("sub/deeper")).unwrap();
        std::fs::write(d.join("sub/cgroup.procs"), "40\n").unwrap();
        std::fs::write(d.join("sub/deeper/cgroup.procs"), "41\nnot-a-pid\n").unwrap();
        let mut pids = Vec::new();
        collect_pids(d, &mut pids).unwrap();
        pids.sort();
        assert_eq!(pids, [12, 13, 40, 41]);
        let e = collect_pids(&d.join("nope"), &mut pids)
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("read ") && e.contains("nope/cgroup.procs"),
            "{e}"
        );
    }

    #[test]
    fn remove_tree_removes_children_first() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path().join("c");
        std::fs::create_dir_all(d.join("x/y")).unwrap();
        std::fs::create_dir_all(d.join("z")).unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(1);
        remove_tree(&d, deadline).unwrap();
        assert!(!d.exists());
        // Already gone: not an error.
        remove_tree(&d, deadline).unwrap();
    }

    #[test]
    fn permission_errors_are_found_in_the_chain() {
        let e = anyhow::Error::from(std::io::Error::from_raw_os_error(libc::EACCES))
            .context("write x")
            .context("apply");
        assert!(is_permission_error(&e));
        let e = anyhow::Error::from(std::io::Error::from_raw_os_error(libc::EROFS));
        assert!(is_permission_error(&e));
        let e = anyhow::Error::from(std::io::Error::from_raw_os_error(libc::ENOENT));
        assert!(!is_permission_error(&e));
        assert!(!is_permission_error(&anyhow::anyhow!(
            "EPERM in words only"
        )));
    }

    #[test]
    fn empty_path_is_no_cgroup() {
        let mut cg = Cgroup::new("");
        assert!(cg.apply(1).is_ok());
        assert!(cg.destroy().is_ok());
        assert!(!cg.is_frozen());
        assert_eq!(cg.frozen_before_create().unwrap(), None);
        assert!(cg.set(&res(json!({"pids": {"limit": 1}}))).is_ok());
        assert!(!cg.has_none().unwrap());
    }
}
