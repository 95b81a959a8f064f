"""The plan facts' first build covers every account, whatever the hooks queued before it.

Regression: on a new database, the daily jobs (pool sweep, lifecycle) queued
the accounts they touched before any page had read the facts; the first read
then refreshed only those accounts (about a tenth of the won deals) and
recorded the facts as current.
"""

from crm_core import hooks, plans


def test_first_read_builds_everything_even_with_queued_accounts(demo_db):
    with demo_db.atomic() as cur:
        for table in ("plan_facts_state", "plan_facts", "plan_facts_account", "plan_facts_dirty", "plan_facts_and_value_dirty"):
            cur.execute(f"DELETE FROM {table}")
    some = [r[0] for r in demo_db.rows("SELECT id FROM accounts ORDER BY id LIMIT 3")]
    hooks.notify(demo_db, "accounts", some)
    assert demo_db.scalar("SELECT count(*) FROM plan_facts_and_value_dirty WHERE NOT plan_done") > 0
    plans.ensure_facts(demo_db)
    won = demo_db.one("SELECT count(*) AS n, sum(amount) AS v FROM opportunities WHERE status = 'won'")
    facts = demo_db.one("SELECT sum(n) FILTER (metric = 'won_count') AS n, "
                        "sum(value) FILTER (metric = 'won_amount') AS v FROM plan_facts")
    assert facts["n"] == won["n"] > 0
    assert facts["v"] == won["v"]
