"""Follow-ups: logging resets the pool clock, next dates become tasks, bad input changes nothing."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from crm_core import accounts, activities, contacts, opportunities
from crm_core.errors import PermissionDenied, ValidationError
from tests.test_accounts_seed import NOW, actor, fresh


@pytest.fixture
def team(tmp_path):
    db = fresh(tmp_path)
    yield db
    db.close()


def test_log_resets_clocks_and_creates_the_next_task(team):
    ann = actor(team, "ann")
    aid = accounts.create(team, ann, name="Acme", now=datetime(2026, 6, 1, 9))
    cid = contacts.create(team, ann, account_id=aid, name="Dana")
    oid = opportunities.create(team, ann, name="Deal", stage_id=1, amount=1, expected_close="2026-09-01",
                               account_id=aid, now=datetime(2026, 6, 1, 9))
    activities.log(team, ann, kind="visit", subject="Site visit", opportunity_id=oid, contact_id=cid,
                   next_due=date(2026, 7, 3), next_subject="Send quote", now=NOW)
    assert team.scalar("SELECT last_followup_at FROM accounts WHERE id = ?", [aid]) == NOW
    assert team.scalar("SELECT last_activity_at FROM opportunities WHERE id = ?", [oid]) == NOW
    task = team.one("SELECT kind, subject, done, due_date, account_id FROM activities WHERE NOT done")
    assert task == {"kind": "task", "subject": "Send quote", "done": False, "due_date": date(2026, 7, 3),
                    "account_id": aid}
    # an older follow-up logged late does not move the clock back
    activities.log(team, ann, kind="note", subject="old call", account_id=aid, occurred_at=datetime(2026, 6, 5),
                   now=NOW)
    assert team.scalar("SELECT last_followup_at FROM accounts WHERE id = ?", [aid]) == NOW
    assert activities.recent(team, ann, account_id=aid).height == 3


@pytest.mark.parametrize("kwargs,pattern", [
    ({"kind": "fax"}, "must be one of"),
    ({"subject": " "}, "needs a subject"),
    ({"occurred_at": datetime(2026, 7, 30)}, "in the future"),
    ({"next_due": date(2026, 6, 1)}, "in the past"),
    ({"account_id": None}, "Choose the account"),
    ({"contact_id": 999}, "not a contact"),
])
def test_bad_follow_ups_change_nothing(team, kwargs, pattern):
    ann = actor(team, "ann")
    aid = accounts.create(team, ann, name="Acme", now=NOW)
    before = team.scalar("SELECT last_followup_at FROM accounts WHERE id = ?", [aid])
    args = {"kind": "call", "subject": "hi", "account_id": aid, **kwargs}
    with pytest.raises(ValidationError, match=pattern):
        activities.log(team, ann, now=NOW, **args)
    assert team.scalar("SELECT count(*) FROM activities") == 0
    assert team.scalar("SELECT last_followup_at FROM accounts WHERE id = ?", [aid]) == before


def test_no_follow_ups_on_others_accounts(team):
    aid = accounts.create(team, actor(team, "cat"), name="Cat's", now=NOW)
    with pytest.raises(PermissionDenied):
        activities.log(team, actor(team, "ann"), kind="call", subject="hi", account_id=aid, now=NOW)


def test_complete_task_counts_as_follow_up(team):
    ann = actor(team, "ann")
    aid = accounts.create(team, ann, name="Acme", now=datetime(2026, 6, 1))
    activities.log(team, ann, kind="call", subject="hi", account_id=aid, next_due=date(2026, 6, 2),
                   now=datetime(2026, 6, 1, 12))
    task = team.one("SELECT id, version FROM activities WHERE NOT done")
    activities.complete_task(team, ann, task["id"], task["version"], now=NOW)
    assert team.scalar("SELECT done FROM activities WHERE id = ?", [task["id"]]) is True
    assert team.scalar("SELECT last_followup_at FROM accounts WHERE id = ?", [aid]) == NOW


def test_recent_matches_an_independent_query(demo_db):
    # The newest follow-ups a rep may see, with names, in the same order as a plain join.
    from crm_core.access import load_actor

    rep = load_actor(demo_db, "rep2")
    got = activities.recent(demo_db, rep, limit=7)
    want = demo_db.query(
        """SELECT t.id, a.name AS account, c.name AS contact, o.name AS opportunity
           FROM activities t LEFT JOIN accounts a ON a.id = t.account_id
           LEFT JOIN contacts c ON c.id = t.contact_id LEFT JOIN opportunities o ON o.id = t.opportunity_id
           WHERE t.owner_id = ?
           ORDER BY coalesce(t.occurred_at, t.due_date::TIMESTAMP) DESC NULLS LAST, t.id DESC LIMIT 7""",
        [rep.id])
    assert got.height == 7
    assert got.select("id", "account", "contact", "opportunity").rows() == want.rows()
