"""Who is acting, and what they may see and change: the one place for row rules.

Every crm_core read and write takes an `Actor`. Reads put `scope(...)` into their
WHERE clause; writes call `require(...)`/`can_edit_owner(...)`. Pages only hide
what a role cannot use; the rules that protect data live here.

Roles:
- admin: everything.
- manager: the data of their department's people (and unowned pool accounts).
- rep: their own accounts and opportunities, and the public pool.
- analyst: reads everything, imports and exports, no pipeline edits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from crm_core.errors import NotFound, PermissionDenied

ROLES = ("admin", "manager", "rep", "analyst")


@dataclass(frozen=True)
class Actor:
    id: int | None
    login: str
    role: str
    display_name: str = ""
    department_id: int | None = None
    region: str | None = None
    # ids of users whose rows a manager may see (their department's people); filled by load_actor
    team_ids: tuple[int, ...] = field(default_factory=tuple)

    @classmethod
    def system(cls) -> Actor:
        """The actor for cron and command-line maintenance: acts as admin."""
        return cls(id=None, login="system", role="admin", display_name="System")

    @property
    def sees_all(self) -> bool:
        return self.role in ("admin", "analyst")

    @property
    def can_edit_pipeline(self) -> bool:
        return self.role in ("admin", "manager", "rep")

    @property
    def is_manager_or_admin(self) -> bool:
        return self.role in ("admin", "manager")


def load_actor(db: Any, login: str) -> Actor:
    """Build the Actor for an active user by login name."""
    row = db.one(
        "SELECT id, login, role, display_name, department_id, region FROM users WHERE login = ? AND active",
        [login],
    )
    if row is None:
        raise NotFound(f"No active user with login {login!r}.")
    team: tuple[int, ...] = ()
    if row["role"] == "manager":
        team = tuple(
            r[0]
            for r in db.rows(
                """
                WITH RECURSIVE depts(id) AS (
                    SELECT ?::BIGINT
                    UNION SELECT d.id FROM departments d JOIN depts ON d.parent_id = depts.id
                )
                SELECT id FROM users WHERE department_id IN (SELECT id FROM depts) OR manager_id = ? OR id = ?
                """,
                [row["department_id"], row["id"], row["id"]],
            )
        )
    return Actor(
        id=row["id"],
        login=row["login"],
        role=row["role"],
        display_name=row["display_name"],
        department_id=row["department_id"],
        region=row["region"],
        team_ids=team,
    )


def owner_scope(actor: Actor, column: str = "owner_id", *, include_pool: bool = False) -> tuple[str, list[Any]]:
    """A SQL condition (and its parameters) limiting rows to those `actor` may see.

    `column` is a trusted column expression written by crm_core (never user text).
    With include_pool, rows with no owner (the public pool) are visible too.
    """
    if actor.sees_all:
        return "TRUE", []
    pool = f" OR {column} IS NULL" if include_pool else ""
    if actor.role == "manager":
        ids = list(actor.team_ids) or [actor.id]
        return f"({column} IN (SELECT unnest(?::BIGINT[])){pool})", [ids]
    return f"({column} = ?{pool})", [actor.id]


def visible_owner_ids(actor: Actor) -> list[int] | None:
    """The owners whose rows the actor may see; None means all."""
    if actor.sees_all:
        return None
    if actor.role == "manager":
        return list(actor.team_ids) or [actor.id]
    return [actor.id]


def can_see_owner(actor: Actor, owner_id: int | None, *, pool_visible: bool = False) -> bool:
    ids = visible_owner_ids(actor)
    if ids is None:
        return True
    if owner_id is None:
        return pool_visible
    return owner_id in ids


def require(actor: Actor, allowed: bool, what: str) -> None:
    """Raise PermissionDenied with a readable message unless `allowed`."""
    if not allowed:
        raise PermissionDenied(f"Your role ({actor.role}) does not allow you to {what}.")


def require_role(actor: Actor, roles: tuple[str, ...], what: str) -> None:
    require(actor, actor.role in roles, what)


def require_pipeline_edit(actor: Actor, owner_id: int | None, what: str = "change this record") -> None:
    """Pipeline edits: admins any, managers their team's, reps their own; analysts none."""
    require(actor, actor.can_edit_pipeline, what)
    if actor.role == "admin":
        return
    require(actor, can_see_owner(actor, owner_id), what + " (it belongs to another owner)")
