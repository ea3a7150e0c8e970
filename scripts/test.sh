#!/usr/bin/env bash
# README command 2: install everything on a fresh machine and run the test suite (GUI tests run under Xvfb,
# started by the tests themselves).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec "${EXPLORER_VENV:-.venv}/bin/python" -m pytest -q "$@"
