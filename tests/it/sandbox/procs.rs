//! Processes: a private pid namespace with our init as pid 1, no inherited descriptors,
//! nothing left running after the command exits, a private host name.

use std::process::Command;

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
            .envs(crate::common::profile_env())
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

/// Whether every writer of the pipe `r` reads from has closed it, right now: the read end
/// is drained without blocking, and end-of-file means no process holds a write end.
fn writers_gone(r: &mut std::process::ChildStdout) -> bool {
    use std::io::Read;
    nix::fcntl::fcntl(
        &*r,
        nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
    )
    .unwrap();
    let mut buf = [0u8; 4096];
    loop {
        match r.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return false,
            Err(e) => panic!("read: {e}"),
        }
    }
}

/// The host pids whose command line contains `needle`.
fn host_pids_with_cmdline(needle: &str) -> Vec<i32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| {
            let pid: i32 = e.file_name().to_str()?.parse().ok()?;
            let c = std::fs::read(e.path().join("cmdline")).ok()?;
            String::from_utf8_lossy(&c)
                .replace('\0', " ")
                .contains(needle)
                .then_some(pid)
        })
        .collect()
}

fn read_line(r: &mut std::process::ChildStdout) -> String {
    use std::io::Read;
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while r.read(&mut byte).unwrap() == 1 && byte[0] != b'\n' {
        line.push(byte[0]);
    }
    String::from_utf8(line).unwrap()
}

/// A daemon for the test below: it touches 256 MiB page by page (no huge pages), says
/// `daemon-up` and sleeps.
const DAEMON: &str = "
import mmap, time
n = 256 << 20
m = mmap.mmap(-1, n)
m.madvise(mmap.MADV_NOHUGEPAGE)
for i in range(0, n, 4096):
    m[i] = 1
print(\"daemon-up\", flush=True)
time.sleep(3600)
";

#[test]
fn double_forked_process_is_gone_after_the_command_exits() {
    use std::io::Write;
    use std::process::Stdio;
    gate!("double_forked_process_is_gone_after_the_command_exits");
    let fx = Fixture::new();
    let policy = fx.policy("p", &policy_body("", ""));
    let (m, n) = (3000 + std::process::id() % 1000, std::process::id());
    let marker = format!("sleep {m}.{n}");
    // The daemon detaches twice (subshell + setsid), keeps the standard output pipe open,
    // says it runs and sleeps; the command exits when the test writes a line. The marker
    // is put together by the shell, so only the daemon's command line holds it. The daemon
    // also holds 256 MiB of small pages: a process killed with SIGKILL frees its memory
    // before it closes its descriptors, so a daemon that is only killed as pid 1 exits
    // (after the exit code was reported) still holds the pipe when mycelium has returned.
    let script =
        format!("m={m}; n={n}; (setsid /usr/bin/python3 -c '{DAEMON}' sleep $m.$n &); read go");

    // Positive twin, unconfined: after the command exits the daemon still runs and still
    // holds the pipe, and the probe sees both.
    let mut host = Command::new("/bin/sh")
        .args(["-c", &script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut host_out = host.stdout.take().unwrap();
    assert_eq!(read_line(&mut host_out), "daemon-up");
    host.stdin.take().unwrap().write_all(b"go\n").unwrap();
    assert_eq!(host.wait().unwrap().code(), Some(0));
    let left = host_pids_with_cmdline(&marker);
    let held = !writers_gone(&mut host_out);
    for pid in &left {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(*pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    assert!(
        left.len() == 1 && held,
        "unconfined, the daemon must outlive the command and hold its pipe ({left:?}, {held})"
    );
    drop(host_out);

    // Confined: the daemon is visible from the host while the command runs...
    let mut child = exec_cmd(&policy, None, &["/bin/sh", "-c", &script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = child.stdout.take().unwrap();
    assert_eq!(read_line(&mut out), "daemon-up");
    assert_eq!(
        host_pids_with_cmdline(&marker).len(),
        1,
        "the daemon is not visible from the host, so this probe cannot detect it"
    );
    assert!(!writers_gone(&mut out), "the daemon must hold the pipe now");
    child.stdin.take().unwrap().write_all(b"go\n").unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    // ...and the moment mycelium has exited it is gone: the exit code is only reported
    // once pid 1 has killed and reaped every process, so no writer of the pipe is left and
    // no process carries the marker. (Without that sweep the kernel would still kill it as
    // pid 1 exits, but after the code was reported: this check would see it alive.)
    assert!(
        writers_gone(&mut out),
        "a process of the sandbox still holds its output pipe after mycelium exited"
    );
    assert_eq!(
        host_pids_with_cmdline(&marker),
        Vec::<i32>::new(),
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
