//! cgroups: every resource is written to the file runc writes and enforced
//! (memory → OOM kill, pids → refused forks, devices → EPERM); `update`,
//! `pause`/`resume`, `ps`, `events` (stats and OOM), `kill --all`.
//!
//! The same tests run on this host's cgroup v1 (hybrid) and on pure cgroup
//! v2 in a qemu guest (`tests/cgv2.sh`). They hold for runc too
//! (`HUSK_TEST_RUNTIME=runc`); what only husk does is gated on `is_husk()`.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::*;
use serde_json::{json, Value};

// ---------------------------------------------------------------------------
// Helpers

fn is_v2() -> bool {
    Path::new("/sys/fs/cgroup/cgroup.controllers").exists()
}

/// Whether the kernel has a block I/O weight (blkio.weight, or
/// blkio.bfq.weight with the BFQ scheduler) for cgroups on v1; v2's
/// io.weight is always there. Looked up in a probe child cgroup: the
/// files are not on the root.
fn blkio_weight_supported() -> bool {
    static S: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *S.get_or_init(|| {
        if is_v2() {
            return true;
        }
        let probe =
            Path::new("/sys/fs/cgroup/blkio").join(format!("husk-probe-{}", std::process::id()));
        if fs::create_dir(&probe).is_err() {
            return false;
        }
        let ok = probe.join("blkio.weight").exists() || probe.join("blkio.bfq.weight").exists();
        let _ = fs::remove_dir(&probe);
        ok
    })
}

/// The directory of `ctrl` for the cgroup `/husk-test/<id>` (the single
/// directory on v2).
fn cg_dir(id: &str, ctrl: &str) -> PathBuf {
    let base = Path::new("/sys/fs/cgroup");
    let base = if is_v2() {
        base.to_path_buf()
    } else {
        base.join(ctrl)
    };
    base.join(CGROUP_PARENT.trim_start_matches('/')).join(id)
}

/// The trimmed content of a cgroup file of container `id`.
fn cg_read(id: &str, ctrl: &str, file: &str) -> String {
    let p = cg_dir(id, ctrl).join(file);
    fs::read_to_string(&p)
        .unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
        .trim()
        .to_string()
}

/// Whether the v1 controller is mounted (always true on v2 for the
/// controllers the guest enables).
fn has_v1(ctrl: &str) -> bool {
    is_v2()
        || Path::new("/sys/fs/cgroup")
            .join(ctrl)
            .join("tasks")
            .exists()
}

/// The last whitespace-separated token of a weight file ("300" or
/// "default 300").
fn weight_of(s: &str) -> String {
    s.lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .last()
        .unwrap_or("")
        .to_string()
}

fn set_resources(fx: &Fixture, res: Value) {
    fx.config_mut()["linux"]["resources"] = res;
}

/// A background runtime command (e.g. `events`), killed when dropped.
struct Bg {
    child: Child,
    out: PathBuf,
}

impl Bg {
    fn spawn(fx: &Fixture, args: &[&str], name: &str) -> Bg {
        let out = fx.dir.join(format!("{name}.out"));
        let err = fx.dir.join(format!("{name}.err"));
        let child = Command::new(runtime())
            .arg("--root")
            .arg(&fx.root)
            .args(args)
            .stdin(Stdio::null())
            .stdout(fs::File::create(&out).unwrap())
            .stderr(fs::File::create(err).unwrap())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {args:?}: {e}"));
        Bg { child, out }
    }

    fn output(&self) -> String {
        fs::read_to_string(&self.out).unwrap_or_default()
    }

    /// The complete JSON lines printed so far.
    fn events(&self) -> Vec<Value> {
        let out = self.output();
        let complete = &out[..out.rfind('\n').map_or(0, |i| i + 1)];
        complete
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
            .collect()
    }
}

impl Drop for Bg {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs a runtime command with `input` on its stdin.
fn run_with_stdin(fx: &Fixture, args: &[&str], input: &str) -> std::process::Output {
    use std::io::Write;
    let mut child = Command::new(runtime())
        .arg("--root")
        .arg(&fx.root)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn runtime");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// Asserts `create` fails and leaves neither state nor cgroup behind;
/// returns its stderr.
fn create_fails_cleanly(fx: &Fixture) -> String {
    let out = fx.husk(&["create", "--bundle", fx.bundle_str(), &fx.id]);
    assert_clean_error(&out);
    assert_nothing_left(fx, &fx.id);
    stderr_str(&out)
}

// ---------------------------------------------------------------------------
// Resources written at create

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn memory_settings_are_written() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("cg-mem");
    let mut mem = json!({
        "limit": 64 << 20,
        "reservation": 32 << 20,
        "swap": 128 << 20,
    });
    if !is_v2() {
        mem["swappiness"] = json!(30);
        mem["disableOOMKiller"] = json!(true);
    }
    set_resources(&fx, json!({ "memory": mem }));
    fx.start_sleeper();
    let id = &fx.id;
    if is_v2() {
        assert_eq!(cg_read(id, "memory", "memory.max"), "67108864");
        assert_eq!(cg_read(id, "memory", "memory.low"), "33554432");
        // memory+swap 128M with memory 64M: 64M of swap.
        assert_eq!(cg_read(id, "memory", "memory.swap.max"), "67108864");
    } else {
        assert_eq!(cg_read(id, "memory", "memory.limit_in_bytes"), "67108864");
        assert_eq!(
            cg_read(id, "memory", "memory.soft_limit_in_bytes"),
            "33554432"
        );
        assert_eq!(
            cg_read(id, "memory", "memory.memsw.limit_in_bytes"),
            "134217728"
        );
        assert_eq!(cg_read(id, "memory", "memory.swappiness"), "30");
        let oom = cg_read(id, "memory", "memory.oom_control");
        assert!(oom.contains("oom_kill_disable 1"), "{oom}");
    }
}

/// A process allocating past memory.limit is OOM-killed, and `events`
/// streams an `oom` event.
#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn memory_limit_oom_kills_and_events_reports_it() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("cg-oom");
    let out = fx.bind_host_dir("out", "/out");
    set_resources(
        &fx,
        json!({ "memory": { "limit": 32 << 20, "swap": 32 << 20 } }),
    );
    // awk doubles a string until it is 10 GiB: far past 32 MiB.
    fx.set_sh(
        "awk 'BEGIN { s = \"xxxxxxxxxx\"; for (i = 0; i < 30; i++) s = s s; print length(s) }'; \
         echo $? > /out/rc",
    );
    fx.create();
    let ev = Bg::spawn(&fx, &["events", "--interval", "200ms", &fx.id], "events");
    // The first stats line means events is past its OOM registration.
    assert!(
        wait_until(Duration::from_secs(30), || !ev.output().is_empty()),
        "events printed nothing"
    );
    fx.run_ok(&["start", &fx.id]);
    let rc_file = out.join("rc");
    // Non-empty, not only there: the shell creates the file before echo
    // writes to it.
    assert!(
        wait_until(Duration::from_secs(60), || fs::read(&rc_file)
            .is_ok_and(|d| d.ends_with(b"\n"))),
        "the container did not finish"
    );
    let rc = fs::read_to_string(&rc_file).unwrap();
    assert_eq!(rc.trim(), "137", "awk was not SIGKILLed");
    let killed = if is_v2() {
        cg_read(&fx.id, "memory", "memory.events")
    } else {
        cg_read(&fx.id, "memory", "memory.oom_control")
    };
    assert!(!killed.contains("oom_kill 0"), "no OOM kill: {killed}");
    assert!(
        wait_until(Duration::from_secs(20), || ev
            .events()
            .iter()
            .any(|e| e["type"] == "oom" && e["id"] == fx.id.as_str())),
        "no oom event:\n{}",
        ev.output()
    );
    let stats: Vec<Value> = ev
        .events()
        .into_iter()
        .filter(|e| e["type"] == "stats")
        .collect();
    assert!(!stats.is_empty());
    assert!(stats[0]["data"]["memory"].is_object(), "{}", stats[0]);
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn pids_limit_refuses_forks() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("cg-pids");
    set_resources(&fx, json!({ "pids": { "limit": 4 } }));
    // The shell and three sleeps fit; the fourth fork is refused.
    fx.set_sh("for i in 1 2 3 4 5 6; do sleep 5 & done; echo all-forked");
    let out = fx.run_container();
    let text = format!("{}{}", stdout_str(&out), stderr_str(&out));
    assert!(!text.contains("all-forked"), "{}", describe(&out));
    assert!(
        text.contains("can't fork") || text.contains("Resource temporarily unavailable"),
        "{}",
        describe(&out)
    );
    // And the file itself.
    fx.set_args(&["sleep", "1000"]);
    fx.create();
    assert_eq!(cg_read(&fx.id, "pids", "pids.max"), "4");
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn cpu_settings_are_written() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("cg-cpu");
    let mut cpu = json!({
        "shares": 512,
        "quota": 50000,
        "period": 100000,
        "cpus": "0",
        "mems": "0",
    });
    // cpu.idle and cpu burst are runc 1.2 features.
    if is_husk() {
        cpu["idle"] = json!(0);
        cpu["burst"] = json!(1000);
    }
    set_resources(&fx, json!({ "cpu": cpu }));
    fx.start_sleeper();
    let id = &fx.id;
    if is_v2() {
        assert_eq!(cg_read(id, "cpu", "cpu.weight"), "20");
        assert_eq!(cg_read(id, "cpu", "cpu.max"), "50000 100000");
    } else {
        assert_eq!(cg_read(id, "cpu", "cpu.shares"), "512");
        assert_eq!(cg_read(id, "cpu", "cpu.cfs_quota_us"), "50000");
        assert_eq!(cg_read(id, "cpu", "cpu.cfs_period_us"), "100000");
    }
    assert_eq!(cg_read(id, "cpuset", "cpuset.cpus"), "0");
    assert_eq!(cg_read(id, "cpuset", "cpuset.mems"), "0");
    if is_husk() {
        assert_eq!(cg_read(id, "cpu", "cpu.idle"), "0");
        let burst = if is_v2() {
            "cpu.max.burst"
        } else {
            "cpu.cfs_burst_us"
        };
        if cg_dir(id, "cpu").join(burst).exists() {
            assert_eq!(cg_read(id, "cpu", burst), "1000");
        }
        // An idle cgroup (its weight then reads as the minimum).
        let fx = Fixture::new("cg-cpu-idle");
        set_resources(&fx, json!({ "cpu": { "idle": 1 } }));
        fx.start_sleeper();
        assert_eq!(cg_read(&fx.id, "cpu", "cpu.idle"), "1");
    }
}

/// A block device of the host (major, minor) for throttle rules.
fn some_block_device() -> Option<(u64, u64)> {
    let mut devs: Vec<(u64, u64)> = fs::read_dir("/sys/block")
        .ok()?
        .flatten()
        .filter_map(|e| {
            let d = fs::read_to_string(e.path().join("dev")).ok()?;
            let (a, b) = d.trim().split_once(':')?;
            Some((a.parse().ok()?, b.parse().ok()?))
        })
        // Not loop (7) or zram devices: a real disk if there is one.
        .collect();
    devs.sort_by_key(|d| (d.0 == 7, d.0));
    devs.into_iter().next()
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn blkio_settings_are_written() {
    if !require_root() {
        return;
    }
    let Some((major, minor)) = some_block_device() else {
        eprintln!("skipped: no block device");
        return;
    };
    let fx = Fixture::new("cg-blkio");
    if !blkio_weight_supported() {
        // This kernel has no I/O weight (no BFQ): the field is refused by
        // name, and the throttles below are tested without it.
        set_resources(&fx, json!({ "blockIO": { "weight": 300 } }));
        let out = fx.husk(&["create", "--bundle", fx.bundle_str(), &fx.id]);
        assert_clean_error(&out);
        if is_husk() {
            assert!(
                stderr_str(&out).contains("linux.resources.blockIO.weight"),
                "{}",
                describe(&out)
            );
        }
        assert_nothing_left(&fx, &fx.id);
    }
    let weight = if blkio_weight_supported() {
        json!(300)
    } else {
        json!(null)
    };
    set_resources(
        &fx,
        json!({ "blockIO": {
            "weight": weight,
            "throttleReadBpsDevice": [{ "major": major, "minor": minor, "rate": 1048576 }],
            "throttleWriteIOPSDevice": [{ "major": major, "minor": minor, "rate": 100 }],
        }}),
    );
    fx.start_sleeper();
    let id = &fx.id;
    let dev = format!("{major}:{minor}");
    if is_v2() {
        let io = cg_read(id, "io", "io.max");
        let line = io.lines().find(|l| l.starts_with(&dev)).unwrap_or("");
        assert!(line.contains("rbps=1048576"), "{io}");
        assert!(line.contains("wiops=100"), "{io}");
        let d = cg_dir(id, "io");
        if d.join("io.bfq.weight").exists() {
            assert_eq!(weight_of(&cg_read(id, "io", "io.bfq.weight")), "300");
        } else {
            // 1 + (300 - 10) * 9999 / 990
            assert_eq!(weight_of(&cg_read(id, "io", "io.weight")), "2930");
        }
    } else {
        assert_eq!(
            cg_read(id, "blkio", "blkio.throttle.read_bps_device"),
            format!("{dev} 1048576")
        );
        assert_eq!(
            cg_read(id, "blkio", "blkio.throttle.write_iops_device"),
            format!("{dev} 100")
        );
        if blkio_weight_supported() {
            let d = cg_dir(id, "blkio");
            let f = if d.join("blkio.weight").exists() {
                "blkio.weight"
            } else {
                "blkio.bfq.weight"
            };
            assert_eq!(weight_of(&cg_read(id, "blkio", f)), "300");
        }
    }
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn hugepage_limits_are_written_and_checked() {
    if !require_root() {
        return;
    }
    let sizes: Vec<String> = fs::read_dir("/sys/kernel/mm/hugepages")
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| {
                    let n = e.file_name().to_string_lossy().into_owned();
                    let kb: u64 = n
                        .strip_prefix("hugepages-")?
                        .strip_suffix("kB")?
                        .parse()
                        .ok()?;
                    Some(if kb >= 1 << 20 {
                        format!("{}GB", kb >> 20)
                    } else {
                        format!("{}MB", kb >> 10)
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    if !sizes.iter().any(|s| s == "2MB") {
        eprintln!("skipped: no 2MB huge pages");
        return;
    }
    // A size the kernel does not have: an error naming it, nothing left.
    let fx = Fixture::new("cg-huge-bad");
    set_resources(
        &fx,
        json!({ "hugepageLimits": [{ "pageSize": "3MB", "limit": 4194304 }] }),
    );
    let err = create_fails_cleanly(&fx);
    if is_husk() {
        assert!(err.contains("3MB"), "{err}");
    }

    // runc 1.1 needs a v1 hugetlb hierarchy on v1 hosts; husk also uses
    // the cgroup2 mount of a hybrid host.
    let v1_hugetlb = Path::new("/sys/fs/cgroup/hugetlb/tasks").exists();
    if !is_v2() && !v1_hugetlb && !is_husk() {
        eprintln!("skipped: runc has no hugetlb controller on this host");
        return;
    }
    let fx = Fixture::new("cg-huge");
    set_resources(
        &fx,
        json!({ "hugepageLimits": [{ "pageSize": "2MB", "limit": 4194304 }] }),
    );
    // A hybrid host whose cgroup2 root does not have hugetlb enabled: husk
    // refuses rather than change the host's root.
    let root_enabled = fs::read_to_string("/sys/fs/cgroup/unified/cgroup.subtree_control")
        .unwrap_or_default()
        .split_whitespace()
        .any(|c| c == "hugetlb");
    if !is_v2() && !v1_hugetlb && !root_enabled {
        let err = create_fails_cleanly(&fx);
        assert!(err.contains("hugepageLimits"), "{err}");
        let after =
            fs::read_to_string("/sys/fs/cgroup/unified/cgroup.subtree_control").unwrap_or_default();
        assert!(
            !after.contains("hugetlb"),
            "the host's cgroup2 root was changed"
        );
        return;
    }
    fx.start_sleeper();
    let got = if is_v2() {
        cg_read(&fx.id, "", "hugetlb.2MB.max")
    } else if v1_hugetlb {
        cg_read(&fx.id, "hugetlb", "hugetlb.2MB.limit_in_bytes")
    } else {
        cg_read(&fx.id, "unified", "hugetlb.2MB.max")
    };
    assert_eq!(got, "4194304");
}

/// Invalid values fail create with an error naming the field, and leave no
/// state directory and no cgroup.
#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn invalid_resources_leave_nothing_behind() {
    if !require_root() {
        return;
    }
    let mut cases = vec![
        (
            "swappiness",
            json!({ "memory": { "limit": 64 << 20, "swappiness": 200 } }),
        ),
        (
            "devices",
            json!({ "devices": [{ "allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwx" }] }),
        ),
        (
            "swap",
            json!({ "memory": { "limit": 64 << 20, "swap": 32 << 20 } }),
        ),
    ];
    if !is_v2() {
        cases.push(("unified", json!({ "unified": { "pids.max": "10" } })));
        // No v1 hierarchy for these on this kind of host.
        if !has_v1("net_cls") {
            cases.push(("classID", json!({ "network": { "classID": 42 } })));
        }
        if !has_v1("rdma") {
            cases.push(("rdma", json!({ "rdma": { "mlx5_0": { "hcaHandles": 3 } } })));
        }
    } else {
        cases.push(("rdma", json!({ "rdma": { "mlx5_0": { "hcaHandles": 3 } } })));
        cases.push((
            "unified",
            json!({ "unified": { "nosuch.controller": "1" } }),
        ));
    }
    for (field, res) in cases {
        // runc 1.1 lets an unknown access letter through, and ignores
        // swappiness altogether on v2; husk refuses both.
        if !is_husk() && (field == "devices" || (field == "swappiness" && is_v2())) {
            continue;
        }
        eprintln!("case {field}: {res}");
        let fx = Fixture::new(&format!("cg-bad-{}", field.to_lowercase()));
        set_resources(&fx, res);
        fx.set_args(&["sleep", "1000"]);
        let err = create_fails_cleanly(&fx);
        if is_husk() {
            assert!(err.contains(field), "{field}: {err}");
        }
    }
}

/// On v2, network classID/priorities are skipped (there is no net_cls);
/// `unified` keys are written as is.
#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn v2_skips_network_and_writes_unified() {
    if !require_root() {
        return;
    }
    if !is_v2() {
        eprintln!("skipped: cgroup v2 only");
        return;
    }
    let fx = Fixture::new("cg-unified");
    set_resources(
        &fx,
        json!({
            "network": { "classID": 42, "priorities": [{ "name": "lo", "priority": 1 }] },
            "unified": { "pids.max": "9", "memory.high": "50000000" },
        }),
    );
    fx.start_sleeper();
    assert_eq!(cg_read(&fx.id, "", "pids.max"), "9");
    assert_eq!(cg_read(&fx.id, "", "memory.high"), "49999872");
}

/// Device rules are enforced (v1 devices controller, v2 eBPF program): a
/// device node the rules do not allow cannot be opened, and an `r` rule
/// allows reading but not writing.
#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn device_rules_are_enforced() {
    if !require_root() {
        return;
    }
    // Major 60 is reserved for local use: no driver, so an allowed open
    // fails with ENXIO and a denied one with EPERM.
    let script = "cat /dev/husktest 2>&1; echo x 2>&1 > /dev/husktest; \
                  cat /dev/null && echo null-ok";
    let run = |name: &str, extra: Option<Value>| -> String {
        let fx = Fixture::new(name);
        {
            let mut c = fx.config_mut();
            c["linux"]["devices"] = json!([{
                "path": "/dev/husktest", "type": "c", "major": 60, "minor": 0,
                "fileMode": 438, "uid": 0, "gid": 0
            }]);
            if let Some(rule) = extra {
                c["linux"]["resources"]["devices"]
                    .as_array_mut()
                    .unwrap()
                    .push(rule);
            }
        }
        fx.run_sh(script)
    };
    let denied = run("cg-dev-deny", None);
    assert!(denied.contains("null-ok"), "{denied}");
    assert_eq!(
        denied.matches("Operation not permitted").count(),
        2,
        "{denied}"
    );
    let read_only = run(
        "cg-dev-r",
        Some(json!({ "allow": true, "type": "c", "major": 60, "minor": 0, "access": "r" })),
    );
    assert!(read_only.contains("null-ok"), "{read_only}");
    assert_eq!(
        read_only.matches("Operation not permitted").count(),
        1,
        "the write must still be denied: {read_only}"
    );
    assert!(
        read_only.contains("No such device"),
        "the read must reach the (missing) driver: {read_only}"
    );
}

// ---------------------------------------------------------------------------
// update

/// The files an update writes, per cgroup version, as runc writes them.
fn update_files() -> Vec<(&'static str, &'static str)> {
    if is_v2() {
        vec![
            ("memory", "memory.max"),
            ("memory", "memory.low"),
            ("memory", "memory.swap.max"),
            ("cpu", "cpu.weight"),
            ("cpu", "cpu.max"),
            ("cpuset", "cpuset.cpus"),
            ("cpuset", "cpuset.mems"),
            ("pids", "pids.max"),
            ("io", "io.weight"),
            ("io", "io.bfq.weight"),
        ]
    } else {
        vec![
            ("memory", "memory.limit_in_bytes"),
            ("memory", "memory.soft_limit_in_bytes"),
            ("memory", "memory.memsw.limit_in_bytes"),
            ("cpu", "cpu.shares"),
            ("cpu", "cpu.cfs_quota_us"),
            ("cpu", "cpu.cfs_period_us"),
            ("cpuset", "cpuset.cpus"),
            ("cpuset", "cpuset.mems"),
            ("pids", "pids.max"),
            ("blkio", "blkio.weight"),
            ("blkio", "blkio.bfq.weight"),
        ]
    }
}

fn snapshot(id: &str) -> Vec<(String, String)> {
    update_files()
        .into_iter()
        .filter(|(c, f)| cg_dir(id, c).join(f).exists())
        .map(|(c, f)| (f.to_string(), cg_read(id, c, f)))
        .collect()
}

/// The updates both runtimes are run through, in order.
const UPDATES: &[&[&str]] = &[
    &[
        "--memory",
        "64m",
        "--memory-reservation",
        "32m",
        "--memory-swap",
        "128m",
        "--cpu-share",
        "512",
        "--cpu-period",
        "50000",
        "--cpu-quota",
        "25000",
        "--cpuset-cpus",
        "0",
        "--cpuset-mems",
        "0",
        "--pids-limit",
        "30",
        "--blkio-weight",
        "300",
    ],
    // One half of a pair keeps the other.
    &["--cpu-quota", "40000"],
    &["--cpu-period", "100000"],
    &["--memory", "96m"],
    &["--pids-limit", "-1", "--cpu-quota", "-1"],
];

/// UPDATES without --blkio-weight where the kernel has no I/O weight.
fn updates() -> Vec<Vec<&'static str>> {
    UPDATES
        .iter()
        .map(|u| {
            let mut v = u.to_vec();
            if !blkio_weight_supported() {
                if let Some(i) = v.iter().position(|a| *a == "--blkio-weight") {
                    v.drain(i..i + 2);
                }
            }
            v
        })
        .collect()
}

fn update_args<'a>(flags: &[&'a str], id: &'a str) -> Vec<&'a str> {
    let mut v = vec!["update"];
    v.extend_from_slice(flags);
    v.push(id);
    v
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn update_flags_write_runc_files() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("cg-update");
    fx.start_sleeper();
    let id = &fx.id;
    fx.run_ok(&update_args(&updates()[0], id));
    if is_v2() {
        assert_eq!(cg_read(id, "memory", "memory.max"), "67108864");
        assert_eq!(cg_read(id, "memory", "memory.low"), "33554432");
        assert_eq!(cg_read(id, "memory", "memory.swap.max"), "67108864");
        assert_eq!(cg_read(id, "cpu", "cpu.weight"), "20");
        assert_eq!(cg_read(id, "cpu", "cpu.max"), "25000 50000");
    } else {
        assert_eq!(cg_read(id, "memory", "memory.limit_in_bytes"), "67108864");
        assert_eq!(
            cg_read(id, "memory", "memory.soft_limit_in_bytes"),
            "33554432"
        );
        assert_eq!(
            cg_read(id, "memory", "memory.memsw.limit_in_bytes"),
            "134217728"
        );
        assert_eq!(cg_read(id, "cpu", "cpu.shares"), "512");
        assert_eq!(cg_read(id, "cpu", "cpu.cfs_quota_us"), "25000");
        assert_eq!(cg_read(id, "cpu", "cpu.cfs_period_us"), "50000");
    }
    assert_eq!(cg_read(id, "pids", "pids.max"), "30");
    assert_eq!(cg_read(id, "cpuset", "cpuset.cpus"), "0");

    fx.run_ok(&["update", "--cpu-quota", "40000", id]);
    if is_v2() {
        assert_eq!(cg_read(id, "cpu", "cpu.max"), "40000 50000");
    } else {
        assert_eq!(cg_read(id, "cpu", "cpu.cfs_quota_us"), "40000");
        assert_eq!(cg_read(id, "cpu", "cpu.cfs_period_us"), "50000");
    }
    fx.run_ok(&["update", "--pids-limit", "-1", id]);
    assert_eq!(cg_read(id, "pids", "pids.max"), "max");

    // --resources FILE, and - for stdin.
    let file = fx.dir.join("res.json");
    fs::write(
        &file,
        json!({ "memory": { "limit": 48 << 20 }, "pids": { "limit": 12 } }).to_string(),
    )
    .unwrap();
    fx.run_ok(&["update", "--resources", file.to_str().unwrap(), id]);
    let mem_file = if is_v2() {
        "memory.max"
    } else {
        "memory.limit_in_bytes"
    };
    assert_eq!(cg_read(id, "memory", mem_file), "50331648");
    assert_eq!(cg_read(id, "pids", "pids.max"), "12");
    let out = run_with_stdin(
        &fx,
        &["update", "-r", "-", id],
        r#"{"pids": {"limit": 13}}"#,
    );
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(cg_read(id, "pids", "pids.max"), "13");

    // Bad values fail cleanly and change nothing.
    let out = fx.husk(&["update", "--memory", "12q", id]);
    assert_clean_error(&out);
    assert_eq!(cg_read(id, "memory", mem_file), "50331648");
}

/// Every update of UPDATES leaves the same files as runc's (husk only:
/// runs runc side by side).
#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn update_matches_runc() {
    if !require_root() {
        return;
    }
    if !is_husk() {
        eprintln!("skipped: compares husk with runc");
        return;
    }
    if Command::new("runc").arg("--version").output().is_err() {
        eprintln!("skipped: runc is not installed");
        return;
    }
    let fx = Fixture::new("cg-vs-runc");
    fx.start_sleeper();
    let rid = fx.new_id("runc");
    fx.set_cgroup_for(&rid);
    fx.write_config();
    let rroot = fx.dir.join("runc-root");
    // Files, not pipes: the container's init inherits them.
    let runc = |args: &[&str]| {
        let mut cmd = Command::new("runc");
        cmd.arg("--root").arg(&rroot).args(args);
        let (o, e) = (fx.dir.join("runc.out"), fx.dir.join("runc.err"));
        let out = run_with_timeout(cmd, &o, &e, COMMAND_TIMEOUT);
        assert!(out.status.success(), "runc {args:?}: {}", describe(&out));
    };
    runc(&["create", "--bundle", fx.bundle_str(), &rid]);
    // Cleaned up even if an assertion fails.
    struct RuncGuard<'a>(&'a Path, &'a str);
    impl Drop for RuncGuard<'_> {
        fn drop(&mut self) {
            let _ = Command::new("runc")
                .arg("--root")
                .arg(self.0)
                .args(["delete", "--force", self.1])
                .output();
        }
    }
    let _g = RuncGuard(&rroot, &rid);
    assert_eq!(snapshot(&fx.id), snapshot(&rid), "before any update");
    for u in updates() {
        fx.run_ok(&update_args(&u, &fx.id));
        runc(&update_args(&u, &rid));
        assert_eq!(snapshot(&fx.id), snapshot(&rid), "after update {u:?}");
    }
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn update_refuses_a_stopped_container() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("cg-update-stopped");
    fx.set_args(&["true"]);
    fx.create();
    fx.run_ok(&["start", &fx.id]);
    fx.wait_status(&fx.id, "stopped");
    let out = fx.husk(&["update", "--pids-limit", "10", &fx.id]);
    assert_clean_error(&out);
    assert!(
        stderr_str(&out).contains("not running"),
        "{}",
        describe(&out)
    );
}

/// memory.checkBeforeUpdate refuses a limit below the current usage
/// (runc 1.2; runc 1.1 ignores the field).
#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn update_check_before_update() {
    if !require_root() {
        return;
    }
    if !is_husk() {
        eprintln!("skipped: runc 1.1 has no checkBeforeUpdate");
        return;
    }
    let fx = Fixture::new("cg-check");
    set_resources(&fx, json!({ "memory": { "limit": 64 << 20 } }));
    fx.start_sleeper();
    let out = run_with_stdin(
        &fx,
        &["update", "-r", "-", &fx.id],
        r#"{"memory": {"limit": 4096, "checkBeforeUpdate": true}}"#,
    );
    assert!(!out.status.success(), "{}", describe(&out));
    assert!(
        stderr_str(&out).contains("rejecting memory limit"),
        "{}",
        describe(&out)
    );
    let f = if is_v2() {
        "memory.max"
    } else {
        "memory.limit_in_bytes"
    };
    assert_eq!(cg_read(&fx.id, "memory", f), "67108864");
}

// ---------------------------------------------------------------------------
// pause/resume, ps, events, kill --all

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn pause_and_resume() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("cg-pause");
    fx.start_sleeper();
    let id = &fx.id;
    fx.run_ok(&["pause", id]);
    assert_eq!(fx.status_of(id), "paused");
    if is_v2() {
        assert_eq!(cg_read(id, "", "cgroup.freeze"), "1");
        assert!(cg_read(id, "", "cgroup.events").contains("frozen 1"));
    } else {
        assert_eq!(cg_read(id, "freezer", "freezer.state"), "FROZEN");
    }
    // Pausing twice or resuming a running container are errors.
    assert_clean_error(&fx.husk(&["pause", id]));
    fx.run_ok(&["resume", id]);
    assert_eq!(fx.status_of(id), "running");
    if is_v2() {
        assert_eq!(cg_read(id, "", "cgroup.freeze"), "0");
    } else {
        assert_eq!(cg_read(id, "freezer", "freezer.state"), "THAWED");
    }
    assert_clean_error(&fx.husk(&["resume", id]));
    // A paused container can be killed and deleted.
    fx.run_ok(&["pause", id]);
    fx.run_ok(&["delete", "--force", id]);
    assert_nothing_left(&fx, id);
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn ps_lists_the_container_processes() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("cg-ps");
    fx.set_sh("sleep 1001 & sleep 1002 & wait");
    fx.create();
    fx.run_ok(&["start", &fx.id]);
    let procs_dir = cg_dir(&fx.id, "pids");
    let procs = || -> Vec<i64> {
        let mut v: Vec<i64> = fs::read_to_string(procs_dir.join("cgroup.procs"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect();
        v.sort();
        v
    };
    assert!(
        wait_until(Duration::from_secs(10), || procs().len() == 3),
        "{:?}",
        procs()
    );
    let json_out = fx.stdout_of(&["ps", "--format", "json", &fx.id]);
    let mut pids: Vec<i64> = serde_json::from_str(&json_out).expect("a JSON array of pids");
    pids.sort();
    assert_eq!(pids, procs());

    let table = fx.stdout_of(&["ps", &fx.id]);
    let mut lines = table.lines();
    assert!(lines.next().unwrap_or("").contains("PID"), "{table}");
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 3, "{table}");
    assert!(rows.iter().any(|l| l.contains("sleep 1001")), "{table}");
    assert!(rows.iter().any(|l| l.contains("sleep 1002")), "{table}");

    // Extra arguments go to ps(1).
    let custom = fx.stdout_of(&["ps", &fx.id, "-o", "pid,comm"]);
    let mut lines = custom.lines();
    let header: Vec<&str> = lines.next().unwrap_or("").split_whitespace().collect();
    assert_eq!(header, ["PID", "COMMAND"], "{custom}");
    assert_eq!(lines.count(), 3, "{custom}");
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn events_stats_is_runc_json() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("cg-stats");
    set_resources(
        &fx,
        json!({ "memory": { "limit": 64 << 20 }, "pids": { "limit": 50 } }),
    );
    fx.start_sleeper();
    let out = fx.stdout_of(&["events", "--stats", &fx.id]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 1, "{out}");
    let ev: Value = serde_json::from_str(lines[0]).expect("JSON");
    assert_eq!(ev["type"], "stats");
    assert_eq!(ev["id"], fx.id.as_str());
    let d = &ev["data"];
    for k in ["cpu", "memory", "pids", "blkio", "hugetlb"] {
        assert!(d.get(k).is_some(), "no {k} in {d}");
    }
    assert_eq!(d["pids"]["current"], 1, "{d}");
    assert_eq!(d["pids"]["limit"], 50, "{d}");
    assert!(
        d["memory"]["usage"]["usage"].as_u64().unwrap_or(0) > 0,
        "{d}"
    );
    assert_eq!(d["memory"]["usage"]["limit"], 64 << 20, "{d}");
    assert!(d["memory"]["raw"].is_object(), "{d}");
    assert!(d["cpu"]["usage"]["total"].as_u64().unwrap_or(0) > 0, "{d}");

    // A stopped container has no events.
    fx.run_ok(&["kill", &fx.id, "KILL"]);
    fx.wait_status(&fx.id, "stopped");
    assert_clean_error(&fx.husk(&["events", "--stats", &fx.id]));
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn events_streams_stats_at_the_interval() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("cg-events");
    fx.start_sleeper();
    let ev = Bg::spawn(&fx, &["events", "--interval", "100ms", &fx.id], "events");
    assert!(
        wait_until(Duration::from_secs(30), || ev.events().len() >= 3),
        "{}",
        ev.output()
    );
    for e in ev.events() {
        assert_eq!(e["type"], "stats", "{e}");
        assert_eq!(e["id"], fx.id.as_str(), "{e}");
        assert!(e["data"]["pids"].is_object(), "{e}");
    }
    assert_clean_error(&fx.husk(&["events", "--interval", "0s", &fx.id]));
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn kill_all_and_delete_remove_everything() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("cg-killall");
    fx.set_sh("sleep 1001 & sleep 1002 & wait");
    fx.create();
    fx.run_ok(&["start", &fx.id]);
    let procs = cg_dir(&fx.id, "pids").join("cgroup.procs");
    let count = || {
        fs::read_to_string(&procs)
            .map(|s| s.lines().count())
            .unwrap_or(0)
    };
    assert!(wait_until(Duration::from_secs(10), || count() == 3));
    fx.run_ok(&["kill", "--all", &fx.id, "KILL"]);
    assert!(
        wait_until(Duration::from_secs(10), || count() == 0),
        "processes left: {}",
        fs::read_to_string(&procs).unwrap_or_default()
    );
    fx.wait_status(&fx.id, "stopped");
    fx.run_ok(&["delete", &fx.id]);
    assert_nothing_left(&fx, &fx.id);
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn kill_all_of_a_stopped_container_succeeds() {
    if !require_root() {
        return;
    }
    // containerd sends `kill --all` after the init exited; nothing left to
    // signal is not an error (runc: signalAllProcesses of an empty cgroup).
    let fx = Fixture::new("cg-killall-stopped");
    fx.set_args(&["true"]);
    fx.create();
    fx.run_ok(&["start", &fx.id]);
    fx.wait_status(&fx.id, "stopped");
    fx.run_ok(&["kill", "--all", &fx.id, "KILL"]);
    fx.run_ok(&["kill", "-a", &fx.id, "0"]);
    assert_eq!(fx.status_of(&fx.id), "stopped");
    // Without --all, a stopped container still cannot be signalled.
    assert_clean_error(&fx.husk(&["kill", &fx.id, "KILL"]));
    fx.run_ok(&["delete", &fx.id]);
    assert_nothing_left(&fx, &fx.id);
}

/// Freezes (or thaws) the cgroup directory `d` the way `pause` does.
fn set_frozen(d: &Path, frozen: bool) {
    if is_v2() {
        fs::write(d.join("cgroup.freeze"), if frozen { "1" } else { "0" }).unwrap();
    } else {
        let v = if frozen { "FROZEN" } else { "THAWED" };
        fs::write(d.join("freezer.state"), v).unwrap();
    }
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn create_in_a_frozen_cgroup_fails_fast() {
    if !require_root() {
        return;
    }
    // runc 1.1.5 refuses "container's cgroup unexpectedly frozen" before
    // creating anything; a process put in a frozen cgroup would never run
    // and create would wait for it forever.
    let fx = Fixture::new("cg-frozen");
    fx.set_args(&["true"]);
    let ctrl = if is_v2() { "" } else { "freezer" };
    let dir = cg_dir(&fx.id, ctrl);
    fs::create_dir_all(&dir).unwrap();
    set_frozen(&dir, true);
    struct Thaw(PathBuf);
    impl Drop for Thaw {
        fn drop(&mut self) {
            set_frozen(&self.0, false);
        }
    }
    let _thaw = Thaw(dir.clone());
    for cmd in ["create", "run"] {
        let start = std::time::Instant::now();
        let out = fx.husk(&[cmd, "--bundle", fx.bundle_str(), &fx.id]);
        assert_clean_error(&out);
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{cmd} took {:?}",
            start.elapsed()
        );
        assert!(stderr_str(&out).contains("frozen"), "{}", describe(&out));
        assert!(!fx.state_dir(&fx.id).exists(), "{cmd} left its state");
        // The cgroup is the caller's: still there, still frozen.
        assert!(dir.is_dir());
    }
    if !is_husk() {
        // runc 1.1.5 only reads the freezer state of the cgroup itself: under
        // a frozen parent its create hangs.
        return;
    }
    // A cgroup to be made under a frozen parent is refused the same way.
    fx.set_cgroup_for(&format!("{}/child", fx.id));
    let out = fx.husk(&["create", "--bundle", fx.bundle_str(), &fx.id]);
    assert_clean_error(&out);
    assert!(stderr_str(&out).contains("frozen"), "{}", describe(&out));
    assert!(!fx.state_dir(&fx.id).exists());
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn spec_has_a_cgroup_namespace_on_v2_only() {
    if !require_root() {
        return;
    }
    // runc spec adds one when /sys/fs/cgroup is cgroup2 (IsCgroup2UnifiedMode).
    let fx = Fixture::new("cg-spec");
    for rootless in [false, true] {
        let dir = fx.dir.join(format!("spec-{rootless}"));
        fs::create_dir_all(&dir).unwrap();
        let mut args = vec!["spec", "--bundle", dir.to_str().unwrap()];
        if rootless {
            args.push("--rootless");
        }
        fx.run_ok(&args);
        let text = fs::read_to_string(dir.join("config.json")).unwrap();
        let spec: Value = serde_json::from_str(&text).unwrap();
        let types: Vec<&str> = spec["linux"]["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["type"].as_str().unwrap())
            .collect();
        assert_eq!(
            types.contains(&"cgroup"),
            is_v2(),
            "rootless={rootless}: {types:?}"
        );
    }
}

/// A relative or empty cgroupsPath lands under husk's own /husk parent,
/// never under the caller's cgroup (husk only: runc nests it under its own
/// cgroup).
#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn relative_and_default_cgroup_paths() {
    if !require_root() {
        return;
    }
    if !is_husk() {
        eprintln!("skipped: husk's placement of relative paths");
        return;
    }
    let base = |rel: &str| {
        let b = Path::new("/sys/fs/cgroup");
        if is_v2() {
            b.join("husk").join(rel)
        } else {
            b.join("pids").join("husk").join(rel)
        }
    };
    for (name, path) in [("rel", Some("rel")), ("default", None)] {
        let fx = Fixture::new(&format!("cg-path-{name}"));
        let leaf = match path {
            Some(p) => format!("{p}-{}", fx.id),
            None => fx.id.clone(),
        };
        struct Rm(String);
        impl Drop for Rm {
            fn drop(&mut self) {
                for m in cgroup_mounts() {
                    let _ = fs::remove_dir(m.join("husk").join(&self.0));
                }
            }
        }
        let _rm = Rm(leaf.clone());
        fx.config_mut()["linux"]["cgroupsPath"] = match path {
            Some(_) => json!(leaf),
            None => Value::Null,
        };
        let pid = fx.start_sleeper();
        let procs = fs::read_to_string(base(&leaf).join("cgroup.procs")).unwrap_or_default();
        assert!(
            procs.lines().any(|l| l.trim() == pid.to_string()),
            "{name}: pid {pid} not in {}",
            base(&leaf).display()
        );
        fx.run_ok(&["delete", "--force", &fx.id]);
        assert!(!base(&leaf).exists(), "{name}: cgroup left");
    }
}
