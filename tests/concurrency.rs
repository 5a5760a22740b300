//! Concurrency: many containers driven by parallel runtime processes, and
//! concurrent commands on one container, serialised by the state lock.

mod common;

use common::*;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn rt(root: &Path, args: &[&str]) -> Output {
    // Files, not pipes: a created container's init inherits the runtime's
    // stdout and stderr and would hold a pipe open.
    static SEQ: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = SEQ.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let logs = root.parent().unwrap().join("logs");
    let _ = std::fs::create_dir_all(&logs);
    let mut cmd = Command::new(runtime());
    cmd.arg("--root").arg(root).args(args);
    run_with_timeout(
        cmd,
        &logs.join(format!("c{n}.out")),
        &logs.join(format!("c{n}.err")),
        COMMAND_TIMEOUT,
    )
}

/// One bundle per container (own cgroupsPath), all sharing one rootfs.
fn bundles(fx: &Fixture, n: usize, args: &[&str]) -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    for i in 0..n {
        let id = fx.new_id(&format!("c{i}"));
        let dir = fx.dir.join(format!("b{i}"));
        std::fs::create_dir_all(&dir).unwrap();
        let mut cfg = fx.config();
        cfg["root"]["path"] = json!(fx.rootfs.to_str().unwrap());
        cfg["process"]["args"] = json!(args);
        cfg["linux"]["cgroupsPath"] = json!(format!("/husk-test/{id}"));
        std::fs::write(
            dir.join("config.json"),
            serde_json::to_string(&cfg).unwrap(),
        )
        .unwrap();
        out.push((id, dir));
    }
    out
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn hundred_containers_in_parallel() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("par100");
    fx.write_config();
    let list = bundles(&fx, 100, &["sleep", "1000"]);
    let root = fx.root.clone();
    let workers = 8;
    let chunks: Vec<Vec<(String, PathBuf)>> = (0..workers)
        .map(|w| list.iter().skip(w).step_by(workers).cloned().collect())
        .collect();
    let handles: Vec<_> = chunks
        .into_iter()
        .map(|chunk| {
            let root = root.clone();
            std::thread::spawn(move || {
                let mut errors = Vec::new();
                for (id, dir) in &chunk {
                    for args in [
                        vec!["create", "--bundle", dir.to_str().unwrap(), id.as_str()],
                        vec!["start", id.as_str()],
                    ] {
                        let out = rt(&root, &args);
                        if !out.status.success() {
                            errors.push(format!("{args:?}: {}", describe(&out)));
                        }
                    }
                }
                for (id, _) in &chunk {
                    for args in [
                        vec!["kill", id.as_str(), "KILL"],
                        vec!["delete", "--force", id.as_str()],
                    ] {
                        let out = rt(&root, &args);
                        if !out.status.success() {
                            errors.push(format!("{args:?}: {}", describe(&out)));
                        }
                    }
                }
                errors
            })
        })
        .collect();
    let errors: Vec<String> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    assert!(
        errors.is_empty(),
        "{} failures, first: {}",
        errors.len(),
        errors[0]
    );
    for (id, _) in &list {
        assert_nothing_left(&fx, id);
    }
    let left = rt(&root, &["list", "-q"]);
    assert!(
        stdout_str(&left).trim().is_empty(),
        "list: {}",
        stdout_str(&left)
    );
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn two_starts_one_wins() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("twostart");
    fx.set_args(&["sleep", "1000"]);
    fx.create();
    let root = fx.root.clone();
    let id = fx.id.clone();
    let a = {
        let (root, id) = (root.clone(), id.clone());
        std::thread::spawn(move || rt(&root, &["start", &id]))
    };
    let b = rt(&root, &["start", &id]);
    let a = a.join().unwrap();
    let ok = [a.status.success(), b.status.success()]
        .iter()
        .filter(|s| **s)
        .count();
    assert_eq!(
        ok,
        1,
        "exactly one start must win:\n{}\n{}",
        describe(&a),
        describe(&b)
    );
    let loser = if a.status.success() { &b } else { &a };
    assert!(stderr_str(loser).contains("running"), "{}", describe(loser));
    fx.run_ok(&["delete", "--force", &fx.id]);
    assert_nothing_left(&fx, &fx.id);
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn delete_during_create_is_serialised() {
    if !require_root() {
        return;
    }
    let fx = Fixture::new("delcreate");
    fx.set_args(&["sleep", "1000"]);
    fx.write_config();
    let root = fx.root.clone();
    let (id, bundle) = (fx.id.clone(), fx.bundle.clone());
    let creator = std::thread::spawn(move || {
        rt(
            &root,
            &["create", "--bundle", bundle.to_str().unwrap(), &id],
        )
    });
    // Race a delete --force against the create, many times over its course.
    let mut deleted = false;
    for _ in 0..200 {
        let out = fx.husk(&["delete", "--force", &fx.id]);
        assert!(out.status.success(), "delete --force: {}", describe(&out));
        if fx.state_dir(&fx.id).exists() {
            continue;
        }
        if creator.is_finished() {
            deleted = true;
            break;
        }
    }
    let c = creator.join().unwrap();
    if !deleted {
        fx.run_ok(&["delete", "--force", &fx.id]);
    }
    // Whatever the interleaving, create either succeeded (then delete removed
    // it) or failed cleanly; nothing is left.
    let _ = c;
    fx.run_ok(&["delete", "--force", &fx.id]);
    assert_nothing_left(&fx, &fx.id);
}
