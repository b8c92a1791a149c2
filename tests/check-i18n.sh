#!/bin/sh
# The built programs speak the user's language: msbctl --help, a GOption help and the settings
# errors of both daemons in Ukrainian with LANGUAGE=uk, from the catalogues meson compiled into
# BUILD_DIR/po/uk/LC_MESSAGES/ (MSB_LOCALEDIR points the programs there instead of the install
# prefix), and in English without it.
# Usage: check-i18n.sh BUILD_DIR
set -eu
build=$1
msbctl=$build/src/tools/msbctl
broker=$build/src/node/my-service-bus
persistence=$build/src/persistence/my-service-bus-persistence
for domain in msbctl my-service-bus my-service-bus-persistence; do
    mo=$build/po/uk/LC_MESSAGES/$domain.mo
    [ -s "$mo" ] || { echo "missing: $mo (meson compiles po/uk.po into it)" >&2; exit 1; }
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# LANGUAGE is honoured in any locale but "C"; C.UTF-8 is present on every Debian system
unset LC_ALL LC_MESSAGES
export MSB_LOCALEDIR="$build/po" LANG=C.UTF-8

fail() {
    echo "check-i18n: $1" >&2
    echo "--- output:" >&2
    cat "$tmp/out" >&2
    exit 1
}

# expect TEXT: the last output holds TEXT
expect() {
    grep -qF -- "$1" "$tmp/out" || fail "expected \"$1\""
}

# $1: wanted exit status, then the command; output (stdout and stderr) in $tmp/out
run() {
    want=$1
    shift
    status=0
    "$@" >"$tmp/out" 2>&1 || status=$?
    [ "$status" = "$want" ] || fail "$* exited with $status, expected $want"
}

LANGUAGE=uk run 0 "$msbctl" --help
expect "Використання:"
expect "Показати теми (D-Bus)"
expect "Код виходу:"
# GOption's help of a subcommand: its option descriptions come from msbctl's domain
LANGUAGE=uk run 0 "$msbctl" publish --help
expect "Тема для публікації (обов’язково)"
# a command-line error
LANGUAGE=uk run 2 "$msbctl" publish
expect "msbctl publish: --topic є обов’язковим"

# the broker's settings error, from src/common (the file parser and its getters)
printf 'TcpPort: 99999\n' >"$tmp/broker.yaml"
LANGUAGE=uk run 1 "$broker" --no-dbus --settings "$tmp/broker.yaml"
expect "broker.yaml:1: TcpPort: \"99999\" поза допустимими межами (очікується номер порту від 1 до 65535)"
# and one of the broker's own settings module
printf 'OnDamagedMessages: maybe\n' >"$tmp/broker.yaml"
LANGUAGE=uk run 1 "$broker" --no-dbus --settings "$tmp/broker.yaml"
expect "\"maybe\" не є допустимим варіантом"
LANGUAGE=uk run 0 "$broker" --help
expect "Файл параметрів (типово: \$HOME/.myservicebus, інакше вбудовані типові значення)"

# the persistence service's settings error
printf 'DataPath: ""\n' >"$tmp/persistence.yaml"
LANGUAGE=uk run 1 "$persistence" --settings "$tmp/persistence.yaml"
expect "DataPath: значення порожнє (очікується тека"
LANGUAGE=uk run 0 "$persistence" --help
expect "Тека збережених даних (замінює DataPath)"

# without LANGUAGE (and in the C locale), English as before
LANG=C run 1 "$persistence" --settings "$tmp/persistence.yaml"
expect "DataPath: the value is empty (expected the folder"
run 0 "$msbctl" --help
expect "Usage:"
echo "check-i18n: Ukrainian with LANGUAGE=uk, English without"
