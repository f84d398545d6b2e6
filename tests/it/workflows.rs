//! The ProcessManager end to end, on both stores: real sandboxes started by the real
//! binary's spawner (the test harness is a multi-threaded host), real SQLite files and a
//! real `redis-server`. Every behaviour runs as `workflows_sqlite::NAME` and
//! `workflows_redis::NAME`. Assertions are on records, stored bytes and processes, never on
//! durations.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use mycelium::consent::{ConsentConfig, ConsentManager};
use mycelium::isolation::{SandboxStatus, Spawner};
use mycelium::process::{Attach, Invocation, ManagerConfig, ProcessManager, Starter};
use mycelium::registry::{self, SearchPath};
use mycelium::sanitize::RuleSet;
use mycelium::state::audit::{AuditLog, StartedBy};
use mycelium::state::{WorkflowRecord, WorkflowStatus, WorkflowStore};
use pretty_assertions::assert_eq;

use crate::common::bin;
use crate::sandbox::{Fixture, SYSTEM, eventually, marker, processes_with};
use crate::state::Harness;

/// A test's world: a fixture with a policies directory, a manager on the harness's store.
/// A workflow going on in the background: its id, and a task that ends with it.
type Started = (
    mycelium::state::WorkflowId,
    tokio::task::JoinHandle<Result<mycelium::process::Finished, mycelium::process::ProcessError>>,
);

struct World {
    fx: Fixture,
    manager: ProcessManager,
    runtime: tokio::runtime::Runtime,
}

impl World {
    fn new(h: &impl Harness, max_concurrent: usize) -> World {
        let spawner = Arc::new(Spawner::start(Path::new(&bin())).unwrap());
        World::with(h, max_concurrent, spawner, None)
    }

    /// A world whose manager starts sandboxes through `spawner` and keeps `audit`.
    fn with(
        h: &impl Harness,
        max_concurrent: usize,
        spawner: Arc<Spawner>,
        audit: Option<AuditLog>,
    ) -> World {
        let fx = Fixture::new();
        fx.mkdir("policies");
        let consent = fx.mkdir("consent");
        std::fs::set_permissions(
            &consent,
            std::os::unix::fs::PermissionsExt::from_mode(0o700),
        )
        .unwrap();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let manager = ProcessManager::new(ManagerConfig {
            store: Arc::from(h.open()),
            starter: Starter::Spawner(spawner),
            consent: ConsentManager::new(&fx.path().join("consent"), ConsentConfig::default()),
            rules: RuleSet::builtin().unwrap(),
            audit,
            max_concurrent,
            lease: Duration::from_millis(600),
        })
        .unwrap();
        World {
            fx,
            manager,
            runtime,
        }
    }

    /// Write agent `name`: `sh -c SCRIPT` under the system paths, with `extra` TOML.
    fn agent(&self, name: &str, script: &str, agent_extra: &str, extra: &str) -> PathBuf {
        self.fx.file(
            &format!("policies/{name}.toml"),
            &format!(
                "[agent]\ncommand = [\"/bin/sh\", \"-c\", {script:?}]\n{agent_extra}\n\n[filesystem]\nread_only = [{SYSTEM}]\n{extra}\n"
            ),
        )
    }

    fn invocation(&self, name: &str, task: Option<&str>, env: &[(&str, &str)]) -> Invocation {
        let search = SearchPath::new(
            Some(&self.fx.path().join("policies")),
            self.fx.path(),
            &self.fx.path().join("consent"),
        );
        let entry = registry::find(&search, name).unwrap();
        let agent = registry::load_agent(&entry, &Default::default()).unwrap();
        let mut caller_env = vec![("PATH".to_string(), "/usr/bin:/bin".to_string())];
        caller_env.extend(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        Invocation {
            agent,
            task: task.map(str::to_owned),
            context: None,
            workspace: None,
            protected: vec![],
            overrides: Default::default(),
            caller_env,
            started_by: StartedBy::current(None),
            attach: Attach::default(),
        }
    }

    /// Invoke agent `name` (no task, no extra environment) and let it go on: its id, and
    /// a task that ends with it.
    fn start(&self, name: &str) -> Started {
        self.runtime.block_on(async {
            let invoked = self
                .manager
                .invoke(self.invocation(name, None, &[]))
                .await
                .unwrap();
            (invoked.workflow_id, tokio::spawn(invoked.finished()))
        })
    }

    /// Start agent `name` printing `up` then sleeping `marker`, and wait until it sleeps
    /// with its `up` stored.
    fn start_sleeper(&self, name: &str, marker: &str) -> Started {
        self.agent(name, &format!("echo up; sleep {marker}"), "", "");
        let (id, done) = self.start(name);
        let store = self.manager.store();
        assert!(eventually(|| sleeps(marker) == 1
            && store
                .read_output(id, 0, 1024)
                .is_ok_and(|p| p.text == "up\n")));
        (id, done)
    }

    /// Run to the end; the final record.
    fn run(&self, inv: Invocation) -> WorkflowRecord {
        self.runtime.block_on(async {
            let invoked = self.manager.invoke(inv).await.unwrap();
            invoked.finished().await.unwrap().record
        })
    }

    fn output(&self, r: &WorkflowRecord) -> String {
        self.manager
            .store()
            .read_output(r.workflow_id, 0, 64 << 20)
            .unwrap()
            .text
    }
}

/// Host `sleep MARKER` processes.
fn sleeps(m: &str) -> usize {
    processes_with(m)
        .iter()
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| c.starts_with(b"sleep\0"))
        })
        .count()
}

pub fn completes_with_the_task_on_stdin_and_its_output_stored(h: &impl Harness) {
    let w = World::new(h, 2);
    w.agent("echo", "cat; echo; echo done", "task = \"stdin\"", "");
    let r = w.run(w.invocation("echo", Some("the task"), &[]));
    assert_eq!(
        (r.status, r.exit_code, r.error.as_deref(), r.task.as_str()),
        (WorkflowStatus::Completed, Some(0), None, "the task")
    );
    assert_eq!(r.result.as_deref(), Some("the task\ndone\n"));
    assert_eq!(w.output(&r), "the task\ndone\n");
    assert!(r.started_at.is_some() && r.completed_at.is_some());
    assert_eq!(r.layers["namespaces"].is_null(), false, "{}", r.layers);
}

pub fn failures_keep_exit_codes_and_signals_apart(h: &impl Harness) {
    let w = World::new(h, 2);
    w.agent("three", "echo bad >&2; exit 3", "", "");
    w.agent("term", "kill -TERM $$", "", "");
    w.agent("missing", "exec /no/such/program", "", "");
    let r = w.run(w.invocation("three", None, &[]));
    assert_eq!(
        (r.status, r.exit_code, r.error.as_deref()),
        (
            WorkflowStatus::Failed,
            Some(3),
            Some("the agent exited with code 3")
        )
    );
    assert_eq!(w.output(&r), "bad\n");
    let r = w.run(w.invocation("term", None, &[]));
    assert_eq!(
        (r.status, r.exit_code, r.error.as_deref()),
        (
            WorkflowStatus::Failed,
            Some(143),
            Some("the agent was killed by SIGTERM")
        )
    );
    let r = w.run(w.invocation("missing", None, &[]));
    assert_eq!((r.status, r.exit_code), (WorkflowStatus::Failed, Some(127)));
}

pub fn a_timeout_ends_timed_out_and_leaves_no_process(h: &impl Harness) {
    let w = World::new(h, 2);
    let m = marker(201 + 1000 * h.ordinal());
    w.agent(
        "slow",
        &format!("sleep {m} & sleep {m}"),
        "timeout = \"1s\"",
        "",
    );
    let r = w.run(w.invocation("slow", None, &[]));
    assert_eq!(r.status, WorkflowStatus::TimedOut, "{r:?}");
    assert!(r.error.as_deref().unwrap().contains("timed out after 1s"));
    assert_eq!(sleeps(&m), 0, "left behind: {:?}", processes_with(&m));
}

pub fn a_cancel_from_another_process_stops_it(h: &impl Harness) {
    let w = World::new(h, 2);
    let m = marker(202 + 1000 * h.ordinal());
    w.agent(
        "sleeper",
        &format!("echo up; sleep {m} & sleep {m}"),
        "",
        "",
    );
    let (id, done) = w.start("sleeper");
    // Positive twin: it runs, with both sleeps.
    assert!(eventually(|| sleeps(&m) == 2));
    let o = std::process::Command::new(bin())
        .args(["cancel", &id.to_string()])
        .env_clear()
        .envs(crate::common::profile_env())
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", "/nonexistent")
        .envs(h.cli_env())
        .output()
        .unwrap();
    assert_eq!(
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stdout).into_owned()
        ),
        (Some(0), format!("cancel requested for {id}\n")),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let r = w.runtime.block_on(done).unwrap().unwrap().record;
    assert_eq!(
        (r.status, r.error.as_deref()),
        (WorkflowStatus::Cancelled, Some("cancelled on request"))
    );
    assert_eq!(sleeps(&m), 0, "left behind: {:?}", processes_with(&m));
}

pub fn output_past_the_cap_keeps_head_and_tail(h: &impl Harness) {
    let w = World::new(h, 2);
    w.agent(
        "chatty",
        "echo FIRST; yes 0123456789abcdef | head -c 1048576; echo; echo LAST",
        "",
        "[limits]\noutput = \"64K\"",
    );
    let r = w.run(w.invocation("chatty", None, &[]));
    assert_eq!(r.status, WorkflowStatus::Completed);
    assert!(r.truncated);
    let stored = w.output(&r);
    assert!(
        stored.starts_with("FIRST\n0123456789abcdef\n"),
        "{}",
        &stored[..64]
    );
    assert!(stored.ends_with("\nLAST\n"));
    assert!(stored.contains("bytes of output dropped here (limits.output)"));
    assert!(
        stored.len() < 64 * 1024 + 200,
        "{} bytes kept",
        stored.len()
    );
    assert!(r.result.as_deref().unwrap().ends_with("\nLAST\n"));
    // Everything was counted, kept or not.
    assert!(r.output_bytes < 1 << 20, "{}", r.output_bytes);
}

pub fn a_large_task_on_stdin_does_not_deadlock_a_chatty_agent(h: &impl Harness) {
    let w = World::new(h, 2);
    w.agent("cat", "cat", "task = \"stdin\"", "");
    let line = "x".repeat(63) + "\n";
    let task = line.repeat(4 << 20 >> 6);
    assert_eq!(task.len(), 4 << 20);
    let r = w.run(w.invocation("cat", Some(&task), &[]));
    assert_eq!(r.status, WorkflowStatus::Completed);
    let stored = w.output(&r);
    assert_eq!(stored.len(), task.len());
    assert!(stored == task, "the echoed task differs");
}

pub fn concurrency_never_exceeds_max_concurrent(h: &impl Harness) {
    let w = World::new(h, 2);
    w.agent(
        "timed",
        "echo start $(date +%s%N); sleep 0.5; echo end $(date +%s%N)",
        "",
        "",
    );
    let records: Vec<WorkflowRecord> = w.runtime.block_on(async {
        let mut waits = Vec::new();
        for _ in 0..10 {
            let invoked = w
                .manager
                .invoke(w.invocation("timed", None, &[]))
                .await
                .unwrap();
            waits.push(invoked.finished());
        }
        let mut out = Vec::new();
        for f in waits {
            out.push(f.await.unwrap().record);
        }
        out
    });
    // Each sandbox's own start and end, as it saw them.
    let mut events = Vec::new();
    for r in &records {
        assert_eq!(r.status, WorkflowStatus::Completed);
        let text = r.result.as_deref().unwrap();
        for l in text.lines() {
            let (what, t) = l.split_once(' ').unwrap();
            events.push((t.parse::<u128>().unwrap(), what == "start"));
        }
    }
    // Ends sort before starts at the same instant.
    events.sort_by_key(|(t, start)| (*t, *start));
    let (mut now, mut most) = (0i32, 0i32);
    for (_, start) in events {
        now += if start { 1 } else { -1 };
        most = most.max(now);
    }
    assert_eq!(most, 2, "at most two at once, and two did run together");
}

pub fn secrets_never_reach_the_store(h: &impl Harness) {
    let w = World::new(h, 2);
    let withheld = "s3cr3t-W1thh3ld-Value-0451";
    let aws = "AKIAIOSFODNN7EXAMPLQ";
    w.agent(
        "leaky",
        &format!("cat; echo; echo visible-marker; echo {withheld}; echo aws_access_key_id={aws}"),
        "task = \"stdin\"",
        "[env]\npass = [\"DEPLOY_TOKEN\"]",
    );
    let task = format!("deploy with {withheld}");
    let r = w.run(w.invocation("leaky", Some(&task), &[("DEPLOY_TOKEN", withheld)]));
    assert_eq!(r.status, WorkflowStatus::Completed);
    let raw = h.raw_bytes();
    let has = |needle: &str| {
        raw.windows(needle.len())
            .any(|win| win == needle.as_bytes())
    };
    // Positive twin: the output is in those bytes.
    assert!(has("visible-marker"));
    assert!(!has(withheld), "the withheld value reached the store");
    assert!(!has(aws), "the access key reached the store");
    assert!(
        r.redactions.values().sum::<u64>() >= 2,
        "{:?}",
        r.redactions
    );
}

pub fn a_killed_owner_is_found_lost_and_its_sandbox_is_gone(h: &impl Harness) {
    let w = World::new(h, 2);
    let m = marker(203 + 1000 * h.ordinal());
    w.agent("stuck", &format!("sleep {m}"), "", "");
    // The owner: `mycelium run` in a process of its own, with a short lease.
    let home = w.fx.mkdir("home");
    std::fs::set_permissions(&home, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    let cli_env = h.cli_env();
    let sqlite_home = cli_env
        .iter()
        .find(|(k, _)| *k == "MYCELIUM_HOME")
        .map(|(_, v)| PathBuf::from(v));
    let home = sqlite_home.unwrap_or(home);
    let config = home.join("config.toml");
    std::fs::write(&config, "[process]\nlease = \"1s\"\n").unwrap();
    std::fs::set_permissions(&config, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let mut owner = std::process::Command::new(bin())
        .arg("--policies")
        .arg(w.fx.path().join("policies"))
        .args(["run", "stuck"])
        .env_clear()
        .envs(crate::common::profile_env())
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", "/nonexistent")
        .envs(cli_env)
        .env("MYCELIUM_HOME", &home)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let store: &Arc<dyn WorkflowStore> = w.manager.store();
    let running = |s: &Arc<dyn WorkflowStore>| {
        s.list(&mycelium::state::ListFilter {
            status: Some(WorkflowStatus::Running),
            limit: 10,
        })
        .unwrap()
    };
    assert!(eventually(|| !running(store).is_empty() && sleeps(&m) == 1));
    let id = running(store)[0].workflow_id;
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(owner.id() as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let _ = owner.wait();
    assert!(
        eventually(|| sleeps(&m) == 0),
        "the sandbox outlived its owner"
    );
    // Still `running` until the lease lapses; then the next housekeeping settles it.
    assert!(eventually(|| {
        let lost = w.runtime.block_on(w.manager.housekeeping()).unwrap();
        lost.contains(&id)
    }));
    let r = store.get(id).unwrap().unwrap();
    assert_eq!(
        (r.status, r.error.as_deref()),
        (WorkflowStatus::Failed, Some("executor lost"))
    );
}

pub fn run_detach_prints_the_id_and_the_workflow_goes_on(h: &impl Harness) {
    let w = World::new(h, 2);
    let m = marker(204 + 1000 * h.ordinal());
    w.agent(
        "bg",
        &format!("cat; echo; sleep {m} & wait"),
        "task = \"stdin\"",
        "",
    );
    let home = w.fx.mkdir("home");
    std::fs::set_permissions(&home, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    let mut cmd = std::process::Command::new(bin());
    cmd.arg("--policies")
        .arg(w.fx.path().join("policies"))
        .args(["run", "bg", "-", "--detach"])
        .env_clear()
        .envs(crate::common::profile_env())
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", "/nonexistent")
        .env("MYCELIUM_HOME", &home)
        .envs(h.cli_env())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), b"task from stdin").unwrap();
    let o = child.wait_with_output().unwrap();
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // Exactly one line: the id.
    let id = mycelium::state::WorkflowId::parse(out.strip_suffix('\n').unwrap()).unwrap();
    assert_eq!(out.lines().count(), 1);
    // It goes on after `run` returned, owned by another process than the one that returned.
    let store = w.manager.store();
    assert!(eventually(|| sleeps(&m) == 1
        && store.get(id).unwrap().unwrap().status
            == WorkflowStatus::Running));
    let r = store.get(id).unwrap().unwrap();
    assert_eq!(
        (r.status, r.task.as_str()),
        (WorkflowStatus::Running, "task from stdin")
    );
    assert!(r.owner.is_some());
    w.runtime.block_on(w.manager.cancel(id)).unwrap();
    assert!(eventually(
        || store.get(id).unwrap().unwrap().status == WorkflowStatus::Cancelled
    ));
    assert_eq!(
        w.output(&store.get(id).unwrap().unwrap()),
        "task from stdin\n"
    );
    assert!(eventually(|| sleeps(&m) == 0));
}

pub fn refused_invocations_record_nothing(h: &impl Harness) {
    let w = World::new(h, 1);
    // High risk (the host's network) and no consent; and a policy with no command.
    w.agent("risky", "true", "", "[network]\nmode = \"host\"");
    w.fx.file(
        "policies/empty.toml",
        &format!("[filesystem]\nread_only = [{SYSTEM}]\n"),
    );
    let err = w
        .runtime
        .block_on(w.manager.invoke(w.invocation("risky", None, &[])))
        .unwrap_err();
    assert!(
        matches!(err, mycelium::process::ProcessError::Consent { .. }),
        "{err}"
    );
    let err = w
        .runtime
        .block_on(w.manager.invoke(w.invocation("empty", None, &[])))
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("its policy has no [agent] command"),
        "{err}"
    );
    let all = w
        .manager
        .store()
        .list(&mycelium::state::ListFilter {
            status: None,
            limit: 10,
        })
        .unwrap();
    assert_eq!(all.len(), 0, "a refused invocation was recorded: {all:?}");
}

pub fn a_workflow_cancelled_while_pending_never_starts(h: &impl Harness) {
    let w = World::new(h, 1);
    let m = marker(206 + 1000 * h.ordinal());
    w.agent("holder", &format!("sleep {m}"), "", "");
    w.agent("queued", "echo I ran", "", "");
    let (first, second) = w.runtime.block_on(async {
        let first = w
            .manager
            .invoke(w.invocation("holder", None, &[]))
            .await
            .unwrap();
        let second = w
            .manager
            .invoke(w.invocation("queued", None, &[]))
            .await
            .unwrap();
        (first, second)
    });
    assert!(eventually(|| sleeps(&m) == 1));
    let store = Arc::clone(w.manager.store());
    // The second waits for the only slot.
    assert_eq!(
        store.get(second.workflow_id).unwrap().unwrap().status,
        WorkflowStatus::Pending
    );
    w.runtime
        .block_on(w.manager.cancel(second.workflow_id))
        .unwrap();
    w.runtime
        .block_on(w.manager.cancel(first.workflow_id))
        .unwrap();
    let (a, b) = w.runtime.block_on(async {
        (
            first.finished().await.unwrap().record,
            second.finished().await.unwrap().record,
        )
    });
    assert_eq!(a.status, WorkflowStatus::Cancelled);
    assert_eq!(
        (b.status, b.started_at, w.output(&b)),
        (WorkflowStatus::Cancelled, None, String::new())
    );
    assert_eq!(sleeps(&m), 0);
}

pub fn a_program_that_cannot_be_executed_fails_at_setup(h: &impl Harness) {
    let w = World::new(h, 2);
    w.fx.file(
        "policies/nope.toml",
        &format!(
            "[agent]\ncommand = [\"/no/such/program\"]\n\n[filesystem]\nread_only = [{SYSTEM}]\n"
        ),
    );
    // Twin: a program that exists runs under the same policy.
    w.fx.file(
        "policies/yes.toml",
        &format!("[agent]\ncommand = [\"/bin/true\"]\n\n[filesystem]\nread_only = [{SYSTEM}]\n"),
    );
    assert_eq!(
        w.run(w.invocation("yes", None, &[])).status,
        WorkflowStatus::Completed
    );
    let finished = w.runtime.block_on(async {
        let invoked = w.manager.invoke(w.invocation("nope", None, &[])).await;
        invoked.unwrap().finished().await.unwrap()
    });
    let r = &finished.record;
    assert_eq!(
        (r.status, r.exit_code, r.error.as_deref()),
        (
            WorkflowStatus::Failed,
            None,
            Some("sandbox setup failed at execve: /no/such/program: No such file or directory")
        )
    );
    assert!(
        matches!(&finished.status, SandboxStatus::SetupFailed { failure } if failure.step == "execve"),
        "{:?}",
        finished.status
    );
    let diagnosed = finished.setup_error.expect("the setup failure, diagnosed");
    assert!(
        diagnosed
            .to_string()
            .contains("/no/such/program: No such file or directory"),
        "{diagnosed}"
    );
    assert_eq!(w.output(r), "");
}

pub fn a_workflow_declared_lost_while_running_is_stopped_and_keeps_the_verdict(h: &impl Harness) {
    let w = World::new(h, 2);
    let m = marker(207 + 1000 * h.ordinal());
    // Positive twin: it runs, and its output is stored.
    let (id, done) = w.start_sleeper("stale", &m);
    let store = Arc::clone(w.manager.store());
    // Another process's housekeeping, as if the owner had not renewed its lease for an
    // hour (a stalled owner, a partition): the workflow is declared lost.
    let later = jiff::Timestamp::now()
        .checked_add(jiff::SignedDuration::from_secs(3600))
        .unwrap();
    assert_eq!(h.open().recover_lost(later).unwrap(), vec![id]);
    // The owner learns it at its next renewal: what runs is stopped, the verdict stands.
    let finished = w.runtime.block_on(done).unwrap().unwrap();
    let r = &finished.record;
    assert_eq!(
        (r.status, r.error.as_deref()),
        (WorkflowStatus::Failed, Some(mycelium::state::EXECUTOR_LOST))
    );
    assert_eq!(store.get(id).unwrap().as_ref(), Some(r));
    assert_eq!(w.output(r), "up\n");
    assert!(
        eventually(|| sleeps(&m) == 0),
        "left behind: {:?}",
        processes_with(&m)
    );
}

/// A running workflow whose record vanished from the store (a Redis server restarted
/// without persistence, a database emptied) can no longer be followed or cancelled: its
/// owner stops the sandbox at its next renewal instead of letting it run unaccounted for,
/// and says the record is gone.
pub fn a_workflow_whose_record_vanished_is_stopped(h: &impl Harness) {
    let w = World::new(h, 2);
    let m = marker(208 + 1000 * h.ordinal());
    // Positive twin: it runs while its record is there.
    let (id, done) = w.start_sleeper("orphaned", &m);
    h.erase_everything();
    let e = w.runtime.block_on(done).unwrap().unwrap_err();
    assert!(
        matches!(
            e,
            mycelium::process::ProcessError::State(mycelium::state::StateError::NotFound(x))
                if x == id
        ),
        "{e:?}"
    );
    assert!(
        eventually(|| sleeps(&m) == 0),
        "left behind: {:?}",
        processes_with(&m)
    );
}

/// A long-running host's manager settles, on its own and while it runs, the workflows of
/// an owner that died (`keep_house`): no `run` or reader needs to come by.
pub fn a_long_running_manager_settles_dead_owners_workflows(h: &impl Harness) {
    let w = World::new(h, 2);
    let other = h.open();
    let new = mycelium::state::NewWorkflow {
        agent_name: "elsewhere".into(),
        task: String::new(),
        risk_level: mycelium::policy::RiskLevel::Low,
        checksum: "sha256:00".into(),
    };
    let dead = other.create(&new).unwrap().workflow_id;
    other
        .start(
            dead,
            &mycelium::state::Owner::named("gone/1"),
            Duration::from_millis(300),
        )
        .unwrap();
    // Twin: an owner that keeps its lease is left alone.
    let alive = other.create(&new).unwrap().workflow_id;
    other
        .start(
            alive,
            &mycelium::state::Owner::named("here/1"),
            Duration::from_secs(600),
        )
        .unwrap();
    let house = {
        let _in_runtime = w.runtime.enter();
        w.manager.keep_house(Duration::from_millis(50))
    };
    let store = Arc::clone(w.manager.store());
    assert!(eventually(|| store
        .get(dead)
        .unwrap()
        .is_some_and(|r| r.status == WorkflowStatus::Failed)));
    let r = store.get(dead).unwrap().unwrap();
    assert_eq!(r.error.as_deref(), Some(mycelium::state::EXECUTOR_LOST));
    assert_eq!(
        store.get(alive).unwrap().unwrap().status,
        WorkflowStatus::Running
    );
    house.abort();
}

/// Regression: output the agent printed after its workflow was declared lost (and before
/// its owner stopped it) could not be stored, and the owner retried it as if the store
/// were unreachable, for ten minutes, before giving up without a record. The verdict
/// stands at once.
pub fn regression_a_chatty_workflow_declared_lost_keeps_the_verdict(h: &impl Harness) {
    let w = World::new(h, 2);
    w.agent("chatty", "while :; do echo tick; sleep 0.01; done", "", "");
    let (id, done) = w.start("chatty");
    let store = Arc::clone(w.manager.store());
    assert!(eventually(|| store
        .read_output(id, 0, 1024)
        .is_ok_and(|p| p.text.starts_with("tick\ntick\n"))));
    let later = jiff::Timestamp::now()
        .checked_add(jiff::SignedDuration::from_secs(3600))
        .unwrap();
    assert_eq!(h.open().recover_lost(later).unwrap(), vec![id]);
    let r = w.runtime.block_on(done).unwrap().unwrap().record;
    assert_eq!(
        (r.status, r.error.as_deref()),
        (WorkflowStatus::Failed, Some(mycelium::state::EXECUTOR_LOST))
    );
    assert_eq!(store.get(id).unwrap().unwrap(), r);
}

/// The largest length a file in `dir` may have (the file system's `s_maxbytes`): a longer
/// `ftruncate` fails. The file stays sparse and costs no space.
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

/// An audit log that can take no more lines (its file at the file system's size limit, as
/// on a full disk) is reported, and the workflow goes on and is recorded as usual.
#[test]
fn a_full_audit_log_does_not_stop_a_workflow() {
    if !crate::common::gate::require_sandbox("a_full_audit_log_does_not_stop_a_workflow") {
        return;
    }
    let h = crate::state::Sqlite::new();
    let audit_home = tempfile::tempdir().unwrap();
    let spawner = || Arc::new(Spawner::start(Path::new(&bin())).unwrap());
    let audit_lines = |id: mycelium::state::WorkflowId| -> Vec<String> {
        std::fs::read_to_string(audit_home.path().join("audit.jsonl"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .filter(|v| v["workflow_id"] == id.to_string())
            .map(|v| v["status"].as_str().unwrap().to_owned())
            .collect()
    };
    // Twin: with room, each transition is a line.
    let w = World::with(
        &h,
        1,
        spawner(),
        Some(AuditLog::open(audit_home.path()).unwrap()),
    );
    w.agent("hello", "echo hello", "", "");
    let r = w.run(w.invocation("hello", None, &[]));
    assert_eq!(r.status, WorkflowStatus::Completed);
    assert_eq!(
        audit_lines(r.workflow_id),
        vec!["pending", "running", "completed"]
    );
    drop(w);
    let max = largest_file_size(audit_home.path());
    let file = audit_home.path().join("audit.jsonl");
    std::fs::OpenOptions::new()
        .write(true)
        .open(&file)
        .unwrap()
        .set_len(max)
        .unwrap();
    let w = World::with(
        &h,
        1,
        spawner(),
        Some(AuditLog::open(audit_home.path()).unwrap()),
    );
    w.agent("hello", "echo hello", "", "");
    let r = w.run(w.invocation("hello", None, &[]));
    assert_eq!(
        (r.status, r.exit_code, r.error.as_deref()),
        (WorkflowStatus::Completed, Some(0), None)
    );
    assert_eq!(w.output(&r), "hello\n");
    assert_eq!(std::fs::metadata(&file).unwrap().len(), max);
}

/// A spawner that died and cannot be started again (its program is gone) fails the
/// workflow at its start, recorded, instead of losing it.
#[test]
fn a_spawner_that_cannot_be_started_again_fails_the_workflow_at_start() {
    if !crate::common::gate::require_sandbox(
        "a_spawner_that_cannot_be_started_again_fails_the_workflow_at_start",
    ) {
        return;
    }
    let h = crate::state::Sqlite::new();
    let copy = tempfile::tempdir().unwrap();
    let exe = copy.path().join("mycelium");
    std::fs::copy(bin(), &exe).unwrap();
    let spawner = Arc::new(Spawner::start(&exe).unwrap());
    let w = World::with(&h, 1, Arc::clone(&spawner), None);
    w.agent("hello", "echo hello", "", "");
    // Twin: through the working spawner, it runs.
    let r = w.run(w.invocation("hello", None, &[]));
    assert_eq!(
        (r.status, w.output(&r)),
        (WorkflowStatus::Completed, "hello\n".to_owned())
    );
    let pid = spawner.pid().unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(pid).unwrap()),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    assert!(eventually(|| spawner.pid().is_none()));
    std::fs::remove_file(&exe).unwrap();
    let finished = w.runtime.block_on(async {
        let invoked = w.manager.invoke(w.invocation("hello", None, &[])).await;
        invoked.unwrap().finished().await.unwrap()
    });
    let r = &finished.record;
    assert_eq!((r.status, r.exit_code), (WorkflowStatus::Failed, None));
    let error = r.error.as_deref().unwrap();
    assert!(
        error.starts_with("sandbox setup failed at start: "),
        "{error}"
    );
    assert!(r.started_at.is_some() && r.completed_at.is_some());
    assert!(
        matches!(&finished.status, SandboxStatus::SetupFailed { failure } if failure.step == "start"),
        "{:?}",
        finished.status
    );
    assert!(finished.setup_error.is_some());
    assert_eq!(w.output(r), "");
}

/// Redis goes away mid-run: the agent keeps running, what it prints meanwhile and its end
/// are kept and written when the server is back (restarted with its saved data); an
/// invocation while it is down fails at once, saying so.
#[test]
fn a_redis_restart_mid_run_loses_nothing() {
    if !crate::common::gate::require_sandbox("a_redis_restart_mid_run_loses_nothing") {
        return;
    }
    let Some(mut h) = crate::state::Redis::new("a_redis_restart_mid_run_loses_nothing") else {
        return;
    };
    let w = World::new(&h, 2);
    let m = marker(205);
    // The inner shell reports the killed sleep ("Terminated") where nobody reads it.
    w.agent(
        "patient",
        &format!("echo before; sh -c 'sleep {m}' 2>/dev/null; echo after"),
        "",
        "",
    );
    let (id, done) = w.start("patient");
    let store = Arc::clone(w.manager.store());
    assert!(eventually(|| sleeps(&m) == 1
        && store
            .read_output(id, 0, 1024)
            .is_ok_and(|p| p.text == "before\n")));
    h.server.shutdown_saving();
    // While the server is down: a new invocation fails at once and says why.
    let err = w
        .runtime
        .block_on(w.manager.invoke(w.invocation("patient", None, &[])))
        .unwrap_err()
        .to_string();
    assert!(err.contains("check that the server runs"), "{err}");
    // The agent goes on, prints and ends while nothing can be written.
    let sleep_pid: i32 = processes_with(&m)
        .iter()
        .find(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| c.starts_with(b"sleep\0"))
        })
        .unwrap()
        .parse()
        .unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(sleep_pid),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    assert!(eventually(|| sleeps(&m) == 0));
    assert!(
        !done.is_finished(),
        "the outcome was not kept for the store"
    );
    h.server.restart().unwrap();
    let r = w.runtime.block_on(done).unwrap().unwrap().record;
    assert_eq!(
        (r.status, r.exit_code),
        (WorkflowStatus::Completed, Some(0))
    );
    assert_eq!(w.output(&r), "before\nafter\n");
    assert_eq!(
        store.get(id).unwrap().unwrap().status,
        WorkflowStatus::Completed
    );
}

/// One `#[test]` per behaviour and store, gated on the sandbox (and Redis).
macro_rules! both_stores {
    ($($name:ident),* $(,)?) => {
        mod workflows_sqlite {
            $(
                #[test]
                fn $name() {
                    if !crate::common::gate::require_sandbox(stringify!($name)) {
                        return;
                    }
                    super::$name(&crate::state::Sqlite::new());
                }
            )*
        }
        mod workflows_redis {
            $(
                #[test]
                fn $name() {
                    if !crate::common::gate::require_sandbox(stringify!($name)) {
                        return;
                    }
                    let Some(h) = crate::state::Redis::new(stringify!($name)) else {
                        return;
                    };
                    super::$name(&h);
                }
            )*
        }
    };
}

both_stores!(
    completes_with_the_task_on_stdin_and_its_output_stored,
    failures_keep_exit_codes_and_signals_apart,
    a_timeout_ends_timed_out_and_leaves_no_process,
    a_cancel_from_another_process_stops_it,
    output_past_the_cap_keeps_head_and_tail,
    a_large_task_on_stdin_does_not_deadlock_a_chatty_agent,
    concurrency_never_exceeds_max_concurrent,
    secrets_never_reach_the_store,
    a_killed_owner_is_found_lost_and_its_sandbox_is_gone,
    run_detach_prints_the_id_and_the_workflow_goes_on,
    refused_invocations_record_nothing,
    a_workflow_cancelled_while_pending_never_starts,
    a_program_that_cannot_be_executed_fails_at_setup,
    a_workflow_declared_lost_while_running_is_stopped_and_keeps_the_verdict,
    regression_a_chatty_workflow_declared_lost_keeps_the_verdict,
    a_workflow_whose_record_vanished_is_stopped,
    a_long_running_manager_settles_dead_owners_workflows,
);
