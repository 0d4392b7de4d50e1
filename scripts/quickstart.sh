#!/usr/bin/env bash
# The main job: builds the moose CLI and runs it on the quickstart app.
# Installs what is missing first.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
cargo build --release --locked -p moose-host
./target/release/moose build examples/quickstart "$@"
