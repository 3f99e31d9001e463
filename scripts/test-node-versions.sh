#!/usr/bin/env bash
# Runs the type check, build and whole test suite under the other Node.js majors Spoke supports
# (default: 22 and 24), so that "runs on Node 20, 22 and 24" stays true. Each Node.js comes from the
# npm registry's node-linux-<arch> package, which carries the headers node-gyp needs to build
# gstreamer-superficial. Each runs in a scratch copy of the working tree: its native build must not
# replace the one in ./node_modules. Needs what scripts/test.sh installs (run that first).
#   scripts/test-node-versions.sh [major ...]
set -euo pipefail
cd "$(dirname "$0")/.."
(($# > 0)) || set -- 22 24

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
package="node-linux-$(node -p process.arch)"

copy_working_tree() {
  # Tracked and untracked files, not ignored ones (node_modules, dist), and not files deleted locally.
  git ls-files -z --cached --others --exclude-standard |
    while IFS= read -r -d '' file; do [[ -e "$file" ]] && printf '%s\0' "$file"; done |
    tar --null -T - -cf - | tar -xf - -C "$1"
}

for major in "$@"; do
  echo "spoke: testing under Node.js $major ($package from the npm registry)" >&2
  node_dir="$scratch/node-$major"
  tree="$scratch/tree-$major"
  mkdir -p "$node_dir" "$tree"
  tarball=$(cd "$scratch" && npm pack --silent "$package@$major")
  tar -xzf "$scratch/$tarball" -C "$node_dir" --strip-components=1
  copy_working_tree "$tree"
  (
    cd "$tree"
    export PATH="$node_dir/bin:$PATH" npm_config_nodedir="$node_dir"
    [[ $(node -p 'process.versions.node.split(".")[0]') == "$major" ]] || { echo "spoke: Node.js $major is not first on PATH" >&2; exit 1; }
    # As on a box: npm packages, our patches to the GStreamer binding, then the binding built and loaded.
    bash scripts/setup.sh --tests
    npm run --silent typecheck
    npm run --silent build
    bash scripts/run-vitest.sh
  )
done
