"""Value ranking: who matters."""

import streamlit as st

from crm_core import value
from ui.i18n import t
from ui.session import cached, page_setup

db, actor = page_setup()
st.title(t("value.title"))
top = cached(value.top_customers, db, actor)
st.dataframe(top, hide_index=True)
