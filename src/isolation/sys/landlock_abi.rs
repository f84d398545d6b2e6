//! Asking the kernel which Landlock ABI it implements.
//!
//! The `landlock` crate deliberately keeps its own probe private, but `doctor`, the report
//! and the `min_abi` check need the number, so this one call is made directly.

use super::SysError;

/// `landlock_create_ruleset(NULL, 0, LANDLOCK_CREATE_RULESET_VERSION)`: the highest Landlock
/// ABI version the running kernel supports.
///
/// # Errors
/// `ENOSYS` when the kernel was built without Landlock, `EOPNOTSUPP` when it is disabled at
/// boot.
pub(crate) fn landlock_abi_version() -> Result<u32, SysError> {
    const LANDLOCK_CREATE_RULESET_VERSION: libc::c_uint = 1 << 0;
    // SAFETY: with the VERSION flag the kernel reads no memory: the attribute pointer must
    // be NULL and the size 0, which is what is passed; the call only returns a number.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<libc::c_void>(),
            0usize,
            LANDLOCK_CREATE_RULESET_VERSION,
        )
    };
    super::syscall_number(
        "landlock_create_ruleset(LANDLOCK_CREATE_RULESET_VERSION)",
        ret,
    )
}
