use crate::cli::{Cli, RunArgs};
use anyhow::Result;

/// create + start; in the foreground, wait for the init, delete the
/// container and return its exit status (see lifecycle::run).
pub fn run(cli: &Cli, a: &RunArgs) -> Result<i32> {
    crate::lifecycle::run(&super::create_opts(cli, &a.create)?, a.detach, a.keep)
}
