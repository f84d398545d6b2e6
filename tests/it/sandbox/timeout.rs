//! `[agent] timeout`: when it runs out the agent gets `SIGTERM`, the whole sandbox is
//! killed after the grace, and the command exits 124 saying it timed out; a command that
//! ends in time keeps its own exit code. No assertion depends on how long anything took.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use pretty_assertions::assert_eq;

use super::{Fixture, err, eventually, exec_cmd, marker, out, policy_body, processes_with};
use crate::common::bin;
use crate::gate;

/// Running a command to its end, killed (failing the test) after the escape suite's
/// deadline: a timeout that is not enforced must fail these tests, not hang them.
trait OutputBounded {
    fn output_bounded(self) -> Output;
}

impl OutputBounded for Command {
    fn output_bounded(self) -> Output {
        crate::escape::run_bounded(self)
    }
}

/// A policy with `[agent] timeout = "{timeout}"` and, for `run`, `command`.
fn timeout_policy(fx: &Fixture, timeout: &str, command: &[&str]) -> PathBuf {
    let command: Vec<String> = command.iter().map(|a| format!("{a:?}")).collect();
    fx.mkdir("policies");
    fx.file(
        "policies/timed.toml",
        &format!(
            "[agent]\ntimeout = {timeout:?}\ncommand = [{}]\n\n{}",
            command.join(", "),
            policy_body("", "")
        ),
    )
}

/// Positive twin of the "nothing left" checks: a process holding `marker` is found. It is
/// a shell that says when it runs (its command line is complete by then) and then waits
/// for its input to close.
fn assert_marker_scan_works(marker: &str) {
    let mut host = Command::new("/bin/sh")
        .args(["-c", &format!("echo running; read x # {marker}")])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(host.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    assert_eq!(line, "running\n");
    let found = processes_with(marker);
    drop(host.stdin.take());
    let _ = host.wait();
    assert_eq!(found, vec![host.id().to_string()]);
}

const MESSAGE: &str = "mycelium: timed out after 1s ([agent] timeout); the command was stopped\n";

fn assert_timed_out(o: &Output, marker: &str) {
    assert_eq!(o.status.code(), Some(124), "{}", err(o));
    assert!(err(o).ends_with(MESSAGE), "{}", err(o));
    assert_eq!(processes_with(marker), Vec::<String>::new(), "left running");
}

#[test]
fn exec_stops_an_agent_past_its_timeout_with_exit_124() {
    gate!("exec_stops_an_agent_past_its_timeout_with_exit_124");
    let m = marker(1);
    assert_marker_scan_works(&m);
    let fx = Fixture::new();
    let policy = timeout_policy(&fx, "1s", &["/bin/true"]);
    let o = exec_cmd(&policy, None, &["/bin/sh", "-c", &format!("sleep {m}")]).output_bounded();
    assert_timed_out(&o, &m);
}

#[test]
fn exec_kills_an_agent_that_ignores_sigterm_after_the_grace() {
    gate!("exec_kills_an_agent_that_ignores_sigterm_after_the_grace");
    let m = marker(2);
    let fx = Fixture::new();
    let policy = timeout_policy(&fx, "1s", &["/bin/true"]);
    // The shell notes SIGTERM and carries on; only the SIGKILL after the grace ends it.
    let script = format!(
        "trap 'echo got TERM' TERM; echo started; while :; do sleep {m}; done; echo left the loop"
    );
    let o = exec_cmd(&policy, None, &["/bin/sh", "-c", &script]).output_bounded();
    assert_timed_out(&o, &m);
    assert_eq!(out(&o), "started\ngot TERM\n");
}

#[test]
fn exec_keeps_the_exit_code_of_an_agent_that_ends_in_time() {
    gate!("exec_keeps_the_exit_code_of_an_agent_that_ends_in_time");
    let fx = Fixture::new();
    let policy = timeout_policy(&fx, "10m", &["/bin/true"]);
    let o = exec_cmd(&policy, None, &["/bin/sh", "-c", "echo done; exit 7"]).output_bounded();
    assert_eq!(
        (o.status.code(), out(&o), err(&o)),
        (Some(7), "done\n".to_string(), String::new())
    );
}

/// `mycelium run timed`, consent granted first.
fn run_timed(fx: &Fixture) -> Output {
    let home = fx.mkdir("home");
    std::fs::set_permissions(&home, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    let cmd = |args: &[&str]| {
        let mut c = Command::new(bin());
        c.arg("--policies")
            .arg(fx.path().join("policies"))
            .args(args)
            .env_clear()
            .envs(crate::common::launcher_env())
            .envs(crate::common::profile_env())
            .env("PATH", "/usr/bin:/bin")
            .env("HOME", fx.path())
            .env("MYCELIUM_HOME", &home)
            .current_dir(fx.path())
            .stdin(Stdio::null());
        c.output_bounded()
    };
    let o = cmd(&["consent", "grant", "--yes", "timed"]);
    assert!(o.status.success(), "{}", err(&o));
    cmd(&["run", "timed"])
}

#[test]
fn run_stops_an_agent_past_its_timeout_with_exit_124() {
    gate!("run_stops_an_agent_past_its_timeout_with_exit_124");
    let m = marker(3);
    let fx = Fixture::new();
    let script = format!("echo started; sleep {m}");
    timeout_policy(&fx, "1s", &["/bin/sh", "-c", &script]);
    let o = run_timed(&fx);
    assert_timed_out(&o, &m);
    assert_eq!(out(&o), "started\n");
}

#[test]
fn run_keeps_the_exit_code_of_an_agent_that_ends_in_time() {
    gate!("run_keeps_the_exit_code_of_an_agent_that_ends_in_time");
    let fx = Fixture::new();
    timeout_policy(&fx, "10m", &["/bin/sh", "-c", "echo done; exit 7"]);
    let o = run_timed(&fx);
    assert_eq!(
        (o.status.code(), out(&o), err(&o)),
        (Some(7), "done\n".to_string(), String::new())
    );
}

/// Killing mycelium (SIGKILL: nothing of it can clean up) ends every process of its sandbox,
/// or the agent would outlive its caller and its timeout. A root caller's pid 1 changes its
/// ids to the workspace owner's, which clears the parent-death signal: it must set it again.
/// Every start path: direct and through the launcher, with and without a cgroup (root with
/// limits.processes).
#[test]
fn killing_mycelium_ends_the_sandbox_on_every_start_path() {
    gate!("killing_mycelium_ends_the_sandbox_on_every_start_path");
    let fx = Fixture::new();
    let mut tag = 10;
    for limits in ["", "\n[limits]\nprocesses = 64\n"] {
        for launcher in [false, true] {
            tag += 1;
            let m = marker(tag);
            let ws = fx.workspace(&format!("ws{tag}"));
            let policy = fx.policy(
                &format!("p{tag}"),
                &format!(
                    "[agent]\ntimeout = \"10m\"\n\n{}",
                    policy_body("", &format!("read_write = [\"{{workspace}}\"]{limits}"))
                ),
            );
            let mut cmd = exec_cmd(
                &policy,
                Some(&ws),
                &["/bin/sh", "-c", &format!("echo started; sleep {m}")],
            );
            if launcher {
                cmd.env("MYCELIUM_LAUNCHER", "1");
            }
            let mut child = cmd.stdout(Stdio::piped()).spawn().unwrap();
            let mut line = String::new();
            std::io::BufRead::read_line(
                &mut std::io::BufReader::new(child.stdout.take().unwrap()),
                &mut line,
            )
            .unwrap();
            assert_eq!(line, "started\n", "launcher {launcher}, limits {limits:?}");
            // Positive twin: the agent's sleep is found while mycelium lives.
            assert!(
                eventually(|| !processes_with(&m).is_empty()),
                "the agent never ran (launcher {launcher}, limits {limits:?})"
            );
            nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(child.id() as i32),
                nix::sys::signal::Signal::SIGKILL,
            )
            .unwrap();
            let _ = child.wait();
            assert!(
                eventually(|| processes_with(&m).is_empty()),
                "the sandbox outlived mycelium (launcher {launcher}, limits {limits:?}): {:?}",
                processes_with(&m)
            );
        }
    }
}
