"""Forecast snapshots and forecast accuracy.

`take_snapshot` stores the forecast as it stands (no filters: the actor's whole
visible book), per owner, close month and category, for this month and the
next eleven, with the probability method used. `crm forecast snapshot` runs it
for cron as the system actor; the page's button runs it as the signed-in user.

`accuracy` compares, for each month that has snapshots, what was forecast
`weeks_before` weeks before the month's last day with what was won in that
month, per rep: for each rep the latest snapshot taken on or before that
cutoff day is used; forecast = its closed + weighted open amount for the
month; error = forecast - actual; error_pct = error / actual.
"""

from __future__ import annotations

from datetime import date, datetime

import polars as pl

from crm_core import audit
from crm_core.access import Actor, owner_scope, require_role
from crm_core.db import Database
from crm_core.errors import ValidationError
from crm_core.filters import PipelineFilter
from crm_core.forecast_common import add_in, add_months, month_start
from crm_core.forecast_weighted import category_rows, check_method, closed_combos, probabilities, window

SNAPSHOT_MONTHS = 12


def take_snapshot(db: Database, actor: Actor, *, method: str = "stage", today: date | None = None,
                  taken_at: datetime | None = None) -> int:
    """Store the current forecast; returns the number of rows written."""
    require_role(actor, ("admin", "manager", "rep"), "take forecast snapshots")
    check_method(method)
    today = today or date.today()
    taken_at = taken_at or datetime.now().replace(microsecond=0)
    first, end = window(today, None, SNAPSHOT_MONTHS)
    combos = closed_combos(db, actor, PipelineFilter()) if method == "empirical" else None
    probs = probabilities(db, method, combos)
    rows = category_rows(db, actor, PipelineFilter(), probs, method=method, start=first, end=end, owner_key=True)
    with db.atomic() as cur:
        if rows.height:
            cur.register("_fc_snapshot", rows.to_arrow())
            try:
                cur.execute(
                    """
                    INSERT INTO forecast_snapshots (taken_at, taken_by, method, owner_id, close_month, category,
                                                    deal_count, amount, weighted)
                    SELECT ?, ?, ?, owner_id, month, category, deals, amount, weighted FROM _fc_snapshot
                    """,
                    [taken_at, actor.id, method],
                )
            finally:
                cur.unregister("_fc_snapshot")
        audit.record(cur, actor, "snapshot", "forecast_snapshots", None,
                     after={"taken_at": taken_at, "method": method, "rows": rows.height})
    return rows.height


def snapshot_list(db: Database, actor: Actor) -> pl.DataFrame:
    """Snapshots the actor can see: when, method, rows and weighted total."""
    scope, sp = owner_scope(actor, "s.owner_id")
    return db.query(
        f"""
        SELECT s.taken_at, s.method, count(*) AS rows, sum(s.weighted) AS weighted
        FROM forecast_snapshots s WHERE {scope}
        GROUP BY s.taken_at, s.method ORDER BY s.taken_at DESC
        """,
        sp,
    )


def accuracy(db: Database, actor: Actor, flt: PipelineFilter | None = None, *, weeks_before: int = 4,
             method: str = "stage", today: date | None = None) -> pl.DataFrame:
    """Per month with snapshots and per rep: snapshot used, forecast, actual, error, error_pct.

    Honours the owner and department filters (snapshots hold the owner only).
    Months up to the current one; the current month's actual is to date.
    """
    check_method(method)
    if weeks_before < 0 or weeks_before > 26:
        raise ValidationError(f"weeks before month end must be 0..26, got {weeks_before}",
                              field="weeks_before", value=weeks_before)
    flt = flt or PipelineFilter()
    today = today or date.today()
    last_month = month_start(today)
    scope, sp = owner_scope(actor, "s.owner_id")
    conds, params = [scope], list(sp)
    add_in(conds, params, "s.owner_id", flt.owner_ids)
    add_in(conds, params, "(SELECT department_id FROM users WHERE id = s.owner_id)", flt.department_ids)
    where = " AND ".join(conds)
    return db.query(
        f"""
        WITH snaps AS (
            SELECT * FROM forecast_snapshots s WHERE s.method = ? AND {where}
        ), months AS (
            SELECT DISTINCT close_month,
                   (close_month + INTERVAL 1 MONTH - INTERVAL 1 DAY)::DATE - 7 * ? AS cutoff
            FROM snaps WHERE close_month <= ?
        ), batches AS (
            SELECT DISTINCT taken_at, owner_id FROM snaps
        ), pick AS (
            SELECT m.close_month, b.owner_id, max(b.taken_at) AS taken_at
            FROM months m JOIN batches b ON b.taken_at::DATE <= m.cutoff
            GROUP BY m.close_month, b.owner_id
        ), fc AS (
            SELECT p.close_month, p.owner_id, p.taken_at, coalesce(sum(s.weighted), 0) AS forecast
            FROM pick p
            LEFT JOIN snaps s ON s.taken_at = p.taken_at AND s.owner_id IS NOT DISTINCT FROM p.owner_id
                             AND s.close_month = p.close_month
            GROUP BY p.close_month, p.owner_id, p.taken_at
        ), act AS (
            SELECT date_trunc('month', o.closed_at)::DATE AS close_month, o.owner_id, sum(o.amount) AS actual
            FROM opportunities o
            WHERE o.status = 'won' AND o.closed_at >= (SELECT min(close_month) FROM fc)
              AND o.closed_at < ? AND o.owner_id IN (SELECT owner_id FROM fc)
            GROUP BY 1, 2
        )
        SELECT fc.close_month AS month, fc.owner_id, coalesce(u.display_name, '(none)') AS owner,
               fc.taken_at AS snapshot_taken_at, fc.forecast::DECIMAL(18, 2) AS forecast,
               coalesce(act.actual, 0)::DECIMAL(18, 2) AS actual,
               (fc.forecast - coalesce(act.actual, 0))::DECIMAL(18, 2) AS error,
               CASE WHEN coalesce(act.actual, 0) = 0 THEN NULL
                    ELSE round((fc.forecast - act.actual)::DOUBLE / act.actual::DOUBLE, 4) END AS error_pct
        FROM fc
        LEFT JOIN act ON act.close_month = fc.close_month AND act.owner_id IS NOT DISTINCT FROM fc.owner_id
        LEFT JOIN users u ON u.id = fc.owner_id
        ORDER BY month DESC, owner
        """,
        [method, *params, weeks_before, last_month, add_months(last_month, 1)],
    )


def accuracy_totals(acc: pl.DataFrame) -> pl.DataFrame:
    """Per month: forecast, actual, error and error_pct of all reps together, plus the mean absolute error %."""
    if acc.height == 0:
        return pl.DataFrame(schema={"month": pl.Date, "forecast": pl.Decimal(18, 2), "actual": pl.Decimal(18, 2),
                                    "error": pl.Decimal(18, 2), "error_pct": pl.Float64,
                                    "mean_abs_error_pct": pl.Float64})
    return acc.group_by("month").agg(
        pl.col("forecast").sum(), pl.col("actual").sum(), pl.col("error").sum(),
        pl.col("error_pct").abs().mean().alias("mean_abs_error_pct"),
    ).with_columns(
        error_pct=pl.when(pl.col("actual") != 0)
        .then((pl.col("error").cast(pl.Float64) / pl.col("actual").cast(pl.Float64)).round(4)),
    ).select("month", "forecast", "actual", "error", "error_pct", "mean_abs_error_pct").sort("month", descending=True)
