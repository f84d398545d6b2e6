#!/usr/bin/env bash
# Throughput of `mycelium sanitize` (release build) on clean, keyword-dense and realistic
# text, against the naive baseline (`--naive`: every rule's regex with replace_all in turn),
# measured in the same run. Inputs are generated here (scripts/sanitize-gen.py), so no data
# is downloaded.
#
# usage: scripts/bench-sanitize.sh [CLEAN_MB] [DENSE_MB] [REALISTIC_MB]
#        (defaults 256, 32 and 256; 0 skips that text)
# environment:
#   BASELINE=/path/to/mycelium  also time this binary on the same files in the same run,
#                               alternating with the build under test (a previous build)
#   BIN=/path/to/mycelium       time this binary instead of building the worktree
#   RUNS=3                      runs per measurement; the best (shortest) counts
set -euo pipefail
cd "$(dirname "$0")/.."
clean_mb=${1:-256}
dense_mb=${2:-32}
real_mb=${3:-256}
runs=${RUNS:-3}
baseline=${BASELINE:-}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if [ -n "${BIN:-}" ]; then
    bin=$BIN
else
    cargo build --release --quiet
    bin=$(scripts/bin-path.sh release)
fi
if [ -n "$baseline" ] && [ ! -x "$baseline" ]; then
    echo "BASELINE=$baseline is not an executable" >&2
    exit 2
fi

gen() { [ "$2" = 0 ] || python3 scripts/sanitize-gen.py "$1" "$2" "$work/$1.txt"; }
gen clean "$clean_mb"
gen dense "$dense_mb"
gen realistic "$real_mb"
# The naive baseline is slow; it gets a smaller slice of the same text.
for t in clean realistic; do
    [ ! -f "$work/$t.txt" ] || head -c $((32 * 1024 * 1024)) "$work/$t.txt" > "$work/$t-small.txt"
done

# Best of $runs wall-clock seconds of `BINARY sanitize ARGS < FILE > /dev/null` for each
# binary, runs alternating between the binaries; prints one line of seconds per binary.
best() {
    local file=$1 args=$2; shift 2
    python3 - "$file" "$args" "$runs" "$@" <<'PY'
import subprocess, sys, time
path, args, runs, *binaries = sys.argv[1:]
best = [None] * len(binaries)
for _ in range(int(runs)):
    for i, binary in enumerate(binaries):
        with open(path, "rb") as f:
            t = time.perf_counter()
            subprocess.run([binary, "sanitize", *args.split()], stdin=f, stdout=subprocess.DEVNULL, check=True)
            d = time.perf_counter() - t
        best[i] = d if best[i] is None else min(best[i], d)
for b in best:
    print(f"{b:.4f}")
PY
}

mbps() { python3 -c "import os,sys; print(f'{os.path.getsize(sys.argv[1])/float(sys.argv[2])/1e6:.0f}')" "$1" "$2"; }

printf '%-10s %-8s %10s %10s\n' text engine size_MB MB/s
# report NAME FILE [ARGS [ONLY]]: rows for this build and, when set, the baseline (not with
# --naive, nor when ONLY is given); prints the MB/s of this build, then of the baseline
report() {
    local name=$1 file=$2 args=${3:-} only=${4:-}
    local bins=("$bin")
    [ -z "$baseline" ] || [ "$args" = --naive ] || [ -n "$only" ] || bins+=("$baseline")
    local size; size=$(python3 -c "import os,sys; print(os.path.getsize(sys.argv[1])//1000000)" "$file")
    local i=0 secs rate
    for secs in $(best "$file" "$args" "${bins[@]}"); do
        rate=$(mbps "$file" "$secs")
        local engine=${args:-mycelium}
        [ "$i" = 0 ] || engine=baseline
        printf '%-10s %-8s %10s %10s\n' "$name" "$engine" "$size" "$rate" >&2
        echo "$rate"
        i=$((i + 1))
    done
}

summary=()
if [ -f "$work/clean.txt" ]; then
    read -r -d '' c_fast c_base < <(report clean "$work/clean.txt"; printf '\0') || true
    c_fast_small=$(report clean "$work/clean-small.txt" "" only)
    c_naive=$(report clean "$work/clean-small.txt" --naive)
    summary+=(clean "$c_fast" "$c_fast_small" "$c_naive" "${c_base:-}")
fi
if [ -f "$work/dense.txt" ]; then
    read -r -d '' d_fast d_base < <(report dense "$work/dense.txt"; printf '\0') || true
    d_naive=$(report dense "$work/dense.txt" --naive)
    summary+=(dense "$d_fast" "$d_fast" "$d_naive" "${d_base:-}")
fi
if [ -f "$work/realistic.txt" ]; then
    read -r -d '' r_fast r_base < <(report realistic "$work/realistic.txt"; printf '\0') || true
    r_fast_small=$(report realistic "$work/realistic-small.txt" "" only)
    r_naive=$(report realistic "$work/realistic-small.txt" --naive)
    summary+=(realistic "$r_fast" "$r_fast_small" "$r_naive" "${r_base:-}")
fi
python3 - "$baseline" "${summary[@]}" <<'PY'
import sys
baseline, rest = sys.argv[1], sys.argv[2:]
for i in range(0, len(rest), 5):
    name, fast, small, naive, base = rest[i:i + 5]
    f, s, n = float(fast), float(small), float(naive)
    if name == "dense":
        line = f"dense: {f:.0f} MB/s vs naive {n:.0f} MB/s = {f/n:.1f}x"
    else:
        line = (f"{name}: {f/1000:.2f} GB/s ({f:.0f} MB/s); same 32 MB slice: "
                f"mycelium {s:.0f} MB/s vs naive {n:.0f} MB/s = {s/n:.1f}x")
    if base:
        line += f"; baseline {float(base):.0f} MB/s, this build {f/float(base):.2f}x"
    print(line)
if baseline:
    print(f"(baseline: {baseline}, runs alternating with this build on the same files)")
print("(wall clock of the whole process, including start-up to compile the rules)")
PY
