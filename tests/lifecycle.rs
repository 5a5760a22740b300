//! Container lifecycle: run, create/start/state/kill/delete, list, spec, and
//! the command-line conventions runc users rely on.

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::time::Duration;

use common::*;
use serde_json::Value;

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn run_prints_output_and_returns_exit_code() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("run-exit");
    fx.set_sh("echo hi; exit 3");
    let out = fx.run_container();
    assert_eq!(out.status.code(), Some(3), "{}", describe(&out));
    assert_eq!(stdout_str(&out), "hi\n", "{}", describe(&out));
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn run_returns_zero_and_passes_stderr_through() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("run-zero");
    fx.set_sh("echo to-out; echo to-err >&2");
    let out = fx.run_container();
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert_eq!(stdout_str(&out), "to-out\n");
    assert!(stderr_str(&out).contains("to-err"), "{}", describe(&out));
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn run_removes_the_container_after_it_exits() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("run-cleanup");
    fx.set_args(&["true"]);
    let out = fx.run_container();
    assert!(out.status.success(), "{}", describe(&out));
    let st = fx.husk(&["state", &fx.id]);
    assert!(!st.status.success(), "state after run: {}", describe(&st));
    assert_nothing_left(&fx, &fx.id);
}

/// The whole create → start → kill → delete cycle, with the state at each
/// step.
#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn create_start_kill_delete_cycle() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("cycle");
    let out_dir = fx.bind_host_dir("out", "/out");
    let started = out_dir.join("started");
    fx.set_sh("touch /out/started; exec sleep 1000");
    fx.create();

    // created: the init process exists but the user process has not run.
    let st = fx.state();
    assert_eq!(st["status"], "created", "{st}");
    let pid = st["pid"].as_i64().expect("pid is a number");
    assert!(pid > 0, "{st}");
    assert!(
        process_alive(pid as i32),
        "init process {pid} of a created container is not alive"
    );
    std::thread::sleep(Duration::from_millis(300));
    assert!(!started.exists(), "the process ran before start");

    fx.run_ok(&["start", &fx.id]);
    assert!(
        wait_until(STATE_TIMEOUT, || started.exists()),
        "the process did not run after start"
    );
    let st = fx.state();
    assert_eq!(st["status"], "running", "{st}");
    assert_eq!(st["pid"].as_i64(), Some(pid), "pid changed on start: {st}");

    fx.run_ok(&["kill", &fx.id, "KILL"]);
    fx.wait_status(&fx.id, "stopped");
    assert!(
        wait_until(STATE_TIMEOUT, || !process_alive(pid as i32)),
        "process {pid} still alive after kill"
    );

    fx.run_ok(&["delete", &fx.id]);
    let out = fx.husk(&["state", &fx.id]);
    assert!(
        !out.status.success(),
        "state after delete: {}",
        describe(&out)
    );
    assert_nothing_left(&fx, &fx.id);
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn state_has_the_oci_fields() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("state-json");
    fx.set_args(&["sleep", "1000"]);
    fx.create();
    let st = fx.state();
    let obj = st.as_object().expect("state is a JSON object");
    for key in [
        "ociVersion",
        "id",
        "pid",
        "status",
        "bundle",
        "rootfs",
        "created",
    ] {
        assert!(obj.contains_key(key), "state has no {key}: {st}");
    }
    assert!(
        st["ociVersion"].as_str().is_some_and(|v| !v.is_empty()),
        "{st}"
    );
    assert_eq!(st["id"], fx.id.as_str());
    assert!(st["pid"].as_i64().is_some_and(|p| p > 0), "{st}");
    assert_eq!(st["status"], "created");
    assert_eq!(st["bundle"], fx.bundle_str(), "{st}");
    assert_eq!(st["rootfs"], fx.rootfs.to_str().unwrap(), "{st}");
    assert!(
        st["created"].as_str().is_some_and(|v| !v.is_empty()),
        "{st}"
    );
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn state_bundle_is_absolute_when_given_relative() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("state-relbundle");
    fx.set_args(&["sleep", "1000"]);
    let out = fx.husk_in(
        Some(&fx.dir),
        &[
            "--root",
            fx.root_str(),
            "create",
            "--bundle",
            "bundle",
            &fx.id,
        ],
    );
    assert!(out.status.success(), "{}", describe(&out));
    let st = fx.state();
    assert_eq!(st["bundle"], fx.bundle_str(), "{st}");
    assert_eq!(st["rootfs"], fx.rootfs.to_str().unwrap(), "{st}");
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn created_container_writes_to_the_stdio_of_create() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("create-stdio");
    fx.set_sh("echo hello-from-init; echo oops >&2");
    fx.create();
    let (out, err) = fx.last_logs();
    fx.run_ok(&["start", &fx.id]);
    fx.wait_status(&fx.id, "stopped");
    assert!(
        wait_until(STATE_TIMEOUT, || fs::read_to_string(&out)
            .unwrap_or_default()
            == "hello-from-init\n"),
        "stdout of create: {:?}",
        fs::read_to_string(&out)
    );
    assert!(fs::read_to_string(&err)
        .unwrap_or_default()
        .contains("oops"));
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn start_runs_the_process_and_stopped_after_exit() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("start-exit");
    fx.set_args(&["true"]);
    fx.create();
    assert_eq!(fx.status_of(&fx.id), "created");
    fx.run_ok(&["start", &fx.id]);
    fx.wait_status(&fx.id, "stopped");
    fx.run_ok(&["delete", &fx.id]);
    assert_nothing_left(&fx, &fx.id);
}

fn kill_running_with(name: &str, signal: &str) {
    if !require_root() {
        return;
    }
    let fx = Fixture::new(name);
    let pid = fx.start_sleeper();
    fx.run_ok(&["kill", &fx.id, signal]);
    fx.wait_status(&fx.id, "stopped");
    assert!(
        wait_until(STATE_TIMEOUT, || !process_alive(pid)),
        "pid {pid} survived"
    );
    fx.run_ok(&["delete", &fx.id]);
    assert_nothing_left(&fx, &fx.id);
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn kill_with_signal_name_kill() {
    kill_running_with("kill-name", "KILL");
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn kill_with_signal_name_sigkill() {
    kill_running_with("kill-signame", "SIGKILL");
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn kill_with_signal_number_9() {
    kill_running_with("kill-num", "9");
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn kill_without_signal_sends_term() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("kill-term");
    let out_dir = fx.bind_host_dir("out", "/out");
    // pid 1 ignores signals it has no handler for: install one for TERM.
    fx.set_sh(
        "trap 'echo TERM > /out/signal; exit 0' TERM; touch /out/ready; \
         while :; do sleep 0.05; done",
    );
    fx.create();
    fx.run_ok(&["start", &fx.id]);
    assert!(
        wait_until(STATE_TIMEOUT, || out_dir.join("ready").exists()),
        "not ready"
    );
    fx.run_ok(&["kill", &fx.id]);
    fx.wait_status(&fx.id, "stopped");
    assert_eq!(
        fs::read_to_string(out_dir.join("signal")).unwrap_or_default(),
        "TERM\n"
    );
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn kill_with_sigusr1_is_delivered() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("kill-usr1");
    let out_dir = fx.bind_host_dir("out", "/out");
    fx.set_sh(
        "trap 'echo USR1 > /out/signal; exit 0' USR1; touch /out/ready; \
         while :; do sleep 0.05; done",
    );
    fx.create();
    fx.run_ok(&["start", &fx.id]);
    assert!(
        wait_until(STATE_TIMEOUT, || out_dir.join("ready").exists()),
        "not ready"
    );
    fx.run_ok(&["kill", &fx.id, "SIGUSR1"]);
    fx.wait_status(&fx.id, "stopped");
    assert_eq!(
        fs::read_to_string(out_dir.join("signal")).unwrap_or_default(),
        "USR1\n"
    );
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn kill_with_signal_0_and_a_realtime_signal_number() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("kill-rt");
    let out_dir = fx.bind_host_dir("out", "/out");
    fx.set_sh(
        "trap 'echo RT37 > /out/signal; exit 0' 37; touch /out/ready; \
         while :; do sleep 0.05; done",
    );
    fx.create();
    fx.run_ok(&["start", &fx.id]);
    assert!(
        wait_until(STATE_TIMEOUT, || out_dir.join("ready").exists()),
        "not ready"
    );
    // Signal 0 only checks that the init is there (kill(2)).
    fx.run_ok(&["kill", &fx.id, "0"]);
    assert_eq!(fx.status_of(&fx.id), "running");
    assert!(!out_dir.join("signal").exists());
    // SIGRTMIN+3 by number, as runc takes any number.
    fx.run_ok(&["kill", &fx.id, "37"]);
    fx.wait_status(&fx.id, "stopped");
    assert_eq!(
        fs::read_to_string(out_dir.join("signal")).unwrap_or_default(),
        "RT37\n"
    );
    // Stopped: signal 0 is refused like any other.
    let out = fx.husk(&["kill", &fx.id, "0"]);
    assert_clean_error(&out);
    assert!(
        stderr_str(&out).contains("not running"),
        "{}",
        describe(&out)
    );
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn kill_of_a_created_container_stops_it() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("kill-created");
    fx.set_args(&["sleep", "1000"]);
    fx.create();
    fx.run_ok(&["kill", &fx.id, "KILL"]);
    fx.wait_status(&fx.id, "stopped");
    fx.run_ok(&["delete", &fx.id]);
    assert_nothing_left(&fx, &fx.id);
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn pid_file_holds_the_init_pid() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("pidfile");
    fx.set_args(&["sleep", "1000"]);
    let pid_file = fx.dir.join("container.pid");
    fx.run_ok(&[
        "create",
        "--bundle",
        fx.bundle_str(),
        "--pid-file",
        pid_file.to_str().unwrap(),
        &fx.id,
    ]);
    let text = fs::read_to_string(&pid_file).expect("pid file written");
    let pid: i64 = text
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("pid file holds {text:?}"));
    assert_eq!(fx.state()["pid"].as_i64(), Some(pid));
    // Only the number (runc writes no newline; allow one).
    assert!(
        text == pid.to_string() || text == format!("{pid}\n"),
        "pid file holds {text:?}"
    );
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn pid_file_with_run_detach() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("pidfile-run");
    fx.set_args(&["sleep", "1000"]);
    let pid_file = fx.dir.join("run.pid");
    let arg = format!("--pid-file={}", pid_file.display());
    fx.run_ok(&["run", "-d", "--bundle", fx.bundle_str(), &arg, &fx.id]);
    let text = fs::read_to_string(&pid_file).expect("pid file written");
    let pid: i64 = text
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("pid file holds {text:?}"));
    let st = fx.state();
    assert_eq!(st["pid"].as_i64(), Some(pid), "{st}");
    assert_eq!(st["status"], "running", "{st}");
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn list_shows_table_json_and_quiet() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("list");
    fx.set_args(&["sleep", "1000"]);
    let id2 = fx.new_id("two");
    fx.create();
    fx.set_cgroup_for(&id2);
    fx.create_id(&id2);
    let ids: BTreeSet<String> = [fx.id.clone(), id2.clone()].into();

    let table = fx.stdout_of(&["list"]);
    let mut lines = table.lines();
    let header = lines.next().unwrap_or_default();
    for col in ["ID", "PID", "STATUS", "BUNDLE", "CREATED"] {
        assert!(header.contains(col), "no {col} in the header: {table}");
    }
    for id in &ids {
        let row = table
            .lines()
            .find(|l| l.split_whitespace().next() == Some(id))
            .unwrap_or_else(|| panic!("{id} not listed:\n{table}"));
        assert!(row.contains("created"), "{row}");
        assert!(row.contains(fx.bundle_str()), "{row}");
    }

    let quiet = fx.stdout_of(&["list", "-q"]);
    let got: BTreeSet<String> = quiet.lines().map(String::from).collect();
    assert_eq!(got, ids, "list -q printed {quiet:?}");

    for args in [
        &["list", "--format", "json"][..],
        &["list", "-f", "json"],
        &["list", "--format=json"],
    ] {
        let out = fx.stdout_of(args);
        let v: Value = serde_json::from_str(&out)
            .unwrap_or_else(|e| panic!("{args:?} is not JSON ({e}): {out}"));
        let arr = v
            .as_array()
            .unwrap_or_else(|| panic!("{args:?} is not an array: {out}"));
        let got: BTreeSet<String> = arr
            .iter()
            .map(|c| c["id"].as_str().unwrap_or_default().to_string())
            .collect();
        assert_eq!(got, ids, "{out}");
        for c in arr {
            assert_eq!(c["status"], "created", "{c}");
            assert!(c["pid"].as_i64().is_some_and(|p| p > 0), "{c}");
            assert_eq!(c["bundle"], fx.bundle_str(), "{c}");
        }
    }
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn list_of_an_empty_root() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("list-empty");
    fs::create_dir_all(&fx.root).unwrap();
    let quiet = fx.stdout_of(&["list", "-q"]);
    assert_eq!(quiet.trim(), "", "list -q of an empty root");
    let table = fx.stdout_of(&["list"]);
    assert!(
        table.lines().next().unwrap_or_default().contains("ID"),
        "{table}"
    );
    assert_eq!(table.lines().count(), 1, "{table}");
    // runc prints `null` (Go's nil slice); crun an empty array.
    let json = fx.stdout_of(&["list", "--format", "json"]);
    let v: Value = serde_json::from_str(&json).unwrap_or_else(|e| panic!("not JSON ({e}): {json}"));
    if is_husk() {
        assert_eq!(json, "null\n", "as runc");
    }
    assert!(
        v.is_null() || v.as_array().is_some_and(|a| a.is_empty()),
        "{json}"
    );
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn run_detach_then_kill_and_delete() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("detach");
    fx.set_args(&["sleep", "1000"]);
    fx.run_ok(&["run", "--detach", "--bundle", fx.bundle_str(), &fx.id]);
    let st = fx.state();
    assert_eq!(st["status"], "running", "{st}");
    let pid = st["pid"].as_i64().unwrap() as i32;
    assert!(process_alive(pid));
    fx.run_ok(&["kill", &fx.id, "KILL"]);
    fx.wait_status(&fx.id, "stopped");
    fx.run_ok(&["delete", &fx.id]);
    assert_nothing_left(&fx, &fx.id);
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn run_detach_short_flag() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("detach-short");
    fx.set_args(&["sleep", "1000"]);
    fx.run_ok(&["run", "-d", "-b", fx.bundle_str(), &fx.id]);
    assert_eq!(fx.status_of(&fx.id), "running");
    fx.run_ok(&["delete", "-f", &fx.id]);
    assert_nothing_left(&fx, &fx.id);
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn delete_force_of_a_running_container() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("delete-force");
    let pid = fx.start_sleeper();
    fx.run_ok(&["delete", "--force", &fx.id]);
    let out = fx.husk(&["state", &fx.id]);
    assert!(
        !out.status.success(),
        "state after delete --force: {}",
        describe(&out)
    );
    assert!(
        wait_until(STATE_TIMEOUT, || !process_alive(pid)),
        "pid {pid} survived"
    );
    assert_nothing_left(&fx, &fx.id);
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn delete_force_of_a_created_container() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("delete-force-created");
    fx.set_args(&["sleep", "1000"]);
    fx.create();
    let pid = fx.state()["pid"].as_i64().unwrap() as i32;
    fx.run_ok(&["delete", "--force", &fx.id]);
    assert!(
        wait_until(STATE_TIMEOUT, || !process_alive(pid)),
        "pid {pid} survived"
    );
    assert_nothing_left(&fx, &fx.id);
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn delete_force_of_an_unknown_container_succeeds() {
    if !require_root() {
        return;
    }
    // runc: `delete --force` of a container that does not exist is not an
    // error (what orchestrators rely on for idempotent cleanup).
    let fx = Fixture::new("delete-force-unknown");
    fs::create_dir_all(&fx.root).unwrap();
    fx.run_ok(&["delete", "--force", "no-such-container"]);
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn go_style_single_dash_long_flags() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("single-dash");
    fx.set_sh("echo single");
    let out = fx.husk_raw(&[
        "-root",
        fx.root_str(),
        "run",
        "-bundle",
        fx.bundle_str(),
        &fx.id,
    ]);
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(stdout_str(&out), "single\n");
    assert!(!fx.state_dir(&fx.id).exists());
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn flags_with_equals_sign() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("equals");
    fx.set_sh("echo equals");
    let root = format!("--root={}", fx.root_str());
    let bundle = format!("--bundle={}", fx.bundle_str());
    let out = fx.husk_raw(&[&root, "run", &bundle, &fx.id]);
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(stdout_str(&out), "equals\n");

    // Single dash with '=' too.
    let root = format!("-root={}", fx.root_str());
    let bundle = format!("-bundle={}", fx.bundle_str());
    let out = fx.husk_raw(&[&root, "run", &bundle, &fx.id]);
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(stdout_str(&out), "equals\n");
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn bundle_defaults_to_the_current_directory() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("cwd-bundle");
    fx.set_sh("echo from-cwd");
    let out = fx.husk_in(Some(&fx.bundle), &["--root", fx.root_str(), "run", &fx.id]);
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(stdout_str(&out), "from-cwd\n");
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn spec_writes_a_config_and_refuses_to_overwrite_it() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("spec");
    let dir = fx.host_dir("spec");
    let out = fx.husk_in(Some(&dir), &["spec"]);
    assert!(out.status.success(), "{}", describe(&out));
    let path = dir.join("config.json");
    let text = fs::read_to_string(&path).expect("spec wrote config.json");
    let v: Value = serde_json::from_str(&text).expect("config.json is JSON");
    assert!(
        v["ociVersion"]
            .as_str()
            .is_some_and(|s| s.starts_with("1.")),
        "{v}"
    );
    assert_eq!(v["process"]["args"], serde_json::json!(["sh"]));
    assert_eq!(v["root"]["path"], "rootfs");
    let ns: BTreeSet<&str> = v["linux"]["namespaces"]
        .as_array()
        .expect("namespaces")
        .iter()
        .filter_map(|n| n["type"].as_str())
        .collect();
    for want in ["pid", "network", "ipc", "uts", "mount"] {
        assert!(ns.contains(want), "no {want} namespace in {ns:?}");
    }
    assert!(!ns.contains("user"), "{ns:?}");
    let dests: Vec<&str> = v["mounts"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["destination"].as_str())
        .collect();
    for want in [
        "/proc",
        "/dev",
        "/dev/pts",
        "/dev/shm",
        "/dev/mqueue",
        "/sys",
    ] {
        assert!(dests.contains(&want), "no {want} mount in {dests:?}");
    }

    // A second spec must not overwrite it.
    fs::write(&path, "{\"keep\": true}").unwrap();
    let out = fx.husk_in(Some(&dir), &["spec"]);
    assert!(
        !out.status.success(),
        "spec overwrote config.json: {}",
        describe(&out)
    );
    assert!(!stderr_str(&out).trim().is_empty(), "{}", describe(&out));
    assert_eq!(fs::read_to_string(&path).unwrap(), "{\"keep\": true}");
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn spec_with_bundle_flag() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("spec-bundle");
    let dir = fx.host_dir("spec");
    let out = fx.husk_raw(&["spec", "--bundle", dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", describe(&out));
    let text = fs::read_to_string(dir.join("config.json")).expect("config.json written");
    serde_json::from_str::<Value>(&text).expect("config.json is JSON");
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn spec_rootless_has_a_user_namespace() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("spec-rootless");
    let dir = fx.host_dir("spec");
    let out = fx.husk_in(Some(&dir), &["spec", "--rootless"]);
    assert!(out.status.success(), "{}", describe(&out));
    let v: Value =
        serde_json::from_str(&fs::read_to_string(dir.join("config.json")).unwrap()).unwrap();
    let ns: Vec<&str> = v["linux"]["namespaces"]
        .as_array()
        .expect("namespaces")
        .iter()
        .filter_map(|n| n["type"].as_str())
        .collect();
    assert!(ns.contains(&"user"), "no user namespace: {ns:?}");
    assert!(
        !ns.contains(&"network"),
        "rootless spec has a network namespace: {ns:?}"
    );
    for key in ["uidMappings", "gidMappings"] {
        let maps = v["linux"][key]
            .as_array()
            .unwrap_or_else(|| panic!("no {key}: {v}"));
        assert_eq!(maps.len(), 1, "{key}: {maps:?}");
        assert_eq!(maps[0]["containerID"], 0, "{key}: {maps:?}");
        assert_eq!(maps[0]["size"], 1, "{key}: {maps:?}");
    }
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn the_spec_output_runs() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("spec-runs");
    fx.write_config();
    fs::remove_file(fx.config_path()).unwrap();
    let out = fx.husk_raw(&["spec", "--bundle", fx.bundle_str()]);
    assert!(out.status.success(), "{}", describe(&out));
    let mut v: Value =
        serde_json::from_str(&fs::read_to_string(fx.config_path()).unwrap()).unwrap();
    // Not a terminal (stdin is /dev/null); our own cgroup; a command.
    v["process"]["terminal"] = false.into();
    v["process"]["args"] = serde_json::json!(["sh", "-c", "echo spec-ok"]);
    v["linux"]["cgroupsPath"] = format!("{CGROUP_PARENT}/{}", fx.id).into();
    *fx.config_mut() = v;
    let out = fx.run_container();
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(stdout_str(&out), "spec-ok\n");
}
