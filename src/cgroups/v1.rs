//! cgroup v1 hierarchies: one directory per controller.
//!
//! Which file each resource goes to, and the special cases (memory+swap
//! ordering, cpu period/quota retries, zero meaning "leave as is"), follow
//! runc's `libcontainer/cgroups/fs`.

use super::{devices, read_string, write, Layout};
use anyhow::{bail, Context, Result};
use oci_spec::runtime::{LinuxBlockIo, LinuxCpu, LinuxMemory, LinuxResources};
use std::path::{Path, PathBuf};

/// mkdir -p the cgroup; for cpuset, copy cpus/mems down from the parents,
/// because a new cpuset cgroup starts empty and refuses tasks.
pub fn create(ctrls: &[String], mount: &Path, rel: &str) -> Result<()> {
    let rel = rel.trim_start_matches('/');
    let dir = mount.join(rel);
    if !ctrls.iter().any(|c| c == "cpuset") {
        return std::fs::create_dir_all(&dir)
            .with_context(|| format!("create cgroup {}", dir.display()));
    }
    let mut cur = mount.to_path_buf();
    for comp in rel.split('/') {
        let parent = cur.clone();
        cur.push(comp);
        match std::fs::create_dir(&cur) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e).with_context(|| format!("create cgroup {}", cur.display())),
        }
        for f in ["cpuset.cpus", "cpuset.mems"] {
            let mine = std::fs::read_to_string(cur.join(f)).unwrap_or_default();
            if mine.trim().is_empty() {
                let theirs = read_string(&parent, f)?;
                write(&cur, f, theirs.trim())?;
            }
        }
    }
    Ok(())
}

/// The cgroup's directories in the v1 hierarchies (and the cgroup2 mount of
/// a hybrid host, for hugetlb when it has no v1 hierarchy).
struct Dirs<'a> {
    layout: &'a Layout,
    rel: &'a str,
    /// Rootless: the cgroup directories the container does not have (their
    /// hierarchies are not in `layout`).
    missing: Option<&'a [PathBuf]>,
}

impl Dirs<'_> {
    fn get(&self, ctrl: &str) -> Option<PathBuf> {
        self.layout.v1_mount(ctrl).map(|m| m.join(self.rel))
    }

    /// The directory of `ctrl`, or an error naming the field that needs it.
    fn need(&self, ctrl: &str, field: &str) -> Result<PathBuf> {
        if let (None, Some(missing)) = (self.get(ctrl), self.missing) {
            if let Some(m) = Layout::detect()
                .ok()
                .and_then(|l| l.v1_mount(ctrl).map(|m| m.join(self.rel)))
            {
                if missing.contains(&m) {
                    bail!(
                        "linux.resources.{field}: cannot set the {ctrl} limit: the container has no {ctrl} cgroup (rootless, without permission to create {})",
                        m.display()
                    );
                }
            }
        }
        self.get(ctrl).with_context(|| {
            format!("linux.resources.{field}: the {ctrl} cgroup controller is not mounted")
        })
    }

    /// Hybrid hosts may have hugetlb on the cgroup2 mount only.
    fn unified_with(&self, ctrl: &str) -> Option<(PathBuf, PathBuf)> {
        let Layout::V1 {
            unified: Some(u), ..
        } = self.layout
        else {
            return None;
        };
        let ctrls = std::fs::read_to_string(u.join("cgroup.controllers")).ok()?;
        ctrls
            .split_whitespace()
            .any(|c| c == ctrl)
            .then(|| (u.clone(), u.join(self.rel)))
    }
}

/// Check everything that can be checked before writing anything, so that a
/// bad value leaves the cgroup untouched.
fn validate(d: &Dirs, res: &LinuxResources, skip_devices: bool) -> Result<()> {
    if res.unified().as_ref().is_some_and(|u| !u.is_empty()) {
        bail!("linux.resources.unified: invalid configuration: cannot use unified on cgroup v1");
    }
    if let Some(m) = res.memory() {
        super::check_swappiness(m)?;
        let set = [
            m.limit(),
            m.reservation(),
            m.swap(),
            m.kernel(),
            m.kernel_tcp(),
        ]
        .iter()
        .any(|v| v.unwrap_or(0) != 0)
            || m.disable_oom_killer() == Some(true)
            || m.swappiness().is_some_and(|s| s != u64::MAX);
        if set {
            d.need("memory", "memory")?;
        }
    }
    if let Some(c) = res.cpu() {
        let set = c.shares().unwrap_or(0) != 0
            || c.quota().unwrap_or(0) != 0
            || c.period().unwrap_or(0) != 0
            || c.realtime_period().unwrap_or(0) != 0
            || c.realtime_runtime().unwrap_or(0) != 0
            || c.burst().is_some()
            || c.idle().is_some();
        if set {
            d.need("cpu", "cpu")?;
        }
        if c.cpus().as_deref().is_some_and(|s| !s.is_empty())
            || c.mems().as_deref().is_some_and(|s| !s.is_empty())
        {
            d.need("cpuset", "cpu.cpus/mems")?;
        }
    }
    if res.pids().is_some_and(|p| p.limit() != 0) {
        d.need("pids", "pids")?;
    }
    if let Some(b) = res.block_io() {
        if super::blkio_is_set(b) {
            d.need("blkio", "blockIO")?;
        }
    }
    super::check_hugepages(res)?;
    if res
        .hugepage_limits()
        .as_ref()
        .is_some_and(|h| !h.is_empty())
        && d.get("hugetlb").is_none()
    {
        match d.unified_with("hugetlb") {
            None => {
                d.need("hugetlb", "hugepageLimits")?;
            }
            // Only where the host already enabled hugetlb at the root of
            // its cgroup2 mount: turning it on there is a host-wide change
            // that outlives the container (and keeps a v1 hugetlb
            // hierarchy from ever being mounted).
            Some((mount, _)) => {
                let f = mount.join("cgroup.subtree_control");
                let enabled = std::fs::read_to_string(&f).unwrap_or_default();
                if !enabled.split_whitespace().any(|c| c == "hugetlb") {
                    bail!(
                        "linux.resources.hugepageLimits: this hybrid host has no v1 hugetlb \
                         hierarchy and hugetlb is not enabled in {}; husk does not change the \
                         host's cgroup root (mount a v1 hugetlb hierarchy, or enable it there)",
                        f.display()
                    );
                }
            }
        }
    }
    if let Some(n) = res.network() {
        if n.class_id().unwrap_or(0) != 0 {
            d.need("net_cls", "network.classID")?;
        }
        if n.priorities().as_ref().is_some_and(|p| !p.is_empty()) {
            d.need("net_prio", "network.priorities")?;
        }
    }
    if res.rdma().as_ref().is_some_and(|r| !r.is_empty()) {
        d.need("rdma", "rdma")?;
    }
    if !skip_devices {
        // runc: "the non-presence of the devices subsystem is considered
        // fatal for security reasons" (but rootless, device rules are
        // best effort).
        if d.missing.is_none() {
            d.need("devices", "devices")?;
        }
        devices::rules(res.devices().as_ref())?;
    }
    Ok(())
}

/// Write `res`. `missing`: rootless, the cgroup directories the container
/// does not have (a limit that needs one fails; device rules are skipped).
pub fn set(
    layout: &Layout,
    rel: &str,
    res: &LinuxResources,
    skip_devices: bool,
    missing: Option<&[PathBuf]>,
) -> Result<()> {
    let d = Dirs {
        layout,
        rel: rel.trim_start_matches('/'),
        missing,
    };
    validate(&d, res, skip_devices)?;
    if let Some(c) = res.cpu() {
        if let Some(dir) = d.get("cpuset") {
            if let Some(v) = c.cpus().as_deref().filter(|s| !s.is_empty()) {
                write(&dir, "cpuset.cpus", v).context("linux.resources.cpu.cpus")?;
            }
            if let Some(v) = c.mems().as_deref().filter(|s| !s.is_empty()) {
                write(&dir, "cpuset.mems", v).context("linux.resources.cpu.mems")?;
            }
        }
    }
    if !skip_devices {
        let rootless = d.missing.is_some();
        let dir = match (d.get("devices"), rootless) {
            (Some(dir), _) => Some(dir),
            (None, true) => None,
            (None, false) => Some(d.need("devices", "devices")?),
        };
        if let Some(dir) = dir {
            for rule in devices::rules(res.devices().as_ref())? {
                let file = if rule.allow {
                    "devices.allow"
                } else {
                    "devices.deny"
                };
                match write(&dir, file, &rule.v1_line()).context("linux.resources.devices") {
                    // Rootless, device rules are best effort (runc).
                    Err(_) if rootless => break,
                    r => r?,
                }
            }
        }
    }
    if let (Some(m), Some(dir)) = (res.memory(), d.get("memory")) {
        set_memory(&dir, m)?;
    }
    if let (Some(c), Some(dir)) = (res.cpu(), d.get("cpu")) {
        set_cpu(&dir, c)?;
    }
    if let (Some(p), Some(dir)) = (res.pids(), d.get("pids")) {
        if p.limit() != 0 {
            let v = if p.limit() > 0 {
                p.limit().to_string()
            } else {
                "max".into()
            };
            write(&dir, "pids.max", &v).context("linux.resources.pids.limit")?;
        }
    }
    if let (Some(b), Some(dir)) = (res.block_io(), d.get("blkio")) {
        set_blkio(&dir, b)?;
    }
    for h in res.hugepage_limits().iter().flatten() {
        let size = h.page_size();
        let field = || format!("linux.resources.hugepageLimits[{size}]");
        match d.get("hugetlb") {
            Some(dir) => write(
                &dir,
                &format!("hugetlb.{size}.limit_in_bytes"),
                &h.limit().to_string(),
            )
            .with_context(field)?,
            None => {
                let (mount, dir) = d.unified_with("hugetlb").with_context(field)?;
                super::v2::enable_controller(&mount, d.rel, "hugetlb").with_context(field)?;
                write(&dir, &format!("hugetlb.{size}.max"), &h.limit().to_string())
                    .with_context(field)?;
            }
        }
    }
    if let Some(n) = res.network() {
        if let Some(id) = n.class_id().filter(|&id| id != 0) {
            let dir = d.need("net_cls", "network.classID")?;
            write(&dir, "net_cls.classid", &id.to_string())
                .context("linux.resources.network.classID")?;
        }
        for p in n.priorities().iter().flatten() {
            let dir = d.need("net_prio", "network.priorities")?;
            write(
                &dir,
                "net_prio.ifpriomap",
                &format!("{} {}", p.name(), p.priority()),
            )
            .context("linux.resources.network.priorities")?;
        }
    }
    if let Some(r) = res.rdma() {
        for (dev, lim) in r {
            let dir = d.need("rdma", "rdma")?;
            write(&dir, "rdma.max", &super::rdma_line(dev, lim))
                .with_context(|| format!("linux.resources.rdma[{dev}]"))?;
        }
    }
    Ok(())
}

fn is_errno(e: &anyhow::Error, errno: i32) -> bool {
    e.chain()
        .filter_map(|c| c.downcast_ref::<std::io::Error>())
        .any(|io| io.raw_os_error() == Some(errno))
}

/// memory.limit_in_bytes, with runc's message when the kernel refuses a
/// limit below the current usage.
fn set_limit(dir: &Path, v: i64) -> Result<()> {
    if v == 0 {
        return Ok(());
    }
    match write(dir, "memory.limit_in_bytes", &v.to_string()) {
        Err(e) if is_errno(&e, libc::EBUSY) => {
            let usage = super::stats::read_u64(dir, "memory.usage_in_bytes")?;
            let peak = super::stats::read_u64(dir, "memory.max_usage_in_bytes")?;
            bail!("linux.resources.memory.limit: unable to set memory limit to {v} (current usage: {usage}, peak usage: {peak})")
        }
        r => r.context("linux.resources.memory.limit"),
    }
}

fn set_swap(dir: &Path, v: i64) -> Result<()> {
    if v == 0 {
        return Ok(());
    }
    if !dir.join("memory.memsw.limit_in_bytes").exists() {
        bail!("linux.resources.memory.swap: memory.memsw.limit_in_bytes does not exist (swap accounting is disabled)");
    }
    write(dir, "memory.memsw.limit_in_bytes", &v.to_string()).context("linux.resources.memory.swap")
}

fn set_memory(dir: &Path, m: &LinuxMemory) -> Result<()> {
    let limit = m.limit().unwrap_or(0);
    let mut swap = m.swap().unwrap_or(0);
    super::check_before_update(m, || {
        super::stats::read_u64(dir, "memory.usage_in_bytes").ok()
    })?;
    // Unlimited memory without a swap value means unlimited swap too.
    if limit == -1 && swap == 0 && dir.join("memory.memsw.limit_in_bytes").exists() {
        swap = -1;
    }
    // memsw must stay >= the memory limit at every step: raise swap first
    // when the new swap is above the current limit, else the limit first.
    let swap_first = limit != 0 && swap != 0 && {
        let cur = super::stats::read_u64(dir, "memory.limit_in_bytes")?;
        swap == -1 || cur < swap as u64
    };
    if swap_first {
        set_swap(dir, swap)?;
        set_limit(dir, limit)?;
    } else {
        set_limit(dir, limit)?;
        set_swap(dir, swap)?;
    }
    if let Some(r) = m.reservation().filter(|&r| r != 0) {
        write(dir, "memory.soft_limit_in_bytes", &r.to_string())
            .context("linux.resources.memory.reservation")?;
    }
    // Kernel memory: written where the kernel still has the files (runc
    // 1.1 ignores both; Linux ignores kmem limits since 5.16 but still
    // enforces the TCP one).
    for (v, file, field) in [
        (m.kernel(), "memory.kmem.limit_in_bytes", "kernel"),
        (
            m.kernel_tcp(),
            "memory.kmem.tcp.limit_in_bytes",
            "kernelTCP",
        ),
    ] {
        if let Some(v) = v.filter(|&v| v != 0) {
            if dir.join(file).exists() {
                match write(dir, file, &v.to_string()) {
                    Err(e) if is_errno(&e, libc::EOPNOTSUPP) => {}
                    r => r.with_context(|| format!("linux.resources.memory.{field}"))?,
                }
            }
        }
    }
    if m.disable_oom_killer() == Some(true) {
        write(dir, "memory.oom_control", "1").context("linux.resources.memory.disableOOMKiller")?;
    }
    if let Some(s) = m.swappiness().filter(|&s| s != u64::MAX) {
        write(dir, "memory.swappiness", &s.to_string())
            .context("linux.resources.memory.swappiness")?;
    }
    Ok(())
}

fn set_cpu(dir: &Path, c: &LinuxCpu) -> Result<()> {
    if let Some(shares) = c.shares().filter(|&s| s != 0) {
        write(dir, "cpu.shares", &shares.to_string()).context("linux.resources.cpu.shares")?;
        // The kernel clamps silently: say so, as runc does.
        let got = super::stats::read_u64(dir, "cpu.shares")?;
        if shares > got {
            bail!("linux.resources.cpu.shares: the maximum allowed cpu-shares is {got}");
        } else if shares < got {
            bail!("linux.resources.cpu.shares: the minimum allowed cpu-shares is {got}");
        }
    }
    let quota = c.quota().unwrap_or(0);
    // A period or burst the kernel refuses with EINVAL (the old quota does
    // not fit the new one) is retried after the quota is written.
    let mut period_retry = None;
    if let Some(p) = c.period().filter(|&p| p != 0) {
        match write(dir, "cpu.cfs_period_us", &p.to_string()) {
            Err(e) if is_errno(&e, libc::EINVAL) && quota != 0 => period_retry = Some(p),
            r => r.context("linux.resources.cpu.period")?,
        }
    }
    let mut burst_retry = None;
    if let Some(b) = c.burst() {
        match write(dir, "cpu.cfs_burst_us", &b.to_string()) {
            // No burst knob (kernel < 5.14): ignored, as runc does.
            Err(e) if is_errno(&e, libc::ENOENT) => {}
            Err(e) if is_errno(&e, libc::EINVAL) && quota != 0 => burst_retry = Some(b),
            r => r.context("linux.resources.cpu.burst")?,
        }
    }
    if quota != 0 {
        write(dir, "cpu.cfs_quota_us", &quota.to_string()).context("linux.resources.cpu.quota")?;
        if let Some(p) = period_retry {
            write(dir, "cpu.cfs_period_us", &p.to_string())
                .context("linux.resources.cpu.period")?;
        }
        if let Some(b) = burst_retry {
            write(dir, "cpu.cfs_burst_us", &b.to_string()).context("linux.resources.cpu.burst")?;
        }
    }
    if let Some(idle) = c.idle() {
        write(dir, "cpu.idle", &idle.to_string()).context("linux.resources.cpu.idle")?;
    }
    // Realtime period and runtime depend on each other the same way.
    let runtime = c.realtime_runtime().unwrap_or(0);
    let mut rt_retry = None;
    if let Some(p) = c.realtime_period().filter(|&p| p != 0) {
        match write(dir, "cpu.rt_period_us", &p.to_string()) {
            Err(e) if is_errno(&e, libc::EINVAL) && runtime != 0 => rt_retry = Some(p),
            r => r.context("linux.resources.cpu.realtimePeriod")?,
        }
    }
    if runtime != 0 {
        write(dir, "cpu.rt_runtime_us", &runtime.to_string())
            .context("linux.resources.cpu.realtimeRuntime")?;
        if let Some(p) = rt_retry {
            write(dir, "cpu.rt_period_us", &p.to_string())
                .context("linux.resources.cpu.realtimePeriod")?;
        }
    }
    Ok(())
}

fn set_blkio(dir: &Path, b: &LinuxBlockIo) -> Result<()> {
    // CFQ's files if the kernel has them, else BFQ's (as runc).
    let (weight_file, weight_dev_file) = if dir.join("blkio.weight").exists() {
        ("blkio.weight", "blkio.weight_device")
    } else {
        ("blkio.bfq.weight", "blkio.bfq.weight_device")
    };
    let need = |file: &str, field: &str| -> Result<()> {
        if !dir.join(file).exists() {
            bail!("linux.resources.blockIO.{field}: {file} is not supported by this kernel");
        }
        Ok(())
    };
    if let Some(w) = b.weight().filter(|&w| w != 0) {
        need(weight_file, "weight")?;
        write(dir, weight_file, &w.to_string()).context("linux.resources.blockIO.weight")?;
    }
    if let Some(w) = b.leaf_weight().filter(|&w| w != 0) {
        need("blkio.leaf_weight", "leafWeight")?;
        write(dir, "blkio.leaf_weight", &w.to_string())
            .context("linux.resources.blockIO.leafWeight")?;
    }
    for wd in b.weight_device().iter().flatten() {
        let dev = format!("{}:{}", wd.major(), wd.minor());
        if let Some(w) = wd.weight().filter(|&w| w != 0) {
            need(weight_dev_file, "weightDevice")?;
            write(dir, weight_dev_file, &format!("{dev} {w}"))
                .with_context(|| format!("linux.resources.blockIO.weightDevice[{dev}]"))?;
        }
        if let Some(w) = wd.leaf_weight().filter(|&w| w != 0) {
            need("blkio.leaf_weight_device", "weightDevice.leafWeight")?;
            write(dir, "blkio.leaf_weight_device", &format!("{dev} {w}"))
                .with_context(|| format!("linux.resources.blockIO.weightDevice[{dev}]"))?;
        }
    }
    for (list, file, field) in [
        (
            b.throttle_read_bps_device(),
            "blkio.throttle.read_bps_device",
            "throttleReadBpsDevice",
        ),
        (
            b.throttle_write_bps_device(),
            "blkio.throttle.write_bps_device",
            "throttleWriteBpsDevice",
        ),
        (
            b.throttle_read_iops_device(),
            "blkio.throttle.read_iops_device",
            "throttleReadIOPSDevice",
        ),
        (
            b.throttle_write_iops_device(),
            "blkio.throttle.write_iops_device",
            "throttleWriteIOPSDevice",
        ),
    ] {
        for t in list.iter().flatten() {
            let dev = format!("{}:{}", t.major(), t.minor());
            write(dir, file, &format!("{dev} {}", t.rate()))
                .with_context(|| format!("linux.resources.blockIO.{field}[{dev}]"))?;
        }
    }
    Ok(())
}

/// Freeze or thaw, the way runc does it: the kernel may report FREEZING for
/// a while (a task in an uninterruptible sleep), so retry, and thaw again
/// now and then to let stuck tasks move; on failure leave it thawed.
pub fn freeze(dir: &Path, frozen: bool) -> Result<()> {
    if !frozen {
        return write(dir, "freezer.state", "THAWED");
    }
    for i in 0..1000 {
        if i % 50 == 49 {
            let _ = write(dir, "freezer.state", "THAWED");
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        if let Err(e) = write(dir, "freezer.state", "FROZEN") {
            let _ = write(dir, "freezer.state", "THAWED");
            return Err(e);
        }
        if i % 25 == 24 {
            std::thread::sleep(std::time::Duration::from_micros(10));
        }
        match read_string(dir, "freezer.state")?.trim() {
            "FREEZING" => continue,
            "FROZEN" => return Ok(()),
            s => {
                let _ = write(dir, "freezer.state", "THAWED");
                bail!(
                    "freezer: unexpected state {s} while freezing {}",
                    dir.display()
                )
            }
        }
    }
    let _ = write(dir, "freezer.state", "THAWED");
    bail!("freezer: unable to freeze {}", dir.display())
}

/// Whether the cgroup itself is frozen (not merely a frozen parent).
pub fn is_frozen(dir: &Path) -> Option<bool> {
    let state = std::fs::read_to_string(dir.join("freezer.state")).ok()?;
    Some(match state.trim() {
        "THAWED" => false,
        "FROZEN" => std::fs::read_to_string(dir.join("freezer.self_freezing"))
            .map(|s| s.trim() != "0")
            .unwrap_or(true),
        _ => true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A tempdir standing in for /sys/fs/cgroup: one directory per v1
    /// hierarchy, each holding the container's cgroup `c1` with `files`.
    struct Fake {
        root: tempfile::TempDir,
        layout: Layout,
    }

    const CTRLS: [&str; 10] = [
        "memory", "cpu", "cpuset", "pids", "blkio", "devices", "freezer", "hugetlb", "net_cls",
        "net_prio",
    ];

    fn fake(ctrls: &[&str], files: &[(&str, &str, &str)]) -> Fake {
        let root = tempfile::tempdir().unwrap();
        let mut hierarchies = Vec::new();
        for c in ctrls {
            let m = root.path().join(c);
            std::fs::create_dir_all(m.join("c1")).unwrap();
            hierarchies.push((vec![c.to_string()], m));
        }
        for (c, f, v) in files {
            std::fs::write(root.path().join(c).join("c1").join(f), v).unwrap();
        }
        Fake {
            root,
            layout: Layout::V1 {
                hierarchies,
                unified: None,
            },
        }
    }

    impl Fake {
        fn set(&self, v: serde_json::Value) -> Result<()> {
            let res: LinuxResources = serde_json::from_value(v).unwrap();
            set(&self.layout, "/c1", &res, true, None)
        }
        fn read(&self, c: &str, f: &str) -> String {
            std::fs::read_to_string(self.root.path().join(c).join("c1").join(f))
                .unwrap_or_else(|e| format!("<{e}>"))
        }
        fn exists(&self, c: &str, f: &str) -> bool {
            self.root.path().join(c).join("c1").join(f).exists()
        }
    }

    #[test]
    fn memory_limit_swap_and_reservation() {
        let f = fake(
            &CTRLS,
            &[
                ("memory", "memory.limit_in_bytes", "9223372036854771712\n"),
                (
                    "memory",
                    "memory.memsw.limit_in_bytes",
                    "9223372036854771712\n",
                ),
            ],
        );
        f.set(json!({"memory": {"limit": 67108864, "swap": 134217728, "reservation": 33554432}}))
            .unwrap();
        assert_eq!(f.read("memory", "memory.limit_in_bytes"), "67108864");
        // v1 takes memory+swap as is (no conversion, unlike v2).
        assert_eq!(f.read("memory", "memory.memsw.limit_in_bytes"), "134217728");
        assert_eq!(f.read("memory", "memory.soft_limit_in_bytes"), "33554432");
    }

    #[test]
    fn unlimited_memory_makes_swap_unlimited_where_accounted() {
        let f = fake(
            &CTRLS,
            &[
                ("memory", "memory.limit_in_bytes", "1048576\n"),
                ("memory", "memory.memsw.limit_in_bytes", "2097152\n"),
            ],
        );
        f.set(json!({"memory": {"limit": -1}})).unwrap();
        assert_eq!(f.read("memory", "memory.limit_in_bytes"), "-1");
        assert_eq!(f.read("memory", "memory.memsw.limit_in_bytes"), "-1");
    }

    #[test]
    fn swap_without_swap_accounting_fails_naming_the_field() {
        let f = fake(&CTRLS, &[("memory", "memory.limit_in_bytes", "1048576\n")]);
        let e = f
            .set(json!({"memory": {"limit": 1048576, "swap": 2097152}}))
            .unwrap_err()
            .to_string();
        assert!(e.contains("linux.resources.memory.swap"), "{e}");
        assert!(e.contains("swap accounting is disabled"), "{e}");
    }

    #[test]
    fn oom_killer_swappiness_and_absent_kernel_memory_files() {
        let f = fake(&CTRLS, &[]);
        f.set(json!({"memory": {"disableOOMKiller": true, "swappiness": 0,
            "kernel": 1048576, "kernelTCP": 1048576}}))
            .unwrap();
        assert_eq!(f.read("memory", "memory.oom_control"), "1");
        assert_eq!(f.read("memory", "memory.swappiness"), "0");
        // Kernel memory files the kernel no longer has are not made.
        assert!(!f.exists("memory", "memory.kmem.limit_in_bytes"));
        assert!(!f.exists("memory", "memory.kmem.tcp.limit_in_bytes"));
        // Where they exist, they are written.
        let f = fake(
            &CTRLS,
            &[("memory", "memory.kmem.tcp.limit_in_bytes", "0\n")],
        );
        f.set(json!({"memory": {"kernelTCP": 4096}})).unwrap();
        assert_eq!(f.read("memory", "memory.kmem.tcp.limit_in_bytes"), "4096");
    }

    #[test]
    fn swappiness_minus_one_leaves_the_file() {
        let f = fake(&CTRLS, &[("memory", "memory.swappiness", "60\n")]);
        // The spec's -1 arrives as u64::MAX.
        f.set(json!({"memory": {"swappiness": u64::MAX}})).unwrap();
        assert_eq!(f.read("memory", "memory.swappiness"), "60\n");
    }

    #[test]
    fn cpu_shares_quota_period_and_realtime() {
        let f = fake(&CTRLS, &[]);
        f.set(
            json!({"cpu": {"shares": 512, "quota": 25000, "period": 50000,
            "realtimeRuntime": 950000, "realtimePeriod": 1000000}}),
        )
        .unwrap();
        assert_eq!(f.read("cpu", "cpu.shares"), "512");
        assert_eq!(f.read("cpu", "cpu.cfs_quota_us"), "25000");
        assert_eq!(f.read("cpu", "cpu.cfs_period_us"), "50000");
        assert_eq!(f.read("cpu", "cpu.rt_runtime_us"), "950000");
        assert_eq!(f.read("cpu", "cpu.rt_period_us"), "1000000");
        // Unlimited quota is written as -1, as runc does.
        f.set(json!({"cpu": {"quota": -1}})).unwrap();
        assert_eq!(f.read("cpu", "cpu.cfs_quota_us"), "-1");
    }

    #[test]
    fn cpu_write_the_kernel_refuses_names_the_field() {
        let root = tempfile::tempdir().unwrap();
        let m = root.path().join("cpu");
        std::fs::create_dir_all(m.join("c1/cpu.shares")).unwrap();
        let layout = Layout::V1 {
            hierarchies: vec![(vec!["cpu".into()], m)],
            unified: None,
        };
        let res: LinuxResources = serde_json::from_value(json!({"cpu": {"shares": 1}})).unwrap();
        // cpu.shares is a directory here: the write fails.
        let e = format!("{:#}", set(&layout, "c1", &res, true, None).unwrap_err());
        assert!(e.starts_with("linux.resources.cpu.shares"), "{e}");
    }

    #[test]
    fn cpuset_cpus_and_mems() {
        let f = fake(&CTRLS, &[]);
        f.set(json!({"cpu": {"cpus": "0,1", "mems": "0"}})).unwrap();
        assert_eq!(f.read("cpuset", "cpuset.cpus"), "0,1");
        assert_eq!(f.read("cpuset", "cpuset.mems"), "0");
        assert!(
            !f.exists("cpu", "cpu.shares"),
            "no cpu file for cpuset only"
        );
    }

    #[test]
    fn pids_max() {
        let f = fake(&CTRLS, &[]);
        f.set(json!({"pids": {"limit": 100}})).unwrap();
        assert_eq!(f.read("pids", "pids.max"), "100");
        f.set(json!({"pids": {"limit": -1}})).unwrap();
        assert_eq!(f.read("pids", "pids.max"), "max");
    }

    #[test]
    fn blkio_cfq_weight_devices_and_throttles() {
        let f = fake(
            &CTRLS,
            &[
                ("blkio", "blkio.weight", "500\n"),
                ("blkio", "blkio.weight_device", ""),
                ("blkio", "blkio.leaf_weight", "500\n"),
            ],
        );
        f.set(json!({"blockIO": {"weight": 300, "leafWeight": 200,
            "weightDevice": [{"major": 8, "minor": 0, "weight": 700}],
            "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1048576}]}}))
            .unwrap();
        assert_eq!(f.read("blkio", "blkio.weight"), "300");
        assert_eq!(f.read("blkio", "blkio.leaf_weight"), "200");
        assert_eq!(f.read("blkio", "blkio.weight_device"), "8:0 700");
        assert_eq!(
            f.read("blkio", "blkio.throttle.read_bps_device"),
            "8:0 1048576"
        );
    }

    #[test]
    fn blkio_bfq_fallback_and_unsupported_weight() {
        let f = fake(&CTRLS, &[("blkio", "blkio.bfq.weight", "100\n")]);
        f.set(json!({"blockIO": {"weight": 300}})).unwrap();
        assert_eq!(f.read("blkio", "blkio.bfq.weight"), "300");
        let f = fake(&CTRLS, &[]);
        let e = f
            .set(json!({"blockIO": {"weight": 300}}))
            .unwrap_err()
            .to_string();
        assert!(e.contains("linux.resources.blockIO.weight"), "{e}");
        assert!(
            e.contains("blkio.bfq.weight is not supported by this kernel"),
            "{e}"
        );
    }

    #[test]
    fn device_rules_go_to_allow_and_deny() {
        let f = fake(&CTRLS, &[]);
        let res: LinuxResources = serde_json::from_value(json!({"devices": [
            {"allow": false, "access": "rwm"},
            {"allow": true, "type": "c", "major": 10, "minor": 229, "access": "rw"}]}))
        .unwrap();
        set(&f.layout, "c1", &res, false, None).unwrap();
        // A plain file keeps the last line: runc's default list ends with tun.
        assert_eq!(f.read("devices", "devices.allow"), "c 10:200 rwm");
        assert_eq!(f.read("devices", "devices.deny"), "a *:* rwm");
    }

    #[test]
    fn bad_device_rule_fails_before_any_write() {
        let f = fake(&CTRLS, &[]);
        let res: LinuxResources = serde_json::from_value(json!({
            "pids": {"limit": 5},
            "devices": [{"allow": true, "type": "c", "access": "rwx"}]}))
        .unwrap();
        let e = set(&f.layout, "c1", &res, false, None)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("linux.resources.devices[0]: invalid device access"),
            "{e}"
        );
        assert!(!f.exists("pids", "pids.max"));
        assert!(!f.exists("devices", "devices.deny"));
    }

    #[test]
    fn missing_controllers_and_unified_are_refused_before_writing() {
        let f = fake(&["pids", "devices"], &[]);
        let e = f
            .set(json!({"pids": {"limit": 5}, "memory": {"limit": 1048576}}))
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "linux.resources.memory: the memory cgroup controller is not mounted"
        );
        assert!(!f.exists("pids", "pids.max"));
        let e = f
            .set(json!({"unified": {"memory.high": "1"}}))
            .unwrap_err()
            .to_string();
        assert!(e.contains("cannot use unified on cgroup v1"), "{e}");
        let e = f
            .set(json!({"cpu": {"cpus": "0"}}))
            .unwrap_err()
            .to_string();
        assert!(e.contains("linux.resources.cpu.cpus/mems"), "{e}");
        // Devices are fatal when missing, unless skipped (update).
        let f = fake(&["pids"], &[]);
        let res = LinuxResources::default();
        let e = set(&f.layout, "c1", &res, false, None)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("the devices cgroup controller is not mounted"),
            "{e}"
        );
        set(&f.layout, "c1", &res, true, None).unwrap();
    }

    #[test]
    fn network_class_id_priorities_hugetlb_rdma() {
        let mut ctrls = CTRLS.to_vec();
        ctrls.push("rdma");
        let f = fake(&ctrls, &[]);
        f.set(json!({"network": {"classID": 1048577,
            "priorities": [{"name": "eth0", "priority": 5}]},
            "rdma": {"mlx4_0": {"hcaHandles": 2}}}))
            .unwrap();
        assert_eq!(f.read("net_cls", "net_cls.classid"), "1048577");
        assert_eq!(f.read("net_prio", "net_prio.ifpriomap"), "eth0 5");
        assert_eq!(f.read("rdma", "rdma.max"), "mlx4_0 hca_handle=2");
        if let Some(size) = crate::cgroups::stats::hugepage_sizes().first() {
            f.set(json!({"hugepageLimits": [{"pageSize": size, "limit": 2097152}]}))
                .unwrap();
            assert_eq!(
                f.read("hugetlb", &format!("hugetlb.{size}.limit_in_bytes")),
                "2097152"
            );
        }
    }

    #[test]
    fn create_copies_cpuset_down_from_the_parents() {
        let root = tempfile::tempdir().unwrap();
        let m = root.path();
        std::fs::write(m.join("cpuset.cpus"), "0-3\n").unwrap();
        std::fs::write(m.join("cpuset.mems"), "0\n").unwrap();
        create(&["cpuset".to_string()], m, "/a/b").unwrap();
        for d in ["a", "a/b"] {
            assert_eq!(
                std::fs::read_to_string(m.join(d).join("cpuset.cpus")).unwrap(),
                "0-3"
            );
            assert_eq!(
                std::fs::read_to_string(m.join(d).join("cpuset.mems")).unwrap(),
                "0"
            );
        }
        // An ancestor with its own cpus keeps them, and passes them on.
        std::fs::create_dir(m.join("x")).unwrap();
        std::fs::write(m.join("x/cpuset.cpus"), "1\n").unwrap();
        std::fs::write(m.join("x/cpuset.mems"), "0\n").unwrap();
        create(&["cpuset".to_string()], m, "x/y").unwrap();
        assert_eq!(
            std::fs::read_to_string(m.join("x/cpuset.cpus")).unwrap(),
            "1\n"
        );
        assert_eq!(
            std::fs::read_to_string(m.join("x/y/cpuset.cpus")).unwrap(),
            "1"
        );
        // Other controllers: a plain mkdir -p.
        create(&["pids".to_string()], m, "/p/q").unwrap();
        assert!(m.join("p/q").is_dir());
        assert!(!m.join("p/cpuset.cpus").exists());
    }

    #[test]
    fn freezer_state() {
        let f = fake(&CTRLS, &[("freezer", "freezer.state", "THAWED\n")]);
        let dir = f.root.path().join("freezer/c1");
        assert_eq!(is_frozen(&dir), Some(false));
        // A plain file reads back FROZEN at once.
        freeze(&dir, true).unwrap();
        assert_eq!(f.read("freezer", "freezer.state"), "FROZEN");
        assert_eq!(is_frozen(&dir), Some(true));
        // Frozen only because a parent is: not paused itself.
        std::fs::write(dir.join("freezer.self_freezing"), "0\n").unwrap();
        assert_eq!(is_frozen(&dir), Some(false));
        std::fs::write(dir.join("freezer.state"), "FREEZING\n").unwrap();
        assert_eq!(is_frozen(&dir), Some(true));
        freeze(&dir, false).unwrap();
        assert_eq!(f.read("freezer", "freezer.state"), "THAWED");
        assert_eq!(is_frozen(&f.root.path().join("nope")), None);
    }
}
