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
use super::resolve::{self, Identity, Protected, Resolved, Workspace};
use super::seccomp::{self, Arch, SeccompFilter};
use crate::policy::{Grant, GrantPath, NetworkMode, Policy};
use std::sync::Mutex;

/// Host name inside every sandbox.
pub const HOSTNAME: &str = "mycelium";

/// One step of building the new root, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum MountSpec {
    /// Bind a host path (physical: no component is a link) at `target` inside.
    Bind {
        /// Host path, as resolved by [`super::resolve`].
        source: PathBuf,
        /// Path inside the sandbox.
        target: PathBuf,
        /// Read-write; otherwise read-only.
        writable: bool,
        /// A directory; otherwise a file (the mount point is created to match).
        is_dir: bool,
        /// What `source` was when the plan was made: pid 1 mounts it only if it still is.
        id: Identity,
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
    /// The invocation's context: a tmpfs just large enough at `target` ([`CONTEXT_DIR`]),
    /// holding one file, [`CONTEXT_FILE`] (mode 0444), with `contents`, made read-only,
    /// `nosuid`, `nodev` and `noexec` by pid 1 before the agent runs. Never a host path.
    Context {
        /// The directory inside the sandbox.
        target: PathBuf,
        /// The file's bytes: compact JSON, so UTF-8 and carried as a string.
        contents: String,
    },
}

impl MountSpec {
    fn target(&self) -> &Path {
        match self {
            MountSpec::Bind { target, .. }
            | MountSpec::Tmpfs { target, .. }
            | MountSpec::Context { target, .. } => target,
            MountSpec::Symlink { at, .. } => at,
        }
    }
}

/// Where an invocation's context is mounted inside the sandbox.
pub const CONTEXT_DIR: &str = "/run/mycelium";
/// The context's file name in [`CONTEXT_DIR`].
pub const CONTEXT_FILE: &str = "context.json";
/// The largest context a sandbox takes, in bytes (as written: compact JSON).
pub const MAX_CONTEXT_BYTES: usize = 1 << 20;

/// The size of the tmpfs that holds a context of `len` bytes: whole 4 KiB pages, at least
/// one (the kernel rounds up again to its own page size).
#[must_use]
pub fn context_tmpfs_size(len: usize) -> u64 {
    (len.max(1) as u64).next_multiple_of(4096)
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
    /// The cgroup is what enforces `limits.memory` (the system-call filter lets memfd and
    /// System V IPC through because of it), so no cgroup at spawn means nothing may run.
    pub cgroup_required: bool,
    /// `[agent] timeout`: wall-clock time after which the agent gets `SIGTERM`, and the
    /// whole sandbox `SIGKILL` after a grace of [`super::TIMEOUT_GRACE`].
    #[serde(default)]
    pub timeout: Option<std::time::Duration>,
    /// The agent's standard streams that are terminals are a pseudo-terminal of its own
    /// (see [`super::pty`]): the agent makes it its controlling terminal after `setsid`.
    #[serde(default)]
    pub controlling_terminal: bool,
}

/// What the seccomp part of the report is made from. The report is written only when asked
/// for, after pid 1 has been started, off the path to the agent's start; Landlock's part is
/// described again from [`SandboxPlan::landlock`] then.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FiltersReport {
    /// The policy's `[seccomp]`, for [`super::seccomp::describe`].
    pub seccomp: crate::policy::Seccomp,
    /// Whether the filter refuses memfd and System V IPC (no memory cgroup for
    /// `limits.memory`).
    pub memory: seccomp::UnaccountedMemory,
}

/// Compile the policy's filter once per process and reuse it for every later spawn of the
/// same policy (a large filter costs measurable time to build).
fn compiled_filter(
    policy: &Policy,
    memory: seccomp::UnaccountedMemory,
) -> Result<SeccompFilter, IsolationError> {
    static CACHE: Mutex<BTreeMap<String, SeccompFilter>> = Mutex::new(BTreeMap::new());
    let key =
        serde_json::to_string(&(&policy.seccomp, policy.network.mode, memory)).unwrap_or_default();
    if let Ok(cache) = CACHE.lock()
        && let Some(f) = cache.get(&key)
    {
        return Ok(f.clone());
    }
    let filter = seccomp::compile(&policy.seccomp, policy.network.mode, memory, Arch::native())
        .map_err(|e| IsolationError::Plan {
            policy: policy.path.clone(),
            message: format!("seccomp: {e}"),
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
/// sandbox, and `{workspace}` is only known at run time. The check holds for the objects, not
/// the text: a link, a bind-mounted alias or a hard link of a protected path is caught too.
///
/// # Errors
/// [`IsolationError::Plan`] naming the protected path.
pub fn refuse_protected_workspace(
    policy: &Policy,
    workspace: &Path,
    protected: &[PathBuf],
) -> Result<(), IsolationError> {
    let ws = Workspace::open(workspace, &[]).map_err(|e| IsolationError::Plan {
        policy: policy.path.clone(),
        message: format!("workspace {}: {e}", workspace.display()),
    })?;
    let protected: Vec<Protected> = protected.iter().map(|p| Protected::new(p)).collect();
    refuse_exposure(policy, &ws.dir, &protected, "workspace")
}

fn refuse_exposure(
    policy: &Policy,
    r: &Resolved,
    protected: &[Protected],
    what: &str,
) -> Result<(), IsolationError> {
    match protected.iter().find(|p| p.exposed_by(r)) {
        None => Ok(()),
        Some(p) => Err(IsolationError::Plan {
            policy: policy.path.clone(),
            message: format!(
                "{what} {} would expose {}, mycelium's own state (consent store, policies), which is never visible inside a sandbox; choose another path",
                r.path.display(),
                p.path.display()
            ),
        }),
    }
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
    let open_ws = |w: &Path, writable: &[Identity]| {
        Workspace::open(w, writable).map_err(|e| match e {
            resolve::ResolveError::Missing {
                errno: nix::errno::Errno::ENOTDIR,
                ..
            } => plan_err(format!("workspace {} is not a directory", w.display())),
            e => plan_err(format!("workspace {}: {e}", w.display())),
        })
    };
    let mut ws = match workspace {
        Some(w) => Some(open_ws(w, &[])?),
        None => None,
    };
    let workspace = ws.as_ref().map(|w| w.path().to_path_buf());
    if let Some(w) = &workspace {
        if !overrides.workspace_roots.is_empty()
            && !overrides.workspace_roots.iter().any(|r| w.starts_with(r))
        {
            return Err(plan_err(format!(
                "workspace {} lies outside every workspace root this server was started with",
                w.display()
            )));
        }
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

    // Resolve every grant to (inside path, opened host object), following no link an
    // agent could have planted (see `resolve`).
    let protected: Vec<Protected> = protected.iter().map(|p| Protected::new(p)).collect();
    let fs = &policy.filesystem;
    let grants: Vec<(&Grant, bool)> = fs
        .read_only
        .iter()
        .map(|g| (g, false))
        .chain(fs.read_write.iter().map(|g| (g, true)))
        .collect();
    // Links inside anything this run makes writable are never trusted, whoever owns them.
    // What counts is what the writable grants are (their identities, as resolved), not how
    // they are written: `/srv/alias/data` (through a root link) makes `/srv/real/data`
    // writable, and a bind-mounted alias of it is the same directory too.
    let (writable_ids, pass_one) = writable_identities(&grants, ws.as_ref(), workspace.as_deref());
    if let (Some(w), Some(first)) = (workspace.as_deref(), ws.as_ref().map(|w| w.dir.id)) {
        // The workspace's own (physical) path, walked again now that every writable place
        // is known: no link inside one of them may lead to it.
        let again = open_ws(w, &writable_ids)?;
        if again.dir.id != first {
            return Err(plan_err(format!(
                "workspace {}: {}",
                w.display(),
                resolve::ResolveError::Changed {
                    path: w.to_path_buf()
                }
            )));
        }
        ws = Some(again);
    }
    let mut resolved: Vec<(PathBuf, Resolved, bool, &Grant)> = Vec::new();
    for (i, &(g, writable)) in grants.iter().enumerate() {
        let Some(path) = g.path.resolve(workspace.as_deref()) else {
            continue;
        };
        let r = match (&g.path, &ws) {
            (GrantPath::Workspace(rel), Some(ws)) => ws.resolve(rel),
            _ => resolve::resolve_host(&path, ws.as_ref(), &writable_ids),
        };
        match r {
            // A writable grant must be what the first pass found (the set of writable
            // places was built from it).
            Ok(r) if pass_one.get(&i).is_some_and(|id| *id != r.id) => {
                return Err(plan_err(format!(
                    "{} (line {}): {}",
                    g.at.key,
                    g.at.line,
                    resolve::ResolveError::Changed { path: r.path }
                )));
            }
            Ok(r) => {
                refuse_exposure(
                    policy,
                    &r,
                    &protected,
                    &format!("{} (line {}):", g.at.key, g.at.line),
                )?;
                resolved.push((path, r, writable, g));
            }
            Err(e) if g.optional && e.is_missing() => {}
            Err(e) => {
                return Err(plan_err(format!("{} (line {}): {e}", g.at.key, g.at.line)));
            }
        }
    }
    let canon_grants: Vec<&Path> = resolved.iter().map(|r| r.1.path.as_path()).collect();

    let mut mounts = Vec::new();
    let mut trusted_links = Vec::new();
    for (path, r, writable, _) in &resolved {
        // A link whose target another entry grants stays a link, so `/bin -> usr/bin` looks
        // the same inside; otherwise the target itself is bound at the link's place.
        if let Some(points_to) = &r.link
            && canon_grants
                .iter()
                .any(|c| *c != r.path && r.path.starts_with(c))
        {
            trusted_links.push(path.clone());
            mounts.push(MountSpec::Symlink {
                at: path.clone(),
                points_to: points_to.clone(),
            });
            continue;
        }
        mounts.push(MountSpec::Bind {
            source: r.path.clone(),
            target: path.clone(),
            writable: *writable,
            is_dir: r.is_dir,
            id: r.id,
        });
    }
    refuse_overlaps(&resolved, &mounts).map_err(plan_err)?;
    for (target, size) in &fs.tmpfs {
        // A tmpfs below a link the sandbox holds (`/lib -> usr/lib`): its mount point would
        // be reached through the link, which pid 1 never follows. Say where it belongs.
        if let Some((at, real)) = resolved.iter().find_map(|(p, r, _, _)| {
            (trusted_links.contains(p) && target.starts_with(p))
                .then(|| (p, r.path.join(target.strip_prefix(p).unwrap_or(target))))
        }) {
            return Err(plan_err(format!(
                "filesystem.tmpfs: {} is or lies under {}, which is a symbolic link inside the sandbox (as on the host) and a mount point is never reached through a link: put the tmpfs at {} instead",
                target.display(),
                at.display(),
                real.display()
            )));
        }
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
    let env = scrub(caller_env, &policy.env, &home, &|p: &Path| p.is_file());
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

    let cgroup = CgroupLimits::from_policy(l);
    // limits.memory: a memory cgroup where one can be had, else the filter refuses what
    // RLIMIT_AS cannot count (memfd, System V IPC). A cgroup promised here is then
    // required at spawn, so one that cannot be made after all never leaves memory unbounded.
    let memory = cgroup::memory_enforcement(&cgroup);
    let memory_by_cgroup = l.memory.is_some() && memory == seccomp::UnaccountedMemory::Allowed;
    // `limits.processes` needs no cgroup: RLIMIT_NPROC binds every process of the sandbox,
    // since none runs as host root (fork.c exempts only INIT_USER, and a root caller's agent
    // takes another user's ids, see `ids`), and it is counted per user namespace.
    let cgroup_required = memory_by_cgroup;
    if cgroup_required && cgroup::available(&cgroup).is_none() {
        return Err(IsolationError::Unsupported {
            feature: "a memory cgroup (limits.memory)",
            cause: "this host offered a cgroup for the sandbox's memory when the plan was made, and none can be created now".into(),
            fix: "check the cgroup hierarchy (`mycelium doctor`), or run again".into(),
        });
    }

    // Landlock is a hard requirement: check now, before any process exists, that this
    // kernel can enforce everything the plan asks (the child checks again when applying).
    let mut landlock_plan = LandlockPlan::from_policy(policy, workspace.as_deref());
    landlock_plan.trusted_links = trusted_links;
    landlock::describe(&landlock_plan, landlock::probe_abi()).map_err(|e| IsolationError::Unsupported {
        feature: "Landlock",
        cause: e.to_string(),
        fix: "use a kernel with Landlock enabled (Linux 5.13+, `lsm=` including landlock; see `mycelium doctor`), or lower landlock.min_abi / drop port lists".into(),
    })?;
    let filter = compiled_filter(policy, memory)?;
    let filters_report = FiltersReport {
        seccomp: policy.seccomp.clone(),
        memory,
    };

    // The owner is read from the directory that was opened (and is mounted), never by its
    // name again: a link swapped in meanwhile must not choose whose ids the agent takes.
    let used = match (workspace.as_deref(), ws.as_ref()) {
        (Some(path), Some(opened)) if policy.uses_workspace() => {
            let st = nix::sys::stat::fstat(&opened.dir.fd)
                .map_err(|e| plan_err(format!("workspace {}: {e}", path.display())))?;
            Some((
                path,
                super::ids::Owner {
                    uid: st.st_uid,
                    gid: st.st_gid,
                },
            ))
        }
        _ => None,
    };
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
        timeout: policy.agent.timeout,
        controlling_terminal: false,
    };
    Ok(PreparedSandbox { plan, env })
}

impl SandboxPlan {
    /// Give the agent `contents` (an invocation's context, compact JSON) as the read-only
    /// file [`CONTEXT_DIR`]/[`CONTEXT_FILE`], readable under Landlock.
    ///
    /// The file lives on a tmpfs of its own that pid 1 makes. It may sit inside a tmpfs the
    /// policy mounts (`/run`), but never inside a host directory the policy binds (`/` or
    /// `/run`: its mount point would have to be made on the host), at or under a link, or
    /// over anything the policy places at or under [`CONTEXT_DIR`]: those are refused.
    ///
    /// # Errors
    /// [`IsolationError::Plan`] for a context over [`MAX_CONTEXT_BYTES`] or one of the
    /// clashes above, naming the policy's path.
    pub fn add_context(&mut self, contents: String) -> Result<(), IsolationError> {
        let plan_err = |message: String| IsolationError::Plan {
            policy: self.policy.clone(),
            message,
        };
        if contents.len() > MAX_CONTEXT_BYTES {
            return Err(plan_err(format!(
                "the context is {} bytes as compact JSON, more than the {} MiB a sandbox takes; pass a smaller context",
                contents.len(),
                MAX_CONTEXT_BYTES >> 20
            )));
        }
        let dir = Path::new(CONTEXT_DIR);
        let after = format!(
            "{CONTEXT_DIR} is where the invocation's context is given to the agent ({CONTEXT_DIR}/{CONTEXT_FILE})"
        );
        for m in &self.mounts {
            let t = m.target();
            let problem = if t.starts_with(dir) {
                format!("the policy places {} inside the sandbox", t.display())
            } else if !dir.starts_with(t) {
                continue;
            } else {
                match m {
                    // A tmpfs of the policy's at `/run`: the context's mount point is made
                    // in it, and its own tmpfs mounted on top. (A context is at
                    // CONTEXT_DIR itself, refused above.)
                    MountSpec::Tmpfs { .. } | MountSpec::Context { .. } => continue,
                    MountSpec::Bind { .. } => format!(
                        "the policy binds {} from the host, and mycelium never makes a mount point inside a host directory",
                        t.display()
                    ),
                    MountSpec::Symlink { .. } => format!(
                        "the policy keeps {} a symbolic link inside the sandbox, and a mount point is never reached through a link",
                        t.display()
                    ),
                }
            };
            return Err(plan_err(format!(
                "{problem}, but {after}; grant other paths, or run without a context"
            )));
        }
        // Last: every mount it may nest in (a tmpfs at `/run`) is shallower, and nothing
        // else is at or under it.
        self.mounts.push(MountSpec::Context {
            target: dir.to_path_buf(),
            contents,
        });
        self.landlock.read_data.push(dir.to_path_buf());
        Ok(())
    }
}

/// The identities of every place the run makes writable: the workspace and each writable
/// grant as it resolves (links followed only where root alone could have placed them and
/// outside the writable places found so far), with the identity found for each grant (by
/// its index in `grants`) so the final resolution can be held to it.
fn writable_identities(
    grants: &[(&Grant, bool)],
    ws: Option<&Workspace>,
    workspace: Option<&Path>,
) -> (Vec<Identity>, BTreeMap<usize, Identity>) {
    let mut ids: Vec<Identity> = ws.map(|w| w.dir.id).into_iter().collect();
    let mut found = BTreeMap::new();
    for (i, &(g, writable)) in grants.iter().enumerate() {
        if !writable || matches!(g.path, GrantPath::Workspace(_)) {
            continue;
        }
        let Some(path) = g.path.resolve(workspace) else {
            continue;
        };
        // A grant that cannot be resolved is reported by the final pass.
        if let Ok(r) = resolve::resolve_host(&path, ws, &ids) {
            ids.push(r.id);
            found.insert(i, r.id);
        }
    }
    (ids, found)
}

/// A grant inside another granted directory is mounted on what that directory holds at
/// its place: refuse, naming both grants, when that is a link, missing, or of the other
/// kind (the mount could not be made, or would land where the link points).
fn refuse_overlaps(
    resolved: &[(PathBuf, Resolved, bool, &Grant)],
    mounts: &[MountSpec],
) -> Result<(), String> {
    let name = |g: &Grant| format!("{} (line {})", g.at.key, g.at.line);
    for (path, r, _, g) in resolved {
        // The deepest other grant above this one.
        let Some((outer, outer_r, _, outer_g)) = resolved
            .iter()
            .filter(|(p, o, _, _)| p != path && o.is_dir && path.starts_with(p))
            .max_by_key(|(p, ..)| p.components().count())
        else {
            continue;
        };
        let what = |problem: String| {
            format!(
                "{} grants {}, which lies inside {} granted by {}, where {problem}: the two grants overlap; remove {} or grant a path that is a real {} inside {}",
                name(g),
                path.display(),
                outer.display(),
                name(outer_g),
                name(g),
                if r.is_dir { "directory" } else { "file" },
                outer.display()
            )
        };
        if let Some(MountSpec::Symlink { points_to, .. }) = mounts
            .iter()
            .find(|m| m.target() == outer.as_path() && matches!(m, MountSpec::Symlink { .. }))
        {
            return Err(format!(
                "{} grants {}, which lies inside {} granted by {}, where {} is a symbolic link to {} inside the sandbox: the two grants overlap; remove {} or grant {} instead",
                name(g),
                path.display(),
                outer.display(),
                name(outer_g),
                outer.display(),
                points_to.display(),
                name(g),
                path.strip_prefix(outer)
                    .map_or_else(|_| path.clone(), |rel| outer_r.path.join(rel))
                    .display()
            ));
        }
        let Ok(rel) = path.strip_prefix(outer) else {
            continue;
        };
        match resolve::lookup_beneath(outer_r, rel) {
            Ok(is_dir) if is_dir == r.is_dir => {}
            Ok(_) => {
                return Err(what(format!(
                    "{} is a {}",
                    outer_r.path.join(rel).display(),
                    if r.is_dir { "file" } else { "directory" }
                )));
            }
            Err(problem) => return Err(what(problem)),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use pretty_assertions::assert_eq;

    use super::*;

    /// A plan for `[filesystem] read_only = ["/usr"]` with `mounts` as its new-root steps,
    /// built without the kernel (no probe, no resolution of the grants).
    fn plan_with(mounts: Vec<MountSpec>) -> SandboxPlan {
        let path = Path::new("/p.toml");
        let body = "[agent]\ncommand = [\"/bin/true\"]\n[filesystem]\nread_only = [\"/usr\"]\n";
        let policy = Policy::from_bytes(path, body.into(), &Default::default())
            .map_err(|e| e.diagnostics(path))
            .unwrap();
        let memory = seccomp::UnaccountedMemory::Allowed;
        SandboxPlan {
            policy: path.into(),
            new_network_ns: true,
            network: policy.network.mode,
            mounts,
            uid: 1000,
            gid: 1000,
            host_ids: None,
            argv: vec!["/bin/true".into()],
            env: BTreeMap::new(),
            cwd: "/".into(),
            passed_fds: 0,
            exec_fd: None,
            rlimits: vec![],
            cgroup: CgroupLimits::default(),
            landlock: LandlockPlan::from_policy(&policy, None),
            seccomp: seccomp::compile(&policy.seccomp, policy.network.mode, memory, Arch::native())
                .unwrap(),
            filters_report: FiltersReport {
                seccomp: policy.seccomp.clone(),
                memory,
            },
            cgroup_required: false,
            timeout: None,
            controlling_terminal: false,
        }
    }

    fn bind(target: &str, is_dir: bool) -> MountSpec {
        MountSpec::Bind {
            source: target.into(),
            target: target.into(),
            writable: false,
            is_dir,
            id: Identity { dev: 1, ino: 2 },
        }
    }

    fn tmpfs(target: &str) -> MountSpec {
        MountSpec::Tmpfs {
            target: target.into(),
            size: 1 << 20,
        }
    }

    #[test]
    fn the_plan_carries_the_context_bytes_across_the_pipe_and_lets_the_agent_read_them() {
        let json = r#"{"a":[1,2.5,"é \"q\" \n"],"b":null}"#;
        let mut plan = plan_with(vec![bind("/usr", true)]);
        let before = plan.landlock.clone();
        plan.add_context(json.to_string()).unwrap();
        let context = MountSpec::Context {
            target: "/run/mycelium".into(),
            contents: json.to_string(),
        };
        assert_eq!(plan.mounts, vec![bind("/usr", true), context.clone()]);
        // Read (files and the directory), nothing else; the other rules are untouched.
        assert_eq!(
            plan.landlock,
            LandlockPlan {
                read_data: vec!["/run/mycelium".into()],
                ..before
            }
        );
        // As the launcher gets it: the same bytes.
        let wire = serde_json::to_vec(&plan).unwrap();
        let back: SandboxPlan = serde_json::from_slice(&wire).unwrap();
        assert_eq!(back.mounts, vec![bind("/usr", true), context]);
        assert_eq!(back.landlock, plan.landlock);
        assert_eq!(
            super::super::report::for_plan(&back, "", "")
                .root
                .provided
                .first()
                .cloned(),
            Some(format!(
                "/run/mycelium/context.json (the invocation's context, {} bytes; read-only tmpfs, nosuid, nodev, noexec)",
                json.len()
            ))
        );
    }

    #[test]
    fn without_a_context_the_plan_has_no_run_mycelium() {
        let plan = plan_with(vec![bind("/usr", true)]);
        assert_eq!(plan.mounts, vec![bind("/usr", true)]);
        assert_eq!(plan.landlock.read_data, Vec::<PathBuf>::new());
        let wire = serde_json::to_string(&plan).unwrap();
        assert!(!wire.contains("/run/mycelium"), "{wire}");
    }

    #[test]
    fn the_context_nests_in_a_tmpfs_of_the_policy_and_never_in_a_host_directory() {
        // A tmpfs at /run: the context is mounted on top of a directory made in it.
        let mut plan = plan_with(vec![tmpfs("/run")]);
        plan.add_context("{}".into()).unwrap();
        assert_eq!(
            plan.mounts,
            vec![
                tmpfs("/run"),
                MountSpec::Context {
                    target: "/run/mycelium".into(),
                    contents: "{}".into()
                }
            ]
        );
        let refused = |m: MountSpec| {
            plan_with(vec![m])
                .add_context("{}".into())
                .unwrap_err()
                .to_string()
        };
        let tail = ", but /run/mycelium is where the invocation's context is given to the agent (/run/mycelium/context.json); grant other paths, or run without a context";
        assert_eq!(
            refused(bind("/run", true)),
            format!(
                "/p.toml: the policy binds /run from the host, and mycelium never makes a mount point inside a host directory{tail}"
            )
        );
        assert_eq!(
            refused(bind("/", true)),
            format!(
                "/p.toml: the policy binds / from the host, and mycelium never makes a mount point inside a host directory{tail}"
            )
        );
        assert_eq!(
            refused(MountSpec::Symlink {
                at: "/run".into(),
                points_to: "/var/run".into()
            }),
            format!(
                "/p.toml: the policy keeps /run a symbolic link inside the sandbox, and a mount point is never reached through a link{tail}"
            )
        );
        for at in ["/run/mycelium", "/run/mycelium/context.json"] {
            assert_eq!(
                refused(bind(at, false)),
                format!("/p.toml: the policy places {at} inside the sandbox{tail}")
            );
        }
        assert_eq!(
            refused(tmpfs("/run/mycelium")),
            format!("/p.toml: the policy places /run/mycelium inside the sandbox{tail}")
        );
        // Neighbours are no clash.
        for m in [
            bind("/run/user", true),
            bind("/run/mycelium2", true),
            tmpfs("/tmp"),
        ] {
            let mut plan = plan_with(vec![m.clone()]);
            plan.add_context("1".into()).unwrap();
            assert_eq!(plan.mounts.len(), 2, "{m:?}");
        }
    }

    #[test]
    fn a_context_over_the_limit_is_refused_and_one_at_it_fits_its_tmpfs() {
        let at = "1".repeat(MAX_CONTEXT_BYTES);
        let mut plan = plan_with(vec![]);
        plan.add_context(at.clone()).unwrap();
        assert_eq!(context_tmpfs_size(at.len()), MAX_CONTEXT_BYTES as u64);
        assert_eq!(context_tmpfs_size(2), 4096);
        assert_eq!(context_tmpfs_size(4097), 8192);
        let over = "1".repeat(MAX_CONTEXT_BYTES + 1);
        assert_eq!(
            plan_with(vec![]).add_context(over).unwrap_err().to_string(),
            "/p.toml: the context is 1048577 bytes as compact JSON, more than the 1 MiB a sandbox takes; pass a smaller context"
        );
    }
}
