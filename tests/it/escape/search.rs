//! The agent search path: a directory an agent could have written is never searched
//! implicitly. An agent writes `policies/NAME.toml` into its workspace (a project
//! directory); later the user runs `mycelium run NAME` from that directory, or an MCP
//! server starts there. Before the fix the current directory's `policies/` came first on
//! the search path and the agent's own policy was loaded (without consent when it rated
//! low, or as a "changed" version of a consented agent it shadowed).
//!
//! Each test drives real agents through the real binary (`mycelium run`), and each denial
//! has its twin: the same file put where the user keeps agents is found.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use pretty_assertions::assert_eq;

use crate::common::bin;
use crate::gate;
use crate::sandbox::{Fixture, SYSTEM};

/// A user: `$MYCELIUM_HOME` (with the agents the user installed in its `policies/`) and a
/// project directory that agents get as their workspace.
struct User {
    fx: Fixture,
}

impl User {
    fn new() -> User {
        let fx = Fixture::new();
        fx.mkdir("home");
        std::fs::set_permissions(fx.path().join("home"), PermissionsExt::from_mode(0o700)).unwrap();
        fx.mkdir("home/policies");
        std::fs::set_permissions(
            fx.path().join("home/policies"),
            PermissionsExt::from_mode(0o755),
        )
        .unwrap();
        fx.workspace("project");
        User { fx }
    }

    fn home_policies(&self) -> PathBuf {
        self.fx.path().join("home/policies")
    }

    fn project(&self) -> PathBuf {
        self.fx.path().join("project")
    }

    /// Install agent `name` (a shell script `body`, plus `extra_fs` TOML) in
    /// `$MYCELIUM_HOME/policies`.
    fn install(&self, name: &str, body: &str, extra_fs: &str) -> PathBuf {
        self.fx.file(
            &format!("home/policies/{name}.toml"),
            &agent_policy(body, extra_fs),
        )
    }

    /// `mycelium ARGS…` as this user, from `cwd`, with no `--policies` and no
    /// `MYCELIUM_POLICIES`.
    fn cmd(&self, cwd: &Path, args: &[&str]) -> Command {
        let mut c = Command::new(bin());
        c.args(args)
            .env_clear()
            .envs(crate::common::launcher_env())
            .envs(crate::common::profile_env())
            .env("PATH", "/usr/bin:/bin")
            .env("HOME", self.fx.path())
            .env("MYCELIUM_HOME", self.fx.path().join("home"))
            .current_dir(cwd)
            .stdin(Stdio::null());
        c
    }

    fn run(&self, cwd: &Path, args: &[&str]) -> Output {
        self.cmd(cwd, args).output().unwrap()
    }

    /// Run the installed, consented `planter` agent on the project: it writes `rel` there
    /// (a policy whose command prints `HIJACKED`), as any agent with a writable workspace
    /// can.
    fn plant(&self, rel: &str) -> PathBuf {
        let evil = agent_policy("echo HIJACKED", "");
        let target = self.project().join(rel);
        let script = format!(
            "mkdir -p {dir} && cat > {file} <<'EOF'\n{evil}EOF\n",
            dir = sh_quote(target.parent().unwrap()),
            file = sh_quote(&target),
        );
        self.install("planter", &script, "read_write = [\"{workspace}\"]");
        let o = self.run(self.fx.path(), &["consent", "grant", "--yes", "planter"]);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
        let ws = self.project();
        let o = self.run(
            self.fx.path(),
            &["run", "planter", "-w", ws.to_str().unwrap()],
        );
        assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
        // The attack's first step worked: the agent's file is there.
        assert_eq!(std::fs::read_to_string(&target).unwrap(), evil);
        target
    }

    /// The names `mycelium agents --json` lists, run from `cwd`.
    fn listed(&self, cwd: &Path, extra: &[&str]) -> Vec<String> {
        let mut args = extra.to_vec();
        args.extend(["agents", "--json"]);
        let o = self.run(cwd, &args);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
        let rows: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        rows.as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap().to_string())
            .collect()
    }
}

fn agent_policy(body: &str, extra_fs: &str) -> String {
    format!(
        "[agent]\ncommand = [\"/bin/sh\", \"-c\", {body:?}]\n\n[filesystem]\nread_only = [{SYSTEM}]\n{extra_fs}\n"
    )
}

fn sh_quote(p: &Path) -> String {
    format!("'{}'", p.display().to_string().replace('\'', "'\\''"))
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn a_policy_an_agent_wrote_into_its_workspace_is_not_found_from_there() {
    gate!("a_policy_an_agent_wrote_into_its_workspace_is_not_found_from_there");
    let u = User::new();
    let project = u.project();
    // Before any agent is installed, a policy file in the project's policies/ is not an
    // agent, and the listing says where it looked.
    std::fs::create_dir(project.join("policies")).unwrap();
    std::fs::write(
        project.join("policies/early.toml"),
        agent_policy("true", ""),
    )
    .unwrap();
    let o = u.run(&project, &["agents"]);
    assert_eq!(
        (o.status.code(), text(&o.stdout), text(&o.stderr)),
        (
            Some(0),
            format!("no agents found in {}\n", u.home_policies().display()),
            String::new()
        )
    );
    std::fs::remove_dir_all(project.join("policies")).unwrap();
    let planted = u.plant("policies/x.toml");
    // From the project, its subdirectory `policies/` and the directory holding the project
    // (an MCP server may start anywhere): never searched.
    for cwd in [
        project.clone(),
        project.join("policies"),
        u.fx.path().into(),
    ] {
        let o = u.run(&cwd, &["run", "x"]);
        assert_eq!(
            (o.status.code(), text(&o.stdout), text(&o.stderr)),
            (
                Some(125),
                String::new(),
                format!(
                    "mycelium: error: no agent \"x\": looked for x.toml in {}\n",
                    u.home_policies().display()
                )
            ),
            "from {cwd:?}"
        );
        assert_eq!(u.listed(&cwd, &[]), ["planter"], "from {cwd:?}");
        let o = u.run(&cwd, &["consent", "check", "x"]);
        assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    }

    // Twins: the same file where the user keeps agents, or named with --policies, is found
    // and runs (it rates low: no question).
    let o = u.run(
        &project,
        &[
            "--policies",
            project.join("policies").to_str().unwrap(),
            "run",
            "x",
        ],
    );
    assert_eq!(
        (o.status.code(), text(&o.stdout)),
        (Some(0), "HIJACKED\n".to_string()),
        "{}",
        text(&o.stderr)
    );
    let o = u
        .cmd(&project, &["run", "x"])
        .env("MYCELIUM_POLICIES", "policies")
        .output()
        .unwrap();
    assert_eq!(
        (o.status.code(), text(&o.stdout)),
        (Some(0), "HIJACKED\n".to_string()),
        "{}",
        text(&o.stderr)
    );
    std::fs::copy(&planted, u.home_policies().join("x.toml")).unwrap();
    let o = u.run(&project, &["run", "x"]);
    assert_eq!(
        (o.status.code(), text(&o.stdout)),
        (Some(0), "HIJACKED\n".to_string()),
        "{}",
        text(&o.stderr)
    );
    assert_eq!(u.listed(&project, &[]), ["planter", "x"]);
}

#[test]
fn a_policy_an_agent_wrote_cannot_shadow_a_consented_agent() {
    gate!("a_policy_an_agent_wrote_cannot_shadow_a_consented_agent");
    let u = User::new();
    u.install(
        "helper",
        "echo the user helper",
        "read_write = [\"{workspace}\"]",
    );
    let o = u.run(u.fx.path(), &["consent", "grant", "--yes", "helper"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    u.plant("policies/helper.toml");
    let project = u.project();
    let o = u.run(
        &project,
        &["run", "helper", "-w", project.to_str().unwrap()],
    );
    // The user's consented agent runs: no clash, no "changed" agent to wave through.
    assert_eq!(
        (o.status.code(), text(&o.stdout), text(&o.stderr)),
        (Some(0), "the user helper\n".to_string(), String::new())
    );
    assert_eq!(u.listed(&project, &[]), ["helper", "planter"]);
    // Twin: named explicitly, the planted file is searched, and the clash is reported
    // instead of either file being picked.
    let o = u.run(&project, &["--policies", "policies", "run", "helper"]);
    assert_eq!(o.status.code(), Some(125), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("agent \"helper\" is defined twice"),
        "{}",
        text(&o.stderr)
    );
    assert_eq!(text(&o.stdout), "");
}

#[test]
fn a_policies_directory_reached_through_a_planted_link_is_refused() {
    gate!("a_policies_directory_reached_through_a_planted_link_is_refused");
    let u = User::new();
    // The user's own policy directory, outside the project.
    let mine = u.fx.mkdir("mine");
    std::fs::set_permissions(&mine, PermissionsExt::from_mode(0o755)).unwrap();
    u.fx.file("mine/y.toml", &agent_policy("echo mine", ""));
    // The agent plants links in its workspace: to the user's directory (so the user may
    // think it harmless), and to one it fills itself.
    let project = u.project();
    let script = format!(
        "ln -s {mine} {ws}/to-mine && mkdir {ws}/own && cat > {ws}/own/y.toml <<'EOF'\n{evil}EOF\nln -s own {ws}/to-own && mkdir {ws}/dir && ln -s ../to-own {ws}/dir/up",
        mine = sh_quote(&mine),
        ws = sh_quote(&project),
        evil = agent_policy("echo HIJACKED", ""),
    );
    u.install("planter", &script, "read_write = [\"{workspace}\"]");
    let o = u.run(u.fx.path(), &["consent", "grant", "--yes", "planter"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let o = u.run(
        u.fx.path(),
        &["run", "planter", "-w", project.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    for (given, link, target) in [
        (
            "project/to-mine",
            "project/to-mine",
            mine.display().to_string(),
        ),
        ("project/to-own", "project/to-own", "own".to_string()),
        ("project/dir/up", "project/dir/up", "../to-own".to_string()),
        ("project/dir/../to-own", "project/to-own", "own".to_string()),
    ] {
        let full = u.fx.path().join(given);
        for args in [&["run", "y"][..], &["agents"]] {
            let mut all = vec!["--policies", given];
            all.extend(args);
            let o = u.run(u.fx.path(), &all);
            let code = if args[0] == "run" { 125 } else { 1 };
            assert_eq!(
                (o.status.code(), text(&o.stdout), text(&o.stderr)),
                (
                    Some(code),
                    String::new(),
                    format!(
                        "mycelium: error: policy directory {} cannot be searched: {} is a \
                         symbolic link (to {target}) that someone other than root could have \
                         placed (an agent may have planted it), so mycelium does not follow it: \
                         name the directory it points to, kept outside every workspace (check \
                         --policies or MYCELIUM_POLICIES)\n",
                        full.display(),
                        u.fx.path().join(link).display(),
                    )
                ),
                "--policies {given} {args:?}"
            );
        }
    }
    // Twins: the directories themselves, named by their own paths, are searched.
    for (dir, want) in [("mine", "mine\n"), ("project/own", "HIJACKED\n")] {
        let o = u.run(u.fx.path(), &["--policies", dir, "run", "y"]);
        assert_eq!(
            (o.status.code(), text(&o.stdout)),
            (Some(0), want.to_string()),
            "{dir}: {}",
            text(&o.stderr)
        );
    }
}

#[test]
fn a_workspace_that_is_holds_or_lies_inside_a_search_directory_is_refused() {
    gate!("a_workspace_that_is_holds_or_lies_inside_a_search_directory_is_refused");
    let u = User::new();
    let writer = "echo ran > out.txt";
    u.install("writer", writer, "read_write = [\"{workspace}\"]");
    let o = u.run(u.fx.path(), &["consent", "grant", "--yes", "writer"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    // An explicit search directory the user keeps in the fixture, with a subdirectory.
    let extra = u.fx.workspace("extra");
    let extra_sub = u.fx.workspace("extra/sub");
    let home_sub = u.fx.workspace("home/policies/sub");
    let cases: Vec<(PathBuf, PathBuf)> = vec![
        // Is, lies inside, holds the explicit directory.
        (extra.clone(), extra.clone()),
        (extra_sub.clone(), extra.clone()),
        // $MYCELIUM_HOME/policies: is, lies inside (holding it means holding
        // $MYCELIUM_HOME, refused for the same reason).
        (u.home_policies(), u.fx.path().join("home")),
        (home_sub.clone(), u.fx.path().join("home")),
    ];
    for (ws, exposed) in &cases {
        let o = u.run(
            u.fx.path(),
            &[
                "--policies",
                "extra",
                "run",
                "writer",
                "-w",
                ws.to_str().unwrap(),
            ],
        );
        let err = text(&o.stderr);
        assert_eq!(o.status.code(), Some(125), "{ws:?}: {err}");
        assert!(
            err.contains(&format!(
                "workspace {} would expose {}, mycelium's own state",
                ws.display(),
                exposed.display()
            )),
            "{ws:?}: {err}"
        );
        assert!(!ws.join("out.txt").exists(), "{ws:?}: the agent ran");
    }
    // Holding the explicit directory: a parent of it.
    let outer = u.fx.workspace("outer");
    let inner = u.fx.workspace("outer/policies");
    let o = u.run(
        u.fx.path(),
        &[
            "--policies",
            inner.to_str().unwrap(),
            "run",
            "writer",
            "-w",
            outer.to_str().unwrap(),
        ],
    );
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(125), "{err}");
    assert!(
        err.contains(&format!(
            "workspace {} would expose {}, mycelium's own state",
            outer.display(),
            inner.display()
        )),
        "{err}"
    );
    assert!(!outer.join("out.txt").exists(), "the agent ran");
    // Twin: the same workspace without that search directory is used.
    let o = u.run(
        u.fx.path(),
        &["run", "writer", "-w", outer.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(
        std::fs::read_to_string(outer.join("out.txt")).unwrap(),
        "ran\n"
    );
    // And so is a sibling of the explicit one, with it on the path.
    let sibling = u.fx.workspace("sibling");
    let o = u.run(
        u.fx.path(),
        &[
            "--policies",
            "extra",
            "run",
            "writer",
            "-w",
            sibling.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert_eq!(
        std::fs::read_to_string(sibling.join("out.txt")).unwrap(),
        "ran\n"
    );
}
