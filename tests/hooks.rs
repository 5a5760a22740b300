//! OCI hooks: prestart, createRuntime, createContainer, startContainer,
//! poststart, poststop. Every hook records what it got (state on stdin,
//! args, env, namespaces) into a host directory that the container also
//! sees at /out, and appends its name to /out/order.
//!
//! Host-side hooks are the host's /bin/sh (no busybox); startContainer's
//! path is resolved in the container, so it is a busybox script in the
//! rootfs (`/hook.sh`, which does not exist on the host).

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::*;
use serde_json::{json, Value};

const HOST_HOOKS: [&str; 5] = [
    "prestart",
    "createRuntime",
    "createContainer",
    "poststart",
    "poststop",
];

/// The recording script: `$HOOK_NAME` is the hook's name, `$1` the
/// directory.
const RECORD: &str = r#"n=$HOOK_NAME; d=$1; cat > "$d/$n.json"; echo "$n" >> "$d/order"; env > "$d/$n.env"; printf '%s\n' "$0" "$@" > "$d/$n.args"; for x in mnt uts pid net; do echo "$x $(readlink /proc/self/ns/$x)"; done > "$d/$n.ns"; cat /proc/sys/kernel/hostname > "$d/$n.hostname"; pwd > "$d/$n.cwd""#;

struct Hooked {
    fx: Fixture,
    /// Host directory, /out in the container.
    out: PathBuf,
}

/// A hook running RECORD with the host's /bin/sh.
fn host_hook(name: &str, dir: &Path) -> Value {
    json!({
        "path": "/bin/sh",
        "args": ["sh", "-c", RECORD, name, dir.to_str().unwrap(), "arg two"],
        "env": ["PATH=/usr/bin:/bin", format!("HOOK_NAME={name}"), "HOOK_VAR=a b=c"],
    })
}

/// A fixture whose config has all six hooks recording into `out`.
fn hooked(name: &str) -> Hooked {
    let fx = Fixture::new(name);
    let out = fx.bind_host_dir("out", "/out");
    // startContainer: a busybox script in the rootfs, writing to /out.
    fs::write(fx.rootfs.join("hook.sh"), format!("#!/bin/sh\n{RECORD}\n")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(fx.rootfs.join("hook.sh"), fs::Permissions::from_mode(0o755)).unwrap();
    let mut hooks = serde_json::Map::new();
    for h in HOST_HOOKS {
        hooks.insert(h.to_string(), json!([host_hook(h, &out)]));
    }
    hooks.insert(
        "startContainer".to_string(),
        json!([{
            "path": "/hook.sh",
            "args": ["startContainer", "/out", "arg two"],
            "env": ["PATH=/bin", "HOOK_NAME=startContainer", "HOOK_VAR=a b=c"],
        }]),
    );
    fx.config_mut()["hooks"] = Value::Object(hooks);
    fx.set_args(&["sleep", "1000"]);
    Hooked { fx, out }
}

impl Hooked {
    fn order(&self) -> Vec<String> {
        fs::read_to_string(self.out.join("order"))
            .unwrap_or_default()
            .lines()
            .map(String::from)
            .collect()
    }

    fn state(&self, hook: &str) -> Value {
        let p = self.out.join(format!("{hook}.json"));
        let text = fs::read_to_string(&p)
            .unwrap_or_else(|e| panic!("{hook} did not record its stdin ({e})"));
        serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{hook}: stdin is not JSON ({e}): {text:?}"))
    }

    fn read(&self, hook: &str, what: &str) -> String {
        fs::read_to_string(self.out.join(format!("{hook}.{what}"))).unwrap_or_default()
    }

    fn ns(&self, hook: &str, ns: &str) -> String {
        self.read(hook, "ns")
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{ns} ")).map(String::from))
            .unwrap_or_default()
    }
}

fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn all_hooks_run_in_order_with_the_state() {
    if !require_root() {
        return;
    }
    let h = hooked("hooks-all");
    let fx = &h.fx;
    fx.create();
    let st = fx.state();
    let pid = st["pid"].as_i64().unwrap();
    let mut bad_status: Vec<String> = Vec::new();
    let order = h.order();
    // runc 1.1.5 runs poststart during create; the spec says after start.
    if is_husk() {
        assert_eq!(
            order,
            strs(&["prestart", "createRuntime", "createContainer"]),
            "hooks run by create"
        );
    } else {
        assert_eq!(
            &order[..3],
            strs(&["prestart", "createRuntime", "createContainer"]),
            "hooks run by create"
        );
    }
    // The runtime environment exists (after step 2 of the spec's
    // lifecycle): "created" (as crun); runc 1.1.5 says "creating".
    let want = if is_husk() { "created" } else { "creating" };
    for hook in ["prestart", "createRuntime", "createContainer"] {
        let s = h.state(hook);
        assert_eq!(s["id"], fx.id.as_str(), "{hook}: {s}");
        // Checked at the end, so that the order is checked too.
        if s["status"] != want {
            bad_status.push(format!("{hook}: status {} (want {want}): {s}", s["status"]));
        }
        // runc 1.1.5 passes the pid in the container's pid namespace (1)
        // to createContainer; the spec wants the host's view.
        if is_husk() || hook != "createContainer" {
            assert_eq!(s["pid"].as_i64(), Some(pid), "{hook}: {s}");
        }
        assert_eq!(s["bundle"], fx.bundle_str(), "{hook}: {s}");
        assert!(
            s["ociVersion"]
                .as_str()
                .is_some_and(|v| v.starts_with("1.")),
            "{hook}: {s}"
        );
    }
    assert!(
        !h.out.join("startContainer.json").exists(),
        "startContainer ran in create"
    );

    fx.run_ok(&["start", &fx.id]);
    let order = h.order();
    assert_eq!(
        order,
        strs(&[
            "prestart",
            "createRuntime",
            "createContainer",
            "poststart",
            "startContainer",
        ])
        .into_iter()
        .filter(|n| !is_husk() || n != "poststart")
        .chain(is_husk().then(|| "poststart".to_string()))
        .collect::<Vec<_>>(),
        "hooks after start"
    );
    let s = h.state("startContainer");
    assert_eq!(s["id"], fx.id.as_str(), "startContainer: {s}");
    if s["status"] != "created" {
        bad_status.push(format!(
            "startContainer: status {} (want created): {s}",
            s["status"]
        ));
    }
    // runc 1.1.5: pid 1 (the container's view).
    if is_husk() {
        assert_eq!(s["pid"].as_i64(), Some(pid), "startContainer: {s}");
    }
    let s = h.state("poststart");
    assert_eq!(s["id"], fx.id.as_str(), "poststart: {s}");
    assert_eq!(s["pid"].as_i64(), Some(pid), "poststart: {s}");
    if is_husk() {
        // runc passes "created" (it runs poststart before the process starts).
        assert_eq!(s["status"], "running", "poststart: {s}");
    }

    fx.run_ok(&["kill", &fx.id, "KILL"]);
    fx.wait_status(&fx.id, "stopped");
    assert!(
        !h.out.join("poststop.json").exists(),
        "poststop ran before delete"
    );
    fx.run_ok(&["delete", &fx.id]);
    assert_eq!(h.order().last().map(String::as_str), Some("poststop"));
    let s = h.state("poststop");
    assert_eq!(s["id"], fx.id.as_str(), "poststop: {s}");
    assert_eq!(s["status"], "stopped", "poststop: {s}");
    assert_eq!(s["bundle"], fx.bundle_str(), "poststop: {s}");
    assert_nothing_left(fx, &fx.id);
    assert!(bad_status.is_empty(), "{bad_status:#?}");
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn hooks_run_by_run_in_order() {
    if !require_root() {
        return;
    }
    let h = hooked("hooks-run");
    h.fx.set_sh("echo ran >> /out/order");
    let out = h.fx.run_container();
    assert!(out.status.success(), "{}", describe(&out));
    let order = h.order();
    let mut no_ran = order.clone();
    no_ran.retain(|n| n != "ran");
    let want = if is_husk() {
        strs(&[
            "prestart",
            "createRuntime",
            "createContainer",
            "startContainer",
            "poststart",
            "poststop",
        ])
    } else {
        no_ran.clone()
    };
    assert_eq!(no_ran, want, "{order:?}");
    let ran = order.iter().position(|n| n == "ran").expect("process ran");
    let sc = order.iter().position(|n| n == "startContainer").unwrap();
    let ps = order.iter().position(|n| n == "poststop").unwrap();
    assert!(sc < ran && ran < ps, "{order:?}");
    assert_nothing_left(&h.fx, &h.fx.id);
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn hooks_get_their_args_and_env() {
    if !require_root() {
        return;
    }
    let h = hooked("hooks-args");
    let fx = &h.fx;
    fx.create();
    fx.run_ok(&["start", &fx.id]);
    for hook in [
        "createRuntime",
        "createContainer",
        "prestart",
        "startContainer",
    ] {
        // The startContainer hook is a script: its $0 is its path.
        let want = if hook == "startContainer" {
            "/hook.sh\n/out\narg two\n".to_string()
        } else {
            format!("{hook}\n{}\narg two\n", h.out.display())
        };
        assert_eq!(h.read(hook, "args"), want, "{hook}: args");
        let env = h.read(hook, "env");
        let vars: Vec<&str> = env.lines().collect();
        assert!(
            vars.contains(&format!("HOOK_NAME={hook}").as_str()),
            "{hook}: {env}"
        );
        assert!(vars.contains(&"HOOK_VAR=a b=c"), "{hook}: {env}");
        // Only the hook's env: nothing of the runtime's own environment.
        for leak in ["CARGO", "RUST_TEST_THREADS", "HOME=/root"] {
            assert!(
                !vars.iter().any(|v| v.starts_with(leak)),
                "{hook}: the runtime's environment leaked ({leak}): {env}"
            );
        }
    }
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn hooks_run_in_the_right_namespaces() {
    if !require_root() {
        return;
    }
    let h = hooked("hooks-ns");
    let fx = &h.fx;
    fx.create();
    let pid = fx.state()["pid"].as_i64().unwrap();
    let init_ns = |ns: &str| {
        fs::read_link(format!("/proc/{pid}/ns/{ns}"))
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    // createRuntime and prestart: the runtime's namespaces.
    for hook in ["createRuntime", "prestart"] {
        for ns in ["mnt", "uts", "net"] {
            assert_eq!(h.ns(hook, ns), host_ns(ns), "{hook} {ns}");
        }
    }
    // createContainer: path resolved on the host (/bin/sh is the host's
    // shell), executed in the container's namespaces.
    for ns in ["mnt", "uts", "net"] {
        assert_eq!(
            h.ns("createContainer", ns),
            init_ns(ns),
            "createContainer {ns}"
        );
    }
    fx.run_ok(&["start", &fx.id]);
    // startContainer: in the container, /hook.sh from the rootfs.
    for ns in ["mnt", "uts", "net", "pid"] {
        assert_eq!(
            h.ns("startContainer", ns),
            init_ns(ns),
            "startContainer {ns}"
        );
    }
    assert_eq!(h.read("startContainer", "hostname"), "husk\n");
    // poststart: the runtime's namespaces.
    for ns in ["mnt", "uts", "net"] {
        assert_eq!(h.ns("poststart", ns), host_ns(ns), "poststart {ns}");
    }
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn hooks_run_in_the_bundle_or_the_rootfs() {
    if !require_root() {
        return;
    }
    let h = hooked("hooks-cwd");
    let fx = &h.fx;
    fx.create();
    // prestart and createRuntime: the bundle, whatever the caller's cwd
    // (the tests run in the crate's directory).
    for hook in ["prestart", "createRuntime"] {
        assert_eq!(h.read(hook, "cwd").trim_end(), fx.bundle_str(), "{hook}");
    }
    // createContainer: the rootfs, as the host names it (before pivot_root).
    assert_eq!(
        h.read("createContainer", "cwd").trim_end(),
        fx.rootfs.to_str().unwrap(),
        "createContainer"
    );
    fx.run_ok(&["start", &fx.id]);
    // startContainer: the container's process.cwd.
    assert_eq!(h.read("startContainer", "cwd").trim_end(), "/");
}

/// Poststart must not run during create (runc 1.1.5 does; the spec and
/// husk run it after start).
#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn poststart_runs_after_start_not_during_create() {
    if !require_root() || !is_husk() {
        return;
    }
    let h = hooked("hooks-poststart");
    let fx = &h.fx;
    fx.create();
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        !h.order().contains(&"poststart".to_string()),
        "{:?}",
        h.order()
    );
    fx.run_ok(&["start", &fx.id]);
    assert!(
        h.order().contains(&"poststart".to_string()),
        "{:?}",
        h.order()
    );
}

/// A fixture with only one hook of kind `kind`, running `script` with the
/// host's /bin/sh (or, for startContainer, busybox sh in the container).
fn single_hook(name: &str, kind: &str, script: &str, timeout: Option<i64>) -> Fixture {
    let fx = Fixture::new(name);
    fx.set_args(&["sleep", "1000"]);
    let mut hook = json!({
        "path": "/bin/sh",
        "args": ["sh", "-c", script],
        "env": ["PATH=/usr/bin:/bin", format!("HUSK_TEST_HOOK={}", fx.id)],
    });
    if let Some(t) = timeout {
        hook["timeout"] = json!(t);
    }
    fx.config_mut()["hooks"] = json!({ kind: [hook] });
    fx
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn failing_create_hooks_fail_create_and_leave_nothing() {
    if !require_root() {
        return;
    }
    for kind in ["prestart", "createRuntime", "createContainer"] {
        let fx = single_hook(
            &format!("hookfail-{kind}"),
            kind,
            "echo hook-says-no >&2; exit 3",
            None,
        );
        let log = fx.dir.join("log.json");
        let out = fx.husk(&[
            "--log",
            log.to_str().unwrap(),
            "--log-format",
            "json",
            "create",
            "--bundle",
            fx.bundle_str(),
            &fx.id,
        ]);
        assert_clean_error(&out);
        assert_nothing_left(&fx, &fx.id);
        // The error reaches the log the shim reads.
        let text = fs::read_to_string(&log).unwrap_or_default();
        let last_error = text
            .lines()
            .rev()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .find(|v| v["level"] == "error")
            .unwrap_or_else(|| panic!("{kind}: no error line in the log:\n{text}"));
        let msg = last_error["msg"].as_str().unwrap_or_default();
        // runc 1.1.5: "error running hook #0: exit status 3, stdout: , stderr: hook-says-no"
        assert!(msg.contains("hook"), "{kind}: {msg}");
        if is_husk() {
            assert!(
                msg.contains(kind),
                "{kind}: the error does not name the hook: {msg}"
            );
        }
        let st = fx.husk(&["state", &fx.id]);
        assert!(!st.status.success(), "{kind}: {}", describe(&st));
        // run too.
        let out = fx.run_container();
        assert_clean_error(&out);
        assert_nothing_left(&fx, &fx.id);
    }
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn failing_start_container_hook_fails_start() {
    if !require_root() {
        return;
    }
    let fx = single_hook("hookfail-startc", "startContainer", "exit 3", None);
    let out_dir = fx.bind_host_dir("out", "/out");
    fx.set_sh("touch /out/ran; exec sleep 1000");
    fx.create();
    let pid = fx.state()["pid"].as_i64().unwrap() as i32;
    let out = fx.husk(&["start", &fx.id]);
    // The spec: "the runtime MUST generate an error, stop the container".
    // runc 1.1.5 runs the hook in its init after `start` has returned 0.
    let ran = out_dir.join("ran").exists();
    if is_husk() {
        assert!(!ran, "the process ran although startContainer failed");
        assert_clean_error(&out);
    }
    assert!(
        wait_until(STATE_TIMEOUT, || !process_alive(pid)),
        "init {pid} still alive after startContainer failed"
    );
    assert!(!out_dir.join("ran").exists(), "the process ran");
    let st = fx.husk(&["state", &fx.id]);
    if st.status.success() {
        assert!(stdout_str(&st).contains("\"stopped\""), "{}", describe(&st));
        fx.run_ok(&["delete", &fx.id]);
    }
    assert_nothing_left(&fx, &fx.id);
}

/// A fixture with two hooks of kind `kind`: one that fails, then one that
/// writes `ran` into the returned host directory.
fn failing_then_ok(name: &str, kind: &str) -> (Fixture, PathBuf) {
    let fx = single_hook(name, kind, "echo hook-says-no >&2; exit 3", None);
    let out = fx.host_dir("out");
    let ok = json!({
        "path": "/bin/sh",
        "args": ["sh", "-c", format!("echo ran >> {}/ran", out.display())],
    });
    fx.config_mut()["hooks"][kind]
        .as_array_mut()
        .unwrap()
        .push(ok);
    (fx, out)
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn failing_poststart_hook_is_only_logged() {
    // runc 1.1.5 kills the container and fails when poststart fails; the
    // spec says to warn, run the remaining hooks and go on.
    if !require_root() || !is_husk() {
        return;
    }
    let (fx, out_dir) = failing_then_ok("hookfail-poststart", "poststart");
    fx.create();
    let out = fx.husk(&["start", &fx.id]);
    assert!(out.status.success(), "{}", describe(&out));
    let err = stderr_str(&out);
    assert!(
        err.contains("level=warning")
            && err.contains("poststart hook #0")
            && err.contains("hook-says-no"),
        "{}",
        describe(&out)
    );
    assert_eq!(
        fs::read_to_string(out_dir.join("ran")).unwrap_or_default(),
        "ran\n"
    );
    assert_eq!(fx.status_of(&fx.id), "running");
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn failing_poststop_hook_is_only_logged() {
    // runc 1.1.5 stops at the first failing poststop hook and fails
    // `delete`; the spec says to warn and run the remaining hooks.
    if !require_root() || !is_husk() {
        return;
    }
    let (fx, out_dir) = failing_then_ok("hookfail-poststop", "poststop");
    fx.create();
    fx.run_ok(&["start", &fx.id]);
    fx.run_ok(&["kill", &fx.id, "KILL"]);
    fx.wait_status(&fx.id, "stopped");
    let out = fx.husk(&["delete", &fx.id]);
    assert!(out.status.success(), "{}", describe(&out));
    let err = stderr_str(&out);
    assert!(
        err.contains("level=warning") && err.contains("poststop hook #0"),
        "{}",
        describe(&out)
    );
    assert_eq!(
        fs::read_to_string(out_dir.join("ran")).unwrap_or_default(),
        "ran\n"
    );
    assert_nothing_left(&fx, &fx.id);
}

/// Processes (other than ours) whose environment holds `marker`.
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

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn hook_timeout_kills_the_hook_and_fails_create() {
    if !require_root() {
        return;
    }
    for kind in ["createRuntime", "prestart"] {
        let fx = single_hook(
            &format!("hooktimeout-{kind}"),
            kind,
            "exec sleep 60",
            Some(1),
        );
        let marker = format!("HUSK_TEST_HOOK={}", fx.id);
        let t = Instant::now();
        let out = fx.husk(&["create", "--bundle", fx.bundle_str(), &fx.id]);
        let took = t.elapsed();
        assert_clean_error(&out);
        assert!(
            took < Duration::from_secs(10),
            "{kind}: create took {took:?}"
        );
        assert_nothing_left(&fx, &fx.id);
        let mut left = Vec::new();
        let gone = wait_until(Duration::from_secs(3), || {
            left = processes_with_env(&marker);
            left.is_empty()
        });
        for p in &left {
            // SAFETY: plain syscall on the hook we started.
            unsafe { libc::kill(*p, libc::SIGKILL) };
        }
        assert!(gone, "{kind}: the hanging hook survived: {left:?}");
    }
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn missing_hook_binary_fails_cleanly() {
    if !require_root() {
        return;
    }
    for kind in ["prestart", "createRuntime", "createContainer"] {
        let fx = Fixture::new(&format!("hookmissing-{kind}"));
        fx.set_args(&["sleep", "1000"]);
        fx.config_mut()["hooks"] = json!({ kind: [{"path": "/no/such/hook-binary"}] });
        let out = fx.husk(&["create", "--bundle", fx.bundle_str(), &fx.id]);
        assert_clean_error(&out);
        if is_husk() {
            assert!(
                stderr_str(&out).contains("/no/such/hook-binary"),
                "{kind}: the error does not name the hook:\n{}",
                describe(&out)
            );
        }
        assert_nothing_left(&fx, &fx.id);
    }
}
