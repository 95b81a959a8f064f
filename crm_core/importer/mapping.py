"""Which file column fills which field: automatic by header aliases, or saved by name.

Headers are compared after folding case, width and punctuation ("Close Date",
"close_date" and "CLOSE-DATE" are one header). The aliases cover English and
Chinese headers, the export headers of Salesforce, HubSpot, Pipedrive and Zoho,
and public sample data sets (e.g. `deal_stage`, `close_value`, `sales_agent`,
`subsidiary_of`, `regional_office`). A mapping the user adjusts can be saved
by name (table `import_mappings`) and applied to the next file.
"""

from __future__ import annotations

import json
import re
import unicodedata
from typing import Any

from crm_core import audit
from crm_core.access import Actor, require_role
from crm_core.db import Database, dumps
from crm_core.errors import NotFound, ValidationError
from crm_core.importer.entities import Entity

_FOLD = re.compile(r"[\W_]+", re.UNICODE)


def fold(header: str) -> str:
    """The comparison key of a header."""
    return _FOLD.sub("", unicodedata.normalize("NFKC", str(header)).casefold())


# field name -> aliases valid for every entity that has the field
COMMON: dict[str, list[str]] = {
    "external_id": ["external id", "external_id", "id", "record id", "ext id", "外部编号", "编号", "外部id"],
    "name": ["name", "名称", "姓名"],
    "owner": ["owner", "owner name", "owner email", "owner login", "assigned to", "sales rep", "salesperson",
              "opportunity owner", "deal owner", "account owner", "contact owner", "lead owner", "owner id",
              "record owner", "user", "负责人姓名",
              "sales_agent", "sales agent", "rep", "负责人", "所有者", "销售", "销售代表", "业务员", "跟进人"],
    "account": ["account", "account name", "company", "company name", "customer", "customer name", "客户",
                "客户名称", "公司", "公司名称", "organization", "organisation", "org", "organization name",
                "account_name", "associated company", "customer id", "customer_id", "客户编号"],
    "product": ["product", "product name", "产品", "产品名称", "item", "sku"],
    "stage": ["stage", "deal stage", "deal_stage", "opportunity stage", "sales stage", "阶段", "销售阶段",
              "商机阶段", "pipeline stage", "status"],
    "amount": ["amount", "value", "deal value", "deal amount", "close_value", "close value", "opportunity amount",
               "金额", "商机金额", "合同金额", "订单金额", "revenue", "dollar_value", "dollar value", "total",
               "total amount", "price"],
    "probability": ["probability", "probability (%)", "win probability", "deal probability", "概率", "赢率",
                    "成交概率"],
    "close_date": ["close date", "close_date", "expected close", "expected close date", "closing date",
                   "close date (expected)", "expected_close", "预计成交日期", "成交日期", "结束日期"],
    "created": ["created", "created date", "create date", "created at", "created time", "engage_date",
                "engage date", "deal created", "创建日期", "创建时间", "开始日期"],
    "source": ["source", "lead source", "deal source", "original source", "来源", "线索来源", "客户来源"],
    "lost_reason": ["lost reason", "loss reason", "reason lost", "closed lost reason", "丢单原因", "输单原因"],
    "region": ["region", "territory", "sales territory", "regional_office", "regional office", "office_location",
               "office location", "区域", "地区", "大区"],
    "industry": ["industry", "sector", "行业", "所属行业"],
    "city": ["city", "billing city", "mailing city", "城市"],
    "phone": ["phone", "phone number", "telephone", "tel", "mobile", "电话", "手机", "联系电话"],
    "website": ["website", "web site", "url", "domain", "company domain name", "网址", "网站"],
    "tax_id": ["tax id", "tax_id", "vat", "vat number", "unified social credit code", "税号",
               "统一社会信用代码"],
    "employees": ["employees", "number of employees", "employee count", "headcount", "员工数", "员工人数"],
    "annual_revenue": ["annual revenue", "annual_revenue", "revenue", "年收入", "营业收入", "营收"],
    "parent": ["parent", "parent account", "parent company", "subsidiary_of", "subsidiary of", "parent_id",
               "上级单位", "母公司", "上级公司"],
    "lifecycle": ["lifecycle", "lifecycle stage", "lifecycle_stage", "type", "account type", "生命周期",
                  "客户类型"],
    "notes": ["notes", "note", "description", "remarks", "comments", "备注", "说明"],
    "email": ["email", "e-mail", "email address", "邮箱", "电子邮件", "邮件地址"],
    "title": ["title", "job title", "position", "职位", "职务"],
    "department": ["department", "部门"],
    "reports_to": ["reports to", "reports_to", "manager", "上级", "汇报对象"],
    "influence": ["influence", "影响力"],
    "stance": ["stance", "attitude", "态度", "立场"],
    "opportunity": ["opportunity", "opportunity id", "opportunity_id", "deal", "deal id", "deal name",
                    "opportunity name", "商机", "商机编号", "商机名称"],
    "from_stage": ["from stage", "from_stage", "old stage", "previous stage", "原阶段"],
    "to_stage": ["to stage", "to_stage", "new stage", "stage", "新阶段", "阶段"],
    "changed_at": ["changed at", "changed_at", "change date", "date", "last modified", "变更时间", "日期"],
    "changed_by": ["changed by", "changed_by", "modified by", "变更人"],
    "kind": ["kind", "type", "activity type", "task subtype", "类型", "活动类型"],
    "subject": ["subject", "title", "主题", "标题"],
    "details": ["details", "description", "body", "notes", "内容", "详情"],
    "contact": ["contact", "contact name", "contact email", "联系人", "联系人姓名"],
    "occurred_at": ["occurred at", "occurred_at", "date", "activity date", "time", "发生时间", "日期"],
    "due_date": ["due date", "due_date", "deadline", "到期日", "截止日期", "应付日期"],
    "done": ["done", "completed", "is completed", "status", "完成", "已完成"],
    "category": ["category", "product family", "family", "类别", "分类"],
    "series": ["series", "product series", "line", "product line", "系列", "产品线"],
    "tier": ["tier", "level", "档次", "等级"],
    "list_price": ["list price", "list_price", "sales_price", "sales price", "unit price", "price", "标价",
                   "单价", "价格"],
    "cost": ["cost", "unit cost", "成本"],
    "repurchase_days": ["repurchase days", "repurchase_days", "复购周期"],
    "active": ["active", "is active", "enabled", "启用", "有效"],
    "order_no": ["order no", "order_no", "order number", "order id", "invoice number", "订单号", "订单编号"],
    "order_date": ["order date", "order_date", "date", "invoice date", "purchase date", "下单日期", "订单日期",
                   "日期"],
    "quantity": ["quantity", "qty", "number_of_cds", "units", "数量"],
    "grain": ["grain", "period type", "周期", "粒度"],
    "period_start": ["period start", "period_start", "period", "quota date", "start date", "月份", "期间",
                     "开始日期"],
    "metric": ["metric", "指标"],
    "value": ["value", "target", "quota", "sales quota", "salesquota", "salesamountquota", "目标", "目标值",
              "指标值"],
    "note": ["note", "notes", "备注"],
    "login": ["login", "username", "user name", "user id", "登录名", "账号", "用户名"],
    "display_name": ["display name", "display_name", "full name", "name", "sales_agent", "sales agent",
                     "user", "姓名", "名字"],
    "role": ["role", "profile", "角色"],
    "team": ["team", "sales team", "department", "division", "团队", "部门", "小组"],
    "manager": ["manager", "reports to", "supervisor", "team lead", "经理", "上级", "主管"],
    "contract_no": ["contract no", "contract_no", "contract number", "合同号", "合同编号"],
    "signed_date": ["signed date", "signed_date", "sign date", "contract date", "签约日期", "签订日期"],
    "status": ["status", "contract status", "状态"],
    "contract": ["contract", "contract no", "contract number", "合同", "合同号", "合同编号"],
    "amount_due": ["amount due", "amount_due", "due amount", "instalment", "应收金额", "应付金额"],
    "paid_date": ["paid date", "paid_date", "payment date", "回款日期", "付款日期"],
    "amount_paid": ["amount paid", "amount_paid", "paid amount", "回款金额", "已付金额"],
    "from_account": ["from account", "from_account", "account", "company", "子公司", "源客户"],
    "to_account": ["to account", "to_account", "related account", "subsidiary_of", "目标客户", "关联客户"],
}

# aliases that mean something else for one entity (checked before COMMON)
BY_ENTITY: dict[str, dict[str, list[str]]] = {
    "accounts": {
        "external_id": ["account id", "account_id", "customer id", "customer_id", "company id", "客户编号",
                        "account number"],
        "name": ["account", "account name", "company", "company name", "customer", "customer name", "客户",
                 "客户名称", "公司名称", "organization name", "organisation name", "org name", "account_name"],
    },
    "opportunities": {
        "external_id": ["opportunity id", "opportunity_id", "deal id", "record id (deal)", "商机编号",
                        "potential id"],
        "name": ["opportunity name", "deal name", "opportunity", "deal", "title", "商机名称", "potential name"],
        "stage": ["stage", "deal stage", "deal_stage", "status", "阶段"],
    },
    "contacts": {
        "external_id": ["contact id", "contact_id", "联系人编号"],
        "name": ["full name", "contact name", "contact", "姓名", "联系人", "联系人姓名"],
    },
    "products": {"external_id": ["product id", "product_id", "product code", "sku", "产品编号"],
                 "name": ["product", "product name", "产品", "产品名称"]},
    "orders": {"external_id": ["order id", "order_id", "line id", "订单行编号"],
               "amount": ["amount", "dollar_value", "dollar value", "total", "line total", "revenue", "金额",
                          "订单金额", "sales amount"]},
    "users": {"display_name": ["display name", "full name", "name", "sales_agent", "sales agent", "user",
                               "姓名", "销售", "销售代表"]},
    "teams": {"name": ["team", "team name", "department", "department name", "regional_office", "团队", "部门"]},
    "targets": {"owner": ["owner", "sales rep", "salesperson", "sales_agent", "sales agent", "employee",
                          "负责人", "销售"]},
    "contracts": {"external_id": ["contract id", "contract_id"]},
    "payments": {"external_id": ["payment id", "payment_id"]},
    "stage_history": {"opportunity": ["opportunity", "opportunity id", "opportunity_id", "deal id", "商机编号"]},
}


def _alias_table(entity: Entity) -> dict[str, str]:
    table: dict[str, str] = {}
    own = BY_ENTITY.get(entity.name, {})
    for fname in entity.field_names:
        for alias in [fname, *own.get(fname, [])]:
            table.setdefault(fold(alias), fname)
    for fname in entity.field_names:
        for alias in COMMON.get(fname, []):
            table.setdefault(fold(alias), fname)
    return table


def auto_map(entity: Entity, headers: list[str]) -> dict[str, str | None]:
    """{header: field or None}; each field taken by the first header that names it."""
    aliases = _alias_table(entity)
    taken: set[str] = set()
    result: dict[str, str | None] = {}
    for h in headers:
        target = aliases.get(fold(h))
        if target and target not in taken:
            result[h] = target
            taken.add(target)
        else:
            result[h] = None
    return result


def resolve(entity: Entity, headers: list[str], given: dict[str, str | None] | None) -> dict[str, str | None]:
    """Automatic mapping overridden by `given` ({header: field, or None to skip a column})."""
    result = auto_map(entity, headers)
    if not given:
        return result
    folded = {fold(h): h for h in headers}
    for src, target in given.items():
        header = src if src in result else folded.get(fold(src))
        if header is None:
            continue  # a saved mapping may name columns this file does not have
        if target in (None, "", "-"):
            result[header] = None
            continue
        if target not in entity.field_names:
            raise ValidationError(
                f"The mapping sends column {src!r} to {target!r}, which is not a field of {entity.label.lower()}: "
                f"expected one of {', '.join(entity.field_names)}.", field=src, value=target)
        for h, t in result.items():
            if t == target and h != header:
                result[h] = None
        result[header] = target
    return result


def save(db: Database, actor: Actor, name: str, entity: Entity, mapping: dict[str, str | None]) -> None:
    """Store a mapping by name for the next file of this entity (analysts and admins)."""
    require_role(actor, ("admin", "analyst"), "save import mappings")
    name = (name or "").strip()
    if not name:
        raise ValidationError("A mapping needs a name.", field="name", value=name)
    clean = {k: v for k, v in mapping.items() if v}
    with db.atomic() as cur:
        before = cur.execute("SELECT mapping FROM import_mappings WHERE name = ? AND entity = ?",
                             [name, entity.name]).fetchall()
        before = before[0] if before else None
        cur.execute("DELETE FROM import_mappings WHERE name = ? AND entity = ?", [name, entity.name])
        cur.execute("INSERT INTO import_mappings (name, entity, mapping, created_by) VALUES (?, ?, ?, ?)",
                    [name, entity.name, dumps(clean), actor.id])
        audit.record(cur, actor, "update" if before else "create", "import_mappings", None,
                     before={"name": name, "mapping": json.loads(before[0])} if before else None,
                     after={"name": name, "entity": entity.name, "mapping": clean})


def load(db: Database, name: str, entity: Entity) -> dict[str, str | None]:
    raw = db.scalar("SELECT mapping FROM import_mappings WHERE name = ? AND entity = ?", [name, entity.name])
    if raw is None:
        names = names_for(db, entity)
        raise NotFound(f"No saved mapping {name!r} for {entity.label.lower()}"
                       + (f": saved ones are {', '.join(names)}." if names else "; none is saved yet."))
    return json.loads(raw)


def names_for(db: Database, entity: Entity) -> list[str]:
    return [r[0] for r in db.rows("SELECT name FROM import_mappings WHERE entity = ? ORDER BY name", [entity.name])]


def as_dict(mapping: Any) -> dict[str, str | None]:
    """Parse `SRC=FIELD,SRC2=FIELD2` (command line) into a mapping."""
    if isinstance(mapping, dict):
        return mapping
    out: dict[str, str | None] = {}
    for part in str(mapping).split(","):
        if "=" not in part:
            raise ValidationError(f"Mapping entry {part!r} is not SOURCE=FIELD.", field="mapping", value=part)
        k, v = part.split("=", 1)
        out[k.strip()] = v.strip() or None
    return out
