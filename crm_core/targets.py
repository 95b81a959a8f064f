"""Targets (plan values): create, edit, delete, save a grid of edits, import a CSV.

A target is a value for one metric and one month, fiscal quarter or fiscal
year, on any combination of owner, department, region, product and account
(a blank dimension means "all"). Edits are versioned (a stale edit is refused
with the current values) and audited in the same transaction. Who may change
what: admins every target; managers the targets of their team's people and of
their departments; reps and analysts none.
"""

from __future__ import annotations

import csv
import io
import math
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import polars as pl

from crm_core import audit, periods, records
from crm_core.access import Actor, can_see_owner, require
from crm_core.db import Database
from crm_core.errors import DuplicateError, NotFound, ValidationError
from crm_core.plans import METRICS, _actor_departments

DIMS = ("owner_id", "department_id", "region", "product_id", "account_id")
FIELDS = ("grain", "period_start", "metric", *DIMS, "value", "note")
MAX_ERRORS = 20

# Column headers an import understands (English and Chinese), each to its field.
HEADERS = {
    "period": "period", "期间": "period", "周期": "period",
    "grain": "grain", "粒度": "grain", "期间类型": "grain",
    "metric": "metric", "指标": "metric",
    "owner": "owner", "rep": "owner", "负责人": "owner", "销售": "owner",
    "department": "department", "部门": "department",
    "region": "region", "区域": "region", "地区": "region",
    "product": "product", "产品": "product",
    "account": "account", "customer": "account", "客户": "account",
    "value": "value", "target": "value", "quota": "value", "目标": "value", "目标值": "value",
    "note": "note", "备注": "note",
}
METRIC_NAMES = {
    **{m: m for m in METRICS},
    "won amount": "won_amount", "赢单金额": "won_amount", "成交金额": "won_amount",
    "order revenue": "order_revenue", "订单收入": "order_revenue", "订单金额": "order_revenue",
    "collected": "collected", "money collected": "collected", "回款": "collected", "回款金额": "collected",
    "won count": "won_count", "won deals": "won_count", "赢单数": "won_count", "成交数": "won_count",
    "new opportunities": "new_opportunities", "新商机": "new_opportunities", "新增商机": "new_opportunities",
    "new customers": "new_customers", "新客户": "new_customers", "新增客户": "new_customers",
}
GRAIN_NAMES = {"month": "month", "quarter": "quarter", "year": "year", "月": "month", "季度": "quarter",
               "年": "year", "月度": "month", "年度": "year"}


# -- validation --------------------------------------------------------------


def _require_edit(db: Database, actor: Actor, row: dict[str, Any]) -> None:
    """Admins any target; managers their team's people and departments; nobody else."""
    require(actor, actor.role in ("admin", "manager"), "change targets")
    if actor.role == "admin":
        return
    if row.get("owner_id") is not None:
        require(actor, can_see_owner(actor, row["owner_id"]),
                "change the targets of people outside your team")
        return
    require(actor, row.get("department_id") in _actor_departments(db, actor),
            "change targets other than your team's and your departments'")


def _exists(cur: Any, table: str, row_id: Any) -> bool:
    return cur.execute(f"SELECT 1 FROM {table} WHERE id = ?", [row_id]).fetchone() is not None


def clean(db: Database, cur: Any, row: dict[str, Any], fy_start: int) -> dict[str, Any]:
    """A complete, checked target row from loose input; raises ValidationError saying what is wrong."""
    out = {k: row.get(k) for k in FIELDS}
    grain = out["grain"]
    if grain not in periods.GRAINS:
        raise ValidationError(f"grain {grain!r} is not one of month, quarter, year.", field="grain", value=grain)
    start = out["period_start"]
    if isinstance(start, datetime):
        start = start.date()
    if isinstance(start, str):
        try:
            start = date.fromisoformat(start)
        except ValueError:
            raise ValidationError(f"period start {start!r} is not a date (YYYY-MM-DD).",
                                  field="period_start", value=start) from None
    if not isinstance(start, date):
        raise ValidationError("A target needs a period start date.", field="period_start", value=start)
    out["period_start"] = periods.of_start(grain, start, fy_start).start
    if out["metric"] not in METRICS:
        raise ValidationError(f"metric {out['metric']!r} is not one of {', '.join(METRICS)}.",
                              field="metric", value=out["metric"])
    value = out["value"]
    try:
        dec = Decimal(str(value)).quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError, TypeError):
        raise ValidationError(f"target value {value!r} is not a number.", field="value", value=value) from None
    if not dec.is_finite() or dec < 0 or dec >= Decimal("1e16"):
        raise ValidationError(f"target value {value!r} must be a number from 0 up.", field="value", value=value)
    out["value"] = dec
    for col, table in (("owner_id", "users"), ("department_id", "departments"), ("product_id", "products"),
                       ("account_id", "accounts")):
        v = out[col]
        if v is not None and (isinstance(v, float) and math.isnan(v)):
            v = None
        if v is not None:
            try:
                v = int(v)
            except (TypeError, ValueError):
                raise ValidationError(f"{col} {v!r} is not an id.", field=col, value=v) from None
            if not _exists(cur, table, v):
                raise ValidationError(f"{col.removesuffix('_id')} {v} does not exist.", field=col, value=v)
        out[col] = v
    region = out["region"]
    out["region"] = str(region).strip() if region not in (None, "") and str(region).strip() else None
    note = out["note"]
    out["note"] = str(note) if note not in (None, "") else None
    return out


def _same_key(cur: Any, row: dict[str, Any], exclude_id: int | None = None) -> dict[str, Any] | None:
    """The existing target with the same period, metric and dimensions, if any."""
    conds = " AND ".join(f"{c} IS NOT DISTINCT FROM ?" for c in DIMS)
    res = cur.execute(
        f"SELECT * FROM targets WHERE grain = ? AND period_start = ? AND metric = ? AND {conds} "
        "AND (?::BIGINT IS NULL OR id <> ?)",
        [row["grain"], row["period_start"], row["metric"], *(row[c] for c in DIMS), exclude_id, exclude_id],
    )
    cols = [d[0] for d in res.description]
    found = res.fetchone()
    return dict(zip(cols, found)) if found else None


def _describe(row: dict[str, Any]) -> str:
    dims = ", ".join(f"{c.removesuffix('_id')} {row[c]}" for c in DIMS if row.get(c) is not None) or "everyone"
    return f"{row['metric']} {row['grain']} from {row['period_start']} for {dims}"


# -- writes ------------------------------------------------------------------


def create(db: Database, actor: Actor, row: dict[str, Any], *, cur: Any = None) -> int:
    """Add a target; refuses one that duplicates an existing target's period, metric and dimensions."""
    if cur is None:
        with db.atomic() as tx:
            return create(db, actor, row, cur=tx)
    fy = periods.fiscal_year_start_month(db)
    row = clean(db, cur, row, fy)
    _require_edit(db, actor, row)
    dup = _same_key(cur, row)
    if dup is not None:
        raise DuplicateError(f"A target already exists for {_describe(row)} (id {dup['id']}, value {dup['value']}); "
                             "change that one instead.", existing=dup)
    new_id = cur.execute(
        f"INSERT INTO targets ({', '.join(FIELDS)}) VALUES ({', '.join('?' for _ in FIELDS)}) RETURNING id",
        [row[k] for k in FIELDS],
    ).fetchone()[0]
    audit.record(cur, actor, "create", "target", new_id, after=row)
    return new_id


def update(db: Database, actor: Actor, target_id: int, expected_version: int, changes: dict[str, Any], *,
           cur: Any = None) -> dict[str, Any]:
    """Change a target if nobody changed it since `expected_version`."""
    if cur is None:
        with db.atomic() as tx:
            return update(db, actor, target_id, expected_version, changes, cur=tx)
    before = records.fetch_row(cur, "targets", target_id)
    if before is None:
        raise NotFound(f"Target {target_id} does not exist (it may have been deleted).")
    _require_edit(db, actor, before)
    merged = clean(db, cur, {**before, **changes}, periods.fiscal_year_start_month(db))
    _require_edit(db, actor, merged)
    dup = _same_key(cur, merged, exclude_id=target_id)
    if dup is not None:
        raise DuplicateError(f"Another target (id {dup['id']}) already covers {_describe(merged)}.", existing=dup)
    return records.update_versioned(db, actor, "targets", target_id, expected_version,
                                    {k: merged[k] for k in FIELDS}, entity="target", cur=cur)


def delete(db: Database, actor: Actor, target_id: int, expected_version: int, *, cur: Any = None) -> None:
    """Remove a target unless it changed since `expected_version`."""
    if cur is None:
        with db.atomic() as tx:
            return delete(db, actor, target_id, expected_version, cur=tx)
    before = records.fetch_row(cur, "targets", target_id)
    if before is None:
        raise NotFound(f"Target {target_id} does not exist (it may have been deleted).")
    _require_edit(db, actor, before)
    if before["version"] != expected_version:
        from crm_core.errors import StaleEditError

        raise StaleEditError(
            f"Target {target_id} was changed by someone else since you loaded it (your copy is version "
            f"{expected_version}, the current one is version {before['version']}); it was not deleted.",
            current=before)
    cur.execute("DELETE FROM targets WHERE id = ?", [target_id])
    audit.record(cur, actor, "delete", "target", target_id, before=before)
    return None


def save_grid(db: Database, actor: Actor, *, added: list[dict[str, Any]] = (),
              changed: list[tuple[int, int, dict[str, Any]]] = (),
              deleted: list[tuple[int, int]] = ()) -> dict[str, int]:
    """Apply a grid's edits in one transaction: all of them or, on any error, none.

    `changed` holds (id, version the user loaded, changed fields); `deleted` (id, version).
    """
    with db.atomic() as cur:
        for tid, ver, ch in changed:
            try:
                update(db, actor, tid, ver, ch, cur=cur)
            except ValidationError as exc:
                raise ValidationError(f"Target {tid}: {exc}", field=exc.field, value=exc.value) from None
        for tid, ver in deleted:
            delete(db, actor, tid, ver, cur=cur)
        for i, row in enumerate(added, start=1):
            try:
                create(db, actor, row, cur=cur)
            except ValidationError as exc:
                raise ValidationError(f"New row {i}: {exc}", field=exc.field, value=exc.value) from None
    return {"added": len(added), "changed": len(changed), "deleted": len(deleted)}


def save_labeled_grid(db: Database, actor: Actor, *, added: list[dict[str, Any]] = (),
                      changed: list[tuple[int, int, dict[str, Any]]] = (),
                      deleted: list[tuple[int, int]] = ()) -> dict[str, int]:
    """`save_grid` for rows as the page shows them: period labels and names instead of ids.

    `changed` holds (id, version loaded, the whole row after the edit).
    """
    fy = periods.fiscal_year_start_month(db)
    resolver = Resolver(db)

    def convert(row: dict[str, Any], where: str) -> dict[str, Any]:
        try:
            return from_labels(db, resolver, row, fy)
        except ValidationError as exc:
            raise ValidationError(f"{where}: {exc}", field=exc.field, value=exc.value) from None

    return save_grid(
        db, actor,
        added=[convert(r, f"New row {i}") for i, r in enumerate(added, start=1)],
        changed=[(tid, ver, convert(r, f"Target {tid}")) for tid, ver, r in changed],
        deleted=list(deleted),
    )


# -- names to ids ------------------------------------------------------------


class Resolver:
    """Looks up owners, departments, products and accounts by id, login, name or external id."""

    def __init__(self, db: Database):
        self.owners = _index(db.rows("SELECT id, login, display_name, NULL FROM users"))
        self.departments = _index(db.rows("SELECT id, name, NULL, NULL FROM departments"))
        self.products = _index(db.rows("SELECT id, name, external_id, NULL FROM products"))
        self.accounts = _index(db.rows("SELECT id, name, external_id, normalized_name FROM accounts "
                                       "WHERE merged_into_id IS NULL"))

    def find(self, kind: str, text: Any) -> int | None:
        if text is None or str(text).strip() == "":
            return None
        key = str(text).strip().casefold()
        found = getattr(self, kind).get(key)
        if found is None:
            from crm_core.names import normalize_company_name

            if kind == "accounts":
                found = self.accounts.get(normalize_company_name(str(text)).casefold())
        if found is None:
            raise ValidationError(f"no {kind.removesuffix('s')} called {str(text).strip()!r}",
                                  field=kind.removesuffix("s"), value=text)
        if found == -1:
            raise ValidationError(f"{str(text).strip()!r} names more than one {kind.removesuffix('s')}; use its id",
                                  field=kind.removesuffix("s"), value=text)
        return found


def _index(rows: list[tuple]) -> dict[str, int]:
    out: dict[str, int] = {}
    for rid, *keys in rows:
        out[str(rid)] = rid
        for k in keys:
            if k:
                kk = str(k).strip().casefold()
                out[kk] = -1 if kk in out and out[kk] != rid else rid
    return out


def from_labels(db: Database, resolver: Resolver, row: dict[str, Any], fy_start: int,
                default_grain: str | None = None) -> dict[str, Any]:
    """A target row from user-facing text: a period label or date, names instead of ids."""
    period_text = row.get("period")
    grain = row.get("grain")
    if grain not in (None, ""):
        g = GRAIN_NAMES.get(str(grain).strip().casefold())
        if g is None:
            raise ValidationError(f"grain {grain!r} is not month, quarter or year", field="grain", value=grain)
        grain = g
    else:
        grain = None
    if period_text is None or str(period_text).strip() == "":
        raise ValidationError("the period is empty (expected e.g. 2026-07, 2026Q3, FY2026)", field="period")
    text = str(period_text).strip()
    day = None
    for fmt in ("%Y-%m-%d", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M:%S.%f", "%Y/%m/%d"):
        try:
            day = datetime.strptime(text, fmt).date()
            break
        except ValueError:
            continue
    if day is not None:
        # a date names the period of the given grain that contains it
        p = periods.containing(day, grain or default_grain or "month", fy_start)
    else:
        p = periods.parse(text, fy_start)
        if grain and p.grain != grain:
            raise ValidationError(f"the period {text!r} is a {p.grain}, but the grain column says {grain}",
                                  field="period", value=text)
    metric_text = str(row.get("metric") or "").strip()
    metric = METRIC_NAMES.get(metric_text.casefold()) or METRIC_NAMES.get(metric_text.replace("_", " ").casefold())
    if metric is None:
        raise ValidationError(f"metric {metric_text!r} is not one of {', '.join(METRICS)}", field="metric",
                              value=metric_text)
    value = row.get("value")
    if isinstance(value, str):
        value = value.replace(",", "").replace("¥", "").replace("$", "").strip()
    return {
        "grain": p.grain, "period_start": p.start, "metric": metric,
        "owner_id": resolver.find("owners", row.get("owner")),
        "department_id": resolver.find("departments", row.get("department")),
        "region": (str(row.get("region")).strip() or None) if row.get("region") not in (None, "") else None,
        "product_id": resolver.find("products", row.get("product")),
        "account_id": resolver.find("accounts", row.get("account")),
        "value": value, "note": row.get("note") or None,
    }


# -- import ------------------------------------------------------------------


def read_table(data: bytes | str, *, delimiter: str | None = None, has_header: bool = True,
               columns: list[str] | None = None) -> list[dict[str, Any]]:
    """Rows of a small CSV/TSV as dicts of field -> text.

    Headers are matched in English or Chinese (see HEADERS); without a header,
    `columns` names the fields of each position (None or "" skips a column).
    """
    if isinstance(data, bytes):
        for enc in ("utf-8-sig", "gb18030"):
            try:
                text = data.decode(enc)
                break
            except UnicodeDecodeError:
                continue
        else:
            raise ValidationError("The file is neither UTF-8 nor GBK text.")
    else:
        text = data
    text = text.lstrip("\ufeff")
    if not text.strip():
        raise ValidationError("The file is empty.")
    if delimiter is None:
        first = text.splitlines()[0]
        delimiter = max((",", "\t", ";", "|"), key=first.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    raw = [r for r in reader if any(c.strip() for c in r)]
    if has_header:
        header, body = raw[0], raw[1:]
        fields = []
        for h in header:
            name = HEADERS.get(h.strip().casefold())
            if name is None and h.strip():
                raise ValidationError(
                    f"Unknown column {h.strip()!r} in the header; expected some of: period, grain, metric, owner, "
                    "department, region, product, account, value, note (or 期间, 指标, 负责人, 部门, 区域, 产品, 客户, 目标, 备注).",
                    field="header", value=h)
            fields.append(name)
        missing = {"period", "value"} - set(fields)
        if missing:
            raise ValidationError(f"The file has no {' or '.join(sorted(missing))} column.", field="header")
    else:
        if not columns:
            raise ValidationError("A file without a header row needs the meaning of each column.", field="columns")
        fields, body = [c or None for c in columns], raw
    return [{f: (cell.strip() if cell is not None else None) for f, cell in zip(fields, r) if f} for r in body]


def import_rows(db: Database, actor: Actor, rows: list[dict[str, Any]], *, default_grain: str | None = None,
                default_metric: str | None = None, file_name: str | None = None,
                first_line: int = 2) -> dict[str, int]:
    """Load target rows (field -> text): check every row first; any error changes nothing.

    Errors name the file line (`first_line` is the line of rows[0]).

    A row matching an existing target (same period, metric and dimensions)
    updates its value; others are added. Returns counts.
    """
    require(actor, actor.role in ("admin", "manager"), "import targets")
    if not rows:
        raise ValidationError("The file has no data rows.")
    fy = periods.fiscal_year_start_month(db)
    resolver = Resolver(db)
    errors: list[str] = []
    cleaned: list[tuple[int, dict[str, Any]]] = []
    with db.cursor() as cur:
        for n, row in enumerate(rows, start=first_line):
            try:
                if default_metric and not row.get("metric"):
                    row = {**row, "metric": default_metric}
                t = clean(db, cur, from_labels(db, resolver, row, fy, default_grain), fy)
                _require_edit(db, actor, t)
                cleaned.append((n, t))
            except (ValidationError, NotFound) as exc:
                errors.append(f"row {n}: {exc}")
            except Exception as exc:  # a PermissionDenied names the row too
                from crm_core.errors import CrmError

                if not isinstance(exc, CrmError):
                    raise
                errors.append(f"row {n}: {exc}")
            if len(errors) >= MAX_ERRORS:
                break
    seen: dict[tuple, int] = {}
    for n, t in cleaned:
        key = (t["grain"], t["period_start"], t["metric"], *(t[c] for c in DIMS))
        if key in seen:
            errors.append(f"row {n}: the same target as row {seen[key]} ({_describe(t)})")
        seen.setdefault(key, n)
    if errors:
        more = "" if len(errors) < MAX_ERRORS else " (stopped after 20 errors)"
        raise ValidationError(f"Nothing was imported: {len(errors)} row(s) have errors{more}.\n" + "\n".join(errors))
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    with db.atomic() as cur:
        batch = cur.execute(
            "INSERT INTO import_batches (entity, file_name, rows_total, created_by) VALUES ('targets', ?, ?, ?) "
            "RETURNING id", [file_name, len(cleaned), actor.id]).fetchone()[0]
        for _n, t in cleaned:
            existing = _same_key(cur, t)
            if existing is None:
                new_id = cur.execute(
                    f"INSERT INTO targets ({', '.join(FIELDS)}, import_batch_id) "
                    f"VALUES ({', '.join('?' for _ in FIELDS)}, ?) RETURNING id",
                    [*(t[k] for k in FIELDS), batch]).fetchone()[0]
                audit.record(cur, actor, "import", "target", new_id, after=t, note=f"batch {batch}")
                counts["created"] += 1
            elif existing["value"] == t["value"] and existing["note"] == t["note"]:
                counts["unchanged"] += 1
            else:
                cur.execute("INSERT INTO import_row_backups (batch_id, table_name, row_id, before) VALUES (?, ?, ?, ?)",
                            [batch, "targets", existing["id"], _json(existing)])
                records.update_versioned(db, actor, "targets", existing["id"], existing["version"],
                                         {"value": t["value"], "note": t["note"]}, entity="target", cur=cur)
                counts["updated"] += 1
        cur.execute("UPDATE import_batches SET rows_created = ?, rows_updated = ?, rows_unchanged = ? WHERE id = ?",
                    [counts["created"], counts["updated"], counts["unchanged"], batch])
    return counts


def _json(row: dict[str, Any]) -> str:
    from crm_core.db import dumps

    return dumps(row)


def import_csv(db: Database, actor: Actor, data: bytes | str, *, delimiter: str | None = None,
               has_header: bool = True, columns: list[str] | None = None, default_grain: str | None = None,
               default_metric: str | None = None, file_name: str | None = None) -> dict[str, int]:
    """Import targets from CSV/TSV text: all rows or, if any row is wrong, none."""
    rows = read_table(data, delimiter=delimiter, has_header=has_header, columns=columns)
    return import_rows(db, actor, rows, default_grain=default_grain, default_metric=default_metric,
                       file_name=file_name, first_line=2 if has_header else 1)


TEMPLATE = "period,metric,owner,department,region,product,account,value,note\n" \
           "2026Q3,won_amount,rep2,,,,,300000,\n2026Q3,collected,,East Sales,,,,1200000,\n"


def export_rows(df: pl.DataFrame) -> pl.DataFrame:
    """Targets in the import's own format (what `import_csv` reads back)."""
    return df.select(period="period", metric="metric", owner="owner", department="department", region="region",
                     product="product", account="account", value="target", note="note")
