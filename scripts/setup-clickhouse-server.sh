#!/usr/bin/env bash
# Installs a real ClickHouse server and client (Debian's clickhouse-server and
# clickhouse-client packages) for host/tests/clickhouse_server.rs. Idempotent and silent
# when both are installed. The tests run the server themselves, in a temporary directory;
# the package's system service is not needed.
set -euo pipefail

log() { printf '[setup-clickhouse-server] %s\n' "$*" >&2; }

if command -v clickhouse-server >/dev/null 2>&1 && command -v clickhouse-client >/dev/null 2>&1; then
  exit 0
fi

# shellcheck source=lib/apt.sh
. "$(dirname "$0")/lib/apt.sh"
apt_install clickhouse-server clickhouse-client
command -v clickhouse-server >/dev/null 2>&1 || {
  log "clickhouse-server was installed but is not on PATH"
  exit 1
}
