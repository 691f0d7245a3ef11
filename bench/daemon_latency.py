#!/usr/bin/python3
"""Drop-to-signed latency of a running csodd: drops N digest files one at a
time by rename into inbox/<dev>/ and times each until its outbox STATUS says
signed. Prints p50 and p99 in milliseconds, then the throughput of N drops
made at once (files per second)."""
import hashlib
import os
import sys
import time

spool, dev, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
inbox = os.path.join(spool, "inbox", dev)
outbox = os.path.join(spool, "outbox", dev)


def signed_dirs():
    found = set()
    for e in os.scandir(outbox):
        try:
            with open(os.path.join(e.path, "STATUS")) as f:
                if f.read().strip() == "signed":
                    found.add(e.name)
        except OSError:
            pass
    return found


def drop(name, i):
    tmp = os.path.join(inbox, "." + name + ".tmp")
    with open(tmp, "w") as f:
        f.write(hashlib.sha256(str(i).encode()).hexdigest() + "  f%d\n" % i)
    os.rename(tmp, os.path.join(inbox, name))


def wait_signed(before, count, limit=120):
    end = time.monotonic() + limit
    while time.monotonic() < end:
        now = signed_dirs()
        if len(now - before) >= count:
            return now
        time.sleep(0.0005)
    raise SystemExit("timed out waiting for %d signed requests" % count)


done = signed_dirs()
lat = []
for i in range(n):
    t0 = time.monotonic()
    drop("lat%d.sha256" % i, i)
    done = wait_signed(done, 1)
    lat.append((time.monotonic() - t0) * 1000)
lat.sort()
print("latency_p50_ms %.1f" % lat[len(lat) // 2])
print("latency_p99_ms %.1f" % lat[min(len(lat) - 1, int(len(lat) * 0.99))])

t0 = time.monotonic()
for i in range(n):
    drop("burst%d.sha256" % i, n + i)
wait_signed(done, n, limit=600)
print("burst_files_per_s %.1f" % (n / (time.monotonic() - t0)))
