"""Import/export: bring files in, take results out."""

import streamlit as st

from ui.i18n import t
from ui.session import page_setup

db, actor = page_setup()
st.title(t("io.title"))
counts = db.table_counts()
st.dataframe({"table": list(counts), "rows": list(counts.values())}, hide_index=True)
