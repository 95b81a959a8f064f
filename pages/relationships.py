"""Relationships: customer groups."""

import streamlit as st

from crm_core import graph
from ui.i18n import t
from ui.session import cached, page_setup

db, actor = page_setup()
st.title(t("rel.title"))
account_id = st.number_input(t("rel.account_id"), min_value=1, value=1, step=1)
group = cached(graph.account_group, db, actor, int(account_id))
st.dataframe(group, hide_index=True)
