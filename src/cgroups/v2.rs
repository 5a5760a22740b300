//! cgroup v2: one unified hierarchy.
//!
//! The v1-shaped OCI values are converted as runc's `fs2` does: cpu shares
//! to `cpu.weight`, blkio weight to `io.bfq.weight` or `io.weight`, memory
//! swap (memory+swap) to `memory.swap.max` (swap alone). What v2 has no
//! file for (swappiness, disableOOMKiller, kernel memory, realtime, leaf
//! weights, network classID/priorities) is skipped, as runc skips it.

use super::{devices, ebpf, read_string, write};
use anyhow::{bail, Context, Result};
use oci_spec::runtime::{LinuxBlockIo, LinuxCpu, LinuxMemory, LinuxResources};
use std::path::Path;

/// Enable `ctrls` in the subtree_control of every ancestor of `rel`.
/// Controllers are enabled one by one so that one the kernel refuses
/// (e.g. a threaded subtree) does not keep the others off.
fn enable_down(mount: &Path, rel: &str, only: Option<&str>) -> Result<()> {
    let rel = rel.trim_start_matches('/');
    let mut cur = mount.to_path_buf();
    for comp in rel.split('/') {
        let avail = std::fs::read_to_string(cur.join("cgroup.controllers")).unwrap_or_default();
        let enabled =
            std::fs::read_to_string(cur.join("cgroup.subtree_control")).unwrap_or_default();
        for c in avail.split_whitespace() {
            if only.is_some_and(|o| o != c) || enabled.split_whitespace().any(|e| e == c) {
                continue;
            }
            let r = write(&cur, "cgroup.subtree_control", &format!("+{c}"));
            if only.is_some() {
                r?;
            }
        }
        cur.push(comp);
        match std::fs::create_dir(&cur) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e).with_context(|| format!("create cgroup {}", cur.display())),
        }
    }
    Ok(())
}

/// mkdir -p the cgroup and enable every available controller in the
/// subtree_control of each ancestor, so the leaf gets them all.
pub fn create(mount: &Path, rel: &str) -> Result<()> {
    enable_down(mount, rel, None)
}

/// Make `ctrl` available in the cgroup `rel` (hybrid hosts: hugetlb lives
/// on the cgroup2 mount, where husk enables nothing by default).
pub fn enable_controller(mount: &Path, rel: &str, ctrl: &str) -> Result<()> {
    enable_down(mount, rel, Some(ctrl))
        .with_context(|| format!("enable the {ctrl} controller on {}", mount.display()))
}

/// runc's conversion of cpu shares [2, 262144] to cpu.weight [1, 10000].
pub fn shares_to_weight(shares: u64) -> u64 {
    if shares == 0 {
        return 0;
    }
    1 + (shares.saturating_sub(2) * 9999) / 262142
}

/// runc's conversion of blkio weight [10, 1000] to io.weight [1, 10000].
pub fn blkio_to_io_weight(w: u16) -> u64 {
    if w == 0 {
        return 0;
    }
    1 + (w.saturating_sub(10) as u64) * 9999 / 990
}

/// runc's ConvertMemorySwapToCgroupV2Value: the spec's swap is memory+swap,
/// memory.swap.max is swap alone. 0 means "leave it", -1 "max".
pub fn swap_to_v2(swap: i64, memory: i64) -> Result<i64> {
    if memory == -1 && swap == 0 {
        return Ok(-1);
    }
    if swap == -1 || swap == 0 {
        return Ok(swap);
    }
    if memory == 0 || memory == -1 {
        bail!("linux.resources.memory.swap: unable to set swap limit without memory limit");
    }
    if memory < 0 {
        bail!("linux.resources.memory.limit: invalid memory value: {memory}");
    }
    if swap < memory {
        bail!("linux.resources.memory.swap: memory+swap limit should be >= memory limit");
    }
    Ok(swap - memory)
}

fn num(v: i64) -> String {
    if v < 0 {
        "max".into()
    } else {
        v.to_string()
    }
}

/// The values a `set` needs from the cgroup as it is now (an update that
/// changes only one of a pair keeps the other, as runc keeps it in its
/// saved config).
fn current_memory_max(dir: &Path) -> i64 {
    match read_string(dir, "memory.max").map(|s| s.trim().to_string()) {
        Ok(s) if s == "max" => -1,
        Ok(s) => s.parse().unwrap_or(0),
        Err(_) => 0,
    }
}

fn validate(dir: &Path, res: &LinuxResources, skip_devices: bool) -> Result<()> {
    if let Some(m) = res.memory() {
        super::check_swappiness(m)?;
        let limit = match m.limit().unwrap_or(0) {
            0 => current_memory_max(dir),
            l => l,
        };
        swap_to_v2(m.swap().unwrap_or(0), limit)?;
    }
    super::check_hugepages(res)?;
    if let Some(u) = res.unified() {
        for k in u.keys() {
            if k.contains('/') || k == "." || k == ".." || k.is_empty() {
                bail!("linux.resources.unified: {k:?} must be a file name (no slashes)");
            }
        }
    }
    if !skip_devices {
        devices::rules(res.devices().as_ref())?;
    }
    Ok(())
}

/// Write `res`. Rootless, device rules are best effort (runc ignores the
/// errors of the eBPF program: it needs CAP_SYS_ADMIN on the host).
pub fn set(dir: &Path, res: &LinuxResources, skip_devices: bool, rootless: bool) -> Result<()> {
    validate(dir, res, skip_devices)?;
    if let Some(p) = res.pids() {
        if p.limit() != 0 {
            write(dir, "pids.max", &num(p.limit())).context("linux.resources.pids.limit")?;
        }
    }
    if let Some(m) = res.memory() {
        set_memory(dir, m)?;
    }
    if let Some(b) = res.block_io() {
        set_io(dir, b)?;
    }
    if let Some(c) = res.cpu() {
        set_cpu(dir, c)?;
    }
    if !skip_devices {
        let mut emu = devices::Emulator::new();
        for rule in devices::rules(res.devices().as_ref())? {
            emu.apply(&rule);
        }
        // Allow-all needs no filter (runc also ignores eBPF errors then).
        if !(emu.default_allow && emu.exceptions.is_empty()) {
            match ebpf::apply(dir, &emu).context("linux.resources.devices") {
                Err(e) if rootless => {
                    crate::logging::debug(&format!("rootless: device rules not applied: {e:#}"))
                }
                r => r?,
            }
        }
    }
    if let Some(c) = res.cpu() {
        if let Some(v) = c.cpus().as_deref().filter(|s| !s.is_empty()) {
            write(dir, "cpuset.cpus", v).context("linux.resources.cpu.cpus")?;
        }
        if let Some(v) = c.mems().as_deref().filter(|s| !s.is_empty()) {
            write(dir, "cpuset.mems", v).context("linux.resources.cpu.mems")?;
        }
    }
    for h in res.hugepage_limits().iter().flatten() {
        let size = h.page_size();
        write(dir, &format!("hugetlb.{size}.max"), &h.limit().to_string())
            .with_context(|| format!("linux.resources.hugepageLimits[{size}]"))?;
    }
    for (dev, lim) in res.rdma().iter().flatten() {
        write(dir, "rdma.max", &super::rdma_line(dev, lim))
            .with_context(|| format!("linux.resources.rdma[{dev}]"))?;
    }
    if let Some(u) = res.unified() {
        set_unified(dir, u)?;
    }
    Ok(())
}

fn set_unified(dir: &Path, u: &std::collections::HashMap<String, String>) -> Result<()> {
    let mut keys: Vec<&String> = u.keys().collect();
    keys.sort();
    for k in keys {
        if let Err(e) = write(dir, k, &u[k]) {
            // Say which controller is missing rather than "no such file".
            if !dir.join(k).exists() {
                let avail = read_string(dir, "cgroup.controllers").unwrap_or_default();
                if let Some((c, _)) = k.split_once('.') {
                    if c != "cgroup" && !avail.split_whitespace().any(|a| a == c) {
                        bail!("linux.resources.unified: {k:?} can't be set: controller {c:?} not available");
                    }
                }
            }
            return Err(e).with_context(|| format!("linux.resources.unified: unable to set {k:?}"));
        }
    }
    Ok(())
}

fn set_memory(dir: &Path, m: &LinuxMemory) -> Result<()> {
    let limit = m.limit().unwrap_or(0);
    let reservation = m.reservation().unwrap_or(0);
    let swap = m.swap().unwrap_or(0);
    if limit == 0 && reservation == 0 && swap == 0 {
        return Ok(());
    }
    super::check_before_update(m, || super::stats::read_u64(dir, "memory.current").ok())?;
    let base = if limit == 0 {
        current_memory_max(dir)
    } else {
        limit
    };
    let v2swap = swap_to_v2(swap, base)?;
    // memory and swap set to the same value: no swap at all.
    let swap_str = match v2swap {
        0 if swap > 0 => Some("0".to_string()),
        0 => None,
        v => Some(num(v)),
    };
    if let Some(s) = swap_str {
        match write(dir, "memory.swap.max", &s) {
            // No swap accounting: "no swap" and "unlimited" are both true.
            Err(_) if !dir.join("memory.swap.max").exists() && (s == "max" || s == "0") => {}
            r => r.context("linux.resources.memory.swap")?,
        }
    }
    if limit != 0 {
        write(dir, "memory.max", &num(limit)).context("linux.resources.memory.limit")?;
    }
    if reservation != 0 {
        write(dir, "memory.low", &num(reservation))
            .context("linux.resources.memory.reservation")?;
    }
    Ok(())
}

fn set_cpu(dir: &Path, c: &LinuxCpu) -> Result<()> {
    if let Some(idle) = c.idle() {
        write(dir, "cpu.idle", &idle.to_string()).context("linux.resources.cpu.idle")?;
    }
    let weight = shares_to_weight(c.shares().unwrap_or(0));
    if weight != 0 {
        write(dir, "cpu.weight", &weight.to_string()).context("linux.resources.cpu.shares")?;
    }
    let quota = c.quota().unwrap_or(0);
    let period = c.period().unwrap_or(0);
    let mut burst_retry = None;
    if let Some(b) = c.burst() {
        match write(dir, "cpu.max.burst", &b.to_string()) {
            Err(_) if quota != 0 => burst_retry = Some(b),
            r => r.context("linux.resources.cpu.burst")?,
        }
    }
    if quota != 0 || period != 0 {
        // "QUOTA PERIOD"; the half not given keeps its current value.
        let cur = read_string(dir, "cpu.max").unwrap_or_default();
        let mut it = cur.split_whitespace();
        let (cur_q, cur_p) = (it.next().unwrap_or("max"), it.next().unwrap_or("100000"));
        let q = match quota {
            0 => cur_q.to_string(),
            q if q > 0 => q.to_string(),
            _ => "max".to_string(),
        };
        let p = match period {
            0 => cur_p.to_string(),
            p => p.to_string(),
        };
        write(dir, "cpu.max", &format!("{q} {p}")).context("linux.resources.cpu.quota/period")?;
        if let Some(b) = burst_retry {
            write(dir, "cpu.max.burst", &b.to_string()).context("linux.resources.cpu.burst")?;
        }
    }
    Ok(())
}

fn set_io(dir: &Path, b: &LinuxBlockIo) -> Result<()> {
    let bfq = dir.join("io.bfq.weight");
    let has_bfq = bfq.exists();
    if let Some(w) = b.weight().filter(|&w| w != 0) {
        if has_bfq {
            write(dir, "io.bfq.weight", &w.to_string())
                .context("linux.resources.blockIO.weight")?;
        } else {
            write(dir, "io.weight", &blkio_to_io_weight(w).to_string())
                .context("linux.resources.blockIO.weight")?;
        }
    }
    // Per-device weights only exist with BFQ's "default N" syntax.
    let bfq_devices = has_bfq
        && read_string(dir, "io.bfq.weight")
            .map(|s| s.trim().parse::<u64>().is_err())
            .unwrap_or(false);
    if bfq_devices {
        for wd in b.weight_device().iter().flatten() {
            if let Some(w) = wd.weight().filter(|&w| w != 0) {
                let dev = format!("{}:{}", wd.major(), wd.minor());
                write(dir, "io.bfq.weight", &format!("{dev} {w}"))
                    .with_context(|| format!("linux.resources.blockIO.weightDevice[{dev}]"))?;
            }
        }
    }
    for (list, key, field) in [
        (
            b.throttle_read_bps_device(),
            "rbps",
            "throttleReadBpsDevice",
        ),
        (
            b.throttle_write_bps_device(),
            "wbps",
            "throttleWriteBpsDevice",
        ),
        (
            b.throttle_read_iops_device(),
            "riops",
            "throttleReadIOPSDevice",
        ),
        (
            b.throttle_write_iops_device(),
            "wiops",
            "throttleWriteIOPSDevice",
        ),
    ] {
        for t in list.iter().flatten() {
            let dev = format!("{}:{}", t.major(), t.minor());
            write(dir, "io.max", &format!("{dev} {key}={}", t.rate()))
                .with_context(|| format!("linux.resources.blockIO.{field}[{dev}]"))?;
        }
    }
    Ok(())
}

/// Freeze or thaw with cgroup.freeze, then wait until cgroup.events says
/// the kernel is done.
pub fn freeze(dir: &Path, frozen: bool) -> Result<()> {
    if !dir.join("cgroup.freeze").exists() {
        if !frozen {
            return Ok(());
        }
        bail!(
            "freezer not supported: {} has no cgroup.freeze",
            dir.display()
        );
    }
    write(dir, "cgroup.freeze", if frozen { "1" } else { "0" })?;
    let want = if frozen { "frozen 1" } else { "frozen 0" };
    for i in 0..1000 {
        let ev = std::fs::read_to_string(dir.join("cgroup.events")).unwrap_or_default();
        if ev.lines().any(|l| l == want) {
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_micros(if i < 10 {
            100
        } else {
            10_000
        }));
    }
    if frozen {
        let _ = write(dir, "cgroup.freeze", "0");
    }
    bail!(
        "timeout waiting for {} to become {want}",
        dir.join("cgroup.events").display()
    )
}

pub fn is_frozen(dir: &Path) -> Option<bool> {
    let s = std::fs::read_to_string(dir.join("cgroup.freeze")).ok()?;
    Some(s.trim() == "1")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions() {
        assert_eq!(shares_to_weight(1024), 39);
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(262144), 10000);
        assert_eq!(shares_to_weight(512), 20);
        assert_eq!(blkio_to_io_weight(10), 1);
        assert_eq!(blkio_to_io_weight(1000), 10000);
        assert_eq!(blkio_to_io_weight(500), 4950);
        assert_eq!(swap_to_v2(0, -1).unwrap(), -1);
        assert_eq!(swap_to_v2(200, 100).unwrap(), 100);
        assert_eq!(swap_to_v2(100, 100).unwrap(), 0);
        assert!(swap_to_v2(50, 100).is_err());
        assert!(swap_to_v2(50, 0).is_err());
    }

    /// A directory standing in for a v2 cgroup, holding `files` with
    /// their current contents (as the kernel shows them).
    fn cgroup(files: &[(&str, &str)]) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        for (f, v) in files {
            std::fs::write(d.path().join(f), v).unwrap();
        }
        d
    }

    fn res(v: serde_json::Value) -> LinuxResources {
        serde_json::from_value(v).unwrap()
    }

    fn read(d: &tempfile::TempDir, f: &str) -> String {
        std::fs::read_to_string(d.path().join(f)).unwrap()
    }

    #[test]
    fn shares_to_weight_bounds_and_runc_values() {
        // 0 means "not set": nothing is written.
        assert_eq!(shares_to_weight(0), 0);
        // Below the v1 minimum of 2 still maps to the v2 minimum.
        assert_eq!(shares_to_weight(1), 1);
        // Docker's --cpu-shares 100 and 2048, as runc converts them.
        assert_eq!(shares_to_weight(100), 4);
        assert_eq!(shares_to_weight(2048), 79);
        // Monotonic over the whole v1 range, within [1, 10000].
        let mut last = 0;
        for s in (2..=262144).step_by(97) {
            let w = shares_to_weight(s);
            assert!((1..=10000).contains(&w) && w >= last, "{s} -> {w}");
            last = w;
        }
    }

    #[test]
    fn blkio_weight_to_io_weight_bounds() {
        assert_eq!(blkio_to_io_weight(0), 0);
        // Below the v1 minimum of 10 saturates to 1 instead of wrapping.
        assert_eq!(blkio_to_io_weight(5), 1);
        assert_eq!(blkio_to_io_weight(100), 910);
        // Above the v1 maximum is passed on (the kernel refuses it).
        assert!(blkio_to_io_weight(u16::MAX) > 10000);
    }

    #[test]
    fn swap_to_v2_every_case() {
        // Unlimited memory, swap not given: unlimited swap.
        assert_eq!(swap_to_v2(0, -1).unwrap(), -1);
        // Swap not given: leave it.
        assert_eq!(swap_to_v2(0, 100).unwrap(), 0);
        assert_eq!(swap_to_v2(-1, 100).unwrap(), -1);
        assert_eq!(swap_to_v2(-1, -1).unwrap(), -1);
        // Swap without a memory limit is refused, naming the field.
        let e = swap_to_v2(200, -1).unwrap_err().to_string();
        assert!(e.contains("linux.resources.memory.swap"), "{e}");
        assert!(e.contains("without memory limit"), "{e}");
        // A negative memory value other than -1.
        let e = swap_to_v2(200, -5).unwrap_err().to_string();
        assert!(e.contains("invalid memory value: -5"), "{e}");
        let e = swap_to_v2(99, 100).unwrap_err().to_string();
        assert!(e.contains(">= memory limit"), "{e}");
        assert_eq!(swap_to_v2(1 << 30, 1 << 29).unwrap(), 1 << 29);
    }

    #[test]
    fn num_writes_max_for_negative() {
        assert_eq!(num(-1), "max");
        assert_eq!(num(-42), "max");
        assert_eq!(num(0), "0");
        assert_eq!(num(4096), "4096");
    }

    #[test]
    fn current_memory_max_reads_max_numbers_and_missing() {
        let d = cgroup(&[("memory.max", "max\n")]);
        assert_eq!(current_memory_max(d.path()), -1);
        let d = cgroup(&[("memory.max", "1048576\n")]);
        assert_eq!(current_memory_max(d.path()), 1048576);
        let d = cgroup(&[]);
        assert_eq!(current_memory_max(d.path()), 0);
    }

    #[test]
    fn set_writes_memory_swap_and_low() {
        let d = cgroup(&[
            ("memory.max", "max\n"),
            ("memory.swap.max", "max\n"),
            ("memory.low", "0\n"),
        ]);
        let r = res(serde_json::json!({"memory": {
            "limit": 268435456, "swap": 536870912, "reservation": 134217728}}));
        set(d.path(), &r, true, false).unwrap();
        assert_eq!(read(&d, "memory.max"), "268435456");
        // memory+swap 512 MiB with 256 MiB of memory: 256 MiB of swap.
        assert_eq!(read(&d, "memory.swap.max"), "268435456");
        assert_eq!(read(&d, "memory.low"), "134217728");
    }

    #[test]
    fn set_swap_equal_to_limit_means_no_swap() {
        let d = cgroup(&[("memory.max", "max\n"), ("memory.swap.max", "max\n")]);
        let r = res(serde_json::json!({"memory": {"limit": 1048576, "swap": 1048576}}));
        set(d.path(), &r, true, false).unwrap();
        assert_eq!(read(&d, "memory.swap.max"), "0");
        assert_eq!(read(&d, "memory.max"), "1048576");
    }

    #[test]
    fn set_unlimited_memory_sets_unlimited_swap() {
        let d = cgroup(&[("memory.max", "1048576\n"), ("memory.swap.max", "0\n")]);
        let r = res(serde_json::json!({"memory": {"limit": -1}}));
        set(d.path(), &r, true, false).unwrap();
        assert_eq!(read(&d, "memory.max"), "max");
        assert_eq!(read(&d, "memory.swap.max"), "max");
    }

    #[test]
    fn update_of_swap_alone_uses_the_current_limit() {
        // husk update --memory-swap with the limit already at 100 MiB.
        let d = cgroup(&[("memory.max", "104857600\n"), ("memory.swap.max", "0\n")]);
        let r = res(serde_json::json!({"memory": {"swap": 209715200}}));
        set(d.path(), &r, true, false).unwrap();
        assert_eq!(read(&d, "memory.swap.max"), "104857600");
        assert_eq!(read(&d, "memory.max"), "104857600\n", "limit untouched");
    }

    #[test]
    fn swap_below_the_limit_fails_before_any_write() {
        let d = cgroup(&[("memory.max", "max\n"), ("pids.max", "max\n")]);
        let r = res(serde_json::json!({"pids": {"limit": 10},
            "memory": {"limit": 2097152, "swap": 1048576}}));
        let e = format!("{:#}", set(d.path(), &r, true, false).unwrap_err());
        assert!(
            e.contains("memory+swap limit should be >= memory limit"),
            "{e}"
        );
        assert_eq!(read(&d, "pids.max"), "max\n", "validated before writing");
        assert_eq!(read(&d, "memory.max"), "max\n");
    }

    #[test]
    fn swappiness_over_100_is_refused() {
        let d = cgroup(&[]);
        let r = res(serde_json::json!({"memory": {"swappiness": 101}}));
        let e = set(d.path(), &r, true, false).unwrap_err().to_string();
        assert!(e.contains("invalid memory swappiness value: 101"), "{e}");
    }

    #[test]
    fn cpu_weight_and_max_quota_period() {
        let d = cgroup(&[("cpu.max", "max 100000\n"), ("cpu.weight", "100\n")]);
        let r = res(serde_json::json!({"cpu": {"shares": 1024, "quota": 50000, "period": 200000}}));
        set(d.path(), &r, true, false).unwrap();
        assert_eq!(read(&d, "cpu.weight"), "39");
        assert_eq!(read(&d, "cpu.max"), "50000 200000");
    }

    #[test]
    fn cpu_quota_alone_keeps_the_current_period() {
        let d = cgroup(&[("cpu.max", "max 250000\n")]);
        let r = res(serde_json::json!({"cpu": {"quota": 100000}}));
        set(d.path(), &r, true, false).unwrap();
        assert_eq!(read(&d, "cpu.max"), "100000 250000");
    }

    #[test]
    fn cpu_period_alone_keeps_the_current_quota_and_negative_quota_is_max() {
        let d = cgroup(&[("cpu.max", "20000 100000\n")]);
        let r = res(serde_json::json!({"cpu": {"period": 50000}}));
        set(d.path(), &r, true, false).unwrap();
        assert_eq!(read(&d, "cpu.max"), "20000 50000");
        let r = res(serde_json::json!({"cpu": {"quota": -1}}));
        set(d.path(), &r, true, false).unwrap();
        assert_eq!(read(&d, "cpu.max"), "max 50000");
    }

    #[test]
    fn cpu_burst_idle_and_cpuset() {
        let d = cgroup(&[("cpu.max", "max 100000\n"), ("cpu.max.burst", "0\n")]);
        let r = res(serde_json::json!({"cpu": {
            "burst": 10000, "idle": 1, "cpus": "0-1", "mems": "0"}}));
        set(d.path(), &r, true, false).unwrap();
        assert_eq!(read(&d, "cpu.max.burst"), "10000");
        assert_eq!(read(&d, "cpu.idle"), "1");
        assert_eq!(read(&d, "cpuset.cpus"), "0-1");
        assert_eq!(read(&d, "cpuset.mems"), "0");
        assert_eq!(read(&d, "cpu.max"), "max 100000\n", "untouched");
    }

    #[test]
    fn pids_limit_and_unlimited() {
        let d = cgroup(&[("pids.max", "max\n")]);
        set(
            d.path(),
            &res(serde_json::json!({"pids": {"limit": 64}})),
            true,
            false,
        )
        .unwrap();
        assert_eq!(read(&d, "pids.max"), "64");
        set(
            d.path(),
            &res(serde_json::json!({"pids": {"limit": -1}})),
            true,
            false,
        )
        .unwrap();
        assert_eq!(read(&d, "pids.max"), "max");
        // 0 leaves the file alone.
        std::fs::write(d.path().join("pids.max"), "7\n").unwrap();
        set(
            d.path(),
            &res(serde_json::json!({"pids": {"limit": 0}})),
            true,
            false,
        )
        .unwrap();
        assert_eq!(read(&d, "pids.max"), "7\n");
    }

    #[test]
    fn io_weight_without_bfq_is_converted() {
        let d = cgroup(&[("io.weight", "default 100\n")]);
        let r = res(serde_json::json!({"blockIO": {"weight": 500}}));
        set(d.path(), &r, true, false).unwrap();
        assert_eq!(read(&d, "io.weight"), "4950");
    }

    #[test]
    fn io_weight_with_bfq_is_written_as_is() {
        let d = cgroup(&[("io.bfq.weight", "default 100\n")]);
        let r = res(serde_json::json!({"blockIO": {"weight": 500}}));
        set(d.path(), &r, true, false).unwrap();
        assert_eq!(read(&d, "io.bfq.weight"), "500");
        assert!(!d.path().join("io.weight").exists());
    }

    #[test]
    fn io_max_throttle_line() {
        let d = cgroup(&[]);
        let r = res(serde_json::json!({"blockIO": {
            "throttleWriteIOPSDevice": [{"major": 8, "minor": 16, "rate": 300}]}}));
        set(d.path(), &r, true, false).unwrap();
        assert_eq!(read(&d, "io.max"), "8:16 wiops=300");
        let r = res(serde_json::json!({"blockIO": {
            "throttleReadBpsDevice": [{"major": 253, "minor": 0, "rate": 1048576}]}}));
        set(d.path(), &r, true, false).unwrap();
        assert_eq!(read(&d, "io.max"), "253:0 rbps=1048576");
    }

    #[test]
    fn hugetlb_and_rdma_lines() {
        let sizes = crate::cgroups::stats::hugepage_sizes();
        let d = cgroup(&[]);
        let r =
            res(serde_json::json!({"rdma": {"mlx5_1": {"hcaHandles": 3, "hcaObjects": 10000}}}));
        set(d.path(), &r, true, false).unwrap();
        assert_eq!(read(&d, "rdma.max"), "mlx5_1 hca_handle=3 hca_object=10000");
        if let Some(size) = sizes.first() {
            let r =
                res(serde_json::json!({"hugepageLimits": [{"pageSize": size, "limit": 4194304}]}));
            set(d.path(), &r, true, false).unwrap();
            assert_eq!(read(&d, &format!("hugetlb.{size}.max")), "4194304");
        }
        let r = res(serde_json::json!({"hugepageLimits": [{"pageSize": "3KB", "limit": 1}]}));
        let e = set(d.path(), &r, true, false).unwrap_err().to_string();
        assert!(e.contains("page size \"3KB\" is not supported"), "{e}");
    }

    #[test]
    fn unified_keys_are_file_names_and_missing_controllers_are_named() {
        let d = cgroup(&[
            ("cgroup.controllers", "cpu memory pids\n"),
            ("memory.high", "max\n"),
        ]);
        let r = res(serde_json::json!({"unified": {"memory.high": "1073741824"}}));
        set(d.path(), &r, true, false).unwrap();
        assert_eq!(read(&d, "memory.high"), "1073741824");
        for bad in ["../x", "a/b", "..", "."] {
            let r = res(serde_json::json!({"unified": {bad: "1"}}));
            let e = set(d.path(), &r, true, false).unwrap_err().to_string();
            assert!(e.contains("must be a file name"), "{bad}: {e}");
        }
        // A file the kernel refuses (here: a directory) fails naming the key.
        let d = cgroup(&[("cgroup.controllers", "cpu memory\n")]);
        let r = res(serde_json::json!({"unified": {"rdma.max": "x"}}));
        std::fs::create_dir(d.path().join("rdma.max")).unwrap();
        let e = format!("{:#}", set(d.path(), &r, true, false).unwrap_err());
        assert!(e.contains("unable to set \"rdma.max\""), "{e}");
    }

    #[test]
    fn freeze_without_cgroup_freeze_file() {
        let d = cgroup(&[]);
        // Thawing a cgroup without a freezer is a no-op; freezing fails.
        freeze(d.path(), false).unwrap();
        let e = freeze(d.path(), true).unwrap_err().to_string();
        assert!(e.contains("has no cgroup.freeze"), "{e}");
        assert_eq!(is_frozen(d.path()), None);
    }

    #[test]
    fn freeze_waits_for_cgroup_events() {
        let d = cgroup(&[
            ("cgroup.freeze", "0\n"),
            ("cgroup.events", "populated 1\nfrozen 1\n"),
        ]);
        freeze(d.path(), true).unwrap();
        assert_eq!(read(&d, "cgroup.freeze"), "1");
        assert_eq!(is_frozen(d.path()), Some(true));
    }

    #[test]
    fn create_makes_the_path_and_enables_available_controllers() {
        let d = cgroup(&[
            ("cgroup.controllers", "cpu pids\n"),
            ("cgroup.subtree_control", ""),
        ]);
        create(d.path(), "/a/b").unwrap();
        assert!(d.path().join("a/b").is_dir());
        // A plain file keeps only the last write: the last controller.
        assert_eq!(read(&d, "cgroup.subtree_control"), "+pids");
        // Already enabled: nothing written.
        let d = cgroup(&[
            ("cgroup.controllers", "cpu\n"),
            ("cgroup.subtree_control", "cpu\n"),
        ]);
        create(d.path(), "x").unwrap();
        assert_eq!(read(&d, "cgroup.subtree_control"), "cpu\n");
    }
}
