"""`crm report plan-vs-actual` from one statement gives exactly what `by_member`, metric
after metric, gives (the report used to be that loop: about forty statements).

The loop is the independent computation here: every dimension, every role's
view, a running and a finished period, one metric or all.
"""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from crm_core import periods, plans
from crm_core.access import load_actor
from crm_core.reports import ReportOptions

TODAY = date(2026, 6, 30)


def _loop(db, actor, by, period, metrics):
    frames = [plans.by_member(db, actor, by, period, m, today=TODAY) for m in metrics]
    return pl.concat(frames, how="vertical_relaxed")


@pytest.fixture(scope="module")
def demo(_demo_template, tmp_path_factory):
    import shutil

    from crm_core.db import Database

    path = tmp_path_factory.mktemp("plans_report") / "demo.duckdb"
    shutil.copy(_demo_template, path)
    db = Database(path)
    with db.atomic() as cur:
        # a deal without an owner, open and won, so the "no member" rows are exercised too
        cur.execute("""INSERT INTO opportunities (account_id, name, owner_id, product_id, stage_id, amount,
                       expected_close, created_at, status, region)
                       SELECT min(id), 'nobody''s', NULL, NULL, (SELECT min(id) FROM stages WHERE NOT is_won
                              AND NOT is_lost), 1234.5, DATE '2026-06-20', TIMESTAMP '2026-04-02 10:00', 'open', NULL
                       FROM accounts""")
    yield db
    db.close()


@pytest.mark.parametrize("by", plans.DIMENSIONS)
@pytest.mark.parametrize("login", ["admin", "manager1", "rep1"])
def test_report_equals_by_member_for_each_metric(demo, by, login):
    actor = load_actor(demo, login)
    for text in ("2026Q2", "2026-06", "2025"):
        period = periods.parse(text)
        got = plans.report_plan_vs_actual(demo, actor, ReportOptions(by=by, period=text, today=TODAY))
        expected = _loop(demo, actor, by, period, list(plans.METRICS))
        assert got.height > 0 or expected.height == 0
        assert_frame_equal(got, expected)


def test_one_metric_and_the_default_dimension(demo):
    admin = load_actor(demo, "admin")
    got = plans.report_plan_vs_actual(demo, admin, ReportOptions(grain="quarter", period="2026Q2", today=TODAY,
                                                                 extra=(("metric", "won_count"),)))
    assert_frame_equal(got, _loop(demo, admin, "owner", periods.parse("2026Q2"), ["won_count"]))
    assert set(got["by"].to_list()) == {"owner"} and got["pipeline"].sum() > 0


def test_unknown_metric_is_refused(demo):
    from crm_core.errors import ValidationError

    with pytest.raises(ValidationError, match="Unknown metric"):
        plans.report_plan_vs_actual(demo, load_actor(demo, "admin"),
                                    ReportOptions(period="2026Q2", today=TODAY, extra=(("metric", "profit"),)))
