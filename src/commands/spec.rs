//! `husk spec`: write a starter config.json, the same template as runc's.

use crate::cli::SpecArgs;
use anyhow::{bail, Context, Result};
use std::path::PathBuf;

pub fn run(a: &SpecArgs) -> Result<()> {
    let dir = a.bundle.clone().unwrap_or_else(|| PathBuf::from("."));
    let path = dir.join("config.json");
    if path.symlink_metadata().is_ok() {
        bail!("File {} exists. Remove it first", "config.json");
    }
    let spec = crate::spec::template::template(a.rootless, host_is_cgroup_v2());
    let mut text = serde_json::to_string_pretty(&spec)?;
    text.push('\n');
    std::fs::write(&path, text).with_context(|| format!("write {}", path.display()))?;
    Ok(())
}

/// Whether /sys/fs/cgroup is a cgroup2 mount (a pure v2 host), the test
/// runc's `spec` makes.
fn host_is_cgroup_v2() -> bool {
    crate::cgroups::Layout::detect().is_ok_and(|l| l.is_v2())
}
