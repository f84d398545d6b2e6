#!/usr/bin/env bash
# Line coverage of the whole test suite (the one scripts/test.sh runs), measured with
# `-C instrument-coverage` and Debian's llvm-22 (the LLVM of rustc 1.95). The `mycelium`
# processes the integration tests start count too: the tests hand LLVM_PROFILE_FILE to the
# commands whose environment they clear (tests/it/common `profile_env`).
#
#   MYCELIUM_REQUIRE_SANDBOX=1 MYCELIUM_REQUIRE_REDIS=1 scripts/coverage.sh [TEST ARGS…]
#
# Builds into target/coverage (the normal build is untouched), writes one profile per
# process to target/coverage/profiles/%p-%m.profraw, then prints the whole crate's line
# coverage, the files the workflow issue holds to 90 % (src/process, src/state,
# src/policy/risk.rs), the code no process can write a profile for, and where the HTML
# report is. tests/, benches/ and dependencies are left out of the figures. Installs llvm-22
# when missing (as root). Exits with the test suite's status.
#
# What cannot be counted: every process that ends with `_exit` or `execve` writes no profile
# (the profile is written by an exit handler) — pid 1 and the agent's last steps inside the
# new root (src/isolation/child.rs; it could not reach the profile directory anyway), the
# re-executed launcher and the spawner's serving loop (launcher.rs, spawner.rs `main`), and
# the children the unit tests fork (sys/fork.rs); nor does a process killed by a signal.
#
# A file's uncovered lines, after a run:
#   llvm-cov-22 show --instr-profile target/coverage/merged.profdata \
#     $(cat target/coverage/objects) --show-line-counts-or-regions src/policy/risk.rs
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v llvm-profdata-22 >/dev/null || ! command -v llvm-cov-22 >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq llvm-22 >/dev/null
  else
    echo "scripts/coverage.sh: needs llvm-profdata-22 and llvm-cov-22 (apt-get install llvm-22)" >&2
    exit 2
  fi
fi

out=$PWD/target/coverage
profiles=$out/profiles
export CARGO_TARGET_DIR=$out
# The target's own variable adds to .cargo/config.toml's flags (crt-static), where RUSTFLAGS
# would replace them; build scripts and proc-macros stay uninstrumented.
host=$(rustc -vV | sed -n 's/^host: //p')
flags_var=CARGO_TARGET_$(echo "$host" | tr 'a-z-' 'A-Z_')_RUSTFLAGS
export "$flags_var=${!flags_var:-} -C instrument-coverage"

rm -rf "$profiles" "$out/html" "$out/merged.profdata"
mkdir -p "$profiles"

# The objects whose counters the profiles hold: every test executable and the binary.
cargo test --all-targets --no-run --message-format=json "$@" \
  | python3 -c 'import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable"):
        print(m["executable"])' | sort -u | sed '1!s/^/-object=/' >"$out/objects"

# MYCELIUM_REQUIRE_SANDBOX and MYCELIUM_REQUIRE_REDIS pass through from the caller.
status=0
LLVM_PROFILE_FILE="$profiles/%p-%m.profraw" cargo test --all-targets "$@" || status=$?

echo "coverage: merging $(find "$profiles" -name '*.profraw' | wc -l) profiles" >&2
find "$profiles" -name '*.profraw' >"$out/profile-list"
llvm-profdata-22 merge --sparse --input-files="$out/profile-list" -o "$out/merged.profdata"

ignore='(/\.cargo/registry/|/\.cargo/git/|/rustc/|/tests/|/benches/)'
cov=(--instr-profile="$out/merged.profdata" --ignore-filename-regex="$ignore")
# shellcheck disable=SC2046 # one word per object
llvm-cov-22 export --summary-only "${cov[@]}" $(cat "$out/objects") >"$out/summary.json"
# shellcheck disable=SC2046
llvm-cov-22 show --format=html --output-dir="$out/html" "${cov[@]}" $(cat "$out/objects")

held=(src/process/*.rs src/state/*.rs src/policy/risk.rs)
# shellcheck disable=SC2046
llvm-cov-22 show "${cov[@]}" $(cat "$out/objects") "${held[@]}" >"$out/held.txt"

python3 - "$out/summary.json" "$PWD/" "$out/held.txt" <<'EOF'
import json, re, sys

files = json.load(open(sys.argv[1]))["data"][0]["files"]
root = sys.argv[2]
lines = {f["filename"].removeprefix(root): f["summary"]["lines"] for f in files}

# The same files without their `mod tests` (a file's unit tests always run, and would lift
# its figure): the counted lines before the module, from `llvm-cov show`.
code = {}
name = None
for line in open(sys.argv[3]):
    if line.startswith(root) and line.rstrip().endswith(":"):
        name = line.rstrip()[len(root):-1]
        code[name] = [0, 0, False]
        continue
    m = re.match(r"^ *\d+\|\s*([0-9.]+[kMGE]?)?\|(.*)$", line)
    if not m or name is None or code[name][2]:
        continue
    if m.group(2).startswith("mod tests"):
        code[name][2] = True
    elif m.group(1) is not None:
        code[name][1] += 1
        code[name][0] += m.group(1) != "0"

# Code that runs only in processes that cannot write a profile (see the script's header).
apart = ["src/isolation/child.rs", "src/isolation/launcher.rs"]

def total(names):
    count = sum(lines[n]["count"] for n in names)
    covered = sum(lines[n]["covered"] for n in names)
    return covered, count

def row(name, covered, count):
    pct = 100.0 * covered / count if count else 100.0
    print(f"  {pct:6.2f} %  {covered:6}/{count:<6}  {name}")

print("line coverage (tests/, benches/ and dependencies left out)")
row("whole crate", *total(lines))
row("whole crate without the code apart below", *total([n for n in lines if n not in apart]))
print("held to 90 %: all lines, then without the file's own `mod tests`")
for n in sorted(lines):
    if n.startswith(("src/process/", "src/state/")) or n == "src/policy/risk.rs":
        row(n, lines[n]["covered"], lines[n]["count"])
        if n in code:
            row("  without its tests", code[n][0], code[n][1])
print("apart (runs in the new root, the launcher or the spawner's loop, which write no profile):")
for n in apart:
    if n in lines:
        row(n, lines[n]["covered"], lines[n]["count"])
EOF
echo "HTML report: $out/html/index.html"
exit "$status"
