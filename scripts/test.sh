#!/usr/bin/env bash
# The test suite: unit tests and the integration tests that drive the real binary
# (confined processes included). Set MYCELIUM_REQUIRE_SANDBOX=1 to turn a missing kernel
# feature into a failure instead of a loud skip (MYCELIUM_REQUIRE_MCP_CLIENTS=1: missing MCP
# clients likewise).
set -euo pipefail
cd "$(dirname "$0")/.."
# The MCP server's tests drive real clients (the Python SDK, the MCP Inspector). Without
# them those tests skip, loudly, unless MYCELIUM_REQUIRE_MCP_CLIENTS=1 makes them fail.
if ! scripts/mcp-clients.sh; then
  echo "WARNING: scripts/mcp-clients.sh could not install the MCP clients: the tests that drive the MCP server with them will be SKIPPED" >&2
fi
cargo test --all-targets "$@"
