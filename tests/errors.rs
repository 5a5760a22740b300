//! Failures: each must exit non-zero with an error message on stderr (one
//! line, for husk) and leave nothing behind: no state directory, no cgroup,
//! no process.

mod common;

use std::fs;
use std::os::unix::fs::symlink;

use common::*;

/// `create` of the fixture's container must fail cleanly.
fn create_fails_cleanly(fx: &Fixture) -> std::process::Output {
    let out = fx.husk(&["create", "--bundle", fx.bundle_str(), &fx.id]);
    assert_clean_error(&out);
    assert_nothing_left(fx, &fx.id);
    out
}

/// `run` of the fixture's container must fail cleanly.
fn run_fails_cleanly(fx: &Fixture) -> std::process::Output {
    let out = fx.run_container();
    assert_clean_error(&out);
    assert_nothing_left(fx, &fx.id);
    out
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn malformed_config_json() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("bad-json");
    fx.write_config();
    fs::write(fx.config_path(), "{\"ociVersion\": \"1.0.2\", bad").unwrap();
    create_fails_cleanly(&fx);
    run_fails_cleanly(&fx);
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn config_json_of_the_wrong_shape() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("wrong-json");
    fx.write_config();
    fs::write(fx.config_path(), "[1, 2, 3]").unwrap();
    create_fails_cleanly(&fx);
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn missing_config_json() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("no-config");
    fx.write_config();
    fs::remove_file(fx.config_path()).unwrap();
    create_fails_cleanly(&fx);
    run_fails_cleanly(&fx);
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn missing_bundle_directory() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("no-bundle");
    let missing = fx.dir.join("no-such-bundle");
    let out = fx.husk(&["create", "--bundle", missing.to_str().unwrap(), &fx.id]);
    assert_clean_error(&out);
    assert_nothing_left(&fx, &fx.id);
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn missing_rootfs() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("no-rootfs");
    fx.config_mut()["root"]["path"] = "no-such-rootfs".into();
    create_fails_cleanly(&fx);
    run_fails_cleanly(&fx);
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn missing_executable() {
    if !require_root() {
        return;
    }
    // The init process, its cgroup and namespaces exist by the time the
    // executable is looked up: all must go.
    let fx = Fixture::new("no-exec");
    fx.set_args(&["no-such-program"]);
    // runc 1.1.5: status 1 (not exec's 255), and Go's LookPath words,
    // which Docker maps to 127.
    let words = "exec: \"no-such-program\": executable file not found in $PATH";
    for out in [create_fails_cleanly(&fx), run_fails_cleanly(&fx)] {
        assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
        // (runc's log line on stderr escapes the quotes)
        let err = stderr_str(&out).replace("\\\"", "\"");
        assert!(err.contains(words), "{}", describe(&out));
    }
    fx.set_args(&["/etc"]);
    for out in [create_fails_cleanly(&fx), run_fails_cleanly(&fx)] {
        assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
        let err = stderr_str(&out).replace("\\\"", "\"");
        assert!(
            err.contains("exec: \"/etc\": permission denied"),
            "{}",
            describe(&out)
        );
    }
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn relative_cwd() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("rel-cwd");
    fx.config_mut()["process"]["cwd"] = "tmp".into();
    run_fails_cleanly(&fx);
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn empty_args() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("empty-args");
    fx.set_args(&[]);
    run_fails_cleanly(&fx);
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn missing_process() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("no-process");
    fx.config_mut().as_object_mut().unwrap().remove("process");
    run_fails_cleanly(&fx);
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn unknown_container() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("unknown");
    fs::create_dir_all(&fx.root).unwrap();
    for args in [
        &["state", &fx.id][..],
        &["start", &fx.id],
        &["kill", &fx.id],
        &["kill", &fx.id, "KILL"],
        &["delete", &fx.id],
    ] {
        let out = fx.husk(args);
        assert_clean_error(&out);
        assert!(
            stderr_str(&out).contains("does not exist"),
            "{args:?}: expected 'does not exist':\n{}",
            describe(&out)
        );
        assert_nothing_left(&fx, &fx.id);
    }
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn duplicate_id_on_create() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("dup");
    fx.set_args(&["sleep", "1000"]);
    fx.create();
    let first = fx.state();
    let out = fx.husk(&["create", "--bundle", fx.bundle_str(), &fx.id]);
    assert_clean_error(&out);
    assert!(
        stderr_str(&out).contains("already exists"),
        "{}",
        describe(&out)
    );
    // The first container is untouched.
    let st = fx.state();
    assert_eq!(st["status"], "created", "{st}");
    assert_eq!(st["pid"], first["pid"], "{st}");
    assert!(process_alive(st["pid"].as_i64().unwrap() as i32));
    assert!(
        !cgroup_dirs_of(&fx.id).is_empty(),
        "the first container lost its cgroup"
    );
    // ... and run with the same id fails too.
    let out = fx.run_container();
    assert_clean_error(&out);
    assert_eq!(fx.status_of(&fx.id), "created");
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn invalid_container_ids() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("bad-id");
    fs::create_dir_all(&fx.root).unwrap();
    for id in ["../x", "", "a/b", ".", "..", "/abs"] {
        for cmd in ["create", "run"] {
            let out = fx.husk(&[cmd, "--bundle", fx.bundle_str(), id]);
            assert_clean_error(&out);
            // Nothing created, in particular not outside --root.
            assert!(
                !fx.dir.join("x").exists(),
                "{cmd} {id:?} created {}/x",
                fx.dir.display()
            );
            assert!(!fx.root.join("a").exists(), "{cmd} {id:?} created root/a");
            let entries: Vec<_> = fs::read_dir(&fx.root).unwrap().flatten().collect();
            assert!(entries.is_empty(), "{cmd} {id:?} left {entries:?} in root");
            assert!(
                cgroup_dirs_of(&fx.id).is_empty(),
                "{cmd} {id:?} left a cgroup"
            );
            assert!(
                processes_under(&fx.dir).is_empty(),
                "{cmd} {id:?} left a process"
            );
        }
    }
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn start_of_a_running_container() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("start-twice");
    let pid = fx.start_sleeper();
    let out = fx.husk(&["start", &fx.id]);
    assert_clean_error(&out);
    let st = fx.state();
    assert_eq!(st["status"], "running", "{st}");
    assert_eq!(st["pid"].as_i64(), Some(pid as i64));
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn start_of_a_stopped_container() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("start-stopped");
    fx.set_args(&["true"]);
    fx.create();
    fx.run_ok(&["start", &fx.id]);
    fx.wait_status(&fx.id, "stopped");
    let out = fx.husk(&["start", &fx.id]);
    assert_clean_error(&out);
    assert_eq!(fx.status_of(&fx.id), "stopped");
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn kill_of_a_stopped_container() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("kill-stopped");
    fx.set_args(&["true"]);
    fx.create();
    fx.run_ok(&["start", &fx.id]);
    fx.wait_status(&fx.id, "stopped");
    let out = fx.husk(&["kill", &fx.id, "KILL"]);
    assert_clean_error(&out);
    assert!(
        stderr_str(&out).contains("not running"),
        "{}",
        describe(&out)
    );
    // Still there, and deletable.
    assert_eq!(fx.status_of(&fx.id), "stopped");
    fx.run_ok(&["delete", &fx.id]);
    assert_nothing_left(&fx, &fx.id);
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn unknown_signal() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("bad-signal");
    let pid = fx.start_sleeper();
    for sig in ["NOSUCHSIGNAL", "SIGFOO", "-1", "1000"] {
        let out = fx.husk(&["kill", &fx.id, sig]);
        assert_clean_error(&out);
    }
    assert!(process_alive(pid));
    assert_eq!(fx.status_of(&fx.id), "running");
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn delete_of_a_running_container_without_force() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("delete-running");
    let pid = fx.start_sleeper();
    let out = fx.husk(&["delete", &fx.id]);
    assert_clean_error(&out);
    assert!(
        stderr_str(&out).contains("not stopped"),
        "{}",
        describe(&out)
    );
    assert!(
        process_alive(pid),
        "delete without --force killed the container"
    );
    assert_eq!(fx.status_of(&fx.id), "running");
    assert!(fx.state_dir(&fx.id).exists());
}

/// A mount destination reached through a symlink in the rootfs that points
/// outside it: the runtime must resolve it inside the rootfs (as runc does)
/// or refuse; the host side must be untouched either way.
#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn mount_destination_symlink_cannot_escape_rootfs() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("escape");
    let outside = fx.host_dir("outside");
    let outside_str = outside.to_str().unwrap();
    // Absolute, relative (climbing past /), and the destination itself.
    symlink(&outside, fx.rootfs.join("escape-abs")).unwrap();
    symlink(
        format!("../../../../../../../..{outside_str}"),
        fx.rootfs.join("escape-rel"),
    )
    .unwrap();
    symlink(&outside, fx.rootfs.join("escape-leaf")).unwrap();
    fx.add_mount("/escape-abs/x", "tmpfs", "tmpfs", &["size=1m"]);
    fx.add_mount("/escape-rel/y", "tmpfs", "tmpfs", &["size=1m"]);
    fx.add_mount("/escape-leaf", "tmpfs", "tmpfs", &["size=1m"]);
    fx.set_sh("touch /escape-abs/x/f /escape-rel/y/f /escape-leaf/f 2>/dev/null; true");
    let out = fx.run_container();
    let entries: Vec<_> = fs::read_dir(&outside)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert!(
        entries.is_empty(),
        "the host directory was written: {entries:?}\n{}",
        describe(&out)
    );
    let host = mounts_under(&fx.dir);
    assert!(host.is_empty(), "mounts appeared on the host: {host:?}");
    if !out.status.success() {
        assert_clean_error(&out);
    }
    assert_nothing_left(&fx, &fx.id);
}

/// A bind-mount source is a host path, but the destination symlink must
/// still not redirect the mount onto the host.
#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn bind_mount_destination_symlink_cannot_escape_rootfs() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("escape-bind");
    let outside = fx.host_dir("outside");
    let src = fx.host_dir("src");
    fs::write(src.join("payload"), "x").unwrap();
    symlink(&outside, fx.rootfs.join("escape")).unwrap();
    fx.add_mount(
        "/escape/sub",
        "bind",
        src.to_str().unwrap(),
        &["rbind", "rw"],
    );
    fx.set_sh("cat /escape/sub/payload >/dev/null 2>&1; true");
    let out = fx.run_container();
    let entries: Vec<_> = fs::read_dir(&outside)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert!(
        entries.is_empty(),
        "the host directory was written: {entries:?}\n{}",
        describe(&out)
    );
    let host = mounts_under(&fx.dir);
    assert!(host.is_empty(), "mounts appeared on the host: {host:?}");
    if !out.status.success() {
        assert_clean_error(&out);
    }
    assert_nothing_left(&fx, &fx.id);
}
