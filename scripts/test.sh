#!/usr/bin/env bash
# The whole test suite: lint and format, type check, build, then every unit, integration and browser test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --tests

npm run --silent check
npm run --silent typecheck
npm run --silent build

report=$(mktemp)
status=0
npx vitest run --reporter=default --reporter=json --outputFile="$report" || status=$?
node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests} skipped`);
  if (r.numTotalTests === 0) process.exitCode = 1;
' "$report" || status=1
rm -f "$report"
exit "$status"
