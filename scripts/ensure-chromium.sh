#!/usr/bin/env bash
# Makes sure Debian's chromium is installed: the dashboard's browser test
# (test/dashboard.test.ts) drives it with playwright-core, which downloads no
# browser of its own. Safe to run again and again.
set -euo pipefail

log() { echo "ensure-chromium: $*" >&2; }

command -v chromium >/dev/null 2>&1 && exit 0
if [ "$(id -u)" != 0 ]; then
  log "chromium is missing; run as root or install it: apt-get install -y chromium"
  exit 1
fi
log "installing chromium from Debian"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq chromium >/dev/null
