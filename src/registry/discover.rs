//! Finding agents on the search path.
//!
//! An agent is a policy file `<name>.toml` in one of the search directories, in this order:
//! the directory given with `--policies` / `MYCELIUM_POLICIES`, then
//! `$MYCELIUM_HOME/policies`. Nothing else is searched: in particular not the current
//! directory's `policies/`, which an agent could have written when that directory was (or
//! lay inside) its workspace, and where `mycelium run NAME` would then load the agent's own
//! policy. The explicit directory is resolved once, following only symbolic links that root
//! alone could have placed (the rule of [`crate::isolation::resolve`]), and searched by its
//! physical path from then on.
//!
//! The agent's name is the file's stem, so the name an MCP client
//! sees is the name a person finds on disk. A name found twice is reported as a clash naming
//! both files and that name cannot be used until one is renamed or removed — the search
//! path never silently shadows one agent with another — while every other agent stays
//! usable. This module only
//! lists directory entries; it reads no file contents.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::isolation::resolve::{ResolveError, resolve_host};

use super::RegistryError;

/// The longest agent name accepted.
pub const MAX_NAME_LEN: usize = 64;

/// The ordered directories searched for policy files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchPath {
    /// Directories, most specific first; duplicates (same directory reached twice) removed.
    /// The explicit directory is here only when it could be resolved safely.
    pub dirs: Vec<PathBuf>,
    /// The directory given explicitly (absolute, as given), which must exist.
    pub explicit: Option<PathBuf>,
    /// Why the explicit directory cannot be searched, when it cannot.
    refused: Option<ResolveError>,
}

impl SearchPath {
    /// The search path: `explicit` (from `--policies` or `MYCELIUM_POLICIES`; relative to
    /// `cwd`), then `home/policies` where `home` is `$MYCELIUM_HOME`. `cwd` itself is never
    /// searched.
    #[must_use]
    pub fn new(explicit: Option<&Path>, cwd: &Path, home: &Path) -> SearchPath {
        let explicit = explicit.map(|p| {
            if p.is_absolute() {
                p.to_path_buf()
            } else {
                cwd.join(p)
            }
        });
        let mut dirs: Vec<PathBuf> = Vec::new();
        let mut refused = None;
        if let Some(dir) = &explicit {
            // Resolved once, with the trusted-link rule: a link an agent could have planted
            // (in a workspace, under /tmp, in a home) is refused, never followed.
            match resolve_host(dir, None, &[]) {
                Ok(r) if r.is_dir => dirs.push(r.path),
                Ok(r) => {
                    refused = Some(ResolveError::NotFileOrDir {
                        path: r.path,
                        kind: "regular file",
                    });
                }
                Err(e) => refused = Some(e),
            }
        }
        // `$MYCELIUM_HOME` is mycelium's own state (never visible in a sandbox): links in
        // its path are the user's, and resolving them lets one directory reached twice
        // count once. A directory that does not exist stays as written.
        let own = home.join("policies");
        let own = own.canonicalize().unwrap_or(own);
        if !dirs.contains(&own) {
            dirs.push(own);
        }
        SearchPath {
            dirs,
            explicit,
            refused,
        }
    }

    /// Every directory to keep out of sandboxes: the search directories and the explicit
    /// one as given, even when it was refused.
    #[must_use]
    pub fn protected(&self) -> Vec<PathBuf> {
        let mut all = self.dirs.clone();
        if let Some(e) = &self.explicit
            && !all.contains(e)
        {
            all.push(e.clone());
        }
        all
    }
}

/// One agent found on the search path (nothing read yet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentEntry {
    /// The agent's name: its policy file's stem.
    pub name: String,
    /// Its policy file.
    pub policy_path: PathBuf,
}

/// A `.toml` file that could not be an agent, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// The file.
    pub path: PathBuf,
    /// Why it was skipped.
    pub reason: String,
}

/// Two policy files on the search path with the same agent name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Duplicate {
    /// The name.
    pub name: String,
    /// The file found first on the search path.
    pub first: PathBuf,
    /// Another file with the same name.
    pub second: PathBuf,
}

impl Duplicate {
    /// The error that refuses the name.
    #[must_use]
    pub fn error(&self) -> RegistryError {
        RegistryError::Duplicate {
            name: self.name.clone(),
            first: self.first.clone(),
            second: self.second.clone(),
        }
    }
}

/// Everything found on the search path.
#[derive(Debug, Clone, Default)]
pub struct Discovery {
    /// Agents, sorted by name; a name defined more than once is not among them.
    pub agents: Vec<AgentEntry>,
    /// Policy-looking files whose name is not a valid agent name.
    pub skipped: Vec<Skipped>,
    /// Names defined by more than one file (one entry per extra file), in search order.
    pub duplicates: Vec<Duplicate>,
}

/// Whether `name` is a valid agent name: 1 to 64 of `A-Z a-z 0-9 . _ -`, starting with a
/// letter or digit (so it is safe in file names, shell commands and MCP tool arguments).
#[must_use]
pub fn is_valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && name.len() <= MAX_NAME_LEN
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// List every agent on the search path.
///
/// # Errors
/// [`RegistryError::MissingDir`] when the explicit directory does not exist,
/// [`RegistryError::UnsafeDir`] when it is reached through a link an agent could have
/// placed or is not a directory,
/// [`RegistryError::ReadDir`] when a directory cannot be listed. Two files defining one
/// name are not an error here: they are listed in [`Discovery::duplicates`].
pub fn discover(search: &SearchPath) -> Result<Discovery, RegistryError> {
    if let (Some(dir), Some(why)) = (&search.explicit, &search.refused) {
        return Err(if why.is_missing() {
            RegistryError::MissingDir { dir: dir.clone() }
        } else {
            RegistryError::UnsafeDir {
                dir: dir.clone(),
                reason: refusal(why),
            }
        });
    }
    let mut found: BTreeMap<String, PathBuf> = BTreeMap::new();
    let mut skipped = Vec::new();
    let mut duplicates = Vec::new();
    for dir in &search.dirs {
        let entries = match std::fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(source) => {
                return Err(RegistryError::ReadDir {
                    dir: dir.clone(),
                    source,
                });
            }
        };
        let mut paths = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|source| RegistryError::ReadDir {
                dir: dir.clone(),
                source,
            })?;
            paths.push(entry.path());
        }
        paths.sort();
        for path in paths {
            if path.extension().is_none_or(|e| e != "toml") || !path.is_file() {
                continue;
            }
            let Some(stem) = path.file_stem().and_then(|s| s.to_str()) else {
                skipped.push(Skipped {
                    path,
                    reason: "file name is not UTF-8".into(),
                });
                continue;
            };
            if stem.starts_with('.') {
                continue;
            }
            if !is_valid_name(stem) {
                skipped.push(Skipped {
                    reason: format!(
                        "{stem:?} is not a valid agent name (1 to {MAX_NAME_LEN} letters, digits, `.`, `_` or `-`, starting with a letter or digit)"
                    ),
                    path,
                });
                continue;
            }
            if let Some(first) = found.get(stem) {
                duplicates.push(Duplicate {
                    name: stem.to_string(),
                    first: first.clone(),
                    second: path,
                });
                continue;
            }
            found.insert(stem.to_string(), path);
        }
    }
    Ok(Discovery {
        agents: found
            .into_iter()
            .filter(|(name, _)| !duplicates.iter().any(|d| d.name == *name))
            .map(|(name, policy_path)| AgentEntry { name, policy_path })
            .collect(),
        skipped,
        duplicates,
    })
}

/// Why the explicit directory is refused, in words that fit a search directory.
fn refusal(why: &ResolveError) -> String {
    match why {
        ResolveError::UntrustedLink { link, target } => format!(
            "{} is a symbolic link (to {}) that someone other than root could have placed (an \
             agent may have planted it), so mycelium does not follow it: name the directory \
             it points to, kept outside every workspace",
            link.display(),
            target.display()
        ),
        ResolveError::NotFileOrDir { path, kind } => {
            format!("{} is a {kind}, not a directory", path.display())
        }
        other => other.to_string(),
    }
}

/// Find one agent by name.
///
/// # Errors
/// As [`discover`], [`RegistryError::Duplicate`] when more than one file defines `name`,
/// and [`RegistryError::NotFound`] listing the directories searched.
pub fn find(search: &SearchPath, name: &str) -> Result<AgentEntry, RegistryError> {
    if !is_valid_name(name) {
        return Err(RegistryError::BadName { name: name.into() });
    }
    let found = discover(search)?;
    if let Some(d) = found.duplicates.iter().find(|d| d.name == name) {
        return Err(d.error());
    }
    found
        .agents
        .into_iter()
        .find(|a| a.name == name)
        .ok_or_else(|| RegistryError::NotFound {
            name: name.into(),
            searched: search.dirs.clone(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn names() {
        for ok in ["a", "code-reviewer", "v1.2_x", "A9"] {
            assert!(is_valid_name(ok), "{ok}");
        }
        for bad in ["", "-a", ".a", "a b", "a/b", "é", &"a".repeat(65)] {
            assert!(!is_valid_name(bad), "{bad}");
        }
    }

    #[test]
    fn order_dedup_and_duplicates() {
        let t = tempfile::tempdir().unwrap();
        let cwd = t.path().join("cwd");
        let home = t.path().join("home");
        let extra = t.path().join("extra");
        for d in [cwd.join("policies"), home.join("policies"), extra.clone()] {
            std::fs::create_dir_all(d).unwrap();
        }
        std::fs::write(extra.join("a.toml"), "").unwrap();
        std::fs::write(extra.join("bad name.toml"), "").unwrap();
        std::fs::write(extra.join("notes.md"), "").unwrap();
        std::fs::write(home.join("policies/c.toml"), "").unwrap();
        // Never searched: the current directory's policies/.
        std::fs::write(cwd.join("policies/b.toml"), "").unwrap();
        let sp = SearchPath::new(Some(&extra), &cwd, &home);
        assert_eq!(sp.dirs, vec![extra.clone(), home.join("policies")]);
        let d = discover(&sp).unwrap();
        let names: Vec<_> = d.agents.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, vec!["a", "c"]);
        assert_eq!(d.skipped.len(), 1);

        // A clash: the name is refused, every other agent is still listed and found.
        std::fs::write(home.join("policies/a.toml"), "").unwrap();
        std::fs::write(extra.join("b.toml"), "").unwrap();
        let d = discover(&sp).unwrap();
        let names: Vec<_> = d.agents.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, vec!["b", "c"]);
        assert_eq!(d.duplicates.len(), 1);
        let e = find(&sp, "a").unwrap_err().to_string();
        assert!(
            e.contains("extra/a.toml") && e.contains("home/policies/a.toml"),
            "{e}"
        );
        assert_eq!(find(&sp, "b").unwrap().policy_path, extra.join("b.toml"));
    }

    #[test]
    fn the_current_directory_is_never_searched() {
        let t = tempfile::tempdir().unwrap();
        let cwd = t.path().join("project");
        let home = t.path().join("home");
        std::fs::create_dir_all(cwd.join("policies")).unwrap();
        std::fs::write(cwd.join("policies/x.toml"), "").unwrap();
        let sp = SearchPath::new(None, &cwd, &home);
        assert_eq!(sp.dirs, vec![home.join("policies")]);
        assert!(discover(&sp).unwrap().agents.is_empty());
        let e = find(&sp, "x").unwrap_err().to_string();
        assert_eq!(
            e,
            format!(
                "no agent \"x\": looked for x.toml in {}",
                home.join("policies").display()
            )
        );
        // Named explicitly (relative to the current directory), it is searched.
        let sp = SearchPath::new(Some(Path::new("policies")), &cwd, &home);
        assert_eq!(
            find(&sp, "x").unwrap().policy_path,
            cwd.join("policies/x.toml")
        );
    }

    #[test]
    fn same_directory_twice_counts_once() {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(t.path().join("policies")).unwrap();
        std::fs::write(t.path().join("policies/a.toml"), "").unwrap();
        // --policies $MYCELIUM_HOME/policies: one directory.
        let sp = SearchPath::new(Some(&t.path().join("policies")), t.path(), t.path());
        assert_eq!(sp.dirs.len(), 1);
        assert_eq!(discover(&sp).unwrap().agents.len(), 1);
    }

    #[test]
    fn an_explicit_directory_through_a_link_anyone_could_plant_is_refused() {
        let t = tempfile::tempdir().unwrap();
        let real = t.path().join("real");
        std::fs::create_dir_all(&real).unwrap();
        std::fs::write(real.join("x.toml"), "").unwrap();
        // Two links only root could not have placed: one in a directory others may write
        // (the link's owner does not matter there), one owned by another user (when the
        // test runs as root: otherwise it is the test's own, not root's).
        let open = t.path().join("open");
        let owned = t.path().join("owned");
        std::fs::create_dir_all(&open).unwrap();
        std::fs::create_dir_all(&owned).unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
        std::os::unix::fs::symlink(&real, open.join("link")).unwrap();
        std::os::unix::fs::symlink(&real, owned.join("link")).unwrap();
        if nix::unistd::geteuid().is_root() {
            std::os::unix::fs::lchown(owned.join("link"), Some(65534), Some(65534)).unwrap();
        }
        for (link, given) in [
            (open.join("link"), open.join("link")),
            (owned.join("link"), owned.join("link")),
            (owned.join("link"), owned.join("link/../link")),
            (open.join("link"), open.join("link/sub/..")),
        ] {
            let sp = SearchPath::new(Some(&given), t.path(), &t.path().join("home"));
            assert_eq!(sp.dirs, vec![t.path().join("home/policies")], "{given:?}");
            let e = discover(&sp).unwrap_err();
            assert!(matches!(e, RegistryError::UnsafeDir { .. }), "{e}");
            assert_eq!(
                e.to_string(),
                format!(
                    "policy directory {} cannot be searched: {} is a symbolic link (to {}) that \
                     someone other than root could have placed (an agent may have planted it), \
                     so mycelium does not follow it: name the directory it points to, kept \
                     outside every workspace (check --policies or MYCELIUM_POLICIES)",
                    given.display(),
                    link.display(),
                    real.display()
                )
            );
            assert!(find(&sp, "x").is_err());
            // Still kept out of every sandbox.
            assert!(sp.protected().contains(&given));
        }
        std::os::unix::fs::symlink(&real, t.path().join("sub-link")).unwrap();
        let sp = SearchPath::new(Some(&t.path().join("sub-link/x.toml")), t.path(), t.path());
        assert!(matches!(
            discover(&sp),
            Err(RegistryError::UnsafeDir { .. })
        ));
        // The directory itself, named by its own path: found.
        let sp = SearchPath::new(Some(&real), t.path(), &t.path().join("home"));
        assert_eq!(find(&sp, "x").unwrap().policy_path, real.join("x.toml"));
        // A file is not a directory.
        let sp = SearchPath::new(Some(&real.join("x.toml")), t.path(), t.path());
        let e = discover(&sp).unwrap_err().to_string();
        assert!(
            e.ends_with(
                "x.toml is a regular file, not a directory (check --policies or MYCELIUM_POLICIES)"
            ),
            "{e}"
        );
    }

    #[test]
    fn an_explicit_directory_through_a_root_only_link_is_followed_once() {
        // /bin -> usr/bin on merged-/usr systems: root's link in a root-only directory.
        let Ok(target) = std::fs::read_link("/bin") else {
            return;
        };
        let sp = SearchPath::new(
            Some(Path::new("/bin")),
            Path::new("/"),
            Path::new("/nonexistent"),
        );
        assert_eq!(sp.dirs[0], Path::new("/").join(target));
        assert!(discover(&sp).is_ok());
    }

    #[test]
    fn missing_explicit_dir_is_an_error() {
        let t = tempfile::tempdir().unwrap();
        let sp = SearchPath::new(Some(&t.path().join("nope")), t.path(), t.path());
        assert!(matches!(
            discover(&sp),
            Err(RegistryError::MissingDir { .. })
        ));
    }
}
