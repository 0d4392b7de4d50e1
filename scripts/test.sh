#!/usr/bin/env bash
# Runs the test suite in two tiers and prints each tier's wall time:
#   fast        unit tests of every crate, doc tests, the guest SDKs' own tests (Node.js,
#               CPython): no services, a few minutes on a warm build;
#   end-to-end  the integration tests: the real `moose` binary, compiled components, the
#               embedded ClickHouse, Kafka-protocol brokers, outside clients.
# `scripts/test.sh --fast` runs the fast tier only. Other arguments go to `cargo test`
# (e.g. a test name filter). Installs what is missing first.
set -euo pipefail
cd "$(dirname "$0")/.."

tier() {
  local name=$1 started=$SECONDS
  shift
  "$@"
  printf '[tier] %s: %d s\n' "$name" "$((SECONDS - started))" >&2
}

fast() {
  cargo test --workspace --locked --no-fail-fast --lib "$@"
  cargo test --workspace --locked --doc "$@"
  (cd guest-sdk-js && npm test --silent)
  python3 -m unittest discover -s guest-sdk-python/tests
}

end_to_end() {
  # The CLI tests run the real `moose` binary.
  cargo build --locked -p moose-host
  cargo test --workspace --locked --no-fail-fast --test '*' "$@"
}

only_fast=false
if [[ "${1:-}" == "--fast" ]]; then
  only_fast=true
  shift
fi
./scripts/setup.sh
tier fast fast "$@"
if ! $only_fast; then
  tier end-to-end end_to_end "$@"
fi
