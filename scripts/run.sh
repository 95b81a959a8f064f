#!/usr/bin/env bash
# Set up and run the app. The demo database (data/crm.duckdb) is created on first start.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
# `streamlit run`, minus Streamlit's scan of installed packages for components (see ui/launch.py)
exec .venv/bin/python -m ui.launch run app.py --server.address "${HOST:-127.0.0.1}" --server.port "${PORT:-8501}" "$@"
