#!/usr/bin/env bash
# Makes sure the load generator and the reference proxy of the routing-mesh
# benchmark (bench/routing-mesh.ts) are installed: wrk and HAProxy from Debian,
# so every run measures against the same packaged versions. Safe to run again and again.
set -euo pipefail

log() { echo "ensure-bench-tools: $*" >&2; }

need_install=()
command -v wrk >/dev/null 2>&1 || need_install+=(wrk)
command -v haproxy >/dev/null 2>&1 || need_install+=(haproxy)
[ ${#need_install[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
  log "missing ${need_install[*]}; run as root or install them: apt-get install -y ${need_install[*]}"
  exit 1
fi
log "installing ${need_install[*]} from Debian"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${need_install[@]}" >/dev/null
