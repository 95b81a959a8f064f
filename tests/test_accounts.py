"""Accounts: first-in ownership with normalised keys, edits, and manager merges."""

from __future__ import annotations

from datetime import datetime

import pytest

from crm_core import accounts, activities, contacts, opportunities
from crm_core.errors import DuplicateError, PermissionDenied, StaleEditError, ValidationError
from crm_core.names import normalize_company_name
from tests.test_accounts_seed import NOW, actor, fresh


@pytest.fixture
def team(tmp_path):
    db = fresh(tmp_path)
    yield db
    db.close()


# Hand-checked normalisation pairs: each pair is the same company.
SAME = [
    ("Acme Widgets Co., Ltd.", "ACME  widgets"),
    ("ＡＣＭＥ Ｗｉｄｇｅｔｓ Ltd", "acme widgets"),          # full-width letters fold to half-width
    ("华东精密机械有限公司", "华东精密机械"),                    # 有限公司 dropped
    ("华东精密机械股份有限公司", "华东精密机械（有限公司）"),
    ("Blue-River Inc.", "blue river incorporated"),
    ("The Atlas Group", "Atlas"),
]
DIFFERENT = [("Acme Widgets", "Acme Gadgets"), ("华东精密机械", "华南精密机械")]


@pytest.mark.parametrize("a,b", SAME)
def test_normalisation_pairs_match(a, b):
    assert normalize_company_name(a) == normalize_company_name(b)


@pytest.mark.parametrize("a,b", DIFFERENT)
def test_different_companies_stay_apart(a, b):
    assert normalize_company_name(a) != normalize_company_name(b)


def test_first_in_owner_keeps_the_account(team):
    ann, bob = actor(team, "ann"), actor(team, "bob")
    aid = accounts.create(team, ann, name="Acme Widgets Co., Ltd.", now=datetime(2026, 5, 1, 9))
    with pytest.raises(DuplicateError) as exc:
        accounts.create(team, bob, name="ＡＣＭＥ widgets 有限公司", now=NOW)
    msg = str(exc.value)
    assert "Ann Rep" in msg and "2026-05-01" in msg and f"id {aid}" in msg
    assert team.scalar("SELECT count(*) FROM accounts") == 1


@pytest.mark.parametrize("field,first,second", [
    ("tax_id", "91-3100 00AB", "913100 00ab"),
    ("phone", "+86 21 5555-1234", "0086 (21) 55551234"),
    ("phone", "８６２１５５５５１２３４", "86-21-5555-1234"),   # full-width digits
])
def test_tax_id_and_phone_match_after_normalising(team, field, first, second):
    ann, cat = actor(team, "ann"), actor(team, "cat")
    accounts.create(team, ann, name="First Co", now=NOW, **{field: first})
    with pytest.raises(DuplicateError, match="same " + field.replace("_", " ")):
        accounts.create(team, cat, name="Second Co", now=NOW, **{field: second})


def test_short_phone_numbers_do_not_decide_ownership(team):
    ann, bob = actor(team, "ann"), actor(team, "bob")
    accounts.create(team, ann, name="First Co", phone="110", now=NOW)
    accounts.create(team, bob, name="Second Co", phone="110", now=NOW)


def test_rows_written_elsewhere_match_by_sql_normalisation(team):
    # An imported row without tax_key/phone_key still blocks a duplicate.
    team.execute("INSERT INTO accounts (name, normalized_name, tax_id, phone, owner_id, created_at) "
                 "VALUES ('Imported', 'imported', 'ab-12 34', '+86 10 8888 7777', 4, '2026-01-02')")
    with pytest.raises(DuplicateError, match="Bob Rep since 2026-01-02"):
        accounts.create(team, actor(team, "ann"), name="Other", tax_id="AB1234", now=NOW)
    with pytest.raises(DuplicateError, match="same phone"):
        accounts.create(team, actor(team, "ann"), name="Other", phone="0086 10 88887777", now=NOW)


def test_pool_duplicate_says_claim_it(team):
    boss = actor(team, "boss1")
    accounts.create(team, boss, name="Pooled Ltd", owner_id=None, now=NOW)
    with pytest.raises(DuplicateError, match="public pool"):
        accounts.create(team, actor(team, "ann"), name="pooled", now=NOW)


def test_bad_input_changes_nothing(team):
    ann = actor(team, "ann")
    for kwargs, pattern in [({"name": "  "}, "needs a name"), ({"name": "..."}, "legal suffix"),
                            ({"name": "X", "employees": "many"}, "whole number"),
                            ({"name": "X", "parent_id": 999}, "Parent account 999")]:
        with pytest.raises(ValidationError, match=pattern):
            accounts.create(team, ann, now=NOW, **kwargs)
    assert team.scalar("SELECT count(*) FROM accounts") == 0
    assert team.scalar("SELECT count(*) FROM audit_log") == 0


def test_rep_cannot_create_for_others_or_into_pool(team):
    ann = actor(team, "ann")
    with pytest.raises(PermissionDenied):
        accounts.create(team, ann, name="X", owner_id=5, now=NOW)
    with pytest.raises(PermissionDenied):
        accounts.create(team, ann, name="X", owner_id=None, now=NOW)


def test_update_is_versioned_and_rechecks_duplicates(team):
    ann = actor(team, "ann")
    a1 = accounts.create(team, ann, name="Alpha", now=NOW)
    accounts.create(team, ann, name="Beta", now=NOW)
    after = accounts.update(team, ann, a1, 1, {"industry": "Retail"}, now=NOW)
    assert after["version"] == 2
    with pytest.raises(StaleEditError) as exc:
        accounts.update(team, ann, a1, 1, {"industry": "Energy"}, now=NOW)
    assert exc.value.current["industry"] == "Retail"
    with pytest.raises(DuplicateError):
        accounts.update(team, ann, a1, 2, {"name": "BETA Inc."}, now=NOW)
    # a parent loop is refused
    child = accounts.create(team, ann, name="Alpha East", parent_id=a1, now=NOW)
    with pytest.raises(ValidationError, match="cannot be its parent"):
        accounts.update(team, ann, a1, 2, {"parent_id": child}, now=NOW)


def test_rep_sees_only_own_accounts(team):
    ann, cat = actor(team, "ann"), actor(team, "cat")
    accounts.create(team, ann, name="Ann's", now=NOW)
    accounts.create(team, cat, name="Cat's", now=NOW)
    assert accounts.list_accounts(team, ann)["name"].to_list() == ["Ann's"]
    assert accounts.list_accounts(team, actor(team, "boss2"))["name"].to_list() == ["Cat's"]


def test_merge_moves_everything_to_the_survivor(team):
    boss, ann, bob = actor(team, "boss1"), actor(team, "ann"), actor(team, "bob")
    keep = accounts.create(team, ann, name="Keep Co", now=NOW)
    # The duplicate was entered under a different spelling the check did not catch.
    dup = accounts.create(team, bob, name="Kept Company Old Name", now=NOW)
    child = accounts.create(team, bob, name="Dup Subsidiary", parent_id=dup, now=NOW)
    c = contacts.create(team, bob, account_id=dup, name="Zed")
    o = opportunities.create(team, bob, name="Deal", stage_id=1, amount=10, expected_close="2026-07-30",
                             account_id=dup, now=NOW)
    activities.log(team, bob, kind="call", subject="hi", account_id=dup, now=NOW)
    team.execute("INSERT INTO orders (account_id, order_date, amount) VALUES (?, '2026-06-01', 5)", [dup])
    team.execute("INSERT INTO contracts (account_id, signed_date, amount) VALUES (?, '2026-06-01', 5)", [dup])
    with pytest.raises(PermissionDenied):
        accounts.merge(team, ann, keep, [dup])
    moved = accounts.merge(team, boss, keep, [dup], now=NOW)
    assert moved["contacts.account_id"] == 1 and moved["opportunities.account_id"] == 1
    assert moved["activities.account_id"] == 1 and moved["orders.account_id"] == 1
    assert moved["contracts.account_id"] == 1 and moved["accounts.parent_id"] == 1
    assert team.scalar("SELECT account_id FROM contacts WHERE id = ?", [c]) == keep
    assert team.scalar("SELECT account_id FROM opportunities WHERE id = ?", [o]) == keep
    assert team.scalar("SELECT parent_id FROM accounts WHERE id = ?", [child]) == keep
    assert team.scalar("SELECT merged_into_id FROM accounts WHERE id = ?", [dup]) == keep
    entry = team.one("SELECT * FROM audit_log WHERE action = 'merge'")
    assert entry["entity_id"] == keep and "Kept Company Old Name" in entry["before"]
    # the merged-away name no longer blocks anyone, and drops out of lists
    assert "Kept Company Old Name" not in accounts.list_accounts(team, boss)["name"].to_list()


def test_merge_survivor_below_the_duplicate_moves_up(team):
    boss = actor(team, "boss1")
    top = accounts.create(team, boss, name="Top Holding", now=NOW)
    dup = accounts.create(team, boss, name="Middle", parent_id=top, now=NOW)
    keep = accounts.create(team, boss, name="Bottom", parent_id=dup, now=NOW)
    accounts.merge(team, boss, keep, [dup], now=NOW)
    assert team.scalar("SELECT parent_id FROM accounts WHERE id = ?", [keep]) == top


def test_duplicate_candidates_find_pairs(team):
    boss = actor(team, "boss1")
    team.execute("INSERT INTO accounts (name, normalized_name, phone, owner_id) VALUES "
                 "('A', 'a', '021 5555 0000', 3), ('B', 'b', '02155550000', 4), ('C', 'c', NULL, 4)")
    pairs = accounts.duplicate_candidates(team, boss)
    assert pairs.select("first_name", "second_name", "matched_on").rows() == [("A", "B", "phone")]


def test_contacts_reports_to_same_account_and_no_loops(team):
    from crm_core import contacts

    ann = actor(team, "ann")
    a1 = accounts.create(team, ann, name="One", now=NOW)
    a2 = accounts.create(team, ann, name="Two", now=NOW)
    boss = contacts.create(team, ann, account_id=a1, name="Boss")
    mid = contacts.create(team, ann, account_id=a1, name="Mid", reports_to_id=boss)
    other = contacts.create(team, ann, account_id=a2, name="Elsewhere")
    with pytest.raises(ValidationError, match="another account"):
        contacts.create(team, ann, account_id=a1, name="X", reports_to_id=other)
    with pytest.raises(ValidationError, match="already reports"):
        contacts.update(team, ann, boss, 1, {"reports_to_id": mid})
    with pytest.raises(ValidationError, match="1 to 5"):
        contacts.create(team, ann, account_id=a1, name="X", influence=9)
    assert contacts.list_for_account(team, ann, a1)["reports_to"].to_list() == [None, "Boss"]


def test_fill_match_keys_for_rows_written_elsewhere(team):
    team.execute("INSERT INTO accounts (name, normalized_name, tax_id, phone) VALUES "
                 "('I', 'i', 'ab-12 34', '+86 10 8888 7777'), ('J', 'j', NULL, '110')")
    assert accounts.fill_match_keys(team) == 2
    assert team.rows("SELECT tax_key, phone_key FROM accounts ORDER BY name") == [
        ("AB1234", "861088887777"), (None, None)]
