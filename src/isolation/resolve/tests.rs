//! The resolver on real files: links, kinds, identities.

use std::os::unix::fs::symlink;

use super::*;

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

#[test]
fn a_link_beneath_the_workspace_is_named_and_not_followed() {
    let d = tmp();
    let ws = d.path().join("ws");
    std::fs::create_dir_all(ws.join("real")).unwrap();
    symlink("/etc", ws.join("abs")).unwrap();
    symlink("../..", ws.join("rel")).unwrap();
    std::fs::create_dir(ws.join("parent")).unwrap();
    symlink("/etc", ws.join("parent/child")).unwrap();
    let w = Workspace::open(&ws, &[]).unwrap();
    let canon = w.path().to_path_buf();
    for (rel, link) in [
        ("abs", "abs"),
        ("rel", "rel"),
        ("abs/passwd", "abs"),
        ("parent/child/x", "parent/child"),
    ] {
        assert_eq!(
            w.resolve(Path::new(rel)).unwrap_err(),
            ResolveError::LinkInWorkspace {
                link: canon.join(link)
            },
            "{rel}"
        );
    }
    // Positive twin: a real directory resolves, to itself.
    let r = w.resolve(Path::new("real")).unwrap();
    assert!(r.is_dir);
    assert_eq!(r.path, canon.join("real"));
    assert_eq!(r.chain[1], w.dir.id);
}

#[test]
fn fifos_sockets_and_hard_links_in_the_workspace_are_refused() {
    let d = tmp();
    let ws = d.path();
    nix::unistd::mkfifo(&ws.join("fifo"), Mode::from_bits_truncate(0o644)).unwrap();
    let _sock = std::os::unix::net::UnixListener::bind(ws.join("sock")).unwrap();
    std::fs::write(ws.join("one"), "x").unwrap();
    std::fs::write(ws.join("two"), "x").unwrap();
    std::fs::hard_link(ws.join("two"), ws.join("two-again")).unwrap();
    let w = Workspace::open(ws, &[]).unwrap();
    let canon = w.path().to_path_buf();
    assert_eq!(
        w.resolve(Path::new("fifo")).unwrap_err(),
        ResolveError::NotFileOrDir {
            path: canon.join("fifo"),
            kind: "FIFO"
        }
    );
    assert_eq!(
        w.resolve(Path::new("sock")).unwrap_err(),
        ResolveError::NotFileOrDir {
            path: canon.join("sock"),
            kind: "socket"
        }
    );
    assert_eq!(
        w.resolve(Path::new("two")).unwrap_err(),
        ResolveError::HardLinked {
            path: canon.join("two"),
            nlink: 2
        }
    );
    let one = w.resolve(Path::new("one")).unwrap();
    assert!(!one.is_dir);
    assert!(w.resolve(Path::new("absent")).unwrap_err().is_missing());
}

#[test]
fn host_links_are_followed_only_when_only_root_could_have_placed_them() {
    let d = tmp();
    let open_dir = d.path().join("open");
    std::fs::create_dir(&open_dir).unwrap();
    std::fs::set_permissions(
        &open_dir,
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .unwrap();
    std::fs::create_dir(d.path().join("target")).unwrap();
    symlink(d.path().join("target"), open_dir.join("link")).unwrap();
    let canon_open = std::fs::canonicalize(&open_dir).unwrap();
    let e = resolve_host(&canon_open.join("link"), None, &[]).unwrap_err();
    assert!(
        matches!(&e, ResolveError::UntrustedLink { link, .. } if *link == canon_open.join("link")),
        "{e:?}"
    );
    // A root-owned link in a root-owned, closed directory: the host's own layout.
    if let Ok(m) = std::fs::symlink_metadata("/bin")
        && m.file_type().is_symlink()
    {
        let r = resolve_host(Path::new("/bin"), None, &[]).unwrap();
        assert_eq!(r.path, std::fs::canonicalize("/bin").unwrap());
        assert!(r.link.is_some());
        // …unless the run makes its place writable.
        let root = root_stack().unwrap();
        let e = resolve_host(Path::new("/bin"), None, &[Identity::of(&root[0].2)]).unwrap_err();
        assert!(matches!(e, ResolveError::UntrustedLink { .. }), "{e:?}");
    }
}

#[test]
fn a_swapped_source_is_caught_by_the_identity_check() {
    let d = tmp();
    let ws = d.path();
    std::fs::create_dir(ws.join("out")).unwrap();
    std::fs::create_dir(ws.join("other")).unwrap();
    let w = Workspace::open(ws, &[]).unwrap();
    let r = w.resolve(Path::new("out")).unwrap();
    let root = openat2(None, Path::new("/"), libc::O_PATH | libc::O_DIRECTORY, 0, 0).unwrap();
    // Unchanged: re-opened.
    reopen_checked(root.as_fd(), &r.path, r.id, true).unwrap();
    // Another directory moved into its place.
    std::fs::rename(ws.join("out"), ws.join("was-out")).unwrap();
    std::fs::rename(ws.join("other"), ws.join("out")).unwrap();
    assert_eq!(
        reopen_checked(root.as_fd(), &r.path, r.id, true).unwrap_err(),
        ResolveError::Changed {
            path: r.path.clone()
        }
    );
    // A link in its place.
    std::fs::remove_dir(ws.join("out")).unwrap();
    symlink("/etc", ws.join("out")).unwrap();
    assert_eq!(
        reopen_checked(root.as_fd(), &r.path, r.id, true).unwrap_err(),
        ResolveError::Changed {
            path: r.path.clone()
        }
    );
    // The pure part: a file where a directory was checked, another inode.
    let st = fstat(&r.fd).unwrap();
    check_identity(&r.path, r.id, true, &st).unwrap();
    assert!(check_identity(&r.path, r.id, false, &st).is_err());
    let other = Identity {
        dev: r.id.dev,
        ino: r.id.ino + 1,
    };
    assert!(check_identity(&r.path, other, true, &st).is_err());
}

#[test]
fn protected_objects_are_matched_by_identity() {
    let d = tmp();
    let home = d.path().join("home");
    std::fs::create_dir_all(home.join("state")).unwrap();
    std::fs::write(home.join("state/consent.json"), "{}").unwrap();
    let ws = d.path().join("ws");
    std::fs::create_dir(&ws).unwrap();
    std::fs::hard_link(home.join("state/consent.json"), ws.join("alias.json")).unwrap();
    let p = Protected::new(&home.join("state"));
    let w = Workspace::open(&ws, &[]).unwrap();
    assert!(!p.exposed_by(&w.dir));
    // A hard link of a protected file is refused before it is even a candidate; the file
    // object itself is matched by identity.
    let file = Protected::new(&home.join("state/consent.json"));
    let walked = walk(
        root_stack().unwrap(),
        &std::fs::canonicalize(ws.join("alias.json")).unwrap(),
        Links::Never,
        false,
    )
    .unwrap();
    assert!(file.exposed_by(&walked));
    // A parent of the protected path, and the path itself.
    let parent = Workspace::open(&home, &[]).unwrap();
    assert!(p.exposed_by(&parent.dir));
    // A path that does not exist yet is matched by name.
    let later = Protected::new(&ws.join("not-yet"));
    assert!(later.exposed_by(&w.dir));
}

#[test]
fn a_bind_mounted_alias_of_a_protected_directory_is_refused() {
    use crate::isolation::sys::fork::{ChildExit, fork_and_run};
    use nix::mount::{MsFlags, mount};
    use nix::sched::{CloneFlags, unshare};
    let d = tmp();
    let home = d.path().join("home");
    let alias = d.path().join("alias");
    std::fs::create_dir_all(home.join("sub")).unwrap();
    std::fs::create_dir(&alias).unwrap();
    let outcome = fork_and_run(move || {
        // A private mount namespace of our own (a user namespace first when not root).
        let flags = if nix::unistd::geteuid().is_root() {
            CloneFlags::CLONE_NEWNS
        } else {
            CloneFlags::CLONE_NEWUSER | CloneFlags::CLONE_NEWNS
        };
        if unshare(flags).is_err() {
            return 10;
        }
        let none: Option<&str> = None;
        if mount(none, "/", none, MsFlags::MS_REC | MsFlags::MS_PRIVATE, none).is_err()
            || mount(Some(&home), &alias, none, MsFlags::MS_BIND, none).is_err()
        {
            return 11;
        }
        let p = Protected::new(&home);
        let exposed = |path: &Path| {
            walk(root_stack().unwrap(), path, Links::Never, false)
                .map(|r| p.exposed_by(&r))
                .unwrap_or(false)
        };
        // Different names, same objects: the alias itself, a directory inside it.
        match (
            exposed(&alias),
            exposed(&alias.join("sub")),
            exposed(&std::fs::canonicalize(d.path().join("..")).unwrap()),
        ) {
            (true, true, true) => 0,
            _ => 1,
        }
    })
    .unwrap();
    if outcome == ChildExit::Code(10) {
        eprintln!(
            "SKIPPED a_bind_mounted_alias_of_a_protected_directory_is_refused: no mount namespace"
        );
        return;
    }
    assert_eq!(outcome, ChildExit::Code(0));
}

#[test]
fn files_mycelium_reads_are_regular_files_reached_without_planted_links() {
    let d = tmp();
    let dir = std::fs::canonicalize(d.path()).unwrap();
    std::fs::write(dir.join("real"), "bytes").unwrap();
    nix::unistd::mkfifo(&dir.join("fifo"), Mode::from_bits_truncate(0o644)).unwrap();
    let open = dir.join("open");
    std::fs::create_dir(&open).unwrap();
    std::fs::set_permissions(&open, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    symlink(dir.join("real"), open.join("link")).unwrap();
    let inner = |e: std::io::Error| {
        e.into_inner()
            .and_then(|e| e.downcast::<ResolveError>().ok())
            .map(|e| *e)
    };
    // A FIFO is refused without being opened (opening it would block here).
    assert_eq!(
        inner(open_file(&dir.join("fifo")).unwrap_err()),
        Some(ResolveError::NotRegularFile {
            path: dir.join("fifo"),
            kind: "FIFO"
        })
    );
    assert_eq!(
        inner(open_file(&dir).unwrap_err()),
        Some(ResolveError::NotRegularFile {
            path: dir.clone(),
            kind: "directory"
        })
    );
    assert_eq!(
        inner(open_file(&open.join("link")).unwrap_err()),
        Some(ResolveError::UntrustedFileLink {
            link: open.join("link"),
            target: dir.join("real")
        })
    );
    let missing = open_file(&dir.join("absent")).unwrap_err();
    assert_eq!(missing.kind(), std::io::ErrorKind::NotFound);
    // Positive twin: the file itself is read.
    let mut text = String::new();
    std::io::Read::read_to_string(&mut open_file(&dir.join("real")).unwrap(), &mut text).unwrap();
    assert_eq!(text, "bytes");
}

#[test]
fn a_workspace_path_through_a_link_others_could_place_is_refused() {
    let d = tmp();
    let dir = std::fs::canonicalize(d.path()).unwrap();
    std::fs::create_dir(dir.join("real")).unwrap();
    let open = dir.join("open");
    std::fs::create_dir(&open).unwrap();
    std::fs::set_permissions(&open, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    symlink(dir.join("real"), open.join("ws")).unwrap();
    assert_eq!(
        Workspace::open(&open.join("ws"), &[]).unwrap_err(),
        ResolveError::UntrustedWorkspaceLink {
            link: open.join("ws"),
            target: dir.join("real")
        }
    );
    // Positive twin: the physical path.
    let w = Workspace::open(&dir.join("real"), &[]).unwrap();
    assert_eq!(w.path(), dir.join("real"));
    // A root link on the way is followed, unless it lies in a writable place.
    if let Ok(m) = std::fs::symlink_metadata("/bin")
        && m.file_type().is_symlink()
    {
        let w = Workspace::open(Path::new("/bin"), &[]).unwrap();
        assert_eq!(w.path(), std::fs::canonicalize("/bin").unwrap());
        let root = root_stack().unwrap();
        assert!(matches!(
            Workspace::open(Path::new("/bin"), &[Identity::of(&root[0].2)]).unwrap_err(),
            ResolveError::UntrustedWorkspaceLink { .. }
        ));
    }
}
