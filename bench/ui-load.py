#!/usr/bin/env python3
"""ui-load.py: a broker state for the UI benches, and the load of N browsers with the live UI open.

    ui-load.py populate TCP_PORT TOPICS QUEUES BACKLOG
        creates TOPICS topics (topic-0000, ...) with QUEUES permanent queues each (queue-00, ...)
        and publishes BACKLOG messages of 100 bytes to each, so that every queue has a range
        and a backlog; the session that did it closes, the queues and messages stay.

    ui-load.py load HTTP_PORT BROWSERS [both|ws|poll]
        each "browser" is one WebSocket on /api/ws (frames read, decoded and thrown away, as a
        page that renders every one) plus one client polling /api/Status once a second (the
        UI's fallback, and what the separate dashboard does): 20 browsers are 20 sockets and
        20 polls a second. Runs until SIGTERM or SIGINT, then prints one JSON line on stdout:
        frames and bytes pushed, polls, their median and worst time, errors, and the CPU
        seconds this process used (the client side of the load shares the machine).

Python standard library only (a WebSocket client is a few lines over a socket).
"""
import base64
import json
import os
import signal
import socket
import struct
import sys
import threading
import time
import urllib.request

GREETING = bytes.fromhex("020E64656D6F3A312E303B312E312E3503000000")  # Rust client, P = 3


def ping_and_wait(s):
    """A Ping after everything sent; reads the replies (PublishResponse: 0x04 and an int64,
    Pong: 0x01) up to its Pong."""
    s.sendall(b"\x00")
    buf = b""
    while True:
        d = s.recv(1 << 20)
        if not d:
            raise SystemExit("ui-load.py: the broker closed the connection while populating")
        buf += d
        while buf:
            if buf[0] == 0x01:
                return
            if buf[0] != 0x04:
                raise SystemExit("ui-load.py: unexpected packet type %d" % buf[0])
            if len(buf) < 9:
                break
            buf = buf[9:]


def populate(port, n_topics, n_queues, backlog):
    # topics and permanent queues: subscribed on one connection, which then closes (the
    # queues stay), so that the messages published next wait in them
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(GREETING)
    buf = bytearray()
    for t in range(n_topics):
        name = b"topic-%04d" % t
        buf += bytes([9, len(name)]) + name  # CreateTopicIfNotExists
        for q in range(n_queues):
            queue = b"queue-%02d" % q
            buf += bytes([5, len(name)]) + name + bytes([len(queue)]) + queue + b"\x00"
    s.sendall(buf)
    ping_and_wait(s)
    s.close()
    if backlog <= 0:
        return
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(GREETING)
    body = b"x" * 100
    request_id = 0
    for t in range(n_topics):
        name = b"topic-%04d" % t
        buf = bytearray()
        left = backlog
        while left > 0:
            n = min(left, 100)
            left -= n
            request_id += 1
            buf += bytes([3, len(name)]) + name + struct.pack("<qi", request_id, n)
            for _ in range(n):
                buf += b"\x00" + struct.pack("<i", len(body)) + body  # no headers, content
            buf += b"\x00"  # not persist_immediately
        s.sendall(buf)
        if t % 100 == 99:
            ping_and_wait(s)  # the replies do not pile up unread
    ping_and_wait(s)
    s.close()


class Load:
    def __init__(self, port, browsers, kind="both"):
        self.port = port
        self.browsers = browsers
        self.kind = kind  # both, or only the sockets (ws) or only the polls (poll)
        self.lock = threading.Lock()
        self.frames = 0
        self.ws_bytes = 0
        self.ws_open = 0
        self.polls = 0
        self.poll_bytes = 0
        self.poll_ms = []
        self.errors = []

    def error(self, what):
        with self.lock:
            self.errors.append(what)

    def recv_exact(self, s, n, buf):
        while len(buf) < n:
            d = s.recv(1 << 20)
            if not d:
                raise ConnectionError("closed")
            buf += d
        return buf[:n], buf[n:]

    def websocket(self):
        try:
            s = socket.create_connection(("127.0.0.1", self.port))
            key = base64.b64encode(os.urandom(16)).decode()
            s.sendall(("GET /api/ws HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
                       "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                       "Sec-WebSocket-Version: 13\r\n\r\n" % (self.port, key)).encode())
            buf = b""
            while b"\r\n\r\n" not in buf:
                d = s.recv(4096)
                if not d:
                    raise ConnectionError("closed during the handshake")
                buf += d
            head, buf = buf.split(b"\r\n\r\n", 1)
            if b" 101 " not in head.split(b"\r\n", 1)[0]:
                raise ConnectionError(head.split(b"\r\n", 1)[0].decode(errors="replace"))
            with self.lock:
                self.ws_open += 1
            while True:
                hdr, buf = self.recv_exact(s, 2, buf)
                opcode, n = hdr[0] & 0x0F, hdr[1] & 0x7F
                if n == 126:
                    ext, buf = self.recv_exact(s, 2, buf)
                    n = struct.unpack(">H", ext)[0]
                elif n == 127:
                    ext, buf = self.recv_exact(s, 8, buf)
                    n = struct.unpack(">Q", ext)[0]
                payload, buf = self.recv_exact(s, n, buf)  # the server does not mask
                if opcode == 0x8:
                    raise ConnectionError("closed by the server")
                if opcode == 0x9:  # Ping: a masked Pong with the same payload
                    mask = os.urandom(4)
                    s.sendall(bytes([0x8A, 0x80 | len(payload)]) + mask +
                              bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))
                    continue
                with self.lock:
                    self.ws_bytes += n
                    if opcode == 0x1 and hdr[0] & 0x80:
                        self.frames += 1
        except Exception as e:  # noqa: BLE001 (reported, not fatal)
            self.error("ws: %s" % e)

    def poller(self, offset):
        time.sleep(offset)
        url = "http://127.0.0.1:%d/api/Status" % self.port
        while True:
            t = time.monotonic()
            try:
                with urllib.request.urlopen(url, timeout=30) as r:
                    n = len(r.read())
                with self.lock:
                    self.polls += 1
                    self.poll_bytes += n
                    self.poll_ms.append((time.monotonic() - t) * 1000)
            except Exception as e:  # noqa: BLE001
                self.error("poll: %s" % e)
            time.sleep(max(0.0, 1.0 - (time.monotonic() - t)))

    def run(self):
        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        t0 = time.monotonic()
        c0 = os.times()
        for i in range(self.browsers):
            if self.kind != "poll":
                threading.Thread(target=self.websocket, daemon=True).start()
            # the polls spread over the second, as independent browsers would be
            if self.kind != "ws":
                threading.Thread(target=self.poller, args=(i / max(self.browsers, 1),),
                                 daemon=True).start()
        while not stop.wait(0.2):
            pass
        c1 = os.times()
        wall = time.monotonic() - t0
        with self.lock:
            ms = sorted(self.poll_ms)
            print(json.dumps({
                "browsers": self.browsers,
                "kind": self.kind,
                "seconds": round(wall, 1),
                "ws_open": self.ws_open,
                "ws_frames": self.frames,
                "ws_frames_per_s": round(self.frames / wall, 1),
                "ws_mb": round(self.ws_bytes / 1e6, 1),
                "polls": self.polls,
                "polls_per_s": round(self.polls / wall, 1),
                "poll_mb": round(self.poll_bytes / 1e6, 1),
                "poll_median_ms": round(ms[len(ms) // 2], 1) if ms else None,
                "poll_max_ms": round(ms[-1], 1) if ms else None,
                "errors": len(self.errors),
                "first_errors": self.errors[:3],
                "load_cpu_s": round((c1.user + c1.system) - (c0.user + c0.system), 2),
            }), flush=True)


def main(argv):
    if len(argv) == 6 and argv[1] == "populate":
        populate(*(int(x) for x in argv[2:6]))
    elif len(argv) in (4, 5) and argv[1] == "load" and (len(argv) == 4 or argv[4] in ("both", "ws", "poll")):
        Load(int(argv[2]), int(argv[3]), *argv[4:]).run()
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
