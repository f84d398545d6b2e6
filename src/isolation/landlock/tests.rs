use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixListener, UnixStream};

use nix::errno::Errno;
use nix::sys::signal::kill;
use nix::unistd::getppid;
use pretty_assertions::assert_eq;

use super::*;
use crate::isolation::sys::fork::{ChildExit, fork_and_run};
use crate::isolation::testutil::{SETUP_FAILED, code, gate};

fn plan(network: NetworkMode) -> LandlockPlan {
    LandlockPlan {
        read_only: vec![],
        read_data: vec![],
        read_write: vec![],
        devices: vec![],
        optional: vec![],
        network,
        tcp_connect: None,
        tcp_bind: None,
        min_abi: None,
        trusted_links: vec![],
    }
}

fn strings(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| (*s).to_owned()).collect()
}

// ---- Pure: what a plan means at each ABI ----

#[test]
fn rights_follow_the_abi() {
    let p = LandlockPlan {
        read_only: vec!["/usr".into()],
        read_write: vec!["/work".into()],
        devices: vec!["/dev/null".into()],
        ..plan(NetworkMode::None)
    };
    let r1 = describe(&p, Some(1)).unwrap();
    assert_eq!(
        r1.read_only_rights,
        strings(&["execute", "read_file", "read_dir"])
    );
    assert_eq!(r1.device_rights, strings(&["write_file", "read_file"]));
    assert!(!r1.read_write_rights.contains(&"refer".to_owned()));
    assert_eq!(r1.tcp_connect, TcpRule::NotHandled);
    assert_eq!(r1.scopes, Vec::<String>::new());

    let r7 = describe(&p, Some(7)).unwrap();
    assert_eq!(r7.kernel_abi, 7);
    assert_eq!(r7.abi, 7);
    assert_eq!(
        r7.read_only_rights,
        strings(&["execute", "read_file", "read_dir"])
    );
    assert_eq!(
        r7.device_rights,
        strings(&["write_file", "read_file", "truncate"])
    );
    for right in [
        "write_file",
        "make_reg",
        "remove_file",
        "refer",
        "truncate",
        "ioctl_dev",
    ] {
        assert!(r7.read_write_rights.contains(&right.to_owned()), "{right}");
    }
    assert_eq!(r7.handled_fs, r7.read_write_rights);
    assert_eq!(r7.tcp_bind, TcpRule::DenyAll);
    assert_eq!(r7.tcp_connect, TcpRule::DenyAll);
    assert_eq!(r7.scopes, strings(&["abstract_unix_socket", "signal"]));
}

#[test]
fn network_modes_map_to_tcp_rules() {
    let host = LandlockPlan {
        tcp_connect: Some(vec![443]),
        ..plan(NetworkMode::Host)
    };
    let r = describe(&host, Some(4)).unwrap();
    assert_eq!(r.tcp_connect, TcpRule::Ports(vec![443]));
    assert_eq!(r.tcp_bind, TcpRule::NotHandled);
    let r = describe(&plan(NetworkMode::Loopback), Some(7)).unwrap();
    assert_eq!(
        (r.tcp_bind, r.tcp_connect),
        (TcpRule::NotHandled, TcpRule::NotHandled)
    );
    // Below ABI 4, `none` relies on the network namespace alone...
    let r = describe(&plan(NetworkMode::None), Some(3)).unwrap();
    assert_eq!(r.tcp_connect, TcpRule::NotHandled);
    // ...but ports a policy lists cannot be honoured, so that is an error.
    let err = describe(&host, Some(3)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Landlock ABI 4 (TCP port rules) is not available: this kernel has ABI 3, and the \
         policy lists TCP ports"
    );
}

#[test]
fn missing_landlock_and_old_abi_are_errors() {
    let err = describe(&plan(NetworkMode::None), None).unwrap_err();
    assert!(matches!(err, LandlockError::Unsupported { ref feature, .. } if feature == "Landlock"));
    let p = LandlockPlan {
        min_abi: Some(8),
        ..plan(NetworkMode::None)
    };
    assert_eq!(
        describe(&p, Some(7)).unwrap_err().to_string(),
        "the policy requires Landlock ABI 8 but this kernel has ABI 7; run it on a newer \
         kernel or lower landlock.min_abi"
    );
    assert!(describe(&p, Some(8)).is_ok());
}

#[test]
fn plan_round_trips_through_json() {
    let p = LandlockPlan {
        read_only: vec!["/usr".into()],
        read_write: vec!["/tmp".into()],
        devices: SANDBOX_DEVICES.iter().map(PathBuf::from).collect(),
        optional: vec!["/tmp".into()],
        tcp_bind: Some(vec![8080]),
        min_abi: Some(4),
        ..plan(NetworkMode::Loopback)
    };
    let json = serde_json::to_string(&p).unwrap();
    assert!(json.contains("\"network\":\"loopback\""), "{json}");
    assert_eq!(serde_json::from_str::<LandlockPlan>(&json).unwrap(), p);
}

// ---- Enforcement, each in a forked child ----

fn landlock_at_least(test: &str, abi: u8) -> bool {
    let found = probe_abi();
    let missing = match found {
        Some(a) if a >= abi => None,
        Some(a) => Some(format!("this kernel has ABI {a}")),
        None => Some("Landlock is not enabled in this kernel".to_owned()),
    };
    gate(test, &format!("Landlock ABI {abi}"), missing)
}

/// Run `probe` in a child after applying `plan`.
fn confined(plan: &LandlockPlan, probe: impl FnOnce() -> i32) -> ChildExit {
    fork_and_run(|| {
        if apply(plan).is_err() {
            return SETUP_FAILED;
        }
        probe()
    })
    .unwrap()
}

fn unconfined(probe: impl FnOnce() -> i32) -> ChildExit {
    fork_and_run(probe).unwrap()
}

fn io_code<T>(r: std::io::Result<T>) -> i32 {
    code(r.map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(0))))
}

const OK: ChildExit = ChildExit::Code(0);
const EACCES: ChildExit = ChildExit::Code(Errno::EACCES as i32);
const EPERM: ChildExit = ChildExit::Code(Errno::EPERM as i32);

#[test]
fn read_only_read_write_and_unlisted_paths() {
    if !landlock_at_least("read_only_read_write_and_unlisted_paths", 1) {
        return;
    }
    let ro = tempfile::tempdir().unwrap();
    let rw = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(ro.path().join("f"), "ro").unwrap();
    std::fs::write(outside.path().join("canary"), "secret").unwrap();
    let p = LandlockPlan {
        read_only: vec![ro.path().into()],
        read_write: vec![rw.path().into()],
        devices: vec!["/dev/null".into()],
        ..plan(NetworkMode::None)
    };
    let read_ro = || io_code(std::fs::read_to_string(ro.path().join("f")));
    let write_ro = || io_code(std::fs::write(ro.path().join("new"), "x"));
    let write_rw = || {
        let f = rw.path().join("made");
        io_code(
            std::fs::write(&f, "x")
                .and_then(|()| std::fs::create_dir(rw.path().join("d")))
                .and_then(|()| std::fs::rename(&f, rw.path().join("d/moved")))
                .and_then(|()| std::fs::remove_dir_all(rw.path().join("d"))),
        )
    };
    let read_outside = || io_code(std::fs::read_to_string(outside.path().join("canary")));
    let list_outside = || io_code(std::fs::read_dir(outside.path()));
    let devnull = || {
        io_code(
            std::fs::OpenOptions::new()
                .write(true)
                .truncate(true)
                .open("/dev/null")
                .and_then(|mut f| f.write_all(b"x")),
        )
    };
    assert_eq!(confined(&p, read_ro), OK);
    assert_eq!(confined(&p, write_ro), EACCES);
    assert_eq!(confined(&p, write_rw), OK);
    assert_eq!(confined(&p, read_outside), EACCES);
    assert_eq!(confined(&p, list_outside), EACCES);
    assert_eq!(confined(&p, devnull), OK);
    // Twins: without Landlock the same probes succeed.
    assert_eq!(unconfined(write_ro), OK);
    assert_eq!(unconfined(read_outside), OK);
    assert_eq!(unconfined(list_outside), OK);
}

#[test]
fn missing_paths_fail_unless_optional() {
    if !landlock_at_least("missing_paths_fail_unless_optional", 1) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let gone = dir.path().join("gone");
    let p = LandlockPlan {
        read_only: vec![gone.clone()],
        ..plan(NetworkMode::None)
    };
    let verdict = |p: LandlockPlan| {
        fork_and_run(move || match apply(&p) {
            Ok(r) if r.skipped.len() == 1 && r.read_only.is_empty() => 0,
            Ok(_) => 1,
            Err(LandlockError::Path { .. } | LandlockError::Open { .. }) => 2,
            Err(_) => 3,
        })
        .unwrap()
    };
    assert_eq!(verdict(p.clone()), ChildExit::Code(2));
    let optional = LandlockPlan {
        optional: vec![gone],
        ..p
    };
    assert_eq!(verdict(optional), OK);
}

#[test]
fn min_abi_above_the_kernel_refuses_to_apply() {
    if !landlock_at_least("min_abi_above_the_kernel_refuses_to_apply", 1) {
        return;
    }
    let p = LandlockPlan {
        min_abi: Some(u8::MAX),
        ..plan(NetworkMode::None)
    };
    let outcome = fork_and_run(|| match apply(&p) {
        Err(LandlockError::AbiTooOld { required: 255, .. }) => 0,
        _ => 1,
    });
    assert_eq!(outcome.unwrap(), OK);
}

#[test]
fn tcp_follows_the_network_mode() {
    if !landlock_at_least("tcp_follows_the_network_mode", 4) {
        return;
    }
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let connect = || io_code(TcpStream::connect(("127.0.0.1", port)));
    let bind = || io_code(TcpListener::bind("127.0.0.1:0"));
    assert_eq!(confined(&plan(NetworkMode::None), connect), EACCES);
    assert_eq!(confined(&plan(NetworkMode::None), bind), EACCES);
    assert_eq!(confined(&plan(NetworkMode::Loopback), connect), OK);
    let only = |ports: Vec<u16>| LandlockPlan {
        tcp_connect: Some(ports),
        ..plan(NetworkMode::Host)
    };
    assert_eq!(confined(&only(vec![port]), connect), OK);
    assert_eq!(confined(&only(vec![port.wrapping_add(1)]), connect), EACCES);
    assert_eq!(
        confined(&only(vec![]), bind),
        OK,
        "bind is not handled without tcp_bind"
    );
    // Twin: the listener answers an unconfined child.
    assert_eq!(unconfined(connect), OK);
    drop(listener);
}

#[test]
fn signals_and_abstract_sockets_stay_inside() {
    if !landlock_at_least("signals_and_abstract_sockets_stay_inside", 6) {
        return;
    }
    let name = format!("mycelium-test-{}", std::process::id());
    let addr = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
    let listener = UnixListener::bind_addr(&addr).unwrap();
    let connect = || io_code(UnixStream::connect_addr(&addr));
    let signal_parent = || code(kill(getppid(), None));
    let p = plan(NetworkMode::None);
    assert_eq!(confined(&p, connect), EPERM);
    assert_eq!(confined(&p, signal_parent), EPERM);
    // Twins.
    assert_eq!(unconfined(connect), OK);
    assert_eq!(unconfined(signal_parent), OK);
    // The domain still reaches itself.
    let signal_self = || code(kill(nix::unistd::getpid(), None));
    assert_eq!(confined(&p, signal_self), OK);
    drop(listener);
}

#[test]
fn a_rule_never_follows_a_link_mycelium_did_not_place() {
    if !landlock_at_least("a_rule_never_follows_a_link_mycelium_did_not_place", 1) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("real")).unwrap();
    let link = dir.path().join("planted");
    std::os::unix::fs::symlink(outside.path(), &link).unwrap();
    let p = LandlockPlan {
        read_write: vec![link.clone(), dir.path().join("planted/sub")],
        optional: vec![dir.path().join("planted/sub")],
        ..plan(NetworkMode::None)
    };
    let verdict = |p: LandlockPlan| {
        fork_and_run(move || match apply(&p) {
            Ok(_) => 0,
            Err(LandlockError::Link { path }) if path.ends_with("planted") => 2,
            Err(_) => 3,
        })
        .unwrap()
    };
    assert_eq!(verdict(p.clone()), ChildExit::Code(2));
    // Twins: the same link is followed when it is one mycelium placed itself, and a real
    // directory is opened as always.
    let ours = LandlockPlan {
        read_write: vec![link.clone()],
        trusted_links: vec![link.clone()],
        ..p.clone()
    };
    assert_eq!(verdict(ours), OK);
    let real = LandlockPlan {
        read_write: vec![dir.path().join("real")],
        ..p
    };
    assert_eq!(verdict(real), OK);
}
