//! Behaviours the OCI runtime-tools validation suite
//! (`../shared/conformance/runtime-tools.sh`, run by `.ci/run`) found
//! missing, each checked here on its own:
//!
//! - fds are made close-on-exec before the container's seccomp filter is
//!   loaded, so a profile without close_range works, for create and exec
//!   (and an fd the caller leaks never reaches the container);
//! - a config with no mount namespace runs in the runtime's mount
//!   namespace, chrooted into the rootfs;
//! - syscalls newer than every syscall a profile names get ENOSYS, not the
//!   default action (runc's -ENOSYS stub);
//! - the seccomp filter is in force when the startContainer hooks run,
//!   with or without noNewPrivileges.
//!
//! Hooks (poststart/poststop failures, cwd, state) are in tests/hooks.rs.

mod common;

use std::fs;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::process::{Command, Output};

use common::*;
use serde_json::{json, Value};

/// Docker's default profile, translated for this host (see tests/seccomp.rs).
fn docker_default() -> Value {
    let p = repo_dir().join("test-bundles/seccomp/docker-default.json");
    let text = fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// `profile` with the syscall names for which `drop` is true removed (and
/// the rules left with none).
fn without(mut profile: Value, drop: impl Fn(&str) -> bool) -> Value {
    let rules = profile["syscalls"].as_array_mut().unwrap();
    for rule in rules.iter_mut() {
        if let Some(names) = rule["names"].as_array_mut() {
            names.retain(|n| !drop(n.as_str().unwrap_or_default()));
        }
    }
    rules.retain(|r| r["names"].as_array().is_some_and(|n| !n.is_empty()));
    profile
}

fn set_nnp(fx: &Fixture, nnp: bool) {
    fx.config_mut()["process"]["noNewPrivileges"] = json!(nnp);
}

/// The fd numbers listed by `ls /proc/self/fd` (ls's own directory fd
/// included), from the output of a container.
fn fd_list(text: &str) -> Vec<String> {
    let mut v: Vec<String> = text
        .split_whitespace()
        .filter(|w| w.parse::<u32>().is_ok())
        .map(String::from)
        .collect();
    v.sort();
    v
}

/// Runs `RUNTIME --root ROOT args...` with `leak` open, without
/// close-on-exec, as fd 9 of the runtime (a caller that leaks an fd).
fn husk_leaking_fd(fx: &Fixture, leak: &fs::File, args: &[&str]) -> Output {
    use std::os::unix::process::CommandExt;
    fx.write_config();
    let mut cmd = Command::new(runtime());
    cmd.arg("--root").arg(fx.root_str()).args(args);
    let fd = leak.as_raw_fd();
    // SAFETY: between fork and exec only dup2, which is async-signal-safe;
    // the new fd 9 has no FD_CLOEXEC.
    unsafe {
        cmd.pre_exec(move || {
            if libc::dup2(fd, 9) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let n = fs::read_dir(fx.dir.join("logs")).map_or(0, |d| d.count());
    let logs = fx.dir.join("logs");
    let _ = fs::create_dir_all(&logs);
    run_with_timeout(
        cmd,
        &logs.join(format!("leak{n}.out")),
        &logs.join(format!("leak{n}.err")),
        COMMAND_TIMEOUT,
    )
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn cloexec_does_not_need_close_range_in_the_profile() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("conf-cloexec");
    let out_dir = fx.bind_host_dir("out", "/out");
    // Docker's allow-list without close_range: the filter gives it EPERM.
    let profile = without(docker_default(), |n| n == "close_range");
    fx.config_mut()["linux"]["seccomp"] = profile;
    fx.set_sh("ls /proc/self/fd > /out/fds; exec sleep 1000");
    let leak = fs::File::open("/etc/hostname").unwrap();
    for nnp in [false, true] {
        set_nnp(&fx, nnp);
        let _ = fs::remove_file(out_dir.join("fds"));
        let id = fx.new_id(if nnp { "nnp" } else { "privs" });
        let out = husk_leaking_fd(&fx, &leak, &["create", "--bundle", fx.bundle_str(), &id]);
        assert!(
            out.status.success(),
            "nnp={nnp} create:\n{}",
            describe(&out)
        );
        fx.run_ok(&["start", &id]);
        let mut listed = String::new();
        wait_until(STATE_TIMEOUT, || {
            listed = fs::read_to_string(out_dir.join("fds")).unwrap_or_default();
            listed.ends_with('\n')
        });
        // ls's own directory fd is 3; the leaked 9 is not there.
        assert_eq!(
            fd_list(&listed),
            ["0", "1", "2", "3"],
            "nnp={nnp}: init's fds"
        );
        let out = husk_leaking_fd(&fx, &leak, &["exec", &id, "ls", "/proc/self/fd"]);
        assert!(out.status.success(), "nnp={nnp} exec:\n{}", describe(&out));
        assert_eq!(
            fd_list(&stdout_str(&out)),
            ["0", "1", "2", "3"],
            "nnp={nnp}: exec'd process's fds:\n{}",
            describe(&out)
        );
        fx.run_ok(&["delete", "--force", &id]);
    }
}

/// A private mount namespace (`unshare -m`) for a container that has none
/// of its own: the runtime runs in it (nsenter), so the container's mounts
/// never reach the host's namespace and go with it.
struct MountNs {
    helper: Helper,
}

impl MountNs {
    fn new() -> MountNs {
        let helper = Helper::spawn(&[
            "unshare",
            "--mount",
            "--propagation",
            "private",
            "sleep",
            "600",
        ]);
        let ns = MountNs { helper };
        // Until unshare has exec'd sleep in its new namespace.
        let mine = host_ns("mnt");
        assert!(
            wait_until(STATE_TIMEOUT, || {
                let theirs = ns.ns();
                !theirs.is_empty() && theirs != mine
            }),
            "unshare did not make a mount namespace"
        );
        ns
    }

    fn ns(&self) -> String {
        fs::read_link(format!("/proc/{}/ns/mnt", self.helper.pid()))
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    /// `RUNTIME --root ROOT args...` inside the namespace.
    fn husk(&self, fx: &Fixture, args: &[&str]) -> Output {
        fx.write_config();
        let mut cmd = Command::new("nsenter");
        cmd.arg("-t")
            .arg(self.helper.pid().to_string())
            .arg("-m")
            .arg(runtime())
            .arg("--root")
            .arg(fx.root_str())
            .args(args);
        let logs = fx.dir.join("logs");
        let _ = fs::create_dir_all(&logs);
        let n = fs::read_dir(&logs).map_or(0, |d| d.count());
        run_with_timeout(
            cmd,
            &logs.join(format!("ns{n}.out")),
            &logs.join(format!("ns{n}.err")),
            COMMAND_TIMEOUT,
        )
    }
}

/// The base config without a mount namespace, and without what needs one.
fn no_mount_ns(fx: &Fixture) {
    let mut c = fx.config_mut();
    c["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .retain(|n| n["type"] != "mount");
    c["root"]["readonly"] = json!(false);
    let linux = c["linux"].as_object_mut().unwrap();
    linux.remove("maskedPaths");
    linux.remove("readonlyPaths");
    linux.remove("rootfsPropagation");
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn no_mount_namespace_shares_the_runtimes_and_chroots() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("conf-nomntns");
    let ns = MountNs::new();
    no_mount_ns(&fx);
    fx.set_sh(
        "readlink /proc/self/ns/mnt; ls /; test -e /etc/hostname && echo host-root; \
         ls /dev/null /proc/self >/dev/null && echo mounts-ok; exec sleep 1000",
    );
    let out = ns.husk(
        &fx,
        &["run", "--detach", "--bundle", fx.bundle_str(), &fx.id],
    );
    assert!(out.status.success(), "run:\n{}", describe(&out));
    let log = || {
        let logs = fx.dir.join("logs");
        fs::read_to_string(logs.join("ns0.out")).unwrap_or_default()
    };
    assert!(
        wait_until(STATE_TIMEOUT, || log().contains("mounts-ok")),
        "the container did not get its mounts: {}",
        log()
    );
    let text = log();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some(ns.ns().as_str()), "{text}");
    // The rootfs is its /: the busybox tree, not the host's.
    assert!(text.lines().any(|l| l == "bin"), "{text}");
    assert!(!text.contains("host-root"), "{text}");
    // Its mounts were made in the shared namespace, under the rootfs.
    let mountinfo = fs::read_to_string(format!("/proc/{}/mountinfo", ns.helper.pid())).unwrap();
    let proc_mnt = format!(" {}/proc ", fx.rootfs.display());
    assert!(mountinfo.contains(&proc_mnt), "{mountinfo}");
    // The host's own namespace got none of them.
    assert!(
        mounts_under(&fx.rootfs).is_empty(),
        "{:?}",
        mounts_under(&fx.rootfs)
    );
    // exec: husk puts the process in the container's root (runc 1.1.5
    // leaves it at the runtime's /).
    let out = ns.husk(&fx, &["exec", &fx.id, "sh", "-c", "ls /; pwd"]);
    assert!(out.status.success(), "exec:\n{}", describe(&out));
    if is_husk() {
        let text = stdout_str(&out);
        assert!(text.lines().any(|l| l == "bin"), "{text}");
        assert!(!text.lines().any(|l| l == "usr"), "{text}");
    }
    // And from the host's namespace too.
    if is_husk() {
        let out = fx.husk(&["exec", &fx.id, "ls", "/"]);
        assert!(out.status.success(), "exec:\n{}", describe(&out));
        assert!(
            !stdout_str(&out).lines().any(|l| l == "usr"),
            "{}",
            describe(&out)
        );
    }
    let out = ns.husk(&fx, &["delete", "--force", &fx.id]);
    assert!(out.status.success(), "delete:\n{}", describe(&out));
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn no_mount_namespace_refuses_what_needs_one() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("conf-nomntns-bad");
    let ns = MountNs::new();
    fx.set_args(&["true"]);
    // runc refuses masked and read-only paths too; husk also refuses a
    // read-only root and rootfsPropagation, which runc would apply to
    // the runtime's own mounts.
    let mut cases: Vec<(&str, Value)> = vec![
        ("linux.maskedPaths", json!({"maskedPaths": ["/proc/kcore"]})),
        (
            "linux.readonlyPaths",
            json!({"readonlyPaths": ["/proc/sys"]}),
        ),
    ];
    if is_husk() {
        cases.push(("root.readonly", json!({})));
        cases.push((
            "linux.rootfsPropagation",
            json!({"rootfsPropagation": "shared"}),
        ));
    }
    for (field, linux) in cases {
        no_mount_ns(&fx);
        {
            let mut c = fx.config_mut();
            for (k, v) in linux.as_object().unwrap() {
                c["linux"][k] = v.clone();
            }
            if field == "root.readonly" {
                c["root"]["readonly"] = json!(true);
            }
        }
        let out = ns.husk(&fx, &["create", "--bundle", fx.bundle_str(), &fx.id]);
        assert_clean_error(&out);
        if is_husk() {
            let err = stderr_str(&out);
            assert!(err.starts_with(field), "{field}: {err}");
            assert!(err.contains("mount namespace"), "{field}: {err}");
        }
        assert!(!fx.state_dir(&fx.id).exists(), "{field}: state left behind");
        let mountinfo = fs::read_to_string(format!("/proc/{}/mountinfo", ns.helper.pid())).unwrap();
        let root = format!(" {}", fx.rootfs.display());
        assert!(
            !mountinfo.contains(&root),
            "{field}: mounts left: {mountinfo}"
        );
    }
}

/// The native number of syscall `name`.
fn nr(name: &str) -> i32 {
    i32::from(libseccomp::ScmpSyscall::from_name(name).unwrap())
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn syscalls_newer_than_the_profile_get_enosys() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("conf-enosys");
    // Docker's allow-list (default action EPERM) cut below setns, and
    // without mkdir: setns is then newer than every syscall the profile
    // names, mkdir is not.
    let cut = nr("setns");
    let profile = without(docker_default(), |n| {
        n == "mkdir"
            || n == "mkdirat"
            || libseccomp::ScmpSyscall::from_name(n).is_ok_and(|s| i32::from(s) >= cut)
    });
    assert_eq!(profile["defaultAction"], "SCMP_ACT_ERRNO");
    // The fds are made close-on-exec before the filter: close_range
    // (newer than syncfs) is not needed.
    fx.config_mut()["linux"]["seccomp"] = profile;
    for nnp in [false, true] {
        set_nnp(&fx, nnp);
        let out = fx.run_sh("nsenter -t 1 -u true 2>&1; mkdir /dev/shm/d 2>&1; echo done");
        let ctx = format!("nnp={nnp}: {out}");
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 3, "{ctx}");
        assert!(lines[0].ends_with("Function not implemented"), "{ctx}");
        assert!(lines[1].ends_with("Operation not permitted"), "{ctx}");
    }
    // A profile that lets everything through gets no stub: an unknown
    // syscall still gets what the kernel says (ENOSYS or success).
    let allow = json!({"defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]});
    fx.config_mut()["linux"]["seccomp"] = allow;
    let out = fx.run_sh("sync -f / && echo synced; mkdir /dev/shm/d 2>&1; true");
    assert!(out.starts_with("synced\n"), "{out}");
    assert!(out.contains("Operation not permitted"), "{out}");
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn seccomp_is_in_force_when_start_container_hooks_run() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("conf-sc-hooks");
    let out_dir = fx.bind_host_dir("out", "/out");
    // A busybox script in the rootfs: startContainer runs in the container.
    let hook = fx.rootfs.join("hook.sh");
    fs::write(
        &hook,
        "#!/bin/sh\nmkdir /dev/shm/hook-dir 2>/out/err; echo $? > /out/rc\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&hook, fs::Permissions::from_mode(0o755)).unwrap();
    fx.config_mut()["hooks"] = json!({"startContainer": [{"path": "/hook.sh"}]});
    fx.config_mut()["linux"]["seccomp"] = json!({"defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 100}]});
    for nnp in [false, true] {
        set_nnp(&fx, nnp);
        let _ = fs::remove_file(out_dir.join("rc"));
        fx.run_sh("true");
        let rc = fs::read_to_string(out_dir.join("rc")).unwrap_or_default();
        let err = fs::read_to_string(out_dir.join("err")).unwrap_or_default();
        assert_eq!(rc.trim(), "1", "nnp={nnp}: the hook's mkdir: {err}");
        assert!(err.contains("Network is down"), "nnp={nnp}: {err}");
    }
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn mount_label_without_selinux_is_ignored() {
    if !require_root() {
        return;
    }
    if Path::new("/sys/fs/selinux/enforce").exists() {
        eprintln!("skipped: SELinux is enabled here");
        return;
    }
    let fx = Fixture::new("conf-mountlabel");
    fx.config_mut()["linux"]["mountLabel"] =
        json!("system_u:object_r:svirt_sandbox_file_t:s0:c715,c811");
    fx.set_sh("echo ran");
    let out = fx.run_container();
    if is_husk() {
        // As crun: a label only SELinux would enforce; runc 1.1.5 passes
        // it to mount(2), which fails (EINVAL).
        assert!(out.status.success(), "{}", describe(&out));
        assert_eq!(stdout_str(&out), "ran\n");
        assert!(
            stderr_str(&out).contains("linux.mountLabel is ignored"),
            "{}",
            describe(&out)
        );
    } else {
        assert_clean_error(&out);
    }
    assert_nothing_left(&fx, &fx.id);
}
