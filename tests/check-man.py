#!/usr/bin/env python3
"""The man pages and msbctl's bash completion against what they describe.

- every command of the built `msbctl --help`, every option it names, and every option of every
  command's `--help` appear in msbctl(1) (a command's options in that command's entry) and are
  offered by the bash completion (simulated with COMP_WORDS, as bash does on <Tab>);
- every settings key the broker's and the persistence service's parsers accept (their
  settings_keys[] tables in the C sources) is in my-service-bus.yaml(5) and
  my-service-bus-persistence.yaml(5);
- every built page formats without a groff or man warning;
- the completion registers for msbctl and completes a command, an option and a value.

Usage: check-man.py SOURCE_ROOT MSBCTL MAN_DIR
"""

import os
import re
import subprocess
import sys

PAGES = ['my-service-bus.8', 'my-service-bus-persistence.8', 'msbctl.1',
         'my-service-bus.yaml.5', 'my-service-bus-persistence.yaml.5']

failures = []


def fail(message):
    failures.append(message)
    print('FAIL: ' + message, file=sys.stderr)


def run(argv, env=None, check_status=True):
    proc = subprocess.run(argv, capture_output=True, text=True, env=env)
    if check_status and proc.returncode != 0:
        raise SystemExit('%s exited %d: %s' % (' '.join(argv), proc.returncode, proc.stderr))
    return proc


def render(page_path):
    """The page as plain text, one paragraph per line run (no hyphenation: scdoc sets .nh)."""
    env = dict(os.environ, LC_ALL='C.UTF-8', MANWIDTH='2000')
    text = run(['groff', '-k', '-man', '-Tutf8', '-P-c', '-P-b', '-P-o', '-P-u', '-rLL=2000n',
                page_path], env=env).stdout
    # groff -Tutf8 writes - as U+2010 (hyphen) or U+2212 (minus) in some contexts
    return text.replace('\u2010', '-').replace('\u2212', '-')


def contains_word(text, word):
    return re.search(r'(?<![\w-])' + re.escape(word) + r'(?![\w-])', text) is not None


# ---- msbctl: what its help prints ----

def help_commands(msbctl):
    out = run([msbctl, '--help']).stdout
    commands = []
    in_commands = False
    for line in out.splitlines():
        if line.strip() == 'Commands:':
            in_commands = True
            continue
        if in_commands:
            m = re.match(r'^  ([a-z][a-z-]*)\s{2,}\S', line)
            if m is None:
                break
            commands.append(m.group(1))
    if len(commands) < 10:
        raise SystemExit('could not read the commands from msbctl --help:\n' + out)
    global_options = sorted(set(re.findall(r'(?<![\w-])(--[a-z][a-z-]*)', out)))
    return commands, global_options


def help_options(msbctl, command):
    """The options of `msbctl COMMAND --help`, long and short."""
    out = run([msbctl, command, '--help']).stdout
    options = set()
    for line in out.splitlines():
        # GOption: "  -a, --address=ADDRESS   text" or "  --fail-first   text"
        m = re.match(r'^\s+((?:-[A-Za-z?], )?--[a-z][a-z-]*)', line)
        if m is None:
            continue
        for opt in m.group(1).split(', '):
            options.add(opt)
    options.discard('-?')
    if '--help' not in options:
        raise SystemExit('could not read the options from msbctl %s --help:\n%s' % (command, out))
    # GOption's help groups, shown under --help: not options of the command
    options.discard('--help-all')
    return sorted(options)


# ---- msbctl(1) ----

def command_entries(text, commands):
    """Each command's entry in msbctl(1): from the line that starts with the command to the
    next command's line."""
    lines = text.splitlines()
    starts = []
    for i, line in enumerate(lines):
        m = re.match(r'^\s+([a-z][a-z-]*)(\s|$)', line)
        if m and m.group(1) in commands:
            starts.append((i, m.group(1)))
    entries = {}
    for n, (i, name) in enumerate(starts):
        end = starts[n + 1][0] if n + 1 < len(starts) else len(lines)
        # the entries end at the next section heading
        for j in range(i + 1, end):
            if lines[j] and not lines[j][0].isspace():
                end = j
                break
        entries.setdefault(name, '\n'.join(lines[i:end]))
    return entries


def check_msbctl_page(text, commands, global_options, options_by_command):
    for command in commands:
        if not contains_word(text, command):
            fail('msbctl(1) does not name the command %s' % command)
    for opt in global_options:
        if not contains_word(text, opt):
            fail('msbctl(1) does not name the option %s that msbctl --help prints' % opt)
    entries = command_entries(text, commands)
    for command, options in options_by_command.items():
        entry = entries.get(command)
        if entry is None:
            fail('msbctl(1) has no entry for the command %s' % command)
            continue
        for opt in options:
            if opt in ('--help', '-h'):
                continue
            # the D-Bus commands' bus options and --json are described once, as global options
            if opt in ('--system', '--session', '--json', '-j') and contains_word(text, opt):
                continue
            if not contains_word(entry, opt):
                fail('msbctl(1): the entry of %s does not describe its option %s'
                     % (command, opt))
    for status in range(0, 9):
        if not re.search(r'^\s+%d\s*$' % status, text, re.M):
            fail('msbctl(1) does not list the exit status %d' % status)


# ---- bash completion ----

def complete(completion, words, env_extra=None):
    """What the completion offers for the command line WORDS (the last one is being typed)."""
    script = '''
set -u
source "$1"
shift
COMP_WORDS=("$@")
COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
COMP_LINE="${COMP_WORDS[*]}"
COMP_POINT=${#COMP_LINE}
COMPREPLY=()
_msbctl msbctl "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]:-}"
printf '%s\\n' "${COMPREPLY[@]}"
'''
    proc = run(['bash', '--norc', '--noprofile', '-c', script, 'bash', completion] + words)
    return set(w for w in proc.stdout.split('\n') if w)


def check_completion(completion, commands, global_options, options_by_command):
    proc = run(['bash', '--norc', '--noprofile', '-c', 'source "$1" && complete -p msbctl',
                'bash', completion], check_status=False)
    if proc.returncode != 0 or '_msbctl' not in proc.stdout or not proc.stdout.rstrip().endswith(
            ' msbctl'):
        fail('the completion does not register for msbctl: %r %r' % (proc.stdout, proc.stderr))
        return
    offered = complete(completion, ['msbctl', ''])
    for command in commands:
        if command not in offered:
            fail('the completion does not offer the command %s' % command)
    offered = complete(completion, ['msbctl', '-'])
    for opt in global_options:
        if opt not in offered:
            fail('the completion does not offer the option %s before a command' % opt)
    # a command after a global option
    if complete(completion, ['msbctl', '--session', 'top']) != {'topics'}:
        fail('the completion does not complete "msbctl --session top" to topics')
    for command, options in options_by_command.items():
        offered = complete(completion, ['msbctl', command, '-'])
        for opt in options:
            if opt not in offered:
                fail('the completion does not offer %s for msbctl %s' % (opt, command))
    # values: by option, --opt=value, and a positional argument
    if complete(completion, ['msbctl', 'subscribe', '--type', 'delete-on-d']) != {
            'delete-on-disconnect', 'delete-on-disconnect-single-connection'}:
        fail('the completion does not complete the values of subscribe --type')
    if complete(completion, ['msbctl', 'subscribe', '--type', '=', 'perm']) != {'permanent'}:
        fail('the completion does not complete subscribe --type=perm')
    if complete(completion, ['msbctl', 'set-persist', 'orders', 'o']) != {'on', 'off'}:
        fail('the completion does not complete set-persist TOPIC on|off')
    if complete(completion, ['msbctl', 'set-persist', 'o']) != set():
        fail('the completion offers on/off for set-persist\'s TOPIC')


# ---- settings keys ----

def c_table_keys(source, table, macros):
    """The key spellings of SOURCE's `static const MsbConfigKey TABLE[] = {...};`, with the
    MSB_HTTP_LIMITS_CONFIG_KEYS(...) entries expanded from their header."""
    m = re.search(r'static const MsbConfigKey %s\[\] = \{(.*?)\n\};' % table, source, re.S)
    if m is None:
        raise SystemExit('no %s[] table' % table)
    body = m.group(1)
    keys = re.findall(r'"([A-Za-z0-9_.-]+)"', body)
    for name, expansion in macros.items():
        if name + '(' in body:
            keys += expansion
    ids = set(re.findall(r'\bKEY_[A-Z0-9_]+', body))
    return keys, ids


def check_keys(root, rendered):
    header = open(os.path.join(root, 'src/common/msb-http-limits.h')).read()
    m = re.search(r'#define MSB_HTTP_LIMITS_CONFIG_KEYS\(.*?\)(.*?)\n/\*', header, re.S)
    if m is None:
        raise SystemExit('no MSB_HTTP_LIMITS_CONFIG_KEYS in msb-http-limits.h')
    macros = {'MSB_HTTP_LIMITS_CONFIG_KEYS': re.findall(r'"([A-Za-z0-9_.-]+)"', m.group(1))}
    for source_path, enum_end, page in [
            ('src/common/msb-settings.c', 'KEY_PERSIST_TIMER_INTERVAL_SECS', 'my-service-bus.yaml.5'),
            ('src/persistence/msb-persistence-settings.c', 'KEY_S3_CONN_STRING',
             'my-service-bus-persistence.yaml.5')]:
        source = open(os.path.join(root, source_path)).read()
        keys, ids = c_table_keys(source, 'settings_keys', macros)
        # every key of the enum is in the table (so no entry escaped the reading above)
        enum = re.search(r'enum \{(.*?)\};', source, re.S)
        enum_ids = set(re.findall(r'\bKEY_[A-Z0-9_]+', enum.group(1))) if enum else set()
        if enum_end not in enum_ids or not enum_ids <= ids | {
                'KEY_HTTP_MAX_BODY_SIZE', 'KEY_HTTP_IDLE_TIMEOUT', 'KEY_HTTP_REQUEST_TIMEOUT',
                'KEY_HTTP_MAX_CONNECTIONS', 'KEY_HTTP_LISTEN_BACKLOG'}:
            raise SystemExit('%s: could not read every key of settings_keys[]' % source_path)
        if len(keys) < 10:
            raise SystemExit('%s: only %d keys read' % (source_path, len(keys)))
        text = rendered[page]
        for key in keys:
            if not contains_word(text, key):
                fail('%s does not document the settings key %s (%s accepts it)'
                     % (page, key, source_path))
        print('%s: %d key spellings of %s' % (page, len(keys), source_path))


# ---- formatting warnings ----

def check_warnings(page_path):
    env = dict(os.environ, LC_ALL='C.UTF-8', MANROFFSEQ='', MANWIDTH='80')
    proc = run(['man', '--warnings', '-E', 'UTF-8', '-l', '-Tutf8', '-Z', page_path], env=env,
               check_status=False)
    if proc.returncode != 0 or proc.stderr.strip():
        fail('man --warnings %s: status %d: %s' % (os.path.basename(page_path), proc.returncode,
                                                     proc.stderr.strip()))
    proc = run(['groff', '-k', '-ww', '-z', '-man', page_path], check_status=False)
    if proc.returncode != 0 or proc.stderr.strip():
        fail('groff -ww %s: %s' % (os.path.basename(page_path), proc.stderr.strip()))


def main():
    if len(sys.argv) != 4:
        raise SystemExit(__doc__)
    root, msbctl, man_dir = sys.argv[1:]
    completion = os.path.join(root, 'data/bash-completion/msbctl')

    rendered = {}
    for page in PAGES:
        path = os.path.join(man_dir, page)
        if not os.path.exists(path):
            fail('the man page %s was not built' % page)
            continue
        check_warnings(path)
        rendered[page] = render(path)
        name = page.rsplit('.', 1)[0]
        if not re.search(r'^NAME\s*\n\s+%s - \S' % re.escape(name), rendered[page], re.M):
            fail('%s has no NAME line "%s - ..."' % (page, name))
    commands, global_options = help_commands(msbctl)
    global_options += ['--system', '--json', '--version']
    global_options = sorted(set(global_options))
    options_by_command = {c: help_options(msbctl, c) for c in commands}
    print('msbctl: %d commands, %d options' % (
        len(commands), sum(len(o) for o in options_by_command.values())))

    if 'msbctl.1' in rendered:
        check_msbctl_page(rendered['msbctl.1'], commands, global_options, options_by_command)
    if os.path.exists(completion):
        check_completion(completion, commands, global_options, options_by_command)
    else:
        fail('no bash completion %s' % completion)
    if len(rendered) == len(PAGES):
        check_keys(root, rendered)

    if failures:
        print('%d failures' % len(failures), file=sys.stderr)
        return 1
    print('man pages and completion ok')
    return 0


if __name__ == '__main__':
    sys.exit(main())
