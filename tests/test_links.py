"""Writing relationships (crm_core.links): validation, rights, loops, versions, audit."""

from __future__ import annotations

import json

import pytest

from crm_core import hooks, links
from crm_core.access import Actor, load_actor
from crm_core.errors import DuplicateError, NotFound, PermissionDenied, StaleEditError, ValidationError
from tests.test_graph import add_contacts, make_small

ADMIN = Actor.system()


@pytest.fixture
def small(db):
    return make_small(db)


@pytest.fixture
def contacts(small):
    return add_contacts(small)


def _audit(db, entity: str) -> list[dict]:
    return db.dicts("SELECT action, entity_id, before::VARCHAR AS before, after::VARCHAR AS after, user_login "
                    "FROM audit_log WHERE entity = ? ORDER BY id", [entity])


def _count(db, sql: str, params=None) -> int:
    return db.scalar(sql, params or [])


def test_add_and_delete_link_with_audit(small):
    rep_a = load_actor(small, "repa")
    row = links.add_link(small, rep_a, 1, 5, "partner_of", "  met at fair  ")
    assert row["note"] == "met at fair" and row["kind"] == "partner_of"
    assert _count(small, "SELECT count(*) FROM account_links WHERE id = ?", [row["id"]]) == 1
    entries = _audit(small, "account_link")
    assert entries[-1]["action"] == "create" and entries[-1]["user_login"] == "repa"
    assert json.loads(entries[-1]["after"])["to_account_id"] == 5
    links.delete_link(small, rep_a, row["id"])
    assert _count(small, "SELECT count(*) FROM account_links WHERE id = ?", [row["id"]]) == 0
    assert _audit(small, "account_link")[-1]["action"] == "delete"


@pytest.mark.parametrize("args,error,message", [
    ((1, 1, "partner_of"), ValidationError, "An account cannot be linked to itself (account 1)"),
    ((1, 2, "friend_of"), ValidationError, "Relation 'friend_of' is not known"),
    ((1, 999, "partner_of"), NotFound, "To account: account 999 does not exist"),
    (("x", 2, "partner_of"), ValidationError, "From account: 'x' is not an account id"),
    ((4, 1, "supplier_of"), DuplicateError, "Acct 4 is already recorded as supplier of Acct 1 (link 1)"),
    ((1, 4, "customer_of"), DuplicateError, "already recorded as customer of"),   # the same link read backwards
    ((1, 3, "subsidiary_of"), ValidationError, "would create a loop"),           # 1 is above 3 already
])
def test_bad_links_are_refused_and_change_nothing(small, args, error, message):
    before = _count(small, "SELECT count(*) FROM account_links")
    with pytest.raises(error, match=message.replace("(", r"\(").replace(")", r"\)")):
        links.add_link(small, ADMIN, *args)
    assert _count(small, "SELECT count(*) FROM account_links") == before
    assert _count(small, "SELECT count(*) FROM audit_log") == 0


def test_long_note_refused(small):
    with pytest.raises(ValidationError, match="Note: 2001 characters; at most 2000"):
        links.add_link(small, ADMIN, 1, 10, "partner_of", "x" * 2001)


def test_link_rights(small):
    rep_a = load_actor(small, "repa")
    with pytest.raises(PermissionDenied, match="neither account is yours"):
        links.add_link(small, rep_a, 3, 5, "partner_of")      # rep B's and the pool's
    with pytest.raises(PermissionDenied):
        links.add_link(small, load_actor(small, "ana"), 1, 10, "partner_of")
    with pytest.raises(PermissionDenied):
        links.delete_link(small, rep_a, 2)                     # 5 competitor of 4: pool and rep B
    links.add_link(small, rep_a, 10, 3, "supplier_of")          # own account to another rep's: allowed


def test_set_parent_refuses_loops_and_stale_edits_and_notifies(small):
    seen = []

    @hooks.on_change("accounts")
    def listener(db, ids):
        seen.append(ids)

    try:
        with pytest.raises(ValidationError, match=r"Acct 3 \(account 3\) is below Acct 1 \(account 1\)"):
            links.set_parent(small, ADMIN, 1, 3, 1)
        with pytest.raises(ValidationError, match="cannot be its own superior unit"):
            links.set_parent(small, ADMIN, 10, 10, 1)
        after = links.set_parent(small, ADMIN, 10, 1, 1)
        assert after["parent_id"] == 1 and after["version"] == 2
        assert seen == [[10]]
        with pytest.raises(StaleEditError) as exc:
            links.set_parent(small, ADMIN, 10, None, 1)
        assert exc.value.current["parent_id"] == 1
        assert _count(small, "SELECT parent_id FROM accounts WHERE id = 10") == 1
        assert _audit(small, "account")[-1]["action"] == "update"
    finally:
        hooks._listeners["accounts"].remove(listener)


def test_set_parent_rights(small):
    with pytest.raises(PermissionDenied):
        links.set_parent(small, load_actor(small, "repa"), 3, None, 1)


def test_reports_to(contacts):
    after = links.set_reports_to(contacts, ADMIN, 6, 1, 1)
    assert after["reports_to_id"] == 1 and after["version"] == 2
    with pytest.raises(ValidationError, match=r"Low \(contact 3\) already reports, directly or through others, to "
                                              r"Chief \(contact 1\)"):
        links.set_reports_to(contacts, ADMIN, 1, 3, 1)
    with pytest.raises(ValidationError, match="cannot report to themselves"):
        links.set_reports_to(contacts, ADMIN, 1, 1, 1)
    with pytest.raises(ValidationError, match="works for account 3, not for account 1"):
        links.set_reports_to(contacts, ADMIN, 2, 7, 1)
    with pytest.raises(StaleEditError):
        links.set_reports_to(contacts, ADMIN, 6, None, 1)
    cleared = links.set_reports_to(contacts, ADMIN, 6, None, 2)
    assert cleared["reports_to_id"] is None
    with pytest.raises(PermissionDenied):
        links.set_reports_to(contacts, load_actor(contacts, "repb"), 2, None, 1)


def test_deal_contact_role_and_stance(contacts):
    rep_a = load_actor(contacts, "repa")
    row = links.set_deal_contact(contacts, rep_a, 2, 3, 1, role="decision_maker", stance="neutral", note="+1 call")
    assert (row["role"], row["stance"], row["note"], row["version"]) == ("decision_maker", "neutral", "+1 call", 2)
    stored = contacts.one("SELECT role, stance, version FROM opportunity_contacts WHERE opportunity_id = 2 "
                          "AND contact_id = 3")
    assert stored == {"role": "decision_maker", "stance": "neutral", "version": 2}
    entry = _audit(contacts, "opportunity_contact")[-1]
    assert json.loads(entry["before"]) == {"contact_id": 3, "role": "champion", "stance": "supporter", "note": None}
    with pytest.raises(StaleEditError) as exc:
        links.set_deal_contact(contacts, rep_a, 2, 3, 1, role="user")
    assert exc.value.current["role"] == "decision_maker"
    with pytest.raises(ValidationError, match="role 'boss' is not known"):
        links.set_deal_contact(contacts, rep_a, 2, 3, 2, role="boss")
    with pytest.raises(ValidationError, match="stance 'angry' is not known"):
        links.set_deal_contact(contacts, rep_a, 2, 3, 2, stance="angry")
    with pytest.raises(PermissionDenied):
        links.set_deal_contact(contacts, load_actor(contacts, "repb"), 2, 3, 2, role="user")
    with pytest.raises(NotFound, match="Contact 1 is not on opportunity 2"):
        links.set_deal_contact(contacts, rep_a, 2, 1, 1, role="user")
    # nothing changes: no new version, no audit entry
    n = len(_audit(contacts, "opportunity_contact"))
    assert links.set_deal_contact(contacts, rep_a, 2, 3, 2, role="decision_maker")["version"] == 2
    assert len(_audit(contacts, "opportunity_contact")) == n


def test_add_and_remove_deal_contact(contacts):
    rep_a = load_actor(contacts, "repa")
    row = links.add_deal_contact(contacts, rep_a, 2, 1, "decision_maker", "supporter")
    assert row["version"] == 1
    with pytest.raises(DuplicateError, match="already on opportunity 2"):
        links.add_deal_contact(contacts, rep_a, 2, 1, "user")
    with pytest.raises(ValidationError, match="works for account 3, not for the deal's account 1"):
        links.add_deal_contact(contacts, rep_a, 2, 7, "user")
    with pytest.raises(StaleEditError):
        links.remove_deal_contact(contacts, rep_a, 2, 1, 5)
    links.remove_deal_contact(contacts, rep_a, 2, 1, 1)
    assert _count(contacts, "SELECT count(*) FROM opportunity_contacts WHERE opportunity_id = 2") == 2
    assert [e["action"] for e in _audit(contacts, "opportunity_contact")] == ["create", "delete"]
