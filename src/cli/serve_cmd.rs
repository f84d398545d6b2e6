//! `mycelium serve`: the MCP server on standard input/output, or streamable HTTP.
//!
//! Everything that can be wrong with the set-up is found before the first request: the
//! workspace roots are resolved and checked like `run --workspace`, the store opened, the
//! spawner started (while this process is still single-threaded: sandboxes of a
//! multi-threaded host start through it), the token read or made. Then the runtime starts,
//! with periodic housekeeping so that workflows of an owner that died are settled while the
//! server runs.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use super::args::ServeArgs;
use super::consent_cmd::manager;
use super::{exit, load_options, mycelium_home, open_store, search_path};
use crate::isolation::Spawner;
use crate::mcp::{Log, ServeConfig, Server, http};
use crate::process::{DEFAULT_LEASE, ManagerConfig, ProcessManager, Starter};
use crate::state::ProcessSettings;
use crate::state::audit::AuditLog;

/// How often the server settles lapsed leases and sweeps old workflows.
const HOUSEKEEPING_EVERY: Duration = Duration::from_secs(60);

/// Sandboxes at once when neither `--max-concurrent` nor the configuration says.
const DEFAULT_MAX_CONCURRENT: usize = 4;

pub(super) fn run(
    args: ServeArgs,
    policies: Option<&std::path::Path>,
    redis: Option<&str>,
) -> Result<i32> {
    let log = match &args.log_file {
        Some(f) => Log::with_file(f).with_context(|| format!("--log-file {}", f.display()))?,
        None => Log::stderr(),
    };
    let home = mycelium_home();
    let opts = load_options(policies);
    let roots = workspace_roots(&args.workspace_roots, &opts.protected)?;
    let consent_for = match &args.consent_for {
        None => None,
        Some(text) => match crate::policy::parse_duration(text) {
            Ok(d) if d.is_zero() => bail!("--consent-for {text}: must be longer than zero"),
            Ok(d) => Some(d),
            Err(e) => bail!("--consent-for {text}: {e}"),
        },
    };
    let http = match args.http {
        Some(addr) => {
            if !addr.ip().is_loopback() {
                bail!(
                    "--http {addr}: only loopback addresses are served (127.0.0.1, [::1]); the bearer token travels in clear text over HTTP. Put a TLS proxy in front to reach it from elsewhere"
                );
            }
            let (token, path) = match &args.token_file {
                Some(f) => (http::read_token(f)?, f.clone()),
                None => {
                    let (token, path, made) = http::default_token(&home)?;
                    if made {
                        log.line(format_args!(
                            "generated a bearer token in {} (mode 0600)",
                            path.display()
                        ));
                    }
                    (token, path)
                }
            };
            log.line(format_args!(
                "clients must send Authorization: Bearer <the token in {}>",
                path.display()
            ));
            Some(http::HttpOptions {
                addr,
                token,
                allowed_origins: args.allowed_origins.clone(),
                max_body: (args.max_task_bytes.saturating_mul(6))
                    .saturating_add(crate::isolation::plan::MAX_CONTEXT_BYTES * 6)
                    .max(4 << 20),
            })
        }
        None => None,
    };
    let settings = ProcessSettings::load(&home)?;
    let store = Arc::from(open_store(redis).context("the workflow store")?);
    // Started now, while this process has one thread: the runtime's threads come after.
    let exe = std::env::current_exe().context("finding this program to start the spawner")?;
    let spawner = Arc::new(Spawner::start(&exe)?);
    raise_open_files_limit(&log);
    let consent = manager()?;
    let config = ManagerConfig {
        store,
        starter: Starter::Spawner(spawner),
        consent: consent.clone(),
        rules: super::sanitize_cmd::builtin_and_user_rules()?,
        audit: Some(AuditLog::open(&home)?),
        max_concurrent: args
            .max_concurrent
            .map(usize::from)
            .or(settings.max_concurrent)
            .unwrap_or(DEFAULT_MAX_CONCURRENT),
        lease: settings.lease.unwrap_or(DEFAULT_LEASE),
    };
    let max_concurrent = config.max_concurrent;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let manager = ProcessManager::new(config)?;
        let _housekeeping = manager.keep_house(HOUSEKEEPING_EVERY);
        let server = Server::new(ServeConfig {
            search: search_path(policies),
            load: opts,
            manager,
            consent,
            workspace_roots: roots.clone(),
            max_task_bytes: args.max_task_bytes,
            max_unfinished: args.max_unfinished as usize,
            consent_via_client: args.consent_via_client,
            consent_for,
            caller_env: super::caller_env(),
            log: log.clone(),
        })?;
        log.line(format_args!(
            "mycelium {} ready: {} sandbox(es) at once; workspace roots: {}; consent through the client: {}",
            env!("CARGO_PKG_VERSION"),
            max_concurrent,
            if roots.is_empty() {
                "none".to_owned()
            } else {
                roots
                    .iter()
                    .map(|r| r.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            },
            if args.consent_via_client { "on" } else { "off" }
        ));
        match http {
            Some(options) => http::serve_http(server, options).await,
            None => crate::mcp::serve_stdio(server).await,
        }
    })?;
    // The runtime may hold blocking threads waiting on sandboxes that outlive the session;
    // they are not waited for.
    runtime.shutdown_timeout(Duration::from_secs(1));
    Ok(exit::OK)
}

/// Raise this process's soft limit on open files to its hard limit: every waiting workflow
/// holds its planned sandbox's descriptors, and desktop sessions often start programs with
/// a soft limit of 1024. Raised after the spawner started: sandboxes, forked from the
/// spawner, keep the limit the server was started with (or their policy's).
fn raise_open_files_limit(log: &Log) {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    if let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE)
        && soft < hard
        && let Err(e) = setrlimit(Resource::RLIMIT_NOFILE, hard, hard)
    {
        log.line(format_args!(
            "could not raise the open-files limit from {soft} to {hard}: {e}"
        ));
    }
}

/// `--workspace-root` directories, resolved and checked: each must exist, pass the checks
/// of `run --workspace` (not `/`, a home or a parent of one, a system or credential
/// directory) and hold none of mycelium's own state.
fn workspace_roots(given: &[PathBuf], protected: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut roots = Vec::new();
    for root in given {
        let resolved = std::fs::canonicalize(root)
            .with_context(|| format!("--workspace-root {}", root.display()))?;
        if !resolved.is_dir() {
            bail!("--workspace-root {}: not a directory", root.display());
        }
        if let Some(why) = crate::isolation::workspace::refusal_here(&resolved) {
            bail!(
                "--workspace-root {}: refused as a workspace: {why}; choose a directory that holds projects (for example ~/projects)",
                root.display()
            );
        }
        for p in protected {
            let p = std::fs::canonicalize(p).unwrap_or_else(|_| p.clone());
            if p.starts_with(&resolved) || resolved.starts_with(&p) {
                bail!(
                    "--workspace-root {}: it holds or lies inside {}, mycelium's own state or policy directory, which no agent may reach",
                    root.display(),
                    p.display()
                );
            }
        }
        if !roots.contains(&resolved) {
            roots.push(resolved);
        }
    }
    Ok(roots)
}
