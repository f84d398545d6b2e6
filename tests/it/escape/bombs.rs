//! Resource bombs stop at the policy's limits: the agent sees the error, the sandbox ends,
//! mycelium exits normally and nothing is left on the host. The bombs are bounded (they aim
//! well past the limit, then stop), so the unconfined positive twin is safe to run.

use std::path::Path;

use super::{
    Outcome, assert_refused, assert_succeeded, confined, confined_cmd, default_policy, run_bounded,
    unconfined,
};
use crate::escape_gate;
use crate::sandbox::Fixture;

/// The limits under test, added to the default policy.
const LIMITS: &str = "\n[limits]\nprocesses = 64\nmemory = \"256M\"\n";

#[test]
fn fork_bomb_stops_at_the_process_limit() {
    let probe = escape_gate!("fork_bomb_stops_at_the_process_limit");
    let fx = Fixture::new();
    // Positive twin: 256 processes, 4x the limit, fork fine unconfined.
    assert_succeeded(
        "fork 256 processes",
        &unconfined(probe, &["forkbomb", "256"]),
    );
    let policy = default_policy(&fx, probe, &[], LIMITS);
    let o = confined(&policy, probe, &["forkbomb", "256"]);
    assert_refused("fork bomb under processes = 64", &o, &["EAGAIN"]);
    // "after N processes" with N below the limit.
    let made: usize = match &o {
        Outcome::Refused(r) => r.split_whitespace().nth(2).unwrap().parse().unwrap(),
        _ => unreachable!(),
    };
    assert!(made < 64, "{made} processes forked under a limit of 64");
    // The sandbox is gone and took every child with it.
    let probe_s = probe.to_str().unwrap();
    let left = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|e| {
            std::fs::read(e.path().join("cmdline"))
                .is_ok_and(|c| c.starts_with(format!("{probe_s}\0forkbomb").as_bytes()))
        })
        .count();
    assert_eq!(left, 0, "fork bomb processes left on the host");
}

#[test]
fn memory_bomb_stops_at_the_memory_limit() {
    let probe = escape_gate!("memory_bomb_stops_at_the_memory_limit");
    let fx = Fixture::new();
    // Positive twin: 512 MiB, twice the limit, is fine unconfined.
    assert_succeeded("touch 512 MiB", &unconfined(probe, &["membomb", "512"]));
    let policy = default_policy(&fx, probe, &[], LIMITS);
    let o = confined(&policy, probe, &["membomb", "512"]);
    assert_refused("memory bomb under memory = 256M", &o, &["ENOMEM"]);
}

#[test]
fn disk_filler_stops_at_the_tmpfs_size() {
    let probe = escape_gate!("disk_filler_stops_at_the_tmpfs_size");
    let fx = Fixture::new();
    let host_file = fx.path().join("fill");
    // Positive twin: 64 MiB, four times the tmpfs, write fine to the host's disk.
    assert_succeeded(
        "write 64 MiB",
        &unconfined(probe, &["diskfill", host_file.to_str().unwrap(), "64"]),
    );
    let policy = default_policy(&fx, probe, &[], LIMITS);
    let name = format!("mycelium-escape-fill-{}", std::process::id());
    let inside = format!("/tmp/{name}");
    let out = run_bounded(confined_cmd(&policy, probe, &["diskfill", &inside, "64"]));
    assert_eq!(out.status.code(), Some(0), "mycelium exit: {out:?}");
    let o = Outcome::parse(&out);
    eprintln!("confined diskfill: {o:?}");
    assert_refused("disk filler on a 16M tmpfs", &o, &["ENOSPC"]);
    // The sandbox's /tmp is its own: nothing reached the host's.
    assert!(!Path::new(&std::env::temp_dir().join(&name)).exists());
    assert!(!Path::new("/tmp").join(&name).exists());
}
