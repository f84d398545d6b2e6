//! The only `unsafe` code of the project: thin wrappers over system calls that have no safe
//! binding in `nix`.
//!
//! Each function performs one kernel operation with typed arguments and returns a
//! [`SysError`] naming the call; none of them decides anything. The order in which they are
//! called, and why, is `child.rs`'s and `launcher.rs`'s business.

mod caps;
mod clone;
mod env;
mod fd;
#[cfg(test)]
pub(crate) mod fork;
pub(crate) mod keyring;
pub(crate) mod landlock_abi;
pub mod mountfd;
mod net;
#[cfg(test)]
pub(crate) mod probe;
mod pty;
mod signal;

pub use caps::drop_all_capabilities;
pub use clone::{CloneResult, clone_process, drop_to_nobody, exit_immediately, pidfd_open};
pub use env::{StringAreas, wipe_arguments_and_environment};
pub use fd::{
    MAX_PASSED_FDS, adopt_inherited_fd, arrange_fds, close_fd_range, close_fds_from, null_stdio,
    recv_with_fds, spawn_with_fds,
};
pub(crate) use keyring::join_session_keyring;
pub use net::bring_loopback_up;
pub use pty::{
    is_exclusive, open_pty, set_controlling_terminal, set_exclusive, set_window_size,
    standard_stream, window_size,
};
pub use signal::reset_signal_dispositions;

use nix::errno::Errno;

/// A failed system call: which one, on what, and the kernel's answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{call}{} failed: {errno}", if arg.is_empty() { String::new() } else { format!("({arg})") })]
pub struct SysError {
    /// The system call.
    pub call: &'static str,
    /// Its key argument, for the message.
    pub arg: String,
    /// The error number.
    pub errno: Errno,
}

impl SysError {
    /// Build from the current `errno`.
    pub(crate) fn last(call: &'static str, arg: impl Into<String>) -> Self {
        SysError {
            call,
            arg: arg.into(),
            errno: Errno::last(),
        }
    }
}

/// The result of a raw `syscall(2)` that returns a number on success: `errno` when `ret`
/// is negative (read at once, before anything else can change it), `EOVERFLOW` when the
/// number does not fit `T`.
fn syscall_number<T: TryFrom<libc::c_long>>(
    call: &'static str,
    ret: libc::c_long,
) -> Result<T, SysError> {
    if ret < 0 {
        return Err(SysError::last(call, ""));
    }
    T::try_from(ret).map_err(|_| SysError {
        call,
        arg: String::new(),
        errno: Errno::EOVERFLOW,
    })
}
