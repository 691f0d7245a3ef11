#!/usr/bin/python3
"""unit_syscalls.py UNIT: prints the system calls a unit's SystemCallFilter=
lines allow, one a line, expanding @groups recursively with
`systemd-analyze syscall-filter` as systemd does: the first line decides
whether the filter is an allow list (no ~) or a deny list (~); later lines
of the same kind add to the set, lines of the other kind remove from it, in
order. Only allow-list units are supported (csodd's is one)."""
import subprocess
import sys

cache = {}


def expand(item):
    if not item.startswith("@"):
        return {item}
    if item not in cache:
        out = subprocess.run(["systemd-analyze", "syscall-filter", item],
                             check=True, capture_output=True, text=True).stdout
        names = set()
        for line in out.splitlines()[1:]:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            names |= expand(line)
        cache[item] = names
    return cache[item]


def main(unit):
    allowed, mode = set(), None
    for line in open(unit):
        line = line.strip()
        if not line.startswith("SystemCallFilter="):
            continue
        value = line.split("=", 1)[1].strip()
        invert = value.startswith("~")
        items = value.lstrip("~").split()
        if mode is None:
            if invert:
                sys.exit("deny-list units are not supported")
            mode = "allow"
        for item in items:
            if invert:
                allowed -= expand(item)
            else:
                allowed |= expand(item)
    for name in sorted(allowed):
        print(name)


if __name__ == "__main__":
    main(sys.argv[1])
