//! Policy files: what an agent runs and how it is confined.
//!
//! A policy is read once, as bytes ([`Policy::bytes`] is what the consent checksum covers and
//! what was parsed — there is no second read). Loading validates every field and reports
//! each problem with file, line, column and key path; the result is a [`Policy`] whose paths
//! are absolute and whose sizes and durations are typed. This module never touches the
//! kernel: turning a policy into mounts and filters is `isolation`'s job.

pub mod env_secrets;
mod explain;
mod load;
mod risk;
mod schema;
pub mod sensitive;
mod units;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use explain::{Explanation, explain};
pub use load::{Diagnostic, LoadOptions, PolicyError};
pub use risk::{Risk, RiskLevel, RiskReason, assess, assess_with_homes};
pub use units::{ByteSize, format_duration, parse_duration};

/// Where a value was written in its policy file, for errors raised after loading.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Location {
    /// 1-based line.
    pub line: usize,
    /// 1-based column (in characters).
    pub column: usize,
    /// Key path such as `filesystem.read_only[2]`.
    pub key: String,
}

/// A path a policy grants, before or after the workspace is known.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "kind", content = "path", rename_all = "snake_case")]
pub enum GrantPath {
    /// An absolute host path (`{home}` already expanded, relative paths resolved).
    Host(PathBuf),
    /// A path under the workspace: `{workspace}` followed by this relative part.
    Workspace(PathBuf),
}

impl GrantPath {
    /// The host path, given the workspace directory of this run.
    #[must_use]
    pub fn resolve(&self, workspace: Option<&Path>) -> Option<PathBuf> {
        match self {
            GrantPath::Host(p) => Some(p.clone()),
            GrantPath::Workspace(rel) => workspace.map(|w| {
                if rel.as_os_str().is_empty() {
                    w.to_path_buf()
                } else {
                    w.join(rel)
                }
            }),
        }
    }

    /// The path as a person reads it: `{workspace}/out` or `/usr`.
    #[must_use]
    pub fn display(&self) -> String {
        match self {
            GrantPath::Host(p) => p.display().to_string(),
            GrantPath::Workspace(rel) if rel.as_os_str().is_empty() => "{workspace}".into(),
            GrantPath::Workspace(rel) => format!("{{workspace}}/{}", rel.display()),
        }
    }
}

/// One path granted by `[filesystem]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Grant {
    /// The path.
    pub path: GrantPath,
    /// Written with a leading `?`: skipped when it does not exist instead of an error.
    pub optional: bool,
    /// Where it was written.
    pub at: Location,
}

/// How the task text reaches the agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskMode {
    /// Written to the agent's standard input, which is then closed.
    Stdin,
    /// Appended as the last command-line argument.
    Arg,
    /// Put in the `MYCELIUM_TASK` environment variable.
    Env,
}

/// `[agent]`.
#[derive(Debug, Clone, Serialize)]
pub struct Agent {
    /// One line saying what the agent does.
    pub description: Option<String>,
    /// Definition file, absolute.
    pub definition: Option<PathBuf>,
    /// Program and arguments (empty when the policy is only used with `exec`).
    pub command: Vec<String>,
    /// How the task reaches the agent.
    pub task: TaskMode,
    /// Wall-clock limit.
    pub timeout: Option<Duration>,
    /// User id inside the sandbox.
    pub uid: u32,
    /// Group id inside the sandbox.
    pub gid: u32,
    /// Files covered by the consent checksum, absolute.
    pub pin: Vec<PathBuf>,
}

/// `[filesystem]`.
#[derive(Debug, Clone, Serialize)]
pub struct Filesystem {
    /// Visible read-only (and executable).
    pub read_only: Vec<Grant>,
    /// Visible read-write.
    pub read_write: Vec<Grant>,
    /// Private in-memory directories, by absolute path.
    pub tmpfs: BTreeMap<PathBuf, ByteSize>,
}

/// Network confinement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NetworkMode {
    /// A network namespace with no usable interface.
    None,
    /// A network namespace with only its own `lo` up.
    Loopback,
    /// The host's network (no network namespace).
    Host,
}

impl NetworkMode {
    /// The name used in policy files.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            NetworkMode::None => "none",
            NetworkMode::Loopback => "loopback",
            NetworkMode::Host => "host",
        }
    }
}

/// `[network]`.
#[derive(Debug, Clone, Serialize)]
pub struct Network {
    /// The mode.
    pub mode: NetworkMode,
    /// TCP ports the agent may connect to in host mode (Landlock); `None` means any.
    pub tcp_connect: Option<Vec<u16>>,
    /// TCP ports the agent may bind in host mode (Landlock); `None` means any.
    pub tcp_bind: Option<Vec<u16>>,
    /// Whether the agent may create unix-domain sockets (and so connect to socket files in
    /// granted paths).
    pub unix_sockets: bool,
}

/// `[env]`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct EnvPolicy {
    /// Copied from the caller's environment (sensitive names are withheld).
    pub pass: Vec<String>,
    /// Set to fixed values.
    pub set: BTreeMap<String, String>,
    /// Sensitive names passed despite the block-list.
    pub allow_secrets: Vec<String>,
}

/// `[limits]`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Limits {
    /// Address-space ceiling.
    pub memory: Option<ByteSize>,
    /// Processes and threads of the sandbox's user.
    pub processes: Option<u64>,
    /// Open file descriptors per process.
    pub open_files: Option<u64>,
    /// Largest file the agent may write.
    pub file_size: Option<ByteSize>,
    /// CPU seconds per process.
    pub cpu_time: Option<Duration>,
    /// Output kept per run.
    pub output: Option<ByteSize>,
}

/// Which system-call filter the agent runs under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SeccompProfile {
    /// A broad allow-list for ordinary programs.
    Default,
    /// A minimal allow-list for sh, coreutils and python3.
    Strict,
}

impl SeccompProfile {
    /// The name used in policy files.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            SeccompProfile::Default => "default",
            SeccompProfile::Strict => "strict",
        }
    }
}

/// `[seccomp]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Seccomp {
    /// The base profile.
    pub profile: SeccompProfile,
    /// System calls added to the allow-list.
    pub allow: Vec<String>,
    /// System calls removed from it.
    pub deny: Vec<String>,
    /// Whether `socket(AF_UNIX, …)` is allowed: copied from `network.unix_sockets`, since
    /// the filter is what enforces it.
    pub unix_sockets: bool,
}

/// `[landlock]`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LandlockReq {
    /// The lowest ABI the agent accepts.
    pub min_abi: Option<u8>,
}

/// A loaded, validated policy.
#[derive(Debug, Clone, Serialize)]
pub struct Policy {
    /// The file it was read from (absolute).
    pub path: PathBuf,
    /// Its exact bytes, as read once.
    #[serde(skip)]
    pub bytes: Vec<u8>,
    /// `[agent]`.
    pub agent: Agent,
    /// `[filesystem]`.
    pub filesystem: Filesystem,
    /// `[network]`.
    pub network: Network,
    /// `[env]`.
    pub env: EnvPolicy,
    /// `[limits]`.
    pub limits: Limits,
    /// `[seccomp]`.
    pub seccomp: Seccomp,
    /// `[landlock]`.
    pub landlock: LandlockReq,
    /// The risk, once computed ([`Policy::risk`]).
    #[serde(skip)]
    risk: std::sync::OnceLock<Risk>,
}

impl Policy {
    /// Read and validate a policy file.
    ///
    /// # Errors
    /// [`PolicyError::Read`] when the file cannot be read, [`PolicyError::Invalid`] with every
    /// problem found (file, line, column, key path) when it is not a valid policy.
    pub fn load(path: &Path, opts: &LoadOptions) -> Result<Policy, PolicyError> {
        load::load(path, opts)
    }

    /// Validate a policy from bytes already read from `path`.
    ///
    /// # Errors
    /// As [`Policy::load`].
    pub fn from_bytes(
        path: &Path,
        bytes: Vec<u8>,
        opts: &LoadOptions,
    ) -> Result<Policy, PolicyError> {
        load::from_bytes(path, bytes, opts)
    }

    /// The computed risk level and its reasons.
    #[must_use]
    pub fn risk(&self) -> Risk {
        // Computed once per loaded policy: it looks at the host (homes, credential
        // entries), and one invocation asks several times (consent, the record).
        self.risk.get_or_init(|| assess(self)).clone()
    }

    /// Whether any grant needs a workspace directory.
    #[must_use]
    pub fn uses_workspace(&self) -> bool {
        self.filesystem
            .read_only
            .iter()
            .chain(&self.filesystem.read_write)
            .any(|g| matches!(g.path, GrantPath::Workspace(_)))
    }
}
