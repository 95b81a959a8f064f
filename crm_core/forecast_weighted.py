"""Weighted forecast by expected close month, forecast categories, targets and what-if.

For the months of the window (default: this month and the next five):

- open deals (owner, department, region, product and source filters; not the
  period) expected to close in the month count with amount x probability;
- the probability comes from the method the user picks:
  `stage` = the stage's default probability;
  `override` = the deal's own probability when it has one, else the stage's;
  `empirical` = won / closed among the deals that passed through the stage,
  learned from the funnel cohort (the filter's period), falling back to the
  stage default for a stage no closed deal passed through;
- a what-if replaces stage probabilities and/or leaves deals out (a deal's own
  override still wins under `override`);
- categories come from the stage (pipeline, best_case, commit); won deals
  closed in the month are `closed`, at full amount;
- forecast = closed + weighted open; commit_total = closed + commit;
  best_case_total = commit_total + best_case;
- target = the sum of the reps' monthly won_amount targets in scope (see
  `month_targets`; per rep when grouped by owner, none for other groupings);
  coverage = forecast / target, gap = target - forecast.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import polars as pl

from crm_core.access import Actor, owner_scope
from crm_core.db import Database
from crm_core.errors import ValidationError
from crm_core.filters import PipelineFilter
from crm_core.forecast_common import (
    METHODS,
    add_in,
    add_months,
    group_parts,
    labelled,
    month_start,
    scope_where,
    stages,
)

CATEGORIES = ("closed", "commit", "best_case", "pipeline")


@dataclass(frozen=True)
class WhatIf:
    """Scenario changes: stage probabilities ((stage id, p), ...) and deal ids left out."""
    stage_probabilities: tuple[tuple[int, float], ...] = ()
    excluded_ids: tuple[int, ...] = ()

    def is_empty(self) -> bool:
        return not self.stage_probabilities and not self.excluded_ids


def check_method(method: str) -> str:
    if method not in METHODS:
        raise ValidationError(f"unknown probability method {method!r}; choose one of: {', '.join(METHODS)}",
                              field="method", value=method)
    return method


def empirical_from_combos(combos: pl.DataFrame) -> dict[int, tuple[int, int]]:
    """{stage id: (won, closed)} among closed cohort deals that entered the stage."""
    out: dict[int, list[int]] = {}
    closed = combos.filter(pl.col("status").is_in(["won", "lost"]))
    for c in closed.iter_rows(named=True):
        mask = int(c["entered_mask"])
        for sid in range(1, 64):
            if mask >> sid & 1:
                won_closed = out.setdefault(sid, [0, 0])
                won_closed[1] += c["n"]
                if c["status"] == "won":
                    won_closed[0] += c["n"]
    return {k: (v[0], v[1]) for k, v in out.items()}


def closed_combos(db: Database, actor: Actor, flt: PipelineFilter | None = None) -> pl.DataFrame:
    """The cohort's closed deals folded to (status, stages entered): what empirical rates are learned from."""
    from crm_core.forecast_facts import ensure_current

    facts = ensure_current(db)
    where, wp = scope_where(actor, flt or PipelineFilter(), date_column="created_at")
    return db.query(
        f"""
        SELECT o.status, o.entered_mask, count(*) AS n
        FROM {facts} o
        WHERE o.status IN ('won', 'lost') AND {where}
        GROUP BY o.status, o.entered_mask
        """,
        wp,
    )


def probabilities(db: Database, method: str, combos: pl.DataFrame | None = None,
                  whatif: WhatIf | None = None) -> pl.DataFrame:
    """Per open stage: the default, the empirical rate (and its sample) and the one used."""
    check_method(method)
    emp = empirical_from_combos(combos) if combos is not None else {}
    changed = dict((whatif or WhatIf()).stage_probabilities)
    rows = []
    for st in stages(db):
        if st.is_won or st.is_lost:
            continue
        won, closed = emp.get(st.id, (0, 0))
        empirical = won / closed if closed else None
        used = empirical if method == "empirical" and empirical is not None else st.probability
        if st.id in changed:
            p = float(changed[st.id])
            if not 0 <= p <= 1:
                raise ValidationError(f"probability for stage {st.name!r} must be between 0 and 1, got {p}",
                                      field="probability", value=p)
            used = p
        rows.append({"stage_id": st.id, "stage": st.name, "category": st.category, "default": st.probability,
                     "empirical": empirical, "closed_sample": closed, "used": used, "changed": st.id in changed})
    return pl.DataFrame(rows, schema={"stage_id": pl.Int64, "stage": pl.Utf8, "category": pl.Utf8,
                                      "default": pl.Float64, "empirical": pl.Float64, "closed_sample": pl.Int64,
                                      "used": pl.Float64, "changed": pl.Boolean})


def window(today: date, start: date | None = None, months: int = 6) -> tuple[date, date]:
    """[first month, first day after the last month)."""
    if months < 1 or months > 36:
        raise ValidationError(f"forecast months must be 1..36, got {months}", field="months", value=months)
    first = month_start(start or today)
    return first, add_months(first, months)


def category_rows(db: Database, actor: Actor, flt: PipelineFilter | None, probs: pl.DataFrame, *,
                  method: str, start: date, end: date, whatif: WhatIf | None = None,
                  by: str | None = None, owner_key: bool = False) -> pl.DataFrame:
    """Long form: (group,) month, category, deals, amount, weighted."""
    flt = flt or PipelineFilter()
    whatif = whatif or WhatIf()
    select_group, _ = group_parts(by)
    outer = "group_id, " if by else ""
    if owner_key:  # snapshots: by owner id, no label
        select_group, outer, by = "o.owner_id AS owner_id, ", "owner_id, ", None
    where, wp = scope_where(actor, flt)
    deal_p = "coalesce(o.probability, sp.p)" if method == "override" else "sp.p"
    sql = f"""
        WITH sp AS (
            SELECT unnest(?::BIGINT[]) AS stage_id, unnest(?::DOUBLE[]) AS p
        ), rows AS (
            -- an open deal is never 'closed', whatever its stage is labelled: count it as commit
            SELECT {select_group}date_trunc('month', o.expected_close)::DATE AS month,
                   CASE WHEN s.forecast_category = 'closed' THEN 'commit' ELSE s.forecast_category END AS category,
                   o.amount, o.amount * {deal_p} AS weighted
            FROM opportunities o
            JOIN stages s ON s.id = o.stage_id
            JOIN sp ON sp.stage_id = o.stage_id
            WHERE o.status = 'open' AND o.expected_close >= ? AND o.expected_close < ?
              AND s.forecast_category <> 'omitted'
              {'AND o.id NOT IN (SELECT unnest(?::BIGINT[]))' if whatif.excluded_ids else ''}
              AND {where}
            UNION ALL
            SELECT {select_group}date_trunc('month', o.closed_at)::DATE, 'closed', o.amount, o.amount
            FROM opportunities o
            WHERE o.status = 'won' AND o.closed_at >= ? AND o.closed_at < ? AND {where}
        )
        SELECT {outer}month, category, count(*) AS deals,
               sum(amount) AS amount, round(sum(weighted), 2)::DECIMAL(18, 2) AS weighted
        FROM rows
        GROUP BY {outer}month, category
    """
    excluded = [list(whatif.excluded_ids)] if whatif.excluded_ids else []
    params = [probs["stage_id"].to_list(), probs["used"].to_list(), start, end, *excluded, *wp, start, end, *wp]
    return db.query(labelled(by, sql, f"{by}, g.group_id, g.month, g.category") if by
                    else sql + f" ORDER BY {outer}month, category", params)


def month_targets(db: Database, actor: Actor, flt: PipelineFilter | None, start: date, end: date, *,
                  by_owner: bool = False) -> pl.DataFrame:
    """Monthly won_amount targets of the reps in scope: month, (owner_id,) target.

    A target counts when it is a month-grain won_amount target of a rep the
    actor may see, matching the owner and department filters (department of
    the target row, else the rep's). Region and product filters keep only
    targets set for those regions / products; a source filter leaves no target
    (targets have no source).
    """
    flt = flt or PipelineFilter()
    scope, sp = owner_scope(actor, "t.owner_id")
    conds = ["t.grain = 'month'", "t.metric = 'won_amount'", "t.owner_id IS NOT NULL",
             "t.period_start >= ?", "t.period_start < ?", scope]
    params: list[Any] = [start, end, *sp]
    add_in(conds, params, "t.owner_id", flt.owner_ids)
    add_in(conds, params, "coalesce(t.department_id, u.department_id)", flt.department_ids)
    add_in(conds, params, "t.region", flt.regions, "VARCHAR")
    add_in(conds, params, "t.product_id", flt.product_ids)
    if flt.sources:
        conds.append("FALSE")
    key = "t.owner_id, " if by_owner else ""
    return db.query(
        f"""
        SELECT t.period_start AS month, {key}sum(t.value) AS target
        FROM targets t LEFT JOIN users u ON u.id = t.owner_id
        WHERE {' AND '.join(conds)}
        GROUP BY t.period_start{', t.owner_id' if by_owner else ''}
        ORDER BY 1
        """,
        params,
    )


def monthly(long: pl.DataFrame, targets: pl.DataFrame, start: date, end: date,
            by: str | None = None) -> pl.DataFrame:
    """Pivot category rows to one row per (group,) month with totals, target and coverage."""
    months = []
    m = start
    while m < end:
        months.append(m)
        m = add_months(m, 1)
    keys = ["group_id", by] if by else []
    base = pl.DataFrame({"month": months}, schema={"month": pl.Date})
    if by:
        groups = long.select(keys).unique()
        base = groups.join(base, how="cross")
    zero = Decimal("0.00")
    agg = long.group_by([*keys, "month"]).agg(
        *[pl.col("amount").filter(pl.col("category") == c).sum().alias(c) for c in CATEGORIES],
        pl.col("deals").filter(pl.col("category") != "closed").sum().alias("open_deals"),
        pl.col("weighted").filter(pl.col("category") != "closed").sum().alias("weighted_open"),
    ) if long.height else None
    out = base.join(agg, on=[*keys, "month"], how="left") if agg is not None else base.with_columns(
        *[pl.lit(zero).alias(c) for c in CATEGORIES], pl.lit(0).alias("open_deals"),
        pl.lit(zero).alias("weighted_open"))
    money = [*CATEGORIES, "weighted_open"]
    out = out.with_columns(*[pl.col(c).cast(pl.Decimal(18, 2)).fill_null(zero) for c in money],
                           pl.col("open_deals").cast(pl.Int64).fill_null(0))
    out = out.with_columns(
        forecast=pl.col("closed") + pl.col("weighted_open"),
        commit_total=pl.col("closed") + pl.col("commit"),
        best_case_total=pl.col("closed") + pl.col("commit") + pl.col("best_case"),
    )
    if by in (None, "owner"):
        if by == "owner":
            targets = targets.rename({"owner_id": "group_id"})
        tkeys = ["group_id", "month"] if by else ["month"]
        out = out.join(targets.select(*tkeys, pl.col("target").cast(pl.Decimal(18, 2))), on=tkeys, how="left")
        out = out.with_columns(
            coverage=pl.when(pl.col("target") > 0)
            .then(pl.col("forecast").cast(pl.Float64) / pl.col("target").cast(pl.Float64)),
            gap=pl.col("target") - pl.col("forecast"),
        )
    return out.sort([*([by] if by else []), "month"])


def forecast(db: Database, actor: Actor, flt: PipelineFilter | None = None, *, method: str = "stage",
             today: date | None = None, start: date | None = None, months: int = 6,
             whatif: WhatIf | None = None, combos: pl.DataFrame | None = None,
             by: str | None = None) -> dict[str, pl.DataFrame]:
    """The forecast as the page shows it: {"monthly", "probabilities", "categories"}."""
    check_method(method)
    today = today or date.today()
    first, end = window(today, start, months)
    if method == "empirical" and combos is None:
        combos = closed_combos(db, actor, flt)
    probs = probabilities(db, method, combos, whatif)
    long = category_rows(db, actor, flt, probs, method=method, start=first, end=end, whatif=whatif, by=by)
    targets = month_targets(db, actor, flt, first, end, by_owner=by == "owner")
    return {"monthly": monthly(long, targets, first, end, by), "probabilities": probs, "categories": long}


def period_summary(monthly_df: pl.DataFrame, first: date, last_exclusive: date) -> dict[str, Any]:
    """Sum of closed, forecast and target over months in [first, last_exclusive) (e.g. this quarter)."""
    part = monthly_df.filter((pl.col("month") >= first) & (pl.col("month") < last_exclusive))
    def total(col: str) -> Decimal:
        return part[col].sum() if part.height else Decimal(0)
    target = total("target") if "target" in part.columns and part["target"].null_count() < part.height else None
    forecast_total = total("forecast")
    return {"closed": total("closed"), "forecast": forecast_total, "commit_total": total("commit_total"),
            "target": target, "coverage": float(forecast_total) / float(target) if target else None}


def window_deals(db: Database, actor: Actor, flt: PipelineFilter | None, start: date, end: date, *,
                 limit: int = 300) -> pl.DataFrame:
    """Open deals expected to close in [start, end), biggest first: the what-if's choice of deals to leave out."""
    where, wp = scope_where(actor, flt or PipelineFilter())
    return db.query(
        f"""
        SELECT o.id, o.name, o.amount, o.expected_close, s.name AS stage
        FROM opportunities o JOIN stages s ON s.id = o.stage_id
        WHERE o.status = 'open' AND o.expected_close >= ? AND o.expected_close < ?
          AND s.forecast_category <> 'omitted' AND {where}
        ORDER BY o.amount DESC, o.id
        LIMIT ?
        """,
        [start, end, *wp, limit],
    )
