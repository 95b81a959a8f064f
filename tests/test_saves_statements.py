"""A save runs a fixed, small number of statements, whatever it carries.

At 1M deals each statement of a save costs about 1 ms of its 20 ms budget
(docs/bench.md), so the deal form's contacts and team are one read and one
multi-row insert each, and the change listeners add a single dirty mark.
"""

from __future__ import annotations

import pytest

from crm_core import accounts, contacts, hooks, opportunities
from crm_core.errors import ValidationError
from tests.test_accounts_seed import NOW, actor, fresh

hooks.load_listeners()


class _Counting:
    """The connection, with every statement run on its cursors recorded."""

    def __init__(self, con, log):
        self._con, self._log = con, log

    def __getattr__(self, name):
        return getattr(self._con, name)

    def cursor(self):
        return _CountingCursor(self._con.cursor(), self._log)


class _CountingCursor:
    def __init__(self, cur, log):
        self._cur, self._log = cur, log

    def __getattr__(self, name):
        return getattr(self._cur, name)

    def execute(self, sql, *args):
        self._log.append(" ".join(sql.split()))
        return self._cur.execute(sql, *args)


@pytest.fixture
def world(tmp_path):
    db = fresh(tmp_path)
    ann = actor(db, "ann")
    aid = accounts.create(db, ann, name="Acme", region="East", now=NOW)
    people = [contacts.create(db, ann, account_id=aid, name=n) for n in ("Dana", "Eli", "Fay")]
    other = accounts.create(db, ann, name="Beta", region="East", now=NOW)
    stranger = contacts.create(db, ann, account_id=other, name="Gus")
    log: list[str] = []
    db._con = _Counting(db._con, log)
    yield db, ann, aid, people, stranger, log
    db.close()


def _writes(log: list[str]) -> list[str]:
    return [s.split(" (")[0] for s in log if s.startswith(("INSERT", "UPDATE", "DELETE"))]


def test_a_deal_with_people_and_a_team_is_one_insert_each(world):
    db, ann, aid, (dana, eli, fay), _, log = world
    oid = opportunities.create(db, ann, name="Big deal", stage_id=1, amount=100, expected_close="2026-09-30",
                               account_id=aid, product_id=1, contacts=[(dana, "champion"), (eli, "user"), (fay, "blocker"),
                                                         (dana, "user")],
                               team=[(4, "support"), (ann.id, "owner"), (4, "again")], now=NOW)
    saved = list(log)
    assert db.rows("SELECT contact_id, role FROM opportunity_contacts WHERE opportunity_id = ? ORDER BY 1",
                   [oid]) == [(dana, "champion"), (eli, "user"), (fay, "blocker")]  # the first role given wins
    assert db.rows("SELECT user_id, role FROM opportunity_team WHERE opportunity_id = ?", [oid]) == [(4, "support")]
    assert _writes(saved) == ['INSERT INTO "opportunities"', "INSERT INTO stage_history",
                            'INSERT INTO "opportunity_contacts"', 'INSERT INTO "opportunity_team"',
                            "UPDATE accounts SET lifecycle = 'prospect' WHERE id = ?", "INSERT INTO audit_log",
                            "INSERT INTO plan_facts_and_value_dirty VALUES"]
    # the account with the stage, the owner's department and the product; the contacts; the team
    assert sum(s.startswith("SELECT") for s in saved) == 3
    assert db.scalar("SELECT product_id FROM opportunities WHERE id = ?", [oid]) == 1


@pytest.mark.parametrize("people,team,pattern", [
    (lambda p, s: [(p[0], "champion"), (s, "user")], [], "Contact .* is not a contact of this deal's account"),
    (lambda p, s: [(p[0], "champion"), ("x", "user")], [], "Contact x is not a contact"),
    (lambda p, s: [(s, "boss")], [], "Decision role must be one of"),  # the first problem in the order given
    (lambda p, s: [(p[0], "champion")], [(4, None), (999, None)], "User 999 is not an active sales user"),
    (lambda p, s: [], [(1, None)], "User 1 is not an active sales user"),  # the admin is no sales user
])
def test_a_bad_person_refuses_the_whole_deal(world, people, team, pattern):
    db, ann, aid, found, stranger, _ = world
    with pytest.raises(ValidationError, match=pattern):
        opportunities.create(db, ann, name="Refused", stage_id=1, amount=1, expected_close="2026-09-30",
                             account_id=aid, contacts=people(found, stranger), team=team, now=NOW)
    assert db.scalar("SELECT count(*) FROM opportunities") == 0
    assert db.scalar("SELECT count(*) FROM opportunity_contacts") == 0
    assert db.scalar("SELECT count(*) FROM opportunity_team") == 0


@pytest.mark.parametrize("product", [999, "x"])
def test_an_unknown_product_refuses_the_deal(world, product):
    db, ann, aid, _, _, _ = world
    with pytest.raises(ValidationError, match=f"Product {product} does not exist"):
        opportunities.create(db, ann, name="Refused", stage_id=1, amount=1, expected_close="2026-09-30",
                             account_id=aid, product_id=product, now=NOW)
    assert db.scalar("SELECT count(*) FROM opportunities") == 0


def test_a_stage_move_writes_five_statements(world):
    db, ann, aid, _, _, log = world
    oid = opportunities.create(db, ann, name="Deal", stage_id=1, amount=1, expected_close="2026-09-30",
                               account_id=aid, now=NOW)
    log.clear()
    opportunities.update(db, ann, oid, 1, {"stage_id": 2}, now=NOW)
    assert log[0] == "BEGIN TRANSACTION" and log[-1] == "COMMIT"
    assert [s.split(" (")[0].split(" SET")[0] for s in log[1:-1]] == [
        log[1].split(" (")[0].split(" SET")[0],  # the deal with the stage, in one read
        "INSERT INTO stage_history", 'UPDATE "opportunities"', "INSERT INTO audit_log",
        "INSERT INTO plan_facts_and_value_dirty VALUES"]
    assert log[1].startswith("SELECT") and "LEFT JOIN stages" in log[1]
    assert log[3].endswith("WHERE id = ?")  # by id alone: DuckDB's index lookup


@pytest.mark.parametrize("product", [999, "x"])
def test_an_edit_to_an_unknown_product_is_refused_and_changes_nothing(world, product):
    db, ann, aid, _, _, log = world
    oid = opportunities.create(db, ann, name="Deal", stage_id=1, amount=1, expected_close="2026-09-30",
                               account_id=aid, now=NOW)
    pid = db.scalar("INSERT INTO products (id, name) SELECT coalesce(max(id), 0) + 1, 'Edit test product' FROM products "
                    "RETURNING id")
    with pytest.raises(ValidationError, match=f"Product {product} does not exist"):
        opportunities.update(db, ann, oid, 1, {"product_id": product, "amount": 5}, now=NOW)
    assert db.rows("SELECT product_id, amount, version FROM opportunities WHERE id = ?", [oid]) == [(None, 1, 1)]
    log.clear()
    after = opportunities.update(db, ann, oid, 1, {"product_id": pid}, now=NOW)
    assert after["product_id"] == pid and after["version"] == 2
    assert sum(s.startswith("SELECT") for s in log) == 1   # the product is checked in the deal's own read
