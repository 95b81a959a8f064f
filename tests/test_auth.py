"""Signing in: passwords, lock-out with the time left, first admin, session tokens, SSO mapping."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from crm_core import auth, demo, settings, users
from crm_core.access import Actor
from crm_core.errors import CrmError, ValidationError

NOW = datetime(2026, 6, 30, 9, 0)


@pytest.fixture
def admin_db(db):
    auth.create_first_admin(db, "boss", "correct horse 1")
    return db


def _audit(db, action):
    return db.scalar("SELECT count(*) FROM audit_log WHERE action = ?", [action])


def test_demo_users_sign_in_with_documented_password(demo_db):
    for login, role in (("admin", "admin"), ("manager1", "manager"), ("rep2", "rep"), ("analyst1", "analyst")):
        actor = auth.authenticate(demo_db, login, demo.DEMO_PASSWORD)
        assert (actor.login, actor.role) == (login, role)
    assert _audit(demo_db, "login") == 4


def test_wrong_password_and_unknown_login_give_the_same_message(admin_db):
    with pytest.raises(auth.LoginFailed) as wrong:
        auth.authenticate(admin_db, "boss", "nope", now=NOW)
    with pytest.raises(auth.LoginFailed) as unknown:
        auth.authenticate(admin_db, "nobody", "nope", now=NOW)
    assert str(wrong.value) == str(unknown.value) == "Wrong login name or password."
    assert _audit(admin_db, "login_failed") == 2


def test_deactivated_user_cannot_sign_in(demo_db):
    # the demo's last rep left the company
    with pytest.raises(auth.LoginFailed):
        auth.authenticate(demo_db, "rep19", demo.DEMO_PASSWORD)


def test_lockout_after_repeated_failures_says_time_left(admin_db):
    settings.put(admin_db, Actor.system(), "auth.max_failed_logins", 3)
    settings.put(admin_db, Actor.system(), "auth.lockout_minutes", 10)
    for _ in range(2):
        with pytest.raises(auth.LoginFailed):
            auth.authenticate(admin_db, "boss", "wrong", now=NOW)
    with pytest.raises(auth.AccountLocked) as locked:
        auth.authenticate(admin_db, "boss", "wrong", now=NOW)
    assert "10 minutes" in str(locked.value)
    # the right password is refused while locked, with the minutes left (10 - 4 = 6)
    with pytest.raises(auth.AccountLocked) as still:
        auth.authenticate(admin_db, "boss", "correct horse 1", now=NOW + timedelta(minutes=4))
    assert still.value.minutes_left == 6 and "6 minutes" in str(still.value)
    # after the lock runs out, the right password works and resets the count
    actor = auth.authenticate(admin_db, "boss", "correct horse 1", now=NOW + timedelta(minutes=10, seconds=1))
    assert actor.login == "boss"
    assert admin_db.one("SELECT failed_logins, locked_until FROM users WHERE login = 'boss'") == {
        "failed_logins": 0, "locked_until": None}
    assert _audit(admin_db, "lock") == 1


def test_failed_logins_do_not_bump_the_row_version(admin_db):
    v = admin_db.scalar("SELECT version FROM users WHERE login = 'boss'")
    with pytest.raises(auth.LoginFailed):
        auth.authenticate(admin_db, "boss", "wrong")
    assert admin_db.scalar("SELECT version FROM users WHERE login = 'boss'") == v


def test_admin_unlocks(admin_db):
    boss = auth.authenticate(admin_db, "boss", "correct horse 1")
    users.create_user(admin_db, boss, login="rep9", display_name="Rep Nine", role="rep", password="rep9-secret")
    for _ in range(5):
        with pytest.raises(auth.LoginFailed):
            auth.authenticate(admin_db, "rep9", "x")
    with pytest.raises(auth.AccountLocked):
        auth.authenticate(admin_db, "rep9", "rep9-secret")
    users.unlock(admin_db, boss, users.user_id_by_login(admin_db, "rep9"))
    assert auth.authenticate(admin_db, "rep9", "rep9-secret").login == "rep9"


def test_first_admin_only_on_empty_database(db):
    assert auth.needs_first_admin(db)
    with pytest.raises(ValidationError, match="too short"):
        auth.create_first_admin(db, "root", "short")
    actor = auth.create_first_admin(db, "root", "long enough 1")
    assert actor.role == "admin" and not auth.needs_first_admin(db)
    with pytest.raises(CrmError, match="already exists"):
        auth.create_first_admin(db, "intruder", "long enough 2")
    assert db.scalar("SELECT count(*) FROM users") == 1


def test_first_admin_from_environment(db, monkeypatch):
    monkeypatch.setenv("CRM_ADMIN_PASSWORD", "from-the-env-1")
    monkeypatch.setenv("CRM_ADMIN_LOGIN", "ops")
    assert auth.ensure_admin_from_env(db)
    assert not auth.ensure_admin_from_env(db)  # only once
    assert auth.authenticate(db, "ops", "from-the-env-1").role == "admin"


def test_session_token_survives_until_expiry_and_logout(admin_db):
    boss = auth.authenticate(admin_db, "boss", "correct horse 1")
    session = auth.start_session(admin_db, boss, now=NOW)
    sid, actor = auth.resume_session(admin_db, session.token, now=NOW + timedelta(hours=7))
    assert actor.login == "boss" and sid == session.sid
    assert auth.resume_session(admin_db, session.token, now=NOW + timedelta(hours=8, seconds=1)) is None
    auth.logout(admin_db, boss, session.sid)
    assert auth.resume_session(admin_db, session.token, now=NOW + timedelta(hours=1)) is None
    assert _audit(admin_db, "logout") == 1


def test_session_length_is_a_setting(admin_db):
    settings.put(admin_db, Actor.system(), "auth.session_hours", 1)
    boss = auth.authenticate(admin_db, "boss", "correct horse 1")
    session = auth.start_session(admin_db, boss, now=NOW)
    assert session.expires_at == NOW + timedelta(hours=1)


def test_tampered_or_forged_tokens_are_refused(admin_db):
    boss = auth.authenticate(admin_db, "boss", "correct horse 1")
    token = auth.start_session(admin_db, boss, now=NOW).token
    v, sid, exp, sig = token.split(".")
    longer = f"{v}.{sid}.{int(exp) + 86400 * 365}.{sig}"
    for bad in (longer, token[:-2] + "xx", f"{v}.other.{exp}.{sig}", "", "garbage", "a.b.c.d", None, "v1." * 200):
        assert auth.resume_session(admin_db, bad, now=NOW) is None


def test_password_reset_and_deactivation_end_sessions(admin_db):
    boss = auth.authenticate(admin_db, "boss", "correct horse 1")
    rep = users.create_user(admin_db, boss, login="rep9", display_name="Rep", role="rep", password="rep9-secret")
    t1 = auth.start_session(admin_db, auth.authenticate(admin_db, "rep9", "rep9-secret")).token
    users.reset_password(admin_db, boss, rep["id"], "another-secret")
    assert auth.resume_session(admin_db, t1) is None
    t2 = auth.start_session(admin_db, auth.authenticate(admin_db, "rep9", "another-secret")).token
    assert auth.resume_session(admin_db, t2) is not None
    users.update_user(admin_db, boss, rep["id"], users.get_user(admin_db, rep["id"])["version"], {"active": False})
    assert auth.resume_session(admin_db, t2) is None


def test_secret_is_generated_once_and_kept_in_the_database(admin_db):
    boss = auth.authenticate(admin_db, "boss", "correct horse 1")
    auth.start_session(admin_db, boss)
    auth.start_session(admin_db, boss)
    assert admin_db.scalar("SELECT count(*) FROM app_secrets") == 1
    assert len(admin_db.scalar("SELECT value FROM app_secrets")) >= 48
    # only a hash of the session id is stored
    stored = admin_db.scalar("SELECT sid_hash FROM auth_sessions LIMIT 1")
    assert len(stored) == 64


def test_external_identity_maps_to_existing_users_only(demo_db):
    assert auth.external_login(demo_db, "rep2@panorama.example", source="oidc").login == "rep2"
    assert auth.external_login(demo_db, "manager1", source="header").login == "manager1"
    assert auth.external_login(demo_db, "stranger@example.com", source="oidc") is None
    assert auth.external_login(demo_db, "rep19", source="header") is None  # deactivated
    assert auth.external_login(demo_db, "' OR 1=1 --", source="header") is None
    assert auth.external_login(demo_db, "", source="header") is None
