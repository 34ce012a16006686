#!/usr/bin/env bash
# System packages: the libraries MuJoCo needs to render offscreen (EGL / OSMesa), and Chromium with
# its driver for the browser test of the report (tests/experiments/test_report_browser.py, which
# drives /usr/bin/chromium through /usr/bin/chromedriver). Installed with apt when missing;
# skipped quietly where they are already present or apt is unavailable (then rendering tests skip
# and the browser test fails naming this script, unless NRC_SKIP_BROWSER=1).
set -euo pipefail
pkgs=(libegl1 libgl1 libosmesa6 chromium chromium-driver)
missing=()
for p in "${pkgs[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
else
  echo "note: missing system packages ${missing[*]} (offscreen MuJoCo rendering and the" \
    "report's browser test need them)" >&2
fi
