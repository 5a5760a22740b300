use anyhow::Result;
use std::path::Path;

/// Release the init blocked on exec.fifo, then run poststart hooks.
pub fn run(root: &Path, id: &str) -> Result<()> {
    crate::lifecycle::start(root, id)
}
