//! Environment scrubbing: what the agent inherits, and which values must be redacted.
//!
//! The agent starts from nothing. It gets a fixed safe set (`PATH`, `HOME` inside the
//! sandbox, and the exact names of [`SAFE_NAMES`]: locale, `TERM`, `TZ`, each only when its
//! value has the shape its name promises, [`env_shape`]), then the policy's
//! `pass` (exact names, never patterns) and `set`. Variables the block-list
//! ([`crate::policy::env_secrets`]: names, name shapes in any spelling, and values holding
//! a URL with a password) calls sensitive are withheld even when `pass` names them, unless
//! the policy lists them in `allow_secrets`. Every sensitive value found in the caller's
//! environment is returned as [`Withheld`] so the sanitizer can redact it if it ever shows
//! up in output. This is pure code: it reads no process state of its own.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use super::env_shape;

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
    /// Sensitive values the agent has because the policy lists them in `allow_secrets`:
    /// still never to be shown in its output.
    pub passed_secrets: Vec<Withheld>,
}

impl ScrubbedEnv {
    /// Every sensitive value of the caller's environment, withheld or passed: what the
    /// output sanitizer redacts by value.
    pub fn secrets(&self) -> impl Iterator<Item = &Withheld> {
        self.withheld.iter().chain(&self.passed_secrets)
    }
}

/// Build the agent's environment from the caller's and the policy.
///
/// `home` is `HOME` inside the sandbox; `is_file` says whether a host path is a file (the
/// time-zone and terminfo files a fixed-list value names, [`env_shape`]).
#[must_use]
pub fn scrub<'a>(
    caller: impl IntoIterator<Item = (&'a str, &'a str)>,
    policy: &EnvPolicy,
    home: &str,
    is_file: &dyn Fn(&Path) -> bool,
) -> ScrubbedEnv {
    let caller: BTreeMap<&str, &str> = caller.into_iter().collect();
    // Why a caller's variable must not reach the agent: the block-list (name or value),
    // or, for a fixed-list name the policy did not ask for by name, a value without the
    // shape of a locale, time zone or terminal type (a token carried in `LANG` over ssh).
    let reason = |name: &str, value: &str| {
        sensitive_reason(name, value).or_else(|| {
            (SAFE_NAMES.contains(&name) && !policy.pass.iter().any(|p| p == name))
                .then(|| env_shape::shape_reason(name, value, is_file))
                .flatten()
        })
    };
    let mut agent = BTreeMap::new();
    agent.insert("PATH".to_string(), SAFE_PATH.to_string());
    agent.insert("HOME".to_string(), home.to_string());
    // Locale, terminal type and time zone change how output looks, never what is reachable.
    // Exact names only: a prefix such as `LC_` would pass any variable a caller names
    // `LC_<anything>` (`LC_DEPLOY_TOKEN`), and the block-list is still applied on top.
    for (name, value) in &caller {
        if SAFE_NAMES.contains(name) && reason(name, value).is_none() {
            agent.insert((*name).to_string(), (*value).to_string());
        }
    }
    agent
        .entry("LANG".to_string())
        .or_insert_with(|| "C.UTF-8".to_string());

    let mut withheld = Vec::new();
    let mut passed_secrets = Vec::new();
    for (name, value) in &caller {
        if let Some(reason) = reason(name, value)
            && !value.is_empty()
        {
            let secret = Withheld {
                name: (*name).to_string(),
                value: (*value).to_string(),
                reason,
            };
            if policy.allow_secrets.iter().any(|a| a == name) {
                passed_secrets.push(secret);
            } else {
                withheld.push(secret);
            }
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
    ScrubbedEnv {
        agent,
        withheld,
        passed_secrets,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    /// A host with no time-zone or terminfo files.
    /// What reaches the agent, as name and value pairs in name order.
    fn passed(out: &ScrubbedEnv) -> Vec<(&str, &str)> {
        out.agent
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }

    fn no_files(_: &Path) -> bool {
        false
    }

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
        let out = scrub(caller, &policy, "/tmp", &no_files);
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
            ("LC_IDENTIFICATION", "en_US.UTF-8"),
            ("LC_DEPLOY_TOKEN", "lc-token-canary-0123456789"),
            ("LC_SECRET", "lc-secret-canary"),
            ("LC_FOO", "not a locale category"),
            ("LC_all", "lower-case is another name"),
            ("TERMINAL_PASSWORD", "hunter2-canary"),
        ];
        let out = scrub(caller, &EnvPolicy::default(), "/tmp", &no_files);
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
        let out = scrub(caller, &policy, "/tmp", &no_files);
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
        let out = scrub(caller.iter().copied(), &policy, "/tmp", &no_files);
        let agent = passed(&out);
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
        let out = scrub(caller, &policy, "/tmp", &no_files);
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

    /// A host with the zoneinfo and terminfo files the tests below name.
    fn some_files(p: &Path) -> bool {
        [
            "/usr/share/zoneinfo/Europe/Paris",
            "/lib/terminfo/x/xterm-256color",
            "/usr/share/terminfo/74/tmux-256color",
        ]
        .iter()
        .any(|f| Path::new(f) == p)
    }

    #[test]
    fn regression_fixed_list_values_pass_only_in_their_shape() {
        let caller = [
            ("LANG", "sk-ant-api03-xxxxxxxx"),
            ("LANGUAGE", "en:ghp_0123456789abcdefghij"),
            ("LC_MESSAGES", "ghp_0123456789abcdefghijklmn"),
            ("LC_IDENTIFICATION", "AKIAIOSFODNN7EXAMPLE"),
            ("LC_TIME", "en_GB.UTF-8"),
            ("TZ", "hf_abcdefghijklmnopqrstuvwxyz01"),
            ("TERM", "xoxb-123-abc"),
            ("COLORTERM", "xoxb-123-abc"),
            ("NO_COLOR", "glpat-0123456789"),
            ("EDITOR", "vi"),
        ];
        let out = scrub(caller, &EnvPolicy::default(), "/tmp", &some_files);
        let agent = passed(&out);
        assert_eq!(
            agent,
            vec![
                ("HOME", "/tmp"),
                ("LANG", "C.UTF-8"),
                ("LC_TIME", "en_GB.UTF-8"),
                ("PATH", SAFE_PATH),
            ]
        );
        let withheld: Vec<(&str, &str, &str)> = out
            .withheld
            .iter()
            .map(|w| (w.name.as_str(), w.value.as_str(), w.reason))
            .collect();
        assert_eq!(
            withheld,
            vec![
                (
                    "COLORTERM",
                    "xoxb-123-abc",
                    "its value does not look like a terminal colour setting"
                ),
                (
                    "LANG",
                    "sk-ant-api03-xxxxxxxx",
                    "its value does not look like a locale name"
                ),
                (
                    "LANGUAGE",
                    "en:ghp_0123456789abcdefghij",
                    "its value does not look like a list of locale names"
                ),
                (
                    "LC_IDENTIFICATION",
                    "AKIAIOSFODNN7EXAMPLE",
                    "its value does not look like a locale name"
                ),
                (
                    "LC_MESSAGES",
                    "ghp_0123456789abcdefghijklmn",
                    "its value does not look like a locale name"
                ),
                (
                    "NO_COLOR",
                    "glpat-0123456789",
                    "its value does not look like a colour preference"
                ),
                (
                    "TERM",
                    "xoxb-123-abc",
                    "its value does not look like a terminal type"
                ),
                (
                    "TZ",
                    "hf_abcdefghijklmnopqrstuvwxyz01",
                    "its value does not look like a time zone"
                ),
            ]
        );
    }

    #[test]
    fn fixed_list_values_in_their_shape_pass() {
        let caller = [
            ("LANG", "de_DE@euro"),
            ("LANGUAGE", "de_DE:de:en"),
            ("LC_ALL", "C.UTF-8"),
            ("LC_TIME", "sr_RS@latin"),
            ("TZ", "Europe/Paris"),
            ("TERM", "tmux-256color"),
            ("COLORTERM", "truecolor"),
            ("NO_COLOR", "1"),
        ];
        let out = scrub(caller, &EnvPolicy::default(), "/tmp", &some_files);
        let mut expected: BTreeMap<String, String> = caller
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        expected.insert("PATH".into(), SAFE_PATH.into());
        expected.insert("HOME".into(), "/tmp".into());
        assert_eq!(out.agent, expected);
        assert_eq!(out.withheld, vec![]);
        // The same TZ and TERM on a host without those files are withheld.
        let out = scrub(caller, &EnvPolicy::default(), "/tmp", &no_files);
        let withheld: Vec<&str> = out.withheld.iter().map(|w| w.name.as_str()).collect();
        assert_eq!(withheld, vec!["TERM", "TZ"]);
    }

    #[test]
    fn a_fixed_list_name_the_policy_passes_keeps_the_pass_rules() {
        let caller = [("TERM", "my-own-terminal"), ("LANG", "tok_XX.ghp_x@y")];
        let policy = EnvPolicy {
            pass: vec!["TERM".into()],
            ..EnvPolicy::default()
        };
        let out = scrub(caller, &policy, "/tmp", &no_files);
        assert_eq!(
            out.agent.get("TERM").map(String::as_str),
            Some("my-own-terminal")
        );
        // Positive twin: the one not named in `pass` is still judged by its shape.
        assert_eq!(out.agent.get("LANG").map(String::as_str), Some("C.UTF-8"));
        let withheld: Vec<&str> = out.withheld.iter().map(|w| w.name.as_str()).collect();
        assert_eq!(withheld, vec!["LANG"]);
    }
}
