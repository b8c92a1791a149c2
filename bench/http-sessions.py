#!/usr/bin/env python3
"""HTTP sessions: publishes per second over HTTP, then Await + Confirm round trips per second.

Usage: http-sessions.py HTTP_PORT [MESSAGES] [BATCH]

Against a running broker (GrpcUrl none for the HTTP cost alone). One keep-alive connection per
client, as a real HTTP client would use: a publisher session sends MESSAGES messages of 100
bytes, BATCH per Publish, to topic "bench-http" (the broker needs AutoCreateTopicOnPublish, or
the topic must exist); a subscriber session on queue "q" awaits and confirms (allOk) until it has them
all. Prints the rates. Python's http.client is the client, so the numbers include its cost.
"""
import base64
import http.client
import json
import sys
import time


def call(conn, path, key=None, body=None):
    headers = {"Content-Type": "application/json"}
    if key is not None:
        headers["Authorization"] = "Bearer " + key
    conn.request("POST", path, body=json.dumps(body) if body is not None else None,
                 headers=headers)
    resp = conn.getresponse()
    data = resp.read()
    if resp.status >= 300:
        raise SystemExit(f"POST {path}: {resp.status} {data!r}")
    return resp.status, data


def main():
    port = int(sys.argv[1])
    total = int(sys.argv[2]) if len(sys.argv) > 2 else 20000
    batch = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    pub = http.client.HTTPConnection("127.0.0.1", port)
    sub = http.client.HTTPConnection("127.0.0.1", port)
    pkey = json.loads(call(pub, "/api/Greeting?name=bench-pub&version=1")[1])["session"]
    skey = json.loads(call(sub, "/api/Greeting?name=bench-sub&version=1")[1])["session"]
    # an empty Publish creates the topic (AutoCreateTopicOnPublish)
    call(pub, "/api/Publish?topicId=bench-http", pkey, {"messages": []})
    call(sub, "/api/Subscribers/Subscribe", skey,
         {"topicId": "bench-http", "queueId": "q", "queueType": "Permanent"})
    payload = base64.b64encode(b"x" * 100).decode()
    body = {"messages": [{"headers": None, "base64Message": payload}] * batch}

    t0 = time.monotonic()
    for _ in range(total // batch):
        call(pub, "/api/Publish?topicId=bench-http", pkey, body)
    t_pub = time.monotonic() - t0

    received = 0
    awaits = 0
    t0 = time.monotonic()
    while received < total // batch * batch:
        status, data = call(sub, "/api/Subscribers/Await", skey)
        awaits += 1
        if status == 204:
            continue
        package = json.loads(data)
        received += len(package["messages"])
        call(sub, "/api/Subscribers/Confirm", skey, {"confirmation": [{
            "topicId": package["topic_id"], "queueId": package["queue_id"],
            "subscriberId": package["confirmation_id"], "allOk": True}]})
    t_sub = time.monotonic() - t0
    n = total // batch * batch
    print(f"publish: {n} messages in {total // batch} calls of {batch}: {t_pub:.2f} s, "
          f"{n / t_pub:.0f} msg/s, {total // batch / t_pub:.0f} calls/s")
    print(f"await+confirm: {n} messages in {awaits} awaits: {t_sub:.2f} s, "
          f"{n / t_sub:.0f} msg/s, {awaits / t_sub:.0f} round trips/s")


if __name__ == "__main__":
    main()
