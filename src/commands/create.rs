use crate::cli::{Cli, CreateArgs};
use anyhow::Result;

pub fn run(cli: &Cli, a: &CreateArgs) -> Result<()> {
    crate::lifecycle::create(&super::create_opts(cli, a)?).map(drop)
}
