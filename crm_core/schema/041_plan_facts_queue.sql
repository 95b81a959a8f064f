-- Plan facts, second step: writes only queue the accounts they touched
-- (folded into the facts by the next read, so a single-row write costs one
-- tiny insert), and a full fingerprint with version sums lets a burst of
-- "recompute everything" notifications rebuild once.
ALTER TABLE plan_facts_state ADD COLUMN full_fingerprint VARCHAR;

CREATE TABLE plan_facts_dirty (
    account_id      BIGINT NOT NULL    -- -1: only the deals without an account
);
