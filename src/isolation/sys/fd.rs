//! File-descriptor hygiene and handing descriptors to a child process.

use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command};

use super::SysError;

/// Close every file descriptor numbered `first` or higher.
///
/// # Errors
/// The kernel's answer (`close_range` exists since Linux 5.9).
pub fn close_fds_from(first: u32) -> Result<(), SysError> {
    // SAFETY: close_range takes two integers and a flag word and touches no memory of ours;
    // the caller gives up every descriptor at or above `first` (it owns none it still uses).
    let ret = unsafe { libc::syscall(libc::SYS_close_range, first, u32::MAX, 0u32) };
    if ret == 0 {
        Ok(())
    } else {
        Err(SysError::last("close_range", first.to_string()))
    }
}

/// The most descriptors [`spawn_with_fds`] places.
pub const MAX_PASSED_FDS: usize = 32;

/// First number used for the temporary copies in [`place_fds`]: above every target.
const SCRATCH_FD: i32 = 256;

/// Spawn `cmd` with each `(source, target)` descriptor duplicated onto `target` (and not
/// close-on-exec there). Every other descriptor keeps std's close-on-exec behaviour.
///
/// # Errors
/// As [`Command::spawn`]; `EINVAL` for more than [`MAX_PASSED_FDS`] descriptors or a target
/// at or above 256.
pub fn spawn_with_fds(cmd: &mut Command, fds: &[(&OwnedFd, i32)]) -> std::io::Result<Child> {
    if fds.len() > MAX_PASSED_FDS || fds.iter().any(|(_, t)| *t >= SCRATCH_FD || *t < 0) {
        return Err(std::io::Error::from_raw_os_error(libc::EINVAL));
    }
    let mut pairs = [(-1, -1); MAX_PASSED_FDS];
    for (slot, (fd, target)) in pairs.iter_mut().zip(fds) {
        *slot = (fd.as_raw_fd(), *target);
    }
    let n = fds.len();
    // SAFETY: the hook runs in the forked child before exec, where only async-signal-safe
    // calls are allowed; `place_fds` makes only fcntl/dup2 calls on arrays on its stack and
    // allocates nothing. The sources stay open in the parent until spawn returns, so they
    // are valid in the child.
    unsafe {
        cmd.pre_exec(move || place_fds(&pairs[..n]));
    }
    cmd.spawn()
}

/// Put each source at its target, not close-on-exec. Sources are first copied above every
/// target, so a source that happens to sit at another pair's target is not clobbered.
fn place_fds(pairs: &[(i32, i32)]) -> std::io::Result<()> {
    let mut scratch = [-1; MAX_PASSED_FDS];
    for (slot, (src, _)) in scratch.iter_mut().zip(pairs) {
        // SAFETY: F_DUPFD_CLOEXEC copies an open descriptor to the lowest free number at or
        // above SCRATCH_FD; the copy is closed by the exec that follows.
        let copy = unsafe { libc::fcntl(*src, libc::F_DUPFD_CLOEXEC, SCRATCH_FD) };
        if copy < 0 {
            return Err(std::io::Error::last_os_error());
        }
        *slot = copy;
    }
    for (copy, (_, target)) in scratch.iter().zip(pairs) {
        // SAFETY: dup2 onto a number this about-to-exec child reserves for the pair; the
        // new descriptor is not close-on-exec.
        if unsafe { libc::dup2(*copy, *target) } < 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Close descriptors `first..=last`.
///
/// # Errors
/// The kernel's answer.
pub fn close_fd_range(first: u32, last: u32) -> Result<(), SysError> {
    // SAFETY: close_range takes integers only; the caller gives up those descriptors.
    let ret = unsafe { libc::syscall(libc::SYS_close_range, first, last, 0u32) };
    if ret == 0 {
        Ok(())
    } else {
        Err(SysError::last("close_range", format!("{first}..={last}")))
    }
}

/// Take ownership of a descriptor inherited from the parent process at number `fd`.
///
/// # Errors
/// `EBADF` when nothing is open at `fd`.
pub fn adopt_inherited_fd(fd: i32) -> Result<OwnedFd, SysError> {
    // SAFETY: F_GETFD only queries the descriptor table entry.
    if unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0 {
        return Err(SysError::last("fcntl", format!("F_GETFD {fd}")));
    }
    // SAFETY: the descriptor is open (checked above) and nothing else in this process owns
    // it: it was placed there for us by the parent before exec and is adopted exactly once,
    // at start-up, before any other code could have used that number.
    Ok(unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) })
}
