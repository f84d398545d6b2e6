//! The workflow store: one suite ([`suite`]), every behaviour run against both backends
//! (`state_sqlite::…`, `state_redis::…`, the latter on the test's own `redis-server`),
//! plus what only one backend has (file modes and schema; key layout, expiry, passwords).

mod redis_only;
mod sqlite_only;
mod suite;

use std::path::PathBuf;

use mycelium::state::{StoreConfig, WorkflowStore, open_store};

use crate::common::redis::RedisServer;

pub use suite::{new as suite_new, outcome as suite_outcome};

/// One backend under test: handles on one store, and its raw stored bytes.
pub trait Harness {
    /// The configuration of the store under test.
    fn config(&self) -> StoreConfig;

    /// Every byte the backend holds, as stored (SQLite: the database file and its WAL;
    /// Redis: DUMP of every key, every hash field, every stream entry, every set member).
    fn raw_bytes(&self) -> Vec<u8>;

    /// The environment that makes the `mycelium` binary use this store.
    fn cli_env(&self) -> Vec<(&'static str, String)>;

    /// A number that tells the backends apart (0 SQLite, 1 Redis), for markers that must
    /// not collide when both run at once.
    fn ordinal(&self) -> u32;

    /// Empty the store behind mycelium's back (SQLite: every row deleted; Redis:
    /// `FLUSHALL`, as a server restarted without persistence).
    fn erase_everything(&self);

    /// A new handle (a new connection) on the store.
    fn open(&self) -> Box<dyn WorkflowStore> {
        open_store(&self.config()).expect("open the store")
    }

    /// A new handle with a changed configuration.
    fn open_with(&self, change: impl FnOnce(&mut StoreConfig)) -> Box<dyn WorkflowStore> {
        let mut config = self.config();
        change(&mut config);
        open_store(&config).expect("open the store")
    }
}

/// SQLite in `$MYCELIUM_HOME/state.db` of a temporary home.
pub struct Sqlite {
    home: tempfile::TempDir,
}

impl Sqlite {
    pub fn new() -> Self {
        Sqlite {
            home: tempfile::tempdir().unwrap(),
        }
    }

    pub fn db(&self) -> PathBuf {
        self.home.path().join("state.db")
    }
}

impl Harness for Sqlite {
    fn ordinal(&self) -> u32 {
        0
    }

    fn cli_env(&self) -> Vec<(&'static str, String)> {
        vec![("MYCELIUM_HOME", self.home.path().display().to_string())]
    }

    fn config(&self) -> StoreConfig {
        StoreConfig::resolve(self.home.path(), None, None).unwrap()
    }

    fn erase_everything(&self) {
        let c = rusqlite::Connection::open(self.db()).unwrap();
        c.busy_timeout(std::time::Duration::from_secs(10)).unwrap();
        c.execute_batch("DELETE FROM workflows; DELETE FROM output; DELETE FROM events;")
            .unwrap();
    }

    fn raw_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for suffix in ["", "-wal"] {
            let mut p = self.db().into_os_string();
            p.push(suffix);
            if let Ok(bytes) = std::fs::read(&p) {
                out.extend(bytes);
            }
        }
        out
    }
}

/// Redis on the test's own server, default prefix.
pub struct Redis {
    pub server: RedisServer,
}

impl Redis {
    pub fn new(test: &str) -> Option<Self> {
        crate::common::gate::require_redis(test, &[]).map(|server| Redis { server })
    }
}

impl Harness for Redis {
    fn ordinal(&self) -> u32 {
        1
    }

    fn cli_env(&self) -> Vec<(&'static str, String)> {
        vec![("MYCELIUM_REDIS_URL", self.server.url())]
    }

    fn config(&self) -> StoreConfig {
        StoreConfig::resolve(
            tempfile::tempdir().unwrap().path(),
            Some(&self.server.url()),
            None,
        )
        .unwrap()
    }

    fn erase_everything(&self) {
        let mut c = self.server.client();
        let _: () = redis::cmd("FLUSHALL").query(&mut c).unwrap();
    }

    fn raw_bytes(&self) -> Vec<u8> {
        let mut c = self.server.client();
        let keys: Vec<String> = redis::cmd("KEYS").arg("*").query(&mut c).unwrap();
        let mut out = Vec::new();
        for key in keys {
            out.extend(key.as_bytes());
            let dump: Vec<u8> = redis::cmd("DUMP").arg(&key).query(&mut c).unwrap();
            out.extend(dump);
            let kind: String = redis::cmd("TYPE").arg(&key).query(&mut c).unwrap();
            let values: Vec<Vec<u8>> = match kind.as_str() {
                "hash" => redis::cmd("HGETALL").arg(&key).query(&mut c).unwrap(),
                "zset" => redis::cmd("ZRANGE")
                    .arg(&key)
                    .arg(0)
                    .arg(-1)
                    .query(&mut c)
                    .unwrap(),
                "stream" => {
                    let entries: Vec<(String, Vec<Vec<u8>>)> = redis::cmd("XRANGE")
                        .arg(&key)
                        .arg("-")
                        .arg("+")
                        .query(&mut c)
                        .unwrap();
                    entries.into_iter().flat_map(|(_, f)| f).collect()
                }
                other => panic!("unexpected key type {other} at {key}"),
            };
            for v in values {
                out.extend(v);
            }
        }
        out
    }
}

/// One `#[test]` per behaviour and backend: `state_sqlite::NAME` and `state_redis::NAME`.
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod state_sqlite {
            $(
                #[test]
                fn $name() {
                    super::suite::$name(&super::Sqlite::new());
                }
            )*
        }
        mod state_redis {
            $(
                #[test]
                fn $name() {
                    let Some(h) = super::Redis::new(concat!("state_redis::", stringify!($name)))
                    else {
                        return;
                    };
                    super::suite::$name(&h);
                }
            )*
        }
    };
}

both_backends!(
    transitions_record_every_field,
    terminal_status_is_never_overwritten,
    output_is_capped_and_paged_by_byte_offset,
    long_output_splits_and_pages_back_whole,
    list_filters_by_status_newest_first,
    cancel_request_reaches_the_owner_through_another_handle,
    lapsed_lease_becomes_executor_lost,
    retention_removes_only_old_finished_workflows,
    events_follow_every_transition_from_another_handle,
    ids_are_random_and_unknown_ids_are_not_found,
    only_the_given_sanitized_text_is_stored,
    a_second_handle_reads_while_another_writes,
);
