"""Plan vs actual against a small hand-worked data set (and the demo data).

The data set (today = 2026-07-15, fiscal year = calendar year):

departments 1 East, 2 West; reps A (id 4, East), B (id 5, East until
2026-05-01, then West), C (id 6, West). Accounts 10 Acme (North, A),
11 Beta (South, B), 12 Gamma (North, C). Products 1 Widget, 2 Service.

won deals   o1 A  Acme  Widget  1000  closed 2026-03-31 (last day of Q1)
            o2 A  Acme  Service 2000  closed 2026-04-01
            o3 B  Beta  Widget   500  closed 2026-04-15 (B still in East)
            o4 B  Beta  Widget   700  closed 2026-05-20 (B now in West)
            o5 C  Gamma Service  300  closed 2026-06-30 (last day of Q2)
open deals  o6 C  Gamma 1000, stage probability 0.5, expected 2026-08-15
            o7 A  Acme   400, own probability 0.25,  expected 2026-09-30
lost        o8 B  Beta   900 closed 2026-04-20
orders      r1 Acme Widget 1000 2026-03-31, r2 Beta Widget 500 2026-04-15,
            r3 Gamma Service 250 2026-07-02, r4 Acme Service 2000 2026-04-01
contract k1 (Acme, o2, A, signed 2026-04-01, 2000): p1 1000 due 04-30 paid
            2026-03-25 (before the contract's month), p2 1000 due 05-31, 400 paid 06-10
contract k2 (Gamma, o5, C, 2026-06-30, 300): p3 300 due 07-30 unpaid
contract k3 (Beta, o3, B, 2026-04-15, 500): p4 300 due 04-15, p5 200 due 06-15, unpaid
contract k4 (Beta, cancelled): p6 999 due 2026-01-01 unpaid (owes nothing)
"""

from __future__ import annotations

import shutil
from datetime import date

import polars as pl
import pytest

from crm_core import hooks, periods, plans
from crm_core.access import Actor, load_actor
from crm_core.db import Database

TODAY = date(2026, 7, 15)
Q1, Q2, Q3 = periods.parse("2026Q1"), periods.parse("2026Q2"), periods.parse("2026Q3")
FY = periods.parse("FY2026")
ADMIN = Actor.system()
A, B, C = 4, 5, 6

SETUP = """
INSERT INTO departments (id, name) VALUES (1, 'East'), (2, 'West');
INSERT INTO users (id, login, display_name, role, department_id, manager_id) VALUES
  (1, 'admin', 'Admin', 'admin', NULL, NULL), (2, 'mgrE', 'Manager East', 'manager', 1, 1),
  (3, 'mgrW', 'Manager West', 'manager', 2, 1), (4, 'repA', 'Rep A', 'rep', 1, 2),
  (5, 'repB', 'Rep B', 'rep', 2, 3), (6, 'repC', 'Rep C', 'rep', 2, 3),
  (7, 'ana', 'Analyst', 'analyst', NULL, 1);
INSERT INTO user_department_history VALUES
  (2, 1, '2025-01-01', NULL), (3, 2, '2025-01-01', NULL), (4, 1, '2025-01-01', NULL),
  (5, 1, '2025-01-01', '2026-05-01'), (5, 2, '2026-05-01', NULL), (6, 2, '2025-01-01', NULL);
INSERT INTO stages (id, name, position, probability, is_won, is_lost) VALUES
  (1, 'Proposal', 1, 0.5, false, false), (2, 'Won', 2, 1, true, false), (3, 'Lost', 3, 0, false, true);
INSERT INTO products (id, name) VALUES (1, 'Widget'), (2, 'Service');
INSERT INTO accounts (id, name, normalized_name, region, owner_id) VALUES
  (10, 'Acme', 'acme', 'North', 4), (11, 'Beta', 'beta', 'South', 5), (12, 'Gamma', 'gamma', 'North', 6);
INSERT INTO opportunities (id, account_id, name, owner_id, department_id, product_id, stage_id, amount,
                           probability, expected_close, created_at, closed_at, status, region) VALUES
  (1, 10, 'o1', 4, 1, 1, 2, 1000, NULL, '2026-03-31', '2026-01-10', '2026-03-31', 'won', 'North'),
  (2, 10, 'o2', 4, 1, 2, 2, 2000, NULL, '2026-04-01', '2026-02-01', '2026-04-01', 'won', 'North'),
  (3, 11, 'o3', 5, 1, 1, 2, 500, NULL, '2026-04-15', '2026-03-01', '2026-04-15', 'won', 'South'),
  (4, 11, 'o4', 5, 1, 1, 2, 700, NULL, '2026-05-20', '2026-04-02', '2026-05-20', 'won', 'South'),
  (5, 12, 'o5', 6, 2, 2, 2, 300, NULL, '2026-06-30', '2026-04-10', '2026-06-30', 'won', 'North'),
  (6, 12, 'o6', 6, 2, 2, 1, 1000, NULL, '2026-08-15', '2026-06-01', NULL, 'open', 'North'),
  (7, 10, 'o7', 4, 1, 1, 1, 400, 0.25, '2026-09-30', '2026-06-10', NULL, 'open', 'North'),
  (8, 11, 'o8', 5, 1, 1, 3, 900, NULL, '2026-04-20', '2026-04-05', '2026-04-20', 'lost', 'South');
INSERT INTO orders (id, order_no, account_id, product_id, owner_id, order_date, amount) VALUES
  (1, 'r1', 10, 1, 4, '2026-03-31', 1000), (2, 'r2', 11, 1, 5, '2026-04-15', 500),
  (3, 'r3', 12, 2, 6, '2026-07-02', 250), (4, 'r4', 10, 2, 4, '2026-04-01', 2000);
INSERT INTO contracts (id, contract_no, account_id, opportunity_id, owner_id, signed_date, amount, status) VALUES
  (1, 'k1', 10, 2, 4, '2026-04-01', 2000, 'active'), (2, 'k2', 12, 5, 6, '2026-06-30', 300, 'active'),
  (3, 'k3', 11, 3, 5, '2026-04-15', 500, 'active'), (4, 'k4', 11, NULL, 5, '2025-12-01', 999, 'cancelled');
INSERT INTO payments (id, contract_id, due_date, amount_due, paid_date, amount_paid) VALUES
  (1, 1, '2026-04-30', 1000, '2026-03-25', 1000), (2, 1, '2026-05-31', 1000, '2026-06-10', 400),
  (3, 2, '2026-07-30', 300, NULL, 0), (4, 3, '2026-04-15', 300, NULL, 0), (5, 3, '2026-06-15', 200, NULL, 0),
  (6, 4, '2026-01-01', 999, NULL, 0);
INSERT INTO targets (id, grain, period_start, metric, owner_id, department_id, region, product_id, account_id,
                     value) VALUES
  (1, 'quarter', '2026-04-01', 'won_amount', NULL, 1, NULL, NULL, NULL, 1000),
  (2, 'quarter', '2026-04-01', 'won_amount', NULL, 2, NULL, NULL, NULL, 2000),
  (3, 'month', '2026-04-01', 'won_amount', 4, NULL, NULL, NULL, NULL, 1500),
  (4, 'month', '2026-05-01', 'won_amount', 4, NULL, NULL, NULL, NULL, 500),
  (5, 'month', '2026-06-01', 'won_amount', 4, NULL, NULL, NULL, NULL, 500),
  (6, 'quarter', '2026-04-01', 'won_amount', NULL, NULL, NULL, NULL, NULL, 4000),
  (7, 'year', '2026-01-01', 'collected', NULL, NULL, NULL, NULL, NULL, 10000),
  (8, 'quarter', '2026-04-01', 'order_revenue', NULL, NULL, NULL, 1, NULL, 1000),
  (9, 'quarter', '2026-07-01', 'won_amount', 6, NULL, NULL, NULL, NULL, 1000),
  (10, 'quarter', '2026-04-01', 'won_count', NULL, NULL, 'North', NULL, NULL, 3),
  (11, 'quarter', '2026-04-01', 'new_customers', NULL, NULL, NULL, NULL, NULL, 2),
  (12, 'quarter', '2026-04-01', 'won_amount', NULL, NULL, NULL, NULL, 11, 1000);
SELECT count(nextval('seq_targets')) FROM range(12);  -- new targets get ids after the fixed ones
"""


def build(path) -> Database:
    db = Database(path)
    with db.atomic() as cur:
        cur.execute(SETUP)
    return db


@pytest.fixture(scope="module")
def _small_template(tmp_path_factory):
    path = tmp_path_factory.mktemp("plans") / "small.duckdb"
    build(path).close()
    return path


@pytest.fixture(scope="module")
def small(_small_template):
    """Read-only use: the hand-worked data set, shared by the module's tests."""
    db = Database(_small_template)
    yield db
    db.close()


@pytest.fixture
def small_rw(_small_template, tmp_path):
    """A private copy for tests that write."""
    path = tmp_path / "rw.duckdb"
    shutil.copy(_small_template, path)
    db = Database(path)
    yield db
    db.close()


def _by_id(df: pl.DataFrame) -> dict[int, dict]:
    return {r["id"]: r for r in df.iter_rows(named=True)}


def test_every_target_against_its_hand_worked_actual(small):
    rows = _by_id(plans.target_actuals(small, ADMIN, Q2, today=TODAY))
    # East, won in Q2 while in East: o2 2000 + o3 500 (B before the move) = 2500 -> 250 %
    assert rows[1]["actual"] == 2500 and rows[1]["attainment_pct"] == 250.0 and rows[1]["gap"] == -1500
    # West: o4 700 (B after the move) + o5 300 (won on the last day of Q2) = 1000 of 2000 -> 50 %
    assert rows[2]["actual"] == 1000 and rows[2]["attainment_pct"] == 50.0 and rows[2]["gap"] == 1000
    # rep A by month: April o2 2000 of 1500; May, June nothing
    assert [rows[i]["actual"] for i in (3, 4, 5)] == [2000, 0, 0]
    assert rows[3]["attainment_pct"] == pytest.approx(133.3)
    # company: 2000 + 500 + 700 + 300 = 3500 of 4000 -> 87.5 %; o1 (closed 2026-03-31) is Q1's
    assert rows[6]["actual"] == 3500 and rows[6]["attainment_pct"] == 87.5
    # Widget orders in Q2: r2 500 (r1 is dated 2026-03-31) -> 50 %
    assert rows[8]["actual"] == 500
    # won deals in North in Q2: o2, o5 -> 2 of 3
    assert rows[10]["actual"] == 2 and rows[10]["attainment_pct"] == pytest.approx(66.7)
    # new customers in Q2: Beta (first deal 04-15), Gamma (first deal 06-30); Acme's first was 03-31
    assert rows[11]["actual"] == 2
    # account Beta: o3 500 + o4 700 = 1200 of 1000
    assert rows[12]["actual"] == 1200
    # Q2 is over on 2026-07-15: all elapsed, projection = actual, no coverage
    assert rows[2]["elapsed_share"] == 1.0 and rows[2]["projection"] == 1000 and rows[2]["coverage"] is None
    assert 7 not in rows and 9 not in rows  # a year target and a Q3 target are not inside Q2


def test_year_target_against_months_so_far(small):
    rows = _by_id(plans.target_actuals(small, ADMIN, FY, today=TODAY))
    year = rows[7]
    # collected in 2026: p1 1000 (paid 03-25, before its contract's month) + p2 400 = 1400
    assert year["actual"] == 1400
    # 2026-01-01 .. 2026-07-15 is 31+28+31+30+31+30+15 = 196 of 365 days
    assert year["elapsed_share"] == pytest.approx(196 / 365)
    assert year["expected_to_date"] == pytest.approx(10000 * 196 / 365, abs=0.01)
    assert year["projection"] == pytest.approx(1400 * 365 / 196, abs=0.01)
    assert year["period"] == "FY2026"


def test_payment_before_its_contracts_month_counts_when_paid(small):
    q1 = plans.by_member(small, ADMIN, "owner", Q1, "collected", today=TODAY)
    q2 = plans.by_member(small, ADMIN, "owner", Q2, "collected", today=TODAY)
    assert q1.filter(pl.col("member_id") == A)["actual"].to_list() == [1000.0]
    assert q2.filter(pl.col("member_id") == A)["actual"].to_list() == [400.0]


def test_run_rate_and_pipeline_coverage_in_a_running_quarter(small):
    rows = _by_id(plans.target_actuals(small, ADMIN, Q3, today=TODAY))
    c = rows[9]
    # rep C, Q3: nothing won yet; open o6 1000 x 0.5 expected 2026-08-15 -> weighted 500; gap 1000 -> 0.5
    assert c["actual"] == 0 and c["pipeline"] == 500 and c["coverage"] == 0.5
    assert c["elapsed_share"] == pytest.approx(15 / 92) and c["projection"] == 0
    owners = {r["member_id"]: r for r in plans.by_member(small, ADMIN, "owner", Q3, today=TODAY).iter_rows(named=True)}
    # rep A: o7 400 at its own probability 0.25 -> 100
    assert owners[A]["pipeline"] == 100 and owners[A]["target"] is None


def test_by_member_department_follows_the_department_at_the_deal(small):
    df = plans.by_member(small, ADMIN, "department", Q2, today=TODAY)
    got = {r["member"]: (r["actual"], r["target"]) for r in df.iter_rows(named=True)}
    assert got == {"East": (2500.0, 1000.0), "West": (1000.0, 2000.0)}
    assert df["rank"].to_list() == [1, 2]


def test_by_owner_sums_month_targets_into_the_quarter(small):
    df = plans.by_member(small, ADMIN, "owner", Q2, today=TODAY)
    got = {r["member"]: (r["actual"], r["target"]) for r in df.iter_rows(named=True)}
    # rep A: months 1500 + 500 + 500 = 2500; B 500 + 700; C 300
    assert got == {"Rep A": (2000.0, 2500.0), "Rep B": (1200.0, None), "Rep C": (300.0, None)}


def test_by_region_product_account(small):
    region = {r["member"]: r["actual"] for r in plans.by_member(small, ADMIN, "region", Q2, "won_count",
                                                               today=TODAY).iter_rows(named=True)}
    assert region == {"North": 2.0, "South": 2.0}
    product = {r["member"]: r["actual"] for r in plans.by_member(small, ADMIN, "product", Q2, "order_revenue",
                                                                today=TODAY).iter_rows(named=True)}
    assert product == {"Service": 2000.0, "Widget": 500.0}
    account = {r["member"]: (r["actual"], r["target"]) for r in plans.by_member(
        small, ADMIN, "account", Q2, today=TODAY).iter_rows(named=True)}
    assert account["Beta"] == (1200.0, 1000.0) and account["Acme"] == (2000.0, None)
    new_opps = plans.by_member(small, ADMIN, "owner", Q2, "new_opportunities", today=TODAY)
    # created in Q2: o4 (B), o5 (C), o6 (C), o7 (A), o8 (B)
    assert {r["member"]: r["actual"] for r in new_opps.iter_rows(named=True)} == {
        "Rep A": 1.0, "Rep B": 2.0, "Rep C": 2.0}


def test_rollup_flags_children_that_do_not_add_up(small):
    df = plans.rollup(small, ADMIN, Q2, today=TODAY)
    rows = {(r["level"], r["name"], r["parent"]): r for r in df.iter_rows(named=True)}
    company = rows[("company", "company", None)]
    # departments 1000 + 2000 = 3000 against the company's 4000
    assert (company["target"], company["children_target"], company["mismatch"], company["actual"]) == (
        4000, 3000, True, 3500)
    east = rows[("department", "East", "company")]
    # East's only rep target: A's months, 2500, against the department's 1000
    assert (east["target"], east["children_target"], east["mismatch"], east["actual"]) == (1000, 2500, True, 2500)
    west = rows[("department", "West", "company")]
    # a target only at department level: no rep targets, nothing to flag
    assert (west["target"], west["children_target"], west["mismatch"], west["actual"]) == (2000, None, False, 1000)
    # rep B appears under both departments with what he won in each
    assert rows[("rep", "Rep B", "East")]["actual"] == 500
    assert rows[("rep", "Rep B", "West")]["actual"] == 700
    assert rows[("rep", "Rep A", "East")]["target"] == 2500


def test_cumulative_line_against_plan(small):
    df = plans.cumulative(small, ADMIN, FY, today=TODAY)
    by_month = {r["month"].month: r for r in df.iter_rows(named=True)}
    # plan: only the Q2 company target 4000 -> 1333.33 for each of April, May, June
    assert by_month[1]["cumulative_plan"] is None
    assert by_month[4]["plan"] == pytest.approx(4000 / 3)
    assert by_month[6]["cumulative_plan"] == pytest.approx(4000)
    # actual: March 1000, April 2500, May 700, June 300, July nothing yet; August onwards unknown
    assert [by_month[m]["cumulative_actual"] for m in (1, 3, 4, 5, 6, 7)] == [0, 1000, 3500, 4200, 4500, 4500]
    assert by_month[8]["actual"] is None
    rep_a = plans.cumulative(small, ADMIN, FY, by="owner", member=A, today=TODAY)
    assert rep_a["plan"].to_list()[3:6] == [1500, 500, 500]


def test_drill_down_shows_the_deals_behind_a_number(small):
    east = plans.drill(small, ADMIN, "won_amount", Q2, department_id=1)
    assert sorted(east["name"].to_list()) == ["o2", "o3"]
    assert east["value"].cast(pl.Float64).sum() == 2500
    paid = plans.drill(small, ADMIN, "collected", Q1)
    assert paid["name"].to_list() == ["k1"] and paid["day"].to_list() == [date(2026, 3, 25)]
    newc = plans.drill(small, ADMIN, "new_customers", Q2)
    assert sorted(newc["account"].to_list()) == ["Beta", "Gamma"]


def test_rep_sees_only_own_targets_and_figures(small):
    rep_b = load_actor(small, "repB")
    assert plans.target_actuals(small, rep_b, Q2, today=TODAY).height == 0  # no own targets
    owners = plans.by_member(small, rep_b, "owner", Q2, today=TODAY)
    assert owners["member"].to_list() == ["Rep B"]
    assert plans.drill(small, rep_b, "won_amount", Q2)["name"].sort().to_list() == ["o3", "o4"]
    roll = plans.rollup(small, rep_b, Q2, today=TODAY)
    assert set(roll.filter(pl.col("level") == "rep")["name"].to_list()) == {"Rep B"}
    rep_a = load_actor(small, "repA")
    assert sorted(plans.target_actuals(small, rep_a, Q2, today=TODAY)["id"].to_list()) == [3, 4, 5]


def test_manager_sees_own_department(small):
    mgr = load_actor(small, "mgrW")
    ids = sorted(plans.target_actuals(small, mgr, Q2, today=TODAY)["id"].to_list())
    assert ids == [2]  # West's target; not East's, not the company's
    depts = plans.by_member(small, mgr, "department", Q2, today=TODAY)["member"].to_list()
    assert "West" in depts


def test_hooks_keep_facts_current_incrementally(small_rw):
    db = small_rw
    plans.ensure_facts(db)
    built = db.scalar("SELECT built_at FROM plan_facts_state")
    with db.atomic() as cur:
        cur.execute("INSERT INTO opportunities (id, account_id, name, owner_id, product_id, stage_id, amount, "
                    "created_at, closed_at, status, region) VALUES "
                    "(9, 12, 'o9', 6, 2, 2, 100, '2026-05-01', '2026-05-05', 'won', 'North')")
    hooks.notify(db, "opportunities", [12])
    west = plans.by_member(db, ADMIN, "department", Q2, today=TODAY).filter(pl.col("member") == "West")
    assert west["actual"].to_list() == [1100.0]
    assert db.scalar("SELECT built_at FROM plan_facts_state") != built  # refreshed by the hook...
    incremental = db.query("SELECT month, metric, owner_id, department_id, region, product_id, sum(value) v "
                           "FROM plan_facts GROUP BY ALL HAVING sum(value) <> 0 ORDER BY ALL")
    plans.rebuild_facts(db)
    rebuilt = db.query("SELECT month, metric, owner_id, department_id, region, product_id, sum(value) v "
                       "FROM plan_facts GROUP BY ALL HAVING sum(value) <> 0 ORDER BY ALL")
    assert incremental.equals(rebuilt)  # ...to the same figures as a full rebuild


def test_a_bulk_load_behind_the_hooks_is_noticed(small_rw):
    db = small_rw
    plans.ensure_facts(db)
    with db.atomic() as cur:  # no hooks.notify: as a restore or a raw load would
        cur.execute("INSERT INTO orders (id, account_id, product_id, owner_id, order_date, amount) "
                    "VALUES (5, 12, 2, 6, '2026-05-05', 50)")
    west = plans.by_member(db, ADMIN, "department", Q2, "order_revenue", today=TODAY)
    assert west.filter(pl.col("member") == "West")["actual"].to_list() == [50.0]


def test_a_write_only_queues_and_the_next_read_folds_it_in(small_rw):
    db = small_rw
    plans.ensure_facts(db)
    with db.atomic() as cur:
        cur.execute("UPDATE opportunities SET amount = 800, version = version + 1 WHERE id = 5")
    hooks.notify(db, "opportunities", [12])
    assert db.scalar("SELECT count(*) FROM plan_facts_and_value_dirty WHERE NOT plan_done") == 1  # the queue summaries share
    west = plans.by_member(db, ADMIN, "department", Q2, today=TODAY).filter(pl.col("member") == "West")
    assert west["actual"].to_list() == [1500.0]  # 700 + 800
    assert db.scalar("SELECT count(*) FROM plan_facts_and_value_dirty WHERE NOT plan_done") == 0
    # "any account" rebuilds at once, and only once when nothing changed in between
    hooks.notify(db, "orders", None)
    built = db.scalar("SELECT built_at FROM plan_facts_state")
    hooks.notify(db, "payments", None)
    assert db.scalar("SELECT built_at FROM plan_facts_state") == built


def test_compaction_keeps_the_figures(small_rw):
    db = small_rw
    plans.ensure_facts(db)
    for _ in range(3):
        plans.refresh_accounts(db, [10, 11])
    before = plans.by_member(db, ADMIN, "owner", Q2, today=TODAY)
    plans.compact_facts(db)
    assert plans.by_member(db, ADMIN, "owner", Q2, today=TODAY).equals(before)


def test_bad_dimension_or_metric_is_refused(small):
    from crm_core.errors import ValidationError

    with pytest.raises(ValidationError, match="owner, department"):
        plans.by_member(small, ADMIN, "colour", Q2)
    with pytest.raises(ValidationError, match="won_amount"):
        plans.rollup(small, ADMIN, Q2, "profit")


# -- the demo data against independent SQL ----------------------------------

DEMO_TODAY = date(2026, 6, 30)


def test_demo_won_by_department_matches_independent_sql(demo_db):
    q = periods.parse("2026Q2")
    got = {r["member_id"]: r["actual"] for r in
           plans.by_member(demo_db, ADMIN, "department", q, today=DEMO_TODAY).iter_rows(named=True)}
    expected = dict(demo_db.rows(
        """SELECT (SELECT h.department_id FROM user_department_history h WHERE h.user_id = o.owner_id
                     AND h.valid_from <= o.closed_at AND (h.valid_to IS NULL OR h.valid_to > o.closed_at)) AS d,
                  sum(o.amount)::DOUBLE
           FROM opportunities o WHERE o.status = 'won' AND o.closed_at BETWEEN '2026-04-01' AND '2026-06-30'
           GROUP BY 1"""))
    assert got == pytest.approx(expected)


def test_demo_collected_and_orders_by_owner_match_independent_sql(demo_db):
    fy = periods.parse("FY2026")
    got = {r["member_id"]: r["actual"] for r in
           plans.by_member(demo_db, ADMIN, "owner", fy, "collected", today=DEMO_TODAY).iter_rows(named=True)}
    expected = dict(demo_db.rows(
        """SELECT c.owner_id, sum(p.amount_paid)::DOUBLE FROM payments p JOIN contracts c ON c.id = p.contract_id
           WHERE p.paid_date >= '2026-01-01' AND p.paid_date < '2027-01-01' AND p.amount_paid <> 0 GROUP BY 1"""))
    assert got == pytest.approx(expected)
    got = {r["member_id"]: r["actual"] for r in
           plans.by_member(demo_db, ADMIN, "product", fy, "order_revenue", today=DEMO_TODAY).iter_rows(named=True)}
    expected = dict(demo_db.rows(
        """SELECT product_id, sum(amount)::DOUBLE FROM orders
           WHERE order_date >= '2026-01-01' AND order_date < '2027-01-01' GROUP BY 1"""))
    assert got == pytest.approx(expected)


def test_demo_rep_month_targets_match_independent_sql(demo_db):
    month = periods.parse("2026-05")
    rows = plans.target_actuals(demo_db, ADMIN, month, today=DEMO_TODAY, metric="won_amount", grain="month")
    expected = dict(demo_db.rows(
        """SELECT t.id, coalesce((SELECT sum(o.amount) FROM opportunities o WHERE o.owner_id = t.owner_id
                  AND o.status = 'won' AND o.closed_at >= '2026-05-01' AND o.closed_at < '2026-06-01'), 0)::DOUBLE
           FROM targets t WHERE t.grain = 'month' AND t.period_start = '2026-05-01' AND t.metric = 'won_amount'"""))
    assert dict(zip(rows["id"].to_list(), rows["actual"].to_list())) == pytest.approx(expected)
    assert len(expected) > 10


def test_report_matches_the_page_function(demo_db):
    from crm_core.reports import ReportOptions, all_reports

    report = all_reports()["plan-vs-actual"]
    df = report(demo_db, ADMIN, ReportOptions(by="department", grain="quarter", period="2026Q2", today=DEMO_TODAY))
    page = plans.by_member(demo_db, ADMIN, "department", periods.parse("2026Q2"), "won_amount", today=DEMO_TODAY)
    assert df.filter(pl.col("metric") == "won_amount").equals(page)
    assert {"won_amount", "collected", "order_revenue"} <= set(df["metric"].unique().to_list()) <= set(plans.METRICS)
