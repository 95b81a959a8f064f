"""The public pool: claim limit, cool-down, sweep day boundary, returning-soon, races, rules, handover."""

from __future__ import annotations

import threading
from datetime import date, datetime, timedelta

import pytest

from crm_core import accounts, activities, handover, opportunities, pool, settings
from crm_core.access import Actor, load_actor
from crm_core.errors import CrmError, PermissionDenied, ValidationError
from tests.test_accounts_seed import NOW, actor, fresh


@pytest.fixture
def team(tmp_path):
    db = fresh(tmp_path)
    yield db
    db.close()


def _pool_accounts(db, n, **fields):
    boss = actor(db, "boss1")
    return [accounts.create(db, boss, name=f"Pool {i}", owner_id=None, now=NOW, **fields) for i in range(n)]


def test_daily_claim_limit_boundary(team):
    settings.put(team, Actor.system(), "pool.daily_claim_limit", 2)
    ids = _pool_accounts(team, 4)
    ann = actor(team, "ann")
    pool.claim(team, ann, ids[0], now=datetime(2026, 7, 1, 9))
    left = pool.claim(team, ann, ids[1], now=datetime(2026, 7, 1, 17))["claims_left"]
    assert left == 0
    with pytest.raises(ValidationError, match="claimed 2 accounts today, the daily limit is 2"):
        pool.claim(team, ann, ids[2], now=datetime(2026, 7, 1, 23, 59))
    assert team.scalar("SELECT owner_id FROM accounts WHERE id = ?", [ids[2]]) is None
    # the next calendar day counts from zero again
    pool.claim(team, ann, ids[2], now=datetime(2026, 7, 2, 0, 0))
    # another rep has a limit of their own
    pool.claim(team, actor(team, "bob"), ids[3], now=datetime(2026, 7, 1, 12))


def test_reclaim_cooldown_boundary(team):
    settings.put(team, Actor.system(), "pool.reclaim_cooldown_days", 7)
    (aid,) = _pool_accounts(team, 1)
    ann, bob = actor(team, "ann"), actor(team, "bob")
    pool.claim(team, ann, aid, now=datetime(2026, 6, 1, 9))
    pool.release(team, ann, aid, "wrong contact", now=datetime(2026, 6, 10, 18))
    # released on 06-10 with 7 days cool-down: first day allowed is 06-17
    with pytest.raises(ValidationError, match="from 2026-06-17"):
        pool.claim(team, ann, aid, now=datetime(2026, 6, 16, 23, 59))
    pool.claim(team, bob, aid, now=datetime(2026, 6, 11, 9))     # others need not wait
    pool.release(team, bob, aid, "no budget", now=datetime(2026, 6, 12, 9))
    pool.claim(team, ann, aid, now=datetime(2026, 6, 17, 0, 0))
    assert team.scalar("SELECT owner_id FROM accounts WHERE id = ?", [aid]) == ann.id


def test_cooldown_also_follows_a_sweep_return(team):
    ann = actor(team, "ann")
    aid = accounts.create(team, ann, name="Neglected", now=datetime(2026, 5, 1, 9))
    assert pool.sweep(team, today=date(2026, 5, 31)) == [aid]     # 30 days, default setting
    with pytest.raises(ValidationError, match="from 2026-06-07"):
        pool.claim(team, ann, aid, now=datetime(2026, 6, 6, 12))


def test_release_needs_a_reason_and_an_owner(team):
    ann = actor(team, "ann")
    aid = accounts.create(team, ann, name="Mine", now=NOW)
    with pytest.raises(ValidationError, match="why"):
        pool.release(team, ann, aid, "  ")
    with pytest.raises(PermissionDenied):
        pool.release(team, actor(team, "cat"), aid, "not mine")
    pool.release(team, ann, aid, "moved abroad", now=NOW)
    row = team.one("SELECT owner_id, previous_owner_id, released_at FROM accounts WHERE id = ?", [aid])
    assert row == {"owner_id": None, "previous_owner_id": ann.id, "released_at": NOW}
    assert team.scalar("SELECT note FROM audit_log WHERE action = 'release'") == "moved abroad"


def test_sweep_day_boundary(team):
    # return_after_days = 30. Last follow-up 2026-06-01 (any time of day):
    # 2026-06-30 is day 29 -> stays; 2026-07-01 is day 30 -> returns.
    ann = actor(team, "ann")
    aid = accounts.create(team, ann, name="Edge", now=datetime(2026, 5, 20, 9))
    activities.log(team, ann, kind="call", subject="check-in", account_id=aid,
                   occurred_at=datetime(2026, 6, 1, 23, 30), now=datetime(2026, 6, 2, 8))
    assert pool.sweep(team, today=date(2026, 6, 30)) == []
    soon = pool.returning_soon(team, ann, today=date(2026, 6, 30))
    assert soon.select("id", "days_left").rows() == [(aid, 1)]
    assert pool.sweep(team, today=date(2026, 7, 1)) == [aid]
    row = team.one("SELECT owner_id, previous_owner_id FROM accounts WHERE id = ?", [aid])
    assert row == {"owner_id": None, "previous_owner_id": ann.id}
    assert team.scalar("SELECT kind FROM pool_events WHERE account_id = ? ORDER BY id DESC LIMIT 1", [aid]) == "return"
    assert pool.sweep(team, today=date(2026, 7, 1)) == []          # idempotent


def test_returning_soon_window(team):
    # warn_days = 3, N = 30: days since follow-up 26 -> 4 left (not listed), 27 -> 3 left (listed)
    ann = actor(team, "ann")
    today = date(2026, 7, 31)
    a26 = accounts.create(team, ann, name="Twenty-six", now=datetime.combine(today - timedelta(days=26), datetime.min.time()))
    a27 = accounts.create(team, ann, name="Twenty-seven", now=datetime.combine(today - timedelta(days=27), datetime.min.time()))
    listed = pool.returning_soon(team, ann, today=today)
    assert listed["id"].to_list() == [a27] and listed["days_left"].to_list() == [3]
    assert a26 not in listed["id"].to_list()
    assert pool.returning_soon(team, actor(team, "bob"), today=today).height == 0


def test_two_reps_claim_the_same_account_at_once(team):
    (aid,) = _pool_accounts(team, 1)
    reps = [actor(team, "ann"), actor(team, "bob")]
    barrier = threading.Barrier(2)
    results: dict[str, str] = {}

    def go(rep):
        barrier.wait()
        try:
            pool.claim(team, rep, aid)
            results[rep.login] = "ok"
        except CrmError as exc:
            results[rep.login] = str(exc)

    threads = [threading.Thread(target=go, args=(r,)) for r in reps]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    winners = [k for k, v in results.items() if v == "ok"]
    assert len(winners) == 1
    loser = next(v for k, v in results.items() if k not in winners)
    assert "no longer in the pool" in loser
    assert team.scalar("SELECT owner_id FROM accounts WHERE id = ?", [aid]) == actor(team, winners[0]).id
    assert team.scalar("SELECT count(*) FROM pool_events WHERE kind = 'claim'") == 1


def test_assignment_rules_region_industry_round_robin(team):
    boss = actor(team, "boss1")
    east = accounts.create(team, boss, name="East lead", region="East", owner_id=None, now=NOW)
    retail = accounts.create(team, boss, name="Retail lead", industry="Retail", owner_id=None, now=NOW)
    rr = [accounts.create(team, boss, name=f"Other {i}", owner_id=None, now=NOW) for i in range(3)]
    settings.put(team, boss, "pool.assignment_rules", [
        {"kind": "region", "match": "east", "user_id": 4},
        {"kind": "industry", "match": "Retail", "user_id": 3},
        {"kind": "round_robin", "team_id": 1},
    ])
    done = pool.assign(team, boss, now=NOW)
    got = {d["account_id"]: (d["user_id"], d["rule"]) for d in done}
    assert got[east] == (4, 1) and got[retail] == (3, 2)
    # Round-robin over the active reps of dept 1 (ann 3, bob 4; gone 7 is inactive), the one assigned longest
    # ago first: both were just assigned by rules 1 and 2 at the same time, so ties go by id -> 3, 4, 3.
    assert [got[a][0] for a in rr] == [3, 4, 3]
    assert team.scalar("SELECT count(*) FROM accounts WHERE owner_id IS NULL") == 0
    # a released account is not a new lead: assign leaves it alone
    pool.release(team, actor(team, "ann"), east if got[east][0] == 3 else retail, "test", now=NOW)
    assert pool.assign(team, boss, now=NOW) == []


def test_rules_are_validated(team):
    boss = actor(team, "boss1")
    for rules, pattern in [([{"kind": "city", "match": "x", "user_id": 3}], "kind must be"),
                           ([{"kind": "region", "user_id": 3}], "needs the region"),
                           ([{"kind": "round_robin"}], "give a team"),
                           ([{"kind": "round_robin", "team_id": 9}], "team 9 does not exist"),
                           ([{"kind": "region", "match": "x", "user_id": 7}], "not an active sales user")]:
        with pytest.raises(ValidationError, match=pattern):
            pool.validate_rules(team, rules)
    with pytest.raises(ValidationError, match="No assignment rules"):
        pool.assign(team, boss)
    with pytest.raises(PermissionDenied):
        pool.assign(team, actor(team, "ann"))


def test_rule_settings_save_is_versioned(team):
    boss, boss2 = actor(team, "boss1"), actor(team, "boss2")
    loaded = {k: v for k, (_, v) in pool.rule_settings(team).items()}
    assert pool.save_rule_settings(team, boss, {"pool.daily_claim_limit": 3}, loaded) == ["pool.daily_claim_limit"]
    with pytest.raises(CrmError, match="changed by someone else"):
        pool.save_rule_settings(team, boss2, {"pool.daily_claim_limit": 8}, loaded)
    with pytest.raises(ValidationError, match="at least 1"):
        pool.save_rule_settings(team, boss, {"pool.return_after_days": 0}, loaded)
    with pytest.raises(ValidationError, match="longer than dormant"):
        pool.save_rule_settings(team, boss, {"lifecycle.churned_after_days": 100}, loaded)
    assert settings.get(team, "pool.daily_claim_limit") == 3


def test_handover_moves_accounts_open_deals_and_tasks_keeps_history(team):
    boss = actor(team, "boss1")
    gone_id = 7
    a1 = accounts.create(team, boss, name="G1", owner_id=gone_id, now=NOW)
    a2 = accounts.create(team, boss, name="G2", owner_id=gone_id, now=NOW)
    a3 = accounts.create(team, boss, name="G3", owner_id=gone_id, now=NOW)
    o_open = opportunities.create(team, boss, name="Open", stage_id=2, amount=5, expected_close="2026-08-01",
                                  account_id=a2, owner_id=gone_id, now=NOW)
    o_won = opportunities.create(team, boss, name="Won", stage_id=6, amount=5, expected_close="2026-06-01",
                                 account_id=a2, owner_id=gone_id, now=NOW)
    activities.log(team, boss, kind="call", subject="x", account_id=a3, next_due=date(2026, 7, 5), now=NOW)
    assert handover.preview(team, boss, gone_id) == {"accounts": 3, "open_opportunities": 1, "open_tasks": 1}
    with pytest.raises(PermissionDenied):
        handover.hand_over(team, actor(team, "boss2"), gone_id, [5])
    with pytest.raises(ValidationError, match="not an active sales user"):
        handover.hand_over(team, boss, gone_id, [7, 99])
    moved = handover.hand_over(team, boss, gone_id, [3, 4], now=NOW)
    assert moved == {"accounts": 3, "open_opportunities": 1, "open_tasks": 1}
    owners = dict(team.rows("SELECT id, owner_id FROM accounts WHERE id IN (?, ?, ?)", [a1, a2, a3]))
    assert owners == {a1: 3, a2: 4, a3: 3}                         # dealt out in turn by account id
    assert team.scalar("SELECT owner_id FROM opportunities WHERE id = ?", [o_open]) == 4   # follows its account
    assert team.scalar("SELECT owner_id FROM opportunities WHERE id = ?", [o_won]) == gone_id  # credit stays
    assert team.scalar("SELECT owner_id FROM activities WHERE NOT done") == 3
    assert team.scalar("SELECT count(*) FROM stage_history WHERE opportunity_id = ?", [o_open]) == 1
    assert team.scalar("SELECT count(*) FROM pool_events WHERE kind = 'handover'") == 3


def test_daily_jobs_sweep_once_a_day(team):
    from crm_core.bootstrap import run_daily_jobs

    ann = actor(team, "ann")
    aid = accounts.create(team, ann, name="Forgotten", now=datetime(2026, 5, 1, 9))
    assert run_daily_jobs(team, today=date(2026, 6, 15)) is True
    assert team.scalar("SELECT owner_id FROM accounts WHERE id = ?", [aid]) is None   # 45 days without follow-up
    assert run_daily_jobs(team, today=date(2026, 6, 15)) is False


def test_handover_keeps_plan_and_value_summaries_right_without_a_full_rebuild(demo_db):
    """The hand-over names the accounts it touched: the summaries refresh those, and agree with the source."""
    from crm_core import derived, plans

    db = demo_db
    derived.refresh_all(db)
    admin = load_actor(db, "admin")
    leaver = db.one("SELECT owner_id AS id FROM opportunities WHERE status = 'open' AND owner_id IN "
                    "(SELECT id FROM users WHERE role = 'rep' AND active) GROUP BY owner_id ORDER BY count(*) DESC "
                    "LIMIT 1")["id"]
    heir = db.scalar("SELECT id FROM users WHERE role = 'rep' AND active AND id <> ? AND department_id = "
                     "(SELECT department_id FROM users WHERE id = ?) ORDER BY id LIMIT 1", [leaver, leaver])
    handover.hand_over(db, admin, leaver, [heir])
    state = db.scalar("SELECT fingerprint FROM plan_facts_state WHERE id = 1")
    assert state != "stale"                       # named accounts, not "any account"
    plans.ensure_facts(db)
    # the open pipeline per owner in the facts equals the deals' (unweighted stage rows and own-probability rows)
    facts = dict(db.rows("SELECT owner_id, sum(value) FROM plan_facts WHERE metric LIKE 'pipeline:%' "
                         "OR metric = 'pipeline_own' GROUP BY 1 HAVING sum(value) <> 0"))
    source = dict(db.rows("SELECT owner_id, sum(amount * coalesce(probability, 1)) FROM opportunities "
                          "WHERE status = 'open' AND expected_close IS NOT NULL GROUP BY 1 HAVING sum(amount) <> 0"))
    assert facts.get(leaver) is None and facts == source
