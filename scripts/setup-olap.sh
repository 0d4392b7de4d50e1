#!/usr/bin/env bash
# Installs what the OLAP store (host/src/olap) and its tests need; called by
# scripts/setup.sh. Idempotent, and quick when everything is present:
#  - the embedded ClickHouse engine: PyPI chdb-core (the ClickHouse engine for Python) in a
#    virtual environment at $HOME/.local/share/moose/chdb-venv (the host's default
#    `[clickhouse] python`);
#  - the outside-peer test's official ClickHouse JS client: npm ci in
#    host/tests/peers/clickhouse-js (node_modules is ignored by git).
set -euo pipefail
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
  python=""
  for candidate in python3 python3.13 python3.12 python3.11 python3.10 python3.9; do
    if command -v "$candidate" >/dev/null 2>&1 &&
      "$candidate" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 9) else 1)' 2>/dev/null; then
      python="$candidate"
      break
    fi
  done
  if [ -z "$python" ]; then
    log "Python >= 3.9 is missing: install python3 (and python3-venv), then rerun scripts/setup.sh"
    exit 1
  fi
  if [ ! -x "$VENV/bin/python" ]; then
    log "creating the chDB virtual environment at $VENV with $python"
    mkdir -p "$(dirname "$VENV")"
    if ! "$python" -m venv "$VENV"; then
      rm -rf "$VENV"
      if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
        log "installing python3-venv"
        apt-get install -y python3-venv >/dev/null
        "$python" -m venv "$VENV"
      else
        log "\`$python -m venv\` failed: install python3-venv, then rerun scripts/setup.sh"
        exit 1
      fi
    fi
  fi
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
