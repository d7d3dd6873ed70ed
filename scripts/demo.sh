#!/usr/bin/env bash
# The demo: a lab fleet of simulated hosts on this machine, end to end, then removed.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec node bin/fleetnet.mjs lab demo "$@"
