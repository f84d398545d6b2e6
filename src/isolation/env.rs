//! Environment scrubbing: what the agent inherits, and which values must be redacted.
//!
//! The agent starts from nothing. It gets a fixed safe set (`PATH`, `HOME` inside the
//! sandbox, and the exact names of [`SAFE_NAMES`]: locale, `TERM`, `TZ`), then the policy's
//! `pass` (exact names, never patterns) and `set`. Names on the
//! block-list below — exact names and patterns — are withheld even when `pass` names them,
//! unless the policy lists them in `allow_secrets`. Every sensitive value found in the
//! caller's environment is returned as [`Withheld`] so the sanitizer can redact it if it
//! ever shows up in output. This is pure code: it reads no process state of its own.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::policy::EnvPolicy;

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

/// Sensitive names, exactly; each with why it is withheld.
const BLOCKED_NAMES: &[(&str, &str)] = &[
    ("AWS_ACCESS_KEY_ID", "AWS credentials"),
    ("AWS_SECRET_ACCESS_KEY", "AWS credentials"),
    ("AWS_SESSION_TOKEN", "AWS credentials"),
    ("AWS_SECURITY_TOKEN", "AWS credentials (legacy name)"),
    (
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "points at an AWS identity token",
    ),
    (
        "GOOGLE_APPLICATION_CREDENTIALS",
        "points at a GCP service-account key",
    ),
    ("GOOGLE_API_KEY", "Google API key"),
    ("CLOUDSDK_AUTH_ACCESS_TOKEN", "gcloud access token"),
    ("AZURE_CLIENT_SECRET", "Azure service principal secret"),
    ("AZURE_STORAGE_KEY", "Azure storage account key"),
    (
        "AZURE_STORAGE_CONNECTION_STRING",
        "Azure storage credentials",
    ),
    (
        "ARM_CLIENT_SECRET",
        "Azure (Terraform) service principal secret",
    ),
    ("DIGITALOCEAN_ACCESS_TOKEN", "DigitalOcean API token"),
    ("HEROKU_API_KEY", "Heroku API key"),
    (
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
        "Alibaba Cloud credentials",
    ),
    ("GITHUB_TOKEN", "GitHub token"),
    ("GH_TOKEN", "GitHub CLI token"),
    ("GITLAB_TOKEN", "GitLab token"),
    ("CI_JOB_TOKEN", "GitLab CI job token"),
    ("BITBUCKET_APP_PASSWORD", "Bitbucket credentials"),
    ("ACTIONS_RUNTIME_TOKEN", "GitHub Actions runtime token"),
    (
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
        "GitHub Actions OIDC token request",
    ),
    (
        "ACTIONS_ID_TOKEN_REQUEST_URL",
        "GitHub Actions OIDC token request",
    ),
    ("BUILDKITE_AGENT_ACCESS_TOKEN", "Buildkite agent token"),
    ("CIRCLE_TOKEN", "CircleCI token"),
    ("NPM_TOKEN", "npm publish token"),
    ("NODE_AUTH_TOKEN", "npm registry token"),
    ("TWINE_PASSWORD", "PyPI upload credentials"),
    ("CARGO_REGISTRY_TOKEN", "crates.io token"),
    ("GEM_HOST_API_KEY", "RubyGems API key"),
    ("DOCKER_AUTH_CONFIG", "container registry credentials"),
    ("OPENAI_API_KEY", "OpenAI API key"),
    ("ANTHROPIC_API_KEY", "Anthropic API key"),
    ("HF_TOKEN", "Hugging Face token"),
    ("HUGGING_FACE_HUB_TOKEN", "Hugging Face token"),
    ("COHERE_API_KEY", "Cohere API key"),
    ("REPLICATE_API_TOKEN", "Replicate API token"),
    ("GROQ_API_KEY", "Groq API key"),
    ("GEMINI_API_KEY", "Gemini API key"),
    ("DATABASE_URL", "database URL, usually with a password"),
    ("PGPASSWORD", "PostgreSQL password"),
    ("MYSQL_PWD", "MySQL password"),
    ("REDIS_URL", "Redis URL, often with a password"),
    ("MONGODB_URI", "MongoDB URI, usually with a password"),
    ("SENTRY_DSN", "Sentry DSN (holds a key)"),
    ("VAULT_TOKEN", "HashiCorp Vault token"),
    ("KUBECONFIG", "points at Kubernetes credentials"),
    ("SSH_AUTH_SOCK", "gives use of the user's SSH keys"),
    ("GPG_AGENT_INFO", "gives use of the user's GPG keys"),
    ("GIT_ASKPASS", "a program that answers with Git credentials"),
    ("SSH_ASKPASS", "a program that answers with SSH passphrases"),
];

/// Sensitive name shapes (on the upper-cased name); each with why it is withheld.
const BLOCKED_PATTERNS: &[(Pattern, &str)] = &[
    (Pattern::Suffix("_TOKEN"), "name ends in _TOKEN"),
    (Pattern::Suffix("_SECRET"), "name ends in _SECRET"),
    (Pattern::Contains("_SECRET_"), "name contains _SECRET_"),
    (Pattern::Prefix("SECRET_"), "name starts with SECRET_"),
    (Pattern::Suffix("_KEY"), "name ends in _KEY"),
    (
        Pattern::Contains("_KEY_"),
        "name contains _KEY_ (e.g. API_KEY_ID)",
    ),
    (Pattern::Contains("PASSWORD"), "name contains PASSWORD"),
    (Pattern::Contains("PASSWD"), "name contains PASSWD"),
    (Pattern::Suffix("_PASS"), "name ends in _PASS"),
    (Pattern::Suffix("_PWD"), "name ends in _PWD"),
    (Pattern::Contains("CREDENTIAL"), "name contains CREDENTIAL"),
    (
        Pattern::Contains("PRIVATE_KEY"),
        "name contains PRIVATE_KEY",
    ),
    (Pattern::Suffix("_AUTH"), "name ends in _AUTH"),
    (Pattern::Contains("ACCESS_KEY"), "name contains ACCESS_KEY"),
    (
        Pattern::Suffix("_CONNECTION_STRING"),
        "name ends in _CONNECTION_STRING",
    ),
    (Pattern::Suffix("_DSN"), "name ends in _DSN"),
    (Pattern::Contains("API_KEY"), "name contains API_KEY"),
    (Pattern::Suffix("_APIKEY"), "name ends in _APIKEY"),
    (Pattern::Exact("TOKEN"), "named TOKEN"),
    (Pattern::Exact("SECRET"), "named SECRET"),
    (Pattern::Prefix("MYCELIUM_"), "mycelium's own configuration"),
];

/// A shape of variable name.
#[derive(Debug, Clone, Copy)]
enum Pattern {
    Exact(&'static str),
    Prefix(&'static str),
    Suffix(&'static str),
    Contains(&'static str),
}

impl Pattern {
    fn matches(self, upper: &str) -> bool {
        match self {
            Pattern::Exact(s) => upper == s,
            Pattern::Prefix(s) => upper.starts_with(s),
            Pattern::Suffix(s) => upper.ends_with(s),
            Pattern::Contains(s) => upper.contains(s),
        }
    }
}

/// Why a variable name is withheld, or `None` if it is not sensitive.
#[must_use]
pub fn sensitive_reason(name: &str) -> Option<&'static str> {
    let upper = name.to_ascii_uppercase();
    BLOCKED_NAMES
        .iter()
        .find(|(n, _)| *n == upper)
        .map(|(_, r)| *r)
        .or_else(|| {
            BLOCKED_PATTERNS
                .iter()
                .find(|(p, _)| p.matches(&upper))
                .map(|(_, r)| *r)
        })
}

/// How many names and patterns the block-list holds (for `doctor` and docs).
#[must_use]
pub fn blocklist_len() -> usize {
    BLOCKED_NAMES.len() + BLOCKED_PATTERNS.len()
}

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
        if SAFE_NAMES.contains(name) && sensitive_reason(name).is_none() {
            agent.insert((*name).to_string(), (*value).to_string());
        }
    }
    agent
        .entry("LANG".to_string())
        .or_insert_with(|| "C.UTF-8".to_string());

    let mut withheld = Vec::new();
    for (name, value) in &caller {
        if let Some(reason) = sensitive_reason(name)
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
        let allowed = sensitive_reason(name).is_none() || policy.allow_secrets.contains(name);
        if allowed && let Some(value) = caller.get(name.as_str()) {
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
    fn blocklist_is_large_enough() {
        assert!(blocklist_len() >= 40, "block-list has {}", blocklist_len());
    }

    #[test]
    fn sensitive_names_are_recognised() {
        for n in [
            "AWS_SECRET_ACCESS_KEY",
            "GITHUB_TOKEN",
            "FOO_TOKEN",
            "my_api_key",
            "DB_PASSWORD",
            "SMTP_PASS",
            "STRIPE_SECRET",
            "SECRET_SAUCE",
            "OPENAI_API_KEY",
            "MYCELIUM_REDIS_URL",
            "GOOGLE_APPLICATION_CREDENTIALS",
            "SSH_AUTH_SOCK",
            "X_PRIVATE_KEY_PEM",
            "SENTRY_DSN",
        ] {
            assert!(sensitive_reason(n).is_some(), "{n} should be sensitive");
        }
        for n in [
            "PATH",
            "HOME",
            "LANG",
            "TERM",
            "KEYBOARD",
            "PYTHONUNBUFFERED",
            "TOKENIZERS_PARALLELISM",
            "EDITOR",
        ] {
            assert_eq!(sensitive_reason(n), None, "{n} should not be sensitive");
        }
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
            assert_eq!(sensitive_reason(n), None, "{n}");
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
}
