"""The sign-in page: password form, the first admin of an empty database, single sign-on."""

from __future__ import annotations

import streamlit as st

from crm_core import auth
from crm_core.errors import CrmError
from ui.i18n import t
from ui.session import get_db, oidc_configured, remember, sign_out


def _demo_passwords_work(db) -> bool:
    """Show the demo hint only while the demo admin still has the published password."""
    if "demo_hint" not in st.session_state:
        st.session_state["demo_hint"] = auth.demo_password_active(db)
    return st.session_state["demo_hint"]


def _first_admin_form(db) -> None:
    st.info(t("auth.first_admin_intro"))
    with st.form("first_admin"):
        login = st.text_input(t("login.user"), value="admin", key="first_login")
        name = st.text_input(t("auth.display_name"), value="Administrator", key="first_name")
        password = st.text_input(t("login.password"), type="password", key="first_password")
        again = st.text_input(t("auth.password_again"), type="password", key="first_password2")
        submitted = st.form_submit_button(t("auth.create_admin"), type="primary")
    if submitted:
        if password != again:
            st.error(t("auth.passwords_differ"))
            return
        try:
            actor = auth.create_first_admin(db, login, password, name)
        except CrmError as exc:
            st.error(str(exc))
            return
        remember(db, actor)
        st.rerun()


def login_view() -> None:
    db = get_db()
    st.title(t("login.title"))
    if auth.needs_first_admin(db):
        _first_admin_form(db)
        return
    with st.form("login"):
        login = st.text_input(t("login.user"), key="login_name")
        password = st.text_input(t("login.password"), type="password", key="login_password")
        submitted = st.form_submit_button(t("login.submit"), type="primary")
    if submitted:
        try:
            actor = auth.authenticate(db, login, password)
        except CrmError as exc:
            st.error(str(exc))
        else:
            remember(db, actor)
            st.rerun()
    if oidc_configured():
        st.button(t("auth.sso"), on_click=st.login, key="sso_login")
        if getattr(st.user, "is_logged_in", False):
            st.warning(t("auth.sso_unknown"))
    if st.session_state.get("signed_out"):
        st.caption(t("auth.signed_out"))
    if _demo_passwords_work(db):
        st.caption(t("login.demo_hint"))


def logout() -> None:
    """Sign out: ends the server-side session, so the token cannot be replayed."""
    sign_out(get_db())
