//! `clone(2)` used like `fork(2)`, with namespace flags.

use nix::sched::CloneFlags;
use nix::unistd::Pid;

use super::SysError;

/// Which side of a clone the caller is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloneResult {
    /// In the parent; the child's pid (in the parent's pid namespace).
    Parent(Pid),
    /// In the new child.
    Child,
}

/// Create a child process in new namespaces, continuing on a copy of the caller's stack
/// exactly as `fork` does; the child gets `SIGCHLD` semantics.
///
/// The caller must be single-threaded or the child must only call async-signal-safe
/// functions before `execve`/`_exit`: only the calling thread exists in the child.
///
/// # Errors
/// The kernel's answer, e.g. `EPERM` when user namespaces are forbidden.
pub fn clone_process(flags: CloneFlags) -> Result<CloneResult, SysError> {
    let raw = flags.bits() as libc::c_ulong | libc::SIGCHLD as libc::c_ulong;
    // SAFETY: raw clone with a null stack pointer behaves like fork: the child resumes on a
    // copy-on-write copy of this stack, so no memory is shared with the parent. We pass null
    // parent/child tid pointers and no TLS (no CLONE_SETTLS/…TID flags are ever set by
    // callers: `flags` only carries CLONE_NEW* bits). glibc caches no pid since 2.25, so
    // getpid() in the child is correct.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone,
            raw,
            std::ptr::null_mut::<libc::c_void>(),
            std::ptr::null_mut::<libc::c_int>(),
            std::ptr::null_mut::<libc::c_int>(),
            0 as libc::c_ulong,
        )
    };
    match ret {
        -1 => Err(SysError::last("clone", format!("{flags:?}"))),
        0 => Ok(CloneResult::Child),
        pid => Ok(CloneResult::Parent(Pid::from_raw(pid as libc::pid_t))),
    }
}

/// End the calling process at once with `code`, running no destructors or `atexit`
/// handlers (the right way out of a forked child that did not exec).
pub fn exit_immediately(code: i32) -> ! {
    // SAFETY: _exit is async-signal-safe and takes no pointers; it cannot fail.
    unsafe { libc::_exit(code) }
}

/// A process descriptor for `pid` (`pidfd_open(2)`, Linux 5.3), close-on-exec: pollable,
/// readable once the process has exited, and never confused with a later process that
/// reuses the number.
///
/// # Errors
/// `ESRCH` when no such process exists, `ENOSYS` on older kernels.
pub fn pidfd_open(pid: Pid) -> Result<std::os::fd::OwnedFd, SysError> {
    // SAFETY: pidfd_open takes a pid and flags (0: close-on-exec is implied) and reads no
    // memory.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid.as_raw(), 0) };
    if fd < 0 {
        return Err(SysError::last("pidfd_open", pid.to_string()));
    }
    // SAFETY: the kernel just returned this new descriptor to us; nothing else owns it.
    Ok(unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd as i32) })
}

/// Become uid and gid 65534 (`nobody`), real, effective and saved, with no supplementary
/// groups. For probes run as root in a throw-away child.
///
/// # Errors
/// The kernel's answer (`EPERM` when not root).
pub fn drop_to_nobody() -> Result<(), SysError> {
    // Raw system calls rather than libc's wrappers: glibc's setuid family signals every
    // thread, which is wrong in a child forked from a multi-threaded process.
    // SAFETY: setgroups with size 0 reads no memory.
    let r = unsafe { libc::syscall(libc::SYS_setgroups, 0, std::ptr::null::<libc::gid_t>()) };
    if r != 0 {
        return Err(SysError::last("setgroups", "[]"));
    }
    // SAFETY: integer arguments only.
    let r = unsafe { libc::syscall(libc::SYS_setresgid, 65534, 65534, 65534) };
    if r != 0 {
        return Err(SysError::last("setresgid", "65534"));
    }
    // SAFETY: integer arguments only.
    let r = unsafe { libc::syscall(libc::SYS_setresuid, 65534, 65534, 65534) };
    if r != 0 {
        return Err(SysError::last("setresuid", "65534"));
    }
    Ok(())
}
