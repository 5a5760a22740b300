//! The plan: a bundle turned into typed, checked values before any side
//! effect. `Plan::validate` is the one place where a config is checked:
//! `create` calls it on the loaded bundle, and so does the fuzz
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
        super::validate_id(inputs.id)?;
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
        let at =
            |m: &MountPlan, p: &str| crate::linux::resolve::clean(m.destination()) == Path::new(p);
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
            if !bind && m.typ().as_deref().unwrap_or("").is_empty() {
                bail!(
                    "mounts: {}: type is missing (and the mount is not a bind mount)",
                    d.display()
                );
            }
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
fn plan_idmaps(mounts: &mut [MountPlan], own_maps: &[Option<IdMaps>], linux: &Linux) -> Result<()> {
    for (i, m) in mounts.iter_mut().enumerate() {
        let own = own_maps.get(i).cloned().flatten();
        if own.is_none() && !m.opts.idmap {
            continue;
        }
        let what = || format!("mounts[{i}] ({})", m.destination().display());
        if !m.bind {
            bail!(
                "{}: idmapped mounts are only supported for bind mounts",
                what()
            );
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn base() -> Value {
        json!({
            "ociVersion": "1.0.2",
            "process": {"args": ["sh"], "cwd": "/", "user": {"uid": 0, "gid": 0}},
            "root": {"path": "rootfs"},
            "linux": {
                "namespaces": [{"type": "mount"}, {"type": "pid"}],
                "cgroupsPath": "/t"
            }
        })
    }

    fn inputs() -> Inputs<'static> {
        Inputs {
            id: "t",
            systemd_cgroup: false,
            rootless: false,
            euid_root: true,
            console_socket: false,
            console_fd: false,
        }
    }

    fn plan_with(v: &Value, inp: &Inputs) -> Result<Plan> {
        let data = serde_json::to_vec(v).unwrap();
        let (spec, mount_idmaps) = super::super::parse_config_bytes(&data, Path::new("c.json"))?;
        let b = Bundle {
            dir: PathBuf::from("/b"),
            rootfs: PathBuf::from("/b/rootfs"),
            spec,
            mount_idmaps,
        };
        Plan::validate(b, inp)
    }

    fn plan(v: &Value) -> Plan {
        plan_with(v, &inputs()).unwrap_or_else(|e| panic!("{e:#}"))
    }

    fn err(v: &Value) -> String {
        err_with(v, &inputs())
    }

    fn err_with(v: &Value, inp: &Inputs) -> String {
        match plan_with(v, inp) {
            Ok(_) => panic!("accepted: {v}"),
            Err(e) => format!("{e:#}"),
        }
    }

    /// `base()` with `f` applied.
    fn with(f: impl FnOnce(&mut Value)) -> Value {
        let mut v = base();
        f(&mut v);
        v
    }

    fn mount(dest: &str, typ: &str, opts: &[&str]) -> Value {
        json!({"destination": dest, "type": typ, "source": typ, "options": opts})
    }

    #[test]
    fn a_minimal_config_is_planned() {
        let p = plan(&base());
        assert_eq!(p.cgroup_path, "/t");
        assert!(p.explicit_cgroup);
        assert!(p.namespaces.has_new(Ns::Mount) && p.namespaces.has_new(Ns::Pid));
        assert!(!p.namespaces.has(Ns::User));
        assert!(p.mounts.is_empty() && p.rootfs_propagation.is_none());
        assert!(!p.terminal && !p.root_readonly && !p.dev_bound);
        // Lifted out of the spec: one copy each.
        assert!(p.spec.process().is_none() && p.spec.linux().is_none());
    }

    #[test]
    fn a_type_error_names_the_json_path() {
        let v = with(|v| v["process"]["user"]["uid"] = json!("x"));
        assert_eq!(
            err(&v),
            "parse config c.json: process.user.uid: invalid type: string \"x\", expected u32"
        );
    }

    #[test]
    fn a_path_in_an_array_names_the_index() {
        let v = with(|v| {
            v["mounts"] = json!([mount("/a", "tmpfs", &[]), {"destination": "/b", "options": 5}])
        });
        assert_eq!(
            err(&v),
            "parse config c.json: mounts[1].options: invalid type: integer `5`, expected a sequence"
        );
    }

    #[test]
    fn a_bad_mount_idmap_names_its_path() {
        let v = with(|v| {
            v["mounts"] = json!([{"destination": "/a", "type": "bind", "source": "/",
                "uidMappings": [{"containerID": 0, "hostID": 0, "size": "x"}]}])
        });
        let e = err(&v);
        assert!(
            e.starts_with("parse config c.json: mounts[0].uidMappings[0].size: invalid type"),
            "{e}"
        );
    }

    #[test]
    fn a_config_must_be_an_object() {
        let data = b"[]";
        let e = super::super::parse_config_bytes(data, Path::new("c.json")).unwrap_err();
        assert_eq!(
            format!("{e:#}"),
            "parse config c.json: expected a JSON object, found an array"
        );
    }

    #[test]
    fn process_args_and_cwd_are_checked() {
        let v = with(|v| v["process"]["args"] = json!([]));
        assert_eq!(err(&v), "process.args must not be empty");
        let v = with(|v| v["process"]["cwd"] = json!("tmp"));
        assert_eq!(err(&v), "process.cwd tmp must be an absolute path");
        let v = with(|v| drop(v.as_object_mut().unwrap().remove("process")));
        assert_eq!(err(&v), "config.json: process is missing");
    }

    #[test]
    fn duplicate_and_unknown_namespaces_are_refused() {
        let v = with(|v| v["linux"]["namespaces"] = json!([{"type": "pid"}, {"type": "pid"}]));
        assert_eq!(err(&v), "linux.namespaces: duplicate namespace pid");
        let v = with(|v| v["linux"]["namespaces"] = json!([{"type": "bogus"}]));
        assert!(err(&v)
            .starts_with("parse config c.json: linux.namespaces[0].type: unknown variant `bogus`"));
    }

    #[test]
    fn a_joined_namespace_must_exist() {
        let v = with(|v| {
            v["linux"]["namespaces"] = json!([{"type": "network", "path": "/nonexistent/ns"}])
        });
        assert_eq!(
            err(&v),
            "linux.namespaces: net path /nonexistent/ns does not exist"
        );
        let v = with(|v| {
            v["linux"]["namespaces"] = json!([{"type": "network", "path": "/proc/self/ns/net"}])
        });
        let p = plan(&v);
        assert!(p.namespaces.has(Ns::Network) && !p.namespaces.has_new(Ns::Network));
        assert!(p.namespaces.joins_any());
    }

    #[test]
    fn clone_and_unshare_flags() {
        let v = with(|v| {
            v["linux"]["namespaces"] = json!([{"type": "user"}, {"type": "ipc"},
                {"type": "cgroup"}, {"type": "mount"}, {"type": "uts"}]);
            v["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 1000, "size": 1}]);
            v["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 1000, "size": 1}]);
        });
        let ns = plan(&v).namespaces;
        // Not cgroup (later, in its cgroup), not ipc (later, as root).
        assert_eq!(
            ns.clone_flags(),
            libc::CLONE_NEWUSER | libc::CLONE_NEWNS | libc::CLONE_NEWUTS
        );
        assert_eq!(
            ns.unshare_flags(),
            CloneFlags::CLONE_NEWIPC | CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWUTS
        );
        let ns = plan(&base()).namespaces;
        assert_eq!(ns.clone_flags(), libc::CLONE_NEWNS | libc::CLONE_NEWPID);
    }

    use nix::sched::CloneFlags;

    #[test]
    fn id_maps_need_a_user_namespace_and_the_reverse() {
        let v = with(|v| v["linux"]["namespaces"] = json!([{"type": "user"}]));
        assert_eq!(
            err(&v),
            "linux.uidMappings: a new user namespace needs uid and gid mappings"
        );
        let v = with(|v| {
            v["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 1000, "size": 1}])
        });
        assert_eq!(
            err(&v),
            "linux.uidMappings: mappings are set but no user namespace is requested"
        );
    }

    #[test]
    fn hostname_needs_a_uts_namespace() {
        let v = with(|v| v["hostname"] = json!("h"));
        assert_eq!(
            err(&v),
            "hostname: unable to set hostname without a private UTS namespace"
        );
    }

    #[test]
    fn mounts_are_parsed_once_into_the_plan() {
        let v = with(|v| {
            v["mounts"] = json!([
                mount("/dev", "tmpfs", &["nosuid", "strictatime", "mode=755", "size=65536k"]),
                {"destination": "/data", "source": "/srv", "options": ["rbind", "ro", "rprivate"]},
                {"destination": "/b", "type": "bind", "source": "/srv", "options": ["rro"]},
                mount("/dev/pts", "devpts", &["newinstance"]),
            ])
        });
        let p = plan(&v);
        let [tmp, data, b, pts] = p.mounts.as_slice() else {
            panic!("4 mounts")
        };
        assert!(!tmp.bind && tmp.typ() == "tmpfs");
        assert!(tmp
            .opts
            .flags
            .contains(MsFlags::MS_NOSUID | MsFlags::MS_STRICTATIME));
        assert_eq!(tmp.opts.data, "mode=755,size=65536k");
        assert!(data.bind && data.typ().is_empty());
        assert!(data
            .opts
            .flags
            .contains(MsFlags::MS_REC | MsFlags::MS_RDONLY));
        assert_eq!(
            data.opts.propagation,
            vec![MsFlags::MS_PRIVATE | MsFlags::MS_REC]
        );
        assert!(b.bind && !b.opts.is_bind(), "type bind without the option");
        assert_eq!(b.opts.rec_set, crate::linux::sys::MOUNT_ATTR_RDONLY);
        assert_eq!(pts.opts.data, "newinstance");
        // /dev is a tmpfs, not a bind: husk still makes the device nodes.
        assert!(!p.dev_bound && p.has_devpts);
    }

    #[test]
    fn a_bind_on_dev_is_seen_through_dot_dot() {
        let v = with(|v| {
            v["mounts"] = json!([{"destination": "/tmp/../dev", "source": "/dev",
                "options": ["rbind"]}])
        });
        assert!(plan(&v).dev_bound);
    }

    #[test]
    fn a_mount_destination_must_be_absolute() {
        let v = with(|v| v["mounts"] = json!([mount("rel", "tmpfs", &[])]));
        assert_eq!(err(&v), "mounts: destination rel must be an absolute path");
    }

    #[test]
    fn a_mount_needs_a_type_unless_it_binds() {
        let v = with(|v| v["mounts"] = json!([mount("/x", "", &[])]));
        assert_eq!(
            err(&v),
            "mounts: /x: type is missing (and the mount is not a bind mount)"
        );
        let v = with(|v| {
            v["mounts"] = json!([{"destination": "/x", "source": "/tmp", "options": ["rbind"]}])
        });
        assert!(plan(&v).mounts.iter().any(|m| m.bind && m.typ().is_empty()));
    }

    #[test]
    fn every_rootfs_propagation_word() {
        for (word, flag) in [
            ("private", MsFlags::MS_PRIVATE),
            ("shared", MsFlags::MS_SHARED),
            ("slave", MsFlags::MS_SLAVE),
            ("unbindable", MsFlags::MS_UNBINDABLE),
        ] {
            assert_eq!(rootfs_propagation(Some(word)).unwrap(), Some(flag));
            let r = format!("r{word}");
            assert_eq!(
                rootfs_propagation(Some(&r)).unwrap(),
                Some(flag | MsFlags::MS_REC)
            );
        }
        assert_eq!(rootfs_propagation(None).unwrap(), None);
        assert_eq!(rootfs_propagation(Some("")).unwrap(), None);
    }

    #[test]
    fn a_bad_rootfs_propagation_fails_before_the_clone() {
        for bad in ["bogus", "rbind", "ro", "rro", "private,shared"] {
            let v = with(|v| v["linux"]["rootfsPropagation"] = json!(bad));
            assert_eq!(
                err(&v),
                format!("linux.rootfsPropagation: invalid value {bad:?}")
            );
        }
        let v = with(|v| v["linux"]["rootfsPropagation"] = json!("rshared"));
        assert_eq!(
            plan(&v).rootfs_propagation,
            Some(MsFlags::MS_SHARED | MsFlags::MS_REC)
        );
    }

    #[test]
    fn without_a_mount_namespace_nothing_remounts_the_host() {
        let no_mnt = |v: &mut Value| v["linux"]["namespaces"] = json!([{"type": "pid"}]);
        let v = with(|v| {
            no_mnt(v);
            v["linux"]["rootfsPropagation"] = json!("private");
        });
        assert!(err(&v).starts_with("linux.rootfsPropagation: unable to set it without"));
        let v = with(|v| {
            no_mnt(v);
            v["root"]["readonly"] = json!(true);
        });
        assert!(err(&v).starts_with("root.readonly: unable to make the root read-only"));
        let v = with(|v| {
            no_mnt(v);
            v["linux"]["maskedPaths"] = json!(["/proc/kcore"]);
        });
        assert!(err(&v).starts_with("linux.maskedPaths: unable to mask paths"));
    }

    fn userns(v: &mut Value) {
        v["linux"]["namespaces"] = json!([{"type": "user"}, {"type": "mount"}]);
        v["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 1000, "size": 10}]);
        v["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 1000, "size": 10}]);
    }

    #[test]
    fn idmap_options_take_the_containers_maps() {
        let v = with(|v| {
            userns(v);
            v["mounts"] = json!([
                {"destination": "/a", "source": "/srv", "options": ["bind", "idmap"]},
                {"destination": "/b", "source": "/srv", "options": ["rbind", "ridmap"]},
                {"destination": "/c", "source": "/srv", "options": ["rbind"]},
            ])
        });
        let p = plan(&v);
        let a = p.mounts[0].idmap.as_ref().unwrap();
        assert!(!a.recursive && a.maps.uid[0].host_id() == 1000);
        assert!(p.mounts[1].idmap.as_ref().unwrap().recursive);
        assert!(p.mounts[2].idmap.is_none());
    }

    #[test]
    fn a_mounts_own_maps_with_rbind_are_recursive() {
        let v = with(|v| {
            v["mounts"] = json!([{"destination": "/a", "source": "/srv", "options": ["rbind"],
                "uidMappings": [{"containerID": 0, "hostID": 5, "size": 1}],
                "gidMappings": [{"containerID": 0, "hostID": 5, "size": 1}]}])
        });
        let p = plan(&v);
        let m = p.mounts[0].idmap.as_ref().unwrap();
        assert!(m.recursive && m.maps.gid[0].host_id() == 5);
    }

    #[test]
    fn idmap_needs_a_bind_mount_and_maps() {
        let v = with(|v| {
            userns(v);
            v["mounts"] = json!([mount("/a", "tmpfs", &["idmap"])]);
        });
        assert_eq!(
            err(&v),
            "mounts[0] (/a): idmapped mounts are only supported for bind mounts"
        );
        let v = with(|v| {
            v["mounts"] = json!([{"destination": "/a", "source": "/srv",
                "options": ["bind", "idmap"]}])
        });
        assert_eq!(
            err(&v),
            "mounts[0] (/a): idmap needs uidMappings and gidMappings on the mount or in linux"
        );
    }

    #[test]
    fn hooks_need_absolute_paths_and_positive_timeouts() {
        let v = with(|v| v["hooks"] = json!({"poststop": [{"path": "/bin/true"}, {"path": "x"}]}));
        assert_eq!(
            err(&v),
            "hooks.poststop[1].path: x must be an absolute path"
        );
        let v =
            with(|v| v["hooks"] = json!({"createRuntime": [{"path": "/bin/true", "timeout": 0}]}));
        assert_eq!(
            err(&v),
            "hooks.createRuntime[0].timeout: must be positive, got 0"
        );
        let v = with(|v| v["hooks"] = json!({"prestart": [{"path": "/bin/true", "timeout": 5}]}));
        assert!(plan(&v).hooks().is_some());
    }

    #[test]
    fn a_bad_container_id_is_refused() {
        let inp = Inputs {
            id: "../x",
            ..inputs()
        };
        assert_eq!(
            err_with(&base(), &inp),
            "invalid container id format: \"../x\""
        );
    }

    #[test]
    fn the_cgroup_path_is_resolved_and_checked() {
        let v = with(|v| v["linux"]["cgroupsPath"] = json!("/../../x"));
        assert_eq!(
            err(&v),
            "linux.cgroupsPath: \"/../../x\" must not contain '..'"
        );
        let v = with(|v| v["linux"]["cgroupsPath"] = json!("system.slice:husk:c1"));
        let inp = Inputs {
            systemd_cgroup: true,
            ..inputs()
        };
        let p = plan_with(&v, &inp).unwrap();
        assert_eq!(p.cgroup_path, "/system.slice/husk-c1.scope");
        let v = with(|v| drop(v["linux"].as_object_mut().unwrap().remove("cgroupsPath")));
        let p = plan(&v);
        assert_eq!(
            (p.cgroup_path.as_str(), p.explicit_cgroup),
            ("/husk/t", false)
        );
    }

    #[test]
    fn rootless_needs_a_user_namespace_with_maps() {
        let inp = Inputs {
            euid_root: false,
            ..inputs()
        };
        assert!(err_with(&base(), &inp)
            .starts_with("linux.namespaces: a rootless container (husk is not run by root)"));
        let v = with(userns);
        assert!(plan_with(&v, &inp).is_ok());
    }

    #[test]
    fn a_terminal_and_the_console_socket_go_together() {
        let v = with(|v| v["process"]["terminal"] = json!(true));
        assert_eq!(
            err(&v),
            "process.terminal is true: --console-socket is required"
        );
        let fd = Inputs {
            console_fd: true,
            ..inputs()
        };
        assert!(plan_with(&v, &fd).unwrap().terminal);
        let sock = Inputs {
            console_socket: true,
            ..inputs()
        };
        assert_eq!(
            err_with(&base(), &sock),
            "--console-socket is set but process.terminal is false"
        );
    }

    #[test]
    fn process_fields_are_validated() {
        let v =
            with(|v| v["process"]["capabilities"] = json!({"bounding": ["CAP_CHOWN", "CAP_NOPE"]}));
        let e = err(&v);
        assert!(e.contains("CAP_NOPE"), "{e}");
        let v = with(|v| {
            v["process"]["rlimits"] = json!([{"type": "RLIMIT_NOPE", "hard": 1, "soft": 1}])
        });
        let e = err(&v);
        assert!(
            e.contains("process.rlimits[0]") || e.contains("RLIMIT_NOPE"),
            "{e}"
        );
    }

    #[test]
    fn unsupported_fields_are_refused_by_name() {
        let v = with(|v| v["linux"]["intelRdt"] = json!({"closID": "x"}));
        assert_eq!(err(&v), "linux.intelRdt is not supported by husk");
    }

    #[test]
    fn seccomp_is_validated() {
        let v = with(|v| v["linux"]["seccomp"] = json!({"defaultAction": "SCMP_ACT_NOPE"}));
        let e = err(&v);
        assert!(e.contains("linux.seccomp.defaultAction"), "{e}");
    }

    #[test]
    fn devices_are_validated() {
        let v = with(|v| {
            v["linux"]["devices"] = json!([{"path": "dev/x", "type": "c", "major": 1, "minor": 3}])
        });
        let e = err(&v);
        assert!(e.contains("dev/x"), "{e}");
    }
}
