//! `ConsentManager`: check, grant, revoke, deny and list consent.
//!
//! Every check reads the store afresh, so a revocation, denial or expiry written by any
//! process counts from the next check on, in every process. The order of precedence is
//! fixed: an explicit denial beats everything; then a grant whose checksum matches the
//! agent as loaded now and has not expired; then "not required" for agents below the
//! configured risk; otherwise consent is missing, changed or expired. A damaged store is
//! an error, never an empty store: it grants nothing.

use std::path::{Path, PathBuf};
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

use super::diff::{Change, diff, terms};
use super::store::{
    ConsentRecord, ConsentStore, Denial, Grantor, RecordedReason, RecordedRisk, Snapshot, StoreData,
};
use super::{ConsentConfig, ConsentError};
use crate::policy::RiskLevel;
use crate::registry::LoadedAgent;

/// Whether an agent may run now, and why.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Status {
    /// A valid grant for exactly this agent.
    Granted {
        /// The grant.
        record: Box<ConsentRecord>,
    },
    /// The agent's risk is below `consent.required_at`; no consent is needed.
    NotRequired {
        /// The agent's risk.
        level: RiskLevel,
        /// The configured threshold.
        required_at: RiskLevel,
    },
    /// Never granted (or revoked).
    Missing {
        /// The agent's risk.
        level: RiskLevel,
    },
    /// Granted for a different checksum: the policy, definition or a pinned file changed.
    Changed {
        /// The grant, as given.
        record: Box<ConsentRecord>,
        /// What changed since, in policy terms (empty when only comments or layout changed).
        changes: Vec<Change>,
    },
    /// Granted for this checksum, but the time is up.
    Expired {
        /// The grant.
        record: Box<ConsentRecord>,
    },
    /// Explicitly denied.
    Denied {
        /// The denial.
        denial: Denial,
    },
}

impl Status {
    /// Whether the agent may run.
    #[must_use]
    pub fn allows_run(&self) -> bool {
        matches!(self, Status::Granted { .. } | Status::NotRequired { .. })
    }

    /// One word for listings: `granted`, `not-required`, `missing`, `changed`, `expired`,
    /// `denied`.
    #[must_use]
    pub fn label(&self) -> &'static str {
        match self {
            Status::Granted { .. } => "granted",
            Status::NotRequired { .. } => "not-required",
            Status::Missing { .. } => "missing",
            Status::Changed { .. } => "changed",
            Status::Expired { .. } => "expired",
            Status::Denied { .. } => "denied",
        }
    }

    /// A sentence for people.
    #[must_use]
    pub fn describe(&self, agent: &str) -> String {
        match self {
            Status::Granted { record } => format!(
                "agent {agent}: consent granted on {} by {} (uid {}){}",
                when(record.granted_at),
                record.granted_by.user,
                record.granted_by.uid,
                record
                    .expires_at
                    .map(|e| format!(", expires {}", when(e)))
                    .unwrap_or_default()
            ),
            Status::NotRequired { level, required_at } => format!(
                "agent {agent}: risk {level} is below consent.required_at = {required_at}; no consent needed"
            ),
            Status::Missing { level } => format!(
                "agent {agent}: risk {level} needs consent, none given; run `mycelium consent grant {agent}`"
            ),
            Status::Changed { record, changes } => {
                let mut s = format!(
                    "agent {agent}: its policy, definition or a pinned file changed since consent was given on {} (for {}); run `mycelium consent grant {agent}` to review and consent again",
                    when(record.granted_at),
                    record.checksum
                );
                s.push_str(&render_changes(changes));
                s
            }
            Status::Expired { record } => format!(
                "agent {agent}: consent expired on {}; run `mycelium consent grant {agent}` to grant again",
                record.expires_at.map_or_else(|| "?".to_string(), when)
            ),
            Status::Denied { denial } => format!(
                "agent {agent}: denied on {} by {} (uid {}); `mycelium consent revoke {agent}` lifts the denial",
                when(denial.denied_at),
                denial.denied_by.user,
                denial.denied_by.uid
            ),
        }
    }
}

/// A time as people read it, to the second, in UTC (the store keeps full precision).
#[must_use]
pub fn when(t: Timestamp) -> String {
    t.strftime("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// The change list as indented lines after a heading, or a note when only text changed.
#[must_use]
pub fn render_changes(changes: &[Change]) -> String {
    if changes.is_empty() {
        return "\nwhat changed: no setting differs; the files' text changed (comments, layout, or a definition's unused keys)".into();
    }
    let mut s = String::from("\nwhat changed since consent:");
    for c in changes {
        s.push_str("\n  ");
        s.push_str(&c.to_string());
    }
    s
}

/// What `revoke` removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Revoked {
    /// A grant was removed.
    pub grant: bool,
    /// A denial was lifted.
    pub denial: bool,
}

/// Checks and records consent in one store.
#[derive(Debug, Clone)]
pub struct ConsentManager {
    store: ConsentStore,
    config: ConsentConfig,
}

impl ConsentManager {
    /// A manager for the store in `home` (`$MYCELIUM_HOME`) with the given configuration.
    #[must_use]
    pub fn new(home: &Path, config: ConsentConfig) -> ConsentManager {
        ConsentManager {
            store: ConsentStore::new(home),
            config,
        }
    }

    /// The store file.
    #[must_use]
    pub fn store_path(&self) -> PathBuf {
        self.store.path()
    }

    /// The configuration in force.
    #[must_use]
    pub fn config(&self) -> ConsentConfig {
        self.config
    }

    /// Whether `agent`, exactly as loaded, may run now.
    ///
    /// # Errors
    /// Any store error; the caller must treat it as "not allowed".
    pub fn check(&self, agent: &LoadedAgent) -> Result<Status, ConsentError> {
        let data = self.store.load()?;
        Ok(self.status_in(&data, agent, Timestamp::now()))
    }

    /// The status of `agent` in already-loaded store data, at time `now`.
    #[must_use]
    pub fn status_in(&self, data: &StoreData, agent: &LoadedAgent, now: Timestamp) -> Status {
        if let Some(denial) = data.denials.get(&agent.name) {
            return Status::Denied {
                denial: denial.clone(),
            };
        }
        let level = agent.policy.risk().level;
        let record = data.consents.get(&agent.name);
        let current = record.filter(|r| r.checksum == agent.checksum);
        if let Some(r) = current
            && r.expires_at.is_none_or(|e| now < e)
        {
            return Status::Granted {
                record: Box::new(r.clone()),
            };
        }
        if level < self.config.required_at {
            return Status::NotRequired {
                level,
                required_at: self.config.required_at,
            };
        }
        match record {
            None => Status::Missing { level },
            Some(r) if r.checksum == agent.checksum => Status::Expired {
                record: Box::new(r.clone()),
            },
            Some(r) => Status::Changed {
                record: Box::new(r.clone()),
                changes: diff(&r.snapshot.terms, &terms(agent)),
            },
        }
    }

    /// Record consent for `agent` exactly as loaded (its checksum), for `duration` or until
    /// revoked. Replaces any earlier grant for the same name.
    ///
    /// # Errors
    /// [`ConsentError::Denied`] when the agent is denied; any store error.
    pub fn grant(
        &self,
        agent: &LoadedAgent,
        duration: Option<Duration>,
        by: Grantor,
    ) -> Result<ConsentRecord, ConsentError> {
        let now = Timestamp::now();
        let expires_at = duration.map(|d| {
            SignedDuration::try_from(d)
                .ok()
                .and_then(|d| now.checked_add(d).ok())
                .unwrap_or(Timestamp::MAX)
        });
        let risk = agent.policy.risk();
        let record = ConsentRecord {
            agent: agent.name.clone(),
            checksum: agent.checksum,
            risk: RecordedRisk {
                level: risk.level,
                reasons: risk
                    .reasons
                    .into_iter()
                    .map(|r| RecordedReason {
                        level: r.level,
                        text: r.text,
                    })
                    .collect(),
            },
            granted_at: now,
            expires_at,
            granted_by: by,
            policy_path: agent.policy.path.clone(),
            definition_path: agent.definition.as_ref().map(|d| d.path.clone()),
            snapshot: Snapshot {
                policy: String::from_utf8_lossy(&agent.policy.bytes).into_owned(),
                terms: terms(agent),
            },
        };
        self.store.update(|data| {
            if let Some(d) = data.denials.get(&agent.name) {
                return Err(ConsentError::Denied {
                    agent: agent.name.clone(),
                    since: when(d.denied_at),
                    by: d.denied_by.user.clone(),
                });
            }
            data.consents.insert(agent.name.clone(), record.clone());
            Ok(())
        })?;
        Ok(record)
    }

    /// Remove the grant and lift any denial for `name`; the agent is asked about again.
    ///
    /// # Errors
    /// Any store error.
    pub fn revoke(&self, name: &str) -> Result<Revoked, ConsentError> {
        self.store.update(|data| {
            Ok(Revoked {
                grant: data.consents.remove(name).is_some(),
                denial: data.denials.remove(name).is_some(),
            })
        })
    }

    /// Deny `name`: any grant is removed and no grant is accepted until the denial is
    /// revoked. Works for names not (or no longer) on the search path.
    ///
    /// # Errors
    /// Any store error.
    pub fn deny(&self, name: &str, by: Grantor) -> Result<Denial, ConsentError> {
        let denial = Denial {
            agent: name.to_string(),
            denied_at: Timestamp::now(),
            denied_by: by,
        };
        self.store.update(|data| {
            data.consents.remove(name);
            data.denials.insert(name.to_string(), denial.clone());
            Ok(())
        })?;
        Ok(denial)
    }

    /// Every grant and denial on record.
    ///
    /// # Errors
    /// Any store error.
    pub fn list(&self) -> Result<StoreData, ConsentError> {
        self.store.load()
    }

    /// The grant on record for `name`, if any (for the re-consent diff).
    ///
    /// # Errors
    /// Any store error.
    pub fn record(&self, name: &str) -> Result<Option<ConsentRecord>, ConsentError> {
        Ok(self.store.load()?.consents.remove(name))
    }

    /// Move a damaged store aside (kept) so consent can be granted again.
    ///
    /// # Errors
    /// Any store error.
    pub fn reset(&self) -> Result<Option<PathBuf>, ConsentError> {
        self.store.reset()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::LoadOptions;
    use crate::registry::{AgentEntry, load_agent};

    /// A loaded agent from a policy written to a tempdir.
    fn agent(dir: &Path, name: &str, body: &str) -> LoadedAgent {
        let path = dir.join(format!("{name}.toml"));
        std::fs::write(&path, body).unwrap();
        let entry = AgentEntry {
            name: name.into(),
            policy_path: path,
        };
        load_agent(&entry, &LoadOptions::default()).unwrap()
    }

    const MEDIUM: &str = "version = 1\n[filesystem]\nread_write = [\"{workspace}\"]\n";
    const LOW: &str = "version = 1\n[filesystem]\nread_only = [\"/usr\"]\n";

    fn grantor() -> Grantor {
        Grantor {
            user: "t".into(),
            uid: 7,
        }
    }

    #[test]
    fn precedence_of_states() {
        let t = tempfile::tempdir().unwrap();
        let m = ConsentManager::new(&t.path().join("home"), ConsentConfig::default());
        let a = agent(t.path(), "a", MEDIUM);
        let now = Timestamp::now();
        let label = |data: &StoreData, at: Timestamp| m.status_in(data, &a, at).label();

        let mut data = StoreData::default();
        assert_eq!(label(&data, now), "missing");

        m.grant(&a, Some(Duration::from_secs(60)), grantor())
            .unwrap();
        data = m.list().unwrap();
        assert_eq!(label(&data, now), "granted");
        let later = now.checked_add(SignedDuration::from_secs(3600)).unwrap();
        assert_eq!(label(&data, later), "expired");

        // The same name with other bytes: changed, with the change in policy terms.
        let b = agent(
            t.path(),
            "a",
            &format!("{MEDIUM}[network]\nmode = \"host\"\n"),
        );
        match m.status_in(&data, &b, now) {
            Status::Changed { changes, .. } => {
                let lines: Vec<String> = changes.iter().map(ToString::to_string).collect();
                assert!(
                    lines.contains(&"network.mode: none → host".to_string()),
                    "{lines:?}"
                );
            }
            other => panic!("{other:?}"),
        }

        m.deny("a", grantor()).unwrap();
        data = m.list().unwrap();
        assert!(data.consents.is_empty(), "deny removes the grant");
        assert_eq!(label(&data, now), "denied");
        assert!(matches!(
            m.grant(&a, None, grantor()),
            Err(ConsentError::Denied { .. })
        ));

        assert_eq!(
            m.revoke("a").unwrap(),
            Revoked {
                grant: false,
                denial: true
            }
        );
        assert_eq!(label(&m.list().unwrap(), now), "missing");
    }

    #[test]
    fn low_risk_needs_no_consent_unless_configured_or_denied() {
        let t = tempfile::tempdir().unwrap();
        let home = t.path().join("home");
        let a = agent(t.path(), "low", LOW);
        let now = Timestamp::now();
        let m = ConsentManager::new(&home, ConsentConfig::default());
        assert_eq!(
            m.status_in(&StoreData::default(), &a, now).label(),
            "not-required"
        );
        let strict = ConsentManager::new(
            &home,
            ConsentConfig {
                required_at: RiskLevel::Low,
            },
        );
        assert_eq!(
            strict.status_in(&StoreData::default(), &a, now).label(),
            "missing"
        );
        m.deny("low", grantor()).unwrap();
        assert_eq!(m.status_in(&m.list().unwrap(), &a, now).label(), "denied");
    }
}
