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

/// The real MCP clients `scripts/mcp-clients.sh` installs.
#[derive(Debug, Clone)]
pub struct McpClients {
    /// The venv's Python, which can `import mcp` (the official Python SDK).
    pub python: std::path::PathBuf,
    /// The MCP Inspector's command (`mcp-inspector --cli …`).
    pub inspector: std::path::PathBuf,
}

/// Where `scripts/mcp-clients.sh` installs: `$MYCELIUM_MCP_CLIENTS`, else
/// `target/mcp-clients` in the repository.
pub fn mcp_clients_dir() -> std::path::PathBuf {
    std::env::var_os("MYCELIUM_MCP_CLIENTS").map_or_else(
        || std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/mcp-clients"),
        std::path::PathBuf::from,
    )
}

/// Whether the installed clients are there and start (checked once).
fn mcp_clients_status() -> &'static Result<McpClients, String> {
    static STATUS: OnceLock<Result<McpClients, String>> = OnceLock::new();
    STATUS.get_or_init(|| {
        let dir = mcp_clients_dir();
        let clients = McpClients {
            python: dir.join("venv/bin/python"),
            inspector: dir.join("node_modules/.bin/mcp-inspector"),
        };
        let out = std::process::Command::new(&clients.python)
            .args([
                "-c",
                "import importlib.metadata as m, mcp; print(m.version('mcp'))",
            ])
            .output()
            .map_err(|e| format!("cannot run {}: {e}", clients.python.display()))?;
        if !out.status.success() {
            return Err(format!(
                "{} cannot import mcp: {}",
                clients.python.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        let out = std::process::Command::new(&clients.inspector)
            .args(["--cli", "--version"])
            .output()
            .map_err(|e| format!("cannot run {}: {e}", clients.inspector.display()))?;
        if !out.status.success() {
            return Err(format!(
                "{} --cli --version failed: {}",
                clients.inspector.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(clients)
    })
}

/// The MCP clients, or `None` after a loud skip (a panic under
/// `MYCELIUM_REQUIRE_MCP_CLIENTS=1`, as CI sets) when `scripts/mcp-clients.sh` has not
/// installed them.
pub fn require_mcp_clients(test: &str) -> Option<McpClients> {
    match mcp_clients_status() {
        Ok(clients) => Some(clients.clone()),
        Err(reason) if std::env::var("MYCELIUM_REQUIRE_MCP_CLIENTS").as_deref() == Ok("1") => {
            panic!(
                "{test}: MYCELIUM_REQUIRE_MCP_CLIENTS=1 but the MCP clients cannot run: {reason} (run scripts/mcp-clients.sh)"
            )
        }
        Err(reason) => {
            eprintln!(
                "SKIPPED {test}: needs the MCP clients ({reason}; scripts/mcp-clients.sh installs them)"
            );
            None
        }
    }
}
