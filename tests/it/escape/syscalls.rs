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

#[test]
fn clone_with_a_namespace_flag_is_refused() {
    escape_gate!("clone_with_a_namespace_flag_is_refused");
    // The raw clone(2), bypassing glibc, with CLONE_NEWUSER in its flags register.
    refused_under_default("clone(CLONE_NEWUSER)", "clone_newuser", true, &[]);
}

#[test]
fn clone3_with_a_namespace_flag_is_refused() {
    escape_gate!("clone3_with_a_namespace_flag_is_refused");
    // clone3's flags are in memory the filter cannot read: the profile answers ENOSYS to
    // every clone3, so libc falls back to clone.
    refused_under_default("clone3(CLONE_NEWUSER)", "clone3_newuser", true, &["ENOSYS"]);
}

#[test]
fn non_default_personality_is_refused() {
    escape_gate!("non_default_personality_is_refused");
    refused_under_default("personality(READ_IMPLIES_EXEC)", "personality", true, &[]);
}

#[test]
fn open_by_handle_at_is_refused() {
    let probe = escape_gate!("open_by_handle_at_is_refused");
    // The probe's directory: granted inside, and on a host file system.
    let dir = probe.parent().unwrap().to_str().unwrap();
    // Positive twin root only: open_by_handle_at needs CAP_DAC_READ_SEARCH.
    if is_root() {
        assert_succeeded(
            "open_by_handle_at",
            &unconfined(probe, &["open_by_handle", dir]),
        );
    }
    let fx = Fixture::new();
    let policy = default_policy(&fx, probe, &[], "");
    let o = confined(&policy, probe, &["open_by_handle", dir]);
    assert_refused("open_by_handle_at", &o, &["EPERM"]);
}

#[test]
fn packet_and_audit_sockets_are_refused() {
    escape_gate!("packet_and_audit_sockets_are_refused");
    // Positive twin for AF_PACKET root only (CAP_NET_RAW); any user may open an audit
    // netlink socket.
    refused_under_default("socket(AF_PACKET)", "af_packet", is_root(), &[]);
    refused_under_default(
        "socket(AF_NETLINK, NETLINK_AUDIT)",
        "netlink_audit",
        true,
        &[],
    );
}

/// A system call through the i386 entry point (`int 0x80`) of a 64-bit process: numbers
/// differ per architecture, so a filter must kill anything not native.
#[test]
#[cfg(target_arch = "x86_64")]
fn foreign_architecture_system_call_kills_the_process() {
    let probe = escape_gate!("foreign_architecture_system_call_kills_the_process");
    let ia32 = unconfined(probe, &["int80"]);
    // Kernels without IA32 emulation refuse it themselves (ENOSYS); nothing to prove then.
    if ia32.errno() != Some("ENOSYS") {
        assert_succeeded("int 0x80 getpid", &ia32);
    }
    let fx = Fixture::new();
    let policy = default_policy(&fx, probe, &[], "");
    let o = super::run_bounded(super::confined_cmd(&policy, probe, &["int80"]));
    eprintln!("confined int80: {o:?}");
    // Killed by SIGSYS (31) before printing anything: mycelium exits 128 + 31.
    assert_eq!(
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stdout).into_owned()
        ),
        (Some(128 + libc::SIGSYS), String::new()),
        "ESCAPE: an i386 system call under the default policy: {o:?}"
    );
}
