//! Build script: compile-time facts the tests need.

fn main() {
    not_root_cfg();
}

/// Emits `cfg(husk_not_root)` when the build runs as a user other than
/// root, so that the integration tests that need root are reported as
/// ignored (`#[cfg_attr(husk_not_root, ignore = "needs root")]`) instead of
/// passing without doing anything. The effective uid is read from
/// /proc/self/status (no libc in a build script). The script is rerun when
/// the user changes as sudo or su changes it (USER, SUDO_UID); a target
/// directory shared by root and a user gets rebuilt on every switch.
fn not_root_cfg() {
    println!("cargo::rustc-check-cfg=cfg(husk_not_root)");
    println!("cargo::rerun-if-changed=build.rs");
    for var in ["USER", "SUDO_UID", "UID", "LOGNAME"] {
        println!("cargo::rerun-if-env-changed={var}");
    }
    if euid() != Some(0) {
        println!("cargo::rustc-cfg=husk_not_root");
    }
}

/// The effective uid: the second field of the `Uid:` line of
/// /proc/self/status ("Uid:\treal\teffective\tsaved\tfs").
fn euid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}
