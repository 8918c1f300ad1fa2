#!/usr/bin/env bash
# Installs pisched on a Pi (Raspberry Pi OS / Debian, arm64, armhf or amd64)
# from this checkout, writes its systemd units and starts them.
#
#   install.sh scheduler --init [--id ID] [--address HOST] [--port N]
#   install.sh scheduler --join HOST:PORT --token T [--id ID] [--address HOST] [--port N]
#   install.sh agent --join HOST:PORT[,HOST:PORT…] --token T [--node-id NAME] [--labels k=v,…]
#   install.sh upgrade            # new code, same configuration, units restarted
#   install.sh uninstall [--purge]
#
# Common options:
#   --root DIR       stage everything under DIR instead of / (no packages
#                    installed, no systemctl): for packaging and for the tests
#   --state-dir DIR  where the daemons keep their state (default /var/lib/pisched)
#   --no-start       write everything but do not (re)start the units
#   -- ARGS…         more flags for the daemon, e.g. -- --cpus 2 --memory 1G
#
# Running it again for a role already installed keeps that role's
# configuration and upgrades the code in place. The agent's containers keep
# running through an upgrade: a restarted agent adopts them.
set -Eeuo pipefail

CHECKOUT="$(cd "$(dirname "$0")/.." && pwd)"
ROOT=""
STATE_DIR=/var/lib/pisched
START=1
ROLE=""
INIT=0
JOIN=""
TOKEN=""
ID=""
ADDRESS=""
PORT=7700
NODE_ID=""
LABELS=""
PURGE=0
EXTRA=()

die() { echo "install.sh: $*" >&2; exit 1; }
say() { echo "install.sh: $*"; }
# A step that fails unexpectedly still ends with one line saying which.
trap 'echo "install.sh: failed (line $LINENO): $BASH_COMMAND" >&2' ERR

[ $# -gt 0 ] || die "give a role: scheduler, agent, upgrade or uninstall (see the top of this file)"
case "$1" in
  scheduler | agent | upgrade | uninstall) ROLE="$1"; shift ;;
  *) die "unknown role '$1': scheduler, agent, upgrade or uninstall" ;;
esac
while [ $# -gt 0 ]; do
  case "$1" in
    --init) INIT=1 ;;
    --join) JOIN="${2:?--join needs HOST:PORT}"; shift ;;
    --token) TOKEN="${2:?--token needs the join token}"; shift ;;
    --id) ID="${2:?--id needs a value}"; shift ;;
    --address) ADDRESS="${2:?--address needs a host}"; shift ;;
    --port) PORT="${2:?--port needs a number}"; shift ;;
    --node-id) NODE_ID="${2:?--node-id needs a value}"; shift ;;
    --labels) LABELS="${2:?--labels needs k=v,…}"; shift ;;
    --root) ROOT="${2:?--root needs a directory}"; shift ;;
    --state-dir) STATE_DIR="${2:?--state-dir needs a directory}"; shift ;;
    --no-start) START=0 ;;
    --purge) PURGE=1 ;;
    --) shift; EXTRA=("$@"); break ;;
    *) die "unknown option '$1'" ;;
  esac
  shift
done

if [ -n "$ROOT" ]; then
  mkdir -p "$ROOT"
  ROOT="$(cd "$ROOT" && pwd)"
  START=0
fi
OPT="$ROOT/opt/pisched"
ETC="$ROOT/etc/pisched"
UNITS="$ROOT/etc/systemd/system"
BIN="$ROOT/usr/local/bin"

[[ "$PORT" =~ ^[0-9]+$ ]] && [ "$PORT" -ge 1 ] && [ "$PORT" -le 65534 ] || die "--port must be 1–65534 (Raft uses the port + 1)"
[[ "$STATE_DIR" = /* ]] || die "--state-dir must be an absolute path"
[ -z "$TOKEN" ] || [[ "$TOKEN" = PSCTKN-1-* ]] || die "--token does not look like a join token (PSCTKN-1-…); get one with: pisched join-token worker|manager -q"
[ -z "$JOIN" ] || [[ "$JOIN" =~ ^[^,:]+:[0-9]+(,[^,:]+:[0-9]+)*$ ]] || die "--join must be HOST:PORT (the agent takes a comma-separated list)"

if [ "$(id -u)" != 0 ] && [ -z "$ROOT" ]; then die "run as root (it installs packages and systemd units)"; fi

# --- packages ---------------------------------------------------------------

node_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

candidate_major() {
  apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ { sub(/^[0-9]+:/, "", $2); split($2, v, "."); print v[1] + 0; exit }'
}

ensure_node() {
  if [ "$(node_major)" -ge 20 ]; then return; fi
  [ -z "$ROOT" ] || die "Node.js ≥ 20 is needed here to stage a release"
  local offered
  offered="$(candidate_major nodejs)"
  if [ "${offered:-0}" -lt 20 ]; then
    die "Node.js ≥ 20 is needed and this distribution offers ${offered:-none}: install Node.js 20 or later (e.g. from NodeSource or the nodejs.org tarball) and run this again"
  fi
  say "installing nodejs from the distribution"
  DEBIAN_FRONTEND=noninteractive apt-get install -y nodejs >/dev/null
}

ensure_docker() {
  [ -z "$ROOT" ] || return 0
  if ! command -v dockerd >/dev/null; then
    say "installing docker.io from the distribution"
    DEBIAN_FRONTEND=noninteractive apt-get install -y docker.io >/dev/null
  fi
  if [ "$START" = 1 ]; then systemctl enable --now docker >/dev/null; fi
}

# --- the release ------------------------------------------------------------

# A release is this checkout's built packages with their production
# dependencies, in a directory of its own; `current` points at the one in use,
# so an upgrade switches at once and the previous release stays for a rollback.
install_release() {
  ensure_node
  # The agent's unit runs its bundle (dist/bundle/pisched-agent.js): a checkout built before it existed is built again.
  if [ ! -f "$CHECKOUT/packages/cli/dist/main.js" ] || [ ! -f "$CHECKOUT/packages/agent/dist/bundle/pisched-agent.js" ]; then
    command -v npm >/dev/null || die "this checkout is not built and npm is missing: install npm (apt-get install npm) or build it elsewhere"
    say "building the checkout"
    bash "$CHECKOUT/scripts/install.sh" >/dev/null
  fi
  local version release staging commit
  version="$(node -p "require('$CHECKOUT/package.json').version")"
  # A clean commit names its release, so installing it again (a second role
  # on the same host, or a re-run) reuses it; anything else is always new.
  commit="$(git -C "$CHECKOUT" rev-parse --short HEAD 2>/dev/null || true)"
  if [ -n "$commit" ] && [ -z "$(git -C "$CHECKOUT" status --porcelain --untracked-files=no 2>/dev/null)" ]; then
    version="$version-$commit"
  else
    version="$version-${commit:+$commit-dirty-}$(date +%Y%m%d%H%M%S)"
  fi
  release="$OPT/releases/$version"
  if [ -d "$release" ]; then
    switch_release "$version"
    say "release $version is already installed in $OPT"
    return
  fi
  staging="$release.new"
  rm -rf "$staging"
  mkdir -p "$staging"
  (cd "$CHECKOUT" && tar -cf - package.json package-lock.json proto node_modules \
    packages/*/package.json packages/*/bin packages/*/dist packages/scheduler/dashboard) | tar -xf - -C "$staging"
  # Dev tools (the compiler, the test runner) have no place on a Pi.
  if command -v npm >/dev/null; then
    (cd "$staging" && npm prune --omit=dev --offline --no-audit --no-fund >/dev/null 2>&1) ||
      say "npm prune failed; the release keeps its dev dependencies"
  fi
  mv "$staging" "$release"
  switch_release "$version"
  # Keep the release in use and the one before it.
  (cd "$OPT/releases" && ls -1t | { grep -vxF "$version" || true; } | tail -n +2 | xargs -r rm -rf)
  say "installed release $version in $OPT"
}

# Points `current` at a release in one rename, so a unit (re)starting at that
# moment sees either the old release or the new one, never a mix.
switch_release() {
  ln -sfn "releases/$1" "$OPT/current.new"
  mv -T "$OPT/current.new" "$OPT/current"
}

write_wrappers() {
  local node
  node="$(command -v node)"
  mkdir -p "$BIN"
  local name package
  for name in pisched pisched-scheduler pisched-agent; do
    case "$name" in
      pisched) package=cli ;;
      pisched-scheduler) package=scheduler ;;
      pisched-agent) package=agent ;;
    esac
    # The CLI starts through its own launcher (bin/pisched: what it leaves out of Node's start, and why).
    local start="exec $node /opt/pisched/current/packages/$package/bin/$name.js"
    [ "$name" != pisched ] || start="PISCHED_NODE=$node; export PISCHED_NODE; exec /opt/pisched/current/packages/cli/bin/pisched"
    cat >"$BIN/$name" <<EOF
#!/bin/sh
# Written by pisched's install.sh. /etc/pisched/pisched.env names this host's scheduler for the CLI.
if [ -r /etc/pisched/pisched.env ]; then . /etc/pisched/pisched.env; export PISCHED_SCHEDULER; fi
$start "\$@"
EOF
    chmod 0755 "$BIN/$name"
  done
}

write_unit() {
  local name="$1" node
  node="$(command -v node)"
  mkdir -p "$UNITS"
  sed -e "s#@NODE@#$node#g" -e "s#/var/lib/pisched#$STATE_DIR#g" \
    "$CHECKOUT/packaging/systemd/$name.service" >"$UNITS/$name.service"
}

# The default address a scheduler advertises: this host's source address for
# the default route (a route lookup only: nothing is sent).
default_address() {
  ip -4 route get 1.0.0.0 2>/dev/null | awk '{ for (i = 1; i < NF; i++) if ($i == "src") { print $(i + 1); exit } }'
}

# Quotes one argument for an EnvironmentFile line read by systemd and by sh.
quote_args() {
  local out="" arg
  for arg in "$@"; do
    [[ "$arg" =~ ^[A-Za-z0-9_./:,=@+-]+$ ]] || die "argument '$arg' has characters the unit file cannot carry"
    out+="${out:+ }$arg"
  done
  printf '%s' "$out"
}

write_env() {
  local file="$1" variable="$2"
  shift 2
  mkdir -p "$ETC"
  chmod 0755 "$ETC"
  # The first start's join token is a credential: the file is root's only.
  (umask 077 && printf '# Written by pisched'"'"'s install.sh; the daemon'"'"'s flags.\n%s="%s"\n' "$variable" "$(quote_args "$@")" >"$file")
}

# The scheduler's unit may only write here (ReadWritePaths), so it must exist
# before the unit starts. A staged --root leaves it to the daemons.
make_state_dir() {
  [ -z "$ROOT" ] || return 0
  mkdir -p "$STATE_DIR" && chmod 0700 "$STATE_DIR"
}

restart_unit() {
  local name="$1"
  [ "$START" = 1 ] || return 0
  [ -d /run/systemd/system ] || die "systemd is not running on this machine: start $name by hand, or run with --no-start"
  systemctl daemon-reload
  systemctl enable "$name" >/dev/null 2>&1
  systemctl restart "$name"
  say "started $name (journalctl -u $name)"
}

# --- roles ------------------------------------------------------------------

install_scheduler() {
  local env="$ETC/scheduler.env"
  if [ -f "$env" ]; then
    [ "$INIT" = 0 ] && [ -z "$JOIN" ] || say "a scheduler is already configured here ($env): keeping its configuration, upgrading the code"
    install_release
  else
    [ "$INIT" = 1 ] || [ -n "$JOIN" ] || die "a new scheduler needs --init (a new cluster) or --join HOST:PORT --token T"
    [ "$INIT" = 0 ] || [ -z "$JOIN" ] || die "give --init or --join, not both"
    [ -z "$JOIN" ] || [ -n "$TOKEN" ] || die "--join needs --token (pisched join-token manager -q on a member)"
    [ -n "$ADDRESS" ] || ADDRESS="$(default_address)"
    [ -n "$ADDRESS" ] || die "cannot tell this host's address: give --address HOST"
    ID="${ID:-$(hostname -s)}"
    local args=(--id "$ID" --listen "$ADDRESS:$PORT" --data-dir "$STATE_DIR/scheduler")
    if [ "$INIT" = 1 ]; then
      # --peers of one, so the cluster can grow to three with --join later.
      args+=(--peers "$ID=$ADDRESS:$PORT" --ca-dir "$STATE_DIR/ca")
    else
      args+=(--join "$JOIN" --join-token "$TOKEN")
    fi
    install_release
    write_env "$env" PISCHED_SCHEDULER_ARGS "${args[@]}" "${EXTRA[@]}"
    printf 'PISCHED_SCHEDULER=%s\n' "$ADDRESS:$PORT" >"$ETC/pisched.env"
  fi
  make_state_dir
  write_wrappers
  write_unit pisched-scheduler
  restart_unit pisched-scheduler
}

install_agent() {
  local env="$ETC/agent.env"
  if [ -f "$env" ]; then
    [ -z "$JOIN" ] || say "an agent is already configured here ($env): keeping its configuration, upgrading the code"
    install_release
  else
    [ -n "$JOIN" ] && [ -n "$TOKEN" ] || die "a new agent needs --join HOST:PORT --token T (pisched join-token worker -q on a scheduler)"
    NODE_ID="${NODE_ID:-$(hostname -s)}"
    local args=(--node-id "$NODE_ID" --scheduler "$JOIN" --data-dir "$STATE_DIR/agent" --join-token "$TOKEN")
    [ -z "$LABELS" ] || args+=(--labels "$LABELS")
    install_release
    write_env "$env" PISCHED_AGENT_ARGS "${args[@]}" "${EXTRA[@]}"
    [ -f "$ETC/pisched.env" ] || printf 'PISCHED_SCHEDULER=%s\n' "$JOIN" >"$ETC/pisched.env"
  fi
  ensure_docker
  make_state_dir
  write_wrappers
  write_unit pisched-agent
  restart_unit pisched-agent
}

upgrade() {
  [ -f "$ETC/scheduler.env" ] || [ -f "$ETC/agent.env" ] || die "nothing to upgrade: pisched is not installed here"
  install_release
  write_wrappers
  local name
  for name in scheduler agent; do
    if [ -f "$ETC/$name.env" ]; then
      write_unit "pisched-$name"
      restart_unit "pisched-$name"
    fi
  done
}

uninstall() {
  local name
  for name in pisched-agent pisched-scheduler; do
    if [ -f "$UNITS/$name.service" ]; then
      if [ -z "$ROOT" ] && [ -d /run/systemd/system ]; then systemctl disable --now "$name" >/dev/null 2>&1 || true; fi
      rm -f "$UNITS/$name.service"
    fi
  done
  if [ -z "$ROOT" ] && [ -d /run/systemd/system ]; then systemctl daemon-reload; fi
  rm -rf "$OPT" "$ETC" "$BIN/pisched" "$BIN/pisched-scheduler" "$BIN/pisched-agent"
  if [ "$PURGE" = 1 ]; then
    rm -rf "${ROOT}${STATE_DIR:?}"
    say "removed pisched and its state ($STATE_DIR)"
  else
    say "removed pisched; its state stays in $ROOT$STATE_DIR (--purge removes it). Containers it started keep running: remove them with docker rm -f"
  fi
  say "Node.js and Docker stay installed: other software may use them"
}

case "$ROLE" in
  scheduler) install_scheduler ;;
  agent) install_agent ;;
  upgrade) upgrade ;;
  uninstall) uninstall ;;
esac
