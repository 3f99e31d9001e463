#!/usr/bin/env bash
# Installs the system packages Spoke needs on Debian/Ubuntu, skipping what is already there.
#   provisioning/install-deps.sh            a box: GStreamer, the build tools, Node.js 20 or later, and
#                                           v4l2-ctl and arecord, which `spoke devices` reads
#   provisioning/install-deps.sh --demo     also Mosquitto, the broker the demo starts locally
#   provisioning/install-deps.sh --tests    also Mosquitto, Chromium, Janus and coturn (independent WebRTC
#                                           hub and TURN server), which the tests drive
# A box reports to the fleet's broker: it gets no broker of its own.
set -euo pipefail

packages=(
  gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad
  gstreamer1.0-plugins-ugly gstreamer1.0-libav gstreamer1.0-x
  libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev pkg-config g++ make python3 patch
  v4l-utils alsa-utils
)
case "${1:-}" in
  "") ;;
  --demo) packages+=(mosquitto) ;;
  --tests) packages+=(mosquitto chromium janus coturn openssl) ;;
  *) echo "usage: $0 [--demo|--tests]" >&2; exit 2 ;;
esac
command -v node >/dev/null 2>&1 || packages+=(nodejs npm)

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done

sudo=""
[[ $(id -u) -ne 0 ]] && sudo="sudo"
if ((${#missing[@]} > 0)); then
  echo "spoke: installing ${missing[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

node_major() { node -p 'process.versions.node.split(".")[0]'; }
if (($(node_major) < 20)); then
  # Debian 12 and Ubuntu 24.04 ship Node.js 18: take Node.js 20 from the npm registry instead, and npm
  # with it. Both land in /usr/local/bin, ahead of /usr/bin on the PATH of shells and of systemd units.
  # npm too, because the distribution's npm builds native bindings linked to its own Node.js library
  # (libnode.so.108), which crashes when loaded into another Node.js.
  echo "spoke: Node.js $(node --version) is too old; installing Node.js 20 and npm 10 from the npm registry" >&2
  $sudo npm install --global --no-audit --no-fund node@20 >/dev/null
  hash -r
  $sudo npm install --global --no-audit --no-fund npm@10 >/dev/null
  hash -r
  if (($(node_major) < 20)); then
    echo "spoke: still $(node --version) on PATH; put $(npm prefix --global)/bin first." >&2
    exit 1
  fi
fi
