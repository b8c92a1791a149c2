#!/usr/bin/env python3
"""The translations stay in step with the sources (po/README.md).

check-po.py potfiles SOURCE_ROOT
    po/POTFILES names every file under src/ that has translatable messages (what xgettext
    extracts with the keywords of meson's glib preset, which builds the real .pot), and
    nothing that does not exist.
check-po.py complete SOURCE_ROOT LANG
    po/LANG.po passes `msgfmt --check`, has no untranslated and no fuzzy message, and holds
    exactly the messages of a .pot extracted now from po/POTFILES: a new or changed message
    in the sources fails until it is translated, a removed one until it is dropped.
"""
import os
import re
import subprocess
import sys
import tempfile

# meson's i18n 'glib' preset (mesonbuild/modules/i18n.py), which po/meson.build uses
XGETTEXT_ARGS = [
    '--from-code=UTF-8',
    '--add-comments',
    '--keyword=_',
    '--keyword=N_',
    '--keyword=C_:1c,2',
    '--keyword=NC_:1c,2',
    '--keyword=g_dcgettext:2',
    '--keyword=g_dngettext:2,3',
    '--keyword=g_dpgettext2:2c,3',
    '--flag=N_:1:pass-c-format',
    '--flag=C_:2:pass-c-format',
    '--flag=NC_:2:pass-c-format',
    '--flag=g_dngettext:2:pass-c-format',
    '--flag=g_strdup_printf:1:c-format',
    '--flag=g_string_printf:2:c-format',
    '--flag=g_string_append_printf:2:c-format',
    '--flag=g_error_new:3:c-format',
    '--flag=g_set_error:4:c-format',
    '--flag=g_markup_printf_escaped:1:c-format',
    '--flag=g_log:3:c-format',
    '--flag=g_print:1:c-format',
    '--flag=g_printerr:1:c-format',
    '--flag=g_printf:1:c-format',
    '--flag=g_fprintf:2:c-format',
    '--flag=g_sprintf:2:c-format',
    '--flag=g_snprintf:3:c-format',
]


def fail(message):
    lines = message.splitlines()
    if len(lines) > 21:  # msgcmp says one line per message
        lines = lines[:20] + ['… (%d more lines)' % (len(lines) - 20)]
    print('check-po: ' + '\n'.join(lines), file=sys.stderr)
    sys.exit(1)


def read_potfiles(root):
    names = []
    with open(os.path.join(root, 'po', 'POTFILES'), encoding='utf-8') as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith('#'):
                names.append(line)
    return names


def xgettext(root, files, output):
    cmd = ['xgettext', '--package-name=my-service-bus', '-D', root, '-o', output] + \
        XGETTEXT_ARGS + files
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        fail('xgettext failed:\n' + result.stderr)


def check_potfiles(root):
    listed = read_potfiles(root)
    missing = [n for n in listed if not os.path.isfile(os.path.join(root, n))]
    if missing:
        fail('po/POTFILES lists files that do not exist: ' + ', '.join(missing))
    sources = []
    for top, dirs, files in os.walk(os.path.join(root, 'src')):
        dirs.sort()
        for name in sorted(files):
            if name.endswith(('.c', '.h')):
                sources.append(os.path.relpath(os.path.join(top, name), root))
    with tempfile.TemporaryDirectory() as tmp:
        pot = os.path.join(tmp, 'all.pot')
        xgettext(root, sources, pot)
        used = set()
        if os.path.exists(pot):  # xgettext writes nothing when there is no message at all
            with open(pot, encoding='utf-8') as f:
                for line in f:
                    if line.startswith('#: '):
                        for ref in line[3:].split():
                            used.add(ref.rsplit(':', 1)[0])
    unlisted = sorted(used - set(listed))
    if unlisted:
        fail('files with translatable messages missing from po/POTFILES: ' +
             ', '.join(unlisted))
    print('po/POTFILES: %d files, all present; every file with messages is listed' %
          len(listed))


def check_complete(root, lang):
    po = os.path.join(root, 'po', lang + '.po')
    stats = subprocess.run(['msgfmt', '--check', '--statistics', '-o', os.devnull, po],
                           capture_output=True, text=True)
    print(stats.stderr.strip())
    if stats.returncode != 0:
        fail('msgfmt --check failed on po/%s.po' % lang)
    if re.search(r'untranslated|fuzzy', stats.stderr):
        fail('po/%s.po has untranslated or fuzzy messages' % lang)
    with tempfile.TemporaryDirectory() as tmp:
        pot = os.path.join(tmp, 'fresh.pot')
        xgettext(root, read_potfiles(root), pot)
        if not os.path.exists(pot):
            fail('the files in po/POTFILES have no translatable message')
        # every message of the sources has a translation (untranslated and fuzzy ones count as
        # missing) ...
        new = subprocess.run(['msgcmp', po, pot], capture_output=True, text=True)
        if new.returncode != 0:
            fail('po/%s.po lacks messages of the sources (update it with msgmerge):\n%s' %
                 (lang, new.stderr))
        # ... and every translation still has its message in the sources
        old = subprocess.run(['msgcmp', '--use-untranslated', pot, po], capture_output=True,
                             text=True)
        if old.returncode != 0:
            fail('po/%s.po has messages the sources no longer have:\n%s' % (lang, old.stderr))
    print('po/%s.po: complete and up to date with the sources' % lang)


def main():
    if len(sys.argv) == 3 and sys.argv[1] == 'potfiles':
        check_potfiles(sys.argv[2])
    elif len(sys.argv) == 4 and sys.argv[1] == 'complete':
        check_complete(sys.argv[2], sys.argv[3])
    else:
        fail('usage: check-po.py potfiles ROOT | complete ROOT LANG')


if __name__ == '__main__':
    main()
