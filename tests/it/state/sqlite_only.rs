//! What only the SQLite backend has: file modes, schema versions, damaged, foreign and
//! planted files. A file the store refuses is left byte for byte as it was.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use mycelium::state::{StateError, StoreConfig, open_store};
use pretty_assertions::assert_eq;

use super::suite_new as new;

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o7777
}

fn open_err(path: &Path) -> StateError {
    match open_store(&StoreConfig::sqlite(path)) {
        Ok(_) => panic!("{} opened", path.display()),
        Err(e) => e,
    }
}

#[test]
fn state_sqlite_database_and_wal_are_created_owner_only() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let db = home.join("state.db");
    let store = open_store(&StoreConfig::resolve(&home, None, None).unwrap()).unwrap();
    store.create(&new("x")).unwrap();
    assert_eq!(mode(&home), 0o700);
    for file in ["state.db", "state.db-wal", "state.db-shm"] {
        assert_eq!(mode(&home.join(file)), 0o600, "{file}");
    }
    let journal: String = rusqlite::Connection::open(&db)
        .unwrap()
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(journal, "wal");
}

#[test]
fn state_sqlite_a_database_others_can_read_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("state.db");
    std::fs::write(&db, b"").unwrap();
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
    let e = open_err(&db);
    assert!(matches!(e, StateError::Insecure { .. }), "{e}");
    assert!(
        e.to_string()
            .ends_with(&format!("fix with `chmod 600 {}`", db.display())),
        "{e}"
    );
    // Twin: the same file, owner-only, opens.
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o600)).unwrap();
    open_store(&StoreConfig::sqlite(&db)).unwrap();
}

#[test]
fn state_sqlite_a_link_planted_at_the_database_path_is_not_followed() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("elsewhere.db");
    std::fs::write(&target, b"").unwrap();
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o600)).unwrap();
    let db = dir.path().join("state.db");
    std::os::unix::fs::symlink(&target, &db).unwrap();
    let e = open_err(&db);
    assert_eq!(e.to_string(), format!("cannot open {}", db.display()));
    assert_eq!(std::fs::read(&target).unwrap(), b"");
    // Twin: the link's target itself opens.
    open_store(&StoreConfig::sqlite(&target)).unwrap();
}

#[test]
fn state_sqlite_a_newer_schema_is_refused_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("state.db");
    let id = {
        let store = open_store(&StoreConfig::sqlite(&db)).unwrap();
        store.create(&new("x")).unwrap().workflow_id
    };
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute_batch("PRAGMA user_version = 2; PRAGMA wal_checkpoint(TRUNCATE);")
        .unwrap();
    let before = std::fs::read(&db).unwrap();
    let e = open_err(&db);
    assert_eq!(
        e.to_string(),
        format!(
            "{}: schema version 2 is newer than this mycelium understands (1); upgrade mycelium or move the file away",
            db.display()
        )
    );
    assert_eq!(std::fs::read(&db).unwrap(), before);
    // Twin: back at version 1 the same file opens, record intact.
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute_batch("PRAGMA user_version = 1;")
        .unwrap();
    let store = open_store(&StoreConfig::sqlite(&db)).unwrap();
    assert_eq!(store.get(id).unwrap().unwrap().agent_name, "x");
}

#[test]
fn state_sqlite_a_damaged_file_is_an_error_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("state.db");
    let garbage: Vec<u8> = b"this is not an sqlite database; "
        .iter()
        .copied()
        .cycle()
        .take(8192)
        .collect();
    std::fs::write(&db, &garbage).unwrap();
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o600)).unwrap();
    let e = open_err(&db);
    assert!(matches!(e, StateError::Sqlite { .. }), "{e:?}");
    assert!(
        e.to_string()
            .ends_with("failed; if the file is damaged, move it away (mycelium starts a new one)"),
        "{e}"
    );
    assert_eq!(std::fs::read(&db).unwrap(), garbage);
    // Twin: an empty file is a new database.
    std::fs::write(&db, b"").unwrap();
    open_store(&StoreConfig::sqlite(&db)).unwrap();
}

#[test]
fn state_sqlite_a_foreign_database_is_refused_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("state.db");
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute_batch("CREATE TABLE notes (text TEXT); INSERT INTO notes VALUES ('mine');")
        .unwrap();
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o600)).unwrap();
    let before = std::fs::read(&db).unwrap();
    let e = open_err(&db);
    assert!(matches!(e, StateError::Foreign { .. }), "{e}");
    assert_eq!(std::fs::read(&db).unwrap(), before);
}

#[test]
fn state_sqlite_a_directory_others_can_change_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    std::fs::create_dir(&home).unwrap();
    std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o777)).unwrap();
    let e = open_err(&home.join("state.db"));
    assert!(
        e.to_string()
            .ends_with(&format!("fix with `chmod 700 {}`", home.display())),
        "{e}"
    );
    assert!(!home.join("state.db").exists(), "nothing is created there");
    // Twin: owner-only, the same directory holds the database.
    std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o700)).unwrap();
    open_store(&StoreConfig::sqlite(&home.join("state.db"))).unwrap();
}

/// A second process (python's sqlite3, read-only) follows a workflow that this process
/// writes, while it writes: WAL lets readers in without blocking the writer.
#[test]
fn state_sqlite_another_process_reads_while_this_one_writes() {
    use std::io::{BufRead, BufReader, Write};
    use std::process::{Command, Stdio};

    use mycelium::state::{Owner, WorkflowStatus};

    let probe = Command::new("python3")
        .args(["-c", "import sqlite3"])
        .status();
    if !probe.is_ok_and(|s| s.success()) {
        assert_ne!(
            std::env::var("MYCELIUM_REQUIRE_SANDBOX").as_deref(),
            Ok("1"),
            "python3 with sqlite3 is needed for this test (CI installs python3)"
        );
        eprintln!(
            "SKIPPED state_sqlite_another_process_reads_while_this_one_writes: needs python3's sqlite3"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("state.db");
    let store = open_store(&StoreConfig::sqlite(&db)).unwrap();
    let id = store.create(&new("followed")).unwrap().workflow_id;
    store
        .start(id, &Owner::named("h/1"), std::time::Duration::from_secs(60))
        .unwrap();
    // The reader answers one query per line it is sent: status and output length.
    let script = r#"
import sqlite3, sys
db = sqlite3.connect("file:" + sys.argv[1] + "?mode=ro", uri=True, timeout=5)
for line in sys.stdin:
    row = db.execute("SELECT status, output_bytes FROM workflows WHERE id = ?", (sys.argv[2],)).fetchone()
    print(row[0], row[1], flush=True)
"#;
    let mut reader = Command::new("python3")
        .args(["-c", script])
        .arg(&db)
        .arg(id.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut ask = reader.stdin.take().unwrap();
    let mut answers = BufReader::new(reader.stdout.take().unwrap()).lines();
    let mut query = || {
        writeln!(ask, "?").unwrap();
        answers.next().unwrap().unwrap()
    };
    assert_eq!(query(), "running 0");
    for i in 1..=50u64 {
        store.append_output(id, "0123456789").unwrap();
        assert_eq!(query(), format!("running {}", i * 10));
    }
    store
        .finish(id, &super::suite_outcome(WorkflowStatus::Completed))
        .unwrap();
    assert_eq!(query(), "completed 500");
    drop(ask);
    assert!(reader.wait().unwrap().success());
}
