#!/usr/bin/env bash
# Debian's Chromium for the browser tests (Playwright drives it; Playwright's own browser
# download is not used). Called by `make install` only when /usr/bin/chromium is missing.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "citywatch: /usr/bin/chromium is missing and this is not a Debian system:" \
    "install Chromium at /usr/bin/chromium for the browser tests (tests/browser)" >&2
  exit 1
fi
if [ "$(id -u)" -eq 0 ]; then
  sudo=()
elif command -v sudo >/dev/null 2>&1; then
  sudo=(sudo)
else
  echo "citywatch: /usr/bin/chromium is missing and neither root nor sudo is available:" \
    "run 'apt-get install -y --no-install-recommends chromium' as root, then 'make install' again" >&2
  exit 1
fi
echo "citywatch: installing Debian's chromium for the browser tests"
export DEBIAN_FRONTEND=noninteractive
if ! "${sudo[@]}" apt-get install -y --no-install-recommends chromium; then
  "${sudo[@]}" apt-get update
  "${sudo[@]}" apt-get install -y --no-install-recommends chromium || {
    echo "citywatch: could not install chromium with apt-get (see above);" \
      "the browser tests need /usr/bin/chromium" >&2
    exit 1
  }
fi
