//! `mycelium run AGENT`: consent first, then the policy's command, with pinned files run
//! from the bytes that were consented to.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use pretty_assertions::assert_eq;

use crate::common::bin;
use crate::gate;
use crate::sandbox::{Fixture, SYSTEM};

/// An agent home: a policies directory, a MYCELIUM_HOME, a workspace, an agent script.
struct Agents {
    fx: Fixture,
}

impl Agents {
    fn new() -> Self {
        let fx = Fixture::new();
        fx.mkdir("policies");
        fx.mkdir("home");
        std::fs::set_permissions(
            fx.path().join("home"),
            std::os::unix::fs::PermissionsExt::from_mode(0o700),
        )
        .unwrap();
        fx.workspace("ws");
        fx.mkdir("opt");
        Agents { fx }
    }

    fn script(&self, body: &str) -> PathBuf {
        let p = self
            .fx
            .file("opt/agent.sh", &format!("#!/bin/sh\n{body}\n"));
        std::fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        p
    }

    fn policy(&self, name: &str, agent: &str, extra_fs: &str) {
        let body =
            format!("[agent]\n{agent}\n\n[filesystem]\nread_only = [{SYSTEM}]\n{extra_fs}\n");
        self.fx.file(&format!("policies/{name}.toml"), &body);
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(bin());
        c.arg("--policies")
            .arg(self.fx.path().join("policies"))
            .args(args);
        c.env_clear()
            .envs(crate::common::launcher_env())
            .envs(crate::common::profile_env())
            .env("PATH", "/usr/bin:/bin")
            .env("HOME", self.fx.path())
            .env("MYCELIUM_HOME", self.fx.path().join("home"))
            .current_dir(self.fx.path())
            .stdin(Stdio::null());
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    fn ws(&self) -> PathBuf {
        self.fx.path().join("ws")
    }
}

/// Give `dir` and everything in it to the test's workspace owner (for a root run, whose
/// agents take the workspace owner's ids).
fn chown_tree(dir: &Path) {
    let owner = Some(crate::sandbox::TEST_OWNER);
    std::os::unix::fs::chown(dir, owner, owner).unwrap();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            chown_tree(&p);
        } else {
            std::os::unix::fs::lchown(&p, owner, owner).unwrap();
        }
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn toml_str(p: &Path) -> String {
    format!("{:?}", p.display().to_string())
}

#[test]
fn pinned_script_runs_from_the_consented_copy() {
    gate!("pinned_script_runs_from_the_consented_copy");
    let a = Agents::new();
    let script = a.script("echo \"running $0 with task: $1\"");
    a.policy(
        "echoer",
        &format!(
            "command = [\"/bin/sh\", {s}]\ntask = \"arg\"\npin = [{s}]",
            s = toml_str(&script)
        ),
        "",
    );
    let o = a.run(&["run", "echoer", "hello world"]);
    // The script is read through the descriptor of the sealed copy, not its path.
    assert_eq!(
        (o.status.code(), text(&o.stdout)),
        (
            Some(0),
            "running /proc/self/fd/4 with task: hello world\n".to_string()
        ),
        "{}",
        text(&o.stderr)
    );
}

#[test]
fn pinned_program_is_executed_from_its_descriptor() {
    gate!("pinned_program_is_executed_from_its_descriptor");
    let a = Agents::new();
    let script = a.script("echo \"$0 got $MYCELIUM_TASK\"");
    a.policy(
        "direct",
        &format!(
            "command = [{s}]\ntask = \"env\"\npin = [{s}]",
            s = toml_str(&script)
        ),
        "",
    );
    let o = a.run(&["run", "direct", "the task"]);
    // execveat(fd, "", AT_EMPTY_PATH) of a script: the kernel names it /dev/fd/N.
    assert_eq!(
        (o.status.code(), text(&o.stdout)),
        (Some(0), "/dev/fd/4 got the task\n".to_string()),
        "{}",
        text(&o.stderr)
    );
}

#[test]
fn consent_gates_the_run_and_an_edit_asks_again() {
    gate!("consent_gates_the_run_and_an_edit_asks_again");
    let a = Agents::new();
    let script = a.script("read task; echo \"$task\" > result.txt");
    a.policy(
        "writer",
        &format!(
            "command = [\"/bin/sh\", {s}]\ntask = \"stdin\"\npin = [{s}]",
            s = toml_str(&script)
        ),
        "read_write = [\"{workspace}\"]",
    );
    let ws = a.ws();
    let ws_s = ws.to_str().unwrap();
    // Medium risk (writes the workspace): without consent nothing runs.
    let o = a.run(&["run", "writer", "-w", ws_s, "first"]);
    assert_eq!(o.status.code(), Some(77), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("run `mycelium consent grant writer`"),
        "{}",
        text(&o.stderr)
    );
    assert!(!ws.join("result.txt").exists());

    let o = a.run(&["consent", "grant", "--yes", "writer"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let o = a.run(&["run", "writer", "-w", ws_s, "first"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(
        std::fs::read_to_string(ws.join("result.txt")).unwrap(),
        "first\n"
    );

    // One byte of the pinned program changes: consent is void until given again.
    std::fs::write(
        &script,
        std::fs::read_to_string(&script)
            .unwrap()
            .replace("task;", "task ;"),
    )
    .unwrap();
    let o = a.run(&["run", "writer", "-w", ws_s, "second"]);
    assert_eq!(o.status.code(), Some(77));
    assert!(
        text(&o.stderr).contains(&format!("pinned file {}", script.display())),
        "{}",
        text(&o.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(ws.join("result.txt")).unwrap(),
        "first\n"
    );
}

#[test]
fn an_agent_without_a_command_is_an_error_that_points_to_exec() {
    let a = Agents::new();
    a.policy("bare", "description = \"nothing to run\"", "");
    let o = a.run(&["run", "bare"]);
    assert_eq!(o.status.code(), Some(125));
    assert!(
        text(&o.stderr).contains("its policy has no [agent] command"),
        "{}",
        text(&o.stderr)
    );
}

#[test]
fn agent_output_is_sanitized_including_withheld_values_and_split_writes() {
    gate!("agent_output_is_sanitized_including_withheld_values_and_split_writes");
    let a = Agents::new();
    let canary = "canary-foo-token-0123456789";
    // The agent prints the value of a variable it was never given (as if it had found it in
    // a file), then half a GitHub token, a pause, the other half: neither may leak.
    let script = a.script(&format!(
        "echo found {canary} here; printf 'ghp_abcdefghijklmn'; sleep 1; printf 'opqrstuvwxyz0123456789 done\\n'"
    ));
    a.policy(
        "talker",
        &format!(
            "command = [\"/bin/sh\", {s}]\npin = [{s}]",
            s = toml_str(&script)
        ),
        "",
    );
    let o = a
        .cmd(&["run", "talker"])
        .env("FOO_TOKEN", canary)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    assert!(!out.contains(canary), "{out}");
    assert!(!out.contains("ghp_abcdefghijklmn"), "{out}");
    assert_eq!(
        out,
        "found [REDACTED:env:FOO_TOKEN] here\n[REDACTED:github-pat] done\n"
    );
    assert!(
        text(&o.stderr).contains("redacted 2 secret(s)"),
        "{}",
        text(&o.stderr)
    );
}

/// A low-risk agent (reads the system paths only) running `body` with `/bin/sh -c`.
fn shell_agent(a: &Agents, name: &str, body: &str) {
    a.policy(
        name,
        &format!("command = [\"/bin/sh\", \"-c\", {body:?}]"),
        "",
    );
}

#[test]
fn run_exits_with_the_agents_own_code_and_128_plus_the_signal() {
    gate!("run_exits_with_the_agents_own_code_and_128_plus_the_signal");
    let a = Agents::new();
    for (name, body, want) in [
        ("ok", "exit 0", 0),
        ("three", "exit 3", 3),
        ("one", "exit 1", 1),
        ("term", "kill -TERM $$", 128 + 15),
        ("kill", "kill -KILL $$", 128 + 9),
    ] {
        shell_agent(&a, name, body);
        let o = a.run(&["run", name]);
        assert_eq!(o.status.code(), Some(want), "{name}: {}", text(&o.stderr));
    }
}

#[test]
fn run_exits_125_when_the_agent_name_or_its_policy_is_wrong() {
    let a = Agents::new();
    let o = a.run(&["run", "nobody"]);
    assert_eq!(o.status.code(), Some(125), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("nobody"), "{}", text(&o.stderr));
    let o = a.run(&["run", "../escape"]);
    assert_eq!(o.status.code(), Some(125), "{}", text(&o.stderr));
    // An invalid policy: an unknown key.
    a.fx.file(
        "policies/broken.toml",
        "[agent]\ncommand = [\"/bin/true\"]\n[filesystem]\nread_only = [\"/usr\"]\nbogus = 1\n",
    );
    let o = a.run(&["run", "broken"]);
    assert_eq!(o.status.code(), Some(125), "{}", text(&o.stderr));
    // A pinned file that does not exist.
    a.policy(
        "unpinned",
        "command = [\"/bin/true\"]\npin = [\"/nonexistent/agent.sh\"]",
        "",
    );
    let o = a.run(&["run", "unpinned"]);
    assert_eq!(o.status.code(), Some(125), "{}", text(&o.stderr));
}

#[test]
fn run_exits_125_when_the_workspace_cannot_be_used_and_nothing_runs() {
    gate!("run_exits_125_when_the_workspace_cannot_be_used_and_nothing_runs");
    let a = Agents::new();
    let out = a.fx.mkdir("out");
    let marker = out.join("ran");
    a.policy(
        "ws",
        &format!(
            "command = [\"/bin/sh\", \"-c\", \"echo > {}\"]",
            marker.display()
        ),
        &format!("read_write = [\"{{workspace}}\", {}]", toml_str(&out)),
    );
    let o = a.run(&["consent", "grant", "--yes", "ws"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    // Positive twin: with a workspace the agent runs and leaves its marker.
    let ws = a.ws();
    let o = a.run(&["run", "ws", "-w", ws.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert!(marker.exists());
    std::fs::remove_file(&marker).unwrap();
    // No workspace given, and a workspace that does not exist.
    let o = a.run(&["run", "ws"]);
    assert_eq!(o.status.code(), Some(125), "{}", text(&o.stderr));
    let missing = a.fx.path().join("no-such-dir");
    let o = a.run(&["run", "ws", "-w", missing.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(125), "{}", text(&o.stderr));
    assert!(!marker.exists(), "the agent ran");
}

#[test]
fn run_exits_77_without_consent_and_a_denied_agent_is_told_what_works() {
    gate!("run_exits_77_without_consent_and_a_denied_agent_is_told_what_works");
    let a = Agents::new();
    let marker = a.ws().join("ran");
    a.policy(
        "w",
        &format!(
            "command = [\"/bin/sh\", \"-c\", \"echo >> {}\"]",
            marker.display()
        ),
        "read_write = [\"{workspace}\"]",
    );
    let ws = a.ws();
    let ws_s = ws.to_str().unwrap();
    // Medium risk, no consent: 77, nothing ran.
    let o = a.run(&["run", "w", "-w", ws_s]);
    assert_eq!(o.status.code(), Some(77), "{}", text(&o.stderr));
    assert!(!marker.exists());

    // Denied (even over a grant): 77, and the message names revoke, never grant alone.
    let o = a.run(&["consent", "grant", "--yes", "w"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let o = a.run(&["consent", "deny", "w"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let o = a.run(&["run", "w", "-w", ws_s]);
    let msg = text(&o.stderr);
    assert_eq!(o.status.code(), Some(77), "{msg}");
    assert!(!marker.exists());
    assert!(
        msg.contains("`mycelium consent revoke w` lifts the denial"),
        "{msg}"
    );
    assert!(
        !msg.contains("grant consent in a terminal with"),
        "a denied agent is sent to `consent grant`, which refuses: {msg}"
    );
    // Doing what it says works: revoke, then grant, then run.
    let o = a.run(&["consent", "grant", "--yes", "w"]);
    assert_eq!(o.status.code(), Some(1), "grant must refuse while denied");
    assert!(
        text(&o.stderr).contains("consent revoke w"),
        "{}",
        text(&o.stderr)
    );
    let o = a.run(&["consent", "revoke", "w"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let o = a.run(&["run", "w", "-w", ws_s]);
    assert_eq!(
        o.status.code(),
        Some(77),
        "revoked: asked again, {}",
        text(&o.stderr)
    );
    let o = a.run(&["consent", "grant", "--yes", "w"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let o = a.run(&["run", "w", "-w", ws_s]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(std::fs::read_to_string(&marker).unwrap(), "\n");
}

#[test]
fn help_lists_each_exit_code_of_run() {
    let o = crate::common::mycelium(&["run", "--help"]);
    let help = text(&o.stdout);
    for line in [
        "  77   run: not run for lack of consent",
        "  124  exec, run: the command timed out",
        "  125  exec, run: nothing ran: invalid policy, unknown or ambiguous agent name, unusable",
        "  N    exec, run: otherwise the command's own exit code; 128+N when killed by signal N",
    ] {
        assert!(help.contains(line), "{line:?} missing from: {help}");
    }
}

#[test]
fn one_duplicate_name_leaves_the_other_agents_listed_and_usable() {
    let a = Agents::new();
    a.policy("alpha", "command = [\"/bin/true\"]", "");
    a.policy("twice", "command = [\"/bin/true\"]", "");
    a.fx.mkdir("home/policies");
    let second = a.fx.file(
        "home/policies/twice.toml",
        &format!("[agent]\ncommand = [\"/bin/true\"]\n[filesystem]\nread_only = [{SYSTEM}]\n"),
    );
    a.fx.file(
        "home/policies/zeta.toml",
        &format!("[agent]\ncommand = [\"/bin/true\"]\n[filesystem]\nread_only = [{SYSTEM}]\n"),
    );
    let o = a.run(&["agents"]);
    let (out, err) = (text(&o.stdout), text(&o.stderr));
    // The rest is listed; the clash is reported with both files, and the exit code says so.
    assert_eq!(o.status.code(), Some(1), "{out}{err}");
    let names: Vec<&str> = out
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(names, ["alpha", "zeta"], "{out}");
    assert!(err.contains("agent \"twice\" is defined twice"), "{err}");
    assert!(err.contains(&second.display().to_string()), "{err}");
    let o = a.run(&["agents", "--json"]);
    assert_eq!(o.status.code(), Some(1));
    let rows: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(rows.as_array().map(Vec::len), Some(2), "{rows}");

    // The clashing name cannot be used by any command; the others can.
    for args in [
        &["run", "twice"][..],
        &["consent", "check", "twice"],
        &["policy", "explain", "twice"],
    ] {
        let o = a.run(args);
        assert_ne!(o.status.code(), Some(0), "{args:?}");
        assert!(
            text(&o.stderr).contains("is defined twice"),
            "{args:?}: {}",
            text(&o.stderr)
        );
    }
    let o = a.run(&["run", "twice"]);
    assert_eq!(o.status.code(), Some(125), "{}", text(&o.stderr));
    let o = a.run(&["consent", "check", "alpha"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
}

/// The options a command's `--help` defines (its option lines) and the ones its text
/// names anywhere.
fn options_of(help: &str) -> (Vec<String>, Vec<String>) {
    let flags = |text: &str| -> Vec<String> {
        let mut out = Vec::new();
        let b = text.as_bytes();
        let mut i = 0;
        while let Some(at) = text[i..].find("--") {
            let start = i + at + 2;
            let end = start
                + text[start..]
                    .find(|c: char| !(c.is_ascii_lowercase() || c == '-'))
                    .unwrap_or(text.len() - start);
            let before_ok = i + at == 0 || !b[i + at - 1].is_ascii_alphanumeric();
            if before_ok && end > start && b[start].is_ascii_lowercase() {
                out.push(text[start..end].trim_end_matches('-').to_string());
            }
            i = end.max(start);
        }
        out
    };
    let defined = help
        .lines()
        .filter(|l| l.trim_start().starts_with('-'))
        .flat_map(|l| flags(l.split("  ").find(|p| !p.trim().is_empty()).unwrap_or("")))
        .collect();
    (defined, flags(help))
}

#[test]
fn every_option_a_help_text_names_exists() {
    for cmd in [
        &["exec"][..],
        &["run"],
        &["doctor"],
        &["agents"],
        &["sanitize"],
        &["policy", "check"],
        &["policy", "explain"],
        &["consent", "grant"],
        &["consent", "check"],
        &["consent", "revoke"],
        &["consent", "deny"],
        &["consent", "list"],
        &["consent", "reset"],
    ] {
        let mut args = cmd.to_vec();
        args.push("--help");
        let o = crate::common::mycelium(&args);
        assert_eq!(o.status.code(), Some(0), "{cmd:?}");
        let help = text(&o.stdout);
        let (defined, named) = options_of(&help);
        assert!(
            defined.contains(&"help".to_string()),
            "{cmd:?}: {defined:?}"
        );
        for n in named {
            assert!(
                defined.contains(&n),
                "`mycelium {} --help` names --{n}, which it does not have: {help}",
                cmd.join(" ")
            );
        }
    }
}

#[test]
fn the_shipped_workspace_summary_agent_summarises_the_workspace() {
    gate!("the_shipped_workspace_summary_agent_summarises_the_workspace");
    let a = Agents::new();
    // The shipped file, byte for byte.
    std::fs::copy(
        crate::common::policies_dir().join("workspace-summary.toml"),
        a.fx.path().join("policies/workspace-summary.toml"),
    )
    .unwrap();
    let ws = a.ws();
    a.fx.file("ws/hello.py", "print(\"hello\")\n");
    a.fx.mkdir("ws/src");
    a.fx.file("ws/src/lib.rs", "fn a() {}\nfn b() {}\n");
    a.fx.file("ws/SUMMARY.md", "stale\n");
    if nix::unistd::geteuid().is_root() {
        chown_tree(&ws);
    }
    let ws_s = ws.to_str().unwrap();
    // Medium risk: it asks first.
    let o = a.run(&["run", "workspace-summary", "-w", ws_s, "what is in here?"]);
    assert_eq!(o.status.code(), Some(77), "{}", text(&o.stderr));
    let o = a.run(&["consent", "grant", "--yes", "workspace-summary"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let o = a.run(&["run", "workspace-summary", "-w", ws_s, "what is in here?"]);
    assert_eq!(
        (o.status.code(), text(&o.stdout)),
        (
            Some(0),
            "wrote SUMMARY.md: 2 files, 3 lines, 35 bytes.\n".to_string()
        ),
        "{}",
        text(&o.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(ws.join("SUMMARY.md")).unwrap(),
        "# Workspace summary\n\nTask: what is in here?\n\n| lines | bytes | file |\n| ---: | ---: | --- |\n| 1 | 15 | `hello.py` |\n| 2 | 20 | `src/lib.rs` |\n\n2 files, 3 lines, 35 bytes.\n"
    );
}

/// The README's block of example commands: the `sh` block that runs an agent.
fn readme_examples(readme: &str) -> Vec<String> {
    readme
        .split("```sh\n")
        .skip(1)
        .filter_map(|b| b.split("```").next())
        .find(|b| b.contains("mycelium run "))
        .expect("the README has a block of examples that runs an agent")
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn every_example_command_of_the_readme_works_on_a_fresh_home() {
    gate!("every_example_command_of_the_readme_works_on_a_fresh_home");
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let lines = readme_examples(&readme);
    assert!(
        lines.iter().any(|l| l.starts_with("mycelium run ")),
        "{lines:?}"
    );
    // A fresh directory with the shipped policies (the repository root), a fresh home with
    // no ~/.mycelium and no MYCELIUM_HOME or MYCELIUM_POLICIES, and `mycelium` on PATH, as
    // the README assumes.
    let a = Agents::new();
    let bin_dir = a.fx.mkdir("bin");
    std::os::unix::fs::symlink(bin(), bin_dir.join("mycelium")).unwrap();
    for e in std::fs::read_dir(crate::common::policies_dir()).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "toml") {
            std::fs::copy(
                &p,
                a.fx.path().join("policies").join(p.file_name().unwrap()),
            )
            .unwrap();
        }
    }
    let mut summary = None;
    for line in &lines {
        // Without a terminal the consent question cannot be answered: say yes as a
        // script would.
        let line = line.replace("mycelium consent grant ", "mycelium consent grant --yes ");
        let o = Command::new("/bin/sh")
            .args(["-c", &line])
            .env_clear()
            .envs(crate::common::launcher_env())
            .envs(crate::common::profile_env())
            .env("PATH", format!("{}:/usr/bin:/bin", bin_dir.display()))
            .env("HOME", a.fx.path())
            .current_dir(a.fx.path())
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert_eq!(
            o.status.code(),
            Some(0),
            "README line {line:?} failed: {}{}",
            text(&o.stdout),
            text(&o.stderr)
        );
        // What `cat` showed of the summary then: a later `--detach` run rewrites the file
        // while the rest of the block goes on, so reading it afterwards races that run.
        if line.starts_with("cat project/SUMMARY.md") {
            summary = Some(text(&o.stdout));
        }
        // As the README says, root first gives the project to the user the agent is for
        // (a root caller's agent takes the workspace owner's ids; a root-owned one is refused).
        if line.starts_with("mkdir -p project") && nix::unistd::geteuid().is_root() {
            chown_tree(&a.fx.path().join("project"));
        }
    }
    let summary = summary.expect("the README's block shows the summary with cat");
    assert!(summary.contains("`hello.py`"), "{summary}");
}

/// What the context agent prints: the context, the directory's listing, the file's mode
/// and size, how the mount is flagged, then what becomes of each attempt to change it.
const CONTEXT_PROBE: &str = r#"exec 2>&1
f=/run/mycelium/context.json
if [ ! -e /run/mycelium ]; then echo "no /run/mycelium"; exit 0; fi
cat $f; echo
ls -a /run/mycelium | tr '\n' ' '; echo
stat -c '%a %s' $f
while read -r _ _ _ _ at opts _; do [ "$at" = /run/mycelium ] && echo "$opts"; done < /proc/self/mountinfo
{ echo x > $f; } || echo "truncate refused"
{ echo x >> $f; } || echo "append refused"
chmod 666 $f || echo "chmod refused"
{ true > /run/mycelium/new; } || echo "create refused"
cat $f; echo"#;

#[test]
fn the_context_is_a_read_only_file_inside_and_absent_without_one() {
    gate!("the_context_is_a_read_only_file_inside_and_absent_without_one");
    let a = Agents::new();
    shell_agent(&a, "ctx", CONTEXT_PROBE);
    // Pretty, unsorted JSON: the agent gets it compact, keys sorted.
    let file = a.fx.file(
        "context.json",
        "{\n  \"task_id\": 7,\n  \"files\": [\"a.txt\", \"b c.txt\"],\n  \"note\": \"é \\\"quoted\\\"\"\n}\n",
    );
    let compact = r#"{"files":["a.txt","b c.txt"],"note":"é \"quoted\"","task_id":7}"#;
    let o = a.run(&["run", "ctx", "--context", file.to_str().unwrap()]);
    let f = "/run/mycelium/context.json";
    assert_eq!(
        (o.status.code(), text(&o.stdout)),
        (
            Some(0),
            format!(
                "{compact}\n\
                 . .. context.json \n\
                 444 {}\n\
                 ro,nosuid,nodev,noexec,relatime\n\
                 /bin/sh: 8: cannot create {f}: Read-only file system\n\
                 truncate refused\n\
                 /bin/sh: 9: cannot create {f}: Permission denied\n\
                 append refused\n\
                 chmod: changing permissions of '{f}': Read-only file system\n\
                 chmod refused\n\
                 /bin/sh: 11: cannot create /run/mycelium/new: Read-only file system\n\
                 create refused\n\
                 {compact}\n",
                compact.len()
            )
        ),
        "{}",
        text(&o.stderr)
    );
    // Twin: without --context there is no /run/mycelium at all.
    let o = a.run(&["run", "ctx"]);
    assert_eq!(
        (o.status.code(), text(&o.stdout)),
        (Some(0), "no /run/mycelium\n".to_string()),
        "{}",
        text(&o.stderr)
    );
}

#[test]
fn the_context_nests_in_a_policy_tmpfs_at_run_and_a_policy_mount_at_its_place_is_refused() {
    gate!("the_context_nests_in_a_policy_tmpfs_at_run_and_a_policy_mount_at_its_place_is_refused");
    let a = Agents::new();
    let file = a.fx.file("context.json", "[1, 2, 3]");
    // A writable /run of the policy's own: the context is readable in it and stays
    // read-only, while the rest of /run is the agent's to write.
    a.policy(
        "runtmp",
        "command = [\"/bin/sh\", \"-c\", \"exec 2>&1; cat /run/mycelium/context.json; echo; echo hi > /run/other && cat /run/other; chmod 666 /run/mycelium/context.json || echo refused\"]",
        "[filesystem.tmpfs]\n\"/run\" = \"1M\"",
    );
    let o = a.run(&["run", "runtmp", "--context", file.to_str().unwrap()]);
    assert_eq!(
        (o.status.code(), text(&o.stdout)),
        (
            Some(0),
            "[1,2,3]\nhi\nchmod: changing permissions of '/run/mycelium/context.json': Read-only file system\nrefused\n".to_string()
        ),
        "{}",
        text(&o.stderr)
    );
    // A policy that mounts its own /run/mycelium: refused when a context is given, before
    // anything runs; without one it runs.
    a.policy(
        "own",
        "command = [\"/bin/sh\", \"-c\", \"echo ran\"]",
        "[filesystem.tmpfs]\n\"/run/mycelium\" = \"1M\"",
    );
    let o = a.run(&["run", "own", "--context", file.to_str().unwrap()]);
    let policy = a.fx.path().join("policies/own.toml");
    assert_eq!(
        (o.status.code(), text(&o.stdout), text(&o.stderr)),
        (
            Some(125),
            String::new(),
            format!(
                "mycelium: {}: the policy places /run/mycelium inside the sandbox, but /run/mycelium is where the invocation's context is given to the agent (/run/mycelium/context.json); grant other paths, or run without a context\nmycelium: nothing was run\n",
                policy.display()
            )
        )
    );
    let o = a.run(&["run", "own"]);
    assert_eq!(
        (o.status.code(), text(&o.stdout)),
        (Some(0), "ran\n".to_string()),
        "{}",
        text(&o.stderr)
    );
}

#[test]
fn a_context_that_is_not_valid_json_stops_the_run_with_its_line_and_column() {
    let a = Agents::new();
    let marker = a.fx.path().join("ran");
    a.policy(
        "m",
        &format!(
            "command = [\"/bin/sh\", \"-c\", \"echo > {}\"]",
            marker.display()
        ),
        "",
    );
    let bad = a.fx.file("bad.json", "{\n  \"a\": 1,\n  \"b\": }\n");
    let o = a.run(&["run", "m", "--context", bad.to_str().unwrap()]);
    assert_eq!(
        (o.status.code(), text(&o.stdout), text(&o.stderr)),
        (
            Some(125),
            String::new(),
            format!(
                "mycelium: error: --context {}:3:8: not valid JSON: expected value\n",
                bad.display()
            )
        )
    );
    let missing = a.fx.path().join("missing.json");
    let o = a.run(&["run", "m", "--context", missing.to_str().unwrap()]);
    assert_eq!(
        (o.status.code(), text(&o.stderr)),
        (
            Some(125),
            format!(
                "mycelium: error: --context {}: No such file or directory (os error 2)\n",
                missing.display()
            )
        )
    );
    assert!(!marker.exists(), "the agent ran");
}

#[test]
fn a_fifo_or_a_directory_as_context_is_refused_without_waiting_for_a_writer() {
    gate!("a_fifo_or_a_directory_as_context_is_refused_without_waiting_for_a_writer");
    let a = Agents::new();
    shell_agent(&a, "ctx", CONTEXT_PROBE);
    // Nobody ever opens the FIFO for writing: a blind open would block until the bounded
    // run kills mycelium and fails the test.
    let fifo = a.fx.path().join("context.fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o644)).unwrap();
    let o = crate::escape::run_bounded(a.cmd(&["run", "ctx", "--context", fifo.to_str().unwrap()]));
    assert_eq!(
        (o.status.code(), text(&o.stdout), text(&o.stderr)),
        (
            Some(125),
            String::new(),
            format!(
                "mycelium: error: --context {}: this is a FIFO, not a regular file; give a file holding JSON\n",
                fifo.display()
            )
        )
    );
    let dir = a.fx.mkdir("context.d");
    let o = crate::escape::run_bounded(a.cmd(&["run", "ctx", "--context", dir.to_str().unwrap()]));
    assert_eq!(
        (o.status.code(), text(&o.stderr)),
        (
            Some(125),
            format!(
                "mycelium: error: --context {}: this is a directory, not a regular file; give a file holding JSON\n",
                dir.display()
            )
        )
    );
    // Twin: a link to a regular file is that file.
    let file = a.fx.file("real.json", "\"via a link\"");
    let link = a.fx.path().join("link.json");
    std::os::unix::fs::symlink(&file, &link).unwrap();
    let o = crate::escape::run_bounded(a.cmd(&["run", "ctx", "--context", link.to_str().unwrap()]));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert!(
        text(&o.stdout).starts_with("\"via a link\"\n"),
        "{}",
        text(&o.stdout)
    );
}

#[test]
fn a_context_of_one_mib_is_given_whole_and_one_byte_more_is_refused() {
    gate!("a_context_of_one_mib_is_given_whole_and_one_byte_more_is_refused");
    let a = Agents::new();
    shell_agent(
        &a,
        "size",
        "wc -c < /run/mycelium/context.json; head -c 5 /run/mycelium/context.json; echo",
    );
    // A JSON string of exactly 1 MiB, which is its own compact form.
    let max = 1 << 20;
    let at =
        a.fx.file("max.json", &format!("\"{}\"", "a".repeat(max - 2)));
    let o = a.run(&["run", "size", "--context", at.to_str().unwrap()]);
    assert_eq!(
        (o.status.code(), text(&o.stdout)),
        (Some(0), format!("{max}\n\"aaaa\n")),
        "{}",
        text(&o.stderr)
    );
    let over =
        a.fx.file("over.json", &format!("\"{}\"", "a".repeat(max - 1)));
    let o = a.run(&["run", "size", "--context", over.to_str().unwrap()]);
    assert_eq!(
        (o.status.code(), text(&o.stdout), text(&o.stderr)),
        (
            Some(125),
            String::new(),
            format!(
                "mycelium: error: --context {}: the file is larger than 1 MiB; pass a smaller context\n",
                over.display()
            )
        )
    );
}
