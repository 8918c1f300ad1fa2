#!/usr/bin/env bash
# Installs the project's npm dependencies (when the lockfile changed) and builds it.
set -euo pipefail
cd "$(dirname "$0")/.."
stamp=node_modules/.pisched-installed
if [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ]; then
  npm ci --no-audit --no-fund
  touch "$stamp"
fi
npm run build --silent
