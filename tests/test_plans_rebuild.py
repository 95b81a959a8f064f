"""The plan facts' fast rebuild gives the very rows of the plain statement.

`_old_events_sql` is that statement, kept verbatim as the independent
computation: union every event, ASOF-join the owner's department on the day of
the deal, then group (refreshes of a few accounts still run it as
`plans._events_sql`; full rebuilds run `plans._events_bulk_sql`). The demo data is extended with the awkward cases (a
department move with a gap, deals without an account, deals with their own
probability, an open deal without an expected close, a won deal and an order
on the same first day) before comparing, row for row.
"""

from __future__ import annotations

import pytest

from crm_core import plans

COLS = "account_id, month, metric, owner_id, department_id, region, product_id, value, n"


def _old_events_sql(acct: str) -> str:
    """The plain statement the facts were first built with (kept verbatim as the reference)."""
    a = {k: acct.format(a=k) for k in ("o.account_id", "r.account_id", "c.account_id")}
    return f"""
    WITH won AS (
        SELECT o.id, o.account_id, o.closed_at AS d, o.owner_id, o.region, o.product_id, o.amount
        FROM opportunities o
        WHERE o.status = 'won' AND o.closed_at IS NOT NULL AND {a['o.account_id']}
    ),
    ordered AS (
        SELECT r.id, r.account_id, r.order_date AS d, r.owner_id, ac.region, r.product_id, r.amount
        FROM orders r LEFT JOIN accounts ac ON ac.id = r.account_id
        WHERE {a['r.account_id']}
    ),
    first_buy AS (
        SELECT account_id, d, owner_id, region, product_id FROM (
            SELECT *, row_number() OVER (PARTITION BY account_id ORDER BY d, src, id) AS rn
            FROM (SELECT account_id, d, owner_id, region, product_id, 0 AS src, id FROM won
                  UNION ALL SELECT account_id, d, owner_id, region, product_id, 1 AS src, id FROM ordered)
            WHERE account_id IS NOT NULL
        ) WHERE rn = 1
    ),
    ev AS (
        SELECT account_id, d, d AS deal_day, 'won_amount' AS metric, owner_id, region, product_id,
               amount AS value FROM won
        UNION ALL SELECT account_id, d, d, 'won_count', owner_id, region, product_id, 1 FROM won
        UNION ALL SELECT o.account_id, o.created_at::DATE, o.created_at::DATE, 'new_opportunities', o.owner_id,
               o.region, o.product_id, 1
        FROM opportunities o WHERE {a['o.account_id']}
        UNION ALL SELECT account_id, d, d, 'order_revenue', owner_id, region, product_id, amount FROM ordered
        UNION ALL SELECT c.account_id, p.paid_date, c.signed_date, 'collected', c.owner_id, ac.region,
               op.product_id, p.amount_paid
        FROM payments p JOIN contracts c ON c.id = p.contract_id
        LEFT JOIN accounts ac ON ac.id = c.account_id
        LEFT JOIN opportunities op ON op.id = c.opportunity_id
        WHERE p.paid_date IS NOT NULL AND p.amount_paid <> 0 AND {a['c.account_id']}
        UNION ALL SELECT account_id, d, d, 'new_customers', owner_id, region, product_id, 1 FROM first_buy
        -- open pipeline by expected close month, in the owner's department today: per stage
        -- unweighted (weighted on read with the stage's current probability), or weighted
        -- by the deal's own probability
        UNION ALL SELECT o.account_id, o.expected_close, current_date,
               CASE WHEN o.probability IS NULL THEN 'pipeline:' || o.stage_id ELSE 'pipeline_own' END,
               o.owner_id, o.region, o.product_id, o.amount * coalesce(o.probability, 1)
        FROM opportunities o WHERE o.status = 'open' AND {a['o.account_id']}
        UNION ALL SELECT o.account_id, o.expected_close, current_date, 'pipeline_own_n', o.owner_id, o.region,
               o.product_id, o.probability
        FROM opportunities o WHERE o.status = 'open' AND o.probability IS NOT NULL AND {a['o.account_id']}
    )
    SELECT ev.account_id, date_trunc('month', ev.d)::DATE AS month, ev.metric, ev.owner_id,
           CASE WHEN h.user_id IS NOT NULL AND (h.valid_to IS NULL OR ev.deal_day < h.valid_to)
                THEN h.department_id ELSE u.department_id END AS department_id,
           ev.region, ev.product_id, sum(ev.value)::DECIMAL(18, 2) AS value, count(*) AS n
    FROM ev
    ASOF LEFT JOIN user_department_history h ON ev.owner_id = h.user_id AND ev.deal_day >= h.valid_from
    LEFT JOIN users u ON u.id = ev.owner_id
    WHERE ev.d IS NOT NULL
    GROUP BY ALL
    """


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
    expected = _rows(edgy, _old_events_sql("TRUE"))
    assert _rows(edgy, plans._events_bulk_sql()) == expected
    assert _rows(edgy, plans._events_sql("TRUE")) == expected


def test_events_of_some_accounts_match(edgy):
    acct = "({a} IN (SELECT id FROM accounts WHERE id % 7 = 1) OR {a} IS NULL)"
    new = _rows(edgy, plans._events_sql(acct))
    assert new and new == _rows(edgy, _old_events_sql(acct))


def test_rebuild_gives_the_plain_statement_rows(edgy):
    plans.rebuild_facts(edgy)
    expected = _rows(edgy, _old_events_sql("TRUE"))
    assert sorted(edgy.rows(f"SELECT {COLS} FROM plan_facts_account"), key=repr) == expected
    by_key = edgy.rows(f"""SELECT month, metric, owner_id, department_id, region, product_id, sum(value), sum(n)
                           FROM ({_old_events_sql("TRUE")}) GROUP BY ALL""")
    got = edgy.rows("SELECT month, metric, owner_id, department_id, region, product_id, value, n FROM plan_facts")
    assert sorted(got, key=repr) == sorted(by_key, key=repr)
    # the edge rows are in: the gap falls back to the user's current department
    assert edgy.scalar("SELECT count(*) FROM plan_facts_account WHERE account_id IS NULL") > 0
