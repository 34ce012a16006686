#!/usr/bin/env bash
# System libraries MuJoCo needs to render offscreen (EGL / OSMesa). Installed with apt when missing;
# skipped quietly where they are already present or apt is unavailable (then rendering tests skip).
set -euo pipefail
pkgs=(libegl1 libgl1 libosmesa6)
missing=()
for p in "${pkgs[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
else
  echo "note: missing system packages ${missing[*]} (offscreen MuJoCo rendering needs them)" >&2
fi
