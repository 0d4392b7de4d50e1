#!/usr/bin/env bash
# Installs the outside OpenAPI tools the tests use: PyPI openapi-spec-validator
# (host/tests/openapi.rs) and schemathesis (tests/tests/end_to_end/dev.rs fuzzes the running host), in
# a virtual environment at
# $HOME/.local/share/moose/tools-venv. Idempotent, and a quick no-op when it is present.
set -euo pipefail
. "$(dirname "$0")/lib/venv.sh"

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

ensure_venv "$VENV"
log "installing openapi-spec-validator==$VALIDATOR_VERSION and schemathesis==$SCHEMATHESIS_VERSION into $VENV"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
  "openapi-spec-validator==$VALIDATOR_VERSION" "schemathesis==$SCHEMATHESIS_VERSION"
"$VENV/bin/python" -c 'import openapi_spec_validator' || {
  log "openapi-spec-validator was installed but does not import; see the error above"
  exit 1
}
