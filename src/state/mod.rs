//! Workflow state: the [`WorkflowStore`] trait, the records it keeps, and its two backends,
//! SQLite (the embedded default, [`sqlite`]) and Redis ([`redis`]), chosen by configuration
//! only ([`StoreConfig`], [`open_store`]).
//!
//! The store is given text that is already sanitized (the task, output chunks, the result
//! tail, errors): it never sees raw agent output and never sanitizes. Its key invariants:
//! a finished (terminal) status is never overwritten; every id that reaches a key name or
//! an SQL statement is a validated [`WorkflowId`]; a Redis URL's password never appears in
//! an error or in `Debug` output ([`RedisUrl`]).
//!
//! The trait is synchronous. Both client libraries are blocking, every operation is one
//! short round trip (one SQLite transaction, one Redis `EVAL` or `MULTI`/`EXEC`), and the
//! tokio `ProcessManager` calls it through `spawn_blocking`; see docs/architecture.md.

pub mod audit;
pub mod config;
pub mod follow;
pub mod keys;
pub mod redis;
pub mod sqlite;
pub mod view;

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use jiff::Timestamp;

use crate::policy::RiskLevel;

pub use config::{Backend, ProcessSettings, RedisUrl, StoreConfig, redact_url};
pub use follow::{OutputCursor, OutputPiece, follow_output};
pub use view::WorkflowView;

/// How long finished workflows are kept when `state.retention` is not set: 7 days.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(7 * 86_400);

/// The largest output chunk stored as one piece; longer chunks are split at character
/// boundaries.
pub const MAX_CHUNK_BYTES: usize = 16 * 1024;

/// How many output chunks a workflow keeps when `StoreConfig::output_max_chunks` is not
/// set; older chunks are dropped first (so at most 16 MiB of output per workflow).
pub const DEFAULT_OUTPUT_MAX_CHUNKS: u64 = 1024;

/// The error of a running workflow whose owner stopped renewing its lease.
pub const EXECUTOR_LOST: &str = "executor lost";

/// What went wrong in the state store.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// A workflow id is not 32 lowercase hexadecimal digits.
    #[error("invalid workflow id {shown:?}: expected 32 lowercase hexadecimal digits")]
    InvalidId {
        /// The text, cut to a printable length.
        shown: String,
    },
    /// A stored status is not one of the known ones.
    #[error(
        "invalid workflow status {0:?}: expected pending, running, completed, failed, cancelled or timed_out"
    )]
    InvalidStatus(String),
    /// No workflow has this id (it never existed, or retention removed it).
    #[error("no workflow {0}: it does not exist or has expired")]
    NotFound(WorkflowId),
    /// The transition is not allowed from the workflow's current status.
    #[error("workflow {id} is {status}: cannot {action}")]
    InvalidTransition {
        /// The workflow.
        id: WorkflowId,
        /// Its current status.
        status: WorkflowStatus,
        /// What was attempted.
        action: &'static str,
    },
    /// A pending workflow was asked to stop before it started: it is not started.
    #[error("workflow {0} was cancelled before it started")]
    CancelledBeforeStart(WorkflowId),
    /// A lease was renewed by a process that does not own the workflow.
    #[error("workflow {id} is owned by {owner:?}, not by {caller:?}")]
    NotOwner {
        /// The workflow.
        id: WorkflowId,
        /// The recorded owner.
        owner: String,
        /// Who tried.
        caller: String,
    },
    /// The operating system could not give random bytes for a new id.
    #[error("cannot draw random bytes for a workflow id")]
    Random(#[source] getrandom::Error),
    /// A record read back from the store does not parse.
    #[error("workflow {id}: stored field {field} is invalid ({message}); the store may be damaged")]
    Corrupt {
        /// The workflow (as stored).
        id: String,
        /// The field.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
    /// The SQLite database file was written by a newer mycelium.
    #[error(
        "{}: schema version {found} is newer than this mycelium understands ({supported}); upgrade mycelium or move the file away",
        path.display()
    )]
    NewerSchema {
        /// The database file.
        path: PathBuf,
        /// The version in the file.
        found: i64,
        /// The newest version this build knows.
        supported: i64,
    },
    /// The file is an SQLite database, but not mycelium's workflow state.
    #[error("{}: an SQLite database that is not mycelium's workflow state; it was left untouched: move it away or set another MYCELIUM_HOME", path.display())]
    Foreign {
        /// The database file.
        path: PathBuf,
    },
    /// The database file or its directory may be read or changed by another user.
    #[error("{}: {problem}; fix with `chmod {fix_mode} {}`", path.display(), path.display())]
    Insecure {
        /// The file or directory.
        path: PathBuf,
        /// What is wrong.
        problem: String,
        /// The mode to set.
        fix_mode: &'static str,
    },
    /// A file operation on the state directory failed.
    #[error("cannot {op} {}", path.display())]
    Io {
        /// What was attempted.
        op: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// SQLite failed (a damaged file is reported here: it is never repaired or replaced).
    #[error("state database {}: {op} failed; if the file is damaged, move it away (mycelium starts a new one)", path.display())]
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// What was attempted.
        op: &'static str,
        /// The cause.
        #[source]
        source: rusqlite::Error,
    },
    /// Redis failed or cannot be reached.
    #[error("redis at {url}: {op} failed; check that the server runs and the URL is right")]
    Redis {
        /// The server, password redacted.
        url: String,
        /// What was attempted.
        op: &'static str,
        /// The cause.
        #[source]
        source: ::redis::RedisError,
    },
    /// Redis answered something this store did not write.
    #[error(
        "redis at {url}: {op}: unexpected reply ({message}); is another program using the prefix?"
    )]
    RedisReply {
        /// The server, password redacted.
        url: String,
        /// What was attempted.
        op: &'static str,
        /// What was wrong.
        message: String,
    },
    /// A Redis URL given on the command line or in `MYCELIUM_REDIS_URL` cannot be used.
    #[error("{from} = {url}: {message}")]
    BadRedisUrl {
        /// Where it came from (`--redis`, `MYCELIUM_REDIS_URL`).
        from: &'static str,
        /// The URL, password redacted.
        url: String,
        /// What is wrong.
        message: String,
    },
    /// `config.toml`'s `[state]` table is not valid.
    #[error("{}:{line}:{column}: {message}", path.display())]
    Config {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong, with the key.
        message: String,
    },
}

/// A workflow's id: 128 random bits from the operating system, written as 32 lowercase
/// hexadecimal digits. It is a bearer handle: whoever knows it can read and cancel the
/// workflow. Only [`WorkflowId::generate`] and the validating [`FromStr`] make one.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WorkflowId([u8; 16]);

impl WorkflowId {
    /// A fresh id from the operating system's random source (`getrandom(2)`).
    ///
    /// # Errors
    /// [`StateError::Random`] when the kernel gives no random bytes.
    pub fn generate() -> Result<Self, StateError> {
        let mut bytes = [0u8; 16];
        getrandom::fill(&mut bytes).map_err(StateError::Random)?;
        Ok(WorkflowId(bytes))
    }

    /// Parse an id; anything but exactly 32 lowercase hexadecimal digits is refused, so a
    /// parsed id is safe inside a key name or a query.
    ///
    /// # Errors
    /// [`StateError::InvalidId`].
    pub fn parse(text: &str) -> Result<Self, StateError> {
        let invalid = || StateError::InvalidId {
            shown: text.chars().take(64).collect(),
        };
        if text.len() != 32 || !text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(invalid());
        }
        let mut bytes = [0u8; 16];
        hex::decode_to_slice(text, &mut bytes).map_err(|_| invalid())?;
        Ok(WorkflowId(bytes))
    }
}

impl FromStr for WorkflowId {
    type Err = StateError;
    fn from_str(s: &str) -> Result<Self, StateError> {
        WorkflowId::parse(s)
    }
}

impl fmt::Display for WorkflowId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for WorkflowId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WorkflowId({self})")
    }
}

/// Where a workflow is in its life. `pending` → `running` → one of the terminal ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WorkflowStatus {
    /// Recorded, waiting for a slot.
    Pending,
    /// Its sandbox runs.
    Running,
    /// The agent exited 0.
    Completed,
    /// The agent exited non-zero or by a signal, its sandbox could not start, or its
    /// executor was lost.
    Failed,
    /// Someone asked to stop it.
    Cancelled,
    /// It ran past its timeout.
    TimedOut,
}

impl WorkflowStatus {
    /// Every status, in life order.
    pub const ALL: [WorkflowStatus; 6] = [
        WorkflowStatus::Pending,
        WorkflowStatus::Running,
        WorkflowStatus::Completed,
        WorkflowStatus::Failed,
        WorkflowStatus::Cancelled,
        WorkflowStatus::TimedOut,
    ];

    /// `pending`, `running`, `completed`, `failed`, `cancelled` or `timed_out`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            WorkflowStatus::Pending => "pending",
            WorkflowStatus::Running => "running",
            WorkflowStatus::Completed => "completed",
            WorkflowStatus::Failed => "failed",
            WorkflowStatus::Cancelled => "cancelled",
            WorkflowStatus::TimedOut => "timed_out",
        }
    }

    /// Parse the name [`as_str`](Self::as_str) gives.
    ///
    /// # Errors
    /// [`StateError::InvalidStatus`].
    pub fn parse(s: &str) -> Result<Self, StateError> {
        WorkflowStatus::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| StateError::InvalidStatus(s.chars().take(64).collect()))
    }

    /// Whether the workflow has ended; a terminal status is never changed again.
    #[must_use]
    pub fn is_terminal(self) -> bool {
        !matches!(self, WorkflowStatus::Pending | WorkflowStatus::Running)
    }
}

impl fmt::Display for WorkflowStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A workflow to record, as `pending`. Every text is already sanitized by the caller.
#[derive(Debug, Clone, PartialEq)]
pub struct NewWorkflow {
    /// The agent's name.
    pub agent_name: String,
    /// The task, sanitized.
    pub task: String,
    /// The agent's computed risk.
    pub risk_level: RiskLevel,
    /// The consent checksum of the agent's definition and policy.
    pub checksum: String,
}

/// How a workflow ended. Every text is already sanitized by the caller.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// A terminal status; [`WorkflowStore::finish`] refuses `pending` and `running`.
    pub status: WorkflowStatus,
    /// The agent's exit code, when it exited.
    pub exit_code: Option<i32>,
    /// Why it failed, when it did.
    pub error: Option<String>,
    /// The sanitized tail of the output.
    pub result: String,
    /// Whether output was dropped (the result is a tail, or the output cap was reached).
    pub truncated: bool,
    /// How many redactions each sanitizer rule made.
    pub redactions: BTreeMap<String, u64>,
    /// The sandbox report.
    pub layers: serde_json::Value,
}

/// One workflow as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkflowRecord {
    /// Its id.
    pub workflow_id: WorkflowId,
    /// The agent's name.
    pub agent_name: String,
    /// The task, sanitized.
    pub task: String,
    /// Where it is.
    pub status: WorkflowStatus,
    /// The agent's computed risk.
    pub risk_level: RiskLevel,
    /// The consent checksum.
    pub checksum: String,
    /// When it was recorded.
    pub created_at: Timestamp,
    /// When its sandbox started.
    pub started_at: Option<Timestamp>,
    /// When it ended.
    pub completed_at: Option<Timestamp>,
    /// The agent's exit code, when it exited.
    pub exit_code: Option<i32>,
    /// Why it failed.
    pub error: Option<String>,
    /// The sanitized output tail.
    pub result: Option<String>,
    /// Whether output was dropped.
    pub truncated: bool,
    /// Redactions per sanitizer rule.
    pub redactions: BTreeMap<String, u64>,
    /// The sandbox report (JSON `null` until it ends).
    pub layers: serde_json::Value,
    /// The process running it (`host/instance`), once it runs.
    pub owner: Option<String>,
    /// Until when the owner's lease holds.
    pub lease_until: Option<Timestamp>,
    /// Whether someone asked to cancel it.
    pub cancel_requested: bool,
    /// How many output bytes were appended in all (kept or dropped by the cap).
    pub output_bytes: u64,
}

impl WorkflowRecord {
    /// The record of a new pending workflow.
    #[must_use]
    pub fn pending(workflow_id: WorkflowId, new: &NewWorkflow, created_at: Timestamp) -> Self {
        WorkflowRecord {
            workflow_id,
            agent_name: new.agent_name.clone(),
            task: new.task.clone(),
            status: WorkflowStatus::Pending,
            risk_level: new.risk_level,
            checksum: new.checksum.clone(),
            created_at,
            started_at: None,
            completed_at: None,
            exit_code: None,
            error: None,
            result: None,
            truncated: false,
            redactions: BTreeMap::new(),
            layers: serde_json::Value::Null,
            owner: None,
            lease_until: None,
            cancel_requested: false,
            output_bytes: 0,
        }
    }
}

/// The process that runs workflows: its host and an instance name unique on that host,
/// written `host/instance`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner(String);

impl Owner {
    /// This process: the host name, the pid and 32 random bits (a pid is reused).
    ///
    /// # Errors
    /// [`StateError::Random`].
    pub fn this_process() -> Result<Self, StateError> {
        let host = nix::unistd::gethostname()
            .ok()
            .and_then(|h| h.into_string().ok())
            .unwrap_or_else(|| "unknown-host".to_owned());
        let mut salt = [0u8; 4];
        getrandom::fill(&mut salt).map_err(StateError::Random)?;
        Ok(Owner(format!(
            "{host}/{}-{}",
            std::process::id(),
            hex::encode(salt)
        )))
    }

    /// An owner with an explicit name (`host/instance`).
    #[must_use]
    pub fn named(name: &str) -> Self {
        Owner(name.to_owned())
    }

    /// The name as stored.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Which records [`WorkflowStore::list`] returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListFilter {
    /// Only this status.
    pub status: Option<WorkflowStatus>,
    /// At most this many, newest first.
    pub limit: usize,
}

/// A page of a workflow's combined output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputPage {
    /// Where the text starts in the combined output, in bytes. It is later than the
    /// offset asked for when the cap dropped older output, or when the offset fell inside
    /// a character.
    pub offset: u64,
    /// The text.
    pub text: String,
    /// The offset to ask for next.
    pub next_offset: u64,
    /// How many bytes were appended in all so far.
    pub total: u64,
}

/// What happened to a workflow, as published to followers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// It was recorded as pending.
    Created,
    /// Its sandbox started (`running`).
    Started,
    /// Someone asked to cancel it.
    CancelRequested,
    /// It ended with this terminal status.
    Finished(WorkflowStatus),
}

impl EventKind {
    /// The last part of the event message (`created`, `started`, `cancel_requested`, or a
    /// terminal status).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Created => "created",
            EventKind::Started => "started",
            EventKind::CancelRequested => "cancel_requested",
            EventKind::Finished(s) => s.as_str(),
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s {
            "created" => Some(EventKind::Created),
            "started" => Some(EventKind::Started),
            "cancel_requested" => Some(EventKind::CancelRequested),
            other => WorkflowStatus::parse(other)
                .ok()
                .filter(|st| st.is_terminal())
                .map(EventKind::Finished),
        }
    }
}

/// One event: `workflow:<id>:<kind>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkflowEvent {
    /// The workflow.
    pub workflow_id: WorkflowId,
    /// What happened.
    pub kind: EventKind,
}

impl WorkflowEvent {
    /// The message text, `workflow:<id>:<kind>`.
    #[must_use]
    pub fn message(&self) -> String {
        format!("workflow:{}:{}", self.workflow_id, self.kind.as_str())
    }

    /// Parse a message; `None` for anything this store would not have sent.
    #[must_use]
    pub fn parse(message: &str) -> Option<Self> {
        let rest = message.strip_prefix("workflow:")?;
        let (id, kind) = rest.split_once(':')?;
        Some(WorkflowEvent {
            workflow_id: WorkflowId::parse(id).ok()?,
            kind: EventKind::parse(kind)?,
        })
    }
}

/// A follower of the store's events, from the moment it subscribed.
pub trait EventStream: Send {
    /// The next event, waiting at most `timeout`; `None` when none came in time.
    ///
    /// # Errors
    /// A [`StateError`] when the store cannot be read.
    fn next_event(&mut self, timeout: Duration) -> Result<Option<WorkflowEvent>, StateError>;
}

/// The workflow state store. Every method is one short blocking operation (one SQLite
/// transaction or one Redis round trip, except where noted); async callers run it with
/// `spawn_blocking`. Handles are cheap to share (`Send + Sync`); two handles (or two
/// processes) on the same store see each other's writes.
pub trait WorkflowStore: Send + Sync + fmt::Debug {
    /// Record a new workflow as `pending` and publish `created`.
    ///
    /// # Errors
    /// A [`StateError`] when the store cannot be written.
    fn create(&self, new: &NewWorkflow) -> Result<WorkflowRecord, StateError>;

    /// `pending` → `running`, owned by `owner` with a lease of `lease` from now; publishes
    /// `started`. A workflow asked to stop while it waited is left pending (its owner
    /// records it `cancelled`), so the check and the start are one step.
    ///
    /// # Errors
    /// [`StateError::CancelledBeforeStart`] when a cancel was requested,
    /// [`StateError::InvalidTransition`] unless the workflow is pending,
    /// [`StateError::NotFound`].
    fn start(
        &self,
        id: WorkflowId,
        owner: &Owner,
        lease: Duration,
    ) -> Result<WorkflowRecord, StateError>;

    /// `pending` or `running` → the outcome's terminal status; publishes it. Retention
    /// starts now.
    ///
    /// # Errors
    /// [`StateError::InvalidTransition`] when the workflow has already ended (its status
    /// is left as it was) or the outcome's status is not terminal,
    /// [`StateError::NotFound`].
    fn finish(&self, id: WorkflowId, outcome: &Outcome) -> Result<WorkflowRecord, StateError>;

    /// Append sanitized output; chunks longer than [`MAX_CHUNK_BYTES`] are split, and the
    /// oldest chunks beyond the configured cap are dropped.
    ///
    /// # Errors
    /// [`StateError::NotFound`], or a store failure.
    fn append_output(&self, id: WorkflowId, text: &str) -> Result<(), StateError>;

    /// Up to about `limit` bytes of the combined output from `offset`.
    ///
    /// # Errors
    /// [`StateError::NotFound`], or a store failure.
    fn read_output(
        &self,
        id: WorkflowId,
        offset: u64,
        limit: u64,
    ) -> Result<OutputPage, StateError>;

    /// The record, or `None` when there is none.
    ///
    /// # Errors
    /// A store failure, or [`StateError::Corrupt`].
    fn get(&self, id: WorkflowId) -> Result<Option<WorkflowRecord>, StateError>;

    /// Records newest first, filtered.
    ///
    /// # Errors
    /// A store failure, or [`StateError::Corrupt`].
    fn list(&self, filter: &ListFilter) -> Result<Vec<WorkflowRecord>, StateError>;

    /// Ask the owner to cancel a workflow (from any process); publishes
    /// `cancel_requested`. Returns `false` when it has already ended.
    ///
    /// # Errors
    /// [`StateError::NotFound`], or a store failure.
    fn request_cancel(&self, id: WorkflowId) -> Result<bool, StateError>;

    /// Extend the owner's lease to `lease` from now. Returns whether a cancel was
    /// requested, so the owner learns of it at each renewal.
    ///
    /// # Errors
    /// [`StateError::NotOwner`], [`StateError::InvalidTransition`] when it is not running,
    /// [`StateError::NotFound`].
    fn renew_lease(
        &self,
        id: WorkflowId,
        owner: &Owner,
        lease: Duration,
    ) -> Result<bool, StateError>;

    /// Mark every running workflow whose lease ended before `now` as `failed` with error
    /// [`EXECUTOR_LOST`]; returns their ids. Several round trips.
    ///
    /// # Errors
    /// A store failure.
    fn recover_lost(&self, now: Timestamp) -> Result<Vec<WorkflowId>, StateError>;

    /// Remove finished workflows that ended longer than the retention before `now`;
    /// returns how many. (Redis also expires them by itself.) Several round trips.
    ///
    /// # Errors
    /// A store failure.
    fn sweep(&self, now: Timestamp) -> Result<usize, StateError>;

    /// Follow events from now on.
    ///
    /// # Errors
    /// A store failure.
    fn subscribe(&self) -> Result<Box<dyn EventStream>, StateError>;
}

/// Open the store the configuration names (SQLite unless a Redis URL is configured).
///
/// # Errors
/// A [`StateError`] when the store cannot be opened or reached.
pub fn open_store(config: &StoreConfig) -> Result<Box<dyn WorkflowStore>, StateError> {
    match &config.backend {
        Backend::Sqlite { path } => Ok(Box::new(sqlite::SqliteStore::open(path, config)?)),
        Backend::Redis { url, prefix } => {
            Ok(Box::new(redis::RedisStore::open(url, prefix, config)?))
        }
    }
}

/// Split text into pieces of at most [`MAX_CHUNK_BYTES`], at character boundaries.
pub(crate) fn split_chunks(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let mut end = rest.len().min(MAX_CHUNK_BYTES);
        while !rest.is_char_boundary(end) {
            end -= 1;
        }
        let (piece, tail) = rest.split_at(end);
        out.push(piece);
        rest = tail;
    }
    out
}

/// Assemble a page from chunks `(start offset, text)` in order, the first of which may
/// start before `offset`.
pub(crate) fn assemble_page(
    chunks: &[(u64, String)],
    offset: u64,
    limit: u64,
    total: u64,
) -> OutputPage {
    let mut text = String::new();
    let mut start: Option<u64> = None;
    let mut end = offset
        .max(chunks.first().map_or(offset, |c| c.0))
        .min(total);
    for (off, chunk) in chunks {
        let chunk_end = off + chunk.len() as u64;
        if chunk_end <= offset {
            continue;
        }
        // Appended after `total` was read: left for the next page, so a page never runs
        // past the total it reports.
        if chunk_end > total {
            break;
        }
        if start.is_some() && text.len() as u64 >= limit {
            break;
        }
        // Where in this chunk to begin: at the offset, moved forward to a character
        // boundary, or at the chunk's start when the cap dropped the bytes before it.
        let mut from = usize::try_from(offset.saturating_sub(*off)).unwrap_or(usize::MAX);
        from = from.min(chunk.len());
        while !chunk.is_char_boundary(from) {
            from += 1;
        }
        let room = usize::try_from(limit.saturating_sub(text.len() as u64)).unwrap_or(usize::MAX);
        let mut to = from.saturating_add(room).min(chunk.len());
        while !chunk.is_char_boundary(to) {
            to += 1;
        }
        if start.is_none() {
            start = Some(off + from as u64);
        }
        text.push_str(&chunk[from..to]);
        end = off + to as u64;
        if to < chunk.len() {
            break;
        }
    }
    OutputPage {
        offset: start.unwrap_or(end),
        text,
        next_offset: end,
        total,
    }
}

/// The time as stored: RFC 3339 in UTC, microseconds.
pub(crate) fn format_time(t: Timestamp) -> String {
    t.round(jiff::Unit::Microsecond).unwrap_or(t).to_string()
}

/// `now + d`, saturating at the largest time jiff holds.
pub(crate) fn add_duration(now: Timestamp, d: Duration) -> Timestamp {
    jiff::SignedDuration::try_from(d)
        .ok()
        .and_then(|sd| now.checked_add(sd).ok())
        .unwrap_or(Timestamp::MAX)
}

/// `now - d`, saturating at the smallest time jiff holds.
pub(crate) fn sub_duration(now: Timestamp, d: Duration) -> Timestamp {
    jiff::SignedDuration::try_from(d)
        .ok()
        .and_then(|sd| now.checked_sub(sd).ok())
        .unwrap_or(Timestamp::MIN)
}

/// Parse a stored time.
pub(crate) fn parse_time(
    id: &str,
    field: &'static str,
    text: &str,
) -> Result<Timestamp, StateError> {
    text.parse().map_err(|e: jiff::Error| StateError::Corrupt {
        id: id.to_owned(),
        field,
        message: e.to_string(),
    })
}

/// The current time, at the precision stored.
pub(crate) fn now() -> Timestamp {
    Timestamp::now()
        .round(jiff::Unit::Microsecond)
        .unwrap_or_else(|_| Timestamp::now())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_are_32_lowercase_hex_and_parse_back() {
        let a = WorkflowId::generate().unwrap();
        let b = WorkflowId::generate().unwrap();
        assert_ne!(a, b);
        let text = a.to_string();
        assert_eq!(text.len(), 32);
        assert!(
            text.bytes()
                .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
        );
        assert_eq!(WorkflowId::parse(&text).unwrap(), a);
    }

    #[test]
    fn ids_that_could_escape_a_key_or_query_are_refused() {
        let good = "0123456789abcdef0123456789abcdef";
        assert!(WorkflowId::parse(good).is_ok());
        for bad in [
            "",
            "0123456789ABCDEF0123456789ABCDEF",
            "0123456789abcdef0123456789abcde",
            "0123456789abcdef0123456789abcdef0",
            "0123456789abcdef0123456789abcde*",
            "0123456789abcdef:123456789abcdef",
            "x' OR '1'='1'--0123456789abcdef0",
            "0123456789abcdef0123456789abcdé",
        ] {
            let e = WorkflowId::parse(bad).unwrap_err();
            assert!(matches!(e, StateError::InvalidId { .. }), "{bad:?}");
        }
    }

    #[test]
    fn owners_name_the_host_and_differ_per_instance() {
        let a = Owner::this_process().unwrap();
        let b = Owner::this_process().unwrap();
        assert_ne!(a, b);
        let (host, instance) = a.as_str().split_once('/').unwrap();
        assert!(!host.is_empty());
        assert!(instance.starts_with(&format!("{}-", std::process::id())));
    }

    #[test]
    fn events_round_trip_and_foreign_messages_are_ignored() {
        let id = WorkflowId::generate().unwrap();
        for kind in [
            EventKind::Created,
            EventKind::Started,
            EventKind::CancelRequested,
            EventKind::Finished(WorkflowStatus::TimedOut),
        ] {
            let ev = WorkflowEvent {
                workflow_id: id,
                kind,
            };
            assert_eq!(WorkflowEvent::parse(&ev.message()), Some(ev));
        }
        assert_eq!(
            WorkflowEvent::parse(&format!("workflow:{id}:running")),
            None
        );
        assert_eq!(WorkflowEvent::parse("workflow:nothex:started"), None);
    }

    #[test]
    fn long_chunks_split_at_character_boundaries() {
        let text = "é".repeat(MAX_CHUNK_BYTES);
        let pieces = split_chunks(&text);
        assert_eq!(pieces.concat(), text);
        assert!(pieces.iter().all(|p| p.len() <= MAX_CHUNK_BYTES));
    }

    #[test]
    fn pages_never_split_a_character() {
        let chunks = vec![(0, "aé".to_owned()), (3, "bc".to_owned())];
        let p = assemble_page(&chunks, 2, 10, 5);
        assert_eq!((p.offset, p.text.as_str(), p.next_offset), (3, "bc", 5));
        let p = assemble_page(&chunks, 0, 2, 5);
        assert_eq!((p.offset, p.text.as_str(), p.next_offset), (0, "aé", 3));
        let p = assemble_page(&chunks, 5, 10, 5);
        assert_eq!((p.offset, p.text.as_str(), p.next_offset), (5, "", 5));
    }
}
