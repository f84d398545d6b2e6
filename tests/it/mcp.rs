//! `mycelium serve` driven over its standard input and output by a raw JSON-RPC client,
//! keeping every byte the server wrote: what must never reach a client (a secret from the
//! server's environment, a credential the agent printed, anything but protocol on standard
//! output) is asserted on those bytes, and the refusals that guard the sandbox (workspaces
//! outside the roots, consent) on the answers. The real SDK clients are in `mcp_clients`.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

use crate::common::bin;
use crate::gate;
use crate::sandbox::{Fixture, SYSTEM};

/// A canary in the server's environment: shaped like a GitHub token, so it is both a
/// sensitive variable (withheld from agents) and a pattern the sanitizer knows.
const CANARY_ENV: &str = "ghp_Zq7Xw3Lk9Pm2Rt5Vb8Nc1Hd4Jf6Gs0Ya3Ue";
/// A secret the policy passes to the agent (`allow_secrets`): no pattern knows it.
const PASSED_SECRET: &str = "Zx9-q7Lk2-Pm4wT";
/// A credential the agent prints: an AWS access key id.
const PRINTED_KEY: &str = "AKIAQ7ZJ4KXN2M5PVW3R";

/// An agent home for the server: policies, `$MYCELIUM_HOME`, a workspace root.
struct Setup {
    fx: Fixture,
}

impl Setup {
    fn new() -> Setup {
        let fx = Fixture::new();
        fx.mkdir("policies");
        fx.mkdir("home");
        std::fs::set_permissions(fx.path().join("home"), PermissionsExt::from_mode(0o700)).unwrap();
        fx.mkdir("roots");
        fx.workspace("roots/project");
        Setup { fx }
    }

    fn path(&self) -> &Path {
        self.fx.path()
    }

    fn root(&self) -> PathBuf {
        self.path().join("roots")
    }

    /// An agent named `name` running `script` with `sh -c`, its task as `$0`.
    fn agent(&self, name: &str, script: &str, extra: &str) {
        self.agent_with(name, "", script, extra);
    }

    /// [`Setup::agent`] with more `[agent]` keys.
    fn agent_with(&self, name: &str, agent_keys: &str, script: &str, extra: &str) {
        let body = format!(
            "[agent]\ncommand = [\"/bin/sh\", \"-c\", {script:?}]\ntask = \"arg\"\n{agent_keys}\n\n[filesystem]\nread_only = [{SYSTEM}]\n{extra}\n"
        );
        self.fx.file(&format!("policies/{name}.toml"), &body);
    }

    /// `mycelium ARGS…` on this setup's home, with a clean environment and no input.
    fn mycelium(&self, args: &[&str]) -> std::process::Output {
        Command::new(bin())
            .args(args)
            .env_clear()
            .envs(crate::common::profile_env())
            .env("HOME", self.path())
            .env("MYCELIUM_HOME", self.path().join("home"))
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    /// `mycelium --policies DIR consent VERB [--yes] NAME`, as the human at the terminal
    /// would; it must succeed.
    fn consent(&self, verb: &str, name: &str) {
        let policies = self.path().join("policies");
        let mut args = vec!["--policies", policies.to_str().unwrap(), "consent", verb];
        if verb == "grant" {
            args.push("--yes");
        }
        args.push(name);
        let o = self.mycelium(&args);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
    }

    /// `mycelium serve` with a clean environment plus `env`, started.
    fn serve(&self, args: &[&str], env: &[(&str, &str)]) -> Server {
        let mut c = Command::new(bin());
        c.arg("--policies")
            .arg(self.path().join("policies"))
            .arg("serve")
            .arg("--workspace-root")
            .arg(self.root())
            .args(args)
            .env_clear()
            .envs(crate::common::profile_env())
            .env("PATH", "/usr/bin:/bin")
            .env("HOME", self.path())
            .env("MYCELIUM_HOME", self.path().join("home"))
            .envs(env.iter().copied())
            .current_dir("/")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        Server::start(c)
    }
}

/// A running server and everything it wrote.
struct Server {
    child: Child,
    stdin: Option<ChildStdin>,
    messages: Receiver<Value>,
    raw: Arc<Mutex<Vec<u8>>>,
    stderr: Arc<Mutex<Vec<u8>>>,
    next_id: u64,
}

impl Server {
    fn start(mut c: Command) -> Server {
        let mut child = c.spawn().unwrap();
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().unwrap();
        let raw = Arc::new(Mutex::new(Vec::new()));
        let (tx, messages) = channel();
        let keep = Arc::clone(&raw);
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout);
            let mut line = Vec::new();
            while lines.read_until(b'\n', &mut line).unwrap_or(0) > 0 {
                keep.lock().unwrap().extend_from_slice(&line);
                // A line that is not JSON is kept in `raw` (and fails `only_protocol`).
                if let Ok(v) = serde_json::from_slice::<Value>(&line) {
                    let _ = tx.send(v);
                }
                line.clear();
            }
        });
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let keep = Arc::clone(&stderr);
        let mut err = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = std::io::Read::read(&mut err, &mut buf) {
                if n == 0 {
                    break;
                }
                keep.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        let mut s = Server {
            child,
            stdin,
            messages,
            raw,
            stderr,
            next_id: 0,
        };
        let init = s.request(
            "initialize",
            json!({"protocolVersion": "2025-11-25", "capabilities": {},
                   "clientInfo": {"name": "raw-test", "version": "1"}}),
        );
        assert_eq!(
            init["result"]["serverInfo"]["name"],
            "mycelium",
            "{init}\n{}",
            s.stderr_text()
        );
        s.notify("notifications/initialized", json!({}));
        s
    }

    fn send(&mut self, message: &Value) {
        let mut line = serde_json::to_vec(message).unwrap();
        line.push(b'\n');
        let stdin = self.stdin.as_mut().unwrap();
        stdin.write_all(&line).unwrap();
        stdin.flush().unwrap();
    }

    fn notify(&mut self, method: &str, params: Value) {
        self.send(&json!({"jsonrpc": "2.0", "method": method, "params": params}));
    }

    /// Send a request, return its response (notifications on the way are skipped).
    fn request(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        loop {
            let m = self
                .messages
                .recv_timeout(Duration::from_secs(90))
                .unwrap_or_else(|_| {
                    panic!(
                        "no answer to {method} #{id}; stderr:\n{}",
                        self.stderr_text()
                    )
                });
            if m["id"] == id {
                return m;
            }
        }
    }

    /// `tools/call`; the result object.
    fn call(&mut self, tool: &str, arguments: Value) -> Value {
        let r = self.request("tools/call", json!({"name": tool, "arguments": arguments}));
        assert!(r.get("error").is_none(), "{tool}: protocol error {r}");
        r["result"].clone()
    }

    /// `tools/call` that must fail as a tool error with `code`; its structured content.
    fn refused(&mut self, tool: &str, arguments: Value, code: &str) -> Value {
        let r = self.call(tool, arguments.clone());
        assert_eq!(
            (
                r["isError"].as_bool(),
                r["structuredContent"]["error"].as_str()
            ),
            (Some(true), Some(code)),
            "{tool} {arguments}: {r}"
        );
        // The server goes on serving.
        let list = self.call("list_agents", json!({}));
        assert_eq!(list["isError"], false, "{list}");
        r["structuredContent"].clone()
    }

    /// `invoke_agent` that must succeed; waits for the end. Its final status record.
    fn run(&mut self, agent: &str, task: &str, extra: Value) -> Value {
        let mut args = json!({"agent_name": agent, "task_description": task, "wait_seconds": 60});
        args.as_object_mut()
            .unwrap()
            .extend(extra.as_object().cloned().unwrap_or_default());
        let r = self.call("invoke_agent", args);
        assert_eq!(r["isError"], false, "{r}\n{}", self.stderr_text());
        let id = r["structuredContent"]["workflow_id"]
            .as_str()
            .unwrap()
            .to_owned();
        let s = self.call(
            "get_workflow_status",
            json!({"workflow_id": id, "wait_seconds": 60}),
        );
        s["structuredContent"].clone()
    }

    fn raw_text(&self) -> String {
        String::from_utf8_lossy(&self.raw.lock().unwrap()).into_owned()
    }

    fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr.lock().unwrap()).into_owned()
    }

    /// Close standard input; the server must exit 0 having written only JSON-RPC lines.
    fn finish(mut self) -> (String, String) {
        drop(self.stdin.take());
        let status = self.child.wait().unwrap();
        std::thread::sleep(Duration::from_millis(100));
        let raw = self.raw_text();
        let stderr = self.stderr_text();
        assert_eq!(status.code(), Some(0), "serve exited {status}: {stderr}");
        for line in raw.lines() {
            let v: Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("stdout carried a non-JSON line ({e}): {line:?}"));
            assert_eq!(v["jsonrpc"], "2.0", "{line}");
        }
        (raw, stderr)
    }
}

#[test]
fn secrets_never_reach_the_client_or_the_log() {
    gate!("secrets_never_reach_the_client_or_the_log");
    let s = Setup::new();
    // The agent passes on everything it can see: its environment (the canary is named in
    // `pass`, and withheld all the same), its task, and a key it prints itself, split
    // across writes and on both streams.
    s.agent(
        "leaky",
        &format!(
            "env; echo \"task was: $0\"; printf 'key AKIAQ7ZJ'; sleep 0.2; printf '4KXN2M5PVW3R\\n'; echo {PRINTED_KEY} >&2; echo \"token ${{GITHUB_TOKEN:-unset}}\"; echo \"db $MY_DB_PASSWORD\""
        ),
        "[env]\npass = [\"GITHUB_TOKEN\"]\nallow_secrets = [\"MY_DB_PASSWORD\"]\n",
    );
    // Passing a secret makes it high risk: a human consents first.
    s.consent("grant", "leaky");
    let mut srv = s.serve(
        &[],
        &[
            ("GITHUB_TOKEN", CANARY_ENV),
            ("MY_DB_PASSWORD", PASSED_SECRET),
        ],
    );
    let status = srv.run(
        "leaky",
        &format!("use {CANARY_ENV} and {PRINTED_KEY}"),
        json!({}),
    );
    assert_eq!(status["status"], "completed", "{status}");
    let result = status["result"].as_str().unwrap();
    assert!(result.contains("token unset"), "{result}");
    // A secret the policy passes on purpose is the agent's, not the client's.
    assert!(
        result.contains("db [REDACTED:env:MY_DB_PASSWORD]"),
        "{result}"
    );
    assert!(result.contains("[REDACTED:aws-access-key-id]"), "{result}");
    assert!(
        status["redactions"]["aws-access-key-id"].as_u64() >= Some(3),
        "{status}"
    );
    let id = status["workflow_id"].as_str().unwrap().to_owned();
    let page = srv.call("get_workflow_output", json!({"workflow_id": id}));
    assert_eq!(page["structuredContent"]["complete"], true, "{page}");
    let (raw, stderr) = srv.finish();
    for secret in [CANARY_ENV, PRINTED_KEY, "4KXN2M5PVW3R", PASSED_SECRET] {
        assert!(!raw.contains(secret), "{secret} reached the client:\n{raw}");
        assert!(
            !stderr.contains(secret),
            "{secret} reached the log:\n{stderr}"
        );
    }
    // The task is never logged, sanitized or not.
    assert!(!stderr.contains("use "), "{stderr}");
}

#[test]
fn workspaces_stay_inside_the_roots() {
    gate!("workspaces_stay_inside_the_roots");
    let s = Setup::new();
    s.agent(
        "writer",
        "pwd; echo written > note.txt; echo \"$0\"",
        "read_write = [\"{workspace}\"]\n",
    );
    let outside = s.fx.workspace("outside");
    let project = s.root().join("project");
    // Links planted inside a root: one leading out, one to the root's parent.
    std::os::unix::fs::symlink(&outside, s.root().join("escape")).unwrap();
    std::os::unix::fs::symlink(s.path(), project.join("up")).unwrap();
    s.consent("grant", "writer");
    let mut srv = s.serve(&[], &[]);

    let asked = |w: &str| json!({"agent_name": "writer", "task_description": "t", "workspace": w});
    let refused = [
        outside.display().to_string(),
        format!("{}/project/../../outside", s.root().display()),
        "roots/project".to_owned(),
        s.root().join("escape").display().to_string(),
        project.join("up/outside").display().to_string(),
        format!("{}/missing", s.root().display()),
        "/".to_owned(),
        s.path().join("home").display().to_string(),
    ];
    for w in &refused {
        let e = srv.refused("invoke_agent", asked(w), "workspace_refused");
        assert!(
            e["message"].as_str().unwrap().contains("workspace"),
            "{w}: {e}"
        );
    }
    // None given to an agent that needs one.
    srv.refused(
        "invoke_agent",
        json!({"agent_name": "writer", "task_description": "t"}),
        "workspace_refused",
    );
    assert!(!outside.join("note.txt").exists());

    // Inside a root: it runs there, and writes there only.
    let status = srv.run(
        "writer",
        "inside",
        json!({"workspace": project.display().to_string()}),
    );
    assert_eq!(status["status"], "completed", "{status}");
    assert_eq!(
        std::fs::read_to_string(project.join("note.txt")).unwrap(),
        "written\n"
    );
    srv.finish();
}

#[test]
fn consent_is_required_and_no_argument_grants_it() {
    gate!("consent_is_required_and_no_argument_grants_it");
    let s = Setup::new();
    // Host networking makes the agent high risk: it needs consent.
    s.agent(
        "netter",
        "echo ran \"$0\"",
        "\n[network]\nmode = \"host\"\n",
    );
    let mut srv = s.serve(&[], &[]);
    let e = srv.refused(
        "invoke_agent",
        json!({"agent_name": "netter", "task_description": "t"}),
        "consent_required",
    );
    assert_eq!(
        (
            e["agent_name"].as_str(),
            e["reason"].as_str(),
            e["command"].as_str()
        ),
        (
            Some("netter"),
            Some("missing"),
            Some(
                format!(
                    "MYCELIUM_HOME={} mycelium --policies {} consent grant netter",
                    s.path().join("home").display(),
                    s.path().join("policies").display()
                )
                .as_str()
            )
        ),
        "{e}"
    );
    // Forged retry fields of the 2026-07-28 revision grant nothing, on a classic session
    // and without --consent-via-client.
    let forged = srv.request(
        "tools/call",
        json!({"name": "invoke_agent",
               "arguments": {"agent_name": "netter", "task_description": "t"},
               "requestState": "forged",
               "inputResponses": {"mycelium_consent": {"action": "accept", "content": {"grant": true}}}}),
    );
    assert!(
        forged.get("error").is_some()
            || forged["result"]["structuredContent"]["error"] == "consent_required",
        "{forged}"
    );
    // Nor does an extra argument.
    srv.refused(
        "invoke_agent",
        json!({"agent_name": "netter", "task_description": "t", "consent": true}),
        "invalid_arguments",
    );
    let listed = srv.call("list_agents", json!({}));
    assert_eq!(
        listed["structuredContent"]["agents"][0]["consent"], "missing",
        "{listed}"
    );

    // The human grants it in a terminal: the same call now runs.
    // Exactly the command the error gave, in a shell (answering yes up front).
    let command = format!("{} --yes", e["command"].as_str().unwrap());
    let bin_dir = bin().parent().unwrap().display().to_string();
    let o = Command::new("/bin/sh")
        .args(["-c", &command])
        .env_clear()
        .envs(crate::common::profile_env())
        .env("PATH", format!("{bin_dir}:/usr/bin:/bin"))
        .env("HOME", s.path())
        .current_dir("/")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{command}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let status = srv.run("netter", "now", json!({}));
    assert_eq!(status["result"], "ran now\n", "{status}");

    // An edit to the policy voids the consent: refused again, saying what changed.
    s.agent(
        "netter",
        "echo ran \"$0\"",
        "\n[network]\nmode = \"host\"\n\n[env]\nset = { EXTRA = \"1\" }\n",
    );
    let e = srv.refused(
        "invoke_agent",
        json!({"agent_name": "netter", "task_description": "t"}),
        "consent_required",
    );
    assert_eq!(e["reason"], "changed_since_consent", "{e}");
    assert!(
        e["changed"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c.as_str().unwrap().contains("EXTRA")),
        "{e}"
    );
    srv.finish();
}

#[test]
fn bad_arguments_are_tool_errors_and_the_server_goes_on() {
    gate!("bad_arguments_are_tool_errors_and_the_server_goes_on");
    let s = Setup::new();
    s.agent("echo", "echo \"$0\"", "");
    let mut srv = s.serve(&[], &[]);
    let big = "x".repeat(10 << 20);
    for (tool, args, code) in [
        (
            "invoke_agent",
            json!({"agent_name": "echo"}),
            "invalid_arguments",
        ),
        (
            "invoke_agent",
            json!({"agent_name": 7, "task_description": "t"}),
            "invalid_arguments",
        ),
        (
            "invoke_agent",
            json!({"agent_name": "echo", "task_description": big}),
            "invalid_arguments",
        ),
        (
            "invoke_agent",
            json!({"agent_name": "echo", "task_description": "t", "wait_seconds": 61}),
            "invalid_arguments",
        ),
        (
            "invoke_agent",
            json!({"agent_name": "echo", "task_description": "t", "wait_seconds": -1}),
            "invalid_arguments",
        ),
        (
            "invoke_agent",
            json!({"agent_name": "nobody-here", "task_description": "t"}),
            "unknown_agent",
        ),
        (
            "invoke_agent",
            json!({"agent_name": "../policies/echo", "task_description": "t"}),
            "unknown_agent",
        ),
        (
            "get_workflow_status",
            json!({"workflow_id": "0123456789abcdef0123456789abcdef"}),
            "unknown_workflow",
        ),
        (
            "get_workflow_status",
            json!({"workflow_id": "not-an-id"}),
            "invalid_arguments",
        ),
        (
            "get_workflow_output",
            json!({"workflow_id": "0123456789abcdef0123456789abcdef", "limit": 0}),
            "invalid_arguments",
        ),
        ("cancel_workflow", json!({}), "invalid_arguments"),
    ] {
        srv.refused(tool, args, code);
    }
    // An unknown tool is a protocol error (-32602), and the server goes on.
    let r = srv.request(
        "tools/call",
        json!({"name": "no_such_tool", "arguments": {}}),
    );
    assert_eq!(r["error"]["code"], -32602, "{r}");
    // And a good call still works at the end.
    let status = srv.run("echo", "still here", json!({}));
    assert_eq!(status["result"], "still here\n", "{status}");
    // A refused value is quoted back to the client, never logged.
    srv.refused(
        "invoke_agent",
        json!({"agent_name": "echo", "task_description": "t", "wait_seconds": "my secret words"}),
        "invalid_arguments",
    );
    let (_, stderr) = srv.finish();
    assert!(!stderr.contains("my secret words"), "{stderr}");
}

#[test]
fn serve_refuses_a_bad_setup_before_serving() {
    let s = Setup::new();
    let run = |args: &[&str]| {
        let o = s.mycelium(&[&["serve"], args].concat());
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
            o.stdout,
        )
    };
    let loose = s.fx.file("token", &"t".repeat(40));
    let short = s.fx.file("short-token", "abc");
    std::fs::set_permissions(&short, PermissionsExt::from_mode(0o600)).unwrap();
    let home = s.path().join("home").display().to_string();
    let loose = loose.display().to_string();
    let short = short.display().to_string();
    for (args, says) in [
        (vec!["--workspace-root", "/"], "refused as a workspace"),
        (vec!["--workspace-root", "/etc"], "refused as a workspace"),
        (
            vec!["--workspace-root", "/no/such/dir"],
            "--workspace-root /no/such/dir",
        ),
        (vec!["--workspace-root", &home], "mycelium's own state"),
        (vec!["--http", "0.0.0.0:0"], "only loopback"),
        (
            vec!["--policies", "/no/such/policies"],
            "/no/such/policies does not exist",
        ),
        (
            vec!["--http", "127.0.0.1:0", "--token-file", &loose],
            "chmod 600",
        ),
        (
            vec!["--http", "127.0.0.1:0", "--token-file", &short],
            "at least 32",
        ),
    ] {
        let (code, stderr, stdout) = run(&args);
        assert_eq!(code, Some(1), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
        assert!(stdout.is_empty(), "{args:?}: stdout {stdout:?}");
    }
}

/// The planner checks the directory it really opens against the roots: what the server
/// checked by name cannot be swapped for a directory elsewhere before the sandbox starts.
#[test]
fn the_planner_refuses_a_workspace_outside_the_roots() {
    let s = Setup::new();
    let policy_path = s.fx.policy(
        "ws",
        &format!("[agent]\ncommand = [\"/bin/true\"]\n\n[filesystem]\nread_only = [{SYSTEM}]\nread_write = [\"{{workspace}}\"]\n"),
    );
    let opts = mycelium::policy::LoadOptions {
        home: s.path().to_path_buf(),
        protected: vec![],
    };
    let policy = mycelium::policy::Policy::load(&policy_path, &opts).unwrap();
    let outside = s.fx.workspace("elsewhere");
    let roots = mycelium::isolation::Overrides {
        workspace_roots: vec![std::fs::canonicalize(s.root()).unwrap()],
        ..Default::default()
    };
    let plan = |ws: &Path| {
        mycelium::isolation::prepare_with(
            &policy,
            Some(ws),
            &[],
            vec!["/bin/true".into()],
            std::iter::empty(),
            &roots,
        )
    };
    let Err(e) = plan(&outside) else {
        panic!("a workspace outside the roots was planned");
    };
    assert!(
        e.to_string().contains("outside every workspace root"),
        "{e}"
    );
    plan(&s.root().join("project")).unwrap();
}

#[test]
fn cancel_timeout_and_a_full_server() {
    gate!("cancel_timeout_and_a_full_server");
    let s = Setup::new();
    s.agent("sleeper", "echo started; sleep 60", "");
    s.agent_with("slow", "timeout = \"1s\"", "sleep 60", "");
    // A short lease: the owner sees a cancel request at its next renewal.
    std::fs::write(
        s.path().join("home/config.toml"),
        "[process]\nlease = \"3s\"\n",
    )
    .unwrap();
    std::fs::set_permissions(
        s.path().join("home/config.toml"),
        PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    let mut srv = s.serve(&["--max-unfinished", "1"], &[]);
    let started = srv.call(
        "invoke_agent",
        json!({"agent_name": "sleeper", "task_description": "t"}),
    );
    let id = started["structuredContent"]["workflow_id"]
        .as_str()
        .unwrap()
        .to_owned();
    // One unfinished workflow is all this server takes.
    let busy = srv.refused(
        "invoke_agent",
        json!({"agent_name": "sleeper", "task_description": "t"}),
        "busy",
    );
    assert!(
        busy["message"].as_str().unwrap().contains("1 workflows"),
        "{busy}"
    );
    let c = srv.call("cancel_workflow", json!({"workflow_id": id}));
    assert_eq!(c["structuredContent"]["cancel_requested"], true, "{c}");
    let st = srv.call(
        "get_workflow_status",
        json!({"workflow_id": id, "wait_seconds": 30}),
    );
    assert_eq!(st["structuredContent"]["status"], "cancelled", "{st}");
    // Once it ended, the server takes the next one: a run past its time limit.
    let mut status = Value::Null;
    for _ in 0..50 {
        let r = srv.call(
            "invoke_agent",
            json!({"agent_name": "slow", "task_description": "t", "wait_seconds": 30}),
        );
        if r["isError"] == false {
            status = r["structuredContent"].clone();
            break;
        }
        assert_eq!(r["structuredContent"]["error"], "busy", "{r}");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(status["status"], "timed_out", "{status}");
    // Cancelling an ended workflow changes nothing.
    let again = srv.call("cancel_workflow", json!({"workflow_id": id}));
    assert_eq!(
        (
            again["structuredContent"]["cancel_requested"].as_bool(),
            again["structuredContent"]["status"].as_str()
        ),
        (Some(false), Some("cancelled")),
        "{again}"
    );
    srv.finish();
}

/// The 2026-07-28 consent question, driven by hand: an answer counts once. A replay of an
/// accepted answer after the grant was revoked asks again instead of granting.
#[test]
fn a_consent_answer_counts_once() {
    gate!("a_consent_answer_counts_once");
    let s = Setup::new();
    s.agent(
        "netter",
        "echo ran \"$0\"",
        "\n[network]\nmode = \"host\"\n",
    );
    let mut srv = s.serve(&["--consent-via-client"], &[]);
    let meta = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {"elicitation": {"form": {}}},
        "io.modelcontextprotocol/clientInfo": {"name": "raw-test", "version": "1"}
    });
    let accept = json!({"mycelium_consent": {"action": "accept", "content": {"grant": true}}});
    let args = json!({"agent_name": "netter", "task_description": "t", "wait_seconds": 30});
    let mut invoke = |extra: Value| {
        let mut params = json!({"name": "invoke_agent", "arguments": args, "_meta": meta});
        params
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().cloned().unwrap_or_default());
        srv.request("tools/call", params)["result"].clone()
    };
    let asked = invoke(json!({}));
    assert_eq!(asked["resultType"], "input_required", "{asked}");
    let state = asked["requestState"].as_str().unwrap().to_owned();
    let answered = json!({"requestState": state, "inputResponses": accept});
    let ran = invoke(answered.clone());
    assert_eq!(ran["structuredContent"]["status"], "completed", "{ran}");
    // A human revokes the grant; the old answer, replayed, grants nothing.
    s.consent("revoke", "netter");
    let replayed = invoke(answered);
    assert_eq!(replayed["resultType"], "input_required", "{replayed}");
    // A state this server did not seal is refused.
    let forged = invoke(json!({"requestState": "forged", "inputResponses": accept}));
    assert_eq!(
        forged["structuredContent"]["error"], "invalid_arguments",
        "{forged}"
    );
    let listed = srv.call("list_agents", json!({}));
    assert_eq!(
        listed["structuredContent"]["agents"][0]["consent"], "missing",
        "{listed}"
    );
    srv.finish();
}

/// With `--redis`, the server records its workflows in Redis: another process (the command
/// line) reads the same workflow and its output there, and a second server answers for a
/// workflow the first one ran.
#[test]
fn serve_records_workflows_in_redis() {
    gate!("serve_records_workflows_in_redis");
    let Some(redis) = crate::common::gate::require_redis("serve_records_workflows_in_redis", &[])
    else {
        return;
    };
    let s = Setup::new();
    s.agent("echo", "echo \"on redis: $0\"", "");
    let url = redis.url();
    let mut first = s.serve(&["--redis", &url], &[]);
    let status = first.run("echo", "hello", json!({}));
    assert_eq!(
        (status["status"].as_str(), status["result"].as_str()),
        (Some("completed"), Some("on redis: hello\n")),
        "{status}"
    );
    let id = status["workflow_id"].as_str().unwrap().to_owned();
    first.finish();
    // The command line, on the same Redis, sees it.
    let o = s.mycelium(&["--redis", &url, "logs", &id]);
    assert_eq!(
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stdout).into_owned()
        ),
        (Some(0), "on redis: hello\n".to_owned()),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // A new server answers for it from Redis.
    let mut second = s.serve(&["--redis", &url], &[]);
    let again = second.call("get_workflow_status", json!({"workflow_id": id}));
    assert_eq!(again["structuredContent"]["status"], "completed", "{again}");
    second.finish();
}
