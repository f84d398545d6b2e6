//! Environment scrubbing: secrets in the caller's environment never reach the sandbox.

use pretty_assertions::assert_eq;

use super::{Fixture, err, exec_cmd, out, policy_body};
use crate::gate;

const AWS_CANARY: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYCANARYKEY";
const FOO_CANARY: &str = "foo-token-canary-0123456789";

#[test]
fn secret_variables_are_absent_even_when_passed() {
    gate!("secret_variables_are_absent_even_when_passed");
    let fx = Fixture::new();
    let policy = fx.policy(
        "p",
        &policy_body(
            "",
            "[env]\npass = [\"KEEP_ME\", \"FOO_TOKEN\", \"AWS_SECRET_ACCESS_KEY\"]",
        ),
    );
    let o = exec_cmd(
        &policy,
        None,
        &[
            "/bin/sh",
            "-c",
            "env; cat /proc/1/environ 2>/dev/null; echo",
        ],
    )
    .env("AWS_SECRET_ACCESS_KEY", AWS_CANARY)
    .env("FOO_TOKEN", FOO_CANARY)
    .env("KEEP_ME", "visible")
    .output()
    .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let text = out(&o);
    assert!(
        text.contains("KEEP_ME=visible"),
        "the probe must see passed variables: {text}"
    );
    assert!(!text.contains(AWS_CANARY), "{text}");
    assert!(!text.contains(FOO_CANARY), "{text}");
    assert!(!text.contains("AWS_SECRET_ACCESS_KEY"), "{text}");
}

#[test]
fn allow_secrets_passes_a_named_secret() {
    gate!("allow_secrets_passes_a_named_secret");
    let fx = Fixture::new();
    let policy = fx.policy(
        "p",
        &policy_body("", "[env]\nallow_secrets = [\"FOO_TOKEN\"]"),
    );
    let o = exec_cmd(
        &policy,
        None,
        &[
            "/bin/sh",
            "-c",
            "echo $FOO_TOKEN; echo ${AWS_SECRET_ACCESS_KEY:-absent}",
        ],
    )
    .env("AWS_SECRET_ACCESS_KEY", AWS_CANARY)
    .env("FOO_TOKEN", FOO_CANARY)
    .output()
    .unwrap();
    assert_eq!(
        (o.status.code(), out(&o)),
        (Some(0), format!("{FOO_CANARY}\nabsent\n")),
        "{}",
        err(&o)
    );
}

#[test]
fn report_names_withheld_variables_and_layers() {
    gate!("report_names_withheld_variables_and_layers");
    let fx = Fixture::new();
    let policy = fx.policy("p", &policy_body("", ""));
    let o = std::process::Command::new(crate::common::bin())
        .args(["exec", "--report", "--policy"])
        .arg(&policy)
        .args(["--", "/bin/true"])
        .env_clear()
        .envs(crate::common::launcher_env())
        .envs(crate::common::profile_env())
        .env("FOO_TOKEN", FOO_CANARY)
        .env("PATH", "/usr/bin:/bin")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let report: serde_json::Value = serde_json::from_str(err(&o).lines().next().unwrap()).unwrap();
    // MYCELIUM_LAUNCHER, when the test run sets it, is withheld too (mycelium's own
    // configuration never reaches the sandbox).
    let withheld: Vec<&str> = report["env"]["withheld"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str())
        .filter(|n| *n != "MYCELIUM_LAUNCHER")
        .collect();
    assert_eq!(withheld, ["FOO_TOKEN"]);
    assert_eq!(
        report["sandbox"]["namespaces"],
        serde_json::json!(["user", "pid", "mount", "network", "ipc", "uts", "cgroup"])
    );
    // Both filters are described (Landlock's part is built only when a report is asked for).
    let landlock = &report["sandbox"]["landlock"];
    assert!(
        landlock["abi"].as_u64().is_some_and(|a| a >= 1),
        "{landlock}"
    );
    assert!(
        landlock["abi"].as_u64() <= landlock["kernel_abi"].as_u64(),
        "{landlock}"
    );
    let seccomp = &report["sandbox"]["seccomp"];
    assert!(
        seccomp["allowed"].as_u64().is_some_and(|n| n > 100),
        "{seccomp}"
    );
    assert!(!err(&o).contains(FOO_CANARY));
}

/// pid 1 of the sandbox, seen from the host: a child of `pid` (started there) or a
/// grandchild (started by the launcher) that is pid 1 of its own pid namespace.
fn find_init(pid: u32) -> Option<u32> {
    let children = |p: u32| -> Vec<u32> {
        std::fs::read_to_string(format!("/proc/{p}/task/{p}/children"))
            .unwrap_or_default()
            .split_whitespace()
            .filter_map(|c| c.parse().ok())
            .collect()
    };
    // NSpid lists the pid in each namespace from the host's down: pid 1 ends with 1.
    let is_init = |p: &u32| {
        std::fs::read_to_string(format!("/proc/{p}/status")).is_ok_and(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("NSpid:"))
                .is_some_and(|ids| ids.split_whitespace().count() == 2 && ids.ends_with("\t1"))
        })
    };
    let direct = children(pid);
    direct
        .iter()
        .copied()
        .find(is_init)
        .or_else(|| direct.iter().flat_map(|c| children(*c)).find(is_init))
}

/// Whether `/proc/PID/environ` and `/proc/PID/cmdline` of pid 1 hold `canary`, seen from
/// the host while the sandbox runs (`None` when the host may not read them: an
/// unprivileged caller cannot read a non-dumpable process's environment).
fn init_holds(launcher: bool, canary: &str) -> Option<bool> {
    use std::io::{BufRead, BufReader};
    let fx = Fixture::new();
    let policy = fx.policy("p", &policy_body("", ""));
    let mut cmd = exec_cmd(&policy, None, &["/bin/sh", "-c", "echo ready; sleep 30"]);
    cmd.env("INIT_CANARY_TOKEN", canary)
        .stdout(std::process::Stdio::piped());
    if launcher {
        cmd.env("MYCELIUM_LAUNCHER", "1");
    }
    let mut child = cmd.spawn().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line, "ready\n");
    let init = find_init(child.id()).expect("pid 1 of the sandbox is found from the host");
    let environ = std::fs::read(format!("/proc/{init}/environ"));
    let cmdline = std::fs::read(format!("/proc/{init}/cmdline")).unwrap();
    let _ = child.kill();
    let _ = child.wait();
    let has = |b: &[u8]| b.windows(canary.len()).any(|w| w == canary.as_bytes());
    assert!(!has(&cmdline), "pid 1's command line: {cmdline:?}");
    environ.ok().map(|e| has(&e))
}

#[test]
fn pid_1_keeps_none_of_the_callers_environment() {
    gate!("pid_1_keeps_none_of_the_callers_environment");
    let canary = "init-env-canary-7f3a9c2e51";
    // Positive twin: this very process's environment shows a variable set on it, read the
    // same way the probe reads pid 1's.
    let me = std::process::Command::new("/bin/sh")
        .args(["-c", "cat /proc/$$/environ"])
        .env("INIT_CANARY_TOKEN", canary)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&me.stdout).contains(canary));
    for launcher in [false, true] {
        match init_holds(launcher, canary) {
            Some(held) => assert!(!held, "pid 1 (launcher: {launcher}) holds the canary"),
            None => eprintln!(
                "note: /proc/PID/environ of pid 1 is unreadable to this user (non-dumpable); only the command line was checked"
            ),
        }
    }
}

/// `env` inside a sandbox of a policy with `env_section`, the caller's environment being
/// `vars` (plus PATH and HOME).
fn env_inside(env_section: &str, vars: &[(&str, &str)]) -> String {
    let fx = Fixture::new();
    let policy = fx.policy("p", &policy_body("", env_section));
    let o = exec_cmd(&policy, None, &["/usr/bin/env"])
        .envs(vars.iter().copied())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    out(&o)
}

#[test]
fn locale_variables_pass_but_lc_named_secrets_and_other_lc_names_do_not() {
    gate!("locale_variables_pass_but_lc_named_secrets_and_other_lc_names_do_not");
    let canary = "lc-deploy-canary-0123456789";
    let text = env_inside(
        "",
        &[
            ("LANG", "C.UTF-8"),
            ("LC_ALL", "C.UTF-8"),
            ("LC_MESSAGES", "C"),
            ("LC_DEPLOY_TOKEN", canary),
            ("LC_API_KEY", canary),
            ("LC_DB_PASSWORD", canary),
            ("LC_SECRET", canary),
            ("LC_X", canary),
            ("LC_all", canary),
        ],
    );
    let mut names: Vec<&str> = text
        .lines()
        .filter_map(|l| l.split_once('=').map(|(n, _)| n))
        .collect();
    names.sort_unstable();
    // Positive twin: the real locale variables reach the agent, with their values.
    assert!(text.contains("LANG=C.UTF-8\n"), "{text}");
    assert!(text.contains("LC_ALL=C.UTF-8\n"), "{text}");
    assert!(text.contains("LC_MESSAGES=C\n"), "{text}");
    assert_eq!(
        names,
        ["HOME", "LANG", "LC_ALL", "LC_MESSAGES", "PATH"],
        "{text}"
    );
    assert!(!text.contains(canary), "{text}");
}

#[test]
fn lc_named_secrets_are_withheld_even_when_passed_by_name() {
    gate!("lc_named_secrets_are_withheld_even_when_passed_by_name");
    let canary = "lc-deploy-canary-0123456789";
    let text = env_inside(
        "[env]\npass = [\"LC_DEPLOY_TOKEN\", \"LC_ACCESS_KEY\", \"LC_PROJECT\", \"MY_TOKEN\", \"MY_NAME\"]",
        &[
            ("LC_DEPLOY_TOKEN", canary),
            ("LC_ACCESS_KEY", canary),
            ("MY_TOKEN", canary),
            ("LC_PROJECT", "by-name"),
            ("MY_NAME", "visible"),
        ],
    );
    // Positive twin: non-sensitive names the policy passes arrive, LC_ or not.
    assert!(text.contains("LC_PROJECT=by-name\n"), "{text}");
    assert!(text.contains("MY_NAME=visible\n"), "{text}");
    assert!(!text.contains(canary), "{text}");
    assert!(!text.contains("LC_DEPLOY_TOKEN"), "{text}");
    assert!(!text.contains("MY_TOKEN"), "{text}");
}

#[test]
fn a_pattern_in_pass_is_refused_rather_than_matched() {
    // `pass` takes exact names: a glob that could sweep in `MY_TOKEN` is a policy error,
    // and nothing runs.
    let fx = Fixture::new();
    let policy = fx.policy("p", &policy_body("", "[env]\npass = [\"MY_*\"]"));
    let o = exec_cmd(&policy, None, &["/usr/bin/env"])
        .env("MY_TOKEN", "my-token-canary-0123456789")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(125), "{}", err(&o));
    assert!(err(&o).contains("env.pass[0]"), "{}", err(&o));
    assert!(!out(&o).contains("my-token-canary"), "{}", out(&o));
}

#[test]
fn withheld_lc_secret_is_named_in_the_report() {
    gate!("withheld_lc_secret_is_named_in_the_report");
    let fx = Fixture::new();
    let policy = fx.policy("p", &policy_body("", ""));
    let o = std::process::Command::new(crate::common::bin())
        .args(["exec", "--report", "--policy"])
        .arg(&policy)
        .args(["--", "/bin/true"])
        .env_clear()
        .envs(crate::common::launcher_env())
        .envs(crate::common::profile_env())
        .env("LC_DEPLOY_TOKEN", "lc-deploy-canary-0123456789")
        .env("LC_ALL", "C")
        .env("PATH", "/usr/bin:/bin")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let report: serde_json::Value = serde_json::from_str(err(&o).lines().next().unwrap()).unwrap();
    let withheld: Vec<&str> = report["env"]["withheld"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str())
        .filter(|n| *n != "MYCELIUM_LAUNCHER")
        .collect();
    assert_eq!(withheld, ["LC_DEPLOY_TOKEN"]);
    let passed: Vec<&str> = report["env"]["passed"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    assert_eq!(passed, ["HOME", "LANG", "LC_ALL", "PATH"]);
}

/// The six credential variables a red team passed through `[env] pass` (each rated low and
/// delivered before): a password, a CI identity token, an npm token in camelCase, two
/// passphrases and a webhook URL.
const SIX: [&str; 6] = [
    "SSHPASS",
    "CI_JOB_JWT",
    "npm_config__authToken",
    "BORG_PASSPHRASE",
    "GPG_PASSPHRASE",
    "SLACK_WEBHOOK_URL",
];

#[test]
fn regression_credential_names_in_any_spelling_are_withheld_even_when_passed() {
    gate!("regression_credential_names_in_any_spelling_are_withheld_even_when_passed");
    let canary = "six-canary-4f1e9a0b7c";
    let names: Vec<String> = SIX.iter().map(|n| format!("\"{n}\"")).collect();
    let env_section = format!(
        "[env]\npass = [{}, \"EDITOR\", \"KEYTIMEOUT\", \"PIP_INDEX_URL\"]",
        names.join(", ")
    );
    let mut vars: Vec<(&str, &str)> = SIX.iter().map(|n| (*n, canary)).collect();
    vars.extend([
        ("EDITOR", "vi"),
        ("KEYTIMEOUT", "1"),
        // A password in a URL is withheld whatever the variable is called.
        (
            "PIP_INDEX_URL",
            "https://u:six-canary-4f1e9a0b7c@pypi.example/simple",
        ),
    ]);
    let text = env_inside(&env_section, &vars);
    // Positive twin: ordinary names the policy passes arrive, with their values.
    assert!(text.contains("EDITOR=vi\n"), "{text}");
    assert!(text.contains("KEYTIMEOUT=1\n"), "{text}");
    let mut names: Vec<&str> = text
        .lines()
        .filter_map(|l| l.split_once('=').map(|(n, _)| n))
        .collect();
    names.sort_unstable();
    assert_eq!(
        names,
        ["EDITOR", "HOME", "KEYTIMEOUT", "LANG", "PATH"],
        "{text}"
    );
    assert!(!text.contains(canary), "{text}");

    // `policy explain` says the same: the six are withheld, nothing sensitive is
    // inherited, so the risk stays low (a secret that reaches the agent needs
    // allow_secrets, which is high: see the next test).
    let fx = Fixture::new();
    let policy = fx.policy("p", &policy_body("", &env_section));
    let o = crate::common::mycelium(&["policy", "explain", "--json", policy.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["risk"]["level"], "low");
    let withheld: Vec<String> = v["withheld"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap().split(' ').next().unwrap().to_string())
        .collect();
    assert_eq!(withheld, SIX);
}

#[test]
fn regression_allow_secrets_names_any_spelling_and_is_high_risk() {
    gate!("regression_allow_secrets_names_any_spelling_and_is_high_risk");
    let canary = "six-canary-4f1e9a0b7c";
    let env_section = "[env]\nallow_secrets = [\"npm_config__authToken\"]\npass = [\"SSHPASS\"]";
    let text = env_inside(
        env_section,
        &[
            ("npm_config__authToken", canary),
            ("SSHPASS", "other-canary"),
        ],
    );
    assert!(
        text.contains(&format!("npm_config__authToken={canary}\n")),
        "{text}"
    );
    assert!(!text.contains("other-canary"), "{text}");
    let fx = Fixture::new();
    let policy = fx.policy("p", &policy_body("", env_section));
    let o = crate::common::mycelium(&["policy", "explain", "--json", policy.to_str().unwrap()]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        (
            v["risk"]["level"].as_str(),
            v["risk"]["reasons"][0]["text"].as_str()
        ),
        (
            Some("high"),
            Some("receives the sensitive variable npm_config__authToken (env.allow_secrets)")
        )
    );
}

/// `mycelium exec --report` of `/usr/bin/env` with the caller's environment `vars` (plus
/// PATH): the names the report says were withheld (mycelium's own left out) and what the
/// agent printed.
fn report_and_env(vars: &[(&str, &str)]) -> (Vec<String>, String) {
    let fx = Fixture::new();
    let policy = fx.policy("p", &policy_body("", ""));
    let o = std::process::Command::new(crate::common::bin())
        .args(["exec", "--report", "--policy"])
        .arg(&policy)
        .args(["--", "/usr/bin/env"])
        .env_clear()
        .envs(crate::common::launcher_env())
        .envs(crate::common::profile_env())
        .env("PATH", "/usr/bin:/bin")
        .envs(vars.iter().copied())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let report: serde_json::Value = serde_json::from_str(err(&o).lines().next().unwrap()).unwrap();
    let withheld = report["env"]["withheld"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str())
        .filter(|n| *n != "MYCELIUM_LAUNCHER")
        .map(String::from)
        .collect();
    (withheld, out(&o))
}

#[test]
fn regression_tokens_in_locale_and_terminal_variables_are_withheld() {
    gate!("regression_tokens_in_locale_and_terminal_variables_are_withheld");
    let tokens = [
        ("LANG", "sk-ant-api03-xxxxxxxx"),
        ("LC_MESSAGES", "ghp_0123456789abcdefghijklmn"),
        ("LC_IDENTIFICATION", "AKIAIOSFODNN7EXAMPLE"),
        ("TERM", "xoxb-123-abc"),
        ("TZ", "hf_abcdefghijklmnopqrstuvwxyz01"),
        ("COLORTERM", "xoxb-1234567890-abc"),
    ];
    let (withheld, text) = report_and_env(&tokens);
    assert_eq!(
        withheld,
        [
            "COLORTERM",
            "LANG",
            "LC_IDENTIFICATION",
            "LC_MESSAGES",
            "TERM",
            "TZ"
        ],
        "{text}"
    );
    let mut env: Vec<&str> = text.lines().collect();
    env.sort_unstable();
    // LANG falls back to mycelium's own default; no token reaches the agent.
    assert_eq!(
        env,
        [
            "HOME=/tmp",
            "LANG=C.UTF-8",
            "PATH=/usr/local/bin:/usr/bin:/bin"
        ],
        "{text}"
    );
}

#[test]
fn locale_and_terminal_values_in_their_shape_pass() {
    gate!("locale_and_terminal_values_in_their_shape_pass");
    // Positive twin of the regression above: real values under the same names arrive.
    let (withheld, text) = report_and_env(&[
        ("LANG", "C.UTF-8"),
        ("LC_MESSAGES", "C"),
        ("TERM", "xterm"),
        ("TZ", "UTC"),
        ("COLORTERM", "truecolor"),
    ]);
    assert_eq!(withheld, Vec::<String>::new(), "{text}");
    let mut env: Vec<&str> = text.lines().collect();
    env.sort_unstable();
    assert_eq!(
        env,
        [
            "COLORTERM=truecolor",
            "HOME=/tmp",
            "LANG=C.UTF-8",
            "LC_MESSAGES=C",
            "PATH=/usr/local/bin:/usr/bin:/bin",
            "TERM=xterm",
            "TZ=UTC",
        ],
        "{text}"
    );
}
