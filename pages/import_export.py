"""Import/export: bring files in checked and undoable, take any table or report out.

Analysts and admins import (upload, mapping, dry run, load or reject, undo);
everyone exports what their role lets them see.
"""

import streamlit as st

from ui.i18n import t
from ui.import_history import export_tab, history_tab
from ui.import_wizard import import_tab
from ui.session import page_setup

db, actor = page_setup()
st.title(t("io.title"))
tabs = st.tabs([t("io.tab.import"), t("io.tab.export"), t("io.tab.history")])
with tabs[0]:
    import_tab(db, actor)
with tabs[1]:
    export_tab(db, actor)
with tabs[2]:
    history_tab(db, actor)
