//! Exit codes, signals and standard streams pass through `exec`.

use std::io::Write;
use std::process::Stdio;

use pretty_assertions::assert_eq;

use super::{Fixture, err, exec_cmd, out, policy_body, sh};
use crate::gate;

#[test]
fn exit_codes_propagate() {
    gate!("exit_codes_propagate");
    let fx = Fixture::new();
    let policy = fx.policy("p", &policy_body("", ""));
    for code in [0, 1, 7, 42, 255] {
        let o = sh(&policy, None, &format!("exit {code}"));
        assert_eq!(o.status.code(), Some(code), "{}", err(&o));
    }
}

#[test]
fn signal_death_is_128_plus_n() {
    gate!("signal_death_is_128_plus_n");
    let fx = Fixture::new();
    let policy = fx.policy("p", &policy_body("", ""));
    let o = sh(&policy, None, "kill -KILL $$");
    assert_eq!(o.status.code(), Some(128 + 9), "{}", err(&o));
    let o = sh(&policy, None, "kill -TERM $$");
    assert_eq!(o.status.code(), Some(128 + 15), "{}", err(&o));
}

#[test]
fn sigterm_to_mycelium_reaches_the_command() {
    gate!("sigterm_to_mycelium_reaches_the_command");
    let fx = Fixture::new();
    let policy = fx.policy("p", &policy_body("", ""));
    let mut child = exec_cmd(
        &policy,
        None,
        &[
            "/bin/sh",
            "-c",
            "trap 'echo got-term; exit 3' TERM; echo ready; while :; do sleep 0.1; done",
        ],
    )
    .stdout(Stdio::piped())
    .spawn()
    .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut buf = [0u8; 6];
    std::io::Read::read_exact(&mut stdout, &mut buf).unwrap();
    assert_eq!(&buf, b"ready\n");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
    let status = child.wait().unwrap();
    assert_eq!((status.code(), rest.as_str()), (Some(3), "got-term\n"));
}

#[test]
fn stdin_and_stdout_pass_through() {
    gate!("stdin_and_stdout_pass_through");
    let fx = Fixture::new();
    let policy = fx.policy("p", &policy_body("", ""));
    let mut child = exec_cmd(
        &policy,
        None,
        &["/bin/sh", "-c", "tr a-z A-Z; echo to-stderr >&2"],
    )
    .stdin(Stdio::piped())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"hello sandbox\n")
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(
        (o.status.code(), out(&o), err(&o)),
        (
            Some(0),
            "HELLO SANDBOX\n".to_string(),
            "to-stderr\n".to_string()
        )
    );
}

#[test]
fn missing_command_is_127_and_nothing_runs_with_an_invalid_policy() {
    gate!("missing_command_is_127_and_nothing_runs_with_an_invalid_policy");
    let fx = Fixture::new();
    let policy = fx.policy("p", &policy_body("", ""));
    let o = sh(&policy, None, "exit 0");
    assert_eq!(o.status.code(), Some(0));
    let o = exec_cmd(&policy, None, &["no-such-program"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(127), "{}", err(&o));
    assert!(
        err(&o).contains("no-such-program: No such file or directory"),
        "{}",
        err(&o)
    );
    let bad = fx.policy("bad", "[network]\nmode = \"internet\"\n");
    let marker = fx.path().join("ran");
    let o = exec_cmd(
        &bad,
        None,
        &["/bin/sh", "-c", &format!("touch {}", marker.display())],
    )
    .output()
    .unwrap();
    assert_eq!(o.status.code(), Some(125), "{}", err(&o));
    assert!(
        err(&o).contains("network.mode: unknown mode \"internet\""),
        "{}",
        err(&o)
    );
    assert!(!marker.exists());
}
