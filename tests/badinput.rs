//! The table of bad inputs. Each row hands husk one bad input (a config, an
//! id, a state directory, a command line) and states the exact error line
//! husk must print (paths shown as `<bundle>`, `<root>`, `<dir>`, the
//! container id as `<id>`). Every failing row must exit non-zero with that
//! one line on stderr and leave nothing behind: no state directory, cgroup,
//! process or mount. A few rows are inputs husk accepts, as runc does
//! (unknown fields, a huge config, `..` that stays inside the rootfs).
//!
//! `HUSK_BADINPUT_TABLE=FILE` writes the rows with what the runtime said
//! (tests/badinput-table.sh runs husk and runc and makes README's table);
//! `HUSK_BADINPUT_PRINT=1` prints what the runtime said for every row.

mod common;

use std::ffi::{OsStr, OsString};
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::symlink;
use std::path::Path;
use std::process::{Command, Output};

use common::*;
use serde_json::json;

/// What a row expects.
enum Expect {
    /// Non-zero exit and exactly this line on stderr.
    Error(&'static str),
    /// Success (the input is odd but valid, as for runc).
    Accepted,
}

type AfterFn = Box<dyn Fn(&Fixture)>;

struct Case {
    /// Short name, for failures.
    name: &'static str,
    /// The bad input, for the table.
    input: &'static str,
    /// Prepares the fixture and runs husk; returns its output.
    run: Box<dyn Fn(&Fixture) -> Output>,
    expect: Expect,
    /// Undoes what the row did to an existing container, before the
    /// nothing-left check (e.g. restores a state.json it broke).
    after: Option<AfterFn>,
}

/// Runs husk with `--root` and arguments that need not be UTF-8.
fn husk_os(fx: &Fixture, args: &[&OsStr]) -> Output {
    let mut cmd = Command::new(runtime());
    cmd.arg("--root").arg(&fx.root).args(args);
    let logs = fx.dir.join("logs");
    let _ = fs::create_dir_all(&logs);
    run_with_timeout(
        cmd,
        &logs.join("os.out"),
        &logs.join("os.err"),
        COMMAND_TIMEOUT,
    )
}

/// `create` of the fixture's container with config.json replaced by `text`.
fn create_with_text(fx: &Fixture, text: &[u8]) -> Output {
    fx.write_config();
    fs::write(fx.config_path(), text).unwrap();
    fx.husk(&["create", "--bundle", fx.bundle_str(), &fx.id])
}

/// `create` of the fixture's container after `edit` changed its config.
fn create_with(fx: &Fixture, edit: impl Fn(&mut serde_json::Value)) -> Output {
    edit(&mut fx.config_mut());
    fx.husk(&["create", "--bundle", fx.bundle_str(), &fx.id])
}

/// The config joins the network namespace at `path` instead of making one.
fn join_netns(c: &mut serde_json::Value, path: &str) {
    let ns = c["linux"]["namespaces"].as_array_mut().unwrap();
    ns.retain(|n| n["type"] != "network");
    ns.push(json!({"type": "network", "path": path}));
}

/// A created container whose state.json is then replaced by `text`.
fn with_state_json(fx: &Fixture, text: &str, args: &[&str]) -> Output {
    fx.set_args(&["sleep", "100"]);
    fx.create();
    let p = fx.state_dir(&fx.id).join("state.json");
    fs::copy(&p, fx.dir.join("state.json.good")).unwrap();
    fs::write(&p, text).unwrap();
    fx.husk(args)
}

fn restore_state(fx: &Fixture) {
    let good = fx.dir.join("state.json.good");
    // (runc removes a state dir it cannot read.)
    if fx.state_dir(&fx.id).is_dir() {
        fs::copy(&good, fx.state_dir(&fx.id).join("state.json")).unwrap();
        delete_force(fx);
    }
}

fn delete_force(fx: &Fixture) {
    let out = fx.husk(&["delete", "--force", &fx.id]);
    assert!(out.status.success(), "delete --force:\n{}", describe(&out));
}

/// A running container (`sleep 1000`).
fn running(fx: &Fixture) {
    fx.start_sleeper();
}

/// The process of the foreign-process row, killed by its `after`.
static FOREIGN: std::sync::Mutex<Option<std::process::Child>> = std::sync::Mutex::new(None);

/// A tmpfs with no room left, unmounted when dropped.
struct FullDisk(std::path::PathBuf);

impl FullDisk {
    fn new(at: &Path) -> FullDisk {
        fs::create_dir_all(at).unwrap();
        let out = host_cmd(&[
            "mount",
            "-t",
            "tmpfs",
            "-o",
            "size=8k,nr_inodes=64",
            "husk-full",
            at.to_str().unwrap(),
        ]);
        assert!(out.status.success(), "mount tmpfs: {}", describe(&out));
        let full = FullDisk(at.to_path_buf());
        // Fill it: the write stops at ENOSPC.
        let _ = fs::write(at.join("fill"), vec![0u8; 64 << 10]);
        full
    }
}

impl Drop for FullDisk {
    fn drop(&mut self) {
        let _ = host_cmd(&["umount", "-l", self.0.to_str().unwrap()]);
    }
}

fn cases() -> Vec<Case> {
    let mut v: Vec<Case> = Vec::new();
    macro_rules! case {
        ($name:expr, $input:expr, $expect:expr, $run:expr) => {
            v.push(Case {
                name: $name,
                input: $input,
                run: Box::new($run),
                expect: $expect,
                after: None,
            })
        };
        ($name:expr, $input:expr, $expect:expr, $run:expr, after $after:expr) => {
            v.push(Case {
                name: $name,
                input: $input,
                run: Box::new($run),
                expect: $expect,
                after: Some(Box::new($after)),
            })
        };
    }
    use Expect::*;

    // --- malformed JSON ---------------------------------------------------
    case!(
        "empty-config",
        "config.json empty",
        Error("parse config <bundle>/config.json: EOF while parsing a value at line 1 column 0"),
        |fx| create_with_text(fx, b"")
    );
    case!(
        "truncated-config",
        "config.json cut short: `{\"ociVersion\": \"1.0.2\", \"process\": {`",
        Error("parse config <bundle>/config.json: EOF while parsing an object at line 1 column 36"),
        |fx| create_with_text(fx, br#"{"ociVersion": "1.0.2", "process": {"#)
    );
    case!(
        "array-config",
        "config.json is `[]`",
        Error("parse config <bundle>/config.json: expected a JSON object, found an array"),
        |fx| create_with_text(fx, b"[]")
    );
    case!(
        "null-config",
        "config.json is `null`",
        Error("parse config <bundle>/config.json: expected a JSON object, found null"),
        |fx| create_with_text(fx, b"null")
    );
    case!(
        "trailing-garbage",
        "valid config followed by `x`",
        Error("parse config <bundle>/config.json: trailing characters at line 1 column 25"),
        |fx| create_with_text(fx, br#"{"ociVersion": "1.0.2"} x"#)
    );
    case!(
        "deep-nesting",
        "100,000 nested arrays",
        Error("parse config <bundle>/config.json: recursion limit exceeded at line 1 column 143"),
        |fx| {
            let mut t = b"{\"annotations\": ".to_vec();
            t.extend(std::iter::repeat_n(b'[', 100_000));
            t.extend(std::iter::repeat_n(b']', 100_000));
            t.push(b'}');
            create_with_text(fx, &t)
        }
    );
    case!(
        "non-utf8-string",
        "byte 0xff inside a string",
        Error("parse config <bundle>/config.json: invalid unicode code point at line 1 column 39"),
        |fx| create_with_text(fx, b"{\"ociVersion\": \"1.0.2\", \"hostname\": \"a\xffb\"}")
    );
    case!(
        "lone-surrogate",
        "`\\ud800` escape with no low surrogate",
        Error(
            "parse config <bundle>/config.json: unexpected end of hex escape at line 1 column 45"
        ),
        |fx| create_with_text(fx, br#"{"ociVersion": "1.0.2", "hostname": "a\ud800b"}"#)
    );
    case!(
        "huge-config",
        "64 MiB config.json (an 8 MiB annotation, 56 MiB of blanks)",
        Accepted,
        |fx| {
            fx.set_args(&["true"]);
            fx.config_mut()["annotations"] = json!({ "big": "x".repeat(8 << 20) });
            fx.write_config();
            let mut t = fs::read(fx.config_path()).unwrap();
            t.resize(64 << 20, b' ');
            fs::write(fx.config_path(), &t).unwrap();
            let out = fx.husk(&["create", "--bundle", fx.bundle_str(), &fx.id]);
            if out.status.success() {
                delete_force(fx);
            }
            out
        }
    );

    // --- wrong types, missing and unknown fields ---------------------------
    case!(
        "process-number",
        "`\"process\": 5`",
        Error(
            "parse config <bundle>/config.json: process: invalid type: integer `5`, expected struct Process"
        ),
        |fx| create_with(fx, |c| c["process"] = json!(5))
    );
    case!(
        "args-string",
        "`\"args\": \"sh\"`",
        Error(
            "parse config <bundle>/config.json: process.args: invalid type: string \"sh\", expected a sequence"
        ),
        |fx| create_with(fx, |c| c["process"]["args"] = json!("sh"))
    );
    case!(
        "uid-string",
        "`\"uid\": \"0\"`",
        Error("parse config <bundle>/config.json: process.user.uid: invalid type: string \"0\", expected u32"),
        |fx| create_with(fx, |c| c["process"]["user"]["uid"] = json!("0"))
    );
    case!(
        "uid-negative",
        "`\"uid\": -1`",
        Error("parse config <bundle>/config.json: process.user.uid: invalid value: integer `-1`, expected u32"),
        |fx| create_with(fx, |c| c["process"]["user"]["uid"] = json!(-1))
    );
    case!(
        "uid-too-big",
        "`\"uid\": 4294967296`",
        Error(
            "parse config <bundle>/config.json: process.user.uid: invalid value: integer `4294967296`, expected u32"
        ),
        |fx| create_with(fx, |c| c["process"]["user"]["uid"] = json!(4294967296u64))
    );
    case!(
        "no-root",
        "no `root`",
        Error("config.json: root is missing"),
        |fx| create_with(fx, |c| {
            c.as_object_mut().unwrap().remove("root");
        })
    );
    case!(
        "no-process",
        "no `process`",
        Error("config.json: process is missing"),
        |fx| create_with(fx, |c| {
            c.as_object_mut().unwrap().remove("process");
        })
    );
    case!(
        "empty-args",
        "`\"args\": []`",
        Error("process.args must not be empty"),
        |fx| create_with(fx, |c| c["process"]["args"] = json!([]))
    );
    case!(
        "relative-cwd",
        "`\"cwd\": \"tmp\"`",
        Error("process.cwd tmp must be an absolute path"),
        |fx| create_with(fx, |c| c["process"]["cwd"] = json!("tmp"))
    );
    case!(
        "unknown-namespace",
        "namespace type `bogus`",
        Error("parse config <bundle>/config.json: linux.namespaces[5].type: unknown variant `bogus`, expected one of `mount`, `cgroup`, `uts`, `ipc`, `user`, `pid`, `network`, `time`"),
        |fx| create_with(fx, |c| {
            c["linux"]["namespaces"].as_array_mut().unwrap().push(json!({"type": "bogus"}))
        })
    );
    case!(
        "duplicate-namespace",
        "`pid` namespace listed twice",
        Error("linux.namespaces: duplicate namespace pid"),
        |fx| create_with(fx, |c| {
            c["linux"]["namespaces"]
                .as_array_mut()
                .unwrap()
                .push(json!({"type": "pid"}))
        })
    );
    case!(
        "namespace-path-missing",
        "namespace `path` that does not exist",
        Error("linux.namespaces: net path /nonexistent/ns does not exist"),
        |fx| create_with(fx, |c| join_netns(c, "/nonexistent/ns"))
    );
    case!(
        "namespace-path-not-ns",
        "namespace `path` that is a plain file",
        Error("setns net (linux.namespaces): EINVAL: Invalid argument"),
        |fx| create_with(fx, |c| join_netns(c, "/etc/hostname"))
    );
    case!(
        "mount-no-destination",
        "a mount without `destination`",
        Error("parse config <bundle>/config.json: mounts[7]: missing field `destination`"),
        |fx| create_with(fx, |c| {
            c["mounts"]
                .as_array_mut()
                .unwrap()
                .push(json!({"type": "tmpfs", "source": "tmpfs"}))
        })
    );
    case!(
        "mount-relative",
        "mount destination `rel`",
        Error("mounts: destination rel must be an absolute path"),
        |fx| create_with(fx, |c| {
            c["mounts"]
                .as_array_mut()
                .unwrap()
                .push(json!({"destination": "rel", "type": "tmpfs", "source": "tmpfs"}))
        })
    );
    case!(
        "bind-source-missing",
        "bind mount of a missing source",
        Error("mount /mnt: bind source /nonexistent: No such file or directory (os error 2)"),
        |fx| create_with(fx, |c| {
            c["mounts"].as_array_mut().unwrap().push(json!({"destination": "/mnt", "type": "bind", "source": "/nonexistent", "options": ["bind"]}))
        })
    );
    case!(
        "failing-hook",
        "a `createRuntime` hook that prints and exits 3",
        Error("createRuntime hook #0 (/bin/sh): exit status: 3, stderr: bad hook"),
        |fx| create_with(fx, |c| {
            c["hooks"] = json!({"createRuntime": [{"path": "/bin/sh", "args": ["sh", "-c", "echo bad hook >&2; exit 3"]}]})
        })
    );
    case!(
        "missing-executable",
        "`args` naming no file",
        Error("exec: \"/nonexistent\": stat /nonexistent: no such file or directory"),
        |fx| create_with(fx, |c| c["process"]["args"] = json!(["/nonexistent"]))
    );
    case!(
        "nul-in-args",
        "NUL byte in `args[0]`",
        Error("exec: \"tr\\0ue\": executable file not found in $PATH"),
        |fx| create_with(fx, |c| c["process"]["args"] = json!(["tr\u{0}ue"]))
    );
    case!(
        "unknown-fields",
        "unknown fields at the top and in `process`",
        Accepted,
        |fx| {
            let out = create_with(fx, |c| {
                c["x-unknown"] = json!({"a": 1});
                c["process"]["x-unknown"] = json!(2);
            });
            if out.status.success() {
                delete_force(fx);
            }
            out
        }
    );

    // --- paths with .. ------------------------------------------------------
    case!(
        "cgroups-path-dotdot",
        "`cgroupsPath` `/../../x`",
        Error("linux.cgroupsPath: \"/../../x\" must not contain '..'"),
        |fx| create_with(fx, |c| c["linux"]["cgroupsPath"] = json!("/../../x"))
    );
    case!(
        "mount-dotdot",
        "mount destination `/../../../tmp/<id>-escape` (stays in the rootfs)",
        Accepted,
        |fx| {
            let dest = format!("/../../../tmp/{}-escape", fx.id);
            let out = create_with(fx, |c| {
                c["mounts"]
                    .as_array_mut()
                    .unwrap()
                    .push(json!({"destination": dest, "type": "tmpfs", "source": "tmpfs"}))
            });
            let host = format!("/tmp/{}-escape", fx.id);
            assert!(
                !Path::new(&host).exists(),
                "mount escaped the rootfs to {host}"
            );
            assert!(fx
                .rootfs
                .join("tmp")
                .join(format!("{}-escape", fx.id))
                .is_dir());
            if out.status.success() {
                delete_force(fx);
            }
            out
        }
    );
    case!(
        "device-dotdot",
        "`linux.devices` path `/dev/../etc/x`",
        Error("linux.devices: /dev/../etc/x: '..' is not allowed in a device path"),
        |fx| create_with(fx, |c| {
            c["linux"]["devices"] =
                json!([{"path": "/dev/../etc/x", "type": "c", "major": 1, "minor": 3}])
        })
    );
    case!(
        "rootfs-dotdot",
        "`root.path` `../bundle/rootfs`",
        Accepted,
        |fx| {
            let out = create_with(fx, |c| c["root"]["path"] = json!("../bundle/rootfs"));
            if out.status.success() {
                delete_force(fx);
            }
            out
        }
    );
    case!(
        "state-cgroup-dotdot",
        "state.json whose `cgroup_path` has `..`, then `delete --force`",
        Error("parse <root>/<id>/state.json: cgroup_path \"/../../x\" has a .. component"),
        |fx| {
            fx.set_args(&["sleep", "100"]);
            fx.create();
            let p = fx.state_dir(&fx.id).join("state.json");
            fs::copy(&p, fx.dir.join("state.json.good")).unwrap();
            let mut st: serde_json::Value =
                serde_json::from_slice(&fs::read(&p).unwrap()).unwrap();
            st["cgroup_path"] = json!("/../../x");
            fs::write(&p, st.to_string()).unwrap();
            fx.husk(&["delete", "--force", &fx.id])
        },
        after restore_state
    );

    // --- the rootfs and the bundle ----------------------------------------
    case!(
        "rootfs-missing",
        "`root.path` that does not exist",
        Error("root.path: rootfs <bundle>/nope does not exist: No such file or directory (os error 2)"),
        |fx| create_with(fx, |c| c["root"]["path"] = json!("nope"))
    );
    case!(
        "rootfs-file",
        "`root.path` a file",
        Error("root.path: rootfs <bundle>/config.json is not a directory"),
        |fx| create_with(fx, |c| c["root"]["path"] = json!("config.json"))
    );
    case!(
        "rootfs-symlink",
        "`root.path` a symlink to the rootfs",
        Error("root.path: rootfs <bundle>/link is a symlink or passes through one (resolves to <bundle>/rootfs)"),
        |fx| {
            symlink("rootfs", fx.bundle.join("link")).unwrap();
            create_with(fx, |c| c["root"]["path"] = json!("link"))
        }
    );
    case!(
        "bundle-missing",
        "`--bundle` that does not exist",
        Error("read config <dir>/nope/config.json: No such file or directory (os error 2)"),
        |fx| {
            let b = fx.dir.join("nope");
            fx.husk(&["create", "--bundle", b.to_str().unwrap(), &fx.id])
        }
    );
    case!(
        "bundle-file",
        "`--bundle` a file",
        Error("read config <bundle>/config.json/config.json: Not a directory (os error 20)"),
        |fx| {
            fx.write_config();
            let b = fx.config_path();
            fx.husk(&["create", "--bundle", b.to_str().unwrap(), &fx.id])
        }
    );
    case!(
        "no-config",
        "bundle without config.json",
        Error("read config <bundle>/config.json: No such file or directory (os error 2)"),
        |fx| {
            fx.write_config();
            fs::remove_file(fx.config_path()).unwrap();
            fx.husk(&["create", "--bundle", fx.bundle_str(), &fx.id])
        }
    );

    // --- hostile ids --------------------------------------------------------
    for (name, input, id, msg) in [
        ("id-empty", "id ``", "", "invalid container id format: \"\""),
        (
            "id-dot",
            "id `.`",
            ".",
            "invalid container id format: \".\"",
        ),
        (
            "id-dotdot",
            "id `..`",
            "..",
            "invalid container id format: \"..\"",
        ),
        (
            "id-escape",
            "id `../x`",
            "../x",
            "invalid container id format: \"../x\"",
        ),
        (
            "id-slash",
            "id `a/b`",
            "a/b",
            "invalid container id format: \"a/b\"",
        ),
        (
            "id-space",
            "id `a b`",
            "a b",
            "invalid container id format: \"a b\"",
        ),
        (
            "id-newline",
            "id `a\\nb`",
            "a\nb",
            "invalid container id format: \"a\\nb\"",
        ),
        ("id-dash", "id `-x` (after `--`)", "-x", ""),
    ] {
        let expect = if msg.is_empty() { Accepted } else { Error(msg) };
        case!(name, input, expect, move |fx| {
            fx.set_args(&["true"]);
            fx.track_id(id);
            let out = fx.husk(&["create", "--bundle", fx.bundle_str(), "--", id]);
            if out.status.success() {
                let d = fx.husk(&["delete", "--force", "--", id]);
                assert!(d.status.success(), "delete {id}:\n{}", describe(&d));
            }
            out
        });
    }
    case!(
        "id-long",
        "id of 1,100 characters",
        Error("invalid container id: 1100 bytes long, at most 255 allowed"),
        |fx| {
            let id = "x".repeat(1100);
            fx.husk(&["create", "--bundle", fx.bundle_str(), &id])
        }
    );
    case!(
        "id-name-too-long",
        "id of 256 characters (longer than a file name)",
        Error("invalid container id: 256 bytes long, at most 255 allowed"),
        |fx| {
            let id = "x".repeat(256);
            fx.husk(&["create", "--bundle", fx.bundle_str(), &id])
        }
    );
    case!(
        "id-non-utf8",
        "id with byte 0xff",
        Error("invalid argument \"a\\xFFb\": not valid UTF-8"),
        |fx| {
            let id = OsStr::from_bytes(b"a\xffb");
            fx.write_config();
            let b = OsString::from(fx.bundle_str());
            husk_os(fx, &[OsStr::new("create"), OsStr::new("--bundle"), &b, id])
        }
    );

    // --- the state directory ----------------------------------------------
    case!(
        "root-is-file",
        "`--root` a file",
        Error("--root <dir>/state-file: not a directory"),
        |fx| {
            let f = fx.dir.join("state-file");
            fs::write(&f, "").unwrap();
            let f = f.to_str().unwrap();
            fx.husk_raw(&["--root", f, "create", "--bundle", fx.bundle_str(), &fx.id])
        }
    );
    case!(
        "root-full",
        "`--root` on a full file system",
        Error("write <dir>/full/<id>/state.json: No space left on device (os error 28)"),
        |fx| {
            let at = fx.dir.join("full");
            let _full = FullDisk::new(&at);
            fx.set_args(&["sleep", "100"]);
            let root = at.to_str().unwrap();
            let out = fx.husk_raw(&[
                "--root",
                root,
                "create",
                "--bundle",
                fx.bundle_str(),
                &fx.id,
            ]);
            let left: Vec<_> = fs::read_dir(&at)
                .unwrap()
                .flatten()
                .map(|e| e.file_name())
                .collect();
            assert_eq!(
                left,
                vec![OsString::from("fill")],
                "left on the full --root"
            );
            out
        }
    );
    case!(
        "foreign-process-in-cgroup",
        "a process from outside moved into the container's cgroup, then `delete --force`",
        Error("remove cgroup <cgroup>: still in use by process(es) [<pid>]"),
        |fx| {
            running(fx);
            let child = Command::new("sleep").arg("100").spawn().unwrap();
            let pid = child.id().to_string();
            *FOREIGN.lock().unwrap() = Some(child);
            let mut dirs = cgroup_dirs_of(&fx.id);
            dirs.sort();
            for d in &dirs {
                let _ = fs::write(d.join("cgroup.procs"), &pid);
            }
            let mut out = fx.husk(&["delete", "--force", &fx.id]);
            // The state stays, for a later delete to finish the job.
            if is_husk() {
                assert!(fx.state_dir(&fx.id).join("state.json").exists());
            }
            let mut err = String::from_utf8_lossy(&out.stderr).replace(&pid, "<pid>");
            for d in &dirs {
                err = err.replace(d.to_str().unwrap(), "<cgroup>");
            }
            out.stderr = err.into_bytes();
            out
        },
        after | fx | {
            if let Some(mut c) = FOREIGN.lock().unwrap().take() {
                let _ = c.kill();
                let _ = c.wait();
            }
            if fx.state_dir(&fx.id).exists() {
                delete_force(fx);
            }
        }
    );
    case!(
        "state-garbage",
        "state.json is not JSON, then `delete --force`",
        Error("parse <root>/<id>/state.json: key must be a string at line 1 column 2"),
        |fx| with_state_json(fx, "{x", &["delete", "--force", &fx.id]),
        after restore_state
    );
    case!(
        "state-garbage-kill",
        "state.json is not JSON, then `kill`",
        Error("parse <root>/<id>/state.json: key must be a string at line 1 column 2"),
        |fx| with_state_json(fx, "{x", &["kill", &fx.id, "KILL"]),
        after restore_state
    );
    case!(
        "state-empty",
        "state.json empty, then `state`",
        Error("parse <root>/<id>/state.json: EOF while parsing a value at line 1 column 0"),
        |fx| with_state_json(fx, "", &["state", &fx.id]),
        after restore_state
    );

    // --- commands on the wrong container ----------------------------------
    for cmd in [
        "state", "start", "kill", "delete", "pause", "resume", "ps", "events", "update",
    ] {
        case!(
            Box::leak(format!("unknown-{cmd}").into_boxed_str()),
            Box::leak(format!("`{cmd}` of an unknown id").into_boxed_str()),
            Error("container nosuch does not exist"),
            move |fx| fx.husk(&[cmd, "nosuch"])
        );
    }
    case!(
        "unknown-exec",
        "`exec` in an unknown id",
        Error("container nosuch does not exist"),
        |fx| fx.husk(&["exec", "nosuch", "true"])
    );
    case!(
        "duplicate-id",
        "`create` of an id that exists",
        Error("container with id <id> already exists"),
        |fx| {
            running(fx);
            fx.husk(&["create", "--bundle", fx.bundle_str(), &fx.id])
        },
        after delete_force
    );
    case!(
        "start-twice",
        "`start` of a running container",
        Error("cannot start an already running container"),
        |fx| {
            running(fx);
            fx.husk(&["start", &fx.id])
        },
        after delete_force
    );
    case!(
        "delete-running",
        "`delete` (no --force) of a running container",
        Error("cannot delete container <id> that is not stopped: running"),
        |fx| {
            running(fx);
            fx.husk(&["delete", &fx.id])
        },
        after delete_force
    );
    case!(
        "kill-bad-signal",
        "`kill ID SIGFOO`",
        Error("invalid signal \"SIGFOO\""),
        |fx| {
            running(fx);
            fx.husk(&["kill", &fx.id, "SIGFOO"])
        },
        after delete_force
    );
    case!(
        "update-bad-memory",
        "`update --memory notanumber`",
        Error("invalid value for memory: \"notanumber\": not a size"),
        |fx| {
            running(fx);
            fx.husk(&["update", "--memory", "notanumber", &fx.id])
        },
        after delete_force
    );
    case!(
        "resume-running",
        "`resume` of a running container",
        Error("container <id> is not paused"),
        |fx| {
            running(fx);
            fx.husk(&["resume", &fx.id])
        },
        after delete_force
    );
    case!(
        "exec-no-process-file",
        "`exec --process` of a missing file",
        Error("read process file <dir>/nope.json: No such file or directory (os error 2)"),
        |fx| {
            running(fx);
            let p = fx.dir.join("nope.json");
            fx.husk(&["exec", "--process", p.to_str().unwrap(), &fx.id])
        },
        after delete_force
    );
    case!(
        "exec-bad-process-file",
        "`exec --process` of broken JSON",
        Error("parse process file <dir>/p.json: key must be a string at line 1 column 2"),
        |fx| {
            running(fx);
            let p = fx.dir.join("p.json");
            fs::write(&p, "{x").unwrap();
            fx.husk(&["exec", "--process", p.to_str().unwrap(), &fx.id])
        },
        after delete_force
    );
    v
}

/// stderr with the fixture's paths and id replaced by placeholders.
fn normalised_stderr(fx: &Fixture, out: &Output) -> String {
    stderr_str(out)
        .trim_end()
        .replace(fx.bundle_str(), "<bundle>")
        .replace(fx.root_str(), "<root>")
        .replace(fx.dir.to_str().unwrap(), "<dir>")
        .replace(&fx.id, "<id>")
}

/// Everything of the fixture gone: no state dir (of any id), cgroup,
/// process, or mount under its directory.
fn check_nothing_left(fx: &Fixture) -> Result<(), String> {
    if let Some(left) = leftovers_of(fx, &fx.id) {
        return Err(left);
    }
    if let Ok(rd) = fs::read_dir(&fx.root) {
        let left: Vec<_> = rd.flatten().map(|e| e.file_name()).collect();
        if !left.is_empty() {
            return Err(format!("left in --root: {left:?}"));
        }
    }
    let mounts = mounts_under(&fx.dir);
    if !mounts.is_empty() {
        return Err(format!("mounts left: {mounts:?}"));
    }
    Ok(())
}

/// runc's error text: the `msg` of its last logfmt error line.
fn oracle_message(got: &str) -> String {
    let line = got
        .lines()
        .rev()
        .find(|l| l.contains("level=error") || l.contains("level=fatal") || l.starts_with("panic"))
        .or_else(|| got.lines().next())
        .unwrap_or_default();
    let msg = if let Some(i) = line.find("msg=\"") {
        let m = &line[i + 5..];
        m.strip_suffix('"').unwrap_or(m).replace("\\\"", "\"")
    } else if let Some(i) = line.find("msg=") {
        line[i + 4..].to_string()
    } else {
        line.to_string()
    };
    // (runc repeats a 1,100-byte id in full.)
    match msg.char_indices().nth(160) {
        Some((i, _)) => format!("{}...", &msg[..i]),
        None => msg,
    }
}

#[test]
#[cfg_attr(husk_not_root, ignore = "needs root")]
fn bad_inputs_table() {
    if !require_root() {
        return;
    }
    // With HUSK_TEST_RUNTIME=runc the rows are only recorded (runc accepts
    // some inputs husk refuses, and its messages differ).
    let oracle = !is_husk();
    let print = std::env::var_os("HUSK_BADINPUT_PRINT").is_some();
    let mut failures = Vec::new();
    let mut table = String::new();
    for case in cases() {
        let fx = Fixture::new("bad");
        let out = (case.run)(&fx);
        let got = normalised_stderr(&fx, &out);
        if print {
            eprintln!("{:<24} {:?} {got}", case.name, out.status.code());
        }
        let shown = if oracle {
            oracle_message(&got)
        } else {
            got.clone()
        };
        let result = match out.status.code() {
            Some(0) => "accepted".to_string(),
            Some(c) => {
                let text = shown.replace('|', "\\|");
                // A code span holding backticks needs a longer fence.
                if text.contains('`') {
                    format!("exit {c}: `` {text} ``")
                } else {
                    format!("exit {c}: `{text}`")
                }
            }
            None => "killed by a signal".to_string(),
        };
        table.push_str(&format!("{}\t{}\t{}\n", case.name, case.input, result));
        if oracle {
            if let Some(after) = &case.after {
                after(&fx);
            }
            continue;
        }
        let mut fail =
            |why: String| failures.push(format!("{}: {why}\n{}", case.name, describe(&out)));
        match case.expect {
            Expect::Accepted => {
                if !out.status.success() {
                    fail("refused".into());
                }
            }
            Expect::Error(want) => {
                if out.status.success() {
                    fail("accepted".into());
                } else if out.status.code().is_none() {
                    fail("killed by a signal".into());
                } else if got.lines().count() != 1 {
                    fail("not exactly one line on stderr".into());
                } else if got != want {
                    fail(format!("message\n  got:  {got}\n  want: {want}"));
                }
            }
        }
        if let Some(after) = &case.after {
            after(&fx);
        }
        if let Err(e) = check_nothing_left(&fx) {
            failures.push(format!("{}: {e}", case.name));
        }
    }
    // name, input, outcome: tab-separated (see tests/badinput-table.sh).
    if let Some(p) = std::env::var_os("HUSK_BADINPUT_TABLE") {
        fs::write(&p, &table).unwrap();
    }
    assert!(
        failures.is_empty(),
        "{} of the bad inputs misbehaved:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
