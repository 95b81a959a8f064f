"""Funnel forecast: where the quarter will land, and why.

The Monday page of a sales manager: the funnel of the period's deals, how
stages convert and how fast deals move, the weighted forecast by month against
target (with a what-if), how accurate past forecasts were, and which deals
slipped or went quiet.
"""

from datetime import date

import streamlit as st

from crm_core import forecast
from crm_core.forecast_common import METHODS
from ui import forecast_views as views
from ui.filters import sidebar_filters
from ui.i18n import t
from ui.session import cached, page_setup

db, actor = page_setup()
st.title(t("forecast.title"))
flt = sidebar_filters(db, actor)
today = date.today()
quarter_start = date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)

c1, c2 = st.columns([2, 1])
method = c1.radio(t("forecast.method"), METHODS, format_func=lambda m: t(f"forecast.method.{m}"),
                  horizontal=True, key="fc_method")
months = c2.number_input(t("forecast.months"), min_value=1, max_value=24, value=6, step=1, key="fc_months")
# Separate cached reads: changing the method or the months recomputes the forecast only.
funnel = cached(forecast.funnel, db, actor, flt)
result = cached(forecast.forecast, db, actor, flt, method=method, today=today, start=quarter_start,
                months=int(months))

tabs = st.tabs([t(f"forecast.tab.{name}") for name in
                ("funnel", "velocity", "forecast", "whatif", "accuracy", "slippage")])
with tabs[0]:
    views.funnel_tab(db, actor, flt, funnel)
with tabs[1]:
    views.velocity_tab(db, actor, flt)
with tabs[2]:
    views.forecast_tab(result, method, today, quarter_start)
with tabs[3]:
    views.whatif_tab(db, actor, flt, result, method, quarter_start, int(months))
with tabs[4]:
    views.accuracy_tab(db, actor, flt, method)
with tabs[5]:
    views.slippage_tab(db, actor, flt)
