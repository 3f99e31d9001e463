#!/usr/bin/env bash
# Runs every vitest project and ends with one line a human or CI can read: "N passed, N failed, N skipped".
# An empty run fails: a suite that found no tests has not passed.
set -euo pipefail
cd "$(dirname "$0")/.."

report=$(mktemp)
trap 'rm -f "$report"' EXIT
status=0
npx vitest run --reporter=default --reporter=json --outputFile="$report" "$@" || status=$?
node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests} skipped (Node.js ${process.version})`);
  if (r.numTotalTests === 0) process.exitCode = 1;
' "$report" || status=1
exit "$status"
