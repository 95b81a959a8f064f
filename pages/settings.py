"""Settings: the low-code configuration, one tab per area.

Each tab is rendered by the module that owns its area so that a feature's
settings live next to the feature: general (stages, fiscal year),
pipeline (pool, reminders, lifecycle, assignment rules), users and roles.
"""

import streamlit as st

from ui import settings_general, settings_pipeline, settings_users
from ui.i18n import t
from ui.session import page_setup

db, actor = page_setup()
st.title(t("settings.title"))
general, pipeline, users = st.tabs(
    [t("settings.tab_general"), t("settings.tab_pipeline"), t("settings.tab_users")]
)
with general:
    settings_general.render(db, actor)
with pipeline:
    settings_pipeline.render(db, actor)
with users:
    settings_users.render(db, actor)
