"""Lifecycle rules on a hand-made set of accounts, and against independent SQL on the demo data."""

from __future__ import annotations

from datetime import date

import pytest

from crm_core import lifecycle
from tests.conftest import TODAY
from tests.test_accounts_seed import fresh

D = date(2026, 6, 30)


@pytest.fixture
def team(tmp_path):
    db = fresh(tmp_path)
    yield db
    db.close()


def test_rules_by_hand(team):
    # id: situation -> expected (dormant after 180 days, churned after 365; D = 2026-06-30)
    # 1: nothing -> lead; 2: an open deal -> prospect; 3: won deal closed 2026-01-01 (180 days) -> customer;
    # 4: last order 2025-12-31 (181 days) -> dormant; 5: last order 2025-06-30 (365 days) -> dormant;
    # 6: last order 2025-06-29 (366 days) -> churned; 7: order dated after D -> ignored -> lead.
    team.execute("INSERT INTO accounts (id, name, normalized_name, owner_id, lifecycle) VALUES "
                 "(1,'a','a',3,'customer'),(2,'b','b',3,'lead'),(3,'c','c',3,'lead'),(4,'d','d',3,'lead'),"
                 "(5,'e','e',3,'lead'),(6,'f','f',3,'customer'),(7,'g','g',3,'lead')")
    team.execute("INSERT INTO opportunities (account_id, name, stage_id, status, created_at, closed_at) VALUES "
                 "(2, 'open', 1, 'open', '2026-06-01', NULL), (3, 'won', 6, 'won', '2025-11-01', '2026-01-01')")
    team.execute("INSERT INTO orders (account_id, order_date, amount) VALUES "
                 "(4, '2025-12-31', 1), (4, '2025-01-01', 1), (5, '2025-06-30', 1), (6, '2025-06-29', 1), "
                 "(7, '2026-07-01', 1)")
    moved = lifecycle.update_all(team, today=D)
    got = dict(team.rows("SELECT id, lifecycle FROM accounts ORDER BY id"))
    assert got == {1: "lead", 2: "prospect", 3: "customer", 4: "dormant", 5: "dormant", 6: "churned", 7: "lead"}
    # 1 customer->lead, 2 lead->prospect, 3 lead->customer, 4,5 lead->dormant, 6 customer->churned; 7 unchanged
    assert moved == {"lead": 1, "prospect": 1, "customer": 1, "dormant": 2, "churned": 1}
    assert team.scalar("SELECT count(*) FROM audit_log WHERE action = 'lifecycle'") == 6
    assert lifecycle.update_all(team, today=D) == {}


def test_rule_days_follow_the_settings(team):
    assert lifecycle.rule_days(team) == {"dormant": 180, "dormant_next": 181, "churned": 365}


def test_demo_matches_independent_sql(demo_db):
    lifecycle.update_all(demo_db, today=TODAY)
    expected = dict(demo_db.rows(
        """
        WITH last_buy AS (
            SELECT account_id, max(d) AS d FROM (
                SELECT account_id, order_date AS d FROM orders WHERE order_date <= $t
                UNION ALL SELECT account_id, closed_at FROM opportunities WHERE status = 'won' AND closed_at <= $t)
            GROUP BY 1)
        SELECT a.id, CASE
            WHEN l.d IS NULL THEN CASE WHEN EXISTS (SELECT 1 FROM opportunities o WHERE o.account_id = a.id
                                                    AND o.created_at::DATE <= $t) THEN 'prospect' ELSE 'lead' END
            WHEN $t - l.d <= 180 THEN 'customer' WHEN $t - l.d <= 365 THEN 'dormant' ELSE 'churned' END
        FROM accounts a LEFT JOIN last_buy l ON l.account_id = a.id
        """, {"t": TODAY}))
    got = dict(demo_db.rows("SELECT id, lifecycle FROM accounts"))
    assert got == expected
    assert set(got.values()) == set(lifecycle.STAGES)
