#!/usr/bin/env python3
"""The generated D-Bus reference (gdbus-codegen --generate-docbook, data/meson.build) documents every
interface, method, property and signal of data/org.myservicebus.Broker1.xml, with each
argument and the whole of its doc comment: every paragraph of the XML's comment is one paragraph
of the reference, and every @argument's text (continuation lines included) stands under that
argument, out-arguments included (which is why the reference is DocBook: glib 2.74's reST
generator leaves out-arguments out). gdbus-codegen silently moves or splits text it cannot parse; this catches that.

Usage: check-dbus-reference.py INTERFACE_XML REFERENCE_DIR PREFIX
"""
import os
import re
import sys
import xml.etree.ElementTree as ET


def norm(text):
    return " ".join(text.split())


def parse_comment(comment):
    """(symbol, {arg: text}, [paragraphs]) as a reader sees the comment: '@arg: text' plus its
    more-indented continuation lines; the rest split into paragraphs at blank lines."""
    lines = comment.split("\n")
    while lines and not lines[0].strip():
        lines.pop(0)
    first = lines.pop(0).strip() if lines else ""
    symbol, _, rest = first.partition(":")
    args = {}
    paragraphs = []
    current = [rest] if rest.strip() else []
    arg = None
    arg_indent = 0
    for line in lines:
        stripped = line.strip()
        indent = len(line) - len(line.lstrip())
        m = re.match(r"@(\w+):\s*(.*)", stripped)
        if m and m.group(1) != "short_description":
            arg, arg_indent = m.group(1), indent
            args[arg] = m.group(2)
            continue
        if m:
            arg = None
            paragraphs.append(norm(m.group(2)))
            continue
        if arg is not None and stripped and indent > arg_indent:
            args[arg] += " " + stripped
            continue
        arg = None
        if stripped:
            current.append(stripped)
        elif current:
            paragraphs.append(norm(" ".join(current)))
            current = []
    if current:
        paragraphs.append(norm(" ".join(current)))
    return symbol.strip(), {k: norm(v) for k, v in args.items()}, paragraphs


def text_of(element):
    return norm("".join(element.itertext()))


def docbook_sections(path):
    """{section id: ([paragraphs], {argument: text})} of one generated DocBook page; the
    interface's section also holds its one-line purpose."""
    root = ET.parse(path).getroot()
    sections = {}
    purpose = root.find(".//refpurpose")
    for sect in root.iter():
        if sect.tag not in ("refsect1", "refsect2") or not sect.get("id"):
            continue
        paras = [text_of(p) for p in sect.findall("para")]
        if sect.tag == "refsect1" and purpose is not None:
            paras.append(text_of(purpose))
        args = {}
        for entry in sect.findall("variablelist/varlistentry"):
            param = entry.find("term//parameter")
            item = entry.find("listitem")
            if param is not None and item is not None:
                args[param.text] = text_of(item)
        sections[sect.get("id")] = (paras, args)
    return sections


def main():
    xml_path, ref_dir, prefix = sys.argv[1:4]
    parser = ET.XMLParser(target=ET.TreeBuilder(insert_comments=True))
    root = ET.parse(xml_path, parser=parser).getroot()
    errors = []
    checked = 0

    def check(iface, member, sep, comment, sections, arg_names):
        nonlocal checked
        dashed = iface.replace(".", "-")
        kind = {".": "method", ":": "property", "::": "signal"}.get(sep)
        key = f"gdbus-{kind}-{dashed}.{member}" if member else f"gdbus-interface-{dashed}"
        where = f"{iface}{sep}{member}" if member else iface
        if comment is None:
            errors.append(f"{where}: no doc comment in the XML")
            return
        symbol, args, paragraphs = parse_comment(comment)
        if symbol != (member or iface):
            errors.append(f"{where}: its doc comment is for '{symbol}'")
        if key not in sections:
            errors.append(f"{where}: not in the reference")
            return
        got, got_args = sections[key]
        for p in paragraphs:
            if p not in got:
                errors.append(f"{where}: paragraph missing or split in the reference: {p!r}")
        for a in arg_names:
            if a not in args:
                errors.append(f"{where}: argument {a} has no @{a} doc in the XML")
            elif got_args.get(a) != args[a]:
                errors.append(f"{where}: argument {a} not documented in full: {args[a]!r}")
        checked += 1

    for iface in root.findall("interface"):
        name = iface.get("name")
        path = os.path.join(ref_dir, f"{prefix}-{name}.xml")
        if not os.path.exists(path):
            errors.append(f"{name}: no reference page {path}")
            continue
        sections = docbook_sections(path)
        siblings = list(root)
        idx = siblings.index(iface)
        comment = siblings[idx - 1].text if idx > 0 and siblings[idx - 1].tag is ET.Comment else None
        check(name, "", "", comment, sections, [])
        comment = None
        for child in iface:
            if child.tag is ET.Comment:
                comment = child.text
                continue
            sep = {"method": ".", "property": ":", "signal": "::"}.get(child.tag)
            if sep is None:
                comment = None
                continue
            args = [a.get("name") for a in child.findall("arg")]
            check(name, child.get("name"), sep, comment, sections, args)
            comment = None
    for e in errors:
        print("FAIL:", e, file=sys.stderr)
    if errors:
        return 1
    if checked == 0:
        print("FAIL: nothing checked", file=sys.stderr)
        return 1
    print(f"dbus reference ok: {checked} interfaces and members")
    return 0


if __name__ == "__main__":
    sys.exit(main())
