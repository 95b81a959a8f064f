"""What can be imported: one spec per entity, its fields and how rows are matched.

A `Field` is a target the user maps a file column to: its type, the table
column it fills, whether it is required, and for references which lookup
resolves it (by external id, login, e-mail, name...). `Entity.keys` lists the
ways a file row is matched to an existing row (first that the row fills wins):
a match is an update, no match a create. `derived` columns are computed from
the fields (an opportunity's status from its stage, an account's normalised
name) and only when the fields they need are in the file.
"""

from __future__ import annotations

from dataclasses import dataclass

from crm_core.errors import ValidationError

LIFECYCLE = {"lead": "lead", "prospect": "prospect", "customer": "customer", "dormant": "dormant",
             "churned": "churned", "线索": "lead", "潜在客户": "prospect", "客户": "customer", "成交客户": "customer",
             "休眠": "dormant", "流失": "churned"}
STANCE = {"supporter": "supporter", "neutral": "neutral", "opponent": "opponent", "unknown": "unknown",
          "支持": "supporter", "中立": "neutral", "反对": "opponent", "未知": "unknown"}
ROLE = {"admin": "admin", "manager": "manager", "rep": "rep", "analyst": "analyst", "sales rep": "rep",
        "sales": "rep", "管理员": "admin", "经理": "manager", "销售": "rep", "分析师": "analyst"}
ACTIVITY_KIND = {"call": "call", "email": "email", "e-mail": "email", "visit": "visit", "meeting": "meeting",
                 "note": "note", "task": "task", "电话": "call", "邮件": "email", "拜访": "visit", "会议": "meeting",
                 "备注": "note", "任务": "task"}
GRAIN = {"month": "month", "quarter": "quarter", "year": "year", "月": "month", "季度": "quarter", "年": "year"}
METRIC = {m: m for m in ("won_amount", "order_revenue", "collected", "won_count", "new_opportunities",
                         "new_customers")} | {"quota": "won_amount", "sales quota": "won_amount", "销售额": "won_amount"}
CONTRACT_STATUS = {"active": "active", "completed": "completed", "cancelled": "cancelled", "canceled": "cancelled",
                   "执行中": "active", "已完成": "completed", "已取消": "cancelled"}
LINK_KIND = {k: k for k in ("subsidiary_of", "supplier_of", "customer_of", "partner_of", "competitor_of")} | {
    "subsidiary": "subsidiary_of", "supplier": "supplier_of", "customer": "customer_of", "partner": "partner_of",
    "competitor": "competitor_of", "子公司": "subsidiary_of", "供应商": "supplier_of", "客户": "customer_of",
    "合作伙伴": "partner_of", "竞争对手": "competitor_of"}
CONTACT_ROLE = {k: k for k in ("decision_maker", "influencer", "evaluator", "champion", "blocker", "user")} | {
    "decision maker": "decision_maker", "决策者": "decision_maker", "影响者": "influencer", "评估者": "evaluator",
    "支持者": "champion", "阻碍者": "blocker", "使用者": "user"}


@dataclass(frozen=True)
class Field:
    name: str
    kind: str                        # text int amount number prob date timestamp bool enum ref
    column: str | None = ""          # table column ("" = same as name, None = only feeds derived columns)
    required: bool = False
    choices: dict[str, str] | None = None
    ref: str | None = None           # lookup: user account stage product opportunity contact department contract
    nonneg: bool = False
    low: int | None = None
    high: int | None = None
    default: str | None = None       # SQL constant used when creating a row with the field blank
    self_ref: bool = False           # may name a row of the same upload (a parent account, a manager)
    creatable: bool = False          # a missing referenced row can be created on request
    max_len: int = 10_000

    @property
    def target(self) -> str | None:
        return self.name if self.column == "" else self.column


@dataclass(frozen=True)
class Derived:
    column: str
    sql: str                         # over the staged columns f_<field> / x_<field>_<extra>
    needs: tuple[str, ...]           # included when any of these fields is mapped
    create_only: bool = False


@dataclass(frozen=True)
class Entity:
    name: str
    table: str
    label: str
    fields: tuple[Field, ...]
    keys: tuple[tuple[str, ...], ...] = ()   # match alternatives, as table columns
    derived: tuple[Derived, ...] = ()
    notes_column: str | None = None          # unmapped columns are kept here as "header: value"
    has_version: bool = True
    required_any: tuple[str, ...] = ()       # at least one of these columns must be in the file

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)

    @property
    def field_names(self) -> list[str]:
        return [f.name for f in self.fields]


_LOGIN = "nullif(trim(regexp_replace(lower(strip_accents({v})), '[^a-z0-9]+', '.', 'g'), '.'), '')"


def generated_login(v: str) -> str:
    """SQL: a login from a display name ('Moses Frase' -> 'moses.frase'; CJK names -> user.<hash>)."""
    return f"coalesce({_LOGIN.format(v=v)}, 'user.' || left(md5({v}), 8))"


def _f(name: str, kind: str = "text", **kw) -> Field:
    return Field(name, kind, **kw)


ENTITIES: dict[str, Entity] = {}


def _add(e: Entity) -> None:
    ENTITIES[e.name] = e


_add(Entity(
    "accounts", "accounts", "Accounts",
    (
        _f("external_id"), _f("name", required=True, max_len=300), _f("industry"), _f("region"), _f("city"),
        _f("phone"), _f("website"), _f("tax_id"), _f("employees", "int", nonneg=True),
        _f("annual_revenue", "amount", nonneg=True), _f("source"),
        _f("lifecycle", "enum", choices=LIFECYCLE, default="'lead'"),
        _f("owner", "ref", column="owner_id", ref="user"),
        _f("parent", "ref", column="parent_id", ref="account", self_ref=True),
        _f("notes", max_len=100_000),
    ),
    keys=(("external_id",), ("normalized_name",)),
    derived=(Derived("normalized_name", "crm_norm_company(f_name)", ("name",)),),
    notes_column="notes",
))
_add(Entity(
    "contacts", "contacts", "Contacts",
    (
        _f("external_id"), _f("name", required=True, max_len=300),
        _f("account", "ref", column="account_id", ref="account"), _f("title"), _f("department"), _f("email"),
        _f("phone"), _f("reports_to", "ref", column="reports_to_id", ref="contact", self_ref=True),
        _f("influence", "int", low=1, high=5), _f("stance", "enum", choices=STANCE), _f("notes", max_len=100_000),
    ),
    keys=(("external_id",), ("email",)),
    notes_column="notes",
))
_add(Entity(
    "opportunities", "opportunities", "Opportunities",
    (
        _f("external_id"), _f("name", column=None, max_len=500),
        _f("account", "ref", column="account_id", ref="account", creatable=True),
        _f("owner", "ref", column="owner_id", ref="user"),
        _f("product", "ref", column="product_id", ref="product"),
        _f("stage", "ref", column="stage_id", ref="stage", required=True, creatable=True),
        _f("amount", "amount", nonneg=True, default="0"), _f("probability", "prob"),
        _f("close_date", "date", column=None), _f("created", "timestamp", column="created_at",
                                                  default="CAST(current_timestamp AS TIMESTAMP)"),
        _f("source"), _f("lost_reason"), _f("region"),
    ),
    keys=(("external_id",),),
    derived=(
        Derived("name", "f_name", ("name",)),
        Derived("name", "coalesce(f_name, nullif(concat_ws(' - ', r_account, r_product), ''), f_external_id, "
                "'Imported deal')", ("name", "account", "product", "external_id"), create_only=True),
        Derived("status", "CASE WHEN x_stage_is_won THEN 'won' WHEN x_stage_is_lost THEN 'lost' ELSE 'open' END",
                ("stage",)),
        Derived("expected_close", "f_close_date", ("close_date",)),
        Derived("closed_at", "CASE WHEN x_stage_is_won OR x_stage_is_lost THEN f_close_date END",
                ("close_date", "stage")),
        Derived("department_id", "x_owner_department_id", ("owner",)),
        Derived("stage_entered_at", "coalesce(f_created, CAST(current_timestamp AS TIMESTAMP))", ("stage",), create_only=True),
    ),
))
_add(Entity(
    "stage_history", "stage_history", "Stage history",
    (
        _f("opportunity", "ref", column="opportunity_id", ref="opportunity", required=True),
        _f("from_stage", "ref", column="from_stage_id", ref="stage"),
        _f("to_stage", "ref", column="to_stage_id", ref="stage", required=True),
        _f("changed_at", "timestamp", required=True), _f("changed_by", "ref", ref="user"),
    ),
    keys=(("opportunity_id", "to_stage_id", "changed_at"),),
    has_version=False,
))
_add(Entity(
    "activities", "activities", "Activities",
    (
        _f("kind", "enum", choices=ACTIVITY_KIND, required=True), _f("subject", required=True, max_len=500),
        _f("details", max_len=100_000), _f("account", "ref", column="account_id", ref="account"),
        _f("contact", "ref", column="contact_id", ref="contact"),
        _f("opportunity", "ref", column="opportunity_id", ref="opportunity"),
        _f("owner", "ref", column="owner_id", ref="user"), _f("occurred_at", "timestamp"), _f("due_date", "date"),
        _f("done", "bool", default="TRUE"),
    ),
))
_add(Entity(
    "products", "products", "Products",
    (
        _f("external_id"), _f("name", required=True, max_len=300), _f("category"), _f("series"),
        _f("tier", "int", low=0, high=1000), _f("list_price", "amount", nonneg=True),
        _f("cost", "amount", nonneg=True), _f("repurchase_days", "int", low=0, high=100_000),
        _f("active", "bool", default="TRUE"),
    ),
    keys=(("external_id",), ("name",)),
))
_add(Entity(
    "orders", "orders", "Orders",
    (
        _f("external_id"), _f("order_no"),
        _f("account", "ref", column="account_id", ref="account", required=True, creatable=True),
        _f("product", "ref", column="product_id", ref="product"),
        _f("opportunity", "ref", column="opportunity_id", ref="opportunity"),
        _f("owner", "ref", column="owner_id", ref="user"), _f("order_date", "date", required=True),
        _f("quantity", "number", nonneg=True, default="1"), _f("amount", "amount", required=True, nonneg=True),
        _f("cost", "amount", nonneg=True),
    ),
    keys=(("external_id",),),
    has_version=False,
))
# The first month of the fiscal year from settings (1-12; anything else means January), and the
# start of the month, fiscal quarter or fiscal year holding f_period_start.
_FY_MONTH = ("(SELECT CASE WHEN m BETWEEN 1 AND 12 THEN m ELSE 1 END FROM (SELECT coalesce((SELECT TRY_CAST("
             "value AS INTEGER) FROM settings WHERE key = 'fiscal_year_start_month'), 1) AS m))")
_FISCAL_PERIOD_START = (
    "CAST(date_trunc('month', f_period_start) - to_months(CASE coalesce(f_grain, 'month') "
    f"WHEN 'quarter' THEN ((month(f_period_start) - {_FY_MONTH}) % 3 + 3) % 3 "
    f"WHEN 'year' THEN ((month(f_period_start) - {_FY_MONTH}) % 12 + 12) % 12 ELSE 0 END) AS DATE)")
_add(Entity(
    "targets", "targets", "Targets",
    (
        _f("grain", "enum", choices=GRAIN, required=True), _f("period_start", "date", column=None, required=True),
        _f("metric", "enum", choices=METRIC, default="'won_amount'"),
        _f("owner", "ref", column="owner_id", ref="user"),
        _f("department", "ref", column="department_id", ref="department"), _f("region"),
        _f("product", "ref", column="product_id", ref="product"),
        _f("account", "ref", column="account_id", ref="account"),
        _f("value", "amount", required=True, nonneg=True), _f("note"),
    ),
    keys=(("grain", "period_start", "metric", "owner_id", "department_id", "region", "product_id", "account_id"),),
    # a quota dated 2022-05-30 for a quarter is the quarter starting 2022-04-01; quarters and years
    # follow the configured fiscal year (starting in April: 2022-05-30 is in the year from 2022-04-01)
    derived=(Derived("period_start", _FISCAL_PERIOD_START, ("period_start",)),),
))
_add(Entity(
    "users", "users", "Users and teams",
    (
        _f("login", max_len=100), _f("display_name", max_len=200), _f("email"),
        _f("role", "enum", choices=ROLE, default="'rep'"),
        _f("team", "ref", column="department_id", ref="department", creatable=True),
        _f("region"), _f("manager", "ref", column="manager_id", ref="user", self_ref=True, creatable=True),
        _f("active", "bool", default="TRUE"),
    ),
    keys=(("login",), ("email",), ("display_name",)),
    derived=(Derived("login", f"coalesce(f_login, {generated_login('f_display_name')})", ("display_name",),
                     create_only=True),
             Derived("display_name", "f_display_name", ("display_name",)),
             Derived("display_name", "coalesce(f_display_name, f_login)", ("display_name", "login"),
                     create_only=True)),
    required_any=("display_name", "login"),
))
_add(Entity(
    "teams", "departments", "Teams (departments)",
    (
        _f("name", required=True, max_len=200),
        _f("parent", "ref", column="parent_id", ref="department", self_ref=True),
        _f("manager", "ref", column="manager_id", ref="user"), _f("region"),
    ),
    keys=(("name",),),
))
_add(Entity(
    "contracts", "contracts", "Contracts",
    (
        _f("external_id"), _f("contract_no"), _f("account", "ref", column="account_id", ref="account",
                                                 required=True),
        _f("opportunity", "ref", column="opportunity_id", ref="opportunity"),
        _f("owner", "ref", column="owner_id", ref="user"), _f("signed_date", "date", required=True),
        _f("amount", "amount", required=True, nonneg=True),
        _f("status", "enum", choices=CONTRACT_STATUS, default="'active'"),
    ),
    keys=(("external_id",), ("contract_no",)),
))
_add(Entity(
    "payments", "payments", "Payments",
    (
        _f("external_id"), _f("contract", "ref", column="contract_id", ref="contract", required=True),
        _f("due_date", "date", required=True), _f("amount_due", "amount", required=True, nonneg=True),
        _f("paid_date", "date"), _f("amount_paid", "amount", nonneg=True, default="0"),
    ),
    keys=(("external_id",),),
))
_add(Entity(
    "account_links", "account_links", "Account links",
    (
        _f("from_account", "ref", column="from_account_id", ref="account", required=True),
        _f("to_account", "ref", column="to_account_id", ref="account", required=True),
        _f("kind", "enum", choices=LINK_KIND, required=True), _f("note"),
    ),
    keys=(("from_account_id", "to_account_id", "kind"),),
    has_version=False,
))
_add(Entity(
    "opportunity_contacts", "opportunity_contacts", "Opportunity contact roles",
    (
        _f("opportunity", "ref", column="opportunity_id", ref="opportunity", required=True),
        _f("contact", "ref", column="contact_id", ref="contact", required=True),
        _f("role", "enum", choices=CONTACT_ROLE, required=True), _f("stance", "enum", choices=STANCE), _f("note"),
    ),
    keys=(("opportunity_id", "contact_id"),),
))

ALIASES_OF_ENTITY = {
    "account": "accounts", "accounts": "accounts", "contact": "contacts", "contacts": "contacts",
    "opportunity": "opportunities", "opportunities": "opportunities", "deals": "opportunities",
    "pipeline": "opportunities", "stage-history": "stage_history", "stage_history": "stage_history",
    "activity": "activities", "activities": "activities", "product": "products", "products": "products",
    "order": "orders", "orders": "orders", "transactions": "orders", "target": "targets", "targets": "targets",
    "quotas": "targets", "user": "users", "users": "users", "sales-teams": "users", "team": "teams",
    "teams": "teams", "departments": "teams", "contract": "contracts", "contracts": "contracts",
    "payment": "payments", "payments": "payments", "account-links": "account_links",
    "account_links": "account_links", "contact-roles": "opportunity_contacts",
    "opportunity_contacts": "opportunity_contacts",
}


def get_entity(name: str) -> Entity:
    key = ALIASES_OF_ENTITY.get(name.strip().lower().replace(" ", "-"), name)
    if key not in ENTITIES:
        raise ValidationError(
            f"Unknown import type {name!r}: expected one of {', '.join(sorted(ENTITIES))}.", field="entity", value=name)
    return ENTITIES[key]


# Tables an import can write to besides the entity's own (rows created on request).
TABLES_WITH_BATCH = ("accounts", "contacts", "opportunities", "stage_history", "activities", "products", "orders",
                     "targets", "users", "departments", "contracts", "payments", "account_links",
                     "opportunity_contacts", "stages")

# Columns that point at rows of a table: an undo that would leave them dangling is refused.
REFERENCES: dict[str, list[tuple[str, str]]] = {
    "accounts": [("accounts", "parent_id"), ("contacts", "account_id"), ("opportunities", "account_id"),
                 ("orders", "account_id"), ("contracts", "account_id"), ("activities", "account_id"),
                 ("account_links", "from_account_id"), ("account_links", "to_account_id"),
                 ("targets", "account_id")],
    "contacts": [("contacts", "reports_to_id"), ("opportunity_contacts", "contact_id"),
                 ("activities", "contact_id")],
    "opportunities": [("stage_history", "opportunity_id"), ("activities", "opportunity_id"),
                      ("orders", "opportunity_id"), ("contracts", "opportunity_id"),
                      ("opportunity_contacts", "opportunity_id"), ("playbook_ticks", "opportunity_id")],
    "products": [("opportunities", "product_id"), ("orders", "product_id"), ("targets", "product_id")],
    "users": [("users", "manager_id"), ("accounts", "owner_id"), ("opportunities", "owner_id"),
              ("orders", "owner_id"), ("activities", "owner_id"), ("targets", "owner_id"),
              ("departments", "manager_id"), ("contracts", "owner_id")],
    "departments": [("users", "department_id"), ("departments", "parent_id"), ("targets", "department_id"),
                    ("opportunities", "department_id")],
    "contracts": [("payments", "contract_id")],
    "stages": [("opportunities", "stage_id"), ("stage_history", "to_stage_id"), ("stage_history", "from_stage_id")],
}
