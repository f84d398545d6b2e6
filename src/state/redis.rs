//! The Redis backend, with the layout of DESIGN.md (names in [`super::keys`]):
//! `<prefix>:workflow:<id>` a hash of plain fields, `<prefix>:workflow:<id>:output` a
//! capped stream, `<prefix>:workflows` a sorted set by creation time, `<prefix>:events`
//! pub/sub.
//!
//! Every transition is one round trip: a Lua script (`EVALSHA`, falling back to `EVAL`
//! once per connection) that checks the current status, writes, sets the retention
//! `EXPIRE` on a finished workflow, publishes the event and returns the new record, all
//! atomically. `create` is one `MULTI`/`EXEC`. Output chunks carry their byte offset in
//! the combined output as their stream id (`0-<offset + 1>`), so a page is found by id.
//!
//! The client is synchronous, like the trait. The URL's password is only ever handed to
//! the client; every message shows [`RedisUrl::redacted`].

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use ::redis::{Client, Connection, RedisError, Script, Value};
use jiff::Timestamp;

use super::keys::Keys;
use super::{
    EXECUTOR_LOST, EventKind, EventStream, ListFilter, NewWorkflow, Outcome, OutputPage, Owner,
    RedisUrl, StateError, StoreConfig, WorkflowEvent, WorkflowId, WorkflowRecord, WorkflowStatus,
    WorkflowStore, add_duration, assemble_page, format_time, now, parse_time, split_chunks,
    sub_duration,
};
use crate::policy::RiskLevel;

/// How long connecting may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// How long one reply may take.
const IO_TIMEOUT: Duration = Duration::from_secs(5);

/// A conditional transition. KEYS: the hash, the output stream, the lease index (the
/// workflow is in it while it runs, scored by `lease_until_us`). ARGV: the statuses it is
/// allowed from (`,a,b,`, and `uncancelled,` when a requested cancel refuses it), the
/// channel, the event message, the retention in seconds (0: none), how many fields to
/// delete, their names, then field/value pairs to set. Returns the new record (HGETALL),
/// or the current status when the transition is refused, `cancel_requested`, or
/// `missing`.
const TRANSITION: &str = r"
local v = redis.call('HMGET', KEYS[1], 'status', 'cancel_requested')
local st = v[1]
if not st then return 'missing' end
if not string.find(ARGV[1], ',' .. st .. ',', 1, true) then return st end
if v[2] == '1' and string.find(ARGV[1], ',uncancelled,', 1, true) then
  return 'cancel_requested'
end
local n = tonumber(ARGV[5])
for i = 6, 5 + n do redis.call('HDEL', KEYS[1], ARGV[i]) end
if #ARGV > 5 + n then
  redis.call('HSET', KEYS[1], unpack(ARGV, 6 + n, #ARGV))
end
local ttl = tonumber(ARGV[4])
if ttl > 0 then
  redis.call('EXPIRE', KEYS[1], ttl)
  redis.call('EXPIRE', KEYS[2], ttl)
end
local now = redis.call('HMGET', KEYS[1], 'status', 'workflow_id', 'lease_until_us')
if now[1] == 'running' then
  redis.call('ZADD', KEYS[3], now[3], now[2])
else
  redis.call('ZREM', KEYS[3], now[2])
end
if ARGV[3] ~= '' then redis.call('PUBLISH', ARGV[2], ARGV[3]) end
return redis.call('HGETALL', KEYS[1])
";

/// Append output. KEYS: the hash, the stream. ARGV: the cap (entries), then the pieces.
/// Returns `ok`, the status when the workflow has ended, or `missing`.
const APPEND: &str = r"
local st = redis.call('HGET', KEYS[1], 'status')
if not st then return 'missing' end
if st ~= 'pending' and st ~= 'running' then return st end
for i = 2, #ARGV do
  local len = string.len(ARGV[i])
  local total = redis.call('HINCRBY', KEYS[1], 'output_bytes', len)
  redis.call('XADD', KEYS[2], 'MAXLEN', ARGV[1], string.format('0-%d', total - len + 1),
    'data', ARGV[i])
end
return 'ok'
";

/// Renew a lease. KEYS: the hash, the lease index. ARGV: the owner, lease_until,
/// lease_until_us. Returns `{'ok', cancel_requested}`, `{'status', st}`,
/// `{'owner', owner}` or `{'missing'}`.
const RENEW: &str = r"
local v = redis.call('HMGET', KEYS[1], 'status', 'owner', 'cancel_requested', 'workflow_id')
if not v[1] then return {'missing'} end
if v[1] ~= 'running' then return {'status', v[1]} end
if v[2] ~= ARGV[1] then return {'owner', v[2] or ''} end
redis.call('HSET', KEYS[1], 'lease_until', ARGV[2], 'lease_until_us', ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[3], v[4])
return {'ok', v[3] or '0'}
";

/// Mark a running workflow whose lease lapsed as lost. KEYS: the hash, the stream, the
/// lease index. ARGV: now (µs), completed_at, the error, the retention, the channel, the
/// message, the id. Returns 1 when it was marked; an id the index holds for a workflow
/// that no longer runs leaves the index.
const LOST: &str = r"
local v = redis.call('HMGET', KEYS[1], 'status', 'lease_until_us')
if v[1] ~= 'running' then
  redis.call('ZREM', KEYS[3], ARGV[7])
  return 0
end
if not v[2] or tonumber(v[2]) >= tonumber(ARGV[1]) then return 0 end
redis.call('ZREM', KEYS[3], ARGV[7])
redis.call('HDEL', KEYS[1], 'lease_until', 'lease_until_us')
redis.call('HSET', KEYS[1], 'status', 'failed', 'error', ARGV[3], 'completed_at', ARGV[2],
  'completed_us', ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[4])
redis.call('EXPIRE', KEYS[2], ARGV[4])
redis.call('PUBLISH', ARGV[5], ARGV[6])
return 1
";

/// The Redis store. One connection behind a mutex, reopened after a connection error.
pub struct RedisStore {
    client: Client,
    url: RedisUrl,
    keys: Keys,
    conn: Mutex<Option<Connection>>,
    retention: Duration,
    max_chunks: u64,
    transition: Script,
    append: Script,
    renew: Script,
    lost: Script,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("url", &self.url)
            .field("keys", &self.keys)
            .finish_non_exhaustive()
    }
}

/// How many ids `list` reads from the index at a time.
const LIST_PAGE: usize = 100;

/// The statuses a transition may start from, as the script reads them: pending, and not
/// asked to stop.
const FROM_PENDING_UNCANCELLED: &str = ",pending,uncancelled,";
/// Pending or running.
const FROM_ACTIVE: &str = ",pending,running,";

impl RedisStore {
    /// Connect to `url` and check that the server answers.
    ///
    /// # Errors
    /// [`StateError::Redis`] (the URL shown without its password) when the URL is invalid
    /// or the server cannot be reached or refuses the credentials.
    pub fn open(url: &RedisUrl, prefix: &str, config: &StoreConfig) -> Result<Self, StateError> {
        let client = Client::open(url.expose()).map_err(|source| StateError::Redis {
            url: url.redacted(),
            op: "parse the URL",
            source,
        })?;
        let store = RedisStore {
            client,
            url: url.clone(),
            keys: Keys::new(prefix),
            conn: Mutex::new(None),
            retention: config.retention,
            max_chunks: config.output_max_chunks.max(1),
            transition: Script::new(TRANSITION),
            append: Script::new(APPEND),
            renew: Script::new(RENEW),
            lost: Script::new(LOST),
        };
        store.with_conn("connect", |c| ::redis::cmd("PING").query::<String>(c))?;
        Ok(store)
    }

    fn connect(&self) -> Result<Connection, RedisError> {
        let conn = self.client.get_connection_with_timeout(CONNECT_TIMEOUT)?;
        conn.set_read_timeout(Some(IO_TIMEOUT))?;
        conn.set_write_timeout(Some(IO_TIMEOUT))?;
        Ok(conn)
    }

    fn lock(&self) -> MutexGuard<'_, Option<Connection>> {
        self.conn
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Run `f` on the connection, connecting first if there is none; a connection that
    /// failed is dropped so the next call reconnects.
    fn with_conn<T>(
        &self,
        op: &'static str,
        f: impl FnOnce(&mut Connection) -> Result<T, RedisError>,
    ) -> Result<T, StateError> {
        let mut guard = self.lock();
        let result = match guard.as_mut() {
            Some(c) => f(c),
            None => match self.connect() {
                Ok(c) => f(guard.insert(c)),
                Err(e) => Err(e),
            },
        };
        result.map_err(|source| {
            if source.is_io_error()
                || source.is_connection_dropped()
                || source.is_timeout()
                || source.is_unrecoverable_error()
            {
                *guard = None;
            }
            StateError::Redis {
                url: self.url.redacted(),
                op,
                source,
            }
        })
    }

    fn reply(&self, op: &'static str, message: String) -> StateError {
        StateError::RedisReply {
            url: self.url.redacted(),
            op,
            message,
        }
    }

    fn retention_secs(&self) -> u64 {
        self.retention.as_secs().max(1)
    }

    /// Run the transition script; the new record, or why it was refused (`None`: there
    /// is no such workflow).
    fn transition(
        &self,
        op: &'static str,
        id: WorkflowId,
        t: &Transition<'_>,
    ) -> Result<Result<WorkflowRecord, Refused>, StateError> {
        let mut inv = self.transition.prepare_invoke();
        inv.key(self.keys.workflow(id))
            .key(self.keys.output(id))
            .key(self.keys.leases())
            .arg(t.from)
            .arg(self.keys.events())
            .arg(t.event.map_or_else(String::new, |kind| {
                WorkflowEvent {
                    workflow_id: id,
                    kind,
                }
                .message()
            }))
            .arg(t.ttl)
            .arg(t.delete.len());
        for d in t.delete {
            inv.arg(*d);
        }
        for (k, v) in &t.set {
            inv.arg(*k).arg(v);
        }
        let value: Value = self.with_conn(op, |c| inv.invoke(c))?;
        match value {
            Value::Array(_) | Value::Map(_) => Ok(Ok(self.record_from(op, id, value)?)),
            other => {
                let s = text_of(&other).unwrap_or_default();
                match s.as_str() {
                    "missing" => Ok(Err(Refused::Missing)),
                    "cancel_requested" => Ok(Err(Refused::CancelRequested)),
                    _ => Ok(Err(Refused::Status(WorkflowStatus::parse(&s)?))),
                }
            }
        }
    }

    fn record_from(
        &self,
        op: &'static str,
        id: WorkflowId,
        value: Value,
    ) -> Result<WorkflowRecord, StateError> {
        let fields = hash_of(value).ok_or_else(|| self.reply(op, "not a hash".to_owned()))?;
        record_from_fields(id, &fields)
    }

    /// The members of the sorted set `key` whose score is below `max` (exclusive).
    fn scored_below(
        &self,
        op: &'static str,
        key: &str,
        max: i64,
    ) -> Result<Vec<String>, StateError> {
        self.with_conn(op, |c| {
            ::redis::cmd("ZRANGEBYSCORE")
                .arg(key)
                .arg("-inf")
                .arg(format!("({max}"))
                .query(c)
        })
    }

    fn refused(id: WorkflowId, why: Refused, action: &'static str) -> StateError {
        match why {
            Refused::Missing => StateError::NotFound(id),
            Refused::CancelRequested => StateError::CancelledBeforeStart(id),
            Refused::Status(status) => StateError::InvalidTransition { id, status, action },
        }
    }
}

/// Why the `TRANSITION` script refused.
#[derive(Debug, Clone, Copy)]
enum Refused {
    /// No such workflow.
    Missing,
    /// Its status is not one the transition starts from.
    Status(WorkflowStatus),
    /// A cancel was requested, and the transition is one a cancel stops.
    CancelRequested,
}

/// One conditional transition, as the `TRANSITION` script takes it.
struct Transition<'a> {
    /// The statuses it may start from (`,a,b,`).
    from: &'a str,
    /// The event to publish.
    event: Option<EventKind>,
    /// The retention to set, in seconds (0: none).
    ttl: u64,
    /// Fields to delete.
    delete: &'a [&'a str],
    /// Fields to set.
    set: Vec<(&'a str, String)>,
}

/// Stream entries as `XRANGE` gives them.
type Entries = Vec<(String, HashMap<String, String>)>;

/// The text of a string reply.
fn text_of(v: &Value) -> Option<String> {
    match v {
        Value::BulkString(b) => String::from_utf8(b.clone()).ok(),
        Value::SimpleString(s) => Some(s.clone()),
        Value::Okay => Some("OK".to_owned()),
        Value::Int(i) => Some(i.to_string()),
        _ => None,
    }
}

/// A HGETALL reply (flat array in RESP2, map in RESP3) as a map.
fn hash_of(v: Value) -> Option<HashMap<String, String>> {
    let mut out = HashMap::new();
    match v {
        Value::Array(items) => {
            let mut it = items.iter();
            while let (Some(k), Some(v)) = (it.next(), it.next()) {
                out.insert(text_of(k)?, text_of(v)?);
            }
        }
        Value::Map(pairs) => {
            for (k, v) in &pairs {
                out.insert(text_of(k)?, text_of(v)?);
            }
        }
        _ => return None,
    }
    Some(out)
}

fn record_from_fields(
    id: WorkflowId,
    f: &HashMap<String, String>,
) -> Result<WorkflowRecord, StateError> {
    let shown = id.to_string();
    let corrupt = |field: &'static str, message: String| StateError::Corrupt {
        id: shown.clone(),
        field,
        message,
    };
    let need = |field: &'static str| {
        f.get(field)
            .cloned()
            .ok_or_else(|| corrupt(field, "missing".to_owned()))
    };
    let time = |field: &'static str| {
        f.get(field)
            .map(|t| parse_time(&shown, field, t))
            .transpose()
    };
    if need("workflow_id")? != shown {
        return Err(corrupt("workflow_id", "does not match its key".to_owned()));
    }
    let risk = need("risk_level")?;
    Ok(WorkflowRecord {
        workflow_id: id,
        agent_name: need("agent_name")?,
        task: need("task")?,
        status: WorkflowStatus::parse(&need("status")?)?,
        risk_level: RiskLevel::parse(&risk).ok_or_else(|| corrupt("risk_level", risk.clone()))?,
        checksum: need("checksum")?,
        created_at: parse_time(&shown, "created_at", &need("created_at")?)?,
        started_at: time("started_at")?,
        completed_at: time("completed_at")?,
        exit_code: f
            .get("exit_code")
            .map(|c| c.parse().map_err(|_| corrupt("exit_code", c.clone())))
            .transpose()?,
        error: f.get("error").cloned(),
        result: f.get("result").cloned(),
        truncated: f.get("truncated").is_some_and(|t| t == "1"),
        redactions: f
            .get("redactions")
            .map(|r| serde_json::from_str(r).map_err(|e| corrupt("redactions", e.to_string())))
            .transpose()?
            .unwrap_or_default(),
        layers: f
            .get("layers")
            .map(|r| serde_json::from_str(r).map_err(|e| corrupt("layers", e.to_string())))
            .transpose()?
            .unwrap_or(serde_json::Value::Null),
        owner: f.get("owner").cloned(),
        lease_until: time("lease_until")?,
        cancel_requested: f.get("cancel_requested").is_some_and(|c| c == "1"),
        output_bytes: f
            .get("output_bytes")
            .map(|c| c.parse().map_err(|_| corrupt("output_bytes", c.clone())))
            .transpose()?
            .unwrap_or(0),
    })
}

fn micros(t: Timestamp) -> i64 {
    t.as_microsecond()
}

impl WorkflowStore for RedisStore {
    fn create(&self, new: &NewWorkflow) -> Result<WorkflowRecord, StateError> {
        let id = WorkflowId::generate()?;
        let record = WorkflowRecord::pending(id, new, now());
        let fields = [
            ("workflow_id", id.to_string()),
            ("agent_name", record.agent_name.clone()),
            ("task", record.task.clone()),
            ("status", record.status.as_str().to_owned()),
            ("risk_level", record.risk_level.as_str().to_owned()),
            ("checksum", record.checksum.clone()),
            ("created_at", format_time(record.created_at)),
            ("truncated", "0".to_owned()),
            ("cancel_requested", "0".to_owned()),
            ("output_bytes", "0".to_owned()),
        ];
        #[expect(
            clippy::cast_precision_loss,
            reason = "a score in microseconds is exact below 2^53 µs (the year 2255)"
        )]
        let score = micros(record.created_at) as f64;
        let message = WorkflowEvent {
            workflow_id: id,
            kind: EventKind::Created,
        }
        .message();
        self.with_conn("record a workflow", |c| {
            ::redis::pipe()
                .atomic()
                .hset_multiple(self.keys.workflow(id), &fields)
                .ignore()
                .zadd(self.keys.index(), id.to_string(), score)
                .ignore()
                .publish(self.keys.events(), message)
                .ignore()
                .query::<()>(c)
        })?;
        Ok(record)
    }

    fn start(
        &self,
        id: WorkflowId,
        owner: &Owner,
        lease: Duration,
    ) -> Result<WorkflowRecord, StateError> {
        let at = now();
        let until = add_duration(at, lease);
        self.transition(
            "start a workflow",
            id,
            &Transition {
                from: FROM_PENDING_UNCANCELLED,
                event: Some(EventKind::Started),
                ttl: 0,
                delete: &[],
                set: vec![
                    ("status", "running".to_owned()),
                    ("started_at", format_time(at)),
                    ("owner", owner.as_str().to_owned()),
                    ("lease_until", format_time(until)),
                    ("lease_until_us", micros(until).to_string()),
                ],
            },
        )?
        .map_err(|st| Self::refused(id, st, "start it"))
    }

    fn finish(&self, id: WorkflowId, outcome: &Outcome) -> Result<WorkflowRecord, StateError> {
        if !outcome.status.is_terminal() {
            let current = self.get(id)?.ok_or(StateError::NotFound(id))?;
            return Err(StateError::InvalidTransition {
                id,
                status: current.status,
                action: "finish it with a status that is not final",
            });
        }
        let at = now();
        let mut set = vec![
            ("status", outcome.status.as_str().to_owned()),
            ("completed_at", format_time(at)),
            ("completed_us", micros(at).to_string()),
            ("result", outcome.result.clone()),
            (
                "truncated",
                if outcome.truncated { "1" } else { "0" }.to_owned(),
            ),
            (
                "redactions",
                serde_json::to_string(&outcome.redactions).unwrap_or_default(),
            ),
            ("layers", outcome.layers.to_string()),
        ];
        if let Some(code) = outcome.exit_code {
            set.push(("exit_code", code.to_string()));
        }
        if let Some(error) = &outcome.error {
            set.push(("error", error.clone()));
        }
        self.transition(
            "finish a workflow",
            id,
            &Transition {
                from: FROM_ACTIVE,
                event: Some(EventKind::Finished(outcome.status)),
                ttl: self.retention_secs(),
                delete: &["lease_until", "lease_until_us"],
                set,
            },
        )?
        .map_err(|st| Self::refused(id, st, "finish it again"))
    }

    fn append_output(&self, id: WorkflowId, text: &str) -> Result<(), StateError> {
        if text.is_empty() {
            return Ok(());
        }
        let mut inv = self.append.prepare_invoke();
        inv.key(self.keys.workflow(id))
            .key(self.keys.output(id))
            .arg(self.max_chunks);
        for piece in split_chunks(text) {
            inv.arg(piece);
        }
        let answer: String = self.with_conn("append output", |c| inv.invoke(c))?;
        match answer.as_str() {
            "ok" => Ok(()),
            "missing" => Err(StateError::NotFound(id)),
            other => Err(StateError::InvalidTransition {
                id,
                status: WorkflowStatus::parse(other)?,
                action: "append output",
            }),
        }
    }

    fn read_output(
        &self,
        id: WorkflowId,
        offset: u64,
        limit: u64,
    ) -> Result<OutputPage, StateError> {
        let stream = self.keys.output(id);
        // The total, and the chunk holding `offset` (the last starting at or before it).
        let (total, before): (Option<u64>, Entries) = self.with_conn("read output", |c| {
            ::redis::pipe()
                .hget(self.keys.workflow(id), "output_bytes")
                .cmd("XREVRANGE")
                .arg(&stream)
                .arg(format!("0-{}", offset.saturating_add(1)))
                .arg("-")
                .arg("COUNT")
                .arg(1)
                .query(c)
        })?;
        let total = total.ok_or(StateError::NotFound(id))?;
        let mut start = before
            .first()
            .map_or_else(|| "-".to_owned(), |(entry, _)| entry.clone());
        let mut chunks: Vec<(u64, String)> = Vec::new();
        let mut bytes = 0u64;
        loop {
            let batch: Entries = self.with_conn("read output", |c| {
                ::redis::cmd("XRANGE")
                    .arg(&stream)
                    .arg(&start)
                    .arg("+")
                    .arg("COUNT")
                    .arg(64)
                    .query(c)
            })?;
            let full = batch.len() == 64;
            for (entry, mut fields) in batch {
                let off = entry
                    .strip_prefix("0-")
                    .and_then(|s| s.parse::<u64>().ok())
                    .and_then(|s| s.checked_sub(1))
                    .ok_or_else(|| self.reply("read output", format!("stream id {entry}")))?;
                let data = fields.remove("data").unwrap_or_default();
                bytes += data.len() as u64;
                start = format!("({entry}");
                chunks.push((off, data));
            }
            if !full || bytes >= limit.saturating_add(crate::state::MAX_CHUNK_BYTES as u64) {
                break;
            }
        }
        Ok(assemble_page(&chunks, offset, limit, total))
    }

    fn get(&self, id: WorkflowId) -> Result<Option<WorkflowRecord>, StateError> {
        let value: Value = self.with_conn("read a workflow", |c| {
            ::redis::cmd("HGETALL").arg(self.keys.workflow(id)).query(c)
        })?;
        let fields =
            hash_of(value).ok_or_else(|| self.reply("read a workflow", "not a hash".into()))?;
        if fields.is_empty() {
            return Ok(None);
        }
        record_from_fields(id, &fields).map(Some)
    }

    fn list(&self, filter: &ListFilter) -> Result<Vec<WorkflowRecord>, StateError> {
        if filter.limit == 0 {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        let mut seen = std::collections::HashSet::new();
        // Newest first, a page of the index at a time, until the limit is reached.
        for page in 0.. {
            let first = page * LIST_PAGE;
            let batch: Vec<String> = self.with_conn("list workflows", |c| {
                ::redis::cmd("ZREVRANGE")
                    .arg(self.keys.index())
                    .arg(first)
                    .arg(first + LIST_PAGE - 1)
                    .query(c)
            })?;
            if batch.is_empty() {
                break;
            }
            let mut pipe = ::redis::pipe();
            let mut parsed = Vec::new();
            for text in &batch {
                let id = WorkflowId::parse(text)?;
                // A workflow created between two pages shifts the next one: an id seen
                // already is passed over.
                if seen.insert(id) {
                    pipe.hgetall(self.keys.workflow(id));
                    parsed.push(id);
                }
            }
            let hashes: Vec<Value> = self.with_conn("list workflows", |c| pipe.query(c))?;
            for (id, value) in parsed.into_iter().zip(hashes) {
                let fields = hash_of(value)
                    .ok_or_else(|| self.reply("list workflows", "not a hash".into()))?;
                if fields.is_empty() {
                    continue; // expired; `sweep` removes it from the index
                }
                let record = record_from_fields(id, &fields)?;
                if filter.status.is_none_or(|s| s == record.status) {
                    out.push(record);
                    if out.len() >= filter.limit {
                        return Ok(out);
                    }
                }
            }
        }
        Ok(out)
    }

    fn request_cancel(&self, id: WorkflowId) -> Result<bool, StateError> {
        match self.transition(
            "request a cancel",
            id,
            &Transition {
                from: FROM_ACTIVE,
                event: Some(EventKind::CancelRequested),
                ttl: 0,
                delete: &[],
                set: vec![("cancel_requested", "1".to_owned())],
            },
        )? {
            Ok(_) => Ok(true),
            Err(Refused::Missing) => Err(StateError::NotFound(id)),
            Err(Refused::Status(_) | Refused::CancelRequested) => Ok(false),
        }
    }

    fn renew_lease(
        &self,
        id: WorkflowId,
        owner: &Owner,
        lease: Duration,
    ) -> Result<bool, StateError> {
        let until = add_duration(now(), lease);
        let mut inv = self.renew.prepare_invoke();
        inv.key(self.keys.workflow(id))
            .key(self.keys.leases())
            .arg(owner.as_str())
            .arg(format_time(until))
            .arg(micros(until));
        let answer: Vec<String> = self.with_conn("renew a lease", |c| inv.invoke(c))?;
        match answer.as_slice() {
            [ok, cancel] if ok == "ok" => Ok(cancel == "1"),
            [s, status] if s == "status" => Err(StateError::InvalidTransition {
                id,
                status: WorkflowStatus::parse(status)?,
                action: "renew its lease",
            }),
            [o, recorded] if o == "owner" => Err(StateError::NotOwner {
                id,
                owner: recorded.clone(),
                caller: owner.as_str().to_owned(),
            }),
            _ => Err(StateError::NotFound(id)),
        }
    }

    fn recover_lost(&self, at: Timestamp) -> Result<Vec<WorkflowId>, StateError> {
        // Only the workflows whose lease lapsed: the lease index is scored by when.
        let mut lost = Vec::new();
        let leases = self.keys.leases();
        for text in self.scored_below("recover lost workflows", &leases, micros(at))? {
            let Ok(id) = WorkflowId::parse(&text) else {
                // Not a member the scripts write: it has no record to settle.
                self.with_conn("recover lost workflows", |c| {
                    ::redis::cmd("ZREM").arg(&leases).arg(&text).query::<()>(c)
                })?;
                continue;
            };
            let message = WorkflowEvent {
                workflow_id: id,
                kind: EventKind::Finished(WorkflowStatus::Failed),
            }
            .message();
            let mut inv = self.lost.prepare_invoke();
            inv.key(self.keys.workflow(id))
                .key(self.keys.output(id))
                .key(&leases)
                .arg(micros(at))
                .arg(format_time(at))
                .arg(EXECUTOR_LOST)
                .arg(self.retention_secs())
                .arg(self.keys.events())
                .arg(message)
                .arg(id.to_string());
            let marked: i64 = self.with_conn("recover lost workflows", |c| inv.invoke(c))?;
            if marked == 1 {
                lost.push(id);
            }
        }
        Ok(lost)
    }

    fn sweep(&self, at: Timestamp) -> Result<usize, StateError> {
        let cutoff = micros(sub_duration(at, self.retention));
        // A workflow past its retention finished before the cutoff, so it was created
        // before it too: the index (scored by creation) names every candidate.
        let ids = self.scored_below("remove old workflows", &self.keys.index(), cutoff)?;
        let mut removed = 0;
        for batch in ids.chunks(100) {
            let mut pipe = ::redis::pipe();
            let mut parsed = Vec::new();
            for text in batch {
                let id = WorkflowId::parse(text)?;
                pipe.cmd("HMGET")
                    .arg(self.keys.workflow(id))
                    .arg("status")
                    .arg("completed_us");
                parsed.push(id);
            }
            let rows: Vec<(Option<String>, Option<i64>)> =
                self.with_conn("remove old workflows", |c| pipe.query(c))?;
            let mut drop = ::redis::pipe();
            let mut any = false;
            for (id, (status, completed)) in parsed.into_iter().zip(rows) {
                // Gone (expired by Redis) or finished before the cutoff.
                let expired = status.is_none();
                let old = completed.is_some_and(|c| c < cutoff);
                if expired || old {
                    drop.del(self.keys.workflow(id))
                        .ignore()
                        .del(self.keys.output(id))
                        .ignore()
                        .zrem(self.keys.index(), id.to_string())
                        .ignore()
                        .zrem(self.keys.leases(), id.to_string())
                        .ignore();
                    removed += 1;
                    any = true;
                }
            }
            if any {
                self.with_conn("remove old workflows", |c| drop.query::<()>(c))?;
            }
        }
        Ok(removed)
    }

    fn subscribe(&self) -> Result<Box<dyn EventStream>, StateError> {
        let err = |op: &'static str| {
            move |source| StateError::Redis {
                url: self.url.redacted(),
                op,
                source,
            }
        };
        let mut conn = self.connect().map_err(err("connect to follow events"))?;
        conn.send_packed_command(
            &::redis::cmd("SUBSCRIBE")
                .arg(self.keys.events())
                .get_packed_command(),
        )
        .map_err(err("subscribe to events"))?;
        // The subscription is in force once the server confirms it.
        conn.recv_response().map_err(err("subscribe to events"))?;
        Ok(Box::new(RedisEvents {
            conn,
            url: self.url.redacted(),
        }))
    }
}

/// A follower: a connection in subscriber mode.
struct RedisEvents {
    conn: Connection,
    url: String,
}

impl EventStream for RedisEvents {
    fn next_event(&mut self, timeout: Duration) -> Result<Option<WorkflowEvent>, StateError> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            let err = |source| StateError::Redis {
                url: self.url.clone(),
                op: "follow events",
                source,
            };
            self.conn
                .set_read_timeout(Some(left.max(Duration::from_millis(1))))
                .map_err(err)?;
            let value = match self.conn.recv_response() {
                Ok(v) => v,
                Err(e) if e.is_timeout() => return Ok(None),
                Err(e) => return Err(err(e)),
            };
            let items = match value {
                Value::Array(items) => items,
                Value::Push { data, .. } => data,
                _ => continue,
            };
            let texts: Vec<String> = items.iter().filter_map(text_of).collect();
            if let [kind, _channel, payload] = texts.as_slice()
                && kind == "message"
                && let Some(ev) = WorkflowEvent::parse(payload)
            {
                return Ok(Some(ev));
            }
        }
    }
}
