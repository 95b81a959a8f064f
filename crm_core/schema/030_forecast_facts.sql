-- Forecast: one row per opportunity with the attributes the forecast filters
-- and groups on, plus what its stage_history says (stages entered, the stage
-- it was lost from, days spent in each stage). The funnel, conversion, time
-- in stage and empirical probabilities are then one scan of one table: no
-- window over every stage change (4M rows at benchmark scale) and no 1M x 1M
-- join per page view.
--
-- Kept current by crm_core.forecast_facts on read: forecast_facts_blocks holds
-- a fingerprint (row count, sum of versions) of each block of 4096
-- opportunity ids as last copied, forecast_facts_state the row count and
-- highest id of stage_history; blocks whose fingerprint moved, or whose deals
-- gained stage changes, are recomputed.
--
-- days_N = days spent in the stage with id N over completed stints (NULL if
-- the deal never left it): one plain column per possible stage id (1..63, the
-- bits of entered_mask), because a columnar scan of one column per stage is
-- far faster than indexing into a list column.
CREATE TABLE forecast_facts (
    id              BIGINT NOT NULL,   -- opportunities.id
    version         INTEGER NOT NULL,
    account_id      BIGINT,
    owner_id        BIGINT,
    department_id   BIGINT,
    region          VARCHAR,
    product_id      BIGINT,
    source          VARCHAR,
    stage_id        BIGINT NOT NULL,
    status          VARCHAR NOT NULL,
    amount          DECIMAL(18, 2) NOT NULL,
    created_at      TIMESTAMP NOT NULL,
    closed_at       DATE,
    entered_mask    UBIGINT NOT NULL,  -- bit N set = the deal entered the stage with id N
    lost_from_stage BIGINT,            -- the stage a lost deal was in when it was lost
    days_1          DOUBLE,
    days_2          DOUBLE,
    days_3          DOUBLE,
    days_4          DOUBLE,
    days_5          DOUBLE,
    days_6          DOUBLE,
    days_7          DOUBLE,
    days_8          DOUBLE,
    days_9          DOUBLE,
    days_10         DOUBLE,
    days_11         DOUBLE,
    days_12         DOUBLE,
    days_13         DOUBLE,
    days_14         DOUBLE,
    days_15         DOUBLE,
    days_16         DOUBLE,
    days_17         DOUBLE,
    days_18         DOUBLE,
    days_19         DOUBLE,
    days_20         DOUBLE,
    days_21         DOUBLE,
    days_22         DOUBLE,
    days_23         DOUBLE,
    days_24         DOUBLE,
    days_25         DOUBLE,
    days_26         DOUBLE,
    days_27         DOUBLE,
    days_28         DOUBLE,
    days_29         DOUBLE,
    days_30         DOUBLE,
    days_31         DOUBLE,
    days_32         DOUBLE,
    days_33         DOUBLE,
    days_34         DOUBLE,
    days_35         DOUBLE,
    days_36         DOUBLE,
    days_37         DOUBLE,
    days_38         DOUBLE,
    days_39         DOUBLE,
    days_40         DOUBLE,
    days_41         DOUBLE,
    days_42         DOUBLE,
    days_43         DOUBLE,
    days_44         DOUBLE,
    days_45         DOUBLE,
    days_46         DOUBLE,
    days_47         DOUBLE,
    days_48         DOUBLE,
    days_49         DOUBLE,
    days_50         DOUBLE,
    days_51         DOUBLE,
    days_52         DOUBLE,
    days_53         DOUBLE,
    days_54         DOUBLE,
    days_55         DOUBLE,
    days_56         DOUBLE,
    days_57         DOUBLE,
    days_58         DOUBLE,
    days_59         DOUBLE,
    days_60         DOUBLE,
    days_61         DOUBLE,
    days_62         DOUBLE,
    days_63         DOUBLE
);

CREATE TABLE forecast_facts_blocks (
    block           BIGINT PRIMARY KEY,   -- opportunities.id >> 12
    deals           BIGINT NOT NULL,
    version_sum     HUGEINT NOT NULL
);

CREATE TABLE forecast_facts_state (
    id              INTEGER PRIMARY KEY,
    history_rows    BIGINT NOT NULL,
    history_max_id  BIGINT NOT NULL,
    built_at        TIMESTAMP NOT NULL DEFAULT current_timestamp
);
