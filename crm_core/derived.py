"""Bringing every derived summary up to date in one call.

Each summary (plan facts, the account value summary, the per-deal forecast
facts) already keeps itself current on read: a read first compares cheap
fingerprints of its source tables and recomputes what changed. After a large
import that would make the *next page view* pay for recomputing everything.
`refresh_all` does that work at a moment the caller chooses instead (right
after the import, with its own progress message) and says how long each
summary took, so the import's own time and the summaries' time are reported
apart.

It also owns the dirty-account queue the plan facts and the value summary
share (`plan_facts_and_value_dirty`, migration 003): a save's change notice
becomes one insert there instead of one per summary (each statement of a save
costs ~1 ms at 1M deals). Each summary folds in the rows whose flag it has
not set (`queued_sql`), then sets it (`mark_folded`); a row both have set is
deleted. "Any account" notices stay with each summary's own listener.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from crm_core import hooks
from crm_core.db import Database

# The tables each summary that reads the shared dirty queue derives from.
PLAN_TABLES = ("opportunities", "orders", "payments", "contracts", "accounts")
VALUE_TABLES = ("orders", "payments", "contracts", "activities", "opportunities", "accounts")
_DONE = {"plan": "plan_done", "value": "value_done"}  # summary -> its flag in plan_facts_and_value_dirty


def _queue_listener(table: str) -> hooks.Listener:
    # the flags of a summary that does not derive from `table` start out done
    plan_done, value_done = table not in PLAN_TABLES, table not in VALUE_TABLES

    def queue_accounts(db: Any, account_ids: list[int] | None) -> None:
        """Queue the accounts for every summary in one insert (the save's only dirty mark).

        "Any account" (None) is each summary's own listener's business."""
        if account_ids is None or db.read_only:
            return
        # -1 stands for "deals without an account": the plan facts recompute them on every refresh
        ids = list(account_ids) or [-1]
        flags = [plan_done, value_done or ids == [-1]]
        with db.atomic() as cur:  # joins the save's transaction (see hooks)
            if len(ids) == 1:  # a form save: the plain insert is the cheaper statement
                cur.execute("INSERT INTO plan_facts_and_value_dirty VALUES (?, ?, ?)", [*ids, *flags])
            else:
                cur.execute("INSERT INTO plan_facts_and_value_dirty SELECT unnest(?::BIGINT[]), ?, ?", [ids, *flags])

    queue_accounts.__qualname__ = f"queue_accounts[{table}]"
    return queue_accounts


for _table in sorted(set(PLAN_TABLES) | set(VALUE_TABLES)):
    hooks.on_change(_table)(_queue_listener(_table))


def queued_sql(summary: str) -> str:
    """SELECT of the account ids queued for `summary` ("plan" or "value") and not folded in yet."""
    return f"SELECT account_id FROM plan_facts_and_value_dirty WHERE NOT {_DONE[summary]}"


def mark_folded(cur: Any, summary: str, account_ids: list[int] | None = None) -> None:
    """Inside the summary's refresh transaction: its queued rows (of `account_ids`, None = all) are folded in."""
    done = _DONE[summary]
    if account_ids is None:
        cur.execute(f"UPDATE plan_facts_and_value_dirty SET {done} = true WHERE NOT {done}")
    else:
        cur.execute(f"UPDATE plan_facts_and_value_dirty SET {done} = true WHERE NOT {done} "
                    "AND account_id IN (SELECT unnest(?::BIGINT[]))", [list(account_ids)])
    cur.execute("DELETE FROM plan_facts_and_value_dirty WHERE plan_done AND value_done")


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
