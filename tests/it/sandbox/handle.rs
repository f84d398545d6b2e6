//! The sandbox handle and the spawner, driven through the library as a multi-threaded host
//! (the test harness is one) would: sandboxes started by the real binary's spawner, their
//! ends typed, stopped by `kill`/`terminate`/drop, independent of the thread that made
//! them, and unaffected by the spawner's death. Assertions are on processes and output,
//! never on durations.

use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use mycelium::isolation::{self, Io, RunningSandbox, SandboxStatus, Spawner};
use mycelium::policy::{LoadOptions, Policy};
use pretty_assertions::assert_eq;

use super::{Fixture, eventually, marker, policy_body, processes_with};
use crate::common::bin;
use crate::gate;

/// Start `script` under `sh -c` in a sandbox of the system-paths policy, stdout piped.
fn start(spawner: &Spawner, fx: &Fixture, script: &str) -> RunningSandbox {
    let policy_path = fx.policy("handle", &policy_body("", ""));
    let opts = LoadOptions {
        home: "/nonexistent".into(),
        protected: vec![],
    };
    let policy = Policy::load(&policy_path, &opts).unwrap();
    let argv = vec!["/bin/sh".into(), "-c".into(), script.into()];
    let prepared =
        isolation::prepare(&policy, None, &[], argv, [("PATH", "/usr/bin:/bin")]).unwrap();
    let mut sandbox = spawner
        .spawn(&prepared.plan, Io::Inherit, Io::Piped, Io::Inherit, &[])
        .unwrap();
    sandbox.wait_started().unwrap();
    sandbox
}

fn read_all(sandbox: &mut RunningSandbox) -> String {
    let mut out = String::new();
    sandbox
        .take_stdout()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    out
}

/// How many `sleep MARKER` processes run on the host.
fn sleeps_with(m: &str) -> usize {
    processes_with(m)
        .iter()
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| c.starts_with(b"sleep\0"))
        })
        .count()
}

fn spawner() -> Spawner {
    Spawner::start(Path::new(&bin())).unwrap()
}

#[test]
fn ends_are_typed_exit_codes_and_signals_apart() {
    gate!("ends_are_typed_exit_codes_and_signals_apart");
    let fx = Fixture::new();
    let sp = spawner();
    let mut s = start(&sp, &fx, "echo hi; exit 7");
    assert_eq!(read_all(&mut s), "hi\n");
    assert_eq!(s.wait().unwrap(), SandboxStatus::Exited { code: 7 });
    // An exit code of 143 is not a signal, and a signal is not an exit code of 143.
    let s = start(&sp, &fx, "exit 143");
    assert_eq!(s.wait().unwrap(), SandboxStatus::Exited { code: 143 });
    let s = start(&sp, &fx, "kill -TERM $$");
    assert_eq!(s.wait().unwrap(), SandboxStatus::Signaled { signal: 15 });
}

#[test]
fn a_command_that_cannot_start_is_a_setup_failure() {
    gate!("a_command_that_cannot_start_is_a_setup_failure");
    let fx = Fixture::new();
    let sp = spawner();
    let policy_path = fx.policy("handle", &policy_body("", ""));
    let policy = Policy::load(&policy_path, &LoadOptions::default()).unwrap();
    let prepared = isolation::prepare(
        &policy,
        None,
        &[],
        vec!["/no/such/program".into()],
        [("PATH", "/usr/bin:/bin")],
    )
    .unwrap();
    let mut s = sp
        .spawn(&prepared.plan, Io::Inherit, Io::Inherit, Io::Inherit, &[])
        .unwrap();
    let err = s.wait_started().unwrap_err();
    assert!(
        matches!(err, isolation::IsolationError::Exec { .. }),
        "{err}"
    );
    match s.try_wait().unwrap() {
        Some(SandboxStatus::SetupFailed { failure }) => assert_eq!(failure.step, "execve"),
        other => panic!("expected a setup failure, got {other:?}"),
    }
}

#[test]
fn try_wait_kill_and_terminate_stop_every_process() {
    gate!("try_wait_kill_and_terminate_stop_every_process");
    let fx = Fixture::new();
    let sp = spawner();
    for (tag, graceful) in [(1, false), (2, true)] {
        let m = marker(100 + tag);
        // A child that ignores SIGTERM and a double-forked one, so only the sandbox's end
        // takes them.
        let mut s = start(
            &sp,
            &fx,
            &format!("trap '' TERM; (sleep {m} &) ; sleep {m} & echo up; wait"),
        );
        let mut out = s.take_stdout().unwrap();
        let mut line = [0u8; 3];
        out.read_exact(&mut line).unwrap();
        assert_eq!(&line, b"up\n");
        // Positive twin: both sleeps run, and the sandbox has not ended.
        assert!(
            eventually(|| sleeps_with(&m) == 2),
            "{:?}",
            processes_with(&m)
        );
        assert_eq!(s.try_wait().unwrap(), None);
        if graceful {
            s.terminate();
        } else {
            s.kill();
        }
        assert_eq!(s.wait().unwrap(), SandboxStatus::Stopped);
        assert!(
            processes_with(&m).is_empty(),
            "left behind: {:?}",
            processes_with(&m)
        );
    }
}

#[test]
fn a_sandbox_outlives_the_thread_that_started_it_and_dies_with_its_handle() {
    gate!("a_sandbox_outlives_the_thread_that_started_it_and_dies_with_its_handle");
    let fx = Arc::new(Fixture::new());
    let sp = Arc::new(spawner());
    let m = marker(110);
    let (sp2, fx2, m2) = (Arc::clone(&sp), Arc::clone(&fx), m.clone());
    // Started on a thread that exits at once (as a runtime's blocking thread retires).
    let mut s = std::thread::spawn(move || start(&sp2, &fx2, &format!("sleep {m2}")))
        .join()
        .unwrap();
    assert!(eventually(|| !processes_with(&m).is_empty()));
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert_eq!(
        s.try_wait().unwrap(),
        None,
        "the sandbox died with its thread"
    );
    assert!(!processes_with(&m).is_empty());
    // Dropped on another thread that then exits: the sandbox goes with the handle.
    std::thread::spawn(move || drop(s)).join().unwrap();
    assert!(
        eventually(|| processes_with(&m).is_empty()),
        "the sandbox outlived its handle: {:?}",
        processes_with(&m)
    );
}

#[test]
fn the_spawner_dying_leaves_running_sandboxes_alone_and_is_restarted() {
    gate!("the_spawner_dying_leaves_running_sandboxes_alone_and_is_restarted");
    let fx = Fixture::new();
    let sp = spawner();
    let first = sp.pid().unwrap();
    let m = marker(120);
    let mut s = start(&sp, &fx, &format!("sleep {m}"));
    assert!(eventually(|| sleeps_with(&m) == 1));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(first as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    assert!(eventually(|| sp.pid().is_none()), "the spawner did not die");
    // The sandbox still runs, and its handle still stops it.
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert_eq!(s.try_wait().unwrap(), None);
    assert_eq!(sleeps_with(&m), 1);
    s.kill();
    assert_eq!(s.wait().unwrap(), SandboxStatus::Stopped);
    assert_eq!(sleeps_with(&m), 0);
    let mut s = start(&sp, &fx, "echo second");
    assert_eq!(read_all(&mut s), "second\n");
    assert_eq!(s.wait().unwrap(), SandboxStatus::Exited { code: 0 });
    let second = sp.pid().unwrap();
    assert_ne!(first, second);
}
