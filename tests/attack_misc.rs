//! Attacks on the host through the config and the runtime's own files
//! (issue 15): sysctls that are not the container's, world-readable state,
//! temp files left beside the pid file, hooks that hang husk, and creates
//! that fail half-way. Every check looks at the host.
//!
//! No test here may write a host sysctl, even against a runtime with the
//! bug: every key that such a runtime would write into the host gets a
//! value the kernel refuses (EINVAL), and the host value is compared
//! before and after.

mod common;

use common::*;
use serde_json::json;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A value no integer sysctl accepts.
const NOT_A_NUMBER: &str = "not-a-number";

fn host_sysctl(key: &str) -> Option<String> {
    fs::read_to_string(format!("/proc/sys/{}", key.replace('.', "/"))).ok()
}

/// The runtime's error text with runc's logfmt quoting undone.
fn error_text(out: &Output) -> String {
    stderr_str(out).replace("\\\"", "\"")
}

/// Nothing of the fixture is left on the host: state, cgroup, process,
/// mount under its directory, entry in --root.
fn assert_all_gone(fx: &Fixture, what: &str) {
    if let Some(left) = leftovers_of(fx, &fx.id) {
        panic!("{what}: {left}");
    }
    if let Ok(rd) = fs::read_dir(&fx.root) {
        let left: Vec<_> = rd.flatten().map(|e| e.file_name()).collect();
        assert!(left.is_empty(), "{what}: left in --root: {left:?}");
    }
    let mounts = mounts_under(&fx.dir);
    assert!(mounts.is_empty(), "{what}: mounts left: {mounts:?}");
}

fn set_namespaces(fx: &Fixture, nss: serde_json::Value) {
    fx.config_mut()["linux"]["namespaces"] = nss;
}

/// create with `sysctl` must fail before any side effect, with `want` in
/// its error (when `want_everywhere`, also for the oracle), and every key
/// keeps its host value.
fn check_refused(fx: &Fixture, sysctl: &[(&str, &str)], want: &str, want_everywhere: bool) {
    let keys: Vec<&str> = sysctl.iter().map(|(k, _)| *k).collect();
    let before: Vec<Option<String>> = keys.iter().map(|k| host_sysctl(k)).collect();
    let map: serde_json::Map<String, serde_json::Value> = sysctl
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect();
    fx.config_mut()["linux"]["sysctl"] = serde_json::Value::Object(map);
    fx.set_args(&["true"]);
    let out = fx.husk(&["create", "--bundle", fx.bundle_str(), &fx.id]);
    let after: Vec<Option<String>> = keys.iter().map(|k| host_sysctl(k)).collect();
    assert_eq!(before, after, "{keys:?}: a host sysctl changed");
    assert!(
        !out.status.success(),
        "{keys:?}: create succeeded:\n{}",
        describe(&out)
    );
    if is_husk() || want_everywhere {
        assert!(
            error_text(&out).contains(want),
            "{keys:?}: expected {want:?} in:\n{}",
            describe(&out)
        );
    }
    if is_husk() {
        assert_clean_error(&out);
    }
    // runc leaves a stopped container when the write itself fails.
    if !is_husk() {
        let _ = fx.husk(&["delete", "--force", &fx.id]);
    }
    assert_all_gone(fx, &format!("{keys:?}"));
}

// ---------------------------------------------------------------------------
// 1. sysctls

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn sysctl_global_keys_are_refused() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("sysctl-global");
    for key in ["vm.swappiness", "fs.file-max", "kernel.panic"] {
        if host_sysctl(key).is_none() {
            continue;
        }
        let want = format!("sysctl \"{key}\" is not in a separate kernel namespace");
        check_refused(&fx, &[(key, NOT_A_NUMBER)], &want, true);
    }
    // The slash spelling of the same key (husk used to write it as is).
    check_refused(
        &fx,
        &[("vm/swappiness", NOT_A_NUMBER)],
        "sysctl \"vm.swappiness\" is not in a separate kernel namespace",
        true,
    );
    // Refused even next to an allowed key.
    check_refused(
        &fx,
        &[
            ("net.ipv4.ip_forward", "1"),
            ("vm.swappiness", NOT_A_NUMBER),
        ],
        "sysctl \"vm.swappiness\" is not in a separate kernel namespace",
        true,
    );
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn sysctl_net_keys_need_a_network_namespace_of_their_own() {
    if !require_root() {
        return;
    }
    let key = "net.ipv4.ip_forward";
    let want = format!("sysctl \"{key}\" not allowed in host network namespace");
    // No network namespace at all (Docker's --network host).
    let fx = Fixture::new("sysctl-nonet");
    set_namespaces(
        &fx,
        json!([{"type": "pid"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}]),
    );
    check_refused(&fx, &[(key, NOT_A_NUMBER)], &want, true);
    // The host's network namespace joined by path (husk's and the test's).
    let fx = Fixture::new("sysctl-hostnet");
    let path = format!("/proc/{}/ns/net", std::process::id());
    set_namespaces(
        &fx,
        json!([{"type": "pid"}, {"type": "network", "path": path}, {"type": "ipc"},
               {"type": "uts"}, {"type": "mount"}]),
    );
    check_refused(&fx, &[(key, NOT_A_NUMBER)], &want, true);
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn sysctl_ipc_keys_need_an_ipc_namespace_of_their_own() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("sysctl-noipc");
    set_namespaces(
        &fx,
        json!([{"type": "pid"}, {"type": "network"}, {"type": "uts"}, {"type": "mount"}]),
    );
    for key in ["kernel.msgmax", "kernel.shmmax", "fs.mqueue.msg_max"] {
        let want = format!("sysctl \"{key}\" is not allowed in the hosts ipc namespace");
        check_refused(&fx, &[(key, NOT_A_NUMBER)], &want, true);
    }
    // Joined by path, the host's own: runc 1.1.5 does not look at the path
    // (it then fails writing the bad value into the host).
    let fx = Fixture::new("sysctl-hostipc");
    let path = format!("/proc/{}/ns/ipc", std::process::id());
    set_namespaces(
        &fx,
        json!([{"type": "pid"}, {"type": "network"}, {"type": "ipc", "path": path},
               {"type": "uts"}, {"type": "mount"}]),
    );
    check_refused(
        &fx,
        &[("kernel.shmmax", NOT_A_NUMBER)],
        "sysctl \"kernel.shmmax\" is not allowed in the hosts ipc namespace",
        false,
    );
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn sysctl_uts_keys() {
    if !require_root() {
        return;
    }
    // kernel.hostname belongs to the `hostname` field, even with a UTS
    // namespace (the container's own: nothing of the host at stake).
    let fx = Fixture::new("sysctl-hostname");
    check_refused(
        &fx,
        &[("kernel.hostname", "h")],
        "sysctl \"kernel.hostname\" is not allowed as it conflicts with the OCI \"hostname\" field",
        true,
    );
    // kernel.domainname without a UTS namespace would be the host's.
    let fx = Fixture::new("sysctl-nouts");
    fx.config_mut()["hostname"] = serde_json::Value::Null;
    set_namespaces(
        &fx,
        json!([{"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "mount"}]),
    );
    check_refused(
        &fx,
        &[("kernel.domainname", "attack.example")],
        "sysctl \"kernel.domainname\" is not in a separate kernel namespace",
        true,
    );
    // With one of its own, it is set there only.
    let fx = Fixture::new("sysctl-uts");
    let host = host_sysctl("kernel.domainname");
    fx.config_mut()["linux"]["sysctl"] = json!({"kernel.domainname": "inside.example"});
    let out = fx.run_sh("cat /proc/sys/kernel/domainname");
    assert_eq!(out, "inside.example\n");
    assert_eq!(host, host_sysctl("kernel.domainname"));
    assert_all_gone(&fx, "domainname");
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn sysctl_write_does_not_leave_procfs() {
    if !require_root() {
        return;
    }
    // A host directory bind-mounted over /proc/sys/net: the write of an
    // allowed key would land in a host file. The mount itself is refused
    // (checkProcMount, as runc); the writer would refuse it too (openat2
    // beneath /proc/sys, no mount crossing, procfs only).
    let fx = Fixture::new("sysctl-bind");
    let host = fx.host_dir("fake-net");
    fs::create_dir_all(host.join("ipv4")).unwrap();
    let target = host.join("ipv4/ip_forward");
    fs::write(&target, "untouched").unwrap();
    fx.add_mount(
        "/proc/sys/net",
        "bind",
        host.to_str().unwrap(),
        &["rbind", "rw"],
    );
    fx.config_mut()["linux"]["sysctl"] = json!({"net.ipv4.ip_forward": "1"});
    fx.set_args(&["true"]);
    let out = fx.husk(&["create", "--bundle", fx.bundle_str(), &fx.id]);
    assert!(!out.status.success(), "{}", describe(&out));
    assert_eq!(fs::read_to_string(&target).unwrap(), "untouched");
    if is_husk() {
        assert_clean_error(&out);
        let err = stderr_str(&out);
        assert!(
            err.contains("net.ipv4.ip_forward") || err.contains("/proc/sys/net is inside /proc"),
            "{}",
            describe(&out)
        );
    } else {
        let _ = fx.husk(&["delete", "--force", &fx.id]);
    }
    assert_all_gone(&fx, "bind over /proc/sys/net");
}

// ---------------------------------------------------------------------------
// 2. State file modes

fn mode_of(p: &Path) -> u32 {
    fs::symlink_metadata(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .permissions()
        .mode()
        & 0o7777
}

/// Runs `args` as nobody (uid/gid 65534, no groups).
fn as_nobody(args: &[&str]) -> Output {
    Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run setpriv")
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn state_is_private_to_root() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("state-modes");
    // Everything up to --root is searchable by anyone, as /run is.
    for d in [Path::new(TEST_BASE), fx.dir.as_path()] {
        fs::set_permissions(d, fs::Permissions::from_mode(0o755)).unwrap();
    }
    fx.config_mut()["annotations"] = json!({"secret": "hunter2"});
    fx.set_args(&["sleep", "1000"]);
    fx.create();
    let dir = fx.state_dir(&fx.id);
    let state = dir.join("state.json");
    assert_eq!(mode_of(&fx.root), 0o700, "--root made by the runtime");
    assert_eq!(mode_of(&dir), 0o711, "container directory");
    assert_eq!(mode_of(&state), 0o600, "state.json");
    if is_husk() {
        // runc's is 0622: its init writes it. husk's `start` does.
        assert_eq!(mode_of(&dir.join("exec.fifo")), 0o600, "exec.fifo");
    }
    let out = as_nobody(&["cat", state.to_str().unwrap()]);
    assert!(!out.status.success(), "nobody read state.json");
    assert!(!stdout_str(&out).contains("hunter2"));
    fx.run_ok(&["delete", "--force", &fx.id]);

    // A --root that exists already keeps its mode; what is inside is
    // still private.
    let fx = Fixture::new("state-modes-root");
    for d in [Path::new(TEST_BASE), fx.dir.as_path()] {
        fs::set_permissions(d, fs::Permissions::from_mode(0o755)).unwrap();
    }
    fs::create_dir(&fx.root).unwrap();
    fs::set_permissions(&fx.root, fs::Permissions::from_mode(0o755)).unwrap();
    fx.config_mut()["annotations"] = json!({"secret": "hunter2"});
    fx.set_args(&["sleep", "1000"]);
    fx.create();
    let dir = fx.state_dir(&fx.id);
    let state = dir.join("state.json");
    assert_eq!(mode_of(&fx.root), 0o755, "an existing --root is left alone");
    assert_eq!(mode_of(&dir), 0o711);
    assert_eq!(mode_of(&state), 0o600);
    let out = as_nobody(&["cat", state.to_str().unwrap()]);
    assert!(
        !out.status.success() && !stdout_str(&out).contains("hunter2"),
        "nobody read state.json:\n{}",
        describe(&out)
    );
    let out = as_nobody(&["ls", dir.to_str().unwrap()]);
    assert!(
        !out.status.success(),
        "nobody listed the container directory"
    );
    // Each save keeps the mode (start rewrites the state).
    fx.run_ok(&["start", &fx.id]);
    assert_eq!(mode_of(&state), 0o600, "state.json after start");
    fx.run_ok(&["delete", "--force", &fx.id]);
    assert_all_gone(&fx, "state modes");
}

// ---------------------------------------------------------------------------
// 3. The pid file

/// Names in `dir` other than `keep`.
fn other_files(dir: &Path, keep: &str) -> Vec<String> {
    fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n != keep)
        .collect()
}

fn crashing(fx: &Fixture, point: &str, args: &[&str]) -> Output {
    let logs = fx.dir.join("logs");
    let _ = fs::create_dir_all(&logs);
    let mut cmd = Command::new(runtime());
    cmd.arg("--root").arg(fx.root_str()).args(args);
    cmd.env("HUSK_CRASH_AT", point);
    run_with_timeout(
        cmd,
        &logs.join(format!("{point}.out")),
        &logs.join(format!("{point}.err")),
        COMMAND_TIMEOUT,
    )
}

fn killed(out: &Output) -> bool {
    use std::os::unix::process::ExitStatusExt;
    out.status.signal() == Some(9)
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn pid_file_leaves_no_temp_file() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("pidfile");
    fx.set_args(&["sleep", "1000"]);
    fx.write_config();
    let piddir = fx.host_dir("pid");
    let pidfile = piddir.join("pid");
    let pf = pidfile.to_str().unwrap();
    // Plain create, then over an existing pid file.
    fx.run_ok(&[
        "create",
        "--pid-file",
        pf,
        "--bundle",
        fx.bundle_str(),
        &fx.id,
    ]);
    let pid = fx.state()["pid"].as_i64().unwrap();
    assert_eq!(fs::read_to_string(&pidfile).unwrap(), pid.to_string());
    assert_eq!(other_files(&piddir, "pid"), Vec::<String>::new());
    let id2 = fx.new_id("2");
    fx.set_cgroup_for(&id2);
    fx.run_ok(&[
        "create",
        "--pid-file",
        pf,
        "--bundle",
        fx.bundle_str(),
        &id2,
    ]);
    fx.set_cgroup_for(&fx.id);
    let pid2 = fx.state_of(&id2)["pid"].as_i64().unwrap();
    assert_eq!(fs::read_to_string(&pidfile).unwrap(), pid2.to_string());
    assert_eq!(other_files(&piddir, "pid"), Vec::<String>::new());
    fx.run_ok(&["delete", "--force", &fx.id]);
    fx.run_ok(&["delete", "--force", &id2]);
    if !is_husk() {
        return;
    }
    // Killed before the pid file is linked into place: nothing at all.
    fs::remove_file(&pidfile).unwrap();
    let out = crashing(
        &fx,
        "pidfile:before-link",
        &[
            "create",
            "--pid-file",
            pf,
            "--bundle",
            fx.bundle_str(),
            &fx.id,
        ],
    );
    assert!(killed(&out), "husk did not stop:\n{}", describe(&out));
    assert_eq!(other_files(&piddir, ""), Vec::<String>::new());
    fx.run_ok(&["delete", "--force", &fx.id]);
    // Killed between the temp's link and the rename over an existing pid
    // file (the only window a temp exists): the next writer removes it.
    fs::write(&pidfile, "1").unwrap();
    let out = crashing(
        &fx,
        "pidfile:before-rename",
        &[
            "create",
            "--pid-file",
            pf,
            "--bundle",
            fx.bundle_str(),
            &fx.id,
        ],
    );
    assert!(killed(&out), "husk did not stop:\n{}", describe(&out));
    fx.run_ok(&["delete", "--force", &fx.id]);
    let left = other_files(&piddir, "pid");
    assert_eq!(left.len(), 1, "expected the dead writer's temp: {left:?}");
    // A temp of a writer that is alive (holds its lock) is not touched.
    let live = piddir.join(".pid.999999999");
    fs::write(&live, "x").unwrap();
    let locker = Helper::spawn(&["flock", live.to_str().unwrap(), "sleep", "60"]);
    let held = wait_until(STATE_TIMEOUT, || {
        Command::new("flock")
            .args(["-n", live.to_str().unwrap(), "true"])
            .status()
            .is_ok_and(|s| !s.success())
    });
    assert!(held, "flock(1) did not take the lock");
    fx.run_ok(&[
        "create",
        "--pid-file",
        pf,
        "--bundle",
        fx.bundle_str(),
        &fx.id,
    ]);
    let pid = fx.state()["pid"].as_i64().unwrap();
    assert_eq!(fs::read_to_string(&pidfile).unwrap(), pid.to_string());
    assert_eq!(
        other_files(&piddir, "pid"),
        vec![".pid.999999999".to_string()]
    );
    drop(locker);
    fs::remove_file(&live).unwrap();
    fx.run_ok(&["delete", "--force", &fx.id]);
    assert_all_gone(&fx, "pid file");
}

// ---------------------------------------------------------------------------
// 4. Hooks and a state bigger than a pipe

/// Processes whose environment holds `marker`.
fn processes_with_env(marker: &str) -> Vec<i32> {
    let mut v = Vec::new();
    for e in fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        if let Ok(env) = fs::read(e.path().join("environ")) {
            if env.split(|b| *b == 0).any(|kv| kv == marker.as_bytes()) && process_alive(pid) {
                v.push(pid);
            }
        }
    }
    v
}

/// Kills (by pid) the processes we started as hooks, marked by `marker`.
struct HookReaper(String);

impl Drop for HookReaper {
    fn drop(&mut self) {
        for p in processes_with_env(&self.0) {
            // SAFETY: plain syscall on a hook process this test started.
            unsafe { libc::kill(p, libc::SIGKILL) };
        }
    }
}

/// A fixture with one createRuntime hook running `script`, and a state
/// JSON of more than 256 KiB (a pipe holds 64 KiB).
fn big_state_hook(name: &str, script: &str, timeout: Option<i64>) -> (Fixture, HookReaper) {
    let fx = Fixture::new(name);
    fx.set_args(&["sleep", "1000"]);
    let marker = format!("HUSK_TEST_HOOK={}", fx.id);
    let mut hook = json!({
        "path": "/bin/sh",
        "args": ["sh", "-c", script],
        "env": ["PATH=/usr/bin:/bin", marker.clone()],
    });
    if let Some(t) = timeout {
        hook["timeout"] = json!(t);
    }
    fx.config_mut()["hooks"] = json!({ "createRuntime": [hook] });
    fx.config_mut()["annotations"] = json!({ "big": "x".repeat(256 * 1024) });
    (fx, HookReaper(marker))
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn hook_timeout_covers_writing_the_state() {
    if !require_root() {
        return;
    }
    let (fx, reaper) = big_state_hook("hook-bigstate", "exec sleep 1000", Some(2));
    let t = Instant::now();
    let out = fx.husk(&["create", "--bundle", fx.bundle_str(), &fx.id]);
    let took = t.elapsed();
    assert!(!out.status.success(), "{}", describe(&out));
    assert!(took < Duration::from_secs(15), "create took {took:?}");
    if is_husk() {
        assert_clean_error(&out);
        assert!(
            stderr_str(&out).contains("timed out after 2s"),
            "{}",
            describe(&out)
        );
    }
    let gone = wait_until(Duration::from_secs(3), || {
        processes_with_env(&reaper.0).is_empty()
    });
    assert!(gone, "the hook survived its timeout");
    assert_all_gone(&fx, "hook timeout");
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn hook_that_never_reads_its_state_does_not_hang_husk() {
    if !require_root() {
        return;
    }
    // Exits at once without reading: EPIPE, not SIGPIPE, and no hang.
    let (fx, _reaper) = big_state_hook("hook-noread", "exit 0", None);
    fx.create();
    fx.run_ok(&["delete", "--force", &fx.id]);
    assert_all_gone(&fx, "hook exits without reading");
    // runc 1.1.5 waits until nobody holds the hook's stdin (or stdout) open.
    if !is_husk() {
        return;
    }
    // Exits, leaving a child that holds its stdin open and never reads.
    let (fx, reaper) = big_state_hook(
        "hook-noread-bg",
        "exec 3<&0; sleep 1000 <&3 3<&- >/dev/null 2>&1 & exit 0",
        None,
    );
    let t = Instant::now();
    fx.create();
    assert!(t.elapsed() < Duration::from_secs(15));
    fx.run_ok(&["delete", "--force", &fx.id]);
    drop(reaper);
    assert_all_gone(&fx, "hook leaves a child holding stdin");
}

// ---------------------------------------------------------------------------
// 5. A create that fails at any step

/// The steps of create at which HUSK_FAIL_AT makes husk fail (debug
/// builds): the parent's, then the init's.
const FAIL_POINTS: [&str; 13] = [
    "create:before-clone",
    "create:after-clone",
    "create:after-cgroup",
    "create:after-resources",
    "hook:createRuntime",
    "create:after-mounts",
    "create:before-save",
    "create:after-save",
    "create:after-pidfile",
    "init:devices",
    "hook:createContainer",
    "init:sysctl",
    "init:setup",
];

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn create_failing_at_each_step_leaves_nothing() {
    if !require_root() || !is_husk() {
        return;
    }
    let before = host_mounts();
    for point in FAIL_POINTS {
        let fx = Fixture::new(&format!("fail-{}", point.replace([':', '-'], "")));
        fx.set_args(&["sleep", "1000"]);
        fx.config_mut()["linux"]["sysctl"] = json!({"net.ipv4.ip_forward": "1"});
        fx.config_mut()["hooks"] = json!({
            "createRuntime": [{"path": "/bin/true"}],
            "createContainer": [{"path": "/bin/true"}],
        });
        fx.bind_host_dir("data", "/data");
        fx.write_config();
        let piddir: PathBuf = fx.host_dir("pid");
        let pidfile = piddir.join("pid");
        let logs = fx.dir.join("logs");
        fs::create_dir_all(&logs).unwrap();
        let mut cmd = Command::new(runtime());
        cmd.arg("--root")
            .arg(fx.root_str())
            .args(["create", "--pid-file", pidfile.to_str().unwrap()])
            .args(["--bundle", fx.bundle_str(), &fx.id])
            .env("HUSK_FAIL_AT", point);
        let out = run_with_timeout(
            cmd,
            &logs.join("fail.out"),
            &logs.join("fail.err"),
            COMMAND_TIMEOUT,
        );
        assert_clean_error(&out);
        assert!(
            stderr_str(&out).contains(point),
            "{point}: the error does not name the step:\n{}",
            describe(&out)
        );
        assert_all_gone(&fx, point);
        assert_eq!(
            other_files(&piddir, ""),
            Vec::<String>::new(),
            "{point}: left beside the pid file"
        );
        let st = fx.husk(&["state", &fx.id]);
        assert!(!st.status.success(), "{point}: {}", describe(&st));
        assert_eq!(host_mounts(), before, "{point}: host mounts changed");
        // The same id can be created right away.
        fx.set_args(&["true"]);
        let out = fx.run_container();
        assert!(out.status.success(), "{point}: {}", describe(&out));
        assert_all_gone(&fx, point);
    }
}
