"""Settings tab: public pool, reminders and lifecycle rules."""

from __future__ import annotations

import streamlit as st

from crm_core import settings
from crm_core.access import Actor
from crm_core.db import Database
from ui.i18n import t

_PREFIXES = ("pool.", "reminders.", "lifecycle.")


def render(db: Database, actor: Actor) -> None:
    st.subheader(t("settings.pipeline_rules"))
    values = settings.get_all(db)
    rows = [{"key": k, "value": str(v)} for k, v in values.items() if k.startswith(_PREFIXES)]
    st.dataframe(rows, hide_index=True)
