"""The Pipeline page under AppTest: a rep's day through the forms; bad input shows a message and changes nothing."""

from __future__ import annotations

from crm_core.db import Database
from tests.apptest_helpers import db_scalar as _count
from tests.apptest_helpers import run_page, texts


def _submit(at, form: str, label: str):
    return at.button(key=f"FormSubmitter:{form}-{label}").click().run()


def _tab(at, label: str):
    """Open a tab of the page: only the open tab is drawn (a click in the browser does this)."""
    at.session_state["pl_tab"] = label
    return at.run()


def test_rep_registers_an_account_and_a_duplicate_is_refused(app_db):
    at = run_page("pipeline.py", login="rep1")
    assert not at.exception
    assert "My opportunities" in [tab.label for tab in at.tabs]
    assert "Manage" not in [tab.label for tab in at.tabs]
    _tab(at, "New entry")
    before = _count(app_db, "SELECT count(*) FROM accounts")
    at.text_input(key="pl_acc_name").set_value("Zephyr Test Instruments Co., Ltd.")
    at.text_input(key="pl_acc_phone").set_value("+86 21 7777 0001")
    _submit(at, "pl_account_form", "Register account")
    assert not at.exception
    assert any("Zephyr Test Instruments" in s.value for s in at.success)
    assert _count(app_db, "SELECT count(*) FROM accounts") == before + 1
    # the same company in full-width letters with a Chinese suffix: refused, nothing added
    at.text_input(key="pl_acc_name").set_value("ＺＥＰＨＹＲ Test Instruments 有限公司")
    at.text_input(key="pl_acc_phone").set_value("")
    _submit(at, "pl_account_form", "Register account")
    assert any("already registered" in e.value and "since" in e.value for e in at.error)
    assert _count(app_db, "SELECT count(*) FROM accounts") == before + 1


def test_blank_name_shows_a_message_and_changes_nothing(app_db):
    at = _tab(run_page("pipeline.py", login="rep1"), "New entry")
    before = _count(app_db, "SELECT count(*) FROM accounts")
    _submit(at, "pl_account_form", "Register account")
    assert any("needs a name" in e.value for e in at.error)
    assert not at.exception
    deals = _count(app_db, "SELECT count(*) FROM opportunities")
    _submit(at, "pl_deal_form", "Save opportunity")          # no name
    assert any("needs a name" in e.value for e in at.error)
    assert _count(app_db, "SELECT count(*) FROM accounts") == before
    assert _count(app_db, "SELECT count(*) FROM opportunities") == deals


def test_rep_enters_a_deal_logs_a_follow_up_and_claims_from_the_pool(app_db):
    at = _tab(run_page("pipeline.py", login="rep1"), "New entry")
    deals = _count(app_db, "SELECT count(*) FROM opportunities")
    # a deal on an existing account (the picker's first entry after "a new account")
    accounts = at.selectbox(key="pl_deal_account").options
    at.selectbox(key="pl_deal_account").select_index(1).run()
    at.text_input(key="pl_deal_name").set_value("AppTest scanners")
    at.number_input(key="pl_deal_amount").set_value(12500.0)
    _submit(at, "pl_deal_form", "Save opportunity")
    assert not at.exception, at.exception
    assert any("AppTest scanners" in s.value for s in at.success), [e.value for e in at.error]
    assert len(accounts) > 1
    assert _count(app_db, "SELECT count(*) FROM opportunities") == deals + 1
    opp_id = _count(app_db, "SELECT id FROM opportunities WHERE name = 'AppTest scanners'")
    assert _count(app_db, "SELECT count(*) FROM stage_history WHERE opportunity_id = ?", [opp_id]) == 1

    # a follow-up without a subject is refused; with one it is saved with a next date
    _tab(at, "Follow-ups")
    acts = _count(app_db, "SELECT count(*) FROM activities")
    _submit(at, "pl_activity_form", "Save follow-up")
    assert any("needs a subject" in e.value for e in at.error)
    assert _count(app_db, "SELECT count(*) FROM activities") == acts
    at.text_input(key="pl_act_subject").set_value("Called the buyer")
    _submit(at, "pl_activity_form", "Save follow-up")
    assert any("Follow-up saved" in s.value for s in at.success)
    assert _count(app_db, "SELECT count(*) FROM activities") == acts + 1

    # claim the first pool account
    _tab(at, "Public pool")
    pick = at.selectbox(key="pl_pool_pick").value
    _submit(at, "pl_claim_form", "Claim")
    assert any("is yours now" in s.value for s in at.success), [e.value for e in at.error]
    assert _count(app_db, "SELECT owner_id FROM accounts WHERE id = ?", [pick]) == _count(
        app_db, "SELECT id FROM users WHERE login = 'rep1'")
    assert "1 / 5" in texts(at)


def test_release_needs_a_reason(app_db):
    at = _tab(run_page("pipeline.py", login="rep2"), "Public pool")
    pick = at.selectbox(key="pl_rel_pick").value
    owner = _count(app_db, "SELECT owner_id FROM accounts WHERE id = ?", [pick])
    _submit(at, "pl_release_form", "Release to the pool")
    assert any("why you release" in e.value for e in at.error)
    assert _count(app_db, "SELECT owner_id FROM accounts WHERE id = ?", [pick]) == owner
    at.text_input(key="pl_rel_reason").set_value("No budget this year")
    _submit(at, "pl_release_form", "Release to the pool")
    assert _count(app_db, "SELECT owner_id FROM accounts WHERE id = ?", [pick]) is None


def test_manager_sees_manage_tab_and_reminders(app_db):
    at = run_page("pipeline.py", login="manager1")
    assert not at.exception
    labels = [tab.label for tab in at.tabs]
    assert "Manage" in labels and "Reminders" in labels
    shown = texts(_tab(at, "Reminders")) + texts(_tab(at, "Manage"))
    for heading in ("Overdue follow-ups", "Payments due", "Past expected close", "Stale in stage",
                    "Merge duplicate accounts", "Hand over a rep's accounts", "Lifecycle rules"):
        assert heading in shown


def test_settings_tab_saves_rules_and_refuses_bad_values(app_db):
    at = run_page("settings.py", login="manager1")
    assert not at.exception
    at.number_input(key="pl_set_pool.daily_claim_limit").set_value(9)
    _submit(at, "pl_settings_form", "Save rules")
    assert any("1 settings changed" in s.value for s in at.success)
    assert _count(app_db, "SELECT value FROM settings WHERE key = 'pool.daily_claim_limit'") == "9"
    at.number_input(key="pl_set_lifecycle.churned_after_days").set_value(100)   # shorter than dormant (180)
    _submit(at, "pl_settings_form", "Save rules")
    assert any("must be longer than dormant" in e.value for e in at.error)
    assert _count(app_db, "SELECT value FROM settings WHERE key = 'lifecycle.churned_after_days'") is None


def test_account_edit_is_versioned(app_db):
    at = _tab(run_page("pipeline.py", login="rep3"), "Accounts")
    account_id = at.selectbox(key="pl_accts_pick").value
    form = f"pl_account_edit_{account_id}"
    version = _count(app_db, "SELECT version FROM accounts WHERE id = ?", [account_id])
    # someone else edits the account after the page was drawn: the save is refused with the current values
    db = Database(app_db, migrate=False)
    db.execute("UPDATE accounts SET city = 'Elsewhere', version = version + 1 WHERE id = ?", [account_id])
    db.close()
    city = [w for w in at.text_input if w.label == "City"][-1]
    city.set_value("Hangzhou")
    _submit(at, form, "Save account")
    assert any("changed by someone else" in e.value for e in at.error), [e.value for e in at.error]
    assert _count(app_db, "SELECT city FROM accounts WHERE id = ?", [account_id]) == "Elsewhere"
    assert _count(app_db, "SELECT version FROM accounts WHERE id = ?", [account_id]) == version + 1


def test_every_pipeline_string_has_both_languages_with_the_same_fields():
    import string

    from ui.locales.pipeline import STRINGS

    def fields(text):
        return {f for _, f, _, _ in string.Formatter().parse(text) if f}

    for key, (en, zh) in STRINGS.items():
        assert key.startswith("pipeline.") and en and zh, key
        assert fields(en) == fields(zh), key


def test_pipeline_page_in_chinese(app_db):
    from streamlit.testing.v1 import AppTest

    from tests.apptest_helpers import ROOT

    at = AppTest.from_file(str(ROOT / "pages/pipeline.py"), default_timeout=60)
    at.session_state["actor_login"] = "rep1"
    at.session_state["lang"] = "zh"
    at.run()
    assert not at.exception
    assert "我的商机" in [tab.label for tab in at.tabs]


def test_deal_with_contacts_and_decision_roles(app_db):
    at = _tab(run_page("pipeline.py", login="rep1"), "New entry")
    at.selectbox(key="pl_deal_account").select_index(1).run()
    account_id = at.selectbox(key="pl_deal_account").value
    contact_id = _count(app_db, "SELECT min(id) FROM contacts WHERE account_id = ?", [account_id])
    at.multiselect(key=f"pl_deal_contacts_{account_id}").set_value([contact_id]).run()
    at.selectbox(key=f"pl_deal_role_{contact_id}").select("decision_maker")
    at.text_input(key="pl_deal_name").set_value("Deal with a decision maker")
    _submit(at, "pl_deal_form", "Save opportunity")
    assert not at.exception
    opp_id = _count(app_db, "SELECT id FROM opportunities WHERE name = 'Deal with a decision maker'")
    assert _count(app_db, "SELECT role FROM opportunity_contacts WHERE opportunity_id = ? AND contact_id = ?",
                  [opp_id, contact_id]) == "decision_maker"


def test_rep_moves_a_deal_two_stages_and_sees_the_reminder(app_db):
    from datetime import date

    at = _tab(run_page("pipeline.py", login="rep1"), "Reminders")
    past = int(next(m.value for m in at.metric if m.label == "Past expected close"))
    _tab(at, "New entry")
    at.selectbox(key="pl_deal_account").select_index(1).run()
    at.text_input(key="pl_deal_name").set_value("Overdue scanners")
    at.date_input(key="pl_deal_close").set_value(date(2020, 1, 15))
    _submit(at, "pl_deal_form", "Save opportunity")
    opp_id = _count(app_db, "SELECT id FROM opportunities WHERE name = 'Overdue scanners'")
    _tab(at, "My opportunities")
    at.selectbox(key="pl_detail").set_value(opp_id).run()
    for stage_id, name in ((2, "Qualified"), (3, "Needs analysis")):
        at.selectbox(key=f"pl_move_stage_{opp_id}").set_value(stage_id)
        _submit(at, f"pl_move_{opp_id}", "Move to this stage")
        assert any(f"moved to {name}" in s.value for s in at.success), [e.value for e in at.error]
    assert _count(app_db, "SELECT count(*) FROM stage_history WHERE opportunity_id = ?", [opp_id]) == 3
    assert "Playbook for stage Needs analysis" in texts(at)
    # closing as lost without a reason is refused and changes nothing
    at.selectbox(key=f"pl_move_stage_{opp_id}").set_value(7)
    _submit(at, f"pl_move_{opp_id}", "Move to this stage")
    assert any("needs a reason" in e.value for e in at.error)
    assert _count(app_db, "SELECT stage_id FROM opportunities WHERE id = ?", [opp_id]) == 3
    _tab(at, "Reminders")
    assert int(next(m.value for m in at.metric if m.label == "Past expected close")) == past + 1


def test_analyst_reads_without_forms(app_db):
    at = run_page("pipeline.py", login="analyst1")
    assert not at.exception
    assert not [b for b in at.button if "Save" in str(b.label)]
    _tab(at, "New entry")
    assert "entering and editing is for sales reps" in texts(at)
    assert not [b for b in at.button if "Save" in str(b.label)]
