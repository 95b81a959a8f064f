#!/usr/bin/env bash
# Set up and run the app. The demo database (data/crm.duckdb) is created on first start.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
exec .venv/bin/streamlit run app.py --server.address "${HOST:-127.0.0.1}" --server.port "${PORT:-8501}" "$@"
