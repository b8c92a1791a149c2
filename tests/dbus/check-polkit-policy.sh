#!/bin/sh
# The polkit action file (data/org.myservicebus.Broker1.policy) is valid against polkit's own
# DTD and declares the action the broker asks about, org.myservicebus.Broker1.manage, with
# auth_admin_keep for every kind of session.
# Usage: check-polkit-policy.sh POLICY_FILE
set -eu
policy=$1
dtd=/usr/share/polkit-1/policyconfig-1.dtd
command -v xmllint >/dev/null 2>&1 || { echo "FAIL: xmllint is missing (libxml2-utils)" >&2; exit 1; }
[ -r "$dtd" ] || { echo "FAIL: $dtd is missing (polkitd)" >&2; exit 1; }
xmllint --noout --nonet --dtdvalid "$dtd" "$policy"
action=org.myservicebus.Broker1.manage
ids=$(xmllint --nonet --xpath '//action/@id' "$policy")
[ "$(echo "$ids" | tr -d ' ')" = "id=\"$action\"" ] ||
    { echo "FAIL: expected the one action $action, found: $ids" >&2; exit 1; }
for kind in allow_any allow_inactive allow_active; do
    value=$(xmllint --nonet --xpath "string(//action[@id='$action']/defaults/$kind)" "$policy")
    [ "$value" = auth_admin_keep ] ||
        { echo "FAIL: $action $kind is '$value', not auth_admin_keep" >&2; exit 1; }
done
for tag in description message; do
    value=$(xmllint --nonet --xpath "normalize-space(//action[@id='$action']/$tag)" "$policy")
    [ -n "$value" ] || { echo "FAIL: $action has no $tag" >&2; exit 1; }
done
echo "polkit policy ok: $action, auth_admin_keep"
