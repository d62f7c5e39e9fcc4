# writer.py PHASE: create znodes /PHASE/nNNNNNN without pause until
# PHASE.stop exists, each with kazoo's usual bounded retry (back off to
# 0.5 s, give a write up to 60 s); then check that every znode written is
# there, and print what happened. PHASE.started appears once the first
# write is done. With PHASE.t0 and PHASE.t1 (the restart's start and end)
# it says how much of the restart the longest stall covered. ZK names the
# ensemble (host:port,host:port,...). Used by the zk_ensemble scenario and
# by zkrollbench.
import os, sys, time
from kazoo.client import KazooClient
from kazoo.exceptions import NodeExistsError
from kazoo.retry import KazooRetry, RetryFailedError

phase = sys.argv[1]
def retry():
    return KazooRetry(max_tries=-1, delay=0.05, max_delay=0.5, deadline=60)
zk = KazooClient(hosts=os.environ["ZK"], timeout=10,
                 connection_retry=KazooRetry(max_tries=-1, delay=0.05, max_delay=0.5))
zk.start(timeout=60)
base = "/" + phase
retry()(zk.ensure_path, base)
attempted = given_up = 0
written = []
last = time.time()
stall = (0.0, last, last)
while not os.path.exists(phase + ".stop"):
    attempted += 1
    path = "%s/n%07d" % (base, attempted)
    def create():
        try:
            zk.create(path, b"x")
        except NodeExistsError:
            pass  # an earlier try got through; its answer was lost
    try:
        retry()(create)
    except RetryFailedError:
        given_up += 1
        continue
    now = time.time()
    if now - last > stall[0]:
        stall = (now - last, last, now)
    last = now
    written.append(path.rsplit("/", 1)[1])
    if len(written) == 1:
        open(phase + ".started", "w").close()
# sync first: the server this session reads from has caught up with the
# leader, so a znode missing is missing from the ensemble
retry()(zk.sync, base)
present = set(retry()(zk.get_children, base))
zk.stop()
print("attempted", attempted)
print("written", len(written))
print("given_up", given_up)
print("lost", sum(1 for n in written if n not in present))
print("longest_stall_ms", int(stall[0] * 1000))
if os.path.exists(phase + ".t1"):
    t0, t1 = (float(open(phase + f).read()) for f in (".t0", ".t1"))
    covered = max(0.0, min(stall[2], t1) - max(stall[1], t0)) / (t1 - t0)
    print("restart_ms", int((t1 - t0) * 1000))
    print("stall_covers_restart", "all" if covered > 0.9 else "most" if covered > 0.5 else "little")
