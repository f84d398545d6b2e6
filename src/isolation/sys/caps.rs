//! Capabilities: give up every one, in every set, for good.

use caps::CapSet;

use super::SysError;

/// The highest capability number this kernel knows (`/proc/sys/kernel/cap_last_cap`).
fn last_cap() -> u32 {
    std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(63)
}

/// Empty the bounding set (so no later `execve` can gain a capability, even as uid 0 or
/// from file capabilities), then the ambient, inheritable, effective and permitted sets.
///
/// The bounding set goes first: dropping from it needs `CAP_SETPCAP` in the effective set.
///
/// # Errors
/// The kernel's answer to `prctl(PR_CAPBSET_DROP)` or `capset`.
pub fn drop_all_capabilities() -> Result<(), SysError> {
    for cap in 0..=last_cap() {
        // SAFETY: PR_CAPBSET_DROP takes the capability number by value and reads no memory.
        let r = unsafe { libc::prctl(libc::PR_CAPBSET_DROP, libc::c_ulong::from(cap), 0, 0, 0) };
        // EINVAL: a number this kernel does not have, nothing to drop.
        if r != 0 && nix::errno::Errno::last() != nix::errno::Errno::EINVAL {
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
