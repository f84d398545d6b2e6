#!/usr/bin/env bash
# Rerun the sandbox, escape, run and workspace integration tests as an unprivileged user (uid 65534), the way most
# people run mycelium. Must be started as root. The test binary and mycelium are copied to
# a directory every user can read, since the build tree may live under a private home.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then
  echo "scripts/test-unprivileged.sh: run as root (it switches to uid 65534 itself)" >&2
  exit 2
fi
test_bin=$(cargo test --test it --no-run --message-format=json 2>/dev/null \
  | python3 -c 'import json,sys
for l in sys.stdin:
    m = json.loads(l)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "it" and m.get("executable"):
        print(m["executable"])')
dir=$(mktemp -d /tmp/mycelium-unpriv.XXXXXX)
trap 'rm -rf "$dir"' EXIT
cp "$test_bin" "$dir/it"
cp "$(scripts/bin-path.sh debug)" "$dir/mycelium"
chmod 755 "$dir" "$dir/it" "$dir/mycelium"
# The rerun's temporary files (fixtures, a probe it has to build itself) go here, and
# leave with the directory.
mkdir -m 1777 "$dir/tmp"
cd /tmp
setpriv --reuid=65534 --regid=65534 --clear-groups \
  env -i PATH=/usr/bin:/bin HOME=/tmp TMPDIR="$dir/tmp" \
  MYCELIUM_TEST_BIN="$dir/mycelium" MYCELIUM_REQUIRE_SANDBOX="${MYCELIUM_REQUIRE_SANDBOX:-0}" \
  MYCELIUM_LAUNCHER=1 \
  "$dir/it" --test-threads=2 sandbox:: escape:: run:: workspace:: mcp::
