//! Differential test (issue 16 §3): the same bundle through runc and
//! through the runtime under test, comparing what the container sees.
//!
//! Each case of a matrix built from the spec's fields (user, capabilities,
//! rlimits, read-only root, masked and read-only paths, namespaces, sysctl,
//! seccomp; no terminal) is created and started by runc, then by the
//! runtime, with stdio on pipes of this test (as containerd gives them);
//! some cases run again as a process added by `exec --detach --process`
//! to a running container. A probe script prints what
//! the process sees: ids and groups, capability sets and no_new_privs from
//! /proc/self/status, cwd, umask, environment, rlimits, its fds with their
//! targets and owners, whether it can reopen its stdio, namespaces (private
//! or the host's), cgroup, mountinfo (normalised: which mounts are
//! read-only is there), some sysctls, the masked and read-only paths (type,
//! mode, owner, what reads give), /dev, and the errno of syscalls a seccomp
//! profile does not name (with a small static helper, if a C compiler is
//! here).
//! A second test compares the exit status of failure modes, command by
//! command.
//!
//! Every line one runtime prints and the other does not is a difference.
//! The differences husk has on purpose, or that wait for a fix in code
//! another change owns, are listed in [`KNOWN`], each with its reason; any
//! other difference fails the test. Two more choices do not show here, as
//! the probe runs detached: in the foreground (`run`, `exec` without
//! `--detach`) husk gives the process the caller's own stdio where runc
//! relays it through pipes it makes; and husk hands only pipes and its own
//! pty to a non-root user, never a file or terminal of the caller
//! (tests/setup.rs). Skipped (with a message) when runc is
//! not installed. With HUSK_TEST_RUNTIME=runc it compares runc with itself.
//! HUSK_DIFF_DUMP=DIR keeps each side's raw output in DIR.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::*;
use serde_json::{json, Value};

/// runc, the reference: HUSK_DIFF_REFERENCE, or the usual places.
fn reference() -> Option<String> {
    if let Ok(r) = std::env::var("HUSK_DIFF_REFERENCE") {
        return Some(r);
    }
    [
        "/usr/sbin/runc",
        "/usr/bin/runc",
        "/usr/local/sbin/runc",
        "/usr/local/bin/runc",
    ]
    .iter()
    .find(|p| Path::new(p).is_file())
    .map(|p| p.to_string())
}

fn reference_or_skip() -> Option<String> {
    if !require_root() {
        return None;
    }
    let r = reference();
    if r.is_none() {
        eprintln!("skipped: runc is not installed; the differential test compares with it");
    }
    r
}

// ---------------------------------------------------------------------------
// Differences that are known: on purpose, or waiting for a fix elsewhere

struct Known {
    /// Short name, used in the report.
    name: &'static str,
    why: &'static str,
    /// Whether a line of `section` that only one runtime printed for the
    /// case `case` is this difference.
    matches: fn(case: &str, section: &str, line: &str) -> bool,
}

const KNOWN: &[Known] = &[
    Known {
        name: "cgroup-tmpfs-ro",
        why: "husk mounts the tmpfs at /sys/fs/cgroup (v1) read-only; runc 1.1.5 leaves \
              it read-write and makes only the hierarchies read-only (process/rootfs.rs, \
              owned by the rootfs rewrite)",
        matches: |_, s, l| {
            s == "mounts" && l.starts_with("/sys/fs/cgroup ") && l.contains(" tmpfs ")
        },
    },
    Known {
        name: "cgroup-unified",
        why: "on a hybrid host husk also mounts the cgroup2 hierarchy at \
              /sys/fs/cgroup/unified (as systemd's own layout has it); runc 1.1.5 does \
              not (process/rootfs.rs)",
        matches: |_, s, l| s == "mounts" && l.starts_with("/sys/fs/cgroup/unified "),
    },
    Known {
        name: "masked-tmpfs-size",
        why: "husk mounts the read-only tmpfs over a masked directory with size=0 \
              (nothing can ever be stored there); runc gives no size (linux/paths.rs)",
        matches: |_, s, l| {
            // A read-only tmpfs other than the root: only masked directories
            // are (the cgroup tmpfs is matched above).
            let f: Vec<&str> = l.split(' ').collect();
            s == "mounts"
                && f.len() > 5
                && f[0] != "/"
                && f[2].starts_with("ro,")
                && f[4] == "tmpfs"
        },
    },
    Known {
        name: "seccomp-enosys",
        why: "runc prepends a stub to a profile whose default action is not allow: \
              syscalls numbered above the highest one the profile names get ENOSYS \
              (38), so libc falls back from syscalls newer than the profile; husk \
              returns the default errno (EPERM) (linux/seccomp.rs, owned by the seccomp \
              work)",
        matches: |_, s, l| s == "syscalls" && (l.ends_with(" -1 38") || l.ends_with(" -1 1")),
    },
    Known {
        name: "cgroup2-own-subtree",
        why: "on cgroup v2 without a cgroup namespace, husk bind-mounts the container's \
              own cgroup at /sys/fs/cgroup, runc 1.1.5 mounts a new cgroup2 that shows \
              the host's whole tree (read-only); husk names the source cgroup2, runc \
              cgroup, also with a cgroup namespace (process/rootfs.rs)",
        matches: |_, s, l| {
            s == "mounts" && l.starts_with("/sys/fs/cgroup ") && l.contains(" cgroup2 ")
        },
    },
    Known {
        name: "rootfs-keeps-host-flags",
        why: "when it makes / read-only, husk keeps the flags of the mount the bundle \
              is on (nosuid, nodev, noexec of a /tmp tmpfs: seen in the cgroup v2 \
              guest); runc's remount clears them (process/rootfs.rs)",
        matches: |_, s, l| s == "mounts" && l.starts_with("/ "),
    },
    Known {
        name: "cgroupns-systemd-source",
        why: "with a cgroup namespace on v1, runc names the source of the name=systemd \
              hierarchy's mount 'systemd', husk 'cgroup' as for the others \
              (process/rootfs.rs)",
        matches: |_, s, l| {
            s == "mounts" && l.starts_with("/sys/fs/cgroup/systemd ") && l.contains(" cgroup ")
        },
    },
    Known {
        name: "mqueue-owner-userns",
        why: "in a new user namespace, /dev/mqueue (the ipc namespace's mqueue root) \
              belongs to the container's root, 0:0, with husk; runc makes the ipc \
              namespace before its setresgid, so it is 0:65534 there",
        matches: |_, s, l| s == "devices" && l.starts_with("/dev/mqueue directory 1777 "),
    },
    Known {
        name: "exec-umask",
        why: "exec applies the process' user.umask; runc 1.1.5 ignores it on exec and \
              leaves its own umask (0022)",
        matches: |c, s, _| c.ends_with("(exec)") && s == "umask",
    },
    Known {
        name: "runc-exec-rlimit-race",
        why: "runc 1.1.5 sets an exec'd process' rlimits with prlimit from its parent \
              after the process started, so the process may still see the NOFILE soft \
              limit the Go runtime raised to the hard limit (seen now and then); husk \
              sets them in the process before execve",
        matches: |c, s, l| {
            c.ends_with("(exec)") && s == "limits" && l.starts_with("Max open files")
        },
    },
    Known {
        name: "signal-dispositions",
        why: "husk resets signal dispositions and the mask before execve (glibc's \
              reserved 32/33 too); runc passes ignored signals of its caller on",
        matches: |_, s, _| s == "signals",
    },
];

// ---------------------------------------------------------------------------
// The probe

/// A static helper printing `NR RET ERRNO` for syscalls given by number
/// (with zero arguments): busybox cannot make an arbitrary syscall.
const SYSCALL_HELPER: &str = r#"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/syscall.h>
int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        long nr = strtol(argv[i], 0, 10);
        errno = 0;
        long r = syscall(nr, 0, 0, 0, 0, 0, 0);
        printf("%ld %ld %d\n", nr, r < 0 ? -1L : 0L, r < 0 ? errno : 0);
    }
    return 0;
}
"#;

/// Builds the syscall helper into `rootfs/sc` (x86_64 only, with a C
/// compiler that can link statically); false if it cannot.
fn build_syscall_helper(rootfs: &Path) -> bool {
    if !cfg!(target_arch = "x86_64") {
        return false;
    }
    let dir = rootfs.parent().unwrap();
    let src = dir.join("sc.c");
    fs::write(&src, SYSCALL_HELPER).unwrap();
    let ok = Command::new("cc")
        .args(["-static", "-O2", "-o"])
        .arg(rootfs.join("sc"))
        .arg(&src)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!("note: no static C toolchain: syscall errnos are not compared");
    }
    ok
}

/// Syscalls the helper tries: 1000 (no such syscall), 457 and 462 (newer
/// than libseccomp's tables here), getpid (39, allowed everywhere).
const SYSCALLS: &str = "1000 457 462 39";

/// The probe for `config`: sections `==name==` of what the process sees.
fn probe_script(config: &Value) -> String {
    let mut paths: Vec<String> = Vec::new();
    for key in ["maskedPaths", "readonlyPaths"] {
        for p in config["linux"][key].as_array().into_iter().flatten() {
            paths.push(p.as_str().unwrap().to_string());
        }
    }
    let mut s = String::from("s() { echo \"==$1==\"; }\n");
    s.push_str(
        r#"s status; grep -E '^(Uid|Gid|Groups|Cap[A-Za-z]+|NoNewPrivs|Seccomp):' /proc/self/status
s signals; grep -E '^Sig(Blk|Ign):' /proc/self/status
s id; id
s cwd; pwd
s umask; umask
s env; env | sort
s hostname; hostname; cat /proc/sys/kernel/domainname
s pid1; [ $$ = 1 ] && echo pid-1 || echo not-pid-1
s limits; cat /proc/self/limits
s oom; cat /proc/self/oom_score_adj
s fds; for f in /proc/$$/fd/*; do [ -e "$f" ] && echo "${f##*/} $(readlink "$f") $(stat -L -c '%u %a' "$f")"; done
s reopen; echo via-dev-stdout > /dev/stdout || echo no-stdout; echo via-dev-stderr > /dev/stderr || echo no-stderr
s ns; for n in cgroup ipc mnt net pid time user uts; do echo "$n $(readlink /proc/self/ns/$n)"; done
s cgroup; cat /proc/self/cgroup
s mounts; cat /proc/self/mountinfo
s rootfs; touch /.probe-write 2>/dev/null && { rm -f /.probe-write; echo root-rw; } || echo root-ro
s sysctl; for k in kernel/hostname net/ipv4/ip_forward net/core/somaxconn kernel/shm_rmid_forced fs/mqueue/msg_max kernel/msgmax net/ipv4/ip_unprivileged_port_start; do echo "$k $(cat /proc/sys/$k 2>&1)"; done
s devices; for d in /dev/* /dev/pts/* /dev/shm /dev/mqueue; do stat -c '%n %F %a %u:%g %t:%T' "$d"; done 2>&1
s syscalls; [ -x /sc ] && /sc "#,
    );
    s.push_str(SYSCALLS);
    s.push_str("\ns paths\n");
    for p in paths {
        s.push_str(&format!(
            "p={p}; echo \"$p $(stat -c '%F %a %u:%g' $p 2>&1) r=$(head -c 64 $p 2>/dev/null | wc -c)\"\n"
        ));
    }
    s.push_str("s end\n");
    s
}

/// The probe's output, section by section, normalised: values that differ
/// between any two runs (pipe inodes, namespace inodes, mount ids, device
/// numbers of pseudo file systems) are replaced by what they mean.
fn sections(text: &str) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut cur = String::from("(before)");
    for line in text.lines() {
        if let Some(name) = line.strip_prefix("==").and_then(|l| l.strip_suffix("==")) {
            cur = name.to_string();
            out.entry(cur.clone()).or_default();
            continue;
        }
        let l = normalise(&cur, line);
        out.entry(cur.clone()).or_default().insert(l);
    }
    out
}

fn normalise(section: &str, line: &str) -> String {
    match section {
        "fds" => {
            // pipe:[1234] → pipe:[]
            let mut l = line.to_string();
            for kind in ["pipe:[", "socket:[", "anon_inode:["] {
                if let Some(i) = l.find(kind) {
                    if let Some(j) = l[i..].find(']') {
                        l.replace_range(i + kind.len()..i + j, "");
                    }
                }
            }
            l
        }
        "ns" => {
            // Private or the host's: the inode numbers differ between runs.
            let mut f = line.splitn(2, ' ');
            let (n, link) = (f.next().unwrap_or(""), f.next().unwrap_or(""));
            let host = host_ns(n);
            let what = if link.is_empty() {
                "none"
            } else if link == host {
                "host"
            } else {
                "private"
            };
            format!("{n} {what}")
        }
        "mounts" => normalise_mount(line),
        "devices" => line.to_string(),
        _ => line.to_string(),
    }
}

/// `MOUNTPOINT ROOT OPTIONS OPTIONAL FSTYPE SOURCE SUPEROPTIONS`, without
/// mount ids and device numbers; peer group numbers dropped.
fn normalise_mount(line: &str) -> String {
    let f: Vec<&str> = line.split(' ').collect();
    let Some(sep) = f.iter().position(|x| *x == "-") else {
        return line.to_string();
    };
    if f.len() < 6 || sep + 3 > f.len() {
        return line.to_string();
    }
    let optional: Vec<String> = f[6..sep]
        .iter()
        .map(|o| o.split(':').next().unwrap_or("").to_string())
        .collect();
    format!(
        "{} {} {} [{}] {} {} {}",
        f[4],
        f[3],
        f[5],
        optional.join(","),
        f[sep + 1],
        f.get(sep + 2).unwrap_or(&""),
        f.get(sep + 3).unwrap_or(&"")
    )
}

// ---------------------------------------------------------------------------
// Running one runtime

/// What one runtime's container printed.
struct Seen {
    stdout: String,
    stderr: String,
}

/// `rt --root ROOT args...` with stdin from /dev/null and output in files of
/// the fixture; returns the exit code (None: killed) and stderr.
fn cmd(fx: &Fixture, rt: &str, root: &Path, args: &[&str]) -> (Option<i32>, String) {
    let mut c = Command::new(rt);
    c.arg("--root").arg(root).args(args);
    let out = run_with_timeout(
        c,
        &fx.dir.join("cmd.out"),
        &fx.dir.join("cmd.err"),
        COMMAND_TIMEOUT,
    );
    (out.status.code(), stderr_str(&out))
}

/// Deletes the container `id` of `rt` when dropped (also when a test fails).
struct Deleter<'a> {
    fx: &'a Fixture,
    rt: String,
    root: PathBuf,
    id: String,
}

impl Drop for Deleter<'_> {
    fn drop(&mut self) {
        let _ = cmd(
            self.fx,
            &self.rt,
            &self.root,
            &["delete", "--force", &self.id],
        );
    }
}

/// Runs `rt --root ROOT args...` with stdin from /dev/null and stdout and
/// stderr on pipes of this test; returns whether it succeeded and the read
/// ends (a container it started inherits the write ends).
fn spawn_on_pipes(
    rt: &str,
    root: &Path,
    args: &[&str],
) -> Result<(bool, std::os::fd::OwnedFd, std::os::fd::OwnedFd), String> {
    let (out_r, out_w) = pipe();
    let (err_r, err_w) = pipe();
    let mut c = Command::new(rt);
    c.arg("--root")
        .arg(root)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::from(out_w))
        .stderr(Stdio::from(err_w));
    let mut child = c.spawn().map_err(|e| format!("spawn {rt}: {e}"))?;
    drop(c);
    let status = wait_timeout(&mut child, COMMAND_TIMEOUT);
    if status.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    Ok((status.is_some_and(|s| s.success()), out_r, err_r))
}

fn wait_stopped(fx: &Fixture, rt: &str, root: &Path, id: &str) -> bool {
    wait_until(STATE_TIMEOUT, || {
        let mut c = Command::new(rt);
        c.arg("--root").arg(root).args(["state", id]);
        let out = run_with_timeout(
            c,
            &fx.dir.join("state.out"),
            &fx.dir.join("state.err"),
            COMMAND_TIMEOUT,
        );
        stdout_str(&out).contains("\"stopped\"")
    })
}

/// Runs the fixture's bundle with `rt` and returns what its process printed
/// on stdout and stderr, pipes of this test. As the init (`exec` false):
/// create (whose stdio the init inherits) + start. As an exec'd process:
/// the init sleeps and `exec --process` runs the config's process. Then
/// the container is deleted. Err: a command failed.
fn observe(fx: &Fixture, rt: &str, tag: &str, exec: bool) -> Result<Seen, String> {
    let root = fx.dir.join(format!("root-{tag}"));
    let id = fx.id.clone();
    let _del = Deleter {
        fx,
        rt: rt.to_string(),
        root: root.clone(),
        id: id.clone(),
    };
    let config = fx.config();
    let process = fx.dir.join("process.json");
    if exec {
        fs::write(&process, config["process"].to_string()).unwrap();
        let mut c = config.clone();
        c["process"]["args"] = json!(["sleep", "1000"]);
        *fx.config_mut() = c;
    }
    fx.write_config();
    *fx.config_mut() = config;
    let (ok, out_r, err_r) = if exec {
        let (code, err) = cmd(fx, rt, &root, &["create", "--bundle", fx.bundle_str(), &id]);
        if code != Some(0) {
            return Err(format!("{tag}: create failed ({code:?}): {err}"));
        }
        let (code, err) = cmd(fx, rt, &root, &["start", &id]);
        if code != Some(0) {
            return Err(format!("{tag}: start failed: {err}"));
        }
        // Detached, as containerd runs it: the process gets our stdio. In
        // the foreground runc would relay it through pipes of its own.
        let p = process.to_str().unwrap();
        spawn_on_pipes(rt, &root, &["exec", "--detach", "--process", p, &id])?
    } else {
        spawn_on_pipes(rt, &root, &["create", "--bundle", fx.bundle_str(), &id])?
    };
    if !ok {
        // The container (if any) may hold the pipes: read what is there.
        let _ = cmd(fx, rt, &root, &["delete", "--force", &id]);
        let err = read_pipe(&err_r, std::time::Duration::from_secs(2));
        let what = if exec { "exec" } else { "create" };
        return Err(format!("{tag}: {what} failed: {err}"));
    }
    if !exec {
        let (code, err) = cmd(fx, rt, &root, &["start", &id]);
        if code != Some(0) {
            return Err(format!("{tag}: start failed: {err}"));
        }
    }
    let stdout = read_pipe(&out_r, STATE_TIMEOUT);
    let stderr = read_pipe(&err_r, STATE_TIMEOUT);
    if exec {
        let _ = cmd(fx, rt, &root, &["kill", &id, "KILL"]);
    }
    if !wait_stopped(fx, rt, &root, &id) {
        return Err(format!("{tag}: the container did not stop:\n{stdout}"));
    }
    let (code, err) = cmd(fx, rt, &root, &["delete", &id]);
    if code != Some(0) {
        return Err(format!("{tag}: delete failed: {err}"));
    }
    Ok(Seen { stdout, stderr })
}

// ---------------------------------------------------------------------------
// The matrix

/// A case of the matrix: its name and its change to the base config.
type Case = (&'static str, fn(&mut Value));

fn matrix() -> Vec<Case> {
    vec![
        ("base", |_| {}),
        ("user", |c| {
            c["process"]["user"] = json!({
                "uid": 1000, "gid": 1000, "additionalGids": [5, 2000, 5], "umask": 0o027
            });
            c["process"]["cwd"] = json!("/tmp");
        }),
        ("user-no-nnp-ambient", |c| {
            c["process"]["user"] = json!({"uid": 1000, "gid": 1000});
            c["process"]["noNewPrivileges"] = json!(false);
            let caps = json!(["CAP_KILL", "CAP_NET_BIND_SERVICE"]);
            c["process"]["capabilities"] = json!({
                "bounding": caps, "effective": caps, "permitted": caps,
                "inheritable": caps, "ambient": ["CAP_NET_BIND_SERVICE"]
            });
        }),
        ("caps", |c| {
            let all = json!([
                "CAP_CHOWN",
                "CAP_DAC_OVERRIDE",
                "CAP_FOWNER",
                "CAP_KILL",
                "CAP_SETUID",
                "CAP_SETGID",
                "CAP_NET_ADMIN",
                "CAP_SYS_ADMIN",
                "CAP_SYS_PTRACE"
            ]);
            c["process"]["capabilities"] = json!({
                "bounding": all,
                "effective": ["CAP_CHOWN", "CAP_KILL"],
                "permitted": ["CAP_CHOWN", "CAP_KILL", "CAP_SYS_ADMIN"],
                "inheritable": ["CAP_KILL"]
            });
        }),
        ("no-capabilities-field", |c| {
            c["process"].as_object_mut().unwrap().remove("capabilities");
        }),
        ("rlimits", |c| {
            c["process"]["rlimits"] = json!([
                {"type": "RLIMIT_NOFILE", "soft": 4096, "hard": 8192},
                {"type": "RLIMIT_NPROC", "soft": 500, "hard": 600},
                {"type": "RLIMIT_CORE", "soft": 0, "hard": 0},
                {"type": "RLIMIT_MEMLOCK", "soft": 65536, "hard": 65536},
                {"type": "RLIMIT_STACK", "soft": 4194304, "hard": 8388608},
                {"type": "RLIMIT_MSGQUEUE", "soft": 1024, "hard": 2048}
            ]);
        }),
        ("writable-root-no-paths", |c| {
            c["root"]["readonly"] = json!(false);
            c["linux"]["maskedPaths"] = json!([]);
            c["linux"]["readonlyPaths"] = json!([]);
        }),
        ("more-paths", |c| {
            for p in ["/etc/masked-dir", "/etc/masked-file", "/no/such/path"] {
                c["linux"]["maskedPaths"]
                    .as_array_mut()
                    .unwrap()
                    .push(json!(p));
            }
            for p in ["/tmp", "/etc/ro-file"] {
                c["linux"]["readonlyPaths"]
                    .as_array_mut()
                    .unwrap()
                    .push(json!(p));
            }
            c["root"]["readonly"] = json!(false);
        }),
        ("namespaces-few", |c| {
            // Host network, ipc and uts: no hostname, no sysfs of our own.
            c["linux"]["namespaces"] = json!([{"type": "pid"}, {"type": "mount"}]);
            c.as_object_mut().unwrap().remove("hostname");
            let mounts = c["mounts"].as_array_mut().unwrap();
            mounts.retain(|m| m["destination"] != "/sys" && m["destination"] != "/sys/fs/cgroup");
            mounts.push(
                json!({"destination": "/sys", "type": "bind", "source": "/sys",
                               "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]}),
            );
        }),
        ("cgroup-namespace", |c| {
            c["linux"]["namespaces"]
                .as_array_mut()
                .unwrap()
                .push(json!({"type": "cgroup"}));
        }),
        ("user-namespace", |c| {
            c["linux"]["namespaces"]
                .as_array_mut()
                .unwrap()
                .push(json!({"type": "user"}));
            let map = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
            c["linux"]["uidMappings"] = map.clone();
            c["linux"]["gidMappings"] = map;
            c["process"]["user"] = json!({"uid": 1000, "gid": 1000});
        }),
        ("sysctl", |c| {
            c["linux"]["sysctl"] = json!({
                "net.ipv4.ip_forward": "1",
                "net.core.somaxconn": "256",
                "kernel.shm_rmid_forced": "1",
                "fs.mqueue.msg_max": "20"
            });
        }),
        ("seccomp-docker-default", |c| {
            let p = repo_dir().join("test-bundles/seccomp/docker-default.json");
            c["linux"]["seccomp"] = serde_json::from_str(&fs::read_to_string(p).unwrap()).unwrap();
        }),
    ]
}

/// The cases also run as an exec'd process (`exec --detach --process`).
const EXEC_TOO: &[&str] = &[
    "base",
    "user",
    "caps",
    "no-capabilities-field",
    "rlimits",
    "user-namespace",
    "seccomp-docker-default",
];

/// Lines each side printed that the other did not, per section:
/// (section, "runc" or "husk", line).
fn differences(a: &Seen, b: &Seen) -> Vec<(String, &'static str, String)> {
    let (sa, sb) = (sections(&a.stdout), sections(&b.stdout));
    let mut diffs = Vec::new();
    let names: BTreeSet<&String> = sa.keys().chain(sb.keys()).collect();
    let empty = BTreeSet::new();
    for name in names {
        let (la, lb) = (
            sa.get(name).unwrap_or(&empty),
            sb.get(name).unwrap_or(&empty),
        );
        for l in la.difference(lb) {
            diffs.push((name.clone(), "runc", l.clone()));
        }
        for l in lb.difference(la) {
            diffs.push((name.clone(), "husk", l.clone()));
        }
    }
    // What reopening /dev/stderr wrote.
    let (ea, eb) = (
        a.stderr.contains("via-dev-stderr"),
        b.stderr.contains("via-dev-stderr"),
    );
    if ea != eb {
        diffs.push((
            "stderr".into(),
            "runc",
            format!("reopened /dev/stderr: {ea}"),
        ));
        diffs.push((
            "stderr".into(),
            "husk",
            format!("reopened /dev/stderr: {eb}"),
        ));
    }
    diffs
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn the_container_sees_what_it_sees_with_runc() {
    let Some(runc) = reference_or_skip() else {
        return;
    };
    let fx = Fixture::new("diff");
    // Files the "more-paths" case masks or makes read-only.
    fs::create_dir_all(fx.rootfs.join("etc/masked-dir")).unwrap();
    fs::write(fx.rootfs.join("etc/masked-dir/secret"), "secret").unwrap();
    fs::write(fx.rootfs.join("etc/masked-file"), "secret").unwrap();
    fs::write(fx.rootfs.join("etc/ro-file"), "data").unwrap();
    build_syscall_helper(&fx.rootfs);
    let base = fx.config();
    let mut unexplained = Vec::new();
    let mut known_seen: BTreeMap<&'static str, Vec<String>> = BTreeMap::new();
    // Each case as the init; some also as an exec'd process (each of those
    // costs ~2 s here: the host's pid 1 reaps the killed init slowly).
    let cases = matrix().into_iter().flat_map(|(name, patch)| {
        let mut v = vec![(name, patch, false)];
        if EXEC_TOO.contains(&name) {
            v.push((name, patch, true));
        }
        v
    });
    for (case, patch, exec) in cases {
        let name = if exec {
            format!("{case} (exec)")
        } else {
            case.to_string()
        };
        let mut config = base.clone();
        patch(&mut config);
        config["process"]["args"] = json!(["sh", "-c", probe_script(&config)]);
        *fx.config_mut() = config;
        let theirs = observe(&fx, &runc, "runc", exec);
        let ours = observe(&fx, &runtime(), "husk", exec);
        let (theirs, ours) = match (theirs, ours) {
            (Ok(t), Ok(o)) => (t, o),
            (Err(t), Err(o)) => {
                // Both refuse the config: the same outcome.
                eprintln!("note: {name}: both runtimes refuse it:\n  {t}\n  {o}");
                continue;
            }
            (t, o) => {
                unexplained.push(format!(
                    "{name}: runc {} but husk {}",
                    t.as_ref()
                        .map(|_| "ran it".to_string())
                        .unwrap_or_else(|e| e.clone()),
                    o.as_ref()
                        .map(|_| "ran it".to_string())
                        .unwrap_or_else(|e| e.clone())
                ));
                continue;
            }
        };
        if let Some(dir) = std::env::var_os("HUSK_DIFF_DUMP") {
            // What each side printed, to look at by hand.
            let dir = PathBuf::from(dir);
            fs::create_dir_all(&dir).unwrap();
            fs::write(dir.join(format!("{name}.runc")), &theirs.stdout).unwrap();
            fs::write(dir.join(format!("{name}.husk")), &ours.stdout).unwrap();
        }
        assert!(
            theirs.stdout.contains("==end=="),
            "{name}: runc's probe did not finish:\n{}\n{}",
            theirs.stdout,
            theirs.stderr
        );
        for (section, side, line) in differences(&theirs, &ours) {
            match KNOWN.iter().find(|k| (k.matches)(&name, &section, &line)) {
                Some(k) => known_seen
                    .entry(k.name)
                    .or_default()
                    .push(format!("{name} [{section}] {side}: {line}")),
                None => unexplained.push(format!("{name} [{section}] {side} only: {line}")),
            }
        }
    }
    for (k, lines) in &known_seen {
        let why = KNOWN
            .iter()
            .find(|x| x.name == *k)
            .map(|x| x.why)
            .unwrap_or("");
        eprintln!("known difference {k}: {why}");
        for l in lines {
            eprintln!("    {l}");
        }
    }
    assert!(
        unexplained.is_empty(),
        "{} differences from runc that are neither fixed nor known:\n{}",
        unexplained.len(),
        unexplained.join("\n")
    );
}

// ---------------------------------------------------------------------------
// Failure modes: the exit status of each command, as runc's

/// One runtime, its own state directory, and the base config.
struct Runner<'a> {
    fx: &'a Fixture,
    rt: String,
    root: PathBuf,
    base: Value,
}

impl Runner<'_> {
    fn code(&self, args: &[&str]) -> Option<i32> {
        cmd(self.fx, &self.rt, &self.root, args).0
    }

    /// The base config with `patch` applied, written to the bundle.
    fn config(&self, patch: impl FnOnce(&mut Value)) {
        let mut c = self.base.clone();
        patch(&mut c);
        *self.fx.config_mut() = c;
        self.fx.write_config();
    }

    fn run(&self) -> Option<i32> {
        self.code(&["run", "--bundle", self.fx.bundle_str(), &self.fx.id])
    }

    fn wait_stopped(&self) -> Option<i32> {
        let ok = wait_stopped(self.fx, &self.rt, &self.root, &self.fx.id);
        Some(if ok { 0 } else { -1 })
    }
}

type Step = (&'static str, fn(&Runner) -> Option<i32>);

fn failure_steps() -> Vec<Step> {
    vec![
        ("run: the process exits 3", |r| {
            r.config(|c| c["process"]["args"] = json!(["sh", "-c", "exit 3"]));
            r.run()
        }),
        ("run: the process is killed by SIGKILL", |r| {
            // Not pid 1 (which ignores it): no pid namespace.
            r.config(|c| {
                c["process"]["args"] = json!(["sh", "-c", "kill -9 $$"]);
                c["linux"]["namespaces"]
                    .as_array_mut()
                    .unwrap()
                    .retain(|n| n["type"] != "pid");
            });
            r.run()
        }),
        ("run: no such command", |r| {
            r.config(|c| c["process"]["args"] = json!(["no-such-command"]));
            r.run()
        }),
        ("run: the command is not executable", |r| {
            r.config(|c| c["process"]["args"] = json!(["/etc/passwd"]));
            r.run()
        }),
        ("run: a bare command and no PATH", |r| {
            r.config(|c| {
                c["process"]["args"] = json!(["true"]);
                c["process"]["env"] = json!(["A=b"]);
            });
            r.run()
        }),
        ("run: cwd is a file", |r| {
            r.config(|c| c["process"]["cwd"] = json!("/etc/passwd"));
            r.run()
        }),
        ("run: cwd is relative", |r| {
            r.config(|c| c["process"]["cwd"] = json!("tmp"));
            r.run()
        }),
        ("create: no rootfs", |r| {
            r.config(|c| c["root"]["path"] = json!("no-such-rootfs"));
            r.code(&["create", "--bundle", r.fx.bundle_str(), &r.fx.id])
        }),
        ("create: config.json is not JSON", |r| {
            fs::write(r.fx.config_path(), "{not json").unwrap();
            r.code(&["create", "--bundle", r.fx.bundle_str(), &r.fx.id])
        }),
        ("create", |r| {
            r.config(|c| c["process"]["args"] = json!(["sleep", "1000"]));
            r.code(&["create", "--bundle", r.fx.bundle_str(), &r.fx.id])
        }),
        ("create: the id exists", |r| {
            r.code(&["create", "--bundle", r.fx.bundle_str(), &r.fx.id])
        }),
        ("start", |r| r.code(&["start", &r.fx.id])),
        ("start: already running", |r| r.code(&["start", &r.fx.id])),
        ("kill: unknown signal", |r| {
            r.code(&["kill", &r.fx.id, "SIGFOO"])
        }),
        ("kill: signal 0", |r| r.code(&["kill", &r.fx.id, "0"])),
        ("kill: signal 37", |r| r.code(&["kill", &r.fx.id, "37"])),
        ("kill: signal 65", |r| r.code(&["kill", &r.fx.id, "65"])),
        ("exec: the process exits 5", |r| {
            r.code(&["exec", &r.fx.id, "sh", "-c", "exit 5"])
        }),
        ("exec: no such command", |r| {
            r.code(&["exec", &r.fx.id, "no-such-command"])
        }),
        ("exec: not executable", |r| {
            r.code(&["exec", &r.fx.id, "/etc/passwd"])
        }),
        ("exec: a directory", |r| r.code(&["exec", &r.fx.id, "/etc"])),
        ("exec: no command", |r| r.code(&["exec", &r.fx.id])),
        ("exec: unknown cgroup controller", |r| {
            r.code(&["exec", "--cgroup", "nosuch:sub", &r.fx.id, "true"])
        }),
        ("exec: no such process file", |r| {
            r.code(&["exec", "--process", "/no/such/process.json", &r.fx.id])
        }),
        ("delete: running, without --force", |r| {
            r.code(&["delete", &r.fx.id])
        }),
        ("pause", |r| r.code(&["pause", &r.fx.id])),
        ("pause: already paused", |r| r.code(&["pause", &r.fx.id])),
        ("exec: paused", |r| r.code(&["exec", &r.fx.id, "true"])),
        ("resume", |r| r.code(&["resume", &r.fx.id])),
        ("resume: not paused", |r| r.code(&["resume", &r.fx.id])),
        ("ps", |r| r.code(&["ps", &r.fx.id])),
        ("kill KILL", |r| r.code(&["kill", &r.fx.id, "KILL"])),
        ("(the container stops)", |r| r.wait_stopped()),
        ("kill: stopped", |r| r.code(&["kill", &r.fx.id, "KILL"])),
        ("kill --all: stopped", |r| {
            r.code(&["kill", "--all", &r.fx.id, "KILL"])
        }),
        ("exec: stopped", |r| r.code(&["exec", &r.fx.id, "true"])),
        ("start: stopped", |r| r.code(&["start", &r.fx.id])),
        ("pause: stopped", |r| r.code(&["pause", &r.fx.id])),
        ("state: stopped", |r| r.code(&["state", &r.fx.id])),
        ("delete: stopped", |r| r.code(&["delete", &r.fx.id])),
        ("state: unknown id", |r| r.code(&["state", "no-such-id"])),
        ("start: unknown id", |r| r.code(&["start", "no-such-id"])),
        ("kill: unknown id", |r| r.code(&["kill", "no-such-id"])),
        ("delete: unknown id", |r| r.code(&["delete", "no-such-id"])),
        ("delete --force: unknown id", |r| {
            r.code(&["delete", "--force", "no-such-id"])
        }),
        ("pause: unknown id", |r| r.code(&["pause", "no-such-id"])),
        ("ps: unknown id", |r| r.code(&["ps", "no-such-id"])),
        ("exec: unknown id", |r| {
            r.code(&["exec", "no-such-id", "true"])
        }),
        ("update: unknown id", |r| {
            r.code(&["update", "--pids-limit", "10", "no-such-id"])
        }),
        ("usage: kill without an id", |r| r.code(&["kill"])),
        ("usage: unknown command", |r| r.code(&["no-such-command"])),
        ("usage: unknown flag", |r| {
            r.code(&["list", "--no-such-flag"])
        }),
        ("spec: config.json exists", |r| {
            r.code(&["spec", "--bundle", r.fx.bundle_str()])
        }),
    ]
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn failure_exit_codes_are_runcs() {
    let Some(runc) = reference_or_skip() else {
        return;
    };
    let fx = Fixture::new("diff-fail");
    let base = fx.config();
    let mut results: Vec<(&str, Vec<Option<i32>>)> =
        failure_steps().iter().map(|(n, _)| (*n, vec![])).collect();
    for (tag, rt) in [("runc", runc.clone()), ("husk", runtime())] {
        let r = Runner {
            fx: &fx,
            rt: rt.clone(),
            root: fx.dir.join(format!("root-{tag}")),
            base: base.clone(),
        };
        let _del = Deleter {
            fx: &fx,
            rt,
            root: r.root.clone(),
            id: fx.id.clone(),
        };
        for (i, (_, step)) in failure_steps().iter().enumerate() {
            results[i].1.push(step(&r));
        }
    }
    let mut table = String::new();
    let mut wrong = Vec::new();
    for (name, codes) in &results {
        table.push_str(&format!(
            "{:<40} runc {:?} husk {:?}\n",
            name, codes[0], codes[1]
        ));
        if codes[0] != codes[1] {
            wrong.push(format!("{name}: runc {:?}, husk {:?}", codes[0], codes[1]));
        }
    }
    eprintln!("{table}");
    assert!(
        wrong.is_empty(),
        "exit status unlike runc's:\n{}\n\n{table}",
        wrong.join("\n")
    );
}
