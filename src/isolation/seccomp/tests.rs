use std::collections::BTreeSet;
use std::os::fd::AsFd;
use std::time::Instant;

use nix::errno::Errno;
use nix::sched::CloneFlags;
use nix::sys::signal::Signal;
use nix::sys::socket::{AddressFamily, SockFlag, SockProtocol, SockType, socket};
use pretty_assertions::assert_eq;

use super::*;
use crate::isolation::sys::fork::{ChildExit, fork_and_run};
use crate::isolation::sys::probe::{Probe, clone_probe, ioctl_probe};
use crate::isolation::testutil::{SETUP_FAILED, code, gate};

fn spec(profile: SeccompProfile, allow: &[&str], deny: &[&str]) -> Seccomp {
    Seccomp {
        profile,
        allow: allow.iter().map(|s| (*s).to_owned()).collect(),
        deny: deny.iter().map(|s| (*s).to_owned()).collect(),
        unix_sockets: false,
    }
}

fn default_spec() -> Seccomp {
    spec(SeccompProfile::Default, &[], &[])
}

const EPERM: ChildExit = ChildExit::Code(Errno::EPERM as i32);
const OK: ChildExit = ChildExit::Code(0);

// ---- Pure: tables, profiles, rules ----

#[test]
fn compile_time_positions_match_the_tables() {
    for profile in [SeccompProfile::Default, SeccompProfile::Strict] {
        for arch in [Arch::X86_64, Arch::Aarch64] {
            let names = profile_names(profile);
            let positions = profile_positions(profile, arch);
            assert_eq!(names.len(), positions.len());
            for (name, &pos) in names.iter().zip(positions) {
                if arch.syscall_number(name).is_none() {
                    assert_eq!(pos, ABSENT, "{arch} has no {name}");
                } else {
                    assert_eq!(arch.table()[usize::from(pos)].0, *name, "{arch}: {name}");
                }
            }
        }
    }
    assert_eq!(cmp_names(b"open", b"openat"), "open".cmp("openat"));
    assert_eq!(cmp_names(b"openat", b"open"), "openat".cmp("open"));
    assert_eq!(cmp_names(b"read", b"read"), std::cmp::Ordering::Equal);
    assert_eq!(cmp_names(b"_sysctl", b"accept"), "_sysctl".cmp("accept"));
}

#[test]
fn only_the_conditioned_calls_get_argument_checks() {
    let modes = [NetworkMode::None, NetworkMode::Loopback, NetworkMode::Host];
    for arch in [Arch::X86_64, Arch::Aarch64] {
        for name in arch.syscall_names() {
            for (mode, unix) in modes.iter().flat_map(|m| [(*m, false), (*m, true)]) {
                if conditions(name, mode, unix, UnaccountedMemory::Allowed).is_some() {
                    assert!(
                        CONDITIONED.contains(&name),
                        "conditions() checks {name}: add it to CONDITIONED"
                    );
                }
            }
        }
    }
    for name in CONDITIONED {
        assert!(
            conditions(name, NetworkMode::None, false, UnaccountedMemory::Allowed).is_some(),
            "{name}"
        );
    }
}

#[test]
fn tables_are_sorted_without_duplicates() {
    for arch in [Arch::X86_64, Arch::Aarch64] {
        let names: Vec<&str> = arch.syscall_names().collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(
            names, sorted,
            "{arch} table must be sorted by name, no duplicates"
        );
        let numbers: BTreeSet<i64> = arch.table().iter().map(|(_, nr)| *nr).collect();
        assert_eq!(
            numbers.len(),
            names.len(),
            "{arch}: two names share a number"
        );
    }
}

#[test]
fn native_table_agrees_with_libc() {
    let arch = Arch::native();
    for (name, nr) in [
        ("read", libc::SYS_read),
        ("write", libc::SYS_write),
        ("openat", libc::SYS_openat),
        ("execve", libc::SYS_execve),
        ("clone", libc::SYS_clone),
        ("clone3", libc::SYS_clone3),
        ("ioctl", libc::SYS_ioctl),
        ("socket", libc::SYS_socket),
        ("personality", libc::SYS_personality),
        ("keyctl", libc::SYS_keyctl),
        ("io_uring_setup", libc::SYS_io_uring_setup),
        ("landlock_restrict_self", libc::SYS_landlock_restrict_self),
        ("process_mrelease", libc::SYS_process_mrelease),
        ("futex_waitv", libc::SYS_futex_waitv),
    ] {
        assert_eq!(arch.syscall_number(name), Some(nr), "{name}");
    }
    assert_eq!(Arch::X86_64.syscall_number("open"), Some(2));
    assert_eq!(Arch::Aarch64.syscall_number("open"), None);
    assert_eq!(Arch::Aarch64.syscall_number("openat"), Some(56));
    assert_eq!(Arch::Aarch64.syscall_number("clone3"), Some(435));
    assert_eq!(Arch::X86_64.syscall_number("mseal"), Some(462));
    assert_eq!(Arch::X86_64.syscall_number("no_such_call"), None);
}

#[test]
fn every_profile_name_exists_on_some_architecture() {
    let lists = [DEFAULT_ALLOW, STRICT_ALLOW];
    let names = lists
        .iter()
        .flat_map(|l| l.iter().copied())
        .chain(NEVER_ALLOWED.iter().map(|(n, _)| *n))
        .chain(NEEDED_BY_SH.iter().flat_map(|n| n.iter().copied()));
    for name in names {
        assert!(
            Arch::X86_64.syscall_number(name).is_some()
                || Arch::Aarch64.syscall_number(name).is_some(),
            "`{name}` is in no table (typo?)"
        );
    }
}

#[test]
fn never_allowed_calls_are_in_no_profile() {
    for (name, reason) in NEVER_ALLOWED {
        assert!(!reason.is_empty());
        assert!(!DEFAULT_ALLOW.contains(name), "default allows {name}");
        assert!(!STRICT_ALLOW.contains(name), "strict allows {name}");
        for arch in [Arch::X86_64, Arch::Aarch64] {
            for profile in [SeccompProfile::Default, SeccompProfile::Strict] {
                let set = rules(&spec(profile, &[], &[]), NetworkMode::None, arch).unwrap();
                assert!(
                    !set.allowed.contains_key(name),
                    "{arch} {profile:?} allows {name}"
                );
                assert!(set.clone3_enosys);
            }
        }
    }
}

#[test]
fn strict_is_a_subset_of_default() {
    for name in STRICT_ALLOW {
        assert!(
            DEFAULT_ALLOW.contains(name),
            "strict allows {name}, default does not"
        );
    }
    for list in [DEFAULT_ALLOW, STRICT_ALLOW] {
        let unique: BTreeSet<&str> = list.iter().copied().collect();
        assert_eq!(unique.len(), list.len(), "a profile lists a name twice");
    }
}

#[test]
fn argument_checks_compare_low_32_bits() {
    let set = rules(&default_spec(), NetworkMode::None, Arch::X86_64).unwrap();
    assert_eq!(
        set.allowed["ioctl"],
        Allowance::When(vec![vec![
            ArgCheck {
                arg: 1,
                width: ArgWidth::Low32,
                op: ArgOp::Ne,
                value: 0x5412
            },
            ArgCheck {
                arg: 1,
                width: ArgWidth::Low32,
                op: ArgOp::Ne,
                value: 0x541c
            },
        ]])
    );
    assert_eq!(
        set.allowed["clone"],
        Allowance::When(vec![vec![ArgCheck {
            arg: 0,
            width: ArgWidth::Low32,
            op: ArgOp::NoBitOf,
            value: 0x7e02_0000,
        }]])
    );
    assert_eq!(
        set.allowed["personality"],
        Allowance::When(vec![
            vec![ArgCheck {
                arg: 0,
                width: ArgWidth::Low32,
                op: ArgOp::Eq,
                value: 0
            }],
            vec![ArgCheck {
                arg: 0,
                width: ArgWidth::Low32,
                op: ArgOp::Eq,
                value: 0xffff_ffff
            }],
        ])
    );
    assert_eq!(set.allowed["read"], Allowance::Always);
    // The BPF program itself never loads the upper half of an argument: offsets 16 + 8 * i
    // hold the low words, 20 + 8 * i the high ones (little-endian seccomp_data).
    let filter = compile(
        &default_spec(),
        NetworkMode::None,
        UnaccountedMemory::Allowed,
        Arch::native(),
    )
    .unwrap();
    let loads: BTreeSet<u32> = filter
        .instructions()
        .iter()
        .filter(|(code, ..)| *code == 0x20)
        .map(|(.., k)| *k)
        .collect();
    assert_eq!(loads, BTreeSet::from([0, 4, 16, 24, 32, 40]));
}

/// `arg NoBitOf value` on the low 32 bits.
fn no_bit_of(arg: u8, value: u64) -> ArgCheck {
    ArgCheck {
        arg,
        width: ArgWidth::Low32,
        op: ArgOp::NoBitOf,
        value,
    }
}

/// `arg == value` on the low 32 bits.
fn eq(arg: u8, value: u64) -> ArgCheck {
    ArgCheck {
        arg,
        width: ArgWidth::Low32,
        op: ArgOp::Eq,
        value,
    }
}

#[test]
fn modes_with_set_id_bits_are_refused_wherever_a_mode_is_given() {
    for arch in [Arch::X86_64, Arch::Aarch64] {
        for profile in [SeccompProfile::Default, SeccompProfile::Strict] {
            let set = rules(&spec(profile, &[], &[]), NetworkMode::None, arch).unwrap();
            let mode_at = |name: &str, arg: u8| {
                if let Some(allowance) = set.allowed.get(name) {
                    assert_eq!(
                        allowance,
                        &Allowance::When(vec![vec![no_bit_of(arg, 0o6000)]]),
                        "{arch} {profile:?} {name}"
                    );
                }
            };
            mode_at("chmod", 1);
            mode_at("fchmod", 1);
            mode_at("creat", 1);
            mode_at("mknod", 1);
            mode_at("fchmodat", 2);
            mode_at("fchmodat2", 2);
            mode_at("mknodat", 2);
            let creating = 0o100 | 0o2000_0000;
            for (name, flags) in [("open", 1), ("openat", 2)] {
                if let Some(allowance) = set.allowed.get(name) {
                    assert_eq!(
                        allowance,
                        &Allowance::When(vec![
                            vec![no_bit_of(flags, creating)],
                            vec![no_bit_of(flags + 1, 0o6000)],
                        ]),
                        "{arch} {profile:?} {name}"
                    );
                }
            }
            assert!(set.allowed.contains_key("fchmodat"), "{arch} {profile:?}");
            assert!(!set.allowed.contains_key("openat2"), "{arch} {profile:?}");
            assert!(set.openat2_enosys, "{arch} {profile:?}");
        }
    }
    // O_TMPFILE is __O_TMPFILE | O_DIRECTORY: the check holds __O_TMPFILE alone, so a
    // plain O_DIRECTORY open (which never creates) is not caught.
    assert_eq!(
        (libc::O_TMPFILE & !libc::O_DIRECTORY) as u64 | libc::O_CREAT as u64,
        CREATING_OPEN_FLAGS
    );
    // allow = ["openat2"] lifts ENOSYS (and the policy says so by relaxing the profile).
    let set = rules(
        &spec(SeccompProfile::Default, &["openat2"], &[]),
        NetworkMode::None,
        Arch::X86_64,
    );
    assert!(!set.unwrap().openat2_enosys);
}

#[test]
fn socketpair_makes_only_connected_unix_stream_pairs_unless_unix_sockets() {
    let set = rules(&default_spec(), NetworkMode::Host, Arch::X86_64).unwrap();
    let refused_types = 0xffff_ffff & !(0o4000 | 0o2000000 | 0b0101);
    assert_eq!(
        set.allowed["socketpair"],
        Allowance::When(vec![vec![
            eq(0, libc::AF_UNIX as u64),
            no_bit_of(1, refused_types)
        ]])
    );
    let holds = |ty: i32| (ty as u32 as u64) & refused_types == 0;
    for ty in [libc::SOCK_STREAM, libc::SOCK_SEQPACKET] {
        assert!(holds(ty));
        assert!(holds(ty | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC));
    }
    for ty in [libc::SOCK_DGRAM, libc::SOCK_RAW] {
        assert!(!holds(ty));
        assert!(!holds(ty | libc::SOCK_CLOEXEC));
    }
    let mut unix = default_spec();
    unix.unix_sockets = true;
    let set = rules(&unix, NetworkMode::None, Arch::X86_64).unwrap();
    assert_eq!(
        set.allowed["socketpair"],
        Allowance::When(vec![vec![eq(0, libc::AF_UNIX as u64)]])
    );
}

#[test]
fn unaccounted_memory_calls_go_only_when_refused() {
    for arch in [Arch::X86_64, Arch::Aarch64] {
        let allowed = rules_with(
            &default_spec(),
            NetworkMode::None,
            UnaccountedMemory::Allowed,
            arch,
        );
        let refused = rules_with(
            &spec(SeccompProfile::Default, &["memfd_create"], &[]),
            NetworkMode::None,
            UnaccountedMemory::Refused,
            arch,
        );
        let (allowed, refused) = (allowed.unwrap(), refused.unwrap());
        for (name, _) in UNACCOUNTED_MEMORY_CALLS {
            assert!(allowed.allowed.contains_key(name), "{arch} {name}");
            // Even named in `allow`: the memory limit would not hold otherwise.
            assert!(!refused.allowed.contains_key(name), "{arch} {name}");
        }
        assert_eq!(allowed.allowed.len(), refused.allowed.len() + 8, "{arch}");
        assert_program_matches(&refused, &format!("{arch} memory refused"));
    }
    let d = describe(
        &default_spec(),
        NetworkMode::None,
        UnaccountedMemory::Refused,
    );
    assert!(d.denied.iter().any(|(n, _)| *n == "memfd_create"));
    let d = describe(
        &default_spec(),
        NetworkMode::None,
        UnaccountedMemory::Allowed,
    );
    assert!(d.denied.iter().all(|(n, _)| *n != "memfd_create"));
}

#[test]
fn socket_families_are_an_allow_list() {
    let inet = [
        vec![eq(0, libc::AF_INET as u64)],
        vec![eq(0, libc::AF_INET6 as u64)],
    ];
    let unix = vec![eq(0, libc::AF_UNIX as u64)];
    let route = vec![
        eq(0, libc::AF_NETLINK as u64),
        eq(2, libc::NETLINK_ROUTE as u64),
    ];
    for unix_sockets in [false, true] {
        let mut s = default_spec();
        s.unix_sockets = unix_sockets;
        for mode in [NetworkMode::None, NetworkMode::Loopback, NetworkMode::Host] {
            let mut expected = Vec::new();
            if mode != NetworkMode::None {
                expected.extend(inet.clone());
            }
            if unix_sockets {
                expected.push(unix.clone());
            }
            expected.push(route.clone());
            let set = rules(&s, mode, Arch::X86_64).unwrap();
            assert_eq!(
                set.allowed["socket"],
                Allowance::When(expected),
                "{mode:?} unix={unix_sockets}"
            );
        }
    }
    let strict = rules(
        &spec(SeccompProfile::Strict, &[], &[]),
        NetworkMode::Host,
        Arch::X86_64,
    );
    assert!(!strict.unwrap().allowed.contains_key("socket"));
}

#[test]
fn allow_and_deny_adjust_the_profile() {
    let s = spec(
        SeccompProfile::Default,
        &["ptrace", "ioctl", "clone3"],
        &["mknod", "clone3"],
    );
    let set = rules(&s, NetworkMode::None, Arch::X86_64).unwrap();
    assert_eq!(set.allowed.get("ptrace"), Some(&Allowance::Always));
    assert_eq!(set.allowed.get("ioctl"), Some(&Allowance::Always));
    assert_eq!(set.allowed.get("mknod"), None);
    assert!(set.clone3_enosys, "deny wins over allow for clone3");
    let set = rules(
        &spec(SeccompProfile::Default, &["clone3"], &[]),
        NetworkMode::None,
        Arch::X86_64,
    );
    assert!(!set.unwrap().clone3_enosys);
}

#[test]
fn unknown_names_do_not_compile() {
    let err = compile(
        &spec(SeccompProfile::Default, &["frobnicate"], &[]),
        NetworkMode::None,
        UnaccountedMemory::Allowed,
        Arch::X86_64,
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "`frobnicate` is not a system call on x86_64; run `mycelium policy check` to list such names"
    );
    // `open` exists on x86_64 only.
    assert!(
        compile(
            &spec(SeccompProfile::Default, &[], &["open"]),
            NetworkMode::None,
            UnaccountedMemory::Allowed,
            Arch::Aarch64
        )
        .is_err()
    );
    assert!(
        compile(
            &spec(SeccompProfile::Default, &[], &["open"]),
            NetworkMode::None,
            UnaccountedMemory::Allowed,
            Arch::X86_64
        )
        .is_ok()
    );
}

#[test]
fn validate_reports_unknown_repeated_and_conflicting_names() {
    let s = spec(
        SeccompProfile::Default,
        &["ptrace", "frobnicate", "ptrace", "mknodat"],
        &["mknodat", "open"],
    );
    let problems: Vec<(String, String)> = validate(&s, Arch::Aarch64)
        .into_iter()
        .map(|p| (p.key(), p.message))
        .collect();
    assert_eq!(
        problems,
        vec![
            (
                "seccomp.allow[1]".into(),
                "`frobnicate` is not a system call on aarch64".into()
            ),
            ("seccomp.allow[2]".into(), "`ptrace` is listed twice".into()),
            (
                "seccomp.deny[1]".into(),
                "`open` is not a system call on aarch64".into()
            ),
            (
                "seccomp.allow[3]".into(),
                "`mknodat` is both allowed and denied; deny wins, remove one".into()
            ),
        ]
    );
    assert_eq!(validate(&default_spec(), Arch::X86_64), vec![]);
    assert_eq!(
        validate(&spec(SeccompProfile::Strict, &[], &[]), Arch::Aarch64),
        vec![]
    );
}

#[test]
fn validate_rejects_an_allow_list_that_cannot_start_sh() {
    let s = spec(SeccompProfile::Strict, &[], &["read", "getpid", "execve"]);
    assert_eq!(
        validate(&s, Arch::X86_64),
        vec![
            SeccompProblem {
                list: SeccompList::Deny,
                index: Some(2),
                message: "/bin/sh cannot start without `execve`; the agent would be stopped \
                          before it runs"
                    .into(),
            },
            SeccompProblem {
                list: SeccompList::Deny,
                index: Some(0),
                message: "/bin/sh cannot start without `read`; the agent would be stopped \
                          before it runs"
                    .into(),
            },
        ]
    );
    // Alternatives: denying `open` is fine while `openat` remains, on either architecture.
    let s = spec(SeccompProfile::Default, &[], &["open", "fork"]);
    assert_eq!(validate(&s, Arch::X86_64), vec![]);
    let s = spec(SeccompProfile::Default, &[], &["openat"]);
    assert_eq!(validate(&s, Arch::X86_64), vec![]);
    assert_eq!(validate(&s, Arch::Aarch64).len(), 1);
    assert_eq!(validate(&s, Arch::Aarch64)[0].key(), "seccomp.deny[0]");
    // Both profiles start sh as shipped, on both tables; `allow` cannot undo a `deny`.
    for profile in [SeccompProfile::Default, SeccompProfile::Strict] {
        for arch in [Arch::X86_64, Arch::Aarch64] {
            assert_eq!(validate(&spec(profile, &[], &[]), arch), vec![], "{arch}");
        }
    }
    let s = spec(SeccompProfile::Strict, &["brk"], &["brk"]);
    let problems = validate(&s, Arch::X86_64);
    assert!(
        problems.iter().any(|p| p.message.contains("without `brk`")),
        "{problems:?}"
    );
}

#[test]
fn compiled_program_starts_with_the_guard_and_round_trips() {
    let started = Instant::now();
    let filter = compile(
        &default_spec(),
        NetworkMode::None,
        UnaccountedMemory::Allowed,
        Arch::X86_64,
    )
    .unwrap();
    let elapsed = started.elapsed();
    eprintln!(
        "default x86_64 filter: {} instructions, compiled in {elapsed:?}",
        filter.len()
    );
    // Intervals in a tree (191 instructions when written), not a test per call (about 1,500).
    assert!(filter.len() < 512, "{}", filter.len());
    let kill = 0x8000_0000;
    let enosys = 0x0005_0000 | 38;
    assert_eq!(
        filter.instructions()[..11],
        [
            (0x20, 0, 0, 4),           // load arch
            (0x15, 1, 0, 0xc000_003e), // x86_64?
            (0x06, 0, 0, kill),        // no: kill
            (0x20, 0, 0, 0),           // load nr
            (0x45, 0, 1, 0x4000_0000), // x32 bit?
            (0x06, 0, 0, kill),        // yes: kill
            (0x15, 0, 1, 435),         // clone3?
            (0x06, 0, 0, enosys),      // yes: ENOSYS
            (0x15, 0, 1, 437),         // openat2?
            (0x06, 0, 0, enosys),      // yes: ENOSYS
            (0x20, 0, 0, 0),           // search tree: load nr again
        ]
    );
    let json = serde_json::to_string(&filter).unwrap();
    let back: SeccompFilter = serde_json::from_str(&json).unwrap();
    assert_eq!(back, filter);
    let arm = compile(
        &default_spec(),
        NetworkMode::None,
        UnaccountedMemory::Allowed,
        Arch::Aarch64,
    )
    .unwrap();
    assert_eq!(arm.instructions()[1], (0x15, 1, 0, 0xc000_00b7));
    assert_eq!(
        arm.instructions()[4],
        (0x15, 0, 1, 435),
        "no x32 check on aarch64"
    );
}

#[test]
fn describe_summarises_the_profile() {
    let s = spec(SeccompProfile::Default, &["ptrace", "bogus"], &["mknod"]);
    let d = describe(&s, NetworkMode::None, UnaccountedMemory::Allowed);
    assert_eq!(d.profile, "default");
    assert_eq!(d.otherwise, "EPERM");
    assert_eq!(d.added, vec!["ptrace".to_owned()]);
    assert_eq!(d.removed, vec!["mknod".to_owned()]);
    assert!(d.denied.iter().all(|(n, _)| *n != "ptrace"));
    assert!(d.denied.iter().any(|(n, _)| *n == "bpf"));
    assert!(d.argument_checks.iter().any(|c| c.starts_with("ioctl:")));
    assert!(d.argument_checks.iter().any(|c| c.starts_with("socket:")));
    let host = describe(
        &default_spec(),
        NetworkMode::Host,
        UnaccountedMemory::Allowed,
    );
    assert!(host.argument_checks.iter().any(|c| c
        == "socket: only AF_INET, AF_INET6, AF_NETLINK with NETLINK_ROUTE; every other family refused"));
    assert!(
        d.argument_checks
            .iter()
            .any(|c| c == "socket: only AF_NETLINK with NETLINK_ROUTE; every other family refused")
    );
    assert!(
        d.argument_checks
            .iter()
            .any(|c| c == "socketpair: AF_UNIX stream or seqpacket pairs only (no datagrams)")
    );
    assert!(
        d.argument_checks
            .iter()
            .any(|c| c == "openat2: answers ENOSYS so libc falls back to openat")
    );
    assert!(
        d.argument_checks
            .iter()
            .any(|c| c == "fchmodat: no S_ISUID or S_ISGID in the mode")
    );
    let mut unix = default_spec();
    unix.unix_sockets = true;
    let host = describe(&unix, NetworkMode::Host, UnaccountedMemory::Allowed);
    assert!(host.argument_checks.iter().any(|c| c
        == "socket: only AF_INET, AF_INET6, AF_UNIX, AF_NETLINK with NETLINK_ROUTE; every other family refused"));
}

#[test]
fn install_refuses_a_foreign_architecture() {
    let other = match Arch::native() {
        Arch::X86_64 => Arch::Aarch64,
        Arch::Aarch64 => Arch::X86_64,
    };
    let filter = compile(
        &default_spec(),
        NetworkMode::None,
        UnaccountedMemory::Allowed,
        other,
    )
    .unwrap();
    // Refused before reaching the kernel, so the test process stays unfiltered.
    assert!(matches!(
        install(&filter),
        Err(SeccompError::WrongArch { .. })
    ));
}

// ---- Pure: the compiled program against the rule set ----
//
// A classic-BPF interpreter runs every program on a grid of calls, and its answers are
// compared with what the `RuleSet` says (the reference below reads the rule set, never the
// generated code).

const RET_ALLOW: u32 = 0x7fff_0000;
const RET_KILL_PROCESS: u32 = 0x8000_0000;
const RET_EPERM: u32 = 0x0005_0000 | 1;
const RET_ENOSYS: u32 = 0x0005_0000 | 38;
const AUDIT_ARCH_I386: u32 = 0x4000_0003;
const AUDIT_ARCH_ARM: u32 = 0x4000_0028;

/// `struct seccomp_data` as the kernel lays it out on a little-endian machine.
fn seccomp_data(nr: u32, arch: u32, args: &[u64; 6]) -> [u8; 64] {
    let mut data = [0u8; 64];
    data[0..4].copy_from_slice(&nr.to_le_bytes());
    data[4..8].copy_from_slice(&arch.to_le_bytes());
    data[8..16].copy_from_slice(&0x7f00_dead_beef_u64.to_le_bytes()); // instruction_pointer
    for (i, arg) in args.iter().enumerate() {
        data[16 + 8 * i..24 + 8 * i].copy_from_slice(&arg.to_le_bytes());
    }
    data
}

/// The checks the kernel makes before accepting a seccomp program (`bpf_check_classic`,
/// `seccomp_check_filter`), restricted to the opcodes `compile` emits: known opcodes,
/// aligned in-bounds loads, jumps inside the program, a `ret` last, at most 4096.
fn assert_kernel_would_accept(program: &[(u16, u8, u8, u32)]) {
    assert!(
        !program.is_empty() && program.len() <= 4096,
        "{}",
        program.len()
    );
    for (pc, &(code, jt, jf, k)) in program.iter().enumerate() {
        let rest = program.len() - pc - 1;
        match code {
            0x20 => assert!(k % 4 == 0 && k < 64, "pc {pc}: load of {k}"),
            0x05 => assert!((k as usize) < rest, "pc {pc}: ja {k} leaves the program"),
            0x15 | 0x35 | 0x45 => assert!(
                usize::from(jt) < rest && usize::from(jf) < rest,
                "pc {pc}: jump leaves the program"
            ),
            0x06 => {}
            _ => panic!("pc {pc}: opcode {code:#x} is not one compile emits"),
        }
    }
    assert_eq!(
        program.last().map(|i| i.0),
        Some(0x06),
        "the last instruction is a ret"
    );
}

/// Run `program` on `data`: its return value and the number of instructions executed.
fn run_bpf(program: &[(u16, u8, u8, u32)], data: &[u8; 64]) -> (u32, usize) {
    let mut a: u32 = 0;
    let mut pc = 0;
    for steps in 1.. {
        let (code, jt, jf, k) = program[pc];
        let branch = |taken: bool| pc + 1 + usize::from(if taken { jt } else { jf });
        pc = match code {
            0x20 => {
                let at = k as usize;
                a = u32::from_le_bytes(data[at..at + 4].try_into().unwrap());
                pc + 1
            }
            0x05 => pc + 1 + k as usize,
            0x15 => branch(a == k),
            0x35 => branch(a >= k),
            0x45 => branch(a & k != 0),
            0x06 => return (k, steps),
            _ => panic!("pc {pc}: opcode {code:#x}"),
        };
    }
    unreachable!()
}

/// The rule set's allowed calls by number.
fn by_number(set: &RuleSet) -> BTreeMap<u32, &Allowance> {
    set.allowed
        .iter()
        .map(|(name, allowance)| (set.arch.syscall_number(name).unwrap() as u32, allowance))
        .collect()
}

/// What the rule set (`allowed` being its calls by number) says the filter answers.
fn reference(
    set: &RuleSet,
    allowed: &BTreeMap<u32, &Allowance>,
    arch: u32,
    nr: u32,
    args: &[u64; 6],
) -> u32 {
    if arch != set.arch.audit_arch() {
        return RET_KILL_PROCESS;
    }
    if set.arch == Arch::X86_64 && nr & X32_SYSCALL_BIT != 0 {
        return RET_KILL_PROCESS;
    }
    if set.clone3_enosys && set.arch.syscall_number("clone3") == Some(i64::from(nr)) {
        return RET_ENOSYS;
    }
    if set.openat2_enosys && set.arch.syscall_number("openat2") == Some(i64::from(nr)) {
        return RET_ENOSYS;
    }
    let Some(allowance) = allowed.get(&nr) else {
        return RET_EPERM;
    };
    let holds = |c: &ArgCheck| {
        let ArgWidth::Low32 = c.width;
        let arg = args[usize::from(c.arg)] & 0xffff_ffff;
        match c.op {
            ArgOp::Eq => arg == c.value,
            ArgOp::Ne => arg != c.value,
            ArgOp::NoBitOf => arg & c.value == 0,
        }
    };
    match allowance {
        Allowance::Always => RET_ALLOW,
        Allowance::When(alternatives) if alternatives.iter().any(|a| a.iter().all(holds)) => {
            RET_ALLOW
        }
        Allowance::When(_) => RET_EPERM,
    }
}

/// Argument vectors that take every branch of the profiles' checks, high bits included.
fn interesting_args() -> Vec<[u64; 6]> {
    let high = 1u64 << 32;
    let mut values = vec![0, 1, 0xffff_ffff, high, u64::MAX, 0xdead_beef_0000_0000];
    // clone flags: plain fork, threads, each namespace flag, namespace flags in the high half.
    let sigchld = libc::SIGCHLD as u64;
    values.extend([
        sigchld,
        0x003d_0f00,
        CLONE_NAMESPACE_FLAGS,
        CLONE_NAMESPACE_FLAGS << 32,
    ]);
    for flag in [
        libc::CLONE_NEWNS,
        libc::CLONE_NEWCGROUP,
        libc::CLONE_NEWUTS,
        libc::CLONE_NEWIPC,
        libc::CLONE_NEWUSER,
        libc::CLONE_NEWPID,
        libc::CLONE_NEWNET,
    ] {
        let flag = flag as u32 as u64;
        values.extend([flag | sigchld, flag | high]);
    }
    // ioctl requests.
    let tcgets = u64::from(libc::TCGETS as u32);
    values.extend([
        TIOCSTI,
        TIOCSTI | high,
        0xdead_beef_0000_0000 | TIOCSTI,
        TIOCLINUX,
    ]);
    values.extend([TIOCLINUX | high, tcgets, tcgets | high]);
    // personality values: the query, ADDR_NO_RANDOMIZE, READ_IMPLIES_EXEC, PER_LINUX32.
    values.extend([
        PERSONALITY_QUERY,
        0x0004_0000,
        0x0040_0000,
        0x0008,
        high | 0x0004_0000,
    ]);
    let mut out: Vec<[u64; 6]> = vec![[0; 6]];
    for &v in &values {
        for i in 0..3 {
            let mut args = [0; 6];
            args[i] = v;
            out.push(args);
        }
        out.push([v; 6]);
    }
    // socket(domain, type, protocol).
    let families = [
        AF_UNIX,
        AF_NETLINK,
        libc::AF_PACKET as u64,
        libc::AF_VSOCK as u64,
        libc::AF_ALG as u64,
        libc::AF_TIPC as u64,
        libc::AF_INET as u64,
        libc::AF_INET6 as u64,
    ];
    let protocols = [
        0,
        libc::NETLINK_AUDIT as u64,
        libc::NETLINK_ROUTE as u64,
        libc::NETLINK_SOCK_DIAG as u64,
    ];
    for family in families {
        for protocol in protocols {
            for (f, p) in [(family, protocol), (family | high, protocol | high)] {
                out.push([f, libc::SOCK_RAW as u64, p, 0, 0, 0]);
            }
        }
    }
    // socketpair(domain, type, …): every type, with and without the flags and high bits.
    let flags = (libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC) as u64;
    for family in [AF_UNIX, libc::AF_TIPC as u64, AF_UNIX | high] {
        for ty in 0..=10u64 {
            for ty in [ty, ty | flags, ty | high, ty | 0x100] {
                out.push([family, ty, 0, 0, 0, 0]);
            }
        }
    }
    // Modes (chmod and friends at arguments 1 and 2) and open flags with modes (open at 1
    // and 2, openat at 2 and 3): set-id bits alone, with others, in the high half only.
    let modes = [
        0o644,
        0o755,
        0o1777,
        0o4755,
        0o2755,
        0o6755,
        libc::S_IFREG as u64 | 0o4755,
        0o4000 | high,
        high,
        0o644 | high,
    ];
    let creating = [
        0,
        libc::O_RDWR as u64,
        libc::O_CREAT as u64,
        (libc::O_CREAT | libc::O_EXCL | libc::O_WRONLY) as u64,
        libc::O_TMPFILE as u64 | libc::O_RDWR as u64,
        0o2000_0000,
        libc::O_DIRECTORY as u64,
        libc::O_CREAT as u64 | high,
        high,
    ];
    for mode in modes {
        out.push([0, mode, 0, 0, 0, 0]);
        out.push([0, 0, mode, 0, 0, 0]);
        out.push([0, 0, 0, mode, 0, 0]);
        for flags in creating {
            out.push([0, flags, mode, 0, 0, 0]);
            out.push([0, 0, flags, mode, 0, 0]);
        }
    }
    out
}

/// Every number 0..=600, the x32 twins of a few, and numbers far beyond any table.
fn interesting_numbers() -> Vec<u32> {
    let mut nrs: Vec<u32> = (0..=600).collect();
    for nr in [0, 1, 16, 39, 56, 435, 600] {
        nrs.push(nr | X32_SYSCALL_BIT);
    }
    nrs.extend([
        1023,
        1024,
        4096,
        0x3fff_ffff,
        0x8000_0000,
        u32::MAX - 1,
        u32::MAX,
    ]);
    nrs
}

/// Run `set`'s program on the whole grid and compare with the reference; the longest run.
fn assert_program_matches(set: &RuleSet, what: &str) -> usize {
    let filter = lower(set).unwrap();
    assert_eq!(filter.arch(), set.arch);
    assert_kernel_would_accept(filter.instructions());
    let native = set.arch.audit_arch();
    let foreign = [
        AUDIT_ARCH_I386,
        AUDIT_ARCH_ARM,
        Arch::X86_64.audit_arch(),
        Arch::Aarch64.audit_arch(),
        0,
    ];
    let args = interesting_args();
    let allowed = by_number(set);
    let mut longest = 0;
    for nr in interesting_numbers() {
        for args in &args {
            let (got, steps) = run_bpf(filter.instructions(), &seccomp_data(nr, native, args));
            let want = reference(set, &allowed, native, nr, args);
            assert_eq!(got, want, "{what}: nr {nr:#x}, args {args:#x?}");
            longest = longest.max(steps);
        }
        for arch in foreign.into_iter().filter(|a| *a != native) {
            let (got, _) = run_bpf(filter.instructions(), &seccomp_data(nr, arch, &[0; 6]));
            assert_eq!(got, RET_KILL_PROCESS, "{what}: nr {nr}, arch {arch:#x}");
        }
    }
    longest
}

#[test]
fn compiled_programs_answer_exactly_what_the_rule_sets_say() {
    for arch in [Arch::X86_64, Arch::Aarch64] {
        for profile in [SeccompProfile::Default, SeccompProfile::Strict] {
            for network in [NetworkMode::None, NetworkMode::Loopback, NetworkMode::Host] {
                for unix_sockets in [false, true] {
                    let mut s = spec(profile, &[], &[]);
                    s.unix_sockets = unix_sockets;
                    let set = rules(&s, network, arch).unwrap();
                    let what = format!("{arch} {profile:?} {network:?} unix={unix_sockets}");
                    let longest = assert_program_matches(&set, &what);
                    // A search, not a walk: the guard (with two ENOSYS tests), the load,
                    // about log2(~100) splits and the longest argument-check block (socket's
                    // four alternatives).
                    assert!(longest <= 28, "{what}: a call ran {longest} instructions");
                }
            }
        }
        // With the policy's allow and deny lists, clone3 allowed or denied.
        for (allow, deny) in [
            (
                &["ptrace", "ioctl", "clone3"][..],
                &["mknodat", "clone3"][..],
            ),
            (
                &["clone3", "bpf", "personality"][..],
                &["read", "socket"][..],
            ),
        ] {
            let set = rules(
                &spec(SeccompProfile::Default, allow, deny),
                NetworkMode::None,
                arch,
            );
            assert_program_matches(&set.unwrap(), &format!("{arch} {allow:?} {deny:?}"));
        }
    }
}

#[test]
fn long_subtrees_are_reached_through_ja_and_empty_sets_deny_everything() {
    for arch in [Arch::X86_64, Arch::Aarch64] {
        // Allow every even number and deny every odd one: one interval per call, so the
        // root's left subtree is far longer than an 8-bit jump.
        let (even, odd): (Vec<&str>, Vec<&str>) = arch
            .syscall_names()
            .filter(|n| *n != "clone3")
            .partition(|n| arch.syscall_number(n).unwrap() % 2 == 0);
        let set = rules(
            &spec(SeccompProfile::Default, &even, &odd),
            NetworkMode::None,
            arch,
        );
        let set = set.unwrap();
        let filter = lower(&set).unwrap();
        assert!(
            filter.instructions().iter().any(|i| i.0 == 0x05),
            "{arch}: no ja in {} instructions",
            filter.len()
        );
        assert_program_matches(&set, &format!("{arch} alternating"));
        // Nothing allowed: the guard, the load and one ret EPERM.
        let nothing = RuleSet {
            arch,
            allowed: BTreeMap::new(),
            clone3_enosys: false,
            openat2_enosys: false,
        };
        assert_eq!(
            lower(&nothing).unwrap().instructions().last(),
            Some(&(0x06, 0, 0, RET_EPERM))
        );
        assert_program_matches(&nothing, &format!("{arch} nothing"));
    }
}

#[test]
fn argument_blocks_handle_any_mix_of_checks_and_alternatives() {
    let c = |arg, op, value| ArgCheck {
        arg,
        width: ArgWidth::Low32,
        op,
        value,
    };
    for arch in [Arch::X86_64, Arch::Aarch64] {
        let mut set = rules(&default_spec(), NetworkMode::None, arch).unwrap();
        // Adjacent calls with checks (x86_64: read 0, write 1, open 2; aarch64: 63, 64),
        // several arguments per alternative, repeated loads, no alternative at all, and an
        // alternative without checks (always true).
        set.allowed.insert(
            "read",
            Allowance::When(vec![
                vec![
                    c(0, ArgOp::Eq, 1),
                    c(1, ArgOp::NoBitOf, 0xffff_0000),
                    c(0, ArgOp::Ne, 0),
                ],
                vec![c(2, ArgOp::Eq, 0x5412), c(5, ArgOp::Eq, 0)],
                vec![c(1, ArgOp::Eq, 0xffff_ffff)],
            ]),
        );
        set.allowed.insert("write", Allowance::When(vec![]));
        set.allowed.insert(
            "close",
            Allowance::When(vec![vec![], vec![c(0, ArgOp::Eq, 3)]]),
        );
        set.allowed
            .insert("ioctl", Allowance::When(vec![vec![c(3, ArgOp::Eq, 0)]]));
        assert_program_matches(&set, &format!("{arch} mixed"));
        // Constants must fit the 32 bits compared, arguments must exist.
        for bad in [c(0, ArgOp::Eq, 1 << 32), c(6, ArgOp::Eq, 0)] {
            set.allowed.insert("read", Allowance::When(vec![vec![bad]]));
            assert!(
                matches!(lower(&set), Err(SeccompError::Build { .. })),
                "{bad:?}"
            );
        }
    }
}

// ---- Enforcement, each in a forked child ----

fn seccomp_available(test: &str) -> bool {
    let missing =
        (!kernel_supports_filters()).then(|| "no Seccomp field in /proc/self/status".to_owned());
    gate(test, "seccomp filters", missing)
}

/// Run `probe` in a child under `filter` (after no_new_privs).
fn confined(filter: &SeccompFilter, probe: impl FnOnce() -> i32) -> ChildExit {
    fork_and_run(|| {
        if nix::sys::prctl::set_no_new_privs().is_err() || install(filter).is_err() {
            return SETUP_FAILED;
        }
        probe()
    })
    .unwrap()
}

/// Run `probe` in a child without any filter.
fn unconfined(probe: impl FnOnce() -> i32) -> ChildExit {
    fork_and_run(probe).unwrap()
}

fn filter_for(network: NetworkMode) -> SeccompFilter {
    compile(
        &default_spec(),
        network,
        UnaccountedMemory::Allowed,
        Arch::native(),
    )
    .unwrap()
}

#[test]
fn never_allowed_calls_answer_eperm() {
    if !seccomp_available("never_allowed_calls_answer_eperm") {
        return;
    }
    let filter = filter_for(NetworkMode::None);
    // (probe, what the kernel itself answers an unprivileged or root caller, when known
    // to differ from EPERM: the positive twin proving the probe reaches the kernel.)
    let cases: &[(Probe, Option<&[Errno]>)] = &[
        (Probe::PtraceTraceme, Some(&[])),
        (Probe::ProcessVmReadvSelf, Some(&[])),
        (Probe::ProcessVmWritevSelf, Some(&[])),
        (Probe::KcmpSelf, Some(&[Errno::ENOSYS])),
        (Probe::KeyctlSessionId, Some(&[])),
        (Probe::AddKeyNull, Some(&[Errno::EFAULT, Errno::EINVAL])),
        (Probe::RequestKeyNull, Some(&[Errno::EFAULT, Errno::EINVAL])),
        (Probe::BpfNull, None),
        (Probe::PerfEventOpenNull, Some(&[Errno::EFAULT])),
        (Probe::UserfaultfdUserMode, None),
        (Probe::IoUringSetupNull, None),
        (Probe::IoUringEnterBadFd, None),
        (Probe::IoUringRegisterBadFd, None),
        (Probe::KexecFileLoadBadFd, None),
        (Probe::InitModuleNull, None),
        (Probe::FinitModuleBadFd, None),
        (Probe::DeleteModuleNull, None),
        (Probe::MountNull, None),
        (Probe::Umount2Null, None),
        (Probe::PivotRootNull, None),
        (Probe::ChrootNull, Some(&[Errno::EFAULT])),
        (Probe::MoveMountBadFd, None),
        (Probe::OpenTreeNull, None),
        (Probe::FsopenNull, None),
        (Probe::FsconfigBadFd, None),
        (Probe::FsmountBadFd, None),
        (Probe::FspickNull, None),
        (Probe::MountSetattrNull, None),
        (Probe::SetnsBadFd, Some(&[Errno::EBADF])),
        (Probe::UnshareUser, Some(&[])),
        (Probe::RebootBadMagic, None),
        (Probe::SwaponNull, None),
        (Probe::SwapoffNull, None),
        (Probe::AcctNull, None),
        (Probe::QuotactlNull, None),
        (Probe::OpenByHandleAtNull, None),
        (Probe::NameToHandleAtNull, Some(&[Errno::EFAULT])),
        (Probe::PidfdGetfdBadFd, Some(&[Errno::EBADF])),
        (Probe::PersonalityNoRandomize, Some(&[])),
        (Probe::Unassigned, Some(&[Errno::ENOSYS])),
    ];
    for &(probe, twin) in cases {
        assert_eq!(
            confined(&filter, || code(probe.run())),
            EPERM,
            "{probe:?} under the filter"
        );
        if let Some(allowed) = twin {
            let free = unconfined(|| code(probe.run()));
            let expected: Vec<ChildExit> = std::iter::once(OK)
                .chain(allowed.iter().map(|e| ChildExit::Code(*e as i32)))
                .collect();
            assert!(
                expected.contains(&free),
                "{probe:?} unconfined gave {free:?}, not {expected:?}"
            );
        }
    }
}

#[test]
fn clone3_answers_enosys_and_clone_without_namespaces_works() {
    if !seccomp_available("clone3_answers_enosys_and_clone_without_namespaces_works") {
        return;
    }
    let filter = filter_for(NetworkMode::None);
    let enosys = ChildExit::Code(Errno::ENOSYS as i32);
    assert_eq!(confined(&filter, || code(Probe::Clone3Null.run())), enosys);
    assert_eq!(
        unconfined(|| code(Probe::Clone3Null.run())),
        ChildExit::Code(Errno::EINVAL as i32)
    );
    // Namespace flags are refused, plain clone (fork) is not.
    for flags in [
        CloneFlags::CLONE_NEWUSER,
        CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWPID,
    ] {
        assert_eq!(
            confined(&filter, || code(clone_probe(flags))),
            EPERM,
            "{flags:?}"
        );
    }
    assert_eq!(
        unconfined(|| code(clone_probe(CloneFlags::CLONE_NEWUSER))),
        OK
    );
    assert_eq!(
        confined(&filter, || code(clone_probe(CloneFlags::empty()))),
        OK
    );
}

#[test]
fn personality_query_is_allowed() {
    if !seccomp_available("personality_query_is_allowed") {
        return;
    }
    let filter = filter_for(NetworkMode::None);
    assert_eq!(
        confined(&filter, || code(Probe::PersonalityQuery.run())),
        OK
    );
}

#[test]
fn terminal_injection_ioctls_are_refused_whatever_the_high_bits() {
    if !seccomp_available("terminal_injection_ioctls_are_refused_whatever_the_high_bits") {
        return;
    }
    let filter = filter_for(NetworkMode::None);
    let devnull = std::fs::File::open("/dev/null").unwrap();
    let enotty = ChildExit::Code(Errno::ENOTTY as i32);
    let tcgets = u64::from(libc::TCGETS as u32);
    for request in [
        TIOCSTI,
        TIOCSTI | 1 << 32,
        0xdead_beef_0000_0000 | TIOCSTI,
        TIOCLINUX,
    ] {
        let fd = devnull.as_fd();
        assert_eq!(
            confined(&filter, || code(ioctl_probe(fd, request))),
            EPERM,
            "{request:#x}"
        );
        // Unconfined, the kernel sees the same request (truncated to 32 bits) and answers
        // that /dev/null is not a terminal.
        assert_eq!(
            unconfined(|| code(ioctl_probe(fd, request))),
            enotty,
            "{request:#x}"
        );
    }
    let fd = devnull.as_fd();
    assert_eq!(confined(&filter, || code(ioctl_probe(fd, tcgets))), enotty);
}

fn open_socket(family: AddressFamily, ty: SockType, proto: Option<SockProtocol>) -> i32 {
    code(socket(family, ty, SockFlag::SOCK_CLOEXEC, proto))
}

#[test]
fn audit_and_packet_sockets_are_refused_on_every_network() {
    if !seccomp_available("audit_and_packet_sockets_are_refused_on_every_network") {
        return;
    }
    let audit = || {
        open_socket(
            AddressFamily::Netlink,
            SockType::Raw,
            Some(SockProtocol::NetlinkAudit),
        )
    };
    let packet = || open_socket(AddressFamily::Packet, SockType::Raw, None);
    let route = || {
        open_socket(
            AddressFamily::Netlink,
            SockType::Raw,
            Some(SockProtocol::NetlinkRoute),
        )
    };
    let tcp = || open_socket(AddressFamily::Inet, SockType::Stream, None);
    for mode in [NetworkMode::None, NetworkMode::Loopback, NetworkMode::Host] {
        let filter = filter_for(mode);
        assert_eq!(confined(&filter, audit), EPERM, "{mode:?}");
        assert_eq!(confined(&filter, packet), EPERM, "{mode:?}");
        assert_eq!(confined(&filter, route), OK, "{mode:?}");
        let inet = if mode == NetworkMode::None { EPERM } else { OK };
        assert_eq!(confined(&filter, tcp), inet, "{mode:?}");
    }
    // Twin: the audit socket opens without the filter.
    assert_eq!(unconfined(audit), OK);
    let strict = compile(
        &spec(SeccompProfile::Strict, &[], &[]),
        NetworkMode::None,
        UnaccountedMemory::Allowed,
        Arch::native(),
    );
    assert_eq!(
        confined(&strict.unwrap(), tcp),
        EPERM,
        "strict has no sockets"
    );
}

#[cfg(target_arch = "x86_64")]
#[test]
fn x32_calls_kill_the_process() {
    if !seccomp_available("x32_calls_kill_the_process") {
        return;
    }
    let filter = filter_for(NetworkMode::None);
    assert_eq!(
        confined(&filter, || code(Probe::X32Getpid.run())),
        ChildExit::Signal(Signal::SIGSYS)
    );
    // Twin: without the filter the process survives (the call returns, or ENOSYS where the
    // kernel has no x32 support).
    let free = unconfined(|| code(Probe::X32Getpid.run()));
    assert!(matches!(free, ChildExit::Code(0 | 38)), "{free:?}");
}

#[test]
fn fresh_session_keyring_hides_the_parents() {
    if !seccomp_available("fresh_session_keyring_hides_the_parents") {
        return;
    }
    // In one child: the session keyring before joining, then after; exit 0 if they differ.
    let outcome = unconfined(|| {
        let Ok(before) = Probe::KeyctlSessionId.run() else {
            return SETUP_FAILED;
        };
        if join_fresh_session_keyring().is_err() {
            return SETUP_FAILED;
        }
        match Probe::KeyctlSessionId.run() {
            Ok(after) if after != before => 0,
            Ok(_) => 1,
            Err(_) => SETUP_FAILED,
        }
    });
    assert_eq!(outcome, OK);
}

fn run_shell_under(filter: &SeccompFilter, script: &str) -> ChildExit {
    let script = std::ffi::CString::new(script).unwrap();
    let sh = c"/bin/sh";
    confined(filter, || {
        let args = [sh, c"-c", script.as_c_str()];
        code(nix::unistd::execv(sh, &args))
    })
}

#[test]
fn shells_coreutils_and_python_run_under_both_profiles() {
    if !seccomp_available("shells_coreutils_and_python_run_under_both_profiles") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let python = std::path::Path::new("/usr/bin/python3");
    let script = format!(
        "cd {} && echo hello > a && cat a | sort | wc -l > /dev/null && cp a b && mv b c \
         && mkdir d && ls -la . > /dev/null && rm -r c d && test \"$(cat a)\" = hello \
         && date > /dev/null && (sleep 0 &) && wait \
         && if [ -x {py} ]; then {py} -c 'import json, os, subprocess, threading; \
         t = threading.Thread(target=print); t.start(); t.join(); \
         subprocess.run([\"true\"], check=True); open(\"py-ok\", \"w\").write(\"1\")' \
         > /dev/null; fi",
        dir.path().display(),
        py = python.display(),
    );
    for profile in [SeccompProfile::Default, SeccompProfile::Strict] {
        let filter = compile(
            &spec(profile, &[], &[]),
            NetworkMode::None,
            UnaccountedMemory::Allowed,
            Arch::native(),
        )
        .unwrap();
        assert_eq!(run_shell_under(&filter, &script), OK, "{profile:?}");
        let marker = dir.path().join("py-ok");
        if python.exists() {
            assert!(marker.exists(), "python3 did not run under {profile:?}");
            std::fs::remove_file(marker).unwrap();
        } else {
            eprintln!(
                "note: {} is absent, python3 not exercised",
                python.display()
            );
        }
    }
    // Twin: a filter that denies `execve` stops the shell before it runs.
    let broken = compile(
        &spec(SeccompProfile::Strict, &[], &["execve"]),
        NetworkMode::None,
        UnaccountedMemory::Allowed,
        Arch::native(),
    );
    assert_eq!(run_shell_under(&broken.unwrap(), "true"), EPERM);
}
