#!/usr/bin/env bash
# Runs fleetnet's whole test suite (what CI runs), after installing what it needs.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec node scripts/run-tests.mjs "$@"
