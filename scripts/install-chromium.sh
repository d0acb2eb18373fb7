#!/usr/bin/env bash
# Debian's Chromium for the browser tests and `make screenshots` (Playwright drives it;
# Playwright's own browser download is not used). `make install` calls this only when
# /usr/bin/chromium is missing. Where it cannot be installed, it says why and how; that
# stops `make install` under CI=true (where the browser tests must run) and is a warning
# elsewhere (the browser tests then skip, saying so).
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
  exit 0
fi

cannot() {
  echo "citywatch: cannot install Debian's chromium: $1." >&2
  echo "citywatch: the browser tests (tests/browser) and make screenshots need /usr/bin/chromium:" \
    "as root, run 'apt-get install -y --no-install-recommends chromium', then 'make install' again." >&2
  if [ "${CI:-}" = "true" ]; then
    exit 1
  fi
  exit 0
}

command -v apt-get >/dev/null 2>&1 || cannot "this is not a Debian system (no apt-get)"
if [ "$(id -u)" -eq 0 ]; then
  sudo=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  sudo=(sudo -n)
else
  cannot "not root, and sudo is missing or asks for a password"
fi
echo "citywatch: installing Debian's chromium for the browser tests"
export DEBIAN_FRONTEND=noninteractive
if ! "${sudo[@]}" apt-get install -y --no-install-recommends chromium; then
  # the package lists may be missing or stale on a fresh machine
  "${sudo[@]}" apt-get update || cannot "apt-get update failed (see above)"
  "${sudo[@]}" apt-get install -y --no-install-recommends chromium || cannot "apt-get install failed (see above)"
fi
