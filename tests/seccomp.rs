//! `linux.seccomp`, observed from inside the container: the filter is
//! active, blocked syscalls return the configured errno or kill, argument
//! conditions select what they should, Docker's default profile runs a
//! shell, SCMP_ACT_NOTIFY hands the listener fd to an agent, and bad
//! profiles fail cleanly.
//!
//! Writable scratch space is /dev/shm (the base config's root is read-only).

mod common;

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::*;
use serde_json::{json, Value};

/// Both values of process.noNewPrivileges: the filter is loaded at a
/// different point of the init for each.
const NNP: [bool; 2] = [true, false];

fn set_seccomp(fx: &Fixture, s: Value) {
    fx.config_mut()["linux"]["seccomp"] = s;
}

fn set_nnp(fx: &Fixture, nnp: bool) {
    fx.config_mut()["process"]["noNewPrivileges"] = json!(nnp);
}

/// Allow everything but `rules`.
fn allow_but(rules: Value) -> Value {
    json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": rules})
}

/// No core files from the processes the tests kill with SIGSYS.
fn no_core_dumps(fx: &Fixture) {
    fx.config_mut()["process"]["rlimits"] = json!([
        {"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024},
        {"type": "RLIMIT_CORE", "hard": 0, "soft": 0}
    ]);
}

/// Runs `sh -c script` in the container and returns its stdout (stderr is
/// redirected into it by the scripts), whatever its exit status.
fn run_script(fx: &Fixture, script: &str) -> (std::process::Output, String) {
    fx.set_sh(script);
    let out = fx.run_container();
    let text = stdout_str(&out);
    (out, text)
}

/// Docker's default profile, translated for this host by
/// test-bundles/seccomp/gen-docker-default.py.
fn docker_default() -> Value {
    let p = repo_dir().join("test-bundles/seccomp/docker-default.json");
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn filter_is_active_in_the_container() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("sc-mode");
    set_seccomp(
        &fx,
        allow_but(json!([{"names": ["kexec_load"], "action": "SCMP_ACT_ERRNO"}])),
    );
    for nnp in NNP {
        set_nnp(&fx, nnp);
        let out = fx.run_sh("cat /proc/self/status");
        assert_eq!(status_field(&out, "Seccomp"), Some("2"), "nnp={nnp}\n{out}");
        let want_nnp = if nnp { "1" } else { "0" };
        assert_eq!(status_field(&out, "NoNewPrivs"), Some(want_nnp), "{out}");
    }
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn errno_trace_and_log_actions() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("sc-errno");
    set_seccomp(
        &fx,
        allow_but(json!([
            // No errnoRet: EPERM.
            {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"},
            {"names": ["rmdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 100},
            // Without a tracer, the syscall fails with ENOSYS.
            {"names": ["symlink", "symlinkat"], "action": "SCMP_ACT_TRACE"},
            // Logged and allowed.
            {"names": ["link", "linkat"], "action": "SCMP_ACT_LOG"}
        ])),
    );
    for nnp in NNP {
        set_nnp(&fx, nnp);
        let (out, text) = run_script(
            &fx,
            "mkdir /dev/shm/d 2>&1; rmdir /dev/shm/none 2>&1; ln -s x /dev/shm/s 2>&1; \
             touch /dev/shm/f && ln /dev/shm/f /dev/shm/g && echo link-ok; echo end",
        );
        let ctx = format!("nnp={nnp}\n{}", describe(&out));
        assert!(text.contains("end"), "{ctx}");
        let line = |word: &str| text.lines().find(|l| l.contains(word)).unwrap_or("");
        assert!(
            line("/dev/shm/d").ends_with("Operation not permitted"),
            "{ctx}"
        );
        assert!(line("/dev/shm/none").ends_with("Network is down"), "{ctx}");
        assert!(
            line("/dev/shm/s").ends_with("Function not implemented"),
            "{ctx}"
        );
        assert!(text.contains("link-ok"), "{ctx}");
    }
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn kill_and_trap_actions_send_sigsys() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("sc-kill");
    no_core_dumps(&fx);
    set_seccomp(
        &fx,
        allow_but(json!([
            {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_KILL_PROCESS"},
            {"names": ["rmdir"], "action": "SCMP_ACT_KILL_THREAD"},
            {"names": ["symlink", "symlinkat"], "action": "SCMP_ACT_KILL"},
            {"names": ["link", "linkat"], "action": "SCMP_ACT_TRAP"}
        ])),
    );
    // Each command runs in a child of the shell: 128 + SIGSYS (31).
    let (out, text) = run_script(
        &fx,
        "/bin/mkdir /dev/shm/d; echo mkdir=$?; /bin/rmdir /dev/shm/d; echo rmdir=$?; \
         /bin/ln -s x /dev/shm/s; echo symlink=$?; /bin/ln /etc/passwd /dev/shm/h; echo link=$?",
    );
    assert_eq!(
        text,
        "mkdir=159\nrmdir=159\nsymlink=159\nlink=159\n",
        "{}",
        describe(&out)
    );
    // The container's own process.
    fx.set_args(&["/bin/mkdir", "/dev/shm/d"]);
    let out = fx.run_container();
    assert!(!out.status.success(), "{}", describe(&out));
    assert_eq!(out.status.code(), Some(159), "{}", describe(&out));
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn profile_blocking_getcwd_and_mkdir_still_starts() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("sc-getcwd");
    set_seccomp(
        &fx,
        allow_but(json!([
            {"names": ["getcwd", "mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}
        ])),
    );
    // With noNewPrivileges the filter is loaded after the runtime's own
    // getcwd (the CVE-2024-21626 cwd check) and mkdirs. Without it, husk
    // and runc both load it before that check (loading needs
    // CAP_SYS_ADMIN then), and refuse to start.
    let (out, text) = run_script(&fx, "echo ok; pwd 2>&1; mkdir /dev/shm/x 2>&1; true");
    assert!(out.status.success(), "{}", describe(&out));
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("ok"), "{}", describe(&out));
    assert!(
        text.contains("Operation not permitted"),
        "{}",
        describe(&out)
    );
}

/// The four personality(2) values busybox can ask for.
const PERSONAS: [(&str, u64); 4] = [
    ("linux64", 0x0),
    ("linux32", 0x8),
    ("linux64 -R", 0x40000),
    ("linux32 -R", 0x40008),
];

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn argument_conditions_every_operator() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("sc-ops");
    let script: String = PERSONAS
        .iter()
        .map(|(cmd, v)| {
            format!("{cmd} true 2>/dev/null && echo {v:#x}=ok || echo {v:#x}=blocked; ")
        })
        .collect();
    fx.set_sh(&script);
    // (op, value, valueTwo, does personality(p) match?)
    type Pred = fn(u64) -> bool;
    let cases: [(&str, u64, Option<u64>, Pred); 7] = [
        ("SCMP_CMP_EQ", 8, None, |p| p == 8),
        ("SCMP_CMP_NE", 8, None, |p| p != 8),
        ("SCMP_CMP_LT", 8, None, |p| p < 8),
        ("SCMP_CMP_LE", 8, None, |p| p <= 8),
        ("SCMP_CMP_GT", 8, None, |p| p > 8),
        ("SCMP_CMP_GE", 8, None, |p| p >= 8),
        // value is the mask, valueTwo the masked value.
        ("SCMP_CMP_MASKED_EQ", 0x40008, Some(0x40000), |p| {
            p & 0x40008 == 0x40000
        }),
    ];
    for (op, value, value_two, pred) in cases {
        let mut arg = json!({"index": 0, "value": value, "op": op});
        if let Some(v2) = value_two {
            arg["valueTwo"] = json!(v2);
        }
        set_seccomp(
            &fx,
            allow_but(
                json!([{"names": ["personality"], "action": "SCMP_ACT_ERRNO", "args": [arg]}]),
            ),
        );
        let out = fx.run_container();
        assert!(out.status.success(), "{op}: {}", describe(&out));
        let want: String = PERSONAS
            .iter()
            .map(|(_, p)| format!("{p:#x}={}\n", if pred(*p) { "blocked" } else { "ok" }))
            .collect();
        assert_eq!(stdout_str(&out), want, "{op}: {}", describe(&out));
    }
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn argument_conditions_and_or() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("sc-andor");
    // ip opens an AF_NETLINK (16) SOCK_RAW (3) socket first; nc an AF_INET
    // (2) SOCK_STREAM (1) one.
    fx.set_sh(
        "ip link >/dev/null 2>&1 && echo ip=ok || echo ip=blocked; \
               nc 127.0.0.1 1 2>&1 | grep -q 'Network is down' && echo nc=blocked || echo nc=ok",
    );
    // Different arguments in one rule: all must match (AND). If either
    // condition were enough, the first rule would block nc (arg1 == 1).
    set_seccomp(
        &fx,
        allow_but(json!([
            {"names": ["socket"], "action": "SCMP_ACT_ERRNO", "errnoRet": 100, "args": [
                {"index": 0, "value": 16, "op": "SCMP_CMP_EQ"},
                {"index": 1, "value": 1, "op": "SCMP_CMP_EQ"}]},
            {"names": ["socket"], "action": "SCMP_ACT_ERRNO", "errnoRet": 100, "args": [
                {"index": 0, "value": 16, "op": "SCMP_CMP_EQ"},
                {"index": 1, "value": 15, "valueTwo": 3, "op": "SCMP_CMP_MASKED_EQ"}]}
        ])),
    );
    let out = fx.run_container();
    assert_eq!(
        stdout_str(&out),
        "ip=blocked\nnc=ok\n",
        "{}",
        describe(&out)
    );
    // The same argument twice in one rule: either may match (runc's rule:
    // one libseccomp rule per condition).
    set_seccomp(
        &fx,
        allow_but(json!([
            {"names": ["socket"], "action": "SCMP_ACT_ERRNO", "errnoRet": 100, "args": [
                {"index": 0, "value": 16, "op": "SCMP_CMP_EQ"},
                {"index": 0, "value": 2, "op": "SCMP_CMP_EQ"}]}
        ])),
    );
    let out = fx.run_container();
    assert_eq!(
        stdout_str(&out),
        "ip=blocked\nnc=blocked\n",
        "{}",
        describe(&out)
    );
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn unknown_syscalls_and_rules_like_the_default_are_skipped() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("sc-skip");
    set_seccomp(
        &fx,
        allow_but(json!([
            {"names": ["no_such_syscall_husk", "mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"},
            {"names": ["getpid"], "action": "SCMP_ACT_ALLOW"}
        ])),
    );
    let out = fx.run_sh("mkdir /dev/shm/d 2>&1; echo end");
    assert!(
        out.contains("Operation not permitted") && out.ends_with("end\n"),
        "{out}"
    );
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn docker_default_profile_runs_a_shell() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("sc-docker");
    let mut profile = docker_default();
    set_seccomp(&fx, profile.clone());
    // personality(2) is allowed for a few values only: 0x40000 is not.
    let script = "echo ok; grep Seccomp: /proc/self/status; linux32 true && echo linux32-ok; \
                  linux64 -R true 2>&1; echo end";
    for nnp in NNP {
        set_nnp(&fx, nnp);
        let (out, text) = run_script(&fx, script);
        let ctx = format!("nnp={nnp}\n{}", describe(&out));
        assert!(out.status.success(), "{ctx}");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.first(), Some(&"ok"), "{ctx}");
        assert!(text.contains("Seccomp:\t2"), "{ctx}");
        assert!(text.contains("linux32-ok"), "{ctx}");
        assert!(
            lines
                .iter()
                .any(|l| l.contains("personality") && l.ends_with("Operation not permitted")),
            "{ctx}"
        );
    }
    // defaultErrnoRet is what the syscalls outside the allow list return.
    profile["defaultErrnoRet"] = json!(38);
    set_seccomp(&fx, profile);
    let (out, text) = run_script(&fx, script);
    assert!(
        text.lines()
            .any(|l| l.contains("personality") && l.ends_with("Function not implemented")),
        "{}",
        describe(&out)
    );
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn default_errno_with_a_short_allow_list() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("sc-allowlist");
    // Docker's allow list without mkdir: everything else a shell needs.
    let mut profile = docker_default();
    for rule in profile["syscalls"].as_array_mut().unwrap() {
        if let Some(names) = rule["names"].as_array_mut() {
            names.retain(|n| n != "mkdir" && n != "mkdirat");
        }
    }
    profile["defaultErrnoRet"] = json!(100);
    set_seccomp(&fx, profile);
    let out = fx.run_sh("mkdir /dev/shm/d 2>&1; touch /dev/shm/f && echo touch-ok");
    assert!(
        out.lines()
            .next()
            .unwrap_or("")
            .ends_with("Network is down"),
        "{out}"
    );
    assert!(out.contains("touch-ok"), "{out}");
}

/// The filter flags the runtime says it supports (`features`); runc 1.1
/// supports none.
fn supported_flags() -> Vec<String> {
    let out = std::process::Command::new(runtime())
        .arg("features")
        .output()
        .expect("run features");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    v["linux"]["seccomp"]["supportedFlags"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn flags_are_accepted() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("sc-flags");
    let supported = supported_flags();
    for flags in [
        vec![],
        vec!["SECCOMP_FILTER_FLAG_LOG"],
        vec!["SECCOMP_FILTER_FLAG_SPEC_ALLOW"],
        vec![
            "SECCOMP_FILTER_FLAG_TSYNC",
            "SECCOMP_FILTER_FLAG_LOG",
            "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
        ],
    ] {
        if let Some(f) = flags.iter().find(|f| !supported.iter().any(|s| s == *f)) {
            assert!(!is_husk(), "husk does not advertise {f}");
            eprintln!("skipped: {} does not support {f}", runtime());
            continue;
        }
        let mut s = allow_but(json!([{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]));
        s["flags"] = json!(flags);
        s["architectures"] = json!(["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]);
        set_seccomp(&fx, s);
        let out = fx.run_sh("mkdir /dev/shm/d 2>&1; echo end");
        assert!(
            out.contains("Operation not permitted"),
            "flags {flags:?}: {out}"
        );
    }
}

// ---------------------------------------------------------------------------
// Bad profiles

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn bad_profiles_fail_cleanly() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("sc-bad");
    let rule = |extra: Value| {
        let mut r = json!({"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"});
        r.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        r
    };
    // (profile, a word the error must contain, whether runc's has it
    // too, the field husk's error names)
    let cases = [
        (
            allow_but(json!([
                rule(json!({})),
                rule(json!({"action": "SCMP_ACT_FOO"}))
            ])),
            "SCMP_ACT_FOO",
            true,
            "linux.seccomp.syscalls[1].action",
        ),
        (
            json!({"defaultAction": "SCMP_ACT_BAR"}),
            "SCMP_ACT_BAR",
            true,
            "linux.seccomp.defaultAction",
        ),
        (
            json!({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_Z80"],
                   "syscalls": [rule(json!({}))]}),
            "SCMP_ARCH_Z80",
            true,
            "linux.seccomp.architectures[0]",
        ),
        (
            allow_but(json!([rule(
                json!({"args": [{"index": 0, "value": 1, "op": "SCMP_CMP_ALMOST"}]})
            )])),
            "SCMP_CMP_ALMOST",
            true,
            "linux.seccomp.syscalls[0].args[0].op",
        ),
        (
            json!({"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_BOGUS"],
                   "syscalls": [rule(json!({}))]}),
            "SECCOMP_FILTER_FLAG_BOGUS",
            // runc 1.1: "seccomp flags are not yet supported by runc".
            false,
            "linux.seccomp.flags[0]",
        ),
    ];
    for (profile, word, runc_too, field) in cases {
        set_seccomp(&fx, profile.clone());
        let out = fx.husk(&["create", "--bundle", fx.bundle_str(), &fx.id]);
        assert_clean_error(&out);
        assert_nothing_left(&fx, &fx.id);
        let err = stderr_str(&out);
        if is_husk() || runc_too {
            assert!(err.contains(word), "{profile}: {}", describe(&out));
        }
        if is_husk() {
            assert!(
                husk_names_the_field(&err, field),
                "error does not name {field}: {err}"
            );
        }
    }
    // NOTIFY without a listenerPath (runc refuses it too).
    set_seccomp(
        &fx,
        allow_but(json!([rule(json!({"action": "SCMP_ACT_NOTIFY"}))])),
    );
    let out = fx.husk(&["run", "--bundle", fx.bundle_str(), &fx.id]);
    assert_clean_error(&out);
    assert_nothing_left(&fx, &fx.id);
    if is_husk() {
        assert!(
            stderr_str(&out).contains("linux.seccomp.listenerPath"),
            "{}",
            describe(&out)
        );
    }
}

fn husk_names_the_field(err: &str, field: &str) -> bool {
    err.contains(field)
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn bad_profiles_husk_checks_before_any_side_effect() {
    if !require_root() || !is_husk() {
        return;
    }
    let fx = Fixture::new("sc-bad2");
    let cases = [
        (
            allow_but(json!([{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO",
                "args": [{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]}])),
            "linux.seccomp.syscalls[0].args[0].index: 6 is out of range",
        ),
        (
            allow_but(json!([{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 65536}])),
            "linux.seccomp.syscalls[0].errnoRet: 65536 is out of range",
        ),
        (
            json!({"defaultAction": "SCMP_ACT_NOTIFY", "listenerPath": "/x"}),
            "linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be the default action",
        ),
        (
            json!({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/x",
                   "syscalls": [{"names": ["write"], "action": "SCMP_ACT_NOTIFY"}]}),
            "linux.seccomp.syscalls[0]: SCMP_ACT_NOTIFY cannot be used for the write syscall",
        ),
    ];
    for (profile, want) in cases {
        set_seccomp(&fx, profile.clone());
        let out = fx.husk(&["create", "--bundle", fx.bundle_str(), &fx.id]);
        assert_clean_error(&out);
        assert_nothing_left(&fx, &fx.id);
        assert!(
            stderr_str(&out).contains(want),
            "{profile}: {}",
            describe(&out)
        );
    }
}

// ---------------------------------------------------------------------------
// SCMP_ACT_NOTIFY

/// A seccomp agent on a unix socket in the fixture's directory: takes one
/// connection, keeps the container process state it receives, and answers
/// every notification with success (0) without running the syscall.
struct Agent {
    path: PathBuf,
    thread: Option<std::thread::JoinHandle<Result<(Value, usize), String>>>,
}

impl Agent {
    fn start(dir: &Path) -> Agent {
        let path = dir.join("agent.sock");
        let _ = std::fs::remove_file(&path);
        let listener = UnixListener::bind(&path).expect("bind the agent socket");
        listener.set_nonblocking(true).unwrap();
        let thread = std::thread::spawn(move || agent_main(listener));
        Agent {
            path,
            thread: Some(thread),
        }
    }

    /// The state it received and how many notifications it answered.
    fn finish(mut self) -> Result<(Value, usize), String> {
        self.thread
            .take()
            .unwrap()
            .join()
            .unwrap_or_else(|_| Err("agent panicked".into()))
    }
}

fn agent_main(listener: UnixListener) -> Result<(Value, usize), String> {
    let deadline = Instant::now() + Duration::from_secs(20);
    let conn = loop {
        match listener.accept() {
            Ok((c, _)) => break c,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if Instant::now() > deadline {
                    return Err("no connection from the runtime".into());
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) => return Err(format!("accept: {e}")),
        }
    };
    conn.set_nonblocking(false).unwrap();
    let (state, fd) = recv_state_and_fd(&conn)?;
    let mut answered = 0;
    // Until every process using the filter is gone (POLLHUP).
    loop {
        use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
        let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
        if Instant::now() > deadline {
            return Err("the container did not finish".into());
        }
        match poll(&mut fds, PollTimeout::from(100u16)) {
            Ok(0) => continue,
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(format!("poll: {e}")),
        }
        let ev = fds[0].revents().unwrap_or(PollFlags::empty());
        if ev.contains(PollFlags::POLLIN) {
            let req = match libseccomp::ScmpNotifReq::receive(fd.as_raw_fd()) {
                Ok(r) => r,
                // The process went away between poll and receive.
                Err(_) => continue,
            };
            let resp = libseccomp::ScmpNotifResp::new_val(
                req.id,
                0,
                libseccomp::ScmpNotifRespFlags::empty(),
            );
            let _ = resp.respond(fd.as_raw_fd());
            answered += 1;
        } else if ev.intersects(PollFlags::POLLHUP | PollFlags::POLLERR) {
            return Ok((state, answered));
        }
    }
}

/// One message: the JSON state as data, the listener fd as SCM_RIGHTS.
fn recv_state_and_fd(conn: &std::os::unix::net::UnixStream) -> Result<(Value, OwnedFd), String> {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    use std::io::{IoSliceMut, Read};
    let mut buf = vec![0u8; 64 * 1024];
    let mut cmsg = nix::cmsg_space!([std::os::fd::RawFd; 4]);
    let (n, fds) = {
        let mut iov = [IoSliceMut::new(&mut buf)];
        let msg = recvmsg::<()>(
            conn.as_raw_fd(),
            &mut iov,
            Some(&mut cmsg),
            MsgFlags::MSG_CMSG_CLOEXEC,
        )
        .map_err(|e| format!("recvmsg: {e}"))?;
        let mut fds = Vec::new();
        for c in msg.cmsgs().map_err(|e| format!("cmsgs: {e}"))? {
            if let ControlMessageOwned::ScmRights(v) = c {
                fds.extend(v);
            }
        }
        (msg.bytes, fds)
    };
    buf.truncate(n);
    // A long state may come in more than one piece: read until it parses
    // (not until EOF: runc keeps the connection open).
    let mut c = conn;
    while serde_json::from_slice::<Value>(&buf).is_err_and(|e| e.is_eof()) {
        let mut more = [0u8; 4096];
        match c.read(&mut more) {
            Ok(0) | Err(_) => break,
            Ok(k) => buf.extend_from_slice(&more[..k]),
        }
    }
    if fds.len() != 1 {
        return Err(format!("expected one fd, got {fds:?}"));
    }
    // SAFETY: the kernel just installed this fd for us (SCM_RIGHTS).
    let fd = unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fds[0]) };
    let v = serde_json::from_slice(&buf)
        .map_err(|e| format!("state is not JSON ({e}): {}", String::from_utf8_lossy(&buf)))?;
    Ok((v, fd))
}

fn notify_profile(listener: &Path) -> Value {
    json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "listenerPath": listener,
        "listenerMetadata": "bar",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}]
    })
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn notify_sends_the_listener_fd_and_state_to_the_agent() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("sc-notify");
    for nnp in NNP {
        set_nnp(&fx, nnp);
        let agent = Agent::start(&fx.dir);
        set_seccomp(&fx, notify_profile(&agent.path));
        // The agent answers 0 without creating the directory.
        let (out, text) = run_script(
            &fx,
            "mkdir /dev/shm/foo 2>&1; echo rc=$?; test -d /dev/shm/foo && echo exists || echo absent",
        );
        let got = agent.finish();
        let ctx = format!("nnp={nnp}\n{}\nagent: {got:?}", describe(&out));
        assert!(out.status.success(), "{ctx}");
        assert_eq!(text, "rc=0\nabsent\n", "{ctx}");
        let (state, answered) = got.expect("agent");
        assert!(answered >= 1, "{ctx}");
        assert_eq!(state["fds"], json!(["seccompFd"]), "{ctx}");
        assert_eq!(state["metadata"], "bar", "{ctx}");
        assert!(state["ociVersion"].is_string(), "{ctx}");
        let pid = state["pid"].as_i64().unwrap_or(0);
        assert!(pid > 0, "{ctx}");
        assert_eq!(state["state"]["pid"].as_i64(), Some(pid), "{ctx}");
        assert_eq!(state["state"]["id"], json!(fx.id), "{ctx}");
        assert_eq!(state["state"]["status"], "creating", "{ctx}");
        assert_eq!(
            state["state"]["bundle"].as_str().map(PathBuf::from),
            Some(fx.bundle.clone()),
            "{ctx}"
        );
    }
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn notify_without_an_agent_fails_cleanly() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("sc-noagent");
    // Nothing at the path.
    set_seccomp(&fx, notify_profile(&fx.dir.join("nobody.sock")));
    let out = fx.husk(&["create", "--bundle", fx.bundle_str(), &fx.id]);
    assert_clean_error(&out);
    assert_nothing_left(&fx, &fx.id);
    // A socket nobody listens on any more.
    let path = fx.dir.join("gone.sock");
    drop(UnixListener::bind(&path).unwrap());
    set_seccomp(&fx, notify_profile(&path));
    for nnp in NNP {
        set_nnp(&fx, nnp);
        let out = fx.husk(&["create", "--bundle", fx.bundle_str(), &fx.id]);
        assert_clean_error(&out);
        assert_nothing_left(&fx, &fx.id);
        if is_husk() {
            assert!(
                stderr_str(&out).contains("linux.seccomp.listenerPath"),
                "{}",
                describe(&out)
            );
        }
    }
}

#[test]
fn features_lists_seccomp() {
    let out = std::process::Command::new(runtime())
        .arg("features")
        .output()
        .expect("run features");
    assert!(out.status.success(), "{}", describe(&out));
    let v: Value = serde_json::from_slice(&out.stdout).expect("features is JSON");
    let s = &v["linux"]["seccomp"];
    assert_eq!(s["enabled"], true, "{s}");
    let has = |key: &str, want: &[&str]| {
        let got: Vec<&str> = s[key]
            .as_array()
            .map(|a| a.iter().filter_map(|x| x.as_str()).collect())
            .unwrap_or_default();
        for w in want {
            assert!(got.contains(w), "{key} lacks {w}: {s}");
        }
    };
    has(
        "actions",
        &[
            "SCMP_ACT_ALLOW",
            "SCMP_ACT_ERRNO",
            "SCMP_ACT_KILL",
            "SCMP_ACT_KILL_PROCESS",
            "SCMP_ACT_KILL_THREAD",
            "SCMP_ACT_LOG",
            "SCMP_ACT_NOTIFY",
            "SCMP_ACT_TRACE",
            "SCMP_ACT_TRAP",
        ],
    );
    has(
        "operators",
        &[
            "SCMP_CMP_EQ",
            "SCMP_CMP_GE",
            "SCMP_CMP_GT",
            "SCMP_CMP_LE",
            "SCMP_CMP_LT",
            "SCMP_CMP_MASKED_EQ",
            "SCMP_CMP_NE",
        ],
    );
    has(
        "archs",
        &["SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32"],
    );
}

/// husk keeps compiled programs in /run/husk-cache/seccomp: a second
/// container with the same profile loads the stored program, and an entry
/// that does not match (corrupt, or writable by others) is ignored and
/// replaced, never loaded.
#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn compiled_programs_are_cached_and_checked() {
    if !require_root() || !is_husk() {
        return;
    }
    let cache = Path::new("/run/husk-cache/seccomp");
    let fx = Fixture::new("sc-cache");
    // A syscall name no libseccomp knows makes this profile (and so its
    // cache entry) unique to this run; the rule itself is skipped.
    let marker = format!("husk_cache_test_{}_{}", std::process::id(), fx.id);
    set_seccomp(
        &fx,
        allow_but(json!([
            {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 100},
            {"names": [marker], "action": "SCMP_ACT_ERRNO"}
        ])),
    );
    let entry = || -> Option<PathBuf> {
        std::fs::read_dir(cache)
            .ok()?
            .flatten()
            .map(|e| e.path())
            .find(|p| {
                std::fs::read(p)
                    .map(|d| d.windows(marker.len()).any(|w| w == marker.as_bytes()))
                    .unwrap_or(false)
            })
    };
    let check = |what: &str| {
        let (out, text) = run_script(&fx, "mkdir /dev/shm/d 2>&1; echo end");
        assert!(
            text.contains("Network is down") && text.contains("end"),
            "{what}\n{}",
            describe(&out)
        );
    };
    check("first run (compiles)");
    let path = entry().expect("a cache entry for the profile");
    let before = std::fs::read(&path).unwrap();
    check("second run (cache hit)");
    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "entry rewritten on a hit"
    );

    // A corrupt key: ignored, and the entry is written again.
    let mut bad = before.clone();
    let at = bad.len() / 2;
    bad.truncate(at);
    std::fs::write(&path, &bad).unwrap();
    check("corrupt entry");
    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "corrupt entry not replaced"
    );

    // Writable by others: not trusted.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).unwrap();
    check("group/other-writable entry");
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "untrusted entry not replaced");
    let _ = std::fs::remove_file(&path);
}
