"""Playbook ticks are stored per deal and stage, audited, refused when stale, and kept by the page."""

from __future__ import annotations

import pytest

from crm_core import opportunities, playbook
from crm_core.errors import PermissionDenied, StaleEditError, ValidationError
from tests.apptest_helpers import db_rows
from tests.test_accounts_seed import NOW, actor, fresh


@pytest.fixture
def team(tmp_path):
    db = fresh(tmp_path)
    ann = actor(db, "ann")
    oid = opportunities.create(db, ann, name="Scanners", stage_id=1, amount=100, expected_close="2026-09-30",
                               now=NOW, new_account={"name": "Acme", "region": "East"})
    yield db, ann, oid
    db.close()



def _deal_page(login: str, oid: int):
    """The pipeline page as `login`, on the My opportunities tab with deal `oid` picked."""
    from tests.apptest_helpers import run_page

    at = run_page("pipeline.py", login=login)
    at.session_state["pl_tab"] = "My opportunities"
    at.run()
    return at.selectbox(key="pl_detail").set_value(oid).run()


def test_ticks_are_stored_per_stage_and_come_back_with_the_stage(team):
    db, ann, oid = team
    playbook.set_done(db, ann, oid, "Log the first call", True, was_done=False, now=NOW)
    deal = opportunities.get(db, ann, oid)
    assert deal["ticked"] == ["Log the first call"]
    opportunities.update(db, ann, oid, deal["version"], {"stage_id": 2}, now=NOW)
    assert opportunities.get(db, ann, oid)["ticked"] == []          # Qualified's own list starts empty
    deal = opportunities.get(db, ann, oid)
    opportunities.update(db, ann, oid, deal["version"], {"stage_id": 1}, now=NOW)
    assert opportunities.get(db, ann, oid)["ticked"] == ["Log the first call"]   # back in Lead: kept
    playbook.set_done(db, ann, oid, "Log the first call", False, was_done=True, now=NOW)
    assert opportunities.get(db, ann, oid)["ticked"] == []
    audit = db.rows("SELECT action, entity, entity_id, after->>'done' FROM audit_log "
                    "WHERE entity = 'playbook_tick' ORDER BY id")
    assert audit == [("update", "playbook_tick", oid, "true"), ("update", "playbook_tick", oid, "false")]


def test_a_stale_tick_is_refused_with_the_current_state(team):
    db, ann, oid = team
    boss = actor(db, "boss1")
    playbook.set_done(db, boss, oid, "Log the first call", True, was_done=False, now=NOW)   # the manager ticks it
    with pytest.raises(StaleEditError) as err:   # ann's page still shows it unticked and she unticks nothing
        playbook.set_done(db, ann, oid, "Log the first call", True, was_done=False, now=NOW)
    assert err.value.current["done"] is True
    with pytest.raises(StaleEditError):
        playbook.set_done(db, ann, oid, "Log the first call", False, was_done=False, now=NOW)
    assert db.scalar("SELECT count(*) FROM playbook_ticks") == 1


def test_items_outside_the_playbook_and_other_reps_deals_are_refused(team):
    db, ann, oid = team
    with pytest.raises(ValidationError, match="'Sign the contract' is not an item of the Lead playbook"):
        playbook.set_done(db, ann, oid, "Sign the contract", True, was_done=False, now=NOW)
    with pytest.raises(PermissionDenied):
        playbook.set_done(db, actor(db, "cat"), oid, "Log the first call", True, was_done=False, now=NOW)
    with pytest.raises(PermissionDenied):   # a rep of the same team: reps tick their own deals only
        playbook.set_done(db, actor(db, "bob"), oid, "Log the first call", True, was_done=False, now=NOW)
    assert db.scalar("SELECT count(*) FROM playbook_ticks") == 0
    assert playbook.ticked(db, actor(db, "cat"), oid, 1) == []     # nor can another team read them


def test_the_page_keeps_a_tick(app_db):
    oid, items = db_rows(app_db, "SELECT o.id, s.playbook FROM opportunities o JOIN stages s ON s.id = o.stage_id "
                       "JOIN users u ON u.id = o.owner_id WHERE u.login = 'rep1' AND o.status = 'open' "
                       "ORDER BY o.id LIMIT 1")[0]
    at = _deal_page("rep1", oid)
    box = next(c for c in at.checkbox if c.label == items[0])
    assert box.value is False
    box.check().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    again = _deal_page("rep1", oid)        # a new session: the tick is stored, not remembered
    assert next(c for c in again.checkbox if c.label == items[0]).value is True


def test_the_team_of_a_deal_can_be_changed_and_a_stale_page_is_refused(team):
    from crm_core.errors import StaleEditError as Stale

    db, ann, oid = team
    bob, boss = actor(db, "bob"), actor(db, "boss1")
    version = opportunities.get(db, ann, oid)["version"]
    assert opportunities.set_team(db, ann, oid, version, [bob.id, boss.id], now=NOW) == sorted([bob.id, boss.id])
    db.execute("UPDATE opportunity_team SET role = 'lead engineer' WHERE user_id = ?", [bob.id])
    deal = opportunities.get(db, ann, oid)
    assert deal["version"] == version + 1
    # the manager drops himself; bob stays with his role; ann (the owner) is never listed twice
    assert opportunities.set_team(db, boss, oid, deal["version"], [bob.id, ann.id], now=NOW) == [bob.id]
    assert db.rows("SELECT user_id, role FROM opportunity_team WHERE opportunity_id = ?", [oid]) == \
        [(bob.id, "lead engineer")]
    with pytest.raises(Stale) as err:          # ann's page still shows the older version
        opportunities.set_team(db, ann, oid, deal["version"], [], now=NOW)
    assert err.value.current["team"] == [bob.id]
    with pytest.raises(ValidationError, match="not an active sales user"):
        opportunities.set_team(db, ann, oid, deal["version"] + 1, [7], now=NOW)   # 7: gone, inactive
    with pytest.raises(PermissionDenied):
        opportunities.set_team(db, bob, oid, deal["version"] + 1, [], now=NOW)
    assert db.rows("SELECT user_id FROM opportunity_team WHERE opportunity_id = ?", [oid]) == [(bob.id,)]
    audit = db.rows("SELECT before->>'team', after->>'team' FROM audit_log WHERE entity = 'opportunity_team' "
                    "ORDER BY id")
    assert audit == [("[]", f"[{min(bob.id, boss.id)},{max(bob.id, boss.id)}]"),
                     (f"[{min(bob.id, boss.id)},{max(bob.id, boss.id)}]", f"[{bob.id}]")]


def test_the_page_saves_a_deals_team(app_db):
    oid, version = db_rows(app_db, "SELECT o.id, o.version FROM opportunities o JOIN users u ON u.id = o.owner_id "
                         "WHERE u.login = 'rep2' AND o.status = 'open' ORDER BY o.id LIMIT 1")[0]
    colleague = db_rows(app_db, "SELECT id FROM users WHERE login = 'rep3'")[0][0]
    before = [r[0] for r in db_rows(app_db, "SELECT user_id FROM opportunity_team WHERE opportunity_id = ?", [oid])]
    at = _deal_page("rep2", oid)
    at.multiselect(key=f"pl_team_pick_{oid}_{version}").set_value(sorted({*before, colleague}))
    at.button(key=f"FormSubmitter:pl_team_{oid}-Save team").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    team = [r[0] for r in db_rows(app_db, "SELECT user_id FROM opportunity_team WHERE opportunity_id = ?", [oid])]
    assert colleague in team
    assert db_rows(app_db, "SELECT version FROM opportunities WHERE id = ?", [oid]) == [(version + 1,)]
