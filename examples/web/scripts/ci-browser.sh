#!/usr/bin/env bash
# The browser page's tests (examples/web) in a real headless Chromium, as CI runs them:
#
#   bash examples/web/scripts/ci-browser.sh     # after `npm ci` (which builds the packages)
#
# 1. Installs Debian's `chromium` with apt-get when `command -v chromium` finds none (apt-get
#    update first; about 1-2 min, nothing when present). playwright-core drives that binary and
#    downloads no browser of its own.
# 2. Runs examples/web's vitest project: the page's pure parts in Node, then the page in
#    Chromium — it builds the page, loads an exported tiny checkpoint and fixture models, drops
#    an image, compares the score map read back from the page with Node's (tfjs; NumPy for the
#    fixtures), and writes a screenshot to artifacts/web-screenshot.png (keep it as a CI artifact).
#
# Without apt-get, root (or passwordless sudo) or a reachable mirror, Chromium cannot be
# installed: this prints a loud "BROWSER PAGE NOT TESTED" banner and the page tests skip (exit 0),
# or exits 1 when DENSEHYBRID_REQUIRE_CHROMIUM=1. Tests that ran and failed always exit non-zero.
set -uo pipefail
cd "$(dirname "$0")/../../.."
start=$(date +%s)
require="${DENSEHYBRID_REQUIRE_CHROMIUM:-0}"

banner() {
  echo "" >&2
  echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!" >&2
  echo "!!! BROWSER PAGE NOT TESTED IN CHROMIUM: $1" >&2
  echo "!!! (DENSEHYBRID_REQUIRE_CHROMIUM=1 makes this fatal)" >&2
  echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!" >&2
  if [ "$require" = "1" ]; then exit 1; fi
}

install_chromium() {
  command -v apt-get >/dev/null || { banner "no chromium and no apt-get to install it"; return; }
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    if ! { command -v sudo >/dev/null && sudo -n true 2>/dev/null; }; then
      banner "no chromium, and not root nor passwordless sudo to install it"
      return
    fi
    sudo=(sudo -n)
  fi
  local opts=(-o DPkg::Lock::Timeout=120 -o Acquire::Retries=2 -o Acquire::http::Timeout=20)
  local log
  log=$(mktemp)
  echo "browser: installing chromium (apt-get)"
  if ! timeout 180 "${sudo[@]}" apt-get "${opts[@]}" update -qq >"$log" 2>&1; then
    tail -5 "$log" >&2
    banner "apt-get update failed (see above)"
  elif ! timeout 420 "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get "${opts[@]}" \
    install -y -qq --no-install-recommends chromium >"$log" 2>&1; then
    tail -5 "$log" >&2
    banner "apt-get install chromium failed (see above)"
  else
    echo "browser: chromium installed ($(( $(date +%s) - start ))s)"
  fi
  rm -f "$log"
}

if [ -z "${CHROMIUM_PATH:-}" ] && ! command -v chromium >/dev/null; then install_chromium; fi
if [ -n "${CHROMIUM_PATH:-}" ]; then echo "browser: CHROMIUM_PATH=$CHROMIUM_PATH"
elif command -v chromium >/dev/null; then echo "browser: $(chromium --version 2>/dev/null | head -1)"; fi

npx vitest run --config examples/web/vitest.config.ts
status=$?
[ -f artifacts/web-screenshot.png ] && echo "browser: screenshot artifacts/web-screenshot.png"
exit "$status"
