//! Loading and validating a bundle, before any side effect.

use anyhow::{bail, Context, Result};
use oci_spec::runtime::{LinuxNamespaceType, Spec};
use std::path::{Path, PathBuf};

pub struct Bundle {
    /// Absolute path of the bundle directory.
    pub dir: PathBuf,
    /// Absolute path of the root filesystem.
    pub rootfs: PathBuf,
    pub spec: Spec,
    /// `uidMappings`/`gidMappings` of each entry of `mounts` (oci-spec's
    /// Mount type has no such fields, so they are read from the raw JSON).
    pub mount_idmaps: Vec<Option<crate::linux::idmap::IdMaps>>,
}

/// A namespace of the config: created new, or joined through `path`.
#[derive(Debug, Clone)]
pub struct NsEntry {
    pub typ: LinuxNamespaceType,
    pub path: Option<PathBuf>,
}

impl NsEntry {
    pub fn clone_flag(&self) -> libc::c_int {
        self.typ as libc::c_int
    }
}

/// Parse config.json from `path`, with the file name in every error.
pub fn parse_config(path: &Path) -> Result<Spec> {
    let data = std::fs::read(path).with_context(|| format!("read config {}", path.display()))?;
    serde_json::from_slice(&data).with_context(|| format!("parse config {}", path.display()))
}

fn mount_idmaps(v: &serde_json::Value) -> Result<MountIdmaps> {
    let Some(mounts) = v.get("mounts").and_then(|m| m.as_array()) else {
        return Ok(vec![]);
    };
    let mut out = Vec::with_capacity(mounts.len());
    for (i, m) in mounts.iter().enumerate() {
        let get = |key: &str| -> Result<Vec<oci_spec::runtime::LinuxIdMapping>> {
            match m.get(key) {
                None | Some(serde_json::Value::Null) => Ok(vec![]),
                Some(v) => {
                    serde_json::from_value(v.clone()).with_context(|| format!("mounts[{i}].{key}"))
                }
            }
        };
        let (uid, gid) = (get("uidMappings")?, get("gidMappings")?);
        out.push(if uid.is_empty() && gid.is_empty() {
            None
        } else {
            Some(crate::linux::idmap::IdMaps { uid, gid })
        });
    }
    Ok(out)
}

/// Parse the bytes of config.json (`path` names it in errors): the spec,
/// and the per-mount idmaps oci-spec cannot express.
pub fn parse_config_bytes(data: &[u8], path: &Path) -> Result<(Spec, MountIdmaps)> {
    // The raw JSON first: fields oci-spec cannot express (mount idmaps)
    // and errors that name the field (seccomp's enums) come from it.
    let raw: serde_json::Value =
        serde_json::from_slice(data).with_context(|| format!("parse config {}", path.display()))?;
    // serde would read a struct from an array (positionally) or from null:
    // neither is a config.
    let kind = match &raw {
        serde_json::Value::Object(_) => None,
        serde_json::Value::Array(_) => Some("an array"),
        serde_json::Value::Null => Some("null"),
        serde_json::Value::Bool(_) => Some("a boolean"),
        serde_json::Value::Number(_) => Some("a number"),
        serde_json::Value::String(_) => Some("a string"),
    };
    if let Some(kind) = kind {
        bail!(
            "parse config {}: expected a JSON object, found {kind}",
            path.display()
        );
    }
    crate::linux::seccomp::validate_json(&raw)?;
    let mount_idmaps = mount_idmaps(&raw)?;
    let spec: Spec =
        serde_json::from_value(raw).with_context(|| format!("parse config {}", path.display()))?;
    Ok((spec, mount_idmaps))
}

type MountIdmaps = Vec<Option<crate::linux::idmap::IdMaps>>;

/// Like runc, refuse a root.path that is (or passes through) a symlink: the
/// rootfs, taken relative to the bundle's real directory, must already be
/// its own canonical path. A symlink could be swapped between validation
/// and use, and mounts resolved in it would land elsewhere.
fn check_rootfs_not_symlink(bundle: &Path, root_path: &Path) -> Result<()> {
    let joined = if root_path.is_absolute() {
        root_path.to_path_buf()
    } else {
        let real_bundle = std::fs::canonicalize(bundle)
            .with_context(|| format!("bundle {}", bundle.display()))?;
        real_bundle.join(root_path)
    };
    let clean = crate::linux::resolve::clean(&joined);
    let real = std::fs::canonicalize(&clean)
        .with_context(|| format!("root.path: rootfs {}", clean.display()))?;
    if real != clean {
        bail!(
            "root.path: rootfs {} is a symlink or passes through one (resolves to {})",
            clean.display(),
            real.display()
        );
    }
    Ok(())
}

impl Bundle {
    pub fn load(dir: &Path) -> Result<Bundle> {
        let dir =
            std::path::absolute(dir).with_context(|| format!("bundle path {}", dir.display()))?;
        let path = dir.join("config.json");
        let data =
            std::fs::read(&path).with_context(|| format!("read config {}", path.display()))?;
        let (spec, mount_idmaps) = parse_config_bytes(&data, &path)?;
        let root = spec
            .root()
            .as_ref()
            .context("config.json: root is missing")?;
        let rootfs = if root.path().is_absolute() {
            root.path().clone()
        } else {
            dir.join(root.path())
        };
        let md = std::fs::metadata(&rootfs)
            .with_context(|| format!("root.path: rootfs {} does not exist", rootfs.display()))?;
        if !md.is_dir() {
            bail!("root.path: rootfs {} is not a directory", rootfs.display());
        }
        check_rootfs_not_symlink(&dir, root.path())?;
        let b = Bundle {
            dir,
            rootfs,
            spec,
            mount_idmaps,
        };
        b.validate()?;
        Ok(b)
    }

    pub fn namespaces(&self) -> Vec<NsEntry> {
        self.spec
            .linux()
            .as_ref()
            .and_then(|l| l.namespaces().as_ref())
            .map(|v| {
                v.iter()
                    .map(|n| NsEntry {
                        typ: n.typ(),
                        path: n.path().clone(),
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn has_new_ns(&self, typ: LinuxNamespaceType) -> bool {
        self.namespaces()
            .iter()
            .any(|n| n.typ == typ && n.path.is_none())
    }

    pub fn has_ns(&self, typ: LinuxNamespaceType) -> bool {
        self.namespaces().iter().any(|n| n.typ == typ)
    }

    pub(crate) fn validate(&self) -> Result<()> {
        let spec = &self.spec;
        let process = spec
            .process()
            .as_ref()
            .context("config.json: process is missing")?;
        if process.args().as_ref().is_none_or(|a| a.is_empty()) {
            bail!("process.args must not be empty");
        }
        if !process.cwd().is_absolute() {
            bail!(
                "process.cwd {} must be an absolute path",
                process.cwd().display()
            );
        }
        let linux = spec
            .linux()
            .as_ref()
            .context("config.json: linux is missing")?;

        let nss = self.namespaces();
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
        let userns = self.has_ns(LinuxNamespaceType::User);
        let has_maps = linux.uid_mappings().as_ref().is_some_and(|m| !m.is_empty())
            || linux.gid_mappings().as_ref().is_some_and(|m| !m.is_empty());
        if self.has_new_ns(LinuxNamespaceType::User) && !has_maps {
            bail!("linux.uidMappings: a new user namespace needs uid and gid mappings");
        }
        if !userns && has_maps {
            bail!("linux.uidMappings: mappings are set but no user namespace is requested");
        }
        if spec.hostname().as_ref().is_some_and(|h| !h.is_empty())
            && !self.has_ns(LinuxNamespaceType::Uts)
        {
            bail!("hostname: unable to set hostname without a private UTS namespace");
        }
        if spec.domainname().as_ref().is_some_and(|h| !h.is_empty())
            && !self.has_ns(LinuxNamespaceType::Uts)
        {
            bail!("domainname: unable to set domainname without a private UTS namespace");
        }
        if let Some(sysctl) = linux.sysctl() {
            crate::linux::sysctl::validate(sysctl, &nss)?;
        }
        if !self.has_ns(LinuxNamespaceType::Mount) {
            // The container shares the runtime's mount namespace: its
            // mounts are made there and it is chrooted, not pivoted, into
            // the rootfs. Nothing that would remount what the host sees.
            let no_mntns = "without a private mount namespace (linux.namespaces has no \"mount\")";
            if linux.masked_paths().as_ref().is_some_and(|p| !p.is_empty()) {
                bail!("linux.maskedPaths: unable to mask paths {no_mntns}");
            }
            if linux
                .readonly_paths()
                .as_ref()
                .is_some_and(|p| !p.is_empty())
            {
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
        }
        if linux.time_offsets().is_some() && !self.has_new_ns(LinuxNamespaceType::Time) {
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
        crate::linux::rootfs::validate_mounts(spec.mounts().as_deref().unwrap_or(&[]))?;
        crate::linux::process::validate(process)?;
        if let Some(p) = linux.personality() {
            crate::linux::sched::validate_personality(p)?;
        }
        Ok(())
    }
}
