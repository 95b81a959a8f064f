"""The benchmark's measurements other than page reads: writes, graph, import,
concurrency, cold starts and peak memory.

Each function returns plain dicts of figures; `crm_core.bench` turns them into
budget lines. SQL here only generates benchmark files and picks rows to edit.
"""

from __future__ import annotations

import importlib
import inspect
import json
import logging
import os
import random
import resource
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

from crm_core import hooks, records
from crm_core.access import Actor
from crm_core.bench_pages import PageCall, build_args, percentile
from crm_core.db import Database, quote_ident

ROOT = Path(__file__).resolve().parent.parent


# -- peak memory ----------------------------------------------------------------
class PeakMemory:
    """Samples the RSS of this process plus all its children every 50 ms.

    `ru_maxrss` of self catches peaks between samples; the figure reported is
    the larger. The headless browser that the app-start measurement drives is
    the user's, not Panorama's, so Chromium processes are left out of the sum
    (and so is `ru_maxrss` of children, which would include them).
    """

    def __init__(self, interval: float = 0.05):
        self.interval = interval
        self.peak = 0
        self.phase = ""             # what the bench was doing (set by the caller), reported with the peak
        self.peak_phase = ""
        self.peak_parts: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-rss", daemon=True)
        self._proc = psutil.Process()
        self._labels: dict[tuple[int, float], str | None] = {}
        # the kernel's lists of each thread's children (CONFIG_PROC_CHILDREN; Linux)
        self._kernel_lists = os.path.exists(f"/proc/{os.getpid()}/task/{os.getpid()}/children")

    def _label(self, child: psutil.Process) -> str | None:
        """What a child process is counted as (None: left out), looked up once per process:
        reading every child's name and command line 20 times a second cost ~10 % of a core
        while the browser ran, which the app-start figure measured too."""
        key = (child.pid, child.create_time())
        if key not in self._labels:
            name = child.name().lower()
            # the browser and Playwright's driver (node) are the measuring tools, not Panorama
            # (node names its main thread, so the process reads "node-MainThread")
            if "chrom" in name or name == "headless_shell" or name == "node" or name.startswith("node-"):
                self._labels[key] = None
            else:
                self._labels[key] = "streamlit" if "streamlit" in " ".join(child.cmdline()) else name
        return self._labels[key]

    def _counted(self) -> list[tuple[str, psutil.Process]]:
        """The processes below this one that count, with their labels. psutil's
        `children(recursive=True)` reads the stat file of every process on the machine
        (~5 ms a call); the kernel's per-thread lists of children are read here instead,
        and the browser's process tree (dozens of threads) is not walked at all."""
        if not self._kernel_lists:
            return self._counted_by_psutil()
        found: list[tuple[str, psutil.Process]] = []
        todo = [self._proc.pid]
        while todo:
            pid = todo.pop()
            try:
                tids = os.listdir(f"/proc/{pid}/task")
            except OSError:  # the process ended meanwhile
                continue
            for tid in tids:
                try:
                    with open(f"/proc/{pid}/task/{tid}/children") as fh:
                        kids = [int(k) for k in fh.read().split()]
                except OSError:  # the thread ended meanwhile
                    continue
                for k in kids:
                    try:
                        proc = psutil.Process(k)
                        label = self._label(proc)
                    except psutil.Error:
                        continue
                    if label is not None:
                        found.append((label, proc))
                        todo.append(k)
        return found

    def _counted_by_psutil(self) -> list[tuple[str, psutil.Process]]:
        found = []
        for child in self._proc.children(recursive=True):
            try:
                label = self._label(child)
            except psutil.Error:
                continue
            if label is not None:
                found.append((label, child))
        return found

    def _sample(self) -> None:
        parts: dict[str, int] = {}
        try:
            parts["bench"] = self._proc.memory_info().rss
            for label, child in self._counted():
                try:
                    parts[label] = parts.get(label, 0) + child.memory_info().rss
                except psutil.Error:
                    pass
        except psutil.Error:
            return
        total = sum(parts.values())
        if total > self.peak:
            self.peak, self.peak_phase = total, self.phase
            self.peak_parts = {k: round(v / 2**20) for k, v in parts.items()}

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    def peak_mib(self) -> float:
        own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB
        return max(self.peak, own) / 2**20


# -- single-row writes -------------------------------------------------------------
class HookTimer:
    """While active, `hooks.notify` times each change listener, so a slow write can be blamed on its listener.

    Writers call `hooks.notify` through the module attribute, so replacing it
    here sees every call; the listeners are the ones `hooks.on_change` registered.
    """

    def __init__(self) -> None:
        self.by_listener: dict[str, float] = {}
        self.current = 0.0

    def _notify(self, db: Any, table: str, account_ids: Any = None) -> None:
        ids = None if account_ids is None else sorted({int(i) for i in account_ids if i is not None})
        for fn in list(hooks._listeners.get(table, [])):
            t0 = time.perf_counter()
            fn(db, ids)
            ms = (time.perf_counter() - t0) * 1000
            key = f"{fn.__module__}.{fn.__qualname__} ({table})"
            self.by_listener[key] = self.by_listener.get(key, 0.0) + ms
            self.current += ms

    def __enter__(self) -> HookTimer:
        self._orig = hooks.notify
        hooks.notify = self._notify
        return self

    def __exit__(self, *exc: object) -> None:
        hooks.notify = self._orig


def _pick(db: Database, sql_from: str, n: int) -> list[int]:
    """n row ids spread over the table, the same ones every run (sql_from: a constant written here)."""
    return [r[0] for r in db.rows(f"SELECT id {sql_from} ORDER BY hash(id) LIMIT ?", [n])]


def _write_plans(db: Database, actor: Actor, n: int, today: Any) -> list[tuple[str, list[Callable[[], Any]]]]:
    """(label, one "open the form" closure per write) for each kind of form save the app has.

    Each closure reads the row as the form shows it (untimed: the page has it
    already) and returns the save itself, which is what is timed.
    """
    from datetime import timedelta

    opp_mod = _optional("crm_core.opportunities")
    acc_mod = _optional("crm_core.accounts")
    plans: list[tuple[str, list[Callable[[], Any]]]] = []

    def loaded(table: str, row_id: int) -> dict[str, Any]:
        return db.one(f"SELECT * FROM {quote_ident(table)} WHERE id = ?", [row_id]) or {}

    ids = _pick(db, "FROM opportunities", n)
    plans.append(("records.update_versioned (opportunity amount, no hooks)", [
        lambda i=i: (lambda r: lambda: records.update_versioned(db, actor, "opportunities", i, r["version"],
                                                                {"amount": r["amount"] + 1}))(loaded("opportunities", i))
        for i in ids]))
    if opp_mod is not None and hasattr(opp_mod, "update"):
        ids = _pick(db, "FROM opportunities WHERE status = 'open'", n)
        plans.append(("opportunities.update (amount)", [
            lambda i=i: (lambda r: lambda: opp_mod.update(db, actor, i, r["version"], {"amount": r["amount"] + 100}))(
                loaded("opportunities", i)) for i in ids]))
        ids = _pick(db, "FROM opportunities WHERE status = 'open' AND stage_id < 5", n)
        plans.append(("opportunities.update (stage move)", [
            lambda i=i: (lambda r: lambda: opp_mod.update(db, actor, i, r["version"], {"stage_id": r["stage_id"] + 1}))(
                loaded("opportunities", i)) for i in ids]))
    else:
        plans.append(("opportunities.update (amount)", [lambda: lambda: _missing("crm_core.opportunities.update")]))
    if opp_mod is not None and hasattr(opp_mod, "create"):
        accts = db.rows("SELECT id, owner_id FROM accounts WHERE owner_id IS NOT NULL ORDER BY hash(id) LIMIT ?", [n])
        close = today + timedelta(days=45)
        plans.append(("opportunities.create", [
            lambda a=a, k=k: lambda: opp_mod.create(db, actor, name=f"Bench deal {k}", stage_id=1, amount=5000 + k,
                                                    expected_close=close, account_id=a[0], owner_id=a[1])
            for k, a in enumerate(accts)]))
    else:
        plans.append(("opportunities.create", [lambda: lambda: _missing("crm_core.opportunities.create")]))
    if acc_mod is not None and hasattr(acc_mod, "update"):
        ids = _pick(db, "FROM accounts WHERE owner_id IS NOT NULL", n)
        plans.append(("accounts.update (notes)", [
            lambda i=i, k=k: (lambda r: lambda: acc_mod.update(db, actor, i, r["version"], {"notes": f"bench {k}"}))(
                loaded("accounts", i)) for k, i in enumerate(ids)]))
    return plans


def _optional(module: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError:
        return None


def _missing(what: str) -> None:
    raise RuntimeError(f"{what} is not there yet")


def single_row_writes(db: Database, actor: Actor, n: int, today: Any) -> dict[str, dict[str, Any]]:
    """Form saves on the big tables, each timed end to end (change hooks included), p50/p95.

    The time spent in each change listener is reported beside it, since a
    slow save is usually a listener recomputing too much.
    """
    out: dict[str, dict[str, Any]] = {}
    for label, writes in _write_plans(db, actor, n, today):
        samples: list[float] = []
        hook_ms: list[float] = []
        with HookTimer() as timer:
            for open_form in writes:
                save = open_form()
                timer.current = 0.0
                t0 = time.perf_counter()
                save()
                samples.append((time.perf_counter() - t0) * 1000)
                hook_ms.append(timer.current)
        s = _summary(samples)
        if hook_ms:
            s["hooks_p50_ms"] = round(percentile(hook_ms, 50), 2)
            s["hooks_p95_ms"] = round(percentile(hook_ms, 95), 2)
            s["hooks_mean_ms_by_listener"] = {k: round(v / len(samples), 2) for k, v in timer.by_listener.items()}
        out[label] = s
    return out


def _summary(samples: list[float]) -> dict[str, Any]:
    if not samples:
        return {"writes": 0}
    return {"writes": len(samples), "p50_ms": round(percentile(samples, 50), 2),
            "p95_ms": round(percentile(samples, 95), 2), "max_ms": round(max(samples), 2)}


# -- relationship graph ---------------------------------------------------------------
def graph_html(db: Database, actor: Actor, account_id: int, repeats: int) -> dict[str, Any]:
    """The relationships page's work for a big group: the group query, then the HTML.

    Uses the page's own helpers when present (a ui module that turns a group
    into vis nodes/edges, then `ui.graph_render.render`).
    """
    from crm_core import graph

    render = _graph_renderer()
    timings: dict[str, list[float]] = {"query_ms": [], "html_ms": [], "total_ms": []}
    nodes = 0
    size = 0
    for _ in range(repeats):
        t0 = time.perf_counter()
        cap = getattr(_optional("ui.graph_render"), "NODE_CAP", None)
        group = graph.account_group(db, actor, account_id, **({"cap": cap} if cap else {}))
        t1 = time.perf_counter()
        html = render(group) if render else ""
        t2 = time.perf_counter()
        timings["query_ms"].append((t1 - t0) * 1000)
        timings["html_ms"].append((t2 - t1) * 1000)
        timings["total_ms"].append((t2 - t0) * 1000)
        nodes_df = getattr(group, "nodes", group)
        nodes = int(getattr(nodes_df, "height", 0))
        size = len(html)
    out: dict[str, Any] = {"nodes": nodes, "html_bytes": size, "renderer": bool(render)}
    for key, vals in timings.items():
        first, rest = vals[0], vals[1:] or vals
        out[key] = round(percentile(rest, 50), 2)
        out[key.replace("_ms", "_first_ms")] = round(first, 2)
    return out


def _graph_renderer() -> Callable[[Any], str] | None:
    """group -> HTML through the page's helpers, or None when they are not there."""
    try:
        render_mod = importlib.import_module("ui.graph_render")
    except ImportError:
        return None
    view = _optional("ui.relationships_view")
    _quiet_streamlit()
    if view is not None and hasattr(view, "group_vis"):
        # the relationships page: group -> vis nodes/edges -> HTML
        def page_way(group: Any) -> str:
            nodes, edges = view.group_vis(group, size_by="revenue", colour_by="owner")
            return render_mod.render(nodes, edges)

        return page_way
    for modname, fname in (("ui.graph_view", "group_html"), ("ui.graph_view", "account_group_html"),
                           ("ui.relationships", "group_html"), ("ui.graph_render", "group_html")):
        try:
            mod = importlib.import_module(modname)
        except ImportError:
            continue
        fn = getattr(mod, fname, None)
        if fn is not None:
            return fn

    import polars as pl

    def basic(group: Any) -> str:
        # No page helper found: draw the nodes and edges as the page would, one vis node per account.
        nodes = group.nodes.select(pl.col("id"), pl.col("name").alias("label"), pl.col("depth").alias("level"))
        edges = group.edges
        if "from" not in edges.columns:
            cols = edges.columns
            edges = edges.rename({cols[0]: "from", cols[1]: "to"})
        ids = nodes["id"].to_list()
        parents = group.nodes["via_id"].to_list() if "via_id" in group.nodes.columns else [None] * len(ids)
        if nodes.height > render_mod.PHYSICS_LIMIT:
            xs, ys = render_mod.tree_positions(ids, parents, radial=True)
            nodes = nodes.with_columns(pl.Series("x", xs), pl.Series("y", ys))
        return render_mod.render(nodes, edges.select("from", "to"))

    return basic


def _quiet_streamlit() -> None:
    """ui helpers outside `streamlit run` log a "missing ScriptRunContext" warning per call: mute them."""
    for name in list(logging.root.manager.loggerDict):
        if name.startswith("streamlit"):
            logging.getLogger(name).setLevel(logging.ERROR)


# -- CSV import ------------------------------------------------------------------------
def import_csv(db: Database, actor: Actor, workdir: Path, rows: int) -> dict[str, Any]:
    """Import `rows` new opportunities from a CSV file through the importer, beside a plain
    read_csv of the same file; then bring the derived summaries up to date, timed apart.

    The file is what another CRM's export looks like: accounts by external id,
    owners by login, products by code, stages by name, amounts, dates. Every
    row is checked, looked up and written as in the page (`import_file`).
    """
    path = workdir / "bench_opportunities.csv"
    with db.cursor() as cur:
        # the pick lists as numbered temp tables, so each row's choice is one equi-join on a constant modulus
        picks = {
            "acc": "SELECT external_id AS v FROM accounts WHERE external_id IS NOT NULL AND merged_into_id IS NULL",
            "rep": "SELECT login AS v FROM users WHERE role = 'rep' AND active",
            "prod": "SELECT external_id AS v FROM products WHERE external_id IS NOT NULL",
            "stg": "SELECT name AS v FROM stages",
        }
        sizes = {}
        for name, sql in picks.items():
            cur.execute(f"CREATE OR REPLACE TEMP TABLE _bench_{name} AS "
                        f"SELECT row_number() OVER (ORDER BY v) - 1 AS k, v FROM ({sql})")
            sizes[name] = max(1, cur.execute(f"SELECT count(*) FROM _bench_{name}").fetchone()[0])
        cur.execute(
            f"""COPY (
                SELECT 'BENCH-O' || i AS external_id, 'Bench deal ' || i AS name, acc.v AS account,
                       rep.v AS owner, prod.v AS product, stg.v AS stage,
                       round(1000 + (hash(i, 'm') % 1000000) / 10.0, 2) AS amount,
                       current_date + (hash(i, 'd') % 300)::INTEGER - 150 AS close_date,
                       current_date - (hash(i, 'c') % 700)::INTEGER AS created,
                       ['Web', 'Referral', 'Partner', 'Event'][(1 + hash(i, 'o') % 4)::BIGINT] AS source
                FROM range({int(rows)}) t(i)
                JOIN _bench_acc acc ON acc.k = hash(i, 'a') % {sizes['acc']}
                JOIN _bench_rep rep ON rep.k = hash(i, 'r') % {sizes['rep']}
                JOIN _bench_prod prod ON prod.k = hash(i, 'p') % {sizes['prod']}
                JOIN _bench_stg stg ON stg.k = hash(i, 's') % {sizes['stg']}
                ORDER BY i
            ) TO '{_sql_path(path)}' (HEADER, DELIMITER ',')"""
        )
        for name in picks:
            cur.execute(f"DROP TABLE _bench_{name}")
    size_mb = path.stat().st_size / 2**20
    # the median of three reads: one read of under a second swung 0.65-0.92 s between quiet runs
    reads = []
    with db.cursor() as cur:
        for _ in range(3):
            t0 = time.perf_counter()
            cur.execute("CREATE TEMP TABLE _bench_read AS SELECT * FROM read_csv(?)", [str(path)])
            reads.append(time.perf_counter() - t0)
            plain_rows = cur.execute("SELECT count(*) FROM _bench_read").fetchone()[0]
            cur.execute("DROP TABLE _bench_read")
    plain_s = sorted(reads)[1]
    out: dict[str, Any] = {"entity": "opportunities", "rows": rows, "file_mb": round(size_mb, 1),
                           "read_csv_s": round(plain_s, 3), "read_csv_runs_s": [round(r, 3) for r in reads],
                           "read_csv_rows_per_s": round(plain_rows / plain_s) if plain_s else None}
    try:
        importer = importlib.import_module("crm_core.importer")
        import_file = importer.import_file
    except (ImportError, AttributeError):
        out["missing"] = "crm_core.importer.import_file is not there yet"
        return out
    t0 = time.perf_counter()
    result = import_file(db, actor, "opportunities", path, dry_run=False)
    seconds = time.perf_counter() - t0
    out.update({"import_s": round(seconds, 3), "created": result.created, "rejected": result.rejected,
                "import_rows_per_s": round(rows / seconds) if seconds else None,
                "summaries_pending": result.summaries_pending})
    if out.get("read_csv_rows_per_s") and out.get("import_rows_per_s"):
        out["ratio"] = round(out["import_rows_per_s"] / out["read_csv_rows_per_s"], 3)
    if result.created != rows:
        out["error"] = f"imported {result.created} of {rows} rows ({result.rejected} rejected)"
    from crm_core import derived

    t0 = time.perf_counter()
    out["summaries_s"] = derived.refresh_all(db)
    out["summaries_total_s"] = round(time.perf_counter() - t0, 3)
    return out


def _sql_path(path: Path) -> str:
    """A path inside a SQL string literal, for COPY ... TO, which takes no bound parameter.

    Only the bench's own temporary file names come here, never user text.
    """
    return str(path).replace("'", "''")


# -- concurrency --------------------------------------------------------------------------
def concurrency(db: Database, actor: Actor, calls: list[tuple[str, Callable[[], Any]]], *, threads: int,
                seconds: float, write_share: float = 0.25) -> dict[str, Any]:
    """`threads` workers doing page reads and single-row writes for `seconds`.

    Each worker edits only opportunities whose id is congruent to its number,
    so stale-edit refusals (correct behaviour, not errors) cannot happen; any
    exception is an error.
    """
    top = int(db.scalar("SELECT max(id) FROM opportunities") or 1)
    stop = time.perf_counter() + seconds
    lock = threading.Lock()
    stats = {"reads": 0, "writes": 0, "errors": 0}
    errors: list[str] = []
    latencies: list[float] = []

    opp_mod = _optional("crm_core.opportunities")
    edit = getattr(opp_mod, "update", None)

    def save(row: dict[str, Any]) -> None:
        if edit is not None:
            edit(db, actor, row["id"], row["version"], {"amount": row["amount"] + 1})
        else:
            records.update_versioned(db, actor, "opportunities", row["id"], row["version"],
                                     {"amount": row["amount"] + 1})
            hooks.notify(db, "opportunities", [row["account_id"]])

    def worker(n: int) -> None:
        rng = random.Random(n)
        while time.perf_counter() < stop:
            t0 = time.perf_counter()
            kind = "writes" if rng.random() < write_share else "reads"
            try:
                if kind == "writes":
                    row_id = n + 1 + threads * rng.randint(0, max(0, (top - n - 1) // threads))
                    row = db.one("SELECT id, version, amount, account_id FROM opportunities WHERE id = ?", [row_id])
                    if row is not None:
                        save(row)
                else:
                    calls[rng.randrange(len(calls))][1]()
            except Exception as exc:  # noqa: BLE001 - counted and reported
                with lock:
                    stats["errors"] += 1
                    if len(errors) < 5:
                        errors.append(f"{type(exc).__name__}: {exc}"[:300])
                continue
            with lock:
                stats[kind] += 1
                latencies.append((time.perf_counter() - t0) * 1000)

    started = time.perf_counter()
    pool = [threading.Thread(target=worker, args=(n,), name=f"bench-{n}") for n in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    elapsed = time.perf_counter() - started
    ops = stats["reads"] + stats["writes"]
    return {"threads": threads, "seconds": round(elapsed, 1), **stats, "ops_per_s": round(ops / elapsed, 1),
            "p50_ms": round(percentile(latencies, 50), 1) if latencies else None,
            "p95_ms": round(percentile(latencies, 95), 1) if latencies else None, "error_samples": errors}


# -- cold: a new process ----------------------------------------------------------------------
def cold_calls(db_path: str, page_calls: list[PageCall], today: str, *, memory_limit: str | None,
               per_page: bool = True) -> dict[str, Any]:
    """Per page (or for all pages at once), a fresh Python process opens the database and makes the calls once."""
    by_page: dict[str, list[PageCall]] = {}
    for c in page_calls:
        by_page.setdefault(c.source if per_page else "all pages", []).append(c)
    out: dict[str, Any] = {}
    for source, calls in by_page.items():
        spec = [[c.module, c.name, list(c.consts), list(c.kw_consts)] for c in calls]
        t0 = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "crm_core.bench_cold", db_path, today, json.dumps(spec), memory_limit or ""],
            cwd=ROOT, capture_output=True, text=True, timeout=600,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        wall = (time.perf_counter() - t0) * 1000
        if proc.returncode != 0:
            out[source] = {"error": (proc.stderr.strip().splitlines() or [f"exit {proc.returncode}"])[-1][:300]}
            continue
        got = json.loads(proc.stdout.strip().splitlines()[-1])
        got["process_wall_ms"] = round(wall, 1)
        out[source] = got
    return out


def run_cold(argv: list[str]) -> int:
    """Entry of `python -m crm_core.bench_cold DB TODAY SPEC [MEMORY_LIMIT]`."""
    from datetime import date

    from crm_core.access import load_actor
    from crm_core.bench_pages import Context, standard_extra

    t_start = time.perf_counter()
    db_path, today, spec = argv[0], date.fromisoformat(argv[1]), json.loads(argv[2])
    memory_limit = argv[3] if len(argv) > 3 and argv[3] else None
    t0 = time.perf_counter()
    db = Database(db_path)
    if memory_limit:
        db.execute(f"SET memory_limit = '{memory_limit}'")
    actor = load_actor(db, "admin")
    open_ms = (time.perf_counter() - t0) * 1000
    ctx = Context(today=today, extra=standard_extra(db, today))
    calls: dict[str, Any] = {}
    for module, name, consts, kw in spec:
        call = PageCall("cold", module, name, tuple(tuple(c) for c in consts), tuple(tuple(k) for k in kw))
        fn = call.function()
        args, kwargs = build_args(fn, ctx, call)
        try:
            inspect.signature(fn).bind(db, actor, *args, **kwargs)
        except TypeError:
            continue  # a page bug, reported by the warm measurement
        t0 = time.perf_counter()
        fn(db, actor, *args, **kwargs)
        calls[f"{module}.{name}"] = round((time.perf_counter() - t0) * 1000, 2)
    db.close()
    print(json.dumps({"open_ms": round(open_ms, 1), "calls_ms": calls,
                      "first_calls_ms": round(sum(calls.values()), 1),
                      "in_process_ms": round((time.perf_counter() - t_start) * 1000, 1)}))
    return 0


# -- app start in a real browser -------------------------------------------------------------
def app_start(db_path: str, runs: int = 3) -> dict[str, Any]:
    """`scripts/measure_start.py` against the benchmark database: Streamlit start to sign-in page drawn,
    and sign-in to the pipeline page drawn, in headless Chromium.

    Each run is a first start: a new server on a new copy of the file, on which
    the day's jobs are due, as on a user's first start of the day. The median of
    `runs` is reported (one start alone swung from 3.1 to 4.7 s between two
    quiet runs of the bench), the runs beside it.
    """
    script = ROOT / "scripts" / "measure_start.py"
    if not script.exists():
        raise RuntimeError("scripts/measure_start.py is not there")
    proc = subprocess.run([sys.executable, str(script), "--db", db_path, "--runs", str(runs)], cwd=ROOT,
                          capture_output=True, text=True, timeout=900)
    if proc.returncode != 0:
        raise RuntimeError((proc.stderr.strip().splitlines() or [f"exit {proc.returncode}"])[-1][:300])
    out: dict[str, Any] = {}
    for line in proc.stdout.splitlines():
        line = line.strip()
        if line.startswith("{"):
            for key, val in json.loads(line).items():
                if isinstance(val, dict) and "median" in val:
                    out[key] = val["median"]
                    out[f"{key}_runs"] = val.get("runs")
                else:
                    out[key] = val
    return out
