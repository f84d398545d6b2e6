//! What changed since consent was given, in policy terms.
//!
//! A consent record keeps the agent's [`Terms`]: every setting of its policy, definition and
//! pinned files flattened to `key → value` (or `key → set of values`). Comparing the terms
//! recorded at consent with today's gives lines a person can judge —
//! `network.mode: none → host`, `filesystem.read_write: + /home/u/.ssh` — instead of
//! "the file was modified". Pure functions; nothing here reads a file.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::policy::{GrantPath, format_duration};
use crate::registry::{Checksum, LoadedAgent};

/// One setting's value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Term {
    /// A single value (`network.mode`).
    One(String),
    /// A set of values where order does not matter (`filesystem.read_only`).
    Many(Vec<String>),
}

/// Every setting of an agent, by key.
pub type Terms = BTreeMap<String, Term>;

/// One difference between the consented terms and today's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum Change {
    /// A single value changed, appeared (`from` is `None`) or disappeared (`to` is `None`).
    Set {
        /// The key.
        key: String,
        /// The consented value.
        from: Option<String>,
        /// Today's value.
        to: Option<String>,
    },
    /// An item was added to a set.
    Added {
        /// The key.
        key: String,
        /// The item.
        item: String,
    },
    /// An item was removed from a set.
    Removed {
        /// The key.
        key: String,
        /// The item.
        item: String,
    },
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Change::Set { key, from, to } => write!(
                f,
                "{key}: {} → {}",
                from.as_deref().unwrap_or("(not set)"),
                to.as_deref().unwrap_or("(not set)")
            ),
            Change::Added { key, item } => write!(f, "{key}: + {item}"),
            Change::Removed { key, item } => write!(f, "{key}: - {item}"),
        }
    }
}

/// The terms of a loaded agent.
#[must_use]
pub fn terms(agent: &LoadedAgent) -> Terms {
    let p = &agent.policy;
    let mut t = Terms::new();
    let one = |t: &mut Terms, k: &str, v: String| {
        t.insert(k.to_string(), Term::One(v));
    };
    let many = |t: &mut Terms, k: &str, v: Vec<String>| {
        t.insert(k.to_string(), Term::Many(v));
    };
    one(&mut t, "risk", p.risk().level.as_str().to_string());
    if let Some(d) = &p.agent.description {
        one(&mut t, "agent.description", d.clone());
    }
    if !p.agent.command.is_empty() {
        one(
            &mut t,
            "agent.command",
            serde_json::to_string(&p.agent.command).unwrap_or_default(),
        );
    }
    one(
        &mut t,
        "agent.task",
        serde_json::to_value(p.agent.task)
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_default(),
    );
    if let Some(d) = p.agent.timeout {
        one(&mut t, "agent.timeout", format_duration(d));
    }
    one(&mut t, "agent.uid", p.agent.uid.to_string());
    one(&mut t, "agent.gid", p.agent.gid.to_string());
    if let Some(d) = &p.agent.definition {
        one(&mut t, "agent.definition", d.display().to_string());
    }
    many(
        &mut t,
        "agent.pin",
        p.agent
            .pin
            .iter()
            .map(|x| x.display().to_string())
            .collect(),
    );
    let grant = |g: &crate::policy::Grant| {
        let s = match &g.path {
            GrantPath::Host(h) => h.display().to_string(),
            GrantPath::Workspace(_) => g.path.display(),
        };
        if g.optional {
            format!("{s} (if present)")
        } else {
            s
        }
    };
    many(
        &mut t,
        "filesystem.read_only",
        p.filesystem.read_only.iter().map(grant).collect(),
    );
    many(
        &mut t,
        "filesystem.read_write",
        p.filesystem.read_write.iter().map(grant).collect(),
    );
    many(
        &mut t,
        "filesystem.tmpfs",
        p.filesystem
            .tmpfs
            .iter()
            .map(|(k, v)| format!("{} ({v})", k.display()))
            .collect(),
    );
    one(&mut t, "network.mode", p.network.mode.as_str().to_string());
    let ports = |v: &Option<Vec<u16>>| match v {
        None => "any".to_string(),
        Some(v) if v.is_empty() => "none".to_string(),
        Some(v) => v
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", "),
    };
    one(&mut t, "network.tcp_connect", ports(&p.network.tcp_connect));
    one(&mut t, "network.tcp_bind", ports(&p.network.tcp_bind));
    many(&mut t, "env.pass", p.env.pass.clone());
    many(
        &mut t,
        "env.set",
        p.env.set.iter().map(|(k, v)| format!("{k}={v}")).collect(),
    );
    many(&mut t, "env.allow_secrets", p.env.allow_secrets.clone());
    let l = &p.limits;
    for (k, v) in [
        ("limits.memory", l.memory.map(|v| v.to_string())),
        ("limits.processes", l.processes.map(|v| v.to_string())),
        ("limits.open_files", l.open_files.map(|v| v.to_string())),
        ("limits.file_size", l.file_size.map(|v| v.to_string())),
        ("limits.cpu_time", l.cpu_time.map(format_duration)),
        ("limits.output", l.output.map(|v| v.to_string())),
        (
            "landlock.min_abi",
            p.landlock.min_abi.map(|v| v.to_string()),
        ),
    ] {
        if let Some(v) = v {
            one(&mut t, k, v);
        }
    }
    one(
        &mut t,
        "seccomp.profile",
        p.seccomp.profile.as_str().to_string(),
    );
    many(&mut t, "seccomp.allow", p.seccomp.allow.clone());
    many(&mut t, "seccomp.deny", p.seccomp.deny.clone());
    if let Some(d) = &agent.definition {
        if let Some(v) = &d.name {
            one(&mut t, "definition.name", v.clone());
        }
        if let Some(v) = &d.description {
            one(&mut t, "definition.description", v.clone());
        }
        if let Some(v) = &d.model {
            one(&mut t, "definition.model", v.clone());
        }
        many(&mut t, "definition.tools", d.tools.clone());
        one(
            &mut t,
            "definition.prompt",
            digest_text(d.prompt.as_bytes()),
        );
        one(&mut t, "definition.file", digest_text(&d.bytes));
    }
    for pin in &agent.pins {
        one(
            &mut t,
            &format!("pinned file {}", pin.path.display()),
            digest_text(pin.bytes()),
        );
    }
    t
}

/// `sha256:0123456789ab… (N bytes)`: enough to tell contents apart at a glance.
fn digest_text(bytes: &[u8]) -> String {
    format!(
        "{}… ({} bytes)",
        Checksum::of_bytes(bytes).short(12),
        bytes.len()
    )
}

/// The changes from `old` to `new`, in key order.
#[must_use]
pub fn diff(old: &Terms, new: &Terms) -> Vec<Change> {
    let keys: BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    let mut out = Vec::new();
    for key in keys {
        match (old.get(key), new.get(key)) {
            (Some(a), Some(b)) if a == b => {}
            (Some(Term::Many(a)), Some(Term::Many(b))) => set_diff(key, a, b, &mut out),
            (None, Some(Term::Many(b))) => set_diff(key, &[], b, &mut out),
            (Some(Term::Many(a)), None) => set_diff(key, a, &[], &mut out),
            (a, b) => out.push(Change::Set {
                key: key.clone(),
                from: a.map(render),
                to: b.map(render),
            }),
        }
    }
    out
}

fn set_diff(key: &str, old: &[String], new: &[String], out: &mut Vec<Change>) {
    for item in old.iter().filter(|i| !new.contains(i)) {
        out.push(Change::Removed {
            key: key.into(),
            item: item.clone(),
        });
    }
    for item in new.iter().filter(|i| !old.contains(i)) {
        out.push(Change::Added {
            key: key.into(),
            item: item.clone(),
        });
    }
}

fn render(t: &Term) -> String {
    match t {
        Term::One(s) => s.clone(),
        Term::Many(v) => format!("[{}]", v.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    fn terms_of(pairs: &[(&str, Term)]) -> Terms {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    #[test]
    fn changes_read_in_policy_terms() {
        let old = terms_of(&[
            ("network.mode", Term::One("none".into())),
            (
                "filesystem.read_write",
                Term::Many(vec!["{workspace}".into()]),
            ),
            ("limits.memory", Term::One("1G".into())),
        ]);
        let new = terms_of(&[
            ("network.mode", Term::One("host".into())),
            (
                "filesystem.read_write",
                Term::Many(vec!["{workspace}".into(), "/home/u/.ssh".into()]),
            ),
            ("env.allow_secrets", Term::Many(vec!["GITHUB_TOKEN".into()])),
        ]);
        let lines: Vec<String> = diff(&old, &new).iter().map(ToString::to_string).collect();
        assert_eq!(
            lines,
            vec![
                "env.allow_secrets: + GITHUB_TOKEN",
                "filesystem.read_write: + /home/u/.ssh",
                "limits.memory: 1G → (not set)",
                "network.mode: none → host",
            ]
        );
    }

    #[test]
    fn reordering_a_set_is_no_change() {
        let a = terms_of(&[("x", Term::Many(vec!["1".into(), "2".into()]))]);
        let b = terms_of(&[("x", Term::Many(vec!["2".into(), "1".into()]))]);
        assert_eq!(diff(&a, &b), vec![]);
    }

    #[test]
    fn removal_from_a_set() {
        let a = terms_of(&[("x", Term::Many(vec!["1".into(), "2".into()]))]);
        let b = terms_of(&[("x", Term::Many(vec!["2".into()]))]);
        assert_eq!(
            diff(&a, &b),
            vec![Change::Removed {
                key: "x".into(),
                item: "1".into()
            }]
        );
    }

    #[test]
    fn terms_round_trip_through_json() {
        let t = terms_of(&[
            ("a", Term::One("x".into())),
            ("b", Term::Many(vec!["y".into()])),
            ("c", Term::Many(vec![])),
        ]);
        let back: Terms = serde_json::from_str(&serde_json::to_string(&t).unwrap()).unwrap();
        assert_eq!(back, t);
    }
}
