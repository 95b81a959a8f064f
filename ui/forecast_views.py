"""The sections of the forecast page, one function per tab.

Each takes the database, the actor, the shared filter and what the page
already computed; every figure comes from a crm_core call through `cached`.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import polars as pl
import streamlit as st

from crm_core import forecast
from crm_core.access import Actor
from crm_core.db import Database
from crm_core.filters import PipelineFilter
from crm_core.forecast_common import GROUPS, add_months, month_start
from crm_core.forecast_weighted import window_deals
from ui.forecast_charts import accuracy_figure, forecast_figure, funnel_figure, velocity_figure
from ui.i18n import t
from ui.session import cached, run_write

MONEY = {"amount", "closed", "commit", "best_case", "pipeline", "weighted_open", "forecast", "commit_total",
         "best_case_total", "target", "gap", "won_amount", "open_amount", "avg_deal_size", "velocity", "actual",
         "error", "weighted", "total_amount", "baseline", "scenario", "change"}
PERCENT = {"conversion", "drop_off_rate", "win_rate", "coverage", "error_pct", "slip_rate", "default",
           "empirical", "used", "probability", "mean_abs_error_pct", "baseline_coverage", "scenario_coverage"}
HIDDEN = {"group_id", "is_total", "stage_id", "position", "is_won", "owner_id", "total_deals", "total_amount"}


def money(value: Any) -> str:
    return "–" if value is None else f"{float(value):,.0f}"


def pct(value: Any) -> str:
    return "–" if value is None else f"{float(value):.0%}"


def table(df: pl.DataFrame, *, key: str | None = None, hide: set[str] | None = None) -> None:
    """A frame with translated headers and money/percent formats (numbers cast to float for display only)."""
    hide = HIDDEN if hide is None else hide
    shown = df.select([c for c in df.columns if c not in hide])
    shown = shown.with_columns([pl.col(c).cast(pl.Float64) for c in shown.columns
                                if c in MONEY and shown[c].dtype != pl.Utf8])
    config: dict[str, Any] = {}
    for c in shown.columns:
        label = t(f"forecast.col.{c}") if c not in GROUPS else t(f"forecast.by.{c}")
        if shown[c].dtype == pl.Date:
            config[c] = st.column_config.DateColumn(label, format="YYYY-MM" if c == "month" else "YYYY-MM-DD")
        elif c in MONEY:
            config[c] = st.column_config.NumberColumn(label, format="localized")
        elif c in PERCENT:
            config[c] = st.column_config.NumberColumn(label, format="percent")
        else:
            config[c] = st.column_config.Column(label)
    st.dataframe(shown, hide_index=True, width="stretch", column_config=config, key=key)


def funnel_tab(db: Database, actor: Actor, flt: PipelineFilter, funnel: pl.DataFrame) -> None:
    st.caption(t("forecast.funnel_help"))
    first = funnel.row(0, named=True) if funnel.height else None
    won = funnel.filter(pl.col("is_won"))
    c1, c2, c3 = st.columns(3)
    c1.metric(t("forecast.cohort"), f"{first['entered']:,}" if first else "0")
    c2.metric(t("forecast.won_deals"), f"{int(won['deals'].sum()):,}")
    c3.metric(t("forecast.cohort_win"), pct(int(won["deals"].sum()) / first["entered"])
              if first and first["entered"] else "–")
    stages = funnel["stage"].to_list()
    event = st.plotly_chart(funnel_figure(funnel), width="stretch", on_select="rerun", selection_mode="points",
                            key="fc_funnel_chart")
    clicked = None
    points = (event or {}).get("selection", {}).get("points", []) if isinstance(event, dict) else \
        getattr(getattr(event, "selection", None), "points", []) or []
    if points:
        idx = points[0].get("point_index", points[0].get("point_number"))
        clicked = stages[idx] if isinstance(idx, int) and 0 <= idx < len(stages) else None
    if clicked in stages:
        st.session_state["fc_stage_pick"] = clicked
    table(funnel, key="fc_funnel_table")
    if not stages:
        return
    pick = st.selectbox(t("forecast.stage_pick"), stages, key="fc_stage_pick")
    stage_id = int(funnel.filter(pl.col("stage") == pick)["stage_id"][0])
    deals = cached(forecast.stage_deals, db, actor, flt, stage_id)
    st.subheader(t("forecast.stage_deals", stage=pick, n=deals.height))
    table(deals, key="fc_stage_deals", hide={"id"})


def velocity_tab(db: Database, actor: Actor, flt: PipelineFilter) -> None:
    st.caption(t("forecast.velocity_help"))
    by = st.selectbox(t("forecast.group_by"), list(GROUPS), format_func=lambda g: t(f"forecast.by.{g}"),
                      key="fc_by")
    vel = cached(forecast.velocity, db, actor, flt, by=by)
    total = vel.filter(pl.col("is_total")).row(0, named=True)
    c1, c2, c3, c4 = st.columns(4)
    c1.metric(t("forecast.col.win_rate"), pct(total["win_rate"]))
    c2.metric(t("forecast.col.avg_deal_size"), money(total["avg_deal_size"]))
    c3.metric(t("forecast.col.avg_cycle_days"), "–" if total["avg_cycle_days"] is None
              else f"{total['avg_cycle_days']:.1f}")
    c4.metric(t("forecast.col.velocity"), money(total["velocity"]))
    st.plotly_chart(velocity_figure(vel, by), width="stretch", key="fc_velocity_chart")
    table(vel.filter(~pl.col("is_total")), key="fc_velocity_table")
    st.subheader(t("forecast.time_in_stage"))
    by_stage = cached(forecast.funnel, db, actor, flt, by=by)
    if by_stage.height:
        wide = by_stage.filter(~pl.col("is_won")).pivot(on="stage", index=by, values="avg_days",
                                                         maintain_order=True)
        st.dataframe(wide.rename({by: t(f"forecast.by.{by}")}), hide_index=True, width="stretch",
                     key="fc_time_table")


def forecast_tab(result: dict[str, pl.DataFrame], method: str, today: date, q_start: date) -> None:
    monthly = result["monthly"]
    st.info(t(f"forecast.method_says.{method}"))
    this_month = month_start(today)
    m = forecast.period_summary(monthly, this_month, add_months(this_month, 1))
    q = forecast.period_summary(monthly, q_start, add_months(q_start, 3))
    c1, c2, c3, c4 = st.columns(4)
    c1.metric(t("forecast.month_forecast"), money(m["forecast"]), help=t("forecast.forecast_formula"))
    c2.metric(t("forecast.month_coverage"), pct(m["coverage"]), help=t("forecast.target_rule"))
    c3.metric(t("forecast.quarter_forecast"), money(q["forecast"]))
    c4.metric(t("forecast.quarter_coverage"), pct(q["coverage"]))
    st.plotly_chart(forecast_figure(monthly), width="stretch", key="fc_forecast_chart")
    table(monthly, key="fc_monthly_table")
    st.subheader(t("forecast.probabilities"))
    table(result["probabilities"], key="fc_prob_table")


def whatif_tab(db: Database, actor: Actor, flt: PipelineFilter, result: dict[str, pl.DataFrame], method: str,
               start: date, months: int) -> None:
    st.caption(t("forecast.whatif_help"))
    probs = result["probabilities"]
    cols = st.columns(max(1, probs.height))
    changed: list[tuple[int, float]] = []
    for col, row in zip(cols, probs.iter_rows(named=True)):
        value = col.number_input(row["stage"], min_value=0.0, max_value=1.0, step=0.05,
                                 value=round(float(row["used"]), 4), key=f"fc_wi_{row['stage_id']}")
        if abs(value - float(row["used"])) > 1e-9:
            changed.append((int(row["stage_id"]), float(value)))
    deals = cached(window_deals, db, actor, flt, start, add_months(start, months))
    labels = {r["id"]: f"{r['name']} · {money(r['amount'])} · {r['expected_close']}"
              for r in deals.iter_rows(named=True)}
    excluded = st.multiselect(t("forecast.exclude"), list(labels), format_func=labels.get, key="fc_wi_exclude")
    whatif = forecast.WhatIf(stage_probabilities=tuple(changed), excluded_ids=tuple(int(i) for i in excluded))
    if whatif.is_empty():
        st.write(t("forecast.whatif_none"))
        scenario = result
    else:
        scenario = cached(forecast.forecast, db, actor, flt, method=method, start=start, months=months,
                          whatif=whatif)
    base, new = result["monthly"], scenario["monthly"]
    compare = base.select(
        "month", pl.col("forecast").alias("baseline"), pl.col("coverage").alias("baseline_coverage"), "target",
    ).join(new.select("month", pl.col("forecast").alias("scenario"),
                      pl.col("coverage").alias("scenario_coverage")), on="month")
    compare = compare.with_columns(change=pl.col("scenario") - pl.col("baseline"))
    b_total, s_total = base["forecast"].sum(), new["forecast"].sum()
    c1, c2 = st.columns(2)
    c1.metric(t("forecast.scenario_total"), money(s_total),
              delta=None if whatif.is_empty() else money(s_total - b_total))
    # coverage over the months that have a target only
    with_target = compare.filter(pl.col("target").is_not_null())
    target = with_target["target"].sum() if with_target.height else None
    if target:
        b_cov = float(with_target["baseline"].sum()) / float(target)
        s_cov = float(with_target["scenario"].sum()) / float(target)
        c2.metric(t("forecast.scenario_coverage"), pct(s_cov),
                  delta=None if whatif.is_empty() else f"{(s_cov - b_cov) * 100:+.1f} pp")
    else:
        c2.metric(t("forecast.scenario_coverage"), "–")
    table(compare, key="fc_whatif_table")


def accuracy_tab(db: Database, actor: Actor, flt: PipelineFilter, method: str) -> None:
    st.caption(t("forecast.accuracy_help"))
    c1, c2 = st.columns([1, 2])
    if c1.button(t("forecast.snapshot_button"), key="fc_snapshot"):
        run_write(lambda: forecast.take_snapshot(db, actor, method=method), success=t("forecast.snapshot_done"))
    snaps = cached(forecast.snapshot_list, db, actor)
    c2.caption(t("forecast.snapshot_count", n=snaps.height,
                 last=str(snaps["taken_at"][0]) if snaps.height else "–"))
    weeks = st.number_input(t("forecast.weeks_before"), min_value=0, max_value=26, value=2, step=1,
                            key="fc_weeks")
    acc = cached(forecast.accuracy, db, actor, flt, weeks_before=int(weeks), method=method)
    if acc.height == 0:
        st.write(t("forecast.accuracy_none"))
        return
    totals = forecast.accuracy_totals(acc)
    st.plotly_chart(accuracy_figure(totals), width="stretch", key="fc_accuracy_chart")
    table(totals, key="fc_accuracy_totals")
    st.subheader(t("forecast.accuracy_by_rep"))
    table(acc, key="fc_accuracy_table")


def slippage_tab(db: Database, actor: Actor, flt: PipelineFilter) -> None:
    st.caption(t("forecast.slippage_help"))
    overall = cached(forecast.slippage, db, actor, flt).row(0, named=True)
    c1, c2, c3 = st.columns(3)
    c1.metric(t("forecast.col.slip_rate"), pct(overall["slip_rate"]))
    c2.metric(t("forecast.col.slips"), f"{overall['slips']:,}")
    c3.metric(t("forecast.col.avg_slip_days"), "–" if overall["avg_slip_days"] is None
              else f"{overall['avg_slip_days']:.1f}")
    table(cached(forecast.slippage, db, actor, flt, by="owner"), key="fc_slip_by_owner")
    st.subheader(t("forecast.slipped_deals"))
    table(cached(forecast.slipped_deals, db, actor, flt), key="fc_slipped", hide={"id"})
    st.subheader(t("forecast.stale"))
    idle = st.number_input(t("forecast.idle_days"), min_value=1, max_value=365, value=30, step=1, key="fc_idle")
    stale = cached(forecast.stale_deals, db, actor, flt, idle_days=int(idle))
    n = int(stale["total_deals"][0]) if stale.height else 0
    amount = stale["total_amount"][0] if stale.height else 0
    st.metric(t("forecast.stale_count"), f"{n:,}", help=t("forecast.stale_rule"))
    st.caption(t("forecast.stale_amount", amount=money(amount)))
    table(stale, key="fc_stale", hide={"id", "total_deals", "total_amount"})
