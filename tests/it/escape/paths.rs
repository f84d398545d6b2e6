//! Path tricks toward a host file the policy does not grant: a symlink planted in a granted
//! directory, and the `/proc/<pid>/root` magic links.

use super::{HostTarget, assert_refused, assert_succeeded, confined, default_policy, unconfined};
use crate::escape_gate;
use crate::sandbox::Fixture;

#[test]
fn symlink_in_a_granted_dir_does_not_reach_a_host_canary() {
    let probe = escape_gate!("symlink_in_a_granted_dir_does_not_reach_a_host_canary");
    let fx = Fixture::new();
    let canary = fx.file("canary.txt", "host-secret-canary\n");
    let granted = fx.mkdir("granted");
    let link = granted.join("link");
    std::os::unix::fs::symlink(&canary, &link).unwrap();
    let link = link.to_str().unwrap();
    // Positive twin: on the host the link leads to the canary.
    assert_succeeded(
        "read through the symlink",
        &unconfined(probe, &["read", link]),
    );
    let policy = default_policy(&fx, probe, &[&granted], "");
    let o = confined(&policy, probe, &["read", link]);
    assert_refused("read through a planted symlink", &o, &["ENOENT", "EACCES"]);
}

#[test]
fn proc_root_links_do_not_reach_a_host_canary() {
    let probe = escape_gate!("proc_root_links_do_not_reach_a_host_canary");
    let fx = Fixture::new();
    let canary = fx.file("canary.txt", "host-secret-canary\n");
    let target = HostTarget::spawn(probe);
    let via_self = format!("/proc/self/root{}", canary.display());
    let via_host = format!("/proc/{}/root{}", target.pid(), canary.display());
    let via_init = format!("/proc/1/root{}", canary.display());
    // Positive twins: through our own root link, and through a host process's.
    assert_succeeded(
        "read /proc/self/root/…",
        &unconfined(probe, &["read", &via_self]),
    );
    assert_succeeded(
        "read /proc/<host>/root/…",
        &unconfined(probe, &["read", &via_host]),
    );
    let policy = default_policy(&fx, probe, &[], "");
    let o = confined(&policy, probe, &["read", &via_self]);
    assert_refused("read /proc/self/root/<canary>", &o, &["ENOENT"]);
    let o = confined(&policy, probe, &["read", &via_host]);
    assert_refused("read /proc/<host pid>/root/<canary>", &o, &["ENOENT"]);
    // pid 1 inside is the sandbox init: non-dumpable (EACCES), and its root is the
    // sandbox's anyway (ENOENT).
    let o = confined(&policy, probe, &["read", &via_init]);
    assert_refused("read /proc/1/root/<canary>", &o, &["ENOENT", "EACCES"]);
}
