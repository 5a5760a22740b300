//! Build script: facts about the build that the binaries print (the
//! commit) and that the tests need (whether the build runs as root).

fn main() {
    commit();
    not_root_cfg();
}

/// The `commit:` line of `husk --version` (`HUSK_COMMIT` at compile time):
/// `$HUSK_COMMIT` when set and not empty (for builds outside git, e.g. from
/// a source tarball), else `git rev-parse HEAD` of the repository this
/// package is the top of, with `-dirty` when the files the build reads
/// differ from HEAD, else `unknown`. Cargo reruns it when HEAD moves (a
/// commit, a checkout, in a worktree too), when those files change and
/// when `$HUSK_COMMIT` does; not for other files (README, tests), so
/// committing or staging them does not rebuild husk.
fn commit() {
    use std::path::Path;
    use std::process::Command;
    // What the build reads: a change here may change the binaries.
    const INPUTS: [&str; 5] = ["build.rs", "src", "vendor", "Cargo.toml", "Cargo.lock"];

    let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into());
    // One git command's trimmed stdout, None when git is missing or fails.
    let git = |args: &[&str]| -> Option<String> {
        let out = Command::new("git")
            .arg("-C")
            .arg(&dir)
            .args(args)
            .output()
            .ok()?;
        if !out.status.success() {
            return None;
        }
        Some(String::from_utf8_lossy(&out.stdout).trim().to_string())
    };

    println!("cargo:rerun-if-env-changed=HUSK_COMMIT");
    for p in INPUTS {
        println!("cargo:rerun-if-changed={p}");
    }
    if let Ok(c) = std::env::var("HUSK_COMMIT") {
        if !c.is_empty() {
            println!("cargo:rustc-env=HUSK_COMMIT={c}");
            return;
        }
    }

    // Only the repository whose top is this package: not one it happens to
    // be copied into (a distribution's source tree).
    let top = git(&["rev-parse", "--show-toplevel"]);
    let ours = match (top, Path::new(&dir).canonicalize()) {
        (Some(top), Ok(dir)) => Path::new(&top).canonicalize().is_ok_and(|t| t == dir),
        _ => false,
    };
    let head = if ours {
        git(&["rev-parse", "HEAD"])
    } else {
        None
    };
    let Some(head) = head.filter(|h| !h.is_empty()) else {
        println!("cargo:rustc-env=HUSK_COMMIT=unknown");
        return;
    };
    // What moves HEAD: HEAD itself (per worktree), the branch it names (in
    // the common directory), packed-refs.
    let mut watch = vec!["HEAD".to_string(), "packed-refs".into()];
    if let Some(r) = git(&["symbolic-ref", "-q", "HEAD"]) {
        watch.push(r);
    }
    for w in watch {
        // (Only paths that exist: cargo reruns for a missing one every time.)
        let path = git(&["rev-parse", "--path-format=absolute", "--git-path", &w]);
        if let Some(p) = path.filter(|p| Path::new(p).exists()) {
            println!("cargo:rerun-if-changed={p}");
        }
    }
    // --no-optional-locks: status must not rewrite the index.
    let mut status = vec![
        "--no-optional-locks",
        "status",
        "--porcelain",
        "--untracked-files=no",
        "--",
    ];
    status.extend(INPUTS);
    let dirty = git(&status).is_some_and(|s| !s.is_empty());
    let suffix = if dirty { "-dirty" } else { "" };
    println!("cargo:rustc-env=HUSK_COMMIT={head}{suffix}");
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
