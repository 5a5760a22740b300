//! Raw syscalls that nix does not wrap (or wraps in a way that allocates
//! between fork and exec), each with a `SAFETY:` note.
//!
//! Every raw syscall of the runtime lives here, but bpf(2) (in
//! `cgroups/sys.rs`) and the xattr calls of `husk bundle` (`image/fs.rs`).
//! The other `unsafe` blocks take ownership of an fd the kernel has just
//! handed over (`OwnedFd::from_raw_fd`: seccomp's listener, a received pty
//! master), borrow the stdio fds by number (`linux/stdio.rs`: std's handles
//! would allocate and lock in the child), close an inherited fd in the
//! child (`process/init.rs`), or clone (`linux/clone.rs`).

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;

fn cvt(ret: libc::c_long) -> io::Result<libc::c_long> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

fn cstr(p: &Path) -> io::Result<CString> {
    use std::os::unix::ffi::OsStrExt;
    CString::new(p.as_os_str().as_bytes()).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))
}

/// Mark every fd from `first` upwards close-on-exec. This is what keeps
/// host fds out of the container (CVE-2024-21626).
///
/// close_range(2) with CLOSE_RANGE_CLOEXEC where it works; where it does
/// not (EPERM or ENOSYS: a seccomp filter of the caller's own, a kernel
/// before 5.11), every open fd is marked one by one with fcntl(2), found
/// in /proc/self/fd, or failing that by trying each number below
/// RLIMIT_NOFILE.
pub fn cloexec_from(first: u32) -> io::Result<()> {
    const CLOSE_RANGE_CLOEXEC: libc::c_uint = 1 << 2;
    // SAFETY: close_range only changes fd flags; no memory is passed.
    let r =
        cvt(unsafe { libc::syscall(libc::SYS_close_range, first, u32::MAX, CLOSE_RANGE_CLOEXEC) });
    match r {
        Ok(_) => Ok(()),
        Err(e)
            if matches!(
                e.raw_os_error(),
                Some(libc::EPERM | libc::ENOSYS | libc::EINVAL)
            ) =>
        {
            cloexec_each(first)
        }
        Err(e) => Err(e),
    }
}

/// The fallback of [`cloexec_from`]: fcntl(F_SETFD, FD_CLOEXEC) on each
/// open fd from `first` upwards.
fn cloexec_each(first: u32) -> io::Result<()> {
    let mark = |fd: RawFd| -> io::Result<()> {
        // SAFETY: F_GETFD/F_SETFD only read and change the fd's flags; an
        // fd that is not open gives EBADF, which is not an error here.
        let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
        if flags < 0 {
            return match io::Error::last_os_error() {
                e if e.raw_os_error() == Some(libc::EBADF) => Ok(()),
                e => Err(e),
            };
        }
        if flags & libc::FD_CLOEXEC == 0 {
            // SAFETY: as above.
            cvt(
                unsafe { libc::fcntl(fd, libc::F_SETFD, flags | libc::FD_CLOEXEC) } as libc::c_long,
            )?;
        }
        Ok(())
    };
    let first = RawFd::try_from(first).unwrap_or(RawFd::MAX);
    if let Ok(dir) = std::fs::read_dir("/proc/self/fd") {
        // The directory's own fd is listed too; it is close-on-exec
        // already and marking it again is harmless.
        let fds: Vec<RawFd> = dir
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse().ok())
            .filter(|&fd| fd >= first)
            .collect();
        return fds.into_iter().try_for_each(mark);
    }
    // No /proc: every number an fd can have.
    let (_, hard) = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
        .map_err(io::Error::from)?;
    let top = RawFd::try_from(hard.min(1 << 20)).unwrap_or(1 << 20);
    (first..top).try_for_each(mark)
}

/// pidfd_open(2): an fd that becomes readable when `pid` exits.
pub fn pidfd_open(pid: i32) -> io::Result<OwnedFd> {
    // SAFETY: plain syscall with integer arguments; the result is a new fd.
    let fd = cvt(unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) })?;
    // SAFETY: the fd was just returned by the kernel and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// pidfd_send_signal(2): signal exactly the process behind `pidfd`, never
/// a recycled pid.
pub fn pidfd_send_signal(pidfd: BorrowedFd, sig: i32) -> io::Result<()> {
    // SAFETY: integer arguments; a NULL siginfo is allowed.
    cvt(unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            sig,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    })?;
    Ok(())
}

/// Take every pending `sig` of this thread off its pending set
/// (sigtimedwait(2) with a zero timeout; `sig` must be blocked), so that
/// unblocking it delivers nothing.
pub fn discard_pending(sig: libc::c_int) {
    // SAFETY: `set` is initialised by sigemptyset before use, the timespec
    // is a valid zero timeout, and a NULL siginfo is allowed.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, sig);
        let zero = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        while libc::sigtimedwait(&set, std::ptr::null_mut(), &zero) == sig {}
    }
}

/// `struct mount_attr` of mount_setattr(2).
#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

pub const MOUNT_ATTR_RDONLY: u64 = 0x1;
pub const MOUNT_ATTR_NOSUID: u64 = 0x2;
pub const MOUNT_ATTR_NODEV: u64 = 0x4;
pub const MOUNT_ATTR_NOEXEC: u64 = 0x8;
pub const MOUNT_ATTR_RELATIME: u64 = 0x0;
pub const MOUNT_ATTR_NOATIME: u64 = 0x10;
pub const MOUNT_ATTR_STRICTATIME: u64 = 0x20;
pub const MOUNT_ATTR__ATIME: u64 = 0x70;
pub const MOUNT_ATTR_NODIRATIME: u64 = 0x80;
pub const MOUNT_ATTR_IDMAP: u64 = 0x100000;
pub const MOUNT_ATTR_NOSYMFOLLOW: u64 = 0x200000;

/// mount_setattr(2) on the mount at `fd` (AT_EMPTY_PATH), recursively when
/// `recursive` is set.
pub fn mount_setattr(
    fd: BorrowedFd,
    recursive: bool,
    set: u64,
    clr: u64,
    userns: Option<BorrowedFd>,
) -> io::Result<()> {
    let attr = MountAttr {
        attr_set: set,
        attr_clr: clr,
        propagation: 0,
        userns_fd: userns.map(|f| f.as_raw_fd() as u64).unwrap_or(0),
    };
    let mut flags = libc::AT_EMPTY_PATH;
    if recursive {
        flags |= libc::AT_RECURSIVE;
    }
    // SAFETY: "" is a valid C string; `attr` is a valid mount_attr of the size passed.
    cvt(unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd.as_raw_fd(),
            c"".as_ptr(),
            flags,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    })?;
    Ok(())
}

/// open_tree(2) with OPEN_TREE_CLONE: a detached copy of the mount at `path`.
pub fn open_tree_clone(path: &Path, recursive: bool) -> io::Result<OwnedFd> {
    const OPEN_TREE_CLONE: libc::c_uint = 1;
    let p = cstr(path)?;
    let mut flags = OPEN_TREE_CLONE | libc::O_CLOEXEC as libc::c_uint;
    if recursive {
        flags |= libc::AT_RECURSIVE as libc::c_uint;
    }
    // SAFETY: `p` is a valid C string; the result is a new fd we own.
    let fd = cvt(unsafe { libc::syscall(libc::SYS_open_tree, libc::AT_FDCWD, p.as_ptr(), flags) })?;
    // SAFETY: the fd was just returned by the kernel and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// move_mount(2) of a detached tree `from` onto the path behind `to_path`.
pub fn move_mount_to(from: BorrowedFd, to_path: &Path) -> io::Result<()> {
    const MOVE_MOUNT_F_EMPTY_PATH: libc::c_uint = 0x4;
    // The target is usually a /proc/self/fd/N magic link: follow it.
    const MOVE_MOUNT_T_SYMLINKS: libc::c_uint = 0x10;
    let p = cstr(to_path)?;
    // SAFETY: valid C strings; integer flags.
    cvt(unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            from.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_FDCWD,
            p.as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_SYMLINKS,
        )
    })?;
    Ok(())
}

/// Path through which the kernel reaches the object behind `fd`.
pub fn fd_path(fd: &impl AsRawFd) -> String {
    format!("/proc/self/fd/{}", fd.as_raw_fd())
}

/// ioctl(TIOCSCTTY): make the tty on `fd` our controlling terminal.
pub fn set_controlling_tty(fd: RawFd) -> io::Result<()> {
    // SAFETY: integer arguments only.
    cvt(unsafe { libc::ioctl(fd, libc::TIOCSCTTY, 0) } as libc::c_long)?;
    Ok(())
}

/// ioctl(TIOCSWINSZ) on `fd`.
pub fn set_winsize(fd: RawFd, rows: u16, cols: u16) -> io::Result<()> {
    let ws = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: `ws` is a valid winsize that outlives the call.
    cvt(unsafe { libc::ioctl(fd, libc::TIOCSWINSZ, &ws) } as libc::c_long)?;
    Ok(())
}

/// ioctl(TIOCGWINSZ) on `fd`.
pub fn get_winsize(fd: RawFd) -> io::Result<(u16, u16)> {
    let mut ws = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: `ws` is a valid, writable winsize.
    cvt(unsafe { libc::ioctl(fd, libc::TIOCGWINSZ, &mut ws) } as libc::c_long)?;
    Ok((ws.ws_row, ws.ws_col))
}

/// Raw execve(2) with prepared C strings. Returns only on failure.
pub fn execve(path: &CString, argv: &[CString], envp: &[CString]) -> io::Error {
    let mut a: Vec<*const libc::c_char> = argv.iter().map(|s| s.as_ptr()).collect();
    a.push(std::ptr::null());
    let mut e: Vec<*const libc::c_char> = envp.iter().map(|s| s.as_ptr()).collect();
    e.push(std::ptr::null());
    // SAFETY: all pointers point into CStrings that outlive the call, and
    // both arrays are NULL-terminated.
    unsafe { libc::execve(path.as_ptr(), a.as_ptr(), e.as_ptr()) };
    io::Error::last_os_error()
}

/// keyctl(KEYCTL_JOIN_SESSION_KEYRING, name): a fresh session keyring, so
/// the container does not share the caller's keys.
pub fn join_session_keyring(name: &str) -> io::Result<()> {
    const KEYCTL_JOIN_SESSION_KEYRING: libc::c_long = 1;
    let n = CString::new(name).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: `n` is a valid C string for the duration of the call.
    cvt(unsafe { libc::syscall(libc::SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, n.as_ptr()) })?;
    Ok(())
}

/// _exit(2): leave the forked child without running atexit handlers or
/// flushing the parent's buffered stdio a second time.
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit never returns and touches no memory of ours.
    unsafe { libc::_exit(code) }
}

/// seccomp(SECCOMP_SET_MODE_FILTER, flags, prog) with a classic BPF
/// program given as its raw `sock_filter` array. Returns what the kernel
/// returns: a listener fd with SECCOMP_FILTER_FLAG_NEW_LISTENER, else 0.
/// Allocates nothing: safe in the child right before execve.
pub fn seccomp_set_filter(prog: &[u8], flags: u32) -> io::Result<libc::c_long> {
    const SECCOMP_SET_MODE_FILTER: libc::c_long = 1;
    let len = prog.len() / std::mem::size_of::<libc::sock_filter>();
    let fprog = libc::sock_fprog {
        len: u16::try_from(len).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?,
        filter: prog.as_ptr() as *mut libc::sock_filter,
    };
    // SAFETY: `fprog` points at `len` whole sock_filter records inside
    // `prog`, which outlives the call; the kernel copies the program.
    // sock_filter has 2-byte alignment needs only for its u16 code and the
    // kernel reads it with copy_from_user, so any alignment is fine.
    cvt(unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            SECCOMP_SET_MODE_FILTER,
            flags as libc::c_long,
            &fprog as *const libc::sock_fprog,
        )
    })
}

/// Give every signal its default disposition and empty the signal mask:
/// what a freshly started program expects. execve keeps ignored signals
/// ignored and the mask as it is, and husk's process has SIGPIPE ignored
/// (Rust's runtime does that) and may have inherited more (`nohup`, a
/// shell's background job).
pub fn reset_signals() -> io::Result<()> {
    /// The kernel's `struct sigaction` (rt_sigaction(2)): the C library's
    /// wrapper refuses the signals it reserves (32, 33), which a
    /// multi-threaded caller's posix_spawn leaves ignored.
    #[repr(C)]
    struct KernelSigaction {
        handler: usize,
        flags: libc::c_ulong,
        restorer: usize,
        mask: u64,
    }
    let dfl = KernelSigaction {
        handler: libc::SIG_DFL,
        flags: 0,
        restorer: 0,
        mask: 0,
    };
    // Only the ignored ones need it (handlers do not survive execve, and
    // husk installs none): /proc/thread-self/status says which, in one read
    // instead of 62 calls. Without /proc, all of them.
    let ignored = std::fs::read_to_string("/proc/thread-self/status")
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("SigIgn:"))?;
            u64::from_str_radix(line["SigIgn:".len()..].trim(), 16).ok()
        })
        .unwrap_or(u64::MAX);
    for sig in 1..=64 {
        if sig == libc::SIGKILL || sig == libc::SIGSTOP || ignored & (1 << (sig - 1)) == 0 {
            continue;
        }
        // SAFETY: SIG_DFL installs no handler of ours; the kernel copies
        // the struct, which outlives the call.
        cvt(unsafe {
            libc::syscall(
                libc::SYS_rt_sigaction,
                sig,
                &dfl as *const KernelSigaction,
                std::ptr::null_mut::<KernelSigaction>(),
                8usize,
            )
        })?;
    }
    nix::sys::signal::SigSet::empty()
        .thread_set_mask()
        .map_err(io::Error::from)
}

/// End husk the way a C tool (or runc) ends when its stdout is a pipe
/// nobody reads any more: killed by SIGPIPE, without a message.
pub fn die_of_sigpipe() -> ! {
    // SAFETY: SIG_DFL installs no handler; raise then kills us. Should it
    // return (SIGPIPE blocked), _exit with the status a shell would show.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGPIPE);
        libc::sigprocmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
        libc::raise(libc::SIGPIPE);
        libc::_exit(128 + libc::SIGPIPE)
    }
}

/// prctl(PR_CAPBSET_DROP): drop capability number `cap` from the bounding
/// set. EINVAL means the kernel does not know `cap`.
pub fn capbset_drop(cap: u8) -> io::Result<()> {
    // SAFETY: integer arguments only.
    cvt(
        unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0, 0, 0) }
            as libc::c_long,
    )?;
    Ok(())
}

/// capset(2), version 3: effective, permitted and inheritable in one call
/// (nix has no capset; the caps crate sets one set per call).
pub fn capset(effective: u64, permitted: u64, inheritable: u64) -> io::Result<()> {
    #[repr(C)]
    struct Header {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    #[derive(Clone, Copy)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;
    let mut hdr = Header {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    let data = [
        Data {
            effective: effective as u32,
            permitted: permitted as u32,
            inheritable: inheritable as u32,
        },
        Data {
            effective: (effective >> 32) as u32,
            permitted: (permitted >> 32) as u32,
            inheritable: (inheritable >> 32) as u32,
        },
    ];
    // SAFETY: capset reads a v3 header and two data structs that live on
    // this stack frame for the duration of the call.
    cvt(unsafe { libc::syscall(libc::SYS_capset, &mut hdr as *mut Header, data.as_ptr()) })?;
    Ok(())
}

/// ioprio_set(2) of the calling process (`who` is IOPRIO_WHO_PROCESS).
pub fn ioprio_set(which: libc::c_long, prio: i64) -> io::Result<()> {
    // SAFETY: integer arguments only.
    cvt(unsafe { libc::syscall(libc::SYS_ioprio_set, which, 0, prio as libc::c_long) })?;
    Ok(())
}

/// `struct sched_attr` of sched_setattr(2).
#[repr(C)]
#[derive(Debug, Default)]
pub struct SchedAttr {
    pub size: u32,
    pub sched_policy: u32,
    pub sched_flags: u64,
    pub sched_nice: i32,
    pub sched_priority: u32,
    pub sched_runtime: u64,
    pub sched_deadline: u64,
    pub sched_period: u64,
}

/// sched_setattr(2) of the calling thread.
pub fn sched_setattr(attr: &SchedAttr) -> io::Result<()> {
    // SAFETY: `attr` is a valid sched_attr; the caller sets its size field
    // and the kernel reads at most that many bytes.
    cvt(unsafe { libc::syscall(libc::SYS_sched_setattr, 0, attr as *const SchedAttr, 0) })?;
    Ok(())
}

/// pidfd_getfd(2): a copy (close-on-exec) of fd `remote` of the process
/// behind `pidfd`.
pub fn pidfd_getfd(pidfd: BorrowedFd, remote: i32) -> io::Result<OwnedFd> {
    // SAFETY: integer arguments only.
    let fd = cvt(unsafe { libc::syscall(libc::SYS_pidfd_getfd, pidfd.as_raw_fd(), remote, 0) })?;
    // SAFETY: on success the kernel returns a new fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}
