"""Reminders on a hand-made set (boundaries worked out by hand) and against independent SQL on the demo."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from crm_core import accounts, reminders
from crm_core.access import load_actor
from tests.conftest import TODAY
from tests.test_accounts_seed import actor, fresh

D = date(2026, 6, 30)


@pytest.fixture
def team(tmp_path):
    db = fresh(tmp_path)
    yield db
    db.close()


def test_reminders_by_hand(team):
    ann = actor(team, "ann")
    aid = accounts.create(team, ann, name="Acme", now=datetime(2026, 6, 29, 9))
    # tasks: due 06-29 (overdue 1 day), due 06-30 (today: not overdue), done one (ignored)
    team.execute("INSERT INTO activities (kind, subject, account_id, owner_id, due_date, done) VALUES "
                 "('task','late',?,3,'2026-06-29',FALSE), ('task','today',?,3,'2026-06-30',FALSE), "
                 "('task','done',?,3,'2026-06-01',TRUE)", [aid, aid, aid])
    # payments (window 06-30 .. 07-07 inclusive): 06-29 no, 06-30 yes, 07-07 yes, 07-08 no, paid in full no,
    # half paid yes (outstanding 50)
    team.execute("INSERT INTO contracts (id, account_id, owner_id, signed_date, amount) VALUES (1, ?, 3, '2026-01-01', 1000)",
                 [aid])
    team.execute("INSERT INTO payments (contract_id, due_date, amount_due, amount_paid) VALUES "
                 "(1,'2026-06-29',100,0),(1,'2026-06-30',100,0),(1,'2026-07-07',100,0),(1,'2026-07-08',100,0),"
                 "(1,'2026-07-01',100,100),(1,'2026-07-02',100,50)")
    # deals: expected 06-29 (past), 06-30 (not past); stale: 21 days idle (yes), 20 (no)
    team.execute(
        "INSERT INTO opportunities (name, account_id, owner_id, stage_id, expected_close, status, created_at, "
        "stage_entered_at, last_activity_at) VALUES "
        "('past', ?, 3, 1, '2026-06-29', 'open', '2026-06-25', '2026-06-25', '2026-06-25'),"
        "('due today', ?, 3, 1, '2026-06-30', 'open', '2026-06-25', '2026-06-25', '2026-06-25'),"
        "('idle21', ?, 3, 2, '2026-09-01', 'open', '2026-05-01', '2026-06-09 18:00', '2026-06-01'),"
        "('idle20', ?, 3, 2, '2026-09-01', 'open', '2026-05-01', '2026-06-01', '2026-06-10 08:00'),"
        "('cat', ?, 5, 1, '2026-01-01', 'open', '2026-01-01', '2026-01-01', '2026-01-01')",
        [aid] * 5)
    got = reminders.all_reminders(team, ann, today=D)
    assert got["overdue_followups"].select("subject", "days_overdue").rows() == [("late", 1)]
    assert got["payments_due"].select("due_date", "outstanding").rows() == [
        (date(2026, 6, 30), 100), (date(2026, 7, 2), 50), (date(2026, 7, 7), 100)]
    assert got["past_close"].select("name", "days_late").rows() == [("past", 1)]
    assert got["stale_in_stage"].select("name", "idle_days").rows() == [("idle21", 21)]
    # the account was created 06-29: 29 days left of 30, outside the 3-day warning
    assert got["returning_to_pool"].height == 0
    # Cat sees only her own deal, none of Ann's rows
    cat = reminders.all_reminders(team, actor(team, "cat"), today=D)
    assert cat["past_close"]["name"].to_list() == ["cat"] and cat["stale_in_stage"]["name"].to_list() == ["cat"]
    assert cat["overdue_followups"].height == cat["payments_due"].height == cat["returning_to_pool"].height == 0


def test_demo_reminders_match_independent_sql(demo_db):
    rep = load_actor(demo_db, "rep2")
    got = reminders.all_reminders(demo_db, rep, today=TODAY)
    p = {"me": rep.id, "t": TODAY}
    assert got["overdue_followups"].height == demo_db.scalar(
        "SELECT count(*) FROM activities WHERE owner_id = $me AND NOT done AND due_date < $t", p)
    assert got["past_close"].height == demo_db.scalar(
        "SELECT count(*) FROM opportunities WHERE owner_id = $me AND status = 'open' AND expected_close < $t", p)
    assert got["payments_due"].height == demo_db.scalar(
        "SELECT count(*) FROM payments p JOIN contracts c ON c.id = p.contract_id WHERE c.owner_id = $me "
        "AND p.amount_paid < p.amount_due AND p.due_date BETWEEN $t AND $t + 7", p)
    assert got["stale_in_stage"].height == demo_db.scalar(
        "SELECT count(*) FROM opportunities WHERE owner_id = $me AND status = 'open' AND "
        "$t - greatest(stage_entered_at, coalesce(last_activity_at, created_at))::DATE >= 21", p)
    assert got["returning_to_pool"].height == demo_db.scalar(
        "SELECT count(*) FROM accounts WHERE owner_id = $me AND merged_into_id IS NULL AND "
        "30 - ($t - coalesce(last_followup_at, claimed_at, created_at)::DATE) <= 3", p)
    assert sum(df.height for df in got.values()) > 0
