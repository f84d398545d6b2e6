//! The MCP server (`mycelium serve`): five tools in front of the [`ProcessManager`].
//!
//! It holds no business logic: a tool call is parsed ([`tools`]), the agent is found and
//! loaded by the registry, its consent checked by the consent manager (and, when the
//! operator opted in, asked of the client's user: [`consent`]), and the invocation handed
//! to the same `ProcessManager` as `mycelium run`, which plans the sandbox, runs it and
//! records the sanitized output in the workflow store. Readers (`get_workflow_status`,
//! `get_workflow_output`) read that store, so workflows started by another process or an
//! earlier server are answered too.
//!
//! One handler serves both protocol eras: the classic `initialize` handshake (2025-06-18,
//! 2025-11-25) and the stateless 2026-07-28 revision (`server/discover`, per-request
//! metadata), over standard input and output or streamable HTTP ([`http`]).
//!
//! What a call can never do: widen a policy (no override reaches the planner but the
//! server's own workspace roots, which only narrow), grant consent (only the human's answer
//! to an elicitation the operator enabled records one), or see a value the sanitizer
//! withheld (everything returned was read from the store, which holds sanitized text only).

pub mod consent;
pub mod http;
pub mod log;
pub mod tools;

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, Implementation, ListToolsResult,
    PaginatedRequestParams, ProgressNotificationParam, ServerCapabilities, ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler};

use crate::consent::ConsentManager;
use crate::isolation::Overrides;
use crate::policy::LoadOptions;
use crate::process::{Invocation, ProcessError, ProcessManager, blocking};
use crate::registry::{self, LoadedAgent, RegistryError, SearchPath};
use crate::state::audit::{StartedBy, Via};
use crate::state::{StateError, WorkflowId, WorkflowRecord, WorkflowStatus, WorkflowView};

pub use log::Log;
use tools::ToolError;

/// What the model is told about this server when it connects.
pub const INSTRUCTIONS: &str = "mycelium runs agents (programs) in sandboxes confined by their policies. \
Call list_agents to see the agents, their risk and consent state. Call invoke_agent with an agent_name \
and a task_description (and a workspace path when the agent needs one) to start a workflow; it returns \
a workflow_id at once. Follow it with get_workflow_status (wait_seconds up to 60 waits for the end) and \
read its output with get_workflow_output. cancel_workflow stops it. If invoke_agent fails with \
consent_required, a human must approve the agent: show the user the command in the error \
(mycelium consent grant NAME), wait for them to run it, then call invoke_agent again. Output is \
sanitized: credentials appear as [REDACTED:rule].";

/// How the server is set up (by `mycelium serve`).
#[derive(Debug)]
pub struct ServeConfig {
    /// Where agents are found.
    pub search: SearchPath,
    /// Options every policy load uses (`{home}`, protected paths).
    pub load: LoadOptions,
    /// Runs the invocations.
    pub manager: ProcessManager,
    /// The consent records (the same store `mycelium consent` uses).
    pub consent: ConsentManager,
    /// Canonical directories under which a workspace may be chosen; empty: none may.
    pub workspace_roots: Vec<PathBuf>,
    /// The largest `task_description`, in bytes.
    pub max_task_bytes: usize,
    /// At most this many workflows of this server may be unfinished (running or waiting
    /// for a slot) at once; more are refused as `busy`. Each holds its planned sandbox
    /// (open descriptors of every granted path) while it waits.
    pub max_unfinished: usize,
    /// Ask the client's user for a missing consent (elicitation).
    pub consent_via_client: bool,
    /// How long a consent granted through the client lasts (`None`: until revoked).
    pub consent_for: Option<Duration>,
    /// What a person types before `consent grant NAME` to reach the same agents and
    /// consent store as this server: `mycelium`, with `--policies DIR` and a
    /// `MYCELIUM_HOME=DIR` prefix when the server was given them.
    pub consent_command: String,
    /// The environment agents' policies scrub (the server's own).
    pub caller_env: Vec<(String, String)>,
    /// Where the server logs.
    pub log: Log,
}

/// The server: cheap to clone (HTTP makes one per session), all clones share one state.
#[derive(Debug, Clone)]
pub struct Server {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    config: ServeConfig,
    /// Seals the consent question's state for 2026-07-28 clients (a key of this process:
    /// a restart makes an outstanding question invalid, and it is asked again).
    codec: rmcp::model::RequestStateCodec,
    /// Workflows this server started, with a flag that turns true when each ends: a wait
    /// on one of them ends the moment it does, without polling the store.
    local: Mutex<HashMap<WorkflowId, tokio::sync::watch::Receiver<bool>>>,
    /// Invocations of this server accepted and not yet ended.
    unfinished: std::sync::atomic::AtomicUsize,
    /// Consent questions (2026-07-28) already answered, with when they were asked: each is
    /// honoured once (kept until they would have expired anyway).
    answered: Mutex<HashMap<String, i64>>,
}

/// One accepted invocation, counted in `Shared::unfinished` until it is dropped.
struct Ticket(Arc<Shared>);

impl Drop for Ticket {
    fn drop(&mut self) {
        self.0
            .unfinished
            .fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
    }
}

impl Server {
    /// A server over `config`.
    ///
    /// # Errors
    /// When no random key can be drawn for sealing request state.
    pub fn new(config: ServeConfig) -> anyhow::Result<Server> {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).map_err(|e| anyhow::anyhow!("drawing a random key: {e}"))?;
        let codec = rmcp::model::RequestStateCodec::try_new(key.to_vec())
            .map_err(|e| anyhow::anyhow!("the request-state key: {e}"))?;
        Ok(Server {
            shared: Arc::new(Shared {
                config,
                codec,
                local: Mutex::new(HashMap::new()),
                unfinished: std::sync::atomic::AtomicUsize::new(0),
                answered: Mutex::new(HashMap::new()),
            }),
        })
    }

    fn config(&self) -> &ServeConfig {
        &self.shared.config
    }

    fn log(&self, line: std::fmt::Arguments<'_>) {
        self.config().log.line(line);
    }

    /// `list_agents`.
    async fn list_agents(&self) -> Result<CallToolResult, ToolError> {
        let server = self.clone();
        let list = off_runtime("listing the agents", move || server.agent_list()).await?;
        Ok(tools::success(&list))
    }

    fn agent_list(&self) -> Result<tools::AgentList, ToolError> {
        let c = self.config();
        let listing = crate::consent::catalog::catalog(&c.search, &c.load, &c.consent)
            .map_err(|e| ToolError::new("internal", format!("{:#}", anyhow::Error::from(e))))?;
        let mut agents: Vec<tools::AgentInfo> = listing
            .agents
            .into_iter()
            .map(|listed| match listed.agent {
                Ok(a) => tools::AgentInfo {
                    name: listed.entry.name,
                    description: a.description,
                    risk: Some(a.risk.level.as_str().to_owned()),
                    reasons: a.risk.reasons.into_iter().map(|r| r.text).collect(),
                    consent: a.consent.to_owned(),
                    needs_workspace: a.needs_workspace,
                    error: (!a.has_command).then(|| {
                        "its policy has no [agent] command, so it cannot be invoked".to_owned()
                    }),
                },
                Err(e) => tools::AgentInfo::broken(listed.entry.name, e),
            })
            .collect();
        agents.extend(
            listing
                .discovery
                .duplicates
                .iter()
                .map(|d| tools::AgentInfo::broken(d.name.clone(), d.error().to_string())),
        );
        Ok(tools::AgentList { agents })
    }

    /// `invoke_agent`.
    async fn invoke_agent(
        &self,
        params: &CallToolRequestParams,
        ctx: &RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ToolError> {
        let args: tools::InvokeArgs = tools::parse("invoke_agent", params.arguments.clone())?;
        let c = self.config();
        if !registry::is_valid_name(&args.agent_name) {
            return Err(ToolError::new(
                "unknown_agent",
                format!(
                    "{:?} is not an agent name; call list_agents for the names",
                    args.agent_name
                ),
            )
            .with("agent_name", args.agent_name.clone()));
        }
        if args.task_description.len() > c.max_task_bytes {
            return Err(ToolError::invalid(format!(
                "task_description is {} bytes; this server accepts at most {} (--max-task-bytes)",
                args.task_description.len(),
                c.max_task_bytes
            )));
        }
        let wait = wait_seconds(args.wait_seconds)?;
        if let Some(ctx_value) = &args.context {
            let size = serde_json::to_string(ctx_value).map_or(usize::MAX, |t| t.len());
            let max = crate::isolation::plan::MAX_CONTEXT_BYTES;
            if size > max {
                return Err(ToolError::invalid(format!(
                    "context is {size} bytes as JSON; at most {max} are accepted"
                )));
            }
        }
        let workspace = match &args.workspace {
            Some(w) => Some(self.workspace(w)?),
            None => None,
        };
        let ticket = self.ticket()?;
        let agent = self.load(&args.agent_name).await?;
        if agent.policy.uses_workspace() && workspace.is_none() {
            return Err(ToolError::new(
                "workspace_refused",
                format!(
                    "{} works in a workspace: pass workspace, an absolute path inside {}",
                    agent.name,
                    self.roots_text()
                ),
            ));
        }
        if agent.policy.agent.command.is_empty() {
            return Err(ToolError::new(
                "not_runnable",
                format!(
                    "{}: its policy has no [agent] command, so it cannot be invoked",
                    agent.name
                ),
            ));
        }
        let agent = match consent::ensure(self, agent, params, ctx).await? {
            consent::Outcome::Allowed(agent) => *agent,
            consent::Outcome::Ask(question) => {
                return Ok(CallToolResponse::InputRequired(question));
            }
        };
        let name = agent.name.clone();
        let invocation = Invocation {
            agent,
            task: Some(args.task_description),
            context: args.context.map(serde_json::Value::Object),
            workspace,
            protected: c.load.protected.clone(),
            overrides: Overrides {
                workspace_roots: c.workspace_roots.clone(),
                ..Overrides::default()
            },
            caller_env: c.caller_env.clone(),
            started_by: StartedBy::current(Some(Via::Mcp)),
            attach: crate::process::Attach::default(),
        };
        let invoked = c
            .manager
            .invoke(invocation)
            .await
            .map_err(|e| invoke_error(self, &name, e))?;
        let id = invoked.workflow_id;
        self.log(format_args!("invoke_agent {name}: workflow {id}"));
        let (tx, rx) = tokio::sync::watch::channel(false);
        self.local().insert(id, rx);
        let server = self.clone();
        tokio::spawn(async move {
            let _ticket = ticket;
            let outcome = invoked.finished().await;
            match &outcome {
                Ok(f) => server.log(format_args!(
                    "workflow {id} ({name}) ended {}",
                    f.record.status
                )),
                Err(e) => server.log(format_args!("workflow {id} ({name}): {e}")),
            }
            let _ = tx.send(true);
            server.local().remove(&id);
        });
        let record = self.wait(id, wait, ctx).await?;
        let message = match record.status {
            WorkflowStatus::Pending | WorkflowStatus::Running => format!(
                "started; call get_workflow_status with workflow_id {id} (wait_seconds up to 60) to follow it"
            ),
            status => format!(
                "ended {status}; get_workflow_status has its result, get_workflow_output all of its output"
            ),
        };
        Ok(CallToolResponse::Complete(tools::success(
            &tools::Invoked {
                workflow_id: id.to_string(),
                status: record.status.as_str().to_owned(),
                agent_name: record.agent_name,
                message,
            },
        )))
    }

    /// `get_workflow_status`.
    async fn workflow_status(
        &self,
        params: &CallToolRequestParams,
        ctx: &RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ToolError> {
        let args: tools::StatusArgs =
            tools::parse("get_workflow_status", params.arguments.clone())?;
        let id = workflow_id(&args.workflow_id)?;
        let wait = wait_seconds(args.wait_seconds)?;
        let record = self.wait(id, wait, ctx).await?;
        Ok(tools::success(&WorkflowView::from(&record)))
    }

    /// `get_workflow_output`.
    async fn workflow_output(
        &self,
        params: &CallToolRequestParams,
    ) -> Result<CallToolResult, ToolError> {
        let args: tools::OutputArgs =
            tools::parse("get_workflow_output", params.arguments.clone())?;
        let id = workflow_id(&args.workflow_id)?;
        let limit = args.limit.unwrap_or(tools::DEFAULT_OUTPUT_PAGE);
        if !(1..=tools::MAX_OUTPUT_PAGE).contains(&limit) {
            return Err(ToolError::invalid(format!(
                "limit must be from 1 to {} bytes, not {limit}",
                tools::MAX_OUTPUT_PAGE
            )));
        }
        let offset = args.offset.unwrap_or(0);
        let store = Arc::clone(self.config().manager.store());
        let (record, page) = blocking(move || {
            // The status first: a page read after it that reaches the end, of a workflow
            // that had already ended, is the whole rest.
            let record = store.get(id)?.ok_or(StateError::NotFound(id))?;
            let page = store.read_output(id, offset, limit)?;
            Ok((record, page))
        })
        .await
        .map_err(|e| store_error(id, e))?;
        let complete = record.status.is_terminal() && page.next_offset >= page.total;
        Ok(tools::success(&tools::OutputPage {
            workflow_id: id.to_string(),
            offset: page.offset,
            next_offset: page.next_offset,
            total: page.total,
            output: page.text,
            status: record.status.as_str().to_owned(),
            complete,
        }))
    }

    /// `cancel_workflow`.
    async fn cancel_workflow(
        &self,
        params: &CallToolRequestParams,
    ) -> Result<CallToolResult, ToolError> {
        let args: tools::CancelArgs = tools::parse("cancel_workflow", params.arguments.clone())?;
        let id = workflow_id(&args.workflow_id)?;
        let manager = &self.config().manager;
        let requested = manager.cancel(id).await.map_err(|e| store_error(id, e))?;
        let store = Arc::clone(manager.store());
        let record = blocking(move || store.get(id)?.ok_or(StateError::NotFound(id)))
            .await
            .map_err(|e| store_error(id, e))?;
        self.log(format_args!(
            "cancel_workflow {id}: {}",
            if requested {
                "requested"
            } else {
                "already ended"
            }
        ));
        let message = if requested {
            "cancel requested: the workflow's owner sees it at its next lease renewal (a third of the lease: 10 s by default), stops the agent (SIGTERM, then SIGKILL 5 s later) and records it as cancelled; get_workflow_status with wait_seconds shows when".to_owned()
        } else {
            format!("the workflow had already ended ({})", record.status)
        };
        Ok(tools::success(&tools::Cancelled {
            workflow_id: id.to_string(),
            cancel_requested: requested,
            status: record.status.as_str().to_owned(),
            message,
        }))
    }

    /// Whether the consent question `nonce` (asked at `asked_at`) is answered for the first
    /// time; questions past their lifetime are forgotten as this is asked.
    fn first_answer(&self, nonce: &str, asked_at: i64, now: i64) -> bool {
        let lifetime = consent::QUESTION_LIFETIME.as_secs() as i64;
        let mut answered = self
            .shared
            .answered
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        answered.retain(|_, asked| now.saturating_sub(*asked) <= lifetime);
        answered.insert(nonce.to_owned(), asked_at).is_none()
    }

    /// Count one more unfinished invocation, or refuse it as `busy`.
    fn ticket(&self) -> Result<Ticket, ToolError> {
        use std::sync::atomic::Ordering;
        let max = self.config().max_unfinished;
        let taken = self
            .shared
            .unfinished
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            });
        match taken {
            Ok(_) => Ok(Ticket(Arc::clone(&self.shared))),
            Err(_) => Err(ToolError::new(
                "busy",
                format!(
                    "this server already has {max} workflows running or waiting; wait for some to end (get_workflow_status with wait_seconds) and invoke again"
                ),
            )),
        }
    }

    /// Find and load `name` (files read once, checksummed).
    async fn load(&self, name: &str) -> Result<LoadedAgent, ToolError> {
        let server = self.clone();
        let name = name.to_owned();
        off_runtime("loading the agent", move || {
            let c = server.config();
            let entry = registry::find(&c.search, &name).map_err(|e| match e {
                RegistryError::NotFound { .. } => ToolError::new(
                    "unknown_agent",
                    format!("no agent {name:?}; call list_agents for the names"),
                )
                .with("agent_name", name.clone()),
                e => ToolError::new("not_runnable", format!("{:#}", anyhow::Error::from(e))),
            })?;
            registry::load_agent(&entry, &c.load).map_err(|e| {
                ToolError::new(
                    "not_runnable",
                    format!(
                        "{name} cannot be run: {:#}; its policy must be fixed on the server",
                        anyhow::Error::from(e)
                    ),
                )
            })
        })
        .await
    }

    /// The workspace a call asked for, checked: an absolute path without `..`, whose
    /// resolved directory (links followed) lies inside a workspace root. The planner checks
    /// the directory it really opens against the roots again.
    fn workspace(&self, asked: &str) -> Result<PathBuf, ToolError> {
        let refuse = |why: String| {
            ToolError::new(
                "workspace_refused",
                format!(
                    "workspace {asked:?} {why}; pass an absolute path inside {}",
                    self.roots_text()
                ),
            )
        };
        let roots = &self.config().workspace_roots;
        if roots.is_empty() {
            return Err(ToolError::new(
                "workspace_refused",
                "this server was started without --workspace-root, so no workspace can be given; its operator can add one",
            ));
        }
        let path = Path::new(asked);
        if asked.contains('\0') {
            return Err(refuse("contains a NUL byte".into()));
        }
        if !path.is_absolute() {
            return Err(refuse("is not an absolute path".into()));
        }
        if path.components().any(|c| c == Component::ParentDir) {
            return Err(refuse("contains `..`".into()));
        }
        let resolved =
            std::fs::canonicalize(path).map_err(|e| refuse(format!("cannot be used: {e}")))?;
        if !resolved.is_dir() {
            return Err(refuse("is not a directory".into()));
        }
        if !roots.iter().any(|r| resolved.starts_with(r)) {
            return Err(refuse(if resolved == path {
                "lies outside every workspace root".into()
            } else {
                format!(
                    "resolves to {}, outside every workspace root",
                    resolved.display()
                )
            }));
        }
        Ok(resolved)
    }

    /// The terminal command `mycelium consent VERB NAME` for this server's agents and store.
    fn command(&self, verb: &str, name: &str) -> String {
        format!("{} consent {verb} {name}", self.config().consent_command)
    }

    fn roots_text(&self) -> String {
        let roots = &self.config().workspace_roots;
        if roots.is_empty() {
            return "a workspace root (this server has none: its operator must start it with --workspace-root DIR)".into();
        }
        roots
            .iter()
            .map(|r| r.display().to_string())
            .collect::<Vec<_>>()
            .join(" or ")
    }

    fn local(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<WorkflowId, tokio::sync::watch::Receiver<bool>>> {
        self.shared
            .local
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The record of `id` once it ended or `wait` passed, whichever is first, with a
    /// progress notification about every second when the client gave a progress token.
    async fn wait(
        &self,
        id: WorkflowId,
        wait: Duration,
        ctx: &RequestContext<RoleServer>,
    ) -> Result<WorkflowRecord, ToolError> {
        let store = Arc::clone(self.config().manager.store());
        let get = || {
            let store = Arc::clone(&store);
            async move {
                blocking(move || store.get(id)?.ok_or(StateError::NotFound(id)))
                    .await
                    .map_err(|e| store_error(id, e))
            }
        };
        let start = Instant::now();
        let deadline = start + wait;
        let token = ctx.meta.get_progress_token();
        let local = self.local().get(&id).cloned();
        loop {
            let record = get().await?;
            let left = deadline.saturating_duration_since(Instant::now());
            if record.status.is_terminal() || left.is_zero() {
                return Ok(record);
            }
            if let Some(token) = &token {
                let elapsed = start.elapsed().as_secs_f64().floor();
                let _ = ctx
                    .peer
                    .notify_progress(
                        ProgressNotificationParam::new(token.clone(), elapsed)
                            .with_total(wait.as_secs_f64())
                            .with_message(format!("workflow {id} is {}", record.status)),
                    )
                    .await;
            }
            let step = left.min(Duration::from_secs(1));
            match &local {
                // This server runs it: woken the moment it ends.
                Some(rx) => {
                    let mut rx = rx.clone();
                    let _ = tokio::time::timeout(step, rx.wait_for(|done| *done)).await;
                }
                // Another process runs it: the store is read again.
                None => {
                    let poll = step.min(Duration::from_millis(200));
                    tokio::select! {
                        () = tokio::time::sleep(poll) => {}
                        () = ctx.ct.cancelled() => return get().await,
                    }
                }
            }
            if ctx.ct.is_cancelled() {
                return get().await;
            }
        }
    }
}

/// Run `f`, blocking work (file reads, the consent store, the registry), on the blocking
/// pool; a panic in it is an `internal` error about `what`.
async fn off_runtime<T: Send + 'static>(
    what: &'static str,
    f: impl FnOnce() -> Result<T, ToolError> + Send + 'static,
) -> Result<T, ToolError> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|_| Err(ToolError::new("internal", format!("{what} failed"))))
}

/// `wait_seconds`, checked.
fn wait_seconds(asked: Option<u64>) -> Result<Duration, ToolError> {
    match asked.unwrap_or(0) {
        s if s <= tools::MAX_WAIT_SECONDS => Ok(Duration::from_secs(s)),
        s => Err(ToolError::invalid(format!(
            "wait_seconds must be from 0 to {}, not {s}",
            tools::MAX_WAIT_SECONDS
        ))),
    }
}

/// A workflow id argument, checked.
fn workflow_id(text: &str) -> Result<WorkflowId, ToolError> {
    WorkflowId::parse(text).map_err(|_| {
        ToolError::invalid(format!(
            "workflow_id {text:?} is not a workflow id (32 lowercase hexadecimal digits, as invoke_agent returns)"
        ))
    })
}

/// A store error as a tool error: an unknown id in plain words.
fn store_error(id: WorkflowId, e: ProcessError) -> ToolError {
    match e {
        ProcessError::State(StateError::NotFound(_)) => ToolError::new(
            "unknown_workflow",
            format!(
                "no workflow {id}: it never existed here, or it ended longer ago than the retention and was removed"
            ),
        )
        .with("workflow_id", id.to_string()),
        e => ToolError::new("internal", format!("the workflow store: {e}")),
    }
}

/// Why `ProcessManager::invoke` refused, as a tool error.
fn invoke_error(server: &Server, name: &str, e: ProcessError) -> ToolError {
    match e {
        // Consent was withdrawn between the check here and the manager's own.
        ProcessError::Consent { agent, why } => ToolError::new("consent_required", why)
            .with("agent_name", agent.clone())
            .with("command", server.command("grant", &agent)),
        ProcessError::Prepare(e) => {
            let text = e.to_string();
            let code = if text.contains("workspace") {
                "workspace_refused"
            } else {
                "not_runnable"
            };
            ToolError::new(code, format!("{name} was not started: {text}"))
        }
        e => ToolError::new("internal", format!("{name} was not started: {e}")),
    }
}

impl ServerHandler for Server {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(
                Implementation::new("mycelium", env!("CARGO_PKG_VERSION"))
                    .with_title("mycelium: sandboxed agents"),
            )
            .with_instructions(INSTRUCTIONS)
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(tools::shared().to_vec()))
    }

    fn get_tool(&self, name: &str) -> Option<rmcp::model::Tool> {
        tools::shared().iter().find(|t| t.name == name).cloned()
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let answer = match request.name.as_ref() {
            "list_agents" => match tools::parse::<tools::ListAgentsArgs>(
                "list_agents",
                request.arguments.clone(),
            ) {
                Ok(_) => self.list_agents().await.map(Into::into),
                Err(e) => Err(e),
            },
            "invoke_agent" => self.invoke_agent(&request, &context).await,
            "get_workflow_status" => self
                .workflow_status(&request, &context)
                .await
                .map(Into::into),
            "get_workflow_output" => self.workflow_output(&request).await.map(Into::into),
            "cancel_workflow" => self.cancel_workflow(&request).await.map(Into::into),
            // Not a tool of this server: a protocol error, as the specification asks.
            other => {
                self.log(format_args!("unknown tool {other:?}"));
                return Err(ErrorData::invalid_params(
                    format!(
                        "no tool {other:?}; the tools are list_agents, invoke_agent, get_workflow_status, get_workflow_output, cancel_workflow"
                    ),
                    None,
                ));
            }
        };
        Ok(answer.unwrap_or_else(|e| {
            // An argument error quotes the value it refused, which may be a task: only the
            // tool and the code are logged.
            if e.code == "invalid_arguments" {
                self.log(format_args!("{}: error {}", request.name, e.code));
            } else {
                self.log(format_args!(
                    "{}: error {}: {}",
                    request.name, e.code, e.message
                ));
            }
            CallToolResponse::Complete(e.into_result())
        }))
    }
}

/// Serve `server` on standard input and output until the client closes them.
///
/// # Errors
/// When the transport fails to start.
pub async fn serve_stdio(server: Server) -> anyhow::Result<()> {
    use rmcp::ServiceExt;
    let log = server.config().log.clone();
    let running = server
        .serve(rmcp::transport::io::stdio_pipes())
        .await
        .map_err(|e| anyhow::anyhow!("starting the MCP session on standard input/output: {e}"))?;
    let reason = running.waiting().await;
    log.line(format_args!("session ended: {reason:?}"));
    Ok(())
}
