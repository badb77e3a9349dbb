#!/usr/bin/env bash
# Make a Chromium and the fonts pages ask for available to Playwright.
# Prefers Playwright's own Chromium; where it cannot be downloaded, falls back to the system
# package (Debian/Ubuntu: apt-get). Idempotent and quick when everything is already there.
set -euo pipefail
PYTHON=${PYTHON:-python3}
FONTS="fonts-noto-cjk fonts-noto-color-emoji fonts-open-sans fonts-inter fonts-lato fonts-roboto"

have_playwright_chromium() {
  "$PYTHON" - <<'PY'
import os, sys
from playwright.sync_api import sync_playwright
with sync_playwright() as p:
    sys.exit(0 if os.path.exists(p.chromium.executable_path) else 1)
PY
}
have_system_chromium() {
  for c in /usr/lib/chromium/chromium-headless-shell /usr/lib/chromium/chromium /usr/bin/chromium \
           chromium-browser google-chrome; do
    command -v "$c" >/dev/null 2>&1 && return 0
  done
  return 1
}
apt_install() {
  command -v apt-get >/dev/null 2>&1 || return 1
  local sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null
}

if have_playwright_chromium; then
  echo "browser: Playwright's own Chromium is installed"
elif "$PYTHON" -m playwright install chromium >/dev/null 2>&1; then
  echo "browser: installed Playwright's own Chromium"
elif have_system_chromium; then
  echo "browser: Playwright's Chromium could not be downloaded; using the system Chromium"
else
  echo "browser: Playwright's Chromium could not be downloaded; installing the system package"
  apt_install chromium-headless-shell || apt_install chromium \
    || { echo "no Chromium: install one, or set browser.executable_path" >&2; exit 1; }
fi

missing=$(for f in $FONTS; do dpkg -s "$f" >/dev/null 2>&1 || echo "$f"; done)
if [ -n "$missing" ] && command -v dpkg >/dev/null 2>&1; then
  echo "fonts: installing $missing"
  apt_install $missing || echo "fonts: could not install $missing (CJK pages and web fonts will fall back)" >&2
fi
