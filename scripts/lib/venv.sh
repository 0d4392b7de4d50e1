# Sourced by the setup scripts. `ensure_venv DIR` creates a Python (>= 3.9) virtual
# environment at DIR unless one is there, installing python3-venv when running as root
# on Debian and venv creation fails. Uses the caller's `log` function.

ensure_venv() {
  local venv="$1" python="" candidate
  [ -x "$venv/bin/python" ] && return 0
  for candidate in python3 python3.13 python3.12 python3.11 python3.10 python3.9; do
    if command -v "$candidate" >/dev/null 2>&1 &&
      "$candidate" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 9) else 1)' 2>/dev/null; then
      python="$candidate"
      break
    fi
  done
  if [ -z "$python" ]; then
    log "Python >= 3.9 is missing: install python3 (and python3-venv), then rerun scripts/setup.sh"
    return 1
  fi
  log "creating the virtual environment at $venv with $python"
  mkdir -p "$(dirname "$venv")"
  if ! "$python" -m venv "$venv"; then
    rm -rf "$venv"
    if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
      log "installing python3-venv"
      apt-get install -y python3-venv >/dev/null
      "$python" -m venv "$venv"
    else
      log "\`$python -m venv\` failed: install python3-venv, then rerun scripts/setup.sh"
      return 1
    fi
  fi
}
