//! The audit log: one JSON line per workflow transition, appended to
//! `$MYCELIUM_HOME/audit.jsonl` — which agent ran, with which consent checksum and risk,
//! for whom, to which status, with how many redactions.
//!
//! It must never hold task text or output, sanitized or not: an [`AuditEntry`] can only be
//! built from a [`WorkflowRecord`] by copying the fields listed in its type, none of which
//! is the task, the result or output. Its invariants: the file is a regular file of the
//! caller's, readable by no one else (created 0600, refused otherwise); it is only ever
//! appended to (`O_APPEND`), each line by a single `write(2)`, so lines from concurrent
//! writers, threads or processes, never interleave. A line the file system cut short (full
//! disk) is reported, and the log's next line ends it first, so that line stands whole on
//! its own.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use serde::Serialize;

use super::{WorkflowRecord, format_time};
use crate::policy::RiskLevel;

/// The audit log's file name inside `$MYCELIUM_HOME`.
pub const AUDIT_FILE: &str = "audit.jsonl";

/// What went wrong with the audit log.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// `$MYCELIUM_HOME` could not be created.
    #[error("cannot create {}", path.display())]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The file could not be opened or inspected.
    #[error("cannot {op} the audit log {}", path.display())]
    Io {
        /// What was attempted.
        op: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The file is not one mycelium may append to: a link, not a regular file, another
    /// user's, or readable or writable by others. It is left untouched.
    #[error("audit log {}: {problem}", path.display())]
    Insecure {
        /// The file.
        path: PathBuf,
        /// What is wrong, and what to do.
        problem: String,
    },
    /// A line could not be appended.
    #[error("cannot append to the audit log {}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Only part of a line was written (the disk is full, or a quota was reached).
    #[error(
        "audit log {}: only {written} of {len} bytes of a line were written; is the disk full?",
        path.display()
    )]
    ShortWrite {
        /// The file.
        path: PathBuf,
        /// Bytes written.
        written: usize,
        /// Bytes of the line.
        len: usize,
    },
    /// A line could not be encoded (not expected: every field is plain data).
    #[error("cannot encode an audit line")]
    Encode(#[source] serde_json::Error),
}

/// Through which front end a workflow was started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Via {
    /// `mycelium run` on the command line.
    Cli,
    /// A tool call to the MCP server.
    Mcp,
}

/// Who started a workflow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StartedBy {
    /// The user name (from the password database; `uid N` when it has no entry).
    pub user: String,
    /// The real user id.
    pub uid: u32,
    /// The front end, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub via: Option<Via>,
}

impl StartedBy {
    /// The user running this process, through `via`.
    #[must_use]
    pub fn current(via: Option<Via>) -> Self {
        let uid = nix::unistd::getuid();
        let user = nix::unistd::User::from_uid(uid)
            .ok()
            .flatten()
            .map_or_else(|| format!("uid {uid}"), |u| u.name);
        StartedBy {
            user,
            uid: uid.as_raw(),
            via,
        }
    }
}

/// One line of the audit log. Its fields are private and it is made only from a
/// [`WorkflowRecord`] ([`AuditEntry::new`]), which it copies field by field: the task, the
/// result and the output have no place in it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditEntry {
    time: String,
    workflow_id: String,
    agent_name: String,
    checksum: String,
    risk_level: RiskLevel,
    status: &'static str,
    started_by: StartedBy,
    redactions: BTreeMap<String, u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    exit_code: Option<i32>,
    /// The store's error text (sanitized by whoever recorded it, e.g. `exit status 3`,
    /// `executor lost`).
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

impl AuditEntry {
    /// The line for `record`'s current status, stamped now.
    #[must_use]
    pub fn new(record: &WorkflowRecord, started_by: &StartedBy) -> Self {
        AuditEntry::at(record, started_by, super::now())
    }

    /// The line for `record`'s current status, stamped `time`.
    #[must_use]
    pub fn at(record: &WorkflowRecord, started_by: &StartedBy, time: Timestamp) -> Self {
        AuditEntry {
            time: format_time(time),
            workflow_id: record.workflow_id.to_string(),
            agent_name: record.agent_name.clone(),
            checksum: record.checksum.clone(),
            risk_level: record.risk_level,
            status: record.status.as_str(),
            started_by: started_by.clone(),
            redactions: record.redactions.clone(),
            exit_code: record.exit_code,
            error: record.error.clone(),
        }
    }
}

/// The audit log, open for appending. Cheap to share between threads (`&self` appends).
#[derive(Debug)]
pub struct AuditLog {
    file: File,
    path: PathBuf,
    /// The last write was cut short: the next line ends that one first.
    torn: std::sync::atomic::AtomicBool,
}

impl AuditLog {
    /// Open `home/audit.jsonl` for appending, creating it with mode 0600 (and `home` with
    /// mode 0700) when missing.
    ///
    /// # Errors
    /// [`AuditError::Insecure`] when the name is a symbolic link, not a regular file,
    /// another user's, or readable or writable by group or others (the file is left as it
    /// is); [`AuditError::CreateDir`] or [`AuditError::Io`] when it cannot be opened.
    pub fn open(home: &Path) -> Result<Self, AuditError> {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(home)
            .map_err(|source| AuditError::CreateDir {
                path: home.to_owned(),
                source,
            })?;
        let path = home.join(AUDIT_FILE);
        let insecure = |problem: String| AuditError::Insecure {
            path: path.clone(),
            problem,
        };
        // O_NOFOLLOW: a link planted at the name is refused, never followed. O_NONBLOCK:
        // a FIFO planted there makes open fail (ENXIO) instead of waiting for a reader; it
        // changes nothing for a regular file. O_CLOEXEC: no sandbox inherits it.
        let file = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
            .open(&path)
            .map_err(|source| match source.raw_os_error() {
                Some(libc::ELOOP) => insecure(
                    "is a symbolic link, which mycelium never follows here; remove it".to_owned(),
                ),
                Some(libc::ENXIO | libc::EISDIR) => {
                    insecure("is not a regular file; move it away".to_owned())
                }
                _ => AuditError::Io {
                    op: "open",
                    path: path.clone(),
                    source,
                },
            })?;
        // Checked on the descriptor just opened, so what is checked is what is written.
        let meta = file.metadata().map_err(|source| AuditError::Io {
            op: "inspect",
            path: path.clone(),
            source,
        })?;
        let me = nix::unistd::geteuid().as_raw();
        if !meta.is_file() {
            return Err(insecure("is not a regular file; move it away".to_owned()));
        }
        if meta.uid() != me {
            return Err(insecure(format!(
                "belongs to uid {}, not to uid {me} who appends to it; move it away",
                meta.uid()
            )));
        }
        if meta.mode() & 0o077 != 0 {
            return Err(insecure(format!(
                "is open to group or others (mode {:o}); fix with `chmod 600 {}`",
                meta.mode() & 0o7777,
                path.display()
            )));
        }
        Ok(AuditLog {
            file,
            path,
            torn: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// The file.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Append one line. The file is not synced: a crash of the host may lose the last
    /// lines, never tear one into another.
    ///
    /// # Errors
    /// [`AuditError::Write`], [`AuditError::ShortWrite`].
    pub fn append(&self, entry: &AuditEntry) -> Result<(), AuditError> {
        let mut line = serde_json::to_vec(entry).map_err(AuditError::Encode)?;
        line.push(b'\n');
        // A line this log's last write left cut short (full disk) is ended first, so
        // this one starts on its own line and parses.
        let torn = self.torn.load(std::sync::atomic::Ordering::Relaxed);
        if torn {
            line.insert(0, b'\n');
        }
        // One write(2) on an O_APPEND descriptor: the kernel places the whole buffer at
        // the end of the file atomically with respect to other appends (the inode lock is
        // held across it), so concurrent lines never interleave. Retrying the rest of a
        // short write could interleave, so a short write is reported instead.
        let written = (&self.file)
            .write(&line)
            .map_err(|source| AuditError::Write {
                path: self.path.clone(),
                source,
            })?;
        let cut = written != line.len();
        if torn != cut {
            self.torn.store(cut, std::sync::atomic::Ordering::Relaxed);
        }
        if cut {
            return Err(AuditError::ShortWrite {
                path: self.path.clone(),
                written,
                len: line.len(),
            });
        }
        Ok(())
    }

    /// Append the line for `record`'s current status, stamped now.
    ///
    /// # Errors
    /// As [`AuditLog::append`].
    pub fn record(
        &self,
        record: &WorkflowRecord,
        started_by: &StartedBy,
    ) -> Result<(), AuditError> {
        self.append(&AuditEntry::new(record, started_by))
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;
    use crate::state::{NewWorkflow, WorkflowId, WorkflowStatus};
    use pretty_assertions::assert_eq;

    fn record(task: &str) -> WorkflowRecord {
        let id = WorkflowId::parse("0123456789abcdef0123456789abcdef").unwrap();
        let new = NewWorkflow {
            agent_name: "summarize".to_owned(),
            task: task.to_owned(),
            risk_level: RiskLevel::Medium,
            checksum: "sha256:abcd".to_owned(),
        };
        WorkflowRecord::pending(id, &new, "2026-01-02T03:04:05Z".parse().unwrap())
    }

    fn alice(via: Option<Via>) -> StartedBy {
        StartedBy {
            user: "alice".to_owned(),
            uid: 1000,
            via,
        }
    }

    fn lines(log: &AuditLog) -> Vec<serde_json::Value> {
        std::fs::read_to_string(log.path())
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    #[test]
    fn the_file_is_created_owner_only_in_an_owner_only_home() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home");
        let log = AuditLog::open(&home).unwrap();
        assert_eq!(log.path(), home.join("audit.jsonl"));
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode(log.path()), 0o600);
        assert_eq!(mode(&home), 0o700);
    }

    #[test]
    fn each_transition_is_one_json_line_and_reopening_appends() {
        let dir = tempfile::tempdir().unwrap();
        let t = |s: &str| s.parse::<Timestamp>().unwrap();
        let mut r = record("a task");
        let log = AuditLog::open(dir.path()).unwrap();
        log.append(&AuditEntry::at(
            &r,
            &alice(Some(Via::Cli)),
            t("2026-01-02T03:04:05Z"),
        ))
        .unwrap();
        r.status = WorkflowStatus::Running;
        log.append(&AuditEntry::at(
            &r,
            &alice(None),
            t("2026-01-02T03:04:06.5Z"),
        ))
        .unwrap();
        drop(log);
        let log = AuditLog::open(dir.path()).unwrap();
        r.status = WorkflowStatus::Failed;
        r.exit_code = Some(3);
        r.error = Some("exit status 3".to_owned());
        r.redactions = BTreeMap::from([("aws_key".to_owned(), 2)]);
        log.append(&AuditEntry::at(
            &r,
            &alice(Some(Via::Mcp)),
            t("2026-01-02T03:04:07Z"),
        ))
        .unwrap();
        let base = |time: &str, status: &str, by: serde_json::Value| {
            serde_json::json!({
                "time": time,
                "workflow_id": "0123456789abcdef0123456789abcdef",
                "agent_name": "summarize",
                "checksum": "sha256:abcd",
                "risk_level": "medium",
                "status": status,
                "started_by": by,
                "redactions": {},
            })
        };
        let mut last = base(
            "2026-01-02T03:04:07Z",
            "failed",
            serde_json::json!({"user": "alice", "uid": 1000, "via": "mcp"}),
        );
        last["redactions"] = serde_json::json!({"aws_key": 2});
        last["exit_code"] = serde_json::json!(3);
        last["error"] = serde_json::json!("exit status 3");
        assert_eq!(
            lines(&log),
            vec![
                base(
                    "2026-01-02T03:04:05Z",
                    "pending",
                    serde_json::json!({"user": "alice", "uid": 1000, "via": "cli"})
                ),
                base(
                    "2026-01-02T03:04:06.5Z",
                    "running",
                    serde_json::json!({"user": "alice", "uid": 1000})
                ),
                last,
            ]
        );
    }

    #[test]
    fn the_current_user_is_named_by_real_uid() {
        let by = StartedBy::current(Some(Via::Cli));
        assert_eq!(by.uid, nix::unistd::getuid().as_raw());
        assert!(!by.user.is_empty());
        assert_eq!(by.via, Some(Via::Cli));
    }

    #[test]
    fn a_symbolic_link_is_refused_and_its_target_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("elsewhere");
        std::fs::write(&target, "").unwrap();
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o600)).unwrap();
        let home = dir.path().join("home");
        std::fs::create_dir(&home).unwrap();
        std::os::unix::fs::symlink(&target, home.join(AUDIT_FILE)).unwrap();
        let e = AuditLog::open(&home).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "audit log {}: is a symbolic link, which mycelium never follows here; remove it",
                home.join(AUDIT_FILE).display()
            )
        );
        // Twin: the target itself, a regular owner-only file, is accepted.
        std::fs::remove_file(home.join(AUDIT_FILE)).unwrap();
        std::fs::rename(&target, home.join(AUDIT_FILE)).unwrap();
        let log = AuditLog::open(&home).unwrap();
        log.record(&record("t"), &alice(None)).unwrap();
        assert_eq!(lines(&log).len(), 1);
    }

    #[test]
    fn a_file_open_to_group_or_others_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(AUDIT_FILE);
        std::fs::write(&path, "").unwrap();
        for mode in [0o640, 0o604, 0o620] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            let e = AuditLog::open(dir.path()).unwrap_err();
            assert_eq!(
                e.to_string(),
                format!(
                    "audit log {}: is open to group or others (mode {mode:o}); fix with `chmod 600 {}`",
                    path.display(),
                    path.display()
                )
            );
        }
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(AuditLog::open(dir.path()).is_ok());
    }

    #[test]
    fn a_fifo_or_a_directory_is_refused_without_waiting() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(AUDIT_FILE);
        let want = format!(
            "audit log {}: is not a regular file; move it away",
            path.display()
        );
        nix::unistd::mkfifo(&path, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        assert_eq!(AuditLog::open(dir.path()).unwrap_err().to_string(), want);
        std::fs::remove_file(&path).unwrap();
        std::fs::create_dir(&path).unwrap();
        assert_eq!(AuditLog::open(dir.path()).unwrap_err().to_string(), want);
    }

    #[test]
    fn a_fifo_that_has_a_reader_is_refused_after_opening() {
        // With a reader present the non-blocking open succeeds: the check on the opened
        // descriptor is what refuses it.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(AUDIT_FILE);
        nix::unistd::mkfifo(&path, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        let _reader = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&path)
            .unwrap();
        assert_eq!(
            AuditLog::open(dir.path()).unwrap_err().to_string(),
            format!(
                "audit log {}: is not a regular file; move it away",
                path.display()
            )
        );
    }

    #[test]
    fn a_home_that_is_a_file_cannot_be_created() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home");
        std::fs::write(&home, "").unwrap();
        let e = AuditLog::open(&home).unwrap_err();
        assert!(matches!(e, AuditError::CreateDir { .. }), "{e:?}");
        assert_eq!(e.to_string(), format!("cannot create {}", home.display()));
        // Twin: once the file is gone, the home is made.
        std::fs::remove_file(&home).unwrap();
        assert!(AuditLog::open(&home).is_ok());
    }

    /// The largest length a file in `dir` may have (the file system's `s_maxbytes`):
    /// `ftruncate` to more fails with `EFBIG`. The file stays sparse, so costs no space.
    fn largest_file_size(dir: &Path) -> u64 {
        let probe = std::fs::File::create(dir.join("probe")).unwrap();
        let (mut lo, mut hi) = (0u64, i64::MAX as u64);
        while lo < hi {
            let mid = lo + (hi - lo).div_ceil(2);
            if probe.set_len(mid).is_ok() {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        drop(probe);
        std::fs::remove_file(dir.join("probe")).unwrap();
        lo
    }

    #[test]
    fn a_line_cut_by_the_size_limit_is_a_short_write_and_then_an_error() {
        // A file that reaches the file system's size limit behaves as a full disk does:
        // the kernel writes what fits, then refuses (EFBIG), on the real file `open` made.
        let dir = tempfile::tempdir().unwrap();
        let max = largest_file_size(dir.path());
        let log = AuditLog::open(dir.path()).unwrap();
        let entry = AuditEntry::at(
            &record("t"),
            &alice(None),
            "2026-01-02T03:04:05Z".parse().unwrap(),
        );
        let len = serde_json::to_vec(&entry).unwrap().len() + 1;
        // Twin: with room, the whole line goes in.
        log.append(&entry).unwrap();
        assert_eq!(std::fs::metadata(log.path()).unwrap().len(), len as u64);
        std::fs::OpenOptions::new()
            .write(true)
            .open(log.path())
            .unwrap()
            .set_len(max - 10)
            .unwrap();
        let e = log.append(&entry).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "audit log {}: only 10 of {len} bytes of a line were written; is the disk full?",
                log.path().display()
            )
        );
        assert_eq!(std::fs::metadata(log.path()).unwrap().len(), max);
        let e = log.record(&record("t"), &alice(None)).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("cannot append to the audit log {}", log.path().display())
        );
        let AuditError::Write { source, .. } = e else {
            panic!("not a write error: {e:?}");
        };
        assert_eq!(source.raw_os_error(), Some(libc::EFBIG));
        assert_eq!(std::fs::metadata(log.path()).unwrap().len(), max);
        // Room again (here: the file cut back to just after the torn bytes): the next line
        // ends the torn one first and stands on its own, whole.
        std::fs::OpenOptions::new()
            .write(true)
            .open(log.path())
            .unwrap()
            .set_len(len as u64 + 10)
            .unwrap();
        log.append(&entry).unwrap();
        let text = std::fs::read(log.path()).unwrap();
        let lines: Vec<&[u8]> = text.split(|b| *b == b'\n').collect();
        assert_eq!(lines.len(), 4, "{:?}", String::from_utf8_lossy(&text));
        assert_eq!(lines[3], b"");
        assert_eq!(lines[1].len(), 10);
        assert_eq!(lines[2], lines[0]);
        serde_json::from_slice::<serde_json::Value>(lines[2]).unwrap();
    }

    #[test]
    fn another_users_file_is_refused() {
        if !nix::unistd::geteuid().is_root() {
            // Only root can make a file another user's; as anyone else the check cannot
            // be provoked here.
            eprintln!("SKIPPED another_users_file_is_refused: needs root to chown a file");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(AUDIT_FILE);
        std::fs::write(&path, "").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::os::unix::fs::chown(&path, Some(65534), None).unwrap();
        let e = AuditLog::open(dir.path()).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "audit log {}: belongs to uid 65534, not to uid 0 who appends to it; move it away",
                path.display()
            )
        );
        std::os::unix::fs::chown(&path, Some(0), None).unwrap();
        assert!(AuditLog::open(dir.path()).is_ok());
    }

    #[test]
    fn concurrent_appends_from_many_threads_stay_whole_lines() {
        const THREADS: usize = 8;
        const EACH: usize = 200;
        let dir = tempfile::tempdir().unwrap();
        // Lines longer than a page (and than PIPE_BUF), where a torn write would show.
        let mut r = record("t");
        r.redactions = (0..300).map(|i| (format!("rule_{i:04}"), i)).collect();
        let shared = AuditLog::open(dir.path()).unwrap();
        std::thread::scope(|s| {
            for t in 0..THREADS {
                let (r, shared, home) = (&r, &shared, dir.path());
                s.spawn(move || {
                    // Half the threads share one descriptor, half open their own.
                    let own = AuditLog::open(home).unwrap();
                    let log = if t % 2 == 0 { shared } else { &own };
                    let by = StartedBy {
                        user: format!("thread-{t}"),
                        uid: 1000,
                        via: None,
                    };
                    for _ in 0..EACH {
                        log.append(&AuditEntry::new(r, &by)).unwrap();
                    }
                });
            }
        });
        let all = lines(&shared);
        assert_eq!(all.len(), THREADS * EACH);
        let mut per_thread = BTreeMap::new();
        for line in &all {
            assert_eq!(line["redactions"].as_object().unwrap().len(), 300);
            *per_thread
                .entry(line["started_by"]["user"].as_str().unwrap().to_owned())
                .or_insert(0) += 1;
        }
        let want: BTreeMap<String, usize> = (0..THREADS)
            .map(|t| (format!("thread-{t}"), EACH))
            .collect();
        assert_eq!(per_thread, want);
        assert!(all[0]["redactions"].to_string().len() > 4096);
    }

    #[test]
    fn task_text_and_output_never_reach_the_file() {
        let secret = "AKIAIOSFODNN7EXAMPLE wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
        let dir = tempfile::tempdir().unwrap();
        let log = AuditLog::open(dir.path()).unwrap();
        let mut r = record(&format!("deploy with {secret}"));
        log.record(&r, &alice(Some(Via::Cli))).unwrap();
        r.status = WorkflowStatus::Completed;
        r.exit_code = Some(0);
        r.result = Some(format!("printed {secret}\n"));
        r.truncated = true;
        log.record(&r, &alice(Some(Via::Cli))).unwrap();
        let bytes = std::fs::read(log.path()).unwrap();
        let text = String::from_utf8(bytes).unwrap();
        // Twin: the lines were written, with the record's other fields.
        assert_eq!(text.lines().count(), 2);
        assert!(text.contains("\"agent_name\":\"summarize\""), "{text}");
        for part in secret.split(' ') {
            assert!(!text.contains(part), "{text}");
        }
        assert!(!text.contains("deploy with"), "{text}");
        assert!(!text.contains("printed"), "{text}");
    }
}
