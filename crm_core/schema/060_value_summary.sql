-- Customer value: per-account aggregates of orders, payments, activities and
-- open opportunities, so the value page scans ~100k summary rows instead of
-- 5M order lines on every view (count(DISTINCT order_date) over 5M lines alone
-- takes ~0.6 s). Only facts that do not depend on "today" are stored; recency,
-- tenure and frequency are computed at read time against the chosen date.
--
-- Kept current by crm_core.value_summary: a hooks.on_change listener
-- recomputes the rows of the accounts a write touched; value_summary_state
-- holds a fingerprint of the source tables as last summarised, so a bulk load
-- that did not notify is noticed on the next read and rebuilt.
CREATE TABLE value_summary (
    account_id          BIGINT NOT NULL,   -- one row per account with orders
    order_days          INTEGER NOT NULL,      -- distinct order dates = purchase occasions
    order_lines         INTEGER NOT NULL,
    first_order         DATE NOT NULL,
    last_order          DATE NOT NULL,
    revenue             DECIMAL(18, 2) NOT NULL,
    costed_revenue      DECIMAL(18, 2) NOT NULL,  -- revenue of the lines whose cost is known
    gross_profit        DECIMAL(18, 2),           -- over costed lines; NULL when no line has a cost
    paid_amount         DECIMAL(18, 2) NOT NULL,  -- money received on the account's contracts
    paid_on_time        DECIMAL(18, 2) NOT NULL,  -- of which paid on or before its due date
    followups           INTEGER NOT NULL,         -- completed follow-up activities (not tasks)
    last_followup       TIMESTAMP,
    open_opps           INTEGER NOT NULL,
    open_amount         DECIMAL(18, 2) NOT NULL
);

-- No primary keys: rows are replaced by delete + insert per account, and
-- the bulk rebuild inserts 100k+ rows at once.

-- One row per account and product bought: cross-sell pairs, up-sell tiers and
-- repeat-purchase cycles read this (~4 rows per customer), not the order lines.
CREATE TABLE value_account_products (
    account_id          BIGINT NOT NULL,
    product_id          BIGINT NOT NULL,
    order_days          INTEGER NOT NULL,
    first_order         DATE NOT NULL,
    last_order          DATE NOT NULL,
    revenue             DECIMAL(18, 2) NOT NULL,
    quantity            DOUBLE NOT NULL
);

CREATE TABLE value_summary_state (
    id                  INTEGER PRIMARY KEY,      -- always 1
    fingerprint         VARCHAR NOT NULL,
    built_at            TIMESTAMP NOT NULL DEFAULT current_timestamp
);
