//! cgroup v2: one unified hierarchy.

use anyhow::{bail, Context, Result};
use oci_spec::runtime::LinuxResources;
use std::path::Path;

fn write(dir: &Path, file: &str, value: &str) -> Result<()> {
    let p = dir.join(file);
    std::fs::write(&p, value).with_context(|| format!("write {value:?} to {}", p.display()))
}

/// mkdir -p the cgroup and enable every available controller in the
/// subtree_control of each ancestor, so the leaf gets them all.
pub fn create(mount: &Path, rel: &str) -> Result<()> {
    let rel = rel.trim_start_matches('/');
    let mut cur = mount.to_path_buf();
    for comp in rel.split('/') {
        let ctrls = std::fs::read_to_string(cur.join("cgroup.controllers")).unwrap_or_default();
        let enable: Vec<String> = ctrls.split_whitespace().map(|c| format!("+{c}")).collect();
        if !enable.is_empty() {
            // Best effort: a controller may be refused (e.g. threaded mode).
            let _ = std::fs::write(cur.join("cgroup.subtree_control"), enable.join(" "));
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

pub fn set(dir: &Path, res: &LinuxResources) -> Result<()> {
    if let Some(mem) = res.memory() {
        if let Some(l) = mem.limit() {
            write(
                dir,
                "memory.max",
                &if l < 0 { "max".into() } else { l.to_string() },
            )?;
        }
    }
    if let Some(pids) = res.pids() {
        let limit = pids.limit();
        write(
            dir,
            "pids.max",
            &if limit <= 0 {
                "max".into()
            } else {
                limit.to_string()
            },
        )?;
    }
    if res.block_io().is_some() || res.hugepage_limits().is_some() || res.rdma().is_some() {
        bail!("linux.resources: blockIO, hugepageLimits and rdma are not supported by husk on cgroup v2 yet");
    }
    Ok(())
}

pub fn freeze(dir: &Path, frozen: bool) -> Result<()> {
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
            1000
        }));
    }
    bail!("freezer: {} did not become {want}", dir.display())
}
