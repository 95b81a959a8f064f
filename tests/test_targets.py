"""Targets: versioned, audited edits; the grid's all-or-nothing save; CSV import."""

from __future__ import annotations

from datetime import date

import pytest

from crm_core import periods, plans, settings, targets
from crm_core.access import Actor, load_actor
from crm_core.errors import DuplicateError, PermissionDenied, StaleEditError, ValidationError
from tests.test_plans import TODAY, _small_template, small_rw  # noqa: F401 - shared fixtures

ADMIN = Actor.system()
Q2 = periods.parse("2026Q2")


def _count(db, sql="SELECT count(*) FROM targets"):
    return db.scalar(sql)


def test_create_update_delete_are_versioned_and_audited(small_rw):  # noqa: F811
    db = small_rw
    new = targets.create(db, ADMIN, {"grain": "quarter", "period_start": date(2026, 4, 1), "metric": "won_amount",
                                     "owner_id": 6, "value": 400})
    row = {r["id"]: r for r in plans.target_actuals(db, ADMIN, Q2, today=TODAY).iter_rows(named=True)}[new]
    assert (row["target"], row["actual"], row["attainment_pct"]) == (400, 300, 75.0)  # rep C won o5 300
    targets.update(db, ADMIN, new, 1, {"value": 600})
    row = {r["id"]: r for r in plans.target_actuals(db, ADMIN, Q2, today=TODAY).iter_rows(named=True)}[new]
    assert (row["target"], row["attainment_pct"], row["version"]) == (600, 50.0, 2)
    with pytest.raises(StaleEditError) as stale:
        targets.update(db, ADMIN, new, 1, {"value": 700})
    assert stale.value.current["value"] == 600
    with pytest.raises(StaleEditError):
        targets.delete(db, ADMIN, new, 1)
    targets.delete(db, ADMIN, new, 2)
    actions = [r[0] for r in db.rows("SELECT action FROM audit_log WHERE entity = 'target' AND entity_id = ? "
                                     "ORDER BY id", [new])]
    assert actions == ["create", "update", "delete"]


def test_bad_input_is_refused_and_changes_nothing(small_rw):  # noqa: F811
    db = small_rw
    before = _count(db)
    base = {"grain": "quarter", "period_start": date(2026, 4, 1), "metric": "won_amount", "value": 1}
    for bad, match in (({"grain": "week"}, "grain"), ({"period_start": date(2026, 5, 1)}, "2026-04-01"),
                       ({"metric": "profit"}, "metric"), ({"value": -5}, "from 0 up"), ({"value": "lots"}, "number"),
                       ({"owner_id": 999}, "owner 999 does not exist")):
        with pytest.raises(ValidationError, match=match):
            targets.create(db, ADMIN, {**base, **bad})
    with pytest.raises(DuplicateError, match="already exists"):
        targets.create(db, ADMIN, {**base, "department_id": 1})  # target 1 covers it
    assert _count(db) == before


def test_fiscal_year_start_shapes_valid_periods(small_rw):  # noqa: F811
    db = small_rw
    settings.put(db, ADMIN, "fiscal_year_start_month", 4)
    # April starts FY2026 Q1; January starts its Q4; February starts nothing
    targets.create(db, ADMIN, {"grain": "year", "period_start": date(2026, 4, 1), "metric": "collected", "value": 5})
    targets.create(db, ADMIN, {"grain": "quarter", "period_start": date(2027, 1, 1), "metric": "collected", "value": 5})
    with pytest.raises(ValidationError, match="fiscal year starts in month 4"):
        targets.create(db, ADMIN, {"grain": "quarter", "period_start": date(2026, 2, 1), "metric": "collected",
                                   "value": 5})


def test_who_may_change_targets(small_rw):  # noqa: F811
    db = small_rw
    rep = load_actor(db, "repA")
    with pytest.raises(PermissionDenied):
        targets.update(db, rep, 3, 1, {"value": 1})
    analyst = load_actor(db, "ana")
    with pytest.raises(PermissionDenied):
        targets.create(db, analyst, {"grain": "month", "period_start": date(2026, 4, 1), "metric": "won_count",
                                     "value": 1})
    mgr_w = load_actor(db, "mgrW")
    targets.update(db, mgr_w, 2, 1, {"value": 2500})  # West's own target
    with pytest.raises(PermissionDenied):
        targets.update(db, mgr_w, 1, 1, {"value": 1})  # East's
    with pytest.raises(PermissionDenied):
        targets.update(db, mgr_w, 6, 1, {"value": 1})  # the company's


def test_grid_save_is_all_or_nothing(small_rw):  # noqa: F811
    db = small_rw
    before = db.rows("SELECT id, value, version FROM targets ORDER BY id")
    with pytest.raises(ValidationError, match="New row 1: .*2026Q9"):
        targets.save_labeled_grid(
            db, ADMIN,
            changed=[(2, 1, {"period": "2026Q2", "metric": "won_amount", "department": "West", "value": 999})],
            added=[{"period": "2026Q9", "metric": "won_amount", "owner": "Rep C", "value": 5}])
    assert db.rows("SELECT id, value, version FROM targets ORDER BY id") == before
    done = targets.save_labeled_grid(
        db, ADMIN,
        changed=[(2, 1, {"period": "2026Q2", "metric": "won_amount", "department": "West", "value": 999})],
        added=[{"period": "2026Q2", "metric": "won_amount", "owner": "Rep C", "value": 600}],
        deleted=[(12, 1)])
    assert done == {"added": 1, "changed": 1, "deleted": 1}
    rows = {r["id"]: r for r in plans.target_actuals(db, ADMIN, Q2, today=TODAY).iter_rows(named=True)}
    assert rows[2]["target"] == 999 and 12 not in rows
    new = [r for r in rows.values() if r["owner"] == "Rep C"][0]
    assert (new["actual"], new["attainment_pct"]) == (300, 50.0)


CSV_OK = """period,metric,owner,department,region,product,account,value,note
2026Q3,won_amount,repC,,,,,1500,raised
2026Q3,collected,,West,,,,"1,200",
2026-08,order_revenue,,,North,Widget,,300,
FY2026,new_customers,,,,,Acme,2,
"""


def test_import_csv_adds_and_updates(small_rw):  # noqa: F811
    db = small_rw
    before = _count(db)
    done = targets.import_csv(db, ADMIN, CSV_OK.encode(), file_name="plan.csv")
    # the first row matches target 9 (rep C, Q3, won amount, 1000): updated
    assert done == {"created": 3, "updated": 1, "unchanged": 0}
    assert _count(db) == before + 3
    assert db.scalar("SELECT value FROM targets WHERE id = 9") == 1500
    again = targets.import_csv(db, ADMIN, CSV_OK, file_name="plan.csv")
    assert again == {"created": 0, "updated": 0, "unchanged": 4}
    assert db.scalar("SELECT count(*) FROM import_batches WHERE entity = 'targets'") == 2


def test_import_chinese_headers_in_gbk(small_rw):  # noqa: F811
    db = small_rw
    text = "期间\t指标\t负责人\t部门\t目标\n2026Q4\t回款\t\t东区\t800\n".replace("东区", "East")
    done = targets.import_csv(db, ADMIN, text.encode("gb18030"))
    assert done["created"] == 1
    assert db.scalar("SELECT metric FROM targets WHERE period_start = '2026-10-01'") == "collected"


def test_import_with_errors_changes_nothing_and_names_rows(small_rw):  # noqa: F811
    db = small_rw
    before = db.rows("SELECT * FROM targets ORDER BY id")
    bad = ("period,metric,owner,value\n2026Q3,won_amount,repC,100\n2026Q7,won_amount,repA,5\n"
           "2026-08,won_amount,nobody,5\n2026-08,won_amount,repA,-1\n2026-09,dreams,repA,1\n"
           "2026-09,won_amount,repA,1\n2026-09,won_amount,repA,2\n")
    with pytest.raises(ValidationError) as exc:
        targets.import_csv(db, ADMIN, bad)
    msg = str(exc.value)
    assert "Nothing was imported" in msg
    assert "row 3:" in msg and "2026Q7" in msg
    assert "row 4: no owner called 'nobody'" in msg
    assert "row 5:" in msg and "from 0 up" in msg
    assert "row 6: metric 'dreams'" in msg
    assert "row 8: the same target as row 7" in msg
    assert "row 2" not in msg
    assert db.rows("SELECT * FROM targets ORDER BY id") == before
    with pytest.raises(ValidationError, match="Unknown column 'colour'"):
        targets.import_csv(db, ADMIN, "period,colour,value\n2026Q3,red,1\n")
    with pytest.raises(ValidationError, match="empty"):
        targets.import_csv(db, ADMIN, b"")


def test_import_headerless_quota_history_by_date(small_rw):  # noqa: F811
    # like a quota history export: owner, quota date, amount; no header; tab separated
    db = small_rw
    text = "4\t2026-05-30 00:00:00.000\t28000.0000\n6\t2026-08-30 00:00:00.000\t7000.0000\n"
    done = targets.import_csv(db, ADMIN, text, has_header=False, columns=["owner", "period", "value"],
                              default_grain="quarter", default_metric="won_amount")
    assert (done["created"], done["updated"]) == (1, 1)  # rep C's Q3 target (id 9) existed: updated
    assert db.rows("SELECT owner_id, period_start, value FROM targets WHERE value IN (28000, 7000) ORDER BY 1") == [
        (4, date(2026, 4, 1), 28000), (6, date(2026, 7, 1), 7000)]
