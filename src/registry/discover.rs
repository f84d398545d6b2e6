//! Finding agents on the search path.
//!
//! An agent is a policy file `<name>.toml` in one of the search directories, in this order:
//! the directory given with `--policies` / `MYCELIUM_POLICIES`, `./policies`, then
//! `$MYCELIUM_HOME/policies`. The agent's name is the file's stem, so the name an MCP client
//! sees is the name a person finds on disk. A name found twice is reported as a clash naming
//! both files and that name cannot be used until one is renamed or removed — the search
//! path never silently shadows one agent with another — while every other agent stays
//! usable. This module only
//! lists directory entries; it reads no file contents.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::RegistryError;

/// The longest agent name accepted.
pub const MAX_NAME_LEN: usize = 64;

/// The ordered directories searched for policy files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchPath {
    /// Directories, most specific first; duplicates (same directory reached twice) removed.
    pub dirs: Vec<PathBuf>,
    /// The directory given explicitly, which must exist.
    pub explicit: Option<PathBuf>,
}

impl SearchPath {
    /// The search path: `explicit` (from `--policies` or `MYCELIUM_POLICIES`), then
    /// `cwd/policies`, then `home/policies` where `home` is `$MYCELIUM_HOME`.
    #[must_use]
    pub fn new(explicit: Option<&Path>, cwd: &Path, home: &Path) -> SearchPath {
        let abs = |p: &Path| {
            let joined = if p.is_absolute() {
                p.to_path_buf()
            } else {
                cwd.join(p)
            };
            // Resolving symlinks lets `./policies` and `$MYCELIUM_HOME/policies` that are the
            // same directory count once; a directory that does not exist stays as written.
            joined.canonicalize().unwrap_or(joined)
        };
        let explicit = explicit.map(abs);
        let mut dirs: Vec<PathBuf> = Vec::new();
        for d in explicit
            .iter()
            .cloned()
            .chain([abs(&cwd.join("policies")), abs(&home.join("policies"))])
        {
            if !dirs.contains(&d) {
                dirs.push(d);
            }
        }
        SearchPath { dirs, explicit }
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
/// [`RegistryError::ReadDir`] when a directory cannot be listed. Two files defining one
/// name are not an error here: they are listed in [`Discovery::duplicates`].
pub fn discover(search: &SearchPath) -> Result<Discovery, RegistryError> {
    if let Some(dir) = &search.explicit
        && !dir.is_dir()
    {
        return Err(RegistryError::MissingDir { dir: dir.clone() });
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
        std::fs::write(cwd.join("policies/b.toml"), "").unwrap();
        std::fs::write(cwd.join("policies/bad name.toml"), "").unwrap();
        std::fs::write(cwd.join("policies/notes.md"), "").unwrap();
        std::fs::write(home.join("policies/c.toml"), "").unwrap();
        let sp = SearchPath::new(Some(&extra), &cwd, &home);
        assert_eq!(sp.dirs.len(), 3);
        let d = discover(&sp).unwrap();
        let names: Vec<_> = d.agents.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, vec!["a", "b", "c"]);
        assert_eq!(d.skipped.len(), 1);

        // A clash: the name is refused, every other agent is still listed and found.
        std::fs::write(home.join("policies/a.toml"), "").unwrap();
        let d = discover(&sp).unwrap();
        let names: Vec<_> = d.agents.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, vec!["b", "c"]);
        assert_eq!(d.duplicates.len(), 1);
        let e = find(&sp, "a").unwrap_err().to_string();
        assert!(
            e.contains("extra/a.toml") && e.contains("home/policies/a.toml"),
            "{e}"
        );
        assert_eq!(find(&sp, "b").unwrap().name, "b");
    }

    #[test]
    fn same_directory_twice_counts_once() {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(t.path().join("policies")).unwrap();
        std::fs::write(t.path().join("policies/a.toml"), "").unwrap();
        // cwd == $MYCELIUM_HOME: ./policies and $MYCELIUM_HOME/policies are one directory.
        let sp = SearchPath::new(None, t.path(), t.path());
        assert_eq!(sp.dirs.len(), 1);
        assert_eq!(discover(&sp).unwrap().agents.len(), 1);
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
