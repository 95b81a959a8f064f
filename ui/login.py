"""The sign-in form shown to visitors who are not signed in."""

from __future__ import annotations

import streamlit as st

from crm_core.auth import authenticate
from crm_core.errors import CrmError
from ui.i18n import t
from ui.session import get_db


def login_view() -> None:
    st.title(t("login.title"))
    with st.form("login"):
        login = st.text_input(t("login.user"), key="login_name")
        password = st.text_input(t("login.password"), type="password", key="login_password")
        submitted = st.form_submit_button(t("login.submit"), type="primary")
    if submitted:
        try:
            actor = authenticate(get_db(), login, password)
        except CrmError as exc:
            st.error(str(exc))
        else:
            st.session_state["actor_login"] = actor.login
            st.rerun()
    st.caption(t("login.demo_hint"))


def logout() -> None:
    for key in ("actor_login",):
        st.session_state.pop(key, None)
