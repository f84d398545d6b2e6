//! System calls the `default` seccomp profile never allows. Each succeeds unconfined where
//! that is safe (as the runner's own uid), proving the probe reaches the kernel.

use super::{
    Outcome, assert_refused, assert_succeeded, confined, default_policy, is_root, unconfined,
};
use crate::escape_gate;
use crate::sandbox::Fixture;

/// Run a probe unconfined (where `positive`) and confined; the confined run must be refused
/// with EPERM (the seccomp profile's answer) or, where the kernel refuses first, one of
/// `also`.
fn refused_under_default(name: &str, mode: &str, positive: bool, also: &[&str]) {
    let probe = super::probe_bin().unwrap();
    if positive {
        assert_succeeded(mode, &unconfined(probe, &[mode]));
    }
    let fx = Fixture::new();
    let policy = default_policy(&fx, probe, &[], "");
    let o = confined(&policy, probe, &[mode]);
    let mut errnos = vec!["EPERM"];
    errnos.extend_from_slice(also);
    assert_refused(name, &o, &errnos);
}

#[test]
fn nested_user_namespace_is_refused() {
    escape_gate!("nested_user_namespace_is_refused");
    refused_under_default("unshare(CLONE_NEWUSER)", "userns", true, &[]);
}

#[test]
fn mount_tmpfs_is_refused() {
    let probe = escape_gate!("mount_tmpfs_is_refused");
    let fx = Fixture::new();
    let dir = fx.mkdir("mnt");
    let dir = dir.to_str().unwrap();
    // Positive twin (root only: mounting needs CAP_SYS_ADMIN in the host's namespace): a
    // tmpfs on a fixture directory, unmounted by the probe at once.
    if is_root() {
        assert_succeeded("mount tmpfs", &unconfined(probe, &["mount", dir]));
    }
    let policy = default_policy(&fx, probe, &[], "");
    let o = confined(&policy, probe, &["mount", "/tmp"]);
    assert_refused("mount(tmpfs) on /tmp", &o, &["EPERM"]);
}

#[test]
fn keyctl_is_refused() {
    escape_gate!("keyctl_is_refused");
    // The launcher joins a fresh session keyring, so even an allowed keyctl would see none
    // of the caller's keys; the profile refuses the call itself.
    refused_under_default("keyctl(KEYCTL_GET_KEYRING_ID)", "keyctl", true, &[]);
}

#[test]
fn add_key_is_refused() {
    escape_gate!("add_key_is_refused");
    refused_under_default("add_key", "add_key", true, &[]);
}

#[test]
fn bpf_map_create_is_refused() {
    escape_gate!("bpf_map_create_is_refused");
    // Positive twin root only: kernel.unprivileged_bpf_disabled refuses other users.
    refused_under_default("bpf(BPF_MAP_CREATE)", "bpf", is_root(), &[]);
}

#[test]
fn perf_event_open_is_refused() {
    escape_gate!("perf_event_open_is_refused");
    // A user-space-only counter on itself: allowed to any user up to perf_event_paranoid 2.
    let paranoid = std::fs::read_to_string("/proc/sys/kernel/perf_event_paranoid")
        .ok()
        .and_then(|s| s.trim().parse::<i32>().ok());
    let positive = is_root() || paranoid.is_some_and(|p| p <= 2);
    refused_under_default("perf_event_open", "perf", positive, &["EACCES"]);
}

#[test]
fn io_uring_setup_is_refused() {
    escape_gate!("io_uring_setup_is_refused");
    let disabled = std::fs::read_to_string("/proc/sys/kernel/io_uring_disabled")
        .is_ok_and(|s| s.trim() != "0");
    refused_under_default("io_uring_setup", "io_uring", !disabled, &[]);
}

#[test]
fn userfaultfd_is_refused() {
    escape_gate!("userfaultfd_is_refused");
    // UFFD_USER_MODE_ONLY is what any user may ask for (kernel >= 5.11).
    refused_under_default("userfaultfd", "userfaultfd", true, &[]);
}

/// Module loading and kexec have no positive twin: succeeding would change the running
/// kernel. Kernels built without modules or kexec answer ENOSYS, which is a refusal too,
/// but the probe must at least have reached the kernel and not crashed.
#[test]
fn module_loading_and_kexec_are_refused() {
    let probe = escape_gate!("module_loading_and_kexec_are_refused");
    let fx = Fixture::new();
    let policy = default_policy(&fx, probe, &[], "");
    for mode in ["init_module", "finit_module", "kexec_load"] {
        let o = confined(&policy, probe, &[mode]);
        assert_refused(mode, &o, &["EPERM", "ENOSYS"]);
        assert!(matches!(o, Outcome::Refused(_)));
    }
}
