"""The Overview and Roll-up tabs of the plan page: headline, actual against
target per member (click a bar to drill into the deals behind it), the
leaderboard, the cumulative line against plan, and the rep -> department ->
company roll-up with its mismatch flags."""

from __future__ import annotations

from datetime import date

import polars as pl
import streamlit as st

from crm_core import plans
from crm_core.access import Actor
from crm_core.db import Database
from crm_core.filters import PipelineFilter
from crm_core.periods import Period
from ui import plan_charts
from ui.i18n import t
from ui.session import cached


def _short(v: float | None) -> str:
    """A headline number that fits its tile: 5.13M, 35.7k, 812 (the exact value is in the tooltip)."""
    if v is None:
        return "—"
    for threshold, size, unit in ((1e9, 1e9, "B"), (1e6, 1e6, "M"), (1e4, 1e3, "k")):
        if abs(v) >= threshold:
            return f"{v / size:,.2f}{unit}"
    return f"{v:,.2f}" if v != int(v) else f"{int(v):,}"


def render_overview(db: Database, actor: Actor, by: str, period: Period, metric: str, today: date,
                    flt: PipelineFilter) -> None:
    members = cached(plans.by_member, db, actor, by, period, metric, today=today, flt=flt)
    head = plans.headline(db, actor, members, period, metric, today=today, flt=flt)
    k = st.columns(5)
    k[0].metric(t("plan.kpi.target"), _short(head["target"]),
                help=None if head["target"] is None else f"{head['target']:,.2f}")
    k[1].metric(t("plan.kpi.actual"), _short(head["actual"]), None if head["gap"] is None else _short(-head["gap"]),
                help=f"{head['actual']:,.2f}")
    k[2].metric(t("plan.kpi.attainment"), "—" if head["attainment_pct"] is None else f"{head['attainment_pct']:.1f}%")
    k[3].metric(t("plan.kpi.projection"), _short(head["projection"]))
    k[4].metric(t("plan.kpi.coverage"), "—" if head["coverage"] is None else f"{head['coverage']:.2f}×")
    st.progress(min(1.0, head["elapsed_share"]), text=f"{t('plan.kpi.elapsed')}: {head['elapsed_share']:.0%}")
    if head["target"] is None:
        st.caption(t("plan.no_company_target"))

    by_label = t(f"plan.dim.{by}")
    event = st.plotly_chart(plan_charts.bullet(members, t("plan.chart.bullet", by=by_label)), on_select="rerun",
                            selection_mode="points", key="plan_bullet")
    st.caption(t("plan.chart.click"))
    clicked = [p.get("customdata") for p in (event.selection.points if event else []) if p.get("customdata") is not None]

    st.subheader(t("plan.chart.leaderboard"))
    st.dataframe(members.select("rank", "member", "target", "actual", "attainment_pct", "gap", "expected_to_date",
                                "projection", "pipeline", "coverage"), hide_index=True, key="plan_leaderboard",
                 column_config={
                     "rank": t("plan.col.rank"), "member": by_label,
                     **{c: st.column_config.NumberColumn(t(f"plan.col.{n}"), format="%.2f") for c, n in (
                         ("target", "target"), ("actual", "actual"), ("gap", "gap"), ("projection", "projection"),
                         ("pipeline", "pipeline"), ("expected_to_date", "expected"), ("coverage", "coverage"))},
                     "attainment_pct": st.column_config.NumberColumn(t("plan.col.attainment"), format="%.1f")})

    fiscal_year = period.parent("year")
    line = cached(plans.cumulative, db, actor, fiscal_year, metric, today=today, flt=flt)
    st.plotly_chart(plan_charts.cumulative(line, t("plan.chart.cumulative", year=fiscal_year.label)),
                    key="plan_cumulative")

    names = dict(zip(members["member_id"].to_list(), members["member"].to_list()))
    options = [m for m in names if m is not None]
    if options:
        # nothing is drilled until a bar is clicked or a member picked: the deals query stays off the warm path
        chosen = clicked[0] if clicked and clicked[0] in options else None
        pick = st.selectbox(t("plan.drill.pick"), options, index=None if chosen is None else options.index(chosen),
                            format_func=lambda m: names.get(m, str(m)), placeholder="—",
                            key=f"plan_drill_{by}_{chosen}")
    else:
        pick = None
    if pick is not None:
        st.subheader(t("plan.drill.title", member=names[pick], metric=t(f"plan.metric.{metric}"),
                       period=period.label))
        rows = cached(plans.drill, db, actor, metric, period, **{plans.DIM_COLUMNS[by]: pick})
        if rows.height == 0:
            st.info(t("plan.drill.none"))
        else:
            if rows.height >= 1000:
                st.caption(t("plan.drill.capped", n=rows.height))
            st.dataframe(rows.with_columns(pl.col("value").cast(pl.Float64)), hide_index=True, key="plan_drill",
                         column_config={"kind": t("plan.col.kind"), "account": t("plan.col.account"),
                                        "owner": t("plan.col.owner"), "department": t("plan.col.department"),
                                        "region": t("plan.col.region"), "product": t("plan.col.product"),
                                        "day": st.column_config.DateColumn(t("plan.col.day"), format="YYYY-MM-DD"),
                                        "value": st.column_config.NumberColumn(t("plan.col.value"), format="%.2f")})


def render_rollup(db: Database, actor: Actor, period: Period, metric: str, today: date) -> None:
    tree = cached(plans.rollup, db, actor, period, metric, today=today)
    st.caption(t("plan.rollup.caption"))
    flagged = int(tree["mismatch"].sum())
    if flagged:
        st.warning(t("plan.rollup.mismatch", n=flagged))
    shown = tree.with_columns(
        level=pl.col("level").replace_strict({lv: t(f"plan.level.{lv}") for lv in ("company", "department", "rep")}),
        name=pl.when(pl.col("level") == "rep").then(pl.lit("    ") + pl.col("name"))
        .when(pl.col("level") == "department").then(pl.lit("  ") + pl.col("name"))
        .otherwise(pl.lit(t("plan.level.company"))),
        mismatch=pl.when(pl.col("mismatch")).then(pl.lit("⚠")).otherwise(pl.lit("")),
    ).select("level", "name", "target", "children_target", "mismatch", "actual", "attainment_pct", "gap",
             "projection")
    st.dataframe(shown, hide_index=True, key="plan_rollup", column_config={
        "level": t("plan.col.level"), "name": t("plan.col.name"), "mismatch": t("plan.col.mismatch"),
        **{c: st.column_config.NumberColumn(t(f"plan.col.{n}"), format="%.2f") for c, n in (
            ("target", "target"), ("children_target", "children"), ("actual", "actual"), ("gap", "gap"),
            ("projection", "projection"))},
        "attainment_pct": st.column_config.NumberColumn(t("plan.col.attainment"), format="%.1f")})

