//! `mycelium doctor`: what this host's kernel offers the sandbox, and what is missing.

use anyhow::Result;
use serde::Serialize;

use super::args::DoctorArgs;
use super::exit;
use crate::isolation::cgroup::{self, CgroupLimits};
use crate::isolation::probe::{self, Feature};

#[derive(Serialize)]
struct Doctor {
    kernel: String,
    uid: u32,
    features: Vec<Feature>,
    sandbox_ready: bool,
    summary: Vec<String>,
}

pub(super) fn run(args: &DoctorArgs) -> Result<i32> {
    let uid = nix::unistd::getuid().as_raw();
    let mut features = vec![probe::user_namespaces(false)];
    if uid == 0 {
        features.push(probe::user_namespaces(true));
    }
    features.push(probe::landlock());
    features.push(probe::seccomp());
    features.push(probe::cgroup_v2());
    let userns_ok = features[0].available;
    let filters_ok = features
        .iter()
        .filter(|f| f.name == "landlock" || f.name == "seccomp")
        .all(|f| f.available);
    let mut summary = Vec::new();
    if userns_ok && filters_ok {
        summary.push("`mycelium exec` can build sandboxes here: namespaces, private root, Landlock and seccomp are all enforced".to_string());
    } else {
        summary.push("`mycelium exec` cannot build sandboxes here: every run fails closed until the features marked FAIL above work".to_string());
    }
    if uid == 0 && features.get(1).is_some_and(|f| !f.available) {
        summary.push(
            "as root it works, but unprivileged users on this host cannot run sandboxes"
                .to_string(),
        );
    }
    let any_limit = CgroupLimits {
        memory: Some(1),
        pids: Some(1),
        cpu_millis: None,
    };
    match cgroup::available(&any_limit) {
        Some(m) => summary.push(format!("[limits] memory and processes are enforced per sandbox with {m}, and per process with rlimits")),
        None => summary.push("[limits] are enforced with rlimits only (per process, not per sandbox)".to_string()),
    }
    let memory_only = CgroupLimits {
        memory: Some(1),
        pids: None,
        cpu_millis: None,
    };
    summary.push(format!(
        "[limits] memory is enforced with {}",
        cgroup::describe_memory(cgroup::memory_enforcement(&memory_only))
    ));
    let kernel = nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_default();
    let report = Doctor {
        kernel,
        uid,
        features,
        sandbox_ready: userns_ok,
        summary,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("kernel {} (running as uid {})", report.kernel, report.uid);
        for f in &report.features {
            println!(
                "[{}] {}: {}",
                if f.available { " ok " } else { "FAIL" },
                f.name,
                f.detail
            );
            if let Some(fix) = &f.fix {
                println!("       fix: {fix}");
            }
        }
        println!();
        for s in &report.summary {
            println!("- {s}");
        }
    }
    Ok(if report.sandbox_ready {
        exit::OK
    } else {
        exit::FAILURE
    })
}
