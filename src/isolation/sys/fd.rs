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

/// Lowest number used for the temporary copies in [`arrange_fds`]: above every target.
const ARRANGE_SCRATCH_FD: i32 = 64;

/// In a freshly cloned child: put `stdio[i]` (when given) at descriptor `i`, `passed[k]` at
/// `first_passed + k` (neither close-on-exec), the `keep` descriptors right after the
/// passed ones (close-on-exec), and close every other descriptor from 3 up. Returns the
/// `keep` descriptors at their new numbers.
///
/// # Errors
/// `EINVAL` when the targets would not fit below the scratch range; the kernel's answer to
/// `fcntl`, `dup3` or `close_range`.
pub fn arrange_fds<const K: usize>(
    stdio: [Option<i32>; 3],
    passed: &[i32],
    first_passed: i32,
    keep: [i32; K],
) -> Result<[OwnedFd; K], SysError> {
    let n = i32::try_from(passed.len()).unwrap_or(i32::MAX);
    let end = first_passed.saturating_add(n).saturating_add(K as i32);
    if first_passed < 3 || end > ARRANGE_SCRATCH_FD {
        return Err(SysError {
            call: "arrange_fds",
            arg: format!("{} passed, {K} kept", passed.len()),
            errno: nix::errno::Errno::EINVAL,
        });
    }
    // Every source is first copied above every target, so no dup onto a target can close
    // a source that still has to be moved.
    let copy = |fd: i32| {
        // SAFETY: F_DUPFD_CLOEXEC duplicates an open descriptor to the lowest free number at
        // or above the scratch base; the copy is closed by the close_range below.
        let c = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, ARRANGE_SCRATCH_FD) };
        if c < 0 {
            Err(SysError::last("fcntl", format!("F_DUPFD_CLOEXEC {fd}")))
        } else {
            Ok(c)
        }
    };
    let place = |from: i32, to: i32, flags: libc::c_int| {
        // SAFETY: dup3 onto a number this child reserves for the descriptor; whatever was
        // open there was not handed over and is meant to be replaced.
        if unsafe { libc::dup3(from, to, flags) } < 0 {
            Err(SysError::last("dup3", format!("{from} -> {to}")))
        } else {
            Ok(())
        }
    };
    let mut stdio_copies = [None; 3];
    for (slot, fd) in stdio_copies.iter_mut().zip(stdio) {
        if let Some(fd) = fd {
            *slot = Some(copy(fd)?);
        }
    }
    let mut passed_copies = [0; MAX_PASSED_FDS];
    if passed.len() > MAX_PASSED_FDS {
        return Err(SysError {
            call: "arrange_fds",
            arg: format!("{} passed", passed.len()),
            errno: nix::errno::Errno::EINVAL,
        });
    }
    for (slot, fd) in passed_copies.iter_mut().zip(passed) {
        *slot = copy(*fd)?;
    }
    let mut keep_copies = [0; K];
    for (slot, fd) in keep_copies.iter_mut().zip(keep) {
        *slot = copy(fd)?;
    }
    for (i, c) in stdio_copies.iter().enumerate() {
        if let Some(c) = c {
            place(*c, i as i32, 0)?;
        }
    }
    for (k, c) in passed_copies[..passed.len()].iter().enumerate() {
        place(*c, first_passed + k as i32, 0)?;
    }
    for (j, c) in keep_copies.iter().enumerate() {
        place(*c, first_passed + n + j as i32, libc::O_CLOEXEC)?;
    }
    if first_passed > 3 {
        close_fd_range(3, u32::try_from(first_passed - 1).unwrap_or(3))?;
    }
    close_fds_from(u32::try_from(end).unwrap_or(u32::MAX))?;
    Ok(std::array::from_fn(|j| {
        // SAFETY: the number was just made to hold a copy of keep[j] and nothing else in
        // this process owns it.
        unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(first_passed + n + j as i32) }
    }))
}

/// Point descriptors 0, 1 and 2 at `/dev/null`, letting go of whatever they were: for a
/// process that hands its standard streams to a child and must not keep them open.
///
/// # Errors
/// The kernel's answer to `open` or `dup2`.
pub fn null_stdio() -> Result<(), SysError> {
    let null = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
        .map_err(|e| SysError {
            call: "open",
            arg: "/dev/null".into(),
            errno: nix::errno::Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)),
        })?;
    for target in 0..3 {
        // SAFETY: dup2 of an open descriptor onto a standard stream number; the stream the
        // number held is given up on purpose.
        if unsafe { libc::dup2(null.as_raw_fd(), target) } < 0 {
            return Err(SysError::last("dup2", format!("/dev/null -> {target}")));
        }
    }
    Ok(())
}
