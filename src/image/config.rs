//! config.json for an image: `husk spec`'s template plus what the image
//! config says (Entrypoint/Cmd, Env, WorkingDir, User, Labels, StopSignal)
//! and the caller's options.
//!
//! The user is resolved the way Docker does it: a name (or `name:group`)
//! through the image's own /etc/passwd and /etc/group, read inside the
//! rootfs (a symlinked /etc/passwd cannot point at the host's), the
//! supplementary groups from the groups that list the user, HOME from its
//! passwd entry.

use super::fs::open_in_root;
use super::select::ImageConfig;
use anyhow::{bail, Context, Result};
use nix::fcntl::OFlag;
use serde_json::{json, Value};
use std::io::Read;
use std::os::fd::BorrowedFd;
use std::path::{Path, PathBuf};

const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
pub const STOP_SIGNAL: &str = "org.opencontainers.image.stopSignal";

/// The caller's choices for the container.
#[derive(Debug, Default, Clone)]
pub struct RunOptions {
    /// Replaces the image's Cmd (the Entrypoint stays).
    pub args: Vec<String>,
    pub terminal: bool,
    /// Share the host's network namespace instead of getting a new one.
    pub host_network: bool,
    pub read_only: bool,
    pub mounts: Vec<BindMount>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct BindMount {
    pub source: PathBuf,
    pub destination: String,
    pub read_only: bool,
}

impl BindMount {
    /// Parses `SRC:DST[:ro|:rw]`; SRC must exist (it is made absolute).
    pub fn parse(s: &str) -> Result<BindMount> {
        let parts: Vec<&str> = s.split(':').collect();
        let (src, dst, ro) = match parts[..] {
            [src, dst] => (src, dst, false),
            [src, dst, "ro"] => (src, dst, true),
            [src, dst, "rw"] => (src, dst, false),
            _ => bail!("invalid --mount {s:?}: expected SRC:DST[:ro]"),
        };
        if !dst.starts_with('/') {
            bail!("invalid --mount {s:?}: the destination must be an absolute path");
        }
        let source =
            std::fs::canonicalize(src).with_context(|| format!("--mount {s:?}: source {src}"))?;
        Ok(BindMount {
            source,
            destination: dst.to_string(),
            read_only: ro,
        })
    }
}

/// The resolved process user.
#[derive(Debug, PartialEq)]
pub struct User {
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
    pub home: Option<String>,
}

/// Builds config.json for `image`, whose rootfs is open as `rootfs`.
pub fn generate(image: &ImageConfig, rootfs: BorrowedFd, opts: &RunOptions) -> Result<Value> {
    let mut spec = crate::spec::template::template(false, false);
    let c = image.config.as_ref();
    let entrypoint = c.and_then(|c| c.entrypoint.clone()).unwrap_or_default();
    let cmd = if opts.args.is_empty() {
        c.and_then(|c| c.cmd.clone()).unwrap_or_default()
    } else {
        opts.args.clone()
    };
    let args: Vec<String> = entrypoint.into_iter().chain(cmd).collect();
    if args.is_empty() {
        bail!("the image has no Entrypoint or Cmd: give the command after --");
    }
    let user_spec = c.and_then(|c| c.user.clone()).unwrap_or_default();
    let passwd = read_etc(rootfs, "etc/passwd")?;
    let group = read_etc(rootfs, "etc/group")?;
    let user = resolve_user(&user_spec, &passwd, &group)?;

    let mut env = c.and_then(|c| c.env.clone()).unwrap_or_default();
    let has = |env: &[String], k: &str| env.iter().any(|e| e.split('=').next() == Some(k));
    if !has(&env, "PATH") {
        env.insert(0, DEFAULT_PATH.to_string());
    }
    if !has(&env, "HOME") {
        env.push(format!("HOME={}", user.home.as_deref().unwrap_or("/")));
    }
    if opts.terminal && !has(&env, "TERM") {
        env.push("TERM=xterm".into());
    }
    let cwd = match c.and_then(|c| c.working_dir.clone()) {
        Some(d) if d.starts_with('/') => d,
        Some(d) if !d.is_empty() => format!("/{d}"),
        _ => "/".to_string(),
    };

    let p = &mut spec["process"];
    p["terminal"] = json!(opts.terminal);
    p["args"] = json!(args);
    p["env"] = json!(env);
    p["cwd"] = json!(cwd);
    p["user"] = json!({"uid": user.uid, "gid": user.gid});
    if !user.additional_gids.is_empty() {
        p["user"]["additionalGids"] = json!(user.additional_gids);
    }
    if user.uid != 0 {
        // The template's ambient set would hand its capabilities to a
        // non-root user; Docker gives them only to root.
        if let Some(caps) = p["capabilities"].as_object_mut() {
            caps.remove("ambient");
        }
    }
    spec["root"]["readonly"] = json!(opts.read_only);
    if opts.host_network {
        if let Some(ns) = spec["linux"]["namespaces"].as_array_mut() {
            ns.retain(|n| n["type"] != "network");
        }
    }
    let mounts = spec["mounts"].as_array_mut().context("template mounts")?;
    for m in &opts.mounts {
        mounts.push(json!({
            "destination": m.destination,
            "type": "bind",
            "source": m.source,
            "options": ["rbind", if m.read_only { "ro" } else { "rw" }],
        }));
    }
    let mut annotations = serde_json::Map::new();
    for (k, v) in c.and_then(|c| c.labels.clone()).unwrap_or_default() {
        annotations.insert(k, json!(v));
    }
    if let Some(sig) = c.and_then(|c| c.stop_signal.clone()) {
        annotations.insert(STOP_SIGNAL.into(), json!(sig));
    }
    if !annotations.is_empty() {
        spec["annotations"] = Value::Object(annotations);
    }
    Ok(spec)
}

/// A file of the image's /etc, read inside the rootfs; empty if absent.
fn read_etc(rootfs: BorrowedFd, rel: &str) -> Result<String> {
    match open_in_root(rootfs, Path::new(rel), OFlag::O_RDONLY) {
        Ok(fd) => {
            let mut s = String::new();
            std::fs::File::from(fd)
                .take(16 << 20)
                .read_to_string(&mut s)
                .with_context(|| format!("read the image's /{rel}"))?;
            Ok(s)
        }
        Err(nix::errno::Errno::ENOENT) => Ok(String::new()),
        Err(e) => Err(e).with_context(|| format!("open the image's /{rel}")),
    }
}

/// Resolves an image's User (`user`, `uid`, `user:group`, `uid:gid`, or
/// empty for root) against the contents of /etc/passwd and /etc/group.
pub fn resolve_user(spec: &str, passwd: &str, group: &str) -> Result<User> {
    let (u, g) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let users: Vec<Vec<&str>> = passwd
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .filter(|f| f.len() >= 4 && !f[0].starts_with('#'))
        .collect();
    let groups: Vec<Vec<&str>> = group
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .filter(|f| f.len() >= 3 && !f[0].starts_with('#'))
        .collect();
    let u = if u.is_empty() { "0" } else { u };
    let entry = users.iter().find(|f| f[0] == u).or_else(|| {
        u.parse::<u32>()
            .ok()
            .and_then(|n| users.iter().find(|f| f[2].parse() == Ok(n)))
    });
    let (uid, mut gid, name, home) = match (entry, u.parse::<u32>()) {
        (Some(f), _) => (
            f[2].parse::<u32>()
                .with_context(|| format!("/etc/passwd: bad uid for user {}", f[0]))?,
            f[3].parse::<u32>()
                .with_context(|| format!("/etc/passwd: bad gid for user {}", f[0]))?,
            Some(f[0]),
            f.get(5).filter(|h| !h.is_empty()).map(|h| h.to_string()),
        ),
        (None, Ok(n)) => (n, 0, None, None),
        (None, Err(_)) => {
            bail!("user {u:?} (image User {spec:?}) not found in the image's /etc/passwd")
        }
    };
    if let Some(g) = g {
        gid = match groups.iter().find(|f| f[0] == g) {
            Some(f) => f[2]
                .parse()
                .with_context(|| format!("/etc/group: bad gid for group {}", f[0]))?,
            None => g.parse().map_err(|_| {
                anyhow::anyhow!(
                    "group {g:?} (image User {spec:?}) not found in the image's /etc/group"
                )
            })?,
        };
    }
    let mut additional_gids = Vec::new();
    if let Some(name) = name {
        for f in &groups {
            let members = f.get(3).copied().unwrap_or("");
            if members.split(',').any(|m| m == name) {
                if let Ok(n) = f[2].parse::<u32>() {
                    if n != gid && !additional_gids.contains(&n) {
                        additional_gids.push(n);
                    }
                }
            }
        }
    }
    Ok(User {
        uid,
        gid,
        additional_gids,
        home,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\ntest:x:1000:1000:t:/home/test:/bin/sh\n";
    const GROUP: &str = "root:x:0:\ntest:x:1000:\nextra:x:2000:test\nwheel:x:10:root,test\n";

    #[test]
    fn users() {
        let r = resolve_user("", PASSWD, GROUP).unwrap();
        assert_eq!((r.uid, r.gid, r.home.as_deref()), (0, 0, Some("/root")));
        assert_eq!(r.additional_gids, [10]);
        let t = resolve_user("test", PASSWD, GROUP).unwrap();
        assert_eq!((t.uid, t.gid), (1000, 1000));
        assert_eq!(t.additional_gids, [2000, 10]);
        let t = resolve_user("test:extra", PASSWD, GROUP).unwrap();
        assert_eq!((t.uid, t.gid), (1000, 2000));
        assert_eq!(t.additional_gids, [10]);
        let n = resolve_user("1000", PASSWD, GROUP).unwrap();
        assert_eq!((n.uid, n.gid), (1000, 1000));
        let n = resolve_user("4242:77", PASSWD, GROUP).unwrap();
        assert_eq!((n.uid, n.gid, n.home), (4242, 77, None));
        assert!(resolve_user("nobody", PASSWD, GROUP).is_err());
        assert!(resolve_user("test:nogroup", PASSWD, GROUP).is_err());
    }

    #[test]
    fn mounts() {
        let m = BindMount::parse("/tmp:/data:ro").unwrap();
        assert_eq!(m.destination, "/data");
        assert!(m.read_only);
        assert!(BindMount::parse("/tmp:data").is_err());
        assert!(BindMount::parse("/tmp").is_err());
        assert!(BindMount::parse("/no/such/dir:/x").is_err());
    }

    #[test]
    fn config_from_image() {
        let image: ImageConfig = serde_json::from_value(json!({
            "config": {
                "Entrypoint": ["/bin/entry"], "Cmd": ["a"], "Env": ["FOO=1"],
                "WorkingDir": "/w", "Labels": {"l": "v"}, "StopSignal": "SIGINT"
            }
        }))
        .unwrap();
        let dir = std::fs::File::open("/").unwrap();
        let fd = std::os::fd::AsFd::as_fd(&dir);
        let opts = RunOptions {
            args: vec!["b".into()],
            host_network: true,
            ..Default::default()
        };
        let v = generate(&image, fd, &opts).unwrap();
        assert_eq!(v["process"]["args"], json!(["/bin/entry", "b"]));
        assert_eq!(v["process"]["cwd"], "/w");
        assert_eq!(v["process"]["env"][0], DEFAULT_PATH);
        assert_eq!(v["annotations"][STOP_SIGNAL], "SIGINT");
        assert_eq!(v["annotations"]["l"], "v");
        assert_eq!(v["root"]["readonly"], false);
        let ns = v["linux"]["namespaces"].as_array().unwrap();
        assert!(!ns.iter().any(|n| n["type"] == "network"));
        let _: oci_spec::runtime::Spec = serde_json::from_value(v).unwrap();
    }

    /// A rootfs with /etc/passwd and /etc/group, removed on drop.
    struct Root(PathBuf, std::fs::File);

    impl Root {
        fn new(name: &str) -> Root {
            let dir = std::env::temp_dir().join(format!("husk-unit-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(dir.join("etc")).unwrap();
            std::fs::write(dir.join("etc/passwd"), PASSWD).unwrap();
            std::fs::write(dir.join("etc/group"), GROUP).unwrap();
            let f = std::fs::File::open(&dir).unwrap();
            Root(dir, f)
        }

        fn gen(&self, image: Value, opts: &RunOptions) -> Result<Value> {
            let image: ImageConfig = serde_json::from_value(image).unwrap();
            generate(&image, std::os::fd::AsFd::as_fd(&self.1), opts)
        }
    }

    impl Drop for Root {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn cfg(c: Value) -> Value {
        json!({ "config": c })
    }

    fn run_args(args: &[&str]) -> RunOptions {
        RunOptions {
            args: args.iter().map(|a| a.to_string()).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn no_command_is_an_error() {
        let r = Root::new("nocmd");
        let e = r.gen(json!({}), &RunOptions::default()).unwrap_err();
        assert!(e.to_string().contains("no Entrypoint or Cmd"), "{e}");
        // Args alone are enough.
        let v = r.gen(json!({}), &run_args(&["/bin/true"])).unwrap();
        assert_eq!(v["process"]["args"], json!(["/bin/true"]));
    }

    #[test]
    fn entrypoint_and_cmd() {
        let r = Root::new("args");
        let none = RunOptions::default();
        let c = cfg(json!({"Cmd": ["sh", "-c", "x"]}));
        assert_eq!(
            r.gen(c.clone(), &none).unwrap()["process"]["args"],
            json!(["sh", "-c", "x"])
        );
        assert_eq!(
            r.gen(c, &run_args(&["ls"])).unwrap()["process"]["args"],
            json!(["ls"])
        );
        let e = cfg(json!({"Entrypoint": ["/e"], "Cmd": null}));
        assert_eq!(
            r.gen(e.clone(), &none).unwrap()["process"]["args"],
            json!(["/e"])
        );
        assert_eq!(
            r.gen(e, &run_args(&["a", "b"])).unwrap()["process"]["args"],
            json!(["/e", "a", "b"])
        );
    }

    #[test]
    fn env_defaults() {
        let r = Root::new("env");
        let v = r
            .gen(
                cfg(json!({"Cmd": ["x"], "User": "test"})),
                &RunOptions::default(),
            )
            .unwrap();
        assert_eq!(
            v["process"]["env"],
            json!([DEFAULT_PATH, "HOME=/home/test"])
        );
        // The image's own PATH and HOME stay, in place; TERM only with a tty.
        let c = cfg(json!({"Cmd": ["x"], "Env": ["HOME=/h", "PATH=/p", "A=b=c"]}));
        let tty = RunOptions {
            terminal: true,
            ..Default::default()
        };
        let v = r.gen(c, &tty).unwrap();
        assert_eq!(
            v["process"]["env"],
            json!(["HOME=/h", "PATH=/p", "A=b=c", "TERM=xterm"])
        );
        assert_eq!(v["process"]["terminal"], true);
        // A user without a passwd entry: HOME=/.
        let v = r
            .gen(
                cfg(json!({"Cmd": ["x"], "User": "4242"})),
                &RunOptions::default(),
            )
            .unwrap();
        assert_eq!(v["process"]["env"][1], "HOME=/");
    }

    #[test]
    fn working_dir() {
        let r = Root::new("cwd");
        let cwd = |w: Value| {
            r.gen(
                cfg(json!({"Cmd": ["x"], "WorkingDir": w})),
                &RunOptions::default(),
            )
            .unwrap()["process"]["cwd"]
                .clone()
        };
        assert_eq!(cwd(json!("/srv")), "/srv");
        assert_eq!(cwd(json!("srv/app")), "/srv/app", "relative: from /");
        assert_eq!(cwd(json!("")), "/");
        assert_eq!(cwd(Value::Null), "/");
    }

    #[test]
    fn user_from_the_image() {
        let r = Root::new("user");
        let v = r
            .gen(
                cfg(json!({"Cmd": ["x"], "User": "test"})),
                &RunOptions::default(),
            )
            .unwrap();
        assert_eq!(
            v["process"]["user"],
            json!({"uid": 1000, "gid": 1000, "additionalGids": [2000, 10]})
        );
        // Not root: no ambient capabilities; root keeps the template's.
        assert!(v["process"]["capabilities"].get("ambient").is_none());
        let root = r
            .gen(cfg(json!({"Cmd": ["x"]})), &RunOptions::default())
            .unwrap();
        assert_eq!(root["process"]["user"]["uid"], 0);
        assert!(root["process"]["capabilities"]["ambient"].is_array());
        let e = r
            .gen(
                cfg(json!({"Cmd": ["x"], "User": "ghost"})),
                &RunOptions::default(),
            )
            .unwrap_err();
        assert!(
            e.to_string()
                .contains("not found in the image's /etc/passwd"),
            "{e}"
        );
    }

    #[test]
    fn without_etc_passwd_numeric_users_work() {
        let r = Root::new("nopasswd");
        std::fs::remove_file(r.0.join("etc/passwd")).unwrap();
        std::fs::remove_file(r.0.join("etc/group")).unwrap();
        let v = r
            .gen(
                cfg(json!({"Cmd": ["x"], "User": "7:8"})),
                &RunOptions::default(),
            )
            .unwrap();
        assert_eq!(v["process"]["user"], json!({"uid": 7, "gid": 8}));
        assert!(r
            .gen(
                cfg(json!({"Cmd": ["x"], "User": "test"})),
                &RunOptions::default()
            )
            .is_err());
    }

    #[test]
    fn options_network_readonly_mounts() {
        let r = Root::new("opts");
        let c = cfg(json!({"Cmd": ["x"]}));
        let v = r.gen(c.clone(), &RunOptions::default()).unwrap();
        let ns = v["linux"]["namespaces"].as_array().unwrap();
        assert!(
            ns.iter().any(|n| n["type"] == "network"),
            "a network namespace by default"
        );
        assert_eq!(v["root"]["readonly"], false);
        let n_mounts = v["mounts"].as_array().unwrap().len();
        let opts = RunOptions {
            read_only: true,
            mounts: vec![
                BindMount {
                    source: "/srv/a".into(),
                    destination: "/a".into(),
                    read_only: true,
                },
                BindMount {
                    source: "/srv/b".into(),
                    destination: "/b".into(),
                    read_only: false,
                },
            ],
            ..Default::default()
        };
        let v = r.gen(c, &opts).unwrap();
        assert_eq!(v["root"]["readonly"], true);
        let m = v["mounts"].as_array().unwrap();
        assert_eq!(m.len(), n_mounts + 2);
        assert_eq!(
            m[n_mounts],
            json!({"destination": "/a", "type": "bind", "source": "/srv/a", "options": ["rbind", "ro"]})
        );
        assert_eq!(m[n_mounts + 1]["options"], json!(["rbind", "rw"]));
        let _: oci_spec::runtime::Spec = serde_json::from_value(v).unwrap();
    }

    #[test]
    fn annotations_only_when_the_image_has_some() {
        let r = Root::new("annot");
        let v = r
            .gen(cfg(json!({"Cmd": ["x"]})), &RunOptions::default())
            .unwrap();
        assert!(
            v.get("annotations").is_none_or(|a| a.is_null()),
            "{}",
            v["annotations"]
        );
        let v = r
            .gen(
                cfg(json!({"Cmd": ["x"], "StopSignal": "SIGQUIT"})),
                &RunOptions::default(),
            )
            .unwrap();
        assert_eq!(v["annotations"], json!({STOP_SIGNAL: "SIGQUIT"}));
    }

    #[test]
    fn user_edge_cases() {
        // Comment lines and short lines are skipped; a name wins over a
        // uid of the same spelling.
        let passwd = "#x:x:1:1::/:\nshort:x\n42:x:500:500::/h42:/bin/sh\n";
        let u = resolve_user("42", passwd, "").unwrap();
        assert_eq!((u.uid, u.gid, u.home.as_deref()), (500, 500, Some("/h42")));
        let u = resolve_user("500", passwd, "").unwrap();
        assert_eq!(u.uid, 500, "uid found by number");
        let e = resolve_user("bad", "bad:x:notanumber:0::/:", "").unwrap_err();
        assert!(e.to_string().contains("bad uid"), "{e}");
        let u = resolve_user("0:10", PASSWD, GROUP).unwrap();
        assert_eq!(
            (u.gid, u.additional_gids.as_slice()),
            (10, &[][..]),
            "primary group not repeated"
        );
        let u = resolve_user(":wheel", PASSWD, GROUP).unwrap();
        assert_eq!((u.uid, u.gid), (0, 10), "empty user: root");
    }

    #[test]
    fn bind_mount_suffixes() {
        assert!(!BindMount::parse("/tmp:/x:rw").unwrap().read_only);
        assert!(!BindMount::parse("/tmp:/x").unwrap().read_only);
        assert!(BindMount::parse("/tmp:/x:rx").is_err());
        assert!(BindMount::parse("/tmp:/x:ro:extra").is_err());
        assert_eq!(
            BindMount::parse("/tmp/../tmp:/x").unwrap().source,
            std::fs::canonicalize("/tmp").unwrap()
        );
    }
}
