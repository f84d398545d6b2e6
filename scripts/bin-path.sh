#!/usr/bin/env bash
# Print where cargo puts the mycelium binary for PROFILE (debug or release; default
# release). .cargo/config.toml names the host as the build target, so that is
# ${CARGO_TARGET_DIR:-target}/<host tuple>/PROFILE/mycelium.
set -euo pipefail
cd "$(dirname "$0")/.."
host=$(rustc -vV | sed -n 's/^host: //p')
echo "${CARGO_TARGET_DIR:-$PWD/target}/$host/${1:-release}/mycelium"
