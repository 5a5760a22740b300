use anyhow::Result;
use std::path::Path;

pub fn run(root: &Path, id: &str, force: bool) -> Result<()> {
    crate::lifecycle::delete(root, id, force)
}
