"""Writing a checked import in one transaction, and undoing it exactly.

`commit()` runs inside the caller's `db.atomic()`: it records an import batch,
creates the referenced rows the user asked for (unknown stages, accounts,
teams, managers), inserts new rows and updates matched ones, each set-based.
Before a row is updated its full before-image goes to `import_row_backups`;
every created or updated row carries the batch id. `undo()` deletes the rows
the batch created and restores the before-images, and refuses (changing
nothing) when rows were edited since, a later import changed them, or other
rows now point at rows it would delete.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any

from crm_core import audit, hooks
from crm_core.access import Actor, require_role
from crm_core.db import Database, quote_ident
from crm_core.errors import NotFound, ValidationError
from crm_core.importer import plan
from crm_core.importer.entities import REFERENCES, TABLES_WITH_BATCH, Entity, generated_login
from crm_core.importer.plan import STG, Options, Staged
from crm_core.importer.reading import Source

WON_WORDS = ("won", "closed won", "closedwon", "win", "赢单", "成交", "已成交", "签约")
LOST_WORDS = ("lost", "closed lost", "closedlost", "lose", "输单", "丢单", "失败", "已流失")
NOTIFY_TABLES = ("accounts", "opportunities", "orders", "payments", "activities", "contracts")


def _columns(cur: Any, table: str) -> dict[str, str]:
    # DESCRIBE rather than duckdb_columns(), which lists every column of the catalog first (~1 vs ~20 ms)
    return {r[0]: r[1] for r in cur.execute(f"DESCRIBE main.{quote_ident(table)}").fetchall()}


def start_batch(cur: Any, actor: Actor, entity: Entity, file_name: str, mapping_name: str | None) -> int:
    return cur.execute(
        "INSERT INTO import_batches (entity, file_name, mapping_name, created_by) VALUES (?, ?, ?, ?) RETURNING id",
        [entity.name, file_name, mapping_name, actor.id]).fetchall()[0][0]


def create_missing(cur: Any, actor: Actor, entity: Entity, st: Staged, batch: int) -> dict[str, int]:
    """Insert the referenced rows the user chose to create; returns {table: rows created}."""
    made: dict[str, int] = {}
    for fname in st.to_create:
        f = entity.field(fname)
        lk = f"_imp_lk_{fname}"
        missing = f"SELECT DISTINCT v FROM {lk} WHERE id IS NULL AND NOT in_file"
        if f.ref == "stage":
            top = cur.execute("SELECT coalesce(max(position), 0) FROM stages").fetchall()[0][0]
            won = ", ".join(f"'{w}'" for w in WON_WORDS)
            lost = ", ".join(f"'{w}'" for w in LOST_WORDS)
            n = cur.execute(
                f"""
                INSERT INTO stages (name, position, probability, forecast_category, is_won, is_lost, import_batch_id)
                SELECT v, ? + row_number() OVER (ORDER BY lower(v) IN ({won}), lower(v) IN ({lost}), v),
                       CASE WHEN lower(v) IN ({won}) THEN 1.0 WHEN lower(v) IN ({lost}) THEN 0.0 ELSE 0.5 END,
                       CASE WHEN lower(v) IN ({won}) THEN 'closed' WHEN lower(v) IN ({lost}) THEN 'omitted'
                            ELSE 'pipeline' END,
                       lower(v) IN ({won}), lower(v) IN ({lost}), ?
                FROM (SELECT min(v) AS v FROM ({missing}) GROUP BY lower(v))
                """, [top, batch]).fetchall()[0][0]
            made["stages"] = made.get("stages", 0) + n
        elif f.ref == "account":
            n = cur.execute(
                f"""
                INSERT INTO accounts (name, normalized_name, external_id, import_batch_id, created_by, source)
                SELECT min(v), k, CASE WHEN count(*) = 1 AND regexp_full_match(min(v), '[\\w\\-./]*\\d[\\w\\-./]*')
                                       THEN min(v) END, ?, ?, 'import'
                FROM (SELECT v, coalesce(nullif(crm_norm_company(v), ''), v) AS k FROM ({missing})) GROUP BY k
                """, [batch, actor.id]).fetchall()[0][0]
            made["accounts"] = made.get("accounts", 0) + n
        elif f.ref == "department":
            n = cur.execute(
                f"INSERT INTO departments (name, import_batch_id) SELECT min(v), ? FROM ({missing}) GROUP BY lower(v)",
                [batch]).fetchall()[0][0]
            made["departments"] = made.get("departments", 0) + n
        elif f.ref == "user":
            n = cur.execute(
                f"""
                INSERT INTO users (login, display_name, role, import_batch_id)
                SELECT CASE WHEN row_number() OVER (PARTITION BY l ORDER BY v) > 1 OR l IN (SELECT login FROM users)
                            THEN l || '.' || row_number() OVER (PARTITION BY l ORDER BY v) ELSE l END, v, 'manager', ?
                FROM (SELECT v, {generated_login('v')} AS l FROM ({missing}))
                """, [batch]).fetchall()[0][0]
            made["users"] = made.get("users", 0) + n
    return made


def commit(cur: Any, actor: Actor, src: Source, entity: Entity, st: Staged, opts: Options, batch: int,
           got: dict[str, int]) -> None:
    """Write the staged rows (valid ones only); `got` is what `plan.counts` said of them."""
    table = quote_ident(entity.table)
    cols = _columns(cur, entity.table)
    defaults = {f.target: f.default for f in entity.fields if f.target and f.default}
    out = [c for c in st.out_columns if c in cols]
    ins_vals = [f"coalesce(s.o_{c}, {defaults[c]})" if c in defaults else f"s.o_{c}" for c in out]
    for c, d in defaults.items():  # fields the file does not have take their defaults (a user's role)
        if c not in out and c in cols:
            out.append(c)
            ins_vals.append(d)
    seq = f"seq_{entity.table}"
    explicit_ids = "id" in cols and cur.execute(
        "SELECT count(*) FROM duckdb_sequences() WHERE sequence_name = ? AND database_name = current_database()",
        [seq]).fetchall()[0][0] > 0
    opts.tick(0.7, "writing")
    with _quick_string_compression(cur):
        _insert_created(cur, table, out, ins_vals, seq if explicit_ids else None, st, batch, got)

    # updates: back up, then change only the columns the file fills
    if entity.table == "opportunity_contacts":
        match = "t.opportunity_id = s.o_opportunity_id AND t.contact_id = s.o_contact_id"
        row_id = "t.opportunity_id"
    else:
        match, row_id = "t.id = s._target", "t.id"
    upd_cols = [c for c in st.update_columns if c in cols]
    if got["update"]:
        cur.execute(
            f"INSERT INTO import_row_backups (batch_id, table_name, row_id, before) "
            f"SELECT ?, ?, {row_id}, to_json(t) FROM {table} t JOIN {STG} s ON {match} WHERE s._action = 'update'",
            [batch, entity.table])
        sets = [f"{quote_ident(c)} = coalesce(s.o_{c}, t.{quote_ident(c)})" for c in upd_cols]
        if "version" in cols:
            sets.append("version = t.version + 1")
        if "updated_at" in cols:
            sets.append("updated_at = current_timestamp")
        sets.append("import_batch_id = ?")
        cur.execute(f"UPDATE {table} t SET {', '.join(sets)} FROM {STG} s WHERE {match} AND s._action = 'update'",
                    [batch])

    # references into the same upload (a parent account, a manager) now that every row exists
    for fname in st.self_refs:
        f = entity.field(fname)
        plan._build_lookup(cur, entity, f, st.mapped, opts)
        ids = "coalesce(i.id, s._target)" if explicit_ids else "s._target"
        ijoin = "LEFT JOIN _imp_ids i USING (_row)" if explicit_ids else ""
        cur.execute(
            f"""
            UPDATE {table} t SET {quote_ident(f.target or '')} = x.ref
            FROM (SELECT {ids} AS row_id, lk.id AS ref FROM {STG} s {ijoin}
                  JOIN {plan.RAW} raw ON raw._r = s._row
                  JOIN _imp_lk_{fname} lk ON lk.v0 = raw.{st.mapped[fname]}
                  WHERE s._action IN ('create', 'update') AND s.f_{fname} IS NULL) x
            WHERE t.id = x.row_id
            """)


@contextmanager
def _quick_string_compression(cur: Any):
    """Write the new rows without DuckDB's DICT_FSST string compression, the costliest one to build.

    It took about a quarter of the insert's CPU (1M opportunities: ~1.9 -> ~1.45 s); the
    strings are still compressed (dictionary, FSST), a little less tightly. The setting is
    the database's, so the previous value is put back at once.
    """
    before = cur.execute("SELECT current_setting('disabled_compression_methods')").fetchall()[0][0] or ""
    methods = [m for m in before.split(",") if m.strip()]
    cur.execute("SET disabled_compression_methods = ?", [",".join([*methods, "dict_fsst"])])
    try:
        yield
    finally:
        cur.execute("SET disabled_compression_methods = ?", [before])


def _insert_created(cur: Any, table: str, out: list[str], ins_vals: list[str], seq: str | None, st: Staged,
                    batch: int, got: dict[str, int]) -> None:
    if seq is not None:
        # New ids are reserved as one block (first id + the row's position in the file) instead of a
        # nextval() per row: nextval makes DuckDB insert on one thread, a block lets it use all cores
        # (1M opportunities: 2.1 -> 1.0 s on 2 cores). Rows not created leave gaps, as a rollback does.
        first = 0
        if got["create"]:
            first = cur.execute(f"SELECT nextval('{seq}')").fetchall()[0][0]
            cur.execute(f"SELECT setval('{seq}', ?)", [first + got["last_create"]])
        if st.self_refs:  # rows pointing at rows of the same file find their new ids here
            cur.execute(f"CREATE OR REPLACE TEMP TABLE _imp_ids AS SELECT _row, ?::BIGINT + _row AS id FROM {STG} "
                        "WHERE _action = 'create'", [first])
        cur.execute(
            f"INSERT INTO {table} (id, {', '.join(quote_ident(c) for c in out)}, import_batch_id) "
            f"SELECT ?::BIGINT + s._row, {', '.join(ins_vals)}, ? FROM {STG} s WHERE s._action = 'create'",
            [first, batch])
    else:
        cur.execute(
            f"INSERT INTO {table} ({', '.join(quote_ident(c) for c in out)}, import_batch_id) "
            f"SELECT {', '.join(ins_vals)}, ? FROM {STG} s WHERE s._action = 'create'", [batch])


def finish_batch(cur: Any, actor: Actor, entity: Entity, batch: int, counts: dict[str, int], total: int,
                 made: dict[str, int], notes: list[str], seconds: float) -> None:
    written_rejected = counts["rejected"]
    cur.execute(
        "UPDATE import_batches SET rows_total = ?, rows_created = ?, rows_updated = ?, rows_unchanged = ?, "
        "rows_rejected = ?, notes = ?, seconds = ? WHERE id = ?",
        [total, counts["create"], counts["update"], counts["unchanged"], written_rejected,
         "\n".join(notes) or None, seconds, batch])
    audit.record(cur, actor, "import", "import_batches", batch, after={
        "entity": entity.name, "rows": total, "created": counts["create"], "updated": counts["update"],
        "unchanged": counts["unchanged"], "rejected": written_rejected, "also_created": made})


MAX_NOTIFY_IDS = 50_000


def notify_changes(db: Database, tables: list[str], batch: int | None = None) -> bool:
    """Tell derived data which accounts changed; True when it was told "any account".

    Up to MAX_NOTIFY_IDS accounts are named (a note per account, recomputed
    on the next read). A larger batch, or an undo, says "any account": the
    summaries then recompute everything on their next read, or when the
    caller runs `derived.refresh_all`, so the import does not wait for it.
    """
    wide = False
    for t in dict.fromkeys(tables):
        if t not in NOTIFY_TABLES:
            continue
        ids = None
        if batch is not None:
            col = "id" if t == "accounts" else "account_id"
            if t == "payments":
                found = db.rows("SELECT DISTINCT c.account_id FROM payments p JOIN contracts c ON c.id = p.contract_id "
                                "WHERE p.import_batch_id = ? LIMIT ?", [batch, MAX_NOTIFY_IDS + 1])
            else:
                found = db.rows(f"SELECT DISTINCT {col} FROM {quote_ident(t)} WHERE import_batch_id = ? LIMIT ?",
                                [batch, MAX_NOTIFY_IDS + 1])
            if len(found) <= MAX_NOTIFY_IDS:
                ids = [r[0] for r in found if r[0] is not None]
        wide = wide or ids is None
        hooks.notify(db, t, ids)
    return wide


# -- undo ----------------------------------------------------------------------------
def undo(db: Database, actor: Actor, batch_id: int, *, dry_run: bool = False) -> dict[str, Any]:
    """Undo import batch `batch_id`: delete the rows it created, restore the rows it updated.

    Returns {"deleted": {table: n}, "restored": {table: n}}. Refused with a
    ValidationError (nothing changes) when that would not restore exactly.
    """
    require_role(actor, ("admin", "analyst"), "undo an import")
    try:
        return _undo(db, actor, batch_id, dry_run=dry_run)
    except _Preview as p:
        return p.plan


class _Preview(Exception):
    def __init__(self, plan: dict[str, Any]):
        super().__init__("preview")
        self.plan = plan


def _undo(db: Database, actor: Actor, batch_id: int, *, dry_run: bool) -> dict[str, Any]:
    with db.atomic() as cur:
        batch = cur.execute("SELECT id, entity, status, file_name FROM import_batches WHERE id = ?",
                            [batch_id]).fetchall()
        batch = batch[0] if batch else None
        if batch is None:
            raise NotFound(f"There is no import batch {batch_id}.")
        if batch[2] == "undone":
            raise ValidationError(f"Import batch {batch_id} ({batch[3]}) was already undone.")
        problems: list[str] = []
        deleted: dict[str, int] = {}
        restored: dict[str, int] = {}
        later = cur.execute(
            "SELECT DISTINCT b.batch_id FROM import_row_backups b JOIN import_batches ib ON ib.id = b.batch_id "
            "WHERE b.batch_id > ? AND ib.status = 'committed' AND json_extract_string(b.before, '$.import_batch_id') = ?",
            [batch_id, str(batch_id)]).fetchall()
        if later:
            problems.append(f"later import(s) {', '.join(str(r[0]) for r in later)} changed rows of this one "
                            "(undo them first)")
        for table in TABLES_WITH_BATCH:
            cols = _columns(cur, table)
            if "import_batch_id" not in cols:
                continue
            t = quote_ident(table)
            key = "opportunity_id" if table == "opportunity_contacts" else "id"
            created = (f"SELECT {key} FROM {t} WHERE import_batch_id = ? AND {key} NOT IN "
                       f"(SELECT row_id FROM import_row_backups WHERE batch_id = ? AND table_name = ?)")
            n = cur.execute(f"SELECT count(*) FROM ({created})", [batch_id, batch_id, table]).fetchall()[0][0]
            if n:
                deleted[table] = n
                if "version" in cols:
                    edited = cur.execute(f"SELECT list({key} ORDER BY {key})[1:5], count(*) FROM {t} WHERE import_batch_id = ? "
                                         f"AND {key} IN ({created}) AND version <> 1",
                                         [batch_id, batch_id, batch_id, table]).fetchall()[0]
                    if edited[1]:
                        problems.append(f"{edited[1]} {table} row(s) it created were edited since "
                                        f"(ids {', '.join(map(str, edited[0]))})")
                for rt, rc in REFERENCES.get(table, []):
                    rcols = _columns(cur, rt)
                    if rc not in rcols:
                        continue
                    own = "AND r.import_batch_id IS DISTINCT FROM ?" if "import_batch_id" in rcols else ""
                    params = [batch_id, batch_id, table] + ([batch_id] if own else [])
                    refs = cur.execute(f"SELECT count(*) FROM {quote_ident(rt)} r WHERE r.{quote_ident(rc)} IN "
                                       f"({created}) {own}", params).fetchall()[0][0]
                    if refs:
                        problems.append(f"{refs} {rt} row(s) not from this import refer to {table} it created "
                                        f"({rt}.{rc})")
            nb = cur.execute("SELECT count(*) FROM import_row_backups WHERE batch_id = ? AND table_name = ?",
                             [batch_id, table]).fetchall()[0][0]
            if nb:
                restored[table] = nb
                if "version" in cols:
                    edited = cur.execute(
                        f"SELECT count(*) FROM {t} x JOIN import_row_backups b ON b.row_id = x.{key} "
                        "WHERE b.batch_id = ? AND b.table_name = ? "
                        "AND (x.version <> CAST(json_extract_string(b.before, '$.version') AS INTEGER) + 1 "
                        "OR x.import_batch_id IS DISTINCT FROM ?)", [batch_id, table, batch_id]).fetchall()[0][0]
                    if edited:
                        problems.append(f"{edited} {table} row(s) it updated were edited since")
        if problems:
            raise ValidationError(
                f"Import batch {batch_id} ({batch[3]}) cannot be undone exactly: " + "; ".join(problems) + ". "
                "Nothing was changed.")
        if dry_run:  # roll back (nothing was written) without counting as a committed write
            raise _Preview({"deleted": deleted, "restored": restored})
        for table in deleted:
            key = "opportunity_id" if table == "opportunity_contacts" else "id"
            cur.execute(f"DELETE FROM {quote_ident(table)} WHERE import_batch_id = ? AND {key} NOT IN "
                        "(SELECT row_id FROM import_row_backups WHERE batch_id = ? AND table_name = ?)",
                        [batch_id, batch_id, table])
        for table in restored:
            _restore(cur, table, batch_id)
        cur.execute("UPDATE import_batches SET status = 'undone', undone_by = ?, undone_at = current_timestamp "
                    "WHERE id = ?", [actor.id, batch_id])
        audit.record(cur, actor, "undo", "import_batches", batch_id,
                     after={"deleted": deleted, "restored": restored})
    notify_changes(db, [*deleted, *restored])
    return {"deleted": deleted, "restored": restored}


def _restore(cur: Any, table: str, batch_id: int) -> None:
    cols = _columns(cur, table)
    sets = []
    for c, typ in cols.items():
        if c == "id":
            continue
        path = "'$." + c.replace("'", "''") + "'"
        if typ.endswith("[]") or typ.startswith("STRUCT") or typ.startswith("MAP"):
            val = f"CAST(json_extract(b.before, {path}) AS {typ})"
        else:
            val = f"CAST(json_extract_string(b.before, {path}) AS {typ})"
        sets.append(f"{quote_ident(c)} = {val}")
    if table == "opportunity_contacts":
        match = ("x.opportunity_id = b.row_id AND "
                 "x.contact_id = CAST(json_extract_string(b.before, '$.contact_id') AS BIGINT)")
    else:
        match = "x.id = b.row_id"
    cur.execute(f"UPDATE {quote_ident(table)} x SET {', '.join(sets)} FROM import_row_backups b "
                f"WHERE b.batch_id = ? AND b.table_name = ? AND {match}", [batch_id, table])


def batches(db: Database, actor: Actor, limit: int = 200) -> Any:
    """Recent import batches, newest first (analysts and admins)."""
    require_role(actor, ("admin", "analyst"), "see import batches")
    return db.query(
        "SELECT b.id, b.created_at, b.entity, b.file_name, b.rows_total, b.rows_created, b.rows_updated, "
        "b.rows_unchanged, b.rows_rejected, b.status, u.login AS imported_by, b.undone_at, b.notes "
        "FROM import_batches b LEFT JOIN users u ON u.id = b.created_by ORDER BY b.id DESC LIMIT ?", [limit])
