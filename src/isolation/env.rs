//! Environment scrubbing: what the agent inherits, and which values must be redacted.
//!
//! The agent starts from nothing. It gets a fixed safe set (`PATH`, `HOME` inside the
//! sandbox, and the exact names of [`SAFE_NAMES`]: locale, `TERM`, `TZ`), then the policy's
//! `pass` (exact names, never patterns) and `set`. Variables the block-list
//! ([`crate::policy::env_secrets`]: names, name shapes in any spelling, and values holding
//! a URL with a password) calls sensitive are withheld even when `pass` names them, unless
//! the policy lists them in `allow_secrets`. Every sensitive value found in the caller's
//! environment is returned as [`Withheld`] so the sanitizer can redact it if it ever shows
//! up in output. This is pure code: it reads no process state of its own.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::policy::EnvPolicy;
use crate::policy::env_secrets::sensitive_reason;

/// `PATH` inside every sandbox (the policy may override it with `set`).
pub const SAFE_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// The caller's variables every agent gets when the caller has them: the locale
/// (`LANG`, `LANGUAGE` and the thirteen `LC_*` categories of locale(7), no other `LC_*`
/// name), terminal type, colour preference and time zone. Each only changes how output
/// looks. Exact names: no prefix or pattern, so no secret can ride in under one.
pub const SAFE_NAMES: &[&str] = &[
    "LANG",
    "LANGUAGE",
    "LC_ALL",
    "LC_ADDRESS",
    "LC_COLLATE",
    "LC_CTYPE",
    "LC_IDENTIFICATION",
    "LC_MEASUREMENT",
    "LC_MESSAGES",
    "LC_MONETARY",
    "LC_NAME",
    "LC_NUMERIC",
    "LC_PAPER",
    "LC_TELEPHONE",
    "LC_TIME",
    "TERM",
    "TZ",
    "COLORTERM",
    "NO_COLOR",
];

/// A sensitive variable from the caller's environment that the agent did not get.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Withheld {
    /// The variable's name.
    pub name: String,
    /// Its value, for the sanitizer; never serialized.
    #[serde(skip)]
    pub value: String,
    /// Why it is sensitive.
    pub reason: &'static str,
}

/// The result of scrubbing.
#[derive(Debug, Clone, Default)]
pub struct ScrubbedEnv {
    /// Exactly what the agent's environment will be.
    pub agent: BTreeMap<String, String>,
    /// Sensitive values of the caller's environment the agent does not have.
    pub withheld: Vec<Withheld>,
}

/// Build the agent's environment from the caller's and the policy.
///
/// `home` is `HOME` inside the sandbox.
#[must_use]
pub fn scrub<'a>(
    caller: impl IntoIterator<Item = (&'a str, &'a str)>,
    policy: &EnvPolicy,
    home: &str,
) -> ScrubbedEnv {
    let caller: BTreeMap<&str, &str> = caller.into_iter().collect();
    let mut agent = BTreeMap::new();
    agent.insert("PATH".to_string(), SAFE_PATH.to_string());
    agent.insert("HOME".to_string(), home.to_string());
    // Locale, terminal type and time zone change how output looks, never what is reachable.
    // Exact names only: a prefix such as `LC_` would pass any variable a caller names
    // `LC_<anything>` (`LC_DEPLOY_TOKEN`), and the block-list is still applied on top.
    for (name, value) in &caller {
        if SAFE_NAMES.contains(name) && sensitive_reason(name, value).is_none() {
            agent.insert((*name).to_string(), (*value).to_string());
        }
    }
    agent
        .entry("LANG".to_string())
        .or_insert_with(|| "C.UTF-8".to_string());

    let mut withheld = Vec::new();
    for (name, value) in &caller {
        if let Some(reason) = sensitive_reason(name, value)
            && !policy.allow_secrets.iter().any(|a| a == name)
            && !value.is_empty()
        {
            withheld.push(Withheld {
                name: (*name).to_string(),
                value: (*value).to_string(),
                reason,
            });
        }
    }
    for name in policy.pass.iter().chain(&policy.allow_secrets) {
        if let Some(value) = caller.get(name.as_str())
            && (sensitive_reason(name, value).is_none() || policy.allow_secrets.contains(name))
        {
            agent.insert(name.clone(), (*value).to_string());
        }
    }
    for (name, value) in &policy.set {
        agent.insert(name.clone(), value.clone());
    }
    ScrubbedEnv { agent, withheld }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn scrub_starts_empty_and_withholds_secrets_even_when_passed() {
        let caller = [
            ("PATH", "/home/u/bin:/usr/bin"),
            ("HOME", "/home/u"),
            ("LANG", "en_US.UTF-8"),
            ("EDITOR", "vim"),
            ("FOO_TOKEN", "tok-123456789"),
            ("AWS_SECRET_ACCESS_KEY", "canary-aws-secret"),
            ("GITHUB_TOKEN", "ghp_allowed"),
            ("KEEP", "me"),
        ];
        let policy = EnvPolicy {
            pass: vec!["KEEP".into(), "FOO_TOKEN".into(), "MISSING".into()],
            set: [("PYTHONUNBUFFERED".to_string(), "1".to_string())].into(),
            allow_secrets: vec!["GITHUB_TOKEN".into()],
        };
        let out = scrub(caller, &policy, "/tmp");
        let expected: BTreeMap<String, String> = [
            ("PATH", SAFE_PATH),
            ("HOME", "/tmp"),
            ("LANG", "en_US.UTF-8"),
            ("KEEP", "me"),
            ("GITHUB_TOKEN", "ghp_allowed"),
            ("PYTHONUNBUFFERED", "1"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(out.agent, expected);
        let names: Vec<_> = out
            .withheld
            .iter()
            .map(|w| (w.name.as_str(), w.value.as_str()))
            .collect();
        assert_eq!(
            names,
            vec![
                ("AWS_SECRET_ACCESS_KEY", "canary-aws-secret"),
                ("FOO_TOKEN", "tok-123456789")
            ]
        );
    }

    #[test]
    fn only_the_locale_categories_pass_and_never_a_secret_named_like_one() {
        let caller = [
            ("LANG", "de_DE.UTF-8"),
            ("LC_ALL", "de_DE.UTF-8"),
            ("LC_TIME", "en_GB.UTF-8"),
            ("LC_IDENTIFICATION", "x"),
            ("LC_DEPLOY_TOKEN", "lc-token-canary-0123456789"),
            ("LC_SECRET", "lc-secret-canary"),
            ("LC_FOO", "not a locale category"),
            ("LC_all", "lower-case is another name"),
            ("TERMINAL_PASSWORD", "hunter2-canary"),
        ];
        let out = scrub(caller, &EnvPolicy::default(), "/tmp");
        let names: Vec<&str> = out.agent.keys().map(String::as_str).collect();
        assert_eq!(
            names,
            vec![
                "HOME",
                "LANG",
                "LC_ALL",
                "LC_IDENTIFICATION",
                "LC_TIME",
                "PATH"
            ]
        );
        let withheld: Vec<&str> = out.withheld.iter().map(|w| w.name.as_str()).collect();
        assert_eq!(
            withheld,
            vec!["LC_DEPLOY_TOKEN", "LC_SECRET", "TERMINAL_PASSWORD"]
        );
    }

    #[test]
    fn every_safe_name_is_a_real_one_and_none_is_sensitive() {
        assert_eq!(
            SAFE_NAMES.iter().filter(|n| n.starts_with("LC_")).count(),
            13
        );
        for n in SAFE_NAMES {
            assert_eq!(crate::policy::env_secrets::name_reason(n), None, "{n}");
        }
    }

    #[test]
    fn pass_is_exact_and_a_passed_secret_lc_name_is_withheld() {
        let caller = [
            ("LC_DEPLOY_TOKEN", "lc-token-canary-0123456789"),
            ("LC_FOO", "asked for by name"),
            ("MY_TOKEN", "my-token-canary-0123456789"),
            ("MY_NAME", "visible"),
        ];
        let policy = EnvPolicy {
            pass: vec![
                "LC_DEPLOY_TOKEN".into(),
                "LC_FOO".into(),
                "MY_TOKEN".into(),
                "MY_".into(),
                "MY_*".into(),
                "my_name".into(),
            ],
            ..EnvPolicy::default()
        };
        let out = scrub(caller, &policy, "/tmp");
        let names: Vec<&str> = out.agent.keys().map(String::as_str).collect();
        assert_eq!(names, vec!["HOME", "LANG", "LC_FOO", "PATH"]);
    }

    #[test]
    fn regression_credential_names_in_any_spelling_are_withheld_even_when_passed() {
        let six = [
            "SSHPASS",
            "CI_JOB_JWT",
            "npm_config__authToken",
            "BORG_PASSPHRASE",
            "GPG_PASSPHRASE",
            "SLACK_WEBHOOK_URL",
        ];
        let mut caller: Vec<(&str, &str)> = six.iter().map(|n| (*n, "canary-0123456789")).collect();
        caller.push(("EDITOR", "vi"));
        caller.push(("PIP_INDEX_URL", "https://u:pw@pypi.example/simple"));
        caller.push(("HTTP_PROXY", "http://proxy.example:3128"));
        let mut pass: Vec<String> = six.iter().map(ToString::to_string).collect();
        pass.extend(["EDITOR", "PIP_INDEX_URL", "HTTP_PROXY"].map(String::from));
        let policy = EnvPolicy {
            pass,
            ..EnvPolicy::default()
        };
        let out = scrub(caller.iter().copied(), &policy, "/tmp");
        let agent: Vec<(&str, &str)> = out
            .agent
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        // Positive twin: ordinary names, and a URL without a password, pass.
        assert_eq!(
            agent,
            vec![
                ("EDITOR", "vi"),
                ("HOME", "/tmp"),
                ("HTTP_PROXY", "http://proxy.example:3128"),
                ("LANG", "C.UTF-8"),
                ("PATH", SAFE_PATH),
            ]
        );
        let mut withheld: Vec<&str> = out.withheld.iter().map(|w| w.name.as_str()).collect();
        withheld.sort_unstable();
        let mut expected: Vec<&str> = six.to_vec();
        expected.push("PIP_INDEX_URL");
        expected.sort_unstable();
        assert_eq!(withheld, expected);
    }

    #[test]
    fn allow_secrets_still_passes_a_named_secret_and_a_url_with_a_password() {
        let caller = [
            ("npm_config__authToken", "npm-canary"),
            ("PIP_INDEX_URL", "https://u:pw@pypi.example/simple"),
            ("SSHPASS", "withheld-canary"),
        ];
        let policy = EnvPolicy {
            allow_secrets: vec!["npm_config__authToken".into(), "PIP_INDEX_URL".into()],
            ..EnvPolicy::default()
        };
        let out = scrub(caller, &policy, "/tmp");
        assert_eq!(
            out.agent.get("npm_config__authToken").map(String::as_str),
            Some("npm-canary")
        );
        assert_eq!(
            out.agent.get("PIP_INDEX_URL").map(String::as_str),
            Some("https://u:pw@pypi.example/simple")
        );
        assert_eq!(out.agent.get("SSHPASS"), None);
        let withheld: Vec<&str> = out.withheld.iter().map(|w| w.name.as_str()).collect();
        assert_eq!(withheld, ["SSHPASS"]);
    }
}
