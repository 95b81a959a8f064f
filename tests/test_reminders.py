"""Reminders on a hand-made set (boundaries worked out by hand) and against independent SQL on the demo."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from crm_core import accounts, reminders
from crm_core.access import load_actor
from crm_core.errors import ValidationError
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


def test_returning_to_pool_boundary_by_hand(team):
    ann = actor(team, "ann")
    # return after 30 days, warn 3 days ahead; today 06-30. Last follow-up 06-03 23:30: 27 days ago,
    # 3 days left (listed); 06-04 00:00: 26 days ago, 4 left (not listed); 06-01 08:00: 29 days ago, 1 left
    for name, ts in (("b3", "2026-06-03 23:30"), ("c4", "2026-06-04 00:00"), ("a1", "2026-06-01 08:00")):
        aid = accounts.create(team, ann, name=name, now=datetime(2026, 5, 1, 9))
        team.execute("UPDATE accounts SET last_followup_at = ? WHERE id = ?", [ts, aid])
    got = reminders.all_reminders(team, ann, today=D)
    assert got["returning_to_pool"].select("name", "days_left").rows() == [("a1", 1), ("b3", 3)]
    assert got.counts["returning_to_pool"] == 2
    assert reminders.all_reminders(team, ann, today=D, limit=1)["returning_to_pool"]["name"].to_list() == ["a1"]


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
    assert sum(df.height for df in got.rows.values()) > 0
    assert got.counts == {k: df.height for k, df in got.rows.items()}  # the demo's lists are under the limit


# Each list computed in full by plain SQL, written out apart from crm_core.reminders: its rows in the
# list's order (ties by id), for the rows an actor sees ($scope: the owner ids, NULL meaning all).
_FULL = {
    "overdue_followups": """
        SELECT t.id, t.due_date, ($t - t.due_date)::BIGINT AS days_overdue, t.subject, a.name AS account, t.version
        FROM activities t LEFT JOIN accounts a ON a.id = t.account_id
        WHERE NOT t.done AND t.due_date < $t AND ($scope IS NULL OR list_contains($scope, t.owner_id))
        ORDER BY t.due_date, t.id""",
    "returning_to_pool": """
        SELECT * FROM (
            SELECT a.id, a.name, u.display_name AS owner,
                   coalesce(a.last_followup_at, a.claimed_at, a.created_at) AS last_followup,
                   (30 - ($t - coalesce(a.last_followup_at, a.claimed_at, a.created_at)::DATE))::BIGINT AS days_left
            FROM accounts a LEFT JOIN users u ON u.id = a.owner_id
            WHERE a.owner_id IS NOT NULL AND a.merged_into_id IS NULL
              AND ($scope IS NULL OR list_contains($scope, a.owner_id))
        ) WHERE days_left <= 3 ORDER BY days_left, name, id""",
    "payments_due": """
        SELECT p.id, p.due_date, c.contract_no, a.name AS account, p.amount_due,
               p.amount_due - p.amount_paid AS outstanding
        FROM payments p JOIN contracts c ON c.id = p.contract_id LEFT JOIN accounts a ON a.id = c.account_id
        WHERE p.amount_paid < p.amount_due AND c.status <> 'cancelled' AND p.due_date BETWEEN $t AND $t + 7
          AND ($scope IS NULL OR list_contains($scope, c.owner_id))
        ORDER BY p.due_date, p.id""",
    "past_close": """
        SELECT o.id, o.name, a.name AS account, s.name AS stage, o.expected_close,
               ($t - o.expected_close)::BIGINT AS days_late, o.amount
        FROM opportunities o JOIN stages s ON s.id = o.stage_id LEFT JOIN accounts a ON a.id = o.account_id
        WHERE o.status = 'open' AND o.expected_close < $t AND ($scope IS NULL OR list_contains($scope, o.owner_id))
        ORDER BY o.expected_close, o.id""",
    "stale_in_stage": """
        SELECT * FROM (
            SELECT o.id, o.name, a.name AS account, s.name AS stage,
                   ($t - greatest(coalesce(o.stage_entered_at, o.created_at),
                                  coalesce(o.last_activity_at, o.created_at))::DATE)::BIGINT AS idle_days, o.amount
            FROM opportunities o JOIN stages s ON s.id = o.stage_id LEFT JOIN accounts a ON a.id = o.account_id
            WHERE o.status = 'open' AND ($scope IS NULL OR list_contains($scope, o.owner_id))
        ) WHERE idle_days >= 21 ORDER BY idle_days DESC, id""",
}


@pytest.mark.parametrize("login", ["admin", "manager1", "rep4"])
def test_first_rows_and_counts_match_the_full_lists(demo_db, login):
    """The page's lists (the first N rows) are the first N rows of each full list, and the counts are
    the full lists' lengths, for an admin (all rows), a manager (the team) and a rep (their own)."""
    who = load_actor(demo_db, login)
    scope = None if who.sees_all else (list(who.team_ids) or [who.id])
    full = {k: demo_db.query(sql, {"t": TODAY, "scope": scope}) for k, sql in _FULL.items()}
    assert all(full[k].height > 3 for k in ("returning_to_pool", "past_close", "stale_in_stage"))  # cut by limit=3
    for limit in (1, 3, 500):
        got = reminders.all_reminders(demo_db, who, today=TODAY, limit=limit)
        assert list(got.rows) == list(reminders.KINDS) and got.limit == limit
        for kind in reminders.KINDS:
            assert got.counts[kind] == full[kind].height, kind
            want = full[kind].head(limit)
            assert got[kind].columns == want.columns, kind
            assert got[kind].cast(want.schema).rows() == want.rows(), (kind, limit)
    every = reminders.all_reminders(demo_db, who, today=TODAY, limit=None)
    for kind in reminders.KINDS:
        assert every[kind].cast(full[kind].schema).rows() == full[kind].rows(), kind
        assert every.counts[kind] == full[kind].height
        # the first rows fetched by id have the same columns and types as the whole list
        assert reminders.all_reminders(demo_db, who, today=TODAY, limit=2)[kind].schema == every[kind].schema


def test_limit_must_be_positive(demo_db):
    with pytest.raises(ValidationError, match="at least 1"):
        reminders.all_reminders(demo_db, load_actor(demo_db, "admin"), today=TODAY, limit=0)
