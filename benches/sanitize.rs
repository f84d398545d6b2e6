//! Throughput of the output sanitizer against the naive baseline (every rule's regex with
//! `replace_all`, one after another), on clean log text and on keyword-dense text.
//!
//! `cargo bench --bench sanitize`; `scripts/bench-sanitize.sh` measures the binary.
#![allow(missing_docs, clippy::unwrap_used, reason = "benchmark harness")]

use std::fmt::Write as _;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use mycelium::sanitize::naive::NaiveSanitizer;
use mycelium::sanitize::{OutputSanitizer, RuleSet};

/// Ordinary log text: timestamps, paths, UUID request ids, git SHAs, JSON, test output.
fn clean(size: usize) -> Vec<u8> {
    let mut s = String::new();
    let mut i = 0u64;
    while s.len() < size {
        let h = i.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let _ = match i % 6 {
            0 => writeln!(
                s,
                "2025-03-01T10:{:02}:{:02}Z INFO  http: GET /api/v1/items/{} 200 {}ms req={:08x}-4f89-11d3-9a0c-{:012x}",
                i % 60,
                (i * 7) % 60,
                i % 9973,
                i % 500,
                h >> 32,
                h & 0xffff_ffff_ffff
            ),
            1 => writeln!(
                s,
                "   Compiling crate-{} v0.{}.{} (/home/ci/src/crate-{})",
                i % 300,
                i % 20,
                i % 7,
                i % 300
            ),
            2 => writeln!(
                s,
                "commit {h:016x}{h:016x}{:08x} Merge pull request #{}",
                h >> 32,
                i % 5000
            ),
            3 => writeln!(
                s,
                "{{\"level\":\"info\",\"msg\":\"worker finished job\",\"n\":{i},\"ms\":{}}}",
                i % 900
            ),
            4 => writeln!(s, "test module_{}::case_{} ... ok", i % 400, i % 77),
            _ => writeln!(
                s,
                "upstream https://svc-{}.internal:8443/health slow: {}ms",
                i % 40,
                i % 3000
            ),
        };
        i += 1;
    }
    s.into_bytes()
}

/// Text where nearly every line carries a rule keyword, with a fake token every 50 lines.
fn dense(size: usize) -> Vec<u8> {
    let mut s = String::new();
    let mut i = 0u64;
    while s.len() < size {
        let h = i.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let _ = match i % 10 {
            _ if i.is_multiple_of(50) => {
                writeln!(s, "export GITHUB_TOKEN=ghp_{h:016x}{h:016X}Ab9z")
            }
            0 => writeln!(
                s,
                "token usage: prompt_tokens={} completion_tokens={} auth ok",
                i % 900,
                i % 300
            ),
            1 => writeln!(
                s,
                "password: checking policy for user{} (min length 12) key rotation due",
                i % 100
            ),
            2 => writeln!(
                s,
                "GET https://api.example.org/v1/keys?page={} Authorization header present",
                i % 30
            ),
            3 => writeln!(
                s,
                "{{\"api_key_id\": {i}, \"secret_ref\": \"vault://kv/app\", \"token_type\": \"bearer\"}}"
            ),
            4 => writeln!(
                s,
                "task-{} disk-{} ask-for-access key-value store ghp_ prefix check",
                i % 70,
                i % 9
            ),
            5 => writeln!(
                s,
                "redis://cache-{}:6379/0 postgres://db-{}:5432/app mongodb://mongo/x",
                i % 5,
                i % 3
            ),
            6 => writeln!(
                s,
                "bearer auth scheme; eyJ prefix seen; sk- keys rotated; AKIA audit {i}"
            ),
            7 => writeln!(
                s,
                "secret scanning: passwd file untouched; credentials cached; private key {}",
                i % 10
            ),
            8 => writeln!(
                s,
                "--token-file /run/secrets/t --password-file /run/secrets/p # auth {i}"
            ),
            _ => writeln!(
                s,
                "oauth token refresh for client {h:x} succeeded; access token valid"
            ),
        };
        i += 1;
    }
    s.into_bytes()
}

fn bench(c: &mut Criterion) {
    let rules = RuleSet::builtin().unwrap();
    let engine = OutputSanitizer::builder(rules.clone()).build().unwrap();
    let naive = NaiveSanitizer::new(&rules).unwrap();
    for (name, text) in [("clean", clean(4 << 20)), ("dense", dense(1 << 20))] {
        let mut group = c.benchmark_group(name);
        group.sample_size(10);
        group.throughput(Throughput::Bytes(text.len() as u64));
        group.bench_with_input(BenchmarkId::new("engine", text.len()), &text, |b, t| {
            b.iter(|| engine.sanitize(t).output.len());
        });
        group.bench_with_input(
            BenchmarkId::new("engine-64k-chunks", text.len()),
            &text,
            |b, t| {
                b.iter(|| {
                    let mut st = engine.stream();
                    let mut out = Vec::with_capacity(t.len());
                    for chunk in t.chunks(64 * 1024) {
                        st.push(chunk, &mut out);
                    }
                    st.finish(&mut out);
                    out.len()
                });
            },
        );
        group.bench_with_input(BenchmarkId::new("naive", text.len()), &text, |b, t| {
            b.iter(|| naive.sanitize(t).len());
        });
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
