//! The single integration-test binary: drives the real `mycelium` binary.
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    reason = "test helpers outside #[test] functions panic on setup failure by design"
)]

mod common;
mod consent;
mod policy_cli;
