-- Core tables of Panorama. Integrity between tables is enforced in crm_core
-- (DuckDB foreign keys block updates of referenced rows), so only primary keys
-- and a few unique keys live here. Money is DECIMAL(18,2); probabilities are
-- DOUBLE in [0, 1]. Every imported row carries import_batch_id so an import can
-- be undone; every editable row carries version for optimistic concurrency.

CREATE SEQUENCE seq_departments START 1;
CREATE TABLE departments (
    id            BIGINT PRIMARY KEY DEFAULT nextval('seq_departments'),
    name          VARCHAR NOT NULL UNIQUE,
    parent_id     BIGINT,              -- a team is a department with a parent
    manager_id    BIGINT,
    region        VARCHAR,
    import_batch_id BIGINT,
    created_at    TIMESTAMP NOT NULL DEFAULT current_timestamp,
    version       INTEGER NOT NULL DEFAULT 1
);

CREATE SEQUENCE seq_users START 1;
CREATE TABLE users (
    id            BIGINT PRIMARY KEY DEFAULT nextval('seq_users'),
    login         VARCHAR NOT NULL UNIQUE,
    display_name  VARCHAR NOT NULL,
    email         VARCHAR,
    role          VARCHAR NOT NULL CHECK (role IN ('admin', 'manager', 'rep', 'analyst')),
    department_id BIGINT,
    region        VARCHAR,
    manager_id    BIGINT,
    password_hash VARCHAR,
    active        BOOLEAN NOT NULL DEFAULT TRUE,
    failed_logins INTEGER NOT NULL DEFAULT 0,
    locked_until  TIMESTAMP,
    import_batch_id BIGINT,
    created_at    TIMESTAMP NOT NULL DEFAULT current_timestamp,
    version       INTEGER NOT NULL DEFAULT 1
);

-- Which department a user belonged to when: actuals are credited to the
-- department of the owner at the date of the deal, not today's.
CREATE TABLE user_department_history (
    user_id       BIGINT NOT NULL,
    department_id BIGINT NOT NULL,
    valid_from    DATE NOT NULL,
    valid_to      DATE              -- NULL = still there
);

CREATE SEQUENCE seq_accounts START 1;
CREATE TABLE accounts (
    id              BIGINT PRIMARY KEY DEFAULT nextval('seq_accounts'),
    name            VARCHAR NOT NULL,
    normalized_name VARCHAR NOT NULL,
    tax_id          VARCHAR,
    phone           VARCHAR,
    website         VARCHAR,
    industry        VARCHAR,
    region          VARCHAR,
    city            VARCHAR,
    employees       INTEGER,
    annual_revenue  DECIMAL(18, 2),
    parent_id       BIGINT,            -- superior unit
    source          VARCHAR,
    lifecycle       VARCHAR NOT NULL DEFAULT 'lead'
                    CHECK (lifecycle IN ('lead', 'prospect', 'customer', 'dormant', 'churned')),
    owner_id        BIGINT,            -- NULL = in the public pool
    claimed_at      TIMESTAMP,
    last_followup_at TIMESTAMP,
    released_at     TIMESTAMP,
    previous_owner_id BIGINT,
    tags            VARCHAR[],
    notes           VARCHAR,
    external_id     VARCHAR,
    merged_into_id  BIGINT,            -- set when merged away as a duplicate
    import_batch_id BIGINT,
    created_at      TIMESTAMP NOT NULL DEFAULT current_timestamp,
    created_by      BIGINT,
    updated_at      TIMESTAMP,
    version         INTEGER NOT NULL DEFAULT 1
);

CREATE SEQUENCE seq_account_links START 1;
CREATE TABLE account_links (
    id              BIGINT PRIMARY KEY DEFAULT nextval('seq_account_links'),
    from_account_id BIGINT NOT NULL,
    to_account_id   BIGINT NOT NULL,
    kind            VARCHAR NOT NULL CHECK (kind IN
                    ('subsidiary_of', 'supplier_of', 'customer_of', 'partner_of', 'competitor_of')),
    note            VARCHAR,
    import_batch_id BIGINT,
    created_at      TIMESTAMP NOT NULL DEFAULT current_timestamp,
    created_by      BIGINT
);

CREATE SEQUENCE seq_contacts START 1;
CREATE TABLE contacts (
    id              BIGINT PRIMARY KEY DEFAULT nextval('seq_contacts'),
    account_id      BIGINT,
    name            VARCHAR NOT NULL,
    title           VARCHAR,
    department      VARCHAR,
    email           VARCHAR,
    phone           VARCHAR,
    reports_to_id   BIGINT,
    influence       INTEGER CHECK (influence BETWEEN 1 AND 5),
    stance          VARCHAR CHECK (stance IN ('supporter', 'neutral', 'opponent', 'unknown')),
    notes           VARCHAR,
    external_id     VARCHAR,
    import_batch_id BIGINT,
    created_at      TIMESTAMP NOT NULL DEFAULT current_timestamp,
    created_by      BIGINT,
    version         INTEGER NOT NULL DEFAULT 1
);

CREATE SEQUENCE seq_stages START 1;
CREATE TABLE stages (
    id              BIGINT PRIMARY KEY DEFAULT nextval('seq_stages'),
    name            VARCHAR NOT NULL UNIQUE,
    position        INTEGER NOT NULL,
    probability     DOUBLE NOT NULL CHECK (probability BETWEEN 0 AND 1),
    forecast_category VARCHAR NOT NULL DEFAULT 'pipeline'
                    CHECK (forecast_category IN ('pipeline', 'best_case', 'commit', 'closed', 'omitted')),
    is_won          BOOLEAN NOT NULL DEFAULT FALSE,
    is_lost         BOOLEAN NOT NULL DEFAULT FALSE,
    active          BOOLEAN NOT NULL DEFAULT TRUE,
    playbook        VARCHAR[],         -- checklist shown on deals in this stage
    version         INTEGER NOT NULL DEFAULT 1
);

CREATE SEQUENCE seq_products START 1;
CREATE TABLE products (
    id              BIGINT PRIMARY KEY DEFAULT nextval('seq_products'),
    name            VARCHAR NOT NULL UNIQUE,
    category        VARCHAR,
    series          VARCHAR,           -- product family, for up-sell
    tier            INTEGER,           -- rank within the series, 1 = entry
    list_price      DECIMAL(18, 2),
    cost            DECIMAL(18, 2),
    repurchase_days INTEGER,           -- usual cycle between repeat purchases
    active          BOOLEAN NOT NULL DEFAULT TRUE,
    external_id     VARCHAR,
    import_batch_id BIGINT,
    version         INTEGER NOT NULL DEFAULT 1
);

CREATE SEQUENCE seq_opportunities START 1;
CREATE TABLE opportunities (
    id              BIGINT PRIMARY KEY DEFAULT nextval('seq_opportunities'),
    account_id      BIGINT,
    name            VARCHAR NOT NULL,
    owner_id        BIGINT,
    department_id   BIGINT,            -- owner's department when the deal was created
    product_id      BIGINT,
    stage_id        BIGINT NOT NULL,
    amount          DECIMAL(18, 2) NOT NULL DEFAULT 0,
    probability     DOUBLE CHECK (probability BETWEEN 0 AND 1),   -- the deal's own override
    expected_close  DATE,
    created_at      TIMESTAMP NOT NULL DEFAULT current_timestamp,
    stage_entered_at TIMESTAMP,
    last_activity_at TIMESTAMP,
    closed_at       DATE,
    status          VARCHAR NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'won', 'lost')),
    lost_reason     VARCHAR,
    source          VARCHAR,
    region          VARCHAR,           -- copied from the account for fast filtering
    external_id     VARCHAR,
    import_batch_id BIGINT,
    updated_at      TIMESTAMP,
    version         INTEGER NOT NULL DEFAULT 1
);

CREATE SEQUENCE seq_stage_history START 1;
CREATE TABLE stage_history (
    id              BIGINT PRIMARY KEY DEFAULT nextval('seq_stage_history'),
    opportunity_id  BIGINT NOT NULL,
    from_stage_id   BIGINT,            -- NULL for the deal's first stage
    to_stage_id     BIGINT NOT NULL,
    changed_at      TIMESTAMP NOT NULL,
    changed_by      BIGINT,
    import_batch_id BIGINT
);

-- Every move of an expected close date, the source of the slippage report.
CREATE TABLE close_date_history (
    opportunity_id  BIGINT NOT NULL,
    old_date        DATE,
    new_date        DATE,
    changed_at      TIMESTAMP NOT NULL,
    changed_by      BIGINT
);

CREATE TABLE opportunity_contacts (
    opportunity_id  BIGINT NOT NULL,
    contact_id      BIGINT NOT NULL,
    role            VARCHAR NOT NULL CHECK (role IN
                    ('decision_maker', 'influencer', 'evaluator', 'champion', 'blocker', 'user')),
    stance          VARCHAR CHECK (stance IN ('supporter', 'neutral', 'opponent', 'unknown')),
    note            VARCHAR,
    version         INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (opportunity_id, contact_id)
);

CREATE TABLE opportunity_team (
    opportunity_id  BIGINT NOT NULL,
    user_id         BIGINT NOT NULL,
    role            VARCHAR,
    PRIMARY KEY (opportunity_id, user_id)
);

CREATE SEQUENCE seq_activities START 1;
CREATE TABLE activities (
    id              BIGINT PRIMARY KEY DEFAULT nextval('seq_activities'),
    kind            VARCHAR NOT NULL CHECK (kind IN ('call', 'email', 'visit', 'meeting', 'note', 'task')),
    subject         VARCHAR NOT NULL,
    details         VARCHAR,
    account_id      BIGINT,
    contact_id      BIGINT,
    opportunity_id  BIGINT,
    owner_id        BIGINT,
    occurred_at     TIMESTAMP,         -- when it happened (NULL for a task not yet done)
    due_date        DATE,              -- for tasks / the next follow-up
    done            BOOLEAN NOT NULL DEFAULT TRUE,
    import_batch_id BIGINT,
    created_at      TIMESTAMP NOT NULL DEFAULT current_timestamp,
    created_by      BIGINT,
    version         INTEGER NOT NULL DEFAULT 1
);

CREATE SEQUENCE seq_orders START 1;
CREATE TABLE orders (
    id              BIGINT PRIMARY KEY DEFAULT nextval('seq_orders'),
    order_no        VARCHAR,
    account_id      BIGINT NOT NULL,
    product_id      BIGINT,
    opportunity_id  BIGINT,
    owner_id        BIGINT,
    order_date      DATE NOT NULL,
    quantity        DOUBLE NOT NULL DEFAULT 1,
    amount          DECIMAL(18, 2) NOT NULL,
    cost            DECIMAL(18, 2),
    external_id     VARCHAR,
    import_batch_id BIGINT
);

CREATE SEQUENCE seq_contracts START 1;
CREATE TABLE contracts (
    id              BIGINT PRIMARY KEY DEFAULT nextval('seq_contracts'),
    contract_no     VARCHAR,
    account_id      BIGINT NOT NULL,
    opportunity_id  BIGINT,
    owner_id        BIGINT,
    signed_date     DATE NOT NULL,
    amount          DECIMAL(18, 2) NOT NULL,
    status          VARCHAR NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'completed', 'cancelled')),
    external_id     VARCHAR,
    import_batch_id BIGINT,
    created_at      TIMESTAMP NOT NULL DEFAULT current_timestamp,
    version         INTEGER NOT NULL DEFAULT 1
);

-- One row per scheduled instalment; amount_paid/paid_date record what came in.
CREATE SEQUENCE seq_payments START 1;
CREATE TABLE payments (
    id              BIGINT PRIMARY KEY DEFAULT nextval('seq_payments'),
    contract_id     BIGINT NOT NULL,
    due_date        DATE NOT NULL,
    amount_due      DECIMAL(18, 2) NOT NULL,
    paid_date       DATE,
    amount_paid     DECIMAL(18, 2) NOT NULL DEFAULT 0,
    external_id     VARCHAR,
    import_batch_id BIGINT,
    version         INTEGER NOT NULL DEFAULT 1
);

-- Plan values. A NULL dimension means "all"; period_start is the first day of
-- the month, quarter or (fiscal) year.
CREATE SEQUENCE seq_targets START 1;
CREATE TABLE targets (
    id              BIGINT PRIMARY KEY DEFAULT nextval('seq_targets'),
    grain           VARCHAR NOT NULL CHECK (grain IN ('month', 'quarter', 'year')),
    period_start    DATE NOT NULL,
    metric          VARCHAR NOT NULL CHECK (metric IN
                    ('won_amount', 'order_revenue', 'collected', 'won_count', 'new_opportunities', 'new_customers')),
    owner_id        BIGINT,
    department_id   BIGINT,
    region          VARCHAR,
    product_id      BIGINT,
    account_id      BIGINT,
    value           DECIMAL(18, 2) NOT NULL,
    note            VARCHAR,
    import_batch_id BIGINT,
    created_at      TIMESTAMP NOT NULL DEFAULT current_timestamp,
    version         INTEGER NOT NULL DEFAULT 1
);

CREATE SEQUENCE seq_forecast_snapshots START 1;
CREATE TABLE forecast_snapshots (
    id              BIGINT PRIMARY KEY DEFAULT nextval('seq_forecast_snapshots'),
    taken_at        TIMESTAMP NOT NULL,
    taken_by        BIGINT,
    method          VARCHAR NOT NULL,  -- stage | override | empirical
    owner_id        BIGINT,
    close_month     DATE NOT NULL,
    category        VARCHAR NOT NULL,
    deal_count      INTEGER NOT NULL,
    amount          DECIMAL(18, 2) NOT NULL,
    weighted        DECIMAL(18, 2) NOT NULL
);

-- Low-code configuration: one JSON value per key.
CREATE TABLE settings (
    key             VARCHAR PRIMARY KEY,
    value           JSON NOT NULL,
    updated_at      TIMESTAMP NOT NULL DEFAULT current_timestamp,
    updated_by      BIGINT,
    version         INTEGER NOT NULL DEFAULT 1
);

CREATE SEQUENCE seq_import_batches START 1;
CREATE TABLE import_batches (
    id              BIGINT PRIMARY KEY DEFAULT nextval('seq_import_batches'),
    entity          VARCHAR NOT NULL,
    file_name       VARCHAR,
    mapping_name    VARCHAR,
    rows_total      INTEGER NOT NULL DEFAULT 0,
    rows_created    INTEGER NOT NULL DEFAULT 0,
    rows_updated    INTEGER NOT NULL DEFAULT 0,
    rows_unchanged  INTEGER NOT NULL DEFAULT 0,
    rows_rejected   INTEGER NOT NULL DEFAULT 0,
    status          VARCHAR NOT NULL DEFAULT 'committed' CHECK (status IN ('committed', 'undone')),
    created_by      BIGINT,
    created_at      TIMESTAMP NOT NULL DEFAULT current_timestamp,
    undone_by       BIGINT,
    undone_at       TIMESTAMP
);

-- Before-images of rows an import updated, so that undo restores them exactly.
CREATE TABLE import_row_backups (
    batch_id        BIGINT NOT NULL,
    table_name      VARCHAR NOT NULL,
    row_id          BIGINT NOT NULL,
    before          JSON NOT NULL
);

CREATE TABLE import_mappings (
    name            VARCHAR NOT NULL,
    entity          VARCHAR NOT NULL,
    mapping         JSON NOT NULL,     -- {source column: target field}
    created_by      BIGINT,
    updated_at      TIMESTAMP NOT NULL DEFAULT current_timestamp,
    PRIMARY KEY (name, entity)
);

CREATE SEQUENCE seq_audit_log START 1;
CREATE TABLE audit_log (
    id              BIGINT PRIMARY KEY DEFAULT nextval('seq_audit_log'),
    logged_at       TIMESTAMP NOT NULL DEFAULT current_timestamp,
    user_id         BIGINT,
    user_login      VARCHAR,
    action          VARCHAR NOT NULL,  -- create | update | delete | merge | claim | import | undo | ...
    entity          VARCHAR NOT NULL,
    entity_id       BIGINT,
    before          JSON,
    after           JSON,
    note            VARCHAR
);
