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
    let mut spec = crate::commands::spec::template(false, false);
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
}
