//! Rootless: the runtime run by an unprivileged user, and rootless Podman
//! with `--runtime` pointing at it.
//!
//! Each test makes its own user `husk-rl-<pid>-<n>` (useradd -m; Debian's
//! useradd gives it /etc/subuid and /etc/subgid ranges, added here when it
//! does not), an XDG_RUNTIME_DIR it owns, and a bundle, and runs the
//! runtime as that user through setpriv with a clean environment. The
//! [`RlUser`] guard kills the user's processes (and those running as its
//! subordinate ids), removes the user, its ranges, home and files, also
//! when the test fails; users left by a killed test process are removed by
//! the next one.
//!
//! The runtime is a copy of husk (or `HUSK_TEST_RUNTIME`, e.g.
//! /usr/sbin/runc: the assertions hold for runc 1.1.5 unless gated on
//! `is_husk`). On a cgroup v1 host (or v2 without delegation) the
//! containers have no cgroup: `--rootless auto` ignores that, limits fail.

mod common;

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use common::*;
use serde_json::{json, Value};

static COUNTER: AtomicUsize = AtomicUsize::new(0);
/// useradd and userdel lock /etc/passwd: one at a time.
static USERDB: Mutex<()> = Mutex::new(());
const PREFIX: &str = "husk-rl-";

fn have(prog: &str) -> bool {
    ["/usr/bin", "/usr/sbin", "/bin", "/sbin"]
        .iter()
        .any(|d| Path::new(d).join(prog).exists())
}

fn host(args: &[&str]) -> Output {
    Command::new(args[0])
        .args(&args[1..])
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {args:?}: {e}"))
}

/// `NAME:START:COUNT` of `name` in /etc/subuid or /etc/subgid.
fn sub_range(file: &str, name: &str) -> Option<(u32, u32)> {
    let text = fs::read_to_string(file).ok()?;
    text.lines().find_map(|l| {
        let mut f = l.split(':');
        (f.next()? == name).then_some(())?;
        Some((f.next()?.parse().ok()?, f.next()?.parse().ok()?))
    })
}

/// Processes whose real uid is `uid` or in `range`.
fn pids_of(uid: u32, range: Option<(u32, u32)>) -> Vec<i32> {
    let mut out = Vec::new();
    let me = std::process::id() as i32;
    for e in fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        if pid == me {
            continue;
        }
        let Ok(status) = fs::read_to_string(e.path().join("status")) else {
            continue;
        };
        let Some(ruid) = status
            .lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|l| l.split_whitespace().next())
            .and_then(|u| u.parse::<u32>().ok())
        else {
            continue;
        };
        let sub = range.is_some_and(|(s, n)| ruid >= s && ruid < s + n);
        if ruid == uid || sub {
            out.push(pid);
        }
    }
    out
}

/// Kills (by pid) every process of the user and of its subordinate ids.
fn kill_user_processes(uid: u32, range: Option<(u32, u32)>) {
    for _ in 0..100 {
        let pids = pids_of(uid, range);
        if pids.is_empty() {
            return;
        }
        for pid in pids {
            // SAFETY: plain syscall on a pid of our test user.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Removes user `name` and everything of it (processes, ranges, home,
/// test directory).
fn remove_user(name: &str, dir: &Path) {
    let _db = USERDB.lock().unwrap_or_else(|e| e.into_inner());
    let uid = host(&["id", "-u", name]);
    let range = sub_range("/etc/subuid", name);
    if uid.status.success() {
        let uid: u32 = String::from_utf8_lossy(&uid.stdout)
            .trim()
            .parse()
            .unwrap_or(0);
        if uid != 0 {
            kill_user_processes(uid, range);
            // rootless Podman's lock file, which outlives the user.
            let _ = fs::remove_file(format!("/dev/shm/libpod_rootless_lock_{uid}"));
        }
    }
    umount_under(dir);
    let _ = fs::remove_dir_all(dir);
    let out = host(&["userdel", "-r", "-f", name]);
    // userdel removes the ranges too; make sure, without leaving others'.
    for file in ["/etc/subuid", "/etc/subgid"] {
        if let Ok(text) = fs::read_to_string(file) {
            let prefix = format!("{name}:");
            if text.lines().any(|l| l.starts_with(&prefix)) {
                let kept: String = text
                    .lines()
                    .filter(|l| !l.starts_with(&prefix))
                    .map(|l| format!("{l}\n"))
                    .collect();
                let _ = fs::write(file, kept);
            }
        }
    }
    let _ = out;
}

/// Users and directories left by test processes that no longer exist.
fn sweep_stale_users() {
    static SWEPT: OnceLock<()> = OnceLock::new();
    SWEPT.get_or_init(|| {
        let text = fs::read_to_string("/etc/passwd").unwrap_or_default();
        for l in text.lines() {
            let name = l.split(':').next().unwrap_or_default();
            let Some(rest) = name.strip_prefix(PREFIX) else {
                continue;
            };
            let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
                continue;
            };
            if pid == std::process::id() || Path::new(&format!("/proc/{pid}")).exists() {
                continue;
            }
            remove_user(name, &Path::new(TEST_BASE).join(name));
        }
    });
}

/// A user made for one test, removed (with all it left) when dropped.
struct RlUser {
    name: String,
    uid: u32,
    gid: u32,
    /// /tmp/husk-tests/<name>: the user's bundle, runtime copy and
    /// XDG_RUNTIME_DIR live here.
    dir: PathBuf,
    xdg: PathBuf,
    home: PathBuf,
    /// The runtime the user runs (a copy of husk it can read, or runc).
    runtime: String,
    subuid: (u32, u32),
    subgid: (u32, u32),
}

impl RlUser {
    fn new() -> Option<RlUser> {
        if !require_root() {
            return None;
        }
        if !have("useradd") || !have("setpriv") {
            eprintln!("skipped: useradd and setpriv are needed");
            return None;
        }
        sweep_stale_users();
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let name = format!("{PREFIX}{}-{n}", std::process::id());
        let dir = Path::new(TEST_BASE).join(&name);
        {
            let _db = USERDB.lock().unwrap_or_else(|e| e.into_inner());
            let out = host(&["useradd", "-m", "-s", "/bin/sh", &name]);
            assert!(out.status.success(), "useradd {name}: {}", describe(&out));
        }
        // From here on, Drop removes the user.
        let mut u = RlUser {
            name: name.clone(),
            uid: 0,
            gid: 0,
            dir: dir.clone(),
            xdg: dir.join("xdg"),
            home: PathBuf::new(),
            runtime: String::new(),
            subuid: (0, 0),
            subgid: (0, 0),
        };
        let id = |flag: &str| -> u32 {
            let out = host(&["id", flag, &name]);
            String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
        };
        u.uid = id("-u");
        u.gid = id("-g");
        u.home = PathBuf::from(
            String::from_utf8_lossy(&host(&["getent", "passwd", &name]).stdout)
                .trim()
                .split(':')
                .nth(5)
                .unwrap_or_default()
                .to_string(),
        );
        if sub_range("/etc/subuid", &name).is_none() || sub_range("/etc/subgid", &name).is_none() {
            // useradd without SUB_UID_* in login.defs: a range of our own.
            let start = 400_000 + (std::process::id() % 1000) * 65536 * 4 + n as u32 * 65536;
            let r = format!("{start}-{}", start + 65535);
            let _db = USERDB.lock().unwrap_or_else(|e| e.into_inner());
            let out = host(&["usermod", "--add-subuids", &r, "--add-subgids", &r, &name]);
            assert!(out.status.success(), "usermod: {}", describe(&out));
        }
        u.subuid = sub_range("/etc/subuid", &name).unwrap();
        u.subgid = sub_range("/etc/subgid", &name).unwrap();
        fs::create_dir_all(&u.xdg).unwrap();
        fs::set_permissions(TEST_BASE, fs::Permissions::from_mode(0o755)).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        chown(&u.xdg, u.uid, u.gid);
        fs::set_permissions(&u.xdg, fs::Permissions::from_mode(0o700)).unwrap();
        u.runtime = if is_husk() {
            // The test binary's target dir may not be readable by others.
            let copy = dir.join("husk");
            fs::copy(runtime(), &copy).unwrap();
            fs::set_permissions(&copy, fs::Permissions::from_mode(0o755)).unwrap();
            copy.to_string_lossy().into_owned()
        } else {
            runtime()
        };
        Some(u)
    }

    /// The state directory the runtime uses by default for this user.
    fn default_root(&self) -> PathBuf {
        let base = if is_husk() {
            "husk".to_string()
        } else {
            Path::new(&self.runtime)
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        };
        self.xdg.join(base)
    }

    /// A command run as the user, in a clean environment, from `cwd`.
    fn cmd(&self, cwd: &Path, prog: &str) -> Command {
        let mut c = Command::new("setpriv");
        c.args([
            &format!("--reuid={}", self.uid),
            &format!("--regid={}", self.gid),
            "--init-groups",
            "--",
            "env",
            "-i",
            "PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
            &format!("HOME={}", self.home.display()),
            &format!("USER={}", self.name),
            &format!("LOGNAME={}", self.name),
            &format!("XDG_RUNTIME_DIR={}", self.xdg.display()),
            prog,
        ]);
        c.current_dir(cwd);
        c
    }

    /// Runs `prog args` as the user (stdin /dev/null), with a time limit.
    fn run(&self, cwd: &Path, prog: &str, args: &[&str], timeout: Duration) -> Output {
        let mut c = self.cmd(cwd, prog);
        c.args(args);
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let logs = self.dir.join("logs");
        let _ = fs::create_dir_all(&logs);
        run_with_timeout(
            c,
            &logs.join(format!("{n}.out")),
            &logs.join(format!("{n}.err")),
            timeout,
        )
    }

    /// The runtime as the user.
    fn rt(&self, cwd: &Path, args: &[&str]) -> Output {
        self.run(cwd, &self.runtime, args, COMMAND_TIMEOUT)
    }

    fn rt_ok(&self, cwd: &Path, args: &[&str]) -> Output {
        let out = self.rt(cwd, args);
        assert!(out.status.success(), "{args:?}: {}", describe(&out));
        out
    }

    /// A bundle with a busybox rootfs and the config of `spec --rootless`
    /// (made by the user), terminal off, running `args`.
    fn bundle(&self, name: &str, args: &[&str]) -> Bundle {
        let dir = self.dir.join(name);
        fs::create_dir_all(&dir).unwrap();
        make_rootfs(&dir.join("rootfs"));
        chown(&dir, self.uid, self.gid);
        self.rt_ok(&dir, &["spec", "--rootless"]);
        let b = Bundle { dir };
        let mut c = b.config();
        c["process"]["terminal"] = json!(false);
        c["process"]["args"] = json!(args);
        b.set_config(&c);
        b
    }
}

impl Drop for RlUser {
    fn drop(&mut self) {
        if !self.name.is_empty() {
            remove_user(&self.name, &self.dir);
        }
    }
}

fn chown(p: &Path, uid: u32, gid: u32) {
    std::os::unix::fs::chown(p, Some(uid), Some(gid))
        .unwrap_or_else(|e| panic!("chown {}: {e}", p.display()));
}

struct Bundle {
    dir: PathBuf,
}

impl Bundle {
    fn config(&self) -> Value {
        let p = self.dir.join("config.json");
        serde_json::from_str(&fs::read_to_string(&p).unwrap()).unwrap()
    }
    fn set_config(&self, v: &Value) {
        fs::write(
            self.dir.join("config.json"),
            serde_json::to_string_pretty(v).unwrap(),
        )
        .unwrap();
    }
    fn edit(&self, f: impl FnOnce(&mut Value)) {
        let mut c = self.config();
        f(&mut c);
        self.set_config(&c);
    }
}

fn status_of(u: &RlUser, b: &Bundle, id: &str) -> String {
    let out = u.rt(&b.dir, &["state", id]);
    if !out.status.success() {
        return "gone".into();
    }
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    v["status"].as_str().unwrap_or_default().to_string()
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn rootless_run_maps_the_user_to_root() {
    let Some(u) = RlUser::new() else { return };
    let b = u.bundle(
        "b",
        &[
            "sh",
            "-c",
            "id -u; id -g; cat /proc/self/uid_map /proc/self/setgroups",
        ],
    );
    let out = u.rt_ok(&b.dir, &["run", "c1"]);
    let text = stdout_str(&out);
    let words: Vec<&str> = text.split_whitespace().collect();
    assert_eq!(
        words,
        ["0", "0", "0", &u.uid.to_string(), "1", "deny"],
        "{}",
        describe(&out)
    );
    // The default --root, private and sticky as runc makes it.
    let root = u.default_root();
    let md = fs::metadata(&root).unwrap_or_else(|e| panic!("{}: {e}", root.display()));
    assert_eq!(md.uid(), u.uid);
    assert_eq!(
        md.permissions().mode() & 0o7777,
        0o1700,
        "{}",
        root.display()
    );
    // run removed the container.
    let list = u.rt_ok(&b.dir, &["list", "-q"]);
    assert_eq!(stdout_str(&list), "");
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn rootless_create_start_exec_kill_delete() {
    let Some(u) = RlUser::new() else { return };
    let b = u.bundle("b", &["sleep", "1000"]);
    u.rt_ok(&b.dir, &["create", "c1"]);
    assert_eq!(status_of(&u, &b, "c1"), "created");
    u.rt_ok(&b.dir, &["start", "c1"]);
    assert_eq!(status_of(&u, &b, "c1"), "running");
    let st: Value = serde_json::from_slice(&u.rt_ok(&b.dir, &["state", "c1"]).stdout).unwrap();
    let pid = st["pid"].as_i64().unwrap() as i32;
    // The init runs as the user on the host.
    let host_uid = fs::metadata(format!("/proc/{pid}")).unwrap().uid();
    assert_eq!(host_uid, u.uid);
    // list: the container, owned by the user.
    let list = u.rt_ok(&b.dir, &["list", "--format", "json"]);
    let items: Value = serde_json::from_slice(&list.stdout).unwrap();
    assert_eq!(items[0]["id"], "c1", "{}", describe(&list));
    assert_eq!(items[0]["status"], "running");
    assert_eq!(items[0]["owner"], json!(u.name));
    // exec: root in the container, in its namespaces.
    let out = u.rt_ok(
        &b.dir,
        &["exec", "c1", "sh", "-c", "id -u; readlink /proc/1/exe"],
    );
    assert_eq!(stdout_str(&out), "0\n/bin/busybox\n", "{}", describe(&out));
    // kill, then delete.
    u.rt_ok(&b.dir, &["kill", "c1", "KILL"]);
    assert!(
        wait_until(STATE_TIMEOUT, || status_of(&u, &b, "c1") == "stopped"),
        "c1 did not stop"
    );
    u.rt_ok(&b.dir, &["delete", "c1"]);
    assert_eq!(status_of(&u, &b, "c1"), "gone");
    assert!(!process_alive(pid));
    let list = u.rt_ok(&b.dir, &["list", "-q"]);
    assert_eq!(stdout_str(&list), "");
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn rootless_explicit_root_and_delete_force() {
    let Some(u) = RlUser::new() else { return };
    let b = u.bundle("b", &["sleep", "1000"]);
    let root = u.xdg.join("elsewhere");
    let r = root.to_str().unwrap();
    u.rt_ok(&b.dir, &["--root", r, "run", "-d", "c1"]);
    assert!(root.join("c1").is_dir());
    let out = u.rt(&b.dir, &["--root", r, "delete", "c1"]);
    assert!(!out.status.success(), "delete of a running container");
    u.rt_ok(&b.dir, &["--root", r, "delete", "-f", "c1"]);
    assert!(!root.join("c1").exists());
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn rootless_ps_and_kill_all_without_cgroup() {
    // runc 1.1.5 fails both without a cgroup ("lstat : no such file").
    if !is_husk() {
        return;
    }
    let Some(u) = RlUser::new() else { return };
    let b = u.bundle("b", &["sh", "-c", "sleep 1000 & exec sleep 1001"]);
    u.rt_ok(&b.dir, &["run", "-d", "c1"]);
    let ok = wait_until(STATE_TIMEOUT, || {
        let ps = u.rt(&b.dir, &["ps", "--format", "json", "c1"]);
        serde_json::from_slice::<Vec<i32>>(&ps.stdout).is_ok_and(|p| p.len() == 2)
    });
    assert!(ok, "ps --format json did not list 2 processes");
    let pids: Vec<i32> =
        serde_json::from_slice(&u.rt_ok(&b.dir, &["ps", "--format", "json", "c1"]).stdout).unwrap();
    u.rt_ok(&b.dir, &["kill", "--all", "c1", "KILL"]);
    assert!(wait_until(STATE_TIMEOUT, || pids
        .iter()
        .all(|p| !process_alive(*p))));
    u.rt_ok(&b.dir, &["delete", "c1"]);
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn rootless_multiple_ranges_through_newuidmap() {
    let Some(u) = RlUser::new() else { return };
    if !have("newuidmap") || !have("newgidmap") {
        eprintln!("skipped: newuidmap/newgidmap (package uidmap) are needed");
        return;
    }
    let b = u.bundle(
        "b",
        &[
            "sh",
            "-c",
            "cat /proc/self/uid_map /proc/self/gid_map /proc/self/setgroups; \
             touch /tmp/f && chown 1000:1000 /tmp/f && stat -c %u:%g /tmp/f",
        ],
    );
    let (su, sg) = (u.subuid, u.subgid);
    b.edit(|c| {
        c["linux"]["uidMappings"] = json!([
            {"containerID": 0, "hostID": u.uid, "size": 1},
            {"containerID": 1, "hostID": su.0, "size": su.1}
        ]);
        c["linux"]["gidMappings"] = json!([
            {"containerID": 0, "hostID": u.gid, "size": 1},
            {"containerID": 1, "hostID": sg.0, "size": sg.1}
        ]);
        for set in ["bounding", "effective", "permitted"] {
            c["process"]["capabilities"][set]
                .as_array_mut()
                .unwrap()
                .push(json!("CAP_CHOWN"));
        }
        // A tmpfs /tmp: the file's host owner is checked through the map.
        c["mounts"]
            .as_array_mut()
            .unwrap()
            .push(json!({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs"}));
    });
    let out = u.rt_ok(&b.dir, &["run", "c1"]);
    let words: Vec<String> = stdout_str(&out)
        .split_whitespace()
        .map(String::from)
        .collect();
    let want: Vec<String> = [
        "0".to_string(),
        u.uid.to_string(),
        "1".into(),
        "1".into(),
        su.0.to_string(),
        su.1.to_string(),
        "0".into(),
        u.gid.to_string(),
        "1".into(),
        "1".into(),
        sg.0.to_string(),
        sg.1.to_string(),
        // newgidmap allows setgroups for ranges granted in /etc/subgid.
        "allow".into(),
        "1000:1000".into(),
    ]
    .into();
    assert_eq!(words, want, "{}", describe(&out));
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn rootless_map_not_granted_fails_naming_the_field() {
    let Some(u) = RlUser::new() else { return };
    let b = u.bundle("b", &["true"]);
    // Ids the user was not given in /etc/subuid.
    let other = u.subuid.0 + u.subuid.1 + 1_000_000;
    b.edit(|c| {
        c["linux"]["uidMappings"] = json!([
            {"containerID": 0, "hostID": u.uid, "size": 1},
            {"containerID": 1, "hostID": other, "size": 10}
        ]);
    });
    let out = u.rt(&b.dir, &["run", "c1"]);
    assert!(!out.status.success(), "{}", describe(&out));
    if is_husk() {
        let err = stderr_str(&out);
        assert!(err.contains("linux.uidMappings"), "{}", describe(&out));
        assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    }
    // Nothing left behind.
    let list = u.rt_ok(&b.dir, &["list", "-q"]);
    assert_eq!(stdout_str(&list), "", "{}", describe(&list));
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn rootless_devices_are_bind_mounted() {
    let Some(u) = RlUser::new() else { return };
    let b = u.bundle(
        "b",
        &["sh", "-c", "stat -c '%t:%T' /dev/null /dev/zero /dev/fuse"],
    );
    b.edit(|c| {
        c["linux"]["devices"] = json!([
            {"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229}
        ]);
    });
    let out = u.rt_ok(&b.dir, &["run", "c1"]);
    assert_eq!(stdout_str(&out), "1:3\n1:5\na:e5\n", "{}", describe(&out));
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn rootless_limits_without_cgroup_delegation_fail() {
    let Some(u) = RlUser::new() else { return };
    if Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
        // Pure v2: whether this user has a delegated subtree depends on
        // the host (tests/cgv2.sh covers delegation).
        eprintln!("skipped: only meaningful without delegation (cgroup v1)");
        return;
    }
    let b = u.bundle("b", &["true"]);
    b.edit(|c| c["linux"]["resources"] = json!({"memory": {"limit": 100_000_000}}));
    let out = u.rt(&b.dir, &["run", "c1"]);
    assert!(!out.status.success(), "{}", describe(&out));
    if is_husk() {
        let err = stderr_str(&out);
        assert!(
            err.contains("linux.resources") && err.contains("rootless"),
            "{}",
            describe(&out)
        );
    }
    // --rootless=false: no cgroup error is ignored.
    b.edit(|c| c["linux"]["resources"] = json!({}));
    let out = u.rt(&b.dir, &["--rootless", "false", "run", "c2"]);
    assert!(!out.status.success(), "{}", describe(&out));
    assert!(
        stderr_str(&out).contains("ermission denied"),
        "{}",
        describe(&out)
    );
    // An explicit cgroupsPath the user may not create is an error too.
    b.edit(|c| c["linux"]["cgroupsPath"] = json!("/husk-rl-forbidden/c3"));
    let out = u.rt(&b.dir, &["run", "c3"]);
    assert!(!out.status.success(), "{}", describe(&out));
    for m in cgroup_mounts() {
        assert!(!m.join("husk-rl-forbidden").exists());
    }
    let _ = u.rt(&b.dir, &["delete", "-f", "c1"]);
    let _ = u.rt(&b.dir, &["delete", "-f", "c2"]);
    let _ = u.rt(&b.dir, &["delete", "-f", "c3"]);
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn rootless_without_user_namespace_fails_with_one_line() {
    let Some(u) = RlUser::new() else { return };
    let b = u.bundle("b", &["true"]);
    b.edit(|c| {
        let ns = c["linux"]["namespaces"].as_array_mut().unwrap();
        ns.retain(|n| n["type"] != "user");
    });
    let out = u.rt(&b.dir, &["run", "c1"]);
    assert!(!out.status.success(), "{}", describe(&out));
    if is_husk() {
        let err = stderr_str(&out);
        assert!(
            err.contains("user namespace") && err.trim().lines().count() == 1,
            "{}",
            describe(&out)
        );
    }
    let _ = u.rt(&b.dir, &["delete", "-f", "c1"]);
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn rootless_flag_values() {
    let Some(u) = RlUser::new() else { return };
    let b = u.bundle("b", &["true"]);
    for v in ["true", "auto", "1"] {
        let id = format!("c-{v}");
        u.rt_ok(&b.dir, &["--rootless", v, "run", &id]);
    }
    // Read by create and run only (runc's list ignores it).
    let out = u.rt(&b.dir, &["--rootless", "maybe", "run", "c-maybe"]);
    assert!(!out.status.success(), "{}", describe(&out));
    if is_husk() {
        assert!(
            stderr_str(&out).contains("--rootless"),
            "{}",
            describe(&out)
        );
    }
    let list = u.rt_ok(&b.dir, &["list", "-q"]);
    assert_eq!(stdout_str(&list), "", "{}", describe(&list));
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn rootless_network_command_is_root_only() {
    if !is_husk() {
        return;
    }
    let Some(u) = RlUser::new() else { return };
    let out = u.rt(&u.xdg, &["network", "ls"]);
    assert!(!out.status.success(), "{}", describe(&out));
    let err = stderr_str(&out);
    assert!(err.contains("needs root"), "{}", describe(&out));
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn rootless_terminal() {
    let Some(u) = RlUser::new() else { return };
    if !have("script") {
        eprintln!("skipped: script (bsdutils) is needed");
        return;
    }
    let b = u.bundle("b", &["sh", "-c", "tty; exit 3"]);
    b.edit(|c| c["process"]["terminal"] = json!(true));
    let cmd = format!("{} run c1", u.runtime);
    let out = u.run(
        &b.dir,
        "script",
        &["-qec", &cmd, "/dev/null"],
        COMMAND_TIMEOUT,
    );
    assert_eq!(out.status.code(), Some(3), "{}", describe(&out));
    assert!(
        stdout_str(&out).contains("/dev/pts/0"),
        "{}",
        describe(&out)
    );
}

// ---------------------------------------------------------------------------
// Rootless Podman with --runtime

/// Podman as the user, with the runtime under test; no network of its own
/// (see README: this VM's /dev/net/tun is 0600, so slirp4netns cannot
/// open it as a user).
fn podman(u: &RlUser, args: &[&str], timeout: Duration) -> Output {
    let mut full = vec!["--runtime", u.runtime.as_str()];
    full.extend_from_slice(args);
    u.run(&u.home, "podman", &full, timeout)
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn rootless_podman_run_exec_volume_tty() {
    let Some(u) = RlUser::new() else { return };
    if !have("podman") {
        eprintln!("skipped: podman is needed");
        return;
    }
    let long = Duration::from_secs(120);
    // A local image: a tarball of the busybox rootfs.
    let rootfs = u.dir.join("img");
    make_rootfs(&rootfs);
    let tar = u.dir.join("img.tar");
    let out = host(&[
        "tar",
        "-C",
        rootfs.to_str().unwrap(),
        "-cf",
        tar.to_str().unwrap(),
        ".",
    ]);
    assert!(out.status.success(), "{}", describe(&out));
    let out = podman(
        &u,
        &["import", tar.to_str().unwrap(), "localhost/husk-rl-busybox"],
        long,
    );
    assert!(out.status.success(), "podman import: {}", describe(&out));
    let img = "localhost/husk-rl-busybox";

    // run
    let out = podman(
        &u,
        &[
            "run",
            "--rm",
            "--network",
            "none",
            img,
            "sh",
            "-c",
            "id -u; cat /proc/self/uid_map",
        ],
        long,
    );
    assert!(out.status.success(), "podman run: {}", describe(&out));
    let text = stdout_str(&out);
    assert!(text.starts_with("0\n"), "{}", describe(&out));
    assert!(
        text.contains(&format!(" {} ", u.subuid.0)),
        "the subordinate ids are mapped: {}",
        describe(&out)
    );

    // a detached container, exec, and a volume the user owns
    let vol = u.home.join("vol");
    fs::create_dir_all(&vol).unwrap();
    chown(&vol, u.uid, u.gid);
    let v = format!("{}:/vol", vol.display());
    let out = podman(
        &u,
        &[
            "run",
            "-d",
            "--name",
            "p1",
            "--network",
            "none",
            "-v",
            &v,
            img,
            "sleep",
            "1000",
        ],
        long,
    );
    assert!(out.status.success(), "podman run -d: {}", describe(&out));
    let out = podman(
        &u,
        &["exec", "p1", "sh", "-c", "echo written > /vol/f; id -u"],
        long,
    );
    assert!(out.status.success(), "podman exec: {}", describe(&out));
    assert_eq!(stdout_str(&out), "0\n");
    let f = vol.join("f");
    assert_eq!(fs::read_to_string(&f).unwrap(), "written\n");
    assert_eq!(fs::metadata(&f).unwrap().uid(), u.uid, "the user owns it");
    let out = podman(&u, &["rm", "-f", "-t", "0", "p1"], long);
    assert!(out.status.success(), "podman rm: {}", describe(&out));

    // a terminal: podman run -it under script(1), commands on stdin
    if have("script") {
        let cmd = format!(
            "podman --runtime {} run --rm -it --network none {img} sh",
            u.runtime
        );
        let input = u.dir.join("tty-input");
        fs::write(&input, "tty; echo in-tty; exit 3\n").unwrap();
        let (o, e) = (u.dir.join("tty.out"), u.dir.join("tty.err"));
        let mut c = u.cmd(&u.home, "script");
        c.args(["-qec", &cmd, "/dev/null"]);
        c.stdin(fs::File::open(&input).unwrap())
            .stdout(fs::File::create(&o).unwrap())
            .stderr(fs::File::create(&e).unwrap());
        let mut child = c.spawn().unwrap();
        let status = wait_timeout(&mut child, long).unwrap_or_else(|| {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "podman run -it did not finish: {}",
                fs::read_to_string(&o).unwrap_or_default()
            )
        });
        let out = Output {
            status,
            stdout: fs::read(&o).unwrap_or_default(),
            stderr: fs::read(&e).unwrap_or_default(),
        };
        assert_eq!(
            out.status.code(),
            Some(3),
            "podman run -it: {}",
            describe(&out)
        );
        let text = stdout_str(&out);
        assert!(
            text.contains("/dev/pts/0") && text.contains("in-tty"),
            "{}",
            describe(&out)
        );
    }
}

// ---------------------------------------------------------------------------
// cgroup v2 with a subtree delegated to the user (tests/cgv2.sh runs these
// in its qemu guest with HUSK_TEST_CGV2_DELEGATE=1; elsewhere they skip:
// they create a cgroup at the root of the host's cgroup2 mount).

/// `/sys/fs/cgroup/<user>` delegated as systemd delegates (the directory
/// and its cgroup.procs, cgroup.subtree_control and cgroup.threads belong
/// to the user), with `shell/` for the user's processes; removed on drop.
struct Delegated {
    dir: PathBuf,
}

impl Delegated {
    fn new(u: &RlUser) -> Option<Delegated> {
        let base = Path::new("/sys/fs/cgroup");
        if !base.join("cgroup.controllers").exists()
            || std::env::var_os("HUSK_TEST_CGV2_DELEGATE").is_none_or(|v| v != "1")
        {
            eprintln!("skipped: needs cgroup v2 and HUSK_TEST_CGV2_DELEGATE=1 (tests/cgv2.sh)");
            return None;
        }
        let dir = base.join(&u.name);
        fs::create_dir(&dir).unwrap();
        let d = Delegated { dir: dir.clone() };
        for f in [
            "",
            "cgroup.procs",
            "cgroup.subtree_control",
            "cgroup.threads",
        ] {
            chown(&dir.join(f), u.uid, u.gid);
        }
        fs::create_dir(dir.join("shell")).unwrap();
        chown(&dir.join("shell"), u.uid, u.gid);
        chown(&dir.join("shell/cgroup.procs"), u.uid, u.gid);
        Some(d)
    }

    /// `cmd` started in `shell/` (a root shell moves itself there first).
    fn wrap(&self, cmd: Command) -> Command {
        let mut c = Command::new("sh");
        c.arg("-c")
            .arg("echo $$ > \"$0/shell/cgroup.procs\" && exec \"$@\"")
            .arg(&self.dir)
            .arg(cmd.get_program())
            .args(cmd.get_args());
        if let Some(d) = cmd.get_current_dir() {
            c.current_dir(d);
        }
        c
    }
}

impl Drop for Delegated {
    fn drop(&mut self) {
        // The user's processes are killed by RlUser's drop, after ours:
        // kill what is in the subtree now, then remove it, deepest first.
        fn walk(d: &Path, out: &mut Vec<PathBuf>) {
            for e in fs::read_dir(d).into_iter().flatten().flatten() {
                if e.file_type().is_ok_and(|t| t.is_dir()) {
                    walk(&e.path(), out);
                }
            }
            out.push(d.to_path_buf());
        }
        let mut dirs = Vec::new();
        walk(&self.dir, &mut dirs);
        for _ in 0..100 {
            let mut left = false;
            for d in &dirs {
                for p in fs::read_to_string(d.join("cgroup.procs"))
                    .unwrap_or_default()
                    .lines()
                    .filter_map(|l| l.parse::<i32>().ok())
                {
                    // SAFETY: plain syscall on a process of the test's cgroup.
                    unsafe { libc::kill(p, libc::SIGKILL) };
                    left = true;
                }
            }
            if !left {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        for d in &dirs {
            for _ in 0..100 {
                if fs::remove_dir(d).is_ok() || !d.exists() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

impl RlUser {
    /// The runtime as the user, from the delegated `shell/` cgroup.
    fn rt_in(&self, dg: &Delegated, cwd: &Path, args: &[&str]) -> Output {
        let mut c = self.cmd(cwd, &self.runtime);
        c.args(args);
        let c = dg.wrap(c);
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let logs = self.dir.join("logs");
        let _ = fs::create_dir_all(&logs);
        run_with_timeout(
            c,
            &logs.join(format!("{n}.out")),
            &logs.join(format!("{n}.err")),
            COMMAND_TIMEOUT * 4,
        )
    }

    fn rt_in_ok(&self, dg: &Delegated, cwd: &Path, args: &[&str]) -> Output {
        let out = self.rt_in(dg, cwd, args);
        assert!(out.status.success(), "{args:?}: {}", describe(&out));
        out
    }
}

fn read_trim(p: &Path) -> String {
    fs::read_to_string(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .trim()
        .to_string()
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn rootless_cgv2_delegated_limits_pause_update() {
    let Some(u) = RlUser::new() else { return };
    let Some(dg) = Delegated::new(&u) else { return };
    let b = u.bundle("b", &["sleep", "1000"]);
    // Limits in an explicit cgroup of the delegated subtree.
    let cg = format!("/{}/ctr/c1", u.name);
    b.edit(|c| {
        c["linux"]["cgroupsPath"] = json!(cg);
        c["linux"]["resources"] = json!({
            "memory": {"limit": 100 * 1024 * 1024},
            "pids": {"limit": 50},
            "cpu": {"quota": 50000, "period": 100000}
        });
    });
    u.rt_in_ok(&dg, &b.dir, &["run", "-d", "c1"]);
    let dir = dg.dir.join("ctr/c1");
    assert_eq!(read_trim(&dir.join("memory.max")), "104857600");
    assert_eq!(read_trim(&dir.join("pids.max")), "50");
    assert_eq!(read_trim(&dir.join("cpu.max")), "50000 100000");
    let st: Value =
        serde_json::from_slice(&u.rt_in_ok(&dg, &b.dir, &["state", "c1"]).stdout).unwrap();
    let pid = st["pid"].as_i64().unwrap();
    assert!(read_trim(&dir.join("cgroup.procs"))
        .lines()
        .any(|l| l == pid.to_string()));
    // update
    u.rt_in_ok(
        &dg,
        &b.dir,
        &["update", "--memory", "200M", "--pids-limit", "60", "c1"],
    );
    assert_eq!(read_trim(&dir.join("memory.max")), "209715200");
    assert_eq!(read_trim(&dir.join("pids.max")), "60");
    // pause / resume
    u.rt_in_ok(&dg, &b.dir, &["pause", "c1"]);
    assert_eq!(status_of_in(&u, &dg, &b, "c1"), "paused");
    assert_eq!(read_trim(&dir.join("cgroup.freeze")), "1");
    u.rt_in_ok(&dg, &b.dir, &["resume", "c1"]);
    assert_eq!(status_of_in(&u, &dg, &b, "c1"), "running");
    // exec joins the cgroup: "0::/" where the config has a cgroup
    // namespace (husk spec and runc spec add one on v2), its path otherwise.
    let out = u.rt_in_ok(&dg, &b.dir, &["exec", "c1", "cat", "/proc/self/cgroup"]);
    let seen = stdout_str(&out).trim().to_string();
    assert!(
        seen == "0::/" || seen == format!("0::{cg}"),
        "exec'd process not in the container's cgroup {cg}: {}",
        describe(&out)
    );
    let ps = u.rt_in_ok(&dg, &b.dir, &["ps", "--format", "json", "c1"]);
    let pids: Vec<i64> = serde_json::from_slice(&ps.stdout).unwrap();
    assert_eq!(pids, vec![pid], "{}", describe(&ps));
    // delete removes the cgroup
    u.rt_in_ok(&dg, &b.dir, &["delete", "-f", "c1"]);
    assert!(!dir.exists(), "{} left behind", dir.display());
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn rootless_cgv2_default_cgroup_is_beside_the_callers() {
    let Some(u) = RlUser::new() else { return };
    let Some(dg) = Delegated::new(&u) else { return };
    let b = u.bundle("b", &["sh", "-c", "cat /proc/self/cgroup; exec sleep 1000"]);
    u.rt_in_ok(&dg, &b.dir, &["run", "-d", "c2"]);
    // runc's rule: beside the caller's cgroup (shell/), not below it.
    let dir = dg.dir.join("c2");
    assert!(
        wait_until(STATE_TIMEOUT, || dir.join("cgroup.procs").exists()),
        "{} missing",
        dir.display()
    );
    u.rt_in_ok(&dg, &b.dir, &["pause", "c2"]);
    assert_eq!(status_of_in(&u, &dg, &b, "c2"), "paused");
    u.rt_in_ok(&dg, &b.dir, &["resume", "c2"]);
    u.rt_in_ok(&dg, &b.dir, &["kill", "--all", "c2", "KILL"]);
    assert!(wait_until(STATE_TIMEOUT, || status_of_in(
        &u, &dg, &b, "c2"
    ) == "stopped"));
    u.rt_in_ok(&dg, &b.dir, &["delete", "c2"]);
    assert!(!dir.exists(), "{} left behind", dir.display());
}

fn status_of_in(u: &RlUser, dg: &Delegated, b: &Bundle, id: &str) -> String {
    let out = u.rt_in(dg, &b.dir, &["state", id]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    v["status"].as_str().unwrap_or("gone").to_string()
}
