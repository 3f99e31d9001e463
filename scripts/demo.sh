#!/usr/bin/env bash
# The demo: the agent on a test picture, a local Mosquitto and the dev hub page on http://localhost:8080/.
# Press Enter in this terminal to start or end the session. Options go to `spoke demo` (e.g. --port 9090).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --demo
npm run --silent build
exec node dist/agent/cli.js demo "$@"
