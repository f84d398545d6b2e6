//! Policy → [`SandboxPlan`]: every decision about the sandbox, made before anything runs.
//!
//! This is pure code over the host's file-system view (it reads metadata and symlinks, it
//! changes nothing). The plan is what crosses the pipe to the launcher; the launcher and the
//! child only carry it out. Errors here are raised before any process is created, so a plan
//! that cannot be built means nothing ran.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::IsolationError;
use super::cgroup::{self, CgroupLimits};
use super::env::{ScrubbedEnv, scrub};
use super::landlock::{self, LandlockPlan};
use super::overrides::Overrides;
use super::seccomp::{self, Arch, SeccompFilter};
use crate::policy::{Grant, NetworkMode, Policy};
use std::sync::Mutex;

/// Host name inside every sandbox.
pub const HOSTNAME: &str = "mycelium";

/// One step of building the new root, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum MountSpec {
    /// Bind a host path (canonical, no symlinks) at `target` inside.
    Bind {
        /// Host path, canonical.
        source: PathBuf,
        /// Path inside the sandbox.
        target: PathBuf,
        /// Read-write; otherwise read-only.
        writable: bool,
        /// A directory; otherwise a file (the mount point is created to match).
        is_dir: bool,
    },
    /// A symbolic link (`/bin -> usr/bin`) whose target is granted by another entry.
    Symlink {
        /// Path of the link inside the sandbox.
        at: PathBuf,
        /// Its contents, as on the host.
        points_to: PathBuf,
    },
    /// A private tmpfs.
    Tmpfs {
        /// Path inside the sandbox.
        target: PathBuf,
        /// Size ceiling in bytes.
        size: u64,
    },
}

impl MountSpec {
    fn target(&self) -> &Path {
        match self {
            MountSpec::Bind { target, .. } | MountSpec::Tmpfs { target, .. } => target,
            MountSpec::Symlink { at, .. } => at,
        }
    }
}

impl RlimitKind {
    /// The kernel's name, `RLIMIT_AS`, …
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            RlimitKind::RlimitAs => "RLIMIT_AS",
            RlimitKind::RlimitNproc => "RLIMIT_NPROC",
            RlimitKind::RlimitNofile => "RLIMIT_NOFILE",
            RlimitKind::RlimitFsize => "RLIMIT_FSIZE",
            RlimitKind::RlimitCpu => "RLIMIT_CPU",
            RlimitKind::RlimitCore => "RLIMIT_CORE",
        }
    }
}

/// A resource limit set with `setrlimit` (soft = hard).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rlimit {
    /// `RLIMIT_*` name, for the report.
    pub name: RlimitKind,
    /// The value.
    pub value: u64,
}

/// Which rlimit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RlimitKind {
    /// Address space.
    RlimitAs,
    /// Processes of the user.
    RlimitNproc,
    /// Open files.
    RlimitNofile,
    /// File size.
    RlimitFsize,
    /// CPU seconds.
    RlimitCpu,
    /// Core dump size.
    RlimitCore,
}

/// Everything the launcher needs to build one sandbox and start one command in it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SandboxPlan {
    /// The policy file, for messages.
    pub policy: PathBuf,
    /// Whether to create a network namespace (all modes but `host`).
    pub new_network_ns: bool,
    /// The network mode.
    pub network: NetworkMode,
    /// New-root steps, parents before children.
    pub mounts: Vec<MountSpec>,
    /// User id inside.
    pub uid: u32,
    /// Group id inside.
    pub gid: u32,
    /// Host ids the inside ids map to when the caller is root (`None`: the caller's own),
    /// chosen by [`super::ids::choose`].
    #[serde(default)]
    pub host_ids: Option<super::ids::HostIds>,
    /// Program and arguments; a program without `/` is searched in the agent's `PATH`.
    pub argv: Vec<String>,
    /// The agent's whole environment.
    pub env: BTreeMap<String, String>,
    /// Working directory inside.
    pub cwd: PathBuf,
    /// How many descriptors the caller passes along (numbered from
    /// [`super::protocol::FIRST_PASSED_FD`]); they stay open into the agent's exec.
    pub passed_fds: u32,
    /// Execute the program from this passed descriptor (`execveat(fd, "", AT_EMPTY_PATH)`)
    /// instead of by path: the very file that was hashed for consent.
    pub exec_fd: Option<i32>,
    /// Resource limits per process.
    pub rlimits: Vec<Rlimit>,
    /// Limits for the sandbox as a whole, where a cgroup can be had.
    pub cgroup: CgroupLimits,
    /// Landlock rules, as paths inside the sandbox.
    pub landlock: LandlockPlan,
    /// The compiled system-call filter, installed last before exec.
    pub seccomp: SeccompFilter,
    /// What Landlock and seccomp enforce, for the report.
    pub filters_report: FiltersReport,
    /// The cgroup is the only thing that would enforce a limit (root callers: the kernel
    /// exempts uid 0 from `RLIMIT_NPROC`), so no cgroup means nothing may run.
    pub cgroup_required: bool,
}

/// What the seccomp part of the report is made from. The report is written only when asked
/// for, after pid 1 has been started, off the path to the agent's start; Landlock's part is
/// described again from [`SandboxPlan::landlock`] then.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FiltersReport {
    /// The policy's `[seccomp]`, for [`super::seccomp::describe`].
    pub seccomp: crate::policy::Seccomp,
}

/// Compile the policy's filter once per process and reuse it for every later spawn of the
/// same policy (a large filter costs measurable time to build).
fn compiled_filter(policy: &Policy) -> Result<SeccompFilter, IsolationError> {
    static CACHE: Mutex<BTreeMap<String, SeccompFilter>> = Mutex::new(BTreeMap::new());
    let key = serde_json::to_string(&(&policy.seccomp, policy.network.mode)).unwrap_or_default();
    if let Ok(cache) = CACHE.lock()
        && let Some(f) = cache.get(&key)
    {
        return Ok(f.clone());
    }
    let filter =
        seccomp::compile(&policy.seccomp, policy.network.mode, Arch::native()).map_err(|e| {
            IsolationError::Plan {
                policy: policy.path.clone(),
                message: format!("seccomp: {e}"),
            }
        })?;
    if let Ok(mut cache) = CACHE.lock() {
        cache.insert(key, filter.clone());
    }
    Ok(filter)
}

/// A plan plus what the caller keeps: the withheld secret values (never sent to the
/// launcher) and the names for the report.
#[derive(Debug, Clone)]
pub struct PreparedSandbox {
    /// What the launcher gets.
    pub plan: SandboxPlan,
    /// The scrubbed environment's withheld values, for the sanitizer.
    pub env: ScrubbedEnv,
}

/// Refuse a workspace that is, lies inside, or contains one of `protected` (mycelium's own
/// state, the consent store, the policy search path): none of those may ever be visible in a
/// sandbox, and `{workspace}` is only known at run time.
///
/// # Errors
/// [`IsolationError::Plan`] naming the protected path.
pub fn refuse_protected_workspace(
    policy: &Policy,
    workspace: &Path,
    protected: &[PathBuf],
) -> Result<(), IsolationError> {
    let ws = std::fs::canonicalize(workspace).unwrap_or_else(|_| workspace.to_path_buf());
    for p in protected {
        let p = std::fs::canonicalize(p).unwrap_or_else(|_| p.clone());
        if ws.starts_with(&p) || p.starts_with(&ws) {
            return Err(IsolationError::Plan {
                policy: policy.path.clone(),
                message: format!(
                    "workspace {} would expose {}, mycelium's own state (consent store, policies), which is never visible inside a sandbox; choose another workspace",
                    ws.display(),
                    p.display()
                ),
            });
        }
    }
    Ok(())
}

/// Build the plan for running `argv` under `policy`.
///
/// `workspace` is required when the policy grants `{workspace}`, and may not expose any of
/// `protected` (mycelium's own state: `policy::LoadOptions::protected`); `caller_env` is the
/// environment the command would otherwise inherit.
///
/// # Errors
/// [`IsolationError::Plan`] when a granted path cannot be placed (a missing workspace,
/// a path that vanished since the policy was checked, a tmpfs inside a bind).
pub fn prepare<'a>(
    policy: &Policy,
    workspace: Option<&Path>,
    protected: &[PathBuf],
    argv: Vec<String>,
    caller_env: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<PreparedSandbox, IsolationError> {
    let none = Overrides::default();
    prepare_with(policy, workspace, protected, argv, caller_env, &none)
}

/// [`prepare`], with the options a human passed at the terminal ([`Overrides`]).
///
/// # Errors
/// As [`prepare`]; also a workspace the workspace check refuses ([`super::workspace`]) and
/// ids a root caller's agent may not take ([`super::ids::choose`]).
pub fn prepare_with<'a>(
    policy: &Policy,
    workspace: Option<&Path>,
    protected: &[PathBuf],
    argv: Vec<String>,
    caller_env: impl IntoIterator<Item = (&'a str, &'a str)>,
    overrides: &Overrides,
) -> Result<PreparedSandbox, IsolationError> {
    let plan_err = |message: String| IsolationError::Plan {
        policy: policy.path.clone(),
        message,
    };
    if argv.is_empty() {
        return Err(plan_err("no command given".into()));
    }
    let workspace = match workspace {
        Some(w) => Some(
            std::fs::canonicalize(w)
                .map_err(|e| plan_err(format!("workspace {}: {e}", w.display())))?,
        ),
        None => None,
    };
    if let Some(w) = &workspace
        && !w.is_dir()
    {
        return Err(plan_err(format!(
            "workspace {} is not a directory",
            w.display()
        )));
    }
    if let Some(w) = &workspace {
        super::workspace::check(&policy.path, w, overrides.allow_workspace.as_deref())?;
    }
    if policy.uses_workspace() && workspace.is_none() {
        return Err(plan_err(
            "the policy grants {workspace} but no workspace was given: pass --workspace DIR".into(),
        ));
    }
    if policy.uses_workspace()
        && let Some(w) = &workspace
    {
        refuse_protected_workspace(policy, w, protected)?;
    }

    // Resolve every grant to (inside path, canonical host path).
    let mut resolved: Vec<(PathBuf, Option<PathBuf>, bool, &Grant)> = Vec::new();
    let fs = &policy.filesystem;
    for (g, writable) in fs
        .read_only
        .iter()
        .map(|g| (g, false))
        .chain(fs.read_write.iter().map(|g| (g, true)))
    {
        let Some(path) = g.path.resolve(workspace.as_deref()) else {
            continue;
        };
        match std::fs::canonicalize(&path) {
            Ok(canon) => resolved.push((path, Some(canon), writable, g)),
            Err(_) if g.optional => {}
            Err(e) => {
                return Err(plan_err(format!(
                    "{} (line {}): {}: {e}",
                    g.at.key,
                    g.at.line,
                    path.display()
                )));
            }
        }
    }
    let canon_grants: Vec<PathBuf> = resolved.iter().filter_map(|r| r.1.clone()).collect();

    let mut mounts = Vec::new();
    for (path, canon, writable, _) in &resolved {
        let Some(canon) = canon else { continue };
        let is_link = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
        // A link whose target another entry grants stays a link, so `/bin -> usr/bin` looks
        // the same inside; otherwise the target itself is bound at the link's place.
        if is_link
            && canon_grants
                .iter()
                .any(|c| c != canon && canon.starts_with(c))
        {
            let points_to = std::fs::read_link(path)
                .map_err(|e| plan_err(format!("{}: {e}", path.display())))?;
            mounts.push(MountSpec::Symlink {
                at: path.clone(),
                points_to,
            });
            continue;
        }
        let is_dir = std::fs::metadata(canon).is_ok_and(|m| m.is_dir());
        mounts.push(MountSpec::Bind {
            source: canon.clone(),
            target: path.clone(),
            writable: *writable,
            is_dir,
        });
    }
    for (target, size) in &fs.tmpfs {
        // A tmpfs inside a bound directory needs its mount point to exist there already:
        // creating it would create a directory on the host.
        let inside_bind = mounts.iter().any(|m| matches!(m, MountSpec::Bind { target: t, is_dir: true, .. } if target.starts_with(t) && target != t));
        if inside_bind && !target.is_dir() {
            return Err(plan_err(format!(
                "filesystem.tmpfs: {} lies inside a granted directory but does not exist on the host; create it or move the tmpfs",
                target.display()
            )));
        }
        mounts.push(MountSpec::Tmpfs {
            target: target.clone(),
            size: size.0,
        });
    }
    // Parents before children: a shallower mount never covers a deeper one set up earlier.
    mounts.sort_by_key(|m| m.target().components().count());

    let has_tmp = fs.tmpfs.contains_key(Path::new("/tmp"));
    let home = if has_tmp {
        "/tmp".to_string()
    } else {
        workspace
            .as_ref()
            .map_or("/".into(), |w| w.display().to_string())
    };
    let env = scrub(caller_env, &policy.env, &home);
    let cwd = match &workspace {
        Some(w) if policy.uses_workspace() => w.clone(),
        _ if has_tmp => PathBuf::from("/tmp"),
        _ => PathBuf::from("/"),
    };

    let l = &policy.limits;
    let mut rlimits = vec![Rlimit {
        name: RlimitKind::RlimitCore,
        value: 0,
    }];
    let mut push = |name, v: Option<u64>| {
        if let Some(value) = v {
            rlimits.push(Rlimit { name, value });
        }
    };
    push(RlimitKind::RlimitAs, l.memory.map(|m| m.0));
    push(RlimitKind::RlimitNproc, l.processes);
    push(RlimitKind::RlimitNofile, l.open_files);
    push(RlimitKind::RlimitFsize, l.file_size.map(|m| m.0));
    push(RlimitKind::RlimitCpu, l.cpu_time.map(|d| d.as_secs()));

    let cgroup = CgroupLimits {
        memory: l.memory.map(|m| m.0),
        pids: l.processes,
        cpu_millis: None,
    };
    // RLIMIT_NPROC does not apply to processes whose real uid is host root (fork.c exempts
    // INIT_USER), and the sandbox's processes are host root when the caller is.
    let cgroup_required = l.processes.is_some() && nix::unistd::getuid().is_root();
    if cgroup_required && cgroup::available(&cgroup).is_none() {
        return Err(IsolationError::Unsupported {
            feature: "a pids cgroup (limits.processes when running as root)",
            cause: "the kernel does not apply RLIMIT_NPROC to root, and no writable cgroup with the pids controller was found (v2 delegated subtree or v1 pids hierarchy)".into(),
            fix: "run mycelium as an unprivileged user, or give it a cgroup v2 subtree with the pids controller enabled (see `mycelium doctor`)".into(),
        });
    }

    // Landlock is a hard requirement: check now, before any process exists, that this
    // kernel can enforce everything the plan asks (the child checks again when applying).
    let landlock_plan = LandlockPlan::from_policy(policy, workspace.as_deref());
    landlock::describe(&landlock_plan, landlock::probe_abi()).map_err(|e| IsolationError::Unsupported {
        feature: "Landlock",
        cause: e.to_string(),
        fix: "use a kernel with Landlock enabled (Linux 5.13+, `lsm=` including landlock; see `mycelium doctor`), or lower landlock.min_abi / drop port lists".into(),
    })?;
    let filter = compiled_filter(policy)?;
    let filters_report = FiltersReport {
        seccomp: policy.seccomp.clone(),
    };

    let used = workspace.as_deref().filter(|_| policy.uses_workspace());
    let host_ids = super::ids::choose(&policy.path, used, overrides.run_as)?;
    let plan = SandboxPlan {
        policy: policy.path.clone(),
        new_network_ns: policy.network.mode != NetworkMode::Host,
        network: policy.network.mode,
        mounts,
        uid: policy.agent.uid,
        gid: policy.agent.gid,
        host_ids,
        argv,
        env: env.agent.clone(),
        cwd,
        passed_fds: 0,
        exec_fd: None,
        rlimits,
        landlock: landlock_plan,
        seccomp: filter,
        filters_report,
        cgroup,
        cgroup_required,
    };
    Ok(PreparedSandbox { plan, env })
}
