//! What this kernel can do, why it cannot, and what to do about it.
//!
//! Used by `doctor`, by the fail-closed checks before a run, by the test gates, and to turn
//! a bare `EPERM` from the launcher into a message naming the cause and the fix. Probes run
//! in short-lived child processes, so the caller's own namespaces and filters never change.

use std::path::Path;

use nix::errno::Errno;
use nix::sched::CloneFlags;
use serde::Serialize;

use super::IsolationError;
use super::protocol::SetupFailure;
use super::sys;

/// The result of one probe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Feature {
    /// Short name (`user namespaces`, `landlock`, …).
    pub name: &'static str,
    /// Whether it works here.
    pub available: bool,
    /// What was found.
    pub detail: String,
    /// When not available: the cause as far as the host tells, and the fix.
    pub fix: Option<String>,
}

fn read_sysctl(path: &str) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_string())
}

/// Why creating a user namespace failed with `errno`, and how to fix it.
#[must_use]
pub fn userns_diagnosis(errno: Errno) -> (String, String) {
    if read_sysctl("/proc/sys/user/max_user_namespaces").as_deref() == Some("0") {
        return (
            "user.max_user_namespaces = 0 forbids user namespaces for everyone".into(),
            "sudo sysctl -w user.max_user_namespaces=15000 (persist it in /etc/sysctl.d/)".into(),
        );
    }
    if read_sysctl("/proc/sys/kernel/unprivileged_userns_clone").as_deref() == Some("0") {
        return (
            "kernel.unprivileged_userns_clone = 0 (a Debian/Ubuntu kernel switch) forbids them for unprivileged users".into(),
            "sudo sysctl -w kernel.unprivileged_userns_clone=1 (persist it in /etc/sysctl.d/)".into(),
        );
    }
    if read_sysctl("/proc/sys/kernel/apparmor_restrict_unprivileged_userns").as_deref() == Some("1")
    {
        return (
            "AppArmor restricts unprivileged user namespaces (Ubuntu 23.10 and later)".into(),
            "give mycelium an AppArmor profile that allows `userns,` (see docs/troubleshooting.md), or sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0".into(),
        );
    }
    let filtered = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Seccomp:"))
                .map(|l| l.trim_end().ends_with('2'))
        })
        .unwrap_or(false);
    match errno {
        Errno::ENOSPC => (
            "the limit on user namespaces is reached (user.max_user_namespaces)".into(),
            "raise it: sudo sysctl -w user.max_user_namespaces=15000".into(),
        ),
        Errno::EINVAL => (
            "the kernel was built without user namespaces (CONFIG_USER_NS)".into(),
            "use a kernel with CONFIG_USER_NS=y".into(),
        ),
        Errno::EUSERS => (
            "too many nested user namespaces (the limit is 32)".into(),
            "run mycelium from a less deeply nested container".into(),
        ),
        Errno::EPERM if filtered => (
            "a seccomp filter on this process forbids creating namespaces (typical of a container runtime's default profile)".into(),
            "run the container with a seccomp profile that allows clone/unshare of user namespaces (e.g. docker --security-opt seccomp=unconfined), or run mycelium on the host".into(),
        ),
        other => (
            format!("the kernel refused with {other} ({})", other.desc()),
            "run `mycelium doctor` for details; a security module (SELinux, AppArmor) or a container may be forbidding user namespaces".into(),
        ),
    }
}

/// Turn a failure reported by the launcher into the error the user sees.
#[must_use]
pub fn classify_failure(failure: SetupFailure) -> IsolationError {
    let errno = Errno::from_raw(failure.errno);
    if failure.step == "execve" {
        return IsolationError::Exec { failure };
    }
    let userns_step = failure.step == "clone"
        || failure.step.starts_with("write uid_map")
        || failure.step.starts_with("write gid_map")
        || failure.step.starts_with("write setgroups");
    // Under Ubuntu's AppArmor restriction clone succeeds but the namespace holds no
    // capabilities, so the first mount is where it shows.
    let denied_mount = failure.step.starts_with("mount") && errno == Errno::EPERM;
    if userns_step || denied_mount {
        let (cause, fix) = userns_diagnosis(errno);
        return IsolationError::Unsupported {
            feature: "user namespaces",
            cause: format!("{cause} ({}: {})", failure.step, errno.desc()),
            fix,
        };
    }
    IsolationError::Setup { failure }
}

/// Run `probe` in a child process and return its exit code (its answer).
fn in_child(probe: impl FnOnce() -> i32) -> Result<i32, Errno> {
    match sys::clone_process(CloneFlags::empty()).map_err(|e| e.errno)? {
        sys::CloneResult::Child => sys::exit_immediately(probe()),
        sys::CloneResult::Parent(pid) => match nix::sys::wait::waitpid(pid, None)? {
            nix::sys::wait::WaitStatus::Exited(_, code) => Ok(code),
            _ => Err(Errno::ECHILD),
        },
    }
}

/// Probe user namespaces by creating one (with mount and pid namespaces) and mounting a
/// tmpfs in it, as a sandbox does. `as_nobody`: first become uid/gid 65534 (needs root).
#[must_use]
pub fn user_namespaces(as_nobody: bool) -> Feature {
    let name = if as_nobody {
        "user namespaces (unprivileged)"
    } else {
        "user namespaces"
    };
    // Answers: 0 = works; 1..=255 = errno of clone (capped); 200 = mount denied; 201 = could
    // not drop to nobody.
    let result = in_child(|| {
        if as_nobody && sys::drop_to_nobody().is_err() {
            return 201;
        }
        let flags = CloneFlags::CLONE_NEWUSER | CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWPID;
        match sys::clone_process(flags) {
            Err(e) => (e.errno as i32).min(199),
            Ok(sys::CloneResult::Child) => {
                let mounted = nix::mount::mount(
                    Some("tmpfs"),
                    "/tmp",
                    Some("tmpfs"),
                    nix::mount::MsFlags::empty(),
                    None::<&str>,
                );
                if mounted.is_ok() { 0 } else { 200 }
            }
            Ok(sys::CloneResult::Parent(pid)) => match nix::sys::wait::waitpid(pid, None) {
                Ok(nix::sys::wait::WaitStatus::Exited(_, code)) => code,
                _ => 202,
            },
        }
    });
    match result {
        Ok(0) => Feature {
            name,
            available: true,
            detail: "can create user, mount and pid namespaces and mount inside them".into(),
            fix: None,
        },
        Ok(200) => {
            let (cause, fix) = userns_diagnosis(Errno::EPERM);
            Feature {
                name,
                available: false,
                detail: format!("created, but holds no capabilities inside: {cause}"),
                fix: Some(fix),
            }
        }
        Ok(201) => Feature {
            name,
            available: false,
            detail: "could not switch to uid 65534 to test".into(),
            fix: Some("run doctor as an unprivileged user".into()),
        },
        Ok(code) if code < 200 => {
            let (cause, fix) = userns_diagnosis(Errno::from_raw(code));
            Feature {
                name,
                available: false,
                detail: cause,
                fix: Some(fix),
            }
        }
        Ok(code) => Feature {
            name,
            available: false,
            detail: format!("probe ended with code {code}"),
            fix: None,
        },
        Err(e) => Feature {
            name,
            available: false,
            detail: format!("could not run the probe: {e}"),
            fix: None,
        },
    }
}

/// cgroup v2: is a delegated subtree with the memory, pids and cpu controllers writable by
/// this user?
#[must_use]
pub fn cgroup_v2() -> Feature {
    let name = "cgroup v2 delegation";
    let unavailable = |detail: String, fix: &str| Feature {
        name,
        available: false,
        detail,
        fix: Some(fix.into()),
    };
    let Some(rel) = std::fs::read_to_string("/proc/self/cgroup")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("0::").map(str::to_string))
        })
    else {
        return unavailable(
            "no cgroup v2 hierarchy for this process".into(),
            "boot with the unified cgroup hierarchy (systemd.unified_cgroup_hierarchy=1); limits use cgroup v1 where root can, else rlimits",
        );
    };
    let Some(mount) = std::fs::read_to_string("/proc/self/mountinfo")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                let (left, right) = l.split_once(" - ")?;
                right
                    .starts_with("cgroup2 ")
                    .then(|| left.split(' ').nth(4).map(str::to_string))
                    .flatten()
            })
        })
    else {
        return unavailable(
            "cgroup2 is not mounted".into(),
            "mount cgroup2 (it is at /sys/fs/cgroup on current distributions); limits use cgroup v1 where root can, else rlimits",
        );
    };
    let dir = Path::new(&mount).join(rel.trim_start_matches('/'));
    let controllers = std::fs::read_to_string(dir.join("cgroup.controllers")).unwrap_or_default();
    let missing: Vec<_> = ["memory", "pids", "cpu"]
        .into_iter()
        .filter(|c| !controllers.split_whitespace().any(|x| x == *c))
        .collect();
    if !missing.is_empty() {
        return unavailable(
            format!(
                "{} lacks the {} controller(s) (available: {:?})",
                dir.display(),
                missing.join(", "),
                controllers.trim()
            ),
            "run under a systemd user slice with delegation (systemd-run --user -p Delegate=yes …) or enable the controllers in the parent's cgroup.subtree_control; limits use cgroup v1 where root can, else rlimits",
        );
    }
    let writable = nix::unistd::access(&dir, nix::unistd::AccessFlags::W_OK).is_ok();
    if !writable {
        return unavailable(
            format!("{} is not writable by this user", dir.display()),
            "ask for a delegated cgroup (systemd Delegate=yes); limits use cgroup v1 where root can, else rlimits",
        );
    }
    Feature {
        name,
        available: true,
        detail: format!("{} with memory, pids, cpu", dir.display()),
        fix: None,
    }
}

/// What each Landlock ABI adds, for people reading `doctor`.
const LANDLOCK_ABI_FEATURES: [&str; 7] = [
    "file-system access rights",
    "moving files between directories (refer)",
    "truncate",
    "TCP bind and connect rules",
    "ioctl on devices",
    "scoping of abstract unix sockets and signals",
    "audit logging of denials",
];

/// Landlock: which ABI this kernel has and what that enforces.
#[must_use]
pub fn landlock() -> Feature {
    let name = "landlock";
    match super::landlock::probe_abi() {
        Some(abi) => {
            let have: Vec<&str> = LANDLOCK_ABI_FEATURES.iter().take(usize::from(abi)).copied().collect();
            Feature { name, available: true, detail: format!("ABI {abi}: {}", have.join(", ")), fix: None }
        }
        None => Feature {
            name,
            available: false,
            detail: "not available (kernel older than 5.13, or landlock missing from the `lsm=` boot list)".into(),
            fix: Some("boot a kernel with CONFIG_SECURITY_LANDLOCK=y and landlock in lsm=; every run fails closed until then".into()),
        },
    }
}

/// seccomp: can a process install a BPF filter?
#[must_use]
pub fn seccomp() -> Feature {
    let name = "seccomp";
    if super::seccomp::kernel_supports_filters() {
        Feature {
            name,
            available: true,
            detail: format!(
                "BPF filters ({} native)",
                super::seccomp::Arch::native().as_str()
            ),
            fix: None,
        }
    } else {
        Feature {
            name,
            available: false,
            detail: "this kernel cannot install seccomp filters (CONFIG_SECCOMP_FILTER)".into(),
            fix: Some(
                "use a kernel with CONFIG_SECCOMP_FILTER=y; every run fails closed until then"
                    .into(),
            ),
        }
    }
}
