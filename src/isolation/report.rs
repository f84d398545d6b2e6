//! The record of which confinement layers were applied to a run.
//!
//! `exec --report` prints it; later, workflow records carry the same structure.

use serde::{Deserialize, Serialize};

/// Which layers a sandbox was built with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct SandboxReport {
    /// Namespaces created, by name.
    pub namespaces: Vec<String>,
    /// `uid_map` written for the sandbox (`inside outside count`).
    pub uid_map: String,
    /// `gid_map` written for the sandbox.
    pub gid_map: String,
    /// The new root.
    pub root: RootReport,
    /// Network mode and what it means here.
    pub network: String,
    /// Landlock, when applied.
    pub landlock: Option<serde_json::Value>,
    /// The seccomp filter, when applied.
    pub seccomp: Option<serde_json::Value>,
    /// Limits and the mechanism enforcing them.
    pub limits: LimitsReport,
    /// Process-level hardening steps.
    pub process: Vec<String>,
}

/// The new root file system.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct RootReport {
    /// How it was built.
    pub kind: String,
    /// Read-only binds (inside paths).
    pub read_only: Vec<String>,
    /// Read-write binds.
    pub read_write: Vec<String>,
    /// Symbolic links kept as links.
    pub symlinks: Vec<String>,
    /// tmpfs mounts with sizes.
    pub tmpfs: Vec<String>,
    /// What else the sandbox provides (`/proc`, `/dev/null`, …).
    pub provided: Vec<String>,
}

/// Resource limits applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct LimitsReport {
    /// `rlimit` or `cgroup v2`.
    pub mechanism: String,
    /// `RLIMIT_AS=1073741824`, …
    pub applied: Vec<String>,
    /// How `limits.memory` is enforced, when the policy sets it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<String>,
}

/// The report for a plan the launcher has just carried out.
#[must_use]
pub fn for_plan(plan: &super::plan::SandboxPlan, uid_map: &str, gid_map: &str) -> SandboxReport {
    use super::plan::MountSpec;
    let mut namespaces: Vec<String> = ["user", "pid", "mount", "ipc", "uts", "cgroup"]
        .map(String::from)
        .to_vec();
    if plan.new_network_ns {
        namespaces.insert(3, "network".into());
    }
    let mut root = RootReport {
        kind: "tmpfs + pivot_root, old root detached".into(),
        ..RootReport::default()
    };
    for m in &plan.mounts {
        match m {
            MountSpec::Bind {
                target,
                writable: true,
                ..
            } => root.read_write.push(target.display().to_string()),
            MountSpec::Bind { target, .. } => root.read_only.push(target.display().to_string()),
            MountSpec::Symlink { at, points_to } => {
                root.symlinks
                    .push(format!("{} -> {}", at.display(), points_to.display()))
            }
            MountSpec::Tmpfs { target, size } => root.tmpfs.push(format!(
                "{} ({})",
                target.display(),
                crate::policy::ByteSize(*size)
            )),
            MountSpec::Context { target, contents } => root.provided.push(format!(
                "{}/{} (the invocation's context, {} bytes; read-only tmpfs, nosuid, nodev, noexec)",
                target.display(),
                super::plan::CONTEXT_FILE,
                contents.len()
            )),
        }
    }
    root.provided
        .push("/proc (this sandbox's pid namespace; /proc/sys read-only)".into());
    root.provided
        .push(format!("/dev ({})", super::child::DEVICES.join(", ")));
    let network = match plan.network {
        crate::policy::NetworkMode::None => "none: new network namespace, no interface up",
        crate::policy::NetworkMode::Loopback => "loopback: new network namespace, only lo up",
        crate::policy::NetworkMode::Host => "host: the host's network namespace",
    }
    .to_string();
    let limits = LimitsReport {
        mechanism: "rlimit".into(),
        applied: plan
            .rlimits
            .iter()
            .map(|l| format!("{}={}", l.name.as_str(), l.value))
            .collect(),
        memory: plan
            .cgroup
            .memory
            .map(|_| super::cgroup::describe_memory(plan.filters_report.memory)),
    };
    SandboxReport {
        namespaces,
        uid_map: uid_map.into(),
        gid_map: gid_map.into(),
        root,
        network,
        landlock: super::landlock::describe(&plan.landlock, super::landlock::probe_abi())
            .ok()
            .and_then(|r| serde_json::to_value(r).ok()),
        seccomp: Some(
            serde_json::to_value(super::seccomp::describe(
                &plan.filters_report.seccomp,
                plan.network,
                plan.filters_report.memory,
            ))
            .unwrap_or_default(),
        ),
        limits,
        process: vec![
            "empty environment + policy env".into(),
            "inherited descriptors above 2 closed".into(),
            "fresh session keyring".into(),
            "setsid (no controlling terminal)".into(),
            "PR_SET_PDEATHSIG on launcher, pid 1 and agent".into(),
            "no_new_privs".into(),
            "pid 1 not dumpable".into(),
        ],
    }
}
