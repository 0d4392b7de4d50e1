#!/usr/bin/env bash
# Installs the outside tools the production image test unpacks images with: Debian's
# skopeo (copies an `oci-archive:` tarball to an `oci:` layout directory) and umoci
# (unpacks an OCI layout into a root file system). Idempotent and silent when both are
# installed.
set -euo pipefail

log() { printf '[setup-image-tools] %s\n' "$*" >&2; }

if command -v skopeo >/dev/null 2>&1 && command -v umoci >/dev/null 2>&1; then
  exit 0
fi

# shellcheck source=lib/apt.sh
. "$(dirname "$0")/lib/apt.sh"
apt_install skopeo umoci
for tool in skopeo umoci; do
  command -v "$tool" >/dev/null 2>&1 || {
    log "$tool was installed but is not on PATH"
    exit 1
  }
done
