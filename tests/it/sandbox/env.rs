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
        .env("FOO_TOKEN", FOO_CANARY)
        .env("PATH", "/usr/bin:/bin")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let report: serde_json::Value = serde_json::from_str(err(&o).lines().next().unwrap()).unwrap();
    assert_eq!(report["env"]["withheld"], serde_json::json!(["FOO_TOKEN"]));
    assert_eq!(
        report["sandbox"]["namespaces"],
        serde_json::json!(["user", "pid", "mount", "network", "ipc", "uts", "cgroup"])
    );
    assert!(!err(&o).contains(FOO_CANARY));
}
