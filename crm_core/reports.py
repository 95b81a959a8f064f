"""The named reports behind `crm report NAME`: the same functions the pages call.

A domain module adds reports by defining `REPORTS = {name: fn}` where
`fn(db, actor, options) -> polars.DataFrame`; `MODULES` lists where to look.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import polars as pl

MODULES = ("crm_core.forecast", "crm_core.plans", "crm_core.value")


@dataclass(frozen=True)
class ReportOptions:
    by: str | None = None           # owner | department | region | product | account
    grain: str | None = None        # month | quarter | year
    period: str | None = None       # e.g. 2026Q3, 2026-07, 2026
    date_from: date | None = None
    date_to: date | None = None
    today: date | None = None
    extra: tuple[tuple[str, Any], ...] = ()


def all_reports() -> dict[str, Callable[..., pl.DataFrame]]:
    found: dict[str, Callable[..., pl.DataFrame]] = {}
    for name in MODULES:
        module = importlib.import_module(name)
        found.update(getattr(module, "REPORTS", {}))
    return found
