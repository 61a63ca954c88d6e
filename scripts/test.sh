#!/usr/bin/env bash
# The test command: install (including Debian's chromium for the browser tests) and run pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --with-browser
exec .venv/bin/python -m pytest "$@"
