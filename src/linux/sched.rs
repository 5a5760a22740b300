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

    use super::*;

    fn process(v: serde_json::Value) -> Process {
        let mut base =
            serde_json::json!({"cwd": "/", "user": {"uid": 0, "gid": 0}, "args": ["sh"]});
        base.as_object_mut()
            .unwrap()
            .extend(v.as_object().unwrap().clone());
        serde_json::from_value(base).unwrap()
    }

    fn err(v: serde_json::Value) -> String {
        format!("{:#}", validate(&process(v)).unwrap_err())
    }

    #[test]
    fn cpu_list_edges() {
        assert_eq!(cpu_list(" 1 , 3-4 ,").unwrap(), vec![1, 3, 4]);
        assert_eq!(cpu_list("7-7").unwrap(), vec![7]);
        assert!(cpu_list("")
            .unwrap_err()
            .to_string()
            .contains("empty cpu list"));
        assert!(cpu_list(",,").is_err());
        assert!(cpu_list("1-").is_err());
        assert!(cpu_list("-1").is_err());
        let max = libc::CPU_SETSIZE as usize;
        assert!(cpu_list(&format!("{}", max - 1)).is_ok());
        assert!(cpu_list(&format!("{max}")).is_err(), "beyond CPU_SETSIZE");
    }

    #[test]
    fn io_priority_range() {
        for p in [0, 7] {
            validate(&process(
                serde_json::json!({"ioPriority": {"class": "IOPRIO_CLASS_RT", "priority": p}}),
            ))
            .unwrap();
        }
        assert!(err(
            serde_json::json!({"ioPriority": {"class": "IOPRIO_CLASS_IDLE", "priority": -1}})
        )
        .contains("must be between 0 and 7"));
    }

    #[test]
    fn scheduler_nice_and_priority_rules() {
        validate(&process(
            serde_json::json!({"scheduler": {"policy": "SCHED_FIFO", "priority": 99}}),
        ))
        .unwrap();
        validate(&process(
            serde_json::json!({"scheduler": {"policy": "SCHED_OTHER", "nice": -20}}),
        ))
        .unwrap();
        assert!(
            err(serde_json::json!({"scheduler": {"policy": "SCHED_RR", "priority": 0}}))
                .contains("must be between 1 and 99 for SCHED_RR")
        );
        assert!(
            err(serde_json::json!({"scheduler": {"policy": "SCHED_BATCH", "priority": 5}}))
                .contains("priority must be 0 for SCHED_BATCH")
        );
        assert!(
            err(serde_json::json!({"scheduler": {"policy": "SCHED_OTHER", "nice": 20}}))
                .contains("nice 20 must be between -20 and 19")
        );
    }

    #[test]
    fn sched_attr_fields() {
        let s: Scheduler = serde_json::from_value(serde_json::json!({"policy": "SCHED_DEADLINE",
            "runtime": 10, "deadline": 20, "period": 30,
            // oci-spec 0.8's spelling of the spec's SCHED_FLAG_RESET_ON_FORK.
            "flags": ["SCHED_RESET_ON_FORK", "SCHED_FLAG_UTIL_CLAMP_MAX"]}))
        .unwrap();
        let a = sched_attr(&s).unwrap();
        assert_eq!(a.size, 48, "SCHED_ATTR_SIZE_VER0");
        assert_eq!(a.sched_policy, 6);
        assert_eq!(a.sched_flags, 0x41);
        assert_eq!(
            (a.sched_runtime, a.sched_deadline, a.sched_period),
            (10, 20, 30)
        );
    }

    #[test]
    fn exec_cpu_affinity_names_the_field() {
        let e = err(serde_json::json!({"execCPUAffinity": {"initial": "0", "final": "9-2"}}));
        assert!(
            e.starts_with("process.execCPUAffinity.final: invalid cpu list"),
            "{e}"
        );
    }

    #[test]
    fn personality_flags_are_refused() {
        let p: LinuxPersonality =
            serde_json::from_value(serde_json::json!({"domain": "LINUX32"})).unwrap();
        validate_personality(&p).unwrap();
        let p: LinuxPersonality =
            serde_json::from_value(serde_json::json!({"domain": "LINUX", "flags": ["x"]})).unwrap();
        assert!(validate_personality(&p)
            .unwrap_err()
            .to_string()
            .contains("flags are not supported"));
    }
}
