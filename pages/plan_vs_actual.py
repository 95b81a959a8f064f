"""Plan vs actual: targets against what was won."""

from datetime import date

import streamlit as st

from crm_core import plans
from ui.i18n import t
from ui.session import cached, page_setup

db, actor = page_setup()
st.title(t("plan.title"))
month = st.date_input(t("plan.month"), value=date.today())
table = cached(plans.rep_month_attainment, db, actor, month)
st.bar_chart(table.to_pandas(), x="owner", y=["target", "actual"], stack=False)
st.dataframe(table, hide_index=True)
