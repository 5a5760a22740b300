//! The one place husk forks: a raw clone(2) with namespace flags.

use anyhow::Result;

/// Where clone() returned.
pub enum Forked {
    Parent(i32),
    Child,
}

/// clone(2) with `flags` (CLONE_NEW* bits) and SIGCHLD, fork-style: the
/// child continues on a copy of our stack with a copy of our memory.
///
/// Must only be called while husk is single-threaded (it always is: nothing
/// starts a thread), so the child may allocate and use std freely.
pub fn clone(flags: libc::c_int) -> Result<Forked> {
    // SAFETY: with a NULL stack, clone behaves like fork(): the child runs
    // on a copy-on-write copy of this stack. husk never starts threads, so
    // no lock can be held by another thread at this point.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone,
            (flags | libc::SIGCHLD) as libc::c_ulong,
            std::ptr::null_mut::<libc::c_void>(),
            std::ptr::null_mut::<libc::c_int>(),
            std::ptr::null_mut::<libc::c_int>(),
            0 as libc::c_ulong,
        )
    };
    match ret {
        -1 => Err(anyhow::Error::new(std::io::Error::last_os_error()).context("clone")),
        0 => Ok(Forked::Child),
        pid => Ok(Forked::Parent(pid as i32)),
    }
}
