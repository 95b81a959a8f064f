"""The first rows of each reminder list as `all_reminders` picks them: the deal lists' BIGINT rank
(day * 2^40 + id) and its fallback to the (day, id) pair outside its bounds, lists with nothing on
them, and a deal on both deal lists (read once, shown on both)."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from crm_core import accounts, reminders
from crm_core.access import load_actor
from tests.conftest import TODAY
from tests.test_accounts_seed import actor, fresh
from tests.test_reminders import D


@pytest.fixture
def team(tmp_path):
    with fresh(tmp_path) as db:  # the hand-made team, fresh for each test
        yield db


def _deal(db, id_, name, expected, moved, owner=3):
    db.execute("INSERT INTO opportunities (id, name, owner_id, stage_id, expected_close, status, created_at, "
               "stage_entered_at, last_activity_at) VALUES (?, ?, ?, 1, ?, 'open', ?, ?, ?)",
               [id_, name, owner, expected, moved, moved, moved])


def test_ranks_outside_the_bigint_bounds_fall_back_to_the_pair(team):
    ann = actor(team, "ann")
    # today 06-30. Past close, by (expected_close, id): 'year1' (0001-01-01, day -719162: inside the
    # bounds), then 06-01 with ids 7 < 2^40 + 5 ('small' before 'huge': same day, so by id), then 06-29.
    # An id of 2^40 + 5 is outside [0, 2^40): the BIGINT rank would put 'huge' a day late, so the list
    # must be ranked by the pair.
    huge = (1 << 40) + 5
    _deal(team, huge, "huge", "2026-06-01", "2026-01-01")
    _deal(team, 7, "small", "2026-06-01", "2026-01-01")
    _deal(team, 8, "late", "2026-06-29", "2026-01-01")
    _deal(team, 9, "year1", "0001-01-01", "2026-01-01")
    got = reminders.all_reminders(team, ann, today=D)
    assert got["past_close"]["name"].to_list() == ["year1", "small", "huge", "late"]
    assert got.counts["past_close"] == 4
    assert reminders.all_reminders(team, ann, today=D, limit=2)["past_close"]["name"].to_list() == ["year1", "small"]
    # stale in stage (all moved 2026-01-01, 180 days idle): ties on the day, so by id
    assert got["stale_in_stage"]["name"].to_list() == ["small", "late", "year1", "huge"]
    assert got["stale_in_stage"]["idle_days"].to_list() == [180] * 4


def test_a_date_beyond_the_day_bound_falls_back_and_does_not_overflow(team):
    ann = actor(team, "ann")
    # 20000-01-01 is ~6.59 million days after 1970, beyond 2^22 (4,194,304): clamped in the rank (no
    # overflow) and the list ranked by the pair; a deal moved then is not stale
    _deal(team, 1, "far", "2026-06-29", "2026-01-01")
    team.execute("UPDATE opportunities SET stage_entered_at = '20000-01-01', last_activity_at = '20000-01-01' "
                 "WHERE id = 1")
    _deal(team, 2, "near", "2026-06-28", "2026-01-01")
    _deal(team, 3, "old", "1000-01-01", "2026-01-01")  # day -354,285: inside the bounds
    got = reminders.all_reminders(team, ann, today=D)
    assert got["past_close"]["name"].to_list() == ["old", "near", "far"]
    assert got["stale_in_stage"]["name"].to_list() == ["near", "old"]  # 'far' moved in year 20000
    assert got.counts == {"overdue_followups": 0, "returning_to_pool": 0, "payments_due": 0,
                          "past_close": 3, "stale_in_stage": 2}


def test_a_deal_on_both_deal_lists_shows_on_both(team):
    ann = actor(team, "ann")
    _deal(team, 11, "both", "2026-06-01", "2026-01-01")      # past close and idle 180 days
    _deal(team, 12, "past only", "2026-06-02", "2026-06-29")  # idle 1 day
    _deal(team, 13, "stale only", "2026-09-01", "2026-02-01")  # closes later, idle 149 days
    got = reminders.all_reminders(team, ann, today=D)
    assert got["past_close"].select("name", "days_late").rows() == [("both", 29), ("past only", 28)]
    assert got["stale_in_stage"].select("name", "idle_days").rows() == [("both", 180), ("stale only", 149)]


def test_empty_lists_have_the_whole_lists_columns(team):
    ann = actor(team, "ann")
    got = reminders.all_reminders(team, ann, today=D)
    every = reminders.all_reminders(team, ann, today=D, limit=None)
    for kind in reminders.KINDS:
        assert got[kind].height == 0 and got.counts[kind] == 0
        assert got[kind].schema == every[kind].schema, kind


@pytest.mark.parametrize("login", ["admin", "rep2"])
def test_fallback_ranking_gives_the_same_first_rows(demo_db, login, monkeypatch):
    """With the bounds shrunk so that every deal list falls back to the pair, the page's lists and
    counts are the same as with the BIGINT rank."""
    who = load_actor(demo_db, login)
    fast = reminders.all_reminders(demo_db, who, today=TODAY, limit=5)
    monkeypatch.setattr(reminders, "_ID_SPAN", 2)
    slow = reminders.all_reminders(demo_db, who, today=TODAY, limit=5)
    assert fast.counts == slow.counts
    for kind in reminders.KINDS:
        assert fast[kind].rows() == slow[kind].rows(), kind
    assert fast["past_close"].height == 5 and fast["stale_in_stage"].height == 5


def test_short_and_named_lists_cut_at_the_limit(team):
    """Payments (counted and ordered in one pass) and the pool list (ordered by day, then name, then id:
    its first rows picked among the rows' ids before names are read), cut at limit=2."""
    ann = actor(team, "ann")
    # pool (return after 30, warn 3; today 06-30): followed 06-02 (2 days left) 'Beta' and 'Alpha', 06-01 'Zed'
    # (1 day left) -> by (day, name, id): Zed, Alpha, Beta
    for name, ts in (("Beta", "2026-06-02 10:00"), ("Alpha", "2026-06-02 18:00"), ("Zed", "2026-06-01 09:00")):
        aid = accounts.create(team, ann, name=name, now=datetime(2026, 5, 1, 9))
        team.execute("UPDATE accounts SET last_followup_at = ? WHERE id = ?", [ts, aid])
    team.execute("INSERT INTO contracts (id, account_id, owner_id, signed_date, amount) VALUES (1, ?, 3, "
                 "'2026-01-01', 1000)", [aid])
    # window 06-30 .. 07-07: due 07-03 (id 1), 06-30 (id 2), 07-03 (id 3), 07-01 (id 4) -> by (due, id): 2, 4, 1, 3
    team.execute("INSERT INTO payments (id, contract_id, due_date, amount_due, amount_paid) VALUES "
                 "(1, 1, '2026-07-03', 10, 0), (2, 1, '2026-06-30', 20, 0), (3, 1, '2026-07-03', 30, 0), "
                 "(4, 1, '2026-07-01', 40, 0)")
    full = reminders.all_reminders(team, ann, today=D)
    assert full["payments_due"]["id"].to_list() == [2, 4, 1, 3]
    assert full["returning_to_pool"].select("name", "days_left").rows() == [("Zed", 1), ("Alpha", 2), ("Beta", 2)]
    cut = reminders.all_reminders(team, ann, today=D, limit=2)
    assert cut["payments_due"].select("id", "outstanding").rows() == [(2, 20), (4, 40)]
    assert cut["returning_to_pool"]["name"].to_list() == ["Zed", "Alpha"]
    assert cut.counts["payments_due"] == 4 and cut.counts["returning_to_pool"] == 3
    assert cut["payments_due"].schema == full["payments_due"].schema


def test_a_move_before_1970_counts_whole_days(team):
    """A day before 1970 is negative in the rank, and the rank gives it back (divmod) as the shown
    days: 18:00 on 1969-12-31 is that day, not 1970-01-01."""
    ann = actor(team, "ann")
    _deal(team, 1, "sixties", "2026-09-01", "1969-12-31 18:00")
    _deal(team, 2, "recent", "2026-09-01", "2026-01-01")
    got = reminders.all_reminders(team, ann, today=D)
    assert got["stale_in_stage"].select("name", "idle_days").rows() == [
        ("sixties", (D - date(1969, 12, 31)).days), ("recent", 180)]
    assert got.counts["stale_in_stage"] == 2 and got.counts["past_close"] == 0


def test_inside_a_transaction_the_lists_see_its_changes(team):
    """Called inside db.atomic() (one thread, the writer's transaction): the deal and task lists see the
    transaction's own uncommitted rows."""
    ann = actor(team, "ann")

    class Undo(Exception):
        pass

    with pytest.raises(Undo), team.atomic() as cur:
        cur.execute("INSERT INTO opportunities (id, name, owner_id, stage_id, expected_close, status, created_at, "
                    "stage_entered_at, last_activity_at) VALUES (21, 'in tx', 3, 1, '2026-06-01', 'open', "
                    "'2026-01-01', '2026-01-01', '2026-01-01')")
        cur.execute("INSERT INTO activities (kind, subject, owner_id, due_date, done) VALUES "
                    "('task', 'tx task', 3, '2026-06-01', FALSE)")
        got = reminders.all_reminders(team, ann, today=D)
        assert got["past_close"]["name"].to_list() == ["in tx"] == got["stale_in_stage"]["name"].to_list()
        assert got["overdue_followups"]["subject"].to_list() == ["tx task"]
        raise Undo
    assert reminders.all_reminders(team, ann, today=D).counts == dict.fromkeys(reminders.KINDS, 0)


def test_an_error_in_the_other_lists_thread_reaches_the_caller(team, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("small lists failed")

    monkeypatch.setattr(reminders, "_other_lists", broken)
    with pytest.raises(RuntimeError, match="small lists failed"):
        reminders.all_reminders(team, actor(team, "ann"), today=D)


def test_a_failing_deal_list_waits_for_the_other_thread(team, monkeypatch):
    import threading

    seen = {}
    real = reminders._other_lists

    def slow_other_lists(*args, **kwargs):
        import time

        time.sleep(0.2)
        seen["done"] = True
        return real(*args, **kwargs)

    def broken(*args, **kwargs):
        raise RuntimeError("deal lists failed")

    monkeypatch.setattr(reminders, "_other_lists", slow_other_lists)
    monkeypatch.setattr(reminders, "_deal_lists", broken)
    with pytest.raises(RuntimeError, match="deal lists failed"):
        reminders.all_reminders(team, actor(team, "ann"), today=D)
    # the caller returned only after the other thread's queries ended
    assert seen.get("done") and not [t for t in threading.enumerate() if t.name == "reminders"]


def test_a_moment_counts_as_its_day(team):
    ann = actor(team, "ann")
    _deal(team, 901, "late", date(2026, 1, 2), datetime(2025, 6, 1))
    by_day = reminders.all_reminders(team, ann, today=D)
    by_moment = reminders.all_reminders(team, ann, today=datetime.combine(D, datetime.min.time()).replace(hour=15))
    assert by_moment.counts == by_day.counts and by_day.counts["past_close"] == 1
    for kind in reminders.KINDS:
        assert by_moment[kind].equals(by_day[kind])
