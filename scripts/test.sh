#!/usr/bin/env bash
# Runs the whole test suite: unit tests, and integration tests against real compiled
# components. Installs what is missing first.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
# The CLI tests run the real `moose` binary.
cargo build --locked -p moose-host
cargo test --workspace --locked --no-fail-fast "$@"
# The guest SDKs' own unit tests, natively in Node.js and CPython.
(cd guest-sdk-js && npm test --silent)
python3 -m unittest discover -s guest-sdk-python/tests
