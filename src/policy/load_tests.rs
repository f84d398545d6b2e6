use std::path::{Path, PathBuf};

use pretty_assertions::assert_eq;

use super::*;

fn opts() -> LoadOptions {
    LoadOptions {
        home: PathBuf::from("/usr"),
        protected: vec![PathBuf::from("/usr/share/mycelium-state")],
    }
}

fn load_str(body: &str) -> Result<Policy, Vec<Diagnostic>> {
    from_bytes(Path::new("/etc/p.toml"), body.as_bytes().to_vec(), &opts())
        .map_err(|e| e.diagnostics(Path::new("/etc/p.toml")))
}

#[test]
fn placeholders_and_relative_paths_expand() {
    let p = load_str("[filesystem]\nread_only = [\"{home}/lib\", \"ssl\", \"?/nope\"]\nread_write = [\"{workspace}\", \"{workspace}/out/./x\"]\n").unwrap();
    let ro: Vec<_> = p
        .filesystem
        .read_only
        .iter()
        .map(|g| (g.path.clone(), g.optional))
        .collect();
    assert_eq!(
        ro,
        vec![
            (GrantPath::Host("/usr/lib".into()), false),
            (GrantPath::Host("/etc/ssl".into()), false),
            (GrantPath::Host("/nope".into()), true),
        ]
    );
    let rw: Vec<_> = p
        .filesystem
        .read_write
        .iter()
        .map(|g| g.path.clone())
        .collect();
    assert_eq!(
        rw,
        vec![
            GrantPath::Workspace(PathBuf::new()),
            GrantPath::Workspace("out/x".into())
        ]
    );
    assert_eq!(
        rw[1].resolve(Some(Path::new("/w"))),
        Some(PathBuf::from("/w/out/x"))
    );
    assert!(p.uses_workspace());
    assert_eq!(
        p.filesystem.read_write[1].at,
        Location {
            line: 3,
            column: 30,
            key: "filesystem.read_write[1]".into()
        }
    );
}

#[test]
fn defaults_are_the_safe_ones() {
    let p = load_str("").unwrap();
    assert_eq!(p.network.mode, NetworkMode::None);
    assert_eq!(p.seccomp.profile, SeccompProfile::Default);
    assert_eq!((p.agent.uid, p.agent.gid), (1000, 1000));
    assert_eq!(
        p.filesystem.tmpfs.get(Path::new("/tmp")),
        Some(&ByteSize(64 << 20))
    );
    assert!(p.filesystem.read_only.is_empty() && p.filesystem.read_write.is_empty());
    assert_eq!(p.risk().level, super::super::RiskLevel::Low);
}

#[test]
fn protected_paths_cannot_be_granted_nor_their_parents() {
    let errs = load_str("[filesystem]\nread_only = [\"/usr/share\"]\n").unwrap_err();
    assert_eq!(errs.len(), 1);
    assert_eq!(errs[0].key, "filesystem.read_only[0]");
    assert!(
        errs[0]
            .message
            .contains("would expose /usr/share/mycelium-state"),
        "{}",
        errs[0].message
    );
}

#[test]
fn protected_paths_are_compared_as_objects_not_names() {
    let d = tempfile::tempdir().unwrap();
    let state = d.path().join("state");
    std::fs::create_dir(&state).unwrap();
    std::os::unix::fs::symlink(&state, d.path().join("alias")).unwrap();
    std::fs::create_dir(d.path().join("other")).unwrap();
    let o = LoadOptions {
        home: PathBuf::from("/usr"),
        protected: vec![state.clone()],
    };
    let load = |grant: &Path| {
        let body = format!(
            "[filesystem]\nread_only = [{:?}]\n",
            grant.display().to_string()
        );
        from_bytes(Path::new("/etc/p.toml"), body.into_bytes(), &o)
            .map_err(|e| e.diagnostics(Path::new("/etc/p.toml")))
    };
    let errs = load(&d.path().join("alias")).unwrap_err();
    assert_eq!(errs.len(), 1);
    assert!(
        errs[0].message.contains("mycelium's own state"),
        "{}",
        errs[0].message
    );
    // Positive twin: a sibling directory is fine.
    load(&d.path().join("other")).unwrap();
}

#[test]
fn tmpfs_inside_sandbox_owned_paths_is_refused() {
    let errs =
        load_str("[filesystem.tmpfs]\n\"/dev/shm\" = \"1M\"\n\"/\" = \"1M\"\n\"rel\" = \"1M\"\n")
            .unwrap_err();
    let keys: Vec<_> = errs.iter().map(|d| (d.line, d.key.as_str())).collect();
    assert_eq!(
        keys,
        vec![
            (2, "filesystem.tmpfs.\"/dev/shm\""),
            (3, "filesystem.tmpfs.\"/\""),
            (4, "filesystem.tmpfs.\"rel\"")
        ]
    );
}

#[test]
fn line_col_counts_characters() {
    assert_eq!(line_col("ab\ncdé€f".as_bytes(), 3), (2, 1));
    assert_eq!(line_col("ab\nédef".as_bytes(), 5), (2, 2));
}
