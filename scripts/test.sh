#!/usr/bin/env bash
# Runs every test daemonctl has, against real servers. On a fresh machine it
# first installs (apt-get, as root) the servers the scenarios drive:
# redis-server, ZooKeeper, a JDK for the JVM-behind-bash scenario, curl,
# OpenSSH's server and client with iproute2 for the multi-host ones, and
# useradd and perl for the ones that play another local user, ansible-core
# and python3-kazoo for the cluster's rolling restart and playbook.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v redis-server >/dev/null || need+=(redis-server)
command -v redis-cli >/dev/null || need+=(redis-tools)
[ -x /usr/share/zookeeper/bin/zkServer.sh ] || need+=(zookeeper)
# The source-file launcher (java Foo.java) needs a JDK, not just a JRE.
{ command -v java >/dev/null && java --list-modules 2>/dev/null | grep -q '^jdk.compiler'; } || need+=(default-jdk-headless)
command -v curl >/dev/null || need+=(curl)
# cluster scenarios: one sshd per network namespace, reached with ssh
[ -x /usr/sbin/sshd ] || need+=(openssh-server)
command -v ssh >/dev/null || need+=(openssh-client)
command -v ssh-keygen >/dev/null || need+=(openssh-client)
command -v ip >/dev/null || need+=(iproute2)
# the hostile-local-user scenarios: a throwaway user, a perl listener
command -v useradd >/dev/null || need+=(passwd)
command -v perl >/dev/null || need+=(perl-base)
# export systemd: systemd-analyze verify checks every unit (nothing runs systemd)
command -v systemd-analyze >/dev/null || need+=(systemd)
# run as PID 1 (unshare, util-linux) is watched with pgrep; status --watch on a tty (script, bsdutils)
command -v pgrep >/dev/null || need+=(procps)
command -v unshare >/dev/null || need+=(util-linux)
command -v script >/dev/null || need+=(bsdutils)
# a real container: podman with runc (crun refuses this kernel's hybrid
# cgroups), and a static busybox for the FROM scratch image
command -v podman >/dev/null || need+=(podman)
command -v runc >/dev/null || need+=(runc)
dpkg -s busybox-static >/dev/null 2>&1 || need+=(busybox-static)
# the ZooKeeper ensemble's rolling restart is watched by a real client
/usr/bin/python3 -c 'import kazoo' 2>/dev/null || need+=(python3-kazoo)
# the Ansible example runs against the namespace hosts
command -v ansible-playbook >/dev/null || need+=(ansible-core)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null
fi

echo "== gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then echo "gofmt would change: $unformatted"; exit 1; fi
echo "== go vet"
go vet ./...
echo "== go test -race"
# Under CI (CI=true) every tool is installed above, so a skipped test
# means a test that did not run: testreport fails the run.
noskip=""
[ "${CI:-}" = true ] && noskip=-noskip
go build -o "${TMPDIR:-/tmp}/daemonctl-testreport" ./scripts/testreport
# The endurance runs alone take minutes under -race; go test's default
# 10-minute limit per package is too near.
go test -race -count=1 -timeout 40m -json ./... | "${TMPDIR:-/tmp}/daemonctl-testreport" $noskip
echo "== fuzz (bounded)"
# Bounded by a count of inputs, not a duration: with a duration, Go 1.26's
# fuzz coordinator can fail a target that found nothing with "context
# deadline exceeded" when a worker is mid-batch at the deadline
# (golang/go#75804, fixed in 1.27). Each count is 8-15 s of fuzzing
# here. FUZZTIME (a count, 5000x, or a duration) overrides them all.
fuzz() { go test -run '^$' -fuzz "^$1\$" -fuzztime "${FUZZTIME:-$2}" "$3"; }
fuzz FuzzParse 150000x ./internal/config/
fuzz FuzzLoad 60000x ./internal/envfile/
fuzz FuzzRoundTrip 150000x ./internal/configcache/
fuzz FuzzDecode 400000x ./internal/configcache/
fuzz FuzzParseRecord 300000x ./internal/state/
fuzz FuzzAppend 250000x ./internal/jsonquote/
