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
    /// [default: /run/husk, or $XDG_RUNTIME_DIR/husk when rootless]
    #[arg(long = "root", value_name = "DIR")]
    pub root_flag: Option<PathBuf>,
    /// The state directory in use: `--root`, or its default (set by
    /// `commands::main` once the command line is parsed).
    #[arg(skip)]
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
    /// Ignore cgroup permission errors: true, false or auto (auto: true
    /// unless uid 0 outside a user namespace)
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
    /// Make a runnable bundle from an OCI image or a docker save archive
    Bundle(BundleArgs),
    /// Connect containers to a bridge network (also as createRuntime and poststop hooks)
    Network(NetworkArgs),
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
    /// LinuxResources JSON file, or - for stdin (all other options are then ignored)
    #[arg(short = 'r', long, value_name = "FILE")]
    pub resources: Option<String>,
    /// Block IO weight (10 to 1000)
    #[arg(long, value_name = "WEIGHT")]
    pub blkio_weight: Option<u16>,
    /// CPU CFS period in microseconds
    #[arg(long, value_name = "USECS")]
    pub cpu_period: Option<u64>,
    /// CPU CFS quota in microseconds per period (-1: no limit)
    #[arg(long, value_name = "USECS", allow_hyphen_values = true)]
    pub cpu_quota: Option<i64>,
    /// CPU CFS burst in microseconds
    #[arg(long, value_name = "USECS")]
    pub cpu_burst: Option<u64>,
    /// CPU realtime period in microseconds
    #[arg(long, value_name = "USECS")]
    pub cpu_rt_period: Option<u64>,
    /// CPU realtime runtime in microseconds per period
    #[arg(long, value_name = "USECS", allow_hyphen_values = true)]
    pub cpu_rt_runtime: Option<i64>,
    /// CPU shares (relative weight)
    #[arg(long, value_name = "SHARES")]
    pub cpu_share: Option<u64>,
    /// SCHED_IDLE for the cgroup (1) or not (0)
    #[arg(long, value_name = "0|1")]
    pub cpu_idle: Option<i64>,
    /// CPUs to use (cpuset list, e.g. 0-2,4)
    #[arg(long, value_name = "LIST")]
    pub cpuset_cpus: Option<String>,
    /// Memory nodes to use (cpuset list)
    #[arg(long, value_name = "LIST")]
    pub cpuset_mems: Option<String>,
    /// Kernel memory limit (obsolete)
    #[arg(long, hide = true, allow_hyphen_values = true)]
    pub kernel_memory: Option<String>,
    /// Kernel TCP buffer memory limit (obsolete)
    #[arg(long, hide = true, allow_hyphen_values = true)]
    pub kernel_memory_tcp: Option<String>,
    /// Memory limit in bytes (suffixes k, m, g, ...; -1: no limit)
    #[arg(long, value_name = "BYTES", allow_hyphen_values = true)]
    pub memory: Option<String>,
    /// Memory reservation (soft limit) in bytes
    #[arg(long, value_name = "BYTES", allow_hyphen_values = true)]
    pub memory_reservation: Option<String>,
    /// Memory plus swap limit in bytes (-1: unlimited swap)
    #[arg(long, value_name = "BYTES", allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    /// Maximum number of pids (-1: no limit)
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
    /// Intel RDT/CAT L3 cache schema
    #[arg(long, value_name = "SCHEMA")]
    pub l3_cache_schema: Option<String>,
    /// Intel RDT/MBA memory bandwidth schema
    #[arg(long, value_name = "SCHEMA")]
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

/// `husk bundle [OPTIONS] IMAGE BUNDLE [-- ARGS...]`, `husk bundle rm
/// BUNDLE`, `husk bundle gc`.
#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct BundleArgs {
    #[command(subcommand)]
    pub action: Option<BundleAction>,
    #[command(flatten)]
    pub make: BundleMakeArgs,
}

#[derive(Subcommand, Debug)]
pub enum BundleAction {
    /// Unmount (overlay) and remove a bundle made by husk bundle
    Rm {
        /// The bundle directory
        bundle: PathBuf,
    },
    /// Remove the layers of a layer store that no bundle uses
    Gc {
        /// The layer store
        #[arg(long, default_value = "/var/lib/husk/layers", value_name = "DIR")]
        layer_store: PathBuf,
    },
}

#[derive(Args, Debug)]
pub struct BundleMakeArgs {
    /// Image to use: a tag (ref.name annotation) or a docker RepoTag; not
    /// with a reference that names one
    #[arg(long, value_name = "TAG")]
    pub tag: Option<String>,
    /// Platform to choose in a multi-platform image (default: the host's)
    #[arg(long, value_name = "OS/ARCH[/VARIANT]")]
    pub platform: Option<String>,
    /// Mount the rootfs as an overlay of layers kept in a layer store
    #[arg(long)]
    pub overlay: bool,
    /// Layer store for --overlay
    #[arg(long, default_value = "/var/lib/husk/layers", value_name = "DIR")]
    pub layer_store: PathBuf,
    /// Give the process a terminal
    #[arg(long)]
    pub tty: bool,
    /// Network: none (a new network namespace) or host
    #[arg(long, default_value = "none", value_name = "MODE", value_parser = ["none", "host"])]
    pub net: String,
    /// Mount the rootfs read-only
    #[arg(long)]
    pub read_only: bool,
    /// Bind-mount a host path: SRC:DST[:ro] (repeatable)
    #[arg(long = "mount", value_name = "SRC:DST[:ro]")]
    pub mounts: Vec<String>,
    /// OCI image layout directory, OCI archive, or docker save archive: a
    /// path, PATH:TAG, oci:DIR[:REF], oci-archive:FILE[:REF] or
    /// docker-archive:FILE[:NAME:TAG|:@N] (see husk-bundle(8))
    #[arg(required = true)]
    pub image: Option<PathBuf>,
    /// Bundle directory to create
    #[arg(required = true)]
    pub bundle: Option<PathBuf>,
    /// Arguments replacing the image's Cmd (after --)
    #[arg(last = true, value_name = "ARGS")]
    pub args: Vec<String>,
}

/// `husk network attach|detach|rm|ls|inspect`: husk's bridge network
/// helper (not in runc), see man/husk-network.8.
#[derive(Args, Debug)]
pub struct NetworkArgs {
    #[command(subcommand)]
    pub action: NetworkAction,
}

#[derive(Subcommand, Debug)]
pub enum NetworkAction {
    /// Connect a container to a bridge; without an id, read the OCI state
    /// on stdin (a createRuntime hook)
    Attach(NetworkAttachArgs),
    /// Disconnect a container; without an id, read the OCI state on stdin
    /// (a poststop hook)
    Detach(NetworkDetachArgs),
    /// Remove a bridge network: its bridge, rules and allocation store
    Rm(NetworkRmArgs),
    /// List the bridge networks
    Ls(NetworkLsArgs),
    /// Print the allocation store of a bridge network as JSON
    Inspect(NetworkBridgeArg),
}

#[derive(Args, Debug)]
pub struct NetworkAttachArgs {
    /// Bridge to attach to, created if missing (at most 15 characters)
    #[arg(long, default_value = "husk0", value_name = "NAME")]
    pub bridge: String,
    /// Subnet of a new bridge (default: 10.88.0.0/16, or the next /16 up to 10.99 that is free)
    #[arg(long, value_name = "CIDR")]
    pub subnet: Option<String>,
    /// The container's address (default: the next free one)
    #[arg(long, value_name = "ADDRESS")]
    pub ip: Option<String>,
    /// Masquerade the container's traffic to other networks
    #[arg(long)]
    pub masquerade: bool,
    /// Publish a container port on the host: HOSTPORT:CONTAINERPORT[/tcp|udp] (repeatable)
    #[arg(short = 'p', long, value_name = "HOST:CONTAINER[/PROTO]")]
    pub publish: Vec<String>,
    /// Name for /etc/hostname and /etc/hosts (default: config.json's hostname, else the id)
    #[arg(long, value_name = "NAME")]
    pub hostname: Option<String>,
    /// Nameserver for /etc/resolv.conf (repeatable; default: the host's, minus loopback ones)
    #[arg(long, value_name = "ADDRESS")]
    pub dns: Vec<String>,
    /// Do not write /etc/hosts, /etc/hostname and /etc/resolv.conf
    #[arg(long)]
    pub no_etc: bool,
    /// The container's bundle (default: from its state)
    #[arg(short = 'b', long, value_name = "DIR")]
    pub bundle: Option<PathBuf>,
    /// Use the network namespace of this process (default: the container's init)
    #[arg(long, value_name = "PID", conflicts_with = "netns")]
    pub pid: Option<i32>,
    /// Use this network namespace file (e.g. /run/netns/NAME)
    #[arg(long, value_name = "PATH")]
    pub netns: Option<PathBuf>,
    /// The nft program (default: nft from PATH, /usr/sbin or /sbin)
    #[arg(long, value_name = "PATH")]
    pub nft: Option<PathBuf>,
    /// Container id; without it, the OCI state JSON is read from stdin
    pub id: Option<String>,
}

#[derive(Args, Debug)]
pub struct NetworkDetachArgs {
    /// Only detach from this bridge (default: from any)
    #[arg(long, value_name = "NAME")]
    pub bridge: Option<String>,
    /// The nft program (default: nft from PATH, /usr/sbin or /sbin)
    #[arg(long, value_name = "PATH")]
    pub nft: Option<PathBuf>,
    /// Container id; without it, the OCI state JSON is read from stdin
    pub id: Option<String>,
}

#[derive(Args, Debug)]
pub struct NetworkRmArgs {
    /// Detach the bridge's containers first, instead of refusing
    #[arg(short = 'f', long)]
    pub force: bool,
    /// The nft program (default: nft from PATH, /usr/sbin or /sbin)
    #[arg(long, value_name = "PATH")]
    pub nft: Option<PathBuf>,
    pub bridge: String,
}

#[derive(Args, Debug)]
pub struct NetworkLsArgs {
    /// Output format: table or json
    #[arg(short = 'f', long, default_value = "table")]
    pub format: String,
}

#[derive(Args, Debug)]
pub struct NetworkBridgeArg {
    pub bridge: String,
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
            let takes = |a: &clap::Arg| {
                a.get_action().takes_values() && a.get_num_args().is_none_or(|n| n.min_values() > 0)
            };
            let found = current.get_arguments().find(|a| a.get_long() == Some(name));
            match found {
                Some(a) if name.len() > 1 || rest.starts_with('-') => {
                    if !has_eq && takes(a) {
                        expect_value = true;
                    }
                    out.push(format!("--{long}"));
                }
                _ => {
                    // A short flag with its value in the next argument
                    // (`-e A=1`): that value is not the first positional,
                    // and the flags after it are still flags.
                    let mut c = rest.chars();
                    if let (Some(short), None) = (c.next(), c.next()) {
                        expect_value = current
                            .get_arguments()
                            .any(|a| a.get_short() == Some(short) && takes(a));
                    }
                    out.push(arg)
                }
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
    use super::*;
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

    fn parse(s: &str) -> Cli {
        Cli::try_parse_from(normalize_args(v(s))).unwrap()
    }

    #[test]
    fn global_defaults_are_runcs() {
        let c = parse("husk list");
        assert_eq!(c.root_flag, None);
        assert_eq!(c.log, None);
        assert_eq!(c.log_format, LogFormat::Text);
        assert!(!c.debug && !c.systemd_cgroup && !c.version);
        assert_eq!(c.rootless, None);
        let Some(Command::List(l)) = c.command else {
            panic!()
        };
        assert_eq!(l.format, "table");
        assert!(!l.quiet);
    }

    #[test]
    fn go_style_global_flags_and_values() {
        let c = parse("husk -root /r -log /l -log-format json -debug -systemd-cgroup state x");
        assert_eq!(c.root_flag, Some(PathBuf::from("/r")));
        assert_eq!(c.log, Some(PathBuf::from("/l")));
        assert_eq!(c.log_format, LogFormat::Json);
        assert!(c.debug && c.systemd_cgroup);
        // As Go's string flag, --rootless takes the next argument.
        assert_eq!(
            parse("husk -rootless false list").rootless.as_deref(),
            Some("false")
        );
        assert_eq!(
            parse("husk -rootless=auto list").rootless.as_deref(),
            Some("auto")
        );
    }

    #[test]
    fn create_and_run_defaults() {
        let Some(Command::Create(c)) = parse("husk create id").command else {
            panic!()
        };
        assert_eq!(c.bundle, PathBuf::from("."));
        assert_eq!(c.preserve_fds, 0);
        assert!(c.console_socket.is_none() && c.pid_file.is_none());
        assert!(!c.no_pivot && !c.no_new_keyring);
        let Some(Command::Run(r)) =
            parse("husk run -d -keep -preserve-fds 2 -console-socket /s -b /b id").command
        else {
            panic!()
        };
        assert!(r.detach && r.keep);
        assert_eq!(r.create.preserve_fds, 2);
        assert_eq!(r.create.bundle, PathBuf::from("/b"));
        assert_eq!(r.create.console_socket, Some(PathBuf::from("/s")));
    }

    #[test]
    fn kill_takes_signals_that_look_like_flags() {
        let Some(Command::Kill(k)) = parse("husk kill -a id -9").command else {
            panic!()
        };
        assert!(k.all);
        assert_eq!(k.signal.as_deref(), Some("-9"));
        let Some(Command::Kill(k)) = parse("husk kill id").command else {
            panic!()
        };
        assert_eq!(k.signal, None, "the command chooses SIGTERM");
    }

    #[test]
    fn exec_flags_stop_at_the_command() {
        let Some(Command::Exec(e)) =
            parse("husk exec -t -e A=1 --env B=2 -u 1000:1000 -cwd /tmp -cap CAP_KILL id sh -c -x")
                .command
        else {
            panic!()
        };
        assert!(e.tty);
        assert_eq!(e.env, ["A=1", "B=2"]);
        assert_eq!(e.user.as_deref(), Some("1000:1000"));
        assert_eq!(e.cwd.as_deref(), Some("/tmp"));
        assert_eq!(e.cap, ["CAP_KILL"]);
        assert_eq!(e.id, "id");
        assert_eq!(e.command, ["sh", "-c", "-x"]);
    }

    #[test]
    fn a_short_flags_value_is_not_the_first_positional() {
        // runc accepts `exec -e A=1 -cwd /tmp id ...`: -cwd is still a flag.
        assert_eq!(
            normalize_args(v("husk exec -e A=1 -cwd /tmp -u 0 id ls -cwd")),
            v("husk exec -e A=1 --cwd /tmp -u 0 id ls -cwd")
        );
        // A flag without a value (-t) does not swallow the next argument.
        assert_eq!(
            normalize_args(v("husk exec -t id -cwd")),
            v("husk exec -t id -cwd")
        );
    }

    #[test]
    fn update_takes_negative_values() {
        let Some(Command::Update(u)) =
            parse("husk update -memory -1 -cpu-quota -1 -pids-limit -1 -cpu-share 512 id").command
        else {
            panic!()
        };
        assert_eq!(u.memory.as_deref(), Some("-1"));
        assert_eq!(u.cpu_quota, Some(-1));
        assert_eq!(u.pids_limit, Some(-1));
        assert_eq!(u.cpu_share, Some(512));
    }

    #[test]
    fn normalize_leaves_values_and_unknown_flags_alone() {
        // The value of a flag is never rewritten, even when it looks like one.
        assert_eq!(
            normalize_args(v("husk --log -debug list")),
            v("husk --log -debug list")
        );
        // Unknown single-dash words stay (clap reports them).
        assert_eq!(
            normalize_args(v("husk -nonsense list")),
            v("husk -nonsense list")
        );
        // After "--" nothing is touched.
        assert_eq!(
            normalize_args(v("husk exec -- -root")),
            v("husk exec -- -root")
        );
        // Single-letter flags keep their single dash.
        assert_eq!(normalize_args(v("husk list -q")), v("husk list -q"));
        assert_eq!(normalize_args(v("husk")), v("husk"));
    }

    #[test]
    fn bad_values_are_refused() {
        assert!(Cli::try_parse_from(v("husk --log-format xml list")).is_err());
        assert!(Cli::try_parse_from(v("husk create -preserve-fds x id")).is_err());
        assert!(
            Cli::try_parse_from(v("husk start")).is_err(),
            "id is required"
        );
    }
}
