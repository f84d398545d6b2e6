//! Socket families are an allow-list (issue 10, item 8): AF_INET and AF_INET6 only where
//! the network mode gives an interface, AF_UNIX only with `network.unix_sockets`,
//! AF_NETLINK only for routing; every other family — AF_VSOCK first, which no network
//! namespace confines — answers EPERM from the filter, whatever the kernel would have said,
//! and socketpair accepts no domain but AF_UNIX.

use super::{Outcome, assert_refused, assert_succeeded, confined, default_policy, unconfined};
use crate::escape_gate;
use crate::sandbox::Fixture;

/// `(name, family, type, protocol)` of sockets outside the allow-list in every mode.
const REFUSED: &[(&str, &str, &str, &str)] = &[
    ("AF_VSOCK", "40", "1", "0"),
    ("AF_ALG", "38", "5", "0"),
    ("AF_TIPC", "30", "4", "0"),
    ("AF_KEY", "15", "3", "2"),
    ("AF_RDS", "21", "5", "0"),
    ("AF_BLUETOOTH", "31", "3", "0"),
    ("AF_PACKET", "17", "3", "0"),
    ("AF_XDP", "44", "3", "0"),
    ("AF_CAN", "29", "3", "1"),
    ("AF_NETLINK/NETLINK_SOCK_DIAG", "16", "3", "4"),
    ("AF_NETLINK/NETLINK_AUDIT", "16", "3", "9"),
    ("AF_NETLINK/NETLINK_KOBJECT_UEVENT", "16", "2", "15"),
];

fn policy_for(fx: &Fixture, probe: &std::path::Path, mode: &str) -> std::path::PathBuf {
    let body = std::fs::read_to_string(default_policy(fx, probe, &[], ""))
        .unwrap()
        .replace("mode = \"none\"", &format!("mode = {mode:?}"));
    fx.policy(mode, &body)
}

#[test]
fn socket_families_outside_the_allow_list_are_refused_in_every_network_mode() {
    let probe =
        escape_gate!("socket_families_outside_the_allow_list_are_refused_in_every_network_mode");
    let fx = Fixture::new();
    // Positive twin: vsock sockets open unconfined (the hole the issue names).
    assert_succeeded(
        "socket(AF_VSOCK)",
        &unconfined(probe, &["socket", "40", "1", "0"]),
    );
    for mode in ["none", "loopback"] {
        let policy = policy_for(&fx, probe, mode);
        for &(name, family, ty, proto) in REFUSED {
            let o = confined(&policy, probe, &["socket", family, ty, proto]);
            assert_refused(&format!("socket({name}) under {mode}"), &o, &["EPERM"]);
        }
        // Routing netlink stays (getaddrinfo, getifaddrs).
        let o = confined(&policy, probe, &["socket", "16", "3", "0"]);
        assert_eq!(o, Outcome::Succeeded, "NETLINK_ROUTE under {mode}");
    }
}

#[test]
fn inet_sockets_exist_only_where_the_network_mode_has_an_interface() {
    let probe = escape_gate!("inet_sockets_exist_only_where_the_network_mode_has_an_interface");
    let fx = Fixture::new();
    let none = policy_for(&fx, probe, "none");
    let loopback = policy_for(&fx, probe, "loopback");
    for (name, family, ty) in [
        ("AF_INET stream", "2", "1"),
        ("AF_INET datagram", "2", "2"),
        ("AF_INET6 stream", "10", "1"),
    ] {
        assert_succeeded(name, &unconfined(probe, &["socket", family, ty, "0"]));
        let o = confined(&none, probe, &["socket", family, ty, "0"]);
        assert_refused(&format!("{name} under none"), &o, &["EPERM"]);
        // Positive twin: the same socket under loopback.
        let o = confined(&loopback, probe, &["socket", family, ty, "0"]);
        assert_eq!(o, Outcome::Succeeded, "{name} under loopback");
    }
}

#[test]
fn socketpair_takes_no_domain_but_unix() {
    let probe = escape_gate!("socketpair_takes_no_domain_but_unix");
    let fx = Fixture::new();
    let policy = policy_for(&fx, probe, "loopback");
    // AF_TIPC (30) has socketpair; AF_INET (2) has not (EOPNOTSUPP from the kernel): the
    // filter's EPERM comes first either way.
    for (name, family, ty) in [("AF_TIPC", "30", "5"), ("AF_INET", "2", "1")] {
        let o = confined(&policy, probe, &["socketpair", family, ty]);
        assert_refused(&format!("socketpair({name})"), &o, &["EPERM"]);
    }
    // Positive twin: a unix stream pair.
    let o = confined(&policy, probe, &["socketpair", "1", "1"]);
    assert_eq!(o, Outcome::Succeeded, "socketpair(AF_UNIX, SOCK_STREAM)");
}
