//! A policy in plain words: what the agent can read, write, reach and inherit.
//!
//! The same [`Explanation`] feeds `policy explain` (text or JSON) and the consent prompt, so
//! what a human approves is exactly what is described here.

use std::fmt;

use serde::Serialize;

use super::env_secrets::name_reason;
use super::{NetworkMode, Policy, Risk, format_duration};
use crate::isolation::env::SAFE_PATH;

/// A policy described for a person.
#[derive(Debug, Clone, Serialize)]
pub struct Explanation {
    /// The policy file.
    pub file: String,
    /// `[agent] description`.
    pub description: Option<String>,
    /// The program, if the policy names one.
    pub command: Vec<String>,
    /// Paths readable (and executable), nothing else of the host is visible.
    pub reads: Vec<String>,
    /// Paths writable.
    pub writes: Vec<String>,
    /// Private scratch space, discarded at exit.
    pub scratch: Vec<String>,
    /// What the network allows.
    pub network: String,
    /// Variables the agent inherits or is given.
    pub inherits: Vec<String>,
    /// Variables the policy asks for that are withheld because they are sensitive.
    pub withheld: Vec<String>,
    /// Resource limits.
    pub limits: Vec<String>,
    /// The system-call filter.
    pub syscalls: String,
    /// The computed risk.
    pub risk: Risk,
}

/// Describe a policy.
#[must_use]
pub fn explain(policy: &Policy) -> Explanation {
    let grant = |g: &super::Grant| {
        let mut s = g.path.display();
        if g.optional {
            s.push_str(" (if present)");
        }
        s
    };
    let network = match policy.network.mode {
        NetworkMode::None => "nothing: no network interface at all".to_string(),
        NetworkMode::Loopback => {
            "only its own loopback (127.0.0.1 inside the sandbox); the host's services are not reachable".to_string()
        }
        NetworkMode::Host => {
            let ports = |p: &Option<Vec<u16>>| match p {
                None => "any port".to_string(),
                Some(v) if v.is_empty() => "no port".to_string(),
                Some(v) => v.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "),
            };
            format!(
                "the host's network: TCP connect to {}, TCP bind to {}",
                ports(&policy.network.tcp_connect),
                ports(&policy.network.tcp_bind)
            )
        }
    };
    let mut inherits = vec![
        format!("PATH={SAFE_PATH}"),
        "HOME, LANG, LANGUAGE, LC_ALL and the other locale categories, TERM, TZ, COLORTERM, NO_COLOR (each only when its value looks like a locale, terminal type or time zone)".to_string(),
    ];
    let mut withheld = Vec::new();
    for name in &policy.env.pass {
        match name_reason(name) {
            Some(why) if !policy.env.allow_secrets.contains(name) => {
                withheld.push(format!(
                    "{name} ({why}; list it in env.allow_secrets to pass it)"
                ));
            }
            _ => inherits.push(format!("{name} from the caller")),
        }
    }
    for name in &policy.env.allow_secrets {
        inherits.push(format!(
            "{name} from the caller (sensitive, explicitly allowed)"
        ));
    }
    for (name, value) in &policy.env.set {
        inherits.push(format!("{name}={value}"));
    }
    let l = &policy.limits;
    let mut limits = Vec::new();
    if let Some(v) = l.memory {
        limits.push(format!("memory {v}"));
    }
    if let Some(v) = l.processes {
        limits.push(format!("{v} processes"));
    }
    if let Some(v) = l.open_files {
        limits.push(format!("{v} open files"));
    }
    if let Some(v) = l.file_size {
        limits.push(format!("files up to {v}"));
    }
    if let Some(v) = l.cpu_time {
        limits.push(format!("CPU time {}", format_duration(v)));
    }
    if let Some(v) = policy.agent.timeout {
        limits.push(format!("wall clock {}", format_duration(v)));
    }
    if let Some(v) = l.output {
        limits.push(format!("output kept up to {v}"));
    }
    let mut syscalls = format!("seccomp profile {:?}", policy.seccomp.profile.as_str());
    if !policy.seccomp.allow.is_empty() {
        syscalls.push_str(&format!(
            ", also allowing {}",
            policy.seccomp.allow.join(", ")
        ));
    }
    if !policy.seccomp.deny.is_empty() {
        syscalls.push_str(&format!(
            ", also denying {}",
            policy.seccomp.deny.join(", ")
        ));
    }
    Explanation {
        file: policy.path.display().to_string(),
        description: policy.agent.description.clone(),
        command: policy.agent.command.clone(),
        reads: policy.filesystem.read_only.iter().map(grant).collect(),
        writes: policy.filesystem.read_write.iter().map(grant).collect(),
        scratch: policy
            .filesystem
            .tmpfs
            .iter()
            .map(|(p, s)| format!("{} ({s}, in memory, discarded at exit)", p.display()))
            .collect(),
        network,
        inherits,
        withheld,
        limits,
        syscalls,
        risk: policy.risk(),
    }
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |f: &mut fmt::Formatter<'_>, title: &str, items: &[String], empty: &str| {
            writeln!(f, "{title}")?;
            if items.is_empty() {
                writeln!(f, "  {empty}")
            } else {
                items.iter().try_for_each(|i| writeln!(f, "  - {i}"))
            }
        };
        writeln!(f, "Policy {}", self.file)?;
        if let Some(d) = &self.description {
            writeln!(f, "  {d}")?;
        }
        if !self.command.is_empty() {
            writeln!(f, "  runs: {}", self.command.join(" "))?;
        }
        writeln!(f)?;
        writeln!(f, "Risk: {}", self.risk.level.as_str().to_uppercase())?;
        if self.risk.reasons.is_empty() {
            writeln!(f, "  - reads only what is listed, no network, no secrets")?;
        }
        for r in &self.risk.reasons {
            writeln!(f, "  - [{}] {}", r.level, r.text)?;
        }
        writeln!(f)?;
        list(
            f,
            "Can read (and run), nothing else of the host is visible:",
            &self.reads,
            "nothing from the host",
        )?;
        list(f, "Can write:", &self.writes, "nothing on the host")?;
        list(f, "Private scratch space:", &self.scratch, "none")?;
        writeln!(f, "Can reach:\n  {}", self.network)?;
        list(f, "Inherits:", &self.inherits, "nothing")?;
        if !self.withheld.is_empty() {
            list(f, "Asked for but withheld (sensitive):", &self.withheld, "")?;
        }
        list(f, "Limits:", &self.limits, "none beyond the sandbox's own")?;
        writeln!(f, "System calls:\n  {}", self.syscalls)
    }
}
