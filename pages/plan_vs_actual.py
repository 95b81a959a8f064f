"""Plan vs actual: targets on any dimension against live won, ordered and collected money.

Storyboard: pick the period, metric and dimension; see the headline, actual
against target per member (click a bar to drill into the deals), the
cumulative line against the plan, the leaderboard; the roll-up rep ->
department -> company; edit or import targets; money collected and receivables.
"""

from datetime import date

import streamlit as st

from crm_core import periods, plans
from ui import plan_money, plan_overview, plan_targets
from ui.filters import sidebar_filters
from ui.i18n import t
from ui.session import page_setup

db, actor = page_setup()
today = date.today()
fy_start = periods.fiscal_year_start_month(db)
st.title(t("plan.title"))
st.caption(t("plan.caption", month=fy_start, today=today.isoformat()))
flt = sidebar_filters(db, actor, period=False)

c1, c2, c3, c4 = st.columns(4)
grain = c1.selectbox(t("plan.grain"), periods.GRAINS, index=1, format_func=lambda g: t(f"plan.grain.{g}"),
                     key="plan_grain")
choices = periods.around(today, grain, fy_start)
period = c2.selectbox(t("plan.period"), choices, index=choices.index(periods.containing(today, grain, fy_start)),
                      format_func=lambda p: p.label, key=f"plan_period_{grain}")
metric = c3.selectbox(t("plan.metric"), plans.METRICS, format_func=lambda m: t(f"plan.metric.{m}"), key="plan_metric")
by = c4.selectbox(t("plan.by"), plans.DIMENSIONS, format_func=lambda d: t(f"plan.dim.{d}"), key="plan_by")

# Lazy tabs: only the open tab computes, so the page costs what the user looks at.
overview, grid, rollup, money = st.tabs([t("plan.tab.overview"), t("plan.tab.targets"), t("plan.tab.rollup"),
                                         t("plan.tab.money")], key="plan_tab", on_change="rerun")

if overview.open:
    with overview:
        plan_overview.render_overview(db, actor, by, period, metric, today, flt)

if grid.open:
    with grid:
        plan_targets.render(db, actor, period, today)

if rollup.open:
    with rollup:
        plan_overview.render_rollup(db, actor, period, metric, today)

if money.open:
    with money:
        plan_money.render(db, actor, period, today)
