//! `--log FILE --log-format json|text`, the error words clients match,
//! `--version` and `features`.

mod common;

use std::fs;
use std::path::Path;

use common::*;
use serde_json::Value;

/// The JSON lines of a log file; panics on a line that is not JSON.
fn json_lines(path: &Path) -> Vec<Value> {
    let text = fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("log line is not JSON ({e}): {l:?}\nfile:\n{text}"))
        })
        .collect()
}

/// The log's lines whose level is exactly "error".
fn error_lines(path: &Path) -> Vec<Value> {
    json_lines(path)
        .into_iter()
        .filter(|v| v["level"] == "error")
        .collect()
}

/// Asserts `v` is `{"level":"error","msg":...,"time":RFC3339}` with `words`
/// in msg.
fn assert_error_line(v: &Value, words: &str) {
    assert_eq!(v["level"], "error", "{v}");
    let msg = v["msg"]
        .as_str()
        .unwrap_or_else(|| panic!("no msg string: {v}"));
    assert!(msg.contains(words), "msg lacks {words:?}: {v}");
    let time = v["time"]
        .as_str()
        .unwrap_or_else(|| panic!("no time string: {v}"));
    assert!(is_rfc3339(time), "time is not RFC 3339: {v}");
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn json_log_of_an_unknown_container() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("log-unknown");
    fs::create_dir_all(&fx.root).unwrap();
    let log = fx.dir.join("log.json");
    let log_s = log.to_str().unwrap();
    for args in [
        &["state", "no-such-container"][..],
        &["start", "no-such-container"],
        &["kill", "no-such-container", "KILL"],
        &["delete", "no-such-container"],
        &["exec", "no-such-container", "true"],
        &["pause", "no-such-container"],
    ] {
        let _ = fs::remove_file(&log);
        let mut full = vec!["--log", log_s, "--log-format", "json"];
        full.extend_from_slice(args);
        let out = fx.husk(&full);
        assert_clean_error(&out);
        let errs = error_lines(&log);
        assert_eq!(errs.len(), 1, "{args:?}: error lines: {errs:?}");
        assert_error_line(&errs[0], "does not exist");
    }
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn json_log_is_appended_not_truncated() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("log-append");
    fs::create_dir_all(&fx.root).unwrap();
    let log = fx.dir.join("log.json");
    let earlier =
        "{\"level\":\"info\",\"msg\":\"earlier line\",\"time\":\"2024-01-01T00:00:00Z\"}\n";
    fs::write(&log, earlier).unwrap();
    for _ in 0..2 {
        let out = fx.husk(&[
            "--log",
            log.to_str().unwrap(),
            "--log-format",
            "json",
            "state",
            "no-such-container",
        ]);
        assert_clean_error(&out);
    }
    let text = fs::read_to_string(&log).unwrap();
    assert!(text.starts_with(earlier), "the log was truncated:\n{text}");
    let errs = error_lines(&log);
    assert_eq!(errs.len(), 2, "{text}");
    for e in &errs {
        assert_error_line(e, "does not exist");
    }
    // `--log=FILE` form too.
    let arg = format!("--log={}", log.display());
    let out = fx.husk(&[&arg, "--log-format=json", "state", "no-such-container"]);
    assert_clean_error(&out);
    assert_eq!(error_lines(&log).len(), 3);
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn text_log_format() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("log-text");
    fs::create_dir_all(&fx.root).unwrap();
    let log = fx.dir.join("log.txt");
    let out = fx.husk(&[
        "--log",
        log.to_str().unwrap(),
        "--log-format",
        "text",
        "state",
        "no-such-container",
    ]);
    assert_clean_error(&out);
    let text = fs::read_to_string(&log).unwrap_or_default();
    let line = text
        .lines()
        .find(|l| l.contains("level=error"))
        .unwrap_or_else(|| panic!("no level=error line:\n{text}"));
    assert!(line.contains("msg="), "{line}");
    assert!(line.contains("does not exist"), "{line}");
    // runc (logrus): time="..." level=error msg="..."
    assert!(line.contains("time="), "{line}");
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn json_log_of_kill_of_a_stopped_container() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("log-kill");
    fx.set_args(&["true"]);
    fx.create();
    fx.run_ok(&["start", &fx.id]);
    fx.wait_status(&fx.id, "stopped");
    let log = fx.dir.join("log.json");
    let out = fx.husk(&[
        "--log",
        log.to_str().unwrap(),
        "--log-format",
        "json",
        "kill",
        &fx.id,
        "KILL",
    ]);
    assert_clean_error(&out);
    let errs = error_lines(&log);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert_error_line(&errs[0], "container not running");
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn json_log_of_a_failed_exec() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("log-exec");
    fx.run_detached_sleeper();
    let log = fx.dir.join("log.json");
    let out = fx.husk(&[
        "--log",
        log.to_str().unwrap(),
        "--log-format",
        "json",
        "exec",
        &fx.id,
        "/nonexistent",
    ]);
    assert_clean_error(&out);
    let errs = error_lines(&log);
    assert!(!errs.is_empty(), "no error line");
    assert_error_line(errs.last().unwrap(), "no such file or directory");
    assert!(
        errs.last().unwrap()["msg"]
            .as_str()
            .unwrap()
            .contains("/nonexistent"),
        "{errs:?}"
    );
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn json_log_of_a_failed_create() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("log-create");
    fx.set_args(&["/no-such-binary"]);
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
    let errs = error_lines(&log);
    assert!(!errs.is_empty(), "no error line");
    // The shim shows the last error line's msg: it must name the binary.
    let last = errs.last().unwrap();
    assert_error_line(last, "/no-such-binary");
    assert_nothing_left(&fx, &fx.id);
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn successful_commands_log_no_errors() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("log-ok");
    fx.set_args(&["sleep", "1000"]);
    let log = fx.dir.join("log.json");
    let l = log.to_str().unwrap();
    let b = fx.bundle_str();
    fx.run_ok(&[
        "--log",
        l,
        "--log-format",
        "json",
        "create",
        "--bundle",
        b,
        &fx.id,
    ]);
    fx.run_ok(&["--log", l, "--log-format", "json", "start", &fx.id]);
    fx.run_ok(&["--log", l, "--log-format", "json", "state", &fx.id]);
    fx.run_ok(&["--log", l, "--log-format", "json", "exec", &fx.id, "true"]);
    fx.run_ok(&["--log", l, "--log-format", "json", "kill", &fx.id, "KILL"]);
    fx.wait_status(&fx.id, "stopped");
    fx.run_ok(&["--log", l, "--log-format", "json", "delete", &fx.id]);
    let errs = error_lines(&log);
    assert!(errs.is_empty(), "error lines: {errs:?}");
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn version_lines() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("version");
    let out = fx.husk_raw(&["--version"]);
    assert!(out.status.success(), "{}", describe(&out));
    let text = stdout_str(&out);
    let first = text.lines().next().unwrap_or_default();
    if is_husk() {
        let v = first
            .strip_prefix("husk version ")
            .unwrap_or_else(|| panic!("first line: {first:?}"));
        assert_eq!(v, env!("CARGO_PKG_VERSION"), "{text}");
    } else {
        assert!(first.contains(" version "), "{text}");
    }
    assert!(
        text.lines().any(|l| l.starts_with("spec: 1.")),
        "no `spec: 1.` line:\n{text}"
    );
    // -v too (runc has it).
    let out = fx.husk_raw(&["-v"]);
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(stdout_str(&out), text);
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn features_json() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("features");
    let out = fx.husk_raw(&["features"]);
    assert!(out.status.success(), "{}", describe(&out));
    let v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("features is not JSON ({e}):\n{}", describe(&out)));
    for key in ["ociVersionMin", "ociVersionMax"] {
        assert!(
            v[key].as_str().is_some_and(|s| s.starts_with("1.")),
            "{key}: {v}"
        );
    }
    if !is_husk() {
        return;
    }
    let strings = |val: &Value| -> Vec<String> {
        val.as_array()
            .unwrap_or_else(|| panic!("not an array: {val}"))
            .iter()
            .map(|s| s.as_str().unwrap().to_string())
            .collect()
    };
    let hooks = strings(&v["hooks"]);
    for h in [
        "prestart",
        "createRuntime",
        "createContainer",
        "startContainer",
        "poststart",
        "poststop",
    ] {
        assert!(hooks.contains(&h.to_string()), "hooks lack {h}: {hooks:?}");
    }
    let opts = strings(&v["mountOptions"]);
    for o in ["rro", "rbind", "ro", "nosuid", "tmpcopyup", "rnosuid"] {
        assert!(
            opts.contains(&o.to_string()),
            "mountOptions lack {o}: {opts:?}"
        );
    }
    let ns = strings(&v["linux"]["namespaces"]);
    for n in ["cgroup", "ipc", "mount", "network", "pid", "user", "uts"] {
        assert!(ns.contains(&n.to_string()), "namespaces lack {n}: {ns:?}");
    }
    let caps = strings(&v["linux"]["capabilities"]);
    for c in ["CAP_SYS_ADMIN", "CAP_CHOWN", "CAP_NET_RAW", "CAP_KILL"] {
        assert!(
            caps.contains(&c.to_string()),
            "capabilities lack {c}: {caps:?}"
        );
    }
    assert!(caps.iter().all(|c| c.starts_with("CAP_")), "{caps:?}");
    assert_eq!(v["linux"]["cgroup"]["v1"], true, "{v}");
    // Advertise idmap mounts exactly when the idmap options are accepted.
    let idmap = v["linux"]["mountExtensions"]["idmap"]["enabled"] == true;
    assert_eq!(
        idmap,
        opts.contains(&"idmap".to_string()),
        "mountExtensions.idmap.enabled = {idmap} but mountOptions {} idmap",
        if idmap { "lack" } else { "list" }
    );
}
