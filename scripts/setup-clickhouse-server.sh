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

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  if ! command -v sudo >/dev/null 2>&1; then
    log "run as root or install sudo: apt-get must install clickhouse-server"
    exit 1
  fi
  SUDO=(sudo)
fi

if ! apt-cache show clickhouse-server >/dev/null 2>&1; then
  log "updating the apt package lists"
  "${SUDO[@]}" apt-get update -qq
fi
log "installing clickhouse-server and clickhouse-client"
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
  apt-get install -y -qq clickhouse-server clickhouse-client >/dev/null
command -v clickhouse-server >/dev/null 2>&1 || {
  log "clickhouse-server was installed but is not on PATH"
  exit 1
}
