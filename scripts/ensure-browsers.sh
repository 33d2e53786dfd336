#!/usr/bin/env bash
# Makes sure the browsers of the tests exist: Chromium, Firefox ESR, WebKitGTK's WebDriver and
# xvfb-run (WebKit needs a display). Whatever is missing is installed from Debian when root;
# otherwise Chromium may come from Playwright's own download, and for the rest a one-line
# instruction says what to install. Paths: CHROMIUM_PATH, FIREFOX_PATH, WEBKIT_DRIVER_PATH.
set -euo pipefail
chromium="${CHROMIUM_PATH:-/usr/bin/chromium}"
firefox="${FIREFOX_PATH:-/usr/bin/firefox-esr}"
webkit="${WEBKIT_DRIVER_PATH:-/usr/bin/WebKitWebDriver}"

# The Debian packages of what is missing.
missing() {
  [ -x "$chromium" ] || echo chromium
  [ -x "$firefox" ] || echo firefox-esr
  [ -x "$webkit" ] || echo webkit2gtk-driver
  command -v xvfb-run >/dev/null || echo xvfb
}

packages=$(missing)
[ -z "$packages" ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "Installing Debian packages for the browser tests:" $packages
  # shellcheck disable=SC2086 # one word per package
  (apt-get install -y -qq $packages >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $packages; }) >/dev/null
  packages=$(missing)
  [ -z "$packages" ] && exit 0
fi
if [ "$packages" = chromium ] && [ -z "${CI:-}" ] && npx --no-install playwright install chromium >/dev/null 2>&1; then
  echo "Using Playwright's Chromium; set CHROMIUM_PATH to its executable if tests cannot find it."
  exit 0
fi
echo "Missing for the browser tests:" $packages "(Debian: sudo apt-get install -y" $packages"; or set CHROMIUM_PATH, FIREFOX_PATH, WEBKIT_DRIVER_PATH), then run npm test again." >&2
exit 1
