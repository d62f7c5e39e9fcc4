#!/usr/bin/env python3
"""What a change costs `status`: two daemonctl binaries, alternated, on a
config of 100 plain services (a PATH command) and one of 100 DolphinScheduler-
shaped services (a bin/start.sh each, which status checks for a copy another
tool started), stopped and then running. Prints the best of two rounds of
medians of 40 runs each.

Usage: python3 bench/status_cost.py OLD_BINARY NEW_BINARY
"""
import os, statistics, subprocess, sys, tempfile, time

old, new = sys.argv[1], sys.argv[2]
root = tempfile.mkdtemp(prefix="status-cost-")

def write_configs():
    for kind in ("plain", "ds"):
        d = os.path.join(root, kind)
        os.makedirs(d)
        with open(os.path.join(d, "daemonctl.yaml"), "w") as f:
            f.write("services:\n")
            for i in range(1, 101):
                if kind == "plain":
                    f.write(f'  s{i}:\n    command: [sleep, "1000"]\n    start_grace: 0s\n')
                    continue
                bin_dir = os.path.join(d, f"s{i}", "bin")
                os.makedirs(bin_dir)
                script = os.path.join(bin_dir, "start.sh")
                with open(script, "w") as s:
                    s.write("#!/bin/sh\nexec sleep 1000\n")
                os.chmod(script, 0o755)
                f.write(f"  s{i}:\n    command: [bin/start.sh]\n    dir: s{i}\n    start_grace: 0s\n")

def median_ms(cmd, cwd, n=40):
    xs = []
    for _ in range(n):
        t = time.perf_counter()
        subprocess.run(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        xs.append((time.perf_counter() - t) * 1000)
    return statistics.median(xs)

def table(state):
    for kind in ("plain", "ds"):
        cwd = os.path.join(root, kind)
        for args in (["status", "s1"], ["status"]):
            best = {}
            for b in (old, new, old, new):
                best[b] = min(best.get(b, 1e9), median_ms([b] + args, cwd))
            print(f"| {kind} | `{' '.join(args)}` ({state}) | {best[old]:.1f} ms | {best[new]:.1f} ms |")

write_configs()
print("| config | command | old | new |\n|---|---|---|---|")
for kind in ("plain", "ds"):  # claim each run_dir, so stopped means stopped
    cwd = os.path.join(root, kind)
    subprocess.run([new, "start"], cwd=cwd, stdout=subprocess.DEVNULL, check=True)
    subprocess.run([new, "stop"], cwd=cwd, stdout=subprocess.DEVNULL, check=True)
table("stopped")
for kind in ("plain", "ds"):
    subprocess.run([new, "start"], cwd=os.path.join(root, kind), stdout=subprocess.DEVNULL, check=True)
table("running")
for kind in ("plain", "ds"):
    subprocess.run([new, "stop"], cwd=os.path.join(root, kind), stdout=subprocess.DEVNULL, check=True)
