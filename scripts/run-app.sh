#!/usr/bin/env bash
# README command 1: install everything on a fresh machine and open the explorer on the bundled generator.
# Without a display (a server, CI) it starts a virtual one.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if [ -z "${DISPLAY:-}" ]; then
  exec xvfb-run -a -s "-screen 0 1600x1000x24" "${EXPLORER_VENV:-.venv}/bin/explorer" gui "$@"
fi
exec "${EXPLORER_VENV:-.venv}/bin/explorer" gui "$@"
