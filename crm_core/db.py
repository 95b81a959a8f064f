"""The one way into the DuckDB file.

A `Database` owns a single process-wide DuckDB connection. DuckDB 2.0 refuses
concurrent calls on one connection ("connection is busy"), so every read gets
its own cursor (`query`, `rows`, `scalar`, or `cursor()`), and every write goes
through `atomic()`, which serialises writers on one lock: concurrent writers to
the same row would otherwise fail with "Conflict on update".

Opening the file turns the failures users actually meet (the file is held by
another process, it is not a DuckDB file, it was written by a newer DuckDB, the
directory cannot be written) into one `DatabaseOpenError` with a message that
says what to do.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

if TYPE_CHECKING:  # polars loads on the first query: the sign-in page does not wait for it
    import polars as pl

from crm_core.errors import DatabaseOpenError

DEFAULT_PATH = Path(__file__).resolve().parent.parent / "data" / "crm.duckdb"
MEMORY = ":memory:"


def default_path() -> str:
    """`CRM_DB_PATH` if set, else `data/crm.duckdb` beside the code."""
    return os.environ.get("CRM_DB_PATH") or str(DEFAULT_PATH)


def quote_ident(name: str) -> str:
    """Quote an identifier (a column or table name that came from a user).

    The only sanctioned way to put a user-supplied identifier into SQL.
    """
    if not isinstance(name, str) or not name or "\x00" in name:
        raise ValueError(f"not a valid identifier: {name!r}")
    return '"' + name.replace('"', '""') + '"'


def _explain_open_error(path: str, exc: Exception) -> str:
    text = str(exc)
    if "Conflicting lock" in text or "Could not set lock" in text:
        pid = re.search(r"PID (\d+)", text)
        who = f"process {pid.group(1)}" if pid else "another process"
        return (
            f"The database {path} is in use by {who}. DuckDB allows one writing process per file: "
            "stop that process (for example the running Panorama app or another `crm` command), "
            "or point CRM_DB_PATH at another file."
        )
    if "not a valid DuckDB database file" in text:
        return (
            f"{path} is not a DuckDB database file. Point CRM_DB_PATH at a Panorama database, "
            "or at a path that does not exist yet to create a new one."
        )
    if "version number" in text or "newer version" in text.lower() or "storage version" in text.lower():
        return (
            f"{path} was written by a newer DuckDB than this Panorama uses (duckdb {duckdb.__version__}). "
            "Upgrade Panorama, or export the data from the newer version."
        )
    if "Is a directory" in text:
        return f"{path} is a directory, not a database file. Set CRM_DB_PATH to a file path such as {path}/crm.duckdb."
    if "Permission denied" in text or "Read-only file system" in text:
        return f"Cannot write {path}: permission denied. Choose a writable location with CRM_DB_PATH."
    if "No such file or directory" in text:
        return f"Cannot create {path}: its directory does not exist."
    return f"Cannot open the database {path}: {text}"


def _check_path(path: str) -> None:
    if path == MEMORY:
        return
    p = Path(path)
    if p.is_dir():
        raise DatabaseOpenError(
            f"{path} is a directory, not a database file. Set CRM_DB_PATH to a file path such as {p / 'crm.duckdb'}."
        )
    parent = p.parent if str(p.parent) else Path(".")
    if not p.exists():
        if not parent.exists():
            raise DatabaseOpenError(f"Cannot create {path}: the directory {parent} does not exist.")
        if not os.access(parent, os.W_OK):
            raise DatabaseOpenError(
                f"Cannot create {path}: the directory {parent} is not writable. "
                "Choose a writable location with CRM_DB_PATH."
            )
    elif not os.access(p, os.W_OK):
        raise DatabaseOpenError(f"Cannot write {path}: permission denied. Choose a writable location with CRM_DB_PATH.")


def to_jsonable(value: Any) -> Any:
    """Values as JSON can hold them (dates as ISO text, decimals as strings)."""
    if isinstance(value, dict):
        return {k: to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def dumps(value: Any) -> str:
    return json.dumps(to_jsonable(value), ensure_ascii=False, sort_keys=True)


class Database:
    """One DuckDB file: cursors for reads, one serialised writer, migrations."""

    def __init__(self, path: str | os.PathLike | None = None, *, migrate: bool = True, read_only: bool = False):
        self.path = str(path) if path is not None else default_path()
        _check_path(self.path)
        config = {"autoinstall_known_extensions": False, "autoload_known_extensions": False}
        try:
            self._con = duckdb.connect(self.path, read_only=read_only, config=config)
        except duckdb.Error as exc:
            raise DatabaseOpenError(_explain_open_error(self.path, exc)) from None
        self.read_only = read_only
        self._write_lock = threading.RLock()
        self._local = threading.local()
        # Bumped after every committed write: Streamlit caches key on it so a
        # write invalidates exactly the cached reads of this database.
        self.data_version = 0
        if migrate and not read_only:
            self.migrate()

    # -- lifecycle -------------------------------------------------------
    def close(self) -> None:
        self._con.close()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- reads -----------------------------------------------------------
    @contextmanager
    def cursor(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A cursor of its own for this call; inside `atomic()` on the same
        thread, the transaction's cursor, so reads see uncommitted writes."""
        tx = getattr(self._local, "tx", None)
        if tx is not None:
            yield tx
            return
        cur = self._con.cursor()
        try:
            yield cur
        finally:
            cur.close()

    def query(self, sql: str, params: Sequence[Any] | dict[str, Any] | None = None) -> pl.DataFrame:
        """Run a read and return a polars DataFrame."""
        with self.cursor() as cur:
            return cur.sql(sql, params=params).pl()

    def rows(self, sql: str, params: Sequence[Any] | dict[str, Any] | None = None) -> list[tuple]:
        with self.cursor() as cur:
            return cur.execute(sql, params or []).fetchall()

    def dicts(self, sql: str, params: Sequence[Any] | dict[str, Any] | None = None) -> list[dict[str, Any]]:
        with self.cursor() as cur:
            res = cur.execute(sql, params or [])
            cols = [d[0] for d in res.description]
            return [dict(zip(cols, r)) for r in res.fetchall()]

    def one(self, sql: str, params: Sequence[Any] | dict[str, Any] | None = None) -> dict[str, Any] | None:
        found = self.dicts(sql, params)
        return found[0] if found else None

    def scalar(self, sql: str, params: Sequence[Any] | dict[str, Any] | None = None) -> Any:
        with self.cursor() as cur:
            row = cur.execute(sql, params or []).fetchone()
        return row[0] if row else None

    # -- writes ----------------------------------------------------------
    @contextmanager
    def atomic(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A transaction on the single writer. Nested calls join the outer one.

        Commits on success, rolls back on any exception (which propagates).
        """
        if self.read_only:
            raise DatabaseOpenError(f"{self.path} is open read-only; this action writes.")
        with self._write_lock:
            outer = getattr(self._local, "tx", None)
            if outer is not None:
                yield outer
                return
            cur = self._con.cursor()
            cur.execute("BEGIN TRANSACTION")
            self._local.tx = cur
            try:
                yield cur
                cur.execute("COMMIT")
                self.data_version += 1
            except BaseException:
                try:
                    cur.execute("ROLLBACK")
                except duckdb.Error:
                    pass
                raise
            finally:
                self._local.tx = None
                cur.close()

    def execute(self, sql: str, params: Sequence[Any] | dict[str, Any] | None = None) -> None:
        """One write statement in its own transaction (or the current one)."""
        with self.atomic() as cur:
            cur.execute(sql, params or [])

    def insert_df(self, table: str, df: pl.DataFrame) -> int:
        """Bulk insert a DataFrame through Arrow, matching columns by name."""
        if df.height == 0:
            return 0
        cols = ", ".join(quote_ident(c) for c in df.columns)
        with self.atomic() as cur:
            cur.register("_insert_df", df.to_arrow())
            try:
                cur.execute(f"INSERT INTO {quote_ident(table)} ({cols}) SELECT {cols} FROM _insert_df")
            finally:
                cur.unregister("_insert_df")
        return df.height

    # -- migrations ------------------------------------------------------
    def migrate(self) -> list[str]:
        """Apply numbered migrations from crm_core/schema not yet recorded."""
        with self.atomic() as cur:
            cur.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version INTEGER PRIMARY KEY, name VARCHAR NOT NULL,"
                " applied_at TIMESTAMP NOT NULL DEFAULT current_timestamp)"
            )
        done = {r[0] for r in self.rows("SELECT version FROM schema_migrations")}
        applied = []
        for version, name, sql in available_migrations():
            if version in done:
                continue
            with self.atomic() as cur:
                cur.execute(sql)  # DuckDB runs a multi-statement script in one call
                cur.execute("INSERT INTO schema_migrations (version, name) VALUES (?, ?)", [version, name])
            applied.append(name)
        return applied

    def schema_version(self) -> int:
        return self.scalar("SELECT coalesce(max(version), 0) FROM schema_migrations") or 0

    def table_counts(self) -> dict[str, int]:
        """Row count of every table, for `crm info` and tests."""
        names = [
            r[0]
            for r in self.rows(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = 'main' AND table_type = 'BASE TABLE' ORDER BY table_name"
            )
        ]
        return {n: self.scalar(f"SELECT count(*) FROM {quote_ident(n)}") for n in names}

    def is_empty(self) -> bool:
        return not self.scalar("SELECT count(*) FROM users")


def available_migrations() -> list[tuple[int, str, str]]:
    files = []
    for entry in resources.files("crm_core.schema").iterdir():
        m = re.match(r"^(\d+)_.*\.sql$", entry.name)
        if m:
            files.append((int(m.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    files.sort()
    versions = [f[0] for f in files]
    if len(versions) != len(set(versions)):
        raise RuntimeError(f"two migrations share a number: {versions}")
    return files

