#!/usr/bin/env bash
# The whole test suite: lint and format, type check, build, then every unit, integration and browser test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --tests

npm run --silent check
npm run --silent typecheck
npm run --silent build
bash scripts/run-vitest.sh
