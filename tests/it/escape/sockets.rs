//! Unix sockets the host listens on. A path socket in a directory the policy does not grant
//! does not exist inside; one in a directory granted read-only must not be connectable
//! either (read-only access is not a grant to talk to a host service, such as a docker.sock
//! next to the workspace). An abstract socket lives in the host's network namespace.

use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixListener};

use super::{assert_refused, assert_succeeded, confined, default_policy, unconfined};
use crate::escape_gate;
use crate::sandbox::Fixture;

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
    assert_refused("connect to a host path socket", &o, &["ENOENT"]);
}

#[test]
fn host_path_socket_in_a_read_only_grant_is_unreachable() {
    let probe = escape_gate!("host_path_socket_in_a_read_only_grant_is_unreachable");
    let fx = Fixture::new();
    let dir = fx.mkdir("granted");
    let sock = dir.join("host.sock");
    let listener = UnixListener::bind(&sock).unwrap();
    listener.set_nonblocking(true).unwrap();
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
    // connect(2) needs write permission on the socket; a read-only grant gives none.
    assert!(
        !reached,
        "ESCAPE: the host listener at {sock}, in a directory granted read-only, accepted a \
         connection from the sandbox (probe: {o:?})"
    );
    assert_refused(
        "connect to a host path socket in a read-only grant",
        &o,
        &["EACCES", "EPERM", "EROFS", "ECONNREFUSED"],
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
    // The sandbox's own network namespace has no such name (ECONNREFUSED); Landlock ABI 6
    // scoping answers EPERM.
    assert_refused(
        "connect to a host abstract socket",
        &o,
        &["ECONNREFUSED", "EPERM"],
    );
}
