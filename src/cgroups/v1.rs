//! cgroup v1 hierarchies: one directory per controller.

use super::Layout;
use anyhow::{bail, Context, Result};
use oci_spec::runtime::LinuxResources;
use std::path::Path;

pub(crate) fn write(dir: &Path, file: &str, value: &str) -> Result<()> {
    let p = dir.join(file);
    std::fs::write(&p, value).with_context(|| format!("write {value:?} to {}", p.display()))
}

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
                let theirs =
                    std::fs::read_to_string(parent.join(f)).with_context(|| format!("read {f}"))?;
                write(&cur, f, theirs.trim())?;
            }
        }
    }
    Ok(())
}

pub fn set(layout: &Layout, rel: &str, res: &LinuxResources) -> Result<()> {
    let rel = rel.trim_start_matches('/');
    let dir = |ctrl: &str| -> Result<std::path::PathBuf> {
        Ok(layout
            .v1_mount(ctrl)
            .with_context(|| format!("cgroups: the {ctrl} controller is not mounted"))?
            .join(rel))
    };
    if let Some(mem) = res.memory() {
        let d = dir("memory")?;
        if let Some(l) = mem.limit() {
            write(&d, "memory.limit_in_bytes", &l.to_string())?;
        }
        if let Some(r) = mem.reservation() {
            write(&d, "memory.soft_limit_in_bytes", &r.to_string())?;
        }
        if let Some(s) = mem.swap() {
            write(&d, "memory.memsw.limit_in_bytes", &s.to_string())?;
        }
    }
    if let Some(pids) = res.pids() {
        let limit = pids.limit();
        let v = if limit <= 0 {
            "max".to_string()
        } else {
            limit.to_string()
        };
        write(&dir("pids")?, "pids.max", &v)?;
    }
    if let Some(cpu) = res.cpu() {
        let d = dir("cpu")?;
        if let Some(s) = cpu.shares() {
            write(&d, "cpu.shares", &s.to_string())?;
        }
        if let Some(p) = cpu.period() {
            write(&d, "cpu.cfs_period_us", &p.to_string())?;
        }
        if let Some(q) = cpu.quota() {
            write(&d, "cpu.cfs_quota_us", &q.to_string())?;
        }
        let cs = dir("cpuset")?;
        if let Some(c) = cpu.cpus() {
            write(&cs, "cpuset.cpus", c)?;
        }
        if let Some(m) = cpu.mems() {
            write(&cs, "cpuset.mems", m)?;
        }
    }
    if let Some(devs) = res.devices() {
        let d = dir("devices")?;
        for rule in devs.iter().chain(super::default_device_rules().iter()) {
            let file = if rule.allow() {
                "devices.allow"
            } else {
                "devices.deny"
            };
            write(&d, file, &rule.to_string())?;
        }
    }
    if res.block_io().is_some()
        || res.hugepage_limits().is_some()
        || res.network().is_some()
        || res.rdma().is_some()
    {
        bail!("linux.resources: blockIO, hugepageLimits, network and rdma are not supported by husk yet");
    }
    Ok(())
}

pub fn freeze(dir: &Path, frozen: bool) -> Result<()> {
    let want = if frozen { "FROZEN" } else { "THAWED" };
    for i in 0..1000 {
        write(dir, "freezer.state", want)?;
        let now = std::fs::read_to_string(dir.join("freezer.state")).unwrap_or_default();
        if now.trim() == want {
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_micros(if i < 10 {
            100
        } else {
            1000
        }));
    }
    bail!("freezer: {} did not become {want}", dir.display())
}
