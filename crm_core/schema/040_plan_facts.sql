-- Plan vs actual: the actuals every target is measured against, summed per
-- calendar month, so a target's actual is a sum over at most 12 months of a
-- small table instead of a scan of millions of deals, orders and payments.
--
-- plan_facts_account holds one row per account, month, metric and
-- dimension combination; crm_core.plans recomputes the rows of the accounts
-- named in each hooks.notify (account_id NULL = deals without an account).
-- plan_facts holds the same figures without the account, as appended deltas
-- (the change of each refresh), compacted from time to time; readers always
-- sum it, so a delta row and a compacted row mean the same.
--
-- metric is one of the target metrics (won_amount, won_count, order_revenue,
-- collected, new_opportunities, new_customers); counts are stored in value.
-- department_id is the owner's department on the day of the deal (see
-- docs/plan_vs_actual.md), taken from user_department_history.
CREATE TABLE plan_facts_account (
    account_id      BIGINT,
    month           DATE NOT NULL,
    metric          VARCHAR NOT NULL,
    owner_id        BIGINT,
    department_id   BIGINT,
    region          VARCHAR,
    product_id      BIGINT,
    value           DECIMAL(18, 2) NOT NULL,
    n               BIGINT NOT NULL
);

CREATE TABLE plan_facts (
    month           DATE NOT NULL,
    metric          VARCHAR NOT NULL,
    owner_id        BIGINT,
    department_id   BIGINT,
    region          VARCHAR,
    product_id      BIGINT,
    value           DECIMAL(18, 2) NOT NULL,
    n               BIGINT NOT NULL
);

-- What the facts were built from: a fingerprint of the source tables, so a
-- bulk load that bypassed hooks.notify (the demo generator, a restore) is
-- noticed and the facts rebuilt on the next read.
CREATE TABLE plan_facts_state (
    id              INTEGER PRIMARY KEY,
    fingerprint     VARCHAR NOT NULL,
    compacted_rows  BIGINT NOT NULL DEFAULT 0,
    built_at        TIMESTAMP NOT NULL DEFAULT current_timestamp
);
