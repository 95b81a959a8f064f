"""A versioned save writes the next version as a value (`version = ?`), not as
`version + 1`: an expression over the stored row makes DuckDB fetch the row
before the update (~0.4 ms of a save at 1M deals). That is safe only because
the version is checked in the same transaction and DuckDB refuses an update of
a row another connection committed meanwhile; both are pinned here."""

from __future__ import annotations

import duckdb
import pytest

from crm_core import opportunities, records
from crm_core.errors import StaleEditError
from tests.test_accounts_seed import NOW
from tests.test_saves_one_commit import deal  # noqa: F401 - the shared fixture
from tests.test_saves_statements import _Counting


def test_each_save_writes_the_next_version_as_a_value(deal):  # noqa: F811
    db, ann, _, oid = deal
    log: list[str] = []
    db._con = _Counting(db._con, log)
    for version, change in enumerate(({"amount": 1500}, {"stage_id": 2}, {"expected_close": "2026-09-30"}), start=1):
        after = opportunities.update(db, ann, oid, version, change, now=NOW)
        assert after["version"] == version + 1
        assert db.scalar("SELECT version FROM opportunities WHERE id = ?", [oid]) == version + 1
    updates = [s for s in log if s.startswith('UPDATE "opportunities"')]
    assert len(updates) == 3 and all(s.endswith("version = ? WHERE id = ?") for s in updates)
    with pytest.raises(StaleEditError):  # a copy of version 3 is stale now
        opportunities.update(db, ann, oid, 3, {"amount": 1}, now=NOW)
    assert db.one("SELECT amount, version FROM opportunities WHERE id = ?", [oid])["version"] == 4


def test_a_commit_by_another_connection_after_the_check_refuses_the_update(deal):  # noqa: F811
    db, ann, _, oid = deal
    other = db._con.cursor()
    with pytest.raises(duckdb.TransactionException, match="[Cc]onflict"):
        with db.atomic() as cur:
            row = records.fetch_row(cur, "opportunities", oid)
            assert row["version"] == 1  # checked: this copy is current
            other.execute("UPDATE opportunities SET amount = 7, version = 2 WHERE id = ?", [oid])  # commits
            records.update_versioned(db, ann, "opportunities", oid, 1, {"amount": 9}, entity="opportunity", cur=cur,
                                     current=row)
    other.close()
    assert db.one("SELECT amount, version FROM opportunities WHERE id = ?", [oid]) == {"amount": 7, "version": 2}
    assert db.scalar("SELECT count(*) FROM audit_log WHERE entity = 'opportunity' AND entity_id = ? "
                     "AND action = 'update'", [oid]) == 0


def test_a_version_from_numpy_is_written_as_a_plain_int(deal):  # noqa: F811
    import numpy as np

    db, ann, _, oid = deal
    after = opportunities.update(db, ann, oid, np.int64(1), {"amount": 1700}, now=NOW)
    assert after["version"] == 2 and type(after["version"]) is int
    assert db.one("SELECT amount, version FROM opportunities WHERE id = ?", [oid])["version"] == 2
