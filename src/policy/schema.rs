//! The policy file as written: serde types that mirror the TOML one to one.
//!
//! Every table denies unknown keys, so a typo (`read_onyl`) is an error rather than a
//! silently ignored grant. Values that are validated after parsing keep their byte span
//! (`Spanned`) so that errors can point at the line and column where they were written.
//! Nothing here is interpreted; `load` turns a [`RawPolicy`] into a checked `Policy`.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPolicy {
    /// Schema version; only `1` exists.
    pub version: Option<Spanned<i64>>,
    /// What runs.
    pub agent: Option<RawAgent>,
    /// What the agent can see of the file system.
    #[serde(default)]
    pub filesystem: RawFilesystem,
    /// What the agent can reach on the network.
    #[serde(default)]
    pub network: RawNetwork,
    /// What the agent inherits from the environment.
    #[serde(default)]
    pub env: RawEnv,
    /// Resource limits.
    #[serde(default)]
    pub limits: RawLimits,
    /// The system-call filter.
    #[serde(default)]
    pub seccomp: RawSeccomp,
    /// Landlock requirements.
    #[serde(default)]
    pub landlock: RawLandlock,
}

/// `[agent]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAgent {
    /// One line saying what the agent does.
    pub description: Option<String>,
    /// An agent definition file (Markdown with front matter, or TOML).
    pub definition: Option<Spanned<String>>,
    /// Program and arguments run by `mycelium run`.
    pub command: Option<Spanned<Vec<String>>>,
    /// How the task reaches the agent: `stdin`, `arg` or `env`.
    pub task: Option<Spanned<String>>,
    /// Wall-clock limit, such as `"10m"`.
    pub timeout: Option<Spanned<String>>,
    /// User id inside the sandbox.
    pub uid: Option<Spanned<i64>>,
    /// Group id inside the sandbox.
    pub gid: Option<Spanned<i64>>,
    /// Extra files covered by the consent checksum.
    #[serde(default)]
    pub pin: Vec<Spanned<String>>,
}

/// `[filesystem]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFilesystem {
    /// Paths visible read-only.
    #[serde(default)]
    pub read_only: Vec<Spanned<String>>,
    /// Paths visible read-write.
    #[serde(default)]
    pub read_write: Vec<Spanned<String>>,
    /// Private in-memory directories and their sizes.
    pub tmpfs: Option<BTreeMap<Spanned<String>, Spanned<String>>>,
}

/// `[network]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNetwork {
    /// `none`, `loopback` or `host`.
    pub mode: Option<Spanned<String>>,
    /// TCP ports the agent may connect to (host mode only).
    pub tcp_connect: Option<Spanned<Vec<i64>>>,
    /// TCP ports the agent may bind (host mode only).
    pub tcp_bind: Option<Spanned<Vec<i64>>>,
    /// Allow unix-domain sockets.
    pub unix_sockets: Option<bool>,
}

/// `[env]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEnv {
    /// Variables copied from the caller's environment.
    #[serde(default)]
    pub pass: Vec<Spanned<String>>,
    /// Variables set to fixed values.
    #[serde(default)]
    pub set: BTreeMap<Spanned<String>, String>,
    /// Sensitive variables passed despite the block-list.
    #[serde(default)]
    pub allow_secrets: Vec<Spanned<String>>,
}

/// `[limits]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLimits {
    /// Address space / memory ceiling.
    pub memory: Option<Spanned<String>>,
    /// Processes and threads.
    pub processes: Option<Spanned<i64>>,
    /// Open file descriptors.
    pub open_files: Option<Spanned<i64>>,
    /// Largest file the agent may write.
    pub file_size: Option<Spanned<String>>,
    /// CPU time.
    pub cpu_time: Option<Spanned<String>>,
    /// Output kept per run.
    pub output: Option<Spanned<String>>,
}

/// `[seccomp]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSeccomp {
    /// `default` or `strict`.
    pub profile: Option<Spanned<String>>,
    /// Extra system calls allowed.
    #[serde(default)]
    pub allow: Vec<Spanned<String>>,
    /// Extra system calls denied.
    #[serde(default)]
    pub deny: Vec<Spanned<String>>,
}

/// `[landlock]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLandlock {
    /// The lowest Landlock ABI the agent accepts.
    pub min_abi: Option<Spanned<i64>>,
}
