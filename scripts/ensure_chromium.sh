#!/bin/sh
# The browser tests drive Debian's chromium. Install it when it is missing and this user can
# (root, or sudo without a password); otherwise stop at once with the one command to run.
# CHROMIUM_PATH overrides where it is looked for (tests).
set -eu
chromium="${CHROMIUM_PATH:-/usr/lib/chromium/chromium}"
[ -x "$chromium" ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
    as_root=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    as_root="sudo"
else
    echo "$chromium is missing (the browser tests need it); run: sudo apt-get install -y --no-install-recommends chromium" >&2
    exit 1
fi

echo "installing Debian's chromium for the browser tests ($chromium is missing)" >&2
export DEBIAN_FRONTEND=noninteractive
# A fresh machine often has no package lists yet: update once and retry.
$as_root apt-get install -y --no-install-recommends chromium \
    || { $as_root apt-get update && $as_root apt-get install -y --no-install-recommends chromium; }
if [ ! -x "$chromium" ]; then
    echo "apt-get ran but $chromium is still missing; install chromium by hand: sudo apt-get install -y chromium" >&2
    exit 1
fi
