#!/usr/bin/env bash
# Makes sure Debian's chromium is installed: the dashboard's browser test
# (test/dashboard.test.ts) drives it with playwright-core, which downloads no
# browser of its own. Safe to run again and again.
set -euo pipefail

log() { echo "ensure-chromium: $*" >&2; }

source "$(dirname "$0")/debian-packages.sh"
install_missing chromium=chromium
