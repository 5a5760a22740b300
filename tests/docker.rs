//! Docker running the runtime under test from the README's configuration
//! (tests/docker.sh: private daemons and directories, `--network none`, a
//! locally built busybox image; about 15 s).

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use common::*;

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn docker_from_the_readme_configuration() {
    if !require_root() {
        return;
    }
    let script = repo_dir().join("tests/docker.sh");
    let dir = PathBuf::from(TEST_BASE).join(format!("docker-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // timeout(1) sends SIGTERM first: the script's trap then stops its
    // daemons and removes what it made.
    let mut cmd = Command::new("timeout");
    cmd.args(["-k", "30", "100"])
        .arg(&script)
        .arg(runtime_path());
    let out = run_with_timeout(
        cmd,
        &dir.join("out"),
        &dir.join("err"),
        Duration::from_secs(150),
    );
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir(TEST_BASE);
    let text = format!("{}{}", stdout_str(&out), stderr_str(&out));
    if out.status.code() == Some(3) && text.contains("skip:") {
        eprintln!("skipped: {text}");
        return;
    }
    let last = text
        .lines()
        .rev()
        .find(|l| l.ends_with(" failed"))
        .unwrap_or_default();
    assert!(
        last.ends_with(" passed, 0 failed") && !last.starts_with("0 "),
        "status {}:\n{text}",
        out.status
    );
    assert!(!text.lines().any(|l| l.starts_with("FAIL ")), "{text}");
    assert!(out.status.success(), "{text}");
}
