"""Pipeline: the page sales reps live in."""

import streamlit as st

from crm_core import opportunities
from ui.filters import sidebar_filters
from ui.i18n import t
from ui.session import cached, page_setup

db, actor = page_setup()
st.title(t("pipeline.title"))
flt = sidebar_filters(db, actor, period=False)
deals = cached(opportunities.list_open, db, actor, flt)
st.metric(t("pipeline.open_count"), f"{deals.height:,}")
st.dataframe(deals.drop("version"), hide_index=True, width="stretch")
