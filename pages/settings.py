"""Settings: the low-code configuration."""

import streamlit as st

from crm_core import lookups
from ui.i18n import t
from ui.session import page_setup

db, actor = page_setup()
st.title(t("settings.title"))
st.subheader(t("settings.stages"))
st.dataframe(lookups.stages(db), hide_index=True)
