//! Unix sockets the host listens on. Under `default` the agent cannot even create a unix
//! socket (seccomp; `network.unix_sockets` is off). Each test then turns that knob on to show
//! the layer underneath: a path socket in a directory the policy does not grant does not
//! exist inside; an abstract socket lives in the host's network namespace. A socket in a
//! directory granted read-only *is* reachable once unix sockets are allowed — connect(2)
//! needs only write permission on the socket, which a read-only mount does not remove —
//! which is why that knob makes a policy high risk.

use std::os::linux::net::SocketAddrExt;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{SocketAddr, UnixListener};

use std::path::{Path, PathBuf};

use super::{assert_refused, assert_succeeded, confined, default_policy, unconfined};
use crate::escape_gate;
use crate::sandbox::Fixture;

/// The default policy with `network.unix_sockets = true`.
fn unix_policy(fx: &Fixture, probe: &Path, extra_ro: &[&Path]) -> PathBuf {
    let default = default_policy(fx, probe, extra_ro, "");
    let body = std::fs::read_to_string(&default)
        .unwrap()
        .replace("mode = \"none\"", "mode = \"none\"\nunix_sockets = true");
    assert!(body.contains("unix_sockets = true"));
    fx.policy("unix", &body)
}

#[test]
fn host_path_socket_outside_the_policy_is_unreachable() {
    let probe = escape_gate!("host_path_socket_outside_the_policy_is_unreachable");
    let fx = Fixture::new();
    let sock = fx.mkdir("hidden").join("host.sock");
    let _listener = UnixListener::bind(&sock).unwrap();
    let sock = sock.to_str().unwrap();
    assert_succeeded(
        "connect to the host socket",
        &unconfined(probe, &["unix", sock]),
    );
    let policy = default_policy(&fx, probe, &[], "");
    let o = confined(&policy, probe, &["unix", sock]);
    assert_refused("create a unix socket", &o, &["EPERM"]);
    let policy = unix_policy(&fx, probe, &[]);
    let o = confined(&policy, probe, &["unix", sock]);
    assert_refused("connect to a host path socket", &o, &["ENOENT"]);
}

#[test]
fn host_path_socket_in_a_read_only_grant_is_unreachable_by_default() {
    let probe = escape_gate!("host_path_socket_in_a_read_only_grant_is_unreachable_by_default");
    let fx = Fixture::new();
    let dir = fx.mkdir("granted");
    let sock = dir.join("host.sock");
    let listener = UnixListener::bind(&sock).unwrap();
    listener.set_nonblocking(true).unwrap();
    // Anyone may connect, as to journald's socket: a root run's agent is not the caller.
    std::fs::set_permissions(&sock, std::fs::Permissions::from_mode(0o777)).unwrap();
    let sock = sock.to_str().unwrap();
    assert_succeeded(
        "connect to the host socket",
        &unconfined(probe, &["unix", sock]),
    );
    // The host side sees that connection: the probe's success is the real thing.
    assert!(
        listener.accept().is_ok(),
        "the host listener saw no connection"
    );
    let policy = default_policy(&fx, probe, &[&dir], "");
    let o = confined(&policy, probe, &["unix", sock]);
    let reached = listener.accept().is_ok();
    assert!(
        !reached,
        "ESCAPE: the host listener at {sock}, in a directory granted read-only, accepted a \
         connection from the sandbox (probe: {o:?})"
    );
    assert_refused("create a unix socket", &o, &["EPERM"]);
    // With unix sockets allowed the read-only grant alone does not protect the socket: this
    // is the documented risk of network.unix_sockets, shown here so it cannot go unnoticed.
    let policy = unix_policy(&fx, probe, &[&dir]);
    let o = confined(&policy, probe, &["unix", sock]);
    assert_succeeded("connect with network.unix_sockets = true", &o);
    assert!(
        listener.accept().is_ok(),
        "the host listener saw no connection"
    );
}

#[test]
fn host_abstract_socket_is_unreachable() {
    let probe = escape_gate!("host_abstract_socket_is_unreachable");
    let fx = Fixture::new();
    let name = format!(
        "mycelium-escape-{}-{}",
        std::process::id(),
        fx.path().display()
    );
    let addr = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
    let _listener = UnixListener::bind_addr(&addr).unwrap();
    assert_succeeded(
        "connect to the abstract socket",
        &unconfined(probe, &["abstract", &name]),
    );
    let policy = default_policy(&fx, probe, &[], "");
    let o = confined(&policy, probe, &["abstract", &name]);
    assert_refused("create a unix socket", &o, &["EPERM"]);
    let policy = unix_policy(&fx, probe, &[]);
    let o = confined(&policy, probe, &["abstract", &name]);
    // The sandbox's own network namespace has no such name (ECONNREFUSED); Landlock ABI 6
    // scoping answers EPERM.
    assert_refused(
        "connect to a host abstract socket",
        &o,
        &["ECONNREFUSED", "EPERM"],
    );
}
