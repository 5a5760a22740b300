//! `husk exec`: run a new process inside a running container.

use crate::cli::{Cli, ExecArgs};
use anyhow::{bail, Result};

pub fn run(_cli: &Cli, a: &ExecArgs) -> Result<i32> {
    bail!("exec into container {}: not implemented in husk yet", a.id)
}
