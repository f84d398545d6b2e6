#!/usr/bin/env bash
# The test suite: unit tests and the integration tests that drive the real binary
# (confined processes included). Set MYCELIUM_REQUIRE_SANDBOX=1 to turn a missing kernel
# feature into a failure instead of a loud skip.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --all-targets "$@"
