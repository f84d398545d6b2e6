//! File-descriptor hygiene and handing one descriptor to a child process.

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

/// Spawn `cmd` with `channel` duplicated onto descriptor `target` (and not close-on-exec
/// there). Every other descriptor keeps std's close-on-exec behaviour.
///
/// # Errors
/// As [`Command::spawn`].
pub fn spawn_with_channel(
    cmd: &mut Command,
    channel: &OwnedFd,
    target: i32,
) -> std::io::Result<Child> {
    let src = channel.as_raw_fd();
    // SAFETY: the hook runs in the forked child before exec, where only async-signal-safe
    // calls are allowed; `place_fd` makes only fcntl/dup2 calls and allocates nothing.
    // `src` stays open in the parent until spawn returns, so it is valid in the child.
    unsafe {
        cmd.pre_exec(move || place_fd(src, target));
    }
    cmd.spawn()
}

/// Make `src` available as `target` in this process, without close-on-exec.
fn place_fd(src: i32, target: i32) -> std::io::Result<()> {
    if src != target {
        // SAFETY: dup2 on two descriptor numbers; `src` is open (see the caller), and
        // `target` is ours to replace in this about-to-exec child.
        if unsafe { libc::dup2(src, target) } < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // dup2's copy is not close-on-exec.
        return Ok(());
    }
    // SAFETY: F_GETFD only reads the descriptor flags of an open descriptor.
    let flags = unsafe { libc::fcntl(src, libc::F_GETFD) };
    if flags < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: F_SETFD only writes the descriptor flags of an open descriptor.
    if unsafe { libc::fcntl(src, libc::F_SETFD, flags & !libc::FD_CLOEXEC) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
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
