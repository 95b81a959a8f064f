"""The Relationships page under AppTest: what a user sees and what the forms change."""

from __future__ import annotations

import pytest

from crm_core.db import Database
from tests.apptest_helpers import run_page, texts


def _group_root(path) -> int:
    """An account of the demo with subsidiaries, some owned by another rep than the parent's owner."""
    with Database(path) as db:
        return db.scalar(
            "SELECT p.id FROM accounts p JOIN accounts c ON c.parent_id = p.id "
            "WHERE p.owner_id IS NOT NULL AND c.owner_id IS NOT NULL AND c.owner_id <> p.owner_id "
            "ORDER BY p.id LIMIT 1")


def _pick(at, account_id: int):
    at.text_input(key="rel_acct_q").set_value(str(account_id)).run()
    return at


def test_manager_sees_group_table_and_figures(app_db):
    at = run_page("relationships.py", login="manager1")
    assert not at.exception
    shown = texts(at)
    assert "Relationship diagrams" in shown and "Units in the group" in shown
    assert at.dataframe[0].value.shape[0] >= 1
    assert "Path from the picked account" in at.dataframe[0].value.columns


def test_rep_sees_other_owner_but_not_figures(app_db):
    root = _group_root(app_db)
    with Database(app_db) as db:
        login = db.scalar("SELECT u.login FROM users u JOIN accounts a ON a.owner_id = u.id WHERE a.id = ?", [root])
    at = _pick(run_page("relationships.py", login=login), root)
    assert not at.exception
    table = at.dataframe[0].value
    other = table[table["Another owner"]]
    assert len(other) >= 1
    assert other["Owner"].notna().all()
    # another rep's units show no revenue or lifecycle (unless they are in the public pool)
    assert other["Annual revenue"].isna().all() and other["Lifecycle"].isna().all()
    assert int(at.metric[1].value) == len(other)


@pytest.mark.parametrize("view,expected", [("contacts", "Top to bottom: who reports to whom"),
                                           ("deal", "Contacts on this deal")])
def test_other_views_draw(app_db, view, expected):
    root = _group_root(app_db)
    at = _pick(run_page("relationships.py", login="admin"), root)
    at.segmented_control(key="rel_view").set_value(view).run()
    assert not at.exception
    if view == "deal" and "You have no deals with this account." in texts(at):
        pytest.skip("no deal on this account")
    assert expected in texts(at)


def test_add_link_from_the_page_and_duplicate_refused(app_db):
    root = _group_root(app_db)
    with Database(app_db) as db:
        target = db.scalar("SELECT max(id) FROM accounts")
        before = db.scalar("SELECT count(*) FROM account_links")
    at = _pick(run_page("relationships.py", login="admin"), root)
    at.selectbox(key="rel_link_kind").set_value("partner_of")
    at.text_input(key="rel_link_target_q").set_value(str(target)).run()
    at.button(key="rel_link_add").click().run()
    assert not at.exception and not at.error
    with Database(app_db) as db:
        assert db.scalar("SELECT count(*) FROM account_links") == before + 1
        assert db.one("SELECT from_account_id, to_account_id, kind FROM account_links ORDER BY id DESC LIMIT 1") == {
            "from_account_id": root, "to_account_id": target, "kind": "partner_of"}
    at.button(key="rel_link_add").click().run()
    assert "is already recorded as partner of" in at.error[0].value


def test_chinese(app_db):
    from streamlit.testing.v1 import AppTest

    from tests.apptest_helpers import ROOT
    at = AppTest.from_file(str(ROOT / "pages/relationships.py"), default_timeout=60)
    at.session_state["actor_login"] = "admin"
    at.session_state["lang"] = "zh"
    at.run()
    assert not at.exception
    assert "关系图" in texts(at) and "集团单位数" in texts(at)


def test_cap_says_how_many_were_left_out(app_db, monkeypatch):
    from ui import graph_render
    monkeypatch.setattr(graph_render, "NODE_CAP", 3)
    root = _group_root(app_db)
    at = _pick(run_page("relationships.py", login="admin"), root)
    at.slider(key="rel_depth").set_value(6).run()
    assert not at.exception
    warning = " ".join(w.value for w in at.warning)
    assert "the nearest 3 are shown" in warning and "are left out" in warning
    assert at.dataframe[0].value.shape[0] == 3
    at.button(key="rel_narrow").click().run()
    assert at.slider(key="rel_depth").value == 5
