//! Idmapped bind mounts (`idmap` / `ridmap` mount options).

use super::mountopts::MountOpts;
use anyhow::{bail, Result};
use std::path::Path;

pub fn mount_idmapped(
    source: &Path,
    _target: &str,
    _opts: &MountOpts,
    _recursive: bool,
) -> Result<()> {
    bail!(
        "mounts: idmap/ridmap option on {} is not supported by husk yet",
        source.display()
    )
}
