"""The benchmark data generator: deterministic, consistent with the schema's meaning."""

from datetime import date

import pytest

from crm_core import bench_data
from crm_core.db import Database
from crm_core.names import normalize_company_name

TODAY = date(2026, 6, 30)
SMALL = bench_data.SCALES["small"]


def _fingerprint(db: Database) -> dict:
    return {t: db.scalar(f'SELECT hash(list(x ORDER BY x)::VARCHAR) FROM (SELECT t::VARCHAR AS x FROM "{t}" t)')
            for t in ("accounts", "opportunities", "stage_history", "orders", "payments", "contacts", "activities",
                      "targets")}


@pytest.fixture(scope="module")
def small_db(tmp_path_factory):
    db = Database(tmp_path_factory.mktemp("bench") / "small.duckdb")
    counts = bench_data.generate(db, "small", today=TODAY)
    db.counts = counts
    yield db
    db.close()


def test_same_scale_same_data(small_db, tmp_path):
    other = Database(tmp_path / "again.duckdb")
    other.execute("SET threads = 1")  # determinism must not depend on parallelism
    bench_data.generate(other, "small", today=TODAY)
    assert _fingerprint(other) == _fingerprint(small_db)


def test_sizes(small_db):
    c = small_db.counts
    assert c["accounts"] == SMALL.accounts
    assert c["opportunities"] == SMALL.opportunities
    assert c["orders"] == SMALL.order_lines
    assert c["users"] == SMALL.reps + SMALL.departments + 2
    # 1-4 contacts per account (2.5 on average); 1-6 stage changes per deal
    assert 2.2 * SMALL.accounts <= c["contacts"] <= 2.8 * SMALL.accounts
    assert 3 * SMALL.opportunities <= c["stage_history"] <= 4.5 * SMALL.opportunities
    for table in ("contracts", "payments", "activities", "targets", "close_date_history", "opportunity_contacts",
                  "account_links", "user_department_history"):
        assert c[table] > 0, table
    logins = {r[0] for r in small_db.rows("SELECT login FROM users")}
    assert {"admin", "manager1", "rep1", "analyst1"} <= logins


def test_names_normalise_like_crm_core(small_db):
    rows = small_db.rows("SELECT name, normalized_name FROM accounts")
    assert all(normalize_company_name(name) == key for name, key in rows)
    assert len({key for _, key in rows}) == len(rows)


def test_stage_history_tells_each_deal_story(small_db):
    bad = small_db.scalar("""
        WITH h AS (SELECT opportunity_id, arg_max(to_stage_id, id) AS last_stage, min(id) AS first_id,
                          count(*) FILTER (WHERE from_stage_id IS NULL) AS starts, max(changed_at) AS last_at
                   FROM stage_history GROUP BY 1)
        SELECT count(*) FROM opportunities o LEFT JOIN h ON h.opportunity_id = o.id
        WHERE h.last_stage IS DISTINCT FROM o.stage_id OR h.starts <> 1
           OR (SELECT from_stage_id FROM stage_history WHERE id = h.first_id) IS NOT NULL
           OR h.last_at <> o.stage_entered_at OR h.last_at >= ?::DATE""", [TODAY])
    assert bad == 0
    # changes of one deal are in time order and each starts where the previous ended
    bad = small_db.scalar("""
        SELECT count(*) FROM (
            SELECT changed_at, from_stage_id,
                   lag(changed_at) OVER w AS prev_at, lag(to_stage_id) OVER w AS prev_to
            FROM stage_history WINDOW w AS (PARTITION BY opportunity_id ORDER BY id))
        WHERE prev_at IS NOT NULL AND (changed_at <= prev_at OR from_stage_id <> prev_to)""")
    assert bad == 0


def test_status_matches_stage(small_db):
    bad = small_db.scalar("""
        SELECT count(*) FROM opportunities o JOIN stages s ON s.id = o.stage_id
        WHERE (o.status = 'won') <> s.is_won OR (o.status = 'lost') <> s.is_lost
           OR (o.status = 'open') <> (o.closed_at IS NULL) OR o.created_at >= ?::DATE
           OR o.department_id IS NULL""", [TODAY])
    assert bad == 0
    assert small_db.scalar("SELECT count(DISTINCT status) FROM opportunities") == 3


def test_money_adds_up(small_db):
    # instalments sum to the contract; one contract and first order line per won deal
    assert small_db.scalar("""
        SELECT count(*) FROM contracts c JOIN (SELECT contract_id, sum(amount_due) AS due FROM payments GROUP BY 1) p
          ON p.contract_id = c.id WHERE p.due <> c.amount""") == 0
    won = small_db.scalar("SELECT count(*) FROM opportunities WHERE status = 'won'")
    assert small_db.scalar("SELECT count(*) FROM contracts") == won
    assert small_db.scalar("SELECT count(*) FROM orders WHERE opportunity_id IS NOT NULL") == won
    assert small_db.scalar("SELECT count(*) FROM payments WHERE amount_paid > amount_due OR paid_date > ?",
                           [TODAY]) == 0


def test_big_group_is_one_tree(small_db):
    # accounts 1..mega: one root, every other a child of an earlier one, at most 3 levels deep
    rows = dict(small_db.rows("SELECT id, parent_id FROM accounts WHERE id <= ?", [SMALL.mega_group]))
    assert [i for i, p in rows.items() if p is None] == [1]
    for i in rows:
        depth, node = 0, i
        while rows[node] is not None:
            assert rows[node] < node
            node, depth = rows[node], depth + 1
        assert depth <= 3


def test_sequences_continue_after_generated_ids(small_db):
    with small_db.atomic() as cur:
        new_id = cur.execute("INSERT INTO accounts (name, normalized_name) VALUES ('X', 'x') RETURNING id").fetchone()[0]
        cur.execute("DELETE FROM accounts WHERE id = ?", [new_id])
    assert new_id == SMALL.accounts + 1


def test_refuses_unknown_scale_and_full_database(small_db, db):
    with pytest.raises(ValueError, match="unknown scale"):
        bench_data.generate(db, "huge")
    with pytest.raises(RuntimeError, match="empty database"):
        bench_data.generate(small_db, "small")


def test_match_keys_agree_with_crm_core(small_db):
    from crm_core import accounts

    cols = {r[0] for r in small_db.rows(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'accounts'")}
    if "tax_key" not in cols:
        pytest.skip("the pipeline's match keys are not in this schema")
    rows = small_db.rows("SELECT tax_id, phone, tax_key, phone_key FROM accounts WHERE id % 97 = 0")
    from crm_core.names import normalize_tax_id

    assert all(normalize_tax_id(t) == tk and accounts.phone_key(p) == pk for t, p, tk, pk in rows)
