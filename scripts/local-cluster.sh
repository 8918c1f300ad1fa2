#!/usr/bin/env bash
# Brings up a working local cluster: one scheduler and one agent on this
# machine's Docker engine, state under .pisched/. Run again to check it is up;
# `bash scripts/local-cluster.sh stop` stops both (containers keep running).
set -euo pipefail
cd "$(dirname "$0")/.."
STATE_DIR="${PISCHED_HOME:-$PWD/.pisched}"
ADDRESS="${PISCHED_LISTEN:-127.0.0.1:7700}"
NODE_ID="${PISCHED_NODE_ID:-$(hostname -s | tr -c 'a-zA-Z0-9_.\n-' '-')}"
BIN="$PWD/node_modules/.bin"

running() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

stop() {
  for name in agent scheduler; do
    if running "$STATE_DIR/$name.pid"; then
      kill "$(cat "$STATE_DIR/$name.pid")" && echo "stopped $name"
    fi
    rm -f "$STATE_DIR/$name.pid"
  done
}

if [ "${1:-start}" = stop ]; then
  stop
  exit 0
fi

bash scripts/install.sh
bash scripts/ensure-docker.sh
mkdir -p "$STATE_DIR"

if ! running "$STATE_DIR/scheduler.pid"; then
  nohup "$BIN/pisched-scheduler" --id s1 --listen "$ADDRESS" --data-dir "$STATE_DIR/scheduler" \
    >>"$STATE_DIR/scheduler.log" 2>&1 &
  echo $! >"$STATE_DIR/scheduler.pid"
fi
if ! running "$STATE_DIR/agent.pid"; then
  # First start: the agent joins with the worker token, which the CLI reads
  # with the admin credentials the new scheduler wrote into its data dir.
  JOIN=()
  if [ ! -f "$STATE_DIR/agent/tls/node.pem" ]; then
    for _ in $(seq 1 60); do
      TOKEN=$("$BIN/pisched" --scheduler "$ADDRESS" join-token worker -q 2>/dev/null) && break
      running "$STATE_DIR/scheduler.pid" || { echo "the scheduler exited; see $STATE_DIR/scheduler.log" >&2; exit 1; }
      sleep 0.5
    done
    [ -n "${TOKEN:-}" ] || { echo "the scheduler did not answer within 30 s; see $STATE_DIR/scheduler.log" >&2; exit 1; }
    JOIN=(--join-token "$TOKEN")
  fi
  nohup "$BIN/pisched-agent" --node-id "$NODE_ID" --scheduler "$ADDRESS" --data-dir "$STATE_DIR/agent" "${JOIN[@]}" \
    >>"$STATE_DIR/agent.log" 2>&1 &
  echo $! >"$STATE_DIR/agent.pid"
fi

for _ in $(seq 1 60); do
  if "$BIN/pisched" --scheduler "$ADDRESS" node ls --json 2>/dev/null | grep -q '"state": "ready"'; then
    cat <<MSG

pisched is up: scheduler on $ADDRESS, agent "$NODE_ID" on the local Docker engine.
State: $STATE_DIR (logs: scheduler.log, agent.log).

Run a service (the test image was built locally; there is no registry here):
  npx pisched run --name hello --replicas 2 pisched-test/busybox:latest
  npx pisched ps hello
  npx pisched node ls
Add another Pi: npx pisched join-token worker   (prints the command to run there)
Stop the daemons: bash scripts/local-cluster.sh stop
MSG
    exit 0
  fi
  running "$STATE_DIR/scheduler.pid" || { echo "the scheduler exited; see $STATE_DIR/scheduler.log" >&2; exit 1; }
  running "$STATE_DIR/agent.pid" || { echo "the agent exited; see $STATE_DIR/agent.log" >&2; exit 1; }
  sleep 0.5
done
echo "the agent did not become ready within 30 s; see $STATE_DIR/agent.log" >&2
exit 1
