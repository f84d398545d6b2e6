//! Shared helpers for the integration tests.
#![allow(dead_code, reason = "each test module uses a different subset")]

pub mod gate;
pub mod redis;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The binary under test: `MYCELIUM_TEST_BIN` when set (the unprivileged rerun copies the
/// binaries somewhere every user can read), else the one cargo built.
pub fn bin() -> PathBuf {
    std::env::var_os("MYCELIUM_TEST_BIN").map_or_else(
        || PathBuf::from(env!("CARGO_BIN_EXE_mycelium")),
        PathBuf::from,
    )
}

/// The repository's `policies/` directory.
pub fn policies_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("policies")
}

/// Run `mycelium ARGS…` with a clean, explicit environment.
pub fn mycelium(args: &[&str]) -> Output {
    Command::new(bin())
        .args(args)
        .env_clear()
        .envs(crate::common::profile_env())
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", std::env::temp_dir())
        .output()
        .expect("run mycelium")
}

/// Standard output as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Standard error as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `MYCELIUM_LAUNCHER` of the test run, for commands whose environment a test clears:
/// `scripts/test-unprivileged.sh` sets it, so that rerun starts every sandbox through the
/// re-executed launcher while the main run starts them from the command itself.
pub fn launcher_env() -> Vec<(&'static str, std::ffi::OsString)> {
    std::env::var_os("MYCELIUM_LAUNCHER")
        .map(|v| ("MYCELIUM_LAUNCHER", v))
        .into_iter()
        .collect()
}

/// `LLVM_PROFILE_FILE` of the test run, for every command of the binary whose environment
/// a test clears: `scripts/coverage.sh` sets it, so the `mycelium` processes the tests start
/// write their coverage profile too (each to its own file, by its `%p`). Unset, nothing.
pub fn profile_env() -> Option<(&'static str, std::ffi::OsString)> {
    std::env::var_os("LLVM_PROFILE_FILE").map(|v| ("LLVM_PROFILE_FILE", v))
}
