//! One file per subcommand: glue between the CLI and the library. Each
//! parses its arguments, calls the library (the lifecycle operations are
//! in crate::lifecycle) and prints; no command calls another.

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

/// `create`'s and `run`'s flags as the lifecycle takes them.
fn create_opts<'a>(
    cli: &'a Cli,
    a: &'a crate::cli::CreateArgs,
) -> Result<crate::lifecycle::CreateOpts<'a>> {
    Ok(crate::lifecycle::CreateOpts {
        root: &cli.root,
        id: &a.id,
        bundle: &a.bundle,
        pid_file: a.pid_file.as_deref(),
        console_socket: a.console_socket.as_deref(),
        no_pivot: a.no_pivot,
        no_new_keyring: a.no_new_keyring,
        preserve_fds: a.preserve_fds,
        systemd_cgroup: cli.systemd_cgroup,
        rootless: crate::linux::rootless::cgroups_rootless(cli.rootless.as_deref())?,
        // lifecycle::run sets these two.
        subreaper: false,
        console_fd: None,
    })
}

/// Run a command; returns the process exit code.
pub fn dispatch(cli: &Cli, cmd: &Command) -> Result<i32> {
    let root = &cli.root;
    if matches!(cmd, Command::Create(_) | Command::Run(_) | Command::Exec(_)) {
        // These start processes inside a container: run them from a sealed
        // copy of husk (re-executes; see linux::sealed_exe).
        crate::linux::sealed_exe::ensure()?;
    }
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
        Command::Network(_) => network::require_root().and_then(|_| exec_tools()),
        Command::Bundle(_) => exec_tools(),
    }
}

/// The commands of `husk-tools`: the image and network helpers, kept out
/// of the runtime binary so that its code (tar, zstd, gzip, sha256,
/// netlink, nft) is neither in `husk`'s size nor in its memory.
pub fn dispatch_tools(cli: &Cli, cmd: &Command) -> Result<i32> {
    match cmd {
        Command::Network(a) => network::run(&cli.root, a).map(|_| 0),
        Command::Bundle(a) => bundle::run(a).map(|_| 0),
        _ => anyhow::bail!("husk-tools runs only `bundle` and `network`: use husk"),
    }
}

/// `husk bundle ...` and `husk network ...`: run `husk-tools` with the
/// same arguments. It is looked for next to husk, then on PATH. Returns
/// only on failure.
fn exec_tools() -> Result<i32> {
    use anyhow::Context;
    use std::os::unix::process::CommandExt;
    const TOOLS: &str = "husk-tools";
    let beside = std::env::current_exe()
        .ok()
        .map(|exe| exe.with_file_name(TOOLS))
        .filter(|p| p.is_file());
    let path = beside
        .or_else(|| {
            std::env::var_os("PATH").and_then(|paths| {
                std::env::split_paths(&paths)
                    .map(|d| d.join(TOOLS))
                    .find(|p| p.is_file())
            })
        })
        .with_context(|| {
            format!("{TOOLS} not found next to husk nor on PATH: `husk bundle` and `husk network` run it")
        })?;
    let err = std::process::Command::new(&path)
        .arg0("husk")
        .args(std::env::args_os().skip(1))
        .exec();
    Err(err).with_context(|| format!("exec {}", path.display()))
}

/// The whole of `main` for both binaries: parse the command line (runc's
/// single-dash long flags too), set up logging, run the command with
/// `dispatch`, print a failure as one line on stderr (and to the log), and
/// exit with the command's code.
pub fn main(dispatch: fn(&Cli, &Command) -> Result<i32>) -> ! {
    use clap::Parser;
    use std::io::Write;
    // Ids, flags and paths are handled as UTF-8: refuse other bytes with
    // one line instead of std::env::args()'s panic.
    let mut args = Vec::new();
    for a in std::env::args_os() {
        match a.into_string() {
            Ok(a) => args.push(a),
            Err(a) => {
                eprintln!("invalid argument {a:?}: not valid UTF-8");
                std::process::exit(1);
            }
        }
    }
    let mut cli = match Cli::try_parse_from(crate::cli::normalize_args(args)) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            std::process::exit(usage_exit_code(&e));
        }
    };
    if cli.version {
        print_version();
        std::process::exit(0);
    }
    let Some(cmd) = cli.command.as_ref() else {
        use clap::CommandFactory;
        let _ = Cli::command().print_help();
        std::process::exit(0);
    };
    if let Err(e) = crate::logging::init(cli.log.as_deref(), cli.log_format, cli.debug) {
        eprintln!("{e:#}");
        std::process::exit(1);
    }
    // The default --root depends on who runs husk (runc's rules, see
    // linux::rootless). --rootless is read by create and run only, as in
    // runc.
    match crate::linux::rootless::resolve_root(cli.root_flag.take()) {
        Ok(root) => cli.root = root,
        Err(e) => {
            let msg = format!("{e:#}");
            crate::logging::error(&msg);
            eprintln!("{msg}");
            std::process::exit(1);
        }
    }
    match dispatch(&cli, cmd) {
        Ok(code) => {
            let _ = std::io::stdout().flush();
            std::process::exit(code)
        }
        Err(e) => {
            let msg = format!("{e:#}").replace('\n', " ");
            crate::logging::error(&msg);
            let _ = std::io::stdout().flush();
            eprintln!("{msg}");
            let code = match e.downcast_ref::<crate::error::HuskError>() {
                Some(crate::error::HuskError::Exit(code, _)) => *code,
                _ => 1,
            };
            std::process::exit(code);
        }
    }
}

/// The exit status of a command line that does not parse, as runc's
/// (urfave/cli): 3 for an unknown command, 1 for any other usage error, 0
/// when help was asked for. clap would exit 2.
fn usage_exit_code(e: &clap::Error) -> i32 {
    use clap::error::ErrorKind;
    match e.kind() {
        _ if !e.use_stderr() => 0,
        ErrorKind::InvalidSubcommand => 3,
        _ => 1,
    }
}

fn print_version() {
    let (maj, min, mic) = match libseccomp::ScmpVersion::current() {
        Ok(v) => (v.major, v.minor, v.micro),
        Err(_) => (0, 0, 0),
    };
    let _ = print_stdout(&format!(
        "husk version {}\ncommit: {}\nspec: {}\nlibseccomp: {maj}.{min}.{mic}\n",
        crate::VERSION,
        option_env!("HUSK_COMMIT").unwrap_or("unknown"),
        crate::SPEC_VERSION
    ));
}

/// Write `text` to stdout now. A stdout that is a pipe nobody reads any
/// more (`husk list | head -1`) ends husk quietly, killed by SIGPIPE as
/// runc or a C tool would be, never with a panic or an error line.
pub fn print_stdout(text: &str) -> Result<()> {
    use anyhow::Context;
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => crate::linux::sys::die_of_sigpipe(),
        r => r.context("write to stdout"),
    }
}
