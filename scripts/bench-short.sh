#!/usr/bin/env bash
# Every benchmark in its short form, one after the other, as CI runs them: each prints its figures and
# asserts none of them (figures on a shared CI machine say little; the point is that every bench still
# runs). The full runs are one command each, listed in bench/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
npm run --silent build
run() {
  echo "spoke: bench $*" >&2
  npx tsx "$@"
}
run bench/forward-cpu.ts --seconds 4
run bench/stacks.ts --rounds 1 --seconds 4 --warmup 2
run bench/feed-recovery.ts --kills 2 --settle 3 --seconds 3
run bench/start-time.ts --runs 2
run bench/hub-restart.ts --runs 1
# Needs root for its two network namespaces, as CI has.
run bench/bottleneck.ts --short
