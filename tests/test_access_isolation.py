"""A rep cannot reach another rep's opportunity by any route.

Two copies of the demo database differ only in what rep2 must not see: every
opportunity rep2 neither owns nor works on is renamed to a marker
("ZQXSECRET-O<id>") and its amount changed. (Account names are not secret:
relationship diagrams show a group's companies whoever owns them.) Then every route rep2 has -- every report
in `reports.all_reports()`, every table export, the CLI with rep2's login,
searches, filters, the graph functions, direct reads and writes by id, and
every page in pages/ -- must (1) never show a marker and (2) give exactly the
same answer on both copies: a leak of other reps' deals (even summed into a
total) would change it. New reports, exports and pages are covered without
editing this file.
"""

from __future__ import annotations

import io
import shutil
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import polars as pl
import pytest

from crm_core import exporter, graph, hooks, opportunities
from crm_core.access import load_actor
from crm_core.cli import main
from crm_core.db import Database
from crm_core.errors import CrmError
from crm_core.filters import PipelineFilter
from crm_core.reports import ReportOptions, all_reports
from tests.conftest import TODAY

REP = "rep2"
MARK = "ZQXSECRET"
ROOT = Path(__file__).resolve().parent.parent
PAGES = sorted(p.name for p in (ROOT / "pages").glob("*.py"))


def _perturb(db: Database) -> None:
    rep = db.scalar("SELECT id FROM users WHERE login = ?", [REP])
    with db.atomic() as cur:
        cur.execute(
            f"""UPDATE opportunities SET name = '{MARK}-O' || id, amount = amount * 3 + 7, version = version + 1
                WHERE owner_id IS DISTINCT FROM ?
                  AND id NOT IN (SELECT opportunity_id FROM opportunity_team WHERE user_id = ?)""",
            [rep, rep])
    for table in ("opportunities", "accounts"):
        hooks.notify(db, table, None)  # derived data (value summary, ...) recomputed as after a real edit


@pytest.fixture(scope="module")
def pair(_demo_template, tmp_path_factory):
    """(path of the untouched copy, path of the perturbed copy); both closed."""
    hooks.load_listeners()
    tmp = tmp_path_factory.mktemp("isolation")
    base, changed = tmp / "base.duckdb", tmp / "changed.duckdb"
    shutil.copy(_demo_template, base)
    shutil.copy(_demo_template, changed)
    with Database(base):
        pass  # migrations added since the template was built
    with Database(changed) as db:
        _perturb(db)
        assert db.scalar("SELECT count(*) FROM opportunities WHERE name LIKE ?", [f"{MARK}%"]) > 100
    return base, changed


@pytest.fixture(scope="module")
def dbs(pair):
    base, changed = Database(pair[0]), Database(pair[1])
    yield base, changed
    base.close()
    changed.close()


def _text(value) -> str:
    if isinstance(value, pl.DataFrame):
        return repr(value.to_dicts())
    if hasattr(value, "__dict__") and not isinstance(value, type):
        return repr({k: _text(v) for k, v in vars(value).items()})
    return repr(value)


def _answer(fn, db: Database, *args, **kwargs) -> str:
    try:
        return _text(fn(db, load_actor(db, REP), *args, **kwargs))
    except CrmError as exc:
        return f"refused: {exc}"


def _same_and_clean(route: str, base: str, changed: str) -> None:
    assert MARK not in changed, f"{route} shows another rep's deal or account to {REP}"
    assert base == changed, f"{route}: {REP}'s answer changes when only other reps' deals change"


@pytest.mark.parametrize("name", sorted(all_reports()))
def test_reports(dbs, name):
    fn = all_reports()[name]
    for opts in (ReportOptions(today=TODAY), ReportOptions(today=TODAY, by="owner")):
        _same_and_clean(f"report {name} {opts.by or ''}", _answer(fn, dbs[0], opts), _answer(fn, dbs[1], opts))


def test_table_exports(dbs):
    for name in exporter.exportable_tables(load_actor(dbs[0], REP)):
        base = _answer(lambda db, actor, n=name: exporter.to_bytes(exporter.table(db, actor, n)), dbs[0])
        changed = _answer(lambda db, actor, n=name: exporter.to_bytes(exporter.table(db, actor, n)), dbs[1])
        _same_and_clean(f"export {name}", base, changed)


def test_search_filter_and_graph(dbs):
    base, changed = dbs
    rep = load_actor(changed, REP)
    others = [r[0] for r in changed.rows(
        f"SELECT id FROM opportunities WHERE name LIKE '{MARK}%' ORDER BY id LIMIT 5")]
    other_accounts = [r[0] for r in changed.rows(
        "SELECT DISTINCT account_id FROM opportunities WHERE name LIKE ? AND account_id IS NOT NULL "
        "ORDER BY 1 LIMIT 5", [f"{MARK}%"])]
    other_owners = tuple(r[0] for r in changed.rows(
        "SELECT DISTINCT owner_id FROM opportunities WHERE owner_id <> ? AND owner_id IS NOT NULL", [rep.id]))
    routes = {
        "pipeline filtered to other owners": (opportunities.list_open, (PipelineFilter(owner_ids=other_owners),), {}),
        "pipeline": (opportunities.list_open, (), {}),
        "find deals (graph)": (graph.find_opportunities, (), {}),
        "find accounts by marker": (graph.find_accounts, (MARK,), {}),
    }
    try:
        from crm_core import accounts, pool

        routes["account search"] = (accounts.list_accounts, (), {"search": MARK})
        routes["pool search"] = (pool.list_pool, (), {"search": MARK})
    except ImportError:
        pass
    for oid in others:
        routes[f"open deal {oid}"] = (opportunities.get, (oid,), {})
        routes[f"decision tree {oid}"] = (graph.decision_tree, (oid,), {})
    for aid in other_accounts:
        routes[f"account group {aid}"] = (graph.account_group, (aid,), {})
        routes[f"contact chart {aid}"] = (graph.contact_chart, (aid,), {})
        routes[f"deals of account {aid}"] = (opportunities.open_for_account, (aid,), {})
    for route, (fn, args, kwargs) in routes.items():
        _same_and_clean(route, _answer(fn, base, *args, **kwargs), _answer(fn, changed, *args, **kwargs))
    filtered = opportunities.list_open(changed, rep, PipelineFilter(owner_ids=other_owners))
    assert filtered.height == 0


def test_rep_cannot_write_another_reps_deal(dbs):
    changed = dbs[1]
    rep = load_actor(changed, REP)
    oid, version, amount = changed.rows(
        f"SELECT id, version, amount FROM opportunities WHERE name LIKE '{MARK}%' ORDER BY id LIMIT 1")[0]
    with pytest.raises(CrmError):
        opportunities.update(changed, rep, oid, version, {"amount": 1})
    assert changed.scalar("SELECT amount FROM opportunities WHERE id = ?", [oid]) == amount
    from crm_core import activities, links

    contact = changed.scalar("SELECT min(id) FROM contacts")
    before = changed.scalar("SELECT count(*) FROM audit_log")
    for attempt in (lambda: activities.log(changed, rep, kind="call", subject="x", opportunity_id=oid),
                    lambda: links.add_deal_contact(changed, rep, oid, contact, "influencer")):
        with pytest.raises(CrmError):
            attempt()
    assert changed.scalar("SELECT count(*) FROM audit_log") == before


def test_cli_with_the_reps_login(pair, dbs, monkeypatch):
    for db in dbs:
        db.close()
    monkeypatch.setenv("CRM_PASSWORD", "panorama-demo")

    def run(path: Path, *argv: str) -> str:
        out, err = io.TextIOWrapper(io.BytesIO(), encoding="utf-8"), io.StringIO()
        with redirect_stdout(out), redirect_stderr(err):
            code = main(["--db", str(path), "--user", REP, *argv])
        out.flush()
        return f"{code}\n{out.buffer.getvalue().decode('utf-8-sig')}\n{err.getvalue()}"

    # The in-process tests above already compare both copies; here the same
    # answers must come out of the command line signed in as the rep.
    commands = [("report", name, "--today", TODAY.isoformat()) for name in sorted(all_reports())]
    commands += [("export", name) for name in ("opportunities", "accounts", "stage_history", "activities")]
    for argv in commands:
        shown = run(pair[1], *argv)
        assert MARK not in shown, f"crm {' '.join(argv)} shows another rep's deal to {REP}"
        assert shown.startswith(("0\n", "2\n")), shown[:500]
    assert run(pair[1], "report", "funnel", "--today", TODAY.isoformat()) == run(
        pair[0], "report", "funnel", "--today", TODAY.isoformat())


@pytest.mark.parametrize("page", PAGES)
def test_pages(pair, page, monkeypatch):
    from tests.apptest_helpers import run_page, texts

    monkeypatch.setenv("CRM_DB_PATH", str(pair[1]))
    at = run_page(page, login=REP)
    assert not at.exception, at.exception
    shown = [texts(at)] + [df.value.to_csv() if hasattr(df.value, "to_csv") else str(df.value) for df in at.dataframe]
    shown += [str(el.proto) for el in at.get("plotly_chart")]
    shown += [str(el.proto) for el in at.get("selectbox")] + [str(el.proto) for el in at.get("multiselect")]
    assert MARK not in "\n".join(shown), f"{page} shows another rep's deal or account to {REP}"
