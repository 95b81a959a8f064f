"""The demo generator: deterministic, believable, consistent."""

from datetime import date

from crm_core import demo
from crm_core.db import Database

TODAY = date(2026, 3, 15)


def _fingerprint(db: Database) -> dict:
    return {t: db.scalar(f'SELECT hash(list(x ORDER BY x::VARCHAR)::VARCHAR) FROM (SELECT t::VARCHAR AS x FROM "{t}" t)')
            for t in ("accounts", "opportunities", "stage_history", "orders", "payments", "contacts")}


def test_same_seed_same_data(tmp_path):
    a, b = Database(tmp_path / "a.duckdb"), Database(tmp_path / "b.duckdb")
    demo.generate(a, seed=3, today=TODAY, scale=0.1)
    demo.generate(b, seed=3, today=TODAY, scale=0.1)
    assert _fingerprint(a) == _fingerprint(b)
    c = Database(tmp_path / "c.duckdb")
    demo.generate(c, seed=4, today=TODAY, scale=0.1)
    assert _fingerprint(a) != _fingerprint(c)


def test_full_scale_sizes(tmp_path):
    db = Database(tmp_path / "full.duckdb")
    counts = demo.generate(db, seed=42, today=TODAY)
    assert counts["departments"] == 3
    assert 20 <= counts["users"] <= 30
    roles = {r[0] for r in db.rows("SELECT DISTINCT role FROM users")}
    assert roles == {"admin", "manager", "rep", "analyst"}
    assert 1400 <= counts["accounts"] <= 1600
    assert 3500 <= counts["contacts"] <= 4500
    assert counts["opportunities"] == 6000
    assert 15000 <= counts["orders"] <= 30000
    assert db.scalar("SELECT count(*) FROM accounts WHERE parent_id IS NOT NULL") > 300
    assert db.scalar("SELECT count(*) FROM contacts WHERE reports_to_id IS NOT NULL") > 2000
    assert db.scalar("SELECT count(*) FROM account_links") > 300
    assert db.scalar("SELECT count(*) FROM targets WHERE year(period_start) = 2026") == counts["targets"]
    assert db.scalar("SELECT count(*) FROM contracts") > 0 and db.scalar("SELECT count(*) FROM payments") > 0


def test_stage_history_matches_each_deal(demo_db):
    # every deal's last stage_history row lands on its current stage, and the first has no from-stage
    bad = demo_db.scalar("""
        WITH last AS (SELECT opportunity_id, arg_max(to_stage_id, id) AS stage FROM stage_history GROUP BY 1)
        SELECT count(*) FROM opportunities o LEFT JOIN last l ON l.opportunity_id = o.id
        WHERE l.stage IS DISTINCT FROM o.stage_id""")
    assert bad == 0
    assert demo_db.scalar("""SELECT count(*) FROM opportunities o JOIN stages s ON s.id = o.stage_id
        WHERE (o.status = 'won') <> s.is_won OR (o.status = 'lost') <> s.is_lost""") == 0
    assert demo_db.scalar("SELECT count(*) FROM opportunities WHERE status <> 'open' AND closed_at IS NULL") == 0
    assert demo_db.scalar("SELECT count(DISTINCT opportunity_id) FROM stage_history WHERE from_stage_id IS NULL") \
        == demo_db.scalar("SELECT count(*) FROM opportunities")


def test_new_rows_get_fresh_ids_after_demo(demo_db):
    top = demo_db.scalar("SELECT max(id) FROM accounts")
    demo_db.execute("INSERT INTO accounts (name, normalized_name) VALUES ('New Co', 'newco')")
    assert demo_db.scalar("SELECT max(id) FROM accounts") == top + 1
