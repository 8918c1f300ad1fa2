# Sourced by the ensure-*.sh scripts: installs from Debian the packages whose
# command is missing. Each argument is CHECK=PACKAGE, CHECK a command name or
# an absolute path that must be executable. Uses the caller's log().
install_missing() {
  local need=() pair check
  for pair in "$@"; do
    check=${pair%%=*}
    if [[ $check == /* ]]; then [ -x "$check" ] && continue; else command -v "$check" >/dev/null 2>&1 && continue; fi
    need+=("${pair#*=}")
  done
  [ ${#need[@]} -eq 0 ] && return 0
  if [ "$(id -u)" != 0 ]; then
    log "missing ${need[*]}; run as root or install them: apt-get install -y ${need[*]}"
    exit 1
  fi
  log "installing ${need[*]} from Debian"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need[@]}" >/dev/null
}
