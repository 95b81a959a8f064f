"""Account groups, contact org charts and decision trees (crm_core.graph).

The hand-made data set (see `small`) has a known answer for every figure; the
demo database checks the walk against an independent breadth-first search in
Python over the same relations, and won amounts against a plain SQL sum.
"""

from __future__ import annotations

from collections import deque

import polars as pl
import pytest

from crm_core import graph
from crm_core.access import Actor, load_actor
from crm_core.errors import NotFound, ValidationError

ADMIN = Actor.system()


def _ins(db, table: str, rows: list[dict]) -> None:
    db.insert_df(table, pl.DataFrame(rows, infer_schema_length=None))


@pytest.fixture
def small(db):
    return make_small(db)


def make_small(db):
    """Accounts 1..10 with a known shape.

    1 root (rep A)      2 subsidiary of 1 (A)      3 subsidiary of 2 (rep B)
    4 supplier of 1 (B) 5 competitor of 4 (pool)   6 customer of 1 (A), 3 partner of 6
    7 partner of 5, and 7/8 each other's parent (bad data)
    9 its own parent (bad data), competitor of 1   10 unrelated
    """
    _ins(db, "users", [
        {"id": 1, "login": "admin", "display_name": "Admin", "role": "admin"},
        {"id": 10, "login": "repa", "display_name": "Rep A", "role": "rep", "department_id": 1},
        {"id": 11, "login": "repb", "display_name": "Rep B", "role": "rep", "department_id": 1},
        {"id": 12, "login": "ana", "display_name": "Ana Lyst", "role": "analyst"},
    ])
    owners = {1: 10, 2: 10, 3: 11, 4: 11, 5: None, 6: 10, 7: 11, 8: 11, 9: 11, 10: 10}
    parents = {2: 1, 3: 2, 7: 8, 8: 7, 9: 9}
    _ins(db, "accounts", [
        {"id": i, "name": f"Acct {i}", "normalized_name": f"acct {i}", "owner_id": owners[i],
         "parent_id": parents.get(i), "annual_revenue": 1000 * i, "lifecycle": "customer"}
        for i in range(1, 11)
    ])
    _ins(db, "account_links", [  # ids 1..6 from the sequence, in this order
        {"from_account_id": 4, "to_account_id": 1, "kind": "supplier_of", "note": "main supplier"},
        {"from_account_id": 5, "to_account_id": 4, "kind": "competitor_of"},
        {"from_account_id": 6, "to_account_id": 1, "kind": "customer_of"},
        {"from_account_id": 3, "to_account_id": 6, "kind": "partner_of", "note": "=cmd|evil"},
        {"from_account_id": 7, "to_account_id": 5, "kind": "partner_of"},
        {"from_account_id": 9, "to_account_id": 1, "kind": "competitor_of"},
    ])
    _ins(db, "stages", [{"id": 1, "name": "Open", "position": 1, "probability": 0.5, "is_won": False},
                        {"id": 2, "name": "Won", "position": 2, "probability": 1.0, "is_won": True}])
    _ins(db, "opportunities", [
        {"id": 1, "account_id": 1, "name": "A won", "owner_id": 10, "stage_id": 2, "amount": 500, "status": "won"},
        {"id": 2, "account_id": 1, "name": "A open", "owner_id": 10, "stage_id": 1, "amount": 200, "status": "open"},
        {"id": 3, "account_id": 1, "name": "A lost", "owner_id": 10, "stage_id": 1, "amount": 300, "status": "lost"},
        {"id": 4, "account_id": 1, "name": "B on A's", "owner_id": 11, "stage_id": 2, "amount": 50, "status": "won"},
        {"id": 5, "account_id": 3, "name": "B won", "owner_id": 11, "stage_id": 2, "amount": 1000, "status": "won"},
    ])
    return db


def _by_id(group: graph.AccountGroup) -> dict[int, dict]:
    return {r["id"]: r for r in group.nodes.to_dicts()}


def test_depths_paths_and_relations(small):
    g = graph.account_group(small, ADMIN, 1, depth=4)
    n = _by_id(g)
    assert set(n) == {1, 2, 3, 4, 5, 6, 7, 8, 9}  # 10 is unrelated
    assert {i: n[i]["depth"] for i in n} == {1: 0, 2: 1, 4: 1, 6: 1, 9: 1, 3: 2, 5: 2, 7: 3, 8: 4}
    # 3 is two steps away both through 2 (hierarchy) and through 6 (partner): the smaller path wins
    assert n[3]["path"] == [1, 2, 3] and n[3]["rels"] == ["subsidiary_of", "subsidiary_of"]
    assert n[4]["relation"] == "supplier_of"     # link 4 supplier_of 1, seen from 1
    assert n[6]["relation"] == "customer_of"
    assert n[5]["relation"] == "competitor_of" and n[5]["via_id"] == 4
    assert n[7]["path"] == [1, 4, 5, 7]
    assert n[1]["relation"] is None and n[1]["via_id"] is None
    assert g.total == 9 and g.left_out == 0


def test_inverse_relation_when_walking_the_other_way(small):
    g = graph.account_group(small, ADMIN, 4, depth=1)
    n = _by_id(g)
    assert n[1]["relation"] == "customer_of"   # 4 supplies 1, so from 4, account 1 is its customer
    assert n[5]["relation"] == "competitor_of"
    g2 = graph.account_group(small, ADMIN, 3, depth=1)
    assert _by_id(g2)[2]["relation"] == "parent_of"


@pytest.mark.parametrize("depth,expected", [
    (0, {1}), (1, {1, 2, 4, 6, 9}), (2, {1, 2, 3, 4, 5, 6, 9}), (3, {1, 2, 3, 4, 5, 6, 7, 9}),
    (4, {1, 2, 3, 4, 5, 6, 7, 8, 9}), (10, {1, 2, 3, 4, 5, 6, 7, 8, 9}),
])
def test_depth_limits(small, depth, expected):
    assert set(graph.account_group(small, ADMIN, 1, depth=depth).nodes["id"]) == expected


def test_families_narrow_the_walk(small):
    assert set(graph.account_group(small, ADMIN, 1, depth=5, families=["hierarchy"]).nodes["id"]) == {1, 2, 3}
    assert set(graph.account_group(small, ADMIN, 1, depth=5, families=["supply"]).nodes["id"]) == {1, 4, 6}
    with pytest.raises(ValidationError, match="Unknown relation family 'friends'"):
        graph.account_group(small, ADMIN, 1, families=["friends"])


def test_cycles_in_links_do_not_loop_and_all_edges_are_listed(small):
    g = graph.account_group(small, ADMIN, 1, depth=10)
    edges = {(r["from_id"], r["to_id"], r["kind"]) for r in g.edges.to_dicts()}
    # the partner link 3-6 closes a cycle 1-2-3-6-1; it is listed though the walk did not use it
    assert (3, 6, "partner_of") in edges
    assert (7, 8, "subsidiary_of") in edges and (8, 7, "subsidiary_of") in edges
    assert (9, 9, "subsidiary_of") not in edges  # a self-parent is reported, not drawn
    assert len(g.nodes) == g.nodes["id"].n_unique()


def test_own_grandparent_is_reported(small):
    g = graph.account_group(small, ADMIN, 1, depth=10)
    text = "\n".join(g.warnings)
    assert "Accounts 7 (Acct 7), 8 (Acct 8) are each other's superior units in a loop" in text
    assert "Account 9 (Acct 9) is recorded as its own superior unit" in text
    assert len(g.warnings) == 2
    # within depth 1 the 7/8 loop is not part of the group, so not reported
    assert len(graph.account_group(small, ADMIN, 1, depth=1).warnings) == 1


def test_cap_keeps_the_nearest_and_counts_the_rest(small):
    g = graph.account_group(small, ADMIN, 1, depth=10, cap=3)
    assert g.nodes["id"].to_list() == [1, 2, 4]   # depth 0, then depth 1 by id
    assert (g.total, g.left_out) == (9, 6)


def test_bad_arguments(small):
    with pytest.raises(ValidationError, match="Depth must be between 0 and 10; got 11"):
        graph.account_group(small, ADMIN, 1, depth=11)
    with pytest.raises(NotFound, match="Account 999 does not exist"):
        graph.account_group(small, ADMIN, 999)


def test_rep_sees_owner_of_other_units_but_not_their_figures(small):
    rep_a = load_actor(small, "repa")
    n = _by_id(graph.account_group(small, rep_a, 1, depth=2))
    # 3 belongs to rep B: name and owner shown, revenue and lifecycle hidden, B's won deal not counted
    assert n[3]["restricted"] and n[3]["owned_by_other"] and n[3]["owner"] == "Rep B"
    assert n[3]["annual_revenue"] is None and n[3]["lifecycle"] is None and n[3]["won_amount"] == 0
    # pool account 5 is public: not restricted, not someone else's
    assert not n[5]["restricted"] and not n[5]["owned_by_other"]
    # account 1: rep A's won deal 500 counts; B's won 50 on it does not; open 200 and lost 300 never count
    assert n[1]["won_amount"] == 500 and n[1]["won_deals"] == 1
    assert float(n[2]["annual_revenue"]) == 2000.0
    # the note of link 1 (4 supplier of 1) is visible: rep A may see account 1, one of its ends
    g = graph.account_group(small, rep_a, 4, depth=1)
    assert g.edges.filter(pl.col("link_id") == 1)["note"].to_list() == ["main supplier"]


def test_admin_and_analyst_see_every_figure(small):
    for actor in (ADMIN, load_actor(small, "ana")):
        n = _by_id(graph.account_group(small, actor, 1, depth=2))
        assert n[1]["won_amount"] == 550     # 500 (rep A) + 50 (rep B)
        assert n[3]["won_amount"] == 1000 and not n[3]["restricted"]


def test_find_accounts_respects_scope(small):
    rep_a = load_actor(small, "repa")
    assert set(graph.find_accounts(small, rep_a, "acct")["id"]) == {1, 2, 5, 6, 10}
    assert graph.find_accounts(small, rep_a, "3")["id"].to_list() == []
    assert graph.find_accounts(small, rep_a, "3", any_owner=True)["id"].to_list() == [3]
    # an exact id comes first, before names containing it
    assert graph.find_accounts(small, ADMIN, "1")["id"].to_list() == [1, 10]


@pytest.fixture
def contacts(small):
    return add_contacts(small)


def add_contacts(small):
    """Contacts of account 1: a chain 1 <- 2 <- 3, a loop 4 <-> 5, 6 reporting outside; 3 and 4 on deal 2."""
    _ins(small, "contacts", [
        {"id": 1, "account_id": 1, "name": "Chief", "title": "CEO", "influence": 5, "stance": "supporter"},
        {"id": 2, "account_id": 1, "name": "Mid", "reports_to_id": 1, "influence": 4, "stance": "neutral"},
        {"id": 3, "account_id": 1, "name": "Low", "reports_to_id": 2, "influence": 2, "stance": "opponent"},
        {"id": 4, "account_id": 1, "name": "Loop A", "reports_to_id": 5, "influence": 3},
        {"id": 5, "account_id": 1, "name": "Loop B", "reports_to_id": 4, "influence": 3},
        {"id": 6, "account_id": 1, "name": "Outside boss", "reports_to_id": 7, "influence": 1},
        {"id": 7, "account_id": 3, "name": "Elsewhere", "influence": 5},
    ])
    _ins(small, "opportunity_contacts", [
        {"opportunity_id": 2, "contact_id": 3, "role": "champion", "stance": "supporter"},
        {"opportunity_id": 2, "contact_id": 4, "role": "blocker", "stance": None},
    ])
    return small


def test_contact_chart_levels_and_loops(contacts):
    c = graph.contact_chart(contacts, ADMIN, 1)
    levels = dict(zip(c.nodes["id"].to_list(), c.nodes["level"].to_list()))
    assert levels == {1: 0, 2: 1, 3: 2, 6: 0, 4: 0, 5: 0}
    assert {(r["from_id"], r["to_id"]) for r in c.edges.to_dicts()} == {(2, 1), (3, 2), (4, 5), (5, 4)}
    assert c.warnings == ["Contacts 4 (Loop A), 5 (Loop B) report to each other in a loop (no one at the top); "
                          "correct the 'reports to' of one of them."]


def test_contact_chart_needs_a_visible_account(contacts):
    rep_b = load_actor(contacts, "repb")
    with pytest.raises(NotFound, match="Account 1 does not exist or belongs to another owner"):
        graph.contact_chart(contacts, rep_b, 1)


def test_decision_tree(contacts):
    tree = graph.decision_tree(contacts, ADMIN, 2)
    n = {r["id"]: r for r in tree.nodes.to_dicts()}
    # deal contacts 3 and 4, plus 3's bosses 2 and 1, plus 4's boss 5 (the loop stops there)
    assert set(n) == {1, 2, 3, 4, 5}
    assert n[3]["on_deal"] and n[3]["role"] == "champion" and n[3]["deal_stance"] == "supporter"
    assert n[4]["deal_stance"] == "unknown"  # no deal stance, the contact's own stance is NULL → shown unknown
    assert not n[1]["on_deal"] and n[1]["role"] is None
    assert {(r["from_id"], r["to_id"]) for r in tree.edges.to_dicts()} == {(3, 2), (2, 1), (4, 5), (5, 4)}
    assert tree.warnings  # the 4/5 loop


def test_decision_tree_of_another_reps_deal_is_not_found(contacts):
    with pytest.raises(NotFound, match="Opportunity 5 does not exist or belongs to another owner"):
        graph.decision_tree(contacts, load_actor(contacts, "repa"), 5)


def test_csv_is_formula_safe():
    df = pl.DataFrame({"name": ["=cmd|' /C calc'!A0", "+1", "-2", "@SUM(A1)", "\tx", "ok", None],
                       "n": [1, 2, -3, 4, 5, 6, 7]})
    lines = graph.to_csv(df).splitlines()
    assert lines[0] == "name,n"
    assert [ln.split(",")[0] for ln in lines[1:]] == ["'=cmd|' /C calc'!A0", "'+1", "'-2", "'@SUM(A1)", "'\tx",
                                                       "ok", ""]
    assert lines[3].endswith(",-3")  # numbers are left alone
    assert graph.to_csv(pl.DataFrame({"name": ["a\rb"]})) == 'name\n"a\rb"\n'  # a bare CR stays inside its cell


# -- against the demo data: an independent breadth-first search in Python ----------------------------

def _python_bfs(db, root: int, depth: int) -> dict[int, int]:
    adj: dict[int, set[int]] = {}
    for a, b in db.rows("SELECT id, parent_id FROM accounts WHERE parent_id IS NOT NULL AND merged_into_id IS NULL "
                        "UNION ALL SELECT from_account_id, to_account_id FROM account_links"):
        adj.setdefault(a, set()).add(b)
        adj.setdefault(b, set()).add(a)
    seen = {root: 0}
    queue = deque([root])
    while queue:
        cur = queue.popleft()
        if seen[cur] == depth:
            continue
        for nxt in adj.get(cur, ()):
            if nxt not in seen:
                seen[nxt] = seen[cur] + 1
                queue.append(nxt)
    return seen


@pytest.mark.parametrize("root,depth", [(3, 3), (10, 2), (40, 4), (77, 6)])
def test_group_matches_independent_bfs(demo_db, root, depth):
    g = graph.account_group(demo_db, ADMIN, root, depth=depth)
    assert dict(zip(g.nodes["id"].to_list(), g.nodes["depth"].to_list())) == _python_bfs(demo_db, root, depth)
    # each path is a chain of real relations starting at the root and ending at the account
    for r in g.nodes.to_dicts():
        assert r["path"][0] == root and r["path"][-1] == r["id"] and len(r["path"]) == r["depth"] + 1


def test_won_amounts_match_plain_sql(demo_db):
    rep = load_actor(demo_db, "rep2")
    start = demo_db.scalar("SELECT min(id) FROM accounts WHERE owner_id = ? AND parent_id IS NOT NULL", [rep.id])
    g = graph.account_group(demo_db, rep, start, depth=3)
    expect = dict(demo_db.rows(
        "SELECT account_id, sum(amount) FROM opportunities WHERE status = 'won' AND owner_id = ? "
        "AND account_id IN (SELECT unnest(?::BIGINT[])) GROUP BY 1", [rep.id, g.nodes["id"].to_list()]))
    got = {i: w for i, w in zip(g.nodes["id"].to_list(), g.nodes["won_amount"].to_list()) if w}
    assert got == expect
    hidden = g.nodes.filter(pl.col("restricted"))
    assert hidden["annual_revenue"].null_count() == hidden.height
