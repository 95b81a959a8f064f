"""`crm users add|list|set-role|reset-password|unlock`: user management from the command line.

Acts as `--user LOGIN` (password from CRM_PASSWORD), else as the system actor
(whoever can open the database file already holds all its data). New
passwords come from CRM_NEW_PASSWORD or a prompt, never from the command line,
where they would land in the shell history and the process list.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys

from crm_core import users
from crm_core.access import ROLES
from crm_core.audit import safe_csv
from crm_core.cli import acting_user, open_db
from crm_core.errors import ValidationError


def _new_password(args: argparse.Namespace) -> str | None:
    password = os.environ.get("CRM_NEW_PASSWORD")
    if password:
        return password
    if getattr(args, "no_password", False):
        return None
    if not sys.stdin.isatty():
        raise ValidationError("No password given: set CRM_NEW_PASSWORD (or run in a terminal to be asked).")
    first = getpass.getpass("New password: ")
    if first != getpass.getpass("Again: "):
        raise ValidationError("The two passwords differ.")
    return first


def _department_id(db, name: str | None) -> int | None:
    if not name:
        return None
    did = db.scalar("SELECT id FROM departments WHERE lower(name) = lower(?)", [name.strip()])
    if did is None:
        raise ValidationError(f"No department named {name!r}.", field="department", value=name)
    return did


def _add(args: argparse.Namespace) -> int:
    db = open_db(args)
    actor = acting_user(db, args)
    manager_id = users.user_id_by_login(db, args.manager) if args.manager else None
    row = users.create_user(db, actor, login=args.login, display_name=args.name or args.login, role=args.role,
                            email=args.email, department_id=_department_id(db, args.department), region=args.region,
                            manager_id=manager_id, password=_new_password(args))
    print(f"Added {row['login']} ({row['role']}), id {row['id']}.")
    return 0


def _list(args: argparse.Namespace) -> int:
    db = open_db(args)
    df = users.list_users(db, acting_user(db, args)).drop("version")
    sys.stdout.write(df.write_json() + "\n" if args.format == "json" else safe_csv(df))
    return 0


def _set_role(args: argparse.Namespace) -> int:
    db = open_db(args)
    row = users.set_role(db, acting_user(db, args), args.login, args.role)
    print(f"{row['login']} is now {row['role']}.")
    return 0


def _reset_password(args: argparse.Namespace) -> int:
    db = open_db(args)
    actor = acting_user(db, args)
    uid = users.user_id_by_login(db, args.login)
    password = _new_password(args)
    if not password:
        raise ValidationError("A new password is required.")
    users.reset_password(db, actor, uid, password)
    print(f"Password of {args.login} changed; their sessions have ended.")
    return 0


def _unlock(args: argparse.Namespace) -> int:
    db = open_db(args)
    users.unlock(db, acting_user(db, args), users.user_id_by_login(db, args.login))
    print(f"{args.login} is unlocked.")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("users", help="manage users: add, list, set-role, reset-password, unlock")
    cmds = p.add_subparsers(dest="users_command", required=True)

    a = cmds.add_parser("add", help="add a user (password from CRM_NEW_PASSWORD or a prompt)")
    a.add_argument("login")
    a.add_argument("--name", help="display name (default: the login)")
    a.add_argument("--role", choices=ROLES, required=True)
    a.add_argument("--email")
    a.add_argument("--department", help="department name")
    a.add_argument("--region")
    a.add_argument("--manager", help="login of their manager")
    a.add_argument("--no-password", action="store_true", help="create without a password (cannot sign in yet)")
    a.set_defaults(func=_add)

    a = cmds.add_parser("list", help="print every user as CSV or JSON")
    a.add_argument("--format", choices=["csv", "json"], default="csv")
    a.set_defaults(func=_list)

    a = cmds.add_parser("set-role", help="change a user's role")
    a.add_argument("login")
    a.add_argument("role", choices=ROLES)
    a.set_defaults(func=_set_role)

    a = cmds.add_parser("reset-password", help="set a new password (from CRM_NEW_PASSWORD or a prompt)")
    a.add_argument("login")
    a.set_defaults(func=_reset_password)

    a = cmds.add_parser("unlock", help="lift a lock-out after too many wrong passwords")
    a.add_argument("login")
    a.set_defaults(func=_unlock)
