"""Opportunities: reading the pipeline (writes arrive with the pipeline-entry work)."""

from __future__ import annotations

import polars as pl

from crm_core.access import Actor, owner_scope
from crm_core.db import Database
from crm_core.filters import PipelineFilter


def list_open(db: Database, actor: Actor, flt: PipelineFilter | None = None, *, limit: int = 2000) -> pl.DataFrame:
    """Open opportunities the actor may see, soonest expected close first."""
    flt = flt or PipelineFilter()
    scope, sp = owner_scope(actor, "o.owner_id")
    where, wp = flt.where("o", date_column=None)
    return db.query(
        f"""
        SELECT o.id, o.name, a.name AS account, u.display_name AS owner, s.name AS stage,
               o.amount, coalesce(o.probability, s.probability) AS probability, o.expected_close,
               p.name AS product, o.version
        FROM opportunities o
        JOIN stages s ON s.id = o.stage_id
        LEFT JOIN accounts a ON a.id = o.account_id
        LEFT JOIN users u ON u.id = o.owner_id
        LEFT JOIN products p ON p.id = o.product_id
        WHERE o.status = 'open' AND {scope} AND {where}
        ORDER BY o.expected_close NULLS LAST, o.id
        LIMIT ?
        """,
        [*sp, *wp, limit],
    )
