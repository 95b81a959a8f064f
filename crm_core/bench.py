"""`crm bench`: Panorama's speed measured at a given size, against its budgets.

`run(scale)` generates deterministic synthetic data (`crm_core.bench_data`)
into a database in a temporary directory, then measures, in this order:

1. each page's crm_core computation warm, found by reading the pages
   (`crm_core.bench_pages`), and every report of `crm_core.reports.all_reports()`:
   the first call, then median/p95 of repeated calls ("rerun", where memos may
   answer), then median/p95 of calls each after a simulated write (the data
   version bumped, so caches keyed by it miss): the budget is judged on these;
2. single-row form writes (versioned update + audit + change hook) on the big
   tables, p50 / p95;
3. the relationship graph HTML for the big group (2,000 accounts);
4. 16 threads doing page reads and writes at once: throughput and errors;
   (the memory these phases held is then given back: `release_memory`)
5. each page cold, in a new process; at 100k and 1m the app start in headless
   Chromium (the median of 3 first starts);
6. a CSV import of new opportunities end to end (validation included),
   beside a plain DuckDB `read_csv` of the same file, then the time the
   derived summaries take to catch up with it;
7. peak RSS of the whole run, children included.

The result is a dict (written as JSON) with one entry per measurement and its
budget; `complete` is true only when every measurement ran. Budgets are those
of issue 10 and hold at the "1m" scale; at other scales pass/fail is shown for
orientation only.
"""

from __future__ import annotations

import ctypes
import gc
import inspect
import os
import platform
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb
import psutil

from crm_core import bench_ops
from crm_core.access import load_actor
from crm_core.bench_data import SCALES, generate
from crm_core.bench_pages import CannotCall, Context, PageCall, build_args, page_calls, standard_extra, time_calls
from crm_core.db import Database
from crm_core.reports import all_reports

__all__ = ["generate", "run", "format_table", "SCALES", "SETTINGS"]


@dataclass(frozen=True)
class RunSettings:
    min_calls: int            # warm calls per function, at least
    max_calls: int            # and at most
    max_seconds: float        # stop repeating after this long (once min_calls are done)
    writes: int               # single-row writes per kind (p95 of 200 is the 10th slowest: one stalled
                              # disk flush cannot decide it, as it could the 3rd slowest of 50)
    graph_repeats: int
    concurrency_s: float
    import_rows: int
    memory_limit: str         # DuckDB memory_limit; leaves room for Python and polars in 2 GiB
    total_budget_s: float
    cold_per_page: bool       # a new process per page (else one new process for all pages)
    app_start: bool = False   # also time Streamlit start in headless Chromium (scripts/measure_start.py)


SETTINGS: dict[str, RunSettings] = {
    "small": RunSettings(3, 5, 0.2, 5, 2, 2.0, 20_000, "1GB", 30.0, False),
    "100k": RunSettings(5, 20, 2.0, 200, 3, 10.0, 200_000, "1GB", 600.0, True, True),
    "1m": RunSettings(5, 20, 3.0, 200, 3, 30.0, 1_000_000, "1200MB", 600.0, True, True),
}

WRITE_BUDGET_MS = 20.0
IMPORT_RATE_BUDGET = 300_000
IMPORT_RATIO_BUDGET = 0.3
MEMORY_BUDGET_MIB = 2048.0
START_BUDGET_S = 3.0
REPORT_BUDGET_MS = 150.0
FAST_REPORT_MODULES = ("crm_core.forecast", "crm_core.plans")
MACHINE_NOTE = ("shared machine: other developers' test runs were using the same 2 cores, so figures "
                "are pessimistic")


@dataclass
class Measurement:
    """One line of the report: a figure, its budget, and whether it held."""

    group: str                    # generate | page | report | cold | write | graph | concurrency | import | memory | run
    name: str
    value: float | None
    unit: str
    budget: float | None = None
    higher_is_better: bool = False
    detail: dict[str, Any] = field(default_factory=dict)
    error: str | None = None      # set when the measurement could not run

    @property
    def passed(self) -> bool | None:
        if self.error is not None or self.value is None:
            return None
        if self.budget is None:
            return None
        return self.value >= self.budget if self.higher_is_better else self.value <= self.budget

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["passed"] = self.passed
        return d


class Bench:
    """One benchmark run: the measurements collected so far."""

    def __init__(self, scale: str, progress: Callable[[str], None] | None = None):
        self.scale = scale
        self.settings = SETTINGS[scale]
        self.items: list[Measurement] = []
        self.notes: list[str] = []
        self._progress = progress or (lambda _msg: None)
        self.started = time.perf_counter()
        self.load_at_start = _loadavg()
        self.memory: bench_ops.PeakMemory | None = None

    def say(self, msg: str) -> None:
        if self.memory is not None:
            self.memory.phase = msg
        self._progress(f"[{time.perf_counter() - self.started:7.1f}s] {msg}")

    def add(self, m: Measurement) -> Measurement:
        self.items.append(m)
        return m

    def attempt(self, group: str, name: str, unit: str, fn: Callable[[], Measurement | list[Measurement]]) -> None:
        """Run one measurement; an exception becomes an error line (and makes the run incomplete)."""
        try:
            got = fn()
        except Exception as exc:  # noqa: BLE001 - any failure is reported, the run goes on
            self.add(Measurement(group, name, None, unit, error=f"{type(exc).__name__}: {exc}"[:500]))
            self.say(f"  {name}: FAILED {type(exc).__name__}: {exc}"[:300])
            return
        for m in got if isinstance(got, list) else [got]:
            self.add(m)


def run(scale: str = "small", *, today: date | None = None, workdir: str | None = None,
        progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Run the whole benchmark at `scale` in a temporary directory (removed afterwards)."""
    if scale not in SETTINGS:
        raise ValueError(f"unknown scale {scale!r}; choose one of {', '.join(SETTINGS)}")
    today = today or date.today()
    tmp = Path(tempfile.mkdtemp(prefix="panorama-bench-", dir=workdir))
    bench = Bench(scale, progress)
    try:
        with bench_ops.PeakMemory() as mem:
            bench.memory = mem
            _run_phases(bench, tmp, today)
        bench.add(Measurement("memory", "peak RSS (whole run, incl. children but the browser)", round(mem.peak_mib(), 1), "MiB",
                              MEMORY_BUDGET_MIB, detail={"phase": mem.peak_phase, "processes_mib": mem.peak_parts}))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    total = time.perf_counter() - bench.started
    bench.add(Measurement("run", f"whole bench at {scale}", round(total, 1), "s", bench.settings.total_budget_s))
    return _result(bench, today, total)


def _run_phases(bench: Bench, tmp: Path, today: date) -> None:
    st = bench.settings
    path = tmp / "bench.duckdb"
    calls = _warm_phases(bench, path, tmp, today)
    # What those phases left in this process (page memos that outlive the closed database,
    # freed heap kept by malloc's per-thread arenas) is given back, so that the import below
    # runs in about the memory of a process of its own: the run's peak is in the import.
    bench.say(f"memory released: {release_memory():,.0f} MiB in use")

    bench.say("cold page loads (a new process each)")
    bench.attempt("cold", "cold page loads", "ms",
                  lambda: _cold(str(path), calls, today, st.memory_limit, st.cold_per_page))

    if st.app_start:
        bench.say("app start in headless Chromium")
        bench.attempt("start", "app start", "s", lambda: _app_start(str(path)))

    db = Database(path)
    db.execute(f"SET memory_limit = '{st.memory_limit}'")
    bench.say(f"CSV import of {st.import_rows:,} opportunities")
    bench.attempt("import", "CSV import (opportunities)", "rows/s", lambda: _import(db, load_actor(db, "admin"), tmp,
                                                                               st.import_rows))
    db.close()


def _open(path: Path, st: RunSettings, tmp: Path) -> Database:
    db = Database(path)
    db.execute(f"SET memory_limit = '{st.memory_limit}'")
    db.execute(f"SET temp_directory = '{str(tmp / 'spill')}'")
    return db


def _warm_phases(bench: Bench, path: Path, tmp: Path, today: date) -> list[PageCall]:
    """Generate the data, then everything measured in this process on one open database:
    pages, reports, writes, graph, concurrency. Returns the page calls (for the cold loads);
    the database, the timed closures and their results go out of scope with it."""
    st = bench.settings
    db = _open(path, st, tmp)
    bench.say(f"generating {bench.scale} data")
    t0 = time.perf_counter()
    phases: dict[str, float] = {}
    counts = generate(db, bench.scale, today=today, timings=phases)
    bench.add(Measurement("generate", "synthetic data generation (SQL)", phases["sql_s"], "s",
                          detail={"rows": counts}))
    bench.add(Measurement("generate", "derived data rebuilt by change hooks", phases["hooks_s"], "s"))
    bench.say(f"  {sum(counts.values()):,} rows in {time.perf_counter() - t0:.1f}s")
    # The app works on a file it opened, not on the connection that wrote millions of rows into it:
    # in that state the same page calls took ~1.4x the CPU (statements with joins and reads by id;
    # not the memory limit, not unflushed writes), gone once the file is reopened.
    db.close()
    release_memory()
    db = _open(path, st, tmp)
    admin = load_actor(db, "admin")
    ctx = Context(today=today, extra=standard_extra(db, today))
    calls = page_calls()
    callables: list[tuple[str, Callable[[], Any]]] = []

    bench.say(f"pages: {len(calls)} computations")
    for call in calls:
        bench.attempt("page", call.label, "ms", lambda c=call: _page(bench, db, admin, ctx, c, callables))

    reports = all_reports()
    bench.say(f"reports: {len(reports)}")
    for name, fn in sorted(reports.items()):
        bench.attempt("report", f"report {name}", "ms", lambda n=name, f=fn: _report(bench, db, admin, ctx, n, f))

    bench.say("single-row writes")
    bench.attempt("write", "single-row writes", "ms", lambda: _writes(db, admin, st.writes, today))

    bench.say("relationship graph")
    bench.attempt("graph", "relationship graph HTML (big group)", "ms",
                  lambda: _graph(db, admin, ctx.account_id, st.graph_repeats))

    bench.say(f"concurrency: 16 threads for {st.concurrency_s:.0f}s")
    bench.attempt("concurrency", "16 threads reading and writing", "errors",
                  lambda: _concurrency(db, admin, callables, st.concurrency_s))
    db.close()
    return calls


def release_memory() -> float:
    """Give memory the process no longer uses back to the system; returns the RSS after, in MiB.

    Garbage collection drops the closed database's objects; `malloc_trim` hands
    back the heap that glibc keeps after DuckDB and the worker threads freed it
    (each thread's arena keeps its own); Arrow's pool releases its cached blocks.
    polars' allocator returns freed memory by itself within a second. First
    the in-process memos of page results that outlive their database are
    emptied: the value page's customer frames (up to 8, ~40 MiB each at 1m).
    """
    _drop_memos()
    gc.collect()
    try:
        import pyarrow

        pyarrow.default_memory_pool().release_unused()
    except ImportError:  # pragma: no cover - pyarrow comes with the app's requirements
        pass
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc (macOS, musl): nothing to trim
        pass
    return psutil.Process().memory_info().rss / 2**20


def _drop_memos() -> None:
    from crm_core import value_scoring

    recent, lock = getattr(value_scoring, "_RECENT", None), getattr(value_scoring, "_RECENT_LOCK", None)
    if isinstance(recent, dict) and lock is not None:
        with lock:
            recent.clear()


def _page(bench: Bench, db: Database, actor: Any, ctx: Context, call: PageCall,
          callables: list[tuple[str, Callable[[], Any]]]) -> Measurement:
    fn = call.function()
    try:
        args, kwargs = build_args(fn, ctx, call)
    except CannotCall as exc:
        raise CannotCall(f"{call.module}.{call.name}: {exc}") from None
    try:
        inspect.signature(fn).bind(db, actor, *args, **kwargs)
    except TypeError as exc:
        # The page passes (db, actor) to a function that does not take them: the page
        # itself would crash there. Reported as a page bug, not as a bench failure.
        return Measurement("page", call.label, None, "ms", call.budget_ms,
                           detail={"source": call.source, "page_bug": f"{call.source}: cached({call.module}."
                                   f"{call.name}, db, actor, ...) cannot be called that way: {exc}"})

    def once() -> Any:
        return fn(db, actor, *args, **kwargs)

    st = bench.settings
    timing = time_calls(once, min_calls=st.min_calls, max_calls=st.max_calls, max_seconds=st.max_seconds,
                        bump=_bumper(db))
    callables.append((call.label, once))
    bench.say(f"  {call.label}: median {timing.median_ms:.1f} ms")
    return Measurement("page", call.label, round(timing.median_ms, 2), "ms", call.budget_ms,
                       detail={**timing.as_dict(), "source": call.source})


def _bumper(db: Database) -> Callable[[], None]:
    """What a committed write does to readers: a new data version (caches keyed by it miss)."""

    def bump() -> None:
        db.data_version += 1

    return bump


def _report(bench: Bench, db: Database, actor: Any, ctx: Context, name: str, fn: Callable[..., Any]) -> Measurement:
    from crm_core.reports import ReportOptions

    opts = ReportOptions(today=ctx.today)
    st = bench.settings
    timing = time_calls(lambda: fn(db, actor, opts), min_calls=st.min_calls, max_calls=st.max_calls,
                        max_seconds=st.max_seconds, bump=_bumper(db))
    budget = 100.0 if fn.__module__ in FAST_REPORT_MODULES else REPORT_BUDGET_MS
    bench.say(f"  report {name}: median {timing.median_ms:.1f} ms")
    return Measurement("report", f"report {name}", round(timing.median_ms, 2), "ms", budget,
                       detail={**timing.as_dict(), "module": fn.__module__})


def _writes(db: Database, actor: Any, n: int, today: date) -> list[Measurement]:
    out = []
    for label, s in bench_ops.single_row_writes(db, actor, n, today).items():
        err = s.get("error") or (None if s.get("writes") else "no rows were written")
        out.append(Measurement("write", f"write: {label} p95", s.get("p95_ms"), "ms", WRITE_BUDGET_MS,
                               detail=s, error=err))
    return out


def _graph(db: Database, actor: Any, account_id: int, repeats: int) -> Measurement:
    g = bench_ops.graph_html(db, actor, account_id, repeats)
    from crm_core.bench_pages import PAGE_BUDGET_MS

    err = None if g["renderer"] else "ui.graph_render is not there; only the group query was timed"
    return Measurement("graph", f"relationship graph HTML, {g['nodes']:,} nodes", g["total_ms"], "ms",
                       PAGE_BUDGET_MS, detail=g, error=err)


def _concurrency(db: Database, actor: Any, callables: list[tuple[str, Callable[[], Any]]],
                 seconds: float) -> Measurement:
    if not callables:
        raise RuntimeError("no page computation ran, nothing to read concurrently")
    c = bench_ops.concurrency(db, actor, callables, threads=16, seconds=seconds)
    return Measurement("concurrency", f"16 threads x {c['seconds']:.0f}s: {c['ops_per_s']} ops/s, errors",
                       c["errors"], "errors", 0, detail=c)


def _cold(db_path: str, calls: list[PageCall], today: date, memory_limit: str, per_page: bool) -> list[Measurement]:
    out = []
    got_all = bench_ops.cold_calls(db_path, calls, today.isoformat(), memory_limit=memory_limit, per_page=per_page)
    for source, got in got_all.items():
        name = f"cold: {Path(source).stem} (new process, first calls)"
        if "error" in got:
            out.append(Measurement("cold", name, None, "ms", error=got["error"]))
        elif not got.get("calls_ms"):
            continue  # every call of this page is a page bug (reported with the warm figures)
        else:
            out.append(Measurement("cold", name, got["first_calls_ms"], "ms", detail=got))
    return out


def _app_start(db_path: str) -> list[Measurement]:
    got = bench_ops.app_start(db_path)
    return [Measurement("start", "app start → sign-in page drawn", got.get("start_to_login_drawn_s"), "s",
                        START_BUDGET_S, detail=got),
            Measurement("start", "sign-in → pipeline page drawn", got.get("sign_in_to_pipeline_drawn_s"), "s",
                        START_BUDGET_S, detail={})]


def _import(db: Database, actor: Any, tmp: Path, rows: int) -> list[Measurement]:
    got = bench_ops.import_csv(db, actor, tmp, rows)
    plain = Measurement("import", "plain DuckDB read_csv of the same file", got.get("read_csv_rows_per_s"),
                        "rows/s", detail=got)
    if "missing" in got:
        return [plain, Measurement("import", "CSV import with validation", None, "rows/s", IMPORT_RATE_BUDGET,
                                   True, detail=got, error=got["missing"])]
    return [plain,
            Measurement("import", "CSV import with validation", got.get("import_rows_per_s"), "rows/s",
                        IMPORT_RATE_BUDGET, True, detail=got, error=got.get("error")),
            Measurement("import", "import / read_csv ratio", got.get("ratio"), "x", IMPORT_RATIO_BUDGET, True,
                        detail={}),
            Measurement("import", "derived summaries after the import", got.get("summaries_total_s"), "s",
                        detail={"by_summary": got.get("summaries_s")})]


def _result(bench: Bench, today: date, total: float) -> dict[str, Any]:
    items = [m.as_dict() for m in bench.items]
    failed = [m.name for m in bench.items if m.passed is False]
    page_bugs = {m.name: m.detail["page_bug"] for m in bench.items if "page_bug" in m.detail}
    errors = {m.name: m.error for m in bench.items if m.error is not None}
    expected_groups = {"generate", "page", "report", "write", "graph", "concurrency", "cold", "import", "memory"}
    if bench.settings.app_start:
        expected_groups.add("start")
    ran_groups = {m.group for m in bench.items if m.error is None}
    return {
        "scale": bench.scale,
        "data": asdict(SCALES[bench.scale]),
        "today": today.isoformat(),
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "duckdb": duckdb.__version__,
                    "platform": platform.platform(),
                    # 1-minute load average: above the CPU count, other work shared the cores and
                    # every figure here is slower than the machine can do
                    "load_average_at_start": bench.load_at_start, "load_average_at_end": _loadavg()},
        "total_seconds": round(total, 1),
        "measurements": items,
        "failed_budgets": failed,
        "errors": errors,
        "page_bugs": page_bugs,
        "complete": not errors and expected_groups <= ran_groups,
        "budgets_apply_at": "1m",
    }


def _loadavg() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def format_table(result: dict[str, Any]) -> str:
    """The result as a readable table: figure, budget, pass/fail."""
    lines = [f"Panorama bench, scale {result['scale']} ({result['data']['opportunities']:,} opportunities, "
             f"{result['data']['accounts']:,} accounts, {result['data']['order_lines']:,} order lines), "
             f"{result['machine']['cpus']} CPUs, duckdb {result['machine']['duckdb']}, load average "
             f"{result['machine']['load_average_at_start']} at start, {result['machine']['load_average_at_end']} at end",
             ""]
    width = max([len(m["name"]) for m in result["measurements"]] + [20])
    lines.append(f"{'measurement':<{width}}  {'value':>14}  {'budget':>12}  {'rerun':>10}  result")
    lines.append("-" * (width + 52))
    for m in result["measurements"]:
        if m["error"]:
            value, verdict = "—", f"ERROR: {m['error']}"
        elif m["detail"].get("page_bug"):
            value, verdict = "—", "PAGE BUG (see page_bugs)"
        else:
            value = _fmt(m["value"], m["unit"])
            verdict = {True: "pass", False: "FAIL", None: ""}[m["passed"]]
        budget = "" if m["budget"] is None else ("≥ " if m["higher_is_better"] else "≤ ") + _fmt(m["budget"], m["unit"])
        rerun = m["detail"].get("repeat", {}).get("median_ms")
        rerun_s = "" if rerun is None else f"{rerun:,.1f} ms"
        lines.append(f"{m['name']:<{width}}  {value:>14}  {budget:>12}  {rerun_s:>10}  {verdict}")
    lines.append("")
    for text in result.get("page_bugs", {}).values():
        lines.append(f"page bug: {text}")
    verdict = "complete" if result["complete"] else "INCOMPLETE (see errors)"
    lines.append(f"{len(result['failed_budgets'])} budget(s) failed; run {verdict} in {result['total_seconds']} s"
                 + ("" if result["scale"] == "1m" else " (budgets hold at scale 1m; shown for orientation)"))
    return "\n".join(lines)


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    if unit == "rows/s":
        return f"{value:,.0f} {unit}"
    if unit in ("errors",):
        return f"{value:.0f} {unit}"
    return f"{value:,.1f} {unit}" if unit != "x" else f"{value:.3f}x"
