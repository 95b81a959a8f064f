"""Period arithmetic for plans: months, fiscal quarters and fiscal years.

Every plan period is a run of whole calendar months, so actuals are summed
per calendar month and a period is simply "months from `start`, `len` long".
The fiscal year starts on the first day of the month stored in the setting
`fiscal_year_start_month` (1 = January). A fiscal year is named after the
calendar year it starts in: with an April start, FY2026 runs from 2026-04-01
to 2027-03-31 and 2026Q1 is April-June 2026.

Text forms accepted by `parse` (and printed by `Period.label`):
`2026-07` (a month), `2026Q3` / `2026-Q3` (a fiscal quarter), `FY2026` /
`2026` (a fiscal year).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from crm_core.errors import ValidationError

GRAINS = ("month", "quarter", "year")
MONTHS_IN = {"month": 1, "quarter": 3, "year": 12}


def add_months(d: date, n: int) -> date:
    """The first day of the month `n` months after the month of `d`."""
    k = d.year * 12 + (d.month - 1) + n
    return date(k // 12, k % 12 + 1, 1)


def month_start(d: date) -> date:
    return date(d.year, d.month, 1)


def fiscal_year_start_month(db: Any) -> int:
    """The configured first month of the fiscal year (1-12)."""
    from crm_core import settings

    value = settings.get(db, "fiscal_year_start_month")
    try:
        month = int(value)
    except (TypeError, ValueError):
        return 1
    return month if 1 <= month <= 12 else 1


def _check_grain(grain: str) -> None:
    if grain not in GRAINS:
        raise ValidationError(f"Unknown period grain {grain!r}: expected one of month, quarter, year.",
                              field="grain", value=grain)


@dataclass(frozen=True)
class Period:
    """A month, fiscal quarter or fiscal year; `start` is its first day."""

    grain: str
    start: date
    fy_start: int = 1

    @property
    def months(self) -> int:
        return MONTHS_IN[self.grain]

    @property
    def end(self) -> date:
        """The first day after the period (exclusive end)."""
        return add_months(self.start, self.months)

    @property
    def last_day(self) -> date:
        return self.end - timedelta(days=1)

    @property
    def fiscal_year(self) -> int:
        """The calendar year in which this period's fiscal year starts."""
        return self.start.year if self.start.month >= self.fy_start else self.start.year - 1

    @property
    def label(self) -> str:
        if self.grain == "month":
            return f"{self.start.year}-{self.start.month:02d}"
        if self.grain == "year":
            return f"FY{self.fiscal_year}"
        offset = (self.start.month - self.fy_start) % 12
        return f"{self.fiscal_year}Q{offset // 3 + 1}"

    def month_starts(self) -> list[date]:
        return [add_months(self.start, i) for i in range(self.months)]

    def contains(self, d: date) -> bool:
        return self.start <= d < self.end

    def days(self) -> int:
        return (self.end - self.start).days

    def elapsed_share(self, today: date) -> float:
        """Share of the period's days gone by at the end of `today` (0 before, 1 after).

        Today counts as elapsed: on the last day of a quarter the share is 1.
        """
        if today < self.start:
            return 0.0
        if today >= self.last_day:
            return 1.0
        return ((today - self.start).days + 1) / self.days()

    def status(self, today: date) -> str:
        """'past', 'current' or 'future' relative to `today`."""
        if today < self.start:
            return "future"
        if today >= self.end:
            return "past"
        return "current"

    def parent(self, grain: str) -> Period:
        """The enclosing period of a coarser (or the same) grain."""
        return containing(self.start, grain, self.fy_start)

    def children(self, grain: str) -> list[Period]:
        """The periods of a finer (or the same) grain that make up this one."""
        _check_grain(grain)
        step = MONTHS_IN[grain]
        if step > self.months:
            raise ValidationError(f"A {self.grain} cannot be split into {grain}s.", field="grain", value=grain)
        return [Period(grain, add_months(self.start, i), self.fy_start) for i in range(0, self.months, step)]

    def shift(self, n: int) -> Period:
        """The period `n` steps later (earlier when negative) of the same grain."""
        return Period(self.grain, add_months(self.start, n * self.months), self.fy_start)

    def __str__(self) -> str:
        return self.label


def fiscal_year_start(d: date, fy_start: int = 1) -> date:
    """The first day of the fiscal year containing `d`."""
    year = d.year if d.month >= fy_start else d.year - 1
    return date(year, fy_start, 1)


def containing(d: date, grain: str, fy_start: int = 1) -> Period:
    """The period of `grain` that contains the day `d`."""
    _check_grain(grain)
    if grain == "month":
        return Period("month", month_start(d), fy_start)
    fy = fiscal_year_start(d, fy_start)
    if grain == "year":
        return Period("year", fy, fy_start)
    offset = ((d.year - fy.year) * 12 + d.month - fy.month) // 3 * 3
    return Period("quarter", add_months(fy, offset), fy_start)


def aligned(grain: str, start: date, fy_start: int = 1) -> bool:
    """True when `start` is the first day of a `grain` period."""
    return containing(start, grain, fy_start).start == start


def of_start(grain: str, start: date, fy_start: int = 1) -> Period:
    """The period beginning on `start`; refuses a day that does not begin one."""
    _check_grain(grain)
    p = containing(start, grain, fy_start)
    if p.start != start:
        raise ValidationError(
            f"{start.isoformat()} is not the first day of a {grain} (fiscal year starts in month {fy_start}); "
            f"the {grain} containing it starts on {p.start.isoformat()}.",
            field="period_start", value=start,
        )
    return p


_MONTH = re.compile(r"^(\d{4})-(\d{1,2})$")
_QUARTER = re.compile(r"^(?:FY)?(\d{4})[- ]?Q([1-4])$")
_YEAR = re.compile(r"^(?:FY)?(\d{4})$")


def parse(text: str, fy_start: int = 1) -> Period:
    """A period from text: `2026-07`, `2026Q3` (fiscal quarter), `FY2026` or `2026` (fiscal year)."""
    raw = (text or "").strip().upper()
    m = _MONTH.match(raw)
    if m and 1 <= int(m.group(2)) <= 12:
        return Period("month", date(int(m.group(1)), int(m.group(2)), 1), fy_start)
    m = _QUARTER.match(raw)
    if m:
        fy = date(int(m.group(1)), fy_start, 1)
        return Period("quarter", add_months(fy, 3 * (int(m.group(2)) - 1)), fy_start)
    m = _YEAR.match(raw)
    if m:
        return Period("year", date(int(m.group(1)), fy_start, 1), fy_start)
    raise ValidationError(
        f"Cannot read the period {text!r}: expected a month like 2026-07, a quarter like 2026Q3, "
        "or a fiscal year like FY2026.", field="period", value=text,
    )


def parse_for_grain(text: str, grain: str | None, fy_start: int = 1) -> Period:
    """`parse`, also checking that the text names a period of `grain` when one is asked for."""
    p = parse(text, fy_start)
    if grain and p.grain != grain:
        raise ValidationError(f"The period {text!r} is a {p.grain}, but the grain asked for is {grain}.",
                              field="period", value=text)
    return p


def around(today: date, grain: str, fy_start: int = 1, *, back: int = 4, ahead: int = 2) -> list[Period]:
    """The periods of `grain` from `back` before the current one to `ahead` after it, newest first."""
    current = containing(today, grain, fy_start)
    return [current.shift(n) for n in range(ahead, -back - 1, -1)]
