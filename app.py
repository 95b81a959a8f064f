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

st.set_page_config(page_title="Panorama", layout="wide")


def set_favicon() -> None:
    """The favicon: a local image, since a page's ":material/…" or emoji icon as favicon makes the
    browser fetch it from Google's servers. Streamlit imports numpy to serve an image (0.1-0.4 s),
    which the sign-in form does not wait for: visitors get it after the form is drawn (their page
    has no icon, so until then the browser shows Streamlit's own local one)."""
    st.set_page_config(page_icon=str(Path(__file__).parent / "ui" / "assets" / "panorama.png"))


db = get_db()
language_picker()
actor = current_actor(db)
keep_token()

# (script, title key, icon); the pipeline is the default page at "/"
PAGES = [
    ("pages/pipeline.py", "nav.pipeline", ":material/view_kanban:"),
    ("pages/forecast.py", "nav.forecast", ":material/filter_alt:"),
    ("pages/plan_vs_actual.py", "nav.plan", ":material/flag:"),
    ("pages/relationships.py", "nav.relationships", ":material/hub:"),
    ("pages/value_ranking.py", "nav.value", ":material/workspace_premium:"),
    ("pages/import_export.py", "nav.import", ":material/upload_file:"),
    ("pages/settings.py", "nav.settings", ":material/settings:"),
    ("pages/audit_log.py", "nav.audit", ":material/history:"),
]

if actor is None:
    # Every page's address shows the sign-in form, so a bookmark or a shared link does not end in
    # "page not found"; after signing in, the same address opens that page.
    login = [st.Page(login_view, title=t("login.title"), default=True)]
    login += [st.Page(login_view, title=t("login.title"), url_path=Path(script).stem) for script, _, _ in PAGES]
    nav = st.navigation(login, position="hidden")
else:
    set_favicon()
    (home, key, icon), *others, audit_page = PAGES
    # the default page is served at "/" (its own address is reserved but answers "page not found");
    # a hidden alias makes the page's address, from a bookmark or the sign-in form, open it too
    pages = [st.Page(home, title=t(key), icon=icon, url_path="start", default=True),
             *(st.Page(script, title=t(k), icon=i) for script, k, i in others),
             st.Page(home, title=t(key), url_path=Path(home).stem, visibility="hidden")]
    if actor.role == "admin":
        pages.append(st.Page(audit_page[0], title=t(audit_page[1]), icon=audit_page[2]))
    nav = st.navigation(pages)
    with st.sidebar:
        st.caption(t("signed_in_as", name=actor.display_name, role=t(f"role.{actor.role}")))
        if st.button(t("logout"), key="logout"):
            logout()
            st.rerun()

nav.run()
if actor is None:
    set_favicon()  # after the sign-in form is drawn (see set_favicon)
# After the page is drawn: work the first page need not wait for.
warm_up_after_draw()
run_daily_jobs_after_draw(db)
