//! Agents and consent, through the real binary: checksums, the store, prompts on a pty.
//!
//! Every test gets its own `$MYCELIUM_HOME` and policy directory in a tempdir, passed to
//! the child through its environment; the test process's own environment is never changed.

use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pretty_assertions::assert_eq;
use serde_json::Value;

use crate::common::{bin, stderr, stdout};

/// A private world: `$MYCELIUM_HOME`, a policy directory, a working directory.
struct World {
    root: tempfile::TempDir,
}

impl World {
    fn new() -> World {
        let root = tempfile::tempdir().unwrap();
        fs::create_dir_all(root.path().join("policies")).unwrap();
        fs::create_dir_all(root.path().join("files")).unwrap();
        fs::create_dir_all(root.path().join("cwd")).unwrap();
        World { root }
    }

    fn home(&self) -> PathBuf {
        self.root.path().join("home")
    }

    fn policies(&self) -> PathBuf {
        self.root.path().join("policies")
    }

    fn store(&self) -> PathBuf {
        self.home().join("agent_consents.json")
    }

    fn files(&self) -> PathBuf {
        self.root.path().join("files")
    }

    /// `mycelium ARGS…` with this world's environment, not yet started.
    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = self.cmd_for(&bin());
        c.args(args);
        c
    }

    /// `program` with this world's environment and working directory.
    fn cmd_for(&self, program: &Path) -> Command {
        let mut c = Command::new(program);
        c.env_clear()
            .envs(crate::common::launcher_env())
            .envs(crate::common::profile_env())
            .env("PATH", "/usr/bin:/bin")
            .env("HOME", self.root.path())
            .env("MYCELIUM_HOME", self.home())
            .env("MYCELIUM_POLICIES", self.policies())
            .current_dir(self.root.path().join("cwd"))
            .stdin(Stdio::null());
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    /// A medium-risk agent (it writes the workspace) with a definition and a pinned file.
    fn agent(&self, name: &str) -> Agent {
        self.agent_padded(name, 0)
    }

    /// As [`World::agent`], with `pad` bytes of comment in the policy (the consent record
    /// keeps the policy's text, so this makes the store, and each write of it, larger).
    fn agent_padded(&self, name: &str, pad: usize) -> Agent {
        let def = self.files().join(format!("{name}.md"));
        let pin = self.files().join(format!("{name}.sh"));
        fs::write(
            &def,
            format!(
                "---\nname: {name}\ndescription: Test agent {name}\ntools: Read, Grep\nmodel: sonnet\n---\nBe brief.\n"
            ),
        )
        .unwrap();
        fs::write(&pin, "echo hello\n").unwrap();
        let policy = self.policies().join(format!("{name}.toml"));
        let padding = "# padding padding padding padding padding padding padding padding\n"
            .repeat(pad / 66 + 1);
        fs::write(
            &policy,
            format!(
                r#"{padding}version = 1

[agent]
description = "Agent {name}"
definition = "{}"
command = ["/bin/sh", "{}"]
pin = ["{}"]

[filesystem]
read_only = ["/usr"]
read_write = ["{{workspace}}"]

[network]
mode = "none"

[limits]
processes = 64
"#,
                def.display(),
                pin.display(),
                pin.display()
            ),
        )
        .unwrap();
        Agent { policy, def, pin }
    }

    fn check(&self, name: &str) -> Output {
        self.run(&["consent", "check", name])
    }

    fn grant_yes(&self, name: &str) -> Output {
        let out = self.run(&["consent", "grant", "--yes", name]);
        assert_eq!(out.status.code(), Some(0), "grant {name}: {}", stderr(&out));
        out
    }

    fn store_json(&self) -> Value {
        serde_json::from_slice(&fs::read(self.store()).unwrap()).unwrap()
    }
}

struct Agent {
    policy: PathBuf,
    def: PathBuf,
    pin: PathBuf,
}

/// Replace the first `from` in the file with `to` (same length: a one-byte edit).
fn edit(path: &Path, from: &str, to: &str) {
    assert_eq!(from.len(), to.len());
    let text = fs::read_to_string(path).unwrap();
    assert!(text.contains(from), "{} lacks {from:?}", path.display());
    fs::write(path, text.replacen(from, to, 1)).unwrap();
}

fn code(o: &Output) -> Option<i32> {
    o.status.code()
}

#[test]
fn grant_then_check_allows_the_agent() {
    let w = World::new();
    w.agent("rev");
    let before = w.check("rev");
    assert_eq!(code(&before), Some(1), "{}", stderr(&before));
    assert!(
        stderr(&before).contains("needs consent"),
        "{}",
        stderr(&before)
    );

    let out = w.grant_yes("rev");
    assert!(
        stdout(&out).starts_with("granted rev sha256:"),
        "{}",
        stdout(&out)
    );
    assert!(stderr(&out).contains("--yes given: granting without asking"));
    assert!(stderr(&out).contains("CONSENT REQUESTED for agent rev"));

    let after = w.check("rev");
    assert_eq!(code(&after), Some(0), "{}", stderr(&after));

    let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&w.home()), 0o700);
    assert_eq!(mode(&w.store()), 0o600);

    let store = w.store_json();
    assert_eq!(store["schema_version"], 1);
    let rec = &store["consents"]["rev"];
    assert_eq!(rec["agent"], "rev");
    assert_eq!(rec["risk"]["level"], "medium");
    assert!(rec["granted_by"]["uid"].is_u64());
    assert!(
        rec["snapshot"]["policy"]
            .as_str()
            .unwrap()
            .contains("processes = 64")
    );
    assert_eq!(rec["expires_at"], Value::Null);
}

#[test]
fn checksum_is_the_documented_recipe() {
    // The same recipe docs/consent.md gives, recomputed here from the files' bytes.
    let w = World::new();
    let a = w.agent("rev");
    w.grant_yes("rev");
    let mut enc = Vec::new();
    enc.extend_from_slice(b"mycelium-consent-v1\0");
    let part = |enc: &mut Vec<u8>, b: &[u8]| {
        enc.extend_from_slice(&(b.len() as u64).to_be_bytes());
        enc.extend_from_slice(b);
    };
    enc.push(1);
    part(&mut enc, &fs::read(&a.policy).unwrap());
    enc.push(2);
    part(&mut enc, a.def.to_str().unwrap().as_bytes());
    part(&mut enc, &fs::read(&a.def).unwrap());
    enc.push(3);
    part(&mut enc, a.pin.to_str().unwrap().as_bytes());
    part(&mut enc, &fs::read(&a.pin).unwrap());
    let sha = Command::new("sha256sum")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            c.stdin.take().unwrap().write_all(&enc)?;
            c.wait_with_output()
        })
        .unwrap();
    let hex = String::from_utf8(sha.stdout).unwrap()[..64].to_string();
    assert_eq!(
        w.store_json()["consents"]["rev"]["checksum"],
        format!("sha256:{hex}")
    );
}

/// Edit one byte of one of the agent's files; consent must be asked again, and the
/// re-consent banner and `check` must both say what changed.
fn one_byte_edit_asks_again(file: impl Fn(&Agent) -> PathBuf, from: &str, to: &str, shows: &str) {
    let w = World::new();
    let a = w.agent("rev");
    w.grant_yes("rev");
    assert_eq!(code(&w.check("rev")), Some(0));

    edit(&file(&a), from, to);
    let check = w.check("rev");
    assert_eq!(code(&check), Some(1), "{}", stderr(&check));
    assert!(
        stderr(&check).contains("changed since consent"),
        "{}",
        stderr(&check)
    );
    assert!(
        stderr(&check).contains(shows),
        "check output lacks {shows:?}:\n{}",
        stderr(&check)
    );

    let regrant = w.grant_yes("rev");
    assert!(
        stderr(&regrant).contains("This agent CHANGED since"),
        "{}",
        stderr(&regrant)
    );
    assert!(
        stderr(&regrant).contains(shows),
        "banner lacks {shows:?}:\n{}",
        stderr(&regrant)
    );
    assert_eq!(code(&w.check("rev")), Some(0));
}

#[test]
fn one_byte_policy_edit_asks_again_and_shows_the_change() {
    one_byte_edit_asks_again(
        |a| a.policy.clone(),
        "processes = 64",
        "processes = 65",
        "limits.processes: 64 → 65",
    );
}

#[test]
fn policy_widening_is_shown_in_policy_terms() {
    let w = World::new();
    let a = w.agent("rev");
    w.grant_yes("rev");
    edit(&a.policy, "mode = \"none\"", "mode = \"host\"");
    let check = w.check("rev");
    assert_eq!(code(&check), Some(1));
    let text = stderr(&check);
    assert!(text.contains("network.mode: none → host"), "{text}");
    assert!(text.contains("risk: medium → high"), "{text}");
}

#[test]
fn one_byte_definition_edit_asks_again_and_shows_the_change() {
    one_byte_edit_asks_again(
        |a| a.def.clone(),
        "Be brief.",
        "Be brieF.",
        "definition.prompt: sha256:",
    );
}

#[test]
fn one_byte_pinned_file_edit_asks_again_and_shows_the_change() {
    one_byte_edit_asks_again(|a| a.pin.clone(), "hello", "hellO", "pinned file ");
}

#[test]
fn comment_only_edit_still_asks_again() {
    let w = World::new();
    let a = w.agent("rev");
    w.grant_yes("rev");
    let mut text = fs::read_to_string(&a.policy).unwrap();
    text.push_str("# a comment\n");
    fs::write(&a.policy, text).unwrap();
    let check = w.check("rev");
    assert_eq!(code(&check), Some(1));
    assert!(
        stderr(&check).contains("no setting differs"),
        "{}",
        stderr(&check)
    );
}

#[test]
fn revoke_in_one_process_takes_effect_in_the_next() {
    let w = World::new();
    w.agent("rev");
    w.grant_yes("rev");
    assert_eq!(code(&w.check("rev")), Some(0));
    let out = w.run(&["consent", "revoke", "rev"]);
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "rev: consent revoked\n");
    assert_eq!(code(&w.check("rev")), Some(1));
}

#[test]
fn expired_consent_no_longer_counts() {
    let w = World::new();
    w.agent("rev");
    w.agent("other");
    // Positive twin: a long grant counts.
    let out = w.run(&["consent", "grant", "--yes", "--for", "1h", "other"]);
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains(" until "), "{}", stdout(&out));
    assert_eq!(code(&w.check("other")), Some(0));

    let out = w.run(&["consent", "grant", "--yes", "--for", "1s", "rev"]);
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    std::thread::sleep(Duration::from_millis(1500));
    let check = w.check("rev");
    assert_eq!(code(&check), Some(1));
    assert!(
        stderr(&check).contains("consent expired"),
        "{}",
        stderr(&check)
    );
}

#[test]
fn bad_duration_is_refused() {
    let w = World::new();
    w.agent("rev");
    let out = w.run(&["consent", "grant", "--yes", "--for", "soon", "rev"]);
    assert_eq!(code(&out), Some(1));
    assert!(!w.store().exists());
}

#[test]
fn deny_beats_any_grant_until_revoked() {
    let w = World::new();
    w.agent("rev");
    w.grant_yes("rev");
    let out = w.run(&["consent", "deny", "rev"]);
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    let check = w.check("rev");
    assert_eq!(code(&check), Some(1));
    assert!(stderr(&check).contains("denied"), "{}", stderr(&check));

    let regrant = w.run(&["consent", "grant", "--yes", "rev"]);
    assert_eq!(code(&regrant), Some(1));
    assert!(
        stderr(&regrant).contains("consent revoke rev"),
        "{}",
        stderr(&regrant)
    );
    assert_eq!(code(&w.check("rev")), Some(1));

    // Denial also beats "not required": a low-risk agent that is denied does not run.
    let low = w.policies().join("low.toml");
    fs::write(
        &low,
        "version = 1\n[agent]\ncommand = [\"/bin/true\"]\n[filesystem]\nread_only = [\"/usr\"]\n",
    )
    .unwrap();
    assert_eq!(code(&w.check("low")), Some(0));
    w.run(&["consent", "deny", "low"]);
    assert_eq!(code(&w.check("low")), Some(1));

    let out = w.run(&["consent", "revoke", "rev"]);
    assert_eq!(
        stdout(&out),
        "rev: denial lifted; it will be asked about again\n"
    );
    assert_eq!(code(&w.check("rev")), Some(1));
    w.grant_yes("rev");
    assert_eq!(code(&w.check("rev")), Some(0));
}

#[test]
fn required_at_comes_from_config() {
    let w = World::new();
    w.agent("rev");
    fs::create_dir_all(w.home()).unwrap();
    let cfg = w.home().join("config.toml");
    fs::write(&cfg, "[consent]\nrequired_at = \"high\"\n").unwrap();
    fs::set_permissions(&cfg, fs::Permissions::from_mode(0o600)).unwrap();
    let check = w.check("rev");
    assert_eq!(code(&check), Some(0), "{}", stderr(&check));
    assert!(stderr(&check).contains("no consent needed"));
    fs::write(&cfg, "[consent]\nrequired_at = \"medium\"\n").unwrap();
    assert_eq!(code(&w.check("rev")), Some(1));
}

#[test]
fn corrupt_store_grants_nothing_and_reset_keeps_it() {
    let w = World::new();
    w.agent("rev");
    w.grant_yes("rev");
    let good = fs::read(w.store()).unwrap();
    let broken = &good[..good.len() / 2];
    fs::write(w.store(), broken).unwrap();

    let check = w.check("rev");
    assert_eq!(code(&check), Some(1));
    let msg = stderr(&check);
    assert!(msg.contains("is damaged at line"), "{msg}");
    assert!(msg.contains("grants nothing"), "{msg}");
    assert!(msg.contains("mycelium consent reset"), "{msg}");

    // A writer refuses too, and leaves the damaged file as it was.
    let regrant = w.run(&["consent", "grant", "--yes", "rev"]);
    assert_eq!(code(&regrant), Some(1));
    assert_eq!(fs::read(w.store()).unwrap(), broken);
    let agents = w.run(&["agents"]);
    assert_eq!(code(&agents), Some(1));
    assert!(stdout(&agents).contains("unknown"), "{}", stdout(&agents));

    let reset = w.run(&["consent", "reset"]);
    assert_eq!(code(&reset), Some(0), "{}", stderr(&reset));
    let kept: Vec<_> = fs::read_dir(w.home())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().contains(".broken-"))
        .collect();
    assert_eq!(kept.len(), 1);
    assert_eq!(fs::read(&kept[0]).unwrap(), broken);
    assert_eq!(code(&w.check("rev")), Some(1));
    w.grant_yes("rev");
    assert_eq!(code(&w.check("rev")), Some(0));
}

#[test]
fn tampered_store_grants_nothing() {
    let w = World::new();
    w.agent("rev");
    w.grant_yes("rev");
    let good = fs::read_to_string(w.store()).unwrap();
    let checksum = w.store_json()["consents"]["rev"]["checksum"]
        .as_str()
        .unwrap()
        .to_string();

    let cases: Vec<(&str, String, &str)> = vec![
        (
            "checksum for other bytes",
            good.replace(&checksum, &format!("sha256:{}", "ab".repeat(32))),
            "changed since consent",
        ),
        (
            "malformed checksum",
            good.replace(&checksum, "sha256:00"),
            "is damaged",
        ),
        (
            "unknown field",
            good.replacen(
                "\"agent\": \"rev\"",
                "\"agent\": \"rev\", \"trusted\": true",
                1,
            ),
            "is damaged",
        ),
        (
            "record filed under another name",
            good.replacen("\"agent\": \"rev\"", "\"agent\": \"evil\"", 1),
            "is damaged",
        ),
        (
            "newer schema",
            good.replacen("\"schema_version\": 1", "\"schema_version\": 9", 1),
            "schema version 9",
        ),
        ("empty file", String::new(), "is damaged"),
    ];
    for (what, text, says) in cases {
        fs::write(w.store(), &text).unwrap();
        let check = w.check("rev");
        assert_eq!(code(&check), Some(1), "{what}: {}", stderr(&check));
        assert!(stderr(&check).contains(says), "{what}: {}", stderr(&check));
    }

    // Positive twin: the untouched store grants.
    fs::write(w.store(), &good).unwrap();
    assert_eq!(code(&w.check("rev")), Some(0));

    // Writable by others, or a symlink: refused with the fix.
    fs::set_permissions(w.store(), fs::Permissions::from_mode(0o666)).unwrap();
    let check = w.check("rev");
    assert_eq!(code(&check), Some(1));
    assert!(
        stderr(&check).contains(&format!("chmod 600 {}", w.store().display())),
        "{}",
        stderr(&check)
    );
    fs::set_permissions(w.store(), fs::Permissions::from_mode(0o600)).unwrap();
    fs::set_permissions(w.home(), fs::Permissions::from_mode(0o777)).unwrap();
    let check = w.check("rev");
    assert_eq!(code(&check), Some(1));
    assert!(stderr(&check).contains("chmod 700"), "{}", stderr(&check));
    fs::set_permissions(w.home(), fs::Permissions::from_mode(0o700)).unwrap();
    let real = w.home().join("real.json");
    fs::rename(w.store(), &real).unwrap();
    std::os::unix::fs::symlink(&real, w.store()).unwrap();
    let check = w.check("rev");
    assert_eq!(code(&check), Some(1));
    assert!(
        stderr(&check).contains("symbolic link"),
        "{}",
        stderr(&check)
    );
}

#[test]
fn eight_processes_granting_fifty_agents_each_keep_all_400() {
    let w = World::new();
    let names: Vec<Vec<String>> = (0..8)
        .map(|p| (0..50).map(|i| format!("p{p}-a{i}")).collect())
        .collect();
    for n in names.iter().flatten() {
        w.agent(n);
    }
    let children: Vec<Child> = names
        .iter()
        .map(|batch| {
            let mut args = vec!["consent", "grant", "--yes"];
            args.extend(batch.iter().map(String::as_str));
            w.cmd(&args)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    let store = w.store_json();
    let consents = store["consents"].as_object().unwrap();
    assert_eq!(consents.len(), 400);
    for n in names.iter().flatten() {
        assert_eq!(consents[n]["agent"], n.as_str());
    }
    let list = w.run(&["consent", "list", "--json"]);
    assert_eq!(code(&list), Some(0), "{}", stderr(&list));
    assert_eq!(code(&w.check("p7-a49")), Some(0));
}

#[test]
fn writer_killed_mid_write_leaves_old_or_new_store() {
    let w = World::new();
    let names: Vec<String> = (0..30).map(|i| format!("k{i}")).collect();
    // ~60 KiB per record: a store of up to ~2 MiB, so each write takes long enough for a
    // kill to land inside it now and then.
    for n in &names {
        w.agent_padded(n, 60 << 10);
    }
    w.grant_yes("k0");
    let mut last = 1;
    let mut kills = 0;
    for round in 0..40u64 {
        // Each round grants the rest, one rewrite of the whole store per agent.
        let mut args = vec!["consent", "grant", "--yes"];
        args.extend(names.iter().skip(1).map(String::as_str));
        let mut child = w
            .cmd(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(15 + (round * 37) % 150));
        if child.try_wait().unwrap().is_none() {
            kills += 1;
        }
        child.kill().ok();
        child.wait().unwrap();

        let text = fs::read(w.store()).unwrap();
        let store: Value = serde_json::from_slice(&text)
            .unwrap_or_else(|e| panic!("round {round}: store broken by SIGKILL: {e}"));
        assert_eq!(store["schema_version"], 1);
        let n = store["consents"].as_object().unwrap().len();
        assert!(n >= last, "round {round}: {n} records after {last}");
        last = n;
        assert_eq!(code(&w.check("k0")), Some(0), "round {round}");
        if round % 4 == 3 {
            let mut revoke = vec!["consent", "revoke"];
            revoke.extend(names.iter().skip(1).map(String::as_str));
            assert_eq!(code(&w.run(&revoke)), Some(0));
            last = 1;
        }
    }
    assert!(
        kills > 0,
        "no writer was killed while running; the test proved nothing"
    );
    // The store still accepts writes after all that (a stale temp file is not a problem).
    w.grant_yes("k29");
    assert_eq!(code(&w.check("k29")), Some(0));
}

#[test]
fn grant_without_terminal_or_yes_refuses_at_once() {
    let w = World::new();
    w.agent("rev");
    let out = w.run(&["consent", "grant", "rev"]);
    assert_eq!(code(&out), Some(1));
    assert!(stderr(&out).contains("not a terminal"), "{}", stderr(&out));
    assert!(!w.store().exists());
}

#[test]
fn agents_lists_name_description_risk_and_consent() {
    let w = World::new();
    w.agent("alpha");
    w.agent("beta");
    fs::write(
        w.policies().join("gamma.toml"),
        "version = 1\n[agent]\ndescription = \"Low\"\ncommand = [\"/bin/true\"]\n[filesystem]\nread_only = [\"/usr\"]\n",
    )
    .unwrap();
    w.grant_yes("alpha");
    let out = w.run(&["agents", "--json"]);
    assert_eq!(code(&out), Some(0), "{}", stderr(&out));
    let rows: Value = serde_json::from_slice(&out.stdout).unwrap();
    let summary: Vec<(String, String, String, String)> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["name"].as_str().unwrap().to_string(),
                r["description"].as_str().unwrap().to_string(),
                r["risk"].as_str().unwrap().to_string(),
                r["consent"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let s = |a: &str, b: &str, c: &str, d: &str| (a.into(), b.into(), c.into(), d.into());
    assert_eq!(
        summary,
        vec![
            s("alpha", "Agent alpha", "medium", "granted"),
            s("beta", "Agent beta", "medium", "missing"),
            s("gamma", "Low", "low", "not-required"),
        ]
    );
    let text = w.run(&["agents"]);
    assert!(stdout(&text).lines().next().unwrap().starts_with("NAME"));
    assert!(stdout(&text).contains("alpha"));
}

#[test]
fn duplicate_agent_names_name_both_files() {
    let w = World::new();
    w.agent("twin");
    // The same name in $MYCELIUM_HOME/policies, after the MYCELIUM_POLICIES directory.
    let local = w.home().join("policies");
    fs::create_dir_all(&local).unwrap();
    fs::copy(w.policies().join("twin.toml"), local.join("twin.toml")).unwrap();
    let out = w.run(&["agents"]);
    assert_eq!(code(&out), Some(1));
    let msg = stderr(&out);
    assert!(
        msg.contains(&w.policies().join("twin.toml").display().to_string()),
        "{msg}"
    );
    assert!(
        msg.contains(&local.join("twin.toml").display().to_string()),
        "{msg}"
    );
}

#[test]
fn policy_check_refuses_to_expose_mycelium_state() {
    let w = World::new();
    fs::create_dir_all(w.home()).unwrap();
    let write = |name: &str, path: &Path| {
        let p = w.files().join(name);
        fs::write(
            &p,
            format!(
                "version = 1\n[filesystem]\nread_only = [\"{}\"]\n",
                path.display()
            ),
        )
        .unwrap();
        p
    };
    for (name, path) in [
        ("home.toml", w.home()),
        ("store.toml", w.store()),
        ("policies.toml", w.policies()),
        ("parent.toml", w.root.path().to_path_buf()),
    ] {
        let file = write(name, &path);
        let out = w.run(&["policy", "check", file.to_str().unwrap()]);
        assert_eq!(code(&out), Some(1), "{name}: {}", stdout(&out));
        assert!(
            stdout(&out).contains("never visible inside a sandbox"),
            "{name}: {}",
            stdout(&out)
        );
    }
    // Positive twin: an unrelated path is fine.
    let file = write("ok.toml", &w.files());
    let out = w.run(&["policy", "check", file.to_str().unwrap()]);
    assert_eq!(code(&out), Some(0), "{}", stdout(&out));
}

/// A child on a fresh pseudo-terminal (as its controlling terminal), its output collected.
struct PtyChild {
    child: Child,
    master: fs::File,
    output: Arc<Mutex<Vec<u8>>>,
}

impl PtyChild {
    fn spawn(w: &World, args: &[&str]) -> PtyChild {
        let pty = nix::pty::openpty(None, None).unwrap();
        // `setsid --ctty` makes the child a session leader with the pty as its controlling
        // terminal, so Ctrl-C typed on it raises SIGINT as in a real terminal.
        let mut c = w.cmd_for(Path::new("setsid"));
        c.arg("--ctty").arg(bin()).args(args);
        let slave = fs::File::from(pty.slave);
        c.stdin(slave.try_clone().unwrap())
            .stdout(slave.try_clone().unwrap())
            .stderr(slave);
        let child = c.spawn().unwrap();
        // The parent's copies of the slave must close, or the reader never sees EIO.
        drop(c);
        let master = fs::File::from(pty.master);
        let output = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&output);
        let mut reader = master.try_clone().unwrap();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            // EIO once every slave descriptor is closed: the child is gone.
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        PtyChild {
            child,
            master,
            output,
        }
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.output.lock().unwrap()).into_owned()
    }

    fn wait_for(&self, needle: &str) {
        let start = Instant::now();
        while !self.text().contains(needle) {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "never saw {needle:?}; output so far:\n{}",
                self.text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn type_bytes(&mut self, bytes: &[u8]) {
        self.master.write_all(bytes).unwrap();
    }

    fn finish(mut self) -> (std::process::ExitStatus, String) {
        let status = self.child.wait().unwrap();
        // Let the reader drain what the child wrote last.
        let start = Instant::now();
        let mut prev = usize::MAX;
        while start.elapsed() < Duration::from_millis(500) {
            let len = self.output.lock().unwrap().len();
            if len == prev {
                break;
            }
            prev = len;
            std::thread::sleep(Duration::from_millis(50));
        }
        (status, self.text())
    }
}

const QUESTION: &str = "[yes/no]: ";

#[test]
fn pty_prompt_yes_grants() {
    let w = World::new();
    w.agent("rev");
    let mut p = PtyChild::spawn(&w, &["consent", "grant", "rev"]);
    p.wait_for(QUESTION);
    let shown = p.text();
    assert!(shown.contains("CONSENT REQUESTED for agent rev"), "{shown}");
    assert!(shown.contains("Risk: MEDIUM"), "{shown}");
    assert!(shown.contains("Can write:"), "{shown}");
    p.type_bytes(b"yes\n");
    let (status, out) = p.finish();
    assert_eq!(status.code(), Some(0), "{out}");
    assert!(out.contains("granted rev sha256:"), "{out}");
    assert_eq!(code(&w.check("rev")), Some(0));
}

#[test]
fn pty_prompt_no_refuses_and_shows_what_changed() {
    let w = World::new();
    let a = w.agent("rev");
    w.grant_yes("rev");
    let before = fs::read(w.store()).unwrap();
    edit(&a.policy, "processes = 64", "processes = 99");
    let mut p = PtyChild::spawn(&w, &["consent", "grant", "rev"]);
    p.wait_for(QUESTION);
    assert!(
        p.text().contains("limits.processes: 64 → 99"),
        "{}",
        p.text()
    );
    p.type_bytes(b"no\n");
    let (status, out) = p.finish();
    assert_eq!(status.code(), Some(1), "{out}");
    assert!(out.contains("not granted: the answer was not yes"), "{out}");
    assert_eq!(
        fs::read(w.store()).unwrap(),
        before,
        "a refusal must not touch the store"
    );
    assert_eq!(code(&w.check("rev")), Some(1));
}

#[test]
fn pty_prompt_end_of_input_refuses() {
    let w = World::new();
    w.agent("rev");
    let mut p = PtyChild::spawn(&w, &["consent", "grant", "rev"]);
    p.wait_for(QUESTION);
    p.type_bytes(b"\x04"); // Ctrl-D at the start of a line: end of input.
    let (status, out) = p.finish();
    assert_eq!(status.code(), Some(1), "{out}");
    assert!(out.contains("input ended before an answer"), "{out}");
    assert!(!w.store().exists());
    assert_eq!(code(&w.check("rev")), Some(1));
}

#[test]
fn pty_prompt_ctrl_c_refuses_and_leaves_the_store_untouched() {
    let w = World::new();
    w.agent("rev");
    w.agent("other");
    w.grant_yes("other");
    let before = fs::read(w.store()).unwrap();
    let mut p = PtyChild::spawn(&w, &["consent", "grant", "rev"]);
    p.wait_for(QUESTION);
    p.type_bytes(b"ye\x03");
    let (status, out) = p.finish();
    assert_eq!(status.signal(), Some(libc::SIGINT), "{status:?}: {out}");
    assert_eq!(fs::read(w.store()).unwrap(), before);
    assert_eq!(code(&w.check("rev")), Some(1));
    assert_eq!(code(&w.check("other")), Some(0));
}
