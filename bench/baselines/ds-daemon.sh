#!/bin/bash
# A faithful re-implementation, for benchmarks, of the semantics of
# DolphinScheduler's bin/dolphinscheduler-daemon.sh (see
# ../shared/DOLPHINSCHEDULER.md): pid file, nohup, "running" = pid alive,
# stop = TERM to the wrapper's children (pkill -P), a fixed sleep 5, then
# kill -9, pid file removed unconditionally; status always exits 0.
# Usage: ds-daemon.sh start|stop|status NAME HOME COMMAND...
set -u
action=$1 name=$2 home=$3
shift 3
pid=$home/$name.pid
log=$home/$name.out
case $action in
start)
  if [ -f "$pid" ] && kill -0 "$(cat "$pid")" 2>/dev/null; then
    echo "$name running as process $(cat "$pid").  Stop it first."
    exit 1
  fi
  nohup /bin/bash -c "$*" >"$log" 2>&1 &
  echo $! >"$pid"
  ;;
stop)
  if [ -f "$pid" ]; then
    target=$(cat "$pid")
    if kill -0 "$target" 2>/dev/null; then
      pkill -P "$target"
      sleep 5
      if kill -0 "$target" 2>/dev/null; then
        pkill -9 -P "$target"
        kill -9 "$target" 2>/dev/null
      fi
    fi
    rm -f "$pid"
  fi
  ;;
status)
  if [ -f "$pid" ] && kill -0 "$(cat "$pid")" 2>/dev/null; then echo "$name [ RUNNING ]"; else echo "$name [ STOP ]"; fi
  ;;
esac
exit 0
