"""Receivables: ageing buckets, the overdue list, contracts against payments.

Hand-worked on the data set of tests/test_plans.py, today = 2026-07-15:
  p2 (k1, rep A, Acme)  due 2026-05-31, 1000 due, 400 paid -> 600 open, 45 days late -> 31-60
  p3 (k2, rep C, Gamma) due 2026-07-30, 300 open            -> not due
  p4 (k3, rep B, Beta)  due 2026-04-15, 300 open, 91 days   -> over 90
  p5 (k3, rep B, Beta)  due 2026-06-15, 200 open, 30 days   -> 1-30
  p6 (k4 cancelled)     owes nothing
  p1 fully paid (early) -> nothing open
"""

from __future__ import annotations

from datetime import date

import pytest

from crm_core import receivables
from crm_core.access import Actor, load_actor
from crm_core.errors import ValidationError
from tests.test_plans import _small_template, small  # noqa: F401 - shared module fixtures

TODAY = date(2026, 7, 15)
ADMIN = Actor.system()


def test_ageing_by_owner(small):  # noqa: F811
    df = receivables.ageing(small, ADMIN, by="owner", today=TODAY)
    got = {r["member"]: r for r in df.iter_rows(named=True)}
    a, b, c = got["Rep A"], got["Rep B"], got["Rep C"]
    assert (a["d31_60"], a["outstanding"], a["overdue"]) == (600, 600, 600)
    assert (b["over_90"], b["d1_30"], b["outstanding"], b["overdue"]) == (300, 200, 500, 500)
    assert (c["not_due"], c["outstanding"], c["overdue"]) == (300, 300, 0)
    # the most overdue first
    assert df["member"].to_list() == ["Rep A", "Rep B", "Rep C"]


def test_ageing_by_customer_and_bucket_edges(small):  # noqa: F811
    got = {r["member"]: r for r in receivables.ageing(small, ADMIN, by="account", today=TODAY).iter_rows(named=True)}
    assert set(got) == {"Acme", "Beta", "Gamma"}
    # one day earlier, p4 is 90 days late (61-90) and p5 29 days (1-30)
    beta = {r["member"]: r for r in receivables.ageing(small, ADMIN, by="account", today=date(2026, 7, 14))
            .iter_rows(named=True)}["Beta"]
    assert (beta["d61_90"], beta["over_90"], beta["d1_30"]) == (300, 0, 200)
    # on its due date an instalment is not yet overdue
    gamma = {r["member"]: r for r in receivables.ageing(small, ADMIN, by="account", today=date(2026, 7, 30))
             .iter_rows(named=True)}["Gamma"]
    assert gamma["not_due"] == 300 and gamma["overdue"] == 0
    with pytest.raises(ValidationError, match="owner or account"):
        receivables.ageing(small, ADMIN, by="product", today=TODAY)


def test_overdue_list_for_reminders(small):  # noqa: F811
    df = receivables.overdue(small, ADMIN, today=TODAY)
    assert df.select("payment_id", "outstanding", "days_overdue").rows() == [(4, 300, 91), (2, 600, 45), (5, 200, 30)]
    assert receivables.overdue(small, ADMIN, today=TODAY, min_days=31)["payment_id"].to_list() == [4, 2]
    assert receivables.overdue(small, ADMIN, today=TODAY, owner_id=5)["payment_id"].to_list() == [4, 5]


def test_contracts_against_payments(small):  # noqa: F811
    df = receivables.contracts_vs_payments(small, ADMIN, date(2026, 4, 1), date(2026, 6, 30), today=TODAY)
    got = {r["contract_no"]: r for r in df.iter_rows(named=True)}
    assert set(got) == {"k1", "k2", "k3"}
    # k1: 2000 signed; p1 1000 (paid before the contract's month) + p2 400 = 1400 paid, 70 %
    assert (got["k1"]["paid"], got["k1"]["unpaid"], got["k1"]["paid_pct"], got["k1"]["due_to_date"]) == (
        1400, 600, 70.0, 2000)
    assert (got["k3"]["paid"], got["k3"]["due_to_date"]) == (0, 500)


def test_collected_summary(small):  # noqa: F811
    s = receivables.collected_summary(small, ADMIN, date(2026, 4, 1), date(2026, 6, 30), today=TODAY)
    # booked k1 2000 + k2 300 + k3 500; collected in Q2: p2 400 (p1 came in March)
    assert s == {"booked": 2800, "collected": 400, "outstanding": 1400, "overdue": 1100}


def test_rep_sees_only_own_receivables(small):  # noqa: F811
    rep_b = load_actor(small, "repB")
    assert receivables.ageing(small, rep_b, today=TODAY)["member"].to_list() == ["Rep B"]
    assert set(receivables.overdue(small, rep_b, today=TODAY)["owner"].to_list()) == {"Rep B"}


def test_demo_ageing_matches_independent_sql(demo_db):
    today = date(2026, 6, 30)
    df = receivables.ageing(demo_db, ADMIN, by="owner", today=today)
    expected = demo_db.scalar(
        """SELECT sum(p.amount_due - p.amount_paid)::DOUBLE FROM payments p JOIN contracts c ON c.id = p.contract_id
           WHERE c.status <> 'cancelled' AND p.amount_due > p.amount_paid AND p.due_date < '2026-06-30'""")
    assert df["overdue"].sum() == pytest.approx(expected)
    late = demo_db.scalar(
        """SELECT sum(p.amount_due - p.amount_paid)::DOUBLE FROM payments p JOIN contracts c ON c.id = p.contract_id
           WHERE c.status <> 'cancelled' AND p.amount_due > p.amount_paid AND p.due_date < DATE '2026-06-30' - 90""")
    assert df["over_90"].sum() == pytest.approx(late)
