#!/usr/bin/env bash
# Installs the outside OpenAPI tools the tests use: PyPI openapi-spec-validator
# (host/tests/openapi.rs) and schemathesis (tests/tests/dev.rs fuzzes the running host), in
# a virtual environment at
# $HOME/.local/share/moose/tools-venv. Idempotent, and a quick no-op when it is present.
set -euo pipefail

log() { printf '[setup-openapi] %s\n' "$*" >&2; }

VALIDATOR_VERSION=0.9.0
SCHEMATHESIS_VERSION=4.32.5
VENV="$HOME/.local/share/moose/tools-venv"

installed() {
  # The dist-info directory is enough (no need to start Python).
  [ -x "$VENV/bin/python" ] &&
    compgen -G "$VENV/lib/python3*/site-packages/openapi_spec_validator-$VALIDATOR_VERSION.dist-info" >/dev/null &&
    compgen -G "$VENV/lib/python3*/site-packages/schemathesis-$SCHEMATHESIS_VERSION.dist-info" >/dev/null
}

if installed; then
  exit 0
fi

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
  log "creating the tools virtual environment at $VENV with $python"
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
log "installing openapi-spec-validator==$VALIDATOR_VERSION and schemathesis==$SCHEMATHESIS_VERSION into $VENV"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
  "openapi-spec-validator==$VALIDATOR_VERSION" "schemathesis==$SCHEMATHESIS_VERSION"
"$VENV/bin/python" -c 'import openapi_spec_validator' || {
  log "openapi-spec-validator was installed but does not import; see the error above"
  exit 1
}
