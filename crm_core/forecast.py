"""Funnel and forecast figures (the full forecast arrives with its own work)."""

from __future__ import annotations

import polars as pl

from crm_core.access import Actor, owner_scope
from crm_core.db import Database
from crm_core.filters import PipelineFilter


def stage_funnel(db: Database, actor: Actor, flt: PipelineFilter | None = None) -> pl.DataFrame:
    """Open deals per stage: count and amount, in pipeline order."""
    flt = flt or PipelineFilter()
    scope, sp = owner_scope(actor, "o.owner_id")
    where, wp = flt.where("o")
    return db.query(
        f"""
        SELECT s.position, s.name AS stage, count(o.id) AS deals, coalesce(sum(o.amount), 0) AS amount
        FROM stages s
        LEFT JOIN opportunities o ON o.stage_id = s.id AND o.status = 'open' AND {scope} AND {where}
        WHERE s.active AND NOT s.is_won AND NOT s.is_lost
        GROUP BY s.position, s.name
        ORDER BY s.position
        """,
        [*sp, *wp],
    )
