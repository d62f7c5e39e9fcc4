"""daemonctl_changed: whether a daemonctl --json result changed anything."""
import json

# What daemonctl reports for a service it acted on; already_running,
# not_running and not_attempted change nothing.
CHANGED = {"started", "restarted", "stopped"}


def daemonctl_changed(stdout):
    results = json.loads(stdout)["results"]
    return any(r["action"] in CHANGED for r in results)


class FilterModule:
    def filters(self):
        return {"daemonctl_changed": daemonctl_changed}
