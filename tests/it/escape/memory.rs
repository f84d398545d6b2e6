//! Memory outside the address space (issue 10, item 9): `limits.memory` is RLIMIT_AS per
//! process, which counts no memfd, shm or System V IPC pages. Where a memory cgroup can be
//! had (root with cgroup v1 here, or a delegated v2 subtree) it bounds everything the
//! sandbox holds; where none can (an unprivileged caller on most hosts) the filter refuses
//! `memfd_create`, `shmget`, `msgget` and `semget` instead. Either way an agent under
//! `memory = "64M"` cannot hold 256 MiB in a memfd or in shm, and without `memory` a memfd
//! still works.

use mycelium::isolation::cgroup::{self, CgroupLimits};
use mycelium::isolation::seccomp::UnaccountedMemory;

use super::{
    Outcome, assert_refused, assert_succeeded, confined, confined_cmd, default_policy, run_bounded,
    unconfined,
};
use crate::escape_gate;
use crate::sandbox::Fixture;

const LIMIT: &str = "\n[limits]\nmemory = \"64M\"\n";

/// What this caller gets for `memory = "64M"` on this host (the same decision the plan makes).
fn enforcement() -> UnaccountedMemory {
    cgroup::memory_enforcement(&CgroupLimits {
        memory: Some(64 << 20),
        pids: None,
        cpu_millis: None,
    })
}

#[test]
fn memfd_and_shm_cannot_hold_memory_past_the_limit() {
    let probe = escape_gate!("memfd_and_shm_cannot_hold_memory_past_the_limit");
    let fx = Fixture::new();
    let policy = default_policy(&fx, probe, &[], LIMIT);
    let mechanism = enforcement();
    eprintln!("memory = 64M is enforced by {mechanism:?}");
    for what in ["memfd", "shm"] {
        // Positive twin: 256 MiB are held fine unconfined.
        assert_succeeded(&format!("{what} 256"), &unconfined(probe, &[what, "256"]));
        let out = run_bounded(confined_cmd(&policy, probe, &[what, "256"]));
        let o = Outcome::parse(&out);
        eprintln!("confined {what} 256: {o:?} (exit {:?})", out.status.code());
        match mechanism {
            // No cgroup: the call that would make the memory is refused outright.
            UnaccountedMemory::Refused => {
                assert_refused(&format!("{what} under memory = 64M"), &o, &["EPERM"]);
            }
            // A memory cgroup without swap: the kernel's OOM killer stops the agent at the
            // limit (SIGKILL, so mycelium exits 128 + 9), or a write fails first.
            UnaccountedMemory::Allowed => {
                assert_ne!(
                    o,
                    Outcome::Succeeded,
                    "ESCAPE: {what} held 256 MiB under 64M"
                );
                assert!(
                    out.status.code() == Some(137) || o.errno() == Some("ENOMEM"),
                    "{what}: expected an OOM kill or ENOMEM, got {o:?} {:?}",
                    out.status
                );
            }
        }
    }
}

#[test]
fn memfd_works_when_no_memory_limit_is_set() {
    let probe = escape_gate!("memfd_works_when_no_memory_limit_is_set");
    let fx = Fixture::new();
    let policy = default_policy(&fx, probe, &[], "");
    assert_eq!(
        confined(&policy, probe, &["memfd", "16"]),
        Outcome::Succeeded
    );
    assert_eq!(confined(&policy, probe, &["shm", "16"]), Outcome::Succeeded);
    // And under the limit, a small memfd works only where a cgroup counts it.
    let limited = default_policy(&fx, probe, &[], LIMIT);
    let o = confined(&limited, probe, &["memfd", "16"]);
    match enforcement() {
        UnaccountedMemory::Allowed => assert_eq!(o, Outcome::Succeeded),
        UnaccountedMemory::Refused => assert_refused("memfd under 64M", &o, &["EPERM"]),
    }
}

/// The red team's variant: pages put into a pipe without a copy (`vmsplice` of a huge page,
/// `splice`/`sendfile` of an unlinked tmpfs file's pages) stay allocated, counted by no
/// rlimit. Without a cgroup each call is refused under `memory`; with one, the cgroup
/// counts the pages, so the calls stay.
#[test]
fn pipes_cannot_hold_pages_outside_the_memory_limit() {
    let probe = escape_gate!("pipes_cannot_hold_pages_outside_the_memory_limit");
    // Two fixtures: both policies are written under the same file name.
    let (fx, fx_limited) = (Fixture::new(), Fixture::new());
    let unlimited = default_policy(&fx, probe, &[], "");
    let limited = default_policy(&fx_limited, probe, &[], LIMIT);
    for how in ["vmsplice", "splice", "sendfile"] {
        // Positive twins: the call works unconfined, and confined without `memory`.
        assert_succeeded(how, &unconfined(probe, &["pipe_pages", how]));
        assert_eq!(
            confined(&unlimited, probe, &["pipe_pages", how]),
            Outcome::Succeeded,
            "{how} without a memory limit"
        );
        let o = confined(&limited, probe, &["pipe_pages", how]);
        match enforcement() {
            UnaccountedMemory::Allowed => assert_eq!(o, Outcome::Succeeded, "{how}"),
            UnaccountedMemory::Refused => {
                assert_refused(&format!("{how} under memory = 64M"), &o, &["EPERM"]);
            }
        }
    }
}

/// The second red team's variant: a unix socket pair's buffers (SO_SNDBUF raised to
/// `net.core.wmem_max`, filled without a reader) held 8 GB under `memory = "256M"`, 8 MiB
/// per socket, hundreds of sockets per process. Without a cgroup, socketpair is refused
/// under `memory`; with one, the cgroup counts socket memory.
#[test]
fn socket_pairs_cannot_queue_memory_outside_the_limit() {
    let probe = escape_gate!("socket_pairs_cannot_queue_memory_outside_the_limit");
    let (fx, fx_limited) = (Fixture::new(), Fixture::new());
    let unlimited = default_policy(&fx, probe, &[], "");
    let limited = default_policy(&fx_limited, probe, &[], LIMIT);
    assert_succeeded("pair_stream", &unconfined(probe, &["pair_stream"]));
    assert_eq!(
        confined(&unlimited, probe, &["pair_stream"]),
        Outcome::Succeeded
    );
    let o = confined(&limited, probe, &["pair_stream"]);
    match enforcement() {
        UnaccountedMemory::Allowed => assert_eq!(o, Outcome::Succeeded),
        UnaccountedMemory::Refused => {
            assert_refused("socketpair under memory = 64M", &o, &["EPERM"])
        }
    }
}

/// `default_policy` plus `rest`, with `network.unix_sockets = true`.
fn unix_policy(fx: &Fixture, probe: &std::path::Path, rest: &str) -> std::path::PathBuf {
    let body = std::fs::read_to_string(default_policy(fx, probe, &[], rest))
        .unwrap()
        .replace("mode = \"none\"", "mode = \"none\"\nunix_sockets = true");
    assert!(body.contains("unix_sockets = true"));
    fx.policy("unix", &body)
}

/// The third red team's variants: a netlink socket's queue of error replies (10 GB under
/// 512M) and, where the policy allows unix sockets, unix sockets' queues (784 MiB in one
/// process). Without a cgroup both families are refused under `memory`; with one, or
/// without `memory`, they stay.
#[test]
fn netlink_and_unix_sockets_cannot_queue_memory_outside_the_limit() {
    let probe = escape_gate!("netlink_and_unix_sockets_cannot_queue_memory_outside_the_limit");
    let (fx, fx_limited) = (Fixture::new(), Fixture::new());
    let unlimited = unix_policy(&fx, probe, "");
    let limited = unix_policy(&fx_limited, probe, LIMIT);
    for (what, args) in [
        ("netlink", ["socket", "16", "3", "0"]),
        ("unix", ["socket", "1", "1", "0"]),
    ] {
        assert_succeeded(what, &unconfined(probe, &args));
        assert_eq!(
            confined(&unlimited, probe, &args),
            Outcome::Succeeded,
            "{what} without a memory limit"
        );
        let o = confined(&limited, probe, &args);
        match enforcement() {
            UnaccountedMemory::Allowed => assert_eq!(o, Outcome::Succeeded, "{what}"),
            UnaccountedMemory::Refused => {
                assert_refused(&format!("{what} under memory = 64M"), &o, &["EPERM"]);
            }
        }
    }
}

#[test]
fn report_explain_and_doctor_name_the_memory_mechanism() {
    let probe = escape_gate!("report_explain_and_doctor_name_the_memory_mechanism");
    let fx = Fixture::new();
    let policy = default_policy(&fx, probe, &[], LIMIT);
    let expected = cgroup::describe_memory(enforcement());
    let run = |args: &[&std::ffi::OsStr]| {
        let mut cmd = std::process::Command::new(crate::common::bin());
        cmd.args(args)
            .env_clear()
            .envs(crate::common::launcher_env())
            .envs(crate::common::profile_env())
            .env("PATH", "/usr/bin:/bin")
            .env("HOME", "/nonexistent");
        run_bounded(cmd)
    };
    let o = run(&[
        "exec".as_ref(),
        "--report".as_ref(),
        "--policy".as_ref(),
        policy.as_os_str(),
        "--".as_ref(),
        probe.as_os_str(),
        "pair_stream".as_ref(),
    ]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    let report: serde_json::Value = stderr
        .lines()
        .find(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap())
        .unwrap_or_else(|| panic!("no report in {stderr:?}"));
    assert_eq!(
        report["sandbox"]["limits"]["memory"].as_str(),
        Some(expected.as_str())
    );
    let o = run(&["policy".as_ref(), "explain".as_ref(), policy.as_os_str()]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains(&format!(
            "memory limit, for this caller on this host: {expected}"
        )),
        "{text}"
    );
    // Without `memory`, neither says anything about it.
    let unlimited = default_policy(&fx, probe, &[], "");
    let o = run(&["policy".as_ref(), "explain".as_ref(), unlimited.as_os_str()]);
    assert!(!String::from_utf8_lossy(&o.stdout).contains("memory limit"));
    let o = run(&["doctor".as_ref()]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains(&format!("[limits] memory is enforced with {expected}")),
        "{text}"
    );
}
