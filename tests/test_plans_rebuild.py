"""The plan facts' fast rebuild gives the very rows of the plain statement.

The plain statement (`plans._events_sql`: union every event, ASOF-join the
owner's department on the day of the deal, then group) is the independent
computation; refreshes of a few accounts run it, full rebuilds run
`plans._events_bulk_sql`. The demo data is extended with the awkward cases (a
department move with a gap, deals without an account, deals with their own
probability, an open deal without an expected close, a won deal and an order
on the same first day) before comparing, row for row.
"""

from __future__ import annotations

import pytest

from crm_core import plans

COLS = "account_id, month, metric, owner_id, department_id, region, product_id, value, n"


def _rows(db, sql):
    return sorted(db.rows(f"SELECT {COLS} FROM ({sql})"), key=repr)


@pytest.fixture(scope="module")
def edgy(_demo_template, tmp_path_factory):
    import shutil

    from crm_core.db import Database

    path = tmp_path_factory.mktemp("plans_rebuild") / "demo.duckdb"
    shutil.copy(_demo_template, path)
    db = Database(path)
    rep = db.scalar("SELECT min(id) FROM users WHERE role = 'rep'")
    acct = db.scalar("SELECT min(id) FROM accounts")
    product = db.scalar("SELECT min(id) FROM products")
    depts = [r[0] for r in db.rows("SELECT id FROM departments ORDER BY id LIMIT 2")]
    with db.atomic() as cur:
        # a move with a gap: dept A until 2025-03-01, nothing recorded, dept B from 2025-06-01
        cur.execute("DELETE FROM user_department_history WHERE user_id = ?", [rep])
        cur.execute("INSERT INTO user_department_history VALUES (?, ?, DATE '2024-01-01', DATE '2025-03-01'),"
                    " (?, ?, DATE '2025-06-01', NULL)", [rep, depts[0], rep, depts[-1]])
        stage = cur.execute("SELECT min(id) FROM stages WHERE NOT is_won AND NOT is_lost").fetchone()[0]
        won = cur.execute("SELECT min(id) FROM stages WHERE is_won").fetchone()[0]
        for i, (acc, status, st, prob, exp, closed, created) in enumerate([
            (None, "won", won, None, None, "2025-04-10", "2025-01-05"),   # no account, inside the gap
            (None, "open", stage, 0.35, "2026-08-15", None, "2025-05-01"),  # own probability, no account
            (acct, "open", stage, 0.123, "2026-09-01", None, "2025-07-01"),
            (acct, "open", stage, None, None, None, "2025-07-02"),            # no expected close
            (acct, "won", won, None, None, "2020-01-02", "2019-12-01"),       # before any history
        ]):
            cur.execute("""INSERT INTO opportunities (account_id, name, owner_id, product_id, stage_id, amount,
                           probability, expected_close, created_at, closed_at, status, region)
                           VALUES (?, ?, ?, ?, ?, 1000.005, ?, ?, ?, ?, ?, 'North')""",
                        [acc, f"edge {i}", rep, product, st, prob, exp, created, closed, status])
        # an order line on the same first day as that won deal: the deal is the first purchase
        cur.execute("INSERT INTO orders (account_id, product_id, owner_id, order_date, amount) "
                    "VALUES (?, ?, ?, DATE '2020-01-02', 5.5)", [acct, product, rep])
    yield db
    db.close()


def test_bulk_events_match_the_plain_statement(edgy):
    expected = _rows(edgy, plans._events_sql("TRUE"))
    assert _rows(edgy, plans._events_bulk_sql()) == expected
    assert _rows(edgy, plans._events_sql("TRUE")) == expected


def test_refreshing_accounts_after_a_bulk_rebuild_changes_nothing(edgy):
    plans.rebuild_facts(edgy)
    before = sorted(edgy.rows(f"SELECT {COLS} FROM plan_facts_account"), key=repr)
    totals = "SELECT metric, sum(value), sum(n) FROM plan_facts GROUP BY 1 ORDER BY 1"
    sums = edgy.rows(totals)
    plans.refresh_accounts(edgy, [r[0] for r in edgy.rows("SELECT id FROM accounts WHERE id % 7 = 1")])
    assert sorted(edgy.rows(f"SELECT {COLS} FROM plan_facts_account"), key=repr) == before
    assert edgy.rows(totals) == sums


def test_rebuild_gives_the_plain_statement_rows(edgy):
    plans.rebuild_facts(edgy)
    expected = _rows(edgy, plans._events_sql("TRUE"))
    assert sorted(edgy.rows(f"SELECT {COLS} FROM plan_facts_account"), key=repr) == expected
    by_key = edgy.rows(f"""SELECT month, metric, owner_id, department_id, region, product_id, sum(value), sum(n)
                           FROM ({plans._events_sql("TRUE")}) GROUP BY ALL""")
    got = edgy.rows("SELECT month, metric, owner_id, department_id, region, product_id, value, n FROM plan_facts")
    assert sorted(got, key=repr) == sorted(by_key, key=repr)
    # the edge rows are in: the gap falls back to the user's current department
    assert edgy.scalar("SELECT count(*) FROM plan_facts_account WHERE account_id IS NULL") > 0
