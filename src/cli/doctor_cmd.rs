//! `mycelium doctor`: what this host's kernel offers the sandbox, and what is missing.

use anyhow::Result;
use serde::Serialize;

use super::args::DoctorArgs;
use super::exit;
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
    features.push(probe::cgroup_v2());
    let userns_ok = features[0].available;
    let mut summary = Vec::new();
    if userns_ok {
        summary.push("`mycelium exec` can build sandboxes here: every policy's namespaces and private root are enforced".to_string());
    } else {
        summary.push("`mycelium exec` cannot build any sandbox here: every run will fail closed until user namespaces work".to_string());
    }
    if uid == 0 && features.get(1).is_some_and(|f| !f.available) {
        summary.push(
            "as root it works, but unprivileged users on this host cannot run sandboxes"
                .to_string(),
        );
    }
    if !features
        .iter()
        .any(|f| f.name == "cgroup v2 delegation" && f.available)
    {
        summary.push(
            "[limits] are enforced with rlimits only (per process, not per sandbox)".to_string(),
        );
    }
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
