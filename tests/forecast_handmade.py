"""A tiny sales team whose funnel, velocity, forecast, accuracy and slippage
were worked out by hand (the arithmetic is in tests/test_forecast.py).

Stages: 1 Lead 0.1 pipeline, 2 Qualified 0.3 pipeline, 3 Proposal 0.6
best_case, 4 Negotiation 0.8 commit, 5 Won, 6 Lost.
Users: 1 admin, 2 manager of department 1, 3 rep A and 4 rep B (department 1),
5 rep C (department 2). Today is 2026-06-15.

Deals (stage path with dates; * = still there):
 D1 A East  1000 won   created 01-10: 1 (01-10) 2 (01-20) 3 (02-09) 4 (02-19) Won 03-01
 D2 A East  2000 lost  created 02-01: 1 (02-01) 2 (02-11) 3 (02-21) Lost 03-03
 D3 B West  3000 open  created 03-01: 1 (03-01) 2 (03-11) 4* (03-21, skipped 3); close 06-20, override 0.5
 D4 B West  4000 open  created 04-01: 1 (04-01) 2* (04-06); close 07-10
 D5 C East  5000 open  created 05-01: 1* (05-01); close 06-25, override 0.9
 D6 C East  6000 won   created 2025-10-01: 1, 2 (10-11), 3 (10-21), 4 (10-31), Won 2026-06-05
 D7 A East   700 lost  created 03-10: 1 (03-10) Lost 03-20
 D8 A East   800 open  created 05-10: 1 (05-10) 2 (05-15) 3* (05-20); close 06-30
"""

from __future__ import annotations

from datetime import date, datetime

from crm_core.db import Database

TODAY = date(2026, 6, 15)
ADMIN, MANAGER, REP_A, REP_B, REP_C = 1, 2, 3, 4, 5


def d(text: str) -> date:
    return date.fromisoformat(text)


def ts(text: str) -> datetime:
    return datetime.fromisoformat(text + " 09:00:00")


DEALS = [
    # id, owner, dept, region, amount, status, stage, created, closed, expected, override, last_activity
    (1, REP_A, 1, "East", 1000, "won", 5, "2026-01-10", "2026-03-01", "2026-03-01", None, "2026-03-01"),
    (2, REP_A, 1, "East", 2000, "lost", 6, "2026-02-01", "2026-03-03", "2026-03-03", None, "2026-03-03"),
    (3, REP_B, 1, "West", 3000, "open", 4, "2026-03-01", None, "2026-06-20", 0.5, "2026-06-10"),
    (4, REP_B, 1, "West", 4000, "open", 2, "2026-04-01", None, "2026-07-10", None, None),
    (5, REP_C, 2, "East", 5000, "open", 1, "2026-05-01", None, "2026-06-25", 0.9, "2026-05-01"),
    (6, REP_C, 2, "East", 6000, "won", 5, "2025-10-01", "2026-06-05", "2026-06-05", None, "2026-06-05"),
    (7, REP_A, 1, "East", 700, "lost", 6, "2026-03-10", "2026-03-20", "2026-03-20", None, "2026-03-20"),
    (8, REP_A, 1, "East", 800, "open", 3, "2026-05-10", None, "2026-06-30", None, "2026-05-20"),
]
HISTORY = {
    1: [(None, 1, "2026-01-10"), (1, 2, "2026-01-20"), (2, 3, "2026-02-09"), (3, 4, "2026-02-19"),
        (4, 5, "2026-03-01")],
    2: [(None, 1, "2026-02-01"), (1, 2, "2026-02-11"), (2, 3, "2026-02-21"), (3, 6, "2026-03-03")],
    3: [(None, 1, "2026-03-01"), (1, 2, "2026-03-11"), (2, 4, "2026-03-21")],
    4: [(None, 1, "2026-04-01"), (1, 2, "2026-04-06")],
    5: [(None, 1, "2026-05-01")],
    6: [(None, 1, "2025-10-01"), (1, 2, "2025-10-11"), (2, 3, "2025-10-21"), (3, 4, "2025-10-31"),
        (4, 5, "2026-06-05")],
    7: [(None, 1, "2026-03-10"), (1, 6, "2026-03-20")],
    8: [(None, 1, "2026-05-10"), (1, 2, "2026-05-15"), (2, 3, "2026-05-20")],
}
CLOSE_MOVES = [
    (3, "2026-06-01", "2026-06-20", "2026-05-25"),   # +19 days
    (4, "2026-07-20", "2026-06-30", "2026-05-01"),   # earlier: not a slip
    (4, "2026-06-30", "2026-07-10", "2026-06-01"),   # +10 days
    (6, "2026-05-01", "2026-06-05", "2026-04-20"),   # +35 days, but D6 is outside the 2026 cohort
]
TARGETS = [
    # grain, period_start, owner, department, value
    ("month", "2026-06-01", REP_A, None, 10000),
    ("month", "2026-06-01", REP_B, None, 5000),
    ("month", "2026-06-01", REP_C, None, 5000),
    ("month", "2026-07-01", REP_A, None, 8000),
    ("month", "2026-06-01", None, 1, 99999),        # no owner: not a rep's target, ignored
    ("quarter", "2026-04-01", None, 1, 77777),      # quarter grain: ignored
]


def load(db: Database) -> None:
    with db.atomic() as cur:
        cur.execute("""
            INSERT INTO stages (id, name, position, probability, forecast_category, is_won, is_lost) VALUES
            (1, 'Lead', 1, 0.1, 'pipeline', FALSE, FALSE), (2, 'Qualified', 2, 0.3, 'pipeline', FALSE, FALSE),
            (3, 'Proposal', 3, 0.6, 'best_case', FALSE, FALSE), (4, 'Negotiation', 4, 0.8, 'commit', FALSE, FALSE),
            (5, 'Won', 5, 1.0, 'closed', TRUE, FALSE), (6, 'Lost', 6, 0.0, 'omitted', FALSE, TRUE)
        """)
        cur.execute("INSERT INTO departments (id, name, region) VALUES (1, 'East Sales', 'East'), "
                    "(2, 'West Sales', 'West')")
        cur.execute("""
            INSERT INTO users (id, login, display_name, role, department_id) VALUES
            (1, 'admin', 'Admin', 'admin', NULL), (2, 'manager1', 'Manager', 'manager', 1),
            (3, 'repa', 'Rep A', 'rep', 1), (4, 'repb', 'Rep B', 'rep', 1), (5, 'repc', 'Rep C', 'rep', 2)
        """)
        cur.execute("INSERT INTO products (id, name) VALUES (1, 'Widget')")
        for (oid, owner, dept, region, amount, status, stage, created, closed, expected, override,
             last_act) in DEALS:
            entered = HISTORY[oid][-1][2]
            cur.execute(
                """INSERT INTO opportunities (id, name, owner_id, department_id, product_id, stage_id, amount,
                   probability, expected_close, created_at, stage_entered_at, last_activity_at, closed_at, status,
                   source, region) VALUES (?, ?, ?, ?, 1, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'Web', ?)""",
                [oid, f"D{oid}", owner, dept, stage, amount, override, d(expected), ts(created), ts(entered),
                 ts(last_act) if last_act else None, d(closed) if closed else None, status, region],
            )
        hid = 0
        for oid, steps in HISTORY.items():
            for frm, to, when in steps:
                hid += 1
                cur.execute("INSERT INTO stage_history (id, opportunity_id, from_stage_id, to_stage_id, changed_at) "
                            "VALUES (?, ?, ?, ?, ?)", [hid, oid, frm, to, ts(when)])
        for oid, old, new, when in CLOSE_MOVES:
            cur.execute("INSERT INTO close_date_history (opportunity_id, old_date, new_date, changed_at) "
                        "VALUES (?, ?, ?, ?)", [oid, d(old), d(new), ts(when)])
        for grain, start, owner, dept, value in TARGETS:
            cur.execute("INSERT INTO targets (grain, period_start, metric, owner_id, department_id, value) "
                        "VALUES (?, ?, 'won_amount', ?, ?, ?)", [grain, d(start), owner, dept, value])


def win_d3(db: Database) -> None:
    """D3 is won on 2026-06-18 (a stage change, as the pipeline page would record it)."""
    with db.atomic() as cur:
        cur.execute("UPDATE opportunities SET status = 'won', stage_id = 5, closed_at = DATE '2026-06-18', "
                    "version = version + 1 WHERE id = 3")
        cur.execute("INSERT INTO stage_history (id, opportunity_id, from_stage_id, to_stage_id, changed_at) "
                    "VALUES (100, 3, 4, 5, TIMESTAMP '2026-06-18 09:00:00')")
