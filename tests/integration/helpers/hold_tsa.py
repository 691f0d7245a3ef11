#!/usr/bin/python3
"""A timestamp authority that answers only when told to, for tests that need
a signing to be in flight (on a worker thread, between the signature and
writing it) while they change the world under it.

usage: hold_tsa.py DIR
Binds 127.0.0.1 on a free port and writes it to DIR/port. Each POST appends
a line to DIR/requests; while DIR/hold exists the answer waits, then it is an
HTTP 500 (so an optional timestamp is left out and the signing goes on).
Standard library only.
"""
import http.server
import os
import socketserver
import sys
import time

state = sys.argv[1]


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with open(os.path.join(state, "requests"), "a") as f:
            f.write("post\n")
        while os.path.exists(os.path.join(state, "hold")):
            time.sleep(0.05)
        self.send_error(500, "no timestamp today")

    def log_message(self, *args):
        pass


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


server = Server(("127.0.0.1", 0), Handler)
with open(os.path.join(state, "port.tmp"), "w") as f:
    f.write(str(server.server_address[1]))
os.rename(os.path.join(state, "port.tmp"), os.path.join(state, "port"))
server.serve_forever()
