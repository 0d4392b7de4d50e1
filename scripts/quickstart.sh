#!/usr/bin/env bash
# The main job: builds the moose CLI and runs `moose dev` on the quickstart app (embedded
# streams and ClickHouse, no Docker). Installs what is missing first. Ctrl-C stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
cargo build --release --locked -p moose-host
exec ./target/release/moose dev examples/quickstart "$@"
