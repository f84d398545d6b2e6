//! The single integration-test binary: drives the real `mycelium` binary.

mod common;
mod policy_cli;
