#!/usr/bin/env bash
# Install the real MCP clients the integration tests drive `mycelium serve` with, into
# target/mcp-clients/ (or $MYCELIUM_MCP_CLIENTS):
#   venv/                     a Python venv holding the official SDK, PyPI `mcp`
#   node_modules/.bin/mcp-inspector   the MCP Inspector (its --cli mode)
# Idempotent: a client already at the pinned version is left alone. Exits non-zero, saying
# what is missing, when it cannot install (no python3 venv module, no npm, no registry).
set -euo pipefail
cd "$(dirname "$0")/.."

# Pinned: the tests assert on what these versions send and accept. Inspector 2.12.0, not
# whatever `npm install` picks: on Node 20 a plain install resolves to 0.15.0, whose CLI
# has no --protocol-era; 2.12.0's CLI runs on Node 20.
MCP_PY_VERSION=2.3.0
INSPECTOR_VERSION=2.12.0

dest=${MYCELIUM_MCP_CLIENTS:-$PWD/target/mcp-clients}
venv=$dest/venv
inspector_pkg=$dest/node_modules/@modelcontextprotocol/inspector/package.json
inspector_bin=$dest/node_modules/.bin/mcp-inspector

fail() {
  echo "scripts/mcp-clients.sh: $*" >&2
  exit 1
}

mkdir -p "$dest"

# --- Python SDK ---------------------------------------------------------------------------
installed_py=$("$venv/bin/python" -c \
  'import importlib.metadata as m; print(m.version("mcp"))' 2>/dev/null || true)
if [ "$installed_py" = "$MCP_PY_VERSION" ]; then
  echo "mcp $MCP_PY_VERSION (Python SDK): already installed"
else
  command -v python3 >/dev/null || fail "python3 not found: install it (Debian: apt-get install python3 python3-venv)"
  if [ ! -x "$venv/bin/python" ]; then
    rm -rf "$venv"
    python3 -m venv "$venv" ||
      fail "python3 -m venv failed: install the venv module (Debian: apt-get install python3-venv)"
  fi
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "mcp==$MCP_PY_VERSION" ||
    fail "pip could not install mcp==$MCP_PY_VERSION into $venv (is PyPI reachable?)"
  echo "mcp $MCP_PY_VERSION (Python SDK): installed"
fi

# --- MCP Inspector ------------------------------------------------------------------------
installed_js=$(node -p "require('$inspector_pkg').version" 2>/dev/null || true)
if [ "$installed_js" = "$INSPECTOR_VERSION" ] && [ -x "$inspector_bin" ]; then
  echo "@modelcontextprotocol/inspector $INSPECTOR_VERSION: already installed"
else
  command -v node >/dev/null || fail "node not found: install Node.js 20 or newer (Debian: apt-get install nodejs npm)"
  command -v npm >/dev/null || fail "npm not found: install it (Debian: apt-get install npm)"
  npm install --prefix "$dest" --no-audit --no-fund --loglevel=error \
    "@modelcontextprotocol/inspector@$INSPECTOR_VERSION" >/dev/null ||
    fail "npm could not install @modelcontextprotocol/inspector@$INSPECTOR_VERSION into $dest (is the npm registry reachable?)"
  [ -x "$inspector_bin" ] || fail "the inspector installed, but $inspector_bin is missing"
  echo "@modelcontextprotocol/inspector $INSPECTOR_VERSION: installed"
fi

echo "python:    $venv/bin/python"
echo "inspector: $inspector_bin"
