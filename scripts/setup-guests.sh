#!/usr/bin/env bash
# Installs the JS guest SDK's npm dependencies (esbuild, TypeScript, componentize-js) in
# the source tree, for its own tests and the example apps that link to it. (What `moose`
# itself needs to build components, it installs on first use: see host/src/toolchain/.)
# Idempotent, and quick when nothing changed.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[setup-guests] %s\n' "$*" >&2; }

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  log "Node.js 18+ with npm is missing: install it (Debian: apt-get install nodejs npm), then rerun"
  exit 1
fi
if ! node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 18 ? 0 : 1)'; then
  log "Node.js $(node --version) is too old: TypeScript components need Node.js 18 or newer"
  exit 1
fi

# npm writes node_modules/.package-lock.json on every install; newer than the lock file
# means the installed tree is current.
installed="guest-sdk-js/node_modules/.package-lock.json"
if [ ! -f "$installed" ] || [ guest-sdk-js/package-lock.json -nt "$installed" ]; then
  log "installing the JS guest SDK's dependencies (npm ci in guest-sdk-js)"
  (cd guest-sdk-js && npm ci --no-audit --no-fund --loglevel=error)
fi
