"""A tiny hand-made sales team for the pipeline tests (no tests here).

Departments: 1 East Sales, 2 West Sales. Users: 1 admin; 2 boss1 (manager,
dept 1); 3 ann, 4 bob (reps, dept 1); 5 cat (rep, dept 2); 6 boss2 (manager,
dept 2); 7 gone (inactive rep, dept 1). Stages as in the demo (1 Lead .. 5
Negotiation, 6 Won, 7 Lost); product 1.
"""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from datetime import datetime
from pathlib import Path

from crm_core import demo
from crm_core.access import load_actor
from crm_core.db import Database

NOW = datetime(2026, 6, 30, 10, 0)


def seed(db) -> None:
    with db.atomic() as cur:
        cur.execute("INSERT INTO departments (id, name, region) VALUES (1, 'East Sales', 'East'), (2, 'West Sales', 'West')")
        cur.execute(
            """INSERT INTO users (id, login, display_name, role, department_id, region, manager_id, active) VALUES
            (1, 'admin', 'Ada Admin', 'admin', NULL, NULL, NULL, TRUE),
            (2, 'boss1', 'Boss One', 'manager', 1, 'East', 1, TRUE),
            (3, 'ann', 'Ann Rep', 'rep', 1, 'East', 2, TRUE),
            (4, 'bob', 'Bob Rep', 'rep', 1, 'East', 2, TRUE),
            (5, 'cat', 'Cat Rep', 'rep', 2, 'West', 6, TRUE),
            (6, 'boss2', 'Boss Two', 'manager', 2, 'West', 1, TRUE),
            (7, 'gone', 'Gone Rep', 'rep', 1, 'East', 2, FALSE)""")
        for i, (n, p, c, w, lo, pb) in enumerate(demo.STAGES, start=1):
            cur.execute("INSERT INTO stages (id, name, position, probability, forecast_category, is_won, is_lost, "
                        "playbook) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", [i, n, i, p, c, w, lo, pb])
        cur.execute("INSERT INTO products (id, name, list_price) VALUES (1, 'Widget', 100)")


def actor(db, login):
    return load_actor(db, login)



@functools.cache
def _template() -> Path:
    """The seeded, migrated database file, built once per test process."""
    folder = Path(tempfile.mkdtemp(prefix="pipeline-team-"))
    atexit.register(shutil.rmtree, folder, True)
    db = Database(folder / "team.duckdb")
    seed(db)
    db.close()
    return folder / "team.duckdb"


def fresh(tmp_path: Path) -> Database:
    """A fresh copy of the hand-made team for one test (copying beats migrating each time)."""
    path = tmp_path / "team.duckdb"
    shutil.copy(_template(), path)
    return Database(path)
