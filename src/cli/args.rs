//! clap definitions for every command.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use super::exit::HELP;
use crate::state::{WorkflowId, WorkflowStatus};

/// Run untrusted programs and agents confined by a policy (namespaces, a private root,
/// Landlock, seccomp, no capabilities, a scrubbed environment), with consent tied to the
/// policy's exact bytes and credentials redacted from what they print.
#[derive(Debug, Parser)]
#[command(name = "mycelium", version, after_help = HELP, propagate_version = true)]
pub struct Cli {
    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
    /// A directory searched for agents' policy files before $MYCELIUM_HOME/policies (the
    /// current directory's policies/ is never searched). Keep it outside every workspace:
    /// an agent that could write it could define agents. A symbolic link on the way is
    /// followed only when root alone could have placed it.
    #[arg(long, global = true, env = "MYCELIUM_POLICIES", value_name = "DIR")]
    pub policies: Option<PathBuf>,
    /// The Redis server that keeps workflow state, e.g. redis://:PASSWORD@127.0.0.1:6379/0
    /// (plain redis:// or redis+unix://). Wins over state.redis_url in
    /// $MYCELIUM_HOME/config.toml; an empty value counts as unset. Without any, workflows
    /// are kept in $MYCELIUM_HOME/state.db (SQLite). The password is never printed.
    #[arg(
        long,
        global = true,
        env = "MYCELIUM_REDIS_URL",
        hide_env_values = true,
        value_name = "URL"
    )]
    pub redis: Option<String>,
}

/// Top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a command confined by a policy file.
    ///
    /// The command runs in new user, pid, mount, network, ipc, uts and cgroup namespaces,
    /// inside a new root holding only the paths the policy grants, with an environment
    /// built from nothing (sensitive variables withheld). Its exit code becomes mycelium's.
    ///
    /// The sandbox's init is started from this process and wipes the command line and
    /// environment it inherits; set MYCELIUM_LAUNCHER=1 to start it from a fresh process
    /// that never held them (about a millisecond slower; see docs/threat-model.md).
    #[command(after_help = HELP)]
    Exec(ExecArgs),
    /// Run an agent by name: checks consent (asking on a terminal), then runs the policy's
    /// command confined by the policy, with pinned files executed from the exact bytes
    /// that were consented to.
    #[command(after_help = HELP)]
    Run(RunArgs),
    /// Validate and explain policy files.
    #[command(subcommand, after_help = HELP)]
    Policy(PolicyCommand),
    /// List the agents on the search path with their description, risk and consent state.
    #[command(after_help = HELP)]
    Agents(AgentsArgs),
    /// Grant, check, revoke, deny, list and reset consent for agents.
    #[command(subcommand, after_help = HELP)]
    Consent(ConsentCommand),
    /// Check what this host's kernel offers the sandbox (user namespaces, Landlock,
    /// seccomp, cgroup v2) and what each missing piece means; exit 1 if no sandbox can be
    /// built here.
    #[command(after_help = HELP)]
    Doctor(DoctorArgs),
    /// Redact credentials from standard input to standard output, as a stream.
    ///
    /// Uses the same engine as agent output: the built-in rules, then
    /// $MYCELIUM_HOME/rules.toml when it exists, then each --rules file. Text is released
    /// as soon as it cannot be part of a secret; a partial secret is held until it is
    /// complete, however long the pause.
    #[command(after_help = HELP)]
    Sanitize(SanitizeArgs),
    /// Show one workflow: its agent, status, risk, times, exit code, error, whether output
    /// was dropped, redactions per rule, and the sanitized tail of its output.
    ///
    /// Exit 1 when no workflow has this id (it never existed here, or it ended longer ago
    /// than state.retention and was removed).
    #[command(after_help = HELP)]
    Status(StatusArgs),
    /// List workflows, newest first: id, agent, status, creation time and exit code.
    #[command(after_help = HELP)]
    Workflows(WorkflowsArgs),
    /// Print a workflow's output as stored: sanitized, from its beginning.
    ///
    /// When the output cap (state.output_max_chunks) dropped part of it, standard error says
    /// how many bytes are missing. With --follow, keep printing new output as it is stored
    /// until the workflow ends, then exit 0; Ctrl-C stops following at any time.
    #[command(after_help = HELP)]
    Logs(LogsArgs),
    /// Ask a pending or running workflow to stop; it ends as `cancelled`.
    ///
    /// Works from any process that reaches the same store: the process running the
    /// workflow sees the request and stops its sandbox. A workflow that has already ended
    /// is left as it is (exit 0 in both cases; exit 1 when no workflow has this id).
    #[command(after_help = HELP)]
    Cancel(CancelArgs),
    /// Serve the agents to MCP clients (Claude Code, Claude Desktop, Cursor…) on standard
    /// input and output, or over streamable HTTP with --http.
    ///
    /// Tools: list_agents, invoke_agent, get_workflow_status, get_workflow_output,
    /// cancel_workflow. Every invocation goes through consent, runs in its policy's sandbox
    /// and is recorded as a workflow in the same store as `mycelium run`. Standard output
    /// carries only the protocol; logs go to standard error (and --log-file). An agent that
    /// needs consent it does not have is refused with the `mycelium consent grant NAME`
    /// command to run, unless --consent-via-client lets the client ask its user.
    /// See docs/mcp.md.
    #[command(after_help = HELP)]
    Serve(ServeArgs),
}

/// Arguments of `serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// A directory under which tool calls may choose a workspace (repeatable). There is no
    /// default: without one, agents whose policy uses {workspace} cannot be invoked. Each
    /// root must pass the same checks as `run --workspace` (not `/`, a home directory, a
    /// system or credential directory); the server refuses to start otherwise.
    #[arg(long = "workspace-root", value_name = "DIR")]
    pub workspace_roots: Vec<PathBuf>,
    /// When an agent needs consent it does not have, ask the client's user through the
    /// client (MCP elicitation) and record the answer like `mycelium consent grant`. Only
    /// for clients that show the question to a person; without it, such calls fail with
    /// `consent_required` and the command that grants it in a terminal.
    #[arg(long)]
    pub consent_via_client: bool,
    /// How long a consent granted through the client lasts (e.g. 8h, 30d); default: until
    /// revoked, like `consent grant` without --for.
    #[arg(
        long = "consent-for",
        value_name = "DURATION",
        requires = "consent_via_client"
    )]
    pub consent_for: Option<String>,
    /// The largest task_description accepted, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = 1 << 20)]
    pub max_task_bytes: usize,
    /// At most this many sandboxes run at once; more invocations wait as `pending`.
    /// Default: process.max_concurrent in $MYCELIUM_HOME/config.toml, else 4.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub max_concurrent: Option<u16>,
    /// At most this many invocations may be unfinished (running or waiting for a slot) at
    /// once; more are refused with the tool error `busy` until some end.
    #[arg(long, value_name = "N", default_value_t = 256, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_unfinished: u32,
    /// Also append the server's log lines to this file.
    #[arg(long, value_name = "FILE")]
    pub log_file: Option<PathBuf>,
    /// Serve streamable HTTP at http://ADDR/mcp instead of standard input and output.
    /// ADDR must be a loopback address (127.0.0.1:8765, [::1]:8765); every request needs
    /// the bearer token.
    #[arg(long, value_name = "ADDR")]
    pub http: Option<std::net::SocketAddr>,
    /// The file holding the HTTP bearer token (one line). Default:
    /// $MYCELIUM_HOME/http-token, generated (mode 0600) when missing; its path, never its
    /// value, is printed at start.
    #[arg(long, value_name = "FILE", requires = "http")]
    pub token_file: Option<PathBuf>,
    /// An Origin accepted over HTTP (repeatable), e.g. http://localhost:6274. A request
    /// carrying any other Origin header is refused (403); requests without one (not from
    /// a browser) are accepted with the token.
    #[arg(long = "allowed-origin", value_name = "ORIGIN", requires = "http")]
    pub allowed_origins: Vec<String>,
}

/// Arguments of `status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The workflow id (32 lowercase hexadecimal digits).
    #[arg(value_name = "ID")]
    pub id: WorkflowId,
    /// Print one JSON object (times as RFC 3339 UTC, absent values as null) instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `workflows`.
#[derive(Debug, Args)]
pub struct WorkflowsArgs {
    /// Only workflows with this status: pending, running, completed, failed, cancelled or
    /// timed_out.
    #[arg(long, value_name = "STATUS", value_parser = WorkflowStatus::parse)]
    pub status: Option<WorkflowStatus>,
    /// At most this many (the newest).
    #[arg(long, value_name = "N", default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..))]
    pub limit: u32,
    /// Print one JSON array of the objects `status --json` prints instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `logs`.
#[derive(Debug, Args)]
pub struct LogsArgs {
    /// The workflow id (32 lowercase hexadecimal digits).
    #[arg(value_name = "ID")]
    pub id: WorkflowId,
    /// Keep printing new output until the workflow ends.
    #[arg(long, short = 'f')]
    pub follow: bool,
}

/// Arguments of `cancel`.
#[derive(Debug, Args)]
pub struct CancelArgs {
    /// The workflow id (32 lowercase hexadecimal digits).
    #[arg(value_name = "ID")]
    pub id: WorkflowId,
}

/// Arguments of `exec`.
#[derive(Debug, Args)]
pub struct ExecArgs {
    /// The policy file that confines the command.
    #[arg(long, short = 'p', value_name = "FILE")]
    pub policy: PathBuf,
    /// The directory `{workspace}` stands for (required when the policy grants it).
    #[arg(long, short = 'w', value_name = "DIR")]
    pub workspace: Option<PathBuf>,
    /// Print the confinement layers applied, as JSON on standard error, before the command
    /// starts.
    #[arg(long)]
    pub report: bool,
    #[command(flatten)]
    pub overrides: OverrideArgs,
    /// The command and its arguments (after `--`). A name without `/` is looked up in the
    /// sandbox's PATH.
    #[arg(last = true, required = true, value_name = "CMD")]
    pub command: Vec<String>,
}

/// Arguments of `sanitize`.
#[derive(Debug, Args)]
pub struct SanitizeArgs {
    /// A rules file (TOML) adding or disabling rules; may be repeated.
    #[arg(long = "rules", value_name = "FILE")]
    pub rules: Vec<PathBuf>,
    /// Redact the values of these environment variables wherever they appear, also
    /// base64-, URL- or JSON-encoded (values under 8 bytes are skipped with a warning).
    #[arg(long, value_name = "NAME[,NAME...]", value_delimiter = ',')]
    pub redact_env: Vec<String>,
    /// At the end, print the byte counts and redactions per rule as JSON on standard error.
    #[arg(long)]
    pub stats: bool,
    /// The replacement text; {id} stands for the rule id [default: [REDACTED:{id}]].
    #[arg(long, value_name = "TEMPLATE")]
    pub replacement: Option<String>,
    /// Print the rules in use (id, provider, reason) and exit.
    #[arg(long)]
    pub list_rules: bool,
    /// Benchmark baseline: apply every rule's regex to the whole input in turn.
    #[arg(long, hide = true)]
    pub naive: bool,
}

/// Arguments of `doctor`.
#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// `mycelium policy …`.
#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Validate policy files; exit 0 when all are valid, 1 otherwise.
    ///
    /// Every problem is reported as FILE:LINE:COLUMN: KEY: MESSAGE. Paths under
    /// {workspace} are not checked here, since no workspace is chosen yet: `exec` and
    /// `run` check them against the workspace they are given, before anything runs.
    #[command(after_help = HELP)]
    Check(CheckArgs),
    /// Describe in plain words what a policy lets an agent read, write, reach and inherit,
    /// and its risk level with the reasons.
    #[command(after_help = HELP)]
    Explain(ExplainArgs),
}

/// Arguments of `policy check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Policy files to check.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Print one JSON object per file (one per line) instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `policy explain`.
#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// A policy file, or the name of an agent on the search path (see `mycelium agents`).
    #[arg(value_name = "FILE|AGENT")]
    pub file: PathBuf,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `agents`.
#[derive(Debug, Args)]
pub struct AgentsArgs {
    /// Print one JSON array instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// `mycelium consent …`.
#[derive(Debug, Subcommand)]
pub enum ConsentCommand {
    /// Show what an agent can do and ask for consent; only the answer `yes` grants.
    ///
    /// Without a terminal, refuses unless --yes is given.
    #[command(after_help = HELP)]
    Grant(GrantArgs),
    /// Exit 0 when the agent may run now (valid consent, or risk below
    /// consent.required_at), 1 otherwise; say why on standard error.
    #[command(after_help = HELP)]
    Check(ConsentCheckArgs),
    /// Remove the agent's consent and lift any denial; it is asked about again.
    #[command(after_help = HELP)]
    Revoke(NamesArgs),
    /// Refuse the agent: it never runs and cannot be granted until revoked.
    #[command(after_help = HELP)]
    Deny(NamesArgs),
    /// List every recorded grant and denial.
    #[command(after_help = HELP)]
    List(ListArgs),
    /// Move a damaged consent store aside (the old file is kept) so consent can be
    /// granted again.
    #[command(after_help = HELP)]
    Reset,
}

/// Arguments of `consent grant`.
#[derive(Debug, Args)]
pub struct GrantArgs {
    /// The agents.
    #[arg(required = true, value_name = "AGENT")]
    pub agents: Vec<String>,
    /// Grant without asking (for scripts); the banner is still printed.
    #[arg(long)]
    pub yes: bool,
    /// Let the consent expire after this long, e.g. 8h or 7d.
    #[arg(long = "for", value_name = "DURATION")]
    pub duration: Option<String>,
}

/// Arguments of `consent check`.
#[derive(Debug, Args)]
pub struct ConsentCheckArgs {
    /// The agent.
    #[arg(value_name = "AGENT")]
    pub agent: String,
    /// Print the status as JSON on standard output.
    #[arg(long)]
    pub json: bool,
}

/// One or more agent names.
#[derive(Debug, Args)]
pub struct NamesArgs {
    /// The agents.
    #[arg(required = true, value_name = "AGENT")]
    pub agents: Vec<String>,
}

/// Arguments of `consent list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Print the store's records as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The agent's name (its policy file's name without `.toml`, see `mycelium agents`).
    #[arg(value_name = "AGENT")]
    pub agent: String,
    /// The task, delivered as the policy's `[agent] task` says (stdin, last argument, or
    /// the MYCELIUM_TASK variable); `-` reads it from standard input. Without it the agent
    /// reads this terminal's input.
    #[arg(value_name = "TASK")]
    pub task: Option<String>,
    /// The directory `{workspace}` stands for (required when the policy grants it).
    #[arg(long, short = 'w', value_name = "DIR")]
    pub workspace: Option<std::path::PathBuf>,
    /// A JSON file the agent sees, read-only, as /run/mycelium/context.json (written
    /// compactly, keys sorted). It must be a regular file of at most 1 MiB holding valid
    /// JSON; otherwise nothing runs (exit 125).
    #[arg(long, value_name = "FILE")]
    pub context: Option<std::path::PathBuf>,
    /// Print the workflow id (one line) and return at once; the run goes on in a
    /// background process of mycelium's own, recorded as the workflow's owner. Follow it
    /// with `mycelium status ID`, `mycelium logs -f ID`, stop it with `mycelium cancel ID`.
    /// Consent is asked here first when a terminal is attached.
    #[arg(long)]
    pub detach: bool,
    /// Internal: this process is the background half of `--detach`.
    #[arg(long, hide = true)]
    pub detached_child: bool,
    #[command(flatten)]
    pub overrides: OverrideArgs,
}

/// Options of `exec` and `run` that loosen a default: a human's choice at the terminal,
/// never available to a tool call.
#[derive(Debug, Args)]
pub struct OverrideArgs {
    /// When mycelium runs as root: run the agent as this unprivileged host user (and
    /// group) instead of the workspace's owner. Files it creates belong to UID; a
    /// root-owned workspace is then accepted, writable only where UID may write. Never 0.
    #[arg(long, value_name = "UID[:GID]")]
    pub run_as: Option<crate::isolation::ids::RunAs>,
    /// Accept DIR as the workspace although the workspace check refuses it (a home
    /// directory, a credential location, a system directory): the agent gets exactly what
    /// the policy grants on {workspace} in DIR. mycelium's own state stays refused.
    #[arg(long, value_name = "DIR")]
    pub allow_workspace: Option<PathBuf>,
}

impl OverrideArgs {
    /// As the isolation layer takes them.
    #[must_use]
    pub fn to_overrides(&self) -> crate::isolation::Overrides {
        crate::isolation::Overrides {
            run_as: self.run_as,
            allow_workspace: self.allow_workspace.clone(),
            workspace_roots: Vec::new(),
        }
    }
}
