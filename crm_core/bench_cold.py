"""`python -m crm_core.bench_cold DB TODAY SPEC [MEMORY_LIMIT]`: one cold page load, timed.

Run by `crm bench` in a fresh process per page, so nothing is warm: not the
Python imports, not DuckDB's buffer pool, not any in-process cache.
"""

import sys

from crm_core.bench_ops import run_cold

if __name__ == "__main__":
    sys.exit(run_cold(sys.argv[1:]))
