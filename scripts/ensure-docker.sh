#!/usr/bin/env bash
# Makes sure a Docker engine answers and the local test image exists.
# There is no registry on our test machines, so the image is built from the
# busybox-static binary with `docker import`. Safe to run again and again.
set -euo pipefail

TEST_IMAGE="${PISCHED_TEST_IMAGE:-pisched-test/busybox:latest}"

log() { echo "ensure-docker: $*" >&2; }

source "$(dirname "$0")/debian-packages.sh"
# iptables: the partition tests cut members off with its cgroup match (test/network-partition.ts);
# nft: the mesh's kernel forwarder and its tests (--mesh-forwarder kernel).
install_missing dockerd=docker.io /bin/busybox=busybox-static iptables=iptables /usr/sbin/nft=nftables

# Without systemd, / is a private mount. dockerd then binds its data root onto
# itself as a shared mount, and unmounts that bind when it stops. A container
# create still in flight on a kept-alive API connection (an agent's) while the
# engine stops can leave that container's overlay mounted beneath the bind; the
# next engine's bind hides it, and the container can never be removed ("device
# or resource busy"). So before starting an engine: unmount what a stopped one
# left under its data root (none runs, so nothing there is in use), and make the
# shared bind ourselves, as a systemd host's shared / would, so that it outlives
# engine restarts.
unmount_beneath() {
  local point
  for point in $(awk -v r="$1/" 'index($5, r) == 1 { print $5 }' /proc/self/mountinfo | sort -r); do
    log "unmounting $point, left by an engine that stopped"
    umount "$point" 2>/dev/null || umount -l "$point" 2>/dev/null || true
  done
}

prepare_data_root() {
  local root=/var/lib/docker
  if [ -f /etc/docker/daemon.json ]; then
    root=$(node -e 'const c = JSON.parse(require("fs").readFileSync("/etc/docker/daemon.json", "utf8")); process.stdout.write(c["data-root"] || c.graph || "/var/lib/docker")')
  fi
  mkdir -p "$root"
  unmount_beneath "$root"
  # A bind of the directory onto itself (dockerd's from an engine that was killed,
  # or ours) can hide what was mounted beneath it before it: remove it, then look
  # again. Only a bind of that very directory (mountinfo's root field is its
  # path): a disk mounted there is left alone.
  local round
  for round in 1 2 3; do
    awk -v r="$root" '$4 == r && $5 == r { found = 1 } END { exit !found }' /proc/self/mountinfo || break
    umount "$root"
    unmount_beneath "$root"
  done
  if ! awk -v r="$root" '$5 == r' /proc/self/mountinfo | grep -q 'shared:'; then
    mount --bind "$root" "$root"
    mount --make-shared "$root"
  fi
}

if ! docker info >/dev/null 2>&1; then
  if [ "$(id -u)" != 0 ]; then
    log "the Docker engine is not running and only root can start it"
    exit 1
  fi
  if [ -d /run/systemd/system ] && systemctl start docker 2>/dev/null; then
    log "started docker with systemd"
  else
    prepare_data_root
    log "starting dockerd in the background (log: /var/log/pisched-dockerd.log)"
    # In a session of its own: a signal to the caller's process group (Ctrl-C, or
    # `timeout` expiring around npm test) must not take the shared engine down with it.
    # Only stdio: an inherited descriptor (a caller's `flock` lock, say) would be
    # held for as long as the engine runs.
    (
      for fd in /proc/self/fd/*; do
        fd=${fd##*/}
        [ "$fd" -gt 2 ] 2>/dev/null && eval "exec $fd>&-"
      done
      exec setsid -f dockerd </dev/null >/var/log/pisched-dockerd.log 2>&1
    )
  fi
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && break
    sleep 0.5
  done
  docker info >/dev/null 2>&1 || { log "dockerd did not come up; see /var/log/pisched-dockerd.log"; exit 1; }
fi

if ! docker image inspect "$TEST_IMAGE" >/dev/null 2>&1; then
  log "building $TEST_IMAGE from busybox-static"
  rootfs=$(mktemp -d)
  trap 'rm -rf "$rootfs"' EXIT
  mkdir -p "$rootfs/bin" "$rootfs/tmp" "$rootfs/etc"
  cp /bin/busybox "$rootfs/bin/busybox"
  for applet in $("$rootfs/bin/busybox" --list); do
    [ "$applet" = busybox ] || ln -s busybox "$rootfs/bin/$applet"
  done
  # The default command idles until told to stop: PID 1 ignores SIGTERM unless it traps it.
  tar -C "$rootfs" -c . | docker import \
    -c 'CMD ["/bin/sh", "-c", "trap \"exit 0\" TERM INT; while :; do sleep 1; done"]' \
    -c 'LABEL pisched.test-image=1' \
    - "$TEST_IMAGE" >/dev/null
fi
# A second, different image for rolling-update tests (there is no registry to
# pull one from): the same busybox with /VERSION saying 2.
UPDATE_IMAGE="${PISCHED_TEST_IMAGE_V2:-pisched-test/busybox:v2}"
if ! docker image inspect "$UPDATE_IMAGE" >/dev/null 2>&1; then
  log "building $UPDATE_IMAGE from busybox-static"
  rootfs2=$(mktemp -d)
  mkdir -p "$rootfs2/bin" "$rootfs2/tmp" "$rootfs2/etc"
  cp /bin/busybox "$rootfs2/bin/busybox"
  for applet in $("$rootfs2/bin/busybox" --list); do
    [ "$applet" = busybox ] || ln -s busybox "$rootfs2/bin/$applet"
  done
  echo 2 >"$rootfs2/VERSION"
  tar -C "$rootfs2" -c . | docker import \
    -c 'CMD ["/bin/sh", "-c", "trap \"exit 0\" TERM INT; while :; do sleep 1; done"]' \
    -c 'LABEL pisched.test-image=2' \
    - "$UPDATE_IMAGE" >/dev/null
  rm -rf "$rootfs2"
fi
log "docker $(docker version --format '{{.Server.Version}}') ready, test image $TEST_IMAGE", update image $UPDATE_IMAGE
