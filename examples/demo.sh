#!/usr/bin/env bash
# Builds daemonctl and the example server, then starts the example's three
# servers in dependency order, shows their status, and stops them.
set -euo pipefail
cd "$(dirname "$0")/.."
CGO_ENABLED=0 go build -o bin/ ./cmd/daemonctl ./examples/demoserver
dc() { echo "\$ daemonctl $*"; bin/daemonctl -c examples/daemonctl.yaml "$@"; }
dc check
dc start
dc status || true
dc status --json master || true
curl -s http://127.0.0.1:17345/health 2>/dev/null || true
dc logs api -n 3
dc stop
dc status || true
