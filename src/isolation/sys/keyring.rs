//! Detaching the calling process from its session keyring.

use super::SysError;

/// `keyctl(KEYCTL_JOIN_SESSION_KEYRING, NULL)`: make the caller join a new, anonymous
/// session keyring, so that no key of the parent's session (tokens cached by `ssh`, `kinit`,
/// `ecryptfs`…) is reachable from here on, even by a filter that allows `keyctl`.
///
/// Call it in the sandboxed child before the seccomp filter is installed (the default
/// filter denies `keyctl`).
///
/// # Errors
/// The kernel's answer, e.g. `ENOSYS` on a kernel without key management, or `EDQUOT` when
/// the user's key quota is exhausted.
pub(crate) fn join_session_keyring() -> Result<i32, SysError> {
    const KEYCTL_JOIN_SESSION_KEYRING: libc::c_int = 1;
    // SAFETY: a NULL name asks for an anonymous keyring, so the kernel reads no memory of
    // ours; the call only changes this process's keyring subscription and returns an id.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_keyctl,
            KEYCTL_JOIN_SESSION_KEYRING,
            std::ptr::null::<libc::c_char>(),
        )
    };
    super::syscall_number("keyctl(KEYCTL_JOIN_SESSION_KEYRING)", ret)
}
