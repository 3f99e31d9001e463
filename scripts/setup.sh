#!/usr/bin/env bash
# Shared by demo.sh and test.sh: system packages, then npm packages when the lock file changed, then a
# check that the native GStreamer binding loads in this Node.js.
#   scripts/setup.sh [--demo|--tests]
set -euo pipefail
cd "$(dirname "$0")/.."

bash provisioning/install-deps.sh "$@"
hash -r

# node-gyp builds gstreamer-superficial against Node's headers: those of the Node.js that runs here,
# found beside it, instead of downloading them (see scripts/node-headers-dir.mjs).
if [[ -z "${npm_config_nodedir:-}" ]]; then
  headers=$(node scripts/node-headers-dir.mjs)
  [[ -n "$headers" ]] && export npm_config_nodedir="$headers"
fi
if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
  npm ci --no-audit --no-fund
fi

binding_loads() { node -e 'require("gstreamer-superficial")' 2>/dev/null; }
if ! binding_loads; then
  # Built for another Node.js (it was upgraded since `npm ci`, say): build it again for this one.
  echo "spoke: rebuilding gstreamer-superficial for Node.js $(node --version)" >&2
  npm rebuild gstreamer-superficial >/dev/null
  if ! binding_loads; then
    node -e 'require("gstreamer-superficial")' || true
    echo "spoke: the GStreamer binding does not load in Node.js $(node --version) (see above)." >&2
    exit 1
  fi
fi
