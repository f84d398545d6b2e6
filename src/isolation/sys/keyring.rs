//! The kernel keyring: leave the caller's session keyring behind.

use super::SysError;

const KEYCTL_JOIN_SESSION_KEYRING: libc::c_long = 1;

/// Join a new, anonymous session keyring, so no key of the caller's session is reachable.
///
/// # Errors
/// The kernel's answer (`ENOSYS` without `CONFIG_KEYS`, which the caller may accept).
pub fn join_new_session_keyring() -> Result<(), SysError> {
    // SAFETY: KEYCTL_JOIN_SESSION_KEYRING with a null name creates and joins an anonymous
    // keyring; the kernel reads no memory of ours when the name pointer is null.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_keyctl,
            KEYCTL_JOIN_SESSION_KEYRING,
            std::ptr::null::<libc::c_char>(),
        )
    };
    if ret >= 0 {
        Ok(())
    } else {
        Err(SysError::last("keyctl", "JOIN_SESSION_KEYRING"))
    }
}
