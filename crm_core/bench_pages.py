"""Which crm_core computations the pages run, and how to call them outside Streamlit.

The benchmark must measure what the pages actually do, and pages change as
features land. So instead of a hand-kept list, `page_calls()` reads
`pages/*.py` (and the `ui/*.py` helpers pages delegate to) and collects every
`cached(fn, db, actor, ...)` call, resolving `fn` through the file's imports.
Arguments are rebuilt from the function's signature (`build_args`): a
`PipelineFilter` gets the empty filter (all rows), a date gets today, an
account id gets the root of the big benchmark group, report options get
today. Constant arguments written in the page are used as written.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

# The forecast and plan pages have the tighter budget (issue 10).
FAST_PAGES = ("forecast", "plan_vs_actual", "plans", "plan")
PAGE_BUDGET_MS = 150.0
FAST_PAGE_BUDGET_MS = 100.0


@dataclass(frozen=True)
class PageCall:
    """One crm_core read a page makes through `ui.session.cached`."""

    source: str                 # "pages/forecast.py" or "ui/forecast_charts.py"
    module: str                 # "crm_core.forecast"
    name: str                   # "stage_funnel"
    consts: tuple[tuple[int, Any], ...] = ()        # positional constants after (db, actor)
    kw_consts: tuple[tuple[str, Any], ...] = ()     # keyword constants

    @property
    def label(self) -> str:
        return f"{Path(self.source).stem}: {self.module.removeprefix('crm_core.')}.{self.name}"

    @property
    def budget_ms(self) -> float:
        # the forecast and plan pages' own files, or their crm_core modules called from a ui helper
        stem = Path(self.source).stem
        mod = self.module.removeprefix("crm_core.")
        fast = any(stem.startswith(p) or mod.startswith(p) for p in FAST_PAGES)
        return FAST_PAGE_BUDGET_MS if fast else PAGE_BUDGET_MS

    def function(self) -> Callable[..., Any]:
        obj: Any = importlib.import_module(self.module)
        for part in self.name.split("."):
            obj = getattr(obj, part)
        return obj


@dataclass
class Context:
    """Values to call page functions with at benchmark scale."""

    today: date
    account_id: int = 1          # root of the big group
    opportunity_id: int = 1
    extra: dict[str, Any] = field(default_factory=dict)


class CannotCall(Exception):
    """The benchmark cannot build arguments for this function."""


def _imports(tree: ast.AST) -> dict[str, str]:
    """Local name -> dotted target ('crm_core.forecast' or 'crm_core.forecast.stage_funnel')."""
    names: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                names[a.asname or a.name.split(".")[0]] = a.name if a.asname else a.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for a in node.names:
                names[a.asname or a.name] = f"{node.module}.{a.name}"
    return names


def _dotted(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return f"{base}.{node.attr}" if base else None
    return None


def _resolve(expr: str, imports: dict[str, str]) -> tuple[str, str] | None:
    head, _, rest = expr.partition(".")
    target = imports.get(head)
    if target is None:
        return None
    full = f"{target}.{rest}" if rest else target
    if not full.startswith("crm_core."):
        return None
    # split module / attribute at the longest importable module prefix
    parts = full.split(".")
    for i in range(len(parts) - 1, 0, -1):
        mod = ".".join(parts[:i])
        try:
            importlib.import_module(mod)
        except ImportError:
            continue
        return mod, ".".join(parts[i:])
    return None


def _const(node: ast.AST) -> tuple[bool, Any]:
    try:
        return True, ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False, None


def page_calls(root: Path = ROOT) -> list[PageCall]:
    """Every `cached(crm_core_fn, db, actor, ...)` call in pages/ and ui/, in file order, without repeats."""
    found: dict[tuple[str, str], PageCall] = {}
    files = sorted((root / "pages").glob("*.py")) + sorted((root / "ui").glob("*.py"))
    for path in files:
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (OSError, SyntaxError):
            continue
        imports = _imports(tree)
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and (_dotted(node.func) or "").split(".")[-1] == "cached"):
                continue
            if not node.args:
                continue
            expr = _dotted(node.args[0])
            target = _resolve(expr, imports) if expr else None
            if target is None:
                continue
            consts = tuple((i, v) for i, a in enumerate(node.args[3:]) for ok, v in [_const(a)] if ok)
            kw = tuple((k.arg, v) for k in node.keywords if k.arg for ok, v in [_const(k.value)] if ok)
            key = target
            if key not in found:
                found[key] = PageCall(str(path.relative_to(root)), target[0], target[1], consts, kw)
    return list(found.values())


def build_args(fn: Callable[..., Any], ctx: Context, call: PageCall | None = None) -> tuple[list[Any], dict[str, Any]]:
    """Positional and keyword arguments after (db, actor) for a page/report function."""
    from crm_core.filters import PipelineFilter
    from crm_core.reports import ReportOptions

    params = list(inspect.signature(fn).parameters.values())[2:]
    consts = dict(call.consts) if call else {}
    kw_consts = dict(call.kw_consts) if call else {}
    args: list[Any] = []
    kwargs: dict[str, Any] = dict(kw_consts)
    for i, p in enumerate(params):
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) or p.name in kwargs:
            continue
        if i in consts:
            args.append(consts[i])
            continue
        if p.default is not p.empty or p.kind is p.KEYWORD_ONLY:
            if p.kind is p.KEYWORD_ONLY and p.default is p.empty:
                raise CannotCall(f"required keyword argument {p.name!r}")
            break  # leave the rest at their defaults
        ann = str(p.annotation)
        name = p.name
        if name in ctx.extra:
            args.append(ctx.extra[name])
        elif "Period" in ann and ("period_year" if "year" in name else "period") in ctx.extra:
            args.append(ctx.extra["period_year" if "year" in name else "period"])
        elif "PipelineFilter" in ann or name in ("flt", "filters", "filter"):
            args.append(PipelineFilter())
        elif "ReportOptions" in ann or name in ("opts", "options"):
            args.append(ReportOptions(today=ctx.today))
        elif name in ("account_id", "root_id", "root", "group_id"):
            args.append(ctx.account_id)
        elif name == "opportunity_id":
            args.append(ctx.opportunity_id)
        elif name in ("month", "today", "as_of", "day", "on", "period_start", "when") or ann in ("date", "'date'"):
            args.append(ctx.today)
        elif name == "year":
            args.append(ctx.today.year)
        elif name == "quarter":
            args.append(f"{ctx.today.year}Q{(ctx.today.month - 1) // 3 + 1}")
        elif name == "period":
            args.append(f"{ctx.today.year}Q{(ctx.today.month - 1) // 3 + 1}")
        elif name in ("text", "query", "search"):
            args.append("")
        elif name.endswith("_id") or name.endswith("_ids"):
            ident = _id_for(name, ctx)
            args.append([ident] if name.endswith("_ids") else ident)
        else:
            found, value = _module_default(fn, name)
            if not found:
                raise CannotCall(f"cannot choose a value for parameter {name!r} ({ann})")
            args.append(value)
    return args, kwargs


def _id_for(name: str, ctx: Context) -> Any:
    """A row id for a parameter named like `opp_id`, `owner_id`, `contact_ids`."""
    stem = name.removesuffix("_ids").removesuffix("_id")
    if stem in ctx.extra:
        return ctx.extra[stem]
    if stem in ("opp", "opportunity", "deal"):
        return ctx.opportunity_id
    if stem in ("account", "customer", "company", "survivor", "root", "group"):
        return ctx.account_id
    if stem in ("user", "owner", "rep", "member") and "owner_id" in ctx.extra:
        return ctx.extra["owner_id"]
    return 1


_CHOICES = {"by": "DIMENSIONS"}  # parameter -> the module constant listing its choices, when not NAME + "S"


def standard_extra(db: Any, today: date) -> dict[str, Any]:
    """Argument values that need the database: a rep, the current quarter and fiscal year."""
    rep = db.scalar("SELECT min(id) FROM users WHERE role = 'rep'")
    extra: dict[str, Any] = {"stage_id": 1, "owner_id": rep, "user_id": rep, "contact_id": 1, "product_id": 1,
                             "department_id": 1}
    try:
        periods = importlib.import_module("crm_core.periods")
        fy = periods.fiscal_year_start_month(db)
        extra["period"] = periods.containing(today, "quarter", fy)
        extra["period_year"] = periods.containing(today, "year", fy)
    except (ImportError, AttributeError):
        pass
    return extra


def _module_default(fn: Callable[..., Any], name: str) -> tuple[bool, Any]:
    """A value for a required parameter from the function's own module.

    The default another function of the module gives a parameter of the same
    name (value.action_list's pareto_metric is value.overview's "revenue"),
    else the first item of a module constant naming its choices (LIST_KINDS for kind).
    """
    module = inspect.getmodule(fn)
    if module is None:
        return False, None
    for other in vars(module).values():
        if inspect.isfunction(other) and other is not fn:
            p = inspect.signature(other).parameters.get(name)
            if p is not None and p.default is not p.empty and p.default is not None:
                return True, p.default
    plural = _CHOICES.get(name, name.upper() + "S")
    for const, value in vars(module).items():
        if const.isupper() and (const == plural or const.endswith("_" + plural)) and isinstance(value, (tuple, list)):
            if value:
                return True, value[0]
    return False, None


@dataclass
class Timing:
    """A function's first call, repeated calls, and calls after a simulated write.

    `repeat` is what a rerun costs (in-process memos may answer it);
    `fresh` bumps the database's data version before each call, as any
    committed write does, so memos keyed by it miss and derived data is
    re-checked: the cost a page pays after someone saved something. The
    budget is judged on `fresh`.
    """

    first_ms: float
    repeat_ms: list[float]
    fresh_ms: list[float] = field(default_factory=list)

    @property
    def median_ms(self) -> float:
        samples = self.fresh_ms or self.repeat_ms
        return statistics.median(samples) if samples else self.first_ms

    @property
    def p95_ms(self) -> float:
        return percentile(self.fresh_ms or self.repeat_ms or [self.first_ms], 95)

    def as_dict(self) -> dict[str, Any]:
        def stats(xs: list[float]) -> dict[str, Any]:
            return {"median_ms": round(statistics.median(xs), 2), "p95_ms": round(percentile(xs, 95), 2),
                    "calls": len(xs)} if xs else {"calls": 0}

        return {"first_ms": round(self.first_ms, 2), "median_ms": round(self.median_ms, 2),
                "p95_ms": round(self.p95_ms, 2), "calls": len(self.fresh_ms or self.repeat_ms),
                "repeat": stats(self.repeat_ms), "after_write": stats(self.fresh_ms)}


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile (p95 of 20 samples is the 19th smallest)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, -(-len(ordered) * pct // 100))
    return ordered[int(rank) - 1]


def time_calls(fn: Callable[[], Any], *, min_calls: int, max_calls: int, max_seconds: float,
               bump: Callable[[], None] | None = None) -> Timing:
    """The first call, then repeated calls, then (with `bump`) calls each after a simulated write."""
    t0 = time.perf_counter()
    fn()
    first = (time.perf_counter() - t0) * 1000
    if first > 1000 * max(max_seconds, 0.5) / 2:
        # far over any budget: one more sample of each kind tells as much and keeps the run within its time
        min_calls = max_calls = 1

    def sample(before: Callable[[], None] | None) -> list[float]:
        out: list[float] = []
        started = time.perf_counter()
        while len(out) < max_calls and (len(out) < min_calls or time.perf_counter() - started < max_seconds):
            if before is not None:
                before()
            t0 = time.perf_counter()
            fn()
            out.append((time.perf_counter() - t0) * 1000)
        return out

    repeat = sample(None)
    return Timing(first, repeat, sample(bump) if bump is not None else [])
