"""Customer value on the demo data, against independent queries over the raw order lines."""

from __future__ import annotations

import bisect
from datetime import date

import polars as pl
import pytest

from crm_core import value, value_cross_sell, value_scoring, value_segments, value_summary
from crm_core.access import Actor, load_actor
from tests.conftest import TODAY

ADMIN = Actor.system()


@pytest.fixture(scope="module")
def demo(tmp_path_factory, _demo_template):
    import shutil

    from crm_core.db import Database

    path = tmp_path_factory.mktemp("value_demo") / "demo.duckdb"
    shutil.copy(_demo_template, path)
    database = Database(path)
    yield database
    database.close()


def _raw(db, where: str = "TRUE", params: list | None = None) -> dict[int, dict]:
    """Per customer straight from orders (no summary table)."""
    rows = db.dicts(f"""
        SELECT o.account_id, count(DISTINCT o.order_date) AS order_days, sum(o.amount)::DOUBLE AS revenue,
               min(o.order_date) AS first_order, max(o.order_date) AS last_order
        FROM orders o JOIN accounts a ON a.id = o.account_id
        WHERE a.merged_into_id IS NULL AND {where}
        GROUP BY o.account_id
    """, params or [])
    return {r["account_id"]: r for r in rows}


def _pct(values: list[float]) -> list[float]:
    """percent_rank by hand: values strictly below / (n - 1)."""
    s = sorted(values)
    n = len(values)
    return [bisect.bisect_left(s, v) / (n - 1) if n > 1 else 0.0 for v in values]


def test_per_customer_facts_match_the_order_lines(demo):
    raw = _raw(demo)
    cust = value_scoring.customers(demo, ADMIN, as_of=TODAY)
    assert cust.height == len(raw) > 50
    for r in cust.iter_rows(named=True):
        x = raw[r["account_id"]]
        assert (r["order_days"], r["first_order"], r["last_order"]) == (x["order_days"], x["first_order"],
                                                                         x["last_order"])
        assert float(r["revenue"]) == pytest.approx(x["revenue"])
        assert r["recency_days"] == (TODAY - x["last_order"]).days


def test_gross_profit_and_punctuality_match(demo):
    gp = dict(demo.rows("SELECT account_id, sum(amount - cost)::DOUBLE FROM orders WHERE cost IS NOT NULL "
                        "GROUP BY 1"))
    punct = dict(demo.rows("""
        SELECT c.account_id, sum(p.amount_paid) FILTER (WHERE p.paid_date <= p.due_date)::DOUBLE
                             / sum(p.amount_paid)::DOUBLE
        FROM payments p JOIN contracts c ON c.id = p.contract_id
        WHERE p.paid_date IS NOT NULL AND c.status <> 'cancelled' GROUP BY 1 HAVING sum(p.amount_paid) > 0"""))
    for r in value_scoring.customers(demo, ADMIN, as_of=TODAY).iter_rows(named=True):
        assert float(r["gross_profit"]) == pytest.approx(gp[r["account_id"]])
        if r["account_id"] in punct:
            assert r["punctuality"] == pytest.approx(punct[r["account_id"]] or 0.0)


def test_revenue_only_score_is_the_revenue_percentile(demo):
    raw = _raw(demo)
    ids = list(raw)
    expected = dict(zip(ids, _pct([raw[i]["revenue"] for i in ids])))
    w = {k: 0.0 for k in value_scoring.DEFAULT_WEIGHTS} | {"revenue": 1.0}
    cust = value_scoring.customers(demo, ADMIN, as_of=TODAY, weights_override=w)
    for r in cust.iter_rows(named=True):
        assert r["score"] == pytest.approx(100 * expected[r["account_id"]])
    n = cust.height
    counts = dict(zip(*value_segments.tiers(cust).select("tier", "customers").to_dict(as_series=False).values()))
    # tier by position (i / n): A < .2, B < .5, C < .8, else D
    pos = [i / n for i in range(n)]
    assert counts == {"A": sum(p < .2 for p in pos), "B": sum(.2 <= p < .5 for p in pos),
                      "C": sum(.5 <= p < .8 for p in pos), "D": sum(p >= .8 for p in pos)}


def test_pareto_share_matches_a_walk_down_the_revenue(demo):
    raw = _raw(demo)
    ordered = sorted(raw.values(), key=lambda r: (-r["revenue"], r["account_id"]))
    total = sum(r["revenue"] for r in ordered)
    before, a_class = 0.0, 0
    for r in ordered:
        if before / total < 0.8:
            a_class += 1
        before += r["revenue"]
    cust = value_scoring.customers(demo, ADMIN, as_of=TODAY)
    assert value_segments.share_for_80(cust) == pytest.approx(a_class / len(ordered))
    abc = value_segments.abc(cust)
    assert abc["value"].sum() == pytest.approx(total)


def test_rfm_segments_match_the_rule_table(demo):
    raw = _raw(demo)
    ids = list(raw)
    score = {}
    for key, vals in (("r", [raw[i]["last_order"].toordinal() for i in ids]),
                      ("f", [raw[i]["order_days"] for i in ids]), ("m", [raw[i]["revenue"] for i in ids])):
        score[key] = dict(zip(ids, [min(5, 1 + int(5 * p + 1e-9)) for p in _pct(vals)]))

    def segment(i: int) -> str:
        r, f, m = score["r"][i], score["f"][i], score["m"][i]
        if r >= 4 and f >= 4:
            return "champions"
        if r >= 3 and f >= 3:
            return "loyal"
        if r >= 3:
            return "potential_loyalists"
        if f >= 4 and m >= 4:
            return "cant_lose"
        if f >= 3:
            return "at_risk"
        return "hibernating" if r == 2 else "lost"

    expected: dict[str, list] = {s: [0, 0.0] for s in value_segments.SEGMENTS}
    for i in ids:
        expected[segment(i)][0] += 1
        expected[segment(i)][1] += raw[i]["revenue"]
    seg = value_segments.rfm_segments(value_scoring.customers(demo, ADMIN, as_of=TODAY))
    for row in seg.iter_rows(named=True):
        assert row["customers"] == expected[row["segment"]][0], row["segment"]
        assert row["revenue"] == pytest.approx(expected[row["segment"]][1])


def test_churn_states_and_ltv_match(demo):
    raw = _raw(demo)
    cust = value_scoring.customers(demo, ADMIN, as_of=TODAY)
    for r in cust.iter_rows(named=True):
        x = raw[r["account_id"]]
        recency = (TODAY - x["last_order"]).days
        tenure = (TODAY - x["first_order"]).days
        per_year = x["order_days"] * 365 / max(tenure, 365)
        if x["order_days"] < 2:
            state, active = "one_order", recency <= 365
        else:
            ratio = recency / ((x["last_order"] - x["first_order"]).days / (x["order_days"] - 1))
            state = "on_track" if ratio < 1.5 else "at_risk" if ratio < 3 else "lapsed"
            active = ratio < 3
        assert r["churn_state"] == state
        extra = x["revenue"] / x["order_days"] * per_year * 3 if active else 0
        assert r["ltv_projected"] == pytest.approx(x["revenue"] + extra)
    risk = value_segments.churn_list(cust, limit=None)
    assert set(risk["churn_state"]) <= {"at_risk", "lapsed"}
    at_risk = risk.filter(pl.col("churn_state") == "at_risk")["score"].to_list()
    assert at_risk == sorted(at_risk, reverse=True)


def test_product_pairs_match_a_self_join(demo):
    expected = {(a, b): (n, na, nb, total) for a, b, n, na, nb, total in demo.rows("""
        WITH ap AS (SELECT DISTINCT account_id, product_id FROM orders WHERE product_id IS NOT NULL),
        tot AS (SELECT count(DISTINCT account_id) AS n FROM ap),
        per AS (SELECT product_id, count(*) AS k FROM ap GROUP BY 1)
        SELECT pa.name, pb.name, count(*), ka.k, kb.k, tot.n
        FROM ap x JOIN ap y ON x.account_id = y.account_id AND x.product_id <> y.product_id
        JOIN products pa ON pa.id = x.product_id JOIN products pb ON pb.id = y.product_id
        JOIN per ka ON ka.product_id = x.product_id JOIN per kb ON kb.product_id = y.product_id, tot
        GROUP BY pa.name, pb.name, ka.k, kb.k, tot.n HAVING count(*) >= 2
    """)}
    pairs = value_cross_sell.product_pairs(demo, ADMIN, limit=10_000)
    assert pairs.height == len(expected)
    for r in pairs.iter_rows(named=True):
        n, na, nb, total = expected[r["product_a"], r["product_b"]]
        assert r["support"] == pytest.approx(n / total)
        assert r["confidence"] == pytest.approx(n / na)
        assert r["lift"] == pytest.approx((n / na) / (nb / total))


def test_rep_sees_only_own_customers_everywhere(demo):
    rep = load_actor(demo, "rep1")
    raw = _raw(demo, "a.owner_id = ?", [rep.id])
    ov = value.overview(demo, rep, None, TODAY)
    assert ov["customers"] == len(raw)
    assert set(ov["ranking"]["account_id"]) <= set(raw)
    assert set(value_cross_sell.upsell(demo, rep, limit=None)["account_id"]) <= set(raw)
    assert set(value_cross_sell.repeat_due(demo, rep, as_of=TODAY, limit=None)["account_id"]) <= set(raw)
    owners = demo.rows("SELECT DISTINCT owner_id FROM activities WHERE id IN "
                       "(SELECT unnest(?::BIGINT[]))", [value.value_actions.open_tasks(demo, rep)["id"].to_list()])
    assert all(o == (rep.id,) for o in owners)


def test_listener_refresh_equals_full_rebuild(demo):
    acc = demo.scalar("SELECT account_id FROM value_summary ORDER BY revenue DESC LIMIT 1")
    with demo.atomic() as cur:
        cur.execute("INSERT INTO orders (account_id, product_id, order_date, amount, cost) "
                    "VALUES (?, 1, ?, 1234.50, 100)", [acc, date(2026, 6, 29)])
    value_summary.refresh(demo, [acc])
    incremental = demo.query("SELECT * FROM value_summary ORDER BY account_id")
    incremental_p = demo.query("SELECT * FROM value_account_products ORDER BY account_id, product_id")
    value_summary.rebuild(demo)
    assert incremental.equals(demo.query("SELECT * FROM value_summary ORDER BY account_id"))
    assert incremental_p.equals(demo.query("SELECT * FROM value_account_products ORDER BY account_id, product_id"))


def test_cli_reports_print_the_page_numbers(demo, capsys):
    import json

    from crm_core import cli

    ov = value.overview(demo, ADMIN, None, TODAY)
    assert cli.main(["--db", demo.path, "report", "rfm", "--today", TODAY.isoformat(), "--format", "json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert [r["customers"] for r in printed] == ov["rfm_segments"]["customers"].to_list()
    assert cli.main(["--db", demo.path, "report", "pareto", "--today", TODAY.isoformat()]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("abc,customers,value") and float(lines[1].split(",")[-1]) == pytest.approx(
        ov["share_80"])
    assert cli.main(["--db", demo.path, "--user", "rep1", "report", "value", "--today", TODAY.isoformat()]) == 0
    rows = capsys.readouterr().out.splitlines()
    rep = load_actor(demo, "rep1")
    assert len(rows) - 1 == value_scoring.customers(demo, rep, as_of=TODAY).height
    for name in ("churn", "cross-sell"):
        assert cli.main(["--db", demo.path, "report", name, "--today", TODAY.isoformat()]) == 0
        assert capsys.readouterr().out.count("\n") > 1
