#!/usr/bin/env bash
# Runs every benchmark in one go on this machine and prints the tables
# that BENCHMARKS.md records. Usage: bash bench/run.sh (as root: the
# cluster case makes network namespaces).
set -euo pipefail
cd "$(dirname "$0")/.."
CGO_ENABLED=0 go build -o bin/ ./cmd/daemonctl ./examples/demoserver
command -v start-stop-daemon >/dev/null || { echo "start-stop-daemon (dpkg) is needed"; exit 1; }
need=()
command -v supervisord >/dev/null || need+=(supervisor)
command -v javac >/dev/null || need+=(default-jdk-headless) # the JVM behind start.sh
[ -x /usr/sbin/sshd ] || need+=(openssh-server)             # the hosts of the cluster case
command -v ssh >/dev/null || need+=(openssh-client)
command -v ip >/dev/null || need+=(iproute2)
[ -x /usr/share/zookeeper/bin/zkServer.sh ] || need+=(zookeeper)  # the ensemble of the rolling case
/usr/bin/python3 -c 'import kazoo' 2>/dev/null || need+=(python3-kazoo) # its writing client
if [ ${#need[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null
fi
echo "# $(date -u +%Y-%m-%dT%H:%MZ) on $(nproc) cores, $(uname -r), $(go version | cut -d' ' -f3)"
echo
go run ./bench/stopbench -daemonctl bin/daemonctl
echo
go run ./bench/supervisebench -daemonctl bin/daemonctl -demoserver bin/demoserver
echo
go run ./bench/scalebench -daemonctl bin/daemonctl
echo
go run ./bench/clusterbench -daemonctl bin/daemonctl
echo
go run ./bench/zkrollbench -daemonctl bin/daemonctl
echo
go run ./bench/faultbench -daemonctl bin/daemonctl
echo
go run ./bench/floorbench -daemonctl bin/daemonctl
