"""The audit log: filters, admins only, formula-safe export, and the page."""

from __future__ import annotations

import csv
import io
from datetime import date

import polars as pl
import pytest

from crm_core import audit, users
from crm_core.access import load_actor
from crm_core.errors import PermissionDenied
from tests.apptest_helpers import run_page, texts


def test_safe_csv_prefixes_formula_cells():
    df = pl.DataFrame({"a": ["=1+1", "+cmd", "-2", "@SUM(A1)", "\tx", "\rx", "ok", None], "n": list(range(8))})
    rows = list(csv.reader(io.StringIO(audit.safe_csv(df))))
    assert [r[0] for r in rows[1:]] == ["'=1+1", "'+cmd", "'-2", "'@SUM(A1)", "'\tx", "'\rx", "ok", ""]
    assert [r[1] for r in rows[1:]] == [str(i) for i in range(8)]


def test_list_and_export_filter_by_user_entity_date(demo_db):
    admin = load_actor(demo_db, "admin")
    users.create_user(demo_db, admin, login="aud1", display_name="=cmd|' /C calc'!A0", role="rep")
    users.set_role(demo_db, admin, "aud1", "analyst")
    found = audit.list_entries(demo_db, admin, user_login="admin", entity="user", date_from=date.today(),
                               date_to=date.today())
    assert found["action"].to_list() == ["update", "create"]  # newest first
    assert audit.list_entries(demo_db, admin, entity="no-such").height == 0
    text = audit.export_csv(demo_db, admin, entity="user")
    assert "=cmd" in text and "\n=cmd" not in text and ",=cmd" not in text
    choices = audit.filter_choices(demo_db, admin)
    assert "admin" in choices["users"] and "user" in choices["entities"]


@pytest.mark.parametrize("login", ["manager1", "rep2", "analyst1"])
def test_only_admins_read_the_audit_log(demo_db, login):
    with pytest.raises(PermissionDenied):
        audit.list_entries(demo_db, load_actor(demo_db, login))
    with pytest.raises(PermissionDenied):
        audit.export_csv(demo_db, load_actor(demo_db, login))


def test_audit_page_for_admin_and_refused_for_others(app_db):
    at = run_page("audit_log.py", login="admin")
    assert not at.exception
    assert "Audit log" in at.title[0].value
    for login in ("rep1", "manager1", "analyst1"):
        at = run_page("audit_log.py", login=login)
        assert not at.exception
        assert "does not allow" in texts(at) and len(at.dataframe) == 0


def test_export_has_every_matching_entry_not_only_the_screenful(demo_db):
    admin = load_actor(demo_db, "admin")
    demo_db.execute("INSERT INTO audit_log (user_login, action, entity) SELECT 'bulk', 'update', 'x' FROM range(6000)")
    assert audit.list_entries(demo_db, admin, user_login="bulk").height == 5000
    assert audit.export_csv(demo_db, admin, user_login="bulk").count("\n") == 6001  # header + every row
