"""The `crm` command line: init, info, and one clear line for a bad database path."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def crm(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "crm_core", *args], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=120)


def test_init_empty_then_info(tmp_path):
    path = tmp_path / "e.duckdb"
    r = crm("--db", str(path), "init")
    assert r.returncode == 0, r.stderr
    r = crm("--db", str(path), "info", "--format", "json")
    info = json.loads(r.stdout)
    assert info["tables"]["users"] == 0 and info["schema_version"] >= 1
    r = crm("--db", str(path), "init")
    assert r.returncode == 2 and "already exists" in r.stderr and "Traceback" not in r.stderr


def test_init_demo_uses_env_path(tmp_path):
    path = tmp_path / "d.duckdb"
    r = crm("init", "--demo", env={"CRM_DB_PATH": str(path)})
    assert r.returncode == 0, r.stderr
    assert "opportunities" in r.stdout and "panorama-demo" in r.stdout
    r = crm("info", env={"CRM_DB_PATH": str(path)})
    assert "opportunities" in r.stdout and "6,000" in r.stdout


def test_bad_paths_give_one_line(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("not a database\n")
    held = tmp_path / "held.duckdb"
    crm("--db", str(held), "init")
    holder = subprocess.Popen([sys.executable, "-c", f"import duckdb,time; c=duckdb.connect({str(held)!r}); "
                               "print('ok', flush=True); time.sleep(60)"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ok"
        for path, expected in [(text, "not a DuckDB database file"), (tmp_path, "is a directory"),
                               (held, f"in use by process {holder.pid}")]:
            r = crm("--db", str(path), "info")
            assert r.returncode == 2
            assert "Traceback" not in r.stderr
            lines = r.stderr.strip().splitlines()
            assert len(lines) == 1 and expected in lines[0], r.stderr
    finally:
        holder.kill()
        holder.wait()
