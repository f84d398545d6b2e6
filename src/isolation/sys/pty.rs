//! Pseudo-terminals: opening a pair, window sizes, the controlling terminal, exclusive
//! mode. The decisions (which stream gets the pair, when the caller's terminal is raw) are
//! `isolation::pty`'s.

use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};

use nix::fcntl::{FcntlArg, FdFlag, fcntl};
use nix::pty::Winsize;
use nix::sys::termios::Termios;

use super::SysError;

nix::ioctl_read_bad!(tiocgwinsz, libc::TIOCGWINSZ, libc::winsize);
nix::ioctl_write_ptr_bad!(tiocswinsz, libc::TIOCSWINSZ, libc::winsize);
nix::ioctl_write_int_bad!(tiocsctty, libc::TIOCSCTTY);
nix::ioctl_read_bad!(tiocgexcl, libc::TIOCGEXCL, libc::c_int);
nix::ioctl_none_bad!(tiocexcl, libc::TIOCEXCL);
nix::ioctl_none_bad!(tiocnxcl, libc::TIOCNXCL);

/// Both ends of a new pseudo-terminal, close-on-exec.
#[derive(Debug)]
pub struct PtyPair {
    /// The caller's end.
    pub master: OwnedFd,
    /// The end that becomes the sandbox's standard streams.
    pub slave: OwnedFd,
}

/// Open a pseudo-terminal pair with the given window size and settings; neither end
/// becomes anyone's controlling terminal (`O_NOCTTY`) and both are close-on-exec.
///
/// # Errors
/// The kernel's answer to `openpty` or `fcntl`.
pub fn open_pty(size: Option<&Winsize>, settings: Option<&Termios>) -> Result<PtyPair, SysError> {
    let pair = nix::pty::openpty(size, settings).map_err(|errno| SysError {
        call: "openpty",
        arg: String::new(),
        errno,
    })?;
    for fd in [&pair.master, &pair.slave] {
        fcntl(fd, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC)).map_err(|errno| SysError {
            call: "fcntl",
            arg: "F_SETFD FD_CLOEXEC".into(),
            errno,
        })?;
    }
    Ok(PtyPair {
        master: pair.master,
        slave: pair.slave,
    })
}

/// The window size of terminal `fd` (`TIOCGWINSZ`).
///
/// # Errors
/// `ENOTTY` when `fd` is not a terminal.
pub fn window_size(fd: BorrowedFd<'_>) -> Result<Winsize, SysError> {
    let mut size = Winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: `size` is a live, writable winsize on our stack for the duration of the
    // call, the type TIOCGWINSZ writes; `fd` is borrowed, so it is open.
    unsafe { tiocgwinsz(fd.as_raw_fd(), &mut size) }.map_err(|errno| SysError {
        call: "ioctl",
        arg: "TIOCGWINSZ".into(),
        errno,
    })?;
    Ok(size)
}

/// Set the window size of terminal `fd` (`TIOCSWINSZ`); the kernel signals `SIGWINCH` to
/// the terminal's foreground process group when it changed.
///
/// # Errors
/// `ENOTTY` when `fd` is not a terminal.
pub fn set_window_size(fd: BorrowedFd<'_>, size: &Winsize) -> Result<(), SysError> {
    // SAFETY: `size` points to a valid winsize that outlives the call and is only read;
    // `fd` is borrowed, so it is open.
    unsafe { tiocswinsz(fd.as_raw_fd(), size) }.map_err(|errno| SysError {
        call: "ioctl",
        arg: "TIOCSWINSZ".into(),
        errno,
    })?;
    Ok(())
}

/// Make terminal `fd` the calling session leader's controlling terminal (`TIOCSCTTY`
/// with 0: never steal it from another session).
///
/// # Errors
/// `EPERM` when the caller is not a session leader or the terminal is another session's.
pub fn set_controlling_terminal(fd: BorrowedFd<'_>) -> Result<(), SysError> {
    // SAFETY: TIOCSCTTY takes an integer argument and touches no memory of ours; `fd` is
    // borrowed, so it is open.
    unsafe { tiocsctty(fd.as_raw_fd(), 0) }.map_err(|errno| SysError {
        call: "ioctl",
        arg: "TIOCSCTTY".into(),
        errno,
    })?;
    Ok(())
}

/// Whether terminal `fd` is in exclusive mode (`TIOCGEXCL`, Linux 3.8).
///
/// # Errors
/// `ENOTTY` when `fd` is not a terminal.
pub fn is_exclusive(fd: BorrowedFd<'_>) -> Result<bool, SysError> {
    let mut on: libc::c_int = 0;
    // SAFETY: `on` is a live, writable int on our stack, what TIOCGEXCL writes; `fd` is
    // borrowed, so it is open.
    unsafe { tiocgexcl(fd.as_raw_fd(), &mut on) }.map_err(|errno| SysError {
        call: "ioctl",
        arg: "TIOCGEXCL".into(),
        errno,
    })?;
    Ok(on != 0)
}

/// Put terminal `fd` in or out of exclusive mode (`TIOCEXCL` / `TIOCNXCL`).
///
/// # Errors
/// `ENOTTY` when `fd` is not a terminal.
pub fn set_exclusive(fd: BorrowedFd<'_>, on: bool) -> Result<(), SysError> {
    let (ret, arg) = if on {
        // SAFETY: TIOCEXCL takes no argument and touches no memory; `fd` is open.
        (unsafe { tiocexcl(fd.as_raw_fd()) }, "TIOCEXCL")
    } else {
        // SAFETY: TIOCNXCL takes no argument and touches no memory; `fd` is open.
        (unsafe { tiocnxcl(fd.as_raw_fd()) }, "TIOCNXCL")
    };
    ret.map_err(|errno| SysError {
        call: "ioctl",
        arg: arg.into(),
        errno,
    })?;
    Ok(())
}

/// Standard stream `i` (0, 1 or 2; anything larger means 2) of this process.
#[must_use]
pub fn standard_stream(i: usize) -> BorrowedFd<'static> {
    let fd = match i {
        0 => libc::STDIN_FILENO,
        1 => libc::STDOUT_FILENO,
        _ => libc::STDERR_FILENO,
    };
    // SAFETY: this program never closes descriptors 0-2 (they are only ever replaced in
    // place with dup2, which keeps the number open), so the borrow is valid for the whole
    // life of the process.
    unsafe { BorrowedFd::borrow_raw(fd) }
}
