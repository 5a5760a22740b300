//! Reading the statistics of `husk events` from cgroupfs, file by file as
//! runc's `GetStats` does for v1 (`fs/*.go`) and v2 (`fs2/*.go`).

use super::stats::*;
use super::Layout;
use anyhow::{Context, Result};
use std::path::Path;

/// Nanoseconds per USER_HZ tick of cpuacct.stat (runc assumes 100 Hz).
const NS_PER_TICK: u64 = 1_000_000_000 / 100;

pub fn v1(layout: &Layout, rel: &str) -> Result<Stats> {
    let rel = rel.trim_start_matches('/');
    let dir = |c: &str| {
        layout
            .v1_mount(c)
            .map(|m| m.join(rel))
            .filter(|d| d.is_dir())
    };
    let mut s = Stats::default();
    if let Some(d) = dir("cpuset") {
        s.cpuset = cpuset(&d);
    }
    if let Some(d) = dir("memory") {
        v1_memory(&d, &mut s.memory)?;
    }
    if let Some(d) = dir("cpu") {
        throttling(&d, &mut s.cpu.throttling, 1)?;
    }
    if let Some(d) = dir("cpuacct") {
        v1_cpuacct(&d, &mut s.cpu.usage)?;
    }
    if let Some(d) = dir("pids") {
        s.pids = pids(&d)?;
    }
    if let Some(d) = dir("blkio") {
        s.blkio = v1_blkio(&d)?;
    }
    if let Some(d) = dir("hugetlb") {
        for size in hugepage_sizes() {
            let f = |what: &str| read_u64(&d, &format!("hugetlb.{size}.{what}"));
            let h = Hugetlb {
                usage: f("usage_in_bytes")?,
                max: f("max_usage_in_bytes")?,
                failcnt: f("failcnt")?,
            };
            s.hugetlb.insert(size, h);
        }
    } else if let Layout::V1 {
        unified: Some(u), ..
    } = layout
    {
        // Hybrid host: husk puts hugetlb limits on the cgroup2 mount.
        let d = u.join(rel);
        if d.join("cgroup.controllers").exists() {
            v2_hugetlb(&d, &mut s)?;
        }
    }
    Ok(s)
}

pub fn v2(dir: &Path) -> Result<Stats> {
    let pids = if dir.join("pids.current").exists() {
        pids(dir)?
    } else {
        // No pids controller: count the processes.
        let procs = std::fs::read_to_string(dir.join("cgroup.procs"))
            .with_context(|| format!("read {}", dir.join("cgroup.procs").display()))?;
        Pids {
            current: procs.lines().count() as u64,
            limit: 0,
        }
    };
    let mut s = Stats {
        pids,
        ..Default::default()
    };
    if dir.join("memory.stat").exists() {
        v2_memory(dir, &mut s.memory)?;
    }
    if dir.join("io.stat").exists() {
        s.blkio = v2_io(dir)?;
    }
    if dir.join("cpu.stat").exists() {
        let kv = read_kv(dir, "cpu.stat")?;
        let g = |k: &str| kv.get(k).copied().unwrap_or(0);
        s.cpu.usage.total = g("usage_usec") * 1000;
        s.cpu.usage.user = g("user_usec") * 1000;
        s.cpu.usage.kernel = g("system_usec") * 1000;
        throttling(dir, &mut s.cpu.throttling, 1000)?;
    }
    v2_hugetlb(dir, &mut s)?;
    Ok(s)
}

fn pids(d: &Path) -> Result<Pids> {
    let limit = read_u64(d, "pids.max")?;
    Ok(Pids {
        current: read_u64(d, "pids.current")?,
        limit: if limit == u64::MAX { 0 } else { limit },
    })
}

/// cpu.stat's throttling counters; v2 counts time in µs, v1 in ns.
fn throttling(d: &Path, t: &mut Throttling, time_scale: u64) -> Result<()> {
    if !d.join("cpu.stat").exists() {
        return Ok(());
    }
    let kv = read_kv(d, "cpu.stat")?;
    let g = |k: &str| kv.get(k).copied().unwrap_or(0);
    t.periods = g("nr_periods");
    t.throttled_periods = g("nr_throttled");
    t.throttled_time = if time_scale == 1 {
        g("throttled_time")
    } else {
        g("throttled_usec") * time_scale
    };
    Ok(())
}

fn cpuset(d: &Path) -> CpuSet {
    let u = |f: &str| read_u64(d, f).unwrap_or(0);
    let list = |f: &str| std::fs::read_to_string(d.join(f)).map(|s| parse_cpuset(&s));
    CpuSet {
        cpus: list("cpuset.cpus").unwrap_or_default(),
        cpu_exclusive: u("cpuset.cpu_exclusive"),
        mems: list("cpuset.mems").unwrap_or_default(),
        mem_hardwall: u("cpuset.mem_hardwall"),
        mem_exclusive: u("cpuset.mem_exclusive"),
        memory_migrate: u("cpuset.memory_migrate"),
        memory_spread_page: u("cpuset.memory_spread_page"),
        memory_spread_slab: u("cpuset.memory_spread_slab"),
        memory_pressure: u("cpuset.memory_pressure"),
        sched_load_balance: u("cpuset.sched_load_balance"),
        sched_relax_domain_level: std::fs::read_to_string(
            d.join("cpuset.sched_relax_domain_level"),
        )
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0),
    }
}

fn v1_cpuacct(d: &Path, u: &mut CpuUsage) -> Result<()> {
    u.total = read_u64(d, "cpuacct.usage")?;
    let stat = read_kv(d, "cpuacct.stat")?;
    u.user = stat.get("user").copied().unwrap_or(0) * NS_PER_TICK;
    u.kernel = stat.get("system").copied().unwrap_or(0) * NS_PER_TICK;
    let percpu = std::fs::read_to_string(d.join("cpuacct.usage_percpu")).unwrap_or_default();
    u.percpu = percpu
        .split_whitespace()
        .filter_map(|v| v.parse().ok())
        .collect();
    // "cpu user system" per line after a header.
    if let Ok(all) = std::fs::read_to_string(d.join("cpuacct.usage_all")) {
        for l in all.lines().skip(1) {
            let f: Vec<u64> = l
                .split_whitespace()
                .filter_map(|v| v.parse().ok())
                .collect();
            if f.len() == 3 {
                u.percpu_user.push(f[1]);
                u.percpu_kernel.push(f[2]);
            }
        }
    }
    Ok(())
}

fn v1_memory_entry(d: &Path, prefix: &str) -> Result<MemoryEntry> {
    let f = |what: &str| format!("{prefix}.{what}");
    if prefix != "memory" && !d.join(f("usage_in_bytes")).exists() {
        return Ok(MemoryEntry::default());
    }
    Ok(MemoryEntry {
        usage: read_u64(d, &f("usage_in_bytes"))?,
        max: read_u64(d, &f("max_usage_in_bytes"))?,
        failcnt: read_u64(d, &f("failcnt"))?,
        limit: read_u64(d, &f("limit_in_bytes"))?,
    })
}

fn v1_memory(d: &Path, m: &mut Memory) -> Result<()> {
    m.raw = read_kv(d, "memory.stat")?;
    m.cache = m.raw.get("cache").copied().unwrap_or(0);
    m.usage = v1_memory_entry(d, "memory")?;
    m.swap = v1_memory_entry(d, "memory.memsw")?;
    m.kernel = v1_memory_entry(d, "memory.kmem")?;
    m.kernel_tcp = v1_memory_entry(d, "memory.kmem.tcp")?;
    Ok(())
}

fn v2_memory(d: &Path, m: &mut Memory) -> Result<()> {
    m.raw = read_kv(d, "memory.stat")?;
    m.cache = m.raw.get("file").copied().unwrap_or(0);
    m.usage = MemoryEntry {
        usage: read_u64(d, "memory.current")?,
        limit: read_u64(d, "memory.max")?,
        ..Default::default()
    };
    // runc reports swap as memory+swap, like v1's memsw.
    if d.join("memory.swap.current").exists() {
        let limit = read_u64(d, "memory.swap.max")?;
        m.swap = MemoryEntry {
            usage: read_u64(d, "memory.swap.current")? + m.usage.usage,
            limit: if limit == u64::MAX {
                limit
            } else {
                limit.saturating_add(m.usage.limit)
            },
            ..Default::default()
        };
    }
    Ok(())
}

/// Lines "MAJ:MIN Op value" (or "MAJ:MIN value") of a v1 blkio file.
fn blkio_file(d: &Path, file: &str) -> Result<Option<Vec<BlkioEntry>>> {
    let Ok(text) = std::fs::read_to_string(d.join(file)) else {
        return Ok(None);
    };
    let mut out = Vec::new();
    for l in text.lines() {
        let f: Vec<&str> = l.split([' ', ':']).filter(|s| !s.is_empty()).collect();
        if f.len() < 3 {
            continue; // "Total N"
        }
        let n = |s: &str| {
            s.parse::<u64>()
                .with_context(|| format!("parse {}: {l:?}", d.join(file).display()))
        };
        let (op, value) = if f.len() == 4 {
            (f[2].to_string(), n(f[3])?)
        } else {
            (String::new(), n(f[2])?)
        };
        out.push(BlkioEntry {
            major: n(f[0])?,
            minor: n(f[1])?,
            op,
            value,
        });
    }
    Ok(Some(out))
}

/// runc's order: BFQ debug files, BFQ, CFQ, then the throttle counters; the
/// first group whose first file exists wins.
fn v1_blkio(d: &Path) -> Result<Blkio> {
    type Setter = fn(&mut Blkio) -> &mut Vec<BlkioEntry>;
    let svc_bytes: Setter = |b| &mut b.io_service_bytes_recursive;
    let serviced: Setter = |b| &mut b.io_serviced_recursive;
    let groups: [&[(&str, Setter)]; 5] = [
        &[
            ("blkio.bfq.sectors_recursive", |b| &mut b.sectors_recursive),
            ("blkio.bfq.io_service_time_recursive", |b| {
                &mut b.io_service_time_recursive
            }),
            ("blkio.bfq.io_wait_time_recursive", |b| {
                &mut b.io_wait_time_recursive
            }),
            ("blkio.bfq.io_merged_recursive", |b| {
                &mut b.io_merged_recursive
            }),
            ("blkio.bfq.io_queued_recursive", |b| {
                &mut b.io_queued_recursive
            }),
            ("blkio.bfq.time_recursive", |b| &mut b.io_time_recursive),
            ("blkio.bfq.io_serviced_recursive", serviced),
            ("blkio.bfq.io_service_bytes_recursive", svc_bytes),
        ],
        &[
            ("blkio.bfq.io_serviced_recursive", serviced),
            ("blkio.bfq.io_service_bytes_recursive", svc_bytes),
        ],
        &[
            ("blkio.sectors_recursive", |b| &mut b.sectors_recursive),
            ("blkio.io_service_time_recursive", |b| {
                &mut b.io_service_time_recursive
            }),
            ("blkio.io_wait_time_recursive", |b| {
                &mut b.io_wait_time_recursive
            }),
            ("blkio.io_merged_recursive", |b| &mut b.io_merged_recursive),
            ("blkio.io_queued_recursive", |b| &mut b.io_queued_recursive),
            ("blkio.time_recursive", |b| &mut b.io_time_recursive),
            ("blkio.io_serviced_recursive", serviced),
            ("blkio.io_service_bytes_recursive", svc_bytes),
        ],
        &[
            ("blkio.throttle.io_serviced_recursive", serviced),
            ("blkio.throttle.io_service_bytes_recursive", svc_bytes),
        ],
        &[
            ("blkio.throttle.io_serviced", serviced),
            ("blkio.throttle.io_service_bytes", svc_bytes),
        ],
    ];
    for group in groups {
        let mut b = Blkio::default();
        let mut complete = true;
        for (i, (file, field)) in group.iter().enumerate() {
            match blkio_file(d, file)? {
                Some(v) => *field(&mut b) = v,
                None if i == 0 => {
                    complete = false;
                    break;
                }
                None => return Err(anyhow::anyhow!("read {}: missing", d.join(file).display())),
            }
        }
        if complete {
            return Ok(b);
        }
    }
    Ok(Blkio::default())
}

/// io.stat: "MAJ:MIN rbytes=N wbytes=N rios=N wios=N ...".
fn v2_io(d: &Path) -> Result<Blkio> {
    let text = std::fs::read_to_string(d.join("io.stat"))
        .with_context(|| format!("read {}", d.join("io.stat").display()))?;
    let mut b = Blkio::default();
    for l in text.lines() {
        let mut f = l.split_whitespace();
        let Some((maj, min)) = f.next().and_then(|d| d.split_once(':')) else {
            continue;
        };
        let (Ok(major), Ok(minor)) = (maj.parse::<u64>(), min.parse::<u64>()) else {
            continue;
        };
        for kv in f {
            let Some((k, v)) = kv.split_once('=') else {
                continue;
            };
            let Ok(value) = v.parse::<u64>() else {
                continue;
            };
            let (op, list) = match k {
                "rbytes" => ("Read", &mut b.io_service_bytes_recursive),
                "wbytes" => ("Write", &mut b.io_service_bytes_recursive),
                "rios" => ("Read", &mut b.io_serviced_recursive),
                "wios" => ("Write", &mut b.io_serviced_recursive),
                _ => continue,
            };
            list.push(BlkioEntry {
                major,
                minor,
                op: op.to_string(),
                value,
            });
        }
    }
    Ok(b)
}

fn v2_hugetlb(d: &Path, s: &mut Stats) -> Result<()> {
    for size in hugepage_sizes() {
        let cur = format!("hugetlb.{size}.current");
        if !d.join(&cur).exists() {
            continue;
        }
        let h = Hugetlb {
            usage: read_u64(d, &cur)?,
            max: 0,
            failcnt: kv_value(d, &format!("hugetlb.{size}.events"), "max").unwrap_or(0),
        };
        s.hugetlb.insert(size, h);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn dir(files: &[(&str, &str)]) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        for (f, v) in files {
            std::fs::write(d.path().join(f), v).unwrap();
        }
        d
    }

    #[test]
    fn v2_stats_from_cgroupfs_files() {
        let d = dir(&[
            ("pids.current", "3\n"),
            ("pids.max", "max\n"),
            ("cpu.stat", "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\nnr_periods 10\nnr_throttled 2\nthrottled_usec 7\n"),
            ("memory.stat", "anon 4096\nfile 8192\n"),
            ("memory.current", "12288\n"),
            ("memory.max", "1048576\n"),
            ("memory.swap.current", "100\n"),
            ("memory.swap.max", "2048\n"),
            ("io.stat", "8:0 rbytes=10 wbytes=20 rios=1 wios=2 dbytes=0\n"),
        ]);
        let s = v2(d.path()).unwrap();
        assert_eq!(
            (s.pids.current, s.pids.limit),
            (3, 0),
            "max is reported as 0"
        );
        assert_eq!(s.cpu.usage.total, 1_500_000);
        assert_eq!(s.cpu.usage.user, 1_000_000);
        assert_eq!(s.cpu.usage.kernel, 500_000);
        assert_eq!(s.cpu.throttling.periods, 10);
        assert_eq!(s.cpu.throttling.throttled_periods, 2);
        assert_eq!(s.cpu.throttling.throttled_time, 7000, "µs to ns");
        assert_eq!(s.memory.cache, 8192, "v2's file is v1's cache");
        assert_eq!(s.memory.usage.usage, 12288);
        assert_eq!(s.memory.usage.limit, 1048576);
        // Reported as memory+swap, like v1's memsw.
        assert_eq!(s.memory.swap.usage, 12388);
        assert_eq!(s.memory.swap.limit, 1048576 + 2048);
        assert_eq!(s.blkio.io_service_bytes_recursive.len(), 2);
        assert_eq!(
            s.blkio.io_serviced_recursive[1],
            BlkioEntry {
                major: 8,
                minor: 0,
                op: "Write".into(),
                value: 2
            }
        );
    }

    #[test]
    fn v2_without_pids_controller_counts_procs_and_unlimited_swap_stays_max() {
        let d = dir(&[
            ("cgroup.procs", "1\n2\n"),
            ("memory.stat", "file 0\n"),
            ("memory.current", "10\n"),
            ("memory.max", "max\n"),
            ("memory.swap.current", "0\n"),
            ("memory.swap.max", "max\n"),
        ]);
        let s = v2(d.path()).unwrap();
        assert_eq!(s.pids.current, 2);
        assert_eq!(s.memory.usage.limit, u64::MAX);
        assert_eq!(s.memory.swap.limit, u64::MAX, "no overflow");
        // Neither pids.current nor cgroup.procs: an error naming the file.
        let e = v2(dir(&[]).path()).unwrap_err().to_string();
        assert!(e.contains("cgroup.procs"), "{e}");
    }

    #[test]
    fn v1_blkio_lines_and_group_order() {
        let d = dir(&[
            (
                "blkio.throttle.io_service_bytes_recursive",
                "8:0 Read 4096\n8:0 Write 512\n8:0 Total 4608\nTotal 4608\n",
            ),
            ("blkio.throttle.io_serviced_recursive", "8:0 Read 1\n"),
        ]);
        let b = v1_blkio(d.path()).unwrap();
        assert_eq!(b.io_service_bytes_recursive.len(), 3, "\"Total N\" skipped");
        assert_eq!(
            b.io_service_bytes_recursive[0],
            BlkioEntry {
                major: 8,
                minor: 0,
                op: "Read".into(),
                value: 4096
            }
        );
        assert_eq!(b.io_serviced_recursive.len(), 1);
        // CFQ's files win over the throttle ones when present.
        std::fs::write(d.path().join("blkio.sectors_recursive"), "8:0 16\n").unwrap();
        for f in [
            "blkio.io_service_time_recursive",
            "blkio.io_wait_time_recursive",
            "blkio.io_merged_recursive",
            "blkio.io_queued_recursive",
            "blkio.time_recursive",
            "blkio.io_serviced_recursive",
            "blkio.io_service_bytes_recursive",
        ] {
            std::fs::write(d.path().join(f), "").unwrap();
        }
        let b = v1_blkio(d.path()).unwrap();
        assert_eq!(
            b.sectors_recursive,
            [BlkioEntry {
                major: 8,
                minor: 0,
                op: String::new(),
                value: 16
            }]
        );
        assert!(b.io_service_bytes_recursive.is_empty());
    }

    #[test]
    fn v1_blkio_incomplete_group_and_bad_numbers_fail() {
        // The first file of a group exists but another is missing.
        let d = dir(&[("blkio.bfq.io_serviced_recursive", "")]);
        let e = v1_blkio(d.path()).unwrap_err().to_string();
        assert!(
            e.contains("blkio.bfq.io_service_bytes_recursive: missing"),
            "{e}"
        );
        let d = dir(&[("x", "8:zero Read 1\n")]);
        let e = blkio_file(d.path(), "x").unwrap_err().to_string();
        assert!(e.contains("parse") && e.contains("8:zero Read 1"), "{e}");
        assert!(blkio_file(d.path(), "absent").unwrap().is_none());
        // No blkio files at all: empty statistics.
        assert!(v1_blkio(dir(&[]).path())
            .unwrap()
            .io_service_bytes_recursive
            .is_empty());
    }

    #[test]
    fn v1_cpuacct_ticks_and_percpu() {
        let d = dir(&[
            ("cpuacct.usage", "123456789\n"),
            ("cpuacct.stat", "user 250\nsystem 50\n"),
            ("cpuacct.usage_percpu", "100 200 \n"),
            ("cpuacct.usage_all", "cpu user system\n0 60 40\n1 150 50\n"),
        ]);
        let mut u = CpuUsage::default();
        v1_cpuacct(d.path(), &mut u).unwrap();
        assert_eq!(u.total, 123456789);
        assert_eq!(u.user, 250 * NS_PER_TICK);
        assert_eq!(u.kernel, 500_000_000);
        assert_eq!(u.percpu, [100, 200]);
        assert_eq!(u.percpu_user, [60, 150]);
        assert_eq!(u.percpu_kernel, [40, 50]);
    }

    #[test]
    fn v1_stats_through_a_fake_layout() {
        let t = tempfile::tempdir().unwrap();
        let mk = |c: &str, files: &[(&str, &str)]| -> (Vec<String>, PathBuf) {
            let m = t.path().join(c);
            std::fs::create_dir_all(m.join("ct")).unwrap();
            for (f, v) in files {
                std::fs::write(m.join("ct").join(f), v).unwrap();
            }
            (vec![c.to_string()], m)
        };
        let layout = Layout::V1 {
            hierarchies: vec![
                mk(
                    "memory",
                    &[
                        ("memory.stat", "cache 77\nrss 5\n"),
                        ("memory.usage_in_bytes", "1000\n"),
                        ("memory.max_usage_in_bytes", "2000\n"),
                        ("memory.failcnt", "0\n"),
                        ("memory.limit_in_bytes", "9223372036854771712\n"),
                    ],
                ),
                mk("pids", &[("pids.current", "4\n"), ("pids.max", "64\n")]),
                mk(
                    "cpuset",
                    &[
                        ("cpuset.cpus", "0-2\n"),
                        ("cpuset.mems", "0\n"),
                        ("cpuset.sched_relax_domain_level", "-1\n"),
                    ],
                ),
            ],
            unified: None,
        };
        let s = v1(&layout, "/ct").unwrap();
        assert_eq!(s.memory.cache, 77);
        assert_eq!(s.memory.raw.get("rss"), Some(&5));
        assert_eq!(s.memory.usage.max, 2000);
        // No memsw files: the swap entry stays empty.
        assert_eq!(s.memory.swap.usage, 0);
        assert_eq!((s.pids.current, s.pids.limit), (4, 64));
        assert_eq!(s.cpuset.cpus, [0, 1, 2]);
        assert_eq!(s.cpuset.sched_relax_domain_level, -1);
        // A hierarchy without the container's cgroup is left out.
        assert_eq!(v1(&layout, "/other").unwrap().pids.current, 0);
    }
}
