//! Network modes: `none` reaches nothing, `loopback` only its own 127.0.0.1.

use std::net::{TcpListener, TcpStream};

use pretty_assertions::assert_eq;

use super::{Fixture, err, exec_cmd, out, policy_body};
use crate::gate;

/// A Python one-liner that connects to 127.0.0.1:PORT and prints the outcome.
fn connect_script(port: u16) -> String {
    format!(
        "import socket\ntry:\n    socket.create_connection(('127.0.0.1', {port}), timeout=3)\n    print('CONNECTED')\nexcept OSError as e:\n    print('FAILED', e.errno)"
    )
}

/// Prints whether `lo` has IFF_UP (SIOCGIFFLAGS).
/// Asked through a routing netlink socket: under `none` the filter refuses AF_INET sockets.
const LO_IS_UP: &str = "import socket, fcntl, struct\ns = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)\nr = fcntl.ioctl(s.fileno(), 0x8913, struct.pack('256s', b'lo'))\nprint(bool(struct.unpack('H', r[16:18])[0] & 1))";

#[test]
fn host_listener_is_unreachable_with_network_none() {
    gate!("host_listener_is_unreachable_with_network_none");
    let fx = Fixture::new();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    // Positive twin: the listener answers from the host.
    TcpStream::connect(("127.0.0.1", port)).unwrap();
    let policy = fx.policy("p", &policy_body("", "[network]\nmode = \"none\""));
    let o = exec_cmd(
        &policy,
        None,
        &["/usr/bin/python3", "-c", &connect_script(port)],
    )
    .output()
    .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    // EPERM (1): under `none` the seccomp filter refuses AF_INET sockets outright (issue
    // 10, item 8), before Landlock (EACCES) or routing (ENETUNREACH) could answer; the
    // checks below show the namespace layer on its own.
    assert_eq!(out(&o), "FAILED 1\n");
    let o = exec_cmd(
        &policy,
        None,
        &[
            "/bin/sh",
            "-c",
            "cat /proc/net/dev | tail -n +3 | cut -d: -f1 | tr -d ' '",
        ],
    )
    .output()
    .unwrap();
    assert_eq!(out(&o), "lo\n", "only a down lo exists: {}", err(&o));
    // And that lo is down: nothing is reachable even without Landlock.
    let o = exec_cmd(&policy, None, &["/usr/bin/python3", "-c", LO_IS_UP])
        .output()
        .unwrap();
    assert_eq!(out(&o), "False\n", "{}", err(&o));
}

#[test]
fn loopback_reaches_its_own_listener_but_not_the_hosts() {
    gate!("loopback_reaches_its_own_listener_but_not_the_hosts");
    let fx = Fixture::new();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    TcpStream::connect(("127.0.0.1", port)).unwrap();
    let policy = fx.policy("p", &policy_body("", "[network]\nmode = \"loopback\""));
    // Positive twin of the `none` test's interface check: here lo is up.
    let o = exec_cmd(&policy, None, &["/usr/bin/python3", "-c", LO_IS_UP])
        .output()
        .unwrap();
    assert_eq!(out(&o), "True\n", "{}", err(&o));
    // The host's listener: connection refused inside (111), since the sandbox's own lo has
    // nothing on that port.
    let o = exec_cmd(
        &policy,
        None,
        &["/usr/bin/python3", "-c", &connect_script(port)],
    )
    .output()
    .unwrap();
    assert_eq!(
        (o.status.code(), out(&o)),
        (Some(0), "FAILED 111\n".to_string()),
        "{}",
        err(&o)
    );
    // A listener started inside is reachable inside.
    let inside = "import socket\ns = socket.socket()\ns.bind(('127.0.0.1', 0))\ns.listen()\nc = socket.create_connection(s.getsockname(), timeout=3)\na, _ = s.accept()\nc.sendall(b'ping')\nprint(a.recv(4).decode())";
    let o = exec_cmd(&policy, None, &["/usr/bin/python3", "-c", inside])
        .output()
        .unwrap();
    assert_eq!(
        (o.status.code(), out(&o)),
        (Some(0), "ping\n".to_string()),
        "{}",
        err(&o)
    );
}
