# apt_install PACKAGE...: installs Debian packages with apt-get, as root or through sudo,
# refreshing the package lists only when apt does not know a package yet. The caller
# defines `log`.
apt_install() {
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    if ! command -v sudo >/dev/null 2>&1; then
      log "run as root or install sudo: apt-get must install $*"
      return 1
    fi
    sudo=(sudo)
  fi
  if ! apt-cache show "$@" >/dev/null 2>&1; then
    log "updating the apt package lists"
    "${sudo[@]}" apt-get update -qq
  fi
  log "installing $*"
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}
