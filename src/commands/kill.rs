use crate::cli::KillArgs;
use anyhow::Result;
use std::path::Path;

pub fn run(root: &Path, a: &KillArgs) -> Result<()> {
    let signal = a.signal.as_deref().unwrap_or("SIGTERM");
    crate::lifecycle::kill(root, &a.id, signal, a.all)
}
