//! Build script: facts about the build that the binaries print.

fn main() {
    commit();
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
