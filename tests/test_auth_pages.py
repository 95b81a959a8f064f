"""Sign-in in AppTest: every page refuses visitors, the first-admin form, the users tab."""

from __future__ import annotations

from pathlib import Path

import pytest

from crm_core import auth, users
from crm_core.access import load_actor
from crm_core.db import Database
from tests.apptest_helpers import run_page, texts

PAGES = sorted(p.name for p in (Path(__file__).resolve().parent.parent / "pages").glob("*.py"))


@pytest.mark.parametrize("page", PAGES)
def test_every_page_refuses_a_visitor(app_db, page):
    at = run_page(page, login=None)
    assert not at.exception
    shown = texts(at)
    assert "Please sign in" in shown and "Sign in to Panorama" in shown
    assert len(at.dataframe) == 0 and len(at.get("plotly_chart")) == 0 and len(at.metric) == 0


def test_app_signs_in_through_the_form_and_hides_audit_from_reps(app_db):
    at = run_page("app.py", login=None)
    at.text_input(key="login_name").set_value("rep1")
    at.text_input(key="login_password").set_value("panorama-demo")
    at.button[0].click().run()
    assert not at.exception
    assert at.session_state["actor_login"] == "rep1" and at.session_state["auth_token"].startswith("v1.")
    assert "Audit log" not in str(at.get("navigation"))  # rep has no audit page in the menu


def test_wrong_password_shows_message(app_db):
    at = run_page("app.py", login=None)
    at.text_input(key="login_name").set_value("rep1")
    at.text_input(key="login_password").set_value("nope")
    at.button[0].click().run()
    assert "Wrong login name or password" in texts(at)
    assert "actor_login" not in at.session_state


def test_empty_database_asks_for_the_first_admin(tmp_path, monkeypatch):
    path = tmp_path / "empty.duckdb"
    Database(path).close()
    monkeypatch.setenv("CRM_DB_PATH", str(path))
    at = run_page("app.py", login=None)
    assert "no admin yet" in texts(at)
    at.text_input(key="first_login").set_value("chief")
    at.text_input(key="first_password").set_value("chief-password")
    at.text_input(key="first_password2").set_value("chief-password")
    at.button[0].click().run()
    assert not at.exception
    assert at.session_state["actor_login"] == "chief"
    with Database(path) as db:
        assert auth.authenticate(db, "chief", "chief-password").role == "admin"


def test_settings_users_tab_add_user_and_stale_edit(app_db):
    at = run_page("settings.py", login="admin")
    assert not at.exception
    at.text_input(key="nu_login").set_value("newbie")
    at.text_input(key="nu_name").set_value("New Bie")
    at.text_input(key="nu_password").set_value("newbie-pass")
    [b for b in at.button if b.label == "Add user"][0].click().run()
    assert not at.exception
    with Database(app_db) as db:
        assert auth.authenticate(db, "newbie", "newbie-pass").role == "rep"
    # someone else edits the user shown in the edit form after it was loaded: saving is refused
    uid = at.selectbox(key="eu_pick").value
    with Database(app_db) as db:
        row = users.get_user(db, uid)
        users.update_user(db, load_actor(db, "admin"), uid, row["version"], {"region": "Elsewhere"})
    at.text_input(key=f"eu_name_{uid}").set_value("Changed Here")
    [b for b in at.button if b.label == "Save" and f"edit_user_{uid}" in str(b.proto.form_id)][0].click().run()
    assert not at.exception
    assert "changed by someone else" in texts(at)
    with Database(app_db) as db:
        assert users.get_user(db, uid)["display_name"] != "Changed Here"


def test_non_admin_sees_only_own_password_form(app_db):
    at = run_page("settings.py", login="manager1")
    assert not at.exception
    assert "Only admins manage users" in texts(at)
    assert not [b for b in at.button if b.label == "Add user"]


def test_single_sign_on_offered_only_when_configured(app_db):
    from streamlit.testing.v1 import AppTest

    from tests.apptest_helpers import ROOT

    at = run_page("app.py", login=None)
    assert not [b for b in at.button if "single sign-on" in b.label]
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.secrets["auth"] = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "x" * 32,
                          "client_id": "id", "client_secret": "secret",
                          "server_metadata_url": "https://idp.example/.well-known/openid-configuration"}
    at.run()
    assert not at.exception
    assert [b for b in at.button if "single sign-on" in b.label]


@pytest.mark.parametrize("page", PAGES)
def test_every_page_starts_with_the_sign_in_gate(page):
    """page_setup() comes before anything a page draws or reads, so no page can skip the gate."""
    import ast

    tree = ast.parse((Path(__file__).resolve().parent.parent / "pages" / page).read_text())
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)) or (
                isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)):
            continue
        assert "page_setup()" in ast.unparse(node), f"{page}: the first statement must call page_setup()"
        break
