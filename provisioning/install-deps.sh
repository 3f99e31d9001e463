#!/usr/bin/env bash
# Installs the system packages Spoke needs on Debian/Ubuntu, skipping what is already there.
#   provisioning/install-deps.sh            runtime + build: GStreamer, Mosquitto (demo broker), Node.js
#   provisioning/install-deps.sh --tests    also Chromium, the browser the end-to-end tests drive
set -euo pipefail

packages=(
  gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad
  gstreamer1.0-plugins-ugly gstreamer1.0-libav gstreamer1.0-x
  libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev pkg-config g++ make python3
  mosquitto
)
[[ "${1:-}" == "--tests" ]] && packages+=(chromium)
command -v node >/dev/null 2>&1 || packages+=(nodejs npm)

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done

if ((${#missing[@]} > 0)); then
  sudo=""
  [[ $(id -u) -ne 0 ]] && sudo="sudo"
  echo "spoke: installing ${missing[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

node_major() { node -p 'process.versions.node.split(".")[0]'; }
if (($(node_major) < 20)); then
  # Debian 12 and Ubuntu 24.04 ship Node.js 18: take Node.js 20 from the npm registry instead.
  echo "spoke: Node.js $(node --version) is too old; installing Node.js 20 from the npm registry" >&2
  sudo=""
  [[ $(id -u) -ne 0 ]] && sudo="sudo"
  $sudo npm install --global --no-audit --no-fund node@20 >/dev/null
  hash -r
  if (($(node_major) < 20)); then
    echo "spoke: still $(node --version) on PATH; put $(npm prefix --global)/bin first." >&2
    exit 1
  fi
fi
