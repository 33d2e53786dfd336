#!/usr/bin/env bash
# Makes sure a Chromium for the Playwright tests exists: Debian's package when root, otherwise
# Playwright's own download; stops with a one-line instruction when neither is possible.
set -euo pipefail
chromium="${CHROMIUM_PATH:-/usr/bin/chromium}"
[ -x "$chromium" ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "Chromium not found at $chromium: installing Debian's chromium package…"
  (apt-get install -y -qq chromium >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }) >/dev/null
  [ -x "$chromium" ] && exit 0
fi
if [ -z "${CI:-}" ] && npx --no-install playwright install chromium >/dev/null 2>&1; then
  echo "Using Playwright's Chromium; set CHROMIUM_PATH to its executable if tests cannot find it."
  exit 0
fi
echo "No Chromium found: install one (Debian: sudo apt-get install -y chromium) or set CHROMIUM_PATH=/path/to/chromium, then run npm test again." >&2
exit 1
