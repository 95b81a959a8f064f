"""Managing users, roles and departments: admins only, versioned, audited, guarded."""

from __future__ import annotations

from datetime import date

import pytest

from crm_core import audit, auth, users
from crm_core.access import Actor, load_actor
from crm_core.cli import main
from crm_core.errors import DuplicateError, PermissionDenied, StaleEditError, ValidationError


@pytest.fixture
def admin(demo_db):
    return load_actor(demo_db, "admin")


def test_only_admins_manage_users(demo_db):
    for login in ("manager1", "rep2", "analyst1"):
        actor = load_actor(demo_db, login)
        with pytest.raises(PermissionDenied):
            users.list_users(demo_db, actor)
        with pytest.raises(PermissionDenied):
            users.create_user(demo_db, actor, login="x1", display_name="X", role="admin", password="p@ssword1")
        with pytest.raises(PermissionDenied):
            users.set_role(demo_db, actor, login, "admin")
        with pytest.raises(PermissionDenied):
            users.reset_password(demo_db, actor, 1, "taken-over-1")
    assert demo_db.scalar("SELECT count(*) FROM users WHERE login = 'x1'") == 0


def test_create_user_validates_and_audits(demo_db, admin):
    before = demo_db.scalar("SELECT count(*) FROM users")
    for bad in ({"login": "'; DROP TABLE users; --"}, {"login": "a"}, {"role": "superuser"},
                {"email": "not-an-email"}, {"display_name": "  "}, {"department_id": 999}):
        args = {"login": "newrep", "display_name": "New Rep", "role": "rep", "password": "new-rep-pw", **bad}
        with pytest.raises(ValidationError):
            users.create_user(demo_db, admin, **args)
    with pytest.raises(DuplicateError):
        users.create_user(demo_db, admin, login="REP2", display_name="Clash", role="rep")
    assert demo_db.scalar("SELECT count(*) FROM users") == before
    row = users.create_user(demo_db, admin, login="newrep", display_name="<script>alert(1)</script>", role="rep",
                            department_id=1, password="new-rep-pw")
    assert row["display_name"] == "<script>alert(1)</script>"  # stored as text
    assert demo_db.scalar("SELECT count(*) FROM user_department_history WHERE user_id = ?", [row["id"]]) == 1
    entry = audit.list_entries(demo_db, admin, entity="user", action="create").row(0, named=True)
    assert entry["entity_id"] == row["id"] and "password" not in entry["after"] and "$argon2" not in entry["after"]
    assert auth.authenticate(demo_db, "newrep", "new-rep-pw").role == "rep"


def test_update_user_is_versioned(demo_db, admin):
    uid = users.user_id_by_login(demo_db, "rep2")
    v = users.get_user(demo_db, uid)["version"]
    users.update_user(demo_db, admin, uid, v, {"region": "South"})
    with pytest.raises(StaleEditError) as stale:
        users.update_user(demo_db, admin, uid, v, {"region": "North"})
    assert stale.value.current["region"] == "South" and "password_hash" not in stale.value.current
    assert users.get_user(demo_db, uid)["region"] == "South"


def test_role_change_takes_effect_at_once(demo_db, admin):
    users.set_role(demo_db, admin, "rep2", "analyst")
    assert load_actor(demo_db, "rep2").sees_all


def test_department_move_is_historised(demo_db, admin):
    uid = users.user_id_by_login(demo_db, "rep2")
    users.update_user(demo_db, admin, uid, users.get_user(demo_db, uid)["version"], {"department_id": 3})
    open_rows = demo_db.rows(
        "SELECT department_id FROM user_department_history WHERE user_id = ? AND valid_to IS NULL", [uid])
    assert open_rows == [(3,)]
    users.update_user(demo_db, admin, uid, users.get_user(demo_db, uid)["version"], {"department_id": 1})
    rows = demo_db.rows("SELECT department_id, valid_to FROM user_department_history WHERE user_id = ? "
                        "AND valid_from = ?", [uid, date.today()])
    assert rows == [(1, None)]  # the same-day move replaced the first one


def test_last_admin_and_self_guards(db):
    root = auth.create_first_admin(db, "root", "root-password")
    with pytest.raises(ValidationError, match="last active admin"):
        users.set_role(db, root, "root", "rep")
    second = users.create_user(db, root, login="root2", display_name="Two", role="admin", password="second-pw-1")
    with pytest.raises(ValidationError, match="yourself"):
        users.update_user(db, root, root.id, users.get_user(db, root.id)["version"], {"active": False})
    users.update_user(db, root, second["id"], second["version"], {"active": False})
    assert not users.get_user(db, second["id"])["active"]


def test_users_cannot_be_edited_through_unknown_fields(demo_db, admin):
    with pytest.raises(ValidationError):
        users.update_user(demo_db, admin, 2, 1, {"password_hash": "x"})


def test_departments(demo_db, admin):
    dep = users.create_department(demo_db, admin, name="South Sales", parent_id=1, region="South")
    with pytest.raises(DuplicateError):
        users.create_department(demo_db, admin, name="south sales")
    with pytest.raises(ValidationError, match="under itself"):
        users.update_department(demo_db, admin, 1, 1, {"parent_id": dep["id"]})
    users.update_department(demo_db, admin, dep["id"], dep["version"], {"name": "Southern Sales"})
    with pytest.raises(StaleEditError):
        users.update_department(demo_db, admin, dep["id"], dep["version"], {"name": "Other"})
    assert "Southern Sales" in users.list_departments(demo_db, admin)["name"].to_list()


def test_own_password_change_needs_the_current_one(demo_db):
    rep = load_actor(demo_db, "rep2")
    with pytest.raises(auth.LoginFailed):
        users.change_own_password(demo_db, rep, "wrong", "brand-new-pw")
    users.change_own_password(demo_db, rep, "panorama-demo", "brand-new-pw")
    assert auth.authenticate(demo_db, "rep2", "brand-new-pw").login == "rep2"


def test_auth_settings_admin_only_and_bounded(demo_db, admin):
    with pytest.raises(PermissionDenied):
        users.set_auth_setting(demo_db, load_actor(demo_db, "manager1"), "auth.lockout_minutes", 1)
    with pytest.raises(ValidationError):
        users.set_auth_setting(demo_db, admin, "auth.max_failed_logins", 0)
    users.set_auth_setting(demo_db, admin, "auth.session_hours", 12)
    assert users.auth_settings(demo_db)["auth.session_hours"] == 12


def test_cli_users_commands(demo_db, monkeypatch, capsys):
    path = demo_db.path
    demo_db.close()
    monkeypatch.setenv("CRM_NEW_PASSWORD", "cli-password-1")
    assert main(["--db", path, "users", "add", "clirep", "--role", "rep", "--department", "East Sales",
                 "--manager", "manager1", "--name", "=HYPERLINK(\"x\")"]) == 0
    assert main(["--db", path, "users", "set-role", "clirep", "analyst"]) == 0
    assert main(["--db", path, "users", "reset-password", "clirep"]) == 0
    assert main(["--db", path, "users", "unlock", "clirep"]) == 0
    assert main(["--db", path, "users", "list"]) == 0
    out = capsys.readouterr().out
    assert "clirep" in out and "'=HYPERLINK" in out  # the listing is formula-safe
    # a rep with their own login cannot manage users
    monkeypatch.setenv("CRM_PASSWORD", "panorama-demo")
    assert main(["--db", path, "--user", "rep2", "users", "set-role", "rep2", "admin"]) == 2
    assert "does not allow" in capsys.readouterr().err
    from crm_core.db import Database

    with Database(path) as again:
        assert again.scalar("SELECT role FROM users WHERE login = 'rep2'") == "rep"
        assert again.scalar("SELECT role FROM users WHERE login = 'clirep'") == "analyst"
        assert auth.authenticate(again, "clirep", "cli-password-1").login == "clirep"
        assert Actor.system().role == "admin"


def test_managers_see_their_team_read_only(demo_db):
    mgr = load_actor(demo_db, "manager1")
    team = users.list_team(demo_db, mgr)
    assert set(team["login"].to_list()) == {r[0] for r in demo_db.rows(
        "SELECT login FROM users WHERE id IN (SELECT unnest(?))", [list(mgr.team_ids)])}
    outsider = demo_db.scalar("SELECT login FROM users WHERE department_id = 3 AND manager_id <> ? LIMIT 1", [mgr.id])
    assert outsider not in team["login"].to_list() and "password_hash" not in team.columns
    with pytest.raises(PermissionDenied):
        users.list_team(demo_db, load_actor(demo_db, "rep2"))
