"""The Database wrapper: migrations, transactions, cursors, clear open errors."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import duckdb
import pytest

from crm_core import settings
from crm_core.access import Actor
from crm_core.db import Database, available_migrations, quote_ident
from crm_core.errors import DatabaseOpenError


def test_migrations_recorded_once(tmp_path):
    path = tmp_path / "m.duckdb"
    db = Database(path)
    versions = [r[0] for r in db.rows("SELECT version FROM schema_migrations ORDER BY 1")]
    assert versions == [m[0] for m in available_migrations()]
    assert db.migrate() == []  # nothing left to apply
    db.close()
    again = Database(path)
    assert again.schema_version() == versions[-1]
    again.close()


def test_every_core_table_exists(db):
    tables = set(db.table_counts())
    for name in ["users", "departments", "accounts", "account_links", "contacts", "stages", "opportunities",
                 "stage_history", "opportunity_contacts", "activities", "products", "orders", "contracts",
                 "payments", "targets", "forecast_snapshots", "settings", "import_batches", "audit_log"]:
        assert name in tables


def test_atomic_rolls_back_everything(db):
    with pytest.raises(RuntimeError):
        with db.atomic() as cur:
            cur.execute("INSERT INTO products (name) VALUES ('A')")
            with db.atomic() as inner:  # nested joins the outer transaction
                inner.execute("INSERT INTO products (name) VALUES ('B')")
            raise RuntimeError("boom")
    assert db.scalar("SELECT count(*) FROM products") == 0


def test_reads_inside_transaction_see_its_writes(db):
    with db.atomic() as cur:
        cur.execute("INSERT INTO products (name) VALUES ('A')")
        assert db.scalar("SELECT count(*) FROM products") == 1
    assert db.scalar("SELECT count(*) FROM products") == 1


def test_data_version_bumps_on_commit_only(db):
    v = db.data_version
    db.execute("INSERT INTO products (name) VALUES ('A')")
    assert db.data_version == v + 1
    with pytest.raises(duckdb.Error):
        db.execute("INSERT INTO products (name) VALUES ('A')")  # unique name
    assert db.data_version == v + 1


def test_quote_ident_neutralises_quotes():
    assert quote_ident('a"b') == '"a""b"'
    with pytest.raises(ValueError):
        quote_ident("")


def test_text_file_is_refused_clearly(tmp_path):
    p = tmp_path / "notes.txt"
    p.write_text("hello\n" * 100)
    with pytest.raises(DatabaseOpenError, match="not a DuckDB database file"):
        Database(p)
    assert p.read_text() == "hello\n" * 100  # untouched


def test_directory_is_refused_clearly(tmp_path):
    with pytest.raises(DatabaseOpenError, match="is a directory"):
        Database(tmp_path)


def test_missing_directory_is_refused_clearly(tmp_path):
    with pytest.raises(DatabaseOpenError, match="does not exist"):
        Database(tmp_path / "nope" / "x.duckdb")


def test_file_held_by_other_process_names_the_pid(tmp_path):
    path = tmp_path / "held.duckdb"
    Database(path).close()
    holder = subprocess.Popen(
        [sys.executable, "-c", f"import duckdb,time; c=duckdb.connect({str(path)!r}); print('ok', flush=True); "
                               "time.sleep(30)"],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ok"
        with pytest.raises(DatabaseOpenError) as exc:
            Database(path)
        msg = str(exc.value)
        assert f"process {holder.pid}" in msg
        assert "stop that process" in msg
    finally:
        holder.kill()
        holder.wait()


def test_concurrent_reads_and_writes_from_threads(demo_db):
    """8 threads x 200 mixed reads and writes through crm_core: no error, every write kept."""
    from crm_core import lookups, opportunities, records

    admin = Actor.system()
    open_ids = [r[0] for r in demo_db.rows("SELECT id FROM opportunities WHERE status = 'open' ORDER BY id LIMIT 8")]
    assert len(open_ids) == 8
    errors: list[BaseException] = []
    written: list[str] = []
    lock = threading.Lock()

    def worker(n: int) -> None:
        opp_id = open_ids[n]
        version = demo_db.scalar("SELECT version FROM opportunities WHERE id = ?", [opp_id])
        try:
            for i in range(200):
                kind = i % 4
                if kind == 0:
                    key = f"test.thread{n}.{i}"
                    settings.put(demo_db, admin, key, {"n": n, "i": i})
                    with lock:
                        written.append(key)
                elif kind == 1:
                    after = records.update_versioned(demo_db, admin, "opportunities", opp_id, version,
                                                     {"amount": 1000 + i}, entity="opportunity")
                    version = after["version"]
                elif kind == 2:
                    assert opportunities.list_open(demo_db, admin).height > 0
                else:
                    assert lookups.stages(demo_db).height == 7
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[:3]
    assert time.perf_counter() - started < 120
    stored = {r[0] for r in demo_db.rows("SELECT key FROM settings WHERE key LIKE 'test.thread%'")}
    assert stored == set(written) and len(stored) == 8 * 50
    amounts = demo_db.rows("SELECT amount, version FROM opportunities WHERE id IN (SELECT unnest(?::BIGINT[]))",
                           [open_ids])
    assert all(a == 1197 for a, _ in amounts)  # the last write of each thread (i = 197)
    assert demo_db.scalar("SELECT count(*) FROM audit_log WHERE entity = 'opportunity'") == 8 * 50
