//! Which store to open: `[state]` in `$MYCELIUM_HOME/config.toml`, overridden by
//! `MYCELIUM_REDIS_URL`, overridden by `--redis URL`. Owns the one function that hides a
//! Redis URL's password ([`redact_url`]); a [`RedisUrl`] prints only the redacted form.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use super::{DEFAULT_OUTPUT_MAX_CHUNKS, DEFAULT_RETENTION, StateError};

/// The configuration file inside `$MYCELIUM_HOME`.
const CONFIG_FILE: &str = "config.toml";

/// The SQLite database inside `$MYCELIUM_HOME`.
pub const STATE_DB: &str = "state.db";

/// The Redis key prefix when `state.redis_prefix` is not set.
pub const DEFAULT_PREFIX: &str = "mycelium";

/// A Redis URL. `Display` and `Debug` show it with the password replaced; only
/// [`RedisUrl::expose`] gives the real text, for connecting.
#[derive(Clone, PartialEq, Eq)]
pub struct RedisUrl(String);

impl RedisUrl {
    /// Wrap a URL.
    #[must_use]
    pub fn new(url: &str) -> Self {
        RedisUrl(url.to_owned())
    }

    /// The URL with its password: only for the Redis client.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The URL with its password replaced, for messages.
    #[must_use]
    pub fn redacted(&self) -> String {
        redact_url(&self.0)
    }
}

impl fmt::Display for RedisUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl fmt::Debug for RedisUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RedisUrl({:?})", self.redacted())
    }
}

/// A URL fit for a message: the user-info's password (`redis://user:PASS@host`), or the
/// whole user-info when it has no `:` (some clients read `redis://PASS@host` as a
/// password), and any query (`?password=…` forms) become `***`. Text that is not a URL
/// is replaced whole, since where its secret sits is unknown.
///
/// This is the one place a URL is made printable: every error and `Debug` output of the
/// state module goes through it.
#[must_use]
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "<redis url not shown: not of the form redis://…>".to_owned();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, mut path) = rest.split_at(authority_end);
    let mut query = "";
    if let Some(q) = path.find(['?', '#']) {
        query = "?***";
        path = &path[..q];
    }
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _password)) => format!("{user}:***@{host}"),
            None => format!("***@{host}"),
        },
        None => authority.to_owned(),
    };
    format!("{scheme}://{authority}{path}{query}")
}

/// Which backend, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    /// The embedded database file.
    Sqlite {
        /// `$MYCELIUM_HOME/state.db`.
        path: PathBuf,
    },
    /// A Redis server.
    Redis {
        /// Its URL.
        url: RedisUrl,
        /// The key prefix (`mycelium`).
        prefix: String,
    },
}

/// How the store is opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreConfig {
    /// The backend.
    pub backend: Backend,
    /// How long finished workflows are kept (`state.retention`, default 7 days).
    pub retention: Duration,
    /// How many output chunks a workflow keeps (`state.output_max_chunks`).
    pub output_max_chunks: u64,
}

impl StoreConfig {
    /// The SQLite store at `path` with the default retention and cap.
    #[must_use]
    pub fn sqlite(path: &Path) -> Self {
        StoreConfig {
            backend: Backend::Sqlite {
                path: path.to_owned(),
            },
            retention: DEFAULT_RETENTION,
            output_max_chunks: DEFAULT_OUTPUT_MAX_CHUNKS,
        }
    }

    /// The Redis store at `url` under `prefix` with the default retention and cap.
    #[must_use]
    pub fn redis(url: &str, prefix: &str) -> Self {
        StoreConfig {
            backend: Backend::Redis {
                url: RedisUrl::new(url),
                prefix: prefix.to_owned(),
            },
            retention: DEFAULT_RETENTION,
            output_max_chunks: DEFAULT_OUTPUT_MAX_CHUNKS,
        }
    }

    /// The configuration for `home` (`$MYCELIUM_HOME`): `flag_url` is `--redis`,
    /// `env_url` is `MYCELIUM_REDIS_URL` (an empty one counts as unset); either wins over
    /// `state.redis_url`. No Redis URL anywhere means SQLite in `home/state.db`.
    ///
    /// # Errors
    /// [`StateError::Config`] with file, line and column when `[state]` is not valid,
    /// [`StateError::Io`] when the file cannot be read.
    pub fn resolve(
        home: &Path,
        flag_url: Option<&str>,
        env_url: Option<&str>,
    ) -> Result<Self, StateError> {
        let (file, _) = read_config(&home.join(CONFIG_FILE))?;
        // The flag or the variable, whichever is used, is checked as the file's key is.
        let chosen = [("--redis", flag_url), ("MYCELIUM_REDIS_URL", env_url)]
            .into_iter()
            .find_map(|(from, u)| Some((from, u.filter(|u| !u.is_empty())?)));
        if let Some((from, url)) = chosen
            && let Some(message) = url_problem(url)
        {
            return Err(StateError::BadRedisUrl {
                from,
                url: redact_url(url),
                message,
            });
        }
        let url = [flag_url, env_url, file.redis_url.as_deref()]
            .into_iter()
            .flatten()
            .find(|u| !u.is_empty());
        let prefix = file
            .redis_prefix
            .unwrap_or_else(|| DEFAULT_PREFIX.to_owned());
        let backend = match url {
            Some(url) => Backend::Redis {
                url: RedisUrl::new(url),
                prefix,
            },
            None => Backend::Sqlite {
                path: home.join(STATE_DB),
            },
        };
        Ok(StoreConfig {
            backend,
            retention: file.retention.unwrap_or(DEFAULT_RETENTION),
            output_max_chunks: file.output_max_chunks.unwrap_or(DEFAULT_OUTPUT_MAX_CHUNKS),
        })
    }
}

/// `[state]` as read, every key checked.
#[derive(Debug, Default)]
struct StateTable {
    redis_url: Option<String>,
    redis_prefix: Option<String>,
    retention: Option<Duration>,
    output_max_chunks: Option<u64>,
}

#[derive(Deserialize)]
struct RawFile {
    state: Option<RawState>,
    process: Option<RawProcess>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProcess {
    max_concurrent: Option<toml::Spanned<i64>>,
    lease: Option<toml::Spanned<String>>,
}

/// The most sandboxes `process.max_concurrent` may allow at once.
pub const MAX_CONCURRENT_LIMIT: usize = 1024;

/// The shortest `process.lease`.
pub const MIN_LEASE: Duration = Duration::from_millis(300);

/// `[process]` of `$MYCELIUM_HOME/config.toml`: how a process that runs workflows runs them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProcessSettings {
    /// `max_concurrent`: sandboxes one process runs at once; more wait as `pending`.
    pub max_concurrent: Option<usize>,
    /// `lease`: how long a running workflow's owner holds it without renewing (renewed
    /// every third); a workflow whose owner is gone longer is `failed`, `executor lost`.
    pub lease: Option<Duration>,
}

impl ProcessSettings {
    /// Read `[process]` from `home`'s config.toml (the same ownership rules as `[state]`);
    /// no file or no table means the defaults.
    ///
    /// # Errors
    /// [`StateError::Config`] with line and column for a bad value,
    /// [`StateError::Insecure`] for a file another user could change.
    pub fn load(home: &Path) -> Result<Self, StateError> {
        read_config(&home.join(CONFIG_FILE)).map(|(_, p)| p)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawState {
    redis_url: Option<toml::Spanned<String>>,
    redis_prefix: Option<toml::Spanned<String>>,
    retention: Option<toml::Spanned<String>>,
    output_max_chunks: Option<toml::Spanned<i64>>,
}

fn read_config(path: &Path) -> Result<(StateTable, ProcessSettings), StateError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok((StateTable::default(), ProcessSettings::default()));
        }
        Err(source) => {
            return Err(StateError::Io {
                op: "read",
                path: path.to_owned(),
                source,
            });
        }
    };
    // The file decides where workflow records go (and which Redis gets them): like
    // `[consent]`, it is read only when no other user could have written it.
    {
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::metadata(path).map_err(|source| StateError::Io {
            op: "inspect",
            path: path.to_owned(),
            source,
        })?;
        let me = nix::unistd::geteuid().as_raw();
        if meta.uid() != me || meta.mode() & 0o022 != 0 {
            return Err(StateError::Insecure {
                path: path.to_owned(),
                problem: format!(
                    "the configuration choosing the workflow store can be changed by another user (mode {:o}, uid {})",
                    meta.mode() & 0o7777,
                    meta.uid()
                ),
                fix_mode: "600",
            });
        }
    }
    let at = |offset: usize, message: String| {
        let (line, column) = line_col(&text, offset);
        StateError::Config {
            path: path.to_owned(),
            line,
            column,
            message,
        }
    };
    let raw: RawFile = toml::from_str(&text).map_err(|e| {
        at(
            e.span().map_or(0, |s| s.start),
            e.message().trim_end().to_owned(),
        )
    })?;
    let process = match raw.process {
        None => ProcessSettings::default(),
        Some(p) => process_table(p, &at)?,
    };
    let Some(raw) = raw.state else {
        return Ok((StateTable::default(), process));
    };
    let mut out = StateTable::default();
    if let Some(url) = raw.redis_url {
        let span = url.span();
        let url = url.into_inner();
        if let Some(message) = url_problem(&url) {
            return Err(at(
                span.start,
                format!("state.redis_url = {}: {message}", redact_url(&url)),
            ));
        }
        out.redis_url = Some(url);
    }
    if let Some(prefix) = raw.redis_prefix {
        let span = prefix.span();
        let prefix = prefix.into_inner();
        if prefix.is_empty()
            || !prefix
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
        {
            return Err(at(
                span.start,
                format!(
                    "state.redis_prefix = {prefix:?}: use letters, digits, '_', '-' or '.' (no ':')"
                ),
            ));
        }
        out.redis_prefix = Some(prefix);
    }
    if let Some(retention) = raw.retention {
        let span = retention.span();
        let d = crate::policy::parse_duration(retention.get_ref())
            .map_err(|m| at(span.start, format!("state.retention: {m}")))?;
        if d.is_zero() {
            return Err(at(
                span.start,
                "state.retention: must be longer than zero".to_owned(),
            ));
        }
        out.retention = Some(d);
    }
    if let Some(n) = raw.output_max_chunks {
        let span = n.span();
        let v = u64::try_from(*n.get_ref())
            .ok()
            .filter(|v| *v > 0)
            .ok_or_else(|| {
                at(
                    span.start,
                    "state.output_max_chunks: must be a positive number".to_owned(),
                )
            })?;
        out.output_max_chunks = Some(v);
    }
    Ok((out, process))
}

/// Why a Redis URL cannot be used by this build, if it cannot.
fn url_problem(url: &str) -> Option<String> {
    if url.starts_with("rediss://") {
        return Some("TLS (rediss://) is not built into this mycelium; use redis:// over loopback or a private network".to_owned());
    }
    if !url.starts_with("redis://") && !url.starts_with("redis+unix://") {
        return Some("expected a redis:// or redis+unix:// URL".to_owned());
    }
    None
}

/// `[process]`, every key checked.
fn process_table(
    raw: RawProcess,
    at: &impl Fn(usize, String) -> StateError,
) -> Result<ProcessSettings, StateError> {
    let mut out = ProcessSettings::default();
    if let Some(n) = raw.max_concurrent {
        let span = n.span();
        let v = usize::try_from(*n.get_ref())
            .ok()
            .filter(|v| (1..=MAX_CONCURRENT_LIMIT).contains(v))
            .ok_or_else(|| {
                at(
                    span.start,
                    format!(
                        "process.max_concurrent: must be a number from 1 to {MAX_CONCURRENT_LIMIT}"
                    ),
                )
            })?;
        out.max_concurrent = Some(v);
    }
    if let Some(lease) = raw.lease {
        let span = lease.span();
        let d = crate::policy::parse_duration(lease.get_ref())
            .map_err(|m| at(span.start, format!("process.lease: {m}")))?;
        if d < MIN_LEASE {
            return Err(at(
                span.start,
                format!(
                    "process.lease: must be at least {}",
                    crate::policy::format_duration(MIN_LEASE)
                ),
            ));
        }
        out.lease = Some(d);
    }
    Ok(out)
}

/// 1-based line and column (in characters) of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_redis_password_is_redacted_in_every_url_form() {
        let cases = [
            (
                "redis://:hunter2@127.0.0.1:6379/0",
                "redis://:***@127.0.0.1:6379/0",
            ),
            ("redis://alice:hunter2@h:1", "redis://alice:***@h:1"),
            ("rediss://hunter2@h", "rediss://***@h"),
            (
                "redis+unix:///run/redis.sock?pass=hunter2",
                "redis+unix:///run/redis.sock?***",
            ),
            ("redis://h:1/0?password=hunter2", "redis://h:1/0?***"),
            ("redis://a:b@c:hunter2@h/", "redis://a:***@h/"),
            ("redis://h:6379", "redis://h:6379"),
        ];
        for (url, want) in cases {
            assert_eq!(redact_url(url), want);
            let wrapped = RedisUrl::new(url);
            assert!(!format!("{wrapped} {wrapped:?}").contains("hunter2"));
        }
        assert!(!redact_url("hunter2").contains("hunter2"));
    }

    fn home_with(text: &str) -> tempfile::TempDir {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(CONFIG_FILE);
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        dir
    }

    #[test]
    fn a_config_others_can_write_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = home_with("[state]\nredis_url = \"redis://evil\"\n");
        let path = dir.path().join(CONFIG_FILE);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).unwrap();
        let e = StoreConfig::resolve(dir.path(), None, None).unwrap_err();
        assert!(matches!(e, StateError::Insecure { .. }), "{e}");
        // Twin: owner-only, the same file is read.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let c = StoreConfig::resolve(dir.path(), None, None).unwrap();
        assert!(matches!(c.backend, Backend::Redis { .. }));
    }

    #[test]
    fn no_url_anywhere_means_sqlite_in_home() {
        let dir = tempfile::tempdir().unwrap();
        let c = StoreConfig::resolve(dir.path(), None, Some("")).unwrap();
        assert_eq!(c, StoreConfig::sqlite(&dir.path().join("state.db")));
    }

    #[test]
    fn the_flag_beats_the_environment_which_beats_the_file() {
        let dir = home_with(
            "[consent]\nrequired_at = \"high\"\n[state]\nredis_url = \"redis://file\"\nredis_prefix = \"p\"\nretention = \"1d\"\n",
        );
        let url = |c: StoreConfig| match c.backend {
            Backend::Redis { url, prefix } => (url.expose().to_owned(), prefix),
            Backend::Sqlite { .. } => panic!("sqlite"),
        };
        let home = dir.path();
        let c = StoreConfig::resolve(home, None, None).unwrap();
        assert_eq!(c.retention, Duration::from_secs(86_400));
        assert_eq!(url(c), ("redis://file".to_owned(), "p".to_owned()));
        let c = StoreConfig::resolve(home, None, Some("redis://env")).unwrap();
        assert_eq!(url(c).0, "redis://env");
        let c = StoreConfig::resolve(home, Some("redis://flag"), Some("redis://env")).unwrap();
        assert_eq!(url(c).0, "redis://flag");
    }

    #[test]
    fn urls_from_the_flag_and_the_environment_are_checked_too() {
        let dir = tempfile::tempdir().unwrap();
        let e = StoreConfig::resolve(dir.path(), Some("rediss://:hunter2@h:6380/0"), None)
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "--redis = rediss://:***@h:6380/0: TLS (rediss://) is not built into this mycelium; use redis:// over loopback or a private network"
        );
        let e = StoreConfig::resolve(dir.path(), None, Some("http://u:hunter2@h"))
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "MYCELIUM_REDIS_URL = http://u:***@h: expected a redis:// or redis+unix:// URL"
        );
        // Twins: a good URL, an empty one that counts as unset, and a bad variable the
        // flag overrides.
        assert!(StoreConfig::resolve(dir.path(), Some("redis://127.0.0.1:1/"), Some("")).is_ok());
        assert!(
            StoreConfig::resolve(dir.path(), Some("redis://127.0.0.1:1/"), Some("http://x"))
                .is_ok()
        );
    }

    #[test]
    fn process_settings_are_read_and_checked() {
        let dir = home_with("[process]\nmax_concurrent = 3\nlease = \"2s\"\n");
        assert_eq!(
            ProcessSettings::load(dir.path()).unwrap(),
            ProcessSettings {
                max_concurrent: Some(3),
                lease: Some(Duration::from_secs(2)),
            }
        );
        let dir = home_with("[state]\nretention = \"1d\"\n");
        assert_eq!(
            ProcessSettings::load(dir.path()).unwrap(),
            ProcessSettings::default()
        );
        for (text, want) in [
            (
                "[process]\nmax_concurrent = 0\n",
                "config.toml:2:18: process.max_concurrent: must be a number from 1 to 1024",
            ),
            (
                "[process]\nmax_concurrent = 5000\n",
                "config.toml:2:18: process.max_concurrent: must be a number from 1 to 1024",
            ),
            (
                "[process]\nlease = \"100ms\"\n",
                "config.toml:2:9: process.lease: must be at least",
            ),
            (
                "[process]\nleese = \"1s\"\n",
                "config.toml:2:1: unknown field `leese`",
            ),
        ] {
            let dir = home_with(text);
            let e = ProcessSettings::load(dir.path()).unwrap_err().to_string();
            let dir_prefix = format!("{}/", dir.path().display());
            let shown = e.strip_prefix(&dir_prefix).unwrap_or(&e);
            assert!(shown.starts_with(want), "{text:?}: {e}");
        }
    }

    #[test]
    fn bad_state_keys_are_located() {
        let cases = [
            (
                "[state]\nretention = \"7 days\"\n",
                "config.toml:2:13: state.retention: invalid duration",
            ),
            (
                "[state]\nretention = \"0s\"\n",
                "config.toml:2:13: state.retention: must be longer than zero",
            ),
            (
                "[state]\n\nredis_prefix = \"a:b\"\n",
                "config.toml:3:16: state.redis_prefix = \"a:b\"",
            ),
            (
                "[state]\nredis_url = \"http://u:hunter2@h\"\n",
                "config.toml:2:13: state.redis_url = http://u:***@h: expected a redis:// or redis+unix:// URL",
            ),
            (
                "[state]\nredis_ulr = \"redis://h\"\n",
                "config.toml:2:1: unknown field `redis_ulr`",
            ),
        ];
        for (text, want) in cases {
            let dir = home_with(text);
            let e = StoreConfig::resolve(dir.path(), None, None)
                .unwrap_err()
                .to_string();
            let dir_prefix = format!("{}/", dir.path().display());
            let shown = e.strip_prefix(&dir_prefix).unwrap_or(&e);
            assert!(shown.starts_with(want), "{text:?}: {e}");
            assert!(!e.contains("hunter2"));
        }
    }
}
