//! Signals sent to `mycelium exec` are passed on to the agent, on both ways of starting a
//! sandbox (from the command itself, and through the re-executed launcher with
//! `MYCELIUM_LAUNCHER=1`), and none of them ends mycelium itself.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::mpsc;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use super::{Fixture, exec_cmd, policy_body};
use crate::gate;

/// Every signal mycelium forwards, with the name a shell's `trap` takes.
const FORWARDED: [(&str, Signal); 7] = [
    ("INT", Signal::SIGINT),
    ("TERM", Signal::SIGTERM),
    ("HUP", Signal::SIGHUP),
    ("QUIT", Signal::SIGQUIT),
    ("USR1", Signal::SIGUSR1),
    ("USR2", Signal::SIGUSR2),
    ("WINCH", Signal::SIGWINCH),
];

/// How long a run may take before the test fails (a signal that is never forwarded).
const DEADLINE: std::time::Duration = std::time::Duration::from_secs(60);

fn each_signal_reaches_the_agent(launcher: &str) {
    let fx = Fixture::new();
    let policy = fx.policy("p", &policy_body("", ""));
    for (name, sig) in FORWARDED {
        let script = format!(
            "trap 'echo got {name}; exit 0' {name}; echo ready; while :; do sleep 0.1; done"
        );
        let mut cmd = exec_cmd(&policy, None, &["/bin/sh", "-c", &script]);
        cmd.env("MYCELIUM_LAUNCHER", launcher)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        let pid = Pid::from_raw(child.id() as i32);
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            // The trap is set once `ready` is printed; what follows is the trap's line.
            let ready = lines.next().and_then(Result::ok);
            let _ = tx.send(ready);
            let rest: Vec<String> = lines.map_while(Result::ok).collect();
            let _ = tx.send(Some(rest.join("\n")));
            let _ = child
                .wait()
                .map(|s| tx.send(Some(format!("{:?}", s.code()))));
        });
        let next = || match rx.recv_timeout(DEADLINE) {
            Ok(v) => v,
            Err(_) => {
                let _ = kill(pid, Signal::SIGKILL);
                panic!("SIG{name} (MYCELIUM_LAUNCHER={launcher}): no answer after {DEADLINE:?}");
            }
        };
        assert_eq!(next().as_deref(), Some("ready"), "SIG{name}");
        kill(pid, sig).unwrap();
        let rest = next();
        let code = next();
        assert_eq!(
            (rest.as_deref(), code.as_deref()),
            (Some(format!("got {name}").as_str()), Some("Some(0)")),
            "SIG{name} with MYCELIUM_LAUNCHER={launcher}: the agent's trap, and mycelium's exit"
        );
    }
}

#[test]
fn forwarded_signals_reach_the_agent_when_started_directly() {
    gate!("forwarded_signals_reach_the_agent_when_started_directly");
    each_signal_reaches_the_agent("0");
}

#[test]
fn forwarded_signals_reach_the_agent_through_the_launcher() {
    gate!("forwarded_signals_reach_the_agent_through_the_launcher");
    each_signal_reaches_the_agent("1");
}
