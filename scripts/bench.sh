#!/usr/bin/env bash
# Start-to-exit time of /bin/true: bare, under `mycelium exec` (all namespaces + new root +
# Landlock + seccomp + capabilities dropped; policies/bench-default.toml), and under
# bubblewrap with equivalent read-only binds, in the same run. Prints medians and the ratio
# mycelium / bwrap. A second mycelium row goes through the re-executed launcher
# (MYCELIUM_LAUNCHER=1, what a multi-threaded caller gets).
#
#   scripts/bench.sh [RUNS]        (default 200; needs root for apt-get the first time)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-200}

need() { command -v "$1" >/dev/null || { apt-get update -qq && apt-get install -y -qq "$2" >/dev/null; }; }
need bwrap bubblewrap
need hyperfine hyperfine

cargo build --release --quiet
bin=$(scripts/bin-path.sh release)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

binds=(--ro-bind /usr /usr --symlink usr/bin /bin --symlink usr/lib /lib)
[ -e /lib64 ] && binds+=(--symlink usr/lib64 /lib64)
[ -e /etc/ld.so.cache ] && binds+=(--ro-bind /etc/ld.so.cache /etc/ld.so.cache)
bwrap_cmd="bwrap --unshare-all --die-with-parent --new-session ${binds[*]} --proc /proc --dev /dev --tmpfs /tmp /bin/true"
myc_cmd="$bin exec --policy policies/bench-default.toml -- /bin/true"

hyperfine -N --warmup 20 --runs "$runs" --export-json "$out/r.json" \
  -n bare /bin/true -n mycelium "$myc_cmd" -n bwrap "$bwrap_cmd" >&2
# hyperfine cannot set a variable for one command only: the launcher row is its own run.
MYCELIUM_LAUNCHER=1 hyperfine -N --warmup 20 --runs "$runs" --export-json "$out/l.json" \
  -n launcher "$myc_cmd" >&2

python3 - "$out/r.json" "$out/l.json" <<'PY'
import json, sys
r = {x["command"]: x for f in sys.argv[1:] for x in json.load(open(f))["results"]}
med = {k: v["median"] * 1000 for k, v in r.items()}
for k in ("bare", "mycelium", "bwrap", "launcher"):
    print(f"{k:9s} median {med[k]:7.3f} ms  (mean {r[k]['mean']*1000:.3f} ± {r[k]['stddev']*1000:.3f} ms)")
print(f"ratio mycelium/bwrap = {med['mycelium'] / med['bwrap']:.2f}"
      f"  (through the launcher: {med['launcher'] / med['bwrap']:.2f}, separate run)")
PY
