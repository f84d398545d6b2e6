//! File-descriptor hygiene and handing descriptors to a child process.

use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
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

/// First number used for the temporary copies in [`spawn_with_fds`]: above every target.
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
    let mut moves = [(-1, -1, 0); MAX_PASSED_FDS];
    for (slot, (fd, target)) in moves.iter_mut().zip(fds) {
        *slot = (fd.as_raw_fd(), *target, 0);
    }
    let n = fds.len();
    // SAFETY: the hook runs in the forked child before exec, where only async-signal-safe
    // calls are allowed; `move_fds` makes only fcntl/dup3 calls on arrays on its stack and
    // allocates nothing. The sources stay open in the parent until spawn returns, so they
    // are valid in the child.
    unsafe {
        cmd.pre_exec(move || move_fds(&moves[..n], SCRATCH_FD));
    }
    cmd.spawn()
}

/// The most descriptors one [`move_fds`] places.
const MAX_MOVES: usize = MAX_PASSED_FDS + 8;

/// Put each `(source, target, flags)` source at its target (`flags`: 0 or `O_CLOEXEC`).
/// Sources are first copied to `scratch` or above, beyond every target, so a source that
/// sits at another pair's target is not clobbered; the copies are close-on-exec and left
/// open. Makes only `fcntl`/`dup3` calls on its own stack: async-signal-safe.
fn move_fds(moves: &[(i32, i32, libc::c_int)], scratch: i32) -> std::io::Result<()> {
    if moves.len() > MAX_MOVES {
        return Err(std::io::Error::from_raw_os_error(libc::EINVAL));
    }
    let mut copies = [-1; MAX_MOVES];
    for (slot, (src, _, _)) in copies.iter_mut().zip(moves) {
        // SAFETY: F_DUPFD_CLOEXEC copies an open descriptor to the lowest free number at or
        // above `scratch`; the copy is the caller's to close (or exec's).
        let copy = unsafe { libc::fcntl(*src, libc::F_DUPFD_CLOEXEC, scratch) };
        if copy < 0 {
            return Err(std::io::Error::last_os_error());
        }
        *slot = copy;
    }
    for (copy, (_, target, flags)) in copies.iter().zip(moves) {
        // SAFETY: dup3 onto a number the caller reserves for the pair (never the copy's own
        // number: copies lie above every target); whatever was open there is replaced on
        // purpose.
        if unsafe { libc::dup3(*copy, *target, *flags) } < 0 {
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
    if first_passed < 3
        || end > ARRANGE_SCRATCH_FD
        || passed.len() > MAX_PASSED_FDS
        || 3 + passed.len() + K > MAX_MOVES
    {
        return Err(SysError {
            call: "arrange_fds",
            arg: format!("{} passed, {K} kept", passed.len()),
            errno: nix::errno::Errno::EINVAL,
        });
    }
    let mut moves = [(-1, -1, 0); MAX_MOVES];
    let mut count = 0;
    let targets = (0..3)
        .filter_map(|i| stdio[i as usize].map(|fd| (fd, i, 0)))
        .chain((first_passed..).zip(passed).map(|(t, fd)| (*fd, t, 0)))
        .chain(
            (first_passed + n..)
                .zip(keep)
                .map(|(t, fd)| (fd, t, libc::O_CLOEXEC)),
        );
    for (slot, m) in moves.iter_mut().zip(targets) {
        *slot = m;
        count += 1;
    }
    move_fds(&moves[..count], ARRANGE_SCRATCH_FD).map_err(|e| SysError {
        call: "arrange_fds",
        arg: String::from("fcntl/dup3"),
        errno: nix::errno::Errno::from_raw(e.raw_os_error().unwrap_or(libc::EBADF)),
    })?;
    // The scratch copies lie at or above `end` and go with everything else there.
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

/// The most descriptors [`recv_with_fds`] takes from one message.
pub const MAX_RECEIVED_FDS: usize = MAX_PASSED_FDS + 8;

/// Receive one message of at most `buf.len()` bytes on `sock` with the descriptors it
/// carries (`SCM_RIGHTS`), each close-on-exec and owned by the caller. A message carrying
/// more than [`MAX_RECEIVED_FDS`] descriptors, or cut short, is refused (its descriptors
/// are closed).
///
/// # Errors
/// The kernel's answer to `recvmsg`; `EMSGSIZE` for a truncated message or too many
/// descriptors.
pub fn recv_with_fds(
    sock: BorrowedFd<'_>,
    buf: &mut [u8],
) -> Result<(usize, Vec<OwnedFd>), SysError> {
    use nix::sys::socket::{ControlMessageOwned, MsgFlags, recvmsg};
    let mut space = nix::cmsg_space!([std::os::fd::RawFd; MAX_RECEIVED_FDS]);
    let mut iov = [std::io::IoSliceMut::new(buf)];
    let msg = recvmsg::<()>(
        sock.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )
    .map_err(|errno| SysError {
        call: "recvmsg",
        arg: String::new(),
        errno,
    })?;
    let mut fds = Vec::new();
    for cmsg in msg.cmsgs().map_err(|errno| SysError {
        call: "recvmsg",
        arg: "control messages".into(),
        errno,
    })? {
        if let ControlMessageOwned::ScmRights(raw) = cmsg {
            for fd in raw {
                // SAFETY: SCM_RIGHTS just installed this descriptor in our table for this
                // message; nothing else in the process knows its number, so it is owned
                // once, here.
                fds.push(unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) });
            }
        }
    }
    let truncated = msg
        .flags
        .intersects(MsgFlags::MSG_TRUNC | MsgFlags::MSG_CTRUNC);
    let n = msg.bytes;
    if truncated || fds.len() > MAX_RECEIVED_FDS {
        return Err(SysError {
            call: "recvmsg",
            arg: "message".into(),
            errno: nix::errno::Errno::EMSGSIZE,
        });
    }
    Ok((n, fds))
}
