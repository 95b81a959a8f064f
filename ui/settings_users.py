"""Settings tab: users, roles, departments and sign-in rules (admins); own password (everyone).

Edits carry the version the admin loaded: if someone else changed the user in
the meantime, the save is refused and the current values are shown.
"""

from __future__ import annotations

import streamlit as st

from crm_core import users
from crm_core.access import ROLES, Actor
from crm_core.db import Database
from ui.i18n import t
from ui.session import cached, run_write


def _own_password(db: Database, actor: Actor) -> None:
    st.subheader(t("users.own_password"))
    with st.form("own_password", clear_on_submit=True):
        current = st.text_input(t("users.current_password"), type="password", key="own_pw_current")
        new = st.text_input(t("users.new_password"), type="password", key="own_pw_new")
        again = st.text_input(t("auth.password_again"), type="password", key="own_pw_again")
        if st.form_submit_button(t("users.change_password")):
            if new != again:
                st.error(t("auth.passwords_differ"))
            else:
                run_write(lambda: users.change_own_password(db, actor, current, new), success=t("users.password_set"))


def _pick(label: str, options: dict, current, key: str):
    keys = [None, *options]
    return st.selectbox(label, keys, index=keys.index(current) if current in keys else 0,
                        format_func=lambda k: "—" if k is None else options[k], key=key)


def _add_user(db: Database, actor: Actor, depts: dict, people: dict) -> None:
    with st.form("add_user", clear_on_submit=True):
        st.markdown(f"**{t('users.add')}**")
        c1, c2, c3 = st.columns(3)
        login = c1.text_input(t("login.user"), key="nu_login")
        name = c2.text_input(t("auth.display_name"), key="nu_name")
        email = c3.text_input(t("users.email"), key="nu_email")
        role = c1.selectbox(t("users.role"), ROLES, index=ROLES.index("rep"), format_func=lambda r: t(f"role.{r}"),
                            key="nu_role")
        dept = _pick_in(c2, t("filters.department"), depts, "nu_dept")
        manager = _pick_in(c3, t("users.manager"), people, "nu_manager")
        region = c1.text_input(t("filters.region"), key="nu_region")
        password = c2.text_input(t("login.password"), type="password", key="nu_password")
        if st.form_submit_button(t("users.add"), type="primary"):
            run_write(lambda: users.create_user(
                db, actor, login=login, display_name=name, role=role, email=email or None, department_id=dept,
                region=region or None, manager_id=manager, password=password or None), success=t("saved"))


def _pick_in(container, label: str, options: dict, key: str):
    keys = [None, *options]
    return container.selectbox(label, keys, format_func=lambda k: "—" if k is None else options[k], key=key)


def _edit_user(db: Database, actor: Actor, table, depts: dict, people: dict) -> None:
    uid = st.selectbox(t("users.pick"), table["id"].to_list(), format_func=lambda i: people.get(i, str(i)),
                       key="eu_pick")
    if uid is None:
        return
    row = users.get_user(db, uid)
    # The version this admin is looking at; kept across reruns until a save goes through.
    loaded = st.session_state.setdefault(f"eu_version_{uid}", row["version"])
    with st.form(f"edit_user_{uid}"):
        c1, c2, c3 = st.columns(3)
        name = c1.text_input(t("auth.display_name"), value=row["display_name"], key=f"eu_name_{uid}")
        email = c2.text_input(t("users.email"), value=row["email"] or "", key=f"eu_email_{uid}")
        role = c3.selectbox(t("users.role"), ROLES, index=ROLES.index(row["role"]),
                            format_func=lambda r: t(f"role.{r}"), key=f"eu_role_{uid}")
        with c1:
            dept = _pick(t("filters.department"), depts, row["department_id"], f"eu_dept_{uid}")
        with c2:
            manager = _pick(t("users.manager"), people, row["manager_id"], f"eu_mgr_{uid}")
        region = c3.text_input(t("filters.region"), value=row["region"] or "", key=f"eu_region_{uid}")
        active = st.checkbox(t("users.active"), value=row["active"], key=f"eu_active_{uid}")
        if st.form_submit_button(t("save"), type="primary"):
            changes = {"display_name": name, "email": email or None, "role": role, "department_id": dept,
                       "manager_id": manager, "region": region or None, "active": active}
            if run_write(lambda: users.update_user(db, actor, uid, loaded, changes), success=t("saved")):
                st.session_state.pop(f"eu_version_{uid}", None)
    c1, c2 = st.columns(2)
    with c1.form(f"reset_{uid}", clear_on_submit=True):
        pw = st.text_input(t("users.new_password"), type="password", key=f"eu_pw_{uid}")
        if st.form_submit_button(t("users.reset_password")):
            run_write(lambda: users.reset_password(db, actor, uid, pw), success=t("users.password_set"))
    if row["locked_until"] is not None and c2.button(t("users.unlock"), key=f"eu_unlock_{uid}"):
        run_write(lambda: users.unlock(db, actor, uid), success=t("users.unlocked"))


def _departments(db: Database, actor: Actor, people: dict) -> None:
    st.subheader(t("users.departments"))
    depts = cached(users.list_departments, db, actor)
    st.dataframe(depts.select("name", "parent", "region", "manager", "people"), hide_index=True, width="stretch",
                 column_config={"name": t("col.name"), "parent": t("users.parent"), "region": t("filters.region"),
                                "manager": t("users.manager"), "people": t("users.people")})
    with st.form("add_department", clear_on_submit=True):
        c1, c2, c3, c4 = st.columns(4)
        name = c1.text_input(t("col.name"), key="nd_name")
        parent = _pick_in(c2, t("users.parent"), dict(zip(depts["id"].to_list(), depts["name"].to_list())), "nd_parent")
        region = c3.text_input(t("filters.region"), key="nd_region")
        manager = _pick_in(c4, t("users.manager"), people, "nd_manager")
        if st.form_submit_button(t("users.add_department")):
            run_write(lambda: users.create_department(db, actor, name=name, parent_id=parent, region=region or None,
                                                      manager_id=manager), success=t("saved"))


def _sign_in_rules(db: Database, actor: Actor) -> None:
    st.subheader(t("users.sign_in_rules"))
    current = users.auth_settings(db)
    with st.form("auth_settings"):
        c1, c2, c3 = st.columns(3)
        values = {
            "auth.max_failed_logins": c1.number_input(t("users.max_failed"), 1, 100,
                                                      int(current["auth.max_failed_logins"]), key="as_failed"),
            "auth.lockout_minutes": c2.number_input(t("users.lockout_minutes"), 1, 1440,
                                                    int(current["auth.lockout_minutes"]), key="as_lock"),
            "auth.session_hours": c3.number_input(t("users.session_hours"), 0.25, 2160.0,
                                                  float(current["auth.session_hours"]), step=1.0, key="as_hours"),
        }
        if st.form_submit_button(t("save")):
            for key, value in values.items():
                if value != current[key]:
                    run_write(lambda k=key, v=value: users.set_auth_setting(db, actor, k, v), success=t("saved"))


def render(db: Database, actor: Actor) -> None:
    st.subheader(t("settings.users"))
    if actor.role != "admin":
        st.info(t("users.admins_only"))
        if actor.role == "manager":
            st.markdown(f"**{t('users.my_team')}**")
            st.dataframe(cached(users.list_team, db, actor), hide_index=True, width="stretch",
                         column_config={"login": t("login.user"), "display_name": t("auth.display_name"),
                                        "email": t("users.email"), "role": t("users.role"),
                                        "department": t("filters.department"), "region": t("filters.region"),
                                        "active": t("users.active")})
        _own_password(db, actor)
        return
    table = cached(users.list_users, db, actor)
    st.dataframe(
        table.select("login", "display_name", "email", "role", "department", "region", "manager", "active", "locked",
                     "failed_logins"),
        hide_index=True, width="stretch",
        column_config={"login": t("login.user"), "display_name": t("auth.display_name"), "email": t("users.email"),
                       "role": t("users.role"), "department": t("filters.department"),
                       "region": t("filters.region"), "manager": t("users.manager"), "active": t("users.active"),
                       "locked": t("users.locked"), "failed_logins": t("users.failed_logins")})
    people = dict(zip(table["id"].to_list(), [f"{n} ({lg})" for n, lg in zip(table["display_name"], table["login"])]))
    depts = dict(zip(*users.list_departments(db, actor).select("id", "name").to_dict(as_series=False).values()))
    _add_user(db, actor, depts, people)
    st.subheader(t("users.edit"))
    _edit_user(db, actor, table, depts, people)
    _departments(db, actor, people)
    _sign_in_rules(db, actor)
    _own_password(db, actor)
