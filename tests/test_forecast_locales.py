"""Every text the forecast page shows has English and Chinese, with the same placeholders."""

from __future__ import annotations

import re
import string
from pathlib import Path

from crm_core import forecast
from crm_core.access import Actor
from crm_core.forecast_common import GROUPS, METHODS
from tests.conftest import TODAY
from ui.forecast_views import HIDDEN
from ui.locales.forecast import STRINGS

ROOT = Path(__file__).resolve().parent.parent
FILES = ["pages/forecast.py", "ui/forecast_views.py", "ui/forecast_charts.py"]


def fields(text: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(text) if f}


def test_literal_keys_exist_in_both_languages():
    used = set()
    for name in FILES:
        used |= set(re.findall(r't\("(forecast\.[a-z_.]+)"', (ROOT / name).read_text()))
    dynamic = ({f"forecast.method.{m}" for m in METHODS} | {f"forecast.method_says.{m}" for m in METHODS}
               | {f"forecast.by.{g}" for g in GROUPS}
               | {f"forecast.cat.{c}" for c in ("closed", "commit", "best_case", "pipeline")}
               | {f"forecast.tab.{n}" for n in ("funnel", "velocity", "forecast", "whatif", "accuracy", "slippage")})
    missing = sorted(k for k in used | dynamic if k not in STRINGS)
    assert not missing
    for key, (en, zh) in STRINGS.items():
        assert en and zh, key
        assert fields(en) == fields(zh), key


def test_every_shown_column_has_a_label(demo_db):
    admin = Actor.system()
    res = forecast.forecast(demo_db, admin, today=TODAY)
    forecast.take_snapshot(demo_db, admin, today=TODAY)
    acc = forecast.accuracy(demo_db, admin, weeks_before=0, today=TODAY)
    frames = [forecast.accuracy_totals(acc),
        forecast.funnel(demo_db, admin), forecast.velocity(demo_db, admin, by="owner"), res["monthly"],
        res["probabilities"], forecast.accuracy(demo_db, admin, weeks_before=0, today=TODAY),
        forecast.slippage(demo_db, admin, by="owner"), forecast.slipped_deals(demo_db, admin),
        forecast.stale_deals(demo_db, admin, today=TODAY), forecast.stage_deals(demo_db, admin, None, 3),
    ]
    extra = {"baseline", "baseline_coverage", "scenario", "scenario_coverage", "change", "target", "month"}
    columns = {c for f in frames for c in f.columns} | extra
    missing = sorted(c for c in columns - HIDDEN - set(GROUPS) - {"id"} if f"forecast.col.{c}" not in STRINGS)
    assert not missing
