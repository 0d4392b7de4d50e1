#!/usr/bin/env bash
# Installs everything the project needs that a fresh machine may lack. Idempotent and
# quick when nothing is missing; the other scripts call it first.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[setup] %s\n' "$*" >&2; }

if ! command -v cargo >/dev/null 2>&1; then
  log "cargo is missing: install Rust with rustup (https://rustup.rs) first"
  exit 1
fi

# Components are compiled for the WebAssembly component target.
if ! rustup target list --installed | grep -qx wasm32-wasip2; then
  log "adding the wasm32-wasip2 Rust target"
  rustup target add wasm32-wasip2
fi

# cargo fmt / clippy for the checks in .ci/run.
for component in rustfmt clippy; do
  if ! rustup component list --installed | grep -q "^$component"; then
    log "adding rustup component $component"
    rustup component add "$component"
  fi
done

# The embedded ClickHouse engine (chDB) and the outside ClickHouse client the tests use.
./scripts/setup-olap.sh

# The OpenAPI validator the tests run on generated documents.
./scripts/setup-openapi.sh

# The toolchains that build TypeScript and Python components.
./scripts/setup-guests.sh

# TypeScript and mypy, which the tests run on generated client SDKs.
./scripts/setup-sdkgen.sh

# A real (old, Debian) ClickHouse server for the server smoke suite.
./scripts/setup-clickhouse-server.sh

# The Kafka-compatible broker (tansu) the Kafka backend's end-to-end test and benchmark use.
./scripts/setup-kafka.sh

# skopeo and umoci, which the production image test unpacks `moose build --docker` images with.
./scripts/setup-image-tools.sh
