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

VENV="$HOME/.local/share/moose/chdb-venv"
# chdb-core and the codecs the engine's HTTP server decodes and encodes compressed bodies
# with; `moose` installs the same list on first use.
REQUIREMENTS=olap/src/embedded/engine-requirements.txt

installed() { # NAME==VERSION: its dist-info directory is enough (importing chdb takes a second)
  local name="${1%%==*}" version="${1#*==}"
  compgen -G "$VENV/lib/python3*/site-packages/${name//-/_}-$version.dist-info" >/dev/null
}

missing=()
while read -r requirement; do
  if [ -n "$requirement" ] && ! installed "$requirement"; then
    missing+=("$requirement")
  fi
done <"$REQUIREMENTS"
if [ ! -x "$VENV/bin/python" ] || [ ${#missing[@]} -gt 0 ]; then
  ensure_venv "$VENV"
  log "installing ${missing[*]:-the engine} (chdb-core is about 180 MB) into $VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps -r "$REQUIREMENTS"
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

TOOLS="$HOME/.local/share/moose/tools-venv"
PEER_PACKAGES=(clickhouse-connect==1.12.0 pandas==2.2.3 clickhouse-cityhash==1.0.2.6)
if ! compgen -G "$TOOLS/lib/python3*/site-packages/clickhouse_connect-1.12.0.dist-info" >/dev/null ||
  ! compgen -G "$TOOLS/lib/python3*/site-packages/pandas-2.2.3.dist-info" >/dev/null ||
  ! compgen -G "$TOOLS/lib/python3*/site-packages/clickhouse_cityhash-1.0.2.6.dist-info" >/dev/null; then
  ensure_venv "$TOOLS"
  log "installing ${PEER_PACKAGES[*]} into $TOOLS"
  "$TOOLS/bin/python" -m pip install --quiet --disable-pip-version-check "${PEER_PACKAGES[@]}"
fi
