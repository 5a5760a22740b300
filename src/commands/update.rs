//! `husk update` and `husk events`.

use crate::cli::{EventsArgs, UpdateArgs};
use anyhow::{bail, Result};
use std::path::Path;

pub fn run(_root: &Path, a: &UpdateArgs) -> Result<()> {
    bail!("update of container {}: not implemented in husk yet", a.id)
}

pub fn events(_root: &Path, a: &EventsArgs) -> Result<()> {
    bail!("events of container {}: not implemented in husk yet", a.id)
}
