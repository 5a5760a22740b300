//! Terminals: `process.terminal` with `--console-socket` (runc's protocol:
//! one SCM_RIGHTS message carrying the pty master), `consoleSize`, and a
//! foreground `run` on the caller's terminal.

mod common;

use std::fs;
use std::io::Write;
use std::process::Command;
use std::time::Duration;

use common::*;
use serde_json::json;

/// Lines of pty output without the carriage returns.
fn pty_lines(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| l.trim_end_matches('\r').to_string())
        .collect()
}

fn terminal_fixture(name: &str, script: &str) -> Fixture {
    let fx = Fixture::new(name);
    fx.config_mut()["process"]["terminal"] = json!(true);
    fx.set_sh(script);
    fx
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn console_socket_receives_the_pty_master() {
    if !require_root() {
        return;
    }
    let fx = terminal_fixture(
        "tty-socket",
        "tty; test -t 0 && echo stdin-tty; test -t 1 && echo stdout-tty; \
         test -t 2 && echo stderr-tty; stty size; echo done",
    );
    fx.config_mut()["process"]["consoleSize"] = json!({"height": 30, "width": 100});
    let sock = ConsoleSocket::listen(&fx.dir.join("console.sock"));
    fx.run_ok(&[
        "create",
        "--bundle",
        fx.bundle_str(),
        "--console-socket",
        sock.path_str(),
        &fx.id,
    ]);
    let msg = sock.wait(COMMAND_TIMEOUT).expect("console socket message");
    assert_eq!(msg.rights_msgs, 1, "SCM_RIGHTS control messages");
    assert_eq!(msg.fds.len(), 1, "fds in the message");
    assert!(is_pty_master(&msg.fds[0]), "the fd is not a pty master");
    assert!(!msg.payload.is_empty(), "no terminal name in the payload");
    fx.run_ok(&["start", &fx.id]);
    let text = read_pty(&msg.fds[0], STATE_TIMEOUT, |s| s.contains("done"));
    assert_eq!(
        pty_lines(&text),
        [
            "/dev/pts/0",
            "stdin-tty",
            "stdout-tty",
            "stderr-tty",
            "30 100",
            "done"
        ],
        "pty output: {text:?}"
    );
    fx.wait_status(&fx.id, "stopped");
    fx.run_ok(&["delete", &fx.id]);
    assert_nothing_left(&fx, &fx.id);
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn input_written_to_the_master_reaches_the_process() {
    if !require_root() {
        return;
    }
    let fx = terminal_fixture(
        "tty-input",
        "stty -echo; echo ready; read line; echo \"got:$line\"; exit 4",
    );
    let sock = ConsoleSocket::listen(&fx.dir.join("console.sock"));
    fx.run_ok(&[
        "run",
        "--detach",
        "--bundle",
        fx.bundle_str(),
        "--console-socket",
        sock.path_str(),
        &fx.id,
    ]);
    let msg = sock.wait(COMMAND_TIMEOUT).expect("console socket message");
    let master = &msg.fds[0];
    let first = read_pty(master, STATE_TIMEOUT, |s| s.contains("ready"));
    assert!(first.contains("ready"), "{first:?}");
    let mut f = fs::File::from(master.try_clone().unwrap());
    f.write_all(b"hello pty\n").unwrap();
    let text = read_pty(master, STATE_TIMEOUT, |s| s.contains("got:"));
    assert!(
        pty_lines(&text).iter().any(|l| l == "got:hello pty"),
        "pty output: {text:?}"
    );
    fx.wait_status(&fx.id, "stopped");
    // Once the container is gone, the master reads EOF/EIO.
    let rest = read_pty(master, Duration::from_secs(5), |_| false);
    assert!(!rest.contains("ready"), "{rest:?}");
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn exec_with_a_terminal_in_a_terminal_container() {
    if !require_root() {
        return;
    }
    let fx = terminal_fixture("tty-exec", "exec sleep 1000");
    let sock = ConsoleSocket::listen(&fx.dir.join("console.sock"));
    fx.run_ok(&[
        "run",
        "-d",
        "--bundle",
        fx.bundle_str(),
        "--console-socket",
        sock.path_str(),
        &fx.id,
    ]);
    let _init_master = sock.wait(COMMAND_TIMEOUT).expect("console socket message");
    let sock2 = ConsoleSocket::listen(&fx.dir.join("console2.sock"));
    fx.run_ok(&[
        "exec",
        "-d",
        "-t",
        "--console-socket",
        sock2.path_str(),
        &fx.id,
        "sh",
        "-c",
        "tty; echo done",
    ]);
    let msg = sock2.wait(COMMAND_TIMEOUT).expect("console socket message");
    assert_eq!(msg.fds.len(), 1);
    let text = read_pty(&msg.fds[0], STATE_TIMEOUT, |s| s.contains("done"));
    assert_eq!(pty_lines(&text), ["/dev/pts/1", "done"], "{text:?}");
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn the_terminal_belongs_to_a_non_root_user() {
    if !require_root() {
        return;
    }
    // runc hands the pty to process.user before the uid switch, so the
    // process can reopen its terminal; for exec too.
    let script = "stat -L -c 'owner %u' /proc/self/fd/0; \
                  echo via-dev-tty > /dev/tty && echo tty-ok; \
                  echo via-stdout > /dev/stdout && echo stdout-ok; echo done";
    let fx = terminal_fixture("tty-user", &format!("{script}; exec sleep 1000"));
    fx.config_mut()["process"]["user"] = json!({"uid": 1000, "gid": 1000});
    let sock = ConsoleSocket::listen(&fx.dir.join("console.sock"));
    fx.run_ok(&[
        "run",
        "-d",
        "--bundle",
        fx.bundle_str(),
        "--console-socket",
        sock.path_str(),
        &fx.id,
    ]);
    let msg = sock.wait(COMMAND_TIMEOUT).expect("console socket message");
    let text = read_pty(&msg.fds[0], STATE_TIMEOUT, |s| s.contains("done"));
    let want = [
        "owner 1000",
        "via-dev-tty",
        "tty-ok",
        "via-stdout",
        "stdout-ok",
        "done",
    ];
    assert_eq!(pty_lines(&text), want, "{text:?}");

    let sock2 = ConsoleSocket::listen(&fx.dir.join("console2.sock"));
    fx.run_ok(&[
        "exec",
        "-d",
        "-t",
        "--user",
        "1000:1000",
        "--console-socket",
        sock2.path_str(),
        &fx.id,
        "sh",
        "-c",
        script,
    ]);
    let msg = sock2.wait(COMMAND_TIMEOUT).expect("console socket message");
    let text = read_pty(&msg.fds[0], STATE_TIMEOUT, |s| s.contains("done"));
    assert_eq!(pty_lines(&text), want, "exec: {text:?}");
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn terminal_without_console_socket_fails_cleanly() {
    if !require_root() {
        return;
    }
    // runc: "cannot allocate tty if runc will detach without setting
    // console socket".
    let fx = terminal_fixture("tty-nosock", "true");
    let out = fx.husk(&["create", "--bundle", fx.bundle_str(), &fx.id]);
    assert_clean_error(&out);
    assert_nothing_left(&fx, &fx.id);
    let out = fx.husk(&["run", "-d", "--bundle", fx.bundle_str(), &fx.id]);
    assert_clean_error(&out);
    assert_nothing_left(&fx, &fx.id);
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn console_socket_without_terminal_fails_cleanly() {
    if !require_root() {
        return;
    }
    // runc: "cannot use console socket if runc will not detach or allocate tty".
    let fx = Fixture::new("notty-sock");
    fx.set_args(&["true"]);
    let sock = ConsoleSocket::listen(&fx.dir.join("console.sock"));
    let out = fx.husk(&[
        "create",
        "--bundle",
        fx.bundle_str(),
        "--console-socket",
        sock.path_str(),
        &fx.id,
    ]);
    assert_clean_error(&out);
    assert_nothing_left(&fx, &fx.id);
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn console_socket_nobody_listens_on_fails_cleanly() {
    if !require_root() {
        return;
    }
    let fx = terminal_fixture("tty-deadsock", "true");
    // A socket file whose listener is gone (ECONNREFUSED), a missing path,
    // and a regular file.
    let stale = fx.dir.join("stale.sock");
    drop(std::os::unix::net::UnixListener::bind(&stale).unwrap());
    let missing = fx.dir.join("missing.sock");
    let regular = fx.dir.join("regular");
    fs::write(&regular, "").unwrap();
    for path in [&stale, &missing, &regular] {
        let out = fx.husk(&[
            "create",
            "--bundle",
            fx.bundle_str(),
            "--console-socket",
            path.to_str().unwrap(),
            &fx.id,
        ]);
        assert_clean_error(&out);
        assert_nothing_left(&fx, &fx.id);
        if is_husk() {
            assert!(
                stderr_str(&out).contains(path.to_str().unwrap()),
                "the error does not name the socket:\n{}",
                describe(&out)
            );
        }
    }
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn foreground_run_on_the_callers_terminal() {
    if !require_root() {
        return;
    }
    let Ok(script) = which("script") else {
        eprintln!("skipped: script(1) (util-linux) is not installed");
        return;
    };
    let fx = terminal_fixture(
        "tty-fg",
        "tty; test -t 0 && echo stdin-tty; echo hello-fg; exit 5",
    );
    fx.write_config();
    let inner = format!(
        "{} --root {} run --bundle {} {}",
        runtime(),
        fx.root_str(),
        fx.bundle_str(),
        fx.id
    );
    let mut cmd = Command::new(script);
    cmd.args(["-qefc", &inner, "/dev/null"]);
    let logs = fx.dir.join("logs");
    fs::create_dir_all(&logs).unwrap();
    let out = run_with_timeout(
        cmd,
        &logs.join("fg.out"),
        &logs.join("fg.err"),
        COMMAND_TIMEOUT,
    );
    // script(1) echoes its EOF on stdin as "^@", anywhere in the output
    // (before it, or between two lines, as the terminal's echo races it).
    let lines: Vec<String> = pty_lines(&stdout_str(&out))
        .iter()
        .map(|l| l.replace("^@", ""))
        .collect();
    assert_eq!(out.status.code(), Some(5), "{}", describe(&out));
    assert!(
        lines.iter().any(|l| l.contains("/dev/pts/")),
        "{}",
        describe(&out)
    );
    assert!(lines.iter().any(|l| l == "stdin-tty"), "{}", describe(&out));
    assert!(lines.iter().any(|l| l == "hello-fg"), "{}", describe(&out));
    assert_nothing_left(&fx, &fx.id);
}

fn which(prog: &str) -> Result<String, ()> {
    for d in std::env::var("PATH").unwrap_or_default().split(':') {
        let p = std::path::Path::new(d).join(prog);
        if p.is_file() {
            return Ok(p.to_string_lossy().into_owned());
        }
    }
    Err(())
}
