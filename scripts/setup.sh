#!/usr/bin/env bash
# Shared by demo.sh, test.sh and test-node-versions.sh: system packages, then npm packages when the lock
# file changed, our patches to the GStreamer binding, then a check that the binding loads in this Node.js.
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

# gstreamer-superficial carries patches of ours (provisioning/patches; why in docs/dependencies.md). Each
# applies once to the copy npm installed; the binding is then built again from the patched sources.
binding=node_modules/gstreamer-superficial
built=$binding/build/Release/gstreamer-superficial.node
version=$(node -p "require('./$binding/package.json').version")
patches=(provisioning/patches/gstreamer-superficial-"$version"-*.patch)
if [[ ! -f ${patches[0]} ]]; then
  echo "spoke: provisioning/patches has no patch for gstreamer-superficial $version: port them (docs/dependencies.md)." >&2
  exit 1
fi
for file in "${patches[@]}"; do
  patch -d "$binding" -p1 -R -f -s --dry-run <"$file" >/dev/null && continue # applied already
  if ! patch -d "$binding" -p1 -N -f -s --dry-run <"$file" >/dev/null; then
    echo "spoke: $file does not apply to gstreamer-superficial $version." >&2
    exit 1
  fi
  echo "spoke: patching gstreamer-superficial ($(basename "$file"))" >&2
  patch -d "$binding" -p1 -N -f -s <"$file"
done
# Sources newer than the build: patched just now, or by an earlier run that stopped before building.
if [[ ! -f $built || -n $(find "$binding" -maxdepth 1 \( -name '*.cpp' -o -name '*.h' \) -newer "$built") ]]; then
  echo "spoke: building gstreamer-superficial from its patched sources" >&2
  npm rebuild gstreamer-superficial >/dev/null
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
