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
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
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
    assert_eq!(o.status.code(), Some(1));
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
    assert_eq!(o.status.code(), Some(1));
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
