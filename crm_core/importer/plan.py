"""The dry run: every row of the file converted, checked and matched, in DuckDB SQL.

`stage()` turns the raw text table into `_imp_stg`, one row per file row with
- r_<field>: the cleaned text, f_<field>: the typed value (or the referenced id),
- o_<column>: the value as it will be stored, _errs: the row's problems,
- _target: the matched existing row, _action: create / update / unchanged / rejected.
It runs as a handful of set-based statements whatever the file size; nothing
loops over rows in Python. References are resolved once per distinct value.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from crm_core.db import quote_ident
from crm_core.errors import ValidationError
from crm_core.importer import values as V
from crm_core.importer.entities import Entity, Field
from crm_core.importer.reading import Source, picked_rows
from crm_core.names import normalize_company_name

RAW = "_imp_raw"
STG = "_imp_stg"
LOOSE = "lower(regexp_replace({v}, '[^\\pL\\pN]', '', 'g'))"


@dataclass
class Options:
    date_order: str | None = None                 # 'dmy' / 'mdy' when the file's dates are ambiguous
    stage_map: dict[str, str] = field(default_factory=dict)   # file stage -> configured stage name
    create_missing: bool = False                  # create unknown stages, accounts, teams, managers
    allow_partial: bool = False                   # load the valid rows and reject the rest
    mapping_name: str | None = None
    constants: dict[str, str] = field(default_factory=dict)   # field -> one value for every row
    progress: Callable[[float, str], None] | None = None
    preview_rows: int = 50
    max_rejected: int = 100_000

    def tick(self, fraction: float, what: str) -> None:
        if self.progress:
            self.progress(fraction, what)


# How each kind of reference is found: (how, SQL of (k, id) candidates from the table, upload field for
# rows of the same file). `how` says how the file's text is turned into the key.
LOOKUPS: dict[str, dict[str, Any]] = {
    "user": {"table": "users", "extras": {"department_id": "department_id"}, "cands": [
        ("lower", "SELECT lower(login) AS k, id FROM users", "login"),
        ("lower", "SELECT lower(email) AS k, id FROM users WHERE email IS NOT NULL", "email"),
        ("lower", "SELECT lower(display_name) AS k, id FROM users", "display_name"),
    ]},
    "account": {"table": "accounts", "extras": {"region": "region"}, "cands": [
        ("exact", "SELECT external_id AS k, coalesce(merged_into_id, id) AS id FROM accounts "
                  "WHERE external_id IS NOT NULL", "external_id"),
        ("company", "SELECT normalized_name AS k, coalesce(merged_into_id, id) AS id FROM accounts", "name"),
    ]},
    "stage": {"table": "stages", "extras": {"is_won": "is_won", "is_lost": "is_lost"}, "cands": [
        ("lower", "SELECT lower(m.src) AS k, s.id FROM _imp_stage_map m JOIN stages s ON lower(s.name) = lower(m.dst)",
         None),
        ("lower", "SELECT lower(name) AS k, id FROM stages", None),
    ]},
    "product": {"table": "products", "extras": {}, "cands": [
        ("exact", "SELECT external_id AS k, id FROM products WHERE external_id IS NOT NULL", None),
        ("loose", "SELECT " + LOOSE.format(v="name") + " AS k, id FROM products", None),
    ]},
    "opportunity": {"table": "opportunities", "extras": {"account_id": "account_id"}, "cands": [
        ("exact", "SELECT external_id AS k, id FROM opportunities WHERE external_id IS NOT NULL", None),
        ("lower", "SELECT lower(name) AS k, id FROM opportunities", None),
    ]},
    "contact": {"table": "contacts", "extras": {}, "cands": [
        ("exact", "SELECT external_id AS k, id FROM contacts WHERE external_id IS NOT NULL", "external_id"),
        ("lower", "SELECT lower(email) AS k, id FROM contacts WHERE email IS NOT NULL", "email"),
        ("lower", "SELECT lower(name) AS k, id FROM contacts", "name"),
    ]},
    "department": {"table": "departments", "extras": {}, "cands": [
        ("lower", "SELECT lower(name) AS k, id FROM departments", "name"),
    ]},
    "contract": {"table": "contracts", "extras": {}, "cands": [
        ("exact", "SELECT contract_no AS k, id FROM contracts WHERE contract_no IS NOT NULL", None),
        ("exact", "SELECT external_id AS k, id FROM contracts WHERE external_id IS NOT NULL", None),
    ]},
}
_HOW = {"exact": "{v}", "lower": "lower({v})", "company": "crm_norm_company({v})", "loose": LOOSE}
REF_LABEL = {"user": "user (login, e-mail or name)", "account": "account (external id or name)",
             "stage": "configured stage", "product": "product (external id or name)",
             "opportunity": "opportunity (external id or name)", "contact": "contact (external id, e-mail or name)",
             "department": "team", "contract": "contract (number or external id)"}
KIND_EXPECTED = {
    "int": "a whole number", "amount": "an amount such as 1234.50, 1,234.50 or ¥1 234", "number": "a number",
    "prob": "a probability such as 0.4 or 40%", "bool": "yes/no (true, false, 1, 0, 是, 否)",
    "date": "a date (YYYY-MM-DD, D/M/Y or M/D/Y, 2024年1月5日, or an Excel date number)",
    "timestamp": "a date and time (YYYY-MM-DD HH:MM:SS or a date)",
}


@dataclass
class Staged:
    """What `stage` learned: the mapping used and the references it will create."""

    mapped: dict[str, str]                          # field -> raw column c<i>
    headers: dict[str, str]                         # field -> the file's header
    date_order: str | None
    to_create: dict[str, list[str]] = field(default_factory=dict)   # field -> values that will be created
    unknown: dict[str, list[str]] = field(default_factory=dict)     # field -> unknown values (stages...)
    out_columns: list[str] = field(default_factory=list)            # o_ columns for inserts
    update_columns: list[str] = field(default_factory=list)         # o_ columns compared and updated
    self_refs: list[str] = field(default_factory=list)              # fields pointing into the same upload
    key_alts: list[tuple[str, ...]] = field(default_factory=list)   # the match keys the file fills
    missing_counts: dict[str, int] = field(default_factory=dict)    # field -> distinct values matching nothing
    unique_keys: set[str] = field(default_factory=set)              # key columns whose file values never repeat
    blank_counts: dict[str, int] = field(default_factory=dict)      # optional reference -> rows leaving it blank


def register_functions(db: Any) -> None:
    """crm_norm_company(): the accounts matching key, the same Python function the app uses.

    Registered once per database (every cursor sees it). Called outside the
    import's transaction, where a failed probe costs nothing (inside, it would
    abort the transaction); probing is ~1 ms where listing duckdb_functions() took 50.
    """
    with db.cursor() as cur:
        try:
            cur.execute("SELECT crm_norm_company('')").fetchall()
        except Exception:  # duckdb.CatalogException: not registered yet
            cur.create_function("crm_norm_company", normalize_company_name, ["VARCHAR"], "VARCHAR",
                                side_effects=False)


def drop_temp_objects(cur: Any, name: str | None = None, *, keep: tuple[str, ...] = ()) -> None:
    """Drop the import's temp tables and views: the one called `name`, or (None) every `_imp_` one.

    Tables and views share one namespace but need their own DROP, so the catalog says which is which.
    """
    params = [name, name] if name else ["_imp_", "_imp_"]
    test = "{} = ?" if name else "starts_with({}, ?)"
    found = cur.execute(
        f"SELECT 'VIEW', view_name FROM duckdb_views() WHERE temporary AND {test.format('view_name')} UNION ALL "
        f"SELECT 'TABLE', table_name FROM duckdb_tables() WHERE temporary AND {test.format('table_name')}",
        params).fetchall()
    for kind, n in found:
        if n not in keep:
            cur.execute(f"DROP {kind} IF EXISTS temp.{quote_ident(n)}")


def _conv(f: Field, r: str, order: str | None) -> str:
    return {
        "text": lambda: r, "int": lambda: V.integer(r), "amount": lambda: V.amount(r), "number": lambda: V.number(r),
        "prob": lambda: V.probability(r), "date": lambda: V.date(r, order), "timestamp": lambda: V.timestamp(r, order),
        "bool": lambda: V.boolean(r), "enum": lambda: V.enum(r, f.choices or {}),
    }[f.kind]()


def stage(cur: Any, src: Source, entity: Entity, mapping: dict[str, str | None], opts: Options, *,
          lazy: bool = False) -> Staged:
    """Build `_imp_stg` from `_imp_raw` (already loaded) for `entity` with `mapping` {header: field}.

    With `lazy`, a file that only creates rows (nothing stored matches, no key
    repeats, no row points at another) gets `_imp_stg` as a view over the typed
    rows instead of a table: its stored values and problems are cheap to work
    out again from the typed columns, and the write then copies the rows once
    instead of twice (1M opportunities: ~0.7 s of CPU less). A dry run wants
    the rows of each action several times, so it stays a table.
    """
    col_of = {h: f"c{i}" for i, h in enumerate(src.headers)}
    mapped = {fname: col_of[h] for h, fname in mapping.items() if fname}
    headers = {fname: h for h, fname in mapping.items() if fname}
    _check_required(src, entity, mapping, mapped)

    date_cols = {headers[f.name]: mapped[f.name] for f in entity.fields
                 if f.name in mapped and f.kind in ("date", "timestamp")}
    order = opts.date_order or V.detect_date_order(cur, RAW, date_cols, src.first_data_row, src.file_name)
    if order not in (None, *V.DATE_ORDERS):
        raise ValidationError(f"Date order {order!r} is not one of dmy, mdy.", field="date_order", value=order)
    st = Staged(mapped=mapped, headers=headers, date_order=order)

    # references: one lookup table per mapped reference field, built on the distinct values
    cur.execute("CREATE OR REPLACE TEMP TABLE _imp_stage_map (src VARCHAR, dst VARCHAR)")
    if opts.stage_map:
        cur.executemany("INSERT INTO _imp_stage_map VALUES (?, ?)", [[k, v] for k, v in opts.stage_map.items() if v])
    refs = [f for f in entity.fields if f.kind == "ref" and f.name in mapped]
    # one pass over the file: the distinct values of every reference column, and whether plain key
    # columns (an external id) repeat at all
    plain_keys = [f for f in entity.fields if f.name in mapped and f.kind == "text"
                  and any(k == (f.target,) for k in entity.keys)]
    aggs = [f"list(DISTINCT {mapped[f.name]}) AS d_{f.name}" for f in refs]
    # on the raw text (no copies): distinct raw values without edge spaces are distinct cleaned values;
    # anything else (blanks, padded ids) falls back to the exact duplicate step below
    # (distinct hashes are cheaper than distinct strings; a collision only means the duplicate step runs)
    aggs += [f"count(DISTINCT hash({mapped[f.name]})) = count({mapped[f.name]}) AND count(*) FILTER "
             f"(WHERE starts_with({mapped[f.name]}, ' ') OR ends_with({mapped[f.name]}, ' ')) = 0 AS u_{f.name}"
             for f in plain_keys]
    cur.execute(f"CREATE OR REPLACE TEMP TABLE _imp_vals AS SELECT {', '.join(aggs) or '1 AS nothing'} FROM {RAW}")
    if plain_keys:
        flags = cur.execute(f"SELECT {', '.join(f'u_{f.name}' for f in plain_keys)} FROM _imp_vals").fetchall()[0]
        st.unique_keys = {f.target for f, unique in zip(plain_keys, flags) if unique}
    for f in refs:
        _build_lookup(cur, entity, f, mapped, opts)
        missing = [r[0] for r in cur.execute(
            f"SELECT DISTINCT v FROM _imp_lk_{f.name} WHERE id IS NULL AND NOT in_file ORDER BY v LIMIT 1000"
        ).fetchall()]
        if len(missing) == 1000:
            st.missing_counts[f.name] = cur.execute(
                f"SELECT count(DISTINCT v) FROM _imp_lk_{f.name} WHERE id IS NULL AND NOT in_file").fetchall()[0][0]
        else:
            st.missing_counts[f.name] = len(missing)
        if missing:
            if f.creatable and opts.create_missing:
                st.to_create[f.name] = missing
            else:
                st.unknown[f.name] = missing
        if f.self_ref:
            st.self_refs.append(f.name)

    # level 1: clean text; level 2: typed values and references; level 3: stored values and problems
    # reference columns are joined on the file's raw text (the lookup cleaned each distinct value once)
    ref_names = {f.name for f in refs}
    r_cols = ", ".join(f"{c} AS q_{fname}" if fname in ref_names else f"{V.clean_fast(c)} AS r_{fname}"
                       for fname, c in mapped.items())
    joins, typed = [], []
    for f in entity.fields:
        if f.name not in mapped:
            continue
        r = f"r_{f.name}"
        if f.kind == "ref":
            lk = f"_imp_lk_{f.name}"
            joins.append(f"LEFT JOIN {lk} ON {lk}.v0 = l1.q_{f.name}")
            typed.append(f"{lk}.id AS f_{f.name}, {lk}.n AS n_{f.name}")
            if f.self_ref:
                typed.append(f"{lk}.in_file AS i_{f.name}")
            for extra in LOOKUPS[f.ref]["extras"]:  # only what a derived column reads (an owner's department)
                if any(f"x_{f.name}_{extra}" in d.sql for d in entity.derived):
                    typed.append(f"{lk}.{extra} AS x_{f.name}_{extra}")
        else:
            typed.append(f"{_conv(f, r, order)} AS f_{f.name}")
    errs = [e for f in entity.fields if f.name in mapped for e in _checks(f, opts, st)]
    errs.append("NULL::VARCHAR")  # keeps the list typed when a file has nothing to check

    outs: dict[str, str] = {}          # column -> SQL for inserts
    upd: dict[str, str] = {}           # column -> SQL for updates
    for f in entity.fields:
        if f.name in mapped and f.target:
            outs[f.target] = upd[f.target] = f"f_{f.name}"
    for d in entity.derived:
        if any(n in mapped for n in d.needs):
            sql = d.sql
            for n in entity.field_names:  # derived SQL may name fields that are not mapped: they are NULL
                if n not in mapped:
                    sql = sql.replace(f"f_{n}", "NULL").replace(f"r_{n}", "NULL")
            sql = _null_missing_extras(sql, entity, mapped)
            outs[d.column] = sql
            if not d.create_only:
                upd[d.column] = sql
    carried: list[str] = []            # unmapped raw columns kept in the notes column
    if entity.notes_column and entity.notes_column not in outs:
        extra_cols = [(h, c) for h, c in col_of.items() if not mapping.get(h)]
        if extra_cols:
            carried = [c for _, c in extra_cols]
            parts = ", ".join(f"CASE WHEN {V.clean(c)} IS NOT NULL THEN {V.lit(h + ': ')} || {V.clean(c)} END"
                              for h, c in extra_cols)
            outs[entity.notes_column] = f"nullif(concat_ws('; ', {parts}), '')"
    st.out_columns = list(outs)
    st.update_columns = list(upd)
    o_sql = ", ".join(f"{sql} AS o_{col}" for col, sql in outs.items())

    key_alts = [k for k in entity.keys if all(c in outs for c in k)]
    st.key_alts = key_alts
    l1_cols = ", ".join(["_r AS _row", *([r_cols] if r_cols else []), *carried])
    sql_l1 = f"SELECT {l1_cols} FROM {RAW}"
    # typed values are materialised once: left as a subquery, DuckDB inlines each conversion into every
    # expression that uses it (the stored value, each check), running it several times per row
    # only the text that later steps read is kept (derived columns naming r_<field>); other fields keep a flag
    derived_sql = " ".join(outs.values())
    kept = ["l1._row", *[f"l1.{c}" for c in carried]]
    for f in entity.fields:
        if f.name in mapped:
            text = f"_imp_lk_{f.name}.v" if f.name in ref_names else f"l1.r_{f.name}"
            if f"r_{f.name}" in derived_sql:
                kept.append(f"{text} AS r_{f.name}")
            if f.kind != "text":
                kept.append(f"{text} IS NOT NULL AS p_{f.name}")
    cur.execute(f"CREATE OR REPLACE TEMP TABLE _imp_typed AS SELECT {', '.join(kept)}"
                f"{', ' + ', '.join(typed) if typed else ''} FROM ({sql_l1}) l1 {' '.join(joins)}")
    # for the notes: how many rows leave each optional reference blank (p_ says "the file has a value")
    optional = [f for f in refs if not f.required]
    if optional:
        blanks = cur.execute("SELECT " + ", ".join(f"count(*) FILTER (WHERE NOT p_{f.name})" for f in optional)
                             + " FROM _imp_typed").fetchall()[0]
        st.blank_counts = dict(zip((f.name for f in optional), blanks))
    sql_l2 = "SELECT * FROM _imp_typed"
    # most rows have no problem: test the conditions first and build the list only for the others
    conds = [e.split(" THEN ", 1)[0].removeprefix("CASE WHEN ") for e in errs if e.startswith("CASE WHEN ")]
    any_bad = " OR ".join(f"coalesce({c}, FALSE)" for c in conds) or "FALSE"
    sql_l3 = (f"SELECT l2.*, {o_sql}, CASE WHEN {any_bad} THEN list_filter([{', '.join(errs)}], "
              f"lambda e: e IS NOT NULL) ELSE []::VARCHAR[] END AS _errs FROM ({sql_l2}) l2")

    # matching: the first key alternative that finds a row. The candidates of each alternative are
    # materialised first: a file of new rows (the usual bulk load) then skips both match joins and
    # the comparison with stored rows, which would otherwise hash a million-row table for nothing.
    match_joins, match_ids = [], []
    table = quote_ident(entity.table)
    id_col = "opportunity_id" if entity.table == "opportunity_contacts" else "id"
    candidates = 0
    for i, key in enumerate(key_alts):
        on = " AND ".join(
            (f"m{i}.{quote_ident(c)} IS NOT DISTINCT FROM l3.o_{c}" if len(key) > 1
             else f"m{i}.{quote_ident(c)} = l3.o_{c}") for c in key)
        cols = ", ".join(quote_ident(c) for c in key)
        # only existing rows whose key is in the file (millions of stored orders need not be grouped)
        src_field = next((f.name for f in entity.fields if len(key) == 1 and f.target == key[0] and f.name in mapped
                          and f.kind != "ref"), None)
        only = (f"WHERE {quote_ident(key[0])} IN (SELECT f_{src_field} FROM _imp_typed)" if src_field else "")
        cur.execute(f"CREATE OR REPLACE TEMP TABLE _imp_m{i} AS SELECT {cols}, min({id_col}) AS _id FROM {table} "
                    f"{only} GROUP BY ALL")
        candidates += cur.execute(f"SELECT count(*) FROM _imp_m{i}").fetchall()[0][0]
        match_joins.append(f"LEFT JOIN _imp_m{i} m{i} ON {on}")
        match_ids.append(f"m{i}._id")
    if not candidates:
        match_joins, match_ids = [], []
    target = f"coalesce({', '.join(match_ids)})" if match_ids else "NULL::BIGINT"
    sql_l4 = f"SELECT l3.*, {target} AS _target FROM ({sql_l3}) l3 {' '.join(match_joins)}"

    # the action of each row: compare with the matched row (blank cells keep the stored value)
    if entity.table == "opportunity_contacts":
        match_on = "t.opportunity_id = l4.o_opportunity_id AND t.contact_id = l4.o_contact_id"
    else:
        match_on = "t.id = l4._target"
    changed = " OR ".join(f"(l4.o_{c} IS NOT NULL AND l4.o_{c} IS DISTINCT FROM t.{quote_ident(c)})"
                          for c in upd) if match_ids and upd else "FALSE"
    absent = [f.name for f in entity.fields if f.required and f.name not in mapped]
    errs_sql = "l4._errs"
    for name in absent:  # a file without a required column can update rows but not create them
        errs_sql = (f"(CASE WHEN l4._target IS NULL THEN list_append({errs_sql}, {V.lit(name + '~no_column')}) "
                    f"ELSE {errs_sql} END)")
    action = (f"CASE WHEN len({errs_sql}) > 0 THEN 'rejected' WHEN l4._target IS NULL THEN 'create' "
              f"WHEN {changed} THEN 'update' ELSE 'unchanged' END")
    # the stored rows to compare with: only the matched ones
    if entity.table == "opportunity_contacts":
        stored = table
    else:
        stored = (f"(SELECT * FROM {table} WHERE id IN ("
                  + " UNION ALL ".join(f"SELECT _id FROM _imp_m{i}" for i in range(len(match_ids))) + "))")
    tjoin = f"LEFT JOIN {stored} t ON {match_on}" if match_ids else ""
    # only what the writes need is kept: the file's text is read again from the raw table for messages
    keep = ["l4._row", *[f"l4.o_{c}" for c in outs], f"{errs_sql} AS _errs", "l4._target",
            *[f"l4.f_{n}" for n in st.self_refs]]
    repeats = [k for k in key_alts if not (len(k) == 1 and k[0] in st.unique_keys)]
    kind = "VIEW" if lazy and not match_ids and not repeats and not st.self_refs else "TABLE"
    drop_temp_objects(cur, STG)  # a second staging (after creating missing rows) may change its kind
    cur.execute(f"CREATE TEMP {kind} {STG} AS SELECT {', '.join(keep)}, {action} AS _action "
                f"FROM ({sql_l4}) l4 {tjoin}")

    # duplicates within the file (same key as an earlier row): grouped, not windowed, to stay fast
    for i, key in enumerate(key_alts):
        if len(key) == 1 and key[0] in st.unique_keys:
            continue  # the one pass above found no repeated value
        cols = ", ".join(f"o_{c}" for c in key)
        nonnull = " AND ".join(f"o_{c} IS NOT NULL" for c in key) if len(key) == 1 else "TRUE"
        cur.execute(f"CREATE OR REPLACE TEMP TABLE _imp_dup AS SELECT {cols}, min(_row) AS first FROM {STG} "
                    f"WHERE {nonnull} GROUP BY ALL HAVING count(*) > 1")
        if cur.execute("SELECT count(*) FROM _imp_dup").fetchall()[0][0]:
            on = " AND ".join(f"d.o_{c} IS NOT DISTINCT FROM s.o_{c}" for c in key)
            cur.execute(
                f"UPDATE {STG} s SET _errs = list_append(s._errs, '~dup{i}:' || d.first), _action = 'rejected' "
                f"FROM _imp_dup d WHERE {on} AND s._row > d.first")
    return st


def _null_missing_extras(sql: str, entity: Entity, mapped: dict[str, str]) -> str:
    for f in entity.fields:
        if f.kind == "ref" and f.name not in mapped:
            for extra in LOOKUPS[f.ref or "user"]["extras"]:
                sql = sql.replace(f"x_{f.name}_{extra}", "NULL")
    return sql


def _check_required(src: Source, entity: Entity, mapping: dict[str, str | None], mapped: dict[str, str]) -> None:
    missing = [f.name for f in entity.fields if f.required and f.name not in mapped]
    if entity.required_any and not set(entity.required_any) & set(mapped):
        missing.append(" or ".join(entity.required_any))
    if not missing:
        return
    key_fields = {f.name for f in entity.fields if any(f.target in k for k in entity.keys)}
    if key_fields & set(mapped):
        return  # an update-only file: rows that match nothing are rejected for the missing field instead
    if len(src.headers) == 1:
        raise ValidationError(
            f"{src.file_name} was read as a single column ({src.headers[0][:60]!r}): no comma, semicolon, tab "
            f"or pipe separates its fields. Expected a delimited file with a column for "
            f"{', '.join(missing)} ({entity.label.lower()}).")
    unmapped = [h for h, t in mapping.items() if not t]
    raise ValidationError(
        f"{src.file_name}: no column for the required field(s) {', '.join(missing)} of {entity.label.lower()}. "
        f"Unmapped columns: {', '.join(repr(h) for h in unmapped) or 'none'}. "
        "Expected a header naming each required field, or a mapping that assigns one.")


def _checks(f: Field, opts: Options, st: Staged) -> list[str]:
    """SQL expressions giving '<field>~<code>' for each problem of one field (NULL when fine)."""
    # the text itself is kept only for text fields (where it is the value); others keep "was it filled"
    v, name = f"f_{f.name}", f.name
    r_null = f"{v} IS NULL" if f.kind == "text" else f"NOT p_{name}"
    r_set = f"{v} IS NOT NULL" if f.kind == "text" else f"p_{name}"
    r = v

    def err(cond: str, code: str) -> str:
        return f"CASE WHEN {cond} THEN {V.lit(name + '~' + code)} END"

    out = []
    if f.required:
        out.append(err(r_null, "required"))
    if f.kind == "text":
        out.append(err(f"length({r}) > {int(f.max_len)}", "too_long"))
        out.append(err(V.looks_like_formula(r), "formula"))
    elif f.kind == "ref":
        allowed_missing = "TRUE" if (f.creatable and opts.create_missing) else "FALSE"
        in_file = f"coalesce(i_{name}, FALSE)" if f.self_ref else "FALSE"
        out.append(err(f"{r_set} AND {v} IS NULL AND NOT {in_file} AND NOT {allowed_missing}",
                       "unknown"))
        out.append(err(f"n_{name} > 1", "ambiguous"))
    else:
        out.append(err(f"{r_set} AND {v} IS NULL", "type"))
        if f.nonneg:
            out.append(err(f"{v} < 0", "negative"))
        if f.low is not None or f.high is not None:
            lo = f.low if f.low is not None else -(10 ** 18)
            hi = f.high if f.high is not None else 10 ** 18
            out.append(err(f"{v} NOT BETWEEN {int(lo)} AND {int(hi)}", "range"))
        if f.kind == "prob":
            out.append(err(f"{v} NOT BETWEEN 0 AND 1", "range"))
        if f.kind in ("date", "timestamp"):
            out.append(err(f"year({v}) NOT BETWEEN 1900 AND 2199", "type"))
    return out


def _build_lookup(cur: Any, entity: Entity, f: Field, mapped: dict[str, str], opts: Options) -> None:
    """_imp_lk_<field>(v, id, n, in_file, extras...): each distinct file value and what it names."""
    spec = LOOKUPS[f.ref or ""]
    hows = sorted({how for how, _, _ in spec["cands"]})
    keyed = ", ".join(f"{_HOW[h].format(v='v')} AS k_{h}" for h in hows if h != "company")
    if "company" in hows:
        # the Python name key only for values no cheaper key (an external id) already found
        cheap = [(how, c) for how, c, _ in spec["cands"] if how != "company"]
        found = " OR ".join(f"EXISTS (SELECT 1 FROM ({c}) x WHERE x.k = {_HOW[h].format(v='v')})" for h, c in cheap)
        company = f"CASE WHEN NOT ({found}) THEN crm_norm_company(v) END" if cheap else "crm_norm_company(v)"
        keyed = ", ".join(p for p in (keyed, f"{company} AS k_company") if p)
    parts = []
    for pri, (how, cand_sql, _) in enumerate(spec["cands"]):
        parts.append(f"SELECT kv.v, {pri} AS pri, c.id FROM kv JOIN ({cand_sql}) c ON c.k = kv.k_{how}")
    in_file = "FALSE"
    if f.self_ref:
        ups = []
        for how, _, ufield in spec["cands"]:
            if ufield and ufield in mapped:
                ups.append(f"SELECT {_HOW[how].format(v=V.clean(mapped[ufield]))} AS k, '{how}' AS how FROM {RAW}")
        if ups:
            cur.execute(f"CREATE OR REPLACE TEMP TABLE _imp_self AS SELECT DISTINCT k, how FROM "
                        f"({' UNION ALL '.join(ups)}) WHERE k IS NOT NULL")
            in_file = " OR ".join(f"EXISTS (SELECT 1 FROM _imp_self s WHERE s.how = '{h}' AND s.k = kv.k_{h})"
                                  for h in hows)
    extras = spec["extras"]
    extra_sql = "".join(f", t.{quote_ident(c)} AS {a}" for a, c in extras.items())
    cur.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _imp_lk_{f.name} AS
        WITH raws AS (SELECT v0, {V.clean('v0')} AS v FROM (SELECT unnest(d_{f.name}) AS v0 FROM _imp_vals)
                      WHERE {V.clean('v0')} IS NOT NULL),
             vals AS (SELECT DISTINCT v FROM raws),
             kv AS (SELECT v, {keyed} FROM vals),
             m AS ({' UNION ALL '.join(parts)}),
             best AS (SELECT v, min(pri) AS p FROM m GROUP BY v),
             res AS (SELECT m.v, min(m.id) AS id, count(DISTINCT m.id) AS n
                     FROM m JOIN best ON best.v = m.v AND best.p = m.pri GROUP BY m.v)
        SELECT raws.v0, kv.v, res.id, coalesce(res.n, 0) AS n, ({in_file}) AS in_file{extra_sql}
        FROM kv JOIN raws ON raws.v = kv.v LEFT JOIN res ON res.v = kv.v
        LEFT JOIN {quote_ident(spec['table'])} t ON t.id = res.id
        """
    )


# -- what the user sees ---------------------------------------------------------------
def counts(cur: Any) -> dict[str, int]:
    """Rows per action, and `last_create`: the file position of the last row to create (-1 if none)."""
    got = {a: (n, last) for a, n, last in cur.execute(f"SELECT _action, count(*), max(_row) FROM {STG} GROUP BY 1"
                                                       ).fetchall()}
    out = {a: int(got.get(a, (0, None))[0]) for a in ("create", "update", "unchanged", "rejected")}
    out["last_create"] = int(got["create"][1]) if "create" in got else -1
    return out


def reason_text(entity: Entity, fname: str, code: str, st: Staged, value: Any, dup_row: Any = None) -> str:
    f = entity.field(fname) if fname in entity.field_names else None
    if code.startswith("dup"):
        return f"duplicate: the same key as row {dup_row} of this file; expected each row once"
    if f is None:
        return code
    if code == "no_column":
        return f"matches no existing row, and the file has no {fname} column, which a new row needs"
    if code == "required":
        return f"{fname} is required; expected a value"
    if code == "too_long":
        return f"longer than {f.max_len:,} characters; expected a shorter {fname}"
    if code == "formula":
        return "looks like a spreadsheet formula; expected plain text (remove the leading = + - @)"
    if code == "unknown":
        hint = ""
        if f.creatable:
            hint = " (or choose to create missing ones)"
        if f.ref == "stage":
            hint = "; map it to a configured stage or choose to create it"
        return f"no {REF_LABEL.get(f.ref or '', f.ref)} matches; expected an existing one{hint}"
    if code == "ambiguous":
        return f"matches more than one {REF_LABEL.get(f.ref or '', f.ref)}; expected a unique name, login or id"
    if code == "type":
        if f.kind == "enum":
            return f"expected one of {', '.join(sorted(set((f.choices or {}).values())))}"
        exp = KIND_EXPECTED.get(f.kind, f.kind)
        if f.kind in ("date", "timestamp"):
            order = {"dmy": "D/M/Y", "mdy": "M/D/Y"}.get(st.date_order or "", "ISO")
            return f"not a valid date (this file's order: {order}); expected {exp}"
        return f"expected {exp}"
    if code == "negative":
        return f"negative; expected {fname} of 0 or more"
    if code == "range":
        if f.kind == "prob":
            return "expected a probability between 0 and 1 (0% to 100%)"
        return f"expected {fname} between {f.low} and {f.high}"
    return code


def _raw_text(st: Staged) -> str:
    """SELECT list of the file's cleaned text per mapped field, from the raw table joined as `raw`."""
    return ", ".join(f"{V.clean('raw.' + c)} AS r_{n}" for n, c in st.mapped.items())


def rejected_rows(cur: Any, entity: Entity, src: Source, st: Staged, limit: int) -> pl.DataFrame:
    """Every problem of every rejected row: row number, column, value, reason."""
    if limit <= 0:
        return pl.DataFrame(schema={"row": pl.Int64, "column": pl.Utf8, "value": pl.Utf8, "reason": pl.Utf8})
    r_cols = _raw_text(st)
    bad = cur.execute(f"SELECT _row, _errs FROM {STG} WHERE _action = 'rejected' ORDER BY _row LIMIT ?",
                      [limit]).fetchall()
    texts = {}
    if bad and r_cols:
        raw = picked_rows(cur, src, [r[0] for r in bad])
        texts = {r[0]: r[1:] for r in cur.execute(f"SELECT raw._r, {r_cols} FROM {raw} raw").fetchall()}
    blank = (None,) * len(st.mapped)
    res = [(row, errs, *texts.get(row, blank)) for row, errs in bad]
    names = ["_row", "_errs", *[f"r_{n}" for n in st.mapped]]
    out = []
    for row in res:
        d = dict(zip(names, row))
        for e in d["_errs"]:
            if e.startswith("~dup"):
                i, first = e[4:].split(":")
                key = st.key_alts[int(i)]
                fnames = [f.name for f in entity.fields if f.target in key and f.name in st.mapped]
                if not fnames:  # a derived key (an account's normalised name) comes from the name
                    fnames = [n for n in ("name", "display_name") if n in st.mapped][:1]
                value = " + ".join(str(d.get(f"r_{n}")) for n in fnames) if fnames else None
                header = " + ".join(st.headers[n] for n in fnames) or key[0]
                reason = reason_text(entity, "", "dup", st, value, int(first) + src.first_data_row)
            else:
                fname, code = e.split("~", 1)
                value = d.get(f"r_{fname}")
                header = st.headers.get(fname, fname)
                reason = reason_text(entity, fname, code, st, value)
            shown = value if value is None or len(str(value)) <= 200 else str(value)[:200] + "…"
            out.append({"row": d["_row"] + src.first_data_row, "column": header, "value": shown, "reason": reason})
    return pl.DataFrame(out, schema={"row": pl.Int64, "column": pl.Utf8, "value": pl.Utf8, "reason": pl.Utf8})


def rows_of(cur: Any, entity: Entity, src: Source, st: Staged, action: str | None, limit: int) -> pl.DataFrame:
    """Rows as they will be stored (references shown by the file's text), for the preview and the diff."""
    cols = []
    for f in entity.fields:
        if f.name in st.mapped:
            if f.kind == "ref" or not f.target:
                cols.append(f"{V.clean('raw.' + st.mapped[f.name])} AS {quote_ident(f.name)}")
            else:
                cols.append(f"s.o_{f.target} AS {quote_ident(f.name)}")
    mapped_targets = {f.target for f in entity.fields if f.name in st.mapped}
    for c in st.out_columns:
        if c not in mapped_targets and not c.endswith("_id"):
            cols.append(f"s.o_{c} AS {quote_ident(c)}")
    where = "TRUE" if action is None else "s._action = ?"
    params: list[Any] = [] if action is None else [action]
    # the row numbers first (a view then works out only what it filters on), then those rows whole;
    # the range lets the scan of the staged rows skip to them
    ids = [r[0] for r in cur.execute(f"SELECT _row FROM {STG} s WHERE {where} ORDER BY _row LIMIT {int(limit)}",
                                     params).fetchall()]
    raw = picked_rows(cur, src, ids)
    return cur.sql(
        f"SELECT s._row + {int(src.first_data_row)} AS row, s._action AS action, {', '.join(cols)} "
        f"FROM {STG} s JOIN {raw} raw ON raw._r = s._row "
        f"WHERE s._row BETWEEN ? AND ? AND list_contains(?, s._row) ORDER BY s._row",
        params=[min(ids, default=0), max(ids, default=-1), ids]).pl()
