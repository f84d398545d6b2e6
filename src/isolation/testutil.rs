//! Helpers shared by the confinement tests: feature gates and child verdicts.

use nix::errno::Errno;

/// Whether a kernel-dependent test may run. When the feature is missing: with
/// `MYCELIUM_REQUIRE_SANDBOX=1` this panics, otherwise it prints
/// `SKIPPED <test>: needs <feature> (<reason>)` to stderr and returns `false`.
pub(crate) fn gate(test: &str, feature: &str, missing: Option<String>) -> bool {
    let Some(reason) = missing else {
        return true;
    };
    if std::env::var("MYCELIUM_REQUIRE_SANDBOX").as_deref() == Ok("1") {
        panic!("{test} needs {feature} ({reason}) and MYCELIUM_REQUIRE_SANDBOX=1");
    }
    eprintln!("SKIPPED {test}: needs {feature} ({reason})");
    false
}

/// A call's outcome as a child exit code: 0 for success, else the errno.
pub(crate) fn code<T>(result: Result<T, Errno>) -> i32 {
    match result {
        Ok(_) => 0,
        Err(errno) => errno as i32,
    }
}

/// Exit code of a child whose setup (no_new_privs, filter, ruleset) failed.
pub(crate) const SETUP_FAILED: i32 = 240;
