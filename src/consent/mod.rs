//! Consent: a human's recorded decision to let one agent, exactly as it is now, run.
//!
//! A grant is bound to the agent's consent checksum (policy + definition + pinned files,
//! see `registry::checksum`); any change to any of them makes it invalid until a human
//! grants again, and the prompt then shows what changed ([`diff`]). Decisions live in a
//! store that fails closed ([`store`]); [`ConsentManager`] is the only way to read or change
//! them. Consent comes from a person at a terminal ([`prompt`]) or an explicit `--yes` on
//! the command line — never from the agent, and never from an MCP tool argument.

pub mod catalog;
pub mod diff;
pub mod manager;
pub mod prompt;
pub mod store;

use std::path::{Path, PathBuf};

use serde::Deserialize;

pub use diff::{Change, Term, Terms};
pub use manager::{ConsentManager, Revoked, Status};
pub use store::{ConsentRecord, ConsentStore, Denial, Grantor, StoreData};

use crate::policy::RiskLevel;

/// The configuration file inside `$MYCELIUM_HOME`.
pub const CONFIG_FILE: &str = "config.toml";

/// Why a consent operation failed. Whatever the variant, nothing was granted.
#[derive(Debug, thiserror::Error)]
pub enum ConsentError {
    /// A file or directory operation failed.
    #[error("cannot {op} {}", path.display())]
    Io {
        /// What was being done.
        op: &'static str,
        /// On what.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The store, its lock or its directory could be changed by someone else.
    #[error("refusing consent store {}: it {problem}; nothing is granted until this is fixed: {fix}", path.display())]
    Insecure {
        /// The file or directory.
        path: PathBuf,
        /// What is wrong.
        problem: String,
        /// What to do.
        fix: String,
    },
    /// The store does not parse or does not hold what it should.
    #[error(
        "consent store {} is damaged{}{}: {message}; it grants nothing until repaired. Run `mycelium consent reset` to move it aside (the old file is kept for inspection), then grant again",
        path.display(),
        if *line > 0 { format!(" at line {line}, column {column}") } else { String::new() },
        if key.is_empty() { String::new() } else { format!(" ({key})") }
    )]
    Corrupt {
        /// The store.
        path: PathBuf,
        /// 1-based line (0 when not tied to one).
        line: usize,
        /// 1-based column.
        column: usize,
        /// Key path inside the JSON, when known.
        key: String,
        /// What is wrong.
        message: String,
    },
    /// The store was written by a newer mycelium.
    #[error(
        "consent store {} has schema version {found}, but this mycelium reads version {}; use the newer mycelium, or run `mycelium consent reset` to start over (the old file is kept)",
        path.display(),
        store::SCHEMA_VERSION
    )]
    Version {
        /// The store.
        path: PathBuf,
        /// The version found.
        found: u32,
    },
    /// The agent is explicitly denied, so it cannot be granted.
    #[error(
        "agent {agent} is denied (since {since}, by {by}); run `mycelium consent revoke {agent}` to lift the denial first"
    )]
    Denied {
        /// The agent.
        agent: String,
        /// When it was denied.
        since: String,
        /// Who denied it.
        by: String,
    },
    /// `config.toml` is not valid.
    #[error("{}: {message}", path.display())]
    Config {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// `[consent]` in `$MYCELIUM_HOME/config.toml`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConsentConfig {
    /// Agents at or above this risk need a recorded consent to run. Default: medium.
    pub required_at: RiskLevel,
}

impl Default for ConsentConfig {
    fn default() -> Self {
        ConsentConfig {
            required_at: RiskLevel::Medium,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConsentConfig {
    required_at: Option<String>,
}

impl ConsentConfig {
    /// Read `[consent]` from `home/config.toml`; other tables belong to other modules and
    /// are not looked at. A missing file or table gives the defaults.
    ///
    /// # Errors
    /// [`ConsentError::Config`] when the file is not valid TOML or `[consent]` has an
    /// unknown key or level, [`ConsentError::Insecure`] when others could write it (it
    /// decides who is asked), [`ConsentError::Io`] when it cannot be read.
    pub fn load(home: &Path) -> Result<ConsentConfig, ConsentError> {
        let path = home.join(CONFIG_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(ConsentConfig::default());
            }
            Err(source) => {
                return Err(ConsentError::Io {
                    op: "read",
                    path,
                    source,
                });
            }
        };
        let meta = std::fs::metadata(&path).map_err(|source| ConsentError::Io {
            op: "inspect",
            path: path.clone(),
            source,
        })?;
        {
            use std::os::unix::fs::MetadataExt;
            let me = nix::unistd::geteuid().as_raw();
            if meta.uid() != me || meta.mode() & 0o022 != 0 {
                return Err(ConsentError::Insecure {
                    problem: "(the configuration deciding when consent is needed) can be changed by another user".into(),
                    fix: format!("`chown {me} {0}` and `chmod 600 {0}`", path.display()),
                    path,
                });
            }
        }
        let config = |message: String| ConsentError::Config {
            path: path.clone(),
            message,
        };
        let table: toml::Table = toml::from_str(&text).map_err(|e| config(e.to_string()))?;
        let Some(section) = table.get("consent") else {
            return Ok(ConsentConfig::default());
        };
        let raw: RawConsentConfig = section
            .clone()
            .try_into()
            .map_err(|e: toml::de::Error| config(format!("[consent]: {}", e.message())))?;
        let mut out = ConsentConfig::default();
        if let Some(level) = raw.required_at {
            out.required_at = RiskLevel::parse(&level).ok_or_else(|| {
                config(format!(
                    "consent.required_at = {level:?}: expected \"low\", \"medium\" or \"high\""
                ))
            })?;
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn write(dir: &Path, text: &str) {
        let p = dir.join(CONFIG_FILE);
        std::fs::write(&p, text).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
    }

    #[test]
    fn config_defaults_and_override() {
        let t = tempfile::tempdir().unwrap();
        assert_eq!(
            ConsentConfig::load(t.path()).unwrap().required_at,
            RiskLevel::Medium
        );
        write(t.path(), "[other]\nx = 1\n");
        assert_eq!(
            ConsentConfig::load(t.path()).unwrap().required_at,
            RiskLevel::Medium
        );
        write(t.path(), "[consent]\nrequired_at = \"low\"\n");
        assert_eq!(
            ConsentConfig::load(t.path()).unwrap().required_at,
            RiskLevel::Low
        );
    }

    #[test]
    fn config_errors() {
        let t = tempfile::tempdir().unwrap();
        write(t.path(), "[consent]\nrequired_at = \"never\"\n");
        assert!(ConsentConfig::load(t.path()).is_err());
        write(t.path(), "[consent]\nrequire_at = \"low\"\n");
        assert!(ConsentConfig::load(t.path()).is_err());
        let p = t.path().join(CONFIG_FILE);
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o666)).unwrap();
        assert!(matches!(
            ConsentConfig::load(t.path()),
            Err(ConsentError::Insecure { .. })
        ));
    }
}
