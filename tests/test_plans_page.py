"""The Plan vs actual page under AppTest: what a user sees, editing a target
in the grid, importing a target file with an error."""

from __future__ import annotations

import pytest

from tests.apptest_helpers import run_page, texts


def _open(login, tab=None):
    """Run the page; with `tab`, run it again with that tab open (tabs compute lazily)."""
    at = run_page("plan_vs_actual.py", login=login)
    if tab:
        at.session_state["plan_tab"] = tab
        at.run()
    return at


def _grid(at):
    return next(df for df in at.dataframe if "attainment_pct" in df.value.columns and "id" in df.value.columns)


def test_manager_sees_headline_charts_leaderboard_and_rollup(app_db):
    at = _open("manager1")
    assert not at.exception, at.exception
    assert at.title[0].value == "Plan vs actual"
    labels = [m.label for m in at.metric]
    assert {"Target", "Actual", "Attainment", "Run-rate projection", "Pipeline coverage"} <= set(labels)
    assert "Leaderboard" in texts(at)
    board = next(df.value for df in at.dataframe if "rank" in df.value.columns)
    assert board.shape[0] >= 1
    # drill into the leader's deals
    pick = next(s for s in at.selectbox if s.key and s.key.startswith("plan_drill_"))
    pick.select_index(0).run()
    assert not at.exception, at.exception
    assert "Behind the number" in texts(at)
    at.session_state["plan_tab"] = "Roll-up"
    at.run()
    rollup = next(df.value for df in at.dataframe if "children_target" in df.value.columns)
    assert rollup.shape[0] >= 2
    at.session_state["plan_tab"] = "Money collected"
    at.run()
    assert not at.exception, at.exception
    assert {"Outstanding", "Overdue"} <= {m.label for m in at.metric}
    assert any("days_overdue" in df.value.columns for df in at.dataframe)


def test_rep_sees_only_themselves(app_db):
    at = _open("rep2")
    assert not at.exception
    board = next(df.value for df in at.dataframe if "rank" in df.value.columns)
    assert board.shape[0] == 1
    at = _open("rep2", "Targets")
    assert "Only admins and managers change targets." in texts(at)


def test_edit_a_target_in_the_grid_changes_attainment(app_db):
    at = _open("admin", "Targets")
    grid = _grid(at).value
    row = grid.index[grid["actual"] > 0][0] if (grid["actual"] > 0).any() else grid.index[0]
    actual = float(grid.loc[row, "actual"])
    new_target = round(actual * 2, 2) if actual > 0 else 1000.0
    at.session_state["plan_grid_0"] = {"edited_rows": {int(row): {"target": new_target}}, "added_rows": [],
                                       "deleted_rows": []}
    at.button(key="plan_grid_save").click().run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    assert "Targets saved: 0 added, 1 changed, 0 deleted." in texts(at)
    after = _grid(at).value
    changed = after[after["id"] == grid.loc[row, "id"]].iloc[0]
    assert changed["target"] == pytest.approx(new_target)
    assert changed["attainment_pct"] == pytest.approx(actual / new_target * 100, abs=0.05)


def test_import_with_an_error_shows_it_and_changes_nothing(app_db):
    at = _open("admin", "Targets")
    before = _grid(at).value.shape[0]
    bad = b"period,metric,owner,value\n2026Q3,won_amount,rep2,100\n2026Q3,won_amount,nobody,5\n"
    at.file_uploader(key="plan_import_file").set_value(("plan.csv", bad, "text/csv")).run()
    at.button(key="plan_import_go").click().run()
    assert not at.exception, at.exception
    errors = " ".join(e.value for e in at.error)
    assert "Nothing was imported" in errors and "row 3: no owner called 'nobody'" in errors
    assert _grid(at).value.shape[0] == before


def test_chinese_labels(app_db):
    at = _open("manager1")
    at.session_state["lang"] = "zh"
    at.run()
    assert not at.exception
    assert at.title[0].value == "计划与实际"
    assert "达成率" in [m.label for m in at.metric]


def test_chart_labels_escape_user_text():
    import polars as pl

    from ui import plan_charts

    df = pl.DataFrame({"member": ["<a href='x'>evil</a>"], "member_id": [1], "actual": [1.0], "target": [2.0],
                       "projection": [2.0], "elapsed_share": [0.5]})
    fig = plan_charts.bullet(df, "t")
    assert fig.data[0].y == ("&lt;a href=&#x27;x&#x27;&gt;evil&lt;/a&gt;",)
    assert fig.data[0].customdata == (1,)
