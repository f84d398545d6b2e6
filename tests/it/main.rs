//! The single integration-test binary: drives the real `mycelium` binary.
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    reason = "test code: a failed setup should abort the test"
)]

mod common;
mod consent;
mod escape;
mod mcp;
mod mcp_clients;
mod policy_cli;
mod run;
mod sandbox;
mod sanitize_cli;
mod state;
mod workflows;
mod workflows_cli;
mod workspace;
