//! The process of the container (or of `exec`): rlimits, user and groups,
//! capabilities, no_new_privs, LSM labels, cwd and the executable, applied in
//! the order runc uses.

use super::caps;
use anyhow::{bail, Context, Result};
use nix::sys::resource::{setrlimit, Resource};
use oci_spec::runtime::{PosixRlimit, Process};
use std::ffi::CString;
use std::os::unix::fs::DirBuilderExt;
use std::path::Path;

/// Check a process before any side effect.
pub fn validate(p: &Process) -> Result<()> {
    if let Some(c) = p.capabilities() {
        caps::parse(c)?;
    }
    if let Some(r) = p.rlimits() {
        for l in r {
            rlimit_resource(l)?;
        }
    }
    super::sched::validate(p)?;
    if p.selinux_label().as_ref().is_some_and(|l| !l.is_empty()) && !selinux_enabled() {
        bail!("process.selinuxLabel is set, but SELinux is disabled or not supported on this host");
    }
    Ok(())
}

pub fn selinux_enabled() -> bool {
    Path::new("/sys/fs/selinux/enforce").exists()
}

pub fn apparmor_enabled() -> bool {
    std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
        .is_ok_and(|s| s.starts_with('Y'))
}

fn rlimit_resource(l: &PosixRlimit) -> Result<Resource> {
    let name = serde_json::to_value(l.typ())?
        .as_str()
        .unwrap_or_default()
        .to_string();
    Ok(match name.as_str() {
        "RLIMIT_AS" => Resource::RLIMIT_AS,
        "RLIMIT_CORE" => Resource::RLIMIT_CORE,
        "RLIMIT_CPU" => Resource::RLIMIT_CPU,
        "RLIMIT_DATA" => Resource::RLIMIT_DATA,
        "RLIMIT_FSIZE" => Resource::RLIMIT_FSIZE,
        "RLIMIT_LOCKS" => Resource::RLIMIT_LOCKS,
        "RLIMIT_MEMLOCK" => Resource::RLIMIT_MEMLOCK,
        "RLIMIT_MSGQUEUE" => Resource::RLIMIT_MSGQUEUE,
        "RLIMIT_NICE" => Resource::RLIMIT_NICE,
        "RLIMIT_NOFILE" => Resource::RLIMIT_NOFILE,
        "RLIMIT_NPROC" => Resource::RLIMIT_NPROC,
        "RLIMIT_RSS" => Resource::RLIMIT_RSS,
        "RLIMIT_RTPRIO" => Resource::RLIMIT_RTPRIO,
        "RLIMIT_RTTIME" => Resource::RLIMIT_RTTIME,
        "RLIMIT_SIGPENDING" => Resource::RLIMIT_SIGPENDING,
        "RLIMIT_STACK" => Resource::RLIMIT_STACK,
        other => bail!("process.rlimits: unknown rlimit {other}"),
    })
}

pub fn set_rlimits(p: &Process) -> Result<()> {
    for l in p.rlimits().as_deref().unwrap_or(&[]) {
        let res = rlimit_resource(l)?;
        setrlimit(res, l.soft(), l.hard())
            .with_context(|| format!("setrlimit {:?} (process.rlimits)", l.typ()))?;
    }
    Ok(())
}

/// Create a missing cwd, as runc does: after pivot_root (so the path is
/// resolved in the container) and before the root is made read-only.
pub fn create_cwd(p: &Process) -> Result<()> {
    let cwd = p.cwd();
    if std::fs::symlink_metadata(cwd).is_err() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(cwd)
            .with_context(|| format!("create process.cwd {}", cwd.display()))?;
    }
    Ok(())
}

/// The supplementary groups to set: each gid once, in the order given (runc
/// removes duplicates too; the kernel would keep them).
fn unique_gids(gids: &[u32]) -> Vec<u32> {
    let mut out: Vec<u32> = Vec::with_capacity(gids.len());
    for &g in gids {
        if !out.contains(&g) {
            out.push(g);
        }
    }
    out
}

/// setgroups, setresgid, setresuid, keeping capabilities across the change.
pub fn set_user(p: &Process, allow_setgroups: bool) -> Result<()> {
    let u = p.user();
    nix::sys::prctl::set_keepcaps(true).context("prctl PR_SET_KEEPCAPS")?;
    if allow_setgroups {
        let groups: Vec<nix::unistd::Gid> =
            unique_gids(u.additional_gids().as_deref().unwrap_or(&[]))
                .into_iter()
                .map(nix::unistd::Gid::from_raw)
                .collect();
        nix::unistd::setgroups(&groups).context("setgroups (process.user.additionalGids)")?;
    }
    let gid = nix::unistd::Gid::from_raw(u.gid());
    nix::unistd::setresgid(gid, gid, gid)
        .with_context(|| format!("setresgid {} (process.user.gid)", u.gid()))?;
    let uid = nix::unistd::Uid::from_raw(u.uid());
    nix::unistd::setresuid(uid, uid, uid)
        .with_context(|| format!("setresuid {} (process.user.uid)", u.uid()))?;
    nix::sys::prctl::set_keepcaps(false).context("prctl PR_SET_KEEPCAPS")?;
    Ok(())
}

/// Everything execve needs, resolved inside the container before `Ready`,
/// so a missing binary fails `create` with the words Docker looks for.
pub struct Exec {
    pub path: CString,
    pub argv: Vec<CString>,
    pub envp: Vec<CString>,
}

fn cstring(s: &str, what: &str) -> Result<CString> {
    CString::new(s).with_context(|| format!("{what} contains a NUL byte"))
}

pub fn prepare_exec(p: &Process) -> Result<Exec> {
    let args = p.args().as_deref().unwrap_or(&[]);
    let arg0 = args.first().context("process.args must not be empty")?;
    let mut env: Vec<String> = p.env().clone().unwrap_or_default();
    if !env.iter().any(|e| e.starts_with("HOME=")) {
        env.push(format!("HOME={}", home_of(p.user().uid())));
    }
    let path_var = env
        .iter()
        .rev()
        .find_map(|e| e.strip_prefix("PATH="))
        // No PATH: a bare name is not found, as with runc (Go's LookPath
        // searches nothing); an absolute one still runs.
        .unwrap_or("");
    let path = lookup(arg0, path_var)?;
    Ok(Exec {
        path: cstring(&path, "process.args[0]")?,
        argv: args
            .iter()
            .map(|a| cstring(a, "process.args"))
            .collect::<Result<_>>()?,
        envp: env
            .iter()
            .map(|e| cstring(e, "process.env"))
            .collect::<Result<_>>()?,
    })
}

fn home_of(uid: u32) -> String {
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    for line in passwd.lines() {
        let f: Vec<&str> = line.split(':').collect();
        if f.len() >= 6 && f[2].parse() == Ok(uid) {
            return f[5].to_string();
        }
    }
    "/".into()
}

/// Go's errno words (lower-case strerror), which runc prints and Docker
/// matches: "no such file or directory", "permission denied", ...
fn errno_words(e: nix::errno::Errno) -> String {
    let desc = e.desc();
    let mut c = desc.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => format!("errno {}", e as i32),
    }
}

/// Go's exec.findExecutable (as in runc 1.1): a path that exists, is not a
/// directory and has an execute bit. The error is Go's text.
fn find_executable(p: &Path) -> std::result::Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let md = std::fs::metadata(p).map_err(|e| {
        let errno = nix::errno::Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO));
        format!("stat {}: {}", p.display(), errno_words(errno))
    })?;
    if md.is_dir() || md.permissions().mode() & 0o111 == 0 {
        return Err("permission denied".into());
    }
    Ok(())
}

/// The last check runc makes before `create` succeeds: the chosen file can
/// be executed by us (a noexec mount, an ACL), with runc's words.
fn can_execute(path: &str) -> Result<()> {
    nix::unistd::access(path, nix::unistd::AccessFlags::X_OK)
        .map_err(|e| anyhow::anyhow!("exec {path}: {}", errno_words(e)))
}

/// Find `arg0` as runc 1.1 does (Go's exec.LookPath, then an access check),
/// with runc's exact error words, which Docker maps to exit codes: "executable
/// file not found" and "no such file or directory" give 127, "permission
/// denied" 126. A bare name that is only found without an execute bit is
/// "not found", as in Go.
pub fn lookup(arg0: &str, path_var: &str) -> Result<String> {
    if arg0.contains('/') {
        if let Err(e) = find_executable(Path::new(arg0)) {
            bail!("exec: {arg0:?}: {e}");
        }
        can_execute(arg0)?;
        return Ok(arg0.to_string());
    }
    for dir in path_var.split(':').filter(|_| !path_var.is_empty()) {
        let dir = if dir.is_empty() { "." } else { dir };
        let cand = Path::new(dir).join(arg0);
        if find_executable(&cand).is_ok() {
            let cand = cand.to_string_lossy().into_owned();
            can_execute(&cand)?;
            return Ok(cand);
        }
    }
    bail!("exec: {arg0:?}: executable file not found in $PATH")
}

/// AppArmor profile and SELinux label for the next execve.
pub fn set_lsm_labels(p: &Process) -> Result<()> {
    if let Some(profile) = p.apparmor_profile().as_ref().filter(|s| !s.is_empty()) {
        if !apparmor_enabled() {
            bail!("process.apparmorProfile {profile:?} is set, but AppArmor is not enabled on this host");
        }
        let data = format!("exec {profile}");
        std::fs::write("/proc/self/attr/apparmor/exec", &data)
            .or_else(|_| std::fs::write("/proc/self/attr/exec", &data))
            .with_context(|| format!("apply AppArmor profile {profile}"))?;
    }
    if let Some(label) = p.selinux_label().as_ref().filter(|s| !s.is_empty()) {
        std::fs::write("/proc/self/thread-self/attr/exec", label)
            .or_else(|_| std::fs::write("/proc/self/attr/exec", label))
            .with_context(|| format!("set SELinux label {label}"))?;
    }
    Ok(())
}

/// chdir to the process' cwd while still root, as runc does, so that a
/// directory only root may enter works too. Returns false when root was
/// refused (EACCES/EPERM: e.g. a directory whose owner is not mapped in the
/// user namespace, or a root-squashing file system): the caller retries
/// with [`enter_cwd_as_user`] after the uid change, for a directory only
/// the user may enter. Any other error fails.
pub fn enter_cwd(p: &Process) -> Result<bool> {
    let cwd = p.cwd();
    match nix::unistd::chdir(cwd) {
        Ok(()) => {}
        Err(nix::errno::Errno::EACCES | nix::errno::Errno::EPERM) => return Ok(false),
        Err(e) => return Err(e).with_context(|| format!("chdir to process.cwd {}", cwd.display())),
    }
    verify_cwd(cwd)?;
    Ok(true)
}

/// The retry of [`enter_cwd`], as the container's user.
pub fn enter_cwd_as_user(p: &Process) -> Result<()> {
    let cwd = p.cwd();
    nix::unistd::chdir(cwd).with_context(|| {
        format!(
            "chdir to process.cwd {} (as uid {}; root was refused too)",
            cwd.display(),
            p.user().uid()
        )
    })?;
    verify_cwd(cwd)
}

/// Check that the kernel can name the cwd from our root: a cwd reached
/// through a leaked host fd shows as "(unreachable)" or fails getcwd
/// (CVE-2024-21626).
fn verify_cwd(cwd: &Path) -> Result<()> {
    let now = nix::unistd::getcwd().context("getcwd after chdir: cwd is outside the container")?;
    if !now.is_absolute() {
        bail!(
            "process.cwd {} resolves outside the container root",
            cwd.display()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_uses_runcs_words() {
        let dir = std::env::temp_dir().join(format!("husk-lookup-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("adir")).unwrap();
        std::fs::write(dir.join("plain"), "x").unwrap();
        std::fs::write(dir.join("tool"), "#!/bin/sh\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.join("tool"), std::fs::Permissions::from_mode(0o755)).unwrap();
        let d = dir.to_str().unwrap();
        let err = |a: &str, path: &str| format!("{:#}", lookup(a, path).unwrap_err());
        assert_eq!(lookup("tool", d).unwrap(), format!("{d}/tool"));
        assert_eq!(
            err("nosuch", d),
            "exec: \"nosuch\": executable file not found in $PATH"
        );
        // Not executable or a directory on PATH: not found, as in Go.
        assert_eq!(
            err("plain", d),
            "exec: \"plain\": executable file not found in $PATH"
        );
        assert_eq!(
            err("adir", d),
            "exec: \"adir\": executable file not found in $PATH"
        );
        assert_eq!(
            err("tool", ""),
            "exec: \"tool\": executable file not found in $PATH"
        );
        let missing = format!("{d}/missing");
        assert_eq!(
            err(&missing, d),
            format!("exec: {missing:?}: stat {missing}: no such file or directory")
        );
        let plain = format!("{d}/plain");
        assert_eq!(
            err(&plain, d),
            format!("exec: {plain:?}: permission denied")
        );
        let adir = format!("{d}/adir");
        assert_eq!(err(&adir, d), format!("exec: {adir:?}: permission denied"));
        let under_file = format!("{d}/plain/x");
        assert_eq!(
            err(&under_file, d),
            format!("exec: {under_file:?}: stat {under_file}: not a directory")
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn duplicate_groups_are_removed_in_order() {
        assert_eq!(unique_gids(&[5, 5, 1000, 5, 2]), vec![5, 1000, 2]);
        assert_eq!(unique_gids(&[]), Vec::<u32>::new());
    }

    fn process(v: serde_json::Value) -> Process {
        let mut base =
            serde_json::json!({"cwd": "/", "user": {"uid": 0, "gid": 0}, "args": ["sh"]});
        base.as_object_mut()
            .unwrap()
            .extend(v.as_object().unwrap().clone());
        serde_json::from_value(base).unwrap()
    }

    #[test]
    fn every_rlimit_name_maps_to_the_kernels() {
        let names = [
            ("RLIMIT_AS", libc::RLIMIT_AS),
            ("RLIMIT_CORE", libc::RLIMIT_CORE),
            ("RLIMIT_CPU", libc::RLIMIT_CPU),
            ("RLIMIT_DATA", libc::RLIMIT_DATA),
            ("RLIMIT_FSIZE", libc::RLIMIT_FSIZE),
            ("RLIMIT_LOCKS", libc::RLIMIT_LOCKS),
            ("RLIMIT_MEMLOCK", libc::RLIMIT_MEMLOCK),
            ("RLIMIT_MSGQUEUE", libc::RLIMIT_MSGQUEUE),
            ("RLIMIT_NICE", libc::RLIMIT_NICE),
            ("RLIMIT_NOFILE", libc::RLIMIT_NOFILE),
            ("RLIMIT_NPROC", libc::RLIMIT_NPROC),
            ("RLIMIT_RSS", libc::RLIMIT_RSS),
            ("RLIMIT_RTPRIO", libc::RLIMIT_RTPRIO),
            ("RLIMIT_RTTIME", libc::RLIMIT_RTTIME),
            ("RLIMIT_SIGPENDING", libc::RLIMIT_SIGPENDING),
            ("RLIMIT_STACK", libc::RLIMIT_STACK),
        ];
        for (name, res) in names {
            let l: PosixRlimit =
                serde_json::from_value(serde_json::json!({"type": name, "soft": 1, "hard": 2}))
                    .unwrap();
            assert_eq!(rlimit_resource(&l).unwrap() as u32, res, "{name}");
        }
        // The 16 resources are all distinct kernel numbers 0..16.
        let mut all: Vec<u64> = names.iter().map(|(_, r)| *r as u64).collect();
        all.sort();
        assert_eq!(all, (0..16).collect::<Vec<u64>>());
    }

    #[test]
    fn unknown_rlimits_and_capabilities_fail_validation() {
        // oci-spec refuses names it does not know when parsing.
        let r: Result<PosixRlimit, _> = serde_json::from_value(
            serde_json::json!({"type": "RLIMIT_BOGUS", "soft": 1, "hard": 1}),
        );
        assert!(r.is_err());
        let p = process(
            serde_json::json!({"rlimits": [{"type": "RLIMIT_NOFILE", "soft": 1024, "hard": 4096}],
            "capabilities": {"bounding": ["CAP_CHOWN", "CAP_SYS_ADMIN"]}}),
        );
        validate(&p).unwrap();
        let p =
            process(serde_json::json!({"ioPriority": {"class": "IOPRIO_CLASS_BE", "priority": 8}}));
        assert!(validate(&p)
            .unwrap_err()
            .to_string()
            .contains("ioPriority.priority 8"));
    }

    #[test]
    fn errno_words_are_gos() {
        assert_eq!(
            errno_words(nix::errno::Errno::ENOENT),
            "no such file or directory"
        );
        assert_eq!(errno_words(nix::errno::Errno::EACCES), "permission denied");
        assert_eq!(errno_words(nix::errno::Errno::ENOTDIR), "not a directory");
    }

    #[test]
    fn lookup_with_a_slash_is_not_searched() {
        // A relative path with a slash is taken as it is, as Go's LookPath.
        let e = format!(
            "{:#}",
            lookup("./no-such-tool", "/bin:/usr/bin").unwrap_err()
        );
        assert!(
            e.starts_with("exec: \"./no-such-tool\": stat ./no-such-tool"),
            "{e}"
        );
        // Empty PATH entries are skipped, the next one is searched.
        assert_eq!(lookup("sh", "::/bin").unwrap(), "/bin/sh");
    }
}
