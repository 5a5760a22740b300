//! Issue 15: attacks on how the runtime resolves paths inside the rootfs.
//! Each test plays an image (or a config) that tries to reach the host
//! through the rootfs, and checks the HOST afterwards: files that must not
//! have been created, mounts that must not have appeared. Every test also
//! passes against runc 1.1.5 (HUSK_TEST_RUNTIME=runc); where runc is
//! weaker (a proc mount through a symlinked parent) or says other words,
//! the assertions are gated on is_husk().

mod common;

use std::fs;
use std::os::unix::fs::{symlink, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;
use serde_json::json;

/// `host` (an absolute host path) as the rootfs's copy of that path: where
/// an absolute symlink to `host` in the image leads when it is resolved
/// inside the rootfs.
fn inside(fx: &Fixture, host: &Path) -> PathBuf {
    fx.rootfs.join(host.strip_prefix("/").unwrap())
}

/// The host's mount table as lines of /proc/self/mountinfo, without the
/// mounts of other fixtures (tests running in parallel), sorted.
fn host_mount_table(fx: &Fixture) -> Vec<String> {
    let base = Path::new(TEST_BASE);
    let mut v: Vec<String> = fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter(|l| {
            let mp = PathBuf::from(unescape_mountinfo(l.split(' ').nth(4).unwrap_or("")));
            !mp.starts_with(base) || mp.starts_with(&fx.dir)
        })
        .map(String::from)
        .collect();
    v.sort();
    v
}

fn assert_same_mounts(before: &[String], after: &[String], when: &str) {
    let added: Vec<&String> = after.iter().filter(|l| !before.contains(l)).collect();
    let removed: Vec<&String> = before.iter().filter(|l| !after.contains(l)).collect();
    assert!(
        added.is_empty() && removed.is_empty(),
        "the host's mounts changed {when}:\nadded: {added:#?}\nremoved: {removed:#?}"
    );
}

// ---------------------------------------------------------------------------
// 1. Creating a missing mount destination never follows the image's
//    symlinks out of the rootfs.

/// The image has `/etc/resolv.conf -> <absolute host path>` (target missing)
/// and the config bind-mounts a file there: the file the runtime creates
/// as the mount point is the rootfs's copy of that path, never the host's.
/// Runs the fixture's container, which must print `stdout`, after the
/// runtime made a mount point the image's symlink points at
/// (`host_target` on the host): it must be made inside the rootfs, never on
/// the host, and nothing is left once the container is gone.
fn run_and_assert_made_inside(fx: &Fixture, host_target: &Path, stdout: &str) {
    let out = fx.run_container();
    assert!(
        !host_target.exists(),
        "the runtime created {} ON THE HOST through the image's symlink\n{}",
        host_target.display(),
        describe(&out)
    );
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(stdout_str(&out), stdout);
    assert!(inside(fx, host_target).exists());
    assert!(
        mounts_under(&fx.dir).is_empty(),
        "{:?}",
        mounts_under(&fx.dir)
    );
    assert_nothing_left(fx, &fx.id);
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn bind_onto_a_dangling_absolute_symlink_creates_inside_the_rootfs() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("dangling-bind");
    let host_target = fx.dir.join("created-by-the-runtime");
    symlink(&host_target, fx.rootfs.join("etc/resolv.conf")).unwrap();
    let src = fx.host_dir("src").join("resolv.conf");
    fs::write(&src, "nameserver 192.0.2.53\n").unwrap();
    fx.add_mount(
        "/etc/resolv.conf",
        "bind",
        src.to_str().unwrap(),
        &["bind", "ro"],
    );
    fx.set_sh("cat /etc/resolv.conf");
    // Like runc's SecureJoin + create: the symlink's target, in the rootfs.
    run_and_assert_made_inside(&fx, &host_target, "nameserver 192.0.2.53\n");
    assert!(inside(&fx, &host_target).is_file());
}

/// The image's symlink points at a FIFO on the host: making the mount
/// point must neither open it (a writer's open blocks until a reader
/// comes) nor anything else on the host.
#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn bind_onto_a_symlink_to_a_host_fifo_neither_blocks_nor_touches_it() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("fifo-bind");
    let fifo = fx.dir.join("host.fifo");
    host_cmd(&["mkfifo", fifo.to_str().unwrap()]);
    symlink(&fifo, fx.rootfs.join("etc/fifo-link")).unwrap();
    let src = fx.host_dir("src").join("data");
    fs::write(&src, "bound\n").unwrap();
    fx.add_mount(
        "/etc/fifo-link",
        "bind",
        src.to_str().unwrap(),
        &["bind", "ro"],
    );
    fx.set_sh("cat /etc/fifo-link");
    fx.write_config();

    let (out_p, err_p) = (fx.dir.join("fifo.out"), fx.dir.join("fifo.err"));
    let mut child = Command::new(runtime())
        .args([
            "--root",
            fx.root_str(),
            "run",
            "--bundle",
            fx.bundle_str(),
            &fx.id,
        ])
        .stdin(Stdio::null())
        .stdout(fs::File::create(&out_p).unwrap())
        .stderr(fs::File::create(&err_p).unwrap())
        .spawn()
        .unwrap();
    let mut status = wait_timeout(&mut child, Duration::from_secs(10));
    let blocked = status.is_none();
    if blocked {
        // A reader lets the runtime's open for writing return.
        let _reader = fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&fifo);
        status = wait_timeout(&mut child, COMMAND_TIMEOUT);
        if status.is_none() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
    let text = fs::read_to_string(&out_p).unwrap_or_default();
    let err = fs::read_to_string(&err_p).unwrap_or_default();
    assert!(
        !blocked,
        "the runtime blocked opening the host's FIFO through the image's symlink\nstderr: {err}"
    );
    let status = status.unwrap();
    assert!(status.success(), "{status}\nstdout: {text}\nstderr: {err}");
    assert_eq!(text, "bound\n");
    use std::os::unix::fs::FileTypeExt;
    assert!(fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo());
    assert!(inside(&fx, &fifo).is_file());
    assert_nothing_left(&fx, &fx.id);
}

const HOST_UID: u32 = 100000;

/// In a user namespace the default devices are bind mounts of the host's
/// nodes onto files the runtime creates: an image without a /dev tmpfs
/// whose `/dev/null` is a dangling symlink to a host path (in a host
/// directory the container's root could write to) must get that file made
/// in the rootfs, not on the host.
#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn device_mount_point_in_a_user_namespace_is_created_inside_the_rootfs() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("userns-dev-link");
    // Our own busybox: chown must not touch the shared hard link.
    let bb = fx.rootfs.join("bin/busybox");
    let data = fs::read(&bb).unwrap();
    fs::remove_file(&bb).unwrap();
    fs::write(&bb, data).unwrap();
    fs::set_permissions(&bb, fs::Permissions::from_mode(0o755)).unwrap();
    let open_dir = fx.host_dir("open");
    fs::set_permissions(&open_dir, fs::Permissions::from_mode(0o1777)).unwrap();
    let host_target = open_dir.join("null");
    symlink(&host_target, fx.rootfs.join("dev/null")).unwrap();
    let owner = format!("{HOST_UID}:{HOST_UID}");
    host_cmd(&["chown", "-R", "-h", &owner, fx.rootfs.to_str().unwrap()]);
    {
        let mut c = fx.config_mut();
        c["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": "user"}));
        let map = json!([{"containerID": 0, "hostID": HOST_UID, "size": 65536}]);
        c["linux"]["uidMappings"] = map.clone();
        c["linux"]["gidMappings"] = map;
        // The image's own /dev, not a tmpfs.
        c["mounts"] = json!([{"destination": "/proc", "type": "proc", "source": "proc"}]);
    }
    fx.set_sh("echo x >/dev/null && echo written");
    run_and_assert_made_inside(&fx, &host_target, "written\n");
}

// ---------------------------------------------------------------------------
// 2. proc and sysfs only on real directories; mounts inside /proc.

/// `/proc -> /tmp` and `/sys -> /etc` in the image (CVE-2023-27561,
/// CVE-2023-28642): the runtime refuses, with one error naming the mount.
#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn proc_or_sysfs_through_a_symlink_is_refused() {
    if !require_root() {
        return;
    }
    for (dir, target, dest_in_error) in [
        ("proc", "/tmp", "/proc"),
        ("sys", "/etc", "/sys"),
        ("sys", "../etc", "/sys"),
    ] {
        let fx = Fixture::new("symlinked-procfs");
        fs::remove_dir(fx.rootfs.join(dir)).unwrap();
        symlink(target, fx.rootfs.join(dir)).unwrap();
        fx.set_sh("grep -E ' /(tmp|etc) ' /proc/self/mountinfo; echo ran");
        let out = fx.run_container();
        assert_clean_error(&out);
        let err = stderr_str(&out);
        if is_husk() {
            assert!(
                err.contains(&format!("mount {dest_in_error}:")) && err.contains("symlink"),
                "/{dir} -> {target}: {err}"
            );
        }
        assert!(
            mounts_under(&fx.dir).is_empty(),
            "{:?}",
            mounts_under(&fx.dir)
        );
        assert_nothing_left(&fx, &fx.id);
    }
}

/// A symlink earlier in the path is refused too: `/a -> <host dir>` and a
/// proc mount at `/a/proc`. (runc 1.1.5 accepts this one: it checks only
/// the last component, creates `<host dir>/proc` ON THE HOST through the
/// symlink, then mounts in the rootfs's copy of the path.)
#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn proc_mount_through_a_symlinked_parent_is_refused() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("symlinked-proc-parent");
    let host = fx.host_dir("a");
    symlink(&host, fx.rootfs.join("a")).unwrap();
    fs::create_dir_all(inside(&fx, &host).join("proc")).unwrap();
    fx.add_mount("/a/proc", "proc", "proc", &[]);
    fx.set_sh("echo ran");
    let out = fx.run_container();
    if is_husk() {
        assert_clean_error(&out);
        let err = stderr_str(&out);
        assert!(
            err.contains("mount /a/proc:") && err.contains("symlink"),
            "{err}"
        );
        assert!(!host.join("proc").exists(), "created on the host");
    }
    assert!(
        mounts_under(&fx.dir).is_empty(),
        "{:?}",
        mounts_under(&fx.dir)
    );
    assert_nothing_left(&fx, &fx.id);
}

/// runc's checkProcMount: nothing but a procfs may be mounted on /proc, and
/// inside /proc only the files lxcfs emulates (/proc/uptime, ...). The
/// destination is checked after resolution, so `..` does not get around it.
#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn mounts_inside_proc_follow_runcs_rule() {
    if !require_root() {
        return;
    }
    let src = |fx: &Fixture| {
        let f = fx.host_dir("src").join("fake");
        fs::write(&f, "fake 1.0 2.0\n").unwrap();
        f.to_str().unwrap().to_string()
    };
    // Allowed: an lxcfs-style file.
    let fx = Fixture::new("procmount-ok");
    let f = src(&fx);
    fx.add_mount("/proc/uptime", "bind", &f, &["bind", "ro"]);
    assert_eq!(fx.run_sh("cat /proc/uptime"), "fake 1.0 2.0\n");
    assert_nothing_left(&fx, &fx.id);
    drop(fx);

    // Refused: anything else inside /proc, and a non-procfs on /proc.
    for (dest, is_file) in [
        ("/proc/keys", true),
        ("/dev/../proc/keys", true),
        ("/proc/sys/kernel", false),
        ("/proc", false),
    ] {
        let fx = Fixture::new("procmount-refused");
        let source = if is_file {
            src(&fx)
        } else {
            fx.host_dir("d").to_str().unwrap().to_string()
        };
        fx.add_mount(dest, "bind", &source, &["rbind", "ro"]);
        fx.set_sh("echo ran");
        let out = fx.run_container();
        assert_clean_error(&out);
        if is_husk() {
            let err = stderr_str(&out);
            assert!(err.contains("/proc"), "{dest}: {err}");
        }
        assert!(
            mounts_under(&fx.dir).is_empty(),
            "{:?}",
            mounts_under(&fx.dir)
        );
        assert_nothing_left(&fx, &fx.id);
    }
}

// ---------------------------------------------------------------------------
// 3. `..` is resolved (inside the root), never dropped.

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn dotdot_in_masked_and_readonly_paths_is_resolved() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("dotdot-paths");
    {
        let mut c = fx.config_mut();
        c["linux"]["maskedPaths"] = json!(["/sys/../proc/timer_list", "/sys/../proc/acpi"]);
        c["linux"]["readonlyPaths"] = json!(["/dev/../proc/sys"]);
    }
    let text = fx.run_sh(
        "echo \"timer_list $(cat /proc/timer_list 2>&1 | wc -c)\"; cat /proc/self/mountinfo",
    );
    assert!(text.starts_with("timer_list 0\n"), "{text}");
    let mi = parse_mountinfo(&text);
    let sys = find_mount(&mi, "/proc/sys").unwrap_or_else(|| panic!("{text}"));
    assert!(sys.options.iter().any(|o| o == "ro"), "{sys:?}");
    assert!(find_mount(&mi, "/proc/timer_list").is_some(), "{text}");
    assert!(
        mi.iter()
            .all(|m| !m.target.starts_with("/sys/proc") && !m.target.starts_with("/dev/proc")),
        "{text}"
    );
    assert_nothing_left(&fx, &fx.id);
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn dotdot_in_mount_destinations_is_resolved() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("dotdot-mounts");
    {
        let mut c = fx.config_mut();
        for m in c["mounts"].as_array_mut().unwrap() {
            if m["destination"] == "/dev/pts" {
                m["destination"] = json!("/tmp/../dev/pts");
            }
        }
    }
    fx.add_mount("/tmp/../mnt2", "tmpfs", "tmpfs", &["size=64k"]);
    let text = fx.run_sh("readlink /dev/ptmx; cat /proc/self/mountinfo");
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("pts/ptmx"), "{text}");
    let mi = parse_mountinfo(&text);
    assert_eq!(
        find_mount(&mi, "/mnt2").map(|m| m.fstype.as_str()),
        Some("tmpfs"),
        "{text}"
    );
    assert_eq!(
        find_mount(&mi, "/dev/pts").map(|m| m.fstype.as_str()),
        Some("devpts"),
        "{text}"
    );
    assert!(find_mount(&mi, "/tmp/mnt2").is_none(), "{text}");
    assert!(find_mount(&mi, "/tmp/dev/pts").is_none(), "{text}");
    // On the host: the mount point was made at the resolved path.
    assert!(fx.rootfs.join("mnt2").is_dir());
    assert!(!fx.rootfs.join("tmp/mnt2").exists());
    assert!(!fx.rootfs.join("tmp/dev").exists());
    assert_nothing_left(&fx, &fx.id);
}

// ---------------------------------------------------------------------------
// 4. --no-pivot: no full procfs left in the container's mount namespace.

/// With --no-pivot the host's mounts stay in the container's mount
/// namespace below the moved root. A full (unmasked) procfs among them
/// lets a nested user + pid namespace mount a fresh procfs (the kernel
/// allows it when a fully visible one exists), unmasking /proc.
#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn no_pivot_leaves_no_host_procfs_for_a_nested_namespace() {
    if !require_root() {
        return;
    }
    let script = "mkdir -p /tmp/p; \
         unshare -Urmpf sh -c 'mount -t proc proc /tmp/p 2>/dev/null && echo MOUNTED || echo REFUSED' \
         || echo NO-USERNS";
    for no_pivot in [false, true] {
        let fx = Fixture::new("no-pivot-proc");
        fx.add_mount("/tmp", "tmpfs", "tmpfs", &["nosuid", "nodev"]);
        // Not root: mapping the parent's uid 0 would need CAP_SETFCAP.
        fx.config_mut()["process"]["user"] = json!({"uid": 1000, "gid": 1000});
        fx.set_sh(script);
        let mut args = vec!["run"];
        if no_pivot {
            args.push("--no-pivot");
        }
        args.extend(["--bundle", fx.bundle_str(), &fx.id]);
        let out = fx.husk(&args);
        assert!(out.status.success(), "{}", describe(&out));
        let text = stdout_str(&out);
        assert!(
            !text.contains("NO-USERNS"),
            "unshare failed: {}",
            describe(&out)
        );
        assert_eq!(
            text, "REFUSED\n",
            "no_pivot={no_pivot}: a nested namespace mounted a fresh procfs"
        );
        assert!(
            mounts_under(&fx.dir).is_empty(),
            "{:?}",
            mounts_under(&fx.dir)
        );
        assert_nothing_left(&fx, &fx.id);
    }
}

// ---------------------------------------------------------------------------
// 5. rootfsPropagation shared/rshared with a rootfs that is a shared mount
//    point (a containerd/Docker overlay snapshot on a systemd host).

/// Makes the fixture's rootfs a shared mount point on the host; Fixture's
/// cleanup unmounts it.
fn make_rootfs_a_shared_mount_point(fx: &Fixture) {
    let r = fx.rootfs.to_str().unwrap();
    host_cmd(&["mount", "--bind", r, r]);
    host_cmd(&["mount", "--make-shared", r]);
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn rshared_rootfs_mount_point_propagates_nothing_to_the_host() {
    if !require_root() {
        return;
    }
    for prop in ["rshared", "shared"] {
        let fx = Fixture::new("rshared-mountpoint");
        make_rootfs_a_shared_mount_point(&fx);
        fx.config_mut()["linux"]["rootfsPropagation"] = json!(prop);
        let before = host_mount_table(&fx);
        fx.set_args(&["sleep", "1000"]);
        let out = fx.husk(&["create", "--bundle", fx.bundle_str(), &fx.id]);
        assert_same_mounts(&before, &host_mount_table(&fx), "by create");
        assert!(out.status.success(), "{prop}: {}", describe(&out));
        fx.run_ok(&["start", &fx.id]);
        assert_eq!(fx.state()["status"], "running");
        assert_same_mounts(&before, &host_mount_table(&fx), "by start");
        fx.run_ok(&["delete", "--force", &fx.id]);
        assert_same_mounts(&before, &host_mount_table(&fx), "after delete");
        assert_nothing_left(&fx, &fx.id);
    }
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn failed_create_with_rshared_leaves_no_mount_on_the_host() {
    if !require_root() {
        return;
    }
    for mount_point in [true, false] {
        let fx = Fixture::new("rshared-fail");
        if mount_point {
            make_rootfs_a_shared_mount_point(&fx);
        }
        fx.config_mut()["linux"]["rootfsPropagation"] = json!("rshared");
        let missing = fx.dir.join("no-such-source");
        fx.add_mount("/mnt", "bind", missing.to_str().unwrap(), &["rbind"]);
        let before = host_mount_table(&fx);
        fx.set_args(&["true"]);
        let out = fx.husk(&["create", "--bundle", fx.bundle_str(), &fx.id]);
        assert_clean_error(&out);
        assert_same_mounts(
            &before,
            &host_mount_table(&fx),
            &format!("by a failed create (rootfs a mount point: {mount_point})"),
        );
        assert_nothing_left(&fx, &fx.id);
    }
}

/// Every rootfsPropagation the spec names works, with the rootfs a plain
/// directory and a mount point of its own, and none changes the host's
/// mounts: "unbindable" and "runbindable" on / used to make the bind of
/// the rootfs onto itself fail (EINVAL), as the conformance suite found.
#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn every_rootfs_propagation_runs_and_leaves_the_host_alone() {
    if !require_root() {
        return;
    }
    let props = [
        "shared",
        "rshared",
        "slave",
        "rslave",
        "private",
        "rprivate",
        "unbindable",
        "runbindable",
    ];
    for mount_point in [false, true] {
        for prop in props {
            if !is_husk() && prop.ends_with("unbindable") {
                // runc 1.1.5 fails these: "mount rootfs:rootfs, flags:
                // 0x5000: invalid argument".
                continue;
            }
            let fx = Fixture::new("rootfs-prop");
            if mount_point {
                make_rootfs_a_shared_mount_point(&fx);
            }
            fx.config_mut()["linux"]["rootfsPropagation"] = json!(prop);
            // Without the base config's cgroup mount: a bind of the host's
            // cgroup directory fails (EINVAL) under a shared /, for runc too.
            fx.config_mut()["mounts"]
                .as_array_mut()
                .unwrap()
                .retain(|m| m["type"] != "cgroup");
            let before = host_mount_table(&fx);
            let out = fx.run_sh("grep -c . /proc/self/mountinfo");
            assert!(!out.trim().is_empty(), "{prop}");
            assert_same_mounts(
                &before,
                &host_mount_table(&fx),
                &format!("{prop} (rootfs a mount point: {mount_point})"),
            );
            assert_nothing_left(&fx, &fx.id);
        }
    }
}
