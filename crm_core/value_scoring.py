"""The value score: one row per customer with indicators, percentiles, score and tier.

A customer is an account (not merged away) with at least one order. The
customers ranked are the ones the actor may see after the page's filters:
percentiles, tiers, RFM quintiles and ABC classes are all relative to that set,
so a rep's ranking is of their own book and never uses rows they cannot see.

Each indicator is turned into a percentile p in [0, 1]: the number of
customers with a strictly worse value divided by (customers with a value - 1)
(`percent_rank`; a lone customer gets 0). "Worse" is lower, except for the
day counts marked `lower_is_better`. A customer without a value gets the
indicator's `missing` percentile (0.5 = neutral, 0 = worst). The score is
100 x sum(weight x p) / sum(weight); tiers cut the customers ordered by score
(ties by account id): A the first 20%, B the next 30%, C the next 30%, D the
last 20%.

DuckDB reads the indicator values from the summary tables (`indicators_sql`);
`score_frame` ranks them and also derives each customer's RFM quintiles and
segment, ABC class, churn state and lifetime value (see `value_segments` for
the rules), so the page and `crm report` read one frame.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import date
from typing import Any

import polars as pl

from crm_core import settings, value_summary
from crm_core.access import Actor, owner_scope
from crm_core.db import Database
from crm_core.errors import ValidationError
from crm_core.filters import PipelineFilter


@dataclass(frozen=True)
class Indicator:
    key: str
    group: str             # characteristics | transactions | financial | contact
    expr: str              # SQL over the `base` relation (crm_core's own text)
    default_weight: float
    lower_is_better: bool = False
    missing: float = 0.5   # percentile for a customer without a value


INDICATORS: tuple[Indicator, ...] = (
    Indicator("size", "characteristics", "employees", 0.2),
    # industry: how much the customers of the same industry buy on average (in the ranked set)
    Indicator("industry", "characteristics", "industry_revenue", 0.1),
    Indicator("annual_revenue", "characteristics", "annual_revenue", 0.2),
    Indicator("order_count", "transactions", "order_days", 0.4),
    Indicator("frequency", "transactions", "orders_per_year", 0.6),
    Indicator("recency", "transactions", "recency_days", 0.6, lower_is_better=True),
    Indicator("tenure", "transactions", "tenure_days", 0.2),
    Indicator("revenue", "financial", "revenue", 1.0),
    Indicator("gross_profit", "financial", "gross_profit", 0.8),
    Indicator("margin", "financial", "margin", 0.3),
    Indicator("punctuality", "financial", "punctuality", 0.3),
    Indicator("followups", "contact", "followups", 0.2),
    Indicator("days_since_followup", "contact", "days_since_followup", 0.2, lower_is_better=True, missing=0.0),
    Indicator("open_opportunities", "contact", "open_opps", 0.3),
)
GROUPS = ("characteristics", "transactions", "financial", "contact")
DEFAULT_WEIGHTS = {i.key: i.default_weight for i in INDICATORS}
TIER_CUTS = (("A", 0.20), ("B", 0.50), ("C", 0.80), ("D", 1.00))  # share of customers, cumulative
PROJECTION_YEARS = 3
WEIGHTS_KEY = "value.weights"


def weights(db: Database) -> dict[str, float]:
    """The saved weights, with defaults for indicators not saved."""
    stored = settings.get(db, WEIGHTS_KEY) or {}
    return {k: float(stored.get(k, d)) for k, d in DEFAULT_WEIGHTS.items()}


def check_weights(new: dict[str, Any]) -> dict[str, float]:
    """Validated weights: every key known, each a number in [0, 1], not all zero."""
    clean: dict[str, float] = {}
    for key, value in new.items():
        if key not in DEFAULT_WEIGHTS:
            raise ValidationError(f"Unknown value indicator {key!r}; expected one of {', '.join(DEFAULT_WEIGHTS)}.",
                                  field=key, value=value)
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ValidationError(f"Weight of {key} must be a number between 0 and 1, got {value!r}.",
                                  field=key, value=value) from None
        if not 0 <= number <= 1:
            raise ValidationError(f"Weight of {key} must be between 0 and 1, got {number}.", field=key, value=value)
        clean[key] = number
    merged = {**DEFAULT_WEIGHTS, **clean}
    if sum(merged.values()) <= 0:
        raise ValidationError("At least one indicator needs a weight above 0.", field="weights", value=new)
    return merged


def save_weights(db: Database, actor: Actor, new: dict[str, Any], *, expected_version: int | None) -> int:
    """Store the weights (managers and admins); refused if someone saved since `expected_version`."""
    return settings.put(db, actor, WEIGHTS_KEY, check_weights(new), expected_version=expected_version)


def weights_version(db: Database) -> int:
    return settings.version_of(db, WEIGHTS_KEY)


def filter_sql(actor: Actor, flt: PipelineFilter | None) -> tuple[str, list[Any]]:
    """Scope (owner rules) plus the shared filters that apply to accounts."""
    scope, params = owner_scope(actor, "a.owner_id")
    parts = [scope]
    flt = flt or PipelineFilter()
    for values, sql in (
        (flt.owner_ids, "a.owner_id IN (SELECT unnest(?::BIGINT[]))"),
        (flt.department_ids, "u.department_id IN (SELECT unnest(?::BIGINT[]))"),
        (flt.regions, "a.region IN (SELECT unnest(?::VARCHAR[]))"),
        (flt.sources, "a.source IN (SELECT unnest(?::VARCHAR[]))"),
    ):
        if values:
            parts.append(sql)
            params.append(list(values))
    return " AND ".join(parts), params


def indicators_sql(actor: Actor, flt: PipelineFilter | None, as_of: date) -> tuple[str, list[Any]]:
    """One row per visible customer with its indicator values (SQL and parameters), from the summary."""
    where, params = filter_sql(actor, flt)
    sql = f"""
    WITH base AS (
        SELECT s.account_id, a.name, a.industry, a.region, a.owner_id, u.display_name AS owner_name,
               a.employees::DOUBLE AS employees, a.annual_revenue::DOUBLE AS annual_revenue,
               s.order_days, s.order_lines, s.first_order, s.last_order,
               -- DOUBLE: ranks and sums of ~100k amounts, exact to the cent at these sizes
               s.revenue::DOUBLE AS revenue, s.gross_profit::DOUBLE AS gross_profit,
               s.followups, s.last_followup, s.open_opps, s.open_amount::DOUBLE AS open_amount,
               greatest(0, ?::DATE - s.last_order) AS recency_days,
               greatest(0, ?::DATE - s.first_order) AS tenure_days,
               s.order_days * 365.0 / greatest(?::DATE - s.first_order, 365) AS orders_per_year,
               s.gross_profit::DOUBLE / nullif(s.costed_revenue::DOUBLE, 0) AS margin,
               s.paid_on_time::DOUBLE / nullif(s.paid_amount::DOUBLE, 0) AS punctuality,
               -- greatest() skips NULLs, so a customer never followed up must stay NULL explicitly
               CASE WHEN s.last_followup IS NOT NULL THEN greatest(0, ?::DATE - s.last_followup::DATE) END
                   AS days_since_followup,
               CASE WHEN s.order_days >= 2 THEN (s.last_order - s.first_order) / (s.order_days - 1.0) END
                   AS usual_interval
        FROM value_summary s
        JOIN accounts a ON a.id = s.account_id AND a.merged_into_id IS NULL
        LEFT JOIN users u ON u.id = a.owner_id
        WHERE {where}
    )
    SELECT * FROM base
    """
    return sql, [as_of, as_of, as_of, as_of, *params]


def _percentile(ind: Indicator) -> pl.Expr:
    """(customers with a strictly worse value) / (customers with a value - 1); `missing` when none."""
    x = pl.col(ind.expr)
    below = x.rank("min", descending=ind.lower_is_better) - 1
    n = x.count()
    return (pl.when(x.is_null()).then(pl.lit(ind.missing))
            .when(n <= 1).then(pl.lit(0.0))
            .otherwise(below / (n - 1))).alias(f"p_{ind.key}")


def score_frame(ind: pl.DataFrame, w: dict[str, float], pareto_metric: str = "revenue") -> pl.DataFrame:
    """Percentiles, score, tier, RFM, ABC, churn and LTV from the indicator rows (see the module doc).

    The ranks are computed here rather than in SQL: fourteen percent_rank
    windows over ~100k rows cost DuckDB several times more (each window sorts
    the full row) than polars' column ranks.
    """
    if pareto_metric not in ("revenue", "gross_profit"):
        raise ValidationError(f"Pareto metric must be revenue or gross_profit, got {pareto_metric!r}.",
                              field="metric", value=pareto_metric)
    total_w = sum(w.values())
    # industry: the average revenue of the customers of the same industry, in the ranked set
    by_industry = (ind.filter(pl.col("industry").is_not_null()).group_by("industry")
                   .agg(pl.col("revenue").mean().alias("industry_revenue")))
    ind = ind.join(by_industry, on="industry", how="left", maintain_order="left")
    metric = pl.col("gross_profit").fill_null(0) if pareto_metric == "gross_profit" else pl.col("revenue")
    df = ind.with_columns(*(_percentile(i) for i in INDICATORS),
                          pl.max_horizontal(metric.cast(pl.Float64), pl.lit(0.0)).alias("pareto_value"),
                          (pl.col("recency_days") / pl.col("usual_interval")).alias("overdue_ratio"))
    df = df.with_columns(
        (100 * pl.sum_horizontal(pl.lit(w[i.key] / total_w) * pl.col(f"p_{i.key}")
                                 for i in INDICATORS if i.group == g)).alias(f"points_{g}") for g in GROUPS)
    n = df.height
    df = df.with_columns(pl.sum_horizontal(*(pl.col(f"points_{g}") for g in GROUPS)).alias("score"))
    df = df.sort(["score", "account_id"], descending=[True, False]).with_columns(
        pl.int_range(1, n + 1, dtype=pl.Int64).alias("rank"))
    df = df.with_columns(((pl.col("rank") - 1) / max(n, 1)).alias("pos"))
    total = float(df["pareto_value"].sum() or 0) if n else 0.0
    # cumulative share in Pareto order (largest first, ties by account id), scattered back to the rows
    keys, desc = [pl.col("pareto_value"), pl.col("account_id")], [True, False]
    cum = (pl.col("pareto_value").sort_by(keys, descending=desc).cum_sum()
           .gather(pl.arg_sort_by(keys, descending=desc).arg_sort()))
    df = df.with_columns(
        (cum / total if total else pl.lit(None, pl.Float64)).alias("cum_share"),
        (pl.col("pareto_value") / total if total else pl.lit(None, pl.Float64)).alias("own_share"))
    quint = [(1 + (5 * pl.col(f"p_{k}")).floor()).clip(upper_bound=5).cast(pl.Int32).alias(f"{c}_score")
             for c, k in (("r", "recency"), ("f", "order_count"), ("m", "revenue"))]
    df = df.with_columns(quint)
    tier = pl.when(pl.col("pos") < TIER_CUTS[0][1]).then(pl.lit(TIER_CUTS[0][0]))
    for name, cut in TIER_CUTS[1:-1]:
        tier = tier.when(pl.col("pos") < cut).then(pl.lit(name))
    before = pl.col("cum_share") - pl.col("own_share")
    r, f, m = pl.col("r_score"), pl.col("f_score"), pl.col("m_score")
    ratio, days = pl.col("overdue_ratio"), pl.col("order_days")
    active = ((days >= 2) & (ratio < 3)) | ((days < 2) & (pl.col("recency_days") <= 365))
    revenue = pl.col("revenue").cast(pl.Float64)
    return df.with_columns(
        tier.otherwise(pl.lit(TIER_CUTS[-1][0])).alias("tier"),
        pl.when(before < 0.8).then(pl.lit("A")).when(before < 0.95).then(pl.lit("B")).otherwise(pl.lit("C"))
        .alias("abc"),
        pl.when((r >= 4) & (f >= 4)).then(pl.lit("champions"))
        .when((r >= 3) & (f >= 3)).then(pl.lit("loyal"))
        .when(r >= 3).then(pl.lit("potential_loyalists"))
        .when((f >= 4) & (m >= 4)).then(pl.lit("cant_lose"))
        .when(f >= 3).then(pl.lit("at_risk"))
        .when(r == 2).then(pl.lit("hibernating"))
        .otherwise(pl.lit("lost")).alias("segment"),
        pl.when(days < 2).then(pl.lit("one_order")).when(ratio < 1.5).then(pl.lit("on_track"))
        .when(ratio < 3).then(pl.lit("at_risk")).otherwise(pl.lit("lapsed")).alias("churn_state"),
        active.fill_null(False).alias("active"),
        revenue.alias("ltv_historical"),
        (revenue + pl.when(active).then(revenue / days * pl.col("orders_per_year") * PROJECTION_YEARS)
         .otherwise(0.0)).alias("ltv_projected"),
        pl.col("first_order").dt.truncate("1q").alias("cohort"),
    )


def customers(db: Database, actor: Actor, flt: PipelineFilter | None = None, as_of: date | None = None,
              *, weights_override: dict[str, float] | None = None, pareto_metric: str = "revenue") -> pl.DataFrame:
    """Every visible customer with indicators, percentiles (p_*), score, tier, RFM, churn and LTV, by rank."""
    as_of = as_of or date.today()
    w = check_weights(weights_override) if weights_override is not None else weights(db)
    value_summary.ensure_current(db)
    # One page view asks for the same frame more than once (overview, the action list), and most
    # writes (a deal's stage, a setting) do not touch what it is computed from: keep the last few,
    # keyed by the summary's state token, which moves with every change the figures read.
    token = value_summary.state_token(db)
    key = (id(db), db.path, token, actor, flt, as_of, tuple(sorted(w.items())), pareto_metric)
    hit = _RECENT.get(key)
    if hit is not None:
        return hit
    sql, params = indicators_sql(actor, flt, as_of)
    frame = score_frame(db.query(sql, params), w, pareto_metric)
    if token is not None:
        with _RECENT_LOCK:
            _RECENT[key] = frame
            while len(_RECENT) > 8:
                _RECENT.pop(next(iter(_RECENT)))
    return frame


_RECENT: dict[tuple, pl.DataFrame] = {}
_RECENT_LOCK = threading.Lock()


def breakdown(row: dict[str, Any], w: dict[str, float]) -> pl.DataFrame:
    """One customer's score, indicator by indicator: value, percentile, weight, points."""
    total = sum(w.values())
    return pl.DataFrame([
        {"group": i.group, "indicator": i.key, "value": None if row.get(i.expr) is None else float(row[i.expr]),
         "percentile": float(row[f"p_{i.key}"]), "weight": w[i.key],
         "points": 100 * w[i.key] / total * float(row[f"p_{i.key}"])}
        for i in INDICATORS
    ])
