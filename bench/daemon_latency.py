#!/usr/bin/python3
"""Drives a running csodd as a build server would, by renaming files into
inbox/<dev>/, and times them until the outbox STATUS says signed.

  daemon_latency.py SPOOL DEV N latency   drops N digests one at a time;
                                          prints p50 and p99 in ms
  daemon_latency.py SPOOL DEV N burst     drops N digests at once; prints
                                          files per second until all signed
  daemon_latency.py SPOOL DEV 1 file PATH drops a copy of PATH (made first,
                                          outside the inbox); prints seconds
"""
import hashlib
import os
import shutil
import sys
import time

spool, dev, n, mode = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
inbox = os.path.join(spool, "inbox", dev)
outbox = os.path.join(spool, "outbox", dev)
stamp = "%x" % int(time.time() * 1000)


def state(rid):
    try:
        with open(os.path.join(outbox, rid, "STATUS")) as f:
            return f.read().strip()
    except OSError:
        return ""


def wait_for(before, count, limit):
    """Waits until `count` requests not in `before` are signed. Each STATUS
    is read until it is final, never again after: the poller must not
    compete with the daemon for the cores."""
    end = time.monotonic() + limit
    done = set()
    while time.monotonic() < end:
        for e in os.scandir(outbox):
            if e.name in before or e.name in done:
                continue
            s = state(e.name)
            if s == "signed":
                done.add(e.name)
            elif s == "failed":
                raise SystemExit("request %s failed" % e.name)
        if len(done) >= count:
            return
        time.sleep(0.0005 if count == 1 else 0.05)
    raise SystemExit("timed out waiting for %d signed requests" % count)


def drop_digest(i):
    name = "b%s-%d.sha256" % (stamp, i)
    tmp = os.path.join(inbox, "." + name + ".tmp")
    with open(tmp, "w") as f:
        f.write(hashlib.sha256(("%s %d" % (stamp, i)).encode()).hexdigest() + "  f%d\n" % i)
    os.rename(tmp, os.path.join(inbox, name))


before = set(os.listdir(outbox))
if mode == "latency":
    lat = []
    for i in range(n):
        t0 = time.monotonic()
        drop_digest(i)
        wait_for(before, 1, 120)
        lat.append((time.monotonic() - t0) * 1000)
        before = set(os.listdir(outbox))
    lat.sort()
    print("latency_p50_ms %.1f" % lat[len(lat) // 2])
    print("latency_p99_ms %.1f" % lat[min(len(lat) - 1, int(len(lat) * 0.99))])
elif mode == "burst":
    t0 = time.monotonic()
    for i in range(n):
        drop_digest(i)
    wait_for(before, n, 1200)
    print("burst_files_per_s %.1f" % (n / (time.monotonic() - t0)))
elif mode == "file":
    src = sys.argv[5]
    name = os.path.basename(src)
    tmp = os.path.join(inbox, "." + name + ".tmp")
    shutil.copyfile(src, tmp)
    os.sync()
    t0 = time.monotonic()
    os.rename(tmp, os.path.join(inbox, name))
    wait_for(before, 1, 1200)
    print("file_s %.2f" % (time.monotonic() - t0))
else:
    raise SystemExit(__doc__)
