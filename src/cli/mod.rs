//! The command line: clap definitions and one thin function per command.
//!
//! Each command translates arguments into calls on the library modules and their results
//! into text or JSON and an exit code ([`exit`]). No policy, isolation or consent logic
//! lives here.
#![allow(clippy::print_stdout, reason = "the command line's output is its job")]

mod agents_cmd;
mod args;
mod cancel_cmd;
mod consent_cmd;
mod doctor_cmd;
mod exec_cmd;
pub mod exit;
mod logs_cmd;
mod policy_cmd;
mod run_cmd;
mod sanitize_cmd;
mod serve_cmd;
mod status_cmd;
mod workflows_cmd;

use clap::Parser;

pub use args::{Cli, Command};

/// Parse the process arguments, run the command, return the exit code.
#[must_use]
pub fn run() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            };
            let _ = e.print();
            return code;
        }
    };
    let policies = cli.policies.as_deref();
    let redis = cli.redis.as_deref();
    let result = match cli.command {
        Command::Exec(args) => exec_cmd::run(args, policies),
        Command::Run(args) => run_cmd::run(args, policies, redis),
        Command::Doctor(args) => doctor_cmd::run(&args),
        Command::Policy(cmd) => policy_cmd::run(cmd, policies),
        Command::Agents(args) => agents_cmd::run(&args, policies),
        Command::Consent(cmd) => consent_cmd::run(cmd, policies),
        Command::Sanitize(args) => sanitize_cmd::run(&args),
        Command::Status(args) => status_cmd::run(&args, redis),
        Command::Workflows(args) => workflows_cmd::run(&args, redis),
        Command::Logs(args) => logs_cmd::run(&args, redis),
        Command::Cancel(args) => cancel_cmd::run(&args, redis),
        Command::Serve(args) => serve_cmd::run(args, policies, redis),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("mycelium: error: {e:#}");
            exit::FAILURE
        }
    }
}

/// This process's environment as text (variables that are not UTF-8 are left out: they
/// can be neither passed nor matched by name), for environment scrubbing.
pub(crate) fn caller_env() -> Vec<(String, String)> {
    std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect()
}

/// `$HOME` of the caller, for `{home}`.
pub(crate) fn caller_home() -> std::path::PathBuf {
    std::env::var_os("HOME").map_or_else(|| std::path::PathBuf::from("/"), Into::into)
}

/// `$MYCELIUM_HOME`, absolute: mycelium's own state (consent store, config, policies).
/// Default `~/.mycelium`.
pub(crate) fn mycelium_home() -> std::path::PathBuf {
    let home = std::env::var_os("MYCELIUM_HOME")
        .filter(|h| !h.is_empty())
        .map_or_else(|| caller_home().join(".mycelium"), Into::into);
    std::path::absolute(&home).unwrap_or(home)
}

/// The agent search path: `--policies`/`MYCELIUM_POLICIES` (relative to the current
/// directory), then `$MYCELIUM_HOME/policies`; the current directory itself is never searched.
pub(crate) fn search_path(policies: Option<&std::path::Path>) -> crate::registry::SearchPath {
    let cwd = std::env::current_dir().unwrap_or_else(|_| std::path::PathBuf::from("/"));
    crate::registry::SearchPath::new(policies, &cwd, &mycelium_home())
}

/// Options every policy load uses: `{home}` and the paths that must never be granted —
/// `$MYCELIUM_HOME` (consent store, config), the consent store itself (named even though it
/// lies inside, so the rule survives a store moved elsewhere) and every directory of the
/// policy search path (the explicit one even when it cannot be searched).
pub(crate) fn load_options(policies: Option<&std::path::Path>) -> crate::policy::LoadOptions {
    let state = mycelium_home();
    let mut protected = vec![
        state.clone(),
        crate::consent::ConsentStore::new(&state).path(),
    ];
    for dir in search_path(policies).protected() {
        if !protected.contains(&dir) {
            protected.push(dir);
        }
    }
    crate::policy::LoadOptions {
        home: caller_home(),
        protected,
    }
}

/// The workflow store this command line is configured for: `--redis URL` (clap also fills
/// it from `MYCELIUM_REDIS_URL`), else `MYCELIUM_REDIS_URL`, else `state.redis_url` in
/// `$MYCELIUM_HOME/config.toml`, else SQLite in `$MYCELIUM_HOME/state.db`. An empty value
/// counts as unset. Errors name a Redis server only with its password redacted.
pub(crate) fn open_store(
    redis: Option<&str>,
) -> anyhow::Result<Box<dyn crate::state::WorkflowStore>> {
    // Read again even though clap already read it: `--redis ''` must fall back to it.
    let env = std::env::var("MYCELIUM_REDIS_URL").ok();
    let config = crate::state::StoreConfig::resolve(&mycelium_home(), redis, env.as_deref())?;
    Ok(crate::state::open_store(&config)?)
}

/// [`open_store`] for a command that reads workflows (`status`, `workflows`, `logs`,
/// `cancel`): workflows whose owner's lease lapsed (the owner was killed, its host lost)
/// are settled first as `failed` (`executor lost`), so a reader never shows a dead
/// workflow as `running`. A store this process may read but not write is still read.
pub(crate) fn open_store_settled(
    redis: Option<&str>,
) -> anyhow::Result<Box<dyn crate::state::WorkflowStore>> {
    let store = open_store(redis)?;
    let _ = store.recover_lost(crate::state::now());
    Ok(store)
}

/// The error for an id no workflow has.
pub(crate) fn no_workflow(id: crate::state::WorkflowId) -> anyhow::Error {
    anyhow::anyhow!("no workflow {id} (unknown, or removed after its retention)")
}

/// A store error as the command line reports it: an unknown workflow in plain words.
pub(crate) fn state_error(e: crate::state::StateError) -> anyhow::Error {
    match e {
        crate::state::StateError::NotFound(id) => no_workflow(id),
        other => other.into(),
    }
}

/// The record of `id`, or [`no_workflow`].
pub(crate) fn get_workflow(
    store: &dyn crate::state::WorkflowStore,
    id: crate::state::WorkflowId,
) -> anyhow::Result<crate::state::WorkflowRecord> {
    store.get(id)?.ok_or_else(|| no_workflow(id))
}
