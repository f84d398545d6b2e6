//! What the workflow machinery (store, events, output pumps, lease) adds to a sandbox, and
//! what the spawner costs against a direct start. Run it with `scripts/bench-workflows.sh`
//! (which builds the release binary and starts a Redis server), or:
//!
//!     MYCELIUM_BIN=target/<host>/release/mycelium cargo bench --bench workflows -- \
//!         [--runs N] [--redis redis://127.0.0.1:PORT/]
//!
//! For each store (SQLite in a temporary home; Redis when a URL is given) and concurrency
//! 1 and 8: N `/bin/true` workflows through a `ProcessManager` against N bare starts of the
//! same sandbox through the same spawner at the same concurrency — each with the agent
//! loaded, its consent checked (its risk rated) and its sandbox planned, as a workflow
//! does before it starts (so the ratio is what the store, events, pumps and lease add);
//! each planned from the policy as `exec` does; and with one plan reused — all in the same
//! run, so the ratios are what to read. `--only STORE:CONCURRENCY` times one case's
//! workflows alone, for a profiler. Then N sequential direct starts (`mycelium exec`, a
//! single-threaded process starting its sandbox itself) against N sequential spawner
//! starts. With Redis, the commands the server counted per workflow.
#![allow(
    clippy::expect_used,
    clippy::print_stdout,
    missing_docs,
    reason = "a benchmark program: it stops at the first failure and prints its table"
)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mycelium::consent::{ConsentConfig, ConsentManager};
use mycelium::isolation::{self, Io, Spawner};
use mycelium::policy::{LoadOptions, Policy};
use mycelium::process::{Attach, Invocation, ManagerConfig, ProcessManager, Starter};
use mycelium::registry::{self, SearchPath};
use mycelium::sanitize::RuleSet;
use mycelium::state::audit::StartedBy;
use mycelium::state::{StoreConfig, WorkflowStatus, open_store};

fn policies() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("policies")
}

fn plan() -> isolation::SandboxPlan {
    let policy = Policy::load(
        &policies().join("bench-default.toml"),
        &LoadOptions::default(),
    )
    .expect("the bench policy loads");
    plan_of(&policy)
}

fn plan_of(policy: &Policy) -> isolation::SandboxPlan {
    isolation::prepare(
        policy,
        None,
        &[],
        vec!["/bin/true".into()],
        [("PATH", "/usr/bin:/bin")],
    )
    .expect("the bench policy plans")
    .plan
}

/// What a bare start does before it starts its sandbox.
#[derive(Clone, Copy, PartialEq)]
enum Before {
    /// Nothing: one plan serves every start.
    Nothing,
    /// Load the policy and plan the sandbox, as `mycelium exec` does (the sandbox's own
    /// cost).
    Plan,
    /// Load the agent, check its consent (which rates its risk, looking at the host's
    /// credential locations) and plan: everything a workflow does before its sandbox
    /// starts, without the store, events, pumps or lease.
    CheckAndPlan,
}

/// `n` bare starts through `spawner`, `conc` at a time, each doing `before` first; the
/// wall time.
fn bare(spawner: &Arc<Spawner>, n: usize, conc: usize, before: Before, home: &Path) -> Duration {
    let plan = Arc::new(plan());
    let consent = Arc::new(ConsentManager::new(home, ConsentConfig::default()));
    let search = SearchPath::new(Some(&policies()), home, home);
    let entry = Arc::new(registry::find(&search, "bench-default").expect("find the bench agent"));
    let start = Instant::now();
    let threads: Vec<_> = (0..conc)
        .map(|t| {
            let (sp, plan) = (Arc::clone(spawner), Arc::clone(&plan));
            let (consent, entry) = (Arc::clone(&consent), Arc::clone(&entry));
            let count = n / conc + usize::from(t < n % conc);
            std::thread::spawn(move || {
                for _ in 0..count {
                    let fresh = match before {
                        Before::Nothing => None,
                        Before::Plan => Some(self::plan()),
                        Before::CheckAndPlan => {
                            let agent = registry::load_agent(&entry, &LoadOptions::default())
                                .expect("load");
                            let status = consent.check(&agent).expect("consent");
                            assert!(status.allows_run());
                            Some(plan_of(&agent.policy))
                        }
                    };
                    let s = sp
                        .spawn(
                            fresh.as_ref().unwrap_or(&plan),
                            Io::Inherit,
                            Io::Inherit,
                            Io::Inherit,
                            &[],
                        )
                        .expect("spawn");
                    let end = s.wait().expect("wait");
                    assert_eq!(end.code(), 0);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("bare thread");
    }
    start.elapsed()
}

/// `n` workflows through a manager with `max_concurrent = conc`; the wall time.
fn workflows(
    runtime: &tokio::runtime::Runtime,
    spawner: &Arc<Spawner>,
    config: &StoreConfig,
    home: &Path,
    n: usize,
    conc: usize,
) -> Duration {
    let manager = ProcessManager::new(ManagerConfig {
        store: Arc::from(open_store(config).expect("open the store")),
        starter: Starter::Spawner(Arc::clone(spawner)),
        consent: ConsentManager::new(home, ConsentConfig::default()),
        rules: RuleSet::builtin().expect("rules"),
        audit: None,
        max_concurrent: conc,
        lease: Duration::from_secs(30),
    })
    .expect("manager");
    let search = SearchPath::new(Some(&policies()), home, home);
    let entry = registry::find(&search, "bench-default").expect("find the bench agent");
    let start = Instant::now();
    runtime.block_on(async {
        let mut waits = Vec::with_capacity(n);
        for _ in 0..n {
            let agent = registry::load_agent(&entry, &LoadOptions::default()).expect("load");
            let inv = Invocation {
                agent,
                task: None,
                workspace: None,
                protected: vec![],
                overrides: Default::default(),
                caller_env: vec![("PATH".into(), "/usr/bin:/bin".into())],
                started_by: StartedBy::current(None),
                attach: Attach::default(),
                context: None,
            };
            // Each its own task, as concurrent requests to a server would be.
            let m = manager.clone();
            waits.push(tokio::spawn(async move { m.invoke(inv).await }));
        }
        for w in waits {
            let invoked = w.await.expect("invoke task").expect("invoke");
            let f = invoked.finished().await.expect("finished");
            assert_eq!(f.record.status, WorkflowStatus::Completed);
        }
    });
    start.elapsed()
}

/// `n` sequential `mycelium exec` runs of the bench policy; the wall time.
fn direct(bin: &Path, n: usize) -> Duration {
    let policy = policies().join("bench-default.toml");
    let start = Instant::now();
    for _ in 0..n {
        let s = std::process::Command::new(bin)
            .arg("exec")
            .arg("--policy")
            .arg(&policy)
            .args(["--", "/bin/true"])
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .status()
            .expect("run mycelium exec");
        assert!(s.success());
    }
    start.elapsed()
}

/// The commands the server has run (those scripts call included), and the round trips
/// the clients made for them: each `EVALSHA` and each `MULTI`…`EXEC` is one (the bench's
/// workflows send nothing else).
fn redis_calls(url: &str) -> (u64, u64) {
    let mut c = redis::Client::open(url)
        .and_then(|c| c.get_connection())
        .expect("connect to redis");
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query(&mut c)
        .expect("INFO");
    let mut all = 0;
    let mut trips = 0;
    for line in info.lines() {
        let Some((name, rest)) = line.split_once(':') else {
            continue;
        };
        let Some(calls) = rest
            .split("calls=")
            .nth(1)
            .and_then(|r| r.split(',').next()?.parse::<u64>().ok())
        else {
            continue;
        };
        all += calls;
        if matches!(name, "cmdstat_evalsha" | "cmdstat_exec") {
            trips += calls;
        }
    }
    (all, trips)
}

/// The middle value.
fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// How many interleaved rounds each case is split into: each round times the workflows
/// and every baseline back to back, and the medians over rounds are reported, so a burst
/// of load from elsewhere on the machine moves one round, not one column.
const ROUNDS: usize = 5;

fn per(d: Duration, n: usize) -> f64 {
    d.as_secs_f64() * 1000.0 / n as f64
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    if !args.iter().any(|a| a == "--bench") {
        // `cargo test --all-targets` runs bench targets without `--bench`: nothing to time
        // there (and no Redis, no release binary).
        return;
    }
    let n: usize = value("--runs").map_or(500, |v| v.parse().expect("--runs N"));
    let bin = PathBuf::from(
        std::env::var("MYCELIUM_BIN")
            .expect("MYCELIUM_BIN: the mycelium binary (scripts/bench-workflows.sh sets it)"),
    );
    let spawner = Arc::new(Spawner::start(&bin).expect("start the spawner"));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let home = tempfile::tempdir().expect("home");
    let mut stores = vec![(
        "sqlite".to_owned(),
        StoreConfig::sqlite(&home.path().join("state.db")),
    )];
    if let Some(url) = value("--redis") {
        stores.push(("redis".to_owned(), StoreConfig::redis(&url, "bench")));
    }
    // Warm-up: caches, the spawner's first fork.
    let _ = bare(&spawner, 20, 1, Before::Nothing, home.path());
    // `--only STORE:CONC` times that one case's workflows alone (for a profiler).
    if let Some(only) = value("--only") {
        let (name, conc) = only.split_once(':').expect("--only STORE:CONCURRENCY");
        let conc: usize = conc.parse().expect("--only STORE:CONCURRENCY");
        let (_, config) = stores
            .iter()
            .find(|(s, _)| s == name)
            .expect("--only names sqlite, or redis with --redis");
        let w = workflows(&runtime, &spawner, config, home.path(), n, conc);
        println!("{name} concurrency {conc}: workflow {:.3} ms", per(w, n));
        return;
    }
    println!("{n} /bin/true runs each; ms per run (wall time / runs); same run, same spawner");
    println!(
        "(medians of {ROUNDS} interleaved rounds of {} runs each)",
        n / ROUNDS
    );
    let r = (n / ROUNDS).max(1);
    for (name, config) in &stores {
        for conc in [1, 8] {
            let (mut w, mut checked, mut planned, mut reused) = (vec![], vec![], vec![], vec![]);
            let (mut ratio_checked, mut ratio_planned, mut ratio_reused) = (vec![], vec![], vec![]);
            let mut calls = (0, 0);
            for _ in 0..ROUNDS {
                let before = (name == "redis").then(|| redis_calls(&url_of(config)));
                let wf = workflows(&runtime, &spawner, config, home.path(), r, conc);
                if let Some((all, trips)) = before {
                    let (a, t) = redis_calls(&url_of(config));
                    calls = (calls.0 + a - all, calls.1 + t - trips);
                }
                let c = bare(&spawner, r, conc, Before::CheckAndPlan, home.path());
                let p = bare(&spawner, r, conc, Before::Plan, home.path());
                let u = bare(&spawner, r, conc, Before::Nothing, home.path());
                ratio_checked.push(wf.as_secs_f64() / c.as_secs_f64());
                ratio_planned.push(wf.as_secs_f64() / p.as_secs_f64());
                ratio_reused.push(wf.as_secs_f64() / u.as_secs_f64());
                w.push(per(wf, r));
                checked.push(per(c, r));
                planned.push(per(p, r));
                reused.push(per(u, r));
            }
            let done = (r * ROUNDS) as f64;
            println!(
                "{name:6} concurrency {conc}: workflow {:.3} ms | sandbox checked and planned each time {:.3} ms, ratio {:.2} | planned each time {:.3} ms, ratio {:.2} | plan reused {:.3} ms, ratio {:.2}{}",
                median(w),
                median(checked),
                median(ratio_checked),
                median(planned),
                median(ratio_planned),
                median(reused),
                median(ratio_reused),
                if name == "redis" {
                    format!(
                        " | redis per workflow: {:.1} round trips, {:.1} commands (those its scripts run included)",
                        calls.1 as f64 / done,
                        calls.0 as f64 / done
                    )
                } else {
                    String::new()
                }
            );
        }
    }
    let d = direct(&bin, n);
    let s = bare(&spawner, n, 1, Before::Plan, home.path());
    println!(
        "sequential: direct start (mycelium exec) {:.3} ms, spawner start {:.3} ms, ratio spawner/direct {:.2}",
        per(d, n),
        per(s, n),
        s.as_secs_f64() / d.as_secs_f64()
    );
}

fn url_of(config: &StoreConfig) -> String {
    match &config.backend {
        mycelium::state::Backend::Redis { url, .. } => url.expose().to_owned(),
        mycelium::state::Backend::Sqlite { .. } => String::new(),
    }
}
