"""Value ranking: who matters, who is slipping away, what to sell next.

Scores every visible customer on indicators in four groups (weights edited
here and saved), then shows the Pareto curve and ABC classes, RFM segments,
churn risk against each customer's own rhythm, lifetime value by cohort and
cross-/up-sell lists; any segment or list can be exported or turned into
follow-up tasks for the owners. Everything reads the account value summary.
"""

import streamlit as st

from crm_core import value
from ui import value_actions, value_views, value_weights
from ui.filters import sidebar_filters
from ui.i18n import t
from ui.session import cached, page_setup

db, actor = page_setup()
st.title(t("value.title"))
flt = sidebar_filters(db, actor, period=False)
st.caption(t("value.scope_note"))

c1, c2, c3 = st.columns([1, 1, 1])
as_of = c1.date_input(t("value.as_of"), value=cached(value.default_as_of, db, actor), key="val_as_of")
metric = c2.radio(t("value.metric"), ("revenue", "gross_profit"), format_func=lambda m: t(f"value.metric.{m}"),
                  horizontal=True, key="val_metric")
grain = c3.radio(t("value.cohort_grain"), ("month", "quarter", "year"), index=1,
                 format_func=lambda g: t(f"value.grain.{g}"), horizontal=True, key="val_grain")
ov = cached(value.overview, db, actor, flt, as_of, metric, grain)
value_views.headline(ov)

tabs = st.tabs([t(f"value.tab.{name}") for name in
                ("ranking", "pareto", "rfm", "churn", "ltv", "cross_sell", "weights", "actions")])
with tabs[0]:
    value_views.ranking_tab(db, actor, ov)
with tabs[1]:
    value_views.pareto_tab(ov, metric)
with tabs[2]:
    value_views.rfm_tab(ov)
with tabs[3]:
    value_views.churn_tab(ov)
with tabs[4]:
    value_views.ltv_tab(ov)
with tabs[5]:
    value_views.cross_sell_tab(db, actor, flt, as_of, ov)
with tabs[6]:
    value_weights.editor(db, actor, ov["weights"])
with tabs[7]:
    value_actions.panel(db, actor, flt, as_of, metric, grain, ov)
