use crate::container::Container;
use anyhow::Result;
use std::path::Path;

pub fn run(root: &Path, id: &str) -> Result<()> {
    let c = Container::load(root, id)?;
    let status = c.status();
    let out = serde_json::to_string_pretty(&c.state.to_oci(status))?;
    super::print_stdout(&(out + "\n"))
}
