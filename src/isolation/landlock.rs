//! Landlock: the file-system, TCP and scope rules the agent runs under.
//!
//! A [`LandlockPlan`] mirrors `[filesystem]` and `[network]` as paths seen *inside* the
//! sandbox (after `pivot_root`); [`apply`] turns it into a ruleset on the calling thread,
//! using the highest ABI the kernel has, as a hard requirement: anything short of fully
//! enforcing what the plan asks is an error naming the missing ABI, never a silent
//! downgrade. [`describe`] computes the same account without touching the kernel, for
//! `policy explain` and `doctor`.
//!
//! Invariant: every file-system right the kernel's ABI knows is *handled*, so anything not
//! granted by a rule here is denied — even where a bind mount went wrong.
//!
//! Network choices (ABI ≥ 4, TCP only — Landlock does not see UDP here):
//! - `none`: bind and connect are handled with no rule, so every TCP bind and connect is
//!   refused, backing up the empty network namespace.
//! - `loopback`: not handled unless the policy lists ports. The namespace's only interface
//!   is its own `lo`, so local servers and clients talking to each other reach nothing of
//!   the host; restricting their ports would only break them.
//! - `host`: `tcp_connect` / `tcp_bind` lists become port rules; an absent list leaves that
//!   direction unrestricted.
//!
//! With ABI ≥ 6, abstract unix sockets and signals are scoped: the agent can neither
//! connect to an abstract socket created outside its domain nor signal a process outside it.

use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use landlock::{
    ABI, Access, AccessFs, AccessNet, BitFlags, CompatLevel, Compatible, NetPort, PathBeneath,
    PathFd, PathFdError, Ruleset, RulesetAttr, RulesetCreatedAttr, RulesetError, RulesetStatus,
    Scope,
};
use serde::{Deserialize, Serialize};

use crate::isolation::sys;
use crate::policy::{NetworkMode, Policy};

/// Highest Landlock ABI the `landlock` crate in use knows; newer kernels are driven at it.
const CRATE_MAX_ABI: u8 = 10;

/// Device files a sandbox provides, granted read and write (but no ioctl).
pub const SANDBOX_DEVICES: &[&str] = &[
    "/dev/null",
    "/dev/zero",
    "/dev/full",
    "/dev/random",
    "/dev/urandom",
];

#[derive(Serialize, Deserialize)]
#[serde(remote = "NetworkMode", rename_all = "snake_case")]
enum NetworkModeDef {
    None,
    Loopback,
    Host,
}

/// What the agent may reach, as paths inside the sandbox. Built from the policy by
/// [`LandlockPlan::from_policy`], extended by the launcher with what the sandbox itself
/// provides, and sent over the launcher's pipe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LandlockPlan {
    /// Readable and executable (read_file, read_dir, execute).
    pub read_only: Vec<PathBuf>,
    /// Readable only (read_file, read_dir; nothing is executed from them), such as an
    /// invocation's context ([`super::plan::CONTEXT_DIR`]).
    #[serde(default)]
    pub read_data: Vec<PathBuf>,
    /// Every file-system right the ABI has (write, create, remove, truncate, refer, ioctl on
    /// devices…).
    pub read_write: Vec<PathBuf>,
    /// Device files to read and write (e.g. [`SANDBOX_DEVICES`]); no ioctl on them.
    pub devices: Vec<PathBuf>,
    /// Entries of the lists above that may be missing: skipped (and reported) instead of an
    /// error.
    pub optional: Vec<PathBuf>,
    /// The network mode.
    #[serde(with = "NetworkModeDef")]
    pub network: NetworkMode,
    /// TCP ports the agent may connect to (not `none`); `None` leaves connect unhandled.
    pub tcp_connect: Option<Vec<u16>>,
    /// TCP ports the agent may bind (not `none`); `None` leaves bind unhandled.
    pub tcp_bind: Option<Vec<u16>>,
    /// The lowest ABI the policy accepts.
    pub min_abi: Option<u8>,
    /// The links mycelium itself placed in the new root (`/bin -> usr/bin`): a rule path at
    /// or under one of them follows it. Every other rule path is opened without following
    /// any link, so a link planted in a writable grant cannot redirect a rule.
    #[serde(default)]
    pub trusted_links: Vec<PathBuf>,
}

impl LandlockPlan {
    /// The plan for `policy`: its read-only and read-write grants (resolved against
    /// `workspace`; a workspace grant without a workspace is left out, so denied), its
    /// `tmpfs` directories read-write, `/proc` read-only and [`SANDBOX_DEVICES`].
    #[must_use]
    pub fn from_policy(policy: &Policy, workspace: Option<&Path>) -> LandlockPlan {
        let mut optional = Vec::new();
        let mut resolve = |grants: &[crate::policy::Grant]| -> Vec<PathBuf> {
            let mut out = Vec::new();
            for grant in grants {
                if let Some(path) = grant.path.resolve(workspace) {
                    if grant.optional {
                        optional.push(path.clone());
                    }
                    out.push(path);
                }
            }
            out
        };
        let mut read_only = resolve(&policy.filesystem.read_only);
        let mut read_write = resolve(&policy.filesystem.read_write);
        read_only.push(PathBuf::from("/proc"));
        read_write.extend(policy.filesystem.tmpfs.keys().cloned());
        LandlockPlan {
            read_only,
            read_data: Vec::new(),
            read_write,
            devices: SANDBOX_DEVICES.iter().map(PathBuf::from).collect(),
            optional,
            network: policy.network.mode,
            tcp_connect: policy.network.tcp_connect.clone(),
            tcp_bind: policy.network.tcp_bind.clone(),
            min_abi: policy.landlock.min_abi,
            trusted_links: Vec::new(),
        }
    }
}

/// How one TCP direction is confined.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "ports")]
pub enum TcpRule {
    /// Landlock does not restrict it.
    NotHandled,
    /// Refused for every port.
    DenyAll,
    /// Allowed for these ports only.
    Ports(Vec<u16>),
}

/// What Landlock enforces (after [`apply`]) or would enforce (from [`describe`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LandlockReport {
    /// The kernel's Landlock ABI.
    pub kernel_abi: u8,
    /// The ABI the rules were built for (the kernel's, capped at what the crate knows).
    pub abi: u8,
    /// File-system rights handled, i.e. denied unless a rule grants them.
    pub handled_fs: Vec<String>,
    /// Rights on read-only paths.
    pub read_only_rights: Vec<String>,
    /// Rights on read-only data paths (only when there are some).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub read_data_rights: Vec<String>,
    /// Rights on read-write paths.
    pub read_write_rights: Vec<String>,
    /// Rights on device files.
    pub device_rights: Vec<String>,
    /// Read-only paths with a rule.
    pub read_only: Vec<PathBuf>,
    /// Read-only data paths with a rule.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub read_data: Vec<PathBuf>,
    /// Read-write paths with a rule.
    pub read_write: Vec<PathBuf>,
    /// Device files with a rule.
    pub devices: Vec<PathBuf>,
    /// Optional paths that did not exist.
    pub skipped: Vec<PathBuf>,
    /// TCP bind.
    pub tcp_bind: TcpRule,
    /// TCP connect.
    pub tcp_connect: TcpRule,
    /// Scopes (`abstract_unix_socket`, `signal`).
    pub scopes: Vec<String>,
}

/// Why Landlock could not be enforced as planned.
#[derive(Debug, thiserror::Error)]
pub enum LandlockError {
    /// The kernel lacks a Landlock feature the plan needs.
    #[error("{feature} is not available: {reason}")]
    Unsupported {
        /// The missing feature, e.g. `Landlock ABI 4 (TCP port rules)`.
        feature: String,
        /// What the kernel has instead.
        reason: String,
    },
    /// The policy's `landlock.min_abi` is above the kernel's ABI.
    #[error(
        "the policy requires Landlock ABI {required} but this kernel has ABI {found}; \
         run it on a newer kernel or lower landlock.min_abi"
    )]
    AbiTooOld {
        /// `landlock.min_abi`.
        required: u8,
        /// The kernel's ABI.
        found: u8,
    },
    /// A path of the plan could not be opened.
    #[error("cannot open {} for a Landlock rule", path.display())]
    Path {
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: PathFdError,
    },
    /// A path of the plan is, or passes through, a link mycelium did not place.
    #[error(
        "{} is or passes through a symbolic link that mycelium did not place; no Landlock rule follows such a link",
        path.display()
    )]
    Link {
        /// The path.
        path: PathBuf,
    },
    /// A path of the plan could not be opened without following links.
    #[error("cannot open {} for a Landlock rule", path.display())]
    Open {
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: sys::SysError,
    },
    /// A path of the plan could not be examined.
    #[error("cannot examine {} for a Landlock rule", path.display())]
    Stat {
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: nix::errno::Errno,
    },
    /// Building or enforcing the ruleset failed.
    #[error("could not build or enforce the Landlock ruleset")]
    Ruleset {
        /// The cause.
        #[source]
        source: RulesetError,
    },
    /// The kernel enforced less than requested.
    #[error(
        "Landlock was only {status} on ABI {abi}; refusing to run with less than the policy asks"
    )]
    NotFullyEnforced {
        /// `partially enforced` or `not enforced`.
        status: &'static str,
        /// The ABI used.
        abi: u8,
    },
}

impl From<RulesetError> for LandlockError {
    fn from(source: RulesetError) -> Self {
        LandlockError::Ruleset { source }
    }
}

/// The kernel's Landlock ABI version, or `None` without Landlock (not built in, or
/// disabled at boot).
#[must_use]
pub fn probe_abi() -> Option<u8> {
    sys::landlock_abi::landlock_abi_version()
        .ok()
        .map(|v| u8::try_from(v).unwrap_or(u8::MAX))
}

fn crate_abi(abi: u8) -> ABI {
    ABI::from(i32::from(abi))
}

fn fs_names(rights: BitFlags<AccessFs>) -> Vec<String> {
    rights
        .iter()
        .map(|r| {
            match r {
                AccessFs::Execute => "execute",
                AccessFs::WriteFile => "write_file",
                AccessFs::ReadFile => "read_file",
                AccessFs::ReadDir => "read_dir",
                AccessFs::RemoveDir => "remove_dir",
                AccessFs::RemoveFile => "remove_file",
                AccessFs::MakeChar => "make_char",
                AccessFs::MakeDir => "make_dir",
                AccessFs::MakeReg => "make_reg",
                AccessFs::MakeSock => "make_sock",
                AccessFs::MakeFifo => "make_fifo",
                AccessFs::MakeBlock => "make_block",
                AccessFs::MakeSym => "make_sym",
                AccessFs::Refer => "refer",
                AccessFs::Truncate => "truncate",
                AccessFs::IoctlDev => "ioctl_dev",
                AccessFs::ResolveUnix => "resolve_unix",
                _ => "other",
            }
            .to_owned()
        })
        .collect()
}

/// The rights of each kind of grant at one ABI.
struct FsRights {
    handled: BitFlags<AccessFs>,
    read_only: BitFlags<AccessFs>,
    read_data: BitFlags<AccessFs>,
    read_write: BitFlags<AccessFs>,
    device: BitFlags<AccessFs>,
}

fn fs_rights(abi: ABI) -> FsRights {
    let handled = AccessFs::from_all(abi);
    // Opening with O_TRUNC (`> /dev/null` in a shell) needs the truncate right from ABI 3.
    let device = (AccessFs::ReadFile | AccessFs::WriteFile | AccessFs::Truncate) & handled;
    FsRights {
        handled,
        read_only: AccessFs::from_read(abi),
        read_data: (AccessFs::ReadFile | AccessFs::ReadDir) & handled,
        read_write: handled,
        device,
    }
}

/// The TCP rules and scopes for `plan` at `abi`.
fn network_rules(
    plan: &LandlockPlan,
    abi: u8,
) -> Result<(TcpRule, TcpRule, Vec<Scope>), LandlockError> {
    let ports = |list: &Option<Vec<u16>>| match list {
        None => Ok(TcpRule::NotHandled),
        Some(_) if abi < 4 => Err(LandlockError::Unsupported {
            feature: "Landlock ABI 4 (TCP port rules)".into(),
            reason: format!("this kernel has ABI {abi}, and the policy lists TCP ports"),
        }),
        Some(p) => Ok(TcpRule::Ports(p.clone())),
    };
    let (bind, connect) = match plan.network {
        // Below ABI 4 the empty network namespace is the only wall; Landlock has no say.
        NetworkMode::None if abi < 4 => (TcpRule::NotHandled, TcpRule::NotHandled),
        NetworkMode::None => (TcpRule::DenyAll, TcpRule::DenyAll),
        NetworkMode::Loopback | NetworkMode::Host => {
            (ports(&plan.tcp_bind)?, ports(&plan.tcp_connect)?)
        }
    };
    let scopes = if abi >= 6 {
        vec![Scope::AbstractUnixSocket, Scope::Signal]
    } else {
        Vec::new()
    };
    Ok((bind, connect, scopes))
}

fn scope_name(scope: Scope) -> String {
    match scope {
        Scope::AbstractUnixSocket => "abstract_unix_socket",
        Scope::Signal => "signal",
        _ => "other",
    }
    .to_owned()
}

/// Check `min_abi` and compute the report for a kernel with Landlock ABI `kernel_abi`.
fn plan_report(
    plan: &LandlockPlan,
    kernel_abi: Option<u8>,
) -> Result<LandlockReport, LandlockError> {
    let Some(kernel_abi) = kernel_abi.filter(|&a| a > 0) else {
        return Err(LandlockError::Unsupported {
            feature: "Landlock".into(),
            reason: "this kernel was built without it or it is disabled at boot \
                     (add `landlock` to the `lsm=` boot parameter)"
                .into(),
        });
    };
    if let Some(required) = plan.min_abi
        && kernel_abi < required
    {
        return Err(LandlockError::AbiTooOld {
            required,
            found: kernel_abi,
        });
    }
    let abi = kernel_abi.min(CRATE_MAX_ABI);
    let rights = fs_rights(crate_abi(abi));
    let (tcp_bind, tcp_connect, scopes) = network_rules(plan, abi)?;
    Ok(LandlockReport {
        kernel_abi,
        abi,
        handled_fs: fs_names(rights.handled),
        read_only_rights: fs_names(rights.read_only),
        read_data_rights: if plan.read_data.is_empty() {
            Vec::new()
        } else {
            fs_names(rights.read_data)
        },
        read_write_rights: fs_names(rights.read_write),
        device_rights: fs_names(rights.device),
        read_only: plan.read_only.clone(),
        read_data: plan.read_data.clone(),
        read_write: plan.read_write.clone(),
        devices: plan.devices.clone(),
        skipped: Vec::new(),
        tcp_bind,
        tcp_connect,
        scopes: scopes.into_iter().map(scope_name).collect(),
    })
}

/// What [`apply`] would enforce for `plan` on a kernel with Landlock ABI `kernel_abi`
/// (`None`: no Landlock), without touching the kernel. Pass [`probe_abi`] for this host.
///
/// # Errors
/// As [`apply`], for the reasons that do not need the paths themselves.
pub fn describe(
    plan: &LandlockPlan,
    kernel_abi: Option<u8>,
) -> Result<LandlockReport, LandlockError> {
    plan_report(plan, kernel_abi)
}

fn net_access(rule: &TcpRule, access: AccessNet) -> BitFlags<AccessNet> {
    match rule {
        TcpRule::NotHandled => BitFlags::EMPTY,
        TcpRule::DenyAll | TcpRule::Ports(_) => access.into(),
    }
}

/// A descriptor for a rule: a `PathFd` when the path follows a link of ours, else a
/// descriptor opened with no link followed.
enum RuleFd {
    Followed(PathFd),
    Exact(std::os::fd::OwnedFd),
}

impl AsFd for RuleFd {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        match self {
            RuleFd::Followed(fd) => fd.as_fd(),
            RuleFd::Exact(fd) => fd.as_fd(),
        }
    }
}

/// Open `path` for a rule; `Ok(None)` when it is optional and missing.
fn open_rule_path(
    plan: &LandlockPlan,
    path: &Path,
) -> Result<Option<(RuleFd, bool)>, LandlockError> {
    let optional = plan.optional.iter().any(|p| p == path);
    let fd = if plan.trusted_links.iter().any(|l| path.starts_with(l)) {
        match PathFd::new(path) {
            Ok(fd) => RuleFd::Followed(fd),
            Err(_) if optional && !path.exists() => return Ok(None),
            Err(source) => {
                return Err(LandlockError::Path {
                    path: path.to_path_buf(),
                    source,
                });
            }
        }
    } else {
        match sys::mountfd::openat2(None, path, libc::O_PATH, 0, sys::mountfd::RESOLVE_NO_LINKS) {
            Ok(fd) => RuleFd::Exact(fd),
            Err(e) if e.errno == nix::errno::Errno::ELOOP => {
                return Err(LandlockError::Link {
                    path: path.to_path_buf(),
                });
            }
            Err(e) if optional && e.errno == nix::errno::Errno::ENOENT => return Ok(None),
            Err(source) => {
                return Err(LandlockError::Open {
                    path: path.to_path_buf(),
                    source,
                });
            }
        }
    };
    let stat = nix::sys::stat::fstat(fd.as_fd()).map_err(|source| LandlockError::Stat {
        path: path.to_path_buf(),
        source,
    })?;
    let is_dir = stat.st_mode & libc::S_IFMT == libc::S_IFDIR;
    Ok(Some((fd, is_dir)))
}

/// Restrict the calling thread (and everything it executes) to `plan`, at the highest ABI
/// the kernel has. Sets `no_new_privs`. Call it in the sandboxed child after `pivot_root`
/// (paths are as seen inside) and before the seccomp filter.
///
/// # Errors
/// [`LandlockError::Unsupported`] without Landlock or without a feature the plan needs,
/// [`LandlockError::AbiTooOld`] below `min_abi`, [`LandlockError::Path`] for a missing
/// non-optional path, [`LandlockError::NotFullyEnforced`] if the kernel enforced less.
pub fn apply(plan: &LandlockPlan) -> Result<LandlockReport, LandlockError> {
    let mut report = plan_report(plan, probe_abi())?;
    let abi = crate_abi(report.abi);
    let rights = fs_rights(abi);
    let mut ruleset = Ruleset::default()
        .set_compatibility(CompatLevel::HardRequirement)
        .handle_access(rights.handled)?;
    let bind = net_access(&report.tcp_bind, AccessNet::BindTcp);
    let connect = net_access(&report.tcp_connect, AccessNet::ConnectTcp);
    if !(bind | connect).is_empty() {
        ruleset = ruleset.handle_access(bind | connect)?;
    }
    if report.abi >= 6 {
        ruleset = ruleset.scope(Scope::AbstractUnixSocket | Scope::Signal)?;
    }
    let mut created = ruleset.create()?;
    let file_rights = AccessFs::from_file(abi);
    let groups = [
        (&plan.read_only, rights.read_only, &mut report.read_only),
        (&plan.read_data, rights.read_data, &mut report.read_data),
        (&plan.read_write, rights.read_write, &mut report.read_write),
        (&plan.devices, rights.device, &mut report.devices),
    ];
    let mut skipped = Vec::new();
    for (paths, access, granted) in groups {
        granted.clear();
        for path in paths {
            let Some((fd, is_dir)) = open_rule_path(plan, path)? else {
                skipped.push(path.clone());
                continue;
            };
            // Directory-only rights (read_dir, make_*, remove_*, refer) cannot be granted on
            // a file; a file grant keeps the rest.
            let access = if is_dir { access } else { access & file_rights };
            created = created.add_rule(PathBeneath::new(fd, access))?;
            granted.push(path.clone());
        }
    }
    report.skipped = skipped;
    for (rule, access) in [
        (&report.tcp_bind, AccessNet::BindTcp),
        (&report.tcp_connect, AccessNet::ConnectTcp),
    ] {
        if let TcpRule::Ports(ports) = rule {
            for &port in ports {
                created = created.add_rule(NetPort::new(port, access))?;
            }
        }
    }
    let status = created.restrict_self()?;
    match status.ruleset {
        RulesetStatus::FullyEnforced => Ok(report),
        RulesetStatus::PartiallyEnforced => Err(LandlockError::NotFullyEnforced {
            status: "partially enforced",
            abi: report.abi,
        }),
        RulesetStatus::NotEnforced => Err(LandlockError::NotFullyEnforced {
            status: "not enforced",
            abi: report.abi,
        }),
    }
}

#[cfg(test)]
mod tests;
