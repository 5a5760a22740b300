use clap::Parser;
use husk::cli::{normalize_args, Cli};
use std::io::Write;

fn main() {
    let cli = Cli::parse_from(normalize_args(std::env::args().collect()));
    if cli.version {
        print_version();
        return;
    }
    let Some(cmd) = cli.command.as_ref() else {
        use clap::CommandFactory;
        let _ = Cli::command().print_help();
        std::process::exit(0);
    };
    if let Err(e) = husk::logging::init(cli.log.as_deref(), cli.log_format, cli.debug) {
        eprintln!("{e:#}");
        std::process::exit(1);
    }
    match husk::commands::dispatch(&cli, cmd) {
        Ok(code) => {
            let _ = std::io::stdout().flush();
            std::process::exit(code)
        }
        Err(e) => {
            let msg = format!("{e:#}").replace('\n', " ");
            husk::logging::error(&msg);
            let _ = std::io::stdout().flush();
            eprintln!("{msg}");
            let code = match e.downcast_ref::<husk::error::HuskError>() {
                Some(husk::error::HuskError::Exit(code, _)) => *code,
                _ => 1,
            };
            std::process::exit(code);
        }
    }
}

fn print_version() {
    let (maj, min, mic) = libseccomp_version();
    println!(
        "husk version {}\ncommit: {}\nspec: {}\nlibseccomp: {maj}.{min}.{mic}",
        husk::VERSION,
        option_env!("HUSK_COMMIT").unwrap_or("unknown"),
        husk::SPEC_VERSION
    );
}

fn libseccomp_version() -> (u32, u32, u32) {
    match libseccomp::ScmpVersion::current() {
        Ok(v) => (v.major, v.minor, v.micro),
        Err(_) => (0, 0, 0),
    }
}
