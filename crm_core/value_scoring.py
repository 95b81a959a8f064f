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

The same SQL also yields each customer's RFM quintiles and segment, churn
state and lifetime value (see `value_segments` for the rules), so the page
and `crm report` read one relation.
"""

from __future__ import annotations

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


def _percentile(ind: Indicator) -> str:
    order = "DESC" if ind.lower_is_better else "ASC"
    x = ind.expr
    return (f"CASE WHEN {x} IS NULL THEN {ind.missing} ELSE percent_rank() OVER "
            f"(PARTITION BY {x} IS NULL ORDER BY {x} {order}) END AS p_{ind.key}")


def customers_sql(actor: Actor, flt: PipelineFilter | None, as_of: date, w: dict[str, float],
                  pareto_metric: str = "revenue") -> tuple[str, list[Any]]:
    """The per-customer relation (SQL and parameters). Every column the page and reports use."""
    if pareto_metric not in ("revenue", "gross_profit"):
        raise ValidationError(f"Pareto metric must be revenue or gross_profit, got {pareto_metric!r}.",
                              field="metric", value=pareto_metric)
    where, params = filter_sql(actor, flt)
    total_w = sum(w.values())
    groups = ",\n               ".join(
        "100 * (" + " + ".join(f"{w[i.key] / total_w!r} * p_{i.key}" for i in INDICATORS if i.group == g)
        + f") AS points_{g}" for g in GROUPS)
    pct = ",\n               ".join(_percentile(i) for i in INDICATORS)
    tier = " ".join(f"WHEN pos < {cut} THEN '{name}'" for name, cut in TIER_CUTS[:-1])
    metric = "greatest(coalesce(gross_profit, 0), 0)" if pareto_metric == "gross_profit" else "greatest(revenue, 0)"
    sql = f"""
    WITH base AS (
        SELECT s.account_id, a.name, a.industry, a.region, a.owner_id, u.display_name AS owner_name,
               a.employees::DOUBLE AS employees, a.annual_revenue::DOUBLE AS annual_revenue,
               s.order_days, s.order_lines, s.first_order, s.last_order, s.revenue, s.gross_profit,
               s.followups, s.last_followup, s.open_opps, s.open_amount,
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
    ), ind AS (
        SELECT *, CASE WHEN industry IS NOT NULL THEN avg(revenue::DOUBLE) OVER (PARTITION BY industry) END
                  AS industry_revenue
        FROM base
    ), pct AS (
        SELECT *,
               {pct},
               least(5, 1 + floor(5 * percent_rank() OVER (ORDER BY last_order)))::INTEGER AS r_score,
               least(5, 1 + floor(5 * percent_rank() OVER (ORDER BY order_days)))::INTEGER AS f_score,
               least(5, 1 + floor(5 * percent_rank() OVER (ORDER BY revenue)))::INTEGER AS m_score,
               recency_days / usual_interval AS overdue_ratio,
               {metric} AS pareto_value
        FROM ind
    ), scored AS (
        SELECT *, {groups} FROM pct
    ), grouped AS (
        SELECT *, {" + ".join(f"points_{g}" for g in GROUPS)} AS score FROM scored
    ), ranked AS (
        SELECT *,
               (row_number() OVER (ORDER BY score DESC, account_id) - 1) / count(*) OVER () AS pos,
               row_number() OVER (ORDER BY score DESC, account_id) AS rank,
               sum(pareto_value) OVER (ORDER BY pareto_value DESC, account_id ROWS UNBOUNDED PRECEDING)
                   / nullif(sum(pareto_value) OVER (), 0) AS cum_share
        FROM grouped
    )
    SELECT *,
           CASE {tier} ELSE 'D' END AS tier,
           CASE WHEN cum_share - pareto_value / nullif(sum(pareto_value) OVER (), 0) < 0.8 THEN 'A'
                WHEN cum_share - pareto_value / nullif(sum(pareto_value) OVER (), 0) < 0.95 THEN 'B'
                ELSE 'C' END AS abc,
           CASE WHEN r_score >= 4 AND f_score >= 4 THEN 'champions'
                WHEN r_score >= 3 AND f_score >= 3 THEN 'loyal'
                WHEN r_score >= 3 THEN 'potential_loyalists'
                WHEN f_score >= 4 AND m_score >= 4 THEN 'cant_lose'
                WHEN f_score >= 3 THEN 'at_risk'
                WHEN r_score = 2 THEN 'hibernating'
                ELSE 'lost' END AS segment,
           CASE WHEN order_days < 2 THEN 'one_order'
                WHEN overdue_ratio < 1.5 THEN 'on_track'
                WHEN overdue_ratio < 3 THEN 'at_risk'
                ELSE 'lapsed' END AS churn_state,
           (order_days >= 2 AND overdue_ratio < 3) OR (order_days < 2 AND recency_days <= 365) AS active,
           revenue::DOUBLE AS ltv_historical,
           revenue::DOUBLE + CASE
               WHEN (order_days >= 2 AND overdue_ratio < 3) OR (order_days < 2 AND recency_days <= 365)
               THEN revenue::DOUBLE / order_days * orders_per_year * {PROJECTION_YEARS} ELSE 0 END
               AS ltv_projected,
           date_trunc('quarter', first_order)::DATE AS cohort
    FROM ranked
    """
    return sql, [as_of, as_of, as_of, as_of, *params]


def customers(db: Database, actor: Actor, flt: PipelineFilter | None = None, as_of: date | None = None,
              *, weights_override: dict[str, float] | None = None, pareto_metric: str = "revenue") -> pl.DataFrame:
    """Every visible customer with indicators, percentiles (p_*), score, tier, RFM, churn and LTV."""
    value_summary.ensure_current(db)
    w = check_weights(weights_override) if weights_override is not None else weights(db)
    sql, params = customers_sql(actor, flt, as_of or date.today(), w, pareto_metric)
    return db.query(sql + " ORDER BY rank", params)


def breakdown(row: dict[str, Any], w: dict[str, float]) -> pl.DataFrame:
    """One customer's score, indicator by indicator: value, percentile, weight, points."""
    total = sum(w.values())
    return pl.DataFrame([
        {"group": i.group, "indicator": i.key, "value": None if row.get(i.expr) is None else float(row[i.expr]),
         "percentile": float(row[f"p_{i.key}"]), "weight": w[i.key],
         "points": 100 * w[i.key] / total * float(row[f"p_{i.key}"])}
        for i in INDICATORS
    ])
