"""Customer value: who matters, who is slipping away, what to sell next.

The page and `crm report value|pareto|rfm|churn|cross-sell` call the functions
here, so both show the same numbers. The per-customer relation comes from
`value_scoring` (score, tiers, RFM, churn, LTV over the `value_summary`
table); `value_segments` groups it; `value_cross_sell` reads the per-product
summary; `value_actions` exports lists and creates follow-up tasks.
Importing this module registers the summary's change listener.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import polars as pl

from crm_core import value_actions, value_cross_sell, value_scoring, value_segments, value_summary  # noqa: F401
from crm_core.access import Actor, owner_scope
from crm_core.db import Database
from crm_core.filters import PipelineFilter
from crm_core.reports import ReportOptions

TOP_ROWS = 500
RANKING_COLUMNS = (
    "rank", "account_id", "name", "owner_name", "industry", "region", "tier", "score",
    *(f"points_{g}" for g in value_scoring.GROUPS),
    "revenue", "gross_profit", "order_days", "last_order", "recency_days", "segment", "r_score", "f_score",
    "m_score", "abc", "churn_state", "ltv_projected",
)


def default_as_of(db: Database, actor: Actor) -> date:
    """Today, or the day after the last order when the data ends earlier (a historical data set)."""
    value_summary.ensure_current(db)
    scope, params = owner_scope(actor, "a.owner_id")
    last = db.scalar(f"SELECT max(s.last_order) FROM value_summary s JOIN accounts a ON a.id = s.account_id "
                     f"WHERE {scope}", params)
    today = date.today()
    return min(today, last + timedelta(days=1)) if last else today


def overview(db: Database, actor: Actor, flt: PipelineFilter | None = None, as_of: date | None = None,
             pareto_metric: str = "revenue", cohort_grain: str = "quarter") -> dict[str, Any]:
    """Everything the page shows at once, from one pass over the summary."""
    cust = value_scoring.customers(db, actor, flt, as_of, pareto_metric=pareto_metric)
    return {
        "customers": cust.height,
        "revenue": float(cust["revenue"].cast(pl.Float64).sum() or 0) if cust.height else 0.0,
        "ranking": cust.head(TOP_ROWS),
        "tiers": value_segments.tiers(cust),
        "pareto_curve": value_segments.pareto_curve(cust),
        "abc": value_segments.abc(cust),
        "share_80": value_segments.share_for_80(cust),
        "rfm_segments": value_segments.rfm_segments(cust),
        "rfm_grid": value_segments.rfm_grid(cust),
        "churn_summary": value_segments.churn_summary(cust),
        "churn_list": value_segments.churn_list(cust),
        "ltv_cohorts": value_segments.ltv_cohorts(cust, cohort_grain),
        "weights": value_scoring.weights(db),
    }


LIST_KINDS = ("tier", "abc", "segment", "churn_state", "cohort", "upsell", "repeat_due", "all")
LIST_COLUMNS = ("account_id", "name", "owner_name", "tier", "score", "segment", "abc", "churn_state", "revenue",
                "last_order")


def action_list(db: Database, actor: Actor, flt: PipelineFilter | None, as_of: date | None, pareto_metric: str,
                kind: str, key: Any = None, cohort_grain: str = "quarter") -> pl.DataFrame:
    """The full list behind a segment (tier, ABC class, RFM segment, churn state, cohort) or
    behind the up-sell / repeat-due lists: one row per customer, for export and tasks."""
    cust = value_scoring.customers(db, actor, flt, as_of, pareto_metric=pareto_metric)
    if kind in ("upsell", "repeat_due"):
        rows = (value_cross_sell.upsell(db, actor, flt, limit=None) if kind == "upsell"
                else value_cross_sell.repeat_due(db, actor, flt, as_of, limit=None))
        cust = cust.filter(pl.col("account_id").is_in(rows["account_id"].unique().implode()))
    elif kind != "all":
        if kind == "cohort":
            cust = value_segments.with_cohort(cust, cohort_grain)
        cust = value_actions.select(cust, kind, key)
    return cust.select(*LIST_COLUMNS)


def top_customers(db: Database, actor: Actor, *, limit: int = 50) -> pl.DataFrame:
    """The highest-scoring customers (kept for callers of the first version)."""
    return value_scoring.customers(db, actor).head(limit)


# -- reports (`crm report NAME`) ---------------------------------------------

def _report_value(db: Database, actor: Actor, opts: ReportOptions) -> pl.DataFrame:
    cust = value_scoring.customers(db, actor, as_of=opts.today)
    return cust.select(*RANKING_COLUMNS, *(f"p_{i.key}" for i in value_scoring.INDICATORS))


def _report_pareto(db: Database, actor: Actor, opts: ReportOptions) -> pl.DataFrame:
    cust = value_scoring.customers(db, actor, as_of=opts.today)
    return value_segments.abc(cust).with_columns(
        pl.lit(value_segments.share_for_80(cust)).alias("share_of_customers_making_80pct"))


def _report_rfm(db: Database, actor: Actor, opts: ReportOptions) -> pl.DataFrame:
    return value_segments.rfm_segments(value_scoring.customers(db, actor, as_of=opts.today))


def _report_churn(db: Database, actor: Actor, opts: ReportOptions) -> pl.DataFrame:
    return value_segments.churn_list(value_scoring.customers(db, actor, as_of=opts.today), limit=None)


def _report_cross_sell(db: Database, actor: Actor, opts: ReportOptions) -> pl.DataFrame:
    return value_cross_sell.product_pairs(db, actor).drop("a_id", "b_id")


REPORTS = {
    "value": _report_value,
    "pareto": _report_pareto,
    "rfm": _report_rfm,
    "churn": _report_churn,
    "cross-sell": _report_cross_sell,
}
