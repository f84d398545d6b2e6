//! `mycelium serve` through real MCP clients, the way an MCP host uses it: the official
//! Python SDK (PyPI `mcp`, driven by `tests/mcp/flows.py`) in both protocol eras — the
//! classic `initialize` handshake ("legacy") and the stateless 2026-07-28 revision — over
//! standard input and output and over streamable HTTP, and the MCP Inspector's CLI.
//!
//! `scripts/mcp-clients.sh` installs the clients; without them these tests skip loudly
//! (fail under `MYCELIUM_REQUIRE_MCP_CLIENTS=1`, as CI sets). Every agent runs in a real
//! sandbox, so the sandbox gate applies too.

use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use crate::common::bin;
use crate::common::gate::{McpClients, require_mcp_clients};
use crate::sandbox::{Fixture, SYSTEM};

/// The protocol eras the Python SDK speaks: `mode=` of its `Client`.
const MODES: [&str; 2] = ["legacy", "2026-07-28"];

/// The five tools, as `tools/list` names them.
const TOOLS: [&str; 5] = [
    "cancel_workflow",
    "get_workflow_output",
    "get_workflow_status",
    "invoke_agent",
    "list_agents",
];

/// A GitHub token the sanitizer's `github-pat` rule redacts (see src/sanitize/builtin.rs).
const FAKE_TOKEN: &str = "ghp_abcdefghijklmnopqrstuvwxyz0123456789";

/// What the low-risk `echoer` prints for `task`.
fn echoed(task: &str) -> String {
    format!("task: {task}\ntoken [REDACTED:github-pat]\n")
}

/// The clients, a scratch directory with the server's policies, a private
/// `$MYCELIUM_HOME`, a workspace root holding a workspace, and a directory outside it.
struct Mcp {
    fx: Fixture,
    clients: McpClients,
}

impl Mcp {
    /// The world for `test`, or `None` (after the gates' loud skip) when the sandbox or the
    /// clients are missing here.
    fn new(test: &str) -> Option<Mcp> {
        if !crate::common::gate::require_sandbox(test) {
            return None;
        }
        let clients = require_mcp_clients(test)?;
        let fx = Fixture::new();
        fx.mkdir("policies");
        let home = fx.mkdir("home");
        std::fs::set_permissions(&home, std::os::unix::fs::PermissionsExt::from_mode(0o700))
            .unwrap();
        // A root run's agents take the workspace owner's ids: both the root and the
        // workspace belong to the test's unprivileged owner.
        fx.workspace("root");
        fx.workspace("root/ws");
        fx.file("root/ws/notes.txt", "hello\n");
        fx.workspace("outside");
        std::os::unix::fs::symlink(fx.path().join("outside"), fx.path().join("root/link")).unwrap();
        let m = Mcp { fx, clients };
        m.agent(
            "echoer",
            "description = \"Echoes its task\"\ntask = \"env\"",
            &format!("echo \"task: $MYCELIUM_TASK\"; echo \"token {FAKE_TOKEN}\""),
            "",
        );
        Some(m)
    }

    /// Write `policies/NAME.toml`: `agent` lines under `[agent]`, the command
    /// `/bin/sh -c SCRIPT`, the system paths read-only, then `rest`.
    fn agent(&self, name: &str, agent: &str, script: &str, rest: &str) {
        self.fx.file(
            &format!("policies/{name}.toml"),
            &format!(
                "[agent]\n{agent}\ncommand = [\"/bin/sh\", \"-c\", {script:?}]\n\n[filesystem]\nread_only = [{SYSTEM}]\n{rest}\n"
            ),
        );
    }

    /// A high-risk agent (the host's network), which needs a human's consent.
    fn high_risk_agent(&self, name: &str, script: &str) {
        self.agent(
            name,
            "description = \"Reaches the network\"",
            script,
            "\n[network]\nmode = \"host\"",
        );
    }

    fn policies(&self) -> PathBuf {
        self.fx.path().join("policies")
    }

    fn home(&self) -> PathBuf {
        self.fx.path().join("home")
    }

    fn root(&self) -> PathBuf {
        self.fx.path().join("root")
    }

    fn path(&self, rel: &str) -> String {
        self.fx.path().join(rel).to_str().unwrap().to_owned()
    }

    /// The environment every process of the test gets, the test's own left out.
    fn env(&self, c: &mut Command) {
        c.env_clear()
            .envs(crate::common::launcher_env())
            .envs(crate::common::profile_env())
            .env("PATH", "/usr/bin:/bin")
            .env("HOME", self.fx.path())
            .env("MYCELIUM_HOME", self.home());
    }

    /// The command a `consent_required` error gives for `name`: this server's home and
    /// policies, so it works as given.
    fn grant_command(&self, name: &str) -> String {
        format!(
            "MYCELIUM_HOME={} mycelium --policies {} consent grant {name}",
            self.home().display(),
            self.policies().display()
        )
    }

    /// `mycelium --policies DIR ARGS…` on the same home as the server.
    fn cli(&self, args: &[&str]) -> Output {
        let mut c = Command::new(bin());
        c.arg("--policies").arg(self.policies()).args(args);
        self.env(&mut c);
        c.stdin(Stdio::null()).output().unwrap()
    }

    /// `mycelium --policies DIR serve --workspace-root ROOT ARGS…`, not started.
    fn serve(&self, args: &[&str]) -> Command {
        let mut c = Command::new(bin());
        c.arg("--policies")
            .arg(self.policies())
            .arg("serve")
            .arg("--workspace-root")
            .arg(self.root())
            .args(args);
        self.env(&mut c);
        c
    }

    /// `flows.py ARGS…` with `stdin`, its report parsed; a failed run panics with what it
    /// (and the server, whose standard error it shares) said.
    fn flows(&self, args: &[&str], stdin: &Value) -> Value {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mcp/flows.py");
        let mut c = Command::new(&self.clients.python);
        c.arg(script).args(args);
        self.env(&mut c);
        c.env("MCP_TEST_BIN", bin())
            .env("MCP_TEST_POLICIES", self.policies())
            .env("MCP_TEST_WORKSPACE_ROOT", self.root())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = c.spawn().unwrap();
        let input = stdin.to_string();
        let mut pipe = child.stdin.take().unwrap();
        let writer = std::thread::spawn(move || pipe.write_all(input.as_bytes()));
        let o = child.wait_with_output().unwrap();
        writer.join().unwrap().unwrap();
        assert!(
            o.status.success(),
            "flows.py {args:?} failed ({}):\n{}",
            o.status,
            text(&o.stderr)
        );
        serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
            panic!(
                "flows.py printed no JSON ({e}): {}\n{}",
                text(&o.stdout),
                text(&o.stderr)
            )
        })
    }

    /// One session of `mode` over stdio (the server started by the client with `serve`'s
    /// extra `serve_args`), making `steps`: the whole report.
    fn session(
        &self,
        mode: &str,
        serve_args: &[&str],
        elicit: Option<&str>,
        steps: Value,
    ) -> Value {
        let mut args = vec!["calls".to_owned(), format!("--mode={mode}")];
        if let Some(answer) = elicit {
            args.push(format!("--elicit={answer}"));
        }
        // `=`: the values start with dashes.
        args.extend(serve_args.iter().map(|a| format!("--serve-arg={a}")));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let report = self.flows(&args, &steps);
        assert_eq!(
            report["results"].as_array().map(Vec::len),
            steps.as_array().map(Vec::len),
            "{report:#}"
        );
        // Every answer, tool errors included, is one its tool's output schema admits.
        for r in results(&report) {
            assert_eq!(
                r["schema_errors"].as_array().map_or(0, Vec::len),
                0,
                "{r:#}"
            );
        }
        report
    }

    /// `steps` in one plain session of `mode`: their results.
    fn calls(&self, mode: &str, steps: Value) -> Vec<Value> {
        results(&self.session(mode, &[], None, steps))
    }

    /// `mcp-inspector --cli --protocol-era ERA --format json ARGS… SERVER-COMMAND…`, the
    /// server being `serve` on this world with `serve_args`: the inspector's exit code, its
    /// JSON output, its standard error.
    fn inspector(&self, era: &str, serve_args: &[&str], args: &[&str]) -> (i32, Value, String) {
        let mut c = Command::new(&self.clients.inspector);
        self.env(&mut c);
        // The inspector runs on node, wherever the installer found it.
        if let Some(path) = std::env::var_os("PATH") {
            c.env("PATH", path);
        }
        c.args(["--cli", "--protocol-era", era, "--format", "json"]);
        // The server gets what these name and the inspector's few defaults (PATH, HOME…).
        let server_env = [("MYCELIUM_HOME", self.home().into_os_string())]
            .into_iter()
            .chain(crate::common::launcher_env())
            .chain(crate::common::profile_env());
        for (k, v) in server_env {
            c.arg("-e").arg(format!("{k}={}", v.to_string_lossy()));
        }
        c.args(args)
            .arg(bin())
            .arg("--policies")
            .arg(self.policies())
            .arg("serve")
            .arg("--workspace-root")
            .arg(self.root())
            .args(serve_args)
            .stdin(Stdio::null());
        let o = c.output().unwrap();
        let out: Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
            panic!(
                "the inspector printed no JSON ({e}): {}\n{}",
                text(&o.stdout),
                text(&o.stderr)
            )
        });
        (o.status.code().unwrap_or(-1), out, text(&o.stderr))
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The results of a report.
fn results(report: &Value) -> Vec<Value> {
    report["results"].as_array().unwrap().clone()
}

/// A step: `tool` called with `args`.
fn call(tool: &str, args: Value) -> Value {
    json!({"tool": tool, "args": args})
}

/// The structured content of a successful tool result (checked against the text content,
/// which must carry the same JSON).
fn ok(r: &Value) -> &Value {
    assert_eq!(r["is_error"], json!(false), "a tool error: {r:#}");
    let structured = &r["structured"];
    assert!(structured.is_object(), "no structured content: {r:#}");
    let text: Value = serde_json::from_str(r["text"][0].as_str().unwrap()).unwrap();
    assert_eq!(
        &text, structured,
        "the text content differs from the structured one"
    );
    structured
}

/// The structured content of a tool error with code `code` (also carried, as JSON, by one
/// of its text blocks, for clients that read no structured content).
fn tool_error<'a>(r: &'a Value, code: &str) -> &'a Value {
    assert_eq!(
        (&r["is_error"], &r["structured"]["error"]),
        (&json!(true), &json!(code)),
        "{r:#}"
    );
    assert!(
        r["text"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| serde_json::from_str::<Value>(t.as_str().unwrap())
                .ok()
                .as_ref()
                == Some(&r["structured"])),
        "no text block carries the structured content: {r:#}"
    );
    assert!(
        r["structured"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "no message: {r:#}"
    );
    &r["structured"]
}

/// The `list_agents` entry of `name`, with the fields the interface names.
fn listed(r: &Value, name: &str) -> Value {
    let agents = ok(r)["agents"].as_array().unwrap();
    let a = agents
        .iter()
        .find(|a| a["name"] == name)
        .unwrap_or_else(|| panic!("{name} is not listed: {r:#}"));
    json!({
        "name": a["name"],
        "description": a["description"],
        "risk": a["risk"],
        "reasons": a["reasons"],
        "consent": a["consent"],
    })
}

/// The status to wait for, then the output: `get_workflow_status` with a wait, then
/// `get_workflow_output` of the latest workflow.
fn wait_and_read() -> [Value; 2] {
    [
        call(
            "get_workflow_status",
            json!({"workflow_id": "$workflow_id", "wait_seconds": 30}),
        ),
        call(
            "get_workflow_output",
            json!({"workflow_id": "$workflow_id"}),
        ),
    ]
}

/// The ended workflow a `get_workflow_status` answer shows, with the fields that change
/// from run to run (id, checksum, times, the layers applied) checked for shape and left out.
fn ended(r: &Value) -> Value {
    let s = ok(r);
    let id = s["workflow_id"].as_str().unwrap();
    assert!(
        id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()),
        "{s:#}"
    );
    assert!(
        s["checksum"].as_str().unwrap().starts_with("sha256:"),
        "{s:#}"
    );
    for t in ["created_at", "started_at", "completed_at"] {
        assert!(s[t].is_string(), "{t}: {s:#}");
    }
    assert!(s["layers"].is_object(), "{s:#}");
    json!({
        "status": s["status"],
        "agent_name": s["agent_name"],
        "exit_code": s["exit_code"],
        "result": s["result"],
        "truncated": s["truncated"],
        "error": s["error"],
        "redactions": s["redactions"],
        "risk_level": s["risk_level"],
    })
}

/// What `ended` shows of an agent that printed `result` and exited 0.
fn completed(agent: &str, result: &str, risk: &str, redactions: Value) -> Value {
    json!({
        "status": "completed",
        "agent_name": agent,
        "exit_code": 0,
        "result": result,
        "truncated": false,
        "error": null,
        "redactions": redactions,
        "risk_level": risk,
    })
}

/// The consent state `mycelium agents --json` shows for `name`.
fn consent_state(m: &Mcp, name: &str) -> Value {
    let o = m.cli(&["agents", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let rows: Value = serde_json::from_slice(&o.stdout).unwrap();
    rows.as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == name)
        .map(|r| r["consent"].clone())
        .unwrap_or_else(|| panic!("{name} not in {rows:#}"))
}

#[test]
fn a_low_risk_agent_runs_and_its_result_comes_back_sanitized() {
    let Some(m) = Mcp::new("a_low_risk_agent_runs_and_its_result_comes_back_sanitized") else {
        return;
    };
    for mode in MODES {
        let task = format!("hello from {mode}");
        let [status, output] = wait_and_read();
        let report = m.session(
            mode,
            &[],
            None,
            json!([
                call("list_agents", json!({})),
                call(
                    "invoke_agent",
                    json!({"agent_name": "echoer", "task_description": task})
                ),
                status,
                output,
                // The first ten bytes, then the rest from where they ended.
                call(
                    "get_workflow_output",
                    json!({"workflow_id": "$workflow_id", "limit": 10})
                ),
                call(
                    "get_workflow_output",
                    json!({"workflow_id": "$workflow_id", "offset": 10})
                ),
            ]),
        );
        assert_eq!(
            report["protocol_version"],
            json!(mode_version(mode)),
            "{report:#}"
        );
        let r = results(&report);
        assert_eq!(
            listed(&r[0], "echoer"),
            json!({
                "name": "echoer",
                "description": "Echoes its task",
                "risk": "low",
                "reasons": [],
                "consent": "not-required",
            }),
            "{mode}"
        );
        let invoked = ok(&r[1]);
        assert_eq!(
            (&invoked["agent_name"], invoked["message"].is_string()),
            (&json!("echoer"), true),
            "{mode}: {invoked:#}"
        );
        assert!(
            ["pending", "running", "completed"].contains(&invoked["status"].as_str().unwrap()),
            "{mode}: {invoked:#}"
        );
        assert_eq!(
            ended(&r[2]),
            completed("echoer", &echoed(&task), "low", json!({"github-pat": 1})),
            "{mode}"
        );
        assert_eq!(r[2]["structured"]["workflow_id"], invoked["workflow_id"]);
        let out = ok(&r[3]);
        let whole = echoed(&task);
        assert_eq!(
            out,
            &json!({
                "workflow_id": invoked["workflow_id"],
                "offset": 0,
                "next_offset": whole.len(),
                "total": whole.len(),
                "output": whole,
                "status": "completed",
                "complete": true,
            }),
            "{mode}"
        );
        let pages = [ok(&r[4]), ok(&r[5])];
        assert_eq!(
            pages.map(|p| (
                p["offset"].clone(),
                p["next_offset"].clone(),
                p["output"].clone(),
                p["complete"].clone()
            )),
            [
                (json!(0), json!(10), json!(whole[..10]), json!(false)),
                (
                    json!(10),
                    json!(whole.len()),
                    json!(whole[10..]),
                    json!(true)
                ),
            ],
            "{mode}"
        );
        // The raw token is nowhere in what the client saw, in any field.
        assert!(!report.to_string().contains(FAKE_TOKEN), "{report:#}");
    }
}

/// The protocol version a client of `mode` ends up speaking.
fn mode_version(mode: &str) -> &str {
    match mode {
        // The newest handshake revision the SDK offers, which the server accepts.
        "legacy" => "2025-11-25",
        m => m,
    }
}

#[test]
fn a_high_risk_agent_needs_consent_granted_in_a_terminal_and_again_after_an_edit() {
    let test = "a_high_risk_agent_needs_consent_granted_in_a_terminal_and_again_after_an_edit";
    for mode in MODES {
        let Some(m) = Mcp::new(test) else {
            return;
        };
        m.high_risk_agent("nethost", "echo first version");
        let invoke = call(
            "invoke_agent",
            json!({"agent_name": "nethost", "task_description": "go", "wait_seconds": 30}),
        );
        let r = m.calls(mode, json!([call("list_agents", json!({})), invoke]));
        assert_eq!(
            listed(&r[0], "nethost")["consent"],
            json!("missing"),
            "{mode}"
        );
        let e = tool_error(&r[1], "consent_required");
        assert_eq!(
            (
                &e["agent_name"],
                &e["risk"],
                &e["reason"],
                &e["changed"],
                &e["command"]
            ),
            (
                &json!("nethost"),
                &json!("high"),
                &json!("missing"),
                &json!([]),
                &json!(m.grant_command("nethost"))
            ),
            "{mode}: {e:#}"
        );
        assert!(
            e.get("workflow_id").is_none(),
            "{mode}: something ran: {e:#}"
        );

        // The human runs the command the error named, with the server's home.
        let o = m.cli(&["consent", "grant", "--yes", "nethost"]);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
        let [status, _] = wait_and_read();
        let r = m.calls(
            mode,
            json!([call("list_agents", json!({})), invoke, status]),
        );
        assert_eq!(
            listed(&r[0], "nethost")["consent"],
            json!("granted"),
            "{mode}"
        );
        assert_eq!(
            ok(&r[1])["status"],
            json!("completed"),
            "{mode}: {:#}",
            r[1]
        );
        assert_eq!(
            ended(&r[2]),
            completed("nethost", "first version\n", "high", json!({})),
            "{mode}"
        );

        // The policy changes: the grant no longer covers it, twice in a row.
        m.high_risk_agent("nethost", "echo second version");
        let r = m.calls(
            mode,
            json!([invoke, invoke, call("list_agents", json!({}))]),
        );
        for refused in &r[..2] {
            let e = tool_error(refused, "consent_required");
            assert_eq!(
                (&e["reason"], &e["command"]),
                (
                    &json!("changed_since_consent"),
                    &json!(m.grant_command("nethost"))
                ),
                "{mode}: {e:#}"
            );
            assert!(
                !e["changed"].as_array().unwrap().is_empty(),
                "{mode}: what changed is not said: {e:#}"
            );
        }
        assert_eq!(
            listed(&r[2], "nethost")["consent"],
            json!("changed"),
            "{mode}"
        );
    }
}

#[test]
fn consent_asked_through_the_client_is_recorded_when_accepted() {
    let test = "consent_asked_through_the_client_is_recorded_when_accepted";
    for mode in MODES {
        let Some(m) = Mcp::new(test) else {
            return;
        };
        m.high_risk_agent("nethost", "echo granted through the client");
        let report = m.session(
            mode,
            &["--consent-via-client"],
            Some("accept"),
            json!([call(
                "invoke_agent",
                json!({"agent_name": "nethost", "task_description": "go", "wait_seconds": 30})
            )]),
        );
        let r = results(&report);
        assert_eq!(
            ok(&r[0])["status"],
            json!("completed"),
            "{mode}: {report:#}"
        );
        // One question, a form with one yes/no field, naming the agent.
        let asked = report["elicitations"].as_array().unwrap();
        assert_eq!(asked.len(), 1, "{mode}: {report:#}");
        assert_eq!(
            (
                &asked[0]["mode"],
                &asked[0]["requestedSchema"]["properties"]["grant"]["type"],
                &asked[0]["requestedSchema"]["required"],
            ),
            (&json!("form"), &json!("boolean"), &json!(["grant"])),
            "{mode}: {report:#}"
        );
        assert!(
            asked[0]["message"].as_str().unwrap().contains("nethost"),
            "{mode}: {report:#}"
        );
        // Asked the way the era asks: an `elicitation/create` request of the server's
        // (legacy), or an input request inside an input-required result (2026-07-28).
        assert_eq!(
            asked[0]["request_id"].is_number(),
            mode == "legacy",
            "{mode}: {report:#}"
        );
        // Recorded like `mycelium consent grant`.
        let o = m.cli(&["consent", "check", "nethost"]);
        assert_eq!(o.status.code(), Some(0), "{mode}: {}", text(&o.stderr));
        assert_eq!(consent_state(&m, "nethost"), json!("granted"), "{mode}");
    }
}

#[test]
fn consent_declined_through_the_client_runs_nothing_and_records_nothing() {
    let test = "consent_declined_through_the_client_runs_nothing_and_records_nothing";
    for mode in MODES {
        let Some(m) = Mcp::new(test) else {
            return;
        };
        m.high_risk_agent("nethost", "echo ran");
        let invoke = call(
            "invoke_agent",
            json!({"agent_name": "nethost", "task_description": "go", "wait_seconds": 30}),
        );
        // Declined, or the form sent back with the box left unticked.
        for answer in ["decline", "accept-unticked"] {
            let report = m.session(
                mode,
                &["--consent-via-client"],
                Some(answer),
                json!([invoke, call("list_agents", json!({}))]),
            );
            let r = results(&report);
            let e = tool_error(&r[0], "consent_declined");
            assert_eq!(e["agent_name"], json!("nethost"), "{mode} {answer}: {e:#}");
            assert!(
                e.get("workflow_id").is_none(),
                "{mode} {answer}: something ran: {e:#}"
            );
            assert_eq!(
                report["elicitations"].as_array().unwrap().len(),
                1,
                "{mode} {answer}"
            );
            assert_eq!(
                listed(&r[1], "nethost")["consent"],
                json!("missing"),
                "{mode} {answer}"
            );
            let o = m.cli(&["consent", "check", "nethost"]);
            assert_eq!(
                o.status.code(),
                Some(1),
                "{mode} {answer}: {}",
                text(&o.stderr)
            );
            assert_eq!(
                consent_state(&m, "nethost"),
                json!("missing"),
                "{mode} {answer}"
            );
        }

        // A client that cannot show a form is not asked: the terminal's command instead.
        let report = m.session(mode, &["--consent-via-client"], None, json!([invoke]));
        let r = results(&report);
        let e = tool_error(&r[0], "consent_required");
        assert_eq!(e["command"], json!(m.grant_command("nethost")), "{mode}");
        assert_eq!(report["elicitations"], json!([]), "{mode}");
    }
}

#[test]
fn a_running_workflow_is_cancelled_and_progress_is_reported_while_waiting() {
    let test = "a_running_workflow_is_cancelled_and_progress_is_reported_while_waiting";
    let Some(m) = Mcp::new(test) else {
        return;
    };
    m.agent("sleeper", "", "echo started; exec sleep 1000", "");
    for mode in MODES {
        let r = m.calls(
            mode,
            json!([
                {
                    "tool": "invoke_agent",
                    "args": {"agent_name": "sleeper", "task_description": "sleep", "wait_seconds": 5},
                    "progress": true,
                },
                call("cancel_workflow", json!({"workflow_id": "$workflow_id"})),
                call(
                    "get_workflow_status",
                    json!({"workflow_id": "$workflow_id", "wait_seconds": 30})
                ),
                call("cancel_workflow", json!({"workflow_id": "$workflow_id"})),
            ]),
        );
        let invoked = ok(&r[0]);
        let id = invoked["workflow_id"].as_str().unwrap();
        assert_eq!(invoked["status"], json!("running"), "{mode}: {invoked:#}");
        // The five seconds' wait was reported as progress, about once a second.
        let progress = r[0]["progress"].as_array().unwrap();
        assert!(!progress.is_empty(), "{mode}: no progress: {:#}", r[0]);
        for p in progress {
            assert!(
                [
                    json!(format!("workflow {id} is pending")),
                    json!(format!("workflow {id} is running"))
                ]
                .contains(p),
                "{mode}: {:#}",
                r[0]
            );
        }
        assert_eq!(
            progress.last(),
            Some(&json!(format!("workflow {id} is running"))),
            "{mode}"
        );
        let c = ok(&r[1]);
        assert_eq!(
            (&c["workflow_id"], &c["cancel_requested"]),
            (&json!(id), &json!(true)),
            "{mode}: {c:#}"
        );
        let s = ok(&r[2]);
        assert_eq!(s["status"], json!("cancelled"), "{mode}: {s:#}");
        assert_eq!(s["result"], json!("started\n"), "{mode}: {s:#}");
        // Cancelling what has ended changes nothing, and says so.
        let again = ok(&r[3]);
        assert_eq!(
            (&again["cancel_requested"], &again["status"]),
            (&json!(false), &json!("cancelled")),
            "{mode}: {again:#}"
        );
    }
}

#[test]
fn an_agent_over_its_time_limit_times_out() {
    let Some(m) = Mcp::new("an_agent_over_its_time_limit_times_out") else {
        return;
    };
    m.agent(
        "slow",
        "timeout = \"1s\"",
        "echo waiting; exec sleep 1000",
        "",
    );
    for mode in MODES {
        let r = m.calls(
            mode,
            json!([
                call(
                    "invoke_agent",
                    json!({"agent_name": "slow", "task_description": "wait"})
                ),
                call(
                    "get_workflow_status",
                    json!({"workflow_id": "$workflow_id", "wait_seconds": 30})
                ),
            ]),
        );
        let s = ok(&r[1]);
        assert_eq!(
            (&s["status"], &s["result"]),
            (&json!("timed_out"), &json!("waiting\n")),
            "{mode}: {s:#}"
        );
    }
}

#[test]
fn unknown_agents_and_workflows_are_tool_errors() {
    let Some(m) = Mcp::new("unknown_agents_and_workflows_are_tool_errors") else {
        return;
    };
    let unknown = "0123456789abcdef0123456789abcdef";
    for mode in MODES {
        let r = m.calls(
            mode,
            json!([
                call(
                    "invoke_agent",
                    json!({"agent_name": "nosuch", "task_description": "x"})
                ),
                call("get_workflow_status", json!({"workflow_id": unknown})),
                call("get_workflow_output", json!({"workflow_id": unknown})),
                call("cancel_workflow", json!({"workflow_id": unknown})),
                call("list_agents", json!({})),
            ]),
        );
        assert_eq!(
            tool_error(&r[0], "unknown_agent")["agent_name"],
            json!("nosuch"),
            "{mode}"
        );
        for e in &r[1..4] {
            assert_eq!(
                tool_error(e, "unknown_workflow")["workflow_id"],
                json!(unknown),
                "{mode}"
            );
        }
        assert_eq!(listed(&r[4], "echoer")["risk"], json!("low"), "{mode}");
    }
}

#[test]
fn bad_arguments_are_tool_errors_and_the_server_keeps_answering() {
    let Some(m) = Mcp::new("bad_arguments_are_tool_errors_and_the_server_keeps_answering") else {
        return;
    };
    let invoke = |extra: Value| {
        let mut args = json!({"agent_name": "echoer", "task_description": "x"});
        for (k, v) in extra.as_object().unwrap() {
            args[k] = v.clone();
        }
        call("invoke_agent", args)
    };
    let ten_mb = "x".repeat(10 << 20);
    let bad = [
        (
            "a number for a name",
            call(
                "invoke_agent",
                json!({"agent_name": 5, "task_description": "x"}),
            ),
            "invalid_arguments",
        ),
        (
            "no task",
            call("invoke_agent", json!({"agent_name": "echoer"})),
            "invalid_arguments",
        ),
        (
            "an unknown field",
            invoke(json!({"bogus": 1})),
            "invalid_arguments",
        ),
        (
            "a 10 MB task",
            invoke(json!({"task_description": ten_mb})),
            "invalid_arguments",
        ),
        (
            "a wait past 60 s",
            invoke(json!({"wait_seconds": 61})),
            "invalid_arguments",
        ),
        (
            "a string for a wait",
            invoke(json!({"wait_seconds": "5"})),
            "invalid_arguments",
        ),
        (
            "a malformed workflow id",
            call("get_workflow_status", json!({"workflow_id": "not-an-id"})),
            "invalid_arguments",
        ),
        (
            "a zero page",
            call(
                "get_workflow_output",
                json!({"workflow_id": "0123456789abcdef0123456789abcdef", "limit": 0}),
            ),
            "invalid_arguments",
        ),
        (
            "arguments to list_agents",
            call("list_agents", json!({"all": true})),
            "invalid_arguments",
        ),
    ];
    for mode in MODES {
        let mut steps = Vec::new();
        for (_, step, _) in &bad {
            steps.push(step.clone());
            steps.push(call("list_agents", json!({})));
        }
        let r = m.calls(mode, Value::Array(steps));
        for (i, (what, _, code)) in bad.iter().enumerate() {
            let e = &r[2 * i];
            assert_eq!(
                (&e["is_error"], &e["structured"]["error"]),
                (&json!(true), &json!(code)),
                "{mode}: {what}: {e:#}"
            );
            assert_eq!(
                listed(&r[2 * i + 1], "echoer")["risk"],
                json!("low"),
                "{mode}: the call after {what}"
            );
        }
        // The 10 MB task is not echoed back.
        assert!(
            r[6]["text"][0].as_str().unwrap().len() < 4096,
            "{mode}: {}",
            r[6]["text"][0].as_str().unwrap().len()
        );
    }
}

#[test]
fn a_workspace_must_lie_inside_a_workspace_root() {
    let Some(m) = Mcp::new("a_workspace_must_lie_inside_a_workspace_root") else {
        return;
    };
    // Reads its workspace, nothing else: low risk, so no consent stands in the way.
    m.fx.file(
        "policies/lister.toml",
        &format!(
            "[agent]\ncommand = [\"/bin/ls\"]\n\n[filesystem]\nread_only = [{SYSTEM}, \"{{workspace}}\"]\n"
        ),
    );
    let lister = |ws: &str| {
        call(
            "invoke_agent",
            json!({"agent_name": "lister", "task_description": "list", "workspace": ws, "wait_seconds": 30}),
        )
    };
    let refused = [
        ("outside every root", m.path("outside")),
        ("relative", "root/ws".to_owned()),
        ("through ..", format!("{}/ws/../ws", m.root().display())),
        ("a link out of the root", m.path("root/link")),
        ("missing", m.path("root/missing")),
    ];
    for mode in MODES {
        let mut steps = vec![
            call(
                "invoke_agent",
                json!({"agent_name": "lister", "task_description": "list"}),
            ),
            lister(&m.path("root/ws")),
            call(
                "get_workflow_status",
                json!({"workflow_id": "$workflow_id"}),
            ),
        ];
        for (_, ws) in &refused {
            steps.push(lister(ws));
            steps.push(call("list_agents", json!({})));
        }
        let r = m.calls(mode, Value::Array(steps));
        // Needs a workspace and got none.
        tool_error(&r[0], "workspace_refused");
        // Positive twin: inside the root it runs and sees the workspace's file.
        assert_eq!(
            ok(&r[1])["status"],
            json!("completed"),
            "{mode}: {:#}",
            r[1]
        );
        assert_eq!(
            ok(&r[2])["result"],
            json!("notes.txt\n"),
            "{mode}: {:#}",
            r[2]
        );
        for (i, (what, _)) in refused.iter().enumerate() {
            let e = &r[3 + 2 * i];
            assert_eq!(
                (&e["is_error"], &e["structured"]["error"]),
                (&json!(true), &json!("workspace_refused")),
                "{mode}: {what}: {e:#}"
            );
            ok(&r[4 + 2 * i]);
        }
    }
}

/// A `serve --http` child on a free loopback port, stopped on drop.
struct HttpServer {
    child: Child,
    url: String,
    token: String,
}

impl HttpServer {
    const ORIGIN: &str = "http://localhost:1234";

    fn start(m: &Mcp) -> HttpServer {
        let token = "test-token-0123456789abcdef0123456789abcdef".to_owned();
        let token_file = m.fx.file("token", &format!("{token}\n"));
        std::fs::set_permissions(
            &token_file,
            std::os::unix::fs::PermissionsExt::from_mode(0o600),
        )
        .unwrap();
        let addr = free_port();
        let child = m
            .serve(&[
                "--http",
                &addr.to_string(),
                "--token-file",
                token_file.to_str().unwrap(),
                "--allowed-origin",
                Self::ORIGIN,
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let server = HttpServer {
            child,
            url: format!("http://{addr}/mcp"),
            token,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(addr).is_err() {
            assert!(
                Instant::now() < deadline,
                "serve --http never listened on {addr}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A loopback address no one listens on (the port the kernel hands out for 0).
fn free_port() -> SocketAddr {
    let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    l.local_addr().unwrap()
}

#[test]
fn http_needs_the_token_and_an_allowed_origin_and_then_serves_real_clients() {
    let test = "http_needs_the_token_and_an_allowed_origin_and_then_serves_real_clients";
    let Some(m) = Mcp::new(test) else {
        return;
    };
    let server = HttpServer::start(&m);
    let bearer = format!("Authorization: Bearer {}", server.token);
    let origin = format!("Origin: {}", HttpServer::ORIGIN);
    let probes = [
        ("no token", json!([]), 401),
        (
            "a wrong token",
            json!(["Authorization: Bearer wrong-token", origin]),
            401,
        ),
        (
            "another origin",
            json!([bearer, "Origin: http://evil.example"]),
            403,
        ),
        (
            "a foreign Host (DNS rebinding)",
            json!([bearer, "Host: evil.example"]),
            403,
        ),
        ("the opaque origin", json!([bearer, "Origin: null"]), 403),
        // Positive twins: the token, with the allowed origin or none.
        ("the token and the origin", json!([bearer, origin]), 200),
        ("the token, no origin", json!([bearer]), 200),
    ];
    let sets: Vec<Value> = probes.iter().map(|(_, h, _)| h.clone()).collect();
    let answers = m.flows(&["http-status", &server.url], &Value::Array(sets));
    for ((what, _, want), got) in probes.iter().zip(answers.as_array().unwrap()) {
        assert_eq!(got["status"], json!(want), "{what}: {got:#}");
        assert!(
            !got["body"].as_str().unwrap().contains(&server.token),
            "{what}: the token is in the answer: {got:#}"
        );
    }

    for mode in MODES {
        let task = format!("over http, {mode}");
        let [wait, _] = wait_and_read();
        let report = m.flows(
            &[
                "calls",
                "--mode",
                mode,
                "--http",
                &server.url,
                "--header",
                &bearer,
                "--header",
                &origin,
            ],
            &json!([
                call("list_agents", json!({})),
                call(
                    "invoke_agent",
                    json!({"agent_name": "echoer", "task_description": task})
                ),
                wait,
            ]),
        );
        let r = results(&report);
        assert_eq!(
            listed(&r[0], "echoer")["consent"],
            json!("not-required"),
            "{mode}"
        );
        ok(&r[1]);
        assert_eq!(
            ended(&r[2]),
            completed("echoer", &echoed(&task), "low", json!({"github-pat": 1})),
            "{mode}: {report:#}"
        );
    }
}

/// The Inspector's two eras: `--protocol-era` values.
const ERAS: [&str; 2] = ["legacy", "modern"];

#[test]
fn the_inspector_lists_five_portable_tools() {
    let Some(m) = Mcp::new("the_inspector_lists_five_portable_tools") else {
        return;
    };
    for era in ERAS {
        // --strict: exit 6 on an error-severity schema portability finding.
        let (code, out, err) = m.inspector(era, &[], &["--strict", "--method", "tools/list"]);
        assert_eq!(code, 0, "{era}: {err}\n{out:#}");
        let mut names: Vec<&str> = out["result"]["tools"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap())
            .collect();
        names.sort_unstable();
        assert_eq!(names, TOOLS, "{era}");
        for t in out["result"]["tools"].as_array().unwrap() {
            assert_eq!(t["inputSchema"]["type"], json!("object"), "{era}: {t:#}");
            assert_eq!(t["outputSchema"]["type"], json!("object"), "{era}: {t:#}");
            assert!(
                t["description"].as_str().is_some_and(|d| !d.is_empty()),
                "{era}: {t:#}"
            );
        }
    }
}

#[test]
fn the_inspector_calls_the_tools() {
    let Some(m) = Mcp::new("the_inspector_calls_the_tools") else {
        return;
    };
    for era in ERAS {
        let (code, out, err) = m.inspector(
            era,
            &[],
            &["--method", "tools/call", "--tool-name", "list_agents"],
        );
        assert_eq!(code, 0, "{era}: {err}");
        let agents = out["result"]["structuredContent"]["agents"]
            .as_array()
            .unwrap();
        assert!(
            agents.iter().any(|a| a["name"] == "echoer"),
            "{era}: {out:#}"
        );

        let task = format!("from the inspector, {era}");
        let args = json!({"agent_name": "echoer", "task_description": task, "wait_seconds": 30});
        let (code, out, err) = m.inspector(
            era,
            &[],
            &[
                "--method",
                "tools/call",
                "--tool-name",
                "invoke_agent",
                "--tool-args-json",
                &args.to_string(),
            ],
        );
        assert_eq!(code, 0, "{era}: {err}");
        let s = &out["result"]["structuredContent"];
        assert_eq!(
            (&s["status"], &s["agent_name"]),
            (&json!("completed"), &json!("echoer")),
            "{era}: {out:#}"
        );
    }
}

#[test]
fn the_inspector_without_elicitation_gets_consent_required() {
    let Some(m) = Mcp::new("the_inspector_without_elicitation_gets_consent_required") else {
        return;
    };
    m.high_risk_agent("nethost", "echo ran");
    let args = json!({"agent_name": "nethost", "task_description": "go"});
    for era in ERAS {
        // The server would ask through the client, but the Inspector cannot show a form.
        let (code, out, err) = m.inspector(
            era,
            &["--consent-via-client"],
            &[
                "--method",
                "tools/call",
                "--tool-name",
                "invoke_agent",
                "--tool-args-json",
                &args.to_string(),
            ],
        );
        // Exit 5: the tool answered isError.
        assert_eq!(code, 5, "{era}: {err}\n{out:#}");
        let r = &out["result"];
        assert_eq!(
            (
                &r["isError"],
                &r["structuredContent"]["error"],
                &r["structuredContent"]["command"]
            ),
            (
                &json!(true),
                &json!("consent_required"),
                &json!(m.grant_command("nethost"))
            ),
            "{era}: {out:#}"
        );
    }
    assert_eq!(consent_state(&m, "nethost"), json!("missing"));
}
