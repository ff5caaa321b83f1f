#!/usr/bin/env bash
# The system programs the test suite drives for real: a PostgreSQL server (started by the
# tests on loopback), headless Chromium (the dashboard tests) and a Java runtime (Spark on
# local[2], the spark target's equality test). Installed from
# Debian's packages when missing and we may (root, or passwordless sudo); otherwise a
# clear note, and the tests that need them fail naming what to install.
set -euo pipefail

missing=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1 \
    || missing+=(postgresql)
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v java >/dev/null 2>&1 || missing+=(openjdk-17-jre-headless)
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
    sudo=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo=(sudo -n)
else
    echo "note: the tests need Debian's ${missing[*]} (apt-get install ${missing[*]}); not root, not installing" >&2
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "note: the tests need ${missing[*]}; no apt-get here, install them yourself" >&2
    exit 0
fi
echo "installing ${missing[*]} from Debian's packages" >&2
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
