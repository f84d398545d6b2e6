//! `ProcessManager`: one agent invocation end to end, as a recorded workflow.
//!
//! It owns the steps between a request and its record: consent checked again, the plan
//! built from the checksummed bytes, the task delivered (stdin written while the output is
//! read, an argument, or the environment), the output pumped through the sanitizer into
//! the store under the run's cap, the lease renewed, a cancel obeyed, concurrency bounded,
//! and the sandbox's end classified. It never blocks the async runtime (see
//! [`manager`]) and holds no front-end logic: `cli` and `mcp` call it.

pub mod exit;
pub mod manager;
pub mod pump;

pub use manager::{
    Attach, DEFAULT_LEASE, DEFAULT_OUTPUT_CAP, Finished, Invocation, Invoked, ManagerConfig,
    ProcessManager, Starter, blocking,
};

use std::path::PathBuf;

/// Why an invocation could not be run or recorded.
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    /// The agent may not run: consent is missing, changed, expired or denied.
    #[error("{agent} may not run: {why}")]
    Consent {
        /// The agent.
        agent: String,
        /// Its consent state, in words.
        why: String,
    },
    /// The consent store could not be read (it grants nothing then).
    #[error(transparent)]
    ConsentStore(#[from] crate::consent::ConsentError),
    /// The policy has no command to run.
    #[error("{agent}: its policy has no [agent] command; add one to {}", policy.display())]
    NoCommand {
        /// The agent.
        agent: String,
        /// Its policy file.
        policy: PathBuf,
    },
    /// The sandbox could not be planned (workspace refused, policy not enforceable here).
    #[error(transparent)]
    Prepare(#[from] crate::isolation::IsolationError),
    /// A pinned file could not be sealed.
    #[error(transparent)]
    Registry(#[from] crate::registry::RegistryError),
    /// The sanitizer could not be built.
    #[error(transparent)]
    Sanitizer(#[from] crate::sanitize::SanitizeError),
    /// The store could not be read or written.
    #[error(transparent)]
    State(#[from] crate::state::StateError),
    /// The store stayed unreachable after the workflow ended; its outcome is lost (the
    /// lease lapses and the workflow ends `failed`, `executor lost`).
    #[error(
        "workflow {id}: the workflow store stayed unreachable, the outcome was not recorded: {error}"
    )]
    StoreGone {
        /// The workflow.
        id: crate::state::WorkflowId,
        /// The last error.
        error: String,
    },
    /// The task running the workflow ended without a word (it panicked).
    #[error("the workflow's task ended without recording an outcome")]
    Lost,
}
