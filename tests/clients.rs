//! Real clients: containerd 1.6 (Debian) driving the runtime through its
//! runc v2 shim, with `ctr`, from the README's configuration where it has
//! one. Slow-ish (a private containerd each, ~10 s).

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::*;

/// Runs `script RUNTIME` (common::run_client_script), one at a time; None
/// (after saying why) if the script does not exist.
fn run_containerd_script(script: PathBuf, name: &str) -> Option<(std::process::Output, String)> {
    // One private containerd at a time: the scripts create and remove
    // /run/containerd/{s,fifo} when they did not exist.
    static ONE: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one = ONE.lock().unwrap_or_else(|e| e.into_inner());
    if !script.exists() {
        assert!(
            std::env::var_os("HUSK_CLIENTS_REQUIRED").is_none(),
            "{} not found, and HUSK_CLIENTS_REQUIRED is set",
            script.display()
        );
        eprintln!("skipped: {} not found", script.display());
        return None;
    }
    Some(run_client_script(&script, name, 250))
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn containerd_client_checks_all_pass() {
    if !require_root() {
        return;
    }
    let script = repo_dir().join("../shared/clients/containerd.sh");
    let Some((out, text)) = run_containerd_script(script, "containerd") else {
        return;
    };
    let last = text
        .lines()
        .rev()
        .find(|l| l.ends_with(" failed"))
        .unwrap_or_default();
    assert_eq!(
        last, "28 passed, 0 failed",
        "status {}:\n{text}",
        out.status
    );
    assert!(out.status.success(), "{text}");
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn containerd_with_the_runtime_as_default_binary() {
    if !require_root() {
        return;
    }
    let script = repo_dir().join("tests/clients-default-runtime.sh");
    let Some((out, text)) = run_containerd_script(script, "default") else {
        return;
    };
    client_script_passed(&out, &text);
}

/// The README's containerd config.toml and RuntimeClass: containerd reads
/// the runtime (SystemdCgroup false and true), loads its CRI plugin with it,
/// and the shim's --systemd-cgroup with a kubelet-shaped path works.
#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn containerd_accepts_the_readme_cri_configuration() {
    if !require_root() {
        return;
    }
    let script = repo_dir().join("tests/containerd-config.sh");
    let Some((out, text)) = run_containerd_script(script, "cri-config") else {
        return;
    };
    client_script_passed(&out, &text);
}

// ---------------------------------------------------------------------------
// Contracts of COMPAT.md that the clients above rely on

/// Podman `--read-only` adds `tmpcopyup` to its tmpfs mounts: the tmpfs
/// starts with a copy of the image's directory; the word is not passed to
/// mount(2).
#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn tmpfs_tmpcopyup_copies_the_image_directory() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("tmpcopyup");
    std::fs::create_dir_all(fx.rootfs.join("etc/sub")).unwrap();
    std::fs::write(fx.rootfs.join("etc/sub/deep"), "deep\n").unwrap();
    fx.add_mount(
        "/etc",
        "tmpfs",
        "tmpfs",
        &["tmpcopyup", "nosuid", "mode=755"],
    );
    let out = fx.run_sh(
        "grep -c '^test:' /etc/passwd; cat /etc/sub/deep; \
         echo new > /etc/new && echo writable; grep ' /etc ' /proc/self/mountinfo",
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(&lines[..3], ["1", "deep", "writable"], "{out}");
    assert!(lines[3].contains(" - tmpfs "), "{out}");
    assert!(!lines[3].contains("tmpcopyup"), "{out}");
    // The image is untouched.
    assert!(!fx.rootfs.join("etc/new").exists());
}

/// containerd's `kill --all` (used when the pid namespace is shared or the
/// init has exited).
#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn kill_all_reaches_every_process() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("kill-all");
    let init = fx.run_detached_sleeper();
    let pid_file = fx.dir.join("exec.pid");
    fx.run_ok(&[
        "exec",
        "-d",
        "--pid-file",
        pid_file.to_str().unwrap(),
        &fx.id,
        "sleep",
        "1000",
    ]);
    let pid: i32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    fx.run_ok(&["kill", "--all", &fx.id, "9"]);
    assert!(
        wait_until(STATE_TIMEOUT, || !process_alive(pid)
            && !process_alive(init)),
        "processes survived kill --all"
    );
    fx.wait_status(&fx.id, "stopped");
    fx.run_ok(&["delete", &fx.id]);
    assert_nothing_left(&fx, &fx.id);
}

/// `exec --pid-file`: only the decimal pid, no newline (go-runc parses it).
#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn exec_pid_file_is_only_the_number() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("exec-pidfile");
    fx.run_detached_sleeper();
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
    let text = std::fs::read_to_string(&pid_file).unwrap();
    assert!(
        !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()),
        "pid file holds {text:?}"
    );
    // No temporary file left next to it.
    let names: Vec<String> = std::fs::read_dir(&fx.dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("pid"))
        .collect();
    assert_eq!(names, ["exec.pid"], "{names:?}");
}

/// `delete --force` of a running container without runc's fixed 100 ms
/// sleep (husk only: runc sleeps).
#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn delete_force_has_no_fixed_sleep() {
    if !require_root() || !is_husk() {
        return;
    }
    let mut best = Duration::from_secs(100);
    for i in 0..3 {
        let fx = Fixture::new(&format!("delete-fast-{i}"));
        fx.run_detached_sleeper();
        let t = std::time::Instant::now();
        fx.run_ok(&["delete", "--force", &fx.id]);
        best = best.min(t.elapsed());
        assert_nothing_left(&fx, &fx.id);
    }
    assert!(
        best < Duration::from_millis(100),
        "delete --force took at least {best:?}"
    );
}
