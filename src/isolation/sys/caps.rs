//! Capabilities: give up every one, in every set, for good.

use caps::CapSet;

use super::SysError;

/// Empty the bounding set (so no later `execve` can gain a capability, even as uid 0 or
/// from file capabilities), then the ambient, inheritable, effective and permitted sets.
///
/// The bounding set goes first: dropping from it needs `CAP_SETPCAP` in the effective set.
///
/// # Errors
/// The kernel's answer to `prctl(PR_CAPBSET_DROP)` or `capset`.
pub fn drop_all_capabilities() -> Result<(), SysError> {
    // Numbers go up without gaps to the kernel's last capability; the first one it does not
    // know answers EINVAL (cheaper than reading /proc/sys/kernel/cap_last_cap, which may
    // not even be mounted where this runs).
    for cap in 0..64u32 {
        // SAFETY: PR_CAPBSET_DROP takes the capability number by value and reads no memory.
        let r = unsafe { libc::prctl(libc::PR_CAPBSET_DROP, libc::c_ulong::from(cap), 0, 0, 0) };
        if r != 0 {
            if nix::errno::Errno::last() == nix::errno::Errno::EINVAL && cap > 0 {
                break;
            }
            return Err(SysError::last("prctl", format!("PR_CAPBSET_DROP {cap}")));
        }
    }
    for set in [
        CapSet::Ambient,
        CapSet::Inheritable,
        CapSet::Effective,
        CapSet::Permitted,
    ] {
        caps::clear(None, set).map_err(|e| SysError {
            call: "capset",
            arg: format!("clear {set:?}: {e}"),
            errno: nix::errno::Errno::EPERM,
        })?;
    }
    Ok(())
}
