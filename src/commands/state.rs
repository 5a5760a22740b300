use anyhow::Result;
use std::path::Path;

pub fn run(root: &Path, id: &str) -> Result<()> {
    super::print_stdout(&(crate::lifecycle::state(root, id)? + "\n"))
}
