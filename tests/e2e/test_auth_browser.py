"""Sign-in in a real browser: every page refuses visitors, a reload keeps the session,
sign-out ends it (even for a copied cookie), lock-out, and user text shown as text."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from crm_core import users
from crm_core.access import load_actor
from crm_core.db import Database
from tests.e2e.conftest import ROOT, assert_no_exception, sign_in, start_server, wait_for_app

SCRIPT_NAME = "<script>window.__xss = 1</script><img src=x onerror=\"window.__xss = 2\">"
TRUSTED_HEADER = "X-Panorama-User"
PAGES = sorted(p.stem for p in (ROOT / "pages").glob("*.py"))


@pytest.fixture(scope="module")
def auth_server(e2e_template: Path, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("auth_server")
    path = tmp / "app.duckdb"
    shutil.copy(e2e_template, path)
    with Database(path) as db:
        users.create_user(db, load_actor(db, "admin"), login="scripty", display_name=SCRIPT_NAME, role="rep",
                          department_id=1, password="scripty-pass")
        users.set_auth_setting(db, load_actor(db, "admin"), "auth.max_failed_logins", 3)
    # Trusted-header sign-in is on for this server; browsers send no such header unless a test asks.
    os.environ["CRM_TRUSTED_HEADER"] = TRUSTED_HEADER
    try:
        proc, url, _ = start_server(path, tmp / "streamlit.log")
    finally:
        del os.environ["CRM_TRUSTED_HEADER"]
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture
def context(browser):
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    yield ctx
    ctx.close()


def _sees_login(page) -> bool:
    page.get_by_role("button", name="Sign in").wait_for(timeout=20_000)
    return page.locator("[data-testid='stDataFrame']").count() == 0


def test_every_page_refuses_a_visitor(context, auth_server):
    page = context.new_page()
    for name in PAGES:
        page.goto(f"{auth_server}/{name}")
        wait_for_app(page)
        assert _sees_login(page), name
        assert page.locator("[data-testid='stPlotlyChart'], [data-testid='stMetric']").count() == 0, name


def test_reload_keeps_session_and_sign_out_ends_it(browser, context, auth_server):
    page = context.new_page()
    sign_in(page, auth_server, "rep2")
    page.reload()
    wait_for_app(page)
    page.locator("[data-testid='stSidebarNav']").wait_for(timeout=20_000)
    assert page.get_by_role("button", name="Sign in").count() == 0
    cookies = {c["name"]: c for c in context.cookies()}
    assert "panorama_session" in cookies
    stolen = cookies["panorama_session"]
    assert "session" not in page.url  # the token never sits in the URL
    page.get_by_role("button", name="Sign out").click()
    wait_for_app(page)
    assert _sees_login(page)
    page.reload()
    wait_for_app(page)
    assert _sees_login(page)
    # a copy of the old cookie no longer opens the app: the session ended on the server
    other = browser.new_context()
    try:
        other.add_cookies([{k: stolen[k] for k in ("name", "value", "domain", "path")}])
        p2 = other.new_page()
        p2.goto(auth_server)
        wait_for_app(p2)
        assert _sees_login(p2)
    finally:
        other.close()


def test_lockout_shows_time_left(context, auth_server):
    page = context.new_page()
    page.goto(auth_server)
    wait_for_app(page)
    # three allowed on this server (see auth_server): each attempt's message differs
    expected = ["2 more wrong attempt", "1 more wrong attempt", "locked after too many wrong passwords"]
    for text in expected:
        page.get_by_role("textbox", name="Login name").fill("rep3")
        page.get_by_role("textbox", name="Password").fill("wrong-password")
        page.get_by_role("button", name="Sign in").click()
        page.get_by_text(text).first.wait_for(timeout=15_000)
    assert "15 minutes" in page.locator("[data-testid='stAlert']").first.inner_text()


def test_script_in_user_text_is_shown_as_text(context, auth_server):
    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    sign_in(page, auth_server, "scripty", password="scripty-pass")
    sidebar = page.locator("[data-testid='stSidebar']").inner_text()
    assert "<script>" in sidebar  # visible as text, not run
    assert page.evaluate("() => window.__xss") is None
    assert not dialogs
    assert_no_exception(page)


def test_trusted_header_signs_in_known_users_only(browser, auth_server):
    ctx = browser.new_context(extra_http_headers={TRUSTED_HEADER: "manager1"})
    try:
        page = ctx.new_page()
        page.goto(auth_server)
        wait_for_app(page)
        page.get_by_text("Signed in as").wait_for(timeout=30_000)
        assert "(manager)" in page.locator("[data-testid='stSidebar']").inner_text()
    finally:
        ctx.close()
    ctx = browser.new_context(extra_http_headers={TRUSTED_HEADER: "nobody' OR '1'='1"})
    try:
        page = ctx.new_page()
        page.goto(auth_server)
        wait_for_app(page)
        assert _sees_login(page)
    finally:
        ctx.close()


def test_admin_reads_the_audit_log(context, auth_server):
    page = context.new_page()
    sign_in(page, auth_server, "admin")
    page.locator("[data-testid='stSidebarNav']").get_by_text("Audit log", exact=True).click()
    wait_for_app(page)
    page.get_by_role("heading", name="Audit log").wait_for(timeout=20_000)
    page.locator("[data-testid='stDataFrame']").first.wait_for(timeout=20_000)
    with page.expect_download() as dl:
        page.get_by_role("button", name="Download CSV").click()
    text = Path(dl.value.path()).read_text(encoding="utf-8")
    assert text.startswith("id,logged_at,user_login,action") and "login" in text
    assert_no_exception(page)
