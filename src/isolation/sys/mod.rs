//! The only place in mycelium where `unsafe` code and raw system calls live.
//!
//! Each function here performs one kernel operation with typed arguments, returns a
//! [`SysError`] naming the call, and decides nothing: choosing *what* to ask the kernel is
//! pure code elsewhere in `isolation`. Every `unsafe` block carries a `// SAFETY:` comment
//! stating the invariant it relies on.

#[cfg(test)]
pub(crate) mod fork;
pub(crate) mod keyring;
pub(crate) mod landlock_abi;
#[cfg(test)]
pub(crate) mod probe;

use nix::errno::Errno;

/// A system call that failed.
#[derive(Debug, thiserror::Error)]
#[error("{call} failed")]
pub struct SysError {
    /// The call and its key argument, e.g. `keyctl(KEYCTL_JOIN_SESSION_KEYRING)`.
    pub call: &'static str,
    /// What the kernel answered.
    #[source]
    pub errno: Errno,
}
