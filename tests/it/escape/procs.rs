//! Other processes: a host process cannot be traced, read, or have its environment read,
//! and no namespace outside the sandbox can be joined.

use super::{
    ENV_CANARY, HostTarget, assert_refused, assert_succeeded, confined, default_policy, is_root,
    unconfined,
};
use crate::escape_gate;
use crate::sandbox::Fixture;

#[test]
fn ptrace_attach_to_a_host_process_is_refused() {
    let probe = escape_gate!("ptrace_attach_to_a_host_process_is_refused");
    let fx = Fixture::new();
    let target = HostTarget::spawn(probe);
    let pid = target.pid();
    assert_succeeded("ptrace attach", &unconfined(probe, &["ptrace", &pid]));
    let policy = default_policy(&fx, probe, &[], "");
    // The host pid does not exist in the sandbox's pid namespace (ESRCH); seccomp answers
    // EPERM before the kernel looks.
    let o = confined(&policy, probe, &["ptrace", &pid]);
    assert_refused("ptrace of a host pid", &o, &["EPERM", "ESRCH"]);
    // pid 1 inside is the sandbox's init, which holds capabilities in the sandbox's user
    // namespace: it is non-dumpable, so never traceable by the agent.
    let o = confined(&policy, probe, &["ptrace", "1"]);
    assert_refused("ptrace of the sandbox init", &o, &["EPERM"]);
}

#[test]
fn process_vm_readv_of_a_host_process_is_refused() {
    let probe = escape_gate!("process_vm_readv_of_a_host_process_is_refused");
    let fx = Fixture::new();
    let target = HostTarget::spawn(probe);
    let pid = target.pid();
    // The probe reads the target's canary string back and checks it.
    assert_succeeded(
        "process_vm_readv",
        &unconfined(probe, &["vm_readv", &pid, &target.addr]),
    );
    let policy = default_policy(&fx, probe, &[], "");
    let o = confined(&policy, probe, &["vm_readv", &pid, &target.addr]);
    assert_refused("process_vm_readv of a host pid", &o, &["EPERM", "ESRCH"]);
}

#[test]
fn environ_of_other_processes_is_unreadable() {
    let probe = escape_gate!("environ_of_other_processes_is_unreadable");
    let fx = Fixture::new();
    let target = HostTarget::spawn(probe);
    let environ = format!("/proc/{}/environ", target.pid());
    // Positive twin: the host target's environment (it holds ENV_CANARY) reads from the host.
    assert_succeeded(
        "reading a host environ",
        &unconfined(probe, &["read", &environ]),
    );
    assert!(
        std::fs::read_to_string(&environ)
            .unwrap()
            .contains(ENV_CANARY)
    );
    let policy = default_policy(&fx, probe, &[], "");
    // The host pid is not visible inside.
    let o = confined(&policy, probe, &["read", &environ]);
    assert_refused("reading a host environ", &o, &["ENOENT"]);
    // The sandbox init is non-dumpable (EACCES), and started with an empty environment
    // anyway (EMPTY): either way nothing of the caller's environment is there.
    let o = confined(&policy, probe, &["read", "/proc/1/environ"]);
    assert_refused(
        "reading the sandbox init's environ",
        &o,
        &["EACCES", "EMPTY"],
    );
}

#[test]
fn setns_into_another_namespace_is_refused() {
    let probe = escape_gate!("setns_into_another_namespace_is_refused");
    let fx = Fixture::new();
    let target = HostTarget::spawn(probe);
    let host_ns = format!("/proc/{}/ns/net", target.pid());
    // Positive twin (root only: setns needs CAP_SYS_ADMIN): joining a host process's network
    // namespace (our own, so harmless) works unconfined.
    if is_root() {
        assert_succeeded("setns", &unconfined(probe, &["setns", &host_ns]));
    }
    let policy = default_policy(&fx, probe, &[], "");
    // Descriptors are not inherited and host pids are invisible: the host's namespace files
    // cannot even be named inside.
    let o = confined(&policy, probe, &["setns", &host_ns]);
    assert_refused("setns to a host namespace", &o, &["ENOENT"]);
    // The sandbox init's namespaces: opening needs ptrace access to a non-dumpable process
    // (EACCES); were it opened, setns needs capabilities the agent lacks (EPERM).
    for ns in ["user", "mnt", "net", "pid"] {
        let o = confined(&policy, probe, &["setns", &format!("/proc/1/ns/{ns}")]);
        assert_refused(
            &format!("setns to /proc/1/ns/{ns}"),
            &o,
            &["EACCES", "EPERM"],
        );
    }
}
