"""The value summary's rebuild gives the very rows of the statements it replaced.

`_old_summary_insert` / `_old_products_insert` are those statements, kept
verbatim as the independent computation; the demo data gets the awkward cases
first (a product id above 63, lines without a product, an account whose lines
name no product), then both are compared row for row, for every account and
for a refresh of a few.
"""

from __future__ import annotations

import shutil
from typing import Any

import pytest

from crm_core import value_summary
from crm_core.db import Database


def _old_summary_insert(ids: list[int] | None) -> tuple[str, list[Any]]:
    """The summary's statement before the product mask was folded into the order-day pass (verbatim)."""
    o_where, o_p = value_summary._subset("o", ids)
    c_where, c_p = value_summary._subset("c", ids)
    a_where, a_p = value_summary._subset("x", ids)
    p_where, p_p = value_summary._subset("op", ids)
    sql = f"""
    INSERT INTO value_summary
    WITH lines AS (
        -- one row per account and order date first: order days, then the rest
        SELECT o.account_id, o.order_date, count(*) AS lines, sum(o.amount) AS revenue,
               sum(o.amount) FILTER (WHERE o.cost IS NOT NULL) AS costed_revenue,
               sum(o.amount - o.cost) FILTER (WHERE o.cost IS NOT NULL) AS gross_profit
        FROM orders o WHERE {o_where}
        GROUP BY o.account_id, o.order_date
    ), ord AS (
        SELECT account_id, count(*) AS order_days, sum(lines) AS order_lines, min(order_date) AS first_order,
               max(order_date) AS last_order, sum(revenue) AS revenue,
               coalesce(sum(costed_revenue), 0) AS costed_revenue, sum(gross_profit) AS gross_profit
        FROM lines GROUP BY account_id
    ), pay AS (
        SELECT c.account_id, sum(p.amount_paid) AS paid_amount,
               coalesce(sum(p.amount_paid) FILTER (WHERE p.paid_date <= p.due_date), 0) AS paid_on_time
        FROM payments p JOIN contracts c ON c.id = p.contract_id
        WHERE {c_where} AND c.status <> 'cancelled' AND p.paid_date IS NOT NULL
        GROUP BY c.account_id
    ), act AS (
        SELECT x.account_id, count(*) AS followups, max(x.occurred_at) AS last_followup
        FROM activities x WHERE {a_where} AND x.kind <> 'task' AND x.done
        GROUP BY x.account_id
    ), prod AS (
        SELECT o.account_id,
               CASE WHEN max(o.product_id) <= 63 THEN bit_or((1::UBIGINT) << o.product_id::INTEGER) END AS mask
        FROM orders o WHERE {o_where} AND o.product_id IS NOT NULL AND o.product_id > 0
        GROUP BY o.account_id
    ), opp AS (
        SELECT op.account_id, count(*) AS open_opps, sum(op.amount) AS open_amount
        FROM opportunities op WHERE {p_where} AND op.status = 'open'
        GROUP BY op.account_id
    )
    SELECT ord.account_id, ord.order_days, ord.order_lines, ord.first_order, ord.last_order, ord.revenue,
           ord.costed_revenue, ord.gross_profit,
           coalesce(pay.paid_amount, 0), coalesce(pay.paid_on_time, 0),
           coalesce(act.followups, 0),
           -- the account's own "last follow-up" stamp counts too (set by writers without an activity row)
           CASE WHEN a.last_followup_at IS NULL THEN act.last_followup
                WHEN act.last_followup IS NULL THEN a.last_followup_at
                ELSE greatest(a.last_followup_at, act.last_followup) END,
           coalesce(opp.open_opps, 0), coalesce(opp.open_amount, 0),
           CASE WHEN prod.account_id IS NULL THEN 0 ELSE prod.mask END  -- 0: no line names a product
    FROM ord
    LEFT JOIN accounts a ON a.id = ord.account_id
    LEFT JOIN pay ON pay.account_id = ord.account_id
    LEFT JOIN act ON act.account_id = ord.account_id
    LEFT JOIN opp ON opp.account_id = ord.account_id
    LEFT JOIN prod ON prod.account_id = ord.account_id
    """
    return sql, [*o_p, *c_p, *a_p, *o_p, *p_p]


def _old_products_insert(ids: list[int] | None) -> tuple[str, list[Any]]:
    """The products' statement as it was (verbatim)."""
    o_where, o_p = value_summary._subset("o", ids)
    sql = f"""
    INSERT INTO value_account_products
    SELECT account_id, product_id, count(*) AS order_days, min(order_date), max(order_date), sum(revenue),
           sum(quantity)
    FROM (
        SELECT o.account_id, o.product_id, o.order_date, sum(o.amount) AS revenue, sum(o.quantity) AS quantity
        FROM orders o WHERE {o_where} AND o.product_id IS NOT NULL
        GROUP BY o.account_id, o.product_id, o.order_date
    ) GROUP BY account_id, product_id
    """
    return sql, o_p


def _select(insert: tuple[str, list[Any]]) -> tuple[str, list[Any]]:
    sql, params = insert
    return sql.replace("INSERT INTO value_account_products", "").replace("INSERT INTO value_summary", ""), params


def _sorted(rows):
    return sorted(rows, key=repr)


@pytest.fixture(scope="module")
def edgy(_demo_template, tmp_path_factory):
    path = tmp_path_factory.mktemp("value_rebuild") / "demo.duckdb"
    shutil.copy(_demo_template, path)
    db = Database(path)
    accts = [r[0] for r in db.rows("SELECT id FROM accounts ORDER BY id LIMIT 3")]
    with db.atomic() as cur:
        cur.execute("INSERT INTO orders (account_id, product_id, owner_id, order_date, amount, cost) VALUES "
                    "(?, 70, NULL, DATE '2026-01-05', 10, 4), (?, NULL, NULL, DATE '2026-01-05', 2.5, NULL), "
                    "(?, NULL, NULL, DATE '2026-02-01', 7, NULL)", [accts[0], accts[1], accts[2]])
        # an account whose only lines name no product
        cur.execute("DELETE FROM orders WHERE account_id = ? AND product_id IS NOT NULL", [accts[2]])
    yield db, accts
    db.close()


def test_full_rebuild_equals_the_old_statements(edgy):
    db, accts = edgy
    value_summary.refresh(db, None, force=True)
    sql, params = _select(_old_summary_insert(None))
    assert _sorted(db.rows("SELECT * FROM value_summary")) == _sorted(db.rows(sql, params))
    sql, params = _select(_old_products_insert(None))
    assert _sorted(db.rows("SELECT * FROM value_account_products")) == _sorted(db.rows(sql, params))
    masks = dict(db.rows("SELECT account_id, product_mask FROM value_summary WHERE account_id IN (?, ?, ?)", accts))
    assert masks[accts[0]] is None and masks[accts[2]] == 0 and masks[accts[1]] > 0


def test_refresh_of_some_accounts_equals_the_old_statements(edgy):
    db, accts = edgy
    ids = [*accts, *[r[0] for r in db.rows("SELECT id FROM accounts WHERE id % 11 = 3")]]
    sql, params = _select(_old_summary_insert(ids))
    expected = _sorted(db.rows(sql, params))
    value_summary.refresh(db, ids)
    got = db.rows("SELECT * FROM value_summary WHERE account_id IN (SELECT unnest(?::BIGINT[]))", [ids])
    assert expected and _sorted(got) == expected
