"""Pipeline: the page sales reps live in.

My open deals in an editable grid, entry forms for accounts, contacts, deals
and follow-ups, the public pool, reminders, and (for managers) merges,
handovers and lifecycle rules. Reps see their own rows and the pool; managers
their department's.
"""

import streamlit as st

from ui import (
    pipeline_account_form,
    pipeline_accounts,
    pipeline_activity_form,
    pipeline_deal_form,
    pipeline_grid,
    pipeline_manage,
    pipeline_pool,
    pipeline_reminders,
)
from ui.filters import sidebar_filters
from ui.i18n import t
from ui.pipeline_common import show_flash
from ui.session import page_setup

db, actor = page_setup()
st.title(t("pipeline.title"))
show_flash()
flt = sidebar_filters(db, actor, period=False)

names = ["deals", "new", "followups", "accounts", "pool", "reminders"] + (["manage"] if actor.is_manager_or_admin else [])
tabs = dict(zip(names, st.tabs([t(f"pipeline.tab.{n}") for n in names])))
with tabs["deals"]:
    pipeline_grid.render(db, actor, flt)
with tabs["new"]:
    if actor.can_edit_pipeline:
        pipeline_deal_form.render(db, actor)
        pipeline_account_form.render_account(db, actor)
        pipeline_account_form.render_contact(db, actor)
    else:
        st.info(t("pipeline.read_only"))
with tabs["followups"]:
    if actor.can_edit_pipeline:
        pipeline_activity_form.render(db, actor)
    else:
        st.info(t("pipeline.read_only"))
with tabs["accounts"]:
    pipeline_accounts.render(db, actor)
with tabs["pool"]:
    pipeline_pool.render(db, actor)
with tabs["reminders"]:
    pipeline_reminders.render(db, actor)
if "manage" in tabs:
    with tabs["manage"]:
        pipeline_manage.render(db, actor)
