//! Agents: finding them, loading their definition and policy, and the consent checksum.
//!
//! An agent is a policy file on the search path ([`discover()`]), an optional definition file
//! the policy names ([`definition`]), and the files the policy pins ([`pin`]). Loading an
//! agent reads each of these exactly once and computes the [`checksum::Checksum`] over the
//! same bytes that are parsed and kept — the invariant that makes consent mean something:
//! what was hashed is what runs. The registry never runs anything and never decides
//! whether consent is given; that is `consent`'s job.

pub mod checksum;
pub mod definition;
pub mod discover;
pub mod pin;

use std::path::PathBuf;

pub use checksum::Checksum;
pub use definition::{Definition, DefinitionError};
pub use discover::{
    AgentEntry, Discovery, Duplicate, SearchPath, Skipped, discover, find, is_valid_name,
};
pub use pin::PinnedFile;

use crate::policy::{LoadOptions, Policy, PolicyError};

/// Why agents could not be found or loaded.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The directory given with `--policies` / `MYCELIUM_POLICIES` does not exist.
    #[error("policy directory {} does not exist (check --policies or MYCELIUM_POLICIES)", dir.display())]
    MissingDir {
        /// The directory.
        dir: PathBuf,
    },
    /// The directory given with `--policies` / `MYCELIUM_POLICIES` is reached through a
    /// link an agent could have placed, or is not a directory.
    #[error("policy directory {} cannot be searched: {reason} (check --policies or MYCELIUM_POLICIES)", dir.display())]
    UnsafeDir {
        /// The directory, as given.
        dir: PathBuf,
        /// What is wrong, in words.
        reason: String,
    },
    /// A search directory exists but cannot be listed.
    #[error("cannot list policy directory {}", dir.display())]
    ReadDir {
        /// The directory.
        dir: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Two policy files define the same agent name.
    #[error(
        "agent {name:?} is defined twice: {} and {}; rename or remove one of them",
        first.display(),
        second.display()
    )]
    Duplicate {
        /// The name.
        name: String,
        /// The file found first on the search path.
        first: PathBuf,
        /// The other file.
        second: PathBuf,
    },
    /// No policy file on the search path has this name.
    #[error(
        "no agent {name:?}: looked for {name}.toml in {}",
        searched.iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(", ")
    )]
    NotFound {
        /// The name asked for.
        name: String,
        /// The directories searched.
        searched: Vec<PathBuf>,
    },
    /// The name asked for cannot be an agent name.
    #[error(
        "{name:?} is not a valid agent name (letters, digits, `.`, `_` or `-`, starting with a letter or digit)"
    )]
    BadName {
        /// The name.
        name: String,
    },
    /// The agent's policy file is missing or invalid.
    #[error("agent {name}: policy {} is not valid", path.display())]
    Policy {
        /// The agent.
        name: String,
        /// The policy file.
        path: PathBuf,
        /// Every problem, located.
        #[source]
        source: PolicyError,
    },
    /// The definition file named by the policy cannot be read.
    #[error("agent {name}: cannot read definition {}", path.display())]
    DefinitionRead {
        /// The agent.
        name: String,
        /// The definition file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The definition file is not valid.
    #[error("agent {name}: invalid definition")]
    Definition {
        /// The agent.
        name: String,
        /// What is wrong, located.
        #[source]
        source: DefinitionError,
    },
    /// The definition's `name` is not the agent's name (its policy file's stem).
    #[error(
        "agent {name}: definition {} says `name: {declared}`, but the agent is named after its policy file ({name}.toml); make them equal",
        path.display()
    )]
    NameMismatch {
        /// The agent's name.
        name: String,
        /// The name the definition declares.
        declared: String,
        /// The definition file.
        path: PathBuf,
    },
    /// A pinned file cannot be opened, read or copied.
    #[error("pinned file {}: {reason}", path.display())]
    Pin {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
}

/// An agent with everything the consent checksum covers read, parsed and kept.
#[derive(Debug)]
pub struct LoadedAgent {
    /// The agent's name (its policy file's stem).
    pub name: String,
    /// The policy, with the exact bytes that were hashed in [`Policy::bytes`].
    pub policy: Policy,
    /// The definition, with the exact bytes that were hashed.
    pub definition: Option<Definition>,
    /// The pinned files, open, in the policy's order. The launcher executes from these
    /// descriptors (see [`PinnedFile`]) so a file swapped after the check is never run.
    pub pins: Vec<PinnedFile>,
    /// The consent checksum over policy, definition and pins.
    pub checksum: Checksum,
}

impl LoadedAgent {
    /// The one-line description: the policy's, else the definition's.
    #[must_use]
    pub fn description(&self) -> Option<&str> {
        self.policy
            .agent
            .description
            .as_deref()
            .or_else(|| self.definition.as_ref()?.description.as_deref())
    }
}

/// Read a whole file through the resolver (no planted link followed, a regular file only).
fn read_file(path: &std::path::Path) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut crate::isolation::resolve::open_file(path)?, &mut bytes)?;
    Ok(bytes)
}

/// Load an agent: its policy (read once), its definition (read once), its pins (opened
/// once), and the checksum over exactly those bytes.
///
/// # Errors
/// A [`RegistryError`] naming the file at fault.
pub fn load_agent(entry: &AgentEntry, opts: &LoadOptions) -> Result<LoadedAgent, RegistryError> {
    let name = entry.name.clone();
    let policy =
        Policy::load(&entry.policy_path, opts).map_err(|source| RegistryError::Policy {
            name: name.clone(),
            path: entry.policy_path.clone(),
            source,
        })?;
    let definition = match &policy.agent.definition {
        None => None,
        Some(path) => {
            let bytes = read_file(path).map_err(|source| RegistryError::DefinitionRead {
                name: name.clone(),
                path: path.clone(),
                source,
            })?;
            let def =
                Definition::parse(path, bytes).map_err(|source| RegistryError::Definition {
                    name: name.clone(),
                    source,
                })?;
            if let Some(declared) = &def.name
                && *declared != name
            {
                return Err(RegistryError::NameMismatch {
                    name,
                    declared: declared.clone(),
                    path: path.clone(),
                });
            }
            Some(def)
        }
    };
    let pins = policy
        .agent
        .pin
        .iter()
        .map(|p| PinnedFile::open(p))
        .collect::<Result<Vec<_>, _>>()?;
    let checksum = checksum::consent_checksum(
        &policy.bytes,
        definition
            .as_ref()
            .map(|d| (d.path.as_path(), d.bytes.as_slice())),
        pins.iter().map(|p| (p.path.as_path(), p.bytes())),
    );
    Ok(LoadedAgent {
        name,
        policy,
        definition,
        pins,
        checksum,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup(def_name: &str) -> (tempfile::TempDir, AgentEntry) {
        let t = tempfile::tempdir().unwrap();
        let def = t.path().join("d.md");
        std::fs::write(&def, format!("---\nname: {def_name}\n---\nHi\n")).unwrap();
        let pin = t.path().join("p.sh");
        std::fs::write(&pin, "true\n").unwrap();
        let policy = t.path().join("rev.toml");
        std::fs::write(
            &policy,
            format!(
                "version = 1\n[agent]\ndefinition = \"{}\"\npin = [\"{}\"]\n",
                def.display(),
                pin.display()
            ),
        )
        .unwrap();
        let entry = AgentEntry {
            name: "rev".into(),
            policy_path: policy,
        };
        (t, entry)
    }

    #[test]
    fn checksum_covers_exactly_the_bytes_loaded() {
        let (_t, entry) = setup("rev");
        let a = load_agent(&entry, &LoadOptions::default()).unwrap();
        let def = a.definition.as_ref().unwrap();
        let expected = checksum::consent_checksum(
            &std::fs::read(&entry.policy_path).unwrap(),
            Some((
                def.path.as_path(),
                std::fs::read(&def.path).unwrap().as_slice(),
            )),
            [(a.pins[0].path.as_path(), &b"true\n"[..])],
        );
        assert_eq!(a.checksum, expected);
        assert_eq!(a.policy.bytes, std::fs::read(&entry.policy_path).unwrap());
    }

    #[test]
    fn definition_name_must_match_the_policy_stem() {
        let (_t, entry) = setup("someone-else");
        let e = load_agent(&entry, &LoadOptions::default()).unwrap_err();
        assert!(matches!(e, RegistryError::NameMismatch { .. }), "{e}");
        assert!(e.to_string().contains("rev.toml"), "{e}");
    }
}
