"""Plan vs actual (the full roll-up arrives with its own work)."""

from __future__ import annotations

from datetime import date

import polars as pl

from crm_core.access import Actor, owner_scope
from crm_core.db import Database


def rep_month_attainment(db: Database, actor: Actor, month: date) -> pl.DataFrame:
    """Won amount against each rep's monthly won-amount target for `month`."""
    scope, sp = owner_scope(actor, "t.owner_id")
    return db.query(
        f"""
        SELECT u.display_name AS owner, t.value AS target,
               coalesce((SELECT sum(o.amount) FROM opportunities o
                         WHERE o.owner_id = t.owner_id AND o.status = 'won'
                           AND o.closed_at >= t.period_start
                           AND o.closed_at < t.period_start + INTERVAL 1 MONTH), 0) AS actual
        FROM targets t JOIN users u ON u.id = t.owner_id
        WHERE t.grain = 'month' AND t.metric = 'won_amount' AND t.period_start = ? AND {scope}
        ORDER BY u.display_name
        """,
        [date(month.year, month.month, 1), *sp],
    )
