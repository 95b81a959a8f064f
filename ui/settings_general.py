"""Settings tab: the pipeline stages and company-wide values."""

from __future__ import annotations

import streamlit as st

from crm_core import lookups, settings
from crm_core.access import Actor
from crm_core.db import Database
from ui.i18n import t


def render(db: Database, actor: Actor) -> None:
    st.subheader(t("settings.stages"))
    st.dataframe(lookups.stages(db), hide_index=True)
    st.subheader(t("settings.company"))
    st.write(t("settings.fiscal_year_start", month=settings.get(db, "fiscal_year_start_month")))
    st.write(t("settings.currency", currency=settings.get(db, "currency")))
