#!/usr/bin/env python3
"""ui-load.py: the load of N browsers with the live UI open, for bench/run-ui-bench.sh.

Each "browser" is one WebSocket on /api/ws (read and thrown away, as a page that renders every
frame) plus one client polling /api/Status once a second (the fallback, and what the separate
dashboard does), so 20 browsers are 20 sockets and 20 polls a second. Runs until killed; prints
what it received every 10 s on stderr.

    ui-load.py HTTP_PORT BROWSERS
"""
import base64
import os
import socket
import sys
import threading
import time
import urllib.request

port = int(sys.argv[1])
browsers = int(sys.argv[2])
lock = threading.Lock()
stats = {"ws_bytes": 0, "polls": 0, "poll_bytes": 0, "errors": 0}


def add(key, n):
    with lock:
        stats[key] += n


def websocket():
    s = socket.create_connection(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall(("GET /api/ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
               "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
               "Sec-WebSocket-Version: 13\r\n\r\n" % key).encode())
    head = b""
    while b"\r\n\r\n" not in head:
        d = s.recv(4096)
        if not d:
            add("errors", 1)
            return
        head += d
    if b" 101 " not in head.split(b"\r\n", 1)[0]:
        add("errors", 1)
        return
    while True:
        d = s.recv(1 << 20)
        if not d:
            add("errors", 1)
            return
        add("ws_bytes", len(d))


def poller(offset):
    time.sleep(offset)
    while True:
        t = time.monotonic()
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/api/Status" % port, timeout=30) as r:
                add("poll_bytes", len(r.read()))
                add("polls", 1)
        except Exception:
            add("errors", 1)
        time.sleep(max(0.0, 1.0 - (time.monotonic() - t)))


for i in range(browsers):
    threading.Thread(target=websocket, daemon=True).start()
    threading.Thread(target=poller, args=(i / max(browsers, 1),), daemon=True).start()
while True:
    time.sleep(10)
    with lock:
        print("ui-load: %d polls, %.1f MB polled, %.1f MB pushed, %d errors" %
              (stats["polls"], stats["poll_bytes"] / 1e6, stats["ws_bytes"] / 1e6,
               stats["errors"]), file=sys.stderr, flush=True)
