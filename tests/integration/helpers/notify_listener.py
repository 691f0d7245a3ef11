#!/usr/bin/python3
"""notify_listener.py SOCKET OUT: stands in for systemd's notification
socket (NOTIFY_SOCKET): binds a datagram socket at SOCKET and appends every
message csodd sends to OUT, one line each (its own newlines shown as |),
until killed."""
import os
import socket
import sys

path, out = sys.argv[1], sys.argv[2]
if os.path.exists(path):
    os.unlink(path)
sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
sock.bind(path)
with open(out, "a") as f:
    while True:
        data = sock.recv(65536)
        f.write(data.decode(errors="replace").replace("\n", "|") + "\n")
        f.flush()
