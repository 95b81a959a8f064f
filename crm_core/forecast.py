"""Funnel forecast: where the quarter will land, and why.

The figures live in small modules named for their job; this module is the
entry point pages, the CLI and the benchmark use:

- forecast_funnel: funnel by stage, conversion, drop-off, time in stage;
- forecast_velocity: win rate, deal size, cycle, sales velocity;
- forecast_weighted: weighted forecast, categories, targets, what-if;
- forecast_snapshots: snapshots and forecast accuracy;
- forecast_slippage: close dates moved later, stale deals;
- forecast_facts: the per-deal summary the funnel reads, kept current.

`REPORTS` gives `crm report funnel|forecast|velocity` the same functions.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import polars as pl

from crm_core.access import Actor
from crm_core.db import Database
from crm_core.filters import PipelineFilter
from crm_core.forecast_common import month_start
from crm_core.forecast_funnel import cohort_combos, funnel, stage_deals
from crm_core.forecast_slippage import slippage, slipped_deals, stale_deals
from crm_core.forecast_snapshots import accuracy, accuracy_totals, snapshot_list, take_snapshot
from crm_core.forecast_velocity import velocity
from crm_core.forecast_weighted import WhatIf, forecast, period_summary, probabilities

__all__ = [
    "REPORTS", "WhatIf", "accuracy", "accuracy_totals", "cohort_combos", "forecast", "funnel",
    "period_summary", "probabilities", "slipped_deals", "slippage", "snapshot_list", "stage_deals",
    "stage_funnel", "stale_deals", "take_snapshot", "velocity",
]


def stage_funnel(db: Database, actor: Actor, flt: PipelineFilter | None = None) -> pl.DataFrame:
    """Open deals per stage: count and amount, in pipeline order (kept for callers of the starter)."""
    f = funnel(db, actor, flt)
    return f.filter(~pl.col("is_won")).select("position", "stage", "deals", "amount")


# -- reports ------------------------------------------------------------------

def _formula_safe(df: pl.DataFrame) -> pl.DataFrame:
    """Names (owners, products, stages) a spreadsheet would run as formulas get a leading apostrophe."""
    return df.with_columns(
        pl.when(pl.col(c).str.contains(r"^[=+\-@\t\r]")).then(pl.lit("'") + pl.col(c)).otherwise(pl.col(c)).alias(c)
        for c, dtype in df.schema.items() if dtype == pl.String
    )


def _report_filter(opts: Any) -> PipelineFilter:
    return PipelineFilter(date_from=opts.date_from, date_to=opts.date_to)


def _option(opts: Any, name: str, default: Any) -> Any:
    return dict(opts.extra).get(name, default)


def report_funnel(db: Database, actor: Actor, opts: Any) -> pl.DataFrame:
    """Funnel of the deals created between --from and --to."""
    return _formula_safe(funnel(db, actor, _report_filter(opts), by=opts.by))


def report_velocity(db: Database, actor: Actor, opts: Any) -> pl.DataFrame:
    """Velocity with won/lost deals closed between --from and --to."""
    return _formula_safe(velocity(db, actor, _report_filter(opts), by=opts.by))


def report_forecast(db: Database, actor: Actor, opts: Any) -> pl.DataFrame:
    """Monthly forecast for the months from --from to --to (default: this month and the next five)."""
    today = opts.today or date.today()
    start = month_start(opts.date_from) if opts.date_from else month_start(today)
    months = 6
    if opts.date_to:
        end = month_start(opts.date_to)
        months = (end.year - start.year) * 12 + end.month - start.month + 1
    # the report's dates choose the window; the cohort for empirical rates is all history
    return _formula_safe(forecast(db, actor, PipelineFilter(), method=_option(opts, "method", "stage"), today=today,
                                  start=start, months=months, by=opts.by)["monthly"])


REPORTS = {"funnel": report_funnel, "forecast": report_forecast, "velocity": report_velocity}
