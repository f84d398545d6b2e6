//! mycelium runs untrusted agent programs on Linux, each inside its own sandbox.
//!
//! The flow of one run:
//!
//! 1. [`registry`] finds the agent on the search path; [`policy`] reads its policy file
//!    once, validates it and computes its risk; the registry reads the definition and
//!    opens the pinned files once and computes the consent checksum over those bytes.
//!    [`consent`] lets it run only with a human's grant for exactly that checksum (or when
//!    its risk is below `consent.required_at`).
//! 2. [`isolation`] turns the policy into a [`isolation::SandboxPlan`] (pure), scrubs the
//!    environment (withholding secrets), and hands the plan over a pipe to a launcher that
//!    is re-executed from this binary.
//! 3. The launcher, single-threaded, clones into fresh user, pid, mount, network, ipc, uts
//!    and cgroup namespaces; pid 1 inside builds a new root of only the policy's paths,
//!    pivots into it, and starts the agent with a scrubbed environment.
//! 4. [`process`] runs it as a workflow: the output goes through [`sanitize`] into the
//!    [`state`] store (SQLite or Redis), the end is classified and recorded.
//!
//! `cli` is the command line; it only translates arguments into calls on these modules.
#![deny(unsafe_code)]

pub mod cli;
pub mod consent;
pub mod isolation;
pub mod mcp;
pub mod policy;
pub mod process;
pub mod registry;
pub mod sanitize;
pub mod state;
