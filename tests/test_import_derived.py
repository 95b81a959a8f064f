"""A large import leaves the derived summaries to `derived.refresh_all`, which then counts every new row."""

from __future__ import annotations

from crm_core import derived, importer
from crm_core.access import load_actor
from crm_core.importer import load


def _won_deals_csv(path, accounts: list[str]) -> None:
    # 20 won deals of 1,000..1,019 closed in May 2026, spread over the given accounts
    lines = ["external_id,account,owner,stage,amount,close_date"]
    lines += [f"T-{i},{accounts[i % len(accounts)]},rep1,Won,{1000 + i},2026-05-{10 + i % 9:02d}" for i in range(20)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _open_deals_csv(path, accounts: list[str]) -> None:
    lines = ["external_id,account,owner,stage,amount,close_date"]
    lines += [f"U-{i},{accounts[i % len(accounts)]},rep1,Proposal,{500 + i},2026-08-01" for i in range(6)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_large_import_is_counted_after_refresh_all(demo_db, tmp_path, monkeypatch):
    db = demo_db
    actor = load_actor(db, "admin")
    derived.refresh_all(db)  # the summaries are current before the import
    accounts = [r[0] for r in db.rows("SELECT external_id FROM accounts WHERE external_id IS NOT NULL "
                                      "AND merged_into_id IS NULL ORDER BY id LIMIT 5")]
    monkeypatch.setattr(load, "MAX_NOTIFY_IDS", 2)  # 5 accounts count as "a very large batch"
    f = tmp_path / "won.csv"
    _won_deals_csv(f, accounts)
    may = "SELECT coalesce(sum(amount), 0) FROM opportunities WHERE status = 'won' AND closed_at >= DATE '2026-05-01' " \
          "AND closed_at < DATE '2026-06-01'"
    before = db.scalar(may)

    result = importer.import_file(db, actor, "opportunities", f)
    assert result.created == 20
    assert result.summaries_pending
    took = derived.refresh_all(db)
    assert set(took) == {"plan facts", "value summary", "forecast facts"}

    # 20 deals of 1,000 + i: 20 * 1,000 + (0 + 1 + ... + 19) = 20,190 more won in May
    assert db.scalar(may) - before == 20_190
    assert db.scalar("SELECT sum(value) FROM plan_facts WHERE metric = 'won_amount' AND month = DATE '2026-05-01'") \
        == db.scalar(may)
    # forecast facts: one row per deal, the imported ones included
    assert db.scalar("SELECT count(*) FROM forecast_facts") == db.scalar("SELECT count(*) FROM opportunities")


def test_value_summary_sees_open_deals_of_a_large_import(demo_db, tmp_path, monkeypatch):
    db = demo_db
    actor = load_actor(db, "admin")
    derived.refresh_all(db)
    # accounts the summary covers (customers with business), so each has a row before and after
    accounts = [r[0] for r in db.rows("SELECT a.external_id FROM accounts a JOIN value_summary v ON v.account_id = a.id "
                                      "WHERE a.external_id IS NOT NULL ORDER BY a.id LIMIT 3")]
    monkeypatch.setattr(load, "MAX_NOTIFY_IDS", 1)
    f = tmp_path / "open.csv"
    _open_deals_csv(f, accounts)
    result = importer.import_file(db, actor, "opportunities", f)
    assert result.summaries_pending
    derived.refresh_all(db)
    # the summary's open amount per account equals the source, for the accounts the file touched
    got = dict(db.rows("SELECT v.account_id, v.open_amount FROM value_summary v JOIN accounts a ON a.id = v.account_id "
                       "WHERE a.external_id IN (SELECT unnest(?::VARCHAR[]))", [accounts]))
    want = dict(db.rows("SELECT o.account_id, sum(o.amount) FROM opportunities o JOIN accounts a ON a.id = o.account_id "
                        "WHERE o.status = 'open' AND a.external_id IN (SELECT unnest(?::VARCHAR[])) GROUP BY 1",
                        [accounts]))
    assert len(got) == 3 and got == want


def test_small_import_names_its_accounts(demo_db, tmp_path):
    db = demo_db
    actor = load_actor(db, "admin")
    accounts = [r[0] for r in db.rows("SELECT external_id FROM accounts WHERE external_id IS NOT NULL "
                                      "AND merged_into_id IS NULL ORDER BY id LIMIT 3")]
    f = tmp_path / "open.csv"
    _open_deals_csv(f, accounts)
    result = importer.import_file(db, actor, "opportunities", f)
    assert not result.summaries_pending
