//! `linux.seccomp`: syscall filters through libseccomp.
//!
//! The parent checks the profile with [`validate`] before any side effect
//! and compiles it to BPF ([`Program::compile`], through a cache); the
//! init loads the program with one seccomp(2) call; a filter
//! with an `SCMP_ACT_NOTIFY` action yields a listener fd, which the init
//! passes to the parent and the parent to the seccomp agent listening on
//! `listenerPath` ([`take_listener_fd`], [`send_to_agent`]).
//!
//! The translation follows runc (`libcontainer/seccomp`, `specconv`):
//! - `SCMP_ACT_KILL` is `KILL_THREAD`; `ERRNO` and `TRACE` default to EPERM;
//! - a rule whose action equals the default action is skipped (libseccomp
//!   refuses it), and so is a syscall name this libseccomp does not know
//!   (a profile lists syscalls of newer kernels and of other arches);
//! - conditions on different arguments are ANDed in one rule; when one
//!   argument is compared more than once, every condition becomes a rule of
//!   its own (ORed), as runc has always done;
//! - without `flags`, SPEC_ALLOW is set when supported (runc >= 1.2): the
//!   filter must not turn on the Speculative Store Bypass mitigation;
//! - syscalls newer than every syscall the profile names get ENOSYS (a stub
//!   in front of libseccomp's program, as runc's patchbpf), unless the
//!   default action lets syscalls through;
//! - the filter does not set no_new_privs itself: `process.noNewPrivileges`
//!   decides that.
//!
//! libseccomp allocates, so it is only used where husk is single-threaded
//! (the parent, or the init after the clone), which is always.

use anyhow::{bail, Context, Result};
use libseccomp::{
    ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall,
};
use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction as Act, LinuxSeccompFilterFlag as Flag,
    LinuxSeccompOperator as Op, LinuxSyscall,
};
use serde_json::{json, Value};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// A syscall has at most six arguments.
const MAX_ARGS: usize = 6;

/// Action, operator, arch and flag names, as the spec spells them.
const ACTIONS: &[&str] = &[
    "SCMP_ACT_ALLOW",
    "SCMP_ACT_ERRNO",
    "SCMP_ACT_KILL",
    "SCMP_ACT_KILL_PROCESS",
    "SCMP_ACT_KILL_THREAD",
    "SCMP_ACT_LOG",
    "SCMP_ACT_NOTIFY",
    "SCMP_ACT_TRACE",
    "SCMP_ACT_TRAP",
];
const OPERATORS: &[&str] = &[
    "SCMP_CMP_EQ",
    "SCMP_CMP_GE",
    "SCMP_CMP_GT",
    "SCMP_CMP_LE",
    "SCMP_CMP_LT",
    "SCMP_CMP_MASKED_EQ",
    "SCMP_CMP_NE",
];
const ARCHS: &[&str] = &[
    "SCMP_ARCH_AARCH64",
    "SCMP_ARCH_ARM",
    "SCMP_ARCH_MIPS",
    "SCMP_ARCH_MIPS64",
    "SCMP_ARCH_MIPS64N32",
    "SCMP_ARCH_MIPSEL",
    "SCMP_ARCH_MIPSEL64",
    "SCMP_ARCH_MIPSEL64N32",
    "SCMP_ARCH_PPC",
    "SCMP_ARCH_PPC64",
    "SCMP_ARCH_PPC64LE",
    "SCMP_ARCH_RISCV64",
    "SCMP_ARCH_S390",
    "SCMP_ARCH_S390X",
    "SCMP_ARCH_X32",
    "SCMP_ARCH_X86",
    "SCMP_ARCH_X86_64",
];
const FLAGS: &[&str] = &[
    "SECCOMP_FILTER_FLAG_TSYNC",
    "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
    "SECCOMP_FILTER_FLAG_LOG",
];

/// The `linux.seccomp` entry of `husk features`, shaped like runc's.
pub fn features() -> Value {
    let supported: Vec<&str> = FLAGS
        .iter()
        .copied()
        .filter(|f| flag_supported(f).is_ok())
        .collect();
    json!({
        "enabled": true,
        "actions": ACTIONS,
        "operators": OPERATORS,
        "archs": ARCHS,
        "knownFlags": FLAGS,
        "supportedFlags": supported,
    })
}

/// libseccomp's API level: what this libseccomp and kernel support.
fn api_level() -> u32 {
    libseccomp::get_api()
}

fn flag_supported(name: &str) -> Result<()> {
    let need = match name {
        "SECCOMP_FILTER_FLAG_TSYNC" => 2,
        "SECCOMP_FILTER_FLAG_LOG" => 3,
        "SECCOMP_FILTER_FLAG_SPEC_ALLOW" => 4,
        _ => bail!("unknown flag {name:?}"),
    };
    let have = api_level();
    if have < need {
        bail!("{name} is not supported by this kernel and libseccomp (API level {have}, {need} needed)");
    }
    Ok(())
}

/// Field-named checks of the raw `linux.seccomp` JSON, for the strings
/// that oci-spec's typed parse would reject with no field name (unknown
/// action, arch, flag or operator). Meant to run on config.json before the
/// typed parse.
pub fn validate_json(config: &Value) -> Result<()> {
    let Some(s) = config.get("linux").and_then(|l| l.get("seccomp")) else {
        return Ok(());
    };
    if s.is_null() {
        return Ok(());
    }
    let name = |v: &Value, field: &str, known: &[&str], what: &str| -> Result<()> {
        match v.as_str() {
            Some(x) if known.contains(&x) => Ok(()),
            Some(x) => bail!("{field}: unknown {what} {x:?}"),
            None => bail!("{field}: {what} must be a string, got {v}"),
        }
    };
    let list = |key: &str| -> Result<&[Value]> {
        match s.get(key) {
            None | Some(Value::Null) => Ok(&[]),
            Some(Value::Array(a)) => Ok(a),
            Some(v) => bail!("linux.seccomp.{key}: must be an array, got {v}"),
        }
    };
    if let Some(a) = s.get("defaultAction") {
        name(a, "linux.seccomp.defaultAction", ACTIONS, "action")?;
    }
    for (i, a) in list("architectures")?.iter().enumerate() {
        if a.as_str() == Some("SCMP_ARCH_NATIVE") {
            continue;
        }
        name(
            a,
            &format!("linux.seccomp.architectures[{i}]"),
            ARCHS,
            "architecture",
        )?;
    }
    for (i, f) in list("flags")?.iter().enumerate() {
        let field = format!("linux.seccomp.flags[{i}]");
        if f.as_str() == Some("SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV") {
            bail!("{field}: SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV is not supported by husk");
        }
        name(f, &field, FLAGS, "flag")?;
    }
    for (i, sc) in list("syscalls")?.iter().enumerate() {
        let field = format!("linux.seccomp.syscalls[{i}]");
        let action = sc
            .get("action")
            .with_context(|| format!("{field}.action: missing"))?;
        name(action, &format!("{field}.action"), ACTIONS, "action")?;
        let args = match sc.get("args") {
            None | Some(Value::Null) => &[][..],
            Some(Value::Array(a)) => a,
            Some(v) => bail!("{field}.args: must be an array, got {v}"),
        };
        for (j, arg) in args.iter().enumerate() {
            if let Some(op) = arg.get("op") {
                name(op, &format!("{field}.args[{j}].op"), OPERATORS, "operator")?;
            }
        }
    }
    Ok(())
}

/// Check a parsed profile before any side effect: everything that would
/// make [`Filter::build`] or the listener hand-off fail for a reason the
/// config alone decides.
pub fn validate(s: &LinuxSeccomp) -> Result<()> {
    let errno = |v: Option<u32>, field: &str| -> Result<()> {
        match v {
            Some(e) if e > u32::from(u16::MAX) => {
                bail!("{field}: {e} is out of range (0-65535)")
            }
            _ => Ok(()),
        }
    };
    if s.default_action() == Act::ScmpActNotify {
        // Everything the init does after the load, including passing the
        // listener fd on, would wait for an agent that does not have it yet.
        bail!("linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be the default action");
    }
    errno(s.default_errno_ret(), "linux.seccomp.defaultErrnoRet")?;
    for (i, f) in s.flags().as_deref().unwrap_or(&[]).iter().enumerate() {
        flag_supported(flag_name(*f)).with_context(|| format!("linux.seccomp.flags[{i}]"))?;
    }
    let mut notify_at = None;
    for (i, sc) in syscalls(s).iter().enumerate() {
        let field = format!("linux.seccomp.syscalls[{i}]");
        if sc.names().is_empty() {
            bail!("{field}.names: must not be empty");
        }
        if let Some(j) = sc.names().iter().position(|n| n.is_empty()) {
            bail!("{field}.names[{j}]: empty syscall name");
        }
        errno(sc.errno_ret(), &format!("{field}.errnoRet"))?;
        for (j, a) in sc.args().as_deref().unwrap_or(&[]).iter().enumerate() {
            if a.index() >= MAX_ARGS {
                bail!(
                    "{field}.args[{j}].index: {} is out of range (0-{})",
                    a.index(),
                    MAX_ARGS - 1
                );
            }
        }
        if sc.action() == Act::ScmpActNotify {
            // The init reports the listener fd to the parent with write(2)
            // (as runc does): a notify rule on write would block it before
            // anyone can answer.
            if sc.names().iter().any(|n| n == "write") {
                bail!("{field}: SCMP_ACT_NOTIFY cannot be used for the write syscall");
            }
            notify_at.get_or_insert(i);
        }
    }
    if let Some(i) = notify_at {
        let have = api_level();
        if have < 6 {
            bail!("linux.seccomp.syscalls[{i}]: SCMP_ACT_NOTIFY is not supported by this kernel and libseccomp (API level {have}, 6 needed)");
        }
        let path = s
            .listener_path()
            .as_deref()
            .filter(|p| !p.as_os_str().is_empty())
            .with_context(|| {
                format!("linux.seccomp.listenerPath: required by SCMP_ACT_NOTIFY in linux.seccomp.syscalls[{i}]")
            })?;
        use std::os::unix::fs::FileTypeExt;
        let md = std::fs::metadata(path)
            .with_context(|| format!("linux.seccomp.listenerPath: {}", path.display()))?;
        if !md.file_type().is_socket() {
            bail!(
                "linux.seccomp.listenerPath: {} is not a socket",
                path.display()
            );
        }
    }
    Ok(())
}

fn syscalls(s: &LinuxSeccomp) -> &[LinuxSyscall] {
    s.syscalls().as_deref().unwrap_or(&[])
}

fn flag_name(f: Flag) -> &'static str {
    match f {
        Flag::SeccompFilterFlagTsync => "SECCOMP_FILTER_FLAG_TSYNC",
        Flag::SeccompFilterFlagLog => "SECCOMP_FILTER_FLAG_LOG",
        Flag::SeccompFilterFlagSpecAllow => "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
    }
}

fn action(a: Act, errno_ret: Option<u32>) -> ScmpAction {
    // validate() keeps errno_ret within 16 bits.
    let ret = errno_ret.unwrap_or(libc::EPERM as u32);
    match a {
        Act::ScmpActKill | Act::ScmpActKillThread => ScmpAction::KillThread,
        Act::ScmpActKillProcess => ScmpAction::KillProcess,
        Act::ScmpActTrap => ScmpAction::Trap,
        Act::ScmpActErrno => ScmpAction::Errno(ret as i32),
        Act::ScmpActTrace => ScmpAction::Trace(ret as u16),
        Act::ScmpActLog => ScmpAction::Log,
        Act::ScmpActAllow => ScmpAction::Allow,
        Act::ScmpActNotify => ScmpAction::Notify,
    }
}

fn arch(a: Arch) -> ScmpArch {
    match a {
        Arch::ScmpArchNative => ScmpArch::Native,
        Arch::ScmpArchX86 => ScmpArch::X86,
        Arch::ScmpArchX86_64 => ScmpArch::X8664,
        Arch::ScmpArchX32 => ScmpArch::X32,
        Arch::ScmpArchArm => ScmpArch::Arm,
        Arch::ScmpArchAarch64 => ScmpArch::Aarch64,
        Arch::ScmpArchMips => ScmpArch::Mips,
        Arch::ScmpArchMips64 => ScmpArch::Mips64,
        Arch::ScmpArchMips64n32 => ScmpArch::Mips64N32,
        Arch::ScmpArchMipsel => ScmpArch::Mipsel,
        Arch::ScmpArchMipsel64 => ScmpArch::Mipsel64,
        Arch::ScmpArchMipsel64n32 => ScmpArch::Mipsel64N32,
        Arch::ScmpArchPpc => ScmpArch::Ppc,
        Arch::ScmpArchPpc64 => ScmpArch::Ppc64,
        Arch::ScmpArchPpc64le => ScmpArch::Ppc64Le,
        Arch::ScmpArchS390 => ScmpArch::S390,
        Arch::ScmpArchS390x => ScmpArch::S390X,
        Arch::ScmpArchRiscv64 => ScmpArch::Riscv64,
    }
}

fn compare(a: &oci_spec::runtime::LinuxSeccompArg) -> ScmpArgCompare {
    let (op, datum) = match a.op() {
        Op::ScmpCmpNe => (ScmpCompareOp::NotEqual, a.value()),
        Op::ScmpCmpLt => (ScmpCompareOp::Less, a.value()),
        Op::ScmpCmpLe => (ScmpCompareOp::LessOrEqual, a.value()),
        Op::ScmpCmpEq => (ScmpCompareOp::Equal, a.value()),
        Op::ScmpCmpGe => (ScmpCompareOp::GreaterEqual, a.value()),
        Op::ScmpCmpGt => (ScmpCompareOp::Greater, a.value()),
        // `value` is the mask, `valueTwo` what the masked argument must equal.
        Op::ScmpCmpMaskedEq => (
            ScmpCompareOp::MaskedEqual(a.value()),
            a.value_two().unwrap_or(0),
        ),
    };
    ScmpArgCompare::new(a.index() as u32, op, datum)
}

/// A compiled filter, not yet loaded.
pub struct Filter {
    ctx: ScmpFilterContext,
}

impl Filter {
    /// Compile the profile (no syscall filter is active yet).
    pub fn build(s: &LinuxSeccomp) -> Result<Filter> {
        let default = action(s.default_action(), s.default_errno_ret());
        let mut ctx = ScmpFilterContext::new(default)
            .context("linux.seccomp.defaultAction: create the seccomp filter")?;
        // The filter must not set no_new_privs: process.noNewPrivileges does.
        ctx.set_ctl_nnp(false)
            .context("linux.seccomp: unset the filter's no_new_privs attribute")?;
        for (i, a) in s
            .architectures()
            .as_deref()
            .unwrap_or(&[])
            .iter()
            .enumerate()
        {
            ctx.add_arch(arch(*a))
                .with_context(|| format!("linux.seccomp.architectures[{i}]: add {a}"))?;
        }
        match s.flags() {
            Some(flags) => {
                for (i, f) in flags.iter().enumerate() {
                    let r = match f {
                        Flag::SeccompFilterFlagTsync => ctx.set_ctl_tsync(true),
                        Flag::SeccompFilterFlagLog => ctx.set_ctl_log(true),
                        Flag::SeccompFilterFlagSpecAllow => ctx.set_ctl_ssb(true),
                    };
                    r.with_context(|| format!("linux.seccomp.flags[{i}]: {}", flag_name(*f)))?;
                }
            }
            None => {
                if flag_supported("SECCOMP_FILTER_FLAG_SPEC_ALLOW").is_ok() {
                    ctx.set_ctl_ssb(true)
                        .context("linux.seccomp: set SECCOMP_FILTER_FLAG_SPEC_ALLOW")?;
                }
            }
        }
        let rules: usize = syscalls(s).iter().map(|sc| sc.names().len()).sum();
        if rules > 32 {
            // A binary tree of syscall numbers: O(log n) per syscall for a
            // long profile. Not fatal where libseccomp lacks it.
            let _ = ctx.set_ctl_optimize(2);
        }
        for (i, sc) in syscalls(s).iter().enumerate() {
            let act = action(sc.action(), sc.errno_ret());
            if act == default {
                // Redundant, and libseccomp refuses it.
                continue;
            }
            let conds: Vec<ScmpArgCompare> = sc
                .args()
                .as_deref()
                .unwrap_or(&[])
                .iter()
                .map(compare)
                .collect();
            let mut per_index = [0usize; MAX_ARGS];
            for a in sc.args().as_deref().unwrap_or(&[]) {
                if let Some(n) = per_index.get_mut(a.index()) {
                    *n += 1;
                } else {
                    bail!(
                        "linux.seccomp.syscalls[{i}].args: index {} is out of range",
                        a.index()
                    );
                }
            }
            let one_rule_each = per_index.iter().any(|&n| n > 1);
            for name in sc.names() {
                // Unknown to this libseccomp: a syscall of a newer kernel
                // (or a typo); runc skips those too.
                let Ok(nr) = ScmpSyscall::from_name(name) else {
                    continue;
                };
                let field = || format!("linux.seccomp.syscalls[{i}]: add a rule for {name}");
                if one_rule_each {
                    for c in &conds {
                        ctx.add_rule_conditional(act, nr, std::slice::from_ref(c))
                            .with_context(field)?;
                    }
                } else {
                    ctx.add_rule_conditional(act, nr, &conds)
                        .with_context(field)?;
                }
            }
        }
        Ok(Filter { ctx })
    }
}

impl Filter {
    /// The compiled classic BPF program (`sock_filter` records), as
    /// libseccomp would load it. libseccomp 2.5 exports only to an fd.
    pub fn export(&self) -> Result<Vec<u8>> {
        use std::io::{Read, Seek};
        let fd =
            nix::sys::memfd::memfd_create("husk-seccomp", nix::sys::memfd::MFdFlags::MFD_CLOEXEC)
                .context("memfd_create for the seccomp program")?;
        self.ctx
            .export_bpf(&fd)
            .context("linux.seccomp: export the compiled filter")?;
        let mut f = std::fs::File::from(fd);
        let mut bpf = Vec::new();
        f.rewind()
            .and_then(|_| f.read_to_end(&mut bpf))
            .context("read the exported seccomp program")?;
        if bpf.is_empty() || bpf.len() % std::mem::size_of::<libc::sock_filter>() != 0 {
            bail!(
                "linux.seccomp: libseccomp exported a program of {} bytes",
                bpf.len()
            );
        }
        Ok(bpf)
    }
}

/// The -ENOSYS stub put in front of libseccomp's program, as runc does
/// (runc >= 1.0.0-rc93, `patchbpf`): a syscall whose number is above
/// every syscall the profile names, for its architecture, gets ENOSYS
/// instead of the default action. Such a syscall is newer than the
/// profile, and C libraries fall back to an older one on ENOSYS only
/// (glibc's clone3 and faccessat2, for instance), not on EPERM.
///
/// Not added when the default action lets syscalls through (ALLOW, LOG,
/// TRACE) or already returns ENOSYS. The architectures are the profile's
/// and, always, the native one (as runc >= 1.2; runc 1.1 took only the
/// listed ones).
mod enosys {
    use super::*;

    /// AUDIT_ARCH_* of linux/audit.h: what `seccomp_data.arch` holds.
    fn audit_arch(a: ScmpArch) -> Option<u32> {
        const LE: u32 = 0x4000_0000;
        const B64: u32 = 0x8000_0000;
        const N32: u32 = 0x2000_0000;
        Some(match a {
            ScmpArch::X86 => 3 | LE,
            // x32 shares x86_64's token; its syscalls have bit 30 set.
            ScmpArch::X8664 | ScmpArch::X32 => 62 | B64 | LE,
            ScmpArch::Arm => 40 | LE,
            ScmpArch::Aarch64 => 183 | B64 | LE,
            ScmpArch::Mips => 8,
            ScmpArch::Mipsel => 8 | LE,
            ScmpArch::Mips64 => 8 | B64,
            ScmpArch::Mips64N32 => 8 | B64 | N32,
            ScmpArch::Mipsel64 => 8 | B64 | LE,
            ScmpArch::Mipsel64N32 => 8 | B64 | LE | N32,
            ScmpArch::Ppc => 20,
            ScmpArch::Ppc64 => 21 | B64,
            ScmpArch::Ppc64Le => 21 | B64 | LE,
            ScmpArch::S390 => 22,
            ScmpArch::S390X => 22 | B64,
            ScmpArch::Riscv64 => 243 | B64 | LE,
            _ => return None,
        })
    }

    /// Bit 30 of an x86_64 syscall number: an x32 syscall.
    const X32_BIT: u32 = 0x4000_0000;
    const RET_ENOSYS: u32 = 0x0005_0000 | libc::ENOSYS as u32; // SECCOMP_RET_ERRNO

    // Classic BPF opcodes.
    const LD_W_ABS: u16 = 0x20;
    const JA: u16 = 0x05;
    const JEQ_K: u16 = 0x15;
    const JGT_K: u16 = 0x25;
    const JSET_K: u16 = 0x45;
    const RET_K: u16 = 0x06;

    #[derive(Clone, Copy)]
    struct Insn {
        code: u16,
        jt: u8,
        jf: u8,
        k: u32,
    }

    /// Where an instruction of a block jumps; resolved once the whole stub
    /// is laid out.
    #[derive(Clone, Copy)]
    enum Ja {
        /// The first instruction of libseccomp's program.
        Filter,
    }

    enum Item {
        I(Insn),
        J(Ja),
    }

    fn i(code: u16, jt: u8, jf: u8, k: u32) -> Item {
        Item::I(Insn { code, jt, jf, k })
    }

    /// Largest syscall number the profile names on `arch` (0: none).
    fn last_syscall(s: &LinuxSeccomp, arch: ScmpArch) -> u32 {
        let mut max = 0u32;
        for sc in syscalls(s) {
            for name in sc.names() {
                if let Ok(nr) = ScmpSyscall::from_name_by_arch(name, arch) {
                    // libseccomp gives negative pseudo numbers for the
                    // syscalls an architecture does not have.
                    if let Ok(nr) = u32::try_from(i32::from(nr)) {
                        max = max.max(nr);
                    }
                }
            }
        }
        max
    }

    /// "ENOSYS if the number (in A) is above `max`, else on to the filter".
    fn above(max: u32, out: &mut Vec<Item>) {
        out.push(i(JGT_K, 0, 1, max));
        out.push(i(RET_K, 0, 0, RET_ENOSYS));
        out.push(Item::J(Ja::Filter));
    }

    fn arch_of(a: Arch) -> ScmpArch {
        match a {
            Arch::ScmpArchNative => ScmpArch::native(),
            a => super::arch(a),
        }
    }

    /// The stub as `sock_filter` records (native byte order), or nothing
    /// when none is needed.
    pub fn stub(s: &LinuxSeccomp) -> Vec<u8> {
        let permissive = matches!(
            s.default_action(),
            Act::ScmpActAllow | Act::ScmpActLog | Act::ScmpActTrace
        );
        let enosys_already = s.default_action() == Act::ScmpActErrno
            && s.default_errno_ret() == Some(libc::ENOSYS as u32);
        if permissive || enosys_already {
            return Vec::new();
        }
        // (audit arch, max of the plain/amd64 ABI, max of x32), in order.
        let mut archs: Vec<(u32, u32, u32)> = Vec::new();
        let listed = s.architectures().as_deref().unwrap_or(&[]);
        let all = listed
            .iter()
            .map(|a| arch_of(*a))
            .chain(std::iter::once(ScmpArch::native()));
        for a in all {
            let Some(token) = audit_arch(a) else { continue };
            let max = last_syscall(s, a);
            if max == 0 {
                continue;
            }
            let pos = match archs.iter().position(|e| e.0 == token) {
                Some(p) => p,
                None => {
                    archs.push((token, 0, 0));
                    archs.len() - 1
                }
            };
            if a == ScmpArch::X32 {
                archs[pos].2 = max;
            } else {
                archs[pos].1 = max;
            }
        }
        if archs.is_empty() {
            return Vec::new();
        }
        let mut items = Vec::new();
        for (token, max, x32_max) in archs {
            let mut body = vec![i(LD_W_ABS, 0, 0, 0)]; // seccomp_data.nr
            if token == audit_arch(ScmpArch::X8664).unwrap_or(0) {
                let mut native = Vec::new();
                if max > 0 {
                    above(max, &mut native);
                } else {
                    native.push(Item::J(Ja::Filter));
                }
                // An x32 syscall: past the x86_64 part.
                body.push(i(JSET_K, native.len() as u8, 0, X32_BIT));
                body.extend(native);
                if x32_max > 0 {
                    above(x32_max, &mut body);
                } else {
                    body.push(Item::J(Ja::Filter));
                }
            } else {
                if matches!(token, 22 | 0x8000_0016) {
                    // s390: an unknown syscall number is left as 0.
                    body.push(i(JEQ_K, 0, 1, 0));
                    body.push(i(RET_K, 0, 0, RET_ENOSYS));
                }
                above(max, &mut body);
            }
            items.push(i(LD_W_ABS, 0, 0, 4)); // seccomp_data.arch
                                              // Another architecture: on to the next block.
            items.push(i(JEQ_K, 0, body.len() as u8, token));
            items.extend(body);
        }
        // No block matched: the filter (its first instruction follows).
        let len = items.len();
        let mut out = Vec::with_capacity(len * 8);
        for (pc, item) in items.into_iter().enumerate() {
            let insn = match item {
                Item::I(x) => x,
                Item::J(Ja::Filter) => Insn {
                    code: JA,
                    jt: 0,
                    jf: 0,
                    k: (len - pc - 1) as u32,
                },
            };
            out.extend_from_slice(&insn.code.to_ne_bytes());
            out.push(insn.jt);
            out.push(insn.jf);
            out.extend_from_slice(&insn.k.to_ne_bytes());
        }
        out
    }
}

/// The longest classic BPF program the kernel loads.
const BPF_MAXINSNS: usize = 4096;

/// SECCOMP_FILTER_FLAG_* of linux/seccomp.h.
const FLAG_TSYNC: u32 = 1;
const FLAG_LOG: u32 = 2;
const FLAG_SPEC_ALLOW: u32 = 4;
const FLAG_NEW_LISTENER: u32 = 8;
const FLAG_TSYNC_ESRCH: u32 = 16;

/// A filter compiled to BPF by the parent, before the clone, for the
/// child to load with one seccomp(2) call: the child neither compiles nor
/// allocates. Compiling the same profile again is skipped through a cache
/// of compiled programs (see [`crate::linux::seccomp_cache`]).
pub struct Program {
    bpf: Vec<u8>,
    flags: u32,
    notify: bool,
}

impl Program {
    /// Compile `s` (or fetch it from the cache). Fails, naming the field,
    /// where libseccomp refuses the profile.
    pub fn compile(s: &LinuxSeccomp) -> Result<Program> {
        // As Filter::build decides it: a notify rule for a syscall this
        // libseccomp knows (validate() refuses a notify default action).
        let notify = syscalls(s).iter().any(|sc| {
            sc.action() == Act::ScmpActNotify
                && sc.names().iter().any(|n| ScmpSyscall::from_name(n).is_ok())
        });
        let mut flags = 0;
        match s.flags() {
            Some(fl) => {
                for f in fl {
                    flags |= match f {
                        Flag::SeccompFilterFlagTsync => FLAG_TSYNC,
                        Flag::SeccompFilterFlagLog => FLAG_LOG,
                        Flag::SeccompFilterFlagSpecAllow => FLAG_SPEC_ALLOW,
                    };
                }
            }
            None => {
                if flag_supported("SECCOMP_FILTER_FLAG_SPEC_ALLOW").is_ok() {
                    flags |= FLAG_SPEC_ALLOW;
                }
            }
        }
        if notify {
            // As libseccomp: a listener with TSYNC needs TSYNC_ESRCH, or
            // the kernel could not say which thread failed to sync.
            flags |= FLAG_NEW_LISTENER;
            if flags & FLAG_TSYNC != 0 {
                flags |= FLAG_TSYNC_ESRCH;
            }
        }
        let key = crate::linux::seccomp_cache::key(s)?;
        let bpf = match crate::linux::seccomp_cache::lookup(&key) {
            Some(bpf) => bpf,
            None => {
                let mut bpf = enosys::stub(s);
                bpf.extend(Filter::build(s)?.export()?);
                let insns = bpf.len() / std::mem::size_of::<libc::sock_filter>();
                if insns > BPF_MAXINSNS {
                    bail!("linux.seccomp: the compiled filter has {insns} instructions, more than the kernel's {BPF_MAXINSNS}");
                }
                crate::linux::seccomp_cache::store(&key, &bpf);
                bpf
            }
        };
        Ok(Program { bpf, flags, notify })
    }

    /// Whether loading yields a listener fd.
    pub fn notifies(&self) -> bool {
        self.notify
    }

    /// Load the program into the calling thread; returns the listener fd
    /// if the filter has a notify action. Allocates only on error.
    pub fn load(&self) -> Result<Option<OwnedFd>> {
        let ret = super::sys::seccomp_set_filter(&self.bpf, self.flags)
            .context("linux.seccomp: load the seccomp filter (seccomp SECCOMP_SET_MODE_FILTER)")?;
        if self.flags & FLAG_TSYNC != 0 && !self.notify && ret > 0 {
            bail!("linux.seccomp.flags: SECCOMP_FILTER_FLAG_TSYNC: thread {ret} could not be synchronised");
        }
        if self.notify {
            // SAFETY: with NEW_LISTENER the kernel returns a new listener
            // fd (close-on-exec) that nothing else owns.
            Ok(Some(unsafe { OwnedFd::from_raw_fd(ret as i32) }))
        } else {
            Ok(None)
        }
    }
}

/// Parent: copy listener fd `remote` out of the init `pid` (the init only
/// reports its number; see sync.rs for why).
pub fn take_listener_fd(pid: i32, remote: i32) -> Result<OwnedFd> {
    let pidfd = super::sys::pidfd_open(pid).with_context(|| format!("pidfd_open {pid}"))?;
    super::sys::pidfd_getfd(std::os::fd::AsFd::as_fd(&pidfd), remote)
        .with_context(|| format!("pidfd_getfd: copy the seccomp listener fd of pid {pid}"))
}

/// runc's `specs.ContainerProcessState`: what the agent receives with the fd.
pub fn process_state(s: &LinuxSeccomp, pid: i32, state_json: &str) -> String {
    let state: Value = serde_json::from_str(state_json).unwrap_or(Value::Null);
    let mut v = json!({
        "ociVersion": crate::oci::OCI_VERSION,
        "fds": ["seccompFd"],
        "pid": pid,
        "state": state,
    });
    if let Some(m) = s.listener_metadata().as_deref().filter(|m| !m.is_empty()) {
        v["metadata"] = json!(m);
    }
    v.to_string()
}

/// Parent: connect to `listenerPath` and send the process state with the
/// listener fd (SCM_RIGHTS), as runc does.
pub fn send_to_agent(s: &LinuxSeccomp, fd: &OwnedFd, pid: i32, state_json: &str) -> Result<()> {
    use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
    use std::io::{IoSlice, Write};
    let path = s
        .listener_path()
        .as_deref()
        .context("linux.seccomp.listenerPath: required by SCMP_ACT_NOTIFY")?;
    let what = || {
        format!(
            "linux.seccomp.listenerPath: send the seccomp fd to the agent at {}",
            path.display()
        )
    };
    let mut conn = std::os::unix::net::UnixStream::connect(path).with_context(what)?;
    let msg = process_state(s, pid, state_json);
    let fds = [fd.as_raw_fd()];
    let sent = sendmsg::<()>(
        conn.as_raw_fd(),
        &[IoSlice::new(msg.as_bytes())],
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::MSG_NOSIGNAL,
        None,
    )
    .with_context(what)?;
    // A stream socket may take a long state in more than one write.
    conn.write_all(&msg.as_bytes()[sent..]).with_context(what)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(v: Value) -> LinuxSeccomp {
        serde_json::from_value(v).expect("profile parses")
    }

    fn pfc(f: &Filter) -> String {
        let mut file = tempfile();
        f.ctx.export_pfc(&file).expect("export pfc");
        use std::io::{Read, Seek};
        file.rewind().unwrap();
        let mut s = String::new();
        file.read_to_string(&mut s).unwrap();
        s
    }

    fn tempfile() -> std::fs::File {
        let p = std::env::temp_dir().join(format!(
            "husk-seccomp-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&p)
            .unwrap();
        let _ = std::fs::remove_file(&p);
        f
    }

    #[test]
    fn names_match_oci_spec() {
        for a in ACTIONS {
            let _: Act = serde_json::from_value(json!(a)).unwrap();
        }
        for o in OPERATORS {
            let _: Op = serde_json::from_value(json!(o)).unwrap();
        }
        for a in ARCHS {
            let _: Arch = serde_json::from_value(json!(a)).unwrap();
        }
        for f in FLAGS {
            let f: Flag = serde_json::from_value(json!(f)).unwrap();
            assert!(FLAGS.contains(&flag_name(f)));
        }
    }

    #[test]
    fn raw_check_names_the_field() {
        let cfg = |s: Value| json!({"linux": {"seccomp": s}});
        let err = |s: Value| format!("{:#}", validate_json(&cfg(s)).unwrap_err());
        assert_eq!(
            err(json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                {"names": ["a"], "action": "SCMP_ACT_ERRNO"},
                {"names": ["b"], "action": "SCMP_ACT_FOO"}]})),
            r#"linux.seccomp.syscalls[1].action: unknown action "SCMP_ACT_FOO""#
        );
        assert_eq!(
            err(json!({"defaultAction": "SCMP_ACT_NOPE"})),
            r#"linux.seccomp.defaultAction: unknown action "SCMP_ACT_NOPE""#
        );
        assert_eq!(
            err(
                json!({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_Z80"]})
            ),
            r#"linux.seccomp.architectures[1]: unknown architecture "SCMP_ARCH_Z80""#
        );
        assert_eq!(
            err(json!({"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_BOGUS"]})),
            r#"linux.seccomp.flags[0]: unknown flag "SECCOMP_FILTER_FLAG_BOGUS""#
        );
        assert_eq!(
            err(json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                {"names": ["a"], "action": "SCMP_ACT_ERRNO", "args": [
                    {"index": 0, "value": 1, "op": "SCMP_CMP_EQ"},
                    {"index": 1, "value": 1, "op": "SCMP_CMP_ALMOST"}]}]})),
            r#"linux.seccomp.syscalls[0].args[1].op: unknown operator "SCMP_CMP_ALMOST""#
        );
        assert!(validate_json(&json!({"linux": {}})).is_ok());
        assert!(validate_json(&cfg(json!({"defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_NATIVE"], "flags": FLAGS})))
        .is_ok());
    }

    #[test]
    fn validate_catches_bad_profiles() {
        let err = |v: Value| format!("{:#}", validate(&profile(v)).unwrap_err());
        assert!(err(json!({"defaultAction": "SCMP_ACT_NOTIFY"}))
            .starts_with("linux.seccomp.defaultAction: SCMP_ACT_NOTIFY"));
        assert!(err(json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
            {"names": ["getpid"], "action": "SCMP_ACT_ERRNO"},
            {"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]}))
        .starts_with(
            "linux.seccomp.listenerPath: required by SCMP_ACT_NOTIFY in linux.seccomp.syscalls[1]"
        ));
        assert!(err(
            json!({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/x",
            "syscalls": [{"names": ["write"], "action": "SCMP_ACT_NOTIFY"}]})
        )
        .starts_with("linux.seccomp.syscalls[0]: SCMP_ACT_NOTIFY cannot be used for the write"));
        assert!(err(
            json!({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/nonexistent/agent.sock",
            "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]})
        )
        .starts_with("linux.seccomp.listenerPath: /nonexistent/agent.sock: "));
        assert!(err(json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
            {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 6, "value": 0, "op": "SCMP_CMP_EQ"}]}]}))
        .starts_with("linux.seccomp.syscalls[0].args[0].index: 6 is out of range"));
        assert!(
            err(json!({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 70000}))
                .starts_with("linux.seccomp.defaultErrnoRet: 70000 is out of range")
        );
        assert!(err(json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": [], "action": "SCMP_ACT_ERRNO"}]}))
            .starts_with("linux.seccomp.syscalls[0].names: must not be empty"));
        // A listenerPath without a notify action is ignored, as by runc.
        assert!(validate(&profile(
            json!({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/nonexistent",
            "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}]})
        ))
        .is_ok());
    }

    #[test]
    fn build_translates_rules() {
        let f = Filter::build(&profile(json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
            "syscalls": [
                // Same action as the default: skipped.
                {"names": ["getpid"], "action": "SCMP_ACT_ALLOW"},
                // Unknown names: skipped.
                {"names": ["no_such_syscall", "mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 100},
                {"names": ["rmdir"], "action": "SCMP_ACT_ERRNO"},
                {"names": ["personality"], "action": "SCMP_ACT_KILL_PROCESS",
                 "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"},
                          {"index": 0, "value": 16, "op": "SCMP_CMP_EQ"}]},
                {"names": ["socket"], "action": "SCMP_ACT_TRAP",
                 "args": [{"index": 0, "value": 16, "op": "SCMP_CMP_EQ"},
                          {"index": 1, "value": 15, "valueTwo": 3, "op": "SCMP_CMP_MASKED_EQ"}]}
            ]
        })))
        .unwrap();
        let text = pfc(&f);
        assert!(text.contains("# filter for arch x86_64 "), "{text}");
        assert!(text.contains("# filter for arch x86 "), "{text}");
        assert!(
            text.contains("if ($syscall == 83)\n    action ERRNO(100);"),
            "{text}"
        );
        assert!(
            text.contains("if ($syscall == 84)\n    action ERRNO(1);"),
            "{text}"
        );
        // The same argument twice: two rules (OR).
        assert_eq!(text.matches("action KILL_PROCESS;").count(), 4, "{text}");
        // Different arguments: one rule (AND), value is the mask of MASKED_EQ.
        assert!(text.contains("if ($a0.lo32 == 16)\n        if ($a1.hi32 & 0x00000000 == 0)\n          if ($a1.lo32 & 0x0000000f == 3)\n            action TRAP;"), "{text}");
        assert!(!text.contains("getpid"), "{text}");
    }

    #[test]
    fn notify_filters_are_flagged() {
        let p = Program::compile(&profile(json!({"defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]})))
        .unwrap();
        assert!(p.notifies());
        assert_ne!(p.flags & FLAG_NEW_LISTENER, 0);
        assert_eq!(p.bpf.len() % 8, 0);
        // A notify rule for syscalls this libseccomp does not know adds no
        // rule, so no listener either (as libseccomp would decide).
        let p = Program::compile(&profile(json!({"defaultAction": "SCMP_ACT_ALLOW",
            "flags": ["SECCOMP_FILTER_FLAG_TSYNC"],
            "syscalls": [{"names": ["no_such_syscall"], "action": "SCMP_ACT_NOTIFY"}]})))
        .unwrap();
        assert!(!p.notifies());
        assert_eq!(p.flags, FLAG_TSYNC);
    }

    #[cfg(target_arch = "x86_64")]
    /// Runs the -ENOSYS stub on (arch, nr): Some(return value), or None
    /// when it falls through to libseccomp's program.
    fn run_stub(stub: &[u8], arch: u32, nr: u32) -> Option<u32> {
        let insns: Vec<(u16, u8, u8, u32)> = stub
            .chunks(8)
            .map(|c| {
                (
                    u16::from_ne_bytes([c[0], c[1]]),
                    c[2],
                    c[3],
                    u32::from_ne_bytes([c[4], c[5], c[6], c[7]]),
                )
            })
            .collect();
        let (mut pc, mut a) = (0usize, 0u32);
        while pc < insns.len() {
            let (code, jt, jf, k) = insns[pc];
            let skip = |cond: bool| usize::from(if cond { jt } else { jf });
            pc += 1 + match code {
                0x20 => {
                    a = if k == 4 { arch } else { nr };
                    0
                }
                0x05 => k as usize,
                0x15 => skip(a == k),
                0x25 => skip(a > k),
                0x45 => skip(a & k != 0),
                0x06 => return Some(k),
                c => panic!("unexpected opcode {c:#x}"),
            };
        }
        assert_eq!(pc, insns.len(), "jumped past the stub's end");
        None
    }

    #[test]
    #[cfg(target_arch = "x86_64")]
    fn enosys_stub_for_syscalls_newer_than_the_profile() {
        const X86_64: u32 = 0xC000_003E;
        const I386: u32 = 0x4000_0003;
        const ENOSYS: Option<u32> = Some(0x0005_0000 | libc::ENOSYS as u32);
        let nr =
            |n: &str, a: ScmpArch| i32::from(ScmpSyscall::from_name_by_arch(n, a).unwrap()) as u32;
        let p = profile(json!({"defaultAction": "SCMP_ACT_ERRNO",
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
            "syscalls": [{"names": ["read", "write", "openat", "no_such_syscall"], "action": "SCMP_ACT_ALLOW"}]}));
        let stub = enosys::stub(&p);
        let last = nr("openat", ScmpArch::X8664);
        assert_eq!(run_stub(&stub, X86_64, last), None);
        assert_eq!(run_stub(&stub, X86_64, 0), None);
        assert_eq!(run_stub(&stub, X86_64, last + 1), ENOSYS);
        assert_eq!(
            run_stub(&stub, X86_64, nr("clone3", ScmpArch::X8664)),
            ENOSYS
        );
        // i386 has its own numbers.
        let last32 = nr("openat", ScmpArch::X86);
        assert_eq!(run_stub(&stub, I386, last32), None);
        assert_eq!(run_stub(&stub, I386, last32 + 1), ENOSYS);
        // x32: x86_64's token, bit 30 set.
        let last_x32 = nr("openat", ScmpArch::X32);
        assert!(last_x32 & 0x4000_0000 != 0);
        assert_eq!(run_stub(&stub, X86_64, last_x32), None);
        assert_eq!(run_stub(&stub, X86_64, last_x32 + 1), ENOSYS);
        // Another architecture: the filter decides (bad arch action).
        assert_eq!(run_stub(&stub, 0xC000_00B7, 9999), None);

        // Only the native architecture listed: x32 numbers are not judged.
        let p = profile(json!({"defaultAction": "SCMP_ACT_KILL_PROCESS",
            "syscalls": [{"names": ["write"], "action": "SCMP_ACT_ALLOW"}]}));
        let stub = enosys::stub(&p);
        let write = nr("write", ScmpArch::X8664);
        assert_eq!(run_stub(&stub, X86_64, write), None);
        assert_eq!(run_stub(&stub, X86_64, write + 1), ENOSYS);
        assert_eq!(run_stub(&stub, X86_64, 0x4000_0000 | (write + 1)), None);

        // No stub when the default lets syscalls through or is ENOSYS.
        for d in [
            json!({"defaultAction": "SCMP_ACT_ALLOW"}),
            json!({"defaultAction": "SCMP_ACT_LOG"}),
            json!({"defaultAction": "SCMP_ACT_TRACE"}),
            json!({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": libc::ENOSYS}),
        ] {
            let mut v = d.clone();
            v["syscalls"] = json!([{"names": ["read"], "action": "SCMP_ACT_KILL"}]);
            assert!(enosys::stub(&profile(v)).is_empty(), "{d}");
        }
        // Nor when the profile names no syscall.
        assert!(enosys::stub(&profile(json!({"defaultAction": "SCMP_ACT_ERRNO"}))).is_empty());
    }

    #[test]
    fn process_state_shape() {
        let s = profile(json!({"defaultAction": "SCMP_ACT_ALLOW", "listenerMetadata": "bar"}));
        let v: Value =
            serde_json::from_str(&process_state(&s, 42, r#"{"id":"c","status":"creating"}"#))
                .unwrap();
        assert_eq!(v["fds"], json!(["seccompFd"]));
        assert_eq!(v["pid"], 42);
        assert_eq!(v["metadata"], "bar");
        assert_eq!(v["state"]["id"], "c");
        assert!(v["ociVersion"].is_string());
    }
}
