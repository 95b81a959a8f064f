"""Bringing every derived summary up to date in one call.

Each summary (plan facts, the account value summary, the per-deal forecast
facts) already keeps itself current on read: a read first compares cheap
fingerprints of its source tables and recomputes what changed. After a large
import that would make the *next page view* pay for recomputing everything.
`refresh_all` does that work at a moment the caller chooses instead (right
after the import, with its own progress message) and says how long each
summary took, so the import's own time and the summaries' time are reported
apart.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from crm_core.db import Database


def _steps() -> list[tuple[str, Callable[[Database], Any]]]:
    # imported here: the summaries import much of crm_core, and the importer imports this module
    from crm_core import forecast_facts, plans, value_summary

    return [("plan facts", plans.ensure_facts), ("value summary", value_summary.ensure_current),
            ("forecast facts", forecast_facts.ensure_current)]


def refresh_all(db: Database, progress: Callable[[float, str], None] | None = None) -> dict[str, float]:
    """Bring every derived summary up to date; returns {summary: seconds}.

    Cheap when nothing changed (each step compares fingerprints first).
    """
    out: dict[str, float] = {}
    steps = _steps()
    for i, (name, fn) in enumerate(steps):
        if progress:
            progress(i / len(steps), name)
        started = time.perf_counter()
        fn(db)
        out[name] = round(time.perf_counter() - started, 3)
    if progress:
        progress(1.0, "done")
    return out
