#!/usr/bin/env bash
# Installs what the OLAP store (olap/, crate moose-olap) and its tests need; called by
# scripts/setup.sh. Idempotent, and quick when everything is present:
#  - the embedded ClickHouse engine: PyPI chdb-core (the ClickHouse engine for Python) in a
#    virtual environment at $HOME/.local/share/moose/chdb-venv (the host's default
#    `[clickhouse] python`);
#  - the outside peers the tests run against it: the official ClickHouse JS client (npm ci
#    in host/tests/peers/clickhouse-js; node_modules is ignored by git) and PyPI
#    clickhouse-connect with pandas, in $HOME/.local/share/moose/tools-venv.
set -euo pipefail
. "$(dirname "$0")/lib/venv.sh"
cd "$(dirname "$0")/.."

log() { printf '[setup-olap] %s\n' "$*" >&2; }

CHDB_VERSION=26.9.0
VENV="$HOME/.local/share/moose/chdb-venv"
# What the embedded engine's HTTP server decodes and encodes compressed bodies with.
CODECS=(lz4==4.4.5 zstandard==0.25.0 clickhouse-cityhash==1.0.2.6)

installed() { # NAME-VERSION: its dist-info directory is enough (importing chdb takes a second)
  compgen -G "$VENV/lib/python3*/site-packages/$1.dist-info" >/dev/null
}

if ! { [ -x "$VENV/bin/python" ] && installed "chdb_core-$CHDB_VERSION"; }; then
  ensure_venv "$VENV"
  log "installing chdb-core==$CHDB_VERSION (about 180 MB) into $VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps \
    "chdb-core==$CHDB_VERSION"
  "$VENV/bin/python" -c 'import chdb.state' || {
    log "chdb-core was installed but does not import; see the error above"
    exit 1
  }
fi
if ! { installed lz4-4.4.5 && installed zstandard-0.25.0 && installed clickhouse_cityhash-1.0.2.6; }; then
  log "installing ${CODECS[*]} into $VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps "${CODECS[@]}"
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

TOOLS="$HOME/.local/share/moose/tools-venv"
PEER_PACKAGES=(clickhouse-connect==1.12.0 pandas==2.2.3 clickhouse-cityhash==1.0.2.6)
if ! compgen -G "$TOOLS/lib/python3*/site-packages/clickhouse_connect-1.12.0.dist-info" >/dev/null ||
  ! compgen -G "$TOOLS/lib/python3*/site-packages/pandas-2.2.3.dist-info" >/dev/null ||
  ! compgen -G "$TOOLS/lib/python3*/site-packages/clickhouse_cityhash-1.0.2.6.dist-info" >/dev/null; then
  ensure_venv "$TOOLS"
  log "installing ${PEER_PACKAGES[*]} into $TOOLS"
  "$TOOLS/bin/python" -m pip install --quiet --disable-pip-version-check "${PEER_PACKAGES[@]}"
fi
