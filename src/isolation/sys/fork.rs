//! Running a closure in a forked child and collecting how it ended (tests only).
//!
//! Tests must never confine the test process itself: each enforcement test forks, confines
//! the child, and reads the verdict from the child's exit status.

use std::panic::{AssertUnwindSafe, catch_unwind};

use nix::errno::Errno;
use nix::sys::signal::Signal;
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::{ForkResult, fork};

use super::SysError;

/// Exit code of a child whose closure panicked.
pub(crate) const PANICKED: i32 = 250;

/// How a forked child ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ChildExit {
    /// It exited with this code.
    Code(i32),
    /// A signal killed it.
    Signal(Signal),
}

/// Fork; in the child run `f` and `_exit` with its result ([`PANICKED`] if it panicked);
/// in the parent wait for the child and return how it ended.
///
/// The closure runs in a copy of a multi-threaded process in which only the forking thread
/// exists, so it must not wait on a lock another thread might have held at the fork (the
/// test harness's output capture, for example). glibc's `malloc` is safe to use there.
///
/// # Errors
/// `fork` or `waitpid` failing.
pub(crate) fn fork_and_run<F: FnOnce() -> i32>(f: F) -> Result<ChildExit, SysError> {
    // SAFETY: the child branch below only runs `f` (whose contract above forbids locks held
    // by other threads) and then `_exit`s without returning into the caller's stack frames,
    // so no state copied from the parent's other threads is relied upon.
    let forked = unsafe { fork() };
    match forked {
        Ok(ForkResult::Child) => {
            let code = catch_unwind(AssertUnwindSafe(f)).unwrap_or(PANICKED);
            exit_immediately(code)
        }
        Ok(ForkResult::Parent { child }) => loop {
            match waitpid(child, None) {
                Ok(WaitStatus::Exited(_, code)) => return Ok(ChildExit::Code(code)),
                Ok(WaitStatus::Signaled(_, signal, _)) => return Ok(ChildExit::Signal(signal)),
                Ok(_) | Err(Errno::EINTR) => {}
                Err(errno) => {
                    return Err(SysError {
                        arg: String::new(),
                        call: "waitpid(forked test child)",
                        errno,
                    });
                }
            }
        },
        Err(errno) => Err(SysError {
            arg: String::new(),
            call: "fork",
            errno,
        }),
    }
}

/// `_exit(code)`: end this process now, without running `atexit` handlers or flushing
/// stdio buffers copied from the parent.
pub(crate) fn exit_immediately(code: i32) -> ! {
    // SAFETY: `_exit` takes no pointer and never returns; skipping destructors is the point
    // (they could touch locks or buffers owned by the parent's other threads).
    unsafe { libc::_exit(code) }
}
