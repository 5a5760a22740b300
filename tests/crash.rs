//! Crash safety: husk SIGKILLed at each step of create, start and delete
//! (debug builds stop at a named point when HUSK_CRASH_AT says so), then
//! `delete --force` must leave a clean host: no process, cgroup, mount or
//! state directory of the container.

mod common;

use common::*;
use std::process::{Command, Output};

fn husk_crashing_at(fx: &Fixture, point: &str, args: &[&str]) -> Output {
    let mut cmd = Command::new(runtime());
    cmd.arg("--root").arg(fx.root_str()).args(args);
    cmd.env("HUSK_CRASH_AT", point);
    let logs = fx.dir.join("logs");
    let _ = std::fs::create_dir_all(&logs);
    let out = logs.join(format!("crash-{point}.out"));
    let err = logs.join(format!("crash-{point}.err"));
    run_with_timeout(cmd, &out, &err, std::time::Duration::from_secs(30))
}

fn killed(out: &Output) -> bool {
    use std::os::unix::process::ExitStatusExt;
    out.status.signal() == Some(9)
}

fn check_create_crash(point: &str) {
    if !require_root() || !is_husk() {
        return;
    }
    let fx = Fixture::new(&format!("crash-{}", point.replace([':', '-'], "")));
    fx.set_args(&["sleep", "100"]);
    fx.write_config();
    let out = husk_crashing_at(&fx, point, &["create", "--bundle", fx.bundle_str(), &fx.id]);
    assert!(
        killed(&out),
        "husk did not stop at {point}:\n{}",
        describe(&out)
    );
    // The half-made container reads as stopped (or is gone already).
    let st = fx.husk(&["state", &fx.id]);
    if st.status.success() {
        assert!(
            stdout_str(&st).contains("\"stopped\""),
            "state after a crash at {point}:\n{}",
            describe(&st)
        );
    }
    let out = fx.husk(&["delete", "--force", &fx.id]);
    assert!(
        out.status.success(),
        "delete --force after a crash at {point}:\n{}",
        describe(&out)
    );
    assert_nothing_left(&fx, &fx.id);
    let list = fx.stdout_of(&["list", "-q"]);
    assert!(list.trim().is_empty(), "list after cleanup: {list}");
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn crash_before_clone() {
    check_create_crash("create:before-clone");
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn crash_after_clone() {
    check_create_crash("create:after-clone");
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn crash_after_cgroup_setup() {
    check_create_crash("create:after-cgroup");
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn crash_after_mounts() {
    check_create_crash("create:after-mounts");
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn crash_before_state_saved() {
    check_create_crash("create:before-save");
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn crash_during_start() {
    if !require_root() || !is_husk() {
        return;
    }
    let fx = Fixture::new("crash-start");
    fx.set_args(&["sleep", "100"]);
    fx.write_config();
    fx.run_ok(&["create", "--bundle", fx.bundle_str(), &fx.id]);
    let out = husk_crashing_at(&fx, "start:before-release", &["start", &fx.id]);
    assert!(
        killed(&out),
        "husk did not stop in start:\n{}",
        describe(&out)
    );
    fx.run_ok(&["delete", "--force", &fx.id]);
    assert_nothing_left(&fx, &fx.id);
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn crash_during_delete() {
    if !require_root() || !is_husk() {
        return;
    }
    let fx = Fixture::new("crash-delete");
    fx.set_args(&["sleep", "100"]);
    fx.write_config();
    fx.run_ok(&["run", "--detach", "--bundle", fx.bundle_str(), &fx.id]);
    let out = husk_crashing_at(&fx, "delete:before-destroy", &["delete", "--force", &fx.id]);
    assert!(
        killed(&out),
        "husk did not stop in delete:\n{}",
        describe(&out)
    );
    let st = fx.stdout_of(&["state", &fx.id]);
    assert!(
        st.contains("\"stopped\""),
        "state after a crash in delete:\n{st}"
    );
    fx.run_ok(&["delete", &fx.id]);
    assert_nothing_left(&fx, &fx.id);
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn state_dir_left_by_a_crash_does_not_block_the_id() {
    if !require_root() || !is_husk() {
        return;
    }
    let fx = Fixture::new("crash-reuse");
    fx.set_args(&["true"]);
    fx.write_config();
    let out = husk_crashing_at(
        &fx,
        "create:after-cgroup",
        &["create", "--bundle", fx.bundle_str(), &fx.id],
    );
    assert!(killed(&out));
    // Like runc, the id stays taken until the leftover is deleted.
    let again = fx.husk(&["create", "--bundle", fx.bundle_str(), &fx.id]);
    assert!(!again.status.success());
    assert!(
        stderr_str(&again).contains("already exists"),
        "{}",
        describe(&again)
    );
    fx.run_ok(&["delete", &fx.id]);
    let out = fx.run_container();
    assert!(out.status.success(), "{}", describe(&out));
    assert_nothing_left(&fx, &fx.id);
}
