#!/usr/bin/env bash
# Shared by demo.sh and test.sh: system packages, then npm packages when the lock file changed.
set -euo pipefail
cd "$(dirname "$0")/.."

bash provisioning/install-deps.sh "$@"

# node-gyp builds gstreamer-superficial against Node's headers; use the installed ones when present
# instead of downloading them.
if [[ -z "${npm_config_nodedir:-}" && -f /usr/include/node/node.h ]]; then
  export npm_config_nodedir=/usr
fi
if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
  npm ci --no-audit --no-fund
fi
