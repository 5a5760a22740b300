//! One file per subcommand: glue between the CLI and the library.

pub mod bundle;
pub mod create;
pub mod delete;
pub mod exec;
pub mod features;
pub mod kill;
pub mod list;
pub mod network;
pub mod pause;
pub mod ps;
pub mod run;
pub mod spec;
pub mod start;
pub mod state;
pub mod update;

use crate::cli::{Cli, Command};
use anyhow::Result;

/// Run a command; returns the process exit code.
pub fn dispatch(cli: &Cli, cmd: &Command) -> Result<i32> {
    let root = &cli.root;
    match cmd {
        Command::Create(a) => create::run(cli, a).map(|_| 0),
        Command::Start(a) => start::run(root, &a.id).map(|_| 0),
        Command::State(a) => state::run(root, &a.id).map(|_| 0),
        Command::Kill(a) => kill::run(root, a).map(|_| 0),
        Command::Delete(a) => delete::run(root, &a.id, a.force).map(|_| 0),
        Command::Run(a) => run::run(cli, a),
        Command::Exec(a) => exec::run(cli, a),
        Command::Ps(a) => ps::run(root, a).map(|_| 0),
        Command::List(a) => list::run(root, a).map(|_| 0),
        Command::Pause(a) => pause::run(root, &a.id, true).map(|_| 0),
        Command::Resume(a) => pause::run(root, &a.id, false).map(|_| 0),
        Command::Update(a) => update::run(root, a).map(|_| 0),
        Command::Events(a) => update::events(root, a).map(|_| 0),
        Command::Spec(a) => spec::run(a).map(|_| 0),
        Command::Features => features::run().map(|_| 0),
        Command::Network(a) => network::run(root, a).map(|_| 0),
        Command::Bundle(a) => bundle::run(a).map(|_| 0),
    }
}

/// Parse a signal given as a name (KILL, SIGKILL, kill) or a number.
pub fn parse_signal(s: &str) -> Result<nix::sys::signal::Signal> {
    use std::str::FromStr;
    if let Ok(n) = s.parse::<i32>() {
        return nix::sys::signal::Signal::try_from(n)
            .map_err(|_| anyhow::anyhow!("invalid signal {s:?}"));
    }
    let up = s.to_ascii_uppercase();
    let name = if up.starts_with("SIG") {
        up
    } else {
        format!("SIG{up}")
    };
    nix::sys::signal::Signal::from_str(&name).map_err(|_| anyhow::anyhow!("invalid signal {s:?}"))
}
