//! Loading a bundle (config.json and its rootfs), and turning it into a
//! checked plan (`plan`) before any side effect.

pub mod plan;
pub mod template;

use anyhow::{bail, Context, Result};
use oci_spec::runtime::Spec;
use serde::de::DeserializeOwned;
use std::path::{Path, PathBuf};

pub use plan::Plan;

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

pub use crate::linux::namespaces::NsEntry;

/// runc's rule for ids: letters, digits, `_ + - .`, and not `.` or `..`.
pub fn validate_id(id: &str) -> Result<()> {
    // The id names a directory: a file name is at most 255 bytes.
    if id.len() > 255 {
        bail!(
            "invalid container id: {} bytes long, at most 255 allowed",
            id.len()
        );
    }
    let ok = !id.is_empty()
        && id != "."
        && id != ".."
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_+-.".contains(&b));
    if !ok {
        bail!("invalid container id format: {id:?}");
    }
    Ok(())
}

/// Parse config.json from `path`, with the file name in every error and
/// the JSON path of the bad field in type errors.
pub fn parse_config(path: &Path) -> Result<Spec> {
    let data = std::fs::read(path).with_context(|| format!("read config {}", path.display()))?;
    Ok(parse_config_bytes(&data, path)?.0)
}

/// Deserialize `v` as a `T`; an error names the JSON path of the bad field
/// (`process.user.uid: invalid type: ...`), after `prefix` when one is given.
pub fn from_value_at<T: DeserializeOwned>(v: serde_json::Value, prefix: &str) -> Result<T> {
    serde_path_to_error::deserialize(v).map_err(|e| {
        let path = e.path().to_string();
        let at = match (prefix, path.as_str()) {
            ("", ".") => String::new(),
            (p, ".") => format!("{p}: "),
            ("", q) => format!("{q}: "),
            (p, q) if q.starts_with('[') => format!("{p}{q}: "),
            (p, q) => format!("{p}.{q}: "),
        };
        anyhow::anyhow!("{at}{}", e.into_inner())
    })
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
                Some(v) => from_value_at(v.clone(), &format!("mounts[{i}].{key}")),
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
    let mut raw = raw;
    if let Some(p) = raw.get_mut("process") {
        scheduler_flag_names(p);
    }
    let mount_idmaps =
        mount_idmaps(&raw).with_context(|| format!("parse config {}", path.display()))?;
    let spec: Spec =
        from_value_at(raw, "").with_context(|| format!("parse config {}", path.display()))?;
    Ok((spec, mount_idmaps))
}

type MountIdmaps = Vec<Option<crate::linux::idmap::IdMaps>>;

/// The runtime spec names two of `process.scheduler.flags`
/// `SCHED_FLAG_RESET_ON_FORK` and `SCHED_FLAG_DL_OVERRUN`; oci-spec 0.8
/// spells them `SCHED_RESET_ON_FORK` and `SCHED_FLAG_D_L_OVERRUN` and
/// refuses the spec's words. Rewritten in the raw JSON of a process before
/// it is deserialized, so that both spellings parse.
pub fn scheduler_flag_names(process: &mut serde_json::Value) {
    let Some(flags) = process
        .get_mut("scheduler")
        .and_then(|s| s.get_mut("flags"))
        .and_then(|f| f.as_array_mut())
    else {
        return;
    };
    for f in flags {
        let to = match f.as_str() {
            Some("SCHED_FLAG_RESET_ON_FORK") => "SCHED_RESET_ON_FORK",
            Some("SCHED_FLAG_DL_OVERRUN") => "SCHED_FLAG_D_L_OVERRUN",
            _ => continue,
        };
        *f = serde_json::Value::from(to);
    }
}

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
    /// Read config.json and check the rootfs: it exists, is a directory and
    /// is not reached through a symlink. The rest is `Plan::validate`'s.
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
        Ok(Bundle {
            dir,
            rootfs,
            spec,
            mount_idmaps,
        })
    }
}

#[cfg(test)]
mod tests {
    use oci_spec::runtime::LinuxSchedulerFlag as F;
    use std::path::Path;

    fn with_flags(flags: &[&str]) -> Vec<u8> {
        let mut v = super::template::template(false, false);
        v["process"]["scheduler"] = serde_json::json!({"policy": "SCHED_OTHER", "flags": flags});
        serde_json::to_vec(&v).unwrap()
    }

    fn flags_of(data: &[u8]) -> Vec<F> {
        let (spec, _) = super::parse_config_bytes(data, Path::new("/b/config.json")).unwrap();
        let p = spec.process().clone().unwrap();
        p.scheduler().clone().unwrap().flags().clone().unwrap()
    }

    #[test]
    fn scheduler_flags_parse_with_the_runtime_specs_names() {
        let spec_names = [
            "SCHED_FLAG_RESET_ON_FORK",
            "SCHED_FLAG_RECLAIM",
            "SCHED_FLAG_DL_OVERRUN",
            "SCHED_FLAG_KEEP_POLICY",
            "SCHED_FLAG_KEEP_PARAMS",
            "SCHED_FLAG_UTIL_CLAMP_MIN",
            "SCHED_FLAG_UTIL_CLAMP_MAX",
        ];
        let want = [
            F::SchedResetOnFork,
            F::SchedFlagReclaim,
            F::SchedFlagDLOverrun,
            F::SchedFlagKeepPolicy,
            F::SchedFlagKeepParams,
            F::SchedFlagUtilClampMin,
            F::SchedFlagUtilClampMax,
        ];
        assert_eq!(flags_of(&with_flags(&spec_names)), want);
        // oci-spec's own spellings keep working.
        assert_eq!(
            flags_of(&with_flags(&[
                "SCHED_RESET_ON_FORK",
                "SCHED_FLAG_D_L_OVERRUN"
            ])),
            [F::SchedResetOnFork, F::SchedFlagDLOverrun]
        );
    }

    #[test]
    fn an_unknown_scheduler_flag_names_its_path() {
        let err = super::parse_config_bytes(&with_flags(&["SCHED_FLAG_NOPE"]), Path::new("/b/c"))
            .unwrap_err();
        let msg = format!("{err:#}");
        assert!(msg.contains("process.scheduler.flags[0]"), "{msg}");
    }
}
