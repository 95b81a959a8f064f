"""Win rate, deal size, sales cycle and sales velocity, overall and by rep or segment.

Over the deals the actor may see that match the filter's owner, department,
region, product and source:

- open_deals: deals open now;
- closed_deals / won_deals: deals won or lost / won with a close date in the
  filter's period (all time when no period);
- win_rate = won_deals / closed_deals (by count);
- avg_deal_size = mean amount of those won deals;
- avg_cycle_days = mean days from creation to close of those won deals;
- velocity = open_deals x win_rate x avg_deal_size / avg_cycle_days: the money
  the current pipeline is expected to bring in per day.

One aggregate pass of sums and counts; averages and the total row are derived
from those few rows.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from crm_core.access import Actor
from crm_core.db import Database
from crm_core.filters import PipelineFilter
from crm_core.forecast_common import group_parts, scope_where
from crm_core.forecast_facts import ensure_current


def velocity(db: Database, actor: Actor, flt: PipelineFilter | None = None, *, by: str | None = None) -> pl.DataFrame:
    """One row per group (when `by`) plus a total row (`is_total`), with the figures above."""
    flt = flt or PipelineFilter()
    facts = ensure_current(db)
    select_group, group_by, joins = group_parts(by)
    where, wp = scope_where(actor, flt)
    period: list[str] = []
    pp: list[Any] = []
    if flt.date_from is not None:
        period.append("o.closed_at >= ?")
        pp.append(flt.date_from)
    if flt.date_to is not None:
        period.append("o.closed_at <= ?")
        pp.append(flt.date_to)
    in_period = " AND ".join(period) or "TRUE"
    won = f"o.status = 'won' AND {in_period}"
    sums = ["open_deals", "open_amount", "closed_deals", "won_deals", "won_amount", "cycle_days"]
    df = db.query(
        f"""
        SELECT {select_group}
               count(*) FILTER (WHERE o.status = 'open') AS open_deals,
               coalesce(sum(o.amount) FILTER (WHERE o.status = 'open'), 0) AS open_amount,
               count(*) FILTER (WHERE o.status IN ('won', 'lost') AND {in_period}) AS closed_deals,
               count(*) FILTER (WHERE {won}) AS won_deals,
               coalesce(sum(o.amount) FILTER (WHERE {won}), 0) AS won_amount,
               coalesce(sum(date_diff('day', o.created_at::DATE, o.closed_at)) FILTER (WHERE {won}), 0) AS cycle_days
        FROM {facts} o
        {joins}
        WHERE {where}
        {'GROUP BY ' + group_by if by else ''}
        """,
        [*pp, *pp, *pp, *pp, *wp],
    )
    # The total is summed from the groups (a handful of rows), not a second pass over the deals.
    total = df.select([pl.col(c).sum() for c in sums]).with_columns(is_total=pl.lit(True))
    if by:
        df = pl.concat([df.with_columns(is_total=pl.lit(False)),
                        total.with_columns(pl.lit(None, pl.Int64).alias("group_id"), pl.lit(None, pl.Utf8).alias(by))],
                       how="diagonal_relaxed")
    else:
        df = total
    df = df.with_columns(
        win_rate=pl.when(pl.col("closed_deals") > 0).then(pl.col("won_deals") / pl.col("closed_deals")),
        avg_deal_size=pl.when(pl.col("won_deals") > 0)
        .then(pl.col("won_amount").cast(pl.Float64) / pl.col("won_deals")),
        avg_cycle_days=pl.when(pl.col("won_deals") > 0)
        .then(pl.col("cycle_days").cast(pl.Float64) / pl.col("won_deals")),
    )
    df = df.with_columns(
        velocity=pl.when(pl.col("avg_cycle_days") > 0)
        .then(pl.col("open_deals") * pl.col("win_rate") * pl.col("avg_deal_size") / pl.col("avg_cycle_days")),
    ).with_columns(pl.col("avg_deal_size", "avg_cycle_days", "velocity").round(2))
    if by:
        df = df.with_columns(pl.col("group_id").cast(pl.Utf8), pl.col(by).cast(pl.Utf8))
        df = df.sort(["is_total", by], nulls_last=True)
    cols = [c for c in ("group_id", by) if by] + [
        "is_total", "open_deals", "open_amount", "closed_deals", "won_deals", "won_amount", "win_rate",
        "avg_deal_size", "avg_cycle_days", "velocity"]
    return df.select(cols)
