"""Slippage (expected close dates moved later) and stale deals (no recent activity).

Slippage reads close_date_history: a slip is a move whose new date is later
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

_SLIPS = """
    SELECT opportunity_id, count(*) AS slips,
           sum(date_diff('day', old_date, new_date)) AS slip_days,
           min(old_date) AS first_date
    FROM close_date_history
    WHERE new_date > old_date
    GROUP BY opportunity_id
"""


def slippage(db: Database, actor: Actor, flt: PipelineFilter | None = None, *, by: str | None = None) -> pl.DataFrame:
    """One row per group (or one row in all) with the slippage figures above."""
    flt = flt or PipelineFilter()
    select_group, group_by = group_parts(by)
    where, wp = scope_where(actor, flt, date_column="created_at")
    sql = f"""
        WITH m AS ({_SLIPS})
        SELECT {select_group}count(*) AS deals, count(m.opportunity_id) AS slipped_deals,
               coalesce(sum(m.slips), 0)::BIGINT AS slips, coalesce(sum(m.slip_days), 0)::BIGINT AS slip_days
        FROM opportunities o
        LEFT JOIN m ON m.opportunity_id = o.id
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
    where, wp = scope_where(actor, flt, date_column="created_at")
    return db.query(
        f"""
        WITH m AS ({_SLIPS})
        SELECT o.id, o.name, u.display_name AS owner, s.name AS stage, o.status, o.amount,
               m.first_date AS first_expected_close, o.expected_close, m.slips, m.slip_days
        FROM m
        JOIN opportunities o ON o.id = m.opportunity_id
        JOIN stages s ON s.id = o.stage_id
        LEFT JOIN users u ON u.id = o.owner_id
        WHERE {where}
        ORDER BY m.slip_days DESC, o.id
        LIMIT ?
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
    where, wp = scope_where(actor, flt)
    return db.query(
        f"""
        WITH idle AS (
            SELECT o.*, coalesce(o.last_activity_at, o.stage_entered_at, o.created_at)::DATE AS last_touch
            FROM opportunities o
            WHERE o.status = 'open' AND {where}
              AND coalesce(o.last_activity_at, o.stage_entered_at, o.created_at)::DATE <= ?
        )
        SELECT i.id, i.name, u.display_name AS owner, s.name AS stage, i.amount, i.expected_close,
               i.last_touch, date_diff('day', i.last_touch, ?::DATE) AS idle_days,
               count(*) OVER () AS total_deals, sum(i.amount) OVER () AS total_amount
        FROM idle i
        JOIN stages s ON s.id = i.stage_id
        LEFT JOIN users u ON u.id = i.owner_id
        ORDER BY idle_days DESC, i.id
        LIMIT ?
        """,
        [*wp, today - timedelta(days=idle_days), today, limit],
    )
