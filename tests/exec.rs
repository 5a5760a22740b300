//! `exec`: a new process in a running container, with runc's flags. Every
//! test starts a container with `run --detach` (`sleep 1000`) and execs into
//! it.

mod common;

use std::fs;
use std::process::Command;
use std::time::Duration;

use common::*;
use serde_json::json;

/// The host's view of `/proc/<pid>/ns/<ns>`.
fn ns_of(pid: i32, ns: &str) -> String {
    fs::read_link(format!("/proc/{pid}/ns/{ns}"))
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Reads a pid file (decimal pid, maybe a newline) and returns the pid.
fn read_pid_file(path: &std::path::Path) -> i32 {
    let text =
        fs::read_to_string(path).unwrap_or_else(|e| panic!("pid file {}: {e}", path.display()));
    text.trim()
        .parse()
        .unwrap_or_else(|_| panic!("pid file {} holds {text:?}", path.display()))
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn exec_returns_output_and_exit_code() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("exec-out");
    fx.run_detached_sleeper();
    let out = fx.exec(&[&fx.id, "sh", "-c", "echo to-out; echo to-err >&2; exit 3"]);
    assert_eq!(out.status.code(), Some(3), "{}", describe(&out));
    assert_eq!(stdout_str(&out), "to-out\n", "{}", describe(&out));
    assert!(stderr_str(&out).contains("to-err"), "{}", describe(&out));
    let out = fx.exec(&[&fx.id, "true"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    // The container is still running after an exec'd process exits.
    assert_eq!(fx.status_of(&fx.id), "running");
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn exec_joins_the_containers_namespaces() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("exec-ns");
    let init = fx.run_detached_sleeper();
    fs::write(fx.rootfs.join("marker"), "in-rootfs\n").unwrap();
    let out = fx.exec(&[
        &fx.id,
        "sh",
        "-c",
        "echo ==host==; hostname; \
         echo ==ns==; for n in pid net ipc uts mnt; do echo \"$n $(readlink /proc/self/ns/$n)\"; done; \
         echo ==ps==; ps -o pid,args; \
         echo ==one==; cat /proc/1/cmdline | tr '\\0' ' '; echo; \
         echo ==marker==; cat /marker; \
         echo ==net==; ls /sys/class/net; \
         echo ==end==",
    ]);
    assert!(out.status.success(), "{}", describe(&out));
    let text = stdout_str(&out);
    assert_eq!(section(&text, "host"), "husk\n", "{text}");
    for line in section(&text, "ns").lines() {
        let (n, link) = line.split_once(' ').unwrap();
        assert_eq!(
            link,
            ns_of(init, n),
            "exec'd process is not in the init's {n} namespace:\n{text}"
        );
        assert_ne!(link, host_ns(n), "{n} namespace is the host's:\n{text}");
    }
    let ps = section(&text, "ps");
    assert!(
        ps.lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["1", "sleep", "1000"]),
        "ps does not show sleep as pid 1:\n{ps}"
    );
    assert_eq!(section(&text, "one").trim(), "sleep 1000", "{text}");
    assert_eq!(section(&text, "marker"), "in-rootfs\n", "{text}");
    assert_eq!(section(&text, "net").trim(), "lo", "{text}");
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn exec_joins_the_containers_cgroup() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("exec-cg");
    let init = fx.run_detached_sleeper();
    let pid_file = fx.dir.join("exec.pid");
    fx.run_ok(&[
        "exec",
        "--detach",
        "--pid-file",
        pid_file.to_str().unwrap(),
        &fx.id,
        "sleep",
        "1000",
    ]);
    let pid = read_pid_file(&pid_file);
    assert!(process_alive(pid), "exec'd sleep {pid} is not alive");
    let want = fs::read_to_string(format!("/proc/{init}/cgroup")).unwrap();
    let got = fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    assert_eq!(got, want, "cgroups of the exec'd process vs the init");
    let suffix = format!("{CGROUP_PARENT}/{}", fx.id);
    for line in got.lines() {
        assert!(
            line.ends_with(&suffix),
            "exec'd process not in the container's cgroup: {line}\n{got}"
        );
    }
    // And the container's cgroup lists it.
    let procs = cgroup_dirs_of(&fx.id)
        .into_iter()
        .find(|d| d.starts_with("/sys/fs/cgroup/pids"))
        .map(|d| fs::read_to_string(d.join("cgroup.procs")).unwrap_or_default())
        .unwrap_or_default();
    assert!(
        procs.lines().any(|l| l.trim() == pid.to_string()),
        "pid {pid} not in the pids cgroup: {procs}"
    );
}

/// The cgroup of each hierarchy of /proc/PID/cgroup text: (controllers, path).
fn cgroup_lines(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|l| {
            let mut f = l.splitn(3, ':');
            let _id = f.next()?;
            Some((f.next()?.to_string(), f.next()?.to_string()))
        })
        .collect()
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn exec_into_sub_cgroups() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("exec-subcg");
    fx.run_detached_sleeper();
    let dirs = cgroup_dirs_of(&fx.id);
    for d in &dirs {
        fs::create_dir(d.join("sub")).unwrap();
        // A v1 cpuset cgroup takes no process before it has cpus and mems.
        for f in ["cpuset.cpus", "cpuset.mems"] {
            if let Ok(v) = fs::read_to_string(d.join(f)) {
                fs::write(d.join("sub").join(f), v.trim()).unwrap();
            }
        }
    }
    let base = format!("{CGROUP_PARENT}/{}", fx.id);
    let v2 = std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists();

    // PATH alone: every hierarchy.
    let out = fx.exec(&["--cgroup", "sub", &fx.id, "cat", "/proc/self/cgroup"]);
    assert!(out.status.success(), "{}", describe(&out));
    for (ctrls, path) in cgroup_lines(&stdout_str(&out)) {
        assert_eq!(path, format!("{base}/sub"), "{ctrls}: {}", describe(&out));
    }

    if !v2 {
        // CONTROLLER:PATH: that hierarchy only (both of a shared one).
        let out = fx.exec(&["--cgroup", "pids:sub", &fx.id, "cat", "/proc/self/cgroup"]);
        assert!(out.status.success(), "{}", describe(&out));
        let lines = cgroup_lines(&stdout_str(&out));
        for (ctrls, path) in &lines {
            let want = if ctrls == "pids" {
                format!("{base}/sub")
            } else {
                base.clone()
            };
            assert_eq!(*path, want, "{ctrls}: {}", describe(&out));
        }
        assert!(lines.iter().any(|(c, _)| c == "pids"), "{lines:?}");
    }

    // A controller the container has no hierarchy for (on v2: any), two
    // paths without controllers, a missing sub-cgroup: runc refuses them.
    let bad: Vec<Vec<&str>> = vec![
        vec!["--cgroup", "nosuchcontroller:sub"],
        vec!["--cgroup", if v2 { "pids:sub" } else { "nosuch2,pids:sub" }],
        vec!["--cgroup", "sub", "--cgroup", "sub"],
        vec!["--cgroup", "missing"],
    ];
    for flags in bad {
        let mut args = flags.clone();
        args.extend([fx.id.as_str(), "true"]);
        let out = fx.exec(&args);
        assert_clean_error(&out);
        assert_eq!(
            out.status.code(),
            Some(255),
            "{flags:?}: {}",
            describe(&out)
        );
    }
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn exec_env_and_cwd_flags() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("exec-env");
    fx.run_detached_sleeper();
    let out = fx.exec(&[
        "--env",
        "FOO=bar baz",
        "--env",
        "TWO=2",
        "--cwd",
        "/tmp",
        &fx.id,
        "sh",
        "-c",
        "echo \"$FOO|$TWO|$(pwd)|$PATH\"",
    ]);
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(
        stdout_str(&out),
        "bar baz|2|/tmp|/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n",
        "{}",
        describe(&out)
    );
    // --env overrides a variable of the config.
    let out = fx.exec(&["--env", "PATH=/bin", &fx.id, "sh", "-c", "echo $PATH"]);
    assert_eq!(stdout_str(&out), "/bin\n", "{}", describe(&out));
    // Default cwd is the config's.
    let out = fx.exec(&[&fx.id, "pwd"]);
    assert_eq!(stdout_str(&out), "/\n", "{}", describe(&out));
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn exec_user_and_additional_gids() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("exec-user");
    fx.run_detached_sleeper();
    let out = fx.exec(&[
        "--user",
        "1000:1000",
        &fx.id,
        "sh",
        "-c",
        "id -u; id -g; id -G",
    ]);
    assert!(out.status.success(), "{}", describe(&out));
    // runc: no supplementary groups from /etc/group when the gid is given.
    assert_eq!(stdout_str(&out), "1000\n1000\n1000\n", "{}", describe(&out));
    let out = fx.exec(&[
        "--user",
        "1000:1000",
        "--additional-gids",
        "2000",
        "--additional-gids",
        "3000",
        &fx.id,
        "sh",
        "-c",
        "id -u; id -g; id -G",
    ]);
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(
        stdout_str(&out),
        "1000\n1000\n1000 2000 3000\n",
        "{}",
        describe(&out)
    );
    // A non-root user gets no effective capabilities.
    let out = fx.exec(&["-u", "1000", &fx.id, "cat", "/proc/self/status"]);
    assert!(out.status.success(), "{}", describe(&out));
    let st = stdout_str(&out);
    assert_eq!(
        status_field(&st, "Uid"),
        Some("1000\t1000\t1000\t1000"),
        "{st}"
    );
    assert_eq!(
        status_field(&st, "CapEff"),
        Some("0000000000000000"),
        "{st}"
    );
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn exec_cap_adds_a_capability() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("exec-cap");
    fx.run_detached_sleeper();
    let out = fx.exec(&["--cap", "CAP_SYS_ADMIN", &fx.id, "cat", "/proc/self/status"]);
    assert!(out.status.success(), "{}", describe(&out));
    let st = stdout_str(&out);
    // The config's AUDIT_WRITE|KILL|NET_BIND_SERVICE plus SYS_ADMIN (21).
    for key in ["CapEff", "CapPrm", "CapBnd"] {
        assert_eq!(
            status_field(&st, key),
            Some("0000000020200420"),
            "{key}:\n{st}"
        );
    }
    // Without --cap: exactly the config's sets.
    let out = fx.exec(&[&fx.id, "cat", "/proc/self/status"]);
    let st = stdout_str(&out);
    for key in ["CapEff", "CapPrm", "CapBnd"] {
        assert_eq!(
            status_field(&st, key),
            Some("0000000020000420"),
            "{key}:\n{st}"
        );
    }
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn exec_no_new_privs_flag() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("exec-nnp");
    fx.config_mut()["process"]["noNewPrivileges"] = json!(false);
    fx.run_detached_sleeper();
    let out = fx.exec(&[&fx.id, "cat", "/proc/self/status"]);
    assert_eq!(
        status_field(&stdout_str(&out), "NoNewPrivs"),
        Some("0"),
        "{}",
        describe(&out)
    );
    let out = fx.exec(&["--no-new-privs", &fx.id, "cat", "/proc/self/status"]);
    assert_eq!(
        status_field(&stdout_str(&out), "NoNewPrivs"),
        Some("1"),
        "{}",
        describe(&out)
    );
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn exec_tty_with_console_socket() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("exec-tty");
    fx.run_detached_sleeper();
    let sock = ConsoleSocket::listen(&fx.dir.join("console.sock"));
    let pid_file = fx.dir.join("exec.pid");
    let out = fx.exec(&[
        "--detach",
        "--tty",
        "--console-socket",
        sock.path_str(),
        "--pid-file",
        pid_file.to_str().unwrap(),
        &fx.id,
        "sh",
        "-c",
        "tty; test -t 0 && echo stdin-is-tty; test -t 1 && echo stdout-is-tty; echo done",
    ]);
    assert!(out.status.success(), "{}", describe(&out));
    let msg = sock.wait(COMMAND_TIMEOUT).expect("console socket message");
    assert_eq!(msg.rights_msgs, 1, "SCM_RIGHTS messages");
    assert_eq!(msg.fds.len(), 1, "fds received");
    assert!(is_pty_master(&msg.fds[0]), "the fd is not a pty master");
    let text = read_pty(&msg.fds[0], STATE_TIMEOUT, |s| s.contains("done"));
    let lines: Vec<&str> = text.lines().map(|l| l.trim_end_matches('\r')).collect();
    assert!(
        lines.first().is_some_and(|l| l.starts_with("/dev/pts/")),
        "tty output: {text:?}"
    );
    assert_eq!(
        &lines[1..],
        ["stdin-is-tty", "stdout-is-tty", "done"],
        "tty output: {text:?}"
    );
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn exec_detach_writes_the_pid_file() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("exec-detach");
    let init = fx.run_detached_sleeper();
    let pid_file = fx.dir.join("exec.pid");
    let arg = format!("--pid-file={}", pid_file.display());
    let out = fx.exec(&["-d", &arg, &fx.id, "sleep", "1000"]);
    assert!(out.status.success(), "{}", describe(&out));
    let text = fs::read_to_string(&pid_file).unwrap();
    let pid = read_pid_file(&pid_file);
    assert_eq!(text.trim_end_matches('\n'), pid.to_string(), "{text:?}");
    assert!(process_alive(pid));
    assert_eq!(ns_of(pid, "pid"), ns_of(init, "pid"));
    let cmdline = fs::read_to_string(format!("/proc/{pid}/cmdline")).unwrap();
    assert_eq!(cmdline, "sleep\u{0}1000\u{0}");
    // ps lists it.
    let ps = fx.stdout_of(&["ps", "--format", "json", &fx.id]);
    let v: serde_json::Value = serde_json::from_str(&ps).unwrap();
    let pids: Vec<i64> = v
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p.as_i64())
        .collect();
    assert!(
        pids.contains(&(pid as i64)) && pids.contains(&(init as i64)),
        "ps: {ps}"
    );
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn exec_process_file() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("exec-process");
    fx.run_detached_sleeper();
    let p = fx.dir.join("process.json");
    fs::write(
        &p,
        json!({
            "terminal": false,
            "user": {"uid": 1000, "gid": 1000, "additionalGids": [2000]},
            "args": ["sh", "-c", "echo \"$A|$(pwd)|$(id -u)|$(id -G)\"; grep -E 'NoNewPrivs|CapBnd' /proc/self/status; exit 6"],
            "env": ["PATH=/bin:/sbin", "A=from-json"],
            "cwd": "/tmp",
            "noNewPrivileges": true,
            "capabilities": {"bounding": ["CAP_KILL"]},
        })
        .to_string(),
    )
    .unwrap();
    let out = fx.exec(&["--process", p.to_str().unwrap(), &fx.id]);
    assert_eq!(out.status.code(), Some(6), "{}", describe(&out));
    let text = stdout_str(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines.first().copied(),
        Some("from-json|/tmp|1000|1000 2000"),
        "{text}"
    );
    assert_eq!(status_field(&text, "NoNewPrivs"), Some("1"), "{text}");
    assert_eq!(
        status_field(&text, "CapBnd"),
        Some("0000000000000020"),
        "{text}"
    );
    // -p with args after the id: the file wins (runc ignores the args).
    let out = fx.exec(&["-p", p.to_str().unwrap(), &fx.id]);
    assert_eq!(out.status.code(), Some(6), "{}", describe(&out));
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn exec_process_file_without_capabilities_gets_the_containers() {
    if !require_root() {
        return;
    }
    // runc: a process without capabilities runs with the container's
    // (config.json's), not with root's full set.
    let fx = Fixture::new("exec-process-nocaps");
    fx.run_detached_sleeper();
    let p = fx.dir.join("process.json");
    fs::write(
        &p,
        json!({
            "user": {"uid": 0, "gid": 0},
            "args": ["/bin/grep", "-E", "^Cap(Bnd|Eff|Prm)", "/proc/self/status"],
            "cwd": "/",
        })
        .to_string(),
    )
    .unwrap();
    let out = fx.exec(&["--process", p.to_str().unwrap(), &fx.id]);
    assert!(out.status.success(), "{}", describe(&out));
    let text = stdout_str(&out);
    // CAP_AUDIT_WRITE, CAP_KILL, CAP_NET_BIND_SERVICE (the base config).
    for set in ["CapBnd", "CapEff", "CapPrm"] {
        assert_eq!(
            status_field(&text, set),
            Some("0000000020000420"),
            "{set}: {text}"
        );
    }
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn exec_preserve_fds() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("exec-fds");
    fx.run_detached_sleeper();
    let (r, w) = pipe();
    let out = fx.husk_with_fd3(
        &[
            "exec",
            "--preserve-fds",
            "1",
            &fx.id,
            "sh",
            "-c",
            &format!("{SH_LIST_FDS}; echo through-fd3 > /proc/self/fd/3"),
        ],
        &w,
    );
    drop(w);
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(stdout_str(&out).trim(), "0 1 2 3", "{}", describe(&out));
    assert_eq!(read_pipe(&r, Duration::from_secs(5)), "through-fd3\n");

    // Without --preserve-fds the fd is not passed.
    let (r, w) = pipe();
    let out = fx.husk_with_fd3(&["exec", &fx.id, "sh", "-c", SH_LIST_FDS], &w);
    drop(w);
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(stdout_str(&out).trim(), "0 1 2", "{}", describe(&out));
    assert_eq!(read_pipe(&r, Duration::from_secs(5)), "");
}

/// The exit code Docker gives a failed start or exec, from the runtime's
/// error text (moby daemon/errors.go setExitCodeFromError): 126 for
/// "permission denied" or "is a directory", 127 for "not a directory",
/// "executable file not found" or "no such file or directory", else 128.
fn docker_exit_code(err: &str) -> i32 {
    let e = err.to_lowercase();
    if e.contains("permission denied") || e.contains("is a directory") {
        126
    } else if e.contains("not a directory")
        || e.contains("executable file not found")
        || e.contains("no such file or directory")
    {
        127
    } else {
        128
    }
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn exec_failures_exit_255_with_runcs_words() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("exec-fail-words");
    fs::write(fx.rootfs.join("not-executable"), "#!/bin/sh\necho ran\n").unwrap();
    fs::write(fx.rootfs.join("bin/plain-in-path"), "#!/bin/sh\necho ran\n").unwrap();
    fs::create_dir(fx.rootfs.join("adir")).unwrap();
    let init = fx.run_detached_sleeper();
    // (command, runc 1.1.5's words, Docker's exit code for them)
    let cases = [
        (
            "/nonexistent",
            "exec: \"/nonexistent\": stat /nonexistent: no such file or directory",
            127,
        ),
        (
            "no-such-command",
            "exec: \"no-such-command\": executable file not found in $PATH",
            127,
        ),
        // Found on PATH but not executable: Go's LookPath says not found.
        (
            "plain-in-path",
            "exec: \"plain-in-path\": executable file not found in $PATH",
            127,
        ),
        (
            "/not-executable",
            "exec: \"/not-executable\": permission denied",
            126,
        ),
        ("/adir", "exec: \"/adir\": permission denied", 126),
        (
            "/not-executable/x",
            "exec: \"/not-executable/x\": stat /not-executable/x: not a directory",
            127,
        ),
    ];
    for (cmd, words, docker) in cases {
        let out = fx.exec(&[&fx.id, cmd]);
        assert_clean_error(&out);
        // runc: fatalWithCode(..., 255) for every failed exec.
        assert_eq!(out.status.code(), Some(255), "{cmd}: {}", describe(&out));
        // (runc's error may come as a log line, with its quotes escaped)
        let err = stderr_str(&out).replace("\\\"", "\"");
        assert!(
            err.contains(words),
            "{cmd}: want {words:?}\n{}",
            describe(&out)
        );
        assert_eq!(docker_exit_code(&err), docker, "{cmd}: {err}");
        assert!(!stdout_str(&out).contains("ran"), "{}", describe(&out));
    }
    assert_eq!(fx.status_of(&fx.id), "running");
    assert!(process_alive(init));
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn exec_into_an_unknown_container() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("exec-unknown");
    fs::create_dir_all(&fx.root).unwrap();
    let out = fx.exec(&["no-such-container", "true"]);
    assert_clean_error(&out);
    assert_eq!(out.status.code(), Some(255), "{}", describe(&out));
    assert!(
        stderr_str(&out).contains("does not exist"),
        "{}",
        describe(&out)
    );
    let out = fx.exec(&["-d", "no-such-container", "true"]);
    assert_clean_error(&out);
    assert!(!fx.root.join("no-such-container").exists());
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn exec_into_a_stopped_container() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("exec-stopped");
    let out_dir = fx.bind_host_dir("out", "/out");
    fx.set_args(&["true"]);
    fx.create();
    fx.run_ok(&["start", &fx.id]);
    fx.wait_status(&fx.id, "stopped");
    let out = fx.exec(&[&fx.id, "sh", "-c", "touch /out/ran"]);
    assert_clean_error(&out);
    assert_eq!(out.status.code(), Some(255), "{}", describe(&out));
    // runc 1.1.5: "cannot exec in a stopped container".
    let err = stderr_str(&out);
    assert!(
        err.contains("not running") || err.contains("stopped"),
        "{}",
        describe(&out)
    );
    assert!(!out_dir.join("ran").exists());
    assert_eq!(fx.status_of(&fx.id), "stopped");
    fx.run_ok(&["delete", &fx.id]);
    assert_nothing_left(&fx, &fx.id);
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn exec_into_a_created_container_runs_or_fails_cleanly() {
    if !require_root() {
        return;
    }
    // runc allows exec into a created (not started) container. Either way,
    // the container must stay created and startable.
    let fx = Fixture::new("exec-created");
    fx.set_args(&["sleep", "1000"]);
    fx.create();
    let out = fx.exec(&[&fx.id, "echo", "hi"]);
    if out.status.success() {
        assert_eq!(stdout_str(&out), "hi\n");
    } else {
        assert_clean_error(&out);
    }
    assert_eq!(fx.status_of(&fx.id), "created");
    fx.run_ok(&["start", &fx.id]);
    assert_eq!(fx.status_of(&fx.id), "running");
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn exec_malformed_process_json() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("exec-badjson");
    let init = fx.run_detached_sleeper();
    let procs_before = cgroup_procs(&fx.id);
    let p = fx.dir.join("process.json");
    for bad in [
        "{\"args\": [\"true\"], bad",
        "[1, 2]",
        "{\"args\": \"true\", \"cwd\": \"/\"}",
    ] {
        fs::write(&p, bad).unwrap();
        let out = fx.exec(&["--process", p.to_str().unwrap(), &fx.id]);
        assert_clean_error(&out);
    }
    let missing = fx.dir.join("no-such-process.json");
    let out = fx.exec(&["--process", missing.to_str().unwrap(), &fx.id]);
    assert_clean_error(&out);
    assert!(process_alive(init));
    assert_eq!(fx.status_of(&fx.id), "running");
    assert_eq!(cgroup_procs(&fx.id), procs_before, "processes left behind");
}

/// The pids in the container's pids cgroup, sorted.
fn cgroup_procs(id: &str) -> Vec<i32> {
    let mut v: Vec<i32> = cgroup_dirs_of(id)
        .into_iter()
        .find(|d| d.starts_with("/sys/fs/cgroup/pids"))
        .map(|d| fs::read_to_string(d.join("cgroup.procs")).unwrap_or_default())
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect();
    v.sort();
    v
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn exec_into_a_paused_container() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("exec-paused");
    fx.run_detached_sleeper();
    fx.run_ok(&["pause", &fx.id]);
    assert_eq!(fx.status_of(&fx.id), "paused");
    let out = fx.exec(&[&fx.id, "touch", "/dev/shm/not-ignored"]);
    assert_clean_error(&out);
    // runc: "cannot exec in a paused container (use --ignore-paused to override)"
    assert!(stderr_str(&out).contains("paused"), "{}", describe(&out));

    // With --ignore-paused the process joins the frozen cgroup: the exec
    // completes once the container is resumed (runc too).
    let logs = fx.dir.join("logs");
    let (o, e) = (logs.join("ignore.out"), logs.join("ignore.err"));
    let pid_file = fx.dir.join("ign.pid");
    let mut cmd = Command::new(runtime());
    cmd.args(["--root", fx.root_str(), "exec", "--ignore-paused", "-d"])
        .arg("--pid-file")
        .arg(&pid_file)
        .args([
            &fx.id,
            "sh",
            "-c",
            "touch /dev/shm/ignored; exec sleep 1000",
        ]);
    let handle = std::thread::spawn(move || run_with_timeout(cmd, &o, &e, COMMAND_TIMEOUT));
    std::thread::sleep(Duration::from_millis(500));
    fx.run_ok(&["resume", &fx.id]);
    let out = handle.join().unwrap();
    assert!(out.status.success(), "{}", describe(&out));
    let check = fx.exec(&[&fx.id, "ls", "/dev/shm"]);
    assert!(check.status.success(), "{}", describe(&check));
    assert_eq!(stdout_str(&check), "ignored\n", "{}", describe(&check));
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn exec_gets_the_configs_rlimits_and_capabilities() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("exec-limits");
    fx.config_mut()["process"]["rlimits"] = json!([
        {"type": "RLIMIT_NOFILE", "soft": 512, "hard": 768},
        {"type": "RLIMIT_NPROC", "soft": 300, "hard": 400},
    ]);
    fx.config_mut()["process"]["capabilities"] = json!({
        "bounding": ["CAP_CHOWN", "CAP_KILL", "CAP_SETUID"],
        "effective": ["CAP_CHOWN", "CAP_KILL"],
        "permitted": ["CAP_CHOWN", "CAP_KILL"],
    });
    fx.run_detached_sleeper();
    let out = fx.exec(&[
        &fx.id,
        "sh",
        "-c",
        "grep -E 'open files|processes' /proc/self/limits; cat /proc/self/status",
    ]);
    assert!(out.status.success(), "{}", describe(&out));
    let text = stdout_str(&out);
    let limit = |name: &str| -> Vec<String> {
        text.lines()
            .find(|l| l.starts_with(name))
            .map(|l| {
                l[name.len()..]
                    .split_whitespace()
                    .take(2)
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default()
    };
    assert_eq!(limit("Max open files"), ["512", "768"], "{text}");
    assert_eq!(limit("Max processes"), ["300", "400"], "{text}");
    assert_eq!(
        status_field(&text, "CapBnd"),
        Some("00000000000000a1"),
        "{text}"
    );
    assert_eq!(
        status_field(&text, "CapEff"),
        Some("0000000000000021"),
        "{text}"
    );
    assert_eq!(
        status_field(&text, "CapPrm"),
        Some("0000000000000021"),
        "{text}"
    );
    assert_eq!(status_field(&text, "NoNewPrivs"), Some("1"), "{text}");
}
