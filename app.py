"""Panorama: the composition root.

Page config, the database, the sign-in gate, the language switch and the
navigation; after the page, the day's first run does the daily jobs. Pages
live in pages/ and start with `ui.session.page_setup()`.
"""

from pathlib import Path

import streamlit as st

from ui.i18n import language_picker, t
from ui.login import login_view, logout
from ui.session import current_actor, get_db, keep_token, run_daily_jobs_after_draw, warm_up_after_draw

# A local image: a ":material/…" or emoji favicon makes the browser fetch it from Google's servers.
st.set_page_config(page_title="Panorama", page_icon=str(Path(__file__).parent / "ui" / "assets" / "panorama.png"),
                   layout="wide")

db = get_db()
language_picker()
actor = current_actor(db)
keep_token()

if actor is None:
    nav = st.navigation([st.Page(login_view, title=t("login.title"), icon=":material/login:")])
else:
    pages = [
        st.Page("pages/pipeline.py", title=t("nav.pipeline"), icon=":material/view_kanban:", default=True),
        st.Page("pages/forecast.py", title=t("nav.forecast"), icon=":material/filter_alt:"),
        st.Page("pages/plan_vs_actual.py", title=t("nav.plan"), icon=":material/flag:"),
        st.Page("pages/relationships.py", title=t("nav.relationships"), icon=":material/hub:"),
        st.Page("pages/value_ranking.py", title=t("nav.value"), icon=":material/workspace_premium:"),
        st.Page("pages/import_export.py", title=t("nav.import"), icon=":material/upload_file:"),
        st.Page("pages/settings.py", title=t("nav.settings"), icon=":material/settings:"),
    ]
    if actor.role == "admin":
        pages.append(st.Page("pages/audit_log.py", title=t("nav.audit"), icon=":material/history:"))
    nav = st.navigation(pages)
    with st.sidebar:
        st.caption(t("signed_in_as", name=actor.display_name, role=t(f"role.{actor.role}")))
        if st.button(t("logout"), key="logout"):
            logout()
            st.rerun()

nav.run()
# After the page is drawn: work the first page need not wait for.
warm_up_after_draw()
run_daily_jobs_after_draw(db)
