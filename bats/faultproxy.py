#!/usr/bin/env python3
"""A registry proxy that injects faults, for the img-pull tests.

    faultproxy.py UPSTREAM DIR

listens on 127.0.0.1 (a free port, written to DIR/port), forwards GET and
HEAD to http://UPSTREAM, and logs every request to DIR/log, one line each:

    GET /v2/ck/demo/blobs/sha256:… 206 range=bytes=100- sent=4096

Before each request it reads DIR/faults.json (missing: no faults), e.g.

    {"blob_500": 1, "blob_429": 1, "rate_500": 0.3, "cut_after": 1000000,
     "cut": 1, "stall_after": 1000, "stall": 1}

blob_500 / blob_429: that many blob GETs answer 500 / 429 (Retry-After: 1);
rate_500: that share of manifest and blob GETs answer 500, chosen at random,
never more than 3 times in a row for one path (so 5 tries always suffice);
cut: that many blob GETs of more than cut_after bytes send cut_after bytes
and close the connection; stall: that many blob GETs send stall_after
bytes, then nothing (until the client gives up). Counts go down as faults
are injected, for the life of the proxy.
"""
import http.client
import json
import os
import random
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

UPSTREAM, DIR = sys.argv[1], sys.argv[2]
LOCK = threading.Lock()
USED = {}  # fault name -> how many were injected
STREAK = {}  # path -> random 500s in a row
RNG = random.Random(1)


def take(faults, name):
    """Whether a fault with a count (faults[name]) is still to be injected."""
    with LOCK:
        if USED.get(name, 0) < int(faults.get(name, 0)):
            USED[name] = USED.get(name, 0) + 1
            return True
    return False


class Proxy(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def record(self, status, sent):
        rng = self.headers.get("Range", "-")
        with LOCK, open(os.path.join(DIR, "log"), "a") as f:
            f.write(f"{self.command} {self.path} {status} range={rng} sent={sent}\n")

    def fail(self, status, extra=None):
        body = b'{"errors":[{"code":"UNAVAILABLE","message":"injected fault"}]}'
        self.send_response(status)
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.record(status, 0)

    def do_HEAD(self):
        self.forward()

    def do_GET(self):
        self.forward()

    def forward(self):
        try:
            with open(os.path.join(DIR, "faults.json")) as f:
                faults = json.load(f)
        except FileNotFoundError:
            faults = {}
        get = self.command == "GET"
        blob = get and "/blobs/" in self.path
        if blob and take(faults, "blob_500"):
            return self.fail(500)
        if blob and take(faults, "blob_429"):
            return self.fail(429, {"Retry-After": "1"})
        if get and ("/blobs/" in self.path or "/manifests/" in self.path) and faults.get("rate_500"):
            with LOCK:
                hit = RNG.random() < float(faults["rate_500"]) and STREAK.get(self.path, 0) < 3
                STREAK[self.path] = STREAK.get(self.path, 0) + 1 if hit else 0
            if hit:
                return self.fail(500)

        conn = http.client.HTTPConnection(UPSTREAM, timeout=60)
        headers = {k: v for k, v in self.headers.items() if k.lower() in ("accept", "range", "authorization")}
        conn.request(self.command, self.path, headers=headers)
        up = conn.getresponse()
        length = int(up.getheader("Content-Length", "0"))
        limit, mode = None, None
        if blob and up.status in (200, 206):
            if length > int(faults.get("cut_after", 0)) and faults.get("cut") and take(faults, "cut"):
                limit, mode = int(faults["cut_after"]), "cut"
            elif length > int(faults.get("stall_after", 0)) and faults.get("stall") and take(faults, "stall"):
                limit, mode = int(faults["stall_after"]), "stall"
        self.send_response(up.status)
        for k, v in up.getheaders():
            if k.lower() not in ("connection", "transfer-encoding", "date", "server"):
                self.send_header(k, v)
        self.end_headers()
        sent = 0
        while self.command == "GET":
            chunk = up.read(65536)
            if not chunk:
                break
            if limit is not None and sent + len(chunk) >= limit:
                chunk = chunk[: limit - sent]
                self.wfile.write(chunk)
                sent += len(chunk)
                self.wfile.flush()
                break
            self.wfile.write(chunk)
            sent += len(chunk)
        conn.close()
        self.record(f"{up.status}{'-' + mode if mode else ''}", sent)
        if mode == "stall":
            # Send nothing more; the client must notice and give up.
            self.connection.settimeout(1)
            for _ in range(60):
                time.sleep(1)
                try:
                    if self.connection.recv(1, socket.MSG_PEEK) == b"":
                        break
                except socket.timeout:
                    continue
                except OSError:
                    break
        if mode:
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)


def main():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
    srv.daemon_threads = True
    with open(os.path.join(DIR, "port.tmp"), "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(os.path.join(DIR, "port.tmp"), os.path.join(DIR, "port"))
    srv.serve_forever()


main()
