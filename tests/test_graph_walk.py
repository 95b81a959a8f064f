"""The group walk, the edges drawn and the loop warnings against an independent computation.

`crm_core.graph` walks an in-memory adjacency with polars. The reference here
is the earlier all-SQL computation (a recursive `USING KEY` query over the
accounts and links tables, the edges and the superior-unit loops each in SQL):
both must give the same accounts, depths, paths, relations, totals, edges,
notes and warnings, for every actor, depth, family and cap tried, on the demo
data and on hand-made bad data (cycles, self-parents, merged accounts, links
to accounts that do not exist).
"""

from __future__ import annotations

import polars as pl
import pytest

from crm_core import graph, links
from crm_core.access import Actor, load_actor, owner_scope
from tests.test_graph import make_small

ADMIN = Actor.system()

_NEIGHBOURS = """
    SELECT a.id AS dst, 'subsidiary_of' AS rel FROM accounts a
    WHERE a.parent_id = w.id AND $hier AND a.merged_into_id IS NULL
    UNION ALL
    SELECT a.parent_id, 'parent_of' FROM accounts a
    WHERE a.id = w.id AND a.parent_id IS NOT NULL AND $hier
    UNION ALL
    SELECT l.from_account_id, l.kind FROM account_links l
    WHERE l.to_account_id = w.id AND list_contains($kinds::VARCHAR[], l.kind)
    UNION ALL
    SELECT l.to_account_id, CASE l.kind WHEN 'subsidiary_of' THEN 'parent_of' WHEN 'supplier_of' THEN 'customer_of'
                                        WHEN 'customer_of' THEN 'supplier_of' ELSE l.kind END
    FROM account_links l
    WHERE l.from_account_id = w.id AND list_contains($kinds::VARCHAR[], l.kind)"""


def _sql_walk(db, root: int, depth: int, kinds: list[str], cap: int) -> pl.DataFrame:
    return db.query(
        f"""
        WITH RECURSIVE walk(id, depth, path, rels) USING KEY (id) AS (
            SELECT $root::BIGINT, 0, [$root::BIGINT], []::VARCHAR[]
            UNION
            SELECT s.dst, min(w.depth) + 1,
                   arg_min(list_append(w.path, s.dst), (w.path, s.rel)),
                   arg_min(list_append(w.rels, s.rel), (w.path, s.rel))
            FROM walk w JOIN LATERAL ({_NEIGHBOURS}) s ON TRUE
            WHERE w.depth < $depth AND s.dst NOT IN (SELECT id FROM recurring.walk)
            GROUP BY s.dst
        )
        SELECT id, depth, path, rels, rels[-1] AS relation, path[-2] AS via_id, count(*) OVER () AS total
        FROM walk
        QUALIFY row_number() OVER (ORDER BY depth, id) <= $cap
        ORDER BY depth, id
        """,
        {"root": root, "depth": depth, "kinds": kinds, "cap": cap, "hier": "subsidiary_of" in kinds},
    )


def _sql_edges(db, actor, ids: list[int], kinds: list[str]) -> pl.DataFrame:
    from_cond, from_params = owner_scope(actor, "fa.owner_id", include_pool=True)
    to_cond, to_params = owner_scope(actor, "ta.owner_id", include_pool=True)
    params: dict = {"ids": ids, "kinds": kinds}
    from_cond = graph._named(from_cond, from_params, "f", params)
    to_cond = graph._named(to_cond, to_params, "t", params)
    return db.query(
        f"""
        WITH g AS MATERIALIZED (SELECT unnest($ids::BIGINT[]) AS id)
        SELECT a.id AS from_id, a.parent_id AS to_id, 'subsidiary_of' AS kind, 'parent' AS source,
               NULL::BIGINT AS link_id, NULL::VARCHAR AS note
        FROM accounts a JOIN g ON g.id = a.id JOIN g gp ON gp.id = a.parent_id
        WHERE a.parent_id <> a.id AND 'subsidiary_of' IN (SELECT unnest($kinds))
        UNION ALL
        SELECT l.from_account_id, l.to_account_id, l.kind, 'link', l.id,
               CASE WHEN ({from_cond}) OR ({to_cond}) THEN l.note END
        FROM account_links l
        JOIN g gf ON gf.id = l.from_account_id JOIN g gt ON gt.id = l.to_account_id
        JOIN accounts fa ON fa.id = l.from_account_id JOIN accounts ta ON ta.id = l.to_account_id
        WHERE l.kind IN (SELECT unnest($kinds))
        ORDER BY from_id, to_id, kind, source, link_id
        """,
        params,
    )


def _sql_loops(db, ids: list[int]) -> list[list[int]]:
    return [r[0] for r in db.rows(
        """
        WITH RECURSIVE up(start, cur, path) AS (
            SELECT id, parent_id, [id] FROM accounts
            WHERE id IN (SELECT unnest(?::BIGINT[])) AND parent_id IS NOT NULL
            UNION ALL
            SELECT up.start, a.parent_id, list_append(up.path, up.cur)
            FROM up JOIN accounts a ON a.id = up.cur
            WHERE a.parent_id IS NOT NULL AND NOT list_contains(up.path, up.cur) AND len(up.path) < 200
        )
        SELECT DISTINCT list_sort(path[list_position(path, cur):]) AS loop
        FROM up WHERE list_contains(path, cur)
        ORDER BY 1
        """,
        [ids],
    )]


def _check(db, actor, root: int, depth: int, families=None, cap: int = graph.DEFAULT_CAP) -> graph.AccountGroup:
    """account_group against the SQL reference; returns the group."""
    kinds = graph._families_to_kinds(families)
    g = graph.account_group(db, actor, root, depth=depth, families=families, cap=cap)
    ref = _sql_walk(db, root, depth, kinds, cap)
    shown = ref.filter(pl.col("id").is_in(g.nodes["id"].implode()))
    merged_or_missing = ref.height - shown.height
    # the accounts, in order, with the same depth, path and relations as the recursive SQL
    walk_cols = ["id", "depth", "path", "rels", "relation", "via_id"]
    assert g.nodes.select(walk_cols).equals(shown.select(walk_cols)), (root, depth, families, cap)
    # nothing left out but merged-away or missing accounts
    assert set(ref["id"]) - set(g.nodes["id"]) == set(ref.filter(~pl.col("id").is_in(g.nodes["id"].implode()))["id"])
    assert db.scalar("SELECT count(*) FROM accounts WHERE merged_into_id IS NULL AND id IN "
                     "(SELECT unnest(?::BIGINT[]))", [ref["id"].to_list()]) == g.nodes.height
    assert g.total == (int(ref["total"][0]) if ref.height else 0) - merged_or_missing
    assert g.left_out == max(0, g.total - g.nodes.height)
    ids = g.nodes["id"].to_list()
    want_edges = _sql_edges(db, actor, ids, kinds)
    assert g.edges.schema == want_edges.schema
    assert g.edges.equals(want_edges), (root, depth, families)
    loops = _sql_loops(db, ids)
    assert len(g.warnings) == len(loops)
    for loop, text in zip(loops, g.warnings):
        assert all(f"{i} (" in text for i in loop)
    return g


@pytest.mark.parametrize("login", ["admin", "manager1", "rep2"])
def test_demo_groups_match_the_sql_walk(demo_db, login):
    actor = load_actor(demo_db, login)
    roots = [r[0] for r in demo_db.rows(
        "SELECT id FROM accounts WHERE merged_into_id IS NULL AND (parent_id IS NOT NULL OR id IN "
        "(SELECT from_account_id FROM account_links)) ORDER BY id LIMIT 6")]
    assert roots
    # the walk is the same for everyone; what an actor sees of it (edges' notes) is checked for each
    for root in roots if login == "admin" else roots[:2]:
        for depth in (0, 2, 6) if login == "admin" else (3,):
            _check(demo_db, actor, root, depth)
        if login == "admin":
            _check(demo_db, actor, root, 4, families=["hierarchy"])
            _check(demo_db, actor, root, 4, families=["supply", "partner"])
            _check(demo_db, actor, root, 10, cap=5)


@pytest.fixture
def bad(db):
    """The hand-made group plus: account 5 merged into 10 (links still point at it), a link to an
    account that does not exist (99), a subsidiary of the merged account, and a 3-account loop."""
    make_small(db)
    db.execute("UPDATE accounts SET merged_into_id = 10 WHERE id = 5")
    db.execute("INSERT INTO accounts (id, name, normalized_name, owner_id, parent_id) VALUES "
               "(11, 'Acct 11', 'acct 11', 10, 5), (12, 'Acct 12', 'acct 12', 11, 13), "
               "(13, 'Acct 13', 'acct 13', 11, 14), (14, 'Acct 14', 'acct 14', NULL, 12)")
    db.execute("INSERT INTO account_links (from_account_id, to_account_id, kind, note) VALUES "
               "(99, 1, 'partner_of', 'ghost'), (12, 6, 'supplier_of', 'loop side'), (4, 1, 'partner_of', NULL)")
    return db


@pytest.mark.parametrize("login", ["admin", "repa", "repb"])
def test_bad_data_matches_the_sql_walk(bad, login):
    actor = ADMIN if login == "admin" else load_actor(bad, login)
    if login == "admin":
        for root in (1, 4, 7, 11, 12):
            for depth in (0, 1, 2, 10):
                _check(bad, actor, root, depth)
            for cap in (1, 4):
                _check(bad, actor, root, 10, cap=cap)
            # (a family named twice must not count as another one)
            for fams in (["hierarchy"], ["supply"], ["partner", "competitor"], [],
                         ["hierarchy", "hierarchy", "supply", "partner"]):
                _check(bad, actor, root, 10, families=fams)
    _check(bad, actor, 12, 2)
    g = _check(bad, actor, 1, 10)
    assert 5 not in set(g.nodes["id"]) and 99 not in set(g.nodes["id"])   # merged / missing: not shown
    assert 11 in set(g.nodes["id"])   # reached through the merged account's subsidiary line
    assert any("12 (Acct 12), 13 (Acct 13), 14 (Acct 14)" in w for w in g.warnings)


def test_a_new_link_shows_at_once(bad):
    """The adjacency is kept per data version: a committed write is seen by the next walk."""
    before = set(graph.account_group(bad, ADMIN, 10, depth=1).nodes["id"])
    assert before == {10}
    links.add_link(bad, ADMIN, 10, 2, "partner_of")
    assert set(graph.account_group(bad, ADMIN, 10, depth=1).nodes["id"]) == {10, 2}
    version = bad.scalar("SELECT version FROM accounts WHERE id = 10")
    links.set_parent(bad, ADMIN, 10, 3, version)
    assert set(graph.account_group(bad, ADMIN, 10, depth=1).nodes["id"]) == {10, 2, 3}
    _check(bad, ADMIN, 10, 3)


def test_a_walk_inside_a_rolled_back_transaction_is_not_kept(bad):
    """Reads inside an open transaction see its rows; after a rollback the next walk must not."""
    assert set(graph.account_group(bad, ADMIN, 10, depth=1).nodes["id"]) == {10}

    class Undo(Exception):
        pass

    with pytest.raises(Undo):
        with bad.atomic() as cur:
            cur.execute("INSERT INTO account_links (from_account_id, to_account_id, kind) VALUES (10, 2, 'partner_of')")
            assert set(graph.account_group(bad, ADMIN, 10, depth=1).nodes["id"]) == {10, 2}
            raise Undo
    assert set(graph.account_group(bad, ADMIN, 10, depth=1).nodes["id"]) == {10}
