//! The container's environment, observed from inside it (`sh -c ...` whose
//! output is parsed) and compared with the config.

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::time::Duration;

use common::*;
use serde_json::json;

// ---------------------------------------------------------------------------
// Identity: hostname, user, umask, environment, cwd

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn hostname_from_config() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("hostname");
    let out = fx.run_sh("hostname; cat /proc/sys/kernel/hostname");
    assert_eq!(out, "husk\nhusk\n");
    fx.config_mut()["hostname"] = json!("other-host");
    let out = fx.run_sh("hostname");
    assert_eq!(out, "other-host\n");
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn domainname_from_config() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("domainname");
    fx.config_mut()["domainname"] = json!("example.org");
    let out = fx.run_sh("cat /proc/sys/kernel/domainname");
    if is_husk() {
        assert_eq!(out, "example.org\n");
    } else {
        // runc 1.1 ignores "domainname" (supported from runc 1.2).
        eprintln!("note: {} set domainname to {out:?}", runtime());
    }
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn user_ids_and_additional_groups() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("user");
    fx.config_mut()["process"]["user"] =
        json!({"uid": 1000, "gid": 1000, "additionalGids": [2000]});
    let out = fx.run_sh("cat /proc/self/status; echo ==id==; id -un; id -gn; echo \"$HOME\"");
    assert_eq!(
        status_field(&out, "Uid"),
        Some("1000\t1000\t1000\t1000"),
        "{out}"
    );
    assert_eq!(
        status_field(&out, "Gid"),
        Some("1000\t1000\t1000\t1000"),
        "{out}"
    );
    assert_eq!(status_field(&out, "Groups"), Some("2000"), "{out}");
    // Names from the rootfs's /etc/passwd and /etc/group; HOME from passwd.
    assert_eq!(section(&out, "id"), "test\ntest\n/tmp\n");
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn duplicate_additional_groups_are_set_once() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("user-dup-groups");
    fx.config_mut()["process"]["user"] =
        json!({"uid": 1000, "gid": 1000, "additionalGids": [5, 2000, 5, 1000, 2000]});
    let out = fx.run_sh("cat /proc/self/status");
    // The kernel keeps duplicates that setgroups is given; runc drops them.
    assert_eq!(status_field(&out, "Groups"), Some("5 1000 2000"), "{out}");
}

/// Runs the fixture's container in the foreground with stdin from the host's
/// /dev/null and stdout and stderr on pipes of this test (as containerd's
/// shim gives them), not on files; returns (exit code, stdout, stderr).
fn run_on_pipes(fx: &Fixture) -> (Option<i32>, String, String) {
    use std::process::{Command, Stdio};
    fx.write_config();
    let (out_r, out_w) = pipe();
    let (err_r, err_w) = pipe();
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
        .stdout(Stdio::from(out_w))
        .stderr(Stdio::from(err_w))
        .spawn()
        .expect("spawn the runtime");
    let status = wait_timeout(&mut child, COMMAND_TIMEOUT);
    if status.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    drop(child);
    let out = read_pipe(&out_r, STATE_TIMEOUT);
    let err = read_pipe(&err_r, STATE_TIMEOUT);
    let status = status.unwrap_or_else(|| panic!("run did not finish:\n{out}\n{err}"));
    (status.code(), out, err)
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn stdio_pipes_belong_to_a_non_root_user() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("stdio-owner");
    fx.config_mut()["process"]["user"] = json!({"uid": 1000, "gid": 1000});
    fx.set_sh(
        "echo ==owners==; stat -L -c '%u %F' /proc/self/fd/1 /proc/self/fd/2; \
         echo ==reopen==; echo via-dev-stdout > /dev/stdout; \
         echo via-dev-stderr > /dev/stderr; echo ==end==",
    );
    use std::os::unix::fs::MetadataExt;
    let owner = |m: fs::Metadata| (m.uid(), m.gid());
    let null_before = owner(fs::metadata("/dev/null").unwrap());
    let (code, out, err) = run_on_pipes(&fx);
    assert_eq!(code, Some(0), "stdout: {out}\nstderr: {err}");
    assert_eq!(section(&out, "owners"), "1000 fifo\n1000 fifo\n", "{out}");
    assert_eq!(section(&out, "reopen"), "via-dev-stdout\n", "{out}\n{err}");
    assert!(err.contains("via-dev-stderr"), "stderr: {err}");
    // The host's /dev/null given as stdin is never handed over.
    let null_after = owner(fs::metadata("/dev/null").unwrap());
    assert_eq!(
        null_before, null_after,
        "the host's /dev/null changed owner"
    );
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn stdio_files_of_the_caller_keep_their_owner() {
    if !require_root() {
        return;
    }
    use std::os::unix::fs::MetadataExt;
    let fx = Fixture::new("stdio-file");
    fx.config_mut()["process"]["user"] = json!({"uid": 1000, "gid": 1000});
    fx.set_sh("stat -L -c '%u %F' /proc/self/fd/1");
    // create's stdout and stderr are files of the test: the container
    // inherits them.
    fx.create();
    let (out, err) = fx.last_logs();
    fx.run_ok(&["start", &fx.id]);
    fx.wait_status(&fx.id, "stopped");
    let text = fs::read_to_string(&out).unwrap();
    assert!(text.contains("regular"), "{text}");
    let owner = fs::metadata(&out).unwrap().uid();
    if is_husk() {
        // A host file is not the container's to take: only pipes and
        // husk's own pty change owner.
        assert_eq!(owner, 0, "{text}");
        assert_eq!(fs::metadata(&err).unwrap().uid(), 0);
    } else {
        eprintln!(
            "note: {} gave the caller's stdout file to uid {owner}",
            runtime()
        );
    }
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn root_user_has_no_supplementary_groups_and_home() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("user-root");
    let out = fx.run_sh("cat /proc/self/status; echo ==home==; echo \"$HOME\"");
    assert_eq!(status_field(&out, "Uid"), Some("0\t0\t0\t0"), "{out}");
    assert_eq!(status_field(&out, "Gid"), Some("0\t0\t0\t0"), "{out}");
    assert_eq!(status_field(&out, "Groups"), Some(""), "{out}");
    assert_eq!(section(&out, "home"), "/root\n");
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn umask_default_and_from_config() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("umask");
    assert_eq!(fx.run_sh("umask"), "0022\n");
    fx.config_mut()["process"]["user"]["umask"] = json!(0o027);
    assert_eq!(fx.run_sh("umask"), "0027\n");
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn environment_from_config() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("env");
    fx.config_mut()["process"]["env"] = json!([
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "FOO=bar baz",
        "EMPTY=",
        "WITH_EQUALS=a=b",
        "HOME=/elsewhere",
    ]);
    let out = fx.run_sh("env");
    let vars: BTreeSet<&str> = out.lines().collect();
    for want in [
        "FOO=bar baz",
        "EMPTY=",
        "WITH_EQUALS=a=b",
        "HOME=/elsewhere",
    ] {
        assert!(vars.contains(want), "{want} missing from:\n{out}");
    }
    assert!(vars.contains("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"));
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn cwd_from_config_created_if_missing() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("cwd");
    assert_eq!(fx.run_sh("pwd"), "/\n");
    fx.config_mut()["process"]["cwd"] = json!("/tmp");
    assert_eq!(fx.run_sh("pwd"), "/tmp\n");
    // A missing cwd is created (in a writable rootfs).
    fx.config_mut()["root"]["readonly"] = json!(false);
    fx.config_mut()["process"]["cwd"] = json!("/new/dir");
    assert_eq!(fx.run_sh("pwd"), "/new/dir\n");
    assert!(fx.rootfs.join("new/dir").is_dir());
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn cwd_only_root_can_enter() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("cwd-root-only");
    let d = fx.rootfs.join("root-only");
    fs::create_dir(&d).unwrap();
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&d, fs::Permissions::from_mode(0o700)).unwrap();
    fx.config_mut()["process"]["user"] = json!({"uid": 1000, "gid": 1000});
    fx.config_mut()["process"]["cwd"] = json!("/root-only");
    // chdir happens while still root; the user then works in a directory
    // it could not have entered itself.
    assert_eq!(fx.run_sh("pwd; id -u"), "/root-only\n1000\n");
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn cwd_only_the_user_can_enter() {
    if !require_root() {
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    // In a user namespace (0..65536 → 100000..), root cannot enter a
    // directory whose owner is not mapped (no capability over it) and
    // whose only access is for the user's group.
    const HOST: u32 = 100000;
    let fx = Fixture::new("cwd-user-only");
    let d = fx.rootfs.join("user-only");
    fs::create_dir(&d).unwrap();
    host_cmd(&["chown", &format!("0:{}", HOST + 1000), d.to_str().unwrap()]);
    fs::set_permissions(&d, fs::Permissions::from_mode(0o070)).unwrap();
    {
        let mut c = fx.config_mut();
        c["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": "user"}));
        let map = json!([{"containerID": 0, "hostID": HOST, "size": 65536}]);
        c["linux"]["uidMappings"] = map.clone();
        c["linux"]["gidMappings"] = map;
        c["process"]["user"] = json!({"uid": 1000, "gid": 1000});
        c["process"]["cwd"] = json!("/user-only");
    }
    assert_eq!(fx.run_sh("pwd; id -u"), "/user-only\n1000\n");
    // Nobody may enter it: a clean error naming process.cwd.
    fx.config_mut()["process"]["user"] = json!({"uid": 1001, "gid": 1001});
    fx.set_sh("pwd");
    let out = fx.run_container();
    assert_clean_error(&out);
    if is_husk() {
        assert!(
            stderr_str(&out).contains("process.cwd"),
            "{}",
            describe(&out)
        );
    }
}

// ---------------------------------------------------------------------------
// Resources of the process: rlimits, oom_score_adj, sysctl

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn rlimits_from_config() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("rlimits");
    fx.config_mut()["process"]["rlimits"] = json!([
        {"type": "RLIMIT_NOFILE", "soft": 512, "hard": 1024},
        {"type": "RLIMIT_NPROC", "soft": 100, "hard": 200},
        {"type": "RLIMIT_CORE", "soft": 0, "hard": 0},
    ]);
    let out = fx.run_sh("ulimit -n; cat /proc/self/limits");
    assert_eq!(out.lines().next(), Some("512"), "{out}");
    let limit = |name: &str| -> Vec<String> {
        let line = out
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("no {name} in:\n{out}"));
        line[name.len()..]
            .split_whitespace()
            .take(2)
            .map(String::from)
            .collect()
    };
    assert_eq!(limit("Max open files"), ["512", "1024"]);
    assert_eq!(limit("Max processes"), ["100", "200"]);
    assert_eq!(limit("Max core file size"), ["0", "0"]);
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn oom_score_adj_from_config() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("oom");
    fx.config_mut()["process"]["oomScoreAdj"] = json!(500);
    assert_eq!(fx.run_sh("cat /proc/self/oom_score_adj"), "500\n");
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn sysctl_from_config() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("sysctl");
    fx.config_mut()["linux"]["sysctl"] = json!({
        "net.ipv4.ip_forward": "1",
        "kernel.msgmax": "16384",
    });
    let out = fx.run_sh("cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/msgmax");
    assert_eq!(out, "1\n16384\n");
}

// ---------------------------------------------------------------------------
// Namespaces

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn init_is_pid_1() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("pid1");
    assert_eq!(fx.run_sh("echo $$"), "1\n");
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn namespaces_differ_from_the_host() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("ns");
    let kinds = ["net", "ipc", "uts", "mnt", "pid"];
    let script: String = kinds
        .iter()
        .map(|k| format!("readlink /proc/self/ns/{k}; "))
        .collect();
    let out = fx.run_sh(&script);
    let got: Vec<&str> = out.lines().collect();
    assert_eq!(got.len(), kinds.len(), "{out}");
    for (k, inside) in kinds.iter().zip(got) {
        assert!(inside.starts_with(&format!("{k}:[")), "{inside}");
        assert_ne!(inside, host_ns(k), "{k} namespace is the host's");
    }
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn namespace_not_in_config_is_the_hosts() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("ns-host");
    fx.config_mut()["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .retain(|n| n["type"] != "network" && n["type"] != "uts");
    fx.config_mut().as_object_mut().unwrap().remove("hostname");
    let out = fx.run_sh("for n in net uts ipc; do readlink /proc/self/ns/$n; done");
    let got: Vec<&str> = out.lines().collect();
    assert_eq!(got[0], host_ns("net"));
    assert_eq!(got[1], host_ns("uts"));
    assert_ne!(got[2], host_ns("ipc"));
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn join_network_namespace_by_path() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("ns-path");
    let helper = Helper::spawn(&["unshare", "--net", "sleep", "60"]);
    let ns_link = format!("/proc/{}/ns/net", helper.pid());
    let mut target = String::new();
    assert!(
        wait_until(Duration::from_secs(5), || {
            target = fs::read_link(&ns_link)
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default();
            !target.is_empty() && target != host_ns("net")
        }),
        "the helper did not get its own network namespace"
    );
    for n in fx.config_mut()["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
    {
        if n["type"] == "network" {
            n["path"] = json!(ns_link);
        }
    }
    assert_eq!(
        fx.run_sh("readlink /proc/self/ns/net"),
        format!("{target}\n")
    );
    drop(helper);
}

// ---------------------------------------------------------------------------
// Root filesystem and mounts

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn readonly_root() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("ro-root");
    let out = fx.run_sh(
        "touch /x 2>/dev/null && echo writable || echo readonly; touch /dev/shm/x && echo shm-ok",
    );
    assert_eq!(out, "readonly\nshm-ok\n");
    assert!(!fx.rootfs.join("x").exists());
    let mi = parse_mountinfo(&fx.run_sh("cat /proc/self/mountinfo"));
    let root = find_mount(&mi, "/").expect("a / mount");
    assert!(root.options.iter().any(|o| o == "ro"), "{root:?}");
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn writable_root() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("rw-root");
    fx.config_mut()["root"]["readonly"] = json!(false);
    let out = fx.run_sh("echo data > /x && echo writable");
    assert_eq!(out, "writable\n");
    assert_eq!(fs::read_to_string(fx.rootfs.join("x")).unwrap(), "data\n");
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn standard_mounts() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("std-mounts");
    let mi = parse_mountinfo(&fx.run_sh("cat /proc/self/mountinfo"));
    for (target, fstype) in [
        ("/proc", "proc"),
        ("/dev", "tmpfs"),
        ("/dev/pts", "devpts"),
        ("/dev/shm", "tmpfs"),
        ("/dev/mqueue", "mqueue"),
        ("/sys", "sysfs"),
    ] {
        let m = find_mount(&mi, target).unwrap_or_else(|| panic!("no {target} in {mi:#?}"));
        assert_eq!(m.fstype, fstype, "{m:?}");
    }
    let sys = find_mount(&mi, "/sys").unwrap();
    assert!(sys.options.iter().any(|o| o == "ro"), "{sys:?}");
    let dev = find_mount(&mi, "/dev").unwrap();
    assert!(dev.options.iter().any(|o| o == "nosuid"), "{dev:?}");
    assert!(dev.super_options.iter().any(|o| o == "mode=755"), "{dev:?}");
    let shm = find_mount(&mi, "/dev/shm").unwrap();
    for o in ["nosuid", "nodev", "noexec"] {
        assert!(shm.options.iter().any(|x| x == o), "{o} missing: {shm:?}");
    }
    // The cgroup mount is there (a tmpfs of per-hierarchy mounts on v1).
    assert!(find_mount(&mi, "/sys/fs/cgroup").is_some(), "{mi:#?}");
    // Nothing of the host's own mounts is visible.
    assert!(
        mi.iter().all(|m| !m.target.starts_with("/tmp/husk-tests")),
        "{mi:#?}"
    );
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn tmpfs_mount_with_options() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("tmpfs");
    fx.add_mount(
        "/data",
        "tmpfs",
        "tmpfs",
        &["nosuid", "nodev", "size=1m", "mode=700"],
    );
    let out = fx.run_sh("stat -c %a /data; echo ==mi==; cat /proc/self/mountinfo");
    assert_eq!(out.lines().next(), Some("700"), "{out}");
    let mi = parse_mountinfo(section(&out, "mi"));
    let m = find_mount(&mi, "/data").expect("/data mounted");
    assert_eq!(m.fstype, "tmpfs");
    assert!(m.super_options.iter().any(|o| o == "size=1024k"), "{m:?}");
    assert!(m.super_options.iter().any(|o| o == "mode=700"), "{m:?}");
    assert!(m.options.iter().any(|o| o == "nosuid"), "{m:?}");
    assert!(m.options.iter().any(|o| o == "nodev"), "{m:?}");
    // The mount point was created in the rootfs.
    assert!(fx.rootfs.join("data").is_dir());
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn bind_mounts_read_only_and_read_write() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("bind");
    let ro = fx.host_dir("ro");
    fs::write(ro.join("file"), "from-host\n").unwrap();
    fx.add_mount("/hostro", "bind", ro.to_str().unwrap(), &["bind", "ro"]);
    let rw = fx.bind_host_dir("rw", "/hostrw");
    let out = fx.run_sh(
        "cat /hostro/file; touch /hostro/new 2>/dev/null && echo ro-writable || echo ro-readonly; \
         echo from-container > /hostrw/file; echo ==mi==; cat /proc/self/mountinfo",
    );
    assert!(out.starts_with("from-host\nro-readonly\n"), "{out}");
    assert!(!ro.join("new").exists());
    assert_eq!(
        fs::read_to_string(rw.join("file")).unwrap(),
        "from-container\n"
    );
    let mi = parse_mountinfo(section(&out, "mi"));
    let m = find_mount(&mi, "/hostro").expect("/hostro mounted");
    assert!(m.options.iter().any(|o| o == "ro"), "{m:?}");
    let m = find_mount(&mi, "/hostrw").expect("/hostrw mounted");
    assert!(m.options.iter().any(|o| o == "rw"), "{m:?}");
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn bind_mount_propagation_options() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("bind-prop");
    let d = fx.host_dir("d");
    fx.add_mount(
        "/shared",
        "bind",
        d.to_str().unwrap(),
        &["rbind", "rshared"],
    );
    fx.add_mount(
        "/private",
        "bind",
        d.to_str().unwrap(),
        &["rbind", "rprivate"],
    );
    let mi = parse_mountinfo(&fx.run_sh("cat /proc/self/mountinfo"));
    let shared = find_mount(&mi, "/shared").expect("/shared mounted");
    assert!(
        shared.optional.iter().any(|o| o.starts_with("shared:")),
        "{shared:?}"
    );
    let private = find_mount(&mi, "/private").expect("/private mounted");
    assert!(private.optional.is_empty(), "{private:?}");
}

/// A host mount made under a shared bind-mount source after the container
/// was created reaches the container through an `rslave` bind mount, and
/// not through an `rprivate` one.
fn host_mount_propagation(name: &str, propagation: &str) -> bool {
    let fx = Fixture::new(name);
    let shared = fx.host_dir("shared");
    fs::create_dir_all(shared.join("sub")).unwrap();
    let sh = shared.to_str().unwrap();
    // Done by mount(8), under the fixture's directory only (which Fixture's
    // Drop unmounts): the test process itself never mounts.
    host_cmd(&["mount", "--bind", sh, sh]);
    host_cmd(&["mount", "--make-shared", sh]);
    fx.add_mount(
        "/prop",
        "bind",
        shared.to_str().unwrap(),
        &["rbind", propagation],
    );
    fx.set_sh(
        "i=0; while [ ! -e /prop/ready ] && [ $i -lt 500 ]; do sleep 0.02; i=$((i+1)); done; \
         grep -q ' /prop/sub ' /proc/self/mountinfo && echo yes || echo no",
    );
    fx.create();
    let (out, _) = fx.last_logs();
    let sub = shared.join("sub");
    host_cmd(&[
        "mount",
        "-t",
        "tmpfs",
        "-o",
        "size=1m",
        "tmpfs",
        sub.to_str().unwrap(),
    ]);
    fs::write(shared.join("ready"), "").unwrap();
    fx.run_ok(&["start", &fx.id]);
    fx.wait_status(&fx.id, "stopped");
    let text = fs::read_to_string(out).unwrap();
    match text.as_str() {
        "yes\n" => true,
        "no\n" => false,
        other => panic!("unexpected container output {other:?}"),
    }
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn rslave_bind_mount_receives_host_mounts() {
    if !require_root() {
        return;
    }
    assert!(
        host_mount_propagation("prop-slave", "rslave"),
        "the host mount did not propagate"
    );
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn rprivate_bind_mount_does_not_receive_host_mounts() {
    if !require_root() {
        return;
    }
    assert!(
        !host_mount_propagation("prop-private", "rprivate"),
        "the host mount propagated"
    );
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn rootfs_propagation_values() {
    if !require_root() {
        return;
    }
    let host_root_before: Vec<MountInfo> =
        parse_mountinfo(&fs::read_to_string("/proc/self/mountinfo").unwrap());
    let fx = Fixture::new("rootfs-prop");
    for prop in [
        "private", "rprivate", "slave", "rslave", "shared", "rshared",
    ] {
        fx.config_mut()["linux"]["rootfsPropagation"] = json!(prop);
        let out = fx.run_sh("echo ok");
        assert_eq!(out, "ok\n", "rootfsPropagation {prop}");
    }
    // The host's mounts' propagation is unchanged (a shared rootfs
    // propagation must not make the host's mounts shared).
    let after = parse_mountinfo(&fs::read_to_string("/proc/self/mountinfo").unwrap());
    for m in &host_root_before {
        if let Some(a) = after
            .iter()
            .find(|a| a.target == m.target && a.root == m.root)
        {
            assert_eq!(
                a.optional, m.optional,
                "propagation of {} changed",
                m.target
            );
        }
    }
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn no_pivot_run() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("no-pivot");
    fx.set_sh("echo no-pivot; cat /proc/self/mountinfo");
    let out = fx.husk(&["run", "--no-pivot", "--bundle", fx.bundle_str(), &fx.id]);
    assert!(out.status.success(), "{}", describe(&out));
    let text = stdout_str(&out);
    assert!(text.starts_with("no-pivot\n"), "{text}");
    let mi = parse_mountinfo(&text);
    assert!(find_mount(&mi, "/proc").is_some(), "{text}");
    assert!(
        mi.iter().all(|m| !m.target.starts_with("/tmp/husk-tests")),
        "{mi:#?}"
    );
    assert_nothing_left(&fx, &fx.id);
}

// ---------------------------------------------------------------------------
// Masked and read-only paths

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn masked_paths() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("masked");
    // A directory of the rootfs with contents, and a file, masked too.
    fs::create_dir_all(fx.rootfs.join("secret.d")).unwrap();
    fs::write(fx.rootfs.join("secret.d/key"), "k").unwrap();
    fs::write(fx.rootfs.join("secret.txt"), "s").unwrap();
    fx.config_mut()["linux"]["maskedPaths"]
        .as_array_mut()
        .unwrap()
        .extend([json!("/secret.d"), json!("/secret.txt")]);
    let masked: Vec<String> = fx.config()["linux"]["maskedPaths"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    // What exists depends on the kernel: check the paths the host has.
    let mut files = vec!["/secret.txt".to_string()];
    let mut dirs = vec!["/secret.d".to_string()];
    for p in &masked {
        if p.starts_with("/secret") {
            continue;
        }
        match fs::metadata(p) {
            Ok(m) if m.is_dir() => dirs.push(p.clone()),
            Ok(_) => files.push(p.clone()),
            Err(_) => {}
        }
    }
    let mut script = String::new();
    for f in &files {
        script += &format!("echo \"{f} $(stat -c '%F %t %T' {f}) $(cat {f} | wc -c)\"; ");
    }
    for d in &dirs {
        script += &format!(
            "echo \"{d} $(ls -A {d} | wc -l) $(touch {d}/x 2>/dev/null && echo rw || echo ro)\"; "
        );
    }
    let out = fx.run_sh(&script);
    let mut lines = out.lines();
    for f in &files {
        assert_eq!(
            lines.next(),
            Some(format!("{f} character special file 1 3 0").as_str()),
            "{out}"
        );
    }
    for d in &dirs {
        assert_eq!(lines.next(), Some(format!("{d} 0 ro").as_str()), "{out}");
    }
    // The rootfs itself is untouched.
    assert_eq!(
        fs::read_to_string(fx.rootfs.join("secret.txt")).unwrap(),
        "s"
    );
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn readonly_paths() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("ro-paths");
    fx.config_mut()["root"]["readonly"] = json!(false);
    fx.config_mut()["linux"]["readonlyPaths"]
        .as_array_mut()
        .unwrap()
        .push(json!("/tmp"));
    let out = fx.run_sh(
        "touch /tmp/x 2>/dev/null && echo tmp-rw || echo tmp-ro; \
         touch /x 2>/dev/null && echo root-rw || echo root-ro; \
         echo x > /proc/sys/kernel/hostname 2>/dev/null && echo sys-rw || echo sys-ro; \
         cat /proc/sys/kernel/hostname; echo ==mi==; cat /proc/self/mountinfo",
    );
    assert!(out.starts_with("tmp-ro\nroot-rw\nsys-ro\nhusk\n"), "{out}");
    let mi = parse_mountinfo(section(&out, "mi"));
    for p in ["/proc/sys", "/tmp"] {
        let m = find_mount(&mi, p).unwrap_or_else(|| panic!("{p} not mounted: {mi:#?}"));
        assert!(m.options.iter().any(|o| o == "ro"), "{m:?}");
    }
    for p in ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sysrq-trigger"] {
        if fs::metadata(p).is_ok() {
            let m = find_mount(&mi, p).unwrap_or_else(|| panic!("{p} not mounted: {mi:#?}"));
            assert!(m.options.iter().any(|o| o == "ro"), "{m:?}");
        }
    }
}

// ---------------------------------------------------------------------------
// Devices

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn default_devices() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("devices");
    let out = fx.run_sh(
        "for d in null zero full random urandom tty; do stat -c '%n %F %t %T %a' /dev/$d; done; \
         for l in ptmx fd stdin stdout stderr; do echo \"/dev/$l -> $(readlink /dev/$l)\"; done; \
         echo x > /dev/null && echo null-ok; head -c 4 /dev/zero | wc -c",
    );
    let want = "\
/dev/null character special file 1 3 666
/dev/zero character special file 1 5 666
/dev/full character special file 1 7 666
/dev/random character special file 1 8 666
/dev/urandom character special file 1 9 666
/dev/tty character special file 5 0 666
/dev/ptmx -> pts/ptmx
/dev/fd -> /proc/self/fd
/dev/stdin -> /proc/self/fd/0
/dev/stdout -> /proc/self/fd/1
/dev/stderr -> /proc/self/fd/2
null-ok
4
";
    assert_eq!(out, want);
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn device_from_config() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("device-fuse");
    fx.config_mut()["linux"]["devices"] = json!([{
        "path": "/dev/fuse", "type": "c", "major": 10, "minor": 229,
        "fileMode": 0o640, "uid": 0, "gid": 1000,
    }]);
    let out = fx.run_sh("stat -c '%F %t %T %a %u %g' /dev/fuse");
    assert_eq!(out, "character special file a e5 640 0 1000\n");
}

// ---------------------------------------------------------------------------
// Privileges: capabilities, no_new_privs

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn capabilities_from_config() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("caps");
    let out = fx.run_sh("cat /proc/self/status");
    // AUDIT_WRITE=29, KILL=5, NET_BIND_SERVICE=10.
    for key in ["CapBnd", "CapEff", "CapPrm"] {
        assert_eq!(
            status_field(&out, key),
            Some("0000000020000420"),
            "{key}:\n{out}"
        );
    }
    assert_eq!(
        status_field(&out, "CapInh"),
        Some("0000000000000000"),
        "{out}"
    );
    assert_eq!(
        status_field(&out, "CapAmb"),
        Some("0000000000000000"),
        "{out}"
    );

    // A different set: CHOWN (0) effective; CHOWN and SYS_ADMIN (21) bounding.
    fx.config_mut()["process"]["capabilities"] = json!({
        "bounding": ["CAP_CHOWN", "CAP_SYS_ADMIN"],
        "effective": ["CAP_CHOWN"],
        "permitted": ["CAP_CHOWN"],
    });
    let out = fx.run_sh("cat /proc/self/status");
    assert_eq!(
        status_field(&out, "CapBnd"),
        Some("0000000000200001"),
        "{out}"
    );
    assert_eq!(
        status_field(&out, "CapEff"),
        Some("0000000000000001"),
        "{out}"
    );
    assert_eq!(
        status_field(&out, "CapPrm"),
        Some("0000000000000001"),
        "{out}"
    );
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn no_capabilities_field_means_no_capabilities() {
    if !require_root() {
        return;
    }
    // runc drops every set when process.capabilities is absent; husk used to
    // leave root's full set.
    let fx = Fixture::new("caps-absent");
    fx.config_mut()["process"]
        .as_object_mut()
        .unwrap()
        .remove("capabilities");
    let out = fx.run_sh("cat /proc/self/status");
    for set in ["CapBnd", "CapEff", "CapPrm", "CapInh", "CapAmb"] {
        assert_eq!(
            status_field(&out, set),
            Some("0000000000000000"),
            "{set}: {out}"
        );
    }
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn no_capabilities_for_a_non_root_user() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("caps-user");
    fx.config_mut()["process"]["user"] = json!({"uid": 1000, "gid": 1000});
    let out = fx.run_sh("cat /proc/self/status");
    assert_eq!(
        status_field(&out, "CapBnd"),
        Some("0000000020000420"),
        "{out}"
    );
    assert_eq!(
        status_field(&out, "CapEff"),
        Some("0000000000000000"),
        "{out}"
    );
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn no_new_privileges() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("nnp");
    assert_eq!(
        status_field(&fx.run_sh("cat /proc/self/status"), "NoNewPrivs"),
        Some("1")
    );
    fx.config_mut()["process"]["noNewPrivileges"] = json!(false);
    assert_eq!(
        status_field(&fx.run_sh("cat /proc/self/status"), "NoNewPrivs"),
        Some("0")
    );
}
