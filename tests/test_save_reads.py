"""A save reads only the columns it needs of the stored row: at 1M deals each
column more is another segment to decompress (the deal's 15 columns cost
~0.3 ms more of a stage move than its 10). What the save returns, refuses and
writes is the same as when it read the whole row."""

from __future__ import annotations

from datetime import date

import pytest

from crm_core import opportunities
from crm_core.errors import StaleEditError, ValidationError
from tests.test_accounts_seed import NOW
from tests.test_saves_one_commit import deal  # noqa: F401 - the shared fixture
from tests.test_saves_statements import _Counting


def _reads(db, fn) -> list[str]:
    log: list[str] = []
    con, db._con = db._con, _Counting(db._con, log)
    try:
        fn()
    finally:
        db._con = con
    return [s for s in log if s.startswith("SELECT")]


def _columns(select: str) -> set[str]:
    """The stored row's columns a save's read takes (`r.` in opportunities._with_stage)."""
    items = [c.strip() for c in select[len("SELECT "):].split(" FROM ")[0].split(",")]
    return {c[2:].strip('"') for c in items if c.startswith("r.")}


@pytest.mark.parametrize("changes,expected", [
    ({"amount": 1500}, {"amount"}),
    ({"stage_id": 2}, {"status", "lost_reason", "stage_entered_at", "closed_at"}),
    ({"expected_close": "2026-09-30", "name": "Renamed"}, {"expected_close", "name"}),
    ({"lost_reason": "Price"}, {"status", "lost_reason"}),
])
def test_a_deal_edit_reads_the_deal_once_and_only_the_columns_it_needs(deal, changes, expected):  # noqa: F811
    db, ann, _, oid = deal
    reads = _reads(db, lambda: opportunities.update(db, ann, oid, 1, changes, now=NOW))
    assert len(reads) == 1 and " FROM \"opportunities\" r " in reads[0]
    assert _columns(reads[0]) == {"id", "owner_id", "account_id", "stage_id", "updated_at", "version"} | expected


def test_what_a_narrow_read_returns_and_writes(deal):  # noqa: F811
    db, ann, aid, oid = deal
    moved = opportunities.update(db, ann, oid, 1, {"stage_id": 6}, now=NOW)
    assert {k: moved[k] for k in ("status", "closed_at", "lost_reason", "stage_entered_at", "version", "account_id")} \
        == {"status": "won", "closed_at": NOW.date(), "lost_reason": None, "stage_entered_at": NOW, "version": 2,
            "account_id": aid}
    edited = opportunities.update(db, ann, oid, 2, {"expected_close": "2026-09-30"}, now=NOW)
    assert edited["expected_close"] == date(2026, 9, 30) and edited["version"] == 3
    assert db.rows("SELECT old_date, new_date FROM close_date_history WHERE opportunity_id = ?", [oid]) == [
        (date(2026, 8, 31), date(2026, 9, 30))]
    same = opportunities.update(db, ann, oid, 3, {"amount": "1000"}, now=NOW)  # unchanged: nothing written
    assert same["version"] == 3 and db.scalar("SELECT version FROM opportunities WHERE id = ?", [oid]) == 3
    with pytest.raises(StaleEditError) as err:  # a stale copy still gets the whole current row
        opportunities.update(db, ann, oid, 1, {"amount": 5}, now=NOW)
    assert err.value.current["name"] == "Acme widgets" and err.value.current["status"] == "won"


def test_a_lost_move_without_a_reason_still_names_the_deal(deal):  # noqa: F811
    db, ann, _, oid = deal
    with pytest.raises(ValidationError, match="Closing 'Acme widgets' as lost needs a reason"):
        opportunities.update(db, ann, oid, 1, {"stage_id": 7}, now=NOW)
    assert db.scalar("SELECT version FROM opportunities WHERE id = ?", [oid]) == 1


def test_deal_entry_reads_only_the_account_columns_it_needs(deal):  # noqa: F811
    db, ann, aid, _ = deal
    reads = _reads(db, lambda: opportunities.create(db, ann, name="Second", stage_id=1, amount=1,
                                                    expected_close="2026-09-30", account_id=aid, now=NOW))
    assert len(reads) == 1 and " FROM \"accounts\" r " in reads[0]
    assert _columns(reads[0]) == {"id", "name", "owner_id", "merged_into_id", "region", "lifecycle"}
    db.execute("UPDATE accounts SET owner_id = NULL WHERE id = ?", [aid])
    with pytest.raises(ValidationError, match="'Acme' is in the public pool"):  # the checks see what they need
        opportunities.create(db, ann, name="Third", stage_id=1, amount=1, expected_close="2026-09-30",
                             account_id=aid, now=NOW)
