#!/usr/bin/env python3
"""Serve ui/ from disk while you edit it, without rebuilding the broker.

  scripts/ui-dev-server.py --broker http://127.0.0.1:6123      # /api/* and /metrics forwarded
  scripts/ui-dev-server.py --synthetic 1000 --queues 10       # a made-up broker (every field
                                                              # of node.md §6.4), for looks and
                                                              # for timing the UI at scale
Then open http://127.0.0.1:8123/. With --synthetic, --admin-token TOKEN makes the write calls
answer 401 without "Authorization: Bearer TOKEN", and --namespaces adds namespaces to the list.
The synthetic broker pushes its status over a WebSocket at /api/ws once a second, as the broker
does (--no-ws: it has none, and the page falls back to polling). Forwarding does not carry the
WebSocket, so against a real broker the page polls. Standard library only.
"""
import argparse
import base64
import hashlib
import json
import math
import os
import random
import sys
import threading
import time
import urllib.error
import urllib.request
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

UI_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "ui")


class Synthetic:
    """A broker's status that changes every second."""

    def __init__(self, n_topics, n_queues, n_sessions, seed=1):
        rnd = random.Random(seed)
        words = ["orders", "payments", "invoices", "users", "audit", "billing", "shipping",
                 "stock", "prices", "emails", "events", "reports", "carts", "sessions-log"]
        self.topics = []
        for i in range(n_topics):
            name = f"{rnd.choice(words)}-{rnd.choice(words)}-{i:04d}"
            self.topics.append({
                "id": name, "messageId": rnd.randrange(0, 40_000_000), "rate": rnd.choice([0, 0, 1, 5, 40, 300]),
                "persist": rnd.random() > 0.1, "queues": [], "publishers": [], "deleted": 0,
            })
            for q in range(n_queues if i % 4 else rnd.randrange(0, n_queues + 1)):
                self.topics[-1]["queues"].append({
                    "id": f"{rnd.choice(words)}-consumer-{q}", "type": rnd.choice([0, 0, 1, 2]),
                    "backlog": rnd.choice([0, 0, 0, 3, 120, 1500, 25_000]), "subs": rnd.randrange(0, 3),
                })
        if self.topics:
            self.topics[0]["deleted"] = int((time.time() + 86400) * 1e6)
        self.sessions = []
        for s in range(n_sessions):
            self.sessions.append({
                "id": s, "name": f"{rnd.choice(words)}-service", "namespace": "default",
                "type": rnd.choice(["tcp[3]", "tcp[3]", "tcp[2]", "http"]),
                "ip": f"10.0.{rnd.randrange(0, 4)}.{rnd.randrange(2, 250)}:{rnd.randrange(30000, 60000)}",
                "version": f"3.{rnd.randrange(0, 4)}.{rnd.randrange(0, 20)}", "envInfo": rnd.choice([None, "prod", "stage"]),
                "connected_s": rnd.randrange(5, 400_000), "read": 0, "written": 0,
            })
        for t in self.topics:
            if self.sessions and t["rate"]:
                t["publishers"] = rnd.sample(range(len(self.sessions)), min(len(self.sessions), rnd.randrange(1, 3)))
        self.history = {t["id"]: [] for t in self.topics}
        self.lat = {}
        self.tick = 0
        self.rnd = rnd
        self.lock = threading.Lock()
        self.cached = None
        self.cached_at = 0.0

    @staticmethod
    def dur(s):
        if s < 60:
            return f"{s:.4f}s"
        d, rem = divmod(int(s), 86400)
        h, rem = divmod(rem, 3600)
        m, sec = divmod(rem, 60)
        return (f"{d}d:" if d else "") + f"{h:02d}:{m:02d}:{sec:02d}"

    def status_bytes(self):
        """The status as JSON, made at most once a second however many clients ask."""
        with self.lock:
            now = time.monotonic()
            if self.cached is None or now - self.cached_at >= 0.95:
                self.cached = json.dumps(self.status()).encode()
                self.cached_at = now
            return self.cached

    def status(self):
        self.tick += 1
        rnd = self.rnd
        items, queues = [], {}
        sub_id = 0
        for t in self.topics:
            n = max(0, int(t["rate"] * (0.6 + 0.8 * rnd.random()))) if t["rate"] else 0
            t["messageId"] += n
            hist = self.history[t["id"]]
            hist.append(n)
            del hist[:-120]
            first_page = max(0, t["messageId"] - 150_000) // 100_000
            pages = []
            for p in range(first_page, t["messageId"] // 100_000 + 1):
                lo = max(p * 100, (t["messageId"] - 150_000) // 1000)
                hi = min(p * 100 + 99, t["messageId"] // 1000)
                subs = [sp - p * 100 for sp in range(lo, hi + 1)]
                if subs:
                    pages.append({"id": p, "subPages": subs, "amount": len(subs) * 1000, "size": len(subs) * 180_000,
                                  "persist_size": n if p == t["messageId"] // 100_000 else 0})
            subscribers, qitems = [], []
            for q in t["queues"]:
                q["backlog"] = max(0, q["backlog"] + rnd.randrange(-40, 60) if q["backlog"] else 0)
                mid = t["messageId"]
                frm = mid - q["backlog"]
                data = [{"fromId": frm, "toId": mid - 1}] if q["backlog"] else [{"fromId": mid, "toId": mid - 1}]
                if q["backlog"] > 1000:
                    data = [{"fromId": frm - 5000, "toId": frm - 4001}] + data
                on_delivery = 0
                for s in range(q["subs"]):
                    key = (t["id"], q["id"], s)
                    lh = self.lat.setdefault(key, [])
                    base = rnd.choice([300, 3000, 30000]) if not lh else abs(lh[0]) or 300
                    lh.append(-1 if rnd.random() < 0.01 else int(base * (0.5 + rnd.random())))
                    del lh[:-120]
                    busy = rnd.random() < 0.2
                    on_delivery += 50 if busy else 0
                    subscribers.append({"id": sub_id, "sessionId": (sub_id * 7) % max(1, len(self.sessions)),
                                        "queueId": q["id"], "active": 2 if busy else 0,
                                        "deliveryState": 2 if busy else 0,
                                        "deliveryStateStr": "0.3s 50" if busy else "Idle", "history": list(lh)})
                    sub_id += 1
                qitems.append({"id": q["id"], "queueType": q["type"], "size": q["backlog"],
                               "onDelivery": on_delivery, "data": data})
            items.append({
                "id": t["id"], "messageId": t["messageId"], "packetPerSec": (n + 9) // 10, "messagesPerSec": n,
                "meanMessageSize": 180, "persistSize": n * 3 if t["persist"] else 0,
                "publishHistory": list(hist), "pages": pages,
                "publishers": [{"sessionId": p, "active": 2 if n else 0} for p in t["publishers"]],
                "subscribers": subscribers, "persist": t["persist"], "deleted": t["deleted"],
            })
            queues[t["id"]] = {"snapshotId": self.tick, "queues": qitems}
        sessions = []
        for s in self.sessions:
            r, w = rnd.randrange(0, 50_000), rnd.randrange(0, 200_000)
            s["read"] += r
            s["written"] += w
            s["connected_s"] += 1
            item = {"id": s["id"], "name": s["name"], "namespace": s["namespace"], "type": s["type"], "ip": s["ip"],
                    "version": s["version"], "connected": self.dur(s["connected_s"]), "lastIncoming": self.dur(rnd.random() * 3),
                    "readSize": s["read"], "writtenSize": s["written"], "readPerSec": r, "writtenPerSec": w}
            if s["envInfo"]:
                item["envInfo"] = s["envInfo"]
            sessions.append(item)
        return {
            "topics": {"snapshotId": self.tick, "items": items}, "queues": queues,
            "sessions": {"snapshotId": self.tick, "items": sessions},
            "system": {"usedmem": 6_400_000_000, "totalmem": 16_000_000_000},
            "persistenceVersion": "3.2.0", "version": "0.1.0",
            "persistence": {"url": "http://persistence:7124", "up": True, "lastError": None},
        }

    def messages(self, topic, from_id, limit):
        t = next((t for t in self.topics if t["id"] == topic), None)
        if t is None:
            return None
        out = []
        for i in range(from_id, min(from_id + limit, t["messageId"])):
            body = json.dumps({"orderId": i, "amount": round(i * 0.37 % 100, 2), "items": [{"sku": "A-1", "qty": 2}]})
            content = body.encode() if i % 7 else bytes((i + k) % 256 for k in range(40))
            out.append({"id": i, "size": len(content), "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                        "headers": [{"key": "trace-id", "value": f"t-{i}"}] if i % 3 else [],
                        "content": base64.b64encode(content).decode(), "source": "memory" if i > t["messageId"] - 100_000 else "persistence"})
        return {"topicId": topic, "minId": max(0, t["messageId"] - 300_000), "nextId": from_id + len(out), "messages": out}


class Handler(SimpleHTTPRequestHandler):
    args = None
    synthetic = None

    def __init__(self, *a, **kw):
        super().__init__(*a, directory=UI_DIR, **kw)

    def log_message(self, fmt, *a):
        pass

    def end_headers(self):
        self.send_header("Cache-Control", "no-cache")
        super().end_headers()

    def guess_type(self, path):
        return "text/javascript" if path.endswith(".js") else super().guess_type(path)

    def reply(self, status, body=b"", ctype="text/plain; charset=utf-8"):
        if isinstance(body, str):
            body = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def is_api(self):
        p = urlparse(self.path).path.lower()
        return p.startswith("/api/") or p == "/metrics" or p.startswith("/swagger")

    def forward(self):
        length = int(self.headers.get("Content-Length") or 0)
        data = self.rfile.read(length) if length else None
        req = urllib.request.Request(self.args.broker.rstrip("/") + self.path, data=data, method=self.command)
        for h in ("ns", "Authorization", "Content-Type"):
            if self.headers.get(h):
                req.add_header(h, self.headers[h])
        try:
            with urllib.request.urlopen(req, timeout=15) as r:
                self.reply(r.status, r.read(), r.headers.get("Content-Type", "text/plain"))
        except urllib.error.HTTPError as e:
            self.reply(e.code, e.read(), e.headers.get("Content-Type", "text/plain"))
        except OSError as e:
            self.reply(502, f"cannot reach the broker: {e}")

    def fake(self):
        u = urlparse(self.path)
        p = u.path.lower()
        q = {k: v[0] for k, v in parse_qs(u.query).items()}
        if self.command != "GET" and self.args.admin_token:
            if self.headers.get("Authorization") != "Bearer " + self.args.admin_token:
                return self.reply(401, "this action needs the admin token (HttpAdminToken): send Authorization: Bearer <token>\n")
        # the first screen (/api/Status/First): the whole status will do (it has no "summary")
        if p in ("/api/status", "/status", "/api/status/first"):
            return self.reply(200, self.synthetic.status_bytes(), "application/json")
        if p == "/api/namespaces/list":
            names = [{"name": "default", "topicsAmount": len(self.synthetic.topics)}]
            names += [{"name": n, "topicsAmount": 3} for n in self.args.namespaces]
            return self.reply(200, json.dumps(names), "application/json")
        if p == "/api/messages":
            r = self.synthetic.messages(q.get("topicId", ""), int(q.get("fromId", 0)), min(100, int(q.get("limit", 20))))
            return self.reply(404, "TopicNotFound") if r is None else self.reply(200, json.dumps(r), "application/json")
        if p == "/api/topics/restore":
            return self.reply(200, json.dumps({"restored": True}), "application/json")
        if self.command in ("POST", "PUT", "DELETE"):
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            if q.get("queueId") == "fail":
                return self.reply(403, f'QueueNotFound {{ topic_id: "{q.get("topicId")}", queue_id: "fail" }}')
            return self.reply(204)
        return self.reply(404, "no such path")

    def websocket(self):
        key = self.headers.get("Sec-WebSocket-Key", "")
        accept = base64.b64encode(hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()).decode()
        self.send_response_only(101)
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", accept)
        super().end_headers()
        self.close_connection = True
        try:
            while True:
                data = self.synthetic.status_bytes()
                n = len(data)
                head = bytes([0x81]) + (bytes([n]) if n < 126 else bytes([126]) + n.to_bytes(2, "big") if n < 65536
                                        else bytes([127]) + n.to_bytes(8, "big"))
                self.wfile.write(head + data)
                self.wfile.flush()
                time.sleep(1)
        except OSError:
            pass

    def route(self):
        if (self.synthetic and not self.args.no_ws and urlparse(self.path).path.lower() == "/api/ws"
                and self.headers.get("Upgrade", "").lower() == "websocket"):
            return self.websocket()
        if self.is_api():
            return self.fake() if self.synthetic else self.forward()
        path = urlparse(self.path).path
        if self.command == "GET" and path == "/app.js":
            return self.send_bundle()
        if self.command == "GET" and not os.path.isfile(os.path.join(UI_DIR, path.lstrip("/"))):
            self.path = "/index.html"
        return super().do_GET()

    do_GET = route

    def send_bundle(self):
        # what the broker's build makes with ui/bundle.py, made again on each load
        sys.path.insert(0, UI_DIR)
        import bundle
        data = bundle.bundle(os.path.join(UI_DIR, "js", "main.js")).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/javascript; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        return self.fake() if self.synthetic else self.forward()

    do_PUT = do_DELETE = do_POST


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port", type=int, default=8123)
    ap.add_argument("--broker", default="http://127.0.0.1:6123", help="broker to forward /api to")
    ap.add_argument("--synthetic", type=int, metavar="TOPICS", help="serve a made-up broker with this many topics")
    ap.add_argument("--queues", type=int, default=4, help="synthetic: queues per topic (a quarter of the topics get fewer)")
    ap.add_argument("--sessions", type=int, default=40, help="synthetic: sessions")
    ap.add_argument("--admin-token", help="synthetic: write calls need this token")
    ap.add_argument("--no-ws", action="store_true", help="synthetic: no WebSocket (the page polls)")
    ap.add_argument("--namespaces", nargs="*", default=[], help="synthetic: more namespaces")
    args = ap.parse_args()
    Handler.args = args
    if args.synthetic is not None:
        Handler.synthetic = Synthetic(args.synthetic, args.queues, args.sessions)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    print(f"UI on http://127.0.0.1:{args.port}/ ({'synthetic' if args.synthetic is not None else args.broker})", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
