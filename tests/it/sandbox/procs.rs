//! Processes: a private pid namespace with our init as pid 1, no inherited descriptors,
//! nothing left running after the command exits, a private host name.

use std::process::Command;
use std::time::{Duration, Instant};

use pretty_assertions::assert_eq;

use super::{Fixture, err, exec_cmd, out, policy_body, sh};
use crate::common::bin;
use crate::gate;

#[test]
fn host_pids_are_invisible_and_pid_1_is_the_sandbox_init() {
    gate!("host_pids_are_invisible_and_pid_1_is_the_sandbox_init");
    let fx = Fixture::new();
    let policy = fx.policy("p", &policy_body("", ""));
    let me = std::process::id();
    // Positive twin: on the host our own pid is visible in /proc.
    assert!(std::path::Path::new(&format!("/proc/{me}")).exists());
    let script = format!(
        "test -e /proc/{me} && echo SEES_HOST_PID; tr '\\0' ' ' < /proc/1/cmdline; echo; ls /proc | grep -c '^[0-9][0-9]*$'"
    );
    let o = sh(&policy, None, &script);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let text = out(&o);
    let lines: Vec<&str> = text.lines().collect();
    // No SEES_HOST_PID line: the host pid does not exist inside.
    assert_eq!(lines.len(), 2, "{text}");
    // pid 1 is our init, and its command line tells nothing of the caller's.
    assert!(
        lines[0].starts_with("mycelium-init"),
        "pid 1 is {:?}",
        lines[0]
    );
    assert!(
        !lines[0].contains(policy.to_str().unwrap()),
        "pid 1 shows the caller's arguments: {:?}",
        lines[0]
    );
    // pid 1, the shell, and the pipeline's ls and grep: a handful, never the host's hundreds.
    let count: usize = lines[1].trim().parse().unwrap();
    assert!(
        (2..=5).contains(&count),
        "{count} processes visible: {text}"
    );
}

#[test]
fn leaked_descriptor_is_not_inherited() {
    gate!("leaked_descriptor_is_not_inherited");
    let fx = Fixture::new();
    let policy = fx.policy("p", &policy_body("", ""));
    let secret = fx.file("secret.txt", "fd-canary\n");
    // The outer shell opens fd 7 without close-on-exec, exactly as a careless caller would.
    let inner = "ls /proc/self/fd; cat <&7 2>/dev/null && echo READ_FD7; true";
    let run = |cmd: String| {
        Command::new("/bin/sh")
            .arg("-c")
            .arg(cmd)
            .env_clear()
            .envs(crate::common::launcher_env())
            .output()
            .unwrap()
    };
    // Positive twin: without the sandbox the child does inherit fd 7.
    let o = run(format!("exec 7<{}; /bin/sh -c '{inner}'", secret.display()));
    assert!(out(&o).contains("fd-canary\nREAD_FD7"), "{}", out(&o));
    let o = run(format!(
        "exec 7<{}; {} exec --policy {} -- /bin/sh -c '{inner}'",
        secret.display(),
        bin().display(),
        policy.display()
    ));
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let text = out(&o);
    let fds: Vec<&str> = text.lines().collect();
    // 0, 1, 2 and the descriptor ls opens to read /proc/self/fd.
    assert_eq!(fds, vec!["0", "1", "2", "3"], "stderr: {}", err(&o));
}

fn host_has_process_with_cmdline(needle: &str) -> bool {
    std::fs::read_dir("/proc").unwrap().flatten().any(|e| {
        std::fs::read(e.path().join("cmdline"))
            .map(|c| {
                String::from_utf8_lossy(&c)
                    .replace('\0', " ")
                    .contains(needle)
            })
            .unwrap_or(false)
    })
}

#[test]
fn double_forked_process_is_gone_after_the_command_exits() {
    gate!("double_forked_process_is_gone_after_the_command_exits");
    let fx = Fixture::new();
    let policy = fx.policy("p", &policy_body("", ""));
    let marker = format!(
        "{}.{}",
        3000 + std::process::id() % 1000,
        std::process::id()
    );
    // The daemon detaches twice (subshell + setsid) and sleeps; the command itself waits a
    // moment so the test can see the daemon alive first (the positive twin).
    let script = format!("(setsid sleep {marker} &) ; sleep 2; echo parent-done");
    let mut child = exec_cmd(&policy, None, &["/bin/sh", "-c", &script])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut seen = false;
    while Instant::now() < deadline && !seen {
        seen = host_has_process_with_cmdline(&format!("sleep {marker}"));
        std::thread::sleep(Duration::from_millis(50));
    }
    let status = child.wait().unwrap();
    assert!(
        seen,
        "the daemon was never visible from the host, so this probe cannot detect it"
    );
    assert_eq!(status.code(), Some(0));
    // pid 1 exiting tears the namespace down before the launcher reports.
    assert!(
        !host_has_process_with_cmdline(&format!("sleep {marker}")),
        "daemon survived the sandbox"
    );
}

#[test]
fn hostname_change_inside_is_not_seen_outside() {
    gate!("hostname_change_inside_is_not_seen_outside");
    let fx = Fixture::new();
    let policy = fx.policy("p", &policy_body("", ""));
    let before = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert_ne!(
        before.trim(),
        "mycelium",
        "the host must not already be called mycelium for this test"
    );
    // The sandbox set its own uts namespace's name; the agent, holding no capability,
    // cannot change it again.
    let o = sh(
        &policy,
        None,
        "cat /proc/sys/kernel/hostname; hostname evil-sandbox 2>/dev/null || echo refused",
    );
    assert_eq!(
        (o.status.code(), out(&o)),
        (Some(0), "mycelium\nrefused\n".to_string()),
        "{}",
        err(&o)
    );
    assert_eq!(
        std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap(),
        before
    );
}

#[test]
fn command_runs_as_the_policy_uid_without_capabilities() {
    gate!("command_runs_as_the_policy_uid_without_capabilities");
    let fx = Fixture::new();
    let policy = fx.policy("p", &policy_body("", ""));
    let script = "id -u; id -g; grep -E '^Cap(Inh|Prm|Eff|Bnd|Amb)' /proc/self/status; grep NoNewPrivs /proc/self/status; grep -E '^Cap(Prm|Bnd)' /proc/1/status";
    let o = sh(&policy, None, script);
    let zero = "0000000000000000";
    let expected = format!(
        "1000\n1000\nCapInh:\t{zero}\nCapPrm:\t{zero}\nCapEff:\t{zero}\nCapBnd:\t{zero}\nCapAmb:\t{zero}\nNoNewPrivs:\t1\nCapPrm:\t{zero}\nCapBnd:\t{zero}\n"
    );
    assert_eq!(
        (o.status.code(), out(&o)),
        (Some(0), expected),
        "{}",
        err(&o)
    );
    // uid 0 inside would get the full set at exec if the bounding set were not empty.
    let root = fx.policy(
        "root",
        &format!("{}\n[agent]\nuid = 0\ngid = 0\n", policy_body("", "")),
    );
    let o = sh(&root, None, "id -u; grep -E '^CapEff' /proc/self/status");
    assert_eq!(
        (o.status.code(), out(&o)),
        (Some(0), format!("0\nCapEff:\t{zero}\n")),
        "{}",
        err(&o)
    );
}
