#!/usr/bin/env bash
# Make sure Debian's Chromium is installed: the browser tests (tests/browser/) drive it with
# Playwright (executable_path). Playwright's own browser download is never used: this machine's
# network reaches Debian's mirror and PyPI, not Playwright's CDN.
set -euo pipefail
chromium_bin() {
  for candidate in "${DRLIB_CHROMIUM:-}" /usr/bin/chromium /usr/bin/chromium-browser; do
    [ -n "$candidate" ] && [ -x "$candidate" ] && return 0
  done
  return 1
}
if chromium_bin; then exit 0; fi
echo "Chromium not found; installing Debian's chromium package (for the browser tests)" >&2
if ! command -v apt-get >/dev/null 2>&1; then
  echo "error: no apt-get here. Install Chromium and set DRLIB_CHROMIUM to its executable." >&2
  exit 1
fi
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
chromium_bin
