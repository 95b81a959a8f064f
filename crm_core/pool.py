"""The public customer pool: accounts without an owner, claimed, released, returned, assigned.

Rules (all settings, editable in Settings > Pipeline rules):
- Claim: a rep may claim at most `pool.daily_claim_limit` accounts per calendar
  day (claims counted from `pool_events`); the (limit+1)-th is refused.
- Cool-down: a rep who released an account (or lost it to the sweep) on day D
  may claim it again from day D + `pool.reclaim_cooldown_days`, not before.
- Sweep: an owned account whose last follow-up (else claim, else creation) was
  on day F returns to the pool on the first sweep on or after day
  F + `pool.return_after_days` (exactly N days without follow-up returns it).
- "Returning soon": my accounts with days left = N - days since follow-up
  <= `pool.warn_days` (0 = returns at the next sweep).
- Assignment rules place new unowned leads (never owned, never released): the
  first rule that matches wins; `region` / `industry` rules match the account's
  value (case-insensitive), `round_robin` matches every lead; the lead goes to
  the rule's user, or round-robin among the active reps of the rule's team
  (the rep assigned longest ago first).

Two reps claiming the same account at once: both claims run on the single
writer, so the second sees the new owner and is refused with who got it.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import duckdb
import polars as pl

from crm_core import accounts, audit, hooks, settings
from crm_core.access import Actor, owner_scope, require, require_pipeline_edit, require_role
from crm_core.db import Database
from crm_core.errors import CrmError, NotFound, ValidationError

RULE_KINDS = ("region", "industry", "round_robin")


def _event(cur: Any, account_id: int, user_id: int | None, kind: str, ts: datetime, reason: str | None,
           by: int | None) -> None:
    cur.execute(
        "INSERT INTO pool_events (account_id, user_id, kind, happened_at, reason, by_user) VALUES (?, ?, ?, ?, ?, ?)",
        [account_id, user_id, kind, ts, reason, by],
    )


def list_pool(db: Database, actor: Actor, *, search: str | None = None, region: str | None = None,
              industry: str | None = None, limit: int = 500) -> pl.DataFrame:
    """Accounts in the public pool (everyone may see them), longest waiting first."""
    return db.query(
        """
        SELECT a.id, a.name, a.industry, a.region, a.lifecycle, a.released_at, pu.display_name AS previous_owner,
               a.version
        FROM accounts a LEFT JOIN users pu ON pu.id = a.previous_owner_id
        WHERE a.owner_id IS NULL AND a.merged_into_id IS NULL
          AND ($s IS NULL OR a.name ILIKE '%' || $s || '%')
          AND ($r IS NULL OR a.region = $r) AND ($i IS NULL OR a.industry = $i)
        ORDER BY a.released_at NULLS FIRST, a.id
        LIMIT $limit
        """,
        {"s": search or None, "r": region, "i": industry, "limit": limit},
    )


def claims_on(db: Database, user_id: int | None, day: date) -> int:
    """How many accounts `user_id` claimed on `day`."""
    return db.scalar(
        "SELECT count(*) FROM pool_events WHERE user_id = ? AND kind = 'claim' "
        "AND happened_at >= ?::DATE AND happened_at < ?::DATE + INTERVAL 1 DAY",
        [user_id, day, day],
    ) or 0


def cooldown_until(db: Database, user_id: int | None, account_id: int) -> date | None:
    """The first day `user_id` may claim `account_id` again, or None if they never lost it."""
    days = int(settings.get(db, "pool.reclaim_cooldown_days"))
    last = db.scalar(
        """
        SELECT max(d) FROM (
            SELECT happened_at::DATE AS d FROM pool_events
            WHERE account_id = ? AND user_id = ? AND kind IN ('release', 'return')
            UNION ALL
            SELECT released_at::DATE FROM accounts WHERE id = ? AND previous_owner_id = ?
        )
        """,
        [account_id, user_id, account_id, user_id],
    )
    return None if last is None else last + timedelta(days=days)


def claim(db: Database, actor: Actor, account_id: int, *, now: datetime | None = None) -> dict[str, Any]:
    """Take a pool account. Refused past the daily limit, within the cool-down, or if someone was faster."""
    require(actor, actor.role in ("rep", "manager"), "claim pool accounts")
    ts = accounts.now_ts(now)
    limit = int(settings.get(db, "pool.daily_claim_limit"))
    try:
        with db.atomic() as cur:
            row = accounts.fetch(cur, "accounts", account_id, "id, name, owner_id, merged_into_id, claimed_at, created_at")
            if row is None or row["merged_into_id"] is not None:
                raise NotFound(f"Account {account_id} does not exist.")
            if row["owner_id"] is not None:
                who = cur.execute("SELECT display_name FROM users WHERE id = ?", [row["owner_id"]]).fetchone()
                since = row["claimed_at"] or row["created_at"]
                raise ValidationError(
                    f"{row['name']!r} is no longer in the pool: {who[0] if who else 'someone'} has owned it since "
                    f"{since:%Y-%m-%d %H:%M}.", field="account_id", value=account_id)
            done_today = claims_on(db, actor.id, ts.date())
            if done_today >= limit:
                raise ValidationError(
                    f"You have claimed {done_today} accounts today, the daily limit is {limit}; "
                    "claim again tomorrow.", field="account_id", value=account_id)
            until = cooldown_until(db, actor.id, account_id)
            if until is not None and ts.date() < until:
                raise ValidationError(
                    f"You gave {row['name']!r} up recently; you may claim it again from {until:%Y-%m-%d} "
                    f"(cool-down {settings.get(db, 'pool.reclaim_cooldown_days')} days).",
                    field="account_id", value=account_id)
            cur.execute(
                "UPDATE accounts SET owner_id = ?, claimed_at = ?, last_followup_at = ?, updated_at = ?, "
                "version = version + 1 WHERE id = ? AND owner_id IS NULL",
                [actor.id, ts, ts, ts, account_id],
            )
            _event(cur, account_id, actor.id, "claim", ts, None, actor.id)
            audit.record(cur, actor, "claim", "account", account_id, before={"owner_id": None},
                         after={"owner_id": actor.id, "claimed_at": ts})
            hooks.notify(db, "accounts", [account_id])  # one commit with the claim (see hooks)
    except duckdb.TransactionException:
        # Another process wrote the same row first.
        raise CrmError(f"Account {account_id} was just claimed by someone else.") from None
    return {"account_id": account_id, "owner_id": actor.id, "claimed_at": ts, "claims_left": limit - done_today - 1}


def release(db: Database, actor: Actor, account_id: int, reason: str, *, now: datetime | None = None) -> int:
    """Give an account back to the pool, with a reason (the owner, or their manager). Returns its id."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError("Say why you release the account (e.g. no budget, wrong contact).", field="reason")
    ts = accounts.now_ts(now)
    with db.atomic() as cur:
        row = accounts.require_owned(cur, actor, account_id, "release it")
        cur.execute(
            "UPDATE accounts SET owner_id = NULL, previous_owner_id = ?, released_at = ?, updated_at = ?, "
            "version = version + 1 WHERE id = ?",
            [row["owner_id"], ts, ts, account_id],
        )
        _event(cur, account_id, row["owner_id"], "release", ts, reason, actor.id)
        audit.record(cur, actor, "release", "account", account_id, before={"owner_id": row["owner_id"]},
                     after={"owner_id": None}, note=reason)
        hooks.notify(db, "accounts", [account_id])  # one commit with the release (see hooks)
    return account_id


_DAYS_SINCE = "date_diff('day', coalesce(a.last_followup_at, a.claimed_at, a.created_at)::DATE, $today::DATE)"


def returning_soon(db: Database, actor: Actor, *, today: date | None = None, within: int | None = None,
                   mine_only: bool = True) -> pl.DataFrame:
    """My accounts that go back to the pool within `within` days (default `pool.warn_days`)."""
    today = today or date.today()
    n = int(settings.get(db, "pool.return_after_days"))
    within = int(settings.get(db, "pool.warn_days")) if within is None else within
    scope, sp = owner_scope(actor, "a.owner_id")
    # owner_scope's own placeholders are positional; bind them as named values here.
    scope_sql, scope_params = _named(scope, sp, "scope")
    mine = "a.owner_id = $me" if mine_only and actor.role == "rep" else "TRUE"
    return db.query(
        f"""
        SELECT a.id, a.name, u.display_name AS owner, coalesce(a.last_followup_at, a.claimed_at, a.created_at)
               AS last_followup, $n - {_DAYS_SINCE} AS days_left
        FROM accounts a LEFT JOIN users u ON u.id = a.owner_id
        WHERE a.owner_id IS NOT NULL AND a.merged_into_id IS NULL AND {scope_sql} AND {mine}
          AND $n - {_DAYS_SINCE} <= $within
        ORDER BY days_left, a.name
        """,
        {"today": today, "n": n, "within": within, **scope_params, **({"me": actor.id} if mine != "TRUE" else {})},
    )


def _named(sql: str, params: list[Any], prefix: str) -> tuple[str, dict[str, Any]]:
    """Turn `?` placeholders of an owner_scope condition into named ones."""
    out, named = [], {}
    parts = sql.split("?")
    for i, part in enumerate(parts[:-1]):
        key = f"{prefix}{i}"
        out.append(part + f"${key}")
        named[key] = params[i]
    out.append(parts[-1])
    return "".join(out), named


def sweep(db: Database, actor: Actor | None = None, *, today: date | None = None) -> list[int]:
    """Return every account without follow-up for `pool.return_after_days` days to the pool.

    For `crm pool sweep` (cron) and the app's daily start. Returns the ids.
    """
    actor = actor or Actor.system()
    require_role(actor, ("admin",), "run the pool sweep")
    today = today or date.today()
    n = int(settings.get(db, "pool.return_after_days"))
    ts = datetime.combine(today, datetime.min.time())
    reason = f"no follow-up for {n} days"
    with db.atomic() as cur:
        due = cur.execute(
            f"SELECT a.id, a.owner_id FROM accounts a WHERE a.owner_id IS NOT NULL AND a.merged_into_id IS NULL "
            f"AND {_DAYS_SINCE} >= $n ORDER BY a.id",
            {"today": today, "n": n},
        ).fetchall()
        if not due:
            return []
        ids = [r[0] for r in due]
        frame = pl.DataFrame({"id": ids, "owner_id": [r[1] for r in due]},
                             schema={"id": pl.Int64, "owner_id": pl.Int64})
        cur.register("_swept", frame.to_arrow())
        try:
            cur.execute(
                "UPDATE accounts SET previous_owner_id = owner_id, owner_id = NULL, released_at = ?, "
                "updated_at = ?, version = version + 1 WHERE id IN (SELECT id FROM _swept)", [ts, ts])
            cur.execute(
                "INSERT INTO pool_events (account_id, user_id, kind, happened_at, reason, by_user) "
                "SELECT id, owner_id, 'return', ?, ?, ? FROM _swept", [ts, reason, actor.id])
            cur.execute(
                "INSERT INTO audit_log (user_id, user_login, action, entity, entity_id, before, after, note) "
                "SELECT ?, ?, 'return', 'account', id, json_object('owner_id', owner_id), "
                "json_object('owner_id', NULL), ? FROM _swept", [actor.id, actor.login, reason])
        finally:
            cur.unregister("_swept")
        hooks.notify(db, "accounts", ids)  # the listeners' marks commit with the sweep (see hooks)
    return ids


# -- assignment rules --------------------------------------------------------
def validate_rules(db: Database, rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Check and normalise assignment rules; raises ValidationError naming the rule."""
    teams = {r[0] for r in db.rows("SELECT id FROM departments")}
    users = {r[0] for r in db.rows("SELECT id FROM users WHERE active AND role IN ('rep', 'manager')")}
    out = []
    for n, rule in enumerate(rules, start=1):
        kind = (rule.get("kind") or "").strip()
        match = (str(rule.get("match") or "")).strip() or None
        team = _int_or_none(rule.get("team_id"))
        user = _int_or_none(rule.get("user_id"))
        if kind not in RULE_KINDS:
            raise ValidationError(f"Rule {n}: kind must be one of {', '.join(RULE_KINDS)}, not {kind!r}.",
                                  field="kind", value=kind)
        if kind != "round_robin" and not match:
            raise ValidationError(f"Rule {n}: a {kind} rule needs the {kind} it matches.", field="match")
        if team is None and user is None:
            raise ValidationError(f"Rule {n}: give a team (for round-robin) or a user to assign to.", field="team_id")
        if kind == "round_robin" and team is None:
            raise ValidationError(f"Rule {n}: a round-robin rule needs a team.", field="team_id")
        if team is not None and team not in teams:
            raise ValidationError(f"Rule {n}: team {team} does not exist.", field="team_id", value=team)
        if user is not None and user not in users:
            raise ValidationError(f"Rule {n}: user {user} is not an active sales user.", field="user_id", value=user)
        out.append({"kind": kind, "match": match, "team_id": team, "user_id": user})
    return out


def _int_or_none(value: Any) -> int | None:
    if value is None or value == "" or (isinstance(value, float) and value != value):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ValidationError(f"{value!r} is not an id (a whole number).", value=value) from None


def _team_queue(cur: Any, team_id: int) -> list[int]:
    """Active reps of a team, the one assigned a lead longest ago (or never) first."""
    return [r[0] for r in cur.execute(
        """
        SELECT u.id FROM users u
        LEFT JOIN (SELECT user_id, max(happened_at) AS last FROM pool_events WHERE kind = 'assign' GROUP BY user_id) e
               ON e.user_id = u.id
        WHERE u.active AND u.role = 'rep' AND u.department_id = ?
        ORDER BY e.last NULLS FIRST, u.id
        """,
        [team_id],
    ).fetchall()]


def assign(db: Database, actor: Actor, *, account_ids: list[int] | None = None,
           now: datetime | None = None) -> list[dict[str, Any]]:
    """Place new unowned leads (or the given pool accounts) by the assignment rules.

    Returns one row per assigned account: account, user and the rule number.
    Accounts no rule matches stay in the pool.
    """
    require_role(actor, ("admin", "manager"), "assign leads")
    rules = validate_rules(db, settings.get(db, "pool.assignment_rules") or [])
    if not rules:
        raise ValidationError("No assignment rules are configured (Settings > Pipeline rules).")
    ts = accounts.now_ts(now)
    done: list[dict[str, Any]] = []
    with db.atomic() as cur:
        if account_ids is None:
            leads = cur.execute(
                "SELECT id, name, region, industry FROM accounts WHERE owner_id IS NULL AND merged_into_id IS NULL "
                "AND released_at IS NULL AND previous_owner_id IS NULL ORDER BY id").fetchall()
        else:
            leads = cur.execute(
                "SELECT id, name, region, industry FROM accounts WHERE owner_id IS NULL AND merged_into_id IS NULL "
                "AND id IN (SELECT unnest(?::BIGINT[])) ORDER BY id", [list(account_ids)]).fetchall()
        queues: dict[int, list[int]] = {}
        for acc_id, name, region, industry in leads:
            for n, rule in enumerate(rules, start=1):
                value = {"region": region, "industry": industry}.get(rule["kind"])
                if rule["kind"] != "round_robin" and (value or "").casefold() != rule["match"].casefold():
                    continue
                if rule["user_id"] is not None:
                    user = rule["user_id"]
                else:
                    queue = queues.setdefault(rule["team_id"], _team_queue(cur, rule["team_id"]))
                    if not queue:
                        continue
                    user = queue.pop(0)
                    queue.append(user)
                require_pipeline_edit(actor, user, "assign leads to this user")
                cur.execute(
                    "UPDATE accounts SET owner_id = ?, claimed_at = ?, last_followup_at = ?, updated_at = ?, "
                    "version = version + 1 WHERE id = ?", [user, ts, ts, ts, acc_id])
                _event(cur, acc_id, user, "assign", ts, f"rule {n} ({rule['kind']})", actor.id)
                audit.record(cur, actor, "assign", "account", acc_id, before={"owner_id": None},
                             after={"owner_id": user}, note=f"rule {n} ({rule['kind']})")
                done.append({"account_id": acc_id, "account": name, "user_id": user, "rule": n})
                break
        if done:
            hooks.notify(db, "accounts", [d["account_id"] for d in done])  # commits with the assignments
    if done:
        names = dict(db.rows("SELECT id, display_name FROM users WHERE id IN (SELECT unnest(?::BIGINT[]))",
                             [[d["user_id"] for d in done]]))
        for d in done:
            d["user"] = names.get(d["user_id"])
    return done


def history(db: Database, actor: Actor, account_id: int) -> pl.DataFrame:
    """The pool ledger of one account (claims, releases, returns, assignments, handovers)."""
    accounts.get(db, actor, account_id)
    return db.query(
        "SELECT e.happened_at, e.kind, u.display_name AS rep, e.reason, b.display_name AS by "
        "FROM pool_events e LEFT JOIN users u ON u.id = e.user_id LEFT JOIN users b ON b.id = e.by_user "
        "WHERE e.account_id = ? ORDER BY e.happened_at DESC, e.id DESC",
        [account_id],
    )


# -- the Pipeline rules settings ---------------------------------------------
NUMERIC_SETTINGS = {
    # key: (smallest allowed value, what it means)
    "pool.return_after_days": (1, "days without follow-up before an account returns to the pool"),
    "pool.daily_claim_limit": (0, "pool claims per rep per day"),
    "pool.reclaim_cooldown_days": (0, "days before a former owner may claim an account again"),
    "pool.warn_days": (0, "days ahead the 'returning soon' list looks"),
    "reminders.stale_stage_days": (1, "days without activity before a deal counts as stale in its stage"),
    "reminders.payment_due_days": (0, "days ahead the payments-due reminder looks"),
    "lifecycle.dormant_after_days": (1, "days since the last purchase before a customer is dormant"),
    "lifecycle.churned_after_days": (1, "days since the last purchase before a customer is churned"),
}


def rule_settings(db: Database) -> dict[str, tuple[Any, int]]:
    """{key: (value, version)} of every pool, reminder and lifecycle setting (version 0 = default)."""
    keys = [*NUMERIC_SETTINGS, "pool.assignment_rules"]
    return {k: (settings.get(db, k), settings.version_of(db, k)) for k in keys}


def save_rule_settings(db: Database, actor: Actor, values: dict[str, Any], versions: dict[str, int]) -> list[str]:
    """Validate and store changed settings in one transaction, each refused if changed since `versions`.

    Returns the keys that changed.
    """
    require_role(actor, ("admin", "manager"), "change the pipeline rules")
    clean: dict[str, Any] = {}
    for key, value in values.items():
        if key in NUMERIC_SETTINGS:
            low, meaning = NUMERIC_SETTINGS[key]
            try:
                number = int(value)
            except (TypeError, ValueError):
                raise ValidationError(f"{key} ({meaning}) must be a whole number, not {value!r}.", field=key,
                                      value=value) from None
            if number != value and not (isinstance(value, float) and value.is_integer()):
                raise ValidationError(f"{key} ({meaning}) must be a whole number, not {value!r}.", field=key,
                                      value=value)
            if number < low:
                raise ValidationError(f"{key} ({meaning}) must be at least {low}, not {number}.", field=key,
                                      value=value)
            clean[key] = number
        elif key == "pool.assignment_rules":
            clean[key] = validate_rules(db, value or [])
        else:
            raise ValidationError(f"{key} is not a pipeline rule setting.", field=key)
    dormant = clean.get("lifecycle.dormant_after_days", settings.get(db, "lifecycle.dormant_after_days"))
    churned = clean.get("lifecycle.churned_after_days", settings.get(db, "lifecycle.churned_after_days"))
    if churned <= dormant:
        raise ValidationError(f"Churned after ({churned} days) must be longer than dormant after ({dormant} days).",
                              field="lifecycle.churned_after_days", value=churned)
    changed = []
    with db.atomic():
        for key, value in clean.items():
            if value != settings.get(db, key):
                settings.put(db, actor, key, value, expected_version=versions.get(key, 0))
                changed.append(key)
    return changed
