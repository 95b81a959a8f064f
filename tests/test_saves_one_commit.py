"""A single-row save is one transaction: the row, its audit entry and the change
listeners' dirty-account mark commit together (one commit, one WAL flush),
and a refused save leaves none of them behind (see crm_core/hooks.py). The
mark is one row of the queue every summary shares (crm_core/derived.py)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from crm_core import accounts, hooks, opportunities, records
from crm_core.errors import StaleEditError, ValidationError
from crm_core.names import normalize_company_name
from tests.test_accounts_seed import NOW, actor, fresh

hooks.load_listeners()


@pytest.fixture
def deal(tmp_path):
    db = fresh(tmp_path)
    ann = actor(db, "ann")
    aid = accounts.create(db, ann, name="Acme", region="East", now=NOW)
    oid = opportunities.create(db, ann, name="Acme widgets", stage_id=1, amount="1000", expected_close="2026-08-31",
                               account_id=aid, now=NOW)
    _empty_queues(db)  # as after the reads that folded them in
    yield db, ann, aid, oid
    db.close()


def _empty_queues(db) -> None:
    for table in ("value_summary_dirty", "plan_facts_dirty", "plan_facts_and_value_dirty"):
        db.execute(f"DELETE FROM {table}")


def _state(db, entity: str, row_id: int, account_id: int) -> tuple[int, int, int]:
    """(audit rows of the entity, value marks, plan marks of the account)."""
    return (db.scalar("SELECT count(*) FROM audit_log WHERE entity = ? AND entity_id = ?", [entity, row_id]),
            db.scalar("SELECT count(*) FROM (SELECT account_id FROM value_summary_dirty UNION ALL "
                      "SELECT account_id FROM plan_facts_and_value_dirty WHERE NOT value_done) WHERE account_id = ?",
                      [account_id]),
            db.scalar("SELECT count(*) FROM (SELECT account_id FROM plan_facts_dirty UNION ALL "
                      "SELECT account_id FROM plan_facts_and_value_dirty WHERE NOT plan_done) WHERE account_id = ?",
                      [account_id]))


def test_committed_deal_edit_has_audit_row_and_both_marks_in_one_commit(deal):
    db, ann, aid, oid = deal
    audits, _, _ = _state(db, "opportunity", oid, aid)
    before = db.data_version
    after = opportunities.update(db, ann, oid, 1, {"amount": "1500"}, now=NOW)
    assert db.data_version == before + 1  # one commit: the listeners joined the save's transaction
    assert after["version"] == 2 and after["amount"] == Decimal("1500.00")
    assert _state(db, "opportunity", oid, aid) == (audits + 1, 1, 1)
    assert db.scalar("SELECT after::VARCHAR FROM audit_log WHERE entity = 'opportunity' AND entity_id = ? "
                     "ORDER BY id DESC LIMIT 1", [oid]).startswith('{"amount": "1500.00"')


def test_refused_stale_deal_edit_leaves_no_mark_no_audit_row(deal):
    db, ann, aid, oid = deal
    opportunities.update(db, ann, oid, 1, {"amount": "1500"}, now=NOW)
    _empty_queues(db)
    audits, _, _ = _state(db, "opportunity", oid, aid)
    before = db.data_version
    with pytest.raises(StaleEditError) as err:
        opportunities.update(db, ann, oid, 1, {"amount": "9", "stage_id": 2}, now=NOW)
    assert err.value.current["amount"] == Decimal("1500.00") and err.value.current["version"] == 2
    assert db.data_version == before
    assert _state(db, "opportunity", oid, aid) == (audits, 0, 0)
    assert db.scalar("SELECT count(*) FROM stage_history WHERE opportunity_id = ?", [oid]) == 1


def test_a_failing_listener_rolls_the_save_back(deal):
    db, ann, aid, oid = deal
    audits, _, _ = _state(db, "opportunity", oid, aid)

    def broken(db_, ids):
        raise RuntimeError("listener failed")

    hooks.on_change("opportunities")(broken)
    try:
        with pytest.raises(RuntimeError, match="listener failed"):
            opportunities.update(db, ann, oid, 1, {"stage_id": 2}, now=NOW)
    finally:
        hooks._listeners["opportunities"].remove(broken)
    row = db.one("SELECT stage_id, version FROM opportunities WHERE id = ?", [oid])
    assert row == {"stage_id": 1, "version": 1}
    assert _state(db, "opportunity", oid, aid) == (audits, 0, 0)
    assert db.scalar("SELECT count(*) FROM stage_history WHERE opportunity_id = ?", [oid]) == 1


def test_account_edit_and_deal_entry_commit_once_with_marks(deal):
    db, ann, aid, oid = deal
    audits, _, _ = _state(db, "account", aid, aid)
    before = db.data_version
    accounts.update(db, ann, aid, 1, {"notes": "met the CFO"}, now=NOW)
    assert db.data_version == before + 1
    assert _state(db, "account", aid, aid) == (audits + 1, 1, 1)
    with pytest.raises(StaleEditError):
        accounts.update(db, ann, aid, 1, {"notes": "stale"}, now=NOW)
    assert db.data_version == before + 1
    assert _state(db, "account", aid, aid) == (audits + 1, 1, 1)

    new = opportunities.create(db, ann, name="More widgets", stage_id=1, amount=10, expected_close="2026-09-30",
                               account_id=aid, now=NOW)
    assert db.data_version == before + 2
    assert _state(db, "opportunity", new, aid) == (1, 2, 2)


def test_reopening_a_won_deal_clears_its_close_date(deal):
    # opportunities.update hands the row it read to update_versioned (current=): the
    # columns a stage move clears (closed_at, lost_reason) must be in it
    db, ann, aid, oid = deal
    won = opportunities.update(db, ann, oid, 1, {"stage_id": 6}, now=NOW)
    assert won["status"] == "won" and won["closed_at"] == NOW.date()
    reopened = opportunities.update(db, ann, oid, won["version"], {"stage_id": 3}, now=NOW)
    row = db.one("SELECT status, closed_at, version FROM opportunities WHERE id = ?", [oid])
    assert row == {"status": "open", "closed_at": None, "version": 3} and reopened["closed_at"] is None


def test_update_versioned_reads_the_row_when_current_lacks_a_column(deal):
    db, ann, aid, oid = deal
    opportunities.update(db, ann, oid, 1, {"stage_id": 6}, now=NOW)
    # `current` without closed_at: the change to None must still be applied
    after = records.update_versioned(db, ann, "opportunities", oid, 2, {"closed_at": None},
                                     entity="opportunity", current={"id": oid, "version": 2})
    assert after["version"] == 3 and db.scalar("SELECT closed_at FROM opportunities WHERE id = ?", [oid]) is None
    with pytest.raises(StaleEditError) as err:
        records.update_versioned(db, ann, "opportunities", oid, 2, {"amount": 1},
                                 current={"version": 3, "amount": Decimal("1000.00")})
    assert err.value.current["name"] == "Acme widgets"  # the whole current row, read for the message


@pytest.mark.parametrize("stage", [99, "x", ""])
def test_a_move_to_an_unknown_stage_is_refused_by_name_and_changes_nothing(deal, stage):
    # the stage is read in the same statement as the deal (opportunities._with_stage)
    db, ann, aid, oid = deal
    with pytest.raises(ValidationError, match="not one of the configured stages"):
        opportunities.update(db, ann, oid, 1, {"stage_id": stage, "amount": 5}, now=NOW)
    assert db.one("SELECT stage_id, amount, version FROM opportunities WHERE id = ?", [oid]) == {
        "stage_id": 1, "amount": Decimal("1000.00"), "version": 1}
    assert _state(db, "opportunity", oid, aid)[1:] == (0, 0)


def test_deal_entry_reads_account_stage_and_owner_department_together(deal):
    db, ann, aid, oid = deal
    bob = actor(db, "bob")  # dept 1, like ann; cat is in dept 2
    new = opportunities.create(db, actor(db, "boss1"), name="Team deal", stage_id=2, amount=1,
                               expected_close="2026-09-30", account_id=aid, owner_id=bob.id, now=NOW)
    assert db.one("SELECT owner_id, department_id, stage_id FROM opportunities WHERE id = ?", [new]) == {
        "owner_id": bob.id, "department_id": 1, "stage_id": 2}
    admin = actor(db, "admin")
    other = opportunities.create(db, admin, name="West deal", stage_id=1, amount=1, expected_close="2026-09-30",
                                 account_id=aid, owner_id=5, now=NOW)
    assert db.scalar("SELECT department_id FROM opportunities WHERE id = ?", [other]) == 2
    with pytest.raises(ValidationError, match="not one of the configured stages"):
        opportunities.create(db, ann, name="Nowhere", stage_id=42, amount=1, expected_close="2026-09-30",
                             account_id=aid, now=NOW)


def test_account_edit_reads_only_what_it_needs_and_keeps_keys_current(deal):
    db, ann, aid, oid = deal
    after = accounts.update(db, ann, aid, 1, {"name": "Acme Holdings", "phone": "+86 10 5555 1234"}, now=NOW)
    row = db.one("SELECT name, normalized_name, phone_key, version, updated_at FROM accounts WHERE id = ?", [aid])
    assert row == {"name": "Acme Holdings", "normalized_name": normalize_company_name("Acme Holdings"),
                   "phone_key": "861055551234", "version": 2, "updated_at": NOW}
    assert {k: after[k] for k in row} == row and after["owner_id"] == ann.id
    with pytest.raises(StaleEditError) as err:
        accounts.update(db, ann, aid, 1, {"industry": "Retail"}, now=NOW)
    assert err.value.current["notes"] is None and err.value.current["phone"] == "+86 10 5555 1234"
