#!/usr/bin/env bash
# What the MCP server adds: the invoke_agent -> completed round trip of a /bin/true agent
# over stdio (one `mycelium serve`, a raw JSON-RPC client) against `mycelium exec` of the
# same policy and a bare /bin/true, interleaved in rounds, with the ratio MCP / exec; then
# BURST invocations sent at once and followed to the end (none lost, all completed, wall
# time, workflows per second) at the server's default --max-concurrent and at 8, against
# the same sandboxes as `mycelium exec` processes. Ratios are what to read: this machine
# is shared and noisy. Details and options: scripts/bench-mcp.py --help.
#
#   scripts/bench-mcp.sh [RUNS] [ROUNDS] [BURST] [bench-mcp.py options...]
#                                            (defaults 200 round trips, 5 rounds, 100)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-200}
rounds=${2:-5}
burst=${3:-100}
shift $(($# < 3 ? $# : 3))

cargo build --release --quiet
bin=$(scripts/bin-path.sh release)

exec python3 scripts/bench-mcp.py --bin "$bin" --runs "$runs" --rounds "$rounds" --burst "$burst" "$@"
