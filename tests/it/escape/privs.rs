//! Setuid escalation: a setuid-root program in a granted directory runs without gaining
//! euid 0 (mounts are nosuid, no_new_privs is set, and root is not mapped in the sandbox).

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use super::{Outcome, assert_succeeded, confined, default_policy, is_root, run_bounded};
use crate::escape_gate;
use crate::sandbox::Fixture;

#[test]
fn setuid_root_program_gains_nothing() {
    let probe = escape_gate!("setuid_root_program_gains_nothing");
    if !is_root() {
        // Only root can make a setuid-root file; the root run of the suite covers this.
        eprintln!("SKIPPED setuid_root_program_gains_nothing: needs root to create the file");
        return;
    }
    let fx = Fixture::new();
    let dir = fx.mkdir("suid");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let suid = dir.join("probe-suid");
    std::fs::copy(probe, &suid).unwrap();
    std::fs::set_permissions(&suid, std::fs::Permissions::from_mode(0o4755)).unwrap();
    let suid_s = suid.to_str().unwrap();

    // Positive twin: run by an ordinary user on the host, it gets euid 0.
    let mut cmd = Command::new("setpriv");
    cmd.args([
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        suid_s,
        "euid",
    ])
    .env_clear()
    .current_dir("/");
    assert_succeeded("setuid-root euid", &Outcome::parse(&run_bounded(cmd)));

    let policy = default_policy(&fx, probe, &[&dir], "");
    let o = confined(&policy, &suid, &["euid"]);
    match &o {
        Outcome::Refused(r) if r.starts_with("EUID") && r != "EUID0" => {}
        _ => panic!("ESCAPE: setuid-root program under the default policy: got {o:?}"),
    }
}
