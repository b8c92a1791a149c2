#!/usr/bin/python3
"""Read an installed systemd service unit the way systemd would start it, for
packaging/test-install.sh on a machine where systemd is not PID 1 (CI containers).

Prints bash assignments (to be sourced): U_USER, U_GROUP, U_UMASK, U_NOFILE, U_NNP, U_WORKDIR,
U_TYPE, the arrays U_ARGV (ExecStart after specifier and variable expansion), U_RELOAD (ExecReload,
$MAINPID left for the caller), U_ENV (the environment systemd gives the process: PATH, HOME, USER,
LOGNAME, SHELL, Environment=, RUNTIME_DIRECTORY, STATE_DIRECTORY, ...) and U_DIRS ("path mode
kind" for each RuntimeDirectory=, StateDirectory=, CacheDirectory=, LogsDirectory=,
ConfigurationDirectory=). Drop-ins under /etc, /run and /usr/lib are read as systemd reads them.
Exits 2 with a message for what it does not know how to run (ExecStartPre=, EnvironmentFile=, ...)
rather than starting the program differently from systemd.

Usage: unit-exec.py /lib/systemd/system/NAME.service
       unit-exec.py --listen SOCKET LOG   (systemd's notification socket for Type=notify: every
                                           datagram received is appended to LOG, one line each)
"""

import glob
import os
import pwd
import grp
import re
import shlex
import sys

DIR_KINDS = {
    "RuntimeDirectory": ("/run", "RUNTIME_DIRECTORY", "0755"),
    "StateDirectory": ("/var/lib", "STATE_DIRECTORY", "0755"),
    "CacheDirectory": ("/var/cache", "CACHE_DIRECTORY", "0755"),
    "LogsDirectory": ("/var/log", "LOGS_DIRECTORY", "0755"),
    "ConfigurationDirectory": ("/etc", "CONFIGURATION_DIRECTORY", "0755"),
}
UNSUPPORTED = ("ExecStartPre", "ExecStartPost", "EnvironmentFile", "RootDirectory", "RootImage",
               "DynamicUser", "PassEnvironment", "Sockets", "BindPaths", "BindReadOnlyPaths")


def fail(msg):
    print(f"unit-exec: {msg}", file=sys.stderr)
    sys.exit(2)


def read_unit(path):
    """[Service] keys in order, as (key, value), from the unit and its drop-ins."""
    name = os.path.basename(path)
    files = [path]
    dropins = {}
    for base in ("/usr/lib/systemd/system", "/lib/systemd/system", "/run/systemd/system",
                 "/etc/systemd/system"):
        for f in glob.glob(f"{base}/{name}.d/*.conf"):
            dropins[os.path.basename(f)] = f  # a later folder overrides an earlier one
    files += [dropins[k] for k in sorted(dropins)]
    items = []
    for f in files:
        section = None
        with open(f, encoding="utf-8") as fh:
            text = fh.read()
        text = re.sub(r"\\\n", " ", text)
        for line in text.splitlines():
            line = line.strip()
            if not line or line[0] in "#;":
                continue
            if line.startswith("["):
                section = line.strip("[]")
                continue
            if section != "Service" or "=" not in line:
                continue
            key, value = line.split("=", 1)
            items.append((key.strip(), value.strip()))
    return items


def listen(path, log):
    import socket
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    os.chmod(path, 0o666)  # the service runs as its own user
    with open(log, "a", encoding="utf-8") as out:
        out.write("LISTENING=1\n")
        out.flush()
        while True:
            data = sock.recv(4096).decode("utf-8", "replace")
            for line in data.splitlines():
                out.write(line + "\n")
            out.flush()


def usec(value):
    """A systemd time span (30, 30s, 500ms, 1min, 1min 30s) in microseconds."""
    units = {"us": 1, "ms": 1000, "s": 10**6, "sec": 10**6, "m": 60 * 10**6, "min": 60 * 10**6,
             "h": 3600 * 10**6}
    total = 0
    for number, unit in re.findall(r"([0-9.]+)\s*([a-z]*)", value):
        if unit not in units and unit != "":
            fail(f"time span {value!r} is not supported")
        total += int(float(number) * units.get(unit, 10**6))
    return total


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--listen":
        listen(sys.argv[2], sys.argv[3])
        return
    if len(sys.argv) != 2:
        fail("usage: unit-exec.py UNIT-FILE")
    path = sys.argv[1]
    unit = os.path.basename(path)
    items = read_unit(path)
    single = {}
    lists = {"Environment": [], **{k: [] for k in DIR_KINDS}}
    exec_start = []
    exec_reload = []
    for key, value in items:
        if key in UNSUPPORTED and value:
            fail(f"{unit}: {key}= is not supported by packaging/test-install.sh yet")
        if key == "ExecStart":
            exec_start = [] if not value else exec_start + [value]
        elif key == "ExecReload":
            exec_reload = [] if not value else exec_reload + [value]
        elif key in lists:
            if not value:
                lists[key] = []
            else:
                lists[key] += shlex.split(value)
        else:
            single[key] = value
    if len(exec_start) != 1:
        fail(f"{unit}: expected one ExecStart= line, found {len(exec_start)}")
    svc_type = single.get("Type", "simple")
    if svc_type not in ("simple", "exec", "notify", "notify-reload"):
        fail(f"{unit}: Type={svc_type} is not supported by packaging/test-install.sh")

    user = single.get("User", "root")
    try:
        pw = pwd.getpwnam(user)
    except KeyError:
        fail(f"{unit}: User={user} does not exist (the package's sysusers.d file should create it)")
    group = single.get("Group") or grp.getgrgid(pw.pw_gid).gr_name

    env = {
        "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "HOME": pw.pw_dir,
        "USER": user,
        "LOGNAME": user,
        "SHELL": pw.pw_shell,
    }
    # systemd passes the system locale (/etc/locale.conf) to every service
    if os.path.exists("/etc/locale.conf"):
        with open("/etc/locale.conf", encoding="utf-8") as fh:
            for line in fh:
                k, _, v = line.strip().partition("=")
                if k.startswith("LANG") or k.startswith("LC_"):
                    env[k] = v.strip('"')
    dirs = []
    for key, (base, var, default_mode) in DIR_KINDS.items():
        mode = single.get(key + "Mode", default_mode)
        paths = [os.path.join(base, d) for d in lists[key]]
        for p in paths:
            dirs.append(f"{p} {mode} {key}")
        if paths:
            env[var] = ":".join(paths)
    for assignment in lists["Environment"]:
        k, _, v = assignment.partition("=")
        env[k] = v

    def specifiers(word):
        table = {"%": "%", "t": "/run", "S": "/var/lib", "C": "/var/cache", "L": "/var/log",
                 "E": "/etc", "T": "/tmp", "V": "/var/tmp", "n": unit,
                 "N": unit.rsplit(".", 1)[0], "p": unit.rsplit(".", 1)[0], "u": user,
                 "h": pw.pw_dir}

        def one(m):
            if m.group(1) not in table:
                fail(f"{unit}: specifier %{m.group(1)} is not supported")
            return table[m.group(1)]
        return re.sub(r"%(.)", one, word)

    def expand(line, keep=()):
        line = line.lstrip("-:+!")
        if line.startswith("@"):
            fail(f"{unit}: ExecStart=@ is not supported")
        out = []
        for word in shlex.split(line):
            word = specifiers(word)
            whole = re.fullmatch(r"\$([A-Za-z_][A-Za-z0-9_]*)", word)
            if whole and whole.group(1) not in keep:
                out += env.get(whole.group(1), "").split()
                continue
            out.append(re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}",
                              lambda m: m.group(0) if m.group(1) in keep
                              else env.get(m.group(1), ""), word))
        return out

    argv = expand(exec_start[0])
    reload_argv = expand(exec_reload[0], keep=("MAINPID",)) if exec_reload else []

    def q(s):
        return shlex.quote(s)

    def arr(values):
        return "(" + " ".join(q(v) for v in values) + ")"

    print(f"U_TYPE={q(svc_type)}")
    print(f"U_USER={q(user)}")
    print(f"U_GROUP={q(group)}")
    print(f"U_UMASK={q(single.get('UMask', '0022'))}")
    print(f"U_NOFILE={q(single.get('LimitNOFILE', ''))}")
    print(f"U_NNP={q(single.get('NoNewPrivileges', 'no'))}")
    watchdog = single.get("WatchdogSec", "")
    print(f"U_WATCHDOG_USEC={q(str(usec(watchdog)) if watchdog and watchdog != 'infinity' else '')}")
    print(f"U_WORKDIR={q(single.get('WorkingDirectory', '/').lstrip('-'))}")
    print(f"U_ARGV={arr(argv)}")
    print(f"U_RELOAD={arr(reload_argv)}")
    print(f"U_ENV={arr(f'{k}={v}' for k, v in env.items())}")
    print(f"U_DIRS={arr(dirs)}")


if __name__ == "__main__":
    main()
