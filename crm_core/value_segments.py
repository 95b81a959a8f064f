"""Summaries of the per-customer relation: tiers, Pareto/ABC, RFM segments, churn, LTV cohorts.

All inputs come from `value_scoring.customers` (one row per visible customer);
these functions only group and order it, so the page, `crm report` and tests
see the same numbers.

Rules (documented in docs/value_ranking.md):
- Pareto: customers ordered by the metric (revenue, or gross profit with
  losses counted as 0), biggest first; cumulative share of the total. ABC: a
  customer is A if the share before it is below 80% (the customers needed to
  reach 80%), B below 95%, else C. "Share of customers making 80%" = A
  customers / all customers.
- RFM: R, F, M = 1 + floor(5 x percentile) (capped at 5) of days since the
  last order (fewer is better), the number of order days and revenue; 5 is best. Segments, first rule
  that matches: champions R>=4 and F>=4; loyal R>=3 and F>=3; potential
  loyalists R>=3; can't lose F>=4 and M>=4; at risk F>=3; hibernating R=2;
  lost otherwise (R=1, F<=2).
- Churn: overdue ratio = days since the last order / the customer's usual
  interval ((last - first order) / (order days - 1)). on track < 1.5,
  at risk < 3, lapsed >= 3; one-order customers have no interval.
- LTV: historical = revenue to date; projected = historical + average order
  value x orders per year x 3 years for customers still active (not lapsed;
  one-order customers: last order within 365 days), else historical.
"""

from __future__ import annotations

import polars as pl

from crm_core.errors import ValidationError

SEGMENTS = ("champions", "loyal", "potential_loyalists", "cant_lose", "at_risk", "hibernating", "lost")
CHURN_STATES = ("at_risk", "lapsed", "on_track", "one_order")
CURVE_POINTS = 200


def _money(col: str) -> pl.Expr:
    return pl.col(col).cast(pl.Float64)


def tiers(cust: pl.DataFrame) -> pl.DataFrame:
    """Customers, revenue and score range per tier A..D."""
    out = (cust.group_by("tier")
           .agg(pl.len().alias("customers"), _money("revenue").sum().alias("revenue"),
                pl.col("score").min().alias("min_score"), pl.col("score").max().alias("max_score"))
           .sort("tier"))
    return out


def pareto_curve(cust: pl.DataFrame) -> pl.DataFrame:
    """The cumulative share curve, thinned to at most ~200 points for the browser."""
    n = cust.height
    if n == 0:
        return pl.DataFrame({"customer_share": [0.0], "value_share": [0.0]})
    ordered = cust.select("pareto_value", "account_id", "cum_share").sort(
        ["pareto_value", "account_id"], descending=[True, False]).select(
        (pl.int_range(1, n + 1) / n).alias("customer_share"),
        pl.col("cum_share").fill_null(0.0).alias("value_share"))
    step = max(1, n // CURVE_POINTS)
    keep = ordered.with_row_index("i").filter((pl.col("i") % step == 0) | (pl.col("i") == n - 1)).drop("i")
    return pl.concat([pl.DataFrame({"customer_share": [0.0], "value_share": [0.0]}), keep])


def abc(cust: pl.DataFrame) -> pl.DataFrame:
    """Customers and the metric per ABC class, with shares."""
    n = max(cust.height, 1)
    total = float(cust["pareto_value"].sum() or 0) if cust.height else 0.0
    out = (cust.group_by("abc").agg(pl.len().alias("customers"), _money("pareto_value").sum().alias("value"))
           .sort("abc"))
    return out.with_columns((pl.col("customers") / n).alias("customer_share"),
                            (pl.col("value") / (total or 1)).alias("value_share"))


def share_for_80(cust: pl.DataFrame) -> float:
    """Share of customers (the A class) that makes up 80% of the metric."""
    if cust.height == 0:
        return 0.0
    return cust.filter(pl.col("abc") == "A").height / cust.height


def rfm_segments(cust: pl.DataFrame) -> pl.DataFrame:
    """Customers and revenue per named segment, in the rule table's order."""
    got = cust.group_by("segment").agg(pl.len().alias("customers"), _money("revenue").sum().alias("revenue"))
    frame = pl.DataFrame({"segment": list(SEGMENTS), "order": list(range(len(SEGMENTS)))})
    total = float(cust["revenue"].cast(pl.Float64).sum() or 0) if cust.height else 0.0
    return (frame.join(got, on="segment", how="left")
            .with_columns(pl.col("customers").fill_null(0), pl.col("revenue").fill_null(0.0))
            .with_columns((pl.col("revenue") / (total or 1)).alias("revenue_share"))
            .sort("order").drop("order"))


def rfm_grid(cust: pl.DataFrame) -> pl.DataFrame:
    """Customers per (R, F) score cell, for the heat map."""
    return cust.group_by("r_score", "f_score").agg(pl.len().alias("customers")).sort("r_score", "f_score")


def churn_list(cust: pl.DataFrame, *, limit: int | None = 500) -> pl.DataFrame:
    """Customers overdue against their own rhythm (at risk, then lapsed), most valuable first."""
    out = (cust.filter(pl.col("churn_state").is_in(["at_risk", "lapsed"]))
           .select("account_id", "name", "owner_name", "tier", "score", "churn_state", "recency_days",
                   "usual_interval", "overdue_ratio", "last_order", "revenue")
           .with_columns(pl.when(pl.col("churn_state") == "at_risk").then(0).otherwise(1).alias("_o"))
           .sort(["_o", "score", "account_id"], descending=[False, True, False]).drop("_o"))
    return out.head(limit) if limit else out


def churn_summary(cust: pl.DataFrame) -> pl.DataFrame:
    got = cust.group_by("churn_state").agg(pl.len().alias("customers"), _money("revenue").sum().alias("revenue"))
    frame = pl.DataFrame({"churn_state": list(CHURN_STATES), "order": list(range(len(CHURN_STATES)))})
    return (frame.join(got, on="churn_state", how="left")
            .with_columns(pl.col("customers").fill_null(0), pl.col("revenue").fill_null(0.0))
            .sort("order").drop("order"))


COHORT_GRAINS = {"month": "1mo", "quarter": "1q", "year": "1y"}


def with_cohort(cust: pl.DataFrame, grain: str = "quarter") -> pl.DataFrame:
    """`cohort` = the first order's month, quarter or year (first day)."""
    if grain not in COHORT_GRAINS:
        raise ValidationError(f"Cohort grain must be one of {', '.join(COHORT_GRAINS)}, got {grain!r}.",
                              field="grain", value=grain)
    return cust.with_columns(pl.col("first_order").dt.truncate(COHORT_GRAINS[grain]).alias("cohort"))


def ltv_cohorts(cust: pl.DataFrame, grain: str = "quarter") -> pl.DataFrame:
    """Per first-purchase month/quarter/year: customers, historical and projected LTV (total and per customer)."""
    return (with_cohort(cust, grain).group_by("cohort")
            .agg(pl.len().alias("customers"),
                 pl.col("ltv_historical").sum().alias("historical"),
                 pl.col("ltv_projected").sum().alias("projected"),
                 pl.col("active").mean().alias("active_share"))
            .with_columns((pl.col("historical") / pl.col("customers")).alias("historical_per_customer"),
                          (pl.col("projected") / pl.col("customers")).alias("projected_per_customer"))
            .sort("cohort"))
