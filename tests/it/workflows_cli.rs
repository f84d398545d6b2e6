//! The workflow readers through the real binary — `status`, `workflows`, `logs [-f]`,
//! `cancel` — on both stores: records are seeded through the library on the very
//! configuration the binary resolves (SQLite in the temporary `$MYCELIUM_HOME`, or the
//! test's own `redis-server` named with `--redis`), and the commands' output is compared
//! whole. Each behaviour runs as `workflows_cli::sqlite::NAME` and
//! `workflows_cli::redis::NAME`.

use std::collections::BTreeMap;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use mycelium::policy::RiskLevel;
use mycelium::state::{
    MAX_CHUNK_BYTES, NewWorkflow, Outcome, Owner, StoreConfig, WorkflowId, WorkflowRecord,
    WorkflowStatus, WorkflowStore, WorkflowView, open_store,
};
use pretty_assertions::assert_eq;
use serde_json::json;

use crate::common::redis::RedisServer;
use crate::common::{bin, stderr, stdout};

/// A private `$MYCELIUM_HOME`, and the Redis server when the test runs on Redis.
struct World {
    root: tempfile::TempDir,
    redis: Option<RedisServer>,
}

impl World {
    fn sqlite() -> World {
        World {
            root: tempfile::tempdir().unwrap(),
            redis: None,
        }
    }

    fn redis(test: &str) -> Option<World> {
        let server = crate::common::gate::require_redis(test, &[])?;
        Some(World {
            root: tempfile::tempdir().unwrap(),
            redis: Some(server),
        })
    }

    fn home(&self) -> PathBuf {
        self.root.path().join("home")
    }

    /// `[state]` settings for both the binary and the seeding store (mode 0600, as the
    /// store demands of the file).
    fn config_toml(&self, text: &str) {
        std::fs::create_dir_all(self.home()).unwrap();
        std::fs::set_permissions(self.home(), std::fs::Permissions::from_mode(0o700)).unwrap();
        let path = self.home().join("config.toml");
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }

    /// The configuration the binary resolves.
    fn config(&self) -> StoreConfig {
        let url = self.redis.as_ref().map(RedisServer::url);
        StoreConfig::resolve(&self.home(), url.as_deref(), None).unwrap()
    }

    /// A handle on the store the binary reads.
    fn store(&self) -> Box<dyn WorkflowStore> {
        open_store(&self.config()).unwrap()
    }

    /// `mycelium [--redis URL] ARGS…` with a clean environment, not started.
    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(bin());
        c.env_clear()
            .envs(crate::common::profile_env())
            .env("PATH", "/usr/bin:/bin")
            .env("HOME", self.root.path())
            .env("MYCELIUM_HOME", self.home())
            .stdin(Stdio::null());
        if let Some(server) = &self.redis {
            c.args(["--redis", &server.url()]);
        }
        c.args(args);
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }
}

fn new(agent: &str) -> NewWorkflow {
    NewWorkflow {
        agent_name: agent.to_owned(),
        task: format!("task for {agent}"),
        risk_level: RiskLevel::Medium,
        checksum: "sha256:0123abcd".to_owned(),
    }
}

fn outcome(status: WorkflowStatus, exit_code: i32) -> Outcome {
    Outcome {
        status,
        exit_code: Some(exit_code),
        error: (exit_code != 0).then(|| format!("exit status {exit_code}")),
        result: "last line\n".to_owned(),
        truncated: exit_code != 0,
        redactions: if exit_code == 0 {
            BTreeMap::new()
        } else {
            BTreeMap::from([("aws_key".to_owned(), 2), ("github".to_owned(), 1)])
        },
        layers: json!({"landlock": "enforced"}),
    }
}

fn owner() -> Owner {
    Owner::named("host-a/1234-abcd")
}

const LEASE: Duration = Duration::from_secs(600);

/// A workflow that ran and ended with `status` and `exit_code`.
fn ended(store: &dyn WorkflowStore, agent: &str, status: WorkflowStatus, code: i32) -> WorkflowId {
    let id = store.create(&new(agent)).unwrap().workflow_id;
    store.start(id, &owner(), LEASE).unwrap();
    store.finish(id, &outcome(status, code)).unwrap();
    id
}

/// A running workflow.
fn running(store: &dyn WorkflowStore, agent: &str) -> WorkflowId {
    let id = store.create(&new(agent)).unwrap().workflow_id;
    store.start(id, &owner(), LEASE).unwrap();
    id
}

fn get(store: &dyn WorkflowStore, id: WorkflowId) -> WorkflowRecord {
    store.get(id).unwrap().unwrap()
}

/// Exit code, standard output, standard error.
fn outcome_of(o: &Output) -> (Option<i32>, String, String) {
    (o.status.code(), stdout(o), stderr(o))
}

fn no_workflow(id: &str) -> String {
    format!("mycelium: error: no workflow {id} (unknown, or removed after its retention)\n")
}

fn status_shows_every_field_as_text_and_json(w: &World) {
    let store = w.store();
    let id = ended(&*store, "echo", WorkflowStatus::Failed, 3);
    let r = get(&*store, id);
    let v = WorkflowView::from(&r);

    let o = w.run(&["status", &id.to_string()]);
    let want = format!(
        "workflow    {id}
agent       echo
status      failed
risk        medium
created     {}
started     {}
completed   {}
exit code   3
error       exit status 3
truncated   yes: output was dropped; the result is its tail
redactions  aws_key 2, github 1

result (sanitized tail):
last line
",
        v.created_at,
        v.started_at.as_deref().unwrap(),
        v.completed_at.as_deref().unwrap(),
    );
    assert_eq!(outcome_of(&o), (Some(0), want, String::new()));

    let o = w.run(&["status", &id.to_string(), "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let got: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        got,
        json!({
            "workflow_id": id.to_string(),
            "status": "failed",
            "agent_name": "echo",
            "created_at": v.created_at,
            "started_at": v.started_at,
            "completed_at": v.completed_at,
            "exit_code": 3,
            "result": "last line\n",
            "truncated": true,
            "error": "exit status 3",
            "redactions": {"aws_key": 2, "github": 1},
            "layers": {"landlock": "enforced"},
            "risk_level": "medium",
            "checksum": "sha256:0123abcd",
        })
    );
    // The times are the stored RFC 3339 UTC strings, to the microsecond.
    assert_eq!(
        v.created_at.parse::<jiff::Timestamp>().unwrap(),
        r.created_at
    );
    assert!(v.created_at.ends_with('Z'), "{}", v.created_at);

    // A pending workflow: absent values are "-" as text and null as JSON.
    let pending = store.create(&new("later")).unwrap();
    let p = pending.workflow_id.to_string();
    let o = w.run(&["status", &p]);
    let want = format!(
        "workflow    {p}
agent       later
status      pending
risk        medium
created     {}
started     -
completed   -
exit code   -
error       -
truncated   no
redactions  none
",
        WorkflowView::from(&pending).created_at
    );
    assert_eq!(outcome_of(&o), (Some(0), want, String::new()));
    let o = w.run(&["status", "--json", &p]);
    let got: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        got,
        serde_json::to_value(WorkflowView::from(&pending)).unwrap()
    );
    assert_eq!(got["started_at"], serde_json::Value::Null);
    assert_eq!(got["exit_code"], serde_json::Value::Null);
}

fn workflows_lists_newest_first_with_status_and_limit(w: &World) {
    let store = w.store();
    let a = ended(&*store, "alpha", WorkflowStatus::Completed, 0);
    let b = ended(&*store, "a-longer-name", WorkflowStatus::Failed, 3);
    let c = running(&*store, "gamma");
    let d = store.create(&new("delta")).unwrap().workflow_id;
    let created = |id| {
        get(&*store, id)
            .created_at
            .strftime("%Y-%m-%dT%H:%M:%SZ")
            .to_string()
    };
    // Columns as wide as their widest cell (header included), two spaces apart.
    let line = |agent_w: usize, status_w: usize, cells: [&str; 5]| {
        let [id, agent, status, created, exit] = cells;
        format!("{id:<32}  {agent:<agent_w$}  {status:<status_w$}  {created:<20}  {exit}\n")
    };
    let (cd, cc, cb, ca) = (created(d), created(c), created(b), created(a));
    let (sd, sc, sb, sa) = (d.to_string(), c.to_string(), b.to_string(), a.to_string());

    let o = w.run(&["workflows"]);
    let want = [
        line(13, 9, ["ID", "AGENT", "STATUS", "CREATED", "EXIT"]),
        line(13, 9, [&sd, "delta", "pending", &cd, "-"]),
        line(13, 9, [&sc, "gamma", "running", &cc, "-"]),
        line(13, 9, [&sb, "a-longer-name", "failed", &cb, "3"]),
        line(13, 9, [&sa, "alpha", "completed", &ca, "0"]),
    ]
    .concat();
    assert_eq!(outcome_of(&o), (Some(0), want, String::new()));

    let o = w.run(&["workflows", "--limit", "2"]);
    let want = [
        line(5, 7, ["ID", "AGENT", "STATUS", "CREATED", "EXIT"]),
        line(5, 7, [&sd, "delta", "pending", &cd, "-"]),
        line(5, 7, [&sc, "gamma", "running", &cc, "-"]),
    ]
    .concat();
    assert_eq!(outcome_of(&o), (Some(0), want, String::new()));

    let o = w.run(&["workflows", "--status", "failed", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let got: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        got,
        json!([serde_json::to_value(WorkflowView::from(&get(&*store, b))).unwrap()])
    );

    let o = w.run(&["workflows", "--json", "--limit", "3"]);
    let got: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let ids: Vec<&str> = got
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["workflow_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [d, c, b].map(|i| i.to_string()));

    let o = w.run(&["workflows", "--status", "cancelled"]);
    assert_eq!(
        outcome_of(&o),
        (
            Some(0),
            "no cancelled workflows\n".to_owned(),
            String::new()
        )
    );

    let o = w.run(&["workflows", "--status", "done"]);
    assert_eq!(
        outcome_of(&o),
        (
            Some(2),
            String::new(),
            "error: invalid value 'done' for '--status <STATUS>': invalid workflow status \"done\": expected pending, running, completed, failed, cancelled or timed_out\n\nFor more information, try '--help'.\n".to_owned()
        )
    );
}

fn logs_print_the_stored_output_exactly(w: &World) {
    let store = w.store();
    let id = running(&*store, "talker");
    // Several chunks, a multi-byte character, and more than one page (64 KiB) in all.
    let long: String = (0..3000)
        .map(|i| format!("line {i:05} of the long part\n"))
        .collect();
    let parts = [
        "first line\n",
        "caf\u{e9} and no newline",
        "\n",
        &long,
        "the end\n",
    ];
    for p in parts {
        store.append_output(id, p).unwrap();
    }
    store
        .finish(id, &outcome(WorkflowStatus::Completed, 0))
        .unwrap();
    let o = w.run(&["logs", &id.to_string()]);
    assert_eq!(outcome_of(&o), (Some(0), parts.concat(), String::new()));

    // A workflow with no output yet prints nothing.
    let quiet = running(&*store, "quiet");
    let o = w.run(&["logs", &quiet.to_string()]);
    assert_eq!(outcome_of(&o), (Some(0), String::new(), String::new()));
}

fn logs_say_how_much_the_output_cap_dropped(w: &World) {
    w.config_toml("[state]\noutput_max_chunks = 2\n");
    let store = w.store();
    let id = running(&*store, "flood");
    let chunk = |c: char| c.to_string().repeat(MAX_CHUNK_BYTES);
    for c in ['a', 'b', 'c'] {
        store.append_output(id, &chunk(c)).unwrap();
    }
    let o = w.run(&["logs", &id.to_string()]);
    assert_eq!(
        outcome_of(&o),
        (
            Some(0),
            format!("{}{}", chunk('b'), chunk('c')),
            format!("mycelium: {MAX_CHUNK_BYTES} bytes dropped by the output cap\n")
        )
    );
}

/// Read the child's standard output on a thread, so the test can wait for a text.
struct Follower {
    child: std::process::Child,
    chunks: mpsc::Receiver<Vec<u8>>,
    seen: Vec<u8>,
}

impl Follower {
    fn start(mut cmd: Command) -> Follower {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut out = child.stdout.take().unwrap();
        let (tx, chunks) = mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = out.read(&mut buf) {
                if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        Follower {
            child,
            chunks,
            seen: Vec::new(),
        }
    }

    /// Wait until everything printed so far is `want` (a hang guard, not a timing
    /// assertion: a broken follower fails here instead of blocking the suite).
    fn wait_for(&mut self, want: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.seen != want.as_bytes() {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.chunks.recv_timeout(left) {
                Ok(bytes) => self.seen.extend(bytes),
                Err(_) => {
                    let _ = self.child.kill();
                    panic!(
                        "logs -f printed {:?}, expected {want:?}",
                        String::from_utf8_lossy(&self.seen)
                    );
                }
            }
        }
    }

    /// Wait for the exit; returns its code, the rest of standard output, and standard error.
    fn finish(mut self) -> (Option<i32>, String, String) {
        let deadline = Instant::now() + Duration::from_secs(30);
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("logs -f did not exit after the workflow ended");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let rest: Vec<u8> = self.chunks.iter().flatten().collect();
        let mut err = String::new();
        self.child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        (
            status.code(),
            String::from_utf8_lossy(&rest).into_owned(),
            err,
        )
    }
}

fn logs_follow_prints_new_output_until_the_workflow_ends(w: &World) {
    let store = w.store();
    let id = running(&*store, "slow");
    store.append_output(id, "before\n").unwrap();
    let mut follower = Follower::start(w.cmd(&["logs", "-f", &id.to_string()]));
    follower.wait_for("before\n");
    store.append_output(id, "after one\n").unwrap();
    follower.wait_for("before\nafter one\n");
    store.append_output(id, "after two\n").unwrap();
    // Still following: it has not exited although it has shown everything so far.
    follower.wait_for("before\nafter one\nafter two\n");
    assert!(follower.child.try_wait().unwrap().is_none());
    store.append_output(id, "last words\n").unwrap();
    store
        .finish(id, &outcome(WorkflowStatus::Cancelled, 0))
        .unwrap();
    // Output appended just before the end is printed before it exits.
    assert_eq!(
        follower.finish(),
        (Some(0), "last words\n".to_owned(), String::new())
    );

    // Following a workflow that has already ended prints it and exits at once.
    let done = ended(&*store, "done", WorkflowStatus::Completed, 0);
    let o = w.run(&["logs", "--follow", &done.to_string()]);
    assert_eq!(outcome_of(&o), (Some(0), String::new(), String::new()));
}

fn cancel_asks_the_owner_and_an_ended_workflow_says_so(w: &World) {
    let store = w.store();
    let id = running(&*store, "busy");
    assert!(!get(&*store, id).cancel_requested);
    let o = w.run(&["cancel", &id.to_string()]);
    assert_eq!(
        outcome_of(&o),
        (
            Some(0),
            format!("cancel requested for {id}\n"),
            String::new()
        )
    );
    let r = get(&*store, id);
    assert!(r.cancel_requested);
    assert_eq!(r.status, WorkflowStatus::Running);
    let o = w.run(&["status", &id.to_string()]);
    assert!(
        stdout(&o).ends_with("redactions  none\ncancel      requested\n"),
        "{}",
        stdout(&o)
    );

    let done = ended(&*store, "quick", WorkflowStatus::TimedOut, 124);
    let o = w.run(&["cancel", &done.to_string()]);
    assert_eq!(
        outcome_of(&o),
        (
            Some(0),
            format!("{done} has already ended (timed_out)\n"),
            String::new()
        )
    );
    let r = get(&*store, done);
    assert!(!r.cancel_requested);
    assert_eq!(r.status, WorkflowStatus::TimedOut);
}

fn unknown_ids_fail_and_malformed_ids_are_usage_errors(w: &World) {
    let store = w.store();
    // Twin: a known id is accepted by every command.
    let known = ended(&*store, "known", WorkflowStatus::Completed, 0).to_string();
    let unknown = WorkflowId::generate().unwrap().to_string();
    for cmd in ["status", "logs", "cancel"] {
        let o = w.run(&[cmd, &known]);
        assert_eq!(o.status.code(), Some(0), "{cmd}: {}", stderr(&o));

        let o = w.run(&[cmd, &unknown]);
        assert_eq!(
            outcome_of(&o),
            (Some(1), String::new(), no_workflow(&unknown)),
            "{cmd}"
        );

        let bad = known.to_uppercase();
        let o = w.run(&[cmd, &bad]);
        assert_eq!(
            outcome_of(&o),
            (
                Some(2),
                String::new(),
                format!(
                    "error: invalid value '{bad}' for '<ID>': invalid workflow id \"{bad}\": expected 32 lowercase hexadecimal digits\n\nFor more information, try '--help'.\n"
                )
            ),
            "{cmd}"
        );
    }
    let o = w.run(&["logs", "-f", &unknown]);
    assert_eq!(
        outcome_of(&o),
        (Some(1), String::new(), no_workflow(&unknown))
    );
}

/// One `#[test]` per behaviour and store.
/// A workflow whose owner stopped renewing its lease (killed, its host lost) is settled
/// by whoever reads it — `status`, `workflows`, `logs -f` — as `failed`, `executor lost`:
/// never shown `running` forever, even when no `run` comes after it.
fn readers_settle_a_workflow_whose_owner_is_gone(w: &World) {
    let store = w.store();
    let short = Duration::from_secs(1);
    // Twin: a lease still held is left alone.
    let held = running(&*store, "held");
    let o = w.run(&["status", &held.to_string(), "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["status"], "running", "{}", stderr(&o));

    let by_status = store.create(&new("orphan-a")).unwrap().workflow_id;
    store.start(by_status, &owner(), short).unwrap();
    let by_list = store.create(&new("orphan-b")).unwrap().workflow_id;
    store.start(by_list, &owner(), short).unwrap();
    let followed = store.create(&new("orphan-c")).unwrap().workflow_id;
    store.start(followed, &owner(), short).unwrap();
    store.append_output(followed, "partial\n").unwrap();
    // The follower starts while the lease still holds, and waits.
    let mut follower = Follower::start(w.cmd(&["logs", "-f", &followed.to_string()]));
    follower.wait_for("partial\n");

    // Nobody renews; after the lease the follower settles it and ends.
    let (code, rest, err) = follower.finish();
    assert_eq!((code, rest.as_str()), (Some(0), ""), "{err}");
    let r = get(&*store, followed);
    assert_eq!(
        (r.status, r.error.as_deref()),
        (WorkflowStatus::Failed, Some("executor lost"))
    );

    let o = w.run(&["status", &by_status.to_string(), "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        (v["status"].as_str(), v["error"].as_str()),
        (Some("failed"), Some("executor lost")),
        "{}",
        stderr(&o)
    );
    let o = w.run(&["workflows", "--status", "running", "--json"]);
    let listed: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let ids: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["workflow_id"].as_str())
        .collect();
    assert_eq!(ids, vec![held.to_string().as_str()], "{listed}");
    assert_eq!(get(&*store, by_list).status, WorkflowStatus::Failed);
    assert_eq!(get(&*store, held).status, WorkflowStatus::Running);
}

macro_rules! both_stores {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[test]
                fn $name() {
                    super::$name(&super::World::sqlite());
                }
            )*
        }
        mod redis {
            $(
                #[test]
                fn $name() {
                    let Some(w) = super::World::redis(concat!(
                        "workflows_cli::redis::",
                        stringify!($name)
                    )) else {
                        return;
                    };
                    super::$name(&w);
                }
            )*
        }
    };
}

both_stores!(
    status_shows_every_field_as_text_and_json,
    workflows_lists_newest_first_with_status_and_limit,
    logs_print_the_stored_output_exactly,
    logs_say_how_much_the_output_cap_dropped,
    logs_follow_prints_new_output_until_the_workflow_ends,
    cancel_asks_the_owner_and_an_ended_workflow_says_so,
    unknown_ids_fail_and_malformed_ids_are_usage_errors,
    readers_settle_a_workflow_whose_owner_is_gone,
);

/// Redis named by `MYCELIUM_REDIS_URL` instead of `--redis`; an empty `--redis` defers to
/// it; a password never appears in an error.
#[test]
fn redis_from_the_environment_and_its_password_is_never_shown() {
    let test = "workflows_cli::redis_from_the_environment_and_its_password_is_never_shown";
    let Some(server) = crate::common::gate::require_redis(test, &["--requirepass", "s3cret-pw"])
    else {
        return;
    };
    let root = tempfile::tempdir().unwrap();
    let url = format!("redis://:s3cret-pw@127.0.0.1:{}/", server.port());
    let store = open_store(&StoreConfig::redis(&url, "mycelium")).unwrap();
    let id = ended(&*store, "from-env", WorkflowStatus::Completed, 0);
    let cmd = |env_url: &str, args: &[&str]| {
        Command::new(bin())
            .env_clear()
            .envs(crate::common::profile_env())
            .env("PATH", "/usr/bin:/bin")
            .env("HOME", root.path())
            .env("MYCELIUM_HOME", root.path().join("home"))
            .env("MYCELIUM_REDIS_URL", env_url)
            .args(args)
            .output()
            .unwrap()
    };
    let want = format!("{id} has already ended (completed)\n");
    let o = cmd(&url, &["cancel", &id.to_string()]);
    assert_eq!(outcome_of(&o), (Some(0), want.clone(), String::new()));
    let o = cmd(&url, &["--redis", "", "cancel", &id.to_string()]);
    assert_eq!(outcome_of(&o), (Some(0), want, String::new()));
    // Twin: without the URL the same id is unknown (SQLite in the home is empty).
    let o = cmd("", &["cancel", &id.to_string()]);
    assert_eq!(
        outcome_of(&o),
        (Some(1), String::new(), no_workflow(&id.to_string()))
    );

    let wrong = format!("redis://:hunter2-wrong@127.0.0.1:{}/", server.port());
    for o in [
        cmd(&wrong, &["workflows"]),
        cmd("", &["--redis", &wrong, "status", &id.to_string()]),
    ] {
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{err}");
        assert!(
            err.starts_with(&format!(
                "mycelium: error: redis at redis://:***@127.0.0.1:{}/: connect failed",
                server.port()
            )),
            "{err}"
        );
        assert!(!err.contains("hunter2"), "{err}");
    }
    let o = cmd(&url, &["workflows", "--help"]);
    assert!(stdout(&o).contains("[env: MYCELIUM_REDIS_URL]"));
    assert!(!stdout(&o).contains("s3cret"));
}

/// `logs -f` at a terminal says, after 30 s without output, how long the workflow has been
/// going (on standard error, so the output itself stays clean); piped, it says nothing
/// extra (`logs_follow_prints_new_output_until_the_workflow_ends`). One store is enough:
/// the notice is the command's, and the wait is long.
#[test]
fn logs_follow_at_a_terminal_says_how_long_a_quiet_workflow_has_run() {
    let w = World::sqlite();
    let store = w.store();
    let id = running(&*store, "quiet");
    let pty = nix::pty::openpty(None, None).unwrap();
    let mut c = w.cmd(&["logs", "-f", &id.to_string()]);
    c.stdout(Stdio::piped())
        .stderr(std::fs::File::from(pty.slave));
    let mut child = c.spawn().unwrap();
    // The parent's copy of the terminal's far end closes with the command.
    drop(c);
    let mut terminal = std::fs::File::from(pty.master);
    let (tx, seen) = mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = [0u8; 1024];
        // EIO once the command has exited.
        while let Ok(n) = terminal.read(&mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let mut shown = Vec::new();
    let want = format!("mycelium: {id} running for ");
    let deadline = Instant::now() + Duration::from_secs(120);
    while !String::from_utf8_lossy(&shown).contains(&want) {
        match seen.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(bytes) => shown.extend(bytes),
            Err(_) => {
                let _ = child.kill();
                panic!(
                    "no notice on the terminal; it showed {:?}",
                    String::from_utf8_lossy(&shown)
                );
            }
        }
    }
    store.append_output(id, "at last\n").unwrap();
    store
        .finish(id, &outcome(WorkflowStatus::Completed, 0))
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        (out.status.code(), stdout(&out)),
        (Some(0), "at last\n".to_owned())
    );
    let text = String::from_utf8_lossy(&shown).into_owned();
    let line = text.lines().find(|l| l.contains(&want)).unwrap();
    assert!(line.trim_end().ends_with(", no new output"), "{line:?}");
    // It has run for about the notice's interval: the figure is the elapsed time, not a
    // constant (30 s or a little more, as the store's clock and this one's agree).
    let elapsed = line
        .trim_end()
        .trim_end_matches(", no new output")
        .rsplit("running for ")
        .next()
        .unwrap();
    assert!(elapsed.ends_with('s') && elapsed.len() <= 6, "{elapsed:?}");
}
