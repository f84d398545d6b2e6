//! The risk rating of a policy, computed at every invocation (consent and the record
//! depend on it): the shipped policies, on this host's homes and files.
//!
//! `cargo bench --bench risk`
#![allow(missing_docs, clippy::expect_used, reason = "benchmark harness")]

use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use mycelium::policy::{LoadOptions, Policy, assess};

fn shipped(c: &mut Criterion) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies");
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .expect("policies/")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    names.sort();
    let mut group = c.benchmark_group("risk");
    for path in names {
        let policy = Policy::load(&path, &LoadOptions::default()).expect("a shipped policy loads");
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        group.bench_function(name, |b| b.iter(|| assess(&policy)));
    }
    group.finish();
}

criterion_group!(benches, shipped);
criterion_main!(benches);
