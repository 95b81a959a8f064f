"""Typed conversion of imported text, as DuckDB SQL expressions.

Every function takes the SQL of a cleaned text value (NULL when blank) and
returns the SQL of the converted value, NULL when it cannot be converted. The
staging query (`plan.py`) compares "text present, converted value NULL" to
find bad values, so one pass over the file converts and validates every row.

Only crm_core's own constants are written into these expressions; anything a
user typed reaches SQL as a column of the staged file or a bound parameter.
"""

from __future__ import annotations

from typing import Any

from crm_core.errors import ValidationError

# Formats tried after ISO (DuckDB's own cast handles YYYY-MM-DD[ HH:MM:SS]).
_YMD = ["%Y/%m/%d", "%Y.%m.%d", "%Y%m%d", "%Y年%m月%d日", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M",
        "%d %b %Y", "%d-%b-%Y", "%b %d, %Y", "%B %d, %Y", "%d %B %Y", "%Y-%m-%dT%H:%M:%S.%fZ", "%Y-%m-%dT%H:%M:%SZ"]
_DMY = ["%d/%m/%Y", "%d.%m.%Y", "%d-%m-%Y", "%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M", "%d.%m.%Y %H:%M"]
_MDY = ["%m/%d/%Y", "%m-%d-%Y", "%m.%d.%Y", "%m/%d/%Y %H:%M:%S", "%m/%d/%Y %H:%M", "%m/%d/%Y %I:%M %p"]
DATE_ORDERS = ("dmy", "mdy")
_SLASHED = r"^(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4})"

TRUE_WORDS = ("true", "yes", "y", "1", "t", "x", "是", "对", "有效", "active", "done", "完成")
FALSE_WORDS = ("false", "no", "n", "0", "f", "否", "无效", "inactive", "open", "未完成")


def lit(text: str) -> str:
    """A SQL string literal of one of crm_core's own constants (never user text)."""
    return "'" + str(text).replace("'", "''") + "'"


def clean(col: str) -> str:
    """Blank and whitespace-only cells become NULL."""
    return f"nullif(trim({col}), '')"


def clean_fast(col: str) -> str:
    """`clean` that copies only the values that need trimming (most cells do not)."""
    return (f"CASE WHEN {col} = '' THEN NULL WHEN starts_with({col}, ' ') OR ends_with({col}, ' ') "
            f"OR starts_with({col}, '\t') THEN nullif(trim({col}), '') ELSE {col} END")


def text(v: str) -> str:
    return v


def integer(v: str) -> str:
    return f"coalesce(TRY_CAST({v} AS BIGINT), TRY_CAST(regexp_replace({v}, '[,\\s]|\\.0+$', '', 'g') AS BIGINT))"


def amount(v: str) -> str:
    """Amounts: 1,234.50 / 1.234,50 / ¥1 234 / $(12.00) / 12 USD -> DECIMAL(18,2).

    The common shape (digits, commas as thousands separators, a dot) takes a
    cheap path. The rest is parsed inside a lambda: DuckDB hoists repeated
    subexpressions out of COALESCE and would otherwise run the regular
    expressions on every row, not only on the rows that need them.
    """
    fast = (f"CASE WHEN NOT contains({v}, ',') THEN TRY_CAST({v} AS DECIMAL(18, 2)) "
            f"WHEN regexp_full_match({v}, '-?[0-9,]*\\.?[0-9]*') AND {v} NOT LIKE '%,__' "
            f"AND {v} NOT LIKE '%,_' THEN TRY_CAST(replace({v}, ',', '') AS DECIMAL(18, 2)) END")
    s = "regexp_replace(x, '[\\s$¥￥€£'']|CNY|RMB|USD|EUR|元', '', 'g')"
    body = ("CASE WHEN regexp_full_match(y, '\\(?-?\\d{1,3}(\\.\\d{3})+,\\d{1,2}\\)?') "
            "OR regexp_full_match(y, '\\(?-?\\d+,\\d{1,2}\\)?') THEN replace(replace(y, '.', ''), ',', '.') "
            "ELSE replace(y, ',', '') END")
    signed = "CASE WHEN z LIKE '(%)' THEN '-' || trim(z, '()') ELSE z END"
    slow = (f"list_transform(list_transform(list_transform([{v}], lambda x: {s}), lambda y: {body}), "
            f"lambda z: TRY_CAST({signed} AS DECIMAL(18, 2)))[1]")
    return f"coalesce({fast}, {slow})"


def number(v: str) -> str:
    return f"coalesce(TRY_CAST({v} AS DOUBLE), TRY_CAST(replace({v}, ',', '') AS DOUBLE))"


def probability(v: str) -> str:
    """0.4, 40% and 40 all mean 0.4."""
    n = f"TRY_CAST(replace(replace({v}, '%', ''), ',', '.') AS DOUBLE)"
    return f"CASE WHEN {v} LIKE '%\\%%' ESCAPE '\\' OR {n} > 1 THEN {n} / 100 ELSE {n} END"


def _formats(order: str | None) -> str:
    fmts = _YMD + (_DMY if order == "dmy" else _MDY if order == "mdy" else [])
    return "[" + ", ".join(lit(f) for f in fmts) + "]"


def timestamp(v: str, order: str | None = None) -> str:
    """ISO, the file's D/M/Y or M/D/Y, Chinese 年月日, named months, Excel serial numbers."""
    serial = (f"CASE WHEN regexp_full_match({v}, '\\d{{5}}(\\.\\d+)?') THEN TIMESTAMP '1899-12-30' "
              f"+ to_microseconds(CAST(round(CAST({v} AS DOUBLE) * 86400000000) AS BIGINT)) END")
    # Years outside 1900-2199 are typing mistakes (0202, 20224), not history: `plan` rejects them.
    return f"coalesce(TRY_CAST({v} AS TIMESTAMP), try_strptime({v}, {_formats(order)}), {serial})"


def date(v: str, order: str | None = None) -> str:
    # ISO dates, the usual case, cast directly; anything else goes through the timestamp formats
    return f"coalesce(TRY_CAST({v} AS DATE), CAST({timestamp(v, order)} AS DATE))"


def boolean(v: str) -> str:
    t = ", ".join(lit(w) for w in TRUE_WORDS)
    f = ", ".join(lit(w) for w in FALSE_WORDS)
    return f"(CASE WHEN lower({v}) IN ({t}) THEN TRUE WHEN lower({v}) IN ({f}) THEN FALSE END)"


def enum(v: str, choices: dict[str, str]) -> str:
    """Map the accepted spellings (lower-case) to the stored value."""
    whens = " ".join(f"WHEN {lit(k.lower())} THEN {lit(val)}" for k, val in choices.items())
    return f"(CASE lower({v}) {whens} END)"


def looks_like_formula(v: str) -> str:
    """Text a spreadsheet would run as a formula (=cmd|..., @SUM(...), +HYPERLINK(...))."""
    return (f"(left({v}, 1) IN ('=', '@', '+', '-') "
            f"AND regexp_matches({v}, '^(=|@|[+\\-]\\s*[A-Za-z_]+\\s*\\(|[+\\-=@].*\\|)'))")


# -- ambiguous day/month order -------------------------------------------------------
class AmbiguousDates(ValidationError):
    """The file's dates read both as D/M/Y and M/D/Y: the user must say which."""

    def __init__(self, message: str, *, columns: list[str], samples: list[str]):
        super().__init__(message)
        self.columns = columns
        self.samples = samples


def detect_date_order(cur: Any, table: str, columns: dict[str, str], first_row: int,
                      file_name: str) -> str | None:
    """'dmy', 'mdy' or None (no slashed dates) for the date columns {header: raw column}.

    A day above 12 in the first or second place decides; a file with both is
    refused (it mixes formats), a file with neither is ambiguous and the user
    is asked (AmbiguousDates).
    """
    if not columns:
        return None
    dmy = mdy = slashed = 0
    dmy_row = mdy_row = None
    samples: list[str] = []
    c = clean("v0")
    for col in columns.values():
        res = cur.execute(
            f"""
            WITH p AS (
                SELECT r, {c} AS v,
                       TRY_CAST(regexp_extract({c}, '{_SLASHED}', 1) AS INTEGER) AS a,
                       TRY_CAST(regexp_extract({c}, '{_SLASHED}', 2) AS INTEGER) AS b
                FROM (SELECT _r AS r, {col} AS v0 FROM {table}
                      -- only values that can be slashed dates pay for the regular expressions
                      WHERE NOT starts_with({col}, '19') AND NOT starts_with({col}, '20')
                        AND (contains({col}, '/') OR contains({col}, '.') OR contains({col}, '-'))))
            SELECT count(*) FILTER (WHERE a IS NOT NULL),
                   count(*) FILTER (WHERE a > 12 AND b <= 12), min(r) FILTER (WHERE a > 12 AND b <= 12),
                   count(*) FILTER (WHERE b > 12 AND a <= 12), min(r) FILTER (WHERE b > 12 AND a <= 12),
                   list(v ORDER BY r) FILTER (WHERE a IS NOT NULL)[1:3]
            FROM p
            """
        ).fetchall()[0]
        slashed += res[0]
        dmy += res[1]
        mdy += res[3]
        if res[2] is not None:
            dmy_row = res[2] if dmy_row is None else min(dmy_row, res[2])
        if res[4] is not None:
            mdy_row = res[4] if mdy_row is None else min(mdy_row, res[4])
        samples += [s for s in (res[5] or []) if s]
    if dmy and mdy:
        raise ValidationError(
            f"{file_name}: the dates mix day-first (row {dmy_row + first_row}) and month-first "
            f"(row {mdy_row + first_row}) order: expected one order in the whole file, or ISO dates (YYYY-MM-DD)."
        )
    if dmy:
        return "dmy"
    if mdy:
        return "mdy"
    if slashed:
        raise AmbiguousDates(
            f"{file_name}: dates such as {', '.join(repr(s) for s in samples[:3])} in "
            f"{', '.join(repr(c) for c in columns)} can be read day-first or month-first: "
            "choose the order (D/M/Y or M/D/Y) and import again.",
            columns=list(columns), samples=samples[:3],
        )
    return None
