#!/usr/bin/env python3
"""Write the seed corpus of fuzz-wire: the protocol.md §11 vectors, one file each.

Each file is the two selector bytes fuzz-wire.c expects, then the packet bytes:
  config: bits 0-1 the P index (0, 2, 3, 5), bit 2 V7, bits 3-5 the ceiling index
          (16, 64, 256, 1 KiB, 4 KiB, 64 KiB, 1 MiB, 16 MiB)
  split:  where the two-part feed cuts the stream, as a fraction of 255
Run from anywhere; it rewrites tests/fuzz/corpus/wire/ next to this script.
"""
import os
import shutil

P_INDEX = {0: 0, 2: 1, 3: 2, 5: 3}
CEILING_64K = 5

# protocol.md §11, byte for byte
GREETING_RUST = "02 0E 64 65 6D 6F 3A 31 2E 30 3B 31 2E 31 2E 35 03 00 00 00"
GREETING_CS = ("02 1C 4D 79 41 70 70 3B 43 6C 69 65 6E 74 56 65 72 73 69 6F 6E 3A 31 2E 33 2E "
               "31 35 2E 30 02 00 00 00")
PACKET_VERSIONS = "0B 01 07 01 00 00 00"
PUBLISH_P3 = ("03 06 6F 72 64 65 72 73 01 00 00 00 00 00 00 00 02 00 00 00 01 08 74 72 61 63 65 "
              "2D 69 64 03 61 62 63 02 00 00 00 68 69 00 03 00 00 00 01 02 03 00")
PUBLISH_P2 = ("03 06 6F 72 64 65 72 73 01 00 00 00 00 00 00 00 02 00 00 00 02 00 00 00 68 69 03 "
              "00 00 00 01 02 03 00")
PUBLISH_RESPONSE = "04 01 00 00 00 00 00 00 00"
SUBSCRIBE = "05 06 6F 72 64 65 72 73 07 62 69 6C 6C 69 6E 67 00"
NEW_MESSAGES_P3 = ("07 06 6F 72 64 65 72 73 07 62 69 6C 6C 69 6E 67 05 00 00 00 00 00 00 00 01 00 "
                   "00 00 2A 00 00 00 00 00 00 00 00 00 00 00 01 08 74 72 61 63 65 2D 69 64 03 61 "
                   "62 63 02 00 00 00 68 69")
NEW_MESSAGES_P2_V1 = ("07 06 6F 72 64 65 72 73 07 62 69 6C 6C 69 6E 67 05 00 00 00 00 00 00 00 01 "
                      "00 00 00 2A 00 00 00 00 00 00 00 00 00 00 00 02 00 00 00 68 69")
NEW_MESSAGES_P2_V0 = ("07 06 6F 72 64 65 72 73 07 62 69 6C 6C 69 6E 67 05 00 00 00 00 00 00 00 01 "
                      "00 00 00 2A 00 00 00 00 00 00 00 02 00 00 00 68 69")
CONFIRM_OK = "08 06 6F 72 64 65 72 73 07 62 69 6C 6C 69 6E 67 05 00 00 00 00 00 00 00"
CONFIRM_FAIL = "0D" + CONFIRM_OK[2:]
CONFIRM_SOME = ("0E 00 06 6F 72 64 65 72 73 07 62 69 6C 6C 69 6E 67 05 00 00 00 00 00 00 00 01 00 "
                "00 00 2A 00 00 00 00 00 00 00 2A 00 00 00 00 00 00 00")
INTERMEDIARY = ("0F 00 06 6F 72 64 65 72 73 07 62 69 6C 6C 69 6E 67 05 00 00 00 00 00 00 00 02 00 "
                "00 00 28 00 00 00 00 00 00 00 29 00 00 00 00 00 00 00 2B 00 00 00 00 00 00 00 2B "
                "00 00 00 00 00 00 00")
SET_NAMESPACE = "10 05 61 6C 70 68 61"
REJECT = ("0C 24 54 6F 70 69 63 4E 6F 74 46 6F 75 6E 64 20 7B 20 74 6F 70 69 63 5F 69 64 3A 20 22 "
          "6F 72 64 65 72 73 22 20 7D")
CREATE_TOPIC = "09 06 6F 72 64 65 72 73"
CREATE_TOPIC_CS = CREATE_TOPIC + " 00 00 00 00 00 00 00 00"
# not in §11: packet 10 in its C# layout (§3.10), SubscribeResponse (§3.6)
LEGACY_CONFIRM = ("0A 06 6F 72 64 65 72 73 07 62 69 6C 6C 69 6E 67 02 00 00 00 01 00 00 00 00 00 "
                  "00 00 02 00 00 00 00 00 00 00 05 00 00 00 00 00 00 00 05 00 00 00 00 00 00 00 "
                  "01 00 00 00 03 00 00 00 00 00 00 00 04 00 00 00 00 00 00 00")
SUBSCRIBE_RESPONSE = "06 06 6F 72 64 65 72 73 07 62 69 6C 6C 69 6E 67"

# name, P, V7, hex
SEEDS = [
    ("11.1-greeting-rust", 0, 0, GREETING_RUST),
    ("11.1-greeting-csharp", 0, 0, GREETING_CS),
    ("11.2-packet-versions", 3, 0, PACKET_VERSIONS),
    ("11.3-publish-p3", 3, 1, PUBLISH_P3),
    ("11.3-publish-p2", 2, 1, PUBLISH_P2),
    ("11.4-publish-response", 3, 1, PUBLISH_RESPONSE),
    ("11.5-subscribe", 3, 1, SUBSCRIBE),
    ("11.6-new-messages-p3", 3, 1, NEW_MESSAGES_P3),
    ("11.6-new-messages-p2-v1", 2, 1, NEW_MESSAGES_P2_V1),
    ("11.6-new-messages-p2-v0", 2, 0, NEW_MESSAGES_P2_V0),
    ("11.7-confirm-ok", 3, 1, CONFIRM_OK),
    ("11.7-confirm-fail", 3, 1, CONFIRM_FAIL),
    ("11.7-confirm-some", 3, 1, CONFIRM_SOME),
    ("11.7-intermediary", 3, 1, INTERMEDIARY),
    ("11.8-set-namespace", 3, 1, SET_NAMESPACE),
    ("11.9-reject", 3, 1, REJECT),
    ("11.10-create-topic-csharp", 2, 1, CREATE_TOPIC_CS),
    ("3.6-subscribe-response", 3, 1, SUBSCRIBE_RESPONSE),
    ("3.10-legacy-confirm", 2, 1, LEGACY_CONFIRM),
    ("ping-pong", 0, 0, "00 01"),
    # §11.11: a Rust client's connection start; P and V7 come from the stream itself
    ("11.11-rust-connection", 0, 0, " ".join([
        GREETING_RUST, PACKET_VERSIONS, CREATE_TOPIC, SUBSCRIBE, PUBLISH_P3, "00", CONFIRM_OK,
        CONFIRM_SOME, INTERMEDIARY, CONFIRM_FAIL])),
    ("11.11-csharp-connection", 0, 0, " ".join([
        GREETING_CS, PACKET_VERSIONS, CREATE_TOPIC_CS, SUBSCRIBE, PUBLISH_P2, CONFIRM_OK])),
    ("all-vectors-p3", 3, 1, " ".join([
        PACKET_VERSIONS, PUBLISH_P3, PUBLISH_RESPONSE, SUBSCRIBE, NEW_MESSAGES_P3, CONFIRM_OK,
        CONFIRM_FAIL, CONFIRM_SOME, INTERMEDIARY, SET_NAMESPACE, REJECT, CREATE_TOPIC_CS,
        SUBSCRIBE_RESPONSE, LEGACY_CONFIRM])),
]


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = os.path.join(here, "corpus", "wire")
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    for name, p, v7, hexstr in SEEDS:
        body = bytes.fromhex(hexstr.replace(" ", ""))
        config = P_INDEX[p] | (v7 << 2) | (CEILING_64K << 3)
        # one seed decoded whole, one cut in the middle for the two-part feed
        for suffix, split in (("", 255), ("-split", 128)):
            with open(os.path.join(out, name + suffix), "wb") as f:
                f.write(bytes([config, split]) + body)
    print(f"wrote {2 * len(SEEDS)} seeds to {out}")


if __name__ == "__main__":
    main()
