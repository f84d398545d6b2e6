//! `mycelium sanitize` through real pipes: streaming, held partial secrets, rules files,
//! literals and stats.

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

use pretty_assertions::assert_eq;

use crate::common::{bin, mycelium, stderr, stdout};

/// A format-valid fake token built at run time (never a real key).
fn fake_github_token() -> String {
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let body: String = (0..36u32)
        .map(|i| char::from(alphabet[((i * 37 + 11) % 62) as usize]))
        .collect();
    format!("ghp_{body}")
}

fn sanitize_cmd(args: &[&str]) -> Command {
    let mut cmd = Command::new(bin());
    cmd.arg("sanitize")
        .args(args)
        .env_clear()
        .envs(crate::common::profile_env())
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", std::env::temp_dir())
        .env(
            "MYCELIUM_HOME",
            std::env::temp_dir().join("mycelium-sanitize-it-none"),
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

#[test]
fn a_secret_split_across_two_writes_with_a_pause_is_redacted() {
    let token = fake_github_token();
    let (first, second) = token.split_at(15);
    let mut child = sanitize_cmd(&["--stats"]).spawn().expect("spawn");
    let mut stdin = child.stdin.take().unwrap();
    let mut out = child.stdout.take().unwrap();

    stdin
        .write_all(format!("line one\nexport GH_TOKEN={first}").as_bytes())
        .unwrap();
    stdin.flush().unwrap();
    // The complete line arrives while the partial token is still held.
    let mut got = Vec::new();
    let mut buf = [0u8; 256];
    while !got.ends_with(b"line one\n") {
        let n = out.read(&mut buf).unwrap();
        assert!(n > 0, "stdout closed early: {got:?}");
        got.extend_from_slice(&buf[..n]);
    }
    assert_eq!(String::from_utf8_lossy(&got), "line one\n");
    std::thread::sleep(Duration::from_millis(300));
    stdin
        .write_all(format!("{second}\nbye\n").as_bytes())
        .unwrap();
    drop(stdin);
    out.read_to_end(&mut got).unwrap();
    let status = child.wait().unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();

    assert!(status.success(), "{err}");
    assert_eq!(
        String::from_utf8_lossy(&got),
        "line one\nexport GH_TOKEN=[REDACTED:github-pat]\nbye\n"
    );
    assert!(!String::from_utf8_lossy(&got).contains(first));
    let stats: serde_json::Value = serde_json::from_str(err.trim()).unwrap();
    assert_eq!(stats["redactions"]["github-pat"], 1);
    assert_eq!(stats["total"], 1);
}

/// Feed `input` from a thread (a large input would otherwise fill both pipes and block).
fn run_with_input(mut cmd: Command, input: &[u8]) -> std::process::Output {
    let mut child = cmd.spawn().expect("spawn");
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    out
}

#[test]
fn redact_env_values_and_their_encodings() {
    let mut cmd = sanitize_cmd(&["--redact-env", "DEPLOY_KEY,SHORT"]);
    cmd.env("DEPLOY_KEY", "pa55-Word+with/odd=chars")
        .env("SHORT", "abc");
    let out = run_with_input(
        cmd,
        b"k=pa55-Word+with/odd=chars\nurl=pa55-Word%2Bwith%2Fodd%3Dchars\nfine\n",
    );
    assert!(out.status.success());
    assert_eq!(
        stdout(&out),
        "k=[REDACTED:env:DEPLOY_KEY]\nurl=[REDACTED:env:DEPLOY_KEY]\nfine\n"
    );
    assert_eq!(
        stderr(&out),
        "mycelium: warning: --redact-env SHORT: value is shorter than 8 bytes and is not \
         redacted as a literal\n"
    );
}

#[test]
fn user_rules_file_adds_rules_and_bad_files_are_located() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("rules.toml");
    std::fs::write(
        &good,
        "replacement = \"***{id}***\"\n\n[[rule]]\nid = \"acme\"\nregex = 'acme_[0-9a-f]{16}'\n\
         keywords = [\"acme_\"]\n",
    )
    .unwrap();
    let out = run_with_input(
        sanitize_cmd(&["--rules", good.to_str().unwrap()]),
        b"key acme_0123456789abcdef\n",
    );
    assert_eq!(stdout(&out), "key ***acme***\n");

    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[[rule]]\nid = \"x\"\nregex = 'a.*'\nkeywords = [\"ab\"]\n",
    )
    .unwrap();
    let out = mycelium(&["sanitize", "--rules", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        format!(
            "mycelium: {}:3:9: regex can match text of unbounded length; use bounded \
             repetition such as {{1,64}} instead of + or *\n",
            bad.display()
        )
    );
}

#[test]
fn clean_binary_input_passes_through_unchanged() {
    let input: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let out = run_with_input(sanitize_cmd(&[]), &input);
    assert!(out.status.success());
    assert_eq!(out.stdout, input);
}
