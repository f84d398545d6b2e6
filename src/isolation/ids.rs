//! Whose host ids the agent acts with.
//!
//! An unprivileged caller's sandbox maps the policy's uid and gid to the caller's own: the
//! kernel allows nothing else. A root caller could map them to host root, which would make
//! every file the agent leaves behind root's (a setuid root shell in the workspace) and let
//! it read root-only kernel files; so for root the agent's ids map instead to
//!
//! - the ids chosen with `--run-as UID[:GID]` (a human's explicit choice at the terminal,
//!   never reachable from a tool call), else
//! - the workspace's owner (its passwd entry's primary group, else the workspace's group),
//!   so what the agent creates there belongs to the person whose directory it is, else
//! - with no workspace, [`NOBODY`]: the overflow id, which owns nothing on a sane host.
//!
//! A workspace owned by root is refused (nothing would own the agent's files but root),
//! and so is every choice that resolves to uid or gid 0. The caller writes the maps (it has
//! `CAP_SETUID` where it stands; pid 1 could only map its own id, 0), and pid 1 takes the
//! inside ids right after they exist, before it builds the root or starts the agent
//! ([`take_inside_ids`]): from then on no process of the sandbox holds host uid 0, and pid 1
//! builds the root with only what that user may reach (plus its capabilities over the
//! user's own files), so a grant that user cannot reach fails to mount.

use std::path::Path;

use nix::unistd::{Gid, Uid, geteuid, getgid, getuid, setresgid, setresuid};
use serde::{Deserialize, Serialize};

use super::IsolationError;
use super::plan::SandboxPlan;
use super::protocol::SetupFailure;

/// The ids a root caller's agent gets when there is no workspace to take them from:
/// `nobody` / `nogroup` (65534), the kernel's overflow id.
pub const NOBODY: u32 = 65534;

/// Host ids the sandbox's inside ids map to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostIds {
    /// Host uid.
    pub uid: u32,
    /// Host gid.
    pub gid: u32,
}

/// `--run-as UID[:GID]`, parsed: the host ids a root caller's agent should act with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunAs {
    /// Host uid.
    pub uid: u32,
    /// Host gid; `None` takes the uid's passwd primary group, else the uid itself.
    pub gid: Option<u32>,
}

impl std::str::FromStr for RunAs {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let num = |t: &str| {
            t.parse::<u32>()
                .map_err(|_| format!("{t:?} is not a numeric id: write UID or UID:GID"))
        };
        let (uid, gid) = match s.split_once(':') {
            Some((u, g)) => (num(u)?, Some(num(g)?)),
            None => (num(s)?, None),
        };
        if uid == 0 || gid == Some(0) {
            return Err(
                "the agent never runs as host uid or gid 0; choose an unprivileged id".into(),
            );
        }
        Ok(RunAs { uid, gid })
    }
}

fn refuse(policy: &Path, message: String) -> IsolationError {
    IsolationError::Plan {
        policy: policy.to_path_buf(),
        message,
    }
}

/// Who owns a directory, as `fstat` of its open descriptor says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Owner {
    /// `st_uid`.
    pub uid: u32,
    /// `st_gid`.
    pub gid: u32,
}

/// The host ids of this caller's agent: `None` for an unprivileged caller (the sandbox
/// maps to the caller's own ids, as before), the ids described in the module docs for a
/// root caller. `workspace` is the resolved workspace, when the policy uses one, with the
/// owner of the directory that was opened (not looked up by name again).
///
/// # Errors
/// [`IsolationError::Plan`] for a root-owned workspace, ids that resolve to 0, or
/// `--run-as` from a caller that may not choose ids.
pub fn choose(
    policy: &Path,
    workspace: Option<(&Path, Owner)>,
    run_as: Option<RunAs>,
) -> Result<Option<HostIds>, IsolationError> {
    if !geteuid().is_root() {
        return match run_as {
            Some(r)
                if r.uid != getuid().as_raw() || r.gid.is_some_and(|g| g != getgid().as_raw()) =>
            {
                Err(refuse(
                    policy,
                    format!(
                        "--run-as {}: only root can run the agent as another user; drop --run-as (the agent runs as you, uid {})",
                        r.uid,
                        getuid()
                    ),
                ))
            }
            _ => Ok(None),
        };
    }
    let primary = |uid: u32, fallback: u32| {
        crate::policy::sensitive::passwd_entry(uid).map_or(fallback, |e| e.gid)
    };
    let ids = if let Some(r) = run_as {
        HostIds {
            uid: r.uid,
            gid: r.gid.unwrap_or_else(|| primary(r.uid, r.uid)),
        }
    } else if let Some((ws, owner)) = workspace {
        if owner.uid == 0 {
            return Err(refuse(
                policy,
                format!(
                    "workspace {} is owned by root, and a root caller's agent never acts as root: chown the workspace to the user it is for, run mycelium as that user, or pass --run-as UID[:GID] to run the agent as that unprivileged user",
                    ws.display()
                ),
            ));
        }
        HostIds {
            uid: owner.uid,
            gid: primary(owner.uid, owner.gid),
        }
    } else {
        HostIds {
            uid: NOBODY,
            gid: NOBODY,
        }
    };
    if ids.gid == 0 {
        return Err(refuse(
            policy,
            format!(
                "the agent would run with host gid 0 (the primary group of uid {}); pass --run-as {}:GID with an unprivileged group",
                ids.uid, ids.uid
            ),
        ));
    }
    Ok(Some(ids))
}

/// In pid 1, once the caller has written the maps of a plan with [`HostIds`]: take the
/// plan's inside ids, so that nothing of the sandbox (pid 1, and the agent it forks after
/// this) keeps host uid 0. Supplementary groups were dropped by the caller before `clone`
/// (and `setgroups` is denied in the namespace). Does nothing for a plan without them.
///
/// # Errors
/// The failed `setresgid` / `setresuid`.
pub fn take_inside_ids(plan: &SandboxPlan) -> Result<(), SetupFailure> {
    if plan.host_ids.is_none() {
        return Ok(());
    }
    let fail = |step: &str, e: nix::errno::Errno| {
        SetupFailure::new(step, format!("{step}: {}", e.desc()), e as i32)
    };
    // The group first: changing it needs CAP_SETGID, which the uid change below keeps
    // (inside uid 0 is unmapped, so no capability is cleared), but keep the usual order.
    let g = Gid::from_raw(plan.gid);
    setresgid(g, g, g).map_err(|e| fail("setresgid", e))?;
    let u = Uid::from_raw(plan.uid);
    setresuid(u, u, u).map_err(|e| fail("setresuid", e))?;
    // pid 1 now has the workspace owner's host uid, and its memory is a copy of the root
    // caller's: it must not be dumpable, or that user could ptrace it from the host. The
    // change of ids set dumpable to fs.suid_dumpable (0 or 2 by default, both refusing
    // ptrace without CAP_SYS_PTRACE); with 1 it would stay dumpable, so set it here.
    nix::sys::prctl::set_dumpable(false).map_err(|e| fail("prctl PR_SET_DUMPABLE", e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_as_parses_and_refuses_root() {
        assert_eq!(
            "1001".parse(),
            Ok(RunAs {
                uid: 1001,
                gid: None
            })
        );
        assert_eq!(
            "1001:100".parse(),
            Ok(RunAs {
                uid: 1001,
                gid: Some(100)
            })
        );
        assert!("0".parse::<RunAs>().is_err());
        assert!("1001:0".parse::<RunAs>().is_err());
        assert!("alice".parse::<RunAs>().is_err());
        assert!("1001:".parse::<RunAs>().is_err());
    }
}
