//! A cgroup per sandbox, where the host lets us have one: `memory`, `pids` and `cpu` limits
//! for the sandbox as a whole, on top of the per-process rlimits.
//!
//! cgroup v2 is used when this process's cgroup (or, for root, the hierarchy's root) has the
//! controllers enabled for its children and is writable; cgroup v1 `pids` and `memory`
//! hierarchies are used by root where they are mounted. The launcher creates the group,
//! moves pid 1 into it before the sandbox runs anything, and removes it after pid 1 is
//! reaped (when every process of the sandbox is gone).
//!
//! It also decides how `limits.memory` is enforced ([`memory_enforcement`]): a memory
//! cgroup counts every page the sandbox holds, file and IPC pages included; without one the
//! limit is `RLIMIT_AS` per process, which counts none of those, so the seccomp filter then
//! refuses the calls that would hold them ([`UnaccountedMemory::Refused`]).

use std::path::{Path, PathBuf};

use nix::unistd::Pid;
use serde::{Deserialize, Serialize};

use super::seccomp::{UNACCOUNTED_MEMORY_CALLS, UnaccountedMemory};

/// What the sandbox as a whole may use.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CgroupLimits {
    /// Bytes of memory (v2 `memory.max`, v1 `memory.limit_in_bytes`).
    pub memory: Option<u64>,
    /// Processes and threads (`pids.max`).
    pub pids: Option<u64>,
    /// CPU bandwidth in thousandths of a CPU (v2 `cpu.max`).
    pub cpu_millis: Option<u64>,
}

impl CgroupLimits {
    /// The sandbox-wide limits a policy's `[limits]` asks for.
    #[must_use]
    pub fn from_policy(limits: &crate::policy::Limits) -> CgroupLimits {
        CgroupLimits {
            memory: limits.memory.map(|m| m.0),
            pids: limits.processes,
            cpu_millis: None,
        }
    }

    /// Whether any limit is set.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.memory.is_none() && self.pids.is_none() && self.cpu_millis.is_none()
    }
}

/// A created group (one directory per hierarchy used).
#[derive(Debug)]
pub struct SandboxCgroup {
    dirs: Vec<PathBuf>,
    /// `cgroup v2 …` or `cgroup v1 …`, for the report.
    pub mechanism: String,
    /// The settings written, for the report.
    pub applied: Vec<String>,
}

fn mounts() -> Vec<(String, PathBuf, String)> {
    // (fstype, mount point, super options) from mountinfo.
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let (left, right) = l.split_once(" - ")?;
            let mut r = right.split(' ');
            let fstype = r.next()?.to_string();
            let opts = r.nth(1).unwrap_or("").to_string();
            let point = left.split(' ').nth(4)?;
            Some((fstype, PathBuf::from(point), opts))
        })
        .collect()
}

/// This process's path in the v2 hierarchy, or in the v1 hierarchy of `controller`.
fn own_path(controller: Option<&str>) -> Option<String> {
    let text = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    text.lines().find_map(|l| {
        let mut parts = l.splitn(3, ':');
        let _id = parts.next()?;
        let ctrls = parts.next()?;
        let path = parts.next()?;
        match controller {
            None if ctrls.is_empty() => Some(path.to_string()),
            Some(c) if ctrls.split(',').any(|x| x == c) => Some(path.to_string()),
            _ => None,
        }
    })
}

fn writable(p: &Path) -> bool {
    nix::unistd::access(p, nix::unistd::AccessFlags::W_OK).is_ok()
}

fn enabled(dir: &Path, needed: &[&str]) -> bool {
    let have = std::fs::read_to_string(dir.join("cgroup.subtree_control")).unwrap_or_default();
    needed
        .iter()
        .all(|n| have.split_whitespace().any(|h| h == *n))
}

/// Where a v2 group for this process could be created, if anywhere.
fn v2_parent(needed: &[&str]) -> Option<PathBuf> {
    let mount = mounts().into_iter().find(|m| m.0 == "cgroup2")?.1;
    let own = mount.join(own_path(None)?.trim_start_matches('/'));
    if enabled(&own, needed) && writable(&own) {
        return Some(own);
    }
    // The root cgroup may hold processes and children at once, so root can always nest
    // there when the controllers are enabled at the top.
    (nix::unistd::geteuid().is_root() && enabled(&mount, needed) && writable(&mount))
        .then_some(mount)
}

/// The v1 hierarchy directory of `controller` for this process, if mounted and writable.
fn v1_parent(controller: &str) -> Option<PathBuf> {
    let point = mounts()
        .into_iter()
        .find(|m| m.0 == "cgroup" && m.2.split(',').any(|o| o == controller))?
        .1;
    let dir = point.join(own_path(Some(controller))?.trim_start_matches('/'));
    writable(&dir).then_some(dir)
}

/// Which mechanism could enforce `limits` here (for `doctor` and fail-closed checks).
#[must_use]
pub fn available(limits: &CgroupLimits) -> Option<&'static str> {
    let needed = needed_v2(limits);
    if v2_parent(&needed).is_some() {
        return Some("cgroup v2");
    }
    let v1_ok = (limits.pids.is_none() || v1_parent("pids").is_some())
        && (limits.memory.is_none() || v1_parent("memory").is_some())
        && limits.cpu_millis.is_none();
    v1_ok.then_some("cgroup v1")
}

/// Whether the filter must refuse the calls that hold memory outside the address space: only
/// when `limits` sets memory and no cgroup can carry these `limits` here (the group is
/// created with all of them or not at all, so all of them are checked).
#[must_use]
pub fn memory_enforcement(limits: &CgroupLimits) -> UnaccountedMemory {
    if limits.memory.is_some() && available(limits).is_none() {
        UnaccountedMemory::Refused
    } else {
        UnaccountedMemory::Allowed
    }
}

/// How a set `limits.memory` is enforced under `unaccounted`, in words, for `doctor`,
/// `policy explain` and `exec --report`.
#[must_use]
pub fn describe_memory(unaccounted: UnaccountedMemory) -> String {
    match unaccounted {
        UnaccountedMemory::Allowed => {
            "a memory cgroup for the whole sandbox (file, shared and IPC pages included), plus RLIMIT_AS per process".to_string()
        }
        UnaccountedMemory::Refused => {
            let calls: Vec<&str> = UNACCOUNTED_MEMORY_CALLS.iter().map(|(n, _)| *n).collect();
            format!(
                "RLIMIT_AS per process, with {} refused (no memory cgroup here, and RLIMIT_AS does not count memory they hold); tmpfs mounts keep their declared sizes",
                calls.join(", ")
            )
        }
    }
}

fn needed_v2(limits: &CgroupLimits) -> Vec<&'static str> {
    let mut n = Vec::new();
    if limits.memory.is_some() {
        n.push("memory");
    }
    if limits.pids.is_some() {
        n.push("pids");
    }
    if limits.cpu_millis.is_some() {
        n.push("cpu");
    }
    n
}

impl SandboxCgroup {
    /// Create a group named `name` with `limits` and move `pid` into it. `Ok(None)` when no
    /// usable cgroup exists here (the caller decides whether that is acceptable).
    ///
    /// # Errors
    /// A message naming the file that could not be written; anything created is removed.
    pub fn create(name: &str, limits: &CgroupLimits, pid: Pid) -> Result<Option<Self>, String> {
        if limits.is_empty() {
            return Ok(None);
        }
        let mut group = SandboxCgroup {
            dirs: Vec::new(),
            mechanism: String::new(),
            applied: Vec::new(),
        };
        let result = group.populate(name, limits, pid);
        match result {
            Ok(true) => Ok(Some(group)),
            Ok(false) => Ok(None),
            Err(e) => {
                group.remove();
                Err(e)
            }
        }
    }

    fn populate(&mut self, name: &str, limits: &CgroupLimits, pid: Pid) -> Result<bool, String> {
        let write = |dir: &Path, file: &str, value: String| {
            std::fs::write(dir.join(file), &value)
                .map_err(|e| format!("{}: {e}", dir.join(file).display()))
        };
        if let Some(parent) = v2_parent(&needed_v2(limits)) {
            let dir = parent.join(name);
            std::fs::create_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            self.dirs.push(dir.clone());
            self.mechanism = format!("cgroup v2 ({})", dir.display());
            if let Some(m) = limits.memory {
                write(&dir, "memory.max", m.to_string())?;
                // No swap either: a memory limit that spills to swap is not one.
                let _ = write(&dir, "memory.swap.max", "0".into());
                self.applied.push(format!("memory.max={m}"));
            }
            if let Some(p) = limits.pids {
                write(&dir, "pids.max", p.to_string())?;
                self.applied.push(format!("pids.max={p}"));
            }
            if let Some(c) = limits.cpu_millis {
                let v = format!("{} 100000", c * 100);
                write(&dir, "cpu.max", v.clone())?;
                self.applied.push(format!("cpu.max={v}"));
            }
            write(&dir, "cgroup.procs", pid.to_string())?;
            return Ok(true);
        }
        if limits.cpu_millis.is_some() {
            return Ok(false);
        }
        let mut parts = Vec::new();
        for (controller, limit, file) in [
            ("pids", limits.pids, "pids.max"),
            ("memory", limits.memory, "memory.limit_in_bytes"),
        ] {
            let Some(value) = limit else { continue };
            let Some(parent) = v1_parent(controller) else {
                return Ok(false);
            };
            let dir = parent.join(name);
            std::fs::create_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            self.dirs.push(dir.clone());
            write(&dir, file, value.to_string())?;
            write(&dir, "cgroup.procs", pid.to_string())?;
            self.applied.push(format!("{file}={value}"));
            parts.push(controller);
        }
        self.mechanism = format!("cgroup v1 ({})", parts.join(", "));
        Ok(!self.dirs.is_empty())
    }

    /// Remove the group's directories (they must be empty of processes by now).
    pub fn remove(self) {
        for d in self.dirs.iter().rev() {
            let _ = std::fs::remove_dir(d);
        }
    }
}
