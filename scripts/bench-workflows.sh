#!/usr/bin/env bash
# The workflow machinery's cost: /bin/true workflows through the ProcessManager against bare
# sandbox starts through the same spawner, at concurrency 1 and 8, on SQLite and on a
# redis-server this script starts on a free loopback port (and stops); then direct starts
# against spawner starts. Ratios are what to read: this machine is shared and noisy.
#
#   scripts/bench-workflows.sh [RUNS]      (default 500; installs redis-server when missing, as root)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-500}

command -v redis-server >/dev/null || { apt-get update -qq && apt-get install -y -qq redis-server >/dev/null; }
cargo build --release --quiet
bin=$(scripts/bin-path.sh release)

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
dir=$(mktemp -d)
redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --dir "$dir" >/dev/null &
redis_pid=$!
trap 'kill $redis_pid 2>/dev/null; wait $redis_pid 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 100); do
  python3 -c "import socket; socket.create_connection(('127.0.0.1',$port))" 2>/dev/null && break
  sleep 0.05
done

MYCELIUM_BIN=$bin cargo bench --quiet --bench workflows -- --runs "$runs" --redis "redis://127.0.0.1:$port/"
