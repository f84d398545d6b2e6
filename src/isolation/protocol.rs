//! What crosses the pipes between the caller, the launcher and the sandbox's pid 1.
//!
//! The caller sends one [`super::SandboxPlan`] as JSON and closes its end; the launcher answers
//! with JSON lines of [`LauncherEvent`]. Inside, a failed setup step is reported as a
//! [`SetupFailure`] on a close-on-exec pipe; end-of-file on that pipe means `execve`
//! succeeded.

use serde::{Deserialize, Serialize};

use super::report::SandboxReport;

/// The descriptor number the launcher finds its channel on.
pub const LAUNCHER_FD: i32 = 3;

/// The first descriptor number of those passed along to the agent (pinned files).
pub const FIRST_PASSED_FD: i32 = 4;

/// The first argument that turns the binary into the launcher.
pub const LAUNCHER_ARG: &str = "__mycelium_launcher";

/// A setup step that failed inside the sandbox (or in the launcher).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{step}: {detail}")]
pub struct SetupFailure {
    /// The step, such as `mount /usr` or `execve`.
    pub step: String,
    /// The kernel's error number (0 when not a system call).
    pub errno: i32,
    /// The full message.
    pub detail: String,
}

impl SetupFailure {
    /// A failure of `step`: what happened, and the kernel's error number (0 when not a
    /// system call).
    #[must_use]
    pub fn new(step: &str, detail: String, errno: i32) -> Self {
        SetupFailure {
            step: step.into(),
            errno,
            detail,
        }
    }
}

/// A message from the launcher to the caller.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum LauncherEvent {
    /// The command is running; what was applied.
    Started {
        /// The layers applied.
        report: Box<SandboxReport>,
    },
    /// Setup failed; nothing of the command ran.
    Failed {
        /// What failed.
        failure: SetupFailure,
    },
    /// The command ended: its exit code, or 128+N for signal N.
    Exited {
        /// The code.
        code: i32,
        /// The command was stopped because it ran past `[agent] timeout`.
        #[serde(default)]
        timed_out: bool,
    },
}
