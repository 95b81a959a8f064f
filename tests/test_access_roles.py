"""The four roles, enforced in crm_core (not only by hiding pages).

admin: everything. manager: their department's people and data. rep: own
deals (and the pool). analyst: reads everything, no pipeline edits.
"""

from __future__ import annotations

import pytest

from crm_core import exporter, opportunities
from crm_core.access import load_actor, owner_scope
from crm_core.errors import CrmError, PermissionDenied


def _owners(df) -> set:
    return set(df["owner"].to_list())


def _deal_of(db, login: str) -> tuple[int, int]:
    return db.rows("SELECT o.id, o.version FROM opportunities o JOIN users u ON u.id = o.owner_id "
                   "WHERE u.login = ? AND o.status = 'open' ORDER BY o.id LIMIT 1", [login])[0]


def test_analyst_and_admin_read_everything(demo_db):
    total = demo_db.scalar("SELECT count(*) FROM opportunities WHERE status = 'open'")
    for login in ("admin", "analyst1"):
        assert opportunities.list_open(demo_db, load_actor(demo_db, login), limit=100_000).height == total


def test_manager_reads_only_their_department(demo_db):
    mgr = load_actor(demo_db, "manager1")
    seen = opportunities.list_open(demo_db, mgr, limit=100_000)
    team = {r[0] for r in demo_db.rows(
        "SELECT display_name FROM users WHERE department_id = 1 OR manager_id = ? OR id = ?", [mgr.id, mgr.id])}
    assert seen.height > 0 and _owners(seen) <= team
    others = demo_db.scalar("SELECT count(*) FROM opportunities o JOIN users u ON u.id = o.owner_id "
                            "WHERE o.status = 'open' AND u.department_id = 2 AND u.manager_id <> ?", [mgr.id])
    assert others > 0  # there is something to hide


def test_rep_reads_only_own_deals(demo_db):
    rep = load_actor(demo_db, "rep2")
    seen = opportunities.list_open(demo_db, rep, limit=100_000)
    assert seen.height > 0 and _owners(seen) == {rep.display_name}


def test_analyst_cannot_edit_the_pipeline(demo_db):
    analyst = load_actor(demo_db, "analyst1")
    oid, version = _deal_of(demo_db, "rep2")
    with pytest.raises(PermissionDenied):
        opportunities.update(demo_db, analyst, oid, version, {"amount": 1})
    assert demo_db.scalar("SELECT version FROM opportunities WHERE id = ?", [oid]) == version


def test_manager_edits_own_team_not_other_departments(demo_db):
    mgr = load_actor(demo_db, "manager1")
    in_team = demo_db.rows(
        "SELECT o.id, o.version FROM opportunities o WHERE o.status = 'open' AND o.owner_id IN (SELECT unnest(?)) "
        "ORDER BY o.id LIMIT 1", [list(mgr.team_ids)])[0]
    opportunities.update(demo_db, mgr, in_team[0], in_team[1], {"amount": 1234})
    outside = demo_db.rows(
        "SELECT o.id, o.version FROM opportunities o WHERE o.status = 'open' AND o.owner_id NOT IN (SELECT unnest(?)) "
        "AND o.owner_id IS NOT NULL ORDER BY o.id LIMIT 1", [list(mgr.team_ids)])[0]
    with pytest.raises(CrmError):
        opportunities.update(demo_db, mgr, outside[0], outside[1], {"amount": 1})


def test_rep_cannot_edit_a_colleagues_deal_but_can_edit_own(demo_db):
    rep = load_actor(demo_db, "rep2")
    oid, version = _deal_of(demo_db, "rep2")
    opportunities.update(demo_db, rep, oid, version, {"amount": 999})
    other, v2 = _deal_of(demo_db, "rep3")
    with pytest.raises(CrmError):
        opportunities.update(demo_db, rep, other, v2, {"amount": 1})


def test_rep_exports_only_own_rows_and_no_admin_tables(demo_db):
    rep = load_actor(demo_db, "rep2")
    df = exporter.table(demo_db, rep, "opportunities")
    assert set(df["owner_id"].to_list()) == {rep.id}
    for admin_only in ("audit_log",):
        with pytest.raises(PermissionDenied):
            exporter.table(demo_db, rep, admin_only)
    users = exporter.table(demo_db, rep, "users")
    assert users["id"].to_list() == [rep.id] and "password_hash" not in users.columns
    for secret in ("auth_sessions", "app_secrets"):
        with pytest.raises(CrmError):
            exporter.table(demo_db, load_actor(demo_db, "admin"), secret)


def test_owner_scope_binds_values():
    from crm_core.access import Actor

    sql, params = owner_scope(Actor(id=5, login="r", role="rep"), "o.owner_id")
    assert "5" not in sql and params == [5]


def test_reps_and_managers_cannot_import_analysts_can(demo_db, tmp_path):
    import polars as pl

    from crm_core import importer

    oid, ext = demo_db.rows("SELECT id, external_id FROM opportunities WHERE external_id IS NOT NULL "
                            "AND owner_id <> (SELECT id FROM users WHERE login = 'rep2') LIMIT 1")[0]
    path = tmp_path / "deals.csv"
    pl.DataFrame({"External id": [ext], "Amount": ["1"]}).write_csv(path)
    amount = demo_db.scalar("SELECT amount FROM opportunities WHERE id = ?", [oid])
    for login in ("rep2", "manager1"):
        with pytest.raises(PermissionDenied):
            importer.import_file(demo_db, load_actor(demo_db, login), "opportunities", path)
    assert demo_db.scalar("SELECT amount FROM opportunities WHERE id = ?", [oid]) == amount
    result = importer.import_file(demo_db, load_actor(demo_db, "analyst1"), "opportunities", path, dry_run=True)
    assert result.rows_total == 1


def test_analyst_cannot_claim_release_or_log_on_deals(demo_db):
    from crm_core import accounts, activities, pool

    analyst = load_actor(demo_db, "analyst1")
    pooled = demo_db.scalar("SELECT id FROM accounts WHERE owner_id IS NULL AND merged_into_id IS NULL LIMIT 1")
    owned = demo_db.scalar("SELECT id FROM accounts WHERE owner_id IS NOT NULL LIMIT 1")
    before = demo_db.scalar("SELECT count(*) FROM audit_log")
    with pytest.raises(CrmError):
        pool.claim(demo_db, analyst, pooled)
    with pytest.raises(CrmError):
        pool.release(demo_db, analyst, owned, "testing")
    with pytest.raises(CrmError):
        accounts.create(demo_db, analyst, name="Analyst Made Co")
    oid, _v = _deal_of(demo_db, "rep2")
    with pytest.raises(CrmError):
        activities.log(demo_db, analyst, kind="call", subject="x", opportunity_id=oid)
    assert demo_db.scalar("SELECT count(*) FROM audit_log") == before  # nothing written
