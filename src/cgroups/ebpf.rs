//! The cgroup v2 device filter: a BPF_PROG_TYPE_CGROUP_DEVICE program built
//! from the emulated rules (devices.rs) and attached to the container's
//! cgroup with BPF_F_ALLOW_MULTI, replacing any program husk attached
//! before.
//!
//! The program sees `struct bpf_cgroup_dev_ctx { u32 access_type; u32
//! major; u32 minor; }` where `access_type` is `(access << 16) | type`, and
//! returns 1 to allow, 0 to deny. Its shape:
//!
//! ```text
//!   r2 = type; r3 = access; r4 = major; r5 = minor
//!   for each exception:            (default deny)   (default allow)
//!       if r2 != type       goto next
//!       if access not covered goto next         if no access in common goto next
//!       if r4 != major      goto next              (only when not a wildcard)
//!       if r5 != minor      goto next
//!       return 1                                   return 0
//!   return default
//! ```

use super::devices::{Emulator, Exception, ACC_ALL};
use super::sys;
use anyhow::{Context, Result};
use std::os::fd::{AsFd, AsRawFd};
use std::path::Path;

const BPF_DEVCG_DEV_BLOCK: i32 = 1;
const BPF_DEVCG_DEV_CHAR: i32 = 2;

/// One `struct bpf_insn`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Insn {
    code: u8,
    /// dst_reg in the low nibble, src_reg in the high one.
    regs: u8,
    off: i16,
    imm: i32,
}

// Opcodes (linux/bpf_common.h, linux/bpf.h).
const LDX_MEM_W: u8 = 0x61; // BPF_LDX | BPF_MEM | BPF_W
const ALU32_AND_K: u8 = 0x54; // BPF_ALU | BPF_AND | BPF_K
const ALU32_RSH_K: u8 = 0x74; // BPF_ALU | BPF_RSH | BPF_K
const ALU32_MOV_K: u8 = 0xb4; // BPF_ALU | BPF_MOV | BPF_K
const ALU32_MOV_X: u8 = 0xbc; // BPF_ALU | BPF_MOV | BPF_X
const JMP_JEQ_K: u8 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
const JMP_JNE_K: u8 = 0x55; // BPF_JMP | BPF_JNE | BPF_K
const JMP_JSET_K: u8 = 0x45; // BPF_JMP | BPF_JSET | BPF_K
const JMP_EXIT: u8 = 0x95; // BPF_JMP | BPF_EXIT

fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn {
        code,
        regs: (dst & 0xf) | (src << 4),
        off,
        imm,
    }
}

/// An instruction that may jump to the end of its block.
struct Step {
    insn: Insn,
    to_next: bool,
}

fn step(code: u8, dst: u8, imm: i32) -> Step {
    Step {
        insn: insn(code, dst, 0, 0, imm),
        to_next: false,
    }
}

fn skip_if(code: u8, dst: u8, imm: i32) -> Step {
    Step {
        insn: insn(code, dst, 0, 0, imm),
        to_next: true,
    }
}

fn block(e: &Exception, default_allow: bool) -> Vec<Insn> {
    let typ = if e.typ == b'b' {
        BPF_DEVCG_DEV_BLOCK
    } else {
        BPF_DEVCG_DEV_CHAR
    };
    let mut s = vec![skip_if(JMP_JNE_K, 2, typ)];
    if e.access != ACC_ALL {
        if default_allow {
            // Deny exception: it applies when any requested bit is in it.
            s.push(Step {
                insn: insn(ALU32_MOV_X, 1, 3, 0, 0),
                to_next: false,
            });
            s.push(step(ALU32_AND_K, 1, e.access as i32));
            s.push(skip_if(JMP_JEQ_K, 1, 0));
        } else {
            // Allow exception: every requested bit must be in it.
            s.push(skip_if(JMP_JSET_K, 3, (!e.access & ACC_ALL) as i32));
        }
    }
    if let Some(m) = e.major {
        s.push(skip_if(JMP_JNE_K, 4, m as i32));
    }
    if let Some(m) = e.minor {
        s.push(skip_if(JMP_JNE_K, 5, m as i32));
    }
    s.push(step(ALU32_MOV_K, 0, if default_allow { 0 } else { 1 }));
    s.push(step(JMP_EXIT, 0, 0));
    let n = s.len();
    s.into_iter()
        .enumerate()
        .map(|(i, st)| {
            let mut ins = st.insn;
            if st.to_next {
                ins.off = (n - i - 1) as i16;
            }
            ins
        })
        .collect()
}

/// The program for an emulated rule set.
pub fn program(emu: &Emulator) -> Vec<Insn> {
    let mut p = vec![
        insn(LDX_MEM_W, 2, 1, 0, 0),
        insn(ALU32_AND_K, 2, 0, 0, 0xffff),
        insn(LDX_MEM_W, 3, 1, 0, 0),
        insn(ALU32_RSH_K, 3, 0, 0, 16),
        insn(LDX_MEM_W, 4, 1, 4, 0),
        insn(LDX_MEM_W, 5, 1, 8, 0),
    ];
    for e in &emu.exceptions {
        p.extend(block(e, emu.default_allow));
    }
    p.push(insn(ALU32_MOV_K, 0, 0, 0, emu.default_allow as i32));
    p.push(insn(JMP_EXIT, 0, 0, 0, 0));
    p
}

/// Load the program for `emu` and attach it to the cgroup `dir`, then
/// detach whatever device programs were attached there before (a cgroup
/// that is re-used, or a second `set`).
pub fn apply(dir: &Path, emu: &Emulator) -> Result<()> {
    let cg = std::fs::File::open(dir).with_context(|| format!("open {}", dir.display()))?;
    let old = sys::bpf_query_device_progs(cg.as_fd())
        .with_context(|| format!("query the device programs of {}", dir.display()))?;
    let insns = program(emu);
    // SAFETY-relevant layout: Insn is repr(C) and exactly struct bpf_insn.
    const _: () = assert!(std::mem::size_of::<Insn>() == 8);
    let prog = sys::bpf_load_device_prog(insns.as_ptr() as *const u8, insns.len())
        .context("load the cgroup device eBPF program")?;
    sys::bpf_attach_device_prog(cg.as_fd(), prog.as_fd())
        .with_context(|| format!("attach the device eBPF program to {}", dir.display()))?;
    for id in old {
        // A program that vanished meanwhile is fine.
        if let Ok(p) = sys::bpf_prog_fd_by_id(id) {
            sys::bpf_detach_device_prog(cg.as_fd(), p.as_fd()).with_context(|| {
                format!(
                    "detach the old device program {id} (fd {}) from {}",
                    p.as_raw_fd(),
                    dir.display()
                )
            })?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::devices::{Emulator, Exception, ACC_READ};

    /// Interpret the tiny instruction subset the generator uses.
    fn run(p: &[Insn], typ: u32, access: u32, major: u32, minor: u32) -> u64 {
        let ctx = [(access << 16) | typ, major, minor];
        let mut r = [0u64; 11];
        let mut pc = 0usize;
        loop {
            let i = p[pc];
            let (d, s) = ((i.regs & 0xf) as usize, (i.regs >> 4) as usize);
            let imm = i.imm as i64 as u64;
            let mut jump = false;
            match i.code {
                LDX_MEM_W => r[d] = ctx[i.off as usize / 4] as u64,
                ALU32_AND_K => r[d] = (r[d] as u32 & i.imm as u32) as u64,
                ALU32_RSH_K => r[d] = ((r[d] as u32) >> i.imm) as u64,
                ALU32_MOV_K => r[d] = i.imm as u32 as u64,
                ALU32_MOV_X => r[d] = r[s] as u32 as u64,
                JMP_JEQ_K => jump = r[d] == imm,
                JMP_JNE_K => jump = r[d] != imm,
                JMP_JSET_K => jump = r[d] & imm != 0,
                JMP_EXIT => return r[0],
                c => panic!("opcode {c:#x}"),
            }
            pc += 1;
            if jump {
                pc += i.off as usize;
            }
        }
    }

    #[test]
    fn program_matches_emulator() {
        let mut emu = Emulator::new();
        for rule in crate::cgroups::devices::rules(None).unwrap() {
            emu.apply(&rule);
        }
        let deny_list = Emulator {
            default_allow: true,
            exceptions: vec![Exception {
                typ: b'c',
                major: Some(1),
                minor: None,
                access: ACC_READ,
            }],
        };
        for e in [emu, deny_list] {
            let p = program(&e);
            for typ in [b'b', b'c'] {
                for (major, minor) in [(1, 3), (1, 9), (1, 11), (5, 2), (136, 4), (8, 0)] {
                    for access in 1..=7u8 {
                        let t = if typ == b'b' { 1 } else { 2 };
                        let got = run(&p, t, access as u32, major, minor) == 1;
                        assert_eq!(
                            got,
                            e.allows(typ, major, minor, access),
                            "{} {major}:{minor} access {access}",
                            typ as char
                        );
                    }
                }
            }
        }
    }
}
