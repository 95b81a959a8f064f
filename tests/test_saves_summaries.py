"""After form saves, the summaries they mark are exactly what a full rebuild gives.

A save writes one dirty mark, in the queue the plan facts and the value
summary share (`plan_facts_and_value_dirty`, crm_core/derived.py), and the
forecast facts take note in memory. Each summary folds the marks in on its
next read. The independent computation is each summary's full rebuild from
the source tables, run after the reads: the figures must not move.
"""

from __future__ import annotations

import shutil
from datetime import datetime

import duckdb
import pytest

from crm_core import accounts, derived, forecast_facts, hooks, opportunities, plans, records, value_summary
from crm_core.access import load_actor
from crm_core.db import Database

NOW = datetime(2026, 6, 15, 10, 0, 0)
QUEUE = "plan_facts_and_value_dirty"
PLAN_FACTS = ("SELECT month, metric, owner_id, department_id, region, product_id, sum(value), sum(n) "
              "FROM plan_facts GROUP BY ALL HAVING sum(value) <> 0 OR sum(n) <> 0")


def _snapshot(db: Database) -> dict[str, list[tuple]]:
    """Every summary row, in a stable order (plan_facts holds deltas: summed per key)."""
    def rows(sql: str) -> list[tuple]:
        return sorted(db.rows(sql), key=repr)

    return {"plan_facts": rows(PLAN_FACTS),
            "plan_facts_account": rows("SELECT * FROM plan_facts_account"),
            "value_summary": rows("SELECT * FROM value_summary"),
            "value_account_products": rows("SELECT * FROM value_account_products"),
            "forecast_facts": rows("SELECT * FROM forecast_facts")}


def _read_all(db: Database) -> None:
    """What the pages do before reading: fold in the queued accounts."""
    plans.ensure_facts(db)
    value_summary.ensure_current(db)
    forecast_facts.ensure_current(db)


def _counts(db: Database) -> tuple[int, int, int]:
    return (db.scalar(f"SELECT count(*) FROM {QUEUE}"), db.scalar("SELECT count(*) FROM plan_facts_dirty"),
            db.scalar("SELECT count(*) FROM value_summary_dirty"))


@pytest.fixture(scope="module")
def saved(_demo_template, tmp_path_factory):
    """The demo with its summaries built, then a save of every kind, each through the form's function."""
    path = tmp_path_factory.mktemp("saves_summaries") / "demo.duckdb"
    shutil.copy(_demo_template, path)
    db = Database(path)
    hooks.load_listeners()
    derived.refresh_all(db)
    _read_all(db)
    admin = load_actor(db, "admin")
    stages = {r["name"]: r for r in db.dicts("SELECT id, name, is_won, is_lost FROM stages WHERE active")}
    won = next(s["id"] for s in stages.values() if s["is_won"])
    lost = next(s["id"] for s in stages.values() if s["is_lost"])
    open_deals = db.dicts("SELECT id, version, stage_id, account_id, amount, expected_close FROM opportunities "
                          "WHERE status = 'open' AND account_id IS NOT NULL ORDER BY id LIMIT 4")
    marks = []  # (shared queue rows, plan queue rows, value queue rows) added by each save
    before = _counts(db)

    def save(fn):
        nonlocal before
        version = db.data_version
        fn()
        assert db.data_version == version + 1  # one commit
        now = _counts(db)
        marks.append(tuple(a - b for a, b in zip(now, before)))
        before = now

    a, b, c, d = open_deals
    save(lambda: opportunities.update(db, admin, a["id"], a["version"], {"stage_id": won}, now=NOW))
    save(lambda: opportunities.update(db, admin, b["id"], b["version"], {"stage_id": lost, "lost_reason": "price"},
                                      now=NOW))
    save(lambda: opportunities.update(db, admin, c["id"], c["version"], {"amount": c["amount"] + 1000,
                                                                         "expected_close": "2026-12-31"}, now=NOW))
    save(lambda: opportunities.update(db, admin, d["id"], d["version"], {"stage_id": d["stage_id"] % 4 + 1},
                                      now=NOW))
    owner = db.one("SELECT id, owner_id FROM accounts WHERE owner_id IS NOT NULL ORDER BY id LIMIT 1")
    save(lambda: opportunities.create(db, admin, name="New deal", stage_id=won, amount=2500,
                                      expected_close="2026-06-30", account_id=owner["id"], owner_id=owner["owner_id"],
                                      now=NOW))
    acct = db.one("SELECT id, version FROM accounts WHERE owner_id IS NOT NULL ORDER BY id DESC LIMIT 1")
    save(lambda: accounts.update(db, admin, acct["id"], acct["version"], {"notes": "met the CFO"}, now=NOW))
    yield db, marks
    db.close()


def test_each_save_writes_one_mark_in_the_shared_queue_only(saved):
    _, marks = saved
    assert marks == [(1, 0, 0)] * 6


def test_the_reads_fold_the_saves_in_exactly_as_a_full_rebuild(saved, monkeypatch):
    db, _ = saved
    rebuild = {"plans": plans.rebuild_facts, "value": value_summary.rebuild}

    def refused(*args, **kwargs):
        raise AssertionError("the read rebuilt everything instead of folding in the queued accounts")

    with monkeypatch.context() as m:  # the marks alone must bring the summaries up to date
        m.setattr(plans, "rebuild_facts", refused)
        m.setattr(value_summary, "rebuild", refused)
        _read_all(db)
    assert _counts(db) == (0, 0, 0)  # both summaries folded every mark in: the rows are gone
    folded = _snapshot(db)
    assert folded["plan_facts"] and folded["value_summary"] and folded["forecast_facts"]
    rebuild["plans"](db)
    rebuild["value"](db)
    forecast_facts.rebuild(db)
    assert _snapshot(db) == folded


def test_a_summary_folding_in_leaves_the_marks_the_other_has_not_read(db):
    hooks.load_listeners()
    db.execute("INSERT INTO accounts (id, name, normalized_name) VALUES (7, 'Acme', 'acme')")
    derived.refresh_all(db)
    hooks.notify(db, "accounts", [7])
    hooks.notify(db, "activities", [7])      # the plan facts do not derive from activities
    hooks.notify(db, "opportunities", [])    # a deal without an account: the plan facts' -1
    assert sorted(db.rows(f"SELECT * FROM {QUEUE}")) == [(-1, False, True), (7, False, False), (7, True, False)]
    plans.ensure_facts(db)
    assert db.rows(f"SELECT account_id FROM {QUEUE} WHERE NOT value_done") == [(7,), (7,)]
    assert db.scalar(f"SELECT count(*) FROM {QUEUE} WHERE NOT plan_done") == 0
    value_summary.ensure_current(db)
    assert db.scalar(f"SELECT count(*) FROM {QUEUE}") == 0


def test_a_versioned_update_by_id_still_refuses_a_concurrent_save(saved):
    # records.update_versioned updates by id alone (the index lookup): the version it checked in
    # its transaction cannot be overtaken by another connection's commit without DuckDB refusing it
    db, _ = saved
    admin = load_actor(db, "admin")
    row = db.one("SELECT id, version, amount FROM opportunities ORDER BY id LIMIT 1")
    other = db._con.cursor()
    try:
        with pytest.raises(duckdb.TransactionException, match="Conflict"):
            with db.atomic() as cur:
                current = cur.execute("SELECT id, version, amount FROM opportunities WHERE id = ?",
                                      [row["id"]]).fetchone()
                other.execute("UPDATE opportunities SET amount = amount + 1, version = version + 1 WHERE id = ?",
                              [row["id"]])
                records.update_versioned(db, admin, "opportunities", row["id"], row["version"],
                                         {"amount": row["amount"] + 5}, cur=cur,
                                         current=dict(zip(("id", "version", "amount"), current)))
    finally:
        other.close()
    assert db.one("SELECT version, amount FROM opportunities WHERE id = ?", [row["id"]]) == {
        "version": row["version"] + 1, "amount": row["amount"] + 1}
