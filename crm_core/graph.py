"""Account groups and contact graphs: who is related to whom, found in SQL.

A customer group is every account reachable from a picked account through
parent/subsidiary lines (`accounts.parent_id` and `subsidiary_of` links) and
typed industry-chain links (supplier of, customer of, partner of, competitor
of), up to a chosen number of steps. The walk is a breadth-first search over
the account adjacency (every parent line and link as a directed step, a small
table: ~180k steps at 100k accounts), read once per data version and kept in
memory (`_adjacency`); each level joins only the frontier to it and skips
accounts already found, so cycles in the data cannot loop and the work grows
with the group, not with the number of accounts or of paths through it. Each
account keeps the shortest path that found it (ties broken by the smallest
path, then the relation's name, so results are repeatable). The same
adjacency gives the relations drawn between the group's accounts and the
superior-unit loops warned about.

What a user sees of a related account follows the row rules in `access.py`:
the name, industry, region and owner's name of every related unit (so a rep
learns that someone else already owns it), but its revenue, lifecycle, notes
and deal amounts only when the actor may see that account; won amounts count
only deals the actor may see.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from crm_core.access import Actor, owner_scope
from crm_core.db import Database
from crm_core.errors import NotFound, ValidationError

LINK_KINDS = ("subsidiary_of", "supplier_of", "customer_of", "partner_of", "competitor_of")
# How the walk labels a reached account relative to the one it was reached from.
RELATIONS = ("subsidiary_of", "parent_of", "supplier_of", "customer_of", "partner_of", "competitor_of")
# Families a user can choose to follow (the narrower view); stored link kinds per family.
FAMILIES = {
    "hierarchy": ("subsidiary_of",),
    "supply": ("supplier_of", "customer_of"),
    "partner": ("partner_of",),
    "competitor": ("competitor_of",),
}
DECISION_ROLES = ("decision_maker", "influencer", "evaluator", "champion", "blocker", "user")
STANCES = ("supporter", "neutral", "opponent", "unknown")
MAX_DEPTH = 10
DEFAULT_CAP = 2000
_CHAIN_MAX = 200  # superior units followed up from an account when looking for loops


@dataclass(frozen=True)
class AccountGroup:
    """An account's group: nodes (accounts), edges (relations) and what was left out."""

    root_id: int
    nodes: pl.DataFrame
    edges: pl.DataFrame
    total: int            # accounts found within the depth, before the cap
    left_out: int         # accounts found but not returned (beyond the cap)
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ContactGraph:
    """Contacts (nodes) and reports-to lines (edges) of an account or a deal."""

    nodes: pl.DataFrame
    edges: pl.DataFrame
    warnings: list[str] = field(default_factory=list)


def _families_to_kinds(families: tuple[str, ...] | list[str] | None) -> list[str]:
    if families is None:
        return list(LINK_KINDS)
    kinds: list[str] = []
    for fam in families:
        if fam not in FAMILIES:
            raise ValidationError(
                f"Unknown relation family {fam!r}; expected one of {', '.join(FAMILIES)}.", field="families",
                value=fam)
        kinds.extend(FAMILIES[fam])
    return kinds


# A link "A supplier_of B" means A supplies B: stepping from B reaches A as a
# supplier, stepping from A reaches B as a customer. parent_id counts as a
# subsidiary_of link (a merged-away account is not reached as a subsidiary,
# but its own parent line still counts, as do links to it).
_REVERSED = {"subsidiary_of": "parent_of", "supplier_of": "customer_of", "customer_of": "supplier_of"}
_STEP_SCHEMA = {"src": pl.Int64, "dst": pl.Int64, "rel": pl.Utf8, "kind": pl.Utf8}


@dataclass(frozen=True)
class _Adjacency:
    """Every relation between accounts, as read at one data version."""

    parents: pl.DataFrame   # id, parent_id: every account with a superior unit (merged ones too)
    links: pl.DataFrame     # link_id, from_id, to_id, kind, note
    steps: pl.DataFrame     # src, dst, rel, kind: each relation in both directions; `dst` is `rel` of `src`


# One adjacency per open database, for its current data version (which every committed write
# bumps): reading it costs ~10 ms at 100k accounts, a walk over it a few ms.
_ADJACENCY: weakref.WeakKeyDictionary[Database, tuple[int, _Adjacency]] = weakref.WeakKeyDictionary()
_ADJACENCY_LOCK = threading.Lock()


def _adjacency(db: Database) -> _Adjacency:
    """The adjacency as of `db.data_version` (read again after any committed write)."""
    version = db.data_version
    # inside an open transaction the reads see uncommitted rows that a rollback may undo: read, don't keep
    in_transaction = getattr(getattr(db, "_local", None), "tx", None) is not None
    with _ADJACENCY_LOCK:
        hit = None if in_transaction else _ADJACENCY.get(db)
    if hit is not None and hit[0] == version:
        return hit[1]
    parents = db.query("SELECT id, parent_id, merged_into_id IS NULL AS live FROM accounts "
                       "WHERE parent_id IS NOT NULL")
    links = db.query("SELECT id AS link_id, from_account_id AS from_id, to_account_id AS to_id, kind, note "
                     "FROM account_links")
    steps = pl.concat([
        parents.filter("live").select(src="parent_id", dst="id", rel=pl.lit("subsidiary_of"),
                                      kind=pl.lit("subsidiary_of")),
        parents.select(src="id", dst="parent_id", rel=pl.lit("parent_of"), kind=pl.lit("subsidiary_of")),
        links.select(src="to_id", dst="from_id", rel="kind", kind="kind"),
        links.select(src="from_id", dst="to_id", rel=pl.col("kind").replace(_REVERSED), kind="kind"),
    ]).cast(_STEP_SCHEMA)
    adj = _Adjacency(parents=parents.drop("live"), links=links, steps=steps)
    if not in_transaction:
        with _ADJACENCY_LOCK:
            _ADJACENCY[db] = (version, adj)
    return adj


def _walk(steps: pl.DataFrame, root: int, depth: int) -> pl.DataFrame:
    """Breadth-first from `root` over `steps`, at most `depth` steps: id, depth, path, rels (nearest first).

    An account reached from several accounts of the previous level keeps the
    smallest path (compared element by element), then the smallest relation
    name. All paths of a level have the same length, so the level's rank
    (its order by path) stands in for the path: a child's path orders as
    (its parent's rank, its own id).
    """
    level = pl.DataFrame({"id": [root], "rank": [0], "path": [[root]], "rels": [[]]},
                         schema={"id": pl.Int64, "rank": pl.UInt32, "path": pl.List(pl.Int64),
                                 "rels": pl.List(pl.Utf8)})
    levels = [level.with_columns(depth=pl.lit(0, pl.Int32))]
    found = level.select("id")
    for d in range(1, depth + 1):
        near = steps.filter(pl.col("src").is_in(level["id"].implode()))
        reached = (level.join(near, left_on="id", right_on="src")
                   .join(found, left_on="dst", right_on="id", how="anti"))
        if reached.height == 0:
            break
        level = (reached.sort("rank", "rel").group_by("dst", maintain_order=True).first()
                 .sort("rank", "dst")
                 .select(id="dst", rank=pl.int_range(pl.len(), dtype=pl.UInt32),
                         path=pl.concat_list("path", "dst"), rels=pl.concat_list("rels", "rel")))
        levels.append(level.with_columns(depth=pl.lit(d, pl.Int32)))
        found = pl.concat([found, level.select("id")])
    return pl.concat(levels).select("id", "depth", "path", "rels").sort("depth", "id")


def account_group(db: Database, actor: Actor, account_id: int, *, depth: int = 3,
                  families: tuple[str, ...] | list[str] | None = None, cap: int = DEFAULT_CAP) -> AccountGroup:
    """The accounts connected to `account_id` within `depth` steps, nearest first.

    `families` narrows which relations are followed (default: all). Past `cap`
    accounts the farthest are left out and counted in `left_out`.
    """
    depth = int(depth)
    if not 0 <= depth <= MAX_DEPTH:
        raise ValidationError(f"Depth must be between 0 and {MAX_DEPTH}; got {depth}.", field="depth", value=depth)
    if cap < 1:
        raise ValidationError(f"The node cap must be at least 1; got {cap}.", field="cap", value=cap)
    kinds = _families_to_kinds(families)
    root = db.one("SELECT id, merged_into_id, owner_id FROM accounts WHERE id = ?", [account_id])
    if root is None:
        raise NotFound(f"Account {account_id} does not exist.")
    if root["merged_into_id"] is not None:
        raise NotFound(f"Account {account_id} was merged into account {root['merged_into_id']}; open that one.")
    adj = _adjacency(db)
    steps = adj.steps if set(kinds) == set(LINK_KINDS) else adj.steps.filter(pl.col("kind").is_in(kinds))
    walk = _walk(steps, int(account_id), depth)
    total = walk.height
    walk = walk.head(cap).with_columns(relation=pl.col("rels").list.last(),
                                       via_id=pl.col("path").list.get(-2, null_on_oob=True))
    acct_scope, acct_params = owner_scope(actor, "a.owner_id", include_pool=True)
    opp_scope, opp_params = owner_scope(actor, "o.owner_id")
    # "Another owner" is relative to the rep looking; for managers and admins, to the picked account's owner.
    me = actor.id if actor.role == "rep" else root["owner_id"]
    params: dict[str, Any] = {"ids": walk["id"].to_list(), "me": me}
    # owner_scope returns positional parameters; name them so they mix with $names.
    acct_cond = _named(acct_scope, acct_params, "acct", params)
    opp_cond = _named(opp_scope, opp_params, "opp", params)
    shown = db.query(
        f"""
        WITH a AS MATERIALIZED (
            SELECT id, name, industry, region, owner_id, lifecycle, annual_revenue, notes, parent_id
            FROM accounts WHERE id IN (SELECT unnest($ids::BIGINT[])) AND merged_into_id IS NULL
        ),
        won AS (
            SELECT o.account_id, sum(o.amount) AS won_amount, count(*) AS won_deals
            FROM opportunities o
            WHERE o.status = 'won' AND o.account_id IN (SELECT id FROM a) AND {opp_cond}
            GROUP BY o.account_id
        )
        SELECT a.id, a.name, a.industry, a.region, a.owner_id, u.display_name AS owner,
               NOT ({acct_cond}) AS restricted,
               (a.owner_id IS NOT NULL AND a.owner_id IS DISTINCT FROM $me) AS owned_by_other,
               CASE WHEN {acct_cond} THEN a.lifecycle END AS lifecycle,
               CASE WHEN {acct_cond} THEN a.annual_revenue END AS annual_revenue,
               coalesce(won.won_amount, 0)::DECIMAL(18, 2) AS won_amount,
               coalesce(won.won_deals, 0) AS won_deals,
               CASE WHEN {acct_cond} THEN a.notes END AS notes,
               a.parent_id
        FROM a LEFT JOIN users u ON u.id = a.owner_id
        LEFT JOIN won ON won.account_id = a.id
        """,
        params,
    )
    # a merged-away account reached through an old link is not shown (nor counted)
    total -= walk.height - shown.height
    nodes = walk.join(shown, on="id", how="inner").sort("depth", "id").select(
        "id", "name", "depth", "path", "rels", "relation", "via_id", "industry", "region", "owner_id", "owner",
        "restricted", "owned_by_other", "lifecycle", "annual_revenue", "won_amount", "won_deals", "notes",
        "parent_id")
    edges = _group_edges(adj, nodes, kinds)
    warnings = hierarchy_loops(db, actor, nodes["id"].to_list())
    return AccountGroup(root_id=account_id, nodes=nodes, edges=edges, total=total,
                        left_out=max(0, total - nodes.height), warnings=warnings)


def _named(cond: str, positional: list[Any], prefix: str, into: dict[str, Any]) -> str:
    """Rewrite owner_scope's `?` placeholders as `$prefixN` and put their values in `into`."""
    parts = cond.split("?")
    out = parts[0]
    for i, (value, rest) in enumerate(zip(positional, parts[1:])):
        name = f"{prefix}{i}"
        into[name] = value
        out += f"${name}" + rest
    return out


def _group_edges(adj: _Adjacency, nodes: pl.DataFrame, kinds: list[str]) -> pl.DataFrame:
    """Every relation between two accounts of the group (not only the ones the walk used).

    A link's note shows only when the actor may see at least one of its two
    accounts (`restricted` is false for it: the row rule of `access.owner_scope`,
    pool accounts included, applied in the group's SQL).
    """
    group = nodes.select("id", "restricted")
    parent_lines = pl.DataFrame(schema={"from_id": pl.Int64, "to_id": pl.Int64})
    if "subsidiary_of" in kinds:
        parent_lines = (adj.parents.join(group.select("id"), on="id", how="semi")
                        .join(group.select("id"), left_on="parent_id", right_on="id", how="semi")
                        .filter(pl.col("id") != pl.col("parent_id"))
                        .select(from_id="id", to_id="parent_id"))
    links = (adj.links.filter(pl.col("kind").is_in(kinds))
             .join(group.rename({"restricted": "from_hidden"}), left_on="from_id", right_on="id")
             .join(group.rename({"restricted": "to_hidden"}), left_on="to_id", right_on="id"))
    return pl.concat([
        parent_lines.select("from_id", "to_id", kind=pl.lit("subsidiary_of"), source=pl.lit("parent"),
                            link_id=pl.lit(None, pl.Int64), note=pl.lit(None, pl.Utf8)),
        links.select("from_id", "to_id", "kind", source=pl.lit("link"), link_id="link_id",
                     note=pl.when(~pl.col("from_hidden") | ~pl.col("to_hidden")).then("note")),
    ]).sort("from_id", "to_id", "kind", "source", "link_id")


def hierarchy_loops(db: Database, actor: Actor, account_ids: list[int]) -> list[str]:
    """Messages for bad data: accounts that are their own superior, directly or through others.

    Follows each account's chain of superior units (parent_id) and reports a
    chain that comes back to itself, once per loop, instead of looping (a
    chain is followed for at most `_CHAIN_MAX` units).
    """
    if not account_ids:
        return []
    parents = _adjacency(db).parents
    # the superior units of the accounts, their superiors, ...: only the chains concerned, level by level
    parent_of: dict[int, int] = {}
    ask = set(account_ids)
    for _ in range(_CHAIN_MAX + 1):
        if not ask:
            break
        got = parents.filter(pl.col("id").is_in(list(ask)))
        parent_of.update(zip(got["id"].to_list(), got["parent_id"].to_list()))
        ask = set(got["parent_id"].to_list()) - parent_of.keys()
    found: set[tuple[int, ...]] = set()
    for start in account_ids:
        if start not in parent_of:
            continue
        path, cur = [start], parent_of[start]
        while True:
            if cur in path:
                found.add(tuple(sorted(path[path.index(cur):])))
                break
            if cur not in parent_of or len(path) >= _CHAIN_MAX:
                break
            path.append(cur)
            cur = parent_of[cur]
    if not found:
        return []
    loops = sorted(found)
    loop_ids = sorted({i for loop in loops for i in loop})
    names = dict(db.rows("SELECT id, name FROM accounts WHERE id IN (SELECT unnest(?::BIGINT[]))", [loop_ids]))
    out = []
    for loop in loops:
        members = ", ".join(f"{i} ({names.get(i, '?')})" for i in loop)
        if len(loop) == 1:
            out.append(f"Account {members} is recorded as its own superior unit; clear or correct its superior.")
        else:
            out.append(f"Accounts {members} are each other's superior units in a loop; "
                       "correct the superior unit of one of them.")
    return out


def find_accounts(db: Database, actor: Actor, text: str = "", *, any_owner: bool = False,
                  limit: int = 50) -> pl.DataFrame:
    """Accounts whose name contains `text`, or whose id is `text`: those the actor may see (own, team,
    pool), or with `any_owner` every account, as a link target (name and owner only, as in a group view)."""
    scope, params = ("TRUE", []) if any_owner else owner_scope(actor, "a.owner_id", include_pool=True)
    text = (text or "").strip()
    return db.query(
        f"""
        SELECT a.id, a.name, u.display_name AS owner
        FROM accounts a LEFT JOIN users u ON u.id = a.owner_id
        WHERE a.merged_into_id IS NULL AND {scope}
          AND (? = '' OR a.name ILIKE '%' || ? || '%' OR CAST(a.id AS VARCHAR) = ?)
        ORDER BY CAST(a.id AS VARCHAR) = ? DESC, a.name, a.id
        LIMIT ?
        """,
        [*params, text, text, text, text, limit],
    )


def _visible_account(db: Database, actor: Actor, account_id: int) -> dict[str, Any]:
    scope, params = owner_scope(actor, "owner_id", include_pool=True)
    row = db.one(f"SELECT id, name, owner_id FROM accounts WHERE id = ? AND {scope}", [account_id, *params])
    if row is None:
        raise NotFound(f"Account {account_id} does not exist or belongs to another owner.")
    return row


def _contact_levels(db: Database, account_id: int) -> pl.DataFrame:
    """Every contact of an account with its level in the reports-to tree (0 = top).

    A contact whose chain of bosses loops never meets a top and gets level NULL.
    """
    return db.query(
        """
        WITH RECURSIVE k AS MATERIALIZED (  -- one pass over contacts
            SELECT id, name, title, department, influence, stance, notes, reports_to_id, version
            FROM contacts WHERE account_id = $acct
        ),
        c AS MATERIALIZED (
            SELECT id, CASE WHEN reports_to_id IN (SELECT id FROM k) AND reports_to_id <> id
                            THEN reports_to_id END AS boss
            FROM k
        ),
        lvl(id, level) USING KEY (id) AS (
            SELECT id, 0 FROM c WHERE boss IS NULL
            UNION
            SELECT c.id, min(l.level) + 1 FROM lvl l JOIN c ON c.boss = l.id
            WHERE c.id NOT IN (SELECT id FROM recurring.lvl)
            GROUP BY c.id
        )
        SELECT k.id, k.name, k.title, k.department, k.influence, k.stance, k.notes,
               c.boss AS reports_to_id, l.level, k.version
        FROM k JOIN c ON c.id = k.id LEFT JOIN lvl l ON l.id = k.id
        ORDER BY l.level NULLS LAST, k.id
        """,
        {"acct": account_id},
    )


def _loop_warning(nodes: pl.DataFrame) -> list[str]:
    looped = nodes.filter(pl.col("level").is_null())
    if looped.height == 0:
        return []
    who = ", ".join(f"{i} ({n})" for i, n in zip(looped["id"].to_list(), looped["name"].to_list()))
    return [f"Contacts {who} report to each other in a loop (no one at the top); "
            "correct the 'reports to' of one of them."]


def _reports_to_edges(nodes: pl.DataFrame) -> pl.DataFrame:
    ids = set(nodes["id"].to_list())
    e = nodes.select(pl.col("id").alias("from_id"), pl.col("reports_to_id").alias("to_id"))
    return e.filter(pl.col("to_id").is_in(list(ids))).with_columns(pl.lit("reports_to").alias("kind"))


def contact_chart(db: Database, actor: Actor, account_id: int) -> ContactGraph:
    """The org chart of an account's contacts: reports-to lines, levels and influence."""
    _visible_account(db, actor, account_id)
    nodes = _contact_levels(db, account_id)
    warnings = _loop_warning(nodes)
    # a looped contact is drawn at the top level, with a warning naming it
    nodes = nodes.with_columns(pl.col("level").fill_null(0))
    return ContactGraph(nodes=nodes, edges=_reports_to_edges(nodes), warnings=warnings)


def find_opportunities(db: Database, actor: Actor, account_id: int | None = None, *,
                       limit: int = 500) -> pl.DataFrame:
    """Deals the actor may see (of one account, when given), newest first, for the decision-tree picker."""
    scope, params = owner_scope(actor, "o.owner_id")
    # two spellings rather than "(? IS NULL OR account_id = ?)", which hides the filter from DuckDB's scan
    where, wp = ("o.account_id = ?", [account_id]) if account_id is not None else ("TRUE", [])
    return db.query(
        f"""
        WITH o AS (
            SELECT o.id, o.name, o.status, o.amount, o.account_id, o.created_at FROM opportunities o
            WHERE {where} AND {scope}
            ORDER BY o.status = 'open' DESC, o.created_at DESC, o.id DESC
            LIMIT ?
        )
        SELECT o.id, o.name, o.status, o.amount, a.name AS account
        FROM o LEFT JOIN accounts a ON a.id = o.account_id
        ORDER BY o.status = 'open' DESC, o.created_at DESC, o.id DESC
        """,
        [*wp, *params, limit],
    )


def decision_tree(db: Database, actor: Actor, opportunity_id: int) -> ContactGraph:
    """A deal's contacts with their decision roles and stance, and their bosses up the reports-to lines.

    Contacts on the deal carry `on_deal = true`, their role, the deal-specific
    stance (falling back to the contact's general stance) and the row version
    for editing; bosses not on the deal are included so the lines of authority
    are visible.
    """
    scope, params = owner_scope(actor, "owner_id")
    opp = db.one(f"SELECT id, account_id, owner_id FROM opportunities WHERE id = ? AND {scope}",
                 [opportunity_id, *params])
    if opp is None:
        raise NotFound(f"Opportunity {opportunity_id} does not exist or belongs to another owner.")
    on_deal = db.query(
        """
        SELECT oc.contact_id AS id, oc.role, oc.stance AS deal_stance, oc.note, oc.version AS role_version,
               k.account_id, k.name, k.title, k.department, k.influence, k.stance, k.reports_to_id
        FROM opportunity_contacts oc JOIN contacts k ON k.id = oc.contact_id
        WHERE oc.opportunity_id = ?
        ORDER BY oc.contact_id
        """,
        [opportunity_id],
    )
    if opp["account_id"] is None:
        everyone = on_deal.select("id", "name", "title", "department", "influence", "stance", "reports_to_id") \
            .with_columns(pl.lit(0).alias("level"), pl.lit(None, pl.Utf8).alias("notes"),
                          pl.lit(1).alias("version"))
    else:
        everyone = _contact_levels(db, opp["account_id"])
    boss = dict(zip(everyone["id"].to_list(), everyone["reports_to_id"].to_list()))
    keep = set(on_deal["id"].to_list())
    for cid in list(keep):  # add each deal contact's bosses (a loop stops at a contact already kept)
        b = boss.get(cid)
        while b is not None and b not in keep:
            keep.add(b)
            b = boss.get(b)
    deal = on_deal.select("id", "role", "deal_stance", "note", "role_version")
    base = everyone.filter(pl.col("id").is_in(list(keep)))
    extra = on_deal.filter(~pl.col("id").is_in(base["id"].to_list()))  # deal contacts of other accounts
    if extra.height:
        base = pl.concat([base, extra.select(base.drop("level", "notes", "version").columns).with_columns(
            pl.lit(0).alias("level"), pl.lit(None, pl.Utf8).alias("notes"), pl.lit(1).alias("version"))
            .select(base.columns)], how="vertical_relaxed")
    nodes = base.join(deal, on="id", how="left").with_columns(
        pl.col("role").is_not_null().alias("on_deal"),
        pl.coalesce("deal_stance", "stance", pl.lit("unknown")).alias("deal_stance"),
    ).sort("level", "id", nulls_last=True)
    warnings = _loop_warning(nodes)
    nodes = nodes.with_columns(pl.col("level").fill_null(0))
    return ContactGraph(nodes=nodes, edges=_reports_to_edges(nodes), warnings=warnings)


def _safe_cell(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def to_csv(df: pl.DataFrame) -> str:
    """A table as CSV that a spreadsheet will not run as formulas (text cells starting with = + - @ tab CR get ').

    Written by polars, which quotes a bare carriage return (Python's csv module does not, and Excel would
    split the row there).
    """
    from crm_core.exporter import safe_frame

    return safe_frame(df).write_csv()
