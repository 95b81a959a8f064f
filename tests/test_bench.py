"""`crm bench`: page discovery, argument building, budgets, the report, and one short complete run."""

import json
from dataclasses import replace
from datetime import date

import pytest

from crm_core import bench
from crm_core.bench import Measurement, format_table
from crm_core.bench_pages import CannotCall, Context, PageCall, build_args, page_calls, percentile
from crm_core.filters import PipelineFilter

TODAY = date(2026, 6, 30)


def test_page_calls_found_through_imports(tmp_path):
    (tmp_path / "pages").mkdir()
    (tmp_path / "ui").mkdir()
    (tmp_path / "pages" / "a.py").write_text(
        "from crm_core import forecast\n"
        "from crm_core.opportunities import list_open as lo\n"
        "from ui.session import cached\n"
        "x = cached(forecast.stage_funnel, db, actor, flt)\n"
        "y = cached(lo, db, actor, flt, limit=5)\n"
        "z = cached(forecast.stage_funnel, db, actor, flt)\n"   # a repeat is measured once
        "w = other(forecast.stage_funnel)\n",                   # not through cached: not a page read
        encoding="utf-8")
    (tmp_path / "ui" / "helper.py").write_text(
        "import ui.session as s\nfrom crm_core import plans\nt = s.cached(plans.rep_month_attainment, db, actor, m)\n",
        encoding="utf-8")
    calls = page_calls(tmp_path)
    assert [(c.source, c.module, c.name) for c in calls] == [
        ("pages/a.py", "crm_core.forecast", "stage_funnel"),
        ("pages/a.py", "crm_core.opportunities", "list_open"),
        ("ui/helper.py", "crm_core.plans", "rep_month_attainment"),
    ]
    assert calls[1].kw_consts == (("limit", 5),)
    # forecast and plan computations are held to 100 ms, the rest to 150 ms
    assert [c.budget_ms for c in calls] == [100.0, 150.0, 100.0]


def test_real_pages_are_found():
    calls = page_calls()
    assert any(c.source.startswith("pages/") for c in calls)
    assert all(c.module.startswith("crm_core.") for c in calls)


def _f_filter(db, actor, flt: PipelineFilter, month, account_id, *, limit=3):
    return flt, month, account_id


def _f_ids(db, actor, opp_id: int, owner_id: int, contact_ids: list):
    return opp_id, owner_id, contact_ids


def _f_unknown(db, actor, colour: str):
    return colour


def test_build_args_from_signature():
    ctx = Context(today=TODAY, account_id=7, opportunity_id=9, extra={"owner_id": 42})
    args, kwargs = build_args(_f_filter, ctx)
    assert args == [PipelineFilter(), TODAY, 7] and kwargs == {}
    assert build_args(_f_ids, ctx)[0] == [9, 42, [1]]
    # constants written in the page win
    call = PageCall("pages/x.py", "m", "f", consts=((1, date(2026, 1, 1)),), kw_consts=(("limit", 1),))
    args, kwargs = build_args(_f_filter, ctx, call)
    assert args == [PipelineFilter(), date(2026, 1, 1), 7] and kwargs == {"limit": 1}
    with pytest.raises(CannotCall, match="colour"):
        build_args(_f_unknown, ctx)


def test_percentile_nearest_rank():
    # p95 of 1..20 is the 19th value; p50 of 1..4 is the 2nd
    assert percentile([float(i) for i in range(20, 0, -1)], 95) == 19.0
    assert percentile([4.0, 1.0, 3.0, 2.0], 50) == 2.0


def test_budget_verdicts():
    assert Measurement("page", "p", 120.0, "ms", 150.0).passed is True
    assert Measurement("page", "p", 151.0, "ms", 150.0).passed is False
    assert Measurement("import", "i", 250_000, "rows/s", 300_000, True).passed is False
    assert Measurement("cold", "c", 900.0, "ms").passed is None
    assert Measurement("page", "p", None, "ms", 150.0, error="boom").passed is None


@pytest.fixture(scope="module")
def small_result(tmp_path_factory, monkeypatch_module):
    quick = replace(bench.SETTINGS["small"], min_calls=1, max_calls=1, max_seconds=0.0, writes=2,
                    graph_repeats=1, concurrency_s=0.5, import_rows=2_000)
    monkeypatch_module.setitem(bench.SETTINGS, "small", quick)
    return bench.run("small", today=TODAY, workdir=str(tmp_path_factory.mktemp("bench")))


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


def test_small_run_is_complete(small_result):
    r = small_result
    assert r["complete"], r["errors"]
    groups = {m["group"] for m in r["measurements"]}
    assert {"generate", "page", "report", "write", "graph", "concurrency", "cold", "import", "memory", "run"} <= groups
    pages = [m for m in r["measurements"] if m["group"] == "page"]
    assert len(pages) == len(page_calls())
    measured = [m for m in pages if "page_bug" not in m["detail"]]
    assert measured and all(m["value"] > 0 and m["detail"]["calls"] >= 1 for m in measured)
    conc = next(m for m in r["measurements"] if m["group"] == "concurrency")
    assert conc["value"] == 0 and conc["detail"]["reads"] + conc["detail"]["writes"] > 0
    imp = next(m for m in r["measurements"] if m["name"] == "CSV import with validation")
    assert imp["detail"]["created"] == 2_000
    json.dumps(r)  # the result is plain JSON


def test_report_table_shows_budgets(small_result):
    text = format_table(small_result)
    assert "budget" in text and "peak RSS" in text
    assert ("pass" in text) or ("FAIL" in text)


def test_incomplete_when_a_measurement_fails():
    b = bench.Bench("small")
    b.attempt("page", "broken", "ms", lambda: 1 / 0)
    result = bench._result(b, TODAY, 1.0)
    assert not result["complete"]
    assert "ZeroDivisionError" in result["errors"]["broken"]
    assert "ERROR" in format_table(result)


def test_cli_refuses_missing_json_directory(capsys):
    from crm_core.cli import main

    assert main(["bench", "--json", "/no/such/dir/x.json"]) == 2
    assert "does not exist" in capsys.readouterr().err


def _takes_db_only(db):
    return db


def test_page_passing_db_actor_to_a_db_only_function_is_a_page_bug():
    call = PageCall("ui/x.py", __name__, "_takes_db_only")
    b = bench.Bench("small")
    b.attempt("page", call.label, "ms",
              lambda: bench._page(b, object(), object(), Context(today=TODAY), call, []))
    result = bench._result(b, TODAY, 1.0)
    assert result["errors"] == {}
    assert "cannot be called that way" in result["page_bugs"][call.label]
    assert "page bug: ui/x.py" in format_table(result)


def test_peak_memory_counts_children_but_not_the_browser(tmp_path):
    """A child holding 150 MB is in the sum under its name; a process named like the browser, and
    what it starts, are not (the sampler walks the kernel's child lists, not every process)."""
    import shutil
    import subprocess
    import sys

    import psutil

    from crm_core.bench_ops import PeakMemory

    hold = "import sys, time; x = bytearray(150 * 2**20); x[::4096] = b'1' * len(x[::4096]); " \
           "print('ok', flush=True); time.sleep(30)"
    fake_browser = tmp_path / "chromium"
    shutil.copy(sys.executable, fake_browser)  # a python named "chromium", starting a python of its own
    procs = [subprocess.Popen([sys.executable, "-c", hold], stdout=subprocess.PIPE, text=True),
             subprocess.Popen([str(fake_browser), "-c", f"import subprocess, sys; p = subprocess.Popen([{sys.executable!r}, "
                               f"'-c', {hold!r}]); p.wait()"], stdout=subprocess.PIPE, text=True)]
    browser_kids: list = []
    try:
        assert procs[0].stdout.readline().startswith("ok") and procs[1].stdout.readline().startswith("ok")
        browser_kids = psutil.Process(procs[1].pid).children(recursive=True)
        assert browser_kids
        mem = PeakMemory()
        mem._sample()  # one sample, without starting the sampling thread
        # (pytest may have children of its own, e.g. a browser test's server: only ours are checked)
        counted = {proc.pid: label for label, proc in mem._counted()}
        assert procs[0].pid in counted
        assert procs[1].pid not in counted and not any(k.pid in counted for k in browser_kids)
        assert mem.peak_parts[counted[procs[0].pid]] >= 150, mem.peak_parts
    finally:
        for p in [*procs, *browser_kids]:
            p.kill()
        for p in procs:
            p.wait()


def test_release_memory_drops_page_memos_and_returns_the_rss():
    from crm_core import value_scoring

    value_scoring._RECENT[("bench test",)] = None
    assert 0 < bench.release_memory() < 4096
    assert ("bench test",) not in value_scoring._RECENT
