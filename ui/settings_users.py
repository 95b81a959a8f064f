"""Settings tab: users, their roles and departments."""

from __future__ import annotations

import streamlit as st

from crm_core import lookups
from crm_core.access import Actor
from crm_core.db import Database
from ui.i18n import t


def render(db: Database, actor: Actor) -> None:
    st.subheader(t("settings.users"))
    st.dataframe(lookups.users(db), hide_index=True)
