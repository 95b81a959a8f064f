"""Shared fixtures: fresh temporary databases, never data/.

- `db`: a migrated, empty database in a temp dir.
- `demo_db`: a small demo database (scale 0.2, seed 7) pinned to TODAY, so
  figures are fixed; built once per session and copied per test.
- `app_db`: a demo database dated today for AppTest pages, with CRM_DB_PATH
  pointed at it.
"""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest

from crm_core import demo
from crm_core.db import Database

TODAY = date(2026, 6, 30)


@pytest.fixture
def db(tmp_path: Path):
    database = Database(tmp_path / "test.duckdb")
    yield database
    database.close()


@pytest.fixture(scope="session")
def _demo_template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("demo") / "demo.duckdb"
    database = Database(path)
    demo.generate(database, seed=7, today=TODAY, scale=0.2)
    database.close()
    return path


@pytest.fixture
def demo_db(_demo_template: Path, tmp_path: Path):
    path = tmp_path / "demo.duckdb"
    shutil.copy(_demo_template, path)
    database = Database(path)
    yield database
    database.close()


@pytest.fixture(scope="session")
def _app_template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("app") / "app.duckdb"
    database = Database(path)
    demo.generate(database, seed=42, scale=0.2)
    database.close()
    return path


@pytest.fixture
def app_db(_app_template: Path, tmp_path: Path, monkeypatch) -> Path:
    path = tmp_path / "app.duckdb"
    shutil.copy(_app_template, path)
    monkeypatch.setenv("CRM_DB_PATH", str(path))
    return path
