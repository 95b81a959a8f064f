"""Slippage (expected close dates moved later) and stale deals (no recent activity).

Slippage reads close_date_history (through the per-deal facts): a slip is a move whose new date is later
than the old one; its size is the days between them. Over the funnel cohort
(deals created in the filter's period, plus its other filters), per group:
deals, slipped_deals (at least one slip), slip_rate = slipped_deals / deals,
slips (count of moves later), slip_days (their total), avg_slip_days =
slip_days / slips.

A stale deal is an open deal (filters other than the period) whose last
activity (else the day it entered its stage, else its creation) is at least
`idle_days` before today.
"""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl

from crm_core.access import Actor
from crm_core.db import Database
from crm_core.errors import ValidationError
from crm_core.filters import PipelineFilter
from crm_core.forecast_common import group_parts, labelled, scope_where
from crm_core.forecast_facts import ensure_current


def slippage(db: Database, actor: Actor, flt: PipelineFilter | None = None, *, by: str | None = None) -> pl.DataFrame:
    """One row per group (or one row in all) with the slippage figures above."""
    flt = flt or PipelineFilter()
    facts = ensure_current(db)
    select_group, group_by = group_parts(by)
    where, wp = scope_where(actor, flt, date_column="created_at")
    sql = f"""
        SELECT {select_group}count(*) AS deals, count(*) FILTER (WHERE o.slips > 0) AS slipped_deals,
               coalesce(sum(o.slips), 0)::BIGINT AS slips, coalesce(sum(o.slip_days), 0)::BIGINT AS slip_days
        FROM {facts} o
        WHERE {where}
        {'GROUP BY ' + group_by if by else ''}
    """
    df = db.query(labelled(by, sql, "g.slip_days DESC, g.group_id"), wp)
    return df.with_columns(
        slip_rate=pl.when(pl.col("deals") > 0).then((pl.col("slipped_deals") / pl.col("deals")).round(4)),
        avg_slip_days=pl.when(pl.col("slips") > 0).then((pl.col("slip_days") / pl.col("slips")).round(2)),
    )


def slipped_deals(db: Database, actor: Actor, flt: PipelineFilter | None = None, *, limit: int = 200) -> pl.DataFrame:
    """The cohort's deals that slipped, most days slipped first."""
    flt = flt or PipelineFilter()
    facts = ensure_current(db)
    where, wp = scope_where(actor, flt, date_column="created_at")
    return db.query(
        f"""
        WITH top AS (
            SELECT o.id, o.stage_id, o.owner_id, o.status, o.amount, o.first_close, o.expected_close,
                   o.slips, o.slip_days
            FROM {facts} o
            WHERE o.slips > 0 AND {where}
            ORDER BY o.slip_days DESC, o.id
            LIMIT ?
        )
        SELECT t.id, op.name, u.display_name AS owner, s.name AS stage, t.status, t.amount,
               t.first_close AS first_expected_close, t.expected_close, t.slips, t.slip_days
        FROM top t
        JOIN opportunities op ON op.id = t.id
        JOIN stages s ON s.id = t.stage_id
        LEFT JOIN users u ON u.id = t.owner_id
        ORDER BY t.slip_days DESC, t.id
        """,
        [*wp, limit],
    )


def stale_deals(db: Database, actor: Actor, flt: PipelineFilter | None = None, *, idle_days: int = 30,
                today: date | None = None, limit: int = 200) -> pl.DataFrame:
    """Open deals idle for at least `idle_days`, longest idle first; `total_deals` and
    `total_amount` carry the count and amount of all of them (the list is capped)."""
    if idle_days < 1:
        raise ValidationError(f"idle days must be at least 1, got {idle_days}", field="idle_days", value=idle_days)
    flt = flt or PipelineFilter()
    today = today or date.today()
    facts = ensure_current(db)
    where, wp = scope_where(actor, flt)
    return db.query(
        f"""
        WITH idle AS (
            SELECT o.id, o.stage_id, o.owner_id, o.amount, o.expected_close, o.last_touch,
                   count(*) OVER () AS total_deals, sum(o.amount) OVER () AS total_amount
            FROM {facts} o
            WHERE o.status = 'open' AND o.last_touch <= ? AND {where}
            ORDER BY o.last_touch, o.id
            LIMIT ?
        )
        SELECT i.id, op.name, u.display_name AS owner, s.name AS stage, i.amount, i.expected_close,
               i.last_touch, date_diff('day', i.last_touch, ?::DATE) AS idle_days, i.total_deals, i.total_amount
        FROM idle i
        JOIN opportunities op ON op.id = i.id
        JOIN stages s ON s.id = i.stage_id
        LEFT JOIN users u ON u.id = i.owner_id
        ORDER BY idle_days DESC, i.id
        """,
        [today - timedelta(days=idle_days), *wp, limit, today],
    )
