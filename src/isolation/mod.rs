//! `EnvironmentIsolation`: turning a policy into a confined process.
//!
//! Everything that touches the kernel to build a sandbox lives here, and all `unsafe` code
//! and raw system calls of the project live in `sys`. The module never parses policy files
//! (it takes a checked [`crate::policy::Policy`]) and never talks to a store.

pub mod env;
pub mod landlock;
pub mod seccomp;
#[allow(unsafe_code)]
mod sys;
#[cfg(test)]
mod testutil;

/// Whether this process was started as the internal launcher.
#[must_use]
pub fn is_launcher_invocation() -> bool {
    false
}

/// The launcher's entry point; never returns.
pub fn launcher_main() -> ! {
    std::process::exit(125)
}
