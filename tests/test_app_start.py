"""App start: the daily jobs run after the first page is drawn, once a day, and pages stay right.

The sign-in page no longer waits for the pool sweep and the lifecycle update
(about a second at a million deals): app.py runs them after the page. They
must still run once per day and per database, and a user's first page must
show the data as the jobs left it (or, when drawn before them, as it was read).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from crm_core import bootstrap
from crm_core.db import Database
from tests.apptest_helpers import db_scalar as _sql
from tests.apptest_helpers import run_page
from ui import session


@pytest.fixture(autouse=True)
def _jobs_without_delay(monkeypatch):
    """The jobs start at once here (the app waits 2 s for the browser); each test waits for them."""
    monkeypatch.setattr(session, "JOBS_DELAY_S", 0.0)
    monkeypatch.setattr(session, "_jobs_checked_on", {})
    yield
    session.wait_for_daily_jobs()


@pytest.fixture
def neglected(app_db):
    """rep1's first account, last followed up 400 days ago: due to return to the pool (30 days)."""
    db = Database(app_db, migrate=False)
    try:
        account_id, name = db.rows(
            "SELECT a.id, a.name FROM accounts a JOIN users u ON u.id = a.owner_id "
            "WHERE u.login = 'rep1' AND a.merged_into_id IS NULL ORDER BY a.id LIMIT 1")[0]
        old = datetime.combine(date.today(), datetime.min.time()) - timedelta(days=400)
        db.execute("UPDATE accounts SET last_followup_at = ?, claimed_at = NULL, created_at = ? WHERE id = ?",
                   [old, old, account_id])
        assert db.scalar("SELECT value FROM settings WHERE key = 'system.daily_jobs_ran_on'") is None
    finally:
        db.close()
    return account_id, name


@pytest.fixture
def job_calls(monkeypatch):
    """Count the daily runs: one more registered job that records the day it ran for."""
    calls: list[str] = []
    monkeypatch.setattr(bootstrap, "DAILY_JOBS", [*bootstrap.DAILY_JOBS, lambda db: calls.append("ran")])
    return calls


def test_jobs_run_after_the_sign_in_page_once_a_day(app_db, neglected, job_calls, monkeypatch):
    account_id, _ = neglected
    at = run_page("app.py", login=None)
    assert not at.exception
    assert "Sign in" in at.title[0].value
    # after the page: the jobs ran for today, the neglected account is back in the pool
    session.wait_for_daily_jobs()
    assert job_calls == ["ran"]
    assert _sql(app_db, "SELECT value FROM settings WHERE key = 'system.daily_jobs_ran_on'") == (
        f'"{date.today().isoformat()}"')
    assert _sql(app_db, "SELECT owner_id FROM accounts WHERE id = ?", [account_id]) is None

    # signing in: the first page shows the pool as the sweep left it; the jobs do not run again today
    at.text_input(key="login_name").set_value("rep1")
    at.text_input(key="login_password").set_value("panorama-demo")
    at.button[0].click().run()
    assert not at.exception
    assert at.title[0].value == "Pipeline"
    at.session_state["pl_tab"] = "Public pool"
    at.run()
    pool = next(df.value for df in at.dataframe if "previous_owner" in df.value.columns)
    assert account_id in set(pool["id"])
    assert job_calls == ["ran"]

    # a server still running the next day runs them again, once
    tomorrow = date.today() + timedelta(days=1)

    class NextDay(date):
        @classmethod
        def today(cls):
            return tomorrow

    monkeypatch.setattr("ui.session.date", NextDay)
    at.run()
    at.run()
    session.wait_for_daily_jobs()
    assert job_calls == ["ran", "ran"]
    assert _sql(app_db, "SELECT value FROM settings WHERE key = 'system.daily_jobs_ran_on'") == (
        f'"{tomorrow.isoformat()}"')


def test_signed_in_first_page_drawn_before_the_jobs_is_right(app_db, neglected, job_calls):
    """A session already signed in at server start: its page is drawn first, from the data as read."""
    account_id, _ = neglected
    owned = _sql(app_db, "SELECT count(*) FROM opportunities o JOIN users u ON u.id = o.owner_id "
                         "WHERE u.login = 'rep1' AND o.status = 'open'")
    at = run_page("app.py", login="rep1")
    assert not at.exception
    assert at.title[0].value == "Pipeline"
    shown = int(next(m.value for m in at.metric if m.label == "Open opportunities").replace(",", ""))
    assert shown == owned          # the sweep moves accounts, not deals: the count is the same before and after
    session.wait_for_daily_jobs()
    assert job_calls == ["ran"]    # ran after the page
    assert _sql(app_db, "SELECT owner_id FROM accounts WHERE id = ?", [account_id]) is None
    # the next run reads the new data version: the account is in the pool, not among rep1's
    at.session_state["pl_tab"] = "Public pool"
    at.run()
    pool = next(df.value for df in at.dataframe if "previous_owner" in df.value.columns)
    assert account_id in set(pool["id"])
    assert job_calls == ["ran"]


def test_failing_job_is_logged_and_the_page_still_drawn(app_db, monkeypatch, caplog):
    def broken(db):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(bootstrap, "DAILY_JOBS", [broken])
    at = run_page("app.py", login=None)
    assert not at.exception
    assert "Sign in" in at.title[0].value
    session.wait_for_daily_jobs()
    assert "daily jobs failed" in caplog.text


def test_the_launcher_skips_only_the_component_scan():
    """ui.launch is `streamlit run` minus Streamlit's scan of installed packages (Panorama has no
    components); the browser tests start the app through it, so here only the patch itself."""
    from streamlit.components.v2 import manifest_scanner

    from ui import launch

    original = manifest_scanner.scan_component_manifests
    try:
        launch._skip_component_scan()
        assert manifest_scanner.scan_component_manifests() == []
    finally:
        manifest_scanner.scan_component_manifests = original
