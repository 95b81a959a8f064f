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

One aggregate pass folds the deals to a few rows per group (status x closed
in the period); the counts, averages and the total row are derived from those.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from crm_core.access import Actor
from crm_core.db import Database
from crm_core.filters import PipelineFilter
from crm_core.forecast_common import group_parts, labelled, scope_where
from crm_core.forecast_facts import ensure_current


def velocity(db: Database, actor: Actor, flt: PipelineFilter | None = None, *, by: str | None = None) -> pl.DataFrame:
    """One row per group (when `by`) plus a total row (`is_total`), with the figures above."""
    flt = flt or PipelineFilter()
    facts = ensure_current(db)
    select_group, group_by = group_parts(by)
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
    sums = ["open_deals", "open_amount", "closed_deals", "won_deals", "won_amount", "cycle_days"]
    # Fold the deals to (group, status, closed in period) first: a few rows per group.
    sql = f"""
        SELECT {select_group}o.status, coalesce({in_period}, FALSE) AS in_period, count(*) AS n,
               sum(o.amount) AS amount,
               sum(date_diff('day', o.created_at::DATE, o.closed_at)) FILTER (WHERE o.status = 'won') AS cycle
        FROM {facts} o
        WHERE {where}
        GROUP BY {group_by + ', ' if by else ''}o.status, in_period
    """
    folded = db.query(labelled(by, sql), [*pp, *wp])
    keys = ["group_id", by] if by else []
    status, inp = pl.col("status"), pl.col("in_period")
    closed_in = status.is_in(["won", "lost"]) & inp
    won_in = (status == "won") & inp
    aggs = [
        pl.col("n").filter(status == "open").sum().alias("open_deals"),
        pl.col("amount").filter(status == "open").sum().alias("open_amount"),
        pl.col("n").filter(closed_in).sum().alias("closed_deals"),
        pl.col("n").filter(won_in).sum().alias("won_deals"),
        pl.col("amount").filter(won_in).sum().alias("won_amount"),
        pl.col("cycle").filter(won_in).sum().alias("cycle_days"),
    ]
    if folded.height == 0:
        folded = pl.DataFrame(schema={**({"group_id": pl.Utf8, by: pl.Utf8} if by else {}), "status": pl.Utf8,
                                      "in_period": pl.Boolean, "n": pl.Int64, "amount": pl.Decimal(18, 2),
                                      "cycle": pl.Int64})
    df = folded.group_by(keys, maintain_order=True).agg(aggs) if by else folded.select(aggs)
    df = df.with_columns(pl.col("open_amount", "won_amount").cast(pl.Decimal(18, 2)).fill_null(0),
                         pl.col("cycle_days").cast(pl.Int64).fill_null(0))
    # The total is summed from the groups (a handful of rows), not a second pass over the deals.
    total = df.select([pl.col(c).sum() for c in sums]).with_columns(is_total=pl.lit(True))
    if by:
        df = pl.concat([df.with_columns(pl.col("group_id", by).cast(pl.Utf8), is_total=pl.lit(False)),
                        total.with_columns(pl.lit(None, pl.Utf8).alias("group_id"), pl.lit(None, pl.Utf8).alias(by))],
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
        df = df.sort(["is_total", by, "group_id"], nulls_last=True)
    cols = [c for c in ("group_id", by) if by] + [
        "is_total", "open_deals", "open_amount", "closed_deals", "won_deals", "won_amount", "win_rate",
        "avg_deal_size", "avg_cycle_days", "velocity"]
    return df.select(cols)
