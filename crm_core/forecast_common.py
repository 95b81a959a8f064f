"""Pieces every forecast query shares: who may see what, the grouping
dimensions of reports, the funnel's stage sequence and month arithmetic."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from crm_core.access import Actor, owner_scope
from crm_core.db import Database
from crm_core.errors import ValidationError
from crm_core.filters import PipelineFilter

# `by` -> (key expression on deals, label expression, label join on the grouped rows `g`).
# Written here, never user text. Labels are joined after aggregating: joining a
# name onto every one of a million deals costs more than the aggregate itself.
GROUPS: dict[str, tuple[str, str, str]] = {
    "owner": ("o.owner_id", "coalesce(gu.display_name, '(none)')", "LEFT JOIN users gu ON gu.id = g.group_id"),
    "department": ("o.department_id", "coalesce(gd.name, '(none)')",
                   "LEFT JOIN departments gd ON gd.id = g.group_id"),
    "region": ("o.region", "coalesce(g.group_id, '(none)')", ""),
    "product": ("o.product_id", "coalesce(gp.name, '(none)')", "LEFT JOIN products gp ON gp.id = g.group_id"),
    "source": ("o.source", "coalesce(g.group_id, '(none)')", ""),
}
METHODS = ("stage", "override", "empirical")


def group_parts(by: str | None) -> tuple[str, str]:
    """(select list prefix, GROUP BY list) for an optional grouping: the key as `group_id`."""
    if by is None:
        return "", ""
    if by not in GROUPS:
        raise ValidationError(f"cannot group by {by!r}; choose one of: {', '.join(GROUPS)}", field="by", value=by)
    return f"{GROUPS[by][0]} AS group_id, ", GROUPS[by][0]


def labelled(by: str | None, sql: str, order: str = "") -> str:
    """Wrap an aggregate grouped by `group_id` so the group's name follows it as column `by`."""
    if by is None:
        return sql
    _, label, join = GROUPS[by]
    return f"SELECT g.group_id, {label} AS {by}, g.* EXCLUDE (group_id) FROM ({sql}) g {join} " \
           f"ORDER BY {order or by + ', g.group_id'}"


def scope_where(actor: Actor, flt: PipelineFilter, *, date_column: str | None = None,
                alias: str = "o") -> tuple[str, list[Any]]:
    """The actor's row scope and the filter's dimensions (and period on `date_column`)."""
    scope, sp = owner_scope(actor, f"{alias}.owner_id")
    where, wp = flt.where(alias, date_column=date_column, skip=() if date_column else ("date",))
    return f"{scope} AND {where}", [*sp, *wp]


def add_in(conds: list[str], params: list[Any], column: str, values: tuple, typ: str = "BIGINT") -> None:
    """Append `column IN (values)` (bound as one list) when values were chosen; `column` is crm_core's text."""
    if values:
        conds.append(f"{column} IN (SELECT unnest(?::{typ}[]))")
        params.append(list(values))


@dataclass(frozen=True)
class Stage:
    id: int
    name: str
    position: int
    probability: float
    category: str
    is_won: bool
    is_lost: bool


def stages(db: Database) -> list[Stage]:
    """Active stages in pipeline order."""
    return [
        Stage(int(r[0]), r[1], int(r[2]), float(r[3]), r[4], bool(r[5]), bool(r[6]))
        for r in db.rows("SELECT id, name, position, probability, forecast_category, is_won, is_lost "
                         "FROM stages WHERE active ORDER BY position, id")
    ]


def funnel_sequence(db: Database) -> list[Stage]:
    """The funnel: open stages in position order, then the won stage(s)."""
    all_stages = stages(db)
    return [s for s in all_stages if not s.is_won and not s.is_lost] + [s for s in all_stages if s.is_won]


def month_start(d: date) -> date:
    return date(d.year, d.month, 1)


def add_months(d: date, n: int) -> date:
    m = d.year * 12 + d.month - 1 + n
    return date(m // 12, m % 12 + 1, 1)


def ratio(num: Any, den: Any) -> float | None:
    return None if not den else float(num) / float(den)
