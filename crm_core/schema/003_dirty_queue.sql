-- One dirty-account queue shared by the summaries a save makes out of date.
-- A single-row save writes one row here (crm_core.derived), instead of one
-- row in each summary's own queue: at 1M deals every statement of a save
-- costs ~1 ms of its 20 ms budget. Each summary folds in the rows it has not
-- seen yet and sets its flag; a row both have seen is deleted.
-- (plan_facts_dirty and value_summary_dirty stay: "any account" notices and
-- explicit refresh requests still use them.) Named after the summaries it
-- feeds, like their other bookkeeping tables.
CREATE TABLE plan_facts_and_value_dirty (
    account_id  BIGINT NOT NULL,                 -- -1: deals without an account (plan facts only)
    plan_done   BOOLEAN NOT NULL DEFAULT false,  -- plan facts have folded it in (or need not)
    value_done  BOOLEAN NOT NULL DEFAULT false   -- the value summary has (or need not)
);
