//! Scheduling knobs of the process: `personality`, `ioPriority`,
//! `scheduler` and `execCPUAffinity`.

use super::sys::SchedAttr;
use anyhow::{bail, Context, Result};
use oci_spec::runtime::{
    IOPriorityClass, LinuxPersonality, LinuxPersonalityDomain, LinuxSchedulerFlag,
    LinuxSchedulerPolicy, Process, Scheduler,
};

/// Check everything before any side effect.
pub fn validate(p: &Process) -> Result<()> {
    if let Some(io) = p.io_priority() {
        if !(0..=7).contains(&io.priority()) {
            bail!(
                "process.ioPriority.priority {} must be between 0 and 7",
                io.priority()
            );
        }
    }
    if let Some(s) = p.scheduler() {
        sched_attr(s)?;
    }
    if let Some(a) = p.exec_cpu_affinity() {
        for (name, v) in [("initial", a.initial()), ("final", a.cpu_affinity_final())] {
            if let Some(list) = v {
                cpu_list(list).with_context(|| format!("process.execCPUAffinity.{name}"))?;
            }
        }
    }
    Ok(())
}

pub fn validate_personality(p: &LinuxPersonality) -> Result<()> {
    if p.flags().as_ref().is_some_and(|f| !f.is_empty()) {
        bail!("linux.personality.flags are not supported (runc supports none either)");
    }
    Ok(())
}

/// personality(2) with the spec's execution domain.
pub fn set_personality(p: &LinuxPersonality) -> Result<()> {
    use nix::sys::personality::Persona;
    // The execution domains are values, not flags: PER_LINUX is 0.
    const PER_LINUX32: libc::c_int = 0x0008;
    let persona = match p.domain() {
        LinuxPersonalityDomain::PerLinux => Persona::empty(),
        LinuxPersonalityDomain::PerLinux32 => Persona::from_bits_retain(PER_LINUX32),
    };
    nix::sys::personality::set(persona).context("personality (linux.personality)")?;
    Ok(())
}

/// ioprio_set(2) and sched_setattr(2) for the calling process.
pub fn apply(p: &Process) -> Result<()> {
    if let Some(io) = p.io_priority() {
        const IOPRIO_WHO_PROCESS: libc::c_long = 1;
        const IOPRIO_CLASS_SHIFT: i64 = 13;
        let class = match io.class() {
            IOPriorityClass::IoprioClassRt => 1,
            IOPriorityClass::IoprioClassBe => 2,
            IOPriorityClass::IoprioClassIdle => 3,
        };
        let prio = (class << IOPRIO_CLASS_SHIFT) | io.priority();
        super::sys::ioprio_set(IOPRIO_WHO_PROCESS, prio)
            .context("ioprio_set (process.ioPriority)")?;
    }
    if let Some(s) = p.scheduler() {
        let attr = sched_attr(s)?;
        super::sys::sched_setattr(&attr).context("sched_setattr (process.scheduler)")?;
    }
    Ok(())
}

fn sched_attr(s: &Scheduler) -> Result<SchedAttr> {
    let policy = match s.policy() {
        LinuxSchedulerPolicy::SchedOther => 0,
        LinuxSchedulerPolicy::SchedFifo => 1,
        LinuxSchedulerPolicy::SchedRr => 2,
        LinuxSchedulerPolicy::SchedBatch => 3,
        LinuxSchedulerPolicy::SchedIso => 4,
        LinuxSchedulerPolicy::SchedIdle => 5,
        LinuxSchedulerPolicy::SchedDeadline => 6,
    };
    let mut flags = 0u64;
    for f in s.flags().as_deref().unwrap_or(&[]) {
        flags |= match f {
            LinuxSchedulerFlag::SchedResetOnFork => 0x01,
            LinuxSchedulerFlag::SchedFlagReclaim => 0x02,
            LinuxSchedulerFlag::SchedFlagDLOverrun => 0x04,
            LinuxSchedulerFlag::SchedFlagKeepPolicy => 0x08,
            LinuxSchedulerFlag::SchedFlagKeepParams => 0x10,
            LinuxSchedulerFlag::SchedFlagUtilClampMin => 0x20,
            LinuxSchedulerFlag::SchedFlagUtilClampMax => 0x40,
        };
    }
    let nice = s.nice().unwrap_or(0);
    if !(-20..=19).contains(&nice) {
        bail!("process.scheduler.nice {nice} must be between -20 and 19");
    }
    let priority = s.priority().unwrap_or(0);
    if (policy == 1 || policy == 2) && !(1..=99).contains(&priority) {
        bail!(
            "process.scheduler.priority {priority} must be between 1 and 99 for {}",
            s.policy()
        );
    }
    if policy != 1 && policy != 2 && priority != 0 {
        bail!("process.scheduler.priority must be 0 for {}", s.policy());
    }
    Ok(SchedAttr {
        size: std::mem::size_of::<SchedAttr>() as u32,
        sched_policy: policy,
        sched_flags: flags,
        sched_nice: nice,
        sched_priority: priority as u32,
        sched_runtime: s.runtime().unwrap_or(0),
        sched_deadline: s.deadline().unwrap_or(0),
        sched_period: s.period().unwrap_or(0),
    })
}

/// Parse a cpu list such as `0-3,7`.
pub fn cpu_list(s: &str) -> Result<Vec<usize>> {
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (a, b) = match part.split_once('-') {
            Some((a, b)) => (a, b),
            None => (part, part),
        };
        let a: usize = a
            .parse()
            .with_context(|| format!("invalid cpu list {s:?}"))?;
        let b: usize = b
            .parse()
            .with_context(|| format!("invalid cpu list {s:?}"))?;
        if a > b || b >= libc::CPU_SETSIZE as usize {
            bail!("invalid cpu list {s:?}");
        }
        out.extend(a..=b);
    }
    if out.is_empty() {
        bail!("empty cpu list {s:?}");
    }
    Ok(out)
}

/// sched_setaffinity(2) of the calling process.
pub fn set_affinity(list: &str) -> Result<()> {
    let mut set = nix::sched::CpuSet::new();
    for cpu in cpu_list(list)? {
        set.set(cpu).with_context(|| format!("cpu {cpu}"))?;
    }
    nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &set)
        .with_context(|| format!("sched_setaffinity {list} (process.execCPUAffinity)"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn cpu_lists() {
        assert_eq!(super::cpu_list("0-2,5").unwrap(), vec![0, 1, 2, 5]);
        assert!(super::cpu_list("3-1").is_err());
        assert!(super::cpu_list("x").is_err());
    }
}
