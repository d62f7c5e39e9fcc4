# Stands in for DolphinScheduler's start.sh: it runs the server without
# exec, and the server (here a shell loop for the JVM) takes a moment to
# shut down on SIGTERM, as a JVM's shutdown hooks do.
sh -c '
  trap "echo master-server: shutting down; sleep 1; rm -f /tmp/master-server.up; echo master-server: down; exit 0" TERM
  sleep 2; echo master-server: up; touch /tmp/master-server.up
  while :; do sleep 0.1; done' &
wait
