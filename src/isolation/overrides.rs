//! Choices only the operator makes: command-line options of `exec` and `run` that loosen a
//! default, and the workspace roots of `serve`, which narrow it. Nothing reachable from a
//! tool call, a model or an agent ever sets a loosening one: the MCP server builds
//! [`Overrides::default`] plus its own `--workspace-root` list.

use std::path::PathBuf;

use super::ids::RunAs;

/// The options of one `exec` or `run`, each off by default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overrides {
    /// `--run-as UID[:GID]`: a root caller's agent acts with these host ids instead of the
    /// workspace owner's (see [`super::ids`]).
    pub run_as: Option<RunAs>,
    /// `--allow-workspace DIR`: this one directory may be the workspace even though the
    /// workspace check ([`super::workspace`]) refuses it.
    pub allow_workspace: Option<PathBuf>,
    /// `serve --workspace-root DIR…` (canonical paths): when not empty, the workspace, as
    /// resolved when the sandbox is planned (the directory really mounted), must be one of
    /// these or lie inside one. A narrowing, checked on the opened directory, so a link
    /// swapped in after the server's own check leads nowhere else.
    pub workspace_roots: Vec<PathBuf>,
}
