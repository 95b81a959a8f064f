"""Funnel forecast: where the quarter will land, and why."""

import plotly.graph_objects as go
import streamlit as st

from crm_core import forecast
from ui.filters import sidebar_filters
from ui.i18n import t
from ui.session import cached, page_setup

db, actor = page_setup()
st.title(t("forecast.title"))
flt = sidebar_filters(db, actor)
funnel = cached(forecast.stage_funnel, db, actor, flt)
fig = go.Figure(go.Funnel(y=funnel["stage"].to_list(), x=funnel["deals"].to_list(), textinfo="value+percent initial"))
st.plotly_chart(fig, width="stretch")
st.dataframe(funnel, hide_index=True)
