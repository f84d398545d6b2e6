//! `mycelium policy check` and `explain` on real files.

use pretty_assertions::assert_eq;

use crate::common::{mycelium, policies_dir, stdout};

#[test]
fn shipped_policies_are_valid() {
    for entry in std::fs::read_dir(policies_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            let out = mycelium(&["policy", "check", path.to_str().unwrap()]);
            assert_eq!(
                out.status.code(),
                Some(0),
                "{}: {}",
                path.display(),
                stdout(&out)
            );
        }
    }
}

/// (line, column, key path, message) of one diagnostic.
type Located = (u64, u64, String, String);

/// Write `body` to a policy file, run `policy check --json`, return the single error as
/// (line, column, key, message).
fn first_error(body: &str) -> Located {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("p.toml");
    std::fs::write(&file, body).unwrap();
    let out = mycelium(&["policy", "check", "--json", file.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "expected invalid: {}",
        stdout(&out)
    );
    let v: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(v["valid"], false);
    let e = &v["errors"][0];
    assert_eq!(e["file"], file.to_str().unwrap());
    (
        e["line"].as_u64().unwrap(),
        e["column"].as_u64().unwrap(),
        e["key"].as_str().unwrap().to_string(),
        e["message"].as_str().unwrap().to_string(),
    )
}

#[test]
fn check_rejects_bad_files_with_line_column_and_key() {
    let s = |x: &str| x.to_string();
    let cases: Vec<(&str, Located)> = vec![
        // 1. TOML syntax
        (
            "[filesystem]\nread_only = [\"/usr\"\n",
            (2, 20, s(""), s("unclosed array, expected `]`")),
        ),
        // 2. unknown key in a table
        (
            "[network]\nmode = \"none\"\nports = [80]\n",
            (
                3,
                1,
                s("network.ports"),
                s(
                    "unknown field `ports`, expected one of `mode`, `tcp_connect`, `tcp_bind`, `unix_sockets`",
                ),
            ),
        ),
        // 3. unknown table
        (
            "[filesytem]\nread_only = []\n",
            (
                1,
                2,
                s("filesytem"),
                s(
                    "unknown field `filesytem`, expected one of `version`, `agent`, `filesystem`, `network`, `env`, `limits`, `seccomp`, `landlock`",
                ),
            ),
        ),
        // 4. wrong type
        (
            "[limits]\nprocesses = \"many\"\n",
            (
                2,
                13,
                s("limits.processes"),
                s("invalid type: string \"many\", expected i64"),
            ),
        ),
        // 5. path that does not exist, with its index
        (
            "[filesystem]\nread_only = [\"/usr\", \"/bin\",\n  \"/definitely/not/here\"]\n",
            (
                3,
                3,
                s("filesystem.read_only[2]"),
                s(
                    "/definitely/not/here: path does not exist (prefix the entry with `?` to skip it where it is absent)",
                ),
            ),
        ),
        // 6. bad size
        (
            "[limits]\nmemory = \"12 parsecs\"\n",
            (
                2,
                10,
                s("limits.memory"),
                s("invalid size \"12 parsecs\": unknown unit \"parsecs\", expected K, M, G or T"),
            ),
        ),
        // 7. bad duration
        (
            "[agent]\ntimeout = \"10\"\n",
            (
                2,
                11,
                s("agent.timeout"),
                s(
                    "invalid duration \"10\": expected a number followed by ms, s, m, h or d (e.g. \"30s\", \"10m\", \"1h30m\")",
                ),
            ),
        ),
        // 8. unknown network mode
        (
            "\n[network]\nmode = \"internet\"\n",
            (
                3,
                8,
                s("network.mode"),
                s("unknown mode \"internet\": expected \"none\", \"loopback\" or \"host\""),
            ),
        ),
        // 9. unknown placeholder
        (
            "[filesystem]\nread_write = [\"{workspce}/out\"]\n",
            (
                2,
                15,
                s("filesystem.read_write[0]"),
                s(
                    "\"{workspce}/out\": unknown placeholder {workspce}: expected {workspace} or {home} at the start",
                ),
            ),
        ),
        // 10. the sandbox's own /proc
        (
            "[filesystem]\nread_only = [\"/proc\"]\n",
            (
                2,
                14,
                s("filesystem.read_only[0]"),
                s(
                    "/proc is provided by the sandbox itself (a fresh /proc is always mounted); remove this entry",
                ),
            ),
        ),
        // 11. the same path twice
        (
            "[filesystem]\nread_only = [\"/usr\"]\nread_write = [\"/usr\"]\n",
            (
                3,
                15,
                s("filesystem.read_write[0]"),
                s("/usr is granted twice (each path may appear once, in read_only or read_write)"),
            ),
        ),
        // 12. port list outside host mode
        (
            "[network]\nmode = \"none\"\ntcp_connect = [443]\n",
            (
                3,
                15,
                s("network.tcp_connect"),
                s("port lists apply to network.mode = \"host\" only (mode is \"none\")"),
            ),
        ),
        // 13. not a variable name
        (
            "[env]\npass = [\"OK\", \"NOT-OK\"]\n",
            (
                2,
                15,
                s("env.pass[1]"),
                s(
                    "\"NOT-OK\" is not a variable name (letters, digits and `_`, not starting with a digit)",
                ),
            ),
        ),
        // 14. unsupported version
        (
            "version = 2\n",
            (
                1,
                11,
                s("version"),
                s("unsupported version 2: this mycelium reads version 1"),
            ),
        ),
        // 15. `..` in a path
        (
            "[filesystem]\nread_only = [\"/usr/../etc\"]\n",
            (
                2,
                14,
                s("filesystem.read_only[0]"),
                s("\"/usr/../etc\": `..` is not allowed in paths"),
            ),
        ),
        // 16. relative command
        (
            "[agent]\ncommand = [\"python3\"]\n",
            (
                2,
                11,
                s("agent.command[0]"),
                s("program \"python3\" must be an absolute path inside the sandbox"),
            ),
        ),
    ];
    for (body, expected) in cases {
        assert_eq!(first_error(body), expected, "policy:\n{body}");
    }
}

#[test]
fn check_reports_every_validation_error_and_mixed_files_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[limits]\nmemory = \"1X\"\nprocesses = 0\n[network]\nmode = \"wifi\"\n",
    )
    .unwrap();
    let good = policies_dir().join("minimal.toml");
    let out = mycelium(&[
        "policy",
        "check",
        good.to_str().unwrap(),
        bad.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let b = bad.display();
    assert_eq!(
        stdout(&out),
        format!(
            "{}: ok (risk: low)\n{b}:2:10: limits.memory: invalid size \"1X\": unknown unit \"X\", expected K, M, G or T\n{b}:3:13: limits.processes: 0 is not a positive number\n{b}:5:8: network.mode: unknown mode \"wifi\": expected \"none\", \"loopback\" or \"host\"\n",
            good.display()
        )
    );
}

#[test]
fn explain_describes_risk_in_plain_words() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("p.toml");
    std::fs::write(&p, "[filesystem]\nread_only = [\"/usr\"]\nread_write = [\"{workspace}\", \"/var/tmp\"]\n[network]\nmode = \"host\"\n[env]\npass = [\"GITHUB_TOKEN\", \"LANG\"]\n").unwrap();
    let out = mycelium(&["policy", "explain", "--json", p.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["risk"]["level"], "high");
    let reasons: Vec<&str> = v["risk"]["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["text"].as_str().unwrap())
        .collect();
    assert_eq!(
        reasons,
        vec![
            "network.mode = \"host\": the agent can reach every address the host can (LAN, internet, cloud metadata, local services)",
            "writes /var/tmp outside the workspace",
            "writes {workspace} (changes files in the workspace)",
        ]
    );
    assert_eq!(
        v["withheld"],
        serde_json::json!(["GITHUB_TOKEN (GitHub token; list it in env.allow_secrets to pass it)"])
    );
    let text = mycelium(&["policy", "explain", p.to_str().unwrap()]);
    assert!(stdout(&text).contains("Risk: HIGH"), "{}", stdout(&text));
}

#[test]
fn explain_takes_an_agent_name_too() {
    let by_name = mycelium(&[
        "--policies",
        policies_dir().to_str().unwrap(),
        "policy",
        "explain",
        "--json",
        "minimal",
    ]);
    let by_file = mycelium(&[
        "policy",
        "explain",
        "--json",
        policies_dir().join("minimal.toml").to_str().unwrap(),
    ]);
    assert_eq!(
        by_name.status.code(),
        Some(0),
        "{}",
        crate::common::stderr(&by_name)
    );
    assert_eq!(stdout(&by_name), stdout(&by_file));
    let missing = mycelium(&[
        "--policies",
        policies_dir().to_str().unwrap(),
        "policy",
        "explain",
        "no-such-agent",
    ]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        crate::common::stderr(&missing).contains("no agent \"no-such-agent\""),
        "{}",
        crate::common::stderr(&missing)
    );
}

/// `mycelium ARGS…` for a caller whose `$HOME` is `home` (mycelium's state elsewhere).
fn with_home(home: &std::path::Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(crate::common::bin())
        .args(args)
        .env_clear()
        .envs(crate::common::profile_env())
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", home)
        .env(
            "MYCELIUM_HOME",
            std::env::temp_dir().join("mycelium-risk-test-state"),
        )
        .output()
        .unwrap()
}

#[test]
fn credentials_outside_slash_home_are_high_risk_in_explain_and_agents() {
    let dir = tempfile::tempdir().unwrap();
    let policies = dir.path().join("policies");
    std::fs::create_dir(&policies).unwrap();
    // (file, body, level, first reason): the caller's home is /var/home/u.
    let cases = [
        (
            "ssh",
            "[filesystem]\nread_only = [\"/usr\", \"?{home}/.ssh\"]\n",
            "high",
            "reads /var/home/u/.ssh, which is, holds or lies inside a credential location (/var/home/u/.ssh)",
        ),
        (
            "home",
            "[filesystem]\nread_only = [\"/usr\", \"?{home}\"]\n",
            "high",
            "reads /var/home/u, which is or contains home directories (and the credentials in them)",
        ),
        (
            "etcssh",
            "[filesystem]\nread_only = [\"/usr\", \"?/etc/ssh\"]\n",
            "high",
            "reads /etc/ssh, which is, holds or lies inside a credential location (/etc/ssh)",
        ),
        (
            "project",
            "[filesystem]\nread_only = [\"/usr\", \"?{home}/src\"]\n",
            "medium",
            "reads personal files under /var/home/u/src",
        ),
        (
            "logs",
            "[filesystem]\nread_only = [\"/usr\", \"?/var/log\"]\n",
            "medium",
            "reads /var/log, a host path outside the system directories (see docs/policy.md)",
        ),
    ];
    let home = std::path::Path::new("/var/home/u");
    for (name, body, level, reason) in cases {
        let p = policies.join(format!("{name}.toml"));
        std::fs::write(&p, body).unwrap();
        let out = with_home(home, &["policy", "explain", "--json", p.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(0), "{name}");
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(
            (
                v["risk"]["level"].as_str(),
                v["risk"]["reasons"][0]["text"].as_str()
            ),
            (Some(level), Some(reason)),
            "{name}"
        );
    }
    // `agents` shows the same levels.
    let out = with_home(
        home,
        &["--policies", policies.to_str().unwrap(), "agents", "--json"],
    );
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut levels: Vec<(String, String)> = rows
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| {
            policies
                .join(format!("{}.toml", r["name"].as_str().unwrap()))
                .exists()
        })
        .map(|r| {
            (
                r["name"].as_str().unwrap().to_string(),
                r["risk"].as_str().unwrap_or("?").to_string(),
            )
        })
        .collect();
    levels.sort();
    assert_eq!(
        levels,
        [
            ("etcssh", "high"),
            ("home", "high"),
            ("logs", "medium"),
            ("project", "medium"),
            ("ssh", "high"),
        ]
        .map(|(a, b)| (a.to_string(), b.to_string()))
    );
    // Positive twin: the shipped low-risk policies stay low for this caller too.
    for name in ["minimal", "python", "loopback", "bench-default"] {
        let p = policies_dir().join(format!("{name}.toml"));
        let out = with_home(home, &["policy", "explain", "--json", p.to_str().unwrap()]);
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["risk"]["level"], "low", "{name}");
    }
}

/// The first account of this host's /etc/passwd whose home is outside /home and is not a
/// system directory (`/`, `/usr/…`, `/bin`, `/dev`, `/nonexistent`, …), `/root` or in
/// /var/lib (both high on their own): e.g. www-data's /var/www, a service's /srv/x.
fn service_home_outside_slash_home() -> Option<String> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|l| {
        let home = l.split(':').nth(5)?;
        let skip = [
            "/home", "/root", "/var/lib", "/usr", "/bin", "/sbin", "/lib", "/dev",
        ]
        .iter()
        .any(|p| std::path::Path::new(home).starts_with(p))
            || ["/", "/nonexistent", "/proc", "/sys"].contains(&home)
            || !home.starts_with('/');
        (!skip).then(|| home.to_string())
    })
}

#[test]
fn regression_credentials_in_homes_outside_slash_home_are_high_in_explain() {
    let dir = tempfile::tempdir().unwrap();
    // The caller's home is /opt/app: inside /opt, a system set of programs.
    let home = std::path::Path::new("/opt/app");
    let credential = |p: &str, c: &str| {
        format!("reads {p}, which is, holds or lies inside a credential location ({c})")
    };
    let mut cases = vec![
        (
            "{home}/.ssh".to_string(),
            "high",
            credential("/opt/app/.ssh", "/opt/app/.ssh"),
        ),
        (
            "{home}/.gnupg/private-keys-v1.d".to_string(),
            "high",
            credential("/opt/app/.gnupg/private-keys-v1.d", "/opt/app/.gnupg"),
        ),
        (
            "/opt".to_string(),
            "high",
            "reads /opt, which is or contains home directories (and the credentials in them)"
                .to_string(),
        ),
        (
            "/usr/sbin/.ssh".to_string(),
            "high",
            credential("/usr/sbin/.ssh", "/usr/sbin/.ssh"),
        ),
        (
            "/etc/wireguard".to_string(),
            "high",
            credential("/etc/wireguard", "/etc/wireguard"),
        ),
        (
            "/etc/NetworkManager/system-connections".to_string(),
            "high",
            credential(
                "/etc/NetworkManager/system-connections",
                "/etc/NetworkManager/system-connections",
            ),
        ),
        // Positive twins: the system set stays low, though some account's home is in it
        // (daemon's /usr/sbin, bin's /bin on most hosts).
        (
            "/usr".to_string(),
            "low",
            "reads only what is listed, no network, no secrets".into(),
        ),
        (
            "/bin".to_string(),
            "low",
            "reads only what is listed, no network, no secrets".into(),
        ),
    ];
    // Another account's home outside /home, as this host has it (www-data's /var/www…).
    let other = service_home_outside_slash_home();
    match &other {
        Some(h) => cases.push((
            format!("{h}/.ssh"),
            "high",
            credential(&format!("{h}/.ssh"), &format!("{h}/.ssh")),
        )),
        None => eprintln!(
            "note: no account on this host has a home outside /home that is not a system directory; that case is covered by unit tests"
        ),
    }
    for (path, level, reason) in cases {
        let p = dir.path().join("p.toml");
        std::fs::write(&p, format!("[filesystem]\nread_only = [\"?{path}\"]\n")).unwrap();
        let out = with_home(home, &["policy", "explain", "--json", p.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(0), "{path}");
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let first = v["risk"]["reasons"][0]["text"]
            .as_str()
            .unwrap_or("reads only what is listed, no network, no secrets");
        assert_eq!(
            (v["risk"]["level"].as_str(), first),
            (Some(level), reason.as_str()),
            "{path}"
        );
    }
}
