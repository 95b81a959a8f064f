"""Customer value on a hand-worked data set (the arithmetic is in the comments).

As of 2026-06-30, four customers (account 5 is in the pool without orders):

| id | name  | owner | orders (date product amount/cost)                             |
|----|-------|-------|----------------------------------------------------------------|
| 1  | Alpha | rep 2 | 01-01 P1 100/60, 01-01 P3 50/-, 03-01 P1 100/60, 05-30 P1 100/60 |
| 2  | Beta  | rep 2 | 2026-06-20 P2 400/100                                          |
| 3  | Gamma | rep 3 | 2025-01-01 P1 200/100, 2025-07-01 P2 600/300, 2025-07-01 P3 100/50 |
| 4  | Delta | rep 3 | 2026-06-01 P3 50/-, 2026-06-15 P3 50/-                         |

Per customer: order days 3/1/2/2; revenue 350/400/900/100; gross profit
120/300/450/NULL; margin 120/300=.4, .75, 450/900=.5, NULL; days since
last order 31/10/364/15; tenure 180/10/545/29; orders per year
3*365/365=3, 1, 2*365/545=1.3394, 2; usual interval 149/2=74.5, -, 181, 14.
"""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from crm_core import (
    hooks,
    settings,
    value,
    value_actions,
    value_cross_sell,
    value_scoring,
    value_segments,
    value_summary,
)
from crm_core.access import Actor
from crm_core.errors import PermissionDenied, StaleEditError, ValidationError

AS_OF = date(2026, 6, 30)
ADMIN = Actor(id=1, login="admin", role="admin")
REP2 = Actor(id=2, login="rep2", role="rep")
REP3 = Actor(id=3, login="rep3", role="rep")
MANAGER = Actor(id=4, login="mgr", role="manager", team_ids=(2, 4))
ANALYST = Actor(id=5, login="ana", role="analyst")
NAMES = {1: "Alpha", 2: "Beta", 3: "Gamma", 4: "Delta"}


@pytest.fixture
def hand(db):
    with db.atomic() as cur:
        cur.execute("""
            INSERT INTO users (id, login, display_name, role) VALUES
              (1, 'admin', 'Admin', 'admin'), (2, 'rep2', 'Rep Two', 'rep'), (3, 'rep3', 'Rep Three', 'rep'),
              (4, 'mgr', 'Manager', 'manager'), (5, 'ana', 'Analyst', 'analyst');
            INSERT INTO accounts (id, name, normalized_name, owner_id, industry, employees, annual_revenue) VALUES
              (1, 'Alpha', 'alpha', 2, 'Retail', 100, 1000000), (2, 'Beta', 'beta', 2, 'Retail', 50, 500000),
              (3, 'Gamma', 'gamma', 3, 'Tech', 200, 2000000), (4, 'Delta', 'delta', 3, 'Tech', NULL, NULL),
              (5, 'Eps', 'eps', NULL, 'Tech', 10, 1000);
            INSERT INTO products (id, name, series, tier, repurchase_days) VALUES
              (1, 'P1', 'S', 1, 30), (2, 'P2', 'S', 2, NULL), (3, 'P3', NULL, NULL, NULL);
            INSERT INTO orders (account_id, product_id, order_date, amount, cost) VALUES
              (1, 1, '2026-01-01', 100, 60), (1, 3, '2026-01-01', 50, NULL), (1, 1, '2026-03-01', 100, 60),
              (1, 1, '2026-05-30', 100, 60), (2, 2, '2026-06-20', 400, 100),
              (3, 1, '2025-01-01', 200, 100), (3, 2, '2025-07-01', 600, 300), (3, 3, '2025-07-01', 100, 50),
              (4, 3, '2026-06-01', 50, NULL), (4, 3, '2026-06-15', 50, NULL);
            INSERT INTO contracts (id, account_id, owner_id, signed_date, amount) VALUES
              (1, 1, 2, '2026-01-01', 200), (2, 3, 3, '2025-01-01', 100);
            -- Alpha: 100 on time, 100 late -> punctuality .5; Gamma: on time -> 1.0
            INSERT INTO payments (contract_id, due_date, amount_due, paid_date, amount_paid) VALUES
              (1, '2026-02-01', 100, '2026-01-30', 100), (1, '2026-03-01', 100, '2026-03-10', 100),
              (2, '2025-02-01', 100, '2025-02-01', 100);
            -- follow-ups: Alpha 2 (last 06-20), Beta 1 (06-29); the open task does not count
            INSERT INTO activities (kind, subject, account_id, owner_id, occurred_at, done) VALUES
              ('call', 'c', 1, 2, '2026-06-20 10:00', TRUE), ('call', 'c', 1, 2, '2026-05-01 10:00', TRUE),
              ('call', 'c', 2, 2, '2026-06-29 10:00', TRUE);
            INSERT INTO activities (kind, subject, account_id, owner_id, due_date, done) VALUES
              ('task', 't', 1, 2, '2026-07-01', FALSE);
            INSERT INTO stages (id, name, position, probability) VALUES (1, 'Open', 1, 0.5);
            INSERT INTO opportunities (account_id, name, owner_id, stage_id, amount, status) VALUES
              (3, 'g', 3, 1, 1000, 'open'), (1, 'a', 2, 1, 500, 'won');
        """)
    value_summary.rebuild(db)
    return db


def _by_name(df: pl.DataFrame) -> dict[str, dict]:
    return {r["name"]: r for r in df.iter_rows(named=True)}


# Percentiles by hand: (customers strictly worse) / (n - 1), n = customers with a value.
HAND_P = {
    # employees 100/50/200/NULL (n=3): Beta 0, Alpha .5, Gamma 1, Delta missing .5
    "size": {"Alpha": .5, "Beta": 0, "Gamma": 1, "Delta": .5},
    # industry avg revenue: Retail (350+400)/2=375, Tech (900+100)/2=500 -> Retail 0, Tech 2/3
    "industry": {"Alpha": 0, "Beta": 0, "Gamma": 2 / 3, "Delta": 2 / 3},
    "annual_revenue": {"Alpha": .5, "Beta": 0, "Gamma": 1, "Delta": .5},
    # order days 3/1/2/2
    "order_count": {"Alpha": 1, "Beta": 0, "Gamma": 1 / 3, "Delta": 1 / 3},
    # orders/year 3/1/1.339/2
    "frequency": {"Alpha": 1, "Beta": 0, "Gamma": 1 / 3, "Delta": 2 / 3},
    # days since last order 31/10/364/15, fewer is better
    "recency": {"Alpha": 1 / 3, "Beta": 1, "Gamma": 0, "Delta": 2 / 3},
    # tenure 180/10/545/29
    "tenure": {"Alpha": 2 / 3, "Beta": 0, "Gamma": 1, "Delta": 1 / 3},
    "revenue": {"Alpha": 1 / 3, "Beta": 2 / 3, "Gamma": 1, "Delta": 0},
    # gross profit 120/300/450/NULL (n=3)
    "gross_profit": {"Alpha": 0, "Beta": .5, "Gamma": 1, "Delta": .5},
    # margin .4/.75/.5/NULL
    "margin": {"Alpha": 0, "Beta": 1, "Gamma": .5, "Delta": .5},
    # punctuality .5/NULL/1/NULL (n=2)
    "punctuality": {"Alpha": 0, "Beta": .5, "Gamma": 1, "Delta": .5},
    # follow-ups 2/1/0/0
    "followups": {"Alpha": 1, "Beta": 2 / 3, "Gamma": 0, "Delta": 0},
    # days since follow-up 10/1/NULL/NULL, fewer is better, never = 0
    "days_since_followup": {"Alpha": 0, "Beta": 1, "Gamma": 0, "Delta": 0},
    "open_opportunities": {"Alpha": 0, "Beta": 0, "Gamma": 1, "Delta": 0},
}


def test_summary_rows(hand):
    rows = {r["account_id"]: r for r in hand.dicts("SELECT * FROM value_summary")}
    assert sorted(rows) == [1, 2, 3, 4]  # Eps has no orders
    a = rows[1]
    assert (a["order_days"], a["order_lines"], float(a["revenue"]), float(a["gross_profit"])) == (3, 4, 350, 120)
    assert float(a["costed_revenue"]) == 300 and float(a["paid_amount"]) == 200 and float(a["paid_on_time"]) == 100
    assert a["followups"] == 2 and a["open_opps"] == 0
    assert rows[3]["open_opps"] == 1 and rows[4]["gross_profit"] is None


def test_indicators_and_percentiles(hand):
    cust = _by_name(value_scoring.customers(hand, ADMIN, as_of=AS_OF))
    assert [cust[n]["recency_days"] for n in ("Alpha", "Beta", "Gamma", "Delta")] == [31, 10, 364, 15]
    assert [cust[n]["tenure_days"] for n in ("Alpha", "Beta", "Gamma", "Delta")] == [180, 10, 545, 29]
    assert cust["Gamma"]["orders_per_year"] == pytest.approx(2 * 365 / 545)
    assert cust["Alpha"]["usual_interval"] == pytest.approx(74.5)
    assert cust["Alpha"]["margin"] == pytest.approx(0.4) and cust["Delta"]["margin"] is None
    assert cust["Alpha"]["punctuality"] == pytest.approx(0.5)
    for key, expected in HAND_P.items():
        for name, p in expected.items():
            assert cust[name][f"p_{key}"] == pytest.approx(p), (key, name)


def test_score_tiers_and_breakdown_default_weights(hand):
    w = value_scoring.DEFAULT_WEIGHTS
    cust = _by_name(value_scoring.customers(hand, ADMIN, as_of=AS_OF))
    for name in NAMES.values():
        expected = 100 * sum(w[k] * HAND_P[k][name] for k in w) / sum(w.values())
        assert cust[name]["score"] == pytest.approx(expected)
        parts = value_scoring.breakdown(cust[name], w)
        assert parts["points"].sum() == pytest.approx(expected)
        assert sum(cust[name][f"points_{g}"] for g in value_scoring.GROUPS) == pytest.approx(expected)


def test_custom_weights_rank_and_tiers(hand):
    # revenue and recency only: Alpha (1/3+1/3)/2, Beta (2/3+1)/2, Gamma (1+0)/2, Delta (0+2/3)/2
    w = {k: 0.0 for k in value_scoring.DEFAULT_WEIGHTS} | {"revenue": 1.0, "recency": 1.0}
    df = value_scoring.customers(hand, ADMIN, as_of=AS_OF, weights_override=w)
    assert df["name"].to_list() == ["Beta", "Gamma", "Alpha", "Delta"]  # Alpha/Delta tie: lower id first
    assert df["score"].to_list() == pytest.approx([250 / 3, 50, 100 / 3, 100 / 3])
    # positions 0, .25, .5, .75 of 4: A < .2, B < .5, C < .8
    assert df["tier"].to_list() == ["A", "B", "C", "C"]


def test_saved_weights_change_the_ranking(hand):
    before = value_scoring.customers(hand, ADMIN, as_of=AS_OF)["name"].to_list()
    w = {k: 0.0 for k in value_scoring.DEFAULT_WEIGHTS} | {"recency": 1.0}
    value_scoring.save_weights(hand, MANAGER, w, expected_version=0)
    after = value_scoring.customers(hand, ADMIN, as_of=AS_OF)["name"].to_list()
    assert after == ["Beta", "Delta", "Alpha", "Gamma"] != before
    assert settings.get(hand, "value.weights")["recency"] == 1.0
    with pytest.raises(StaleEditError):
        value_scoring.save_weights(hand, MANAGER, w, expected_version=0)
    with pytest.raises(PermissionDenied):
        value_scoring.save_weights(hand, REP2, w, expected_version=1)
    for bad in ({"recency": 2}, {"recency": "x"}, {"nope": 1}, {k: 0 for k in value_scoring.DEFAULT_WEIGHTS}):
        with pytest.raises(ValidationError):
            value_scoring.save_weights(hand, MANAGER, bad, expected_version=1)
    assert settings.version_of(hand, "value.weights") == 1


def test_rfm_scores_and_segments(hand):
    cust = _by_name(value_scoring.customers(hand, ADMIN, as_of=AS_OF))
    # R on last order: Gamma 0 -> 1, Alpha 1/3 -> 2, Delta 2/3 -> 4, Beta 1 -> 5
    # F on order days: Beta 0 -> 1, Gamma/Delta 1/3 -> 2, Alpha 1 -> 5
    # M on revenue: Delta 0 -> 1, Alpha 1/3 -> 2, Beta 2/3 -> 4, Gamma 1 -> 5
    got = {n: (r["r_score"], r["f_score"], r["m_score"], r["segment"]) for n, r in cust.items()}
    assert got == {"Alpha": (2, 5, 2, "at_risk"), "Beta": (5, 1, 4, "potential_loyalists"),
                   "Gamma": (1, 2, 5, "lost"), "Delta": (4, 2, 1, "potential_loyalists")}
    seg = value_segments.rfm_segments(value_scoring.customers(hand, ADMIN, as_of=AS_OF))
    assert seg["segment"].to_list() == list(value_segments.SEGMENTS)
    counts = dict(zip(seg["segment"], seg["customers"]))
    revenue = dict(zip(seg["segment"], seg["revenue"]))
    assert counts == {"champions": 0, "loyal": 0, "potential_loyalists": 2, "cant_lose": 0, "at_risk": 1,
                      "hibernating": 0, "lost": 1}
    assert revenue["potential_loyalists"] == 500 and revenue["lost"] == 900


def test_pareto_and_abc(hand):
    # revenue: Gamma 900, Beta 400, Alpha 350, Delta 100 of 1750; share before: 0, .514, .743, .943
    cust = value_scoring.customers(hand, ADMIN, as_of=AS_OF)
    assert dict(zip(cust["name"], cust["abc"])) == {"Gamma": "A", "Beta": "A", "Alpha": "A", "Delta": "B"}
    assert value_segments.share_for_80(cust) == 0.75
    curve = value_segments.pareto_curve(cust)
    assert curve["value_share"].to_list() == pytest.approx([0, 900 / 1750, 1300 / 1750, 1650 / 1750, 1])
    # gross profit: Gamma 450, Beta 300, Alpha 120, Delta 0 of 870; share before 0, .517, .862, 1
    gp = value_scoring.customers(hand, ADMIN, as_of=AS_OF, pareto_metric="gross_profit")
    assert dict(zip(gp["name"], gp["abc"])) == {"Gamma": "A", "Beta": "A", "Alpha": "B", "Delta": "C"}
    assert value_segments.share_for_80(gp) == 0.5
    with pytest.raises(ValidationError):
        value_scoring.customers(hand, ADMIN, as_of=AS_OF, pareto_metric="bogus")


def test_churn_and_ltv(hand):
    cust = value_scoring.customers(hand, ADMIN, as_of=AS_OF)
    byn = _by_name(cust)
    # overdue ratio: Alpha 31/74.5 = .42, Gamma 364/181 = 2.01, Delta 15/14 = 1.07; Beta one order
    assert {n: r["churn_state"] for n, r in byn.items()} == {
        "Alpha": "on_track", "Beta": "one_order", "Gamma": "at_risk", "Delta": "on_track"}
    assert byn["Gamma"]["overdue_ratio"] == pytest.approx(364 / 181)
    assert value_segments.churn_list(cust)["name"].to_list() == ["Gamma"]
    # projected = revenue + revenue/order days x orders per year x 3 (all active here)
    expected = {"Alpha": 350 + 350 / 3 * 3 * 3, "Beta": 400 + 400 * 1 * 3,
                "Gamma": 900 + 450 * (730 / 545) * 3, "Delta": 100 + 50 * 2 * 3}
    for name, ltv in expected.items():
        assert byn[name]["ltv_projected"] == pytest.approx(ltv)
        assert byn[name]["ltv_historical"] == pytest.approx(float(byn[name]["revenue"]))
    cohorts = {r["cohort"]: r for r in value_segments.ltv_cohorts(cust).iter_rows(named=True)}
    assert sorted(cohorts) == [date(2025, 1, 1), date(2026, 1, 1), date(2026, 4, 1)]
    q2 = cohorts[date(2026, 4, 1)]  # Beta and Delta
    assert (q2["customers"], q2["historical"], q2["projected"]) == (2, 500, pytest.approx(2000))
    # a year later Gamma (ratio 729/181 > 3) is lapsed and projects nothing more
    later = _by_name(value_scoring.customers(hand, ADMIN, as_of=date(2027, 6, 30)))
    assert later["Gamma"]["churn_state"] == "lapsed" and later["Gamma"]["ltv_projected"] == 900


def test_cross_sell_pairs_recommendations_upsell_repeat(hand):
    # buyers: P1 {Alpha, Gamma}, P2 {Beta, Gamma}, P3 {Alpha, Gamma, Delta}; N = 4
    pairs = value_cross_sell.product_pairs(hand, ADMIN)
    got = {(r["product_a"], r["product_b"]): r for r in pairs.iter_rows(named=True)}
    assert sorted(got) == [("P1", "P3"), ("P3", "P1")]  # only pairs with 2+ customers
    assert (got["P1", "P3"]["support"], got["P1", "P3"]["confidence"]) == (0.5, 1.0)
    assert got["P1", "P3"]["lift"] == pytest.approx(1 / 0.75)
    assert got["P3", "P1"]["confidence"] == pytest.approx(2 / 3)
    one = value_cross_sell.product_pairs(hand, ADMIN, min_customers=1)
    p12 = one.filter((pl.col("product_a") == "P1") & (pl.col("product_b") == "P2")).row(0, named=True)
    assert (p12["support"], p12["confidence"], p12["lift"]) == (0.25, 0.5, 1.0)
    # Delta {P3}: Alpha similarity 1/2, Gamma 1/3; P1 (1/2+1/3)/(5/6) = 1, P2 (1/3)/(5/6) = .4
    rec = value_cross_sell.recommendations(hand, ADMIN, 4)
    assert rec["product"].to_list() == ["P1", "P2"]
    assert rec["score"].to_list() == pytest.approx([1.0, 0.4])
    with pytest.raises(PermissionDenied):
        value_cross_sell.recommendations(hand, REP2, 4)
    up = value_cross_sell.upsell(hand, ADMIN)
    assert up.select("name", "current_product", "next_product").rows() == [("Alpha", "P1", "P2")]
    # P1 cycle 30: Alpha last 05-30 -> due 06-29; P3 observed 14 (Delta 06-01..06-15) -> due 06-29
    due = value_cross_sell.repeat_due(hand, ADMIN, as_of=AS_OF)
    assert due.select("name", "product", "due_date", "days_overdue").rows() == [
        ("Alpha", "P1", date(2026, 6, 29), 1), ("Delta", "P3", date(2026, 6, 29), 1)]


def test_reps_see_only_their_customers(hand):
    rep = value_scoring.customers(hand, REP2, as_of=AS_OF)
    assert sorted(rep["name"].to_list()) == ["Alpha", "Beta"]
    # ranks are among the visible customers: revenue Alpha 350 < Beta 400 -> 0, 1
    assert dict(zip(rep["name"], rep["p_revenue"])) == {"Alpha": 0.0, "Beta": 1.0}
    mgr = value_scoring.customers(hand, MANAGER, as_of=AS_OF)
    assert sorted(mgr["name"].to_list()) == ["Alpha", "Beta"]
    assert value_cross_sell.upsell(hand, REP3)["name"].to_list() == []
    assert value_scoring.customers(hand, ANALYST, as_of=AS_OF).height == 4
    assert sorted(value.REPORTS["value"](hand, REP2, _opts())["name"].to_list()) == ["Alpha", "Beta"]
    assert value.REPORTS["rfm"](hand, REP2, _opts())["customers"].sum() == 2
    assert value.REPORTS["cross-sell"](hand, REP2, _opts()).height == 0  # no pair bought by 2 of their customers


def _opts():
    from crm_core.reports import ReportOptions

    return ReportOptions(today=AS_OF)


def test_reports_match_the_page(hand):
    ov = value.overview(hand, ADMIN, None, AS_OF)
    rep = value.REPORTS["value"](hand, ADMIN, _opts())
    assert rep["score"].to_list() == ov["ranking"]["score"].to_list()
    assert value.REPORTS["rfm"](hand, ADMIN, _opts()).equals(ov["rfm_segments"])
    par = value.REPORTS["pareto"](hand, ADMIN, _opts())
    assert par["share_of_customers_making_80pct"][0] == ov["share_80"] == 0.75
    assert value.REPORTS["churn"](hand, ADMIN, _opts())["name"].to_list() == ov["churn_list"]["name"].to_list()
    assert value.REPORTS["cross-sell"](hand, ADMIN, _opts()).height == 2


def test_summary_follows_writes(hand):
    # a new order for Beta, announced: the listener refreshes Beta only
    hand.execute("INSERT INTO orders (account_id, product_id, order_date, amount) VALUES (2, 1, '2026-06-25', 100)")
    hooks.notify(hand, "orders", [2])
    # the write only leaves a note, in the queue the summaries share
    assert hand.rows("SELECT account_id FROM plan_facts_and_value_dirty WHERE NOT value_done") == [(2,)]
    value_summary.ensure_current(hand)  # what every value read does first
    assert hand.rows("SELECT account_id FROM plan_facts_and_value_dirty WHERE NOT value_done") == []
    beta = hand.one("SELECT order_days, revenue FROM value_summary WHERE account_id = 2")
    assert (beta["order_days"], float(beta["revenue"])) == (2, 500)
    assert value_summary.is_current(hand)
    # a bulk load that does not notify is noticed by the fingerprint and rebuilt on read
    hand.execute("INSERT INTO orders (account_id, product_id, order_date, amount) VALUES (4, 3, '2026-06-29', 70)")
    assert not value_summary.is_current(hand)
    delta = _by_name(value_scoring.customers(hand, ADMIN, as_of=AS_OF))["Delta"]
    assert (delta["order_days"], float(delta["revenue"])) == (3, 170)
    # a merged-away account drops out
    hand.execute("UPDATE accounts SET merged_into_id = 1 WHERE id = 4")
    assert "Delta" not in value_scoring.customers(hand, ADMIN, as_of=AS_OF)["name"].to_list()


def test_create_tasks_for_a_segment(hand):
    done = value_actions.create_followup_tasks(hand, REP2, [1, 2, 3, 5], subject="Call about renewal",
                                               due_date=date(2026, 7, 7))
    assert (done["created"], done["skipped"]) == (2, 2)  # Gamma is rep 3's, Eps is in the pool
    rows = hand.rows("SELECT account_id, owner_id, kind, done, due_date FROM activities "
                     "WHERE subject = 'Call about renewal' ORDER BY account_id")
    assert rows == [(1, 2, "task", False, date(2026, 7, 7)), (2, 2, "task", False, date(2026, 7, 7))]
    audit = hand.one("SELECT user_login, action, entity FROM audit_log WHERE action = 'create_tasks'")
    assert audit == {"user_login": "rep2", "action": "create_tasks", "entity": "activities"}
    assert sorted(value_actions.open_tasks(hand, REP2)["account_id"].to_list()) == [1, 1, 2]
    assert value_actions.open_tasks(hand, REP3).height == 0
    # the admin's tasks go to each account's owner
    value_actions.create_followup_tasks(hand, ADMIN, [3], subject="Win back", due_date=date(2026, 7, 1))
    assert hand.scalar("SELECT owner_id FROM activities WHERE subject = 'Win back'") == 3
    before = hand.scalar("SELECT count(*) FROM activities")
    with pytest.raises(ValidationError, match="None of the 1 accounts"):
        value_actions.create_followup_tasks(hand, REP3, [1], subject="x", due_date=date(2026, 7, 1))
    with pytest.raises(ValidationError, match="subject"):
        value_actions.create_followup_tasks(hand, REP2, [1], subject="  ", due_date=date(2026, 7, 1))
    with pytest.raises(ValidationError, match="empty"):
        value_actions.create_followup_tasks(hand, REP2, [], subject="x", due_date=date(2026, 7, 1))
    with pytest.raises(PermissionDenied):
        value_actions.create_followup_tasks(hand, ANALYST, [1], subject="x", due_date=date(2026, 7, 1))
    assert hand.scalar("SELECT count(*) FROM activities") == before


def test_action_lists_and_safe_export(hand):
    lst = value.action_list(hand, ADMIN, None, AS_OF, "revenue", "segment", "potential_loyalists")
    assert sorted(lst["name"].to_list()) == ["Beta", "Delta"]
    assert value.action_list(hand, ADMIN, None, AS_OF, "revenue", "upsell")["name"].to_list() == ["Alpha"]
    assert sorted(value.action_list(hand, ADMIN, None, AS_OF, "revenue", "repeat_due")["name"]) == ["Alpha", "Delta"]
    with pytest.raises(ValidationError):
        value.action_list(hand, ADMIN, None, AS_OF, "revenue", "bogus", 1)
    hand.execute("UPDATE accounts SET name = '=HYPERLINK(\"x\")' WHERE id = 2")
    csv = value_actions.to_csv(value.action_list(hand, ADMIN, None, AS_OF, "revenue", "all")).decode("utf-8")
    assert "'=HYPERLINK" in csv and "\n=HYPERLINK" not in csv and ",=HYPERLINK" not in csv


def test_empty_database(db):
    ov = value.overview(db, ADMIN, None, AS_OF)
    assert ov["customers"] == 0 and ov["share_80"] == 0
    assert ov["rfm_segments"]["customers"].sum() == 0
    assert value_cross_sell.product_pairs(db, ADMIN).height == 0


def test_basket_masks_and_the_row_path_agree(hand, monkeypatch):
    # Alpha bought P1 and P3: bits 1 and 3
    assert hand.scalar("SELECT product_mask FROM value_summary WHERE account_id = 1") == 0b1010
    fast = (value_cross_sell.product_pairs(hand, ADMIN, min_customers=1), value_cross_sell.upsell(hand, ADMIN),
            value_cross_sell.recommendations(hand, ADMIN, 4), value_cross_sell.recommendations(hand, REP2, 1))
    monkeypatch.setattr(value_cross_sell, "_masks_complete", lambda db: False)
    slow = (value_cross_sell.product_pairs(hand, ADMIN, min_customers=1), value_cross_sell.upsell(hand, ADMIN),
            value_cross_sell.recommendations(hand, ADMIN, 4), value_cross_sell.recommendations(hand, REP2, 1))
    for a, b in zip(fast, slow):
        assert a.columns == b.columns and a.height == b.height
        for ra, rb in zip(a.rows(), b.rows()):
            assert [x for x in ra if isinstance(x, str)] == [x for x in rb if isinstance(x, str)]
            assert [x for x in ra if not isinstance(x, str)] == pytest.approx([x for x in rb if not isinstance(x, str)])


def test_cohort_grains_and_default_date(hand):
    # the data ends 2026-06-20 (Beta), before today: the page starts the day after
    assert value.default_as_of(hand, ADMIN) == date(2026, 6, 21)
    cust = value_scoring.customers(hand, ADMIN, as_of=AS_OF)
    months = value_segments.ltv_cohorts(cust, "month")
    assert dict(zip(months["cohort"], months["customers"])) == {
        date(2025, 1, 1): 1, date(2026, 1, 1): 1, date(2026, 6, 1): 2}
    years = value_segments.ltv_cohorts(cust, "year")
    assert dict(zip(years["cohort"], years["historical"])) == {date(2025, 1, 1): 900, date(2026, 1, 1): 850}
    lst = value.action_list(hand, ADMIN, None, AS_OF, "revenue", "cohort", date(2026, 1, 1), "year")
    assert sorted(lst["name"]) == ["Alpha", "Beta", "Delta"]
    with pytest.raises(ValidationError):
        value_segments.ltv_cohorts(cust, "week")


def test_tasks_from_a_segment_reach_the_owners_reminders(hand):
    from crm_core import reminders

    segment = value.action_list(hand, ADMIN, None, AS_OF, "revenue", "segment", "potential_loyalists")
    done = value_actions.create_followup_tasks(hand, ADMIN, segment["account_id"].to_list(),
                                               subject="Win them over", due_date=date(2026, 6, 29))
    assert done["created"] == 2  # Beta (rep 2) and Delta (rep 3)
    # once the due date has passed they are overdue follow-ups in each owner's reminders
    for actor, account in ((REP2, "Beta"), (REP3, "Delta")):
        overdue = reminders.overdue_followups(hand, actor, AS_OF)
        assert overdue.filter(pl.col("subject") == "Win them over")["account"].to_list() == [account]


def test_frame_is_reused_across_unrelated_writes_only(hand):
    first = value_scoring.customers(hand, ADMIN, as_of=AS_OF)
    settings.put(hand, ADMIN, "currency", "EUR")  # a write the figures do not read
    assert value_scoring.customers(hand, ADMIN, as_of=AS_OF) is first
    hand.execute("UPDATE accounts SET name = 'Alpha Renamed' WHERE id = 1")
    assert "Alpha Renamed" in value_scoring.customers(hand, ADMIN, as_of=AS_OF)["name"].to_list()
    hand.execute("UPDATE accounts SET owner_id = 3 WHERE id = 1")  # ownership moves: the rep's view follows
    assert sorted(value_scoring.customers(hand, REP2, as_of=AS_OF)["name"].to_list()) == ["Beta"]


def test_a_list_of_customers_without_a_value_is_selectable():
    from crm_core.value_actions import select

    cust = pl.DataFrame({"account_id": [1, 2, 3], "cohort": ["2025Q1", None, "2025Q1"]})
    assert select(cust, "cohort", "2025Q1")["account_id"].to_list() == [1, 3]
    assert select(cust, "cohort", None)["account_id"].to_list() == [2]   # was: nobody (== None is null)
    with pytest.raises(ValidationError):
        select(cust, "name", "x")
