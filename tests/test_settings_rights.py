"""Who may change which setting: sign-in policy is for admins alone."""

import pytest

from crm_core import settings
from crm_core.access import load_actor
from crm_core.errors import PermissionDenied


def test_manager_changes_pool_rules_but_not_sign_in_policy(demo_db):
    manager = load_actor(demo_db, "manager1")
    settings.put(demo_db, manager, "pool.daily_claim_limit", 6)
    assert settings.get(demo_db, "pool.daily_claim_limit") == 6
    before = settings.get(demo_db, "auth.max_failed_logins")
    with pytest.raises(PermissionDenied):
        settings.put(demo_db, manager, "auth.max_failed_logins", 1000)
    assert settings.get(demo_db, "auth.max_failed_logins") == before
    settings.put(demo_db, load_actor(demo_db, "admin"), "auth.max_failed_logins", 7)
    assert settings.get(demo_db, "auth.max_failed_logins") == 7


def test_rep_changes_no_setting(demo_db):
    with pytest.raises(PermissionDenied):
        settings.put(demo_db, load_actor(demo_db, "rep2"), "pool.daily_claim_limit", 50)
