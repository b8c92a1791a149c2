#!/usr/bin/env python3
"""The OpenAPI document the broker serves, from data/openapi.json (the source to edit).

Usage: openapi-build.py IN VERSION OUT_JSON OUT_YAML. Checks the JSON, puts VERSION in place of
@VERSION@, and writes it again as JSON and as YAML (block style) for /swagger/v1/swagger.yaml.
Only the standard library: strings are written as JSON strings, which are valid YAML
double-quoted scalars, so nothing needs YAML-specific escaping.
"""
import json
import re
import sys

PLAIN_KEY = re.compile(r"^[A-Za-z_$/][A-Za-z0-9_$/.{}-]*$")


def key(k):
    return k if PLAIN_KEY.match(k) and k not in ("true", "false", "null", "yes", "no") else json.dumps(k, ensure_ascii=False)


def scalar(v):
    return json.dumps(v, ensure_ascii=False)


def emit(v, indent, out):
    pad = "  " * indent
    if isinstance(v, dict):
        if not v:
            out.append(" {}")
            return
        for k, x in v.items():
            out.append("\n" + pad + key(k) + ":")
            if isinstance(x, (dict, list)) and x:
                emit(x, indent + 1, out)
            else:
                out.append(" " + ("{}" if x == {} else "[]" if x == [] else scalar(x)))
    elif isinstance(v, list):
        if not v:
            out.append(" []")
            return
        for x in v:
            out.append("\n" + pad + "-")
            if isinstance(x, dict) and x:
                inner = []
                emit(x, indent + 1, inner)
                # the first key goes on the dash's line
                out.append(" " + "".join(inner).lstrip("\n").lstrip())
            elif isinstance(x, list) and x:
                emit(x, indent + 1, out)
            else:
                out.append(" " + ("{}" if x == {} else "[]" if x == [] else scalar(x)))
    else:
        out.append(" " + scalar(v))


def main():
    src, version, out_json, out_yaml = sys.argv[1:5]
    text = open(src, encoding="utf-8").read().replace("@VERSION@", version)
    doc = json.loads(text)
    open(out_json, "w", encoding="utf-8").write(json.dumps(doc, indent=1, ensure_ascii=False) + "\n")
    out = ["# My Service Bus broker HTTP API (OpenAPI 3), generated from data/openapi.json"]
    emit(doc, 0, out)
    open(out_yaml, "w", encoding="utf-8").write("".join(out) + "\n")


if __name__ == "__main__":
    main()
