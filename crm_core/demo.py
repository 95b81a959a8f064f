"""A believable sales team's data, generated from a seed.

Same seed and same `today`, same data: the generator uses only
`random.Random(seed)` and dates relative to `today`, so the demo always looks
current while tests pin `today` to get fixed figures.

What it makes (scale 1.0): 3 departments, 25 users of every role, ~1,500
accounts in parent/subsidiary groups with industry-chain links, ~4,000 contacts
with reports-to lines, ~6,000 opportunities over two years with their full stage
history and close-date moves, ~20,000 order lines, contracts with payment
schedules, follow-up activities and open tasks, and this year's targets.
"""

from __future__ import annotations

import math
import random
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from crm_core.db import Database
from crm_core.names import normalize_company_name
from crm_core.passwords import hash_password

DEMO_PASSWORD = "panorama-demo"

STAGES = [
    # name, probability, forecast category, won, lost, playbook
    ("Lead", 0.10, "pipeline", False, False, ["Confirm the contact's role", "Log the first call"]),
    ("Qualified", 0.20, "pipeline", False, False, ["Budget confirmed", "Need confirmed", "Timeline known"]),
    ("Needs analysis", 0.40, "best_case", False, False, ["Discovery meeting held", "Decision maker identified"]),
    ("Proposal", 0.60, "best_case", False, False, ["Proposal sent", "Pricing approved by manager"]),
    ("Negotiation", 0.80, "commit", False, False, ["Legal review started", "Procurement contact known"]),
    ("Won", 1.00, "closed", True, False, ["Contract signed", "Hand-over to delivery"]),
    ("Lost", 0.00, "omitted", False, True, ["Loss reason recorded"]),
]
OPEN_STAGES = 5  # the first five are open

DEPARTMENTS = [("East Sales", "East"), ("West Sales", "West"), ("Key Accounts", "North")]
REGIONS = ["North", "East", "South", "West", "Central"]
INDUSTRIES = ["Manufacturing", "Retail", "Healthcare", "Finance", "Technology", "Energy", "Logistics", "Education"]
SOURCES = ["Website", "Referral", "Trade show", "Cold call", "Partner", "Campaign"]
LOST_REASONS = ["Price", "Competitor", "No budget", "No decision", "Timing", "Product fit"]
PRODUCTS = [
    # name, category, series, tier, list price, cost ratio, repurchase days
    ("Panorama CRM Basic", "Software", "Panorama CRM", 1, 12000, 0.25, 365),
    ("Panorama CRM Pro", "Software", "Panorama CRM", 2, 36000, 0.25, 365),
    ("Panorama CRM Enterprise", "Software", "Panorama CRM", 3, 120000, 0.30, 365),
    ("Analytics Starter", "Software", "Analytics", 1, 8000, 0.20, 365),
    ("Analytics Plus", "Software", "Analytics", 2, 24000, 0.22, 365),
    ("Support Silver", "Service", "Support", 1, 5000, 0.50, 180),
    ("Support Gold", "Service", "Support", 2, 15000, 0.45, 180),
    ("Support Platinum", "Service", "Support", 3, 40000, 0.40, 180),
    ("Scanner X1", "Hardware", "Scanner", 1, 3000, 0.60, 90),
    ("Scanner X2", "Hardware", "Scanner", 2, 6500, 0.55, 90),
    ("Training Day", "Service", None, None, 2500, 0.35, 120),
    ("Data Migration", "Service", None, None, 18000, 0.40, None),
]
FIRST = ["Wei", "Li", "Ming", "Anna", "James", "Sofia", "Chen", "Yan", "Omar", "Lena", "Ravi", "Mei", "Tom",
         "Elena", "Jun", "Hana", "Lucas", "Zoe", "Ivan", "Nora", "Kai", "Lin", "Paul", "Rosa", "Sam", "Yuki"]
LAST = ["Wang", "Zhang", "Liu", "Smith", "Garcia", "Chen", "Müller", "Kim", "Ng", "Rossi", "Patel", "Zhao",
        "Huang", "Novak", "Silva", "Sato", "Brown", "Dubois", "Yang", "Khan"]
CN_NAMES = ["王伟", "李娜", "张敏", "刘洋", "陈静", "杨磊", "赵强", "黄丽", "周杰", "吴芳"]
NAME_A = ["North", "Blue", "Golden", "Silver", "Bright", "Summit", "Harbor", "River", "Pioneer", "Eastern",
          "Crystal", "Atlas", "Nova", "Apex", "Vertex", "Orion", "Delta", "Sierra", "Maple", "Cedar", "Lotus"]
NAME_B = ["Logistics", "Foods", "Machinery", "Health", "Capital", "Systems", "Energy", "Retail", "Labs",
          "Textiles", "Motors", "Pharma", "Electronics", "Materials", "Networks", "Learning", "Foods", "Steel"]
SUFFIX = ["Ltd.", "Inc.", "Co., Ltd.", "GmbH", "Corp.", "LLC", "Group"]
CN_A = ["华东", "华南", "北方", "长江", "东方", "新世纪", "金桥", "远航", "恒信", "瑞丰"]
CN_B = ["精密机械", "医药", "物流", "电子", "食品", "能源", "纺织", "科技", "建材", "零售"]
TITLES_TOP = ["CEO", "General Manager", "COO", "Managing Director"]
TITLES_MID = ["CFO", "CTO", "Head of Procurement", "Operations Director", "IT Director", "Sales Director"]
TITLES_LOW = ["Procurement Manager", "IT Manager", "Project Manager", "Engineer", "Analyst", "Buyer", "Assistant"]
ROLES_DECISION = ["decision_maker", "influencer", "evaluator", "champion", "blocker", "user"]
STANCES = ["supporter", "neutral", "opponent", "unknown"]


def _ts(d: date, rng: random.Random) -> datetime:
    return datetime.combine(d, time(rng.randint(8, 18), rng.randint(0, 59)))


def _money(x: float) -> Decimal:
    return Decimal(str(round(x, 2)))


def generate(db: Database, *, seed: int = 42, today: date | None = None, scale: float = 1.0) -> dict[str, int]:
    """Fill an empty, migrated database with demo data. Returns row counts."""
    if not db.is_empty():
        raise RuntimeError("demo data goes into an empty database only")
    rng = random.Random(seed)
    today = today or date.today()
    start = today - timedelta(days=730)
    tables: dict[str, list[dict[str, Any]]] = {}

    # -- stages and products ------------------------------------------------
    tables["stages"] = [
        {"id": i + 1, "name": n, "position": i + 1, "probability": p, "forecast_category": c,
         "is_won": w, "is_lost": lo, "playbook": pb}
        for i, (n, p, c, w, lo, pb) in enumerate(STAGES)
    ]
    won_stage, lost_stage = 6, 7
    tables["products"] = [
        {"id": i + 1, "name": n, "category": cat, "series": s, "tier": t, "list_price": _money(lp),
         "cost": _money(lp * cr), "repurchase_days": rd, "external_id": f"P{i + 1:03d}"}
        for i, (n, cat, s, t, lp, cr, rd) in enumerate(PRODUCTS)
    ]

    # -- departments and users ---------------------------------------------
    pw = hash_password(DEMO_PASSWORD)  # one hash for every demo user keeps generation fast
    tables["departments"] = [
        {"id": i + 1, "name": n, "region": r, "manager_id": 2 + i} for i, (n, r) in enumerate(DEPARTMENTS)
    ]
    users: list[dict[str, Any]] = [
        {"id": 1, "login": "admin", "display_name": "Ada Admin", "role": "admin", "department_id": None,
         "region": None, "manager_id": None},
    ]
    for i, (_dname, region) in enumerate(DEPARTMENTS):
        users.append({"id": 2 + i, "login": f"manager{i + 1}", "display_name": f"{FIRST[i]} {LAST[i]} (Mgr)",
                      "role": "manager", "department_id": i + 1, "region": region, "manager_id": 1})
    rep_id = 5
    for r in range(19):
        dept = r % 3 + 1
        users.append({"id": rep_id, "login": f"rep{r + 1}", "display_name": f"{FIRST[(r + 3) % len(FIRST)]} "
                      f"{LAST[(r * 7 + 3) % len(LAST)]}", "role": "rep", "department_id": dept,
                      "region": REGIONS[r % len(REGIONS)], "manager_id": 1 + dept})
        rep_id += 1
    for a in range(2):
        users.append({"id": rep_id, "login": f"analyst{a + 1}", "display_name": f"{FIRST[20 + a]} {LAST[15 + a]}",
                      "role": "analyst", "department_id": None, "region": None, "manager_id": 1})
        rep_id += 1
    for u in users:
        u["email"] = f"{u['login']}@panorama.example"
        u["password_hash"] = pw
        u["active"] = True
    reps = [u for u in users if u["role"] == "rep"]
    reps[-1]["active"] = False  # a rep who left: their book awaits handover
    rep_ids = [u["id"] for u in reps]
    tables["users"] = users
    # rep1 moved from department 1 to department 2 half a year ago
    moved = reps[0]
    moved_on = today - timedelta(days=180)
    history = []
    for u in users:
        if u["department_id"] is None:
            continue
        if u is moved:
            history.append({"user_id": u["id"], "department_id": 1, "valid_from": start, "valid_to": moved_on})
            history.append({"user_id": u["id"], "department_id": 2, "valid_from": moved_on, "valid_to": None})
            u["department_id"] = 2
        else:
            history.append({"user_id": u["id"], "department_id": u["department_id"], "valid_from": start,
                            "valid_to": None})
    tables["user_department_history"] = history
    dept_of = {u["id"]: u["department_id"] for u in users}

    # -- accounts in groups --------------------------------------------------
    n_accounts = max(30, int(1500 * scale))
    accounts: list[dict[str, Any]] = []
    used_names: set[str] = set()

    def company_name() -> str:
        while True:
            if rng.random() < 0.15:
                name = rng.choice(CN_A) + rng.choice(CN_B) + rng.choice(["有限公司", "股份有限公司"])
            else:
                name = f"{rng.choice(NAME_A)} {rng.choice(NAME_B)} {rng.choice(SUFFIX)}"
            key = normalize_company_name(name)
            if key in used_names:
                # make it unique the way real subsidiaries are named
                name = name.replace(" ", f" {rng.choice(REGIONS)} ", 1) if " " in name else rng.choice(
                    REGIONS) + name
                key = normalize_company_name(name)
            if key not in used_names:
                used_names.add(key)
                return name

    aid = 0
    while aid < n_accounts:
        group_size = min(n_accounts - aid, rng.choice([1, 1, 1, 2, 3, 4, 6]))
        parent = None
        industry = rng.choice(INDUSTRIES)
        owner = rng.choice(rep_ids)
        for k in range(group_size):
            aid += 1
            region = rng.choice(REGIONS)
            employees = int(math.exp(rng.uniform(2.5, 9.5)))
            created = start - timedelta(days=rng.randint(0, 900))
            in_pool = rng.random() < 0.12
            acct_owner = None if in_pool else (owner if rng.random() < 0.8 else rng.choice(rep_ids))
            last_fu = today - timedelta(days=int(rng.expovariate(1 / 14)))
            accounts.append({
                "id": aid, "name": company_name(), "tax_id": f"91{rng.randint(10**14, 10**15 - 1)}",
                "phone": f"+86 {rng.randint(10, 99)} {rng.randint(1000, 9999)} {rng.randint(1000, 9999)}",
                "industry": industry if rng.random() < 0.8 else rng.choice(INDUSTRIES),
                "region": region, "city": None, "employees": employees,
                "annual_revenue": _money(employees * rng.uniform(80_000, 400_000)),
                "parent_id": parent, "source": rng.choice(SOURCES), "lifecycle": "lead",
                "owner_id": acct_owner,
                "claimed_at": None if acct_owner is None else _ts(created + timedelta(days=rng.randint(0, 30)), rng),
                "last_followup_at": _ts(last_fu, rng) if acct_owner is not None else None,
                "released_at": _ts(today - timedelta(days=rng.randint(1, 60)), rng) if in_pool else None,
                "external_id": f"A{aid:05d}", "created_at": _ts(created, rng), "tags": None,
            })
            if k == 0:
                parent = aid
        # the odd nested level: a subsidiary of a subsidiary
        if group_size >= 4:
            accounts[-1]["parent_id"] = accounts[-2]["id"]
    for a in accounts:
        a["normalized_name"] = normalize_company_name(a["name"])
    # a handful of accounts whose owners are due to lose them to the pool soon
    owned = [a for a in accounts if a["owner_id"] is not None]
    for a in rng.sample(owned, min(25, len(owned))):
        a["last_followup_at"] = _ts(today - timedelta(days=rng.randint(27, 29)), rng)
    tables["accounts"] = accounts

    links = []
    seen_links = set()
    for _ in range(int(len(accounts) * 0.4)):
        a, b = rng.sample(range(1, len(accounts) + 1), 2)
        kind = rng.choice(["supplier_of", "supplier_of", "customer_of", "partner_of", "competitor_of"])
        if (a, b, kind) in seen_links:
            continue
        seen_links.add((a, b, kind))
        links.append({"id": len(links) + 1, "from_account_id": a, "to_account_id": b, "kind": kind,
                      "note": None, "created_at": _ts(start, rng)})
    tables["account_links"] = links

    # -- contacts with reports-to lines --------------------------------------
    contacts: list[dict[str, Any]] = []
    contacts_of: dict[int, list[int]] = {}
    target_contacts = int(4000 * scale)
    for a in accounts:
        n = max(1, round(rng.gauss(target_contacts / len(accounts), 1.2)))
        ids: list[int] = []
        for j in range(n):
            cid = len(contacts) + 1
            if j == 0:
                title, boss, influence = rng.choice(TITLES_TOP), None, 5
            elif j <= 2:
                title, boss, influence = rng.choice(TITLES_MID), ids[0], rng.choice([3, 4, 4, 5])
            else:
                title, boss, influence = rng.choice(TITLES_LOW), rng.choice(ids[: min(len(ids), 3)]), rng.choice(
                    [1, 2, 2, 3])
            if "有限公司" in a["name"]:
                name = rng.choice(CN_NAMES)
            else:
                name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
            contacts.append({
                "id": cid, "account_id": a["id"], "name": name, "title": title, "reports_to_id": boss,
                "influence": influence, "stance": rng.choice(STANCES),
                "email": f"c{cid}@{a['normalized_name'][:12] or 'x'}.example".encode("ascii", "ignore").decode()
                if a["normalized_name"].isascii() else f"c{cid}@example.cn",
                "phone": f"+86 1{rng.randint(30, 99)} {rng.randint(1000, 9999)} {rng.randint(1000, 9999)}",
                "external_id": f"C{cid:05d}", "created_at": a["created_at"],
            })
            ids.append(cid)
        contacts_of[a["id"]] = ids
    tables["contacts"] = contacts

    # -- opportunities with stage history ------------------------------------
    n_opps = int(6000 * scale)
    opps, history_rows, close_moves, opp_contacts, opp_team = [], [], [], [], []
    owner_of_account = {a["id"]: a["owner_id"] for a in accounts}
    region_of = {a["id"]: a["region"] for a in accounts}
    for oid in range(1, n_opps + 1):
        acc = rng.randint(1, len(accounts))
        owner = owner_of_account[acc] or rng.choice(rep_ids)
        prod_i = rng.choices(range(len(PRODUCTS)), weights=[8, 6, 2, 6, 4, 6, 4, 2, 5, 4, 3, 2])[0]
        price = PRODUCTS[prod_i][4]
        amount = _money(round(price * rng.lognormvariate(0.3, 0.5) * rng.choice([1, 1, 1, 2, 3]), -2))
        created = datetime.combine(start, time(8)) + timedelta(days=rng.randint(0, 720), hours=rng.randint(0, 10))
        age = (today - created.date()).days
        # walk the stages: each step either advances, is lost, or stays put
        stage, t = 1, created
        path = [(None, 1, created)]
        status, closed = "open", None
        while True:
            dwell = timedelta(days=rng.randint(3, 35), hours=rng.randint(0, 8))
            if (t + dwell).date() >= today:
                break
            t = t + dwell
            r = rng.random()
            advance = [0.62, 0.66, 0.70, 0.68, 0.72][stage - 1]
            if r < advance:
                nxt = stage + 1 if stage < OPEN_STAGES else won_stage
            elif r < advance + 0.22:
                nxt = lost_stage
            else:
                continue  # stays a while longer
            path.append((stage, nxt, t))
            if nxt == won_stage:
                status, closed = "won", t.date()
                stage = nxt
                break
            if nxt == lost_stage:
                status, closed = "lost", t.date()
                stage = nxt
                break
            stage = nxt
            if (age < 60 and rng.random() < 0.5) or (age < 240 and rng.random() < 0.2):
                break  # still open: recent, or stalled
        expected = (closed or (t.date() + timedelta(days=rng.randint(10, 120))))
        if status == "open" and rng.random() < 0.1:
            expected = today - timedelta(days=rng.randint(1, 30))  # overdue: past expected close
        # close-date slips: some deals moved their expected close later
        if rng.random() < 0.25:
            first = expected - timedelta(days=rng.randint(7, 60))
            moved_at = datetime.combine(first - timedelta(days=rng.randint(1, 10)), time(10))
            moved_at = max(moved_at, created + timedelta(hours=1))
            close_moves.append({"opportunity_id": oid, "old_date": first, "new_date": expected,
                                "changed_at": moved_at, "changed_by": owner})
        for frm, to, when in path:
            history_rows.append({"id": len(history_rows) + 1, "opportunity_id": oid, "from_stage_id": frm,
                                 "to_stage_id": to, "changed_at": when, "changed_by": owner})
        opps.append({
            "id": oid, "account_id": acc, "name": f"{PRODUCTS[prod_i][0]} for {accounts[acc - 1]['name']}",
            "owner_id": owner, "department_id": dept_of.get(owner), "product_id": prod_i + 1,
            "stage_id": stage, "amount": amount,
            "probability": round(rng.uniform(0.05, 0.95), 2) if status == "open" and rng.random() < 0.08 else None,
            "expected_close": expected, "created_at": created, "stage_entered_at": path[-1][2],
            "last_activity_at": path[-1][2] + timedelta(days=rng.randint(0, 10)) if status == "open" else path[-1][2],
            "closed_at": closed, "status": status,
            "lost_reason": rng.choice(LOST_REASONS) if status == "lost" else None,
            "source": rng.choice(SOURCES), "region": region_of[acc], "external_id": f"O{oid:06d}",
        })
        cands = contacts_of[acc]
        for cid in rng.sample(cands, min(len(cands), rng.randint(1, 3))):
            opp_contacts.append({"opportunity_id": oid, "contact_id": cid, "role": rng.choice(ROLES_DECISION),
                                 "stance": rng.choice(STANCES)})
        if rng.random() < 0.15:
            mate = rng.choice(rep_ids)
            if mate != owner:
                opp_team.append({"opportunity_id": oid, "user_id": mate, "role": "support"})
    tables["opportunities"] = opps
    tables["stage_history"] = history_rows
    tables["close_date_history"] = close_moves
    tables["opportunity_contacts"] = opp_contacts
    tables["opportunity_team"] = opp_team

    # -- contracts, payments, orders from won deals --------------------------
    contracts, payments, orders = [], [], []
    won = [o for o in opps if o["status"] == "won"]
    for o in won:
        cid = len(contracts) + 1
        contracts.append({"id": cid, "contract_no": f"CT-{cid:05d}", "account_id": o["account_id"],
                          "opportunity_id": o["id"], "owner_id": o["owner_id"], "signed_date": o["closed_at"],
                          "amount": o["amount"], "status": "active", "external_id": f"K{cid:05d}"})
        n_inst = rng.choice([1, 1, 2, 3, 4])
        each = (o["amount"] / n_inst).quantize(Decimal("0.01"))
        for k in range(n_inst):
            due = o["closed_at"] + timedelta(days=30 + 60 * k)
            amt = each if k < n_inst - 1 else o["amount"] - each * (n_inst - 1)
            paid, paid_date = Decimal(0), None
            if due < today:
                r = rng.random()
                if r < 0.8:
                    paid, paid_date = amt, due + timedelta(days=rng.randint(-10, 20))
                elif r < 0.9:
                    paid, paid_date = (amt / 2).quantize(Decimal("0.01")), due + timedelta(days=rng.randint(0, 30))
            elif rng.random() < 0.1:
                paid, paid_date = amt, min(today, due - timedelta(days=rng.randint(0, 20)))
            if paid_date is not None and paid_date > today:
                paid_date = today
            payments.append({"id": len(payments) + 1, "contract_id": cid, "due_date": due, "amount_due": amt,
                             "paid_date": paid_date, "amount_paid": paid})
        orders.append({"account_id": o["account_id"], "product_id": o["product_id"], "opportunity_id": o["id"],
                       "owner_id": o["owner_id"], "order_date": o["closed_at"], "quantity": 1.0,
                       "amount": o["amount"]})
    tables["contracts"] = contracts
    tables["payments"] = payments

    # Repeat business: customers re-order consumables and services on a rhythm.
    customers = sorted({o["account_id"] for o in won})
    target_orders = int(20000 * scale)
    per_customer = max(1, (target_orders - len(orders)) // max(1, len(customers)))
    for acc in customers:
        n = max(0, int(rng.gauss(per_customer, per_customer / 2)))
        cycle = rng.choice([15, 20, 30, 45, 60])
        d = start + timedelta(days=rng.randint(0, 120))
        prods = rng.sample(range(len(PRODUCTS)), rng.randint(1, 4))
        for _ in range(n):
            d += timedelta(days=max(1, int(rng.gauss(cycle, cycle / 3))))
            if d >= today:
                break
            for p in rng.sample(prods, rng.randint(1, len(prods))):  # an order has 1..n lines
                qty = float(rng.randint(1, 20))
                price = PRODUCTS[p][4] * rng.uniform(0.03, 0.12)
                orders.append({"account_id": acc, "product_id": p + 1, "opportunity_id": None,
                               "owner_id": owner_of_account[acc], "order_date": d, "quantity": qty,
                               "amount": _money(price * qty)})
    for i, o in enumerate(orders):
        o["id"] = i + 1
        o["order_no"] = f"SO-{i + 1:06d}"
        o["external_id"] = o["order_no"]
        o["cost"] = _money(float(o["amount"]) * PRODUCTS[o["product_id"] - 1][5])
    tables["orders"] = orders

    # -- lifecycle from what happened ----------------------------------------
    last_order: dict[int, date] = {}
    for o in orders:
        last_order[o["account_id"]] = max(last_order.get(o["account_id"], o["order_date"]), o["order_date"])
    has_opp = {o["account_id"] for o in opps}
    for a in accounts:
        lo = last_order.get(a["id"])
        if lo is None:
            a["lifecycle"] = "prospect" if a["id"] in has_opp else "lead"
        elif (today - lo).days > 365:
            a["lifecycle"] = "churned"
        elif (today - lo).days > 180:
            a["lifecycle"] = "dormant"
        else:
            a["lifecycle"] = "customer"

    # -- activities: follow-ups done, and open tasks -------------------------
    kinds = ["call", "email", "visit", "meeting", "note"]
    activities = []
    for a in accounts:
        if a["owner_id"] is None or a["last_followup_at"] is None:
            continue
        cands = contacts_of[a["id"]]
        n = rng.randint(1, 6)
        for k in range(n):
            when = a["last_followup_at"] - timedelta(days=k * rng.randint(5, 40))
            activities.append({"kind": rng.choice(kinds), "subject": rng.choice(
                ["Intro call", "Demo", "Pricing discussion", "Quarterly review", "Follow-up", "Site visit"]),
                "account_id": a["id"], "contact_id": rng.choice(cands), "opportunity_id": None,
                "owner_id": a["owner_id"], "occurred_at": when, "due_date": None, "done": True,
                "created_at": when, "created_by": a["owner_id"]})
        if rng.random() < 0.3:
            activities.append({"kind": "task", "subject": "Next follow-up", "account_id": a["id"],
                               "contact_id": rng.choice(cands), "opportunity_id": None, "owner_id": a["owner_id"],
                               "occurred_at": None, "due_date": today + timedelta(days=rng.randint(-10, 14)),
                               "done": False, "created_at": a["last_followup_at"], "created_by": a["owner_id"]})
    for i, act in enumerate(activities):
        act["id"] = i + 1
    tables["activities"] = activities

    # -- this year's targets --------------------------------------------------
    targets = []
    year_start = date(today.year, 1, 1)
    active_reps = [u for u in reps if u["active"]]
    for m in range(1, 13):
        ps = date(today.year, m, 1)
        for u in active_reps:
            targets.append({"grain": "month", "period_start": ps, "metric": "won_amount", "owner_id": u["id"],
                            "department_id": None, "value": _money(round(rng.uniform(60_000, 140_000), -3))})
    for q in range(4):
        ps = date(today.year, 3 * q + 1, 1)
        for d in range(1, 4):
            targets.append({"grain": "quarter", "period_start": ps, "metric": "won_amount", "owner_id": None,
                            "department_id": d, "value": _money(round(rng.uniform(1_500_000, 2_500_000), -4))})
            targets.append({"grain": "quarter", "period_start": ps, "metric": "collected", "owner_id": None,
                            "department_id": d, "value": _money(round(rng.uniform(1_000_000, 2_000_000), -4))})
    targets.append({"grain": "year", "period_start": year_start, "metric": "won_amount", "owner_id": None,
                    "department_id": None, "value": _money(22_000_000)})
    targets.append({"grain": "year", "period_start": year_start, "metric": "order_revenue", "owner_id": None,
                    "department_id": None, "value": _money(30_000_000)})
    targets.append({"grain": "year", "period_start": year_start, "metric": "new_customers", "owner_id": None,
                    "department_id": None, "value": _money(300)})
    for p in (1, 2, 3):
        targets.append({"grain": "year", "period_start": year_start, "metric": "won_amount", "owner_id": None,
                        "department_id": None, "product_id": p, "value": _money(round(rng.uniform(2e6, 5e6), -4))})
    for i, t in enumerate(targets):
        t["id"] = i + 1
        t.setdefault("product_id", None)
    tables["targets"] = targets

    _insert_all(db, tables)
    return {name: len(rows) for name, rows in tables.items()}


def _insert_all(db: Database, tables: dict[str, list[dict[str, Any]]]) -> None:
    """Insert every table in one transaction, then move the id sequences past the rows."""
    with db.atomic() as cur:
        for name, rows in tables.items():
            if not rows:
                continue
            cols = sorted({k for r in rows for k in r})
            import polars as pl  # only when writing the demo: the app's sign-in page does not load it

            df = pl.DataFrame([{c: r.get(c) for c in cols} for r in rows], infer_schema_length=None)
            cur.register("_demo_rows", df.to_arrow())
            col_sql = ", ".join(f'"{c}"' for c in cols)
            cur.execute(f'INSERT INTO "{name}" ({col_sql}) SELECT {col_sql} FROM _demo_rows')
            cur.unregister("_demo_rows")
    # DuckDB has no setval: recreate each sequence to start after the generated ids
    seqs = [r[0] for r in db.rows("SELECT sequence_name FROM duckdb_sequences()")]
    for seq in seqs:
        table = seq.removeprefix("seq_")
        if table not in tables or not tables[table]:
            continue
        top = max(r.get("id", 0) for r in tables[table])
        _restart_sequence(db, seq, table, top + 1)


def _restart_sequence(db: Database, seq: str, table: str, start_at: int) -> None:
    """Point a table's id default at a sequence starting at `start_at`."""
    start_at = int(start_at)
    with db.atomic() as cur:
        # The column default depends on the sequence, so switch the default off,
        # recreate the sequence, then put the default back.
        cur.execute(f'ALTER TABLE "{table}" ALTER COLUMN id DROP DEFAULT')
        cur.execute(f'DROP SEQUENCE "{seq}"')
        cur.execute(f'CREATE SEQUENCE "{seq}" START {start_at}')
        cur.execute(f"ALTER TABLE \"{table}\" ALTER COLUMN id SET DEFAULT nextval('{seq}')")
