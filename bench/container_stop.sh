#!/usr/bin/env bash
# `podman stop` of a bash-wrapped, JVM-like server (examples/docker: the
# wrapper does not exec; the server takes about 1 s to shut down on TERM),
# with daemonctl as the entrypoint, beside the same image with `sh
# start.sh` as the entrypoint, as DolphinScheduler's images do (upstream
# issue 12443). Needs root, podman, runc and busybox-static.
# Usage: bash bench/container_stop.sh [STOP_TIMEOUT_SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
timeout=${1:-30}
work=$(mktemp -d)
trap 'podman rm -f bench-dctl bench-sh >/dev/null 2>&1 || true; podman rmi -f bench-ds-master >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
cat >"$work/containers.conf" <<'CONF'
[containers]
default_ulimits = []
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
runtime = "runc"
CONF
export CONTAINERS_CONF=$work/containers.conf
cp -r examples/docker "$work/ctx"
mkdir -p "$work/ctx/bin"
cp /bin/busybox "$work/ctx/bin/busybox"
CGO_ENABLED=0 go build -o "$work/ctx/bin/daemonctl" ./cmd/daemonctl
podman build -q --format docker --isolation chroot -t bench-ds-master "$work/ctx" >/dev/null

stop_time() { # NAME ENTRYPOINT...
  local name=$1; shift
  podman run -d --name "$name" --net=none --entrypoint "$1" bench-ds-master "${@:2}" >/dev/null 2>&1
  sleep 3 # the server is up after 2 s
  local t0 t1
  t0=$(date +%s.%N)
  podman stop -t "$timeout" "$name" >/dev/null 2>&1
  t1=$(date +%s.%N)
  printf '%.2f s, exit %s' "$(echo "$t1 - $t0" | bc)" "$(podman wait "$name")"
}
echo "| entrypoint | podman stop -t $timeout |"
echo "|---|---|"
echo "| daemonctl run master-server | $(stop_time bench-dctl /bin/daemonctl run master-server) |"
echo "| sh bin/start.sh (as upstream's images) | $(stop_time bench-sh /bin/sh -c 'cd /opt/ds/master-server && exec sh bin/start.sh') |"
