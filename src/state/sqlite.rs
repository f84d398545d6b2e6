//! The embedded backend: one SQLite file, `$MYCELIUM_HOME/state.db`, created with mode
//! 0600, in WAL mode so that a second process (the CLI) reads while the server writes.
//!
//! Durability: `synchronous = NORMAL` in WAL mode. A transaction is appended to the WAL and
//! fsync'd at checkpoints, not at every commit: a power loss or kernel crash may lose the
//! last committed transitions, but the database is never corrupted (SQLite's WAL
//! guarantee). A crash of mycelium alone loses nothing committed. Every transition is one
//! `BEGIN IMMEDIATE` transaction that checks the current status before it writes, so a
//! terminal status is never overwritten, whichever process tries.
//!
//! Followers: every transition also appends its event message to the `events` table; a
//! subscriber polls for rows past the last sequence number it saw (a version counter).
//! A damaged or foreign file is an error: it is never repaired, replaced or written.

use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use jiff::Timestamp;
use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior, params};

use super::{
    EXECUTOR_LOST, EventKind, EventStream, ListFilter, NewWorkflow, Outcome, OutputPage, Owner,
    StateError, StoreConfig, WorkflowEvent, WorkflowId, WorkflowRecord, WorkflowStatus,
    WorkflowStore, add_duration, assemble_page, format_time, now, parse_time, split_chunks,
    sub_duration,
};
use crate::policy::RiskLevel;

/// The schema version this build writes and reads (`PRAGMA user_version`).
pub const SCHEMA_VERSION: i64 = 1;

/// `PRAGMA application_id`: "MYCL", so a foreign SQLite file is recognised and left alone.
const APPLICATION_ID: i64 = 0x4d59_434c;

/// How long a writer waits for another process's write transaction.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// How often a follower looks for new events.
const POLL_INTERVAL: Duration = Duration::from_millis(20);

/// Events kept for followers; older ones are pruned when a workflow finishes.
const EVENTS_KEPT: i64 = 10_000;

const SCHEMA: &str = "
CREATE TABLE workflows (
    n INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    agent_name TEXT NOT NULL,
    task TEXT NOT NULL,
    status TEXT NOT NULL,
    risk_level TEXT NOT NULL,
    checksum TEXT NOT NULL,
    created_at TEXT NOT NULL,
    started_at TEXT,
    completed_at TEXT,
    completed_us INTEGER,
    exit_code INTEGER,
    error TEXT,
    result TEXT,
    truncated INTEGER NOT NULL DEFAULT 0,
    redactions TEXT NOT NULL DEFAULT '{}',
    layers TEXT NOT NULL DEFAULT 'null',
    owner TEXT,
    lease_until TEXT,
    lease_until_us INTEGER,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    output_bytes INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX workflows_by_status ON workflows (status, n);
CREATE TABLE output (
    workflow_id TEXT NOT NULL,
    off INTEGER NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (workflow_id, off)
) WITHOUT ROWID;
CREATE TABLE events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    message TEXT NOT NULL
);
";

const COLUMNS: &str = "id, agent_name, task, status, risk_level, checksum, created_at, \
    started_at, completed_at, exit_code, error, result, truncated, redactions, layers, owner, \
    lease_until, cancel_requested, output_bytes";

/// The SQLite store. One connection behind a mutex; open a second store (or run a second
/// process) for a second connection.
pub struct SqliteStore {
    conn: Mutex<Connection>,
    path: PathBuf,
    retention: Duration,
    max_chunks: u64,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Open (or create, mode 0600, in a 0700 directory it creates if missing) the
    /// database at `path`.
    ///
    /// # Errors
    /// [`StateError::Insecure`] when the file is another user's or others may read it,
    /// [`StateError::NewerSchema`], [`StateError::Sqlite`] for a damaged or foreign file,
    /// [`StateError::Io`].
    pub fn open(path: &Path, config: &StoreConfig) -> Result<Self, StateError> {
        create_file(path)?;
        let conn = connect(path)?;
        // Whose file this is, read before anything is written: switching to WAL already
        // rewrites the header of a database that is someone else's.
        check_identity(&conn, path)?;
        enable_wal(&conn, path)?;
        let store = SqliteStore {
            conn: Mutex::new(conn),
            path: path.to_owned(),
            retention: config.retention,
            max_chunks: config.output_max_chunks,
        };
        store.migrate()?;
        Ok(store)
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves no half-done SQL: the transaction rolls
        // back on drop. The connection itself stays usable.
        self.conn
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn err(&self, op: &'static str) -> impl FnOnce(rusqlite::Error) -> StateError + '_ {
        move |source| StateError::Sqlite {
            path: self.path.clone(),
            op,
            source,
        }
    }

    fn migrate(&self) -> Result<(), StateError> {
        let mut conn = self.lock();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(self.err("read the schema version"))?;
        // Checked again inside the write transaction: another process may have created
        // the schema since.
        let version = check_identity(&tx, &self.path)?;
        if version == 0 {
            tx.execute_batch(SCHEMA)
                .map_err(self.err("create the schema"))?;
            tx.execute_batch(&format!(
                "PRAGMA application_id = {APPLICATION_ID}; PRAGMA user_version = {SCHEMA_VERSION};"
            ))
            .map_err(self.err("record the schema version"))?;
        }
        tx.commit().map_err(self.err("create the schema"))
    }

    fn status_of(
        &self,
        tx: &rusqlite::Transaction<'_>,
        id: WorkflowId,
    ) -> Result<WorkflowStatus, StateError> {
        self.status_and_cancel(tx, id).map(|(status, _)| status)
    }

    /// The workflow's status and whether a cancel was requested, in one read.
    fn status_and_cancel(
        &self,
        tx: &rusqlite::Transaction<'_>,
        id: WorkflowId,
    ) -> Result<(WorkflowStatus, bool), StateError> {
        let row: Option<(String, bool)> = tx
            .cached_row(
                "SELECT status, cancel_requested FROM workflows WHERE id = ?1",
                [id.to_string()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(self.err("read a workflow"))?;
        match row {
            Some((s, cancel)) => Ok((WorkflowStatus::parse(&s)?, cancel)),
            None => Err(StateError::NotFound(id)),
        }
    }

    fn get_in(
        &self,
        conn: &Connection,
        id: WorkflowId,
    ) -> Result<Option<WorkflowRecord>, StateError> {
        let row = conn
            .cached_row(
                &format!("SELECT {COLUMNS} FROM workflows WHERE id = ?1"),
                [id.to_string()],
                RawRow::read,
            )
            .optional()
            .map_err(self.err("read a workflow"))?;
        row.map(RawRow::into_record).transpose()
    }

    fn must_get(&self, conn: &Connection, id: WorkflowId) -> Result<WorkflowRecord, StateError> {
        self.get_in(conn, id)?.ok_or(StateError::NotFound(id))
    }
}

/// Create the file with mode 0600 (the mode is given at creation, never widened by a
/// later chmod) in a 0700 directory, not following a link, and check whose it is.
fn create_file(path: &Path) -> Result<(), StateError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|source| StateError::Io {
                op: "create the state directory",
                path: dir.to_owned(),
                source,
            })?;
    }
    // The directory decides what the name refers to between this check and SQLite's own
    // open (and where the -wal and -shm files appear): it must be ours alone to change.
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        let meta = std::fs::metadata(dir).map_err(|source| StateError::Io {
            op: "inspect",
            path: dir.to_owned(),
            source,
        })?;
        let me = nix::unistd::geteuid().as_raw();
        if meta.uid() != me || meta.mode() & 0o022 != 0 {
            return Err(StateError::Insecure {
                path: dir.to_owned(),
                problem: format!(
                    "the directory of the workflow database must be changeable by uid {me} alone (it is mode {:o}, uid {})",
                    meta.mode() & 0o7777,
                    meta.uid()
                ),
                fix_mode: "700",
            });
        }
    }
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
        .map_err(|source| StateError::Io {
            op: "open",
            path: path.to_owned(),
            source,
        })?;
    let meta = file.metadata().map_err(|source| StateError::Io {
        op: "inspect",
        path: path.to_owned(),
        source,
    })?;
    let me = nix::unistd::geteuid().as_raw();
    if !meta.is_file() || meta.uid() != me || meta.mode() & 0o077 != 0 {
        return Err(StateError::Insecure {
            path: path.to_owned(),
            problem: format!(
                "the workflow database must be a regular file of uid {me} that only it can read (it is mode {:o}, uid {})",
                meta.mode() & 0o7777,
                meta.uid()
            ),
            fix_mode: "600",
        });
    }
    Ok(())
}

/// A connection to an existing file (never creating one: [`create_file`] did, with the
/// mode), with a busy timeout and `synchronous = NORMAL`.
fn connect(path: &Path) -> Result<Connection, StateError> {
    let err = |op: &'static str| {
        move |source| StateError::Sqlite {
            path: path.to_owned(),
            op,
            source,
        }
    };
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(err("open"))?;
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(err("set the busy timeout"))?;
    conn.execute_batch("PRAGMA synchronous = NORMAL;")
        .map_err(err("set synchronous = NORMAL"))?;
    // Every statement the store runs stays prepared.
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}

/// The file's schema version, after checking that it is mycelium's state (or empty) and
/// not newer than this build. Only reads.
fn check_identity(conn: &Connection, path: &Path) -> Result<i64, StateError> {
    let err = |op: &'static str| {
        move |source| StateError::Sqlite {
            path: path.to_owned(),
            op,
            source,
        }
    };
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(err("read the schema version"))?;
    let app: i64 = conn
        .query_row("PRAGMA application_id", [], |r| r.get(0))
        .map_err(err("read the application id"))?;
    let tables: i64 = conn
        .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
        .map_err(err("read the schema"))?;
    if app != APPLICATION_ID && (tables != 0 || version != 0) {
        return Err(StateError::Foreign {
            path: path.to_owned(),
        });
    }
    if version > SCHEMA_VERSION {
        return Err(StateError::NewerSchema {
            path: path.to_owned(),
            found: version,
            supported: SCHEMA_VERSION,
        });
    }
    Ok(version)
}

/// Switch the file to WAL mode (persistent: recorded in the file).
fn enable_wal(conn: &Connection, path: &Path) -> Result<(), StateError> {
    let mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
        .map_err(|source| StateError::Sqlite {
            path: path.to_owned(),
            op: "switch to WAL mode",
            source,
        })?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StateError::Sqlite {
            path: path.to_owned(),
            op: "switch to WAL mode",
            source: rusqlite::Error::InvalidQuery,
        });
    }
    Ok(())
}

fn micros(t: Timestamp) -> i64 {
    t.as_microsecond()
}

/// Run `sql` through the connection's statement cache: the same few statements run at
/// every transition, and preparing one costs as much as running it.
fn cached(conn: &Connection, sql: &str, params: impl rusqlite::Params) -> rusqlite::Result<usize> {
    conn.prepare_cached(sql)?.execute(params)
}

/// [`Connection::query_row`] through the statement cache (see [`cached`]).
trait CachedRow {
    /// The first row of `sql`, mapped by `f`.
    fn cached_row<T>(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
        f: impl FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> rusqlite::Result<T>;
}

impl CachedRow for Connection {
    fn cached_row<T>(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
        f: impl FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> rusqlite::Result<T> {
        self.prepare_cached(sql)?.query_row(params, f)
    }
}

fn insert_event(tx: &rusqlite::Transaction<'_>, ev: WorkflowEvent) -> rusqlite::Result<()> {
    cached(
        tx,
        "INSERT INTO events (message) VALUES (?1)",
        [ev.message()],
    )
    .map(|_| ())
}

impl WorkflowStore for SqliteStore {
    fn create(&self, new: &NewWorkflow) -> Result<WorkflowRecord, StateError> {
        let id = WorkflowId::generate()?;
        let record = WorkflowRecord::pending(id, new, now());
        let mut conn = self.lock();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(self.err("record a workflow"))?;
        cached(
            &tx,
            "INSERT INTO workflows (id, agent_name, task, status, risk_level, checksum, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                id.to_string(),
                record.agent_name,
                record.task,
                record.status.as_str(),
                record.risk_level.as_str(),
                record.checksum,
                format_time(record.created_at),
            ],
        )
        .map_err(self.err("record a workflow"))?;
        insert_event(
            &tx,
            WorkflowEvent {
                workflow_id: id,
                kind: EventKind::Created,
            },
        )
        .map_err(self.err("record a workflow"))?;
        tx.commit().map_err(self.err("record a workflow"))?;
        Ok(record)
    }

    fn start(
        &self,
        id: WorkflowId,
        owner: &Owner,
        lease: Duration,
    ) -> Result<WorkflowRecord, StateError> {
        let mut conn = self.lock();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(self.err("start a workflow"))?;
        let (status, cancel) = self.status_and_cancel(&tx, id)?;
        if status != WorkflowStatus::Pending {
            return Err(StateError::InvalidTransition {
                id,
                status,
                action: "start it",
            });
        }
        if cancel {
            return Err(StateError::CancelledBeforeStart(id));
        }
        let at = now();
        let until = add_duration(at, lease);
        cached(
            &tx,
            "UPDATE workflows SET status = 'running', started_at = ?2, owner = ?3,
             lease_until = ?4, lease_until_us = ?5 WHERE id = ?1",
            params![
                id.to_string(),
                format_time(at),
                owner.as_str(),
                format_time(until),
                micros(until)
            ],
        )
        .map_err(self.err("start a workflow"))?;
        insert_event(
            &tx,
            WorkflowEvent {
                workflow_id: id,
                kind: EventKind::Started,
            },
        )
        .map_err(self.err("start a workflow"))?;
        let record = self.must_get(&tx, id)?;
        tx.commit().map_err(self.err("start a workflow"))?;
        Ok(record)
    }

    fn finish(&self, id: WorkflowId, outcome: &Outcome) -> Result<WorkflowRecord, StateError> {
        let mut conn = self.lock();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(self.err("finish a workflow"))?;
        let status = self.status_of(&tx, id)?;
        if status.is_terminal() || !outcome.status.is_terminal() {
            return Err(StateError::InvalidTransition {
                id,
                status,
                action: if outcome.status.is_terminal() {
                    "finish it again"
                } else {
                    "finish it with a status that is not final"
                },
            });
        }
        let at = now();
        let redactions = serde_json::to_string(&outcome.redactions).unwrap_or_default();
        cached(
            &tx,
            "UPDATE workflows SET status = ?2, completed_at = ?3, completed_us = ?4,
             exit_code = ?5, error = ?6, result = ?7, truncated = ?8, redactions = ?9,
             layers = ?10, lease_until = NULL, lease_until_us = NULL WHERE id = ?1",
            params![
                id.to_string(),
                outcome.status.as_str(),
                format_time(at),
                micros(at),
                outcome.exit_code,
                outcome.error,
                outcome.result,
                outcome.truncated,
                redactions,
                outcome.layers.to_string(),
            ],
        )
        .map_err(self.err("finish a workflow"))?;
        insert_event(
            &tx,
            WorkflowEvent {
                workflow_id: id,
                kind: EventKind::Finished(outcome.status),
            },
        )
        .map_err(self.err("finish a workflow"))?;
        cached(
            &tx,
            "DELETE FROM events WHERE seq <= (SELECT max(seq) FROM events) - ?1",
            [EVENTS_KEPT],
        )
        .map_err(self.err("prune old events"))?;
        let record = self.must_get(&tx, id)?;
        tx.commit().map_err(self.err("finish a workflow"))?;
        Ok(record)
    }

    fn append_output(&self, id: WorkflowId, text: &str) -> Result<(), StateError> {
        if text.is_empty() {
            return Ok(());
        }
        let mut conn = self.lock();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(self.err("append output"))?;
        let key = id.to_string();
        let status = self.status_of(&tx, id)?;
        if status.is_terminal() {
            return Err(StateError::InvalidTransition {
                id,
                status,
                action: "append output",
            });
        }
        let mut total: i64 = tx
            .cached_row(
                "SELECT output_bytes FROM workflows WHERE id = ?1",
                [&key],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.err("append output"))?
            .ok_or(StateError::NotFound(id))?;
        for piece in split_chunks(text) {
            cached(
                &tx,
                "INSERT INTO output (workflow_id, off, data) VALUES (?1, ?2, ?3)",
                params![key, total, piece],
            )
            .map_err(self.err("append output"))?;
            total = total.saturating_add(i64::try_from(piece.len()).unwrap_or(i64::MAX));
        }
        cached(
            &tx,
            "UPDATE workflows SET output_bytes = ?2 WHERE id = ?1",
            params![key, total],
        )
        .map_err(self.err("append output"))?;
        // The cap: keep the newest `max_chunks` chunks.
        cached(
            &tx,
            "DELETE FROM output WHERE workflow_id = ?1 AND off < (
                 SELECT off FROM output WHERE workflow_id = ?1
                 ORDER BY off DESC LIMIT 1 OFFSET ?2)",
            params![
                key,
                i64::try_from(self.max_chunks.max(1) - 1).unwrap_or(i64::MAX)
            ],
        )
        .map_err(self.err("cap the output"))?;
        tx.commit().map_err(self.err("append output"))
    }

    fn read_output(
        &self,
        id: WorkflowId,
        offset: u64,
        limit: u64,
    ) -> Result<OutputPage, StateError> {
        let conn = self.lock();
        let key = id.to_string();
        let total: i64 = conn
            .cached_row(
                "SELECT output_bytes FROM workflows WHERE id = ?1",
                [&key],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.err("read output"))?
            .ok_or(StateError::NotFound(id))?;
        let from = i64::try_from(offset).unwrap_or(i64::MAX);
        let mut chunks = Vec::new();
        let mut bytes: u64 = 0;
        // The chunk holding `offset` (the newest one starting at or before it) and those
        // after it, until the limit is covered.
        let mut stmt = conn
            .prepare_cached(
                "SELECT off, data FROM output WHERE workflow_id = ?1 AND off >= coalesce(
                     (SELECT max(off) FROM output WHERE workflow_id = ?1 AND off <= ?2), 0)
                 ORDER BY off",
            )
            .map_err(self.err("read output"))?;
        let mut rows = stmt
            .query(params![key, from])
            .map_err(self.err("read output"))?;
        while let Some(row) = rows.next().map_err(self.err("read output"))? {
            let off: i64 = row.get(0).map_err(self.err("read output"))?;
            let data: String = row.get(1).map_err(self.err("read output"))?;
            bytes += data.len() as u64;
            chunks.push((u64::try_from(off).unwrap_or(0), data));
            if bytes >= limit.saturating_add(crate::state::MAX_CHUNK_BYTES as u64) {
                break;
            }
        }
        Ok(assemble_page(
            &chunks,
            offset,
            limit,
            u64::try_from(total).unwrap_or(0),
        ))
    }

    fn get(&self, id: WorkflowId) -> Result<Option<WorkflowRecord>, StateError> {
        let conn = self.lock();
        self.get_in(&conn, id)
    }

    fn list(&self, filter: &ListFilter) -> Result<Vec<WorkflowRecord>, StateError> {
        let conn = self.lock();
        let limit = i64::try_from(filter.limit).unwrap_or(i64::MAX);
        let mut stmt = conn
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM workflows WHERE (?1 IS NULL OR status = ?1)
                 ORDER BY n DESC LIMIT ?2"
            ))
            .map_err(self.err("list workflows"))?;
        let rows = stmt
            .query_map(
                params![filter.status.map(WorkflowStatus::as_str), limit],
                RawRow::read,
            )
            .map_err(self.err("list workflows"))?;
        let mut out = Vec::new();
        for row in rows {
            out.push(row.map_err(self.err("list workflows"))?.into_record()?);
        }
        Ok(out)
    }

    fn request_cancel(&self, id: WorkflowId) -> Result<bool, StateError> {
        let mut conn = self.lock();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(self.err("request a cancel"))?;
        if self.status_of(&tx, id)?.is_terminal() {
            return Ok(false);
        }
        cached(
            &tx,
            "UPDATE workflows SET cancel_requested = 1 WHERE id = ?1",
            [id.to_string()],
        )
        .map_err(self.err("request a cancel"))?;
        insert_event(
            &tx,
            WorkflowEvent {
                workflow_id: id,
                kind: EventKind::CancelRequested,
            },
        )
        .map_err(self.err("request a cancel"))?;
        tx.commit().map_err(self.err("request a cancel"))?;
        Ok(true)
    }

    fn renew_lease(
        &self,
        id: WorkflowId,
        owner: &Owner,
        lease: Duration,
    ) -> Result<bool, StateError> {
        let mut conn = self.lock();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(self.err("renew a lease"))?;
        let record = self.must_get(&tx, id)?;
        if record.status != WorkflowStatus::Running {
            return Err(StateError::InvalidTransition {
                id,
                status: record.status,
                action: "renew its lease",
            });
        }
        if record.owner.as_deref() != Some(owner.as_str()) {
            return Err(StateError::NotOwner {
                id,
                owner: record.owner.unwrap_or_default(),
                caller: owner.as_str().to_owned(),
            });
        }
        let until = add_duration(now(), lease);
        cached(
            &tx,
            "UPDATE workflows SET lease_until = ?2, lease_until_us = ?3 WHERE id = ?1",
            params![id.to_string(), format_time(until), micros(until)],
        )
        .map_err(self.err("renew a lease"))?;
        tx.commit().map_err(self.err("renew a lease"))?;
        Ok(record.cancel_requested)
    }

    fn recover_lost(&self, at: Timestamp) -> Result<Vec<WorkflowId>, StateError> {
        let mut conn = self.lock();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(self.err("recover lost workflows"))?;
        let ids: Vec<String> = {
            let mut stmt = tx
                .prepare_cached(
                    "SELECT id FROM workflows WHERE status = 'running' AND lease_until_us < ?1",
                )
                .map_err(self.err("recover lost workflows"))?;
            let rows = stmt
                .query_map([micros(at)], |r| r.get(0))
                .map_err(self.err("recover lost workflows"))?;
            rows.collect::<Result<_, _>>()
                .map_err(self.err("recover lost workflows"))?
        };
        let mut lost = Vec::new();
        for text in ids {
            let id = WorkflowId::parse(&text)?;
            cached(
                &tx,
                "UPDATE workflows SET status = 'failed', error = ?2, completed_at = ?3,
                 completed_us = ?4, lease_until = NULL, lease_until_us = NULL WHERE id = ?1",
                params![text, EXECUTOR_LOST, format_time(at), micros(at)],
            )
            .map_err(self.err("recover lost workflows"))?;
            insert_event(
                &tx,
                WorkflowEvent {
                    workflow_id: id,
                    kind: EventKind::Finished(WorkflowStatus::Failed),
                },
            )
            .map_err(self.err("recover lost workflows"))?;
            lost.push(id);
        }
        tx.commit().map_err(self.err("recover lost workflows"))?;
        Ok(lost)
    }

    fn sweep(&self, at: Timestamp) -> Result<usize, StateError> {
        let cutoff = micros(sub_duration(at, self.retention));
        let mut conn = self.lock();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(self.err("remove old workflows"))?;
        cached(
            &tx,
            "DELETE FROM output WHERE workflow_id IN
                 (SELECT id FROM workflows WHERE completed_us IS NOT NULL AND completed_us < ?1)",
            [cutoff],
        )
        .map_err(self.err("remove old workflows"))?;
        let n = tx
            .execute(
                "DELETE FROM workflows WHERE completed_us IS NOT NULL AND completed_us < ?1",
                [cutoff],
            )
            .map_err(self.err("remove old workflows"))?;
        tx.commit().map_err(self.err("remove old workflows"))?;
        Ok(n)
    }

    fn subscribe(&self) -> Result<Box<dyn EventStream>, StateError> {
        let conn = connect(&self.path)?;
        let last: i64 = conn
            .query_row("SELECT coalesce(max(seq), 0) FROM events", [], |r| r.get(0))
            .map_err(self.err("follow events"))?;
        Ok(Box::new(SqliteEvents {
            conn,
            path: self.path.clone(),
            last,
            queue: std::collections::VecDeque::new(),
        }))
    }
}

/// A follower: its own connection, and the last event sequence number it has seen.
struct SqliteEvents {
    conn: Connection,
    path: PathBuf,
    last: i64,
    queue: std::collections::VecDeque<WorkflowEvent>,
}

impl SqliteEvents {
    fn poll(&mut self) -> Result<(), StateError> {
        let err = |source| StateError::Sqlite {
            path: self.path.clone(),
            op: "follow events",
            source,
        };
        let mut stmt = self
            .conn
            .prepare_cached("SELECT seq, message FROM events WHERE seq > ?1 ORDER BY seq")
            .map_err(err)?;
        let rows = stmt
            .query_map([self.last], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
            })
            .map_err(|source| StateError::Sqlite {
                path: self.path.clone(),
                op: "follow events",
                source,
            })?;
        for row in rows {
            let (seq, message) = row.map_err(|source| StateError::Sqlite {
                path: self.path.clone(),
                op: "follow events",
                source,
            })?;
            self.last = seq;
            if let Some(ev) = WorkflowEvent::parse(&message) {
                self.queue.push_back(ev);
            }
        }
        Ok(())
    }
}

impl EventStream for SqliteEvents {
    fn next_event(&mut self, timeout: Duration) -> Result<Option<WorkflowEvent>, StateError> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(ev) = self.queue.pop_front() {
                return Ok(Some(ev));
            }
            self.poll()?;
            if !self.queue.is_empty() {
                continue;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            std::thread::sleep(left.min(POLL_INTERVAL));
        }
    }
}

/// A row as SQLite gives it, before validation.
struct RawRow {
    id: String,
    agent_name: String,
    task: String,
    status: String,
    risk_level: String,
    checksum: String,
    created_at: String,
    started_at: Option<String>,
    completed_at: Option<String>,
    exit_code: Option<i32>,
    error: Option<String>,
    result: Option<String>,
    truncated: bool,
    redactions: String,
    layers: String,
    owner: Option<String>,
    lease_until: Option<String>,
    cancel_requested: bool,
    output_bytes: i64,
}

impl RawRow {
    fn read(r: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(RawRow {
            id: r.get(0)?,
            agent_name: r.get(1)?,
            task: r.get(2)?,
            status: r.get(3)?,
            risk_level: r.get(4)?,
            checksum: r.get(5)?,
            created_at: r.get(6)?,
            started_at: r.get(7)?,
            completed_at: r.get(8)?,
            exit_code: r.get(9)?,
            error: r.get(10)?,
            result: r.get(11)?,
            truncated: r.get(12)?,
            redactions: r.get(13)?,
            layers: r.get(14)?,
            owner: r.get(15)?,
            lease_until: r.get(16)?,
            cancel_requested: r.get(17)?,
            output_bytes: r.get(18)?,
        })
    }

    fn into_record(self) -> Result<WorkflowRecord, StateError> {
        let id = self.id;
        let corrupt = |field: &'static str, message: String| StateError::Corrupt {
            id: id.clone(),
            field,
            message,
        };
        let time = |field, t: Option<String>| t.map(|t| parse_time(&id, field, &t)).transpose();
        Ok(WorkflowRecord {
            workflow_id: WorkflowId::parse(&id)?,
            agent_name: self.agent_name,
            task: self.task,
            status: WorkflowStatus::parse(&self.status)?,
            risk_level: RiskLevel::parse(&self.risk_level)
                .ok_or_else(|| corrupt("risk_level", self.risk_level.clone()))?,
            checksum: self.checksum,
            created_at: parse_time(&id, "created_at", &self.created_at)?,
            started_at: time("started_at", self.started_at)?,
            completed_at: time("completed_at", self.completed_at)?,
            exit_code: self.exit_code,
            error: self.error,
            result: self.result,
            truncated: self.truncated,
            redactions: serde_json::from_str(&self.redactions)
                .map_err(|e| corrupt("redactions", e.to_string()))?,
            layers: serde_json::from_str(&self.layers)
                .map_err(|e| corrupt("layers", e.to_string()))?,
            owner: self.owner,
            lease_until: time("lease_until", self.lease_until)?,
            cancel_requested: self.cancel_requested,
            output_bytes: u64::try_from(self.output_bytes).unwrap_or(0),
        })
    }
}
