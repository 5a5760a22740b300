//! The plan: a bundle turned into typed, checked values before any side
//! effect. `Plan::validate` is the one place where a config is checked:
//! `create` calls it (through `Plan::from_bundle`), and so does the fuzz
//! target (`crate::fuzzing::config`). The parent, the init and the mount
//! code read the plan and never parse an option again.

use super::{Bundle, NsEntry};
use crate::linux::idmap::IdMaps;
use crate::linux::mountopts::{self, MountOpts};
use anyhow::{bail, Context, Result};
use nix::mount::MsFlags;
use oci_spec::runtime::{Hook, Hooks, Linux, LinuxNamespaceType as Ns, Mount, Process, Spec};
use std::path::{Path, PathBuf};

/// What `create` knows besides the bundle, for the checks that depend on it.
#[derive(Debug, Clone, Copy)]
pub struct Inputs<'a> {
    /// The container id.
    pub id: &'a str,
    /// `--systemd-cgroup`: `linux.cgroupsPath` is `slice:prefix:name`.
    pub systemd_cgroup: bool,
    /// Rootless cgroups (`--rootless`, or auto): see cgroups::Cgroup.
    pub rootless: bool,
    /// husk runs as root (euid 0); otherwise runc's rootless checks apply.
    pub euid_root: bool,
    /// `--console-socket` is given.
    pub console_socket: bool,
    /// A connected console socket is given instead (foreground `run` with
    /// a terminal: husk relays the pty itself).
    pub console_fd: bool,
}

/// The namespaces of the config, each new or joined (`path`).
#[derive(Debug, Clone, Default)]
pub struct Namespaces(Vec<NsEntry>);

impl Namespaces {
    pub fn entries(&self) -> &[NsEntry] {
        &self.0
    }

    /// The config names a namespace of this type (new or joined).
    pub fn has(&self, typ: Ns) -> bool {
        self.0.iter().any(|n| n.typ == typ)
    }

    /// The config asks for a new namespace of this type.
    pub fn has_new(&self, typ: Ns) -> bool {
        self.0.iter().any(|n| n.typ == typ && n.path.is_none())
    }

    /// Some namespace is joined through a path.
    pub fn joins_any(&self) -> bool {
        self.0.iter().any(|n| n.path.is_some())
    }

    /// clone(2) flags of the direct path (no joins, no time namespace):
    /// every new namespace but the cgroup one, which the init unshares once
    /// it is in its cgroup, and, with a new user namespace, the ipc one,
    /// which it unshares once it is root there (see init::run).
    pub fn clone_flags(&self) -> libc::c_int {
        let new_user = self.has_new(Ns::User);
        self.0
            .iter()
            .filter(|n| n.path.is_none())
            .filter(|n| n.typ != Ns::Cgroup && !(new_user && n.typ == Ns::Ipc))
            .fold(0, |f, n| f | n.clone_flag())
    }

    /// unshare(2) flags of the indirect path: every new namespace but the
    /// user one (unshared first, on its own) and the cgroup one (later).
    pub fn unshare_flags(&self) -> nix::sched::CloneFlags {
        self.0
            .iter()
            .filter(|n| n.path.is_none() && !matches!(n.typ, Ns::User | Ns::Cgroup))
            .fold(nix::sched::CloneFlags::empty(), |f, n| {
                f | crate::linux::namespaces::flag(n.typ)
            })
    }
}

/// An idmapped bind mount: the maps, and whether they apply to the whole
/// tree (`ridmap`, or an `rbind` with the mount's own maps).
#[derive(Debug, Clone)]
pub struct IdmapPlan {
    pub maps: IdMaps,
    pub recursive: bool,
}

/// One entry of `mounts`, its options parsed once.
#[derive(Debug, Clone)]
pub struct MountPlan {
    /// The entry as config.json gives it (destination, type, source).
    pub mount: Mount,
    pub opts: MountOpts,
    /// A bind mount (`bind`/`rbind` option or type `bind`).
    pub bind: bool,
    /// Made by the parent as a detached idmapped tree.
    pub idmap: Option<IdmapPlan>,
}

impl MountPlan {
    pub fn destination(&self) -> &Path {
        self.mount.destination()
    }

    /// The type, "" when none is given.
    pub fn typ(&self) -> &str {
        self.mount.typ().as_deref().unwrap_or("")
    }
}

/// A checked config. `spec` keeps what the plan does not lift out of it
/// (root, hostname, hooks, annotations...); `process`, `linux` and `mounts`
/// are taken out of it, so there is one copy of each.
pub struct Plan {
    /// Absolute path of the bundle directory.
    pub dir: PathBuf,
    /// Absolute path of the root filesystem.
    pub rootfs: PathBuf,
    pub spec: Spec,
    pub process: Process,
    pub linux: Linux,
    pub namespaces: Namespaces,
    pub mounts: Vec<MountPlan>,
    /// `linux.rootfsPropagation` as mount(2) flags; None: the default
    /// (rslave for the host's mounts, nothing applied to the new /).
    pub rootfs_propagation: Option<MsFlags>,
    /// `root.readonly`.
    pub root_readonly: bool,
    /// The container's cgroup, resolved (see cgroups::resolve_path).
    pub cgroup_path: String,
    /// `linux.cgroupsPath` was given (not husk's default).
    pub explicit_cgroup: bool,
    /// `process.terminal`.
    pub terminal: bool,
    /// `linux.mountLabel`, when SELinux will enforce it; None otherwise.
    pub mount_label: Option<String>,
    /// `linux.mountLabel` is set but ignored (SELinux is disabled).
    pub mount_label_ignored: bool,
    /// A bind mount on /dev: husk makes no device nodes.
    pub dev_bound: bool,
    /// A mount on /dev/pts.
    pub has_devpts: bool,
}

impl Plan {
    /// Load the bundle at `dir` and check it: everything `create` checks
    /// before its first side effect.
    pub fn from_bundle(dir: &Path, inputs: &Inputs) -> Result<Plan> {
        Plan::validate(Bundle::load(dir)?, inputs)
    }

    /// Check a loaded bundle and make its plan. Reads the host (namespace
    /// paths, the cgroup layout, SELinux, a seccomp agent's socket) but
    /// changes nothing.
    pub fn validate(bundle: Bundle, inputs: &Inputs) -> Result<Plan> {
        let Bundle {
            dir,
            rootfs,
            mut spec,
            mount_idmaps,
        } = bundle;
        let process = spec
            .process_mut()
            .take()
            .context("config.json: process is missing")?;
        check_process(&process)?;
        let linux = spec
            .linux_mut()
            .take()
            .context("config.json: linux is missing")?;
        let namespaces = check_namespaces(&linux)?;
        check_linux(&spec, &linux, &namespaces)?;
        let raw_mounts = spec.mounts_mut().take().unwrap_or_default();
        let mut mounts = parse_mounts(raw_mounts)?;
        let rootfs_propagation = rootfs_propagation(linux.rootfs_propagation().as_deref())?;
        crate::linux::process::validate(&process)?;
        if let Some(p) = linux.personality() {
            crate::linux::sched::validate_personality(p)?;
        }
        if let Some(h) = spec.hooks() {
            check_hooks(h)?;
        }
        crate::container::validate_id(inputs.id)?;
        let (cgroup_path, explicit_cgroup) = cgroup_path(&linux, inputs)?;
        if !inputs.euid_root {
            check_rootless(&linux, &namespaces)?;
        }
        let terminal = process.terminal().unwrap_or(false);
        if terminal && !inputs.console_socket && !inputs.console_fd {
            bail!("process.terminal is true: --console-socket is required");
        }
        if !terminal && inputs.console_socket {
            bail!("--console-socket is set but process.terminal is false");
        }
        if let Some(s) = linux.seccomp() {
            crate::linux::seccomp::validate(s)?;
        }
        if let Some(d) = linux.devices() {
            crate::linux::devices::validate(d)?;
        }
        plan_idmaps(&mut mounts, &mount_idmaps, &linux)?;
        let label = linux.mount_label().clone().filter(|l| !l.is_empty());
        let selinux = label.is_some() && crate::linux::process::selinux_enabled();
        // Compared cleaned: `/tmp/../dev` is /dev too.
        let at = |m: &MountPlan, p: &str| crate::linux::resolve::clean(m.destination()) == Path::new(p);
        Ok(Plan {
            dev_bound: mounts.iter().any(|m| m.opts.is_bind() && at(m, "/dev")),
            has_devpts: mounts.iter().any(|m| at(m, "/dev/pts")),
            root_readonly: spec.root().as_ref().and_then(|r| r.readonly()) == Some(true),
            mount_label_ignored: label.is_some() && !selinux,
            mount_label: label.filter(|_| selinux),
            dir,
            rootfs,
            spec,
            process,
            linux,
            namespaces,
            mounts,
            rootfs_propagation,
            cgroup_path,
            explicit_cgroup,
            terminal,
        })
    }

    /// The hooks, when config.json has any.
    pub fn hooks(&self) -> Option<&Hooks> {
        self.spec.hooks().as_ref()
    }

    /// `annotations`, or none.
    pub fn annotations(&self) -> std::collections::HashMap<String, String> {
        self.spec.annotations().clone().unwrap_or_default()
    }
}

fn check_process(process: &Process) -> Result<()> {
    if process.args().as_ref().is_none_or(|a| a.is_empty()) {
        bail!("process.args must not be empty");
    }
    if !process.cwd().is_absolute() {
        bail!(
            "process.cwd {} must be an absolute path",
            process.cwd().display()
        );
    }
    Ok(())
}

/// Each type at most once; a joined one's path must exist.
fn check_namespaces(linux: &Linux) -> Result<Namespaces> {
    let nss: Vec<NsEntry> = linux
        .namespaces()
        .as_deref()
        .unwrap_or(&[])
        .iter()
        .map(|n| NsEntry {
            typ: n.typ(),
            path: n.path().clone(),
        })
        .collect();
    for (i, a) in nss.iter().enumerate() {
        if nss[..i].iter().any(|b| b.typ == a.typ) {
            bail!("linux.namespaces: duplicate namespace {}", a.typ);
        }
        if let Some(p) = &a.path {
            if !p.exists() {
                bail!(
                    "linux.namespaces: {} path {} does not exist",
                    a.typ,
                    p.display()
                );
            }
        }
    }
    Ok(Namespaces(nss))
}

/// What the namespaces allow (maps, hostname, sysctls, what needs a mount
/// namespace, time offsets) and the fields husk refuses by name.
fn check_linux(spec: &Spec, linux: &Linux, ns: &Namespaces) -> Result<()> {
    let has_maps = linux.uid_mappings().as_ref().is_some_and(|m| !m.is_empty())
        || linux.gid_mappings().as_ref().is_some_and(|m| !m.is_empty());
    if ns.has_new(Ns::User) && !has_maps {
        bail!("linux.uidMappings: a new user namespace needs uid and gid mappings");
    }
    if !ns.has(Ns::User) && has_maps {
        bail!("linux.uidMappings: mappings are set but no user namespace is requested");
    }
    let set = |v: &Option<String>| v.as_ref().is_some_and(|h| !h.is_empty());
    if set(spec.hostname()) && !ns.has(Ns::Uts) {
        bail!("hostname: unable to set hostname without a private UTS namespace");
    }
    if set(spec.domainname()) && !ns.has(Ns::Uts) {
        bail!("domainname: unable to set domainname without a private UTS namespace");
    }
    if let Some(sysctl) = linux.sysctl() {
        crate::linux::sysctl::validate(sysctl, ns.entries())?;
    }
    if !ns.has(Ns::Mount) {
        check_no_mntns(spec, linux)?;
    }
    if linux.time_offsets().is_some() && !ns.has_new(Ns::Time) {
        bail!("linux.timeOffsets: requires a new time namespace");
    }
    // Fields husk cannot honour yet: refuse them by name rather than
    // silently ignoring them.
    if linux.intel_rdt().is_some() {
        bail!("linux.intelRdt is not supported by husk");
    }
    if linux.net_devices().as_ref().is_some_and(|d| !d.is_empty()) {
        bail!("linux.netDevices is not supported by husk");
    }
    if linux.memory_policy().is_some() {
        bail!("linux.memoryPolicy is not supported by husk");
    }
    Ok(())
}

/// The container shares the runtime's mount namespace: its mounts are made
/// there and it is chrooted, not pivoted, into the rootfs. Nothing that
/// would remount what the host sees.
fn check_no_mntns(spec: &Spec, linux: &Linux) -> Result<()> {
    let no_mntns = "without a private mount namespace (linux.namespaces has no \"mount\")";
    let nonempty = |v: &Option<Vec<String>>| v.as_ref().is_some_and(|p| !p.is_empty());
    if nonempty(linux.masked_paths()) {
        bail!("linux.maskedPaths: unable to mask paths {no_mntns}");
    }
    if nonempty(linux.readonly_paths()) {
        bail!("linux.readonlyPaths: unable to make paths read-only {no_mntns}");
    }
    if spec.root().as_ref().and_then(|r| r.readonly()) == Some(true) {
        bail!("root.readonly: unable to make the root read-only {no_mntns}");
    }
    if linux
        .rootfs_propagation()
        .as_ref()
        .is_some_and(|p| !p.is_empty())
    {
        bail!("linux.rootfsPropagation: unable to set it {no_mntns}");
    }
    Ok(())
}

/// Each mount: an absolute destination, its options parsed (the only
/// place they are), a type unless it is a bind mount.
fn parse_mounts(mounts: Vec<Mount>) -> Result<Vec<MountPlan>> {
    mounts
        .into_iter()
        .map(|m| {
            let d = m.destination();
            if !d.is_absolute() {
                bail!(
                    "mounts: destination {} must be an absolute path",
                    d.display()
                );
            }
            let opts = mountopts::parse(m.options().as_deref().unwrap_or(&[]))
                .with_context(|| format!("mounts: {}", d.display()))?;
            let bind = opts.is_bind() || m.typ().as_deref() == Some("bind");
            Ok(MountPlan {
                mount: m,
                opts,
                bind,
                idmap: None,
            })
        })
        .collect()
}

/// `linux.rootfsPropagation`: one of the spec's eight propagation words.
/// None (or "") is husk's default.
pub fn rootfs_propagation(value: Option<&str>) -> Result<Option<MsFlags>> {
    let Some(p) = value.filter(|p| !p.is_empty()) else {
        return Ok(None);
    };
    let o = mountopts::parse(&[p.to_string()])?;
    match o.propagation.as_slice() {
        [flag] if o.flags.is_empty() && o.data.is_empty() => Ok(Some(*flag)),
        _ => bail!("linux.rootfsPropagation: invalid value {p:?}"),
    }
}

/// Every hook: an absolute path (the spec's MUST) and, if given, a positive
/// timeout; checked now rather than when the hook is due.
fn check_hooks(h: &Hooks) -> Result<()> {
    #[allow(deprecated)]
    let lists: [(&str, &Option<Vec<Hook>>); 6] = [
        ("prestart", h.prestart()),
        ("createRuntime", h.create_runtime()),
        ("createContainer", h.create_container()),
        ("startContainer", h.start_container()),
        ("poststart", h.poststart()),
        ("poststop", h.poststop()),
    ];
    for (kind, list) in lists {
        for (i, hook) in list.as_deref().unwrap_or(&[]).iter().enumerate() {
            if !hook.path().is_absolute() {
                bail!(
                    "hooks.{kind}[{i}].path: {} must be an absolute path",
                    hook.path().display()
                );
            }
            if let Some(t) = hook.timeout().filter(|t| *t <= 0) {
                bail!("hooks.{kind}[{i}].timeout: must be positive, got {t}");
            }
        }
    }
    Ok(())
}

/// The container's cgroup, and whether config.json chose it.
fn cgroup_path(linux: &Linux, inputs: &Inputs) -> Result<(String, bool)> {
    let given = linux
        .cgroups_path()
        .as_deref()
        .filter(|p| !p.as_os_str().is_empty());
    let path = if inputs.rootless && given.is_none() {
        crate::cgroups::rootless_default_path(inputs.id, inputs.systemd_cgroup)?
    } else {
        crate::cgroups::resolve_path(given, inputs.id, inputs.systemd_cgroup)?
    };
    Ok((path, given.is_some()))
}

/// runc's checks for a rootless container (euid != 0), before the kernel's
/// EPERM.
fn check_rootless(linux: &Linux, ns: &Namespaces) -> Result<()> {
    if !ns.has(Ns::User) {
        bail!("linux.namespaces: a rootless container (husk is not run by root) requires a user namespace (husk spec --rootless writes such a config)");
    }
    if ns.has_new(Ns::User) {
        if linux.uid_mappings().as_ref().is_none_or(|m| m.is_empty()) {
            bail!("linux.uidMappings: a rootless container requires at least one uid mapping");
        }
        if linux.gid_mappings().as_ref().is_none_or(|m| m.is_empty()) {
            bail!("linux.gidMappings: a rootless container requires at least one gid mapping");
        }
    }
    Ok(())
}

/// Idmapped mounts: a mount's own `uidMappings`/`gidMappings`, or the
/// `idmap`/`ridmap` options with the container's maps. Bind mounts only.
fn plan_idmaps(
    mounts: &mut [MountPlan],
    own_maps: &[Option<IdMaps>],
    linux: &Linux,
) -> Result<()> {
    for (i, m) in mounts.iter_mut().enumerate() {
        let own = own_maps.get(i).cloned().flatten();
        if own.is_none() && !m.opts.idmap {
            continue;
        }
        let what = || format!("mounts[{i}] ({})", m.destination().display());
        if !m.bind {
            bail!("{}: idmapped mounts are only supported for bind mounts", what());
        }
        let maps = own.unwrap_or_else(|| IdMaps {
            uid: linux.uid_mappings().clone().unwrap_or_default(),
            gid: linux.gid_mappings().clone().unwrap_or_default(),
        });
        if maps.uid.is_empty() || maps.gid.is_empty() {
            bail!(
                "{}: idmap needs uidMappings and gidMappings on the mount or in linux",
                what()
            );
        }
        let recursive = m.opts.ridmap || (!m.opts.idmap && m.opts.flags.contains(MsFlags::MS_REC));
        m.idmap = Some(IdmapPlan { maps, recursive });
    }
    Ok(())
}

