#!/usr/bin/env bash
# Fuzzes ingest (body parsing, strict JSON, record validation) with cargo fuzz:
#   scripts/fuzz.sh [SECONDS]    run an optimized build for SECONDS (default 60)
#   scripts/fuzz.sh --runs N     run N inputs on an unoptimized build (what .ci/run does)
# Installs cargo-fuzz when missing. The target links only moose-records and moose-model,
# so the instrumented build takes well under a minute; later runs reuse fuzz/target. Inputs that crash are kept in fuzz/artifacts/ingest/; the corpus grows in
# fuzz/corpus/ingest.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[fuzz] %s\n' "$*" >&2; }

CARGO_FUZZ_VERSION=0.13.1
if ! cargo fuzz --version 2>/dev/null | grep -q "$CARGO_FUZZ_VERSION"; then
  log "installing cargo-fuzz $CARGO_FUZZ_VERSION"
  cargo install cargo-fuzz --locked --version "$CARGO_FUZZ_VERSION"
fi

case "${1:-60}" in
  --runs) build=(--dev) limit="-runs=${2:?--runs needs a count}" ;;
  *) build=() limit="-max_total_time=${1:-60}" ;;
esac
mkdir -p fuzz/corpus/ingest
# cargo fuzz passes flags of the nightly compiler; RUSTC_BOOTSTRAP lets the stable one take
# them. No sanitizer: the host is safe Rust, and libFuzzer still finds panics.
cd fuzz
RUSTC_BOOTSTRAP=1 cargo fuzz run "${build[@]}" --sanitizer none ingest corpus/ingest seeds/ingest -- "$limit"
