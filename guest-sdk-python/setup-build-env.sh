#!/usr/bin/env bash
# Creates (or checks) the Python environment that builds Python components: the
# machine's python3 with componentize-py and this SDK installed (editable, so builds
# always see the current SDK sources). Idempotent; prints one line when already set up.
#
#   guest-sdk-python/setup-build-env.sh   # venv at $MOOSE_PYTHON_BUILD_VENV
#                                         # (default ~/.local/share/moose/python-build-venv)
set -euo pipefail

sdk="$(cd "$(dirname "$0")" && pwd)"
venv="${MOOSE_PYTHON_BUILD_VENV:-$HOME/.local/share/moose/python-build-venv}"
componentize_py="componentize-py==0.25.1"
# The time zone database packed into every component (zoneinfo; see moose_guest/_tz.py).
tzdata="tzdata==2026.6"

log() { printf '[setup-python] %s\n' "$*" >&2; }

# shellcheck source=../scripts/lib/venv.sh
. "$sdk/../scripts/lib/venv.sh"

ready() {
  [ -x "$venv/bin/python" ] || return 1
  "$venv/bin/python" - "$sdk" <<'PY' 2>/dev/null
import importlib.metadata as md, pathlib, sys
import moose_guest
assert md.version("componentize-py") == "0.25.1"
assert md.version("tzdata") == "2026.6"
sdk = pathlib.Path(sys.argv[1]).resolve()
assert pathlib.Path(moose_guest.__file__).resolve().is_relative_to(sdk)
PY
}

if ready; then
  echo "python build environment ready: $venv (componentize-py 0.25.1, tzdata 2026.6, moose-guest from $sdk)"
  exit 0
fi

ensure_venv "$venv"
log "installing $componentize_py, $tzdata and moose-guest (editable) into $venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$componentize_py" "$tzdata"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps -e "$sdk"
if ! ready; then
  log "the environment at $venv does not import moose_guest from $sdk"
  exit 1
fi
echo "python build environment ready: $venv (componentize-py 0.25.1, tzdata 2026.6, moose-guest from $sdk)"
