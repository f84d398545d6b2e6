//! The consent store: `$MYCELIUM_HOME/agent_consents.json`.
//!
//! Invariants:
//! - **Fail closed.** A store that cannot be read, does not parse, has an unknown schema
//!   version, is a symlink, or is writable by anyone but its owner grants nothing; the
//!   error says where it broke and how to recover. Writers refuse to touch it too, so a
//!   damaged file is never overwritten and lost.
//! - **Atomic.** Every change is a whole new file: written to a temporary file, fsync'd,
//!   renamed over the store, and the directory fsync'd. A reader sees the old or the new
//!   store, never a mix; a writer killed at any instant leaves one or the other.
//! - **Serialized.** Writers hold an exclusive `flock` on `agent_consents.lock` (a separate
//!   file, because the store itself is replaced) across read-modify-write, so concurrent
//!   grants from many processes all survive. Readers need no lock.
//! - **Private.** The directory is created 0700 and the files 0600.

use std::collections::BTreeMap;
use std::fs::{DirBuilder, File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};

use super::ConsentError;
use super::diff::Terms;
use crate::policy::RiskLevel;
use crate::registry::Checksum;

/// The store's file name inside `$MYCELIUM_HOME`.
pub const STORE_FILE: &str = "agent_consents.json";
/// The lock file's name inside `$MYCELIUM_HOME`.
pub const LOCK_FILE: &str = "agent_consents.lock";
/// The schema this build reads and writes.
pub const SCHEMA_VERSION: u32 = 1;

/// Who gave (or refused) consent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grantor {
    /// The user name (from the password database; `uid N` when it has no entry).
    pub user: String,
    /// The real user id of the process that recorded the decision.
    pub uid: u32,
}

impl Grantor {
    /// The user running this process.
    #[must_use]
    pub fn current() -> Grantor {
        let uid = nix::unistd::getuid();
        let user = nix::unistd::User::from_uid(uid)
            .ok()
            .flatten()
            .map_or_else(|| format!("uid {uid}"), |u| u.name);
        Grantor {
            user,
            uid: uid.as_raw(),
        }
    }
}

/// One reason for the recorded risk level.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordedReason {
    /// The level this reason implies.
    #[serde(with = "level_serde")]
    pub level: RiskLevel,
    /// In plain words.
    pub text: String,
}

/// The risk as it was when consent was given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordedRisk {
    /// The level.
    #[serde(with = "level_serde")]
    pub level: RiskLevel,
    /// Why.
    pub reasons: Vec<RecordedReason>,
}

/// What was consented to, kept to show later what changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Snapshot {
    /// The policy file's text as consented.
    pub policy: String,
    /// Every setting, flattened (see `consent::diff`).
    pub terms: Terms,
}

/// A granted consent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsentRecord {
    /// The agent's name.
    pub agent: String,
    /// The consent checksum of policy, definition and pins at the time.
    pub checksum: Checksum,
    /// The risk at the time.
    pub risk: RecordedRisk,
    /// When consent was given.
    pub granted_at: Timestamp,
    /// When it stops counting, if it was given for a limited time.
    pub expires_at: Option<Timestamp>,
    /// Who gave it.
    pub granted_by: Grantor,
    /// The policy file it was given for.
    pub policy_path: PathBuf,
    /// The definition file, if any.
    pub definition_path: Option<PathBuf>,
    /// What was consented to.
    pub snapshot: Snapshot,
}

/// An explicit refusal: the agent never runs while it stands, whatever was granted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Denial {
    /// The agent's name.
    pub agent: String,
    /// When it was denied.
    pub denied_at: Timestamp,
    /// Who denied it.
    pub denied_by: Grantor,
}

/// The whole store file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreData {
    /// Always [`SCHEMA_VERSION`] when written by this build.
    pub schema_version: u32,
    /// Grants, by agent name.
    pub consents: BTreeMap<String, ConsentRecord>,
    /// Denials, by agent name.
    pub denials: BTreeMap<String, Denial>,
}

impl Default for StoreData {
    fn default() -> Self {
        StoreData {
            schema_version: SCHEMA_VERSION,
            consents: BTreeMap::new(),
            denials: BTreeMap::new(),
        }
    }
}

/// Only the version, read first so a newer schema gets its own error.
#[derive(Deserialize)]
struct VersionOnly {
    schema_version: Option<u32>,
}

mod level_serde {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::policy::RiskLevel;

    pub fn serialize<S: Serializer>(l: &RiskLevel, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(l.as_str())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<RiskLevel, D::Error> {
        let s = String::deserialize(d)?;
        RiskLevel::parse(&s).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "unknown risk level {s:?}, expected \"low\", \"medium\" or \"high\""
            ))
        })
    }
}

/// The store in one directory.
#[derive(Debug, Clone)]
pub struct ConsentStore {
    dir: PathBuf,
}

impl ConsentStore {
    /// The store in `dir` (`$MYCELIUM_HOME`); nothing is touched until it is used.
    #[must_use]
    pub fn new(dir: &Path) -> ConsentStore {
        ConsentStore {
            dir: dir.to_path_buf(),
        }
    }

    /// The store file.
    #[must_use]
    pub fn path(&self) -> PathBuf {
        self.dir.join(STORE_FILE)
    }

    /// The lock file.
    #[must_use]
    pub fn lock_path(&self) -> PathBuf {
        self.dir.join(LOCK_FILE)
    }

    /// Read the store (no lock needed: it is only ever replaced whole). A missing store or
    /// directory is an empty store.
    ///
    /// # Errors
    /// [`ConsentError::Insecure`], [`ConsentError::Corrupt`], [`ConsentError::Version`] or
    /// [`ConsentError::Io`]: in every case nothing is granted.
    pub fn load(&self) -> Result<StoreData, ConsentError> {
        match std::fs::metadata(&self.dir) {
            Ok(m) => check_secure(&self.dir, &m, true)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(StoreData::default()),
            Err(source) => return Err(io("inspect", &self.dir, source)),
        }
        self.read_file()
    }

    fn read_file(&self) -> Result<StoreData, ConsentError> {
        let path = self.path();
        let mut file = match OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NOCTTY)
            .open(&path)
        {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(StoreData::default()),
            Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
                return Err(ConsentError::Insecure {
                    path,
                    problem: "is a symbolic link".into(),
                    fix: "replace it with the file itself, or run `mycelium consent reset`".into(),
                });
            }
            Err(source) => return Err(io("open", &path, source)),
        };
        let meta = file.metadata().map_err(|e| io("inspect", &path, e))?;
        if !meta.is_file() {
            return Err(ConsentError::Insecure {
                path,
                problem: "is not a regular file".into(),
                fix: "move it away".into(),
            });
        }
        check_secure(&path, &meta, false)?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)
            .map_err(|e| io("read", &path, e))?;
        parse(&path, &bytes)
    }

    /// Run `change` on the current store under the exclusive lock and write the result
    /// atomically. When `change` fails, nothing is written.
    ///
    /// # Errors
    /// Those of [`ConsentStore::load`], `change`'s own, and [`ConsentError::Io`] when the
    /// directory, lock or file cannot be created or written.
    pub fn update<T>(
        &self,
        change: impl FnOnce(&mut StoreData) -> Result<T, ConsentError>,
    ) -> Result<T, ConsentError> {
        let _lock = self.lock()?;
        let mut data = self.read_file()?;
        let out = change(&mut data)?;
        data.schema_version = SCHEMA_VERSION;
        self.write(&data)?;
        Ok(out)
    }

    /// Move the store aside to `agent_consents.json.broken-<time>` (kept, never deleted),
    /// under the lock. Returns where it went, or `None` when there was no store.
    ///
    /// # Errors
    /// [`ConsentError::Io`] when it cannot be moved; [`ConsentError::Insecure`] when the
    /// directory itself is unsafe.
    pub fn reset(&self) -> Result<Option<PathBuf>, ConsentError> {
        let _lock = self.lock()?;
        let path = self.path();
        if std::fs::symlink_metadata(&path).is_err() {
            return Ok(None);
        }
        let stamp = Timestamp::now().strftime("%Y%m%dT%H%M%SZ").to_string();
        let mut aside = self.dir.join(format!("{STORE_FILE}.broken-{stamp}"));
        let mut n = 1;
        while std::fs::symlink_metadata(&aside).is_ok() {
            aside = self.dir.join(format!("{STORE_FILE}.broken-{stamp}.{n}"));
            n += 1;
        }
        std::fs::rename(&path, &aside).map_err(|e| io("move aside", &path, e))?;
        sync_dir(&self.dir)?;
        Ok(Some(aside))
    }

    /// Create the directory if needed (0700), check it, and take the exclusive lock.
    fn lock(&self) -> Result<Flock<File>, ConsentError> {
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.dir)
            .map_err(|e| io("create", &self.dir, e))?;
        let meta = std::fs::metadata(&self.dir).map_err(|e| io("inspect", &self.dir, e))?;
        check_secure(&self.dir, &meta, true)?;
        let lock_path = self.lock_path();
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&lock_path)
            .map_err(|e| io("open", &lock_path, e))?;
        let meta = file.metadata().map_err(|e| io("inspect", &lock_path, e))?;
        check_secure(&lock_path, &meta, false)?;
        Flock::lock(file, FlockArg::LockExclusive).map_err(|(_, errno)| {
            io(
                "lock",
                &lock_path,
                std::io::Error::from_raw_os_error(errno as i32),
            )
        })
    }

    /// Write-to-temp, fsync, rename, fsync the directory. Caller holds the lock, so the
    /// temporary name is never shared.
    fn write(&self, data: &StoreData) -> Result<(), ConsentError> {
        let path = self.path();
        let tmp = self.dir.join(format!("{STORE_FILE}.tmp"));
        let mut text = serde_json::to_vec_pretty(data).map_err(|e| ConsentError::Io {
            op: "serialize",
            path: path.clone(),
            source: std::io::Error::other(e),
        })?;
        text.push(b'\n');
        // A writer killed earlier may have left one behind; it was never the store.
        match std::fs::remove_file(&tmp) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io("remove", &tmp, e)),
        }
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&tmp)
            .map_err(|e| io("create", &tmp, e))?;
        f.write_all(&text).map_err(|e| io("write", &tmp, e))?;
        f.sync_all().map_err(|e| io("fsync", &tmp, e))?;
        drop(f);
        std::fs::rename(&tmp, &path).map_err(|e| io("replace", &path, e))?;
        sync_dir(&self.dir)
    }
}

fn sync_dir(dir: &Path) -> Result<(), ConsentError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io("fsync", dir, e))
}

fn io(op: &'static str, path: &Path, source: std::io::Error) -> ConsentError {
    ConsentError::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}

/// Owned by us and writable by no one else, or refused with the command that fixes it.
fn check_secure(path: &Path, meta: &std::fs::Metadata, is_dir: bool) -> Result<(), ConsentError> {
    let me = nix::unistd::geteuid().as_raw();
    if meta.uid() != me {
        return Err(ConsentError::Insecure {
            path: path.to_path_buf(),
            problem: format!("is owned by uid {}, not by you (uid {me})", meta.uid()),
            fix: format!(
                "check who changed it, then `chown {me} {}`{}",
                path.display(),
                if is_dir { "" } else { " or move it away" }
            ),
        });
    }
    let mode = meta.mode() & 0o7777;
    if mode & 0o022 != 0 {
        let want = if is_dir { "700" } else { "600" };
        return Err(ConsentError::Insecure {
            path: path.to_path_buf(),
            problem: format!("is writable by other users (mode {mode:o})"),
            fix: format!("check its contents, then `chmod {want} {}`", path.display()),
        });
    }
    Ok(())
}

/// Parse and validate the store's bytes; every failure is located.
fn parse(path: &Path, bytes: &[u8]) -> Result<StoreData, ConsentError> {
    let corrupt =
        |line: usize, column: usize, key: String, message: String| ConsentError::Corrupt {
            path: path.to_path_buf(),
            line,
            column,
            key,
            message,
        };
    let version: VersionOnly = serde_json::from_slice(bytes)
        .map_err(|e| corrupt(e.line(), e.column(), String::new(), json_message(&e)))?;
    match version.schema_version {
        Some(SCHEMA_VERSION) => {}
        Some(found) => {
            return Err(ConsentError::Version {
                path: path.to_path_buf(),
                found,
            });
        }
        None => {
            return Err(corrupt(1, 1, "schema_version".into(), "missing".into()));
        }
    }
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    let data: StoreData = serde_path_to_error::deserialize(de).map_err(|e| {
        let key = e.path().to_string();
        let inner = e.into_inner();
        corrupt(inner.line(), inner.column(), key, json_message(&inner))
    })?;
    for (key, rec) in &data.consents {
        if *key != rec.agent {
            return Err(corrupt(
                0,
                0,
                format!("consents.{key}.agent"),
                format!("record filed under {key:?} names agent {:?}", rec.agent),
            ));
        }
    }
    for (key, d) in &data.denials {
        if *key != d.agent {
            return Err(corrupt(
                0,
                0,
                format!("denials.{key}.agent"),
                format!("denial filed under {key:?} names agent {:?}", d.agent),
            ));
        }
    }
    Ok(data)
}

/// serde_json's message without its trailing " at line L column C".
fn json_message(e: &serde_json::Error) -> String {
    let s = e.to_string();
    match s.rfind(" at line ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn denial(name: &str) -> Denial {
        Denial {
            agent: name.into(),
            denied_at: Timestamp::UNIX_EPOCH,
            denied_by: Grantor {
                user: "u".into(),
                uid: 1,
            },
        }
    }

    #[test]
    fn creates_private_files_and_round_trips() {
        let t = tempfile::tempdir().unwrap();
        let home = t.path().join("home");
        let s = ConsentStore::new(&home);
        assert_eq!(s.load().unwrap(), StoreData::default());
        s.update(|d| {
            d.denials.insert("a".into(), denial("a"));
            Ok(())
        })
        .unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&home), 0o700);
        assert_eq!(mode(&s.path()), 0o600);
        assert_eq!(mode(&s.lock_path()), 0o600);
        assert_eq!(s.load().unwrap().denials.len(), 1);
    }

    #[test]
    fn garbage_is_located_and_never_overwritten() {
        let t = tempfile::tempdir().unwrap();
        let s = ConsentStore::new(t.path());
        std::fs::write(
            s.path(),
            "{\n  \"schema_version\": 1,\n  \"consents\": {,\n",
        )
        .unwrap();
        std::fs::set_permissions(s.path(), std::fs::Permissions::from_mode(0o600)).unwrap();
        let e = s.load().unwrap_err();
        match &e {
            ConsentError::Corrupt { line, .. } => assert_eq!(*line, 3),
            other => panic!("{other}"),
        }
        assert!(e.to_string().contains("mycelium consent reset"), "{e}");
        assert!(s.update(|_| Ok(())).is_err());
        assert!(std::fs::read_to_string(s.path()).unwrap().contains("{,"));
        let aside = s.reset().unwrap().unwrap();
        assert!(std::fs::read_to_string(aside).unwrap().contains("{,"));
        assert_eq!(s.load().unwrap(), StoreData::default());
    }

    #[test]
    fn newer_schema_is_refused() {
        let t = tempfile::tempdir().unwrap();
        let s = ConsentStore::new(t.path());
        std::fs::write(
            s.path(),
            r#"{"schema_version": 2, "consents": {}, "denials": {}}"#,
        )
        .unwrap();
        std::fs::set_permissions(s.path(), std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(matches!(
            s.load(),
            Err(ConsentError::Version { found: 2, .. })
        ));
    }

    #[test]
    fn world_writable_store_is_refused_with_a_fix() {
        let t = tempfile::tempdir().unwrap();
        let s = ConsentStore::new(t.path());
        std::fs::write(
            s.path(),
            r#"{"schema_version": 1, "consents": {}, "denials": {}}"#,
        )
        .unwrap();
        std::fs::set_permissions(s.path(), std::fs::Permissions::from_mode(0o666)).unwrap();
        let e = s.load().unwrap_err().to_string();
        assert!(e.contains("chmod 600"), "{e}");
    }

    #[test]
    fn misfiled_record_is_corrupt() {
        let t = tempfile::tempdir().unwrap();
        let s = ConsentStore::new(t.path());
        let mut d = StoreData::default();
        d.denials.insert("a".into(), denial("b"));
        std::fs::write(s.path(), serde_json::to_vec(&d).unwrap()).unwrap();
        std::fs::set_permissions(s.path(), std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(matches!(s.load(), Err(ConsentError::Corrupt { .. })));
    }
}
