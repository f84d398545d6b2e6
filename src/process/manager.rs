//! [`ProcessManager`]: one invocation end to end.
//!
//! `invoke` does the short, synchronous part in the caller's task — check consent, build the
//! plan from the bytes that were checksummed, build the sanitizer with this run's withheld
//! values, record the workflow as `pending` — and returns its id at once. The rest runs in
//! a task of its own: wait for a slot (`process.max_concurrent`, first come first served),
//! then, in one hop to a blocking thread, record the start, start the sandbox and
//! *supervise* it: deliver the task, pump the output through the sanitizer into the store,
//! renew the lease, watch for a cancel request, and record how it ended. A multi-threaded
//! runtime never blocks on a sandbox; store calls from async code go through [`blocking`].
//! On a current-thread runtime (the command line, one workflow) all of it runs on that
//! thread.
//!
//! A sandbox is started directly when the manager runs on a current-thread runtime in a
//! single-threaded process (the command line, whose `run` stays as fast as `exec`), or
//! through the spawner ([`crate::isolation::Spawner`]) from a multi-threaded host.

use std::io::Write;
use std::os::fd::OwnedFd;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::consent::ConsentManager;
use crate::isolation::protocol::FIRST_PASSED_FD;
use crate::isolation::pty::Terminal;
use crate::isolation::{self, Io, Overrides, RunningSandbox, SandboxStatus, Spawner};
use crate::policy::{ByteSize, TaskMode};
use crate::registry::LoadedAgent;
use crate::sanitize::{OutputSanitizer, Redactions, RuleSet};
use crate::state::audit::{AuditLog, StartedBy};
use crate::state::{
    NewWorkflow, Outcome, Owner, StateError, WorkflowId, WorkflowRecord, WorkflowStore,
};

use super::ProcessError;
use super::exit::classify;
use super::pump::{OutputKeeper, pump};

/// How much output a run keeps when its policy sets no `limits.output`.
pub const DEFAULT_OUTPUT_CAP: u64 = 8 << 20;

/// How many sanitizers with secret values a manager keeps (one per distinct set of values
/// its callers' environments held).
const MAX_KEPT_SANITIZERS: usize = 8;

/// How long an owner's lease on a running workflow lasts; it is renewed every third of it.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(30);

/// How sandboxes are started.
#[derive(Debug, Clone)]
pub enum Starter {
    /// From this process (it must be single-threaded when a sandbox starts: the command
    /// line on a current-thread runtime). Falls back to the launcher otherwise.
    Direct,
    /// Through the spawner, for a multi-threaded host.
    Spawner(Arc<Spawner>),
}

/// What a [`ProcessManager`] is built from.
#[derive(Debug)]
pub struct ManagerConfig {
    /// Where workflows are recorded.
    pub store: Arc<dyn WorkflowStore>,
    /// How sandboxes start.
    pub starter: Starter,
    /// Consent records (checked again at each invocation).
    pub consent: ConsentManager,
    /// The sanitizer's rules (built-in and the user's); each run adds its withheld values.
    pub rules: RuleSet,
    /// The audit log, when one is kept.
    pub audit: Option<AuditLog>,
    /// At most this many sandboxes run at once; more wait as `pending`, in order.
    pub max_concurrent: usize,
    /// The owner's lease on a running workflow.
    pub lease: Duration,
}

/// Runs invocations as workflows.
#[derive(Debug, Clone)]
pub struct ProcessManager {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    store: Arc<dyn WorkflowStore>,
    starter: Starter,
    consent: ConsentManager,
    rules: RuleSet,
    /// The sanitizer of the rules alone, for runs that withheld nothing (built at first use).
    base_sanitizer: std::sync::OnceLock<Arc<OutputSanitizer>>,
    /// Sanitizers with a run's secret values as literals, by those values (at most
    /// [`MAX_KEPT_SANITIZERS`]).
    literal_sanitizers: Mutex<KeptSanitizers>,
    audit: Option<AuditLog>,
    slots: tokio::sync::Semaphore,
    lease: Duration,
    owner: Owner,
}

/// Sanitizers by the secret values they hold as literals; its `Debug` shows only how many,
/// never a value.
#[derive(Default)]
struct KeptSanitizers(std::collections::HashMap<Vec<(String, String)>, Arc<OutputSanitizer>>);

impl std::fmt::Debug for KeptSanitizers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KeptSanitizers({} kept)", self.0.len())
    }
}

/// Where the output of one run goes besides the store, and the terminal it may get.
#[derive(Default)]
pub struct Attach {
    /// A live, sanitized copy of standard output (a person at a terminal).
    pub stdout: Option<Box<dyn Write + Send>>,
    /// A live, sanitized copy of standard error.
    pub stderr: Option<Box<dyn Write + Send>>,
    /// The sandbox's own pseudo-terminal, for streams of the caller that are terminals
    /// (`run` in a terminal); its output is sanitized and kept like the pipes'.
    pub terminal: Option<Terminal>,
    /// The caller's forwarded signals (`^C` at the terminal), passed on to the sandbox.
    pub signals: Option<isolation::SignalForwarder>,
}

impl std::fmt::Debug for Attach {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Attach")
            .field("stdout", &self.stdout.is_some())
            .field("stderr", &self.stderr.is_some())
            .field("terminal", &self.terminal.is_some())
            .field("signals", &self.signals.is_some())
            .finish()
    }
}

/// One request to run an agent.
#[derive(Debug)]
pub struct Invocation {
    /// The agent, loaded once: these checksummed bytes are what runs.
    pub agent: LoadedAgent,
    /// The task, delivered as the policy's `[agent] task` says.
    pub task: Option<String>,
    /// A JSON context, given to the agent as the read-only file
    /// `/run/mycelium/context.json` (compact, keys sorted; see
    /// [`isolation::SandboxPlan::add_context`]).
    pub context: Option<serde_json::Value>,
    /// The directory `{workspace}` stands for.
    pub workspace: Option<std::path::PathBuf>,
    /// Paths no grant or workspace may reach (mycelium's own state, the search path).
    pub protected: Vec<std::path::PathBuf>,
    /// A human's command-line choices (`--run-as`, `--allow-workspace`).
    pub overrides: Overrides,
    /// The caller's environment, scrubbed by the policy.
    pub caller_env: Vec<(String, String)>,
    /// Who asked, for the audit log.
    pub started_by: StartedBy,
    /// Live copies and terminal.
    pub attach: Attach,
}

/// How a workflow ended, as recorded, with the sandbox's own account.
#[derive(Debug)]
pub struct Finished {
    /// The final record.
    pub record: WorkflowRecord,
    /// How the sandbox ended.
    pub status: SandboxStatus,
    /// The sandbox's setup failure, diagnosed, when it failed to start.
    pub setup_error: Option<isolation::IsolationError>,
}

/// A workflow that was recorded and goes on in the background.
#[derive(Debug)]
pub struct Invoked {
    /// Its id.
    pub workflow_id: WorkflowId,
    done: tokio::sync::oneshot::Receiver<Result<Finished, ProcessError>>,
}

impl Invoked {
    /// Wait for the workflow to end.
    ///
    /// # Errors
    /// What ended it before a record could be written, or a store failure.
    pub async fn finished(self) -> Result<Finished, ProcessError> {
        self.done.await.unwrap_or(Err(ProcessError::Lost))
    }
}

/// Run `f`, a blocking store call: inline on a current-thread runtime (the command line,
/// whose process must stay single-threaded until its sandbox starts), on the blocking pool
/// otherwise.
///
/// # Errors
/// What `f` returns; [`ProcessError::Lost`] if the blocking task panicked.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StateError> + Send + 'static,
) -> Result<T, ProcessError> {
    offload(move || f().map_err(ProcessError::State)).await
}

impl ProcessManager {
    /// A manager over `config`, owned by this process.
    ///
    /// # Errors
    /// [`ProcessError::State`] when the owner name cannot be made.
    pub fn new(config: ManagerConfig) -> Result<Self, ProcessError> {
        Ok(ProcessManager {
            inner: Arc::new(Inner {
                store: config.store,
                starter: config.starter,
                consent: config.consent,
                rules: config.rules,
                base_sanitizer: std::sync::OnceLock::new(),
                literal_sanitizers: Mutex::new(KeptSanitizers::default()),
                audit: config.audit,
                slots: tokio::sync::Semaphore::new(config.max_concurrent.max(1)),
                lease: config.lease,
                owner: Owner::this_process()?,
            }),
        })
    }

    /// The store workflows are recorded in.
    #[must_use]
    pub fn store(&self) -> &Arc<dyn WorkflowStore> {
        &self.inner.store
    }

    /// This manager's owner name, as recorded on the workflows it runs.
    #[must_use]
    pub fn owner(&self) -> &Owner {
        &self.inner.owner
    }

    /// Record `inv` as a pending workflow and start running it; returns at once.
    ///
    /// # Errors
    /// [`ProcessError::Consent`] when the agent may not run (nothing is recorded),
    /// [`ProcessError::Prepare`] when its sandbox cannot be planned (bad workspace, policy
    /// not enforceable here), [`ProcessError::State`] when the store cannot be written.
    pub async fn invoke(&self, mut inv: Invocation) -> Result<Invoked, ProcessError> {
        let inner = Arc::clone(&self.inner);
        // The checks, the plan (file-system walks) and the record are blocking work: off
        // the runtime on a multi-threaded one, so concurrent invocations run side by side.
        let mut attach = std::mem::take(&mut inv.attach);
        let prep_inner = Arc::clone(&inner);
        let (inv, mut prepared, passed, sanitizer, record) =
            offload(move || prepare_invocation(&prep_inner, inv)).await?;
        if let Some(t) = &attach.terminal {
            t.prepare(&mut prepared.plan);
        }
        inner.audit(&record, &inv.started_by);
        let id = record.workflow_id;
        let cap = inv
            .agent
            .policy
            .limits
            .output
            .map_or(DEFAULT_OUTPUT_CAP, |b: ByteSize| b.0);
        let (tx, rx) = tokio::sync::oneshot::channel();
        let run = Run {
            id,
            inner,
            plan: prepared.plan,
            passed,
            sanitizer,
            cap,
            stdin_task: (inv.agent.policy.agent.task == TaskMode::Stdin)
                .then_some(inv.task)
                .flatten(),
            started_by: inv.started_by,
            attach: std::mem::take(&mut attach),
        };
        tokio::spawn(async move {
            let _ = tx.send(run.go().await);
        });
        Ok(Invoked {
            workflow_id: id,
            done: rx,
        })
    }

    /// Ask workflow `id` to stop, from any process: its owner sees the request at its next
    /// lease renewal and stops the sandbox (`cancelled`). `false` when it had ended.
    ///
    /// # Errors
    /// [`ProcessError::State`], also for an unknown id.
    pub async fn cancel(&self, id: WorkflowId) -> Result<bool, ProcessError> {
        let store = Arc::clone(&self.inner.store);
        blocking(move || store.request_cancel(id)).await
    }

    /// Mark the workflows whose owner's lease lapsed as `failed` (`executor lost`), and
    /// remove finished ones past their retention; the ids marked lost.
    ///
    /// # Errors
    /// [`ProcessError::State`].
    pub async fn housekeeping(&self) -> Result<Vec<WorkflowId>, ProcessError> {
        let store = Arc::clone(&self.inner.store);
        blocking(move || {
            let now = crate::state::now();
            let lost = store.recover_lost(now)?;
            store.sweep(now)?;
            Ok(lost)
        })
        .await
    }

    /// Do [`ProcessManager::housekeeping`] now and then every `every`, in a task of its own,
    /// for a long-running host (the MCP server, a worker): workflows of an owner that died
    /// are settled while this one runs, not only at the next start. A failed round is
    /// reported on standard error and the next one tried; the task ends when the handle is
    /// aborted or the runtime shuts down.
    #[must_use]
    pub fn keep_house(&self, every: Duration) -> tokio::task::JoinHandle<()> {
        let manager = self.clone();
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(every.max(Duration::from_millis(10)));
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                if let Err(e) = manager.housekeeping().await {
                    eprintln!("mycelium: housekeeping: {e}");
                }
            }
        })
    }
}

impl Inner {
    /// The sanitizer of the rules plus `secrets` (rule id, value) as literals. A
    /// long-running host passes the same environment to every run, so the few sets seen
    /// are kept: building the rule set's automaton costs more than a sandbox start.
    fn sanitizer_for(
        &self,
        secrets: Vec<(String, String)>,
    ) -> Result<Arc<OutputSanitizer>, ProcessError> {
        if secrets.is_empty() {
            return self.base_sanitizer();
        }
        let mut built = self
            .literal_sanitizers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(s) = built.0.get(&secrets) {
            return Ok(Arc::clone(s));
        }
        let mut builder = OutputSanitizer::builder(self.rules.clone());
        for (id, value) in &secrets {
            builder.literal(id.clone(), value.as_bytes());
        }
        let sanitizer = Arc::new(builder.build()?);
        if built.0.len() >= MAX_KEPT_SANITIZERS {
            built.0.clear();
        }
        built.0.insert(secrets, Arc::clone(&sanitizer));
        Ok(sanitizer)
    }

    /// The sanitizer of the rules alone, built once.
    fn base_sanitizer(&self) -> Result<Arc<OutputSanitizer>, ProcessError> {
        if let Some(s) = self.base_sanitizer.get() {
            return Ok(Arc::clone(s));
        }
        let built = Arc::new(OutputSanitizer::builder(self.rules.clone()).build()?);
        Ok(Arc::clone(self.base_sanitizer.get_or_init(|| built)))
    }

    fn audit(&self, record: &WorkflowRecord, by: &StartedBy) {
        if let Some(a) = &self.audit
            && let Err(e) = a.record(record, by)
        {
            eprintln!("mycelium: audit log: {e}");
        }
    }
}

/// What [`prepare_invocation`] hands back: the invocation, its sandbox, the descriptors
/// passed in, its sanitizer and its record.
type Prepared = (
    Invocation,
    isolation::PreparedSandbox,
    Vec<OwnedFd>,
    Arc<OutputSanitizer>,
    WorkflowRecord,
);

/// The blocking part of an invocation: consent checked, sandbox planned, sanitizer built,
/// the workflow recorded as pending (with its task sanitized).
fn prepare_invocation(inner: &Inner, inv: Invocation) -> Result<Prepared, ProcessError> {
    let status = inner.consent.check(&inv.agent)?;
    if !status.allows_run() {
        return Err(ProcessError::Consent {
            agent: inv.agent.name.clone(),
            why: status.describe(&inv.agent.name),
        });
    }
    let (prepared, passed) = plan(&inv)?;
    // Every sensitive value of the caller's environment is redacted by value, whether the
    // agent was denied it or its policy passed it (`allow_secrets`).
    let secrets: Vec<(String, String)> = prepared
        .env
        .secrets()
        .map(|w| (format!("env:{}", w.name), w.value.clone()))
        .collect();
    let sanitizer = inner.sanitizer_for(secrets)?;
    let new = NewWorkflow {
        agent_name: inv.agent.name.clone(),
        task: inv
            .task
            .as_deref()
            .map(|t| sanitized(&sanitizer, t))
            .unwrap_or_default(),
        risk_level: inv.agent.policy.risk().level,
        checksum: inv.agent.checksum.to_string(),
    };
    let record = inner.store.create(&new)?;
    Ok((inv, prepared, passed, sanitizer, record))
}

/// Run `f` off the runtime when it is multi-threaded, inline on a current-thread one (see
/// [`blocking`]).
async fn offload<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ProcessError> + Send + 'static,
) -> Result<T, ProcessError> {
    let flavor = tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor());
    if matches!(flavor, Ok(tokio::runtime::RuntimeFlavor::MultiThread)) {
        tokio::task::spawn_blocking(f)
            .await
            .map_err(|_| ProcessError::Lost)?
    } else {
        f()
    }
}

/// `text` with every secret the run's sanitizer knows replaced.
fn sanitized(sanitizer: &OutputSanitizer, text: &str) -> String {
    String::from_utf8_lossy(&sanitizer.sanitize(text.as_bytes()).output).into_owned()
}

/// The argument vector and passed descriptors: pinned files go in as sealed copies at
/// `FIRST_PASSED_FD`, +1, …; the program itself is executed from its descriptor, and a
/// pinned script named in the arguments is read through `/proc/self/fd`.
fn plan(inv: &Invocation) -> Result<(isolation::PreparedSandbox, Vec<OwnedFd>), ProcessError> {
    let agent = &inv.agent;
    let mut passed: Vec<OwnedFd> = Vec::new();
    let mut argv = agent.policy.agent.command.clone();
    if argv.is_empty() {
        return Err(ProcessError::NoCommand {
            agent: agent.name.clone(),
            policy: agent.policy.path.clone(),
        });
    }
    let mut exec_fd = None;
    for pin in &agent.pins {
        let name = pin.path.to_string_lossy();
        let used_as_program = argv[0] == name;
        let used_as_arg: Vec<usize> = (1..argv.len()).filter(|i| argv[*i] == name).collect();
        if !used_as_program && used_as_arg.is_empty() {
            continue;
        }
        let fd_num =
            FIRST_PASSED_FD + i32::try_from(passed.len()).unwrap_or(i32::MAX - FIRST_PASSED_FD);
        passed.push(pin.sealed_copy()?);
        if used_as_program {
            exec_fd = Some(fd_num);
        }
        for i in used_as_arg {
            argv[i] = format!("/proc/self/fd/{fd_num}");
        }
    }
    if let (TaskMode::Arg, Some(t)) = (agent.policy.agent.task, &inv.task) {
        argv.push(t.clone());
    }
    let mut prepared = isolation::prepare_with(
        &agent.policy,
        inv.workspace.as_deref(),
        &inv.protected,
        argv,
        inv.caller_env.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        &inv.overrides,
    )?;
    if agent.policy.agent.task == TaskMode::Env
        && let Some(t) = &inv.task
    {
        prepared.plan.env.insert("MYCELIUM_TASK".into(), t.clone());
    }
    if let Some(c) = &inv.context {
        prepared.plan.add_context(c.to_string())?;
    }
    prepared.plan.passed_fds = u32::try_from(passed.len()).unwrap_or(u32::MAX);
    prepared.plan.exec_fd = exec_fd;
    Ok((prepared, passed))
}

/// One workflow from its slot to its record.
struct Run {
    id: WorkflowId,
    inner: Arc<Inner>,
    plan: isolation::SandboxPlan,
    passed: Vec<OwnedFd>,
    sanitizer: Arc<OutputSanitizer>,
    cap: u64,
    stdin_task: Option<String>,
    started_by: StartedBy,
    attach: Attach,
}

impl Run {
    async fn go(self) -> Result<Finished, ProcessError> {
        let inner = Arc::clone(&self.inner);
        let _slot = inner
            .slots
            .acquire()
            .await
            .map_err(|_| ProcessError::Lost)?;
        match &inner.starter {
            // Started in this task: on a current-thread runtime that is the process's only
            // thread, as a direct start needs.
            Starter::Direct => self.start_and_supervise(None).await,
            Starter::Spawner(sp) => {
                let sp = Arc::clone(sp);
                self.start_and_supervise(Some(sp)).await
            }
        }
    }

    async fn start_and_supervise(
        self,
        spawner: Option<Arc<Spawner>>,
    ) -> Result<Finished, ProcessError> {
        // All of it blocks, so it goes to the blocking pool in one hop; on a current-thread
        // runtime it runs right here, the process's only thread, as a direct start needs.
        offload(move || self.start_now(spawner)).await
    }

    /// Record the start, start the sandbox, supervise it to its end.
    fn start_now(mut self, spawner: Option<Arc<Spawner>>) -> Result<Finished, ProcessError> {
        // Recorded as running before the sandbox starts, in one step with the check for a
        // cancel requested while it waited for its slot (then it never starts).
        let inner = Arc::clone(&self.inner);
        match inner.store.start(self.id, &inner.owner, inner.lease) {
            Ok(record) => inner.audit(&record, &self.started_by),
            Err(StateError::CancelledBeforeStart(_)) => {
                return self.record_unstarted(SandboxStatus::Stopped, None, true);
            }
            Err(e) => return Err(ProcessError::State(e)),
        }
        let stdin = if self.stdin_task.is_some() {
            Io::Piped
        } else {
            Io::Inherit
        };
        let io = |t: &Option<Terminal>, i: usize, otherwise: Io| match t {
            Some(t) => t.io(i, otherwise),
            None => otherwise,
        };
        let t = &self.attach.terminal;
        let [a, b, c] = [io(t, 0, stdin), io(t, 1, Io::Piped), io(t, 2, Io::Piped)];
        let passed = std::mem::take(&mut self.passed);
        let started = match spawner {
            None => isolation::launch_with_fds(&self.plan, a, b, c, &passed),
            Some(sp) => sp.spawn(&self.plan, a, b, c, &passed),
        };
        let mut sandbox = match started {
            Ok(s) => s,
            Err(e) => {
                let failure = isolation::SetupFailure::new("start", e.to_string(), 0);
                return self.record_unstarted(
                    SandboxStatus::SetupFailed { failure },
                    Some(e),
                    false,
                );
            }
        };
        if let Some(f) = self.attach.signals.take() {
            sandbox.forward_signals(f);
        }
        self.supervise(&mut sandbox)
    }

    /// Record a workflow that never got a sandbox.
    fn record_unstarted(
        self,
        status: SandboxStatus,
        setup_error: Option<isolation::IsolationError>,
        cancelled: bool,
    ) -> Result<Finished, ProcessError> {
        let (st, exit_code, error) = classify(&status, cancelled);
        let outcome = Outcome {
            status: st,
            exit_code,
            error: error.map(|e| sanitized(&self.sanitizer, &e)),
            result: String::new(),
            truncated: false,
            redactions: Default::default(),
            layers: serde_json::Value::Null,
        };
        let record = self.inner.store.finish(self.id, &outcome)?;
        self.inner.audit(&record, &self.started_by);
        Ok(Finished {
            record,
            status,
            setup_error,
        })
    }

    /// Deliver the task, pump the output, renew the lease, obey a cancel, record the end.
    fn supervise(mut self, sandbox: &mut RunningSandbox) -> Result<Finished, ProcessError> {
        let keeper = Arc::new(Mutex::new(OutputKeeper::new(
            Arc::clone(&self.inner.store),
            self.id,
            self.cap,
        )));
        // The task is written while the output is read, so a large task never deadlocks
        // an agent that prints before it has read it all.
        let writer = match (sandbox.take_stdin(), self.stdin_task.take()) {
            (Some(mut pipe), Some(task)) => Some(std::thread::spawn(move || {
                // An agent that exits without reading its task is not an error of ours.
                let _ = pipe.write_all(task.as_bytes());
            })),
            _ => None,
        };
        let mut pumps = Vec::new();
        if let Some(r) = sandbox.take_stdout() {
            pumps.push(pump(
                r,
                self.attach.stdout.take(),
                Arc::clone(&self.sanitizer),
                Arc::clone(&keeper),
            ));
        }
        if let Some(r) = sandbox.take_stderr() {
            pumps.push(pump(
                r,
                self.attach.stderr.take(),
                Arc::clone(&self.sanitizer),
                Arc::clone(&keeper),
            ));
        }
        let mut setup_error = None;
        if let Some(t) = &mut self.attach.terminal {
            t.release_slave();
            // Raw before any output is relayed: the sandbox's terminal has done the output
            // processing already.
            let relay = t.window_sync().and_then(|w| {
                sandbox.set_window_sync(w);
                t.relay_input()?;
                Ok((t.output()?, t.output_target()?))
            });
            match relay {
                Ok((from, to)) => pumps.push(pump(
                    from,
                    Some(Box::new(to)),
                    Arc::clone(&self.sanitizer),
                    Arc::clone(&keeper),
                )),
                Err(e) => {
                    sandbox.kill();
                    setup_error = Some(e);
                }
            }
        }
        if let Err(e) = sandbox.wait_started() {
            setup_error = Some(e);
        }
        let layers = serde_json::to_value(sandbox.report(&self.plan)).unwrap_or_default();
        let mut cancelled = false;
        let renew_every = self.inner.lease / 3;
        let status = loop {
            match sandbox.wait_timeout(renew_every) {
                Ok(Some(status)) => break status,
                Ok(None) => {}
                Err(e) => {
                    setup_error = Some(e);
                    sandbox.kill();
                }
            }
            // Output kept while the store was unreachable goes out as soon as it answers.
            if let Ok(mut k) = keeper.lock()
                && k.has_pending()
            {
                k.flush();
            }
            match self
                .inner
                .store
                .renew_lease(self.id, &self.inner.owner, self.inner.lease)
            {
                Ok(true) if !cancelled => {
                    cancelled = true;
                    sandbox.terminate();
                }
                Ok(_) => {}
                // Someone else ended it (declared lost while we could not renew): what
                // runs must stop, and the verdict stands. A record that is gone (the store
                // was emptied) can no longer be followed or cancelled: what runs stops too.
                Err(
                    StateError::NotOwner { .. }
                    | StateError::InvalidTransition { .. }
                    | StateError::NotFound(_),
                ) => {
                    sandbox.kill();
                }
                // The store is unreachable: the agent goes on; the lease is renewed at the
                // next round.
                Err(_) => {}
            }
        };
        if let Some(w) = writer {
            let _ = w.join();
        }
        let mut redactions = Redactions::default();
        for p in pumps {
            if let Ok(r) = p.join() {
                for (rule, n) in r.0 {
                    *redactions.0.entry(rule).or_default() += n;
                }
            }
        }
        // Everything the sandbox wrote has been shown: the caller's terminal is put back.
        drop(self.attach.terminal.take());
        let mut keeper = Arc::try_unwrap(keeper)
            .map_err(|_| ProcessError::Lost)?
            .into_inner()
            .map_err(|_| ProcessError::Lost)?;
        let (result, truncated) = keeper.finish();
        let (st, exit_code, error) = classify(&status, cancelled);
        let outcome = Outcome {
            status: st,
            exit_code,
            error: error.map(|e| sanitized(&self.sanitizer, &e)),
            result,
            truncated,
            redactions: redactions.0,
            layers,
        };
        let record = self.settle(&mut keeper, &outcome)?;
        self.inner.audit(&record, &self.started_by);
        Ok(Finished {
            record,
            status,
            setup_error,
        })
    }

    /// Store the pending output, then the outcome, retrying while the store is unreachable
    /// (a Redis restart) for up to [`STORE_PATIENCE`]; the final record. A workflow another
    /// process already settled (declared lost) keeps that verdict.
    fn settle(
        &self,
        keeper: &mut OutputKeeper,
        outcome: &Outcome,
    ) -> Result<WorkflowRecord, ProcessError> {
        let store = &self.inner.store;
        let give_up = std::time::Instant::now() + STORE_PATIENCE;
        let mut pause = Duration::from_millis(100);
        let mut told = false;
        loop {
            let error = if keeper.flush() {
                match store.finish(self.id, outcome) {
                    Ok(record) => return Ok(record),
                    Err(StateError::InvalidTransition { .. }) => {
                        return store
                            .get(self.id)?
                            .ok_or(ProcessError::State(StateError::NotFound(self.id)));
                    }
                    Err(e @ (StateError::NotFound(_) | StateError::NotOwner { .. })) => {
                        return Err(ProcessError::State(e));
                    }
                    Err(e) => e.to_string(),
                }
            } else {
                match keeper.store_error() {
                    // Settled by another process (declared lost) while the agent still
                    // printed: that output has no place after the verdict, which stands.
                    Some(StateError::InvalidTransition { .. }) => {
                        return store
                            .get(self.id)?
                            .ok_or(ProcessError::State(StateError::NotFound(self.id)));
                    }
                    Some(StateError::NotFound(_)) => {
                        return Err(ProcessError::State(StateError::NotFound(self.id)));
                    }
                    e => e.map_or_else(|| "output pending".to_owned(), ToString::to_string),
                }
            };
            if std::time::Instant::now() >= give_up {
                return Err(ProcessError::StoreGone { id: self.id, error });
            }
            if !told {
                eprintln!(
                    "mycelium: workflow {}: the workflow store cannot be written ({error}); its output and outcome are kept and written when it answers again",
                    self.id
                );
                told = true;
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_secs(2));
        }
    }
}

/// How long a finished workflow's outcome waits for an unreachable store.
pub const STORE_PATIENCE: Duration = Duration::from_secs(600);
