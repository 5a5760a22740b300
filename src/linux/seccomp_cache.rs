//! A cache of compiled seccomp programs.
//!
//! libseccomp takes ~17 ms of CPU to compile Docker's default profile for
//! its three architectures, and every container of a host usually has the
//! same profile. The parent therefore keeps the BPF it compiled in
//! `/run/husk-cache/seccomp/` (root; `$XDG_RUNTIME_DIR/husk-cache/seccomp`
//! otherwise, also for root of a user namespace) and loads it from there next time.
//!
//! An entry is named by a 64-bit hash of its key and holds the whole key,
//! so a hash collision is a miss, never a wrong filter. The key is the
//! profile as JSON plus everything else the program depends on: the
//! architecture, the libseccomp version, the kernel release, and the husk
//! binary itself (device, inode, size, mtime), so a rebuilt husk never
//! loads a program an older translation made. Entries are files of root
//! (the caller) that nobody else may write; anything else is ignored.
//! The cache is best effort: any failure to read or write it means
//! compiling, as without it. `HUSK_SECCOMP_CACHE=0` turns it off.

use anyhow::{Context, Result};
use oci_spec::runtime::LinuxSeccomp;
use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::PathBuf;

const MAGIC: &[u8] = b"husk-seccomp-cache 2\n";
/// More entries than this and the cache is emptied before a new one.
const MAX_ENTRIES: usize = 64;
/// sizeof(struct sock_filter).
const INSN: usize = 8;

/// Where the cache lives, or None when it is off.
fn dir() -> Option<PathBuf> {
    if std::env::var_os("HUSK_SECCOMP_CACHE").is_some_and(|v| v == "0") {
        return None;
    }
    // Root of a user namespace (rootless Podman) cannot write /run: it
    // uses $XDG_RUNTIME_DIR, as an unprivileged user does.
    if nix::unistd::geteuid().is_root() && !super::rootless::running_in_userns() {
        return Some(PathBuf::from("/run/husk-cache/seccomp"));
    }
    let xdg = std::env::var_os("XDG_RUNTIME_DIR")?;
    Some(PathBuf::from(xdg).join("husk-cache/seccomp"))
}

/// The cache key of profile `s`: see the module comment.
pub fn key(s: &LinuxSeccomp) -> Result<Vec<u8>> {
    let mut k = Vec::with_capacity(16 * 1024);
    k.extend_from_slice(MAGIC);
    let lib = libseccomp::ScmpVersion::current()
        .map(|v| format!("{}.{}.{}", v.major, v.minor, v.micro))
        .unwrap_or_default();
    let release = nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_default();
    let exe = super::sealed_exe::binary_identity();
    writeln!(
        k,
        "{} libseccomp {lib} kernel {release} husk {} {exe}",
        std::env::consts::ARCH,
        env!("CARGO_PKG_VERSION"),
    )
    .expect("write to a Vec");
    serde_json::to_writer(&mut k, s).context("linux.seccomp: serialize the profile")?;
    Ok(k)
}

/// FNV-1a, 64 bits: a stable file name for a key (collisions are caught
/// by comparing the stored key).
fn name(key: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in key {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}.bpf")
}

/// The program stored for `key`, if there is a trustworthy one.
pub fn lookup(key: &[u8]) -> Option<Vec<u8>> {
    let path = dir()?.join(name(key));
    let mut f = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .ok()?;
    let md = f.metadata().ok()?;
    if !md.is_file() || md.uid() != nix::unistd::geteuid().as_raw() || md.mode() & 0o022 != 0 {
        return None;
    }
    let mut data = Vec::with_capacity(md.len() as usize);
    f.read_to_end(&mut data).ok()?;
    let stored_len = u32::from_le_bytes(data.get(..4)?.try_into().ok()?) as usize;
    let stored = data.get(4..4usize.checked_add(stored_len)?)?;
    if stored != key {
        return None;
    }
    let bpf = &data[4 + stored_len..];
    if bpf.is_empty() || bpf.len() % INSN != 0 {
        return None;
    }
    Some(bpf.to_vec())
}

/// Keep `bpf` for `key`. Best effort: errors are ignored (the next
/// container compiles again).
pub fn store(key: &[u8], bpf: &[u8]) {
    let _ = try_store(key, bpf);
}

fn try_store(key: &[u8], bpf: &[u8]) -> std::io::Result<()> {
    let Some(dir) = dir() else { return Ok(()) };
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)?;
    let entries: Vec<_> = fs::read_dir(&dir)?.filter_map(|e| e.ok()).collect();
    if entries.len() >= MAX_ENTRIES {
        for e in entries {
            let _ = fs::remove_file(e.path());
        }
    }
    let len = u32::try_from(key.len()).map_err(|_| std::io::ErrorKind::InvalidInput)?;
    let name = name(key);
    let tmp = dir.join(format!(".{name}.{}", std::process::id()));
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)?;
    let written = f
        .write_all(&len.to_le_bytes())
        .and_then(|_| f.write_all(key))
        .and_then(|_| f.write_all(bpf))
        .and_then(|_| fs::rename(&tmp, dir.join(&name)));
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    written
}
