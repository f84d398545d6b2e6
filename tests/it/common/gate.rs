//! Gates for tests that need a kernel feature: run when present; when missing, skip loudly
//! on a user's machine and fail when `MYCELIUM_REQUIRE_SANDBOX=1` (as CI sets).

use std::sync::OnceLock;

use super::bin;

/// Whether user namespaces work here (probed once through `mycelium doctor --json`).
fn sandbox_status() -> &'static Result<(), String> {
    static STATUS: OnceLock<Result<(), String>> = OnceLock::new();
    STATUS.get_or_init(|| {
        let out = std::process::Command::new(bin())
            .args(["doctor", "--json"])
            .env_clear()
            .envs(crate::common::profile_env())
            .output()
            .map_err(|e| format!("cannot run mycelium doctor: {e}"))?;
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).map_err(|e| {
            format!(
                "doctor printed no JSON ({e}): {}",
                String::from_utf8_lossy(&out.stderr)
            )
        })?;
        let userns = v["features"]
            .as_array()
            .and_then(|f| f.iter().find(|x| x["name"] == "user namespaces"))
            .cloned()
            .unwrap_or_default();
        if userns["available"] == true {
            Ok(())
        } else {
            Err(format!(
                "user namespaces: {} (fix: {})",
                userns["detail"], userns["fix"]
            ))
        }
    })
}

/// `true` when the sandbox can run; otherwise skip (or panic under
/// `MYCELIUM_REQUIRE_SANDBOX=1`).
pub fn require_sandbox(test: &str) -> bool {
    match sandbox_status() {
        Ok(()) => true,
        Err(reason) if std::env::var("MYCELIUM_REQUIRE_SANDBOX").as_deref() == Ok("1") => {
            panic!("{test}: MYCELIUM_REQUIRE_SANDBOX=1 but the sandbox cannot run here: {reason}")
        }
        Err(reason) => {
            eprintln!("SKIPPED {test}: needs user namespaces ({reason})");
            false
        }
    }
}

/// A fresh `redis-server` for `test`, or `None` after a loud skip (a panic under
/// `MYCELIUM_REQUIRE_REDIS=1`, as CI sets) when none can be started.
pub fn require_redis(test: &str, extra: &[&str]) -> Option<super::redis::RedisServer> {
    match super::redis::RedisServer::start(extra) {
        Ok(server) => Some(server),
        Err(reason) if std::env::var("MYCELIUM_REQUIRE_REDIS").as_deref() == Ok("1") => {
            panic!(
                "{test}: MYCELIUM_REQUIRE_REDIS=1 but no redis-server could be started: {reason}"
            )
        }
        Err(reason) => {
            eprintln!("SKIPPED {test}: needs redis-server ({reason})");
            None
        }
    }
}
