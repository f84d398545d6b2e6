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

use super::{Outcome, assert_refused, assert_succeeded, confined, default_policy, unconfined};
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

/// Host-side listeners in one directory: a datagram socket (as journald, syslog and
/// sd_notify use) and a stream listener, both non-blocking so the test can ask whether
/// anything arrived without waiting.
struct HostSockets {
    dgram: std::os::unix::net::UnixDatagram,
    dgram_path: PathBuf,
    stream: UnixListener,
    stream_path: PathBuf,
}

impl HostSockets {
    fn bind(dir: &Path) -> HostSockets {
        let dgram_path = dir.join("journal.sock");
        let stream_path = dir.join("stream.sock");
        let dgram = std::os::unix::net::UnixDatagram::bind(&dgram_path).unwrap();
        let stream = UnixListener::bind(&stream_path).unwrap();
        dgram.set_nonblocking(true).unwrap();
        stream.set_nonblocking(true).unwrap();
        // Writable for the unprivileged rerun's sandbox user as for anyone: only the
        // socket layer stands between the agent and the listener.
        for p in [&dgram_path, &stream_path] {
            std::fs::set_permissions(p, std::os::unix::fs::PermissionsExt::from_mode(0o777))
                .unwrap();
        }
        HostSockets {
            dgram,
            dgram_path,
            stream,
            stream_path,
        }
    }

    /// What arrived since the last call: datagrams read, connections accepted.
    fn arrived(&self) -> (usize, usize) {
        let mut buf = [0u8; 64];
        let mut datagrams = 0;
        while self.dgram.recv(&mut buf).is_ok() {
            datagrams += 1;
        }
        let mut connections = 0;
        while let Ok((c, _)) = self.stream.accept() {
            connections += 1;
            drop(c);
        }
        (datagrams, connections)
    }
}

#[test]
fn socketpair_cannot_reach_a_host_socket_in_a_read_only_grant() {
    let probe = escape_gate!("socketpair_cannot_reach_a_host_socket_in_a_read_only_grant");
    let fx = Fixture::new();
    let dir = fx.mkdir("granted");
    let host = HostSockets::bind(&dir);
    let dgram = host.dgram_path.to_str().unwrap().to_owned();
    let stream = host.stream_path.to_str().unwrap().to_owned();
    // Positive twin: unconfined, a datagram pair re-aimed at the host's socket delivers.
    let o = unconfined(probe, &["pair_reach", "dgram", &dgram]);
    assert_succeeded("socketpair(SOCK_DGRAM) then sendto the host socket", &o);
    assert_eq!(
        host.arrived().0,
        3,
        "the host socket got connect+send, sendto, sendmsg"
    );
    let policy = default_policy(&fx, probe, &[&dir], "");
    for ty in ["dgram", "raw", "stream", "seqpacket"] {
        for target in [&dgram, &stream] {
            let o = confined(&policy, probe, &["pair_reach", ty, target]);
            assert_eq!(
                host.arrived(),
                (0, 0),
                "ESCAPE: a {ty} socketpair reached the host socket {target} ({o:?})"
            );
            match ty {
                // Datagram pairs are never made.
                "dgram" | "raw" => assert_refused(&format!("socketpair {ty}"), &o, &["EPERM"]),
                // Connected pairs are made, and every attempt to re-aim them fails or goes
                // to the pair's own peer.
                _ => assert!(
                    matches!(o, Outcome::Refused(ref r) if !r.contains("(socketpair)")),
                    "{ty} pair at {target}: {o:?}"
                ),
            }
        }
    }
    // With unix sockets allowed, datagram pairs are allowed too and do reach the socket:
    // the documented risk of network.unix_sockets.
    let policy = unix_policy(&fx, probe, &[&dir]);
    let o = confined(&policy, probe, &["pair_reach", "dgram", &dgram]);
    assert_succeeded("a datagram pair with network.unix_sockets = true", &o);
    assert_eq!(host.arrived().0, 3);
}

#[test]
fn connected_socketpairs_still_work_inside() {
    let probe = escape_gate!("connected_socketpairs_still_work_inside");
    let fx = Fixture::new();
    let policy = default_policy(&fx, probe, &[], "");
    assert_eq!(
        confined(&policy, probe, &["pair_stream"]),
        Outcome::Succeeded
    );
}
