#!/usr/bin/env bash
# Installs what the OLAP store (host/src/olap) and its tests need; called by
# scripts/setup.sh. Idempotent, and quick when everything is present:
#  - the embedded ClickHouse engine: PyPI chdb-core (the ClickHouse engine for Python) in a
#    virtual environment at $HOME/.local/share/moose/chdb-venv (the host's default
#    `[clickhouse] python`);
#  - the outside-peer test's official ClickHouse JS client: npm ci in
#    host/tests/peers/clickhouse-js (node_modules is ignored by git).
set -euo pipefail
. "$(dirname "$0")/lib/venv.sh"
cd "$(dirname "$0")/.."

log() { printf '[setup-olap] %s\n' "$*" >&2; }

CHDB_VERSION=26.9.0
VENV="$HOME/.local/share/moose/chdb-venv"

chdb_installed() {
  # The dist-info directory is enough (importing chdb takes most of a second).
  [ -x "$VENV/bin/python" ] &&
    compgen -G "$VENV/lib/python3*/site-packages/chdb_core-$CHDB_VERSION.dist-info" >/dev/null
}

if ! chdb_installed; then
  ensure_venv "$VENV"
  log "installing chdb-core==$CHDB_VERSION (about 180 MB) into $VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps \
    "chdb-core==$CHDB_VERSION"
  "$VENV/bin/python" -c 'import chdb.state' || {
    log "chdb-core was installed but does not import; see the error above"
    exit 1
  }
fi

PEER=host/tests/peers/clickhouse-js
if ! command -v npm >/dev/null 2>&1; then
  log "npm is missing: install Node.js >= 20 (the OLAP tests run the official ClickHouse JS client)"
  exit 1
fi
# npm writes node_modules/.package-lock.json on every install; reinstall when the
# committed lock file is newer than it.
if [ ! -f "$PEER/node_modules/.package-lock.json" ] ||
  [ "$PEER/package-lock.json" -nt "$PEER/node_modules/.package-lock.json" ]; then
  log "installing the ClickHouse JS client into $PEER/node_modules"
  (cd "$PEER" && npm ci --no-audit --no-fund --loglevel=error)
fi
