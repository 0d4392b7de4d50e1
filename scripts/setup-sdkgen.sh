#!/usr/bin/env bash
# Installs the type checkers the tests of generated client SDKs use (tests/tests/end_to_end/sdkgen.rs):
# npm `typescript` into tests/sdkgen-tools/node_modules (pinned by its package.json and
# package-lock.json) and PyPI `mypy` into the virtual environment at
# $HOME/.local/share/moose/tools-venv. Idempotent, and a quick no-op when both are present.
set -euo pipefail
. "$(dirname "$0")/lib/venv.sh"

log() { printf '[setup-sdkgen] %s\n' "$*" >&2; }

MYPY_VERSION=1.19.1
TOOLS="$(cd "$(dirname "$0")/../tests/sdkgen-tools" && pwd)"
VENV="$HOME/.local/share/moose/tools-venv"

typescript_installed() {
  local wanted
  wanted=$(sed -n 's/.*"typescript": "\([^"]*\)".*/\1/p' "$TOOLS/package.json")
  [ -x "$TOOLS/node_modules/.bin/tsc" ] &&
    grep -q "\"version\": \"$wanted\"" "$TOOLS/node_modules/typescript/package.json" 2>/dev/null
}

mypy_installed() {
  # The dist-info directory is enough (no need to start Python).
  [ -x "$VENV/bin/mypy" ] &&
    compgen -G "$VENV/lib/python3*/site-packages/mypy-$MYPY_VERSION.dist-info" >/dev/null
}

if ! typescript_installed; then
  command -v npm >/dev/null 2>&1 || {
    log "npm is missing: install Node.js 18 or newer, then rerun scripts/setup.sh"
    exit 1
  }
  log "installing typescript into $TOOLS/node_modules"
  if [ -f "$TOOLS/package-lock.json" ]; then
    (cd "$TOOLS" && npm ci --silent --no-audit --no-fund)
  else
    (cd "$TOOLS" && npm install --silent --no-audit --no-fund)
  fi
fi

if ! mypy_installed; then
  ensure_venv "$VENV"
  log "installing mypy==$MYPY_VERSION into $VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "mypy==$MYPY_VERSION"
fi
