#!/usr/bin/env bash
# Set up and run every test: lint, unit, integration, AppTest and real-browser
# (headless Debian chromium), then the small benchmark as a smoke run.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh --dev
if [ ! -x /usr/bin/chromium ]; then
  echo "Installing Debian's chromium for the browser tests…"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi
.venv/bin/ruff check .
.venv/bin/python -m pytest -q -p no:cacheprovider "$@"
if [ -f crm_core/bench.py ]; then
  .venv/bin/python -m crm_core bench --scale small --json /tmp/panorama-bench-small.json >/dev/null
  .venv/bin/python -c "import json,sys; d=json.load(open('/tmp/panorama-bench-small.json')); sys.exit(0 if d.get('complete') else 'bench JSON incomplete')"
fi
