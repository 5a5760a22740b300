//! `husk-tools`: the image-to-bundle and bridge-network helpers, which
//! `husk bundle ...` and `husk network ...` run, and `completion`, the
//! shell completions of both programs. A binary of its own so that the
//! runtime does not carry their code (nor clap_complete).

use clap::{Arg, ArgMatches, Command};
use clap_complete::Shell;

fn main() {
    // husk-tools' own command line: husk's global options, `bundle`,
    // `network` and `completion`. `completion` and help are answered here;
    // everything else goes to the code the runtime shares, as before.
    // (An argument that is not UTF-8 is refused by the shared code.)
    let Ok(args) = std::env::args_os()
        .map(|a| a.into_string())
        .collect::<Result<Vec<String>, _>>()
    else {
        husk::commands::main(husk::commands::dispatch_tools)
    };
    let args = husk::cli::normalize_args(args);
    let mut cmd = tools_command();
    match cmd.try_get_matches_from_mut(&args) {
        Ok(m) => match m.subcommand() {
            Some(("completion", sub)) => completion(sub),
            None if !m.get_flag("version") => {
                let _ = cmd.print_help();
                std::process::exit(0)
            }
            _ => {}
        },
        // --help / -h anywhere: husk-tools' help (bundle, network and
        // completion), not the whole of husk's.
        Err(e) if !e.use_stderr() => {
            let _ = e.print();
            std::process::exit(0)
        }
        // A command line husk's parser takes (`husk-tools create ...`) is
        // refused by the shared code below, as before; any other error is
        // reported here, with runc's exit statuses (3: unknown command).
        Err(e) => {
            use clap::Parser;
            if husk::cli::Cli::try_parse_from(&args).is_err() {
                let _ = e.print();
                let unknown = e.kind() == clap::error::ErrorKind::InvalidSubcommand;
                std::process::exit(if unknown { 3 } else { 1 })
            }
        }
    }
    husk::commands::main(husk::commands::dispatch_tools)
}

/// husk's command line (src/cli.rs) cut to what husk-tools runs, plus
/// `completion`.
fn tools_command() -> Command {
    use clap::CommandFactory;
    let husk = husk::cli::Cli::command();
    Command::new("husk-tools")
        .about(
            "husk-tools: the image and network helpers of husk, and the shell completions of both",
        )
        .disable_version_flag(true)
        .args(husk.get_arguments().cloned())
        .subcommands(
            husk.get_subcommands()
                .filter(|s| matches!(s.get_name(), "bundle" | "network"))
                .cloned(),
        )
        .subcommand(completion_command())
}

fn completion_command() -> Command {
    Command::new("completion")
        .display_order(1000)
        .about("Print the shell completion script of husk or husk-tools")
        .arg(
            Arg::new("shell")
                .value_name("SHELL")
                .required(true)
                .value_parser(clap::value_parser!(Shell))
                .help("The shell: bash, zsh, fish, elvish or powershell"),
        )
        .arg(
            Arg::new("for")
                .long("for")
                .value_name("PROGRAM")
                .value_parser(["husk", "husk-tools"])
                .default_value("husk")
                .help("The program to complete"),
        )
}

/// `husk-tools completion SHELL [--for husk|husk-tools]`: the script on
/// stdout, generated from the clap definitions.
fn completion(m: &ArgMatches) -> ! {
    let shell = *m.get_one::<Shell>("shell").expect("SHELL is required");
    let (mut cmd, name) = match m.get_one::<String>("for").map(String::as_str) {
        Some("husk-tools") => (tools_command(), "husk-tools"),
        _ => {
            use clap::CommandFactory;
            (husk::cli::Cli::command(), "husk")
        }
    };
    let text = if shell == Shell::Bash {
        bash_script(&mut cmd, name)
    } else {
        let mut script = Vec::new();
        clap_complete::generate(shell, &mut cmd, name, &mut script);
        String::from_utf8_lossy(&script).into_owned()
    };
    match husk::commands::print_stdout(&text) {
        Ok(()) => std::process::exit(0),
        Err(e) => {
            eprintln!("{e:#}");
            std::process::exit(1)
        }
    }
}

/// The bash script for `name`. clap_complete (4.6.12) spells the states of
/// a program whose name has a `-` two ways, so nothing after a subcommand
/// of `husk-tools` completes (clap issue 6421): generate it for `husk_tools`
/// and register that function for the real name.
fn bash_script(cmd: &mut Command, name: &str) -> String {
    let safe = name.replace('-', "_");
    let mut script = Vec::new();
    clap_complete::generate(Shell::Bash, cmd, &safe, &mut script);
    let text = String::from_utf8_lossy(&script);
    let register = format!(" {safe}");
    let mut out = String::new();
    for line in text.lines() {
        match line.strip_suffix(&register) {
            Some(head) if line.trim_start().starts_with("complete ") => {
                out.push_str(head);
                out.push(' ');
                out.push_str(name);
            }
            _ => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every state the bash script of husk-tools sets has a case arm (clap
    /// issue 6421 broke that for hyphenated names), and the function is
    /// registered for `husk-tools`.
    #[test]
    fn bash_script_of_a_hyphenated_program() {
        let text = bash_script(&mut tools_command(), "husk-tools");
        assert!(text.contains("-F _husk_tools "), "{text}");
        let registered: Vec<&str> = text
            .lines()
            .filter(|l| l.trim_start().starts_with("complete "))
            .collect();
        assert!(!registered.is_empty());
        assert!(
            registered.iter().all(|l| l.ends_with(" husk-tools")),
            "{registered:?}"
        );
        for line in text.lines() {
            let line = line.trim();
            if let Some(state) = line
                .strip_prefix("cmd=\"")
                .and_then(|s| s.strip_suffix('"'))
                .filter(|s| !s.is_empty())
            {
                assert!(
                    text.contains(&format!("\n        {state})\n")),
                    "no arm for {state}"
                );
            }
        }
    }
}
