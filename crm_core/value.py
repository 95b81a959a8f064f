"""Customer value (the full ranking arrives with its own work)."""

from __future__ import annotations

import polars as pl

from crm_core.access import Actor, owner_scope
from crm_core.db import Database


def top_customers(db: Database, actor: Actor, *, limit: int = 50) -> pl.DataFrame:
    """Customers by order revenue, with their share of the total."""
    scope, sp = owner_scope(actor, "a.owner_id")
    return db.query(
        f"""
        SELECT a.id, a.name, a.industry, sum(o.amount) AS revenue, count(*) AS order_lines,
               max(o.order_date) AS last_order,
               sum(o.amount) / sum(sum(o.amount)) OVER () AS share
        FROM orders o JOIN accounts a ON a.id = o.account_id
        WHERE {scope}
        GROUP BY a.id, a.name, a.industry
        ORDER BY revenue DESC
        LIMIT ?
        """,
        [*sp, limit],
    )
