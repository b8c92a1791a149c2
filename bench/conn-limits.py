#!/usr/bin/env python3
"""Connection limits of a my-service-bus binary, as numbers (not a test; issue 7, item 2).

  bench/conn-limits.py BROKER [BROKER...]

For each broker binary (e.g. an old and a new build, both without sanitizers), in memory on
127.0.0.1 with ephemeral ports:
  storm: 1,000 clients connect at once and each sends a Ping; how many got their Pong, and when
         (GLib's default listen backlog of 10 left 200 of them waiting after 45 s);
  hold:  60 clients each send 15 MiB of a 16 MiB Publish and stop; the broker's RSS
         (MaxIncompletePacketsSize bounds it; before it, 914 MiB).
Needs an open-files limit above 1,100 in the calling shell (ulimit -n).
"""
import os
import select
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time


def start(binary, extra=""):
    d = tempfile.mkdtemp(prefix="msb-conn-limits-")
    with open(os.path.join(d, "settings.yaml"), "w") as f:
        f.write("GrpcUrl: none\nListenAddress: 127.0.0.1\nConnectionTimeout: 120s\n" + extra)
    log = open(os.path.join(d, "broker.log"), "w")
    p = subprocess.Popen([binary, "--settings", os.path.join(d, "settings.yaml"),
                          "--tcp-port", "0", "--http-port", "0",
                          "--ready-file", os.path.join(d, "ready")],
                         stdout=subprocess.DEVNULL, stderr=log)
    ready = os.path.join(d, "ready")
    while not os.path.exists(ready):
        if p.poll() is not None:
            sys.exit("%s exited; see %s" % (binary, d))
        time.sleep(0.05)
    with open(ready) as f:
        port = int([l for l in f if l.startswith("tcp_port=")][0].split("=")[1])
    return p, port, d


def stop(p, d):
    p.terminate()
    p.wait()
    shutil.rmtree(d, ignore_errors=True)


def rss_mib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) // 1024
    return -1


def storm(binary, n=1000, limit_s=45.0):
    # an unknown key is only a warning for an old broker
    p, port, d = start(binary, "GreetingTimeout: 120s\n")
    t0 = time.time()
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.setblocking(False)
        try:
            s.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        socks.append(s)
    pending, sent, answered, last = set(socks), set(), 0, t0
    while pending and time.time() < t0 + limit_s:
        _, w, _ = select.select([], [s for s in pending if s not in sent][:900], [], 0.05)
        for s in w:
            try:
                s.send(b"\x00")
                sent.add(s)
            except OSError:
                pending.discard(s)
        r, _, _ = select.select([s for s in sent if s in pending][:900], [], [], 0.05)
        for s in r:
            try:
                if s.recv(1) == b"\x01":
                    answered += 1
                    last = time.time()
            except OSError:
                pass
            pending.discard(s)
    for s in socks:
        s.close()
    stop(p, d)
    print("%s storm: %d/%d answered a Ping, the last after %.1f s"
          % (binary, answered, n, last - t0))


def hold(binary, n=60, held=15 * 1024 * 1024):
    p, port, d = start(binary, "MaxPacketSize: 16 MiB\n")
    before = rss_mib(p.pid)
    size = 16 * 1024 * 1024 - 1024  # the whole packet fits in MaxPacketSize
    greeting = bytes([2, 4]) + b"hold" + struct.pack("<i", 2) + bytes([11, 1, 7]) + \
        struct.pack("<i", 1)
    publish = bytes([3, 6]) + b"orders" + struct.pack("<qii", 1, 1, size) + b"x" * held
    conns, closed = [], 0
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port))
        try:
            s.sendall(greeting + publish)
        except OSError:
            closed += 1
        conns.append(s)
    time.sleep(2)  # let the broker read what the sockets still hold
    print("%s hold: RSS %d MiB before, %d MiB with %d clients sending 15 MiB each "
          "(%d closed by the broker)" % (binary, before, rss_mib(p.pid), n, closed))
    for s in conns:
        s.close()
    stop(p, d)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    for binary in sys.argv[1:]:
        storm(binary)
        hold(binary)
