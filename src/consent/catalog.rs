//! The agents on the search path as a front end lists them (`mycelium agents`, the MCP
//! tool `list_agents`): each loaded once, with its risk and its consent state, read from one
//! reading of the consent store.

use crate::policy::{LoadOptions, Risk};
use crate::registry::{self, AgentEntry, Checksum, Discovery, RegistryError, SearchPath};

use super::{ConsentError, ConsentManager};

/// One agent of the listing.
#[derive(Debug)]
pub struct Listed {
    /// Where it was found.
    pub entry: AgentEntry,
    /// What loading it found, or why it could not be loaded (in words).
    pub agent: Result<Summary, String>,
}

/// What a listing shows of an agent that loaded.
#[derive(Debug)]
pub struct Summary {
    /// The one-line description (the policy's, else the definition's).
    pub description: Option<String>,
    /// The definition file, when there is one.
    pub definition: Option<std::path::PathBuf>,
    /// Its risk, with the reasons.
    pub risk: Risk,
    /// The consent checksum.
    pub checksum: Checksum,
    /// Whether it runs in a `{workspace}`.
    pub needs_workspace: bool,
    /// The consent state's label (`granted`, `not-required`, `missing`, `changed`,
    /// `expired`, `denied`), or `unknown` when the store could not be read.
    pub consent: &'static str,
}

/// The whole listing.
#[derive(Debug)]
pub struct Catalog {
    /// Every agent found, in search-path order.
    pub agents: Vec<Listed>,
    /// What discovery skipped and the names defined twice.
    pub discovery: Discovery,
    /// Why the consent store could not be read (every state is then `unknown`; a damaged
    /// store is never taken as empty).
    pub store_error: Option<ConsentError>,
}

/// List the agents on `search`, loading each with `opts` and rating its consent with
/// `manager`.
///
/// # Errors
/// When the search path itself cannot be searched.
pub fn catalog(
    search: &SearchPath,
    opts: &LoadOptions,
    manager: &ConsentManager,
) -> Result<Catalog, RegistryError> {
    let mut discovery = registry::discover(search)?;
    let (store, store_error) = match manager.list() {
        Ok(d) => (Some(d), None),
        Err(e) => (None, Some(e)),
    };
    let now = jiff::Timestamp::now();
    let agents = std::mem::take(&mut discovery.agents)
        .into_iter()
        .map(|entry| {
            let agent = registry::load_agent(&entry, opts)
                .map(|agent| Summary {
                    description: agent.description().map(String::from),
                    definition: agent.definition.as_ref().map(|d| d.path.clone()),
                    risk: agent.policy.risk(),
                    checksum: agent.checksum,
                    needs_workspace: agent.policy.uses_workspace(),
                    consent: store.as_ref().map_or("unknown", |data| {
                        manager.status_in(data, &agent, now).label()
                    }),
                })
                .map_err(|e| format!("{:#}", anyhow::Error::from(e)));
            Listed { entry, agent }
        })
        .collect();
    Ok(Catalog {
        agents,
        discovery,
        store_error,
    })
}
