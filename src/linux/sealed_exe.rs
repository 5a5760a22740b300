//! What husk's own binary looks like at an execve into a container
//! (CVE-2019-5736).
//!
//! Every process husk starts inside a container is a copy of husk until its
//! execve. At that execve, `/proc/self/exe` still names husk's binary: a
//! container file `#!/proc/self/exe` makes the kernel run husk's binary as
//! the interpreter, inside the container and dumpable, and a process of the
//! container can then open `/proc/PID/exe` and write the binary once it is
//! no longer busy. A process of a second container sharing the pid
//! namespace can do the same in the short window before the init makes
//! itself non-dumpable.
//!
//! The rule: a husk command that starts processes in a container (`create`,
//! `run`, `exec`) runs from a sealed memfd copy of its binary, never from
//! the file on disk. It re-executes itself from that copy before it does
//! anything else, so `/proc/PID/exe` of every husk process a container can
//! see is an anonymous, write-sealed file: opening it for writing works,
//! but no write, truncate or resize can change it, and the host's binary is
//! never reachable through it.
//!
//! The copy costs one sendfile of the binary (2.8 MB for the release build)
//! and one execve; a read-only bind mount in a private mount namespace
//! would avoid the copy but needs mount privileges (not rootless) and a
//! mount that outlives nothing only if every step succeeds. See bench/.

use anyhow::{Context, Result};
use nix::fcntl::{fcntl, FcntlArg, OFlag, SealFlag};
use nix::sys::memfd::{memfd_create, MFdFlags};
use nix::sys::stat::Mode;
use std::ffi::CString;
use std::os::fd::{AsFd, OwnedFd};

/// MFD_EXEC (Linux 6.3): ask for an executable memfd even where
/// vm.memfd_noexec makes them non-executable by default. Older kernels
/// refuse the flag (EINVAL); we retry without it.
const MFD_EXEC: libc::c_uint = 0x0010;

/// The seals that make the copy immutable.
fn seals() -> SealFlag {
    SealFlag::F_SEAL_SEAL | SealFlag::F_SEAL_SHRINK | SealFlag::F_SEAL_GROW | SealFlag::F_SEAL_WRITE
}

/// The environment variable that carries the identity of the binary on
/// disk across the re-exec (the copy's own identity changes every time).
const FROM_VAR: &str = "HUSK_SEALED_FROM";

static IDENTITY: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// `device:inode:size:mtime` of a file.
fn identity_of(md: &nix::sys::stat::FileStat) -> String {
    format!(
        "{}:{}:{}:{}.{}",
        md.st_dev, md.st_ino, md.st_size, md.st_mtime, md.st_mtime_nsec
    )
}

/// Identifies husk's binary on disk (`device:inode:size:mtime`), also when
/// this process runs from the sealed copy: a rebuilt or replaced husk has
/// another identity (the seccomp cache keys its programs with it).
pub fn binary_identity() -> String {
    IDENTITY
        .get_or_init(|| {
            nix::sys::stat::stat("/proc/self/exe")
                .map(|m| identity_of(&m))
                .unwrap_or_default()
        })
        .clone()
}

/// Whether `fd` is a memfd carrying at least our seals.
fn is_sealed(fd: &OwnedFd) -> bool {
    match fcntl(fd, FcntlArg::F_GET_SEALS) {
        Ok(bits) => SealFlag::from_bits_truncate(bits).contains(seals()),
        // EINVAL: not a file that supports seals (a regular file).
        Err(_) => false,
    }
}

/// Make sure this process runs from a sealed copy of its binary: returns
/// Ok at once if it already does; otherwise copies the binary into a
/// sealed memfd and re-executes itself from it with the same arguments and
/// environment (and never returns). Fails with one line if the copy cannot
/// be made: husk then does not start a container at all.
pub fn ensure() -> Result<()> {
    let exe = nix::fcntl::open(
        "/proc/self/exe",
        OFlag::O_RDONLY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .context("open /proc/self/exe (sealed copy of husk, CVE-2019-5736)")?;
    if is_sealed(&exe) {
        if let Some(from) = std::env::var_os(FROM_VAR) {
            // Not passed on to hooks or anything else husk starts.
            std::env::remove_var(FROM_VAR);
            let _ = IDENTITY.set(from.to_string_lossy().into_owned());
        }
        return Ok(());
    }
    let from = identity_of(&nix::sys::stat::fstat(&exe).context("fstat /proc/self/exe")?);
    let copy = sealed_copy(&exe).context("make a sealed copy of husk (CVE-2019-5736)")?;
    drop(exe);
    let argv: Vec<CString> = std::env::args_os()
        .map(|a| CString::new(std::os::unix::ffi::OsStringExt::into_vec(a)))
        .collect::<Result<_, _>>()
        .context("an argument holds a NUL byte")?;
    let envp: Vec<CString> = std::env::vars_os()
        .filter(|(k, _)| k != FROM_VAR)
        .chain([(FROM_VAR.into(), from.into())])
        .filter_map(|(k, v)| {
            let mut kv = std::os::unix::ffi::OsStringExt::into_vec(k);
            kv.push(b'=');
            kv.extend(std::os::unix::ffi::OsStringExt::into_vec(v));
            CString::new(kv).ok()
        })
        .collect();
    // The copy is close-on-exec: execveat(AT_EMPTY_PATH) of an ELF binary
    // does not need the fd after the kernel has opened it.
    let err = nix::unistd::fexecve(copy.as_fd(), &argv, &envp).unwrap_err();
    Err(err).context("re-execute husk from its sealed copy (CVE-2019-5736)")
}

fn sealed_copy(exe: &OwnedFd) -> Result<OwnedFd> {
    let base = MFdFlags::MFD_CLOEXEC | MFdFlags::MFD_ALLOW_SEALING;
    let fd = match memfd_create("husk", base | MFdFlags::from_bits_retain(MFD_EXEC)) {
        Err(nix::errno::Errno::EINVAL) => memfd_create("husk", base),
        r => r,
    }
    .context("memfd_create")?;
    let size = nix::sys::stat::fstat(exe)
        .context("fstat /proc/self/exe")?
        .st_size as usize;
    let mut done = 0;
    while done < size {
        match nix::sys::sendfile::sendfile(&fd, exe, None, size - done) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(e).context("sendfile into the memfd"),
        }
    }
    if done != size {
        anyhow::bail!("copied {done} of {size} bytes of /proc/self/exe");
    }
    fcntl(&fd, FcntlArg::F_ADD_SEALS(seals())).context("fcntl F_ADD_SEALS")?;
    Ok(fd)
}
