"""Period arithmetic: months, fiscal quarters and years, parsing, elapsed share."""

from datetime import date

import pytest

from crm_core import periods, settings
from crm_core.access import Actor
from crm_core.errors import ValidationError
from crm_core.periods import Period


def test_parse_calendar_forms():
    assert periods.parse("2026-07") == Period("month", date(2026, 7, 1))
    assert periods.parse("2026Q3") == Period("quarter", date(2026, 7, 1))
    assert periods.parse("2026-q3") == Period("quarter", date(2026, 7, 1))
    assert periods.parse("FY2026") == Period("year", date(2026, 1, 1))
    assert periods.parse("2026") == Period("year", date(2026, 1, 1))


def test_parse_fiscal_april_start():
    # FY2026 with an April start runs 2026-04-01 .. 2027-03-31; its Q1 is Apr-Jun 2026, Q4 Jan-Mar 2027
    fy = periods.parse("FY2026", 4)
    assert (fy.start, fy.end) == (date(2026, 4, 1), date(2027, 4, 1))
    assert periods.parse("2026Q1", 4).start == date(2026, 4, 1)
    q4 = periods.parse("2026Q4", 4)
    assert (q4.start, q4.last_day) == (date(2027, 1, 1), date(2027, 3, 31))
    assert q4.label == "2026Q4"
    assert periods.containing(date(2027, 2, 14), "year", 4).label == "FY2026"
    assert periods.containing(date(2027, 2, 14), "quarter", 4) == q4


@pytest.mark.parametrize("text", ["", "2026-13", "Q3", "26Q3", "2026Q5", "next year"])
def test_parse_refuses_bad_text(text):
    with pytest.raises(ValidationError, match="2026Q3"):
        periods.parse(text)


def test_parse_for_grain_checks_the_grain():
    with pytest.raises(ValidationError, match="is a month"):
        periods.parse_for_grain("2026-07", "quarter")


def test_quarter_is_three_months_and_children():
    q = periods.parse("2026Q3")
    assert q.month_starts() == [date(2026, 7, 1), date(2026, 8, 1), date(2026, 9, 1)]
    assert [c.label for c in q.children("month")] == ["2026-07", "2026-08", "2026-09"]
    assert [c.label for c in periods.parse("FY2026").children("quarter")] == ["2026Q1", "2026Q2", "2026Q3", "2026Q4"]
    with pytest.raises(ValidationError):
        q.children("year")
    assert q.shift(1).label == "2026Q4" and q.shift(2).label == "2027Q1" and q.shift(-3).label == "2025Q4"
    assert periods.parse("2026-07").parent("quarter") == q


def test_elapsed_share():
    q = periods.parse("2026Q3")  # 92 days: Jul 31 + Aug 31 + Sep 30
    assert q.days() == 92
    assert q.elapsed_share(date(2026, 6, 30)) == 0.0
    assert q.elapsed_share(date(2026, 7, 1)) == pytest.approx(1 / 92)
    assert q.elapsed_share(date(2026, 8, 15)) == pytest.approx(46 / 92)  # 31 days of July + 15 of August
    assert q.elapsed_share(date(2026, 9, 30)) == 1.0  # the last day counts as elapsed
    assert q.elapsed_share(date(2026, 12, 1)) == 1.0
    assert [q.status(d) for d in (date(2026, 6, 1), date(2026, 7, 1), date(2026, 10, 1))] == [
        "future", "current", "past"]


def test_alignment_of_period_starts():
    assert periods.aligned("quarter", date(2026, 4, 1))
    assert not periods.aligned("quarter", date(2026, 5, 1))
    assert periods.aligned("quarter", date(2026, 5, 1), fy_start=2)
    with pytest.raises(ValidationError, match="2026-04-01"):
        periods.of_start("quarter", date(2026, 5, 1))


def test_fiscal_year_start_setting(db):
    assert periods.fiscal_year_start_month(db) == 1
    settings.put(db, Actor.system(), "fiscal_year_start_month", 4)
    assert periods.fiscal_year_start_month(db) == 4
    settings.put(db, Actor.system(), "fiscal_year_start_month", "junk")
    assert periods.fiscal_year_start_month(db) == 1
