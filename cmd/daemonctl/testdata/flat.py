# Flattens a cluster command's --json (stdin) to one line per host and
# service: "HOST SERVICE ACTION [the error's start]", for scenarios to
# compare.
import json, sys
for h in json.load(sys.stdin)["hosts"]:
    if h["error"]:
        print(h["host"], "-", "error", h["error"])
    for r in h["results"]:
        print(" ".join([h["host"], r["service"], r["action"], r.get("error", "")[:40]]).strip())
