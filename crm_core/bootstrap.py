"""Opening the app's database: created with demo data when the file is missing.

Daily start-of-day jobs (returning neglected accounts to the pool, ...) are
registered in `DAILY_JOBS` by the modules that own them and run once per day:
the app runs them after its first page of the day is drawn
(`ui.session.run_daily_jobs_after_draw`), so the sign-in page does not wait
for them.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import date
from typing import Any

from crm_core import demo, settings
from crm_core.db import Database, default_path

DAILY_JOBS: list[Callable[[Database], Any]] = []


def _pool_sweep(db: Database) -> Any:
    from crm_core import pool

    return pool.sweep(db)


def _lifecycle_update(db: Database) -> Any:
    from crm_core import lifecycle

    return lifecycle.update_all(db)


def _account_match_keys(db: Database) -> Any:
    from crm_core import accounts

    return accounts.fill_match_keys(db)


DAILY_JOBS += [_account_match_keys, _pool_sweep, _lifecycle_update]


def open_app_database(path: str | None = None, *, demo_if_missing: bool = True) -> Database:
    path = path or default_path()
    missing = path != ":memory:" and not os.path.exists(path)
    db = Database(path)
    if missing and demo_if_missing and db.is_empty():
        demo.generate(db)
    return db


def run_daily_jobs(db: Database, today: date | None = None) -> bool:
    """Run the registered daily jobs once per calendar day. True if they ran now."""
    from crm_core.access import Actor

    today = today or date.today()
    last = settings.get(db, "system.daily_jobs_ran_on")
    if last == today.isoformat():
        return False
    for job in DAILY_JOBS:
        job(db)
    settings.put(db, Actor.system(), "system.daily_jobs_ran_on", today.isoformat())
    return True
