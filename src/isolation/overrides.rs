//! Choices only a human at the terminal makes: command-line options of `exec` and `run`
//! that loosen a default. Nothing reachable from a tool call, a model or an agent ever
//! builds one other than [`Overrides::default`], which loosens nothing.

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
}
