"""Opportunities: entry, versioned edits, stage and close-date history, lost reasons, the grid."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest

from crm_core import accounts, contacts, opportunities
from crm_core.errors import DuplicateError, PermissionDenied, StaleEditError, ValidationError
from tests.test_accounts_seed import NOW, actor, fresh


@pytest.fixture
def team(tmp_path):
    db = fresh(tmp_path)
    yield db
    db.close()


@pytest.fixture
def deal(team):
    ann = actor(team, "ann")
    aid = accounts.create(team, ann, name="Acme", region="East", now=NOW)
    cid = contacts.create(team, ann, account_id=aid, name="Dana")
    oid = opportunities.create(team, ann, name="Acme widgets", stage_id=1, amount="1,200.50",
                               expected_close="2026-08-31", account_id=aid, product_id=1,
                               contacts=[(cid, "decision_maker")], team=[(4, "support")], now=NOW)
    return team, ann, aid, oid


def test_create_writes_first_stage_history_and_links(deal):
    db, ann, aid, oid = deal
    row = db.one("SELECT * FROM opportunities WHERE id = ?", [oid])
    assert row["amount"] == Decimal("1200.50") and row["region"] == "East" and row["department_id"] == 1
    assert db.rows("SELECT from_stage_id, to_stage_id FROM stage_history WHERE opportunity_id = ?", [oid]) == [(None, 1)]
    assert db.rows("SELECT role FROM opportunity_contacts WHERE opportunity_id = ?", [oid]) == [("decision_maker",)]
    assert db.rows("SELECT user_id FROM opportunity_team WHERE opportunity_id = ?", [oid]) == [(4,)]
    assert db.scalar("SELECT lifecycle FROM accounts WHERE id = ?", [aid]) == "prospect"


def test_create_with_a_new_account_and_duplicate_refused_whole(team):
    ann, bob = actor(team, "ann"), actor(team, "bob")
    opportunities.create(team, ann, name="D1", stage_id=1, amount=1, expected_close="2026-09-01",
                         new_account={"name": "Fresh Co"}, now=NOW)
    with pytest.raises(DuplicateError, match="Ann Rep"):
        opportunities.create(team, bob, name="D2", stage_id=1, amount=1, expected_close="2026-09-01",
                             new_account={"name": "FRESH CO., LTD."}, now=NOW)
    assert team.scalar("SELECT count(*) FROM opportunities") == 1
    assert team.scalar("SELECT count(*) FROM accounts") == 1


@pytest.mark.parametrize("kwargs,pattern", [
    ({"name": ""}, "needs a name"),
    ({"amount": "-5"}, "cannot be negative"),
    ({"amount": "lots"}, "must be a number"),
    ({"expected_close": "31/08/2026"}, "must be a date"),
    ({"expected_close": None}, "expected close"),
    ({"probability": 1.5}, "from 0 to 1"),
    ({"stage_id": 99}, "not one of the configured stages"),
    ({"stage_id": 7}, "needs a reason"),
    ({"contacts": [(999, "decision_maker")]}, "not a contact"),
    ({"contacts": [(1, "boss")]}, "Decision role"),
    ({"team": [(7, None)]}, "not an active sales user"),
])
def test_bad_input_is_refused_and_changes_nothing(deal, kwargs, pattern):
    db, ann, aid, _ = deal
    before = db.table_counts()
    args = {"name": "X", "stage_id": 1, "amount": 1, "expected_close": "2026-09-01", "account_id": aid, **kwargs}
    with pytest.raises(ValidationError, match=pattern):
        opportunities.create(db, ann, now=NOW, **args)
    assert db.table_counts() == before


def test_rep_cannot_enter_on_someone_elses_or_a_pool_account(deal):
    db, ann, aid, _ = deal
    with pytest.raises(PermissionDenied):
        opportunities.create(db, actor(db, "cat"), name="X", stage_id=1, amount=1, expected_close="2026-09-01",
                             account_id=aid, now=NOW)
    pooled = accounts.create(db, actor(db, "boss1"), name="Pooled", owner_id=None, now=NOW)
    with pytest.raises(ValidationError, match="claim it"):
        opportunities.create(db, ann, name="X", stage_id=1, amount=1, expected_close="2026-09-01",
                             account_id=pooled, now=NOW)


def test_stage_moves_write_history_and_close_date_moves_slippage(deal):
    db, ann, _, oid = deal
    later = datetime(2026, 7, 2, 9)
    after = opportunities.update(db, ann, oid, 1, {"stage_id": 2}, now=later)
    after = opportunities.update(db, ann, oid, after["version"], {"stage_id": 3, "expected_close": "2026-09-30"},
                                 now=later)
    assert after["version"] == 3 and after["stage_entered_at"] == later
    assert db.rows("SELECT from_stage_id, to_stage_id FROM stage_history WHERE opportunity_id = ? ORDER BY id",
                   [oid]) == [(None, 1), (1, 2), (2, 3)]
    assert db.rows("SELECT old_date, new_date FROM close_date_history WHERE opportunity_id = ?", [oid]) == [
        (date(2026, 8, 31), date(2026, 9, 30))]
    # an amount-only edit writes no history
    opportunities.update(db, ann, oid, 3, {"amount": 99}, now=later)
    assert db.scalar("SELECT count(*) FROM stage_history WHERE opportunity_id = ?", [oid]) == 3


def test_stale_edit_is_refused_with_current_values_and_no_history(deal):
    db, ann, _, oid = deal
    opportunities.update(db, actor(db, "boss1"), oid, 1, {"amount": 5000}, now=NOW)
    with pytest.raises(StaleEditError) as exc:
        opportunities.update(db, ann, oid, 1, {"stage_id": 2, "amount": 10}, now=NOW)
    assert exc.value.current["amount"] == Decimal("5000.00") and exc.value.current["version"] == 2
    assert db.scalar("SELECT count(*) FROM stage_history WHERE opportunity_id = ?", [oid]) == 1
    assert db.scalar("SELECT amount FROM opportunities WHERE id = ?", [oid]) == Decimal("5000.00")


def test_lost_needs_a_reason_won_makes_a_customer(deal):
    db, ann, aid, oid = deal
    with pytest.raises(ValidationError, match="needs a reason"):
        opportunities.update(db, ann, oid, 1, {"stage_id": 7, "lost_reason": "  "}, now=NOW)
    lost = opportunities.update(db, ann, oid, 1, {"stage_id": 7, "lost_reason": "Price"}, now=NOW)
    assert (lost["status"], lost["lost_reason"], lost["closed_at"]) == ("lost", "Price", NOW.date())
    won = opportunities.update(db, ann, oid, 2, {"stage_id": 6}, now=NOW)
    assert (won["status"], won["lost_reason"]) == ("won", None)
    assert db.scalar("SELECT lifecycle FROM accounts WHERE id = ?", [aid]) == "customer"


def test_grid_saves_changed_rows_and_names_refused_ones(deal):
    db, ann, aid, oid = deal
    second = opportunities.create(db, ann, name="Second", stage_id=1, amount=10, expected_close="2026-08-01",
                                  account_id=aid, now=NOW)
    original = opportunities.grid_rows(db, ann).to_dicts()
    edited = [dict(r) for r in original]
    by_id = {r["id"]: r for r in edited}
    by_id[oid]["stage"] = "Qualified"
    by_id[oid]["expected_close"] = datetime(2026, 10, 1)      # the editor hands dates back as datetimes
    by_id[second]["stage"] = "Lost"                            # no reason: refused
    saved, errors = opportunities.apply_grid_edits(db, ann, original, edited, now=NOW)
    assert saved == [oid]
    assert len(errors) == 1 and "Row" in str(errors[0]) and "Second" in str(errors[0]) and "reason" in str(errors[0])
    assert db.scalar("SELECT stage_id FROM opportunities WHERE id = ?", [second]) == 1
    # the unchanged copy is now stale for the saved row
    saved, errors = opportunities.apply_grid_edits(db, ann, original, [
        {**r, "amount": 1} if r["id"] == oid else r for r in original], now=NOW)
    assert saved == [] and isinstance(errors[0], StaleEditError)


def test_reps_see_only_their_deals(deal):
    db, ann, aid, oid = deal
    assert opportunities.grid_rows(db, actor(db, "cat")).height == 0
    assert opportunities.list_open(db, actor(db, "boss1")).height == 1
    assert opportunities.list_open(db, actor(db, "boss2")).height == 0
    with pytest.raises(Exception, match="not visible"):
        opportunities.get(db, actor(db, "cat"), oid)


def test_playbook_shown_on_deal_and_editable_by_managers(deal):
    db, ann, _, oid = deal
    assert opportunities.get(db, ann, oid)["playbook"] == ["Confirm the contact's role", "Log the first call"]
    with pytest.raises(PermissionDenied):
        opportunities.set_playbook(db, ann, 1, 1, ["x"])
    opportunities.set_playbook(db, actor(db, "boss1"), 1, 1, ["Call", " ", "Qualify"])
    assert opportunities.get(db, ann, oid)["playbook"] == ["Call", "Qualify"]


def test_grid_totals_cover_every_deal_not_only_the_rows_shown(demo_db):
    """The grid shows the first rows; its count and amount are over every deal it covers (independent SQL)."""
    from crm_core.access import load_actor

    admin = load_actor(demo_db, "admin")
    rows = opportunities.grid_rows(demo_db, admin, limit=50)
    totals = opportunities.grid_totals(demo_db, admin)
    n, amount = demo_db.rows("SELECT count(*), sum(amount) FROM opportunities WHERE status = 'open'")[0]
    assert rows.height == 50 < n
    assert totals == {"count": n, "amount": amount}
    rep = load_actor(demo_db, "rep2")
    n, amount = demo_db.rows("SELECT count(*), coalesce(sum(amount), 0) FROM opportunities WHERE status = 'open' "
                             "AND owner_id = ?", [rep.id])[0]
    assert opportunities.grid_totals(demo_db, rep) == {"count": n, "amount": amount}
    assert opportunities.grid_rows(demo_db, rep).height == min(n, 500)
