"""`crm pool sweep` and `crm pool assign` on the hand-made team."""

from __future__ import annotations

from datetime import datetime

from crm_core import accounts, settings
from crm_core.access import Actor
from crm_core.cli import main
from tests.test_accounts_seed import actor, fresh


def test_sweep_and_assign_from_the_command_line(tmp_path, capsys):
    db = fresh(tmp_path)
    ann, boss = actor(db, "ann"), actor(db, "boss1")
    old = accounts.create(db, ann, name="Old Co", now=datetime(2026, 5, 1, 9))
    lead = accounts.create(db, boss, name="New Lead", region="West", owner_id=None, now=datetime(2026, 6, 1))
    settings.put(db, Actor.system(), "pool.assignment_rules", [{"kind": "region", "match": "West", "user_id": 5}])
    path = db.path
    db.close()
    assert main(["--db", path, "pool", "sweep", "--today", "2026-05-31", "--lifecycle"]) == 0
    out = capsys.readouterr().out
    assert f"returned account {old}" in out and "1 account(s) returned" in out and "lifecycle:" in out
    assert main(["--db", path, "pool", "assign"]) == 0
    out = capsys.readouterr().out
    assert f"account {lead} (New Lead) -> Cat Rep (rule 1)" in out and "1 lead(s) assigned." in out
    # a rep may not run the sweep: one line on stderr, exit status 2
    assert main(["--db", path, "--user", "ann", "pool", "sweep"]) == 2
    assert "does not allow you to run the pool sweep" in capsys.readouterr().err
