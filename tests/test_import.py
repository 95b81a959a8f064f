"""Import: reading, mapping, checking, loading all-or-nothing, undo (hand-made files)."""

from __future__ import annotations

from pathlib import Path

import pytest

from crm_core import importer
from crm_core.access import Actor, load_actor
from crm_core.errors import PermissionDenied

FIX = Path(__file__).parent / "fixtures" / "import"
SYSTEM = Actor.system()


def test_accounts_load_with_parent_in_same_file_and_undo(db):
    r = importer.import_file(db, SYSTEM, "accounts", FIX / "accounts_ok.csv")
    assert r.counts == {"rows": 3, "created": 3, "updated": 0, "unchanged": 0, "rejected": 0}
    rows = {n: (p, rev, notes) for n, p, rev, notes in db.rows(
        "SELECT name, parent_id, annual_revenue, notes FROM accounts")}
    parent_id = db.scalar("SELECT id FROM accounts WHERE name = 'Acme Inc.'")
    assert rows["Acme Sub"][0] == parent_id          # "Acme Inc" matches "Acme Inc." by normalised name
    assert str(rows["Acme Inc."][1]) == "1200.50"     # "1,200.50" with a thousands separator
    assert str(rows["Acme Sub"][1]) == "300.00"       # "¥300"
    assert rows["Beta GmbH"][2] == "year_established: 1999"   # unmapped column kept, nothing lost
    again = importer.import_file(db, SYSTEM, "accounts", FIX / "accounts_ok.csv")
    assert (again.created, again.unchanged) == (0, 3)
    importer.undo(db, SYSTEM, again.batch_id)
    importer.undo(db, SYSTEM, r.batch_id)
    assert db.scalar("SELECT count(*) FROM accounts") == 0


def test_reps_cannot_import(demo_db):
    rep = load_actor(demo_db, "rep1")
    with pytest.raises(PermissionDenied):
        importer.import_file(demo_db, rep, "accounts", FIX / "accounts_ok.csv", dry_run=True)
