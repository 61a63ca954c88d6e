#!/usr/bin/env bash
# One command for a new user: install into .venv and solve the shipped Texas scenario.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/territory run scenarios/texas_counties.yaml "$@"
