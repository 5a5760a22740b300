//! Command line, with runc's command and flag names and defaults.

use crate::logging::LogFormat;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "husk",
    about = "husk: an OCI container runtime (a drop-in replacement for runc)",
    disable_version_flag = true
)]
pub struct Cli {
    /// Root directory for storage of container state (tmpfs recommended)
    #[arg(long, default_value = "/run/husk", value_name = "DIR")]
    pub root: PathBuf,
    /// Append log lines to FILE instead of stderr
    #[arg(long, value_name = "FILE")]
    pub log: Option<PathBuf>,
    /// Log format: text or json
    #[arg(long, value_enum, default_value = "text")]
    pub log_format: LogFormat,
    /// Enable debug logging
    #[arg(long)]
    pub debug: bool,
    /// Use systemd cgroup paths (slice:prefix:name)
    #[arg(long)]
    pub systemd_cgroup: bool,
    /// Ignore cgroup permission errors (true, false or auto)
    #[arg(long, value_name = "VALUE", num_args = 0..=1, default_missing_value = "true")]
    pub rootless: Option<String>,
    /// Print the version
    #[arg(short = 'v', long)]
    pub version: bool,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Create a container
    Create(CreateArgs),
    /// Start the user process of a created container
    Start(IdArg),
    /// Print the state of a container
    State(IdArg),
    /// Send a signal to the container's init process
    Kill(KillArgs),
    /// Delete a container and its resources
    Delete(DeleteArgs),
    /// Create and start a container
    Run(RunArgs),
    /// Run a new process inside a container
    Exec(ExecArgs),
    /// List the processes running in a container
    Ps(PsArgs),
    /// List containers
    List(ListArgs),
    /// Suspend all processes of a container
    Pause(IdArg),
    /// Resume all processes of a paused container
    Resume(IdArg),
    /// Update the resource limits of a container
    Update(UpdateArgs),
    /// Print container events and resource statistics
    Events(EventsArgs),
    /// Write a new specification file (config.json)
    Spec(SpecArgs),
    /// Print the features of husk as JSON
    Features,
}

#[derive(Args, Debug)]
pub struct IdArg {
    pub id: String,
}

#[derive(Args, Debug, Clone, Default)]
pub struct CreateArgs {
    /// Path to the bundle directory
    #[arg(short = 'b', long, default_value = ".", value_name = "DIR")]
    pub bundle: PathBuf,
    /// Unix socket that receives the pty master of the container's terminal
    #[arg(long, value_name = "PATH")]
    pub console_socket: Option<PathBuf>,
    /// File to write the container init's pid to
    #[arg(long, value_name = "FILE")]
    pub pid_file: Option<PathBuf>,
    /// Do not use pivot_root to jail the process in the rootfs
    #[arg(long)]
    pub no_pivot: bool,
    /// Do not create a new session keyring
    #[arg(long)]
    pub no_new_keyring: bool,
    /// Pass N extra fds (from 3 upwards) to the container process
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub preserve_fds: u32,
    /// Container id
    pub id: String,
}

#[derive(Args, Debug)]
pub struct RunArgs {
    #[command(flatten)]
    pub create: CreateArgs,
    /// Detach from the container's process
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Do not delete the container after it exits
    #[arg(long)]
    pub keep: bool,
}

#[derive(Args, Debug)]
pub struct KillArgs {
    /// Send the signal to all processes of the container
    #[arg(short = 'a', long)]
    pub all: bool,
    pub id: String,
    /// Signal name (KILL, SIGKILL) or number; default SIGTERM
    #[arg(allow_hyphen_values = true)]
    pub signal: Option<String>,
}

#[derive(Args, Debug)]
pub struct DeleteArgs {
    /// Kill the container if it is running, then delete it
    #[arg(short = 'f', long)]
    pub force: bool,
    pub id: String,
}

#[derive(Args, Debug)]
pub struct ListArgs {
    /// Output format: table or json
    #[arg(short = 'f', long, default_value = "table")]
    pub format: String,
    /// Print only the container ids
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

#[derive(Args, Debug)]
pub struct SpecArgs {
    /// Bundle directory to write config.json into
    #[arg(short = 'b', long, value_name = "DIR")]
    pub bundle: Option<PathBuf>,
    /// Generate a configuration for a rootless container
    #[arg(long)]
    pub rootless: bool,
}

#[derive(Args, Debug)]
pub struct PsArgs {
    /// Output format: table or json
    #[arg(short = 'f', long, default_value = "table")]
    pub format: String,
    pub id: String,
    /// Arguments passed to ps(1)
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub ps_args: Vec<String>,
}

#[derive(Args, Debug)]
pub struct ExecArgs {
    /// JSON file with the process to run (the spec's process object)
    #[arg(short = 'p', long, value_name = "FILE")]
    pub process: Option<PathBuf>,
    /// Detach from the process
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// File to write the process' pid to
    #[arg(long, value_name = "FILE")]
    pub pid_file: Option<PathBuf>,
    /// Unix socket that receives the pty master
    #[arg(long, value_name = "PATH")]
    pub console_socket: Option<PathBuf>,
    /// Allocate a pseudo-TTY
    #[arg(short = 't', long)]
    pub tty: bool,
    /// Current working directory in the container
    #[arg(long, value_name = "DIR")]
    pub cwd: Option<String>,
    /// Set environment variables (KEY=VALUE)
    #[arg(short = 'e', long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// User to run as: UID[:GID]
    #[arg(short = 'u', long, value_name = "UID[:GID]")]
    pub user: Option<String>,
    /// Additional gids
    #[arg(short = 'g', long = "additional-gids", value_name = "GID")]
    pub additional_gids: Vec<u32>,
    /// Add a capability to the bounding, effective, permitted and ambient sets
    #[arg(short = 'c', long = "cap", value_name = "CAP")]
    pub cap: Vec<String>,
    /// Set no_new_privs for the process
    #[arg(long)]
    pub no_new_privs: bool,
    /// AppArmor profile for the process
    #[arg(long, value_name = "PROFILE")]
    pub apparmor: Option<String>,
    /// SELinux label for the process
    #[arg(long, value_name = "LABEL")]
    pub process_label: Option<String>,
    /// Pass N extra fds to the process
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub preserve_fds: u32,
    /// Allow exec in a paused container
    #[arg(long)]
    pub ignore_paused: bool,
    /// Run in this sub-cgroup of the container (v2: PATH; v1: CONTROLLER:PATH)
    #[arg(long, value_name = "PATH")]
    pub cgroup: Vec<String>,
    pub id: String,
    /// Command and arguments
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

#[derive(Args, Debug, Default)]
pub struct UpdateArgs {
    /// LinuxResources JSON file, or - for stdin
    #[arg(short = 'r', long, value_name = "FILE")]
    pub resources: Option<String>,
    #[arg(long)]
    pub blkio_weight: Option<u16>,
    #[arg(long)]
    pub cpu_period: Option<u64>,
    #[arg(long)]
    pub cpu_quota: Option<i64>,
    #[arg(long)]
    pub cpu_rt_period: Option<u64>,
    #[arg(long)]
    pub cpu_rt_runtime: Option<i64>,
    #[arg(long)]
    pub cpu_share: Option<u64>,
    #[arg(long)]
    pub cpu_idle: Option<i64>,
    #[arg(long)]
    pub cpuset_cpus: Option<String>,
    #[arg(long)]
    pub cpuset_mems: Option<String>,
    #[arg(long)]
    pub memory: Option<String>,
    #[arg(long)]
    pub memory_reservation: Option<String>,
    #[arg(long)]
    pub memory_swap: Option<String>,
    #[arg(long)]
    pub pids_limit: Option<i64>,
    #[arg(long)]
    pub l3_cache_schema: Option<String>,
    #[arg(long)]
    pub mem_bw_schema: Option<String>,
    pub id: String,
}

#[derive(Args, Debug)]
pub struct EventsArgs {
    /// Print the container's statistics once and exit
    #[arg(long)]
    pub stats: bool,
    /// Interval between statistics (Go duration: 5s, 500ms, 1m)
    #[arg(long, default_value = "5s")]
    pub interval: String,
    pub id: String,
}

/// Rewrite Go-style single-dash long flags (`-bundle x`, `-no-subreaper`) to
/// `--bundle x`, as runc's flag parser accepts both. Only arguments before
/// the first positional of the subcommand are touched, so a container
/// command like `exec ID ls -la` is left alone.
pub fn normalize_args(args: Vec<String>) -> Vec<String> {
    use clap::CommandFactory;
    let cmd = Cli::command();
    let mut out = Vec::with_capacity(args.len());
    let mut it = args.into_iter();
    if let Some(a0) = it.next() {
        out.push(a0);
    }
    let mut current = &cmd;
    let mut in_sub = false;
    let mut expect_value = false;
    let mut positional_seen = false;
    for arg in it {
        if positional_seen || arg == "--" {
            positional_seen = true;
            out.push(arg);
            continue;
        }
        if expect_value {
            expect_value = false;
            out.push(arg);
            continue;
        }
        if let Some(rest) = arg.strip_prefix('-') {
            let long = rest.strip_prefix('-').unwrap_or(rest);
            let (name, has_eq) = match long.split_once('=') {
                Some((n, _)) => (n, true),
                None => (long, false),
            };
            let found = current.get_arguments().find(|a| a.get_long() == Some(name));
            match found {
                Some(a) if name.len() > 1 || rest.starts_with('-') => {
                    let takes = a.get_action().takes_values()
                        && a.get_num_args().is_none_or(|n| n.min_values() > 0);
                    if !has_eq && takes {
                        expect_value = true;
                    }
                    out.push(format!("--{long}"));
                }
                _ => out.push(arg),
            }
            continue;
        }
        if !in_sub {
            if let Some(sub) = cmd.find_subcommand(&arg) {
                current = sub;
                in_sub = true;
                out.push(arg);
                continue;
            }
        }
        if in_sub {
            positional_seen = true;
        }
        out.push(arg);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::normalize_args;
    fn v(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }
    #[test]
    fn go_style_flags() {
        assert_eq!(
            normalize_args(v("husk -root /r create -bundle /b -pid-file=p id")),
            v("husk --root /r create --bundle /b --pid-file=p id")
        );
        assert_eq!(
            normalize_args(v("husk exec id ls -la -detach")),
            v("husk exec id ls -la -detach")
        );
        assert_eq!(normalize_args(v("husk kill id -9")), v("husk kill id -9"));
        assert_eq!(
            normalize_args(v("husk delete -f id")),
            v("husk delete -f id")
        );
    }
}
