#!/usr/bin/env bash
# Makes sure the load generator and the reference proxy of the routing-mesh
# benchmark (bench/routing-mesh.ts) are installed: wrk and HAProxy from Debian,
# so every run measures against the same packaged versions. Safe to run again and again.
set -euo pipefail

log() { echo "ensure-bench-tools: $*" >&2; }

source "$(dirname "$0")/debian-packages.sh"
install_missing wrk=wrk haproxy=haproxy
